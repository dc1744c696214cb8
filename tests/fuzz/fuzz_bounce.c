/*
 * fuzz_bounce: libFuzzer harness for src/explain/bounce. The input is one message. Checks
 * the contracts in bounce.h: -1 only with an empty result, every string non-NULL, one line
 * (no control characters), within its cap and valid UTF-8; the record count within
 * BOUNCE_RCPT_MAX; status codes of the form c.s.d; reply codes 0 or 200-599.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "explain/bounce.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t max)
{
    CHECK(s != NULL);
    size_t n = strlen(s);
    CHECK(n <= max);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7F);
    CHECK(g_utf8_validate(s, (gssize)n, NULL));
}

static void check_status(const char *s)
{
    CHECK(s != NULL);
    if (*s == '\0')
        return;
    CHECK(s[0] == '2' || s[0] == '4' || s[0] == '5');
    CHECK(s[1] == '.');
    CHECK(strchr(s + 2, '.') != NULL);
    CHECK(strlen(s) <= 9);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_new();
    bounce_t b;
    int rc = bounce_parse(data, size, a, &b);
    CHECK(rc == 0 || rc == -1);
    if (rc == -1) {
        CHECK(b.kind == BOUNCE_KIND_NONE && b.nrcpts == 0);
    }
    CHECK(b.nrcpts <= BOUNCE_RCPT_MAX);
    if (b.kind == BOUNCE_KIND_NONE)
        CHECK(b.nrcpts == 0);
    const char *top[] = {b.format, b.reporting_mta, b.subject, b.from, b.arrival_date,
                         b.feedback_type, b.source_ip, b.orig.sending_ip, b.orig.helo,
                         b.orig.sender, b.orig.sender_domain, b.orig.from_domain,
                         b.orig.dkim_domain, b.orig.dkim_selector, b.orig.message_id,
                         b.orig.recipient, b.orig.subject};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        check_str(top[i], BOUNCE_FIELD_MAX);
    for (size_t i = 0; i < b.nrcpts; i++) {
        const bounce_rcpt_t *r = &b.rcpts[i];
        check_str(r->recipient, BOUNCE_FIELD_MAX);
        check_str(r->original_recipient, BOUNCE_FIELD_MAX);
        check_str(r->diagnostic, BOUNCE_DIAG_MAX);
        check_str(r->remote_mta, BOUNCE_FIELD_MAX);
        check_str(r->command, 16);
        check_str(r->last_attempt, BOUNCE_FIELD_MAX);
        check_status(r->status);
        CHECK(r->reply_code == 0 || (r->reply_code >= 200 && r->reply_code <= 599));
        CHECK(r->action >= BOUNCE_ACTION_NONE && r->action <= BOUNCE_ACTION_EXPANDED);
    }
    arena_free(a);
    return 0;
}
