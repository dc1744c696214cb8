/*
 * fuzz_mbox: libFuzzer harness for mbox_split (src/explain/mailbox). Checks: the count is
 * within MAILBOX_MSGS_MAX, every message is NUL-terminated and holds no CR (line endings
 * become LF), and the messages together are never longer than the input plus one final LF
 * each (a last line without its line ending gets one).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain/mailbox.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_new();
    mbox_msg_t *m = NULL;
    const char *err = NULL;
    long n = mbox_split(data, size, a, &m, &err);
    CHECK(n >= 0 && n <= MAILBOX_MSGS_MAX);
    size_t total = 0;
    for (long i = 0; i < n; i++) {
        CHECK(m[i].data != NULL && m[i].data[m[i].len] == '\0');
        CHECK(memchr(m[i].data, '\r', m[i].len) == NULL);
        CHECK(m[i].len == 0 || m[i].data[m[i].len - 1] == '\n');
        total += m[i].len;
    }
    CHECK(total <= size + (size_t)n);
    arena_free(a);
    return 0;
}
