/*
 * check_spf: spf.helo and spf.mailfrom, the RFC 7208 results of the HELO and MAIL FROM
 * identities (sections 2.3 and 2.4), through the evaluator in auth/spf.
 *
 * The evaluator runs its own lookups over the resolver (its cache is shared with every other
 * check), so a check starts it once, holds the transaction while it runs, and reads the
 * result when the evaluator's completion releases the transaction. What a reply, a log line,
 * `mailblock check` and the Received-SPF header need is copied into the transaction's arena
 * and the evaluator is freed at once.
 *
 * spf.helo is skipped without a HELO name; spf.mailfrom checks postmaster@HELO for the null
 * sender (2.4), which the evaluator does. Both are skipped without a client address.
 */
#include <stdio.h>
#include <string.h>

#include "auth/spf.h"
#include "check/checks.h"
#include "util/log.h"
#include "util/str.h"

#define SPF_SHOWN_MAX 200 /* bytes of the explanation (exp=) put in the shown value */

typedef struct spf_op {
    txn_t *t;
    finding_id_t fid;
    spf_check_t *chk;  /* NULL once the result is recorded */
    spf_summary_t sum; /* strings in the txn's arena */
} spf_op_t;

static void op_free(void *p)
{
    spf_op_t *o = p;
    spf_check_free(o->chk);
    o->chk = NULL;
}

static void on_done(spf_check_t *c, void *arg)
{
    (void)c;
    spf_op_t *o = arg;
    txn_release(o->t, o->fid);
}

static result_t map_result(spf_result_t r)
{
    switch (r) {
    case SPF_PASS:
        return RES_PASS;
    case SPF_FAIL:
        return RES_FAIL;
    case SPF_SOFTFAIL:
        return RES_SOFTFAIL;
    case SPF_NEUTRAL:
        return RES_NEUTRAL;
    case SPF_NONE:
        return RES_NONE;
    case SPF_TEMPERROR:
        return RES_TEMPERROR;
    case SPF_PERMERROR:
        return RES_PERMERROR;
    }
    return RES_PERMERROR;
}

static const char *dupn(txn_t *t, const char *s, size_t len, size_t max)
{
    if (s == NULL) return NULL;
    return arena_strndup(txn_arena(t), s, len < max ? len : max);
}

/* Records the result and its evidence, then frees the evaluator. */
static void record(spf_op_t *o)
{
    txn_t *t = o->t;
    const spf_evidence_t *ev = spf_check_evidence(o->chk);
    result_t r = map_result(ev->result);
    spf_summary_t *s = &o->sum;
    s->result = r;
    s->domain = dupn(t, ev->domain, strlen(ev->domain), SPF_DOMAIN_MAX);
    s->sender = dupn(t, ev->sender, strlen(ev->sender), SPF_MACRO_VALUE_MAX);
    s->mech = dupn(t, ev->mech, ev->mech_len, TXN_EVIDENCE_MAX);
    s->problem = ev->reason;

    /* Nobody shows the value or the evidence of a pass, or of a result the configuration
     * ignores (a gate decision only shows what it acts on or warns about): record the result
     * alone; the summary above is what the Received-SPF header needs. */
    if (!txn_verbose(t) &&
        (r == RES_PASS ||
         (r != RES_FAIL && txn_config(t)->noverrides == 0 &&
          config_result_action(txn_config(t), o->fid, r, NULL, 0) == ACTION_IGNORE))) {
        txn_set(t, o->fid, r, NULL);
        spf_check_free(o->chk);
        o->chk = NULL;
        return;
    }

    /* The shown value: "example.com: fail for 192.0.2.1 by -all: exp text", or
     * "example.com: permerror, <why>" */
    str_t v = STR_INIT;
    str_append(&v, ev->domain, strlen(ev->domain));
    str_appendz(&v, ": ");
    str_appendz(&v, spf_result_name(ev->result));
    if (r == RES_FAIL || r == RES_SOFTFAIL || r == RES_NEUTRAL) {
        str_appendz(&v, " for ");
        str_appendz(&v, txn_client_text(t));
    }
    if (ev->mech != NULL) {
        str_appendz(&v, " by ");
        str_append(&v, ev->mech, ev->mech_len);
    } else if (ev->reason != NULL) {
        str_appendz(&v, ", ");
        str_appendz(&v, ev->reason);
    }
    if (r == RES_FAIL && ev->explanation != NULL) {
        /* RFC 7208 8.4: the domain's explanation belongs in the rejection */
        size_t el = strlen(ev->explanation);
        str_appendz(&v, ": ");
        str_append(&v, ev->explanation, el < SPF_SHOWN_MAX ? el : SPF_SHOWN_MAX);
    }
    txn_set(t, o->fid, r, str_cstr(&v));
    str_free(&v);

    finding_id_t f = o->fid;
    txn_evidencez(t, f, "identity", ev->helo_identity ? "helo" : "mailfrom");
    txn_evidencez(t, f, "sender", ev->sender);
    txn_evidencez(t, f, "domain", ev->domain);
    if (ev->record != NULL) txn_evidence(t, f, "record", ev->record, ev->record_len);
    if (ev->mech != NULL) {
        txn_evidence(t, f, "mechanism", ev->mech, ev->mech_len);
        if (ev->mech_domain != NULL) txn_evidencez(t, f, "mechanism_domain", ev->mech_domain);
    }
    for (size_t i = 0; i < ev->nsteps; i++) {
        const spf_step_t *st = &ev->steps[i];
        char line[SPF_DOMAIN_MAX * 2 + 64];
        snprintf(line, sizeof line, "%s %s:%s -> %s", st->from,
                 st->redirect ? "redirect=" : "include", st->domain, spf_result_name(st->result));
        txn_evidencez(t, f, "step", line);
    }
    char num[24];
    txn_evidencez(t, f, "lookups", fmt_ull(num, ev->lookups));
    txn_evidencez(t, f, "void_lookups", fmt_ull(num, ev->voids));
    if (ev->explanation != NULL) txn_evidencez(t, f, "explanation", ev->explanation);
    if (ev->reason != NULL) txn_evidencez(t, f, "reason", ev->reason);
    if (ev->reason_term != NULL) txn_evidence(t, f, "term", ev->reason_term, ev->reason_term_len);

    spf_check_free(o->chk);
    o->chk = NULL;
}

static bool run(txn_t *t, finding_id_t fid, bool helo_identity)
{
    spf_op_t *o = txn_op(t, fid);
    if (o != NULL) {
        if (o->chk == NULL) return true;
        if (!spf_check_done(o->chk))
            return false; /* held: the completion releases the transaction */
        record(o);
        return true;
    }
    const facts_t *f = txn_facts(t);
    if (!f->have_client || (helo_identity && !f->helo_given)) {
        txn_set(t, fid, RES_SKIPPED, NULL);
        return true;
    }
    o = arena_calloc(txn_arena(t), 1, sizeof *o);
    o->t = t;
    o->fid = fid;
    o->sum.result = RES_SKIPPED;
    txn_set_op(t, fid, o, op_free);
    const config_t *c = txn_config(t);
    spf_request_t req = {
        .ip = f->client_ip,
        .sender = helo_identity ? NULL : arena_strndup(txn_arena(t), f->sender, f->sender_len),
        .helo = f->helo_given ? arena_strndup(txn_arena(t), f->helo, f->helo_len) : NULL,
        .receiver = c->myhostname,
        .helo_identity = helo_identity,
    };
    o->chk = spf_check_start(txn_dns_resolver(t), &req, on_done, o);
    if (spf_check_done(o->chk)) {
        record(o);
        return true;
    }
    txn_hold(t, fid);
    return false;
}

bool check_spf_helo(txn_t *t)
{
    return run(t, F_SPF_HELO, true);
}

bool check_spf_mailfrom(txn_t *t)
{
    return run(t, F_SPF_MAILFROM, false);
}

const spf_summary_t *check_spf_summary(const txn_t *t, finding_id_t fid)
{
    const spf_op_t *o = txn_op(t, fid);
    const finding_t *f = txn_finding(t, fid);
    if (o == NULL || o->chk != NULL || !f->done) return NULL;
    return &o->sum;
}
