/*
 * cmd_spf: `mailblock spf`: evaluates SPF (RFC 7208) for one client IP and one identity and
 * explains the result, or (--check-record) lists the problems of a published record.
 * Every peer-derived string (records, names, explanations, terms) is escaped with
 * log_escape() before it is printed, in text and in JSON alike.
 *
 * Exit statuses. Evaluation: 0 whenever a result was computed, whatever it is (the result is
 * the output; temperror included), 64 usage, 65 bad input (an address that does not parse, a
 * zone file that does not load), 69 the resolver could not be set up, 70 internal error.
 * --check-record: 0 no problem found, 65 problems found, 69 no problem found but a temporary
 * DNS failure left part of the tree unchecked; 64 and 70 as above.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "auth/spf_lint.h"
#include "cli/cli.h"
#include "dns/dns.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

/* Most octets of one peer value shown (a TXT record may be far longer than any SPF record
 * should be; show it whole up to this). */
#define SHOW_MAX 4096

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mailblock spf --ip IP --sender ADDR [--helo NAME] [--receiver NAME]\n"
            "                     [--helo-identity] [--trace]\n"
            "                     [-c FILE] [-o KEY=VALUE]... [--zone FILE]... [--json]\n"
            "       mailblock spf --check-record DOMAIN [-c FILE] [-o KEY=VALUE]...\n"
            "                     [--zone FILE]... [--json]\n"
            "  Evaluates check_host() (RFC 7208) for the MAIL FROM identity of --sender, or for\n"
            "  the HELO identity with --helo-identity. --sender '' or '<>' is the null sender,\n"
            "  checked as postmaster@HELO (RFC 7208 2.4; needs --helo). --trace prints the\n"
            "  evaluation tree.\n"
            "  --check-record lists the problems of DOMAIN's record without an IP: syntax,\n"
            "  over 10 DNS-querying terms (and where), void lookups, ptr, +all, several\n"
            "  records, a TXT answer over 512 octets, includes without a record, loops.\n"
            "exit (evaluation): 0 a result was computed (any result, the output says which),\n"
            "      64 usage, 65 bad input (IP, zone file), 69 DNS unavailable, 70 internal\n"
            "exit (--check-record): 0 no problem, 65 problems found, 69 DNS failed\n"
            "      temporarily (the check is incomplete), 64 usage\n");
}

static void esc(str_t *out, const char *s, size_t len)
{
    log_escape(out, s, len, SHOW_MAX);
}

/* A JSON string of peer-derived bytes, escaped to printable ASCII; null for NULL. */
static json_t *jesc(const char *s, size_t len)
{
    if (s == NULL) return json_null();
    str_t e = STR_INIT;
    esc(&e, s, len);
    json_t *j = json_stringn(str_cstr(&e), e.len);
    str_free(&e);
    return j;
}

static json_t *jescz(const char *s)
{
    return jesc(s, s ? strlen(s) : 0);
}

/* Prints "  key: value" with the value escaped. */
static void line(const char *key, const char *s, size_t len)
{
    str_t e = STR_INIT;
    esc(&e, s, len);
    printf("  %s: %s\n", key, str_cstr(&e));
    str_free(&e);
}

static void linez(const char *key, const char *s)
{
    line(key, s, strlen(s));
}

static void print_trace(const spf_trace_t *t, int depth)
{
    for (; t != NULL; t = t->next) {
        /* the trace is printable ASCII already (spf.h) */
        printf("%*s%s\n", 2 * depth, "", t->text);
        print_trace(t->child, depth + 1);
    }
}

static json_t *trace_json(const spf_trace_t *t)
{
    json_t *arr = json_array();
    for (; t != NULL; t = t->next) {
        json_t *o = json_pack("{s:s}", "text", t->text);
        if (t->child != NULL) json_object_set_new(o, "children", trace_json(t->child));
        json_array_append_new(arr, o);
    }
    return arr;
}

static void print_result(const spf_evidence_t *ev, const char *ip, bool json, bool trace)
{
    const char *res = spf_result_name(ev->result);
    if (json) {
        json_t *chain = json_array();
        for (size_t i = 0; i < ev->nsteps; i++) {
            const spf_step_t *s = &ev->steps[i];
            json_array_append_new(chain, json_pack("{s:s, s:i, s:o, s:o, s:s}", "type",
                                                   s->redirect ? "redirect" : "include", "depth",
                                                   (int)s->depth, "from", jescz(s->from), "domain",
                                                   jescz(s->domain), "result",
                                                   spf_result_name(s->result)));
        }
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:o}", "result",
            res, "identity", ev->helo_identity ? "helo" : "mailfrom", "ip", ip, "sender",
            jescz(ev->sender), "domain", jescz(ev->domain), "record",
            jesc(ev->record, ev->record_len), "mechanism", jesc(ev->mech, ev->mech_len),
            "mechanism_domain", jescz(ev->mech_domain), "lookups", (int)ev->lookups, "void_lookups",
            (int)ev->voids, "chain", chain, "explanation", jescz(ev->explanation), "reason",
            ev->reason ? json_string(ev->reason) : json_null(), "reason_domain",
            jescz(ev->reason_domain), "reason_term", jesc(ev->reason_term, ev->reason_term_len));
        if (trace) json_object_set_new(o, "trace", trace_json(ev->trace));
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
        return;
    }
    str_t s = STR_INIT;
    if (ev->domain != NULL) esc(&s, ev->domain, strlen(ev->domain));
    printf("%s: %s for %s (%s identity", res, ip, s.len ? str_cstr(&s) : "?",
           ev->helo_identity ? "HELO" : "MAIL FROM");
    str_clear(&s);
    if (ev->sender != NULL) {
        esc(&s, ev->sender, strlen(ev->sender));
        printf(" <%s>", str_cstr(&s));
    }
    printf(")\n");
    str_free(&s);
    if (ev->record != NULL) line("record", ev->record, ev->record_len);
    if (ev->mech != NULL) {
        line("mechanism", ev->mech, ev->mech_len);
        if (ev->mech_domain != NULL) linez("mechanism in", ev->mech_domain);
    } else if (ev->result == SPF_NEUTRAL || ev->result == SPF_PASS || ev->result == SPF_FAIL ||
               ev->result == SPF_SOFTFAIL) {
        printf("  mechanism: none matched\n");
    }
    printf("  lookups: %u of %d, void lookups: %u of %d\n", ev->lookups, SPF_LOOKUP_MAX, ev->voids,
           SPF_VOID_MAX);
    for (size_t i = 0; i < ev->nsteps; i++) {
        const spf_step_t *st = &ev->steps[i];
        str_t a = STR_INIT, b = STR_INIT;
        esc(&a, st->from, strlen(st->from));
        esc(&b, st->domain, strlen(st->domain));
        printf("  %*s%s %s -> %s: %s\n", 2 * (int)(st->depth - 1), "",
               st->redirect ? "redirect" : "include", str_cstr(&a), str_cstr(&b),
               spf_result_name(st->result));
        str_free(&a);
        str_free(&b);
    }
    if (ev->explanation != NULL) linez("explanation", ev->explanation);
    if (ev->reason != NULL) {
        str_t r = STR_INIT;
        str_appendz(&r, ev->reason);
        if (ev->reason_domain != NULL) {
            str_appendz(&r, " (at ");
            esc(&r, ev->reason_domain, strlen(ev->reason_domain));
            str_appendz(&r, ")");
        }
        if (ev->reason_term != NULL) {
            str_appendz(&r, ": \"");
            esc(&r, ev->reason_term, ev->reason_term_len);
            str_appendz(&r, "\"");
        }
        printf("  reason: %s\n", str_cstr(&r));
        str_free(&r);
    }
    if (trace && ev->trace != NULL) {
        printf("trace:\n");
        print_trace(ev->trace, 1);
    }
}

static void print_tree_text(const spf_lint_node_t *n, int depth)
{
    for (; n != NULL; n = n->next) {
        str_t d = STR_INIT;
        esc(&d, n->domain, strlen(n->domain));
        printf("  %*s%s%s%s: %u DNS-querying terms (%u in its own record)\n", 2 * depth, "",
               n->via ? n->via : "", n->via ? " " : "", str_cstr(&d), n->total_lookups,
               n->own_lookups);
        str_free(&d);
        print_tree_text(n->child, depth + 1);
    }
}

static json_t *tree_json(const spf_lint_node_t *n)
{
    json_t *o = json_pack("{s:o, s:o, s:i, s:i}", "domain", jescz(n->domain), "record",
                          jesc(n->record, n->record_len), "lookups", (int)n->total_lookups,
                          "own_lookups", (int)n->own_lookups);
    if (n->via != NULL) json_object_set_new(o, "via", json_string(n->via));
    if (n->child != NULL) {
        json_t *arr = json_array();
        for (const spf_lint_node_t *c = n->child; c != NULL; c = c->next)
            json_array_append_new(arr, tree_json(c));
        json_object_set_new(o, "children", arr);
    }
    return o;
}

static int check_record(uv_loop_t *loop, dns_resolver_t *dns, const char *domain, bool json)
{
    spf_lint_t *l = spf_lint_run(loop, dns, domain);
    size_t n = spf_lint_count(l);
    size_t definite = 0;
    for (size_t i = 0; i < n; i++)
        if (spf_lint_problem(l, i)->kind != SPF_LINT_DNS) definite++;
    const spf_lint_node_t *tree = spf_lint_tree(l);
    const char *over = spf_lint_over_path(l);
    if (json) {
        json_t *probs = json_array();
        for (size_t i = 0; i < n; i++) {
            const spf_lint_problem_t *p = spf_lint_problem(l, i);
            json_t *o =
                json_pack("{s:s, s:o, s:o, s:s}", "kind", spf_lint_kind_name(p->kind), "domain",
                          jescz(p->domain), "term", jesc(p->term, p->term_len), "why", p->why);
            if (p->kind == SPF_LINT_LOOKUPS) {
                json_object_set_new(o, "count", json_integer((json_int_t)p->value));
                json_object_set_new(o, "path", jescz(over));
            } else if (p->kind == SPF_LINT_TOO_LONG) {
                json_object_set_new(o, "size", json_integer((json_int_t)p->value));
            } else if (p->kind == SPF_LINT_MULTIPLE) {
                json_object_set_new(o, "count", json_integer((json_int_t)p->value));
            }
            json_array_append_new(probs, o);
        }
        json_t *o = json_pack("{s:o, s:b, s:i, s:b, s:o}", "domain", jescz(domain), "ok", n == 0,
                              "lookups", (int)spf_lint_lookups(l), "incomplete",
                              spf_lint_incomplete(l), "problems", probs);
        json_object_set_new(o, "tree", tree ? tree_json(tree) : json_null());
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else {
        str_t d = STR_INIT;
        esc(&d, domain, strlen(domain));
        if (n == 0)
            printf("ok: %s: no problem found (%u DNS-querying terms of %d)\n", str_cstr(&d),
                   spf_lint_lookups(l), SPF_LOOKUP_MAX);
        else
            printf("%s: %s: %zu problem%s\n", definite > 0 ? "problems" : "incomplete",
                   str_cstr(&d), n, n == 1 ? "" : "s");
        str_free(&d);
        if (tree != NULL && tree->record != NULL) line("record", tree->record, tree->record_len);
        for (size_t i = 0; i < n; i++) {
            const spf_lint_problem_t *p = spf_lint_problem(l, i);
            str_t s = STR_INIT;
            esc(&s, p->domain, strlen(p->domain));
            str_appendz(&s, ": ");
            str_appendz(&s, p->why);
            if (p->term != NULL) {
                str_appendz(&s, ": \"");
                esc(&s, p->term, p->term_len);
                str_appendz(&s, "\"");
            }
            if (p->kind == SPF_LINT_LOOKUPS) {
                str_appendf(&s, " (%lu in all", p->value);
                if (over != NULL) {
                    str_appendz(&s, "; via ");
                    esc(&s, over, strlen(over));
                }
                str_appendz(&s, ")");
            } else if (p->kind == SPF_LINT_TOO_LONG) {
                str_appendf(&s, " (about %lu octets)", p->value);
            } else if (p->kind == SPF_LINT_MULTIPLE) {
                str_appendf(&s, " (%lu records)", p->value);
            }
            printf("  %-9s %s\n", spf_lint_kind_name(p->kind), str_cstr(&s));
            str_free(&s);
        }
        if (tree != NULL) {
            printf("lookups by record (%u counted in all):\n", spf_lint_lookups(l));
            print_tree_text(tree, 0);
        }
    }
    int rc = definite > 0 ? EXIT_DATAERR : n > 0 ? EXIT_UNAVAILABLE : 0;
    spf_lint_free(l);
    return rc;
}

typedef struct run {
    bool done;
} run_t;

static void on_done(spf_check_t *c, void *arg)
{
    (void)c;
    ((run_t *)arg)->done = true;
}

int cmd_spf(int argc, char **argv)
{
    cli_common_t c = {0};
    const char *ip_s = NULL, *sender = NULL, *helo = NULL, *receiver = NULL, *domain = NULL;
    bool helo_identity = false, trace = false;
    int rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0) goto out;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rc = 0;
            goto out;
        }
        if (!strcmp(a, "--trace")) {
            trace = true;
            continue;
        }
        if (!strcmp(a, "--helo-identity")) {
            helo_identity = true;
            continue;
        }
        const char **dst = !strcmp(a, "--ip")             ? &ip_s
                           : !strcmp(a, "--sender")       ? &sender
                           : !strcmp(a, "--helo")         ? &helo
                           : !strcmp(a, "--receiver")     ? &receiver
                           : !strcmp(a, "--check-record") ? &domain
                                                          : NULL;
        if (dst == NULL) {
            fprintf(stderr, "mailblock spf: unknown option \"%.60s\"\n", a);
            usage(stderr);
            goto out;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mailblock spf: %s needs an argument\n", a);
            goto out;
        }
        *dst = argv[++i];
    }
    ipaddr_t ip;
    memset(&ip, 0, sizeof ip);
    if (domain != NULL) {
        if (ip_s || sender || helo || receiver || helo_identity || trace) {
            fprintf(stderr, "mailblock spf: --check-record takes no --ip, --sender, --helo, "
                            "--receiver, --helo-identity or --trace\n");
            goto out;
        }
        if (domain[0] == '\0' || strlen(domain) > DNS_NAME_MAX + 1) {
            fprintf(stderr, "mailblock spf: --check-record: not a domain name\n");
            rc = EXIT_DATAERR;
            goto out;
        }
    } else {
        if (ip_s == NULL || (sender == NULL && !helo_identity)) {
            fprintf(stderr, "mailblock spf: --ip and --sender (or --helo-identity) are "
                            "required\n");
            usage(stderr);
            goto out;
        }
        bool null_sender = sender == NULL || sender[0] == '\0' || !strcmp(sender, "<>");
        if ((helo_identity || null_sender) && (helo == NULL || helo[0] == '\0')) {
            fprintf(stderr, "mailblock spf: %s needs --helo\n",
                    helo_identity ? "--helo-identity" : "the null sender");
            goto out;
        }
        if (ipaddr_parsez(&ip, ip_s) != 0) {
            fprintf(stderr, "mailblock spf: --ip: not an IP address: \"%.60s\"\n", ip_s);
            rc = EXIT_DATAERR;
            goto out;
        }
    }

    char cerr[512];
    config_t *cfg = cli_load_config(&c, cerr, sizeof cerr);
    if (cfg == NULL) {
        fprintf(stderr, "mailblock spf: %s\n", cerr);
        rc = EXIT_USAGE;
        goto out;
    }
    log_set_level(LOG_LVL_WARN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    dns_resolver_t *dns = cli_open_resolver(&loop, cfg, "spf", &rc);
    if (dns == NULL) {
        config_free(cfg);
        uv_loop_close(&loop);
        goto out;
    }

    if (domain != NULL) {
        rc = check_record(&loop, dns, domain, c.json);
    } else {
        spf_request_t req = {
            .ip = ip,
            .sender = sender,
            .helo = helo,
            .receiver = receiver,
            .helo_identity = helo_identity,
            .trace = trace,
        };
        run_t r = {false};
        spf_check_t *chk = spf_check_start(dns, &req, on_done, &r);
        bool stuck = false;
        while (!spf_check_done(chk)) {
            if (uv_run(&loop, UV_RUN_ONCE) == 0 && !spf_check_done(chk)) {
                stuck = true;
                break;
            }
        }
        if (stuck) {
            fprintf(stderr, "mailblock spf: internal error: the evaluation stopped waiting\n");
            rc = EXIT_SOFTWARE;
        } else {
            char ipbuf[64];
            ipaddr_format(&ip, ipbuf, sizeof ipbuf);
            print_result(spf_check_evidence(chk), ipbuf, c.json, trace);
            rc = 0;
        }
        spf_check_free(chk);
    }
    dns_resolver_free(dns);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    config_free(cfg);
out:
    cli_common_free(&c);
    return rc;
}
