/*
 * check_helo: the HELO/EHLO name (RFC 5321 4.1.1.1, 4.1.3; RFC 1123 2.1).
 * Order: missing, then syntax (address literal or host name), then the literal's address,
 * then single-label names, then forgery of this receiver, then DNS existence. A name that
 * fails an earlier test is not looked up in DNS.
 */
#include <string.h>

#include "check/checks.h"
#include "mail/addr.h"
#include "util/log.h"
#include "util/str.h"

/* Decides helo.no_dns from A, AAAA and MX answers. */
static bool helo_dns(txn_t *t, const char *name)
{
    /* The A record settles nearly every HELO name; AAAA and MX are asked (together) only
     * when it does not. */
    const dns_answer_t *a = txn_dns(t, name, DNS_T_A);
    if (a == NULL)
        return false;
    if (a->status == DNS_OK) {
        txn_set(t, F_HELO_NO_DNS, RES_PASS, name);
        txn_evidencez(t, F_HELO_NO_DNS, "found", "A");
        return true;
    }
    const dns_answer_t *aaaa = txn_dns(t, name, DNS_T_AAAA);
    const dns_answer_t *mx = txn_dns(t, name, DNS_T_MX);
    if (aaaa == NULL || mx == NULL)
        return false;
    const dns_answer_t *all[3] = {a, aaaa, mx};
    bool temp = false;
    for (int i = 0; i < 3; i++) {
        if (all[i]->status == DNS_OK) {
            txn_set(t, F_HELO_NO_DNS, RES_PASS, name);
            txn_evidencez(t, F_HELO_NO_DNS, "found", dns_type_name(all[i]->qtype));
            return true;
        }
        temp |= dns_status_temporary(all[i]->status);
    }
    if (temp) {
        txn_set(t, F_HELO_NO_DNS, RES_TEMPERROR, name);
        txn_evidencez(t, F_HELO_NO_DNS, "dns", dns_status_name(a->status));
        return true;
    }
    txn_set(t, F_HELO_NO_DNS, RES_FAIL, name);
    txn_evidencez(t, F_HELO_NO_DNS, "dns", dns_status_name(a->status));
    return true;
}

static bool is_my_address(const txn_t *t, const ipaddr_t *ip)
{
    const config_t *c = txn_config(t);
    for (size_t i = 0; i < c->nmy_addresses; i++)
        if (ipaddr_equal(&c->my_addresses[i], ip))
            return true;
    const facts_t *f = txn_facts((txn_t *)t);
    return f->have_server_ip && ipaddr_equal(&f->server_ip, ip);
}

bool check_helo(txn_t *t)
{
    const facts_t *f = txn_facts(t);
    if (!f->helo_given) {
        /* Postfix's policy requests carry helo_name from the start of the session; an empty
         * one at MAIL or later means the client never said HELO. */
        if (f->stage < STAGE_MAIL)
            return true; /* nothing to check before MAIL */
        txn_set(t, F_HELO_MISSING, RES_FAIL, NULL);
        for (int i = F_HELO_SYNTAX; i <= F_HELO_FORGED_SELF; i++)
            txn_set(t, (finding_id_t)i, RES_SKIPPED, NULL);
        return true;
    }
    txn_set(t, F_HELO_MISSING, RES_PASS, NULL);
    const unsigned char *h = (const unsigned char *)f->helo;
    size_t len = f->helo_len;
    char shown[300];
    mem_copyz(shown, sizeof shown, f->helo, len);

    if (len > 0 && h[0] == '[') {
        int family;
        unsigned char ip[16];
        const char *why = NULL;
        if (addr_literal_parse(h, len, &family, ip, &why) != 0 || (family != 4 && family != 6)) {
            txn_set(t, F_HELO_SYNTAX, RES_FAIL, shown);
            txn_evidencez(t, F_HELO_SYNTAX, "why", why ? why : "bad address literal");
            for (int i = F_HELO_NOT_FQDN; i <= F_HELO_FORGED_SELF; i++)
                txn_set(t, (finding_id_t)i, RES_SKIPPED, NULL);
            return true;
        }
        txn_set(t, F_HELO_SYNTAX, RES_PASS, shown);
        txn_set(t, F_HELO_NOT_FQDN, RES_SKIPPED, NULL);
        txn_set(t, F_HELO_NO_DNS, RES_SKIPPED, NULL);
        ipaddr_t lit;
        memset(&lit, 0, sizeof lit);
        lit.family = family;
        memcpy(lit.a, ip, family == 4 ? 4 : 16);
        if (family == 6) { /* compare IPv4-mapped literals as IPv4 */
            char tmp[IPADDR_STRLEN];
            ipaddr_format(&lit, tmp, sizeof tmp);
            ipaddr_parsez(&lit, tmp);
        }
        if (f->have_client && !ipaddr_equal(&lit, &f->client_ip)) {
            txn_set(t, F_HELO_IP_LITERAL_MISMATCH, RES_FAIL, shown);
            txn_evidencez(t, F_HELO_IP_LITERAL_MISMATCH, "client", txn_client_text(t));
        } else {
            txn_set(t, F_HELO_IP_LITERAL_MISMATCH, RES_PASS, shown);
        }
        /* the receiver's own address, given by a client that is not the receiver */
        bool self = is_my_address(t, &lit) && !(f->have_client && ipaddr_equal(&lit, &f->client_ip));
        txn_set(t, F_HELO_FORGED_SELF, self ? RES_FAIL : RES_PASS, shown);
        return true;
    }

    const char *why = NULL;
    if (addr_hostname_valid(h, len, 0, &why) != 1) {
        ipaddr_t bare;
        if (ipaddr_parse(&bare, f->helo, len) == 0)
            why = "a bare IP address; an address literal must be in brackets";
        txn_set(t, F_HELO_SYNTAX, RES_FAIL, shown);
        txn_evidencez(t, F_HELO_SYNTAX, "why", why ? why : "invalid host name");
        for (int i = F_HELO_NOT_FQDN; i <= F_HELO_FORGED_SELF; i++)
            txn_set(t, (finding_id_t)i, RES_SKIPPED, NULL);
        return true;
    }
    txn_set(t, F_HELO_SYNTAX, RES_PASS, shown);
    txn_set(t, F_HELO_IP_LITERAL_MISMATCH, RES_SKIPPED, NULL);
    if (memchr(h, '.', len) == NULL) {
        txn_set(t, F_HELO_NOT_FQDN, RES_FAIL, shown);
        txn_set(t, F_HELO_FORGED_SELF,
                config_is_local_domain(txn_config(t), f->helo, len) ? RES_FAIL : RES_PASS,
                shown);
        txn_set(t, F_HELO_NO_DNS, RES_SKIPPED, NULL);
        return true;
    }
    txn_set(t, F_HELO_NOT_FQDN, RES_PASS, shown);
    if (config_is_local_domain(txn_config(t), f->helo, len)) {
        txn_set(t, F_HELO_FORGED_SELF, RES_FAIL, shown);
        txn_set(t, F_HELO_NO_DNS, RES_SKIPPED, NULL);
        return true;
    }
    txn_set(t, F_HELO_FORGED_SELF, RES_PASS, shown);
    if (!txn_wanted(t, F_HELO_NO_DNS)) {
        txn_set(t, F_HELO_NO_DNS, RES_SKIPPED, NULL);
        return true;
    }
    char name[300];
    mem_copyz(name, sizeof name, f->helo, len);
    return helo_dns(t, name);
}
