/*
 * test_spf_diff: differential tests of the SPF evaluator against pyspf (python3-spf, the
 * reference implementation), issue 3.
 *
 * tests/suites/spf_diff_gen.py (run with /usr/bin/python3, fixed seed) makes random worlds of
 * DNS data and queries, and evaluates each query with pyspf over the world's data; it writes
 * them to a case file in the build tree (MB_BUILD_DIR/Testing/Temporary/spf_diff_cases.PID.txt,
 * generated at test time, never committed, removed unless a test failed). Here each world becomes
 * RFC 1035 zone files loaded into the real resolver (dns_options_t.zone_files; every other name
 * goes to a loopback forwarder that answers NXDOMAIN; a world's "timeout" names are forward
 * zones to a loopback socket that never answers), and every query of the world runs through
 * spf_check_start() on the loop, all of a world's queries at once. The loopback DNS and the
 * zone-file writer follow tests/unit/test_spf_suite.c.
 *
 * A case agrees when mailblock's result is pyspf's. A case where they differ is explained
 * only when the generator found that pyspf, made to follow mailblock in one or more documented
 * categories (a choice the RFC leaves open, or the RFC where pyspf is wrong; see
 * docs/SPF-DIFFERENCES.md and the table below), gives mailblock's result: the case carries
 * "CATEGORY=RESULT" and the difference is counted under that category. Any other difference
 * fails the world's test, with the query, both results and mailblock's trace.
 *
 * Usage: test_spf_diff [SEED [WORLDS [QUERIES]]] (default 1 120 100: 12,000 cases, of which at
 * least 10,000 must agree). MB_SPF_DIFF_VERBOSE=1 prints every case. Skipped, saying so, when
 * /usr/bin/python3 or its spf module is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/spf.h"
#include "fake_dns.h"
#include "dns/dns.h"

#define MAX_FIELDS 64
#define PYTHON "/usr/bin/python3"
#define MIN_CASES 10000
#define TIMEOUT_MS 400 /* the resolver's timeout: names of a world's "timeout" lines */

/* The categories of documented differences; the generator names them the same way. */
static const struct category {
    const char *name;
    const char *doc; /* the section of docs/SPF-DIFFERENCES.md and the RFC section */
} categories[] = {
    {"void-addr", "void lookups counted per term, not for MX/PTR address lookups (RFC 7208 "
                  "4.6.4)"},
    {"exp-eager", "pyspf expands exp= before evaluating and counts %{p}'s PTR lookup as a "
                  "void lookup (RFC 7208 6.2, 4.6.4)"},
    {"self-include", "pyspf rejects a record including its own domain even when an earlier "
                     "mechanism decides (RFC 7208 4.6, 5.2, 4.6.4)"},
    {"redirect-eager", "pyspf counts redirect= towards the 10 DNS-querying terms even when it "
                       "is not followed (RFC 7208 4.6.4, 6.1)"},
    {"upper-r", "pyspf ignores a macro's transformers written with an upper-case R (RFC 7208 "
                "7.1, RFC 5234 2.3)"},
    {"upper-mod", "pyspf takes REDIRECT= and EXP= in upper case for unknown modifiers (RFC 7208 "
                  "12, RFC 5234 2.3)"},
};
#define NCATEGORIES (sizeof categories / sizeof categories[0])

typedef struct rr {
    char *owner;  /* lower case, no trailing dot */
    char type[8]; /* A AAAA MX PTR TXT */
    char *value;  /* A, AAAA: text; MX: exchange; PTR: target */
    int pref;
    char **strs; /* TXT: character-strings */
    size_t *lens;
    size_t nstrs;
} rr_t;

typedef struct tcase {
    char *ip, *sender, *helo;
    char *expected; /* pyspf's result */
    char *alts;     /* "-" or CATEGORY=RESULT,... */
} tcase_t;

typedef struct world {
    int index;
    rr_t *rr;
    size_t nrr;
    tcase_t *cases;
    size_t ncases;
    char **slow; /* names at and under which every query times out */
    size_t nslow;
    char name[32];
} world_t;

static world_t *worlds;
static size_t nworlds;
static size_t ncases_total;

static char tmpdir[64];
static uv_loop_t loop;
static fake_dns_t fdns; /* the NXDOMAIN forwarder and the silent socket */
static const char *skip_reason;

/* tallies over the run */
static size_t n_run, n_agree, n_unexplained;

static void *xrealloc_t(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) abort();
    return q;
}

static char *xstrdup_t(const char *s)
{
    char *d = strdup(s);
    if (d == NULL) abort();
    return d;
}

static char *unhex(const char *h, size_t *len)
{
    size_t n = strcmp(h, ".") == 0 ? 0 : strlen(h) / 2;
    char *out = malloc(n + 1);
    if (out == NULL) abort();
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) v = 0;
        out[i] = (char)v;
    }
    out[n] = '\0';
    if (len != NULL) *len = n;
    return out;
}

static char *lower_name(char *s)
{
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '.') s[n - 1] = '\0';
    for (char *p = s; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return s;
}

static int split(char *line, char **f)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, "\t\n", &save); t != NULL && n < MAX_FIELDS;
         t = strtok_r(NULL, "\t\n", &save))
        f[n++] = t;
    return n;
}

static int load_lines(FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, in) > 0) {
        char *f[MAX_FIELDS];
        int n = split(line, f);
        if (n == 0) continue;
        world_t *w = nworlds > 0 ? &worlds[nworlds - 1] : NULL;
        if (strcmp(f[0], "world") == 0 && n == 2) {
            worlds = xrealloc_t(worlds, (nworlds + 1) * sizeof *worlds);
            w = &worlds[nworlds++];
            memset(w, 0, sizeof *w);
            w->index = atoi(f[1]);
            snprintf(w->name, sizeof w->name, "world %d", w->index);
        } else if (strcmp(f[0], "timeout") == 0 && n == 2 && w != NULL) {
            w->slow = xrealloc_t(w->slow, (w->nslow + 1) * sizeof *w->slow);
            w->slow[w->nslow++] = lower_name(unhex(f[1], NULL));
        } else if (strcmp(f[0], "rr") == 0 && n >= 4 && w != NULL) {
            w->rr = xrealloc_t(w->rr, (w->nrr + 1) * sizeof *w->rr);
            rr_t *r = &w->rr[w->nrr++];
            memset(r, 0, sizeof *r);
            r->owner = lower_name(unhex(f[1], NULL));
            snprintf(r->type, sizeof r->type, "%s", f[2]);
            if ((!strcmp(f[2], "A") || !strcmp(f[2], "AAAA")) && n == 4) {
                r->value = xstrdup_t(f[3]);
            } else if (!strcmp(f[2], "MX") && n == 5) {
                r->pref = atoi(f[3]);
                r->value = lower_name(unhex(f[4], NULL));
            } else if (!strcmp(f[2], "PTR") && n == 4) {
                r->value = lower_name(unhex(f[3], NULL));
            } else if (!strcmp(f[2], "TXT") && n >= 4) {
                r->nstrs = (size_t)atoi(f[3]);
                if ((int)r->nstrs != n - 4) {
                    rc = -1;
                    break;
                }
                r->strs = calloc(r->nstrs + 1, sizeof *r->strs);
                r->lens = calloc(r->nstrs + 1, sizeof *r->lens);
                if (r->strs == NULL || r->lens == NULL) abort();
                for (size_t i = 0; i < r->nstrs; i++)
                    r->strs[i] = unhex(f[4 + i], &r->lens[i]);
            } else {
                rc = -1;
            }
        } else if (strcmp(f[0], "case") == 0 && n == 6 && w != NULL) {
            w->cases = xrealloc_t(w->cases, (w->ncases + 1) * sizeof *w->cases);
            tcase_t *t = &w->cases[w->ncases++];
            t->ip = xstrdup_t(f[1]);
            t->sender = unhex(f[2], NULL);
            t->helo = unhex(f[3], NULL);
            t->expected = xstrdup_t(f[4]);
            t->alts = xstrdup_t(f[5]);
            ncases_total++;
        } else {
            rc = -1;
        }
    }
    free(line);
    return rc;
}

static void free_worlds(void)
{
    for (size_t i = 0; i < nworlds; i++) {
        world_t *w = &worlds[i];
        for (size_t k = 0; k < w->nrr; k++) {
            rr_t *r = &w->rr[k];
            free(r->owner);
            free(r->value);
            for (size_t s = 0; s < r->nstrs; s++)
                free(r->strs[s]);
            free(r->strs);
            free(r->lens);
        }
        free(w->rr);
        for (size_t k = 0; k < w->ncases; k++) {
            tcase_t *t = &w->cases[k];
            free(t->ip);
            free(t->sender);
            free(t->helo);
            free(t->expected);
            free(t->alts);
        }
        free(w->cases);
        for (size_t k = 0; k < w->nslow; k++)
            free(w->slow[k]);
        free(w->slow);
    }
    free(worlds);
}

/* ---- zone files (as tests/unit/test_spf_suite.c) ---- */

/* The zone of a name: its own for names under .arpa (unbound serves the RFC 6303 reverse
 * zones itself unless a zone is given at that name), else its last label. */
static const char *apex_of(const char *name)
{
    size_t n = strlen(name);
    if (n >= 5 && strcmp(name + n - 5, ".arpa") == 0) return name;
    const char *dot = strrchr(name, '.');
    return dot != NULL ? dot + 1 : name;
}

static void put_name(FILE *f, const char *name)
{
    if (name[0] == '\0') {
        fputc('.', f);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            fputc(*p, f);
        else
            fprintf(f, "\\%03u", *p);
    }
    fputc('.', f);
}

static void put_strings(FILE *f, const rr_t *r)
{
    if (r->nstrs == 0) {
        fputs(" \"\"", f);
        return;
    }
    for (size_t i = 0; i < r->nstrs; i++) {
        fputs(" \"", f);
        for (size_t k = 0; k < r->lens[i]; k++) {
            unsigned char c = (unsigned char)r->strs[i][k];
            if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
                fprintf(f, "\\%03u", c);
            else
                fputc(c, f);
        }
        fputc('"', f);
    }
}

static void put_rr(FILE *f, const rr_t *r)
{
    put_name(f, r->owner);
    fprintf(f, " 300 IN %s", r->type);
    if (!strcmp(r->type, "A") || !strcmp(r->type, "AAAA")) {
        fprintf(f, " %s", r->value);
    } else if (!strcmp(r->type, "MX")) {
        fprintf(f, " %d ", r->pref);
        put_name(f, r->value);
    } else if (!strcmp(r->type, "PTR")) {
        fputc(' ', f);
        put_name(f, r->value);
    } else {
        put_strings(f, r);
    }
    fputc('\n', f);
}

static dns_resolver_t *build_world(const world_t *w, char *err, size_t errsize)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/w%d", tmpdir, w->index);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errsize, "mkdir %s: %s", dir, strerror(errno));
        return NULL;
    }
    const char **files = calloc(w->nrr + 1, sizeof *files);
    const char **apexes = calloc(w->nrr + 1, sizeof *apexes);
    if (files == NULL || apexes == NULL) abort();
    size_t nfiles = 0;
    bool ok = true;
    for (size_t i = 0; i < w->nrr && ok; i++) {
        const rr_t *r = &w->rr[i];
        const char *apex = apex_of(r->owner);
        size_t k;
        for (k = 0; k < nfiles && strcmp(apexes[k], apex) != 0; k++)
            ;
        char path[256];
        snprintf(path, sizeof path, "%s/z%zu.zone", dir, k);
        FILE *f = fopen(path, k == nfiles ? "w" : "a");
        if (f == NULL) {
            snprintf(err, errsize, "%s: %s", path, strerror(errno));
            ok = false;
            break;
        }
        if (k == nfiles) {
            apexes[nfiles] = apex;
            files[nfiles++] = xstrdup_t(path);
            put_name(f, apex);
            fputs(" 300 IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300\n", f);
        }
        put_rr(f, r);
        fclose(f);
    }
    dns_resolver_t *dns = NULL;
    char **fwd = calloc(w->nslow + 1, sizeof *fwd);
    if (fwd == NULL) abort();
    for (size_t i = 0; i < w->nslow; i++) {
        fwd[i] = malloc(strlen(w->slow[i]) + 32);
        if (fwd[i] == NULL) abort();
        sprintf(fwd[i], "%s=127.0.0.1:%d", w->slow[i], fdns.silent_port);
    }
    if (ok) {
        char nx[64];
        snprintf(nx, sizeof nx, "127.0.0.1:%d", fdns.nx_port);
        const char *fw[] = {nx};
        dns_options_t opt = {
            .forwarders = fw,
            .nforwarders = 1,
            .forward_zones = (const char *const *)fwd,
            .nforward_zones = w->nslow,
            .zone_files = files,
            .nzone_files = nfiles,
            .timeout_ms = TIMEOUT_MS,
        };
        dns = dns_resolver_new(&loop, &opt, err, errsize);
    }
    for (size_t i = 0; i < w->nslow; i++)
        free(fwd[i]);
    free(fwd);
    for (size_t i = 0; i < nfiles; i++)
        free((char *)files[i]);
    free(files);
    free(apexes);
    return dns;
}

/* ---- comparing ---- */

static void print_trace(const spf_trace_t *t, int depth)
{
    for (; t != NULL; t = t->next) {
        fprintf(stderr, "      %*s%s\n", depth * 2, "", t->text);
        print_trace(t->child, depth + 1);
    }
}

/* Differences explained by several categories at once, counted per combination. */
#define MAX_COMBOS 64
static char combo_name[MAX_COMBOS][96];
static size_t combo_count[MAX_COMBOS], ncombos;

/* Is every '+'-separated part of name a documented category? */
static bool combo_known(const char *name)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%s", name);
    char *save = NULL;
    size_t parts = 0;
    for (char *p = strtok_r(buf, "+", &save); p != NULL; p = strtok_r(NULL, "+", &save)) {
        size_t c;
        for (c = 0; c < NCATEGORIES && strcmp(categories[c].name, p) != 0; c++)
            ;
        if (c == NCATEGORIES) return false;
        parts++;
    }
    return parts > 0;
}

static int combo_index(const char *name)
{
    for (size_t i = 0; i < ncombos; i++)
        if (strcmp(combo_name[i], name) == 0) return (int)i;
    if (ncombos == MAX_COMBOS) return -1;
    snprintf(combo_name[ncombos], sizeof combo_name[ncombos], "%s", name);
    return (int)ncombos++;
}

/* The category under which pyspf, following mailblock's documented choice, gives got; -1. */
static int explained_by(const char *alts, const char *got)
{
    if (strcmp(alts, "-") == 0) return -1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", alts);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (eq == NULL || strcmp(eq + 1, got) != 0) continue;
        *eq = '\0';
        if (combo_known(t)) return combo_index(t);
    }
    return -1;
}

static void print_world(const world_t *w)
{
    fprintf(stderr, "    the world:\n");
    for (size_t i = 0; i < w->nrr; i++) {
        fprintf(stderr, "      ");
        put_rr(stderr, &w->rr[i]);
    }
}

static void run_world(void **state)
{
    world_t *w = *state;
    char err[512] = "";
    dns_resolver_t *dns = build_world(w, err, sizeof err);
    if (dns == NULL) fail_msg("%s: cannot set up DNS: %s", w->name, err);
    size_t bad = 0;
    bool verbose = getenv("MB_SPF_DIFF_VERBOSE") != NULL;
    /* Every query of the world at once (the answers do not depend on the order; timeouts
     * then cost one wait per world). */
    spf_check_t **checks = calloc(w->ncases + 1, sizeof *checks);
    if (checks == NULL) abort();
    for (size_t i = 0; i < w->ncases; i++) {
        tcase_t *t = &w->cases[i];
        spf_request_t req;
        memset(&req, 0, sizeof req);
        if (ipaddr_parsez(&req.ip, t->ip) != 0) fail_msg("bad address %s", t->ip);
        req.sender = t->sender;
        req.helo = t->helo;
        req.receiver = "rcv.example";
        req.trace = true;
        checks[i] = spf_check_start(dns, &req, NULL, NULL);
    }
    uv_update_time(&loop);
    uint64_t start = uv_now(&loop);
    for (size_t i = 0; i < w->ncases; i++) {
        while (!spf_check_done(checks[i])) {
            uv_run(&loop, UV_RUN_ONCE);
            uv_update_time(&loop);
            if (uv_now(&loop) - start > 60000) fail_msg("%s: no result within 60 s", w->name);
        }
    }
    for (size_t i = 0; i < w->ncases; i++) {
        tcase_t *t = &w->cases[i];
        spf_check_t *c = checks[i];
        const spf_evidence_t *ev = spf_check_evidence(c);
        const char *got = spf_result_name(ev->result);
        n_run++;
        int cat = -1;
        bool agree = strcmp(got, t->expected) == 0;
        if (agree)
            n_agree++;
        else if ((cat = explained_by(t->alts, got)) >= 0)
            combo_count[cat]++;
        if (verbose || (!agree && cat < 0))
            fprintf(stderr,
                    "  %s case %zu: ip %s sender \"%s\" helo \"%s\": pyspf %s, mailblock %s%s%s\n",
                    w->name, i, t->ip, t->sender, t->helo, t->expected, got,
                    cat >= 0 ? ", explained: " : (agree ? "" : ", UNEXPLAINED"),
                    cat >= 0 ? combo_name[cat] : "");
        if (!agree && cat < 0) {
            fprintf(stderr, "    reason %s (%s, term %.*s), %u lookups, %u voids\n",
                    ev->reason ? ev->reason : "-", ev->reason_domain ? ev->reason_domain : "-",
                    (int)ev->reason_term_len, ev->reason_term ? ev->reason_term : "", ev->lookups,
                    ev->voids);
            print_trace(ev->trace, 0);
            if (bad++ == 0) print_world(w);
        }
        spf_check_free(c);
    }
    free(checks);
    dns_resolver_free(dns);
    uv_run(&loop, UV_RUN_NOWAIT);
    n_unexplained += bad;
    if (bad > 0) fail_msg("%s: %zu unexplained differences from pyspf", w->name, bad);
}

static void summary(void **state)
{
    (void)state;
    fprintf(stderr, "spf_diff: %zu cases in %zu worlds, %zu agree with pyspf", n_run, nworlds,
            n_agree);
    fprintf(stderr, ", %zu unexplained\n", n_unexplained);
    for (size_t i = 0; i < ncombos; i++)
        fprintf(stderr, "  %zu differ by %s\n", combo_count[i], combo_name[i]);
    fprintf(stderr, "  documented categories (docs/SPF-DIFFERENCES.md):\n");
    for (size_t c = 0; c < NCATEGORIES; c++)
        fprintf(stderr, "    %s: %s\n", categories[c].name, categories[c].doc);
    assert_int_equal(n_unexplained, 0);
    assert_int_equal(n_run, ncases_total);
    if (ncases_total >= MIN_CASES) assert_true(n_agree >= MIN_CASES);
}

static void not_available(void **state)
{
    (void)state;
    fprintf(stderr, "SKIPPED: the differential tests against pyspf were not run: %s\n",
            skip_reason);
    skip();
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_spf_diff.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) return -1;
    if (uv_loop_init(&loop) != 0 || fake_dns_start(&fdns, &loop) != 0) return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_dns_stop(&fdns);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *src = getenv("MB_SOURCE_DIR");
    const char *bld = getenv("MB_BUILD_DIR");
    if (src == NULL) src = ".";
    const char *seed = argc > 1 ? argv[1] : "1";
    const char *nw = argc > 2 ? argv[2] : "120";
    const char *nq = argc > 3 ? argv[3] : "100";
    char script[1024], out[1024], cmd[3200];
    snprintf(script, sizeof script, "%s/tests/suites/spf_diff_gen.py", src);
    if (bld != NULL) {
        snprintf(out, sizeof out, "%s/Testing/Temporary", bld);
        mkdir(out, 0755);
        snprintf(out, sizeof out, "%s/Testing/Temporary/spf_diff_cases.%ld.txt", bld,
                 (long)getpid());
    } else {
        snprintf(out, sizeof out, "spf_diff_cases.%ld.txt", (long)getpid());
    }
    int rc = -1;
    struct stat st;
    if (stat(script, &st) != 0) {
        fprintf(stderr, "the generator %s is missing (set MB_SOURCE_DIR)\n", script);
        return 1;
    }
    if (access(PYTHON, X_OK) != 0) {
        skip_reason = PYTHON " is missing";
    } else {
        snprintf(cmd, sizeof cmd, PYTHON " '%s' '%s' '%s' '%s' > '%s'", script, seed, nw, nq, out);
        int status = system(cmd);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            skip_reason = "the spf module of " PYTHON " (Debian package python3-spf) is missing";
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "the generator failed: %s\n", cmd);
            return 1;
        } else {
            FILE *in = fopen(out, "r");
            rc = in != NULL ? load_lines(in) : -1;
            if (in != NULL) fclose(in);
            if (rc != 0 || ncases_total == 0) {
                fprintf(stderr, "cannot read the cases in %s\n", out);
                return 1;
            }
        }
    }
    if (skip_reason != NULL) {
        const struct CMUnitTest one[] = {cmocka_unit_test(not_available)};
        return cmocka_run_group_tests_name("spf_diff", one, NULL, NULL);
    }
    struct CMUnitTest *tests = calloc(nworlds + 1, sizeof *tests);
    if (tests == NULL) abort();
    for (size_t i = 0; i < nworlds; i++) {
        tests[i].name = worlds[i].name;
        tests[i].test_func = run_world;
        tests[i].initial_state = &worlds[i];
    }
    tests[nworlds].name = "summary";
    tests[nworlds].test_func = summary;
    fprintf(stderr, "%zu worlds, %zu cases from %s\n", nworlds, ncases_total, out);
    int failed =
        _cmocka_run_group_tests("spf_diff", tests, nworlds + 1, group_setup, group_teardown);
    free(tests);
    free_worlds();
    if (failed == 0) unlink(out); /* kept for a look when something failed */
    return failed;
}
