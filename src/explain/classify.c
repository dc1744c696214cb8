/*
 * classify: see classify.h. The tables below are ours: general wording of SMTP replies
 * as MTAs and providers phrase them, written as caseless PCRE2 patterns, plus a reading of
 * the RFC 3463 registry. Each table is tried in order and the first match wins, so the
 * more specific rules come first.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "explain/classify.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "util/log.h"
#include "util/str.h"

/* ---- rules ---- */

typedef struct rule {
    const char *re; /* caseless PCRE2; NULL: the codes alone decide */
    ex_reason_t reason;
    const char *finding;
    char cls;         /* enhanced class '4' or '5' required, 0: any */
    short subject;    /* required enhanced subject, -1: any */
    short dmin, dmax; /* required detail range, -1: any */
    bool generic;     /* a word that names no cause ("rejected"): an enhanced code with a
                         subject other than X.0 decides before it */
    const char *command; /* only in reply to this command ("DATA" also matches BDAT), or NULL */
} rule_t;

/* text only */
#define R(re, reason, finding)                                                                     \
    {                                                                                              \
        re, reason, finding, 0, -1, -1, -1, false, NULL                                            \
    }
/* text only, a word that names no cause */
#define RG(re, reason, finding)                                                                    \
    {                                                                                              \
        re, reason, finding, 0, -1, -1, -1, true, NULL                                             \
    }
/* codes (class, subject, detail range) and optional text */
#define RC(cls, subj, dmin, dmax, re, reason, finding)                                             \
    {                                                                                              \
        re, reason, finding, cls, subj, dmin, dmax, false, NULL                                    \
    }

#define SPAM_WORD "spam(?!haus|cop|rats| ?trap|cannibal)"

/*
 * Strong general patterns: wording that names the cause whatever the code says. Tried
 * before the registry.
 */
static const rule_t strong_rules[] = {
    /* Postfix's smtpd restrictions name the client's HELO as the cause ("Helo command
     * rejected: Host not found", "... need fully-qualified hostname"), whatever the class */
    R("\\b(helo|ehlo) command rejected", EX_BLOCKED, NULL),
    R("out of (the )?office|away (on vacation|until|from)|\\bon vacation\\b|auto-?reply|"
      "traveling for work",
      EX_VACATION, NULL),
    R("suppress(ed|ion) list|on (our|the) suppression", EX_SUPPRESSED, NULL),
    /* a reply naming both reads as the one it names first ("spam/virus", "virus or spam") */
    R(SPAM_WORD " ?(or|/) ?virus|(rejected|blocked) (due to|because of) " SPAM_WORD
                " classification",
      EX_SPAMDETECTED, NULL),
    R("virus|malware|infected|malicious[ _](url|content|attachment|code)|"
      "potentially executable|executable (attachment|content)|used by recent viruses",
      EX_VIRUSDETECTED, NULL),
    R("procmail|maildrop|command (died|failed)|command output|\\bpipe to\\b|x-unix;|"
      "mailer error",
      EX_MAILERERROR, NULL),
    /* the sender's own address or domain */
    R("(sender|e-?mail) address (has been |is )?(black ?listed|on .*black ?list)|"
      "sender (is )?(in my )?black ?list|sender blacklisted|address that has been "
      "blacklisted|sender is spammer",
      EX_REJECTED, NULL),
    R("sender .{0,40}null ?mx|null ?mx.{0,40}sender", EX_REJECTED, "sender.null_mx"),
    R("null ?mx|(host|domain)(/domain)? does not accept mail|accepts no mail|"
      "mail receiving disabled|no mx (record|found)|indicated no smtp service|"
      "find a mail exchanger or ip address|no mail-enabled",
      EX_NOTACCEPT, NULL),
    R("not accepting any mail|refuses? to receive|recipient preferences|user rules|"
      "blocked by the recipient|only accepting mail from",
      EX_FILTERED, NULL),
    R("headers? too large", EX_CONTENTERROR, NULL),
    R("duplicate header", EX_NOTCOMPLIANTRFC, NULL),
    R("rejected for policy reasons", EX_POLICYVIOLATION, NULL),
    /* a loop, seen by counting Received: fields */
    R("hop count exceeded|too many hops", EX_NETWORKERROR, NULL),
    /* authentication of the mail (SPF, DKIM, DMARC) */
    R("\\bdmarc\\b|\\bspf\\b|sender policy framework|\\bdkim\\b|domainkeys|"
      "is not allowed to send (mail\\.|from <)|unauthenticated (e-?mail|mail|message)|"
      "(fails|failed|failing) (to pass )?(both )?(authentication|spf|dkim)|"
      "authentication (checks|information|results)|authenticate (their e-?mail )?with",
      EX_AUTHFAILURE, NULL),
    /* SMTP AUTH and other security rules */
    R("authenticat\\w* (required|failed|failure|credentials|is required|turned on|not allowed)|"
      "authentification|credentials|password|log ?in (with|through)|login attempts|"
      "identity changes|not authorized to (send mail, authentication|perform)|"
      "unauthenticated senders|verification failure|not subscribed to ses|"
      "turn on .{0,20}authentication",
      EX_SECURITYERROR, NULL),
    /* reverse DNS */
    R("\\bptr\\b|\\bptr-records?|reverse (dns|lookup|name)|\\brdns\\b|forward dns|fcrdns|"
      "mismatch(es)? (the )?client ip|unverifi?y?able sending|"
      "cannot find your (reverse )?hostname|ip name lookup failed|cannot resolve your address|"
      "unresolvable relay host|generic dns",
      EX_REQUIREPTR, NULL),
    R("syntax error|no commands allowed to pipeline|malformed address", EX_SYNTAXERROR, NULL),
    /* TLS */
    R("starttls|\\btls\\b.{0,40}(required|must|not supported)|must .{0,20}\\btls\\b|"
      "(does not|doesn'?t) support tls|"
      "encryption (required|needed)|mta-sts|\\bdane\\b|tlsa-invalid|dnssec-invalid|"
      "certificate",
      EX_FAILEDSTARTTLS, NULL),
    /* relaying */
    R("relay(ing)? (access )?(is )?(denied|not permitted|prohibited|not allowed)|"
      "unable to relay|(not permitted|not allowed) to relay|no relaying|open relay|"
      "as a relay|not a gateway|insecure (mail )?relay|relaying mail to|we don'?t handle mail for|"
      "not configured to relay|relay (denied|not permitted)|"
      "requires authentication when attempting to send to a non-local|"
      "list of allowed rcpthosts?|not (a )?local host|mail relay denied|"
      "specified domain is not allowed",
      EX_NORELAYING, NULL),
    /* moved */
    R("has moved|no longer on (this )?server|has been replaced by|moved permanently|"
      "changed (his|her|their) (e-?mail )?address",
      EX_HASMOVED, NULL),
    /* header and format rules */
    R("header (size|line).{0,30}exceed|exceeds? .{0,30}header .{0,10}(size|limit|name)|"
      "header size exceeds|mime complexity|8-?bit data in (message )?header|"
      "invalid mime|invalid message content|improperly-formatted|unnecessary base64|invalid characters",
      EX_CONTENTERROR, NULL),
    /* (not "rfc822;", the address type of a DSN field quoted in a transcript) */
    R("rfc ?5322|rfc ?2822|rfc ?822(?!;)|not rfc.{0,10}compliant|non-?compliant|duplicate header|"
      "(multiple|missing|no|blank) .{0,30}(from:|message-id|date:|header)|"
      "encoded-word|unicode character in a disallowed header|headers are not",
      EX_NOTCOMPLIANTRFC, NULL),
    R("blocked because (of )?its content", EX_POLICYVIOLATION, NULL),
    R("reputation|user complaints", EX_BADREPUTATION, NULL),
    /* rates and connections */
    R("too many (concurrent |smtp |simultaneous )*(connections|sessions)|"
      "connection (rate )?limit|maximum (number of )?connections|concurrent sessions|"
      "max(imum)? message(s)? per connection|frequency limited|throttling failure|"
      "too many recipients(?! (this|per|an?) (hour|day))|too many errors|trop de "
      "connexions|numerous attempts",
      EX_TOOMANYCONN, NULL),
    R("rate limit|too (fast|quickly)|slow(er)? down|try again slower|excessive volume|"
      "(sending|relay|submission|daily|hourly|message) (quota|limit) (exceeded|reached)|"
      "sent too many|too many recipients (this|per|an?) (hour|day)|too many (messages "
      "(per|this|in)|to too many)|receiving mail at a rate|rate that prevents|"
      "(messages|e-?mails) per (session|hour)|per hour message|daily limit|"
      "exceeded (the )?permitted",
      EX_SPEEDING, NULL),
    /* mailbox */
    R("mail system full|system storage|insufficient system|insufficient disk space", EX_SYSTEMFULL,
      NULL),
    R("quota|mailbox (is |was )?full|full mailbox|mailfolder is full|mailbox .{0,20}"
      "(exceed|size limit)|(disk|storage) (space|limit)|space (left|has been used)|"
      "(insufficient|not enough|not sufficient) (disk|storage)|out of storage|"
      "storage allocation|too much mail data|too many messages on the server|"
      "does not have enough space|boite du destinataire pleine|mail ?file size|mailbox size",
      EX_MAILBOXFULL, NULL),
    R("(?<!delivery temporarily )suspend|(account|mailbox|user|recipient|address)\\b.{0,30}"
      "disabled|"
      "disabled (account|mailbox|user)|deactivat|frozen|\\blocked\\b|terminated|archived|archivee|"
      "discontinued|inactive (account|user|mailbox)|(account|mailbox) is inactive|"
      "is inactive|temporarily inactive|account (is )?bloque|account isblocked|"
      "recipient'?s? (account|mailbox) (is|has been) blocked|"
      "no longer (accepts mail|active)",
      EX_SUSPEND, NULL),
    R("mesgtoobig|(message|mail|file) (size|is too (big|large)|too (big|large)|"
      "length exceeds)|size (limit|exceeds)|exceeded (the )?max(imum)? .{0,20}size|"
      "max(imum)? message size|line limit exceeded|taille limite",
      EX_MESGTOOBIG, NULL),
    /* the sender's address (before the generic "does not exist" of recipients) */
    R("sender (address|domain|e-?mail)|domain of sender|\\bmail from\\b.{0,40}"
      "(rejected|not|invalid|denied)|envelope (sender|from|blocked)|bogus mail from|"
      "null sender|empty envelope|\\bbatv\\b|sender verify|sender (was )?(rejected|denied|blocked)|"
      "unresolvable (rfc.?5321 )?domain|"
      "invalid sender|unroutable sender|sender not|emetteur invalide|"
      "responsible address|from: domain|third-party dsn|unsigned dsn|"
      "senders? (isn'?t|is not|not) (on|in)|fully qualified (e-?mail )?address required|"
      "senderfilterconfig|not a registered gateway user|"
      /* bounces refused: backscatter protection, "returned mail not accepted" */
      "backscatter|returned mail not accepted|bounces? (are |is )?not accepted",
      EX_REJECTED, NULL),
    R("not found, try again|temporary failure in name resolution|servfail", EX_NETWORKERROR, NULL),
    R("host (or domain name )?(unknown|not found)|unknown host|(domain|host) "
      "(does not exist|not found|unknown|must exist|is not reachable|unreachable)|"
      "no such domain|unroute?able address|name or service not known|"
      "domain name not found|nxdomain|mail domain .{0,30}unknown|unknown domain|"
      "domain may not exist|domain must exist|(^|[\\s:])[a-z0-9-]+(\\.[a-z0-9-]+)+ does not exist|"
      "\\bhost [a-z0-9-]+(\\.[a-z0-9-]+)+ not found",
      EX_HOSTUNKNOWN, NULL),
    R("name service error|\\bdns error\\b", EX_NETWORKERROR, NULL),
    /* the client cut off for what it did in the session, not this recipient */
    R("too many (invalid|bad|unknown|failed) (recipients|commands|rcpt)", EX_BLOCKED, NULL),
    /* recipient */
    R("user(name)? (unknown|not found|not known|does not exist|doesn'?t (exist|have)|"
      "not exist|not active|missing)|unknown (user|recipient|mailbox|address|local|e[- ]?mail)|"
      "no such (user|mailbox|recipient|address|person)|unknown or illegal alias|unknown "
      "alias|(mailbox|recipient|address|account|"
      "e-?mail address|email account) (that you tried to reach )?(does not exist|"
      "doesn'?t exist|not found|not exist|unknown|invalid|unavailable|is unavailable|"
      "not present|is not valid|could not be found|is wrong|not ok|refuses)|"
      "invalid (recipient|mailbox|address|user)|not a (valid|known) (user|mailbox|recipient)|"
      "is not a (known|valid)|does not exist|no (mail ?box|account) (by that name|here|"
      "found|available)|mailbox not|no mailbox|there is no one|bad (destination )?"
      "(mailbox|address)|badrcptto|validrcptto|badrecipientto|inexistant|no existe|"
      "nessun utente|utilisateur inconnu|not a valid recipient|recipient not|"
      "destination addresses were unknown|not an active address|"
      "recipient is not (local|accepted|valid|known)|non-? ?existent (user|recipient|mailbox)|"
      "(user|recipient|mailbox|\\be-? ?mail|address|account|name)\\b.{0,40}\\b(unknown|"
      "not found|does ?n[o']t exist|not exist|unavai?lable)|bad recipient|"
      "no valid recipients|not a local (address|user)|invalid or unknown|"
      "address not present|invalid/inactive|no longer valid|"
      "envelope recipient (has been |was |is )?(denied|rejected)|\\bin (the )?name directory|recipient address rejected(?!: ?[a-z])|"
      "recipient address rejected: (access denied|invalid|user ?unknown)|"
      "not email addresses|undeliverable|can't accept user|address invalid|"
      "couldn'?t be found|resolver\\.adr|not listed in .{0,20}directory|"
      /* Ipswitch iMail, Lotus Notes, and "check the address" advice of gateways */
      "invalid (final )?delivery userid|not listed in (the )?public name (&|and) address book|"
      "check (if|that) (the )?(recipient'?s? )?(e-?mail )?address is correct|"
      /* Domino's Japanese form of "not listed in the Domino Directory" */
      "\xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa"
      "\xe3\x81\xab\xe3\x81\xaf\xe8\xa6\x8b\xe3\x81\xa4\xe3\x81\x8b\xe3\x82\x8a"
      "\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93",
      EX_USERUNKNOWN, NULL),
    R("blocked by (our|the) (spam )?filter", EX_SPAMDETECTED, NULL),
    /* content */
    R("uribl|surbl|blacklisted url|url.{0,20}(listed|black ?list)", EX_SPAMDETECTED, NULL),
};

/* Lists, blocks and the other broad wording: tried after the registry's specific codes. */
static const rule_t weak_rules[] = {
    R("user rules|recipient preferences|refuses to receive|only accepting mail from|"
      "restricted|not accepting any mail|blocked by the recipient|user reject|"
      "protected by|extended inactivity|resolver\\.rst\\.notauthorized|"
      "message filtered$",
      EX_FILTERED, NULL),
    R("(ips?|host|server|network|remotehost|client|access ip)\\b.{0,40}(blocked|banned|"
      "listed|black ?listed|rejected|not allowed|refused|denied)|invalid ip|suspiciously|"
      "after initial connection|initial (server )?greeting|not accepting connections|"
      "my name was rejected|"
      "connection (was )?(dropped|reset)|"
      "blocked using|listed (in|on|at|by)|black ?list|block ?list|\\bdnsbl\\b|\\brbl\\b|"
      "spamhaus|spamcop|\\bsorbs\\b|barracuda|uceprotect|"
      "(sending|currently sending|you are sending) spam|spams? from your ip|"
      "unwanted messages have been sent from",
      EX_BLOCKED, NULL),
    R(SPAM_WORD "|unsolicited|bulk (e-?mail|mail)|\\bjunk\\b|content filter|"
                "message filtered|spamassassin|scored as|classified as|recurrent pattern|"
                "spam-like|unacceptable content|banned content|mail content|content rejected|"
                "looks like|reject, id=|score|advertis",
      EX_SPAMDETECTED, NULL),
    /* a mailing list that takes posts from its members only refuses the sender */
    R("not a member of (this|the) (mailing )?list|only members (can|may) post", EX_REJECTED,
      NULL),
    R("polic(y|ies)|organization(al)? (settings|policy)|members-only|"
      "closed mailing list|non-member|not subscribed|mass mailer|illegal attachment|"
      "attachments?|protocol violation|low priority|header error|header are not|"
      "not accepting mail with|multiple addresses|captcha|"
      /* the client talked before the greeting */
      "(data|talking|sent) before (the )?(greeting|banner)|pregreet",
      EX_POLICYVIOLATION, NULL),
    R("loops back to myself|mail exchanger|create a mail loop|forwarding loop broken|"
      "unable to contact",
      EX_SYSTEMERROR, NULL),
    R("loop|too many hops|hop count|\\d+ hops|no route to host|host is unreachable|name server|"
      "lookup fail|dns (failure|query failed)|could not connect|(?<![-./\\w])routing\\b|"
      "lost connection|"
      "network error|"
      "unrouteable mail domain|unable to resolve|dns records for the destination",
      EX_NETWORKERROR, NULL),
    R("expired|timed? ?out(?! waiting for (input|data|command))|(in|on) the queue too long|too long in (the )?queue|giving up|has been "
      "delayed|message delayed|"
      "failing for a long time|could not be delivered for|not reachable within|"
      "retry time|delivery attempts will continue|multiple retries|not been collected|"
      "will be retried for|still undelivered after|keep trying|continue trying|"
      "did not accept our requests to connect|"
      "server did not respond|failed to deliver to domain|could not find a gateway|"
      "delivery failed \\d+ attempts|failed after \\d+ (delivery )?attempts",
      EX_EXPIRED, NULL),
    R("syntax error|bad sequence|unrecognized command|unimplemented|command "
      "(not )?(implemented|unrecognized)|parameter not implemented|line too long|"
      "(helo|ehlo|mail|rcpt) first|send hello first",
      EX_SYNTAXERROR, NULL),
    R("internal error|server error|configuration error|misconfigured|local (error|problem)|"
      "system (error|config)|operation now in progress|interrupted system call|"
      "queue file write error|transaction failed|unable to connect|timeout waiting|"
      "try again later|temporar(il)?y (local )?(problem|unavailable|not available|failure)|"
      "failed to be replicated|there is no mdb|"
      "service (currently )?(unavailable|not available)|server busy|insufficient|"
      "encountered an error|can'?t create|system problem|(could ?not|cannot|unable to) load\\b",
      EX_SYSTEMERROR, NULL),
    R("\\b(helo|ehlo)\\b", EX_BLOCKED, NULL),
    R("\\bblocked\\b|\\bbanned\\b|denied|refused|go away|\\bdynamic\\b|zombie|open proxy|"
      "client host rejected|helo command rejected|not allowed to connect|"
      "confirm this mail server|(not currently )?accepting (mail|connections) from|"
      "not accepting connections|access (denied|forbidden)|connection (dropped|reset)|"
      "bad (sender )?ip|smtp server of your isp|no access from|suspiciously",
      EX_BLOCKED, NULL),
    RG("address rejected|administrative prohibition|not allowed|rejected|"
       "does not accept mail from|invalid domain",
       EX_REJECTED, NULL),
    R("exceed.{0,30}limit|limit exceeded|too large", EX_EXCEEDLIMIT, NULL),
};

/* ---- providers ---- */

typedef struct provider {
    const char *name;
    const char *const *hosts; /* host name suffixes (a label boundary before each) */
    const char *text_re;      /* text that names the provider, or NULL */
    const rule_t *rules;
    size_t nrules;
} provider_t;

static const char *const google_hosts[] = {"google.com", "googlemail.com", "gmail.com", NULL};
static const rule_t google_rules[] = {
    /* Gmail gives X.7.27 to SPF and X.7.23 to PTR, X.7.30 to DKIM, X.7.32 to alignment */
    RC(0, 7, 27, 27, NULL, EX_AUTHFAILURE, "spf.mailfrom"),
    RC(0, 7, 24, 24, NULL, EX_AUTHFAILURE, "spf.mailfrom"),
    RC(0, 7, 30, 30, NULL, EX_AUTHFAILURE, "dkim"),
    RC(0, 7, 32, 32, NULL, EX_AUTHFAILURE, "dmarc"),
    RC(0, 7, 23, 23, NULL, EX_REQUIREPTR, NULL),
    RC(0, 7, 26, 26, "dmarc", EX_AUTHFAILURE, "dmarc"),
    RC(0, 7, 26, 26, NULL, EX_AUTHFAILURE, NULL),
    RC(0, 7, 29, 29, NULL, EX_FAILEDSTARTTLS, "client.no_tls"),
    RC(0, 7, 28, 28, "message-id", EX_POLICYVIOLATION, NULL),
    RC(0, 7, 28, 28, NULL, EX_BLOCKED, NULL),
    RC(0, 5, 4, 4, "helo|ehlo", EX_BLOCKED, "helo.syntax"),
    RC(0, 2, 3, 3, "size", EX_EXCEEDLIMIT, NULL),
    R("ipv6 sending guidelines", EX_REQUIREPTR, NULL),
    R("protocol violation|unrecognized authentication type|xoauth", EX_SYNTAXERROR, NULL),
    R("unusual rate of (unsolicited )?mail", EX_BLOCKED, NULL),
    R("not in whitelist|closing connection\\. this usually indicates a denial", EX_BLOCKED, NULL),
    R("connection expired", EX_EXPIRED, NULL),
    R("nature of the content|likely unsolicited", EX_SPAMDETECTED, NULL),
    R("not authorized to send email directly|invalid credentials for relay", EX_NORELAYING, NULL),
    R("mail sending denied|sender account is disabled", EX_REJECTED, NULL),
    /* Gmail's "Send mail as" alias whose outgoing server settings are wrong */
    R("'send mail as'.{0,200}(misconfigured|out of date)", EX_REJECTED, NULL),
    R("domains per transaction|policy size per transaction", EX_SYSTEMERROR, NULL),
    R("number of attachments|exceeds google's (limit|header)", EX_EXCEEDLIMIT, NULL),
    R("policy that prohibited", EX_POLICYVIOLATION, NULL),
    R("sender address .{0,60}not a valid rfc ?5321", EX_NOTCOMPLIANTRFC, "sender.syntax"),
    R("recipient address .{0,60}not a valid rfc ?5321", EX_USERUNKNOWN, NULL),
    R("message is malformed", EX_NOTCOMPLIANTRFC, NULL),
    /* Google Groups refusing a post: the group is gone or the sender may not post to it */
    R("groups\\.google\\.com", EX_REJECTED, NULL),
};

static const char *const microsoft_hosts[] = {"outlook.com",  "hotmail.com", "live.com", "msn.com",
                                              "office365.us", "outlook.cn",  NULL};
static const rule_t microsoft_rules[] = {
    /* Exchange Online's own blocks (the S3150/S3140 block lists, banned sender IPs) */
    R("\\(s3150\\)|\\(s3140\\)|part of their network is on our block list", EX_BLOCKED,
      "client.dnsbl"),
    RC('5', 7, 606, 649, NULL, EX_BLOCKED, "client.dnsbl"),
    RC('4', 7, 650, 651, NULL, EX_BADREPUTATION, NULL),
    RC('4', 7, 652, 652, NULL, EX_TOOMANYCONN, NULL),
    RC('4', 7, 500, 699, "server busy", EX_SYSTEMERROR, NULL),
    RC('4', 7, 500, 899, NULL, EX_BLOCKED, NULL),
    RC('5', 7, 501, 503, NULL, EX_REJECTED, NULL),
    RC('5', 7, 504, 505, NULL, EX_SUSPEND, NULL),
    RC('5', 7, 506, 506, NULL, EX_BLOCKED, "helo.syntax"),
    RC('5', 7, 507, 507, NULL, EX_BLOCKED, NULL),
    RC('5', 7, 508, 508, NULL, EX_SPEEDING, NULL),
    RC('5', 7, 509, 509, NULL, EX_AUTHFAILURE, "dmarc"),
    RC('5', 7, 510, 511, NULL, EX_BLOCKED, NULL),
    RC('5', 7, 512, 512, NULL, EX_NOTCOMPLIANTRFC, NULL),
    RC('5', 7, 513, 513, NULL, EX_BLOCKED, NULL),
    RC('5', 7, 700, 749, NULL, EX_SPEEDING, NULL),
    RC('5', 7, 750, 750, NULL, EX_REJECTED, NULL),
    RC('5', 7, 900, 999, NULL, EX_POLICYVIOLATION, NULL),
    RC('5', 7, 57, 57, NULL, EX_SECURITYERROR, NULL),
    RC('5', 7, 64, 64, NULL, EX_NORELAYING, NULL),
    RC('5', 7, 124, 136, NULL, EX_REJECTED, NULL),
    RC('5', 4, 1, 1, "relay", EX_NORELAYING, NULL),
    RC('5', 4, 1, 1, NULL, EX_USERUNKNOWN, NULL),
    RC('5', 2, 121, 122, NULL, EX_SPEEDING, NULL),
    /* an AS(nnnn) tag marks most Exchange Online refusals: alone it says policy, but
     * beside a named blocklist the listing is the cause */
    R("^(?!.*(blocked using|block ?list|black ?list|spamhaus|spamcop|barracuda)).*\\(as\\d{3,}\\)",
      EX_POLICYVIOLATION, NULL),
    R("sender was not authenticated|sender not (in allowed|authenticated)|"
      "not authenticated for",
      EX_REJECTED, NULL),
    R("client was not authenticated", EX_SECURITYERROR, NULL),
};

static const char *const yahoo_hosts[] = {"yahoodns.net", "yahoo.com", "yahoo.co.jp",
                                          "aol.com",      "ymail.com", NULL};
static const rule_t yahoo_rules[] = {
    /* Yahoo's bracketed tags */
    R("\\[?tss0[14]\\b", EX_BADREPUTATION, NULL),
    R("\\[?tss(09|1\\d)\\b|permanently deferred", EX_REJECTED, NULL),
    R("\\[?bl2\\d\\b", EX_BLOCKED, "client.dnsbl"),
    R("\\[?ph0\\d\\b", EX_POLICYVIOLATION, NULL),
    R("\\bdd .{0,60}(doesn'?t have a|not have a)", EX_USERUNKNOWN, NULL),
    /* Yahoo's wording for an account it has deactivated */
    R("no longer valid", EX_SUSPEND, NULL),
};

static const char *const apple_hosts[] = {"icloud.com", "me.com", "mac.com", "apple.com", NULL};
static const rule_t apple_rules[] = {
    R("\\[hme\\d\\]", EX_AUTHFAILURE, NULL),
    R("\\[cs0\\d\\]", EX_POLICYVIOLATION, NULL),
    R("inactive email address", EX_USERUNKNOWN, NULL),
};

static const char *const proofpoint_hosts[] = {"pphosted.com", "ppe-hosted.com", "proofpoint.com",
                                               NULL};
static const rule_t proofpoint_rules[] = {
    R("dnsbl-lookup|ipcheck\\.proofpoint", EX_BLOCKED, "client.dnsbl"),
};

static const char *const mimecast_hosts[] = {"mimecast.com", "mimecast.co.za",
                                             "mimecast-offshore.com", NULL};
static const rule_t mimecast_rules[] = {
    R("(spf|dkim|dmarc) sender invalid", EX_AUTHFAILURE, NULL),
    R("ip reputation", EX_BADREPUTATION, NULL),
    R("internal resources are temporarily unavailable", EX_BADREPUTATION, NULL),
    R("ip temporarily blacklisted|sender address blocked|recipient temporarily unavailable",
      EX_BLOCKED, NULL),
    R("message rejected by (the )?(content|attachment)|content policy", EX_POLICYVIOLATION, NULL),
    /* the recipient's organisation allows mail only from some networks */
    R("host network not allowed", EX_POLICYVIOLATION, NULL),
};

static const char *const barracuda_hosts[] = {"barracudanetworks.com", "barracuda.com",
                                              "cudamail.com", "ess.barracudanetworks.com", NULL};
static const rule_t barracuda_rules[] = {
    R("message content rejected|blocked using barracuda", EX_BLOCKED, NULL),
    R("rate limited", EX_SPEEDING, NULL),
};

static const char *const godaddy_hosts[] = {"secureserver.net", NULL};
static const rule_t godaddy_rules[] = {
    R("blank from:|ip addresses are not allowed as a from", EX_NOTCOMPLIANTRFC, NULL),
    R("this ip has been (temporarily )?blocked", EX_BLOCKED, NULL),
    R("server temporarily unavailable", EX_SPEEDING, NULL),
};

static const char *const orange_hosts[] = {"orange.fr", "wanadoo.fr", "francetelecom.fr", NULL};
static const rule_t orange_rules[] = {
    /* OFR_505 / LPN_505: the service is refused for now, try later (a wording of the
     * sending address's block otherwise) */
    R("\\b(ofr|lpn)\\d*_505\\b", EX_SYSTEMERROR, NULL),
    R("service refus", EX_BLOCKED, NULL),
    R("client host rejected", EX_POLICYVIOLATION, NULL),
    R("destinataire invalide|invalid recipient", EX_USERUNKNOWN, NULL),
    /* OFR_506 / LPN_506: the message was taken for spam */
    R("\\b(ofr|lpn)\\d*_506\\b", EX_SPAMDETECTED, NULL),
};

static const char *const messagelabs_hosts[] = {"messagelabs.com", NULL};
static const char *const cox_hosts[] = {"cox.net", NULL};
static const rule_t cox_rules[] = {
    R("\\bcx(bl|dnsbl)\\b|\\bipbl\\d+", EX_BLOCKED, "client.dnsbl"),
    /* the sending address blocked for a while after complaints */
    R("\\bcdrbl\\b", EX_BLOCKED, NULL),
    R("\\bcxdns\\b|no rdns", EX_REQUIREPTR, "client.no_ptr"),
    R("\\bcxsndr\\b", EX_AUTHFAILURE, NULL),
    R("\\burlbl\\d+", EX_SPAMDETECTED, NULL),
};
/* Spectrum (Charter, Time Warner, Roadrunner): AUP#<direction>-<number> tags; the 10xx
 * numbers block the sending address, 13xx limit its connections and rate */
static const char *const spectrum_hosts[] = {"charter.net", "spectrum.net", "rr.com", "twc.com",
                                             NULL};
static const rule_t spectrum_rules[] = {
    R("\\baup#[a-z]*-?13\\d\\d\\b", EX_TOOMANYCONN, NULL),
    R("\\baup#[a-z]*-?10\\d\\d\\b", EX_BLOCKED, NULL),
};
/* NTT docomo takes every recipient at RCPT and refuses after DATA, with "Unknown user", the
 * senders its subscriber's reception settings refuse (with an X.0.x status) */
static const char *const docomo_hosts[] = {"docomo.ne.jp", NULL};
static const rule_t docomo_rules[] = {
    /* (a mailbox status, X.2.0, is the filter's: left to the general rules) */
    {"unknown user", EX_REJECTED, NULL, 0, 0, -1, -1, false, EX_CMD_DATA},
    R("too much mail data", EX_MAILBOXFULL, NULL),
    R("too many recipients", EX_TOOMANYCONN, NULL),
};
static const char *const tencent_hosts[] = {"qq.com", "tencent.com", NULL};
static const rule_t tencent_rules[] = {
    R("suspected spam ip|suspected bounce attacks", EX_BLOCKED, NULL),
    R("frequency limited", EX_TOOMANYCONN, NULL),
};

static const provider_t providers[] = {
    {"google", google_hosts,
     "support\\.google\\.com|groups\\.google\\.com|\\bgsmtp\\b|gmail (requires|has "
     "detected)|google workspace|"
     "google's",
     google_rules, sizeof google_rules / sizeof *google_rules},
    {"microsoft", microsoft_hosts,
     "aka\\.ms/|protection\\.outlook\\.com|\\(s3150\\)|\\(s3140\\)|\\(as\\d{3,}\\)|"
     "\\[name=protocol filter agent\\]|exchange online|office ?365|hotmail|"
     "resolver\\.(adr|rst)\\.",
     microsoft_rules, sizeof microsoft_rules / sizeof *microsoft_rules},
    {"yahoo", yahoo_hosts,
     "postmaster\\.yahoo(inc)?\\.com|senders\\.yahooinc\\.com|\\[?tss0\\d\\b|"
     "\\[ph0\\d\\]|\\[bl2\\d\\]|yahoo requires|yahoo\\.com account|delivery error: dd ",
     yahoo_rules, sizeof yahoo_rules / sizeof *yahoo_rules},
    {"apple", apple_hosts, "support\\.apple\\.com|\\[hme\\d\\]|\\[cs0\\d\\]", apple_rules,
     sizeof apple_rules / sizeof *apple_rules},
    {"proofpoint", proofpoint_hosts, "proofpoint|pphosted", proofpoint_rules,
     sizeof proofpoint_rules / sizeof *proofpoint_rules},
    {"mimecast", mimecast_hosts, "mimecast", mimecast_rules,
     sizeof mimecast_rules / sizeof *mimecast_rules},
    /* no text: receivers everywhere quote Barracuda's reputation list and its URL */
    {"barracuda", barracuda_hosts, NULL, barracuda_rules,
     sizeof barracuda_rules / sizeof *barracuda_rules},
    {"godaddy", godaddy_hosts, "\\bIB\\d{3}\\b|secureserver\\.net", godaddy_rules,
     sizeof godaddy_rules / sizeof *godaddy_rules},
    {"orange", orange_hosts, "\\b(OFR|LPN)\\d*_\\d{3}\\b", orange_rules,
     sizeof orange_rules / sizeof *orange_rules},
    {"cox", cox_hosts, "\\bcox\\.(net|com)/|\\bcx(bl|dns|sndr)\\b|\\baup#cdrbl\\b", cox_rules,
     sizeof cox_rules / sizeof *cox_rules},
    {"spectrum", spectrum_hosts, "\\bspectrum\\.net/|\\bcharter\\.net\\b", spectrum_rules,
     sizeof spectrum_rules / sizeof *spectrum_rules},
    {"docomo", docomo_hosts, NULL, docomo_rules, sizeof docomo_rules / sizeof *docomo_rules},
    {"tencent", tencent_hosts, "service\\.mail\\.qq\\.com|help\\.mail\\.qq\\.com", tencent_rules,
     sizeof tencent_rules / sizeof *tencent_rules},
    {"messagelabs", messagelabs_hosts, "messagelabs", NULL, 0},
};
#define NPROVIDERS (sizeof providers / sizeof *providers)

/* ---- blocklists named in the text ---- */

typedef struct blocklist {
    const char *re;
    const char *name;
    bool domain;      /* lists domains, not addresses */
    const char *zone; /* the public DNS zone to ask for an address, or NULL */
} blocklist_t;

static const blocklist_t blocklists[] = {
    {"zen\\.spamhaus", "Spamhaus ZEN", false, "zen.spamhaus.org"},
    {"sbl-xbl\\.spamhaus|sbl\\.spamhaus|spamhaus (sbl|block list)|\\bSBL\\d+|"
     "spamhaus block list|\\(sbl\\)",
     "Spamhaus SBL", false, "zen.spamhaus.org"},
    {"xbl\\.spamhaus|spamhaus('s)? xbl|exploits block list|cbl\\.abuseat|abuseat\\.org|"
     "\\(xbl\\)",
     "Spamhaus XBL", false, "zen.spamhaus.org"},
    {"pbl\\.spamhaus|spamhaus pbl|policy block list|\\(pbl\\)", "Spamhaus PBL", false, "zen.spamhaus.org"},
    {"dbl\\.spamhaus|spamhaus dbl|domain block list|\\(dbl\\)", "Spamhaus DBL", true, NULL},
    {"spamhaus", "Spamhaus", false, "zen.spamhaus.org"},
    {"barracudacentral|b\\.barracuda|barracuda reputation|blocked using barracuda", "Barracuda",
     false, "b.barracudacentral.org"},
    {"spamcop", "SpamCop", false, "bl.spamcop.net"},
    {"\\bsorbs\\b", "SORBS", false, "dnsbl.sorbs.net"},
    {"uceprotect", "UCEPROTECT", false, "dnsbl-1.uceprotect.net"},
    {"psbl\\.surriel|\\bpsbl\\b", "PSBL", false, "psbl.surriel.com"},
    {"mailspike", "Mailspike", false, "bl.mailspike.net"},
    {"spamrats|\\brats-(dyna|noptr|spam)", "SpamRATS", false, "all.spamrats.com"},
    {"invaluement", "Invaluement", false, NULL},
    {"senderscore", "Validity Sender Score", false, NULL},
    {"dnsbl-lookup|ipcheck\\.proofpoint", "Proofpoint", false, NULL},
    {"cloudmark", "Cloudmark", false, NULL},
    {"mail-abuse\\.com|trend ?micro|\\bers\\b.{0,20}(rbl|qil)", "Trend Micro ERS", false, NULL},
    {"backscatterer", "Backscatterer", false, "ips.backscatterer.org"},
    {"hostkarma|junkemailfilter", "JunkEmailFilter", false, NULL},
    {"spameatingmonkey", "Spam Eating Monkey", false, NULL},
    {"ix\\.dnsbl\\.manitu|nixspam", "NiX Spam", false, "ix.dnsbl.manitu.net"},
    {"\\bs5h\\.net", "S5H", false, NULL},
    {"0spam", "0spam", false, "bl.0spam.org"},
    {"abusix", "Abusix", false, NULL},
    {"blocklist\\.de", "blocklist.de", false, "bl.blocklist.de"},
    {"lashback|unsubscore", "LashBack", false, NULL},
    {"\\(s3150\\)|\\(s3140\\)|part of their network is on our block list", "Microsoft", false, NULL},
    {"surbl", "SURBL", true, NULL},
    {"uribl", "URIBL", true, NULL},
};
#define NBLOCKLISTS (sizeof blocklists / sizeof *blocklists)

/* ---- findings from the text ---- */

typedef struct fpat {
    const char *re;
    const char *finding;
} fpat_t;

static const fpat_t finding_pats[] = {
    {"\\bdmarc\\b", "dmarc"},
    {"\\bhelo\\b.{0,80}\\bspf\\b|\\bspf\\b.{0,40}\\bhelo\\b", "spf.helo"},
    {"^(?!.*\\bdkim\\b).*(\\bspf\\b|sender policy framework)", "spf.mailfrom"},
    /* DKIM named as failing or missing (not a rate or reputation "of your DKIM domain") */
    {"^(?!.*(\\bspf\\b|sender policy framework)).*(\\bdkim\\b.{0,60}(fail|not pass|invalid|"
     "missing|bad|broken|unverif|not verif|does not verify|no valid|required|body hash)|"
     "(fail|invalid|missing|no valid|without|requires?|bad)\\w*.{0,40}\\bdkim\\b)",
     "dkim"},
    {"sender .{0,40}null ?mx|null ?mx.{0,40}sender", "sender.null_mx"},
    {"(no|missing|without|doesn'?t have an?|does not have an?|not have an?) "
     "(valid )?(ptr|reverse dns|rdns)|ptr record setup|cannot find your (reverse )?hostname|"
     "ip name lookup failed|reverse (dns|lookup) (for .{0,60})?failed|no ptr|"
     "ptr (record )?(not found|missing)|no reverse",
     "client.no_ptr"},
    {"(ptr|reverse dns|rdns).{0,60}(forward|does not (match|point)|doesn'?t match|"
     "mismatch)|forward.?confirmed",
     "client.ptr_mismatch"},
    /* (not "residential" as a path of a URL: a provider's support pages) */
    {"generic (dns|ptr|reverse)|dynamic ip|dyn(amic)?/|(?<!/)residential(?!/)|dial-?up|"
     "hosts? with dynamic|ptr.{0,40}dynamic",
     "client.ptr_generic"},
    {"(helo|ehlo).{0,60}(invalid|syntax|argument|bad)|bad helo|invalid (helo|ehlo)", "helo.syntax"},
    {"(helo|ehlo).{0,60}(fully.qualified|fqdn|requires? (a )?domain)|"
     "need fully-qualified hostname",
     "helo.not_fqdn"},
    {"(helo|ehlo).{0,60}(host not found|no dns|does not resolve|unknown host|"
     "not found)",
     "helo.no_dns"},
    {"(helo|ehlo).{0,60}(forged|impersonat|my (host ?)?name)", "helo.forged_self"},
    {"(sender|mail from).{0,80}(domain not found|does not exist|unknown domain|"
     "no mx|unresolvable|not resolve|must exist|unroute?able)|domain of sender "
     "address .{0,100}does not exist|unresolvable rfc.?5321 domain",
     "sender.domain_unknown"},
    {"sender address .{0,60}(syntax|not a valid)|bad sender'?s mailbox address syntax",
     "sender.syntax"},
    {"blocked using|listed (in|on|at|by)|\\bdnsbl\\b|\\brbl\\b|block ?list|black ?list",
     "client.dnsbl"},
    {"starttls|\\btls\\b.{0,40}required|must .{0,20}\\btls\\b", "client.no_tls"},
};
#define NFINDING_PATS (sizeof finding_pats / sizeof *finding_pats)

/* ---- compiled tables ---- */

#define NSTRONG (sizeof strong_rules / sizeof *strong_rules)
#define NWEAK (sizeof weak_rules / sizeof *weak_rules)

/*
 * A compiled pattern with its prefilter: literals (ASCII lower case) of which every match
 * contains at least one, one or more for each top-level alternative. When none of them
 * occurs in the lower-cased text the pattern cannot match and PCRE2 is not run. nlit 0: no
 * prefilter (some alternative has no literal that every match of it must contain).
 */
typedef struct pat_alt {
    const char *src;           /* the alternative alone: src[0 .. len) */
    size_t len;
    _Atomic(pcre2_code *) re;  /* compiled on first use */
    size_t from, to;           /* its literals: lit[from .. to) */
} pat_alt_t;

typedef struct pat {
    pcre2_code *re; /* the whole pattern */
    size_t nlit;
    char **lit;     /* nlit NUL-terminated literals */
    size_t *litlen; /* their lengths */
    /* a pattern of several top-level alternatives matches where one of them does: each is
     * also compiled alone and run only when its own literals occur (nalt 0: not split) */
    size_t nalt;
    pat_alt_t *alt;
} pat_t;

#define PAT_MAX_ALTS 64

static pat_t *strong_re[NSTRONG];
static pat_t *weak_re[NWEAK];
static pat_t *prov_text_re[NPROVIDERS];
static pat_t **prov_rule_re[NPROVIDERS];
static pat_t *bl_re[NBLOCKLISTS];
static pat_t *finding_re[NFINDING_PATS];
static pat_t *mb_id_re;
static pat_t *listing_re;
static pat_t *poor_rep_re;
static pat_t *temp_dns_re;
static pat_t *client_named_re;
static pat_t *no_address_re;
static pat_t *rcpt_reply_re;
static pthread_once_t compiled = PTHREAD_ONCE_INIT;
/* One match data per thread, made at the thread's first call and kept between calls; the
 * key's destructor frees it when the thread ends. */
static _Thread_local pcre2_match_data *thread_md;
static pthread_key_t md_key;

static unsigned char ascii_lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

/* Skips a group or a character class starting at re[i] ('(' or '['); the index after it,
 * or 0 when it is not closed. */
static size_t skip_bracket(const char *re, size_t i)
{
    int depth = 0;
    while (re[i] != '\0') {
        char ch = re[i];
        if (ch == '\\') {
            if (re[i + 1] == '\0') return 0;
            i += 2;
            continue;
        }
        if (ch == '[') {
            /* a class: ']' right after '[' or '[^' is a member */
            i++;
            if (re[i] == '^') i++;
            if (re[i] == ']') i++;
            while (re[i] != '\0' && re[i] != ']') {
                if (re[i] == '\\' && re[i + 1] != '\0') {
                    i++;
                } else if (re[i] == '[' && re[i + 1] == ':') {
                    /* a POSIX class, "[:alpha:]", inside the class */
                    const char *close = strstr(re + i + 2, ":]");
                    if (close == NULL) return 0;
                    i = (size_t)(close - re) + 1;
                }
                i++;
            }
            if (re[i] == '\0') return 0;
            i++;
            if (depth == 0) return i;
            continue;
        }
        if (ch == '(') depth++;
        if (ch == ')' && --depth == 0) return i + 1;
        i++;
    }
    return 0;
}

/*
 * Finds, for each top-level alternative of re[i..end) (PCRE2 syntax, no extended mode),
 * literals of which every match of that alternative contains one: either the longest run
 * of literal characters outside any group, or the literals of a group that must match
 * (found the same way inside it), whichever has the longer shortest literal. Conservative:
 * anything not understood ends a run (a shorter literal, or none, is always safe); a
 * character followed by a quantifier is not part of any run; lookarounds and optional
 * groups are passed over. The literals are appended to buf (lower case) and listed in
 * start/len (at most max); false when some alternative has none or there are too many.
 */
static bool derive_literals(const char *re, size_t i, size_t end, char *buf, size_t bufsz,
                            size_t *used, size_t *start, size_t *len, size_t max, size_t *nout)
{
    size_t n = 0;
    size_t run = *used, runlen = 0;
    size_t bstart[PAT_MAX_ALTS], blen[PAT_MAX_ALTS], bn = 0, bscore = 0;
    bool last_lit = false;
    for (;;) {
        char ch = i < end ? re[i] : '\0';
        bool lit = false;
        unsigned char litch = 0;
        size_t next = i + 1;
        if (ch == '\0' || ch == '|' || ch == '(' || ch == '[' || ch == '.' || ch == '^' ||
            ch == '$' || ch == ')' || ch == '?' || ch == '*' || ch == '+' || ch == '{' ||
            ch == '\\') {
            unsigned char e = ch == '\\' && i + 1 < end ? (unsigned char)re[i + 1] : 0;
            if (ch == '\\' && e == 0) return false;
            if (ch == '\\' && !((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') ||
                                  (e >= 'A' && e <= 'Z'))) {
                lit = true, litch = e; /* an escaped punctuation character */
                next = i + 2;
                goto literal;
            }
            /* only escapes that take no argument and match no literal text are understood
             * (\x41, \p{L}, \Q...\E, back references ... are not) */
            if (ch == '\\' && strchr("bBdDwWsShHvVRXAzZGK", e) == NULL) return false;
            /* option settings ("(?x)", "(?i:"), named forms other than lookbehind and
             * verbs change how the rest reads: not understood */
            if (ch == '(' && (re[i + 1] == '*' ||
                              (re[i + 1] == '?' && re[i + 2] != ':' && re[i + 2] != '!' &&
                               re[i + 2] != '=' &&
                               !(re[i + 2] == '<' && (re[i + 3] == '=' || re[i + 3] == '!')))))
                return false;
            if ((ch == '?' || ch == '*' || ch == '+' || ch == '{') && last_lit && runlen > 0)
                runlen--; /* the quantified character may be absent or repeated */
            if (runlen > bscore) {
                bstart[0] = run, blen[0] = runlen, bn = 1, bscore = runlen;
            }
            run = *used, runlen = 0;
            if (ch == ')') return false;
            if (ch == '\\') {
                next = i + 2; /* \b, \d, \w, \s ...: not a literal */
            } else if (ch == '(' || ch == '[') {
                next = skip_bracket(re, i);
                if (next == 0 || next > end) return false;
                /* a group (capturing or (?:) that must match: its own literals */
                char q = next < end ? re[next] : '\0';
                bool optional = q == '?' || q == '*' ||
                                (q == '{' && !(next + 1 < end && re[next + 1] >= '1' &&
                                               re[next + 1] <= '9'));
                size_t inner = re[i + 1] != '?' ? i + 1 : re[i + 2] == ':' ? i + 3 : 0;
                size_t gstart[PAT_MAX_ALTS], glen[PAT_MAX_ALTS], gn = 0, mark = *used;
                if (ch == '(' && !optional && inner != 0 &&
                    derive_literals(re, inner, next - 1, buf, bufsz, used, gstart, glen,
                                    PAT_MAX_ALTS, &gn) &&
                    gn > 0) {
                    size_t score = glen[0];
                    for (size_t k = 1; k < gn; k++)
                        if (glen[k] < score) score = glen[k];
                    if (score > bscore) {
                        memcpy(bstart, gstart, gn * sizeof *gstart);
                        memcpy(blen, glen, gn * sizeof *glen);
                        bn = gn, bscore = score;
                    }
                } else {
                    *used = mark;
                }
                run = *used;
            } else if (ch == '{') {
                while (next < end && re[next] != '}')
                    next++;
                if (next >= end) return false;
                next++;
            } else if (ch == '\0' || ch == '|') {
                if (bn == 0 || n + bn > max) return false;
                memcpy(start + n, bstart, bn * sizeof *bstart);
                memcpy(len + n, blen, bn * sizeof *blen);
                n += bn;
                bn = bscore = 0;
                if (ch == '\0') break;
            }
        } else {
            lit = true, litch = (unsigned char)ch;
        }
    literal:
        if (lit) {
            if (*used + 1 >= bufsz) return false;
            buf[(*used)++] = (char)ascii_lower(litch);
            runlen++;
        }
        last_lit = lit;
        i = next;
    }
    *nout = n;
    return true;
}

static pcre2_code *compile_code(const char *re, size_t len, bool jit)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *c =
        pcre2_compile((PCRE2_SPTR)re, len, PCRE2_CASELESS | PCRE2_DOTALL, &err, &off, NULL);
    if (c == NULL) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(err, msg, sizeof msg);
        msg_panic("classify: pattern %.*s at %zu: %s", (int)len, re, (size_t)off,
                  (const char *)msg);
    }
    if (jit) (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* else the interpreter */
    return c;
}

/* Splits re at its top-level '|'; the start of each alternative in at[] and the end of
 * the last in at[n]; false when there are more than max or the pattern is not understood. */
static size_t split_alternatives(const char *re, size_t *at, size_t max)
{
    size_t n = 0, i = 0;
    at[n++] = 0;
    while (re[i] != '\0') {
        if (re[i] == '\\') {
            if (re[i + 1] == '\0') return 0;
            i += 2;
        } else if (re[i] == '(' || re[i] == '[') {
            i = skip_bracket(re, i);
            if (i == 0) return 0;
        } else if (re[i] == '|') {
            if (n == max) return 0;
            at[n++] = ++i;
        } else {
            i++;
        }
    }
    at[n] = i + 1; /* as if a '|' followed */
    return n;
}

static pat_t *compile(const char *re)
{
    if (re == NULL) return NULL;
    size_t rl = strlen(re);
    pat_t *p = calloc(1, sizeof *p);
    if (p == NULL) msg_panic("classify: out of memory");
    p->re = compile_code(re, rl, false);
    char *buf = malloc(rl + 1);
    if (buf == NULL) msg_panic("classify: out of memory");
    size_t start[PAT_MAX_ALTS], len[PAT_MAX_ALTS], n = 0, used = 0;
    size_t at[PAT_MAX_ALTS + 1], altfrom[PAT_MAX_ALTS + 1];
    size_t nalt = split_alternatives(re, at, PAT_MAX_ALTS);
    bool ok = nalt > 0;
    for (size_t a = 0; ok && a < nalt; a++) {
        size_t got = 0;
        altfrom[a] = n;
        ok = derive_literals(re, at[a], at[a + 1] - 1, buf, rl + 1, &used, start + n, len + n,
                             PAT_MAX_ALTS - n, &got) &&
             got > 0;
        n += got;
    }
    altfrom[nalt] = n;
    if (ok) {
        p->lit = calloc(n, sizeof *p->lit);
        p->litlen = calloc(n, sizeof *p->litlen);
        if (p->lit == NULL || p->litlen == NULL) msg_panic("classify: out of memory");
        for (size_t k = 0; k < n; k++) {
            p->lit[k] = malloc(len[k] + 1);
            if (p->lit[k] == NULL) msg_panic("classify: out of memory");
            memcpy(p->lit[k], buf + start[k], len[k]);
            p->lit[k][len[k]] = '\0';
            p->litlen[k] = len[k];
        }
        p->nlit = n;
        if (nalt > 1) {
            p->alt = calloc(nalt, sizeof *p->alt);
            if (p->alt == NULL) msg_panic("classify: out of memory");
            for (size_t a = 0; a < nalt; a++) {
                p->alt[a].src = re + at[a];
                p->alt[a].len = at[a + 1] - 1 - at[a];
                atomic_init(&p->alt[a].re, NULL);
                p->alt[a].from = altfrom[a];
                p->alt[a].to = altfrom[a + 1];
            }
            p->nalt = nalt;
        }
    }
    free(buf);
    /* the whole pattern runs when it is not split (and always in mailblock_id) */
    if (p->nalt == 0) (void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
    return p;
}

/*
 * An alternative ready to run: compiling it (with JIT, the larger part) waits for the
 * first text that holds one of its literals, as many never meet one. Threads racing here
 * each compile a copy; the first stored wins and the others are freed.
 */
static const pcre2_code *alt_code(pat_alt_t *a)
{
    pcre2_code *r = atomic_load_explicit(&a->re, memory_order_acquire);
    if (r != NULL) return r;
    r = compile_code(a->src, a->len, true);
    pcre2_code *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&a->re, &none, r, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        pcre2_code_free(r);
        r = none;
    }
    return r;
}

static void md_free(void *md)
{
    thread_md = NULL;
    pcre2_match_data_free(md);
}

/* The calling thread's match data. */
static pcre2_match_data *match_data(void)
{
    if (thread_md == NULL) {
        thread_md = pcre2_match_data_create(4, NULL);
        if (thread_md == NULL || pthread_setspecific(md_key, thread_md) != 0)
            msg_panic("classify: out of memory");
    }
    return thread_md;
}

static void compile_all(void)
{
    if (pthread_key_create(&md_key, md_free) != 0) msg_panic("classify: out of memory");
    for (size_t i = 0; i < NSTRONG; i++)
        strong_re[i] = compile(strong_rules[i].re);
    for (size_t i = 0; i < NWEAK; i++)
        weak_re[i] = compile(weak_rules[i].re);
    for (size_t i = 0; i < NPROVIDERS; i++) {
        prov_text_re[i] = compile(providers[i].text_re);
        prov_rule_re[i] = calloc(providers[i].nrules + 1, sizeof(pat_t *));
        if (prov_rule_re[i] == NULL) msg_panic("classify: out of memory");
        for (size_t k = 0; k < providers[i].nrules; k++)
            prov_rule_re[i][k] = compile(providers[i].rules[k].re);
    }
    for (size_t i = 0; i < NBLOCKLISTS; i++)
        bl_re[i] = compile(blocklists[i].re);
    for (size_t i = 0; i < NFINDING_PATS; i++)
        finding_re[i] = compile(finding_pats[i].re);
    /* the id mailblock puts in its replies: "(group.name)" */
    mb_id_re = compile("\\(([a-z]+\\.[a-z0-9_]+)\\)");
    /* wording that makes a named blocklist the cause */
    listing_re = compile("listed|listing|blocked|block ?list|black ?list|\\brbl\\b|dnsbl|"
                         "reject|refused|denied|\\(s3150\\)|\\(s3140\\)|/query/|lookup");
    /* ... unless it says the address has a poor score there (a reputation service) */
    poor_rep_re = compile("(poor|low|bad) (e-?mail )?reputation");
    /* the gate's reply when a check could not finish (policy_reply_text, temp) */
    temp_dns_re = compile("^temporary dns failure while checking");
    /* "user unknown" with an empty address before it: written with no recipient at hand */
    no_address_re = compile("(^|[\\s:]): ?user unknown");
    /* wordings that belong to the check of the recipient address itself: a reply that opens
     * with the recipient's address and a colon (answering RCPT TO), and the local delivery
     * agent of the final host */
    rcpt_reply_re = compile("^\\s*(\\d{3}[\\s:-]+)?<[^<>\\s]+@[^<>\\s]+>:|"
                            "\\bmail\\.local: unknown user");
    /* a refusal that names the connecting client (its address, its ISP) */
    client_named_re = compile("\\b\\d{1,3}(\\.\\d{1,3}){3}\\b|\\byour isp\\b|"
                              "\\b(your|client|sending) ip\\b");
}

/* ---- matching ---- */

typedef struct ctx {
    const char *text;
    size_t len;
    const char *lower; /* text in ASCII lower case, for the prefilters */
    /* an index of lower: where each byte pair occurs (chains of positions + 1 through
     * pair_next, by a hash of the pair into 1 << pair_bits buckets), and which bytes occur */
    uint16_t *pair_head;
    uint16_t *pair_next;
    unsigned pair_bits;
    uint64_t byte_seen[4];
    pcre2_match_data *md;
    char cls;    /* enhanced class, or the reply code's class, or 0 */
    int subject; /* -1 when no enhanced code */
    int detail;
} ctx_t;

static unsigned pair_hash(unsigned char a, unsigned char b, unsigned bits)
{
    return (((uint32_t)a << 8 | b) * 0x9E3779B1u) >> (32 - bits);
}

/* Builds the index of c->lower; head holds 1 << bits entries (at least the text length),
 * next one per byte of the text. */
static void index_text(ctx_t *c, uint16_t *head, uint16_t *next, unsigned bits)
{
    const unsigned char *t = (const unsigned char *)c->lower;
    c->pair_head = head;
    c->pair_next = next;
    c->pair_bits = bits;
    memset(head, 0, sizeof *head << bits);
    memset(c->byte_seen, 0, sizeof c->byte_seen);
    for (size_t i = 0; i < c->len; i++) {
        c->byte_seen[t[i] >> 6] |= (uint64_t)1 << (t[i] & 63);
        if (i + 1 < c->len) {
            unsigned h = pair_hash(t[i], t[i + 1], bits);
            next[i] = head[h];
            head[h] = (uint16_t)(i + 1);
        }
    }
}

/* Does the lower-cased text contain this literal (lower case, n > 0)? */
static bool has_literal(const ctx_t *c, const char *lit, size_t n)
{
    const unsigned char *l = (const unsigned char *)lit;
    if (n > c->len) return false;
    if (n == 1) return (c->byte_seen[l[0] >> 6] >> (l[0] & 63)) & 1;
    for (unsigned p = c->pair_head[pair_hash(l[0], l[1], c->pair_bits)]; p != 0;
         p = c->pair_next[p - 1])
        if (p - 1 + n <= c->len && memcmp(c->lower + p - 1, lit, n) == 0) return true;
    return false;
}

/* Can the pattern match anywhere in the text? False only when it surely cannot. */
static bool may_match(const ctx_t *c, const pat_t *p)
{
    if (p->nlit == 0) return true;
    for (size_t k = 0; k < p->nlit; k++)
        if (has_literal(c, p->lit[k], p->litlen[k])) return true;
    return false;
}

static bool run(ctx_t *c, const pcre2_code *re)
{
    return pcre2_match(re, (PCRE2_SPTR)c->text, c->len, 0, 0, c->md, NULL) >= 0;
}

static bool match(ctx_t *c, const pat_t *p)
{
    if (p->nalt == 0) return may_match(c, p) && run(c, p->re);
    for (size_t a = 0; a < p->nalt; a++)
        for (size_t k = p->alt[a].from; k < p->alt[a].to; k++)
            if (has_literal(c, p->lit[k], p->litlen[k])) {
                if (run(c, alt_code(&p->alt[a]))) return true;
                break;
            }
    return false;
}

static bool rule_applies(const classify_in_t *in, ctx_t *c, const rule_t *r, const pat_t *re)
{
    if (r->command != NULL &&
        !(ex_command_is(r->command, EX_CMD_DATA) ? ex_command_is_data(in->command)
                                                 : ex_command_is(in->command, r->command)))
        return false;
    if (r->cls != 0 && r->cls != c->cls) return false;
    if (r->subject >= 0 && r->subject != c->subject) return false;
    if (r->dmin >= 0 && (c->detail < r->dmin || c->detail > r->dmax)) return false;
    return re == NULL ? r->subject >= 0 : match(c, re);
}

/* Parses "c.s.d" (RFC 3463 section 2, ex_status_at) into class, subject and detail; false if
 * malformed or followed by anything. */
static bool parse_enhanced(const char *e, char *cls, int *subject, int *detail)
{
    if (e == NULL) return false;
    size_t n = strlen(e);
    ex_status_t st;
    if (n == 0 || ex_status_at(e, n, 0, &st) != n) return false;
    *cls = st.cls;
    *subject = st.subject;
    *detail = st.detail;
    return true;
}

/* ---- the registry (RFC 3463, 3886, 4468, 4865, 4954, 5248, 6710, 7293, 7372, 7505,
 * 8098, 8689) read as reasons ---- */

typedef struct reg {
    short subject, detail; /* detail -1: the whole subject */
    ex_reason_t reason;
    const char *finding;
    bool specific; /* names a cause clearly enough to beat the weak text patterns */
} reg_t;

static const reg_t registry[] = {
    {1, 1, EX_USERUNKNOWN, NULL, true},
    {1, 2, EX_HOSTUNKNOWN, NULL, true},
    {1, 3, EX_USERUNKNOWN, NULL, true},
    {1, 4, EX_USERUNKNOWN, NULL, false},
    {1, 6, EX_HASMOVED, NULL, true},
    {1, 7, EX_REJECTED, "sender.syntax", true},
    {1, 8, EX_REJECTED, "sender.domain_unknown", true},
    {1, 9, EX_SYSTEMERROR, NULL, false},
    {1, 10, EX_NOTACCEPT, NULL, true}, /* RFC 7505: the recipient domain has a null MX */
    {1, -1, EX_USERUNKNOWN, NULL, false},
    {2, 1, EX_SUSPEND, NULL, false},
    {2, 2, EX_MAILBOXFULL, NULL, true},
    {2, 3, EX_EXCEEDLIMIT, NULL, true},
    {2, 4, EX_SYSTEMERROR, NULL, false},
    {2, -1, EX_FILTERED, NULL, false},
    {3, 1, EX_SYSTEMFULL, NULL, true},
    {3, 2, EX_NOTACCEPT, NULL, false},
    {3, 4, EX_MESGTOOBIG, "message.too_big", true},
    {3, -1, EX_SYSTEMERROR, NULL, false},
    {4, 1, EX_EXPIRED, NULL, false},
    {4, 3, EX_SYSTEMERROR, NULL, false}, /* a directory server of the receiving side failed */
    {4, 4, EX_HOSTUNKNOWN, NULL, false},
    {4, 5, EX_SYSTEMFULL, NULL, false},
    {4, 7, EX_EXPIRED, NULL, true},
    {4, -1, EX_NETWORKERROR, NULL, false},
    {5, 3, EX_TOOMANYCONN, NULL, true},
    {5, 5, EX_SYSTEMERROR, NULL, false},
    {5, -1, EX_SYNTAXERROR, NULL, false},
    {6, -1, EX_CONTENTERROR, NULL, false},
    {7, 2, EX_POLICYVIOLATION, NULL, false},
    /* RFC 5248 and 4954: encryption needed for the requested AUTH mechanism (a text that
     * names TLS or STARTTLS still reads as failedstarttls, before the registry) */
    {7, 10, EX_SECURITYERROR, NULL, true},
    {7, 11, EX_SECURITYERROR, NULL, true},
    {7, 13, EX_SUSPEND, NULL, true},
    {7, 16, EX_MESGTOOBIG, NULL, true},
    {7, 17, EX_HASMOVED, NULL, true},
    {7, 18, EX_HASMOVED, NULL, true},
    {7, 20, EX_AUTHFAILURE, "dkim", true},
    {7, 21, EX_AUTHFAILURE, "dkim", true},
    {7, 22, EX_AUTHFAILURE, "dkim", true},
    {7, 23, EX_AUTHFAILURE, "spf.mailfrom", true},
    {7, 24, EX_AUTHFAILURE, "spf.mailfrom", true},
    {7, 25, EX_REQUIREPTR, NULL, true},
    {7, 26, EX_AUTHFAILURE, NULL, true},
    {7, 27, EX_REJECTED, "sender.null_mx", true}, /* RFC 7505 section 4.2 */
    {7, 28, EX_SPAMDETECTED, NULL, true},         /* mail flood (IANA registry) */
    {7, 29, EX_AUTHFAILURE, NULL, true},          /* ARC */
    {7, 30, EX_FAILEDSTARTTLS, NULL, true},       /* REQUIRETLS, RFC 8689 */
    {7, -1, EX_SECURITYERROR, NULL, false},
};

static const reg_t *registry_find(char cls, int subject, int detail)
{
    /* a temporary "unable to route" is a DNS or network problem, and a temporary "not
     * authorized" (greylisting, a temporary block) is a block */
    static const reg_t temp_route = {4, 4, EX_NETWORKERROR, NULL, false};
    static const reg_t temp_block = {7, 1, EX_BLOCKED, NULL, false};
    if (cls == '4' && subject == 4 && detail == 4) return &temp_route;
    if (cls == '4' && subject == 7 && detail == 1) return &temp_block;
    const reg_t *whole = NULL;
    for (size_t i = 0; i < sizeof registry / sizeof *registry; i++) {
        if (registry[i].subject != subject) continue;
        if (registry[i].detail == detail) return &registry[i];
        if (registry[i].detail < 0) whole = &registry[i];
    }
    return whole;
}

/* ---- providers ---- */

static bool host_has_suffix(const char *h, size_t n, const char *suf)
{
    size_t sn = strlen(suf);
    if (n < sn || !mem_iendswith(h, n, suf, sn)) return false;
    return n == sn || h[n - sn - 1] == '.' || h[n - sn - 1] == '-';
}

const char *classify_blocklist_zone(const char *name)
{
    for (size_t i = 0; name != NULL && i < NBLOCKLISTS; i++)
        if (strcmp(blocklists[i].name, name) == 0)
            return blocklists[i].zone;
    return NULL;
}

const char *classify_provider_of_host(const char *host, size_t len)
{
    if (host == NULL) return NULL;
    if (len > 0 && host[len - 1] == '.') len--;
    if (len == 0 || len > 255) return NULL;
    for (size_t i = 0; i < NPROVIDERS; i++)
        for (const char *const *s = providers[i].hosts; *s != NULL; s++)
            if (host_has_suffix(host, len, *s)) return providers[i].name;
    /* names that carry the provider inside (gmail-smtp-in, *.mail.protection...) */
    static const struct {
        const char *frag;
        const char *name;
    } inner[] = {{"gmail-smtp-in", "google"},         {"aspmx", "google"},
                 {"protection.outlook", "microsoft"}, {"mimecast", "mimecast"},
                 {"pphosted", "proofpoint"},          {"barracuda", "barracuda"}};
    for (size_t i = 0; i < sizeof inner / sizeof *inner; i++) {
        size_t fn = strlen(inner[i].frag);
        for (size_t k = 0; k + fn <= len; k++)
            if (mem_ieq(host + k, fn, inner[i].frag, fn)) return inner[i].name;
    }
    return NULL;
}

static int provider_index(const char *name)
{
    for (size_t i = 0; i < NPROVIDERS; i++)
        if (name != NULL && strcmp(providers[i].name, name) == 0) return (int)i;
    return -1;
}

/* ---- layer 1 ---- */

static ex_reason_t reason_of_finding(const char *id)
{
    static const struct {
        const char *prefix;
        ex_reason_t reason;
    } map[] = {
        {"client.no_ptr", EX_REQUIREPTR},
        {"client.ptr_mismatch", EX_REQUIREPTR},
        {"client.ptr_generic", EX_REQUIREPTR},
        {"client.no_tls", EX_FAILEDSTARTTLS},
        {"client.", EX_BLOCKED},
        {"helo.", EX_BLOCKED},
        {"sender.rhsbl", EX_BLOCKED},
        {"sender.", EX_REJECTED},
        {"rcpt.", EX_USERUNKNOWN},
        {"message.too_big", EX_MESGTOOBIG},
        {"spf.", EX_AUTHFAILURE},
        {"dkim", EX_AUTHFAILURE},
        {"dmarc", EX_AUTHFAILURE},
        {"arc", EX_AUTHFAILURE},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strncmp(id, map[i].prefix, strlen(map[i].prefix)) == 0) return map[i].reason;
    return EX_UNDEFINED;
}

/* The last "(group.name)" in the text that names a known finding; NULL if none. */
static const char *mailblock_id(ctx_t *c)
{
    static const char *const extra[] = {"spf.mailfrom", "spf.helo"};
    const char *found = NULL;
    PCRE2_SIZE start = 0;
    if (!may_match(c, mb_id_re)) return NULL;
    while (start < c->len &&
           pcre2_match(mb_id_re->re, (PCRE2_SPTR)c->text, c->len, start, 0, c->md, NULL) >= 2) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        const char *id = c->text + ov[2];
        size_t n = ov[3] - ov[2];
        const catalog_entry_t *e = catalog_find(id, n);
        if (e != NULL) found = e->id;
        for (size_t k = 0; k < 2; k++)
            if (strlen(extra[k]) == n && memcmp(extra[k], id, n) == 0) found = extra[k];
        start = ov[1] > start ? ov[1] : start + 1;
    }
    return found;
}

/* ---- entry ---- */

/*
 * Can the finding found in the text be the cause of a failure with this reason? A
 * blocklist named beside "user unknown" is not the cause; SPF named in a reputation
 * message is.
 */
static bool finding_fits(const char *f, ex_reason_t r)
{
    if (strncmp(f, "spf.", 4) == 0 || strcmp(f, "dkim") == 0 || strcmp(f, "dmarc") == 0)
        return r == EX_AUTHFAILURE || r == EX_SPEEDING || r == EX_BADREPUTATION ||
               r == EX_BLOCKED || r == EX_POLICYVIOLATION || r == EX_REJECTED;
    /* a listing of the client's address refuses the client; an address or a URL on a list
     * (a refused sender, content) is not this finding */
    if (strcmp(f, "client.dnsbl") == 0)
        return r == EX_BLOCKED || r == EX_BADREPUTATION || r == EX_POLICYVIOLATION ||
               r == EX_UNDEFINED;
    if (strncmp(f, "client.no_tls", 13) == 0)
        return r == EX_FAILEDSTARTTLS || r == EX_SECURITYERROR || r == EX_POLICYVIOLATION;
    if (strncmp(f, "client.", 7) == 0 || strncmp(f, "helo.", 5) == 0)
        return r == EX_BLOCKED || r == EX_REQUIREPTR || r == EX_BADREPUTATION ||
               r == EX_SPAMDETECTED || r == EX_POLICYVIOLATION || r == EX_SYNTAXERROR ||
               r == EX_SECURITYERROR || r == EX_REJECTED || r == EX_UNDEFINED;
    if (strcmp(f, "sender.rhsbl") == 0)
        return r == EX_BLOCKED || r == EX_SPAMDETECTED || r == EX_REJECTED ||
               r == EX_POLICYVIOLATION;
    if (strncmp(f, "sender.", 7) == 0)
        return r == EX_REJECTED || r == EX_NOTCOMPLIANTRFC || r == EX_AUTHFAILURE ||
               r == EX_BLOCKED || r == EX_POLICYVIOLATION || r == EX_SYNTAXERROR;
    return true;
}

static bool temporary(const classify_in_t *in, char cls)
{
    return cls == '4' || in->action == EX_ACTION_DELAYED;
}

static void set_hard(const classify_in_t *in, classify_t *out, char cls)
{
    /* a reply code, when there is one, must be permanent too: a 2xx, 3xx or 4xx reply is never
     * a hard bounce, whatever enhanced code it carries */
    bool permanent = (cls == '5' || (cls == 0 && in->action != EX_ACTION_DELAYED &&
                                     in->action != EX_ACTION_DELIVERED)) &&
                     (in->code == 0 || in->code >= 500);
    switch (out->reason) {
    case EX_USERUNKNOWN:
    case EX_HOSTUNKNOWN:
    case EX_HASMOVED:
    case EX_NOTACCEPT:
        out->hard = permanent && !temporary(in, cls);
        break;
    default:
        out->hard = false;
    }
}

/*
 * A "user unknown" that a bounce quotes from another server without naming the command it
 * answered: a mailbox status (X.2.x: disabled, not accepting) or a permanent reply whose
 * status does not say the address is bad may as well have come after DATA, from a filter
 * of the receiving side; sisimai reads such a refusal as filtered and so does mailblock.
 * A reply that names the recipient in front ("<rcpt>: ...") answers RCPT TO, and the
 * final host's delivery agent (mail.local) checks the mailbox itself.
 */
static bool relayed_unknown(const classify_in_t *in, ctx_t *c)
{
    if (match(c, rcpt_reply_re))
        return false;
    return c->subject == 2 || (in->code >= 500 && c->subject != 1);
}

/*
 * What the command and the DSN action say about a reason read from the text:
 *  - in reply to MAIL FROM, an address that does not exist or is refused is the envelope
 *    sender's: rejected;
 *  - a recipient refused after the message text was sent (DATA, BDAT) was refused by a
 *    filter of the receiving side, not by the address check of RCPT: filtered, unless the
 *    enhanced status (X.1.0 to X.1.10) itself says the address is bad. A "user unknown"
 *    with an empty address slot (": User unknown") was written when the server had no
 *    recipient address in hand, which is after DATA, not in reply to RCPT. So is one that
 *    carries a security or policy status (X.7.x) and no command: a policy refused it. A
 *    provider's own table (which knows when that provider checks its recipients) is kept;
 *  - before any command (the greeting) nothing is known of a mailbox: a mailbox wording
 *    there refuses the client: blocked; so is a bare refusal of HELO/EHLO, which names
 *    only the client;
 *  - a temporary failure to find the host is a DNS problem that may recover: networkerror;
 *  - a length over a per-recipient limit (X.2.3) is exceedlimit, not the system's size
 *    limit;
 *  - a delayed action with nothing else decided: delivery is still being retried and
 *    expires if it keeps failing: expired.
 */
static void by_command(const classify_in_t *in, ctx_t *c, classify_t *out)
{
    ex_reason_t r = out->reason;
    bool after_data = ex_command_is_data(in->command);
    bool no_command = in->command == NULL || in->command[0] == '\0';
    if (ex_command_is(in->command, EX_CMD_MAIL) &&
        (r == EX_USERUNKNOWN || r == EX_HOSTUNKNOWN || r == EX_FILTERED || r == EX_SUSPEND))
        out->reason = EX_REJECTED;
    else if (r == EX_USERUNKNOWN && out->layer != CLASSIFY_LAYER_PROVIDER &&
             ((after_data && !(c->subject == 1 && c->detail <= 10)) ||
              (no_command && (c->subject == 7 || match(c, no_address_re) ||
                              (in->in_bounce && relayed_unknown(in, c))))))
        out->reason = EX_FILTERED;
    else if (ex_command_is(in->command, EX_CMD_CONN) &&
             (r == EX_USERUNKNOWN || r == EX_FILTERED || r == EX_MAILBOXFULL || r == EX_SUSPEND ||
              r == EX_EXCEEDLIMIT || r == EX_HASMOVED))
        out->reason = EX_BLOCKED;
    else if (ex_command_is_helo(in->command) && r == EX_REJECTED &&
             out->layer != CLASSIFY_LAYER_PROVIDER)
        out->reason = EX_BLOCKED;
    else if (r == EX_HOSTUNKNOWN && temporary(in, c->cls))
        out->reason = EX_NETWORKERROR;
    else if (r == EX_MESGTOOBIG && c->subject == 2 && c->detail == 3)
        out->reason = EX_EXCEEDLIMIT;
    else if (r == EX_UNDEFINED && in->action == EX_ACTION_DELAYED)
        out->reason = EX_EXPIRED;
}

const char *classify_layer_name(classify_layer_t l)
{
    switch (l) {
    case CLASSIFY_LAYER_MAILBLOCK:
        return "mailblock";
    case CLASSIFY_LAYER_PROVIDER:
        return "provider";
    case CLASSIFY_LAYER_REGISTRY:
        return "registry";
    case CLASSIFY_LAYER_PATTERN:
        return "pattern";
    default:
        return "none";
    }
}

void classify_reply(const classify_in_t *in, classify_t *out)
{
    pthread_once(&compiled, compile_all);
    memset(out, 0, sizeof *out);
    out->reason = EX_UNDEFINED;
    out->layer = CLASSIFY_LAYER_NONE;

    ctx_t c = {0};
    c.text = in->text != NULL ? in->text : "";
    c.len = in->text != NULL ? in->text_len : 0;
    c.cls = 0;
    c.subject = c.detail = -1;
    if (c.len > CLASSIFY_TEXT_MAX) c.len = CLASSIFY_TEXT_MAX;
    /* the lower-cased copy and its index, for the patterns' prefilters */
    char lower[CLASSIFY_TEXT_MAX];
    uint16_t pair_head[CLASSIFY_TEXT_MAX], pair_next[CLASSIFY_TEXT_MAX];
    for (size_t i = 0; i < c.len; i++)
        lower[i] = (char)ascii_lower((unsigned char)c.text[i]);
    c.lower = lower;
    unsigned bits = 4;
    while (((size_t)1 << bits) < c.len)
        bits++;
    index_text(&c, pair_head, pair_next, bits);
    if (!parse_enhanced(in->enhanced, &c.cls, &c.subject, &c.detail)) {
        c.subject = c.detail = -1;
        c.cls = in->code >= 200 && in->code <= 599 ? (char)('0' + in->code / 100) : 0;
    }
    c.md = match_data();

    /* provider: the host first, then the text */
    if (in->remote_mta != NULL)
        out->provider = classify_provider_of_host(in->remote_mta, strlen(in->remote_mta));
    for (size_t i = 0; out->provider == NULL && i < NPROVIDERS; i++)
        if (c.len > 0 && prov_text_re[i] != NULL && match(&c, prov_text_re[i]))
            out->provider = providers[i].name;
    /* the blocklist named in the text */
    bool bl_domain = false;
    for (size_t i = 0; i < NBLOCKLISTS && c.len > 0; i++)
        if (match(&c, bl_re[i])) {
            out->blocklist = blocklists[i].name;
            bl_domain = blocklists[i].domain;
            break;
        }

    /* 1. mailblock's own id */
    const char *id = c.len > 0 ? mailblock_id(&c) : NULL;
    if (id != NULL) {
        out->finding = id;
        out->reason = reason_of_finding(id);
        out->layer = CLASSIFY_LAYER_MAILBLOCK;
        /* the gate could not finish the check: DNS, not the finding, is the cause */
        if (match(&c, temp_dns_re)) out->reason = EX_NETWORKERROR;
        goto done;
    }
    if (c.cls == '2') {
        out->reason = EX_DELIVERED;
        out->layer = CLASSIFY_LAYER_REGISTRY;
        goto findings;
    }
    /* 2. the provider's table */
    int pi = provider_index(out->provider);
    if (pi >= 0) {
        for (size_t k = 0; k < providers[pi].nrules; k++) {
            const rule_t *r = &providers[pi].rules[k];
            if ((r->re == NULL || c.len > 0) && rule_applies(in, &c, r, prov_rule_re[pi][k])) {
                out->reason = r->reason;
                out->finding = r->finding;
                out->layer = CLASSIFY_LAYER_PROVIDER;
                goto findings;
            }
        }
    }
    /* 3. a named blocklist, strong patterns, specific registry codes, weak patterns, the rest
     * of the registry, the command */
    /* ... not beside a status that says the mailbox does not exist or is full (the list is
     * then only quoted), and a list of the URLs in messages is about the content */
    bool mailbox_status = (c.subject == 1 && c.detail == 1) || (c.subject == 2 && c.detail == 2);
    if (out->blocklist != NULL && !mailbox_status && match(&c, listing_re) &&
        !match(&c, poor_rep_re)) {
        out->reason = strcmp(out->blocklist, "SURBL") == 0 || strcmp(out->blocklist, "URIBL") == 0
                          ? EX_SPAMDETECTED
                          : EX_BLOCKED;
        out->layer = CLASSIFY_LAYER_PATTERN;
        goto findings;
    }
    /* X.1.7 and X.1.8 say the envelope sender is at fault; generic wording such as
     * "invalid address" must not turn them into a recipient problem */
    if (c.subject == 1 && (c.detail == 7 || c.detail == 8) && c.cls != '2') {
        const reg_t *sr = registry_find(c.cls, c.subject, c.detail);
        out->reason = sr->reason;
        out->finding = NULL;
        out->layer = CLASSIFY_LAYER_REGISTRY;
        goto findings;
    }
    for (size_t k = 0; k < NSTRONG && c.len > 0; k++)
        if (match(&c, strong_re[k])) {
            out->reason = strong_rules[k].reason;
            out->finding = strong_rules[k].finding;
            out->layer = CLASSIFY_LAYER_PATTERN;
            goto findings;
        }
    const reg_t *reg = c.subject >= 0 ? registry_find(c.cls, c.subject, c.detail) : NULL;
    /* X.4.1 says the host did not answer; a reply of its own to a command says it did: the
     * code is some server's reuse and the words decide */
    if (reg != NULL && c.subject == 4 && c.detail == 1 && in->code >= 400 &&
        in->command != NULL && in->command[0] != '\0')
        reg = NULL;
    if (reg != NULL && reg->specific) {
        out->reason = reg->reason;
        out->finding = reg->finding;
        out->layer = CLASSIFY_LAYER_REGISTRY;
        goto findings;
    }
    for (size_t k = 0; k < NWEAK && c.len > 0; k++)
        if (match(&c, weak_re[k])) {
            if (weak_rules[k].generic && reg != NULL && c.subject > 0)
                break; /* the registry names the subject the word leaves open */
            out->reason = weak_rules[k].reason;
            out->finding = weak_rules[k].finding;
            out->layer = CLASSIFY_LAYER_PATTERN;
            goto findings;
        }
    if (reg != NULL) {
        out->reason = reg->reason;
        out->finding = reg->finding;
        out->layer = CLASSIFY_LAYER_REGISTRY;
    } else if (ex_command_is(in->command, EX_CMD_CONN) && (c.cls == '4' || c.cls == '5')) {
        /* refused before any command: the client itself is not welcome */
        out->reason = EX_BLOCKED;
        out->layer = CLASSIFY_LAYER_REGISTRY;
    }

findings:
    /* the finer finding, when the text names the check */
    if (out->finding == NULL && c.len > 0) {
        for (size_t k = 0; k < NFINDING_PATS; k++)
            if (finding_fits(finding_pats[k].finding, out->reason) && match(&c, finding_re[k])) {
                out->finding = finding_pats[k].finding;
                break;
            }
    }
    /* a named list is the cause of a block (a dynamic-looking name is then its reason) */
    if (out->blocklist != NULL && out->reason == EX_BLOCKED &&
        (out->finding == NULL || strcmp(out->finding, "client.ptr_generic") == 0 ||
         strcmp(out->finding, "client.dnsbl") == 0))
        out->finding = bl_domain ? "sender.rhsbl" : "client.dnsbl";
    /* a refusal of the envelope sender, worded only as "denied" or "blocked" (a text that
     * names the client's address or ISP refuses the client, not the sender) */
    if (out->layer == CLASSIFY_LAYER_PATTERN && out->reason == EX_BLOCKED &&
        out->blocklist == NULL && out->finding == NULL &&
        ex_command_is(in->command, EX_CMD_MAIL) &&
        !match(&c, client_named_re))
        out->reason = EX_REJECTED;
    by_command(in, &c, out);
    if (out->reason == EX_MESGTOOBIG) out->finding = "message.too_big";
done:
    set_hard(in, out, c.cls);
}
