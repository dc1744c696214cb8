/*
 * ptr_generic: see ptr_generic.h.
 *
 * Rules, tried in this order; the first that holds decides and is reported.
 *
 * 1. The client's own address embedded in the name (IPv4 client):
 *    ip-embedded-dashed  three or four decimal octets as consecutive numbers joined by single
 *                        '-' or '_' (a '.' may also occur): a.b.c.d or d.c.b.a (all four),
 *                        b.c.d or d.c.b (the last octet plus the two before it). Zero padding
 *                        is allowed up to three digits ("dslb-088-064-012-034"). The numbers
 *                        are whole digit runs; letters may touch them ("host86-1-2-3").
 *    ip-embedded-dotted  the same with only '.' between the numbers ("45.2.0.192.static").
 *    ip-embedded-padded  one digit run of 12 (all four octets) or 9 (the last three) digits,
 *                        each octet zero-padded to three, forward or reversed
 *                        ("softbank126090202047", "kd111239184067"). Unpadded concatenation
 *                        ("1234") is ambiguous and is not accepted.
 *    ip-embedded-hex     the 8 hex digits of the address inside one label, not touching a
 *                        decimal digit ("p5b0c1234", "d51A5BC31", "5ad96a4e").
 *    ip-embedded-split   the first three octets as a group plus the last octet as a
 *                        separate number elsewhere ("34.red-83-42-66" for 83.42.66.34).
 *    A name that holds fewer than three octets of the address, or octets not in address
 *    order, does not match: "a48-37.smtp-out.amazonses.com" for 54.240.48.37 carries two.
 *    Numbers are compared with the client's address, never merely counted.
 *
 * 2. The client's own address embedded (IPv6 client):
 *    ip6-embedded-groups the full address as hex groups joined by '-', "--" for a run of
 *                        zero groups, leading zeros optional ("2a02-1812-162c-...-eba8").
 *    ip6-embedded-hex    the 32 nibbles as one hex run ("p200300e94717cfe0...").
 *    ip6-embedded-iid    the 16 nibbles of the low 64 bits (interface id) as one hex run.
 *    ip6-embedded-nibbles the low 64 bits as 16 one-nibble labels in reverse (ip6.arpa) order.
 *    Hex runs must not touch a decimal digit, as for ip-embedded-hex.
 *
 *    Mail-server exemption for rules 1 and 2: when a label holding the match also holds a
 *    mail word (mail, smtp, mx, mta, relay, out, outbound, ...), the operator named the host
 *    as a mail server and the match is ignored. Microsoft's consumer outbound hosts embed
 *    the address padded: mail-oln040092071062.outbound.protection.outlook.com is 40.92.71.62.
 *
 * 3. Access-network tokens, only in the host part. The registered domain is approximated
 *    without the public suffix list: the last two labels, or three when the last is a
 *    two-letter ccTLD and the second-level label is a common public 2LD (co, com, net, org,
 *    ac, gov, ne, or, ...). A token in the domain never counts ("mail.dsl.net"). Tokens are
 *    the host part split on '.', '-', '_' and letter/digit boundaries ("dyn123" gives "dyn"
 *    and "123"); a token matches only as a whole ("poolside", "dynamics" do not).
 *    Strong tokens decide alone:
 *      dyn dynamic dynamicip dynip dhcp ppp pppoe dsl adsl vdsl xdsl dial dialup dialin
 *      broadband residential cpe ftth fttx unassigned
 *    Weak tokens need a second distinct weak token, or two consecutive octets of the
 *    client's IPv4 address joined by a separator ("w86-210" for 86.210.146.109):
 *      pool cable cbl bb client clients cust customer customers res home user users subs
 *      abo nat wlan wifi wireless mobile lte 3g 4g 5g gprs fibre fiber hsd fios unknown
 *    Never tokens by themselves: static, ip, host (common in business-line and server
 *    names; they only matter with the address embedded, which rule 1 already covers).
 *    Mail-server exemption for rule 3: when the leftmost label consists of mail words and
 *    digits only ("smtp.dsl.example.net", "mx1.dyn.example.org"), tokens do not count.
 *
 * Naming conventions cited below are facts observed in Received header fields of public
 * mailing-list archives (the client name and address as the receiving MTA logged them).
 *
 * Deliberate limits: no public suffix list; no provider tables; names that encode the
 * address some other way (Telenet's "ptr-<base32>.ip6.access.telenet.be", NTT's
 * "p1234567-ipngn..." line numbers, Shaw's "S0106<mac>") are not recognised; octets joined
 * by letters ("192x0x2x45") are not accepted.
 */
#include "check/ptr_generic.h"


/* Three zero-padded decimal digits of v (no NUL); snprintf costs too much on this path. */
static void pad3(char *out, unsigned v)
{
    out[0] = (char)('0' + v / 100);
    out[1] = (char)('0' + v / 10 % 10);
    out[2] = (char)('0' + v % 10);
}

/* Two lower-case hex digits of v (no NUL). */
static void hex2(char *out, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    out[0] = digits[(v >> 4) & 15];
    out[1] = digits[v & 15];
}

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/str.h"

#define PG_LABELS_MAX 128 /* 253 bytes hold at most 127 labels */
#define PG_RUNS_MAX 256   /* a run is at least one byte */
#define PG_IP6_GROUPS_TEXT_MAX 39 /* 8 groups of 4 and 7 separators */

typedef struct pg_label {
    size_t off, len;
    bool mailword; /* holds a mail word token */
    bool mailonly; /* every letter token is a mail word, and there is one */
} pg_label_t;

/* A run is a maximal stretch of letters or of digits. */
typedef struct pg_run {
    size_t off, len;
    size_t label;
    bool digit;
} pg_run_t;

typedef struct pg_name {
    const char *s;
    size_t len;
    pg_label_t lab[PG_LABELS_MAX];
    size_t nlab;
    size_t nhost; /* labels [0, nhost) form the host part */
    pg_run_t run[PG_RUNS_MAX];
    size_t nrun;
} pg_name_t;

/* A word of a list, with its length: most candidates differ from it in length, which
 * costs one comparison to see. */
typedef struct pg_word {
    const char *w; /* lower case */
    size_t len;
} pg_word_t;

#define W(word) {word, sizeof(word) - 1}

typedef struct pg_token {
    pg_word_t word;
    const char *rule;
} pg_token_t;

#define TOKEN(word) {W(word), "token:" word}

/* Tokens that decide alone. */
static const pg_token_t strong_tokens[] = {
    TOKEN("dyn"),
    TOKEN("dynamic"),
    TOKEN("dynamicip"), /* Telefonica: 34.red-83-42-66.dynamicip.rima-tde.net */
    TOKEN("dynip"),
    TOKEN("dhcp"),
    TOKEN("ppp"),
    TOKEN("pppoe"),
    TOKEN("dsl"), /* Bell Canada: bras-base-...-70-52-229-124.dsl.bell.ca */
    TOKEN("adsl"),
    TOKEN("vdsl"),
    TOKEN("xdsl"),
    TOKEN("dial"),
    TOKEN("dialup"),
    TOKEN("dialin"),
    TOKEN("broadband"),
    TOKEN("residential"),
    TOKEN("cpe"), /* customer premises equipment: cpe-66-24-58-225.stny.res.rr.com */
    TOKEN("ftth"),
    TOKEN("fttx"),
    TOKEN("unassigned"),
};

/* Tokens that need corroboration: each also occurs in names of real servers. */
static const pg_token_t weak_tokens[] = {
    TOKEN("pool"),
    TOKEN("cable"), /* Virgin Media: cpc86377-aztw32-2-0-cust226.18-1.cable.virginm.net */
    TOKEN("cbl"),
    TOKEN("bb"),
    TOKEN("client"),
    TOKEN("clients"),
    TOKEN("cust"),
    TOKEN("customer"),
    TOKEN("customers"),
    TOKEN("res"),
    TOKEN("home"),
    TOKEN("user"),
    TOKEN("users"),
    TOKEN("subs"),
    TOKEN("abo"), /* Orange: lfbn-tou-1-915-109.w86-210.abo.wanadoo.fr */
    TOKEN("nat"),
    TOKEN("wlan"),
    TOKEN("wifi"),
    TOKEN("wireless"),
    TOKEN("mobile"),
    TOKEN("lte"),
    TOKEN("3g"),
    TOKEN("4g"),
    TOKEN("5g"),
    TOKEN("gprs"),
    TOKEN("fibre"),
    TOKEN("fiber"),
    TOKEN("hsd"), /* Comcast: c-73-47-72-35.hsd1.nh.comcast.net */
    TOKEN("fios"),
    TOKEN("unknown"),
};

/* Words that mark a host deliberately named as a mail server. */
static const pg_word_t mail_words[] = {
    W("mail"), W("mailer"), W("mailout"), W("mailgw"), W("email"), W("mx"), W("mxout"), W("mta"),
    W("smtp"), W("smtpout"), W("relay"), W("out"), W("outbound"),
};

/* Second-level labels under a ccTLD that are public suffixes often enough to matter. */
static const pg_word_t public_2ld[] = {
    W("ac"), W("co"), W("com"), W("edu"), W("go"), W("gob"), W("gov"), W("gv"), W("ltd"), W("mil"),
    W("ne"), W("net"), W("nic"), W("nom"), W("or"), W("org"), W("plc"), W("sch"),
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(int c)
{
    return is_digit(c) || is_alpha(c);
}

static bool is_hex(int c)
{
    return is_digit(c) || (lc(c) >= 'a' && lc(c) <= 'f');
}

static int hex_value(int c)
{
    return is_digit(c) ? c - '0' : lc(c) - 'a' + 10;
}

/* Case-insensitive: is s[0..len) exactly the word w? */
/* the list words are lower case; mem_ieq passes a word of another length at once */
static bool word_eq(const char *s, size_t len, const pg_word_t *w)
{
    return mem_ieq(s, len, w->w, w->len);
}

static bool in_list(const char *s, size_t len, const pg_word_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (word_eq(s, len, &list[i]))
            return true;
    return false;
}

/* ---- splitting ---------------------------------------------------------------------- */

/* Splits name into labels and runs; false when it is not a hostname. */
static bool pg_split(pg_name_t *n, const char *s, size_t len)
{
    n->s = s;
    n->len = len;
    n->nlab = 0;
    n->nrun = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!is_alnum(c) && c != '-' && c != '_')
                return false;
            continue;
        }
        size_t l = i - start;
        if (l == 0 || l > PTR_GENERIC_LABEL_MAX || n->nlab == PG_LABELS_MAX)
            return false;
        n->lab[n->nlab].off = start;
        n->lab[n->nlab].len = l;
        n->nlab++;
        start = i + 1;
    }
    for (size_t li = 0; li < n->nlab; li++) {
        pg_label_t *lab = &n->lab[li];
        size_t end = lab->off + lab->len;
        size_t letters = 0, mail = 0;
        for (size_t i = lab->off; i < end;) {
            unsigned char c = (unsigned char)s[i];
            if (!is_alnum(c)) {
                i++;
                continue;
            }
            bool dig = is_digit(c);
            size_t j = i + 1;
            while (j < end && is_alnum((unsigned char)s[j]) && is_digit((unsigned char)s[j]) == dig)
                j++;
            if (n->nrun == PG_RUNS_MAX)
                return false; /* cannot happen: a run is at least one byte */
            n->run[n->nrun++] = (pg_run_t){.off = i, .len = j - i, .label = li, .digit = dig};
            if (!dig) {
                letters++;
                if (in_list(s + i, j - i, mail_words, NELEMS(mail_words)))
                    mail++;
            }
            i = j;
        }
        lab->mailword = mail > 0;
        lab->mailonly = mail > 0 && mail == letters;
    }
    /* The registered domain, approximated: two labels, or three under a public 2LD. */
    size_t dom = 2;
    if (n->nlab >= 3) {
        const pg_label_t *tld = &n->lab[n->nlab - 1], *sld = &n->lab[n->nlab - 2];
        if (tld->len == 2 && is_alpha((unsigned char)s[tld->off]) &&
            is_alpha((unsigned char)s[tld->off + 1]) &&
            in_list(s + sld->off, sld->len, public_2ld, NELEMS(public_2ld)))
            dom = 3;
    }
    n->nhost = n->nlab > dom ? n->nlab - dom : 0;
    return true;
}

/* ---- evidence ----------------------------------------------------------------------- */

static bool found(ptr_generic_match_t *m, const char *rule, size_t off, size_t len)
{
    if (m != NULL) {
        m->rule = rule;
        m->off = off;
        m->len = len;
    }
    return true;
}

/* An address match is ignored when a label it touches names a mail server. */
static bool span_in_mail_label(const pg_name_t *n, size_t off, size_t len)
{
    for (size_t i = 0; i < n->nlab; i++) {
        const pg_label_t *lab = &n->lab[i];
        if (lab->off < off + len && off < lab->off + lab->len && lab->mailword)
            return true;
    }
    return false;
}

/* ---- IPv4 --------------------------------------------------------------------------- */

/* The value of digit run i when it can be an octet (1-3 digits, <= 255), else -1. */
static int run_octet(const pg_name_t *n, size_t i)
{
    const pg_run_t *r = &n->run[i];
    if (!r->digit || r->len > 3)
        return -1;
    int v = 0;
    for (size_t k = 0; k < r->len; k++)
        v = v * 10 + (n->s[r->off + k] - '0');
    return v <= 255 ? v : -1;
}

/* Are runs i and i+1 both digits, separated by exactly one separator byte? */
static bool runs_joined(const pg_name_t *n, size_t i)
{
    if (i + 1 >= n->nrun)
        return false;
    const pg_run_t *a = &n->run[i], *b = &n->run[i + 1];
    return a->digit && b->digit && b->off == a->off + a->len + 1;
}

/* Do runs i.. hold the octets o[idx[0]], o[idx[1]], ... (k of them) joined by separators? */
static bool runs_match(const pg_name_t *n, size_t i, const uint8_t *o, const int *idx, size_t k,
                       bool *dotted)
{
    if (i + k > n->nrun)
        return false;
    *dotted = true;
    for (size_t j = 0; j < k; j++) {
        if (run_octet(n, i + j) != o[idx[j]])
            return false;
        if (j + 1 < k) {
            if (!runs_joined(n, i + j))
                return false;
            if (n->s[n->run[i + j].off + n->run[i + j].len] != '.')
                *dotted = false;
        }
    }
    return true;
}

/* Case-insensitive search of hex (lower case, hl bytes) in each label, not touching a decimal
 * digit within the same alphanumeric stretch. Returns the offset or SIZE_MAX. */
static size_t find_hex(const pg_name_t *n, const char *hex, size_t hl, size_t from)
{
    const char *s = n->s;
    for (size_t p = from; p + hl <= n->len; p++) {
        size_t k = 0;
        while (k < hl && lc((unsigned char)s[p + k]) == hex[k])
            k++;
        if (k < hl)
            continue;
        if (p > 0 && is_digit((unsigned char)s[p - 1]))
            continue;
        if (p + hl < n->len && is_digit((unsigned char)s[p + hl]))
            continue;
        return p;
    }
    return SIZE_MAX;
}

static size_t find_hex_ok(const pg_name_t *n, const char *hex, size_t hl)
{
    for (size_t p = find_hex(n, hex, hl, 0); p != SIZE_MAX; p = find_hex(n, hex, hl, p + 1))
        if (!span_in_mail_label(n, p, hl))
            return p;
    return SIZE_MAX;
}

static bool check_ip4(const pg_name_t *n, const uint8_t *o, ptr_generic_match_t *m)
{
    static const int fwd4[] = {0, 1, 2, 3}, rev4[] = {3, 2, 1, 0};
    static const int fwd3[] = {1, 2, 3}, rev3[] = {3, 2, 1}, net3[] = {0, 1, 2};
    static const struct {
        const int *idx;
        size_t k;
    } pats[] = {{fwd4, 4}, {rev4, 4}, {fwd3, 3}, {rev3, 3}};
    bool dotted;

    /* Separated decimal octets; all four before three, so the widest span is reported. */
    for (size_t p = 0; p < NELEMS(pats); p++) {
        for (size_t i = 0; i < n->nrun; i++) {
            if (!runs_match(n, i, o, pats[p].idx, pats[p].k, &dotted))
                continue;
            const pg_run_t *last = &n->run[i + pats[p].k - 1];
            size_t off = n->run[i].off, len = last->off + last->len - off;
            if (span_in_mail_label(n, off, len))
                continue;
            return found(m, dotted ? "ip-embedded-dotted" : "ip-embedded-dashed", off, len);
        }
    }

    /* Zero-padded concatenation: 12 digits (all four) or 9 (the last three). */
    char f12[13], r12[13], f9[10], r9[10];
    pad3(f12, o[0]), pad3(f12 + 3, o[1]), pad3(f12 + 6, o[2]), pad3(f12 + 9, o[3]);
    pad3(r12, o[3]), pad3(r12 + 3, o[2]), pad3(r12 + 6, o[1]), pad3(r12 + 9, o[0]);
    memcpy(f9, f12 + 3, 9);
    pad3(r9, o[3]), pad3(r9 + 3, o[2]), pad3(r9 + 6, o[1]);
    for (size_t i = 0; i < n->nrun; i++) {
        const pg_run_t *r = &n->run[i];
        const char *t = n->s + r->off;
        if (!r->digit)
            continue;
        bool hit = (r->len == 12 && (memcmp(t, f12, 12) == 0 || memcmp(t, r12, 12) == 0)) ||
                   (r->len == 9 && (memcmp(t, f9, 9) == 0 || memcmp(t, r9, 9) == 0));
        if (hit && !span_in_mail_label(n, r->off, r->len))
            return found(m, "ip-embedded-padded", r->off, r->len);
    }

    /* Eight hex digits. Deutsche Telekom: pd95be530.dip0.t-ipconnect.de is 217.91.229.48;
     * Telenet: d51A5BC31.access.telenet.be is 81.165.188.49; Sky: 5ad96a4e.bb.sky.com. */
    char hex[9];
    for (int k = 0; k < 4; k++)
        hex2(hex + 2 * k, o[k]);
    size_t p = find_hex_ok(n, hex, 8);
    if (p != SIZE_MAX)
        return found(m, "ip-embedded-hex", p, 8);

    /* The /24 as a group and the last octet apart. Telefonica:
     * 34.red-83-42-66.dynamicip.rima-tde.net and 71.red-88-21-204.staticip.rima-tde.net. */
    for (size_t i = 0; i < n->nrun; i++) {
        if (!runs_match(n, i, o, net3, 3, &dotted))
            continue;
        for (size_t j = 0; j < n->nrun; j++) {
            if ((j >= i && j < i + 3) || run_octet(n, j) != o[3])
                continue;
            const pg_run_t *g0 = &n->run[i], *g2 = &n->run[i + 2], *h = &n->run[j];
            size_t off = h->off < g0->off ? h->off : g0->off;
            size_t end = h->off < g0->off ? g2->off + g2->len : h->off + h->len;
            if (span_in_mail_label(n, off, end - off))
                continue;
            return found(m, "ip-embedded-split", off, end - off);
        }
    }
    return false;
}

/* Two consecutive octets of the address, in either order, joined by a separator. */
static bool has_ip4_pair(const pg_name_t *n, const uint8_t *o)
{
    for (size_t i = 0; i + 1 < n->nrun; i++) {
        if (!runs_joined(n, i))
            continue;
        int a = run_octet(n, i), b = run_octet(n, i + 1);
        if (a < 0 || b < 0)
            continue;
        for (int k = 0; k < 3; k++)
            if ((a == o[k] && b == o[k + 1]) || (a == o[k + 1] && b == o[k]))
                return true;
    }
    return false;
}

/* ---- IPv6 --------------------------------------------------------------------------- */

/* Parses hex groups joined by '-' with at most one "--" (as "::"), RFC 4291 2.2 text form
 * with '-' for ':'. No embedded IPv4 tail. */
static bool parse_ip6_dashed(const char *s, size_t len, uint8_t out[16])
{
    uint16_t head[8], tail[8];
    size_t nh = 0, nt = 0, i = 0;
    bool gap = false;
    if (len >= 2 && s[0] == '-' && s[1] == '-') {
        gap = true;
        i = 2;
        if (i == len)
            goto done;
    }
    for (;;) {
        size_t d = 0;
        unsigned v = 0;
        while (i < len && d < 5 && is_hex((unsigned char)s[i])) {
            v = v * 16 + (unsigned)hex_value((unsigned char)s[i]);
            i++;
            d++;
        }
        if (d == 0 || d > 4)
            return false;
        if (gap) {
            if (nt == 8)
                return false;
            tail[nt++] = (uint16_t)v;
        } else {
            if (nh == 8)
                return false;
            head[nh++] = (uint16_t)v;
        }
        if (i == len)
            break;
        if (s[i] != '-')
            return false;
        i++;
        if (i < len && s[i] == '-') {
            if (gap)
                return false;
            gap = true;
            i++;
            if (i == len)
                break;
        } else if (i == len) {
            return false; /* a single trailing '-' */
        }
    }
done:
    if (gap ? nh + nt > 7 : nh != 8)
        return false;
    memset(out, 0, 16);
    for (size_t k = 0; k < nh; k++) {
        out[2 * k] = (uint8_t)(head[k] >> 8);
        out[2 * k + 1] = (uint8_t)head[k];
    }
    for (size_t k = 0; k < nt; k++) {
        size_t g = 8 - nt + k;
        out[2 * g] = (uint8_t)(tail[k] >> 8);
        out[2 * g + 1] = (uint8_t)tail[k];
    }
    return true;
}

static bool check_ip6(const pg_name_t *n, const uint8_t *a, ptr_generic_match_t *m)
{
    const char *s = n->s;

    /* Dashed groups. Telenet: 2a02-1812-162c-8f00-1e2d-b404-3319-eba8.ip6.access.telenet.be. */
    for (size_t li = 0; li < n->nlab; li++) {
        const pg_label_t *lab = &n->lab[li];
        size_t end = lab->off + lab->len;
        for (size_t p = lab->off; p < end; p++) {
            if (p > lab->off && s[p - 1] != '-')
                continue;
            if (!is_hex((unsigned char)s[p]))
                continue;
            for (size_t q = p + 1; q <= end && q - p <= PG_IP6_GROUPS_TEXT_MAX; q++) {
                if (q < end && !is_hex((unsigned char)s[q]) && s[q] != '-')
                    break;
                if (q < end && s[q] != '-')
                    continue;
                uint8_t got[16];
                if (parse_ip6_dashed(s + p, q - p, got) && memcmp(got, a, 16) == 0 &&
                    !span_in_mail_label(n, p, q - p))
                    return found(m, "ip6-embedded-groups", p, q - p);
            }
        }
    }

    /* 32 nibbles. Deutsche Telekom: p200300e94717cfe07139628ae9da1147.dip0.t-ipconnect.de;
     * Orange: 2a01cb058918ce00dd1a5a4f9908f2d5.ipv6.abo.wanadoo.fr. */
    char hex[33];
    for (size_t k = 0; k < 16; k++)
        hex2(hex + 2 * k, a[k]);
    size_t p = find_hex_ok(n, hex, 32);
    if (p != SIZE_MAX)
        return found(m, "ip6-embedded-hex", p, 32);
    p = find_hex_ok(n, hex + 16, 16);
    if (p != SIZE_MAX)
        return found(m, "ip6-embedded-iid", p, 16);

    /* The low 64 bits as 16 reversed one-nibble labels (RFC 3596 2.5 order). */
    for (size_t li = 0; li + 16 <= n->nlab; li++) {
        size_t k = 0;
        for (; k < 16; k++) {
            const pg_label_t *lab = &n->lab[li + k];
            uint8_t byte = a[15 - k / 2];
            int want = (k % 2 == 0) ? (byte & 0xf) : (byte >> 4);
            if (lab->len != 1 || !is_hex((unsigned char)s[lab->off]) ||
                hex_value((unsigned char)s[lab->off]) != want)
                break;
        }
        if (k < 16)
            continue;
        size_t off = n->lab[li].off, len = n->lab[li + 15].off + 1 - off;
        if (!span_in_mail_label(n, off, len))
            return found(m, "ip6-embedded-nibbles", off, len);
    }
    return false;
}

/* ---- tokens ------------------------------------------------------------------------- */

static const pg_token_t *token_lookup(const char *t, size_t len, const pg_token_t *tab, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (word_eq(t, len, &tab[i].word))
            return &tab[i];
    return NULL;
}

/* The token starting at run i: a letter run, or "3g"/"4g"/"5g" standing alone between
 * separators. Sets *tlen and returns the start, or SIZE_MAX for no token. */
static size_t token_at(const pg_name_t *n, size_t i, size_t *tlen, size_t *runs)
{
    const pg_run_t *r = &n->run[i];
    *runs = 1;
    if (!r->digit) {
        *tlen = r->len;
        return r->off;
    }
    if (r->len == 1 && i + 1 < n->nrun) {
        const pg_run_t *g = &n->run[i + 1];
        size_t end = g->off + g->len;
        bool alone_before = r->off == n->lab[r->label].off || !is_alnum((unsigned char)n->s[r->off - 1]);
        bool alone_after = end == n->len || !is_alnum((unsigned char)n->s[end]);
        if (g->off == r->off + 1 && g->len == 1 && alone_before && alone_after) {
            *tlen = 2;
            *runs = 2;
            return r->off;
        }
    }
    return SIZE_MAX;
}

static bool check_tokens(const pg_name_t *n, const ipaddr_t *ip, ptr_generic_match_t *m)
{
    if (n->nhost == 0 || n->lab[0].mailonly)
        return false;
    const pg_token_t *first_weak = NULL;
    size_t weak_off = 0, weak_len = 0;
    bool second_weak = false;
    for (size_t i = 0; i < n->nrun && n->run[i].label < n->nhost;) {
        size_t tlen, nr;
        size_t off = token_at(n, i, &tlen, &nr);
        i += nr;
        if (off == SIZE_MAX)
            continue;
        const pg_token_t *t = token_lookup(n->s + off, tlen, strong_tokens, NELEMS(strong_tokens));
        if (t != NULL)
            return found(m, t->rule, off, tlen);
        t = token_lookup(n->s + off, tlen, weak_tokens, NELEMS(weak_tokens));
        if (t == NULL)
            continue;
        if (first_weak == NULL) {
            first_weak = t;
            weak_off = off;
            weak_len = tlen;
        } else if (t != first_weak) {
            second_weak = true;
        }
    }
    if (first_weak == NULL)
        return false;
    if (second_weak || (ip != NULL && ip->family == 4 && has_ip4_pair(n, ip->a)))
        return found(m, first_weak->rule, weak_off, weak_len);
    return false;
}

/* ---- entry -------------------------------------------------------------------------- */

bool ptr_generic_check(const char *name, size_t len, const ipaddr_t *ip, ptr_generic_match_t *m)
{
    pg_name_t n;
    if (m != NULL)
        *m = (ptr_generic_match_t){.rule = NULL, .off = 0, .len = 0};
    if (name == NULL || len == 0)
        return false;
    if (name[len - 1] == '.')
        len--;
    if (len == 0 || len > PTR_GENERIC_NAME_MAX || !pg_split(&n, name, len))
        return false;
    if (ip != NULL && ip->family == 4 && check_ip4(&n, ip->a, m))
        return true;
    if (ip != NULL && ip->family == 6 && check_ip6(&n, ip->a, m))
        return true;
    return check_tokens(&n, ip, m);
}
