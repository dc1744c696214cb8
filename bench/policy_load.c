/*
 * policy_load: a load generator for Postfix policy servers (SMTPD_POLICY_README protocol).
 * A test tool, not part of mailblock: plain C, libc and pthreads only, epoll, one thread by
 * default so that on a two-core machine the server under test keeps the other core.
 *
 * Modes:
 *   closed loop (default): each of C persistent connections keeps DEPTH requests in flight
 *     (1, as Postfix does) and sends the next as soon as a reply arrives; measures the
 *     throughput the server can sustain.
 *   open loop (-r RATE): requests leave at RATE per second over all connections whatever
 *     the replies do; latency counts from the scheduled send time, so a stalled server
 *     shows up in the percentiles (no coordinated omission).
 *   idle (-I): opens C connections, sends nothing, holds them for -d seconds, reports how
 *     many the server kept open; for measuring a server's memory per idle connection.
 *
 * Requests: -f names a file of one or more requests separated by empty lines (lines that
 * start with '#' are dropped). Each connection cycles through them, one entry per message,
 * starting at its own offset. Three placeholders are filled per request, so that a real
 * mix can be replayed: {msg} becomes a message id unique over all connections of the run
 * (put it in the instance attribute: instance={msg}), {rcpt} the recipient's number within
 * its message (0, 1, ...; e.g. recipient=user{rcpt}@example.com) and {conn} the connection's
 * number. -m K sends K requests (RCPTs) per message: the same entry and {msg} K times, {rcpt}
 * counting 0..K-1; by default every request is a new message.
 *
 * Every run is bounded: -n requests per connection and -d seconds, plus a few seconds of
 * grace for replies in flight. Replies must begin with "action="; anything else counts as
 * an error. Build: see bench/Makefile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TEMPLATE_MAX 32768              /* one request */
#define MIX_FILE_MAX (8u << 20)         /* a file of requests */
#define MIX_MAX 65536                   /* requests in it */
#define GRACE_NS (5ull * 1000000000ull) /* to wait for replies after the run */
#define CONNECT_AT_ONCE 256             /* connects in progress per thread */
#define FIFO_MAX (1u << 20)             /* open loop: requests owed while all are busy */
#define HIST_BUCKETS (128 + 57 * 64)

/* --- options ------------------------------------------------------------------------ */

static struct {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *target;
    unsigned conns, depth, threads;
    uint64_t per_conn; /* requests per connection; 0: no count bound */
    double seconds;    /* duration bound (idle mode: how long to hold) */
    double rate;       /* open loop: requests/s over all connections; 0: closed loop */
    bool idle;
    struct entry *mix; /* the requests, each ending in an empty line */
    size_t nmix;
    size_t maxlen;        /* longest request once its placeholders are filled */
    uint64_t per_message; /* requests per message (-m) */
    uint64_t warm;        /* first requests of each connection not counted (-W) */
} opt = {.conns = 10, .depth = 1, .threads = 1, .per_conn = 10000, .seconds = 10, .per_message = 1};

/* One request of the mix: literal text with placeholders between the parts. */
enum ph { PH_NONE, PH_MSG, PH_RCPT, PH_CONN };
struct part {
    const char *text;
    size_t len;
    enum ph after; /* the placeholder that follows the text */
};
struct entry {
    struct part *parts;
    size_t nparts;
    size_t len; /* literal bytes */
};

static const char default_request[] =
    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
    "helo_name=mail.example.org\nqueue_id=\nsender=alice@example.org\n"
    "recipient=bob@example.net\nrecipient_count=0\nclient_address=192.0.2.10\n"
    "client_name=mail.example.org\nreverse_client_name=mail.example.org\n"
    "instance=1a2b.65f0c3d1.4e8f1.0\nsasl_method=\nsasl_username=\nsasl_sender=\nsize=0\n"
    "ccert_subject=\nccert_issuer=\nccert_fingerprint=\nencryption_protocol=TLSv1.3\n"
    "encryption_cipher=TLS_AES_256_GCM_SHA384\nencryption_keysize=256\netrn_domain=\n"
    "stress=\nccert_pubkey_fingerprint=\nclient_port=54022\npolicy_context=\n"
    "server_address=198.51.100.25\nserver_port=25\ncompatibility_level=3.6\n"
    "mail_version=3.7.11\n\n";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "policy_load: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* --- latency histogram: 64 sub-buckets per power of two (about 1.6% precision) -------- */

typedef struct hist {
    uint64_t n, max, b[HIST_BUCKETS];
} hist_t;

static unsigned hist_index(uint64_t v)
{
    if (v < 128) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 6;
    return 128 + (shift - 1) * 64 + (unsigned)((v >> shift) - 64);
}

static uint64_t hist_value(unsigned i)
{
    if (i < 128) return i;
    unsigned shift = (i - 128) / 64 + 1;
    uint64_t sub = (i - 128) % 64 + 64;
    return ((sub << shift) + ((sub + 1) << shift)) / 2; /* the bucket's middle */
}

static void hist_add(hist_t *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->n++;
    if (v > h->max) h->max = v;
}

static uint64_t hist_pct(const hist_t *h, double p)
{
    if (h->n == 0) return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->n);
    if (want >= h->n) want = h->n - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > want) return hist_value(i) < h->max ? hist_value(i) : h->max;
    }
    return h->max;
}

/* --- connections and workers --------------------------------------------------------- */

enum cstate { C_CONNECTING, C_OPEN, C_DEAD };

typedef struct conn {
    int fd;
    enum cstate state;
    bool want_out;     /* EPOLLOUT registered */
    bool in_free;      /* on the free stack (open loop) */
    bool nl;           /* last byte read was '\n' */
    unsigned rpos;     /* bytes of the current reply seen (to check "action=") */
    unsigned inflight; /* requests sent or queued, not answered */
    unsigned ts_head;  /* ring of send times, depth entries */
    uint64_t *ts;
    unsigned idx; /* number over all connections of the run */
    char *out;    /* requests rendered, not yet written: out[woff..olen) */
    size_t olen, woff, ocap;
    uint64_t sent, answered;
} conn_t;

typedef struct worker {
    pthread_t thread;
    unsigned first, count; /* connections [first, first + count) of all */
    conn_t *c;
    int ep;
    hist_t hist;
    uint64_t sent, answered, errors, lost, connect_failed, closed_by_server, overflow;
    uint64_t warm_replies;   /* answers to the first -W requests of each connection */
    uint64_t t_start, t_end; /* first send, last reply */
    uint64_t inflight;       /* over all its connections */
    unsigned open;
    /* open loop */
    conn_t **free_stack;
    unsigned nfree;
    uint64_t *fifo;
    unsigned fifo_head, fifo_len;
} worker_t;

static void set_events(worker_t *w, conn_t *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
    c->want_out = out;
}

static void conn_dead(worker_t *w, conn_t *c, bool by_server)
{
    if (c->state == C_DEAD) return;
    if (c->state == C_OPEN) w->open--;
    if (by_server) w->closed_by_server++;
    w->lost += c->inflight;
    w->inflight -= c->inflight;
    c->inflight = 0;
    c->state = C_DEAD;
    close(c->fd);
}

static void conn_flush(worker_t *w, conn_t *c)
{
    while (c->woff < c->olen) {
        ssize_t n = write(c->fd, c->out + c->woff, c->olen - c->woff);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {
            conn_dead(w, c, true);
            return;
        }
        c->woff += (size_t)n;
    }
    if (c->woff == c->olen) c->woff = c->olen = 0;
    bool unsent = c->olen > 0;
    if (unsent != c->want_out) set_events(w, c, unsent);
}

/* Appends request number c->sent of connection c to its output, placeholders filled. */
static void conn_render(conn_t *c)
{
    uint64_t msg = c->sent / opt.per_message, rcpt = c->sent % opt.per_message;
    const struct entry *e = &opt.mix[(c->idx + msg) % opt.nmix];
    if (c->ocap - c->olen < opt.maxlen) {
        if (c->woff > 0) { /* drop what was written */
            memmove(c->out, c->out + c->woff, c->olen - c->woff);
            c->olen -= c->woff;
            c->woff = 0;
        }
        if (c->ocap - c->olen < opt.maxlen) {
            size_t cap = c->ocap ? c->ocap : opt.maxlen * 2;
            while (cap - c->olen < opt.maxlen)
                cap *= 2;
            c->out = realloc(c->out, cap);
            if (c->out == NULL) die("out of memory");
            c->ocap = cap;
        }
    }
    char *p = c->out + c->olen;
    for (size_t i = 0; i < e->nparts; i++) {
        memcpy(p, e->parts[i].text, e->parts[i].len);
        p += e->parts[i].len;
        switch (e->parts[i].after) {
        case PH_MSG: /* like Postfix's instance: hex fields joined by dots */
            p += sprintf(p, "%x.%" PRIx64 ".0", c->idx + 0x1000u, msg + 0x10000000u);
            break;
        case PH_RCPT:
            p += sprintf(p, "%" PRIu64, rcpt);
            break;
        case PH_CONN:
            p += sprintf(p, "%u", c->idx);
            break;
        case PH_NONE:
            break;
        }
    }
    c->olen = (size_t)(p - c->out);
}

/* Queues k requests stamped at t (their scheduled or actual send time) and writes. */
static void conn_send(worker_t *w, conn_t *c, unsigned k, uint64_t t)
{
    for (unsigned i = 0; i < k; i++)
        c->ts[(c->ts_head + c->inflight + i) % opt.depth] = t;
    c->inflight += k;
    w->inflight += k;
    for (unsigned i = 0; i < k; i++) {
        if (w->t_start == 0 && c->sent >= opt.warm) w->t_start = t; /* first counted */
        conn_render(c);
        c->sent++;
    }
    w->sent += k;
    conn_flush(w, c);
}

static void conn_start(worker_t *w, conn_t *c, int *connecting)
{
    c->fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s (raise the open files limit?)", strerror(errno));
    if (opt.addr.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->state = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
    c->want_out = true;
    if (connect(c->fd, (struct sockaddr *)&opt.addr, opt.addrlen) != 0 && errno != EINPROGRESS &&
        errno != EAGAIN) {
        w->connect_failed++;
        c->state = C_DEAD;
        close(c->fd);
        return;
    }
    (*connecting)++;
}

static bool budget_left(const worker_t *w, const conn_t *c, uint64_t now, uint64_t stop_at)
{
    if (now >= stop_at) return false;
    if (opt.per_conn == 0) return true;
    if (opt.rate > 0) return w->sent + w->fifo_len < opt.per_conn * w->count;
    return c->sent < opt.per_conn;
}

/* Open loop: a connection with a free slot takes an owed request or waits on the stack. */
static void conn_free_slot(worker_t *w, conn_t *c)
{
    while (c->state == C_OPEN && c->inflight < opt.depth && w->fifo_len > 0) {
        uint64_t t = w->fifo[w->fifo_head];
        w->fifo_head = (w->fifo_head + 1) % FIFO_MAX;
        w->fifo_len--;
        conn_send(w, c, 1, t);
    }
    if (c->state == C_OPEN && c->inflight < opt.depth && !c->in_free) {
        c->in_free = true;
        w->free_stack[w->nfree++] = c;
    }
}

static void conn_readable(worker_t *w, conn_t *c, char *buf, size_t size, uint64_t stop_at)
{
    unsigned replies = 0;
    for (;;) {
        ssize_t n = read(c->fd, buf, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {
            conn_dead(w, c, true);
            return;
        }
        uint64_t now = now_ns();
        for (ssize_t i = 0; i < n; i++) {
            char ch = buf[i];
            if (c->rpos < 7 && ch != "action="[c->rpos] && !(c->rpos == 0 && ch == '\n')) {
                w->errors++;
                c->rpos = 7; /* count once per reply */
            }
            c->rpos++;
            if (ch == '\n' && c->nl) {
                /* end of one reply */
                if (c->inflight == 0) {
                    w->errors++;
                } else {
                    if (c->answered >= opt.warm) {
                        hist_add(&w->hist, now - c->ts[c->ts_head]);
                        w->answered++;
                        w->t_end = now;
                    } else {
                        w->warm_replies++;
                    }
                    c->ts_head = (c->ts_head + 1) % opt.depth;
                    c->inflight--;
                    w->inflight--;
                    c->answered++;
                    replies++;
                }
                c->rpos = 0;
                c->nl = false;
                continue;
            }
            c->nl = ch == '\n';
        }
        if ((size_t)n < size) break;
    }
    if (replies == 0) return;
    uint64_t now = now_ns();
    if (opt.rate > 0) {
        conn_free_slot(w, c);
    } else if (budget_left(w, c, now, stop_at)) {
        uint64_t left = opt.per_conn ? opt.per_conn - c->sent : replies;
        conn_send(w, c, replies < left ? replies : (unsigned)left, now);
    }
}

static void *worker_run(void *arg)
{
    worker_t *w = arg;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (w->ep < 0) die("epoll_create1: %s", strerror(errno));
    char *rbuf = malloc(65536);
    struct epoll_event evs[512];
    uint64_t t0 = now_ns();
    uint64_t stop_at = t0 + (uint64_t)(opt.seconds * 1e9);
    uint64_t connect_deadline = t0 + 30ull * 1000000000ull;
    uint64_t interval = opt.rate > 0 ? (uint64_t)(1e9 * opt.threads / opt.rate) : 0;
    uint64_t next_due = 0;
    unsigned next_conn = 0;
    int connecting = 0;
    bool all_open = false, holding = false;
    if (opt.idle) stop_at = UINT64_MAX; /* until all are open (and warmed up) */

    for (;;) {
        /* start connections, a bounded number at a time */
        while (next_conn < w->count && connecting < CONNECT_AT_ONCE)
            conn_start(w, &w->c[next_conn++], &connecting);
        uint64_t now = now_ns();
        if (!all_open && next_conn == w->count && connecting == 0) {
            all_open = true;
            if (opt.idle) {
                /* held below, once warmed up */
            } else if (opt.rate > 0) {
                stop_at = now + (uint64_t)(opt.seconds * 1e9);
                next_due = now;
            } else {
                stop_at = now + (uint64_t)(opt.seconds * 1e9);
            }
        }
        if (!all_open && now > connect_deadline) break;
        if (opt.idle && all_open && !holding) {
            /* idle: hold from the moment all are open and have had their -n replies */
            bool warm = true;
            for (unsigned i = 0; i < w->count && warm; i++)
                warm = w->c[i].state != C_OPEN || w->c[i].answered >= opt.per_conn;
            if (warm || now > connect_deadline) {
                holding = true;
                fprintf(stderr,
                        "policy_load: %u connections open, %" PRIu64 " replies; holding %.1f s\n",
                        w->open, w->answered, opt.seconds);
                stop_at = now + (uint64_t)(opt.seconds * 1e9);
            }
        }
        /* open loop: send what is due */
        if (all_open && opt.rate > 0) {
            while (next_due <= now && budget_left(w, NULL, next_due, stop_at)) {
                conn_t *c = NULL;
                while (w->nfree > 0 && c == NULL) {
                    conn_t *f = w->free_stack[--w->nfree];
                    f->in_free = false;
                    if (f->state == C_OPEN && f->inflight < opt.depth) c = f;
                }
                if (c != NULL) {
                    conn_send(w, c, 1, next_due);
                    if (c->inflight < opt.depth && !c->in_free) {
                        c->in_free = true;
                        w->free_stack[w->nfree++] = c;
                    }
                } else if (w->fifo_len < FIFO_MAX) {
                    w->fifo[(w->fifo_head + w->fifo_len) % FIFO_MAX] = next_due;
                    w->fifo_len++; /* owed: counts against the budget */
                } else {
                    w->overflow++;
                }
                next_due += interval;
            }
        }
        uint64_t inflight = opt.idle ? 0 : w->inflight;
        if (all_open && (!opt.idle || holding)) {
            if (now >= stop_at + (opt.idle ? 0 : GRACE_NS)) break;
            bool more = opt.rate > 0 ? budget_left(w, NULL, now, stop_at)
                                     : (now < stop_at && opt.per_conn == 0);
            if (!opt.idle && !more && inflight == 0 && w->fifo_len == 0) {
                /* closed loop: done when every connection used its budget */
                bool any = false;
                for (unsigned i = 0; i < w->count && !any; i++)
                    any = w->c[i].state == C_OPEN && budget_left(w, &w->c[i], now, stop_at);
                if (!any || opt.rate > 0) break;
            }
            if (!opt.idle && w->open == 0) break;
        }
        int timeout = 100;
        if (all_open && opt.rate > 0 && budget_left(w, NULL, now, stop_at))
            timeout = next_due > now ? (int)((next_due - now) / 1000000) : 0;
        int n = epoll_wait(w->ep, evs, 512, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->state == C_DEAD) continue;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0 && !(evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                connecting--;
                if (err != 0 || (evs[i].events & (EPOLLERR | EPOLLHUP))) {
                    w->connect_failed++;
                    c->state = C_DEAD;
                    close(c->fd);
                    continue;
                }
                c->state = C_OPEN;
                w->open++;
                set_events(w, c, false);
                if (opt.idle) {
                    if (opt.per_conn > 0)
                        conn_send(w, c,
                                  opt.per_conn < opt.depth ? (unsigned)opt.per_conn : opt.depth,
                                  now_ns());
                    continue;
                }
                if (opt.rate > 0) {
                    c->in_free = true;
                    w->free_stack[w->nfree++] = c;
                } else {
                    conn_send(w, c,
                              opt.per_conn && opt.per_conn < opt.depth ? (unsigned)opt.per_conn
                                                                       : opt.depth,
                              now_ns());
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) conn_flush(w, c);
            if (c->state == C_OPEN &&
                (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                if (opt.idle && !holding) {
                    conn_readable(w, c, rbuf, 65536, UINT64_MAX);
                } else if (opt.idle) {
                    char b[64];
                    if (read(c->fd, b, sizeof b) <= 0)
                        conn_dead(w, c, true);
                    else
                        w->errors++; /* the server said something unasked */
                } else {
                    conn_readable(w, c, rbuf, 65536, stop_at);
                }
            }
        }
    }
    for (unsigned i = 0; i < w->count; i++) {
        conn_t *c = &w->c[i];
        if (c->state != C_DEAD) {
            w->lost += c->inflight;
            close(c->fd);
            c->state = C_DEAD;
        }
    }
    w->lost += w->fifo_len;
    free(rbuf);
    close(w->ep);
    return NULL;
}

/* --- setup and report ----------------------------------------------------------------- */

static void parse_target(const char *t)
{
    opt.target = t;
    memset(&opt.addr, 0, sizeof opt.addr);
    if (strncmp(t, "unix:", 5) == 0 || t[0] == '/') {
        const char *path = t[0] == '/' ? t : t + 5;
        struct sockaddr_un *un = (struct sockaddr_un *)&opt.addr;
        if (strlen(path) >= sizeof un->sun_path) die("%s: path too long", t);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        opt.addrlen = sizeof *un;
        return;
    }
    if (strncmp(t, "inet:", 5) == 0) t += 5;
    char host[256];
    const char *port;
    if (t[0] == '[') {
        const char *rb = strchr(t, ']');
        if (rb == NULL || rb[1] != ':' || (size_t)(rb - t - 1) >= sizeof host)
            die("%s: expected [ADDR]:PORT", opt.target);
        memcpy(host, t + 1, (size_t)(rb - t - 1));
        host[rb - t - 1] = '\0';
        port = rb + 2;
    } else {
        const char *colon = strrchr(t, ':');
        if (colon == NULL || (size_t)(colon - t) >= sizeof host)
            die("%s: expected HOST:PORT", opt.target);
        memcpy(host, t, (size_t)(colon - t));
        host[colon - t] = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int e = getaddrinfo(host, port, &hints, &res);
    if (e != 0) die("%s: %s", opt.target, gai_strerror(e));
    memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
    opt.addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

/* Splits one request (no empty line inside, none at its end) into parts at placeholders. */
static void add_entry(const char *req, size_t len, bool crlf, const char *path)
{
    if (len > TEMPLATE_MAX) die("%s: a request longer than %d bytes", path, TEMPLATE_MAX);
    if (opt.nmix == MIX_MAX) die("%s: more than %d requests", path, MIX_MAX);
    static const struct {
        const char *name;
        enum ph ph;
        size_t width; /* most bytes it becomes */
    } phs[] = {{"{msg}", PH_MSG, 8 + 1 + 16 + 2}, {"{rcpt}", PH_RCPT, 20}, {"{conn}", PH_CONN, 10}};
    struct entry *e = &opt.mix[opt.nmix++];
    char *own = malloc(len + 1); /* the parts point into it */
    memcpy(own, req, len);
    req = own;
    size_t cap = 4, width = 0;
    e->parts = malloc(cap * sizeof *e->parts);
    e->nparts = 0;
    e->len = 0;
    const char *at = req, *end = req + len;
    for (;;) {
        const char *next = NULL;
        unsigned which = 0;
        for (const char *q = at; q < end && next == NULL; q++) {
            if (*q != '{') continue;
            for (unsigned i = 0; i < sizeof phs / sizeof phs[0]; i++) {
                size_t n = strlen(phs[i].name);
                if ((size_t)(end - q) >= n && memcmp(q, phs[i].name, n) == 0) {
                    next = q;
                    which = i;
                    break;
                }
            }
        }
        if (e->nparts + 2 > cap) e->parts = realloc(e->parts, (cap *= 2) * sizeof *e->parts);
        struct part *pt = &e->parts[e->nparts++];
        pt->text = at;
        pt->len = (size_t)((next ? next : end) - at);
        pt->after = next ? phs[which].ph : PH_NONE;
        e->len += pt->len;
        if (next == NULL) break;
        width += phs[which].width;
        at = next + strlen(phs[which].name);
    }
    /* the empty line that ends the request */
    struct part *pt = &e->parts[e->nparts++];
    pt->text = crlf ? "\r\n\r\n" : "\n\n";
    pt->len = crlf ? 4 : 2;
    pt->after = PH_NONE;
    e->len += pt->len;
    if (e->len + width > opt.maxlen) opt.maxlen = e->len + width;
}

static void load_mix(const char *path)
{
    opt.mix = calloc(MIX_MAX, sizeof *opt.mix);
    if (path == NULL) {
        add_entry(default_request, strlen(default_request) - 2, false, "default");
        return;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) die("%s: %s", path, strerror(errno));
    char *buf = malloc(MIX_FILE_MAX + 1);
    size_t len = fread(buf, 1, MIX_FILE_MAX + 1, f);
    fclose(f);
    if (len > MIX_FILE_MAX) die("%s: longer than %u bytes", path, MIX_FILE_MAX);
    bool crlf = memchr(buf, '\r', len) != NULL;
    /* copy the lines that are not comments; an empty line ends a request */
    char *req = malloc(len + 1);
    size_t rlen = 0;
    for (size_t i = 0; i <= len;) {
        size_t eol = i;
        while (eol < len && buf[eol] != '\n')
            eol++;
        size_t ll = eol - i; /* the line without its '\n' */
        const char *line = buf + i;
        bool empty = ll == 0 || (ll == 1 && line[0] == '\r');
        if (i == len || empty) {
            if (rlen > 0) {
                while (rlen > 0 && (req[rlen - 1] == '\n' || req[rlen - 1] == '\r'))
                    rlen--;
                add_entry(req, rlen, crlf, path);
                rlen = 0;
            }
        } else if (line[0] != '#') {
            memcpy(req + rlen, line, ll);
            rlen += ll;
            req[rlen++] = '\n';
        }
        if (i == len) break;
        i = eol < len ? eol + 1 : len;
    }
    free(req);
    free(buf);
    if (opt.nmix == 0) die("%s: no request in it", path);
}

static void raise_nofile(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = need + 64;
    if (rl.rlim_cur >= want) return;
    if (rl.rlim_max < want) {
        struct rlimit up = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) return;
    }
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        fprintf(stderr, "policy_load: warning: open files limit %llu < %llu needed\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: policy_load -t TARGET [-c CONNS] [-n REQS] [-d SECONDS] [-f REQUEST_FILE]\n"
            "                   [-m K] [-W W] [-r RATE] [-p DEPTH] [-j THREADS] [-I]\n"
            "  -t  inet:HOST:PORT, HOST:PORT, [IPV6]:PORT, unix:PATH or /PATH\n"
            "  -c  persistent connections (default 10)\n"
            "  -n  requests per connection (default 10000; 0: bounded by -d only)\n"
            "  -d  seconds: bounds the run (default 10); with -I, how long to hold\n"
            "  -f  a file of Postfix policy requests separated by empty lines, sent in turn\n"
            "      (default: one Postfix 3.7 RCPT request); {msg} {rcpt} {conn} are filled in\n"
            "  -m  requests (RCPTs) per message: {msg} changes every K requests (default 1)\n"
            "  -W  the first W requests of each connection are sent but not counted (not in\n"
            "      decisions/s nor latency): leaves a server's start-up out (default 0)\n"
            "  -r  open loop: send RATE requests/s in all, latency from the scheduled time\n"
            "  -p  requests in flight per connection (default 1, as Postfix; more pipelines)\n"
            "  -j  threads (default 1)\n"
            "  -I  idle: open CONNS connections, send -n requests on each (default none),\n"
            "      then nothing: hold them -d seconds and report how many stayed open\n");
    exit(64);
}

int main(int argc, char **argv)
{
    const char *target = NULL, *file = NULL;
    bool n_given = false;
    int ch;
    while ((ch = getopt(argc, argv, "t:c:n:d:f:m:W:r:p:j:Ih")) != -1) {
        switch (ch) {
        case 't':
            target = optarg;
            break;
        case 'c':
            opt.conns = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'n':
            opt.per_conn = strtoull(optarg, NULL, 10);
            n_given = true;
            break;
        case 'd':
            opt.seconds = strtod(optarg, NULL);
            break;
        case 'f':
            file = optarg;
            break;
        case 'm':
            opt.per_message = strtoull(optarg, NULL, 10);
            break;
        case 'W':
            opt.warm = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            opt.rate = strtod(optarg, NULL);
            break;
        case 'p':
            opt.depth = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'j':
            opt.threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'I':
            opt.idle = true;
            break;
        default:
            usage();
        }
    }
    if (target == NULL || opt.conns == 0 || opt.depth == 0 || opt.threads == 0 ||
        opt.seconds <= 0 || opt.seconds > 86400 || opt.depth > 4096 || opt.conns > 1000000 ||
        opt.per_message == 0)
        usage();
    if (opt.per_conn == 0 && opt.seconds <= 0) usage();
    if (opt.idle) {
        opt.threads = 1;
        if (!n_given) opt.per_conn = 0;
    }
    if (opt.threads > opt.conns) opt.threads = opt.conns;
    signal(SIGPIPE, SIG_IGN);
    parse_target(target);
    load_mix(file);
    raise_nofile(opt.conns);

    worker_t *ws = calloc(opt.threads, sizeof *ws);
    conn_t *conns = calloc(opt.conns, sizeof *conns);
    uint64_t *ts = calloc((size_t)opt.conns * opt.depth, sizeof *ts);
    for (unsigned i = 0; i < opt.conns; i++) {
        conns[i].ts = ts + (size_t)i * opt.depth;
        conns[i].idx = i;
    }
    unsigned per = opt.conns / opt.threads, extra = opt.conns % opt.threads, at = 0;
    for (unsigned t = 0; t < opt.threads; t++) {
        worker_t *w = &ws[t];
        w->first = at;
        w->count = per + (t < extra ? 1 : 0);
        w->c = conns + at;
        at += w->count;
        if (opt.rate > 0) {
            w->free_stack = calloc(w->count, sizeof *w->free_stack);
            w->fifo = calloc(FIFO_MAX, sizeof *w->fifo);
        }
    }
    fprintf(stderr,
            "policy_load: %s, %u connections, %s, %u thread(s), %zu request(s) of at most %zu "
            "bytes, %" PRIu64 " per message\n",
            opt.target, opt.conns,
            opt.idle       ? "idle"
            : opt.rate > 0 ? "open loop"
                           : "closed loop",
            opt.threads, opt.nmix, opt.maxlen, opt.per_message);
    for (unsigned t = 0; t < opt.threads; t++)
        if (pthread_create(&ws[t].thread, NULL, worker_run, &ws[t]) != 0)
            die("pthread_create failed");

    hist_t *all = calloc(1, sizeof *all);
    uint64_t sent = 0, answered = 0, errors = 0, lost = 0, cfail = 0, closed = 0, overflow = 0;
    uint64_t warm_replies = 0;
    uint64_t t_start = UINT64_MAX, t_end = 0;
    unsigned open = 0;
    for (unsigned t = 0; t < opt.threads; t++) {
        worker_t *w = &ws[t];
        pthread_join(w->thread, NULL);
        for (unsigned i = 0; i < HIST_BUCKETS; i++)
            all->b[i] += w->hist.b[i];
        all->n += w->hist.n;
        if (w->hist.max > all->max) all->max = w->hist.max;
        sent += w->sent;
        answered += w->answered;
        warm_replies += w->warm_replies;
        errors += w->errors;
        lost += w->lost;
        cfail += w->connect_failed;
        closed += w->closed_by_server;
        overflow += w->overflow;
        open += w->open;
        if (w->t_start != 0 && w->t_start < t_start) t_start = w->t_start;
        if (w->t_end > t_end) t_end = w->t_end;
    }
    if (opt.idle) {
        printf("idle: connections=%u open_at_end=%u connect_failed=%" PRIu64
               " closed_by_server=%" PRIu64 " warmup_replies=%" PRIu64 " errors=%" PRIu64
               " held=%.1fs\n",
               opt.conns, open, cfail, closed, answered + warm_replies, errors, opt.seconds);
        return cfail > 0 || closed > 0 || errors > 0 ? 1 : 0;
    }
    double secs = t_end > t_start && t_start != UINT64_MAX ? (double)(t_end - t_start) / 1e9 : 0;
    printf("requests=%" PRIu64 " replies=%" PRIu64 " errors=%" PRIu64 " lost=%" PRIu64
           " connect_failed=%" PRIu64 " closed_by_server=%" PRIu64 "%s\n",
           sent, answered + warm_replies, errors, lost, cfail, closed,
           overflow ? " (open loop overflow: the server is far behind the rate)" : "");
    if (opt.warm > 0) printf("warmup_replies=%" PRIu64 " (not counted below)\n", warm_replies);
    printf("time=%.3fs decisions/s=%.0f\n", secs, secs > 0 ? (double)answered / secs : 0.0);
    printf("latency_us p50=%.1f p90=%.1f p99=%.1f p99.9=%.1f max=%.1f\n",
           (double)hist_pct(all, 50) / 1e3, (double)hist_pct(all, 90) / 1e3,
           (double)hist_pct(all, 99) / 1e3, (double)hist_pct(all, 99.9) / 1e3,
           (double)all->max / 1e3);
    return errors > 0 || lost > 0 || cfail > 0 ? 1 : 0;
}
