/*
 * check_sender: the envelope. MAIL FROM syntax (RFC 5321 4.1.2), its domain's existence as a
 * mail domain (MX, else A/AAAA as the implicit MX of RFC 5321 5.1), null MX (RFC 7505),
 * forgery of the receiver's own domains, domain blocklists; RCPT TO syntax; the size
 * announced with ESMTP SIZE (RFC 1870).
 */
#include <stdio.h>
#include <string.h>

#include "check/checks.h"
#include "mail/addr.h"
#include "util/log.h"
#include "util/str.h"

/* "<address>" into out (size bytes), the address cut to fit. */
static void bracket(char *out, size_t size, const char *addr, size_t len)
{
    if (len > size - 3)
        len = size - 3;
    out[0] = '<';
    memcpy(out + 1, addr, len);
    out[len + 1] = '>';
    out[len + 2] = '\0';
}

static void set_all(txn_t *t, finding_id_t first, finding_id_t last, result_t r)
{
    for (int i = first; i <= (int)last; i++)
        txn_set(t, (finding_id_t)i, r, NULL);
}

/* sender.domain_unknown and sender.null_mx from MX, then A/AAAA when there is no MX. */
static bool sender_domain(txn_t *t, const char *domain)
{
    const dns_answer_t *mx = txn_dns(t, domain, DNS_T_MX);
    if (mx == NULL)
        return false;
    if (mx->status == DNS_OK) {
        /* RFC 7505 3: a null MX is a single record with preference 0 and target "." */
        bool null_mx = false;
        for (size_t i = 0; i < mx->count; i++)
            if (mx->rr[i].name[0] == '\0')
                null_mx = true;
        txn_set(t, F_SENDER_DOMAIN_UNKNOWN, RES_PASS, domain);
        txn_evidencez(t, F_SENDER_DOMAIN_UNKNOWN, "found", "MX");
        txn_set(t, F_SENDER_NULL_MX, null_mx ? RES_FAIL : RES_PASS, domain);
        return true;
    }
    txn_set(t, F_SENDER_NULL_MX, RES_PASS, domain);
    if (mx->status == DNS_NXDOMAIN || mx->status == DNS_BADNAME) {
        txn_set(t, F_SENDER_DOMAIN_UNKNOWN, RES_FAIL, domain);
        txn_evidencez(t, F_SENDER_DOMAIN_UNKNOWN, "dns", dns_status_name(mx->status));
        return true;
    }
    if (dns_status_temporary(mx->status)) {
        txn_set(t, F_SENDER_DOMAIN_UNKNOWN, RES_TEMPERROR, domain);
        txn_evidencez(t, F_SENDER_DOMAIN_UNKNOWN, "dns", dns_status_name(mx->status));
        return true;
    }
    /* NODATA for MX: an address record makes the implicit MX */
    const dns_answer_t *a = txn_dns(t, domain, DNS_T_A);
    const dns_answer_t *aaaa = txn_dns(t, domain, DNS_T_AAAA);
    if (a == NULL || aaaa == NULL)
        return false;
    if (a->status == DNS_OK || aaaa->status == DNS_OK) {
        txn_set(t, F_SENDER_DOMAIN_UNKNOWN, RES_PASS, domain);
        txn_evidencez(t, F_SENDER_DOMAIN_UNKNOWN, "found",
                      a->status == DNS_OK ? "A (implicit MX)" : "AAAA (implicit MX)");
        return true;
    }
    bool temp = dns_status_temporary(a->status) || dns_status_temporary(aaaa->status);
    txn_set(t, F_SENDER_DOMAIN_UNKNOWN, temp ? RES_TEMPERROR : RES_FAIL, domain);
    txn_evidencez(t, F_SENDER_DOMAIN_UNKNOWN, "dns",
                  temp ? "temporary failure" : "no MX, A or AAAA");
    return true;
}

bool check_sender(txn_t *t)
{
    const facts_t *f = txn_facts(t);
    if (!f->have_sender) {
        set_all(t, F_SENDER_SYNTAX, F_SENDER_RHSBL, RES_SKIPPED);
        return true;
    }
    addr_t a;
    const unsigned char *s = (const unsigned char *)f->sender;
    char shown[300];
    bracket(shown, sizeof shown, f->sender, f->sender_len);
    switch (addr_parse(s, f->sender_len, 0, &a)) {
    case ADDR_NULL:
        /* RFC 5321 4.5.5: the null reverse-path is always valid */
        set_all(t, F_SENDER_SYNTAX, F_SENDER_RHSBL, RES_PASS);
        return true;
    case ADDR_BAD_SYNTAX:
        txn_set(t, F_SENDER_SYNTAX, RES_FAIL, shown);
        txn_evidencez(t, F_SENDER_SYNTAX, "why", a.why ? a.why : "invalid");
        set_all(t, F_SENDER_NO_DOMAIN, F_SENDER_RHSBL, RES_SKIPPED);
        return true;
    case ADDR_NO_DOMAIN:
        txn_set(t, F_SENDER_SYNTAX, RES_PASS, shown);
        txn_set(t, F_SENDER_NO_DOMAIN, RES_FAIL, shown);
        set_all(t, F_SENDER_IP_DOMAIN, F_SENDER_RHSBL, RES_SKIPPED);
        return true;
    case ADDR_IP_DOMAIN:
        txn_set(t, F_SENDER_SYNTAX, RES_PASS, shown);
        txn_set(t, F_SENDER_NO_DOMAIN, RES_PASS, shown);
        txn_set(t, F_SENDER_IP_DOMAIN, RES_FAIL, shown);
        set_all(t, F_SENDER_DOMAIN_UNKNOWN, F_SENDER_RHSBL, RES_SKIPPED);
        return true;
    case ADDR_OK:
        break;
    }
    char domain[300];
    mem_copyz(domain, sizeof domain, f->sender + a.domain_off, a.domain_len);
    for (char *p = domain; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    /* A final dot is not in the grammar; addr_parse refused it already. */
    txn_set(t, F_SENDER_SYNTAX, RES_PASS, shown);
    txn_set(t, F_SENDER_NO_DOMAIN, RES_PASS, shown);
    txn_set(t, F_SENDER_IP_DOMAIN, RES_PASS, shown);
    if (config_is_local_domain(txn_config(t), domain, strlen(domain))) {
        txn_set(t, F_SENDER_FORGED_LOCAL, RES_FAIL, shown);
    } else {
        txn_set(t, F_SENDER_FORGED_LOCAL, RES_PASS, shown);
    }
    bool done = true;
    const finding_t *du = txn_finding(t, F_SENDER_DOMAIN_UNKNOWN);
    if (!du->done) {
        if (txn_wanted(t, F_SENDER_DOMAIN_UNKNOWN) || txn_wanted(t, F_SENDER_NULL_MX))
            done &= sender_domain(t, domain);
        else
            set_all(t, F_SENDER_DOMAIN_UNKNOWN, F_SENDER_NULL_MX, RES_SKIPPED);
    }
    const finding_t *rh = txn_finding(t, F_SENDER_RHSBL);
    if (!rh->done) {
        if (txn_config(t)->nrhsbl_sites == 0)
            txn_set(t, F_SENDER_RHSBL, RES_SKIPPED, NULL);
        else
            done &= check_client_rhsbl_domain(t, domain);
    }
    return done;
}

bool check_rcpt(txn_t *t)
{
    const facts_t *f = txn_facts(t);
    if (!f->have_rcpt) {
        set_all(t, F_RCPT_SYNTAX, F_RCPT_IP_DOMAIN, RES_SKIPPED);
        return true;
    }
    addr_t a;
    char shown[300];
    bracket(shown, sizeof shown, f->rcpt, f->rcpt_len);
    set_all(t, F_RCPT_SYNTAX, F_RCPT_IP_DOMAIN, RES_PASS);
    switch (addr_parse((const unsigned char *)f->rcpt, f->rcpt_len, 0, &a)) {
    case ADDR_NULL:
        txn_set(t, F_RCPT_SYNTAX, RES_FAIL, shown);
        txn_evidencez(t, F_RCPT_SYNTAX, "why", "the null address is not a recipient");
        break;
    case ADDR_BAD_SYNTAX:
        txn_set(t, F_RCPT_SYNTAX, RES_FAIL, shown);
        txn_evidencez(t, F_RCPT_SYNTAX, "why", a.why ? a.why : "invalid");
        break;
    case ADDR_NO_DOMAIN:
        txn_set(t, F_RCPT_NO_DOMAIN, RES_FAIL, shown);
        break;
    case ADDR_IP_DOMAIN:
        txn_set(t, F_RCPT_IP_DOMAIN, RES_FAIL, shown);
        break;
    case ADDR_OK:
        break;
    }
    return true;
}

bool check_size(txn_t *t)
{
    const facts_t *f = txn_facts(t);
    unsigned long long limit = txn_config(t)->message_size_limit;
    if (!f->have_size || limit == 0) {
        txn_set(t, F_MESSAGE_TOO_BIG, RES_SKIPPED, NULL);
        return true;
    }
    result_t r = f->size > limit ? RES_FAIL : RES_PASS;
    if (r == RES_PASS && !txn_verbose(t)) {
        /* nobody shows a passing check's value or evidence (see txn_set): none to format */
        txn_set(t, F_MESSAGE_TOO_BIG, r, NULL);
        return true;
    }
    char shown[64];
    mem_concat(shown, sizeof shown, fmt_ull(shown + 32, f->size), " bytes", (char *)NULL);
    txn_set(t, F_MESSAGE_TOO_BIG, r, shown);
    fmt_ull(shown, limit);
    txn_evidencez(t, F_MESSAGE_TOO_BIG, "limit", shown);
    return true;
}
