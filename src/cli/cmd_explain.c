/*
 * cmd_explain: `mailblock explain [--json] [--batch] [--check] [--text TEXT] [FILE|DIR|-]...`.
 *
 * One input (a file, standard input, or --text): an SMTP reply, an MTA log line or a whole
 * bounce message, detected automatically; prints one result per failed recipient. --batch:
 * every FILE is an mbox, a single message or a mail log (each line that reports a failure
 * or a rejection is one input), every DIR a maildir; one result object per
 * message, then a summary by provider and by reason. --check runs the checks the
 * identities found in the bounce allow (the sending IP's reverse DNS and listings, the HELO
 * name, the sender domain and its SPF for that IP), live or with --zone, and prints what
 * still fails. When the configuration names no DNS blocklist, the public lists the bounce
 * names (Spamhaus, SpamCop, Barracuda, ...) are asked.
 *
 * Peer text is printed through out_text(): valid UTF-8 is kept, control bytes and invalid
 * sequences are escaped, so neither a terminal nor a JSON parser sees raw bytes.
 *
 * One input is one message: a directory or an mbox of several messages without --batch is a
 * usage error that says so.
 *
 * Exit status: 0 explained (also a message that is not a bounce), 64 usage, 65 an input that
 * holds no reply and no message, or cannot be read; 69 --check could not open the resolver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <uv.h>

#include "check/txn.h"
#include "cli/cli.h"
#include "explain/classify.h"
#include "explain/explain.h"
#include "explain/mailbox.h"
#include "policy/policy.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

#define EXPLAIN_TEXT_SHOWN 2000 /* bytes of a reply text printed */

static void usage(FILE *f)
{
    fprintf(f, "usage: mailblock explain [--json] [--check] [--zone FILE]... [-c FILE] "
               "[-o key=value]... [--text TEXT | FILE | -]\n"
               "       mailblock explain --batch [--json] [--check] [FILE|DIR|-]...\n"
               "Reads an SMTP reply, an MTA log line or a bounce message and says which check\n"
               "blocked the mail, why, and how to fix it. --batch reads mbox files and maildirs.\n");
}

/* Appends s[0..len) for output: valid UTF-8 kept, other bytes and controls as \xNN, cut
 * at max bytes of input. Bytes kept as they are go out in runs, one append per run. */
static void out_text(str_t *out, const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    bool cut = len > max;
    if (cut)
        len = max;
    size_t run = 0; /* start of the bytes kept as they are, not yet appended */
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t n = c < 0x80 ? 1 : utf8_seq(p + i, len - i, NULL);
        if (n == 1 && c == '\\') {
            str_append(out, s + run, i - run);
            str_append(out, "\\\\", 2);
            run = ++i;
        } else if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
            str_append(out, s + run, i - run);
            char hex[5];
            snprintf(hex, sizeof hex, "\\x%02X", c);
            str_append(out, hex, 4);
            run = ++i;
        } else {
            i += n;
        }
    }
    str_append(out, s + run, len - run);
    if (cut)
        str_appendz(out, "...");
}

static json_t *jtext(const char *s)
{
    if (s == NULL)
        return json_null();
    str_t e = STR_INIT;
    out_text(&e, s, strlen(s), EXPLAIN_TEXT_SHOWN);
    json_t *j = json_stringn(str_cstr(&e), e.len);
    str_free(&e);
    return j != NULL ? j : json_null();
}

static json_t *jown(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static const char *input_name(ex_input_t in)
{
    return in == EX_INPUT_REPLY ? "reply" : in == EX_INPUT_LOG ? "log" : "message";
}

/* ---- --check ---- */

typedef struct checker {
    uv_loop_t loop;
    config_t *cfg;
    dns_resolver_t *dns;
    txn_t *txn;
    const cli_common_t *common; /* to load a variant with the blocklists a bounce names */
    config_t *variant;          /* the last variant loaded, for the zones in variant_sites */
    char variant_sites[512];
} checker_t;

/* A configuration for this report: the loaded one, or, when it names no DNS blocklist and
 * the bounce names lists with a public zone, the same with those lists (loaded once for a
 * set of zones while reports keep naming it; ck->variant, freed with the checker). */
static config_t *check_config(checker_t *ck, const ex_report_t *rep)
{
    if (ck->cfg->ndnsbl_sites > 0)
        return ck->cfg;
    char sites[512] = "";
    size_t n = 0;
    for (size_t i = 0; i < rep->nresults; i++) {
        const char *zone = classify_blocklist_zone(rep->results[i].blocklist);
        if (zone == NULL || strstr(sites, zone) != NULL)
            continue;
        size_t used = strlen(sites);
        snprintf(sites + used, sizeof sites - used, "%s%s", n++ > 0 ? ", " : "", zone);
    }
    if (n == 0)
        return ck->cfg;
    if (ck->variant != NULL && strcmp(ck->variant_sites, sites) == 0)
        return ck->variant;
    char setting[600];
    snprintf(setting, sizeof setting, "dnsbl_sites=%s", sites);
    const cli_common_t *c = ck->common;
    const char **ov = xmalloc(xmul(c->noverrides + 1, sizeof *ov));
    for (size_t i = 0; i < c->noverrides; i++)
        ov[i] = c->overrides[i];
    ov[c->noverrides] = setting;
    cli_common_t v = *c;
    v.overrides = ov;
    v.noverrides = c->noverrides + 1;
    char err[512];
    config_t *cfg = cli_load_config(&v, err, sizeof err);
    free(ov);
    if (cfg == NULL)
        return ck->cfg;
    config_free(ck->variant);
    ck->variant = cfg;
    snprintf(ck->variant_sites, sizeof ck->variant_sites, "%s", sites);
    return cfg;
}

/* Is finding fid one a result with this reason or finding points at? */
static bool related(const ex_result_t *r, finding_id_t fid)
{
    const char *id = catalog_get(fid)->id;
    if (r->finding != NULL) {
        size_t g = strcspn(r->finding, ".");
        return strncmp(id, r->finding, g) == 0 && id[g] == '.';
    }
    switch (r->reason) {
    case EX_REQUIREPTR: return strncmp(id, "client.", 7) == 0 && strstr(id, "ptr") != NULL;
    case EX_BLOCKED:
    case EX_BADREPUTATION: return strncmp(id, "client.", 7) == 0 || strncmp(id, "helo.", 5) == 0;
    case EX_AUTHFAILURE: return strncmp(id, "spf.", 4) == 0;
    case EX_REJECTED:
    case EX_HOSTUNKNOWN: return strncmp(id, "sender.", 7) == 0;
    case EX_SYNTAXERROR: return strncmp(id, "helo.", 5) == 0;
    default: return false;
    }
}

/* Runs the checks on the report's identities; adds "check" to jr (JSON) or prints. Returns
 * the number of findings that fail. */
static int run_checks(checker_t *ck, const ex_report_t *rep, json_t *jr, str_t *text)
{
    ipaddr_t ip;
    if (rep->sending_ip == NULL || ipaddr_parsez(&ip, rep->sending_ip) != 0) {
        if (jr != NULL)
            json_object_set_new(jr, "check", json_pack("{s:s}", "skipped",
                                                       "no sending IP address in the input"));
        else
            str_appendz(text, "check: skipped, no sending IP address in the input\n");
        return 0;
    }
    txn_t *t = ck->txn;
    config_t *cfg = check_config(ck, rep);
    txn_reset(t, cfg, ck->dns);
    facts_t *f = txn_facts(t);
    f->have_client = true;
    f->client_ip = ip;
    f->client_addr = rep->sending_ip;
    f->helo_given = rep->helo != NULL;
    f->helo = rep->helo != NULL ? rep->helo : "";
    f->helo_len = strlen(f->helo);
    f->have_sender = true;
    f->sender = rep->sender != NULL ? rep->sender : "";
    f->sender_len = strlen(f->sender);
    f->tls = true; /* unknown: do not report client.no_tls */
    f->stage = STAGE_MAIL;
    cli_run_checks(&ck->loop, t); /* a stuck run reports what finished */
    json_t *arr = jr != NULL ? json_array() : NULL;
    int failing = 0;
    for (int i = 0; i < F_COUNT; i++) {
        const finding_t *fd = txn_finding(t, (finding_id_t)i);
        if (!fd->done || fd->result == RES_PASS || fd->result == RES_SKIPPED)
            continue;
        if (config_result_action(cfg, (finding_id_t)i, fd->result, NULL, 0) == ACTION_IGNORE)
            continue;
        failing++;
        bool rel = false;
        for (size_t k = 0; k < rep->nresults && !rel; k++)
            rel = related(&rep->results[k], (finding_id_t)i);
        if (arr != NULL) {
            json_t *o = json_pack("{s:s, s:s, s:b}", "id", catalog_get((finding_id_t)i)->id,
                                  "result", result_name(fd->result), "related", rel);
            if (fd->shown != NULL)
                json_object_set_new(o, "value", jtext(fd->shown));
            json_array_append_new(arr, o);
        } else {
            str_appendz(text, rel ? "still wrong: " : "also wrong:  ");
            str_appendz(text, catalog_get((finding_id_t)i)->id);
            str_appendc(text, ' ');
            str_appendz(text, result_name(fd->result));
            if (fd->shown != NULL) {
                str_append(text, ": ", 2);
                out_text(text, fd->shown, strlen(fd->shown), EXPLAIN_TEXT_SHOWN);
            }
            str_appendc(text, '\n');
        }
    }
    if (arr != NULL) {
        json_object_set_new(jr, "check", json_pack("{s:s, s:o}", "client", rep->sending_ip,
                                                   "failing", arr));
    } else if (failing == 0) {
        str_appendz(text, "check: every check passes now for ");
        str_appendz(text, rep->sending_ip);
        str_appendc(text, '\n');
    }
    return failing;
}

/* ---- output ---- */

static json_t *report_json(const ex_report_t *rep)
{
    json_t *results = json_array();
    for (size_t i = 0; i < rep->nresults; i++) {
        const ex_result_t *r = &rep->results[i];
        json_t *o = json_object();
        json_object_set_new(o, "recipient", jtext(r->recipient));
        json_object_set_new(o, "reason", json_string(ex_reason_name(r->reason)));
        json_object_set_new(o, "finding", jown(r->finding));
        json_object_set_new(o, "reply_code",
                            r->reply_code > 0 ? json_integer(r->reply_code) : json_null());
        json_object_set_new(o, "status", r->status[0] ? jtext(r->status) : json_null());
        json_object_set_new(o, "text", r->text[0] ? jtext(r->text) : json_null());
        json_object_set_new(o, "remote_mta", jtext(r->remote_mta));
        json_object_set_new(o, "command", jtext(r->command));
        json_object_set_new(o, "action", jown(r->action));
        json_object_set_new(o, "provider", jown(r->provider));
        json_object_set_new(o, "blocklist", jown(r->blocklist));
        json_object_set_new(o, "sending_ip", jtext(rep->sending_ip));
        json_object_set_new(o, "helo", jtext(rep->helo));
        json_object_set_new(o, "sender_domain", jtext(rep->sender_domain));
        json_object_set_new(o, "dkim_domain", jtext(rep->dkim_domain));
        json_object_set_new(o, "dkim_selector", jtext(rep->dkim_selector));
        json_object_set_new(o, "hard", json_boolean(r->hard));
        json_object_set_new(o, "decided_by", json_string(classify_layer_name(r->layer)));
        json_object_set_new(o, "explanation", json_string(explain_explanation(r)));
        json_object_set_new(o, "fix", json_string(explain_fix(r)));
        json_array_append_new(results, o);
    }
    json_t *top = json_pack("{s:s, s:o}", "input", input_name(rep->input), "results", results);
    if (rep->form != NULL && rep->form[0] != '\0')
        json_object_set_new(top, "format", json_string(rep->form));
    if (rep->input == EX_INPUT_MESSAGE)
        json_object_set_new(top, "kind", json_string(bounce_kind_name(rep->kind)));
    if (rep->feedback_type != NULL)
        json_object_set_new(top, "feedback_type", jtext(rep->feedback_type));
    return top;
}

static void line(str_t *t, const char *label, const char *val, bool peer)
{
    if (val == NULL || val[0] == '\0')
        return;
    str_appendz(t, "  ");
    str_appendz(t, label);
    str_appendz(t, ": ");
    if (peer)
        out_text(t, val, strlen(val), EXPLAIN_TEXT_SHOWN);
    else
        str_appendz(t, val);
    str_appendc(t, '\n');
}

static void report_text(const ex_report_t *rep, str_t *t)
{
    if (rep->input == EX_INPUT_MESSAGE && rep->kind == BOUNCE_KIND_NONE) {
        str_appendz(t, "not a bounce: no failed recipient found in this message\n");
        return;
    }
    for (size_t i = 0; i < rep->nresults; i++) {
        const ex_result_t *r = &rep->results[i];
        if (r->recipient != NULL)
            out_text(t, r->recipient, strlen(r->recipient), 320);
        else
            str_appendz(t, "(recipient not stated)");
        str_appendz(t, ": ");
        str_appendz(t, ex_reason_name(r->reason));
        str_appendz(t, r->hard ? " (hard bounce)" : r->reason == EX_DELIVERED ? "" : " (soft)");
        if (r->finding != NULL) {
            str_appendz(t, ", finding ");
            str_appendz(t, r->finding);
        }
        str_appendc(t, '\n');
        if (r->reply_code > 0 || r->status[0] != '\0' || r->text[0] != '\0') {
            str_appendz(t, "  reply: ");
            if (r->reply_code > 0) {
                char code[16];
                snprintf(code, sizeof code, "%d ", r->reply_code);
                str_appendz(t, code);
            }
            if (r->status[0] != '\0') {
                out_text(t, r->status, strlen(r->status), 16);
                str_appendc(t, ' ');
            }
            out_text(t, r->text, strlen(r->text), EXPLAIN_TEXT_SHOWN);
            str_appendc(t, '\n');
        }
        line(t, "remote MTA", r->remote_mta, true);
        line(t, "provider", r->provider, false);
        line(t, "blocklist", r->blocklist, false);
        line(t, "why", explain_explanation(r), false);
        line(t, "fix", explain_fix(r), false);
    }
    line(t, "sending IP", rep->sending_ip, true);
    line(t, "HELO", rep->helo, true);
    line(t, "sender domain", rep->sender_domain, true);
    if (rep->dkim_selector != NULL && rep->dkim_domain != NULL) {
        str_appendz(t, "  DKIM key: ");
        out_text(t, rep->dkim_selector, strlen(rep->dkim_selector), 128);
        str_appendz(t, "._domainkey.");
        out_text(t, rep->dkim_domain, strlen(rep->dkim_domain), 256);
        str_appendc(t, '\n');
    }
    line(t, "feedback type", rep->feedback_type, true);
}

/* ---- batch ---- */

typedef struct summary {
    size_t messages, bounces, not_bounces, errors, results;
    json_t *by_reason;   /* reason -> count */
    json_t *by_provider; /* provider -> {reason -> count} */
} summary_t;

static void count(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer(v != NULL ? json_integer_value(v) + 1 : 1));
}

static void summarise(summary_t *s, const ex_report_t *rep)
{
    if (rep->input == EX_INPUT_MESSAGE && rep->kind == BOUNCE_KIND_NONE) {
        s->not_bounces++;
        return;
    }
    s->bounces++;
    for (size_t i = 0; i < rep->nresults; i++) {
        const ex_result_t *r = &rep->results[i];
        s->results++;
        count(s->by_reason, ex_reason_name(r->reason));
        const char *p = r->provider != NULL ? r->provider : "other";
        json_t *pr = json_object_get(s->by_provider, p);
        if (pr == NULL) {
            pr = json_object();
            json_object_set_new(s->by_provider, p, pr);
        }
        count(pr, ex_reason_name(r->reason));
    }
}

typedef struct run {
    bool json, check, batch;
    checker_t ck;
    summary_t sum;
    arena_t *arena;
    str_t out; /* one JSON report being written, kept between inputs */
    int rc;
} run_t;

/* json_dump_callback sink: appends to a str_t. */
static int dump_to_str(const char *buf, size_t size, void *data)
{
    str_append(data, buf, size);
    return 0;
}

/* Writes o and a line break to stdout with one fwrite: jansson's own file sink writes
 * every token with a separate fwrite. The text is exactly json_dumpf's, even when the dump
 * fails half way. */
static void print_json(run_t *r, const json_t *o, size_t flags)
{
    str_clear(&r->out);
    (void)json_dump_callback(o, dump_to_str, &r->out, flags);
    str_appendc(&r->out, '\n');
    fwrite(r->out.data, 1, r->out.len, stdout);
}

/* Explains one input named source; prints its result. A log line (log_line) that carries no
 * failure is skipped without a word, before it is classified: a mail log is mostly other
 * lines. */
static void one_input(run_t *r, const char *source, const unsigned char *buf, size_t len,
                      bool log_line)
{
    arena_reset(r->arena);
    ex_report_t rep;
    const char *why = NULL;
    int rc;
    if (log_line) {
        if (explain_log_failure(buf, len, r->arena, &rep) != 0)
            return;
        rc = 0;
    } else {
        rc = explain_input(buf, len, r->arena, &rep, &why);
    }
    r->sum.messages++;
    if (rc != 0) {
        r->sum.errors++;
        if (r->json && r->batch) {
            json_t *o = json_pack("{s:s, s:s}", "source", source, "error", why);
            json_dumpf(o, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(o);
        } else {
            fprintf(stderr, "mailblock explain: %s: %s\n", source, why);
        }
        if (!r->batch)
            r->rc = EXIT_DATAERR;
        return;
    }
    summarise(&r->sum, &rep);
    if (r->json) {
        json_t *o = report_json(&rep);
        if (r->batch)
            json_object_set_new(o, "source", json_string(source));
        if (r->check)
            run_checks(&r->ck, &rep, o, NULL);
        print_json(r, o, r->batch ? JSON_COMPACT : JSON_INDENT(2));
        json_decref(o);
    } else {
        str_t t = STR_INIT;
        if (r->batch) {
            str_appendz(&t, "== ");
            out_text(&t, source, strlen(source), 1024);
            str_appendc(&t, '\n');
        }
        report_text(&rep, &t);
        if (r->check)
            run_checks(&r->ck, &rep, NULL, &t);
        fwrite(t.data, 1, t.len, stdout);
        str_free(&t);
    }
}

static void one(run_t *r, const char *source, const unsigned char *buf, size_t len)
{
    one_input(r, source, buf, len, false);
}

/* A mail log (not a message, not an mbox): every line that reports a failed or deferred
 * delivery or a rejection is one input, named FILE:LINE. */
static void batch_log(run_t *r, const char *path, const unsigned char *buf, size_t len)
{
    size_t lineno = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - (buf + i)) : len - i;
        lineno++;
        if (n > 0) {
            char source[MAILBOX_PATH_MAX + 32];
            snprintf(source, sizeof source, "%s:%zu", path, lineno);
            one_input(r, source, buf + i, n, true);
        }
        i += n + 1;
    }
}

/* How many messages an mbox buffer holds (mbox_split's count; -1 on its errors). */
static long count_messages(const unsigned char *buf, size_t len)
{
    arena_t *a = arena_new();
    mbox_msg_t *msgs = NULL;
    const char *err = NULL;
    long n = mbox_split(buf, len, a, &msgs, &err);
    arena_free(a);
    return n;
}

/* A file: an mbox (several messages) or one message; in batch mode every message. */
static void batch_file(run_t *r, const char *path)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    const char *err = NULL;
    if (mailbox_read_file(path, &buf, &len, &err) != 0) {
        fprintf(stderr, "mailblock explain: %s: %s\n", path, err);
        r->sum.errors++;
        r->rc = EXIT_DATAERR;
        return;
    }
    if (!(len >= 5 && memcmp(buf, "From ", 5) == 0) && !explain_is_message(buf, len)) {
        batch_log(r, path, buf, len);
        free(buf);
        return;
    }
    arena_t *split = arena_new();
    mbox_msg_t *msgs = NULL;
    long n = mbox_split(buf, len, split, &msgs, &err);
    if (n < 0) {
        fprintf(stderr, "mailblock explain: %s: %s\n", path, err);
        r->sum.errors++;
        r->rc = EXIT_DATAERR;
    }
    for (long i = 0; i < n; i++) {
        char source[MAILBOX_PATH_MAX + 32];
        if (n > 1)
            snprintf(source, sizeof source, "%s#%ld", path, i + 1);
        else
            snprintf(source, sizeof source, "%s", path);
        one(r, source, msgs[i].data, msgs[i].len);
    }
    arena_free(split);
    free(buf);
}

static void batch_path(run_t *r, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        arena_t *a = arena_new();
        const char **paths = NULL;
        const char *err = NULL;
        long n = maildir_list(path, a, &paths, &err);
        if (n < 0) {
            fprintf(stderr, "mailblock explain: %s: %s\n", path, err);
            r->sum.errors++;
            r->rc = EXIT_DATAERR;
        }
        for (long i = 0; i < n; i++)
            batch_file(r, paths[i]);
        arena_free(a);
        return;
    }
    batch_file(r, path);
}

int cmd_explain(int argc, char **argv)
{
    cli_common_t c = {0};
    run_t r = {0};
    const char *text = NULL;
    const char **paths = NULL;
    size_t npaths = 0;
    int rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        int k = cli_common_option(&c, argc, argv, &i);
        if (k < 0)
            goto out;
        if (k > 0)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--batch")) {
            r.batch = true;
        } else if (!strcmp(a, "--check")) {
            r.check = true;
        } else if (!strcmp(a, "--text")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mailblock explain: --text needs an argument\n");
                goto out;
            }
            text = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "mailblock explain: unknown option \"%.60s\"\n", a);
            usage(stderr);
            goto out;
        } else {
            paths = xrealloc(paths, xmul(npaths + 1, sizeof *paths));
            paths[npaths++] = a;
        }
    }
    if (text != NULL && (npaths > 0 || r.batch)) {
        fprintf(stderr, "mailblock explain: --text takes no files and no --batch\n");
        goto out;
    }
    if (!r.batch && npaths > 1) {
        fprintf(stderr, "mailblock explain: one input at a time; use --batch for several\n");
        goto out;
    }
    r.json = c.json;
    r.arena = arena_new();
    r.sum.by_reason = json_object();
    r.sum.by_provider = json_object();
    rc = 0;
    if (r.check) {
        char cerr[512];
        r.ck.cfg = cli_load_config(&c, cerr, sizeof cerr);
        if (r.ck.cfg == NULL) {
            fprintf(stderr, "mailblock explain: %s\n", cerr);
            rc = EXIT_USAGE;
            goto done;
        }
        log_set_level(LOG_LVL_WARN);
        uv_loop_init(&r.ck.loop);
        r.ck.dns = cli_open_resolver(&r.ck.loop, r.ck.cfg, "explain", &rc);
        if (r.ck.dns == NULL) {
            config_free(r.ck.cfg);
            r.ck.cfg = NULL;
            uv_loop_close(&r.ck.loop);
            goto done;
        }
        r.ck.txn = txn_new();
        r.ck.common = &c;
        txn_set_verbose(r.ck.txn, true);
    }
    if (text != NULL) {
        one(&r, "--text", (const unsigned char *)text, strlen(text));
    } else if (!r.batch) {
        const char *path = npaths > 0 ? paths[0] : "-";
        unsigned char *buf = NULL;
        size_t len = 0;
        const char *err = NULL;
        struct stat st;
        long nmsg = 0;
        if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            fprintf(stderr, "mailblock explain: %s is a directory (a maildir?): use --batch\n",
                    path);
            r.rc = EXIT_USAGE;
        } else if (mailbox_read_file(path, &buf, &len, &err) != 0) {
            fprintf(stderr, "mailblock explain: %s: %s\n", path, err);
            r.rc = EXIT_DATAERR;
        } else if (len > 5 && memcmp(buf, "From ", 5) == 0 &&
                   (nmsg = count_messages(buf, len)) > 1) {
            /* one input at a time: an mbox of several messages is a batch */
            fprintf(stderr, "mailblock explain: %s holds %ld messages: use --batch\n", path,
                    nmsg);
            r.rc = EXIT_USAGE;
            free(buf);
        } else {
            one(&r, path, buf, len);
            free(buf);
        }
    } else {
        if (npaths == 0)
            batch_path(&r, "-");
        for (size_t i = 0; i < npaths; i++)
            batch_path(&r, paths[i]);
        if (r.json) {
            json_t *s = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:O, s:O}}", "summary",
                                  "messages", (json_int_t)r.sum.messages, "bounces",
                                  (json_int_t)r.sum.bounces, "not_bounces",
                                  (json_int_t)r.sum.not_bounces, "errors",
                                  (json_int_t)r.sum.errors, "results",
                                  (json_int_t)r.sum.results, "by_reason", r.sum.by_reason,
                                  "by_provider", r.sum.by_provider);
            json_dumpf(s, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(s);
        } else {
            printf("== summary: %zu messages, %zu bounces, %zu not bounces, %zu unreadable, "
                   "%zu results\n",
                   r.sum.messages, r.sum.bounces, r.sum.not_bounces, r.sum.errors,
                   r.sum.results);
            const char *key;
            json_t *v;
            json_object_foreach(r.sum.by_reason, key, v)
                printf("  %-16s %lld\n", key, (long long)json_integer_value(v));
            json_object_foreach(r.sum.by_provider, key, v) {
                printf("  provider %s:", key);
                const char *k2;
                json_t *v2;
                json_object_foreach(v, k2, v2)
                    printf(" %s %lld", k2, (long long)json_integer_value(v2));
                putchar('\n');
            }
        }
    }
    rc = r.rc;
done:
    if (r.ck.txn != NULL)
        txn_free(r.ck.txn);
    if (r.ck.dns != NULL) {
        dns_resolver_free(r.ck.dns);
        uv_run(&r.ck.loop, UV_RUN_DEFAULT);
        uv_loop_close(&r.ck.loop);
    }
    config_free(r.ck.variant);
    config_free(r.ck.cfg);
    str_free(&r.out);
    json_decref(r.sum.by_reason);
    json_decref(r.sum.by_provider);
    arena_free(r.arena);
    bounce_shutdown();
out:
    free(paths);
    cli_common_free(&c);
    return rc;
}
