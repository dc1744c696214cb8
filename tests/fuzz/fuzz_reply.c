/*
 * fuzz_reply: libFuzzer harness for src/explain/reply and src/explain/classify. Parses the
 * input as a pasted reply or log line, classifies what it found (and the raw input as
 * text, with each provider's server name), and aborts when a result breaks the contracts
 * in reply.h and classify.h: fields never NULL and NUL-terminated within their limits, the
 * text free of control bytes, codes in range, static strings from the classifier.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain/classify.h"
#include "explain/reply.h"
#include "util/arena.h"

#include "fuzz.h"

static void check_field(const char *s, size_t max)
{
    CHECK(s != NULL);
    CHECK(strlen(s) <= max);
}

static void check_class(const classify_t *c)
{
    CHECK((unsigned)c->reason < EX_REASON_COUNT);
    CHECK(c->layer >= CLASSIFY_LAYER_NONE && c->layer <= CLASSIFY_LAYER_PATTERN);
    CHECK(c->finding == NULL || strlen(c->finding) > 0);
    CHECK(c->provider == NULL || strlen(c->provider) > 0);
    CHECK(c->blocklist == NULL || strlen(c->blocklist) > 0);
    /* hard only for address reasons */
    if (c->hard)
        CHECK(c->reason == EX_USERUNKNOWN || c->reason == EX_HOSTUNKNOWN ||
              c->reason == EX_HASMOVED || c->reason == EX_NOTACCEPT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    arena_t *a = arena_new();
    reply_t r;
    int rc = reply_parse(buf, size, a, &r);
    CHECK(rc == 0 || rc == -1);
    check_field(r.text, REPLY_TEXT_MAX);
    CHECK(strlen(r.text) == r.text_len);
    for (size_t i = 0; i < r.text_len; i++)
        CHECK((unsigned char)r.text[i] >= 0x20 && r.text[i] != 0x7f);
    CHECK(strlen(r.enhanced) <= REPLY_ENHANCED_MAX);
    const char *fields[] = {r.recipient, r.remote_name, r.remote_ip, r.client_name,
                            r.client_ip, r.helo,        r.sender};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        check_field(fields[i], REPLY_FIELD_MAX);
    check_field(r.command, 16);
    if (rc == 0) {
        CHECK(r.code == 0 || (r.code >= 200 && r.code <= 599));
        classify_in_t in = {r.code,        r.enhanced, r.text,  r.text_len,
                            r.remote_name, r.command,  r.action, false};
        classify_t c;
        classify_reply(&in, &c);
        check_class(&c);
    } else {
        CHECK(r.code == 0 && r.enhanced[0] == '\0' && r.text_len == 0);
    }
    /* the raw bytes as text, as each provider's server and with odd codes */
    static const char *const mtas[] = {NULL,
                                       "gmail-smtp-in.l.google.com",
                                       "x.mail.protection.outlook.com",
                                       "mta5.am0.yahoodns.net",
                                       "mx01.mail.icloud.com",
                                       "mx0a.pphosted.com"};
    static const char *const enh[] = {NULL, "", "5.7.1", "4.7.650", "5.7.606", "9.9.9", "5."};
    for (size_t i = 0; i < sizeof mtas / sizeof *mtas; i++) {
        classify_in_t in = {(int)(size % 700),      enh[size % 7], buf, size, mtas[i], NULL,
                            (ex_action_t)(size % 4), size % 2 == 0};
        classify_t c;
        classify_reply(&in, &c);
        check_class(&c);
    }
    arena_free(a);
    return 0;
}
