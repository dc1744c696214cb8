/*
 * Scripted sessions against gate/policy_server: a real libuv loop runs in a second thread
 * with listeners on 127.0.0.1 (port 0, read back) and on a unix socket in a temporary
 * folder; the test (main thread) talks to it through ordinary blocking sockets with
 * receive timeouts, so that a broken server fails a test rather than hanging it.
 *
 * The handler: "echo=X" is answered "OK X #N" (N counts requests on the connection through
 * policy_conn_set_data), anything else "DUNNO"; "delay=MS" defers the reply with a uv timer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "gate/policy_server.h"
#include "util/str.h"

#define CLIENT_TIMEOUT_MS 5000

enum { CMD_STATS = 1, CMD_DRAIN = 2, CMD_FREE = 4 };

typedef struct fix {
    uv_loop_t loop;
    policy_server_t *srv;
    uv_async_t cmd_async;
    atomic_int cmd;
    pthread_t thread;
    bool running;
    int port;
    int family; /* of the inet listener */
    char dir[64];
    char path[128];
    /* filled by the loop thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stats_ready;
    struct policy_server_stats stats;
    atomic_int drained;
} fix_t;

static atomic_int data_freed; /* connections whose per-connection data was freed */
static atomic_int data_made;

/* --- the server side (loop thread) ----------------------------------------------------- */

typedef struct later {
    uv_timer_t timer;
    policy_conn_t *conn;
    size_t len;
    char reply[600];
} later_t;

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void later_fire(uv_timer_t *t)
{
    later_t *l = t->data;
    policy_conn_reply(l->conn, l->reply, l->len);
    uv_close((uv_handle_t *)&l->timer, later_closed);
}

static void count_free(void *p)
{
    free(p);
    atomic_fetch_add(&data_freed, 1);
}

static void handler(void *ctx, policy_conn_t *c, const policy_attr_t *attrs, size_t n)
{
    fix_t *f = ctx;
    unsigned *count = policy_conn_get_data(c);
    if (count == NULL) {
        count = calloc(1, sizeof *count);
        policy_conn_set_data(c, count, count_free);
        atomic_fetch_add(&data_made, 1);
    }
    (*count)++;
    char reply[600];
    int len;
    const policy_attr_t *echo = policy_find(attrs, n, "echo");
    if (echo != NULL && echo->value_len < 500)
        len =
            snprintf(reply, sizeof reply, "OK %.*s #%u", (int)echo->value_len, echo->value, *count);
    else
        len = snprintf(reply, sizeof reply, "DUNNO");
    const policy_attr_t *delay = policy_find(attrs, n, "delay");
    if (delay == NULL) {
        policy_conn_reply(c, reply, (size_t)len);
        return;
    }
    later_t *l = calloc(1, sizeof *l);
    l->conn = c;
    l->len = (size_t)len;
    memcpy(l->reply, reply, (size_t)len);
    uv_timer_init(&f->loop, &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, later_fire, strtoul(delay->value, NULL, 10), 0);
}

static void drained(void *arg)
{
    fix_t *f = arg;
    atomic_store(&f->drained, 1);
    policy_server_free(f->srv);
    f->srv = NULL;
    uv_close((uv_handle_t *)&f->cmd_async, NULL);
}

static void on_cmd(uv_async_t *a)
{
    fix_t *f = a->data;
    int cmd = atomic_exchange(&f->cmd, 0);
    if ((cmd & CMD_STATS) && f->srv != NULL) {
        pthread_mutex_lock(&f->mu);
        policy_server_get_stats(f->srv, &f->stats);
        f->stats_ready = true;
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
    if ((cmd & CMD_DRAIN) && f->srv != NULL) policy_server_drain(f->srv, drained, f);
    if ((cmd & CMD_FREE) && f->srv != NULL) {
        policy_server_free(f->srv);
        f->srv = NULL;
        uv_close((uv_handle_t *)&f->cmd_async, NULL);
    }
}

static void *loop_thread(void *arg)
{
    fix_t *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void send_cmd(fix_t *f, int cmd)
{
    atomic_fetch_or(&f->cmd, cmd);
    uv_async_send(&f->cmd_async);
}

static struct policy_server_stats get_stats(fix_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->stats_ready = false;
    send_cmd(f, CMD_STATS);
    while (!f->stats_ready)
        pthread_cond_wait(&f->cv, &f->mu);
    struct policy_server_stats st = f->stats;
    pthread_mutex_unlock(&f->mu);
    return st;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until pred(stats) holds (the server counts asynchronously), at most 5 s. */
#define WAIT_STATS(f, st, cond)                                                                    \
    do {                                                                                           \
        long until_ = now_ms() + CLIENT_TIMEOUT_MS;                                                \
        for (;;) {                                                                                 \
            st = get_stats(f);                                                                     \
            if ((cond) || now_ms() > until_) break;                                                \
            sleep_ms(5);                                                                           \
        }                                                                                          \
        assert_true(cond);                                                                         \
    } while (0)

static fix_t *fix_start_at(const policy_server_options_t *opt, const char *inet)
{
    fix_t *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    uv_async_init(&f->loop, &f->cmd_async, on_cmd);
    f->cmd_async.data = f;
    f->srv = policy_server_new(&f->loop, opt, handler, f);
    char err[256];
    if (policy_server_listen(f->srv, inet, err, sizeof err) != 0) fail_msg("%s", err);
    f->family = strchr(inet, '[') != NULL ? AF_INET6 : AF_INET;
    f->port = policy_server_port(f->srv);
    assert_true(f->port > 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/mbpolicy.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/policy", f->dir);
    char ep[160];
    snprintf(ep, sizeof ep, "unix:%s", f->path);
    if (policy_server_listen(f->srv, ep, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_thread, f), 0);
    f->running = true;
    return f;
}

static fix_t *fix_start(const policy_server_options_t *opt)
{
    return fix_start_at(opt, "inet:127.0.0.1:0");
}

/* Stops the server (free, unless drained already), joins the loop, checks nothing leaks. */
static void fix_stop(fix_t *f)
{
    if (f->running) {
        send_cmd(f, CMD_FREE);
        pthread_join(f->thread, NULL);
    }
    assert_int_equal(uv_loop_close(&f->loop), 0);
    unlink(f->path);
    rmdir(f->dir);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

/* --- the client side (main thread) ------------------------------------------------------ */

typedef struct client {
    int fd;
    size_t len;
    char buf[8192];
} client_t;

static void client_setup(client_t *c, int fd)
{
    struct timeval tv = {CLIENT_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    c->fd = fd;
    c->len = 0;
}

static int tcp_connect(client_t *c, int family, int port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        in6->sin6_addr = in6addr_loopback;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, sizeof ss) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    client_setup(c, fd);
    return 0;
}

static void tcp_open(client_t *c, fix_t *f)
{
    int r = tcp_connect(c, f->family, f->port);
    if (r != 0) fail_msg("connect: %s", strerror(-r));
}

static void unix_open(client_t *c, const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&un, sizeof un) != 0)
        fail_msg("connect %s: %s", path, strerror(errno));
    client_setup(c, fd);
}

static void client_close(client_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static void send_bytes(client_t *c, const void *p, size_t len)
{
    const char *b = p;
    while (len > 0) {
        ssize_t n = send(c->fd, b, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail_msg("send: %s", strerror(errno));
        b += n;
        len -= (size_t)n;
    }
}

static void send_str(client_t *c, const char *s)
{
    send_bytes(c, s, strlen(s));
}

/*
 * Reads one reply ("...\n\n") into out (NUL-terminated, without the final empty line).
 * Returns 1, 0 at EOF (or reset) before a whole reply, -1 on timeout.
 */
static int read_reply(client_t *c, char *out, size_t size)
{
    for (;;) {
        char *end = c->len >= 2 ? memmem(c->buf, c->len, "\n\n", 2) : NULL;
        if (end != NULL) {
            size_t rlen = (size_t)(end - c->buf) + 2;
            size_t copy = rlen - 2 < size ? rlen - 2 : size - 1;
            memcpy(out, c->buf, copy);
            out[copy] = '\0';
            memmove(c->buf, c->buf + rlen, c->len - rlen);
            c->len -= rlen;
            return 1;
        }
        if (c->len == sizeof c->buf) fail_msg("reply too long");
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return 0;
        if (n < 0) return -1;
        c->len += (size_t)n;
    }
}

static void expect_reply(client_t *c, const char *want)
{
    char got[1024];
    int r = read_reply(c, got, sizeof got);
    if (r != 1) fail_msg("want reply \"%s\", got %s", want, r == 0 ? "EOF" : "a timeout");
    if (strcmp(got, want) != 0) fail_msg("want reply \"%s\", got \"%s\"", want, got);
}

/* The server closed the connection (EOF or reset) without another byte. */
static void expect_closed(client_t *c)
{
    char got[1024];
    int r = read_reply(c, got, sizeof got);
    if (r == 1) fail_msg("want EOF, got reply \"%s\"", got);
    if (r < 0) fail_msg("want EOF, got a timeout");
    assert_int_equal(c->len, 0);
}

/* A request with a few real attributes and the test's own. */
static void request(str_t *s, const char *extra)
{
    str_appendz(s, "request=smtpd_access_policy\nprotocol_state=RCPT\n"
                   "protocol_name=ESMTP\nclient_address=192.0.2.1\n"
                   "client_name=mail.example.org\nhelo_name=mail.example.org\n"
                   "sender=a@example.org\nrecipient=b@example.net\n");
    str_appendz(s, extra);
    str_appendc(s, '\n');
}

static void send_request(client_t *c, const char *extra)
{
    str_t s = STR_INIT;
    request(&s, extra);
    send_bytes(c, s.data, s.len);
    str_free(&s);
}

/* --- the tests ---------------------------------------------------------------------- */

static void test_persistent_tcp(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    client_t c;
    tcp_open(&c, f);
    for (int i = 1; i <= 100; i++) {
        char extra[64], want[64];
        snprintf(extra, sizeof extra, "echo=r%d\n", i);
        snprintf(want, sizeof want, "action=OK r%d #%d", i, i);
        send_request(&c, extra);
        expect_reply(&c, want);
    }
    send_request(&c, ""); /* no echo attribute */
    expect_reply(&c, "action=DUNNO");
    struct policy_server_stats st = get_stats(f);
    assert_int_equal(st.requests, 101);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.bad_requests, 0);
    client_close(&c);
    WAIT_STATS(f, st, st.connections == 0);
    fix_stop(f);
}

static void test_unix_socket(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    struct stat sb;
    assert_int_equal(lstat(f->path, &sb), 0);
    assert_true(S_ISSOCK(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0666); /* Postfix's smtpd must connect */
    client_t c;
    unix_open(&c, f->path);
    for (int i = 1; i <= 5; i++) {
        char extra[64], want[64];
        snprintf(extra, sizeof extra, "echo=u%d\r\n", i);
        snprintf(want, sizeof want, "action=OK u%d #%d", i, i);
        send_request(&c, extra);
        expect_reply(&c, want);
    }
    client_close(&c);
    fix_stop(f);
}

static void test_unix_stale_and_busy(void **state)
{
    (void)state;
    char dir[] = "/tmp/mbpolicy.XXXXXX", path[64], ep[160], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sock", dir);
    snprintf(ep, sizeof ep, "unix:%s", path);
    /* a stale socket file: bound, never listening, closed */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof un), 0);
    close(fd);

    uv_loop_t loop;
    uv_loop_init(&loop);
    policy_server_t *s = policy_server_new(&loop, NULL, handler, NULL);
    assert_int_equal(policy_server_listen(s, ep, err, sizeof err), 0);
    /* a second server must not steal a live socket */
    policy_server_t *s2 = policy_server_new(&loop, NULL, handler, NULL);
    assert_int_equal(policy_server_listen(s2, ep, err, sizeof err), -1);
    assert_non_null(strstr(err, "another server"));
    policy_server_free(s2);
    policy_server_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* the socket file goes with its server */
    assert_int_equal(access(path, F_OK), -1);
    /* a regular file is never removed */
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    uv_loop_init(&loop);
    s = policy_server_new(&loop, NULL, handler, NULL);
    assert_int_equal(policy_server_listen(s, ep, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a socket"));
    policy_server_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
    rmdir(dir);
}

static void test_listen_errors(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "tcp:127.0.0.1:10040",
        "inet:127.0.0.1",
        "inet:127.0.0.1:",
        "inet:127.0.0.1:65536",
        "inet:127.0.0.1:10x",
        "inet:127.0.0.1:123456",
        "inet:::1:10040",
        "inet:[::1:10040",
        "inet:[::1]10040",
        "inet:mail.example.org:10040",
        "inet:256.0.0.1:10040",
        "inet:192.0.2.1:10040", /* not an address of this host */
        "unix:",
        "unix:/nonexistent-dir/x/policy",
        ("unix:/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    };
    uv_loop_t loop;
    uv_loop_init(&loop);
    policy_server_t *s = policy_server_new(&loop, NULL, handler, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        if (policy_server_listen(s, bad[i], err, sizeof err) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(policy_server_port(s), -1);
    char err[256];
    assert_int_equal(policy_server_listen(s, "inet:localhost:0", err, sizeof err), 0);
    assert_true(policy_server_port(s) > 0);
    policy_server_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_ipv6(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    policy_server_t *s = policy_server_new(&loop, NULL, handler, NULL);
    char err[256];
    if (policy_server_listen(s, "inet:[::1]:0", err, sizeof err) != 0) {
        policy_server_free(s);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        skip(); /* no IPv6 loopback here */
    }
    int port = policy_server_port(s);
    policy_server_free(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_true(port > 0);

    /* and serve over it */
    fix_t *f = fix_start_at(NULL, "inet:[::1]:0");
    client_t c;
    tcp_open(&c, f);
    send_request(&c, "echo=six\n");
    expect_reply(&c, "action=OK six #1");
    send_str(&c, "bad line\n");
    expect_closed(&c);
    client_close(&c);
    fix_stop(f);
}

static void test_split_writes(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    client_t c;
    tcp_open(&c, f);
    str_t s = STR_INIT;
    request(&s, "echo=slow\r\n");
    /* one byte per segment */
    for (size_t i = 0; i < s.len; i++) {
        send_bytes(&c, s.data + i, 1);
        if (i % 8 == 0) sleep_ms(1);
    }
    expect_reply(&c, "action=OK slow #1");
    /* two requests split into two writes at every boundary */
    str_t two = STR_INIT;
    request(&two, "echo=a\n");
    request(&two, "echo=b\n");
    unsigned n = 1;
    for (size_t k = 1; k < two.len; k += 3) {
        char wa[64], wb[64];
        send_bytes(&c, two.data, k);
        sleep_ms(k % 16 == 1 ? 2 : 0);
        send_bytes(&c, two.data + k, two.len - k);
        snprintf(wa, sizeof wa, "action=OK a #%u", ++n);
        snprintf(wb, sizeof wb, "action=OK b #%u", ++n);
        expect_reply(&c, wa);
        expect_reply(&c, wb);
    }
    struct policy_server_stats st = get_stats(f);
    assert_int_equal(st.bad_requests, 0);
    assert_int_equal(st.requests, n);
    str_free(&s);
    str_free(&two);
    client_close(&c);
    fix_stop(f);
}

typedef struct writer_job {
    client_t *c;
    const str_t *s;
} writer_job_t;

static void *writer_thread(void *arg)
{
    writer_job_t *j = arg;
    const char *p = j->s->data;
    size_t left = j->s->len;
    while (left > 0) {
        ssize_t n = send(j->c->fd, p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n;
        left -= (size_t)n;
    }
    return NULL;
}

/* Requests pipelined in one write, some answered later: replies come in order. */
static void test_pipelined(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    client_t c;
    tcp_open(&c, f);
    str_t s = STR_INIT;
    for (int i = 1; i <= 20; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, "echo=p%d\n%s", i,
                 i % 3 == 0   ? "delay=20\n"
                 : i % 5 == 0 ? "delay=0\n"
                              : "");
        request(&s, extra);
    }
    send_bytes(&c, s.data, s.len);
    for (int i = 1; i <= 20; i++) {
        char want[64];
        snprintf(want, sizeof want, "action=OK p%d #%d", i, i);
        expect_reply(&c, want);
    }
    /* a burst larger than the server's 64 KiB read buffer, with delayed ones in it; a
     * writer thread, so that neither side blocks on a full socket buffer */
    str_clear(&s);
    const int burst = 3000;
    for (int i = 1; i <= burst; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, "echo=q%d\n%s", i, i % 1000 == 0 ? "delay=30\n" : "");
        request(&s, extra);
    }
    assert_true(s.len > 3 * 65536);
    writer_job_t job = {&c, &s};
    pthread_t w;
    pthread_create(&w, NULL, writer_thread, &job);
    for (int i = 1; i <= burst; i++) {
        char want[64];
        snprintf(want, sizeof want, "action=OK q%d #%d", i, 20 + i);
        expect_reply(&c, want);
    }
    pthread_join(w, NULL);
    struct policy_server_stats st = get_stats(f);
    assert_int_equal(st.requests, 20 + burst);
    assert_int_equal(st.bad_requests, 0);
    str_free(&s);
    client_close(&c);
    fix_stop(f);
}

/* Each kind of bad input closes its connection; another connection goes on meanwhile. */
static void test_junk_closes_only_that_connection(void **state)
{
    (void)state;
    str_t big = STR_INIT, many = STR_INIT, longline = STR_INIT;
    for (int i = 0; i < 12; i++) {
        str_appendf(&big, "filler%d=", i);
        for (int k = 0; k < 3000; k++)
            str_appendc(&big, 'x');
        str_appendc(&big, '\n');
    }
    for (int i = 0; i <= POLICY_ATTR_MAX; i++)
        str_appendf(&many, "a%d=%d\n", i, i);
    str_appendc(&many, '\n');
    str_appendz(&longline, "sender=");
    for (int k = 0; k < POLICY_LINE_MAX + 10; k++)
        str_appendc(&longline, 'y');
    struct {
        const char *label;
        const char *data;
        size_t len;
        const char *why;
    } junk[] = {
        {"tls hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11,
         "bad byte in attribute name"},
        {"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, "bad byte in attribute name"},
        {"no '='", "request\n\n", 0, "line without '='"},
        {"nul in name", "request=x\nsen\0der=a\n\n", 21, "NUL byte in attribute name"},
        {"nul in value", "request=x\nsender=a\0b\n\n", 22, "NUL byte in attribute value"},
        {"empty request", "\n", 0, "empty request"},
        {"too many attributes", many.data, many.len, "too many attributes"},
        {"line too long", longline.data, longline.len, "line too long"},
        {"request too large", big.data, big.len, "request too large"},
    };
    size_t njunk = sizeof junk / sizeof junk[0];

    /* capture the log */
    char logpath[] = "/tmp/mbpolicy-log.XXXXXX";
    int logfd = mkstemp(logpath);
    assert_true(logfd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(logfd, 2);

    fix_t *f = fix_start(NULL);
    client_t good;
    tcp_open(&good, f);
    send_request(&good, "echo=first\n");
    expect_reply(&good, "action=OK first #1");
    for (size_t i = 0; i < njunk; i++) {
        client_t bad;
        if (i % 2 == 0)
            tcp_open(&bad, f);
        else
            unix_open(&bad, f->path);
        send_request(&bad, "echo=ok\n"); /* a good request first */
        expect_reply(&bad, "action=OK ok #1");
        send_bytes(&bad, junk[i].data, junk[i].len ? junk[i].len : strlen(junk[i].data));
        expect_closed(&bad);
        client_close(&bad);
        /* the other connection is unaffected */
        char extra[64], want[64];
        snprintf(extra, sizeof extra, "echo=g%zu\n", i);
        snprintf(want, sizeof want, "action=OK g%zu #%zu", i, i + 2);
        send_request(&good, extra);
        expect_reply(&good, want);
    }
    struct policy_server_stats st;
    WAIT_STATS(f, st, st.connections == 1);
    assert_int_equal(st.bad_requests, njunk);
    assert_int_equal(st.requests, 1 + njunk + njunk);
    client_close(&good);
    fix_stop(f);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    /* one sanitised warning line per bad connection, naming peer, reason and bytes */
    FILE *lf = fdopen(logfd, "r");
    rewind(lf);
    char line[4096];
    size_t warnings = 0;
    while (fgets(line, sizeof line, lf) != NULL) {
        for (const char *p = line; *p != '\0' && *p != '\n'; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                fail_msg("raw byte 0x%02x in log line: %s", (unsigned char)*p, line);
        assert_true(strlen(line) < 400);
        if (strstr(line, "warning: policy: bad request from ") == NULL) continue;
        assert_non_null(strstr(line, junk[warnings].why));
        assert_non_null(strstr(line, warnings % 2 == 0 ? "from 127.0.0.1:" : "from unix"));
        warnings++;
    }
    fclose(lf);
    unlink(logpath);
    assert_int_equal(warnings, njunk);
    str_free(&big);
    str_free(&many);
    str_free(&longline);
}

static void test_client_closes_mid_request(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    client_t good, bad;
    tcp_open(&good, f);
    tcp_open(&bad, f);
    send_request(&bad, "echo=x\n");
    expect_reply(&bad, "action=OK x #1");
    send_str(&bad, "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b");
    sleep_ms(20);
    client_close(&bad);
    struct policy_server_stats st;
    WAIT_STATS(f, st, st.aborted == 1 && st.connections == 1);
    assert_int_equal(st.bad_requests, 0);
    send_request(&good, "echo=y\n");
    expect_reply(&good, "action=OK y #1");
    /* reset (RST) mid-request */
    tcp_open(&bad, f);
    send_str(&bad, "request=smtpd_access_policy\n");
    sleep_ms(20);
    struct linger lg = {1, 0};
    setsockopt(bad.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close(&bad);
    WAIT_STATS(f, st, st.aborted == 2 && st.connections == 1);
    client_close(&good);
    fix_stop(f);
}

/* The handler replies after the client left: the reply is dropped, nothing leaks. */
static void test_reply_to_closed_connection(void **state)
{
    (void)state;
    int made = atomic_load(&data_made), freed = atomic_load(&data_freed);
    fix_t *f = fix_start(NULL);
    for (int i = 0; i < 5; i++) {
        client_t c;
        tcp_open(&c, f);
        send_request(&c, "echo=late\ndelay=100\n");
        sleep_ms(10);
        client_close(&c);
    }
    struct policy_server_stats st;
    /* the connections stay open until the replies (their reading is paused) */
    sleep_ms(250);
    WAIT_STATS(f, st, st.connections == 0);
    client_t c;
    tcp_open(&c, f);
    send_request(&c, "echo=alive\n");
    expect_reply(&c, "action=OK alive #1");
    client_close(&c);
    /* and when the server goes first */
    tcp_open(&c, f);
    send_request(&c, "echo=never\ndelay=200\n");
    sleep_ms(20);
    fix_stop(f); /* frees the server with the reply pending; the loop runs until it comes */
    client_close(&c);
    assert_int_equal(atomic_load(&data_made) - made, atomic_load(&data_freed) - freed);
}

/* A client that half-closes after its request (printf ... | nc -N) still gets the reply. */
static void test_half_close(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    for (int delayed = 0; delayed < 2; delayed++) {
        client_t c;
        tcp_open(&c, f);
        send_request(&c, delayed ? "echo=h\ndelay=30\n" : "echo=h\n");
        shutdown(c.fd, SHUT_WR);
        expect_reply(&c, "action=OK h #1");
        expect_closed(&c);
        client_close(&c);
    }
    fix_stop(f);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    policy_server_options_t opt = {.idle_timeout_ms = 300};
    fix_t *f = fix_start(&opt);
    client_t idle, active, partial;
    tcp_open(&idle, f);
    tcp_open(&active, f);
    unix_open(&partial, f->path);
    send_str(&partial, "request=smtpd_access_policy\n");
    long t0 = now_ms();
    for (int i = 1; i <= 8; i++) {
        char extra[64], want[64];
        snprintf(extra, sizeof extra, "echo=t%d\n", i);
        snprintf(want, sizeof want, "action=OK t%d #%d", i, i);
        send_request(&active, extra);
        expect_reply(&active, want);
        sleep_ms(60);
    }
    /* 480 ms and more have passed: the idle ones are gone, the active one is not */
    expect_closed(&idle);
    expect_closed(&partial);
    assert_true(now_ms() - t0 >= 250);
    send_request(&active, "echo=still\n");
    expect_reply(&active, "action=OK still #9");
    long t1 = now_ms();
    expect_closed(&active);
    long waited = now_ms() - t1;
    assert_true(waited >= 250 && waited < 3000);
    struct policy_server_stats st;
    WAIT_STATS(f, st, st.connections == 0);
    assert_int_equal(st.timed_out, 3);
    assert_int_equal(st.aborted, 1);
    client_close(&idle);
    client_close(&active);
    client_close(&partial);
    fix_stop(f);
}

static void test_max_connections(void **state)
{
    (void)state;
    policy_server_options_t opt = {.max_connections = 2};
    fix_t *f = fix_start(&opt);
    client_t a, b, c;
    tcp_open(&a, f);
    unix_open(&b, f->path);
    send_request(&a, "echo=a\n");
    expect_reply(&a, "action=OK a #1");
    send_request(&b, "echo=b\n");
    expect_reply(&b, "action=OK b #1");
    tcp_open(&c, f); /* the kernel accepts; the server closes it at once */
    expect_closed(&c);
    client_close(&c);
    struct policy_server_stats st;
    WAIT_STATS(f, st, st.refused == 1 && st.connections == 2);
    client_close(&a);
    WAIT_STATS(f, st, st.connections == 1);
    tcp_open(&c, f);
    send_request(&c, "echo=c\n");
    expect_reply(&c, "action=OK c #1");
    client_close(&b);
    client_close(&c);
    fix_stop(f);
}

static void test_drain(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    client_t idle, busy, partial, piped;
    tcp_open(&idle, f);
    unix_open(&busy, f->path);
    tcp_open(&partial, f);
    tcp_open(&piped, f);
    send_request(&idle, "echo=i\n");
    expect_reply(&idle, "action=OK i #1");
    send_request(&busy, "echo=b\ndelay=1000\n");
    send_str(&partial, "request=smtpd_access_policy\n");
    /* a request in flight with another pipelined behind it: only the first is answered */
    str_t s = STR_INIT;
    request(&s, "echo=p1\ndelay=200\n");
    request(&s, "echo=p2\n");
    send_bytes(&piped, s.data, s.len);
    str_free(&s);
    sleep_ms(50);

    long t0 = now_ms();
    send_cmd(f, CMD_DRAIN);
    expect_closed(&idle); /* at once, long before the busy reply */
    expect_closed(&partial);
    assert_true(now_ms() - t0 < 800);
    /* no new connections */
    sleep_ms(20);
    client_t late;
    assert_true(tcp_connect(&late, f->family, f->port) < 0);
    assert_int_equal(access(f->path, F_OK), -1);
    /* the requests in flight get their replies, then the connections close */
    expect_reply(&piped, "action=OK p1 #1");
    expect_closed(&piped);
    expect_reply(&busy, "action=OK b #1");
    expect_closed(&busy);
    assert_true(now_ms() - t0 >= 900);
    /* done() ran: it freed the server and the loop thread ends */
    pthread_join(f->thread, NULL);
    f->running = false;
    assert_int_equal(atomic_load(&f->drained), 1);
    client_close(&idle);
    client_close(&busy);
    client_close(&partial);
    client_close(&piped);
    fix_stop(f);
}

/* Replies that do not fit into the socket buffer go out through uv_write, and the
 * server stops reading meanwhile. */
static void test_long_reply_and_slow_reader(void **state)
{
    (void)state;
    fix_t *f = fix_start(NULL);
    client_t c;
    unix_open(&c, f->path); /* no TCP window: the server's writes simply fill up */
    str_t s = STR_INIT, echo = STR_INIT;
    str_appendz(&echo, "echo=");
    for (int i = 0; i < 490; i++)
        str_appendc(&echo, (char)('a' + i % 26));
    str_appendc(&echo, '\n');
    for (int i = 0; i < 2000; i++)
        request(&s, echo.data);
    writer_job_t job = {&c, &s};
    pthread_t w;
    pthread_create(&w, NULL, writer_thread, &job);
    sleep_ms(100); /* let replies pile up in the server */
    for (int i = 1; i <= 2000; i++) {
        char got[1024];
        assert_int_equal(read_reply(&c, got, sizeof got), 1);
        char want[32];
        snprintf(want, sizeof want, " #%d", i);
        assert_non_null(strstr(got, want));
    }
    pthread_join(w, NULL);
    str_free(&s);
    str_free(&echo);
    client_close(&c);
    fix_stop(f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_persistent_tcp),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_unix_stale_and_busy),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_split_writes),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_junk_closes_only_that_connection),
        cmocka_unit_test(test_client_closes_mid_request),
        cmocka_unit_test(test_reply_to_closed_connection),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_long_reply_and_slow_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
