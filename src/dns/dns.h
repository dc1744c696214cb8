/*
 * dns: the asynchronous resolver every check uses, inside the libuv loop.
 *
 * Backend: libunbound, resolving recursively by itself by default (blocklists refuse
 * queries relayed through public resolvers), or forwarding to `dns_forwarders`, or asking
 * a given server for one zone (`dns_forward_zones`, e.g. a local rbldnsd mirror of a
 * blocklist). Zones given as RFC 1035 master files (`dns_zone_files`, `--zone`) are loaded
 * into libunbound as authoritative zones after src/dns/zonefile.c has validated them, so the
 * same resolver code path answers tests and what-if questions, and nothing else is faked.
 *
 * Answers keep NXDOMAIN, NODATA, SERVFAIL and timeout apart (STYLE.md). They are cached in
 * front of libunbound for their TTL (negative answers for the SOA minimum, RFC 2308), so a
 * warm decision costs no thread hop; identical queries in flight are coalesced.
 *
 * Ownership: a dns_answer_t is immutable and reference counted. The pointer handed to a
 * callback or returned by dns_cached() is borrowed for the duration of the call (callback)
 * or until control returns to the loop (dns_cached); dns_answer_ref() keeps it longer and
 * dns_answer_unref() releases it.
 */
#ifndef MB_DNS_DNS_H
#define MB_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/ipaddr.h"

#define DNS_NAME_MAX 253 /* presentation form without the trailing dot (RFC 1035 2.3.4) */

enum dns_type {
    DNS_T_A = 1,
    DNS_T_NS = 2,
    DNS_T_CNAME = 5,
    DNS_T_SOA = 6,
    DNS_T_PTR = 12,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_AAAA = 28,
};

typedef enum dns_status {
    DNS_OK = 0,    /* at least one record of the asked type */
    DNS_NODATA,    /* the name exists, with no record of that type */
    DNS_NXDOMAIN,  /* the name does not exist */
    DNS_SERVFAIL,  /* temporary: server failure, refused, lame or bogus answer */
    DNS_TIMEOUT,   /* temporary: no answer within the time limit */
    DNS_BADNAME,   /* permanent: the name cannot be asked (syntax, length) */
} dns_status_t;

typedef struct dns_rr {
    uint16_t type;
    uint32_t ttl;
    ipaddr_t addr;            /* A, AAAA */
    uint16_t pref;            /* MX preference */
    const char *name;         /* PTR, CNAME, NS, MX exchange, SOA MNAME: lower case, no
                                 trailing dot, bytes outside [a-z0-9-_*] escaped as \DDD
                                 (RFC 1035 5.1); the root (a null MX, RFC 7505) is "";
                                 NULL for other types */
    const unsigned char *txt; /* TXT: the character-strings concatenated (RFC 7208 3.3) */
    size_t txt_len;
    unsigned txt_strings;     /* TXT: how many character-strings were joined */
} dns_rr_t;

typedef struct dns_answer {
    dns_status_t status;
    uint16_t qtype;
    const char *qname;      /* as asked, lower case, no trailing dot */
    uint32_t ttl;           /* the TTL the answer was cached with */
    bool secure;            /* DNSSEC validated (always false for now: no validator) */
    size_t count;           /* records of qtype (after CNAME chains) */
    const dns_rr_t *rr;
    const char *why;        /* a short reason for SERVFAIL/TIMEOUT/BADNAME, or NULL; it
                               may quote remote data: log it through log_quote() */
} dns_answer_t;

typedef struct dns_options {
    const char *const *forwarders;   /* "IP", "IP:PORT", "[IPv6]:PORT"; none: recursive */
    size_t nforwarders;
    const char *const *forward_zones; /* "zone=IP[:PORT]" pairs: ask that server for zone */
    size_t nforward_zones;
    const char *const *zone_files;   /* RFC 1035 master files, one zone each */
    size_t nzone_files;
    unsigned timeout_ms;             /* per query; 0 means the default (10 s) */
    size_t cache_max;                /* entries; 0 means the default (100,000) */
} dns_options_t;

typedef struct dns_resolver dns_resolver_t;

/* Called once per dns_query() that returned 0, from the loop, never from inside
 * dns_query(). ans is borrowed (see above). */
typedef void (*dns_cb)(const dns_answer_t *ans, void *arg);

/*
 * Creates a resolver on loop. Zone files are read and validated now: a bad file, a bad
 * forwarder or an unbound error returns NULL with "what: why" (file:line for zone
 * files) in err.
 */
dns_resolver_t *dns_resolver_new(uv_loop_t *loop, const dns_options_t *opt, char *err,
                                 size_t errlen);
/* The loop the resolver runs on (for callers that need timers beside their lookups). */
uv_loop_t *dns_resolver_loop(const dns_resolver_t *r);
/* Cancels queries in flight (their callbacks are not called), frees the cache (answers still
 * referenced stay valid until unreferenced), closes the loop handles. Accepts NULL. The loop
 * must run once more for the handles to close. */
void dns_resolver_free(dns_resolver_t *r);

/* A cached, unexpired answer for (name, type), or NULL. Borrowed until control returns to
 * the loop. name: presentation form, with or without the trailing dot, any case. */
const dns_answer_t *dns_cached(dns_resolver_t *r, const char *name, uint16_t type);

typedef struct dns_query dns_query_t;
/*
 * Starts a lookup. Returns 0 and, if q is not NULL, a handle valid until cb runs or
 * dns_cancel() is called; cb runs exactly once, later, from the loop (also on a cache hit).
 * Returns -1 without calling cb when the name cannot be asked (syntax, over 255 bytes in
 * wire form, a label over 63, the root), the type is 0 or a meta type (128..255), or the
 * resolver is shutting down. Handles die with dns_resolver_free().
 */
int dns_query(dns_resolver_t *r, const char *name, uint16_t type, dns_cb cb, void *arg,
              dns_query_t **q);
/* The callback of q will not be called. Other queries for the same name are not affected;
 * when q was the last one waiting, the upstream query is abandoned. */
void dns_cancel(dns_query_t *q);

void dns_answer_ref(const dns_answer_t *ans);
void dns_answer_unref(const dns_answer_t *ans);

/*
 * Data a layer above derives from an answer (the SPF evaluator keeps the parsed records of
 * a TXT answer), so that it is computed once per answer rather than once per use, and lives
 * exactly as long as the answer: free_fn(data) runs when the answer's last reference goes
 * (the cache drops it when it expires or is evicted, and every user has released it). The
 * answer itself stays immutable. One attachment per answer; owner is the address of a
 * static object of the layer and tells attachments of different layers apart. The caller
 * bounds the size of what it attaches (the cache bounds the number of answers). Only
 * answers this module made (handed to a callback or returned by dns_cached()) carry one.
 * Like everything here, for the loop's thread only.
 *
 * dns_answer_attached: the data attached by owner, or NULL.
 * dns_answer_attach: attaches data (not NULL); returns 0, or -1 when the answer carries an
 * attachment already (data then stays the caller's).
 */
typedef void (*dns_attach_free_fn)(void *data);
void *dns_answer_attached(const dns_answer_t *ans, const void *owner);
int dns_answer_attach(const dns_answer_t *ans, const void *owner, void *data,
                      dns_attach_free_fn free_fn);

bool dns_status_temporary(dns_status_t s);
const char *dns_status_name(dns_status_t s); /* "ok", "nodata", "nxdomain", "servfail",
                                                "timeout", "badname" */
const char *dns_type_name(uint16_t type); /* "A", ..., else "TYPEnnn" (RFC 3597 5) */

/* queries: dns_query() calls accepted plus dns_cached() hits (so that "dns_cached(), then
 * dns_query() on a miss" counts one query); cache_hits: answered from the cache by either;
 * coalesced: joined a lookup in flight; upstream: lookups sent to libunbound; timeouts:
 * lookups that hit timeout_ms. */
struct dns_stats {
    uint64_t queries, cache_hits, coalesced, upstream, timeouts;
    size_t cache_entries;
};
void dns_get_stats(const dns_resolver_t *r, struct dns_stats *out);

#endif
