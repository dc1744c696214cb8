/*
 * cli: the `mailblock` command and its subcommands. Options common to every subcommand:
 *   -c FILE          configuration file
 *   -o KEY=VALUE     override one key (repeatable)
 *   --zone FILE      answer this zone from an RFC 1035 master file (repeatable;
 *                    the same as adding FILE to dns_zone_files)
 *   --json           one JSON object on stdout instead of text
 * Exit statuses (sysexits.h): 0 accepted/ok, 4 temporary reject, 5 permanent reject,
 * 64 usage, 65 bad input data, 69 a needed service unavailable, 70 internal error.
 */
#ifndef MB_CLI_CLI_H
#define MB_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "check/txn.h"
#include "core/config.h"
#include "dns/dns.h"

#define EXIT_ACCEPT 0
#define EXIT_TEMPFAIL 4
#define EXIT_REJECT 5
#define EXIT_USAGE 64
#define EXIT_DATAERR 65
#define EXIT_UNAVAILABLE 69
#define EXIT_SOFTWARE 70

typedef struct cli_common {
    const char *config_file;
    const char **overrides; /* "key=value" */
    size_t noverrides;
    const char **zones; /* --zone files, added to dns_zone_files */
    size_t nzones;
    bool json;
} cli_common_t;

/*
 * Takes the common option at argv[*i] (and its argument) if it is one. Returns 1 when taken,
 * 0 when not a common option, -1 on a usage error (message printed).
 */
int cli_common_option(cli_common_t *c, int argc, char **argv, int *i);
void cli_common_free(cli_common_t *c);
/* Loads the configuration the options name; NULL with the error ("FILE:LINE: ...") in err. */
config_t *cli_load_config(const cli_common_t *c, char *err, size_t errlen);

/*
 * Creates the resolver the configuration describes on loop. On failure prints
 * "mailblock CMD: why" and returns NULL with *rc set: EXIT_DATAERR when a zone file does not
 * load (bad input), EXIT_UNAVAILABLE for anything else.
 */
dns_resolver_t *cli_open_resolver(uv_loop_t *loop, const config_t *cfg, const char *cmd,
                                  int *rc);

/* Runs the transaction's checks to the end, turning loop while DNS answers are awaited.
 * Returns 0, or -1 when the loop ran dry with checks still pending (a bug). */
int cli_run_checks(uv_loop_t *loop, txn_t *t);

int cmd_serve(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_catalog(int argc, char **argv);
int cmd_spf(int argc, char **argv);
int cmd_explain(int argc, char **argv);

#endif
