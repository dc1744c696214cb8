/*
 * cmd_catalog: `mailblock catalog [--json] [ID]`: the finding ids with their reply codes,
 * default actions, reasons, explanations and fixes, straight from the catalog.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/catalog.h"
#include "cli/cli.h"

static json_t *entry_json(const catalog_entry_t *e)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "id", e->id, "code",
                          e->code, "enhanced", e->enhanced, "action",
                          action_name(e->default_action), "reason", e->reason, "explanation",
                          e->explanation, "fix", e->fix, "why_default", e->why_default);
    const catalog_results_t *cr = catalog_results(e->fid);
    if (cr != NULL) {
        /* per-result default actions: {"fail": "reject", "softfail": "warn", ...} */
        json_t *ra = json_object();
        for (int r = 0; r < RES_COUNT; r++)
            if (cr->defaults[r] >= 0)
                json_object_set_new(ra, result_name((result_t)r),
                                    json_string(action_name((action_t)cr->defaults[r])));
        json_object_set_new(o, "result_actions", ra);
        json_object_set_new(o, "permerror_enhanced", json_string(cr->permerror_enhanced));
        json_object_set_new(o, "temperror_enhanced", json_string(cr->temp_enhanced));
    }
    return o;
}

int cmd_catalog(int argc, char **argv)
{
    cli_common_t c = {0};
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--help")) {
            printf("usage: mailblock catalog [--json] [ID]\n");
            return 0;
        }
        if (argv[i][0] == '-' || only != NULL) {
            fprintf(stderr, "mailblock catalog: unexpected argument \"%.60s\"\n", argv[i]);
            cli_common_free(&c);
            return EXIT_USAGE;
        }
        only = argv[i];
    }
    const catalog_entry_t *one = NULL;
    if (only != NULL && (one = catalog_find(only, strlen(only))) == NULL) {
        fprintf(stderr, "mailblock catalog: no finding \"%.60s\"\n", only);
        cli_common_free(&c);
        return EXIT_DATAERR;
    }
    if (c.json) {
        json_t *out;
        if (one != NULL) {
            out = entry_json(one);
        } else {
            json_t *list = json_array();
            for (int i = 0; i < F_COUNT; i++)
                json_array_append_new(list, entry_json(catalog_get((finding_id_t)i)));
            out = json_pack("{s:o}", "findings", list);
        }
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(out);
    } else {
        for (int i = 0; i < F_COUNT; i++) {
            const catalog_entry_t *e = catalog_get((finding_id_t)i);
            if (one != NULL && e != one)
                continue;
            if (one != NULL) {
                printf("%s\n  reply:   %d %s %s\n  default: %s (%s)\n\n%s\n\nFix: %s\n", e->id,
                       e->code, e->enhanced, e->reason, action_name(e->default_action),
                       e->why_default, e->explanation, e->fix);
            } else {
                printf("%-28s %d %-7s %-8s %s\n", e->id, e->code, e->enhanced,
                       action_name(e->default_action), e->reason);
            }
        }
    }
    cli_common_free(&c);
    return 0;
}
