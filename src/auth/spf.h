/*
 * spf: the Sender Policy Framework (RFC 7208), as a library for the gate's check, for
 * `mailblock spf` and for explain/audit.
 *
 * Three parts, usable on their own:
 *  - the record parser (spf_record_parse, spf_term_next): the grammar of RFC 7208 section 12,
 *    bounded by len, never trusting a NUL;
 *  - the macro expander (spf_macro_check, spf_macro_expand): section 7, output bounded
 *    (domain names are cut from the left to SPF_DOMAIN_MAX octets as 7.3 says, explanations
 *    to SPF_EXPLANATION_MAX);
 *  - the evaluator (spf_check_start): check_host() of section 4 over the asynchronous dns
 *    layer, with every limit of 4.6.4, returning the result and the evidence behind it.
 *
 * Evaluation model. One evaluation pass is a pure function of the request and the DNS answers
 * known so far: it walks the records left to right exactly as the RFC describes, counting
 * DNS-querying terms and void lookups as it goes. When it needs an answer that is not known,
 * it starts the query and stops; when that answer arrives the pass is run again from the start
 * over the memoised answers. Lookups the RFC lets go out together are started together before
 * the pass waits: the address lookups of all MX names of one mx (and of the PTR names of one
 * ptr or %{p}), and, when a record is entered, the first lookup of each DNS-querying term of
 * it that the budget of 10 could still reach. Such early queries never change the result: a
 * mechanism that matches ends the evaluation whatever later lookups answered, and counting
 * follows the sequential walk, not the queries sent.
 *
 * Decisions where the RFC leaves room (each cited where implemented):
 *  - void lookups (4.6.4) are counted per term: the A/AAAA query of a, the MX query of mx,
 *    the PTR query of ptr, the A query of exists; the address lookups of MX and PTR names
 *    are not counted (pyspf counts them).
 *  - a target name that cannot be asked (an empty label, a label over 63 octets after
 *    expansion) makes the mechanism not match; include/redirect to one gives permerror
 *    (4.3 makes check_host() return none, 5.2 and 6.1 turn that into permerror).
 *  - %{p} does not count as a DNS-querying term of its own; it uses the first SPF_PTR_MAX
 *    PTR names.
 *  - more than SPF_MX_MAX MX records is permerror (4.6.4, as the RFC 7208 test suite).
 *  - %{i} of an IPv6 address is written with upper-case nibbles; DNS compares names without
 *    case and the RFC 7208 test suite expects this form in explanations.
 *  - no explanation is made up: without a usable exp= the explanation is NULL and the
 *    caller shows its own text (6.2 allows a default or an empty explanation).
 *  - the overall time limit of 4.6.4 covers the whole evaluation, explanation included, from
 *    spf_check_start() on (spf_request_t.time_limit_ms, SPF_TIME_LIMIT_MS by default); when
 *    it passes, the result is temperror (as for a DNS timeout, 2.6.6), queries still out are
 *    cancelled and done is called. It is checked by a timer on the resolver's loop, armed
 *    only when the evaluation has to wait for DNS, so a limit shorter than the per-query
 *    DNS timeout ends an evaluation stuck on a lookup that never answers.
 *
 * Errors: bad records and bad DNS data are results (permerror, temperror), never failures of
 * the call. Running out of memory aborts (mem.h).
 */
#ifndef MB_AUTH_SPF_H
#define MB_AUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "util/ipaddr.h"

/* ---- limits ---------------------------------------------------------------------------- */

#define SPF_LOOKUP_MAX 10        /* DNS-querying terms in one evaluation (RFC 7208 4.6.4) */
#define SPF_VOID_MAX 2           /* void lookups in one evaluation (4.6.4) */
#define SPF_MX_MAX 10            /* MX records one mx may return; more is permerror (4.6.4) */
#define SPF_PTR_MAX 10           /* PTR names one ptr or %{p} looks at; the rest ignored */
#define SPF_DOMAIN_MAX 253       /* octets of an expanded domain name (7.3, RFC 1035 2.3.4) */
#define SPF_LABEL_MAX 63         /* octets of one label (RFC 1035 2.3.4) */
#define SPF_EXPLANATION_MAX 512  /* octets of an expanded explanation kept (the rest is cut) */
#define SPF_MACRO_VALUE_MAX 1024 /* octets of one macro value (sender, HELO, receiver) */
#define SPF_VERSION_LEN 6        /* "v=spf1" */
#define SPF_TIME_LIMIT_MS 20000  /* a whole evaluation, by default (4.6.4: at least 20 s) */

/* ---- results --------------------------------------------------------------------------- */

/* RFC 7208 2.6, in its order. */
typedef enum spf_result {
    SPF_NONE,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR,
} spf_result_t;

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror". */
const char *spf_result_name(spf_result_t r);

/* ---- the record parser (RFC 7208 4.5, 4.6, 5, 6, 12) ----------------------------------- */

typedef enum spf_kind {
    SPF_ALL,
    SPF_INCLUDE,
    SPF_A,
    SPF_MX,
    SPF_PTR,
    SPF_IP4,
    SPF_IP6,
    SPF_EXISTS,
    SPF_REDIRECT, /* modifiers from here on */
    SPF_EXP,
    SPF_UNKNOWN_MOD,
} spf_kind_t;

/* One term. Offsets are into the record buffer given to the parser. */
typedef struct spf_term {
    spf_kind_t kind;
    char qualifier;          /* mechanisms: '+', '-', '~' or '?' ('+' when not written) */
    size_t off, len;         /* the whole term */
    size_t arg_off, arg_len; /* a, mx, ptr, include, exists, redirect, exp: the domain-spec
                                (arg_len 0: none, the current domain is meant); ip4, ip6: the
                                network; unknown modifier: the value (may be empty) */
    size_t name_len;         /* unknown modifier: its name is buf[off .. off+name_len) */
    int cidr4, cidr6;        /* prefix lengths written, -1 when absent (ip4 uses cidr4,
                                ip6 uses cidr6) */
    ipaddr_t net;            /* ip4, ip6: the address as written (host bits kept) */
    unsigned uses;           /* SPF_USES_* of the domain-spec's macros */
} spf_term_t;

/* What spf_record_parse() learnt. */
typedef struct spf_record {
    size_t nterms;
    size_t lookup_terms; /* include, a, mx, ptr, exists, redirect (4.6.4) */
    bool has_all;        /* an "all" mechanism is present: redirect is ignored (6.1) */
    bool has_redirect, has_exp;
    spf_term_t redirect, exp;
    /* On error: */
    const char *why;         /* static English text, no peer data */
    size_t err_off, err_len; /* the offending term (the whole record for a bad version) */
} spf_record_t;

/* Is buf[0..len) an SPF record: "v=spf1" in any case, then a space or the end (4.5)? */
bool spf_record_is_spf(const char *buf, size_t len);

/*
 * Checks a whole record (4.6: a syntax error anywhere makes the record unusable): the version,
 * every term with its domain-specs and macros, CIDR lengths, addresses, and that redirect and
 * exp appear at most once each (6). Bytes other than space and visible ASCII are errors (3.1).
 * Returns 0 and fills rec, or -1 with rec->why and the offending term set.
 */
int spf_record_parse(const char *buf, size_t len, spf_record_t *rec);

/*
 * Reads the next term after *pos (start at SPF_VERSION_LEN). Returns 1 with *t filled and
 * *pos moved past it, 0 at the end of the record, -1 on a syntax error in that term (*why
 * set, t->off and t->len name the term, *pos moved past it). Does not check duplicate
 * modifiers (spf_record_parse does).
 */
int spf_term_next(const char *buf, size_t len, size_t *pos, spf_term_t *t, const char **why);

/* ---- macros (RFC 7208 7) ----------------------------------------------------------------- */

#define SPF_MACRO_EXPLAIN                                                                          \
    0x1u /* an explain-string (6.2): spaces, and the letters c, r and t,                           \
            are allowed; no domain-name processing */

#define SPF_USES_P 0x1u /* the string uses %{p} (needs PTR lookups) */

typedef struct spf_macro_info {
    unsigned uses;        /* SPF_USES_* */
    bool ends_with_macro; /* the last element is a macro-expand (domain-end, 7.1) */
    size_t err_off;       /* on error: where */
    const char *why;      /* on error: static text */
} spf_macro_info_t;

/* Checks the syntax of a macro-string (flags 0) or an explain-string (SPF_MACRO_EXPLAIN).
 * Returns 0 or -1; info may be NULL. */
int spf_macro_check(const char *buf, size_t len, unsigned flags, spf_macro_info_t *info);

/* The values macros expand to. Strings are NUL-terminated, at most SPF_MACRO_VALUE_MAX
 * octets each; NULL stands for "". */
typedef struct spf_macro_ctx {
    const char *sender;        /* s: <sender>, with "postmaster" as local part when it had none */
    const char *local;         /* l */
    const char *sender_domain; /* o */
    const char *domain;        /* d: the current <domain> */
    ipaddr_t ip;               /* i, c, v (an IPv4-mapped address must already be IPv4) */
    const char *helo;          /* h */
    const char *ptr;           /* p: the validated name, NULL for "unknown" */
    const char *receiver;      /* r: NULL for "unknown" */
    unsigned long long now;    /* t */
} spf_macro_ctx_t;

typedef enum spf_expand_status {
    SPF_EXPAND_OK = 0,
    SPF_EXPAND_SYNTAX = -1,  /* the string is not valid (why set) */
    SPF_EXPAND_BADNAME = -2, /* domain mode: the result cannot be a name (nothing left, or no
                                label boundary to cut at within SPF_DOMAIN_MAX octets) */
} spf_expand_status_t;

/*
 * Expands buf[0..len). Without SPF_MACRO_EXPLAIN the result is a domain name for a query: one
 * trailing dot is removed and, when longer than SPF_DOMAIN_MAX octets, whole labels are
 * removed from the left until it fits (7.3); out needs SPF_DOMAIN_MAX + 1 bytes. With
 * SPF_MACRO_EXPLAIN the result is text, cut at outsize - 1 octets. The result is
 * NUL-terminated with its length in *outlen; it may contain any byte the values contain.
 * Memory used is bounded whatever the input (no allocation).
 */
spf_expand_status_t spf_macro_expand(const char *buf, size_t len, const spf_macro_ctx_t *ctx,
                                     unsigned flags, char *out, size_t outsize, size_t *outlen,
                                     const char **why);

/* ---- the evaluator (RFC 7208 4) --------------------------------------------------------- */

typedef struct spf_request {
    ipaddr_t ip;            /* the client; ::ffff:a.b.c.d is handled as a.b.c.d (5) */
    const char *sender;     /* MAIL FROM address, brackets optional; NULL, "" or "<>": the
                               null sender, checked as postmaster@HELO (2.4) */
    const char *helo;       /* HELO/EHLO argument; NULL or "" when none */
    const char *receiver;   /* %{r} (7.3); NULL (or over 253 octets): "unknown" */
    bool helo_identity;     /* check the HELO identity (2.3) instead of MAIL FROM */
    bool trace;             /* build the trace tree (costs some allocations) */
    unsigned long long now; /* %{t}; 0: the current time */
    unsigned time_limit_ms; /* the whole evaluation (4.6.4); 0: SPF_TIME_LIMIT_MS. When it
                               passes: temperror, with evidence.reason saying so */
} spf_request_t;

/* One include or redirect evaluated, in evaluation order. */
typedef struct spf_step {
    bool redirect;       /* false: include */
    unsigned depth;      /* 1 for a term of the top record */
    const char *from;    /* the domain whose record holds the term */
    const char *domain;  /* the target, as expanded */
    spf_result_t result; /* check_host() of the target */
} spf_step_t;

/* The evaluation as a tree of lines for people ("--trace"): printable ASCII only. */
typedef struct spf_trace {
    const char *text;
    const struct spf_trace *child; /* first child */
    const struct spf_trace *next;  /* next sibling */
} spf_trace_t;

/*
 * Everything behind a result. Strings are NUL-terminated and live until spf_check_free().
 * Those marked "raw" are peer data as received (records may hold any byte, NUL included:
 * use the length) and must be escaped before they reach a log or a reply; the others are
 * ours or printable already.
 */
typedef struct spf_evidence {
    spf_result_t result;
    bool helo_identity;
    const char *sender; /* raw: <sender> as checked (postmaster@HELO for the null sender) */
    const char *domain; /* raw: the <domain> checked */
    const char *record; /* raw: the SPF record of domain; NULL when none was selected */
    size_t record_len;
    const spf_step_t *steps; /* includes and redirects, in order */
    size_t nsteps;
    const char *mech; /* raw: the mechanism that decided the result, NULL when none
                         matched (default neutral) or on none/temperror/permerror */
    size_t mech_len;
    const char *mech_domain;   /* raw: the domain whose record holds it */
    unsigned lookups;          /* DNS-querying terms counted (may be SPF_LOOKUP_MAX + 1) */
    unsigned voids;            /* void lookups counted */
    const char *explanation;   /* raw: the exp= text of a fail (6.2), NULL when none */
    const char *reason;        /* static English text saying why none, temperror or permerror
                                  (which term, which limit), or why neutral by default; NULL
                                  for a result a mechanism decided */
    const char *reason_domain; /* raw: the domain being evaluated then, or NULL */
    const char *reason_term;   /* raw: the term at fault, or NULL */
    size_t reason_term_len;
    const spf_trace_t *trace; /* NULL unless the request asked for it */
} spf_evidence_t;

typedef struct spf_check spf_check_t;
typedef void (*spf_done_fn)(spf_check_t *c, void *arg);

/*
 * Starts check_host() for the identity of req (all strings are copied). Never returns NULL.
 * When every answer needed is cached the evaluation completes inside this call:
 * spf_check_done() is then true and done is never called. Otherwise done is called exactly
 * once, later, from the loop, unless spf_check_free() comes first; done may free the check.
 * done may be NULL when the caller polls spf_check_done() while running the loop. An
 * evaluation that waits holds a timer on dns's loop (the time limit) until it completes or
 * is freed; closing it needs the loop to run once more, like dns_resolver_free().
 * req->ip must be an IPv4 or IPv6 address (family 4 or 6): anything else is a bug (panic).
 */
spf_check_t *spf_check_start(dns_resolver_t *dns, const spf_request_t *req, spf_done_fn done,
                             void *arg);
bool spf_check_done(const spf_check_t *c);
/* The result; SPF_TEMPERROR while not done. */
spf_result_t spf_check_result(const spf_check_t *c);
/* The evidence, or NULL while not done. */
const spf_evidence_t *spf_check_evidence(const spf_check_t *c);
/* Cancels what is in flight (done will not be called) and frees everything. Accepts NULL.
 * A check is freed before its resolver (its lookups are the resolver's handles). */
void spf_check_free(spf_check_t *c);

#endif
