/*
 * txn: one mail transaction as the checks see it (the facts), the findings the checks emit,
 * and the engine that runs the checks asynchronously over the DNS layer.
 *
 * Engine: every check is an idempotent function that reads facts and DNS answers through
 * txn_dns(). An answer not yet known starts a query and the check reports "pending"; the
 * engine runs all runnable checks in one round, so independent queries fly in parallel, and
 * runs another round when the last answer of the round arrives. A check never formats a
 * reply and never decides the action (policy does).
 *
 * Ownership: strings in facts and findings live in the txn's arena and die with txn_reset()
 * or txn_free(). The txn holds references to the DNS answers it used.
 */
#ifndef MB_CHECK_TXN_H
#define MB_CHECK_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/catalog.h"
#include "dns/dns.h"
#include "core/config.h"
#include "util/arena.h"
#include "util/ipaddr.h"

/* Bytes kept of a shown value and of one evidence value. */
#define TXN_SHOWN_MAX 256
#define TXN_EVIDENCE_MAX 512

typedef struct evidence {
    const char *key;
    const char *value; /* raw bytes (may hold peer data: escape before showing), NUL after */
    size_t len;
    struct evidence *next;
} evidence_t;

typedef struct finding {
    bool done; /* the check has run */
    result_t result;
    const char *shown; /* the observed value for the reply: raw (escape before showing) */
    evidence_t *ev;    /* in the order added */
    evidence_t *ev_tail;
} finding_t;

typedef struct facts {
    stage_t stage;
    bool have_client;
    ipaddr_t client_ip;
    const char *client_addr; /* text as received */
    const char *client_name; /* the MTA's own verified name, informational */
    bool helo_given;         /* a non-empty HELO/EHLO argument */
    const char *helo;
    size_t helo_len;
    bool have_sender; /* MAIL FROM seen (the null sender included) */
    const char *sender;
    size_t sender_len;
    bool have_rcpt;
    const char *rcpt;
    size_t rcpt_len;
    const char *sasl_user; /* NULL: not authenticated */
    bool tls;
    bool have_size;
    unsigned long long size;
    bool have_server_ip;
    ipaddr_t server_ip;
    const char *instance;
    bool end_of_message; /* Postfix asked after the message content (END-OF-MESSAGE) */
} facts_t;

typedef struct txn txn_t;

txn_t *txn_new(void);
void txn_free(txn_t *t);
/* Forgets everything (facts, findings, answers) for a new transaction with cfg and dns,
 * which must outlive the transaction. */
void txn_reset(txn_t *t, const config_t *cfg, dns_resolver_t *dns);
/* Verbose: keep the shown value and the evidence of passing and skipped checks too (for
 * reports such as `mailblock check`); otherwise only failures keep them, which is all a
 * reply or a log line shows. Kept across txn_reset(). Default off. */
void txn_set_verbose(txn_t *t, bool on);
bool txn_verbose(const txn_t *t);
/* Forgets the recipient-level findings, to check another recipient of the same message. */
void txn_reset_rcpt(txn_t *t);
/* Forgets the results of the check that sets fid (and its other findings), so that it runs
 * again with changed facts (a second HELO, a new MAIL FROM in the same session). */
void txn_rerun(txn_t *t, finding_id_t fid);
facts_t *txn_facts(txn_t *t);
arena_t *txn_arena(txn_t *t);
const config_t *txn_config(const txn_t *t);
dns_resolver_t *txn_dns_resolver(const txn_t *t);
const finding_t *txn_finding(const txn_t *t, finding_id_t fid);

/* The client's address in canonical text form ("" when unknown), formatted once. */
const char *txn_client_text(txn_t *t);

/* The name of the client's reverse DNS that resolves back to it, once the client checks have
 * run; NULL when there is none. */
const char *txn_ptr_name(const txn_t *t);

typedef void (*txn_done_fn)(txn_t *t, void *arg);
/*
 * Runs every check whose data the facts' stage has and that has not run yet. Returns true
 * when all finished without waiting (done is not called); false when DNS answers are
 * awaited: done(t, arg) is then called once from the loop when all checks have finished.
 */
bool txn_run(txn_t *t, txn_done_fn done, void *arg);
/* Drops a pending run: queries are cancelled and done will not be called. */
void txn_cancel(txn_t *t);

/* ---- for check implementations ---- */

/* The answer for (name, type), or NULL when it is being asked: return "pending". */
const dns_answer_t *txn_dns(txn_t *t, const char *name, uint16_t type);
/* Records a result and clears the finding's evidence; shown may be NULL. Strings are copied
 * into the arena. */
finding_t *txn_set(txn_t *t, finding_id_t fid, result_t r, const char *shown);
/* Adds evidence to a finding: value is copied raw (bounded); it is escaped when shown. */
void txn_evidence(txn_t *t, finding_id_t fid, const char *key, const char *value, size_t len);
void txn_evidencez(txn_t *t, finding_id_t fid, const char *key, const char *value);
/* Is fid wanted by the configuration (site setting or any recipient override)? */
bool txn_wanted(const txn_t *t, finding_id_t fid);

/*
 * Outside asynchronous work (the SPF evaluator runs its own lookups). A check keeps its
 * state for finding fid in a slot with the function that cancels and frees it; the txn calls
 * free_fn when the check's results are forgotten (txn_reset, txn_rerun of that check,
 * txn_cancel, txn_free). While the work is in flight the check calls txn_hold() and returns
 * "pending"; the work's completion, from the loop, calls txn_release(), which runs the next
 * round once nothing else is awaited. One hold per slot at a time.
 */
void *txn_op(const txn_t *t, finding_id_t fid);
void txn_set_op(txn_t *t, finding_id_t fid, void *op, void (*free_fn)(void *op));
void txn_hold(txn_t *t, finding_id_t fid);
void txn_release(txn_t *t, finding_id_t fid);
void txn_set_ptr_name(txn_t *t, const char *name);

#endif
