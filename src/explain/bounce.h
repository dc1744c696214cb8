/*
 * bounce: reads a whole bounce message and says, per failed recipient, what the receiving
 * side answered. Recognised: RFC 3464 delivery status notifications (multipart/report with
 * message/delivery-status, also when the status fields sit in a text part), RFC 5965 abuse
 * feedback reports (message/feedback-report), RFC 3834 auto-replies, and the free-form
 * bounce texts of common MTAs and providers (Postfix, Exim, Sendmail, qmail, Exchange and
 * Office 365, Gmail, Yahoo, Domino, Courier, OpenSMTPD, Amazon SES, GMX, mail.ru and others,
 * read by general layout rules, not per-sample patterns), and mailing list managers' refusals
 * of a post (fml's "not a member", loop alerts).
 *
 * MIME is decoded with GMime 3 (transfer encodings, charsets, encoded words); every text
 * handed back is valid UTF-8 with control characters (NUL included) replaced by spaces,
 * continuation lines unfolded into one line, and cut at a named cap.
 *
 * Identities of the returned original message (the text/rfc822-headers or message/rfc822
 * part, or the quoted original in a free-form bounce) are kept as evidence: the sending IP
 * (the client address the reply text names, "Client host [192.0.2.1] blocked", else the
 * topmost Received: field with a "from" clause and an address), the HELO from that field,
 * the envelope sender or From, the first DKIM-Signature's d= and s=, the Message-ID and
 * the first To address.
 *
 * A message that is no report itself but carries a message/rfc822 attachment that is one
 * (a bounce forwarded as an attachment) is read as that attachment (one level deep).
 *
 * Limits (named below): input size, recipients per bounce, MIME parts and depth, text per
 * part, length of every string. Input beyond a limit is cut, never an error, except an
 * input larger than BOUNCE_INPUT_MAX, which is refused.
 *
 * GMime is initialised once per process on first use, and each thread keeps one GMime parser
 * between calls; bounce_shutdown() releases the calling thread's parser and GMime's global
 * state (for leak checkers at exit). bounce_parse() is not meant to run in several threads
 * at once before the first call has returned.
 */
#ifndef MB_EXPLAIN_BOUNCE_H
#define MB_EXPLAIN_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"

#define BOUNCE_INPUT_MAX (32u * 1024u * 1024u) /* bytes of one message */
#define BOUNCE_RCPT_MAX 1000                   /* recipient records per bounce */
#define BOUNCE_PARTS_MAX 200                   /* MIME parts visited */
#define BOUNCE_DEPTH_MAX 12                    /* MIME nesting */
#define BOUNCE_PART_TEXT_MAX (512u * 1024u)    /* decoded bytes read from one part */
#define BOUNCE_DIAG_MAX 4096                   /* bytes of a diagnostic text */
#define BOUNCE_FIELD_MAX 256                   /* bytes of any other string */
#define BOUNCE_APPENDED_MAX 32                 /* messages appended in mbox form read */
#define BOUNCE_FIELDS_MAX 2000                 /* header-like fields read from one block */

typedef enum {
    BOUNCE_KIND_NONE = 0,  /* not a bounce (no records) */
    BOUNCE_KIND_DSN,       /* RFC 3464 delivery status notification */
    BOUNCE_KIND_FREEFORM,  /* a bounce in free text */
    BOUNCE_KIND_ARF,       /* RFC 5965 feedback report */
    BOUNCE_KIND_AUTOREPLY, /* RFC 3834 automatic reply (vacation, out of office) */
} bounce_kind_t;

typedef enum {
    BOUNCE_ACTION_NONE = 0, /* not stated (ARF, auto-reply) */
    BOUNCE_ACTION_FAILED,
    BOUNCE_ACTION_DELAYED,
    BOUNCE_ACTION_DELIVERED,
    BOUNCE_ACTION_RELAYED,
    BOUNCE_ACTION_EXPANDED,
} bounce_action_t;

/* Every string below is a NUL-terminated copy in the caller's arena, "" when unknown,
 * never NULL. */
typedef struct bounce_rcpt {
    const char *recipient;          /* the failed address, e.g. "user@example.org" */
    const char *original_recipient; /* DSN Original-Recipient, else "" */
    bounce_action_t action;
    const char *status;     /* RFC 3463 enhanced status "5.1.1", or "" */
    int reply_code;         /* SMTP reply code (RFC 5321 4.2), 0 when none */
    const char *diagnostic; /* reply text: Diagnostic-Code without its "smtp;" type, or the
                               free-form text for this recipient; one line */
    const char *remote_mta;   /* DSN Remote-MTA without its type, or the host named in text */
    const char *command;      /* SMTP command the reply answered, an EX_CMD_ name
                                 (explain/reason.h): "CONN" (greeting or connection), "HELO",
                                 "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT",
                                 or "" when not stated */
    const char *last_attempt; /* DSN Last-Attempt-Date, else "" */
} bounce_rcpt_t;

/* Identities of the returned original message (evidence). */
typedef struct bounce_orig {
    const char *sending_ip;    /* client IP the receiver saw: named in its reply text, else
                                  the topmost Received: "from" clause; ARF Source-IP */
    const char *helo;          /* HELO/EHLO name in that Received: field */
    const char *sender;        /* envelope sender (Return-Path, X-Postfix-Sender,
                                  Original-Mail-From, SES source) or else the From address */
    const char *sender_domain; /* domain of sender */
    const char *from_domain;   /* domain of the original's From address */
    const char *dkim_domain;   /* first DKIM-Signature d= */
    const char *dkim_selector; /* first DKIM-Signature s= */
    const char *message_id;    /* Message-ID without brackets */
    const char *recipient;     /* first To address (ARF: Original-Rcpt-To) */
    const char *subject;       /* decoded Subject */
} bounce_orig_t;

typedef struct bounce {
    bounce_kind_t kind;
    const char *format;        /* source format: "rfc3464", "postfix", "exim", "sendmail",
                                  "qmail", "exchange", "office365", "gmail", "yahoo", "domino",
                                  "courier", "opensmtpd", "amazonses", "gmx", "mailru",
                                  "arf", "rfc3834", ... or "" */
    const char *reporting_mta; /* DSN Reporting-MTA without its type, ARF Reporting-MTA */
    const char *subject;       /* the bounce's own decoded Subject */
    const char *from;          /* the bounce's From address */
    const char *arrival_date;  /* DSN Arrival-Date / ARF Arrival-Date */
    const char *feedback_type; /* ARF Feedback-Type ("abuse", "fraud", "auth-failure"...) */
    const char *source_ip;     /* ARF Source-IP */
    bounce_orig_t orig;
    bounce_rcpt_t *rcpts; /* nrcpts records in the arena */
    size_t nrcpts;
    bool truncated; /* a limit cut something (recipients, parts, text) */
} bounce_t;

/*
 * Parses buf[0..len) (a message in RFC 5322 form; LF, CRLF or CR line endings; an mbox
 * "From " line first is skipped) into *out, allocating every string and the record array
 * in a. Messages appended after it in mbox form (a blank line, or in a buffer that
 * starts with "From " any line end, then "From sender <asctime date>" and a header
 * field), at most BOUNCE_APPENDED_MAX, are read too: the recipients of those that are
 * bounces (DSN or free text) are added to the first one's. Returns 0 when the input is a
 * mail message (whether or not it is a bounce: see out->kind), -1 when it is not one
 * (empty, over BOUNCE_INPUT_MAX, or no header section), with *out then zeroed as for
 * BOUNCE_KIND_NONE. buf need not be NUL-terminated.
 */
int bounce_parse(const unsigned char *buf, size_t len, arena_t *a, bounce_t *out);

/* Static names: "none", "dsn", "freeform", "arf", "autoreply"; "failed", "delayed"... */
const char *bounce_kind_name(bounce_kind_t k);
const char *bounce_action_name(bounce_action_t a);

/* Releases GMime's process-wide state when it was initialised here. Call at most once, at
 * exit; bounce_parse() must not be called afterwards. */
void bounce_shutdown(void);

#endif
