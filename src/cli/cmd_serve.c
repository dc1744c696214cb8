/*
 * cmd_serve: `mailblock serve`: the gate in the foreground. Binds every policy_listen
 * endpoint, then drops to `user` when started as root, then serves until SIGTERM/SIGINT
 * (drain: requests in flight are answered, then exit 0). SIGHUP re-reads the configuration;
 * a configuration that does not load is refused with its error and the old one stays.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "gate/gate.h"
#include "util/log.h"

typedef struct serve {
    uv_loop_t *loop;
    gate_t *gate;
    cli_common_t opts;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t flush; /* writes the buffered log every LOG_FLUSH_MS */
    bool draining;
} serve_t;

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

/* How long a decision line may wait in the log buffer (it is also written when the buffer
 * fills). Writing once per loop iteration instead cost a write(2) for every few decisions. */
#define LOG_FLUSH_MS 100

static void on_flush(uv_timer_t *h)
{
    (void)h;
    log_flush();
}

static void drained(void *arg)
{
    serve_t *s = arg;
    msg_info("stopped: every request answered");
    uv_close((uv_handle_t *)&s->flush, close_cb);
    uv_close((uv_handle_t *)&s->sigterm, close_cb);
    uv_close((uv_handle_t *)&s->sigint, close_cb);
    uv_close((uv_handle_t *)&s->sighup, close_cb);
}

static bool cfg_syslog(const config_t *c)
{
    return c->log_syslog;
}

static void on_stop(uv_signal_t *h, int signum)
{
    serve_t *s = h->data;
    if (s->draining)
        return;
    s->draining = true;
    msg_info("%s: stopping; draining connections", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    gate_drain(s->gate, drained, s);
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    serve_t *s = h->data;
    char err[512];
    config_t *cfg = cli_load_config(&s->opts, err, sizeof err);
    if (cfg == NULL) {
        msg_warn("SIGHUP: %s; keeping the old configuration", err);
        return;
    }
    const config_t *old = gate_config(s->gate);
    bool listen_changed = cfg->npolicy_listen != old->npolicy_listen;
    for (size_t i = 0; !listen_changed && i < cfg->npolicy_listen; i++)
        listen_changed = strcmp(cfg->policy_listen[i], old->policy_listen[i]) != 0;
    if (gate_reload(s->gate, cfg, err, sizeof err) != 0) {
        msg_warn("SIGHUP: %s; keeping the old configuration", err);
        config_free(cfg);
        return;
    }
    if (listen_changed)
        msg_warn("SIGHUP: policy_listen changed; a restart is needed to listen elsewhere");
    msg_info("SIGHUP: configuration reloaded");
}

static int drop_privileges(const char *user)
{
    if (geteuid() != 0 || user == NULL)
        return 0;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        msg_error("user \"%s\": no such user", user);
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        msg_error("cannot drop privileges to %s: %s", user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        msg_error("privileges could be regained after dropping to %s", user);
        return -1;
    }
    msg_info("running as %s (uid %u)", user, (unsigned)pw->pw_uid);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    serve_t s;
    memset(&s, 0, sizeof s);
    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&s.opts, argc, argv, &i);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--help")) {
            printf("usage: mailblock serve [-c FILE] [-o KEY=VALUE]... [--zone FILE]...\n");
            return 0;
        }
        fprintf(stderr, "mailblock serve: unexpected argument \"%.60s\"\n", argv[i]);
        return EXIT_USAGE;
    }
    char err[512];
    config_t *cfg = cli_load_config(&s.opts, err, sizeof err);
    if (cfg == NULL) {
        msg_error("%s", err);
        cli_common_free(&s.opts);
        return EXIT_USAGE;
    }
    if (cfg->log_syslog)
        log_open("mailblock", true);
    signal(SIGPIPE, SIG_IGN);
    s.loop = uv_default_loop();
    const char *user = cfg->user != NULL ? cfg->user : NULL;
    char user_copy[256] = "";
    if (user != NULL)
        snprintf(user_copy, sizeof user_copy, "%s", user);
    s.gate = gate_new(s.loop, cfg, err, sizeof err);
    if (s.gate == NULL) {
        msg_error("%s", err);
        config_free(cfg);
        cli_common_free(&s.opts);
        return EXIT_UNAVAILABLE;
    }
    if (gate_listen(s.gate, err, sizeof err) != 0) {
        msg_error("%s", err);
        gate_free(s.gate);
        cli_common_free(&s.opts);
        return EXIT_UNAVAILABLE;
    }
    if (drop_privileges(user_copy[0] ? user_copy : NULL) != 0) {
        gate_free(s.gate);
        cli_common_free(&s.opts);
        return EXIT_UNAVAILABLE;
    }
    uv_signal_init(s.loop, &s.sigterm);
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sighup);
    s.sigterm.data = s.sigint.data = s.sighup.data = &s;
    uv_signal_start(&s.sigterm, on_stop, SIGTERM);
    uv_signal_start(&s.sigint, on_stop, SIGINT);
    uv_signal_start(&s.sighup, on_hup, SIGHUP);
    if (!cfg_syslog(gate_config(s.gate))) {
        uv_timer_init(s.loop, &s.flush);
        uv_timer_start(&s.flush, on_flush, LOG_FLUSH_MS, LOG_FLUSH_MS);
        uv_unref((uv_handle_t *)&s.flush); /* the timer alone does not keep the server up */
        log_set_buffered(true);
    } else {
        uv_timer_init(s.loop, &s.flush);
    }
    const config_t *c = gate_config(s.gate);
    for (size_t i = 0; i < c->npolicy_listen; i++)
        msg_info("listening on %s%s", c->policy_listen[i], c->dry_run ? " (dry run)" : "");
    if (gate_port(s.gate) >= 0)
        msg_info("policy port %d", gate_port(s.gate));
    uv_run(s.loop, UV_RUN_DEFAULT);
    log_set_buffered(false);
    gate_free(s.gate);
    uv_run(s.loop, UV_RUN_DEFAULT); /* let closed handles finish */
    uv_loop_close(s.loop);
    cli_common_free(&s.opts);
    return 0;
}
