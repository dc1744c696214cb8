/*
 * check_client: the connecting address. Reverse DNS (PTR), forward confirmation of the PTR
 * names, the access-network name heuristic, the operator's PTR patterns, DNS blocklists
 * (RFC 5782) and TLS.
 *
 * Limits: at most CLIENT_PTR_NAMES names of a PTR set are forward-checked (SPF applies the
 * same bound of 10 to its ptr mechanism, RFC 7208 4.6.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check/checks.h"
#include "check/ptr_generic.h"
#include "util/log.h"
#include "util/str.h"

#define CLIENT_PTR_NAMES 10

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void skip_ptr_dependents(txn_t *t)
{
    txn_set(t, F_CLIENT_PTR_MISMATCH, RES_SKIPPED, NULL);
    txn_set(t, F_CLIENT_PTR_GENERIC, RES_SKIPPED, NULL);
    txn_set(t, F_CLIENT_PTR_LISTED, RES_SKIPPED, NULL);
}

bool check_client_ptr(txn_t *t)
{
    const facts_t *f = txn_facts(t);
    char rev[128];
    if (!f->have_client) {
        txn_set(t, F_CLIENT_NO_PTR, RES_SKIPPED, NULL);
        skip_ptr_dependents(t);
        return true;
    }
    const char *ipbuf = txn_client_text(t);
    if (ipaddr_reverse_name(&f->client_ip, NULL, rev, sizeof rev) != 0)
        msg_panic("reverse name does not fit");
    const dns_answer_t *ptr = txn_dns(t, rev, DNS_T_PTR);
    if (ptr == NULL)
        return false;
    if (ptr->status != DNS_OK) {
        bool temp = dns_status_temporary(ptr->status);
        txn_set(t, F_CLIENT_NO_PTR, temp ? RES_TEMPERROR : RES_FAIL, ipbuf);
        txn_evidencez(t, F_CLIENT_NO_PTR, "dns", dns_status_name(ptr->status));
        skip_ptr_dependents(t);
        return true;
    }
    txn_set(t, F_CLIENT_NO_PTR, RES_PASS, ipbuf);
    /* Servers rotate the records of a set: sort the names so that results and logs do not
     * depend on the order of the answer. */
    const char *sorted[CLIENT_PTR_NAMES];
    size_t n = ptr->count < CLIENT_PTR_NAMES ? ptr->count : CLIENT_PTR_NAMES;
    for (size_t i = 0; i < n; i++)
        sorted[i] = ptr->rr[i].name;
    if (n > 1)
        qsort(sorted, n, sizeof sorted[0], cmp_names);
    /* the set as text, for evidence and replies: at most 10 names of at most 253 octets */
    char names[CLIENT_PTR_NAMES * (DNS_NAME_MAX + 1) + 1];
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(sorted[i]);
        if (i > 0)
            names[nl++] = ',';
        memcpy(names + nl, sorted[i], l);
        nl += l;
    }
    names[nl] = '\0';
    txn_evidence(t, F_CLIENT_NO_PTR, "ptr", names, nl);

    /* Forward confirmation: any name of the set that resolves back (A for IPv4, AAAA for
     * IPv6) confirms. All forward lookups are asked in the same round. */
    uint16_t fwd = f->client_ip.family == 4 ? DNS_T_A : DNS_T_AAAA;
    bool waiting = false, temp = false;
    const char *confirmed = NULL;
    for (size_t i = 0; i < n && confirmed == NULL; i++) {
        const char *name = sorted[i];
        if (name[0] == '\0')
            continue;
        const dns_answer_t *a = txn_dns(t, name, fwd);
        if (a == NULL) {
            waiting = true;
            continue;
        }
        if (dns_status_temporary(a->status))
            temp = true;
        for (size_t j = 0; j < a->count; j++)
            if (ipaddr_equal(&a->rr[j].addr, &f->client_ip))
                confirmed = name;
    }
    if (confirmed == NULL && waiting)
        return false;
    const char *first = sorted[0];
    if (confirmed != NULL) {
        txn_set(t, F_CLIENT_PTR_MISMATCH, RES_PASS, confirmed);
        txn_set_ptr_name(t, confirmed);
    } else {
        char shown[400];
        mem_concat(shown, sizeof shown, ipbuf, " -> ", names, (char *)NULL);
        txn_set(t, F_CLIENT_PTR_MISMATCH, temp ? RES_TEMPERROR : RES_FAIL, shown);
        txn_evidence(t, F_CLIENT_PTR_MISMATCH, "ptr", names, nl);
    }

    /* The heuristic and the patterns judge the confirmed name, else the first one. */
    const char *judged = confirmed != NULL ? confirmed : first;
    ptr_generic_match_t m;
    if (ptr_generic_check(judged, strlen(judged), &f->client_ip, &m)) {
        txn_set(t, F_CLIENT_PTR_GENERIC, RES_FAIL, judged);
        txn_evidencez(t, F_CLIENT_PTR_GENERIC, "rule", m.rule);
        txn_evidence(t, F_CLIENT_PTR_GENERIC, "matched", judged + m.off, m.len);
    } else {
        txn_set(t, F_CLIENT_PTR_GENERIC, RES_PASS, judged);
    }
    const char *pattern, *text;
    bool listed = false;
    for (size_t i = 0; i < n && !listed; i++) {
        const char *name = sorted[i];
        if (config_ptr_listed(txn_config(t), name, strlen(name), &pattern, &text)) {
            txn_set(t, F_CLIENT_PTR_LISTED, RES_FAIL, text != NULL ? text : name);
            txn_evidencez(t, F_CLIENT_PTR_LISTED, "ptr", name);
            txn_evidencez(t, F_CLIENT_PTR_LISTED, "pattern", pattern);
            listed = true;
        }
    }
    if (!listed)
        txn_set(t, F_CLIENT_PTR_LISTED, RES_PASS, judged);
    return true;
}

/* Is a warning about this list due? At most one a minute per list, so that a list gone bad
 * is loud in the log without one line per transaction. */
static bool warn_due(const char *zone)
{
    enum { SLOTS = 64 };
    static struct {
        unsigned long hash;
        time_t last;
    } seen[SLOTS];
    unsigned long h = 5381;
    for (const char *p = zone; *p; p++)
        h = h * 33 + (unsigned char)*p;
    time_t now = time(NULL);
    size_t i = h % SLOTS;
    if (seen[i].hash == h && now - seen[i].last < 60)
        return false;
    seen[i].hash = h;
    seen[i].last = now;
    return true;
}

/*
 * Classifies one A answer of a DNS blocklist. RFC 5782 2.3: listings are 127.0.0.0/8 and
 * 127.0.0.1 is never one. Lists signal errors with reserved answers that must never count
 * as listings: Spamhaus answers 127.255.255.252 (typing error), .254 (query through a public
 * resolver) and .255 (excessive queries); DNSWL answers 127.0.0.255 when over its free limit;
 * URIBL and SURBL answer 127.0.0.1 to refused resolvers. An answer outside 127/8 means a
 * dead list whose domain now resolves everything.
 */
static dnsxl_answer_t classify(const dnsxl_site_t *site, const dns_answer_t *a, txn_t *t,
                               finding_id_t fid, char code[IPADDR_STRLEN])
{
    code[0] = '\0';
    if (a->status == DNS_NXDOMAIN || a->status == DNS_NODATA || a->status == DNS_BADNAME)
        return DNSXL_NOT_LISTED;
    if (a->status != DNS_OK)
        return DNSXL_TEMP;
    bool listed = false, unusable = false;
    for (size_t i = 0; i < a->count; i++) {
        const ipaddr_t *ip = &a->rr[i].addr;
        if (ip->family != 4)
            continue;
        if (ip->a[0] != 127 || (ip->a[1] == 255 && ip->a[2] == 255) ||
            (ip->a[1] == 0 && ip->a[2] == 0 && (ip->a[3] == 1 || ip->a[3] == 255))) {
            unusable = true;
            char ipb[IPADDR_STRLEN];
            if (warn_due(site->zone))
                msg_warn("dnsbl %s answered %s for %s: an error code, not a listing; the list "
                         "is unusable from here (blocked resolver, over the query limit, or "
                         "dead); this warning repeats at most once a minute per list",
                         site->zone, ipaddr_format(ip, ipb, sizeof ipb), a->qname);
            txn_evidencez(t, fid, "unusable", site->zone);
            continue;
        }
        if (dnsxl_filter_match(site->filter, ip)) {
            listed = true;
            ipaddr_format(ip, code, IPADDR_STRLEN);
        }
    }
    if (listed)
        return DNSXL_LISTED;
    return unusable ? DNSXL_UNUSABLE : DNSXL_NOT_LISTED;
}

/* Scores one blocklist family (postscreen weights): fail when even the lists that could not
 * be asked cannot bring the score under the threshold; pass when they cannot bring it up to
 * it; otherwise the outcome hangs on DNS and is a temporary error. */
static bool score_lists(txn_t *t, finding_id_t fid, const dnsxl_site_t *sites, size_t n,
                        int threshold, const char *key, const char *shown_subject)
{
    bool waiting = false;
    int score = 0, temp_plus = 0, temp_minus = 0;
    str_t listed_on = STR_INIT, reason = STR_INIT;
    char zbuf[300];
    /* first the A queries of every list, in parallel */
    const dns_answer_t *ans[64];
    size_t m = n < 64 ? n : 64;
    for (size_t i = 0; i < m; i++) {
        mem_concat(zbuf, sizeof zbuf, key, ".", sites[i].zone, (char *)NULL);
        ans[i] = txn_dns(t, zbuf, DNS_T_A);
        waiting |= ans[i] == NULL;
    }
    if (waiting)
        return false;
    /* then the TXT reasons of the lists that list the client, in parallel */
    for (size_t i = 0; i < m; i++) {
        char code[IPADDR_STRLEN];
        dnsxl_answer_t c = classify(&sites[i], ans[i], t, fid, code);
        if (c == DNSXL_TEMP) {
            if (sites[i].weight > 0)
                temp_plus += sites[i].weight;
            else
                temp_minus += sites[i].weight;
            txn_evidencez(t, fid, "temperror", sites[i].zone);
            continue;
        }
        if (c != DNSXL_LISTED)
            continue;
        mem_concat(zbuf, sizeof zbuf, key, ".", sites[i].zone, (char *)NULL);
        const dns_answer_t *txt = txn_dns(t, zbuf, DNS_T_TXT);
        if (txt == NULL) {
            waiting = true;
            continue;
        }
        score += sites[i].weight;
        if (sites[i].weight > 0) {
            if (listed_on.len > 0)
                str_appendz(&listed_on, ", ");
            str_appendz(&listed_on, sites[i].zone);
        }
        txn_evidencez(t, fid, "list", sites[i].zone);
        txn_evidencez(t, fid, "code", code);
        if (txt->status == DNS_OK && txt->count > 0) {
            txn_evidence(t, fid, "reason", (const char *)txt->rr[0].txt, txt->rr[0].txt_len);
            /* the first list's own reason is shown in the reply (escaped by txn_set) */
            if (reason.len == 0 && sites[i].weight > 0)
                str_append(&reason, txt->rr[0].txt, txt->rr[0].txt_len > 120 ? 120 : txt->rr[0].txt_len);
        }
    }
    if (waiting) {
        /* evidence of this pass is discarded with the finding's next txn_set */
        finding_t *f = (finding_t *)txn_finding(t, fid);
        f->ev = f->ev_tail = NULL;
        str_free(&listed_on);
        str_free(&reason);
        return false;
    }
    char shown[512];
    char sc[32];
    if (score < 0) {
        sc[0] = '-';
        fmt_ull(sc + 1, (unsigned long long)-(long long)score);
    } else {
        fmt_ull(sc, (unsigned long long)score);
    }
    finding_t *f = (finding_t *)txn_finding(t, fid);
    evidence_t *ev = f->ev, *tail = f->ev_tail;
    if (score + temp_minus >= threshold) {
        if (reason.len > 0)
            snprintf(shown, sizeof shown, "%s listed on %s: %s", shown_subject, str_cstr(&listed_on),
                     reason.data);
        else
            snprintf(shown, sizeof shown, "%s listed on %s", shown_subject, str_cstr(&listed_on));
        txn_set(t, fid, RES_FAIL, shown);
    } else if (score + temp_plus < threshold) {
        txn_set(t, fid, RES_PASS, shown_subject);
    } else {
        txn_set(t, fid, RES_TEMPERROR, shown_subject);
    }
    f->ev = ev;
    f->ev_tail = tail;
    txn_evidencez(t, fid, "score", sc);
    str_free(&listed_on);
    str_free(&reason);
    return true;
}

bool check_client_dnsbl(txn_t *t)
{
    const facts_t *f = txn_facts(t);
    const config_t *c = txn_config(t);
    if (!f->have_client || c->ndnsbl_sites == 0) {
        txn_set(t, F_CLIENT_DNSBL, RES_SKIPPED, NULL);
        return true;
    }
    char rev[128];
    const char *ipbuf = txn_client_text(t);
    /* the reversed address without a zone: "4.3.2.1" or 32 nibbles */
    if (ipaddr_reverse_name(&f->client_ip, "x", rev, sizeof rev) != 0)
        msg_panic("reverse name does not fit");
    rev[strlen(rev) - 2] = '\0';
    return score_lists(t, F_CLIENT_DNSBL, c->dnsbl_sites, c->ndnsbl_sites, c->dnsbl_threshold,
                       rev, ipbuf);
}

bool check_client_rhsbl_domain(txn_t *t, const char *domain)
{
    const config_t *c = txn_config(t);
    return score_lists(t, F_SENDER_RHSBL, c->rhsbl_sites, c->nrhsbl_sites, c->rhsbl_threshold,
                       domain, domain);
}

bool check_client_tls(txn_t *t)
{
    const facts_t *f = txn_facts(t);
    txn_set(t, F_CLIENT_NO_TLS, f->tls ? RES_PASS : RES_FAIL, f->tls ? "TLS" : "no TLS");
    return true;
}
