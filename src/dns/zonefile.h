/*
 * zonefile: a bounded reader of RFC 1035 section 5 master files ("zone files"), one zone per
 * file with its SOA.
 *
 * `--zone FILE` / `dns_zone_files` answer zones from local files. The DNS layer loads them into
 * libunbound as auth-zones, but libunbound drops a zone it cannot parse without telling the
 * caller and then resolves that zone from the Internet. So this module reads the file first:
 * it reports the first problem as "FILE:LINE: message", finds the zone's origin (the SOA
 * owner), and writes a canonical text form that is what libunbound gets to see:
 *
 *     owner<TAB>ttl<TAB>IN<TAB>TYPE<TAB>rdata<LF>     one RR per line, the SOA first
 *
 * Every owner and every domain name inside rdata is absolute, lower case, with a trailing dot
 * and canonical escapes (RFC 4034 section 6.2 lower-cases the same names); the TTL and the
 * class are explicit; there are no directives, parentheses or comments; character-strings are
 * always quoted; numbers are decimal; hex and base64 fields are joined into one token; generic
 * rdata stays in the RFC 3597 "\# len hex" form.
 *
 * Input accepted: comments, parentheses spanning lines, quoted strings with \" and \DDD, an
 * omitted owner (leading blank: the previous owner), "@", relative names, $ORIGIN (relative to
 * the previous origin allowed), $TTL (RFC 2308 section 4), TTL and class in either order and
 * both optional, BIND-style TTL units (1h30m), class IN only, and the types A AAAA NS CNAME PTR
 * DNAME MX SOA SRV TXT SPF CAA TLSA DS DNSKEY RRSIG NSEC SSHFP NAPTR HINFO RP AFSDB, plus any
 * type as TYPEnnn with "\# len hex" rdata (RFC 3597 section 5; the listed types may use it
 * too, except SOA). \# data of a type whose layout is known (those above, and the other types
 * whose rdata holds domain names, e.g. SVCB/HTTPS) must fit that layout, names in wire form:
 * libunbound would serve malformed ones as garbage. An omitted TTL is the $TTL in force, else
 * the SOA minimum (RFC 1035 section 3.3.13; the SOA itself then uses its own minimum), else an
 * error.
 *
 * Refused, with an error: $INCLUDE (a zone file must be self-contained: the whole zone is
 * validated and converted as one unit, and an include would make the gate open further files
 * named by the data), $GENERATE (a BIND extension), other classes, meta types, A6 and HIP,
 * other type mnemonics in records (write them as TYPEnnn \#), out-of-zone owners, no SOA or a
 * second SOA, a CNAME beside other data (RFC 1034 section 3.6.2; RRSIG and NSEC are allowed
 * beside it, RFC 4035 section 2.5), a NUL byte or control character anywhere, and anything
 * over the limits below. Not checked: data below a delegation or a DNAME (served as glue or
 * occluded, as unbound does), TTLs that differ within an RRset, duplicate RRs.
 *
 * Errors: only the first problem is reported. Line numbers count from 1; an error not tied to
 * a line (I/O, a bad `origin` argument) reads "FILE: message".
 */
#ifndef MB_DNS_ZONEFILE_H
#define MB_DNS_ZONEFILE_H

#include <stddef.h>
#include <stdint.h>

/* Limits, checked before anything is allocated for the data they bound. */
#define ZONEFILE_MAX_SIZE (64u * 1024 * 1024) /* bytes in one file */
#define ZONEFILE_MAX_RECORDS 1000000u         /* RRs in one zone */
#define ZONEFILE_MAX_LINE 65536u              /* bytes in one physical line, without the LF */
#define ZONEFILE_MAX_RR_TEXT                                                                       \
    65000u /* bytes in one canonical line (unbound reads                                           \
              one RR into a 64 KiB buffer) */
#define ZONEFILE_MAX_TOKEN                                                                         \
    ZONEFILE_MAX_RR_TEXT          /* bytes in one field, quotes excluded; as                       \
                                   large as a canonical line, so canonical text                    \
                                   (hex and base64 joined) always reads back */
#define ZONEFILE_MAX_FIELDS 8192u /* fields in one record */
#define ZONEFILE_MAX_PARENS 8u    /* nesting depth of parentheses */

typedef struct zonefile zonefile_t; /* opaque; owns all the text it hands out */

/* One RR as stored. The pointers borrow from the zonefile_t and are NOT NUL terminated. */
typedef struct zonefile_rr {
    const char *owner; /* absolute, lower case, trailing dot, canonical escapes */
    size_t owner_len;
    uint32_t ttl;
    uint16_t type;     /* RR type number */
    const char *rdata; /* canonical rdata text, as in zonefile_canonical() */
    size_t rdata_len;
    unsigned long line; /* where the RR starts in the source */
} zonefile_rr_t;

/*
 * Parses buf[0..len); no NUL terminator is needed and none is trusted (a NUL byte in the input
 * is an error). `name` is only used in error messages (usually the path; NULL reads "zone").
 * `origin`, when not NULL, is the zone's name (always taken as absolute, trailing dot optional):
 * it is the initial $ORIGIN and the SOA owner must equal it. When NULL, the first $ORIGIN or an
 * absolute SOA owner defines it, and relative names before any $ORIGIN are errors.
 * Returns a new zonefile_t (free with zonefile_free), or NULL with "name:line: message" in
 * err (at most errlen bytes, NUL terminated; err may be NULL when errlen is 0). Out of memory
 * is reported the same way.
 */
zonefile_t *zonefile_parse(const unsigned char *buf, size_t len, const char *name,
                           const char *origin, char *err, size_t errlen);

/*
 * Reads the file at path (at most ZONEFILE_MAX_SIZE bytes) and parses it as zonefile_parse()
 * with name = path and origin = NULL. I/O errors read "path: strerror".
 */
zonefile_t *zonefile_load(const char *path, char *err, size_t errlen);

/* The zone's origin: absolute, lower case, with a trailing dot, NUL terminated. */
const char *zonefile_origin(const zonefile_t *zf);

/* The number of RRs (at least 1: the SOA). */
size_t zonefile_count(const zonefile_t *zf);

/*
 * The canonical text (see the top of this file), NUL terminated; *len (if len is not NULL) gets
 * its length without the NUL. Valid until zonefile_free().
 */
const char *zonefile_canonical(const zonefile_t *zf, size_t *len);

/*
 * Fills *rr with RR number i (0 is the SOA, then the others in file order). Returns 0, or -1
 * when i >= zonefile_count(zf). The pointers are valid until zonefile_free().
 */
int zonefile_rr(const zonefile_t *zf, size_t i, zonefile_rr_t *rr);

/* Frees zf and everything it handed out. Accepts NULL. */
void zonefile_free(zonefile_t *zf);

#endif
