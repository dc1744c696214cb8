/*
 * main: dispatches `mailblock SUBCOMMAND ...` (see cli.h and docs/mailblock.1.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"

#define MAILBLOCK_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mailblock COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  serve     run the gate: the Postfix policy server (foreground, logs to stderr)\n"
            "  check     decide one transaction as the gate would\n"
            "  catalog   list the finding ids with their replies and default actions\n"
            "  spf       evaluate SPF (RFC 7208) for an IP and a sender, or lint a record\n"
            "  explain   say why mail was blocked, from a reply, a log line or a bounce\n"
            "  version   print the version\n"
            "\n"
            "common options: -c FILE, -o KEY=VALUE, --zone FILE, --json\n"
            "see `mailblock COMMAND --help`\n");
}

int main(int argc, char **argv)
{
    log_open("mailblock", false);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "catalog"))
        return cmd_catalog(argc - 1, argv + 1);
    if (!strcmp(cmd, "spf"))
        return cmd_spf(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain"))
        return cmd_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("mailblock %s\n", MAILBLOCK_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "mailblock: unknown command \"%.40s\"\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
