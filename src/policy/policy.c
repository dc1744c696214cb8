/*
 * policy: see policy.h.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>

#include "check/checks.h"
#include "mail/addr.h"
#include "util/log.h"

/* Bytes of an observed value that a reply shows (escaped, so never raw peer bytes). */
#define POLICY_SHOWN_MAX 200

const char *verdict_action_name(verdict_action_t a)
{
    return a == VERDICT_ACCEPT ? "accept" : a == VERDICT_REJECT ? "reject" : "tempfail";
}

const char *policy_exempt_early(const config_t *c, const facts_t *f)
{
    if (f->have_client && config_in_mynetworks(c, &f->client_ip)) return "mynetworks";
    if (f->sasl_user != NULL) return "sasl";
    if (f->have_client)
        for (size_t i = 0; i < c->nallow_clients; i++)
            if (cidr_match(&c->allow_clients[i], &f->client_ip)) return "allow_clients";
    return NULL;
}

/* Is name equal to, or a subdomain of, one of the domains? */
static bool in_domains(const char *name, size_t len, char *const *domains, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *d = domains[i][0] == '.' ? domains[i] + 1 : domains[i];
        size_t dl = strlen(d);
        if (mem_ieq(name, len, d, dl)) return true;
        if (len > dl && name[len - dl - 1] == '.' && mem_iendswith(name, len, d, dl)) return true;
    }
    return false;
}

static const char *policy_exempt_late(txn_t *t)
{
    const config_t *c = txn_config(t);
    const facts_t *f = txn_facts(t);
    const char *ptr = txn_ptr_name(t);
    if (ptr != NULL && in_domains(ptr, strlen(ptr), c->allow_ptr_domains, c->nallow_ptr_domains))
        return "allow_ptr_domains";
    if (f->have_sender && c->nallow_sender_domains > 0) {
        addr_t a;
        if (addr_parse((const unsigned char *)f->sender, f->sender_len, 0, &a) == ADDR_OK &&
            in_domains(f->sender + a.domain_off, a.domain_len, c->allow_sender_domains,
                       c->nallow_sender_domains))
            return "allow_sender_domains";
    }
    return NULL;
}

void policy_reply_text(const config_t *c, finding_id_t fid, const char *shown, bool temp,
                       str_t *out)
{
    const catalog_entry_t *e = catalog_get(fid);
    bool have = shown != NULL && shown[0] != '\0';
    if (temp) {
        str_appendz(out, "temporary DNS failure while checking");
        if (have) {
            str_appendc(out, ' ');
            log_escape(out, shown, strlen(shown), POLICY_SHOWN_MAX);
        }
        str_appendz(out, ", try again later");
    } else {
        str_appendz(out, e->reason);
        if (have) {
            str_appendz(out, ": ");
            log_escape(out, shown, strlen(shown), POLICY_SHOWN_MAX);
        }
    }
    str_append(out, " (", 2);
    str_appendz(out, e->id);
    str_appendc(out, ')');
    if (c->explain_url != NULL && c->explain_url[0] != '\0') {
        str_appendc(out, ' ');
        str_appendz(out, c->explain_url);
        str_appendz(out, e->id);
    }
}

void policy_decide(txn_t *t, verdict_t *v)
{
    const config_t *c = txn_config(t);
    const facts_t *f = txn_facts(t);
    memset(v, 0, sizeof *v);
    v->action = VERDICT_ACCEPT;
    v->fid = -1;
    v->dry_run = c->dry_run;
    v->exempt = policy_exempt_early(c, f);
    if (v->exempt == NULL) v->exempt = policy_exempt_late(t);
    if (v->exempt != NULL) return;
    const char *rcpt = f->have_rcpt ? f->rcpt : NULL;
    size_t rlen = f->have_rcpt ? f->rcpt_len : 0;
    int reject = -1, tempfail = -1;
    for (int i = 0; i < F_COUNT; i++) {
        const finding_t *fd = txn_finding(t, (finding_id_t)i);
        if (!fd->done || fd->result == RES_PASS || fd->result == RES_SKIPPED) continue;
        action_t a = config_result_action(c, (finding_id_t)i, fd->result, rcpt, rlen);
        if (a == ACTION_IGNORE) continue;
        if (a == ACTION_WARN) {
            v->warned++;
            continue;
        }
        /* a temporary failure is never a permanent reject */
        if (fd->result != RES_TEMPERROR && a == ACTION_REJECT) {
            if (reject < 0) reject = i;
        } else if (tempfail < 0) {
            tempfail = i;
        }
    }
    int pick = reject >= 0 ? reject : tempfail;
    if (pick < 0) return;
    const catalog_entry_t *e = catalog_get((finding_id_t)pick);
    const catalog_results_t *cr = catalog_results((finding_id_t)pick);
    const finding_t *fd = txn_finding(t, (finding_id_t)pick);
    v->fid = pick;
    v->result = fd->result;
    bool temp = fd->result == RES_TEMPERROR;
    /* permerror has its own code where the catalog gives one (SPF: 5.7.24, RFC 7372) */
    const char *enh = e->enhanced;
    if (fd->result == RES_PERMERROR && cr != NULL && cr->permerror_enhanced != NULL)
        enh = cr->permerror_enhanced;
    if (reject >= 0) {
        v->action = VERDICT_REJECT;
        v->code = e->code;
        mem_copyz(v->enhanced, sizeof v->enhanced, enh, strlen(enh));
    } else {
        v->action = VERDICT_TEMPFAIL;
        if (temp) {
            const char *te =
                cr != NULL && cr->temp_enhanced != NULL ? cr->temp_enhanced : CATALOG_TEMP_ENHANCED;
            v->code = CATALOG_TEMP_CODE;
            mem_copyz(v->enhanced, sizeof v->enhanced, te, strlen(te));
        } else {
            /* the finding's own code, made temporary: 5.7.25 -> 4.7.25 (RFC 3463 2) */
            v->code = 450;
            mem_concat(v->enhanced, sizeof v->enhanced, "4", enh + 1, (char *)NULL);
        }
    }
    str_t s = STR_INIT;
    /* one allocation for the reply (log_escape reserves four bytes per shown byte), none
     * grown on the way */
    str_reserve(&s, POLICY_SHOWN_MAX * 4 + 100);
    policy_reply_text(c, (finding_id_t)pick, fd->shown, temp, &s);
    v->text = arena_strndup(txn_arena(t), str_cstr(&s), s.len);
    str_free(&s);
}

/* Appends " key=value" for a value this program wrote (an id, a name, a number, an address
 * it formatted): no peer bytes, so no escaping pass. */
static void kv_own(str_t *line, const char *key, const char *val)
{
    /* " key=val" in one reservation */
    size_t kl = strlen(key), vl = strlen(val);
    str_reserve(line, kl + vl + 2);
    char *o = line->data + line->len;
    *o++ = ' ';
    memcpy(o, key, kl);
    o += kl;
    *o++ = '=';
    memcpy(o, val, vl);
    o += vl;
    line->len = (size_t)(o - line->data);
    line->data[line->len] = '\0';
}

void policy_log_fields(txn_t *t, const verdict_t *v, str_t *line)
{
    const facts_t *f = txn_facts(t);
    const config_t *c = txn_config(t);
    kv_own(line, "action", verdict_action_name(v->action));
    if (v->dry_run && v->action != VERDICT_ACCEPT) kv_own(line, "dry_run", "yes");
    if (v->fid >= 0) {
        char code[32];
        kv_own(line, "finding", catalog_get((finding_id_t)v->fid)->id);
        kv_own(line, "result", result_name(v->result));
        kv_own(line, "code", fmt_ull(code, (unsigned long long)v->code));
        kv_own(line, "enhanced", v->enhanced);
    }
    if (v->exempt != NULL) kv_own(line, "exempt", v->exempt);
    if (f->have_client) kv_own(line, "client", txn_client_text(t));
    if (f->helo_given) log_kv(line, "helo", f->helo, f->helo_len);
    if (f->have_sender) log_kv(line, "from", f->sender, f->sender_len);
    if (f->have_rcpt) log_kv(line, "to", f->rcpt, f->rcpt_len);
    const char *ptr = txn_ptr_name(t);
    if (ptr != NULL) log_kvz(line, "ptr", ptr);
    /* every failed finding, with the action it had, so warn-mode results are visible */
    char failed[F_COUNT * 40];
    size_t flen = 0;
    for (int i = 0; i < F_COUNT; i++) {
        const finding_t *fd = txn_finding(t, (finding_id_t)i);
        if (!fd->done || fd->result == RES_PASS || fd->result == RES_SKIPPED) continue;
        if (fd->result != RES_FAIL && fd->result != RES_TEMPERROR &&
            config_result_action(c, (finding_id_t)i, fd->result, f->have_rcpt ? f->rcpt : NULL,
                                 f->have_rcpt ? f->rcpt_len : 0) == ACTION_IGNORE)
            continue; /* spf.* none, neutral...: listed only when acted on or warned about */
        mem_concat(failed + flen, sizeof failed - flen, flen > 0 ? "," : "",
                   catalog_get((finding_id_t)i)->id, ":", result_name(fd->result), (char *)NULL);
        flen += strlen(failed + flen);
    }
    if (flen > 0) log_kvmax(line, "failed", failed, flen, sizeof failed);
    if (f->instance != NULL) log_kvz(line, "instance", f->instance);
    if (v->text != NULL) log_kvmax(line, "reply", v->text, strlen(v->text), 1000);
}

/* ---- Received-SPF (RFC 7208 9.1) ---- */

#define RSPF_VALUE_MAX 256 /* longer peer values are left out of the header */

/* Is s a value we may put in a header: printable ASCII, no more than RSPF_VALUE_MAX bytes? */
static bool rspf_printable(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e || n >= RSPF_VALUE_MAX)
            return false;
    return n > 0;
}

/* " key=\"value\";" with the quoted-string of RFC 5322 3.2.4 (value printable already). */
static void rspf_kv(str_t *out, const char *key, const char *val)
{
    str_appendc(out, ' ');
    str_appendz(out, key);
    str_append(out, "=\"", 2);
    for (const char *p = val; *p != '\0';) {
        size_t run = strcspn(p, "\"\\");
        str_append(out, p, run);
        p += run;
        if (*p != '\0') {
            str_appendc(out, '\\');
            str_appendc(out, *p++);
        }
    }
    str_append(out, "\";", 2);
}

/* May s go into a comment unescaped: printable, no parentheses or backslash? */
static bool rspf_comment_ok(const char *s)
{
    return rspf_printable(s) && strpbrk(s, "()\\") == NULL;
}

bool policy_received_spf(txn_t *t, const verdict_t *v, str_t *out)
{
    const config_t *c = txn_config(t);
    if (!c->spf_received_header || v->exempt != NULL ||
        (v->action != VERDICT_ACCEPT && !v->dry_run))
        return false;
    finding_id_t fid = F_SPF_MAILFROM;
    const spf_summary_t *sum = check_spf_summary(t, fid);
    if (sum == NULL) {
        fid = F_SPF_HELO;
        sum = check_spf_summary(t, fid);
    }
    if (sum == NULL) return false;
    const facts_t *f = txn_facts(t);
    const char *ip = txn_client_text(t);
    const char *who = sum->sender != NULL && rspf_comment_ok(sum->sender) ? sum->sender : NULL;
    const char *dom = sum->domain != NULL && rspf_comment_ok(sum->domain) ? sum->domain : NULL;
    str_appendz(out, "Received-SPF: ");
    str_appendz(out, result_name(sum->result));
    str_append(out, " (", 2);
    str_appendz(out, c->myhostname);
    str_append(out, ": ", 2);
    const char *subject = who != NULL ? who : dom != NULL ? dom : "the sender";
    bool domain_of = who != NULL || dom != NULL;
    switch (sum->result) {
    case RES_PASS:
    case RES_FAIL:
    case RES_SOFTFAIL:
        if (domain_of) str_appendz(out, "domain of ");
        str_appendz(out, subject);
        str_appendz(out, sum->result == RES_PASS ? " designates " : " does not designate ");
        str_appendz(out, ip);
        str_appendz(out, " as permitted sender");
        break;
    case RES_NEUTRAL:
        str_appendz(out, ip);
        str_appendz(out, " is neither permitted nor denied by ");
        if (domain_of) str_appendz(out, "domain of ");
        str_appendz(out, subject);
        break;
    case RES_NONE:
        if (domain_of) str_appendz(out, "domain of ");
        str_appendz(out, subject);
        str_appendz(out, " does not publish a usable SPF record");
        break;
    default:
        str_appendz(out, sum->result == RES_TEMPERROR ? "temporary" : "permanent");
        str_appendz(out, " error while evaluating the SPF record of ");
        str_appendz(out, dom != NULL ? dom : "the sender's domain");
        break;
    }
    str_append(out, ") ", 2);
    /* key=value list, 9.1 */
    str_appendz(out, "receiver=");
    str_appendz(out, c->myhostname);
    str_append(out, "; client-ip=", 12);
    str_appendz(out, ip);
    str_appendc(out, ';');
    if (sum->sender != NULL && rspf_printable(sum->sender) && fid == F_SPF_MAILFROM)
        rspf_kv(out, "envelope-from", sum->sender);
    if (f->helo_given) {
        char *h = arena_strndup(txn_arena(t), f->helo, f->helo_len);
        if (rspf_printable(h)) rspf_kv(out, "helo", h);
    }
    str_appendz(out, fid == F_SPF_MAILFROM ? " identity=mailfrom;" : " identity=helo;");
    if (sum->mech != NULL && rspf_printable(sum->mech)) rspf_kv(out, "mechanism", sum->mech);
    if (sum->problem != NULL && (sum->result == RES_PERMERROR || sum->result == RES_TEMPERROR))
        rspf_kv(out, "problem", sum->problem);
    return true;
}
