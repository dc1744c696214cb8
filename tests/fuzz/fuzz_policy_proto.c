/*
 * Fuzz harness for gate/policy_proto. The input is a byte stream as a client would send it.
 * It is parsed request by request with policy_parse, and again with the resumable
 * policy_scan fed in pieces (sizes derived from the input); both must agree, and every
 * attribute handed out must satisfy the parser's promises (inside the buffer, non-empty
 * printable name, no NUL, within the limits). A broken promise aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gate/policy_proto.h"

#include "fuzz.h"

static void check_attrs(const char *buf, size_t consumed, const policy_attr_t *a, size_t n)
{
    CHECK(n >= 1 && n <= POLICY_ATTR_MAX);
    for (size_t i = 0; i < n; i++) {
        CHECK(a[i].name >= buf && a[i].value + a[i].value_len <= buf + consumed);
        CHECK(a[i].name_len >= 1 && a[i].name_len <= POLICY_LINE_MAX);
        CHECK(a[i].value == a[i].name + a[i].name_len + 1 && a[i].name[a[i].name_len] == '=');
        CHECK(a[i].name_len + 1 + a[i].value_len <= POLICY_LINE_MAX);
        for (size_t k = 0; k < a[i].name_len; k++) {
            unsigned char c = (unsigned char)a[i].name[k];
            CHECK(c > 0x20 && c < 0x7f && c != '=');
        }
        CHECK(memchr(a[i].value, '\0', a[i].value_len) == NULL);
        CHECK(memchr(a[i].value, '\n', a[i].value_len) == NULL);
        /* policy_find finds the first attribute of that name */
        char name[64];
        if (a[i].name_len < sizeof name) {
            memcpy(name, a[i].name, a[i].name_len);
            name[a[i].name_len] = '\0';
            const policy_attr_t *f = policy_find(a, n, name);
            CHECK(f != NULL && f <= &a[i]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    policy_attr_t attrs[POLICY_ATTR_MAX];
    unsigned seed = size > 0 ? data[0] : 0;
    size_t off = 0;
    for (int requests = 0; requests < 10000; requests++) {
        size_t n = 0, used = 0;
        const char *why = NULL;
        policy_parse_status_t r =
            policy_parse(buf + off, size - off, attrs, POLICY_ATTR_MAX, &n, &used, &why);

        /* the same bytes through policy_scan, in pieces */
        policy_scan_t st = {0, 0, 0, 0};
        const char *why2 = NULL;
        size_t have = 0, step = 0;
        policy_parse_status_t r2 = POLICY_PARSE_MORE;
        while (r2 == POLICY_PARSE_MORE && have < size - off) {
            seed = seed * 1103515245u + 12345u;
            size_t piece = 1 + ((seed >> 16) % (step++ % 4 == 0 ? 2 : 300));
            have = have + piece > size - off ? size - off : have + piece;
            r2 = policy_scan(buf + off, have, &st, &why2);
        }
        if (have == 0) r2 = policy_scan(buf + off, 0, &st, &why2);
        CHECK(r2 == r);

        if (r == POLICY_PARSE_ERROR) {
            CHECK(why != NULL && why2 != NULL && strcmp(why, why2) == 0);
            CHECK(n == 0 && used == 0);
            return 0;
        }
        if (r == POLICY_PARSE_MORE) {
            CHECK(n == 0 && used == 0);
            CHECK(size - off < POLICY_REQUEST_MAX);
            return 0;
        }
        CHECK(r == POLICY_PARSE_DONE);
        CHECK(used >= 2 && used <= size - off && used <= POLICY_REQUEST_MAX);
        CHECK(buf[off + used - 1] == '\n');
        CHECK(st.off == used && st.nattrs == n);
        check_attrs(buf + off, used, attrs, n);
        /* a caller's smaller array is a limit too */
        size_t n3, used3;
        policy_parse_status_t r3 = policy_parse(buf + off, used, attrs, n - 1, &n3, &used3, &why);
        CHECK(r3 == POLICY_PARSE_ERROR);
        off += used;
    }
    return 0;
}
