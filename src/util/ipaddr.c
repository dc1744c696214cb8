/*
 * ipaddr: see ipaddr.h.
 */
#include "util/ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes v in decimal without leading zeros (1 to 3 bytes, no NUL); returns the count.
 * By hand rather than with sprintf: it runs several times for every decision. */
static size_t put_octet(char *out, unsigned v)
{
    size_t n = 0;
    if (v >= 100)
        out[n++] = (char)('0' + v / 100);
    if (v >= 10)
        out[n++] = (char)('0' + v / 10 % 10);
    out[n++] = (char)('0' + v % 10);
    return n;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The usual IPv4 text, four decimal octets (RFC 791 dotted quad as inet_pton accepts it:
 * 0-255, no leading zero, exactly four), parsed in place. Returns false for anything else,
 * which the general path then judges. */
static bool parse_dotted_quad(uint8_t a[4], const char *buf, size_t len)
{
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            if (i >= len || buf[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < len && i - start < 3 && buf[i] >= '0' && buf[i] <= '9')
            v = v * 10 + (unsigned)(buf[i++] - '0');
        if (i == start || v > 255 || (buf[start] == '0' && i - start > 1))
            return false;
        a[k] = (uint8_t)v;
    }
    return i == len;
}

int ipaddr_parse(ipaddr_t *out, const char *buf, size_t len)
{
    uint8_t quad[4];
    if (parse_dotted_quad(quad, buf, len)) {
        memset(out, 0, sizeof *out);
        memcpy(out->a, quad, 4);
        out->family = 4;
        return 0;
    }
    char tmp[IPADDR_STRLEN + 1];
    if (len == 0 || len > IPADDR_STRLEN || memchr(buf, '\0', len) != NULL)
        return -1;
    memcpy(tmp, buf, len);
    tmp[len] = '\0';
    memset(out, 0, sizeof *out);
    if (memchr(tmp, ':', len) == NULL) {
        if (inet_pton(AF_INET, tmp, out->a) != 1)
            return -1;
        out->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out->a) != 1)
        return -1;
    out->family = 6;
    if (memcmp(out->a, v4mapped, 12) == 0) {
        memmove(out->a, out->a + 12, 4);
        memset(out->a + 4, 0, 12);
        out->family = 4;
    }
    return 0;
}

int ipaddr_parsez(ipaddr_t *out, const char *s)
{
    return ipaddr_parse(out, s, strlen(s));
}

const char *ipaddr_format(const ipaddr_t *ip, char *buf, size_t size)
{
    if (ip->family == 4 && size >= 16) {
        /* by hand: inet_ntop goes through sprintf */
        size_t off = 0;
        for (int i = 0; i < 4; i++) {
            off += put_octet(buf + off, ip->a[i]);
            buf[off++] = i < 3 ? '.' : '\0';
        }
        return buf;
    }
    if (ip->family == 0 ||
        inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->a, buf, (socklen_t)size) == NULL)
        snprintf(buf, size, "%s", "unknown");
    return buf;
}

bool ipaddr_equal(const ipaddr_t *x, const ipaddr_t *y)
{
    return x->family == y->family && memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

int ipaddr_reverse_name(const ipaddr_t *ip, const char *zone, char *buf, size_t size)
{
    size_t off = 0;
    if (ip->family == 4) {
        const char *z = zone != NULL ? zone : "in-addr.arpa";
        size_t zl = strlen(z);
        if (size < 16 + zl + 1)
            return -1;
        for (int i = 3; i >= 0; i--) {
            off += put_octet(buf + off, ip->a[i]);
            buf[off++] = '.';
        }
        memcpy(buf + off, z, zl + 1);
        return 0;
    }
    if (ip->family != 6)
        return -1;
    static const char hex[] = "0123456789abcdef";
    if (size < 64)
        return -1;
    for (int i = 15; i >= 0; i--) {
        buf[off++] = hex[ip->a[i] & 0xf];
        buf[off++] = '.';
        buf[off++] = hex[ip->a[i] >> 4];
        buf[off++] = '.';
    }
    const char *z = zone != NULL ? zone : "ip6.arpa";
    size_t zl = strlen(z);
    if (zl + 1 > size - off)
        return -1;
    memcpy(buf + off, z, zl + 1);
    return 0;
}

static void clear_host_bits(ipaddr_t *ip, int prefix)
{
    int bytes = ip->family == 4 ? 4 : 16;
    for (int i = 0; i < bytes; i++) {
        int keep = prefix - i * 8;
        if (keep >= 8)
            continue;
        ip->a[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
}

int cidr_parse(cidr_t *out, const char *buf, size_t len)
{
    const char *slash = memchr(buf, '/', len);
    size_t alen = slash != NULL ? (size_t)(slash - buf) : len;
    /* "::ffff:a.b.c.d/n" maps to IPv4 with n - 96 */
    if (ipaddr_parse(&out->addr, buf, alen) != 0)
        return -1;
    bool mapped = out->addr.family == 4 && memchr(buf, ':', alen) != NULL;
    int max = out->addr.family == 4 ? 32 : 128;
    int prefix = max;
    if (slash != NULL) {
        size_t plen = len - alen - 1;
        if (plen == 0 || plen > 3)
            return -1;
        prefix = 0;
        for (size_t i = 0; i < plen; i++) {
            char c = slash[1 + i];
            if (c < '0' || c > '9')
                return -1;
            prefix = prefix * 10 + (c - '0');
        }
        if (mapped) {
            if (prefix < 96)
                return -1;
            prefix -= 96;
        }
        if (prefix > max)
            return -1;
    }
    out->prefix = prefix;
    clear_host_bits(&out->addr, prefix);
    return 0;
}

bool cidr_match(const cidr_t *net, const ipaddr_t *ip)
{
    if (net->addr.family != ip->family)
        return false;
    /* net->addr has its host bits cleared (cidr_parse): compare the prefix's whole bytes,
     * then the masked partial byte, without copying the address */
    int bits = ip->family == 4 ? 32 : 128;
    int prefix = net->prefix < 0 ? 0 : net->prefix > bits ? bits : net->prefix;
    size_t full = (size_t)prefix / 8;
    if (memcmp(ip->a, net->addr.a, full) != 0)
        return false;
    int rest = prefix % 8;
    return rest == 0 || (ip->a[full] & (uint8_t)(0xff << (8 - rest))) == net->addr.a[full];
}

const char *cidr_format(const cidr_t *net, char *buf, size_t size)
{
    char a[IPADDR_STRLEN];
    snprintf(buf, size, "%s/%d", ipaddr_format(&net->addr, a, sizeof a), net->prefix);
    return buf;
}
