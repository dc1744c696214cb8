/*
 * explain: see explain.h.
 */
#include "explain/explain.h"

#include <string.h>

#include "core/catalog.h"
#include "explain/mailbox.h"
#include "explain/reply.h"

/* Header fields looked at before deciding that the input is a message. */
#define EX_HEADER_PROBE 8

/* Is line[0..n) "field-name:" followed by anything (RFC 5322 2.2: printable ASCII except the
 * colon and space, then a colon)? */
static bool header_line(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] > 0x20 && p[i] < 0x7f && p[i] != ':')
        i++;
    return i > 0 && i < n && p[i] == ':';
}

/* The line at buf[*pos..len) ends at LF, CRLF or a lone CR (old Mac mail stores): its length,
 * with *pos moved past its end. */
static size_t next_line(const unsigned char *buf, size_t len, size_t *pos)
{
    size_t i = *pos;
    while (i < len && buf[i] != '\n' && buf[i] != '\r')
        i++;
    size_t n = i - *pos;
    if (i < len && buf[i] == '\r')
        i++;
    if (i < len && buf[i] == '\n' && (i == *pos + n || buf[i - 1] == '\r'))
        i++;
    *pos = i;
    return n;
}

bool explain_is_message(const unsigned char *buf, size_t len)
{
    size_t pos = 0;
    /* leading blank lines, and an mbox "From " separator line */
    while (pos < len && (buf[pos] == '\n' || buf[pos] == '\r'))
        pos++;
    if (len - pos >= 5 && memcmp(buf + pos, "From ", 5) == 0) {
        next_line(buf, len, &pos);
        if (pos == len)
            return false; /* nothing after the separator */
    }
    int fields = 0;
    for (int k = 0; k < EX_HEADER_PROBE && pos < len; k++) {
        const unsigned char *line = buf + pos;
        size_t n = next_line(buf, len, &pos);
        if (n == 0)
            break; /* the end of the header block */
        if (line[0] == ' ' || line[0] == '\t') {
            if (fields == 0)
                return false; /* a continuation line before any field */
        } else if (header_line(line, n)) {
            fields++;
        } else {
            return fields >= 2;
        }
    }
    return fields >= 2;
}

/* The diagnostic of a bounce record for people: the reply's own code prefixes of its
 * joined lines dropped (reply_strip_codes); the code and status are shown apart. */
static const char *diag_text(arena_t *a, const char *d, int code, const char *status)
{
    if (d == NULL)
        return "";
    if (code == 0)
        return d;
    size_t n = strlen(d);
    char *s = arena_strndup(a, d, n);
    s[reply_strip_codes(s, n, code, status)] = '\0';
    return s;
}

static ex_action_t map_action(bounce_action_t a)
{
    switch (a) {
    case BOUNCE_ACTION_FAILED: return EX_ACTION_FAILED;
    case BOUNCE_ACTION_DELAYED: return EX_ACTION_DELAYED;
    case BOUNCE_ACTION_DELIVERED:
    case BOUNCE_ACTION_RELAYED:
    case BOUNCE_ACTION_EXPANDED: return EX_ACTION_DELIVERED;
    case BOUNCE_ACTION_NONE: break;
    }
    return EX_ACTION_UNKNOWN;
}

static const char *nz(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

static void classify_into(ex_result_t *r, int code, const char *status, const char *text,
                          const char *remote, const char *command, ex_action_t action,
                          bool in_bounce)
{
    classify_in_t in = {
        .code = code,
        .enhanced = status,
        .text = text,
        .text_len = text != NULL ? strlen(text) : 0,
        .remote_mta = remote,
        .command = command,
        .action = action,
        .in_bounce = in_bounce,
    };
    classify_t c;
    classify_reply(&in, &c);
    r->reason = c.reason;
    r->finding = c.finding;
    r->provider = c.provider;
    r->blocklist = c.blocklist;
    r->hard = c.hard;
    r->layer = c.layer;
}

/* One result per recipient record of a bounce, with what only the whole bounce tells. */
static void from_bounce(const bounce_t *b, arena_t *a, ex_report_t *out)
{
    out->input = EX_INPUT_MESSAGE;
    out->form = b->format;
    out->kind = b->kind;
    out->feedback_type = nz(b->feedback_type);
    out->sending_ip = nz(b->orig.sending_ip) != NULL ? b->orig.sending_ip : nz(b->source_ip);
    out->helo = nz(b->orig.helo);
    out->sender = nz(b->orig.sender);
    out->sender_domain = nz(b->orig.sender_domain);
    out->dkim_domain = nz(b->orig.dkim_domain);
    out->dkim_selector = nz(b->orig.dkim_selector);
    out->reporting_mta = nz(b->reporting_mta);
    out->subject = nz(b->subject);
    if (b->kind == BOUNCE_KIND_NONE)
        return;
    size_t n = b->nrcpts;
    bool synthetic = n == 0; /* a report or an auto-reply naming no recipient record */
    out->results = arena_calloc(a, synthetic ? 1 : n, sizeof *out->results);
    out->nresults = synthetic ? 1 : n;
    for (size_t i = 0; i < out->nresults; i++) {
        ex_result_t *r = &out->results[i];
        const bounce_rcpt_t *br = synthetic ? NULL : &b->rcpts[i];
        r->recipient = br != NULL ? nz(br->recipient) : nz(b->orig.recipient);
        r->reply_code = br != NULL ? br->reply_code : 0;
        r->status = br != NULL && br->status != NULL ? br->status : "";
        r->text = br != NULL ? diag_text(a, br->diagnostic, r->reply_code, r->status) : "";
        r->remote_mta = br != NULL ? nz(br->remote_mta) : NULL;
        r->command = br != NULL ? nz(br->command) : NULL;
        ex_action_t act = br != NULL ? map_action(br->action) : EX_ACTION_UNKNOWN;
        r->action = br != NULL && br->action != BOUNCE_ACTION_NONE ? bounce_action_name(br->action)
                                                                   : NULL;
        if (b->kind == BOUNCE_KIND_ARF) {
            r->reason = EX_FEEDBACK;
            r->layer = CLASSIFY_LAYER_REGISTRY;
            continue;
        }
        if (b->kind == BOUNCE_KIND_AUTOREPLY) {
            r->reason = EX_VACATION;
            r->layer = CLASSIFY_LAYER_REGISTRY;
            continue;
        }
        classify_into(r, r->reply_code, r->status, r->text, r->remote_mta, r->command, act, true);
        if (act == EX_ACTION_DELIVERED) {
            r->reason = EX_DELIVERED;
            r->hard = false;
        }
    }
}

/* Parses a reply or a log line from *buf, made LF-only first (CRLF as sent, CR-only from
 * old Mac mail stores) in a copy that *buf then points to. */
static bool parse_reply(const unsigned char **buf, size_t *len, arena_t *a, reply_t *rp)
{
    if (memchr(*buf, '\r', *len) != NULL) {
        unsigned char *c = arena_alloc(a, *len + 1);
        size_t o = mailbox_copy_lf(c, *buf, *len);
        c[o] = '\0';
        *buf = c;
        *len = o;
    }
    return *len <= REPLY_INPUT_MAX && reply_parse((const char *)*buf, *len, a, rp) == 0;
}

/* The one result of a reply or a log line. */
static void from_reply(const reply_t *rp, arena_t *a, ex_report_t *out)
{
    out->input = rp->form == REPLY_FORM_SMTP ? EX_INPUT_REPLY : EX_INPUT_LOG;
    out->form = reply_form_name(rp->form);
    out->sending_ip = nz(rp->client_ip);
    out->helo = nz(rp->helo);
    out->sender = nz(rp->sender);
    if (out->sender != NULL) {
        const char *at = strrchr(out->sender, '@');
        out->sender_domain = at != NULL && at[1] != '\0' ? at + 1 : NULL;
    }
    out->results = arena_calloc(a, 1, sizeof *out->results);
    out->nresults = 1;
    ex_result_t *r = &out->results[0];
    r->recipient = nz(rp->recipient);
    r->reply_code = rp->code;
    r->status = arena_strdup(a, rp->enhanced); /* the reply_t is the caller's */
    r->text = rp->text != NULL ? rp->text : "";
    r->remote_mta = nz(rp->remote_name);
    r->command = nz(rp->command);
    r->action = rp->action != EX_ACTION_UNKNOWN ? ex_action_name(rp->action) : NULL;
    classify_into(r, rp->code, rp->enhanced, r->text, r->remote_mta, r->command, rp->action,
                  false);
    if (rp->action == EX_ACTION_DELIVERED) {
        r->reason = EX_DELIVERED;
        r->hard = false;
    }
}

int explain_input(const unsigned char *buf, size_t len, arena_t *a, ex_report_t *out,
                  const char **why)
{
    memset(out, 0, sizeof *out);
    if (len > BOUNCE_INPUT_MAX) {
        *why = "the input is too large";
        return -1;
    }
    if (explain_is_message(buf, len)) {
        /* the bounce reader makes its own LF-only copy of the message */
        bounce_t b;
        if (bounce_parse(buf, len, a, &b) == 0) {
            from_bounce(&b, a, out);
            return 0;
        }
    }
    reply_t rp;
    if (!parse_reply(&buf, &len, a, &rp)) {
        *why = "no SMTP reply, log line or mail message found in the input";
        return -1;
    }
    from_reply(&rp, a, out);
    return 0;
}

int explain_log_failure(const unsigned char *buf, size_t len, arena_t *a, ex_report_t *out)
{
    memset(out, 0, sizeof *out);
    if (len > REPLY_INPUT_MAX)
        return -1;
    reply_t rp;
    if (!parse_reply(&buf, &len, a, &rp) || rp.form == REPLY_FORM_SMTP ||
        (rp.code < 400 && rp.action != EX_ACTION_FAILED))
        return 1;
    from_reply(&rp, a, out);
    return 0;
}

static const catalog_entry_t *catalog_of(const ex_result_t *r)
{
    return r->finding != NULL ? catalog_find(r->finding, strlen(r->finding)) : NULL;
}

const char *explain_explanation(const ex_result_t *r)
{
    const catalog_entry_t *e = catalog_of(r);
    return e != NULL ? e->explanation : ex_reason_explanation(r->reason);
}

const char *explain_fix(const ex_result_t *r)
{
    const catalog_entry_t *e = catalog_of(r);
    return e != NULL ? e->fix : ex_reason_fix(r->reason);
}
