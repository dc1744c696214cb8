/*
 * cmd_check: `mailblock check`: one transaction through the gate's checks and policy,
 * exactly as `serve` would decide it at RCPT (or at MAIL when no --rcpt is given), live or
 * with --zone files. Prints the verdict and every finding, as text or JSON; the exit status
 * says the verdict (see cli.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check/txn.h"
#include "cli/cli.h"
#include "dns/dns.h"
#include "mail/addr.h"
#include "policy/policy.h"
#include "util/log.h"
#include "util/mem.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mailblock check --client-ip IP --helo NAME --from ADDR --rcpt ADDR\n"
            "                       [--rcpt ADDR]... [--client-name NAME] [--sasl-user USER]\n"
            "                       [--tls] [--size BYTES] [--message FILE]\n"
            "                       [-c FILE] [-o KEY=VALUE]... [--zone FILE]... [--json]\n"
            "  --helo \"\" means no HELO was given; --from '<>' or '' is the null sender.\n"
            "exit: 0 accept, 4 temporary reject, 5 permanent reject, 64 usage, 65 bad input,\n"
            "      69 DNS unavailable, 70 internal error\n");
}

/* A JSON string of peer-derived bytes: escaped, so that it is printable ASCII (and so valid
 * UTF-8 for the JSON encoder) whatever the bytes were. */
static json_t *escaped(const char *s, size_t len)
{
    str_t e = STR_INIT;
    log_escape(&e, s, len, len);
    json_t *j = json_stringn(str_cstr(&e), e.len);
    str_free(&e);
    return j;
}

static json_t *finding_json(txn_t *t, finding_id_t fid)
{
    const finding_t *f = txn_finding(t, fid);
    json_t *o = json_pack("{s:s, s:s}", "id", catalog_get(fid)->id, "result",
                          result_name(f->result));
    if (f->shown != NULL)
        json_object_set_new(o, "value", escaped(f->shown, strlen(f->shown)));
    for (const evidence_t *e = f->ev; e != NULL; e = e->next) {
        /* repeated keys (one per list) become arrays */
        json_t *old = json_object_get(o, e->key);
        if (old == NULL) {
            json_object_set_new(o, e->key, escaped(e->value, e->len));
        } else if (json_is_array(old)) {
            json_array_append_new(old, escaped(e->value, e->len));
        } else {
            json_t *arr = json_array();
            json_array_append(arr, old);
            json_array_append_new(arr, escaped(e->value, e->len));
            json_object_set_new(o, e->key, arr);
        }
    }
    return o;
}

/* Runs the checks for the current facts and returns the verdict. */
static int decide(uv_loop_t *loop, txn_t *t, verdict_t *v)
{
    if (policy_exempt_early(txn_config(t), txn_facts(t)) == NULL && cli_run_checks(loop, t) != 0)
        return -1;
    policy_decide(t, v);
    return 0;
}

int cmd_check(int argc, char **argv)
{
    cli_common_t c = {0};
    const char *client_ip = NULL, *helo = NULL, *from = NULL, *client_name = NULL;
    const char *sasl = NULL, *message = NULL, *size = NULL;
    const char **rcpts = NULL;
    size_t nrcpt = 0;
    bool tls = false;
    int rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        }
        if (!strcmp(a, "--tls")) {
            tls = true;
            continue;
        }
        const char **dst = !strcmp(a, "--client-ip")     ? &client_ip
                           : !strcmp(a, "--helo")        ? &helo
                           : !strcmp(a, "--from")        ? &from
                           : !strcmp(a, "--client-name") ? &client_name
                           : !strcmp(a, "--sasl-user")   ? &sasl
                           : !strcmp(a, "--message")     ? &message
                           : !strcmp(a, "--size")        ? &size
                                                         : NULL;
        bool is_rcpt = !strcmp(a, "--rcpt");
        if (dst == NULL && !is_rcpt) {
            fprintf(stderr, "mailblock check: unknown option \"%.60s\"\n", a);
            usage(stderr);
            goto out;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mailblock check: %s needs an argument\n", a);
            goto out;
        }
        if (is_rcpt) {
            rcpts = xrealloc(rcpts, xmul(nrcpt + 1, sizeof *rcpts));
            rcpts[nrcpt++] = argv[++i];
        } else {
            *dst = argv[++i];
        }
    }
    if (client_ip == NULL || helo == NULL || from == NULL) {
        fprintf(stderr, "mailblock check: --client-ip, --helo and --from are required\n");
        usage(stderr);
        goto out;
    }
    ipaddr_t ip;
    if (ipaddr_parsez(&ip, client_ip) != 0) {
        fprintf(stderr, "mailblock check: --client-ip: not an IP address: \"%.60s\"\n",
                client_ip);
        rc = EXIT_DATAERR;
        goto out;
    }
    unsigned long long msg_size = 0;
    bool have_size = false;
    if (message != NULL) {
        struct stat st;
        if (stat(message, &st) != 0) {
            perror(message);
            rc = EXIT_DATAERR;
            goto out;
        }
        msg_size = (unsigned long long)st.st_size;
        have_size = true;
    }
    if (size != NULL) {
        char *end;
        msg_size = strtoull(size, &end, 10);
        if (*end != '\0' || end == size) {
            fprintf(stderr, "mailblock check: --size: not a number\n");
            rc = EXIT_DATAERR;
            goto out;
        }
        have_size = true;
    }

    char cerr[512];
    config_t *cfg = cli_load_config(&c, cerr, sizeof cerr);
    if (cfg == NULL) {
        fprintf(stderr, "mailblock check: %s\n", cerr);
        rc = EXIT_USAGE;
        goto out;
    }
    log_set_level(LOG_LVL_WARN); /* the verdict is the output; keep warnings on stderr */
    uv_loop_t loop;
    uv_loop_init(&loop);
    dns_resolver_t *dns = cli_open_resolver(&loop, cfg, "check", &rc);
    if (dns == NULL) {
        config_free(cfg);
        uv_loop_close(&loop);
        goto out;
    }

    txn_t *t = txn_new();
    txn_set_verbose(t, true);
    txn_reset(t, cfg, dns);
    facts_t *f = txn_facts(t);
    f->have_client = true;
    f->client_ip = ip;
    f->client_addr = client_ip;
    f->client_name = client_name;
    f->helo_given = helo[0] != '\0';
    f->helo = helo;
    f->helo_len = strlen(helo);
    f->have_sender = true;
    f->sender = from;
    f->sender_len = strlen(from);
    if (f->sender_len == 2 && !strcmp(from, "<>"))
        f->sender_len = 0;
    f->sasl_user = sasl != NULL && sasl[0] ? sasl : NULL;
    f->tls = tls;
    f->have_size = have_size;
    f->size = msg_size;
    f->stage = nrcpt > 0 ? STAGE_RCPT : STAGE_MAIL;

    /* One verdict per recipient (overrides may differ); the reported verdict is the first
     * rejecting one, else the first temporary one, else accept. */
    verdict_t best;
    memset(&best, 0, sizeof best);
    best.fid = -1;
    json_t *per_rcpt = json_array();
    json_t *findings = json_array();
    bool internal = false;
    for (size_t r = 0; r < (nrcpt > 0 ? nrcpt : 1); r++) {
        if (nrcpt > 0) {
            txn_reset_rcpt(t);
            f->have_rcpt = true;
            f->rcpt = rcpts[r];
            f->rcpt_len = strlen(rcpts[r]);
        }
        verdict_t v;
        if (decide(&loop, t, &v) != 0) {
            internal = true;
            break;
        }
        int rank = v.action == VERDICT_REJECT ? 2 : v.action == VERDICT_TEMPFAIL ? 1 : 0;
        int best_rank = best.action == VERDICT_REJECT ? 2 : best.action == VERDICT_TEMPFAIL ? 1 : 0;
        if (r == 0 || rank > best_rank)
            best = v;
        if (nrcpt > 0) {
            json_t *jr = json_pack("{s:s, s:s}", "rcpt", rcpts[r], "action",
                                   verdict_action_name(v.action));
            if (v.fid >= 0)
                json_object_set_new(jr, "finding", json_string(catalog_get(v.fid)->id));
            json_array_append_new(per_rcpt, jr);
        }
        for (int i = 0; i < F_COUNT; i++) {
            const finding_t *fd = txn_finding(t, (finding_id_t)i);
            const catalog_entry_t *e = catalog_get((finding_id_t)i);
            /* recipient findings are reported per recipient, the others once */
            if (!fd->done || (r > 0 && e->stage != STAGE_RCPT))
                continue;
            json_array_append_new(findings, finding_json(t, (finding_id_t)i));
        }
    }
    if (internal) {
        fprintf(stderr, "mailblock check: internal error: the checks stopped waiting\n");
        rc = EXIT_SOFTWARE;
    } else {
        rc = best.action == VERDICT_REJECT ? EXIT_REJECT
             : best.action == VERDICT_TEMPFAIL ? EXIT_TEMPFAIL
                                               : EXIT_ACCEPT;
        if (best.dry_run)
            rc = EXIT_ACCEPT;
        /* the header the gate prepends when it accepts (spf_received_header) */
        str_t rspf = STR_INIT;
        bool have_rspf = policy_received_spf(t, &best, &rspf);
        if (c.json) {
            json_t *v = json_pack("{s:s}", "action", verdict_action_name(best.action));
            if (best.fid >= 0) {
                json_object_set_new(v, "code", json_integer(best.code));
                json_object_set_new(v, "enhanced", json_string(best.enhanced));
                json_object_set_new(v, "text", json_string(best.text));
                json_object_set_new(v, "finding", json_string(catalog_get(best.fid)->id));
            }
            if (best.exempt != NULL)
                json_object_set_new(v, "exempt", json_string(best.exempt));
            if (best.dry_run)
                json_object_set_new(v, "dry_run", json_true());
            json_t *out = json_pack("{s:o, s:O}", "verdict", v, "findings", findings);
            if (nrcpt > 1)
                json_object_set(out, "recipients", per_rcpt);
            if (have_rspf)
                json_object_set_new(out, "received_spf", json_string(str_cstr(&rspf)));
            json_dumpf(out, stdout, JSON_INDENT(2));
            putchar('\n');
            json_decref(out);
        } else {
            if (best.action == VERDICT_ACCEPT)
                printf("accept%s%s%s\n", best.exempt ? " (exempt: " : "",
                       best.exempt ? best.exempt : "", best.exempt ? ")" : "");
            else
                printf("%s%s: %d %s %s\n", verdict_action_name(best.action),
                       best.dry_run ? " (dry run: would be)" : "", best.code, best.enhanced,
                       best.text);
            size_t n = json_array_size(findings);
            for (size_t i = 0; i < n; i++) {
                json_t *fj = json_array_get(findings, i);
                const char *res = json_string_value(json_object_get(fj, "result"));
                if (!strcmp(res, "skipped"))
                    continue;
                const char *val = json_string_value(json_object_get(fj, "value"));
                printf("  %-26s %-9s %s\n", json_string_value(json_object_get(fj, "id")), res,
                       val ? val : "");
            }
            if (have_rspf)
                printf("header: %s\n", str_cstr(&rspf));
        }
        str_free(&rspf);
    }
    json_decref(findings);
    json_decref(per_rcpt);
    txn_free(t);
    dns_resolver_free(dns);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    config_free(cfg);
out:
    free(rcpts);
    cli_common_free(&c);
    return rc;
}
