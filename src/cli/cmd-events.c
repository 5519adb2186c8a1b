/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark events`: the console's event stream on a terminal, for an
 * administrator without a browser.  It queries GET /api/v1/events with the
 * filters given; --follow then polls ?after=SEQ once a second and prints
 * what is new, in the order the console stored it.
 *
 * Output: one line per event by default, or the raw JSON object per line
 * with --json.  Events hold text from the network (URLs, threat names,
 * user names), so the readable form never writes a control byte to the
 * terminal: bytes below 0x20, DEL and '\' are printed as \xNN (an escape
 * sequence in a URL cannot repaint the administrator's screen). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "core/conf.h"
#include "link/link-http.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bulwark events --console URL [--token T | --user U] [--ca FILE] [--follow]\n"
            "                      [--node N] [--type T] [--threat X] [--client C]\n"
            "                      [--component C] [--since DURATION] [--limit N] [--json]\n"
            "\n"
            "Prints the events bulwark-console holds, oldest first.\n"
            "\n"
            "      --console URL  the console, https://HOST:PORT (or $BULWARK_CONSOLE_URL)\n"
            "      --ca FILE      PEM CA of the console's certificate\n"
            "      --token T      a session token (or $BULWARK_CONSOLE_TOKEN)\n"
            "      --user U       sign in as U with $BULWARK_CONSOLE_PASSWORD\n"
            "  -f, --follow       keep printing new events as they arrive\n"
            "      --node, --type, --threat, --client, --component  filters\n"
            "      --since D      only events of the last D (30s, 10m, 2h, 7d)\n"
            "      --limit N      at most N events before following (default 50)\n"
            "      --json         one JSON object per line instead of the readable form\n"
            "\n"
            "Exit status: 0 success, 2 error.\n");
}

/* A field of the readable line: controls, DEL and backslash escaped. */
static void put_esc(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            printf("\\x%02X", *p);
        else
            putchar(*p);
}

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void print_line(json_t *ev)
{
    put_esc(str(ev, "time"));
    putchar(' ');
    put_esc(str(ev, "node"));
    putchar(' ');
    put_esc(str(ev, "component"));
    putchar(' ');
    put_esc(str(ev, "type"));
    putchar(' ');
    put_esc(str(ev, "severity"));
    if (str(ev, "verdict")[0])
        fputs(" verdict=", stdout), put_esc(str(ev, "verdict"));
    if (str(ev, "action")[0])
        fputs(" action=", stdout), put_esc(str(ev, "action"));
    json_t *th = json_object_get(ev, "threats");
    size_t i;
    json_t *t;
    json_array_foreach(th, i, t)
    {
        fputs(i ? "," : " threat=", stdout);
        put_esc(json_string_value(t) ? json_string_value(t) : "");
    }
    json_t *obj = json_object_get(ev, "object");
    if (str(obj, "url")[0])
        fputs(" url=", stdout), put_esc(str(obj, "url"));
    if (str(obj, "path")[0])
        fputs(" path=", stdout), put_esc(str(obj, "path"));
    json_t *cl = json_object_get(ev, "client");
    if (str(cl, "ip")[0])
        fputs(" client=", stdout), put_esc(str(cl, "ip"));
    if (str(cl, "user")[0])
        fputs(" user=", stdout), put_esc(str(cl, "user"));
    if (str(ev, "message")[0])
        fputs(" message=", stdout), put_esc(str(ev, "message"));
    if (str(ev, "error")[0])
        fputs(" error=", stdout), put_esc(str(ev, "error"));
    putchar('\n');
}

static long long seq_of(json_t *ev)
{
    json_t *s = json_object_get(ev, "seq");
    return json_is_integer(s) ? (long long)json_integer_value(s) : 0;
}

static int by_seq(const void *a, const void *b)
{
    long long x = seq_of(*(json_t *const *)a), y = seq_of(*(json_t *const *)b);
    return x < y ? -1 : x > y;
}

typedef struct q {
    bw_link_http_t *h;
    const char *filters; /* "&node=...&type=..." */
    int json;
} q_t;

/* One query; prints the events in seq order and returns the largest seq
 * (or `after` when none), -1 on error. */
static long long query(q_t *q, const char *extra, long long after)
{
    char path[8192];
    snprintf(path, sizeof path, "/api/v1/events?%s%s", extra, q->filters);
    bw_buf_t resp = {0};
    long status = 0;
    bw_err_t err;
    if (bw_link_http_call(q->h, "GET", path, NULL, 0, 30000, &status, &resp, &err)) {
        fprintf(stderr, "bulwark events: %s\n", err.msg);
        bw_buf_free(&resp);
        return -1;
    }
    if (status != 200) {
        char msg[1024];
        bw_link_http_error_of(&resp, status, msg, sizeof msg);
        fprintf(stderr, "bulwark events: %s\n", msg);
        bw_buf_free(&resp);
        return -1;
    }
    json_error_t je;
    json_t *a = json_loadb(resp.p ? resp.p : "", resp.len, 0, &je);
    bw_buf_free(&resp);
    json_t *evs = json_is_array(a) ? a : json_object_get(a, "events");
    if (!json_is_array(evs)) {
        fprintf(stderr, "bulwark events: the console's answer holds no events\n");
        json_decref(a);
        return -1;
    }
    size_t n = json_array_size(evs);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get(evs, i);
    if (v)
        qsort(v, n, sizeof *v, by_seq);
    long long max = after;
    for (size_t i = 0; v && i < n; i++) {
        if (seq_of(v[i]) > max)
            max = seq_of(v[i]);
        if (q->json) {
            char *line = json_dumps(v[i], JSON_COMPACT | JSON_ENSURE_ASCII);
            if (line)
                puts(line);
            free(line);
        } else {
            print_line(v[i]);
        }
    }
    fflush(stdout);
    free(v);
    json_decref(a);
    return max;
}

static void add_filter(bw_cli_buf_t *b, CURL *c, const char *key, const char *val)
{
    if (!val)
        return;
    char *e = curl_easy_escape(c, val, 0);
    bw_cli_buf_printf(b, "&%s=%s", key, e ? e : "");
    curl_free(e);
}

static int sign_in(bw_link_http_t *h, const char *user)
{
    const char *pw = getenv("BULWARK_CONSOLE_PASSWORD");
    if (!pw) {
        fprintf(stderr, "bulwark events: --user needs $BULWARK_CONSOLE_PASSWORD\n");
        return -1;
    }
    json_t *j = json_pack("{s:s, s:s}", "username", user, "password", pw);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    bw_buf_t resp = {0};
    long status = 0;
    bw_err_t err;
    int r = body ? bw_link_http_call(h, "POST", "/api/v1/session", body, strlen(body), 30000,
                                     &status, &resp, &err)
                 : -1;
    free(body);
    if (r) {
        fprintf(stderr, "bulwark events: %s\n", body ? err.msg : "out of memory");
        bw_buf_free(&resp);
        return -1;
    }
    if (status != 200 && status != 201) {
        char msg[1024];
        bw_link_http_error_of(&resp, status, msg, sizeof msg);
        fprintf(stderr, "bulwark events: signing in as %s: %s\n", user, msg);
        bw_buf_free(&resp);
        return -1;
    }
    json_error_t je;
    json_t *a = json_loadb(resp.p ? resp.p : "", resp.len, 0, &je);
    bw_buf_free(&resp);
    const char *tok = json_string_value(json_object_get(a, "token"));
    int ok = tok ? bw_link_http_set_bearer(h, tok) : -1;
    if (!tok)
        fprintf(stderr, "bulwark events: the console's session answer holds no token\n");
    json_decref(a);
    return ok;
}

int bw_cmd_events(int argc, char **argv)
{
    static const struct option opts[] = {
        {"console", required_argument, NULL, 'u'}, {"ca", required_argument, NULL, 'C'},
        {"token", required_argument, NULL, 't'},   {"user", required_argument, NULL, 'U'},
        {"follow", no_argument, NULL, 'f'},        {"node", required_argument, NULL, 'N'},
        {"type", required_argument, NULL, 'T'},    {"threat", required_argument, NULL, 'X'},
        {"client", required_argument, NULL, 'L'},  {"component", required_argument, NULL, 'M'},
        {"since", required_argument, NULL, 'S'},   {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = getenv("BULWARK_CONSOLE_URL"), *ca = NULL,
               *token = getenv("BULWARK_CONSOLE_TOKEN"), *user = NULL, *node = NULL,
               *type = NULL, *threat = NULL, *client = NULL, *component = NULL, *since = NULL;
    int follow = 0, json = 0, c;
    uint64_t limit = 50;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'C': ca = optarg; break;
        case 't': token = optarg; break;
        case 'U': user = optarg; break;
        case 'f': follow = 1; break;
        case 'N': node = optarg; break;
        case 'T': type = optarg; break;
        case 'X': threat = optarg; break;
        case 'L': client = optarg; break;
        case 'M': component = optarg; break;
        case 'S': since = optarg; break;
        case 'j': json = 1; break;
        case 'l':
            if (bw_cli_parse_uint(optarg, 1000, &limit) || !limit) {
                fprintf(stderr, "bulwark events: --limit: expected 1..1000\n");
                return BW_EXIT_ERROR;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return BW_EXIT_ERROR;
        }
    }
    if (optind != argc || !url || !url[0]) {
        fprintf(stderr, optind != argc ? "bulwark events: unexpected argument\n"
                                       : "bulwark events: --console URL is required\n");
        return BW_EXIT_ERROR;
    }
    char from[64] = "";
    if (since) {
        uint64_t ms;
        bw_err_t err;
        if (bw_conf_parse_duration(since, &ms, &err)) {
            fprintf(stderr, "bulwark events: --since: %s\n", err.msg);
            return BW_EXIT_ERROR;
        }
        time_t t = time(NULL) - (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    bw_link_http_t *h;
    bw_err_t err;
    if (bw_link_http_new(url, ca, &h, &err)) {
        fprintf(stderr, "bulwark events: %s\n", err.msg);
        return BW_EXIT_ERROR;
    }
    int rc = BW_EXIT_ERROR;
    CURL *esc = curl_easy_init();
    bw_cli_buf_t f = {0};
    bw_cli_buf_puts(&f, "");
    add_filter(&f, esc, "node", node);
    add_filter(&f, esc, "type", type);
    add_filter(&f, esc, "threat", threat);
    add_filter(&f, esc, "client", client);
    add_filter(&f, esc, "component", component);
    add_filter(&f, esc, "from", from[0] ? from : NULL);
    if (user ? sign_in(h, user) : token ? bw_link_http_set_bearer(h, token) : 0)
        goto out;
    q_t q = {h, f.p, json};
    char extra[64];
    snprintf(extra, sizeof extra, "limit=%llu", (unsigned long long)limit);
    long long seq = query(&q, extra, 0);
    if (seq < 0)
        goto out;
    while (follow) {
        sleep(1);
        snprintf(extra, sizeof extra, "limit=1000&after=%lld", seq);
        long long s = query(&q, extra, seq);
        if (s >= 0)
            seq = s;
    }
    rc = 0;
out:
    bw_cli_buf_free(&f);
    if (esc)
        curl_easy_cleanup(esc);
    bw_link_http_free(h);
    return rc;
}
