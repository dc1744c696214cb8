/*
 * fuzz_addr: libFuzzer harness for src/mail/addr. Runs every entry point over the input,
 * with and without SMTPUTF8, and aborts when a result breaks the contracts in addr.h:
 * offsets inside the input, the RFC 5321 length limits, why set exactly on failure, the
 * parts of an accepted address valid on their own, an ASCII result that is LDH.
 * The whole input goes to every entry point, so the seeds are plain addresses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/addr.h"

#include "fuzz.h"

static void check_parse(const unsigned char *buf, size_t len, unsigned flags)
{
    addr_t a;
    addr_status_t st = addr_parse(buf, len, flags, &a);
    CHECK(st == a.status);
    CHECK((st == ADDR_BAD_SYNTAX) == (a.why != NULL));
    if (st == ADDR_BAD_SYNTAX || st == ADDR_NULL)
        return;
    CHECK(len <= ADDR_PATH_MAX);
    CHECK(a.local_off + a.local_len <= len);
    CHECK(a.local_len >= 1 && a.local_len <= ADDR_LOCAL_MAX);
    CHECK(a.quoted == (buf[a.local_off] == '"'));
    if (st == ADDR_NO_DOMAIN) {
        CHECK(a.route_len == 0);
        return;
    }
    CHECK(a.domain_off == a.local_off + a.local_len + 1);
    CHECK(buf[a.domain_off - 1] == '@');
    CHECK(a.domain_off + a.domain_len <= len);
    CHECK(a.local_len + 1 + a.domain_len <= ADDR_MAILBOX_MAX);
    const unsigned char *d = buf + a.domain_off;
    if (st == ADDR_IP_DOMAIN) {
        int family;
        unsigned char ip[16];
        CHECK(addr_literal_parse(d, a.domain_len, &family, ip, NULL) == 0);
        CHECK(family == a.literal_family && (family == 4 || family == 6));
        CHECK(memcmp(ip, a.ip, 16) == 0);
    } else {
        CHECK(st == ADDR_OK);
        CHECK(a.literal_family == 0);
        CHECK(addr_domain_valid(d, a.domain_len, flags, NULL));
        CHECK(addr_hostname_valid(d, a.domain_len, flags, NULL) == !a.numeric_tld);
    }
    /* Anything valid as ASCII stays valid, unchanged, under SMTPUTF8. */
    if (flags == 0) {
        addr_t u;
        CHECK(addr_parse(buf, len, ADDR_SMTPUTF8, &u) == st);
        CHECK(u.local_off == a.local_off && u.domain_len == a.domain_len);
    }
}

static void check_domain(const unsigned char *buf, size_t len, unsigned flags)
{
    const char *why = "unset", *hwhy = "unset";
    int d = addr_domain_valid(buf, len, flags, &why);
    int h = addr_hostname_valid(buf, len, flags, &hwhy);
    CHECK(d ? why == NULL : why != NULL);
    CHECK(h ? hwhy == NULL : hwhy != NULL);
    CHECK(!h || d);
    char out[ADDR_DOMAIN_MAX + 1];
    int n = addr_domain_ascii(buf, len, flags, out, sizeof out);
    CHECK((n >= 0) == d);
    if (n < 0)
        return;
    CHECK(n >= 1 && n <= ADDR_DOMAIN_MAX && out[n] == '\0');
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.');
    }
    /* The ASCII form is itself a valid domain, and its own ASCII form. */
    CHECK(addr_domain_valid((const unsigned char *)out, (size_t)n, 0, NULL));
    char again[ADDR_DOMAIN_MAX + 1];
    CHECK(addr_domain_ascii((const unsigned char *)out, (size_t)n, 0, again, sizeof again) ==
          n);
    CHECK(memcmp(out, again, (size_t)n) == 0);
    if (flags == 0)
        CHECK((size_t)n == len && memcmp(out, buf, len) == 0);
}

static void check_literal(const unsigned char *buf, size_t len)
{
    int family = 99;
    unsigned char ip[16];
    const char *why = NULL;
    int r = addr_literal_parse(buf, len, &family, ip, &why);
    if (r == 0) {
        CHECK(family == 4 || family == 6 || family == -1);
        CHECK(len >= 3 && buf[0] == '[' && buf[len - 1] == ']');
    } else {
        CHECK(r == -1 && family == 0 && why != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *buf = data;
    for (unsigned flags = 0; flags <= ADDR_SMTPUTF8; flags++) {
        check_parse(buf, size, flags);
        check_domain(buf, size, flags);
    }
    check_literal(buf, size);
    return 0;
}
