/*
 * policy_proto: the Postfix policy delegation protocol (Postfix SMTPD_POLICY_README):
 * a request is "name=value" lines ending with an empty line; the reply is
 * "action=..." followed by an empty line. There is no library for it, so it is written
 * here. The parser is incremental and bounded: it never allocates, never relies on a
 * NUL, and refuses requests over the limits below.
 */
#ifndef MB_GATE_POLICY_PROTO_H
#define MB_GATE_POLICY_PROTO_H

#include <stddef.h>

#define POLICY_LINE_MAX 4096     /* one name=value line, without its newline */
#define POLICY_ATTR_MAX 128      /* attributes in one request */
#define POLICY_REQUEST_MAX 32768 /* a whole request, newlines included */

typedef struct policy_attr {
    const char *name; /* points into the request buffer; not NUL-terminated */
    size_t name_len;
    const char *value;
    size_t value_len;
} policy_attr_t;

typedef enum policy_parse_status {
    POLICY_PARSE_DONE = 1,  /* a whole request; *consumed bytes belong to it */
    POLICY_PARSE_MORE = 0,  /* no empty line yet: keep the bytes and read more */
    POLICY_PARSE_ERROR = -1 /* over a limit or malformed: *why says which; close */
} policy_parse_status_t;

/*
 * Looks for one complete request at the start of buf[0..len). On DONE, attrs[0..*n) point
 * into buf and *consumed is the request's length including the empty line. Lines may end
 * in "\n" or "\r\n". A line without '=' is malformed. Empty values are allowed.
 * A name is one or more printable ASCII bytes other than space (up to the first '='); a
 * value is opaque bytes, but a NUL is refused. A request without any attribute (an empty
 * line first) is malformed. Only min(max_attrs, POLICY_ATTR_MAX) attributes are accepted.
 */
policy_parse_status_t policy_parse(const char *buf, size_t len, policy_attr_t *attrs,
                                   size_t max_attrs, size_t *n, size_t *consumed,
                                   const char **why);

/*
 * The resumable form of policy_parse for a request that arrives in pieces (an addition for
 * servers): it applies every rule policy_parse applies, stores no attributes, and resumes
 * where the previous call stopped, so that a request trickling in byte by byte costs linear
 * time, and junk is refused as soon as it arrives rather than at the end of its line.
 * Start with a zeroed policy_scan_t, call again after appending bytes to buf (buf may move;
 * the bytes already seen must stay). On DONE, st->off is the request's length: policy_parse
 * over buf[0..st->off) then yields the attributes. On MORE, st->off is the start of the
 * incomplete line. On ERROR, st->off is the offset of the offending line (for a log excerpt).
 */
typedef struct policy_scan {
    size_t off;    /* start of the first incomplete line */
    size_t nattrs; /* attribute lines before off */
    size_t part;   /* bytes of the line at off already checked */
    size_t eq;     /* 1 + offset of '=' in that line; 0 while none was seen */
} policy_scan_t;

policy_parse_status_t policy_scan(const char *buf, size_t len, policy_scan_t *st, const char **why);

/* The value of attribute name (exact match), or NULL. */
const policy_attr_t *policy_find(const policy_attr_t *attrs, size_t n, const char *name);

#endif
