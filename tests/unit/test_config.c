/*
 * Unit tests of the configuration reader, the catalog table and the postscreen-style
 * blocklist reply filters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/catalog.h"
#include "core/config.h"

static char dir[256];

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mb-test-config-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_catalog_table(void **state)
{
    (void)state;
    for (int i = 0; i < F_COUNT; i++) {
        const catalog_entry_t *e = catalog_get((finding_id_t)i);
        assert_int_equal(e->fid, i);
        assert_ptr_equal(catalog_find(e->id, strlen(e->id)), e);
        assert_true(e->code >= 500 && e->code <= 559);
        /* the enhanced code's class matches the reply code's (RFC 3463 2) */
        assert_int_equal(e->enhanced[0], '5');
        assert_non_null(e->reason);
        assert_non_null(e->explanation);
        assert_non_null(e->fix);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(e->id, catalog_get((finding_id_t)j)->id);
    }
    assert_null(catalog_find("client.nope", 11));
    assert_null(catalog_get(F_COUNT));
    /* the ids DESIGN.md promises */
    const char *ids[] = {"helo.missing", "helo.syntax", "helo.not_fqdn",
                         "helo.ip_literal_mismatch", "helo.no_dns", "helo.forged_self",
                         "client.no_ptr", "client.ptr_mismatch", "client.ptr_generic",
                         "client.ptr_listed", "client.no_tls", "client.dnsbl", "sender.syntax",
                         "sender.no_domain", "sender.ip_domain", "sender.domain_unknown",
                         "sender.null_mx", "sender.forged_local", "sender.rhsbl", "rcpt.syntax",
                         "rcpt.no_domain", "rcpt.ip_domain", "message.too_big"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        assert_non_null(catalog_find(ids[i], strlen(ids[i])));
    assert_string_equal(catalog_get(F_CLIENT_NO_PTR)->enhanced, "5.7.25");
    assert_string_equal(catalog_get(F_SENDER_NULL_MX)->enhanced, "5.7.27");
}

static void test_defaults(void **state)
{
    (void)state;
    char err[256];
    config_t *c = config_load(NULL, NULL, 0, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(c->npolicy_listen, 1);
    assert_string_equal(c->policy_listen[0], "inet:127.0.0.1:10040");
    assert_int_equal(c->action[F_CLIENT_NO_TLS], ACTION_IGNORE);
    assert_int_equal(c->action[F_CLIENT_NO_PTR], ACTION_REJECT);
    assert_false(c->dry_run);
    ipaddr_t ip;
    ipaddr_parsez(&ip, "127.0.0.5");
    assert_true(config_in_mynetworks(c, &ip));
    ipaddr_parsez(&ip, "::1");
    assert_true(config_in_mynetworks(c, &ip));
    ipaddr_parsez(&ip, "192.0.2.1");
    assert_false(config_in_mynetworks(c, &ip));
    config_free(c);
}

static void test_file_and_overrides(void **state)
{
    (void)state;
    const char *pat = write_file("ptr.pcre", "# operator patterns\n"
                                             "/^mta[0-9]+\\.spamhost\\.example$/ bulk sender\n"
                                             "/\\.bad\\.example$/\n");
    char patpath[512];
    snprintf(patpath, sizeof patpath, "%s", pat);
    const char *ov = write_file("over", "example.org client.ptr_generic=ignore\n"
                                        "bob@example.com client.dnsbl=warn, helo.no_dns=tempfail\n");
    char ovpath[512];
    snprintf(ovpath, sizeof ovpath, "%s", ov);
    char text[2048];
    snprintf(text, sizeof text,
             "# comment\n"
             "myhostname = MX.Example.COM.\n"
             "local_domains = example.com,\n"
             "   example.net\n"
             "mynetworks = 10.0.0.0/8 [2001:db8::]/32\n"
             "dnsbl_sites = zen.example=127.0.0.[2..11]*3, bl.example*2, wl.example=127.0.[0..255].[1;3]*-2\n"
             "dnsbl_threshold = 3\n"
             "client.ptr_generic = warn\n"
             "dry_run = yes\n"
             "dns_timeout = 500ms\n"
             "client_ptr_patterns = %s\n"
             "recipient_overrides = %s\n",
             patpath, ovpath);
    const char *path = write_file("main.cf", text);
    const char *overrides[] = {"helo.no_dns=ignore", "dnsbl_threshold = 4"};
    char err[256];
    config_t *c = config_load(path, overrides, 2, err, sizeof err);
    if (c == NULL)
        fail_msg("%s", err);
    assert_string_equal(c->myhostname, "mx.example.com");
    assert_int_equal(c->nlocal_domains, 2);
    assert_string_equal(c->local_domains[1], "example.net");
    assert_true(config_is_local_domain(c, "EXAMPLE.net", 11));
    assert_true(config_is_local_domain(c, "mx.example.com.", 15));
    assert_false(config_is_local_domain(c, "sub.example.net", 15));
    assert_int_equal(c->nmynetworks, 2);
    assert_int_equal(c->ndnsbl_sites, 3);
    assert_string_equal(c->dnsbl_sites[0].zone, "zen.example");
    assert_string_equal(c->dnsbl_sites[0].filter, "127.0.0.[2..11]");
    assert_int_equal(c->dnsbl_sites[0].weight, 3);
    assert_null(c->dnsbl_sites[1].filter);
    assert_int_equal(c->dnsbl_sites[2].weight, -2);
    assert_int_equal(c->dnsbl_threshold, 4); /* -o wins over the file */
    assert_int_equal(c->action[F_CLIENT_PTR_GENERIC], ACTION_WARN);
    assert_int_equal(c->action[F_HELO_NO_DNS], ACTION_IGNORE);
    assert_true(c->dry_run);
    assert_int_equal(c->dns_timeout_ms, 500);
    /* patterns */
    const char *p, *t;
    assert_true(config_ptr_listed(c, "MTA12.spamhost.example", 22, &p, &t));
    assert_string_equal(t, "bulk sender");
    assert_true(config_ptr_listed(c, "x.bad.example", 13, &p, &t));
    assert_null(t);
    assert_false(config_ptr_listed(c, "mail.good.example", 17, &p, &t));
    /* recipient overrides: address beats domain, domain applies to its users */
    assert_int_equal(config_action(c, F_CLIENT_PTR_GENERIC, "ann@example.org", 15),
                     ACTION_IGNORE);
    assert_int_equal(config_action(c, F_CLIENT_PTR_GENERIC, "ann@example.net", 15), ACTION_WARN);
    assert_int_equal(config_action(c, F_CLIENT_DNSBL, "Bob@Example.com", 15), ACTION_WARN);
    assert_int_equal(config_action(c, F_HELO_NO_DNS, "bob@example.com", 15), ACTION_TEMPFAIL);
    assert_int_equal(config_action(c, F_CLIENT_DNSBL, "eve@example.com", 15), ACTION_REJECT);
    assert_int_equal(config_action(c, F_CLIENT_DNSBL, NULL, 0), ACTION_REJECT);
    config_free(c);
}

static void expect_error(const char *text, const char *want)
{
    const char *path = write_file("bad.cf", text);
    char err[512] = "";
    config_t *c = config_load(path, NULL, 0, err, sizeof err);
    assert_null(c);
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("myhostname = a.example\nno_such_key = 1\n", "bad.cf:2: no_such_key: unknown key");
    expect_error("\n\n# c\nmynetworks = 10.0.0.0/33\n", "bad.cf:4: mynetworks: bad address");
    expect_error("client.no_ptr = maybe\n", "bad.cf:1: client.no_ptr: expected reject");
    expect_error("just words\n", "bad.cf:1: expected \"key = value\"");
    expect_error("dnsbl_sites = zen.example*x\n", "bad.cf:1: dnsbl_sites: bad weight");
    expect_error("dnsbl_sites = zen.example=127.0.0.a\n", "bad reply filter");
    expect_error("policy_listen = tcp:1.2.3.4:5\n", "expected inet:HOST:PORT or unix:PATH");
    expect_error("dry_run = perhaps\n", "expected yes or no");
    expect_error("dns_timeout = soon\n", "expected a duration");
    expect_error("client_ptr_patterns = /nonexistent/file\n", "/nonexistent/file");
    write_file("badpat", "/ok/\n/unclosed(/\n");
    char text[600];
    snprintf(text, sizeof text, "client_ptr_patterns = %s/badpat\n", dir);
    expect_error(text, "badpat:2: bad pattern");
    write_file("badover", "example.org client.nope=reject\n");
    snprintf(text, sizeof text, "recipient_overrides = %s/badover\n", dir);
    expect_error(text, "badover:1: bad setting");
    char err[256];
    const char *o[] = {"bogus=1"};
    assert_null(config_load(NULL, o, 1, err, sizeof err));
    assert_non_null(strstr(err, "-o bogus"));
}

/* spf.*: an action per result, with the catalog's defaults and the derived rules. */
static void test_result_actions(void **state)
{
    (void)state;
    char err[256];
    config_t *c = config_load(NULL, NULL, 0, err, sizeof err);
    assert_non_null(c);
    /* catalog defaults */
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_FAIL, NULL, 0), ACTION_REJECT);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_SOFTFAIL, NULL, 0), ACTION_WARN);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_NEUTRAL, NULL, 0), ACTION_IGNORE);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_NONE, NULL, 0), ACTION_IGNORE);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_PERMERROR, NULL, 0), ACTION_WARN);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_TEMPERROR, NULL, 0),
                     ACTION_TEMPFAIL);
    assert_int_equal(config_result_action(c, F_SPF_HELO, RES_TEMPERROR, NULL, 0), ACTION_WARN);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_PASS, NULL, 0), ACTION_IGNORE);
    /* a finding without per-result actions: temperror follows fail, the rest is ignored */
    assert_int_equal(config_result_action(c, F_CLIENT_NO_PTR, RES_TEMPERROR, NULL, 0),
                     ACTION_TEMPFAIL);
    assert_int_equal(config_result_action(c, F_CLIENT_NO_PTR, RES_SOFTFAIL, NULL, 0),
                     ACTION_IGNORE);
    config_free(c);

    const char *o[] = {"spf.mailfrom.softfail=reject", "spf.mailfrom.none=warn",
                       "spf.helo.fail=warn", "client.no_ptr=warn"};
    c = config_load(NULL, o, 4, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_SOFTFAIL, NULL, 0),
                     ACTION_REJECT);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_NONE, NULL, 0), ACTION_WARN);
    /* "spf.helo.fail" is the finding's own action */
    assert_int_equal(config_action(c, F_SPF_HELO, NULL, 0), ACTION_WARN);
    assert_int_equal(config_result_action(c, F_CLIENT_NO_PTR, RES_TEMPERROR, NULL, 0),
                     ACTION_WARN);
    config_free(c);

    /* ignore on the finding turns every result off */
    const char *off[] = {"spf.mailfrom.softfail=reject", "spf.mailfrom=ignore"};
    c = config_load(NULL, off, 2, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_SOFTFAIL, NULL, 0),
                     ACTION_IGNORE);
    assert_int_equal(config_result_action(c, F_SPF_MAILFROM, RES_TEMPERROR, NULL, 0),
                     ACTION_IGNORE);
    config_free(c);

    expect_error("spf.mailfrom.pass = reject\n", "expected spf.mailfrom.RESULT");
    expect_error("spf.mailfrom.softfial = reject\n", "expected spf.mailfrom.RESULT");
    expect_error("spf.helo.softfail = maybe\n", "expected reject");
    expect_error("client.no_ptr.softfail = reject\n", "client.no_ptr has no per-result actions");
}

static void test_filters(void **state)
{
    (void)state;
    ipaddr_t ip;
    ipaddr_parsez(&ip, "127.0.0.4");
    assert_true(dnsxl_filter_match(NULL, &ip));
    assert_true(dnsxl_filter_match("127.0.0.4", &ip));
    assert_false(dnsxl_filter_match("127.0.0.2", &ip));
    assert_true(dnsxl_filter_match("127.0.0.[2..11]", &ip));
    assert_false(dnsxl_filter_match("127.0.0.[5..11]", &ip));
    assert_true(dnsxl_filter_match("127.0.0.[2;4;6]", &ip));
    assert_true(dnsxl_filter_match("127.0.[0..255].[1;3..5]", &ip));
    assert_false(dnsxl_filter_match("127.0.0.[1;3]", &ip));
    assert_false(dnsxl_filter_match("127.0.0", &ip));
    assert_false(dnsxl_filter_match("127.0.0.4.5", &ip));
    unsigned ms;
    assert_int_equal(config_parse_duration_ms("2m", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(config_parse_duration_ms("10", &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_not_equal(config_parse_duration_ms("-1s", &ms), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_table), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_and_overrides), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_filters), cmocka_unit_test(test_result_actions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
