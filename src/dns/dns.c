/*
 * dns: see dns.h. The libunbound backend and the answer cache in front of it.
 *
 * libunbound runs in thread mode (ub_ctx_async(ctx, 1)): it resolves in a thread of its own
 * and hands results over a pipe whose read end (ub_fd) is watched with a uv_poll_t;
 * ub_process() then runs our callback in the loop thread. Our callback never calls the
 * user: it stores the answer and moves the waiters to a pending list, which is delivered
 * once ub_process() has returned (so a user callback may free the resolver). Cache hits
 * go through the same pending list, drained by a uv_idle_t that is started only while the
 * list is not empty. The poll handle stays started but is unreferenced while nothing is in
 * flight, so an otherwise idle loop can finish.
 *
 * Decisions:
 * - module-config "iterator": no DNSSEC validation yet (`secure` is always false). A
 *   validator without a trust anchor only costs time; DANE will need the anchor first.
 * - One timer for all timeouts: every lookup gets the same time limit, so deadlines are
 *   ordered as lookups start and a FIFO list replaces a heap or a timer per query. On
 *   expiry the waiters get DNS_TIMEOUT and the unbound query is cancelled.
 * - Positive answers are cached for the smallest TTL of the records and CNAMEs used (at
 *   most DNS_TTL_MAX), negative ones for min(SOA TTL, SOA MINIMUM) (RFC 2308 5, at most
 *   DNS_NEG_TTL_MAX), SERVFAIL and TIMEOUT for DNS_FAIL_TTL seconds (RFC 9520 3: cache
 *   resolution failures briefly, so that a dead blocklist costs one timeout per
 *   DNS_FAIL_TTL, not one per transaction). A TTL of 0 is delivered but not cached.
 * - The cache is a chained hash table (SipHash-1-3 with a random key: the names are chosen
 *   by peers) with LRU eviction beyond cache_max entries; expired entries go when met.
 * - Identical lookups in flight share one unbound query. dns_cancel() removes one waiter;
 *   when the last waiter of a lookup goes, the unbound query is cancelled too.
 * - Zone files are validated by zonefile.c, written in canonical form to memfds and given
 *   to unbound as auth-zones (for-upstream, no fallback) by a config text in another memfd;
 *   the memfds stay open for the resolver's lifetime because unbound reads them lazily.
 * - unbound answers some zones itself (RFC 6761 "test.", "invalid.", the RFC 6303 private
 *   reverse zones): each zone file and forward zone also gets a transparent local-zone, so
 *   that what we were told to use wins. Forwarders do not lift those defaults.
 *
 * Limits: names as rdata.h (255 bytes wire), one class (IN), query types 1..127 and
 * 256..65535 (RFC 6895 3.1: 128..255 are meta types).
 */
#include "dns/dns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <unbound.h>

#include "dns/rdata.h"
#include "dns/zonefile.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

#define DNS_TIMEOUT_DEFAULT_MS 10000u
#define DNS_CACHE_DEFAULT 100000u
#define DNS_TTL_MAX 86400u     /* positive answers, seconds (unbound's cache-max-ttl) */
#define DNS_NEG_TTL_MAX 3600u  /* negative answers (RFC 2308 5 suggests 1 to 3 hours) */
#define DNS_FAIL_TTL 5u        /* SERVFAIL and TIMEOUT */
#define DNS_WHY_MAX 200        /* bytes kept of a failure reason */
#define DNS_SERVER_TEXT 64     /* "IPv6@65535" */
#define DNS_HASH_INITIAL 64

/* unbound tuning for a gate; libunbound's library defaults are sized for one-off lookups
 * (16 ports, 1 MB caches). Our own cache sits in front, so unbound's caches mostly keep
 * delegations and the glue needed to resolve. */
static const char *const ub_options[][2] = {
    {"module-config:", "iterator"},
    {"outgoing-range:", "512"},
    {"num-queries-per-thread:", "1024"},
    {"msg-cache-size:", "4m"},
    {"rrset-cache-size:", "8m"},
};

/* A circular doubly linked list with a sentinel: unlinking needs no head. */
struct link {
    struct link *prev, *next;
};

static void list_init(struct link *l)
{
    l->prev = l->next = l;
}

static bool list_empty(const struct link *l)
{
    return l->next == l;
}

static void list_append(struct link *head, struct link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static void list_remove(struct link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* Moves every element of from to the end of to. */
static void list_splice(struct link *to, struct link *from)
{
    if (list_empty(from))
        return;
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    list_init(from);
}

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* The key of the cache and of the table of lookups in flight. */
struct hnode {
    struct hnode *next;
    uint64_t hash;
    const char *name; /* canonical text */
    size_t len;
    uint16_t type;
};

struct htab {
    struct hnode **b;
    size_t mask; /* buckets - 1; a power of two */
    size_t n;
};

struct answer {
    dns_answer_t pub; /* first: a dns_answer_t pointer is a struct answer pointer */
    size_t refs;
    struct hnode hn;  /* cache key (pub.qname, pub.qtype) */
    struct link lru;  /* in r->lru while cached, most recently used first */
    uint64_t expires; /* uv_now() milliseconds */
    bool cached;
    /* dns_answer_attach(): owned, freed with the answer */
    const void *att_owner;
    void *att;
    dns_attach_free_fn att_free;
};

struct lookup {
    struct hnode hn;
    dns_resolver_t *r;
    struct link waiters;  /* dns_query_t.link */
    struct link deadline; /* in r->deadlines */
    uint64_t due;         /* uv_now() milliseconds */
    int async_id;
    char name[];          /* canonical text */
};

struct dns_query {
    struct link link;   /* in a lookup's waiters, r->pending or a batch being delivered */
    dns_cb cb;
    void *arg;
    struct answer *ans; /* a reference, once the answer is known */
};

struct dns_resolver {
    uv_loop_t *loop;
    struct ub_ctx *ub;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_idle_t idle;
    int handles_open;
    bool closing, idle_on, poll_ref;
    unsigned timeout_ms;
    size_t cache_max;
    uint64_t key[2]; /* SipHash key */
    struct htab cache, inflight;
    struct link lru;       /* struct answer.lru */
    struct link deadlines; /* struct lookup.deadline, earliest first */
    struct link pending;   /* dns_query_t with an answer, to deliver */
    struct link *batch;    /* the list being delivered now, or NULL */
    struct dns_stats st;
    int *fds; /* memfds given to unbound */
    size_t nfds;
};

/* ---- hashing (SipHash-1-3, Aumasson and Bernstein) ---- */

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

/* in[len .. len + 8) must be readable and zero (canon() pads the key so): the last block is
 * then read whole instead of byte by byte. */
static uint64_t siphash13(const unsigned char *in, size_t len, const uint64_t k[2])
{
    uint64_t v0 = 0x736f6d6570736575u ^ k[0], v1 = 0x646f72616e646f6du ^ k[1];
    uint64_t v2 = 0x6c7967656e657261u ^ k[0], v3 = 0x7465646279746573u ^ k[1];
    uint64_t b = (uint64_t)len << 56, m;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&m, in + i, 8); /* little-endian hosts; the value only indexes buckets */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    memcpy(&m, in + i, 8); /* the len % 8 bytes left, then zeros */
    b |= m;
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* name: a key from canon(), zero-padded. */
static uint64_t key_hash(const dns_resolver_t *r, const char *name, size_t len, uint16_t type)
{
    return siphash13((const unsigned char *)name, len, r->key) ^
           ((uint64_t)type * 0x9e3779b97f4a7c15u);
}

/* ---- hash table ---- */

static void htab_init(struct htab *t)
{
    t->b = xcalloc(DNS_HASH_INITIAL, sizeof *t->b);
    t->mask = DNS_HASH_INITIAL - 1;
    t->n = 0;
}

static struct hnode **htab_slot(struct htab *t, uint64_t hash, const char *name, size_t len,
                                uint16_t type)
{
    struct hnode **p = &t->b[hash & t->mask];
    for (; *p != NULL; p = &(*p)->next) {
        struct hnode *h = *p;
        if (h->hash == hash && h->type == type && h->len == len &&
            memcmp(h->name, name, len) == 0)
            break;
    }
    return p;
}

static void htab_grow(struct htab *t)
{
    size_t nb = (t->mask + 1) * 2;
    struct hnode **b = xcalloc(nb, sizeof *b);
    for (size_t i = 0; i <= t->mask; i++) {
        struct hnode *h = t->b[i];
        while (h != NULL) {
            struct hnode *next = h->next;
            h->next = b[h->hash & (nb - 1)];
            b[h->hash & (nb - 1)] = h;
            h = next;
        }
    }
    free(t->b);
    t->b = b;
    t->mask = nb - 1;
}

/* Inserts h, whose key is not in t. */
static void htab_insert(struct htab *t, struct hnode *h)
{
    if (t->n > t->mask && (t->mask + 1) <= SIZE_MAX / 2 / sizeof *t->b)
        htab_grow(t);
    struct hnode **p = &t->b[h->hash & t->mask];
    h->next = *p;
    *p = h;
    t->n++;
}

static void htab_remove(struct htab *t, struct hnode *h)
{
    struct hnode **p = &t->b[h->hash & t->mask];
    while (*p != h) {
        if (*p == NULL)
            msg_panic("dns: hash entry not in its table");
        p = &(*p)->next;
    }
    *p = h->next;
    h->next = NULL;
    t->n--;
}

/* ---- answers ---- */

void dns_answer_ref(const dns_answer_t *ans)
{
    struct answer *a = (struct answer *)(void *)ans;
    a->refs++;
}

void dns_answer_unref(const dns_answer_t *ans)
{
    if (ans == NULL)
        return;
    struct answer *a = (struct answer *)(void *)ans;
    if (a->refs == 0)
        msg_panic("dns: answer unreferenced once too often");
    if (--a->refs == 0) {
        if (a->att_free != NULL)
            a->att_free(a->att);
        free(a);
    }
}

void *dns_answer_attached(const dns_answer_t *ans, const void *owner)
{
    const struct answer *a = (const struct answer *)(const void *)ans;
    return a->att != NULL && a->att_owner == owner ? a->att : NULL;
}

int dns_answer_attach(const dns_answer_t *ans, const void *owner, void *data,
                      dns_attach_free_fn free_fn)
{
    struct answer *a = (struct answer *)(void *)ans;
    if (data == NULL || free_fn == NULL)
        msg_panic("dns_answer_attach: nothing to attach");
    if (a->att != NULL)
        return -1;
    a->att_owner = owner;
    a->att = data;
    a->att_free = free_fn;
    return 0;
}

static size_t align_up(size_t n, size_t a)
{
    if (n > SIZE_MAX - a)
        xmul(SIZE_MAX, 2); /* aborts */
    return (n + a - 1) / a * a;
}

static size_t add_size(size_t a, size_t b)
{
    if (a > SIZE_MAX - b)
        xmul(SIZE_MAX, 2); /* aborts */
    return a + b;
}

/*
 * Builds an answer in one allocation: the struct, the records, the question name, the
 * record text (names and TXT data) and the reason. set may be NULL; why may be NULL.
 * The answer starts with one reference, owned by the caller.
 */
static struct answer *answer_new(dns_status_t status, uint16_t qtype, const char *qname,
                                 size_t qlen, uint32_t ttl, bool secure, const rdata_set_t *set,
                                 const char *why)
{
    size_t count = set != NULL ? set->count : 0;
    size_t textlen = set != NULL ? set->text.len : 0;
    size_t whylen = why != NULL ? strnlen(why, DNS_WHY_MAX) : 0;
    size_t rr_off = align_up(sizeof(struct answer), _Alignof(dns_rr_t));
    size_t name_off = add_size(rr_off, xmul(count, sizeof(dns_rr_t)));
    size_t text_off = add_size(name_off, add_size(qlen, 1));
    size_t why_off = add_size(text_off, textlen);
    size_t total = add_size(why_off, add_size(whylen, 1));

    char *base = xmalloc(total);
    struct answer *a = (struct answer *)(void *)base;
    memset(a, 0, sizeof *a);
    dns_rr_t *rr = (dns_rr_t *)(void *)(base + rr_off);
    char *name = base + name_off, *text = base + text_off, *w = base + why_off;
    memcpy(name, qname, qlen);
    name[qlen] = '\0';
    if (textlen > 0)
        memcpy(text, set->text.data, textlen);
    for (size_t i = 0; i < count; i++) {
        const rdata_rr_t *s = &set->rr[i];
        memset(&rr[i], 0, sizeof rr[i]);
        rr[i].type = s->type;
        rr[i].ttl = s->ttl;
        rr[i].addr = s->addr;
        rr[i].pref = s->pref;
        rr[i].name = s->has_name ? text + s->name_off : NULL;
        if (s->has_txt) {
            rr[i].txt = (const unsigned char *)text + s->txt_off;
            rr[i].txt_len = s->txt_len;
            rr[i].txt_strings = s->txt_strings;
        }
    }
    if (why != NULL)
        memcpy(w, why, whylen);
    w[whylen] = '\0';

    a->pub.status = status;
    a->pub.qtype = qtype;
    a->pub.qname = name;
    a->pub.ttl = ttl;
    a->pub.secure = secure;
    a->pub.count = count;
    a->pub.rr = count > 0 ? rr : NULL;
    a->pub.why = why != NULL ? w : NULL;
    a->refs = 1;
    a->hn.name = name;
    a->hn.len = qlen;
    a->hn.type = qtype;
    list_init(&a->lru);
    return a;
}

/* ---- the cache ---- */

static void cache_drop(dns_resolver_t *r, struct answer *a)
{
    htab_remove(&r->cache, &a->hn);
    list_remove(&a->lru);
    a->cached = false;
    dns_answer_unref(&a->pub);
}

/* The fresh cached answer for the key, or NULL. Drops an expired one. */
static struct answer *cache_get(dns_resolver_t *r, const char *name, size_t len, uint16_t type,
                                uint64_t hash)
{
    struct hnode *h = *htab_slot(&r->cache, hash, name, len, type);
    if (h == NULL)
        return NULL;
    struct answer *a = container_of(h, struct answer, hn);
    if (uv_now(r->loop) >= a->expires) {
        cache_drop(r, a);
        return NULL;
    }
    list_remove(&a->lru);
    list_append(&r->lru, &a->lru); /* the list's first element is the least recently used */
    return a;
}

static void cache_put(dns_resolver_t *r, struct answer *a, uint64_t hash)
{
    if (a->pub.ttl == 0 || r->closing)
        return;
    struct hnode *old = *htab_slot(&r->cache, hash, a->hn.name, a->hn.len, a->hn.type);
    if (old != NULL)
        cache_drop(r, container_of(old, struct answer, hn));
    while (r->cache.n >= r->cache_max && !list_empty(&r->lru))
        cache_drop(r, container_of(r->lru.next, struct answer, lru));
    a->hn.hash = hash;
    a->expires = uv_now(r->loop) + (uint64_t)a->pub.ttl * 1000u;
    a->cached = true;
    a->refs++;
    htab_insert(&r->cache, &a->hn);
    list_append(&r->lru, &a->lru);
}

/* ---- delivery ---- */

static void idle_cb(uv_idle_t *h);

static void kick(dns_resolver_t *r)
{
    if (!r->idle_on && !r->closing) {
        uv_idle_start(&r->idle, idle_cb);
        r->idle_on = true;
    }
}

static void query_free(dns_query_t *q)
{
    if (q->ans != NULL)
        dns_answer_unref(&q->ans->pub);
    free(q);
}

/* Runs the callbacks of everything pending now; what they queue waits for the next turn. */
static void drain(dns_resolver_t *r)
{
    struct link batch;
    list_init(&batch);
    list_splice(&batch, &r->pending);
    r->batch = &batch;
    while (!list_empty(&batch)) {
        dns_query_t *q = container_of(batch.next, dns_query_t, link);
        list_remove(&q->link);
        struct answer *a = q->ans;
        dns_cb cb = q->cb;
        void *arg = q->arg;
        free(q);
        cb(&a->pub, arg);
        dns_answer_unref(&a->pub);
        /* dns_resolver_free() in cb emptied the batch; r stays valid until its handles
         * have closed, which happens on a later loop turn. */
    }
    r->batch = NULL;
    if (list_empty(&r->pending) && r->idle_on && !r->closing) {
        uv_idle_stop(&r->idle);
        r->idle_on = false;
    }
}

static void idle_cb(uv_idle_t *h)
{
    drain(h->data);
}

/* ---- lookups in flight ---- */

static void poll_ref_update(dns_resolver_t *r)
{
    bool want = r->inflight.n > 0;
    if (want == r->poll_ref || r->closing)
        return;
    if (want)
        uv_ref((uv_handle_t *)&r->poll);
    else
        uv_unref((uv_handle_t *)&r->poll);
    r->poll_ref = want;
}

static void timer_cb(uv_timer_t *h);

static void timer_arm(dns_resolver_t *r)
{
    if (list_empty(&r->deadlines)) {
        uv_timer_stop(&r->timer);
        return;
    }
    struct lookup *lk = container_of(r->deadlines.next, struct lookup, deadline);
    uint64_t now = uv_now(r->loop);
    uv_timer_start(&r->timer, timer_cb, lk->due > now ? lk->due - now : 0, 0);
}

/* Takes lk out of the tables and frees it; its waiters must have gone. */
static void lookup_free(dns_resolver_t *r, struct lookup *lk)
{
    bool first = r->deadlines.next == &lk->deadline;
    htab_remove(&r->inflight, &lk->hn);
    list_remove(&lk->deadline);
    free(lk);
    if (first)
        timer_arm(r);
    poll_ref_update(r);
}

/* Hands a to every waiter of lk (through the pending list), caches it, frees lk. */
static void lookup_finish(dns_resolver_t *r, struct lookup *lk, struct answer *a)
{
    cache_put(r, a, lk->hn.hash);
    while (!list_empty(&lk->waiters)) {
        dns_query_t *q = container_of(lk->waiters.next, dns_query_t, link);
        list_remove(&q->link);
        dns_answer_ref(&a->pub);
        q->ans = a;
        list_append(&r->pending, &q->link);
    }
    lookup_free(r, lk);
}

static const char *rcode_name(int rcode)
{
    switch (rcode) {
    case 1:
        return "FORMERR";
    case 2:
        return "SERVFAIL";
    case 4:
        return "NOTIMP";
    case 5:
        return "REFUSED";
    default:
        return NULL;
    }
}

static uint32_t cap(uint32_t v, uint32_t max)
{
    return v < max ? v : max;
}

/* The answer for lk from libunbound's result (res may be NULL when err is set). */
static struct answer *answer_from_result(struct lookup *lk, int err, struct ub_result *res)
{
    const char *name = lk->name;
    size_t len = lk->hn.len;
    uint16_t type = lk->hn.type;
    char why[DNS_WHY_MAX + 1];
    if (err != 0 || res == NULL) {
        snprintf(why, sizeof why, "resolver: %s", ub_strerror(err));
        return answer_new(DNS_SERVFAIL, type, name, len, DNS_FAIL_TTL, false, NULL, why);
    }
    if (res->bogus) {
        snprintf(why, sizeof why, "%s",
                 res->why_bogus != NULL ? res->why_bogus : "DNSSEC validation failed");
        return answer_new(DNS_SERVFAIL, type, name, len, DNS_FAIL_TTL, false, NULL, why);
    }
    if (res->rcode != 0 && res->rcode != 3) {
        const char *rn = rcode_name(res->rcode);
        if (res->why_bogus != NULL)
            snprintf(why, sizeof why, "%s", res->why_bogus);
        else if (rn != NULL)
            snprintf(why, sizeof why, "%s", rn);
        else
            snprintf(why, sizeof why, "rcode %d", res->rcode);
        return answer_new(DNS_SERVFAIL, type, name, len, DNS_FAIL_TTL, false, NULL, why);
    }

    unsigned char qwire[RDATA_WIRE_MAX];
    size_t qwlen;
    rdata_set_t set;
    rdata_set_init(&set);
    struct answer *a;
    if (rdata_name_parse(name, len, qwire, &qwlen) != 0 || res->answer_packet == NULL ||
        res->answer_len <= 0 ||
        rdata_parse_reply(res->answer_packet, (size_t)res->answer_len, qwire, qwlen, type,
                          &set) != 0) {
        a = answer_new(DNS_SERVFAIL, type, name, len, DNS_FAIL_TTL, false, NULL,
                       "malformed answer");
    } else if (res->rcode == 0 && set.count > 0) {
        uint32_t ttl = cap(set.has_ttl ? set.min_ttl : 0, DNS_TTL_MAX);
        a = answer_new(DNS_OK, type, name, len, ttl, res->secure != 0, &set, NULL);
    } else if (res->rcode == 0 && res->havedata) {
        /* unbound saw records that the parser did not attribute to the question */
        a = answer_new(DNS_SERVFAIL, type, name, len, DNS_FAIL_TTL, false, NULL,
                       "answer records do not match the question");
    } else {
        uint32_t ttl = set.has_neg_ttl ? set.neg_ttl : (res->ttl > 0 ? (uint32_t)res->ttl : 0);
        a = answer_new(res->rcode == 3 ? DNS_NXDOMAIN : DNS_NODATA, type, name, len,
                       cap(ttl, DNS_NEG_TTL_MAX), res->secure != 0, NULL, NULL);
    }
    rdata_set_free(&set);
    return a;
}

static void ub_done(void *arg, int err, struct ub_result *res)
{
    struct lookup *lk = arg;
    dns_resolver_t *r = lk->r;
    struct answer *a = answer_from_result(lk, err, res);
    ub_resolve_free(res);
    if (a->pub.status == DNS_SERVFAIL && log_enabled(LOG_LVL_DEBUG)) {
        str_t line = STR_INIT;
        log_quote(&line, lk->name, lk->hn.len, LOG_VALUE_MAX);
        str_appendf(&line, " %s: ", dns_type_name(lk->hn.type));
        log_escape(&line, a->pub.why, strlen(a->pub.why), LOG_VALUE_MAX);
        msg_debug("dns: servfail %s", str_cstr(&line));
        str_free(&line);
    }
    lookup_finish(r, lk, a);
    dns_answer_unref(&a->pub);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    (void)events;
    dns_resolver_t *r = h->data;
    if (status < 0) {
        msg_warn("dns: polling the resolver pipe: %s", uv_strerror(status));
        return;
    }
    int rc = ub_process(r->ub);
    if (rc != 0)
        msg_warn("dns: resolver: %s", ub_strerror(rc));
    drain(r);
}

static void timer_cb(uv_timer_t *h)
{
    dns_resolver_t *r = h->data;
    uint64_t now = uv_now(r->loop);
    while (!list_empty(&r->deadlines)) {
        struct lookup *lk = container_of(r->deadlines.next, struct lookup, deadline);
        if (lk->due > now)
            break;
        char why[64];
        snprintf(why, sizeof why, "no answer within %u ms", r->timeout_ms);
        struct answer *a = answer_new(DNS_TIMEOUT, lk->hn.type, lk->name, lk->hn.len,
                                      DNS_FAIL_TTL, false, NULL, why);
        (void)ub_cancel(r->ub, lk->async_id);
        r->st.timeouts++;
        lookup_finish(r, lk, a);
        dns_answer_unref(&a->pub);
    }
    timer_arm(r);
    drain(r);
}

/* ---- names and types ---- */

/* Canonical text of name into key (RDATA_TEXT_MAX bytes). Returns 0, or -1 for a name that
 * cannot be asked (syntax, length, the root). */
/* The common case without a round trip through wire form: letters, digits, '-', '_' and
 * dots, no escapes, no empty label, labels of at most 63 and names of at most 253 octets.
 * Returns 0 with the lower-case key, or -1 to let the general path decide. */
static int canon_fast(const char *name, char *key, size_t *klen)
{
    /* letters folded to lower case, digits, '-' and '_' as themselves, '.' as '.', and 0
     * for every byte that needs the general path. Every kept byte but '-' maps above '.',
     * so one comparison passes the common byte. */
    static unsigned char map[256];
    if (map['a'] == 0) {
        for (int c = 'a'; c <= 'z'; c++)
            map[c] = (unsigned char)c, map[c - 32] = (unsigned char)c;
        for (int c = '0'; c <= '9'; c++)
            map[c] = (unsigned char)c;
        map['-'] = '-', map['_'] = '_', map['.'] = '.';
    }
    /* 253 octets and one trailing dot at most; strnlen() reads no further than that */
    size_t len = strnlen(name, DNS_NAME_MAX + 2);
    if (len > DNS_NAME_MAX + 1)
        return -1;
    const unsigned char *p = (const unsigned char *)name;
    size_t dot = SIZE_MAX; /* the last dot: as if one stood before the name */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = map[p[i]];
        key[i] = (char)c;
        if (c > '.' || c == '-')
            continue;
        if (c != '.')
            return -1; /* a byte the general path must judge */
        if (i - dot - 1 == 0 || i - dot - 1 > 63)
            return -1; /* an empty label (or the root), or a long one: the general path decides */
        dot = i;
    }
    if (len - dot - 1 > 63)
        return -1;
    size_t n = len;
    if (n > 0 && name[n - 1] == '.')
        n--; /* one trailing dot: the absolute form of the same name */
    if (n == 0 || n > DNS_NAME_MAX)
        return -1;
    key[n] = '\0';
    *klen = n;
    return 0;
}

/* As canon_fast() for any name, the key followed by 8 zero bytes for key_hash(). */
static int canon(const char *name, char *key, size_t *klen)
{
    if (name == NULL)
        return -1;
    if (canon_fast(name, key, klen) != 0) {
        unsigned char wire[RDATA_WIRE_MAX];
        size_t wlen;
        if (rdata_name_parse(name, strlen(name), wire, &wlen) != 0 || wlen < 2)
            return -1;
        *klen = rdata_name_format(wire, wlen, key);
    }
    if (*klen + 8 > RDATA_TEXT_MAX)
        msg_panic("dns: canonical name longer than its buffer");
    memset(key + *klen, 0, 8);
    return 0;
}

static bool type_ok(uint16_t type)
{
    return type != 0 && (type < 128 || type > 255);
}

const char *dns_type_name(uint16_t type)
{
    switch (type) {
    case DNS_T_A:
        return "A";
    case DNS_T_NS:
        return "NS";
    case DNS_T_CNAME:
        return "CNAME";
    case DNS_T_SOA:
        return "SOA";
    case DNS_T_PTR:
        return "PTR";
    case DNS_T_MX:
        return "MX";
    case DNS_T_TXT:
        return "TXT";
    case DNS_T_AAAA:
        return "AAAA";
    default: {
        static _Thread_local char buf[sizeof "TYPE65535"];
        snprintf(buf, sizeof buf, "TYPE%u", (unsigned)type);
        return buf;
    }
    }
}

const char *dns_status_name(dns_status_t s)
{
    switch (s) {
    case DNS_OK:
        return "ok";
    case DNS_NODATA:
        return "nodata";
    case DNS_NXDOMAIN:
        return "nxdomain";
    case DNS_SERVFAIL:
        return "servfail";
    case DNS_TIMEOUT:
        return "timeout";
    case DNS_BADNAME:
        return "badname";
    }
    return "unknown";
}

bool dns_status_temporary(dns_status_t s)
{
    return s == DNS_SERVFAIL || s == DNS_TIMEOUT;
}

/* ---- queries ---- */

const dns_answer_t *dns_cached(dns_resolver_t *r, const char *name, uint16_t type)
{
    char key[RDATA_TEXT_MAX];
    size_t klen;
    if (r == NULL || r->closing || canon(name, key, &klen) != 0)
        return NULL;
    struct answer *a = cache_get(r, key, klen, type, key_hash(r, key, klen, type));
    if (a == NULL)
        return NULL;
    r->st.queries++;
    r->st.cache_hits++;
    return &a->pub;
}

int dns_query(dns_resolver_t *r, const char *name, uint16_t type, dns_cb cb, void *arg,
              dns_query_t **qp)
{
    if (qp != NULL)
        *qp = NULL;
    char key[RDATA_TEXT_MAX];
    size_t klen;
    if (r == NULL || r->closing || cb == NULL || !type_ok(type) || canon(name, key, &klen) != 0)
        return -1;
    uint64_t hash = key_hash(r, key, klen, type);
    r->st.queries++;

    dns_query_t *q = xmalloc(sizeof *q);
    q->cb = cb;
    q->arg = arg;
    q->ans = NULL;
    struct answer *a = cache_get(r, key, klen, type, hash);
    if (a != NULL) {
        r->st.cache_hits++;
        dns_answer_ref(&a->pub);
        q->ans = a;
        list_append(&r->pending, &q->link);
        kick(r);
    } else {
        struct hnode *h = *htab_slot(&r->inflight, hash, key, klen, type);
        if (h != NULL) {
            r->st.coalesced++;
            list_append(&container_of(h, struct lookup, hn)->waiters, &q->link);
        } else {
            struct lookup *lk = xmalloc(add_size(sizeof *lk, klen + 1));
            memcpy(lk->name, key, klen + 1);
            lk->hn.hash = hash;
            lk->hn.name = lk->name;
            lk->hn.len = klen;
            lk->hn.type = type;
            lk->r = r;
            list_init(&lk->waiters);
            int rc = ub_resolve_async(r->ub, lk->name, type, 1 /* IN */, lk, ub_done,
                                      &lk->async_id);
            if (rc != 0) {
                char why[DNS_WHY_MAX];
                snprintf(why, sizeof why, "resolver: %s", ub_strerror(rc));
                /* Not cached: the resolver itself is in trouble, not the name. */
                q->ans = answer_new(DNS_SERVFAIL, type, key, klen, 0, false, NULL, why);
                free(lk);
                list_append(&r->pending, &q->link);
                kick(r);
            } else {
                r->st.upstream++;
                lk->due = uv_now(r->loop) + r->timeout_ms;
                bool was_empty = list_empty(&r->deadlines);
                list_append(&r->deadlines, &lk->deadline);
                htab_insert(&r->inflight, &lk->hn);
                if (was_empty)
                    timer_arm(r);
                poll_ref_update(r);
                list_append(&lk->waiters, &q->link);
            }
        }
    }
    if (qp != NULL)
        *qp = q;
    return 0;
}

void dns_cancel(dns_query_t *q)
{
    if (q == NULL)
        return;
    struct link *next = q->link.next;
    list_remove(&q->link);
    if (q->ans == NULL && list_empty(next)) {
        /* q was the last waiter of a lookup: next is its waiters sentinel */
        struct lookup *lk = container_of(next, struct lookup, waiters);
        (void)ub_cancel(lk->r->ub, lk->async_id);
        lookup_free(lk->r, lk);
    }
    query_free(q);
}

void dns_get_stats(const dns_resolver_t *r, struct dns_stats *out)
{
    *out = r->st;
    out->cache_entries = r->cache.n;
}

/* ---- configuration ---- */

static bool is_loopback(const ipaddr_t *ip)
{
    static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return (ip->family == 4 && ip->a[0] == 127) ||
           (ip->family == 6 && memcmp(ip->a, v6lo, 16) == 0);
}

/*
 * Parses "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 address in s[0..len) into unbound's
 * "IP@PORT" form in out (DNS_SERVER_TEXT bytes). Returns 0 or -1.
 */
static int parse_server(const char *s, size_t len, char *out, bool *loopback)
{
    const char *addr = s, *port = NULL;
    size_t alen = len, plen = 0;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return -1;
        addr = s + 1;
        alen = (size_t)(close - addr);
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest > 0) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
            plen = rest - 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL) {
            alen = (size_t)(colon - s); /* one colon: IPv4:PORT */
            port = colon + 1;
            plen = len - alen - 1;
        }
    }
    ipaddr_t ip;
    if (ipaddr_parse(&ip, addr, alen) != 0)
        return -1;
    unsigned long pn = 53;
    if (port != NULL) {
        if (plen == 0 || plen > 5)
            return -1;
        pn = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return -1;
            pn = pn * 10 + (unsigned long)(port[i] - '0');
        }
        if (pn == 0 || pn > 65535)
            return -1;
    }
    char a[IPADDR_STRLEN];
    snprintf(out, DNS_SERVER_TEXT, "%s@%lu", ipaddr_format(&ip, a, sizeof a), pn);
    *loopback = is_loopback(&ip);
    return 0;
}

static void set_err(char *err, size_t errlen, const char *what, const char *val,
                    const char *why)
{
    if (err == NULL || errlen == 0)
        return;
    str_t s = STR_INIT;
    str_appendz(&s, what);
    if (val != NULL) {
        str_appendc(&s, ' ');
        log_quote(&s, val, strlen(val), LOG_VALUE_MAX);
    }
    str_appendf(&s, ": %s", why);
    snprintf(err, errlen, "%s", str_cstr(&s));
    str_free(&s);
}

/* Writes buf[0..len) to a new memfd. Returns the fd or -1 (errno set). */
static int memfd_with(const char *label, const char *buf, size_t len)
{
    int fd = memfd_create(label, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            errno = e;
            return -1;
        }
        off += (size_t)n;
    }
    return fd;
}

static void keep_fd(dns_resolver_t *r, int fd)
{
    r->fds = xrealloc(r->fds, xmul(r->nfds + 1, sizeof *r->fds));
    r->fds[r->nfds++] = fd;
}

/* An origin goes into a quoted string of unbound's configuration: printable, no quote. */
static bool origin_ok(const char *o)
{
    if (*o == '\0')
        return false;
    for (; *o != '\0'; o++)
        if ((unsigned char)*o <= ' ' || (unsigned char)*o >= 0x7f || *o == '"')
            return false;
    return true;
}

/*
 * Loads the zone files and hands unbound the configuration text in conf (to which the
 * auth-zones are appended). unbound serves some zones itself by default (RFC 6761 "test.",
 * "invalid.", RFC 6303 private reverse zones...); a transparent local-zone at each zone we
 * were given lets its queries through to the auth-zone or stub.
 */
static int load_zones(dns_resolver_t *r, const dns_options_t *opt, str_t *conf, char *err,
                      size_t errlen)
{
    int rc = -1;
    for (size_t i = 0; i < opt->nzone_files; i++) {
        char zerr[512];
        zonefile_t *zf = zonefile_load(opt->zone_files[i], zerr, sizeof zerr);
        if (zf == NULL) {
            set_err(err, errlen, "dns_zone_files", NULL, zerr);
            goto out;
        }
        const char *origin = zonefile_origin(zf);
        if (!origin_ok(origin)) {
            set_err(err, errlen, "dns_zone_files", opt->zone_files[i], "unusable zone name");
            zonefile_free(zf);
            goto out;
        }
        size_t clen;
        const char *text = zonefile_canonical(zf, &clen);
        int fd = memfd_with("mailblock-zone", text, clen);
        if (fd < 0) {
            set_err(err, errlen, "dns_zone_files", opt->zone_files[i], strerror(errno));
            zonefile_free(zf);
            goto out;
        }
        keep_fd(r, fd);
        str_appendf(conf,
                    "server:\n"
                    "  local-zone: \"%s\" transparent\n"
                    "auth-zone:\n"
                    "  name: \"%s\"\n"
                    "  zonefile: \"/proc/self/fd/%d\"\n"
                    "  for-upstream: yes\n"
                    /* answered before any forwarder is asked: with for-upstream alone, a
                     * forward zone for "." takes precedence over the auth-zone */
                    "  for-downstream: yes\n"
                    "  fallback-enabled: no\n",
                    origin, origin, fd);
        zonefile_free(zf);
    }
    if (conf->len > 0) {
        int fd = memfd_with("mailblock-unbound.conf", conf->data, conf->len);
        if (fd < 0) {
            set_err(err, errlen, "dns_zone_files", NULL, strerror(errno));
            goto out;
        }
        keep_fd(r, fd);
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        int ub = ub_ctx_config(r->ub, path);
        if (ub != 0) {
            set_err(err, errlen, "dns_zone_files", NULL, ub_strerror(ub));
            goto out;
        }
    }
    rc = 0;
out:
    return rc;
}

static int configure(dns_resolver_t *r, const dns_options_t *opt, char *err, size_t errlen)
{
    bool loopback = false, lo;
    char server[DNS_SERVER_TEXT];
    int rc = ub_ctx_async(r->ub, 1);
    for (size_t i = 0; rc == 0 && i < sizeof ub_options / sizeof ub_options[0]; i++) {
        rc = ub_ctx_set_option(r->ub, ub_options[i][0], ub_options[i][1]);
    }
    if (rc != 0) {
        set_err(err, errlen, "dns", NULL, ub_strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < opt->nforwarders; i++) {
        const char *f = opt->forwarders[i];
        if (parse_server(f, strlen(f), server, &lo) != 0) {
            set_err(err, errlen, "dns_forwarders", f, "expected IP, IP:PORT or [IPv6]:PORT");
            return -1;
        }
        if ((rc = ub_ctx_set_fwd(r->ub, server)) != 0) {
            set_err(err, errlen, "dns_forwarders", f, ub_strerror(rc));
            return -1;
        }
        loopback |= lo;
    }
    str_t conf = STR_INIT; /* unbound configuration text, see load_zones() */
    for (size_t i = 0; i < opt->nforward_zones; i++) {
        const char *fz = opt->forward_zones[i];
        const char *eq = strchr(fz, '=');
        unsigned char wire[RDATA_WIRE_MAX];
        size_t wlen;
        char zone[RDATA_TEXT_MAX + 1];
        if (eq == NULL || rdata_name_parse(fz, (size_t)(eq - fz), wire, &wlen) != 0 ||
            parse_server(eq + 1, strlen(eq + 1), server, &lo) != 0) {
            set_err(err, errlen, "dns_forward_zones", fz, "expected ZONE=IP[:PORT]");
            goto fail;
        }
        size_t zl = rdata_name_format(wire, wlen, zone);
        zone[zl] = '.';
        zone[zl + 1] = '\0';
        /* isprime 0: the server is authoritative for zone (rbldnsd, NSD) and is asked
         * directly, without recursion desired. */
        if ((rc = ub_ctx_set_stub(r->ub, zl > 0 ? zone : ".", server, 0)) != 0) {
            set_err(err, errlen, "dns_forward_zones", fz, ub_strerror(rc));
            goto fail;
        }
        str_appendf(&conf, "server:\n  local-zone: \"%s\" transparent\n",
                    zl > 0 ? zone : ".");
        loopback |= lo;
    }
    if (loopback && (rc = ub_ctx_set_option(r->ub, "do-not-query-localhost:", "no")) != 0) {
        set_err(err, errlen, "dns", NULL, ub_strerror(rc));
        goto fail;
    }
    if (load_zones(r, opt, &conf, err, errlen) != 0)
        goto fail;
    str_free(&conf);
    return 0;
fail:
    str_free(&conf);
    return -1;
}

/* ---- life cycle ---- */

static void resolver_release(dns_resolver_t *r)
{
    for (size_t i = 0; i < r->nfds; i++)
        close(r->fds[i]);
    free(r->fds);
    free(r->cache.b);
    free(r->inflight.b);
    free(r);
}

static void on_close(uv_handle_t *h)
{
    dns_resolver_t *r = h->data;
    if (--r->handles_open == 0)
        resolver_release(r);
}

dns_resolver_t *dns_resolver_new(uv_loop_t *loop, const dns_options_t *opt, char *err,
                                 size_t errlen)
{
    static const dns_options_t none;
    if (opt == NULL)
        opt = &none;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    dns_resolver_t *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->timeout_ms = opt->timeout_ms ? opt->timeout_ms : DNS_TIMEOUT_DEFAULT_MS;
    r->cache_max = opt->cache_max ? opt->cache_max : DNS_CACHE_DEFAULT;
    list_init(&r->lru);
    list_init(&r->deadlines);
    list_init(&r->pending);
    htab_init(&r->cache);
    htab_init(&r->inflight);
    if (getrandom(r->key, sizeof r->key, 0) != (ssize_t)sizeof r->key) {
        set_err(err, errlen, "dns", NULL, "no random bytes for the cache key");
        goto fail;
    }
    r->ub = ub_ctx_create();
    if (r->ub == NULL) {
        set_err(err, errlen, "dns", NULL, "cannot create the unbound context");
        goto fail;
    }
    if (configure(r, opt, err, errlen) != 0)
        goto fail;
    int rc = uv_poll_init(loop, &r->poll, ub_fd(r->ub));
    if (rc != 0) {
        set_err(err, errlen, "dns", NULL, uv_strerror(rc));
        goto fail;
    }
    r->poll.data = r;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_idle_init(loop, &r->idle);
    r->idle.data = r;
    r->handles_open = 3;
    uv_poll_start(&r->poll, UV_READABLE, poll_cb);
    uv_unref((uv_handle_t *)&r->poll);
    return r;
fail:
    ub_ctx_delete(r->ub);
    resolver_release(r);
    return NULL;
}

uv_loop_t *dns_resolver_loop(const dns_resolver_t *r)
{
    return r->loop;
}

void dns_resolver_free(dns_resolver_t *r)
{
    if (r == NULL || r->closing)
        return;
    r->closing = true;
    struct link *lists[] = {&r->pending, r->batch};
    for (size_t i = 0; i < 2; i++) {
        while (lists[i] != NULL && !list_empty(lists[i])) {
            dns_query_t *q = container_of(lists[i]->next, dns_query_t, link);
            list_remove(&q->link);
            query_free(q);
        }
    }
    while (!list_empty(&r->deadlines)) {
        struct lookup *lk = container_of(r->deadlines.next, struct lookup, deadline);
        while (!list_empty(&lk->waiters)) {
            dns_query_t *q = container_of(lk->waiters.next, dns_query_t, link);
            list_remove(&q->link);
            query_free(q);
        }
        htab_remove(&r->inflight, &lk->hn);
        list_remove(&lk->deadline);
        free(lk);
    }
    while (!list_empty(&r->lru))
        cache_drop(r, container_of(r->lru.next, struct answer, lru));
    /* Closing the poll handle takes the fd out of epoll now, before ub_ctx_delete()
     * closes it; the bg thread is stopped and joined there, its queries dropped. */
    uv_close((uv_handle_t *)&r->poll, on_close);
    uv_close((uv_handle_t *)&r->timer, on_close);
    uv_close((uv_handle_t *)&r->idle, on_close);
    ub_ctx_delete(r->ub);
    r->ub = NULL;
}
