/*
 * test_zonefile: the RFC 1035 master file reader (src/dns/zonefile.c).
 *
 * Tables: a golden zone that uses every feature, with its canonical form; names in rdata made
 * absolute; accepted inputs with one expected canonical line each; every error path with its
 * line number; boundaries (labels, names, character-strings, lines, fields, parentheses,
 * records, file size); the RR iterator and the file loader. Inputs are copied into buffers of
 * exactly their length (no NUL) so the sanitizers catch any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/zonefile.h"

/* Parses text[0..len) from a heap copy of exactly len bytes, freed before returning. */
static zonefile_t *parse_n(const char *text, size_t len, const char *origin, char *err,
                           size_t errlen)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    zonefile_t *zf = zonefile_parse(copy, len, "t", origin, err, errlen);
    free(copy);
    return zf;
}

static zonefile_t *parse(const char *text, const char *origin, char *err, size_t errlen)
{
    return parse_n(text, strlen(text), origin, err, errlen);
}

/* Does the canonical text contain `line` as a whole line? */
static bool has_line(const zonefile_t *zf, const char *line)
{
    size_t len, n = strlen(line);
    const char *t = zonefile_canonical(zf, &len);
    for (const char *p = t; p < t + len;) {
        const char *e = memchr(p, '\n', (size_t)(t + len - p));
        if (e == NULL) return false;
        if ((size_t)(e - p) == n && memcmp(p, line, n) == 0) return true;
        p = e + 1;
    }
    return false;
}

static void expect_ok(const char *text, const char *origin, const char *line)
{
    char err[512] = "";
    zonefile_t *zf = parse(text, origin, err, sizeof err);
    if (zf == NULL) fail_msg("unexpected error: %s\ninput:\n%s", err, text);
    if (line != NULL && !has_line(zf, line))
        fail_msg("missing line:\n%s\ncanonical:\n%s", line, zonefile_canonical(zf, NULL));
    zonefile_free(zf);
}

/* Expects "t:LINE: ...needle..." (or "t: ...needle..." for line 0). */
static void expect_err_n(const char *text, size_t len, const char *origin, unsigned long line,
                         const char *needle)
{
    char err[512] = "", prefix[64];
    zonefile_t *zf = parse_n(text, len, origin, err, sizeof err);
    if (zf != NULL) {
        zonefile_free(zf);
        fail_msg("accepted, expected '%s'", needle);
    }
    if (line > 0)
        snprintf(prefix, sizeof prefix, "t:%lu: ", line);
    else
        snprintf(prefix, sizeof prefix, "t: ");
    if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, needle) == NULL)
        fail_msg("got '%s', expected prefix '%s' and '%s'", err, prefix, needle);
}

static void expect_err(const char *text, const char *origin, unsigned long line, const char *needle)
{
    expect_err_n(text, strlen(text), origin, line, needle);
}

/* ---- golden ----------------------------------------------------------------------------- */

static const char golden_in[] =
    "; golden zone: every feature of the reader\n"
    "$ORIGIN Example.COM.\n"
    "$TTL 1h30m\n"
    "@   IN  SOA ns1 hostmaster (\n"
    "        2024010101 ; serial\n"
    "        2h 15m 2w 300 )\n"
    "    IN  NS  ns1\n"
    "    IN  NS  ns2.example.net.\n"
    "    IN  MX  10 mail\n"
    "    600 IN TXT \"v=spf1 mx -all\" \"semi; (colon)\" unquoted\n"
    "    IN 600 A 192.0.2.1\n"
    "    CAA 0 issue \"letsencrypt.org\"\n"
    "    DNSKEY 257 3 ECDSAP256SHA256 ( mdsswUyr3DPW132mOi8V9xESWE8jTo0d\n"
    "        xCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ== )\n"
    "    RRSIG A 13 2 3600 20240201000000 20240101000000 12345 @ c2lnbmF0dXJl\n"
    "    NSEC www A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CAA TYPE65\n"
    "    NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp\n"
    "    RP hostmaster txt\n"
    "    AFSDB 1 afs\n"
    "ns1 A 192.0.2.53\n"
    "mail 300 AAAA 2001:DB8:0:0::1\n"
    "    SSHFP 4 2 ( 123456789abcdef67890123456789abcdef67890123456789abcdef123456789 )\n"
    "_25._tcp.mail TLSA 3 1 1 ( 0123456789ABCDEF\n"
    "     0123456789abcdef )\n"
    "www CNAME @\n"
    "*.wild  A 192.0.2.7\n"
    "_dmarc  TXT \"v=DMARC1; p=reject\"\n"
    "sel._domainkey TXT ( \"v=DKIM1; k=rsa; \"\n"
    "   \"p=MIGf\" )\n"
    "_sip._tcp SRV 0 5 5060 sip\n"
    "_sip._udp SRV 0 5 5060 sip\n"
    "sip A 192.0.2.9\n"
    "child NS ns.child\n"
    "    DS 12345 8 2 49FD46E6C4B45C55D4AC\n"
    "ns.child A 192.0.2.10\n"
    "host HINFO \"PC\" \"Linux\"\n"
    "txt TXT \"contact: \\\"hm\\\" \\065\\\\\" \n"
    "old DNAME new.example.net.\n"
    "x TYPE999 \\# 3 ABCDEF\n"
    "y TYPE1 \\# 4 c0000201\n"
    "$ORIGIN sub\n"
    "a PTR host.example.com.\n"
    "b 1W CLASS1 SPF \"v=spf1 -all\"\n"
    "c in 60 txt \"lower-case class and type\"\n";

static const char golden_ref[] =
    "example.com.\t5400\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024010101 7200 900 "
    "1209600 300\n"
    "example.com.\t5400\tIN\tNS\tns1.example.com.\n"
    "example.com.\t5400\tIN\tNS\tns2.example.net.\n"
    "example.com.\t5400\tIN\tMX\t10 mail.example.com.\n"
    "example.com.\t600\tIN\tTXT\t\"v=spf1 mx -all\" \"semi; (colon)\" \"unquoted\"\n"
    "example.com.\t600\tIN\tA\t192.0.2.1\n"
    "example.com.\t5400\tIN\tCAA\t0 issue \"letsencrypt.org\"\n"
    "example.com.\t5400\tIN\tDNSKEY\t257 3 13 "
    "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n"
    "example.com.\t5400\tIN\tRRSIG\tA 13 2 3600 20240201000000 20240101000000 12345 example.com. "
    "c2lnbmF0dXJl\n"
    "example.com.\t5400\tIN\tNSEC\twww.example.com. A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY TYPE65 "
    "CAA\n"
    "example.com.\t5400\tIN\tNAPTR\t100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.\n"
    "example.com.\t5400\tIN\tRP\thostmaster.example.com. txt.example.com.\n"
    "example.com.\t5400\tIN\tAFSDB\t1 afs.example.com.\n"
    "ns1.example.com.\t5400\tIN\tA\t192.0.2.53\n"
    "mail.example.com.\t300\tIN\tAAAA\t2001:db8::1\n"
    "mail.example.com.\t5400\tIN\tSSHFP\t4 2 "
    "123456789abcdef67890123456789abcdef67890123456789abcdef123456789\n"
    "_25._tcp.mail.example.com.\t5400\tIN\tTLSA\t3 1 1 0123456789abcdef0123456789abcdef\n"
    "www.example.com.\t5400\tIN\tCNAME\texample.com.\n"
    "*.wild.example.com.\t5400\tIN\tA\t192.0.2.7\n"
    "_dmarc.example.com.\t5400\tIN\tTXT\t\"v=DMARC1; p=reject\"\n"
    "sel._domainkey.example.com.\t5400\tIN\tTXT\t\"v=DKIM1; k=rsa; \" \"p=MIGf\"\n"
    "_sip._tcp.example.com.\t5400\tIN\tSRV\t0 5 5060 sip.example.com.\n"
    "_sip._udp.example.com.\t5400\tIN\tSRV\t0 5 5060 sip.example.com.\n"
    "sip.example.com.\t5400\tIN\tA\t192.0.2.9\n"
    "child.example.com.\t5400\tIN\tNS\tns.child.example.com.\n"
    "child.example.com.\t5400\tIN\tDS\t12345 8 2 49fd46e6c4b45c55d4ac\n"
    "ns.child.example.com.\t5400\tIN\tA\t192.0.2.10\n"
    "host.example.com.\t5400\tIN\tHINFO\t\"PC\" \"Linux\"\n"
    "txt.example.com.\t5400\tIN\tTXT\t\"contact: \\\"hm\\\" A\\\\\"\n"
    "old.example.com.\t5400\tIN\tDNAME\tnew.example.net.\n"
    "x.example.com.\t5400\tIN\tTYPE999\t\\# 3 abcdef\n"
    "y.example.com.\t5400\tIN\tA\t\\# 4 c0000201\n"
    "a.sub.example.com.\t5400\tIN\tPTR\thost.example.com.\n"
    "b.sub.example.com.\t604800\tIN\tSPF\t\"v=spf1 -all\"\n"
    "c.sub.example.com.\t60\tIN\tTXT\t\"lower-case class and type\"\n";

static void test_golden(void **state)
{
    (void)state;
    char err[512] = "";
    size_t len;
    zonefile_t *zf = parse(golden_in, NULL, err, sizeof err);
    if (zf == NULL) fail_msg("%s", err);
    assert_string_equal(zonefile_origin(zf), "example.com.");
    assert_int_equal(zonefile_count(zf), 35);
    const char *t = zonefile_canonical(zf, &len);
    assert_int_equal(len, strlen(golden_ref));
    assert_string_equal(t, golden_ref);
    zonefile_free(zf);

    /* The same zone with CRLF line ends gives the same text. */
    size_t n = strlen(golden_in);
    char *crlf = malloc(2 * n);
    size_t o = 0;
    assert_non_null(crlf);
    for (size_t i = 0; i < n; i++) {
        if (golden_in[i] == '\n') crlf[o++] = '\r';
        crlf[o++] = golden_in[i];
    }
    zf = parse_n(crlf, o, NULL, err, sizeof err);
    free(crlf);
    if (zf == NULL) fail_msg("%s", err);
    assert_string_equal(zonefile_canonical(zf, NULL), golden_ref);
    zonefile_free(zf);

    /* The canonical form is a fixed point. */
    zf = parse(golden_ref, NULL, err, sizeof err);
    if (zf == NULL) fail_msg("%s", err);
    assert_string_equal(zonefile_canonical(zf, NULL), golden_ref);
    zonefile_free(zf);
}

/* ---- names in rdata made absolute, and other accepted forms ----------------------------- */

#define P "$ORIGIN example.com.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n"

static const struct ok_case {
    const char *in;
    const char *origin;
    const char *line; /* expected canonical line */
} ok_cases[] = {
    /* relative names in rdata */
    {P, NULL, "example.com.\t300\tIN\tSOA\tns.example.com. h.example.com. 1 2 3 4 5"},
    {P "@ MX 10 mail\n", NULL, "example.com.\t300\tIN\tMX\t10 mail.example.com."},
    {P "@ MX 0 .\n", NULL, "example.com.\t300\tIN\tMX\t0 ."},
    {P "www CNAME host.sub\n", NULL, "www.example.com.\t300\tIN\tCNAME\thost.sub.example.com."},
    {P "www CNAME @\n", NULL, "www.example.com.\t300\tIN\tCNAME\texample.com."},
    {P "www CNAME other.org.\n", NULL, "www.example.com.\t300\tIN\tCNAME\tother.org."},
    {P "sub NS ns.sub\n", NULL, "sub.example.com.\t300\tIN\tNS\tns.sub.example.com."},
    {P "1 PTR host\n", NULL, "1.example.com.\t300\tIN\tPTR\thost.example.com."},
    {P "d DNAME target\n", NULL, "d.example.com.\t300\tIN\tDNAME\ttarget.example.com."},
    {P "_x._tcp SRV 1 2 3 t\n", NULL, "_x._tcp.example.com.\t300\tIN\tSRV\t1 2 3 t.example.com."},
    {P "@ RP mbox txt\n", NULL, "example.com.\t300\tIN\tRP\tmbox.example.com. txt.example.com."},
    {P "@ AFSDB 2 afs\n", NULL, "example.com.\t300\tIN\tAFSDB\t2 afs.example.com."},
    {P "@ NAPTR 1 2 \"u\" \"E2U+sip\" \"!^.*$!sip:x@y!\" .\n", NULL,
     "example.com.\t300\tIN\tNAPTR\t1 2 \"u\" \"E2U+sip\" \"!^.*$!sip:x@y!\" ."},
    {P "@ NAPTR 1 2 S SIP+D2U \"\" _sip._udp\n", NULL,
     "example.com.\t300\tIN\tNAPTR\t1 2 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."},
    {P "@ RRSIG SOA 8 2 300 19700101000000 4294967295 7 signer YWJj\n", NULL,
     "example.com.\t300\tIN\tRRSIG\tSOA 8 2 300 19700101000000 4294967295 7 signer.example.com. "
     "YWJj"},
    {P "@ RRSIG SOA 8 2 300 1700000000 1600000000 7 signer YWJj\n", NULL,
     "example.com.\t300\tIN\tRRSIG\tSOA 8 2 300 1700000000 1600000000 7 signer.example.com. YWJj"},
    {P "@ NSEC next A TYPE50 TYPE65535 a\n", NULL,
     "example.com.\t300\tIN\tNSEC\tnext.example.com. A TYPE50 TYPE65535"},
    {P "$ORIGIN sub\nwww MX 1 mx\n", NULL,
     "www.sub.example.com.\t300\tIN\tMX\t1 mx.sub.example.com."},
    {P "$ORIGIN other.org.\nwww.example.com. MX 1 mx\n", NULL,
     "www.example.com.\t300\tIN\tMX\t1 mx.other.org."},
    {P "$origin sub\n$ttl 1d\n@ A 192.0.2.1\n", NULL, "sub.example.com.\t86400\tIN\tA\t192.0.2.1"},
    {"$TTL 300\n@ SOA ns h 1 2 3 4 5\nwww A 192.0.2.1\n", "Example.Com",
     "www.example.com.\t300\tIN\tA\t192.0.2.1"},
    {"$TTL 300\n@ SOA ns h 1 2 3 4 5\n", "example.com.",
     "example.com.\t300\tIN\tSOA\tns.example.com. h.example.com. 1 2 3 4 5"},
    /* case, escapes, wildcards, underscores */
    {P "WWW.Example.COM. A 192.0.2.1\n", NULL, "www.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "*.mail A 192.0.2.1\n", NULL, "*.mail.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "* MX 1 @\n", NULL, "*.example.com.\t300\tIN\tMX\t1 example.com."},
    {P "sel._domainkey TXT \"v=DKIM1\"\n", NULL,
     "sel._domainkey.example.com.\t300\tIN\tTXT\t\"v=DKIM1\""},
    {P "a\\.b A 192.0.2.1\n", NULL, "a\\.b.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "a\\032b\\065 A 192.0.2.1\n", NULL, "a\\032ba.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "\\$x\\;\\(\\)\\\"\\@ A 192.0.2.1\n", NULL,
     "\\$x\\;\\(\\)\\\"\\@.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "bin\\000\\255 A 192.0.2.1\n", NULL, "bin\\000\\255.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "a\\*b.\\*.c A 192.0.2.1\n", NULL, "a\\*b.\\*.c.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "\\*.d A 192.0.2.1\n", NULL, "*.d.example.com.\t300\tIN\tA\t192.0.2.1"},
    {P "x CNAME a.*.b*\n", NULL, "x.example.com.\t300\tIN\tCNAME\ta.\\*.b\\*.example.com."},
    {P "0/25 CNAME 0/25.2.0.192.in-addr.arpa.\n", NULL,
     "0/25.example.com.\t300\tIN\tCNAME\t0/25.2.0.192.in-addr.arpa."},
    /* TTL and class in either order, units, defaults */
    {P "a 60 IN A 192.0.2.1\n", NULL, "a.example.com.\t60\tIN\tA\t192.0.2.1"},
    {P "a IN 60 A 192.0.2.1\n", NULL, "a.example.com.\t60\tIN\tA\t192.0.2.1"},
    {P "a 1w2d3h4m5s A 192.0.2.1\n", NULL, "a.example.com.\t788645\tIN\tA\t192.0.2.1"},
    {P "a 2147483647 A 192.0.2.1\n", NULL, "a.example.com.\t2147483647\tIN\tA\t192.0.2.1"},
    {P "a 0 A 192.0.2.1\n", NULL, "a.example.com.\t0\tIN\tA\t192.0.2.1"},
    {"example.com. SOA ns.example.com. h.example.com. 1 2 3 4 77\nw.example.com. A 192.0.2.1\n",
     NULL, "w.example.com.\t77\tIN\tA\t192.0.2.1"},
    {"example.com. SOA ns.example.com. h.example.com. 1 2 3 4 77\n", NULL,
     "example.com.\t77\tIN\tSOA\tns.example.com. h.example.com. 1 2 3 4 77"},
    {"example.com. 5 SOA ns.example.com. h.example.com. 1 2 3 4 77\nw.example.com. A 192.0.2.1\n",
     NULL, "w.example.com.\t77\tIN\tA\t192.0.2.1"},
    {"example.com. 9 SOA ns.example.com. h.example.com. 1 2 3 4 77\n$TTL 8\nw.example.com. A "
     "192.0.2.1\n",
     NULL, "w.example.com.\t8\tIN\tA\t192.0.2.1"},
    {P "a CLASS1 A 192.0.2.1\n", NULL, "a.example.com.\t300\tIN\tA\t192.0.2.1"},
    /* owner omitted continues the previous owner, also after a directive */
    {P "a A 192.0.2.1\n$TTL 7\n  AAAA ::1\n", NULL, "a.example.com.\t7\tIN\tAAAA\t::1"},
    /* character-strings */
    {P "t TXT a \"b c\" \"\"\n", NULL, "t.example.com.\t300\tIN\tTXT\t\"a\" \"b c\" \"\""},
    {P "t TXT \"tab\\009\\\\ \\\"q\\\" ;(x)\" \\\"\n", NULL,
     "t.example.com.\t300\tIN\tTXT\t\"tab\\009\\\\ \\\"q\\\" ;(x)\" \"\\\"\""},
    {P "t TXT \"\\195\\169\"\n", NULL, "t.example.com.\t300\tIN\tTXT\t\"\\195\\169\""},
    {P "t TXT \"caf\xc3\xa9\"\n", NULL, "t.example.com.\t300\tIN\tTXT\t\"caf\\195\\169\""},
    {P "t HINFO \"PC\" Linux\n", NULL, "t.example.com.\t300\tIN\tHINFO\t\"PC\" \"Linux\""},
    {P "t SPF \"v=spf1 -all\"\n", NULL, "t.example.com.\t300\tIN\tSPF\t\"v=spf1 -all\""},
    /* parentheses and comments */
    {P "t TXT ( \"a\" ; one\n ; two\n \"b\" ( \"c\" ) )\n", NULL,
     "t.example.com.\t300\tIN\tTXT\t\"a\" \"b\" \"c\""},
    {P "t TXT \"a;b\" ; \"c\"\n", NULL, "t.example.com.\t300\tIN\tTXT\t\"a;b\""},
    /* addresses */
    {P "a AAAA 2001:0DB8:0000::0001\n", NULL, "a.example.com.\t300\tIN\tAAAA\t2001:db8::1"},
    {P "a AAAA ::ffff:192.0.2.1\n", NULL, "a.example.com.\t300\tIN\tAAAA\t::ffff:192.0.2.1"},
    /* DNSSEC and key material */
    {P "d DS 1 ECDSAP256SHA256 2 ( AB cd )\n", NULL, "d.example.com.\t300\tIN\tDS\t1 13 2 abcd"},
    {P "@ DNSKEY 256 3 8 YWJj ZA==\n", NULL, "example.com.\t300\tIN\tDNSKEY\t256 3 8 YWJjZA=="},
    {P "_443._tcp TLSA 3 0 1 ABCDEF01\n", NULL,
     "_443._tcp.example.com.\t300\tIN\tTLSA\t3 0 1 abcdef01"},
    {P "h SSHFP 1 1 0123\n", NULL, "h.example.com.\t300\tIN\tSSHFP\t1 1 0123"},
    {P "@ CAA 0 issue \"ca.example.net; account=1\"\n", NULL,
     "example.com.\t300\tIN\tCAA\t0 issue \"ca.example.net; account=1\""},
    {P "@ CAA 128 iodef mailto:sec@example.com\n", NULL,
     "example.com.\t300\tIN\tCAA\t128 iodef \"mailto:sec@example.com\""},
    /* generic rdata, RFC 3597 */
    {P "g TYPE731 \\# 2 ABcd\n", NULL, "g.example.com.\t300\tIN\tTYPE731\t\\# 2 abcd"},
    {P "g TYPE731 \\# 4 ab cd ( ef 01 )\n", NULL,
     "g.example.com.\t300\tIN\tTYPE731\t\\# 4 abcdef01"},
    {P "g TYPE731 \\# 0\n", NULL, "g.example.com.\t300\tIN\tTYPE731\t\\# 0"},
    {P "g TXT \\# 4 03616263\n", NULL, "g.example.com.\t300\tIN\tTXT\t\\# 4 03616263"},
    {P "g TYPE16 \"abc\"\n", NULL, "g.example.com.\t300\tIN\tTXT\t\"abc\""},
    {P "g TYPE29 \\# 1 00\n", NULL, "g.example.com.\t300\tIN\tTYPE29\t\\# 1 00"},
    {P "g LOC \\# 1 00\n", NULL, "g.example.com.\t300\tIN\tTYPE29\t\\# 1 00"},
    {P "g NS \\# 5 0161016200\n", NULL, "g.example.com.\t300\tIN\tNS\t\\# 5 0161016200"},
    {P "g MX \\# 3 000a00\n", NULL, "g.example.com.\t300\tIN\tMX\t\\# 3 000a00"},
    {P "g TXT \\# 3 020000\n", NULL, "g.example.com.\t300\tIN\tTXT\t\\# 3 020000"},
    {P "g NSEC \\# 4 00000140\n", NULL, "g.example.com.\t300\tIN\tNSEC\t\\# 4 00000140"},
    {P "g CAA \\# 4 00016178\n", NULL, "g.example.com.\t300\tIN\tCAA\t\\# 4 00016178"},
    {P "g HTTPS \\# 3 000100\n", NULL, "g.example.com.\t300\tIN\tTYPE65\t\\# 3 000100"},
    {P "g TYPE65 \\# 22 0001016100 0000 0002 0001 0001 0003 026832 0003 0000\n", NULL,
     "g.example.com.\t300\tIN\tTYPE65\t\\# 22 00010161000000000200010001000302683200030000"},
    /* CNAME beside RRSIG and NSEC is allowed (RFC 4035 section 2.5) */
    {P "c CNAME x\nc RRSIG CNAME 8 3 300 1 1 1 @ YWJj\nc NSEC d CNAME RRSIG NSEC\n", NULL,
     "c.example.com.\t300\tIN\tCNAME\tx.example.com."},
    /* records may come before the SOA */
    {"$ORIGIN example.com.\n$TTL 1\nwww A 192.0.2.1\n@ SOA ns h 1 2 3 4 5\n", NULL,
     "www.example.com.\t1\tIN\tA\t192.0.2.1"},
    /* the root zone */
    {"$TTL 1\n. SOA a.root-servers.net. nstld.verisign-grs.com. 1 2 3 4 5\ncom. NS a.gtld.\n", NULL,
     "com.\t1\tIN\tNS\ta.gtld."},
    /* no trailing newline */
    {P "end A 192.0.2.1", NULL, "end.example.com.\t300\tIN\tA\t192.0.2.1"},
};

static void test_ok_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++)
        expect_ok(ok_cases[i].in, ok_cases[i].origin, ok_cases[i].line);
}

/* ---- errors with their line numbers ----------------------------------------------------- */

static const struct err_case {
    const char *in;
    const char *origin;
    unsigned long line;
    const char *needle;
} err_cases[] = {
    /* lexical */
    {P "t TXT \"open\n", NULL, 4, "quoted string is not closed"},
    {P "t TXT \"open\\\n\"\n", NULL, 4, "quoted string is not closed"},
    {P "t TXT ( \"a\"\n\n", NULL, 4, "'(' is never closed"},
    {P "t TXT \"a\" )\n", NULL, 4, "')' without '('"},
    {P "t TXT a\"b\"\n", NULL, 4, "'\"' inside a field"},
    {P "t TXT abc\\\n", NULL, 4, "'\\' at the end of a line"},
    {P "t TXT ((((((((( a )))))))))\n", NULL, 4, "nested deeper than 8"},
    {P "\n\nt TXT \"a\x01\"\n", NULL, 6, "control character \\001"},
    {P "t TXT \"a\x7f\"\n", NULL, 4, "control character \\127"},
    {P "; comment \x1b\n", NULL, 4, "control character"},
    /* directives */
    {P "$INCLUDE other.zone\n", NULL, 4, "$INCLUDE is not supported"},
    {P "$include other.zone example.com.\n", NULL, 4, "$INCLUDE is not supported"},
    {P "$GENERATE 1-10 h$ A 192.0.2.$\n", NULL, 4, "$GENERATE is not supported"},
    {P "$FOO bar\n", NULL, 4, "unknown directive '$FOO'"},
    {P "$ORIGIN\n", NULL, 4, "$ORIGIN takes exactly one argument"},
    {P "$ORIGIN a b\n", NULL, 4, "$ORIGIN takes exactly one argument"},
    {P "$ORIGIN \"a\"\n", NULL, 4, "must not be quoted"},
    {P "$ORIGIN *.example.com.\n", NULL, 4, "'*' in name"},
    {P "$TTL\n", NULL, 4, "$TTL takes exactly one argument"},
    {P "$TTL 2147483648\n", NULL, 4, "bad $TTL"},
    {P "$TTL 1h30\n", NULL, 4, "bad $TTL"},
    {"$TTL 99999999999999999999\n", NULL, 1, "bad $TTL"},
    /* owner */
    {" A 192.0.2.1\n", NULL, 1, "no previous owner"},
    {"@ 300 A 192.0.2.1\n", NULL, 1, "'@' but no origin is known"},
    {"www 300 A 192.0.2.1\n", NULL, 1, "relative name 'www' but no origin"},
    {P "\"q\" A 192.0.2.1\n", NULL, 4, "owner name must not be quoted"},
    {P "a..b A 192.0.2.1\n", NULL, 4, "empty label"},
    {P ".a A 192.0.2.1\n", NULL, 4, "empty label"},
    {P "a.*.b A 192.0.2.1\n", NULL, 4, "wildcard"},
    {P "*a A 192.0.2.1\n", NULL, 4, "wildcard"},
    {P "a\\256 A 192.0.2.1\n", NULL, 4, "\\DDD escape over 255"},
    {P "a\\12 A 192.0.2.1\n", NULL, 4, "bad \\DDD escape"},
    {P "a\\1x2 A 192.0.2.1\n", NULL, 4, "bad \\DDD escape"},
    /* TTL, class, type */
    {P "www\n", NULL, 4, "missing type"},
    {P "www 300 IN\n", NULL, 4, "missing type"},
    {P "www 1 2 A 192.0.2.1\n", NULL, 4, "second TTL"},
    {P "www IN IN A 192.0.2.1\n", NULL, 4, "second class"},
    {P "www 2147483648 A 192.0.2.1\n", NULL, 4, "bad TTL"},
    {P "www 1h30 A 192.0.2.1\n", NULL, 4, "bad TTL"},
    {P "www 1x A 192.0.2.1\n", NULL, 4, "bad TTL"},
    {P "www 300 \"IN\" A 192.0.2.1\n", NULL, 4, "not a quoted string"},
    {P "www CH A 192.0.2.1\n", NULL, 4, "class 'CH' is not supported"},
    {P "www CLASS3 A 192.0.2.1\n", NULL, 4, "class 'CLASS3' is not supported"},
    {P "www FOO 1\n", NULL, 4, "unknown type 'FOO'"},
    {P "www TYPE65536 \\# 0\n", NULL, 4, "unknown type"},
    {P "www LOC 52 22 N 4 53 E 2m\n", NULL, 4, "write it as TYPE29"},
    {P "www AXFR x\n", NULL, 4, "meta type"},
    {P "www TYPE41 \\# 0\n", NULL, 4, "meta type"},
    {P "www TYPE0 \\# 0\n", NULL, 4, "meta type"},
    /* rdata */
    {P "www A 192.0.2.1.5\n", NULL, 4, "A record: bad IPv4 address"},
    {P "www A 192.0.2\n", NULL, 4, "bad IPv4 address"},
    {P "www A\n", NULL, 4, "A record: missing IPv4 address"},
    {P "www A 192.0.2.1 extra\n", NULL, 4, "unexpected field 'extra'"},
    {P "www AAAA 2001:db8::g\n", NULL, 4, "bad IPv6 address"},
    {P "www AAAA 192.0.2.1\n", NULL, 4, "bad IPv6 address"},
    {P "@ MX 10\n", NULL, 4, "MX record: missing domain name"},
    {P "@ MX 65536 mail\n", NULL, 4, "bad 16-bit number"},
    {P "@ MX -1 mail\n", NULL, 4, "bad 16-bit number"},
    {P "@ MX \"10\" mail\n", NULL, 4, "16-bit number must not be quoted"},
    {P "www CNAME \"x\"\n", NULL, 4, "domain name must not be quoted"},
    {P "www CNAME a..b\n", NULL, 4, "empty label"},
    {P "www SRV 1 2 3\n", NULL, 4, "SRV record: missing domain name"},
    {P "www SOA ns h 1 2 3 4\n", NULL, 4, "SOA record: missing time value"},
    {P "www SOA ns h 4294967296 2 3 4 5\n", NULL, 4, "bad 32-bit number"},
    {P "www HINFO \"a\"\n", NULL, 4, "missing character-string"},
    {P "www TXT\n", NULL, 4, "TXT record: missing character-string"},
    {P "www TXT \"\\256\"\n", NULL, 4, "\\DDD escape over 255"},
    {P "www TXT \"\\12\"\n", NULL, 4, "bad \\DDD escape"},
    {P "www CAA 0 \"issue\" x\n", NULL, 4, "CAA tag must not be quoted"},
    {P "www CAA 0 is-sue x\n", NULL, 4, "bad CAA tag"},
    {P "www CAA 256 issue x\n", NULL, 4, "bad 8-bit number"},
    {P "www CAA 0 issue\n", NULL, 4, "missing CAA value"},
    {P "www DS 1 8 2 xyz\n", NULL, 4, "bad hex data"},
    {P "www DS 1 8 2 abc\n", NULL, 4, "odd number of hex digits"},
    {P "www DS 1 8 2\n", NULL, 4, "missing hex data"},
    {P "www DS 1 8 2 \"ab\"\n", NULL, 4, "hex data must not be quoted"},
    {P "www DNSKEY 257 3 8 abc$\n", NULL, 4, "bad base64"},
    {P "www DNSKEY 257 3 8 abc\n", NULL, 4, "4-character groups"},
    {P "www DNSKEY 257 3 8 YW=j\n", NULL, 4, "bad base64"},
    {P "www DNSKEY 257 3 8 Y===\n", NULL, 4, "4-character groups"},
    {P "www DNSKEY 257 3 FOO YWJj\n", NULL, 4, "bad algorithm"},
    {P "www DNSKEY 257 3 8\n", NULL, 4, "missing base64 data"},
    {P "www RRSIG A 8 2 300 20241301000000 20240101000000 1 @ YWJj\n", NULL, 4,
     "bad signature time"},
    {P "www RRSIG A 8 2 300 99999999999 1 1 @ YWJj\n", NULL, 4, "bad signature time"},
    {P "www RRSIG A 8 2 300 19691231235959 1 1 @ YWJj\n", NULL, 4, "bad signature time"},
    {P "www RRSIG A 8 2 300 20240101240000 1 1 @ YWJj\n", NULL, 4, "bad signature time"},
    {P "www RRSIG BOGUS 8 2 300 1 1 1 @ YWJj\n", NULL, 4, "unknown type 'BOGUS'"},
    {P "www NSEC @ A ANY\n", NULL, 4, "'ANY' is a meta type"},
    {P "www NSEC @ A BOGUS\n", NULL, 4, "unknown type 'BOGUS'"},
    {P "www NSEC\n", NULL, 4, "missing domain name"},
    {P "www SSHFP 1 1\n", NULL, 4, "missing hex data"},
    /* generic rdata */
    {P "www TYPE300 1 2\n", NULL, 4, "unknown types need \\# rdata"},
    {P "www TYPE300 \\#\n", NULL, 4, "missing length after \\#"},
    {P "www TYPE300 \\# x\n", NULL, 4, "bad \\# length"},
    {P "www TYPE300 \\# 65536\n", NULL, 4, "bad \\# length"},
    {P "www TYPE300 \\# 2 abcdef\n", NULL, 4, "has 3 octets but its length says 2"},
    {P "www TYPE300 \\# 2\n", NULL, 4, "has 0 octets but its length says 2"},
    {P "www TYPE300 \\# 2 abc\n", NULL, 4, "odd number of hex digits"},
    {P "www A \\# 3 000102\n", NULL, 4, "A record: \\# data is not valid A rdata"},
    {P "www AAAA \\# 4 00010203\n", NULL, 4, "\\# data is not valid AAAA rdata"},
    {P "www NS \\# 2 0300\n", NULL, 4, "\\# data is not valid NS rdata"},
    {P "www NS \\# 1 40\n", NULL, 4, "\\# data is not valid NS rdata"},
    {P "www NS \\# 2 c00c\n", NULL, 4, "\\# data is not valid NS rdata"},
    {P "www TYPE5 \\# 3 01610000\n", NULL, 4, "has 4 octets but its length says 3"},
    {P "www CNAME \\# 4 01610000\n", NULL, 4, "\\# data is not valid CNAME rdata"},
    {P "www MX \\# 3 000103\n", NULL, 4, "\\# data is not valid MX rdata"},
    {P "www TXT \\# 0\n", NULL, 4, "\\# data is not valid TXT rdata"},
    {P "www TXT \\# 2 0261\n", NULL, 4, "\\# data is not valid TXT rdata"},
    {P "www CAA \\# 3 000061\n", NULL, 4, "\\# data is not valid CAA rdata"},
    {P "www NSEC \\# 4 00000100\n", NULL, 4, "\\# data is not valid NSEC rdata"},
    {P "www NSEC \\# 7 0000014001000140\n", NULL, 4, "has 8 octets"},
    {P "www NSEC \\# 7 00010140000140\n", NULL, 4, "\\# data is not valid NSEC rdata"},
    {P "www TYPE65 \\# 2 0001\n", NULL, 4, "\\# data is not valid TYPE65 rdata"},
    {P "www HTTPS \\# 7 00010161000001\n", NULL, 4, "\\# data is not valid TYPE65 rdata"},
    {P "www HTTPS \\# 18 000101610000030002 01bb 0001 0003 026832\n", NULL, 4,
     "\\# data is not valid TYPE65 rdata"},
    {P "www HTTPS \\# 19 0001016100 0001000302683200 01000302 6832\n", NULL, 4,
     "\\# data is not valid TYPE65 rdata"},
    {P "www HTTPS \\# 15 0001016100 0000 0002 0001 0003 0000\n", NULL, 4,
     "\\# data is not valid TYPE65 rdata"},
    {P "www HTTPS \\# 11 0001016100 0000 0002 0000\n", NULL, 4,
     "\\# data is not valid TYPE65 rdata"},
    {P "www TYPE15 \\# 3 0001ff\n", NULL, 4, "\\# data is not valid MX rdata"},
    {P "www TYPE38 \\# 1 00\n", NULL, 4, "type A6 is not supported"},
    {P "www HIP 1\n", NULL, 4, "type HIP is not supported"},
    {P "www SOA \\# 0\n", NULL, 4, "SOA record: write it out"},
    /* zone structure */
    {P "www.example.org. A 192.0.2.1\n", NULL, 4,
     "www.example.org. is outside the zone example.com."},
    {P "xexample.com. A 192.0.2.1\n", NULL, 4, "outside the zone"},
    {P "com. A 192.0.2.1\n", NULL, 4, "outside the zone"},
    {"$TTL 1\nwww.example.com. A 192.0.2.1\n\nwww.example.org. A 192.0.2.1\n"
     "example.com. SOA ns.example.com. h.example.com. 1 2 3 4 5\n",
     NULL, 4, "www.example.org. is outside the zone example.com."},
    {P "@ SOA ns h 1 2 3 4 5\n", NULL, 4, "second SOA record (the first is on line 3)"},
    {P "sub SOA ns h 1 2 3 4 5\n", NULL, 4, "second SOA record"},
    {"$TTL 1\n* SOA ns h 1 2 3 4 5\n", "example.com", 2, "SOA owner must not be a wildcard"},
    {"$TTL 300\nexample.com. A 192.0.2.1\n", NULL, 2, "no SOA record"},
    {"$TTL 300\nexample.com. A 192.0.2.1", NULL, 2, "no SOA record"},
    {"", NULL, 1, "no SOA record"},
    {"; nothing\n\n", NULL, 2, "no SOA record"},
    {"$TTL 1\nexample.net. SOA ns h 1 2 3 4 5\n", "example.com", 2,
     "SOA owner example.net. is not the zone origin example.com."},
    {"$TTL 1\n@ SOA ns h 1 2 3 4 5\nexample.net. A 192.0.2.1\n", "example.com", 3,
     "outside the zone"},
    {"", "a..b", 0, "empty label"},
    {"", "*.example.com", 0, "'*' in name"},
    {"", "", 0, "empty domain name"},
    /* TTL defaults */
    {"example.com. A 192.0.2.1\nexample.com. 300 SOA ns.example.com. h.example.com. 1 2 3 4 5\n",
     NULL, 1, "no TTL"},
    {"example.com. SOA ns.example.com. h.example.com. 1 2 3 4 2147483648\n", NULL, 1,
     "SOA minimum 2147483648 is over"},
    /* CNAME and other data (RFC 1034 section 3.6.2) */
    {P "www CNAME @\nwww A 192.0.2.1\n", NULL, 5,
     "CNAME and other data at www.example.com. (A on line 5, CNAME on line 4"},
    {P "www A 192.0.2.1\nwww CNAME @\n", NULL, 5,
     "CNAME and other data at www.example.com. (A on line 4, CNAME on line 5"},
    {P "www CNAME a\nx A 192.0.2.1\nwww CNAME b\n", NULL, 6,
     "second CNAME at www.example.com. (the first is on line 4"},
    {P "@ CNAME www\n", NULL, 4, "CNAME and other data at example.com. (SOA on line 3"},
    {P "b CNAME x\na CNAME x\na TXT y\nb TXT y\n", NULL, 6, "CNAME and other data at a."},
    {P "WWW CNAME x\nwww.EXAMPLE.com. MX 1 y\n", NULL, 5, "CNAME and other data"},
};

static void test_err_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++)
        expect_err(err_cases[i].in, err_cases[i].origin, err_cases[i].line, err_cases[i].needle);
}

static void test_nul_byte(void **state)
{
    (void)state;
    static const char in[] = P "www TXT \"a\0b\"\n";
    expect_err_n(in, sizeof in - 1, NULL, 4, "NUL byte");
    static const char in2[] = P "; a comment\0\n";
    expect_err_n(in2, sizeof in2 - 1, NULL, 4, "NUL byte");
    static const char in3[] = "\0";
    expect_err_n(in3, 1, NULL, 1, "NUL byte");
}

/* ---- boundaries ------------------------------------------------------------------------- */

static char *rep(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* P + fmt, formatted into a heap buffer. */
static char *zone(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *zone(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    size_t plen = strlen(P);
    char *s = malloc(plen + (size_t)n + 1);
    assert_non_null(s);
    memcpy(s, P, plen);
    va_start(ap, fmt);
    vsnprintf(s + plen, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void test_labels_and_names(void **state)
{
    (void)state;
    char *l63 = rep('a', 63), *l64 = rep('a', 64), *l49 = rep('c', 49), *l50 = rep('c', 50);
    char *z, line[600];

    z = zone("%s A 192.0.2.1\n", l63);
    snprintf(line, sizeof line, "%s.example.com.\t300\tIN\tA\t192.0.2.1", l63);
    expect_ok(z, NULL, line);
    free(z);
    z = zone("%s A 192.0.2.1\n", l64);
    expect_err(z, NULL, 4, "label longer than 63 octets");
    free(z);
    z = zone("x CNAME %s.example.net.\n", l64);
    expect_err(z, NULL, 4, "label longer than 63 octets");
    free(z);
    /* 63 octets written with escapes */
    char esc[63 * 4 + 1];
    for (int i = 0; i < 63; i++)
        memcpy(esc + 4 * i, "\\097", 4);
    esc[63 * 4] = '\0';
    z = zone("%s A 192.0.2.1\n", esc);
    expect_ok(z, NULL, NULL);
    free(z);

    /* 3 * (1 + 63) + (1 + 49) + 13 for "example.com." = 255 octets in wire form */
    z = zone("%s.%s.%s.%s A 192.0.2.1\n", l63, l63, l63, l49);
    snprintf(line, sizeof line, "%s.%s.%s.%s.example.com.\t300\tIN\tA\t192.0.2.1", l63, l63, l63,
             l49);
    expect_ok(z, NULL, line);
    free(z);
    z = zone("%s.%s.%s.%s A 192.0.2.1\n", l63, l63, l63, l50);
    expect_err(z, NULL, 4, "longer than 255 octets with the origin appended");
    free(z);
    z = zone("%s.%s.%s.%s.example.com. A 192.0.2.1\n", l63, l63, l63, l50);
    expect_err(z, NULL, 4, "is longer than 255 octets");
    free(z);
    z = zone("x MX 1 %s.%s.%s.%s\n", l63, l63, l63, l50);
    expect_err(z, NULL, 4, "longer than 255 octets");
    free(z);
    /* the same 255-octet name in rdata */
    z = zone("x MX 1 %s.%s.%s.%s\n", l63, l63, l63, l49);
    snprintf(line, sizeof line, "x.example.com.\t300\tIN\tMX\t1 %s.%s.%s.%s.example.com.", l63, l63,
             l63, l49);
    expect_ok(z, NULL, line);
    free(z);
    free(l63);
    free(l64);
    free(l49);
    free(l50);
}

static void test_character_strings(void **state)
{
    (void)state;
    char *s255 = rep('x', 255), *s256 = rep('x', 256), *z, line[700];
    z = zone("t TXT \"%s\"\n", s255);
    snprintf(line, sizeof line, "t.example.com.\t300\tIN\tTXT\t\"%s\"", s255);
    expect_ok(z, NULL, line);
    free(z);
    z = zone("t TXT %s\n", s255); /* unquoted */
    expect_ok(z, NULL, line);
    free(z);
    z = zone("t TXT \"%s\"\n", s256);
    expect_err(z, NULL, 4, "character-string longer than 255 octets");
    free(z);
    z = zone("t TXT ( ok\n \"%s\" )\n", s256); /* the error names the line of the string */
    expect_err(z, NULL, 5, "longer than 255 octets");
    free(z);
    /* 255 octets written as \DDD: the limit counts octets, not characters */
    char esc[256 * 4 + 1];
    for (int i = 0; i < 256; i++)
        memcpy(esc + 4 * i, "\\065", 4);
    esc[255 * 4] = '\0';
    z = zone("t TXT \"%s\"\n", esc);
    expect_ok(z, NULL, NULL);
    free(z);
    esc[255 * 4] = '\\';
    esc[256 * 4] = '\0';
    z = zone("t TXT \"%s\"\n", esc);
    expect_err(z, NULL, 4, "longer than 255 octets");
    free(z);
    /* a CAA value is not a character-string: no 255 limit */
    z = zone("@ CAA 0 issue \"%s\"\n", s256);
    expect_ok(z, NULL, NULL);
    free(z);
    free(s255);
    free(s256);
}

static void test_limits(void **state)
{
    (void)state;
    char *z, *s;

    /* physical line length, counted without the LF */
    s = rep('x', ZONEFILE_MAX_LINE - 1);
    z = zone(";%s\n", s);
    expect_ok(z, NULL, NULL);
    free(z);
    free(s);
    s = rep('x', ZONEFILE_MAX_LINE);
    z = zone(";%s\n", s);
    expect_err(z, NULL, 4, "line longer than");
    free(z);
    free(s);

    /* field length: the limit is checked by the lexer; a field that long never fits in a
       canonical line, so the largest accepted one is a little shorter */
    s = rep('x', ZONEFILE_MAX_TOKEN - 64);
    z = zone("@ CAA 0 issue \"%s\"\n", s);
    expect_ok(z, NULL, NULL);
    free(z);
    free(s);
    s = rep('x', ZONEFILE_MAX_TOKEN);
    z = zone("@ CAA 0 issue \"%s\"\n", s);
    expect_err(z, NULL, 4, "record too long");
    free(z);
    free(s);
    s = rep('x', ZONEFILE_MAX_TOKEN + 1);
    z = zone("@ CAA 0 issue \"%s\"\n", s);
    expect_err(z, NULL, 4, "field longer than");
    free(z);
    free(s);
    /* base64 joined into one canonical field reads back */
    s = malloc(15 * 4001 + 1);
    assert_non_null(s);
    for (int i = 0; i < 15; i++) {
        memset(s + i * 4001, 'A', 4000);
        s[i * 4001 + 4000] = '\n';
    }
    s[15 * 4001] = '\0';
    z = zone("@ DNSKEY 256 3 8 ( %s )\n", s);
    free(s);
    char err[256];
    zonefile_t *zf = parse(z, NULL, err, sizeof err);
    free(z);
    if (zf == NULL) fail_msg("%s", err);
    zonefile_t *again = parse(zonefile_canonical(zf, NULL), NULL, err, sizeof err);
    if (again == NULL) fail_msg("%s", err);
    assert_string_equal(zonefile_canonical(again, NULL), zonefile_canonical(zf, NULL));
    zonefile_free(again);
    zonefile_free(zf);

    /* fields per record: owner + type + strings */
    size_t nstr = ZONEFILE_MAX_FIELDS - 2;
    char *many = malloc(nstr * 2 + 1);
    assert_non_null(many);
    for (size_t i = 0; i < nstr; i++)
        memcpy(many + 2 * i, i % 40 == 39 ? "a\n" : "a ", 2);
    many[nstr * 2] = '\0';
    z = zone("t TXT ( %s )\n", many);
    expect_ok(z, NULL, NULL);
    free(z);
    z = zone("t TXT ( %s a )\n", many);
    expect_err(z, NULL, 4 + (unsigned long)(nstr / 40), "more than 8192 fields");
    free(z);
    free(many);

    /* parentheses nesting: 8 accepted */
    expect_ok(P "t TXT (((((((( a ))))))))\n", NULL, "t.example.com.\t300\tIN\tTXT\t\"a\"");

    /* one canonical line: 255 strings of 255 octets exceed ZONEFILE_MAX_RR_TEXT */
    s = rep('y', 255);
    size_t cap = 256 * 260;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t o = 0;
    for (int i = 0; i < 255; i++)
        o += (size_t)snprintf(big + o, cap - o, "\"%s\"\n", s);
    z = zone("t TXT ( %s )\n", big);
    expect_err(z, NULL, 4, "record too long");
    free(z);
    free(big);
    free(s);

    /* file size: checked before the first byte is read */
    unsigned char *huge = calloc((size_t)ZONEFILE_MAX_SIZE + 1, 1);
    assert_non_null(huge);
    assert_null(zonefile_parse(huge, (size_t)ZONEFILE_MAX_SIZE + 1, "t", NULL, err, sizeof err));
    assert_non_null(strstr(err, "larger than"));
    free(huge);
}

/*
 * ZONEFILE_MAX_RECORDS records are accepted, one more is not: records are stored in order and
 * the first error stops the parse, so an error on the line of record MAX + 1 shows that the
 * MAX before it were taken. (One parse only: a million records are slow under the sanitizers.)
 */
static void test_record_limit(void **state)
{
    (void)state;
    static const char head[] = "$ORIGIN example.com.\n$TTL 1\n@ SOA ns h 1 2 3 4 5\n";
    static const char rec[] = "a A 192.0.2.1\n";
    size_t n = ZONEFILE_MAX_RECORDS; /* the SOA + (n - 1) records, then one more */
    size_t len = sizeof head - 1 + n * (sizeof rec - 1);
    char *buf = malloc(len);
    char err[256], want[64];
    assert_non_null(buf);
    memcpy(buf, head, sizeof head - 1);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + sizeof head - 1 + i * (sizeof rec - 1), rec, sizeof rec - 1);
    assert_null(zonefile_parse((unsigned char *)buf, len, "t", NULL, err, sizeof err));
    snprintf(want, sizeof want, "t:%zu: more than %u records", n + 3, ZONEFILE_MAX_RECORDS);
    assert_string_equal(err, want);
    free(buf);
}

/* ---- API -------------------------------------------------------------------------------- */

static void test_iterate(void **state)
{
    (void)state;
    char err[256];
    zonefile_rr_t rr;
    zonefile_t *zf = parse("$ORIGIN example.com.\n$TTL 60\nwww A 192.0.2.1\n"
                           "@ 120 SOA ns h 1 2 3 4 5\n  MX 5 mx\nt TXT \"a b\"\n",
                           NULL, err, sizeof err);
    if (zf == NULL) fail_msg("%s", err);
    assert_int_equal(zonefile_count(zf), 4);
    /* the SOA comes first, the rest keep their order */
    assert_int_equal(zonefile_rr(zf, 0, &rr), 0);
    assert_int_equal(rr.type, 6);
    assert_int_equal(rr.ttl, 120);
    assert_int_equal(rr.line, 4);
    assert_int_equal(rr.owner_len, strlen("example.com."));
    assert_memory_equal(rr.owner, "example.com.", rr.owner_len);
    assert_int_equal(zonefile_rr(zf, 1, &rr), 0);
    assert_int_equal(rr.type, 1);
    assert_int_equal(rr.line, 3);
    assert_memory_equal(rr.owner, "www.example.com.", rr.owner_len);
    assert_int_equal(rr.rdata_len, strlen("192.0.2.1"));
    assert_memory_equal(rr.rdata, "192.0.2.1", rr.rdata_len);
    assert_int_equal(zonefile_rr(zf, 2, &rr), 0);
    assert_int_equal(rr.type, 15);
    assert_int_equal(rr.ttl, 60);
    assert_memory_equal(rr.owner, "example.com.", rr.owner_len);
    assert_int_equal(rr.rdata_len, strlen("5 mx.example.com."));
    assert_memory_equal(rr.rdata, "5 mx.example.com.", rr.rdata_len);
    assert_int_equal(zonefile_rr(zf, 3, &rr), 0);
    assert_int_equal(rr.type, 16);
    assert_memory_equal(rr.rdata, "\"a b\"", rr.rdata_len);
    assert_int_equal(zonefile_rr(zf, 4, &rr), -1);
    assert_string_equal(zonefile_canonical(zf, NULL),
                        "example.com.\t120\tIN\tSOA\tns.example.com. h.example.com. 1 2 3 4 5\n"
                        "www.example.com.\t60\tIN\tA\t192.0.2.1\n"
                        "example.com.\t60\tIN\tMX\t5 mx.example.com.\n"
                        "t.example.com.\t60\tIN\tTXT\t\"a b\"\n");
    zonefile_free(zf);
}

static void test_err_buffer(void **state)
{
    (void)state;
    char small[8];
    zonefile_free(NULL);
    /* no error buffer at all */
    assert_null(zonefile_parse((const unsigned char *)"x", 1, "t", NULL, NULL, 0));
    /* a short buffer is truncated and terminated */
    memset(small, 'z', sizeof small);
    assert_null(
        zonefile_parse((const unsigned char *)"x", 1, "zonefile-name", NULL, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    /* a NULL name */
    char err[128];
    assert_null(zonefile_parse((const unsigned char *)"", 0, NULL, NULL, err, sizeof err));
    assert_string_equal(err, "zone:1: no SOA record: a zone file needs exactly one, at the zone "
                             "origin (RFC 1035 section 5.2)");
}

static void test_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_zonefile.XXXXXX", path[128], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/db.example", dir);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(golden_in, f);
    fclose(f);
    zonefile_t *zf = zonefile_load(path, err, sizeof err);
    if (zf == NULL) fail_msg("%s", err);
    assert_string_equal(zonefile_canonical(zf, NULL), golden_ref);
    assert_string_equal(zonefile_origin(zf), "example.com.");
    zonefile_free(zf);

    /* errors carry the path */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("$ORIGIN example.com.\n$TTL 1\n@ SOA ns h 1 2 3 4 5\n$INCLUDE /etc/passwd\n", f);
    fclose(f);
    assert_null(zonefile_load(path, err, sizeof err));
    char want[256];
    snprintf(want, sizeof want, "%s:4: $INCLUDE is not supported", path);
    assert_memory_equal(err, want, strlen(want));

    /* too large: a sparse file one byte over the limit */
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)ZONEFILE_MAX_SIZE + 1), 0);
    fclose(f);
    assert_null(zonefile_load(path, err, sizeof err));
    assert_non_null(strstr(err, "larger than"));

    /* missing file, directory */
    assert_int_equal(unlink(path), 0);
    assert_null(zonefile_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(zonefile_load(dir, err, sizeof err));
    assert_non_null(strstr(err, "is a directory"));
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_ok_table),
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_labels_and_names),
        cmocka_unit_test(test_character_strings),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_record_limit),
        cmocka_unit_test(test_iterate),
        cmocka_unit_test(test_err_buffer),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
