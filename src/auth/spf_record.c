/*
 * spf_record: the SPF record grammar (RFC 7208 section 12, with 4.5, 4.6.1, 5, 6 and 7.1).
 * See spf.h. A term is a maximal run of non-space bytes; every byte of the record must be a
 * space or visible ASCII (3.1, 4.6.1). Nothing is allocated; terms are offsets into the buffer.
 */
#include "auth/spf.h"

#include <arpa/inet.h>
#include <string.h>

#include "util/str.h"

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}

static bool word_eq(const char *p, size_t n, const char *word)
{
    return mem_ieq(p, n, word, strlen(word));
}

bool spf_record_is_spf(const char *buf, size_t len)
{
    /* 4.5: "v=spf1" exactly (ABNF strings are case-insensitive), then SP or the end */
    return len >= SPF_VERSION_LEN && mem_ieq(buf, SPF_VERSION_LEN, "v=spf1", SPF_VERSION_LEN) &&
           (len == SPF_VERSION_LEN || buf[SPF_VERSION_LEN] == ' ');
}

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 * i.e. letters, digits and hyphens, starting and ending with a letter or digit, and not all
 * digits unless a hyphen is present.
 */
static bool toplabel_ok(const char *p, size_t n)
{
    if (n == 0 || !is_alnum(p[0]) || !is_alnum(p[n - 1])) return false;
    bool alpha = false, hyphen = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '-')
            hyphen = true;
        else if (is_alpha(p[i]))
            alpha = true;
        else if (!is_digit(p[i]))
            return false;
    }
    return alpha || hyphen;
}

/* domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static int domain_spec_ok(const char *p, size_t n, unsigned *uses, const char **why)
{
    spf_macro_info_t mi;
    if (n == 0) {
        *why = "empty domain-spec";
        return -1;
    }
    if (spf_macro_check(p, n, 0, &mi) != 0) {
        *why = mi.why;
        return -1;
    }
    *uses = mi.uses;
    if (mi.ends_with_macro) return 0;
    size_t e = n;
    if (p[e - 1] == '.') e--;
    size_t d = e;
    while (d > 0 && p[d - 1] != '.')
        d--;
    if (d == 0 || !toplabel_ok(p + d, e - d)) {
        *why = "a domain-spec must end with a dot and a valid top label, or with a macro (7.1)";
        return -1;
    }
    return 0;
}

/* A CIDR length: "0" or digits without a leading zero, at most max (5.6, 12). */
static int cidr_value(const char *p, size_t n, int max)
{
    if (n == 0 || n > 3 || (p[0] == '0' && n > 1)) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v <= max ? v : -1;
}

/* ip4-network = qnum "." qnum "." qnum "." qnum, qnum 0..255 without leading zeros */
static int ip4_parse(const char *p, size_t n, ipaddr_t *out)
{
    memset(out, 0, sizeof *out);
    out->family = 4;
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t s = i;
        unsigned v = 0;
        while (i < n && is_digit(p[i]) && i - s < 3) {
            v = v * 10 + (unsigned)(p[i] - '0');
            i++;
        }
        size_t dl = i - s;
        if (dl == 0 || v > 255 || (dl > 1 && p[s] == '0')) return -1;
        out->a[part] = (uint8_t)v;
        if (part < 3) {
            if (i >= n || p[i] != '.') return -1;
            i++;
        }
    }
    return i == n ? 0 : -1;
}

/* ip6-network: RFC 4291 2.2 text forms (inet_pton's); kept as IPv6 even when IPv4-mapped. */
static int ip6_parse(const char *p, size_t n, ipaddr_t *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return -1;
    for (size_t i = 0; i < n; i++)
        if (!(is_digit(p[i]) || (p[i] >= 'a' && p[i] <= 'f') || (p[i] >= 'A' && p[i] <= 'F') ||
              p[i] == ':' || p[i] == '.'))
            return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET6, tmp, out->a) != 1) return -1;
    out->family = 6;
    return 0;
}

/* a, mx: [ ":" domain-spec ] [ dual-cidr-length ] in rest[0..n); offsets relative to base. */
static int parse_a_mx(const char *rest, size_t n, size_t base, spf_term_t *t, const char **why)
{
    size_t e = n;
    /* ip6-cidr-length "//" digits at the very end, then ip4-cidr-length "/" digits */
    size_t d = e;
    while (d > 0 && is_digit(rest[d - 1]))
        d--;
    if (d < e && d >= 2 && rest[d - 1] == '/' && rest[d - 2] == '/') {
        if ((t->cidr6 = cidr_value(rest + d, e - d, 128)) < 0) {
            *why = "invalid IPv6 CIDR length (0-128, no leading zeros)";
            return -1;
        }
        e = d - 2;
        d = e;
        while (d > 0 && is_digit(rest[d - 1]))
            d--;
    }
    if (d < e && d >= 1 && rest[d - 1] == '/') {
        if ((t->cidr4 = cidr_value(rest + d, e - d, 32)) < 0) {
            *why = "invalid IPv4 CIDR length (0-32, no leading zeros)";
            return -1;
        }
        e = d - 1;
    }
    if (e == 0) return 0;
    if (rest[0] != ':') {
        *why = "expected ':' and a domain, or a CIDR length";
        return -1;
    }
    t->arg_off = base + 1;
    t->arg_len = e - 1;
    return domain_spec_ok(rest + 1, e - 1, &t->uses, why);
}

/* ip4, ip6: ":" network [ "/" length ] */
static int parse_ip(const char *rest, size_t n, size_t base, bool v6, spf_term_t *t,
                    const char **why)
{
    if (n == 0 || rest[0] != ':') {
        *why = v6 ? "ip6 needs ':' and an address" : "ip4 needs ':' and an address";
        return -1;
    }
    size_t e = n;
    const char *slash = memchr(rest + 1, '/', n - 1);
    if (slash != NULL) {
        size_t s = (size_t)(slash - rest);
        int v = cidr_value(rest + s + 1, n - s - 1, v6 ? 128 : 32);
        if (v < 0) {
            *why = v6 ? "invalid IPv6 CIDR length (0-128, no leading zeros, no dual CIDR)"
                      : "invalid IPv4 CIDR length (0-32, no leading zeros, no dual CIDR)";
            return -1;
        }
        if (v6)
            t->cidr6 = v;
        else
            t->cidr4 = v;
        e = s;
    }
    t->arg_off = base + 1;
    t->arg_len = e - 1;
    if ((v6 ? ip6_parse(rest + 1, e - 1, &t->net) : ip4_parse(rest + 1, e - 1, &t->net)) != 0) {
        *why = v6 ? "invalid IPv6 address" : "invalid IPv4 address (four decimal octets)";
        return -1;
    }
    return 0;
}

/* Parses term p[0..n) (offset base in the record) into t. */
static int parse_term(const char *p, size_t n, size_t base, spf_term_t *t, const char **why)
{
    /* modifier = name "=" ...; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) (4.6.1:
     * the '=' comes right after the name, before any ':' or '/') */
    if (is_alpha(p[0])) {
        size_t j = 1;
        while (j < n && (is_alnum(p[j]) || p[j] == '-' || p[j] == '_' || p[j] == '.'))
            j++;
        if (j < n && p[j] == '=') {
            const char *v = p + j + 1;
            size_t vn = n - j - 1;
            t->arg_off = base + j + 1;
            t->arg_len = vn;
            t->name_len = j;
            /* Known modifier names are never unknown modifiers (test suite: 6.1/2, 6.2/1). */
            if (word_eq(p, j, "redirect")) {
                t->kind = SPF_REDIRECT;
                return domain_spec_ok(v, vn, &t->uses, why);
            }
            if (word_eq(p, j, "exp")) {
                t->kind = SPF_EXP;
                return domain_spec_ok(v, vn, &t->uses, why);
            }
            t->kind = SPF_UNKNOWN_MOD;
            spf_macro_info_t mi;
            if (spf_macro_check(v, vn, 0, &mi) != 0) {
                *why = mi.why;
                return -1;
            }
            t->uses = mi.uses;
            return 0;
        }
    }
    size_t k = 0;
    t->qualifier = '+';
    if (p[0] == '+' || p[0] == '-' || p[0] == '~' || p[0] == '?') {
        t->qualifier = p[0];
        k = 1;
    }
    size_t j = k;
    while (j < n && is_alnum(p[j]))
        j++;
    const char *name = p + k, *rest = p + j;
    size_t nl = j - k, rn = n - j;
    if (word_eq(name, nl, "all")) {
        t->kind = SPF_ALL;
        if (rn != 0) {
            *why = "all takes no argument (5.1)";
            return -1;
        }
        return 0;
    }
    if (word_eq(name, nl, "include") || word_eq(name, nl, "exists")) {
        t->kind = word_eq(name, nl, "include") ? SPF_INCLUDE : SPF_EXISTS;
        if (rn == 0 || rest[0] != ':') {
            *why = t->kind == SPF_INCLUDE ? "include needs ':' and a domain (5.2)"
                                          : "exists needs ':' and a domain (5.7)";
            return -1;
        }
        t->arg_off = base + j + 1;
        t->arg_len = rn - 1;
        return domain_spec_ok(rest + 1, rn - 1, &t->uses, why);
    }
    if (word_eq(name, nl, "ptr")) {
        t->kind = SPF_PTR;
        if (rn == 0) return 0;
        if (rest[0] != ':') {
            *why = "ptr takes only ':' and a domain (5.5)";
            return -1;
        }
        t->arg_off = base + j + 1;
        t->arg_len = rn - 1;
        return domain_spec_ok(rest + 1, rn - 1, &t->uses, why);
    }
    if (word_eq(name, nl, "a") || word_eq(name, nl, "mx")) {
        t->kind = word_eq(name, nl, "a") ? SPF_A : SPF_MX;
        return parse_a_mx(rest, rn, base + j, t, why);
    }
    if (word_eq(name, nl, "ip4") || word_eq(name, nl, "ip6")) {
        bool v6 = word_eq(name, nl, "ip6");
        t->kind = v6 ? SPF_IP6 : SPF_IP4;
        return parse_ip(rest, rn, base + j, v6, t, why);
    }
    *why = "unknown mechanism (4.6.1, 5)";
    return -1;
}

int spf_term_next(const char *buf, size_t len, size_t *pos, spf_term_t *t, const char **why)
{
    size_t i = *pos;
    while (i < len && buf[i] == ' ')
        i++;
    if (i >= len) {
        *pos = len;
        return 0;
    }
    size_t s = i;
    while (i < len && buf[i] != ' ')
        i++;
    *pos = i;
    memset(t, 0, sizeof *t);
    t->off = s;
    t->len = i - s;
    t->cidr4 = t->cidr6 = -1;
    for (size_t k = s; k < i; k++) {
        unsigned char c = (unsigned char)buf[k];
        if (c < 0x21 || c > 0x7e) {
            *why = "a byte that is not visible ASCII (3.1; terms are separated by spaces only)";
            return -1;
        }
    }
    return parse_term(buf + s, i - s, s, t, why) == 0 ? 1 : -1;
}

int spf_record_parse(const char *buf, size_t len, spf_record_t *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!spf_record_is_spf(buf, len)) {
        rec->why = "not an SPF record (it must start with v=spf1)";
        rec->err_len = len;
        return -1;
    }
    size_t pos = SPF_VERSION_LEN;
    for (;;) {
        spf_term_t t;
        const char *why = NULL;
        int r = spf_term_next(buf, len, &pos, &t, &why);
        if (r == 0) return 0;
        if (r < 0) {
            rec->why = why;
            rec->err_off = t.off;
            rec->err_len = t.len;
            return -1;
        }
        rec->nterms++;
        switch (t.kind) {
        case SPF_ALL:
            rec->has_all = true;
            break;
        case SPF_INCLUDE:
        case SPF_A:
        case SPF_MX:
        case SPF_PTR:
        case SPF_EXISTS:
            rec->lookup_terms++;
            break;
        case SPF_REDIRECT:
        case SPF_EXP: {
            bool *has = t.kind == SPF_REDIRECT ? &rec->has_redirect : &rec->has_exp;
            if (*has) {
                rec->why = t.kind == SPF_REDIRECT ? "redirect= appears more than once (6)"
                                                  : "exp= appears more than once (6)";
                rec->err_off = t.off;
                rec->err_len = t.len;
                return -1;
            }
            *has = true;
            if (t.kind == SPF_REDIRECT) {
                rec->redirect = t;
                rec->lookup_terms++;
            } else {
                rec->exp = t;
            }
            break;
        }
        default:
            break;
        }
    }
}
