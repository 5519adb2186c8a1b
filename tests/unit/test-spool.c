/* SPDX-License-Identifier: Apache-2.0 */
/* The spool: memory below the bound, an unlinked 0600 file above it, the
 * same bytes back either way, and no file descriptor left behind. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "core/spool.h"
#include "t.h"

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

TEST(small_object_stays_in_memory)
{
    bw_spool_t sp;
    bw_spool_init(&sp, 1024);
    CHECK(bw_spool_mem(&sp) != NULL); /* empty, but "in memory" */
    CHECK_EQ(bw_spool_write(&sp, "hello ", 6), BW_OK);
    CHECK_EQ(bw_spool_write(&sp, "world", 5), BW_OK);
    CHECK_EQ(bw_spool_write(&sp, "", 0), BW_OK);
    CHECK_EQ(sp.fd, -1);
    CHECK_EQ(sp.size, 11);
    CHECK(bw_spool_mem(&sp) && memcmp(bw_spool_mem(&sp), "hello world", 11) == 0);
    char b[8];
    CHECK_EQ(bw_spool_pread(&sp, b, sizeof b, 6), 5);
    CHECK(memcmp(b, "world", 5) == 0);
    CHECK_EQ(bw_spool_pread(&sp, b, sizeof b, 11), 0);
    CHECK_EQ(bw_spool_pread(&sp, b, sizeof b, 1000), 0);
    bw_spool_free(&sp);
    CHECK(sp.mem == NULL);
    CHECK_EQ(sp.fd, -1);
}

TEST(exact_bound_stays_in_memory)
{
    bw_spool_t sp;
    uint8_t data[100];
    fill(data, sizeof data, 1);
    bw_spool_init(&sp, 100);
    CHECK_EQ(bw_spool_write(&sp, data, 60), BW_OK);
    CHECK_EQ(bw_spool_write(&sp, data + 60, 40), BW_OK);
    CHECK_EQ(sp.fd, -1);
    CHECK_EQ(bw_spool_write(&sp, data, 1), BW_OK);
    CHECK(sp.fd >= 0);
    CHECK(bw_spool_mem(&sp) == NULL);
    CHECK_EQ(sp.size, 101);
    bw_spool_free(&sp);
}

TEST(large_object_moves_to_unlinked_private_file)
{
    int before = count_fds();
    size_t n = 3u << 20;
    uint8_t *data = malloc(n), *back = malloc(n);
    CHECK(data && back);
    if (!data || !back)
        return;
    fill(data, n, 7);
    bw_spool_t sp;
    bw_spool_init(&sp, 1u << 20);
    for (size_t off = 0; off < n; off += 77777) {
        size_t k = n - off < 77777 ? n - off : 77777;
        CHECK_EQ(bw_spool_write(&sp, data + off, k), BW_OK);
    }
    CHECK(sp.fd >= 0);
    CHECK(sp.mem == NULL);
    CHECK_EQ(sp.size, n);
    CHECK(bw_spool_mem(&sp) == NULL);

    struct stat st;
    CHECK_EQ(fstat(sp.fd, &st), 0);
    CHECK_EQ(st.st_nlink, 0);               /* no name anywhere */
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ((uint64_t)st.st_size, n);
    CHECK(fcntl(sp.fd, F_GETFD) & FD_CLOEXEC);

    /* pread-based reads give the same bytes and leave the offset alone */
    off_t pos = lseek(sp.fd, 0, SEEK_CUR);
    CHECK_EQ(bw_spool_pread(&sp, back, n, 0), (long long)n);
    CHECK(memcmp(back, data, n) == 0);
    CHECK_EQ(bw_spool_pread(&sp, back, 10, n - 4), 4);
    CHECK(memcmp(back, data + n - 4, 4) == 0);
    CHECK_EQ(lseek(sp.fd, 0, SEEK_CUR), pos);
    /* and writing after reading still appends */
    CHECK_EQ(bw_spool_write(&sp, "tail", 4), BW_OK);
    CHECK_EQ(bw_spool_pread(&sp, back, 4, n), 4);
    CHECK(memcmp(back, "tail", 4) == 0);

    bw_spool_free(&sp);
    CHECK_EQ(sp.fd, -1);
    CHECK_EQ(count_fds(), before);
    free(data);
    free(back);
}

TEST(zero_memory_limit_goes_straight_to_file)
{
    bw_spool_t sp;
    bw_spool_init(&sp, 0);
    CHECK_EQ(bw_spool_write(&sp, "x", 1), BW_OK);
    CHECK(sp.fd >= 0);
    char c = 0;
    CHECK_EQ(bw_spool_pread(&sp, &c, 1, 0), 1);
    CHECK_EQ(c, 'x');
    bw_spool_free(&sp);
}

TEST(tmpdir_is_honoured_and_bad_tmpdir_falls_back)
{
    char dir[] = "/tmp/bw-spool-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", dir, 1);
    bw_spool_t sp;
    bw_spool_init(&sp, 4);
    CHECK_EQ(bw_spool_write(&sp, "0123456789", 10), BW_OK);
    CHECK(sp.fd >= 0);
    /* the file lives in TMPDIR's file system but has no entry there */
    DIR *d = opendir(dir);
    int entries = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d)
        closedir(d);
    CHECK_EQ(entries, 0);
    bw_spool_free(&sp);

    setenv("TMPDIR", "/nonexistent/bulwark", 1);
    bw_spool_init(&sp, 4);
    CHECK_EQ(bw_spool_write(&sp, "0123456789", 10), BW_OK); /* falls back to /tmp */
    CHECK(sp.fd >= 0);
    bw_spool_free(&sp);

    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
    rmdir(dir);
}

TEST(many_spools_leak_no_fds)
{
    int before = count_fds();
    for (int i = 0; i < 200; i++) {
        bw_spool_t sp;
        bw_spool_init(&sp, 16);
        CHECK_EQ(bw_spool_write(&sp, "0123456789abcdefXYZ", 19), BW_OK);
        bw_spool_free(&sp);
    }
    CHECK_EQ(count_fds(), before);
}

int main(void)
{
    return t_run();
}
