/*
 * bench/spf_bench.c: SPF evaluations per second of mailblock's evaluator (src/auth/spf.h) with
 * a warm cache (issue 3). Reads queries "IP SENDER [HELO]" one a line, creates a dns_resolver
 * (forwarders, forward zones or zone files), evaluates every query once to warm the cache
 * (printing "IP SENDER RESULT" per query for comparison), then evaluates the queries round
 * robin for -d seconds (or exactly -n evaluations) and prints evaluations/s. A cached
 * evaluation completes inside spf_check_start(); any that does not is counted as "waited"
 * (the loop is then run). -n makes the run a fixed amount of work, so that the whole process
 * can be timed from outside against another evaluator doing the same number of evaluations.
 *
 *   spf_bench -f QUERIES [-d SECS | -n EVALS] [-F IP[:PORT]]... [-Z ZONE=IP[:PORT]]...
 *             [-z FILE]... [-r OUT]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "auth/spf.h"
#include "dns/dns.h"
#include "util/ipaddr.h"
#include "util/log.h"

typedef struct q {
    ipaddr_t ip;
    char *ipstr, *sender, *helo;
} q_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static spf_result_t run_one(uv_loop_t *loop, dns_resolver_t *dns, const q_t *q, unsigned long *waited)
{
    spf_request_t req = {.ip = q->ip, .sender = q->sender, .helo = q->helo};
    spf_check_t *c = spf_check_start(dns, &req, NULL, NULL);
    if (!spf_check_done(c)) {
        (*waited)++;
        while (!spf_check_done(c))
            if (uv_run(loop, UV_RUN_ONCE) == 0 && !spf_check_done(c)) {
                fprintf(stderr, "spf_bench: evaluation stuck\n");
                exit(1);
            }
    }
    spf_result_t r = spf_check_result(c);
    spf_check_free(c);
    return r;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *out = NULL;
    double secs = 5;
    unsigned long evals = 0; /* -n: a fixed number of measured evaluations (0: use -d) */
    const char *fw[16], *fz[16], *zf[64];
    size_t nfw = 0, nfz = 0, nzf = 0;
    int opt;
    while ((opt = getopt(argc, argv, "f:d:n:F:Z:z:r:h")) != -1) {
        switch (opt) {
        case 'f': file = optarg; break;
        case 'd': secs = atof(optarg); break;
        case 'n': evals = strtoul(optarg, NULL, 10); break;
        case 'F': if (nfw < 16) fw[nfw++] = optarg; break;
        case 'Z': if (nfz < 16) fz[nfz++] = optarg; break;
        case 'z': if (nzf < 64) zf[nzf++] = optarg; break;
        case 'r': out = optarg; break;
        default:
            fprintf(stderr, "usage: spf_bench -f QUERIES [-d SECS | -n EVALS] [-F IP[:PORT]]... "
                            "[-Z ZONE=IP[:PORT]]... [-z ZONEFILE]... [-r RESULTS]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "spf_bench: -f QUERIES is required\n");
        return 2;
    }
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return 2;
    }
    q_t *qs = NULL;
    size_t nq = 0, cap = 0;
    char line[2048];
    while (fgets(line, sizeof line, f) != NULL) {
        char *save, *ip = strtok_r(line, " \t\r\n", &save);
        if (ip == NULL || ip[0] == '#')
            continue;
        char *s = strtok_r(NULL, " \t\r\n", &save), *h = strtok_r(NULL, " \t\r\n", &save);
        if (nq == cap) {
            cap = cap ? cap * 2 : 64;
            qs = realloc(qs, cap * sizeof *qs);
            if (qs == NULL)
                abort();
        }
        if (ipaddr_parsez(&qs[nq].ip, ip) != 0) {
            fprintf(stderr, "spf_bench: bad address %s\n", ip);
            return 2;
        }
        qs[nq].ipstr = strdup(ip);
        qs[nq].sender = strdup(s ? s : "");
        qs[nq].helo = strdup(h ? h : "");
        nq++;
    }
    fclose(f);
    if (nq == 0) {
        fprintf(stderr, "spf_bench: no queries\n");
        return 2;
    }

    log_set_level(LOG_LVL_ERR);
    uv_loop_t loop;
    uv_loop_init(&loop);
    dns_options_t o = {.forwarders = fw, .nforwarders = nfw, .forward_zones = fz,
                       .nforward_zones = nfz, .zone_files = zf, .nzone_files = nzf,
                       .timeout_ms = 2000};
    char err[512];
    dns_resolver_t *dns = dns_resolver_new(&loop, &o, err, sizeof err);
    if (dns == NULL) {
        fprintf(stderr, "spf_bench: %s\n", err);
        return 1;
    }

    /* warm-up: every query once, results written out */
    unsigned long waited = 0;
    FILE *ro = out ? fopen(out, "w") : NULL;
    double w0 = now();
    for (size_t i = 0; i < nq; i++) {
        spf_result_t r = run_one(&loop, dns, &qs[i], &waited);
        if (ro)
            fprintf(ro, "%s %s %s\n", qs[i].ipstr, qs[i].sender, spf_result_name(r));
    }
    if (ro)
        fclose(ro);
    double w1 = now();
    fprintf(stderr, "warm-up: %zu queries in %.3f s, %lu waited for DNS\n", nq, w1 - w0, waited);

    /* measured: round robin until secs have passed (the clock read every 256 evaluations),
     * or exactly evals evaluations */
    waited = 0;
    unsigned long n = 0;
    double t0 = now(), c0 = cpu(), t1;
    for (;;) {
        for (int k = 0; k < 256 && (evals == 0 || n < evals); k++) {
            run_one(&loop, dns, &qs[n % nq], &waited);
            n++;
        }
        t1 = now();
        if (evals != 0 ? n >= evals : t1 - t0 >= secs)
            break;
    }
    double c1 = cpu();
    printf("mailblock: %lu evaluations in %.3f s: %.0f evaluations/s (%.2f us CPU each), "
           "%lu waited for DNS\n",
           n, t1 - t0, n / (t1 - t0), (c1 - c0) * 1e6 / n, waited);

    dns_resolver_free(dns);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    for (size_t i = 0; i < nq; i++) {
        free(qs[i].ipstr);
        free(qs[i].sender);
        free(qs[i].helo);
    }
    free(qs);
    return 0;
}
