/*
 * policy: configuration + facts + findings -> verdict. Exemptions and allowlists, then the
 * per-finding actions (with recipient overrides), then the reply.
 *
 * Precedence (first that applies wins):
 *   1. mynetworks              accept, no checks run
 *   2. SASL-authenticated      accept, no checks run
 *   3. allow_clients (CIDR)    accept, no checks run
 *   4. allow_ptr_domains       accept once the client's forward-confirmed PTR name is in one
 *                              of these domains (an unconfirmed PTR is never trusted)
 *   5. allow_sender_domains    accept when the MAIL FROM domain is one of these (the
 *                              envelope sender is not authenticated: use with care)
 *   6. findings: a failed finding whose action is reject gives a permanent reject (the first
 *      in catalog order); otherwise a failed finding whose action is tempfail, or a finding
 *      that could not be decided because DNS failed temporarily (temperror) and whose action
 *      is reject or tempfail, gives a temporary reject: a DNS failure never gives a 5xx.
 *      spf.* act per result (fail, softfail, neutral, none, permerror, temperror; see
 *      config_result_action): permerror rejects with 5.7.24, temperror defers with 4.7.24.
 *   dry_run: the verdict is logged as decided, and the reply accepts.
 */
#ifndef MB_POLICY_POLICY_H
#define MB_POLICY_POLICY_H

#include <stdbool.h>

#include "check/txn.h"
#include "core/config.h"
#include "util/str.h"

typedef enum verdict_action { VERDICT_ACCEPT, VERDICT_REJECT, VERDICT_TEMPFAIL } verdict_action_t;

typedef struct verdict {
    verdict_action_t action;
    int code;             /* 0 when accepted */
    char enhanced[16];    /* "" when accepted */
    const char *text;     /* reply text after the codes (arena), NULL when accepted */
    int fid;              /* the finding that decided, or -1 */
    result_t result;      /* that finding's result */
    const char *exempt;   /* "mynetworks", "sasl", "allow_clients", ... or NULL */
    bool dry_run;         /* decided as above, answered as accept */
    unsigned warned;      /* findings that failed with action warn */
} verdict_t;

const char *verdict_action_name(verdict_action_t a);

/* An exemption that holds before any check runs (1-3 above), or NULL. */
const char *policy_exempt_early(const config_t *c, const facts_t *f);

/* Decides for the facts' current recipient (may be none). Text goes into the txn's arena. */
void policy_decide(txn_t *t, verdict_t *v);

/*
 * Writes the reply text for fid in Postfix's conventions: the reason, the observed value,
 * the finding id in parentheses and explain_url + id, e.g.
 * "no reverse DNS (PTR) for the client address: 192.0.2.1 (client.no_ptr)
 *  https://mx.example.com/why/client.no_ptr". temp: the check could not finish.
 */
void policy_reply_text(const config_t *c, finding_id_t fid, const char *shown, bool temp,
                       str_t *out);

/*
 * Writes a Received-SPF header field (RFC 7208 9.1), "Received-SPF: pass (...) key=value;...",
 * for the MAIL FROM identity, or the HELO identity when MAIL FROM was not checked. Peer values
 * (sender, HELO) are included only when they are printable ASCII and short; they are quoted.
 * Returns false, writing nothing, when the message gets none: the configuration turns the
 * header off (spf_received_header), the verdict v neither accepts nor is a dry run, the
 * transaction is exempt, or neither identity was checked.
 */
bool policy_received_spf(txn_t *t, const verdict_t *v, str_t *out);

/* Appends the decision's log fields ("action=... finding=... client=..."). */
void policy_log_fields(txn_t *t, const verdict_t *v, str_t *line);

#endif
