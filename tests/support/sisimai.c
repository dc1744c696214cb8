/* sisimai: see sisimai.h. */
#include "sisimai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/mailbox.h"
#include "util/arena.h"
#include "util/mem.h"

const char *const sisimai_boxes[SISIMAI_NBOXES] = {"mbox-0", "mbox-1", "size-0", "size-1",
                                                   "size-2"};

static const char *const maildirs[] = {"bsd", "dos", "mac", "err", "not", "tmp"};

const char *sisimai_dir(void)
{
    static char dir[1024];
    if (dir[0] == '\0') {
        const char *src = getenv("MB_SOURCE_DIR");
        snprintf(dir, sizeof dir, "%s/../shared/testsuites/bounces-sisimai",
                 src != NULL ? src : ".");
    }
    return dir;
}

size_t split_tabs(char *line, char **f, size_t max)
{
    line[strcspn(line, "\r\n")] = '\0';
    size_t n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (t == NULL) break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

long sisimai_expected(sisimai_row_t **rows)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/expected.tsv", sisimai_dir());
    FILE *fp = fopen(path, "r");
    *rows = NULL;
    if (fp == NULL) return -1;
    char line[4096];
    size_t n = 0, cap = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        if (line[0] == '#') continue;
        char *col[10];
        if (split_tabs(line, col, 10) < 8) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            *rows = xrealloc(*rows, xmul(cap, sizeof **rows));
        }
        (*rows)[n++] = (sisimai_row_t){xstrdup(col[0]), atoi(col[2]), xstrdup(col[3]),
                                       xstrdup(col[4]), xstrdup(col[5]), xstrdup(col[7])};
    }
    fclose(fp);
    return (long)n;
}

void sisimai_expected_free(sisimai_row_t *rows, long n)
{
    for (long i = 0; i < n; i++) {
        free(rows[i].sample);
        free(rows[i].status);
        free(rows[i].code);
        free(rows[i].reason);
        free(rows[i].feedback);
    }
    free(rows);
}

static char errbuf[2400];

static long failed(const char *path, const char *why, const char **err)
{
    snprintf(errbuf, sizeof errbuf, "%s: %s", path, why);
    *err = errbuf;
    return -1;
}

long sisimai_for_each_sample(sisimai_fn fn, void *ctx, const char **err)
{
    long calls = 0;
    for (size_t d = 0; d < sizeof maildirs / sizeof maildirs[0]; d++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/set-of-emails/maildir/%s", sisimai_dir(), maildirs[d]);
        arena_t *la = arena_new();
        const char **paths;
        const char *why = NULL;
        long n = maildir_list(dir, la, &paths, &why);
        if (n < 0) {
            arena_free(la);
            return failed(dir, why, err);
        }
        for (long i = 0; i < n; i++) {
            unsigned char *buf;
            size_t len;
            if (mailbox_read_file(paths[i], &buf, &len, &why) != 0) {
                failed(paths[i], why, err);
                arena_free(la);
                return -1;
            }
            sisimai_sample_t s = {strstr(paths[i], "/maildir/") + 1, paths[i], -1, 0, buf, len};
            fn(&s, ctx);
            calls++;
            free(buf);
        }
        arena_free(la);
    }
    for (int k = 0; k < SISIMAI_NBOXES; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/set-of-emails/mailbox/%s", sisimai_dir(),
                 sisimai_boxes[k]);
        unsigned char *buf;
        size_t len;
        const char *why = NULL;
        if (mailbox_read_file(path, &buf, &len, &why) != 0) return failed(path, why, err);
        arena_t *ma = arena_new();
        mbox_msg_t *m;
        long n = mbox_split(buf, len, ma, &m, &why);
        if (n < 0) {
            arena_free(ma);
            free(buf);
            return failed(path, why, err);
        }
        for (long i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof name, "mailbox/%s#%ld", sisimai_boxes[k], i + 1);
            sisimai_sample_t s = {name, path, k, i + 1, m[i].data, m[i].len};
            fn(&s, ctx);
            calls++;
        }
        arena_free(ma);
        free(buf);
    }
    return calls;
}
