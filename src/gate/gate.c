/*
 * gate: see gate.h.
 */
#include "gate/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "gate/policy_server.h"
#include "mail/addr.h"
#include "util/log.h"
#include "util/mem.h"

#define GATE_TXN_SLOTS 4096 /* cached transactions (direct-mapped by connection) */
#define GATE_INSTANCE_MAX 64

/* One configuration generation with the resolver it uses. Reference counted: the gate holds
 * one reference, and each request in flight holds one. */
typedef struct gen {
    config_t *cfg;
    dns_resolver_t *dns;
    struct dns_share *share;
    int refs;
} gen_t;

/* A resolver shared by generations whose DNS settings are equal. */
struct dns_share {
    dns_resolver_t *dns;
    int refs;
};

typedef struct slot {
    txn_t *txn;
    gen_t *gen; /* the generation the txn was reset with */
    unsigned long long conn_id;
    char instance[GATE_INSTANCE_MAX + 1];
    bool busy;       /* a request is being decided on it */
    bool spf_header; /* Received-SPF was prepended for this message */
} slot_t;

typedef struct request {
    gate_t *g;
    policy_conn_t *conn;
    slot_t *slot; /* NULL when the txn is private to this request */
    txn_t *txn;
    gen_t *gen;
} request_t;

struct gate {
    uv_loop_t *loop;
    gen_t *gen;
    policy_server_t *server;
    slot_t *slots;
    unsigned long long next_conn_id;
    str_t line;   /* scratch for log lines */
    str_t action; /* scratch for replies */
};

typedef struct conn_data {
    unsigned long long id;
} conn_data_t;

static void gen_unref(gen_t *gen)
{
    if (gen == NULL || --gen->refs > 0) return;
    if (--gen->share->refs == 0) {
        dns_resolver_free(gen->share->dns);
        free(gen->share);
    }
    config_free(gen->cfg);
    free(gen);
}

static bool same_dns(const config_t *a, const config_t *b)
{
#define SAME_V(f, n)                                                                               \
    do {                                                                                           \
        if (a->n != b->n) return false;                                                            \
        for (size_t i = 0; i < a->n; i++)                                                          \
            if (strcmp(a->f[i], b->f[i]) != 0) return false;                                       \
    } while (0)
    SAME_V(dns_forwarders, ndns_forwarders);
    SAME_V(dns_forward_zones, ndns_forward_zones);
    SAME_V(dns_zone_files, ndns_zone_files);
#undef SAME_V
    return a->dns_timeout_ms == b->dns_timeout_ms && a->ndns_zone_files == 0;
}

static gen_t *gen_new(uv_loop_t *loop, config_t *cfg, gen_t *prev, char *err, size_t errlen)
{
    gen_t *gen = xcalloc(1, sizeof *gen);
    gen->cfg = cfg;
    gen->refs = 1;
    if (prev != NULL && same_dns(prev->cfg, cfg)) {
        gen->share = prev->share;
        gen->share->refs++;
    } else {
        dns_options_t o;
        config_dns_options(cfg, &o);
        dns_resolver_t *dns = dns_resolver_new(loop, &o, err, errlen);
        if (dns == NULL) {
            free(gen);
            return NULL;
        }
        gen->share = xcalloc(1, sizeof *gen->share);
        gen->share->dns = dns;
        gen->share->refs = 1;
    }
    gen->dns = gen->share->dns;
    return gen;
}

/* ---- facts from a policy request ---- */


/* v must be a string literal: its length is known at compile time, and a value of another
 * length is passed over without a call */
#define val_is(a, v)                                                                               \
    ((a)->value_len == sizeof(v) - 1 && mem_ieq((a)->value, (a)->value_len, (v), sizeof(v) - 1))

static const char *copy(txn_t *t, const policy_attr_t *a)
{
    return arena_strndup(txn_arena(t), a->value, a->value_len);
}

/* Postfix passes addresses in its internal form (local part unquoted); the checks read
 * the RFC 5321 form, so quote the local part again where the client must have quoted it. */
static const char *external(txn_t *t, const policy_attr_t *a, size_t *len)
{
    size_t size = a->value_len * 2 + 3;
    char *out = arena_alloc(txn_arena(t), size);
    int n = addr_from_internal(a->value, a->value_len, out, size);
    if (n < 0) msg_panic("quoted address does not fit");
    *len = (size_t)n;
    return out;
}

/* The request attributes the gate reads; every other one is ignored (the protocol adds
 * new ones over time). */
enum attr_id {
    A_OTHER,
    A_REQUEST,
    A_PROTOCOL_STATE,
    A_CLIENT_ADDRESS,
    A_CLIENT_NAME,
    A_HELO_NAME,
    A_SENDER,
    A_RECIPIENT,
    A_SASL_USERNAME,
    A_ENCRYPTION_PROTOCOL,
    A_SIZE,
    A_SERVER_ADDRESS,
    A_INSTANCE,
    A_COUNT
};

/* Which one a is. A switch on the name's length passes over most of the 30-odd attributes
 * Postfix sends without comparing a byte (a table scanned for each attribute cost about
 * 2,000 instructions per decision). */
#define NAME_IS(a, lit) ((a)->name_len == sizeof(lit) - 1 && memcmp((a)->name, lit, sizeof(lit) - 1) == 0)
static enum attr_id attr_id(const policy_attr_t *a)
{
    switch (a->name_len) {
    case 4:
        return NAME_IS(a, "size") ? A_SIZE : A_OTHER;
    case 6:
        return NAME_IS(a, "sender") ? A_SENDER : A_OTHER;
    case 7:
        return NAME_IS(a, "request") ? A_REQUEST : A_OTHER;
    case 8:
        return NAME_IS(a, "instance") ? A_INSTANCE : A_OTHER;
    case 9:
        return NAME_IS(a, "helo_name") ? A_HELO_NAME : NAME_IS(a, "recipient") ? A_RECIPIENT : A_OTHER;
    case 11:
        return NAME_IS(a, "client_name") ? A_CLIENT_NAME : A_OTHER;
    case 13:
        return NAME_IS(a, "sasl_username") ? A_SASL_USERNAME : A_OTHER;
    case 14:
        return NAME_IS(a, "protocol_state")   ? A_PROTOCOL_STATE
               : NAME_IS(a, "client_address") ? A_CLIENT_ADDRESS
               : NAME_IS(a, "server_address") ? A_SERVER_ADDRESS
                                              : A_OTHER;
    case 19:
        return NAME_IS(a, "encryption_protocol") ? A_ENCRYPTION_PROTOCOL : A_OTHER;
    default:
        return A_OTHER;
    }
}
#undef NAME_IS

/* The attributes of a request by id, in one pass (the last of a repeated name counts). */
static void index_attrs(const policy_attr_t *attrs, size_t n, const policy_attr_t *by[A_COUNT])
{
    for (size_t i = 0; i < A_COUNT; i++)
        by[i] = NULL;
    for (size_t i = 0; i < n; i++)
        by[attr_id(&attrs[i])] = &attrs[i];
}

/* The stage a protocol_state names; -2 for a state that is no part of a mail transaction
 * (VRFY, ETRN, ...). *eom tells END-OF-MESSAGE from DATA and BDAT. */
static int stage_of(const policy_attr_t *ps, bool *eom)
{
    *eom = false;
    if (val_is(ps, "RCPT"))
        return STAGE_RCPT;
    if (val_is(ps, "MAIL"))
        return STAGE_MAIL;
    if (val_is(ps, "CONNECT"))
        return STAGE_CONNECT;
    if (val_is(ps, "EHLO") || val_is(ps, "HELO"))
        return STAGE_HELO;
    if (val_is(ps, "END-OF-MESSAGE")) {
        *eom = true;
        return STAGE_DATA;
    }
    if (val_is(ps, "DATA") || val_is(ps, "BDAT"))
        return STAGE_DATA;
    return -2;
}

/* The stage of an indexed request (*eom: END-OF-MESSAGE); -1 when it is no mail
 * transaction's (another request type, VRFY, ETRN, ...). */
static int request_stage(const policy_attr_t *const by[A_COUNT], bool *eom)
{
    *eom = false;
    if (by[A_REQUEST] == NULL || !val_is(by[A_REQUEST], "smtpd_access_policy"))
        return -1;
    if (by[A_PROTOCOL_STATE] == NULL)
        return STAGE_RCPT; /* no protocol_state: Postfix before 2.1 only asked at RCPT */
    int stage = stage_of(by[A_PROTOCOL_STATE], eom);
    return stage == -2 ? -1 : stage;
}

/* The facts of an indexed request at a stage request_stage() gave. */
static void facts_from_index(txn_t *t, const policy_attr_t *const by[A_COUNT], stage_t stage,
                             bool eom)
{
    facts_t *f = txn_facts(t);
    const policy_attr_t *a;
    f->end_of_message = eom; /* this request's state alone */
    ipaddr_t ip;
    if ((a = by[A_CLIENT_ADDRESS]) != NULL && ipaddr_parse(&ip, a->value, a->value_len) == 0) {
        f->have_client = true;
        f->client_ip = ip;
        f->client_addr = copy(t, a);
    }
    if ((a = by[A_CLIENT_NAME]) != NULL)
        f->client_name = copy(t, a);
    if ((a = by[A_HELO_NAME]) != NULL) {
        f->helo_given = a->value_len > 0;
        f->helo = copy(t, a);
        f->helo_len = a->value_len;
    }
    if ((a = by[A_SENDER]) != NULL)
        f->sender = external(t, a, &f->sender_len);
    if ((a = by[A_RECIPIENT]) != NULL) {
        f->rcpt = external(t, a, &f->rcpt_len);
        f->have_rcpt = a->value_len > 0;
    }
    if ((a = by[A_SASL_USERNAME]) != NULL)
        f->sasl_user = a->value_len > 0 ? copy(t, a) : NULL;
    if ((a = by[A_ENCRYPTION_PROTOCOL]) != NULL)
        f->tls = a->value_len > 0;
    if ((a = by[A_SIZE]) != NULL) {
        unsigned long long v = 0;
        bool ok = a->value_len > 0 && a->value_len <= 19;
        for (size_t k = 0; ok && k < a->value_len; k++) {
            if (a->value[k] < '0' || a->value[k] > '9')
                ok = false;
            else
                v = v * 10 + (unsigned)(a->value[k] - '0');
        }
        f->have_size = ok && v > 0;
        f->size = v;
    }
    if ((a = by[A_SERVER_ADDRESS]) != NULL)
        f->have_server_ip = ipaddr_parse(&f->server_ip, a->value, a->value_len) == 0;
    if ((a = by[A_INSTANCE]) != NULL)
        f->instance = copy(t, a);
    f->stage = stage;
    /* MAIL FROM is known from MAIL on; an empty sender then is the null sender */
    f->have_sender = stage >= STAGE_MAIL;
    if (f->sender == NULL) {
        f->sender = "";
        f->sender_len = 0;
    }
    if (stage < STAGE_RCPT) f->have_rcpt = false;
}

int gate_facts_from_request(txn_t *t, const policy_attr_t *attrs, size_t n)
{
    const policy_attr_t *by[A_COUNT];
    index_attrs(attrs, n, by);
    bool eom;
    int stage = request_stage(by, &eom);
    if (stage >= 0)
        facts_from_index(t, by, (stage_t)stage, eom);
    return stage;
}

void gate_action(const verdict_t *v, str_t *out)
{
    str_clear(out);
    if (v->action == VERDICT_ACCEPT || v->dry_run) {
        str_appendz(out, "DUNNO");
        return;
    }
    char code[24];
    str_appendz(out, fmt_ull(code, (unsigned long long)v->code));
    str_appendc(out, ' ');
    str_appendz(out, v->enhanced);
    str_appendc(out, ' ');
    str_appendz(out, v->text);
}

/* ---- the request handler ---- */

static void log_decision(gate_t *g, txn_t *t, const verdict_t *v, const char *state,
                         const char *prepended)
{
    str_clear(&g->line);
    str_appendz(&g->line, "decision");
    log_kvz(&g->line, "state", state);
    policy_log_fields(t, v, &g->line);
    if (prepended != NULL) log_kvz(&g->line, "prepend", prepended);
    log_emit(LOG_LVL_INFO, &g->line);
}

static const char *stage_name(stage_t s)
{
    static const char *names[] = {"CONNECT", "HELO", "MAIL", "RCPT", "DATA"};
    return names[s];
}

static void finish(request_t *r)
{
    verdict_t v;
    policy_decide(r->txn, &v);
    /* Received-SPF (RFC 7208 9.1) goes with the first accepting answer of the message, once:
     * Postfix asks once per recipient and would add one header per PREPEND. A private txn
     * (slot collision) cannot know whether its message has one already, so it adds none, and
     * Postfix cannot prepend a header once the content is in (END-OF-MESSAGE). */
    const char *prepended = NULL;
    str_clear(&r->g->action);
    if (r->slot != NULL && !r->slot->spf_header && txn_facts(r->txn)->stage >= STAGE_MAIL &&
        !txn_facts(r->txn)->end_of_message) {
        str_appendz(&r->g->action, "PREPEND ");
        if (policy_received_spf(r->txn, &v, &r->g->action)) {
            r->slot->spf_header = true;
            prepended = "Received-SPF";
        }
    }
    if (prepended == NULL)
        gate_action(&v, &r->g->action); /* clears what the header attempt left */
    log_decision(r->g, r->txn, &v, stage_name(txn_facts(r->txn)->stage), prepended);
    policy_conn_reply(r->conn, r->g->action.data, r->g->action.len);
    if (r->slot != NULL)
        r->slot->busy = false;
    else
        txn_free(r->txn);
}

static void on_checked(txn_t *t, void *arg)
{
    (void)t;
    request_t *r = arg;
    gen_t *gen = r->gen;
    finish(r);
    free(r);
    gen_unref(gen);
}

/*
 * The slot of a connection's transaction. Postfix's smtpd asks over one connection for one
 * SMTP session at a time, and a session's messages follow one another, so a connection has
 * one message in hand: its messages take turns in one slot (the instance and the message's
 * attributes, checked by the caller, tell a new message from the same one). Connection ids
 * are numbered in order, so up to GATE_TXN_SLOTS connections never share a slot, and a new
 * message reuses memory the last one of its connection left warm in the CPU's caches instead
 * of a slot picked at random among all of them.
 */
static unsigned long conn_slot(unsigned long long conn)
{
    return (unsigned long)(conn % GATE_TXN_SLOTS);
}

/* Is the cached txn still about the same message (the same client)? */
static bool same_message(txn_t *t, const policy_attr_t *a)
{
    const facts_t *f = txn_facts(t);
    ipaddr_t ip;
    if (a == NULL || ipaddr_parse(&ip, a->value, a->value_len) != 0) return !f->have_client;
    return f->have_client && ipaddr_equal(&ip, &f->client_ip);
}

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void refresh(txn_t *t, stage_t old_stage, const char *old_helo, size_t old_helo_len,
                    const char *old_sender, size_t old_sender_len)
{
    facts_t *f = txn_facts(t);
    bool helo_changed = !same_bytes(f->helo, f->helo_len, old_helo, old_helo_len);
    bool reached_mail = old_stage < STAGE_MAIL && f->stage >= STAGE_MAIL;
    /* HELO may change (a second EHLO after STARTTLS); "no HELO" is only known at MAIL */
    if (helo_changed || reached_mail)
        txn_rerun(t, F_HELO_MISSING);
    bool sender_changed = !same_bytes(f->sender, f->sender_len, old_sender, old_sender_len);
    if (helo_changed) txn_rerun(t, F_SPF_HELO);
    /* the null sender is checked as postmaster@HELO */
    if (sender_changed || helo_changed) txn_rerun(t, F_SPF_MAILFROM);
    if (sender_changed) {
        txn_rerun(t, F_SENDER_SYNTAX);
        txn_rerun(t, F_MESSAGE_TOO_BIG);
    }
    if (reached_mail) {
        txn_rerun(t, F_CLIENT_NO_TLS);
        txn_rerun(t, F_MESSAGE_TOO_BIG);
    }
    txn_reset_rcpt(t);
}

static void handle(void *ctx, policy_conn_t *conn, const policy_attr_t *attrs, size_t n)
{
    gate_t *g = ctx;
    gen_t *gen = g->gen;
    conn_data_t *cd = policy_conn_get_data(conn);
    if (cd == NULL) {
        cd = xmalloc(sizeof *cd);
        cd->id = ++g->next_conn_id;
        policy_conn_set_data(conn, cd, free);
    }
    /* Requests that are not about a mail transaction (VRFY, ETRN, a foreign request type)
     * are answered before the cached transaction of their instance is touched. */
    const policy_attr_t *by[A_COUNT];
    index_attrs(attrs, n, by);
    const policy_attr_t *req = by[A_REQUEST], *ps = by[A_PROTOCOL_STATE];
    bool eom;
    int stage = request_stage(by, &eom);
    if (stage < 0) {
        str_clear(&g->line);
        str_appendz(&g->line, "decision");
        if (ps != NULL)
            log_kv(&g->line, "state", ps->value, ps->value_len);
        else
            log_kvz(&g->line, "state", "");
        log_kvz(&g->line, "action", "accept");
        log_kvz(&g->line, "why",
                req == NULL || !val_is(req, "smtpd_access_policy")
                    ? "not an smtpd_access_policy request"
                    : "not a mail transaction state");
        const policy_attr_t *ca = by[A_CLIENT_ADDRESS];
        if (ca != NULL) log_kv(&g->line, "client", ca->value, ca->value_len);
        log_emit(LOG_LVL_INFO, &g->line);
        policy_conn_reply(conn, "DUNNO", 5);
        return;
    }
    const policy_attr_t *inst = by[A_INSTANCE];
    const char *iv = inst ? inst->value : "";
    size_t ilen = inst ? inst->value_len : 0;
    if (ilen > GATE_INSTANCE_MAX) ilen = GATE_INSTANCE_MAX;

    slot_t *slot = &g->slots[conn_slot(cd->id)];
    txn_t *t;
    bool fresh = true;
    if (slot->busy) {
        slot = NULL; /* rare collision with a request in flight: decide uncached */
        t = txn_new();
        txn_reset(t, gen->cfg, gen->dns);
    } else {
        if (slot->txn == NULL) slot->txn = txn_new();
        t = slot->txn;
        if (slot->gen == gen && slot->conn_id == cd->id && strlen(slot->instance) == ilen &&
            memcmp(slot->instance, iv, ilen) == 0 && ilen > 0 && same_message(t, by[A_CLIENT_ADDRESS]))
            fresh = false;
        if (fresh) {
            txn_reset(t, gen->cfg, gen->dns);
            if (slot->gen != gen) {
                gen->refs++;
                gen_unref(slot->gen);
                slot->gen = gen;
            }
            slot->conn_id = cd->id;
            slot->spf_header = false;
            memcpy(slot->instance, iv, ilen);
            slot->instance[ilen] = '\0';
        }
        slot->busy = true;
    }

    facts_t *f = txn_facts(t);
    stage_t old_stage = f->stage;
    const char *old_helo = f->helo, *old_sender = f->sender;
    size_t old_helo_len = f->helo_len, old_sender_len = f->sender_len;
    /* the request's own fields replace the previous request's */
    f->have_rcpt = false;
    f->rcpt = NULL;
    f->rcpt_len = 0;
    facts_from_index(t, by, (stage_t)stage, eom);
    if (!fresh) refresh(t, old_stage, old_helo, old_helo_len, old_sender, old_sender_len);

    request_t r = {g, conn, slot, t, gen};
    if (policy_exempt_early(gen->cfg, f) != NULL) {
        finish(&r);
        return;
    }
    request_t *rp = xmalloc(sizeof *rp);
    *rp = r;
    gen->refs++;
    if (txn_run(t, on_checked, rp)) {
        free(rp);
        gen->refs--;
        finish(&r);
    }
}

/* ---- life cycle ---- */

gate_t *gate_new(uv_loop_t *loop, config_t *cfg, char *err, size_t errlen)
{
    gate_t *g = xcalloc(1, sizeof *g);
    g->loop = loop;
    g->gen = gen_new(loop, cfg, NULL, err, errlen);
    if (g->gen == NULL) {
        free(g);
        return NULL;
    }
    policy_server_options_t o = {.idle_timeout_ms = cfg->idle_timeout_ms,
                                 .max_connections = cfg->max_connections};
    g->server = policy_server_new(loop, &o, handle, g);
    g->slots = xcalloc(GATE_TXN_SLOTS, sizeof *g->slots);
    return g;
}

int gate_listen(gate_t *g, char *err, size_t errlen)
{
    const config_t *c = g->gen->cfg;
    for (size_t i = 0; i < c->npolicy_listen; i++)
        if (policy_server_listen(g->server, c->policy_listen[i], err, errlen) != 0) return -1;
    return 0;
}

int gate_port(const gate_t *g)
{
    return policy_server_port(g->server);
}

const config_t *gate_config(const gate_t *g)
{
    return g->gen->cfg;
}

int gate_reload(gate_t *g, config_t *cfg, char *err, size_t errlen)
{
    gen_t *gen = gen_new(g->loop, cfg, g->gen, err, errlen);
    if (gen == NULL) return -1;
    gen_unref(g->gen);
    g->gen = gen;
    policy_server_options_t o = {.idle_timeout_ms = cfg->idle_timeout_ms,
                                 .max_connections = cfg->max_connections};
    policy_server_set_options(g->server, &o);
    return 0;
}

void gate_drain(gate_t *g, void (*done)(void *), void *arg)
{
    policy_server_drain(g->server, done, arg);
}

void gate_free(gate_t *g)
{
    if (g == NULL) return;
    policy_server_free(g->server);
    for (size_t i = 0; i < GATE_TXN_SLOTS; i++) {
        txn_free(g->slots[i].txn);
        gen_unref(g->slots[i].gen);
    }
    free(g->slots);
    gen_unref(g->gen);
    str_free(&g->line);
    str_free(&g->action);
    free(g);
}
