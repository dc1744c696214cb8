/*
 * test_explain_reply: the reply and log-line parser, table-driven. Each case gives the
 * input and every field expected; fields not named in a case must be empty. The log lines
 * follow the formats Postfix, Exim and Sendmail write (addresses and hosts are in the
 * documentation ranges); the replies are the texts real servers send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/reply.h"
#include "util/arena.h"

typedef struct rcase {
    const char *in;
    int rc;
    reply_form_t form;
    int code;
    const char *enhanced;
    const char *text;
    const char *recipient, *remote_name, *remote_ip;
    const char *client_name, *client_ip, *helo, *sender;
    const char *command;
    ex_action_t action;
} rcase_t;

#define NONE NULL, NULL, NULL, NULL, NULL, NULL, NULL

static const rcase_t cases[] = {
    /* bare replies */
    {"550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown", 0, REPLY_FORM_SMTP,
     550, "5.1.1", "<bob@example.com>: Recipient address rejected: User unknown", NONE, NULL,
     EX_ACTION_FAILED},
    {"554 Transaction failed", 0, REPLY_FORM_SMTP, 554, NULL, "Transaction failed", NONE, NULL,
     EX_ACTION_FAILED},
    {"421\r\n", 0, REPLY_FORM_SMTP, 421, NULL, NULL, NONE, NULL, EX_ACTION_DELAYED},
    {"  452 4.2.2   The email account   is over quota.  ", 0, REPLY_FORM_SMTP, 452, "4.2.2",
     "The email account is over quota.", NONE, NULL, EX_ACTION_DELAYED},
    /* multi-line: codes stripped, lines joined by one space */
    {"550-5.7.26 This mail is unauthenticated, which poses a security risk to the\r\n"
     "550-5.7.26 sender and Gmail users, and has been blocked.\r\n"
     "550 5.7.26 https://support.google.com/mail/answer/81126 x1si - gsmtp\r\n",
     0, REPLY_FORM_SMTP, 550, "5.7.26",
     "This mail is unauthenticated, which poses a security risk to the sender and Gmail "
     "users, and has been blocked. https://support.google.com/mail/answer/81126 x1si - gsmtp",
     NONE, NULL, EX_ACTION_FAILED},
    /* the command by the names of reason.h: BDAT is its own, LMTP's LHLO is EHLO */
    {"550 5.7.1 Message rejected (in reply to BDAT command)", 0, REPLY_FORM_SMTP, 550, "5.7.1",
     "Message rejected", NONE, "BDAT", EX_ACTION_FAILED},
    {"421 4.3.0 Server busy (in reply to LHLO command)", 0, REPLY_FORM_SMTP, 421, "4.3.0",
     "Server busy", NONE, "EHLO", EX_ACTION_DELAYED},
    {"554 5.7.1 Go away (in reply to initial greeting)", 0, REPLY_FORM_SMTP, 554, "5.7.1",
     "Go away", NONE, "CONN", EX_ACTION_FAILED},
    /* without enhanced codes; a following reply with another code is not joined */
    {"421-mx.example.net busy\n421 try again later\n250 ok\n", 0, REPLY_FORM_SMTP, 421, NULL,
     "mx.example.net busy try again later", NONE, NULL, EX_ACTION_DELAYED},
    /* a bounce paste: prose first, then the reply behind "host x said:", wrapped */
    {"This is the mail system at host mail.example.org.\n\n"
     "<bob@example.com>: host mx.example.com[192.0.2.10] said: 550 5.7.1\n"
     "    Message rejected as spam (in reply to end of DATA command)\n",
     0, REPLY_FORM_SMTP, 550, "5.7.1", "Message rejected as spam", "bob@example.com",
     "mx.example.com", "192.0.2.10", NULL, NULL, NULL, NULL, "DATA", EX_ACTION_FAILED},
    /* Postfix joins multi-line replies into one line, codes kept */
    {"host gmail-smtp-in.l.google.com[2001:db8::1b] said: 550-5.7.1 [2001:db8::5] Our "
     "system has detected 550-5.7.1 that this message is likely unsolicited 550 5.7.1 mail. "
     "- gsmtp (in reply to end of DATA command)",
     0, REPLY_FORM_SMTP, 550, "5.7.1",
     "[2001:db8::5] Our system has detected that this message is likely unsolicited mail. - gsmtp",
     NULL, "gmail-smtp-in.l.google.com", "2001:db8::1b", NULL, NULL, NULL, NULL, "DATA",
     EX_ACTION_FAILED},
    /* numbers inside the text are not codes */
    {"552 5.3.4 Message size exceeds fixed limit of 550 000 bytes", 0, REPLY_FORM_SMTP, 552,
     "5.3.4", "Message size exceeds fixed limit of 550 000 bytes", NONE, NULL, EX_ACTION_FAILED},
    {"250 2.0.0 Ok: queued as 4XyZ", 0, REPLY_FORM_SMTP, 250, "2.0.0", "Ok: queued as 4XyZ", NONE,
     NULL, EX_ACTION_DELIVERED},
    /* control bytes become spaces */
    {"550 5.7.1 bad\x01\x7f"
     "bytes\there",
     0, REPLY_FORM_SMTP, 550, "5.7.1", "bad bytes here", NONE, NULL, EX_ACTION_FAILED},

    /* Postfix smtp */
    {"Nov 22 10:00:00 mail postfix/smtp[4321]: 4AbCdE: to=<bob@example.com>, "
     "relay=mx.example.com[192.0.2.10]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, "
     "status=bounced (host mx.example.com[192.0.2.10] said: 550 5.1.1 <bob@example.com>: "
     "Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO "
     "command))",
     0, REPLY_FORM_POSTFIX_SMTP, 550, "5.1.1",
     "<bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
     "bob@example.com", "mx.example.com", "192.0.2.10", NULL, NULL, NULL, NULL, "RCPT",
     EX_ACTION_FAILED},
    {"Nov 22 10:00:00 mail postfix/smtp[4321]: 4AbCdE: to=<bob@example.com>, "
     "relay=none, delay=300, delays=300/0/0/0, dsn=4.4.1, status=deferred (connect to "
     "mx.example.com[192.0.2.10]:25: Connection timed out)",
     0, REPLY_FORM_POSTFIX_SMTP, 0, "4.4.1",
     "connect to mx.example.com[192.0.2.10]:25: Connection timed out", "bob@example.com", NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, EX_ACTION_DELAYED},
    {"Nov 22 10:00:00 mail postfix/smtp[4321]: 4AbCdE: to=<bob@example.com>, "
     "relay=mx.example.com[192.0.2.10]:25, delay=2, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
     "queued as 7XyZ)",
     0, REPLY_FORM_POSTFIX_SMTP, 250, "2.0.0", "Ok: queued as 7XyZ", "bob@example.com",
     "mx.example.com", "192.0.2.10", NULL, NULL, NULL, NULL, NULL, EX_ACTION_DELIVERED},
    {"Nov 22 10:00:00 mail postfix/smtp[4321]: 4AbCdE: to=<bob@example.com>, "
     "relay=mx.example.com[192.0.2.10]:25, delay=2, dsn=4.7.0, status=deferred (host "
     "mx.example.com[192.0.2.10] refused to talk to me: 421 4.7.0 Try again later)",
     0, REPLY_FORM_POSTFIX_SMTP, 421, "4.7.0", "Try again later", "bob@example.com",
     "mx.example.com", "192.0.2.10", NULL, NULL, NULL, NULL, NULL, EX_ACTION_DELAYED},
    /* Postfix smtpd and postscreen */
    {"Nov 22 10:00:00 mx postfix/smtpd[99]: NOQUEUE: reject: RCPT from "
     "unknown[192.0.2.7]: 554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked "
     "using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.7; "
     "from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<PC01>",
     0, REPLY_FORM_POSTFIX_SMTPD, 554, "5.7.1",
     "Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org; "
     "https://www.spamhaus.org/query/ip/192.0.2.7",
     "b@example.net", NULL, NULL, NULL, "192.0.2.7", "PC01", "a@example.org", "RCPT",
     EX_ACTION_FAILED},
    {"Nov 22 10:00:00 mx postfix/smtpd[99]: NOQUEUE: reject: RCPT from "
     "host.example.org[192.0.2.8]: 450 4.7.25 Client host rejected: cannot find your "
     "hostname, [192.0.2.8]; from=<> to=<b@example.net> proto=ESMTP helo=<host.example.org>",
     0, REPLY_FORM_POSTFIX_SMTPD, 450, "4.7.25",
     "Client host rejected: cannot find your hostname, [192.0.2.8]", "b@example.net", NULL, NULL,
     "host.example.org", "192.0.2.8", "host.example.org", NULL, "RCPT", EX_ACTION_DELAYED},
    {"Nov 22 10:00:00 mx postfix/postscreen[77]: NOQUEUE: reject: RCPT from "
     "[192.0.2.9]:51234: 550 5.7.1 Service unavailable; client [192.0.2.9] blocked using "
     "bl.spamcop.net; from=<a@example.org>, to=<b@example.net>, proto=ESMTP, helo=<x>",
     0, REPLY_FORM_POSTFIX_SMTPD, 550, "5.7.1",
     "Service unavailable; client [192.0.2.9] blocked using bl.spamcop.net", "b@example.net", NULL,
     NULL, NULL, "192.0.2.9", "x", "a@example.org", "RCPT", EX_ACTION_FAILED},
    {"Nov 22 10:00:00 mx postfix/cleanup[55]: 4AbCdE: reject: header Subject: win big from "
     "host.example.org[192.0.2.8]; from=<a@example.org> to=<b@example.net> proto=ESMTP "
     "helo=<host.example.org>: 5.7.1 message content rejected",
     0, REPLY_FORM_POSTFIX_SMTPD, 0, "5.7.1", "message content rejected", "b@example.net", NULL,
     NULL, "host.example.org", "192.0.2.8", "host.example.org", "a@example.org", "DATA",
     EX_ACTION_FAILED},
    /* smtpd logs "HELO" whichever of HELO and EHLO the client sent: the command is HELO */
    {"Nov 22 10:00:00 mx postfix/smtpd[99]: NOQUEUE: reject: HELO from "
     "unknown[192.0.2.7]: 550 5.7.1 <bad>: Helo command rejected: Host not found; "
     "from=<a@example.org> proto=ESMTP helo=<bad>",
     0, REPLY_FORM_POSTFIX_SMTPD, 550, "5.7.1", "<bad>: Helo command rejected: Host not found",
     NULL, NULL, NULL, NULL, "192.0.2.7", "bad", "a@example.org", "HELO", EX_ACTION_FAILED},
    /* Exim */
    {"2024-01-01 12:00:00 1rAbCd-000123-AB ** bob@example.org R=dnslookup T=remote_smtp "
     "H=mx.example.org [192.0.2.9] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error "
     "from remote mail server after RCPT TO:<bob@example.org>: 550 5.1.1 <bob@example.org>: "
     "Recipient address rejected: User unknown",
     0, REPLY_FORM_EXIM, 550, "5.1.1",
     "<bob@example.org>: Recipient address rejected: User unknown", "bob@example.org",
     "mx.example.org", "192.0.2.9", NULL, NULL, NULL, NULL, "RCPT", EX_ACTION_FAILED},
    {"2024-01-01 12:00:00 1rAbCd-000123-AB == bob@example.org R=dnslookup T=remote_smtp "
     "defer (-44) H=mx.example.org [192.0.2.9]: SMTP error from remote mail server after "
     "end of data: 451 4.7.1 Please try again later",
     0, REPLY_FORM_EXIM, 451, "4.7.1", "Please try again later", "bob@example.org",
     "mx.example.org", "192.0.2.9", NULL, NULL, NULL, NULL, "DATA", EX_ACTION_DELAYED},
    {"2024-01-01 12:00:00 1rAbCd-000123-AB ** nobody@nonexistent.example: Unrouteable "
     "address",
     0, REPLY_FORM_EXIM, 0, NULL, "Unrouteable address", "nobody@nonexistent.example", NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, EX_ACTION_FAILED},
    {"2024-01-01 12:00:00 H=(PC01) [192.0.2.5]:4433 F=<a@example.org> rejected RCPT "
     "<c@example.net>: relay not permitted",
     0, REPLY_FORM_EXIM_REJECT, 0, NULL, "relay not permitted", "c@example.net", NULL, NULL, NULL,
     "192.0.2.5", "PC01", "a@example.org", "RCPT", EX_ACTION_FAILED},
    {"2024-01-01 12:00:00 H=host.example.org (helo.example.org) [192.0.2.6] "
     "F=<a@example.org> temporarily rejected RCPT <c@example.net>: greylisted",
     0, REPLY_FORM_EXIM_REJECT, 0, NULL, "greylisted", "c@example.net", NULL, NULL,
     "host.example.org", "192.0.2.6", "helo.example.org", "a@example.org", "RCPT",
     EX_ACTION_DELAYED},
    {"2024-01-01 12:00:00 rejected EHLO from [192.0.2.5]: syntactically invalid argument(s): "
     "bad_name",
     0, REPLY_FORM_EXIM_REJECT, 0, NULL, "syntactically invalid argument(s): bad_name", NULL, NULL,
     NULL, NULL, "192.0.2.5", NULL, NULL, "EHLO", EX_ACTION_FAILED},
    /* Sendmail */
    {"Jan  1 00:00:00 h sm-mta[1]: x01AbC: ruleset=check_relay, arg1=host.example.org, "
     "relay=host.example.org [192.0.2.4], reject=554 5.7.1 Rejected: 192.0.2.4 listed",
     0, REPLY_FORM_SENDMAIL_REJECT, 554, "5.7.1", "Rejected: 192.0.2.4 listed", NULL, NULL, NULL,
     "host.example.org", "192.0.2.4", NULL, NULL, "CONN", EX_ACTION_FAILED},
    {"Jan  1 00:00:00 h sm-mta[1]: x01AbC: to=<a@example.com>, delay=00:00:01, "
     "xdelay=00:00:01, mailer=esmtp, pri=120, relay=mx.example.com. [192.0.2.3], dsn=5.1.1, "
     "stat=User unknown",
     0, REPLY_FORM_SENDMAIL, 0, "5.1.1", "User unknown", "a@example.com", "mx.example.com",
     "192.0.2.3", NULL, NULL, NULL, NULL, NULL, EX_ACTION_FAILED},
    {"Jan  1 00:00:00 h sendmail[1]: x01AbC: to=a@example.com, delay=00:00:01, mailer=esmtp, "
     "pri=120, relay=mx.example.com. [192.0.2.3], dsn=4.0.0, stat=Deferred: 421 4.7.0 "
     "Try again later",
     0, REPLY_FORM_SENDMAIL, 421, "4.7.0", "Try again later", "a@example.com", "mx.example.com",
     "192.0.2.3", NULL, NULL, NULL, NULL, NULL, EX_ACTION_DELAYED},
    {"Jan  1 00:00:00 h sm-mta[1]: x01AbC: ruleset=check_rcpt, arg1=<a@example.com>, "
     "relay=c.example.org [192.0.2.4], reject=550 5.7.1 <a@example.com>... Relaying denied",
     0, REPLY_FORM_SENDMAIL_REJECT, 550, "5.7.1", "<a@example.com>... Relaying denied",
     "a@example.com", NULL, NULL, "c.example.org", "192.0.2.4", NULL, NULL, "RCPT",
     EX_ACTION_FAILED},
    {"Jan  1 00:00:00 h sm-mta[1]: x01AbC: ruleset=check_mail, arg1=<s@bad.example>, "
     "relay=[192.0.2.4], reject=553 5.1.8 <s@bad.example>... Domain of sender address "
     "s@bad.example does not exist",
     0, REPLY_FORM_SENDMAIL_REJECT, 553, "5.1.8",
     "<s@bad.example>... Domain of sender address s@bad.example does not exist", NULL, NULL, NULL,
     NULL, "192.0.2.4", NULL, "s@bad.example", "MAIL", EX_ACTION_FAILED},

    /* a reply that quotes log keywords stays a reply */
    {"550 5.7.1 Message rejected from [192.0.2.1] H=x; NOQUEUE: reject: RCPT from y", 0,
     REPLY_FORM_SMTP, 550, "5.7.1",
     "Message rejected from [192.0.2.1] H=x; NOQUEUE: reject: RCPT from y", NONE, NULL,
     EX_ACTION_FAILED},
    {"554 5.7.1 a == b and c ** d status= to=<x>", 0, REPLY_FORM_SMTP, 554, "5.7.1",
     "a == b and c ** d status= to=<x>", NONE, NULL, EX_ACTION_FAILED},
    /* a DSN field */
    {"Diagnostic-Code: smtp; 550 5.1.1 <a@example.net>: Recipient address rejected", 0,
     REPLY_FORM_SMTP, 550, "5.1.1", "<a@example.net>: Recipient address rejected", NONE, NULL,
     EX_ACTION_FAILED},

    /* no reply in it */
    {"", -1, REPLY_FORM_SMTP, 0, NULL, NULL, NONE, NULL, EX_ACTION_UNKNOWN},
    {"\n\n  \n", -1, REPLY_FORM_SMTP, 0, NULL, NULL, NONE, NULL, EX_ACTION_UNKNOWN},
    {"hello world, nothing here", -1, REPLY_FORM_SMTP, 0, NULL, NULL, NONE, NULL,
     EX_ACTION_UNKNOWN},
    {"Nov 22 10:00:00 mx postfix/qmgr[1]: 4AbCdE: removed", -1, REPLY_FORM_SMTP, 0, NULL, NULL,
     NONE, NULL, EX_ACTION_UNKNOWN},
    {"600 not a code", -1, REPLY_FORM_SMTP, 0, NULL, NULL, NONE, NULL, EX_ACTION_UNKNOWN},
    {"5500 nope", -1, REPLY_FORM_SMTP, 0, NULL, NULL, NONE, NULL, EX_ACTION_UNKNOWN},
    {"55 short", -1, REPLY_FORM_SMTP, 0, NULL, NULL, NONE, NULL, EX_ACTION_UNKNOWN},
};

static void expect_str(const char *what, const char *got, const char *want, size_t i)
{
    if (want == NULL) want = "";
    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("case %zu: %s: got \"%s\", want \"%s\"", i, what, got, want);
}

static void test_table(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const rcase_t *k = &cases[i];
        /* a copy without a NUL, so that a read past the end shows under the sanitizers */
        size_t n = strlen(k->in);
        char *buf = malloc(n > 0 ? n : 1);
        memcpy(buf, k->in, n);
        reply_t r;
        int rc = reply_parse(buf, n, a, &r);
        if (rc != k->rc) fail_msg("case %zu: rc %d, want %d", i, rc, k->rc);
        if (rc == 0) {
            if (r.form != k->form)
                fail_msg("case %zu: form %s, want %s", i, reply_form_name(r.form),
                         reply_form_name(k->form));
            if (r.code != k->code) fail_msg("case %zu: code %d, want %d", i, r.code, k->code);
            if (r.action != k->action)
                fail_msg("case %zu: action %d, want %d", i, r.action, k->action);
        }
        expect_str("enhanced", r.enhanced, k->enhanced, i);
        expect_str("text", r.text, k->text, i);
        assert_int_equal(r.text_len, strlen(r.text));
        expect_str("recipient", r.recipient, k->recipient, i);
        expect_str("remote_name", r.remote_name, k->remote_name, i);
        expect_str("remote_ip", r.remote_ip, k->remote_ip, i);
        expect_str("client_name", r.client_name, k->client_name, i);
        expect_str("client_ip", r.client_ip, k->client_ip, i);
        expect_str("helo", r.helo, k->helo, i);
        expect_str("sender", r.sender, k->sender, i);
        expect_str("command", r.command, k->command, i);
        free(buf);
        arena_reset(a);
    }
    arena_free(a);
}

static void test_limits(void **state)
{
    (void)state;
    arena_t *a = arena_new();
    reply_t r;
    /* NULL and over-long input */
    assert_int_equal(reply_parse(NULL, 10, a, &r), -1);
    size_t big = REPLY_INPUT_MAX + 1;
    char *buf = malloc(big);
    memset(buf, 'x', big);
    memcpy(buf, "550 5.1.1 ", 10);
    assert_int_equal(reply_parse(buf, big, a, &r), -1);
    assert_string_equal(r.text, "");
    /* at the limit: accepted, text cut at REPLY_TEXT_MAX */
    assert_int_equal(reply_parse(buf, REPLY_INPUT_MAX, a, &r), 0);
    assert_int_equal(r.code, 550);
    assert_true(r.text_len <= REPLY_TEXT_MAX);
    assert_true(r.text_len > REPLY_TEXT_MAX - 16);
    free(buf);
    /* more continuation lines than REPLY_LINES_MAX: the rest is dropped */
    size_t cap = (REPLY_LINES_MAX + 10) * 16;
    char *ml = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < REPLY_LINES_MAX + 10; i++)
        n += (size_t)snprintf(ml + n, cap - n, "550-5.7.1 L%03d\n", i);
    assert_int_equal(reply_parse(ml, n, a, &r), 0);
    assert_non_null(strstr(r.text, "L000"));
    assert_non_null(strstr(r.text, "L063"));
    assert_null(strstr(r.text, "L064"));
    free(ml);
    /* a field over REPLY_FIELD_MAX is dropped, not cut */
    char line[2048];
    char longaddr[REPLY_FIELD_MAX + 50];
    memset(longaddr, 'a', sizeof longaddr - 1);
    longaddr[sizeof longaddr - 1] = '\0';
    snprintf(line, sizeof line,
             "postfix/smtp[1]: X: to=<%s@example.com>, relay=mx.example.com[192.0.2.1]:25, "
             "dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 no)",
             longaddr);
    assert_int_equal(reply_parse(line, strlen(line), a, &r), 0);
    assert_string_equal(r.recipient, "");
    assert_string_equal(r.remote_name, "mx.example.com");
    /* an enhanced code with a detail over three digits is not one */
    assert_int_equal(reply_parse("550 5.1.1000 x", 14, a, &r), 0);
    assert_string_equal(r.enhanced, "");
    /* a NUL byte inside the input is data, not an end */
    static const char nul[] = "550 5.7.1 before\0after";
    assert_int_equal(reply_parse(nul, sizeof nul - 1, a, &r), 0);
    assert_string_equal(r.text, "before after");
    /* truncated log lines: refused with empty fields, but for a Sendmail reject whose
     * ruleset still says what was refused (no code, no text) */
    static const struct {
        const char *in;
        int rc;
        reply_form_t form;
        const char *command;
        ex_action_t action;
    } cut[] = {
        {"postfix/smtp[1]: X: to=<a@b", -1, REPLY_FORM_SMTP, "", EX_ACTION_UNKNOWN},
        {"NOQUEUE: reject: RCPT from x[", -1, REPLY_FORM_SMTP, "", EX_ACTION_UNKNOWN},
        {"** a@b R=x H=", -1, REPLY_FORM_SMTP, "", EX_ACTION_UNKNOWN},
        {"ruleset=check_rcpt, reject=", 0, REPLY_FORM_SENDMAIL_REJECT, "RCPT",
         EX_ACTION_FAILED},
        {"x: to=<a@b>, status=", -1, REPLY_FORM_SMTP, "", EX_ACTION_UNKNOWN},
        {"H=(x) [1.2.3.4] rejected ", -1, REPLY_FORM_SMTP, "", EX_ACTION_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        assert_int_equal(reply_parse(cut[i].in, strlen(cut[i].in), a, &r), cut[i].rc);
        assert_int_equal(r.form, cut[i].form);
        assert_int_equal(r.code, 0);
        assert_string_equal(r.enhanced, "");
        assert_string_equal(r.text, "");
        assert_int_equal(r.text_len, 0);
        assert_string_equal(r.command, cut[i].command);
        assert_int_equal(r.action, cut[i].action);
        const char *fields[] = {r.recipient, r.remote_name, r.remote_ip, r.client_name,
                                r.client_ip, r.helo,        r.sender};
        for (size_t k = 0; k < sizeof fields / sizeof *fields; k++)
            assert_string_equal(fields[k], "");
    }
    arena_free(a);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(reply_form_name(REPLY_FORM_SMTP), "smtp");
    assert_string_equal(reply_form_name(REPLY_FORM_POSTFIX_SMTPD), "postfix-smtpd");
    assert_string_equal(reply_form_name(REPLY_FORM_SENDMAIL_REJECT), "sendmail-reject");
    assert_string_equal(ex_action_name(EX_ACTION_DELAYED), "delayed");
    assert_string_equal(ex_action_name(EX_ACTION_UNKNOWN), "");
}

/* reply_strip_codes: the one stripper of joined reply lines (the reply and the bounce path) */
static void test_strip_codes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int code;
        const char *enhanced, *out;
    } t[] = {
        {"550-5.7.26 a 550-5.7.26 b 550 5.7.26 c", 550, "5.7.26", "a b c"},
        {"550-Line one 550 Line two", 550, "", "Line one Line two"},
        {"was: 550 user unknown (state 14).", 550, "5.1.1", "was: user unknown (state 14)."},
        {"550 5.1.1 <a@b>: unknown", 550, "5.1.1", "<a@b>: unknown"},
        /* another status after the code is not a line of this reply: kept */
        {"one 550 5.7.1 quoted", 550, "5.1.1", "one 550 5.7.1 quoted"},
        /* other codes, and the code inside a word or a number, stay */
        {"421 4.4.2 timed out; x550 y 5501 z", 550, "5.1.1", "421 4.4.2 timed out; x550 y 5501 z"},
        {"550 5.1.1 a  ", 0, "", "550 5.1.1 a  "},
        {"550", 550, "", "550"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char buf[128];
        size_t n = strlen(t[i].in);
        memcpy(buf, t[i].in, n);
        n = reply_strip_codes(buf, n, t[i].code, t[i].enhanced);
        buf[n] = '\0';
        assert_string_equal(buf, t[i].out);
    }
}

/* ex_status_at: the one reader of "c.s.d" (reply, bounce and classify use it) */
static void test_status_at(void **state)
{
    (void)state;
    ex_status_t st;
    assert_int_equal(ex_status_at("550 5.7.26 x", 12, 4, &st), 6);
    assert_int_equal(st.cls, '5');
    assert_int_equal(st.subject, 7);
    assert_int_equal(st.detail, 26);
    assert_int_equal(ex_status_at("4.999.0", 7, 0, &st), 7);
    assert_int_equal(st.subject, 999);
    assert_int_equal(ex_status_at("4.1000.0", 8, 0, NULL), 0); /* four digits */
    assert_int_equal(ex_status_at("5.1.1234", 8, 0, NULL), 0);
    assert_int_equal(ex_status_at("3.1.1", 5, 0, NULL), 0); /* no class 3 */
    assert_int_equal(ex_status_at("5.1.", 4, 0, NULL), 0);
    assert_int_equal(ex_status_at("5.1.1", 3, 0, NULL), 0); /* bounded by n, not the NUL */
    assert_int_equal(ex_status_at("5.1.1.2", 7, 0, NULL), 5); /* what follows is the caller's */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_strip_codes),
        cmocka_unit_test(test_status_at),
    };
    return cmocka_run_group_tests_name("explain_reply", tests, NULL, NULL);
}
