/*
 * catalog: the one table that gives every finding id its SMTP reply code, enhanced status
 * code (RFC 3463, 7372, 7505), default action, one-line reason, explanation and fix.
 * The gate's replies, `explain`'s decoding and `audit`'s advice all read it, so they cannot
 * drift apart. Ids are promises to users (replies, logs, config keys, docs): never rename
 * one; add new ones at the end of their group.
 */
#ifndef MB_CORE_CATALOG_H
#define MB_CORE_CATALOG_H

#include <stddef.h>

typedef enum finding_id {
    F_HELO_MISSING,
    F_HELO_SYNTAX,
    F_HELO_NOT_FQDN,
    F_HELO_IP_LITERAL_MISMATCH,
    F_HELO_NO_DNS,
    F_HELO_FORGED_SELF,
    F_CLIENT_NO_PTR,
    F_CLIENT_PTR_MISMATCH,
    F_CLIENT_PTR_GENERIC,
    F_CLIENT_PTR_LISTED,
    F_CLIENT_NO_TLS,
    F_CLIENT_DNSBL,
    F_SENDER_SYNTAX,
    F_SENDER_NO_DOMAIN,
    F_SENDER_IP_DOMAIN,
    F_SENDER_DOMAIN_UNKNOWN,
    F_SENDER_NULL_MX,
    F_SENDER_FORGED_LOCAL,
    F_SENDER_RHSBL,
    F_RCPT_SYNTAX,
    F_RCPT_NO_DOMAIN,
    F_RCPT_IP_DOMAIN,
    F_MESSAGE_TOO_BIG,
    F_SPF_MAILFROM,
    F_SPF_HELO,
    F_COUNT
} finding_id_t;

typedef enum action {
    ACTION_REJECT,   /* permanent reject (5xx) */
    ACTION_TEMPFAIL, /* temporary reject (4xx) */
    ACTION_WARN,     /* log, then decide as if the check passed */
    ACTION_IGNORE,   /* do not even log */
} action_t;

/* A finding's result (DESIGN: findings). Most checks give pass, fail, temperror or skipped;
 * spf.* give every RFC 7208 result. */
typedef enum result {
    RES_PASS,
    RES_FAIL,
    RES_SOFTFAIL,
    RES_NEUTRAL,
    RES_NONE,
    RES_TEMPERROR,
    RES_PERMERROR,
    RES_SKIPPED,
    RES_COUNT
} result_t;

/* "pass", "fail", ... "skipped"; "?" when out of range. */
const char *result_name(result_t r);
/* The result named s[0..len) (exact, lower case); -1 when unknown. */
int result_parse(const char *s, size_t len);

/* The protocol state from which a check has its data (Postfix protocol_state). */
typedef enum stage { STAGE_CONNECT, STAGE_HELO, STAGE_MAIL, STAGE_RCPT, STAGE_DATA } stage_t;

typedef struct catalog_entry {
    finding_id_t fid;
    const char *id;       /* "client.no_ptr" */
    stage_t stage;        /* earliest state with the data */
    int code;             /* permanent reply code, 5xx */
    const char *enhanced; /* permanent enhanced code, "5.7.25" */
    action_t default_action;
    const char *reason;      /* one line, used in replies before the observed value */
    const char *explanation; /* what the check means, for people */
    const char *fix;         /* what the sender's operator should do */
    const char *why_default; /* why the default action is what it is */
} catalog_entry_t;

/* Findings with more results than fail and temperror (spf.*): the default action of each
 * result (indexed by result_t; -1 where no action applies: pass, skipped) and the enhanced
 * codes that differ from the fail code. */
typedef struct catalog_results {
    finding_id_t fid;
    signed char defaults[RES_COUNT];
    const char *permerror_enhanced; /* "5.7.24" */
    const char *temp_enhanced;      /* "4.7.24", instead of CATALOG_TEMP_ENHANCED */
} catalog_results_t;

/* NULL for a finding without per-result settings. */
const catalog_results_t *catalog_results(finding_id_t fid);

const catalog_entry_t *catalog_get(finding_id_t fid);
/* Looks an id up by name (exact, lower case); NULL if unknown. */
const catalog_entry_t *catalog_find(const char *id, size_t len);

/* The reply used when a check could not finish because DNS failed temporarily. */
#define CATALOG_TEMP_CODE 451
#define CATALOG_TEMP_ENHANCED "4.4.3"

/* "reject", "tempfail", "warn", "ignore" and back; -1 when unknown. */
const char *action_name(action_t a);
int action_parse(const char *s, size_t len);

#endif
