/*
 * ipaddr: IPv4 and IPv6 addresses and CIDR blocks. Parsing is strict (inet_pton rules: no
 * leading zeros in IPv4 octets, no brackets, no zone ids) and bounded by the given length.
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is stored as the IPv4 address it maps, so
 * every check sees one form of each client (RFC 4291 2.5.5.2).
 */
#ifndef MB_UTIL_IPADDR_H
#define MB_UTIL_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

typedef struct ipaddr {
    int family;       /* 4 or 6; 0 when unset */
    uint8_t a[16];    /* network order; IPv4 uses a[0..3] */
} ipaddr_t;

typedef struct cidr {
    ipaddr_t addr; /* host bits cleared */
    int prefix;    /* 0..32 or 0..128 */
} cidr_t;

/* Returns 0 and fills out, or -1 when buf[0..len) is not an address. */
int ipaddr_parse(ipaddr_t *out, const char *buf, size_t len);
int ipaddr_parsez(ipaddr_t *out, const char *s);
/* Writes the canonical text form (RFC 5952 for IPv6); buf needs IPADDR_STRLEN bytes. */
const char *ipaddr_format(const ipaddr_t *ip, char *buf, size_t size);
bool ipaddr_equal(const ipaddr_t *x, const ipaddr_t *y);
/*
 * The DNS name under which ip is looked up in zone: reversed octets for IPv4
 * ("4.3.2.1.zone"), reversed nibbles for IPv6 (RFC 3596 2.5, RFC 5782 2.4). zone is
 * "in-addr.arpa"/"ip6.arpa" style without a trailing dot; NULL picks the reverse tree.
 * Returns 0, or -1 when buf (at least 128 bytes for IPv6) is too small.
 */
int ipaddr_reverse_name(const ipaddr_t *ip, const char *zone, char *buf, size_t size);

/* "a.b.c.d/n", "x::/n", or a bare address (full-length prefix). Host bits set in the
 * address are cleared (Postfix warns and does the same). Returns 0 or -1. */
int cidr_parse(cidr_t *out, const char *buf, size_t len);
bool cidr_match(const cidr_t *net, const ipaddr_t *ip);
const char *cidr_format(const cidr_t *net, char *buf, size_t size);

#endif
