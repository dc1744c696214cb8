/*
 * policy_server: serves the Postfix policy protocol on inet and unix sockets in the libuv
 * loop. Connections are persistent (Postfix keeps one per smtpd process and sends one
 * request per protocol state); requests on one connection are answered in order.
 *
 * Memory: an idle connection holds no read buffer. Bytes are read into one buffer shared by
 * the whole server; only a request split across reads is copied into a per-connection buffer
 * sized to what is pending, and freed once the request is complete.
 *
 * Bad input (over the limits, malformed, binary junk) is logged sanitised and that connection
 * is closed; a connection that closes mid-request is dropped; every other connection goes on.
 */
#ifndef MB_GATE_POLICY_SERVER_H
#define MB_GATE_POLICY_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "gate/policy_proto.h"

typedef struct policy_server policy_server_t;
typedef struct policy_conn policy_conn_t;

/*
 * Called once per complete request. attrs point into a buffer valid only during the call:
 * copy what must outlive it. The handler must call policy_conn_reply() exactly once for each
 * request, now or later; the next request on that connection is not handed over before.
 */
typedef void (*policy_request_fn)(void *ctx, policy_conn_t *conn, const policy_attr_t *attrs,
                                  size_t n);

typedef struct policy_server_options {
    unsigned idle_timeout_ms; /* close a connection idle this long; 0: default 1,000 s */
    size_t max_connections;   /* refuse (close at once) beyond this; 0: default 20,000 */
} policy_server_options_t;

policy_server_t *policy_server_new(uv_loop_t *loop, const policy_server_options_t *opt,
                                   policy_request_fn fn, void *ctx);
/*
 * Binds and listens on "inet:HOST:PORT" ("inet:[::1]:PORT" for IPv6) or "unix:PATH" (an
 * existing socket file is replaced). Returns 0, or -1 with a message in err. May be called
 * several times for several endpoints. Call before dropping privileges.
 */
int policy_server_listen(policy_server_t *s, const char *endpoint, char *err, size_t errlen);
/* The local TCP port of the inet endpoint bound last (the kernel's choice for port 0), or
 * -1 when there is none. An addition for tests and start-up logs. */
int policy_server_port(const policy_server_t *s);
/* Applies new limits (after a configuration reload); connections already open are judged by
 * the new idle timeout from now on, and the new maximum applies to the next accept. */
void policy_server_set_options(policy_server_t *s, const policy_server_options_t *opt);
/* Replaces the handler context (after a configuration reload); requests in flight keep the
 * context they were handed. */
void policy_server_set_ctx(policy_server_t *s, void *ctx);
/*
 * Stops accepting, closes idle connections, lets each request in flight get its reply
 * written, then closes the rest and calls done(arg) once nothing is left. done() is called
 * from a libuv callback, never from within drain itself, and may call policy_server_free.
 * Requests pipelined behind the one in flight are not answered. Call at most once.
 */
void policy_server_drain(policy_server_t *s, void (*done)(void *arg), void *arg);
/*
 * Closes everything at once (replies in flight are dropped). Memory is released when the
 * last libuv handle has finished closing and every handler has replied, so keep running
 * the loop after this call. Accepts NULL. After drain's done() it frees at once.
 */
void policy_server_free(policy_server_t *s);

/*
 * Sends "action=<action>\n\n". action is the text after "action=" (e.g. "DUNNO",
 * "REJECT 5.7.1 ..."); it must not contain a newline (the caller builds it from sanitised
 * text; a newline here is a bug and aborts; so is a NUL, or a reply with no request
 * pending). If the connection is gone, the reply is dropped. The handler may call it from
 * within its own call or from any later callback of the same loop.
 */
void policy_conn_reply(policy_conn_t *c, const char *action, size_t len);

/* Per-connection user data (e.g. the results cached for the current Postfix instance).
 * free_fn runs when the connection closes (precisely: once it is closed and the handler has
 * replied to its last request, so a handler that is still working may use the data). */
void policy_conn_set_data(policy_conn_t *c, void *data, void (*free_fn)(void *));
void *policy_conn_get_data(policy_conn_t *c);

struct policy_server_stats {
    size_t connections; /* open now */
    unsigned long long requests, bad_requests;
    unsigned long long accepted;  /* connections since start */
    unsigned long long refused;   /* closed at once: over max_connections */
    unsigned long long timed_out; /* closed after idle_timeout_ms */
    unsigned long long aborted;   /* peer closed or timed out mid-request */
};
void policy_server_get_stats(const policy_server_t *s, struct policy_server_stats *out);

#endif
