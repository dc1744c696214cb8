/*
 * txn: see txn.h. The memo of DNS answers is a short array searched linearly: a
 * transaction asks a few dozen names at most (the limits are in the checks).
 */
#include "check/txn.h"

#include <stdlib.h>
#include <string.h>

#include "check/checks.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

#define TXN_DNS_MAX 128 /* distinct lookups one transaction may make */

typedef struct memo {
    txn_t *t;
    char *name;
    size_t nlen;
    uint16_t type;
    const dns_answer_t *ans; /* referenced; NULL while in flight */
    dns_query_t *q;
} memo_t;

typedef struct op_slot {
    void *op;
    void (*free_fn)(void *op);
    bool held;
} op_slot_t;

typedef struct check_def {
    bool (*fn)(txn_t *t);
    stage_t stage;
    bool per_rcpt;
    finding_id_t first, last; /* the findings it sets */
} check_def_t;

static const check_def_t check_table[] = {
    {check_client_ptr, STAGE_CONNECT, false, F_CLIENT_NO_PTR, F_CLIENT_PTR_LISTED},
    {check_client_dnsbl, STAGE_CONNECT, false, F_CLIENT_DNSBL, F_CLIENT_DNSBL},
    {check_helo, STAGE_HELO, false, F_HELO_MISSING, F_HELO_FORGED_SELF},
    {check_client_tls, STAGE_MAIL, false, F_CLIENT_NO_TLS, F_CLIENT_NO_TLS},
    {check_sender, STAGE_MAIL, false, F_SENDER_SYNTAX, F_SENDER_RHSBL},
    {check_size, STAGE_MAIL, false, F_MESSAGE_TOO_BIG, F_MESSAGE_TOO_BIG},
    {check_rcpt, STAGE_RCPT, true, F_RCPT_SYNTAX, F_RCPT_IP_DOMAIN},
    {check_spf_helo, STAGE_HELO, false, F_SPF_HELO, F_SPF_HELO},
    {check_spf_mailfrom, STAGE_MAIL, false, F_SPF_MAILFROM, F_SPF_MAILFROM},
};
#define NCHECKS (sizeof check_table / sizeof check_table[0])

/* A BADNAME answer for names the resolver refuses to ask. */
static const dns_answer_t badname_answer = {
    .status = DNS_BADNAME, .qname = "", .why = "name cannot be looked up"};

struct txn {
    arena_t *arena;
    const config_t *cfg;
    dns_resolver_t *dns;
    facts_t facts;
    finding_t findings[F_COUNT];
    op_slot_t ops[F_COUNT];
    bool check_done[NCHECKS];
    memo_t *memo[TXN_DNS_MAX];
    size_t nmemo;
    size_t pending;
    bool running; /* inside a round: completions only count down */
    txn_done_fn done;
    void *done_arg;
    const char *ptr_name;
    char client_text[IPADDR_STRLEN];
    bool verbose; /* keep values and evidence of passing checks too */
};

txn_t *txn_new(void)
{
    txn_t *t = xcalloc(1, sizeof *t);
    t->arena = arena_new();
    return t;
}

static void drop_op(txn_t *t, int fid)
{
    op_slot_t *o = &t->ops[fid];
    if (o->op != NULL && o->free_fn != NULL) o->free_fn(o->op);
    if (o->held && t->pending > 0) t->pending--;
    memset(o, 0, sizeof *o);
}

static void drop_ops(txn_t *t)
{
    for (int i = 0; i < F_COUNT; i++)
        if (t->ops[i].op != NULL || t->ops[i].held) drop_op(t, i);
}

static void drop_memo(txn_t *t)
{
    for (size_t i = 0; i < t->nmemo; i++) {
        memo_t *m = t->memo[i];
        if (m->q != NULL) dns_cancel(m->q);
        if (m->ans != NULL && m->ans != &badname_answer) dns_answer_unref(m->ans);
        /* m and its name live in the arena */
    }
    t->nmemo = 0;
    t->pending = 0;
}

void txn_free(txn_t *t)
{
    if (t == NULL) return;
    drop_ops(t);
    drop_memo(t);
    arena_free(t->arena);
    free(t);
}

void txn_set_verbose(txn_t *t, bool on)
{
    t->verbose = on;
}

bool txn_verbose(const txn_t *t)
{
    return t->verbose;
}

void txn_reset(txn_t *t, const config_t *cfg, dns_resolver_t *dns)
{
    drop_ops(t);
    drop_memo(t);
    arena_reset(t->arena);
    t->cfg = cfg;
    t->dns = dns;
    memset(&t->facts, 0, sizeof t->facts);
    memset(t->findings, 0, sizeof t->findings);
    memset(t->check_done, 0, sizeof t->check_done);
    t->done = NULL;
    t->done_arg = NULL;
    t->ptr_name = NULL;
    t->client_text[0] = '\0';
    t->running = false;
}

/* Check i runs again: its findings and the work they hold are dropped. */
static void forget_check(txn_t *t, size_t i)
{
    t->check_done[i] = false;
    for (int f = check_table[i].first; f <= (int)check_table[i].last; f++) {
        drop_op(t, f);
        memset(&t->findings[f], 0, sizeof t->findings[f]);
    }
}

void txn_reset_rcpt(txn_t *t)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (check_table[i].per_rcpt) forget_check(t, i);
}

void txn_rerun(txn_t *t, finding_id_t fid)
{
    for (size_t i = 0; i < NCHECKS; i++)
        if (fid >= check_table[i].first && fid <= check_table[i].last) forget_check(t, i);
}

void *txn_op(const txn_t *t, finding_id_t fid)
{
    return t->ops[fid].op;
}

void txn_set_op(txn_t *t, finding_id_t fid, void *op, void (*free_fn)(void *op))
{
    if (t->ops[fid].op != NULL || t->ops[fid].held)
        msg_panic("txn_set_op: slot %d is in use", (int)fid);
    t->ops[fid].op = op;
    t->ops[fid].free_fn = free_fn;
}

void txn_hold(txn_t *t, finding_id_t fid)
{
    if (t->ops[fid].held) msg_panic("txn_hold: slot %d held twice", (int)fid);
    t->ops[fid].held = true;
    t->pending++;
}

static void run_rounds(txn_t *t);

void txn_release(txn_t *t, finding_id_t fid)
{
    if (!t->ops[fid].held) msg_panic("txn_release: slot %d not held", (int)fid);
    t->ops[fid].held = false;
    if (--t->pending == 0 && !t->running) run_rounds(t);
}

facts_t *txn_facts(txn_t *t)
{
    return &t->facts;
}

arena_t *txn_arena(txn_t *t)
{
    return t->arena;
}

const config_t *txn_config(const txn_t *t)
{
    return t->cfg;
}

dns_resolver_t *txn_dns_resolver(const txn_t *t)
{
    return t->dns;
}

const finding_t *txn_finding(const txn_t *t, finding_id_t fid)
{
    return &t->findings[fid];
}

const char *txn_client_text(txn_t *t)
{
    if (t->client_text[0] == '\0' && t->facts.have_client)
        ipaddr_format(&t->facts.client_ip, t->client_text, sizeof t->client_text);
    return t->client_text;
}

const char *txn_ptr_name(const txn_t *t)
{
    return t->ptr_name;
}

void txn_set_ptr_name(txn_t *t, const char *name)
{
    t->ptr_name = name != NULL ? arena_strdup(t->arena, name) : NULL;
}

bool txn_wanted(const txn_t *t, finding_id_t fid)
{
    if (t->cfg->action[fid] != ACTION_IGNORE) return true;
    for (size_t i = 0; i < t->cfg->noverrides; i++) {
        int a = t->cfg->overrides[i].action[fid];
        if (a >= 0 && a != ACTION_IGNORE) return true;
    }
    return false;
}

finding_t *txn_set(txn_t *t, finding_id_t fid, result_t r, const char *shown)
{
    finding_t *f = &t->findings[fid];
    f->done = true;
    f->result = r;
    f->ev = f->ev_tail = NULL; /* a new result starts its evidence afresh */
    /* Kept raw (bounded); escaped where it is shown (reply, log, JSON), so that passing
     * checks cost no escaping. */
    if (!t->verbose && (r == RES_PASS || r == RES_SKIPPED))
        shown = NULL; /* nobody shows a passing check's value: save the copy */
    f->shown = shown != NULL ? arena_strndup(t->arena, shown, strnlen(shown, TXN_SHOWN_MAX)) : NULL;
    return f;
}

void txn_evidence(txn_t *t, finding_id_t fid, const char *key, const char *value, size_t len)
{
    finding_t *f = &t->findings[fid];
    if (!t->verbose && f->done && (f->result == RES_PASS || f->result == RES_SKIPPED)) return;
    evidence_t *e = arena_alloc(t->arena, sizeof *e);
    e->key = key;
    e->value = arena_strndup(t->arena, value, len < TXN_EVIDENCE_MAX ? len : TXN_EVIDENCE_MAX);
    e->len = len < TXN_EVIDENCE_MAX ? len : TXN_EVIDENCE_MAX;
    e->next = NULL;
    if (f->ev_tail != NULL)
        f->ev_tail->next = e;
    else
        f->ev = e;
    f->ev_tail = e;
}

void txn_evidencez(txn_t *t, finding_id_t fid, const char *key, const char *value)
{
    txn_evidence(t, fid, key, value, strlen(value));
}

static void on_answer(const dns_answer_t *ans, void *arg)
{
    memo_t *m = arg;
    txn_t *t = m->t;
    m->q = NULL;
    dns_answer_ref(ans);
    m->ans = ans;
    if (--t->pending == 0 && !t->running) run_rounds(t);
}

const dns_answer_t *txn_dns(txn_t *t, const char *name, uint16_t type)
{
    size_t nlen = strlen(name);
    if (nlen > 0 && name[nlen - 1] == '.') nlen--;
    for (size_t i = 0; i < t->nmemo; i++) {
        memo_t *m = t->memo[i];
        if (m->type == type && m->nlen == nlen && mem_ieq(m->name, nlen, name, nlen)) return m->ans;
    }
    if (t->nmemo == TXN_DNS_MAX) {
        msg_warn("transaction asked more than %d DNS names; treating %s as unanswerable",
                 TXN_DNS_MAX, dns_type_name(type));
        return &badname_answer;
    }
    /* the entry and its name in one allocation (nlen < strlen(name) + 1, no overflow) */
    memo_t *m = arena_alloc(t->arena, sizeof *m + nlen + 1);
    memset(m, 0, sizeof *m);
    m->t = t;
    m->name = (char *)(m + 1);
    memcpy(m->name, name, nlen);
    m->name[nlen] = '\0';
    m->nlen = nlen;
    m->type = type;
    t->memo[t->nmemo++] = m;
    const dns_answer_t *c = dns_cached(t->dns, m->name, type);
    if (c != NULL) {
        dns_answer_ref(c);
        m->ans = c;
        return c;
    }
    if (dns_query(t->dns, m->name, type, on_answer, m, &m->q) != 0) {
        m->q = NULL;
        m->ans = &badname_answer;
        return m->ans;
    }
    t->pending++;
    return NULL;
}

static bool wanted_range(const txn_t *t, finding_id_t first, finding_id_t last)
{
    for (int f = first; f <= (int)last; f++)
        if (txn_wanted(t, (finding_id_t)f)) return true;
    return false;
}

/* One or more rounds; returns true when every runnable check has finished. */
static bool round_all(txn_t *t)
{
    bool all = true;
    t->running = true;
    for (;;) {
        bool progress = false;
        all = true;
        for (size_t i = 0; i < NCHECKS; i++) {
            const check_def_t *c = &check_table[i];
            if (t->check_done[i] || t->facts.stage < c->stage) continue;
            if (!wanted_range(t, c->first, c->last)) {
                t->check_done[i] = true;
                continue;
            }
            if (c->fn(t)) {
                t->check_done[i] = true;
                progress = true;
            } else {
                all = false;
            }
        }
        if (all || t->pending > 0 || !progress) break;
    }
    t->running = false;
    if (!all && t->pending == 0)
        msg_panic("a check is pending without a DNS query or held work in flight");
    return all;
}

static void run_rounds(txn_t *t)
{
    if (round_all(t)) {
        txn_done_fn done = t->done;
        t->done = NULL;
        if (done != NULL) done(t, t->done_arg);
    }
}

bool txn_run(txn_t *t, txn_done_fn done, void *arg)
{
    t->done = done;
    t->done_arg = arg;
    if (round_all(t)) {
        t->done = NULL;
        return true;
    }
    return false;
}

void txn_cancel(txn_t *t)
{
    t->done = NULL;
    drop_ops(t);
    for (size_t i = 0; i < t->nmemo; i++) {
        memo_t *m = t->memo[i];
        if (m->q != NULL) {
            dns_cancel(m->q);
            m->q = NULL;
            m->ans = &badname_answer;
        }
    }
    t->pending = 0;
}
