/*
 * spf_macro: RFC 7208 section 7, macro syntax and expansion. See spf.h.
 *
 * Bounds: the input is read within len; every value is at most SPF_MACRO_VALUE_MAX octets
 * (longer values are refused), so the split into parts fits a fixed array; the output goes
 * through a sink that keeps either the first bytes (explanations) or, for domain names, the
 * last SPF_RING bytes, which is all that the left truncation of 7.3 can keep. Nothing is
 * allocated, whatever the record says (libspf2's CVE-2021-33912/33913 were overflows in this
 * step).
 */
#include "auth/spf.h"

#include <stdio.h>
#include <string.h>

/* Bytes of a domain expansion kept: the truncation of 7.3 keeps at most SPF_DOMAIN_MAX octets
 * after a dot, so the last SPF_DOMAIN_MAX + 1 bytes (plus the trailing dot removed first)
 * suffice; a power of two above that. */
#define SPF_RING 512
#define SPF_DIGITS_CAP 1000 /* a larger DIGIT transformer means "all parts" anyway */

/* ---- syntax -------------------------------------------------------------------------------- */

enum tok_kind { TOK_LIT, TOK_ESC, TOK_MACRO };

typedef struct tok {
    enum tok_kind kind;
    char c;          /* TOK_LIT: the byte; TOK_ESC: '%', '_' or '-' */
    char letter;     /* TOK_MACRO: lower case */
    bool upper;      /* URL-escape the expansion (7.3) */
    unsigned digits; /* 0: none */
    bool reverse;
    unsigned delims; /* bit set over DELIMS; 0: '.' */
} tok_t;

static const char DELIMS[] = ".-+,/_="; /* 7.1 delimiter */

static int delim_index(char c)
{
    const char *p = c != '\0' ? strchr(DELIMS, c) : NULL;
    return p != NULL ? (int)(p - DELIMS) : -1;
}

/* Reads one element at *i. Returns 0, or -1 with *why. */
static int next_tok(const char *buf, size_t len, size_t *i, unsigned flags, tok_t *t,
                    const char **why)
{
    size_t j = *i;
    unsigned char c = (unsigned char)buf[j];
    memset(t, 0, sizeof *t);
    if (c != '%') {
        /* macro-literal = %x21-24 / %x26-7E; explain-string adds SP (6.2, 7.1) */
        if (!((c >= 0x21 && c <= 0x7e) || (c == ' ' && (flags & SPF_MACRO_EXPLAIN)))) {
            *why = "a character that is not allowed (only visible ASCII)";
            return -1;
        }
        t->kind = TOK_LIT;
        t->c = (char)c;
        *i = j + 1;
        return 0;
    }
    if (j + 1 >= len) {
        *why = "'%' at the end (write %% for a percent sign)";
        return -1;
    }
    char d = buf[j + 1];
    if (d == '%' || d == '_' || d == '-') {
        t->kind = TOK_ESC;
        t->c = d;
        *i = j + 2;
        return 0;
    }
    if (d != '{') {
        *why = "'%' not followed by '{', '%', '_' or '-' (7.1)";
        return -1;
    }
    j += 2;
    if (j >= len) {
        *why = "unterminated macro";
        return -1;
    }
    char l = buf[j];
    char lower = (l >= 'A' && l <= 'Z') ? (char)(l - 'A' + 'a') : l;
    if (lower == '\0' || strchr("slodiphv", lower) == NULL) {
        if (lower != '\0' && strchr("crt", lower) != NULL) {
            if (!(flags & SPF_MACRO_EXPLAIN)) {
                *why = "the macros c, r and t are allowed only in explanation text (7.2)";
                return -1;
            }
        } else {
            *why = "unknown macro letter (7.2)";
            return -1;
        }
    }
    t->kind = TOK_MACRO;
    t->letter = lower;
    t->upper = l != lower;
    j++;
    size_t ndig = 0;
    unsigned val = 0;
    while (j < len && buf[j] >= '0' && buf[j] <= '9') {
        val = val * 10 + (unsigned)(buf[j] - '0');
        if (val > SPF_DIGITS_CAP) val = SPF_DIGITS_CAP;
        ndig++;
        j++;
    }
    if (ndig > 0 && val == 0) {
        *why = "a macro transformer of zero parts (7.3)";
        return -1;
    }
    t->digits = val;
    if (j < len && (buf[j] == 'r' || buf[j] == 'R')) {
        t->reverse = true;
        j++;
    }
    int di;
    while (j < len && (di = delim_index(buf[j])) >= 0) {
        t->delims |= 1u << di;
        j++;
    }
    if (j >= len || buf[j] != '}') {
        *why = "malformed macro (expected transformers, delimiters and '}')";
        return -1;
    }
    *i = j + 1;
    return 0;
}

int spf_macro_check(const char *buf, size_t len, unsigned flags, spf_macro_info_t *info)
{
    spf_macro_info_t dummy;
    if (info == NULL) info = &dummy;
    memset(info, 0, sizeof *info);
    size_t i = 0;
    while (i < len) {
        tok_t t;
        size_t at = i;
        if (next_tok(buf, len, &i, flags, &t, &info->why) != 0) {
            info->err_off = at;
            return -1;
        }
        info->ends_with_macro = t.kind != TOK_LIT;
        if (t.kind == TOK_MACRO && t.letter == 'p') info->uses |= SPF_USES_P;
    }
    return 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

typedef struct sink {
    char *buf;
    size_t cap;
    size_t total; /* bytes written, kept or not */
    bool tail;    /* keep the last cap bytes (a ring) rather than the first */
} sink_t;

static void put(sink_t *s, char c)
{
    if (s->tail)
        s->buf[s->total % s->cap] = c;
    else if (s->total < s->cap)
        s->buf[s->total] = c;
    s->total++;
}

static void put_escaped(sink_t *s, char c, bool url)
{
    unsigned char u = (unsigned char)c;
    /* RFC 3986 2.3 unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
    if (!url || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
        u == '-' || u == '.' || u == '_' || u == '~') {
        put(s, c);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    put(s, '%');
    put(s, hex[u >> 4]);
    put(s, hex[u & 15]);
}

/* The value of a letter; buf holds computed ones. Returns its length, or -1 when too long. */
static long macro_value(const spf_macro_ctx_t *ctx, char letter, char *buf, size_t size,
                        const char **out)
{
    const char *v = NULL;
    switch (letter) {
    case 's':
        v = ctx->sender;
        break;
    case 'l':
        v = ctx->local;
        break;
    case 'o':
        v = ctx->sender_domain;
        break;
    case 'd':
        v = ctx->domain;
        break;
    case 'h':
        v = ctx->helo;
        break;
    case 'p':
        v = ctx->ptr != NULL ? ctx->ptr : "unknown";
        break;
    case 'r':
        v = ctx->receiver != NULL ? ctx->receiver : "unknown";
        break;
    case 'v':
        v = ctx->ip.family == 6 ? "ip6" : "in-addr";
        break;
    case 't':
        snprintf(buf, size, "%llu", ctx->now);
        v = buf;
        break;
    case 'c':
        if (ctx->ip.family == 4 || ctx->ip.family == 6) v = ipaddr_format(&ctx->ip, buf, size);
        break;
    case 'i':
        /* 7.3: dotted quad for IPv4; for IPv6 the 32 nibbles separated by dots */
        if (ctx->ip.family == 4) {
            snprintf(buf, size, "%u.%u.%u.%u", ctx->ip.a[0], ctx->ip.a[1], ctx->ip.a[2],
                     ctx->ip.a[3]);
            v = buf;
        } else if (ctx->ip.family == 6 && size >= 64) {
            static const char hex[] = "0123456789ABCDEF";
            size_t k = 0;
            for (int n = 0; n < 16; n++) {
                buf[k++] = hex[ctx->ip.a[n] >> 4];
                buf[k++] = '.';
                buf[k++] = hex[ctx->ip.a[n] & 15];
                buf[k++] = n < 15 ? '.' : '\0';
            }
            v = buf;
        }
        break;
    default:
        break;
    }
    if (v == NULL) v = "";
    size_t n = strnlen(v, SPF_MACRO_VALUE_MAX + 1);
    if (n > SPF_MACRO_VALUE_MAX) return -1;
    *out = v;
    return (long)n;
}

/* 7.3: split on the delimiters, optionally reverse, keep the rightmost digits parts, join
 * with '.', URL-escape for an upper-case letter. */
static void emit_macro(sink_t *s, const char *v, size_t n, const tok_t *t)
{
    uint16_t st[SPF_MACRO_VALUE_MAX + 1], en[SPF_MACRO_VALUE_MAX + 1];
    unsigned delims = t->delims != 0 ? t->delims : 1u; /* '.' */
    size_t parts = 0, from = 0;
    for (size_t i = 0; i <= n; i++) {
        int di = i < n ? delim_index(v[i]) : -1;
        if (i == n || (di >= 0 && (delims & (1u << di)))) {
            st[parts] = (uint16_t)from;
            en[parts] = (uint16_t)i;
            parts++;
            from = i + 1;
        }
    }
    size_t keep = t->digits != 0 && t->digits < parts ? t->digits : parts;
    for (size_t k = 0; k < keep; k++) {
        /* not reversed: parts [parts-keep, parts); reversed: parts keep-1 down to 0 */
        size_t idx = t->reverse ? keep - 1 - k : parts - keep + k;
        if (k > 0) put(s, '.');
        for (size_t b = st[idx]; b < en[idx]; b++)
            put_escaped(s, v[b], t->upper);
    }
}

spf_expand_status_t spf_macro_expand(const char *buf, size_t len, const spf_macro_ctx_t *ctx,
                                     unsigned flags, char *out, size_t outsize, size_t *outlen,
                                     const char **why)
{
    const char *dummy;
    if (why == NULL) why = &dummy;
    *why = NULL;
    *outlen = 0;
    bool domain = !(flags & SPF_MACRO_EXPLAIN);
    if (outsize == 0 || (domain && outsize < SPF_DOMAIN_MAX + 1)) {
        *why = "output buffer too small";
        if (outsize > 0) out[0] = '\0';
        return SPF_EXPAND_SYNTAX;
    }
    char ring[SPF_RING];
    sink_t s = domain ? (sink_t){ring, sizeof ring, 0, true} : (sink_t){out, outsize - 1, 0, false};
    size_t i = 0;
    while (i < len) {
        tok_t t;
        if (next_tok(buf, len, &i, flags, &t, why) != 0) {
            out[0] = '\0';
            return SPF_EXPAND_SYNTAX;
        }
        switch (t.kind) {
        case TOK_LIT:
            put(&s, t.c);
            break;
        case TOK_ESC:
            /* 7.1: "%%" is '%', "%_" a space, "%-" a URL-encoded space */
            if (t.c == '%') {
                put(&s, '%');
            } else if (t.c == '_') {
                put(&s, ' ');
            } else {
                put(&s, '%');
                put(&s, '2');
                put(&s, '0');
            }
            break;
        case TOK_MACRO: {
            char vb[80];
            const char *v;
            long n = macro_value(ctx, t.letter, vb, sizeof vb, &v);
            if (n < 0) {
                *why = "a macro value longer than SPF_MACRO_VALUE_MAX";
                out[0] = '\0';
                return SPF_EXPAND_SYNTAX;
            }
            emit_macro(&s, v, (size_t)n, &t);
            break;
        }
        }
    }
    if (!domain) {
        size_t n = s.total < s.cap ? s.total : s.cap;
        out[n] = '\0';
        *outlen = n;
        return SPF_EXPAND_OK;
    }
    /* Domain name: linearise the kept tail, absolute positions [total - kept, total). */
    size_t total = s.total;
    size_t kept = total < SPF_RING ? total : SPF_RING;
    char lin[SPF_RING];
    for (size_t k = 0; k < kept; k++)
        lin[k] = ring[(total - kept + k) % SPF_RING];
    size_t b = 0, e = kept; /* [b, e) of lin; absolute start = total - kept + b */
    if (e > b && lin[e - 1] == '.')
        e--; /* a trailing dot is not part of the name (7.3 examples, 4.3) */
    size_t nlen = (total - kept) + e; /* length of the whole name without the dot */
    if (nlen > SPF_DOMAIN_MAX) {
        /* 7.3: remove labels from the left until the name fits: the suffix after the first
         * dot at absolute index >= nlen - SPF_DOMAIN_MAX - 1 */
        size_t need = nlen - SPF_DOMAIN_MAX - 1; /* absolute index of the earliest usable dot */
        size_t abs0 = total - kept;
        size_t k = need > abs0 ? need - abs0 : 0;
        while (k < e && lin[k] != '.')
            k++;
        if (k >= e) {
            *why = "the expanded name cannot be cut to 253 octets at a label boundary";
            out[0] = '\0';
            return SPF_EXPAND_BADNAME;
        }
        b = k + 1;
    }
    size_t n = e - b;
    if (n == 0) {
        *why = "the expanded name is empty";
        out[0] = '\0';
        return SPF_EXPAND_BADNAME;
    }
    memcpy(out, lin + b, n);
    out[n] = '\0';
    *outlen = n;
    return SPF_EXPAND_OK;
}
