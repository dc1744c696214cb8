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
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
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

/* Bytes that a key=value log line shows without quotes. */
static const unsigned char plain_chars[256] = {
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['.'] = 1, ['_'] = 1,
    [':'] = 1, ['@'] = 1, ['/'] = 1, ['+'] = 1, ['='] = 1, ['-'] = 1, ['<'] = 1, ['>'] = 1,
    ['['] = 1, [']'] = 1,
};

static bool plain(const unsigned char *p, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!plain_chars[p[i]])
            return false;
    return true;
}

/* Printable ASCII without '"' and '\\': quoted as it is. */
static bool printable(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\')
            return false;
    return true;
}

void log_quote(str_t *out, const void *buf, size_t len, size_t max)
{
    if (len <= max && plain(buf, len)) {
        str_append(out, buf, len);
        return;
    }
    if (len <= max && printable(buf, len)) {
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
    if (line->len > 0)
        str_appendc(line, ' ');
    str_appendz(line, key);
    str_appendc(line, '=');
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
