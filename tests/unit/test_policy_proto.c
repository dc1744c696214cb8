/*
 * Tests for gate/policy_proto: a table of requests (good, malformed, over each limit), then
 * the same inputs split at every byte boundary and fed to the resumable scanner, which must
 * agree with the one-shot parser, and several requests in one buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gate/policy_proto.h"
#include "util/str.h"

/* A Postfix 3.8 request as in SMTPD_POLICY_README, every attribute present. */
static const char postfix_request[] =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=SMTP\n"
    "helo_name=some.domain.tld\n"
    "queue_id=8045F2AB23\n"
    "sender=foo@bar.tld\n"
    "recipient=bar@foo.tld\n"
    "recipient_count=0\n"
    "client_address=1.2.3.4\n"
    "client_name=another.domain.tld\n"
    "reverse_client_name=another.domain.tld\n"
    "instance=123.456.7\n"
    "sasl_method=plain\n"
    "sasl_username=you\n"
    "sasl_sender=\n"
    "size=12345\n"
    "ccert_subject=solaris9.porcupine.org\n"
    "ccert_issuer=Wietse+20Venema\n"
    "ccert_fingerprint=C2:9D:F4:87:71:73:73:D9:18:E7:C2:F3:C1:DA:6E:04\n"
    "encryption_protocol=TLSv1/SSLv3\n"
    "encryption_cipher=DHE-RSA-AES256-SHA\n"
    "encryption_keysize=256\n"
    "etrn_domain=\n"
    "stress=\n"
    "ccert_pubkey_fingerprint=68:B3:29:DA:98:93:E3:40:99:C7:D8:AD:5C:B9:C9:40\n"
    "client_port=1234\n"
    "policy_context=submission\n"
    "server_address=10.3.2.1\n"
    "server_port=54321\n"
    "compatibility_level=major.minor.patch\n"
    "mail_version=3.8.0\n"
    "\n";

#define DONE POLICY_PARSE_DONE
#define MORE POLICY_PARSE_MORE
#define ERR POLICY_PARSE_ERROR

typedef struct pcase {
    const char *label;
    const char *in; /* NUL-terminated unless len is set */
    size_t len;     /* 0: strlen(in) */
    int status;
    size_t consumed;          /* for DONE; 0: the whole input */
    size_t nattrs;            /* for DONE */
    const char *why;          /* for ERR: the reason, exactly */
    const char *name, *value; /* for DONE: one attribute to find (value may be "") */
} pcase_t;

static const pcase_t cases[] = {
    {"one attribute", "a=b\n\n", 0, DONE, 5, 1, NULL, "a", "b"},
    {"crlf", "a=b\r\nc=d\r\n\r\n", 0, DONE, 12, 2, NULL, "c", "d"},
    {"mixed line ends", "a=b\r\nc=d\n\r\n", 0, DONE, 11, 2, NULL, "a", "b"},
    {"empty value", "sender=\nrecipient=x@y\n\n", 0, DONE, 23, 2, NULL, "sender", ""},
    {"'=' in value", "a=b=c\n\n", 0, DONE, 7, 1, NULL, "a", "b=c"},
    {"space in value", "ccert_subject=a b c\n\n", 0, DONE, 21, 1, NULL, "ccert_subject", "a b c"},
    {"utf-8 value", "sender=j\xc3\xb6rg@example.org\n\n", 0, DONE, 0, 1, NULL, "sender",
     "j\xc3\xb6rg@example.org"},
    {"cr inside value", "a=b\rc\n\n", 0, DONE, 7, 1, NULL, "a", "b\rc"},
    {"control byte in value", "a=\x01\x7f\xff\n\n", 0, DONE, 7, 1, NULL, "a", "\x01\x7f\xff"},
    {"trailing bytes stay", "a=b\n\nrequest=", 0, DONE, 5, 1, NULL, "a", "b"},
    {"unknown attribute passes", "future_attr=1\nrequest=x\n\n", 0, DONE, 25, 2, NULL,
     "future_attr", "1"},
    {"postfix 3.8 request", postfix_request, 0, DONE, sizeof postfix_request - 1, 31, NULL,
     "mail_version", "3.8.0"},
    {"nothing yet", "", 0, MORE, 0, 0, NULL, NULL, NULL},
    {"half a line", "request=smtpd_acc", 0, MORE, 0, 0, NULL, NULL, NULL},
    {"no empty line yet", "a=b\n", 0, MORE, 0, 0, NULL, NULL, NULL},
    {"half an empty crlf line", "a=b\r\n\r", 0, MORE, 0, 0, NULL, NULL, NULL},
    {"half a name", "reques", 0, MORE, 0, 0, NULL, NULL, NULL},
    {"missing '='", "request\n\n", 0, ERR, 0, 0, "line without '='", NULL, NULL},
    {"http request", "a=b\r\nGET / HTTP/1.1\r\n\r\n", 0, ERR, 0, 0, "bad byte in attribute name",
     NULL, NULL},
    {"empty name", "=b\n\n", 0, ERR, 0, 0, "empty attribute name", NULL, NULL},
    {"empty request", "\n", 0, ERR, 0, 0, "empty request", NULL, NULL},
    {"empty request crlf", "\r\n", 0, ERR, 0, 0, "empty request", NULL, NULL},
    {"nul in name", "a\0b=c\n\n", 7, ERR, 0, 0, "NUL byte in attribute name", NULL, NULL},
    {"nul in value", "a=b\0c\n\n", 7, ERR, 0, 0, "NUL byte in attribute value", NULL, NULL},
    {"nul in a partial line", "a=b\n\0", 5, ERR, 0, 0, "NUL byte in attribute name", NULL, NULL},
    {"nul in a partial value", "a=b\0", 4, ERR, 0, 0, "NUL byte in attribute value", NULL, NULL},
    {"binary name", "\x80\x81=1\n\n", 0, ERR, 0, 0, "bad byte in attribute name", NULL, NULL},
    {"binary junk, no newline", "\x16\x03\x01\x02\x00\x01", 6, ERR, 0, 0,
     "bad byte in attribute name", NULL, NULL},
    {"space in name", "a b=c\n\n", 0, ERR, 0, 0, "bad byte in attribute name", NULL, NULL},
    {"tab in name", "a\tb=c\n\n", 0, ERR, 0, 0, "bad byte in attribute name", NULL, NULL},
    {"bare cr line", "a=b\n\rx=y\n\n", 0, ERR, 0, 0, "bad byte in attribute name", NULL, NULL},
};

static void check_case(const pcase_t *c, const char *in, size_t len)
{
    policy_attr_t attrs[POLICY_ATTR_MAX];
    size_t n = 99, consumed = 99;
    const char *why = NULL;
    policy_parse_status_t r = policy_parse(in, len, attrs, POLICY_ATTR_MAX, &n, &consumed, &why);
    if ((int)r != c->status)
        fail_msg("%s: status %d, want %d (%s)", c->label, r, c->status, why ? why : "");
    if (c->status == DONE) {
        assert_int_equal(consumed, c->consumed ? c->consumed : len);
        assert_int_equal(n, c->nattrs);
        for (size_t i = 0; i < n; i++) {
            /* every attribute lies inside the request */
            assert_true(attrs[i].name >= in && attrs[i].name + attrs[i].name_len <= in + len);
            assert_true(attrs[i].value == attrs[i].name + attrs[i].name_len + 1);
            assert_true(attrs[i].value + attrs[i].value_len < in + consumed);
        }
        if (c->name != NULL) {
            const policy_attr_t *a = policy_find(attrs, n, c->name);
            assert_non_null(a);
            assert_int_equal(a->value_len, strlen(c->value));
            assert_memory_equal(a->value, c->value, a->value_len);
        }
    } else {
        assert_int_equal(n, 0);
        assert_int_equal(consumed, 0);
    }
    if (c->status == ERR) {
        assert_non_null(why);
        if (strcmp(why, c->why) != 0)
            fail_msg("%s: why \"%s\", want \"%s\"", c->label, why, c->why);
    }
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pcase_t *c = &cases[i];
        check_case(c, c->in, c->len ? c->len : strlen(c->in));
    }
}

/*
 * Feeds in[0..len) to policy_scan in two pieces split at k (and, separately, one byte at a
 * time): the outcome must equal the one-shot parse, and no prefix may look complete early.
 */
static void check_splits(const char *label, const char *in, size_t len)
{
    policy_attr_t attrs[POLICY_ATTR_MAX];
    size_t n, consumed;
    const char *why1 = NULL;
    policy_parse_status_t want =
        policy_parse(in, len, attrs, POLICY_ATTR_MAX, &n, &consumed, &why1);
    /* policy_scan over the whole buffer at once agrees with policy_parse */
    policy_scan_t st = {0, 0, 0, 0};
    const char *why2 = NULL;
    assert_int_equal(policy_scan(in, len, &st, &why2), want);
    if (want == DONE) {
        assert_int_equal(st.off, consumed);
        assert_int_equal(st.nattrs, n);
    }
    /* long inputs: every byte near the start and the end, a stride in between */
    for (size_t k = 0; k <= len; k += (k < 300 || k + 300 > len) ? 1 : 37) {
        /* the first piece lives in its own allocation so ASan catches reads past it */
        char *piece = malloc(k ? k : 1);
        memcpy(piece, in, k);
        policy_scan_t s = {0, 0, 0, 0};
        const char *why = NULL;
        policy_parse_status_t r1 = policy_scan(piece, k, &s, &why);
        free(piece);
        policy_parse_status_t r = r1;
        if (r1 == MORE) r = policy_scan(in, len, &s, &why);
        if (r1 == DONE && (want != DONE || k < consumed))
            fail_msg("%s: done after %zu of %zu bytes", label, k, len);
        if (r != want) fail_msg("%s: split at %zu: status %d, want %d", label, k, r, want);
        if (want == DONE) assert_int_equal(s.off, consumed);
        if (want == ERR && strcmp(why, why1) != 0)
            fail_msg("%s: split at %zu: why \"%s\", want \"%s\"", label, k, why, why1);
        /* and the one-shot parser on every prefix says MORE (or the same error) */
        size_t n2, c2;
        const char *w = NULL;
        policy_parse_status_t p = policy_parse(in, k, attrs, POLICY_ATTR_MAX, &n2, &c2, &w);
        if (want == DONE && k < consumed) assert_int_equal(p, MORE);
        if (want == MORE) assert_int_equal(p, MORE);
    }
    /* one byte at a time */
    policy_scan_t s = {0, 0, 0, 0};
    policy_parse_status_t r = MORE;
    const char *why = NULL;
    size_t k = 0;
    while (r == MORE && k < len)
        r = policy_scan(in, ++k, &s, &why);
    assert_int_equal(r, want);
    if (want == DONE) {
        assert_int_equal(k, consumed);
        assert_int_equal(s.off, consumed);
        assert_int_equal(s.nattrs, n);
    }
}

static void test_split_everywhere(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pcase_t *c = &cases[i];
        check_splits(c->label, c->in, c->len ? c->len : strlen(c->in));
    }
    /* the Postfix request with CRLF line ends */
    str_t crlf = STR_INIT;
    for (const char *p = postfix_request; *p != '\0'; p++) {
        if (*p == '\n') str_appendc(&crlf, '\r');
        str_appendc(&crlf, *p);
    }
    check_splits("postfix crlf", crlf.data, crlf.len);
    str_free(&crlf);
}

/* Several requests back to back in one buffer, as a pipelining client sends them. */
static void test_several_in_one_buffer(void **state)
{
    (void)state;
    str_t buf = STR_INIT;
    for (int i = 0; i < 50; i++) {
        str_append(&buf, postfix_request, sizeof postfix_request - 1);
        str_appendf(&buf, "request=smtpd_access_policy\r\nseq=%d\r\n\r\n", i);
    }
    str_appendz(&buf, "request=smtpd_acc"); /* an incomplete tail */
    policy_attr_t attrs[POLICY_ATTR_MAX];
    size_t off = 0, n, used, requests = 0;
    const char *why;
    policy_parse_status_t r;
    while ((r = policy_parse(buf.data + off, buf.len - off, attrs, POLICY_ATTR_MAX, &n, &used,
                             &why)) == DONE) {
        if (requests % 2 == 0) {
            assert_int_equal(n, 31);
            assert_int_equal(used, sizeof postfix_request - 1);
        } else {
            char want[32];
            snprintf(want, sizeof want, "%zu", requests / 2);
            const policy_attr_t *seq = policy_find(attrs, n, "seq");
            assert_non_null(seq);
            assert_int_equal(seq->value_len, strlen(want));
            assert_memory_equal(seq->value, want, seq->value_len);
        }
        off += used;
        requests++;
    }
    assert_int_equal(r, MORE);
    assert_int_equal(requests, 100);
    assert_int_equal(buf.len - off, strlen("request=smtpd_acc"));
    str_free(&buf);
}

static void make_line(str_t *s, const char *name, size_t value_len, const char *eol)
{
    str_appendz(s, name);
    str_appendc(s, '=');
    for (size_t i = 0; i < value_len; i++)
        str_appendc(s, (char)('a' + i % 26));
    str_appendz(s, eol);
}

static policy_parse_status_t parse_str(const str_t *s, size_t max_attrs, size_t *n,
                                       const char **why)
{
    policy_attr_t attrs[POLICY_ATTR_MAX];
    size_t used;
    return policy_parse(s->data, s->len, attrs, max_attrs, n, &used, why);
}

static void test_limits(void **state)
{
    (void)state;
    str_t s = STR_INIT;
    size_t n;
    const char *why;

    /* a line of exactly POLICY_LINE_MAX bytes, with "\n" and with "\r\n" */
    make_line(&s, "a", POLICY_LINE_MAX - 2, "\n\n");
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), DONE);
    str_clear(&s);
    make_line(&s, "a", POLICY_LINE_MAX - 2, "\r\n\r\n");
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), DONE);
    check_splits("longest line", s.data, s.len);
    str_clear(&s);
    /* one byte more */
    make_line(&s, "a", POLICY_LINE_MAX - 1, "\n\n");
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), ERR);
    assert_string_equal(why, "line too long");
    check_splits("over-long line", s.data, s.len);
    str_clear(&s);
    /* an over-long line is refused before its newline arrives */
    make_line(&s, "a", POLICY_LINE_MAX - 1, "");
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), ERR);
    assert_string_equal(why, "line too long");
    str_clear(&s);
    /* but not while its last byte may be the '\r' of its "\r\n" */
    make_line(&s, "a", POLICY_LINE_MAX - 2, "\r");
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), MORE);
    str_clear(&s);

    /* POLICY_ATTR_MAX attributes, then one more */
    for (int i = 0; i < POLICY_ATTR_MAX; i++)
        str_appendf(&s, "attr%d=%d\n", i, i);
    str_appendc(&s, '\n');
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), DONE);
    assert_int_equal(n, POLICY_ATTR_MAX);
    /* a caller's smaller array is respected, a larger one is capped */
    assert_int_equal(parse_str(&s, 10, &n, &why), ERR);
    assert_string_equal(why, "too many attributes");
    str_clear(&s);
    for (int i = 0; i <= POLICY_ATTR_MAX; i++)
        str_appendf(&s, "attr%d=%d\n", i, i);
    str_appendc(&s, '\n');
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), ERR);
    assert_string_equal(why, "too many attributes");
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX * 2, &n, &why), ERR);
    check_splits("too many attributes", s.data, s.len);
    str_clear(&s);

    /* a request of exactly POLICY_REQUEST_MAX bytes: 8 lines of 4096 bytes minus a bit */
    size_t left = POLICY_REQUEST_MAX - 1; /* the final empty line */
    for (int i = 0; left > 0; i++) {
        size_t line = left > POLICY_LINE_MAX + 1 ? POLICY_LINE_MAX + 1 : left;
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        make_line(&s, name, line - strlen(name) - 2, "\n");
        left -= line;
    }
    str_appendc(&s, '\n');
    assert_int_equal(s.len, POLICY_REQUEST_MAX);
    assert_int_equal(parse_str(&s, POLICY_ATTR_MAX, &n, &why), DONE);
    check_splits("largest request", s.data, s.len);
    /* one byte more */
    str_t t = STR_INIT;
    str_appendz(&t, "x=\n");
    str_append(&t, s.data, s.len);
    assert_int_equal(parse_str(&t, POLICY_ATTR_MAX, &n, &why), ERR);
    assert_string_equal(why, "request too large");
    check_splits("too large", t.data, t.len);
    /* refused before its end arrives */
    t.len -= 1;
    assert_int_equal(parse_str(&t, POLICY_ATTR_MAX, &n, &why), ERR);
    assert_string_equal(why, "request too large");
    str_free(&t);
    str_free(&s);
}

static void test_find(void **state)
{
    (void)state;
    const char req[] = "recipient_count=0\nrecipient=a@b\nRecipient=X\nrecipient=second\n\n";
    policy_attr_t attrs[8];
    size_t n, used;
    const char *why;
    assert_int_equal(policy_parse(req, sizeof req - 1, attrs, 8, &n, &used, &why), DONE);
    const policy_attr_t *a = policy_find(attrs, n, "recipient");
    assert_non_null(a);
    assert_memory_equal(a->value, "a@b", 3); /* the first one; exact, case-sensitive */
    assert_null(policy_find(attrs, n, "recip"));
    assert_null(policy_find(attrs, n, "recipient_count_"));
    assert_null(policy_find(attrs, n, "sender"));
    assert_null(policy_find(attrs, 0, "recipient"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_several_in_one_buffer),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
