/*
 * test_dns: the resolver against hermetic data only. Zone files written by the test are
 * loaded as auth-zones; forward zones and forwarders point at UDP servers the test runs on
 * 127.0.0.1 (one that never answers, one that answers SERVFAIL, one that answers every A
 * query) and, when installed, at rbldnsd. No question ever leaves those zones, so nothing
 * but loopback traffic is sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/rdata.h"
#include "fake_dns.h"

static char tmpdir[64];
static char zone_main[128], zone_rev[128], zone_bad[128];

static const char zone_main_text[] =
    "$ORIGIN t.mailblock.test.\n"
    "$TTL 300\n"
    "@        IN SOA ns hostmaster 1 3600 600 86400 60\n"
    "@        NS ns\n"
    "ns       A 127.0.0.1\n"
    "host     A 192.0.2.10\n"
    "host     A 192.0.2.11\n"
    "host     AAAA 2001:db8::10\n"
    "mapped   AAAA ::ffff:192.0.2.12\n"
    "@        MX 10 mx1\n"
    "@        MX 20 MX2.T.Mailblock.Test.\n"
    "mx1      A 192.0.2.25\n"
    "null     MX 0 .\n"
    "spf      TXT \"v=spf1 \" \"ip4:192.0.2.0/24\" \" -all\"\n"
    "alias    CNAME alias2\n"
    "alias2   120 CNAME host\n"
    "dangling CNAME nowhere\n"
    "*.wild   A 192.0.2.99\n"
    "textonly TXT \"x\"\n"
    "short    1 A 192.0.2.1\n"
    "sp\\032ace A 192.0.2.5\n"
    "odd      PTR a\\032b\\.c.t.mailblock.test.\n";

static const char zone_rev_text[] =
    "$ORIGIN 2.0.192.in-addr.arpa.\n"
    "$TTL 300\n"
    "@  SOA ns.t.mailblock.test. hostmaster.t.mailblock.test. 1 3600 600 86400 60\n"
    "@  NS ns.t.mailblock.test.\n"
    "10 PTR host.t.mailblock.test.\n";

static void write_file(const char *path, const char *text)
{
    assert_int_equal(write_text_file(path, text), 0);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dns.XXXXXX");
    if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0755) != 0) /* rbldnsd reads as nobody */
        return -1;
    snprintf(zone_main, sizeof zone_main, "%s/main.zone", tmpdir);
    snprintf(zone_rev, sizeof zone_rev, "%s/rev.zone", tmpdir);
    snprintf(zone_bad, sizeof zone_bad, "%s/bad.zone", tmpdir);
    write_file(zone_main, zone_main_text);
    write_file(zone_rev, zone_rev_text);
    write_file(zone_bad, "$ORIGIN bad.test.\n@ SOA ns hm 1 2 3 4 5\nx A 999.1.2.3\n");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- running queries ---- */

struct got {
    const dns_answer_t *ans; /* a reference */
    int calls;
};

static void got_cb(const dns_answer_t *ans, void *arg)
{
    struct got *g = arg;
    g->calls++;
    if (g->ans != NULL)
        dns_answer_unref(g->ans);
    dns_answer_ref(ans);
    g->ans = ans;
}

static void run_until(uv_loop_t *loop, const int *flag, int value)
{
    uv_update_time(loop);
    uint64_t start = uv_now(loop);
    while (*flag < value) {
        uv_run(loop, UV_RUN_ONCE);
        uv_update_time(loop);
        if (uv_now(loop) - start > 20000)
            fail_msg("no answer within 20 s");
    }
}

/* Asks and waits; the caller unrefs the answer. */
static const dns_answer_t *ask(uv_loop_t *loop, dns_resolver_t *r, const char *name,
                               uint16_t type)
{
    struct got g = {NULL, 0};
    assert_int_equal(dns_query(r, name, type, got_cb, &g, NULL), 0);
    assert_int_equal(g.calls, 0); /* never from inside dns_query() */
    run_until(loop, &g.calls, 1);
    assert_int_equal(g.calls, 1);
    return g.ans;
}

static void finish(uv_loop_t *loop, dns_resolver_t *r)
{
    dns_resolver_free(r);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static dns_resolver_t *zone_resolver(uv_loop_t *loop)
{
    const char *files[] = {zone_main, zone_rev};
    dns_options_t opt = {.zone_files = files, .nzone_files = 2, .timeout_ms = 5000};
    char err[256];
    assert_int_equal(uv_loop_init(loop), 0);
    dns_resolver_t *r = dns_resolver_new(loop, &opt, err, sizeof err);
    if (r == NULL)
        fail_msg("dns_resolver_new: %s", err);
    return r;
}

static void assert_ip(const ipaddr_t *ip, const char *want)
{
    char buf[IPADDR_STRLEN];
    assert_string_equal(ipaddr_format(ip, buf, sizeof buf), want);
}

/* ---- names and packets (rdata.h) ---- */

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out; /* NULL: rejected */
    } cases[] = {
        {"Example.COM", "example.com"},
        {"example.com.", "example.com"},
        {"a.b.c.d", "a.b.c.d"},
        {"_dmarc.x-y.example", "_dmarc.x-y.example"},
        {"*.wild.example", "*.wild.example"},
        {"a\\.b.example", "a\\046b.example"},
        {"sp ace.example", "sp\\032ace.example"},
        {"\\065\\066c.example", "abc.example"},
        {"q\\\"uote.example", "q\\034uote.example"},
        {"\\255.example", "\\255.example"},
        {"\\256.example", NULL},
        {"\\25", NULL},
        {"trailing\\", NULL},
        {"", NULL},
        {"a..b", NULL},
        {".a", NULL},
        {"a.b..", NULL},
        {".", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char wire[RDATA_WIRE_MAX];
        size_t wlen;
        char text[RDATA_TEXT_MAX];
        int rc = rdata_name_parse(cases[i].in, strlen(cases[i].in), wire, &wlen);
        if (cases[i].out == NULL) {
            if (rc != -1)
                fail_msg("accepted %s", cases[i].in);
            continue;
        }
        if (rc != 0)
            fail_msg("rejected %s", cases[i].in);
        rdata_name_format(wire, wlen, text);
        assert_string_equal(text, cases[i].out);
    }

    /* Limits: 63-byte labels, 255 bytes of wire form (253 characters of text). */
    char name[1100];
    memset(name, 'a', 63);
    name[63] = '\0';
    unsigned char wire[RDATA_WIRE_MAX];
    size_t wlen;
    assert_int_equal(rdata_name_parse(name, 63, wire, &wlen), 0);
    assert_int_equal(wlen, 65);
    memset(name, 'a', 64);
    assert_int_equal(rdata_name_parse(name, 64, wire, &wlen), -1);
    /* 4 labels of 63, 61, ... : "63.63.63.61" is 253 characters, 255 bytes of wire */
    size_t n = 0;
    for (int l = 0; l < 4; l++) {
        int len = l < 3 ? 63 : 61;
        memset(name + n, 'b', (size_t)len);
        n += (size_t)len;
        if (l < 3)
            name[n++] = '.';
    }
    assert_int_equal(n, 253);
    assert_int_equal(rdata_name_parse(name, n, wire, &wlen), 0);
    assert_int_equal(wlen, 255);
    name[n] = '.';
    assert_int_equal(rdata_name_parse(name, n + 1, wire, &wlen), 0); /* trailing dot */
    name[n] = 'b';
    assert_int_equal(rdata_name_parse(name, n + 1, wire, &wlen), -1); /* 254 characters */

    /* The longest text form: every byte escaped. */
    n = 0;
    for (int l = 0; l < 4; l++) {
        int len = l < 3 ? 63 : 61;
        for (int k = 0; k < len; k++) {
            memcpy(name + n, "\\000", 4);
            n += 4;
        }
        if (l < 3)
            name[n++] = '.';
    }
    assert_int_equal(rdata_name_parse(name, n, wire, &wlen), 0);
    char text[RDATA_TEXT_MAX];
    assert_int_equal(rdata_name_format(wire, wlen, text), n);
}

/* A reply builder for the parser tests. */
struct pkt {
    unsigned char b[1024];
    size_t n;
};

static void put(struct pkt *p, const void *d, size_t n)
{
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void put16(struct pkt *p, unsigned v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(p, b, 2);
}

static void put32(struct pkt *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p, v & 0xffff);
}

/* Appends "a.b.c" in wire form, uncompressed. */
static void put_name(struct pkt *p, const char *name)
{
    unsigned char wire[RDATA_WIRE_MAX];
    size_t wlen;
    assert_int_equal(rdata_name_parse(name, strlen(name), wire, &wlen), 0);
    put(p, wire, wlen);
}

static void put_header(struct pkt *p, unsigned an, unsigned ns)
{
    p->n = 0;
    put16(p, 0x1234);
    put16(p, 0x8180);
    put16(p, 1);
    put16(p, an);
    put16(p, ns);
    put16(p, 0);
}

static void test_parse_reply(void **state)
{
    (void)state;
    unsigned char q[RDATA_WIRE_MAX];
    size_t qlen;
    assert_int_equal(rdata_name_parse("www.example", 11, q, &qlen), 0);
    rdata_set_t set;
    struct pkt p;

    /* www CNAME (compressed) -> host; host A; host A; TXT and MX at other names skipped. */
    put_header(&p, 4, 0);
    put_name(&p, "WWW.example"); /* offset 12 */
    put16(&p, 1);
    put16(&p, 1);
    put16(&p, 0xc00c); /* www.example */
    put16(&p, 5);
    put16(&p, 1);
    put32(&p, 100);
    put16(&p, 7);
    size_t host_off = p.n;
    unsigned char host[] = {4, 'h', 'o', 's', 't', 0xc0, 16}; /* host. + "example" */
    put(&p, host, sizeof host);
    for (int i = 0; i < 2; i++) {
        put16(&p, 0xc000 | (unsigned)host_off);
        put16(&p, 1);
        put16(&p, 1);
        put32(&p, i == 0 ? 300 : 0x80000000u); /* RFC 2181 8: top bit set is 0 */
        put16(&p, 4);
        unsigned char a[4] = {192, 0, 2, (unsigned char)(10 + i)};
        put(&p, a, 4);
    }
    put16(&p, 0xc00c);
    put16(&p, 16);
    put16(&p, 1);
    put32(&p, 5);
    put16(&p, 2);
    put16(&p, 0x0141);
    rdata_set_init(&set);
    assert_int_equal(rdata_parse_reply(p.b, p.n, q, qlen, 1, &set), 0);
    assert_int_equal(set.count, 2);
    assert_int_equal(set.cnames, 1);
    assert_int_equal(set.min_ttl, 0);
    assert_ip(&set.rr[0].addr, "192.0.2.10");
    assert_int_equal(set.rr[0].ttl, 300);
    assert_ip(&set.rr[1].addr, "192.0.2.11");
    rdata_set_free(&set);

    /* Asking the CNAME itself does not follow it. */
    rdata_set_init(&set);
    assert_int_equal(rdata_parse_reply(p.b, p.n, q, qlen, 5, &set), 0);
    assert_int_equal(set.count, 1);
    assert_string_equal(set.text.data + set.rr[0].name_off, "host.example");
    rdata_set_free(&set);

    /* Every truncation of that message is malformed or yields less, never a crash. */
    for (size_t cut = 0; cut < p.n; cut++) {
        rdata_set_init(&set);
        (void)rdata_parse_reply(p.b, cut, q, qlen, 1, &set);
        rdata_set_free(&set);
    }

    /* A pointer to itself, and a forward pointer, are refused. */
    put_header(&p, 1, 0);
    put_name(&p, "www.example");
    put16(&p, 1);
    put16(&p, 1);
    size_t self = p.n;
    put16(&p, 0xc000 | (unsigned)self);
    put16(&p, 1);
    put16(&p, 1);
    put32(&p, 1);
    put16(&p, 4);
    put32(&p, 0);
    rdata_set_init(&set);
    assert_int_equal(rdata_parse_reply(p.b, p.n, q, qlen, 1, &set), -1);
    rdata_set_free(&set);
    size_t off = self;
    unsigned char w[RDATA_WIRE_MAX];
    size_t wl;
    p.b[self + 1] = (unsigned char)(self + 4);
    assert_int_equal(rdata_name_unpack(p.b, p.n, &off, w, &wl), -1);

    /* A CNAME loop stops at RDATA_CHAIN_MAX. */
    put_header(&p, 2, 0);
    put_name(&p, "www.example");
    put16(&p, 1);
    put16(&p, 1);
    put16(&p, 0xc00c);
    put16(&p, 5);
    put16(&p, 1);
    put32(&p, 1);
    put16(&p, 6);
    size_t loop_off = p.n;
    unsigned char l2[] = {3, 'w', 'w', '2', 0xc0, 16};
    put(&p, l2, sizeof l2);
    put16(&p, 0xc000 | (unsigned)loop_off);
    put16(&p, 5);
    put16(&p, 1);
    put32(&p, 1);
    put16(&p, 2);
    put16(&p, 0xc00c);
    rdata_set_init(&set);
    assert_int_equal(rdata_parse_reply(p.b, p.n, q, qlen, 1, &set), -1);
    rdata_set_free(&set);

    /* TXT: strings joined and counted; empty strings count; a string overrunning the
     * rdata is malformed. SOA in the authority section gives the negative TTL. */
    put_header(&p, 1, 1);
    put_name(&p, "www.example");
    put16(&p, 16);
    put16(&p, 1);
    put16(&p, 0xc00c);
    put16(&p, 16);
    put16(&p, 1);
    put32(&p, 30);
    put16(&p, 9);
    unsigned char txt[] = {3, 'a', 'b', 'c', 0, 3, 'd', 'e', 'f'};
    put(&p, txt, sizeof txt);
    put16(&p, 0xc010); /* example */
    put16(&p, 6);
    put16(&p, 1);
    put32(&p, 900);
    put16(&p, 2 + 2 + 20);
    put16(&p, 0xc010);
    put16(&p, 0xc010);
    put32(&p, 1);
    put32(&p, 2);
    put32(&p, 3);
    put32(&p, 4);
    put32(&p, 45);
    rdata_set_init(&set);
    assert_int_equal(rdata_parse_reply(p.b, p.n, q, qlen, 16, &set), 0);
    assert_int_equal(set.count, 1);
    assert_int_equal(set.rr[0].txt_strings, 3);
    assert_int_equal(set.rr[0].txt_len, 6);
    assert_memory_equal(set.text.data + set.rr[0].txt_off, "abcdef", 6);
    assert_true(set.has_neg_ttl);
    assert_int_equal(set.neg_ttl, 45);
    rdata_set_free(&set);
    p.b[12 + 13 + 4 + 12 + 5] = 4; /* "def" claims 4 bytes */
    rdata_set_init(&set);
    assert_int_equal(rdata_parse_reply(p.b, p.n, q, qlen, 16, &set), -1);
    rdata_set_free(&set);
}

/* ---- configuration ---- */

static void test_options(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char err[256];
    static const char *good[] = {"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1", "[::1]"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        dns_options_t opt = {.forwarders = &good[i], .nforwarders = 1};
        dns_resolver_t *r = dns_resolver_new(&loop, &opt, err, sizeof err);
        if (r == NULL)
            fail_msg("%s: %s", good[i], err);
        dns_resolver_free(r);
    }
    static const char *bad[] = {"",          "localhost",       "127.0.0.1:",   "127.0.0.1:0",
                                "1.2.3.4:65536", "[::1]53",     "[::1",         "1.2.3.4:x",
                                "1.2.3",     "[127.0.0.1]x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dns_options_t opt = {.forwarders = &bad[i], .nforwarders = 1};
        err[0] = '\0';
        dns_resolver_t *r = dns_resolver_new(&loop, &opt, err, sizeof err);
        if (r != NULL)
            fail_msg("accepted forwarder %s", bad[i]);
        assert_non_null(strstr(err, "dns_forwarders"));
    }
    static const char *badz[] = {"bl.example", "=127.0.0.1", "a..b=127.0.0.1", "bl.example=x"};
    for (size_t i = 0; i < sizeof badz / sizeof badz[0]; i++) {
        dns_options_t opt = {.forward_zones = &badz[i], .nforward_zones = 1};
        assert_null(dns_resolver_new(&loop, &opt, err, sizeof err));
        assert_non_null(strstr(err, "dns_forward_zones"));
    }
    const char *files[] = {zone_bad};
    dns_options_t opt = {.zone_files = files, .nzone_files = 1};
    assert_null(dns_resolver_new(&loop, &opt, err, sizeof err));
    assert_non_null(strstr(err, "bad.zone:3"));
    files[0] = "/nonexistent/zone";
    assert_null(dns_resolver_new(&loop, &opt, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/zone"));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- answers from zone files ---- */

static void test_zone_answers(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    const dns_answer_t *a;

    a = ask(&loop, r, "host.t.mailblock.test", DNS_T_A);
    assert_int_equal(a->status, DNS_OK);
    assert_string_equal(a->qname, "host.t.mailblock.test");
    assert_int_equal(a->qtype, DNS_T_A);
    assert_int_equal(a->count, 2);
    assert_int_equal(a->ttl, 300);
    assert_null(a->why);
    assert_false(a->secure);
    char ips[2][IPADDR_STRLEN];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a->rr[i].type, DNS_T_A);
        assert_int_equal(a->rr[i].ttl, 300);
        ipaddr_format(&a->rr[i].addr, ips[i], sizeof ips[i]);
    }
    assert_true((strcmp(ips[0], "192.0.2.10") == 0 && strcmp(ips[1], "192.0.2.11") == 0) ||
                (strcmp(ips[0], "192.0.2.11") == 0 && strcmp(ips[1], "192.0.2.10") == 0));
    dns_answer_unref(a);

    a = ask(&loop, r, "HOST.T.MailBlock.Test.", DNS_T_AAAA);
    assert_int_equal(a->status, DNS_OK);
    assert_string_equal(a->qname, "host.t.mailblock.test");
    assert_int_equal(a->count, 1);
    assert_ip(&a->rr[0].addr, "2001:db8::10");
    dns_answer_unref(a);

    a = ask(&loop, r, "mapped.t.mailblock.test", DNS_T_AAAA);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->rr[0].addr.family, 4);
    assert_ip(&a->rr[0].addr, "192.0.2.12");
    dns_answer_unref(a);

    a = ask(&loop, r, "t.mailblock.test", DNS_T_MX);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->count, 2);
    for (size_t i = 0; i < 2; i++) {
        if (a->rr[i].pref == 10)
            assert_string_equal(a->rr[i].name, "mx1.t.mailblock.test");
        else if (a->rr[i].pref == 20)
            assert_string_equal(a->rr[i].name, "mx2.t.mailblock.test");
        else
            fail_msg("MX preference %u", a->rr[i].pref);
    }
    dns_answer_unref(a);

    a = ask(&loop, r, "null.t.mailblock.test", DNS_T_MX);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->count, 1);
    assert_int_equal(a->rr[0].pref, 0);
    assert_string_equal(a->rr[0].name, ""); /* RFC 7505 null MX */
    dns_answer_unref(a);

    a = ask(&loop, r, "spf.t.mailblock.test", DNS_T_TXT);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->count, 1);
    assert_int_equal(a->rr[0].txt_strings, 3);
    assert_int_equal(a->rr[0].txt_len, strlen("v=spf1 ip4:192.0.2.0/24 -all"));
    assert_memory_equal(a->rr[0].txt, "v=spf1 ip4:192.0.2.0/24 -all", a->rr[0].txt_len);
    dns_answer_unref(a);

    a = ask(&loop, r, "10.2.0.192.in-addr.arpa", DNS_T_PTR);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->count, 1);
    assert_string_equal(a->rr[0].name, "host.t.mailblock.test");
    dns_answer_unref(a);

    /* CNAME chain alias -> alias2 -> host: the host's records, TTL the chain's minimum. */
    a = ask(&loop, r, "alias.t.mailblock.test", DNS_T_A);
    assert_int_equal(a->status, DNS_OK);
    assert_string_equal(a->qname, "alias.t.mailblock.test");
    assert_int_equal(a->count, 2);
    assert_int_equal(a->rr[0].type, DNS_T_A);
    assert_int_equal(a->ttl, 120);
    dns_answer_unref(a);

    a = ask(&loop, r, "alias.t.mailblock.test", DNS_T_CNAME);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->count, 1);
    assert_string_equal(a->rr[0].name, "alias2.t.mailblock.test");
    dns_answer_unref(a);

    /* A CNAME whose in-zone target does not exist: RFC 6604 gives the rcode of the last
     * name (NXDOMAIN); unbound's authoritative answer for a zone file reports no data.
     * Either way there is no address, and every check treats both alike. */
    a = ask(&loop, r, "dangling.t.mailblock.test", DNS_T_A);
    assert_true(a->status == DNS_NXDOMAIN || a->status == DNS_NODATA);
    assert_int_equal(a->count, 0);
    dns_answer_unref(a);

    a = ask(&loop, r, "anything.wild.t.mailblock.test", DNS_T_A);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->count, 1);
    assert_ip(&a->rr[0].addr, "192.0.2.99");
    dns_answer_unref(a);

    /* NODATA vs NXDOMAIN; both cached for min(SOA TTL, MINIMUM) = 60 (RFC 2308 5). */
    a = ask(&loop, r, "textonly.t.mailblock.test", DNS_T_A);
    assert_int_equal(a->status, DNS_NODATA);
    assert_int_equal(a->count, 0);
    assert_null(a->rr);
    assert_int_equal(a->ttl, 60);
    dns_answer_unref(a);

    a = ask(&loop, r, "nope.t.mailblock.test", DNS_T_A);
    assert_int_equal(a->status, DNS_NXDOMAIN);
    assert_int_equal(a->ttl, 60);
    assert_false(dns_status_temporary(a->status));
    dns_answer_unref(a);

    a = ask(&loop, r, "wild.t.mailblock.test", DNS_T_A); /* empty non-terminal */
    assert_int_equal(a->status, DNS_NODATA);
    dns_answer_unref(a);

    /* Unusual bytes: asked as typed, answered in \DDD form. */
    a = ask(&loop, r, "SP ACE.t.mailblock.test", DNS_T_A);
    assert_int_equal(a->status, DNS_OK);
    assert_string_equal(a->qname, "sp\\032ace.t.mailblock.test");
    assert_ip(&a->rr[0].addr, "192.0.2.5");
    dns_answer_unref(a);
    a = ask(&loop, r, "odd.t.mailblock.test", DNS_T_PTR);
    assert_int_equal(a->status, DNS_OK);
    assert_string_equal(a->rr[0].name, "a\\032b\\046c.t.mailblock.test");
    dns_answer_unref(a);

    a = ask(&loop, r, "t.mailblock.test", DNS_T_SOA);
    assert_int_equal(a->status, DNS_OK);
    assert_string_equal(a->rr[0].name, "ns.t.mailblock.test");
    dns_answer_unref(a);

    a = ask(&loop, r, "t.mailblock.test", DNS_T_NS);
    assert_int_equal(a->status, DNS_OK);
    assert_string_equal(a->rr[0].name, "ns.t.mailblock.test");
    dns_answer_unref(a);

    finish(&loop, r);
}

static void test_badname(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    struct got g = {NULL, 0};
    char long_label[80];
    memset(long_label, 'x', 64);
    strcpy(long_label + 64, ".test");
    const char *bad[] = {"", ".", "a..b", ".a", long_label, "trailing\\"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dns_query_t *q = (dns_query_t *)&g;
        assert_int_equal(dns_query(r, bad[i], DNS_T_A, got_cb, &g, &q), -1);
        assert_null(q);
        assert_null(dns_cached(r, bad[i], DNS_T_A));
    }
    assert_int_equal(dns_query(r, "host.t.mailblock.test", 255, got_cb, &g, NULL), -1);
    assert_int_equal(dns_query(r, "host.t.mailblock.test", 0, got_cb, &g, NULL), -1);
    assert_int_equal(dns_query(r, NULL, DNS_T_A, got_cb, &g, NULL), -1);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(g.calls, 0);
    struct dns_stats st;
    dns_get_stats(r, &st);
    assert_int_equal(st.queries, 0);

    assert_string_equal(dns_status_name(DNS_NXDOMAIN), "nxdomain");
    assert_string_equal(dns_status_name(DNS_BADNAME), "badname");
    assert_true(dns_status_temporary(DNS_TIMEOUT));
    assert_true(dns_status_temporary(DNS_SERVFAIL));
    assert_false(dns_status_temporary(DNS_NODATA));
    assert_string_equal(dns_type_name(DNS_T_MX), "MX");
    assert_string_equal(dns_type_name(99), "TYPE99");
    finish(&loop, r);
}

/* ---- the cache ---- */

static void test_cache(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    struct dns_stats st;

    assert_null(dns_cached(r, "host.t.mailblock.test", DNS_T_A));
    const dns_answer_t *a1 = ask(&loop, r, "host.t.mailblock.test", DNS_T_A);
    const dns_answer_t *a2 = ask(&loop, r, "Host.T.Mailblock.Test.", DNS_T_A);
    assert_ptr_equal(a1, a2); /* the same immutable answer, shared */
    dns_get_stats(r, &st);
    assert_int_equal(st.queries, 2);
    assert_int_equal(st.upstream, 1);
    assert_int_equal(st.cache_hits, 1);
    assert_int_equal(st.cache_entries, 1);

    const dns_answer_t *c = dns_cached(r, "host.t.mailblock.test.", DNS_T_A);
    assert_ptr_equal(c, a1);
    assert_null(dns_cached(r, "host.t.mailblock.test", DNS_T_AAAA)); /* type is in the key */
    dns_get_stats(r, &st);
    assert_int_equal(st.queries, 3);
    assert_int_equal(st.cache_hits, 2);
    dns_answer_unref(a1);
    dns_answer_unref(a2);

    /* Negative answers are cached too. */
    dns_answer_unref(ask(&loop, r, "nope.t.mailblock.test", DNS_T_A));
    c = dns_cached(r, "nope.t.mailblock.test", DNS_T_A);
    assert_non_null(c);
    assert_int_equal(c->status, DNS_NXDOMAIN);

    /* A TTL of 1 s expires. */
    dns_answer_unref(ask(&loop, r, "short.t.mailblock.test", DNS_T_A));
    assert_non_null(dns_cached(r, "short.t.mailblock.test", DNS_T_A));
    usleep(1100 * 1000);
    uv_update_time(&loop);
    assert_null(dns_cached(r, "short.t.mailblock.test", DNS_T_A));
    dns_get_stats(r, &st);
    uint64_t up = st.upstream;
    dns_answer_unref(ask(&loop, r, "short.t.mailblock.test", DNS_T_A));
    dns_get_stats(r, &st);
    assert_int_equal(st.upstream, up + 1);

    /* An answer referenced by the caller outlives the resolver. */
    const dns_answer_t *kept = ask(&loop, r, "spf.t.mailblock.test", DNS_T_TXT);
    finish(&loop, r);
    assert_int_equal(kept->status, DNS_OK);
    assert_memory_equal(kept->rr[0].txt, "v=spf1 ", 7);
    dns_answer_unref(kept);
}

/* dns_answer_attach(): data kept with an answer, per owner, freed with its last reference
 * (here after the cache dropped it with the resolver). */
static int attach_freed;
static const char owner_a, owner_b;

static void attach_free(void *data)
{
    attach_freed++;
    free(data);
}

static void test_attach(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    assert_ptr_equal(dns_resolver_loop(r), &loop);
    attach_freed = 0;
    const dns_answer_t *a = ask(&loop, r, "spf.t.mailblock.test", DNS_T_TXT);
    assert_null(dns_answer_attached(a, &owner_a));
    int *data = malloc(sizeof *data);
    assert_non_null(data);
    *data = 42;
    assert_int_equal(dns_answer_attach(a, &owner_a, data, attach_free), 0);
    /* the cached answer is the same object: it carries the data */
    const dns_answer_t *c = dns_cached(r, "SPF.t.mailblock.test.", DNS_T_TXT);
    assert_ptr_equal(c, a);
    assert_ptr_equal(dns_answer_attached(c, &owner_a), data);
    assert_null(dns_answer_attached(c, &owner_b));
    /* one attachment per answer: a second one stays the caller's */
    int other = 7;
    assert_int_equal(dns_answer_attach(a, &owner_b, &other, attach_free), -1);
    assert_int_equal(dns_answer_attach(a, &owner_a, &other, attach_free), -1);
    assert_ptr_equal(dns_answer_attached(a, &owner_a), data);
    /* freed when the last reference goes: the cache's (resolver freed), then ours */
    finish(&loop, r);
    assert_int_equal(attach_freed, 0);
    assert_int_equal(*(const int *)dns_answer_attached(a, &owner_a), 42);
    dns_answer_unref(a);
    assert_int_equal(attach_freed, 1);
}

static void test_cache_eviction(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *files[] = {zone_main};
    dns_options_t opt = {.zone_files = files, .nzone_files = 1, .cache_max = 3};
    char err[256];
    dns_resolver_t *r = dns_resolver_new(&loop, &opt, err, sizeof err);
    assert_non_null(r);
    const char *names[] = {"a.wild.t.mailblock.test", "b.wild.t.mailblock.test",
                           "c.wild.t.mailblock.test", "d.wild.t.mailblock.test"};
    for (size_t i = 0; i < 3; i++)
        dns_answer_unref(ask(&loop, r, names[i], DNS_T_A));
    /* Touch a, so that b is the least recently used. */
    assert_non_null(dns_cached(r, names[0], DNS_T_A));
    dns_answer_unref(ask(&loop, r, names[3], DNS_T_A));
    struct dns_stats st;
    dns_get_stats(r, &st);
    assert_int_equal(st.cache_entries, 3);
    assert_non_null(dns_cached(r, names[0], DNS_T_A));
    assert_null(dns_cached(r, names[1], DNS_T_A));
    assert_non_null(dns_cached(r, names[2], DNS_T_A));
    assert_non_null(dns_cached(r, names[3], DNS_T_A));
    finish(&loop, r);
}

/* Hits are delivered from the loop, in order, and a callback may query again. */
struct chain {
    dns_resolver_t *r;
    int calls;
    int order[4];
};

static void chain_cb(const dns_answer_t *ans, void *arg)
{
    struct chain *c = arg;
    assert_int_equal(ans->status, DNS_OK);
    c->order[c->calls] = c->calls;
    c->calls++;
    if (c->calls == 2) {
        /* a cache hit queued from a callback is delivered on a later turn */
        assert_int_equal(dns_query(c->r, "host.t.mailblock.test", DNS_T_A, chain_cb, c, NULL),
                         0);
        assert_int_equal(c->calls, 2);
    }
}

static void test_cache_hit_deferred(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    dns_answer_unref(ask(&loop, r, "host.t.mailblock.test", DNS_T_A));
    struct chain c = {r, 0, {0}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(dns_query(r, "host.t.mailblock.test", DNS_T_A, chain_cb, &c, NULL), 0);
    assert_int_equal(c.calls, 0);
    run_until(&loop, &c.calls, 3);
    assert_int_equal(c.calls, 3);
    /* With nothing left to do, the loop ends by itself: the resolver holds no reference. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    finish(&loop, r);
}

/* ---- coalescing and cancel ---- */

static void test_coalesce_cancel(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    struct got g[4] = {{NULL, 0}};
    dns_query_t *q[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(dns_query(r, "alias.t.mailblock.test", DNS_T_A, got_cb, &g[i], &q[i]),
                         0);
    struct dns_stats st;
    dns_get_stats(r, &st);
    assert_int_equal(st.upstream, 1);
    assert_int_equal(st.coalesced, 3);
    /* Cancelling the first waiter (the one that started the lookup) and another leaves the
     * rest waiting on the same upstream query. */
    dns_cancel(q[0]);
    dns_cancel(q[2]);
    run_until(&loop, &g[3].calls, 1);
    assert_int_equal(g[0].calls, 0);
    assert_int_equal(g[1].calls, 1);
    assert_int_equal(g[2].calls, 0);
    assert_ptr_equal(g[1].ans, g[3].ans);
    assert_int_equal(g[1].ans->status, DNS_OK);
    dns_answer_unref(g[1].ans);
    dns_answer_unref(g[3].ans);

    /* Cancelling every waiter abandons the lookup: the loop ends, nothing is cached. */
    struct got h[2] = {{NULL, 0}};
    dns_query_t *hq[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(dns_query(r, "mx1.t.mailblock.test", DNS_T_A, got_cb, &h[i], &hq[i]),
                         0);
    dns_cancel(hq[1]);
    dns_cancel(hq[0]);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(h[0].calls + h[1].calls, 0);
    assert_null(dns_cached(r, "mx1.t.mailblock.test", DNS_T_A));

    /* Cancelling a cache hit before the loop delivers it. */
    struct got k = {NULL, 0};
    dns_query_t *kq;
    assert_int_equal(dns_query(r, "alias.t.mailblock.test", DNS_T_A, got_cb, &k, &kq), 0);
    dns_cancel(kq);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(k.calls, 0);

    /* And the name can still be asked afterwards. */
    dns_answer_unref(ask(&loop, r, "mx1.t.mailblock.test", DNS_T_A));
    finish(&loop, r);
}

/* Freeing the resolver with lookups in flight and hits pending calls nothing and leaks
 * nothing (LSan). */
static void test_free_in_flight(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    dns_answer_unref(ask(&loop, r, "host.t.mailblock.test", DNS_T_A));
    struct got g[3] = {{NULL, 0}};
    assert_int_equal(dns_query(r, "host.t.mailblock.test", DNS_T_A, got_cb, &g[0], NULL), 0);
    assert_int_equal(dns_query(r, "spf.t.mailblock.test", DNS_T_TXT, got_cb, &g[1], NULL), 0);
    assert_int_equal(dns_query(r, "spf.t.mailblock.test", DNS_T_TXT, got_cb, &g[2], NULL), 0);
    finish(&loop, r);
    for (int i = 0; i < 3; i++)
        assert_int_equal(g[i].calls, 0);
}

/* A callback may free the resolver; the other answers of that turn are then dropped. */
struct freer {
    dns_resolver_t *r;
    int calls;
};

static void freer_cb(const dns_answer_t *ans, void *arg)
{
    (void)ans;
    struct freer *f = arg;
    f->calls++;
    dns_resolver_free(f->r);
    assert_int_equal(dns_query(f->r, "host.t.mailblock.test", DNS_T_A, freer_cb, f, NULL), -1);
}

static void test_free_in_callback(void **state)
{
    (void)state;
    uv_loop_t loop;
    dns_resolver_t *r = zone_resolver(&loop);
    dns_answer_unref(ask(&loop, r, "host.t.mailblock.test", DNS_T_A));
    struct freer f = {r, 0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(dns_query(r, "host.t.mailblock.test", DNS_T_A, freer_cb, &f, NULL), 0);
    assert_int_equal(dns_query(r, "spf.t.mailblock.test", DNS_T_TXT, freer_cb, &f, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(f.calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- servers on loopback ---- */

enum mode { SILENT, SERVFAIL, ANSWER };

struct server {
    uv_udp_t udp;
    enum mode mode;
    int port;
    int queries;
};

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(size);
    buf->len = buf->base != NULL ? size : 0;
}

static void send_cb(uv_udp_send_t *req, int status)
{
    (void)status;
    free(req->data);
    free(req);
}

/* Answers with the query's ID and question: SERVFAIL, or A 192.0.2.77 (TTL 60) for A
 * questions and NODATA for others. */
static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags)
{
    (void)flags;
    struct server *s = h->data;
    const unsigned char *q = (const unsigned char *)buf->base;
    if (nread < 12 || addr == NULL) {
        free(buf->base);
        return;
    }
    s->queries++;
    size_t n = (size_t)nread, off = 12;
    while (off < n && q[off] != 0 && q[off] < 64)
        off += 1 + q[off];
    if (off + 5 > n) {
        free(buf->base);
        return;
    }
    size_t qend = off + 5;
    bool is_a = q[off + 1] == 0 && q[off + 2] == 1;
    unsigned char *r = malloc(qend + 16);
    memcpy(r, q, qend);
    r[2] = (unsigned char)(0x84 | (q[2] & 0x01)); /* QR, AA, RD copied */
    r[3] = s->mode == SERVFAIL ? 0x82 : 0x80;     /* RA, rcode */
    memset(r + 6, 0, 6);
    size_t len = qend;
    if (s->mode == ANSWER && is_a) {
        r[7] = 1;
        static const unsigned char rr[16] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
                                             192, 0, 2, 77};
        memcpy(r + qend, rr, sizeof rr);
        len += sizeof rr;
    }
    uv_udp_send_t *req = malloc(sizeof *req);
    req->data = r;
    uv_buf_t out = uv_buf_init((char *)r, (unsigned)len);
    assert_int_equal(uv_udp_send(req, h, &out, 1, addr, send_cb), 0);
    free(buf->base);
}

static void server_start(uv_loop_t *loop, struct server *s, enum mode mode)
{
    struct sockaddr_in sin;
    uv_ip4_addr("127.0.0.1", 0, &sin);
    assert_int_equal(uv_udp_init(loop, &s->udp), 0);
    assert_int_equal(uv_udp_bind(&s->udp, (const struct sockaddr *)&sin, 0), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    assert_int_equal(uv_udp_getsockname(&s->udp, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    s->mode = mode;
    s->queries = 0;
    s->udp.data = s;
    if (mode != SILENT)
        assert_int_equal(uv_udp_recv_start(&s->udp, alloc_cb, recv_cb), 0);
}

static void server_stop(struct server *s)
{
    uv_close((uv_handle_t *)&s->udp, NULL);
}

static void test_timeout(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct server s;
    server_start(&loop, &s, SILENT);
    char fz[64];
    snprintf(fz, sizeof fz, "slow.mailblock.test=127.0.0.1:%d", s.port);
    const char *fzs[] = {fz};
    dns_options_t opt = {.forward_zones = fzs, .nforward_zones = 1, .timeout_ms = 300};
    char err[256];
    dns_resolver_t *r = dns_resolver_new(&loop, &opt, err, sizeof err);
    if (r == NULL)
        fail_msg("%s", err);

    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    const dns_answer_t *a = ask(&loop, r, "x.slow.mailblock.test", DNS_T_A);
    uint64_t took = uv_now(&loop) - t0;
    assert_int_equal(a->status, DNS_TIMEOUT);
    assert_true(dns_status_temporary(a->status));
    assert_non_null(a->why);
    assert_int_equal(a->count, 0);
    assert_true(took >= 290 && took < 3000);
    dns_answer_unref(a);
    struct dns_stats st;
    dns_get_stats(r, &st);
    assert_int_equal(st.timeouts, 1);

    /* A timeout is cached briefly: the next transaction does not wait again. */
    const dns_answer_t *c = dns_cached(r, "x.slow.mailblock.test", DNS_T_A);
    assert_non_null(c);
    assert_int_equal(c->status, DNS_TIMEOUT);

    /* A lookup still in flight when the resolver goes. */
    struct got g = {NULL, 0};
    assert_int_equal(dns_query(r, "y.slow.mailblock.test", DNS_T_A, got_cb, &g, NULL), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    server_stop(&s);
    finish(&loop, r);
    assert_int_equal(g.calls, 0);
}

static void test_servfail(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct server s;
    server_start(&loop, &s, SERVFAIL);
    char fz[64];
    snprintf(fz, sizeof fz, "broken.mailblock.test.=127.0.0.1:%d", s.port);
    const char *fzs[] = {fz};
    dns_options_t opt = {.forward_zones = fzs, .nforward_zones = 1, .timeout_ms = 5000};
    char err[256];
    dns_resolver_t *r = dns_resolver_new(&loop, &opt, err, sizeof err);
    if (r == NULL)
        fail_msg("%s", err);
    const dns_answer_t *a = ask(&loop, r, "x.broken.mailblock.test", DNS_T_A);
    assert_int_equal(a->status, DNS_SERVFAIL);
    assert_true(dns_status_temporary(a->status));
    assert_non_null(a->why);
    assert_true(s.queries >= 1);
    dns_answer_unref(a);
    server_stop(&s);
    finish(&loop, r);
}

static void test_forwarder(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct server s;
    server_start(&loop, &s, ANSWER);
    char fw[64];
    snprintf(fw, sizeof fw, "127.0.0.1:%d", s.port);
    const char *fws[] = {fw};
    dns_options_t opt = {.forwarders = fws, .nforwarders = 1, .timeout_ms = 5000};
    char err[256];
    dns_resolver_t *r = dns_resolver_new(&loop, &opt, err, sizeof err);
    if (r == NULL)
        fail_msg("%s", err);
    /* Not under .test: unbound answers that itself (RFC 6761) even with forwarders. The
     * forwarder takes every question, so this name goes nowhere but to it. */
    const dns_answer_t *a = ask(&loop, r, "anything.fwd.mailblock.example", DNS_T_A);
    assert_int_equal(a->status, DNS_OK);
    assert_int_equal(a->count, 1);
    assert_ip(&a->rr[0].addr, "192.0.2.77");
    assert_true(a->ttl <= 60 && a->ttl >= 59);
    dns_answer_unref(a);
    assert_true(s.queries >= 1);
    server_stop(&s);
    finish(&loop, r);
}

/* rbldnsd, an authoritative server that does not recurse, as a forward zone (stub). */
static void test_rbldnsd(void **state)
{
    (void)state;
    const char *bin = "/usr/sbin/rbldnsd";
    if (access(bin, X_OK) != 0)
        skip();
    char data[160];
    snprintf(data, sizeof data, "%s/bl.txt", tmpdir);
    write_file(data, ":127.0.0.2:Listed, see https://bl.example/?$\n192.0.2.99\n");
    /* A free port: bind, read it, close, and hand it to rbldnsd. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t sl = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    int port = ntohs(sin.sin_port);
    close(fd);
    char bind_arg[64], zone_arg[256];
    snprintf(bind_arg, sizeof bind_arg, "127.0.0.1/%d", port);
    snprintf(zone_arg, sizeof zone_arg, "bl.mailblock.test:ip4set:%s", data);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (getuid() == 0)
            execl(bin, "rbldnsd", "-n", "-q", "-u", "nobody", "-b", bind_arg, "-t", "300",
                  zone_arg, (char *)NULL);
        else
            execl(bin, "rbldnsd", "-n", "-q", "-b", bind_arg, "-t", "300", zone_arg,
                  (char *)NULL);
        _exit(127);
    }
    usleep(300 * 1000);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char fz[64];
    snprintf(fz, sizeof fz, "bl.mailblock.test=127.0.0.1:%d", port);
    const char *fzs[] = {fz};
    dns_options_t opt = {.forward_zones = fzs, .nforward_zones = 1, .timeout_ms = 5000};
    char err[256];
    dns_resolver_t *r = dns_resolver_new(&loop, &opt, err, sizeof err);
    if (r == NULL)
        fail_msg("%s", err);
    const dns_answer_t *a = ask(&loop, r, "99.2.0.192.bl.mailblock.test", DNS_T_A);
    dns_status_t st_a = a->status;
    char ip[IPADDR_STRLEN] = "";
    if (a->count > 0)
        ipaddr_format(&a->rr[0].addr, ip, sizeof ip);
    dns_answer_unref(a);
    a = ask(&loop, r, "99.2.0.192.bl.mailblock.test", DNS_T_TXT);
    dns_status_t st_t = a->status;
    char txt[128] = "";
    if (a->count > 0)
        snprintf(txt, sizeof txt, "%.*s", (int)a->rr[0].txt_len, (const char *)a->rr[0].txt);
    dns_answer_unref(a);
    a = ask(&loop, r, "1.2.0.192.bl.mailblock.test", DNS_T_A);
    dns_status_t st_nx = a->status;
    dns_answer_unref(a);
    finish(&loop, r);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);

    assert_int_equal(st_a, DNS_OK);
    assert_string_equal(ip, "127.0.0.2");
    assert_int_equal(st_t, DNS_OK);
    assert_string_equal(txt, "Listed, see https://bl.example/?192.0.2.99");
    assert_int_equal(st_nx, DNS_NXDOMAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_parse_reply),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_zone_answers),
        cmocka_unit_test(test_badname),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_attach),
        cmocka_unit_test(test_cache_hit_deferred),
        cmocka_unit_test(test_coalesce_cancel),
        cmocka_unit_test(test_free_in_flight),
        cmocka_unit_test(test_free_in_callback),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_servfail),
        cmocka_unit_test(test_forwarder),
        cmocka_unit_test(test_rbldnsd),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
