/* SPDX-License-Identifier: Apache-2.0 */
/* The clamd server end to end, without the daemon: a libuv loop on its own
 * thread serves a unix socket and a TCP socket on 127.0.0.1 with the bundled
 * test database, and each test talks to it over real sockets as a client
 * would.  Run from tests/ (the database is ../db/test). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "t.h"
#include "bulwark/bulwark.h"
#include "clamd/clamd.h"
#include "core/conf.h"

static const char EICAR[] =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static char tmpdir[] = "/tmp/bw-clamd-test.XXXXXX";
static char sock_path[100];
static int tcp_port;
static uv_loop_t loop;
static uv_async_t stop_async;
static bw_clamd_server_t *server;
static bw_conf_state_t *conf_state;
static bw_engine_t *engine;
static int reloads, shutdowns;

static void on_reload(void) { __atomic_add_fetch(&reloads, 1, __ATOMIC_SEQ_CST); }
static void on_shutdown(void) { __atomic_add_fetch(&shutdowns, 1, __ATOMIC_SEQ_CST); }

/* ---- client helpers ---- */

static int cli_unix(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        perror("connect unix");
        exit(2);
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int cli_tcp(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tcp_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        perror("connect tcp");
        exit(2);
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the server may close first (size limit, long line) */
        c += k;
        n -= (size_t)k;
    }
}

/* Reads until EOF (or the 10 s timeout); *eof says whether the server closed.
 * Replies may hold NULs: the result is returned with its length. */
static char *read_all(int fd, size_t *len, int *eof)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    *eof = 0;
    for (;;) {
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap + 1);
        }
        ssize_t k = recv(fd, b + n, cap - n, 0);
        if (k == 0) {
            *eof = 1;
            break;
        }
        if (k < 0) {
            if (errno == ECONNRESET)
                *eof = 1;
            break;
        }
        n += (size_t)k;
    }
    b[n] = 0;
    *len = n;
    return b;
}

/* One exchange on a fresh connection; the reply with NULs shown as '|'. */
static char *talk_on(int fd, const void *req, size_t n)
{
    send_all(fd, req, n);
    size_t len;
    int eof;
    char *r = read_all(fd, &len, &eof);
    close(fd);
    for (size_t i = 0; i < len; i++)
        if (r[i] == 0)
            r[i] = '|';
    return r;
}

#define TALK_U(lit) talk_on(cli_unix(), lit, sizeof(lit) - 1)
#define TALK_T(lit) talk_on(cli_tcp(), lit, sizeof(lit) - 1)

static size_t put_chunk(char *p, const void *d, uint32_t n)
{
    p[0] = (char)(n >> 24);
    p[1] = (char)(n >> 16);
    p[2] = (char)(n >> 8);
    p[3] = (char)n;
    if (n)
        memcpy(p + 4, d, n);
    return 4 + n;
}

/* "zINSTREAM\0" + data in chunks of `chunk` + the zero length */
static char *instream_req(const char *prefix_cmd, const void *data, size_t n, size_t chunk,
                          size_t *len)
{
    size_t cap = strlen(prefix_cmd) + 1 + n + (n / chunk + 2) * 4;
    char *b = malloc(cap);
    size_t o = strlen(prefix_cmd) + 1;
    memcpy(b, prefix_cmd, o); /* the NUL or newline is in prefix_cmd's last byte for n-form */
    if (prefix_cmd[0] == 'n')
        b[o - 1] = '\n';
    for (size_t i = 0; i < n; i += chunk)
        o += put_chunk(b + o, (const char *)data + i, (uint32_t)(n - i < chunk ? n - i : chunk));
    o += put_chunk(b + o, NULL, 0);
    *len = o;
    return b;
}

static int matches(const char *s, const char *re)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB))
        return 0;
    int ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    if (!ok)
        fprintf(stderr, "  \"%s\" !~ /%s/\n", s, re);
    return ok;
}

static void write_file(const char *path, const void *d, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, d, n) != (ssize_t)n) {
        perror(path);
        exit(2);
    }
    close(fd);
}

/* ---- the commands ---- */

TEST(ping_in_every_form)
{
    char *r = TALK_U("zPING\0");
    CHECK_STR(r, "PONG|");
    free(r);
    r = TALK_U("nPING\n");
    CHECK_STR(r, "PONG\n");
    free(r);
    r = TALK_T("PING\n");
    CHECK_STR(r, "PONG\n");
    free(r);
    r = TALK_T("PING"); /* legacy: one read is one command */
    CHECK_STR(r, "PONG\n");
    free(r);
    r = TALK_T("zPING\0zPING\0"); /* one command per connection outside IDSESSION */
    CHECK_STR(r, "PONG|");
    free(r);
}

TEST(version_shape)
{
    char *r = TALK_T("nVERSION\n");
    CHECK(matches(r, "^ClamAV 1\\.0\\.0-Bulwark-[0-9.]+/[0-9]+/[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] "
                     "[0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}\n$"));
    free(r);
    r = TALK_T("zVERSIONCOMMANDS\0");
    CHECK(matches(r, "^ClamAV [^|]+\\| COMMANDS: SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS "
                     "VERSION END SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM "
                     "DETSTATSCLEAR DETSTATS ALLMATCHSCAN\\|$"));
    free(r);
    r = TALK_T("VERSIONCOMMANDS\n");
    CHECK_STR(r, "UNKNOWN COMMAND\n");
    free(r);
}

TEST(unknown_and_stray)
{
    char *r = TALK_T("nFOO\n");
    CHECK_STR(r, "UNKNOWN COMMAND\n");
    free(r);
    r = TALK_T("zPINGX\0");
    CHECK_STR(r, "UNKNOWN COMMAND|");
    free(r);
    r = TALK_T("nEND\n");
    CHECK_STR(r, "UNKNOWN COMMAND\n");
    free(r);
    r = TALK_T("zDETSTATS\0");
    CHECK_STR(r, "");
    free(r);
}

TEST(instream_detects_and_passes)
{
    size_t n;
    char *q = instream_req("zINSTREAM", EICAR, sizeof EICAR - 1, 8192, &n);
    char *r = talk_on(cli_tcp(), q, n);
    CHECK_STR(r, "stream: EICAR-Test-File FOUND|");
    free(r);
    free(q);
    /* one byte per chunk, and the n form */
    q = instream_req("nINSTREAM", EICAR, sizeof EICAR - 1, 1, &n);
    r = talk_on(cli_unix(), q, n);
    CHECK_STR(r, "stream: EICAR-Test-File FOUND\n");
    free(r);
    free(q);
    char clean[15000];
    memset(clean, 'c', sizeof clean);
    q = instream_req("zINSTREAM", clean, sizeof clean, 4096, &n);
    r = talk_on(cli_tcp(), q, n);
    CHECK_STR(r, "stream: OK|");
    free(r);
    free(q);
    r = TALK_T("zINSTREAM\0\0\0\0\0");
    CHECK_STR(r, "stream: OK|");
    free(r);
}

TEST(instream_statuses)
{
    /* WARN- is a detection; CORR- is OK unless AlertBroken */
    char data[128];
    size_t n;
    snprintf(data, sizeof data, "WARN-%s", EICAR);
    char *q = instream_req("zINSTREAM", data, strlen(data), 100, &n);
    char *r = talk_on(cli_tcp(), q, n);
    CHECK_STR(r, "stream: EICAR-Test-File-WARN FOUND|");
    free(r);
    free(q);
    snprintf(data, sizeof data, "CORR-%s", EICAR);
    q = instream_req("zINSTREAM", data, strlen(data), 100, &n);
    r = talk_on(cli_tcp(), q, n);
    CHECK_STR(r, "stream: OK|");
    free(r);
    free(q);
    snprintf(data, sizeof data, "ERRO-%s", EICAR);
    q = instream_req("zINSTREAM", data, strlen(data), 100, &n);
    r = talk_on(cli_tcp(), q, n);
    CHECK_STR(r, "stream: EICAR-Test-File-ERRO ERROR|");
    free(r);
    free(q);
}

TEST(instream_size_limit)
{
    /* StreamMaxLength is 1M here: a 2M length is refused before its bytes */
    char q[10 + 4 + 3] = "zINSTREAM";
    uint32_t big = htonl(2u << 20);
    memcpy(q + 10, &big, 4);
    memcpy(q + 14, "abc", 3);
    char *r = talk_on(cli_tcp(), q, sizeof q);
    CHECK_STR(r, "INSTREAM size limit exceeded. ERROR|");
    free(r);
    /* and in sum: 600K + 600K */
    size_t n;
    char *blob = calloc(1, 1200 * 1024);
    char *req = instream_req("zINSTREAM", blob, 1200 * 1024, 600 * 1024, &n);
    r = talk_on(cli_tcp(), req, n);
    CHECK_STR(r, "INSTREAM size limit exceeded. ERROR|");
    free(r);
    free(req);
    free(blob);
}

TEST(truncated_stream_closes_quietly)
{
    int fd = cli_tcp();
    char q[10 + 4 + 3] = "zINSTREAM";
    uint32_t len = htonl(100);
    memcpy(q + 10, &len, 4);
    memcpy(q + 14, "abc", 3);
    send_all(fd, q, sizeof q);
    shutdown(fd, SHUT_WR);
    size_t n;
    int eof;
    char *r = read_all(fd, &n, &eof);
    close(fd);
    CHECK_EQ(n, 0);
    CHECK(eof);
    free(r);
    r = TALK_T("zPING\0"); /* and the server is fine */
    CHECK_STR(r, "PONG|");
    free(r);
}

TEST(idsession_numbers_replies)
{
    size_t n1, n2;
    char *s1 = instream_req("zINSTREAM", EICAR, sizeof EICAR - 1, 8192, &n1);
    char *s2 = instream_req("zINSTREAM", "clean", 5, 8192, &n2);
    char req[1024];
    size_t o = 0;
    memcpy(req + o, "zIDSESSION\0zPING\0zVERSION\0", 26);
    o += 26;
    memcpy(req + o, s1, n1);
    o += n1;
    memcpy(req + o, s2, n2);
    o += n2;
    memcpy(req + o, "zEND\0", 5);
    o += 5;
    char *r = talk_on(cli_tcp(), req, o);
    CHECK(matches(r, "^1: PONG\\|2: ClamAV [^|]+\\|"));
    /* the two scans may end in either order */
    CHECK(strstr(r, "|3: stream: EICAR-Test-File FOUND|") != NULL);
    CHECK(strstr(r, "|4: stream: OK|") != NULL || matches(r, "^.*4: stream: OK\\|"));
    free(r);
    free(s1);
    free(s2);
    r = TALK_T("zIDSESSION\0zCONTSCAN /tmp\0");
    CHECK_STR(r, "1: Command invalid inside IDSESSION. ERROR|");
    free(r);
    r = TALK_T("zIDSESSION\0zEND\0zPING\0");
    CHECK_STR(r, "");
    free(r);
    /* a legacy command inside a session */
    int fd = cli_tcp();
    send_all(fd, "zIDSESSION\0", 11);
    usleep(100000);
    r = talk_on(fd, "PING\n", 5);
    CHECK_STR(r, "1: Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR|"
                 "1: Error processing command. ERROR|");
    free(r);
}

static int send_fd(int sock, int fd)
{
    char dummy = 0;
    struct iovec iov = {&dummy, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr h;
    } u;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

TEST(fildes)
{
    char path[300];
    snprintf(path, sizeof path, "%s/fd-eicar.com", tmpdir);
    write_file(path, EICAR, sizeof EICAR - 1);
    int f = open(path, O_RDONLY);
    int s = cli_unix();
    send_all(s, "zFILDES\0", 8);
    CHECK(send_fd(s, f) == 0);
    close(f);
    size_t n;
    int eof;
    char *r = read_all(s, &n, &eof);
    close(s);
    CHECK(matches(r, "^fd\\[[0-9]+\\]: EICAR-Test-File FOUND$"));
    free(r);
    /* FILDES without a descriptor, on either socket */
    r = talk_on(cli_unix(), "nFILDES\n\0", 9);
    CHECK_STR(r, "No file descriptor received. ERROR\n");
    free(r);
    r = talk_on(cli_tcp(), "nFILDES\n\0", 9);
    CHECK_STR(r, "No file descriptor received. ERROR\n");
    free(r);
    /* a descriptor that is not a regular file */
    int p[2];
    CHECK(pipe(p) == 0);
    s = cli_unix();
    send_all(s, "zFILDES\0", 8);
    send_fd(s, p[0]);
    r = read_all(s, &n, &eof);
    close(s);
    close(p[0]);
    close(p[1]);
    CHECK(matches(r, "^fd\\[[0-9]+\\]: Not a regular file ERROR$"));
    free(r);
    /* a descriptor with a command that does not take one */
    f = open(path, O_RDONLY);
    s = cli_unix();
    send_fd(s, f);
    close(f);
    r = talk_on(s, "zPING\0", 6);
    CHECK(strstr(r, "PROTOCOL ERROR: ancillary data sent without FILDES. ERROR") != NULL);
    free(r);
}

static void make_tree(void)
{
    char p[400];
    snprintf(p, sizeof p, "%s/tree", tmpdir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/tree/sub", tmpdir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/tree/empty", tmpdir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/tree/a.com", tmpdir);
    write_file(p, EICAR, sizeof EICAR - 1);
    char w[128];
    snprintf(w, sizeof w, "WARN-%s", EICAR);
    snprintf(p, sizeof p, "%s/tree/sub/b.com", tmpdir);
    write_file(p, w, strlen(w));
    snprintf(p, sizeof p, "%s/tree/clean.txt", tmpdir);
    write_file(p, "hello", 5);
    snprintf(p, sizeof p, "%s/tree/sub/loop", tmpdir);
    char t[300];
    snprintf(t, sizeof t, "%s/tree", tmpdir);
    symlink(t, p);                                 /* a loop back up */
    snprintf(p, sizeof p, "%s/tree/sub/out", tmpdir);
    symlink("/etc", p);                            /* a link out of the tree */
    snprintf(p, sizeof p, "%s/tree/self", tmpdir);
    symlink("self", p);                            /* a link to itself */
    snprintf(p, sizeof p, "%s/secret.com", tmpdir);
    write_file(p, EICAR, sizeof EICAR - 1);        /* outside the allowed tree */
}

static char *scan_cmd(int unix_sock, const char *cmd, const char *rel)
{
    char q[600];
    /* paths of the test tree are given relative to tmpdir; others as they are */
    int own = rel[0] == '/' && strncmp(rel, "/etc", 4);
    int n = snprintf(q, sizeof q, "n%s %s%s\n", cmd, own ? tmpdir : "", rel);
    return talk_on(unix_sock ? cli_unix() : cli_tcp(), q, (size_t)n);
}

TEST(scan_paths)
{
    char want[1200];
    char *r = scan_cmd(1, "SCAN", "/tree/clean.txt");
    snprintf(want, sizeof want, "%s/tree/clean.txt: OK\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(1, "SCAN", "/tree");
    snprintf(want, sizeof want, "%s/tree/a.com: EICAR-Test-File FOUND\n", tmpdir);
    CHECK_STR(r, want); /* files before directories: a.com first, then stop */
    free(r);
    r = scan_cmd(1, "CONTSCAN", "/tree/");
    snprintf(want, sizeof want, "%s/tree/a.com: EICAR-Test-File FOUND\n%s/tree/sub/b.com: EICAR-Test-File-WARN FOUND\n",
             tmpdir, tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(1, "MULTISCAN", "/tree");
    CHECK(strstr(r, "/tree/a.com: EICAR-Test-File FOUND\n") != NULL);
    CHECK(strstr(r, "/tree/sub/b.com: EICAR-Test-File-WARN FOUND\n") != NULL);
    CHECK(strstr(r, ": OK\n") == NULL);
    free(r);
    r = scan_cmd(1, "MULTISCAN", "/tree/empty");
    CHECK_STR(r, ""); /* clamd counts a MULTISCAN's files only: no line at all */
    free(r);
    r = scan_cmd(1, "SCAN", "/tree/empty");
    snprintf(want, sizeof want, "%s/tree/empty: OK\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(1, "ALLMATCHSCAN", "/tree/a.com");
    snprintf(want, sizeof want, "%s/tree/a.com: EICAR-Test-File FOUND\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(1, "SCAN", "/tree/nothing");
    snprintf(want, sizeof want, "%s/tree/nothing: File path check failure: No such file or directory. ERROR\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
}

TEST(scan_path_policy)
{
    char want[1200];
    /* over TCP nothing is allowed by default here but the tree */
    char *r = scan_cmd(0, "SCAN", "/secret.com");
    snprintf(want, sizeof want, "%s/secret.com: Access denied: not in ScanPathAllow. ERROR\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(0, "SCAN", "/etc/passwd");
    CHECK_STR(r, "/etc/passwd: Access denied: not in ScanPathAllow. ERROR\n");
    free(r);
    r = scan_cmd(0, "SCAN", "/tree/../secret.com");
    snprintf(want, sizeof want, "%s/tree/../secret.com: Access denied: '..' in the path. ERROR\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(0, "SCAN", "relative/path");
    CHECK(strstr(r, "Access denied: not an absolute path. ERROR\n") != NULL);
    free(r);
    /* through a symlink that leads out */
    r = scan_cmd(0, "SCAN", "/tree/sub/out/passwd");
    snprintf(want, sizeof want, "%s/tree/sub/out/passwd: Access denied: a symlink leads out of ScanPathAllow. ERROR\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    /* a tree with a loop and links: each link is skipped, never followed */
    r = scan_cmd(0, "CONTSCAN", "/tree/sub");
    snprintf(want, sizeof want, "%s/tree/sub/b.com: EICAR-Test-File-WARN FOUND\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(0, "SCAN", "/tree/sub/loop");
    snprintf(want, sizeof want, "%s/tree/sub/loop: OK\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    r = scan_cmd(0, "SCAN", "/tree/self");
    snprintf(want, sizeof want, "%s/tree/self: OK\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
    /* allowed over TCP: the tree itself */
    r = scan_cmd(0, "SCAN", "/tree/a.com");
    snprintf(want, sizeof want, "%s/tree/a.com: EICAR-Test-File FOUND\n", tmpdir);
    CHECK_STR(r, want);
    free(r);
}

TEST(long_line_closes)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "nSCAN /", 7);
    big[n - 1] = '\n';
    char *r = talk_on(cli_tcp(), big, n);
    CHECK_STR(r, "");
    free(r);
    free(big);
}

TEST(command_read_timeout)
{
    /* CommandReadTimeout is 300ms here */
    char *r = TALK_T("nPING");
    CHECK_STR(r, "COMMAND READ TIMED OUT\n");
    free(r);
    r = TALK_T("zINSTREAM\0\0\0\0\x10" "abc");
    CHECK_STR(r, "COMMAND READ TIMED OUT\n");
    free(r);
}

TEST(reload_and_shutdown)
{
    char *r = TALK_T("nRELOAD\n");
    CHECK_STR(r, "RELOADING\n");
    free(r);
    CHECK_EQ(__atomic_load_n(&reloads, __ATOMIC_SEQ_CST), 1);
    r = TALK_T("zSHUTDOWN\0");
    CHECK_STR(r, "SHUTDOWN command disabled by clamd configuration. ERROR|");
    free(r);
    CHECK_EQ(__atomic_load_n(&shutdowns, __ATOMIC_SEQ_CST), 0);
    r = TALK_U("zSHUTDOWN\0");
    CHECK_STR(r, "");
    free(r);
    CHECK_EQ(__atomic_load_n(&shutdowns, __ATOMIC_SEQ_CST), 1);
}

TEST(stats_shape)
{
    char *r = TALK_T("nSTATS\n");
    CHECK(matches(r, "^POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live [0-9]+  idle [0-9]+ max [0-9]+ "
                     "idle-timeout [0-9]+\nQUEUE: [0-9]+ items\n(\t[A-Z]+ [0-9.]+ [^\n]*\n)*\n"
                     "MEMSTATS: heap [0-9.]+M mmap [0-9.]+M used [0-9.]+M free [0-9.]+M releasable "
                     "[0-9.]+M pools [0-9]+ pools_used [0-9.]+M pools_total [0-9.]+M\nEND\n$"));
    free(r);
}

/* ---- the fixture ---- */

static void on_stop(uv_async_t *a)
{
    (void)a;
    bw_clamd_server_close(server);
    uv_close((uv_handle_t *)&stop_async, NULL);
}

static void *loop_thread(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    make_tree();
    snprintf(sock_path, sizeof sock_path, "%s/clamd.sock", tmpdir);
    char conf[2048];
    int cn = snprintf(conf, sizeof conf,
                      "[clamd]\nLocalSocket = %s\nTCPSocket = 1\nTCPAddr = 127.0.0.1\n"
                      "StreamMaxLength = 1M\nCommandReadTimeout = 300ms\nReadTimeout = 300ms\n"
                      "ScanPathAllow = %s/tree\n",
                      sock_path, tmpdir);
    static const bw_conf_table_t *const tables[] = {&bw_clamd_conf_table};
    static const bw_conf_schema_t schema = {tables, 1};
    bw_err_t err;
    if (bw_conf_load_buf(&schema, "test.conf", conf, (size_t)cn, &conf_state, &err)) {
        fprintf(stderr, "conf: %s\n", err.msg);
        return 2;
    }
    bw_clamd_conf_t *cc = (bw_clamd_conf_t *)bw_conf_get(conf_state, &bw_clamd_conf_table, NULL);
    cc->tcp_port = 0; /* the test opens its own TCP listener on a free port */
    const char *db = "../db/test";
    char e[512];
    if (bw_engine_load(&db, 1, NULL, &engine, e, sizeof e)) {
        fprintf(stderr, "engine: %s\n", e);
        return 2;
    }
    int fds[4], isu[4];
    size_t n;
    if (bw_clamd_open_listeners(cc, fds, isu, 4, &n, &err) || n != 1) {
        fprintf(stderr, "listeners: %s\n", err.msg);
        return 2;
    }
    int tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(tfd, (struct sockaddr *)&sa, sizeof sa) || listen(tfd, 64) ||
        getsockname(tfd, (struct sockaddr *)&sa, &sl)) {
        perror("tcp listener");
        return 2;
    }
    tcp_port = ntohs(sa.sin_port);
    uv_loop_init(&loop);
    bw_clamd_env_t env = {.cc = cc, .engine = engine, .request_reload = on_reload,
                          .request_shutdown = on_shutdown};
    server = bw_clamd_server_new(&loop, &env);
    if (!server || bw_clamd_server_listen(server, fds[0], 1, &err) ||
        bw_clamd_server_listen(server, tfd, 0, &err)) {
        fprintf(stderr, "server: %s\n", err.msg);
        return 2;
    }
    uv_async_init(&loop, &stop_async, on_stop);
    pthread_t th;
    pthread_create(&th, NULL, loop_thread, NULL);
    int rc = t_run();
    uv_async_send(&stop_async);
    pthread_join(th, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    bw_clamd_unlink_socket(cc);
    bw_engine_unref(engine);
    bw_conf_free(conf_state);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
