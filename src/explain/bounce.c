/*
 * bounce: see bounce.h. The work is in four steps:
 *  1. normalise the input (line endings to LF, NUL and other C0 controls but TAB to space,
 *     a leading mbox "From " line dropped) and let GMime parse it from memory;
 *  2. walk the MIME tree (bounded in parts and depth) collecting decoded UTF-8 text: the
 *     human-readable parts, message/delivery-status, message/feedback-report and the
 *     returned original's header section;
 *  3. read the machine-readable fields (RFC 3464 2.2-2.3, RFC 5965 3.1) when present and the
 *     free text otherwise (or to fill a DSN recipient without Diagnostic-Code);
 *  4. copy the results, sanitised and capped, into the caller's arena.
 * Intermediate text lives in a private arena and in str_t buffers freed before returning.
 */
#include "explain/bounce.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <jansson.h>

#include "explain/mailbox.h"
#include "explain/reason.h"
#include "util/ipaddr.h"
#include "util/mem.h"
#include "util/str.h"

#define MAX_ORIG_HDR (64u * 1024u) /* bytes of the original's header section kept */
#define MAX_DIAG_LINES 60          /* lines of free text scanned after a recipient */
#define MAX_HUMAN_TEXT (1024u * 1024u) /* text kept per kind (human, html, dsn, arf) */

static bool gmime_ready;
/* One parser per thread, kept between messages (re-initialised with each message's stream):
 * building a parser costs more than most small messages. */
static _Thread_local GMimeParser *parser;
static _Thread_local GMimeStream *parser_idle; /* an empty stream the idle parser holds */

static GMimeStream *empty_stream(void)
{
    if (parser_idle == NULL)
        parser_idle = g_mime_stream_mem_new();
    return parser_idle;
}

/* ------------------------------------------------------------------ small text helpers */

static bool is_sp(int c) { return c == ' ' || c == '\t'; }

/* The line that starts at s[*i]: *l and *ll (the LF not included), with *i moved past it.
 * Returns false when *i is at the end of s. */
static bool next_line(const char *s, size_t n, size_t *i, const char **l, size_t *ll)
{
    if (*i >= n)
        return false;
    const char *nl = memchr(s + *i, '\n', n - *i);
    size_t e = nl != NULL ? (size_t)(nl - s) : n;
    *l = s + *i;
    *ll = e - *i;
    *i = nl != NULL ? e + 1 : n;
    return true;
}

/* Drops the leading blanks of l[0..*ll). */
static void skip_sp(const char **l, size_t *ll)
{
    while (*ll > 0 && is_sp(**l))
        (*l)++, (*ll)--;
}

static inline unsigned char fold(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* ASCII case-insensitive equality of m bytes. */
static inline bool ci_eq(const char *a, const char *b, size_t m)
{
    return mem_ieq(a, m, b, m);
}

/* Case-insensitive (ASCII) search of the NUL-terminated needle in [h, h+n). */
static const char *ci_find(const char *h, size_t n, const char *needle)
{
    return mem_ifind(h, n, needle, strlen(needle));
}

static bool ci_prefix(const char *s, size_t n, const char *p)
{
    return mem_iprefix(s, n, p, strlen(p));
}

/* Trims spaces at both ends of [*s, *s+*n). */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/*
 * One-line sanitised copy into the arena: valid UTF-8 (invalid bytes become '?'), control
 * characters and runs of white space become one space, trimmed, cut at max bytes.
 */
static const char *clean_copy(arena_t *a, const char *s, size_t n, size_t max)
{
    if (s == NULL || n == 0)
        return "";
    char *out = arena_alloc(a, (n < max ? n : max) + 4);
    size_t o = 0;
    bool space = true; /* drops leading spaces */
    size_t i = 0;
    while (i < n && o < max) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == ' ') {
            if (!space) {
                out[o++] = ' ';
                space = true;
            }
            i++;
            continue;
        }
        if (c < 0x80) {
            out[o++] = (char)c;
            space = false;
            i++;
            continue;
        }
        /* a UTF-8 sequence: copied whole when valid and when it fits */
        size_t want = utf8_seq((const unsigned char *)s + i, n - i, NULL);
        if (want > 0) {
            if (o + want > max)
                break;
            memcpy(out + o, s + i, want);
            o += want;
            i += want;
        } else {
            out[o++] = '?';
            i++;
        }
        space = false;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return out;
}

static const char *clean_z(arena_t *a, const char *z, size_t max)
{
    return z == NULL ? "" : clean_copy(a, z, strlen(z), max);
}

/* ---------------------------------------------------------------- addresses and codes */

static bool local_char(unsigned char c)
{
    return c < 0x80 && c != 0 && (isalnum(c) || strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

/* ASCII only: text glued to an address ("a@example.org您好") is not part of it; an
 * internationalised domain appears in reports as its A-label anyway. */
static bool domain_char(unsigned char c) { return c < 0x80 && (isalnum(c) || c == '.' || c == '-'); }

/*
 * Finds the first e-mail address in [s, s+n) from offset from: local@domain with a dot in
 * the domain. Sets *off, *len; returns false when there is none.
 */
static bool find_addr(const char *s, size_t n, size_t from, size_t *off, size_t *len)
{
    for (size_t i = from; i < n; i++) {
        if (s[i] != '@')
            continue;
        size_t b = i;
        while (b > from && local_char((unsigned char)s[b - 1]) && i - b < 64)
            b--;
        while (b < i && s[b] == '.')
            b++;
        size_t e = i + 1;
        while (e < n && domain_char((unsigned char)s[e]) && e - i < 253)
            e++;
        while (e > i + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
            e--;
        if (b == i || e == i + 1)
            continue;
        if (memchr(s + i + 1, '.', e - i - 1) == NULL)
            continue;
        *off = b;
        *len = e - b;
        return true;
    }
    return false;
}

/* Status code "c.s.d" (RFC 3463 2, read by ex_status_at) with a one-digit subject 0-7, not
 * part of a longer dotted number such as an IP address. */
static bool find_status(const char *s, size_t n, size_t *off, size_t *len)
{
    for (size_t i = 0; i + 5 <= n; i++) {
        if (i > 0 && (isdigit((unsigned char)s[i - 1]) || s[i - 1] == '.'))
            continue;
        ex_status_t st;
        size_t l = ex_status_at(s, n, i, &st);
        /* RFC 3463 defines subjects 0 to 7 only: one digit, which keeps dates and
         * version numbers out */
        if (l == 0 || s[i + 3] != '.' || st.subject > 7)
            continue;
        size_t j = i + l;
        if (j + 1 < n && s[j] == '.' && isdigit((unsigned char)s[j + 1]))
            continue;
        *off = i;
        *len = l;
        return true;
    }
    return false;
}

/* An SMTP reply code (RFC 5321 4.2: 2yz, 4yz or 5yz) standing as a word at s[i]: preceded by
 * start, space or one of ":#('\"[<=", followed by end, space, '-' or one of ".,;:)'\"]". A
 * 2yz code counts only when an enhanced status follows it (a success report). */
static int code_at(const char *s, size_t n, size_t i)
{
    char c = s[i];
    if (c != '2' && c != '4' && c != '5')
        return 0;
    if (i + 3 > n || !isdigit((unsigned char)s[i + 1]) || !isdigit((unsigned char)s[i + 2]) ||
        s[i + 1] > '5')
        return 0;
    if (i > 0 && !isspace((unsigned char)s[i - 1]) && strchr(":#('\"[<=", s[i - 1]) == NULL)
        return 0;
    if (i + 3 < n && !isspace((unsigned char)s[i + 3]) && strchr("-.,;:)'\"]", s[i + 3]) == NULL)
        return 0;
    /* "550." followed by a digit is a number, not a code */
    if (i + 4 < n && s[i + 3] == '.' && isdigit((unsigned char)s[i + 4]))
        return 0;
    if (c == '2') {
        size_t k = i + 3;
        while (k < n && (s[k] == ' ' || s[k] == '-'))
            k++;
        if (!(k + 1 < n && s[k] == '2' && s[k + 1] == '.'))
            return 0;
    }
    return (c - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
}

static int find_code(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++) {
        int c = code_at(s, n, i);
        if (c != 0)
            return c;
    }
    return 0;
}

/*
 * Reply code and enhanced status of a reply text. Where a code is directly followed by a
 * status ("550 5.1.1", "550-'5.7.1", "550 #5.1.0"), the last such pair wins: texts that
 * quote an earlier answer put the final one last ("554 4.4.7 expired <421 4.4.2 timed
 * out>"). Otherwise the first code and the first status found apart.
 */
static void code_status(const char *s, size_t n, int *code, char *status, size_t ssize)
{
    int pc = 0;
    size_t po = 0, pl = 0;
    for (size_t i = 0; i + 3 <= n; i++) {
        int c = code_at(s, n, i);
        if (c == 0)
            continue;
        size_t k = i + 3;
        while (k < n && k < i + 8 && (s[k] == ' ' || s[k] == '-' || s[k] == '#' || s[k] == '\'' ||
                                     s[k] == ':' || s[k] == '('))
            k++;
        size_t so, sl;
        if (k < n && find_status(s + k, n - k, &so, &sl) && so == 0 && s[k] == (char)('0' + c / 100)) {
            /* a success pair after a failure ("451 4.3.0 ..." then QUIT's "221 2.0.0")
             * does not replace it */
            if (pc == 0 || c >= 400 || pc < 400) {
                pc = c;
                po = k;
                pl = sl;
            }
        }
    }
    *code = 0;
    status[0] = '\0';
    if (pc != 0) {
        *code = pc;
        if (pl < ssize) {
            memcpy(status, s + po, pl);
            status[pl] = '\0';
        }
        return;
    }
    *code = find_code(s, n);
    size_t so, sl;
    if (find_status(s, n, &so, &sl) && sl < ssize) {
        memcpy(status, s + so, sl);
        status[sl] = '\0';
    }
}

#define CMD_TEXT_MAX 4096u /* bytes of text searched for the SMTP command */

struct cmd_pat {
    const char *pat, *cmd;
};

/* Commands named after a context phrase ("in reply to RCPT TO command"). A bare command
 * name (the entries in capitals) counts only as written in capitals: "after DATA", not
 * "for data storage". */
static const struct cmd_pat cmd_tab[] = {
    {"end of data", EX_CMD_DATA},      {"end of message", EX_CMD_DATA},
    {"data command", EX_CMD_DATA},     {"data:", EX_CMD_DATA},
    {"final data", EX_CMD_DATA},       {"data block", EX_CMD_DATA},
    {"text command", EX_CMD_DATA},     {"message text", EX_CMD_DATA},
    {"bdat", EX_CMD_BDAT},             {"pipelined data", EX_CMD_DATA},
    {"pipelined rcpt", EX_CMD_RCPT},   {"pipelined mail", EX_CMD_MAIL},
    {"DATA", EX_CMD_DATA},
    {"rcpt to", EX_CMD_RCPT},          {"rcpt command", EX_CMD_RCPT},
    {"RCPT", EX_CMD_RCPT},
    {"mail from", EX_CMD_MAIL},        {"mail command", EX_CMD_MAIL},
    {"initial greeting", EX_CMD_CONN}, {"initial connection", EX_CMD_CONN},
    {"initial server greeting", EX_CMD_CONN}, {"connection greeting", EX_CMD_CONN},
    {"smtp greeting", EX_CMD_CONN},
    {"ehlo", EX_CMD_EHLO},             {"helo", EX_CMD_HELO},
    {"starttls", EX_CMD_STARTTLS},     {"auth command", EX_CMD_AUTH},
};

/* Where a text says what a reply answered; the command follows, after an optional "the ".
 * "SMTP:" is X3's "Technical details: SMTP:RCPT host ...". */
static const char *const cmd_ctx[] = {
    "in reply to ",        "after ",      "most progress was ", "for ",
    "during ",             "response to ", "while sending ",    "did not like our ",
    "while performing ",   "while receiving ", "error on ",     "failed on ",
    "rejected at ",        "rejected after ", "following ",     "smtp:",
};

/* Phrases that name the step themselves (qmail's summaries, tags such as "[RCPT_TO]" or
 * "(DATA)"); those with capitals must match as written. */
static const struct cmd_pat cmd_phrase[] = {
    {"does not like recipient", EX_CMD_RCPT},
    {"failed after i sent the message", EX_CMD_DATA},
    {"sender was rejected", EX_CMD_MAIL},
    {"greeting failed", EX_CMD_CONN},
    {"my name was rejected", EX_CMD_HELO},
    {"in rcpt to", EX_CMD_RCPT},
    {"in mail from", EX_CMD_MAIL},
    {"[RCPT_TO]", EX_CMD_RCPT},
    {"[MAIL_FROM]", EX_CMD_MAIL},
    {"(DATA)", EX_CMD_DATA},
    {"(RCPT TO)", EX_CMD_RCPT},
    {"(MAIL FROM)", EX_CMD_MAIL},
    {"SMTP command DATA", EX_CMD_DATA},
    {"SMTP command: DATA", EX_CMD_DATA},
    {"failed to connect", EX_CMD_CONN},
    {"unable to connect", EX_CMD_CONN},
    {"requests to connect", EX_CMD_CONN},
    {"failed connect()", EX_CMD_CONN},
    {"rejected MAIL FROM", EX_CMD_MAIL},
    {"rejected RCPT TO", EX_CMD_RCPT},
};

/* Does a word end at s[at] (end of text or a non-letter)? "data" must not match
 * "database". */
static bool word_end(const char *s, size_t n, size_t at)
{
    return at >= n || !isalpha((unsigned char)s[at]);
}

#define CMD_NCTX (sizeof cmd_ctx / sizeof cmd_ctx[0])
#define CMD_NPHRASE (sizeof cmd_phrase / sizeof cmd_phrase[0])
_Static_assert(CMD_NCTX + CMD_NPHRASE <= 64, "one bit per context and phrase");

/* For each first byte (folded), the contexts (bits 0..CMD_NCTX-1) and phrases (the bits
 * after them) that start with it; built once. */
static uint64_t cmd_first[256];
static pthread_once_t cmd_once = PTHREAD_ONCE_INIT;

static void cmd_index(void)
{
    for (size_t k = 0; k < CMD_NCTX; k++)
        cmd_first[fold((unsigned char)cmd_ctx[k][0])] |= (uint64_t)1 << k;
    for (size_t k = 0; k < CMD_NPHRASE; k++)
        cmd_first[fold((unsigned char)cmd_phrase[k].pat[0])] |= (uint64_t)1 << (CMD_NCTX + k);
}

/* The command named at s[at] after a context phrase (an optional "the " first), or NULL. */
static const char *cmd_after(const char *s, size_t n, size_t at)
{
    size_t at2 = ci_prefix(s + at, n - at, "the ") ? at + 4 : at;
    for (size_t t = 0; t < sizeof cmd_tab / sizeof cmd_tab[0]; t++) {
        const char *pat = cmd_tab[t].pat;
        size_t m = strlen(pat);
        bool exact = isupper((unsigned char)pat[0]);
        size_t p = SIZE_MAX;
        if (exact)
            p = n - at >= m && memcmp(s + at, pat, m) == 0     ? at
                : n - at2 >= m && memcmp(s + at2, pat, m) == 0 ? at2
                                                               : SIZE_MAX;
        else
            p = ci_prefix(s + at, n - at, pat)     ? at
                : ci_prefix(s + at2, n - at2, pat) ? at2
                                                   : SIZE_MAX;
        if (p == SIZE_MAX)
            continue;
        if (isalpha((unsigned char)pat[m - 1]) && !word_end(s, n, p + m))
            continue;
        return cmd_tab[t].cmd;
    }
    return NULL;
}

/* Does pat stand at s[i]: case-insensitive, or exact when pat holds a capital letter? */
static bool phrase_at(const char *s, size_t n, size_t i, const char *pat)
{
    size_t m = strlen(pat);
    if (n - i < m)
        return false;
    for (const char *p = pat; *p != '\0'; p++)
        if (isupper((unsigned char)*p))
            return memcmp(s + i, pat, m) == 0;
    return ci_eq(s + i, pat, m);
}

/*
 * The SMTP command a reply text says it answered: the earliest phrase of the kinds above.
 * Runs of white space (line breaks of a folded report included) count as one space; at
 * most CMD_TEXT_MAX bytes are read. ">>> CMD" transcript lines are read elsewhere
 * (transcript_command), but a ">>> " inside one line of text counts here too.
 */
static const char *find_command(const char *s0, size_t n0)
{
    if (s0 == NULL || n0 == 0)
        return NULL;
    if (n0 > CMD_TEXT_MAX)
        n0 = CMD_TEXT_MAX;
    char buf[CMD_TEXT_MAX];
    size_t n = 0;
    bool sp = false;
    for (size_t i = 0; i < n0; i++) {
        unsigned char ch = (unsigned char)s0[i];
        if (isspace(ch)) {
            sp = n > 0;
            continue;
        }
        if (sp)
            buf[n++] = ' ';
        sp = false;
        buf[n++] = (char)ch;
    }
    const char *s = buf;
    pthread_once(&cmd_once, cmd_index);
    /* one pass over the word starts: the first statement in the text wins */
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && isalnum((unsigned char)s[i - 1]))
            continue;
        unsigned char f = fold((unsigned char)s[i]);
        for (uint64_t m = cmd_first[f]; m != 0; m &= m - 1) {
            unsigned k = (unsigned)__builtin_ctzll(m);
            if (k < CMD_NCTX) {
                if (!ci_prefix(s + i, n - i, cmd_ctx[k]))
                    continue;
                const char *c = cmd_after(s, n, i + strlen(cmd_ctx[k]));
                if (c != NULL)
                    return c;
            } else if (phrase_at(s, n, i, cmd_phrase[k - CMD_NCTX].pat)) {
                return cmd_phrase[k - CMD_NCTX].cmd;
            }
        }
        /* a transcript quoted inside one line: ">>> RCPT To:<a>" */
        if (f == '>' && n - i > 4 && memcmp(s + i, ">>> ", 4) == 0) {
            static const struct cmd_pat tw[] = {
                {"rcpt", EX_CMD_RCPT},         {"mail", EX_CMD_MAIL}, {"data", EX_CMD_DATA},
                {"bdat", EX_CMD_BDAT},         {"ehlo", EX_CMD_EHLO}, {"helo", EX_CMD_HELO},
                {"starttls", EX_CMD_STARTTLS}, {"auth", EX_CMD_AUTH}};
            for (size_t t = 0; t < sizeof tw / sizeof tw[0]; t++)
                if (ci_prefix(s + i + 4, n - i - 4, tw[t].pat))
                    return tw[t].cmd;
            i += 3; /* one ">>> " counts once */
        }
    }
    return NULL;
}

static bool ip4_at(const char *s, size_t n, size_t *len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t d = 0;
        unsigned v = 0;
        while (i < n && isdigit((unsigned char)s[i]) && d < 4) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
            d++;
        }
        if (d == 0 || d > 3 || v > 255)
            return false;
        if (part < 3) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
    }
    if (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'))
        return i < n && s[i] == '.' && !(i + 1 < n && isdigit((unsigned char)s[i + 1])) &&
               (*len = i, true);
    *len = i;
    return true;
}

/* An IPv4 or IPv6 address token at s (hex digits, colons and dots; an IPv6 address may
 * carry the "IPv6:" tag of an RFC 5321 address literal): the address is s[*at .. *at+*len)
 * and the token ends there. */
static bool ip_at(const char *s, size_t n, size_t *at, size_t *len)
{
    *at = 0;
    if (ip4_at(s, n, len))
        return true;
    if (ci_prefix(s, n, "IPv6:")) {
        *at = 5;
        s += 5;
        n -= 5;
    }
    size_t i = 0, colons = 0;
    while (i < n && i < 45 && (isxdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.')) {
        if (s[i] == ':')
            colons++;
        i++;
    }
    ipaddr_t ip;
    if (colons < 2 || ipaddr_parse(&ip, s, i) != 0)
        return false;
    *len = i;
    return true;
}

/* ------------------------------------------------------------- header-like field blocks */

typedef struct fld {
    const char *name; /* NULL: a blank line (block separator) */
    size_t nlen;
    const char *val; /* unfolded, in the scratch arena, NUL-terminated */
    size_t vlen;
} fld_t;

typedef struct flds {
    fld_t *v;
    size_t n, cap;
} flds_t;

/*
 * Reads "Name: value" lines (RFC 5322 2.2, with folding) from [s, s+n). Blank lines are
 * kept as separators; lines that are not fields are skipped (stop_at_junk: end there).
 * At most BOUNCE_FIELDS_MAX fields.
 */
static void fields_read(arena_t *tmp, const char *s, size_t n, bool stop_at_junk, flds_t *out)
{
    out->v = NULL;
    out->n = out->cap = 0;
    size_t i = 0;
    str_t val = STR_INIT;
    const char *name = NULL;
    size_t nlen = 0;
    bool have = false;
#define FLUSH()                                                                          \
    do {                                                                                 \
        if (have && out->n < BOUNCE_FIELDS_MAX) {                                        \
            if (out->n == out->cap) {                                                    \
                size_t nc = out->cap ? out->cap * 2 : 16;                                \
                fld_t *nv = arena_alloc(tmp, xmul(nc, sizeof *nv));                      \
                if (out->n)                                                              \
                    memcpy(nv, out->v, out->n * sizeof *nv);                             \
                out->v = nv;                                                             \
                out->cap = nc;                                                           \
            }                                                                            \
            const char *vs = str_cstr(&val);                                             \
            size_t vl = val.len;                                                         \
            trim(&vs, &vl);                                                              \
            out->v[out->n++] = (fld_t){name, nlen, arena_strndup(tmp, vs, vl), vl};      \
        }                                                                                \
        have = false;                                                                    \
        str_clear(&val);                                                                 \
    } while (0)
    const char *l;
    size_t ll;
    while (next_line(s, n, &i, &l, &ll)) {
        if (ll > 0 && l[ll - 1] == '\r')
            ll--;
        bool blank = true;
        for (size_t k = 0; k < ll; k++)
            if (!isspace((unsigned char)l[k]))
                blank = false;
        if (blank) {
            FLUSH();
            if (out->n < BOUNCE_FIELDS_MAX && (out->n == 0 || out->v[out->n - 1].name != NULL)) {
                have = true;
                name = NULL;
                nlen = 0;
                FLUSH();
            }
            continue;
        }
        if (is_sp(l[0]) && have) {
            str_appendc(&val, ' ');
            str_append(&val, l, ll);
            continue;
        }
        size_t c = 0;
        while (c < ll && l[c] != ':' && l[c] > ' ' && l[c] < 0x7F)
            c++;
        if (c > 0 && c < ll && l[c] == ':' && c <= 76) {
            FLUSH();
            name = l;
            nlen = c;
            have = true;
            str_append(&val, l + c + 1, ll - c - 1);
            continue;
        }
        FLUSH();
        if (stop_at_junk)
            break;
    }
    FLUSH();
#undef FLUSH
    str_free(&val);
}

static bool fld_is(const fld_t *f, const char *name)
{
    return f->name != NULL && mem_ieq(f->name, f->nlen, name, strlen(name));
}

static const char *flds_get(const flds_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (fld_is(&f->v[i], name))
            return f->v[i].val;
    return NULL;
}

/* "type; value" (RFC 3464 2.1.2 address-type / diagnostic-type): the value. */
static const char *strip_type(const char *v)
{
    const char *semi = strchr(v, ';');
    if (semi == NULL)
        return v;
    for (const char *p = v; p < semi; p++)
        if (isspace((unsigned char)*p) && p + 1 < semi && !isspace((unsigned char)p[1]))
            return v; /* "type" is one word; otherwise the ';' is part of the text */
    semi++;
    while (is_sp(*semi))
        semi++;
    return semi;
}

/* ------------------------------------------------------------------------ parse state */

typedef struct rec {
    str_t addr;
    str_t orig;
    bounce_action_t action;
    char status[16];
    int code;
    str_t diag;
    str_t remote;
    str_t last;
    str_t hint; /* the human text about this recipient, read for codes the diag lacks */
    str_t note; /* the comment of a DSN Status field: "4.0.0 (host name lookup failure)" */
    const char *command;
    const char *diag_command; /* find_command of the diagnostic, once diag_command_read */
    bool diag_command_read;
    bool led; /* introduced by a lead naming it a recipient, or a Sendmail result line */
    size_t line;  /* freeform: the line that first introduced it (in the text being read) */
    size_t aoff;  /* freeform: the address's offset in that line */
    bool at_line; /* line and aoff are set */
} rec_t;

typedef struct ctx {
    arena_t *tmp;
    str_t human; /* human-readable text parts, UTF-8 */
    str_t html;  /* text/html parts with tags removed (used when there is no text/plain) */
    str_t dsn;   /* message/delivery-status bodies */
    str_t arf;   /* message/feedback-report bodies */
    str_t orig;  /* the returned original's header section */
    bool have_orig_part;
    size_t parts;
    bool truncated;
    rec_t *recs;
    size_t nrecs, capr;
    GMimeMessage *msg;
    GMimeMessage *attached; /* the first message/rfc822 part (a reference is held) */
    bool own_report;        /* a delivery-status part outside any attached message */
    int in_attached;        /* walking inside an attached report */
    const char *buf;        /* the normalised message GMime parsed (during the walk) */
    size_t buflen;
} ctx_t;

static rec_t *rec_add(ctx_t *c)
{
    if (c->nrecs >= BOUNCE_RCPT_MAX) {
        c->truncated = true;
        return NULL;
    }
    if (c->nrecs == c->capr) {
        size_t nc = c->capr ? c->capr * 2 : 8;
        if (nc > BOUNCE_RCPT_MAX)
            nc = BOUNCE_RCPT_MAX;
        c->recs = xrealloc(c->recs, xmul(nc, sizeof *c->recs));
        c->capr = nc;
    }
    rec_t *r = &c->recs[c->nrecs++];
    memset(r, 0, sizeof *r);
    return r;
}

/* A record for the address addr; NULL when addr is NULL or the records are full. */
static rec_t *rec_for(ctx_t *c, const char *addr)
{
    rec_t *r = addr != NULL ? rec_add(c) : NULL;
    if (r != NULL)
        str_appendz(&r->addr, addr);
    return r;
}

static void recs_free(ctx_t *c)
{
    for (size_t i = 0; i < c->nrecs; i++) {
        str_free(&c->recs[i].addr);
        str_free(&c->recs[i].orig);
        str_free(&c->recs[i].diag);
        str_free(&c->recs[i].remote);
        str_free(&c->recs[i].last);
        str_free(&c->recs[i].hint);
        str_free(&c->recs[i].note);
    }
    free(c->recs);
    c->recs = NULL;
    c->nrecs = c->capr = 0;
}

static rec_t *rec_find(ctx_t *c, const char *a, size_t n)
{
    for (size_t i = 0; i < c->nrecs; i++)
        if (mem_ieq(c->recs[i].addr.data ? c->recs[i].addr.data : "", c->recs[i].addr.len, a, n))
            return &c->recs[i];
    return NULL;
}

/* ------------------------------------------------------------------------ MIME walking */

/* Is [s, s+n) plain ASCII (no byte over 0x7F) without ESC, the shift byte of the 7-bit
 * ISO 2022 charsets? */
static bool all_ascii(const char *s, size_t n)
{
    unsigned char acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= (unsigned char)s[i];
    return acc < 0x80 && memchr(s, 0x1B, n) == NULL;
}

/* Does [s, s+n) hold the designations of ISO-2022-JP: ESC $ B, ESC $ @ (JIS X 0208) and
 * ESC ( B, ESC ( J (back to ASCII, JIS X 0201 Roman)? */
static bool iso2022jp(const char *s, size_t n)
{
    const char *e = memchr(s, 0x1B, n);
    bool kanji = false, back = false;
    while (e != NULL && !(kanji && back)) {
        size_t left = n - (size_t)(e - s);
        if (left >= 3 && e[1] == '$' && (e[2] == 'B' || e[2] == '@'))
            kanji = true;
        else if (left >= 3 && e[1] == '(' && (e[2] == 'B' || e[2] == 'J'))
            back = true;
        e = left > 1 ? memchr(e + 1, 0x1B, left - 1) : NULL;
    }
    return kanji && back;
}

/* 7-bit charsets whose ASCII bytes are not ASCII text (RFC 2152 UTF-7, RFC 1843 HZ). */
static bool stateful_7bit(const char *cs)
{
    return cs != NULL && (ci_prefix(cs, strlen(cs), "utf-7") || ci_prefix(cs, strlen(cs), "hz"));
}

/*
 * The raw (still transfer-encoded) bytes of a part's content without copying them: the
 * parser keeps each part's content as a bounded view of the in-memory message stream.
 * Returns false when the content is held some other way.
 */
static bool content_view(GMimeStream *s, const char **p, size_t *n)
{
    if (s == NULL || !GMIME_IS_STREAM_MEM(s))
        return false;
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
    if (ba == NULL)
        return false;
    gint64 st = s->bound_start, en = s->bound_end < 0 ? (gint64)ba->len : s->bound_end;
    if (st < 0 || en > (gint64)ba->len || st > en)
        return false;
    *p = (const char *)ba->data + st;
    *n = (size_t)(en - st);
    return true;
}

/*
 * Appends the decoded content of part to out as UTF-8, at most BOUNCE_PART_TEXT_MAX bytes;
 * NUL bytes become spaces, CR a line break. Identity, base64 and quoted-printable content
 * is decoded straight from the message buffer in one step (no stream or filter objects);
 * a charset conversion runs only when the text is not ASCII already.
 */
static void part_text(ctx_t *c, GMimePart *part, str_t *out)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    if (w == NULL)
        return;
    GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
    const char *raw = NULL;
    size_t n = 0;
    char *decoded = NULL;  /* g_malloc'ed: a base64 or quoted-printable decoding */
    GMimeStream *ms = NULL; /* a copy made by GMime, for other contents */
    bool direct = content_view(g_mime_data_wrapper_get_stream(w), &raw, &n);
    if (direct && (enc == GMIME_CONTENT_ENCODING_BASE64 ||
                   enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE)) {
        /* decoding never grows the text: a bounded input bounds the output. Four times the
         * text cap of encoded input gives the whole cap even for quoted-printable that
         * encodes every byte ("=E3" and soft line breaks). */
        size_t max_in = 4 * (size_t)BOUNCE_PART_TEXT_MAX;
        size_t in = n < max_in ? n : max_in;
        if (in < n)
            c->truncated = true;
        GMimeEncoding st;
        g_mime_encoding_init_decode(&st, enc);
        decoded = g_malloc(g_mime_encoding_outlen(&st, in) + 1);
        n = g_mime_encoding_step(&st, raw, in, decoded);
        raw = decoded;
    } else if (!direct || (enc != GMIME_CONTENT_ENCODING_DEFAULT &&
                           enc != GMIME_CONTENT_ENCODING_7BIT &&
                           enc != GMIME_CONTENT_ENCODING_8BIT &&
                           enc != GMIME_CONTENT_ENCODING_BINARY)) {
        ms = g_mime_stream_mem_new();
        g_mime_data_wrapper_write_to_stream(w, ms);
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
        raw = (const char *)ba->data;
        n = ba->len;
    }
    if (n > BOUNCE_PART_TEXT_MAX) {
        n = BOUNCE_PART_TEXT_MAX;
        c->truncated = true;
    }
    const char *direct_raw = direct && decoded == NULL && ms == NULL ? raw : NULL;
    char *conv = NULL;
    char *dec = NULL;
    const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    /* ISO-2022-JP (RFC 1468) written raw where no charset, or us-ascii, is declared: Japanese
     * MTAs do this in DSN fields and in plain bodies; its escape sequences say what it is */
    if ((cs == NULL || g_ascii_strcasecmp(cs, "us-ascii") == 0) && n > 0 && iso2022jp(raw, n))
        cs = "ISO-2022-JP";
    if (n > 0 && (!all_ascii(raw, n) || stateful_7bit(cs))) {
        if (cs != NULL && g_ascii_strcasecmp(cs, "utf-8") != 0 &&
            g_ascii_strcasecmp(cs, "us-ascii") != 0) {
            const char *ic = g_mime_charset_iconv_name(cs);
            gsize wr = 0;
            conv = g_convert(raw, (gssize)n, "UTF-8", ic ? ic : cs, NULL, &wr, NULL);
            if (conv != NULL) {
                raw = conv;
                n = wr;
            }
        }
        if (conv == NULL && !g_utf8_validate(raw, (gssize)n, NULL)) {
            dec = g_mime_utils_decode_8bit(NULL, raw, n);
            if (dec != NULL) {
                raw = dec;
                n = strlen(dec);
            }
        }
    }
    size_t start = out->len;
    str_append(out, raw, n);
    /* the message buffer itself holds no NUL or CR any more (normalise()); decoded or
     * converted text may */
    if (raw != direct_raw)
        for (size_t i = start; i < out->len; i++)
            if (out->data[i] == '\0' || out->data[i] == '\r')
                out->data[i] = out->data[i] == '\r' ? '\n' : ' ';
    str_appendc(out, '\n');
    g_free(conv);
    g_free(dec);
    g_free(decoded);
    if (ms != NULL)
        g_object_unref(ms);
}

/* Crude text from HTML: tags dropped (block tags become line breaks), a few entities. */
static void html_to_text(const char *s, size_t n, str_t *out)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] == '<') {
            size_t e = i + 1;
            while (e < n && s[e] != '>')
                e++;
            const char *t = s + i + 1;
            size_t tl = e - i - 1;
            if (ci_prefix(t, tl, "br") || ci_prefix(t, tl, "/p") || ci_prefix(t, tl, "p") ||
                ci_prefix(t, tl, "/div") || ci_prefix(t, tl, "/tr") || ci_prefix(t, tl, "li") ||
                ci_prefix(t, tl, "/h"))
                str_appendc(out, '\n');
            if (ci_prefix(t, tl, "style") || ci_prefix(t, tl, "script") || ci_prefix(t, tl, "head")) {
                const char *close = ci_prefix(t, tl, "style") ? "</style" : ci_prefix(t, tl, "script") ? "</script" : "</head";
                const char *q = ci_find(s + e, n - e, close);
                if (q != NULL) {
                    e = (size_t)(q - s);
                    while (e < n && s[e] != '>')
                        e++;
                }
            }
            i = e < n ? e + 1 : n;
            continue;
        }
        if (s[i] == '&') {
            static const struct {
                const char *ent;
                char ch;
            } ents[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&nbsp;", ' '},
                        {"&quot;", '"'}, {"&#39;", '\''}, {"&#160;", ' '}};
            bool done = false;
            for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++)
                if (ci_prefix(s + i, n - i, ents[k].ent)) {
                    str_appendc(out, ents[k].ch);
                    i += strlen(ents[k].ent);
                    done = true;
                    break;
                }
            if (done)
                continue;
        }
        str_appendc(out, s[i] == '\n' ? ' ' : s[i]);
        i++;
    }
    str_appendc(out, '\n');
}

/* Is every line of [s, s+n) a field ("Name:") or a continuation (leading blank)? GMime
 * reads other lines into the field before them; the field reader here does not. */
static bool field_lines(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl != NULL ? (size_t)(nl - s) : n;
        if (e > i && !is_sp(s[i])) {
            size_t k = i;
            while (k < e && s[k] != ':' && s[k] > ' ' && s[k] < 0x7F)
                k++;
            if (k == i || k >= e || s[k] != ':')
                return false;
        }
        i = e + 1;
    }
    return true;
}

/* Does [s, s+n) open with a message's header section: a Return-Path: or Received: field
 * first, and only fields up to the first blank line (at least two of them)? */
static bool header_section(const char *s, size_t n)
{
    if (!ci_prefix(s, n, "Return-Path:") && !ci_prefix(s, n, "Received:"))
        return false;
    size_t e = 0, fields = 0;
    while (e < n) {
        const char *nl = memchr(s + e, '\n', n - e);
        size_t le = nl != NULL ? (size_t)(nl - s) : n;
        if (le == e)
            break;
        if (!is_sp(s[e]))
            fields++;
        e = le + 1;
    }
    return fields >= 2 && field_lines(s, e < n ? e : n);
}

/*
 * The header section of an attached message as it stands in the message buffer: from its
 * first field (GMime records where each field starts) to the blank line after its last.
 * Falls back to GMime's serialisation when the offsets do not point at the fields.
 */
static void take_orig_headers(ctx_t *c, GMimeObject *obj)
{
    if (c->have_orig_part)
        return;
    GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
    int cnt = hl != NULL ? g_mime_header_list_get_count(hl) : 0;
    if (cnt > 0 && c->buf != NULL) {
        GMimeHeader *h0 = g_mime_header_list_get_header_at(hl, 0);
        GMimeHeader *hz = g_mime_header_list_get_header_at(hl, cnt - 1);
        gint64 b = g_mime_header_get_offset(h0), z = g_mime_header_get_offset(hz);
        const char *name = g_mime_header_get_name(h0);
        size_t nl = name != NULL ? strlen(name) : 0;
        if (b >= 0 && z >= b && (size_t)z < c->buflen && nl > 0 && (size_t)b + nl <= c->buflen &&
            mem_ieq(c->buf + b, nl, name, nl)) {
            size_t e = (size_t)z;
            while (e < c->buflen &&
                   !(c->buf[e] == '\n' && (e + 1 == c->buflen || c->buf[e + 1] == '\n')))
                e++;
            if (e < c->buflen)
                e++; /* the last field's line end */
            size_t n = e - (size_t)b;
            if (field_lines(c->buf + b, n)) {
                str_append(&c->orig, c->buf + b, n < MAX_ORIG_HDR ? n : MAX_ORIG_HDR);
                c->have_orig_part = true;
                return;
            }
        }
    }
    char *h = g_mime_object_get_headers(obj, NULL);
    if (h != NULL) {
        size_t n = strlen(h);
        str_append(&c->orig, h, n < MAX_ORIG_HDR ? n : MAX_ORIG_HDR);
        c->have_orig_part = true;
    }
    g_free(h);
}

static void walk(ctx_t *c, GMimeObject *obj, int depth)
{
    if (obj == NULL)
        return;
    if (depth > BOUNCE_DEPTH_MAX || c->parts >= BOUNCE_PARTS_MAX) {
        c->truncated = true;
        return;
    }
    c->parts++;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int cnt = g_mime_multipart_get_count(mp);
        for (int i = 0; i < cnt; i++)
            walk(c, g_mime_multipart_get_part(mp, i), depth + 1);
        return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (m == NULL)
            return;
        GMimeObject *inner = g_mime_message_get_mime_part(m);
        GMimeContentType *ict = inner ? g_mime_object_get_content_type(inner) : NULL;
        const char *rt = ict ? g_mime_content_type_get_parameter(ict, "report-type") : NULL;
        if (rt != NULL && GMIME_IS_MULTIPART(inner) && !c->own_report) {
            /* a report attached to a report (one per recipient), or a bounce forwarded as
             * an attachment: read it as well. When the message has a report of its own,
             * an attached report is the message that could not be returned (a double
             * bounce): the original, not more records. */
            c->in_attached++;
            walk(c, inner, depth + 1);
            c->in_attached--;
            return;
        }
        take_orig_headers(c, GMIME_OBJECT(m));
        if (c->attached == NULL)
            c->attached = g_object_ref(m);
        return;
    }
    if (!GMIME_IS_PART(obj))
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    const char *type = ct ? g_mime_content_type_get_media_type(ct) : "text";
    const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : "plain";
    if (type == NULL || sub == NULL)
        return;
    bool msg = !g_ascii_strcasecmp(type, "message");
    bool text = !g_ascii_strcasecmp(type, "text");
    if (msg && (!g_ascii_strcasecmp(sub, "delivery-status") ||
                !g_ascii_strcasecmp(sub, "global-delivery-status"))) {
        if (c->in_attached == 0)
            c->own_report = true;
        if (c->dsn.len < MAX_HUMAN_TEXT) {
            part_text(c, GMIME_PART(obj), &c->dsn);
            str_appendz(&c->dsn, "\n");
        } else {
            c->truncated = true;
        }
    } else if (msg && !g_ascii_strcasecmp(sub, "feedback-report")) {
        if (c->arf.len < MAX_HUMAN_TEXT) {
            part_text(c, GMIME_PART(obj), &c->arf);
            str_appendz(&c->arf, "\n");
        } else {
            c->truncated = true;
        }
    } else if ((text && (!g_ascii_strcasecmp(sub, "rfc822-headers") ||
                         !g_ascii_strcasecmp(sub, "rfc822-header"))) ||
               (msg && (!g_ascii_strcasecmp(sub, "rfc822-headers") ||
                        !g_ascii_strcasecmp(sub, "global-headers") ||
                        !g_ascii_strcasecmp(sub, "rfc822") ||
                        !g_ascii_strcasecmp(sub, "global")))) {
        if (!c->have_orig_part) {
            str_t t = STR_INIT;
            part_text(c, GMIME_PART(obj), &t);
            str_append(&c->orig, t.data ? t.data : "", t.len < MAX_ORIG_HDR ? t.len : MAX_ORIG_HDR);
            c->have_orig_part = true;
            str_free(&t);
        }
    } else if (text && !g_ascii_strcasecmp(sub, "html")) {
        if (c->html.len < MAX_HUMAN_TEXT) {
            str_t t = STR_INIT;
            part_text(c, GMIME_PART(obj), &t);
            html_to_text(t.data ? t.data : "", t.len, &c->html);
            str_free(&t);
        }
    } else if (text || (ct == NULL)) {
        if (c->human.len < MAX_HUMAN_TEXT) {
            size_t was = c->human.len;
            part_text(c, GMIME_PART(obj), &c->human);
            if (was > 0 && !c->have_orig_part && header_section(c->human.data + was, c->human.len - was)) {
                /* a later text part that is a header section (Return-Path:, Received: ...)
                 * is the returned original sent as text/plain, not more bounce text */
                size_t n = c->human.len - was;
                str_append(&c->orig, c->human.data + was, n < MAX_ORIG_HDR ? n : MAX_ORIG_HDR);
                c->have_orig_part = true;
                c->human.len = was;
                c->human.data[was] = '\0';
                return;
            }
            str_appendc(&c->human, '\n');
        } else {
            c->truncated = true;
        }
    }
}

/* --------------------------------------------------------------- the original message */

/* Where a free-form bounce starts quoting the original message (line prefixes, after
 * leading spaces; case-insensitive). */
static const char *const orig_markers[] = {
    "--- Below this line is a copy of the message",
    "------ This is a copy of the message",
    "----- Original message -----",
    "----- Original Message -----",
    "------- Returned Message --------",
    "----- Unsent message follows -----",
    "------ Original message ------",
    "----- The header of the original message is following. -----",
    "--- The header of the original message is following. ---",
    "Original message follows",
    "Original message headers:",
    "------ Returned message ------",
    "----- Message header follows -----",
    "------- Original message follows",
    "--------Returned Mail--------",
    "--- Original message follows.",
    "----- Original message follows -----",
    "--Original message--",
    "Headers of the original message",
    "Content-Type: message/rfc822",
    "Included is a copy of the message header",
    "Message headers follow",
    "--- Enclosed is a copy of the message",
    "The header of the original message",
    "Your original message headers",
    "Content-Type: text/rfc822-headers",
};

/* Offset where the quoted original starts in the human text, or n. */
static size_t orig_cut(const char *s, size_t n)
{
    size_t i = 0, start = 0;
    const char *l;
    size_t ll;
    for (; next_line(s, n, &i, &l, &ll); start = i) {
        skip_sp(&l, &ll);
        for (size_t k = 0; k < sizeof orig_markers / sizeof orig_markers[0]; k++)
            if (ci_prefix(l, ll, orig_markers[k]))
                return start;
    }
    return n;
}

/* First address inside a header value ("Name <a@b>" or "a@b"), copied into tmp. */
static const char *addr_in(arena_t *tmp, const char *v)
{
    if (v == NULL)
        return NULL;
    size_t n = strlen(v), off, len;
    const char *lt = strchr(v, '<');
    size_t from = 0;
    if (lt != NULL && strchr(lt, '@') != NULL)
        from = (size_t)(lt - v) + 1;
    if (!find_addr(v, n, from, &off, &len) && !find_addr(v, n, 0, &off, &len))
        return NULL;
    return arena_strndup(tmp, v + off, len);
}

static const char *domain_of(const char *addr)
{
    if (addr == NULL)
        return NULL;
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : NULL;
}

/* DKIM-Signature tag value (RFC 6376 3.2 tag-list), copied into tmp. */
static const char *dkim_tag(arena_t *tmp, const char *v, char tag)
{
    const char *p = v;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *eq = strchr(p, '=');
        const char *semi = strchr(p, ';');
        if (eq == NULL)
            break;
        if (semi != NULL && semi < eq) {
            p = semi + 1;
            continue;
        }
        const char *name = p, *ne = eq;
        while (ne > name && is_sp(ne[-1]))
            ne--;
        const char *val = eq + 1;
        const char *ve = semi ? semi : val + strlen(val);
        if (ne - name == 1 && *name == tag) {
            while (val < ve && is_sp(*val))
                val++;
            while (ve > val && is_sp(ve[-1]))
                ve--;
            /* folding white space inside the value is removed */
            str_t t = STR_INIT;
            for (const char *q = val; q < ve; q++)
                if (!isspace((unsigned char)*q))
                    str_appendc(&t, *q);
            const char *r = arena_strndup(tmp, t.data ? t.data : "", t.len);
            str_free(&t);
            return r;
        }
        p = semi ? semi + 1 : NULL;
    }
    return NULL;
}

typedef struct orig_ids {
    const char *ip, *helo, *sender, *from, *dkim_d, *dkim_s, *msgid, *to, *subject;
} orig_ids_t;

/* Received: from NAME (... [IP]) or qmail's "from X (HELO name) (IP)". */
static void received_ids(arena_t *tmp, const char *v, orig_ids_t *o)
{
    size_t n = strlen(v);
    if (!ci_prefix(v, n, "from "))
        return;
    const char *p = v + 5;
    while (is_sp(*p))
        p++;
    size_t hl = 0;
    while (p[hl] && !isspace((unsigned char)p[hl]) && p[hl] != '(' && p[hl] != ';')
        hl++;
    const char *by = ci_find(v, n, " by ");
    size_t lim = by ? (size_t)(by - v) : n;
    const char *ip = NULL;
    size_t il = 0;
    for (size_t i = 0; i < lim; i++) {
        if (v[i] == '[' || (v[i] == '(' && i + 1 < lim && isdigit((unsigned char)v[i + 1]))) {
            size_t at, l;
            if (ip_at(v + i + 1, lim - i - 1, &at, &l)) {
                ip = v + i + 1 + at;
                il = l;
                break;
            }
        }
    }
    const char *helo_q = ci_find(v, lim, "(HELO ");
    if (helo_q == NULL)
        helo_q = ci_find(v, lim, "(EHLO ");
    if (helo_q != NULL) {
        const char *h = helo_q + 6;
        size_t l = 0;
        while (h[l] && h[l] != ')' && !isspace((unsigned char)h[l]))
            l++;
        o->helo = arena_strndup(tmp, h, l);
    } else if (hl > 0) {
        o->helo = arena_strndup(tmp, p, hl);
    }
    if (ip != NULL)
        o->ip = arena_strndup(tmp, ip, il);
}

static bool loopback_ip(const char *ip)
{
    return ip == NULL || strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

static void orig_read(ctx_t *c, const char *s, size_t n, orig_ids_t *o)
{
    flds_t f;
    /* skip to the first line that looks like a header field */
    size_t i = 0, start = 0;
    const char *l;
    size_t ll;
    for (; next_line(s, n, &i, &l, &ll); start = i) {
        size_t k = 0;
        while (k < ll && l[k] != ':' && l[k] > ' ' && l[k] < 0x7F)
            k++;
        if (k > 0 && k < ll && l[k] == ':')
            break;
    }
    fields_read(c->tmp, s + start, n - start, true, &f);
    bool recv_done = false;
    for (size_t k = 0; k < f.n; k++) {
        const fld_t *x = &f.v[k];
        if (x->name == NULL)
            break;
        if (fld_is(x, "Received") && !recv_done) {
            orig_ids_t r = {0};
            received_ids(c->tmp, x->val, &r);
            /* a hop without an address ("from NAME by ...") or from loopback is skipped */
            if (r.ip != NULL && !loopback_ip(r.ip)) {
                o->ip = r.ip;
                o->helo = r.helo;
                recv_done = true;
            }
        } else if (fld_is(x, "Return-Path") && o->sender == NULL) {
            o->sender = addr_in(c->tmp, x->val);
        } else if (fld_is(x, "From") && o->from == NULL) {
            o->from = addr_in(c->tmp, x->val);
        } else if (fld_is(x, "To") && o->to == NULL) {
            o->to = addr_in(c->tmp, x->val);
        } else if (fld_is(x, "Message-ID") && o->msgid == NULL) {
            const char *v = x->val;
            size_t l = strlen(v);
            if (l > 0 && v[0] == '<') {
                v++;
                l--;
                const char *gt = memchr(v, '>', l);
                if (gt)
                    l = (size_t)(gt - v);
            }
            o->msgid = arena_strndup(c->tmp, v, l);
        } else if (fld_is(x, "DKIM-Signature") && o->dkim_d == NULL) {
            o->dkim_d = dkim_tag(c->tmp, x->val, 'd');
            o->dkim_s = dkim_tag(c->tmp, x->val, 's');
        } else if (fld_is(x, "Subject") && o->subject == NULL) {
            char *d = g_mime_utils_header_decode_text(NULL, x->val);
            o->subject = arena_strdup(c->tmp, d ? d : x->val);
            g_free(d);
        }
    }
}

/* ------------------------------------------------------------------------- formats */

typedef struct fmt_rule {
    const char *name;
    char where; /* 'b' body text, 's' subject, 'f' From, 'h' a header name present,
                   'r' one of the first Received values, 'd' the delivery-status text */
    const char *pat;
} fmt_rule_t;

static const fmt_rule_t fmt_rules[] = {
    /* providers first: they run one of the MTAs below but word their own reports */
    {"amazonses", 'h', "X-SES-Outgoing"},
    {"amazonses", 'f', "amazonses.com"},
    {"gmx", 'f', "gmx."},
    {"mailru", 'f', "mail.ru"},
    {"mcafee", 'h', "X-NAI-Header"},
    {"zoho", 'h', "X-ZohoMail"},
    {"yandex", 'f', "yandex."},
    /* MTA software */
    {"qmail", 'b', "This is the qmail-send program"},
    {"qmail", 'b', "qmail-send program at"},
    {"gmail", 'b', "Delivery to the following recipient failed permanently"},
    {"gmail", 'b', "Google tried to deliver your message"},
    {"gmail", 'f', "mailer-daemon@googlemail.com"},
    {"office365", 'b', "Delivery has failed to these recipients or groups"},
    {"office365", 'h', "X-MS-Exchange-Message-Is-Ndr"},
    {"exchange", 'b', "did not reach the following recipient(s)"},
    {"exchange", 'b', "Delivery has failed to these recipients or distribution lists"},
    {"exchange", 'h', "X-MS-Embedded-Report"},
    {"exim", 'b', "This message was created automatically by mail delivery software"},
    {"exim", 'b', "SMTP error from remote mail server"},
    {"postfix", 'b', "This is the mail system at host"},
    {"postfix", 'b', "The Postfix program"},
    {"postfix", 'd', "X-Postfix-Queue-ID:"},
    {"postfix", 'd', "X-Postfix-Sender:"},
    {"sendmail", 'b', "----- Transcript of session follows -----"},
    {"sendmail", 'b', "The following addresses had permanent fatal errors"},
    {"yahoo", 'b', "Sorry, we were unable to deliver your message to the following address"},
    {"domino", 'b', "was not delivered to:"},
    {"domino", 'b', "Lotus Domino"},
    {"courier", 'b', "Courier mail server at"},
    {"opensmtpd", 'b', "This is the MAILER-DAEMON, please DO NOT REPLY"},
    {"opensmtpd", 'b', "An error has occurred while attempting to deliver a message"},
    {"dragonfly", 'b', "This is the DragonFly Mail Agent"},
    {"messagingserver", 'b', "This report relates to a message you sent"},
    {"notes", 'b', "Lotus Notes"},
    {"outlook", 'f', "hotmail.com"},
    {"outlook", 'f', "outlook.com"},
    {"postfix", 'r', "(Postfix)"},
    {"sendmail", 'r', "(8."},
    {"exim", 'r', "with esmtp (Exim"},
    {"exim", 'r', "(Exim "},
};

/* Bounce markers in the text (any one makes a message with recipients a free-form bounce). */
static const char *const bounce_markers[] = {
    "could not be delivered",  "couldn't be delivered",     "undeliverable",
    "undelivered",             "delivery failed",           "delivery has failed",
    "failed permanently",      "permanent error",           "permanent fatal error",
    "delivery status notification", "mail delivery failed", "returned mail",
    "wasn't able to deliver",  "was not able to deliver",   "unable to deliver",
    "not delivered",           "did not reach",             "delivery to the following",
    "mail system",             "smtp error",                "failure notice",
    "delivery failure",        "non-delivery",              "nondeliverable",
    "delivery problem",        "could not deliver",         "couldn't deliver",
    "rejected",                "user unknown",              "mailbox unavailable",
    "delivery notification",   "mailer-daemon",             "transcript of session",
    "has not been delivered",  "not yet been delivered",    "delivery incomplete",
    "delivery delayed",        "warning: message",          "message not delivered",
    "said:",                   "error occurred",            "bounce",
    "invalid user",            "no such user",              "unknown user",
};

static bool has_bounce_marker(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof bounce_markers / sizeof bounce_markers[0]; k++)
        if (ci_find(s, n, bounce_markers[k]))
            return true;
    return false;
}

static const char *detect_format(ctx_t *c, const char *body, size_t blen, const char *subj,
                                 const char *from)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(c->msg));
    int hn = g_mime_header_list_get_count(hl);
    for (size_t k = 0; k < sizeof fmt_rules / sizeof fmt_rules[0]; k++) {
        const fmt_rule_t *r = &fmt_rules[k];
        switch (r->where) {
        case 'b':
            if (ci_find(body, blen, r->pat))
                return r->name;
            break;
        case 'd':
            if (c->dsn.len > 0 && ci_find(c->dsn.data, c->dsn.len, r->pat))
                return r->name;
            break;
        case 's':
            if (subj && ci_find(subj, strlen(subj), r->pat))
                return r->name;
            break;
        case 'f':
            if (from && ci_find(from, strlen(from), r->pat))
                return r->name;
            break;
        case 'h':
            if (g_mime_header_list_contains(hl, r->pat))
                return r->name;
            break;
        case 'r':
            for (int i = 0; i < hn && i < 3; i++) {
                GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
                const char *nm = g_mime_header_get_name(h);
                const char *v = g_mime_header_get_raw_value(h);
                if (nm && v && !g_ascii_strcasecmp(nm, "Received") &&
                    ci_find(v, strlen(v), r->pat))
                    return r->name;
            }
            break;
        default:
            break;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------- DSN and ARF fields */

static bounce_action_t action_of(const char *v)
{
    static const struct {
        const char *w;
        bounce_action_t a;
    } t[] = {{"failed", BOUNCE_ACTION_FAILED},       {"failure", BOUNCE_ACTION_FAILED},
             {"delayed", BOUNCE_ACTION_DELAYED},     {"delivered", BOUNCE_ACTION_DELIVERED},
             {"deliverable", BOUNCE_ACTION_DELIVERED},
             {"relayed", BOUNCE_ACTION_RELAYED},     {"expanded", BOUNCE_ACTION_EXPANDED}};
    size_t n = strlen(v);
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        if (ci_prefix(v, n, t[k].w))
            return t[k].a;
    return BOUNCE_ACTION_NONE;
}

static void set_status(rec_t *r, const char *s, size_t n)
{
    size_t off, len;
    if (find_status(s, n, &off, &len) && len < sizeof r->status) {
        memcpy(r->status, s + off, len);
        r->status[len] = '\0';
    }
}

static void str_setz(str_t *s, const char *z)
{
    str_clear(s);
    if (z)
        str_appendz(s, z);
}

typedef struct dsn_msg {
    const char *reporting_mta, *arrival, *pf_sender;
} dsn_msg_t;

/* One per-recipient field into r; with only_unset, a field already set is kept. */
/* Is z (NUL-terminated, a field value) a bare number of 1-3 digits, blanks around? */
static bool exit_status(const char *z)
{
    size_t n = strlen(z), d = 0;
    trim(&z, &n);
    while (d < n && isdigit((unsigned char)z[d]))
        d++;
    return d > 0 && d <= 3 && d == n;
}

static void dsn_rcpt_field(rec_t *r, const fld_t *x, bool only_unset)
{
    if (fld_is(x, "Action")) {
        if (!only_unset || r->action == BOUNCE_ACTION_NONE)
            r->action = action_of(x->val);
    } else if (fld_is(x, "Status")) {
        if (!only_unset || r->status[0] == '\0') {
            set_status(r, x->val, strlen(x->val));
            /* RFC 3464 2.3.4 allows a comment after the code; some MTAs put the error
             * there when they give no Diagnostic-Code */
            const char *o = strchr(x->val, '('), *e = strrchr(x->val, ')');
            str_clear(&r->note);
            if (o != NULL && e != NULL && e > o + 1)
                str_append(&r->note, o + 1, (size_t)(e - o - 1));
        }
    } else if (fld_is(x, "Diagnostic-Code")) {
        if (!only_unset || r->diag.len == 0) {
            /* RFC 3464 2.3.6: the type says what the text is. An "X-Unix" text that is
             * only a number is a local mailer's (program's) exit status ("X-Unix; 255"),
             * which means nothing without its type: the type is kept. */
            const char *v = strip_type(x->val);
            str_setz(&r->diag, ci_prefix(x->val, strlen(x->val), "X-Unix;") && exit_status(v) ? x->val : v);
        }
    } else if (fld_is(x, "Remote-MTA")) {
        if (!only_unset || r->remote.len == 0)
            str_setz(&r->remote, strip_type(x->val));
    } else if (fld_is(x, "Last-Attempt-Date")) {
        if (!only_unset || r->last.len == 0)
            str_setz(&r->last, x->val);
    } else if (fld_is(x, "X-Actual-Recipient") && r->addr.len == 0) {
        str_setz(&r->addr, strip_type(x->val));
    }
}

static void dsn_addr(str_t *dst, const char *val)
{
    const char *v = strip_type(val);
    size_t vl = strlen(v);
    if (vl > 0 && v[0] == '<')
        v++, vl--;
    if (vl > 0 && v[vl - 1] == '>')
        vl--;
    str_clear(dst);
    str_append(dst, v, vl);
}

/*
 * RFC 3464 2.2 (per-message) and 2.3 (per-recipient) fields. Blocks are separated by blank
 * lines; a repeated Final-Recipient (or Original-Recipient) inside a block starts another
 * recipient (reports that leave out the blank line), and per-recipient fields that come
 * before the first recipient field of their block belong to that recipient. Returns the
 * records added.
 */
static size_t dsn_read(ctx_t *c, const char *s, size_t n, dsn_msg_t *m)
{
    flds_t f;
    fields_read(c->tmp, s, n, false, &f);
    size_t added = 0;
    size_t b0 = 0;
    while (b0 < f.n) {
        size_t b1 = b0;
        while (b1 < f.n && f.v[b1].name != NULL)
            b1++;
        rec_t *cur = NULL;
        size_t first_rec = SIZE_MAX, first_fld = b1;
        bool cur_final = false, cur_orig = false;
        for (size_t k = b0; k < b1; k++) {
            const fld_t *x = &f.v[k];
            if (fld_is(x, "Reporting-MTA")) {
                if (m->reporting_mta == NULL)
                    m->reporting_mta = strip_type(x->val);
                continue;
            }
            if (fld_is(x, "Arrival-Date")) {
                m->arrival = x->val;
                continue;
            }
            if (fld_is(x, "X-Postfix-Sender") || fld_is(x, "X-Original-Sender")) {
                m->pf_sender = strip_type(x->val);
                continue;
            }
            bool fin = fld_is(x, "Final-Recipient");
            bool ori = fld_is(x, "Original-Recipient");
            if (fin || ori) {
                if (cur == NULL || (fin && cur_final) || (ori && cur_orig)) {
                    cur = rec_add(c);
                    if (cur == NULL)
                        return added;
                    if (first_rec == SIZE_MAX) {
                        first_rec = c->nrecs - 1;
                        first_fld = k;
                    }
                    added++;
                    cur_final = cur_orig = false;
                }
                dsn_addr(fin ? &cur->addr : &cur->orig, x->val);
                if (fin)
                    cur_final = true;
                else
                    cur_orig = true;
                continue;
            }
            if (cur != NULL)
                dsn_rcpt_field(cur, x, false);
        }
        if (first_rec != SIZE_MAX)
            for (size_t k = b0; k < first_fld; k++)
                dsn_rcpt_field(&c->recs[first_rec], &f.v[k], true);
        b0 = b1 + 1;
    }
    return added;
}

/* ------------------------------------------------------------------- free-form reading */

/* Is [s, s+n) a field line "Name: value" of a message summary (a name of at most
 * SUMMARY_NAME_MAX letters, digits, '-', ' ', '(' or ')', then ':' and a value)? *title
 * is set when the line is a title, "Original Message:", with nothing after the colon. */
#define SUMMARY_NAME_MAX 24
static bool summary_line(const char *s, size_t n, bool *title)
{
    size_t k = 0;
    while (k < n && is_sp(s[k]))
        k++;
    size_t b = k;
    while (k < n && k - b <= SUMMARY_NAME_MAX &&
           (isalnum((unsigned char)s[k]) || s[k] == '-' || s[k] == ' ' || s[k] == '(' || s[k] == ')'))
        k++;
    if (k == b || k >= n || s[k] != ':' || k - b > SUMMARY_NAME_MAX)
        return false;
    size_t v = k + 1;
    while (v < n && is_sp(s[v]))
        v++;
    *title = v == n;
    return true;
}

/*
 * The bounce's summary of the original message ("Original Message:" / "From: ..." / "To:
 * a@b", "Message details:" / "RCPT TO: a@b"): when the address at offset at stands on a
 * To, Cc or RCPT TO line of such a block, the offset where the block starts (its title
 * line, or its first field line); SIZE_MAX otherwise. Blank lines and other text end it.
 */
static size_t summary_start(const char *s, size_t n, size_t at)
{
    if (at >= n)
        return SIZE_MAX;
    size_t ls = at;
    while (ls > 0 && s[ls - 1] != '\n')
        ls--;
    const char *l = s + ls;
    size_t k = 0;
    while (ls + k < at && is_sp(l[k]))
        k++;
    size_t ln = at - ls;
    if (!ci_prefix(l + k, ln - k, "To:") && !ci_prefix(l + k, ln - k, "Cc:") &&
        !ci_prefix(l + k, ln - k, "RCPT TO:"))
        return SIZE_MAX;
    size_t start = ls;
    for (int lines = 0; start > 0 && lines < MAX_DIAG_LINES; lines++) {
        size_t pe = start - 1, ps = pe;
        while (ps > 0 && s[ps - 1] != '\n')
            ps--;
        bool title = false;
        if (!summary_line(s + ps, pe - ps, &title))
            break;
        start = ps;
        if (title)
            return start;
    }
    return SIZE_MAX; /* no title line above the fields: not a summary */
}

static bool addr_is_daemon(const char *a, size_t n)
{
    return ci_prefix(a, n, "mailer-daemon@") || ci_prefix(a, n, "MAILER_DAEMON@");
}

/*
 * Is the line introducing a recipient? The address comes first on the line (after blanks,
 * "<", quotes, list markers or a few lead words), and the line is not a header field nor a
 * command transcript. Sets *off and *len to the address and *dfrom to where its reply text
 * starts. Returns 0 (no), 1 (an address first on the line) or 2 (after a lead that names
 * it a recipient, or Sendmail's result line: surer).
 */
static int intro_line(const char *l, size_t ll, size_t *off, size_t *len, size_t *dfrom)
{
    int kind = 1;
    size_t dummy;
    if (dfrom == NULL)
        dfrom = &dummy;
    size_t i = 0;
    while (i < ll && (is_sp(l[i]) || l[i] == '*' || l[i] == '-' || l[i] == '>' || l[i] == '"' ||
                      l[i] == '\''))
        i++;
    /* transcripts (">>> RCPT TO:<a>") are not introducers: '>' was skipped above, refuse
     * when the line started with ">>>" */
    if (ll >= 3 && (memcmp(l, ">>>", 3) == 0 || memcmp(l, "<<<", 3) == 0))
        return 0;
    /* Sendmail's per-recipient result line: "550 <a@b>... User unknown", optionally with
     * an enhanced status after the code */
    if (i == 0 && ll > 6 && (l[0] == '4' || l[0] == '5') && isdigit((unsigned char)l[1]) &&
        isdigit((unsigned char)l[2]) && (l[3] == ' ' || l[3] == '-')) {
        size_t k = 4, so, sl;
        if (find_status(l + 4, ll - 4, &so, &sl) && so == 0)
            k = 4 + sl + 1;
        if (k < ll && l[k] == '<') {
            size_t o, n;
            if (find_addr(l, ll, k + 1, &o, &n) && o == k + 1 && o + n + 4 <= ll &&
                memcmp(l + o + n, ">...", 4) == 0) {
                *off = o;
                *len = n;
                *dfrom = 0; /* the code and status before the address are the reply */
                return 2;
            }
        }
        return 0;
    }
    /* "Recipient address: a@b", "Could not be delivered to: <a@b>", "RCPT TO: a@b": a short
     * lead ending in ':' that names a recipient (not "From:", "To:", "MAIL FROM:"...) */
    size_t colon = i;
    while (colon < ll && colon - i <= 60 && l[colon] != ':' && l[colon] != '@' && l[colon] != '<')
        colon++;
    if (colon < ll && l[colon] == ':' && colon > i && colon - i <= 60) {
        const char *w = l + i;
        size_t wl = colon - i;
        static const char *const names[] = {"recipient", "address", "rcpt to", "delivered to",
                                            "addressee", "user", "mailbox", "destinat",
                                            "failed", "unknown", "sent to", "delivery to"};
        bool ok = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !ok; k++)
            ok = ci_find(w, wl, names[k]) != NULL;
        if (ci_find(w, wl, "from") || ci_find(w, wl, "sender") || ci_find(w, wl, "reply"))
            ok = false;
        if (!ok)
            return 0;
        kind = 2;
        i = colon + 1;
        while (i < ll && is_sp(l[i]))
            i++;
        if (ci_prefix(l + i, ll - i, "rfc822;")) {
            i += 7;
            while (i < ll && is_sp(l[i]))
                i++;
        }
    }
    if (i < ll && l[i] == '<')
        i++;
    size_t o, n;
    if (!find_addr(l, ll, i, &o, &n) || o != i)
        return 0;
    /* What follows the address: end, ">", ":", "...", " on <date>", "(...)", ",", or text.
     * "a@b said" style lines are still introducers. Lines like "a@b wrote:" are not. */
    size_t e = o + n;
    if (e < ll && l[e] == '>')
        e++;
    const char *rest = l + e;
    size_t rl = ll - e;
    if (ci_prefix(rest, rl, " wrote") || ci_prefix(rest, rl, " schrieb"))
        return 0;
    *off = o;
    *len = n;
    *dfrom = e;
    return kind;
}

typedef struct line {
    const char *s;
    size_t n;
} line_t;

/* Blank, or blank once its quoting ('>' of a forwarded bounce) is removed. */
static bool line_blank(line_t L)
{
    for (size_t k = 0; k < L.n; k++)
        if (!isspace((unsigned char)L.s[k]) && L.s[k] != '>')
            return 0;
    return true;
}

/* The first field of a quoted original's header section ("Return-Path:", "Received:"),
 * also behind the '>' quoting of a forwarded bounce: the reply text ends before it. */
static bool line_orig_start(line_t L)
{
    size_t k = 0;
    while (k < L.n && (is_sp(L.s[k]) || L.s[k] == '>'))
        k++;
    return ci_prefix(L.s + k, L.n - k, "Return-Path:") || ci_prefix(L.s + k, L.n - k, "Received: from ");
}

/* A separator line made only of '-', '=', '_' or '*' (at least 5): a paragraph break. */
static bool line_section(line_t L)
{
    const char *s = L.s;
    size_t n = L.n;
    trim(&s, &n);
    if (n < 5)
        return false;
    for (size_t k = 0; k < n; k++)
        if (s[k] != '-' && s[k] != '=' && s[k] != '_' && s[k] != '*')
            return false;
    return true;
}

static bool text_has_code(const char *s, size_t n)
{
    size_t o, l;
    return find_code(s, n) != 0 || find_status(s, n, &o, &l);
}

/* The lines of [s, s+n) (LF-separated), in a malloc'ed array the caller frees. */
static line_t *split_lines(const char *s, size_t n, size_t *count)
{
    size_t nl = 0, cap = 64;
    line_t *L = xmalloc(cap * sizeof *L);
    const char *l;
    size_t ll;
    for (size_t i = 0; next_line(s, n, &i, &l, &ll);) {
        if (nl == cap) {
            cap *= 2;
            L = xrealloc(L, xmul(cap, sizeof *L));
        }
        L[nl++] = (line_t){l, ll};
    }
    *count = nl;
    return L;
}

/*
 * The reply text about the address on line i (which starts at offset e of that line): the
 * rest of the line and the lines after it, up to the next introducer line, MAX_DIAG_LINES
 * lines, or the end of the first paragraph that holds a reply or status code. Appended to
 * the record's diagnostic (or returns the record, created when new); NULL at the cap.
 */
static rec_t *collect(ctx_t *c, const line_t *L, size_t nl, size_t i, const char *addr,
                      size_t al, size_t e, bool led)
{
    rec_t *r = rec_find(c, addr, al);
    if (r == NULL) {
        r = rec_add(c);
        if (r == NULL)
            return NULL;
        str_append(&r->addr, addr, al);
        r->line = i;
        r->aoff = addr >= L[i].s && addr <= L[i].s + L[i].n ? (size_t)(addr - L[i].s) : 0;
        r->at_line = true;
    }
    r->led |= led;
    str_t d = STR_INIT;
    str_append(&d, L[i].s + e, L[i].n - e);
    bool para_has_code = text_has_code(L[i].s + e, L[i].n - e);
    for (size_t j = i + 1; j < nl && j < i + 1 + MAX_DIAG_LINES; j++) {
        size_t o2, l2;
        if (intro_line(L[j].s, L[j].n, &o2, &l2, NULL) && !addr_is_daemon(L[j].s + o2, l2))
            break;
        if (line_orig_start(L[j]))
            break;
        if (line_blank(L[j]) || line_section(L[j])) {
            if (para_has_code)
                break;
            str_appendc(&d, '\n');
            continue;
        }
        str_appendc(&d, '\n');
        str_append(&d, L[j].s, L[j].n);
        if (text_has_code(L[j].s, L[j].n))
            para_has_code = true;
    }
    const char *ds = d.data ? d.data : "";
    size_t dl = d.len;
    trim(&ds, &dl);
    while (dl > 0 && (*ds == ':' || *ds == '.' || *ds == ',' || *ds == '>'))
        ds++, dl--;
    trim(&ds, &dl);
    if (dl > 0) {
        if (r->diag.len > 0)
            str_appendc(&r->diag, ' ');
        str_append(&r->diag, ds, dl);
    }
    str_free(&d);
    return r;
}

/*
 * A recipient with no text after its address: layouts that give the reason first (Lotus
 * Notes' "Failure Reasons" above the address, "The user(s) account is disabled." then
 * "<a@b>", Ipswitch IMail's "Unknown user: a@b") have it in the paragraph above the
 * address line (up to two blank lines above it) and in the lead before the address on
 * that line. Both are taken, the paragraph back to a blank line, a separator ("----- Failure Reasons -----"), another
 * recipient's line, or MAX_DIAG_LINES lines.
 */
static void text_above(rec_t *r, const line_t *L, size_t nl)
{
    if (!r->at_line || r->line >= nl || r->diag.len > 0)
        return;
    size_t i = r->line, top = i, gap = 0;
    /* blank lines right above the address line ("reason", blank, "<a@b>") */
    while (top > 0 && gap < 2 && line_blank(L[top - 1]))
        top--, gap++;
    size_t para = top;
    while (top > 0 && para - top < MAX_DIAG_LINES) {
        line_t P = L[top - 1];
        size_t o, l, k = 0;
        while (k < P.n && is_sp(P.s[k]))
            k++;
        if (line_blank(P) || line_section(P) || intro_line(P.s, P.n, &o, &l, NULL) ||
            (k + 3 <= P.n && (memcmp(P.s + k, "---", 3) == 0 || memcmp(P.s + k, "===", 3) == 0)))
            break;
        top--;
    }
    for (size_t j = top; j <= i; j++) {
        if (j >= para && j < i)
            continue; /* the blank lines skipped */
        const char *t = L[j].s;
        size_t tn = j == i ? r->aoff : L[j].n;
        if (tn > L[j].n)
            tn = L[j].n;
        trim(&t, &tn);
        while (tn > 0 && (t[tn - 1] == '<' || t[tn - 1] == ':' || t[tn - 1] == '"'))
            tn--;
        trim(&t, &tn);
        if (tn == 0)
            continue;
        if (r->diag.len > 0)
            str_appendc(&r->diag, ' ');
        str_append(&r->diag, t, tn);
    }
}

/* One recipient at offset at (length al) of [s, s+n), found by other means than an
 * introducer line: its reply text is read the same way from its line on. */
static void freeform_at(ctx_t *c, const char *s, size_t n, size_t at, size_t al)
{
    size_t nl;
    line_t *L = split_lines(s, n, &nl);
    for (size_t i = 0; i < nl; i++) {
        size_t start = (size_t)(L[i].s - s);
        if (at >= start && at + al <= start + L[i].n) {
            size_t e = at - start + al;
            if (e < L[i].n && L[i].s[e] == '>')
                e++;
            bool known = rec_find(c, s + at, al) != NULL;
            rec_t *r = collect(c, L, nl, i, s + at, al, e, true);
            if (r != NULL && !known && r->diag.len > 0) {
                /* the address inside a sentence ("Unable to deliver message to <a@b>
                 * (and other recipients ...)"): the words before it belong to the text */
                const char *t = L[i].s;
                size_t tn = at - start;
                trim(&t, &tn);
                while (tn > 0 && (t[tn - 1] == '<' || t[tn - 1] == '"'))
                    tn--;
                trim(&t, &tn);
                if (tn > 0) {
                    str_t d = STR_INIT;
                    str_append(&d, t, tn);
                    str_appendc(&d, ' ');
                    str_append(&d, r->diag.data, r->diag.len);
                    str_free(&r->diag);
                    r->diag = d;
                }
            }
            if (r != NULL)
                text_above(r, L, nl);
            break;
        }
    }
    free(L);
}

/*
 * Reads recipients and their reply text from free text [s, s+n). Each introducer line
 * starts (or, for an address seen before, continues) a record; its reply text is read by
 * collect(). A list of addresses followed by one reason gives the reason to each.
 */
static void freeform_read(ctx_t *c, const char *s, size_t n)
{
    size_t nl;
    line_t *L = split_lines(s, n, &nl);
    size_t first_added = c->nrecs, prev_end = 0;
    for (size_t i = 0; i < nl; i++) {
        size_t o, al, e;
        int how = intro_line(L[i].s, L[i].n, &o, &al, &e);
        if (how == 0)
            continue;
        const char *addr = L[i].s + o;
        if (addr_is_daemon(addr, al))
            continue;
        bool known = rec_find(c, addr, al) != NULL;
        rec_t *r = collect(c, L, nl, i, addr, al, e, how == 2);
        if (r == NULL)
            break;
        size_t sb = known ? SIZE_MAX : summary_start(s, n, (size_t)(addr - s));
        if (sb != SIZE_MAX && sb > prev_end) {
            /* "RCPT TO: a@b" in the bounce's summary of the original: the error is
             * what the bounce says before the summary */
            const char *t = s + prev_end;
            size_t tn = sb - prev_end;
            trim(&t, &tn);
            if (tn > BOUNCE_DIAG_MAX) {
                t += tn - BOUNCE_DIAG_MAX;
                tn = BOUNCE_DIAG_MAX;
            }
            if (tn > 0) {
                str_clear(&r->diag);
                str_append(&r->diag, t, tn);
            }
        }
        prev_end = (size_t)(L[i].s - s) + L[i].n;
    }
    /* A list of addresses followed by one reason: the reason goes to each of them. */
    for (size_t k = c->nrecs; k-- > first_added + 1;) {
        rec_t *r = &c->recs[k - 1];
        if (r->diag.len == 0 && c->recs[k].diag.len > 0)
            str_append(&r->diag, c->recs[k].diag.data, c->recs[k].diag.len);
    }
    for (size_t k = first_added; k < c->nrecs; k++)
        text_above(&c->recs[k], L, nl);
    for (size_t k = 0; k < c->nrecs; k++)
        c->recs[k].at_line = false; /* the line numbers are of this text only */
    free(L);
}

static bool in_list(const char *list, const char *a, size_t n)
{
    size_t ll = strlen(list), from = 0, o, l;
    while (find_addr(list, ll, from, &o, &l)) {
        if (mem_ieq(list + o, l, a, n))
            return true;
        from = o + l;
    }
    return false;
}

/*
 * Drops records that are not failed recipients: with X-Failed-Recipients (Exim) naming
 * some of those found, the others go; with several found, the bounce's own To and the
 * original's sender and From go (the text names them as the sender).
 */
static void freeform_filter(ctx_t *c, const char *xfr, const char *to, const char *s1,
                            const char *s2)
{
    bool xfr_hit = false;
    for (size_t k = 0; xfr != NULL && k < c->nrecs; k++)
        if (in_list(xfr, c->recs[k].addr.data ? c->recs[k].addr.data : "", c->recs[k].addr.len))
            xfr_hit = true;
    size_t w = 0;
    for (size_t k = 0; k < c->nrecs; k++) {
        rec_t *r = &c->recs[k];
        const char *ad = r->addr.data ? r->addr.data : "";
        bool drop = false;
        if (xfr_hit)
            drop = !in_list(xfr, ad, r->addr.len);
        else if (c->nrecs > 1)
            drop = (to && mem_ieq(ad, r->addr.len, to, strlen(to))) ||
                   (s1 && mem_ieq(ad, r->addr.len, s1, strlen(s1))) ||
                   (s2 && mem_ieq(ad, r->addr.len, s2, strlen(s2)));
        if (drop) {
            str_free(&r->addr);
            str_free(&r->orig);
            str_free(&r->diag);
            str_free(&r->remote);
            str_free(&r->last);
            str_free(&r->hint);
            continue;
        }
        c->recs[w++] = *r;
    }
    c->nrecs = w;
}

/* The command of a ">>> " transcript line ("RCPT To:<a>", "DATA", "MAIL From:<>"...). */
static const char *cmd_word(const char *l, size_t n)
{
    static const struct {
        const char *w, *cmd;
    } t[] = {{"RCPT", EX_CMD_RCPT},
             {"MAIL", EX_CMD_MAIL},
             {"DATA", EX_CMD_DATA},
             {"EHLO", EX_CMD_EHLO},
             {"HELO", EX_CMD_HELO},
             {"STARTTLS", EX_CMD_STARTTLS},
             {"AUTH", EX_CMD_AUTH},
             {"BDAT", EX_CMD_BDAT},
             {".", EX_CMD_DATA}}; /* the end-of-data dot */
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        if (ci_prefix(l, n, t[k].w))
            return t[k].cmd;
    return NULL;
}

/*
 * With pipelining (RFC 2920) a client sends RCPT and DATA together, and a transcript shows
 * a recipient's rejection after ">>> DATA"; the server's next answer then refuses DATA for
 * want of a recipient ("503 5.5.1 No valid recipients", "503 Need RCPT command"). For such
 * a reply (the transcript line ending at from), "RCPT"; else cmd.
 */
static const char *pipelined(const char *s, size_t n, size_t from, const char *cmd)
{
    if (!ex_command_is(cmd, EX_CMD_DATA))
        return cmd;
    const char *l;
    size_t ll;
    for (size_t i = from, lines = 0; lines < 4 && next_line(s, n, &i, &l, &ll); lines++) {
        skip_sp(&l, &ll);
        if (ll > 4 && memcmp(l, ">>> ", 4) == 0)
            break;
        if (ll > 7 && memcmp(l, "<<< 503", 7) == 0 &&
            (ci_find(l, ll, "rcpt") || ci_find(l, ll, "recipient")))
            return EX_CMD_RCPT;
    }
    return cmd;
}

/*
 * The command a session transcript (Sendmail, Courier: ">>> command" / "<<< reply") shows
 * the recipient's rejection answering: the last ">>> " line before a "<<< " line that names
 * the address, or ">>> RCPT To:<address>" itself; with a single recipient and a single
 * command sent in the transcript, that command.
 */
static const char *transcript_command(const char *s, size_t n, const char *addr, size_t al,
                                      const char *diag, size_t dl, bool single)
{
    const char *last = NULL, *only = NULL;
    size_t sent = 0;
    const char *l;
    size_t ll;
    for (size_t i = 0; next_line(s, n, &i, &l, &ll);) {
        skip_sp(&l, &ll);
        if (ll > 4 && memcmp(l, ">>> ", 4) == 0) {
            last = cmd_word(l + 4, ll - 4);
            if (last != NULL) {
                sent++;
                only = last;
                if (ex_command_is(last, EX_CMD_RCPT) && ci_find(l, ll, addr) && al > 0)
                    return EX_CMD_RCPT;
            }
        } else if (ll > 4 && memcmp(l, "<<< ", 4) == 0 && last != NULL) {
            const char *q = ci_find(l, ll, addr);
            if (q != NULL && al > 0)
                return pipelined(s, n, i, last); /* i: the line after this one */
            /* the reply the record's diagnostic quotes (a DSN whose Final-Recipient is an
             * alias of the address the transcript names) */
            char rep[41];
            size_t rl = ll - 4 < sizeof rep - 1 ? ll - 4 : sizeof rep - 1;
            memcpy(rep, l + 4, rl);
            rep[rl] = '\0';
            if (rl >= 12 && memchr(rep, '\0', rl) == NULL && diag != NULL && ci_find(diag, dl, rep))
                return pipelined(s, n, i, last);
        }
    }
    return single && sent == 1 ? only : NULL;
}

/*
 * Postfix's transcript in a notice to the postmaster ("In: RCPT TO:<a@b>", "Out: 250 2.1.5
 * Ok", "In: DATA", "Out: 451 4.3.0 Error ..."), read from a record's text (lines joined):
 * the command of the last "In:" before the first failing (4xx, 5xx) "Out:" reply.
 */
static const char *inout_command(const char *s, size_t n)
{
    const char *last = NULL;
    for (size_t i = 0; i + 4 < n; i++) {
        if (i > 0 && s[i - 1] != ' ' && s[i - 1] != '\n')
            continue;
        if (memcmp(s + i, "In:", 3) == 0) {
            size_t k = i + 3;
            while (k < n && is_sp(s[k]))
                k++;
            const char *c = cmd_word(s + k, n - k);
            last = c != NULL ? c : last;
        } else if (memcmp(s + i, "Out:", 4) == 0 && last != NULL) {
            size_t k = i + 4;
            while (k < n && is_sp(s[k]))
                k++;
            if (k + 3 <= n && (s[k] == '4' || s[k] == '5') && isdigit((unsigned char)s[k + 1]) &&
                isdigit((unsigned char)s[k + 2]))
                return last;
        }
    }
    return NULL;
}

/* Fills code, status, command, action and remote MTA of a record from its diagnostic. */
/*
 * The command the text says the recipient's reply answered, read in the paragraphs that
 * name the address (at most CMD_MENTIONS of them), else, with one recipient in the
 * bounce, in the whole text.
 */
#define CMD_MENTIONS 8
static const char *command_near(const char *s, size_t n, const char *addr, size_t al,
                                bool one_rcpt)
{
    char pat[BOUNCE_FIELD_MAX + 1];
    if (al == 0 || al > BOUNCE_FIELD_MAX || memchr(addr, '\0', al) != NULL)
        return one_rcpt ? find_command(s, n) : NULL;
    memcpy(pat, addr, al);
    pat[al] = '\0';
    size_t from = 0;
    for (int k = 0; k < CMD_MENTIONS && from < n; k++) {
        const char *q = ci_find(s + from, n - from, pat);
        if (q == NULL)
            break;
        size_t at = (size_t)(q - s);
        size_t b = at, e = at;
        while (b > 0 && !(s[b - 1] == '\n' && b >= 2 && s[b - 2] == '\n'))
            b--;
        while (e < n && !(s[e] == '\n' && e + 1 < n && s[e + 1] == '\n'))
            e++;
        const char *c = find_command(s + b, e - b);
        if (c != NULL)
            return c;
        from = e > at + al ? e : at + al;
    }
    return one_rcpt ? find_command(s, n) : NULL;
}

/* The diagnostic on one line: runs of white space become one space (done once). */
static void diag_fold(rec_t *r)
{
    if (r->diag.len == 0)
        return;
    size_t w = 0;
    bool sp = true;
    for (size_t k = 0; k < r->diag.len; k++) {
        char ch = r->diag.data[k];
        if (isspace((unsigned char)ch)) {
            if (!sp)
                r->diag.data[w++] = ' ';
            sp = true;
        } else {
            r->diag.data[w++] = ch;
            sp = false;
        }
    }
    while (w > 0 && r->diag.data[w - 1] == ' ')
        w--;
    r->diag.len = w;
    r->diag.data[w] = '\0';
}

/* The command the record's diagnostic names (find_command), read once: the diagnostic must
 * be final (a DSN's, after dsn_read) when this is first called. */
static const char *diag_command(rec_t *r)
{
    if (!r->diag_command_read) {
        diag_fold(r);
        r->diag_command = find_command(r->diag.data, r->diag.len);
        r->diag_command_read = true;
    }
    return r->diag_command;
}

static void rec_from_text(rec_t *r, const char *whole, size_t wn, bool single, bool one_rcpt)
{
    diag_fold(r);
    const char *d = r->diag.data ? r->diag.data : "";
    size_t n = r->diag.len;
    int dc;
    char ds[sizeof r->status];
    code_status(d, n, &dc, ds, sizeof ds);
    /* Sendmail's "554 <a@b>... 550 Host unknown": the code after the address is the
     * remote's answer, the first one Sendmail's own summary */
    if (dc != 0 && ds[0] == '\0' && n > 6 && d[0] == (char)('0' + dc / 100)) {
        const char *q = memchr(d, '>', n);
        if (q != NULL && (size_t)(d + n - q) > 5 && memcmp(q, ">... ", 5) == 0) {
            size_t at = (size_t)(q + 5 - d);
            int inner = code_at(d, n, at);
            if (inner != 0)
                dc = inner;
        }
    }
    if (dc == 0 && ds[0] == '\0' && r->hint.len > 0) {
        /* from the human text: a code, and a status only where the report gave none */
        code_status(r->hint.data, r->hint.len, &dc, ds, sizeof ds);
        if (r->status[0] != '\0')
            ds[0] = '\0';
    }
    if (dc == 0 && ds[0] == '\0' && whole != NULL && single) {
        /* one recipient and no code in its paragraph: the bounce's text as a whole */
        code_status(whole, wn, &dc, ds, sizeof ds);
    }
    if (r->code == 0)
        r->code = dc;
    /* the status in the reply text is more precise than a DSN's Status field (often a
     * generic "5.0.0", or "4.4.7" for a delay whose cause the text names) */
    if (ds[0] != '\0')
        memcpy(r->status, ds, sizeof ds);
    /* Postfix: "connect to host[192.0.2.1]:25: Connection refused" */
    if (r->command == NULL && ci_prefix(d, n, "connect to "))
        r->command = EX_CMD_CONN;
    if (r->command == NULL)
        r->command = inout_command(d, n);
    if (r->command == NULL)
        r->command = diag_command(r);
    if (r->command == NULL && r->hint.len > 0)
        r->command = find_command(r->hint.data, r->hint.len);
    if (r->command == NULL && whole != NULL && r->addr.len > 0)
        r->command = transcript_command(whole, wn, r->addr.data, r->addr.len, d, n, single);
    if (r->command == NULL && whole != NULL && r->addr.len > 0) {
        /* "RCPT To:<address>" anywhere in the text (a transcript without ">>> ") */
        str_t pat = STR_INIT;
        str_appendz(&pat, "RCPT To:<");
        str_append(&pat, r->addr.data, r->addr.len);
        if (ci_find(whole, wn, str_cstr(&pat)))
            r->command = EX_CMD_RCPT;
        str_free(&pat);
    }
    if (r->command == NULL && whole != NULL)
        r->command = command_near(whole, wn, r->addr.data ? r->addr.data : "", r->addr.len,
                                  one_rcpt);
    if (r->remote.len == 0) {
        /* "host NAME[IP] said:" (Postfix), "remote host NAME [IP]", "while talking to NAME." */
        static const char *const lead[] = {"host ", "while talking to ", "remote server ",
                                           "Generating server: ", "Remote Server at ", "by "};
        for (size_t k = 0; k < sizeof lead / sizeof lead[0] && r->remote.len == 0; k++) {
            const char *q = ci_find(d, n, lead[k]);
            if (q == NULL)
                continue;
            q += strlen(lead[k]);
            size_t l = 0;
            while (q + l < d + n && (isalnum((unsigned char)q[l]) || q[l] == '.' || q[l] == '-'))
                l++;
            while (l > 0 && q[l - 1] == '.')
                l--;
            if (l > 3 && memchr(q, '.', l) != NULL)
                str_append(&r->remote, q, l);
        }
    }
    if (r->action == BOUNCE_ACTION_NONE) {
        char cls = r->status[0] ? r->status[0] : r->code ? (char)('0' + r->code / 100) : '5';
        if (cls == '4' || ci_find(d, n, "will continue trying") || ci_find(d, n, "will keep trying") ||
            ci_find(d, n, "not yet been delivered") || ci_find(d, n, "delivery delayed"))
            r->action = cls == '5' ? BOUNCE_ACTION_FAILED : BOUNCE_ACTION_DELAYED;
        else if (cls == '2')
            r->action = BOUNCE_ACTION_DELIVERED;
        else
            r->action = BOUNCE_ACTION_FAILED;
    }
}

/* A client address the reply text names ("Client host [1.2.3.4]", "[1.2.3.4] is listed",
 * "your IP 1.2.3.4"): an address in brackets not right after a host name. */
static const char *client_ip_in(arena_t *tmp, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '[')
            continue;
        if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-'))
            continue; /* "host.example[192.0.2.1]": the remote server, not the client */
        size_t at, l;
        if (ip_at(s + i + 1, n - i - 1, &at, &l) && i + 1 + at + l < n &&
            s[i + 1 + at + l] == ']') {
            /* only when the words before say it is the client */
            size_t b = i > 40 ? i - 40 : 0;
            const char *win = s + b;
            size_t wl = i - b;
            size_t end = i + 2 + at + l; /* after the ']' */
            size_t after = n - end < 40 ? n - end : 40;
            const char *aw = s + end;
            if (ci_find(win, wl, "client") || ci_find(win, wl, "your ip") ||
                ci_find(win, wl, "sender ip") || ci_find(win, wl, "connecting ip") ||
                ci_find(win, wl, "from ip") || ci_find(aw, after, "listed") ||
                ci_find(aw, after, "blocked") || ci_find(aw, after, "banned") ||
                ci_find(aw, after, "blacklisted") || ci_find(aw, after, "not allowed") ||
                ci_find(win, wl, "access denied"))
                return arena_strndup(tmp, s + i + 1 + at, l);
        }
    }
    /* unbracketed, right after words that name the client: "Messages from 192.0.2.1
     * temporarily deferred", "your IP 192.0.2.1", "Client host 192.0.2.1" */
    static const char *const lead[] = {"messages from ", "mail from ip ", "your ip ", "your ip address ",
                                       "sending ip ", "client host ", "client ip ", "sender ip ",
                                       "connecting ip ", "from ip "};
    for (size_t k = 0; k < sizeof lead / sizeof lead[0]; k++) {
        const char *q = ci_find(s, n, lead[k]);
        while (q != NULL) {
            size_t at = (size_t)(q - s) + strlen(lead[k]), skip, l;
            if (at < n && (s[at] == '(' || s[at] == '"'))
                at++;
            if (at < n && ip_at(s + at, n - at, &skip, &l))
                return arena_strndup(tmp, s + at + skip, l);
            size_t next = (size_t)(q - s) + 1;
            q = next < n ? ci_find(s + next, n - next, lead[k]) : NULL;
        }
    }
    return NULL;
}

/* ------------------------------------------------------- Amazon SES JSON notifications */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Amazon SES event notifications (JSON, sent by e-mail through SNS, possibly wrapped in an
 * SNS envelope whose "Message" is the JSON as a string): "Bounce", "Complaint" and
 * "Delivery" events. Returns the kind read, or BOUNCE_KIND_NONE.
 */
static bounce_kind_t ses_read(ctx_t *c, const char *t, size_t n, orig_ids_t *oi,
                              const char **fbtype, const char **rmta)
{
    const char *p = NULL;
    for (size_t i = 0; i < n; i++)
        if (t[i] == '{' && (i == 0 || t[i - 1] == '\n')) {
            p = t + i;
            break;
        }
    if (p == NULL || (!ci_find(p, n - (size_t)(p - t), "notificationType") &&
                      !ci_find(p, n - (size_t)(p - t), "eventType")))
        return BOUNCE_KIND_NONE;
    /* Lines longer than SMTP allows were broken by a relay as "!" + CRLF + " " (Sendmail's
     * way); JSON has no line breaks of its own, so every break and such a mark goes. */
    str_t j = STR_INIT;
    for (size_t i = (size_t)(p - t); i < n; i++) {
        if (t[i] == '!' && i + 1 < n && t[i + 1] == '\n')
            continue;
        if (t[i] == '\n') {
            if (i + 1 < n && t[i + 1] == '\n')
                break; /* the end of the paragraph holding the JSON */
            while (i + 1 < n && is_sp(t[i + 1]))
                i++;
            continue;
        }
        str_appendc(&j, t[i]);
    }
    json_error_t err;
    json_t *root = j.len > 0 ? json_loadb(j.data, j.len, JSON_DISABLE_EOF_CHECK, &err) : NULL;
    str_free(&j);
    if (root == NULL)
        return BOUNCE_KIND_NONE;
    const char *inner = jstr(root, "Message");
    if (inner != NULL) {
        json_t *r2 = json_loads(inner, JSON_DISABLE_EOF_CHECK, &err);
        json_decref(root);
        root = r2;
        if (root == NULL)
            return BOUNCE_KIND_NONE;
    }
    const char *type = jstr(root, "notificationType");
    if (type == NULL)
        type = jstr(root, "eventType");
    bounce_kind_t kind = BOUNCE_KIND_NONE;
    json_t *mail = json_object_get(root, "mail");
    if (type != NULL && json_is_object(mail)) {
        const char *src = jstr(mail, "source");
        if (src != NULL)
            oi->sender = arena_strdup(c->tmp, src);
        const char *ip = jstr(mail, "sourceIp");
        if (ip != NULL)
            oi->ip = arena_strdup(c->tmp, ip);
        json_t *ch = json_object_get(mail, "commonHeaders");
        const char *subj = jstr(ch, "subject");
        if (subj != NULL)
            oi->subject = arena_strdup(c->tmp, subj);
        json_t *to = json_object_get(ch, "to");
        if (json_is_array(to) && json_is_string(json_array_get(to, 0)))
            oi->to = addr_in(c->tmp, json_string_value(json_array_get(to, 0)));
        json_t *fr = json_object_get(ch, "from");
        if (json_is_array(fr) && json_is_string(json_array_get(fr, 0)))
            oi->from = addr_in(c->tmp, json_string_value(json_array_get(fr, 0)));
        const char *mid = jstr(ch, "messageId");
        if (mid != NULL)
            oi->msgid = arena_strdup(c->tmp, mid);
    }
    if (type != NULL && !g_ascii_strcasecmp(type, "Bounce")) {
        json_t *b = json_object_get(root, "bounce");
        json_t *list = json_object_get(b, "bouncedRecipients");
        const char *rm = jstr(b, "reportingMTA");
        if (rm != NULL)
            *rmta = arena_strdup(c->tmp, strip_type(rm));
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            rec_t *r = rec_for(c, jstr(e, "emailAddress"));
            if (r == NULL)
                continue;
            const char *st = jstr(e, "status");
            if (st != NULL)
                set_status(r, st, strlen(st));
            const char *ac = jstr(e, "action");
            if (ac != NULL)
                r->action = action_of(ac);
            const char *dg = jstr(e, "diagnosticCode");
            if (dg != NULL)
                str_appendz(&r->diag, strip_type(dg));
        }
        kind = BOUNCE_KIND_DSN;
    } else if (type != NULL && !g_ascii_strcasecmp(type, "Complaint")) {
        json_t *cp = json_object_get(root, "complaint");
        const char *ft = jstr(cp, "complaintFeedbackType");
        /* an SES complaint is a recipient's "this is spam": RFC 5965 "abuse" unless the
         * notification names the feedback type */
        *fbtype = arena_strdup(c->tmp, ft != NULL ? ft : "abuse");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(cp, "complainedRecipients"), i, e)
            rec_for(c, jstr(e, "emailAddress"));
        kind = BOUNCE_KIND_ARF;
    } else if (type != NULL && !g_ascii_strcasecmp(type, "Delivery")) {
        json_t *d = json_object_get(root, "delivery");
        const char *resp = jstr(d, "smtpResponse");
        const char *rm = jstr(d, "reportingMTA");
        if (rm != NULL)
            *rmta = arena_strdup(c->tmp, strip_type(rm));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(d, "recipients"), i, e) {
            rec_t *r = rec_for(c, json_string_value(e));
            if (r == NULL)
                continue;
            r->action = BOUNCE_ACTION_DELIVERED;
            if (resp != NULL)
                str_appendz(&r->diag, resp);
        }
        kind = BOUNCE_KIND_DSN;
    }
    json_decref(root);
    if (c->nrecs == 0)
        kind = BOUNCE_KIND_NONE;
    return kind;
}

/* ------------------------------------------------------------------------ auto-replies */

/*
 * The value of the header field name of o, unfolded and trimmed, copied into tmp; NULL when
 * absent. Taken from the raw value (GMime decodes a value, encoded words and all, when it
 * is asked for the decoded one; none of the fields read this way needs that).
 */
static const char *hdr_raw(arena_t *tmp, GMimeObject *o, const char *name)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    GMimeHeader *h = hl != NULL ? g_mime_header_list_get_header(hl, name) : NULL;
    const char *raw = h != NULL ? g_mime_header_get_raw_value(h) : NULL;
    if (raw == NULL)
        return NULL;
    size_t n = strlen(raw);
    char *out = arena_alloc(tmp, n + 1);
    size_t o2 = 0;
    for (size_t i = 0; i < n; i++)
        if (raw[i] != '\n' && raw[i] != '\r')
            out[o2++] = raw[i];
    const char *v = out;
    size_t vl = o2;
    trim(&v, &vl);
    ((char *)v)[vl] = '\0';
    return v;
}

/* Is the message an unsubscribe request made by a mail program: X-Apple-Unsubscribe:
 * true, or an automatic message (Auto-Submitted other than "no") whose subject is only
 * "unsubscribe"? */
static bool unsubscribe_request(arena_t *tmp, GMimeMessage *m, const char *subj)
{
    GMimeObject *o = GMIME_OBJECT(m);
    const char *au = hdr_raw(tmp, o, "X-Apple-Unsubscribe");
    if (au != NULL) {
        size_t n = strlen(au);
        trim(&au, &n);
        if (n == 4 && ci_prefix(au, n, "true"))
            return true;
    }
    const char *as = hdr_raw(tmp, o, "Auto-Submitted");
    if (as == NULL || subj == NULL)
        return false;
    size_t an = strlen(as), sn = strlen(subj);
    trim(&as, &an);
    trim(&subj, &sn);
    return an > 0 && !(an == 2 && ci_prefix(as, an, "no")) && sn == 11 && ci_prefix(subj, sn, "unsubscribe");
}

static bool is_autoreply(arena_t *tmp, GMimeMessage *m, const char *subj)
{
    GMimeObject *o = GMIME_OBJECT(m);
    const char *as = hdr_raw(tmp, o, "Auto-Submitted");
    if (as != NULL && ci_prefix(as, strlen(as), "auto-replied"))
        return true;
    GMimeHeaderList *hl = g_mime_object_get_header_list(o);
    if (g_mime_header_list_contains(hl, "X-Autoreply") ||
        g_mime_header_list_contains(hl, "X-Autorespond") ||
        g_mime_header_list_contains(hl, "X-Vacation"))
        return true;
    const char *prec = hdr_raw(tmp, o, "Precedence");
    if (prec != NULL && ci_find(prec, strlen(prec), "auto_reply"))
        return true;
    if (subj != NULL) {
        static const char *const pats[] = {"out of office", "out of the office", "automatic reply",
                                           "auto reply", "autoreply", "auto-reply", "vacation",
                                           "away until", "away from", "abwesenheit",
                                           "absence", "auto:", "autosvar", "automatische antwort",
                                           "自動応答", "不在", "réponse automatique"};
        size_t n = strlen(subj);
        for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++)
            if (ci_find(subj, n, pats[k]))
                return true;
    }
    if (as != NULL && ci_prefix(as, strlen(as), "auto-generated") && subj != NULL &&
        ci_find(subj, strlen(subj), "away"))
        return true;
    return false;
}

/* ------------------------------------------------------------- mailing list refusals */

/* What a list manager says when it refuses a post. */
static const char *const list_refusals[] = {
    "not a member",          "are not member",       "not member of",
    "only members",          "members only",         "not allowed to post",
    "posting is restricted", "loop alert",           "duplicated message-id",
};

/*
 * A mailing list manager's answer refusing a post (fml, and others that mark their mail
 * with list fields): the message carries X-MLServer or X-ML-Name, or List-Id / Mailing-List
 * with an owner or admin sender, and its text says why the post was refused. One record:
 * the list, as the first address in angle brackets in the text (else the first address
 * that is not the bounce's addressee), with the refusing line as its text.
 */
static bool list_refusal(ctx_t *c, GMimeMessage *msg, const char *t, size_t n, const char *to)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    bool manager = g_mime_header_list_contains(hl, "X-MLServer") ||
                   g_mime_header_list_contains(hl, "X-ML-Name");
    if (!manager && (g_mime_header_list_contains(hl, "List-Id") ||
                     g_mime_header_list_contains(hl, "Mailing-List"))) {
        const char *f = hdr_raw(c->tmp, GMIME_OBJECT(msg), "From");
        size_t fl = f != NULL ? strlen(f) : 0;
        manager = f != NULL && (ci_find(f, fl, "-admin@") || ci_find(f, fl, "-owner@") ||
                                ci_find(f, fl, "owner-") || ci_find(f, fl, "-request@"));
    }
    if (!manager || n == 0)
        return false;
    const char *why = NULL;
    for (size_t k = 0; k < sizeof list_refusals / sizeof list_refusals[0] && why == NULL; k++)
        why = ci_find(t, n, list_refusals[k]);
    if (why == NULL)
        return false;
    size_t o = 0, l = 0, from = 0;
    bool found = false;
    for (int pass = 0; pass < 2 && !found; pass++)
        for (from = 0; find_addr(t, n, from, &o, &l); from = o + l)
            if ((pass == 1 || (o > 0 && t[o - 1] == '<')) &&
                !(to != NULL && mem_ieq(t + o, l, to, strlen(to)))) {
                found = true;
                break;
            }
    if (!found)
        return false;
    rec_t *r = rec_add(c);
    if (r == NULL)
        return false;
    str_append(&r->addr, t + o, l);
    size_t b = (size_t)(why - t), e = b;
    while (b > 0 && t[b - 1] != '\n')
        b--;
    while (e < n && t[e] != '\n')
        e++;
    str_append(&r->diag, t + b, e - b);
    return true;
}

/* ------------------------------------------------------------------------- the parser */

static void out_empty(bounce_t *out)
{
    memset(out, 0, sizeof *out);
    out->format = out->reporting_mta = out->subject = out->from = out->arrival_date = "";
    out->feedback_type = out->source_ip = "";
    bounce_orig_t *o = &out->orig;
    o->sending_ip = o->helo = o->sender = o->sender_domain = o->from_domain = "";
    o->dkim_domain = o->dkim_selector = o->message_id = o->recipient = o->subject = "";
}

const char *bounce_kind_name(bounce_kind_t k)
{
    switch (k) {
    case BOUNCE_KIND_DSN: return "dsn";
    case BOUNCE_KIND_FREEFORM: return "freeform";
    case BOUNCE_KIND_ARF: return "arf";
    case BOUNCE_KIND_AUTOREPLY: return "autoreply";
    default: return "none";
    }
}

const char *bounce_action_name(bounce_action_t a)
{
    switch (a) {
    case BOUNCE_ACTION_FAILED: return "failed";
    case BOUNCE_ACTION_DELAYED: return "delayed";
    case BOUNCE_ACTION_DELIVERED: return "delivered";
    case BOUNCE_ACTION_RELAYED: return "relayed";
    case BOUNCE_ACTION_EXPANDED: return "expanded";
    default: return "";
    }
}

void bounce_shutdown(void)
{
    if (parser != NULL) {
        g_object_unref(parser);
        parser = NULL;
    }
    if (parser_idle != NULL) {
        g_object_unref(parser_idle);
        parser_idle = NULL;
    }
    if (gmime_ready) {
        g_mime_shutdown();
        gmime_ready = false;
    }
}

/*
 * Copies buf into a fresh buffer: CRLF and lone CR become LF, NUL and C0 controls other than
 * TAB, LF and ESC become spaces, a leading mbox "From " line is dropped. ESC stays: it is
 * part of the 7-bit ISO 2022 charsets (ISO-2022-JP), which are decoded later; every string
 * handed out replaces what is left of it. Returns the length.
 */
static size_t normalise(const unsigned char *buf, size_t len, char *out)
{
    size_t i = 0, o = 0;
    if (len >= 5 && memcmp(buf, "From ", 5) == 0) {
        while (i < len && buf[i] != '\n' && buf[i] != '\r')
            i++;
        if (i < len && buf[i] == '\r')
            i++;
        if (i < len && buf[i] == '\n')
            i++;
    }
    if (memchr(buf + i, '\r', len - i) == NULL) {
        /* no CR (the usual case): copied whole, then control bytes replaced in place; eight
         * bytes at a time are tested for one below 0x20 or equal to 0x7F */
        size_t n = len - i;
        memcpy(out, buf + i, n);
        const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
        size_t k = 0;
        for (; k + 8 <= n; k += 8) {
            uint64_t w;
            memcpy(&w, out + k, 8);
            uint64_t low = (w - ones * 0x20) & ~w & high;     /* a byte < 0x20 */
            uint64_t del = ((w ^ (ones * 0x7F)) - ones) & ~(w ^ (ones * 0x7F)) & high; /* 0x7F */
            if ((low | del) == 0)
                continue;
            for (size_t j = k; j < k + 8; j++) {
                unsigned char ch = (unsigned char)out[j];
                if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != 0x1B) || ch == 0x7F)
                    out[j] = ' ';
            }
        }
        for (; k < n; k++) {
            unsigned char ch = (unsigned char)out[k];
            if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != 0x1B) || ch == 0x7F)
                out[k] = ' ';
        }
        return n;
    }
    for (; i < len; i++) {
        unsigned char ch = buf[i];
        if (ch == '\r') {
            out[o++] = '\n';
            if (i + 1 < len && buf[i + 1] == '\n')
                i++;
        } else if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != 0x1B) || ch == 0x7F) {
            out[o++] = ' ';
        } else {
            out[o++] = (char)ch;
        }
    }
    return o;
}

/* Does the text start with a header field ("Name:" with a printable name)? */
static bool starts_with_header(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] > ' ' && s[i] < 0x7F && s[i] != ':')
        i++;
    return i > 0 && i < n && s[i] == ':';
}

static const char *copy_or_empty(arena_t *a, const char *z, size_t max)
{
    return z == NULL ? "" : clean_z(a, z, max);
}

static int parse_at(const unsigned char *buf, size_t len, arena_t *a, bounce_t *out, int depth);

/* The length of the line ending (LF, CRLF or CR) just before offset at; 0 when none. */
static size_t eol_before(const unsigned char *b, size_t at)
{
    if (at >= 2 && b[at - 2] == '\r' && b[at - 1] == '\n')
        return 2;
    if (at >= 1 && (b[at - 1] == '\n' || b[at - 1] == '\r'))
        return 1;
    return 0;
}

/* The offset of the next message appended in mbox form after offset from, or n when none:
 * a "From " line in its full form after a blank line, or, in a buffer that starts with a
 * "From " line (an mbox), also right after the last line of the message before it, as
 * some stores write it. A forwarded bounce quoted in a message's text keeps its "From "
 * line below a separator, not after a blank line, and stays part of the message. */
static size_t next_appended(const unsigned char *b, size_t n, size_t from)
{
    bool mbox = n >= 5 && memcmp(b, "From ", 5) == 0;
    for (size_t i = from; i + 5 <= n;) {
        const unsigned char *f = memchr(b + i, 'F', n - i);
        if (f == NULL)
            break;
        size_t at = (size_t)(f - b);
        size_t e1 = eol_before(b, at);
        if (e1 > 0 && at + 5 <= n && memcmp(f, "From ", 5) == 0 &&
            (mbox || eol_before(b, at - e1) > 0) &&
            mbox_from_line(b, n, at) >= 5 + 2 + 24) /* a byte more than mbox_split asks */
            return at;
        i = at + 1;
    }
    return n;
}

/*
 * A buffer may hold messages appended one after the other in mbox form (a store that wrote
 * a second bounce after the first without an mbox "From " line at the top). Each one is
 * read; the recipients of later bounces of the same kind are added to the first's.
 */
int bounce_parse(const unsigned char *buf, size_t len, arena_t *a, bounce_t *out)
{
    if (buf == NULL || len == 0 || len > BOUNCE_INPUT_MAX)
        return parse_at(buf, len, a, out, 0);
    size_t end = next_appended(buf, len, 1);
    if (end == len)
        return parse_at(buf, len, a, out, 0);
    if (parse_at(buf, end, a, out, 0) != 0)
        return parse_at(buf, len, a, out, 0);
    for (int k = 0; end < len; k++) {
        if (k == BOUNCE_APPENDED_MAX) {
            out->truncated = true;
            break;
        }
        size_t s = end; /* at the "From " line, which parse_at() skips */
        end = next_appended(buf, len, s + 1);
        bounce_t more;
        if (parse_at(buf + s, end - s, a, &more, 0) != 0 || more.nrcpts == 0)
            continue;
        if (out->kind == BOUNCE_KIND_NONE) {
            *out = more;
            continue;
        }
        bool merge = (out->kind == BOUNCE_KIND_DSN || out->kind == BOUNCE_KIND_FREEFORM) &&
                     (more.kind == BOUNCE_KIND_DSN || more.kind == BOUNCE_KIND_FREEFORM);
        if (!merge)
            continue;
        size_t add = more.nrcpts;
        if (out->nrcpts + add > BOUNCE_RCPT_MAX) {
            add = BOUNCE_RCPT_MAX - out->nrcpts;
            out->truncated = true;
        }
        if (add == 0)
            continue;
        bounce_rcpt_t *v = arena_calloc(a, out->nrcpts + add, sizeof *v);
        if (out->nrcpts > 0)
            memcpy(v, out->rcpts, out->nrcpts * sizeof *v);
        memcpy(v + out->nrcpts, more.rcpts, add * sizeof *v);
        out->rcpts = v;
        out->nrcpts += add;
        out->truncated |= more.truncated;
    }
    return 0;
}

/* A line that opens a MIME part the parser could not split: "--" and a boundary token (no
 * blanks), followed by a part header (Content-...). Separator lines of dashes followed by
 * text are not delimiters. */
static bool delimiter_before_part(const char *l, size_t ll, const char *rest, size_t rn)
{
    if (ll < 3 || l[0] != '-' || l[1] != '-')
        return false;
    for (size_t k = 2; k < ll; k++)
        if (is_sp((unsigned char)l[k]))
            return false;
    return ci_prefix(rest, rn, "content-");
}

/*
 * Appends the body of a message whose MIME structure could not be read (a multipart whose
 * boundary parameter was lost to a broken header fold) without the part delimiters and the
 * part headers, so that the text the parts carry reads as one text. Delimiter lines are
 * recognised by their token, learnt where a delimiter opens a part; at most MAX_HUMAN_TEXT
 * bytes are appended.
 */
static void append_without_mime_lines(str_t *dst, const char *s, size_t n)
{
    const char *tok[8];
    size_t tokn[8], ntok = 0;
    bool in_headers = false;
    const char *l;
    size_t ll, i = 0;
    while (next_line(s, n, &i, &l, &ll) && dst->len < MAX_HUMAN_TEXT) {
        if (in_headers) {
            if (ll == 0)
                in_headers = false;
            continue;
        }
        if (delimiter_before_part(l, ll, s + i, n - i)) {
            if (ntok < 8) {
                tok[ntok] = l + 2;
                tokn[ntok++] = ll - 2;
            }
            in_headers = true;
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < ntok && !known; k++)
            known = ll >= 2 + tokn[k] && l[0] == '-' && l[1] == '-' &&
                    memcmp(l + 2, tok[k], tokn[k]) == 0 &&
                    (ll == 2 + tokn[k] || (ll == 4 + tokn[k] && l[ll - 1] == '-' && l[ll - 2] == '-'));
        if (known)
            continue;
        size_t room = MAX_HUMAN_TEXT - dst->len;
        size_t take = l + ll < s + n ? ll + 1 : ll; /* with its line end */
        str_append(dst, l, take < room ? take : room);
    }
}

/* depth: 0 for the message given, 1 for a message attached to it (read when the message
 * itself is no report: a bounce forwarded as an attachment). */
static int parse_at(const unsigned char *buf, size_t len, arena_t *a, bounce_t *out, int depth)
{
    out_empty(out);
    if (buf == NULL || len == 0 || len > BOUNCE_INPUT_MAX)
        return -1;
    if (!gmime_ready) {
        g_mime_init();
        gmime_ready = true;
    }
    /* the normalised copy is the parser's stream buffer: the parts' contents are views of
     * it (no copies), and it is freed with the last object that refers to it */
    GByteArray *ba = g_byte_array_sized_new((guint)len + 1);
    g_byte_array_set_size(ba, (guint)len + 1);
    char *norm = (char *)ba->data;
    size_t nlen = normalise(buf, len, norm);
    norm[nlen] = '\0';
    g_byte_array_set_size(ba, (guint)nlen);
    if (!starts_with_header(norm, nlen)) {
        g_byte_array_free(ba, TRUE);
        return -1;
    }
    GMimeStream *st = g_mime_stream_mem_new_with_byte_array(ba); /* owns ba */
    if (parser == NULL)
        parser = g_mime_parser_new();
    g_mime_parser_init_with_stream(parser, st);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    /* the parser lets go of the stream; the message's parts keep it while they need it */
    g_mime_parser_init_with_stream(parser, empty_stream());
    if (msg == NULL) {
        g_object_unref(st);
        return -1;
    }
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    if (hl == NULL || g_mime_header_list_get_count(hl) == 0) {
        g_object_unref(msg);
        g_object_unref(st);
        return -1;
    }

    ctx_t c;
    memset(&c, 0, sizeof c);
    c.tmp = arena_new();
    c.msg = msg;
    c.buf = norm;
    c.buflen = nlen;
    walk(&c, g_mime_message_get_mime_part(msg), 0);
    c.buf = NULL;
    if (c.human.len == 0 && c.html.len == 0 && c.dsn.len == 0 && c.arf.len == 0) {
        /* nothing readable in the MIME structure (e.g. a multipart without its boundary
         * lines): the raw body after the header section is the text */
        const char *body = NULL;
        for (size_t k = 0; k + 1 < nlen; k++)
            if (norm[k] == '\n' && norm[k + 1] == '\n') {
                body = norm + k;
                break;
            }
        if (body != NULL)
            append_without_mime_lines(&c.human, body + 2, nlen - (size_t)(body + 2 - norm));
    }
    g_object_unref(st);
    norm = NULL;

    const char *subj = g_mime_message_get_subject(msg);
    const char *from_hdr = hdr_raw(c.tmp, GMIME_OBJECT(msg), "From");
    const char *to_hdr = hdr_raw(c.tmp, GMIME_OBJECT(msg), "To");
    const char *from = addr_in(c.tmp, from_hdr);
    const char *to = addr_in(c.tmp, to_hdr);
    out->subject = copy_or_empty(a, subj, BOUNCE_FIELD_MAX);
    out->from = copy_or_empty(a, from, BOUNCE_FIELD_MAX);

    /* the human text, without the quoted original (which becomes the original's headers) */
    str_t *hs = c.human.len > 0 ? &c.human : &c.html;
    const char *ht = hs->data ? hs->data : "";
    size_t hn = hs->len;
    size_t cut = orig_cut(ht, hn);
    if (!c.have_orig_part && cut < hn) {
        /* skip the marker line itself */
        size_t k = cut;
        while (k < hn && ht[k] != '\n')
            k++;
        size_t take = hn - k < MAX_ORIG_HDR ? hn - k : MAX_ORIG_HDR;
        str_append(&c.orig, ht + k, take);
    }
    size_t body_n = cut;

    orig_ids_t oi = {0};
    if (c.orig.len > 0)
        orig_read(&c, c.orig.data, c.orig.len, &oi);

    const char *fmt = detect_format(&c, ht, hn, subj, from);
    dsn_msg_t dm = {0};
    bounce_kind_t kind = BOUNCE_KIND_NONE;

    /* ARF (RFC 5965 3.1) */
    const char *ctype_report = NULL;
    GMimeContentType *ct = g_mime_object_get_content_type(g_mime_message_get_mime_part(msg));
    if (ct != NULL)
        ctype_report = g_mime_content_type_get_parameter(ct, "report-type");
    if (c.arf.len == 0 && ci_find(ht, body_n, "Feedback-Type:") &&
        (ctype_report == NULL || !g_ascii_strcasecmp(ctype_report, "feedback-report")) &&
        ci_find(ht, body_n, "User-Agent:") != NULL) {
        const char *p = ci_find(ht, body_n, "Feedback-Type:");
        str_append(&c.arf, p, body_n - (size_t)(p - ht));
    }
    if (c.arf.len > 0) {
        flds_t f;
        fields_read(c.tmp, c.arf.data, c.arf.len, false, &f);
        const char *ft = flds_get(&f, "Feedback-Type");
        if (ft != NULL) {
            kind = BOUNCE_KIND_ARF;
            fmt = "arf";
            out->feedback_type = clean_z(a, ft, BOUNCE_FIELD_MAX);
            out->source_ip = copy_or_empty(a, flds_get(&f, "Source-IP"), BOUNCE_FIELD_MAX);
            const char *rm = flds_get(&f, "Reporting-MTA");
            if (rm)
                out->reporting_mta = clean_z(a, strip_type(rm), BOUNCE_FIELD_MAX);
            out->arrival_date = copy_or_empty(a, flds_get(&f, "Arrival-Date"), BOUNCE_FIELD_MAX);
            const char *omf = flds_get(&f, "Original-Mail-From");
            if (omf != NULL && oi.sender == NULL)
                oi.sender = addr_in(c.tmp, omf);
            for (size_t k = 0; k < f.n; k++) {
                if (!fld_is(&f.v[k], "Original-Rcpt-To") && !fld_is(&f.v[k], "Removal-Recipient"))
                    continue;
                const char *ad = addr_in(c.tmp, f.v[k].val);
                if (ad == NULL || rec_find(&c, ad, strlen(ad)))
                    continue;
                rec_t *r = rec_for(&c, ad);
                if (r == NULL)
                    break;
                if (oi.to == NULL)
                    oi.to = ad;
            }
            if (c.nrecs == 0) {
                rec_t *r = rec_add(&c);
                const char *ad = oi.to ? oi.to : to;
                if (r != NULL && ad != NULL)
                    str_appendz(&r->addr, ad);
            }
            if (out->source_ip[0] && oi.ip == NULL)
                oi.ip = out->source_ip;
        }
    }

    /* Microsoft's complaint loop (JMRP): "complaint about message from IP" with the
     * reported message attached, in place of an RFC 5965 report */
    if (kind == BOUNCE_KIND_NONE && subj != NULL && c.have_orig_part &&
        ci_find(subj, strlen(subj), "complaint about message from ")) {
        kind = BOUNCE_KIND_ARF;
        fmt = "arf";
        out->feedback_type = "abuse";
        const char *ipq = ci_find(subj, strlen(subj), "complaint about message from ") + 29;
        size_t iat, il;
        if (ip_at(ipq, strlen(ipq), &iat, &il)) {
            out->source_ip = clean_copy(a, ipq + iat, il, BOUNCE_FIELD_MAX);
            oi.ip = arena_strndup(c.tmp, ipq + iat, il);
        }
        rec_t *r = rec_add(&c);
        if (r != NULL && oi.to != NULL)
            str_appendz(&r->addr, oi.to);
    }

    /* Amazon SES notifications in JSON */
    if (kind == BOUNCE_KIND_NONE && c.dsn.len == 0 && ci_find(ht, body_n, "notificationType")) {
        const char *fb = NULL, *rm = NULL;
        kind = ses_read(&c, ht, body_n, &oi, &fb, &rm);
        if (kind != BOUNCE_KIND_NONE) {
            fmt = "amazonses";
            if (fb != NULL)
                out->feedback_type = clean_z(a, fb, BOUNCE_FIELD_MAX);
            if (rm != NULL)
                dm.reporting_mta = rm;
        }
    }

    /* RFC 3464: message/delivery-status, or its fields in a text part */
    if (kind == BOUNCE_KIND_NONE) {
        size_t added = 0, human_n = body_n;
        if (c.dsn.len > 0)
            added = dsn_read(&c, c.dsn.data, c.dsn.len, &dm);
        if (added == 0) {
            const char *p = ci_find(ht, body_n, "Final-Recipient:");
            if (p == NULL)
                p = ci_find(ht, body_n, "Original-Recipient:");
            if (p != NULL && ci_find(ht, body_n, "Action:") && ci_find(ht, body_n, "Status:")) {
                /* start the block at the beginning of its paragraph (Reporting-MTA first) */
                const char *rm = ci_find(ht, (size_t)(p - ht), "Reporting-MTA:");
                const char *b = rm ? rm : p;
                added = dsn_read(&c, b, body_n - (size_t)(b - ht), &dm);
                /* the human text is what comes before the fields */
                if (added > 0)
                    human_n = (size_t)(b - ht);
            }
        }
        if (added > 0) {
            kind = BOUNCE_KIND_DSN;
            /* Recipients without a diagnostic take the human text said about them. For the
             * others that text is a hint: the code a diagnostic lacks (Sendmail's "X-Unix;
             * 77") and the SMTP command, which Postfix states only in the human part
             * ("(in reply to RCPT TO command)"). The command read in a diagnostic here is
             * kept in its record for rec_from_text. */
            size_t ndsn = c.nrecs;
            bool need = false;
            for (size_t k = 0; k < ndsn; k++)
                if (c.recs[k].diag.len == 0 || !text_has_code(c.recs[k].diag.data, c.recs[k].diag.len) ||
                    diag_command(&c.recs[k]) == NULL)
                    need = true;
            if (need && human_n > 0) {
                ctx_t h;
                memset(&h, 0, sizeof h);
                h.tmp = c.tmp;
                freeform_read(&h, ht, human_n);
                for (size_t k = 0; k < ndsn; k++) {
                    rec_t *r = &c.recs[k];
                    bool empty = r->diag.len == 0;
                    rec_t *m = rec_find(&h, r->addr.data ? r->addr.data : "", r->addr.len);
                    if (m == NULL && r->orig.len > 0)
                        m = rec_find(&h, r->orig.data, r->orig.len);
                    if (m == NULL && h.nrecs == 1 && ndsn == 1)
                        m = &h.recs[0];
                    str_t *dst = empty ? &r->diag : &r->hint;
                    if (m != NULL && m->diag.len > 0)
                        str_append(dst, m->diag.data, m->diag.len);
                    else if (empty && r->note.len > 0)
                        str_append(dst, r->note.data, r->note.len);
                    else if (ndsn == 1)
                        str_append(dst, ht, human_n < BOUNCE_DIAG_MAX ? human_n : BOUNCE_DIAG_MAX);
                }
                recs_free(&h);
            }
            for (size_t k = 0; k < ndsn; k++)
                if (c.recs[k].diag.len == 0 && c.recs[k].note.len > 0)
                    str_append(&c.recs[k].diag, c.recs[k].note.data, c.recs[k].note.len);
            if (fmt == NULL)
                fmt = "rfc3464";
        }
    }

    /* free text */
    const char *xfr = hdr_raw(c.tmp, GMIME_OBJECT(msg), "X-Failed-Recipients");
    /* the raw From: "MAILER-DAEMON" alone has no address */
    const char *fromv = from != NULL ? from : from_hdr;
    bool daemon_from = fromv != NULL && (ci_find(fromv, strlen(fromv), "mailer-daemon") ||
                                         ci_prefix(fromv, strlen(fromv), "postmaster") ||
                                         ci_find(fromv, strlen(fromv), "daemon"));
    bool strong = xfr != NULL || daemon_from || fmt != NULL;
    bool autoreply = is_autoreply(c.tmp, msg, subj);
    bool marker = has_bounce_marker(ht, body_n) || (subj && has_bounce_marker(subj, strlen(subj)));
    if (kind == BOUNCE_KIND_NONE && (strong || marker)) {
        freeform_read(&c, ht, body_n);
        freeform_filter(&c, xfr, to, oi.sender, oi.from);
        if (xfr != NULL && c.nrecs == 0) {
            /* X-Failed-Recipients (Exim): the authoritative list. */
            size_t xl = strlen(xfr), from_i = 0, o, l;
            size_t before = c.nrecs;
            while (find_addr(xfr, xl, from_i, &o, &l)) {
                if (rec_find(&c, xfr + o, l) == NULL) {
                    /* its reply text: read from where the text names it, else the text */
                    str_t pat = STR_INIT;
                    str_append(&pat, xfr + o, l);
                    const char *q = ci_find(ht, body_n, str_cstr(&pat));
                    str_free(&pat);
                    if (q != NULL) {
                        freeform_at(&c, ht, body_n, (size_t)(q - ht), l);
                    } else {
                        rec_t *r = rec_add(&c);
                        if (r == NULL)
                            break;
                        str_append(&r->addr, xfr + o, l);
                        str_append(&r->diag, ht, body_n < BOUNCE_DIAG_MAX ? body_n : BOUNCE_DIAG_MAX);
                    }
                }
                from_i = o + l;
            }
            (void)before;
        }
        if (c.nrecs == 0 && (strong || (subj && has_bounce_marker(subj, strlen(subj)) &&
                                        has_bounce_marker(ht, body_n)))) {
            /* No layout matched: the first address in angle brackets (after "RCPT TO:" when
             * the text has one), else the first address at all, that is neither the
             * bounce's sender nor its addressee; else the original's To. */
            const char *rc = ci_find(ht, body_n, "RCPT TO:");
            size_t start = rc ? (size_t)(rc - ht) : 0;
            size_t o = 0, l = 0;
            bool found = false;
            for (int pass = 0; pass < 2 && !found; pass++) {
                size_t from_i = start;
                while (find_addr(ht, body_n, from_i, &o, &l)) {
                    bool bracketed = o > 0 && ht[o - 1] == '<';
                    if ((pass == 1 || bracketed) && !addr_is_daemon(ht + o, l) &&
                        !(to && mem_ieq(ht + o, l, to, strlen(to))) &&
                        !(from && mem_ieq(ht + o, l, from, strlen(from)))) {
                        found = true;
                        break;
                    }
                    from_i = o + l;
                }
            }
            size_t sb = found ? summary_start(ht, body_n, o) : SIZE_MAX;
            const char *before = ht;
            size_t bn = sb != SIZE_MAX ? sb : 0;
            trim(&before, &bn);
            if (found && bn > 0) {
                /* the address is in the bounce's summary of the original message: the
                 * error is what the bounce says before that summary */
                rec_t *r = rec_add(&c);
                if (r != NULL) {
                    str_append(&r->addr, ht + o, l);
                    r->led = true;
                    if (bn > BOUNCE_DIAG_MAX) {
                        before += bn - BOUNCE_DIAG_MAX;
                        bn = BOUNCE_DIAG_MAX;
                    }
                    str_append(&r->diag, before, bn);
                }
            } else if (found) {
                freeform_at(&c, ht, body_n, o, l);
            } else if (oi.to != NULL && strong) {
                rec_t *r = rec_for(&c, oi.to);
                if (r != NULL)
                    str_append(&r->diag, ht, body_n < BOUNCE_DIAG_MAX ? body_n : BOUNCE_DIAG_MAX);
            }
        }
        /* Without a strong sign (X-Failed-Recipients, a MAILER-DAEMON sender, a known
         * MTA's wording), a message that only sounds like a bounce (an auto-reply, a
         * person's mail with words such as "rejected") must carry a reply or status code
         * for some recipient, or name it a recipient ("Could not be delivered to: <a@b>"),
         * which an auto-reply's own words do not suffice for. */
        bool coded = false, led = false;
        for (size_t k = 0; k < c.nrecs; k++) {
            coded |= c.recs[k].diag.len > 0 && text_has_code(c.recs[k].diag.data, c.recs[k].diag.len);
            led |= c.recs[k].led;
        }
        if (c.nrecs > 0 && (strong || coded || (led && !autoreply)))
            kind = BOUNCE_KIND_FREEFORM;
        else
            recs_free(&c);
    }

    /* a mailing list manager refusing a post (not a member, a loop) */
    if (kind == BOUNCE_KIND_NONE && list_refusal(&c, msg, ht, body_n, to)) {
        kind = BOUNCE_KIND_FREEFORM;
        fmt = g_mime_header_list_contains(g_mime_object_get_header_list(GMIME_OBJECT(msg)),
                                          "X-MLServer")
                  ? "fml"
                  : "mailinglist";
    }

    /* An unsubscribe request that a mail program sends by itself to a List-Unsubscribe
     * mailto address (RFC 2369 3.2; Apple Mail marks it X-Apple-Unsubscribe: true, with
     * Auto-Submitted set and the subject "unsubscribe"): an opt-out report, one record for
     * the person leaving, not an auto-reply. */
    if (kind == BOUNCE_KIND_NONE && from != NULL && unsubscribe_request(c.tmp, msg, subj)) {
        kind = BOUNCE_KIND_ARF;
        fmt = "unsubscribe";
        out->feedback_type = "opt-out";
        rec_t *r = rec_for(&c, from);
        if (r != NULL)
            str_append(&r->diag, ht, body_n < BOUNCE_DIAG_MAX ? body_n : BOUNCE_DIAG_MAX);
    }

    /* RFC 3834 auto-reply */
    if (kind == BOUNCE_KIND_NONE && autoreply) {
        kind = BOUNCE_KIND_AUTOREPLY;
        fmt = "rfc3834";
        rec_t *r = rec_for(&c, from);
        if (r != NULL)
            str_append(&r->diag, ht, body_n < BOUNCE_DIAG_MAX ? body_n : BOUNCE_DIAG_MAX);
    }

    if (kind == BOUNCE_KIND_NONE) {
        recs_free(&c);
    }

    /* per-recipient details from the text */
    for (size_t k = 0; k < c.nrecs; k++) {
        rec_t *r = &c.recs[k];
        if (kind == BOUNCE_KIND_ARF || kind == BOUNCE_KIND_AUTOREPLY) {
            r->action = BOUNCE_ACTION_NONE;
            continue;
        }
        rec_from_text(r, ht, body_n, c.nrecs == 1 && kind == BOUNCE_KIND_FREEFORM, c.nrecs == 1);
    }

    /* evidence: a client address the receiver names in its reply is what it judged, so it
     * comes before the Received: field of the returned original (which, in a bounce made
     * by the sender's own MTA, shows the hop before it) */
    if (kind != BOUNCE_KIND_ARF) {
        const char *said = NULL;
        for (size_t k = 0; k < c.nrecs && said == NULL; k++)
            if (c.recs[k].diag.len > 0)
                said = client_ip_in(c.tmp, c.recs[k].diag.data, c.recs[k].diag.len);
        if (said != NULL)
            oi.ip = said;
    }
    const char *sender = oi.sender;
    if ((sender == NULL || *sender == '\0') && dm.pf_sender != NULL)
        sender = addr_in(c.tmp, dm.pf_sender);
    if (sender == NULL || *sender == '\0')
        sender = oi.from;
    out->orig.sending_ip = copy_or_empty(a, oi.ip, BOUNCE_FIELD_MAX);
    out->orig.helo = copy_or_empty(a, oi.helo, BOUNCE_FIELD_MAX);
    out->orig.sender = copy_or_empty(a, sender, BOUNCE_FIELD_MAX);
    out->orig.sender_domain = copy_or_empty(a, domain_of(sender), BOUNCE_FIELD_MAX);
    out->orig.from_domain = copy_or_empty(a, domain_of(oi.from), BOUNCE_FIELD_MAX);
    out->orig.dkim_domain = copy_or_empty(a, oi.dkim_d, BOUNCE_FIELD_MAX);
    out->orig.dkim_selector = copy_or_empty(a, oi.dkim_s, BOUNCE_FIELD_MAX);
    out->orig.message_id = copy_or_empty(a, oi.msgid, BOUNCE_FIELD_MAX);
    out->orig.recipient = copy_or_empty(a, oi.to, BOUNCE_FIELD_MAX);
    out->orig.subject = copy_or_empty(a, oi.subject, BOUNCE_FIELD_MAX);
    if (dm.reporting_mta != NULL && out->reporting_mta[0] == '\0')
        out->reporting_mta = clean_z(a, dm.reporting_mta, BOUNCE_FIELD_MAX);
    if (dm.arrival != NULL && out->arrival_date[0] == '\0')
        out->arrival_date = clean_z(a, dm.arrival, BOUNCE_FIELD_MAX);

    out->kind = kind;
    out->format = kind == BOUNCE_KIND_NONE ? "" : fmt ? fmt : "";
    out->truncated = c.truncated;
    if (c.nrecs > 0) {
        out->rcpts = arena_calloc(a, c.nrecs, sizeof *out->rcpts);
        for (size_t k = 0; k < c.nrecs; k++) {
            rec_t *r = &c.recs[k];
            bounce_rcpt_t *o = &out->rcpts[out->nrcpts];
            const char *ad = r->addr.data ? r->addr.data : "";
            size_t al = r->addr.len;
            trim(&ad, &al);
            if (al == 0 && r->orig.len > 0) {
                ad = r->orig.data;
                al = r->orig.len;
            }
            o->recipient = clean_copy(a, ad, al, BOUNCE_FIELD_MAX);
            o->original_recipient = clean_copy(a, r->orig.data, r->orig.len, BOUNCE_FIELD_MAX);
            o->action = r->action;
            o->status = arena_strdup(a, r->status);
            o->reply_code = r->code;
            o->diagnostic = clean_copy(a, r->diag.data, r->diag.len, BOUNCE_DIAG_MAX);
            o->remote_mta = clean_copy(a, r->remote.data, r->remote.len, BOUNCE_FIELD_MAX);
            o->command = r->command ? r->command : "";
            o->last_attempt = clean_copy(a, r->last.data, r->last.len, BOUNCE_FIELD_MAX);
            out->nrcpts++;
        }
    }

    recs_free(&c);
    str_free(&c.human);
    str_free(&c.html);
    str_free(&c.dsn);
    str_free(&c.arf);
    str_free(&c.orig);
    arena_free(c.tmp);
    if (kind == BOUNCE_KIND_NONE && c.attached != NULL && depth == 0) {
        /* a bounce forwarded as an attachment: the attached message is read as one */
        char *inner = g_mime_object_to_string(GMIME_OBJECT(c.attached), NULL);
        if (inner != NULL) {
            bounce_t ib;
            size_t il = strlen(inner);
            if (parse_at((const unsigned char *)inner, il, a, &ib, depth + 1) == 0 &&
                ib.kind != BOUNCE_KIND_NONE && ib.kind != BOUNCE_KIND_AUTOREPLY) {
                *out = ib;
            }
            g_free(inner);
        }
    }
    if (c.attached != NULL)
        g_object_unref(c.attached);
    g_object_unref(msg);
    return 0;
}
