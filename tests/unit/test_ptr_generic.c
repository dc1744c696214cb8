/*
 * ptr_generic: table-driven tests. Most names are real PTR names with the address they
 * resolve from, as logged in Received header fields of public mailing-list archives; the
 * rest are synthetic (documentation prefixes 192.0.2/24, 198.51.100/24, 203.0.113/24,
 * 2001:db8::/32) to pin down one rule or one exemption each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check/ptr_generic.h"
#include "util/ipaddr.h"

typedef struct pg_case {
    const char *name;
    const char *ip;
    const char *rule; /* NULL: not generic */
    const char *span; /* the matched text; NULL: not checked */
} pg_case_t;

static const pg_case_t generic_cases[] = {
    /* Comcast */
    {"c-73-47-72-35.hsd1.nh.comcast.net", "73.47.72.35", "ip-embedded-dashed", "73-47-72-35"},
    {"c-75-72-117-212.hsd1.mn.comcast.net.", "75.72.117.212", "ip-embedded-dashed", "75-72-117-212"},
    {"c-98-207-157-135.hsd1.ca.comcast.net", "98.207.157.135", "ip-embedded-dashed", "98-207-157-135"},
    /* The same name seen from another address: no address match, but hsd is corroborated
     * by two consecutive octets (73.47). */
    {"c-73-47-72-35.hsd1.nh.comcast.net", "73.47.72.36", "token:hsd", "hsd"},
    /* Verizon FiOS */
    {"pool-71-255-246-27.washdc.fios.verizon.net", "71.255.246.27", "ip-embedded-dashed", "71-255-246-27"},
    {"pool-108-7-220-252.bstnma.fios.verizon.net", "108.7.220.252", "ip-embedded-dashed", "108-7-220-252"},
    /* Deutsche Telekom: hex */
    {"pd95be530.dip0.t-ipconnect.de", "217.91.229.48", "ip-embedded-hex", "d95be530"},
    {"p57bd9bc2.dip0.t-ipconnect.de", "87.189.155.194", "ip-embedded-hex", "57bd9bc2"},
    {"p2E5BE2CE.dip0.t-ipconnect.de.", "46.91.226.206", "ip-embedded-hex", "2E5BE2CE"},
    {"p5b3f76b5.dip0.t-ipconnect.de", "91.63.118.181", "ip-embedded-hex", "5b3f76b5"},
    {"p200300e94717cfe07139628ae9da1147.dip0.t-ipconnect.de", "2003:e9:4717:cfe0:7139:628a:e9da:1147",
     "ip6-embedded-hex", "200300e94717cfe07139628ae9da1147"},
    {"p200300cbc72f03001ec7296288890ef6.dip0.t-ipconnect.de", "2003:cb:c72f:300:1ec7:2962:8889:ef6",
     "ip6-embedded-hex", "200300cbc72f03001ec7296288890ef6"},
    /* BT */
    {"host86-149-41-78.range86-149.btcentralplus.com", "86.149.41.78", "ip-embedded-dashed", "86-149-41-78"},
    {"host217-43-3-134.range217-43.btcentralplus.com", "217.43.3.134", "ip-embedded-dashed", "217-43-3-134"},
    /* Orange: last octet and the first two apart; abo corroborated by "w86-210". */
    {"lfbn-tou-1-915-109.w86-210.abo.wanadoo.fr", "86.210.146.109", "token:abo", "abo"},
    {"laubervilliers-658-1-213-31.w90-63.abo.wanadoo.fr", "90.63.244.31", "token:abo", "abo"},
    {"adijon-656-1-155-31.w90-33.abo.wanadoo.fr", "90.33.190.31", "token:abo", "abo"},
    {"2a01cb058918ce00dd1a5a4f9908f2d5.ipv6.abo.wanadoo.fr", "2a01:cb05:8918:ce00:dd1a:5a4f:9908:f2d5",
     "ip6-embedded-hex", "2a01cb058918ce00dd1a5a4f9908f2d5"},
    /* Charter / Spectrum (Road Runner) */
    {"cpe-66-24-58-225.stny.res.rr.com", "66.24.58.225", "ip-embedded-dashed", "66-24-58-225"},
    {"cpe-76-181-62-78.columbus.res.rr.com", "76.181.62.78", "ip-embedded-dashed", "76-181-62-78"},
    /* Telenet */
    {"d51A5BC31.access.telenet.be", "81.165.188.49", "ip-embedded-hex", "51A5BC31"},
    {"d54C15D55.access.telenet.be", "84.193.93.85", "ip-embedded-hex", "54C15D55"},
    {"178-119-182-195.access.telenet.be", "178.119.182.195", "ip-embedded-dashed", "178-119-182-195"},
    {"2a02-1812-162c-8f00-1e2d-b404-3319-eba8.ip6.access.telenet.be",
     "2a02:1812:162c:8f00:1e2d:b404:3319:eba8", "ip6-embedded-groups",
     "2a02-1812-162c-8f00-1e2d-b404-3319-eba8"},
    /* Virgin Media: no address in the name; cust and cable corroborate each other. */
    {"cpc86377-aztw32-2-0-cust226.18-1.cable.virginm.net", "92.233.226.227", "token:cust", "cust"},
    {"stev-08-b2-v4wan-169520-cust2225.vm32.cable.virginm.net", "81.98.232.178", "token:cust", "cust"},
    /* Ziggo, Sky */
    {"5356596B.cm-6-7b.dynamic.ziggo.nl", "83.86.89.107", "ip-embedded-hex", "5356596B"},
    {"546A55B7.cm-12-3b.dynamic.ziggo.nl", "84.106.85.183", "ip-embedded-hex", "546A55B7"},
    {"5ad96a4e.bb.sky.com", "90.217.106.78", "ip-embedded-hex", "5ad96a4e"},
    {"5acc34b2.bb.sky.com", "90.204.52.178", "ip-embedded-hex", "5acc34b2"},
    /* Telefonica Spain: the /24 and the last octet apart. */
    {"34.red-83-42-66.dynamicip.rima-tde.net", "83.42.66.34", "ip-embedded-split", "34.red-83-42-66"},
    {"71.red-88-21-204.staticip.rima-tde.net", "88.21.204.71", "ip-embedded-split", "71.red-88-21-204"},
    {"255.red-79-146-124.dynamicip.rima-tde.net", "79.146.124.255", "ip-embedded-split", NULL},
    /* The same name from another address: the dynamicip token still decides. */
    {"34.red-83-42-66.dynamicip.rima-tde.net", "83.42.66.35", "token:dynamicip", "dynamicip"},
    /* Hetzner defaults */
    {"static.219.156.76.144.clients.your-server.de", "144.76.156.219", "ip-embedded-dotted", "219.156.76.144"},
    {"static.213-239-213-133.clients.your-server.de", "213.239.213.133", "ip-embedded-dashed", "213-239-213-133"},
    /* AT&T */
    {"adsl-76-206-235-173.dsl.chcgil.sbcglobal.net", "76.206.235.173", "ip-embedded-dashed", "76-206-235-173"},
    {"162-237-133-238.lightspeed.rcsntx.sbcglobal.net", "162.237.133.238", "ip-embedded-dashed", NULL},
    /* Telecom Italia, retail and business */
    {"host-79-46-200-163.retail.telecomitalia.it", "79.46.200.163", "ip-embedded-dashed", "79-46-200-163"},
    {"host-87-12-25-114.business.telecomitalia.it", "87.12.25.114", "ip-embedded-dashed", "87-12-25-114"},
    /* SoftBank, KDDI: zero-padded concatenation */
    {"softbank126090202047.bbtec.net", "126.90.202.47", "ip-embedded-padded", "126090202047"},
    {"softbank126012062002.bbtec.net", "126.12.62.2", "ip-embedded-padded", "126012062002"},
    {"kd111239184067.au-net.ne.jp", "111.239.184.67", "ip-embedded-padded", "111239184067"},
    /* Free */
    {"82-64-250-170.subs.proxad.net", "82.64.250.170", "ip-embedded-dashed", "82-64-250-170"},
    {"nan92-1-81-57-214-146.fbx.proxad.net", "81.57.214.146", "ip-embedded-dashed", "81-57-214-146"},
    {"lns-bzn-30-82-253-176-172.adsl.proxad.net", "82.253.176.172", "ip-embedded-dashed", "82-253-176-172"},
    /* Cox */
    {"ip68-225-240-77.oc.oc.cox.net", "68.225.240.77", "ip-embedded-dashed", "68-225-240-77"},
    {"wsip-184-188-36-2.sd.sd.cox.net", "184.188.36.2", "ip-embedded-dashed", "184-188-36-2"},
    /* Bell Canada: a line number before the address */
    {"bras-base-aurron9127w-grc-40-70-52-229-124.dsl.bell.ca", "70.52.229.124", "ip-embedded-dashed",
     "70-52-229-124"},
    {"bras-base-aurron9127w-grc-40-70-52-229-124.dsl.bell.ca", "70.52.229.125", "token:dsl", "dsl"},
    /* Cloud defaults */
    {"ec2-54-1-2-3.compute-1.amazonaws.com", "54.1.2.3", "ip-embedded-dashed", "54-1-2-3"},
    {"45.12.90.34.bc.googleusercontent.com", "34.90.12.45", "ip-embedded-dotted", "45.12.90.34"},
    /* Vodafone Germany: zero-padded with separators */
    {"dslb-088-064-012-034.088.064.pools.vodafone-ip.de", "88.64.12.34", "ip-embedded-dashed",
     "088-064-012-034"},
    /* Synthetic forms of the address */
    {"203-0-113-7.dynamic.example.net", "203.0.113.7", "ip-embedded-dashed", "203-0-113-7"},
    {"045-002-000-192.example.net", "192.0.2.45", "ip-embedded-dashed", "045-002-000-192"},
    {"ip192000002045.example.net", "192.0.2.45", "ip-embedded-padded", "192000002045"},
    {"045002000192.example.net", "192.0.2.45", "ip-embedded-padded", "045002000192"},
    {"h000002045.example.net", "192.0.2.45", "ip-embedded-padded", "000002045"},
    {"host45-2-0-192.example.net", "192.0.2.45", "ip-embedded-dashed", "45-2-0-192"},
    {"ip-192-0-2-45.example.net", "192.0.2.45", "ip-embedded-dashed", "192-0-2-45"},
    {"192_0_2_45.example.net", "192.0.2.45", "ip-embedded-dashed", "192_0_2_45"},
    {"c000022d.example.net", "192.0.2.45", "ip-embedded-hex", "c000022d"},
    {"ipC000022D.example.net", "192.0.2.45", "ip-embedded-hex", "C000022D"},
    {"45-2-0.example.net", "192.0.2.45", "ip-embedded-dashed", "45-2-0"},
    {"x0-2-45.example.net", "192.0.2.45", "ip-embedded-dashed", "0-2-45"},
    {"static-203-0-113-7.example.net", "203.0.113.7", "ip-embedded-dashed", "203-0-113-7"},
    {"45.113.0.203.static.example.net", "203.0.113.45", "ip-embedded-dotted", "45.113.0.203"},
    {"203.0.113.45.static.example.net", "203.0.113.45", "ip-embedded-dotted", "203.0.113.45"},
    {"7.node.203-0-113.example.net", "203.0.113.7", "ip-embedded-split", "7.node.203-0-113"},
    /* IPv6 forms */
    {"2001-db8-1-2--45.dyn.example.net", "2001:db8:1:2::45", "ip6-embedded-groups", "2001-db8-1-2--45"},
    {"2001-0db8-0001-0002-0000-0000-0000-0045.example.net", "2001:db8:1:2::45", "ip6-embedded-groups",
     "2001-0db8-0001-0002-0000-0000-0000-0045"},
    {"cust-2001-db8-1-2-0-0-0-45.example.net", "2001:db8:1:2::45", "ip6-embedded-groups", NULL},
    {"host-20010DB8000100020000000000000045.example.net", "2001:db8:1:2::45", "ip6-embedded-hex",
     "20010DB8000100020000000000000045"},
    {"v6-a1b2c3d4e5f60718.example.net", "2001:db8:1:2:a1b2:c3d4:e5f6:718", "ip6-embedded-iid",
     "a1b2c3d4e5f60718"},
    {"d.0.0.0.c.0.0.0.b.0.0.0.a.0.0.0.ip6.example.net", "2001:db8:1:2:a:b:c:d", "ip6-embedded-nibbles",
     "d.0.0.0.c.0.0.0.b.0.0.0.a.0.0.0"},
    /* Strong tokens, alone */
    {"dyn123.example.net", "198.51.100.9", "token:dyn", "dyn"},
    {"adsl-dyn-45.example.net", "198.51.100.9", "token:adsl", "adsl"},
    {"ppp-xyz.example.co.uk", "198.51.100.9", "token:ppp", "ppp"},
    {"dialup-7.isp.example", "198.51.100.9", "token:dialup", "dialup"},
    {"dhcp-10-20.campus.example.edu", "198.51.100.9", "token:dhcp", "dhcp"},
    {"cust-12.broadband.example.co.nz", "198.51.100.9", "token:broadband", "broadband"},
    {"xdsl-line-17.isp.example.fr", "198.51.100.9", "token:xdsl", "xdsl"},
    {"dsl.example.com", "198.51.100.9", "token:dsl", "dsl"},
    {"Dynamic.Example.COM", "198.51.100.9", "token:dynamic", "Dynamic"},
    {"unassigned.hosting.example.com", "198.51.100.9", "token:unassigned", "unassigned"},
    {"ftth.kunde.example.de", "198.51.100.9", "token:ftth", "ftth"},
    {"CPE001122334455-CM001122334466.cpe.net.cable.rogers.com", "99.1.2.3", "token:cpe", "CPE"},
    /* Weak tokens with corroboration */
    {"home-user-4.example.org", "198.51.100.9", "token:home", "home"},
    {"user-abc.mobile.example.com", "198.51.100.9", "token:user", "user"},
    {"4g-pool-17.example.net", "198.51.100.9", "token:4g", "4g"},
    {"client-43-7.example.com", "69.72.43.7", "token:client", "client"},
    {"2001-db8-1-2--45.dyn.example.net", "2001:db8:1:2::46", "token:dyn", "dyn"},
};

static const pg_case_t clean_cases[] = {
    {"mail.example.com", "192.0.2.45", NULL, NULL},
    {"mx1.example.com", "192.0.2.45", NULL, NULL},
    {"smtp-out-9.example.net", "198.51.100.9", NULL, NULL},
    /* Google, Amazon SES, SendGrid, Mailgun, Mailchimp, Yahoo: carry at most two octets */
    {"mail-wr1-f45.google.com", "209.85.221.45", NULL, NULL},
    {"mail-pg1-f196.google.com", "209.85.215.196", NULL, NULL},
    {"mail-io1-f67.google.com", "209.85.166.67", NULL, NULL},
    {"mail-yw1-x112f.google.com", "2607:f8b0:4864:20::112f", NULL, NULL},
    {"a48-37.smtp-out.amazonses.com", "54.240.48.37", NULL, NULL},
    {"a11-174.smtp-out.amazonses.com", "54.240.11.174", NULL, NULL},
    {"o1.b.az.sendgrid.net", "208.117.55.133", NULL, NULL},
    {"o1.ptr1234.sendgrid.net", "167.89.12.34", NULL, NULL},
    {"wrqvtzvf.outbound-mail.sendgrid.net", "149.72.126.143", NULL, NULL},
    {"m43-7.mailgun.net", "69.72.43.7", NULL, NULL},
    {"so254-9.mailgun.net", "198.61.254.9", NULL, NULL},
    {"m228-13.mailgun.net", "159.135.228.13", NULL, NULL},
    {"mail136-64.atl31.rsgsv.net", "198.2.136.64", NULL, NULL},
    {"mail82.sea91.rsgsv.net", "148.105.15.82", NULL, NULL},
    {"sonic307-16.consmr.mail.ne1.yahoo.com", "66.163.190.39", NULL, NULL},
    /* Microsoft: the second embeds the address, in a label named mail */
    {"mail-db5eur03on2045.outbound.protection.outlook.com", "40.107.20.45", NULL, NULL},
    {"mail-oln040092071062.outbound.protection.outlook.com", "40.92.71.62", NULL, NULL},
    {"mail-oln040092253085.outbound.protection.outlook.com", "40.92.253.85", NULL, NULL},
    /* Few octets, or only the last */
    {"mta-45-2.example.com", "192.0.2.45", NULL, NULL},
    {"mta-45-2-0.example.com", "192.0.2.45", NULL, NULL},
    {"smtp45.example.com", "192.0.2.45", NULL, NULL},
    {"mail45.example.com", "192.0.2.45", NULL, NULL},
    {"smtp-out-45.example.com", "192.0.2.45", NULL, NULL},
    {"45.static.example.net", "192.0.2.45", NULL, NULL},
    {"static-45-2.example.net", "192.0.2.45", NULL, NULL},
    {"static.example.net", "192.0.2.45", NULL, NULL},
    {"host45.example.com", "192.0.2.45", NULL, NULL},
    {"li123-45.members.linode.com", "66.228.123.45", NULL, NULL},
    {"ns3012345.ip-51-75-12.eu", "51.75.12.5", NULL, NULL},
    {"srv19202245.example.net", "192.0.2.45", NULL, NULL},          /* unpadded: ambiguous */
    {"id3c000022d5.example.net", "192.0.2.45", NULL, NULL},         /* hex touching digits */
    {"host-203-0-113-7.example.net", "198.51.100.7", NULL, NULL},    /* another address */
    {"mail-203-0-113-7.example.net", "203.0.113.7", NULL, NULL},    /* named as mail server */
    {"smtp.203-0-113.example.net", "203.0.113.7", NULL, NULL},
    {"2001-db8-1-2--46.example.net", "2001:db8:1:2::45", NULL, NULL},
    {"mail.example.com", "2001:db8:1:2::45", NULL, NULL},
    /* Tokens in the domain, partial words, weak tokens alone */
    {"mail.dynamic-dns-provider.com", "192.0.2.45", NULL, NULL},
    {"mail.dsl.net", "192.0.2.45", NULL, NULL},
    {"dsl.net", "192.0.2.45", NULL, NULL},
    {"mail.dyn.com", "192.0.2.45", NULL, NULL},
    {"dyn.example", "192.0.2.45", NULL, NULL},
    {"poolside.example.com", "192.0.2.45", NULL, NULL},
    {"smtp.generaldynamics.com", "192.0.2.45", NULL, NULL},
    {"dynamics.example.com", "192.0.2.45", NULL, NULL},
    {"client.example.com", "192.0.2.45", NULL, NULL},
    {"home.example.org", "192.0.2.45", NULL, NULL},
    {"wifi-guest.hotel.example.com", "192.0.2.45", NULL, NULL},
    {"3g.example.net", "192.0.2.45", NULL, NULL},
    {"lte4g.example.net", "192.0.2.45", NULL, NULL},
    {"cbl.abuseat.org", "192.0.2.45", NULL, NULL},
    {"mx.home-user.example", "192.0.2.45", NULL, NULL},
    {"mail.example.co.uk", "192.0.2.45", NULL, NULL},
    {"mx.example.ne.jp", "192.0.2.45", NULL, NULL},
    {"mout.gmx.net", "212.227.15.15", NULL, NULL},
    {"mailout01.t-online.de", "194.25.134.80", NULL, NULL},
    /* The leftmost label names a mail server */
    {"mail.cable.example.com", "192.0.2.45", NULL, NULL},
    {"smtp.dsl.example.net", "192.0.2.45", NULL, NULL},
    {"mx1.dyn.example.org", "192.0.2.45", NULL, NULL},
    {"relay-2.dynamic.example.net", "192.0.2.45", NULL, NULL},
    {"mx.dyn.example.co.uk", "192.0.2.45", NULL, NULL},
    /* Not hostnames */
    {"unknown", "192.0.2.45", NULL, NULL},
    {"dyn..example.com", "192.0.2.45", NULL, NULL},
    {"dyn example.com", "192.0.2.45", NULL, NULL},
    {".", "192.0.2.45", NULL, NULL},
    {"", "192.0.2.45", NULL, NULL},
};

static void parse_ip(const char *s, ipaddr_t *ip)
{
    if (ipaddr_parsez(ip, s) != 0)
        fail_msg("bad test address %s", s);
}

/* Runs one case on an exact-size heap copy, so a read past len trips the sanitizer. */
static void run_case(const pg_case_t *c)
{
    ipaddr_t ip;
    parse_ip(c->ip, &ip);
    size_t len = strlen(c->name);
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, c->name, len);
    ptr_generic_match_t m = {.rule = "sentinel", .off = 99, .len = 99};
    bool got = ptr_generic_check(copy, len, &ip, &m);
    if (c->rule == NULL) {
        if (got)
            fail_msg("%s [%s]: expected clean, got %s at '%.*s'", c->name, c->ip, m.rule, (int)m.len,
                     c->name + m.off);
        assert_null(m.rule);
        assert_int_equal(m.off, 0);
        assert_int_equal(m.len, 0);
    } else {
        if (!got)
            fail_msg("%s [%s]: expected %s, got clean", c->name, c->ip, c->rule);
        if (strcmp(m.rule, c->rule) != 0)
            fail_msg("%s [%s]: expected %s, got %s", c->name, c->ip, c->rule, m.rule);
        assert_true(m.off + m.len <= len);
        assert_true(m.len > 0);
        if (c->span != NULL &&
            (strlen(c->span) != m.len || memcmp(c->name + m.off, c->span, m.len) != 0))
            fail_msg("%s [%s]: expected span '%s', got '%.*s'", c->name, c->ip, c->span, (int)m.len,
                     c->name + m.off);
    }
    /* The result does not depend on whether evidence is asked for. */
    assert_int_equal(ptr_generic_check(copy, len, &ip, NULL), got);
    free(copy);
}

static void test_generic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof generic_cases / sizeof generic_cases[0]; i++)
        run_case(&generic_cases[i]);
}

static void test_clean(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof clean_cases / sizeof clean_cases[0]; i++)
        run_case(&clean_cases[i]);
}

/* Bytes past len are never looked at: a generic tail beyond len changes nothing. */
static void test_bounded(void **state)
{
    (void)state;
    ipaddr_t ip;
    parse_ip("192.0.2.45", &ip);
    const char buf[] = "mail.example.com.dyn-192-0-2-45";
    ptr_generic_match_t m;
    assert_false(ptr_generic_check(buf, strlen("mail.example.com."), &ip, &m));
    assert_false(ptr_generic_check(buf, strlen("mail.example.com"), &ip, &m));
    const char buf2[] = "host-192-0-2-4";
    /* "host-192-0-2-4" cut to "host-192-0-2" holds no full match. */
    parse_ip("192.0.2.4", &ip);
    assert_true(ptr_generic_check(buf2, strlen(buf2), &ip, &m));
    assert_false(ptr_generic_check(buf2, strlen(buf2) - 2, &ip, &m));
}

static void test_no_address(void **state)
{
    (void)state;
    ptr_generic_match_t m;
    const char *n1 = "c-73-47-72-35.hsd1.nh.comcast.net";
    assert_false(ptr_generic_check(n1, strlen(n1), NULL, &m));
    const char *n2 = "dyn123.example.net";
    assert_true(ptr_generic_check(n2, strlen(n2), NULL, &m));
    assert_string_equal(m.rule, "token:dyn");
    ipaddr_t unset = {0};
    assert_true(ptr_generic_check(n2, strlen(n2), &unset, &m));
    assert_false(ptr_generic_check(NULL, 5, NULL, &m));
    assert_null(m.rule);
}

/* 253 bytes is the longest name; longer is not a hostname and never generic. */
static void test_length_limit(void **state)
{
    (void)state;
    char name[260];
    const char *tail = "dyn.example.com";
    size_t tl = strlen(tail);
    /* Four labels of 47 bytes, one of 45, then the tail: 4 * 48 + 46 + 15 = 253. */
    size_t pos = 0;
    for (int i = 0; i < 5; i++) {
        size_t l = i < 4 ? 47 : 45;
        memset(name + pos, 'a', l);
        name[pos + l] = '.';
        pos += l + 1;
    }
    memcpy(name + pos, tail, tl);
    size_t len = pos + tl;
    assert_int_equal(len, PTR_GENERIC_NAME_MAX);
    ptr_generic_match_t m;
    assert_true(ptr_generic_check(name, len, NULL, &m));
    assert_string_equal(m.rule, "token:dyn");
    /* With a trailing dot it is still 253. */
    name[len] = '.';
    assert_true(ptr_generic_check(name, len + 1, NULL, &m));
    /* One byte more. */
    char longer[262];
    longer[0] = 'a';
    memcpy(longer + 1, name, len);
    assert_false(ptr_generic_check(longer, len + 1, NULL, &m));
    assert_null(m.rule);
    /* A 64-byte label. */
    char lab[80];
    memset(lab, 'a', 64);
    memcpy(lab + 64, ".dyn.example.com", 16);
    assert_false(ptr_generic_check(lab, 80, NULL, &m));
    memcpy(lab + 1, ".dyn.example.com", 16);
    assert_true(ptr_generic_check(lab, 17, NULL, &m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_no_address),
        cmocka_unit_test(test_length_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
