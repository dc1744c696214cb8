/*
 * sisimai: the bounce corpus of ../shared/testsuites/bounces-sisimai/ (test data outside
 * the repository) as the unit tests read it: where it is, its expected.tsv, and every
 * sample of set-of-emails/ (each file of maildir/bsd, dos, mac, err, not and tmp, and every
 * message of the mbox files of mailbox/). Also the tab splitter the suite tables want.
 */
#ifndef MB_TESTS_SISIMAI_H
#define MB_TESTS_SISIMAI_H

#include <stdbool.h>
#include <stddef.h>

/* $MB_SOURCE_DIR/../shared/testsuites/bounces-sisimai (MB_SOURCE_DIR defaults to "."). */
const char *sisimai_dir(void);

/* Splits line at tabs in place, a line end ("\n", "\r\n") dropped; returns the number of
 * fields put in f (at most max, the last one holding the rest of the line). */
size_t split_tabs(char *line, char **f, size_t max);

/* One row of expected.tsv: one bounced recipient of a sample. */
typedef struct sisimai_row {
    char *sample;   /* "maildir/bsd/lhost-x-01.eml" */
    int index;      /* the recipient's position from 1; 0 when the row has no value */
    char *status;   /* delivery status, "" when none */
    char *code;     /* reply code, "" when none */
    char *reason;   /* "" when none */
    char *feedback; /* ARF feedback type, "" when none */
} sisimai_row_t;

/* Loads expected.tsv ('#' lines and rows of fewer than 8 fields skipped), in file order.
 * Returns the number of rows (*rows a malloc'ed array), or -1 when it cannot be read. */
long sisimai_expected(sisimai_row_t **rows);
void sisimai_expected_free(sisimai_row_t *rows, long n);

/* The mbox files of set-of-emails/mailbox/: size-0/1/2 are an empty file, one blank line
 * and "22", no mail in them. */
#define SISIMAI_NBOXES 5
extern const char *const sisimai_boxes[SISIMAI_NBOXES];

typedef struct sisimai_sample {
    const char *name; /* "maildir/bsd/x.eml", or "mailbox/mbox-0#3" */
    const char *path; /* the file read */
    int box;          /* index in sisimai_boxes, -1 for a maildir file */
    long msg;         /* the message's number in its box from 1, 0 for a maildir file */
    const unsigned char *data; /* the whole file, or the message (LF endings) */
    size_t len;
} sisimai_sample_t;

typedef void (*sisimai_fn)(const sisimai_sample_t *s, void *ctx);

/*
 * Calls fn for every maildir file (each folder in maildir_list() order) and then for every
 * message of each mbox file (split with mbox_split()). Returns the number of calls, or -1
 * with *err set (a static text naming the path) when a folder or a file cannot be read.
 */
long sisimai_for_each_sample(sisimai_fn fn, void *ctx, const char **err);

#endif
