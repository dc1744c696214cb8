/*
 * rdata: bounded parsing of DNS names and reply messages, for dns.c (internal header).
 *
 * Everything here reads untrusted bytes: a reply comes off the network (through libunbound)
 * and a name to look up comes from a peer (HELO, MAIL FROM, a TXT record). Every read goes
 * through a cursor with a sticky error (OpenSMTPD's unpack_dns.c), the limits below are
 * checked before use, and nothing relies on a NUL.
 *
 * Names have two forms here. Wire: RFC 1035 3.1 labels, uncompressed, ASCII lower-cased,
 * at most 255 bytes with the root label. Text (canonical): lower case, no trailing dot,
 * labels joined by '.', every byte outside [a-z0-9-_*] written \DDD (RFC 1035 5.1); the
 * root name is "". Two names are equal exactly when their canonical texts are.
 *
 * Errors: -1 for malformed input; nothing is logged here.
 */
#ifndef MB_DNS_RDATA_H
#define MB_DNS_RDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/ipaddr.h"
#include "util/str.h"

#define RDATA_WIRE_MAX 255     /* a name in wire form, root label included (RFC 1035 2.3.4) */
#define RDATA_LABEL_MAX 63     /* RFC 1035 2.3.4 */
#define RDATA_TEXT_MAX 1024    /* canonical text of any wire name, NUL included (<= 1004) */
#define RDATA_SECTION_MAX 256  /* answer or authority records examined in one reply */
#define RDATA_CHAIN_MAX 16     /* CNAME hops followed from the question name */
#define RDATA_POINTER_MAX 128  /* compression pointers followed in one name (RFC 1035 4.1.4) */

/*
 * Parses a name in presentation form from text[0..len): labels separated by '.', an
 * optional trailing dot, \DDD and \X escapes. "." is the root; "" and empty labels are
 * errors. Writes the lower-cased wire form (RDATA_WIRE_MAX bytes) to wire. Returns 0 or -1.
 */
int rdata_name_parse(const char *text, size_t len, unsigned char *wire, size_t *wlen);

/* Writes the canonical text of a wire name produced by this module into out
 * (RDATA_TEXT_MAX bytes), NUL-terminated. Returns its length. */
size_t rdata_name_format(const unsigned char *wire, size_t wlen, char *out);

/*
 * Reads the possibly compressed name at *off in msg[0..len) (RFC 1035 4.1.4: pointers
 * must point strictly backwards, at most RDATA_POINTER_MAX of them) into wire
 * (RDATA_WIRE_MAX bytes, lower-cased). Advances *off past the name as stored at *off.
 * Returns 0 or -1.
 */
int rdata_name_unpack(const unsigned char *msg, size_t len, size_t *off, unsigned char *wire,
                      size_t *wlen);

/* One record, with its variable parts as offsets into rdata_set_t.text. */
typedef struct rdata_rr {
    uint16_t type;
    uint32_t ttl;
    ipaddr_t addr;     /* A, AAAA (an IPv4-mapped AAAA is stored as IPv4, see ipaddr.h) */
    uint16_t pref;     /* MX */
    bool has_name;     /* NS, CNAME, PTR, MX exchange, SOA MNAME */
    size_t name_off;   /* canonical text, NUL-terminated */
    bool has_txt;      /* TXT */
    size_t txt_off;    /* the character-strings joined, then a NUL (not counted) */
    size_t txt_len;
    unsigned txt_strings;
} rdata_rr_t;

typedef struct rdata_set {
    rdata_rr_t *rr;     /* owned */
    size_t count, cap;
    str_t text;         /* names and TXT data referenced by offset */
    bool has_ttl;       /* min_ttl is set: at least one record or CNAME was used */
    uint32_t min_ttl;   /* smallest TTL over the records and the CNAMEs followed */
    bool has_neg_ttl;   /* an SOA was found in the authority section */
    uint32_t neg_ttl;   /* min(SOA TTL, SOA MINIMUM), RFC 2308 5 */
    unsigned cnames;    /* CNAME hops followed */
} rdata_set_t;

void rdata_set_init(rdata_set_t *s);
/* Releases the storage; s is left empty and reusable. Accepts NULL. */
void rdata_set_free(rdata_set_t *s);

/*
 * Parses the reply msg[0..len) (RFC 1035 4.1) and appends to out the records of class IN
 * and type qtype owned by qwire, following CNAME records from qwire (RFC 1034 3.6.2, at
 * most RDATA_CHAIN_MAX hops, unless qtype is CNAME). Also records the negative TTL from an
 * SOA in the authority section. Records of other types are skipped; records of qtype that
 * do not parse make the whole reply malformed. Returns 0, or -1 when the message is
 * malformed or the chain too long (out then holds partial results; free it anyway).
 */
int rdata_parse_reply(const unsigned char *msg, size_t len, const unsigned char *qwire,
                      size_t qwlen, uint16_t qtype, rdata_set_t *out);

#endif
