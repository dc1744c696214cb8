/*
 * explain: from what a sender got back (an SMTP reply, an MTA log line carrying one, or a
 * whole bounce message) to one result per failed recipient: the reason in sisimai's
 * vocabulary, the finer finding id where the text supports one, the codes, the remote MTA,
 * the blocklist named, the identities found in the bounce, hard or soft.
 *
 * The input's form is detected: a mail message (header fields then a body) is read by
 * bounce.c; anything else is given to reply.c (a bare reply or a log line). Classification is
 * classify.c's; this module adds what only a whole bounce tells: feedback reports, automatic
 * replies, delivered and delayed actions, the text of a bounce without a reply code.
 *
 * Everything lives in the caller's arena. Strings marked "raw" hold peer bytes (escape before
 * printing); the others are ours.
 */
#ifndef MB_EXPLAIN_EXPLAIN_H
#define MB_EXPLAIN_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "explain/bounce.h"
#include "explain/classify.h"
#include "explain/reason.h"
#include "util/arena.h"

typedef enum ex_input {
    EX_INPUT_REPLY,   /* a bare SMTP reply */
    EX_INPUT_LOG,     /* an MTA log line carrying a reply */
    EX_INPUT_MESSAGE, /* a mail message: a bounce, a report, an auto-reply, or none of them */
} ex_input_t;

typedef struct ex_result {
    const char *recipient; /* raw; NULL when not known (a bare reply) */
    ex_reason_t reason;
    const char *finding;   /* a catalog id, "dkim", "dmarc", or NULL */
    int reply_code;        /* 0 when none */
    const char *status;    /* enhanced status code, "" when none */
    const char *text;      /* raw: the reply or diagnostic text, "" when none */
    const char *remote_mta;    /* raw: the server that answered, NULL when not known */
    const char *command;       /* an EX_CMD_ name (reason.h): "RCPT", "DATA", ... or NULL */
    const char *action;        /* "failed", "delayed", "delivered", ... or NULL */
    const char *provider;      /* "google", "microsoft", ... or NULL */
    const char *blocklist;     /* "Spamhaus ZEN", ... or NULL */
    bool hard;
    classify_layer_t layer;    /* which layer decided */
} ex_result_t;

typedef struct ex_report {
    ex_input_t input;
    const char *form;          /* "smtp", "postfix-smtp", ... or the bounce format */
    bounce_kind_t kind;        /* messages: what the message is */
    const char *feedback_type; /* raw: ARF Feedback-Type, NULL when none */
    /* identities found in the bounce or log line (raw; NULL when not found) */
    const char *sending_ip;
    const char *helo;
    const char *sender;
    const char *sender_domain;
    const char *dkim_domain;
    const char *dkim_selector;
    const char *reporting_mta;
    const char *subject;
    ex_result_t *results;
    size_t nresults;
} ex_report_t;

/* Does buf look like a mail message (a header block) rather than a reply or a log line? */
bool explain_is_message(const unsigned char *buf, size_t len);

/*
 * Explains buf[0..len) (at most BOUNCE_INPUT_MAX bytes). Returns 0 with *out filled (a
 * message that is not a bounce gives kind BOUNCE_KIND_NONE and no results), or -1 when the
 * input is neither a message nor carries an SMTP reply (*why set to static text).
 */
int explain_input(const unsigned char *buf, size_t len, arena_t *a, ex_report_t *out,
                  const char **why);

/*
 * One line of a mail log: explained like explain_input() when it is a log line that
 * records a failure (a reply code of 400 or more, or a failed action); 1 without any
 * classification for every other line (deliveries, lines of other programs, bare
 * replies), -1 when it is too long to be one.
 */
int explain_log_failure(const unsigned char *buf, size_t len, arena_t *a, ex_report_t *out);

/* The explanation and fix for a result: the catalog's when the finding is a catalog id,
 * else those of the reason. */
const char *explain_explanation(const ex_result_t *r);
const char *explain_fix(const ex_result_t *r);

#endif
