/*
 * addr: RFC 5321 envelope syntax: the Mailbox of MAIL FROM / RCPT TO, the Domain of an
 * address or of HELO/EHLO, and address literals ([1.2.3.4], [IPv6:...]).
 *
 * This is SMTP envelope syntax, not RFC 5322 header syntax: no comments, no folding white
 * space, no obsolete forms, no domain literals other than RFC 5321 address literals.
 * Limits (RFC 5321 4.5.3.1): local part 64 octets, domain 253 octets of text (255 on the
 * wire), path 256 octets including the angle brackets (so a mailbox of at most 254).
 *
 * All functions take (buf, len), never read past len and never need a NUL; an embedded NUL,
 * any other control character, DEL and (unless ADDR_SMTPUTF8 is given) any 8-bit byte is a
 * syntax error. They allocate nothing and keep no state, so they are thread-safe. The `why`
 * texts are static English strings naming the first problem found; they contain no peer
 * text and can be logged as they are.
 */
#ifndef MB_MAIL_ADDR_H
#define MB_MAIL_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX 64    /* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 253  /* RFC 5321 4.5.3.1.2: 255 octets on the wire = 253 of text */
#define ADDR_LABEL_MAX 63    /* RFC 1035 2.3.4 */
#define ADDR_PATH_MAX 256    /* RFC 5321 4.5.3.1.3, counting "<" and ">" */
#define ADDR_MAILBOX_MAX (ADDR_PATH_MAX - 2)

/*
 * Flags. ADDR_SMTPUTF8 (RFC 6531 3.3) admits well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) in atext, in qtextSMTP and as U-labels in
 * domains. quoted-pairSMTP stays ASCII (%d92 %d32-126) even then. U-labels are checked for
 * UTF-8 form, hyphen placement and the length of their A-label (which is computed), not
 * against the IDNA2008 tables (RFC 5892) nor for NFC.
 */
#define ADDR_SMTPUTF8 0x1u

typedef enum {
    ADDR_OK = 0,     /* a valid Mailbox (RFC 5321 4.1.2) with a domain name */
    ADDR_NULL,       /* the null reverse-path: "" or "<>" */
    ADDR_NO_DOMAIN,  /* a valid Local-part and nothing else ("postmaster", RFC 5321 4.1.1.3) */
    ADDR_IP_DOMAIN,  /* a valid Mailbox whose domain is an IPv4 or IPv6 address literal */
    ADDR_BAD_SYNTAX, /* anything else */
} addr_status_t;

/* Filled by addr_parse(). Offsets and lengths are meaningful for ADDR_OK, ADDR_IP_DOMAIN
 * (both parts) and ADDR_NO_DOMAIN (local part only); otherwise treat them as unset. */
typedef struct {
    addr_status_t status;
    const char *why;          /* static text naming the syntax problem; NULL unless BAD_SYNTAX */
    size_t route_len;         /* octets of an ignored source route "@a,@b:" (0 if none) */
    size_t local_off, local_len;   /* the Local-part, quotes included, as offsets into buf */
    size_t domain_off, domain_len; /* the Domain, or the address literal with its brackets */
    int quoted;               /* 1 if the Local-part is a Quoted-string */
    int literal_family;       /* 4 or 6 for ADDR_IP_DOMAIN, else 0 */
    unsigned char ip[16];     /* the literal's address, network order (IPv4 in ip[0..3]) */
    int numeric_tld;          /* 1 if the domain's last label is all digits (see below) */
} addr_t;

/*
 * Parses an envelope address as Postfix passes it in sender= / recipient= (no brackets),
 * also accepting one enclosing pair of "<" ">". Fills *out completely and returns
 * out->status; offsets are into buf (so past a "<" or a source route).
 *
 * - "" and "<>" are ADDR_NULL; whether the null path is allowed (MAIL yes, RCPT no) is the
 *   caller's business.
 * - A source route (RFC 5321 4.1.2 A-d-l, e.g. "@a,@b:user@d") is checked for syntax and
 *   then ignored, as RFC 5321 4.1.1.3 and appendix C say servers SHOULD (Postfix's address
 *   rewriting strips it as well); route_len says how much was skipped and the offsets,
 *   status and length limits refer to the mailbox after it (the 256-octet path limit
 *   counts the route too). Each hop is a Domain, not an address literal.
 * - A Local-part without "@" is ADDR_NO_DOMAIN (RCPT TO:<Postmaster> must be accepted,
 *   RFC 5321 4.1.1.3 and 4.5.1); "user@" and "@dom" are ADDR_BAD_SYNTAX.
 * - An address literal must be IPv4 or IPv6 to be valid (ADDR_IP_DOMAIN). A syntactically
 *   well-formed General-address-literal ("[tag:content]") is ADDR_BAD_SYNTAX: RFC 5321
 *   4.1.3 requires the tag to be registered with IANA and none is besides IPv6.
 * - A numeric top-level label ("user@iana.123", "user@1.2.3.4") is allowed by the Domain
 *   grammar of RFC 5321 4.1.2 and so is ADDR_OK, with numeric_tld set for the caller to
 *   judge (RFC 1123 2.1 and RFC 3696 2 say real TLDs are never all-numeric).
 * - A Quoted-string local part is valid (quoted = 1) even where a Dot-string would do.
 * flags: 0 or ADDR_SMTPUTF8. out must not be NULL.
 */
addr_status_t addr_parse(const unsigned char *buf, size_t len, unsigned flags, addr_t *out);

/*
 * RFC 5321 4.1.2 Domain (sub-domain *("." sub-domain)), i.e. a host name of LDH labels:
 * 1..63 octets each, letters, digits and hyphens, no leading or trailing hyphen; at most
 * 253 octets; a single label is valid; no trailing dot (the Domain grammar has none).
 * Labels with "--" in positions 3-4 ("xn--...") are accepted when they are LDH; A-labels
 * are not decoded. Numeric labels, the last included, are valid here (RFC 5321 grammar).
 * With ADDR_SMTPUTF8, U-labels are accepted too and the lengths are those of the A-label
 * form. Returns 1 if valid; else 0 and, if why is not NULL, sets *why.
 */
int addr_domain_valid(const unsigned char *buf, size_t len, unsigned flags, const char **why);

/*
 * A HELO/EHLO host name (RFC 5321 4.1.1.1 Domain): as addr_domain_valid, and in addition
 * the last label must not be all digits (RFC 1123 2.1), so that a bare IP address such as
 * "192.0.2.1" is not a host name. A trailing dot is rejected (not in the grammar; Postfix's
 * valid_hostname() rejects it too). Single-label names are valid syntax: the caller checks
 * for a dot. Address literals are not host names: use addr_literal_parse() for "[...]".
 * Returns 1 if valid; else 0 and, if why is not NULL, sets *why.
 */
int addr_hostname_valid(const unsigned char *buf, size_t len, unsigned flags,
                        const char **why);

/*
 * An RFC 5321 4.1.3 address literal including its brackets: "[192.0.2.1]",
 * "[IPv6:2001:db8::1]" (all four IPv6 forms, including IPv6v4 with a trailing dotted quad;
 * "::" must stand for at least two groups, as 4.1.3 says), or a General-address-literal
 * "[tag:content]". The "IPv6" tag is matched case-insensitively (RFC 5234 2.3). IPv4
 * octets are 1-3 decimal digits up to 255 (Snum; leading zeros are allowed and decimal).
 * Returns 0 and sets *family to 4 or 6 with the address in out (network order, IPv4 in
 * out[0..3], the rest zeroed), or to -1 for a General-address-literal (out zeroed).
 * Returns -1 when invalid, with *family 0, out zeroed and *why set if why is not NULL.
 * family and out must not be NULL.
 */
int addr_literal_parse(const unsigned char *buf, size_t len, int *family,
                       unsigned char out[16], const char **why);

/*
 * Writes the ASCII form of a domain valid under addr_domain_valid(buf, len, flags): ASCII
 * labels are copied, U-labels become "xn--" + Punycode (RFC 3492). No IDNA2008 mapping is
 * done (no case folding, no NFC). out receives at most ADDR_DOMAIN_MAX octets plus a NUL;
 * size is its capacity. Returns the length written (without the NUL), or -1 if the domain
 * is invalid or out is too small.
 */
int addr_domain_ascii(const unsigned char *buf, size_t len, unsigned flags, char *out,
                      size_t size);


/*
 * Turns an address in the internal form that Postfix hands to policy servers (the local
 * part unquoted, e.g. `john doe@example.com`) into the RFC 5321 form a client would have
 * written: a local part that is not a Dot-string is quoted, with `"` and `\` escaped as
 * quoted-pairs (RFC 5321 4.1.2). The domain is copied as is. Writes at most size - 1 bytes
 * and a NUL to out; returns the length, or -1 if out is too small. An empty input stays
 * empty (the null sender).
 */
int addr_from_internal(const char *in, size_t len, char *out, size_t size);

#endif
