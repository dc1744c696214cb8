/*
 * test_explain_classify: the reason classifier.
 *  - provider replies: real reply texts as providers send them (quoted as facts, test data
 *    only), each with the server that sends it, and the reason, finding, provider,
 *    blocklist and layer we expect;
 *  - the three tables of the smtp-replies suite (../shared/testsuites/smtp-replies-sisimai,
 *    found from MB_SOURCE_DIR, never copied here), read at run time as evidence: every
 *    quoted provider reply, every generic phrase and every status code, with the agreement
 *    reported and held above a threshold (skipped, saying so, when the suite is absent);
 *  - layer 1: every catalog entry's gate reply names exactly that entry back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/catalog.h"
#include "core/config.h"
#include "explain/classify.h"
#include "explain/reason.h"
#include "explain/reply.h"
#include "policy/policy.h"
#include "sisimai.h"
#include "util/arena.h"
#include "util/mem.h"
#include "util/str.h"

/* Agreement required with the suite tables, in percent (what the classifier reaches,
 * rounded down). */
#define PROVIDER_THRESHOLD 98.0
#define PHRASE_THRESHOLD 90.0
#define ROWS_THRESHOLD 85.0
#define STATUS_THRESHOLD 90.0

/* ---- reason vocabulary ---- */

static void test_reason_names(void **state)
{
    (void)state;
    for (int i = 0; i < EX_REASON_COUNT; i++) {
        const char *n = ex_reason_name((ex_reason_t)i);
        assert_non_null(n);
        assert_int_equal(ex_reason_parse(n, strlen(n)), i);
        assert_true(strlen(ex_reason_explanation((ex_reason_t)i)) > 10);
        assert_true(strlen(ex_reason_fix((ex_reason_t)i)) > 5);
    }
    assert_int_equal(ex_reason_parse("UserUnknown", 11), EX_USERUNKNOWN);
    assert_int_equal(ex_reason_parse("userunknownx", 12), -1);
    assert_int_equal(ex_reason_parse("user", 4), -1);
    assert_string_equal(ex_reason_name((ex_reason_t)999), "undefined");
}

/* ---- provider replies ---- */

typedef struct ccase {
    const char *mta;   /* remote MTA, or NULL */
    const char *reply; /* a bare reply as the server sent it */
    const char *reason;
    const char *finding;   /* NULL: not checked; "-": must be NULL */
    const char *provider;  /* NULL: not checked; "-": must be NULL */
    const char *blocklist; /* NULL: not checked; "-": must be NULL */
    const char *layer;     /* NULL: not checked */
    int hard;              /* -1: not checked */
} ccase_t;

static const ccase_t cases[] = {
    /* Google */
    {"gmail-smtp-in.l.google.com",
     "550-5.7.26 This mail is unauthenticated, which poses a security risk to the\n"
     "550-5.7.26 sender and Gmail users, and has been blocked. The sender must\n"
     "550-5.7.26 authenticate with at least one of SPF or DKIM. For this message,\n"
     "550-5.7.26 DKIM checks did not pass and SPF check for [example.com] did not\n"
     "550-5.7.26 pass with ip: [192.0.2.1]. The sender should visit\n"
     "550 5.7.26 https://support.google.com/mail/answer/81126#authentication a1si - gsmtp",
     "authfailure", NULL, "google", "-", "provider", 0},
    {"aspmx.l.google.com",
     "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's "
     "DMARC policy. Please contact the administrator of example.com domain. - gsmtp",
     "authfailure", "dmarc", "google", NULL, "provider", 0},
    {"gmail-smtp-in.l.google.com",
     "421-4.7.27 Your email has been rate limited because SPF authentication didn't pass "
     "for this message. Gmail requires all bulk email senders to authenticate their email "
     "with SPF. 421 4.7.27 - gsmtp",
     "authfailure", "spf.mailfrom", "google", NULL, "provider", 0},
    {"gmail-smtp-in.l.google.com",
     "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a PTR\n"
     "550-5.7.25 record setup, or the corresponding forward DNS entry does not point to\n"
     "550 5.7.25 the sending IP. https://support.google.com/mail/answer/81126 - gsmtp",
     "requireptr", "client.no_ptr", "google", NULL, NULL, 0},
    {"gmail-smtp-in.l.google.com",
     "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
     "550-5.1.1 double-checking the recipient's email address for typos or\n"
     "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser x1si - gsmtp",
     "userunknown", NULL, "google", NULL, NULL, 1},
    {"gmail-smtp-in.l.google.com",
     "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\n"
     "452 4.2.2 recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
     "mailboxfull", NULL, "google", NULL, NULL, 0},
    {"gmail-smtp-in.l.google.com",
     "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely\n"
     "550-5.7.1 unsolicited mail. To reduce the amount of spam sent to Gmail, this\n"
     "550 5.7.1 message has been blocked. "
     "https://support.google.com/mail/?p=UnsolicitedMessageError",
     "spamdetected", NULL, "google", NULL, NULL, 0},
    {NULL,
     "421-4.7.0 [192.0.2.1] Our system has detected that this message is suspicious due to "
     "the very low reputation of the sending IP address. "
     "https://support.google.com/mail/answer/188131",
     "badreputation", NULL, "google", NULL, NULL, 0},
    /* Microsoft */
    {"example-com.mail.protection.outlook.com",
     "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
     "Internet service provider since part of their network is on our block list (S3150). "
     "You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
     "blocked", "client.dnsbl", "microsoft", "Microsoft", "provider", 0},
    {"example-com.mail.protection.outlook.com",
     "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from "
     "this list please visit https://sender.office.com/ and follow the directions.",
     "blocked", "client.dnsbl", "microsoft", NULL, "provider", 0},
    {"example-com.mail.protection.outlook.com",
     "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
     "[DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]",
     "userunknown", NULL, "microsoft", NULL, "provider", 1},
    {"example-com.mail.protection.outlook.com",
     "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719) "
     "[VI1EUR04FT010.eop-eur04.prod.protection.outlook.com]",
     "systemerror", NULL, "microsoft", NULL, "provider", 0},
    {"example-com.mail.protection.outlook.com",
     "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification "
     "and has a DMARC policy of reject.",
     "authfailure", "dmarc", "microsoft", NULL, "provider", 0},
    {"outlook-com.olc.protection.outlook.com",
     "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
     "[AM0PR01MB1234.eurprd01.prod.exchangelabs.com]",
     "userunknown", NULL, "microsoft", NULL, NULL, 1},
    {"example-com.mail.protection.outlook.com",
     "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP "
     "reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775)",
     "badreputation", NULL, "microsoft", NULL, "provider", 0},
    /* Yahoo */
    {"mta6.am0.yahoodns.net",
     "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
     "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
     "badreputation", NULL, "yahoo", NULL, "provider", 0},
    {"mta6.am0.yahoodns.net",
     "554 5.7.9 Message not accepted for policy reasons. See "
     "https://postmaster.yahooinc.com/error-codes",
     "policyviolation", NULL, "yahoo", NULL, NULL, 0},
    {NULL,
     "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is "
     "in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
     "blocked", "client.dnsbl", "yahoo", "Spamhaus", "provider", 0},
    {NULL,
     "554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) "
     "[0] - mta1234.mail.bf1.yahoo.com",
     "userunknown", NULL, "yahoo", NULL, NULL, 1},
    {"mta5.am0.yahoodns.net",
     "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo "
     "requires all senders to authenticate with either SPF or DKIM.",
     "authfailure", NULL, "yahoo", NULL, NULL, 0},
    /* Apple */
    {"mx01.mail.icloud.com",
     "554 5.7.1 [HME1] This message was blocked for failing both SPF and DKIM authentication "
     "checks. See https://support.apple.com/en-us/HT204137 for mailing best practices",
     "authfailure", NULL, "apple", NULL, "provider", 0},
    {"mx01.mail.icloud.com",
     "550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
     "https://support.apple.com/en-us/HT204137",
     "policyviolation", NULL, "apple", NULL, "provider", 0},
    {"mx01.mail.icloud.com", "552 5.2.2 <someone@icloud.com>: user is over quota", "mailboxfull",
     NULL, "apple", NULL, NULL, 0},
    /* Proofpoint, Mimecast, Barracuda */
    {"mx0a-001.pphosted.com",
     "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", "blocked",
     "client.dnsbl", "proofpoint", "Proofpoint", "provider", 0},
    {"eu-smtp-inbound-1.mimecast.com",
     "550 Rejected by header based Anti-Spoofing policy: sender@example.com - "
     "https://community.mimecast.com/docs/DOC-1369#550 [abc.uk12]",
     "policyviolation", NULL, "mimecast", NULL, NULL, 0},
    {"eu-smtp-inbound-1.mimecast.com",
     "550 Local CT IP Reputation - (reject) https://community.mimecast.com/docs/DOC-1369#550",
     "badreputation", NULL, "mimecast", NULL, "provider", 0},
    {"d123.ess.barracudanetworks.com",
     "554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation, "
     "see http://www.barracudanetworks.com/reputation/?r=1&ip=192.0.2.1",
     "blocked", "client.dnsbl", "barracuda", "Barracuda", NULL, 0},
    /* Spamhaus-using receivers, Postfix and Exim defaults */
    {"mx.example.net",
     "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
     "https://www.spamhaus.org/query/ip/192.0.2.1",
     "blocked", "client.dnsbl", "-", "Spamhaus ZEN", NULL, 0},
    {"mx.example.net",
     "550 5.7.1 Mail from IP 192.0.2.1 was rejected due to listing in Spamhaus SBL. For "
     "details please see http://www.spamhaus.org/query/bl?ip=192.0.2.1",
     "blocked", "client.dnsbl", "-", "Spamhaus SBL", NULL, 0},
    {"mx.example.net",
     "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
     "bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1",
     "blocked", "client.dnsbl", "-", "SpamCop", NULL, 0},
    {"mx.example.net", "550 5.7.1 Rejected: 192.0.2.1 listed at dnsbl-1.uceprotect.net", "blocked",
     "client.dnsbl", "-", "UCEPROTECT", NULL, 0},
    {"mx.example.net",
     "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual "
     "mailbox table",
     "userunknown", "-", "-", "-", NULL, 1},
    {"mx.example.net", "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]",
     "requireptr", "client.no_ptr", "-", "-", "pattern", 0},
    {"mx.example.net",
     "550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", "requireptr",
     "client.no_ptr", "-", "-", "pattern", 0},
    /* Orange (OFR/LPN codes), GoDaddy (IB codes), Cox (CX tags), Tencent QQ: each table
     * recognised from the text alone, without the MX name */
    {NULL,
     "550 mwinf5c04 ME Adresse IP source bloquee pour incident de spam. Client host blocked "
     "for spamming issues. OFR006_102 Ref http://csi.cloudmark.com",
     "blocked", "client.dnsbl", "orange", "Cloudmark", NULL, 0},
    {NULL,
     "421 mwinf5c79 ME Trop de connexions, veuillez verifier votre configuration. Too many "
     "connections, slow down. OFR005_104 [104]",
     "toomanyconn", NULL, "orange", "-", NULL, 0},
    {NULL,
     "550 jane@coolexample.com Blank From: addresses are not allowed. Provide a valid From. "
     "IB501",
     "notcompliantrfc", NULL, "godaddy", "-", NULL, 0},
    {NULL,
     "554 5.7.1 Unable to deliver to <x@cox.net>: Message rejected - no rDNS for 192.0.2.1 - "
     "https://www.cox.com/residential/support/email-error-codes.html CXDNS",
     "requireptr", "client.no_ptr", "cox", "-", NULL, 0},
    {NULL,
     "550 5.1.0 <bounce@example.com> sender rejected. Refer to Error Codes section at "
     "https://www.cox.com/residential/support/email-error-codes.html for more information. "
     "AUP#CDRBL",
     "blocked", "-", "cox", "-", "provider", 0},
    {NULL,
     "421 4.2.0 Service refuse. Veuillez essayer plus tard. Service refused, please try "
     "later. OFR005_505 [505]",
     "systemerror", NULL, "orange", "-", "provider", 0},
    {NULL,
     "550 Mail rejete. Mail rejected. ofr_506 [506]", "spamdetected", NULL, "orange", "-",
     "provider", 0},
    /* Spectrum's AUP tags: 13xx limit connections, 10xx block the address */
    {"mx0.charter.net",
     "550 5.1.0 <bounce@example.com> sender rejected. Please see "
     "https://www.spectrum.net/support/internet/understanding-email-error-codes for more "
     "information. AUP#In-1310",
     "toomanyconn", NULL, "spectrum", "-", "provider", 0},
    {"mx0.charter.net", "554 5.3.2 dnvrco-cmimta15 ESMTP server not available AUP#I-1010",
     "blocked", NULL, "spectrum", "-", "provider", 0},
    {NULL,
     "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416 (in reply to end "
     "of DATA command)",
     "userunknown", NULL, "orange", "-", "provider", 1},
    {"mta5.am0.yahoodns.net",
     "554 delivery error: dd This user doesn't have a yahoo.com account (x@yahoo.com) [0] - "
     "mta1082.mail.bf1.yahoo.com",
     "userunknown", NULL, "yahoo", "-", "provider", 1},
    /* docomo refuses after DATA the senders its subscriber refuses; at RCPT the address */
    {"mfsmax.docomo.ne.jp",
     "550 5.0.0 Unknown user x@docomo.ne.jp (in reply to end of DATA command)", "rejected",
     NULL, "docomo", "-", "provider", 0},
    {"mfsmax.docomo.ne.jp", "550 5.1.1 Unknown user x@docomo.ne.jp (in reply to RCPT TO command)",
     "userunknown", NULL, "docomo", "-", NULL, 1},
    {"us-smtp-inbound-1.mimecast.com",
     "554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554 [x.us1]",
     "policyviolation", NULL, "mimecast", "-", "provider", 0},
    /* a URL or an address on a list is not the client's listing */
    {NULL,
     "554 5.7.1 REJECTED - Blacklisted URL in message. (example.com) in [black]. See "
     "http://lookup.uribl.com",
     "spamdetected", "-", NULL, "URIBL", NULL, 0},
    {NULL, "550 Sorry, you are sending to/from an address that has been blacklisted",
     "rejected", "-", NULL, NULL, NULL, 0},
    /* a rate of the DKIM domain is no DKIM failure */
    {"gmail-smtp-in.l.google.com",
     "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your "
     "DKIM domain [example.com 12]. To protect our users from spam, mail sent from your "
     "domain has been temporarily rate limited. gsmtp",
     "blocked", "-", "google", "-", "provider", 0},
    {"gmail-smtp-in.l.google.com",
     "550 You're sending this from a different address or alias using the 'Send mail as' "
     "feature. The settings for your 'Send mail as' account are misconfigured or out of date.",
     "rejected", NULL, "google", "-", "provider", 0},
    {NULL, "550 Mail content denied. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000726",
     "spamdetected", NULL, "tencent", "-", NULL, 0},
    /* wordings of iMail, Lotus Notes and mail gateways without codes */
    {NULL, "550 Invalid final delivery userid", "userunknown", "-", NULL, NULL, NULL, -1},
    {NULL, "550 User not listed in public Name & Address Book", "userunknown", "-", NULL, NULL, NULL,
     -1},
    {NULL, "550 Unable to deliver message to <a@example.org>. Please check if address is correct.",
     "userunknown", "-", NULL, NULL, NULL, -1},
    {NULL, "554 Delivery failed 20 attempts", "expired", "-", NULL, NULL, NULL, -1},
    {"mx.example.net", "450 4.7.1 <mail>: Helo command rejected: Host not found", "blocked",
     "helo.no_dns", "-", "-", NULL, 0},
    {"example-com.mail.protection.outlook.com",
     "550 5.7.1 Service unavailable, Client host [198.51.100.7] blocked using Spamhaus. To "
     "request removal from this list see https://www.spamhaus.org/query/ip/198.51.100.7 "
     "(AS3130023) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]",
     "blocked", "client.dnsbl", "microsoft", "Spamhaus", NULL, 0},
    {"mx.example.net", "504 5.5.2 <PC01>: Helo command rejected: need fully-qualified hostname",
     "blocked", "helo.not_fqdn", "-", "-", NULL, 0},
    {"mx.example.net", "501 5.5.2 <bad_helo>: Helo command rejected: Invalid name", "blocked",
     "helo.syntax", "-", "-", NULL, 0},
    {"mx.example.net",
     "450 4.1.8 <a@nonexistent.example>: Sender address rejected: Domain not found", "rejected",
     "sender.domain_unknown", "-", "-", NULL, 0},
    {"mx.example.net", "554 5.7.1 <x@example.org>: Relay access denied", "norelaying", "-", "-",
     "-", NULL, 0},
    {"mx.example.net", "552 5.3.4 Message size exceeds fixed limit", "mesgtoobig",
     "message.too_big", "-", "-", NULL, 0},
    {"mx.example.net", "550 5.7.27 Sender address has null MX", "rejected", "sender.null_mx", "-",
     NULL, NULL, 0},
    {"mx.example.net", "550 5.1.10 Recipient address has null MX", "notaccept", "-", "-", NULL,
     NULL, 1},
    /* greylisting: retry later, nothing to change (systemerror's advice) */
    {"mx.example.net", "421 4.7.1 Service temporarily unavailable, greylisted", "systemerror", NULL,
     "-", NULL, NULL, 0},
    /* a bare temporary 4.7.1 is a (temporary) block */
    {"mx.example.net", "450 4.7.1", "blocked", NULL, "-", NULL, "registry", 0},
    {"mx.example.net", "451 4.4.4 no route", "networkerror", NULL, "-", NULL, NULL, 0},
    {"mx.example.net", "550 relay not permitted", "norelaying", NULL, "-", "-", NULL, 0},
    {"mx.example.net", "550 Unrouteable address", "hostunknown", NULL, "-", "-", NULL, 1},
    {"mx.example.net", "451 4.7.1 Service unavailable - try again later (greylisted)",
     "systemerror", NULL, "-", "-", NULL, 0},
    {"mx.example.net", "550 5.7.1 Message rejected: SPF check failed", "authfailure",
     "spf.mailfrom", "-", "-", NULL, 0},
    {"mx.example.net", "550 5.7.1 DKIM signature verification failed", "authfailure", "dkim", "-",
     "-", NULL, 0},
    {"mx.example.net", "550 5.1.1 <a@example.net>... User unknown", "userunknown", NULL, "-", "-",
     "pattern", 1},
    {"mx.example.net", "550 5.2.1 mailbox disabled", "suspend", NULL, "-", "-", NULL, 0},
    {"mx.example.net", "250 2.0.0 Ok: queued as ABC123", "delivered", "-", "-", "-", "registry", 0},
    {"mx.example.net", "550 5.1.1", "userunknown", NULL, NULL, NULL, "registry", 1},
    {"mx.example.net",
     "450 4.1.1 <a@example.net>: Recipient address rejected: unverified "
     "address: host mx.example.net said: 550 5.1.1 no such user",
     "userunknown", NULL, NULL, NULL, NULL, 0},
    {"mx.example.net", "550 5.7.23 SPF validation failed", "authfailure", "spf.mailfrom", NULL,
     NULL, NULL, 0},
    /* a DSN's Diagnostic-Code field */
    {"mx.example.net",
     "Diagnostic-Code: smtp; 550 5.1.1 <a@example.net>: Recipient address "
     "rejected: User unknown in local recipient table",
     "userunknown", "-", "-", "-", NULL, 1},
    /* a list named beside an unknown user is not the cause */
    {"mx.example.net",
     "550 5.1.1 <a@example.net>: User unknown; see "
     "https://www.spamhaus.org/ for our policy",
     "userunknown", "-", "-", NULL, NULL, 1},
    /* DNSBLs by host name */
    {"mx.example.net",
     "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
     "b.barracudacentral.org",
     "blocked", "client.dnsbl", "-", "Barracuda", NULL, 0},
    {"mx.example.net",
     "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
     "dnsbl.sorbs.net",
     "blocked", "client.dnsbl", "-", "SORBS", NULL, 0},
    {"mx.example.net",
     "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
     "pbl.spamhaus.org",
     "blocked", "client.dnsbl", "-", "Spamhaus PBL", NULL, 0},
    {"mx.example.net",
     "554 5.7.1 Service unavailable; Sender address [s@example.org] "
     "blocked using dbl.spamhaus.org",
     "blocked", "sender.rhsbl", "-", "Spamhaus DBL", NULL, 0},
    {"mx.example.net", "550 5.7.1 Client host [192.0.2.1] blocked using psbl.surriel.com",
     "blocked", "client.dnsbl", "-", "PSBL", NULL, 0},
    /* Postfix's generic-PTR wording of reject_unknown_client_hostname and friends */
    {"mx.example.net",
     "554 5.7.1 <dyn-192-0-2-1.pool.example.net[192.0.2.1]>: Client host "
     "rejected: Generic reverse DNS, use your ISP's relay",
     "requireptr", "client.ptr_generic", "-", "-", NULL, 0},
    /* an address at a provider's domain does not make the provider the replier */
    {"mx.example.net",
     "550 5.7.1 <someone@gmail.com>: Sender address rejected: Access "
     "denied",
     "rejected", NULL, "-", "-", NULL, 0},
    {NULL, "550 5.1.1 <someone@icloud.com>: Recipient address rejected: User unknown",
     "userunknown", NULL, "-", "-", NULL, 1},
    {"mx.example.net", "550 Requested action not taken", "undefined", "-", "-", "-", "none", 0},
};

static bool check_case(const ccase_t *k, const char *ctx)
{
    arena_t *a = arena_new();
    reply_t r;
    assert_int_equal(reply_parse(k->reply, strlen(k->reply), a, &r), 0);
    classify_in_t in = {r.code, r.enhanced, r.text, r.text_len, k->mta, r.command, r.action, false};
    classify_t c;
    classify_reply(&in, &c);
    int bad = 0;
    if (strcmp(ex_reason_name(c.reason), k->reason) != 0) bad = 1;
#define CHK(field, want)                                                                           \
    if ((want) != NULL) {                                                                          \
        if (strcmp(want, "-") == 0 ? (field) != NULL                                               \
                                   : ((field) == NULL || strcmp(field, want) != 0))                \
            bad = 1;                                                                               \
    }
    CHK(c.finding, k->finding);
    CHK(c.provider, k->provider);
    CHK(c.blocklist, k->blocklist);
    if (k->layer != NULL && strcmp(classify_layer_name(c.layer), k->layer) != 0) bad = 1;
    if (k->hard >= 0 && c.hard != (k->hard != 0)) bad = 1;
    if (bad)
        print_error("%s: %s\n got reason=%s finding=%s provider=%s blocklist=%s layer=%s hard=%d\n"
                    " want reason=%s finding=%s provider=%s blocklist=%s layer=%s hard=%d\n",
                    ctx, k->reply, ex_reason_name(c.reason), c.finding ? c.finding : "(null)",
                    c.provider ? c.provider : "(null)", c.blocklist ? c.blocklist : "(null)",
                    classify_layer_name(c.layer), c.hard, k->reason, k->finding ? k->finding : "?",
                    k->provider ? k->provider : "?", k->blocklist ? k->blocklist : "?",
                    k->layer ? k->layer : "?", k->hard);
    arena_free(a);
    return !bad;
}

static void test_provider_replies(void **state)
{
    (void)state;
    size_t bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char ctx[32];
        snprintf(ctx, sizeof ctx, "case %zu", i);
        bad += !check_case(&cases[i], ctx);
    }
    assert_int_equal(bad, 0);
}

static void test_hard_soft(void **state)
{
    (void)state;
    classify_t c;
    const char *t = "User unknown";
    classify_in_t in = {550, "5.1.1", t, strlen(t), NULL, "RCPT", EX_ACTION_FAILED, false};
    classify_reply(&in, &c);
    assert_true(c.hard);
    in.code = 450;
    in.enhanced = "4.1.1";
    classify_reply(&in, &c);
    assert_int_equal(c.reason, EX_USERUNKNOWN);
    assert_false(c.hard);
    in.code = 550;
    in.enhanced = "5.1.1";
    in.action = EX_ACTION_DELAYED;
    classify_reply(&in, &c);
    assert_false(c.hard);
    /* a permanent enhanced code on a reply that is not permanent is not hard either */
    in.code = 348;
    in.action = EX_ACTION_FAILED;
    classify_reply(&in, &c);
    assert_false(c.hard);
    /* a block is never hard */
    t = "Client host [192.0.2.1] blocked using zen.spamhaus.org";
    classify_in_t b = {554, "5.7.1", t, strlen(t), NULL, NULL, EX_ACTION_FAILED, false};
    classify_reply(&b, &c);
    assert_int_equal(c.reason, EX_BLOCKED);
    assert_false(c.hard);
    /* nothing at all */
    classify_in_t z = {0, NULL, NULL, 0, NULL, NULL, EX_ACTION_UNKNOWN, false};
    classify_reply(&z, &c);
    assert_int_equal(c.reason, EX_UNDEFINED);
    assert_int_equal(c.layer, CLASSIFY_LAYER_NONE);
    assert_false(c.hard);
    /* text without NUL, cut at the length */
    const char buf[] = {'U', 's', 'e', 'r', ' ', 'u', 'n', 'k', 'n', 'o', 'w', 'n'};
    classify_in_t n = {550, "", buf, 4, NULL, NULL, EX_ACTION_UNKNOWN, false};
    classify_reply(&n, &c);
    assert_int_not_equal(c.reason, EX_USERUNKNOWN);
}

/* ---- the command and the DSN action refine the text ---- */

typedef struct refine {
    int code;
    const char *status;
    const char *command;
    ex_action_t action;
    const char *text;
    const char *reason;
} refine_t;

static const refine_t refines[] = {
    /* a user-unknown wording after DATA: a filter refused the recipient */
    {550, "5.0.0", "DATA", EX_ACTION_FAILED, "Unknown user kijitora@example.net", "filtered"},
    {550, "5.0.0", "BDAT", EX_ACTION_FAILED, "Unknown user kijitora@example.net", "filtered"},
    {550, "5.0.0", "RCPT", EX_ACTION_FAILED, "Unknown user kijitora@example.net", "userunknown"},
    {550, "5.1.1", "DATA", EX_ACTION_FAILED, "User unknown", "userunknown"},
    /* an empty address slot: written with no recipient in hand */
    {550, "5.2.0", NULL, EX_ACTION_FAILED, ": User unknown", "filtered"},
    {550, "5.2.0", NULL, EX_ACTION_FAILED, "<a@example.org>: User unknown", "userunknown"},
    /* in reply to MAIL FROM the address is the sender's */
    {553, "5.1.0", "MAIL", EX_ACTION_FAILED, "neko.example.com does not exist", "rejected"},
    {550, "5.7.0", "MAIL", EX_ACTION_FAILED, "Access denied", "rejected"},
    {550, "5.7.0", "MAIL", EX_ACTION_FAILED, "Please use the smtp server of your ISP.", "blocked"},
    /* at the greeting nothing is known of a mailbox */
    {554, "", "CONN", EX_ACTION_FAILED, "You've reached your daily relay quota", "blocked"},
    {550, "5.0.0", "EHLO", EX_ACTION_FAILED, "Rejected", "blocked"},
    /* HELO and EHLO alike (a Postfix smtpd log line says HELO for both) */
    {550, "5.7.1", "HELO", EX_ACTION_FAILED, "<bad>: sender address rejected", "blocked"},
    {550, "5.7.1", "EHLO", EX_ACTION_FAILED, "<bad>: sender address rejected", "blocked"},
    {550, "5.7.1", "MAIL", EX_ACTION_FAILED, "<bad>: sender address rejected", "rejected"},
    /* a refusal at the greeting that names no cause refuses the client */
    {554, "", "CONN", EX_ACTION_FAILED, "xyzzy", "blocked"},
    {554, "", NULL, EX_ACTION_FAILED, "xyzzy", "undefined"},
    /* a host not found: permanent or temporary */
    {0, "5.4.4", NULL, EX_ACTION_FAILED,
     "Host or domain name not found. Name service error for name=example.jp type=A",
     "hostunknown"},
    {0, "4.0.0", NULL, EX_ACTION_FAILED,
     "DNS type 'mx' lookup of example.jp responded with code NXDOMAIN Domain name not found",
     "networkerror"},
    /* a delayed action with nothing else is on its way to expiring */
    {421, "", NULL, EX_ACTION_DELAYED, "Host not reachable.", "expired"},
    {0, "", NULL, EX_ACTION_FAILED, "Message will be retried for 2 more day(s)", "expired"},
    /* the per-recipient size limit */
    {552, "5.2.3", NULL, EX_ACTION_FAILED, "Message length exceeds limit set by recipient",
     "exceedlimit"},
    {552, "5.3.4", NULL, EX_ACTION_FAILED, "Message size exceeds fixed maximum message size",
     "mesgtoobig"},
    /* a bare "rejected" leaves the cause to the enhanced code */
    {550, "5.1.2", "RCPT", EX_ACTION_FAILED,
     "Recipient address rejected: Bad destination system address", "hostunknown"},
    {550, "5.1.0", NULL, EX_ACTION_FAILED, "#5.1.0 Address rejected.", "userunknown"},
    {550, "5.0.0", "RCPT", EX_ACTION_FAILED, "Recipient address rejected.", "userunknown"},
    /* X.4.1 (no answer from host) beside the host's own reply to RCPT: the words decide */
    {541, "5.4.1", "RCPT", EX_ACTION_FAILED, "Mail rejected by destination domain", "rejected"},
    {0, "4.4.1", NULL, EX_ACTION_DELAYED, "connection timed out", "expired"},
    /* a transcript quoting "ORCPT=rfc822;" is no RFC 822 complaint */
    {451, "4.3.0", "DATA", EX_ACTION_FAILED,
     "In: RCPT TO:<a@example.net> ORCPT=rfc822;a@example.net Out: 250 2.1.5 Ok In: DATA "
     "Out: 354 End data Out: Error: queue file write error",
     "systemerror"},
    {451, "4.0.0", "RCPT", EX_ACTION_FAILED,
     "Could not load DRD for domain (example.com) rcpt (a@example.com)", "systemerror"},
    /* a list that takes posts from members only */
    {0, "", NULL, EX_ACTION_FAILED, "You are not a member of this mailing list <a@example.org>.",
     "rejected"},
    /* Postfix's own deferral wording is not an account suspension */
    {421, "4.0.0", NULL, EX_ACTION_FAILED,
     "delivery temporarily suspended: host mx.example.net[192.0.2.1] refused to talk to me",
     "blocked"},
    /* an address that is gone, or refused as a recipient */
    {550, "", "RCPT", EX_ACTION_FAILED, "This email address is wrong or no longer valid",
     "userunknown"},
    {553, "", "RCPT", EX_ACTION_FAILED, "sorry, your envelope recipient has been denied (#5.7.1)",
     "userunknown"},
    {550, "", "RCPT", EX_ACTION_FAILED, "Unknown E Mail Address", "userunknown"},
    /* the client cut off for its session, not this recipient */
    {452, "", "RCPT", EX_ACTION_FAILED, "Too many invalid recipients", "blocked"},
    /* bounces refused: the null sender is the one refused */
    {550, "", "RCPT", EX_ACTION_FAILED, "Returned mail not accepted here", "rejected"},
    {550, "", "RCPT", EX_ACTION_FAILED,
     "Backscatter protection detected an invalid or expired email address", "rejected"},
    /* what the receiving side's rules refuse about the message or the session */
    {554, "", "CONN", EX_ACTION_FAILED, "ESMTP no data before greeting", "policyviolation"},
    {550, "", "DATA", EX_ACTION_FAILED,
     "The recipient is not accepting mail with attachments or embedded images",
     "policyviolation"},
    /* the server's own trouble */
    {421, "", NULL, EX_ACTION_FAILED, "ESMTP server temporarily not available", "systemerror"},
    {451, "4.4.25", NULL, EX_ACTION_FAILED,
     "Message failed to be replicated: no healthy secondary server available", "systemerror"},
    {421, "4.4.2", NULL, EX_ACTION_FAILED, "Timeout waiting for input", "systemerror"},
    {451, "4.4.3", NULL, EX_ACTION_FAILED, "Directory server failure", "systemerror"},
    /* encryption for the AUTH mechanism; TLS wording beside it still names TLS */
    {538, "5.7.11", "AUTH", EX_ACTION_FAILED, "Authentication mechanism not permitted",
     "securityerror"},
    {530, "5.7.10", "MAIL", EX_ACTION_FAILED, "Must issue a STARTTLS command first",
     "failedstarttls"},
    /* a reply naming both spam and a virus reads as the one it names first */
    {554, "", "DATA", EX_ACTION_FAILED, "Message was rejected for possible spam/virus content",
     "spamdetected"},
    {554, "", "DATA", EX_ACTION_FAILED, "Message contains prohibited virus or spam content",
     "virusdetected"},
};

/* a "user unknown" a bounce quotes without the command it answered (in_bounce) */
static const refine_t quoted[] = {
    {550, "5.0.0", NULL, EX_ACTION_FAILED, "kijitora@example.com... No such user", "filtered"},
    {550, "5.2.1", NULL, EX_ACTION_FAILED, "<a@example.org>... User Unknown", "filtered"},
    {550, "", NULL, EX_ACTION_FAILED, "Unknown user kijitora@example.co.jp", "filtered"},
    /* the recipient named in front answers RCPT; X.1.1 says the address is bad */
    {550, "5.0.0", NULL, EX_ACTION_FAILED, "<a@example.org>: User unknown", "userunknown"},
    {550, "", NULL, EX_ACTION_FAILED, "550: <a@example.org>: User unknown", "userunknown"},
    {550, "5.1.1", NULL, EX_ACTION_FAILED, "User unknown", "userunknown"},
    {550, "5.0.0", "RCPT", EX_ACTION_FAILED, "No such user", "userunknown"},
    /* the final host's delivery agent checked the mailbox itself */
    {554, "5.5.0", NULL, EX_ACTION_FAILED, "mail.local: unknown user: kijitora", "userunknown"},
};

/* the same replies seen by the client itself (a bare reply or a log line) */
static const refine_t seen[] = {
    {550, "5.0.0", NULL, EX_ACTION_UNKNOWN, "kijitora@example.com... No such user",
     "userunknown"},
    {550, "", NULL, EX_ACTION_UNKNOWN, "Unknown user kijitora@example.co.jp", "userunknown"},
};

static int refine_all(const refine_t *t, size_t n, bool in_bounce)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const refine_t *k = &t[i];
        classify_in_t in = {
            .code = k->code,
            .enhanced = k->status,
            .text = k->text,
            .text_len = strlen(k->text),
            .command = k->command,
            .action = k->action,
            .in_bounce = in_bounce,
        };
        classify_t c;
        classify_reply(&in, &c);
        if (strcmp(ex_reason_name(c.reason), k->reason) != 0) {
            fprintf(stderr, "  refine %zu%s: want %s got %s: %s %s [%s] %s\n", i,
                    in_bounce ? " (in a bounce)" : "", k->reason, ex_reason_name(c.reason),
                    k->command ? k->command : "-", k->status, ex_action_name(k->action),
                    k->text);
            bad++;
        }
    }
    return bad;
}

static void test_command_and_action(void **state)
{
    (void)state;
    int bad = refine_all(refines, sizeof refines / sizeof *refines, false);
    bad += refine_all(quoted, sizeof quoted / sizeof *quoted, true);
    bad += refine_all(seen, sizeof seen / sizeof *seen, false);
    assert_int_equal(bad, 0);
}

static void test_provider_hosts(void **state)
{
    (void)state;
    static const char *const h[][2] = {
        {"gmail-smtp-in.l.google.com", "google"},
        {"alt1.aspmx.l.google.com.", "google"},
        {"example-com.mail.protection.outlook.com", "microsoft"},
        {"hotmail-com.olc.protection.outlook.com", "microsoft"},
        {"mta7.am0.yahoodns.net", "yahoo"},
        {"mx02.mail.icloud.com", "apple"},
        {"mx0b-00123.pphosted.com", "proofpoint"},
        {"us-smtp-inbound-2.mimecast.com", "mimecast"},
        {"d1234.o.ess.barracudanetworks.com", "barracuda"},
        {"notgoogle.com", NULL},
        {"mx.example.com", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof h / sizeof *h; i++) {
        const char *p = classify_provider_of_host(h[i][0], strlen(h[i][0]));
        if (h[i][1] == NULL)
            assert_null(p);
        else
            assert_string_equal(p, h[i][1]);
    }
}

/* ---- layer 1: the gate's replies come back to their finding ---- */

static void test_mailblock_round_trip(void **state)
{
    (void)state;
    config_t *cf = config_new_defaults();
    free(cf->explain_url);
    cf->explain_url = xstrdup("https://mx.example.com/why/");
    static const char *const shown[] = {"192.0.2.1", "", "dyn-192-0-2-1.pool.example.net",
                                        "(helo.syntax) spoof", NULL};
    for (int f = 0; f < F_COUNT; f++) {
        const catalog_entry_t *e = catalog_get((finding_id_t)f);
        for (size_t s = 0; s < sizeof shown / sizeof *shown; s++) {
            for (int temp = 0; temp <= 1; temp++) {
                str_t t = STR_INIT;
                policy_reply_text(cf, (finding_id_t)f, shown[s], temp, &t);
                classify_in_t in = {temp ? CATALOG_TEMP_CODE : e->code,
                                    temp ? CATALOG_TEMP_ENHANCED : e->enhanced,
                                    t.data,
                                    t.len,
                                    "mx.example.com",
                                    NULL,
                                    EX_ACTION_UNKNOWN, false};
                classify_t c;
                classify_reply(&in, &c);
                if (c.finding == NULL || strcmp(c.finding, e->id) != 0 ||
                    c.layer != CLASSIFY_LAYER_MAILBLOCK)
                    fail_msg("%s: got %s from \"%s\"", e->id, c.finding ? c.finding : "(null)",
                             t.data);
                assert_false(temp && c.hard);
                if (temp)
                    assert_int_equal(c.reason, EX_NETWORKERROR);
                else
                    assert_int_not_equal(c.reason, EX_NETWORKERROR);
                str_free(&t);
            }
        }
    }
    /* ids being added elsewhere, and unknown ids that must not count */
    const char *spf = "SPF check failed for example.com (spf.mailfrom) https://x/why/spf.mailfrom";
    classify_in_t in = {550, "5.7.23", spf, strlen(spf), NULL, NULL, EX_ACTION_UNKNOWN, false};
    classify_t c;
    classify_reply(&in, &c);
    assert_string_equal(c.finding, "spf.mailfrom");
    assert_int_equal(c.reason, EX_AUTHFAILURE);
    assert_int_equal(c.layer, CLASSIFY_LAYER_MAILBLOCK);
    const char *unk = "User unknown (client.bogus) (mx.example)";
    classify_in_t u = {550, "5.1.1", unk, strlen(unk), NULL, NULL, EX_ACTION_UNKNOWN, false};
    classify_reply(&u, &c);
    assert_int_not_equal(c.layer, CLASSIFY_LAYER_MAILBLOCK);
    assert_int_equal(c.reason, EX_USERUNKNOWN);
    config_free(cf);
}

/* ---- the suite tables ---- */

static char suite_dir[1024];
static bool have_suite;

#define MAX_FIELDS 16

static void lower_in_place(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

static const char *provider_mta(const char *p)
{
    static const char *const m[][2] = {
        {"google", "gmail-smtp-in.l.google.com"},
        {"gsuite", "aspmx.l.google.com"},
        {"microsoft", "example-com.mail.protection.outlook.com"},
        {"outlook", "hotmail-com.olc.protection.outlook.com"},
        {"yahooinc", "mta5.am0.yahoodns.net"},
        {"aol", "mx-aol.mail.gm0.yahoodns.net"},
        {"apple", "mx01.mail.icloud.com"},
        {"godaddy", "mx1.secureserver.net"},
        {"franceptt", "smtp-in.orange.fr"},
        {"cox", "mx.east.cox.net"},
        {"tencent", "mx3.qq.com"},
        {"mimecast", "eu-smtp-inbound-1.mimecast.com"},
        {"messagelabs", "cluster1.eu.messagelabs.com"},
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (strcmp(m[i][0], p) == 0) return m[i][1];
    return NULL;
}

typedef struct tally {
    unsigned total, agree;
} tally_t;

/* The summary line, always printed, and the threshold it must reach. */
static void report(const char *what, tally_t t, double min)
{
    double pct = t.total ? 100.0 * t.agree / t.total : 0.0;
    fprintf(stderr, "%s: %u of %u agree (%.1f%%), threshold %.0f%%\n", what, t.agree, t.total, pct,
            min);
    assert_true(t.total > 0);
    assert_true(pct >= min);
}

static bool verbose(void)
{
    return getenv("MB_EXPLAIN_VERBOSE") != NULL;
}

/*
 * Classifies in and counts it in t as agreeing when the reason is want. A disagreement
 * (fmt describes the row) is printed only with MB_EXPLAIN_VERBOSE.
 */
static void judge(tally_t *t, const classify_in_t *in, const char *want, const char *fmt, ...)
{
    classify_t c;
    classify_reply(in, &c);
    t->total++;
    if (strcmp(ex_reason_name(c.reason), want) == 0) {
        t->agree++;
        return;
    }
    if (!verbose()) return;
    fprintf(stderr, "  disagree: want %s got %s (%s): ", want, ex_reason_name(c.reason),
            classify_layer_name(c.layer));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

typedef void (*row_fn)(char **f, size_t n, void *ctx);

/*
 * Calls row for every row of the suite table name with at least min_fields fields ('#'
 * lines are comments); skips the test, saying so, when the suite is absent.
 */
/* Skips the running test, saying so, when the suite is absent (call it before allocating:
 * skip() does not return). */
static void require_suite(void)
{
    if (!have_suite) {
        fprintf(stderr, "skipped: the smtp-replies suite is absent (looked in %s)\n", suite_dir);
        skip();
    }
}

static void suite_rows(const char *name, size_t min_fields, row_fn row, void *ctx)
{
    require_suite();
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", suite_dir, name);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) fail_msg("cannot open %s", path);
    static char line[65536];
    while (fgets(line, sizeof line, fp) != NULL) {
        if (line[0] == '#') continue;
        char *f[MAX_FIELDS];
        size_t n = split_tabs(line, f, MAX_FIELDS);
        if (n >= min_fields) row(f, n, ctx);
    }
    fclose(fp);
}

/*
 * provider-replies.tsv, read once for two tallies:
 *  - quoted replies: the whole replies quoted in a row's documentation (field 9) that
 *    contain the row's match key, each (provider, reply) pair counted once;
 *  - row fragments: each row's match text (a fragment of the provider's reply) with the
 *    row's reply and enhanced codes (a Microsoft range gives its lowest code), the
 *    provider's server as remote MTA. Fragments carry less than whole replies, hence the
 *    lower threshold.
 */
typedef struct provider_pass {
    tally_t quoted, rows;
    char **seen; /* (provider, reply) pairs already counted */
    size_t nseen;
    arena_t *a;
} provider_pass_t;

static void provider_quoted(char **f, provider_pass_t *p)
{
    const char *prov = f[0], *want = f[1];
    char key[512];
    snprintf(key, sizeof key, "%s", f[6][0] ? f[6] : f[7]);
    lower_in_place(key);
    if (key[0] == '\0' || want[0] == '\0' || ex_reason_parse(want, strlen(want)) < 0) return;
    /* documented: items "- 550 5.7.26 ..." separated by " \n " */
    char *doc = f[9];
    while (doc != NULL && *doc != '\0') {
        char *sep = strstr(doc, " \\n ");
        if (sep != NULL) *sep = '\0';
        char *item = doc;
        doc = sep != NULL ? sep + 4 : NULL;
        while (*item == ' ')
            item++;
        /* a quoted reply: "- " and a reply code or an enhanced code ("- 5.7.606-649 ..."
         * names a range of codes, not a reply) */
        if (item[0] != '-' || item[1] != ' ' || item[2] < '2' || item[2] > '5') continue;
        bool is_code = item[3] >= '0' && item[3] <= '9' && item[4] >= '0' && item[4] <= '9' &&
                       (item[5] == ' ' || item[5] == '-');
        bool is_enh = item[3] == '.' && strchr(item + 4, ' ') != NULL &&
                      strcspn(item + 2, " ") == strspn(item + 2, "0123456789.");
        if (!is_code && !is_enh) continue;
        item += 2;
        char low[4096];
        snprintf(low, sizeof low, "%s", item);
        lower_in_place(low);
        if (strstr(low, key) == NULL) continue;
        char pk[4200];
        snprintf(pk, sizeof pk, "%s|%s", prov, item);
        bool dup = false;
        for (size_t i = 0; i < p->nseen && !dup; i++)
            dup = strcmp(p->seen[i], pk) == 0;
        if (dup) continue;
        p->seen = xrealloc(p->seen, xmul(p->nseen + 1, sizeof *p->seen));
        p->seen[p->nseen++] = xstrdup(pk);
        reply_t r;
        if (reply_parse(item, strlen(item), p->a, &r) != 0) {
            p->quoted.total++;
            if (verbose()) fprintf(stderr, "  unparsed: %s\n", item);
            continue;
        }
        classify_in_t in = {r.code,    r.enhanced, r.text, r.text_len, provider_mta(prov),
                            r.command, r.action,   false};
        judge(&p->quoted, &in, want, "%s: %.160s", prov, item);
    }
}

static void provider_fragment(char **f, provider_pass_t *p)
{
    const char *prov = f[0], *want = f[1], *text = f[7];
    if (text[0] == '\0' || ex_reason_parse(want, strlen(want)) < 0) return;
    char enh[32] = "";
    size_t sl = strlen(f[3]);
    if (sl > 0 && sl < 12) snprintf(enh, sizeof enh, "%s%s", f[3], f[3][sl - 1] == '.' ? f[4] : "");
    const char *mta = provider_mta(prov);
    classify_in_t in = {
        atoi(f[2]),       enh, text, strlen(text), mta != NULL ? mta : "mx.example.net", NULL,
        EX_ACTION_UNKNOWN, false};
    judge(&p->rows, &in, want, "%s [%s] \"%s\"", prov, enh, text);
}

static void provider_row(char **f, size_t n, void *ctx)
{
    provider_pass_t *p = ctx;
    /* provider_quoted cuts the documentation (field 9) up in place; the fragment does not use it */
    provider_fragment(f, p);
    if (n >= 10) provider_quoted(f, p);
}

/* Both tallies of provider-replies.tsv, computed on first use. */
static const provider_pass_t *provider_pass(void)
{
    static provider_pass_t p;
    static bool done;
    if (!done) {
        require_suite();
        p.a = arena_new();
        suite_rows("provider-replies.tsv", 8, provider_row, &p);
        for (size_t i = 0; i < p.nseen; i++)
            free(p.seen[i]);
        free(p.seen);
        p.seen = NULL;
        arena_free(p.a);
        p.a = NULL;
        done = true;
    }
    return &p;
}

static void test_suite_provider_replies(void **state)
{
    (void)state;
    report("provider-replies.tsv quoted replies", provider_pass()->quoted, PROVIDER_THRESHOLD);
}

static void test_suite_provider_rows(void **state)
{
    (void)state;
    report("provider-replies.tsv row fragments", provider_pass()->rows, ROWS_THRESHOLD);
}

static void phrase_row(char **f, size_t n, void *ctx)
{
    (void)n;
    const char *want = f[0], *kind = f[1];
    if (strcmp(kind, "negative-substring") == 0 || ex_reason_parse(want, strlen(want)) < 0)
        return;
    /* ordered substrings: the parts in order, joined by a space */
    char text[4096];
    size_t len = 0;
    for (const char *p = f[2]; *p && len + 1 < sizeof text;) {
        if (strncmp(p, " ||| ", 5) == 0) {
            text[len++] = ' ';
            p += 5;
        } else {
            text[len++] = *p++;
        }
    }
    text[len] = '\0';
    classify_in_t in = {0, NULL, text, len, NULL, NULL, EX_ACTION_UNKNOWN, false};
    judge(ctx, &in, want, "\"%s\"", text);
}

static void test_suite_phrases(void **state)
{
    (void)state;
    tally_t t = {0, 0};
    suite_rows("reason-phrases.tsv", 3, phrase_row, &t);
    report("reason-phrases.tsv phrases", t, PHRASE_THRESHOLD);
}

static void status_row(char **f, size_t n, void *ctx)
{
    (void)n;
    if (strcmp(f[2], "active") != 0) return;
    const char *code = f[0], *want = f[1];
    const char *generic = "Requested action not taken";
    int rc = code[0] == '2' ? 250 : code[0] == '4' ? 450 : 550;
    classify_in_t in = {rc, code, generic, strlen(generic), NULL, NULL, EX_ACTION_UNKNOWN, false};
    judge(ctx, &in, want, "%s", code);
}

static void test_suite_status(void **state)
{
    (void)state;
    tally_t t = {0, 0};
    suite_rows("status-to-reason.tsv", 3, status_row, &t);
    report("status-to-reason.tsv codes", t, STATUS_THRESHOLD);
}

int main(void)
{
    const char *src = getenv("MB_SOURCE_DIR");
    snprintf(suite_dir, sizeof suite_dir, "%s/../shared/testsuites/smtp-replies-sisimai",
             src != NULL ? src : ".");
    char probe[1200];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/provider-replies.tsv", suite_dir);
    have_suite = stat(probe, &st) == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_provider_replies),
        cmocka_unit_test(test_hard_soft),
        cmocka_unit_test(test_command_and_action),
        cmocka_unit_test(test_provider_hosts),
        cmocka_unit_test(test_mailblock_round_trip),
        cmocka_unit_test(test_suite_provider_replies),
        cmocka_unit_test(test_suite_provider_rows),
        cmocka_unit_test(test_suite_phrases),
        cmocka_unit_test(test_suite_status),
    };
    return cmocka_run_group_tests_name("explain_classify", tests, NULL, NULL);
}
