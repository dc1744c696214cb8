/*
 * policy_server: the Postfix policy protocol served in the libuv loop (see policy_server.h;
 * the wire format is in policy_proto.c).
 *
 * Memory. Reads land in one 64 KiB buffer owned by the server (alloc_cb hands it to every
 * connection; libuv reads one connection at a time and each read is consumed before the
 * callback returns). Requests are parsed where they lie; only bytes that cannot be answered
 * now (an incomplete request, or requests pipelined behind one whose reply is pending) are
 * copied to the connection's own str_t, which is freed as soon as it is empty. An idle
 * connection thus costs its struct (the libuv handle included, about 400 bytes) and the
 * kernel's socket. Idle timeouts use one periodic timer over a list kept in order of last
 * activity (a uv_timer_t per connection would add 152 bytes each).
 *
 * Order. A connection hands over one request at a time: while its reply is pending, reading
 * stops and unparsed bytes wait in its buffer; after the reply, those are handled from an
 * idle callback (never from inside policy_conn_reply, so a handler is not re-entered from
 * its own reply), then reading resumes. Postfix never pipelines; load generators may.
 *
 * Lifetime. A connection struct is reference-counted: its libuv handle holds one reference
 * until the close callback, a request in flight holds one until the handler replies, the
 * ready queue holds one. A reply to a closed connection is dropped. The server struct lives
 * until every handle has closed and every connection struct is gone.
 *
 * Errors. Bad peer input (policy_proto's limits, binary junk) is logged as one warning line
 * (peer, reason, a quoted excerpt of the offending line) and closes that connection only.
 * A connection that closes or times out mid-request is logged the same way. Failures to
 * read or write (reset by peer) close the connection quietly (debug level).
 */
#include "gate/policy_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/ipaddr.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/str.h"

#define READ_BUF_SIZE 65536
#define LISTEN_BACKLOG 1024
#define DEFAULT_IDLE_MS 1000000u
#define DEFAULT_MAX_CONNECTIONS 20000
#define REPLY_STACK_MAX 512 /* replies up to this size are built on the stack */
#define EXCERPT_MAX 64      /* bytes of bad input shown in a warning */
#define ACCEPT_WARN_MS 1000 /* at most one accept/refusal warning per second */

typedef union stream_handle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
} stream_handle_t;

typedef struct listener {
    stream_handle_t h; /* first member: a handle pointer is a listener pointer */
    policy_server_t *srv;
    struct listener *next;
    char *path; /* unix socket file, removed at close; NULL for inet */
    dev_t dev;  /* the socket file we created (not a successor's) */
    ino_t ino;
} listener_t;

struct policy_conn {
    stream_handle_t h; /* first member: a handle pointer is a connection pointer */
    policy_server_t *srv;
    policy_conn_t *prev, *next; /* in srv->idle (ordered by active) or srv->busy */
    policy_conn_t *ready_next;  /* in srv's ready queue */
    str_t pending;              /* bytes not handled yet; no storage while empty */
    policy_scan_t scan;         /* progress through the request at pending's start */
    uint64_t active;            /* uv_now() of the last read or reply */
    void *data;                 /* the handler's; data_free runs when the struct goes */
    void (*data_free)(void *);
    ipaddr_t peer; /* family 0: a unix-domain peer */
    uint16_t port;
    unsigned refs;
    unsigned writes; /* uv_write requests in flight */
    bool busy;       /* a request was handed over; its reply is pending */
    bool closing;    /* uv_close called; not in any list */
    bool reading;
    bool queued;      /* in the ready queue */
    bool in_process;  /* conn_process is on the stack */
    bool close_after; /* close once writes drain (peer EOF, or draining) */
};

typedef struct conn_list {
    policy_conn_t *head, *tail;
} conn_list_t;

typedef struct write_req {
    uv_write_t req;
    policy_conn_t *conn;
    char data[]; /* the unsent part of the reply */
} write_req_t;

struct policy_server {
    uv_loop_t *loop;
    policy_request_fn fn;
    void *ctx;
    uint64_t idle_ms;
    size_t max_conns;
    listener_t *listeners;
    conn_list_t idle; /* not busy; oldest activity first */
    conn_list_t busy; /* a reply pending */
    policy_conn_t *ready_head, *ready_tail;
    uv_timer_t sweep; /* idle timeouts */
    uv_idle_t kick;   /* runs the ready queue */
    bool aux_closed;  /* sweep and kick closed */
    size_t handles;   /* libuv handles not yet through their close callback */
    size_t live;      /* connection structs not yet freed */
    size_t nconns;    /* accepted connections not yet closed */
    int port;
    bool draining, freeing, done_called;
    void (*done)(void *);
    void *done_arg;
    uint64_t accept_warned; /* uv_now() of the last accept/refusal warning */
    unsigned long long refused_unlogged;
    struct policy_server_stats st;
    policy_attr_t attrs[POLICY_ATTR_MAX]; /* the request being handed over */
    char rbuf[READ_BUF_SIZE];
};

/* --- lists --------------------------------------------------------------------------- */

static void list_append(conn_list_t *l, policy_conn_t *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_remove(conn_list_t *l, policy_conn_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static conn_list_t *conn_list(policy_conn_t *c)
{
    return c->busy ? &c->srv->busy : &c->srv->idle;
}

/* --- life cycle ---------------------------------------------------------------------- */

/* Calls done() or frees the server once nothing is left. The caller must not touch s
 * afterwards. */
static void server_check(policy_server_t *s)
{
    if (s->handles > 0 || s->live > 0) return;
    if (s->freeing) {
        free(s);
        return;
    }
    if (s->draining && !s->done_called) {
        s->done_called = true;
        if (s->done != NULL) s->done(s->done_arg); /* may free s */
    }
}

/* Drops one reference; the last one frees the struct. May free the server: the caller must
 * not touch c->srv afterwards unless it holds another handle open. */
static void conn_unref(policy_conn_t *c)
{
    policy_server_t *s = c->srv;
    if (c->refs == 0) msg_panic("policy_server: connection reference count underflow");
    if (--c->refs > 0) return;
    if (c->data_free != NULL) c->data_free(c->data);
    str_free(&c->pending);
    free(c);
    s->live--;
    server_check(s);
}

static void on_conn_closed(uv_handle_t *h)
{
    policy_conn_t *c = (policy_conn_t *)h;
    c->srv->handles--;
    c->srv->nconns--;
    conn_unref(c);
}

static void conn_close(policy_conn_t *c)
{
    if (c->closing) return;
    c->closing = true;
    c->reading = false;
    list_remove(conn_list(c), c); /* every open connection is in one list */
    uv_close(&c->h.handle, on_conn_closed);
}

static const char *conn_peer(const policy_conn_t *c, char *buf, size_t size)
{
    char ip[IPADDR_STRLEN];
    if (c->peer.family == 0)
        snprintf(buf, size, "unix socket");
    else if (c->peer.family == 6)
        snprintf(buf, size, "[%s]:%u", ipaddr_format(&c->peer, ip, sizeof ip), c->port);
    else
        snprintf(buf, size, "%s:%u", ipaddr_format(&c->peer, ip, sizeof ip), c->port);
    return buf;
}

/* One warning line about bad input from c: reason and a quoted excerpt of bytes. */
static void conn_warn(const policy_conn_t *c, const char *what, const char *why, const char *bytes,
                      size_t len)
{
    char peer[IPADDR_STRLEN + 16];
    str_t ex = STR_INIT;
    log_quote(&ex, bytes, len, EXCERPT_MAX);
    msg_warn("policy: %s from %s: %s; closing the connection; near %s", what,
             conn_peer(c, peer, sizeof peer), why, str_cstr(&ex));
    str_free(&ex);
}

static void conn_start_reading(policy_conn_t *c);
static void conn_resume(policy_conn_t *c);
static void conn_process(policy_conn_t *c, const char *ext, size_t extlen);
static void on_kick(uv_idle_t *h);

/* --- writing ------------------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    policy_conn_t *c = w->conn;
    free(w);
    c->writes--;
    if (c->closing) return;
    if (status < 0) {
        char peer[IPADDR_STRLEN + 16];
        msg_debug("policy: cannot write to %s: %s", conn_peer(c, peer, sizeof peer),
                  uv_strerror(status));
        conn_close(c);
    } else {
        conn_resume(c);
    }
}

/* Sends "action=...\n\n": uv_try_write, then the unsent rest through uv_write. */
static void conn_write(policy_conn_t *c, const char *action, size_t len)
{
    static const char prefix[] = "action=";
    size_t total = sizeof prefix - 1 + len + 2;
    char stackbuf[REPLY_STACK_MAX];
    char *p = total <= sizeof stackbuf ? stackbuf : xmalloc(total);
    memcpy(p, prefix, sizeof prefix - 1);
    memcpy(p + sizeof prefix - 1, action, len);
    memcpy(p + total - 2, "\n\n", 2);

    uv_buf_t b = uv_buf_init(p, (unsigned)total);
    int r = c->writes > 0 ? UV_EAGAIN : uv_try_write(&c->h.stream, &b, 1);
    if (r >= 0 && (size_t)r == total) {
        /* all written */
    } else if (r >= 0 || r == UV_EAGAIN) {
        size_t off = r > 0 ? (size_t)r : 0;
        write_req_t *w = xmalloc(sizeof *w + (total - off));
        w->conn = c;
        memcpy(w->data, p + off, total - off);
        uv_buf_t rest = uv_buf_init(w->data, (unsigned)(total - off));
        int e = uv_write(&w->req, &c->h.stream, &rest, 1, on_write);
        if (e < 0) {
            free(w);
            r = e;
        } else {
            c->writes++;
        }
    }
    if (r < 0 && r != UV_EAGAIN) {
        char peer[IPADDR_STRLEN + 16];
        msg_debug("policy: cannot write to %s: %s", conn_peer(c, peer, sizeof peer),
                  uv_strerror(r));
        conn_close(c);
    }
    if (p != stackbuf) free(p);
}

void policy_conn_reply(policy_conn_t *c, const char *action, size_t len)
{
    if (memchr(action, '\n', len) != NULL || memchr(action, '\0', len) != NULL)
        msg_panic("policy_conn_reply: newline or NUL in the action");
    if (!c->busy) msg_panic("policy_conn_reply: no request pending on this connection");
    policy_server_t *s = c->srv;
    if (!c->closing) {
        list_remove(&s->busy, c);
        c->busy = false;
        c->active = uv_now(s->loop);
        list_append(&s->idle, c);
        conn_write(c, action, len);
        if (s->draining) c->close_after = true;
        conn_resume(c);
    } else {
        c->busy = false;
    }
    conn_unref(c); /* the request's reference */
}

void policy_conn_set_data(policy_conn_t *c, void *data, void (*free_fn)(void *))
{
    c->data = data;
    c->data_free = free_fn;
}

void *policy_conn_get_data(policy_conn_t *c)
{
    return c->data;
}

/* --- reading ------------------------------------------------------------------------- */

static void conn_stop_reading(policy_conn_t *c)
{
    if (c->reading) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}

/*
 * After a reply or a finished write, outside conn_process: when nothing is pending (no
 * reply, no write in flight: a client that pipelines and never reads gets one reply queued,
 * no more), close if asked, else handle pipelined bytes (from the loop, never from inside
 * policy_conn_reply, so a handler is not re-entered) or read on.
 */
static void conn_resume(policy_conn_t *c)
{
    if (c->closing || c->busy || c->writes > 0 || c->in_process) return;
    if (c->close_after) {
        conn_close(c);
        return;
    }
    if (c->pending.len == 0) {
        conn_start_reading(c);
        return;
    }
    if (c->queued) return;
    policy_server_t *s = c->srv;
    if (s->aux_closed) { /* shutting down: pipelined requests are not answered */
        conn_close(c);
        return;
    }
    c->queued = true;
    c->refs++;
    c->ready_next = NULL;
    if (s->ready_tail != NULL)
        s->ready_tail->ready_next = c;
    else
        s->ready_head = c;
    s->ready_tail = c;
    uv_idle_start(&s->kick, on_kick);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    policy_server_t *s = ((policy_conn_t *)h)->srv;
    *buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

/*
 * Hands over complete requests, one at a time, from ext[0..extlen) (the server's read
 * buffer; pending is then empty) or, with ext NULL, from c->pending. Keeps what is left in
 * c->pending, and reads on only while no reply is pending.
 */
static void conn_process(policy_conn_t *c, const char *ext, size_t extlen)
{
    policy_server_t *s = c->srv;
    size_t off = 0;
    c->refs++;
    c->in_process = true;
    for (;;) {
        const char *base = ext != NULL ? ext : c->pending.data;
        size_t len = ext != NULL ? extlen : c->pending.len;
        if (c->busy || c->closing || c->writes > 0 || off >= len) break;
        const char *why = NULL;
        size_t rlen = 0, n = 0;
        policy_parse_status_t r = POLICY_PARSE_MORE;
        if (c->scan.off == 0 && c->scan.part == 0) {
            /* a request from its first byte: one pass does it when it is all there */
            r = policy_parse(base + off, len - off, s->attrs, POLICY_ATTR_MAX, &n, &rlen, &why);
            if (r != POLICY_PARSE_DONE) /* learn where it stopped */
                r = policy_scan(base + off, len - off, &c->scan, &why);
        } else {
            /* the rest of a request that arrived in pieces */
            r = policy_scan(base + off, len - off, &c->scan, &why);
            if (r == POLICY_PARSE_DONE) {
                size_t used = 0;
                rlen = c->scan.off;
                if (policy_parse(base + off, rlen, s->attrs, POLICY_ATTR_MAX, &n, &used, &why) !=
                        POLICY_PARSE_DONE ||
                    used != rlen)
                    msg_panic("policy_server: policy_scan and policy_parse disagree");
            }
        }
        if (r == POLICY_PARSE_MORE) break;
        if (r == POLICY_PARSE_ERROR) {
            s->st.bad_requests++;
            size_t at = off + c->scan.off;
            conn_warn(c, "bad request", why, base + at, len - at);
            conn_close(c);
            break;
        }
        memset(&c->scan, 0, sizeof c->scan);
        off += rlen;
        s->st.requests++;
        list_remove(&s->idle, c);
        c->busy = true;
        list_append(&s->busy, c);
        c->refs++; /* released by policy_conn_reply */
        s->fn(s->ctx, c, s->attrs, n);
    }
    if (!c->closing) {
        if (ext != NULL) {
            if (off < extlen) str_append(&c->pending, ext + off, extlen - off);
        } else {
            str_consume(&c->pending, off);
        }
        if (c->pending.len == 0) str_free(&c->pending);
    }
    c->in_process = false;
    if (!c->closing) {
        if (c->busy || c->writes > 0)
            conn_stop_reading(c); /* conn_resume restarts */
        else if (c->close_after)
            conn_close(c);
        else
            conn_start_reading(c);
    }
    conn_unref(c);
}

static void conn_eof(policy_conn_t *c, ssize_t err)
{
    char peer[IPADDR_STRLEN + 16];
    policy_server_t *s = c->srv;
    if (c->pending.len > 0) {
        s->st.aborted++;
        conn_warn(c, "incomplete request",
                  err == UV_EOF ? "connection closed mid-request" : uv_strerror((int)err),
                  c->pending.data, c->pending.len);
    } else if (err != UV_EOF) {
        msg_debug("policy: read from %s: %s", conn_peer(c, peer, sizeof peer),
                  uv_strerror((int)err));
    }
    if (err == UV_EOF && c->pending.len == 0 && c->writes > 0) {
        /* a half-closed client (e.g. "nc -N") still gets the reply being written */
        conn_stop_reading(c);
        c->close_after = true;
        return;
    }
    conn_close(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    policy_conn_t *c = (policy_conn_t *)st;
    policy_server_t *s = c->srv;
    if (nread == 0 || c->closing) return;
    if (nread < 0) {
        conn_eof(c, nread);
        return;
    }
    c->active = uv_now(s->loop);
    if (!c->busy) {
        list_remove(&s->idle, c);
        list_append(&s->idle, c);
    }
    if (c->pending.len > 0) {
        str_append(&c->pending, buf->base, (size_t)nread);
        conn_process(c, NULL, 0);
    } else {
        conn_process(c, buf->base, (size_t)nread);
    }
}

static void conn_start_reading(policy_conn_t *c)
{
    if (c->reading || c->closing || c->busy || c->srv->draining) return;
    int r = uv_read_start(&c->h.stream, on_alloc, on_read);
    if (r < 0) {
        msg_warn("policy: cannot read from a connection: %s", uv_strerror(r));
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void on_kick(uv_idle_t *h)
{
    policy_server_t *s = h->data;
    policy_conn_t *c = s->ready_head;
    s->ready_head = s->ready_tail = NULL;
    while (c != NULL) {
        policy_conn_t *next = c->ready_next;
        c->queued = false;
        c->ready_next = NULL;
        if (!c->closing && !c->busy) conn_process(c, NULL, 0);
        conn_unref(c); /* the queue's reference; s stays: kick is open */
        c = next;
    }
    if (s->ready_head == NULL) uv_idle_stop(&s->kick);
}

/* --- accepting ----------------------------------------------------------------------- */

static void set_peer(policy_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&c->peer, 0, sizeof c->peer);
    if (c->h.handle.type != UV_TCP ||
        uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        c->peer.family = 4;
        memcpy(c->peer.a, &in->sin_addr, 4);
        c->port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(&in6->sin6_addr, mapped, 12) == 0) {
            c->peer.family = 4;
            memcpy(c->peer.a, (const uint8_t *)&in6->sin6_addr + 12, 4);
        } else {
            c->peer.family = 6;
            memcpy(c->peer.a, &in6->sin6_addr, 16);
        }
        c->port = ntohs(in6->sin6_port);
    }
}

static bool accept_warn_due(policy_server_t *s)
{
    uint64_t now = uv_now(s->loop);
    if (s->accept_warned != 0 && now - s->accept_warned < ACCEPT_WARN_MS) return false;
    s->accept_warned = now;
    return true;
}

static void on_connection(uv_stream_t *server, int status)
{
    listener_t *l = (listener_t *)server;
    policy_server_t *s = l->srv;
    if (status < 0) {
        if (accept_warn_due(s)) msg_warn("policy: accept: %s", uv_strerror(status));
        return;
    }
    policy_conn_t *c = xcalloc(1, sizeof *c);
    c->srv = s;
    c->refs = 1; /* the handle's */
    s->live++;
    if (l->path != NULL)
        uv_pipe_init(s->loop, &c->h.pipe, 0);
    else
        uv_tcp_init(s->loop, &c->h.tcp);
    s->handles++;
    s->nconns++;
    c->closing = true; /* not in a list yet */
    int r = uv_accept(server, &c->h.stream);
    if (r < 0) {
        if (accept_warn_due(s)) msg_warn("policy: accept: %s", uv_strerror(r));
        uv_close(&c->h.handle, on_conn_closed);
        return;
    }
    if (s->nconns > s->max_conns || s->draining) {
        s->st.refused++;
        s->refused_unlogged++;
        if (accept_warn_due(s)) {
            msg_warn("policy: max_connections (%zu) reached: refused %llu connection(s)",
                     s->max_conns, s->refused_unlogged);
            s->refused_unlogged = 0;
        }
        uv_close(&c->h.handle, on_conn_closed);
        return;
    }
    s->st.accepted++;
    c->closing = false;
    if (l->path == NULL) {
        uv_tcp_nodelay(&c->h.tcp, 1);
        set_peer(c);
    }
    c->active = uv_now(s->loop);
    list_append(&s->idle, c);
    conn_start_reading(c);
}

/* --- the idle sweep ------------------------------------------------------------------ */

static void on_sweep(uv_timer_t *t)
{
    policy_server_t *s = t->data;
    uint64_t now = uv_now(s->loop);
    while (s->idle.head != NULL && now - s->idle.head->active >= s->idle_ms) {
        policy_conn_t *c = s->idle.head;
        s->st.timed_out++;
        if (c->pending.len > 0) {
            s->st.aborted++;
            conn_warn(c, "incomplete request", "timed out mid-request", c->pending.data,
                      c->pending.len);
        } else {
            char peer[IPADDR_STRLEN + 16];
            msg_debug("policy: %s idle, closing", conn_peer(c, peer, sizeof peer));
        }
        conn_close(c);
    }
}

/* --- the server ---------------------------------------------------------------------- */

policy_server_t *policy_server_new(uv_loop_t *loop, const policy_server_options_t *opt,
                                   policy_request_fn fn, void *ctx)
{
    policy_server_t *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->fn = fn;
    s->ctx = ctx;
    s->port = -1;
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    uv_idle_init(loop, &s->kick);
    s->kick.data = s;
    s->handles = 2;
    policy_server_set_options(s, opt);
    /* Neither keeps the loop alive by itself: listeners and connections do. */
    uv_unref((uv_handle_t *)&s->sweep);
    uv_unref((uv_handle_t *)&s->kick);
    return s;
}

void policy_server_set_options(policy_server_t *s, const policy_server_options_t *opt)
{
    s->idle_ms = opt != NULL && opt->idle_timeout_ms > 0 ? opt->idle_timeout_ms : DEFAULT_IDLE_MS;
    s->max_conns =
        opt != NULL && opt->max_connections > 0 ? opt->max_connections : DEFAULT_MAX_CONNECTIONS;
    /* Sweep often enough that a connection lives at most about 1/8 over its timeout. */
    uint64_t every = s->idle_ms / 8;
    every = every < 10 ? 10 : every > 1000 ? 1000 : every;
    uv_timer_start(&s->sweep, on_sweep, every, every);
}

void policy_server_set_ctx(policy_server_t *s, void *ctx)
{
    s->ctx = ctx;
}

int policy_server_port(const policy_server_t *s)
{
    return s->port;
}

void policy_server_get_stats(const policy_server_t *s, struct policy_server_stats *out)
{
    *out = s->st;
    out->connections = s->nconns;
}

static void on_listener_closed(uv_handle_t *h)
{
    listener_t *l = (listener_t *)h;
    policy_server_t *s = l->srv;
    free(l->path);
    free(l);
    s->handles--;
    server_check(s);
}

static void listener_close(listener_t *l)
{
    struct stat st;
    if (l->path != NULL && lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        (void)unlink(l->path);
    uv_close(&l->h.handle, on_listener_closed);
}

static int listen_fail(char *err, size_t errlen, const char *endpoint, const char *what)
{
    snprintf(err, errlen, "%s: %s", endpoint, what);
    return -1;
}

/* Parses "HOST:PORT" or "[V6]:PORT" into sa. Returns NULL or the reason. */
static const char *parse_inet(const char *hp, struct sockaddr_storage *sa)
{
    const char *host = hp, *colon;
    size_t hlen;
    if (*hp == '[') {
        const char *rb = strchr(hp, ']');
        if (rb == NULL || rb[1] != ':') return "expected [IPV6]:PORT";
        host = hp + 1;
        hlen = (size_t)(rb - host);
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL) return "expected inet:HOST:PORT";
        hlen = (size_t)(colon - hp);
        if (memchr(hp, ':', hlen) != NULL)
            return "write an IPv6 address in brackets: inet:[ADDR]:PORT";
    }
    const char *p = colon + 1;
    unsigned long port = 0;
    if (*p == '\0' || strlen(p) > 5) return "bad port";
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return "bad port";
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535) return "bad port";
    ipaddr_t ip;
    if (hlen == 9 && memcmp(host, "localhost", 9) == 0)
        ipaddr_parsez(&ip, "127.0.0.1");
    else if (ipaddr_parse(&ip, host, hlen) != 0)
        return "not a numeric IP address";
    memset(sa, 0, sizeof *sa);
    if (ip.family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        memcpy(&in->sin_addr, ip.a, 4);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        memcpy(&in6->sin6_addr, ip.a, 16);
    }
    return NULL;
}

/*
 * Removes a stale socket file left by a previous run. A live one (something accepts a
 * connection on it) is an error, and so is a file that is not a socket.
 */
static const char *remove_stale(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? NULL : strerror(errno);
    if (!S_ISSOCK(st.st_mode)) return "exists and is not a socket";
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return strerror(errno);
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, strlen(path));
    int r = connect(fd, (struct sockaddr *)&un, sizeof un);
    int e = errno;
    close(fd);
    if (r == 0 || e == EAGAIN || e == EINPROGRESS) return "another server is listening on it";
    if (e != ECONNREFUSED && e != ENOENT) return strerror(e);
    if (unlink(path) != 0 && errno != ENOENT) return strerror(errno);
    return NULL;
}

int policy_server_listen(policy_server_t *s, const char *endpoint, char *err, size_t errlen)
{
    if (s->draining || s->freeing)
        return listen_fail(err, errlen, endpoint, "the server is shutting down");
    listener_t *l = xcalloc(1, sizeof *l);
    l->srv = s;
    int r;
    if (strncmp(endpoint, "inet:", 5) == 0) {
        struct sockaddr_storage sa;
        const char *bad = parse_inet(endpoint + 5, &sa);
        if (bad != NULL) {
            free(l);
            return listen_fail(err, errlen, endpoint, bad);
        }
        uv_tcp_init(s->loop, &l->h.tcp);
        s->handles++;
        r = uv_tcp_bind(&l->h.tcp, (const struct sockaddr *)&sa, 0);
        if (r == 0) r = uv_listen(&l->h.stream, LISTEN_BACKLOG, on_connection);
        if (r == 0) {
            struct sockaddr_storage me;
            int len = sizeof me;
            if (uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&me, &len) == 0)
                s->port = ntohs(me.ss_family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
                                                        : ((struct sockaddr_in6 *)&me)->sin6_port);
        }
    } else if (strncmp(endpoint, "unix:", 5) == 0) {
        const char *path = endpoint + 5;
        struct sockaddr_un un;
        if (*path == '\0' || strlen(path) >= sizeof un.sun_path) {
            free(l);
            return listen_fail(err, errlen, endpoint, "empty or too long socket path");
        }
        const char *bad = remove_stale(path);
        if (bad != NULL) {
            free(l);
            return listen_fail(err, errlen, endpoint, bad);
        }
        uv_pipe_init(s->loop, &l->h.pipe, 0);
        s->handles++;
        l->path = xstrdup(path);
        r = uv_pipe_bind(&l->h.pipe, path);
        struct stat st;
        if (r == 0 && lstat(path, &st) != 0) r = uv_translate_sys_error(errno);
        if (r == 0) {
            l->dev = st.st_dev; /* ours, to remove at close */
            l->ino = st.st_ino;
            /* Postfix's smtpd runs as the unprivileged mail_owner and must be able to
             * connect: the socket is world-writable (0666), and access is controlled by
             * the permissions of the directory it lives in (e.g. Postfix's private/). */
            if (chmod(path, 0666) != 0) r = uv_translate_sys_error(errno);
        }
        if (r == 0) r = uv_listen(&l->h.stream, LISTEN_BACKLOG, on_connection);
    } else {
        free(l);
        return listen_fail(err, errlen, endpoint, "expected inet:HOST:PORT or unix:PATH");
    }
    if (r != 0) {
        listen_fail(err, errlen, endpoint, uv_strerror(r));
        listener_close(l);
        return -1;
    }
    l->next = s->listeners;
    s->listeners = l;
    return 0;
}

static void on_aux_closed(uv_handle_t *h)
{
    policy_server_t *s = h->data;
    s->handles--;
    server_check(s);
}

/* Closes the listeners, the sweep timer and the ready queue (for drain and free). */
static void server_stop(policy_server_t *s)
{
    while (s->listeners != NULL) {
        listener_t *l = s->listeners;
        s->listeners = l->next;
        listener_close(l);
    }
    if (s->aux_closed) return;
    s->aux_closed = true;
    uv_close((uv_handle_t *)&s->sweep, on_aux_closed);
    uv_close((uv_handle_t *)&s->kick, on_aux_closed);
    policy_conn_t *c = s->ready_head;
    s->ready_head = s->ready_tail = NULL;
    while (c != NULL) {
        policy_conn_t *next = c->ready_next;
        c->queued = false;
        c->ready_next = NULL;
        conn_close(c); /* drain answers no pipelined request */
        conn_unref(c); /* s stays: its handles are closing, not closed */
        c = next;
    }
}

void policy_server_drain(policy_server_t *s, void (*done)(void *arg), void *arg)
{
    if (s->draining) msg_panic("policy_server_drain: called twice");
    s->draining = true;
    s->done = done;
    s->done_arg = arg;
    server_stop(s);
    /* Idle connections go now; one whose last reply is still being written goes after. */
    policy_conn_t *c = s->idle.head;
    while (c != NULL) {
        policy_conn_t *next = c->next;
        if (c->writes > 0) {
            c->close_after = true;
            conn_stop_reading(c);
        } else {
            conn_close(c);
        }
        c = next;
    }
    /* Busy connections close after their reply (policy_conn_reply). */
}

void policy_server_free(policy_server_t *s)
{
    if (s == NULL) return;
    s->freeing = true;
    s->done = NULL;
    server_stop(s);
    while (s->idle.head != NULL)
        conn_close(s->idle.head);
    while (s->busy.head != NULL)
        conn_close(s->busy.head);
    server_check(s);
}
