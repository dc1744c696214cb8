/*
 * log: the process log, to stderr (the default: systemd and supervisors collect it) or to
 * syslog. Peer text never reaches the log raw: every value from outside goes through
 * log_quote(), which escapes non-printable bytes, quotes values with spaces and truncates.
 * Decisions are logged as one line of key=value pairs (log_kv + log_emit).
 *
 * Failure classes (Postfix's rule): msg_warn for bad input or a degraded service (the
 * process goes on), msg_fatal for a broken environment at start-up (exit 1), msg_panic for
 * a broken invariant (abort).
 */
#ifndef MB_UTIL_LOG_H
#define MB_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/str.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

/* Sends the log to syslog (facility mail) with ident, or to stderr with ident as prefix. */
void log_open(const char *ident, bool to_syslog);
void log_set_level(enum log_level min);
/*
 * Buffered mode (stderr only): lines are collected and written together by log_flush(),
 * which the server calls every 100 ms and which runs by itself when 64 KiB are waiting, so
 * that a busy gate does not pay one write per decision. Errors and fatal messages are
 * written at once, after what is buffered.
 */
void log_set_buffered(bool on);
void log_flush(void);
bool log_enabled(enum log_level lvl);

void msg_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Most bytes of one peer value that a log line or reply shows. */
#define LOG_VALUE_MAX 100

/*
 * Appends buf[0..len) to out in a form safe for one log line and for SMTP reply text:
 * printable ASCII is kept, backslash, double quote and every other byte become \\, \" and
 * \xHH; at most max input bytes are shown, followed by "..." when cut. No quotes are added.
 */
void log_escape(str_t *out, const void *buf, size_t len, size_t max);
/* As log_escape, but wraps the value in double quotes when it is empty or holds anything
 * but [A-Za-z0-9._:@/+=-], so that a key=value line stays parseable. */
void log_quote(str_t *out, const void *buf, size_t len, size_t max);

/* Appends " key=value" (value quoted as log_quote) to a decision line. */
void log_kv(str_t *line, const char *key, const void *val, size_t len);
void log_kvz(str_t *line, const char *key, const char *val);
/* As log_kv, showing at most max bytes of the value (for text already bounded, e.g. replies). */
void log_kvmax(str_t *line, const char *key, const void *val, size_t len, size_t max);
/* Writes line at lvl and clears it. */
void log_emit(enum log_level lvl, str_t *line);

#endif
