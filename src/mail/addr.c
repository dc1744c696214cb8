/*
 * addr: RFC 5321 envelope address, domain and address-literal syntax; see addr.h.
 *
 * Hand-written recursive-descent over (buf, len) with an index that is compared with the
 * end before every fetch. No allocation; the only buffers are fixed-size locals bounded by
 * the label limit (a U-label is collected as at most ADDR_LABEL_MAX code points).
 * Errors are reported as static strings; the first problem found wins.
 */
#include "mail/addr.h"

#include <stdint.h>
#include <string.h>

#include "util/str.h"

/* Where a bad character was found, to name it in the reason text. */
enum ctx { CTX_LOCAL, CTX_QUOTED, CTX_DOMAIN, CTX_LITERAL, CTX_N };

/* What kind of bad character it is. */
enum bad { BAD_NUL, BAD_CTRL, BAD_DEL, BAD_SPACE, BAD_PAREN, BAD_8BIT, BAD_UTF8, BAD_OTHER,
           BAD_N };

static const char *const bad_why[CTX_N][BAD_N] = {
    [CTX_LOCAL] = {
        "NUL byte in local part",
        "control character in local part",
        "DEL character in local part",
        "white space in local part (folding white space is header syntax, not envelope)",
        "comment in local part (comments are header syntax, not envelope)",
        "8-bit byte in local part (allowed only with SMTPUTF8)",
        "malformed UTF-8 in local part",
        "character not allowed in an unquoted local part",
    },
    [CTX_QUOTED] = {
        "NUL byte in quoted local part",
        "control character in quoted local part",
        "DEL character in quoted local part",
        "", /* space is qtextSMTP */
        "", /* parentheses are qtextSMTP */
        "8-bit byte in quoted local part (allowed only with SMTPUTF8)",
        "malformed UTF-8 in quoted local part",
        "character not allowed in quoted local part",
    },
    [CTX_DOMAIN] = {
        "NUL byte in domain",
        "control character in domain",
        "DEL character in domain",
        "white space in domain (folding white space is header syntax, not envelope)",
        "comment in domain (comments are header syntax, not envelope)",
        "8-bit byte in domain (U-labels are allowed only with SMTPUTF8)",
        "malformed UTF-8 in domain",
        "character not allowed in domain (letters, digits, hyphens and dots only)",
    },
    [CTX_LITERAL] = {
        "NUL byte in address literal",
        "control character in address literal",
        "DEL character in address literal",
        "white space in address literal",
        "character not allowed in address literal",
        "8-bit byte in address literal",
        "8-bit byte in address literal",
        "character not allowed in address literal",
    },
};

static const char *char_why(unsigned char c, enum ctx ctx, unsigned flags)
{
    enum bad b;
    if (c == 0)
        b = BAD_NUL;
    else if (c < 0x20)
        b = BAD_CTRL;
    else if (c == 0x7f)
        b = BAD_DEL;
    else if (c == ' ')
        b = BAD_SPACE;
    else if (c == '(' || c == ')')
        b = BAD_PAREN;
    else if (c >= 0x80)
        b = (flags & ADDR_SMTPUTF8) ? BAD_UTF8 : BAD_8BIT;
    else
        b = BAD_OTHER;
    const char *w = bad_why[ctx][b];
    return w[0] != '\0' ? w : bad_why[ctx][BAD_OTHER];
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_ldh(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-';
}

static int hex_val(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 5322 3.2.3 atext (ASCII part). */
static int is_atext(unsigned char c)
{
    if (is_alpha(c) || is_digit(c))
        return 1;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5321 4.1.2 qtextSMTP = %d32-33 / %d35-91 / %d93-126 */
static int is_qtext(unsigned char c)
{
    return c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);
}

/* ---- Punycode (RFC 3492 6.3), used only to size and spell U-labels as A-labels ---- */

enum { PUNY_BASE = 36, PUNY_TMIN = 1, PUNY_TMAX = 26, PUNY_SKEW = 38, PUNY_DAMP = 700,
       PUNY_BIAS = 72, PUNY_N = 128 };

static uint32_t puny_adapt(uint32_t delta, uint32_t numpoints, int first)
{
    uint32_t k = 0;
    delta = first ? delta / PUNY_DAMP : delta / 2;
    delta += delta / numpoints;
    while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
        delta /= PUNY_BASE - PUNY_TMIN;
        k += PUNY_BASE;
    }
    return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

static char puny_digit(uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/*
 * Encodes n code points (n <= ADDR_LABEL_MAX, each <= 0x10FFFF, so no arithmetic here can
 * overflow 32 bits: delta < 0x110000 * 64) into out[0..cap). Returns the length or -1 when
 * it does not fit.
 */
static int puny_encode(const uint32_t *in, size_t n, char *out, size_t cap)
{
    size_t o = 0, b = 0;
    for (size_t j = 0; j < n; j++) {
        if (in[j] < 0x80) {
            if (o >= cap)
                return -1;
            out[o++] = (char)in[j];
            b++;
        }
    }
    if (b > 0) {
        if (o >= cap)
            return -1;
        out[o++] = '-';
    }
    uint32_t cur = PUNY_N, delta = 0, bias = PUNY_BIAS;
    size_t h = b;
    while (h < n) {
        uint32_t m = UINT32_MAX;
        for (size_t j = 0; j < n; j++)
            if (in[j] >= cur && in[j] < m)
                m = in[j];
        delta += (m - cur) * (uint32_t)(h + 1);
        cur = m;
        for (size_t j = 0; j < n; j++) {
            if (in[j] < cur)
                delta++;
            if (in[j] != cur)
                continue;
            uint32_t q = delta;
            for (uint32_t k = PUNY_BASE;; k += PUNY_BASE) {
                uint32_t t = k <= bias ? PUNY_TMIN
                             : k >= bias + PUNY_TMAX ? PUNY_TMAX : k - bias;
                if (q < t)
                    break;
                if (o >= cap)
                    return -1;
                out[o++] = puny_digit(t + (q - t) % (PUNY_BASE - t));
                q = (q - t) / (PUNY_BASE - t);
            }
            if (o >= cap)
                return -1;
            out[o++] = puny_digit(q);
            bias = puny_adapt(delta, (uint32_t)(h + 1), h == b);
            delta = 0;
            h++;
        }
        delta++;
        cur++;
    }
    return (int)o;
}

/* ---- Domain (RFC 5321 4.1.2; RFC 1035 2.3.4 limits; RFC 6531 3.3 U-labels) ---- */

/*
 * The usual Domain, all ASCII: labels of 1 to ADDR_LABEL_MAX letters, digits and hyphens,
 * no hyphen at either end, at most ADDR_DOMAIN_MAX octets. Its ASCII form is itself, so
 * the result is what domain_check() gives; -1 leaves any other input (and the reason it
 * fails) to domain_check()'s general path.
 */
static int domain_check_ascii(const unsigned char *buf, size_t len, int *numeric_tld, char *out,
                              size_t cap)
{
    if (len == 0 || len > ADDR_DOMAIN_MAX || (out != NULL && len > cap))
        return -1;
    size_t start = 0;
    int digits_only = 1;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || buf[i] == '.') {
            size_t llen = i - start;
            if (llen == 0 || llen > ADDR_LABEL_MAX || buf[start] == '-' || buf[i - 1] == '-')
                return -1;
            if (i < len) {
                start = i + 1;
                digits_only = 1;
            }
        } else if (!is_digit(buf[i])) {
            if (!is_alpha(buf[i]) && buf[i] != '-')
                return -1;
            digits_only = 0;
        }
    }
    if (out != NULL)
        memcpy(out, buf, len);
    *numeric_tld = digits_only;
    return (int)len;
}

/*
 * Validates buf[0..len) as a Domain. On success returns the length of its ASCII form,
 * sets *numeric_tld, and, if out is not NULL, writes that form (no NUL) to out[0..cap).
 * On failure returns -1 and sets *why.
 */
static int domain_check(const unsigned char *buf, size_t len, unsigned flags,
                        const char **why, int *numeric_tld, char *out, size_t cap)
{
    int fast = domain_check_ascii(buf, len, numeric_tld, out, cap);
    if (fast >= 0)
        return fast;
    size_t i = 0, total = 0;
    int numeric = 0;
    if (len == 0) {
        *why = "empty domain";
        return -1;
    }
    for (;;) {
        size_t start = i, ncp = 0;
        int utf8 = 0, digits_only = 1;
        uint32_t cps[ADDR_LABEL_MAX];
        /* A label ends at "." or at the end; collect its code points for Punycode. */
        while (i < len && buf[i] != '.') {
            unsigned char c = buf[i];
            uint32_t cp = c;
            size_t step = 1;
            if (c >= 0x80 && (flags & ADDR_SMTPUTF8)) {
                step = utf8_seq(buf + i, len - i, &cp);
                if (step == 0) {
                    *why = char_why(c, CTX_DOMAIN, flags);
                    return -1;
                }
                utf8 = 1;
            } else if (!is_ldh(c)) {
                *why = char_why(c, CTX_DOMAIN, flags);
                return -1;
            }
            if (!is_digit(c))
                digits_only = 0;
            /* Each code point costs at least one A-label octet. */
            if (ncp >= ADDR_LABEL_MAX) {
                *why = "domain label longer than 63 octets";
                return -1;
            }
            cps[ncp++] = cp;
            i += step;
        }
        size_t llen = i - start;
        if (llen == 0) {
            *why = start == 0 ? "domain starts with a dot"
                   : i == len ? "domain ends with a dot (no trailing dot in RFC 5321 Domain)"
                              : "consecutive dots in domain";
            return -1;
        }
        /* RFC 5321 4.1.2 sub-domain = Let-dig [Ldh-str]: no hyphen at either end. */
        if (buf[start] == '-') {
            *why = "domain label starts with a hyphen";
            return -1;
        }
        if (buf[i - 1] == '-') {
            *why = "domain label ends with a hyphen";
            return -1;
        }
        char alabel[ADDR_LABEL_MAX + 1];
        size_t alen;
        if (utf8) {
            /* RFC 5891 4.2.3.1: a U-label has no "--" in positions 3 and 4. */
            if (ncp >= 4 && cps[2] == '-' && cps[3] == '-') {
                *why = "U-label with \"--\" in positions 3 and 4";
                return -1;
            }
            memcpy(alabel, "xn--", 4);
            int n = puny_encode(cps, ncp, alabel + 4, ADDR_LABEL_MAX - 4);
            if (n < 0) {
                *why = "domain label longer than 63 octets (as an A-label)";
                return -1;
            }
            alen = 4 + (size_t)n;
        } else {
            if (llen > ADDR_LABEL_MAX) {
                *why = "domain label longer than 63 octets";
                return -1;
            }
            memcpy(alabel, buf + start, llen);
            alen = llen;
        }
        size_t need = total + (total > 0) + alen;
        if (need > ADDR_DOMAIN_MAX) {
            *why = "domain longer than 253 octets";
            return -1;
        }
        if (out != NULL) {
            if (need > cap) {
                *why = "output buffer too small";
                return -1;
            }
            if (total > 0)
                out[total] = '.';
            memcpy(out + need - alen, alabel, alen);
        }
        total = need;
        numeric = digits_only;
        if (i == len)
            break;
        i++; /* the dot */
        if (i == len) {
            *why = "domain ends with a dot (no trailing dot in RFC 5321 Domain)";
            return -1;
        }
    }
    *numeric_tld = numeric;
    return (int)total;
}

int addr_domain_valid(const unsigned char *buf, size_t len, unsigned flags, const char **why)
{
    const char *w = NULL;
    int numeric;
    int ok = domain_check(buf, len, flags, &w, &numeric, NULL, 0) >= 0;
    if (why != NULL)
        *why = ok ? NULL : w;
    return ok;
}

int addr_hostname_valid(const unsigned char *buf, size_t len, unsigned flags,
                        const char **why)
{
    const char *w = NULL;
    int numeric = 0;
    int ok = domain_check(buf, len, flags, &w, &numeric, NULL, 0) >= 0;
    /* RFC 1123 2.1: the highest-level label of a host name is alphabetic, so a
     * dotted-decimal address can never be mistaken for a name. */
    if (ok && numeric) {
        ok = 0;
        w = "all-numeric top-level label (a bare IP address is not a host name)";
    }
    if (why != NULL)
        *why = ok ? NULL : w;
    return ok;
}

int addr_domain_ascii(const unsigned char *buf, size_t len, unsigned flags, char *out,
                      size_t size)
{
    const char *why;
    int numeric;
    if (out == NULL || size == 0)
        return -1;
    int n = domain_check(buf, len, flags, &why, &numeric, out, size - 1);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return n;
}

/* ---- Address literals (RFC 5321 4.1.3) ---- */

/* IPv4-address-literal = Snum 3("." Snum); Snum = 1*3DIGIT with a value of 0..255. */
static int ipv4_parse(const unsigned char *p, size_t n, unsigned char out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || p[i] != '.')
                return -1;
            i++;
        }
        unsigned v = 0, digits = 0;
        while (i < n && is_digit(p[i]) && digits < 3) {
            v = v * 10 + (unsigned)(p[i] - '0');
            digits++;
            i++;
        }
        if (digits == 0 || v > 255)
            return -1;
        out[part] = (unsigned char)v;
    }
    return i == n ? 0 : -1;
}

/*
 * A run of IPv6-hex groups separated by ":" (possibly empty when n == 0); the last piece
 * may be an IPv4-address-literal if v4 is not NULL. Stores up to 8 groups.
 */
static int ipv6_groups(const unsigned char *p, size_t n, uint16_t g[8], size_t *count,
                       int *v4, unsigned char v4b[4])
{
    size_t i = 0, c = 0;
    *count = 0;
    if (n == 0)
        return 0;
    for (;;) {
        size_t s = i;
        while (i < n && p[i] != ':')
            i++;
        size_t plen = i - s;
        if (plen == 0 || c >= 8)
            return -1;
        if (i == n && v4 != NULL && memchr(p + s, '.', plen) != NULL) {
            if (ipv4_parse(p + s, plen, v4b) != 0)
                return -1;
            *v4 = 1;
            break;
        }
        if (plen > 4)
            return -1;
        unsigned v = 0;
        for (size_t k = s; k < i; k++) {
            int h = hex_val(p[k]);
            if (h < 0)
                return -1;
            v = v * 16 + (unsigned)h;
        }
        g[c++] = (uint16_t)v;
        if (i == n)
            break;
        i++; /* the ":" */
        if (i == n)
            return -1; /* trailing ":" */
    }
    *count = c;
    return 0;
}

/*
 * IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 5321 4.1.3):
 *   IPv6-full   = 8 groups;                 IPv6v4-full = 6 groups ":" IPv4
 *   IPv6-comp   = at most 6 groups and "::"; IPv6v4-comp = at most 4 groups, "::", IPv4
 * so "::" always stands for at least two groups of zeros.
 */
static int ipv6_parse(const unsigned char *p, size_t n, unsigned char out[16])
{
    uint16_t head[8], tail[8];
    size_t nh = 0, nt = 0, dc = n;
    int v4 = 0;
    unsigned char v4b[4];
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == ':' && p[i + 1] == ':') {
            dc = i;
            break;
        }
    }
    if (dc < n) {
        if (ipv6_groups(p, dc, head, &nh, NULL, NULL) != 0 ||
            ipv6_groups(p + dc + 2, n - dc - 2, tail, &nt, &v4, v4b) != 0)
            return -1;
        if (nh + nt > (v4 ? 4u : 6u))
            return -1;
    } else {
        if (ipv6_groups(p, n, head, &nh, &v4, v4b) != 0)
            return -1;
        if (nh != (v4 ? 6u : 8u))
            return -1;
    }
    memset(out, 0, 16);
    for (size_t k = 0; k < nh; k++) {
        out[2 * k] = (unsigned char)(head[k] >> 8);
        out[2 * k + 1] = (unsigned char)head[k];
    }
    size_t end = v4 ? 12 : 16;
    for (size_t k = 0; k < nt; k++) {
        size_t at = end - 2 * (nt - k);
        out[at] = (unsigned char)(tail[k] >> 8);
        out[at + 1] = (unsigned char)tail[k];
    }
    if (v4)
        memcpy(out + 12, v4b, 4);
    return 0;
}

int addr_literal_parse(const unsigned char *buf, size_t len, int *family,
                       unsigned char out[16], const char **why)
{
    const char *w = NULL;
    *family = 0;
    memset(out, 0, 16);
    if (len < 2 || buf[0] != '[' || buf[len - 1] != ']') {
        w = "address literal not enclosed in [ ]";
        goto bad;
    }
    const unsigned char *c = buf + 1;
    size_t n = len - 2;
    if (n == 0) {
        w = "empty address literal";
        goto bad;
    }
    const unsigned char *colon = memchr(c, ':', n);
    if (colon == NULL) {
        if (!is_digit(c[0])) {
            w = "address literal is neither IPv4 nor Standardized-tag:content";
            goto bad;
        }
        if (ipv4_parse(c, n, out) != 0) {
            w = "invalid IPv4 address literal";
            goto bad;
        }
        *family = 4;
        return 0;
    }
    /* Standardized-tag = Ldh-str; the only registered one is "IPv6". */
    size_t tlen = (size_t)(colon - c);
    for (size_t k = 0; k < tlen; k++) {
        if (!is_ldh(c[k])) {
            w = char_why(c[k], CTX_LITERAL, 0);
            goto bad;
        }
    }
    if (tlen == 0 || c[tlen - 1] == '-') {
        w = "invalid address literal tag";
        goto bad;
    }
    if (tlen == 4 && (c[0] | 0x20) == 'i' && (c[1] | 0x20) == 'p' && (c[2] | 0x20) == 'v' &&
        c[3] == '6') {
        if (ipv6_parse(colon + 1, n - tlen - 1, out) != 0) {
            w = "invalid IPv6 address literal";
            goto bad;
        }
        *family = 6;
        return 0;
    }
    /* General-address-literal: 1*dcontent, dcontent = %d33-90 / %d94-126 */
    if (n - tlen - 1 == 0) {
        w = "empty address literal content";
        goto bad;
    }
    for (size_t k = tlen + 1; k < n; k++) {
        unsigned char d = c[k];
        if (!((d >= 33 && d <= 90) || (d >= 94 && d <= 126))) {
            w = char_why(d, CTX_LITERAL, 0);
            goto bad;
        }
    }
    *family = -1;
    return 0;
bad:
    *family = 0;
    memset(out, 0, 16);
    if (why != NULL)
        *why = w;
    return -1;
}

/* ---- Mailbox (RFC 5321 4.1.2) ---- */

static const char *local_char_why(unsigned char c, unsigned flags)
{
    return c == '"' ? "quote character in an unquoted local part"
                    : char_why(c, CTX_LOCAL, flags);
}

/*
 * Local-part = Dot-string / Quoted-string, starting at *pos and ending before "@" or at
 * end. Returns 0 and advances *pos, or -1 with *why set.
 */
static int local_part(const unsigned char *buf, size_t end, size_t *pos, unsigned flags,
                      int *quoted, const char **why)
{
    size_t i = *pos;
    if (i < end && buf[i] == '"') {
        /* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
        *quoted = 1;
        i++;
        for (;;) {
            if (i >= end) {
                *why = "unclosed quoted string in local part";
                return -1;
            }
            unsigned char c = buf[i];
            uint32_t cp;
            if (c == '"') {
                i++;
                break;
            }
            if (c == '\\') {
                /* quoted-pairSMTP = %d92 %d32-126 (ASCII even under SMTPUTF8) */
                if (i + 1 >= end) {
                    *why = "unclosed quoted string in local part";
                    return -1;
                }
                unsigned char q = buf[i + 1];
                if (q < 32 || q > 126) {
                    *why = "backslash followed by a non-printable or 8-bit byte in quoted "
                           "local part";
                    return -1;
                }
                i += 2;
            } else if (is_qtext(c)) {
                i++;
            } else if (c >= 0x80 && (flags & ADDR_SMTPUTF8)) {
                size_t step = utf8_seq(buf + i, end - i, &cp);
                if (step == 0) {
                    *why = char_why(c, CTX_QUOTED, flags);
                    return -1;
                }
                i += step;
            } else {
                *why = char_why(c, CTX_QUOTED, flags);
                return -1;
            }
        }
        if (i < end && buf[i] != '@') {
            *why = buf[i] == '.' ? "quoted string mixed with dot-atoms in local part "
                                   "(obsolete syntax)"
                                 : "text after quoted string in local part";
            return -1;
        }
        *pos = i;
        return 0;
    }
    /* Dot-string = Atom *("." Atom); Atom = 1*atext */
    *quoted = 0;
    size_t start = i;
    for (;;) {
        size_t a = i;
        while (i < end) {
            unsigned char c = buf[i];
            uint32_t cp;
            if (is_atext(c)) {
                i++;
            } else if (c >= 0x80 && (flags & ADDR_SMTPUTF8)) {
                size_t step = utf8_seq(buf + i, end - i, &cp);
                if (step == 0)
                    break;
                i += step;
            } else {
                break;
            }
        }
        if (i == a) {
            int at_end = i >= end || buf[i] == '@';
            if (i == start)
                *why = at_end ? "empty local part"
                       : buf[i] == '.' ? "local part starts with a dot"
                                       : local_char_why(buf[i], flags);
            else if (at_end)
                *why = "local part ends with a dot";
            else if (buf[i] == '.')
                *why = "consecutive dots in local part";
            else
                *why = local_char_why(buf[i], flags);
            return -1;
        }
        if (i < end && buf[i] == '.') {
            i++;
            continue;
        }
        break;
    }
    if (i < end && buf[i] != '@') {
        *why = local_char_why(buf[i], flags);
        return -1;
    }
    *pos = i;
    return 0;
}

/*
 * A-d-l = At-domain *( "," At-domain ) ":" ; At-domain = "@" Domain. buf[*pos] is "@".
 * Returns 0 and advances *pos past the ":", or -1 with *why set.
 */
static int source_route(const unsigned char *buf, size_t end, size_t *pos, unsigned flags,
                        const char **why)
{
    size_t i = *pos;
    for (int hop = 0;; hop++) {
        if (i >= end || buf[i] != '@') {
            *why = "source route hop does not start with @";
            return -1;
        }
        i++;
        size_t s = i;
        while (i < end && buf[i] != ',' && buf[i] != ':')
            i++;
        if (i >= end) {
            *why = hop == 0 && memchr(buf + s, '@', i - s) == NULL
                       ? "empty local part"
                       : "source route not followed by \":\" and a mailbox";
            return -1;
        }
        const char *w;
        int numeric;
        if (domain_check(buf + s, i - s, flags, &w, &numeric, NULL, 0) < 0) {
            *why = "invalid domain in source route";
            return -1;
        }
        if (buf[i++] == ':')
            break;
    }
    *pos = i;
    return 0;
}

static addr_status_t bad(addr_t *out, const char *why)
{
    out->status = ADDR_BAD_SYNTAX;
    out->why = why;
    return ADDR_BAD_SYNTAX;
}

addr_status_t addr_parse(const unsigned char *buf, size_t len, unsigned flags, addr_t *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0, end = len;

    /* Path = "<" [ A-d-l ":" ] Mailbox ">"; Postfix passes it without the brackets. */
    if (len > 0 && buf[0] == '<') {
        if (len < 2 || buf[len - 1] != '>')
            return bad(out, "unbalanced angle brackets");
        i = 1;
        end = len - 1;
    } else if (len > 0 && buf[len - 1] == '>') {
        return bad(out, "unbalanced angle brackets");
    }
    if (i == end) {
        /* Reverse-path = Path / "<>" (RFC 5321 4.1.2) */
        out->status = ADDR_NULL;
        return ADDR_NULL;
    }
    /* RFC 5321 4.5.3.1.3: a path is at most 256 octets counting "<" and ">". */
    if (end - i > ADDR_MAILBOX_MAX)
        return bad(out, "address longer than 254 octets (path limit 256, RFC 5321 4.5.3.1.3)");

    /* RFC 5321 4.1.1.3 / appendix C: accept a source route and ignore it. */
    size_t route_start = i;
    const char *why = NULL;
    if (buf[i] == '@') {
        if (source_route(buf, end, &i, flags, &why) != 0)
            return bad(out, why);
        out->route_len = i - route_start;
        if (i == end)
            return bad(out, "source route without a mailbox");
    }

    size_t lstart = i;
    int quoted = 0;
    if (local_part(buf, end, &i, flags, &quoted, &why) != 0)
        return bad(out, why);
    out->quoted = quoted;
    out->local_off = lstart;
    out->local_len = i - lstart;
    /* RFC 5321 4.5.3.1.1 */
    if (out->local_len > ADDR_LOCAL_MAX)
        return bad(out, "local part longer than 64 octets");
    if (i == end) {
        if (out->route_len > 0)
            return bad(out, "source route with a mailbox that has no domain");
        out->status = ADDR_NO_DOMAIN;
        return ADDR_NO_DOMAIN;
    }
    i++; /* "@", which local_part() stopped at */
    if (i == end)
        return bad(out, "empty domain after @");
    out->domain_off = i;
    out->domain_len = end - i;

    if (buf[i] == '[') {
        const unsigned char *close = memchr(buf + i, ']', end - i);
        if (close == NULL)
            return bad(out, "unclosed address literal");
        if ((size_t)(close - buf) != end - 1)
            return bad(out, "text after address literal");
        int family;
        if (addr_literal_parse(buf + i, end - i, &family, out->ip, &why) != 0)
            return bad(out, why);
        if (family < 0)
            return bad(out, "address literal with an unregistered tag (RFC 5321 4.1.3 "
                            "admits IPv4 and IPv6 only)");
        out->literal_family = family;
        out->status = ADDR_IP_DOMAIN;
        return ADDR_IP_DOMAIN;
    }
    int numeric = 0;
    if (domain_check(buf + i, end - i, flags, &why, &numeric, NULL, 0) < 0)
        return bad(out, why);
    out->numeric_tld = numeric;
    out->status = ADDR_OK;
    return ADDR_OK;
}

/* Is buf[0..len) an RFC 5321 Dot-string (Atom *("." Atom))? */
static int is_dot_string(const char *buf, size_t len)
{
    if (len == 0 || buf[0] == '.' || buf[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '.') {
            if (buf[i - 1] == '.')
                return 0;
        } else if (!is_atext(c)) {
            return 0;
        }
    }
    return 1;
}

int addr_from_internal(const char *in, size_t len, char *out, size_t size)
{
    size_t at = len; /* the last '@' splits local part and domain */
    for (size_t i = len; i > 0; i--)
        if (in[i - 1] == '@') {
            at = i - 1;
            break;
        }
    size_t o = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 >= size)                                                                         \
            return -1;                                                                             \
        out[o++] = (char)(ch);                                                                     \
    } while (0)
    if (len == 0 || (at > 0 && is_dot_string(in, at)) || (at == len && len > 0 && is_dot_string(in, len))) {
        if (len >= size)
            return -1; /* as PUT would */
        memcpy(out, in, len);
        o = len;
    } else {
        PUT('"');
        for (size_t i = 0; i < at; i++) {
            if (in[i] == '"' || in[i] == '\\')
                PUT('\\');
            PUT(in[i]);
        }
        PUT('"');
        for (size_t i = at; i < len; i++)
            PUT(in[i]);
    }
#undef PUT
    if (size == 0)
        return -1;
    out[o] = '\0';
    return (int)o;
}
