/*
 * checks: the check functions the engine in txn.c runs. Each returns true when it has
 * finished (its findings are set) and false while it waits for DNS answers; each may be
 * called again and must then reach the same result (idempotent, answers are memoised).
 */
#ifndef MB_CHECK_CHECKS_H
#define MB_CHECK_CHECKS_H

#include <stdbool.h>

#include "check/txn.h"

bool check_helo(txn_t *t);          /* helo.* */
bool check_client_ptr(txn_t *t);    /* client.no_ptr, ptr_mismatch, ptr_generic, ptr_listed */
bool check_client_dnsbl(txn_t *t);  /* client.dnsbl */
bool check_client_tls(txn_t *t);    /* client.no_tls */
bool check_sender(txn_t *t);        /* sender.* */
bool check_rcpt(txn_t *t);          /* rcpt.* */
bool check_size(txn_t *t);          /* message.too_big */
bool check_spf_helo(txn_t *t);      /* spf.helo */
bool check_spf_mailfrom(txn_t *t);  /* spf.mailfrom */

/* What a Received-SPF header needs of one SPF check; strings in the txn's arena, raw (peer
 * data: escape or validate before use). */
typedef struct spf_summary {
    result_t result;
    const char *domain;  /* the domain checked */
    const char *sender;  /* <sender> as checked: postmaster@HELO for the null sender */
    const char *mech;    /* the mechanism that decided, NULL when none */
    const char *problem; /* static text: why none, permerror, temperror; NULL otherwise */
} spf_summary_t;

/* The summary of spf.helo or spf.mailfrom once that check has finished in this transaction;
 * NULL when it did not run (skipped, ignored by the configuration, not reached yet). */
const spf_summary_t *check_spf_summary(const txn_t *t, finding_id_t fid);

/* The RHSBL part of check_sender, in check_client.c beside the DNSBL code it shares. */
bool check_client_rhsbl_domain(txn_t *t, const char *domain);

/* Shared by the DNSBL and RHSBL checks: the answer classes of RFC 5782 lists. */
typedef enum dnsxl_answer {
    DNSXL_LISTED,
    DNSXL_NOT_LISTED,
    DNSXL_UNUSABLE, /* an error code such as Spamhaus's 127.255.255.x: never a listing */
    DNSXL_TEMP,
} dnsxl_answer_t;

#endif
