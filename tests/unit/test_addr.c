/*
 * test_addr: table-driven tests of src/mail/addr (RFC 5321 envelope syntax), plus the
 * external is_email suite (Dominic Sayers, tests.xml v3.05), read at run time from
 * $MB_SOURCE_DIR/../shared/testsuites/address-syntax-isemail/ and skipped, saying so, when
 * it is not there. Every is_email case is an assertion: ISEMAIL_VALID_CATEGORY, _RFC5321
 * and _DNSWARN must be accepted (ADDR_OK or ADDR_IP_DOMAIN); _ERR, _RFC5322, _CFWS and
 * _DEPREC must be rejected (see SOURCE.txt beside the suite).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/addr.h"

/* A byte string that may hold NULs: the literal and its length. */
#define B(s) (const unsigned char *)(s), sizeof(s) - 1

static const char *status_name(addr_status_t s)
{
    switch (s) {
    case ADDR_OK: return "OK";
    case ADDR_NULL: return "NULL";
    case ADDR_NO_DOMAIN: return "NO_DOMAIN";
    case ADDR_IP_DOMAIN: return "IP_DOMAIN";
    case ADDR_BAD_SYNTAX: return "BAD_SYNTAX";
    }
    return "?";
}

/* ---- addr_parse ---- */

struct parse_case {
    const unsigned char *in;
    size_t len;
    unsigned flags;
    addr_status_t want;
    const char *why; /* a substring of out.why for BAD_SYNTAX; NULL otherwise */
};

#define U ADDR_SMTPUTF8
#define OK(s) {B(s), 0, ADDR_OK, NULL}
#define OKF(s, f) {B(s), f, ADDR_OK, NULL}
#define ST(s, st) {B(s), 0, st, NULL}
#define BAD(s, w) {B(s), 0, ADDR_BAD_SYNTAX, w}
#define BADF(s, f, w) {B(s), f, ADDR_BAD_SYNTAX, w}

static const struct parse_case parse_cases[] = {
    /* Plain mailboxes (RFC 5321 4.1.2) */
    OK("user@example.com"),
    OK("User.Name+tag@Example.COM"),
    OK("!#$%&'*+-/=?^_`{|}~@example.com"),
    OK("a@b"),
    OK("x@123.example"),
    OK("x@iana.123"),
    OK("x@192.0.2.1"),
    OK("user@xn--bcher-kva.example"),
    OK("user@ab--cd.example"),
    OK("<user@example.com>"),
    /* Quoted-string local parts */
    OK("\"john doe\"@example.com"),
    OK("\"\"@example.com"),
    OK("\"a\\\"b\"@example.com"),
    OK("\"a\\\\b\"@example.com"),
    OK("\"a@b\"@example.com"),
    OK("\"(not a comment)\"@example.com"),
    OK("\"a\\ b\"@example.com"),
    /* Null path and unqualified local parts */
    ST("", ADDR_NULL),
    ST("<>", ADDR_NULL),
    ST("postmaster", ADDR_NO_DOMAIN),
    ST("<Postmaster>", ADDR_NO_DOMAIN),
    ST("\"post master\"", ADDR_NO_DOMAIN),
    /* Address literals (RFC 5321 4.1.3) */
    ST("user@[192.0.2.1]", ADDR_IP_DOMAIN),
    ST("user@[IPv6:2001:db8::1]", ADDR_IP_DOMAIN),
    ST("user@[ipv6:::1]", ADDR_IP_DOMAIN),
    ST("user@[IPv6:::ffff:192.0.2.1]", ADDR_IP_DOMAIN),
    BAD("user@[192.0.2.1", "unclosed address literal"),
    BAD("user@[192.0.2.1]x", "text after address literal"),
    BAD("user@[192.0.2.1]]", "text after address literal"),
    BAD("user@[192.0.2.256]", "invalid IPv4"),
    BAD("user@[1.2.3]", "invalid IPv4"),
    BAD("user@[IPv6:1::2::3]", "invalid IPv6"),
    BAD("user@[IPv6:1:2:3:4:5:6:7::]", "invalid IPv6"),
    BAD("user@[x-tag:abc]", "unregistered tag"),
    BAD("user@[1111:2222::1]", "unregistered tag"),
    BAD("user@[]", "empty address literal"),
    BAD("user@a[1.2.3.4]", "character not allowed in domain"),
    /* Source routes (RFC 5321 4.1.2 A-d-l): accepted and ignored */
    OK("@a,@b:user@d.example"),
    OK("<@relay.example:user@d.example>"),
    ST("@a:user@[192.0.2.1]", ADDR_IP_DOMAIN),
    BAD("@a:", "source route without a mailbox"),
    BAD("@a,b:user@d", "does not start with @"),
    BAD("@a,@b", "not followed by"),
    BAD("@[192.0.2.1]:user@d", "invalid domain in source route"),
    BAD("@-a:user@d", "invalid domain in source route"),
    BAD("@:user@d", "invalid domain in source route"),
    BAD("@a:postmaster", "no domain"),
    BAD("@a:@b:user@d", "empty local part"),
    /* Brackets */
    BAD("<user@example.com", "unbalanced angle brackets"),
    BAD("user@example.com>", "unbalanced angle brackets"),
    BAD("<", "unbalanced angle brackets"),
    BAD(">", "unbalanced angle brackets"),
    BAD("<<>>", "unquoted local part"),
    BAD("< user@example.com>", "white space in local part"),
    /* Local part */
    BAD("@", "empty local part"),
    BAD("@example.com", "empty local part"),
    BAD(".user@example.com", "local part starts with a dot"),
    BAD("user.@example.com", "local part ends with a dot"),
    BAD("us..er@example.com", "consecutive dots in local part"),
    BAD("us er@example.com", "white space in local part"),
    BAD("(c)user@example.com", "comment in local part"),
    BAD("user(c)@example.com", "comment in local part"),
    BAD("us\\er@example.com", "unquoted local part"),
    BAD("us[er@example.com", "unquoted local part"),
    BAD("a.\"b\"@example.com", "quote character in an unquoted local part"),
    BAD("\"a\"b@example.com", "text after quoted string"),
    BAD("\"a\".b@example.com", "obsolete syntax"),
    BAD("\"abc@example.com", "unclosed quoted string"),
    BAD("\"abc\\\"@example.com", "unclosed quoted string"),
    BAD("\"abc\\", "unclosed quoted string"),
    BAD("\"a\\\x01\"@example.com", "backslash followed by"),
    BAD("\"a\\\x7f\"@example.com", "backslash followed by"),
    BAD("\"a\x7f\"@example.com", "DEL character in quoted local part"),
    BAD("\"a\tb\"@example.com", "control character in quoted local part"),
    BAD("user\0@example.com", "NUL byte in local part"),
    BAD("\"us\0er\"@example.com", "NUL byte in quoted local part"),
    BAD("user\r\n@example.com", "control character in local part"),
    BAD("user\x7f@example.com", "DEL character in local part"),
    BAD("us\xc3\xa9r@example.com", "8-bit byte in local part"),
    BAD("\"\xc3\xa9\"@example.com", "8-bit byte in quoted local part"),
    /* Domain */
    BAD("user@", "empty domain after @"),
    BAD("user@@example.com", "character not allowed in domain"),
    BAD("a@b@example.com", "character not allowed in domain"),
    BAD("user@.example.com", "domain starts with a dot"),
    BAD("user@example.com.", "domain ends with a dot"),
    BAD("user@example..com", "consecutive dots in domain"),
    BAD("user@-example.com", "label starts with a hyphen"),
    BAD("user@example-.com", "label ends with a hyphen"),
    BAD("user@exa_mple.com", "character not allowed in domain"),
    BAD("user@example.com ", "white space in domain"),
    BAD("user@(c)example.com", "comment in domain"),
    BAD("user@exa\0mple.com", "NUL byte in domain"),
    BAD("user@example.com\n", "control character in domain"),
    BAD("user@ex\xc3\xa4mple.com", "8-bit byte in domain"),
    /* SMTPUTF8 (RFC 6531 3.3) */
    OKF("us\xc3\xa9r@example.com", U),
    OKF("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", U),
    OKF("\"\xc3\xa9 x\"@example.com", U),
    OKF("user@b\xc3\xbc" "cher.example", U),
    BADF("us\xc3r@example.com", U, "malformed UTF-8 in local part"),
    BADF("\xc0\xaf@example.com", U, "malformed UTF-8 in local part"),
    BADF("\xed\xa0\x80@example.com", U, "malformed UTF-8 in local part"),
    BADF("\xf4\x90\x80\x80@example.com", U, "malformed UTF-8 in local part"),
    BADF("\xe2\x82@example.com", U, "malformed UTF-8 in local part"),
    BADF("\"\xff\"@example.com", U, "malformed UTF-8 in quoted local part"),
    BADF("\"a\\\xc3\xa9\"@example.com", U, "backslash followed by"),
    BADF("user@b\xc3\xbc\xc3.example", U, "malformed UTF-8 in domain"),
    BADF("user@ab--\xc3\xa9.example", U, "positions 3 and 4"),
    BADF("user@-\xc3\xa9.example", U, "label starts with a hyphen"),
    /* Not checked against the IDNA2008 tables (addr.h): U+00A0 passes as a U-label. */
    OKF("user@example.com\xc2\xa0", U),
};

static void check_parse(const struct parse_case *c, size_t idx)
{
    addr_t a;
    addr_status_t st = addr_parse(c->in, c->len, c->flags, &a);
    if (st != c->want || a.status != st) {
        print_error("case %zu (%.*s): got %s (%s), want %s\n", idx, (int)c->len,
                    (const char *)c->in, status_name(st), a.why ? a.why : "-",
                    status_name(c->want));
        fail();
    }
    if (st == ADDR_BAD_SYNTAX) {
        assert_non_null(a.why);
        if (c->why != NULL && strstr(a.why, c->why) == NULL) {
            print_error("case %zu (%.*s): why \"%s\", want \"%s\"\n", idx, (int)c->len,
                        (const char *)c->in, a.why, c->why);
            fail();
        }
    } else {
        assert_null(a.why);
    }
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++)
        check_parse(&parse_cases[i], i);
}

static void test_parse_fields(void **state)
{
    (void)state;
    addr_t a;
    const char *s = "<@a,@b:user@d.example>";
    assert_int_equal(addr_parse((const unsigned char *)s, strlen(s), 0, &a), ADDR_OK);
    assert_int_equal(a.route_len, 6);
    assert_int_equal(a.local_off, 7);
    assert_int_equal(a.local_len, 4);
    assert_int_equal(a.domain_off, 12);
    assert_int_equal(a.domain_len, 9);
    assert_int_equal(a.quoted, 0);
    assert_int_equal(a.literal_family, 0);
    assert_int_equal(a.numeric_tld, 0);

    s = "\"a@b\"@x.y";
    assert_int_equal(addr_parse((const unsigned char *)s, strlen(s), 0, &a), ADDR_OK);
    assert_int_equal(a.local_off, 0);
    assert_int_equal(a.local_len, 5);
    assert_int_equal(a.domain_off, 6);
    assert_int_equal(a.domain_len, 3);
    assert_int_equal(a.quoted, 1);

    s = "user@[IPv6:2001:db8::1]";
    assert_int_equal(addr_parse((const unsigned char *)s, strlen(s), 0, &a), ADDR_IP_DOMAIN);
    assert_int_equal(a.literal_family, 6);
    assert_int_equal(a.domain_off, 5);
    assert_int_equal(a.domain_len, strlen(s) - 5);
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                         0, 0, 0, 0, 0, 0, 0, 1};
    assert_memory_equal(a.ip, v6, 16);

    s = "<user@[192.0.2.1]>";
    assert_int_equal(addr_parse((const unsigned char *)s, strlen(s), 0, &a), ADDR_IP_DOMAIN);
    assert_int_equal(a.literal_family, 4);
    static const unsigned char v4[4] = {192, 0, 2, 1};
    assert_memory_equal(a.ip, v4, 4);

    s = "x@1.2.3.4";
    assert_int_equal(addr_parse((const unsigned char *)s, strlen(s), 0, &a), ADDR_OK);
    assert_int_equal(a.numeric_tld, 1);

    s = "<postmaster>";
    assert_int_equal(addr_parse((const unsigned char *)s, strlen(s), 0, &a), ADDR_NO_DOMAIN);
    assert_int_equal(a.local_off, 1);
    assert_int_equal(a.local_len, 10);

    /* Bounded: a length shorter than the string stops the parse there. */
    s = "user@example.com";
    assert_int_equal(addr_parse((const unsigned char *)s, 4, 0, &a), ADDR_NO_DOMAIN);
    assert_int_equal(addr_parse((const unsigned char *)s, 5, 0, &a), ADDR_BAD_SYNTAX);
    assert_int_equal(addr_parse((const unsigned char *)s, 6, 0, &a), ADDR_OK);
}

/* Builds "L@D": a local part of llen octets and a domain of dlen octets made of 63-octet
 * labels (dlen % 64 != 0, so that it never ends with a dot). */
static size_t build(char *buf, size_t llen, size_t dlen)
{
    size_t n = 0;
    for (size_t i = 0; i < llen; i++)
        buf[n++] = 'l';
    buf[n++] = '@';
    for (size_t i = 0; i < dlen; i++)
        buf[n++] = (i % 64 == 63) ? '.' : 'd';
    return n;
}

static void test_boundaries(void **state)
{
    (void)state;
    char buf[600];
    addr_t a;
    const char *why;

    /* Local part: 64 octets (RFC 5321 4.5.3.1.1) */
    size_t n = build(buf, 64, 11);
    assert_int_equal(addr_parse((unsigned char *)buf, n, 0, &a), ADDR_OK);
    n = build(buf, 65, 11);
    assert_int_equal(addr_parse((unsigned char *)buf, n, 0, &a), ADDR_BAD_SYNTAX);
    assert_non_null(strstr(a.why, "local part longer than 64"));
    /* ... quotes included */
    for (size_t q = 62; q <= 63; q++) {
        n = 0;
        buf[n++] = '"';
        memset(buf + n, ' ', q);
        n += q;
        buf[n++] = '"';
        memcpy(buf + n, "@x.y", 4);
        n += 4;
        assert_int_equal(addr_parse((unsigned char *)buf, n, 0, &a),
                         q == 62 ? ADDR_OK : ADDR_BAD_SYNTAX);
        if (q == 62)
            assert_int_equal(a.local_len, 64);
        else
            assert_non_null(strstr(a.why, "local part longer than 64"));
    }

    /* Labels: 63 octets (RFC 1035 2.3.4) */
    for (size_t l = 63; l <= 64; l++) {
        memcpy(buf, "u@", 2);
        memset(buf + 2, 'd', l);
        memcpy(buf + 2 + l, ".example", 8);
        n = 2 + l + 8;
        assert_int_equal(addr_parse((unsigned char *)buf, n, 0, &a),
                         l == 63 ? ADDR_OK : ADDR_BAD_SYNTAX);
        assert_int_equal(addr_domain_valid((unsigned char *)buf + 2, l, 0, &why), l == 63);
        if (l == 64)
            assert_non_null(strstr(why, "label longer than 63"));
    }

    /* Domain: 253 octets of text, 255 on the wire (RFC 5321 4.5.3.1.2) */
    n = build(buf, 0, 253);
    assert_int_equal(n, 254);
    assert_true(addr_domain_valid((unsigned char *)buf + 1, 253, 0, &why));
    assert_true(addr_hostname_valid((unsigned char *)buf + 1, 253, 0, &why));
    n = build(buf, 0, 254);
    assert_false(addr_domain_valid((unsigned char *)buf + 1, 254, 0, &why));
    assert_non_null(strstr(why, "domain longer than 253"));
    n = build(buf, 0, 255);
    assert_false(addr_domain_valid((unsigned char *)buf + 1, 255, 0, &why));

    /* Path: 256 octets with "<" and ">" (RFC 5321 4.5.3.1.3), so a mailbox of 254 */
    n = build(buf, 64, 189);
    assert_int_equal(n, 254);
    assert_int_equal(addr_parse((unsigned char *)buf, n, 0, &a), ADDR_OK);
    memmove(buf + 1, buf, n);
    buf[0] = '<';
    buf[n + 1] = '>';
    assert_int_equal(addr_parse((unsigned char *)buf, n + 2, 0, &a), ADDR_OK);
    n = build(buf, 64, 190);
    assert_int_equal(n, 255);
    assert_int_equal(addr_parse((unsigned char *)buf, n, 0, &a), ADDR_BAD_SYNTAX);
    assert_non_null(strstr(a.why, "longer than 254"));
    memmove(buf + 1, buf, n);
    buf[0] = '<';
    buf[n + 1] = '>';
    assert_int_equal(addr_parse((unsigned char *)buf, n + 2, 0, &a), ADDR_BAD_SYNTAX);
    n = build(buf, 1, 252);
    assert_int_equal(n, 254);
    assert_int_equal(addr_parse((unsigned char *)buf, n, 0, &a), ADDR_OK);
    assert_int_equal(a.domain_len, 252);

    /* A source route counts towards the 256-octet path. */
    n = build(buf + 3, 10, 241);
    memcpy(buf, "@r:", 3);
    assert_int_equal(n + 3, 255);
    assert_int_equal(addr_parse((unsigned char *)buf, n + 3, 0, &a), ADDR_BAD_SYNTAX);
    assert_int_equal(addr_parse((unsigned char *)buf, n + 2, 0, &a), ADDR_OK);
}

/* ---- Domains and host names ---- */

struct dom_case {
    const char *in;
    int domain_ok;   /* addr_domain_valid */
    int hostname_ok; /* addr_hostname_valid */
    const char *why; /* substring of the first failure's why */
};

static const struct dom_case dom_cases[] = {
    {"example.com", 1, 1, NULL},
    {"mail.example.com", 1, 1, NULL},
    {"localhost", 1, 1, NULL},
    {"a", 1, 1, NULL},
    {"A-1.b2.C3", 1, 1, NULL},
    {"123.example", 1, 1, NULL},
    {"0", 1, 0, "all-numeric top-level label"},
    {"192.0.2.1", 1, 0, "all-numeric top-level label"},
    {"iana.123", 1, 0, "all-numeric top-level label"},
    {"xn--bcher-kva.example", 1, 1, NULL},
    {"xn--hxajbheg2az3al.xn--jxalpdlp", 1, 1, NULL},
    {"c--n.com", 1, 1, NULL},
    {"", 0, 0, "empty domain"},
    {".", 0, 0, "domain starts with a dot"},
    {"mail.example.com.", 0, 0, "domain ends with a dot"},
    {"mail..example.com", 0, 0, "consecutive dots"},
    {"-mail.example.com", 0, 0, "starts with a hyphen"},
    {"mail-.example.com", 0, 0, "ends with a hyphen"},
    {"xn--", 0, 0, "ends with a hyphen"},
    {"mail_1.example.com", 0, 0, "character not allowed"},
    {"[192.0.2.1]", 0, 0, "character not allowed"},
    {"mail example.com", 0, 0, "white space"},
    {"mail.example.com\r", 0, 0, "control character"},
    {"ex\xc3\xa4mple.com", 0, 0, "8-bit"},
};

static void test_domains(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof dom_cases / sizeof dom_cases[0]; i++) {
        const struct dom_case *c = &dom_cases[i];
        const unsigned char *p = (const unsigned char *)c->in;
        size_t n = strlen(c->in);
        const char *why = "unset", *hwhy = "unset";
        int d = addr_domain_valid(p, n, 0, &why);
        int h = addr_hostname_valid(p, n, 0, &hwhy);
        if (d != c->domain_ok || h != c->hostname_ok) {
            print_error("domain case \"%s\": domain %d (%s) hostname %d (%s)\n", c->in, d,
                        why ? why : "-", h, hwhy ? hwhy : "-");
            fail();
        }
        assert_true(d ? why == NULL : why != NULL);
        assert_true(h ? hwhy == NULL : hwhy != NULL);
        const char *w = !d ? why : !h ? hwhy : NULL;
        if (c->why != NULL && (w == NULL || strstr(w, c->why) == NULL)) {
            print_error("domain case \"%s\": why \"%s\", want \"%s\"\n", c->in,
                        w ? w : "-", c->why);
            fail();
        }
        assert_int_equal(addr_domain_valid(p, n, 0, NULL), d); /* why may be NULL */
    }
}

/* U-labels under SMTPUTF8, and their A-label forms (RFC 3492 7.1 samples). */
static void test_idn(void **state)
{
    (void)state;
    static const struct {
        const char *u, *a;
    } idn[] = {
        {"b\xc3\xbc" "cher.example", "xn--bcher-kva.example"},
        {"\xcf\x80\xce\xb1\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1."
         "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae",
         "xn--hxajbheg2az3al.xn--jxalpdlp"},
        {"\xe4\xbb\x96\xe4\xbb\xac\xe4\xb8\xba\xe4\xbb\x80\xe4\xb9\x88\xe4\xb8\x8d\xe8\xaf\xb4"
         "\xe4\xb8\xad\xe6\x96\x87",
         "xn--ihqwcrb4cv8a8dqg056pqjye"},
        {"3\xe5\xb9\xb4" "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab\xe5\x85\x88\xe7\x94\x9f",
         "xn--3B-ww4c5e180e575a65lsy2b"},
        {"\xe3\x81\x9d\xe3\x81\xae\xe3\x82\xb9\xe3\x83\x94\xe3\x83\xbc\xe3\x83\x89\xe3\x81\xa7."
         "com",
         "xn--d9juau41awczczp.com"},
        {"\xe2\x82\xac\xe2\x82\xac.example", "xn--lzga.example"},
        {"mail.example.com", "mail.example.com"},
    };
    char out[ADDR_DOMAIN_MAX + 1];
    for (size_t i = 0; i < sizeof idn / sizeof idn[0]; i++) {
        const unsigned char *p = (const unsigned char *)idn[i].u;
        size_t n = strlen(idn[i].u);
        int r = addr_domain_ascii(p, n, ADDR_SMTPUTF8, out, sizeof out);
        assert_int_equal(r, (int)strlen(idn[i].a));
        assert_string_equal(out, idn[i].a);
        assert_true(addr_domain_valid(p, n, ADDR_SMTPUTF8, NULL));
        int ascii = strcmp(idn[i].u, idn[i].a) == 0;
        assert_int_equal(addr_domain_valid(p, n, 0, NULL), ascii);
        assert_int_equal(addr_domain_ascii(p, n, 0, out, sizeof out) >= 0, ascii);
    }
    /* Output buffer too small: fails, never overflows. */
    const unsigned char *s = (const unsigned char *)"mail.example.com";
    assert_int_equal(addr_domain_ascii(s, 16, 0, out, 16), -1);
    assert_int_equal(addr_domain_ascii(s, 16, 0, out, 17), 16);
    assert_int_equal(addr_domain_ascii(s, 16, 0, out, 0), -1);

    /* The 63-octet label limit applies to the A-label: 55 "a" + U+00E9 is 63 octets as
     * "xn--aaa...a-u3e", 56 "a" is 64. 57 x U+4E2D is 171 octets of UTF-8 but a 63-octet
     * A-label, 58 is 64. */
    unsigned char buf[800];
    const char *why;
    memset(buf, 'a', 56);
    memcpy(buf + 56, "\xc3\xa9", 2);
    assert_true(addr_domain_valid(buf + 1, 57, ADDR_SMTPUTF8, &why));
    assert_int_equal(addr_domain_ascii(buf + 1, 57, ADDR_SMTPUTF8, out, sizeof out), 63);
    assert_false(addr_domain_valid(buf, 58, ADDR_SMTPUTF8, &why));
    assert_non_null(strstr(why, "as an A-label"));
    for (int i = 0; i < 58; i++)
        memcpy(buf + 3 * i, "\xe4\xb8\xad", 3);
    assert_true(addr_domain_valid(buf, 171, ADDR_SMTPUTF8, &why));
    assert_false(addr_domain_valid(buf, 174, ADDR_SMTPUTF8, &why));
    assert_true(addr_hostname_valid(buf, 171, ADDR_SMTPUTF8, &why));
    /* Total length is that of the ASCII form: 4 such labels are 4*63+3 = 255 > 253. */
    size_t n = 0;
    for (int l = 0; l < 4; l++) {
        for (int i = 0; i < 57; i++, n += 3)
            memcpy(buf + n, "\xe4\xb8\xad", 3);
        if (l < 3)
            buf[n++] = '.';
    }
    assert_int_equal(n, 4 * 171 + 3);
    assert_false(addr_domain_valid(buf, n, ADDR_SMTPUTF8, &why));
    assert_non_null(strstr(why, "longer than 253"));
}

/* ---- Address literals ---- */

struct lit_case {
    const char *in;
    int family; /* 4, 6, -1 (general), or 0 for invalid */
    unsigned char ip[16];
};

static const struct lit_case lit_cases[] = {
    {"[192.0.2.1]", 4, {192, 0, 2, 1}},
    {"[0.0.0.0]", 4, {0}},
    {"[255.255.255.255]", 4, {255, 255, 255, 255}},
    {"[001.002.003.010]", 4, {1, 2, 3, 10}}, /* Snum is decimal, leading zeros allowed */
    {"[1234.1.1.1]", 0, {0}},
    {"[256.1.1.1]", 0, {0}},
    {"[1.2.3.4.]", 0, {0}},
    {"[1.2.3.4.5]", 0, {0}},
    {"[1.2.3]", 0, {0}},
    {"[1..3.4]", 0, {0}},
    {"[1.2.3.-4]", 0, {0}},
    {"[ 1.2.3.4]", 0, {0}},
    {"[1.2.3.4 ]", 0, {0}},
    {"[1.2.3.4", 0, {0}},
    {"1.2.3.4]", 0, {0}},
    {"1.2.3.4", 0, {0}},
    {"[", 0, {0}},
    {"]", 0, {0}},
    {"[]", 0, {0}},
    {"[abc]", 0, {0}},
    {"[IPv6:2001:db8::1]", 6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
    {"[IPv6:::]", 6, {0}},
    {"[IPv6:::1]", 6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
    {"[IPv6:1::]", 6, {0, 1}},
    {"[ipv6:ABCD::ef]", 6, {0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xef}},
    {"[IPv6:1:2:3:4:5:6:7:8]", 6, {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}},
    {"[IPv6:1:2:3:4:5:6::]", 6, {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6}},
    {"[IPv6::2:3:4:5:6:7]", 0, {0}},
    {"[IPv6:::2:3:4:5:6:7]", 6, {0, 0, 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7}},
    {"[IPv6:1:2:3:4:5:6:7::]", 0, {0}},    /* "::" must stand for two or more groups */
    {"[IPv6:1:2:3::4:5:6:7]", 0, {0}},
    {"[IPv6:1:2:3:4:5:6:7]", 0, {0}},
    {"[IPv6:1:2:3:4:5:6:7:8:9]", 0, {0}},
    {"[IPv6:1:2:3:4:5:6:192.0.2.1]", 6, {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 192, 0, 2, 1}},
    {"[IPv6:1:2:3:4:5:192.0.2.1]", 0, {0}},
    {"[IPv6:1:2:3:4:5:6:7:192.0.2.1]", 0, {0}},
    {"[IPv6:::ffff:192.0.2.1]",
     6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}},
    {"[IPv6:::192.0.2.1]", 6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1}},
    {"[IPv6:1:2:3:4::192.0.2.1]", 6, {0, 1, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0, 192, 0, 2, 1}},
    {"[IPv6:1::4:192.0.2.1]", 6, {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1}},
    {"[IPv6:1:2:3:4:5::192.0.2.1]", 0, {0}},
    {"[IPv6:1:2:3:4:::192.0.2.1]", 0, {0}},
    {"[IPv6:192.0.2.1]", 0, {0}},
    {"[IPv6:192.0.2.1::]", 0, {0}},
    {"[IPv6:::192.0.2.256]", 0, {0}},
    {"[IPv6:12345::]", 0, {0}},
    {"[IPv6:g::]", 0, {0}},
    {"[IPv6:]", 0, {0}},
    {"[IPv6:1::2:]", 0, {0}},
    {"[IPv6:1::2::3]", 0, {0}},
    {"[IPv6:::1%eth0]", 0, {0}},
    {"[IPv6: ::1]", 0, {0}},
    {"[IPv66:::1]", -1, {0}},
    {"[x400:c=us;a=x]", -1, {0}},
    {"[tag-1:a/b=c]", -1, {0}},
    {"[1111:2222::1]", -1, {0}},
    {"[tag-:x]", 0, {0}},
    {"[:x]", 0, {0}},
    {"[tag:]", 0, {0}},
    {"[tag:a]b]", 0, {0}},
    {"[tag:a[b]", 0, {0}},
    {"[tag:a\\b]", 0, {0}},
    {"[tag:a b]", 0, {0}},
    {"[t_g:ab]", 0, {0}},
};

static void test_literals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof lit_cases / sizeof lit_cases[0]; i++) {
        const struct lit_case *c = &lit_cases[i];
        int family = 99;
        unsigned char ip[16];
        const char *why = NULL;
        memset(ip, 0xee, sizeof ip);
        int r = addr_literal_parse((const unsigned char *)c->in, strlen(c->in), &family, ip,
                                   &why);
        int got = r == 0 ? family : 0;
        if (got != c->family || (r == 0) != (c->family != 0)) {
            print_error("literal \"%s\": r %d family %d (%s), want %d\n", c->in, r, family,
                        why ? why : "-", c->family);
            fail();
        }
        if (r != 0) {
            assert_non_null(why);
            assert_int_equal(family, 0);
        }
        assert_memory_equal(ip, c->ip, 16);
    }
    /* why may be NULL */
    int family;
    unsigned char ip[16];
    assert_int_equal(addr_literal_parse((const unsigned char *)"[x", 2, &family, ip, NULL), -1);
    /* An embedded NUL is invalid everywhere. */
    assert_int_equal(addr_literal_parse(B("[1.2.3.4\0]"), &family, ip, NULL), -1);
    assert_int_equal(addr_literal_parse(B("[tag:a\0]"), &family, ip, NULL), -1);
}

/* ---- The is_email suite ---- */

#define XML_MAX (1u << 20)  /* tests.xml is 47 kB */
#define ADDR_BUF 1024       /* no address in the suite is near this */

struct span {
    const char *p;
    size_t n;
};

/* Position of needle in hay[from..n), or n. */
static size_t find(const char *hay, size_t n, size_t from, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = from; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return i;
    return n;
}

/* The text between <tag> and </tag> inside el, or "" for <tag/>. Returns -1 if absent. */
static int element_text(struct span el, const char *tag, struct span *out)
{
    char open[64], empty[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(empty, sizeof empty, "<%s/>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    size_t e = find(el.p, el.n, 0, empty);
    size_t o = find(el.p, el.n, 0, open);
    if (e < el.n && e < o) {
        out->p = el.p + e;
        out->n = 0;
        return 0;
    }
    if (o == el.n)
        return -1;
    size_t s = o + strlen(open);
    size_t c = find(el.p, el.n, s, close);
    if (c == el.n)
        return -1;
    out->p = el.p + s;
    out->n = c - s;
    return 0;
}

/* Appends code point cp, mapping the "SYMBOL FOR" block back to control bytes as the suite
 * asks: U+2400+n stands for byte n (n < 32) and U+2421 for DEL. */
static int put_cp(unsigned char *out, size_t cap, size_t *n, uint32_t cp)
{
    unsigned char tmp[4];
    size_t k;
    if (cp >= 0x2400 && cp <= 0x241f)
        cp -= 0x2400;
    else if (cp == 0x2421)
        cp = 0x7f;
    if (cp < 0x80) {
        tmp[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        tmp[0] = (unsigned char)(0xc0 | (cp >> 6));
        tmp[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (unsigned char)(0xe0 | (cp >> 12));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
    } else if (cp <= 0x10ffff) {
        tmp[0] = (unsigned char)(0xf0 | (cp >> 18));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 4;
    } else {
        return -1;
    }
    if (*n + k > cap)
        return -1;
    memcpy(out + *n, tmp, k);
    *n += k;
    return 0;
}

/* Decodes XML character data: the five predefined entities and &#x..; / &#..; references,
 * plus raw U+2400..U+2421 symbols. Returns the length or -1. */
static int xml_decode(struct span in, unsigned char *out, size_t cap)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    size_t n = 0;
    for (size_t i = 0; i < in.n;) {
        unsigned char c = (unsigned char)in.p[i];
        if (c == '&') {
            size_t semi = find(in.p, in.n, i, ";");
            if (semi == in.n || semi - i > 12)
                return -1;
            size_t elen = semi + 1 - (i + 1);
            const char *e = in.p + i + 1;
            int done = 0;
            for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
                if (elen == strlen(ents[k].name) && memcmp(e, ents[k].name, elen) == 0) {
                    if (put_cp(out, cap, &n, (unsigned char)ents[k].c) != 0)
                        return -1;
                    done = 1;
                }
            }
            if (!done) {
                if (elen < 3 || e[0] != '#')
                    return -1;
                int hex = e[1] == 'x' || e[1] == 'X';
                uint32_t cp = 0;
                size_t digits = 0;
                for (size_t k = hex ? 2 : 1; k + 1 < elen; k++, digits++) {
                    char d = e[k];
                    int v = (d >= '0' && d <= '9') ? d - '0'
                            : hex && d >= 'a' && d <= 'f' ? d - 'a' + 10
                            : hex && d >= 'A' && d <= 'F' ? d - 'A' + 10 : -1;
                    if (v < 0 || digits >= 6)
                        return -1;
                    cp = cp * (hex ? 16 : 10) + (uint32_t)v;
                }
                if (digits == 0 || put_cp(out, cap, &n, cp) != 0)
                    return -1;
            }
            i = semi + 1;
        } else if (c == 0xe2 && i + 2 < in.n && (unsigned char)in.p[i + 1] == 0x90 &&
                   (unsigned char)in.p[i + 2] >= 0x80 && (unsigned char)in.p[i + 2] <= 0xa1) {
            uint32_t cp = 0x2400 + ((unsigned char)in.p[i + 2] - 0x80);
            if (put_cp(out, cap, &n, cp) != 0)
                return -1;
            i += 3;
        } else {
            if (n >= cap)
                return -1;
            out[n++] = c;
            i++;
        }
    }
    return (int)n;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(XML_MAX);
    size_t n = buf != NULL ? fread(buf, 1, XML_MAX, f) : 0;
    int toobig = buf != NULL && n == XML_MAX;
    fclose(f);
    if (buf == NULL || toobig || n == 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Returns 1 for accept, 0 for reject, -1 for an unknown category. */
static int isemail_expect(struct span cat)
{
    static const struct {
        const char *name;
        int accept;
    } cats[] = {
        {"ISEMAIL_VALID_CATEGORY", 1}, {"ISEMAIL_RFC5321", 1}, {"ISEMAIL_DNSWARN", 1},
        {"ISEMAIL_ERR", 0},            {"ISEMAIL_RFC5322", 0}, {"ISEMAIL_CFWS", 0},
        {"ISEMAIL_DEPREC", 0},
    };
    for (size_t k = 0; k < sizeof cats / sizeof cats[0]; k++)
        if (cat.n == strlen(cats[k].name) && memcmp(cat.p, cats[k].name, cat.n) == 0)
            return cats[k].accept;
    return -1;
}

static void test_isemail(void **state)
{
    (void)state;
    const char *root = getenv("MB_SOURCE_DIR");
    char path[4096];
    if (root == NULL || root[0] == '\0') {
        print_message("[  SKIPPED ] is_email suite: MB_SOURCE_DIR is not set\n");
        skip();
    }
    snprintf(path, sizeof path, "%s/../shared/testsuites/address-syntax-isemail/tests.xml",
             root);
    size_t xlen = 0;
    char *xml = read_file(path, &xlen);
    if (xml == NULL) {
        print_message("[  SKIPPED ] is_email suite: cannot read %s\n", path);
        skip();
    }
    size_t pos = 0, cases = 0, accepted = 0, failures = 0;
    for (;;) {
        size_t t = find(xml, xlen, pos, "<test ");
        size_t cm = find(xml, xlen, pos, "<!--");
        if (cm < t) {
            size_t ce = find(xml, xlen, cm + 4, "-->");
            assert_true(ce < xlen);
            pos = ce + 3;
            continue;
        }
        if (t == xlen)
            break;
        size_t te = find(xml, xlen, t, "</test>");
        assert_true(te < xlen);
        struct span el = {xml + t, te - t}, addr, cat;
        pos = te + 7;

        size_t ip = find(el.p, el.n, 0, "id=\"");
        int id = ip < el.n ? atoi(el.p + ip + 4) : -1;
        assert_int_equal(element_text(el, "address", &addr), 0);
        assert_int_equal(element_text(el, "category", &cat), 0);
        int want = isemail_expect(cat);
        if (want < 0) {
            print_error("is_email #%d: unknown category %.*s\n", id, (int)cat.n, cat.p);
            fail();
        }
        unsigned char a[ADDR_BUF];
        int alen = xml_decode(addr, a, sizeof a);
        assert_true(alen >= 0);
        cases++;
        accepted += (size_t)want;

        /* The verdict must not change with SMTPUTF8: the suite has no valid 8-bit case. */
        static const unsigned flagsets[] = {0, ADDR_SMTPUTF8};
        for (size_t f = 0; f < 2; f++) {
            addr_t r;
            addr_status_t st = addr_parse(a, (size_t)alen, flagsets[f], &r);
            int got = st == ADDR_OK || st == ADDR_IP_DOMAIN;
            if (got != want) {
                print_error("is_email #%d %.*s (%.*s, flags %u): got %s (%s), want %s\n", id,
                            (int)addr.n, addr.p, (int)cat.n, cat.p, flagsets[f],
                            status_name(st), r.why ? r.why : "-",
                            want ? "accept" : "reject");
                failures++;
            }
        }
    }
    free(xml);
    print_message("[ is_email ] %zu cases (%zu accept, %zu reject), %zu failures\n", cases,
                  accepted, cases - accepted, failures);
    assert_int_equal(cases, 164);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_domains),
        cmocka_unit_test(test_idn),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_isemail),
    };
    return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
