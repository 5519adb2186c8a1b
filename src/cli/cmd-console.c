/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark console enroll`: enrols this node with bulwark-console using a
 * one-time token, and stores the node's credential in [console]
 * CredentialFile (mode 0600).  Run as root, the file is given to
 * [icapserver.process] User, since the shipper that uses it runs as User
 * (src/daemon/shipper.c).  docs/console-nodes.md. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/daemon-conf.h"
#include "app/schema.h"
#include "cli.h"
#include "core/conf.h"
#include "link/link-conf.h"
#include "link/link-cred.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bulwark console enroll [--url URL] --token TOKEN [--ca FILE] [--name NAME]\n"
            "                              [--group GROUP] [-c CONFIG]\n"
            "\n"
            "Enrols this node with bulwark-console: the one-time TOKEN (made by an admin in\n"
            "the console) is exchanged for the node's own credential, stored in [console]\n"
            "CredentialFile (mode 0600).  URL and the CA file default to [console] Url and\n"
            "CAFile of the configuration (default %s); NAME to [events] NodeName,\n"
            "else the host name.  The token is refused if it was used before.\n"
            "\n"
            "  -u, --url URL     the console, https://HOST:PORT\n"
            "  -t, --token T     the one-time enrolment token (or $BULWARK_CONSOLE_TOKEN)\n"
            "      --ca FILE     PEM CA of the console's certificate\n"
            "  -n, --name NAME   this node's name in the console\n"
            "  -g, --group G     the group to ask for (default: the token's)\n"
            "  -c, --config F    bulwark.conf\n"
            "\n"
            "Exit status: 0 enrolled, 2 error.\n",
            BW_DEFAULT_CONF);
}

static int enroll(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"token", required_argument, NULL, 't'},
        {"ca", required_argument, NULL, 'C'},    {"name", required_argument, NULL, 'n'},
        {"group", required_argument, NULL, 'g'}, {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *url = NULL, *token = getenv("BULWARK_CONSOLE_TOKEN"), *ca = NULL, *name = NULL,
               *group = NULL, *conf = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:t:n:g:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 't': token = optarg; break;
        case 'C': ca = optarg; break;
        case 'n': name = optarg; break;
        case 'g': group = optarg; break;
        case 'c': conf = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return BW_EXIT_ERROR;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "bulwark console enroll: unexpected argument '%s'\n", argv[optind]);
        return BW_EXIT_ERROR;
    }
    bw_err_t err;
    bw_conf_state_t *st = NULL;
    int r = conf || access(BW_DEFAULT_CONF, R_OK) == 0
                ? bw_conf_load(&bw_app_schema, conf ? conf : BW_DEFAULT_CONF, &st, &err)
                : bw_conf_load_buf(&bw_app_schema, "(defaults)", "", 0, &st, &err);
    if (r != BW_OK) {
        fprintf(stderr, "bulwark console enroll: %s\n", err.msg);
        return BW_EXIT_ERROR;
    }
    const bw_link_conf_t *lc = bw_conf_get(st, &bw_link_conf_table, NULL);
    const bw_daemon_conf_t *dc = bw_conf_get(st, &bw_daemon_conf_table, NULL);
    if (!url)
        url = lc->url;
    if (!ca)
        ca = lc->ca_file;
    if (!group)
        group = lc->group;
    if (!token || !token[0])
        token = lc->enroll_token;
    char host[256] = "";
    if (!name) {
        gethostname(host, sizeof host - 1);
        name = host;
    }
    int rc = BW_EXIT_ERROR;
    if (!url || !url[0]) {
        fprintf(stderr, "bulwark console enroll: no console URL (--url, or [console] Url)\n");
    } else if (!token || !token[0]) {
        fprintf(stderr, "bulwark console enroll: no token (--token or $BULWARK_CONSOLE_TOKEN)\n");
    } else {
        bw_link_cred_t cred;
        if (bw_link_enroll(url, ca, token, name, group, lc->credential_file, &cred, &err)) {
            fprintf(stderr, "bulwark console enroll: %s\n", err.msg);
        } else {
            struct passwd *pw = geteuid() == 0 && dc->user && dc->user[0] ? getpwnam(dc->user)
                                                                            : NULL;
            if (pw && chown(lc->credential_file, pw->pw_uid, pw->pw_gid))
                fprintf(stderr, "bulwark console enroll: %s: chown to %s: %s\n",
                        lc->credential_file, dc->user, strerror(errno));
            printf("enrolled with %s as %s (node id %s, group %s); credential in %s\n", url,
                   cred.name, cred.node_id[0] ? cred.node_id : "-",
                   cred.group[0] ? cred.group : "-", lc->credential_file);
            rc = 0;
        }
    }
    bw_conf_free(st);
    return rc;
}

int bw_cmd_console(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BW_EXIT_ERROR : 0;
    }
    if (!strcmp(argv[1], "enroll"))
        return enroll(argc - 1, argv + 1);
    fprintf(stderr, "bulwark console: unknown command '%s' (enroll)\n", argv[1]);
    return BW_EXIT_ERROR;
}
