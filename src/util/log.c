/*
 * log: see log.h.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_ident = "mailblock";
static bool log_syslog;
static bool log_buffered;
static str_t log_buf; /* stderr lines not yet written, when buffered */

#define LOG_BUFFER_MAX 65536

void log_set_buffered(bool on)
{
    if (!on)
        log_flush();
    log_buffered = on;
}

void log_flush(void)
{
    if (log_buf.len == 0)
        return;
    fwrite(log_buf.data, 1, log_buf.len, stderr);
    fflush(stderr);
    str_clear(&log_buf);
}
static enum log_level log_min = LOG_LVL_INFO;

void log_open(const char *ident, bool to_syslog)
{
    log_ident = ident;
    log_syslog = to_syslog;
    if (to_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level min)
{
    log_min = min;
}

bool log_enabled(enum log_level lvl)
{
    return lvl >= log_min;
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap)
{
    if (!log_enabled(lvl))
        return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    if (log_syslog) {
        static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
        char buf[2048];
        vsnprintf(buf, sizeof buf, fmt, ap);
        syslog(prio[lvl], "%s%s%s", lvl >= LOG_LVL_WARN ? names[lvl] : "",
               lvl >= LOG_LVL_WARN ? ": " : "", buf);
        return;
    }
    char line[2300];
    int n = snprintf(line, sizeof line, "%s: %s: ", log_ident, names[lvl]);
    if (n < 0)
        return;
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = strlen(line);
    line[len++] = '\n';
    if (log_buffered && lvl < LOG_LVL_ERR) {
        str_append(&log_buf, line, len);
        if (log_buf.len >= LOG_BUFFER_MAX)
            log_flush();
        return;
    }
    log_flush();
    /* One write per line so that concurrent writers do not interleave. */
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}

#define DEFINE_MSG(fn, lvl)                                                                        \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(lvl, fmt, ap);                                                                        \
        va_end(ap);                                                                                \
    }
DEFINE_MSG(msg_debug, LOG_LVL_DEBUG)
DEFINE_MSG(msg_info, LOG_LVL_INFO)
DEFINE_MSG(msg_warn, LOG_LVL_WARN)
DEFINE_MSG(msg_error, LOG_LVL_ERR)

void msg_fatal(const char *fmt, ...)
{
    log_flush();
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LVL_ERR, fmt, ap);
    va_end(ap);
    exit(1);
}

void msg_panic(const char *fmt, ...)
{
    log_flush();
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LVL_ERR, fmt, ap);
    va_end(ap);
    abort();
}

/* How a key=value log line shows each byte: QUOTE_PLAIN bytes need no quotes; QUOTE_OK bytes
 * (the rest of printable ASCII but '"' and '\\') go between quotes as they are; the others
 * (0) must be escaped. One table, so that one pass classifies a value. */
enum { QUOTE_OK = 1, QUOTE_PLAIN = 3 };
static const unsigned char quote_class[256] = {
#define P3(c) [c] = QUOTE_PLAIN
    P3('a'), P3('b'), P3('c'), P3('d'), P3('e'), P3('f'), P3('g'), P3('h'), P3('i'), P3('j'),
    P3('k'), P3('l'), P3('m'), P3('n'), P3('o'), P3('p'), P3('q'), P3('r'), P3('s'), P3('t'),
    P3('u'), P3('v'), P3('w'), P3('x'), P3('y'), P3('z'), P3('A'), P3('B'), P3('C'), P3('D'),
    P3('E'), P3('F'), P3('G'), P3('H'), P3('I'), P3('J'), P3('K'), P3('L'), P3('M'), P3('N'),
    P3('O'), P3('P'), P3('Q'), P3('R'), P3('S'), P3('T'), P3('U'), P3('V'), P3('W'), P3('X'),
    P3('Y'), P3('Z'), P3('0'), P3('1'), P3('2'), P3('3'), P3('4'), P3('5'), P3('6'), P3('7'),
    P3('8'), P3('9'), P3('.'), P3('_'), P3(':'), P3('@'), P3('/'), P3('+'), P3('='), P3('-'),
    P3('<'), P3('>'), P3('['), P3(']'),
#undef P3
    [' '] = QUOTE_OK, ['!'] = QUOTE_OK, ['#'] = QUOTE_OK, ['$'] = QUOTE_OK, ['%'] = QUOTE_OK,
    ['&'] = QUOTE_OK, ['\''] = QUOTE_OK, ['('] = QUOTE_OK, [')'] = QUOTE_OK, ['*'] = QUOTE_OK,
    [','] = QUOTE_OK, [';'] = QUOTE_OK, ['?'] = QUOTE_OK, ['^'] = QUOTE_OK, ['`'] = QUOTE_OK,
    ['{'] = QUOTE_OK, ['|'] = QUOTE_OK, ['}'] = QUOTE_OK, ['~'] = QUOTE_OK,
};

void log_escape(str_t *out, const void *buf, size_t len, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = buf;
    size_t n = len < max ? len : max;
    /* at most 4 output bytes per input byte, plus "..." */
    str_reserve(out, n * 4 + 3);
    char *o = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (quote_class[c] != 0) { /* printable ASCII but '"' and '\\' */
            *o++ = (char)c;
        } else if (c == '\\' || c == '"') {
            *o++ = '\\';
            *o++ = (char)c;
        } else {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    if (len > max) {
        memcpy(o, "...", 3);
        o += 3;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* The class all of p[0..len) shares: QUOTE_PLAIN, QUOTE_OK or 0 (some byte needs escaping).
 * Eight bytes per step while nothing needs escaping. */
static unsigned quote_class_of(const unsigned char *p, size_t len)
{
    unsigned m = QUOTE_PLAIN;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        m &= quote_class[p[i]] & quote_class[p[i + 1]] & quote_class[p[i + 2]] &
             quote_class[p[i + 3]] & quote_class[p[i + 4]] & quote_class[p[i + 5]] &
             quote_class[p[i + 6]] & quote_class[p[i + 7]];
        if (m == 0)
            return 0;
    }
    for (; i < len; i++)
        m &= quote_class[p[i]];
    return m;
}

void log_quote(str_t *out, const void *buf, size_t len, size_t max)
{
    unsigned cls = len <= max ? quote_class_of(buf, len) : 0;
    if (cls == QUOTE_PLAIN && len > 0) {
        str_append(out, buf, len);
        return;
    }
    if (cls != 0) { /* printable (or empty): quoted as it is */
        str_reserve(out, len + 2);
        str_appendc(out, '"');
        str_append(out, buf, len);
        str_appendc(out, '"');
        return;
    }
    str_appendc(out, '"');
    log_escape(out, buf, len, max);
    str_appendc(out, '"');
}

void log_kvmax(str_t *line, const char *key, const void *val, size_t len, size_t max)
{
    /* " key=" in one reservation */
    size_t kl = strlen(key);
    str_reserve(line, kl + 2);
    char *o = line->data + line->len;
    if (line->len > 0)
        *o++ = ' ';
    memcpy(o, key, kl);
    o += kl;
    *o++ = '=';
    line->len = (size_t)(o - line->data);
    line->data[line->len] = '\0';
    log_quote(line, val, len, max);
}

void log_kv(str_t *line, const char *key, const void *val, size_t len)
{
    log_kvmax(line, key, val, len, LOG_VALUE_MAX);
}

void log_kvz(str_t *line, const char *key, const char *val)
{
    log_kv(line, key, val != NULL ? val : "", val != NULL ? strlen(val) : 0);
}

void log_emit(enum log_level lvl, str_t *line)
{
    if (log_buffered && !log_syslog && lvl == LOG_LVL_INFO) {
        /* the decision lines of a busy server: no formatting pass, no copy */
        if (!log_enabled(lvl)) {
            str_clear(line);
            return;
        }
        str_appendz(&log_buf, log_ident);
        str_append(&log_buf, ": info: ", 8);
        str_append(&log_buf, line->data != NULL ? line->data : "", line->len);
        str_appendc(&log_buf, '\n');
        if (log_buf.len >= LOG_BUFFER_MAX)
            log_flush();
        str_clear(line);
        return;
    }
    if (lvl == LOG_LVL_WARN)
        msg_warn("%s", str_cstr(line));
    else if (lvl == LOG_LVL_ERR)
        msg_error("%s", str_cstr(line));
    else if (lvl == LOG_LVL_DEBUG)
        msg_debug("%s", str_cstr(line));
    else
        msg_info("%s", str_cstr(line));
    str_clear(line);
}
