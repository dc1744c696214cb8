/*
 * test_explain_bounce: src/explain/bounce and src/explain/mailbox.
 *
 * 1. Table-driven cases over small bounces written for this test (documentation domains and
 *    addresses: example.org, 192.0.2.0/24...): an RFC 3464 DSN, the free-form layouts of
 *    Postfix, Exim, Sendmail, qmail, Exchange, Gmail, an ARF report, an auto-reply, a
 *    message that is not a bounce, and MIME cases (encoded words, quoted-printable, base64,
 *    a legacy charset, a NUL byte inside a part).
 * 2. mbox splitting and maildir listing.
 * 3. A corpus test over sisimai's "set-of-emails" bounce collection, found as
 *    $MB_SOURCE_DIR/../shared/testsuites/bounces-sisimai (never copied here): every message
 *    must parse, and the recipient count, status code, reply code and ARF feedback type
 *    are compared with the expected.tsv rows; each disagreement is printed and the
 *    agreement rates must stay above the thresholds below. Skipped, saying so, when the
 *    collection is absent.
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
#include <unistd.h>

#include "explain/bounce.h"
#include "explain/mailbox.h"
#include "util/mem.h"
#include "util/str.h"
#include "fake_dns.h"
#include "sisimai.h"

/* ------------------------------------------------------------------ table of bounces */

typedef struct exp_rcpt {
    const char *recipient;
    const char *action; /* bounce_action_name() */
    const char *status;
    int code;
    const char *diag_has; /* substring of the diagnostic, or NULL */
    const char *command;  /* or NULL: not checked */
    const char *remote;   /* or NULL: not checked */
} exp_rcpt_t;

typedef struct bcase {
    const char *name;
    const char *msg;
    bounce_kind_t kind;
    const char *format;
    size_t nrcpts;
    exp_rcpt_t r[3];
    /* evidence; NULL: not checked */
    const char *ip, *helo, *sender_domain, *dkim_d, *dkim_s, *msgid, *feedback, *subject;
} bcase_t;

/* 1200 bytes of words, to carry a text past the old 1 KiB diagnostic cap */
#define LONG_WORDS_40 "the message was not posted to the group because it was refused "
#define LONG_WORDS LONG_WORDS_40 LONG_WORDS_40 LONG_WORDS_40 LONG_WORDS_40 LONG_WORDS_40 LONG_WORDS_40

static const bcase_t cases[] = {
    {"rfc3464 dsn",
     "Return-Path: <>\n"
     "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
     "To: alice@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\n"
     "\n"
     "--B1\n"
     "Content-Type: text/plain; charset=us-ascii\n"
     "\n"
     "I'm sorry to have to inform you that your message could not be delivered.\n"
     "\n"
     "--B1\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "X-Postfix-Sender: rfc822; alice@example.org\n"
     "Arrival-Date: Mon, 2 Mar 2026 10:00:00 +0000\n"
     "\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Original-Recipient: rfc822;Bob@example.com\n"
     "Action: failed\n"
     "Status: 5.1.1\n"
     "Remote-MTA: dns; mx1.example.com\n"
     "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address\n"
     "    rejected: User unknown in virtual mailbox table\n"
     "\n"
     "Final-Recipient: rfc822; carol@example.com\n"
     "Action: delayed\n"
     "Status: 4.4.1\n"
     "Diagnostic-Code: X-Postfix; connect to mx1.example.com[192.0.2.7]:25: Connection timed out\n"
     "\n"
     "--B1\n"
     "Content-Type: text/rfc822-headers\n"
     "\n"
     "Return-Path: <alice@example.org>\n"
     "Received: from out.example.org (out.example.org [198.51.100.25])\n"
     "\tby mx.example.net (Postfix) with ESMTPS id 4ABC\n"
     "\tfor <bob@example.com>; Mon, 2 Mar 2026 10:00:00 +0000\n"
     "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel2026;\n"
     "\th=from:to; bh=abc=; b=def=\n"
     "From: Alice <alice@example.org>\n"
     "To: bob@example.com\n"
     "Subject: hello\n"
     "Message-ID: <m1@example.org>\n"
     "\n"
     "--B1--\n",
     BOUNCE_KIND_DSN, "postfix", 2,
     {{"bob@example.com", "failed", "5.1.1", 550, "User unknown in virtual mailbox table", NULL,
       "mx1.example.com"},
      {"carol@example.com", "delayed", "4.4.1", 0, "Connection timed out", NULL, NULL}},
     "198.51.100.25", "out.example.org", "example.org", "example.org", "sel2026", "m1@example.org",
     NULL, "Undelivered Mail Returned to Sender"},

    {"postfix free-form",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "\n"
     "This is the mail system at host mx.example.net.\n"
     "\n"
     "I'm sorry to have to inform you that your message could not\n"
     "be delivered to one or more recipients.\n"
     "\n"
     "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 550 5.7.1 Service\n"
     "    unavailable; Client host [198.51.100.25] blocked using zen.example.net (in reply\n"
     "    to RCPT TO command)\n"
     "\n"
     "<dave@example.com>: host mx1.example.com[192.0.2.7] said: 552 5.2.2 Mailbox\n"
     "    full (in reply to end of DATA command)\n",
     BOUNCE_KIND_FREEFORM, "postfix", 2,
     {{"bob@example.com", "failed", "5.7.1", 550, "blocked using zen.example.net", "RCPT",
       "mx1.example.com"},
      {"dave@example.com", "failed", "5.2.2", 552, "Mailbox full", "DATA", NULL}},
     "198.51.100.25", NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    /* an RFC 5321 IPv6 address literal names the client: the address, without its tag */
    {"postfix free-form, IPv6 literal",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "\n"
     "This is the mail system at host mx.example.net.\n"
     "\n"
     "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 554 5.7.1 Service\n"
     "    unavailable; Client host [IPv6:2001:db8::25] blocked using zen.example.net (in\n"
     "    reply to RCPT TO command)\n",
     BOUNCE_KIND_FREEFORM, "postfix", 1,
     {{"bob@example.com", "failed", "5.7.1", 554, "blocked using zen.example.net", "RCPT",
       "mx1.example.com"}},
     "2001:db8::25", NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"exim",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: alice@example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "X-Failed-Recipients: bob@example.com\n"
     "Auto-Submitted: auto-replied\n"
     "\n"
     "This message was created automatically by mail delivery software.\n"
     "\n"
     "A message that you sent could not be delivered to one or more of its\n"
     "recipients. This is a permanent error. The following address(es) failed:\n"
     "\n"
     "  bob@example.com\n"
     "    host mx1.example.com [192.0.2.7]\n"
     "    SMTP error from remote mail server after RCPT TO:<bob@example.com>:\n"
     "    550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown\n"
     "\n"
     "------ This is a copy of the message, including all the headers. ------\n"
     "\n"
     "Return-path: <alice@example.org>\n"
     "Received: from [198.51.100.9] (helo=client.example.org)\n"
     "\tby mx.example.net with esmtpa (Exim 4.96)\n"
     "\tid 1abc; Mon, 02 Mar 2026 10:00:00 +0000\n"
     "From: alice@example.org\n"
     "To: bob@example.com\n"
     "Subject: hi\n"
     "\n"
     "body\n",
     BOUNCE_KIND_FREEFORM, "exim", 1,
     {{"bob@example.com", "failed", "5.1.1", 550, "Recipient address rejected", "RCPT",
       "mx1.example.com"}},
     "198.51.100.9", NULL, "example.org", NULL, NULL, NULL, NULL, NULL},

    {"sendmail",
     "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
     "To: <alice@example.org>\n"
     "Subject: Returned mail: see transcript for details\n"
     "\n"
     "The original message was received at Mon, 2 Mar 2026 10:00:00 +0000\n"
     "from out.example.org [198.51.100.25]\n"
     "\n"
     "   ----- The following addresses had permanent fatal errors -----\n"
     "<bob@example.com>\n"
     "    (reason: 550 5.1.1 <bob@example.com>... User unknown)\n"
     "\n"
     "   ----- Transcript of session follows -----\n"
     "... while talking to mx1.example.com.:\n"
     ">>> DATA\n"
     "<<< 550 5.1.1 <bob@example.com>... User unknown\n"
     "550 5.1.1 <bob@example.com>... User unknown\n",
     BOUNCE_KIND_FREEFORM, "sendmail", 1,
     {{"bob@example.com", "failed", "5.1.1", 550, "User unknown", "DATA", NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"qmail",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: failure notice\n"
     "\n"
     "Hi. This is the qmail-send program at mx.example.net.\n"
     "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
     "This is a permanent error; I've given up. Sorry it didn't work out.\n"
     "\n"
     "<bob@example.com>:\n"
     "192.0.2.7 does not like recipient.\n"
     "Remote host said: 550 5.1.1 No such user\n"
     "Giving up on 192.0.2.7.\n"
     "\n"
     "--- Below this line is a copy of the message.\n"
     "\n"
     "Return-Path: <alice@example.org>\n"
     "Received: (qmail 1234 invoked from network); 2 Mar 2026 10:00:00 -0000\n"
     "Received: from unknown (HELO client.example.org) (198.51.100.30)\n"
     "  by mx.example.net with SMTP; 2 Mar 2026 10:00:00 -0000\n"
     "From: alice@example.org\n"
     "To: bob@example.com\n"
     "\n"
     "x\n",
     BOUNCE_KIND_FREEFORM, "qmail", 1,
     {{"bob@example.com", "failed", "5.1.1", 550, "No such user", NULL, NULL}},
     "198.51.100.30", "client.example.org", "example.org", NULL, NULL, NULL, NULL, NULL},

    {"exchange / office 365",
     "From: Microsoft Outlook <postmaster@example.net>\n"
     "To: alice@example.org\n"
     "Subject: Undeliverable: hello\n"
     "Content-Type: text/plain; charset=utf-8\n"
     "\n"
     "Delivery has failed to these recipients or groups:\n"
     "\n"
     "bob@example.com\n"
     "The email address you entered couldn't be found.\n"
     "\n"
     "Diagnostic information for administrators:\n"
     "\n"
     "Generating server: gw.example.net\n"
     "\n"
     "bob@example.com\n"
     "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\n"
     "\n"
     "Original message headers:\n"
     "\n"
     "Received: from out.example.org (198.51.100.40) by gw.example.net\n"
     " with Microsoft SMTP Server; Mon, 2 Mar 2026 10:00:00 +0000\n"
     "From: alice@example.org\n"
     "Message-ID: <xyz@example.org>\n",
     BOUNCE_KIND_FREEFORM, "office365", 1,
     {{"bob@example.com", "failed", "5.1.10", 550, "RecipientNotFound", NULL, NULL}},
     "198.51.100.40", "out.example.org", NULL, NULL, NULL, "xyz@example.org", NULL, NULL},

    {"gmail",
     "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
     "To: alice@example.org\n"
     "Subject: Delivery Status Notification (Failure)\n"
     "\n"
     "Delivery to the following recipient failed permanently:\n"
     "\n"
     "     bob@example.com\n"
     "\n"
     "Technical details of permanent failure:\n"
     "Google tried to deliver your message, but it was rejected by the server for the recipient domain example.com by mx1.example.com. [192.0.2.7].\n"
     "\n"
     "The error that the other server returned was:\n"
     "550 5.7.26 Unauthenticated email is not accepted\n",
     BOUNCE_KIND_FREEFORM, "gmail", 1,
     {{"bob@example.com", "failed", "5.7.26", 550, "Unauthenticated email", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"arf",
     "From: feedback@example.net\n"
     "To: abuse@example.org\n"
     "Subject: FW: Earn money\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=feedback-report; boundary=\"P\"\n"
     "\n"
     "--P\n"
     "Content-Type: text/plain\n"
     "\n"
     "This is an email abuse report.\n"
     "--P\n"
     "Content-Type: message/feedback-report\n"
     "\n"
     "Feedback-Type: abuse\n"
     "User-Agent: SomeGenerator/1.0\n"
     "Version: 1\n"
     "Original-Mail-From: <spammer@example.org>\n"
     "Original-Rcpt-To: <victim@example.net>\n"
     "Source-IP: 192.0.2.99\n"
     "Reported-Domain: example.org\n"
     "\n"
     "--P\n"
     "Content-Type: message/rfc822\n"
     "\n"
     "From: <spammer@example.org>\n"
     "To: <victim@example.net>\n"
     "Subject: Earn money\n"
     "Message-ID: <spam1@example.org>\n"
     "\n"
     "Spam\n"
     "--P--\n",
     BOUNCE_KIND_ARF, "arf", 1, {{"victim@example.net", "", "", 0, NULL, NULL, NULL}},
     "192.0.2.99", NULL, "example.org", NULL, NULL, "spam1@example.org", "abuse", NULL},

    {"auto-reply",
     "From: Bob <bob@example.com>\n"
     "To: alice@example.org\n"
     "Subject: Out of Office: hello\n"
     "Auto-Submitted: auto-replied\n"
     "\n"
     "I am away until Monday.\n",
     BOUNCE_KIND_AUTOREPLY, "rfc3834", 1, {{"bob@example.com", "", "", 0, "away until", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"not a bounce",
     "From: Bob <bob@example.com>\n"
     "To: alice@example.org\n"
     "Subject: lunch\n"
     "\n"
     "Shall we meet at noon? Write to carol@example.net as well.\n",
     BOUNCE_KIND_NONE, "", 0, {{0}}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "lunch"},

    {"a person's mail with bounce-like words and an address at a line start",
     "From: Dave <dave@example.com>\n"
     "To: alice@example.org\n"
     "Subject: Re: returned mail\n"
     "\n"
     "The proposal was rejected by the board, sorry.\n"
     "\n"
     "dave@example.com\n"
     "Dave, sales\n",
     BOUNCE_KIND_NONE, "", 0, {{0}}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"encoded words, quoted-printable, CRLF",
     "From: =?UTF-8?Q?Syst=C3=A8me_de_messagerie?= <MAILER-DAEMON@mx.example.net>\r\n"
     "To: alice@example.org\r\n"
     "Subject: =?UTF-8?B?w4ljaGVjIGRlIGxhIGRpc3RyaWJ1dGlvbg==?=\r\n"
     "MIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=utf-8\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n"
     "\r\n"
     "Votre message n'a pas pu =C3=AAtre distribu=C3=A9.\r\n"
     "\r\n"
     "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 550 5.1.1 Adresse =\r\n"
     "inconnue (in reply to RCPT TO command)\r\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "5.1.1", 550, "Adresse inconnue", "RCPT", NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, "\xc3\x89" "chec de la distribution"},

    {"base64 delivery-status, latin-1 text, NUL byte, CR-only line ends",
     "From: MAILER-DAEMON@mx.example.net\r"
     "To: alice@example.org\r"
     "Subject: Delivery failure\r"
     "MIME-Version: 1.0\r"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"Z\"\r"
     "\r"
     "--Z\r"
     "Content-Type: text/plain; charset=iso-8859-1\r"
     "Content-Transfer-Encoding: quoted-printable\r"
     "\r"
     "Zustellung fehlgeschlagen: Empf=E4nger unbekannt.\r"
     "--Z\r"
     "Content-Type: message/delivery-status\r"
     "Content-Transfer-Encoding: base64\r"
     "\r"
     /* "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; bob@example.com\n
      *  Action: failed\nStatus: 5.2.2\n" */
     "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldAoKRmluYWwtUmVjaXBpZW50OiByZmM4\r"
     "MjI7IGJvYkBleGFtcGxlLmNvbQpBY3Rpb246IGZhaWxlZApTdGF0dXM6IDUuMi4yCg==\r"
     "--Z--\r",
     BOUNCE_KIND_DSN, "rfc3464", 1,
     {{"bob@example.com", "failed", "5.2.2", 0, "Empf\xc3\xa4nger unbekannt", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"exim bounce marked auto-replied, recipients only in X-Failed-Recipients",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: alice@example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "Auto-Submitted: auto-replied\n"
     "X-Failed-Recipients: bob@example.com, carol@example.com\n"
     "\n"
     "This message was created automatically by mail delivery software.\n"
     "Retry time not reached for any host after a long failure period.\n",
     BOUNCE_KIND_FREEFORM, "exim", 2,
     {{"bob@example.com", "failed", "", 0, "Retry time not reached", NULL, NULL},
      {"carol@example.com", "failed", "", 0, NULL, NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"delivered report, fields before the recipient field, no blank line",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Successful Mail Delivery Report\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"D\"\n"
     "\n"
     "--D\n"
     "Content-Type: text/plain\n"
     "\n"
     "Your message was successfully delivered.\n"
     "--D\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "Action: delivered\n"
     "Status: 2.0.0\n"
     "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 4ABC\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Final-Recipient: rfc822; carol@example.com\n"
     "Action: relayed\n"
     "Status: 2.0.0\n"
     "--D--\n",
     BOUNCE_KIND_DSN, "rfc3464", 2,
     {{"bob@example.com", "delivered", "2.0.0", 250, "queued as 4ABC", NULL, NULL},
      {"carol@example.com", "relayed", "2.0.0", 0, NULL, NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"sendmail result lines: the remote's code after the address",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Returned mail: Host unknown\n"
     "\n"
     "   ----- Transcript of session follows -----\n"
     "554 <bob@example.com>... 550 Host unknown (Authoritative answer from name server)\n"
     "550 <carol@example.com>... User unknown\n",
     BOUNCE_KIND_FREEFORM, "sendmail", 2,
     {{"bob@example.com", "failed", "", 550, "Host unknown", NULL, NULL},
      {"carol@example.com", "failed", "", 550, "User unknown", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"amazon ses bounce notification in JSON, a long line broken by a relay",
     "From: no-reply@sns.amazonaws.com\n"
     "Subject: AWS Notification Message\n"
     "\n"
     "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":"
     "[{\"emailAddress\":\"bob@example.com\",\"action\":\"failed\",\"status\":\"5.1.1\",\"diag!\n"
     " nosticCode\":\"smtp; 550 5.1.1 user unknown\"}],\"reportingMTA\":\"dns; a1.example.net\"},"
     "\"mail\":{\"source\":\"alice@example.org\",\"sourceIp\":\"198.51.100.77\"}}\n"
     "\n"
     "--\n"
     "If you wish to stop receiving notifications from this topic, unsubscribe.\n",
     BOUNCE_KIND_DSN, "amazonses", 1,
     {{"bob@example.com", "failed", "5.1.1", 550, "user unknown", NULL, NULL}},
     "198.51.100.77", NULL, "example.org", NULL, NULL, NULL, NULL, NULL},

    {"a bounce forwarded as an attachment",
     "From: helpdesk@example.org\n"
     "To: alice@example.org\n"
     "Subject: Fwd: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/mixed; boundary=\"F\"\n"
     "\n"
     "--F\n"
     "Content-Type: text/plain\n"
     "\n"
     "Why did this bounce?\n"
     "--F\n"
     "Content-Type: message/rfc822\n"
     "\n"
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"I\"\n"
     "\n"
     "--I\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Action: failed\n"
     "Status: 5.7.1\n"
     "Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [198.51.100.25]\n"
     "    blocked using bl.example.net\n"
     "\n"
     "--I--\n"
     "--F--\n",
     BOUNCE_KIND_DSN, "rfc3464", 1,
     {{"bob@example.com", "failed", "5.7.1", 554, "blocked using bl.example.net", NULL, NULL}},
     "198.51.100.25", NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"a free-form bounce forwarded as a message/rfc822 attachment",
     "From: alice@example.org\n"
     "To: helpdesk@example.org\n"
     "Subject: Fwd: failure notice\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/mixed; boundary=\"G\"\n"
     "\n"
     "--G\n"
     "Content-Type: text/plain\n"
     "\n"
     "Can you look at this?\n"
     "--G\n"
     "Content-Type: message/rfc822\n"
     "\n"
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: failure notice\n"
     "\n"
     "Hi. This is the qmail-send program at mx.example.net.\n"
     "\n"
     "<bob@example.com>:\n"
     "Remote host said: 554 5.7.1 Message refused\n"
     "--G--\n",
     BOUNCE_KIND_FREEFORM, "qmail", 1,
     {{"bob@example.com", "failed", "5.7.1", 554, "Message refused", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, "failure notice"},

    {"vacation reply that mentions a rejection is still an auto-reply",
     "From: Carol <carol@example.com>\n"
     "Subject: Automatic reply: budget\n"
     "Auto-Submitted: auto-replied\n"
     "\n"
     "I am on leave; mail sent to me is not delivered to anyone else and may be rejected.\n",
     BOUNCE_KIND_AUTOREPLY, "rfc3834", 1, {{"carol@example.com", "", "", 0, "on leave", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    /* ---- the reader's general gaps (issue 4): each a layout, written for this test ---- */

    {"a long text keeps its deciding end (diagnostics up to BOUNCE_DIAG_MAX)",
     "From: Mail Delivery Subsystem <mailer-daemon@example.net>\n"
     "Subject: Delivery Status Notification (Failure)\n"
     "\n"
     "Delivery to the following recipient failed permanently:\n"
     "\n"
     "     bob@example.com\n"
     "\n"
     "Technical details of permanent failure:\n"
     LONG_WORDS LONG_WORDS LONG_WORDS "\n"
     "See https://groups.example.net/help for the list's posting rules.\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "", 0, "groups.example.net/help", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"X-Unix: a bare exit status keeps its type, a text does not",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Returned mail: see transcript for details\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"U\"\n"
     "\n"
     "--U\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: RFC822; bob@example.com\n"
     "Action: failed\n"
     "Status: 5.0.0\n"
     "Diagnostic-Code: X-Unix; 255\n"
     "\n"
     "Final-Recipient: RFC822; carol@example.com\n"
     "Action: failed\n"
     "Status: 5.2.2\n"
     "Diagnostic-Code: x-unix; Quota exceeded\n"
     "--U--\n",
     BOUNCE_KIND_DSN, NULL, 2,
     {{"bob@example.com", "failed", "5.0.0", 0, "X-Unix; 255", NULL, NULL},
      {"carol@example.com", "failed", "5.2.2", 0, "Quota exceeded", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"DSN fields in the text end the human text (no Action/Status in the diagnostic)",
     "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
     "Subject: Returned mail: Service unavailable\n"
     "\n"
     "   ----- The following addresses had permanent fatal errors -----\n"
     "\"|/usr/bin/filter-program\"\n"
     "    (expanded from: <bob@example.com>)\n"
     "\n"
     "   ----- Transcript of session follows -----\n"
     "554 \"|/usr/bin/filter-program\"... Service unavailable\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: RFC822; bob@mx.example.net\n"
     "X-Actual-Recipient: RFC822; |/usr/bin/filter-program@mx.example.net\n"
     "Action: failed\n"
     "Status: 5.5.0\n"
     "\n"
     "Return-Path: <alice@example.org>\n"
     "From: alice@example.org\n"
     "To: bob@example.com\n"
     "Subject: hello\n",
     BOUNCE_KIND_DSN, NULL, 1,
     {{"bob@mx.example.net", "failed", "5.5.0", 554, "Service unavailable", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"a Status comment is the diagnostic when nothing else names the error",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Warning: could not send message\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"S\"\n"
     "\n"
     "--S\n"
     "Content-Type: text/plain\n"
     "\n"
     "Your message could not be delivered yet.\n"
     "--S\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822;bob@example.com\n"
     "Action: delayed\n"
     "Status: 4.0.0 (example.com: host name lookup failure)\n"
     "\n"
     "Final-Recipient: rfc822;carol@example.com\n"
     "Action: failed\n"
     "Status: 5.0.0\n"
     "Diagnostic-Code: smtp; 550 user unknown\n"
     "--S--\n",
     BOUNCE_KIND_DSN, NULL, 2,
     {{"bob@example.com", "delayed", "4.0.0", 0, "host name lookup failure", NULL, NULL},
      {"carol@example.com", "failed", "5.0.0", 550, "user unknown", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"a report appended after a message in mbox form: both are read",
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Mail Delivery Status Report\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"A1\"\n"
     "\n"
     "--A1\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Action: failed\n"
     "Status: 5.1.1\n"
     "Diagnostic-Code: smtp; 550 5.1.1 no such user\n"
     "--A1--\n"
     "\n"
     "From MAILER-DAEMON  Thu Apr 29 23:34:45 2021\n"
     "From: MAILER-DAEMON@mx.example.net\n"
     "Subject: Mail Delivery Status Report\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"A2\"\n"
     "\n"
     "--A2\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822; carol@example.com\n"
     "Action: delivered\n"
     "Status: 2.1.5\n"
     "Diagnostic-Code: smtp; 250 2.1.5 Ok\n"
     "--A2--\n",
     BOUNCE_KIND_DSN, NULL, 2,
     {{"bob@example.com", "failed", "5.1.1", 550, "no such user", NULL, NULL},
      {"carol@example.com", "delivered", "2.1.5", 250, "Ok", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"a bounce quoted below a separator is no appended message",
     "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
     "To: postmaster@example.net\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "\n"
     "<bob@example.com>: host mx.example.com[192.0.2.7] said: 550 5.1.1 unknown user\n"
     "---------------------------------\n"
     "From MAILER-DAEMON  Thu Apr 29 23:34:45 2021\n"
     "Return-Path: <>\n"
     "To: carol@example.com\n"
     "Subject: an older notice\n"
     "\n"
     "<carol@example.com>: host mx.example.com[192.0.2.7] said: 550 5.1.1 unknown user\n",
     BOUNCE_KIND_FREEFORM, NULL, 2,
     {{"bob@example.com", "failed", "5.1.1", 550, "unknown user", NULL, NULL},
      {"carol@example.com", "failed", "5.1.1", 550, "unknown user", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"reason first: the lead before the address (Ipswitch IMail)",
     "From: postmaster@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: Undeliverable Mail\n"
     "\n"
     "User mailbox exceeds allowed size: bob@example.com\n"
     "\n"
     "\n"
     "Original message follows.\n"
     "\n"
     "Received: from example.org [192.0.2.88] by mx.example.net with ESMTP\n"
     "From: alice@example.org\n"
     "To: bob@example.com\n"
     "Subject: hello\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "", 0, "User mailbox exceeds allowed size", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"reason first: the paragraph above the address (Lotus Notes)",
     "From: Postmaster <postmaster@mx.example.net>\n"
     "To: alice@example.org\n"
     "Subject: Undeliverable Message\n"
     "\n"
     "------- Failure Reasons  --------\n"
     "\n"
     "User  not listed in public Name & Address Book\n"
     "bob@example.com\n"
     "\n"
     "\n"
     "------- Returned Message --------\n"
     "Received: from mx.example.org ([192.0.2.89]) by mx.example.net\n"
     "From: alice@example.org\n"
     "To: bob@example.com\n"
     "Subject: hello\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "", 0, "not listed in public Name & Address Book", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"reason first: a blank line between the reason and the address",
     "From: Postmaster@example.net\n"
     "To: alice@example.org\n"
     "Subject: Mail System Error - Returned Mail\n"
     "\n"
     "The user(s) account is disabled.\n"
     "\n"
     "<bob@example.com>\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "", 0, "account is disabled", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"an address inside a sentence keeps the words before it",
     "From: postmaster@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: Delivery failure\n"
     "\n"
     "*************************************************************\n"
     "\n"
     "Message from the mail gateway\n"
     "\n"
     "Unable to deliver message to <bob@example.com> (and other recipients in the same "
     "domain). Please check if address is correct.\n"
     "\n"
     "*************************************************************\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "", 0, "Unable to deliver message to (and other", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"the address in the bounce's summary of the original: the error comes before it",
     "From: postmaster@mms.example.net\n"
     "To: alice@example.org\n"
     "Subject: Returned mail: see transcript for details\n"
     "\n"
     "Message could not be delivered to mobile.\n"
     "Error: No valid recipients for this MM\n"
     "\n"
     "Original Message:\n"
     "From: Alice <alice@example.org>\n"
     "To: bob@example.com\n"
     "Subject: test\n"
     "Date:  Wed, 20 Jun 2021 10:29:52 +0000\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "", 0, "No valid recipients", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"RCPT TO in a summary of the message: the error comes before it",
     "From: mailer-daemon@example.net\n"
     "To: alice@example.org\n"
     "Subject: Undeliverable message\n"
     "\n"
     "Error: Invalid user address\n"
     "Error message below:\n"
     "550 - Requested action not taken: no such user here\n"
     "\n"
     "Message details:\n"
     "  Subject: Test message\n"
     "  MAIL FROM: alice@example.org\n"
     "  RCPT TO: bob@example.com\n"
     "  From: alice@example.org\n"
     "  Size (in bytes): 39\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.com", "failed", "", 550, "no such user here", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"an unsubscribe request sent by a mail program is an opt-out report",
     "From: bob@example.com\n"
     "To: opt-out-1234@example.org\n"
     "Subject: unsubscribe\n"
     "Auto-Submitted: auto-replied\n"
     "X-Apple-Unsubscribe: true\n"
     "\n"
     "The mail program sent this message to unsubscribe from the list.\n",
     BOUNCE_KIND_ARF, "unsubscribe", 1, {{"bob@example.com", "", "", 0, NULL, NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, "opt-out", NULL},

    {"Postfix In:/Out: transcript: the command of the failing reply, not QUIT's 221",
     "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
     "To: postmaster@mx.example.net\n"
     "Subject: Postfix SMTP server: errors from client.example.org[192.0.2.2]\n"
     "\n"
     "Transcript of session follows.\n"
     "\n"
     " Out: 220 mx.example.net ESMTP\n"
     " In:  MAIL FROM:<alice@example.org>\n"
     " Out: 250 2.1.0 Ok\n"
     " In:  RCPT TO:<bob@example.net>\n"
     " Out: 250 2.1.5 Ok\n"
     " In:  DATA\n"
     " Out: 354 End data with <CR><LF>.<CR><LF>\n"
     " Out: 451 4.3.0 Error: queue file write error\n"
     " In:  QUIT\n"
     " Out: 221 2.0.0 Bye\n",
     BOUNCE_KIND_FREEFORM, NULL, 1,
     {{"bob@example.net", "delayed", "4.3.0", 451, "queue file write error", "DATA", NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"a later text part that is a header section is the original, not bounce text",
     "From: Internet Mail Delivery <postmaster@mx.example.net>\n"
     "Subject: Delivery Notification: Delivery has been delayed\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"H\"\n"
     "\n"
     "--H\n"
     "Content-Type: text/plain\n"
     "\n"
     "Reason: unable to deliver this message after 1 day\n"
     "--H\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns;mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822;bob@example.com\n"
     "Action: delayed\n"
     "Status: 4.4.7\n"
     "--H\n"
     "Content-Type: text/plain\n"
     "\n"
     "Return-path: <alice@example.org>\n"
     "Received: from [192.0.2.21] by mx.example.net; Thu, 20 Nov 2021 17:52:09 +0000\n"
     "From: alice@example.org\n"
     "To: bob@example.com\n"
     "Subject: a virus scanner's header follows\n"
     "X-Virus-Scanned: by the scanner\n"
     "--H--\n",
     BOUNCE_KIND_DSN, NULL, 1,
     {{"bob@example.com", "delayed", "4.4.7", 0, "unable to deliver", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

    {"a forwarded bounce: quoted blank lines end a paragraph, a quoted original ends the text",
     "From: Alice <alice@example.org>\n"
     "To: helpdesk@example.org\n"
     "Subject: Fwd: Returned mail: see transcript for details\n"
     "\n"
     "Begin forwarded message:\n"
     "> From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
     "> Subject: Returned mail: see transcript for details\n"
     ">\n"
     ">    ----- The following addresses had permanent fatal errors -----\n"
     "> <bob@example.com>\n"
     ">     (reason: 550 5.1.1 <bob@example.com>... User unknown)\n"
     ">\n"
     "> Final-Recipient: RFC822; bob@example.com\n"
     "> Action: failed\n"
     "> Status: 5.1.1\n"
     "> Return-Path: <alice@example.org>\n"
     "> Subject: TEST\n"
     "> X-Virus-Status: Clean\n",
     BOUNCE_KIND_DSN, NULL, 1,
     {{"bob@example.com", "failed", "5.1.1", 550, "User unknown", NULL, NULL}},
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/* Texts a case's diagnostic must not hold (quoted originals, DSN fields, types). */
static const struct {
    const char *name;
    size_t rcpt;
    const char *text;
} lacks[] = {
    {"X-Unix: a bare exit status keeps its type, a text does not", 1, "x-unix"},
    {"DSN fields in the text end the human text (no Action/Status in the diagnostic)", 0, "Action:"},
    {"reason first: the paragraph above the address (Lotus Notes)", 0, "Failure Reasons"},
    {"the address in the bounce's summary of the original: the error comes before it", 0, "Subject"},
    {"RCPT TO in a summary of the message: the error comes before it", 0, "Size (in bytes)"},
    {"a later text part that is a header section is the original, not bounce text", 0, "Virus"},
    {"a forwarded bounce: quoted blank lines end a paragraph, a quoted original ends the text", 0, "Virus"},
};

static void check_case(const bcase_t *c, const unsigned char *buf, size_t len)
{
    arena_t *a = arena_new();
    bounce_t b;
    int rc = bounce_parse(buf, len, a, &b);
    if (rc != 0)
        fail_msg("%s: bounce_parse returned %d", c->name, rc);
    if (b.kind != c->kind)
        fail_msg("%s: kind %s, expected %s", c->name, bounce_kind_name(b.kind),
                 bounce_kind_name(c->kind));
    if (c->format != NULL && strcmp(b.format, c->format) != 0)
        fail_msg("%s: format \"%s\", expected \"%s\"", c->name, b.format, c->format);
    if (b.nrcpts != c->nrcpts)
        fail_msg("%s: %zu recipients, expected %zu", c->name, b.nrcpts, c->nrcpts);
    for (size_t i = 0; i < c->nrcpts; i++) {
        const exp_rcpt_t *e = &c->r[i];
        const bounce_rcpt_t *r = &b.rcpts[i];
        if (strcmp(r->recipient, e->recipient) != 0)
            fail_msg("%s: rcpt %zu \"%s\", expected \"%s\"", c->name, i, r->recipient, e->recipient);
        if (strcmp(bounce_action_name(r->action), e->action) != 0)
            fail_msg("%s: rcpt %zu action %s, expected %s", c->name, i,
                     bounce_action_name(r->action), e->action);
        if (strcmp(r->status, e->status) != 0)
            fail_msg("%s: rcpt %zu status \"%s\", expected \"%s\"", c->name, i, r->status, e->status);
        if (r->reply_code != e->code)
            fail_msg("%s: rcpt %zu code %d, expected %d", c->name, i, r->reply_code, e->code);
        if (e->diag_has != NULL && strstr(r->diagnostic, e->diag_has) == NULL)
            fail_msg("%s: rcpt %zu diagnostic \"%s\" lacks \"%s\"", c->name, i, r->diagnostic,
                     e->diag_has);
        for (size_t k = 0; k < sizeof lacks / sizeof lacks[0]; k++)
            if (lacks[k].rcpt == i && strcmp(lacks[k].name, c->name) == 0 &&
                strstr(r->diagnostic, lacks[k].text) != NULL)
                fail_msg("%s: rcpt %zu diagnostic \"%s\" has \"%s\"", c->name, i, r->diagnostic,
                         lacks[k].text);
        if (e->command != NULL && strcmp(r->command, e->command) != 0)
            fail_msg("%s: rcpt %zu command \"%s\", expected \"%s\"", c->name, i, r->command,
                     e->command);
        if (e->remote != NULL && strcmp(r->remote_mta, e->remote) != 0)
            fail_msg("%s: rcpt %zu remote \"%s\", expected \"%s\"", c->name, i, r->remote_mta,
                     e->remote);
        /* one line, no control characters */
        for (const char *p = r->diagnostic; *p; p++)
            if ((unsigned char)*p < 0x20)
                fail_msg("%s: control character in diagnostic", c->name);
        assert_true(strlen(r->diagnostic) <= BOUNCE_DIAG_MAX);
    }
#define EV(field, val)                                                                     \
    do {                                                                                   \
        if ((val) != NULL && strcmp((field), (val)) != 0)                                  \
            fail_msg("%s: " #field " \"%s\", expected \"%s\"", c->name, (field), (val));   \
    } while (0)
    EV(b.orig.sending_ip, c->ip);
    EV(b.orig.helo, c->helo);
    EV(b.orig.sender_domain, c->sender_domain);
    EV(b.orig.dkim_domain, c->dkim_d);
    EV(b.orig.dkim_selector, c->dkim_s);
    EV(b.orig.message_id, c->msgid);
    EV(b.feedback_type, c->feedback);
    EV(b.subject, c->subject);
#undef EV
    arena_free(a);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bcase_t *c = &cases[i];
        size_t len = strlen(c->msg);
        /* an exact-size heap copy, so that a read past the end is caught by ASan */
        unsigned char *buf = malloc(len);
        assert_non_null(buf);
        memcpy(buf, c->msg, len);
        check_case(c, buf, len);
        free(buf);
    }
}

static void test_dsn_details(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    bounce_t b;
    const bcase_t *c = &cases[0];
    assert_int_equal(bounce_parse((const unsigned char *)c->msg, strlen(c->msg), a, &b), 0);
    assert_string_equal(b.reporting_mta, "mx.example.net");
    assert_string_equal(b.arrival_date, "Mon, 2 Mar 2026 10:00:00 +0000");
    assert_string_equal(b.rcpts[0].original_recipient, "Bob@example.com");
    assert_string_equal(b.orig.sender, "alice@example.org");
    assert_string_equal(b.orig.recipient, "bob@example.com");
    assert_string_equal(b.orig.subject, "hello");
    /* the type "smtp;" is removed and the continuation line unfolded */
    assert_string_equal(b.rcpts[0].diagnostic,
                        "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown "
                        "in virtual mailbox table");
    assert_false(b.truncated);
    arena_free(a);
}

/* ---------------------------------------------------------- the SMTP command per record */

#define FF_HEAD                                                                            \
    "From: MAILER-DAEMON@mx.example.net\n"                                                 \
    "To: alice@example.org\n"                                                              \
    "Subject: Undelivered Mail Returned to Sender\n"                                       \
    "\n"

typedef struct ccase {
    const char *name;
    const char *msg;
    const char *recipient; /* the record checked */
    const char *command;   /* expected, "" when the text states none */
} ccase_t;

static const ccase_t cmd_cases[] = {
    {"postfix, phrase folded across lines", FF_HEAD
     "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 554 5.7.1 Message rejected\n"
     "    as spam (in reply to end of DATA\n"
     "    command)\n",
     "bob@example.com", "DATA"},
    {"postfix, 'RCPT TO' split over two lines", FF_HEAD
     "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 550 5.1.1 Address\n"
     "    rejected bob@example.com (in reply to RCPT\n"
     "    TO command)\n",
     "bob@example.com", "RCPT"},
    {"postfix dsn, command in the human part only",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: Undelivered Mail Returned to Sender\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n"
     "\n"
     "--B\n"
     "Content-Type: text/plain\n"
     "\n"
     "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 553 5.1.8 Domain of\n"
     "    sender address does not exist (in reply to\n"
     "    MAIL FROM command)\n"
     "\n"
     "--B\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Action: failed\n"
     "Status: 5.1.8\n"
     "Diagnostic-Code: smtp; 553 5.1.8 Domain of sender address does not exist\n"
     "\n"
     "--B--\n",
     "bob@example.com", "MAIL"},
    {"dsn, phrase in a Diagnostic-Code continuation line",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: Delivery Status Notification (Failure)\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n"
     "\n"
     "--B\n"
     "Content-Type: message/delivery-status\n"
     "\n"
     "Reporting-MTA: dns; mx.example.net\n"
     "\n"
     "Final-Recipient: rfc822; bob@example.com\n"
     "Action: failed\n"
     "Status: 5.7.1\n"
     "Diagnostic-Code: smtp; 550 5.7.1 Message content rejected (in reply to\n"
     "    end of DATA command)\n"
     "\n"
     "--B--\n",
     "bob@example.com", "DATA"},
    {"sendmail transcript, reply after DATA", FF_HEAD
     "   ----- The following addresses had permanent fatal errors -----\n"
     "<bob@example.com>\n"
     "    (reason: 554 5.7.1 Message refused)\n"
     "\n"
     "   ----- Transcript of session follows -----\n"
     "... while talking to mx1.example.com.:\n"
     ">>> DATA\n"
     "<<< 554 5.7.1 <bob@example.com>... Message refused\n"
     "554 5.0.0 Service unavailable\n",
     "bob@example.com", "DATA"},
    {"sendmail transcript, RCPT To line", FF_HEAD
     "   ----- The following addresses had permanent fatal errors -----\n"
     "<bob@example.com>\n"
     "    (reason: 550 5.1.1 User unknown)\n"
     "\n"
     "   ----- Transcript of session follows -----\n"
     "... while talking to mx1.example.com.:\n"
     ">>> RCPT To:<bob@example.com>\n"
     "<<< 550 5.1.1 User unknown\n",
     "bob@example.com", "RCPT"},
    {"sendmail transcript, pipelined RCPT rejected after DATA was sent", FF_HEAD
     "   ----- The following addresses had permanent fatal errors -----\n"
     "<bob@example.com>\n"
     "    (reason: 550 5.1.1 User unknown)\n"
     "\n"
     "   ----- Transcript of session follows -----\n"
     "... while talking to mx1.example.com.:\n"
     ">>> DATA\n"
     "<<< 550 5.1.1 <bob@example.com>... User unknown\n"
     "550 5.1.1 <bob@example.com>... User unknown\n"
     "<<< 503 5.0.0 Need RCPT (recipient)\n",
     "bob@example.com", "RCPT"},
    {"exim, after RCPT TO",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: alice@example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "X-Failed-Recipients: bob@example.com\n"
     "\n"
     "This message was created automatically by mail delivery software.\n"
     "\n"
     "A message that you sent could not be delivered to one or more of its\n"
     "recipients. This is a permanent error. The following address(es) failed:\n"
     "\n"
     "  bob@example.com\n"
     "    host mx1.example.com [192.0.2.7]\n"
     "    SMTP error from remote mail server after RCPT TO:<bob@example.com>:\n"
     "    550 5.1.1 No such user\n",
     "bob@example.com", "RCPT"},
    {"exim, after end of data",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: alice@example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "X-Failed-Recipients: bob@example.com\n"
     "\n"
     "This message was created automatically by mail delivery software.\n"
     "\n"
     "  bob@example.com\n"
     "    host mx1.example.com [192.0.2.7]\n"
     "    SMTP error from remote mail server after end of data:\n"
     "    550 5.7.1 Message rejected as spam\n",
     "bob@example.com", "DATA"},
    {"exim, after MAIL FROM",
     "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
     "To: alice@example.org\n"
     "Subject: Mail delivery failed: returning message to sender\n"
     "X-Failed-Recipients: bob@example.com\n"
     "\n"
     "This message was created automatically by mail delivery software.\n"
     "\n"
     "  bob@example.com\n"
     "    host mx1.example.com [192.0.2.7]\n"
     "    SMTP error from remote mail server after MAIL FROM:<alice@example.org> SIZE=1234:\n"
     "    550 5.7.1 Sender rejected\n",
     "bob@example.com", "MAIL"},
    {"qmail, does not like recipient",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: failure notice\n"
     "\n"
     "Hi. This is the qmail-send program at mx.example.net.\n"
     "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
     "\n"
     "<bob@example.com>:\n"
     "192.0.2.7 does not like recipient.\n"
     "Remote host said: 550 5.1.1 <bob@example.com>... User Unknown\n"
     "Giving up on 192.0.2.7.\n",
     "bob@example.com", "RCPT"},
    {"qmail, failed after the message was sent",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: failure notice\n"
     "\n"
     "Hi. This is the qmail-send program at mx.example.net.\n"
     "\n"
     "<bob@example.com>:\n"
     "192.0.2.7 failed after I sent the message.\n"
     "Remote host said: 554 5.7.1 Message rejected\n",
     "bob@example.com", "DATA"},
    {"qmail, sender rejected",
     "From: MAILER-DAEMON@mx.example.net\n"
     "To: alice@example.org\n"
     "Subject: failure notice\n"
     "\n"
     "Hi. This is the qmail-send program at mx.example.net.\n"
     "\n"
     "<bob@example.com>:\n"
     "Connected to 192.0.2.7 but sender was rejected.\n"
     "Remote host said: 553 5.1.8 Sender domain does not exist\n",
     "bob@example.com", "MAIL"},
    {"the command in another paragraph naming the recipient", FF_HEAD
     "There was an error delivering your mail to <bob@example.com>.\n"
     "\n"
     "mx1.example.com [192.0.2.7] did not like our RCPT TO:\n"
     "550 5.7.26 <bob@example.com>: Recipient address rejected: authentication failed\n",
     "bob@example.com", "RCPT"},
    {"a provider's tag", FF_HEAD
     "Sorry, we were unable to deliver your message to the following address.\n"
     "\n"
     "<bob@example.com>:\n"
     "Remote host said: 550 5.1.1 <bob@example.com>... User Unknown [RCPT_TO]\n",
     "bob@example.com", "RCPT"},
    {"a step named in parentheses", FF_HEAD
     "The following recipients returned permanent errors: bob@example.com.\n"
     "Reason: SMTP Server <192.0.2.7> refused to accept your message (DATA), with the\n"
     "following error message: [554 5.4.6 Hop count exceeded - possible mail loop]\n",
     "bob@example.com", "DATA"},
    {"the message text as 'TEXT command'", FF_HEAD
     "bob@example.com:\n"
     "SMTP error from remote server for TEXT command, host: mx1.example.com (192.0.2.7)\n"
     "reason: 550 5.2.0 Mail rejected\n",
     "bob@example.com", "DATA"},
    {"X3's 'SMTP:RCPT'", FF_HEAD
     "Delivery to the following recipients failed permanently:\n"
     "\n"
     "    bob@example.com\n"
     "\n"
     "Technical details: SMTP:RCPT host 192.0.2.8: <bob@example.com>... No such user here\n",
     "bob@example.com", "RCPT"},
    {"no command: 'SMTP:' before another word", FF_HEAD
     "<bob@example.com>: SMTP:mx1.example.com said: 550 5.1.1 No such user here\n",
     "bob@example.com", ""},
    {"a relay's summary line 'in RCPT TO'", FF_HEAD
     "bob:000000:<bob@example.com> : 192.0.2.250 : mx1.example.com:[192.0.2.7] : 550 5.1.1\n"
     "<bob@example.com>... User Unknown  in RCPT TO\n",
     "bob@example.com", "RCPT"},
    {"a labelled command on the next line", FF_HEAD
     "<bob@example.com>\n"
     "550 5.7.1 Content rejected\n"
     "\n"
     "-------SMTP command\n"
     "DATA\n",
     "bob@example.com", "DATA"},
    {"postfix, connection failure", FF_HEAD
     "<bob@example.com>: connect to mx1.example.com[192.0.2.7]:25: Connection timed out\n",
     "bob@example.com", "CONN"},
    {"postfix, HELO handshake", FF_HEAD
     "<bob@example.com>: lost connection with mx1.example.com[192.0.2.7] while performing\n"
     "    the HELO handshake\n",
     "bob@example.com", "HELO"},
    {"no command: 'data' as an ordinary word", FF_HEAD
     "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 552 5.2.2 Quota exceeded\n"
     "    for data storage\n",
     "bob@example.com", ""},
    {"no command: a time after which delivery stopped", FF_HEAD
     "<bob@example.com>: message still undelivered after 4 hours; 451 4.4.1 no answer\n",
     "bob@example.com", ""},
};

static void test_commands(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    size_t bad = 0; /* every case is run; the failures are listed, then counted */
    for (size_t k = 0; k < sizeof cmd_cases / sizeof cmd_cases[0]; k++) {
        const ccase_t *c = &cmd_cases[k];
        arena_reset(a);
        bounce_t b;
        const bounce_rcpt_t *r = NULL;
        if (bounce_parse((const unsigned char *)c->msg, strlen(c->msg), a, &b) == 0)
            for (size_t i = 0; i < b.nrcpts && r == NULL; i++)
                if (strcmp(b.rcpts[i].recipient, c->recipient) == 0)
                    r = &b.rcpts[i];
        if (r == NULL) {
            printf("  %s: no record for %s\n", c->name, c->recipient);
            bad++;
        } else if (strcmp(r->command, c->command) != 0) {
            printf("  %s: command \"%s\", expected \"%s\"\n", c->name, r->command, c->command);
            bad++;
        }
    }
    arena_free(a);
    assert_int_equal(bad, 0);
}

/* A list manager refusing a post is a bounce for the list's address; list traffic that
 * merely talks about membership is not. */
static void test_list_refusal(void **state)
{
    (void)state;
    static const char refusal[] =
        "From: neko-admin@lists.example.org\n"
        "To: alice@example.org\n"
        "Subject: You alice@example.org are not member (neko ML)\n"
        "X-MLServer: fml [fml 4.0.3 release]\n"
        "\n"
        "You are not a member of this mailing list <neko@lists.example.org>.\n"
        "\n"
        "If you know the general guide of this list, please send mail to\n"
        "neko-ctl@lists.example.org\n";
    static const char post[] =
        "From: Bob <bob@example.com>\n"
        "To: neko@lists.example.org\n"
        "Subject: Re: membership\n"
        "List-Id: <neko.lists.example.org>\n"
        "\n"
        "If you are not a member of the list <neko@lists.example.org>, ask the owner.\n";
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((const unsigned char *)refusal, sizeof refusal - 1, a, &b), 0);
    assert_int_equal(b.kind, BOUNCE_KIND_FREEFORM);
    assert_string_equal(b.format, "fml");
    assert_int_equal(b.nrcpts, 1);
    assert_string_equal(b.rcpts[0].recipient, "neko@lists.example.org");
    assert_string_equal(b.rcpts[0].diagnostic,
                        "You are not a member of this mailing list <neko@lists.example.org>.");
    assert_int_equal(bounce_parse((const unsigned char *)post, sizeof post - 1, a, &b), 0);
    assert_int_equal(b.kind, BOUNCE_KIND_NONE);
    assert_int_equal(b.nrcpts, 0);
    arena_free(a);
}

/* An attached report is read for more records, except when the message has a report of its
 * own: then the attached one is the bounce that could not be returned (a double bounce). */
#define INNER_REPORT(rcpt)                                                                 \
    "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"                       \
    "To: <alice@example.org>\n"                                                            \
    "Subject: Returned mail: see transcript for details\n"                                 \
    "MIME-Version: 1.0\n"                                                                  \
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"I\"\n"        \
    "\n"                                                                                   \
    "--I\n"                                                                                \
    "Content-Type: message/delivery-status\n"                                              \
    "\n"                                                                                   \
    "Reporting-MTA: dns; mx.example.net\n"                                                 \
    "\n"                                                                                   \
    "Final-Recipient: rfc822; " rcpt "\n"                                                  \
    "Action: failed\n"                                                                     \
    "Status: 5.3.5\n"                                                                      \
    "Diagnostic-Code: smtp; 553 5.3.5 system config error\n"                               \
    "\n"                                                                                   \
    "--I--\n"

static void test_attached_reports(void **state)
{
    (void)state;
    static const char dbl[] =
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx2.example.net>\n"
        "To: postmaster@mx2.example.net\n"
        "Subject: Postmaster notify: see transcript for details\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"O\"\n"
        "\n"
        "--O\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mx2.example.net\n"
        "\n"
        "Final-Recipient: rfc822; alice@example.org\n"
        "Action: failed\n"
        "Status: 5.0.0\n"
        "Diagnostic-Code: smtp; 554 delivery error: no such user (alice@example.org)\n"
        "\n"
        "--O\n"
        "Content-Type: message/rfc822\n"
        "\n" INNER_REPORT("bob@example.com") "\n"
        "--O--\n";
    static const char per_rcpt[] =
        "From: MAILER-DAEMON@mx.example.net\n"
        "To: alice@example.org\n"
        "Subject: Delivery reports\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"O\"\n"
        "\n"
        "--O\n"
        "Content-Type: text/plain\n"
        "\n"
        "Two recipients failed; their reports are attached.\n"
        "\n"
        "--O\n"
        "Content-Type: message/rfc822\n"
        "\n" INNER_REPORT("bob@example.com") "\n"
        "--O\n"
        "Content-Type: message/rfc822\n"
        "\n" INNER_REPORT("carol@example.com") "\n"
        "--O--\n";
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((const unsigned char *)dbl, sizeof dbl - 1, a, &b), 0);
    assert_int_equal(b.kind, BOUNCE_KIND_DSN);
    assert_int_equal(b.nrcpts, 1);
    assert_string_equal(b.rcpts[0].recipient, "alice@example.org");
    assert_int_equal(b.rcpts[0].reply_code, 554);
    assert_int_equal(bounce_parse((const unsigned char *)per_rcpt, sizeof per_rcpt - 1, a, &b), 0);
    assert_int_equal(b.kind, BOUNCE_KIND_DSN);
    assert_int_equal(b.nrcpts, 2);
    assert_string_equal(b.rcpts[0].recipient, "bob@example.com");
    assert_string_equal(b.rcpts[1].recipient, "carol@example.com");
    arena_free(a);
}

/* A transcript that ends with QUIT's 221 after the failure keeps the failure's code. */
static void test_failure_pair(void **state)
{
    (void)state;
    static const char m[] = FF_HEAD
        "<bob@example.com>: host mx1.example.com[192.0.2.7] said: Out: 250 2.1.5 Ok In:\n"
        "    DATA Out: 354 End data with <CR><LF>.<CR><LF> Out: 451 4.3.0 Error: queue\n"
        "    file write error In: QUIT Out: 221 2.0.0 Bye\n";
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((const unsigned char *)m, sizeof m - 1, a, &b), 0);
    assert_int_equal(b.nrcpts, 1);
    assert_int_equal(b.rcpts[0].reply_code, 451);
    assert_string_equal(b.rcpts[0].status, "4.3.0");
    assert_int_equal(b.rcpts[0].action, BOUNCE_ACTION_DELAYED);
    arena_free(a);
}

static void test_not_mail(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((const unsigned char *)"", 0, a, &b), -1);
    assert_int_equal(b.kind, BOUNCE_KIND_NONE);
    assert_int_equal(b.nrcpts, 0);
    assert_string_equal(b.format, "");
    const char *junk = "\x01\x02 not a message at all\n";
    assert_int_equal(bounce_parse((const unsigned char *)junk, strlen(junk), a, &b), -1);
    const char *nohdr = "just some words\nand more\n";
    assert_int_equal(bounce_parse((const unsigned char *)nohdr, strlen(nohdr), a, &b), -1);
    arena_free(a);
}

/* A NUL byte inside a part neither ends the text nor reaches the output. */
static void test_nul_in_part(void **state)
{
    (void)state;
    static const char m[] = "From: MAILER-DAEMON@mx.example.net\n"
                            "Subject: Undelivered Mail\n"
                            "\n"
                            "<bob@example.com>: host mx1.example.com[192.0.2.7] said: 550 5.1.1 no\0such\n"
                            "    user (in reply to RCPT TO command)\n";
    size_t len = sizeof m - 1;
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, m, len);
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse(buf, len, a, &b), 0);
    assert_int_equal(b.nrcpts, 1);
    assert_string_equal(b.rcpts[0].diagnostic,
                        "host mx1.example.com[192.0.2.7] said: 550 5.1.1 no such user (in reply to "
                        "RCPT TO command)");
    assert_string_equal(b.rcpts[0].command, "RCPT");
    assert_string_equal(b.rcpts[0].remote_mta, "mx1.example.com");
    arena_free(a);
    free(buf);
}

/* A multipart whose boundary parameter a broken fold cut off (the continuation line not
 * indented) is read as text without its MIME delimiters and part headers; a separator of
 * dashes followed by text stays. */
static void test_broken_fold(void **state)
{
    (void)state;
    static const char m[] = "From: postmaster@mx.example.net\n"
                            "To: alice@example.org\n"
                            "Subject: Undeliverable\n"
                            "MIME-Version: 1.0\n"
                            "Content-Type: multipart/mixed; boundary=\"OUTER\"\n"
                            "\n"
                            "--OUTER\n"
                            "Content-Type: multipart/alternative;\n"
                            "boundary=\"INNER\"\n"
                            "\n"
                            "--INNER\n"
                            "Content-Type: text/plain; charset=us-ascii\n"
                            "Content-Transfer-Encoding: 7bit\n"
                            "\n"
                            "Error: Invalid user address\n"
                            "----------\n"
                            "550 - Requested action not taken: no such user here\n"
                            "RCPT TO: bob@example.com\n"
                            "\n"
                            "--INNER--\n"
                            "\n"
                            "--OUTER--\n";
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((const unsigned char *)m, sizeof m - 1, a, &b), 0);
    assert_int_equal(b.nrcpts, 1);
    assert_string_equal(b.rcpts[0].recipient, "bob@example.com");
    const char *d = b.rcpts[0].diagnostic;
    assert_non_null(strstr(d, "no such user here"));
    assert_null(strstr(d, "Content-"));
    assert_null(strstr(d, "INNER"));
    assert_null(strstr(d, "OUTER"));
    arena_free(a);
}

/* ISO-2022-JP written raw in a DSN field (no charset declared) is decoded, and a stray ESC
 * elsewhere never reaches the output. */
static void test_iso2022jp(void **state)
{
    (void)state;
    static const char m[] =
        "From: postmaster@mx.example.jp\n"
        "Subject: Delivery Status Notification\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n"
        "\n"
        "--b\n"
        "Content-Type: text/plain\n"
        "\n"
        "failed \x1b[31m\n"
        "--b\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mx.example.jp\n"
        "\n"
        "Final-Recipient: rfc822; user@example.jp\n"
        "Action: failed\n"
        "Status: 5.0.0\n"
        /* "ユーザー" in ISO-2022-JP, then ASCII again */
        "Diagnostic-Code: X-Notes; \x1b$B%f!<%6!<\x1b(B user@example.jp\n"
        "--b--\n";
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((const unsigned char *)m, sizeof m - 1, a, &b), 0);
    assert_int_equal(b.nrcpts, 1);
    assert_string_equal(b.rcpts[0].diagnostic,
                        "\xe3\x83\xa6\xe3\x83\xbc\xe3\x82\xb6\xe3\x83\xbc user@example.jp");
    /* the stray ESC of the text part is in no field */
    const bounce_rcpt_t *r = &b.rcpts[0];
    const char *fields[] = {b.format,           b.reporting_mta,      b.subject,
                            b.from,             b.arrival_date,       b.feedback_type,
                            b.source_ip,        b.orig.sending_ip,    b.orig.helo,
                            b.orig.sender,      b.orig.sender_domain, b.orig.from_domain,
                            b.orig.dkim_domain, b.orig.dkim_selector, b.orig.message_id,
                            b.orig.recipient,   b.orig.subject,       r->recipient,
                            r->original_recipient, r->remote_mta,     r->command,
                            r->last_attempt,    r->status};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        assert_null(strchr(fields[i], 0x1b));
    arena_free(a);
}

/* Invalid UTF-8 and control characters never reach the output; long texts are cut. */
static void test_sanitised(void **state)
{
    (void)state;
    str_t m = STR_INIT;
    str_appendz(&m, "From: MAILER-DAEMON@mx.example.net\nSubject: bad \xff\xfe bytes\n"
                    "Content-Type: text/plain; charset=utf-8\n\n<bob@example.com>: 550 5.1.1 ");
    for (int i = 0; i < 400; i++)
        str_appendz(&m, "\xc3\xa9\x1b[0m");
    str_appendz(&m, "\n");
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((const unsigned char *)m.data, m.len, a, &b), 0);
    assert_int_equal(b.nrcpts, 1);
    const char *d = b.rcpts[0].diagnostic;
    assert_true(strlen(d) <= BOUNCE_DIAG_MAX);
    for (const char *p = d; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    assert_non_null(strstr(d, "\xc3\xa9"));
    for (const char *p = b.subject; *p; p++)
        assert_true((unsigned char)*p >= 0x20);
    arena_free(a);
    str_free(&m);
}

/* Many recipients: the record count is capped and the cut is reported. */
static void test_rcpt_cap(void **state)
{
    (void)state;
    size_t n = BOUNCE_RCPT_MAX + 50;
    size_t cap = 200 + n * 80;
    char *m = malloc(cap);
    assert_non_null(m);
    size_t o = (size_t)snprintf(m, cap, "From: MAILER-DAEMON@mx.example.net\nTo: a@example.org\n"
                                         "Subject: Undelivered Mail Returned to Sender\n\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(m + o, cap - o,
                              "<u%zu@example.com>: host mx.example.com[192.0.2.1] said: 550 no\n\n", i);
    arena_t *a = arena_new();
    bounce_t b;
    assert_int_equal(bounce_parse((unsigned char *)m, o, a, &b), 0);
    assert_int_equal(b.nrcpts, BOUNCE_RCPT_MAX);
    assert_true(b.truncated);
    assert_string_equal(b.rcpts[BOUNCE_RCPT_MAX - 1].recipient, "u999@example.com");
    arena_free(a);
    free(m);
}

/* ---------------------------------------------------------------------------- mailbox */

static void test_mbox_split(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    mbox_msg_t *m;
    const char *err = NULL;
    const char *mb = "From a@example.org Mon Mar  2 10:00:00 2026\n"
                     "Subject: one\n\nbody\n>From here\n>>From there\nFrom inside a line\n\n"
                     "From b@example.org Mon Mar  2 10:00:01 2026\r\n"
                     "Subject: two\r\n\r\nx\r\n";
    long n = mbox_split((const unsigned char *)mb, strlen(mb), a, &m, &err);
    assert_int_equal(n, 2);
    assert_int_equal(m[0].len, strlen("Subject: one\n\nbody\nFrom here\n>From there\nFrom inside a line\n"));
    assert_memory_equal(m[0].data,
                        "Subject: one\n\nbody\nFrom here\n>From there\nFrom inside a line\n", m[0].len);
    assert_string_equal((const char *)m[1].data, "Subject: two\n\nx\n");
    /* CR-only line endings */
    const char *mac = "From x\rSubject: a\r\rb\r\rFrom y\rSubject: c\r\rd\r";
    n = mbox_split((const unsigned char *)mac, strlen(mac), a, &m, &err);
    assert_int_equal(n, 2);
    assert_string_equal((const char *)m[0].data, "Subject: a\n\nb\n");
    assert_string_equal((const char *)m[1].data, "Subject: c\n\nd\n");
    /* not an mbox: one message; empty: none */
    const char *one = "\nSubject: z\n\nFrom me\n";
    n = mbox_split((const unsigned char *)one, strlen(one), a, &m, &err);
    assert_int_equal(n, 1);
    assert_string_equal((const char *)m[0].data, "Subject: z\n\nFrom me\n");
    assert_int_equal(mbox_split((const unsigned char *)"", 0, a, &m, &err), 0);
    /* a message appended without the empty line: its full "From " line (sender, asctime
     * date) followed by a header field still starts it; a looser "From " line does not */
    const char *glued = "From a@example.org Thu Jul  2 12:05:05 2020\n"
                        "Subject: one\n\n--B--\n"
                        "From double-bounce@example.org  Thu Jul  2 12:05:05 2020\n"
                        "Subject: two\n\nhello\n"
                        "From the desk of Bob Thu Jul  2 12:05:05 2020\n"
                        "Subject: the sender is no single word\n"
                        "From bob Thu Jul  2 12:05:05 2020\n"
                        "no header field\n";
    n = mbox_split((const unsigned char *)glued, strlen(glued), a, &m, &err);
    assert_int_equal(n, 2);
    assert_string_equal((const char *)m[0].data, "Subject: one\n\n--B--\n");
    assert_string_equal((const char *)m[1].data,
                        "Subject: two\n\nhello\nFrom the desk of Bob Thu Jul  2 12:05:05 2020\n"
                        "Subject: the sender is no single word\n"
                        "From bob Thu Jul  2 12:05:05 2020\nno header field\n");
    arena_free(a);
    /* the full-form separator line itself: its length, any line end, bounded by n */
    const char *fl = "From a@example.org Thu Jul  2 12:05:05 2020\r\nSubject: x\n";
    const unsigned char *u = (const unsigned char *)fl;
    assert_int_equal(mbox_from_line(u, strlen(fl), 0), 43);
    assert_int_equal(mbox_from_line(u, 45, 0), 0); /* the next line cut before its colon */
    assert_int_equal(mbox_from_line(u, 43, 0), 0); /* no line end */
    assert_int_equal(mbox_from_line(u, strlen(fl), 1), 0);
    const char *cr = "xFrom b Mon Jan 1 00:00:00 2026\rX-A:\r"; /* the shortest: 30 bytes */
    assert_int_equal(mbox_from_line((const unsigned char *)cr, strlen(cr), 1), 30);
    assert_int_equal(mbox_from_line((const unsigned char *)cr + 1, 29, 0), 0);
    const char *nodate = "From b Mon Jan 1 000000 2026\nX-A:\n"; /* no colon in the date */
    assert_int_equal(mbox_from_line((const unsigned char *)nodate, strlen(nodate), 0), 0);
    const char *noyear = "From b Mon Jan 1 00:00:00 202x\nX-A:\n";
    assert_int_equal(mbox_from_line((const unsigned char *)noyear, strlen(noyear), 0), 0);
}

static void test_maildir(void **state)
{
    (void)state;
    char dir[] = "/tmp/mb-maildir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[512];
    arena_t *a = arena_new();
    const char **paths;
    const char *err = NULL;
    /* a plain directory */
    snprintf(p, sizeof p, "%s/b.eml", dir);
    assert_int_equal(write_text_file(p, "Subject: b\n\n"), 0);
    snprintf(p, sizeof p, "%s/a.eml", dir);
    assert_int_equal(write_text_file(p, "Subject: a\n\n"), 0);
    snprintf(p, sizeof p, "%s/.hidden", dir);
    assert_int_equal(write_text_file(p, "x"), 0);
    long n = maildir_list(dir, a, &paths, &err);
    assert_int_equal(n, 2);
    assert_non_null(strstr(paths[0], "/a.eml"));
    assert_non_null(strstr(paths[1], "/b.eml"));
    /* a maildir: cur then new */
    snprintf(p, sizeof p, "%s/new", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/cur", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/new/1", dir);
    assert_int_equal(write_text_file(p, "Subject: n\n\n"), 0);
    snprintf(p, sizeof p, "%s/cur/2:2,S", dir);
    assert_int_equal(write_text_file(p, "Subject: c\n\n"), 0);
    n = maildir_list(dir, a, &paths, &err);
    assert_int_equal(n, 2);
    assert_non_null(strstr(paths[0], "/cur/2:2,S"));
    assert_non_null(strstr(paths[1], "/new/1"));
    unsigned char *buf;
    size_t len;
    assert_int_equal(mailbox_read_file(paths[1], &buf, &len, &err), 0);
    assert_int_equal(len, strlen("Subject: n\n\n"));
    free(buf);
    /* "-" is standard input */
    FILE *in = freopen(paths[0], "rb", stdin);
    assert_non_null(in);
    assert_int_equal(mailbox_read_file("-", &buf, &len, &err), 0);
    assert_int_equal(len, strlen("Subject: c\n\n"));
    assert_memory_equal(buf, "Subject: c\n\n", len);
    free(buf);
    assert_int_equal(mailbox_read_file("/nonexistent/x", &buf, &len, &err), -1);
    assert_non_null(err);
    snprintf(p, sizeof p, "%s/nothing", dir);
    assert_int_equal(maildir_list(p, a, &paths, &err), -1);
    /* clean up */
    const char *rm[] = {"new/1", "cur/2:2,S", "a.eml", "b.eml", ".hidden"};
    for (size_t i = 0; i < sizeof rm / sizeof rm[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, rm[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/new", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/cur", dir);
    rmdir(p);
    rmdir(dir);
    arena_free(a);
}

/* ---------------------------------------------------------------------------- corpus */

/* Agreement thresholds (fractions) the corpus test asserts, a little under what is
 * reached (753 of 753 recipient counts, 99.5 % status, 99.1 % reply code, 26 of 27
 * feedback types). */
#define MIN_RCPT_AGREE 0.995
#define MIN_STATUS_AGREE 0.99
#define MIN_CODE_AGREE 0.99
#define MIN_FEEDBACK_AGREE 0.99

static sisimai_row_t *rows;
static size_t nrows;

static bool pseudo_status(const char *s)
{
    return s[0] == '\0' || strncmp(s, "5.0.9", 5) == 0 || strncmp(s, "4.0.9", 5) == 0 ||
           strncmp(s, "5.9.", 4) == 0 || strncmp(s, "4.9.", 4) == 0;
}

typedef struct tally {
    size_t files, msgs, parse_fail;
    size_t rcpt_n, rcpt_ok;
    size_t st_n, st_ok;
    size_t code_n, code_ok;
    size_t fb_n, fb_ok;
    size_t not_n, not_ok;
    size_t other_n, other_ok; /* dos/mac variants without expected values: >= 1 record */
} tally_t;

/* Samples of maildir/not/ that are bounces after all: rb-issue-368-bug is a mailbox-full
 * rejection in a layout sisimai does not read ("reject reason: Mailbox full" / "target mail
 * address: ..."); we read it, with one recipient. */
static const char *const not_but_bounce[] = {"maildir/not/rb-issue-368-bug.eml"};

static void judge(tally_t *t, const char *sample, const bounce_t *b)
{
    for (size_t k = 0; k < sizeof not_but_bounce / sizeof not_but_bounce[0]; k++)
        if (strcmp(sample, not_but_bounce[k]) == 0) {
            t->not_n++;
            if (b->nrcpts == 1 && b->kind == BOUNCE_KIND_FREEFORM)
                t->not_ok++;
            else
                printf("  DIFF %s: expected one recipient read from the free text, got %zu\n",
                       sample, b->nrcpts);
            return;
        }
    if (strncmp(sample, "maildir/not/", 12) == 0) {
        t->not_n++;
        if (b->nrcpts == 0)
            t->not_ok++;
        else
            printf("  DIFF %s: not a bounce, but read as %s with %zu recipients\n", sample,
                   bounce_kind_name(b->kind), b->nrcpts);
        return;
    }
    /* rows of one sample are in recipient order; the k-th row is our k-th record (a few
     * tables repeat an index) */
    size_t want = 0;
    bool loose = false;
    for (size_t i = 0; i < nrows; i++)
        if (strcmp(rows[i].sample, sample) == 0) {
            want++;
            if (rows[i].index == 0)
                loose = true;
        }
    if (loose) {
        /* dos/ and mac/ hold older variants of some samples, listed without expected
         * values (empty index): each is a bounce and must give at least one record */
        t->other_n++;
        if (b->nrcpts > 0)
            t->other_ok++;
        else
            printf("  DIFF %s: no recipient read\n", sample);
        return;
    }
    if (want == 0)
        return;
    t->rcpt_n++;
    if (b->nrcpts == want)
        t->rcpt_ok++;
    else
        printf("  DIFF %s: %zu recipients, expected %zu (kind %s, format %s)\n", sample,
               b->nrcpts, want, bounce_kind_name(b->kind), b->format);
    size_t ord = 0;
    for (size_t i = 0; i < nrows; i++) {
        const sisimai_row_t *r = &rows[i];
        if (strcmp(r->sample, sample) != 0)
            continue;
        const bounce_rcpt_t *o = ord < b->nrcpts ? &b->rcpts[ord] : NULL;
        ord++;
        if (!pseudo_status(r->status)) {
            t->st_n++;
            if (o != NULL && strcmp(o->status, r->status) == 0)
                t->st_ok++;
            else
                printf("  DIFF %s #%d: status \"%s\", expected %s [%.120s]\n", sample, r->index,
                       o ? o->status : "-", r->status, o ? o->diagnostic : "");
        }
        if (r->code[0] != '\0') {
            t->code_n++;
            if (o != NULL && o->reply_code == atoi(r->code))
                t->code_ok++;
            else
                printf("  DIFF %s #%d: reply code %d, expected %s [%.120s]\n", sample, r->index,
                       o ? o->reply_code : -1, r->code, o ? o->diagnostic : "");
        }
        if (r->feedback[0] != '\0') {
            t->fb_n++;
            if (strcmp(b->feedback_type, r->feedback) == 0)
                t->fb_ok++;
            else
                printf("  DIFF %s: feedback type \"%s\", expected %s\n", sample, b->feedback_type,
                       r->feedback);
        }
    }
}

static void run_buffer(tally_t *t, const char *sample, const unsigned char *buf, size_t len)
{
    arena_t *a = arena_new();
    bounce_t b;
    t->msgs++;
    int rc = bounce_parse(buf, len, a, &b);
    /* mailbox/size-1 and size-2 hold a lone space and "22": not mail, to be refused */
    if (strncmp(sample, "mailbox/size-", 13) == 0) {
        if (rc != -1) {
            t->parse_fail++;
            printf("  FAIL %s: not a message, but bounce_parse returned %d\n", sample, rc);
        }
        arena_free(a);
        return;
    }
    if (rc != 0) {
        t->parse_fail++;
        printf("  FAIL %s: bounce_parse returned %d\n", sample, rc);
    } else {
        judge(t, sample, &b);
    }
    arena_free(a);
}

/*
 * A maildir file holding several messages one after another (an mbox: the command reads it
 * with mbox_split() as well) counts as one sample whose records are those of every message
 * in order.
 */
static void run_file(tally_t *t, const char *sample, const unsigned char *buf, size_t len)
{
    arena_t *a = arena_new();
    mbox_msg_t *m;
    const char *err = NULL;
    long n = mbox_split(buf, len, a, &m, &err);
    if (n <= 1) {
        arena_free(a);
        run_buffer(t, sample, buf, len);
        return;
    }
    t->msgs++;
    bounce_t all;
    memset(&all, 0, sizeof all);
    size_t cap = 0;
    for (long i = 0; i < n; i++) {
        bounce_t b;
        if (bounce_parse(m[i].data, m[i].len, a, &b) != 0) {
            t->parse_fail++;
            printf("  FAIL %s#%ld: bounce_parse failed\n", sample, i + 1);
            continue;
        }
        if (all.format == NULL || (all.nrcpts == 0 && b.nrcpts > 0)) {
            bounce_rcpt_t *keep = all.rcpts;
            size_t kn = all.nrcpts;
            all = b;
            all.rcpts = keep;
            all.nrcpts = kn;
        }
        if (all.nrcpts + b.nrcpts > cap) {
            cap = (all.nrcpts + b.nrcpts) * 2;
            bounce_rcpt_t *v = arena_calloc(a, cap, sizeof *v);
            if (all.nrcpts > 0)
                memcpy(v, all.rcpts, all.nrcpts * sizeof *v);
            all.rcpts = v;
        }
        if (b.nrcpts > 0)
            memcpy(all.rcpts + all.nrcpts, b.rcpts, b.nrcpts * sizeof *b.rcpts);
        all.nrcpts += b.nrcpts;
    }
    if (all.format != NULL)
        judge(t, sample, &all);
    arena_free(a);
}

typedef struct corpus_walk {
    tally_t t;
    size_t box_msgs[SISIMAI_NBOXES]; /* messages of each mbox file */
    size_t nerr;                     /* files of maildir/err */
} corpus_walk_t;

static void run_sample(const sisimai_sample_t *s, void *ctx)
{
    corpus_walk_t *w = ctx;
    if (s->box >= 0) {
        w->box_msgs[s->box]++;
        run_buffer(&w->t, s->name, s->data, s->len);
        return;
    }
    w->t.files++;
    if (strncmp(s->name, "maildir/err/", 12) == 0) w->nerr++;
    run_file(&w->t, s->name, s->data, s->len);
}

static void test_corpus(void **state)
{
    (void)state;
    char path[2048];
    struct stat st;
    snprintf(path, sizeof path, "%s/set-of-emails/maildir", sisimai_dir());
    if (stat(path, &st) != 0) {
        printf("SKIPPED: the sisimai bounce corpus test: %s not found\n", path);
        skip();
        return;
    }
    long n = sisimai_expected(&rows);
    nrows = n > 0 ? (size_t)n : 0;
    if (n < 0)
        printf("note: %s/expected.tsv not found: only checking that every message parses\n",
               sisimai_dir());
    corpus_walk_t w;
    memset(&w, 0, sizeof w);
    const char *err = NULL;
    if (sisimai_for_each_sample(run_sample, &w, &err) < 0)
        fail_msg("%s", err);
    tally_t t = w.t;
    size_t box_msgs = 0;
    for (size_t k = 0; k < SISIMAI_NBOXES; k++) {
        printf("  %s: %zu messages\n", sisimai_boxes[k], w.box_msgs[k]);
        box_msgs += w.box_msgs[k];
    }
    /* maildir/err holds mbox-0 split into single messages */
    if (w.box_msgs[0] != w.nerr)
        fail_msg("mbox-0: %zu messages, but maildir/err holds %zu", w.box_msgs[0], w.nerr);
    printf("corpus: %zu files + %zu mbox messages read, %zu failures\n", t.files, box_msgs,
           t.parse_fail);
#define RATE(ok, n) ((n) ? 100.0 * (double)(ok) / (double)(n) : 100.0)
    printf("  recipient count agrees: %zu/%zu (%.1f%%)\n", t.rcpt_ok, t.rcpt_n, RATE(t.rcpt_ok, t.rcpt_n));
    printf("  status (real codes) agrees: %zu/%zu (%.1f%%)\n", t.st_ok, t.st_n, RATE(t.st_ok, t.st_n));
    printf("  reply code agrees: %zu/%zu (%.1f%%)\n", t.code_ok, t.code_n, RATE(t.code_ok, t.code_n));
    printf("  ARF feedback type agrees: %zu/%zu (%.1f%%)\n", t.fb_ok, t.fb_n, RATE(t.fb_ok, t.fb_n));
    printf("  not-a-bounce samples read as such: %zu/%zu\n", t.not_ok, t.not_n);
    printf("  dos/mac variants without expectations read with recipients: %zu/%zu\n", t.other_ok,
           t.other_n);
    assert_int_equal(t.parse_fail, 0);
    if (nrows > 0) {
        assert_true(RATE(t.rcpt_ok, t.rcpt_n) >= 100.0 * MIN_RCPT_AGREE);
        assert_true(RATE(t.st_ok, t.st_n) >= 100.0 * MIN_STATUS_AGREE);
        assert_true(RATE(t.code_ok, t.code_n) >= 100.0 * MIN_CODE_AGREE);
        assert_true(RATE(t.fb_ok, t.fb_n) >= 100.0 * MIN_FEEDBACK_AGREE);
        assert_int_equal(t.not_ok, t.not_n);
        assert_int_equal(t.other_ok, t.other_n);
    }
#undef RATE
    sisimai_expected_free(rows, (long)nrows);
    rows = NULL;
    nrows = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),     cmocka_unit_test(test_dsn_details),
        cmocka_unit_test(test_commands), cmocka_unit_test(test_list_refusal),
        cmocka_unit_test(test_attached_reports), cmocka_unit_test(test_failure_pair),
        cmocka_unit_test(test_not_mail),  cmocka_unit_test(test_rcpt_cap),
        cmocka_unit_test(test_nul_in_part), cmocka_unit_test(test_sanitised),
        cmocka_unit_test(test_iso2022jp), cmocka_unit_test(test_broken_fold),
        cmocka_unit_test(test_mbox_split), cmocka_unit_test(test_maildir),
        cmocka_unit_test(test_corpus),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bounce_shutdown();
    return rc;
}
