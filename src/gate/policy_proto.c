/*
 * policy_proto: the Postfix policy delegation protocol (Postfix SMTPD_POLICY_README,
 * "Protocol description"): a request is "name=value" lines ending with an empty line.
 *
 * One scanner serves both entry points: policy_parse (one pass, fills the attribute array)
 * and policy_scan (resumable, fills nothing). A partial line is checked as far as it goes
 * and the check resumes there, so bad bytes are refused as soon as they arrive and a
 * request that trickles in costs linear time. The reason given for a bad request is the
 * one a byte-at-a-time reader meets first, whatever the split of the bytes into reads.
 *
 * Limits (policy_proto.h) are checked before anything is kept; nothing is allocated.
 * Errors are static strings for the log.
 */
#include "gate/policy_proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Name bytes: printable ASCII other than space ('=' ends the name). Postfix sends lower-case
 * letters, digits and '_', but unknown attributes are passed through, so be permissive
 * about what is printable and strict about everything else. */
static bool name_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/*
 * Checks bytes [from, to) of the line at line[0..]: name bytes until '=' (*eq becomes 1 +
 * its offset), then value bytes (anything but NUL). Returns NULL, or the reason and in *at
 * the offending byte's offset.
 */
static const char *check_bytes(const char *line, size_t from, size_t to, size_t *eq, size_t *at)
{
    size_t i = from;
    if (*eq == 0) {
        for (; i < to; i++) {
            unsigned char c = (unsigned char)line[i];
            if (c == '=') {
                *at = i;
                if (i == 0) return "empty attribute name";
                *eq = i + 1;
                i++;
                break;
            }
            if (!name_byte(c)) {
                *at = i;
                return c == '\0' ? "NUL byte in attribute name" : "bad byte in attribute name";
            }
        }
    }
    const char *nul = i < to ? memchr(line + i, '\0', to - i) : NULL;
    if (nul != NULL) {
        *at = (size_t)(nul - line);
        return "NUL byte in attribute value";
    }
    return NULL;
}

/*
 * Checks line[0..avail), the part of the line at request offset off that precedes its
 * newline (or all there is of it so far), resuming at st->part. The reason returned is the
 * one a byte-at-a-time reader would see first, so that the verdict does not depend on how
 * the bytes were split: each problem is placed at the byte that reveals it, and at one byte
 * the request size goes before the line length before the byte's own value. A final '\r' is
 * left for later: it may start the line's "\r\n".
 */
static const char *check_line(const char *line, size_t avail, size_t off, policy_scan_t *st)
{
    size_t upto = avail;
    if (upto > 0 && line[upto - 1] == '\r') upto--;
    size_t first = SIZE_MAX;
    const char *why = NULL;
    /* a request needs one more byte than it has: at POLICY_REQUEST_MAX bytes it is over */
    if (off + avail >= POLICY_REQUEST_MAX) {
        first = POLICY_REQUEST_MAX - off - 1;
        why = "request too large";
    }
    if (upto > POLICY_LINE_MAX) {
        /* revealed by byte POLICY_LINE_MAX, or by the next if that one is a '\r' */
        size_t at = line[POLICY_LINE_MAX] == '\r' ? POLICY_LINE_MAX + 1 : POLICY_LINE_MAX;
        if (at < first) {
            first = at;
            why = "line too long";
        }
    }
    size_t stop = upto < POLICY_LINE_MAX + 1 ? upto : POLICY_LINE_MAX + 1;
    if (stop > st->part) {
        size_t at = 0;
        const char *bad = check_bytes(line, st->part, stop, &st->eq, &at);
        if (bad != NULL) {
            if (line[at] == '\r') /* revealed by the byte after it (not '\n') */
                at++;
            if (at < first) {
                first = at;
                why = bad;
            }
        }
        st->part = stop;
    }
    return why;
}

static policy_parse_status_t fail(const char **why, const char *reason)
{
    if (why != NULL) *why = reason;
    return POLICY_PARSE_ERROR;
}

/*
 * The scanner. st says where to resume; attrs (may be NULL) receives attributes from
 * st->nattrs on, up to max_attrs. On return st says where things stand (see policy_scan).
 */
static policy_parse_status_t scan(const char *buf, size_t len, policy_scan_t *st,
                                  policy_attr_t *attrs, size_t max_attrs, const char **why)
{
    if (max_attrs > POLICY_ATTR_MAX) max_attrs = POLICY_ATTR_MAX;
    for (;;) {
        const char *line = buf + st->off;
        size_t left = len - st->off;
        const char *nl = memchr(line + st->part, '\n', left - st->part);
        size_t avail = nl != NULL ? (size_t)(nl - line) : left;
        const char *bad = check_line(line, avail, st->off, st);
        if (bad != NULL) return fail(why, bad);
        if (nl == NULL) return POLICY_PARSE_MORE;
        /* A whole line: avail bytes, then '\n' (SMTPD_POLICY_README: "name=value" lines,
         * the request ends with an empty line). */
        size_t ll = avail > 0 && line[avail - 1] == '\r' ? avail - 1 : avail;
        size_t end = st->off + avail + 1;
        if (end > POLICY_REQUEST_MAX) /* check_line saw it already */
            return fail(why, "request too large");
        if (ll == 0) {
            if (st->nattrs == 0) return fail(why, "empty request");
            st->off = end;
            st->part = st->eq = 0;
            return POLICY_PARSE_DONE;
        }
        if (st->eq == 0) return fail(why, "line without '='");
        if (st->nattrs >= max_attrs) return fail(why, "too many attributes");
        if (attrs != NULL) {
            policy_attr_t *a = &attrs[st->nattrs];
            a->name = line;
            a->name_len = st->eq - 1;
            a->value = line + st->eq;
            a->value_len = ll - st->eq;
        }
        st->nattrs++;
        st->off = end;
        st->part = st->eq = 0;
    }
}

/* Name bytes as a table for the fast path, '=' excluded so that one lookup per byte finds
 * the end of the name (and a newline, also excluded, bounds the loop). */
static const unsigned char *name_table(void)
{
    static unsigned char t[256];
    static bool ready;
    if (!ready) {
        for (int c = 0; c < 256; c++)
            t[c] = name_byte((unsigned char)c) && c != '=';
        ready = true;
    }
    return t;
}

/*
 * The fast path for the usual case: a whole, well-formed request within every limit, in one
 * buffer. Returns false as soon as anything is unusual (incomplete, over a limit, a bad
 * byte), and scan() then decides with its precise reasons; on true the result is exactly
 * the one scan() gives.
 */
static bool parse_fast(const char *buf, size_t len, policy_attr_t *attrs, size_t max_attrs,
                       size_t *n, size_t *consumed)
{
    const unsigned char *nt = name_table();
    size_t off = 0, count = 0;
    if (len >= POLICY_REQUEST_MAX)
        len = POLICY_REQUEST_MAX - 1; /* a request needs fewer bytes than that */
    while (off < len) {
        const char *line = buf + off;
        const char *nl = memchr(line, '\n', len - off);
        if (nl == NULL)
            return false;
        size_t ll = (size_t)(nl - line);
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (ll == 0) {
            size_t end = off + (size_t)(nl - line) + 1;
            /* one look for a NUL anywhere in the request, instead of one per line */
            if (count == 0 || memchr(buf, '\0', end) != NULL)
                return false;
            *n = count;
            *consumed = end;
            return true;
        }
        if (ll > POLICY_LINE_MAX || count >= max_attrs)
            return false;
        size_t i = 0;
        while (nt[(unsigned char)line[i]]) /* stops at '=', a newline at the latest */
            i++;
        if (i == 0 || i >= ll || line[i] != '=')
            return false;
        if (attrs != NULL) {
            attrs[count].name = line;
            attrs[count].name_len = i;
            attrs[count].value = line + i + 1;
            attrs[count].value_len = ll - i - 1;
        }
        count++;
        off += (size_t)(nl - line) + 1;
    }
    return false;
}

policy_parse_status_t policy_parse(const char *buf, size_t len, policy_attr_t *attrs,
                                   size_t max_attrs, size_t *n, size_t *consumed, const char **why)
{
    if (max_attrs > POLICY_ATTR_MAX)
        max_attrs = POLICY_ATTR_MAX;
    if (parse_fast(buf, len, attrs, max_attrs, n, consumed))
        return POLICY_PARSE_DONE;
    policy_scan_t st = {0, 0, 0, 0};
    policy_parse_status_t r = scan(buf, len, &st, attrs, max_attrs, why);
    *n = r == POLICY_PARSE_DONE ? st.nattrs : 0;
    *consumed = r == POLICY_PARSE_DONE ? st.off : 0;
    return r;
}

policy_parse_status_t policy_scan(const char *buf, size_t len, policy_scan_t *st, const char **why)
{
    return scan(buf, len, st, NULL, POLICY_ATTR_MAX, why);
}

const policy_attr_t *policy_find(const policy_attr_t *attrs, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (attrs[i].name_len == len && memcmp(attrs[i].name, name, len) == 0) return &attrs[i];
    return NULL;
}
