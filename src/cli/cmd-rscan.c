/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark rscan`: scans files on a Bulwark scanning server (BWSCAN/1,
 * docs/rscan.md) through the same client the agent uses.  For operators
 * checking a server and its certificates, and for the tests. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rscan/rscan-client.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bulwark rscan --server HOST:PORT [--ca FILE --cert FILE --key FILE]\n"
            "                     [--plain] [--timeout MS] FILE...\n"
            "\n"
            "Scans each FILE on the scanning server: offers its SHA-256 and size, and sends\n"
            "the content only when the server's cache does not know it.  Prints\n"
            "'FILE: STATUS [threat] (cached|scanned)' per file.\n"
            "\n"
            "      --server HOST:PORT  the server ([v6]:port for IPv6)\n"
            "      --ca FILE           PEM CA of the server's certificate (TLS)\n"
            "      --cert/--key FILE   this client's certificate and key (TLS)\n"
            "      --plain             no TLS (loopback tests); the default without --ca\n"
            "      --ping              ask the server's database version and exit\n"
            "Exit: 0 all clean, 1 something found, 2 an error.\n");
}

int bw_cmd_rscan(int argc, char **argv)
{
    static const struct option lo[] = {
        {"server", required_argument, 0, 's'}, {"ca", required_argument, 0, 'a'},
        {"cert", required_argument, 0, 'c'},   {"key", required_argument, 0, 'k'},
        {"plain", no_argument, 0, 'p'},        {"timeout", required_argument, 0, 't'},
        {"ping", no_argument, 0, 'P'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bw_rscan_opts_t o = {.timeout_ms = 30000};
    char host[256] = "", *server = NULL;
    int plain = 0, ping = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 's': server = optarg; break;
        case 'a': o.ca_file = optarg; break;
        case 'c': o.cert_file = optarg; break;
        case 'k': o.key_file = optarg; break;
        case 'p': plain = 1; break;
        case 'P': ping = 1; break;
        case 't': o.timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': usage(stdout); return BW_EXIT_CLEAN;
        default: usage(stderr); return BW_EXIT_ERROR;
        }
    }
    const char *colon = server ? strrchr(server, ':') : NULL;
    if (!colon || (optind >= argc && !ping)) {
        usage(stderr);
        return BW_EXIT_ERROR;
    }
    if (server[0] == '[')
        snprintf(host, sizeof host, "%.*s", (int)(colon - server - 2), server + 1);
    else
        snprintf(host, sizeof host, "%.*s", (int)(colon - server), server);
    o.host = host;
    o.port = colon + 1;
    o.tls = !plain && (o.ca_file || o.cert_file);
    bw_rscan_client_t *c;
    bw_err_t err;
    if (bw_rscan_connect(&o, &c, &err) != BW_OK) {
        fprintf(stderr, "bulwark rscan: %s\n", err.msg);
        return BW_EXIT_ERROR;
    }
    int rc = BW_EXIT_CLEAN;
    if (ping) {
        char *dbv;
        if (bw_rscan_ping(c, &dbv, &err) != BW_OK) {
            fprintf(stderr, "bulwark rscan: %s\n", err.msg);
            rc = BW_EXIT_ERROR;
        } else {
            printf("PONG %s\n", dbv);
            free(dbv);
        }
    }
    for (int i = optind; i < argc && c; i++) {
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "bulwark rscan: %s: not a readable regular file\n", argv[i]);
            if (fd >= 0)
                close(fd);
            rc = BW_EXIT_ERROR;
            continue;
        }
        bw_status_t s;
        char *threat = NULL;
        int cached = 0;
        if (bw_rscan_scan_fd(c, fd, (uint64_t)st.st_size, argv[i], &s, &threat, &cached, &err) != BW_OK) {
            fprintf(stderr, "bulwark rscan: %s: %s\n", argv[i], err.msg);
            rc = BW_EXIT_ERROR;
            /* A refused request leaves the connection usable; anything else
             * does not: reconnect for the next file. */
            if (strncmp(err.msg, "rscan: server: ", 15) != 0) {
                bw_rscan_close(c);
                c = NULL;
                if (i + 1 < argc && bw_rscan_connect(&o, &c, &err) != BW_OK)
                    fprintf(stderr, "bulwark rscan: %s\n", err.msg);
            }
        } else {
            printf("%s: %s%s%s (%s)\n", argv[i], bw_status_name(s), threat ? " " : "",
                   threat ? threat : "", cached ? "cached" : "scanned");
            if (s != BW_CLEAN && rc == BW_EXIT_CLEAN)
                rc = BW_EXIT_FOUND;
        }
        free(threat);
        close(fd);
    }
    bw_rscan_close(c);
    return rc;
}
