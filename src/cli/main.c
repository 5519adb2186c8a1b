/* SPDX-License-Identifier: Apache-2.0 */
/* The `bulwark` command: subcommand dispatch.
 *
 * One binary with subcommands (git style) rather than one per tool (clamscan,
 * freshclam, clamdscan): the database defaults, cache and output conventions
 * then live in one place.  Each subcommand parses its own options with
 * getopt_long on argv shifted past its name.  Usage errors go to stderr and
 * exit 2, like every other error.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void bw_cli_usage(FILE *f)
{
    fprintf(f,
            "Usage: bulwark COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "Commands:\n"
            "  scan [OPTIONS] PATH...        scan files and directories (like clamscan)\n"
            "  db info [OPTIONS] [DB...]     describe the signature databases\n"
            "  db compile [OPTIONS] [DB...]  compile the databases into the cache\n"
            "  update [OPTIONS]              fetch, verify and install signature updates\n"
            "  quarantine COMMAND [ID]       list, show, restore or delete quarantined objects\n"
            "  ctl COMMAND                   control bulwarkd: start, stop, restart, status,\n"
            "                                reload, reload-bases, stats\n"
            "  events --console URL [...]    the events bulwark-console holds (--follow)\n"
            "  rscan --server HOST:PORT FILE...  scan files on a Bulwark scanning server\n"
            "  console enroll [...]          enrol this node with bulwark-console\n"
            "  help [COMMAND]                this text, or a command's help\n"
            "\n"
            "Options:\n"
            "  -h, --help     this text\n"
            "  -V, --version  print the version\n"
            "\n"
            "The default database is $BULWARK_DB if set, else %s.\n"
            "Run 'bulwark COMMAND --help' for a command's options.\n",
            BW_DEFAULT_DB);
}

static int version(void)
{
    printf("bulwark %s\n", BW_VERSION);
    return BW_EXIT_CLEAN;
}

static int help(int argc, char **argv)
{
    if (argc >= 2) {
        char *hargv[] = {argv[1], (char *)"--help", NULL};
        if (strcmp(argv[1], "scan") == 0)
            return bw_cmd_scan(2, hargv);
        if (strcmp(argv[1], "db") == 0)
            return bw_cmd_db(2, hargv);
        if (strcmp(argv[1], "update") == 0)
            return bw_cmd_update(2, hargv);
        if (strcmp(argv[1], "quarantine") == 0)
            return bw_cmd_quarantine(2, hargv);
        if (strcmp(argv[1], "ctl") == 0)
            return bw_cmd_ctl(2, hargv);
        if (strcmp(argv[1], "events") == 0)
            return bw_cmd_events(2, hargv);
        if (strcmp(argv[1], "rscan") == 0)
            return bw_cmd_rscan(2, hargv);
        if (strcmp(argv[1], "console") == 0)
            return bw_cmd_console(2, hargv);
        fprintf(stderr, "bulwark: unknown command '%s'\n", argv[1]);
        bw_cli_usage(stderr);
        return BW_EXIT_ERROR;
    }
    bw_cli_usage(stdout);
    return BW_EXIT_CLEAN;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        bw_cli_usage(stderr);
        return BW_EXIT_ERROR;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "scan") == 0)
        return bw_cmd_scan(argc - 1, argv + 1);
    if (strcmp(cmd, "db") == 0)
        return bw_cmd_db(argc - 1, argv + 1);
    if (strcmp(cmd, "update") == 0)
        return bw_cmd_update(argc - 1, argv + 1);
    if (strcmp(cmd, "quarantine") == 0)
        return bw_cmd_quarantine(argc - 1, argv + 1);
    if (strcmp(cmd, "ctl") == 0)
        return bw_cmd_ctl(argc - 1, argv + 1);
    if (strcmp(cmd, "events") == 0)
        return bw_cmd_events(argc - 1, argv + 1);
    if (strcmp(cmd, "rscan") == 0)
        return bw_cmd_rscan(argc - 1, argv + 1);
    if (strcmp(cmd, "console") == 0)
        return bw_cmd_console(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0)
        return help(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0)
        return version();
    if (cmd[0] == '-')
        fprintf(stderr, "bulwark: unknown option '%s'\n", cmd);
    else
        fprintf(stderr, "bulwark: unknown command '%s'\n", cmd);
    bw_cli_usage(stderr);
    return BW_EXIT_ERROR;
}
