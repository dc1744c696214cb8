/*
 * reply: finds the SMTP reply in what a user pastes into `mailblock explain`: a bare reply
 * (single or multi-line, with or without an RFC 3463 enhanced status code, possibly behind a
 * "host x said:" prefix), or one line of an MTA log: Postfix smtp/lmtp delivery status
 * lines and smtpd/postscreen/cleanup "reject:" lines, Exim main log delivery failures and
 * deferrals ("**", "==") and "rejected" lines, Sendmail "stat=" and "reject=" lines.
 *
 * Limits: at most REPLY_INPUT_MAX bytes of input (longer input is refused), REPLY_LINES_MAX
 * lines of a multi-line reply, REPLY_TEXT_MAX bytes of joined text (cut beyond), and
 * REPLY_FIELD_MAX bytes per extracted field (address, host name; longer fields are dropped).
 * The input need not be NUL-terminated and may hold any bytes.
 *
 * Everything in reply_t lives in the caller's arena. The strings are NUL-terminated and
 * never NULL ("" when absent). Control bytes of the text are turned into spaces; the other
 * bytes are copied as they are, so whoever prints a field must escape it (log_escape).
 */
#ifndef MB_EXPLAIN_REPLY_H
#define MB_EXPLAIN_REPLY_H

#include <stddef.h>

#include "explain/reason.h"
#include "util/arena.h"

#define REPLY_INPUT_MAX (64 * 1024)
#define REPLY_LINES_MAX 64
#define REPLY_TEXT_MAX 8192
#define REPLY_FIELD_MAX 320
/* "5.999.999" (RFC 3463 section 2: subject and detail of 1 to 3 digits) */
#define REPLY_ENHANCED_MAX 9

typedef enum reply_form {
    REPLY_FORM_SMTP,           /* a bare reply, e.g. from a bounce or a client's dialogue */
    REPLY_FORM_POSTFIX_SMTP,   /* postfix/smtp or lmtp: to=<...>, relay=..., status=... */
    REPLY_FORM_POSTFIX_SMTPD,  /* postfix/smtpd, postscreen, cleanup: "reject: ..." */
    REPLY_FORM_EXIM,           /* exim delivery: "** addr ..." or "== addr ..." */
    REPLY_FORM_EXIM_REJECT,    /* exim receiving side: "... rejected RCPT <addr>: ..." */
    REPLY_FORM_SENDMAIL,       /* sendmail delivery: "to=..., stat=..." */
    REPLY_FORM_SENDMAIL_REJECT /* sendmail receiving side: "ruleset=..., reject=..." */
} reply_form_t;

typedef struct reply {
    reply_form_t form;
    int code;                              /* 200..599, 0 when the input has none */
    char enhanced[REPLY_ENHANCED_MAX + 1]; /* "5.7.26", "" when none */
    const char *text; /* the reply text without codes, lines joined with one space */
    size_t text_len;
    const char *recipient;   /* the recipient address, without <> */
    const char *remote_name; /* the server that replied (sending-side logs, "host x said") */
    const char *remote_ip;
    const char *client_name; /* the client that was refused (receiving-side logs) */
    const char *client_ip;
    const char *helo;
    const char *sender;
    const char *command; /* an EX_CMD_ name (reason.h): "CONN", "HELO", "MAIL"...; "" */
    ex_action_t action;  /* from status=, "**"/"==", stat=, reject; UNKNOWN otherwise */
} reply_t;

/*
 * Parses buf[0..len). Returns 0 and fills *out, or -1 when the input holds no reply (nor a
 * log line with a delivery status or a reject), or is over REPLY_INPUT_MAX; *out is then
 * left with empty fields.
 */
int reply_parse(const char *buf, size_t len, arena_t *a, reply_t *out);

/*
 * Removes from s[0..n), in place, the reply-code prefixes that the lines of a multi-line
 * reply (RFC 5321 4.2.1) keep when joined into one line or quoted in a bounce's text:
 * "550-" or "550-5.7.1" anywhere as a word, and "550 " or "550 5.7.1" when 5.7.1 is enhanced
 * (the reply's own status) or there is no status; "550 5.1.1" with another status is text and
 * stays. code is the reply's code (unless it is 200-599 nothing, blanks included, is removed);
 * enhanced its enhanced status, "" or NULL. Returns the new length, trailing blanks dropped;
 * s is not NUL-terminated by it.
 */
size_t reply_strip_codes(char *s, size_t n, int code, const char *enhanced);

/* "smtp", "postfix-smtp", "postfix-smtpd", "exim", "exim-reject", "sendmail",
 * "sendmail-reject". */
const char *reply_form_name(reply_form_t f);

#endif
