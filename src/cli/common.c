/*
 * common: options shared by every subcommand (see cli.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/mem.h"

static void add_to(const char ***list, size_t *n, const char *v)
{
    *list = xrealloc(*list, xmul(*n + 1, sizeof **list));
    (*list)[(*n)++] = v;
}

int cli_common_option(cli_common_t *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--json")) {
        c->json = true;
        return 1;
    }
    if (!strcmp(a, "-c") || !strcmp(a, "-o") || !strcmp(a, "--zone")) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "mailblock: %s needs an argument\n", a);
            return -1;
        }
        const char *v = argv[++*i];
        if (!strcmp(a, "-c")) {
            c->config_file = v;
        } else if (!strcmp(a, "-o")) {
            if (strchr(v, '=') == NULL) {
                fprintf(stderr, "mailblock: -o needs KEY=VALUE, got \"%.60s\"\n", v);
                return -1;
            }
            add_to(&c->overrides, &c->noverrides, v);
        } else {
            add_to(&c->zones, &c->nzones, v);
        }
        return 1;
    }
    return 0;
}

void cli_common_free(cli_common_t *c)
{
    free(c->overrides);
    free(c->zones);
    c->overrides = c->zones = NULL;
    c->noverrides = c->nzones = 0;
}

config_t *cli_load_config(const cli_common_t *c, char *err, size_t errlen)
{
    config_t *cfg = config_load(c->config_file, c->overrides, c->noverrides, err, errlen);
    if (cfg != NULL)
        config_add_zone_files(cfg, c->zones, c->nzones); /* --zone adds to the list */
    return cfg;
}

dns_resolver_t *cli_open_resolver(uv_loop_t *loop, const config_t *cfg, const char *cmd,
                                  int *rc)
{
    dns_options_t o;
    config_dns_options(cfg, &o);
    char err[512];
    dns_resolver_t *dns = dns_resolver_new(loop, &o, err, sizeof err);
    if (dns == NULL) {
        fprintf(stderr, "mailblock %s: %s\n", cmd, err);
        /* dns.c names the key at fault first: a zone file that does not load is bad input,
         * anything else is the resolver */
        *rc = strncmp(err, "dns_zone_files", 14) == 0 ? EXIT_DATAERR : EXIT_UNAVAILABLE;
    }
    return dns;
}

static void on_checks_done(txn_t *t, void *arg)
{
    (void)t;
    *(bool *)arg = true;
}

int cli_run_checks(uv_loop_t *loop, txn_t *t)
{
    bool done = false;
    if (txn_run(t, on_checks_done, &done))
        return 0;
    while (!done)
        if (uv_run(loop, UV_RUN_ONCE) == 0 && !done)
            return -1;
    return 0;
}
