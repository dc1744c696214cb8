/*
 * Unit tests of the gate glue: Postfix policy attributes to transaction facts, the
 * internal-form address quoting, and the Postfix action for a verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gate/gate.h"
#include "mail/addr.h"

static size_t parse(const char *req, policy_attr_t *attrs)
{
    size_t n, used;
    const char *why;
    assert_int_equal(policy_parse(req, strlen(req), attrs, POLICY_ATTR_MAX, &n, &used, &why),
                     POLICY_PARSE_DONE);
    return n;
}

static void test_facts(void **state)
{
    (void)state;
    policy_attr_t attrs[POLICY_ATTR_MAX];
    const char *req = "request=smtpd_access_policy\n"
                      "protocol_state=RCPT\n"
                      "protocol_name=ESMTP\n"
                      "client_address=::ffff:192.0.2.10\n"
                      "client_name=mail.good.test\n"
                      "reverse_client_name=mail.good.test\n"
                      "helo_name=mail.good.test\n"
                      "sender=john doe@good.test\n"
                      "recipient=bob@example.com\n"
                      "recipient_count=0\n"
                      "queue_id=\n"
                      "instance=123.456.7\n"
                      "size=12345\n"
                      "sasl_username=\n"
                      "encryption_protocol=TLSv1.3\n"
                      "server_address=192.0.2.1\n"
                      "future_attribute=whatever\n"
                      "\n";
    size_t n = parse(req, attrs);
    txn_t *t = txn_new();
    txn_reset(t, NULL, NULL);
    assert_int_equal(gate_facts_from_request(t, attrs, n), STAGE_RCPT);
    const facts_t *f = txn_facts(t);
    char buf[64];
    assert_true(f->have_client);
    assert_string_equal(ipaddr_format(&f->client_ip, buf, sizeof buf), "192.0.2.10");
    assert_true(f->helo_given);
    assert_string_equal(f->helo, "mail.good.test");
    assert_true(f->have_sender);
    /* Postfix's internal form gets its quotes back */
    assert_string_equal(f->sender, "\"john doe\"@good.test");
    assert_int_equal(f->sender_len, strlen("\"john doe\"@good.test"));
    assert_true(f->have_rcpt);
    assert_string_equal(f->rcpt, "bob@example.com");
    assert_null(f->sasl_user);
    assert_true(f->tls);
    assert_true(f->have_size);
    assert_int_equal(f->size, 12345);
    assert_true(f->have_server_ip);
    assert_string_equal(f->instance, "123.456.7");
    txn_free(t);
}

static void test_states(void **state)
{
    (void)state;
    static const struct {
        const char *state;
        int stage;
    } cases[] = {{"CONNECT", STAGE_CONNECT}, {"EHLO", STAGE_HELO}, {"HELO", STAGE_HELO},
                 {"MAIL", STAGE_MAIL},       {"RCPT", STAGE_RCPT}, {"DATA", STAGE_DATA},
                 {"END-OF-MESSAGE", STAGE_DATA}, {"VRFY", -1}, {"ETRN", -1}};
    policy_attr_t attrs[POLICY_ATTR_MAX];
    char req[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(req, sizeof req,
                 "request=smtpd_access_policy\nprotocol_state=%s\nclient_address=192.0.2.1\n"
                 "sender=\nrecipient=a@b.example\n\n",
                 cases[i].state);
        size_t n = parse(req, attrs);
        txn_t *t = txn_new();
        txn_reset(t, NULL, NULL);
        assert_int_equal(gate_facts_from_request(t, attrs, n), cases[i].stage);
        const facts_t *f = txn_facts(t);
        if (cases[i].stage >= STAGE_MAIL) {
            /* an empty sender from MAIL on is the null sender */
            assert_true(f->have_sender);
            assert_int_equal(f->sender_len, 0);
        } else if (cases[i].stage >= 0) {
            assert_false(f->have_sender);
        }
        if (cases[i].stage >= 0 && cases[i].stage < STAGE_RCPT)
            assert_false(f->have_rcpt);
        txn_free(t);
    }
    /* not a policy request */
    size_t n = parse("request=junk\nprotocol_state=RCPT\n\n", attrs);
    txn_t *t = txn_new();
    txn_reset(t, NULL, NULL);
    assert_int_equal(gate_facts_from_request(t, attrs, n), -1);
    /* bad values are not facts */
    n = parse("request=smtpd_access_policy\nclient_address=unknown\nsize=12x\n\n", attrs);
    txn_reset(t, NULL, NULL);
    assert_int_equal(gate_facts_from_request(t, attrs, n), STAGE_RCPT);
    assert_false(txn_facts(t)->have_client);
    assert_false(txn_facts(t)->have_size);
    txn_free(t);
}

static void test_internal_form(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"user@example.com", "user@example.com"},
        {"first.last@example.com", "first.last@example.com"},
        {"john doe@example.com", "\"john doe\"@example.com"},
        {"a..b@example.com", "\"a..b\"@example.com"},
        {".a@example.com", "\".a\"@example.com"},
        {"q\"uote@example.com", "\"q\\\"uote\"@example.com"},
        {"back\\slash@example.com", "\"back\\\\slash\"@example.com"},
        {"@example.com", "\"\"@example.com"},
        {"a@b@example.com", "\"a@b\"@example.com"},
        {"postmaster", "postmaster"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = addr_from_internal(cases[i].in, strlen(cases[i].in), out, sizeof out);
        assert_int_equal(n, (int)strlen(cases[i].out));
        assert_string_equal(out, cases[i].out);
        /* every quoted result is valid RFC 5321 syntax */
        if (strchr(cases[i].in, '@') != NULL) {
            addr_t a;
            assert_int_equal(addr_parse((const unsigned char *)out, (size_t)n, 0, &a), ADDR_OK);
        }
    }
    assert_int_equal(addr_from_internal("john doe@x", 10, out, 8), -1);
}

static void test_action(void **state)
{
    (void)state;
    verdict_t v;
    memset(&v, 0, sizeof v);
    str_t s = STR_INIT;
    v.action = VERDICT_ACCEPT;
    gate_action(&v, &s);
    assert_string_equal(str_cstr(&s), "DUNNO");
    v.action = VERDICT_REJECT;
    v.code = 550;
    snprintf(v.enhanced, sizeof v.enhanced, "5.7.25");
    v.text = "no reverse DNS (PTR) for the client address: 192.0.2.11 (client.no_ptr)";
    gate_action(&v, &s);
    assert_string_equal(str_cstr(&s), "550 5.7.25 no reverse DNS (PTR) for the client address: "
                                      "192.0.2.11 (client.no_ptr)");
    v.dry_run = true;
    gate_action(&v, &s);
    assert_string_equal(str_cstr(&s), "DUNNO");
    str_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_facts),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_internal_form),
        cmocka_unit_test(test_action),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
