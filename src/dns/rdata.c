/*
 * rdata: see rdata.h. A reply is read in one pass that indexes the answer section (owner
 * offset, owner hash, type, TTL, rdata position), then the CNAME chain is followed over
 * that index, so a hostile message costs at most RDATA_SECTION_MAX * RDATA_CHAIN_MAX
 * cheap hash comparisons.
 */
#include "dns/rdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define T_CNAME 5
#define T_A 1
#define T_NS 2
#define T_SOA 6
#define T_PTR 12
#define T_MX 15
#define T_TXT 16
#define T_AAAA 28
#define C_IN 1
#define HEADER_LEN 12
#define TTL_MAX 0x7fffffffu /* RFC 2181 8: a TTL with the top bit set is zero */

/* A read position in a message; once err is set every fetch returns 0 (unpack_dns.c). */
struct cursor {
    const unsigned char *buf;
    size_t len, off;
    bool err;
};

static bool need(struct cursor *c, size_t n)
{
    if (c->err || n > c->len - c->off) {
        c->err = true;
        return false;
    }
    return true;
}

static uint16_t get16(struct cursor *c)
{
    if (!need(c, 2))
        return 0;
    uint16_t v = (uint16_t)(c->buf[c->off] << 8 | c->buf[c->off + 1]);
    c->off += 2;
    return v;
}

static uint32_t get32(struct cursor *c)
{
    if (!need(c, 4))
        return 0;
    const unsigned char *p = c->buf + c->off;
    c->off += 4;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void skip(struct cursor *c, size_t n)
{
    if (need(c, n))
        c->off += n;
}

static void get_name(struct cursor *c, unsigned char *wire, size_t *wlen)
{
    if (c->err)
        return;
    if (rdata_name_unpack(c->buf, c->len, &c->off, wire, wlen) != 0)
        c->err = true;
}

static unsigned char lower(unsigned char b)
{
    return (b >= 'A' && b <= 'Z') ? (unsigned char)(b + ('a' - 'A')) : b;
}

int rdata_name_parse(const char *text, size_t len, unsigned char *wire, size_t *wlen)
{
    if (len == 0)
        return -1;
    if (len == 1 && text[0] == '.') {
        wire[0] = 0;
        *wlen = 1;
        return 0;
    }
    /* wire[lab] is the length byte of the label being filled; content goes at wire[w].
     * A content byte needs w <= RDATA_WIRE_MAX - 2 so that the root label still fits. */
    size_t lab = 0, w = 1, labellen = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '.') {
            if (labellen == 0)
                return -1; /* empty label, or a leading dot */
            wire[lab] = (unsigned char)labellen;
            lab = w++;
            labellen = 0;
            continue;
        }
        if (c == '\\') {
            if (i + 1 >= len)
                return -1;
            unsigned char d = (unsigned char)text[i + 1];
            if (d >= '0' && d <= '9') {
                if (len - i < 4)
                    return -1;
                unsigned v = 0;
                for (size_t k = 1; k <= 3; k++) {
                    unsigned char x = (unsigned char)text[i + k];
                    if (x < '0' || x > '9')
                        return -1;
                    v = v * 10 + (x - '0');
                }
                if (v > 255)
                    return -1;
                c = (unsigned char)v;
                i += 3;
            } else {
                c = d;
                i += 1;
            }
        }
        if (labellen == RDATA_LABEL_MAX || w + 1 >= RDATA_WIRE_MAX)
            return -1;
        wire[w++] = lower(c);
        labellen++;
    }
    if (labellen == 0) {
        wire[lab] = 0; /* the text ended with a dot: the placeholder is the root label */
    } else {
        wire[lab] = (unsigned char)labellen;
        wire[w++] = 0;
    }
    *wlen = w;
    return 0;
}

static bool plain_byte(unsigned char b)
{
    return (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_' ||
           b == '*';
}

size_t rdata_name_format(const unsigned char *wire, size_t wlen, char *out)
{
    size_t pos = 0, o = 0;
    while (pos < wlen && wire[pos] != 0) {
        size_t l = wire[pos++];
        if (l > wlen - pos || o + 4 * l + 2 >= RDATA_TEXT_MAX)
            break; /* not produced by this module; keep what fits */
        if (o > 0)
            out[o++] = '.';
        for (size_t k = 0; k < l; k++) {
            unsigned char b = lower(wire[pos + k]);
            if (plain_byte(b)) {
                out[o++] = (char)b;
            } else {
                out[o++] = '\\';
                out[o++] = (char)('0' + b / 100);
                out[o++] = (char)('0' + b / 10 % 10);
                out[o++] = (char)('0' + b % 10);
            }
        }
        pos += l;
    }
    out[o] = '\0';
    return o;
}

int rdata_name_unpack(const unsigned char *msg, size_t len, size_t *off, unsigned char *wire,
                      size_t *wlen)
{
    size_t pos = *off, seg = *off, end = 0, w = 0;
    bool jumped = false;
    unsigned hops = 0;
    for (;;) {
        if (pos >= len)
            return -1;
        unsigned char c = msg[pos];
        if ((c & 0xc0) == 0xc0) {
            if (len - pos < 2)
                return -1;
            size_t target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
            if (!jumped) {
                end = pos + 2;
                jumped = true;
            }
            /* Strictly backwards, before the segment being read: no loops. */
            if (target >= seg || ++hops > RDATA_POINTER_MAX)
                return -1;
            pos = seg = target;
            continue;
        }
        if ((c & 0xc0) != 0)
            return -1; /* extended label types (RFC 6891 obsoleted them) */
        if (c == 0) {
            wire[w++] = 0;
            pos++;
            break;
        }
        if (c > len - pos - 1 || w + 1 + c + 1 > RDATA_WIRE_MAX)
            return -1;
        wire[w++] = c;
        for (size_t k = 0; k < c; k++)
            wire[w++] = lower(msg[pos + 1 + k]);
        pos += 1 + (size_t)c;
    }
    *off = jumped ? end : pos;
    *wlen = w;
    return 0;
}

void rdata_set_init(rdata_set_t *s)
{
    memset(s, 0, sizeof *s);
    str_init(&s->text);
}

void rdata_set_free(rdata_set_t *s)
{
    if (s == NULL)
        return;
    free(s->rr);
    str_free(&s->text);
    rdata_set_init(s);
}

static uint64_t wire_hash(const unsigned char *w, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a: an index, not a hash table exposed to peers */
    for (size_t i = 0; i < n; i++)
        h = (h ^ w[i]) * 0x100000001b3u;
    return h;
}

static uint32_t norm_ttl(uint32_t ttl)
{
    return ttl > TTL_MAX ? 0 : ttl;
}

static void note_ttl(rdata_set_t *s, uint32_t ttl)
{
    if (!s->has_ttl || ttl < s->min_ttl)
        s->min_ttl = ttl;
    s->has_ttl = true;
}

static rdata_rr_t *add_rr(rdata_set_t *s, uint16_t type, uint32_t ttl)
{
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->rr = xrealloc(s->rr, xmul(s->cap, sizeof *s->rr));
    }
    rdata_rr_t *rr = &s->rr[s->count++];
    memset(rr, 0, sizeof *rr);
    rr->type = type;
    rr->ttl = ttl;
    return rr;
}

static void add_name(rdata_set_t *s, rdata_rr_t *rr, const unsigned char *wire, size_t wlen)
{
    char text[RDATA_TEXT_MAX];
    size_t n = rdata_name_format(wire, wlen, text);
    rr->has_name = true;
    rr->name_off = s->text.len;
    str_append(&s->text, text, n + 1);
}

/* One record of the index built over a section. */
struct entry {
    size_t owner_off;
    uint64_t owner_hash;
    uint16_t type;
    uint32_t ttl;
    size_t rd_off;
    size_t rd_len;
};

/* Decodes the rdata of one record of type e->type into out. Returns 0 or -1. */
static int decode_rdata(const unsigned char *msg, size_t len, const struct entry *e,
                        rdata_set_t *out)
{
    /* The rdata lies within the message (checked when indexing); names in it may point
     * anywhere before them (RFC 1035 4.1.4) but must end exactly where the rdata ends. */
    if (e->rd_off > len || e->rd_len > len - e->rd_off)
        return -1;
    struct cursor c = {msg, e->rd_off + e->rd_len, e->rd_off, false};
    unsigned char wire[RDATA_WIRE_MAX];
    size_t wlen = 0;
    rdata_rr_t *rr = add_rr(out, e->type, e->ttl);
    switch (e->type) {
    case T_A:
        if (e->rd_len != 4)
            return -1;
        rr->addr.family = 4;
        memcpy(rr->addr.a, msg + e->rd_off, 4);
        return 0;
    case T_AAAA: {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (e->rd_len != 16)
            return -1;
        if (memcmp(msg + e->rd_off, mapped, 12) == 0) {
            rr->addr.family = 4;
            memcpy(rr->addr.a, msg + e->rd_off + 12, 4);
        } else {
            rr->addr.family = 6;
            memcpy(rr->addr.a, msg + e->rd_off, 16);
        }
        return 0;
    }
    case T_MX:
        rr->pref = get16(&c);
        /* fall through */
    case T_NS:
    case T_CNAME:
    case T_PTR:
    case T_SOA:
        get_name(&c, wire, &wlen);
        if (e->type == T_SOA) { /* MNAME kept; RNAME and five counters checked */
            unsigned char rname[RDATA_WIRE_MAX];
            size_t rlen;
            get_name(&c, rname, &rlen);
            skip(&c, 20);
        }
        if (c.err || c.off != c.len)
            return -1;
        add_name(out, rr, wire, wlen);
        return 0;
    case T_TXT: {
        /* RFC 1035 3.3.14 character-strings, joined as RFC 7208 3.3 asks. */
        rr->has_txt = true;
        rr->txt_off = out->text.len;
        while (!c.err && c.off < c.len) {
            size_t n = msg[c.off++];
            if (!need(&c, n))
                break;
            str_append(&out->text, msg + c.off, n);
            c.off += n;
            rr->txt_strings++;
        }
        if (c.err)
            return -1;
        rr->txt_len = out->text.len - rr->txt_off;
        str_appendc(&out->text, '\0');
        return 0;
    }
    default:
        return 0; /* kept with its type and TTL only */
    }
}

/* Reads n records from c into idx (at most RDATA_SECTION_MAX are kept, the rest are
 * skipped but still checked for framing). Returns the number kept. */
static size_t index_section(struct cursor *c, unsigned n, struct entry *idx)
{
    size_t kept = 0;
    unsigned char wire[RDATA_WIRE_MAX];
    size_t wlen = 0;
    for (unsigned i = 0; i < n && !c->err; i++) {
        struct entry e;
        e.owner_off = c->off;
        get_name(c, wire, &wlen);
        e.type = get16(c);
        uint16_t cls = get16(c);
        e.ttl = norm_ttl(get32(c));
        e.rd_len = get16(c);
        e.rd_off = c->off;
        skip(c, e.rd_len);
        if (c->err)
            break;
        if (cls != C_IN || kept == RDATA_SECTION_MAX)
            continue;
        e.owner_hash = wire_hash(wire, wlen);
        idx[kept++] = e;
    }
    return kept;
}

static bool owner_is(const unsigned char *msg, size_t len, const struct entry *e,
                     const unsigned char *name, size_t nlen, uint64_t nhash)
{
    if (e->owner_hash != nhash)
        return false;
    unsigned char wire[RDATA_WIRE_MAX];
    size_t wlen, off = e->owner_off;
    if (rdata_name_unpack(msg, len, &off, wire, &wlen) != 0)
        return false;
    return wlen == nlen && memcmp(wire, name, nlen) == 0;
}

int rdata_parse_reply(const unsigned char *msg, size_t len, const unsigned char *qwire,
                      size_t qwlen, uint16_t qtype, rdata_set_t *out)
{
    struct cursor c = {msg, len, 0, false};
    skip(&c, 4); /* ID, flags */
    unsigned qd = get16(&c), an = get16(&c), ns = get16(&c);
    skip(&c, 2); /* ARCOUNT: the additional section is not read */
    unsigned char wire[RDATA_WIRE_MAX];
    size_t wlen = 0;
    for (unsigned i = 0; i < qd && !c.err; i++) {
        get_name(&c, wire, &wlen);
        skip(&c, 4);
    }
    if (c.err)
        return -1;

    struct entry *idx = xmalloc(sizeof(struct entry) * RDATA_SECTION_MAX);
    int rc = -1;
    size_t nidx = index_section(&c, an, idx);
    if (c.err)
        goto done;

    /* RFC 1034 3.6.2 / 4.3.2: records of qtype at the current name, else its CNAME. */
    unsigned char cur[RDATA_WIRE_MAX];
    size_t curlen = qwlen;
    if (qwlen > RDATA_WIRE_MAX)
        goto done;
    memcpy(cur, qwire, qwlen);
    for (unsigned hop = 0;; hop++) {
        uint64_t h = wire_hash(cur, curlen);
        const struct entry *cname = NULL;
        bool found = false;
        for (size_t i = 0; i < nidx; i++) {
            const struct entry *e = &idx[i];
            if (e->type != qtype && (e->type != T_CNAME || cname != NULL))
                continue;
            if (!owner_is(msg, len, e, cur, curlen, h))
                continue;
            if (e->type == qtype) {
                if (decode_rdata(msg, len, e, out) != 0)
                    goto done;
                note_ttl(out, e->ttl);
                found = true;
            } else {
                cname = e;
            }
        }
        if (found || cname == NULL)
            break;
        if (hop == RDATA_CHAIN_MAX)
            goto done;
        struct cursor rc_cur = {msg, cname->rd_off + cname->rd_len, cname->rd_off, false};
        get_name(&rc_cur, cur, &curlen);
        if (rc_cur.err || rc_cur.off != rc_cur.len)
            goto done;
        note_ttl(out, cname->ttl);
        out->cnames++;
    }

    /* RFC 2308 5: the negative TTL is the smaller of the SOA's TTL and MINIMUM. */
    nidx = index_section(&c, ns, idx);
    if (c.err)
        goto done;
    for (size_t i = 0; i < nidx; i++) {
        if (idx[i].type != T_SOA)
            continue;
        struct cursor s = {msg, idx[i].rd_off + idx[i].rd_len, idx[i].rd_off, false};
        get_name(&s, wire, &wlen);
        get_name(&s, wire, &wlen);
        skip(&s, 16);
        uint32_t minimum = norm_ttl(get32(&s));
        if (s.err || s.off != s.len)
            goto done;
        out->neg_ttl = idx[i].ttl < minimum ? idx[i].ttl : minimum;
        out->has_neg_ttl = true;
        break;
    }
    rc = 0;
done:
    free(idx);
    return rc;
}
