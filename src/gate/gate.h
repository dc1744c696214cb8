/*
 * gate: the SMTP-time face. Turns Postfix policy requests into transaction facts, runs the
 * checks, decides with the policy and answers; logs one key=value line per decision.
 *
 * Transactions are cached per Postfix `instance` (one per message; the attribute is the same
 * in every request of that message), so connection- and sender-level results are computed
 * once per message and each RCPT only adds its own checks. The cache is a fixed table beside
 * the connections, so an idle connection owns no transaction memory.
 *
 * Reload: gate_reload() swaps in a new configuration (and a new resolver when the DNS
 * settings changed); requests in flight finish with the generation they started with.
 */
#ifndef MB_GATE_GATE_H
#define MB_GATE_GATE_H

#include <uv.h>

#include "check/txn.h"
#include "gate/policy_proto.h"
#include "core/config.h"
#include "policy/policy.h"

typedef struct gate gate_t;

/* Takes ownership of cfg. Creates the resolver. NULL with a message in err on failure. */
gate_t *gate_new(uv_loop_t *loop, config_t *cfg, char *err, size_t errlen);
/* Listens on every policy_listen endpoint. */
int gate_listen(gate_t *g, char *err, size_t errlen);
/* The TCP port of the last inet endpoint (for tests using port 0), or -1. */
int gate_port(const gate_t *g);
/* Takes ownership of cfg on success (0); on failure (-1, err set) the old one stays. */
int gate_reload(gate_t *g, config_t *cfg, char *err, size_t errlen);
const config_t *gate_config(const gate_t *g);
/* Stops accepting, finishes requests in flight, then calls done(arg). */
void gate_drain(gate_t *g, void (*done)(void *), void *arg);
void gate_free(gate_t *g);

/*
 * Fills the txn's facts from one policy request. Returns the stage, or -1 for a request that
 * is not a mail transaction state (VRFY, ETRN: answered DUNNO) or is not a policy request.
 * Strings are copied into the txn's arena. Exposed for tests and the fuzz harness.
 */
int gate_facts_from_request(txn_t *t, const policy_attr_t *attrs, size_t n);

/* The Postfix action for a verdict: "DUNNO" or "550 5.7.25 text" (written to out). */
void gate_action(const verdict_t *v, str_t *out);

#endif
