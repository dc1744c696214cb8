/*
 * mailbox: where bounce messages come from in bulk. An mbox buffer is split into messages
 * (mboxrd: a message starts at a "From " line at the start of the buffer or after a blank
 * line; ">From ", ">>From "... lose one ">"); a maildir lists its message files. LF, CRLF
 * and CR-only line endings are read; messages come back with LF endings.
 *
 * Limits: MAILBOX_INPUT_MAX bytes of mbox, MAILBOX_MSGS_MAX messages, MAILDIR_FILES_MAX
 * files, MAILBOX_FILE_MAX bytes per file read. Errors are static English texts that hold no
 * input bytes.
 */
#ifndef MB_EXPLAIN_MAILBOX_H
#define MB_EXPLAIN_MAILBOX_H

#include <stddef.h>

#include "util/arena.h"

#define MAILBOX_INPUT_MAX (1024u * 1024u * 1024u) /* bytes of one mbox buffer */
#define MAILBOX_MSGS_MAX 100000                   /* messages in one mbox */
#define MAILDIR_FILES_MAX 100000                  /* files listed from one maildir */
#define MAILBOX_FILE_MAX (64u * 1024u * 1024u)    /* bytes read from one file */
#define MAILBOX_PATH_MAX 4096
#define MAILBOX_FROM_LINE_MAX 200                 /* bytes of a full-form "From " line */

typedef struct mbox_msg {
    const unsigned char *data; /* in the arena, LF line endings, NUL after data[len] */
    size_t len;
} mbox_msg_t;

/*
 * Splits buf[0..len) into messages, copied into a (the "From " separator lines are not
 * part of them). A buffer that does not start with "From " is one message (possibly
 * after leading blank lines). An empty buffer yields no messages. Returns the number of
 * messages (*msgs set to an arena array), or -1 with *err set when buf is over
 * MAILBOX_INPUT_MAX or holds more than MAILBOX_MSGS_MAX messages.
 */
long mbox_split(const unsigned char *buf, size_t len, arena_t *a, mbox_msg_t **msgs,
                const char **err);

/*
 * Is the line at b[i] (ended by LF, CRLF or CR) a "From " separator in its full form,
 * "From sender Www Mmm dd hh:mm:ss yyyy" (the sender one word, then an asctime() date: a
 * weekday and a month name, a colon after them, four digits at the end), followed by a
 * header field line ("Name:")? Returns the line's length (30 to MAILBOX_FROM_LINE_MAX, the
 * line end not included), or 0 when it is not one. Reads b[i, n) only, never past n.
 */
size_t mbox_from_line(const unsigned char *b, size_t n, size_t i);

/*
 * Lists the message files of a maildir: dir/cur and dir/new when either exists (cur first,
 * then new), else the regular files of dir itself; names starting with "." are skipped.
 * Each group is sorted by name (byte order), so the order is stable. Paths ("dir/cur/name")
 * are NUL-terminated arena copies. Returns the count, or -1 with *err set when dir cannot
 * be read, a path is over MAILBOX_PATH_MAX, or there are more than MAILDIR_FILES_MAX files.
 */
long maildir_list(const char *dir, arena_t *a, const char ***paths, const char **err);

/*
 * Reads a whole file (at most MAILBOX_FILE_MAX bytes, else an error) into a malloc'ed
 * buffer owned by the caller (free()), NUL-terminated after *len bytes. Returns 0, or -1
 * with *err set. path "-" reads standard input.
 */
/* Copies src[0..n) to dst (room for n bytes) with CRLF and lone CR turned into LF; returns
 * the length written. */
size_t mailbox_copy_lf(unsigned char *dst, const unsigned char *src, size_t n);

int mailbox_read_file(const char *path, unsigned char **buf, size_t *len, const char **err);

#endif
