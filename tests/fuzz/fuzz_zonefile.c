/*
 * fuzz_zonefile: libFuzzer harness for src/dns/zonefile.c.
 *
 * Parses the input (as it comes, and once more with a given origin). Whatever is accepted
 * must have a canonical form that (1) has one RR per line and no byte a zone file could
 * misread (no NUL, no control character), (2) parses again with no origin given, to the
 * same origin, the same RR count and exactly the same text. Anything else aborts. A rejected
 * input must come with a NUL-terminated "fuzz:..." message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/zonefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(zonefile_t *zf)
{
    char err[512];
    size_t len, lines = 0;
    const char *text = zonefile_canonical(zf, &len);

    if (text[len] != '\0' || len == 0 || text[len - 1] != '\n') abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n')
            lines++;
        else if ((c < 0x20 && c != '\t') || c >= 0x7f)
            abort();
    }
    if (lines != zonefile_count(zf)) abort();
    for (size_t i = 0; i < zonefile_count(zf); i++) {
        zonefile_rr_t rr;
        if (zonefile_rr(zf, i, &rr) != 0 || rr.owner_len == 0 || rr.owner[rr.owner_len - 1] != '.')
            abort();
        if (i == 0 && (rr.type != 6 || rr.owner_len != strlen(zonefile_origin(zf)) ||
                       memcmp(rr.owner, zonefile_origin(zf), rr.owner_len) != 0))
            abort();
    }

    /* The canonical form is a fixed point. */
    zonefile_t *again =
        zonefile_parse((const unsigned char *)text, len, "canonical", NULL, err, sizeof err);
    if (again == NULL) {
        fprintf(stderr, "canonical text rejected: %s\n%s", err, text);
        abort();
    }
    size_t len2;
    const char *text2 = zonefile_canonical(again, &len2);
    if (len2 != len || memcmp(text, text2, len) != 0 ||
        strcmp(zonefile_origin(again), zonefile_origin(zf)) != 0 ||
        zonefile_count(again) != zonefile_count(zf)) {
        fprintf(stderr, "canonical text changed:\n%s---\n%s", text, text2);
        abort();
    }
    zonefile_free(again);
}

static void one(const uint8_t *data, size_t size, const char *origin)
{
    char err[256];
    memset(err, 'x', sizeof err);
    zonefile_t *zf = zonefile_parse(data, size, "fuzz", origin, err, sizeof err);
    if (zf == NULL) {
        if (memchr(err, '\0', sizeof err) == NULL || strncmp(err, "fuzz:", 5) != 0) abort();
        return;
    }
    check_accepted(zf);
    zonefile_free(zf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, NULL);
    one(data, size, "example.com");
    return 0;
}
