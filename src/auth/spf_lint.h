/*
 * spf_lint: the problems of a published SPF record, found without a client IP or a sender
 * (`mailblock spf --check-record`).
 *
 * The walk reads the record of a domain, parses it with spf_record_parse(), and follows every
 * include and redirect whose domain-spec has no macro (a macro needs the IP and the sender to
 * expand: such terms are counted but not followed). It counts DNS-querying terms as the worst
 * case of an evaluation (4.6.4: every term reached, no mechanism matching before the end),
 * so the count is what a client that matches nothing would cost; `redirect` is counted only
 * when the record has no `all` (6.1). It asks the A and AAAA (a), MX (mx) of macro-free
 * targets to find void lookups.
 *
 * Problems reported (spf_lint_kind_t): syntax errors (with the term), more than
 * SPF_LOOKUP_MAX DNS-querying terms (with the include or redirect where the count passes 10),
 * void lookups, ptr (5.5: "do not use"), all with the pass qualifier, several SPF records at
 * one name (4.5: permerror), a TXT answer too large for one 512-octet UDP message (3.4), an
 * include or redirect target without an SPF record (5.2, 6.1: permerror), include/redirect
 * loops, temporary DNS failures (the walk is then incomplete).
 *
 * Bounds: at most SPF_LINT_DEPTH_MAX nested includes/redirects and SPF_LINT_RECORDS_MAX
 * records read in one walk; beyond them the walk stops with a problem saying so.
 *
 * The walk is synchronous for its caller: it runs the loop of the resolver (UV_RUN_ONCE) until
 * each answer arrives. Use it from a command, never from a callback of a running loop.
 * Running out of memory aborts (mem.h).
 */
#ifndef MB_AUTH_SPF_LINT_H
#define MB_AUTH_SPF_LINT_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "dns/dns.h"

#define SPF_LINT_DEPTH_MAX 10    /* nested include/redirect levels followed */
#define SPF_LINT_RECORDS_MAX 100 /* records read in one walk */
#define SPF_LINT_UDP_MAX 512 /* octets of a DNS message over UDP without EDNS (RFC 1035 4.2.1) */

typedef enum spf_lint_kind {
    SPF_LINT_NONE_PUBLISHED, /* the domain has no SPF record */
    SPF_LINT_SYNTAX,         /* a term does not parse: permerror */
    SPF_LINT_LOOKUPS,        /* more than SPF_LOOKUP_MAX DNS-querying terms: permerror */
    SPF_LINT_VOID,           /* a/mx/include target that does not exist or has no data */
    SPF_LINT_PTR,            /* ptr is used (5.5: SHOULD NOT) */
    SPF_LINT_PASS_ALL,       /* "all" or "+all": every host passes */
    SPF_LINT_MULTIPLE,       /* several SPF records at one name: permerror (4.5) */
    SPF_LINT_TOO_LONG,       /* the TXT answer exceeds one 512-octet UDP message (3.4) */
    SPF_LINT_NO_RECORD,      /* include/redirect target without an SPF record: permerror */
    SPF_LINT_LOOP,           /* include/redirect back to a domain being evaluated */
    SPF_LINT_DNS,            /* a temporary DNS failure: that part was not checked */
    SPF_LINT_LIMIT,          /* the walk stopped at SPF_LINT_DEPTH_MAX / SPF_LINT_RECORDS_MAX */
} spf_lint_kind_t;

/* "none", "syntax", "lookups", "void", "ptr", "pass-all", "multiple", "too-long",
 * "no-record", "loop", "dns", "limit". */
const char *spf_lint_kind_name(spf_lint_kind_t k);

typedef struct spf_lint_problem {
    spf_lint_kind_t kind;
    const char *domain; /* raw: the domain whose record holds the term (NUL-terminated) */
    const char *term;   /* raw: the term at fault, or NULL (term_len octets) */
    size_t term_len;
    const char *why;     /* static English text */
    unsigned long value; /* lookups: the count; too-long: the estimated size; else 0 */
} spf_lint_problem_t;

/* One record read, as a tree: includes and the redirect are children, in term order. */
typedef struct spf_lint_node {
    const char *domain; /* raw */
    const char *via;    /* "include" or "redirect"; NULL for the top */
    const char *record; /* raw, record_len octets; NULL when none was usable */
    size_t record_len;
    unsigned own_lookups;   /* DNS-querying terms of this record */
    unsigned total_lookups; /* own_lookups plus those of the subtree */
    const struct spf_lint_node *child, *next;
} spf_lint_node_t;

typedef struct spf_lint spf_lint_t;

/*
 * Walks the record of domain (a name without macros) over dns, running loop until done.
 * Never returns NULL. Everything returned lives until spf_lint_free().
 */
spf_lint_t *spf_lint_run(uv_loop_t *loop, dns_resolver_t *dns, const char *domain);
size_t spf_lint_count(const spf_lint_t *l);
const spf_lint_problem_t *spf_lint_problem(const spf_lint_t *l, size_t i);
/* The tree of records read (NULL when the top domain had no usable record). */
const spf_lint_node_t *spf_lint_tree(const spf_lint_t *l);
/* DNS-querying terms of the whole tree (the worst case of one evaluation). */
unsigned spf_lint_lookups(const spf_lint_t *l);
/* The domains from the top to the record holding the term where the count passed
 * SPF_LOOKUP_MAX, joined by " > " (raw), or NULL when it did not. */
const char *spf_lint_over_path(const spf_lint_t *l);
/* Did a temporary DNS failure leave part of the tree unchecked? */
bool spf_lint_incomplete(const spf_lint_t *l);
void spf_lint_free(spf_lint_t *l);

#endif
