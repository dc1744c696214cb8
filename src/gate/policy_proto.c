/*
 * policy_proto: the Postfix policy delegation protocol (Postfix SMTPD_POLICY_README,
 * "Protocol description"): a request is "name=value" lines ending with an empty line.
 *
 * One scanner serves both entry points: policy_parse (one pass, fills the attribute array)
 * and policy_scan (resumable, fills nothing). Every byte is checked once: a partial line
 * is checked as far as it goes and the check resumes there, so bad bytes are refused as
 * soon as they arrive and a request that trickles in costs linear time.
 *
 * Limits (policy_proto.h) are checked before anything is kept; nothing is allocated.
 * Errors are static strings for the log.
 */
#include "gate/policy_proto.h"

#include <stdbool.h>
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
 * its offset), then value bytes (anything but NUL). Returns NULL or the reason.
 */
static const char *check_bytes(const char *line, size_t from, size_t to, size_t *eq)
{
    size_t i = from;
    if (*eq == 0) {
        for (; i < to; i++) {
            unsigned char c = (unsigned char)line[i];
            if (c == '=') {
                if (i == 0)
                    return "empty attribute name";
                *eq = i + 1;
                i++;
                break;
            }
            if (!name_byte(c))
                return c == '\0' ? "NUL byte in attribute name" : "bad byte in attribute name";
        }
    }
    if (i < to && memchr(line + i, '\0', to - i) != NULL)
        return "NUL byte in attribute value";
    return NULL;
}

static policy_parse_status_t fail(const char **why, const char *reason)
{
    if (why != NULL)
        *why = reason;
    return POLICY_PARSE_ERROR;
}

/*
 * The scanner. st says where to resume; attrs (may be NULL) receives attributes from
 * st->nattrs on, up to max_attrs. On return st says where things stand (see policy_scan).
 */
static policy_parse_status_t scan(const char *buf, size_t len, policy_scan_t *st,
                                  policy_attr_t *attrs, size_t max_attrs, const char **why)
{
    if (max_attrs > POLICY_ATTR_MAX)
        max_attrs = POLICY_ATTR_MAX;
    for (;;) {
        const char *line = buf + st->off;
        size_t left = len - st->off;
        const char *nl = memchr(line + st->part, '\n', left - st->part);
        if (nl == NULL) {
            /* An incomplete line: check what is there, leaving a final '\r' for later (it
             * may start the "\r\n" of an empty line). A request needs at least one more
             * byte, so len bytes already at the limit are too many. */
            size_t upto = left;
            if (upto > 0 && line[upto - 1] == '\r')
                upto--;
            if (upto > POLICY_LINE_MAX)
                return fail(why, "line too long");
            if (len >= POLICY_REQUEST_MAX)
                return fail(why, "request too large");
            if (upto > st->part) {
                const char *bad = check_bytes(line, st->part, upto, &st->eq);
                if (bad != NULL)
                    return fail(why, bad);
                st->part = upto;
            }
            return POLICY_PARSE_MORE;
        }
        size_t ll = (size_t)(nl - line);
        size_t end = st->off + ll + 1;
        if (end > POLICY_REQUEST_MAX)
            return fail(why, "request too large");
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (ll > POLICY_LINE_MAX)
            return fail(why, "line too long");
        if (ll == 0) {
            /* The empty line that ends the request. */
            if (st->nattrs == 0)
                return fail(why, "empty request");
            st->off = end;
            st->part = st->eq = 0;
            return POLICY_PARSE_DONE;
        }
        if (ll > st->part) {
            const char *bad = check_bytes(line, st->part, ll, &st->eq);
            if (bad != NULL)
                return fail(why, bad);
        }
        if (st->eq == 0)
            return fail(why, "line without '='");
        if (st->nattrs >= max_attrs)
            return fail(why, "too many attributes");
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

policy_parse_status_t policy_parse(const char *buf, size_t len, policy_attr_t *attrs,
                                   size_t max_attrs, size_t *n, size_t *consumed,
                                   const char **why)
{
    policy_scan_t st = {0, 0, 0, 0};
    policy_parse_status_t r = scan(buf, len, &st, attrs, max_attrs, why);
    *n = r == POLICY_PARSE_DONE ? st.nattrs : 0;
    *consumed = r == POLICY_PARSE_DONE ? st.off : 0;
    return r;
}

policy_parse_status_t policy_scan(const char *buf, size_t len, policy_scan_t *st,
                                  const char **why)
{
    return scan(buf, len, st, NULL, POLICY_ATTR_MAX, why);
}

const policy_attr_t *policy_find(const policy_attr_t *attrs, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (attrs[i].name_len == len && memcmp(attrs[i].name, name, len) == 0)
            return &attrs[i];
    return NULL;
}
