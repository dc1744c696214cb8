/*
 * Unit tests of the util layer: str, arena, log escaping, IP addresses and CIDR blocks.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/arena.h"
#include "util/ipaddr.h"
#include "util/log.h"
#include "util/str.h"

static void test_str_binary(void **state)
{
    (void)state;
    str_t s = STR_INIT;
    assert_string_equal(str_cstr(&s), "");
    str_append(&s, "a\0b", 3);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.data, "a\0b", 3);
    assert_int_equal(s.data[3], '\0');
    for (int i = 0; i < 1000; i++)
        str_appendf(&s, "%d,", i);
    assert_true(s.len > 3000);
    assert_int_equal(s.data[s.len], '\0');
    str_consume(&s, 3);
    assert_memory_equal(s.data, "0,1,2,", 6);
    str_clear(&s);
    assert_int_equal(s.len, 0);
    str_free(&s);
    str_free(NULL);
    assert_true(mem_ieq("AbC", 3, "abc", 3));
    assert_false(mem_ieq("abc", 3, "abd", 3));
    /* longer than a word: equal words, then folding from the first word that differs */
    assert_true(mem_ieq("mail.good.test.example", 22, "mail.good.test.example", 22));
    assert_true(mem_ieq("mail.good.TEST.example", 22, "mail.good.test.EXAMPLE", 22));
    assert_false(mem_ieq("mail.good.test.examplf", 22, "mail.good.test.example", 22));
    assert_true(mem_ieq("mail.gooD.test.example", 22, "mail.good.test.exampLe", 22));
    assert_false(mem_ieq("mail.gooD.test.exampld", 22, "mail.good.test.example", 22));
    assert_false(mem_ieq("[", 1, "{", 1)); /* only letters fold */
    assert_true(mem_iendswith("mail.Example.COM", 16, "example.com", 11));
    assert_false(mem_iendswith("com", 3, "example.com", 11));
}

static void test_mem_ifind(void **state)
{
    (void)state;
    const char *h = "550 5.7.1 Message REJECTED: rejected by policy";
    size_t n = strlen(h);
    assert_ptr_equal(mem_ifind(h, n, "rejected", 8), h + 18); /* the first, whatever its case */
    assert_ptr_equal(mem_ifind(h, n, "Policy", 6), h + n - 6); /* at the very end */
    assert_ptr_equal(mem_ifind(h, n, "5.7.1", 5), h + 4);      /* no letter to fold first */
    assert_null(mem_ifind(h, n, "policy.", 7));
    assert_null(mem_ifind(h, n - 1, "policy", 6)); /* bounded by n, not by the NUL */
    assert_ptr_equal(mem_ifind(h, n, "", 0), h);
    assert_null(mem_ifind("ab", 2, "abc", 3));
    assert_null(mem_ifind("[x]", 3, "{X", 2)); /* only letters fold */
    /* candidates of both cases, the earlier ones false starts */
    const char *f = "rRrReject";
    assert_ptr_equal(mem_ifind(f, 9, "REJECT", 6), f + 3);
    /* NUL bytes are ordinary bytes, in the haystack and in the needle */
    const char b[] = {'a', '\0', 'B', 'c', '\0', 'x'};
    assert_ptr_equal(mem_ifind(b, sizeof b, "bC", 2), b + 2);
    assert_ptr_equal(mem_ifind(b, sizeof b, "c\0X", 3), b + 3);
    assert_null(mem_ifind(b, sizeof b, "ac", 2));
    assert_null(mem_ifind(b, 0, "a", 1));

    assert_true(mem_iprefix("RCPT TO:<a>", 11, "rcpt", 4));
    assert_true(mem_iprefix("rcpt", 4, "RCPT", 4));
    assert_false(mem_iprefix("rcp", 3, "rcpt", 4));
    assert_false(mem_iprefix("mail", 4, "rcpt", 4));
    assert_true(mem_iprefix("x", 1, "", 0));
    assert_true(mem_iprefix("a\0b", 3, "A\0", 2));
}

static void test_utf8_seq_len(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n, want;
    } t[] = {
        {"a", 1, 0},                     /* ASCII is not a multi-byte sequence */
        {"\xc3\xa9", 2, 2},              /* U+00E9 */
        {"\xe3\x83\xa6", 3, 3},          /* U+30E6 */
        {"\xf0\x9f\x98\x80", 4, 4},      /* U+1F600 */
        {"\xc3\xa9", 1, 0},              /* truncated */
        {"\xc0\xaf", 2, 0},              /* overlong */
        {"\xe0\x80\xaf", 3, 0},          /* overlong */
        {"\xed\xa0\x80", 3, 0},          /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0},      /* above U+10FFFF */
        {"\xc3\x28", 2, 0},              /* bad continuation */
        {"\x80", 1, 0},                  /* stray continuation */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(utf8_seq((const unsigned char *)t[i].s, t[i].n, NULL), t[i].want);
    assert_int_equal(utf8_seq((const unsigned char *)"", 0, NULL), 0);
}

static void test_arena(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    for (int i = 0; i < 2000; i++) {
        char *p = arena_alloc(a, (size_t)(i % 50) + 1);
        assert_true(((uintptr_t)p & 15) == 0);
        memset(p, 'x', (size_t)(i % 50) + 1);
    }
    char *big = arena_alloc(a, 100000);
    memset(big, 1, 100000);
    char *d = arena_strndup(a, "hello world", 5);
    assert_string_equal(d, "hello");
    assert_string_equal(arena_printf(a, "%s-%d", "x", 42), "x-42");
    assert_true(arena_used(a) > 100000);
    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
    assert_string_equal(arena_strdup(a, "again"), "again");
    arena_free(a);
    arena_free(NULL);
}

static void test_log_escape(void **state)
{
    (void)state;
    str_t s = STR_INIT;
    log_escape(&s, "ok\r\n\"\\\x01\xff", 8, 100);
    assert_string_equal(str_cstr(&s), "ok\\x0D\\x0A\\\"\\\\\\x01\\xFF");
    str_clear(&s);
    log_escape(&s, "abcdef", 6, 3);
    assert_string_equal(str_cstr(&s), "abc...");
    str_clear(&s);
    log_quote(&s, "plain.value@x", 13, 100);
    assert_string_equal(str_cstr(&s), "plain.value@x");
    str_clear(&s);
    log_quote(&s, "two words", 9, 100);
    assert_string_equal(str_cstr(&s), "\"two words\"");
    str_clear(&s);
    log_quote(&s, "", 0, 100);
    assert_string_equal(str_cstr(&s), "\"\"");
    str_clear(&s);
    log_kv(&s, "helo", "a\nb", 3);
    log_kvz(&s, "k", "v");
    assert_string_equal(str_cstr(&s), "helo=\"a\\x0Ab\" k=v");
    /* nothing unprintable ever comes out */
    str_clear(&s);
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    log_quote(&s, all, 256, 1000);
    for (size_t i = 0; i < s.len; i++)
        assert_true(s.data[i] >= 0x20 && s.data[i] < 0x7f);
    str_free(&s);
}

static void test_ipaddr(void **state)
{
    (void)state;
    ipaddr_t ip, ip2;
    char buf[IPADDR_STRLEN], rev[128];
    assert_int_equal(ipaddr_parsez(&ip, "192.0.2.45"), 0);
    assert_int_equal(ip.family, 4);
    assert_string_equal(ipaddr_format(&ip, buf, sizeof buf), "192.0.2.45");
    assert_int_equal(ipaddr_reverse_name(&ip, NULL, rev, sizeof rev), 0);
    assert_string_equal(rev, "45.2.0.192.in-addr.arpa");
    assert_int_equal(ipaddr_reverse_name(&ip, "zen.example", rev, sizeof rev), 0);
    assert_string_equal(rev, "45.2.0.192.zen.example");
    /* IPv4-mapped IPv6 is the IPv4 address */
    assert_int_equal(ipaddr_parsez(&ip2, "::ffff:192.0.2.45"), 0);
    assert_int_equal(ip2.family, 4);
    assert_true(ipaddr_equal(&ip, &ip2));
    assert_int_equal(ipaddr_parsez(&ip, "2001:DB8::1"), 0);
    assert_int_equal(ip.family, 6);
    assert_string_equal(ipaddr_format(&ip, buf, sizeof buf), "2001:db8::1");
    assert_int_equal(ipaddr_reverse_name(&ip, NULL, rev, sizeof rev), 0);
    assert_string_equal(rev, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "[1.2.3.4]",
                         "1.2.3.4 ", "fe80::1%eth0", "::g", "1.2.3.4/24"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(ipaddr_parsez(&ip, bad[i]), 0);
    /* bounded: no NUL needed, embedded NUL refused */
    assert_int_equal(ipaddr_parse(&ip, "10.0.0.1XYZ", 8), 0);
    assert_string_equal(ipaddr_format(&ip, buf, sizeof buf), "10.0.0.1");
    assert_int_not_equal(ipaddr_parse(&ip, "10.0\0.0.1", 9), 0);
    /* the dotted-quad fast path agrees with inet_pton() */
    const char *quads[] = {"0.0.0.0", "255.255.255.255", "1.2.3.4", "10.0.0.10", "0.1.2.3",
                           "00.1.2.3", "1.02.3.4", "1.2.3.256", "1.2.3.1000", "1..2.3",
                           "1.2.3.", ".1.2.3", "1.2.3.4.", "1.2.3.-4", "1.2.3.4a", "1.2.3.0x1",
                           "999.1.1.1", "1.2.3.255", "1.2.3.04", "123.123.123.123"};
    for (size_t i = 0; i < sizeof quads / sizeof quads[0]; i++) {
        uint8_t want[4];
        int ok = inet_pton(AF_INET, quads[i], want) == 1;
        assert_int_equal(ipaddr_parsez(&ip, quads[i]) == 0, ok);
        if (ok) {
            assert_int_equal(ip.family, 4);
            assert_memory_equal(ip.a, want, 4);
        }
    }
}

static void test_cidr(void **state)
{
    (void)state;
    cidr_t net;
    ipaddr_t ip;
    char buf[64];
    assert_int_equal(cidr_parse(&net, "192.0.2.77/24", 13), 0);
    assert_string_equal(cidr_format(&net, buf, sizeof buf), "192.0.2.0/24");
    ipaddr_parsez(&ip, "192.0.2.200");
    assert_true(cidr_match(&net, &ip));
    ipaddr_parsez(&ip, "192.0.3.1");
    assert_false(cidr_match(&net, &ip));
    assert_int_equal(cidr_parse(&net, "10.0.0.0/0", 10), 0);
    assert_true(cidr_match(&net, &ip));
    assert_int_equal(cidr_parse(&net, "2001:db8::/32", 13), 0);
    ipaddr_parsez(&ip, "2001:db8:ffff::1");
    assert_true(cidr_match(&net, &ip));
    ipaddr_parsez(&ip, "192.0.2.1");
    assert_false(cidr_match(&net, &ip));
    assert_int_equal(cidr_parse(&net, "192.0.2.1", 9), 0);
    assert_int_equal(net.prefix, 32);
    assert_int_equal(cidr_parse(&net, "10.1.2.3/13", 11), 0);
    assert_string_equal(cidr_format(&net, buf, sizeof buf), "10.0.0.0/13");
    assert_int_equal(cidr_parse(&net, "::ffff:10.0.0.0/104", 19), 0);
    assert_int_equal(net.addr.family, 4);
    assert_int_equal(net.prefix, 8);
    const char *bad[] = {"1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "2001:db8::/129", "/8",
                         "1.2.3.4/-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cidr_parse(&net, bad[i], strlen(bad[i])), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_binary), cmocka_unit_test(test_arena),
        cmocka_unit_test(test_log_escape), cmocka_unit_test(test_ipaddr),
        cmocka_unit_test(test_cidr), cmocka_unit_test(test_utf8_seq_len),
        cmocka_unit_test(test_mem_ifind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
