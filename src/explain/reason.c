/*
 * reason: see reason.h. The table is indexed by ex_reason_t with designated initialisers;
 * the unit test checks that every entry is filled and every name parses back to its index.
 */
#include "explain/reason.h"

#include <string.h>

#include "util/str.h"

typedef struct reason_info {
    const char *name;
    const char *explanation;
    const char *fix;
} reason_info_t;

static const reason_info_t reasons[EX_REASON_COUNT] = {
    [EX_AUTHFAILURE] =
        {"authfailure",
         "The receiver could not verify that your server may send for your domain: SPF, DKIM "
         "or DMARC did not pass.",
         "Publish an SPF record that lists every server sending for the domain, sign outgoing "
         "mail with DKIM, and make sure the From: domain aligns with one of them for DMARC."},
    [EX_BADREPUTATION] =
        {"badreputation",
         "The receiver refused or slowed your mail because of the sending address's or "
         "domain's reputation with it, not because of one message.",
         "Send only mail that recipients asked for, remove bouncing and inactive addresses, "
         "watch complaint rates (Postmaster Tools, SNDS) and ramp volume up slowly."},
    [EX_BLOCKED] =
        {"blocked",
         "The receiver refused the connection or the sender because of the sending server "
         "itself: its IP address is on a blocklist, or its reverse DNS or HELO name was not "
         "acceptable.",
         "Find the list or check named in the reply, fix its cause (infected machine, open "
         "relay, missing or generic reverse DNS) and request delisting."},
    [EX_CONTENTERROR] =
        {"contenterror",
         "The message's header or MIME structure was malformed or could not be converted.",
         "Fix the program that builds the message: valid header fields, correct MIME "
         "structure and encodings."},
    [EX_DELIVERED] = {"delivered", "The message was delivered.", "Nothing to do."},
    [EX_EXCEEDLIMIT] =
        {"exceedlimit",
         "The message went over a limit the recipient's system sets (size or count), other "
         "than the plain message size.",
         "Send less at once: fewer or smaller attachments, or share files through a link."},
    [EX_EXPIRED] =
        {"expired",
         "Your server kept retrying and gave up: the receiving server could not be reached "
         "or kept deferring until the queue lifetime ran out.",
         "Look at the earlier temporary errors in your logs for the real cause; check that "
         "the recipient's domain and its mail servers are reachable."},
    [EX_FAILEDSTARTTLS] =
        {"failedstarttls",
         "The receiver requires an encrypted (STARTTLS) connection, or the TLS handshake "
         "failed.",
         "Enable TLS on the sending server with a current protocol version and a valid "
         "certificate."},
    [EX_FEEDBACK] = {"feedback",
                     "This is a complaint report: a recipient marked your message as spam.",
                     "Stop sending to that recipient and review how the address was collected."},
    [EX_FILTERED] =
        {"filtered",
         "The recipient's system refused the message after reading it, or the mailbox does "
         "not accept mail from you (a filter, a disabled mailbox or a rule of its owner).",
         "Check that the recipient still wants your mail; contact them another way if "
         "needed."},
    [EX_HASMOVED] = {"hasmoved", "The recipient's mailbox has moved and mail is not forwarded.",
                     "Ask the recipient for the new address and update your list."},
    [EX_HOSTUNKNOWN] =
        {"hostunknown", "The recipient's domain does not exist or has no mail server.",
         "Check the domain part of the address for typos; remove the address if the domain "
         "is gone."},
    [EX_MAILBOXFULL] =
        {"mailboxfull", "The recipient's mailbox is full.",
         "Try again later or reach the recipient another way; remove the address if it "
         "stays full, it is likely abandoned."},
    [EX_MAILERERROR] = {"mailererror", "A local delivery program on the receiving side failed.",
                        "The recipient's postmaster has to fix it; tell them the error shown."},
    [EX_MESGTOOBIG] =
        {"mesgtoobig", "The message is larger than the receiving server accepts.",
         "Send a smaller message: compress or leave out attachments, or share a link."},
    [EX_NETWORKERROR] =
        {"networkerror",
         "The receiving server could not be reached: DNS lookup, routing or connection "
         "failure.",
         "Check the recipient's MX records and your server's DNS and outbound network; the "
         "problem may be temporary."},
    [EX_NORELAYING] = {"norelaying",
                       "The server you sent to does not relay mail for that recipient's domain.",
                       "Send to the recipient domain's own MX, or authenticate to your provider's "
                       "submission server before relaying."},
    [EX_NOTACCEPT] =
        {"notaccept",
         "The recipient's domain or server does not accept mail at all (for example it "
         "publishes a null MX).",
         "Remove the address: no mail can be delivered to that domain."},
    [EX_NOTCOMPLIANTRFC] =
        {"notcompliantrfc",
         "The message breaks the Internet message format rules (RFC 5322), for example "
         "duplicate header fields.",
         "Fix the program that writes the message headers."},
    [EX_ONHOLD] = {"onhold", "The bounce does not say enough to decide why the message failed.",
                   "Read the full bounce and the logs of the sending server for more detail."},
    [EX_POLICYVIOLATION] =
        {"policyviolation",
         "The message broke a policy of the receiving organisation (content, attachment "
         "type, or sender rules it chose).",
         "Read the policy named in the reply or ask the recipient's postmaster which rule "
         "applied."},
    [EX_REJECTED] =
        {"rejected",
         "The receiver refused the envelope sender (MAIL FROM): its address or domain is "
         "invalid, unknown or not allowed.",
         "Use a valid sender address in a domain that exists and receives mail (MX or A "
         "record)."},
    [EX_REQUIREPTR] =
        {"requireptr",
         "The sending IP address has no reverse DNS (PTR), or its PTR does not point back "
         "to it, or looks like a home/dynamic line.",
         "Ask whoever owns the IP address to set a PTR naming the server, with an A/AAAA "
         "record for that name pointing back to the address."},
    [EX_SECURITYERROR] =
        {"securityerror",
         "The receiver refused for a security reason: authentication credentials, a "
         "required security feature, or a refused delivery not otherwise explained.",
         "Check SMTP AUTH credentials and TLS settings on the sending side; read the reply "
         "text for the exact rule."},
    [EX_SPAMDETECTED] =
        {"spamdetected", "The receiver's spam filter judged this message to be spam.",
         "Review the content and links of the message, authenticate the mail (SPF, DKIM, "
         "DMARC) and send only to people who asked for it."},
    [EX_SPEEDING] =
        {"speeding",
         "You are sending too fast: the receiver rate-limits your server or the recipient.",
         "Slow down: fewer messages per connection and per minute; the queue will retry."},
    [EX_SUPPRESSED] =
        {"suppressed",
         "Your own sending system did not send the message because the address is on its "
         "suppression list.",
         "Check why the address was suppressed (earlier hard bounce, complaint) before "
         "removing it from the list."},
    [EX_SUSPEND] = {"suspend", "The recipient's account exists but is disabled or suspended.",
                    "Reach the recipient another way; remove the address if it stays disabled."},
    [EX_SYNTAXERROR] =
        {"syntaxerror",
         "The receiving server did not understand a command your server sent (protocol "
         "error).",
         "Check the sending software: command order, arguments and line lengths."},
    [EX_SYSTEMERROR] =
        {"systemerror", "The receiving system had an internal error or is misconfigured.",
         "Nothing to change on your side; retry later or tell the recipient's postmaster."},
    [EX_SYSTEMFULL] = {"systemfull", "The receiving system is out of disk space or storage.",
                       "Retry later; the recipient's postmaster has to free space."},
    [EX_TOOMANYCONN] =
        {"toomanyconn",
         "The receiving server refused because your server opened too many connections or "
         "sent too many recipients at once.",
         "Lower the number of parallel connections and recipients per message to that "
         "destination."},
    [EX_UNDEFINED] = {"undefined", "The reason could not be determined from the text.",
                      "Read the reply text; if it names a web page, follow it."},
    [EX_USERUNKNOWN] = {"userunknown", "The recipient address does not exist at that domain.",
                        "Check the address for typos; remove it from your list if it is gone."},
    [EX_VACATION] = {"vacation",
                     "This is an automatic out-of-office reply; the message was delivered.",
                     "Nothing to do."},
    [EX_VIRUSDETECTED] =
        {"virusdetected", "The receiver found malware in the message.",
         "Scan the sending machine and the attachment; send files in a safe format."},
};

const char *ex_reason_name(ex_reason_t r)
{
    return (unsigned)r < EX_REASON_COUNT ? reasons[r].name : reasons[EX_UNDEFINED].name;
}

int ex_reason_parse(const char *s, size_t len)
{
    for (int i = 0; i < EX_REASON_COUNT; i++)
        if (mem_ieq(s, len, reasons[i].name, strlen(reasons[i].name))) return i;
    return -1;
}

const char *ex_reason_explanation(ex_reason_t r)
{
    return reasons[(unsigned)r < EX_REASON_COUNT ? r : EX_UNDEFINED].explanation;
}

const char *ex_reason_fix(ex_reason_t r)
{
    return reasons[(unsigned)r < EX_REASON_COUNT ? r : EX_UNDEFINED].fix;
}

const char *ex_action_name(ex_action_t a)
{
    switch (a) {
    case EX_ACTION_FAILED:
        return "failed";
    case EX_ACTION_DELAYED:
        return "delayed";
    case EX_ACTION_DELIVERED:
        return "delivered";
    default:
        return "";
    }
}

size_t ex_status_at(const char *s, size_t n, size_t i, ex_status_t *st)
{
    if (i >= n || (s[i] != '2' && s[i] != '4' && s[i] != '5'))
        return 0;
    size_t j = i + 1;
    int v[2];
    for (int part = 0; part < 2; part++) {
        if (j >= n || s[j] != '.')
            return 0;
        j++;
        int val = 0, d = 0;
        for (; j < n && s[j] >= '0' && s[j] <= '9'; j++, d++) {
            if (d == 3)
                return 0; /* a fourth digit: a longer number, not a status */
            val = val * 10 + (s[j] - '0');
        }
        if (d == 0)
            return 0;
        v[part] = val;
    }
    if (st != NULL) {
        st->cls = s[i];
        st->subject = v[0];
        st->detail = v[1];
    }
    return j - i;
}

bool ex_command_is(const char *c, const char *name)
{
    return c != NULL && strcmp(c, name) == 0;
}

bool ex_command_is_helo(const char *c)
{
    return ex_command_is(c, EX_CMD_HELO) || ex_command_is(c, EX_CMD_EHLO);
}

bool ex_command_is_data(const char *c)
{
    return ex_command_is(c, EX_CMD_DATA) || ex_command_is(c, EX_CMD_BDAT);
}
