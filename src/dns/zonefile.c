/*
 * zonefile: a bounded reader of RFC 1035 section 5 master files; see zonefile.h for what is
 * accepted, what is refused and the canonical output.
 *
 * Three stages over (buf, len), all with explicit bounds:
 *   1. a line check: before a physical line is tokenised, its length and bytes are checked
 *      (no NUL, no control character), so the lexer never meets either;
 *   2. a lexer that turns one logical record (a line, or several joined by parentheses) into
 *      fields that point into the input (no copy);
 *   3. a record parser: directives, owner, TTL/class/type, then the rdata, driven by a small
 *      per-type format string; it writes the canonical rdata into a scratch buffer and then
 *      appends the whole canonical line to the zone's text.
 * Zone-wide rules (one SOA, out-of-zone owners that came before the SOA, CNAME beside other
 * data) are checked once the file has been read. The first error stops everything.
 *
 * Memory: the zone's text grows by doubling (checked), up to ZF_MAX_CANONICAL; the RR index
 * and the field array are capped by ZONEFILE_MAX_RECORDS and ZONEFILE_MAX_FIELDS before they
 * grow. No allocation is sized from a number found in the input.
 */
#include "dns/zonefile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Protocol limits. */
#define ZF_MAX_LABEL 63        /* RFC 1035 section 2.3.4 */
#define ZF_MAX_NAME 255        /* RFC 1035 section 2.3.4: wire form, root label included */
#define ZF_MAX_CHARSTR 255     /* RFC 1035 section 3.3: <character-string> */
#define ZF_MAX_RDLEN 65535u    /* RFC 1035 section 3.2.1: RDLENGTH is 16 bits */
#define ZF_MAX_TTL 2147483647u /* RFC 2181 section 8 */
/* Implementation limits. */
#define ZF_NAME_TEXT 1024 /* a wire name as text: 4 bytes per octet at worst, + dots */
#define ZF_MAX_CANONICAL ((size_t)256 * 1024 * 1024) /* canonical text of one zone */
#define ZF_MAX_VALS 8       /* numbers kept from one rdata (the SOA needs 5) */
#define ZF_SHOW 48          /* input bytes quoted in an error message */
#define ZF_MAX_SVCPARAMS 63 /* SVCB/HTTPS parameters: libunbound refuses more */
#define ZF_SCRATCH 65536    /* a CAA value or \# data, decoded (>= ZONEFILE_MAX_TOKEN) */

/* ---- small helpers ---------------------------------------------------------------------- */

static bool is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned to_lower(unsigned c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool is_blank(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* ASCII case-insensitive: does s[0..n) equal the NUL-terminated word? */
static bool word_eq(const unsigned char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i] != '\0'; i++)
        if (to_lower(s[i]) != to_lower((unsigned char)word[i])) return false;
    return i == n && word[i] == '\0';
}

/* Decimal digits only, at least one, value <= max. */
static bool parse_uint(const unsigned char *s, size_t n, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return false;
        v = v * 10 + (s[i] - '0');
        if (v > max) return false;
    }
    *out = (uint32_t)v;
    return true;
}

/*
 * A TTL or SOA timer: decimal seconds, or BIND-style units "1w2d3h4m5s" (each group digits
 * then one of w d h m s, any case). The total must be <= max.
 */
static bool parse_ttl(const unsigned char *s, size_t n, uint32_t max, uint32_t *out)
{
    size_t i = 0;
    uint64_t total = 0;
    if (parse_uint(s, n, max, out)) return true;
    if (n == 0) return false;
    while (i < n) {
        uint64_t v = 0, mult;
        if (!is_digit(s[i])) return false;
        while (i < n && is_digit(s[i])) {
            v = v * 10 + (s[i++] - '0');
            if (v > max) return false;
        }
        if (i >= n) return false; /* "1h30": the last group has no unit */
        switch (to_lower(s[i++])) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        case 'w':
            mult = 604800;
            break;
        default:
            return false;
        }
        total += v * mult; /* v <= 2^32, mult < 2^20: no overflow */
        if (total > max) return false;
    }
    *out = (uint32_t)total;
    return true;
}

/* ---- growable text ---------------------------------------------------------------------- */

struct zbuf {
    char *p; /* NUL kept after the last byte once allocated */
    size_t len, cap;
};

/* 0 ok, -1 would exceed limit, -2 out of memory. */
static int zbuf_put(struct zbuf *b, const void *data, size_t n, size_t limit)
{
    if (n > limit || b->len > limit - n) return -1;
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) return -2;
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (np == NULL) return -2;
        b->p = np;
        b->cap = cap;
    }
    if (n > 0) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* ---- types ------------------------------------------------------------------------------ */

enum { T_CNAME = 5, T_SOA = 6, T_OPT = 41, T_RRSIG = 46, T_NSEC = 47 };

/*
 * Rdata formats, one character per field (the last four take all remaining fields):
 *   b u8   s u16   l u32   p u32 time (TTL units allowed)   4 IPv4   6 IPv6
 *   n domain name   c character-string   a DNSSEC algorithm (number or mnemonic)
 *   t RR type   m RRSIG time (YYYYMMDDHHmmSS or u32)   g CAA tag   v CAA value
 *   C one or more character-strings   x hex   B base64   T zero or more RR types
 * The same string is the wire layout that RFC 3597 "\# len hex" data of the type must fit
 * (names then in uncompressed wire form); \# data is checked against it because libunbound
 * does not, and serves malformed names inside rdata as garbage.
 * A NULL format: a type we know by name but do not parse; TYPEnnn \# still works, checked
 * against `wire` when that is not NULL (which may also use P, SVCB parameters), and refused
 * when `wire` is "".
 */
struct rrtype {
    const char *name;
    uint16_t num;
    const char *fmt;
    const char *wire;
};

static const struct rrtype rrtypes[] = {
    {"A", 1, "4", NULL},              /* RFC 1035 3.4.1 */
    {"NS", 2, "n", NULL},             /* RFC 1035 3.3.11 */
    {"CNAME", 5, "n", NULL},          /* RFC 1035 3.3.1 */
    {"SOA", 6, "nnlpppp", NULL},      /* RFC 1035 3.3.13 */
    {"PTR", 12, "n", NULL},           /* RFC 1035 3.3.12 */
    {"HINFO", 13, "cc", NULL},        /* RFC 1035 3.3.2 */
    {"MX", 15, "sn", NULL},           /* RFC 1035 3.3.9 */
    {"TXT", 16, "C", NULL},           /* RFC 1035 3.3.14 */
    {"RP", 17, "nn", NULL},           /* RFC 1183 2.2 */
    {"AFSDB", 18, "sn", NULL},        /* RFC 1183 1 */
    {"AAAA", 28, "6", NULL},          /* RFC 3596 2.2 */
    {"SRV", 33, "sssn", NULL},        /* RFC 2782 */
    {"NAPTR", 35, "sscccn", NULL},    /* RFC 3403 4.1 */
    {"DNAME", 39, "n", NULL},         /* RFC 6672 2.1 */
    {"DS", 43, "sabx", NULL},         /* RFC 4034 5.3 */
    {"SSHFP", 44, "bbx", NULL},       /* RFC 4255 3.2 */
    {"RRSIG", 46, "tablmmsnB", NULL}, /* RFC 4034 3.2 */
    {"NSEC", 47, "nT", NULL},         /* RFC 4034 4.2 */
    {"DNSKEY", 48, "sbaB", NULL},     /* RFC 4034 2.2 */
    {"TLSA", 52, "bbbx", NULL},       /* RFC 6698 2.2 */
    {"SPF", 99, "C", NULL},           /* RFC 7208 3.1 (obsolete type, same rdata as TXT) */
    {"CAA", 257, "bgv", NULL},        /* RFC 8659 4.1.1 */
    /*
     * Known by name only: accepted in RRSIG and NSEC type fields, and as records via TYPEnnn
     * \# data; those whose rdata holds domain names have a wire layout (A6 and HIP place
     * their names where a layout cannot describe them, so they are refused).
     */
    {"MD", 3, NULL, "n"},
    {"MF", 4, NULL, "n"},
    {"MB", 7, NULL, "n"},
    {"MG", 8, NULL, "n"},
    {"MR", 9, NULL, "n"},
    {"NULL", 10, NULL, NULL},
    {"WKS", 11, NULL, NULL},
    {"MINFO", 14, NULL, "nn"},
    {"X25", 19, NULL, NULL},
    {"ISDN", 20, NULL, NULL},
    {"RT", 21, NULL, "sn"},
    {"NSAP", 22, NULL, NULL},
    {"NSAP-PTR", 23, NULL, "n"},
    {"SIG", 24, NULL, "tablmmsnx"},
    {"KEY", 25, NULL, NULL},
    {"PX", 26, NULL, "snn"},
    {"GPOS", 27, NULL, NULL},
    {"LOC", 29, NULL, NULL},
    {"NXT", 30, NULL, "nx"},
    {"KX", 36, NULL, "sn"},
    {"CERT", 37, NULL, NULL},
    {"A6", 38, NULL, ""},
    {"APL", 42, NULL, NULL},
    {"IPSECKEY", 45, NULL, NULL},
    {"DHCID", 49, NULL, NULL},
    {"NSEC3", 50, NULL, NULL},
    {"NSEC3PARAM", 51, NULL, NULL},
    {"SMIMEA", 53, NULL, NULL},
    {"HIP", 55, NULL, ""},
    {"TALINK", 58, NULL, "nn"},
    {"CDS", 59, NULL, NULL},
    {"CDNSKEY", 60, NULL, NULL},
    {"OPENPGPKEY", 61, NULL, NULL},
    {"CSYNC", 62, NULL, NULL},
    {"ZONEMD", 63, NULL, NULL},
    {"SVCB", 64, NULL, "snP"},
    {"HTTPS", 65, NULL, "snP"},
    {"LP", 107, NULL, "sn"},
    {"EUI48", 108, NULL, NULL},
    {"EUI64", 109, NULL, NULL},
    {"URI", 256, NULL, NULL},
    /* Meta types and QTYPEs: never data. */
    {"OPT", 41, NULL, NULL},
    {"TKEY", 249, NULL, NULL},
    {"TSIG", 250, NULL, NULL},
    {"IXFR", 251, NULL, NULL},
    {"AXFR", 252, NULL, NULL},
    {"MAILB", 253, NULL, NULL},
    {"MAILA", 254, NULL, NULL},
    {"ANY", 255, NULL, NULL},
};

#define NTYPES (sizeof rrtypes / sizeof rrtypes[0])

/* RFC 6895 section 3.1: 0 is reserved, 41 is OPT, 128-255 are meta types and QTYPEs. */
static bool type_is_meta(uint32_t t)
{
    return t == 0 || t == T_OPT || (t >= 128 && t <= 255);
}

static const struct rrtype *type_by_num(uint32_t t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (rrtypes[i].num == t) return &rrtypes[i];
    return NULL;
}

/* A mnemonic or TYPEnnn (RFC 3597 section 5). Returns false if neither. */
static bool type_lookup(const unsigned char *s, size_t n, uint32_t *num)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (word_eq(s, n, rrtypes[i].name)) {
            *num = rrtypes[i].num;
            return true;
        }
    return n > 4 && word_eq(s, 4, "TYPE") && parse_uint(s + 4, n - 4, 65535, num);
}

/*
 * Writes a type as canonical text: the mnemonic for the types this reader parses (libunbound
 * knows them all), TYPEnnn for the rest so no mnemonic is ever at the mercy of its version.
 */
static int type_text(uint32_t t, char *out, size_t outlen)
{
    const struct rrtype *rt = type_by_num(t);
    if (rt != NULL && rt->fmt != NULL) return snprintf(out, outlen, "%s", rt->name);
    return snprintf(out, outlen, "TYPE%u", (unsigned)t);
}

/* DNSSEC algorithm mnemonics (RFC 4034 appendix A.1 and the IANA registry). */
static const struct {
    const char *name;
    uint8_t num;
} algorithms[] = {
    {"RSAMD5", 1},
    {"DH", 2},
    {"DSA", 3},
    {"RSASHA1", 5},
    {"DSA-NSEC3-SHA1", 6},
    {"RSASHA1-NSEC3-SHA1", 7},
    {"RSASHA256", 8},
    {"RSASHA512", 10},
    {"ECC-GOST", 12},
    {"ECDSAP256SHA256", 13},
    {"ECDSAP384SHA384", 14},
    {"ED25519", 15},
    {"ED448", 16},
    {"INDIRECT", 252},
    {"PRIVATEDNS", 253},
    {"PRIVATEOID", 254},
};

/* ---- names ------------------------------------------------------------------------------ */

/* A domain name in wire form, ASCII lower-cased, always absolute (ends with the root). */
struct dname {
    uint8_t wire[ZF_MAX_NAME];
    size_t len;
};

enum name_role {
    ROLE_OWNER,  /* '*' only as the whole leftmost label (RFC 4592 section 2.1.1) */
    ROLE_ORIGIN, /* no '*' at all */
    ROLE_RDATA,  /* anything */
};

static bool name_eq(const struct dname *a, const struct dname *b)
{
    return a->len == b->len && memcmp(a->wire, b->wire, a->len) == 0;
}

/* Is name equal to or below zone? Both are lower case; compared label-aligned. */
static bool name_under(const struct dname *name, const struct dname *zone)
{
    if (name->len < zone->len) return false;
    size_t off = name->len - zone->len;
    if (memcmp(name->wire + off, zone->wire, zone->len) != 0) return false;
    size_t p = 0;
    while (p < off)
        p += 1 + (size_t)name->wire[p];
    return p == off;
}

static bool name_is_wildcard(const struct dname *d)
{
    return d->len >= 2 && d->wire[0] == 1 && d->wire[1] == '*';
}

/*
 * Canonical presentation form (RFC 1035 section 5.1): LDH, '_' and other harmless printable
 * bytes as they are; '.', '\\', '"', ';', '(', ')', '@', '$' behind a backslash, and '*' too
 * unless it is the whole leftmost label (so the text reads back under the owner rule in
 * parse_name); everything else as \DDD. out must hold ZF_NAME_TEXT bytes; returns the length
 * (NUL kept).
 */
static size_t name_text(const struct dname *d, char *out)
{
    size_t o = 0, p = 0;
    if (d->len <= 1) {
        out[0] = '.';
        out[1] = '\0';
        return 1;
    }
    while (p < d->len && d->wire[p] != 0) {
        size_t ll = d->wire[p++];
        for (size_t k = 0; k < ll; k++, p++) {
            unsigned c = d->wire[p];
            if (c <= 0x20 || c >= 0x7f) {
                o += (size_t)snprintf(out + o, ZF_NAME_TEXT - o, "\\%03u", c);
            } else {
                if (strchr(".\\\";()@$", (int)c) != NULL || (c == '*' && !(p == 1 && ll == 1)))
                    out[o++] = '\\';
                out[o++] = (char)c;
            }
        }
        out[o++] = '.';
    }
    out[o] = '\0';
    return o;
}

/* ---- parser state ----------------------------------------------------------------------- */

struct field {
    size_t off, len; /* into the input; quotes excluded */
    unsigned long line;
    bool quoted;
};

struct zrr {
    size_t off;         /* of the line in the canonical text */
    uint32_t owner_len; /* the owner text starts the line */
    uint32_t rdata_off; /* from off */
    uint32_t rdata_len;
    uint32_t ttl;
    uint32_t line;
    uint16_t type;
};

struct zonefile {
    char origin[ZF_NAME_TEXT];
    struct zbuf text;
    struct zrr *rrs;
    size_t nrr, rrcap;
};

struct zparser {
    const unsigned char *in;
    size_t inlen, pos;
    unsigned long line;  /* of in[pos] */
    size_t line_checked; /* in[..line_checked) passed the line check */
    const char *name;
    char *err;
    size_t errlen;
    bool failed;

    struct field *f; /* the current record's fields */
    size_t nf, fcap;
    bool indented; /* the record's first line starts with a blank */
    unsigned long rec_line;

    struct dname origin; /* current $ORIGIN */
    bool have_origin;
    struct dname zone; /* the zone: the caller's origin, or the SOA owner */
    bool have_zone;
    struct dname prev_owner;
    bool have_prev;
    uint32_t dttl; /* $TTL */
    bool have_dttl;
    bool have_soa;
    unsigned long soa_line;
    size_t soa_index;
    uint32_t soa_min;
    size_t unchecked; /* RRs [0, unchecked) were read before the zone was known */

    struct zbuf rd; /* canonical rdata of the current record */
    uint64_t rdlen; /* its wire length */
    uint32_t vals[ZF_MAX_VALS];
    size_t nvals;
    uint8_t *bitmap;     /* NSEC type bitmap scratch: 8192 bytes, on first use */
    uint8_t windows[32]; /* which 256-type windows of bitmap are in use */
    uint8_t *scratch;    /* ZF_SCRATCH bytes, on first use */

    zonefile_t *zf;
};

static int fail(struct zparser *zp, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct zparser *zp, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (zp->failed) return -1;
    zp->failed = true;
    if (zp->err == NULL || zp->errlen == 0) return -1;
    if (line > 0)
        k = snprintf(zp->err, zp->errlen, "%s:%lu: ", zp->name, line);
    else
        k = snprintf(zp->err, zp->errlen, "%s: ", zp->name);
    if (k < 0 || (size_t)k >= zp->errlen) return -1;
    va_start(ap, fmt);
    vsnprintf(zp->err + k, zp->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* Input bytes made safe for an error message: printable ASCII, else \DDD; truncated. */
static const char *show(const unsigned char *s, size_t n, char out[ZF_SHOW * 4 + 4])
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < ZF_SHOW; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f)
            out[o++] = (char)s[i];
        else
            o += (size_t)sprintf(out + o, "\\%03u", s[i]);
    }
    if (n > ZF_SHOW) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

#define SHOWBUF char sb[ZF_SHOW * 4 + 4]
#define SHOWF(fl) show(zp->in + (fl)->off, (fl)->len, sb)

static int put_err(struct zparser *zp, int rc, unsigned long line)
{
    if (rc == -2) return fail(zp, line, "out of memory");
    if (rc == -1)
        return fail(zp, line, "record too long: its canonical form exceeds %u bytes",
                    ZONEFILE_MAX_RR_TEXT);
    return 0;
}

/* Appends to the rdata scratch buffer. */
static int rd_put(struct zparser *zp, const void *p, size_t n)
{
    int rc = zbuf_put(&zp->rd, p, n, ZONEFILE_MAX_RR_TEXT);
    return rc ? put_err(zp, rc, zp->rec_line) : 0;
}

static int rd_puts(struct zparser *zp, const char *s)
{
    return rd_put(zp, s, strlen(s));
}

static int rd_sep(struct zparser *zp)
{
    return zp->rd.len > 0 ? rd_put(zp, " ", 1) : 0;
}

/* ---- lexer ------------------------------------------------------------------------------ */

/*
 * The line check, run when the lexer first reaches a physical line: no NUL byte, no control
 * character other than TAB and CR, at most ZONEFILE_MAX_LINE bytes.
 */
static int check_line(struct zparser *zp)
{
    size_t p = zp->pos;
    while (p < zp->inlen && zp->in[p] != '\n') {
        unsigned c = zp->in[p];
        if (c == 0) return fail(zp, zp->line, "NUL byte in the input");
        if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
            return fail(zp, zp->line, "control character \\%03u in the input", c);
        p++;
        if (p - zp->pos > ZONEFILE_MAX_LINE)
            return fail(zp, zp->line, "line longer than %u bytes", ZONEFILE_MAX_LINE);
    }
    zp->line_checked = p < zp->inlen ? p + 1 : p;
    return 0;
}

static int add_field(struct zparser *zp, size_t off, size_t len, unsigned long line, bool quoted)
{
    if (len > ZONEFILE_MAX_TOKEN)
        return fail(zp, line, "field longer than %u bytes", ZONEFILE_MAX_TOKEN);
    if (zp->nf == zp->fcap) {
        if (zp->fcap >= ZONEFILE_MAX_FIELDS)
            return fail(zp, line, "more than %u fields in one record", ZONEFILE_MAX_FIELDS);
        size_t cap = zp->fcap ? zp->fcap * 2 : 64;
        if (cap > ZONEFILE_MAX_FIELDS) cap = ZONEFILE_MAX_FIELDS;
        struct field *nf = realloc(zp->f, cap * sizeof *nf);
        if (nf == NULL) return fail(zp, line, "out of memory");
        zp->f = nf;
        zp->fcap = cap;
    }
    zp->f[zp->nf++] = (struct field){off, len, line, quoted};
    return 0;
}

/*
 * Reads one logical record into zp->f (RFC 1035 section 5.1: fields separated by blanks, ';'
 * starts a comment, parentheses let a record continue over line ends, "..." quotes a field,
 * \X and \DDD escape). Blank and comment-only lines are skipped. Returns 1 for a record, 0 at
 * the end of the input, -1 on error.
 */
static int lex_record(struct zparser *zp)
{
    unsigned depth = 0;
    unsigned long paren_line = 0;
    zp->nf = 0;
    for (;;) {
        if (zp->pos >= zp->inlen) {
            if (depth > 0) return fail(zp, paren_line, "'(' is never closed");
            return zp->nf > 0;
        }
        if (zp->pos >= zp->line_checked) {
            /* The first byte of a physical line. */
            if (check_line(zp) < 0) return -1;
            if (depth == 0 && zp->nf == 0) {
                zp->indented = is_blank(zp->in[zp->pos]);
                zp->rec_line = zp->line;
            }
        }
        unsigned c = zp->in[zp->pos];
        if (c == '\n') {
            zp->pos++;
            zp->line++;
            if (depth == 0 && zp->nf > 0) return 1;
        } else if (is_blank(c)) {
            zp->pos++;
        } else if (c == ';') {
            while (zp->pos < zp->inlen && zp->in[zp->pos] != '\n')
                zp->pos++;
        } else if (c == '(') {
            if (depth >= ZONEFILE_MAX_PARENS)
                return fail(zp, zp->line, "parentheses nested deeper than %u", ZONEFILE_MAX_PARENS);
            if (depth == 0) paren_line = zp->line;
            depth++;
            zp->pos++;
        } else if (c == ')') {
            if (depth == 0) return fail(zp, zp->line, "')' without '('");
            depth--;
            zp->pos++;
        } else if (c == '"') {
            size_t start = ++zp->pos;
            for (;;) {
                if (zp->pos >= zp->inlen || zp->in[zp->pos] == '\n')
                    return fail(zp, zp->line, "quoted string is not closed on its line");
                if (zp->in[zp->pos] == '"') break;
                if (zp->in[zp->pos] == '\\') {
                    if (zp->pos + 1 >= zp->inlen || zp->in[zp->pos + 1] == '\n')
                        return fail(zp, zp->line, "quoted string is not closed on its line");
                    zp->pos++;
                }
                zp->pos++;
            }
            if (add_field(zp, start, zp->pos - start, zp->line, true) < 0) return -1;
            zp->pos++;
        } else {
            size_t start = zp->pos;
            while (zp->pos < zp->inlen) {
                c = zp->in[zp->pos];
                if (is_blank(c) || c == '\n' || c == ';' || c == '(' || c == ')') break;
                if (c == '"')
                    return fail(zp, zp->line,
                                "'\"' inside a field (quote the whole field "
                                "or escape it as \\\")");
                if (c == '\\') {
                    if (zp->pos + 1 >= zp->inlen || zp->in[zp->pos + 1] == '\n')
                        return fail(zp, zp->line, "'\\' at the end of a line");
                    zp->pos++;
                }
                zp->pos++;
            }
            if (add_field(zp, start, zp->pos - start, zp->line, false) < 0) return -1;
        }
    }
}

/* ---- fields ----------------------------------------------------------------------------- */

static const unsigned char *fptr(const struct zparser *zp, const struct field *fl)
{
    return zp->in + fl->off;
}

static bool field_is(const struct zparser *zp, const struct field *fl, const char *word)
{
    return !fl->quoted && word_eq(fptr(zp, fl), fl->len, word);
}

/*
 * Parses a presentation-form name (RFC 1035 section 5.1): labels separated by '.', \X and
 * \DDD escapes, "@" for the origin, a trailing '.' for absolute names; relative names get the
 * current $ORIGIN appended. Limits: RFC 1035 section 2.3.4.
 */
static int parse_name(struct zparser *zp, const unsigned char *s, size_t n, unsigned long line,
                      enum name_role role, struct dname *out)
{
    SHOWBUF;
    size_t i = 0, w = 0, label = 0;
    bool absolute = false;

    if (n == 1 && s[0] == '@') {
        if (!zp->have_origin) return fail(zp, line, "'@' but no origin is known yet (use $ORIGIN)");
        *out = zp->origin;
        return 0;
    }
    if (n == 0) return fail(zp, line, "empty domain name");
    if (n == 1 && s[0] == '.') {
        out->wire[0] = 0;
        out->len = 1;
        return 0;
    }
    while (i < n) {
        uint8_t lab[ZF_MAX_LABEL];
        size_t ll = 0;
        bool star = false, other = false;
        while (i < n && s[i] != '.') {
            unsigned c = s[i];
            if (c == '\\') {
                if (i + 1 >= n)
                    return fail(zp, line, "'\\' at the end of name '%s'", show(s, n, sb));
                if (is_digit(s[i + 1])) {
                    if (n - i < 4 || !is_digit(s[i + 2]) || !is_digit(s[i + 3]))
                        return fail(zp, line, "bad \\DDD escape in name '%s'", show(s, n, sb));
                    c = (s[i + 1] - '0') * 100u + (s[i + 2] - '0') * 10u + (s[i + 3] - '0');
                    if (c > 255)
                        return fail(zp, line, "\\DDD escape over 255 in name '%s'", show(s, n, sb));
                    i += 4;
                } else {
                    c = s[i + 1];
                    i += 2;
                }
                other = true;
            } else {
                if (c == '*')
                    star = true;
                else
                    other = true;
                i++;
            }
            if (ll == ZF_MAX_LABEL)
                return fail(zp, line, "label longer than 63 octets in name '%s'", show(s, n, sb));
            lab[ll++] = (uint8_t)to_lower(c);
        }
        if (ll == 0) return fail(zp, line, "empty label in name '%s'", show(s, n, sb));
        if (star && (role == ROLE_ORIGIN || (role == ROLE_OWNER && (label > 0 || other))))
            return fail(zp, line,
                        "'*' in name '%s': only a whole leftmost label '*' (a wildcard, "
                        "RFC 4592) is allowed",
                        show(s, n, sb));
        if (w + 1 + ll + 1 > ZF_MAX_NAME)
            return fail(zp, line, "name '%s' is longer than 255 octets", show(s, n, sb));
        out->wire[w++] = (uint8_t)ll;
        memcpy(out->wire + w, lab, ll);
        w += ll;
        label++;
        if (i < n) {
            i++; /* the '.' */
            if (i == n) absolute = true;
        }
    }
    if (absolute) {
        out->wire[w++] = 0;
    } else {
        if (!zp->have_origin)
            return fail(zp, line,
                        "relative name '%s' but no origin is known yet (use $ORIGIN "
                        "or end the name with '.')",
                        show(s, n, sb));
        if (w + zp->origin.len > ZF_MAX_NAME)
            return fail(zp, line, "name '%s' is longer than 255 octets with the origin appended",
                        show(s, n, sb));
        memcpy(out->wire + w, zp->origin.wire, zp->origin.len);
        w += zp->origin.len;
    }
    out->len = w;
    return 0;
}

/*
 * Unescapes a character-string field (RFC 1035 section 5.1: \X and \DDD) into out (at most
 * max bytes). Returns the length, or -1 after reporting.
 */
static long unescape(struct zparser *zp, const struct field *fl, uint8_t *out, size_t max,
                     const char *what)
{
    SHOWBUF;
    const unsigned char *s = fptr(zp, fl);
    size_t n = fl->len, i = 0, o = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return fail(zp, fl->line, "'\\' at the end of %s '%s'", what, SHOWF(fl));
            if (is_digit(s[i + 1])) {
                if (n - i < 4 || !is_digit(s[i + 2]) || !is_digit(s[i + 3]))
                    return fail(zp, fl->line, "bad \\DDD escape in %s '%s'", what, SHOWF(fl));
                c = (s[i + 1] - '0') * 100u + (s[i + 2] - '0') * 10u + (s[i + 3] - '0');
                if (c > 255)
                    return fail(zp, fl->line, "\\DDD escape over 255 in %s '%s'", what, SHOWF(fl));
                i += 4;
            } else {
                c = s[i + 1];
                i += 2;
            }
        } else {
            i++;
        }
        if (o == max)
            return fail(zp, fl->line, "%s longer than %zu octets: '%s'", what, max, SHOWF(fl));
        out[o++] = (uint8_t)c;
    }
    return (long)o;
}

static int get_scratch(struct zparser *zp)
{
    if (zp->scratch == NULL && (zp->scratch = malloc(ZF_SCRATCH)) == NULL)
        return fail(zp, zp->rec_line, "out of memory");
    return 0;
}

/* Writes bytes as one quoted string: '"' and '\\' escaped, non-printable bytes as \DDD. */
static int rd_quoted(struct zparser *zp, const uint8_t *s, size_t n)
{
    char tmp[8];
    if (rd_put(zp, "\"", 1) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        int rc;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            rc = rd_put(zp, tmp, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            rc = rd_put(zp, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\%03u", c));
        } else {
            tmp[0] = (char)c;
            rc = rd_put(zp, tmp, 1);
        }
        if (rc < 0) return -1;
    }
    return rd_put(zp, "\"", 1);
}

static int hexval(unsigned c)
{
    if (is_digit(c)) return (int)(c - '0');
    c = to_lower(c);
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    return -1;
}

/* Joins fields [i, nf) as hex (RFC 3597 section 5, RFC 4034 5.3 etc.): even, non-empty unless
 * allow_empty, written lower case as one token. Returns the octet count, or -1. */
static long rd_hex(struct zparser *zp, size_t i, const char *tname, bool allow_empty)
{
    SHOWBUF;
    size_t digits = 0;
    for (; i < zp->nf; i++) {
        const struct field *fl = &zp->f[i];
        const unsigned char *s = fptr(zp, fl);
        if (fl->quoted) return fail(zp, fl->line, "%s record: hex data must not be quoted", tname);
        for (size_t k = 0; k < fl->len; k++) {
            int v = hexval(s[k]);
            if (v < 0) return fail(zp, fl->line, "%s record: bad hex data '%s'", tname, SHOWF(fl));
            char ch = "0123456789abcdef"[v];
            if (rd_put(zp, &ch, 1) < 0) return -1;
        }
        digits += fl->len;
    }
    if (digits % 2 != 0)
        return fail(zp, zp->f[zp->nf - 1].line, "%s record: odd number of hex digits", tname);
    if (digits == 0 && !allow_empty)
        return fail(zp, zp->rec_line, "%s record: missing hex data", tname);
    return (long)(digits / 2);
}

static int b64val(unsigned c)
{
    if (c >= 'A' && c <= 'Z') return (int)(c - 'A');
    if (c >= 'a' && c <= 'z') return (int)(c - 'a' + 26);
    if (is_digit(c)) return (int)(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Joins fields [i, nf) as base64 (RFC 4648 section 4, padded). Returns octets or -1. */
static long rd_base64(struct zparser *zp, size_t i, const char *tname)
{
    SHOWBUF;
    size_t chars = 0, pad = 0;
    for (; i < zp->nf; i++) {
        const struct field *fl = &zp->f[i];
        const unsigned char *s = fptr(zp, fl);
        if (fl->quoted)
            return fail(zp, fl->line, "%s record: base64 data must not be quoted", tname);
        for (size_t k = 0; k < fl->len; k++) {
            if (s[k] == '=') {
                pad++;
            } else if (b64val(s[k]) < 0 || pad > 0) {
                return fail(zp, fl->line, "%s record: bad base64 data '%s'", tname, SHOWF(fl));
            }
        }
        if (rd_put(zp, s, fl->len) < 0) return -1;
        chars += fl->len;
    }
    if (chars == 0) return fail(zp, zp->rec_line, "%s record: missing base64 data", tname);
    if (chars % 4 != 0 || pad > 2)
        return fail(zp, zp->f[zp->nf - 1].line,
                    "%s record: base64 data is not a whole number of 4-character groups", tname);
    return (long)(chars / 4 * 3 - pad);
}

/*
 * RRSIG times (RFC 4034 section 3.2): YYYYMMDDHHmmSS, or seconds since 1970 as a u32. The
 * calendar form must be in or after 1970, as libunbound's parser demands.
 */
static bool valid_sigtime(const unsigned char *s, size_t n)
{
    uint32_t v;
    if (n != 14) return n <= 10 && parse_uint(s, n, UINT32_MAX, &v);
    for (size_t i = 0; i < 14; i++)
        if (!is_digit(s[i])) return false;
#define D2(k) ((unsigned)(s[k] - '0') * 10u + (unsigned)(s[(k) + 1] - '0'))
    unsigned year = D2(0) * 100u + D2(2), mon = D2(4), day = D2(6), hour = D2(8), min = D2(10),
             sec = D2(12);
#undef D2
    return year >= 1970 && mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hour <= 23 &&
           min <= 59 && sec <= 59;
}

/* NSEC type bitmap (RFC 4034 section 4.1.2): sets bit t, marks its window. */
static int bitmap_set(struct zparser *zp, uint32_t t)
{
    if (zp->bitmap == NULL) {
        zp->bitmap = calloc(8192, 1);
        if (zp->bitmap == NULL) return fail(zp, zp->rec_line, "out of memory");
    }
    zp->bitmap[t / 8] |= (uint8_t)(0x80u >> (t % 8));
    zp->windows[t / 2048] |= (uint8_t)(0x80u >> ((t / 256) % 8));
    return 0;
}

/* Writes the set types in ascending order, returns the wire length, and clears the bitmap. */
static long bitmap_flush(struct zparser *zp)
{
    long wire = 0;
    char tn[16];
    if (zp->bitmap == NULL) return 0;
    for (unsigned win = 0; win < 256; win++) {
        if (!(zp->windows[win / 8] & (0x80u >> (win % 8)))) continue;
        unsigned last = 0;
        for (unsigned k = 0; k < 32; k++) {
            uint8_t byte = zp->bitmap[win * 32 + k];
            for (unsigned b = 0; b < 8; b++) {
                if (!(byte & (0x80u >> b))) continue;
                if (rd_sep(zp) < 0 ||
                    rd_put(zp, tn, (size_t)type_text(win * 256 + k * 8 + b, tn, sizeof tn)) < 0)
                    return -1;
            }
            if (byte) last = k + 1;
            zp->bitmap[win * 32 + k] = 0;
        }
        wire += 2 + (long)last;
    }
    memset(zp->windows, 0, sizeof zp->windows);
    return wire;
}

/* An RR type field (RRSIG type covered, NSEC type list). */
static int parse_type_field(struct zparser *zp, const struct field *fl, uint32_t *t,
                            const char *tname)
{
    SHOWBUF;
    if (fl->quoted || !type_lookup(fptr(zp, fl), fl->len, t))
        return fail(zp, fl->line, "%s record: unknown type '%s'", tname, SHOWF(fl));
    if (type_is_meta(*t))
        return fail(zp, fl->line, "%s record: '%s' is a meta type, not data", tname, SHOWF(fl));
    return 0;
}

static const char *field_what(char f)
{
    switch (f) {
    case 'b':
        return "8-bit number";
    case 's':
        return "16-bit number";
    case 'l':
        return "32-bit number";
    case 'p':
        return "time value";
    case '4':
        return "IPv4 address";
    case '6':
        return "IPv6 address";
    case 'n':
        return "domain name";
    case 'c':
    case 'C':
        return "character-string";
    case 'a':
        return "algorithm";
    case 't':
        return "type";
    case 'm':
        return "signature time";
    case 'g':
        return "CAA tag";
    case 'v':
        return "CAA value";
    case 'x':
        return "hex data";
    case 'B':
        return "base64 data";
    default:
        return "field";
    }
}

/*
 * Parses fields [i, nf) as the rdata of type rt, following rt->fmt, into the canonical text
 * in zp->rd and the wire length in zp->rdlen.
 */
static int parse_rdata(struct zparser *zp, const struct rrtype *rt, size_t i)
{
    SHOWBUF;
    char text[ZF_NAME_TEXT];
    uint8_t bytes[ZF_MAX_CHARSTR];
    const char *tn = rt->name;
    long k;

    for (const char *f = rt->fmt; *f != '\0'; f++) {
        const struct field *fl = i < zp->nf ? &zp->f[i] : NULL;
        const unsigned char *s = fl ? fptr(zp, fl) : NULL;
        uint32_t v;
        if (fl == NULL && *f != 'T')
            return fail(zp, zp->nf > 0 ? zp->f[zp->nf - 1].line : zp->rec_line,
                        "%s record: missing %s", tn, field_what(*f));
        if (*f != 'T' && rd_sep(zp) < 0) return -1;
        if (fl != NULL && fl->quoted && strchr("cCv", *f) == NULL)
            return fail(zp, fl->line, "%s record: %s must not be quoted", tn, field_what(*f));
        switch (*f) {
        case 'b':
        case 's':
        case 'l': {
            uint32_t max = *f == 'b' ? 255 : *f == 's' ? 65535 : UINT32_MAX;
            if (!parse_uint(s, fl->len, max, &v))
                return fail(zp, fl->line, "%s record: bad %s '%s'", tn, field_what(*f), SHOWF(fl));
            zp->rdlen += *f == 'b' ? 1 : *f == 's' ? 2 : 4;
            goto number;
        }
        case 'p':
            if (!parse_ttl(s, fl->len, UINT32_MAX, &v))
                return fail(zp, fl->line, "%s record: bad %s '%s'", tn, field_what(*f), SHOWF(fl));
            zp->rdlen += 4;
        number:
            if (zp->nvals < ZF_MAX_VALS) zp->vals[zp->nvals++] = v;
            snprintf(text, sizeof text, "%u", (unsigned)v);
            if (rd_puts(zp, text) < 0) return -1;
            i++;
            break;
        case '4':
        case '6': {
            unsigned char addr[16];
            char tmp[64];
            int af = *f == '4' ? AF_INET : AF_INET6;
            if (fl->len >= sizeof tmp) goto bad_addr;
            memcpy(tmp, s, fl->len);
            tmp[fl->len] = '\0';
            if (inet_pton(af, tmp, addr) != 1) goto bad_addr;
            if (inet_ntop(af, addr, text, sizeof text) == NULL) goto bad_addr;
            if (rd_puts(zp, text) < 0) return -1;
            zp->rdlen += *f == '4' ? 4 : 16;
            i++;
            break;
        bad_addr:
            return fail(zp, fl->line, "%s record: bad %s '%s'", tn, field_what(*f), SHOWF(fl));
        }
        case 'n': {
            struct dname d;
            if (parse_name(zp, s, fl->len, fl->line, ROLE_RDATA, &d) < 0) return -1;
            if (rd_put(zp, text, name_text(&d, text)) < 0) return -1;
            zp->rdlen += d.len;
            i++;
            break;
        }
        case 'c':
            k = unescape(zp, fl, bytes, ZF_MAX_CHARSTR, "character-string");
            if (k < 0 || rd_quoted(zp, bytes, (size_t)k) < 0) return -1;
            zp->rdlen += 1 + (uint64_t)k;
            i++;
            break;
        case 'C': /* RFC 1035 section 3.3.14: one or more <character-string> */
            for (size_t first = i; i < zp->nf; i++) {
                if (i > first && rd_sep(zp) < 0) return -1;
                k = unescape(zp, &zp->f[i], bytes, ZF_MAX_CHARSTR, "character-string");
                if (k < 0 || rd_quoted(zp, bytes, (size_t)k) < 0) return -1;
                zp->rdlen += 1 + (uint64_t)k;
            }
            break;
        case 'v': /* RFC 8659 section 4.1.1: the rest of the rdata, not a character-string */
            if (get_scratch(zp) < 0) return -1;
            k = unescape(zp, fl, zp->scratch, ZONEFILE_MAX_TOKEN, field_what(*f));
            if (k < 0 || rd_quoted(zp, zp->scratch, (size_t)k) < 0) return -1;
            zp->rdlen += (uint64_t)k;
            i++;
            break;
        case 'g': /* RFC 8659 section 4.1.1: letters and digits, at least one */
            for (size_t j = 0; j < fl->len; j++)
                if (!is_alpha(s[j]) && !is_digit(s[j]))
                    return fail(zp, fl->line, "%s record: bad CAA tag '%s'", tn, SHOWF(fl));
            if (fl->len == 0 || fl->len > 255)
                return fail(zp, fl->line, "%s record: bad CAA tag '%s'", tn, SHOWF(fl));
            if (rd_put(zp, s, fl->len) < 0) return -1;
            zp->rdlen += 1 + fl->len;
            i++;
            break;
        case 'a': {
            bool found = parse_uint(s, fl->len, 255, &v);
            for (size_t j = 0; !found && j < sizeof algorithms / sizeof algorithms[0]; j++)
                if (word_eq(s, fl->len, algorithms[j].name)) {
                    v = algorithms[j].num;
                    found = true;
                }
            if (!found) return fail(zp, fl->line, "%s record: bad algorithm '%s'", tn, SHOWF(fl));
            snprintf(text, sizeof text, "%u", (unsigned)v);
            if (rd_puts(zp, text) < 0) return -1;
            zp->rdlen += 1;
            i++;
            break;
        }
        case 't':
            if (parse_type_field(zp, fl, &v, tn) < 0) return -1;
            type_text(v, text, sizeof text);
            if (rd_puts(zp, text) < 0) return -1;
            zp->rdlen += 2;
            i++;
            break;
        case 'm':
            if (!valid_sigtime(s, fl->len))
                return fail(zp, fl->line,
                            "%s record: bad signature time '%s' (RFC 4034 "
                            "section 3.2: YYYYMMDDHHmmSS)",
                            tn, SHOWF(fl));
            if (rd_put(zp, s, fl->len) < 0) return -1;
            zp->rdlen += 4;
            i++;
            break;
        case 'x':
            k = rd_hex(zp, i, tn, false);
            if (k < 0) return -1;
            zp->rdlen += (uint64_t)k;
            i = zp->nf;
            break;
        case 'B':
            k = rd_base64(zp, i, tn);
            if (k < 0) return -1;
            zp->rdlen += (uint64_t)k;
            i = zp->nf;
            break;
        case 'T':
            for (; i < zp->nf; i++)
                if (parse_type_field(zp, &zp->f[i], &v, tn) < 0 || bitmap_set(zp, v) < 0) return -1;
            k = bitmap_flush(zp);
            if (k < 0) return -1;
            zp->rdlen += (uint64_t)k;
            break;
        default:
            abort(); /* a format character without a case is a bug in the table */
        }
    }
    if (i < zp->nf)
        return fail(zp, zp->f[i].line, "%s record: unexpected field '%s'", tn, SHOWF(&zp->f[i]));
    return 0;
}

static unsigned get16(const uint8_t *d)
{
    return (unsigned)d[0] << 8 | d[1];
}

/*
 * SVCB/HTTPS SvcParams (RFC 9460 section 2.2): key, length, value, keys in strictly increasing
 * order; "mandatory" (key 0, section 8) lists other keys, strictly increasing, all present.
 */
static bool svcparams_fit(const uint8_t *d, size_t n)
{
    size_t p = 0, count = 0, mand = 0, mandlen = 0;
    long last = -1;
    while (p < n) {
        if (n - p < 4 || n - p - 4 < get16(d + p + 2) || (long)get16(d + p) <= last ||
            ++count > ZF_MAX_SVCPARAMS)
            return false;
        last = (long)get16(d + p);
        if (last == 0) {
            mand = p + 4;
            mandlen = get16(d + p + 2);
            if (mandlen == 0 || mandlen % 2 != 0) return false;
        }
        p += 4 + get16(d + p + 2);
    }
    for (size_t k = 0; k < mandlen; k += 2) {
        unsigned key = get16(d + mand + k);
        bool present = false;
        if (key == 0 || (k > 0 && key <= get16(d + mand + k - 2))) return false;
        for (size_t q = 0; q < n && !present; q += 4 + get16(d + q + 2))
            present = get16(d + q) == key;
        if (!present) return false;
    }
    return true;
}

/*
 * Does d[0..n) fit the wire layout (the format letters of struct rrtype)? Names must be
 * uncompressed wire names (RFC 1035 section 3.1, RFC 3597 section 4) within the limits, type
 * bitmaps well formed (RFC 4034 section 4.1.2), and nothing may be left over.
 */
static bool wire_fits(const char *layout, const uint8_t *d, size_t n)
{
    size_t p = 0;
    for (const char *f = layout; *f != '\0'; f++) {
        size_t need = 0;
        switch (*f) {
        case 'b':
        case 'a':
            need = 1;
            break;
        case 's':
        case 't':
            need = 2;
            break;
        case 'l':
        case 'p':
        case 'm':
        case '4':
            need = 4;
            break;
        case '6':
            need = 16;
            break;
        case 'n':
            for (size_t start = p;;) {
                if (p >= n || d[p] > ZF_MAX_LABEL || n - p < 1 + (size_t)d[p] ||
                    p - start + 1 + d[p] > ZF_MAX_NAME)
                    return false;
                size_t ll = d[p];
                p += 1 + ll;
                if (ll == 0) break;
            }
            break;
        case 'g':
        case 'c':
        case 'C':
            do {
                if (p >= n || n - p - 1 < d[p] || (*f == 'g' && d[p] == 0)) return false;
                p += 1 + (size_t)d[p];
            } while (*f == 'C' && p < n);
            break;
        case 'T':
            for (int last = -1; p < n; p += 2 + (size_t)d[p + 1]) {
                if (n - p < 2 || (int)d[p] <= last || d[p + 1] < 1 || d[p + 1] > 32 ||
                    n - p - 2 < d[p + 1] || d[p + 1 + d[p + 1]] == 0)
                    return false; /* trailing zero octets are omitted, so none is empty */
                last = d[p];
            }
            break;
        case 'P':
            if (!svcparams_fit(d + p, n - p)) return false;
            p = n;
            break;
        default: /* v x B: the rest */
            p = n;
            break;
        }
        if (n - p < need) return false;
        p += need;
    }
    return p == n;
}

/* RFC 3597 section 5: "\# length hex...", for any type; checked against layout if not NULL. */
static int parse_generic(struct zparser *zp, const char *layout, const char *tn, size_t i)
{
    SHOWBUF;
    uint32_t len;
    char text[32];
    i++; /* the \# */
    if (i >= zp->nf) return fail(zp, zp->f[i - 1].line, "%s record: missing length after \\#", tn);
    if (zp->f[i].quoted || !parse_uint(fptr(zp, &zp->f[i]), zp->f[i].len, 65535, &len))
        return fail(zp, zp->f[i].line, "%s record: bad \\# length '%s'", tn, SHOWF(&zp->f[i]));
    snprintf(text, sizeof text, "\\# %u", (unsigned)len);
    if (rd_puts(zp, text) < 0) return -1;
    if (len > 0 && rd_put(zp, " ", 1) < 0) return -1;
    size_t hex = zp->rd.len;
    long got = rd_hex(zp, i + 1, tn, true);
    if (got < 0) return -1;
    if ((uint32_t)got != len)
        return fail(zp, zp->f[zp->nf - 1].line,
                    "%s record: \\# data has %ld octets but its length says %u "
                    "(RFC 3597 section 5)",
                    tn, got, (unsigned)len);
    if (layout != NULL) {
        if (get_scratch(zp) < 0) return -1;
        for (size_t k = 0; k < len; k++)
            zp->scratch[k] = (uint8_t)(hexval((unsigned char)zp->rd.p[hex + 2 * k]) * 16 +
                                       hexval((unsigned char)zp->rd.p[hex + 2 * k + 1]));
        if (!wire_fits(layout, zp->scratch, len))
            return fail(zp, zp->f[i].line,
                        "%s record: \\# data is not valid %s rdata (RFC 3597 section 5)", tn, tn);
    }
    zp->rdlen = len;
    return 0;
}

/* ---- records ---------------------------------------------------------------------------- */

/* RFC 1035 section 5.1 directives. */
static int directive(struct zparser *zp)
{
    SHOWBUF;
    const struct field *d = &zp->f[0];
    if (field_is(zp, d, "$ORIGIN") || field_is(zp, d, "$TTL")) {
        bool origin = field_is(zp, d, "$ORIGIN");
        if (zp->nf != 2)
            return fail(zp, d->line, "%s takes exactly one argument", origin ? "$ORIGIN" : "$TTL");
        const struct field *a = &zp->f[1];
        if (a->quoted)
            return fail(zp, a->line, "%s argument must not be quoted", origin ? "$ORIGIN" : "$TTL");
        if (origin) {
            struct dname o;
            if (parse_name(zp, fptr(zp, a), a->len, a->line, ROLE_ORIGIN, &o) < 0) return -1;
            zp->origin = o;
            zp->have_origin = true;
            return 0;
        }
        /* RFC 2308 section 4 */
        if (!parse_ttl(fptr(zp, a), a->len, ZF_MAX_TTL, &zp->dttl))
            return fail(zp, a->line, "bad $TTL '%s' (seconds up to %u, or units like 1h30m)",
                        SHOWF(a), ZF_MAX_TTL);
        zp->have_dttl = true;
        return 0;
    }
    if (field_is(zp, d, "$INCLUDE"))
        return fail(zp, d->line,
                    "$INCLUDE is not supported: a zone file must be "
                    "self-contained");
    if (field_is(zp, d, "$GENERATE"))
        return fail(zp, d->line, "$GENERATE is not supported: write the records out");
    return fail(zp, d->line, "unknown directive '%s'", SHOWF(d));
}

/* 1 IN, -1 another class, 0 not a class (RFC 1035 section 3.2.4, RFC 3597 section 5). */
static int class_of(const struct zparser *zp, const struct field *fl)
{
    uint32_t c;
    const unsigned char *s = fptr(zp, fl);
    if (fl->quoted) return 0;
    if (word_eq(s, fl->len, "IN")) return 1;
    if (word_eq(s, fl->len, "CH") || word_eq(s, fl->len, "CS") || word_eq(s, fl->len, "HS") ||
        word_eq(s, fl->len, "NONE") || word_eq(s, fl->len, "ANY"))
        return -1;
    if (fl->len > 5 && word_eq(s, 5, "CLASS") && parse_uint(s + 5, fl->len - 5, 65535, &c))
        return c == 1 ? 1 : -1;
    return 0;
}

/* Appends the record's canonical line to the zone and indexes it. */
static int store_rr(struct zparser *zp, const struct dname *owner, uint32_t ttl, uint32_t type)
{
    zonefile_t *zf = zp->zf;
    char otext[ZF_NAME_TEXT], head[64], tname[16];
    size_t olen = name_text(owner, otext);
    type_text(type, tname, sizeof tname);
    int hlen = snprintf(head, sizeof head, "\t%u\tIN\t%s\t", (unsigned)ttl, tname);
    size_t total = olen + (size_t)hlen + zp->rd.len + 1;
    int rc;

    if (zf->nrr >= ZONEFILE_MAX_RECORDS)
        return fail(zp, zp->rec_line, "more than %u records", ZONEFILE_MAX_RECORDS);
    if (total > ZONEFILE_MAX_RR_TEXT) return put_err(zp, -1, zp->rec_line);
    if (zf->nrr == zf->rrcap) {
        size_t cap = zf->rrcap ? zf->rrcap * 2 : 64;
        if (cap > ZONEFILE_MAX_RECORDS) cap = ZONEFILE_MAX_RECORDS;
        struct zrr *nr = realloc(zf->rrs, cap * sizeof *nr);
        if (nr == NULL) return fail(zp, zp->rec_line, "out of memory");
        zf->rrs = nr;
        zf->rrcap = cap;
    }
    struct zrr *r = &zf->rrs[zf->nrr];
    r->off = zf->text.len;
    r->owner_len = (uint32_t)olen;
    r->rdata_off = (uint32_t)(olen + (size_t)hlen);
    r->rdata_len = (uint32_t)zp->rd.len;
    r->ttl = ttl;
    r->type = (uint16_t)type;
    r->line = zp->rec_line > UINT32_MAX ? UINT32_MAX : (uint32_t)zp->rec_line;
    if ((rc = zbuf_put(&zf->text, otext, olen, ZF_MAX_CANONICAL)) != 0 ||
        (rc = zbuf_put(&zf->text, head, (size_t)hlen, ZF_MAX_CANONICAL)) != 0 ||
        (rc = zbuf_put(&zf->text, zp->rd.p ? zp->rd.p : "", zp->rd.len, ZF_MAX_CANONICAL)) != 0 ||
        (rc = zbuf_put(&zf->text, "\n", 1, ZF_MAX_CANONICAL)) != 0) {
        if (rc == -2) return fail(zp, zp->rec_line, "out of memory");
        return fail(zp, zp->rec_line, "zone too large: canonical form over %zu bytes",
                    ZF_MAX_CANONICAL);
    }
    zf->nrr++;
    return 0;
}

static int parse_record(struct zparser *zp)
{
    SHOWBUF;
    char otext[ZF_NAME_TEXT], ztext[ZF_NAME_TEXT];
    const struct field *fl = &zp->f[0];
    struct dname owner;
    size_t i = 0;
    uint32_t ttl = 0, type = 0;
    bool have_ttl = false, have_class = false;

    if (!zp->indented && !fl->quoted && fl->len > 0 && zp->in[fl->off] == '$') return directive(zp);

    /* Owner: RFC 1035 section 5.1, a blank first column means the previous owner. */
    if (zp->indented) {
        if (!zp->have_prev)
            return fail(zp, zp->rec_line, "record without an owner name and no previous owner");
        owner = zp->prev_owner;
    } else {
        if (fl->quoted) return fail(zp, fl->line, "owner name must not be quoted");
        if (parse_name(zp, fptr(zp, fl), fl->len, fl->line, ROLE_OWNER, &owner) < 0) return -1;
        i = 1;
    }

    /* [TTL] [class] type, or [class] [TTL] type (RFC 1035 section 5.1). */
    for (;;) {
        if (i >= zp->nf) return fail(zp, zp->f[zp->nf - 1].line, "missing type");
        fl = &zp->f[i];
        if (fl->quoted)
            return fail(zp, fl->line, "expected a TTL, class or type, not a quoted string");
        if (fl->len > 0 && is_digit(fptr(zp, fl)[0])) {
            if (have_ttl) return fail(zp, fl->line, "second TTL '%s'", SHOWF(fl));
            if (!parse_ttl(fptr(zp, fl), fl->len, ZF_MAX_TTL, &ttl))
                return fail(zp, fl->line, "bad TTL '%s' (seconds up to %u, or units like 1h30m)",
                            SHOWF(fl), ZF_MAX_TTL);
            have_ttl = true;
            i++;
            continue;
        }
        int cls = class_of(zp, fl);
        if (cls < 0) return fail(zp, fl->line, "class '%s' is not supported (only IN)", SHOWF(fl));
        if (cls > 0) {
            if (have_class) return fail(zp, fl->line, "second class '%s'", SHOWF(fl));
            have_class = true;
            i++;
            continue;
        }
        if (!type_lookup(fptr(zp, fl), fl->len, &type))
            return fail(zp, fl->line, "unknown type '%s'", SHOWF(fl));
        i++;
        break;
    }
    fl = &zp->f[i - 1];
    if (type_is_meta(type)) return fail(zp, fl->line, "'%s' is a meta type, not data", SHOWF(fl));

    const struct rrtype *rt = type_by_num(type);
    char tname[16];
    type_text(type, tname, sizeof tname);
    zp->rd.len = 0;
    zp->rdlen = 0;
    zp->nvals = 0;
    if (rt != NULL && rt->fmt == NULL && rt->wire != NULL && rt->wire[0] == '\0')
        return fail(zp, fl->line, "type %s is not supported", rt->name);
    if (i < zp->nf && field_is(zp, &zp->f[i], "\\#")) {
        if (type == T_SOA)
            return fail(zp, zp->f[i].line, "SOA record: write it out, not as \\# data");
        if (parse_generic(zp, rt != NULL ? (rt->fmt != NULL ? rt->fmt : rt->wire) : NULL, tname,
                          i) < 0)
            return -1;
    } else if (rt == NULL) {
        return fail(zp, fl->line, "%s record: unknown types need \\# rdata (RFC 3597 section 5)",
                    tname);
    } else if (rt->fmt == NULL) {
        return fail(zp, fl->line,
                    "type %s is not supported here; write it as TYPE%u with \\# rdata "
                    "(RFC 3597 section 5)",
                    rt->name, (unsigned)type);
    } else if (parse_rdata(zp, rt, i) < 0) {
        return -1;
    }
    if (zp->rdlen > ZF_MAX_RDLEN)
        return fail(zp, zp->rec_line, "%s record: rdata longer than %u octets", tname,
                    ZF_MAX_RDLEN);

    /* RFC 1035 section 5.2: exactly one SOA, at the top of the zone. */
    if (type == T_SOA) {
        if (zp->have_soa)
            return fail(zp, zp->rec_line,
                        "second SOA record (the first is on line %lu): one zone per file",
                        zp->soa_line);
        if (name_is_wildcard(&owner))
            return fail(zp, zp->rec_line, "SOA owner must not be a wildcard");
        if (zp->have_zone && !name_eq(&owner, &zp->zone)) {
            name_text(&owner, otext);
            name_text(&zp->zone, ztext);
            return fail(zp, zp->rec_line, "SOA owner %s is not the zone origin %s", otext, ztext);
        }
        zp->have_soa = true;
        zp->soa_line = zp->rec_line;
        zp->soa_index = zp->zf->nrr;
        zp->soa_min = zp->vals[4];
        if (!zp->have_zone) {
            zp->zone = owner;
            zp->have_zone = true;
            zp->unchecked = zp->zf->nrr;
        }
    } else if (zp->have_zone && !name_under(&owner, &zp->zone)) {
        name_text(&owner, otext);
        name_text(&zp->zone, ztext);
        return fail(zp, zp->rec_line, "%s is outside the zone %s (RFC 1035 section 5.2)", otext,
                    ztext);
    }

    /* Default TTL: $TTL (RFC 2308 section 4), else the SOA minimum (RFC 1035 3.3.13). */
    if (!have_ttl) {
        if (zp->have_dttl)
            ttl = zp->dttl;
        else if (zp->have_soa)
            ttl = zp->soa_min;
        else
            return fail(zp, zp->rec_line, "no TTL: give one, or set $TTL, or put the SOA first");
        if (ttl > ZF_MAX_TTL)
            return fail(zp, zp->rec_line, "no TTL, and the SOA minimum %u is over %u",
                        (unsigned)ttl, ZF_MAX_TTL);
    }
    if (store_rr(zp, &owner, ttl, type) < 0) return -1;
    zp->prev_owner = owner;
    zp->have_prev = true;
    return 0;
}

/* ---- zone-wide checks ------------------------------------------------------------------- */

static int cmp_owner(const void *a, const void *b, void *ctx)
{
    const zonefile_t *zf = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    const struct zrr *ra = &zf->rrs[ia], *rb = &zf->rrs[ib];
    size_t m = ra->owner_len < rb->owner_len ? ra->owner_len : rb->owner_len;
    int c = memcmp(zf->text.p + ra->off, zf->text.p + rb->off, m);
    if (c != 0) return c;
    if (ra->owner_len != rb->owner_len) return ra->owner_len < rb->owner_len ? -1 : 1;
    return (ia > ib) - (ia < ib);
}

/*
 * RFC 1034 section 3.6.2 and RFC 2181 section 10.1: a CNAME owner has no other data and one
 * CNAME only; RRSIG and NSEC may stand beside it (RFC 4035 section 2.5). The canonical owner
 * text is unique per name, so sorting by it groups equal owners. Reports the conflict that
 * appears first in the file.
 */
static int check_cname(struct zparser *zp)
{
    zonefile_t *zf = zp->zf;
    uint32_t *idx;
    unsigned long best = 0;
    char msg[ZF_NAME_TEXT + 160];

    if (zf->nrr < 2) return 0;
    idx = malloc(zf->nrr * sizeof *idx); /* nrr <= ZONEFILE_MAX_RECORDS: no overflow */
    if (idx == NULL) return fail(zp, 0, "out of memory");
    for (size_t k = 0; k < zf->nrr; k++)
        idx[k] = (uint32_t)k;
    qsort_r(idx, zf->nrr, sizeof *idx, cmp_owner, zf);
    for (size_t g = 0; g < zf->nrr;) {
        const struct zrr *head = &zf->rrs[idx[g]];
        const struct zrr *cname = NULL, *other = NULL;
        size_t h = g;
        bool done = false;
        /* Equal owners are adjacent and in file order (the index breaks ties). */
        for (;
             h < zf->nrr && zf->rrs[idx[h]].owner_len == head->owner_len &&
             memcmp(zf->text.p + zf->rrs[idx[h]].off, zf->text.p + head->off, head->owner_len) == 0;
             h++) {
            const struct zrr *r = &zf->rrs[idx[h]];
            const struct zrr *partner = NULL;
            if (done || r->type == T_RRSIG || r->type == T_NSEC) continue;
            if (r->type == T_CNAME)
                partner = cname != NULL ? cname : other;
            else
                partner = cname;
            if (partner != NULL) {
                done = true;
                if (best == 0 || r->line < best) {
                    char tn[16];
                    best = r->line;
                    if (r->type == T_CNAME && partner->type == T_CNAME) {
                        snprintf(msg, sizeof msg,
                                 "second CNAME at %.*s (the first is on line %lu; RFC 2181 "
                                 "section 10.1)",
                                 (int)head->owner_len, zf->text.p + head->off,
                                 (unsigned long)partner->line);
                    } else {
                        type_text(r->type == T_CNAME ? partner->type : r->type, tn, sizeof tn);
                        snprintf(msg, sizeof msg,
                                 "CNAME and other data at %.*s (%s on line %lu, CNAME on line "
                                 "%lu; RFC 1034 section 3.6.2)",
                                 (int)head->owner_len, zf->text.p + head->off, tn,
                                 (unsigned long)(r->type == T_CNAME ? partner : r)->line,
                                 (unsigned long)(r->type == T_CNAME ? r : partner)->line);
                    }
                }
            }
            if (r->type == T_CNAME && cname == NULL)
                cname = r;
            else if (r->type != T_CNAME && other == NULL)
                other = r;
        }
        g = h;
    }
    free(idx);
    if (best > 0) return fail(zp, best, "%s", msg);
    return 0;
}

/* Owners read before the SOA told us the zone: re-read them from the canonical text. */
static int check_unchecked(struct zparser *zp)
{
    zonefile_t *zf = zp->zf;
    char ztext[ZF_NAME_TEXT];
    for (size_t k = 0; k < zp->unchecked; k++) {
        const struct zrr *r = &zf->rrs[k];
        struct dname d;
        if (parse_name(zp, (const unsigned char *)zf->text.p + r->off, r->owner_len, r->line,
                       ROLE_RDATA, &d) < 0)
            return -1;
        if (!name_under(&d, &zp->zone)) {
            name_text(&zp->zone, ztext);
            return fail(zp, r->line, "%.*s is outside the zone %s (RFC 1035 section 5.2)",
                        (int)r->owner_len, zf->text.p + r->off, ztext);
        }
    }
    return 0;
}

/* Moves the SOA line and index entry to the front. */
static int soa_first(struct zparser *zp)
{
    zonefile_t *zf = zp->zf;
    size_t si = zp->soa_index;
    if (si == 0) return 0;
    struct zrr soa = zf->rrs[si];
    size_t end = si + 1 < zf->nrr ? zf->rrs[si + 1].off : zf->text.len;
    size_t l = end - soa.off;
    char *tmp = malloc(l);
    if (tmp == NULL) return fail(zp, 0, "out of memory");
    memcpy(tmp, zf->text.p + soa.off, l);
    memmove(zf->text.p + l, zf->text.p, soa.off);
    memcpy(zf->text.p, tmp, l);
    free(tmp);
    for (size_t k = 0; k < si; k++)
        zf->rrs[k].off += l;
    memmove(zf->rrs + 1, zf->rrs, si * sizeof *zf->rrs);
    soa.off = 0;
    zf->rrs[0] = soa;
    return 0;
}

/* ---- public API ------------------------------------------------------------------------- */

void zonefile_free(zonefile_t *zf)
{
    if (zf == NULL) return;
    free(zf->text.p);
    free(zf->rrs);
    free(zf);
}

zonefile_t *zonefile_parse(const unsigned char *buf, size_t len, const char *name,
                           const char *origin, char *err, size_t errlen)
{
    struct zparser zp;
    int rc;

    memset(&zp, 0, sizeof zp);
    zp.in = buf;
    zp.inlen = buf != NULL ? len : 0;
    zp.line = 1;
    zp.name = name != NULL ? name : "zone";
    zp.err = err;
    zp.errlen = errlen;
    if (err != NULL && errlen > 0) err[0] = '\0';

    zp.zf = calloc(1, sizeof *zp.zf);
    if (zp.zf == NULL) {
        fail(&zp, 0, "out of memory");
        return NULL;
    }
    if (len > ZONEFILE_MAX_SIZE) {
        fail(&zp, 0, "zone file larger than %u bytes", ZONEFILE_MAX_SIZE);
        goto out;
    }
    if (origin != NULL) {
        /* The caller's origin is absolute whether or not it ends with a dot. */
        zp.origin.wire[0] = 0;
        zp.origin.len = 1;
        zp.have_origin = true;
        if (parse_name(&zp, (const unsigned char *)origin, strlen(origin), 0, ROLE_ORIGIN,
                       &zp.zone) < 0)
            goto out;
        zp.origin = zp.zone;
        zp.have_zone = true;
    }

    while ((rc = lex_record(&zp)) > 0)
        if (parse_record(&zp) < 0) goto out;
    if (rc < 0) goto out;
    if (!zp.have_soa) {
        unsigned long last = zp.line;
        if (last > 1 && zp.inlen > 0 && buf[zp.inlen - 1] == '\n') last--;
        fail(&zp, last,
             "no SOA record: a zone file needs exactly one, at the zone origin "
             "(RFC 1035 section 5.2)");
        goto out;
    }
    if (check_unchecked(&zp) < 0 || check_cname(&zp) < 0 || soa_first(&zp) < 0) goto out;
    name_text(&zp.zone, zp.zf->origin);

out:
    free(zp.f);
    free(zp.rd.p);
    free(zp.bitmap);
    free(zp.scratch);
    if (zp.failed) {
        zonefile_free(zp.zf);
        return NULL;
    }
    return zp.zf;
}

zonefile_t *zonefile_load(const char *path, char *err, size_t errlen)
{
    int fd;
    struct stat st;
    unsigned char *data = NULL;
    size_t len = 0, cap;
    zonefile_t *zf = NULL;

#define LOAD_FAIL(...)                                                                             \
    do {                                                                                           \
        if (err != NULL && errlen > 0) snprintf(err, errlen, __VA_ARGS__);                         \
        goto out;                                                                                  \
    } while (0)

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (err != NULL && errlen > 0) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) LOAD_FAIL("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) LOAD_FAIL("%s: is a directory", path);
    /* st_size is only a hint; the read below enforces the limit. */
    cap = S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size < ZONEFILE_MAX_SIZE
              ? (size_t)st.st_size + 1
              : 65536;
    data = malloc(cap);
    if (data == NULL) LOAD_FAIL("%s: out of memory", path);
    for (;;) {
        if (len == cap) {
            if (cap > ZONEFILE_MAX_SIZE)
                LOAD_FAIL("%s: larger than %u bytes", path, ZONEFILE_MAX_SIZE);
            size_t ncap =
                cap * 2 > (size_t)ZONEFILE_MAX_SIZE + 1 ? (size_t)ZONEFILE_MAX_SIZE + 1 : cap * 2;
            unsigned char *nd = realloc(data, ncap);
            if (nd == NULL) LOAD_FAIL("%s: out of memory", path);
            data = nd;
            cap = ncap;
        }
        ssize_t n = read(fd, data + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            LOAD_FAIL("%s: %s", path, strerror(errno));
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    if (len > ZONEFILE_MAX_SIZE) LOAD_FAIL("%s: larger than %u bytes", path, ZONEFILE_MAX_SIZE);
    zf = zonefile_parse(data, len, path, NULL, err, errlen);
out:
#undef LOAD_FAIL
    free(data);
    close(fd);
    return zf;
}

const char *zonefile_origin(const zonefile_t *zf)
{
    return zf->origin;
}

size_t zonefile_count(const zonefile_t *zf)
{
    return zf->nrr;
}

const char *zonefile_canonical(const zonefile_t *zf, size_t *len)
{
    if (len != NULL) *len = zf->text.len;
    return zf->text.p != NULL ? zf->text.p : "";
}

int zonefile_rr(const zonefile_t *zf, size_t i, zonefile_rr_t *rr)
{
    if (i >= zf->nrr) return -1;
    const struct zrr *r = &zf->rrs[i];
    rr->owner = zf->text.p + r->off;
    rr->owner_len = r->owner_len;
    rr->ttl = r->ttl;
    rr->type = r->type;
    rr->rdata = zf->text.p + r->off + r->rdata_off;
    rr->rdata_len = r->rdata_len;
    rr->line = r->line;
    return 0;
}
