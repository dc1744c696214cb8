/*
 * mailbox: see mailbox.h. The mbox reader walks the buffer line by line once; a line ends
 * at LF, CRLF or a lone CR. Separator rule (mboxrd): "From " at the start of the buffer, or
 * at the start of a line that follows an empty line. The empty line before a separator
 * belongs to the format, not to the message, and is dropped.
 */
#include "explain/mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/mem.h"
#include "util/str.h"

typedef struct lnr {
    size_t start, len, next; /* line [start, start+len), next line at next */
} lnr_t;

/* The line at i. has_cr: the buffer holds a CR somewhere; without one, the line end is
 * found with memchr. */
static void line_at(const unsigned char *b, size_t n, size_t i, bool has_cr, lnr_t *l)
{
    size_t e;
    if (!has_cr) {
        const unsigned char *nl = memchr(b + i, '\n', n - i);
        e = nl != NULL ? (size_t)(nl - b) : n;
    } else {
        e = i;
        while (e < n && b[e] != '\n' && b[e] != '\r')
            e++;
    }
    l->start = i;
    l->len = e - i;
    if (e < n && b[e] == '\r') {
        e++;
        if (e < n && b[e] == '\n')
            e++;
    } else if (e < n) {
        e++;
    }
    l->next = e;
}

size_t mailbox_copy_lf(unsigned char *dst, const unsigned char *src, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            dst[o++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n')
                i++;
        } else {
            dst[o++] = src[i];
        }
    }
    return o;
}

/* A buffer that is not an mbox: one message from its first non-blank line on, copied
 * once, line endings made LF and the last line ended. */
static long single_message(const unsigned char *buf, size_t len, bool has_cr, arena_t *a,
                           mbox_msg_t **msgs)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\n' || buf[i] == '\r'))
        i++;
    if (i == len)
        return 0;
    size_t n = len - i;
    unsigned char *d = arena_alloc(a, n + 2);
    size_t o;
    if (has_cr) {
        o = mailbox_copy_lf(d, buf + i, n);
    } else {
        memcpy(d, buf + i, n);
        o = n;
    }
    if (d[o - 1] != '\n')
        d[o++] = '\n';
    d[o] = '\0';
    mbox_msg_t *out = arena_calloc(a, 1, sizeof *out);
    out->data = d;
    out->len = o;
    *msgs = out;
    return 1;
}

static bool is_from(const unsigned char *b, const lnr_t *l)
{
    return l->len >= 5 && memcmp(b + l->start, "From ", 5) == 0;
}

/*
 * A "From " line is taken as a separator without an empty line before it only in its full
 * form (see mailbox.h): some stores append a message right after the last line of the one
 * before.
 */
size_t mbox_from_line(const unsigned char *b, size_t n, size_t i)
{
    static const char days[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (i > n || n - i < 5 || memcmp(b + i, "From ", 5) != 0)
        return 0;
    size_t e = i;
    while (e < n && e - i <= MAILBOX_FROM_LINE_MAX && b[e] != '\n' && b[e] != '\r')
        e++;
    size_t len = e - i;
    if (len > MAILBOX_FROM_LINE_MAX || len < 5 + 1 + 24 || e == n)
        return 0;
    size_t k = i + 5;
    while (k < e && b[k] != ' ')
        k++; /* the sender */
    while (k < e && b[k] == ' ')
        k++;
    /* "Www Mmm", a weekday and a month name as in an asctime() date */
    if (k + 7 > e || b[k + 3] != ' ')
        return 0;
    bool d = false, m = false;
    for (size_t j = 0; j + 3 <= sizeof days - 1 && !d; j += 3)
        d = memcmp(b + k, days + j, 3) == 0;
    for (size_t j = 0; j + 3 <= sizeof months - 1 && !m; j += 3)
        m = memcmp(b + k + 4, months + j, 3) == 0;
    if (!d || !m || memchr(b + k + 7, ':', e - (k + 7)) == NULL)
        return 0;
    for (size_t j = e - 4; j < e; j++)
        if (b[j] < '0' || b[j] > '9')
            return 0;
    /* the next line: "Name:" */
    size_t j = e + (b[e] == '\r' && e + 1 < n && b[e + 1] == '\n' ? 2 : 1), h = j;
    while (h < n && b[h] > ' ' && b[h] < 0x7F && b[h] != ':')
        h++;
    return h > j && h < n && b[h] == ':' ? len : 0;
}

/* ">From ", ">>From "...: mboxrd quoting. */
static bool is_quoted_from(const unsigned char *b, const lnr_t *l)
{
    size_t k = 0;
    while (k < l->len && b[l->start + k] == '>')
        k++;
    return k > 0 && l->len - k >= 5 && memcmp(b + l->start + k, "From ", 5) == 0;
}

static void finish(arena_t *a, str_t *cur, mbox_msg_t *m, bool before_sep)
{
    /* the blank line before the next separator belongs to the format */
    if (before_sep && cur->len > 1 && cur->data[cur->len - 1] == '\n' &&
        cur->data[cur->len - 2] == '\n')
        cur->len--;
    unsigned char *d = arena_alloc(a, cur->len + 1);
    if (cur->len)
        memcpy(d, cur->data, cur->len);
    d[cur->len] = '\0';
    m->data = d;
    m->len = cur->len;
    str_clear(cur);
}

long mbox_split(const unsigned char *buf, size_t len, arena_t *a, mbox_msg_t **msgs,
                const char **err)
{
    *msgs = NULL;
    if (len > MAILBOX_INPUT_MAX) {
        *err = "mbox larger than the input limit";
        return -1;
    }
    if (buf == NULL || len == 0)
        return 0;
    bool has_cr = memchr(buf, '\r', len) != NULL;
    bool mbox = len >= 5 && memcmp(buf, "From ", 5) == 0;
    if (!mbox)
        return single_message(buf, len, has_cr, a, msgs);
    /* first pass: count separators, to size the array once */
    size_t count = 0;
    bool prev_blank = true;
    lnr_t l;
    for (size_t i = 0; i < len; i = l.next) {
        line_at(buf, len, i, has_cr, &l);
        if (is_from(buf, &l) && (i == 0 || prev_blank || mbox_from_line(buf, len, l.start) > 0))
            count++;
        prev_blank = l.len == 0;
    }
    if (count == 0)
        return 0;
    if (count > MAILBOX_MSGS_MAX) {
        *err = "mbox holds more messages than the limit";
        return -1;
    }
    mbox_msg_t *out = arena_calloc(a, count, sizeof *out);
    str_t cur = STR_INIT;
    size_t n = 0;
    bool started = false;
    prev_blank = true;
    for (size_t i = 0; i < len; i = l.next) {
        line_at(buf, len, i, has_cr, &l);
        if (is_from(buf, &l) && (i == 0 || prev_blank || mbox_from_line(buf, len, l.start) > 0)) {
            if (started && n < count)
                finish(a, &cur, &out[n++], prev_blank);
            started = true;
            prev_blank = false;
            continue;
        }
        prev_blank = l.len == 0;
        if (is_quoted_from(buf, &l))
            str_append(&cur, buf + l.start + 1, l.len - 1);
        else
            str_append(&cur, buf + l.start, l.len);
        str_appendc(&cur, '\n');
    }
    if (started && n < count)
        finish(a, &cur, &out[n++], false);
    str_free(&cur);
    *msgs = out;
    return (long)n;
}

typedef struct names {
    char **v;
    size_t n, cap;
} names_t;

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Appends the regular files of dir (sorted) to out. Returns 0, 1 when dir does not exist,
 * -1 on error. */
static int list_dir(const char *dir, names_t *out, const char **err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 1;
        *err = "cannot open the directory";
        return -1;
    }
    size_t first = out->n;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t need = strlen(dir) + 1 + strlen(e->d_name) + 1;
        if (need > MAILBOX_PATH_MAX) {
            *err = "path longer than the limit";
            rc = -1;
            break;
        }
        char *p = xmalloc(need);
        snprintf(p, need, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (out->n >= MAILDIR_FILES_MAX) {
            free(p);
            *err = "more files than the limit";
            rc = -1;
            break;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->v = xrealloc(out->v, xmul(out->cap, sizeof *out->v));
        }
        out->v[out->n++] = p;
    }
    closedir(d);
    if (rc == 0 && out->n > first) /* qsort may not be given a NULL array, even empty */
        qsort(out->v + first, out->n - first, sizeof *out->v, cmp_names);
    return rc;
}

long maildir_list(const char *dir, arena_t *a, const char ***paths, const char **err)
{
    *paths = NULL;
    if (dir == NULL || strlen(dir) + 5 > MAILBOX_PATH_MAX) {
        *err = "path longer than the limit";
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *err = "not a directory";
        return -1;
    }
    names_t nm = {0};
    char sub[MAILBOX_PATH_MAX];
    int rc_cur, rc_new;
    snprintf(sub, sizeof sub, "%s/cur", dir);
    rc_cur = list_dir(sub, &nm, err);
    rc_new = rc_cur < 0 ? -1 : (snprintf(sub, sizeof sub, "%s/new", dir), list_dir(sub, &nm, err));
    int rc = 0;
    if (rc_cur < 0 || rc_new < 0)
        rc = -1;
    else if (rc_cur == 1 && rc_new == 1)
        rc = list_dir(dir, &nm, err) < 0 ? -1 : 0;
    long count = -1;
    if (rc == 0) {
        const char **v = arena_calloc(a, nm.n ? nm.n : 1, sizeof *v);
        for (size_t i = 0; i < nm.n; i++)
            v[i] = arena_strdup(a, nm.v[i]);
        *paths = v;
        count = (long)nm.n;
    }
    for (size_t i = 0; i < nm.n; i++)
        free(nm.v[i]);
    free(nm.v);
    return count;
}

int mailbox_read_file(const char *path, unsigned char **buf, size_t *len, const char **err)
{
    *buf = NULL;
    *len = 0;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        *err = "cannot open the file";
        return -1;
    }
    size_t cap = 65536, n = 0;
    unsigned char *b = xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap >= MAILBOX_FILE_MAX) {
                /* one more byte tells a file of exactly the limit from a larger one */
                int ch = fgetc(f);
                if (ch == EOF)
                    break;
                free(b);
                if (!is_stdin)
                    fclose(f);
                *err = "file larger than the limit";
                return -1;
            }
            cap = cap * 2 > MAILBOX_FILE_MAX ? MAILBOX_FILE_MAX : cap * 2;
            b = xrealloc(b, cap + 1);
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                free(b);
                if (!is_stdin)
                    fclose(f);
                *err = "read error";
                return -1;
            }
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}
