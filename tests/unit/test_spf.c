/*
 * test_spf: the SPF record parser and macro expander (tables, RFC 7208 7.4 examples) and the
 * evaluator over hermetic DNS: zone files loaded into the real resolver; everything outside
 * them is forwarded to a loopback socket that never answers (so it times out and nothing
 * leaves loopback). The RFC 7208 test suite itself is test_spf_suite.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/spf.h"
#include "dns/dns.h"
#include "fake_dns.h"

/* ---- parser ---- */

static void test_record_parse(void **state)
{
    (void)state;
    static const struct {
        const char *rec;
        int ok; /* 1 valid, 0 syntax error */
        size_t nterms, lookups;
        const char *bad; /* the term reported, for errors */
    } cases[] = {
        {"v=spf1", 1, 0, 0, NULL},
        {"V=SPF1 -ALL", 1, 1, 0, NULL},
        {"v=spf1  a  mx -all ", 1, 3, 2, NULL},
        {"v=spf1 a/24//64 mx:%{d}/0 ptr:%{d2} exists:%{ir}.x.example include:_spf.example.com "
         "ip4:192.0.2.0/24 ip6:2001:db8::/32 ?all redirect=x.example exp=e.%{d} foo.bar-x_y=%%",
         1, 11, 6, NULL},
        {"v=spf1 a:foo:bar/baz.example.com", 1, 1, 1, NULL},
        {"v=spf1 a:.com", 1, 1, 1, NULL},  /* macro-string may be empty (12) */
        {"v=spf1 a:foo%-", 1, 1, 1, NULL}, /* domain-end = macro-expand, "%-" is one */
        {"v=spf1 exists:%{i}.example.com.", 1, 1, 1, NULL},
        {"v=spf1 ip6:::ffff:1.2.3.4/128", 1, 1, 0, NULL},
        {"v=spf1 default=pass", 1, 1, 0, NULL},
        {"v=spf10", 0, 0, 0, "v=spf10"},
        {"v=spf1 -all moo", 0, 0, 0, "moo"},
        {"v=spf1 -all.", 0, 0, 0, "-all."},
        {"v=spf1 a:foo-bar", 0, 0, 0, "a:foo-bar"},
        {"v=spf1 a:111.222.33.44", 0, 0, 0, "a:111.222.33.44"},
        {"v=spf1 a:example.-com", 0, 0, 0, "a:example.-com"},
        {"v=spf1 a:%{d}.", 0, 0, 0, "a:%{d}."},
        {"v=spf1 a/33", 0, 0, 0, "a/33"},
        {"v=spf1 a//129", 0, 0, 0, "a//129"},
        {"v=spf1 a/24/64", 0, 0, 0, "a/24/64"},
        {"v=spf1 a/024", 0, 0, 0, "a/024"},
        {"v=spf1 ip4:1.2.3.4/032", 0, 0, 0, "ip4:1.2.3.4/032"},
        {"v=spf1 ip4:1.2.3", 0, 0, 0, "ip4:1.2.3"},
        {"v=spf1 ip4:01.2.3.4", 0, 0, 0, "ip4:01.2.3.4"},
        {"v=spf1 ip4:1.2.3.4//32", 0, 0, 0, "ip4:1.2.3.4//32"},
        {"v=spf1 ip6::CAFE::BABE", 0, 0, 0, "ip6::CAFE::BABE"},
        {"v=spf1 ip6:::1/129", 0, 0, 0, "ip6:::1/129"},
        {"v=spf1 include", 0, 0, 0, "include"},
        {"v=spf1 ptr/0", 0, 0, 0, "ptr/0"},
        {"v=spf1 exists", 0, 0, 0, "exists"},
        {"v=spf1 exp=", 0, 0, 0, "exp="},
        {"v=spf1 exp=-all", 0, 0, 0, "exp=-all"},
        {"v=spf1 exp=a.example exp=b.example", 0, 0, 0, "exp=b.example"},
        {"v=spf1 redirect=a.example redirect=a.example", 0, 0, 0, "redirect=a.example"},
        {"v=spf1 redirect:a.example", 0, 0, 0, "redirect:a.example"},
        {"v=spf1 1up=foo", 0, 0, 0, "1up=foo"},
        {"v=spf1 =all", 0, 0, 0, "=all"},
        {"v=spf1 foo=%abc", 0, 0, 0, "foo=%abc"},
        {"v=spf1 foo=%{c}", 0, 0, 0, "foo=%{c}"},
        {"v=spf1 exp=%{r}.example.com", 0, 0, 0, "exp=%{r}.example.com"},
        {"v=spf1 a:%{d0}.example.com", 0, 0, 0, "a:%{d0}.example.com"},
        {"v=spf1 a:%{x}.example.com", 0, 0, 0, "a:%{x}.example.com"},
        {"v=spf1 a:%{d.example.com", 0, 0, 0, "a:%{d.example.com"},
        {"v=spf1 a:ctrl.example.com\rptr", 0, 0, 0, "a:ctrl.example.com\rptr"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        spf_record_t r;
        const char *rec = cases[i].rec;
        int rc = spf_record_parse(rec, strlen(rec), &r);
        if (cases[i].ok && rc != 0) fail_msg("rejected \"%s\": %s", rec, r.why);
        if (!cases[i].ok && rc == 0) fail_msg("accepted \"%s\"", rec);
        if (cases[i].ok) {
            if (r.nterms != cases[i].nterms || r.lookup_terms != cases[i].lookups)
                fail_msg("\"%s\": %zu terms %zu lookups", rec, r.nterms, r.lookup_terms);
        } else {
            assert_non_null(r.why);
            if (r.err_len != strlen(cases[i].bad) ||
                memcmp(rec + r.err_off, cases[i].bad, r.err_len) != 0)
                fail_msg("\"%s\": reported \"%.*s\"", rec, (int)r.err_len, rec + r.err_off);
        }
    }
}

static void test_record_terms(void **state)
{
    (void)state;
    const char *rec = "v=spf1 -a:Foo.example/24//64 ~mx//0 ?ip4:192.0.2.1/16 +all "
                      "ip6:2001:DB8::1 moo=bar%{d} exp=x.%{d}";
    size_t pos = SPF_VERSION_LEN, len = strlen(rec);
    spf_term_t t;
    const char *why;
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 1);
    assert_int_equal(t.kind, SPF_A);
    assert_int_equal(t.qualifier, '-');
    assert_int_equal(t.cidr4, 24);
    assert_int_equal(t.cidr6, 64);
    assert_int_equal(t.arg_len, 11);
    assert_memory_equal(rec + t.arg_off, "Foo.example", 11);
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 1);
    assert_int_equal(t.kind, SPF_MX);
    assert_int_equal(t.qualifier, '~');
    assert_int_equal(t.arg_len, 0);
    assert_int_equal(t.cidr4, -1);
    assert_int_equal(t.cidr6, 0);
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 1);
    assert_int_equal(t.kind, SPF_IP4);
    assert_int_equal(t.qualifier, '?');
    assert_int_equal(t.cidr4, 16);
    assert_int_equal(t.net.family, 4);
    assert_int_equal(t.net.a[3], 1);
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 1);
    assert_int_equal(t.kind, SPF_ALL);
    assert_int_equal(t.qualifier, '+');
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 1);
    assert_int_equal(t.kind, SPF_IP6);
    assert_int_equal(t.net.family, 6);
    assert_int_equal(t.cidr6, -1);
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 1);
    assert_int_equal(t.kind, SPF_UNKNOWN_MOD);
    assert_int_equal(t.name_len, 3);
    assert_memory_equal(rec + t.arg_off, "bar%{d}", t.arg_len);
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 1);
    assert_int_equal(t.kind, SPF_EXP);
    assert_int_equal(spf_term_next(rec, len, &pos, &t, &why), 0);
    /* bounded by len, not by a NUL: "v=spf1 -all" cut before "l" */
    spf_record_t r;
    assert_int_not_equal(spf_record_parse("v=spf1 -all", 10, &r), 0);
    assert_int_equal(spf_record_parse("v=spf1 -allX", 11, &r), 0);
    assert_true(spf_record_is_spf("v=spf1", 6));
    assert_true(spf_record_is_spf("V=Spf1 x", 8));
    assert_false(spf_record_is_spf("v=spf1x", 7));
    assert_false(spf_record_is_spf("v=spf", 5));
}

/* ---- macros ---- */

static spf_macro_ctx_t example_ctx(const char *ip)
{
    spf_macro_ctx_t c;
    memset(&c, 0, sizeof c);
    c.sender = "strong-bad@email.example.com";
    c.local = "strong-bad";
    c.sender_domain = "email.example.com";
    c.domain = "email.example.com";
    c.helo = "mx.example.org";
    c.receiver = "mx.receiver.example";
    c.now = 1700000000;
    if (ipaddr_parsez(&c.ip, ip) != 0) fail_msg("bad ip %s", ip);
    return c;
}

static void expect(const spf_macro_ctx_t *c, unsigned flags, const char *in, const char *want)
{
    char out[SPF_EXPLANATION_MAX + 1];
    size_t n;
    const char *why;
    spf_expand_status_t st = spf_macro_expand(in, strlen(in), c, flags, out, sizeof out, &n, &why);
    if (want == NULL) {
        if (st == SPF_EXPAND_OK) fail_msg("\"%s\" expanded to \"%s\"", in, out);
        return;
    }
    if (st != SPF_EXPAND_OK) fail_msg("\"%s\": %s", in, why);
    if (strcmp(out, want) != 0 || n != strlen(want))
        fail_msg("\"%s\": got \"%s\", want \"%s\"", in, out, want);
}

static void test_macro_rfc_examples(void **state)
{
    (void)state;
    /* RFC 7208 7.4 */
    spf_macro_ctx_t c = example_ctx("192.0.2.3");
    expect(&c, 0, "%{s}", "strong-bad@email.example.com");
    expect(&c, 0, "%{o}", "email.example.com");
    expect(&c, 0, "%{d}", "email.example.com");
    expect(&c, 0, "%{d4}", "email.example.com");
    expect(&c, 0, "%{d3}", "email.example.com");
    expect(&c, 0, "%{d2}", "example.com");
    expect(&c, 0, "%{d1}", "com");
    expect(&c, 0, "%{dr}", "com.example.email");
    expect(&c, 0, "%{d2r}", "example.email");
    expect(&c, 0, "%{l}", "strong-bad");
    expect(&c, 0, "%{l-}", "strong.bad");
    expect(&c, 0, "%{lr}", "strong-bad");
    expect(&c, 0, "%{lr-}", "bad.strong");
    expect(&c, 0, "%{l1r-}", "strong");
    expect(&c, 0, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com");
    expect(&c, 0, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com");
    expect(&c, 0, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
           "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
    expect(&c, 0, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
           "3.2.0.192.in-addr.strong.lp._spf.example.com");
    expect(&c, 0, "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net");
    spf_macro_ctx_t c6 = example_ctx("2001:db8::cb01");
    expect(&c6, 0, "%{ir}.%{v}._spf.%{d2}",
           "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
    expect(&c6, SPF_MACRO_EXPLAIN, "%{c} %{v}", "2001:db8::cb01 ip6");
}

static void test_macro_rules(void **state)
{
    (void)state;
    spf_macro_ctx_t c = example_ctx("192.0.2.3");
    /* escapes, upper case URL-escaping (7.3), delimiters, huge digit counts */
    expect(&c, 0, "a%%b%_c%-d.example", "a%b c%20d.example");
    expect(&c, 0, "%{L}.x", "strong-bad.x");
    c.local = "~jack&jill=up-a_b3.c";
    expect(&c, 0, "%{L}.x", "~jack%26jill%3Dup-a_b3.c.x");
    expect(&c, 0, "%{l2r=}.x", "up-a_b3.c.~jack&jill.x");
    expect(&c, 0, "%{l1r-=}.x", "~jack&jill.x");
    expect(&c, 0, "%{l2-=}.x", "up.a_b3.c.x");
    expect(&c, 0, "%{d99999999999999999999}", "email.example.com");
    expect(&c, 0, "%{D1R}", "email");
    expect(&c, 0, "%{p}.x", "unknown.x");
    c.ptr = "mx.example.org";
    expect(&c, 0, "%{p2}.x", "example.org.x");
    /* domain names: one trailing dot removed, not in explanations */
    expect(&c, 0, "example.com.", "example.com");
    expect(&c, SPF_MACRO_EXPLAIN, "This is a test.", "This is a test.");
    expect(&c, SPF_MACRO_EXPLAIN, "%{c} %{r} %{t}", "192.0.2.3 mx.receiver.example 1700000000");
    /* syntax errors */
    expect(&c, 0, "%", NULL);
    expect(&c, 0, "%{", NULL);
    expect(&c, 0, "%{d", NULL);
    expect(&c, 0, "%{d2x}", NULL);
    expect(&c, 0, "%{d0}", NULL);
    expect(&c, 0, "%{a}", NULL);
    expect(&c, 0, "%(ir)", NULL);
    expect(&c, 0, "%{c}", NULL);
    expect(&c, 0, "%{r}", NULL);
    expect(&c, 0, "%{t}", NULL);
    expect(&c, 0, "a b", NULL);
    expect(&c, SPF_MACRO_EXPLAIN, "caf\xc3\xa9", NULL);
    expect(&c, SPF_MACRO_EXPLAIN, "%{x}", NULL);
    spf_macro_info_t mi;
    assert_int_equal(spf_macro_check("x.%{p}.%{d}", 11, 0, &mi), 0);
    assert_true(mi.uses & SPF_USES_P);
    assert_true(mi.ends_with_macro);
    assert_int_equal(spf_macro_check("x.%{d}.com", 10, 0, &mi), 0);
    assert_false(mi.ends_with_macro);
    assert_int_equal(spf_macro_check("ab%q", 4, 0, &mi), -1);
    assert_int_equal(mi.err_off, 2);
}

static void test_macro_bounds(void **state)
{
    (void)state;
    spf_macro_ctx_t c = example_ctx("192.0.2.3");
    /* 7.3: more than 253 octets: labels removed from the left until it fits */
    char in[2048], full[2048], out[SPF_DOMAIN_MAX + 1];
    size_t n;
    const char *why;
    in[0] = full[0] = '\0';
    for (int i = 0; i < 20; i++) {
        strcat(in, "%{d}.");
        strcat(full, "email.example.com.");
    }
    strcat(in, "end.example");
    strcat(full, "end.example");
    const char *want = full;
    while (strlen(want) > SPF_DOMAIN_MAX)
        want = strchr(want, '.') + 1;
    assert_int_equal(spf_macro_expand(in, strlen(in), &c, 0, out, sizeof out, &n, &why),
                     SPF_EXPAND_OK);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    /* no label boundary within the last 253 octets */
    char big[600];
    memcpy(big, "x.", 2);
    memset(big + 2, 'a', 300);
    assert_int_equal(spf_macro_expand(big, 302, &c, 0, out, sizeof out, &n, &why),
                     SPF_EXPAND_BADNAME);
    /* a value over SPF_MACRO_VALUE_MAX is refused, not overflowed */
    char *huge = malloc(SPF_MACRO_VALUE_MAX + 2);
    memset(huge, 'x', SPF_MACRO_VALUE_MAX + 1);
    huge[SPF_MACRO_VALUE_MAX + 1] = '\0';
    c.local = huge;
    assert_int_equal(spf_macro_expand("%{l}", 4, &c, 0, out, sizeof out, &n, &why),
                     SPF_EXPAND_SYNTAX);
    free(huge);
    /* explanations are cut at the buffer, the content being as long as it likes */
    char small[16];
    c = example_ctx("192.0.2.3");
    assert_int_equal(
        spf_macro_expand("%{s}%{s}%{s}", 12, &c, SPF_MACRO_EXPLAIN, small, sizeof small, &n, &why),
        SPF_EXPAND_OK);
    assert_int_equal(n, sizeof small - 1);
    assert_memory_equal(small, "strong-bad@emai", 15);
    /* a domain buffer too small is an error, not an overflow */
    assert_int_equal(spf_macro_expand("x.y", 3, &c, 0, small, sizeof small, &n, &why),
                     SPF_EXPAND_SYNTAX);
}

/* ---- the evaluator over hermetic DNS ---- */

static char tmpdir[64], zone_fwd[128], zone_rev[128];
static int silent_fd = -1, silent_port;

static const char zone_fwd_text[] =
    "$ORIGIN spf.mailblock.test.\n"
    "$TTL 300\n"
    "@        SOA ns hostmaster 1 3600 600 86400 300\n"
    "host     A 192.0.2.50\n"
    "host     TXT \"v=spf1 a -all\"\n"
    "basic    TXT \"v=spf1 ip4:192.0.2.0/28 a:host.spf.mailblock.test -all "
    "exp=exp.spf.mailblock.test\"\n"
    "exp      TXT \"%{i} may not send for %{d} (%{s}, %{l})\"\n"
    "inc      TXT \"v=spf1 include:basic.spf.mailblock.test ~all\"\n"
    "red      TXT \"v=spf1 exp=none.spf.mailblock.test redirect=basic.spf.mailblock.test\"\n"
    "mx       TXT \"v=spf1 mx -all\"\n"
    "mx       MX 10 mx1\n"
    "mx       MX 20 mx2\n"
    "mx       MX 30 mx3\n"
    "mx1      A 192.0.2.61\n"
    "mx2      A 192.0.2.62\n"
    "mx3      A 192.0.2.63\n"
    "mxslow   TXT \"v=spf1 mx -all\"\n"
    "mxslow   MX 10 slow.timeout.example.net.\n"
    "mxslow   MX 20 mx2\n"
    "early    TXT \"v=spf1 a:host.spf.mailblock.test exists:slow.timeout.example.net -all\"\n"
    "limit    TXT \"v=spf1 a:host.spf.mailblock.test a:host.spf.mailblock.test \" "
    "\"a:host.spf.mailblock.test a:host.spf.mailblock.test a:host.spf.mailblock.test \" "
    "\"a:host.spf.mailblock.test a:host.spf.mailblock.test a:host.spf.mailblock.test \" "
    "\"a:host.spf.mailblock.test a:host.spf.mailblock.test a:host.spf.mailblock.test -all\"\n"
    "ptr      TXT \"v=spf1 ptr:spf.mailblock.test -all exp=pexp.spf.mailblock.test\"\n"
    "pexp     TXT \"from %{p}\"\n"
    "multi    TXT \"v=spf1 -all\"\n"
    "multi    TXT \"v=spf1 +all\"\n"
    "split    TXT \"v=spf1 ip4:\" \"192.0.2.1 -all\"\n"
    "xn--bcher-kva TXT \"v=spf1 ip4:192.0.2.1 -all\"\n";

static const char zone_rev_text[] =
    "$ORIGIN 2.0.192.in-addr.arpa.\n"
    "$TTL 300\n"
    "@  SOA ns.spf.mailblock.test. hostmaster.spf.mailblock.test. 1 3600 600 86400 300\n"
    "50 PTR other.example.\n"
    "50 PTR host.spf.mailblock.test.\n";

static uv_loop_t loop;
static dns_resolver_t *dns;

static void write_file(const char *path, const char *text)
{
    assert_int_equal(write_text_file(path, text), 0);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_spf.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) return -1;
    snprintf(zone_fwd, sizeof zone_fwd, "%s/fwd.zone", tmpdir);
    snprintf(zone_rev, sizeof zone_rev, "%s/rev.zone", tmpdir);
    write_file(zone_fwd, zone_fwd_text);
    /* big: a record of 80 terms (more than the evaluator keeps parsed with the answer):
     * 77 ip4 terms, a, -all and exp=, in character-strings of 10 terms */
    FILE *zf = fopen(zone_fwd, "a");
    if (zf == NULL) return -1;
    fprintf(zf, "big TXT \"v=spf1 \"");
    for (int i = 1; i <= 77; i++)
        fprintf(zf, "%s\"ip4:198.51.100.%d \"", i % 10 == 1 ? " " : "", i);
    fprintf(zf, " \"a:host.spf.mailblock.test -all exp=exp.spf.mailblock.test\"\n");
    if (fclose(zf) != 0) return -1;
    write_file(zone_rev, zone_rev_text);
    silent_fd = fake_dns_silent(&silent_port);
    return silent_fd >= 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    close(silent_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A resolver on the test's loop over the two zone files, forwarding every other name to the
 * silent socket (a query there never answers: it times out after timeout_ms). */
static dns_resolver_t *world_resolver(unsigned timeout_ms)
{
    char fw[64];
    snprintf(fw, sizeof fw, "127.0.0.1:%d", silent_port);
    const char *fws[] = {fw};
    const char *files[] = {zone_fwd, zone_rev};
    dns_options_t opt = {.forwarders = fws,
                         .nforwarders = 1,
                         .zone_files = files,
                         .nzone_files = 2,
                         .timeout_ms = timeout_ms};
    char err[256];
    dns_resolver_t *d = dns_resolver_new(&loop, &opt, err, sizeof err);
    if (d == NULL)
        fprintf(stderr, "dns_resolver_new: %s\n", err);
    return d;
}

static int setup(void **state)
{
    (void)state;
    if (uv_loop_init(&loop) != 0) return -1;
    dns = world_resolver(300);
    return dns != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dns_resolver_free(dns);
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 ? 0 : -1;
}

struct run {
    int fired;
    bool free_in_cb;
};

static void on_done(spf_check_t *c, void *arg)
{
    struct run *r = arg;
    r->fired++;
    if (r->free_in_cb) spf_check_free(c);
}

static spf_request_t req_for(const char *ip, const char *sender, const char *helo)
{
    spf_request_t q;
    memset(&q, 0, sizeof q);
    if (ipaddr_parsez(&q.ip, ip) != 0) fail_msg("bad ip %s", ip);
    q.sender = sender;
    q.helo = helo;
    q.trace = true;
    return q;
}

/* Runs a check on resolver d to completion; fails if it takes longer than max_ms. */
static spf_check_t *check_on(dns_resolver_t *d, const spf_request_t *q, struct run *r,
                             unsigned max_ms)
{
    spf_check_t *c = spf_check_start(d, q, on_done, r);
    bool sync = spf_check_done(c);
    uv_update_time(&loop);
    uint64_t start = uv_now(&loop);
    while (!spf_check_done(c)) {
        uv_run(&loop, UV_RUN_ONCE);
        uv_update_time(&loop);
        if (uv_now(&loop) - start > max_ms) fail_msg("no result within %u ms", max_ms);
    }
    assert_int_equal(r->fired, sync ? 0 : 1);
    return c;
}

static spf_check_t *check(const spf_request_t *q, struct run *r, unsigned max_ms)
{
    return check_on(dns, q, r, max_ms);
}

static void assert_mech(const spf_evidence_t *ev, const char *mech)
{
    if (mech == NULL) {
        assert_null(ev->mech);
        return;
    }
    assert_non_null(ev->mech);
    assert_int_equal(ev->mech_len, strlen(mech));
    assert_memory_equal(ev->mech, mech, ev->mech_len);
}

static void test_eval_basic(void **state)
{
    (void)state;
    struct run r = {0};
    spf_request_t q = req_for("192.0.2.1", "user@basic.spf.mailblock.test", "h.example");
    spf_check_t *c = check(&q, &r, 5000);
    const spf_evidence_t *ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_PASS);
    assert_mech(ev, "ip4:192.0.2.0/28");
    assert_string_equal(ev->mech_domain, "basic.spf.mailblock.test");
    assert_int_equal(ev->lookups, 0);
    assert_non_null(ev->record);
    assert_non_null(ev->trace);
    assert_null(ev->explanation);
    spf_check_free(c);

    /* a:, then fail with the exp= text (6.2) */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.99", "<user@basic.spf.mailblock.test>", "h.example");
    c = check(&q, &r, 5000);
    ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_FAIL);
    assert_mech(ev, "-all");
    assert_int_equal(ev->lookups, 1);
    assert_int_equal(ev->voids, 0);
    assert_string_equal(ev->explanation, "192.0.2.99 may not send for basic.spf.mailblock.test "
                                         "(user@basic.spf.mailblock.test, user)");
    spf_check_free(c);

    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.50", "user@basic.spf.mailblock.test", "h.example");
    c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    assert_mech(spf_check_evidence(c), "a:host.spf.mailblock.test");
    spf_check_free(c);

    /* TXT character-strings joined (3.3); several records: permerror (4.5) */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.1", "x@split.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    spf_check_free(c);
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.1", "x@multi.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_PERMERROR);
    assert_non_null(spf_check_evidence(c)->reason);
    spf_check_free(c);

    /* no record: none */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.1", "x@nothing.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_NONE);
    assert_null(spf_check_evidence(c)->record);
    spf_check_free(c);
}

static void test_eval_chain(void **state)
{
    (void)state;
    struct run r = {0};
    /* include: the included fail is no match (5.2), its exp= is not used (6.2) */
    spf_request_t q = req_for("192.0.2.99", "user@inc.spf.mailblock.test", NULL);
    spf_check_t *c = check(&q, &r, 5000);
    const spf_evidence_t *ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_SOFTFAIL);
    assert_mech(ev, "~all");
    assert_null(ev->explanation);
    assert_int_equal(ev->nsteps, 1);
    assert_false(ev->steps[0].redirect);
    assert_string_equal(ev->steps[0].from, "inc.spf.mailblock.test");
    assert_string_equal(ev->steps[0].domain, "basic.spf.mailblock.test");
    assert_int_equal(ev->steps[0].result, SPF_FAIL);
    assert_int_equal(ev->lookups, 2);
    spf_check_free(c);

    /* redirect: the target's result and the target's exp= (6.1, 6.2), %{d} the target */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.99", "user@red.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_FAIL);
    assert_string_equal(ev->mech_domain, "basic.spf.mailblock.test");
    assert_int_equal(ev->nsteps, 1);
    assert_true(ev->steps[0].redirect);
    assert_string_equal(ev->explanation, "192.0.2.99 may not send for basic.spf.mailblock.test "
                                         "(user@red.spf.mailblock.test, user)");
    /* the record shown is the one of the domain checked */
    assert_true(ev->record_len > 10 && memcmp(ev->record, "v=spf1 exp=none", 15) == 0);
    spf_check_free(c);
}

static void test_eval_identities(void **state)
{
    (void)state;
    struct run r = {0};
    /* HELO identity (2.3) */
    spf_request_t q = req_for("192.0.2.50", "someone@else.example", "host.spf.mailblock.test");
    q.helo_identity = true;
    spf_check_t *c = check(&q, &r, 5000);
    const spf_evidence_t *ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_PASS);
    assert_true(ev->helo_identity);
    assert_string_equal(ev->domain, "host.spf.mailblock.test");
    assert_string_equal(ev->sender, "postmaster@host.spf.mailblock.test");
    spf_check_free(c);
    /* the null sender is postmaster@HELO (2.4) */
    const char *nulls[] = {"", "<>", NULL};
    for (size_t i = 0; i < 3; i++) {
        memset(&r, 0, sizeof r);
        q = req_for("192.0.2.99", nulls[i], "host.spf.mailblock.test.");
        c = check(&q, &r, 5000);
        ev = spf_check_evidence(c);
        assert_int_equal(ev->result, SPF_FAIL);
        assert_false(ev->helo_identity);
        assert_string_equal(ev->sender, "postmaster@host.spf.mailblock.test");
        spf_check_free(c);
    }
    /* no local part: postmaster (4.3) */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.99", "@basic.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    assert_string_equal(spf_check_evidence(c)->explanation,
                        "192.0.2.99 may not send for basic.spf.mailblock.test "
                        "(postmaster@basic.spf.mailblock.test, postmaster)");
    spf_check_free(c);
    /* an IPv4-mapped IPv6 client is IPv4 (5), even when built by hand */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.1", "user@basic.spf.mailblock.test", NULL);
    ipaddr_t v4 = q.ip;
    memset(&q.ip, 0, sizeof q.ip);
    q.ip.family = 6;
    q.ip.a[10] = q.ip.a[11] = 0xff;
    memcpy(q.ip.a + 12, v4.a, 4);
    c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    spf_check_free(c);
    /* internationalized domains are looked up as A-labels (4.3) */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.1",
                "u@b\xc3\xbc"
                "cher.spf.mailblock.test",
                NULL);
    c = check(&q, &r, 5000);
    assert_string_equal(spf_check_evidence(c)->domain, "xn--bcher-kva.spf.mailblock.test");
    assert_int_equal(spf_check_result(c), SPF_PASS);
    spf_check_free(c);
    /* not a domain: none without a lookup (4.3) */
    const char *bad[] = {"u@[192.0.2.1]", "u@single", "u@a..b.example", "u@"};
    for (size_t i = 0; i < 4; i++) {
        memset(&r, 0, sizeof r);
        q = req_for("192.0.2.1", bad[i], "");
        c = spf_check_start(dns, &q, on_done, &r);
        assert_true(spf_check_done(c));
        assert_int_equal(spf_check_result(c), SPF_NONE);
        assert_int_equal(r.fired, 0);
        spf_check_free(c);
    }
}

/* With every answer cached the check completes inside spf_check_start(). */
static void test_eval_sync(void **state)
{
    (void)state;
    struct run r = {0};
    spf_request_t q = req_for("192.0.2.99", "user@basic.spf.mailblock.test", NULL);
    spf_check_t *c = check(&q, &r, 5000);
    assert_int_equal(r.fired, 1);
    spf_check_free(c);
    memset(&r, 0, sizeof r);
    c = spf_check_start(dns, &q, on_done, &r);
    assert_true(spf_check_done(c));
    assert_int_equal(spf_check_result(c), SPF_FAIL);
    assert_non_null(spf_check_evidence(c)->explanation);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(r.fired, 0);
    spf_check_free(c);
}

/* The address lookups of all MX names go out together (5.4); the first match decides. */
static void test_eval_parallel_mx(void **state)
{
    (void)state;
    struct dns_stats before, after;
    dns_get_stats(dns, &before);
    struct run r = {0};
    spf_request_t q = req_for("192.0.2.61", "user@mx.spf.mailblock.test", NULL);
    spf_check_t *c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    assert_int_equal(spf_check_evidence(c)->lookups, 1);
    dns_get_stats(dns, &after);
    /* TXT, MX, and the A of all three MX names, although mx1 matched */
    assert_int_equal(after.queries - before.queries, 5);
    spf_check_free(c);
}

/* A match decides even while later lookups are still out (they time out later); a lookup
 * that is needed and times out is temperror. */
static void test_eval_early_match(void **state)
{
    (void)state;
    struct run r = {0};
    spf_request_t q = req_for("192.0.2.50", "user@early.spf.mailblock.test", NULL);
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    spf_check_t *c = check(&q, &r, 5000);
    uv_update_time(&loop);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    assert_int_equal(spf_check_evidence(c)->lookups, 1);
    assert_true(uv_now(&loop) - t0 < 250); /* the timeout is 300 ms */
    spf_check_free(c);

    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.99", "user@early.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    const spf_evidence_t *ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_TEMPERROR);
    assert_int_equal(ev->lookups, 2);
    assert_string_equal(ev->reason, "DNS timeout");
    assert_int_equal(ev->reason_term_len, strlen("exists:slow.timeout.example.net"));
    spf_check_free(c);

    /* mx: the first MX name times out: temperror, even though the second would match */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.62", "user@mxslow.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_TEMPERROR);
    spf_check_free(c);
}

/* Counting follows the sequential walk: the first of 11 a terms matching costs 1. */
static void test_eval_limits(void **state)
{
    (void)state;
    struct run r = {0};
    spf_request_t q = req_for("192.0.2.50", "user@limit.spf.mailblock.test", NULL);
    spf_check_t *c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    assert_int_equal(spf_check_evidence(c)->lookups, 1);
    spf_check_free(c);
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.99", "user@limit.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    const spf_evidence_t *ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_PERMERROR);
    assert_int_equal(ev->lookups, SPF_LOOKUP_MAX + 1);
    assert_non_null(strstr(ev->reason, "more than 10"));
    assert_string_equal(ev->reason_domain, "limit.spf.mailblock.test");
    spf_check_free(c);
}

static void test_eval_ptr(void **state)
{
    (void)state;
    struct run r = {0};
    spf_request_t q = req_for("192.0.2.50", "user@ptr.spf.mailblock.test", NULL);
    spf_check_t *c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    assert_mech(spf_check_evidence(c), "ptr:spf.mailblock.test");
    spf_check_free(c);
    /* %{p} in the explanation: no validated name for .51 */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.51", "user@ptr.spf.mailblock.test", NULL);
    c = check(&q, &r, 5000);
    assert_int_equal(spf_check_result(c), SPF_FAIL);
    assert_string_equal(spf_check_evidence(c)->explanation, "from unknown");
    spf_check_free(c);
}

/* done may free the check; spf_check_free() while pending cancels (done never runs). */
static void test_eval_lifetime(void **state)
{
    (void)state;
    struct run r = {.free_in_cb = true};
    spf_request_t q = req_for("192.0.2.62", "user@mx2life.spf.mailblock.test", NULL);
    spf_check_t *c = spf_check_start(dns, &q, on_done, &r);
    assert_false(spf_check_done(c));
    while (r.fired == 0)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(r.fired, 1);

    struct run r2 = {0};
    q = req_for("192.0.2.99", "user@early.spf.mailblock.test", NULL);
    c = spf_check_start(dns, &q, on_done, &r2);
    assert_false(spf_check_done(c));
    assert_null(spf_check_evidence(c));
    assert_int_equal(spf_check_result(c), SPF_TEMPERROR);
    spf_check_free(c);
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    while (uv_now(&loop) - t0 < 500) {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_update_time(&loop);
    }
    assert_int_equal(r2.fired, 0);
    spf_check_free(NULL);
}

static void print_tree(const spf_trace_t *t, int depth, size_t *lines)
{
    for (; t != NULL; t = t->next) {
        for (const char *p = t->text; *p != '\0'; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
        (*lines)++;
        print_tree(t->child, depth + 1, lines);
    }
}

/* A record too large to be kept parsed with its answer is parsed per evaluation, with the
 * same results, cold and warm. */
static void test_eval_big_record(void **state)
{
    (void)state;
    static const struct {
        const char *ip, *mech;
        spf_result_t result;
    } cases[] = {
        {"198.51.100.1", "ip4:198.51.100.1", SPF_PASS},
        {"198.51.100.77", "ip4:198.51.100.77", SPF_PASS},
        {"192.0.2.50", "a:host.spf.mailblock.test", SPF_PASS},
        {"198.51.100.78", "-all", SPF_FAIL},
    };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct run r = {0};
            spf_request_t q = req_for(cases[i].ip, "user@big.spf.mailblock.test", NULL);
            spf_check_t *c = check(&q, &r, 5000);
            const spf_evidence_t *ev = spf_check_evidence(c);
            assert_int_equal(ev->result, cases[i].result);
            assert_mech(ev, cases[i].mech);
            /* "v=spf1 ", 9 terms "ip4:198.51.100.N " and 68 one byte longer, the rest */
            assert_int_equal(ev->record_len, 7 + 9 * 17 + 68 * 18 +
                                                 strlen("a:host.spf.mailblock.test -all "
                                                        "exp=exp.spf.mailblock.test"));
            if (cases[i].result == SPF_FAIL)
                assert_string_equal(ev->explanation,
                                    "198.51.100.78 may not send for big.spf.mailblock.test "
                                    "(user@big.spf.mailblock.test, user)");
            if (round == 1) assert_true(spf_check_done(c) && r.fired == 0); /* warm: sync */
            spf_check_free(c);
        }
    }
}

/* 4.6.4: the overall time limit. A resolver whose per-query timeout (5 s) is far longer than
 * the evaluation's limit (200 ms): a lookup that never answers ends the evaluation at the
 * limit with temperror, the evidence saying why; done runs once, from the loop. */
static void test_eval_time_limit(void **state)
{
    (void)state;
    dns_resolver_t *slow = world_resolver(5000);
    assert_non_null(slow);

    /* a:host does not match (an answer from the zone), exists: never answers */
    spf_request_t q = req_for("192.0.2.99", "user@early.spf.mailblock.test", NULL);
    q.time_limit_ms = 200;
    struct run r = {0};
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    spf_check_t *c = check_on(slow, &q, &r, 3000);
    uint64_t took = uv_now(&loop) - t0;
    assert_true(took >= 200);
    assert_true(took < 1500);
    assert_int_equal(r.fired, 1);
    const spf_evidence_t *ev = spf_check_evidence(c);
    assert_int_equal(ev->result, SPF_TEMPERROR);
    assert_string_equal(ev->reason,
                        "the evaluation took longer than its time limit (RFC 7208 4.6.4)");
    assert_string_equal(ev->reason_domain, "early.spf.mailblock.test");
    assert_null(ev->mech);
    assert_int_equal(ev->lookups, 2); /* a and exists were counted before the wait */
    size_t lines = 0;
    print_tree(ev->trace, 0, &lines);
    assert_int_equal(lines, 2);
    assert_non_null(strstr(ev->trace->child->text, "no result within 200 ms"));
    spf_check_free(c);

    /* the record itself never comes: the same, with nothing counted */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.99", "user@nowhere.timeout.example.net", NULL);
    q.time_limit_ms = 200;
    c = check_on(slow, &q, &r, 3000);
    assert_int_equal(r.fired, 1);
    assert_int_equal(spf_check_result(c), SPF_TEMPERROR);
    assert_int_equal(spf_check_evidence(c)->lookups, 0);
    assert_non_null(strstr(spf_check_evidence(c)->reason, "time limit"));
    spf_check_free(c);

    /* within the limit nothing changes; freed while waiting, done never runs (and the
     * timer is closed: the loop below must end) */
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.50", "user@early.spf.mailblock.test", NULL);
    q.time_limit_ms = 200;
    c = check_on(slow, &q, &r, 3000);
    assert_int_equal(spf_check_result(c), SPF_PASS);
    spf_check_free(c);
    memset(&r, 0, sizeof r);
    q = req_for("192.0.2.99", "user@other.timeout.example.net", NULL);
    q.time_limit_ms = 100;
    c = spf_check_start(slow, &q, on_done, &r);
    assert_false(spf_check_done(c));
    spf_check_free(c);
    uv_update_time(&loop);
    t0 = uv_now(&loop);
    while (uv_now(&loop) - t0 < 300) {
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_update_time(&loop);
    }
    assert_int_equal(r.fired, 0);
    dns_resolver_free(slow);
}

static void test_eval_trace(void **state)
{
    (void)state;
    struct run r = {0};
    spf_request_t q = req_for("192.0.2.99", "user@inc.spf.mailblock.test", NULL);
    spf_check_t *c = check(&q, &r, 5000);
    size_t lines = 0;
    print_tree(spf_check_evidence(c)->trace, 0, &lines);
    assert_true(lines > 8);
    spf_check_free(c);
    memset(&r, 0, sizeof r);
    q.trace = false;
    c = check(&q, &r, 5000);
    assert_null(spf_check_evidence(c)->trace);
    assert_int_equal(spf_check_result(c), SPF_SOFTFAIL);
    spf_check_free(c);
    assert_string_equal(spf_result_name(SPF_PERMERROR), "permerror");
    assert_string_equal(spf_result_name(SPF_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_parse),
        cmocka_unit_test(test_record_terms),
        cmocka_unit_test(test_macro_rfc_examples),
        cmocka_unit_test(test_macro_rules),
        cmocka_unit_test(test_macro_bounds),
        cmocka_unit_test_setup_teardown(test_eval_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_identities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_parallel_mx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_early_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_ptr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_lifetime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_time_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_big_record, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
