/*
 * reason: the vocabulary `mailblock explain` answers in. The 36 reason names are those of
 * sisimai's bounce classification, so results can be compared with other tools that use
 * that vocabulary; the one-line meaning and the fix are our own, written for the sender
 * who got the bounce. Also the DSN action (RFC 3464 section 2.3.3) the classifier takes
 * as input, since the explain modules share it.
 */
#ifndef MB_EXPLAIN_REASON_H
#define MB_EXPLAIN_REASON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ex_reason {
    EX_AUTHFAILURE,
    EX_BADREPUTATION,
    EX_BLOCKED,
    EX_CONTENTERROR,
    EX_DELIVERED,
    EX_EXCEEDLIMIT,
    EX_EXPIRED,
    EX_FAILEDSTARTTLS,
    EX_FEEDBACK,
    EX_FILTERED,
    EX_HASMOVED,
    EX_HOSTUNKNOWN,
    EX_MAILBOXFULL,
    EX_MAILERERROR,
    EX_MESGTOOBIG,
    EX_NETWORKERROR,
    EX_NORELAYING,
    EX_NOTACCEPT,
    EX_NOTCOMPLIANTRFC,
    EX_ONHOLD,
    EX_POLICYVIOLATION,
    EX_REJECTED,
    EX_REQUIREPTR,
    EX_SECURITYERROR,
    EX_SPAMDETECTED,
    EX_SPEEDING,
    EX_SUPPRESSED,
    EX_SUSPEND,
    EX_SYNTAXERROR,
    EX_SYSTEMERROR,
    EX_SYSTEMFULL,
    EX_TOOMANYCONN,
    EX_UNDEFINED,
    EX_USERUNKNOWN,
    EX_VACATION,
    EX_VIRUSDETECTED,
    EX_REASON_COUNT
} ex_reason_t;

/* The DSN action of the delivery attempt, when the input says it (RFC 3464 2.3.3). */
typedef enum ex_action {
    EX_ACTION_UNKNOWN,
    EX_ACTION_FAILED,
    EX_ACTION_DELAYED,
    EX_ACTION_DELIVERED
} ex_action_t;

/* The lower-case name ("userunknown"); "undefined" for a value out of range. */
const char *ex_reason_name(ex_reason_t r);
/* The reason named by s[0..len) (ASCII case-insensitive, no NUL needed); -1 if unknown. */
int ex_reason_parse(const char *s, size_t len);
/* One line saying what the reason means for the sender (static text, never NULL). */
const char *ex_reason_explanation(ex_reason_t r);
/* One line saying what the sender should do (static text, never NULL). */
const char *ex_reason_fix(ex_reason_t r);

/* "failed", "delayed", "delivered", "" for unknown. */
const char *ex_action_name(ex_action_t a);

/* An RFC 3463 enhanced status code, "5.7.1" read as class '5', subject 7, detail 1. */
typedef struct ex_status {
    char cls;
    int subject, detail;
} ex_status_t;

/*
 * The enhanced status code "c.s.d" at s[i] of s[0..n) (no NUL needed): class 2, 4 or 5,
 * subject and detail of 1 to 3 digits each (0-999), neither followed by a further digit.
 * Returns its length and fills *st (when not NULL); 0 when there is none. What may stand
 * before and after it is for the caller to judge.
 */
size_t ex_status_at(const char *s, size_t n, size_t i, ex_status_t *st);

/*
 * The SMTP command a reply answered, by the names every explain module (reply, bounce,
 * classify) gives it and the output shows: CONN for the greeting or the connection (no
 * command sent yet), then the commands of RFC 5321 and its extensions. Each module writes
 * the command the input names; where the input names only one of HELO and EHLO for both
 * (Postfix's smtpd logs "reject: HELO from" whichever the client sent) it is HELO, and
 * LMTP's LHLO is EHLO. Test groups with ex_command_is_helo and ex_command_is_data.
 */
#define EX_CMD_CONN "CONN"
#define EX_CMD_HELO "HELO"
#define EX_CMD_EHLO "EHLO"
#define EX_CMD_STARTTLS "STARTTLS"
#define EX_CMD_AUTH "AUTH"
#define EX_CMD_MAIL "MAIL"
#define EX_CMD_RCPT "RCPT"
#define EX_CMD_DATA "DATA"
#define EX_CMD_BDAT "BDAT"

/* Is the command c (NULL or "" for none) the one named name (an EX_CMD_ value)? */
bool ex_command_is(const char *c, const char *name);
/* The client's greeting: HELO or EHLO. */
bool ex_command_is_helo(const char *c);
/* The message text: DATA or BDAT. */
bool ex_command_is_data(const char *c);

#endif
