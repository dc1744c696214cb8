/*
 * policy: see policy.h.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>

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
    if (f->have_client && config_in_mynetworks(c, &f->client_ip))
        return "mynetworks";
    if (f->sasl_user != NULL)
        return "sasl";
    if (f->have_client)
        for (size_t i = 0; i < c->nallow_clients; i++)
            if (cidr_match(&c->allow_clients[i], &f->client_ip))
                return "allow_clients";
    return NULL;
}

/* Is name equal to, or a subdomain of, one of the domains? */
static bool in_domains(const char *name, size_t len, char *const *domains, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *d = domains[i][0] == '.' ? domains[i] + 1 : domains[i];
        size_t dl = strlen(d);
        if (mem_ieq(name, len, d, dl))
            return true;
        if (len > dl && name[len - dl - 1] == '.' && mem_iendswith(name, len, d, dl))
            return true;
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
    if (v->exempt == NULL)
        v->exempt = policy_exempt_late(t);
    if (v->exempt != NULL)
        return;
    const char *rcpt = f->have_rcpt ? f->rcpt : NULL;
    size_t rlen = f->have_rcpt ? f->rcpt_len : 0;
    int reject = -1, tempfail = -1;
    for (int i = 0; i < F_COUNT; i++) {
        const finding_t *fd = txn_finding(t, (finding_id_t)i);
        if (!fd->done || (fd->result != RES_FAIL && fd->result != RES_TEMPERROR))
            continue;
        action_t a = config_action(c, (finding_id_t)i, rcpt, rlen);
        if (a == ACTION_IGNORE)
            continue;
        if (a == ACTION_WARN) {
            v->warned++;
            continue;
        }
        if (fd->result == RES_FAIL && a == ACTION_REJECT) {
            if (reject < 0)
                reject = i;
        } else if (tempfail < 0) {
            tempfail = i;
        }
    }
    int pick = reject >= 0 ? reject : tempfail;
    if (pick < 0)
        return;
    const catalog_entry_t *e = catalog_get((finding_id_t)pick);
    const finding_t *fd = txn_finding(t, (finding_id_t)pick);
    v->fid = pick;
    v->result = fd->result;
    bool temp = fd->result == RES_TEMPERROR;
    if (reject >= 0) {
        v->action = VERDICT_REJECT;
        v->code = e->code;
        mem_copyz(v->enhanced, sizeof v->enhanced, e->enhanced, strlen(e->enhanced));
    } else {
        v->action = VERDICT_TEMPFAIL;
        if (temp) {
            v->code = CATALOG_TEMP_CODE;
            mem_copyz(v->enhanced, sizeof v->enhanced, CATALOG_TEMP_ENHANCED,
                      strlen(CATALOG_TEMP_ENHANCED));
        } else {
            /* the finding's own code, made temporary: 5.7.25 -> 4.7.25 (RFC 3463 2) */
            v->code = 450;
            mem_concat(v->enhanced, sizeof v->enhanced, "4", e->enhanced + 1, (char *)NULL);
        }
    }
    str_t s = STR_INIT;
    policy_reply_text(c, (finding_id_t)pick, fd->shown, temp, &s);
    v->text = arena_strndup(txn_arena(t), str_cstr(&s), s.len);
    str_free(&s);
}

/* Appends " key=value" for a value this program wrote (an id, a name, a number, an address
 * it formatted): no peer bytes, so no escaping pass. */
static void kv_own(str_t *line, const char *key, const char *val)
{
    str_appendc(line, ' ');
    str_appendz(line, key);
    str_appendc(line, '=');
    str_appendz(line, val);
}

void policy_log_fields(txn_t *t, const verdict_t *v, str_t *line)
{
    const facts_t *f = txn_facts(t);
    kv_own(line, "action", verdict_action_name(v->action));
    if (v->dry_run && v->action != VERDICT_ACCEPT)
        kv_own(line, "dry_run", "yes");
    if (v->fid >= 0) {
        char code[32];
        kv_own(line, "finding", catalog_get((finding_id_t)v->fid)->id);
        kv_own(line, "result", result_name(v->result));
        kv_own(line, "code", fmt_ull(code, (unsigned long long)v->code));
        kv_own(line, "enhanced", v->enhanced);
    }
    if (v->exempt != NULL)
        kv_own(line, "exempt", v->exempt);
    if (f->have_client)
        kv_own(line, "client", txn_client_text(t));
    if (f->helo_given)
        log_kv(line, "helo", f->helo, f->helo_len);
    if (f->have_sender)
        log_kv(line, "from", f->sender, f->sender_len);
    if (f->have_rcpt)
        log_kv(line, "to", f->rcpt, f->rcpt_len);
    const char *ptr = txn_ptr_name(t);
    if (ptr != NULL)
        log_kvz(line, "ptr", ptr);
    /* every failed finding, with the action it had, so warn-mode results are visible */
    char failed[F_COUNT * 40];
    size_t flen = 0;
    for (int i = 0; i < F_COUNT; i++) {
        const finding_t *fd = txn_finding(t, (finding_id_t)i);
        if (!fd->done || (fd->result != RES_FAIL && fd->result != RES_TEMPERROR))
            continue;
        mem_concat(failed + flen, sizeof failed - flen, flen > 0 ? "," : "",
                   catalog_get((finding_id_t)i)->id, ":", result_name(fd->result), (char *)NULL);
        flen += strlen(failed + flen);
    }
    if (flen > 0)
        log_kvmax(line, "failed", failed, flen, sizeof failed);
    if (f->instance != NULL)
        log_kvz(line, "instance", f->instance);
    if (v->text != NULL)
        log_kvmax(line, "reply", v->text, strlen(v->text), 1000);
}
