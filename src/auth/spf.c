/*
 * spf: check_host() (RFC 7208 section 4) over the asynchronous dns layer. See spf.h for the
 * evaluation model: a pass is a pure function of the request and the memoised answers; it
 * stops at the first answer not yet known and is run again from the start when it arrives.
 *
 * Memory: the request copy and the memo live in c->arena; everything a pass builds (evidence,
 * steps, trace) lives in c->pass_arena, which is reset at the start of each pass, so the
 * evidence of the final pass is what stays. Records and names point into DNS answers that
 * the memo keeps referenced until spf_check_free().
 *
 * Parsed records: what a TXT answer says as an SPF record (which record is the SPF one, its
 * terms, and the target names of domain-specs without macros, expanded and made canonical)
 * is worked out once per answer and attached to it (dns_answer_attach), so that it lives
 * exactly as long as the answer and warm evaluations never parse a record again. Records of
 * more than SPF_PARSED_ATTACH_TERMS terms are parsed per evaluation instead (kept by the
 * memo entry until spf_check_free()), so what is attached is at most that many terms plus
 * the names, about five times the record's length: bounded like the answer it belongs to.
 *
 * Time: the whole evaluation is limited to spf_request_t.time_limit_ms (RFC 7208 4.6.4), by
 * one libuv timer on the resolver's loop, armed only when an evaluation has to wait for DNS;
 * it is closed on completion, on expiry and by spf_check_free().
 *
 * Limits: SPF_MEMO_MAX distinct lookups per evaluation (the RFC limits bound the real need to
 * about 130: 10 terms of at most 1 + 10 lookups, the PTR names, the explanation); early
 * queries stop at SPF_PREFETCH_MEMO. Recursion is bounded by the lookup limit (each include
 * and redirect is a counted term).
 */
#include "auth/spf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/addr.h"
#include "util/arena.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

#define SPF_MEMO_MAX 256
#define SPF_PREFETCH_MEMO 192
#define SPF_NAME_TEXT_MAX (SPF_DOMAIN_MAX * 4 + 1) /* presentation form, every byte \DDD */
#define SPF_TRACE_VALUE_MAX 300
/* Records of at most this many terms keep their parsed form with the answer. */
#define SPF_PARSED_ATTACH_TERMS 64
/* Arena chunks: a warm evaluation needs about one per arena; with the chunk header this stays
 * within the C library's per-thread caches. */
#define SPF_ARENA_CHUNK 960

/* Finished checks kept for the next spf_check_start(), their arenas emptied (each keeps its
 * first chunk): a busy gate evaluates twice per message, and allocating and freeing the
 * struct, two arenas and their chunks cost about a quarter of a warm evaluation. At most
 * SPF_CHECK_POOL per thread (about 2.4 KiB each with their chunks); never freed, reachable to
 * the end. */
#define SPF_CHECK_POOL 8

/* A term as the evaluator uses it. For a domain-spec without macros (no '%') the target
 * name does not depend on the request: it is expanded and checked once, here. */
typedef struct cterm {
    spf_term_t t;
    bool literal;              /* the target fields below are set */
    bool ok_single, ok_multi;  /* the target is a valid name (4.3), and one of >= 2 labels */
    const char *why;           /* the target cannot be expanded: the reason (static), else NULL */
    const char *raw, *canon;   /* the target, NUL-terminated, and its canonical form */
    size_t raw_off, canon_off; /* while building: offsets into the text */
} cterm_t;

/* What a TXT answer holds as SPF records (4.5, 4.6). One allocation: this struct, the
 * mechanisms, then the text of the literal targets. */
typedef struct parsed {
    size_t nspf, spf_idx; /* records starting with v=spf1, and the index of the first */
    int parse_rc;         /* spf_record_parse() of it when nspf == 1, else 0 */
    spf_record_t info;
    size_t nmech;
    cterm_t *mech;         /* the mechanisms in order (modifiers left out) */
    cterm_t redirect, exp; /* when info.has_redirect, info.has_exp */
} parsed_t;

/* The owner of the parsed records attached to DNS answers (dns_answer_attach). */
static const char parsed_owner;

typedef struct memo {
    spf_check_t *c;
    const char *name; /* canonical presentation form */
    size_t len;
    uint32_t hash;
    uint16_t type;
    const dns_answer_t *ans; /* referenced; NULL while in flight */
    dns_query_t *q;
    /* TXT answers used as SPF records: */
    const parsed_t *parsed; /* attached to ans, or own */
    parsed_t *own;          /* too large to attach: freed with the memo */
    bool prefetched;        /* the record's early queries were started */
} memo_t;

struct spf_check {
    dns_resolver_t *dns;
    arena_t *arena;
    arena_t *pass_arena;
    /* the request */
    ipaddr_t ip;
    bool helo_identity, trace;
    const char *sender, *local, *sender_domain, *helo, *receiver, *domain;
    unsigned long long now;
    /* lookups */
    memo_t **memo; /* in c->arena, grown up to SPF_MEMO_MAX */
    size_t nmemo, memo_cap;
    memo_t *blocked; /* the pass waits for this one */
    /* the overall time limit (4.6.4) */
    unsigned limit_ms;
    uv_timer_t *timer; /* armed while waiting; closed (and freed by its close callback) on
                          completion, expiry or spf_check_free() */
    unsigned wait_lookups, wait_voids; /* counted by the last pass that waited */
    /* outcome */
    bool done;
    spf_done_fn cb;
    void *cb_arg;
    spf_evidence_t ev;
};

static _Thread_local spf_check_t *check_pool[SPF_CHECK_POOL];
static _Thread_local size_t check_pooled;

/* Answers for lookups that cannot be asked. */
static const dns_answer_t badname_answer = {
    .status = DNS_BADNAME, .qname = "", .why = "name cannot be looked up"};
static const dns_answer_t full_answer = {
    .status = DNS_SERVFAIL, .qname = "", .why = "too many distinct DNS lookups"};

const char *spf_result_name(spf_result_t r)
{
    static const char *const names[] = {"none",     "neutral",   "pass",     "fail",
                                        "softfail", "temperror", "permerror"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

/* ---- names ------------------------------------------------------------------------------ */

static bool name_byte_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

/*
 * Raw name (labels separated by '.', any other byte literal) to the canonical presentation
 * form of the dns layer: lower case, bytes outside [a-z0-9-_*] as \DDD. out needs
 * SPF_NAME_TEXT_MAX bytes; the input is at most SPF_DOMAIN_MAX octets.
 */
static void name_canonical(const char *raw, char *out)
{
    /* each byte as written out: letters folded, other plain bytes and '.' as themselves,
     * 0 for a byte written as \DDD */
    static unsigned char plain[256];
    if (plain['a'] == 0) {
        for (int c = 1; c < 256; c++) {
            unsigned char l = (unsigned char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
            if (l == '.' || name_byte_plain(l)) plain[c] = l;
        }
    }
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)raw; *p != '\0'; p++) {
        unsigned char c = plain[*p];
        if (c != 0) {
            out[k++] = (char)c;
        } else {
            snprintf(out + k, 5, "\\%03u", *p);
            k += 4;
        }
    }
    out[k] = '\0';
}

/* The canonical text of the dns layer back to raw bytes (for %{p}). Returns -1 when the
 * name holds a NUL or is too long. */
static int name_unescape(const char *canon, char *out, size_t size)
{
    size_t k = 0;
    for (const char *p = canon; *p != '\0'; p++) {
        unsigned c = (unsigned char)*p;
        if (*p == '\\' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[3] >= '0' &&
            p[3] <= '9') {
            c = (unsigned)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
            p += 3;
        } else if (*p == '\\' && p[1] != '\0') {
            c = (unsigned char)*++p;
        }
        if (c == 0 || c > 255 || k + 1 >= size) return -1;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return 0;
}

/* 4.3: labels of 1..63 octets (a final empty label, i.e. a trailing dot, was removed
 * before), at most SPF_DOMAIN_MAX octets. multi: at least two labels. */
static bool name_ok(const char *raw, bool multi)
{
    size_t n = strlen(raw), lab = 0, labels = 1;
    if (n == 0 || n > SPF_DOMAIN_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == '.') {
            if (lab == 0) return false;
            lab = 0;
            labels++;
        } else if (++lab > SPF_LABEL_MAX) {
            return false;
        }
    }
    return lab > 0 && (!multi || labels >= 2);
}

/* Is canonical name n equal to or below canonical name d? (5.5, 7.3) */
static bool name_within(const char *n, const char *d)
{
    size_t nl = strlen(n), dl = strlen(d);
    if (nl == dl) return strcmp(n, d) == 0;
    return nl > dl && n[nl - dl - 1] == '.' && strcmp(n + nl - dl, d) == 0;
}

static bool prefix_match(const ipaddr_t *a, const ipaddr_t *b, int bits)
{
    if (a->family != b->family) return false;
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a->a, b->a, (size_t)full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->a[full] & mask) == (b->a[full] & mask);
}

/* ---- parsed records -------------------------------------------------------------------------- */

/* Fills ct for term t of rec; the literal target's names are appended to text. */
static void cterm_fill(cterm_t *ct, const char *rec, const spf_term_t *t, str_t *text)
{
    memset(ct, 0, sizeof *ct);
    ct->t = *t;
    if (t->arg_len == 0 || t->kind == SPF_IP4 || t->kind == SPF_IP6 || t->kind == SPF_UNKNOWN_MOD ||
        memchr(rec + t->arg_off, '%', t->arg_len) != NULL)
        return;
    /* 7.1: without '%' the macro-string is literal; expanding it only removes a trailing dot
     * and cuts an over-long name (7.3), exactly as at evaluation time */
    ct->literal = true;
    spf_macro_ctx_t mc;
    memset(&mc, 0, sizeof mc);
    char raw[SPF_DOMAIN_MAX + 1], canon[SPF_NAME_TEXT_MAX];
    size_t n;
    const char *why;
    if (spf_macro_expand(rec + t->arg_off, t->arg_len, &mc, 0, raw, sizeof raw, &n, &why) !=
        SPF_EXPAND_OK) {
        ct->why = why != NULL ? why : "the target cannot be expanded";
        return;
    }
    ct->ok_single = name_ok(raw, false);
    ct->ok_multi = name_ok(raw, true);
    name_canonical(raw, canon);
    ct->raw_off = text->len;
    str_append(text, raw, n + 1);
    ct->canon_off = text->len;
    str_append(text, canon, strlen(canon) + 1);
}

static void cterm_fix(cterm_t *ct, const char *text)
{
    if (ct->literal && ct->why == NULL) {
        ct->raw = text + ct->raw_off;
        ct->canon = text + ct->canon_off;
    }
}

/* 4.5, 4.6: the SPF record of a TXT answer (DNS_OK), selected and parsed. Owned by the
 * caller (parsed_free). */
static parsed_t *parsed_build(const dns_answer_t *a)
{
    parsed_t h;
    memset(&h, 0, sizeof h);
    for (size_t i = 0; i < a->count; i++)
        if (a->rr[i].txt != NULL &&
            spf_record_is_spf((const char *)a->rr[i].txt, a->rr[i].txt_len) && h.nspf++ == 0)
            h.spf_idx = i;
    cterm_t *mech = NULL;
    str_t text = STR_INIT;
    if (h.nspf == 1) {
        const char *rec = (const char *)a->rr[h.spf_idx].txt;
        size_t len = a->rr[h.spf_idx].txt_len;
        h.parse_rc = spf_record_parse(rec, len, &h.info);
        if (h.parse_rc == 0 && h.info.nterms > 0) {
            mech = xcalloc(h.info.nterms, sizeof *mech);
            size_t pos = SPF_VERSION_LEN;
            spf_term_t t;
            const char *why;
            while (spf_term_next(rec, len, &pos, &t, &why) == 1) {
                if (t.kind < SPF_REDIRECT)
                    cterm_fill(&mech[h.nmech++], rec, &t, &text);
                else if (t.kind == SPF_REDIRECT)
                    cterm_fill(&h.redirect, rec, &t, &text);
                else if (t.kind == SPF_EXP)
                    cterm_fill(&h.exp, rec, &t, &text);
            }
        }
    }
    size_t mech_off = (sizeof h + _Alignof(cterm_t) - 1) / _Alignof(cterm_t) * _Alignof(cterm_t);
    size_t text_off = mech_off + xmul(h.nmech, sizeof(cterm_t));
    if (text_off < mech_off || text_off > SIZE_MAX - text.len - 1) xmul(SIZE_MAX, 2); /* aborts */
    char *base = xmalloc(text_off + text.len + 1);
    parsed_t *pr = (parsed_t *)(void *)base;
    *pr = h;
    pr->mech = (cterm_t *)(void *)(base + mech_off);
    char *tx = base + text_off;
    if (text.len > 0) memcpy(tx, text.data, text.len);
    tx[text.len] = '\0';
    for (size_t i = 0; i < h.nmech; i++) {
        pr->mech[i] = mech[i];
        cterm_fix(&pr->mech[i], tx);
    }
    cterm_fix(&pr->redirect, tx);
    cterm_fix(&pr->exp, tx);
    free(mech);
    str_free(&text);
    return pr;
}

static void parsed_free(void *p)
{
    free(p);
}

/* The parsed form of m's answer (DNS_OK, TXT): the one attached to the answer, else built
 * now and attached (or kept by m when large). */
static const parsed_t *memo_parsed(memo_t *m)
{
    if (m->parsed != NULL) return m->parsed;
    const parsed_t *pr = dns_answer_attached(m->ans, &parsed_owner);
    if (pr == NULL) {
        parsed_t *n = parsed_build(m->ans);
        if (n->info.nterms <= SPF_PARSED_ATTACH_TERMS &&
            dns_answer_attach(m->ans, &parsed_owner, n, parsed_free) == 0)
            pr = n;
        else
            pr = m->own = n;
    }
    m->parsed = pr;
    return pr;
}

/* ---- the memo of lookups ------------------------------------------------------------------ */

static void run_pass(spf_check_t *c);
static void finish(spf_check_t *c);

/* FNV-1a: memo names are canonical, so equal names have equal bytes */
static uint32_t name_hash(const char *name, size_t *len)
{
    /* eight bytes a step; a name of eight or more ends with its last eight bytes (they may
     * overlap the step before), a shorter one is taken byte by byte */
    size_t n = strlen(name);
    uint64_t h = 0xcbf29ce484222325u ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, name + i, 8);
        h = (h ^ w) * 0x100000001b3u;
        h ^= h >> 32;
    }
    if (i < n && n >= 8) {
        memcpy(&w, name + n - 8, 8);
        h = (h ^ w) * 0x100000001b3u;
    } else {
        for (; i < n; i++)
            h = (h ^ (unsigned char)name[i]) * 0x100000001b3u;
    }
    *len = n;
    return (uint32_t)(h ^ (h >> 32));
}

static void on_answer(const dns_answer_t *ans, void *arg)
{
    memo_t *m = arg;
    spf_check_t *c = m->c;
    m->q = NULL;
    dns_answer_ref(ans);
    m->ans = ans;
    if (c->blocked != m || c->done) return;
    c->blocked = NULL;
    run_pass(c);
    if (c->done) finish(c);
}

/* name: canonical (name_canonical(), or a name from a DNS answer), len and hash from
 * name_hash() */
static memo_t *memo_find(spf_check_t *c, const char *name, size_t len, uint32_t hash, uint16_t type)
{
    for (size_t i = 0; i < c->nmemo; i++) {
        memo_t *m = c->memo[i];
        if (m->hash == hash && m->type == type && m->len == len && memcmp(m->name, name, len) == 0)
            return m;
    }
    return NULL;
}

static memo_t *memo_start(spf_check_t *c, const char *name, size_t len, uint32_t hash,
                          uint16_t type)
{
    if (c->nmemo == SPF_MEMO_MAX) return NULL;
    if (c->nmemo == c->memo_cap) {
        size_t cap = c->memo_cap == 0 ? 16 : c->memo_cap * 2;
        if (cap > SPF_MEMO_MAX) cap = SPF_MEMO_MAX;
        memo_t **grown = arena_alloc(c->arena, cap * sizeof *grown);
        if (c->nmemo > 0) memcpy(grown, c->memo, c->nmemo * sizeof *grown);
        c->memo = grown;
        c->memo_cap = cap;
    }
    /* the entry and its name in one allocation (len is a C string's length) */
    memo_t *m = arena_alloc(c->arena, sizeof *m + len + 1);
    memset(m, 0, sizeof *m);
    m->c = c;
    char *copy = (char *)(m + 1);
    memcpy(copy, name, len);
    copy[len] = '\0';
    m->name = copy;
    m->len = len;
    m->hash = hash;
    m->type = type;
    c->memo[c->nmemo++] = m;
    const dns_answer_t *hit = dns_cached(c->dns, name, type);
    if (hit != NULL) {
        dns_answer_ref(hit);
        m->ans = hit;
    } else if (dns_query(c->dns, name, type, on_answer, m, &m->q) != 0) {
        m->q = NULL;
        m->ans = &badname_answer;
    }
    return m;
}

static void memo_release(spf_check_t *c)
{
    for (size_t i = 0; i < c->nmemo; i++) {
        memo_t *m = c->memo[i];
        if (m->q != NULL) {
            dns_cancel(m->q);
            m->q = NULL;
        }
        if (m->ans != NULL && m->ans != &badname_answer) dns_answer_unref(m->ans);
        m->ans = NULL;
        free(m->own);
        m->own = NULL;
        m->parsed = NULL;
    }
    c->nmemo = 0;
}

/* ---- one pass ----------------------------------------------------------------------------- */

enum { ST_DONE = 0, ST_PENDING = 1 };

/* Term outcomes. */
enum ev { EV_NOMATCH, EV_MATCH, EV_TEMPERROR, EV_PERMERROR, EV_PENDING };

typedef struct step_node {
    spf_step_t s;
    struct step_node *next;
} step_node_t;

typedef struct tnode {
    spf_trace_t pub;
    struct tnode *last_child;
} tnode_t;

typedef struct pass {
    spf_check_t *c;
    arena_t *a;
    unsigned lookups, voids;
    /* why the pass ended as it did (none, temperror, permerror, default neutral) */
    const char *why;
    const char *why_domain;
    const char *why_term;
    size_t why_term_len;
    step_node_t *steps, *steps_tail;
    size_t nsteps;
} pass_t;

/* One check_host() invocation. */
typedef struct frame {
    const char *domain; /* raw, no trailing dot */
    const char *canon;  /* its canonical form */
    const char *rec;    /* the record (in a memoised answer) */
    size_t rec_len;
    const parsed_t *pr; /* the record parsed (attached to the answer or kept by the memo) */
    unsigned depth;
    tnode_t *node;
    int p_state;   /* 0: not computed; 1: done */
    const char *p; /* raw validated name for %{p}, NULL: "unknown" */
} frame_t;

/* What check_host() hands back. */
typedef struct hres {
    spf_result_t result;
    /* the decisive mechanism (for the top: evidence and exp) */
    const char *mech;
    size_t mech_len;
    const char *mech_domain;
    /* the record whose exp= applies to a fail (the one of the matching mechanism, after
     * redirects: 6.2), NULL when none */
    const char *exp_rec;
    size_t exp_rec_len;
    const cterm_t *exp_term;
    const char *exp_domain;
    const char *exp_canon;
    /* the record of the domain checked */
    const char *rec;
    size_t rec_len;
} hres_t;

/* ---- trace ---- */

static tnode_t *(trace_add)(pass_t *p, tnode_t *parent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Only evaluations that build a trace pay for the call and its arguments. */
#define trace_add(p, parent, ...)                                                                  \
    ((p)->c->trace && (parent) != NULL ? trace_add((p), (parent), __VA_ARGS__) : NULL)

static tnode_t *(trace_add)(pass_t *p, tnode_t *parent, const char *fmt, ...)
{
    if (!p->c->trace || parent == NULL) return NULL;
    tnode_t *n = arena_calloc(p->a, 1, sizeof *n);
    va_list ap;
    va_start(ap, fmt);
    str_t s = STR_INIT;
    str_vappendf(&s, fmt, ap);
    va_end(ap);
    n->pub.text = arena_strndup(p->a, str_cstr(&s), s.len);
    str_free(&s);
    if (parent->last_child != NULL)
        parent->last_child->pub.next = &n->pub;
    else
        parent->pub.child = &n->pub;
    parent->last_child = n;
    return n;
}

/* Peer bytes made printable for a trace line (arena copy). */
static const char *pr(pass_t *p, const char *s, size_t n)
{
    if (!p->c->trace) return "";
    str_t e = STR_INIT;
    log_escape(&e, s, n, SPF_TRACE_VALUE_MAX);
    const char *r = arena_strndup(p->a, str_cstr(&e), e.len);
    str_free(&e);
    return r;
}

static const char *prz(pass_t *p, const char *s)
{
    return pr(p, s, strlen(s));
}

static const char *term_text(pass_t *p, const frame_t *f, const spf_term_t *t)
{
    return pr(p, f->rec + t->off, t->len);
}

/* ---- errors and limits ---- */

static void set_why(pass_t *p, const frame_t *f, const spf_term_t *t, const char *why)
{
    p->why = why;
    p->why_domain = f != NULL ? f->domain : NULL;
    p->why_term = t != NULL ? f->rec + t->off : NULL;
    p->why_term_len = t != NULL ? t->len : 0;
}

/* 4.6.4: each DNS-querying term counts before its lookups; the eleventh is permerror. */
static bool count_lookup(pass_t *p, const frame_t *f, const spf_term_t *t, tnode_t *node)
{
    if (++p->lookups <= SPF_LOOKUP_MAX) return true;
    set_why(p, f, t,
            "more than 10 DNS-querying terms (include, a, mx, ptr, exists, redirect; "
            "RFC 7208 4.6.4)");
    trace_add(p, node, "permerror: DNS-querying term number %u is over the limit of %d", p->lookups,
              SPF_LOOKUP_MAX);
    return false;
}

/* 4.6.4: a term whose query gives NXDOMAIN or no records is a void lookup; the third is
 * permerror. */
static bool count_void(pass_t *p, const frame_t *f, const spf_term_t *t, tnode_t *node)
{
    if (++p->voids <= SPF_VOID_MAX) return true;
    set_why(p, f, t, "more than 2 void lookups (RFC 7208 4.6.4)");
    trace_add(p, node, "permerror: void lookup number %u is over the limit of %d", p->voids,
              SPF_VOID_MAX);
    return false;
}

/* ---- lookups ---- */

/* The answer for (canonical name, type), or NULL after starting it (the pass must stop).
 * *mp (if not NULL) gets the memo entry, NULL when the memo is full. */
static const dns_answer_t *lookup_memo(pass_t *p, const char *name, uint16_t type, memo_t **mp)
{
    spf_check_t *c = p->c;
    size_t len;
    uint32_t hash = name_hash(name, &len);
    memo_t *m = memo_find(c, name, len, hash, type);
    if (m == NULL) m = memo_start(c, name, len, hash, type);
    if (mp != NULL) *mp = m;
    if (m == NULL) return &full_answer;
    if (m->ans != NULL) return m->ans;
    c->blocked = m;
    return NULL;
}

static const dns_answer_t *lookup(pass_t *p, const char *name, uint16_t type)
{
    return lookup_memo(p, name, type, NULL);
}

/* Starts a lookup the pass will want later, without waiting for it. */
static void prefetch(pass_t *p, const char *name, uint16_t type)
{
    spf_check_t *c = p->c;
    if (c->nmemo >= SPF_PREFETCH_MEMO) return;
    size_t len;
    uint32_t hash = name_hash(name, &len);
    if (memo_find(c, name, len, hash, type) == NULL) memo_start(c, name, len, hash, type);
}

static uint16_t addr_type(const spf_check_t *c)
{
    return c->ip.family == 6 ? DNS_T_AAAA : DNS_T_A;
}

static const char *status_text(const dns_answer_t *a)
{
    return dns_status_name(a->status);
}

/* ---- macros ---- */

static void macro_ctx(const pass_t *p, const frame_t *f, spf_macro_ctx_t *mc)
{
    const spf_check_t *c = p->c;
    memset(mc, 0, sizeof *mc);
    mc->sender = c->sender;
    mc->local = c->local;
    mc->sender_domain = c->sender_domain;
    mc->domain = f->domain;
    mc->ip = c->ip;
    mc->helo = c->helo;
    mc->ptr = f->p;
    mc->receiver = c->receiver;
    mc->now = c->now;
}

/*
 * The validated domain name of the client for %{p} (7.3, with the procedure of 5.5): among
 * the first SPF_PTR_MAX PTR names whose addresses include the client, <domain> itself, else
 * one below it, else the first; none (or a DNS error): "unknown".
 */
static int compute_p(pass_t *p, frame_t *f, tnode_t *node)
{
    spf_check_t *c = p->c;
    if (f->p_state) return ST_DONE;
    char rev[128];
    f->p = NULL;
    if (ipaddr_reverse_name(&c->ip, NULL, rev, sizeof rev) != 0) {
        f->p_state = 1;
        return ST_DONE;
    }
    const dns_answer_t *a = lookup(p, rev, DNS_T_PTR);
    if (a == NULL) return ST_PENDING;
    if (a->status != DNS_OK) {
        trace_add(p, node, "%%{p}: PTR %s: %s: \"unknown\"", rev, status_text(a));
        f->p_state = 1;
        return ST_DONE;
    }
    size_t n = a->count < SPF_PTR_MAX ? a->count : SPF_PTR_MAX;
    for (size_t i = 0; i < n; i++)
        if (a->rr[i].name != NULL && a->rr[i].name[0] != '\0')
            prefetch(p, a->rr[i].name, addr_type(c));
    const char *best = NULL;
    int rank = 0; /* 3: <domain>, 2: below it, 1: other */
    for (size_t i = 0; i < n; i++) {
        const char *nm = a->rr[i].name;
        if (nm == NULL || nm[0] == '\0') continue;
        const dns_answer_t *aa = lookup(p, nm, addr_type(c));
        if (aa == NULL) return ST_PENDING;
        bool ok = false;
        for (size_t k = 0; aa->status == DNS_OK && k < aa->count && !ok; k++)
            ok = ipaddr_equal(&aa->rr[k].addr, &c->ip);
        if (!ok) continue;
        int r = strcmp(nm, f->canon) == 0 ? 3 : name_within(nm, f->canon) ? 2 : 1;
        if (r > rank) {
            rank = r;
            best = nm;
        }
    }
    if (best != NULL) {
        char raw[SPF_DOMAIN_MAX + 2];
        if (name_unescape(best, raw, sizeof raw) == 0) f->p = arena_strdup(p->a, raw);
    }
    trace_add(p, node, "%%{p} = %s", f->p != NULL ? prz(p, f->p) : "unknown");
    f->p_state = 1;
    return ST_DONE;
}

enum target { TG_OK, TG_BADNAME, TG_PENDING };

/* A target name: raw and canonical, pointing into buf, the parsed record or the frame. */
typedef struct target_buf {
    const char *raw, *canon;
    char rawbuf[SPF_DOMAIN_MAX + 1];
    char canonbuf[SPF_NAME_TEXT_MAX];
} target_t;

/* The target name of a term: its domain-spec expanded (5, 7), or <domain>. A domain-spec
 * without macros was expanded when the record was parsed; <domain> was checked (4.3) and
 * made canonical by check_host(). */
static enum target target_name(pass_t *p, frame_t *f, const cterm_t *ct, tnode_t *node,
                               target_t *tg, bool need_multi)
{
    const spf_term_t *t = &ct->t;
    if (t->arg_len == 0) {
        tg->raw = f->domain;
        tg->canon = f->canon;
        return TG_OK;
    }
    if (ct->literal) {
        if (ct->why != NULL) {
            trace_add(p, node, "target cannot be expanded to a name: %s", ct->why);
            return TG_BADNAME;
        }
        if (!(need_multi ? ct->ok_multi : ct->ok_single)) {
            trace_add(p, node, "target \"%s\" is not a valid domain name", prz(p, ct->raw));
            return TG_BADNAME;
        }
        tg->raw = ct->raw;
        tg->canon = ct->canon;
        return TG_OK;
    }
    if ((t->uses & SPF_USES_P) && compute_p(p, f, node) == ST_PENDING) return TG_PENDING;
    spf_macro_ctx_t mc;
    macro_ctx(p, f, &mc);
    size_t n;
    const char *why;
    spf_expand_status_t st = spf_macro_expand(f->rec + t->arg_off, t->arg_len, &mc, 0, tg->rawbuf,
                                              sizeof tg->rawbuf, &n, &why);
    if (st != SPF_EXPAND_OK) {
        trace_add(p, node, "target cannot be expanded to a name: %s", why);
        return TG_BADNAME;
    }
    if (!name_ok(tg->rawbuf, need_multi)) {
        trace_add(p, node, "target \"%s\" is not a valid domain name", prz(p, tg->rawbuf));
        return TG_BADNAME;
    }
    name_canonical(tg->rawbuf, tg->canonbuf);
    tg->raw = tg->rawbuf;
    tg->canon = tg->canonbuf;
    return TG_OK;
}

/* ---- mechanisms (5) ---- */

static int check_host(pass_t *p, const char *domain, const char *canon, unsigned depth,
                      tnode_t *parent, hres_t *out);

static bool addr_in(const spf_check_t *c, const dns_answer_t *a, const spf_term_t *t)
{
    int bits =
        c->ip.family == 6 ? (t->cidr6 >= 0 ? t->cidr6 : 128) : (t->cidr4 >= 0 ? t->cidr4 : 32);
    for (size_t k = 0; k < a->count; k++)
        if (prefix_match(&a->rr[k].addr, &c->ip, bits)) return true;
    return false;
}

/*
 * What a term's lookup that gave no records means (5, 4.6.4): NXDOMAIN or NODATA is a void
 * lookup (no match; permerror past the limit), a name that cannot be asked does not match,
 * any other failure (an error other than NXDOMAIN, a timeout) is temperror.
 */
static enum ev lookup_empty(pass_t *p, frame_t *f, const spf_term_t *t, tnode_t *node,
                            const dns_answer_t *a, uint16_t type, const char *raw)
{
    switch (a->status) {
    case DNS_NXDOMAIN:
    case DNS_NODATA:
        trace_add(p, node, "%s %s: %s (void lookup %u)", dns_type_name(type), prz(p, raw),
                  status_text(a), p->voids + 1);
        return count_void(p, f, t, node) ? EV_NOMATCH : EV_PERMERROR;
    case DNS_BADNAME:
        trace_add(p, node, "%s %s: cannot be asked, no match", dns_type_name(type), prz(p, raw));
        return EV_NOMATCH;
    default:
        set_why(p, f, t, a->status == DNS_TIMEOUT ? "DNS timeout" : "DNS server failure");
        trace_add(p, node, "%s %s: %s: temperror", dns_type_name(type), prz(p, raw),
                  status_text(a));
        return EV_TEMPERROR;
    }
}

/* 5.3 a, 5.7 exists: one address query. */
static enum ev mech_a_exists(pass_t *p, frame_t *f, const cterm_t *ct, tnode_t *node)
{
    spf_check_t *c = p->c;
    const spf_term_t *t = &ct->t;
    target_t tb;
    if (!count_lookup(p, f, t, node)) return EV_PERMERROR;
    enum target tg = target_name(p, f, ct, node, &tb, false);
    if (tg == TG_PENDING) return EV_PENDING;
    if (tg == TG_BADNAME) return EV_NOMATCH; /* cannot be asked: no match (test suite 4.8/5) */
    const char *raw = tb.raw;
    /* exists always asks A, whatever the client (5.7) */
    uint16_t type = t->kind == SPF_EXISTS ? DNS_T_A : addr_type(c);
    const dns_answer_t *a = lookup(p, tb.canon, type);
    if (a == NULL) return EV_PENDING;
    switch (a->status) {
    case DNS_OK: {
        bool m = t->kind == SPF_EXISTS ? a->count > 0 : addr_in(c, a, t);
        trace_add(p, node, "%s %s: %zu record%s, %s", dns_type_name(type), prz(p, raw), a->count,
                  a->count == 1 ? "" : "s", m ? "match" : "no match");
        return m ? EV_MATCH : EV_NOMATCH;
    }
    default:
        return lookup_empty(p, f, t, node, a, type, raw);
    }
}

/* 5.4 mx */
static enum ev mech_mx(pass_t *p, frame_t *f, const cterm_t *ct, tnode_t *node)
{
    spf_check_t *c = p->c;
    const spf_term_t *t = &ct->t;
    target_t tb;
    if (!count_lookup(p, f, t, node)) return EV_PERMERROR;
    enum target tg = target_name(p, f, ct, node, &tb, false);
    if (tg == TG_PENDING) return EV_PENDING;
    if (tg == TG_BADNAME) return EV_NOMATCH;
    const char *raw = tb.raw;
    const dns_answer_t *a = lookup(p, tb.canon, DNS_T_MX);
    if (a == NULL) return EV_PENDING;
    if (a->status != DNS_OK) /* 5.4: no implicit MX */
        return lookup_empty(p, f, t, node, a, DNS_T_MX, raw);
    if (a->count > SPF_MX_MAX) {
        /* 4.6.4 */
        set_why(p, f, t, "more than 10 MX records for an mx mechanism (RFC 7208 4.6.4)");
        trace_add(p, node, "MX %s: %zu records, over the limit of %d: permerror", prz(p, raw),
                  a->count, SPF_MX_MAX);
        return EV_PERMERROR;
    }
    /* by preference, stable (the order only matters for which error is met first) */
    const dns_rr_t *mx[SPF_MX_MAX];
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++) {
        size_t j = n++;
        while (j > 0 && mx[j - 1]->pref > a->rr[i].pref) {
            mx[j] = mx[j - 1];
            j--;
        }
        mx[j] = &a->rr[i];
    }
    for (size_t i = 0; i < n; i++)
        if (mx[i]->name != NULL && mx[i]->name[0] != '\0') prefetch(p, mx[i]->name, addr_type(c));
    tnode_t *mn = trace_add(p, node, "MX %s: %zu record%s", prz(p, raw), n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const char *nm = mx[i]->name;
        if (nm == NULL || nm[0] == '\0') {
            trace_add(p, mn, "%u . (null MX, RFC 7505): no address", mx[i]->pref);
            continue;
        }
        const dns_answer_t *aa = lookup(p, nm, addr_type(c));
        if (aa == NULL) return EV_PENDING;
        if (dns_status_temporary(aa->status)) {
            set_why(p, f, t, aa->status == DNS_TIMEOUT ? "DNS timeout" : "DNS server failure");
            trace_add(p, mn, "%u %s: %s %s: temperror", mx[i]->pref, nm,
                      dns_type_name(addr_type(c)), status_text(aa));
            return EV_TEMPERROR;
        }
        if (aa->status == DNS_OK && addr_in(c, aa, t)) {
            trace_add(p, mn, "%u %s: match", mx[i]->pref, nm);
            return EV_MATCH;
        }
        trace_add(p, mn, "%u %s: %s, no match", mx[i]->pref, nm,
                  aa->status == DNS_OK ? "addresses" : status_text(aa));
    }
    return EV_NOMATCH;
}

/* 5.5 ptr */
static enum ev mech_ptr(pass_t *p, frame_t *f, const cterm_t *ct, tnode_t *node)
{
    spf_check_t *c = p->c;
    const spf_term_t *t = &ct->t;
    target_t tb;
    char rev[128];
    if (!count_lookup(p, f, t, node)) return EV_PERMERROR;
    enum target tg = target_name(p, f, ct, node, &tb, false);
    if (tg == TG_PENDING) return EV_PENDING;
    if (tg == TG_BADNAME || ipaddr_reverse_name(&c->ip, NULL, rev, sizeof rev) != 0)
        return EV_NOMATCH;
    const char *canon = tb.canon;
    const dns_answer_t *a = lookup(p, rev, DNS_T_PTR);
    if (a == NULL) return EV_PENDING;
    if (a->status == DNS_NXDOMAIN || a->status == DNS_NODATA) {
        trace_add(p, node, "PTR %s: %s (void lookup %u)", rev, status_text(a), p->voids + 1);
        return count_void(p, f, t, node) ? EV_NOMATCH : EV_PERMERROR;
    }
    if (a->status != DNS_OK) {
        /* 5.5: a DNS error on the PTR lookup makes the mechanism fail to match */
        trace_add(p, node, "PTR %s: %s, no match", rev, status_text(a));
        return EV_NOMATCH;
    }
    /* 4.6.4: only the first 10 PTR names; 5.5: only names at or below the target matter,
     * so the others need no address lookup */
    size_t n = a->count < SPF_PTR_MAX ? a->count : SPF_PTR_MAX;
    for (size_t i = 0; i < n; i++) {
        const char *nm = a->rr[i].name;
        if (nm != NULL && nm[0] != '\0' && name_within(nm, canon)) prefetch(p, nm, addr_type(c));
    }
    tnode_t *pn = trace_add(p, node, "PTR %s: %zu name%s%s", rev, a->count,
                            a->count == 1 ? "" : "s", a->count > n ? " (first 10 used)" : "");
    for (size_t i = 0; i < n; i++) {
        const char *nm = a->rr[i].name;
        if (nm == NULL || nm[0] == '\0') continue;
        if (!name_within(nm, canon)) {
            trace_add(p, pn, "%s: not within %s", nm, canon);
            continue;
        }
        const dns_answer_t *aa = lookup(p, nm, addr_type(c));
        if (aa == NULL) return EV_PENDING;
        bool ok = false;
        for (size_t k = 0; aa->status == DNS_OK && k < aa->count && !ok; k++)
            ok = ipaddr_equal(&aa->rr[k].addr, &c->ip);
        /* 5.5: an error looking up the addresses skips the name */
        trace_add(p, pn, "%s: %s", nm,
                  ok                     ? "validated, match"
                  : aa->status == DNS_OK ? "does not resolve to the client"
                                         : status_text(aa));
        if (ok) return EV_MATCH;
    }
    return EV_NOMATCH;
}

static void add_step(pass_t *p, bool redirect, unsigned depth, const char *from, const char *domain,
                     spf_step_t **out)
{
    step_node_t *s = arena_calloc(p->a, 1, sizeof *s);
    s->s.redirect = redirect;
    s->s.depth = depth;
    s->s.from = from;
    s->s.domain = arena_strdup(p->a, domain);
    if (p->steps_tail != NULL)
        p->steps_tail->next = s;
    else
        p->steps = s;
    p->steps_tail = s;
    p->nsteps++;
    *out = &s->s;
}

/* 5.2 include */
static enum ev mech_include(pass_t *p, frame_t *f, const cterm_t *ct, tnode_t *node)
{
    const spf_term_t *t = &ct->t;
    target_t tb;
    if (!count_lookup(p, f, t, node)) return EV_PERMERROR;
    enum target tg = target_name(p, f, ct, node, &tb, true);
    if (tg == TG_PENDING) return EV_PENDING;
    if (tg == TG_BADNAME) {
        /* check_host() would return none (4.3), which include turns into permerror (5.2) */
        set_why(p, f, t, "the include target is not a valid domain name (RFC 7208 4.3, 5.2)");
        return EV_PERMERROR;
    }
    spf_step_t *step;
    add_step(p, false, f->depth + 1, f->domain, tb.raw, &step);
    hres_t sub;
    if (check_host(p, step->domain, tb.canon, f->depth + 1, node, &sub) == ST_PENDING)
        return EV_PENDING;
    step->result = sub.result;
    /* 5.2 table */
    switch (sub.result) {
    case SPF_PASS:
        return EV_MATCH;
    case SPF_FAIL:
    case SPF_SOFTFAIL:
    case SPF_NEUTRAL:
        return EV_NOMATCH;
    case SPF_TEMPERROR:
        return EV_TEMPERROR;
    case SPF_NONE:
        set_why(p, f, t, "the included domain has no SPF record (RFC 7208 5.2)");
        return EV_PERMERROR;
    default:
        return EV_PERMERROR;
    }
}

/* 5.6 ip4, ip6 */
static enum ev mech_ip(const pass_t *p, const spf_term_t *t)
{
    const spf_check_t *c = p->c;
    if (t->kind == SPF_IP4)
        return c->ip.family == 4 && prefix_match(&t->net, &c->ip, t->cidr4 >= 0 ? t->cidr4 : 32)
                   ? EV_MATCH
                   : EV_NOMATCH;
    return c->ip.family == 6 && prefix_match(&t->net, &c->ip, t->cidr6 >= 0 ? t->cidr6 : 128)
               ? EV_MATCH
               : EV_NOMATCH;
}

static spf_result_t qualifier_result(char q)
{
    switch (q) {
    case '-':
        return SPF_FAIL;
    case '~':
        return SPF_SOFTFAIL;
    case '?':
        return SPF_NEUTRAL;
    default:
        return SPF_PASS;
    }
}

/*
 * Starts the first lookup of every DNS-querying term that the budget left at the record's
 * entry (entry_lookups counted before it) can reach, so that they fly together; the walk
 * consumes them in order. Terms needing %{p} are left for the walk.
 */
static void prefetch_record(pass_t *p, frame_t *f, unsigned entry_lookups)
{
    spf_check_t *c = p->c;
    const parsed_t *pd = f->pr;
    unsigned budget = entry_lookups < SPF_LOOKUP_MAX ? SPF_LOOKUP_MAX - entry_lookups : 0;
    target_t tb;
    char rev[128];
    for (size_t i = 0; i < pd->nmech && budget > 0; i++) {
        const cterm_t *ct = &pd->mech[i];
        const spf_term_t *t = &ct->t;
        uint16_t type;
        switch (t->kind) {
        case SPF_A:
            type = addr_type(c);
            break;
        case SPF_MX:
            type = DNS_T_MX;
            break;
        case SPF_EXISTS:
            type = DNS_T_A;
            break;
        case SPF_INCLUDE:
            type = DNS_T_TXT;
            break;
        case SPF_PTR:
            type = DNS_T_PTR;
            break;
        default:
            continue;
        }
        budget--;
        if (t->uses & SPF_USES_P) continue;
        if (t->kind == SPF_PTR) {
            if (ipaddr_reverse_name(&c->ip, NULL, rev, sizeof rev) == 0)
                prefetch(p, rev, DNS_T_PTR);
            continue;
        }
        if (target_name(p, f, ct, NULL, &tb, t->kind == SPF_INCLUDE) == TG_OK)
            prefetch(p, tb.canon, type);
    }
    if (budget > 0 && pd->info.has_redirect && !pd->info.has_all &&
        !(pd->redirect.t.uses & SPF_USES_P) &&
        target_name(p, f, &pd->redirect, NULL, &tb, true) == TG_OK)
        prefetch(p, tb.canon, DNS_T_TXT);
}

/*
 * The walk of f's record (memo entry m) has to wait for an answer: before the pass stops,
 * start the first lookup of every DNS-querying term of the record that the budget at its
 * entry could reach (once per record and evaluation), so that they fly together. Done only
 * when the pass waits, so an evaluation answered from the cache starts nothing it does not
 * use; the queries started are those of starting them at the record's entry.
 */
static int pending(pass_t *p, frame_t *f, memo_t *m, unsigned entry_lookups)
{
    if (!m->prefetched) {
        m->prefetched = true;
        prefetch_record(p, f, entry_lookups);
    }
    return ST_PENDING;
}

/* 4.3, 4.4, 4.5, 4.6, 4.7 */
static int check_host(pass_t *p, const char *domain, const char *canon, unsigned depth,
                      tnode_t *parent, hres_t *out)
{
    memset(out, 0, sizeof *out);
    frame_t *f = arena_calloc(p->a, 1, sizeof *f);
    f->domain = domain;
    f->depth = depth;
    tnode_t *node = trace_add(p, parent, "check_host %s", prz(p, domain));
    f->node = node;
    if (depth > SPF_LOOKUP_MAX + 1) msg_panic("spf: recursion beyond the lookup limit");
    /* 4.3: a malformed domain, or not a multi-label one, is none (an include or redirect
     * target, given with its canonical form, was checked by target_name() already) */
    if ((canon == NULL && !name_ok(domain, true)) || domain[0] == '[') {
        set_why(p, NULL, NULL, "the domain is not a valid multi-label domain name (RFC 7208 4.3)");
        p->why_domain = domain;
        trace_add(p, node, "not a valid domain name: none");
        out->result = SPF_NONE;
        return ST_DONE;
    }
    if (canon == NULL) {
        char buf[SPF_NAME_TEXT_MAX];
        name_canonical(domain, buf);
        canon = arena_strdup(p->a, buf);
    }
    f->canon = canon;
    /* 4.4: TXT only (RFC 7208 3.1 retired type SPF) */
    memo_t *m;
    const dns_answer_t *a = lookup_memo(p, f->canon, DNS_T_TXT, &m);
    if (a == NULL) return ST_PENDING;
    switch (a->status) {
    case DNS_OK:
        break;
    case DNS_NXDOMAIN:
    case DNS_NODATA:
    case DNS_BADNAME:
        set_why(p, NULL, NULL,
                a->status == DNS_NXDOMAIN ? "the domain does not exist (RFC 7208 4.3)"
                                          : "no SPF record (RFC 7208 4.5)");
        p->why_domain = domain;
        trace_add(p, node, "TXT: %s: none", status_text(a));
        out->result = SPF_NONE;
        return ST_DONE;
    default:
        set_why(p, NULL, NULL,
                a->status == DNS_TIMEOUT
                    ? "DNS timeout looking up the SPF record (RFC 7208 4.4)"
                    : "DNS server failure looking up the SPF record (RFC 7208 4.4)");
        p->why_domain = domain;
        trace_add(p, node, "TXT: %s: temperror", status_text(a));
        out->result = SPF_TEMPERROR;
        return ST_DONE;
    }
    /* 4.5: the records that start with v=spf1; none: none; several: permerror */
    if (m == NULL || m->ans != a) msg_panic("spf: a TXT answer without its memo entry");
    const parsed_t *pd = memo_parsed(m);
    f->pr = pd;
    size_t nspf = pd->nspf;
    if (nspf > 0) {
        f->rec = (const char *)a->rr[pd->spf_idx].txt;
        f->rec_len = a->rr[pd->spf_idx].txt_len;
    }
    if (nspf == 0) {
        set_why(p, NULL, NULL, "no SPF record (RFC 7208 4.5)");
        p->why_domain = domain;
        trace_add(p, node, "no SPF record among %zu TXT record%s: none", a->count,
                  a->count == 1 ? "" : "s");
        out->result = SPF_NONE;
        return ST_DONE;
    }
    if (nspf > 1) {
        set_why(p, NULL, NULL, "more than one SPF record (RFC 7208 4.5)");
        p->why_domain = domain;
        trace_add(p, node, "%zu SPF records: permerror", nspf);
        out->result = SPF_PERMERROR;
        return ST_DONE;
    }
    out->rec = f->rec;
    out->rec_len = f->rec_len;
    trace_add(p, node, "record \"%s\"", pr(p, f->rec, f->rec_len));
    /* 4.6: a syntax error anywhere is permerror before anything is evaluated */
    if (pd->parse_rc != 0) {
        p->why = pd->info.why;
        p->why_domain = domain;
        p->why_term = f->rec + pd->info.err_off;
        p->why_term_len = pd->info.err_len;
        trace_add(p, node, "syntax error in \"%s\": %s: permerror",
                  pr(p, f->rec + pd->info.err_off, pd->info.err_len), pd->info.why);
        out->result = SPF_PERMERROR;
        return ST_DONE;
    }
    /* early queries: see pending() below */
    unsigned entry_lookups = p->lookups;
    /* 4.6.2: mechanisms left to right; the first match decides */
    for (size_t i = 0; i < pd->nmech; i++) {
        const cterm_t *ct = &pd->mech[i];
        const spf_term_t *t = &ct->t;
        tnode_t *tn = trace_add(p, node, "%s", term_text(p, f, t));
        enum ev e;
        switch (t->kind) {
        case SPF_ALL:
            e = EV_MATCH;
            break;
        case SPF_IP4:
        case SPF_IP6:
            e = mech_ip(p, t);
            break;
        case SPF_A:
        case SPF_EXISTS:
            e = mech_a_exists(p, f, ct, tn);
            break;
        case SPF_MX:
            e = mech_mx(p, f, ct, tn);
            break;
        case SPF_PTR:
            e = mech_ptr(p, f, ct, tn);
            break;
        case SPF_INCLUDE:
            e = mech_include(p, f, ct, tn);
            break;
        default:
            e = EV_NOMATCH;
            break;
        }
        switch (e) {
        case EV_PENDING:
            return pending(p, f, m, entry_lookups);
        case EV_NOMATCH:
            if (t->kind == SPF_ALL || t->kind == SPF_IP4 || t->kind == SPF_IP6)
                trace_add(p, tn, "no match");
            continue;
        case EV_MATCH:
            out->result = qualifier_result(t->qualifier);
            out->mech = f->rec + t->off;
            out->mech_len = t->len;
            out->mech_domain = domain;
            if (pd->info.has_exp) {
                out->exp_rec = f->rec;
                out->exp_rec_len = f->rec_len;
                out->exp_term = &pd->exp;
                out->exp_domain = domain;
                out->exp_canon = f->canon;
            }
            trace_add(p, tn, "match: %s", spf_result_name(out->result));
            return ST_DONE;
        case EV_TEMPERROR:
            out->result = SPF_TEMPERROR;
            return ST_DONE;
        case EV_PERMERROR:
            out->result = SPF_PERMERROR;
            return ST_DONE;
        }
    }
    /* 6.1: redirect after all mechanisms, ignored when the record has an all */
    if (pd->info.has_redirect && !pd->info.has_all) {
        const spf_term_t *rt = &pd->redirect.t;
        tnode_t *tn = trace_add(p, node, "%s", term_text(p, f, rt));
        target_t tb;
        if (!count_lookup(p, f, rt, tn)) {
            out->result = SPF_PERMERROR;
            return ST_DONE;
        }
        enum target tg = target_name(p, f, &pd->redirect, tn, &tb, true);
        if (tg == TG_PENDING) return pending(p, f, m, entry_lookups);
        if (tg == TG_BADNAME) {
            set_why(p, f, rt, "the redirect target is not a valid domain name (RFC 7208 6.1)");
            out->result = SPF_PERMERROR;
            return ST_DONE;
        }
        spf_step_t *step;
        add_step(p, true, depth + 1, domain, tb.raw, &step);
        hres_t sub;
        /* the target's own exp= applies, never this record's (6.2) */
        if (check_host(p, step->domain, tb.canon, depth + 1, tn, &sub) == ST_PENDING)
            return pending(p, f, m, entry_lookups);
        step->result = sub.result;
        const char *rec = out->rec;
        size_t rec_len = out->rec_len;
        *out = sub;
        out->rec = rec;
        out->rec_len = rec_len;
        if (sub.result == SPF_NONE) {
            set_why(p, f, rt, "the redirect target has no SPF record (RFC 7208 6.1)");
            out->result = SPF_PERMERROR;
        }
        return ST_DONE;
    }
    /* 4.7 */
    out->result = SPF_NEUTRAL;
    set_why(p, NULL, NULL, "no mechanism matched: neutral by default (RFC 7208 4.7)");
    p->why_domain = domain;
    trace_add(p, node, "no mechanism matched: neutral");
    return ST_DONE;
}

/*
 * 6.2: the explanation of a fail, from the exp= of the record whose mechanism matched. Any
 * problem (expansion, DNS error, no or several TXT records, a bad explain-string) means no
 * explanation. Neither the lookup limit nor the void limit applies (4.6.4).
 */
static int explain(pass_t *p, const hres_t *h, tnode_t *root, const char **out)
{
    *out = NULL;
    frame_t *f = arena_calloc(p->a, 1, sizeof *f);
    f->domain = h->exp_domain;
    f->rec = h->exp_rec;
    f->rec_len = h->exp_rec_len;
    f->canon = h->exp_canon;
    tnode_t *node = trace_add(p, root, "exp=%s",
                              pr(p, h->exp_rec + h->exp_term->t.arg_off, h->exp_term->t.arg_len));
    target_t tb;
    enum target tg = target_name(p, f, h->exp_term, node, &tb, false);
    if (tg == TG_PENDING) return ST_PENDING;
    if (tg == TG_BADNAME) return ST_DONE;
    const dns_answer_t *a = lookup(p, tb.canon, DNS_T_TXT);
    if (a == NULL) return ST_PENDING;
    if (a->status != DNS_OK || a->count != 1 || a->rr[0].txt == NULL) {
        trace_add(p, node, "TXT %s: %s, %zu record%s: no explanation", prz(p, tb.raw),
                  status_text(a), a->count, a->count == 1 ? "" : "s");
        return ST_DONE;
    }
    const char *txt = (const char *)a->rr[0].txt;
    size_t tlen = a->rr[0].txt_len;
    unsigned uses = 0;
    spf_macro_info_t mi;
    if (spf_macro_check(txt, tlen, SPF_MACRO_EXPLAIN, &mi) != 0) {
        trace_add(p, node, "explanation \"%s\": %s: no explanation", pr(p, txt, tlen), mi.why);
        return ST_DONE;
    }
    uses = mi.uses;
    if ((uses & SPF_USES_P) && compute_p(p, f, node) == ST_PENDING) return ST_PENDING;
    spf_macro_ctx_t mc;
    macro_ctx(p, f, &mc);
    char *buf = arena_alloc(p->a, SPF_EXPLANATION_MAX + 1);
    size_t n;
    const char *why;
    if (spf_macro_expand(txt, tlen, &mc, SPF_MACRO_EXPLAIN, buf, SPF_EXPLANATION_MAX + 1, &n,
                         &why) != SPF_EXPAND_OK)
        return ST_DONE;
    trace_add(p, node, "explanation \"%s\"", pr(p, buf, n));
    *out = buf;
    return ST_DONE;
}

/* A new pass over the check's emptied pass arena; its trace root when tracing, else NULL. */
static tnode_t *pass_begin(spf_check_t *c, pass_t *p)
{
    arena_reset(c->pass_arena);
    memset(p, 0, sizeof *p);
    p->c = c;
    p->a = c->pass_arena;
    if (!c->trace)
        return NULL;
    tnode_t *root = arena_calloc(p->a, 1, sizeof *root);
    root->pub.text = arena_printf(p->a, "spf %s identity, sender %s",
                                  c->helo_identity ? "HELO" : "MAIL FROM", prz(p, c->sender));
    return root;
}

/* The check's evidence, emptied, with the result r and what the request said. */
static spf_evidence_t *ev_begin(spf_check_t *c, spf_result_t r)
{
    spf_evidence_t *ev = &c->ev;
    memset(ev, 0, sizeof *ev);
    ev->result = r;
    ev->helo_identity = c->helo_identity;
    ev->sender = c->sender;
    ev->domain = c->domain;
    return ev;
}

static void run_pass(spf_check_t *c)
{
    pass_t p;
    tnode_t *root = pass_begin(c, &p);
    hres_t h;
    const char *exp = NULL;
    if (check_host(&p, c->domain, NULL, 0, root, &h) == ST_PENDING ||
        (h.result == SPF_FAIL && h.exp_rec != NULL && explain(&p, &h, root, &exp) == ST_PENDING)) {
        c->wait_lookups = p.lookups;
        c->wait_voids = p.voids;
        return;
    }
    spf_evidence_t *ev = ev_begin(c, h.result);
    ev->record = h.rec;
    ev->record_len = h.rec_len;
    if (p.nsteps > 0) {
        spf_step_t *steps = arena_calloc(p.a, p.nsteps, sizeof *steps);
        size_t i = 0;
        for (step_node_t *s = p.steps; s != NULL; s = s->next)
            steps[i++] = s->s;
        ev->steps = steps;
        ev->nsteps = p.nsteps;
    }
    bool decided = h.result == SPF_PASS || h.result == SPF_FAIL || h.result == SPF_SOFTFAIL ||
                   (h.result == SPF_NEUTRAL && h.mech != NULL);
    if (decided) {
        ev->mech = h.mech;
        ev->mech_len = h.mech_len;
        ev->mech_domain = h.mech_domain;
    } else {
        ev->reason = p.why;
        ev->reason_domain = p.why_domain;
        ev->reason_term = p.why_term;
        ev->reason_term_len = p.why_term_len;
    }
    ev->lookups = p.lookups;
    ev->voids = p.voids;
    ev->explanation = exp;
    if (root != NULL) {
        trace_add(&p, root, "result %s (%u DNS-querying term%s, %u void lookup%s)",
                  spf_result_name(h.result), p.lookups, p.lookups == 1 ? "" : "s", p.voids,
                  p.voids == 1 ? "" : "s");
        ev->trace = &root->pub;
    }
    c->done = true;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

static void timer_close(spf_check_t *c)
{
    if (c->timer == NULL) return;
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, timer_closed);
    c->timer = NULL;
}

/* 4.6.4: the evaluation ran out of time while waiting for DNS: temperror. */
static void on_time_limit(uv_timer_t *t)
{
    spf_check_t *c = t->data;
    if (c->done) return;
    pass_t p;
    tnode_t *root = pass_begin(c, &p);
    spf_evidence_t *ev = ev_begin(c, SPF_TEMPERROR);
    ev->lookups = c->wait_lookups;
    ev->voids = c->wait_voids;
    ev->reason = "the evaluation took longer than its time limit (RFC 7208 4.6.4)";
    ev->reason_domain = c->domain;
    if (root != NULL) {
        trace_add(&p, root, "temperror: no result within %u ms (%u DNS-querying term%s counted)",
                  c->limit_ms, c->wait_lookups, c->wait_lookups == 1 ? "" : "s");
        ev->trace = &root->pub;
    }
    c->blocked = NULL;
    c->done = true;
    finish(c);
}

static void finish(spf_check_t *c)
{
    timer_close(c);
    /* queries started early and never needed */
    for (size_t i = 0; i < c->nmemo; i++) {
        memo_t *m = c->memo[i];
        if (m->q != NULL) {
            dns_cancel(m->q);
            m->q = NULL;
            m->ans = &badname_answer;
        }
    }
    spf_done_fn cb = c->cb;
    c->cb = NULL;
    if (cb != NULL) cb(c, c->cb_arg); /* last: it may free c */
}

/* ---- the request -------------------------------------------------------------------------- */

/* <domain> as check_host() wants it: without the final empty label (a trailing dot, which
 * 4.3 allows), and an internationalized name as A-labels (4.3, RFC 5890 2.3). */
static const char *dup_domain(arena_t *a, const char *s, size_t n)
{
    if (n > 0 && s[n - 1] == '.') n--;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x80) continue;
        char ascii[ADDR_DOMAIN_MAX + 1];
        int al = addr_domain_ascii((const unsigned char *)s, n, ADDR_SMTPUTF8, ascii, sizeof ascii);
        if (al > 0) return arena_strndup(a, ascii, (size_t)al);
        break;
    }
    return arena_strndup(a, s, n);
}

/* "local@domain" (arena copy) */
static const char *join_at(arena_t *a, const char *local, const char *domain)
{
    size_t ll = strlen(local), dl = strlen(domain);
    char *s = arena_alloc(a, ll + dl + 2);
    memcpy(s, local, ll);
    s[ll] = '@';
    memcpy(s + ll + 1, domain, dl + 1);
    return s;
}

spf_check_t *spf_check_start(dns_resolver_t *dns, const spf_request_t *req, spf_done_fn done,
                             void *arg)
{
    if (req->ip.family != 4 && req->ip.family != 6)
        msg_panic("spf_check_start: the client address is not set");
    spf_check_t *c;
    if (check_pooled > 0) {
        /* as new: zeroed, with empty arenas (their first chunk kept) */
        c = check_pool[--check_pooled];
        arena_t *a = c->arena, *pa = c->pass_arena;
        memset(c, 0, sizeof *c);
        c->arena = a;
        c->pass_arena = pa;
    } else {
        c = xcalloc(1, sizeof *c);
        c->arena = arena_new_sized(SPF_ARENA_CHUNK);
        c->pass_arena = arena_new_sized(SPF_ARENA_CHUNK);
    }
    c->dns = dns;
    c->ip = req->ip;
    /* 5: an IPv4-mapped IPv6 client is an IPv4 client */
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (c->ip.family == 6 && memcmp(c->ip.a, mapped, sizeof mapped) == 0) {
        memmove(c->ip.a, c->ip.a + 12, 4);
        memset(c->ip.a + 4, 0, 12);
        c->ip.family = 4;
    }
    c->helo_identity = req->helo_identity;
    c->trace = req->trace;
    c->now = req->now != 0 ? req->now : (unsigned long long)time(NULL);
    const char *helo = req->helo != NULL ? req->helo : "";
    const char *s = req->sender != NULL ? req->sender : "";
    size_t sl = strlen(s);
    if (sl >= 2 && s[0] == '<' && s[sl - 1] == '>') {
        s++;
        sl -= 2;
    }
    /* Longer than any SMTP identity (RFC 5321 4.5.3.1): nothing to check (none). */
    bool too_long = sl > SPF_MACRO_VALUE_MAX - 16 || strlen(helo) > SPF_MACRO_VALUE_MAX - 16;
    if (too_long) {
        helo = "";
        s = "";
        sl = 0;
    }
    c->helo = arena_strdup(c->arena, helo);
    c->receiver = req->receiver != NULL && strlen(req->receiver) <= SPF_DOMAIN_MAX
                      ? arena_strdup(c->arena, req->receiver)
                      : NULL;
    if (req->helo_identity || sl == 0) {
        /* 2.3 HELO; 2.4 the null sender is postmaster@HELO */
        c->domain = dup_domain(c->arena, helo, strlen(helo));
        c->local = "postmaster";
        c->sender = join_at(c->arena, "postmaster", c->domain);
        c->sender_domain = c->domain;
    } else {
        const char *at = memchr(s, '@', sl);
        for (const char *q = at; q != NULL; q = memchr(q + 1, '@', sl - (size_t)(q + 1 - s)))
            at = q; /* the last '@': a quoted local part may hold one */
        if (at == NULL) {
            c->domain = dup_domain(c->arena, s, sl);
            c->local = "postmaster";
        } else {
            c->domain = dup_domain(c->arena, at + 1, sl - (size_t)(at + 1 - s));
            size_t ll = (size_t)(at - s);
            /* 4.3: no local part: "postmaster" */
            c->local = ll > 0 ? arena_strndup(c->arena, s, ll) : "postmaster";
        }
        c->sender = join_at(c->arena, c->local, c->domain);
        c->sender_domain = c->domain;
    }
    c->cb = done;
    c->cb_arg = arg;
    c->limit_ms = req->time_limit_ms != 0 ? req->time_limit_ms : SPF_TIME_LIMIT_MS;
    run_pass(c);
    if (!c->done) {
        /* 4.6.4: the limit runs from now; the loop's clock may lag behind while it works */
        uv_loop_t *loop = dns_resolver_loop(dns);
        c->timer = xmalloc(sizeof *c->timer);
        if (uv_timer_init(loop, c->timer) != 0) msg_panic("spf: uv_timer_init failed");
        c->timer->data = c;
        uv_update_time(loop);
        if (uv_timer_start(c->timer, on_time_limit, c->limit_ms, 0) != 0)
            msg_panic("spf: uv_timer_start failed");
    } else {
        /* decided from the cache: the caller reads the result, no callback */
        c->cb = NULL;
        finish(c);
    }
    return c;
}

bool spf_check_done(const spf_check_t *c)
{
    return c->done;
}

spf_result_t spf_check_result(const spf_check_t *c)
{
    return c->done ? c->ev.result : SPF_TEMPERROR;
}

const spf_evidence_t *spf_check_evidence(const spf_check_t *c)
{
    return c->done ? &c->ev : NULL;
}

void spf_check_free(spf_check_t *c)
{
    if (c == NULL) return;
    timer_close(c);
    memo_release(c);
    if (check_pooled < SPF_CHECK_POOL) {
        arena_reset(c->pass_arena);
        arena_reset(c->arena);
        check_pool[check_pooled++] = c;
        return;
    }
    arena_free(c->pass_arena);
    arena_free(c->arena);
    free(c);
}
