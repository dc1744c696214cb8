/*
 * test_spf_lint: the published-record checker over hermetic DNS (a zone file loaded into the
 * real resolver; everything else forwarded to a loopback socket that never answers). One
 * table row per record: the problem kinds expected, in order, and the lookups counted.
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
#include <unistd.h>

#include "auth/spf.h"
#include "auth/spf_lint.h"
#include "dns/dns.h"
#include "fake_dns.h"

static char tmpdir[64], zone[128];
static int silent_fd = -1, silent_port;
static uv_loop_t loop;
static dns_resolver_t *dns;

static const char zone_text[] =
    "$ORIGIN lint.test.\n"
    "$TTL 3600\n"
    "@ IN SOA ns.lint.test. h.lint.test. 1 3600 600 86400 300\n"
    "@ IN NS ns.lint.test.\n"
    "ns IN A 192.0.2.53\n"
    "h IN A 192.0.2.1\n"
    "ok IN TXT \"v=spf1 a:h.lint.test include:leaf.lint.test -all\"\n"
    "leaf IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
    "syn IN TXT \"v=spf1 ip4:192.0.2.0/33 -all\"\n"
    "badinc IN TXT \"v=spf1 include:syn.lint.test -all\"\n"
    "ptr IN TXT \"v=spf1 ptr:h.lint.test ?all\"\n"
    "pall IN TXT \"v=spf1 +all\"\n"
    "qall IN TXT \"v=spf1 ?all\"\n"
    "multi IN TXT \"v=spf1 -all\"\n"
    "multi IN TXT \"v=spf1 ~all\"\n"
    "multi IN TXT \"not spf\"\n"
    "void IN TXT \"v=spf1 a:no.lint.test mx:h.lint.test exists:no2.lint.test a -all\"\n"
    "noinc IN TXT \"v=spf1 include:h.lint.test -all\"\n"
    "loop IN TXT \"v=spf1 include:loop.lint.test -all\"\n"
    "redir IN TXT \"v=spf1 redirect=leaf.lint.test\"\n"
    "redirall IN TXT \"v=spf1 -all redirect=nowhere.lint.test\"\n"
    "macro IN TXT \"v=spf1 include:%{d}.x.lint.test exists:%{i}.lint.test -all\"\n"
    "eleven IN TXT \"v=spf1 a:h.lint.test a:h.lint.test a:h.lint.test a:h.lint.test "
    "include:five.lint.test a:h.lint.test a:h.lint.test -all\"\n"
    "five IN TXT \"v=spf1 a:h.lint.test a:h.lint.test a:h.lint.test a:h.lint.test -all\"\n"
    "ten IN TXT \"v=spf1 a:h.lint.test a:h.lint.test a:h.lint.test a:h.lint.test "
    "include:five.lint.test a:h.lint.test -all\"\n"
    "temp IN TXT \"v=spf1 include:x.dead.test -all\"\n"
    "long IN TXT \"v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 ip4:192.0.2.3 ip4:192.0.2.4 "
    "ip4:192.0.2.5 ip4:192.0.2.6 ip4:192.0.2.7 ip4:192.0.2.8 ip4:192.0.2.9 ip4:192.0.2.10 "
    "ip4:192.0.2.11 ip4:192.0.2.12 ip4:192.0.2.13 ip4:192.0.2.14 ip4:192.0.2.15 \" "
    "\"ip4:192.0.2.16 ip4:192.0.2.17 ip4:192.0.2.18 ip4:192.0.2.19 ip4:192.0.2.20 "
    "ip4:192.0.2.21 ip4:192.0.2.22 ip4:192.0.2.23 ip4:192.0.2.24 ip4:192.0.2.25 "
    "ip4:192.0.2.26 ip4:192.0.2.27 ip4:192.0.2.28 ip4:192.0.2.29 ip4:192.0.2.30 \" "
    "\"ip4:192.0.2.31 ip4:192.0.2.32 ip4:192.0.2.33 ip4:192.0.2.34 ip4:192.0.2.35 "
    "ip4:192.0.2.36 ip4:192.0.2.37 ip4:192.0.2.38 ip4:192.0.2.39 ip4:192.0.2.40 -all\"\n"
    "d0 IN TXT \"v=spf1 include:d1.lint.test -all\"\n"
    "d1 IN TXT \"v=spf1 include:d2.lint.test -all\"\n"
    "d2 IN TXT \"v=spf1 include:d3.lint.test -all\"\n"
    "d3 IN TXT \"v=spf1 include:d4.lint.test -all\"\n"
    "d4 IN TXT \"v=spf1 include:d5.lint.test -all\"\n"
    "d5 IN TXT \"v=spf1 include:d6.lint.test -all\"\n"
    "d6 IN TXT \"v=spf1 include:d7.lint.test -all\"\n"
    "d7 IN TXT \"v=spf1 include:d8.lint.test -all\"\n"
    "d8 IN TXT \"v=spf1 include:d9.lint.test -all\"\n"
    "d9 IN TXT \"v=spf1 include:d10.lint.test -all\"\n"
    "d10 IN TXT \"v=spf1 include:d11.lint.test -all\"\n"
    "d11 IN TXT \"v=spf1 -all\"\n";

static void write_file(const char *path, const char *text)
{
    assert_int_equal(write_text_file(path, text), 0);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_spf_lint.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) return -1;
    snprintf(zone, sizeof zone, "%s/lint.zone", tmpdir);
    write_file(zone, zone_text);
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

static int setup(void **state)
{
    (void)state;
    char fw[64];
    snprintf(fw, sizeof fw, "127.0.0.1:%d", silent_port);
    char fz[80];
    snprintf(fz, sizeof fz, "dead.test=127.0.0.1:%d", silent_port);
    const char *fws[] = {fw};
    const char *fzs[] = {fz}; /* test. is a local zone of the resolver: forward explicitly */
    const char *files[] = {zone};
    dns_options_t opt = {.forwarders = fws,
                         .nforwarders = 1,
                         .forward_zones = fzs,
                         .nforward_zones = 1,
                         .zone_files = files,
                         .nzone_files = 1,
                         .timeout_ms = 300};
    char err[256];
    if (uv_loop_init(&loop) != 0) return -1;
    dns = dns_resolver_new(&loop, &opt, err, sizeof err);
    if (dns == NULL) {
        fprintf(stderr, "dns_resolver_new: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dns_resolver_free(dns);
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 ? 0 : -1;
}

#define END (-1)

static const struct lint_case {
    const char *domain;
    int kinds[6]; /* spf_lint_kind_t in order, END-terminated */
    unsigned lookups;
    const char *term; /* the term of the first problem, or NULL */
} cases[] = {
    {"ok.lint.test", {END}, 2, NULL},
    {"leaf.lint.test.", {END}, 0, NULL},
    {"syn.lint.test", {SPF_LINT_SYNTAX, END}, 0, "ip4:192.0.2.0/33"},
    {"badinc.lint.test", {SPF_LINT_SYNTAX, END}, 1, "ip4:192.0.2.0/33"},
    {"ptr.lint.test", {SPF_LINT_PTR, END}, 1, "ptr:h.lint.test"},
    {"pall.lint.test", {SPF_LINT_PASS_ALL, END}, 0, "+all"},
    {"qall.lint.test", {END}, 0, NULL},
    {"multi.lint.test", {SPF_LINT_MULTIPLE, END}, 0, NULL},
    {"void.lint.test",
     {SPF_LINT_VOID, SPF_LINT_VOID, SPF_LINT_VOID, SPF_LINT_VOID, END},
     4,
     "a:no.lint.test"},
    {"noinc.lint.test", {SPF_LINT_NO_RECORD, END}, 1, "include:h.lint.test"},
    {"nothing.lint.test", {SPF_LINT_NONE_PUBLISHED, END}, 0, NULL},
    {"loop.lint.test", {SPF_LINT_LOOP, END}, 1, "include:loop.lint.test"},
    {"redir.lint.test", {END}, 1, NULL},
    {"redirall.lint.test", {END}, 0, NULL}, /* 6.1: redirect ignored with all */
    {"macro.lint.test", {END}, 2, NULL},    /* counted, not followed */
    {"ten.lint.test", {END}, 10, NULL},
    {"eleven.lint.test", {SPF_LINT_LOOKUPS, END}, 11, "a:h.lint.test"},
    {"temp.lint.test", {SPF_LINT_DNS, END}, 1, "include:x.dead.test"},
    {"long.lint.test", {SPF_LINT_TOO_LONG, END}, 0, NULL},
    {"d0.lint.test", {SPF_LINT_LIMIT, END}, 10, "include:d10.lint.test"},
};

static void test_lint_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct lint_case *tc = &cases[i];
        spf_lint_t *l = spf_lint_run(&loop, dns, tc->domain);
        size_t n = spf_lint_count(l);
        size_t want = 0;
        while (tc->kinds[want] != END)
            want++;
        if (n != want || spf_lint_lookups(l) != tc->lookups)
            fprintf(stderr, "%s: %zu problems (want %zu), %u lookups (want %u)\n", tc->domain, n,
                    want, spf_lint_lookups(l), tc->lookups);
        assert_int_equal(n, want);
        assert_int_equal(spf_lint_lookups(l), tc->lookups);
        for (size_t k = 0; k < n; k++) {
            if (spf_lint_problem(l, k)->kind != (spf_lint_kind_t)tc->kinds[k])
                fprintf(stderr, "%s: problem %zu is %s\n", tc->domain, k,
                        spf_lint_kind_name(spf_lint_problem(l, k)->kind));
            assert_int_equal(spf_lint_problem(l, k)->kind, tc->kinds[k]);
        }
        if (tc->term != NULL) {
            const spf_lint_problem_t *p = spf_lint_problem(l, 0);
            assert_non_null(p->term);
            assert_int_equal(p->term_len, strlen(tc->term));
            assert_memory_equal(p->term, tc->term, p->term_len);
        }
        assert_int_equal(spf_lint_incomplete(l), tc->kinds[0] == SPF_LINT_DNS);
        spf_lint_free(l);
    }
}

static void test_lint_tree(void **state)
{
    (void)state;
    spf_lint_t *l = spf_lint_run(&loop, dns, "eleven.lint.test");
    const spf_lint_node_t *t = spf_lint_tree(l);
    assert_non_null(t);
    assert_string_equal(t->domain, "eleven.lint.test");
    assert_null(t->via);
    assert_int_equal(t->own_lookups, 7);
    assert_int_equal(t->total_lookups, 11);
    assert_non_null(t->child);
    assert_string_equal(t->child->domain, "five.lint.test");
    assert_string_equal(t->child->via, "include");
    assert_int_equal(t->child->total_lookups, 4);
    assert_null(t->child->next);
    /* the 11th term is the second a after the include, in the top record */
    const spf_lint_problem_t *p = spf_lint_problem(l, 0);
    assert_int_equal(p->kind, SPF_LINT_LOOKUPS);
    assert_int_equal(p->value, 11);
    assert_string_equal(p->domain, "eleven.lint.test");
    assert_string_equal(spf_lint_over_path(l), "eleven.lint.test");
    spf_lint_free(l);

    l = spf_lint_run(&loop, dns, "multi.lint.test");
    assert_null(spf_lint_tree(l));
    assert_int_equal(spf_lint_problem(l, 0)->value, 2);
    spf_lint_free(l);

    l = spf_lint_run(&loop, dns, "long.lint.test");
    assert_true(spf_lint_problem(l, 0)->value > SPF_LINT_UDP_MAX);
    spf_lint_free(l);

    assert_string_equal(spf_lint_kind_name(SPF_LINT_PASS_ALL), "pass-all");
    assert_string_equal(spf_lint_kind_name(SPF_LINT_LIMIT), "limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lint_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lint_tree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
