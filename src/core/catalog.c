/*
 * catalog: see catalog.h. Codes follow Postfix's choices for the same checks where Postfix
 * has one (invalid HELO 501 5.5.2, non-FQDN 504 5.5.2, blocklists 554 5.7.1, size 552 5.3.4),
 * RFC 7372 for reverse DNS (5.7.25) and SPF (5.7.23 fail, 5.7.24 permerror and temperror),
 * RFC 7505 for null MX (5.7.27) and RFC 3463 for address
 * syntax (5.1.3 recipient, 5.1.7 sender, 5.1.8 sender's system).
 */
#include "core/catalog.h"

#include <string.h>

#include "util/str.h"

static const catalog_entry_t entries[F_COUNT] = {
    {F_HELO_MISSING, "helo.missing", STAGE_MAIL, 503, "5.5.1", ACTION_REJECT,
     "no HELO/EHLO was sent before MAIL",
     "RFC 5321 section 4.1.1.1 requires a client to open the session with EHLO or HELO "
     "naming itself. Mail servers always do; a client that skips it is a script or a bot.",
     "Make the sending program send EHLO with the server's fully qualified host name "
     "before MAIL FROM.",
     "no legitimate MTA omits HELO"},
    {F_HELO_SYNTAX, "helo.syntax", STAGE_HELO, 501, "5.5.2", ACTION_REJECT,
     "the HELO name is not a valid host name or address literal",
     "The EHLO/HELO argument must be a fully qualified domain name or an address literal in "
     "brackets such as [192.0.2.1] (RFC 5321 sections 2.3.5 and 4.1.3). A bare IP address, "
     "underscores or other characters outside letters, digits and hyphens, or labels longer "
     "than 63 characters are invalid.",
     "Set the sending server's HELO name (Postfix: smtp_helo_name, Exchange: the connector's "
     "FQDN) to its public host name, the one its IP address's PTR record names.",
     "an invalid HELO is a protocol violation; Postfix's reject_invalid_helo_hostname is "
     "widely used without harm"},
    {F_HELO_NOT_FQDN, "helo.not_fqdn", STAGE_HELO, 504, "5.5.2", ACTION_REJECT,
     "the HELO name is not fully qualified",
     "The HELO name is a single label such as \"localhost\" or a Windows machine name. "
     "RFC 5321 section 4.1.1.1 requires the client's fully qualified domain name.",
     "Set the HELO name to the server's fully qualified public host name, e.g. "
     "mail.example.com.",
     "servers send a full name; single labels come from misconfigured PCs and bots (clients "
     "that authenticate are exempt)"},
    {F_HELO_IP_LITERAL_MISMATCH, "helo.ip_literal_mismatch", STAGE_HELO, 550, "5.7.1",
     ACTION_REJECT, "the HELO address literal is not the client's address",
     "The client said HELO with an address literal such as [192.0.2.1] that is not the "
     "address it connects from: it claims to be another machine.",
     "Use the server's own host name as HELO name, or at least its own public address.",
     "a literal naming another address is a forgery"},
    {F_HELO_NO_DNS, "helo.no_dns", STAGE_HELO, 550, "5.7.1", ACTION_REJECT,
     "the HELO name does not exist in DNS",
     "The host name given in HELO has no A, AAAA or MX record, so it cannot be the public "
     "name of a mail server.",
     "Publish an A (and AAAA for IPv6) record for the HELO name, or change the HELO name to "
     "one that has them, ideally the name in the IP address's PTR record.",
     "a mail server's HELO name should resolve; only a definite NXDOMAIN/NODATA rejects, a "
     "DNS failure defers"},
    {F_HELO_FORGED_SELF, "helo.forged_self", STAGE_HELO, 550, "5.7.1", ACTION_REJECT,
     "the client claims to be this server",
     "The HELO name is this receiver's own host name, one of its own domains or its own "
     "address. No outside server has a reason to say that; spam software does it to look "
     "local.",
     "Configure the sending server to say HELO with its own name.",
     "impersonating the receiver is always forgery (trusted networks and authenticated "
     "clients are exempt)"},
    {F_CLIENT_NO_PTR, "client.no_ptr", STAGE_CONNECT, 550, "5.7.25", ACTION_REJECT,
     "no reverse DNS (PTR) for the client address",
     "The sending IP address has no PTR record. Major receivers require every sending IP to "
     "have reverse DNS (RFC 7372 defines code 5.7.25 for this).",
     "Ask whoever controls the IP address (the hosting or network provider) to set a PTR "
     "record naming the server, e.g. mail.example.com, and publish an A/AAAA record for that "
     "name pointing back to the same address.",
     "receivers such as Gmail and Microsoft require reverse DNS; a DNS failure defers"},
    {F_CLIENT_PTR_MISMATCH, "client.ptr_mismatch", STAGE_CONNECT, 550, "5.7.25", ACTION_REJECT,
     "the client's reverse DNS does not point back to its address",
     "The PTR record of the sending IP names a host whose A/AAAA records do not include that "
     "IP (forward-confirmed reverse DNS fails), so the name cannot be trusted.",
     "Publish an A record (AAAA for IPv6) for the PTR name pointing to the sending address, "
     "or change the PTR record to a name that does.",
     "forward-confirmed reverse DNS is a common receiver requirement; any one name in the "
     "PTR set that resolves back is enough"},
    {F_CLIENT_PTR_GENERIC, "client.ptr_generic", STAGE_CONNECT, 550, "5.7.1", ACTION_REJECT,
     "the client's reverse DNS looks like an access-network (dynamic) name",
     "The PTR name looks like one an access provider assigns to home or dynamic lines: it "
     "embeds the IP address or uses tokens such as dyn, dhcp, dsl, pool or cable. Mail from "
     "such lines is almost always from infected machines.",
     "Send mail through your provider's relay or a mail server with a static address, and "
     "ask the address's owner for a PTR record with a proper server name such as "
     "mail.example.com.",
     "access-network addresses should relay through their provider; the heuristic only "
     "matches whole tokens and at least three octets of the address"},
    {F_CLIENT_PTR_LISTED, "client.ptr_listed", STAGE_CONNECT, 550, "5.7.1", ACTION_REJECT,
     "the client's reverse DNS name matches a local block pattern",
     "The PTR name matches a pattern in this receiver's own pattern file, which lists "
     "naming schemes it does not accept mail from.",
     "Send through a server whose host name is not of that scheme, or ask the receiving "
     "site's postmaster to allow your server.",
     "the operator wrote the pattern on purpose"},
    {F_CLIENT_NO_TLS, "client.no_tls", STAGE_MAIL, 530, "5.7.0", ACTION_IGNORE,
     "the client did not use TLS",
     "This receiver requires STARTTLS (RFC 3207) before mail is accepted, and the client "
     "sent without encryption.",
     "Enable opportunistic TLS on the sending server (Postfix: smtp_tls_security_level = "
     "may).",
     "off by default: RFC 3207 section 4 says a publicly referenced server must not require "
     "TLS; receivers that want it turn it on"},
    {F_CLIENT_DNSBL, "client.dnsbl", STAGE_CONNECT, 554, "5.7.1", ACTION_REJECT,
     "the client address is on a DNS blocklist",
     "The sending IP address is listed on one or more of the DNS blocklists this receiver "
     "uses, with enough weight to reach the threshold. The list's own reason is shown.",
     "Look the address up on the named list's web site, fix the cause it gives (infected "
     "machine, open relay, spam complaints) and request delisting there.",
     "the operator chose the lists; error answers such as Spamhaus 127.255.255.x never count"},
    {F_SENDER_SYNTAX, "sender.syntax", STAGE_MAIL, 553, "5.1.7", ACTION_REJECT,
     "the sender address is not valid SMTP syntax",
     "The MAIL FROM address is not a valid RFC 5321 mailbox (section 4.1.2): for example "
     "spaces or comments outside quotes, two dots in a row, or a local part over 64 octets.",
     "Fix the sending program's envelope sender address.",
     "an invalid envelope sender cannot receive bounces"},
    {F_SENDER_NO_DOMAIN, "sender.no_domain", STAGE_MAIL, 553, "5.1.7", ACTION_REJECT,
     "the sender address has no domain",
     "The MAIL FROM address has no @domain part, so no one can reply or bounce to it.",
     "Configure the sending program to use a fully qualified sender address "
     "(user@example.com); in Postfix, myorigin and append_at_myorigin.",
     "an unqualified sender is a local misconfiguration; trusted networks are exempt"},
    {F_SENDER_IP_DOMAIN, "sender.ip_domain", STAGE_MAIL, 553, "5.1.7", ACTION_REJECT,
     "the sender address uses an IP address literal as its domain",
     "The MAIL FROM domain is an address literal such as user@[192.0.2.1]. Real senders use "
     "domain names, which can publish MX, SPF and DMARC.",
     "Use a sender address in a real domain.",
     "no mail domain policy can be checked for a literal"},
    {F_SENDER_DOMAIN_UNKNOWN, "sender.domain_unknown", STAGE_MAIL, 550, "5.1.8", ACTION_REJECT,
     "the sender domain does not exist or has no mail records",
     "The MAIL FROM domain has no MX, A or AAAA record, so replies and bounces cannot be "
     "delivered (RFC 5321 section 5.1: an A/AAAA record without MX is a valid implicit MX).",
     "Publish an MX record (or at least an A record) for the sender domain, or use a sender "
     "address in a domain that has one.",
     "a sender that cannot receive bounces is forged or broken; a DNS failure defers"},
    {F_SENDER_NULL_MX, "sender.null_mx", STAGE_MAIL, 550, "5.7.27", ACTION_REJECT,
     "the sender domain publishes a null MX and accepts no mail",
     "The sender domain publishes a null MX record (\"MX 0 .\", RFC 7505): it declares that "
     "it never receives mail, so it should not send any either, and bounces could not be "
     "returned (RFC 7505 section 4.2, code 5.7.27).",
     "Send from a domain that receives mail, or replace the null MX with real MX records.",
     "RFC 7505 section 4.2 says to reject such senders"},
    {F_SENDER_FORGED_LOCAL, "sender.forged_local", STAGE_MAIL, 550, "5.7.1", ACTION_REJECT,
     "the sender uses this receiver's own domain from outside",
     "The MAIL FROM address is in one of this receiver's own domains, but the client is "
     "neither in its trusted networks nor authenticated. Local users send through "
     "authenticated submission, so this is forgery.",
     "Users of this domain must authenticate (SMTP AUTH on the submission port); services "
     "sending on its behalf must be added to the trusted networks.",
     "outside clients have no reason to use the receiver's own domains"},
    {F_SENDER_RHSBL, "sender.rhsbl", STAGE_MAIL, 554, "5.7.1", ACTION_REJECT,
     "the sender domain is on a domain blocklist",
     "The MAIL FROM domain is listed on one of the domain blocklists this receiver uses.",
     "Check the named list's web site for the reason and its delisting procedure.",
     "the operator chose the lists"},
    {F_RCPT_SYNTAX, "rcpt.syntax", STAGE_RCPT, 553, "5.1.3", ACTION_REJECT,
     "the recipient address is not valid SMTP syntax",
     "The RCPT TO address is not a valid RFC 5321 mailbox (section 4.1.2).",
     "Correct the recipient address.", "an invalid address cannot be delivered"},
    {F_RCPT_NO_DOMAIN, "rcpt.no_domain", STAGE_RCPT, 553, "5.1.3", ACTION_REJECT,
     "the recipient address has no domain", "The RCPT TO address has no @domain part.",
     "Use the full recipient address, user@example.com.",
     "unqualified recipients come from broken clients; trusted networks are exempt"},
    {F_RCPT_IP_DOMAIN, "rcpt.ip_domain", STAGE_RCPT, 553, "5.1.3", ACTION_REJECT,
     "the recipient address uses an IP address literal as its domain",
     "The RCPT TO domain is an address literal such as user@[192.0.2.1]; this receiver only "
     "accepts mail for its domain names.",
     "Address the recipient by domain name.",
     "address literals are used by spam software to probe for open relays"},
    {F_MESSAGE_TOO_BIG, "message.too_big", STAGE_MAIL, 552, "5.3.4", ACTION_REJECT,
     "the announced message size is over the limit",
     "The client announced (ESMTP SIZE, RFC 1870) a message larger than this receiver's "
     "message_size_limit.",
     "Send a smaller message: share large files through a link instead of an attachment.",
     "the message would be refused after transfer anyway; refusing at MAIL saves both sides"},
    {F_SPF_MAILFROM, "spf.mailfrom", STAGE_MAIL, 550, "5.7.23", ACTION_REJECT,
     "SPF check of the envelope sender did not pass",
     "The domain of the MAIL FROM address (or the HELO name for the null sender) publishes "
     "an SPF record (RFC 7208) listing the servers allowed to send its mail, and the client "
     "address is not among them (fail, or softfail, neutral, none where the receiver acts on "
     "those), or the record could not be used: permerror means the record is broken (syntax, "
     "more than 10 DNS-querying terms, more than 2 void lookups), temperror that its DNS "
     "could not be read.",
     "Add the sending server's address to the domain's SPF record (ip4:/ip6:, or include: of "
     "the provider that sends for it), keep the record within 10 DNS-querying terms, and "
     "check it with `mailblock spf --check-record DOMAIN`. A forwarder must rewrite the "
     "envelope sender (SRS).",
     "fail is the domain owner's own statement that the client may not send for it (RFC 7208 "
     "8.4); softfail is logged only (8.5 says not to reject on it alone); temperror defers "
     "(4.7.24, 8.6) and permerror is logged, since broken records are common and the mail "
     "may still be genuine"},
    {F_SPF_HELO, "spf.helo", STAGE_HELO, 550, "5.7.23", ACTION_REJECT,
     "SPF check of the HELO name did not pass",
     "The HELO/EHLO name publishes an SPF record (RFC 7208 section 2.3) that does not list "
     "the client address: the client claims a host name whose owner says it does not send "
     "from this address.",
     "Make the server say HELO with its own name, and give that name an SPF record such as "
     "\"v=spf1 a -all\" that matches its address.",
     "a HELO fail is the name owner's statement that the client is not that host; other "
     "results are logged at most (few HELO names publish SPF)"},
};

static const catalog_results_t results[] = {
    {F_SPF_MAILFROM,
     {-1, ACTION_REJECT, ACTION_WARN, ACTION_IGNORE, ACTION_IGNORE, ACTION_TEMPFAIL, ACTION_WARN,
      -1},
     "5.7.24",
     "4.7.24"},
    {F_SPF_HELO,
     {-1, ACTION_REJECT, ACTION_WARN, ACTION_IGNORE, ACTION_IGNORE, ACTION_WARN, ACTION_WARN, -1},
     "5.7.24",
     "4.7.24"},
};

const catalog_results_t *catalog_results(finding_id_t fid)
{
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
        if (results[i].fid == fid) return &results[i];
    return NULL;
}

const catalog_entry_t *catalog_get(finding_id_t fid)
{
    return (unsigned)fid < F_COUNT ? &entries[fid] : NULL;
}

const catalog_entry_t *catalog_find(const char *id, size_t len)
{
    for (size_t i = 0; i < F_COUNT; i++)
        if (strlen(entries[i].id) == len && memcmp(entries[i].id, id, len) == 0) return &entries[i];
    return NULL;
}

static const char *const result_names[RES_COUNT] = {"pass", "fail",      "softfail",  "neutral",
                                                    "none", "temperror", "permerror", "skipped"};

const char *result_name(result_t r)
{
    return (unsigned)r < RES_COUNT ? result_names[r] : "?";
}

int result_parse(const char *s, size_t len)
{
    for (int i = 0; i < RES_COUNT; i++)
        if (strlen(result_names[i]) == len && memcmp(result_names[i], s, len) == 0) return i;
    return -1;
}

static const char *const action_names[] = {"reject", "tempfail", "warn", "ignore"};

const char *action_name(action_t a)
{
    return (unsigned)a < 4 ? action_names[a] : "?";
}

int action_parse(const char *s, size_t len)
{
    for (int i = 0; i < 4; i++)
        if (mem_ieq(s, len, action_names[i], strlen(action_names[i]))) return i;
    return -1;
}
