/*
 * test_explain_corpus: the bounce corpus of ../shared/testsuites/bounces-sisimai/ through
 * explain_input(), the code behind `mailblock explain`.
 *
 *  - every file of set-of-emails/maildir/ and every message of set-of-emails/mailbox/ is
 *    read without an error (a message that is not a bounce is a result, not an error);
 *  - for every row of expected.tsv (one per bounced recipient), the reason of the result at
 *    that recipient's position agrees with the expected reason; "(not-a-bounce)" rows agree
 *    when no result comes back; rows without a value (index 0, empty reason: variants that
 *    upstream checks only for decoding) agree when at least one result comes back.
 *    Agreement must reach EXPECT_PERMILLE overall; each disagreement is printed
 *    (docs/EXPLAIN.md explains them by group).
 *
 * The suite is test data that lives outside the repository; without it the test says it
 * was skipped. `test_explain_corpus -v` prints every disagreement even when the test passes.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "explain/explain.h"
#include "explain/mailbox.h"

/* Agreement required over all expected rows, in thousandths (the figure reached is in
 * docs/EXPLAIN.md; raise this when it improves). */
#define EXPECT_PERMILLE 915

static char base[1024];
static bool verbose;

static bool have_suite(void)
{
    struct stat st;
    char p[1200];
    snprintf(p, sizeof p, "%s/expected.tsv", base);
    return stat(p, &st) == 0;
}

static void suite_not_available(void **state)
{
    (void)state;
    fprintf(stderr, "SKIPPED: the bounce corpus is missing (looked for %s)\n", base);
    skip();
}

/* Explains one file; n results and the reasons in reasons[] (up to max). Returns -1 when the
 * file cannot be read or explain_input fails, -2 when it is not a bounce. */
static int explain_file(const char *path, arena_t *a, const char **reasons, size_t max,
                        size_t *n)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    const char *err = NULL;
    *n = 0;
    if (mailbox_read_file(path, &buf, &len, &err) != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }
    ex_report_t rep;
    const char *why = NULL;
    int rc = explain_input(buf, len, a, &rep, &why);
    free(buf);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", path, why);
        return -1;
    }
    if (rep.input == EX_INPUT_MESSAGE && rep.kind == BOUNCE_KIND_NONE)
        return -2;
    for (size_t i = 0; i < rep.nresults && i < max; i++)
        reasons[(*n)++] = ex_reason_name(rep.results[i].reason);
    return 0;
}

typedef struct tally {
    size_t rows, agree;
} tally_t;

static void agreement(void **state)
{
    (void)state;
    char path[1400];
    snprintf(path, sizeof path, "%s/expected.tsv", base);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    arena_t *a = arena_new();
    char line[4096], last[1024] = "";
    const char *reasons[64];
    size_t nres = 0;
    int frc = 0;
    tally_t all = {0, 0}, bsd = {0, 0};
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *col[10] = {0};
        size_t nc = 0;
        for (char *p = line, *s; nc < 10 && (s = strsep(&p, "\t\n")) != NULL;)
            col[nc++] = s;
        if (nc < 6)
            continue;
        const char *sample = col[0], *want = col[5];
        int idx = atoi(col[2]) - 1;
        if (strcmp(sample, last) != 0) {
            snprintf(last, sizeof last, "%s", sample);
            arena_reset(a);
            snprintf(path, sizeof path, "%s/set-of-emails/%s", base, sample);
            frc = explain_file(path, a, reasons, 64, &nres);
        }
        const char *got = frc == -2                      ? "(not-a-bounce)"
                          : frc < 0                      ? "(error)"
                          : idx >= 0 && (size_t)idx < nres ? reasons[idx]
                                                         : "(no result)";
        bool ok = strcmp(got, want) == 0;
        if (want[0] == '\0') {
            /* a row without an exact value (a CRLF or CR variant unlike every bsd sample):
             * upstream asks only for at least one result with a reason */
            ok = frc == 0 && nres > 0;
            got = ok ? reasons[0] : frc == -2 ? "(not-a-bounce)" : "(no result)";
        }
        all.rows++;
        all.agree += ok;
        if (strncmp(sample, "maildir/bsd/", 12) == 0) {
            bsd.rows++;
            bsd.agree += ok;
        }
        if (!ok && verbose)
            fprintf(stderr, "disagree %s #%d: expected %s, got %s\n", sample, idx + 1, want, got);
    }
    fclose(f);
    arena_free(a);
    fprintf(stderr, "corpus: %zu of %zu rows agree (%.1f%%); maildir/bsd %zu of %zu (%.1f%%)\n",
            all.agree, all.rows, 100.0 * (double)all.agree / (double)all.rows, bsd.agree,
            bsd.rows, 100.0 * (double)bsd.agree / (double)bsd.rows);
    assert_true(all.rows > 800);
    assert_true(all.agree * 1000 >= all.rows * EXPECT_PERMILLE);
}

/* Every file under dir (recursively) is explained without an error. */
static void walk(const char *dir, arena_t *a, size_t *files, size_t *errors)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(p, a, files, errors);
            continue;
        }
        const char *reasons[4];
        size_t n;
        arena_reset(a);
        (*files)++;
        if (explain_file(p, a, reasons, 4, &n) == -1)
            (*errors)++;
    }
    closedir(d);
}

static void every_sample_reads(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    size_t files = 0, errors = 0;
    char p[1400];
    snprintf(p, sizeof p, "%s/set-of-emails/maildir", base);
    walk(p, a, &files, &errors);
    /* the mbox files: every message of each */
    /* size-0/1/2 are an empty file, one blank line and "22": no message in them, so no
     * result and no crash is all that is asked (the command says it found nothing) */
    const char *boxes[] = {"mbox-0", "mbox-1", "size-0", "size-1", "size-2"};
    size_t msgs = 0;
    for (size_t i = 0; i < sizeof boxes / sizeof boxes[0]; i++) {
        snprintf(p, sizeof p, "%s/set-of-emails/mailbox/%s", base, boxes[i]);
        unsigned char *buf = NULL;
        size_t len = 0;
        const char *err = NULL;
        if (mailbox_read_file(p, &buf, &len, &err) != 0)
            continue; /* not every corpus version has every box */
        arena_reset(a);
        mbox_msg_t *m = NULL;
        long n = mbox_split(buf, len, a, &m, &err);
        assert_true(n >= 0);
        arena_t *b = arena_new();
        for (long k = 0; k < n; k++) {
            ex_report_t rep;
            const char *why = NULL;
            arena_reset(b);
            msgs++;
            int rc = explain_input(m[k].data, m[k].len, b, &rep, &why);
            if (strncmp(boxes[i], "size-", 5) == 0) {
                assert_true(rc != 0 || rep.nresults == 0);
                continue;
            }
            if (rc != 0) {
                fprintf(stderr, "%s message %ld: %s\n", p, k + 1, why);
                errors++;
            }
        }
        arena_free(b);
        free(buf);
    }
    arena_free(a);
    fprintf(stderr, "corpus: %zu files and %zu mbox messages read, %zu errors\n", files, msgs,
            errors);
    assert_true(files > 800);
    assert_true(msgs > 30);
    assert_int_equal(errors, 0);
}

int main(int argc, char **argv)
{
    const char *src = getenv("MB_SOURCE_DIR");
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    snprintf(base, sizeof base, "%s/../shared/testsuites/bounces-sisimai", src ? src : ".");
    if (!have_suite()) {
        const struct CMUnitTest one[] = {cmocka_unit_test(suite_not_available)};
        return cmocka_run_group_tests_name("explain_corpus", one, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_sample_reads),
        cmocka_unit_test(agreement),
    };
    int rc = cmocka_run_group_tests_name("explain_corpus", tests, NULL, NULL);
    bounce_shutdown();
    return rc;
}
