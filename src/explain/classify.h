/*
 * classify: turns the facts of one SMTP reply (code, enhanced status code, text, the server
 * that sent it) into a reason (sisimai's vocabulary, see reason.h), a finer finding where
 * the text supports one (a catalog id such as client.no_ptr, or dkim / dmarc), the provider
 * that replied, the blocklist the text names, and whether the failure is hard.
 *
 * Layers, first that decides wins:
 *   1. mailblock: the reply names a finding id in parentheses, "(client.no_ptr)", that the
 *      catalog knows (or spf.mailfrom / spf.helo): the catalog decides exactly.
 *   2. provider: the replying provider is known from the server's host name or from the
 *      text (URLs, tags); its own table reads its codes and wording (providers reuse
 *      registry codes with their own meanings).
 *   3. patterns and registry: strong text patterns, then the enhanced status code registry
 *      (RFC 3463, 7372, 7505, 8689 ...), then weaker text patterns, then the code class.
 *
 * Hard rule: a failure is hard when it is permanent (reply class 5, or no code at all and
 * no DSN action saying delayed) and the reason says the recipient address itself can never
 * work: userunknown, hostunknown, hasmoved, notaccept. Every other reason is soft: blocks,
 * policy, authentication, content and rate problems are fixed on the sending side and the
 * address stays good; a 4xx or a "delayed" action is never hard.
 *
 * Patterns are PCRE2, caseless, compiled once (thread-safe) with JIT when available. A
 * pattern (or one of its top-level alternatives) runs only when the text holds one of the
 * literals that any match of it contains, found in the pattern at start-up; the results are
 * those of running every pattern. Only the first CLASSIFY_TEXT_MAX bytes of the text are
 * read (a call uses about 5 times that in stack); the text need not be NUL-terminated. All
 * returned strings are static.
 */
#ifndef MB_EXPLAIN_CLASSIFY_H
#define MB_EXPLAIN_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "explain/reason.h"

#define CLASSIFY_TEXT_MAX 8192

typedef enum classify_layer {
    CLASSIFY_LAYER_NONE,      /* nothing decided: reason undefined */
    CLASSIFY_LAYER_MAILBLOCK, /* a finding id mailblock put in its reply */
    CLASSIFY_LAYER_PROVIDER,  /* the replying provider's own table */
    CLASSIFY_LAYER_REGISTRY,  /* the enhanced status code (or the reply code's class) */
    CLASSIFY_LAYER_PATTERN    /* general text patterns */
} classify_layer_t;

typedef struct classify_in {
    int code;             /* reply code, 0 when unknown */
    const char *enhanced; /* "5.7.26"; NULL or "" when unknown */
    const char *text;     /* reply text (may be NULL when text_len is 0) */
    size_t text_len;
    const char *remote_mta; /* host name of the server that replied; NULL or "" */
    const char *command;    /* EX_CMD_ name (reason.h); NULL or "" (used for tie-breaks only) */
    ex_action_t action;     /* DSN action when known */
    bool in_bounce;         /* quoted in a bounce by the MTA that gave up (not a bare reply
                             * or a log line: there the client saw the reply itself) */
} classify_in_t;

typedef struct classify {
    ex_reason_t reason;
    const char *finding;   /* "client.no_ptr", "spf.mailfrom", "dkim", "dmarc", ... or NULL */
    const char *provider;  /* "google", "microsoft", "yahoo", "apple", ... or NULL */
    const char *blocklist; /* "Spamhaus ZEN", "SpamCop", ... or NULL */
    bool hard;
    classify_layer_t layer;
} classify_t;

/* Classifies one reply. Never fails: without any clue the reason is undefined. */
void classify_reply(const classify_in_t *in, classify_t *out);

/* The public DNS zone of the address blocklist a result names (classify_t.blocklist), for
 * asking it; NULL for a list of domains or URLs and for lists without a public zone. */
const char *classify_blocklist_zone(const char *name);

/* The provider for a host name (ASCII case-insensitive, trailing dot allowed), or NULL. */
const char *classify_provider_of_host(const char *host, size_t len);

/* "none", "mailblock", "provider", "registry", "pattern". */
const char *classify_layer_name(classify_layer_t l);

#endif
