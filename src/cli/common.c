/*
 * common: options shared by every subcommand (see cli.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/mem.h"
#include "util/str.h"

static void add_override(cli_common_t *c, const char *kv)
{
    c->overrides = xrealloc(c->overrides, xmul(c->noverrides + 1, sizeof *c->overrides));
    c->overrides[c->noverrides++] = kv;
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
            add_override(c, v);
        } else {
            /* --zone adds to dns_zone_files whatever the file says; collected and applied
             * as one override at load time */
            char *kv = xmalloc(strlen(v) + sizeof "+dns_zone_files=");
            sprintf(kv, "+dns_zone_files=%s", v);
            add_override(c, kv);
        }
        return 1;
    }
    return 0;
}

void cli_common_free(cli_common_t *c)
{
    for (size_t i = 0; i < c->noverrides; i++)
        if (c->overrides[i][0] == '+')
            free((char *)c->overrides[i]);
    free(c->overrides);
    c->overrides = NULL;
    c->noverrides = 0;
}

config_t *cli_load_config(const cli_common_t *c, char *err, size_t errlen)
{
    /* "+dns_zone_files=F" entries (from --zone) are appended to the configured list */
    str_t zones = STR_INIT;
    const char **ov = xcalloc(c->noverrides + 2, sizeof *ov);
    size_t n = 0;
    for (size_t i = 0; i < c->noverrides; i++) {
        if (c->overrides[i][0] == '+') {
            if (zones.len > 0)
                str_appendc(&zones, ',');
            str_appendz(&zones, strchr(c->overrides[i], '=') + 1);
        } else {
            ov[n++] = c->overrides[i];
        }
    }
    config_t *cfg = config_load(c->config_file, ov, n, err, errlen);
    if (cfg != NULL && zones.len > 0) {
        str_t kv = STR_INIT;
        str_appendz(&kv, "dns_zone_files=");
        for (size_t i = 0; i < cfg->ndns_zone_files; i++) {
            str_appendz(&kv, cfg->dns_zone_files[i]);
            str_appendc(&kv, ',');
        }
        str_append(&kv, zones.data, zones.len);
        ov[n++] = kv.data;
        config_free(cfg);
        cfg = config_load(c->config_file, ov, n, err, errlen);
        str_free(&kv);
    }
    str_free(&zones);
    free(ov);
    return cfg;
}
