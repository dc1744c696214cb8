/*
 * ptr_generic: does a PTR name look like an access-network name (dynamic, residential,
 * "generic" rDNS) rather than the deliberate name of a mail server? Feeds the finding
 * client.ptr_generic.
 *
 * The decision uses only the name and the client's address; no DNS, no allocation, no
 * global state. Evidence is the rule that matched and the byte span of the name it matched.
 * A false positive blocks a legitimate mail server, so every rule demands specific evidence
 * (the client's own address, or whole tokens in the host part); see ptr_generic.c for the
 * rule list and the deliberate limits.
 *
 * Input that is not a hostname (empty, longer than 253 bytes, empty or over-long labels,
 * bytes other than letters, digits, '-', '_' and '.') is never generic: other checks report
 * malformed names.
 */
#ifndef MB_CHECK_PTR_GENERIC_H
#define MB_CHECK_PTR_GENERIC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/ipaddr.h"

#define PTR_GENERIC_NAME_MAX 253  /* RFC 1035 2.3.4 (255 octets on the wire) */
#define PTR_GENERIC_LABEL_MAX 63

typedef struct ptr_generic_match {
    const char *rule; /* static id of the rule that matched, e.g. "ip-embedded-dashed",
                         "ip-embedded-hex", "token:dyn"; NULL when not generic */
    size_t off, len;  /* the part of the name that matched: name[off .. off+len) */
} ptr_generic_match_t;

/*
 * name: a PTR name, len bytes, with or without a trailing dot; no NUL is needed and no byte
 * past len is read. ip: the client address (may be NULL or family 0: then only the token
 * rules apply). m: filled with the evidence when the result is true and cleared otherwise;
 * may be NULL. Returns true when the name looks generic.
 */
bool ptr_generic_check(const char *name, size_t len, const ipaddr_t *ip, ptr_generic_match_t *m);

#endif
