/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's keys ([agent], [scanner], [drop]) and the protection profiles.
 *
 * A profile is a set of defaults, not a mode: Profile = high sets the actions,
 * FailMode, MaxFileSize, Archives and ScanTimeout, and any of those keys
 * written in the file wins over the profile.  So "high, but fail open" is
 * one extra line, and the profile still says what the rest means. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agent.h"
#include "core/conf.h"

#define A(f) offsetof(bw_agent_conf_t, f)
#define S(f) offsetof(bw_agent_scanner_conf_t, f)
#define D(f) offsetof(bw_agent_drop_conf_t, f)
#define R BW_CONF_REPEATABLE

static const bw_conf_enum_t profiles[] = {{"high", BW_AG_PROFILE_HIGH},
                                          {"recommended", BW_AG_PROFILE_RECOMMENDED},
                                          {"low", BW_AG_PROFILE_LOW},
                                          {NULL, 0}};
static const bw_conf_enum_t failmodes[] = {{"open", BW_AG_FAIL_OPEN},
                                           {"closed", BW_AG_FAIL_CLOSED},
                                           {NULL, 0}};
static const bw_conf_enum_t modes[] = {{"local", 0}, {"remote", 1}, {NULL, 0}};
static const bw_conf_enum_t fallbacks[] = {{"local", 0}, {"open", 1}, {"closed", 2}, {NULL, 0}};

static const bw_conf_key_t agent_keys[] = {
    {.section = "agent", .name = "Paths", .type = BW_CONF_PATH, .flags = R, .offset = A(paths),
     .doc = "Directories protected (absolute); each is watched through a mount mark and events are filtered by prefix"},
    {.section = "agent", .name = "Events", .type = BW_CONF_STRING, .flags = R,
     .def = "open\nexec\nclose-write", .offset = A(events),
     .doc = "Which accesses are checked: open (FAN_OPEN_PERM), exec (FAN_OPEN_EXEC_PERM), close-write (FAN_CLOSE_WRITE)"},
    {.section = "agent", .name = "ExcludePath", .type = BW_CONF_STRING, .flags = R,
     .offset = A(excl_path), .doc = "Path prefix never scanned (whole components)"},
    {.section = "agent", .name = "ExcludeGlob", .type = BW_CONF_STRING, .flags = R,
     .offset = A(excl_glob), .doc = "Glob (fnmatch) over the full path never scanned"},
    {.section = "agent", .name = "ExcludeExtension", .type = BW_CONF_STRING, .flags = R,
     .offset = A(excl_ext), .doc = "File extension never scanned (case-insensitive, without the dot)"},
    {.section = "agent", .name = "ExcludeProcess", .type = BW_CONF_STRING, .flags = R,
     .offset = A(excl_proc), .doc = "Process name (/proc/PID/comm) whose accesses are allowed unscanned"},
    {.section = "agent", .name = "ExcludeUser", .type = BW_CONF_STRING, .flags = R,
     .offset = A(excl_user), .doc = "User (name or uid) whose accesses are allowed unscanned"},
    {.section = "agent", .name = "Profile", .type = BW_CONF_ENUM, .def = "recommended",
     .offset = A(profile), .words = profiles,
     .doc = "high | recommended | low: defaults for Action, FailMode, MaxFileSize, Archives, ScanTimeout"},
    {.section = "agent", .name = "Deadline", .type = BW_CONF_DURATION, .def = "500ms", .min = 10,
     .max = 60000, .offset = A(deadline_ms),
     .doc = "Every permission event is answered within this time, by FailMode if the scan is not done"},
    {.section = "agent", .name = "FailMode", .type = BW_CONF_ENUM, .def = "open",
     .offset = A(fail_mode), .words = failmodes,
     .doc = "Answer when the deadline passes or a scan fails: open (allow) or closed (deny); profile default"},
    {.section = "agent", .name = "MaxFileSize", .type = BW_CONF_SIZE, .def = "25M",
     .offset = A(max_file_size), .doc = "Larger files are allowed unscanned (profile default)"},
    {.section = "agent", .name = "Archives", .type = BW_CONF_BOOL, .def = "yes",
     .offset = A(archives), .doc = "Look inside archives (profile default)"},
    {.section = "agent", .name = "ScanTimeout", .type = BW_CONF_DURATION, .def = "10s", .min = 1, .max = 3600000,
     .offset = A(scan_timeout_ms), .doc = "Wall time per scan (profile default); the scan goes on after the Deadline answer"},
    {.section = "agent", .name = "Threads", .type = BW_CONF_UINT, .def = "4", .min = 1, .max = 256,
     .offset = A(threads), .doc = "Scanning threads"},
    {.section = "agent", .name = "CacheEntries", .type = BW_CONF_UINT, .def = "65536", .min = 16,
     .max = 100000000, .offset = A(cache_entries), .doc = "Verdicts remembered (by inode and change time)"},
    {.section = "agent", .name = "IgnoreMarks", .type = BW_CONF_BOOL, .def = "yes",
     .offset = A(ignore_marks),
     .doc = "Put a kernel ignore mark on clean files, so their next opens cost no round trip (cleared by a modification)"},
    {.section = "agent", .name = "Action", .type = BW_CONF_STRING, .flags = R, .offset = A(actions),
     .doc = "STATUS action[,action]: block, quarantine, delete, cure, report (profile default)"},
    {.section = "agent", .name = "QuarantineDirectory", .type = BW_CONF_PATH,
     .def = "/var/lib/bulwark/quarantine", .offset = A(quarantine_dir),
     .doc = "The quarantine store (outside the protected paths or excluded is best)"},
    {.section = "agent", .name = "ControlSocket", .type = BW_CONF_PATH,
     .def = "/run/bulwark/agent.sock", .offset = A(control_socket),
     .doc = "Unix socket for `status` (\"\": none)"},
};

static const bw_conf_key_t scanner_keys[] = {
    {.section = "scanner", .name = "Mode", .type = BW_CONF_ENUM, .def = "local", .offset = S(mode),
     .words = modes, .doc = "local: the in-process engine; remote: a Bulwark scanning server (BWSCAN/1)"},
    {.section = "scanner", .name = "Server", .type = BW_CONF_STRING, .def = "", .offset = S(server),
     .doc = "host:port of the scanning server (remote mode)"},
    {.section = "scanner", .name = "CAFile", .type = BW_CONF_PATH, .def = "", .offset = S(ca_file),
     .doc = "CA that signed the server's certificate (\"\": plain TCP, loopback tests only)"},
    {.section = "scanner", .name = "Certificate", .type = BW_CONF_PATH, .def = "", .offset = S(cert),
     .doc = "The agent's client certificate"},
    {.section = "scanner", .name = "Key", .type = BW_CONF_PATH, .def = "", .offset = S(key),
     .doc = "The agent's client key"},
    {.section = "scanner", .name = "Fallback", .type = BW_CONF_ENUM, .def = "local",
     .offset = S(fallback), .words = fallbacks,
     .doc = "When the server is unreachable: local (the in-process engine), open, closed"},
    {.section = "scanner", .name = "DatabaseDirectory", .type = BW_CONF_PATH,
     .def = "/var/lib/bulwark/db", .offset = S(db_dir), .doc = "Databases of the in-process engine"},
};

static const bw_conf_key_t drop_keys[] = {
    {.section = "drop", .name = "Directories", .type = BW_CONF_PATH, .flags = R, .offset = D(dirs),
     .doc = "Drop folders: each file closed after writing is scanned once; infected ones go to the quarantine"},
    {.section = "drop", .name = "RecordClean", .type = BW_CONF_BOOL, .def = "no",
     .offset = D(record_clean), .doc = "Write NAME.bwverdict beside each clean file"},
};

const bw_conf_table_t bw_agent_conf_table = {"agent", sizeof(bw_agent_conf_t), agent_keys,
                                             BW_CONF_NKEYS(agent_keys), NULL, NULL};
const bw_conf_table_t bw_agent_scanner_conf_table = {
    "agent-scanner", sizeof(bw_agent_scanner_conf_t), scanner_keys, BW_CONF_NKEYS(scanner_keys),
    NULL, NULL};
const bw_conf_table_t bw_agent_drop_conf_table = {"agent-drop", sizeof(bw_agent_drop_conf_t),
                                                  drop_keys, BW_CONF_NKEYS(drop_keys), NULL, NULL};

void bw_agent_profile_defaults(int profile, int act[BW_STATUS_COUNT], int *fail_mode,
                               uint64_t *max_size, bool *archives, uint64_t *timeout_ms)
{
    for (int i = 0; i < BW_STATUS_COUNT; i++)
        act[i] = BW_AG_ACT_REPORT;
    switch (profile) {
    case BW_AG_PROFILE_HIGH:
        act[BW_INFECTED] = BW_AG_ACT_BLOCK | BW_AG_ACT_QUARANTINE;
        act[BW_SUSPICIOUS] = BW_AG_ACT_BLOCK;
        act[BW_WARNING] = BW_AG_ACT_BLOCK;
        act[BW_CURED] = BW_AG_ACT_BLOCK;
        *fail_mode = BW_AG_FAIL_CLOSED;
        *max_size = 100ull << 20;
        *archives = true;
        *timeout_ms = 30000;
        break;
    case BW_AG_PROFILE_LOW:
        act[BW_INFECTED] = BW_AG_ACT_BLOCK;
        *fail_mode = BW_AG_FAIL_OPEN;
        *max_size = 10ull << 20;
        *archives = false;
        *timeout_ms = 5000;
        break;
    default:
        act[BW_INFECTED] = BW_AG_ACT_BLOCK;
        act[BW_SUSPICIOUS] = BW_AG_ACT_BLOCK;
        act[BW_CURED] = BW_AG_ACT_BLOCK;
        *fail_mode = BW_AG_FAIL_OPEN;
        *max_size = 25ull << 20;
        *archives = true;
        *timeout_ms = 10000;
        break;
    }
}

int bw_agent_parse_actions(char *const *lines, int act[BW_STATUS_COUNT], bw_err_t *err)
{
    for (size_t i = 0; lines && lines[i]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", lines[i]);
        char *sp = buf + strcspn(buf, " \t");
        if (!*sp) {
            bw_err_set(err, "Action '%s': expected STATUS action[,action]", lines[i]);
            return BW_ERR;
        }
        *sp++ = 0;
        bw_status_t st;
        if (bw_status_from_name(buf, &st) != BW_OK) {
            bw_err_set(err, "Action '%s': unknown status '%s'", lines[i], buf);
            return BW_ERR;
        }
        int bits = 0;
        for (char *save = NULL, *w = strtok_r(sp, " \t,", &save); w;
             w = strtok_r(NULL, " \t,", &save)) {
            if (!strcasecmp(w, "block"))
                bits |= BW_AG_ACT_BLOCK;
            else if (!strcasecmp(w, "quarantine"))
                bits |= BW_AG_ACT_QUARANTINE;
            else if (!strcasecmp(w, "delete"))
                bits |= BW_AG_ACT_DELETE;
            else if (!strcasecmp(w, "cure"))
                bits |= BW_AG_ACT_CURE;
            else if (strcasecmp(w, "report")) {
                bw_err_set(err, "Action '%s': unknown action '%s' (block, quarantine, delete, cure, report)",
                           lines[i], w);
                return BW_ERR;
            }
        }
        act[st] = bits;
    }
    return BW_OK;
}

const char *bw_agent_actions_name(int bits, char *buf, size_t cap)
{
    static const struct { int bit; const char *n; } names[] = {
        {BW_AG_ACT_BLOCK, "block"}, {BW_AG_ACT_QUARANTINE, "quarantine"},
        {BW_AG_ACT_DELETE, "delete"}, {BW_AG_ACT_CURE, "cure"}};
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (bits & names[i].bit)
            len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", len ? "," : "",
                                    names[i].n);
    if (!buf[0])
        snprintf(buf, cap, "report");
    return buf;
}

int bw_agent_setup(bw_agent_t *a, const void *state, bw_err_t *err)
{
    const bw_conf_state_t *st = state;
    const bw_agent_conf_t *c = bw_conf_get(st, &bw_agent_conf_table, NULL);
    const bw_agent_scanner_conf_t *s = bw_conf_get(st, &bw_agent_scanner_conf_table, NULL);
    const bw_agent_drop_conf_t *d = bw_conf_get(st, &bw_agent_drop_conf_table, NULL);
    a->conf = *c;
    a->scanner = *s;
    a->drop = *d;
    int fm;
    uint64_t ms, to;
    bool ar;
    bw_agent_profile_defaults(c->profile, a->act, &fm, &ms, &ar, &to);
#define IS(k) bw_conf_is_set(st, &bw_agent_conf_table, NULL, k)
    if (!IS("FailMode"))
        a->conf.fail_mode = fm;
    if (!IS("MaxFileSize"))
        a->conf.max_file_size = ms;
    if (!IS("Archives"))
        a->conf.archives = ar;
    if (!IS("ScanTimeout"))
        a->conf.scan_timeout_ms = to;
#undef IS
    if (bw_agent_parse_actions(c->actions.items, a->act, err) != BW_OK)
        return BW_ERR;
    a->events_mask = 0;
    char **ev = c->events.items;
    for (size_t i = 0; ev && ev[i]; i++) {
        if (!strcasecmp(ev[i], "open"))
            a->events_mask |= BW_AG_EV_OPEN;
        else if (!strcasecmp(ev[i], "exec"))
            a->events_mask |= BW_AG_EV_EXEC;
        else if (!strcasecmp(ev[i], "close-write"))
            a->events_mask |= BW_AG_EV_CLOSE_WRITE;
        else {
            bw_err_set(err, "Events '%s': expected open, exec or close-write", ev[i]);
            return BW_ERR;
        }
    }
    char **p = c->paths.items;
    for (size_t i = 0; p && p[i]; i++)
        if (p[i][0] != '/') {
            bw_err_set(err, "Paths '%s': not an absolute path", p[i]);
            return BW_ERR;
        }
    if (!c->paths.n && !d->dirs.n) {
        bw_err_set(err, "nothing to do: set [agent] Paths or [drop] Directories");
        return BW_ERR;
    }
    if (s->mode == 1 && (!s->server || !strchr(s->server, ':'))) {
        bw_err_set(err, "[scanner] Mode = remote needs Server = host:port");
        return BW_ERR;
    }
    bw_limits_default(&a->limits);
    a->limits.scan_archives = a->conf.archives;
    a->limits.max_scan_ms = (uint32_t)a->conf.scan_timeout_ms;
    if (a->conf.max_file_size && a->limits.max_file_size > a->conf.max_file_size)
        a->limits.max_file_size = a->conf.max_file_size;
    return bw_agent_excl_init(&a->excl, c->excl_path.items, c->excl_glob.items, c->excl_ext.items,
                              c->excl_proc.items, c->excl_user.items, err);
}
