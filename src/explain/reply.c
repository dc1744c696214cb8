/*
 * reply: see reply.h. Every function works on a (pointer, length) view of the input and
 * checks what is left before each read; nothing relies on a NUL. The log forms are told
 * apart by their fixed keywords on the first non-blank line; anything else is read as a
 * bare reply. The reply text itself (after any log framing) goes through one routine,
 * read_reply(), which finds the code, the enhanced code and the continuation lines.
 */
#include "explain/reply.h"

#include <stdbool.h>
#include <string.h>

#include "util/str.h"

typedef struct view {
    const char *p;
    size_t n;
} view_t;

static const view_t EMPTY = {"", 0};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
/* Is c one of the bytes of set? (Never true for a NUL byte of the input.) */
static bool in_set(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

static view_t sub(view_t v, size_t off, size_t len)
{
    if (off > v.n) return (view_t){v.p + v.n, 0};
    if (len > v.n - off) len = v.n - off;
    return (view_t){v.p + off, len};
}

static view_t after(view_t v, size_t off)
{
    return sub(v, off, v.n);
}

static view_t trim(view_t v)
{
    while (v.n > 0 && is_space(v.p[0]))
        v.p++, v.n--;
    while (v.n > 0 && is_space(v.p[v.n - 1]))
        v.n--;
    return v;
}

/* Offset of the first case-insensitive occurrence of z in v at or after from, or -1. */
static long find_from(view_t v, size_t from, const char *z)
{
    size_t zn = strlen(z);
    if (zn == 0 || from > v.n || zn > v.n - from) return -1;
    const char *p = mem_ifind(v.p + from, v.n - from, z, zn);
    return p != NULL ? (long)(p - v.p) : -1;
}

static long find(view_t v, const char *z)
{
    return find_from(v, 0, z);
}

/* Offset of the last occurrence of z in v, or -1. */
static long rfind(view_t v, const char *z)
{
    long last = -1, at = 0;
    while ((at = find_from(v, (size_t)at, z)) >= 0)
        last = at++;
    return last;
}

static bool eq_ci(view_t v, const char *z)
{
    return mem_ieq(v.p, v.n, z, strlen(z));
}

static bool starts_with(view_t v, const char *z)
{
    return mem_iprefix(v.p, v.n, z, strlen(z));
}

static const char *dup_field(arena_t *a, view_t v)
{
    v = trim(v);
    if (v.n == 0 || v.n > REPLY_FIELD_MAX) return "";
    char *s = arena_strndup(a, v.p, v.n);
    for (size_t i = 0; i < v.n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) s[i] = ' ';
    return s;
}

/* The value after key up to the first byte in stop (or the end). */
static view_t field(view_t line, const char *key, const char *stop)
{
    long at = find(line, key);
    if (at < 0) return EMPTY;
    view_t v = after(line, (size_t)at + strlen(key));
    size_t i = 0;
    while (i < v.n && !in_set(v.p[i], stop))
        i++;
    return sub(v, 0, i);
}

/* An address value "<a@b>" or "a@b": the part inside the brackets. */
static view_t unbracket(view_t v)
{
    v = trim(v);
    if (v.n >= 2 && v.p[0] == '<' && v.p[v.n - 1] == '>') return sub(v, 1, v.n - 2);
    if (v.n >= 1 && v.p[0] == '<') {
        size_t i = 1;
        while (i < v.n && v.p[i] != '>')
            i++;
        return sub(v, 1, i - 1);
    }
    return v;
}

/* "name[ip]:port", "name [ip]", "[ip]:port", "name" -> name and ip. A name of "unknown"
 * (Postfix's word for no PTR) is dropped; a trailing dot of the name is dropped. */
static void host_ip(view_t v, arena_t *a, const char **name, const char **ip)
{
    v = trim(v);
    long lb = find(v, "[");
    view_t nm = lb >= 0 ? sub(v, 0, (size_t)lb) : v;
    nm = trim(nm);
    if (nm.n > 0 && nm.p[nm.n - 1] == '.') nm.n--;
    if (nm.n > 0 && !eq_ci(nm, "unknown")) *name = dup_field(a, nm);
    if (lb >= 0) {
        view_t rest = after(v, (size_t)lb + 1);
        long rb = find(rest, "]");
        if (rb > 0) *ip = dup_field(a, sub(rest, 0, (size_t)rb));
    }
}

/* ---- the reply itself ---- */

/* Is there a reply code at v.p[i]: [2-5][0-9][0-9] followed by a space, '-' or the end? */
static bool code_at(view_t v, size_t i)
{
    if (i + 3 > v.n || v.p[i] < '2' || v.p[i] > '5' || !is_digit(v.p[i + 1]) ||
        !is_digit(v.p[i + 2]))
        return false;
    return i + 3 == v.n || v.p[i + 3] == '-' || is_space(v.p[i + 3]);
}

/* Length of an RFC 3463 enhanced status code (ex_status_at) at v.p[i] followed by a space,
 * punctuation or the end; 0 when there is none. */
static size_t enhanced_at(view_t v, size_t i)
{
    size_t l = ex_status_at(v.p, v.n, i, NULL);
    if (l == 0) return 0;
    size_t j = i + l;
    if (j < v.n && !is_space(v.p[j]) && !in_set(v.p[j], ",;:)]")) return 0;
    return l;
}

/*
 * Where the reply starts in line: at the line's start (after blanks), after "said:", or at
 * a code behind a separator that is followed by an enhanced code or that follows ": ".
 * -1 when there is none.
 */
static long reply_start(view_t line, bool anywhere)
{
    size_t i = 0;
    while (i < line.n && is_space(line.p[i]))
        i++;
    if (code_at(line, i) || enhanced_at(line, i) > 0) return (long)i;
    if (!anywhere) return -1;
    long s = find(line, "said:");
    if (s >= 0) {
        size_t j = (size_t)s + 5;
        while (j < line.n && is_space(line.p[j]))
            j++;
        if (code_at(line, j) || enhanced_at(line, j) > 0) return (long)j;
    }
    for (i = 1; i + 3 <= line.n; i++) {
        char b = line.p[i - 1];
        if (!in_set(b, " \t:(\"=") || !code_at(line, i)) continue;
        if (i + 4 < line.n && enhanced_at(line, i + 4) > 0) return (long)i;
        if (b == ':' || (i >= 2 && line.p[i - 2] == ':')) return (long)i;
    }
    return -1;
}

/* The joined text, control bytes as spaces, runs of blanks as one space. */
typedef struct tbuf {
    char b[REPLY_TEXT_MAX];
    size_t n;
} tbuf_t;

static void tb_add(tbuf_t *t, view_t v)
{
    for (size_t i = 0; i < v.n && t->n < sizeof t->b; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c < 0x20 || c == 0x7f) c = ' ';
        if (c == ' ' && (t->n == 0 || t->b[t->n - 1] == ' ')) continue;
        t->b[t->n++] = (char)c;
    }
    if (t->n > 0 && t->n < sizeof t->b && t->b[t->n - 1] != ' ') t->b[t->n++] = ' ';
}

/* Reads the code and enhanced code at the start of v into out (when out has none yet) and
 * returns the rest. */
static view_t strip_codes(view_t v, reply_t *out, bool first)
{
    size_t i = 0;
    while (i < v.n && is_space(v.p[i]))
        i++;
    if (code_at(v, i)) {
        int code = (v.p[i] - '0') * 100 + (v.p[i + 1] - '0') * 10 + (v.p[i + 2] - '0');
        if (first) out->code = code;
        i += 3;
        if (i < v.n) i++;
        while (i < v.n && is_space(v.p[i]))
            i++;
    }
    size_t e = enhanced_at(v, i);
    if (e > 0) {
        if (out->enhanced[0] == '\0' && e <= REPLY_ENHANCED_MAX) {
            memcpy(out->enhanced, v.p + i, e);
            out->enhanced[e] = '\0';
        }
        i += e;
    }
    return after(v, i);
}

/*
 * RFC 5321 4.2.1: every line of a multi-line reply starts with the reply's code, "CODE-"
 * before the last and "CODE " on it; RFC 2034 repeats the enhanced code on each line. A log
 * or a bounce that joins the lines into one (or quotes the reply inside its own words) keeps
 * those prefixes; this removes them from s[0..n) in place, at the start and after a blank:
 *   - "CODE-" with any enhanced code or none (a continuation line);
 *   - "CODE " with no enhanced code, or with the reply's own (the first or the last line).
 * A "CODE X.Y.Z" whose status is not the reply's own is left: it is not a line of this reply
 * but text (a quoted earlier answer, say). Only the reply's own CODE is looked at, and only
 * as a word, so other numbers stay. Returns the new length, trailing blanks dropped.
 */
size_t reply_strip_codes(char *s, size_t n, int code, const char *enhanced)
{
    if (code < 200 || code > 599) return n;
    char c3[3] = {(char)('0' + code / 100), (char)('0' + code / 10 % 10),
                  (char)('0' + code % 10)};
    size_t en = enhanced != NULL ? strlen(enhanced) : 0, w = 0;
    view_t v = {s, n};
    for (size_t r = 0; r < n;) {
        if ((r == 0 || s[r - 1] == ' ') && r + 4 <= n && memcmp(s + r, c3, 3) == 0) {
            size_t skip = 0, e = enhanced_at(v, r + 4);
            if (s[r + 3] == '-' || (s[r + 3] == ' ' && e == 0))
                skip = 4 + e;
            else if (s[r + 3] == ' ' && e == en && memcmp(s + r + 4, enhanced, en) == 0)
                skip = 4 + en;
            if (skip > 0) {
                r += skip;
                while (r < n && s[r] == ' ')
                    r++;
                continue;
            }
        }
        s[w++] = s[r++];
    }
    while (w > 0 && s[w - 1] == ' ')
        w--;
    return w;
}

/* The next line of v from *pos (without its line end); false at the end. */
static bool next_line(view_t v, size_t *pos, view_t *line)
{
    if (*pos >= v.n) return false;
    size_t s = *pos, e = s;
    while (e < v.n && v.p[e] != '\n')
        e++;
    *line = sub(v, s, e - s);
    *pos = e < v.n ? e + 1 : e;
    return true;
}

/* The command named at the start of w (an EX_CMD_ name, reason.h), or "". */
static const char *cmd_name(view_t w)
{
    w = trim(w);
    if (starts_with(w, "RCPT")) return EX_CMD_RCPT;
    if (starts_with(w, "MAIL")) return EX_CMD_MAIL;
    if (starts_with(w, "BDAT")) return EX_CMD_BDAT;
    if (starts_with(w, "end of data") || starts_with(w, "DATA") ||
        starts_with(w, "END-OF-MESSAGE") || starts_with(w, "end of message"))
        return EX_CMD_DATA;
    if (starts_with(w, "HELO")) return EX_CMD_HELO;
    if (starts_with(w, "EHLO") || starts_with(w, "LHLO")) return EX_CMD_EHLO;
    if (starts_with(w, "CONNECT") || starts_with(w, "initial") || starts_with(w, "greeting"))
        return EX_CMD_CONN;
    return "";
}

/*
 * Reads the reply in region into out: the code, the enhanced code, and the text of the
 * first line holding a reply and of the lines that continue it (same code, or no code),
 * up to a blank line or REPLY_LINES_MAX lines. With anywhere, the reply may start after a
 * prefix ("host x said:"); lines before the one holding it are skipped. Returns 0, or -1
 * when no line holds a code or enhanced code (then nothing is set).
 */
static int read_reply_at(view_t region, bool anywhere, arena_t *a, reply_t *out, view_t *found)
{
    size_t pos = 0, nlines = 0;
    view_t line;
    long at = -1;
    while (nlines < REPLY_LINES_MAX && next_line(region, &pos, &line)) {
        nlines++;
        if ((at = reply_start(line, anywhere)) >= 0) break;
    }
    if (at < 0) return -1;
    if (found != NULL) *found = line;
    tbuf_t *t = arena_alloc(a, sizeof *t);
    t->n = 0;
    tb_add(t, strip_codes(after(line, (size_t)at), out, true));
    while (nlines < REPLY_LINES_MAX && next_line(region, &pos, &line)) {
        nlines++;
        view_t l = trim(line);
        if (l.n == 0) break;
        if (code_at(l, 0)) {
            int code = (l.p[0] - '0') * 100 + (l.p[1] - '0') * 10 + (l.p[2] - '0');
            if (code != out->code) break;
            l = strip_codes(l, out, false);
        }
        tb_add(t, l);
    }
    t->n = reply_strip_codes(t->b, t->n, out->code, out->enhanced);
    view_t txt = trim((view_t){t->b, t->n});
    /* Postfix's "(in reply to RCPT TO command)" says what the reply answered. */
    long ir = find(txt, "(in reply to ");
    if (ir >= 0) {
        const char *c = cmd_name(after(txt, (size_t)ir + 13));
        if (c[0] != '\0' && out->command[0] == '\0') out->command = c;
        txt = trim(sub(txt, 0, (size_t)ir));
    }
    out->text = arena_strndup(a, txt.p, txt.n);
    out->text_len = txt.n;
    return 0;
}

static int read_reply(view_t region, bool anywhere, arena_t *a, reply_t *out)
{
    return read_reply_at(region, anywhere, a, out, NULL);
}

/* The whole region as text, without a code (log lines whose reason is not a reply). */
static void text_only(view_t region, arena_t *a, reply_t *out)
{
    tbuf_t *t = arena_alloc(a, sizeof *t);
    t->n = 0;
    size_t pos = 0, nlines = 0;
    view_t line;
    while (nlines++ < REPLY_LINES_MAX && next_line(region, &pos, &line))
        tb_add(t, line);
    view_t txt = trim((view_t){t->b, t->n});
    out->text = arena_strndup(a, txt.p, txt.n);
    out->text_len = txt.n;
}

/* A reply if there is one, else the region as text. */
static void reply_or_text(view_t region, bool anywhere, arena_t *a, reply_t *out)
{
    if (read_reply(region, anywhere, a, out) < 0) text_only(region, a, out);
}

static void set_enhanced(reply_t *out, view_t v)
{
    v = trim(v);
    if (out->enhanced[0] == '\0' && v.n > 0 && enhanced_at(v, 0) == v.n &&
        v.n <= REPLY_ENHANCED_MAX) {
        memcpy(out->enhanced, v.p, v.n);
        out->enhanced[v.n] = '\0';
    }
}

static ex_action_t action_of_code(const reply_t *out)
{
    char c = out->code != 0 ? (char)('0' + out->code / 100) : out->enhanced[0];
    return c == '4'   ? EX_ACTION_DELAYED
           : c == '5' ? EX_ACTION_FAILED
           : c == '2' ? EX_ACTION_DELIVERED
                      : EX_ACTION_UNKNOWN;
}

/* ---- Postfix ---- */

/*
 * postfix/smtp[123]: QID: to=<a@b>, relay=mx.b[192.0.2.1]:25, delay=1, delays=..,
 *   dsn=5.7.1, status=bounced (host mx.b[192.0.2.1] said: 550 5.7.1 ... (in reply to
 *   RCPT TO command))
 */
static int parse_postfix_smtp(view_t line, arena_t *a, reply_t *out)
{
    out->form = REPLY_FORM_POSTFIX_SMTP;
    out->recipient = dup_field(a, field(line, " to=<", ">"));
    host_ip(field(line, "relay=", ", "), a, &out->remote_name, &out->remote_ip);
    if (eq_ci(trim(field(line, "relay=", ", ")), "none")) out->remote_name = "";
    view_t st = field(line, "status=", " (,");
    if (eq_ci(st, "bounced") || eq_ci(st, "expired") || eq_ci(st, "undeliverable"))
        out->action = EX_ACTION_FAILED;
    else if (eq_ci(st, "deferred"))
        out->action = EX_ACTION_DELAYED;
    else if (eq_ci(st, "sent") || eq_ci(st, "deliverable"))
        out->action = EX_ACTION_DELIVERED;
    long s = find(line, "status=");
    view_t why = EMPTY;
    if (s >= 0) {
        view_t rest = after(line, (size_t)s);
        long lp = find(rest, " (");
        if (lp >= 0) {
            why = after(rest, (size_t)lp + 2);
            if (why.n > 0 && why.p[why.n - 1] == ')') why.n--;
        }
    }
    long said = find(why, " said:");
    if (said >= 0 && starts_with(why, "host ")) {
        const char *n = "", *ip = "";
        host_ip(sub(why, 5, (size_t)said - 5), a, &n, &ip);
        if (n[0] != '\0') out->remote_name = n;
        if (ip[0] != '\0') out->remote_ip = ip;
    }
    if (find(why, "initial server greeting") >= 0 || find(why, "initial greeting") >= 0)
        out->command = EX_CMD_CONN;
    else if (find(why, "while sending RCPT") >= 0)
        out->command = EX_CMD_RCPT;
    else if (find(why, "while sending MAIL") >= 0)
        out->command = EX_CMD_MAIL;
    else if (find(why, "while sending end of data") >= 0 ||
             find(why, "while sending message body") >= 0)
        out->command = EX_CMD_DATA;
    reply_or_text(why, true, a, out);
    set_enhanced(out, field(line, "dsn=", ", "));
    if (out->action == EX_ACTION_UNKNOWN) out->action = action_of_code(out);
    return out->text_len > 0 || out->code != 0 || out->enhanced[0] != '\0' ? 0 : -1;
}

/*
 * postfix/smtpd[123]: NOQUEUE: reject: RCPT from name[192.0.2.1]: 554 5.7.1 <a@b>: Relay
 *   access denied; from=<s> to=<a@b> proto=ESMTP helo=<h>
 * postfix/cleanup[123]: QID: reject: header Subject: x from name[192.0.2.1]; from=<s>
 *   to=<a@b> proto=ESMTP helo=<h>: 5.7.1 message content rejected
 */
static int parse_postfix_smtpd(view_t line, long rj, arena_t *a, reply_t *out)
{
    out->form = REPLY_FORM_POSTFIX_SMTPD;
    view_t rest = after(line, (size_t)rj);
    long colon = find(rest, ": ");
    if (colon < 0) return -1;
    rest = after(rest, (size_t)colon + 2); /* "RCPT from name[ip]: reply; from=<..." */
    out->sender = dup_field(a, field(line, " from=<", ">"));
    out->recipient = dup_field(a, field(line, " to=<", ">"));
    out->helo = dup_field(a, field(line, " helo=<", ">"));
    view_t reply;
    if (starts_with(rest, "header ") || starts_with(rest, "body ")) {
        out->command = EX_CMD_DATA;
        long h = rfind(rest, ">: ");
        if (h < 0) return -1;
        reply = after(rest, (size_t)h + 3);
        long fr = rfind(sub(rest, 0, (size_t)h), " from ");
        if (fr >= 0) {
            view_t c = after(rest, (size_t)fr + 6);
            long semi = find(c, ";");
            host_ip(sub(c, 0, semi >= 0 ? (size_t)semi : c.n), a, &out->client_name,
                    &out->client_ip);
        }
    } else {
        out->command = cmd_name(rest);
        long fr = find(rest, " from ");
        if (fr < 0) return -1;
        view_t c = after(rest, (size_t)fr + 6);
        /* the client is "name[ip]" or "[ip]:port" up to ": " */
        long cs = find(c, "]");
        if (cs < 0) return -1;
        size_t ce = (size_t)cs + 1;
        while (ce < c.n && (c.p[ce] == ':' || is_digit(c.p[ce])) &&
               !(c.p[ce] == ':' && ce + 1 < c.n && c.p[ce + 1] == ' '))
            ce++;
        host_ip(sub(c, 0, ce), a, &out->client_name, &out->client_ip);
        reply = after(c, ce);
        if (starts_with(reply, ":")) reply = after(reply, 1);
        long semi = rfind(reply, "; from=<");
        if (semi >= 0) reply.n = (size_t)semi;
    }
    if (read_reply(reply, false, a, out) < 0) text_only(reply, a, out);
    out->action = action_of_code(out);
    if (out->action == EX_ACTION_UNKNOWN) out->action = EX_ACTION_FAILED;
    return 0;
}

/* ---- Exim ---- */

/* "H=name (helo) [ip]:port" or "H=(helo) [ip]" or "H=[ip]" */
static void exim_host(view_t line, arena_t *a, const char **name, const char **ip,
                      const char **helo)
{
    long h = find(line, " H=");
    if (h < 0) return;
    view_t v = after(line, (size_t)h + 3);
    size_t i = 0;
    while (i < v.n && !is_space(v.p[i]) && v.p[i] != '[' && v.p[i] != '(')
        i++;
    if (i > 0) {
        view_t nm = sub(v, 0, i);
        if (nm.n > 0 && nm.p[nm.n - 1] == ':') nm.n--;
        *name = dup_field(a, nm);
    }
    while (i < v.n && is_space(v.p[i]))
        i++;
    if (i < v.n && v.p[i] == '(') {
        size_t e = i + 1;
        while (e < v.n && v.p[e] != ')')
            e++;
        if (helo != NULL) *helo = dup_field(a, sub(v, i + 1, e - i - 1));
        i = e < v.n ? e + 1 : e;
        while (i < v.n && is_space(v.p[i]))
            i++;
    }
    if (i < v.n && v.p[i] == '[') {
        size_t e = i + 1;
        while (e < v.n && v.p[e] != ']')
            e++;
        *ip = dup_field(a, sub(v, i + 1, e - i - 1));
    }
}

/*
 * 2024-01-01 00:00:00 1rAbCd-000123-AB ** a@b R=dnslookup T=remote_smtp H=mx.b [192.0.2.1]:
 *   SMTP error from remote mail server after RCPT TO:<a@b>: 550 5.1.1 ...
 * The same with "==" for a deferral; "** a@b: Unrouteable address" has no reply.
 */
static int parse_exim(view_t line, long mark, arena_t *a, reply_t *out)
{
    out->form = REPLY_FORM_EXIM;
    out->action = line.p[mark] == '*' ? EX_ACTION_FAILED : EX_ACTION_DELAYED;
    view_t rest = after(line, (size_t)mark + 3);
    size_t i = 0;
    while (i < rest.n && !is_space(rest.p[i]) && rest.p[i] != ':')
        i++;
    out->recipient = dup_field(a, unbracket(sub(rest, 0, i)));
    exim_host(line, a, &out->remote_name, &out->remote_ip, NULL);
    long se = find(rest, "SMTP error from remote mail");
    if (se >= 0) {
        view_t e = after(rest, (size_t)se);
        long af = find(e, " after ");
        if (af >= 0) {
            view_t c = after(e, (size_t)af + 7);
            if (starts_with(c, "pipelined ")) c = after(c, 10);
            out->command = cmd_name(c);
            e = c;
        }
        if (read_reply(e, true, a, out) == 0) return 0;
    }
    long colon = find(rest, ": ");
    if (colon < 0) return -1;
    reply_or_text(after(rest, (size_t)colon + 2), true, a, out);
    return out->text_len > 0 || out->code != 0 ? 0 : -1;
}

/*
 * H=name (helo) [192.0.2.1]:1234 F=<s> rejected RCPT <a@b>: relay not permitted
 * H=(helo) [192.0.2.1] F=<s> temporarily rejected RCPT <a@b>: greylisted
 * rejected EHLO from [192.0.2.1]: syntactically invalid argument(s): ...
 */
static int parse_exim_reject(view_t line, long rj, arena_t *a, reply_t *out)
{
    out->form = REPLY_FORM_EXIM_REJECT;
    exim_host(line, a, &out->client_name, &out->client_ip, &out->helo);
    out->sender = dup_field(a, unbracket(field(line, " F=", " ")));
    view_t rest = after(line, (size_t)rj + 10); /* after " rejected " */
    out->command = cmd_name(starts_with(rest, "after ") ? after(rest, 6) : rest);
    if (starts_with(rest, "connection")) out->command = EX_CMD_CONN;
    if (ex_command_is(out->command, EX_CMD_RCPT))
        out->recipient = dup_field(a, unbracket(field(rest, "RCPT ", ":")));
    if (ex_command_is_helo(out->command) && out->client_ip[0] == '\0') {
        view_t f = field(rest, "from [", "]");
        out->client_ip = dup_field(a, f);
    }
    long colon = find(rest, ": ");
    view_t why = colon >= 0 ? after(rest, (size_t)colon + 2) : rest;
    reply_or_text(why, false, a, out);
    out->action = find(sub(line, 0, (size_t)rj + 1), "temporarily") >= 0 || out->code / 100 == 4
                      ? EX_ACTION_DELAYED
                      : EX_ACTION_FAILED;
    return 0;
}

/* ---- Sendmail ---- */

/*
 * sm-mta[123]: QID: to=<a@b>, delay=00:00:01, mailer=esmtp, pri=1, relay=mx.b.
 *   [192.0.2.1], dsn=5.1.1, stat=User unknown
 */
static int parse_sendmail(view_t line, arena_t *a, reply_t *out)
{
    out->form = REPLY_FORM_SENDMAIL;
    out->recipient = dup_field(a, unbracket(field(line, " to=", ",")));
    host_ip(field(line, "relay=", ","), a, &out->remote_name, &out->remote_ip);
    long s = find(line, "stat=");
    view_t st = after(line, (size_t)s + 5);
    if (starts_with(st, "Sent"))
        out->action = EX_ACTION_DELIVERED;
    else if (starts_with(st, "Deferred"))
        out->action = EX_ACTION_DELAYED;
    else
        out->action = EX_ACTION_FAILED;
    reply_or_text(st, true, a, out);
    set_enhanced(out, field(line, "dsn=", ", "));
    return 0;
}

/*
 * sm-mta[123]: QID: ruleset=check_rcpt, arg1=<a@b>, relay=name [192.0.2.1],
 *   reject=550 5.7.1 <a@b>... Relaying denied
 */
static int parse_sendmail_reject(view_t line, arena_t *a, reply_t *out)
{
    out->form = REPLY_FORM_SENDMAIL_REJECT;
    host_ip(field(line, "relay=", ","), a, &out->client_name, &out->client_ip);
    view_t rs = field(line, "ruleset=", ", ");
    view_t arg1 = unbracket(field(line, "arg1=", ","));
    if (eq_ci(rs, "check_rcpt")) {
        out->command = EX_CMD_RCPT;
        out->recipient = dup_field(a, arg1);
    } else if (eq_ci(rs, "check_mail")) {
        out->command = EX_CMD_MAIL;
        out->sender = dup_field(a, arg1);
    } else if (eq_ci(rs, "check_relay")) {
        out->command = EX_CMD_CONN;
    }
    long r = find(line, "reject=");
    reply_or_text(after(line, (size_t)r + 7), false, a, out);
    out->action = action_of_code(out);
    if (out->action == EX_ACTION_UNKNOWN) out->action = EX_ACTION_FAILED;
    return 0;
}

/* ---- entry ---- */

const char *reply_form_name(reply_form_t f)
{
    switch (f) {
    case REPLY_FORM_SMTP:
        return "smtp";
    case REPLY_FORM_POSTFIX_SMTP:
        return "postfix-smtp";
    case REPLY_FORM_POSTFIX_SMTPD:
        return "postfix-smtpd";
    case REPLY_FORM_EXIM:
        return "exim";
    case REPLY_FORM_EXIM_REJECT:
        return "exim-reject";
    case REPLY_FORM_SENDMAIL:
        return "sendmail";
    case REPLY_FORM_SENDMAIL_REJECT:
        return "sendmail-reject";
    }
    return "?";
}

static void reset(reply_t *out)
{
    memset(out, 0, sizeof *out);
    out->form = REPLY_FORM_SMTP;
    out->text = out->recipient = out->remote_name = out->remote_ip = "";
    out->client_name = out->client_ip = out->helo = out->sender = out->command = "";
}

/* Offset of the Exim log marker "** " or "== " (after a blank or at the line's start)
 * before a delivery address (a@b, a file or a pipe), or -1. */
static long exim_mark(view_t line)
{
    for (size_t i = 0; i + 4 <= line.n; i++) {
        if ((i == 0 || line.p[i - 1] == ' ') &&
            ((line.p[i] == '*' && line.p[i + 1] == '*') ||
             (line.p[i] == '=' && line.p[i + 1] == '=')) &&
            line.p[i + 2] == ' ' && !is_space(line.p[i + 3])) {
            size_t e = i + 3;
            bool addr = line.p[e] == '/' || line.p[e] == '|';
            for (; e < line.n && !is_space(line.p[e]); e++)
                addr = addr || line.p[e] == '@';
            if (addr) return (long)i;
        }
    }
    return -1;
}

int reply_parse(const char *buf, size_t len, arena_t *a, reply_t *out)
{
    reset(out);
    if (buf == NULL || len == 0 || len > REPLY_INPUT_MAX) return -1;
    view_t in = {buf, len};
    /* the first non-blank line decides the form */
    size_t pos = 0, n = 0;
    view_t line = EMPTY;
    while (n++ < REPLY_LINES_MAX && next_line(in, &pos, &line) && trim(line).n == 0)
        ;
    line = trim(line);
    if (line.n == 0) return -1;
    int r;
    long k;
    if (reply_start(line, false) >= 0) {
        /* a reply: its text may quote anything, log keywords included */
        k = -1;
        r = 1;
    } else if (find(line, " to=<") >= 0 && find(line, "status=") >= 0) {
        r = parse_postfix_smtp(line, a, out);
    } else if ((k = find(line, "reject: ")) >= 0 && find(after(line, (size_t)k), " from ") >= 0) {
        r = parse_postfix_smtpd(line, k, a, out);
    } else if (find(line, "stat=") >= 0 && find(line, "to=") >= 0) {
        r = parse_sendmail(line, a, out);
    } else if (find(line, "reject=") >= 0 &&
               (find(line, "ruleset=") >= 0 || find(line, "relay=") >= 0)) {
        r = parse_sendmail_reject(line, a, out);
    } else if ((k = exim_mark(line)) >= 0) {
        r = parse_exim(line, k, a, out);
    } else if ((k = find(line, " rejected ")) >= 0 &&
               (find(line, " H=") >= 0 || find(line, "rejected EHLO from [") >= 0 ||
                find(line, "rejected HELO from [") >= 0)) {
        r = parse_exim_reject(line, k, a, out);
    } else {
        r = 1;
    }
    if (r == 1) {
        out->form = REPLY_FORM_SMTP;
        r = read_reply_at(in, true, a, out, &line);
        if (r == 0) {
            /* "<rcpt>: host mx.b[192.0.2.1] said:" or "mx.b [192.0.2.1] said:" before the
             * reply (Postfix and Exim bounces) */
            view_t l = trim(line);
            if (l.n > 0 && l.p[0] == '<') {
                long gt = find(l, ">:");
                if (gt > 0) out->recipient = dup_field(a, sub(l, 1, (size_t)gt - 1));
            }
            long said = find(line, " said:");
            if (said >= 0) {
                view_t h = sub(line, 0, (size_t)said);
                long hs = rfind(h, "host ");
                if (hs >= 0) h = after(h, (size_t)hs + 5);
                long colon = rfind(h, ": ");
                if (colon >= 0) h = after(h, (size_t)colon + 2);
                host_ip(h, a, &out->remote_name, &out->remote_ip);
            }
            out->action = action_of_code(out);
        }
    }
    if (r < 0) {
        reset(out);
        return -1;
    }
    return 0;
}
