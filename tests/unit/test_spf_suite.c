/*
 * test_spf_suite: the OpenSPF RFC 7208 test suite (../shared/testsuites/spf-openspf/
 * rfc7208-tests.yml, found from MB_SOURCE_DIR; never copied here), one cmocka test per case.
 *
 * tests/suites/spf_suite_lines.py reads the YAML (python3 + PyYAML) into a line format; all
 * the rest is here: each scenario's zonedata becomes RFC 1035 zone files loaded into the real
 * resolver (dns_options_t.zone_files), and the evaluator runs over it.
 *
 * DNS world of a scenario (nothing leaves loopback):
 *  - data names go to zone files, one zone per apex; the apex of a name is its shortest
 *    suffix that holds no TIMEOUT name, so that timeout names stay outside every zone (an
 *    auth-zone answers before any stub). Names under .arpa get a zone of their own: unbound
 *    serves the RFC 6303 reverse zones (192.0.2.0/24, 2001:db8::/32...) itself unless a zone
 *    is given at that name.
 *  - the driver conventions of the suite (SOURCE.txt, pyspf's testspf.py): type SPF records
 *    are written as SPF (type 99) and copied to TXT when the name has no TXT entry (nor
 *    "TXT: NONE"); TIMEOUT is positional: the records listed before it are served, and a
 *    name with no record of a type we ask (TXT, A, AAAA, MX, PTR, CNAME) before it times
 *    out for every type (approximation: such a name never answers other types).
 *  - every other name is sent to a forwarder the test runs on 127.0.0.1 that answers
 *    NXDOMAIN to everything (names not in zonedata do not exist); each timeout name is a
 *    forward zone to a socket that never answers, and the resolver's timeout is short.
 *
 * Usage: test_spf_suite [SUITE.yml] (default: the RFC 7208 suite). Skipped, saying so, when
 * the suite, python3 or PyYAML is missing.
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
#include <unistd.h>

#include "auth/spf.h"
#include "fake_dns.h"
#include "dns/dns.h"

#define MAX_FIELDS 64
#define TIMEOUT_MS 400

/* ---- the line format ---- */

typedef struct rr {
    char type[8]; /* A AAAA MX PTR CNAME TXT SPF TXTNONE SPFNONE TIMEOUT */
    char *value;  /* A, AAAA: text; MX: exchange; PTR, CNAME: target */
    int pref;
    char **strs; /* TXT, SPF: character-strings */
    size_t *lens;
    size_t nstrs;
} rr_t;

typedef struct dname {
    char *name; /* lower case, no trailing dot */
    rr_t *rr;
    size_t nrr;
    bool timeout; /* a TIMEOUT name (no usable record before the TIMEOUT) */
    size_t ndata; /* records served (those before TIMEOUT, plus TXT copies) */
} dname_t;

typedef struct scenario {
    int index;
    char *desc;
    dname_t *names;
    size_t nnames;
    /* built lazily */
    char dir[256];
    dns_resolver_t *dns;
    bool failed_setup;
    char setup_err[512];
} scenario_t;

typedef struct tcase {
    scenario_t *sc;
    char *name, *helo, *host, *mailfrom, *results, *explanation, *spec;
    char title[256];
} tcase_t;

static scenario_t *scen;
static size_t nscen;
static tcase_t *cases;
static size_t ncases;

static char tmpdir[64];
static uv_loop_t loop;
static fake_dns_t fdns; /* the NXDOMAIN forwarder and the silent socket */
static scenario_t *current;
static const char *skip_reason;

static void *xrealloc_t(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) abort();
    return q;
}

static char *unhex(const char *h, size_t *len)
{
    size_t n = strcmp(h, ".") == 0 ? 0 : strlen(h) / 2;
    char *out = malloc(n + 1);
    if (out == NULL) abort();
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
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

static dname_t *find_name(scenario_t *sc, const char *name, bool create)
{
    for (size_t i = 0; i < sc->nnames; i++)
        if (strcmp(sc->names[i].name, name) == 0) return &sc->names[i];
    if (!create) return NULL;
    sc->names = xrealloc_t(sc->names, (sc->nnames + 1) * sizeof *sc->names);
    dname_t *d = &sc->names[sc->nnames++];
    memset(d, 0, sizeof *d);
    d->name = strdup(name);
    return d;
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
    while (getline(&line, &cap, in) > 0) {
        char *f[MAX_FIELDS];
        int n = split(line, f);
        if (n == 0) continue;
        if (strcmp(f[0], "scenario") == 0 && n == 3) {
            scen = xrealloc_t(scen, (nscen + 1) * sizeof *scen);
            scenario_t *sc = &scen[nscen++];
            memset(sc, 0, sizeof *sc);
            sc->index = atoi(f[1]);
            sc->desc = unhex(f[2], NULL);
        } else if (strcmp(f[0], "rr") == 0 && n >= 3 && nscen > 0) {
            scenario_t *sc = &scen[nscen - 1];
            char *owner = lower_name(unhex(f[1], NULL));
            dname_t *d = find_name(sc, owner, true);
            free(owner);
            d->rr = xrealloc_t(d->rr, (d->nrr + 1) * sizeof *d->rr);
            rr_t *r = &d->rr[d->nrr++];
            memset(r, 0, sizeof *r);
            snprintf(r->type, sizeof r->type, "%s", f[2]);
            if ((!strcmp(f[2], "A") || !strcmp(f[2], "AAAA")) && n == 4) {
                r->value = strdup(f[3]);
            } else if (!strcmp(f[2], "MX") && n == 5) {
                r->pref = atoi(f[3]);
                r->value = lower_name(unhex(f[4], NULL));
            } else if ((!strcmp(f[2], "PTR") || !strcmp(f[2], "CNAME")) && n == 4) {
                r->value = lower_name(unhex(f[3], NULL));
            } else if ((!strcmp(f[2], "TXT") || !strcmp(f[2], "SPF")) && n >= 4) {
                r->nstrs = (size_t)atoi(f[3]);
                if ((int)r->nstrs != n - 4) return -1;
                r->strs = calloc(r->nstrs + 1, sizeof *r->strs);
                r->lens = calloc(r->nstrs + 1, sizeof *r->lens);
                for (size_t i = 0; i < r->nstrs; i++)
                    r->strs[i] = unhex(f[4 + i], &r->lens[i]);
            } else if (strcmp(f[2], "TIMEOUT") && strcmp(f[2], "TXTNONE") &&
                       strcmp(f[2], "SPFNONE")) {
                return -1;
            }
        } else if (strcmp(f[0], "test") == 0 && n == 8 && nscen > 0) {
            cases = xrealloc_t(cases, (ncases + 1) * sizeof *cases);
            tcase_t *t = &cases[ncases++];
            memset(t, 0, sizeof *t);
            t->sc = (scenario_t *)(uintptr_t)(nscen - 1); /* index until the array is final */
            t->name = unhex(f[1], NULL);
            t->helo = unhex(f[2], NULL);
            t->host = strdup(f[3]);
            t->mailfrom = unhex(f[4], NULL);
            t->results = strdup(f[5]);
            t->explanation = strcmp(f[6], "!") == 0 ? NULL : unhex(f[6], NULL);
            t->spec = unhex(f[7], NULL);
        } else {
            return -1;
        }
    }
    free(line);
    for (size_t i = 0; i < ncases; i++) {
        cases[i].sc = &scen[(uintptr_t)cases[i].sc];
        snprintf(cases[i].title, sizeof cases[i].title, "%s: %s", cases[i].sc->desc, cases[i].name);
    }
    return 0;
}

/* ---- zone files ---- */

static bool rr_queried_type(const rr_t *r)
{
    return !strcmp(r->type, "A") || !strcmp(r->type, "AAAA") || !strcmp(r->type, "MX") ||
           !strcmp(r->type, "PTR") || !strcmp(r->type, "CNAME") || !strcmp(r->type, "TXT");
}

/* Applies the driver conventions: which records are served, which names time out. */
static void conventions(scenario_t *sc)
{
    for (size_t i = 0; i < sc->nnames; i++) {
        dname_t *d = &sc->names[i];
        size_t tpos = d->nrr;
        bool has_txt = false, any_before = false;
        for (size_t k = 0; k < d->nrr; k++) {
            if (!strcmp(d->rr[k].type, "TIMEOUT") && tpos == d->nrr) tpos = k;
            if (!strcmp(d->rr[k].type, "TXT") || !strcmp(d->rr[k].type, "TXTNONE")) has_txt = true;
        }
        for (size_t k = 0; k < tpos; k++)
            any_before |= rr_queried_type(&d->rr[k]);
        if (tpos < d->nrr && !any_before) {
            d->timeout = true;
            d->ndata = 0;
            continue;
        }
        d->ndata = tpos;
        if (tpos == d->nrr && !has_txt) {
            /* SPF entries copied to TXT after everything listed */
            size_t n = d->nrr;
            for (size_t k = 0; k < n; k++) {
                if (strcmp(d->rr[k].type, "SPF")) continue;
                d->rr = xrealloc_t(d->rr, (d->nrr + 1) * sizeof *d->rr);
                rr_t *c = &d->rr[d->nrr++];
                *c = d->rr[k];
                snprintf(c->type, sizeof c->type, "TXT");
            }
            d->ndata = d->nrr;
        }
    }
}

/* Is a equal to or an ancestor of b (both lower case, no trailing dot)? */
static bool ancestor_or_self(const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    if (al == bl) return strcmp(a, b) == 0;
    return bl > al && b[bl - al - 1] == '.' && strcmp(b + bl - al, a) == 0;
}

static const char *apex_of(const scenario_t *sc, const char *name)
{
    size_t n = strlen(name);
    if (n >= 5 && (strcmp(name + n - 5, ".arpa") == 0)) return name;
    /* suffixes from the shortest (the last label) to the name itself */
    for (size_t i = n; i-- > 0;) {
        if (i != 0 && name[i - 1] != '.') continue;
        const char *suf = name + i;
        bool clash = false;
        for (size_t k = 0; k < sc->nnames && !clash; k++)
            clash = sc->names[k].timeout && ancestor_or_self(suf, sc->names[k].name);
        if (!clash) return suf;
    }
    fprintf(stderr, "note: %s holds a timeout name; its zone makes that name NXDOMAIN\n", name);
    return name;
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
        fputs(" \"\"", f); /* a TXT record of no strings cannot be written; one empty one */
        return;
    }
    for (size_t i = 0; i < r->nstrs; i++) {
        for (size_t off = 0; off == 0 || off < r->lens[i]; off += 255) {
            fputs(" \"", f);
            for (size_t k = off; k < r->lens[i] && k < off + 255; k++) {
                unsigned char c = (unsigned char)r->strs[i][k];
                if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
                    fprintf(f, "\\%03u", c);
                else
                    fputc(c, f);
            }
            fputc('"', f);
        }
    }
}

static void put_rr(FILE *f, const dname_t *d, const rr_t *r)
{
    put_name(f, d->name);
    fprintf(f, " 300 IN %s", r->type);
    if (!strcmp(r->type, "A") || !strcmp(r->type, "AAAA")) {
        fprintf(f, " %s", r->value);
    } else if (!strcmp(r->type, "MX")) {
        fprintf(f, " %d ", r->pref);
        put_name(f, r->value);
    } else if (!strcmp(r->type, "PTR") || !strcmp(r->type, "CNAME")) {
        fputc(' ', f);
        put_name(f, r->value);
    } else {
        put_strings(f, r);
    }
    fputc('\n', f);
}

static bool rr_same(const rr_t *a, const rr_t *b)
{
    if (strcmp(a->type, b->type) || a->pref != b->pref || a->nstrs != b->nstrs) return false;
    if ((a->value == NULL) != (b->value == NULL) || (a->value && strcmp(a->value, b->value)))
        return false;
    for (size_t i = 0; i < a->nstrs; i++)
        if (a->lens[i] != b->lens[i] || memcmp(a->strs[i], b->strs[i], a->lens[i])) return false;
    return true;
}

static bool rr_served(const rr_t *r)
{
    return strcmp(r->type, "TIMEOUT") && strcmp(r->type, "TXTNONE") && strcmp(r->type, "SPFNONE");
}

static int build_scenario(scenario_t *sc)
{
    conventions(sc);
    snprintf(sc->dir, sizeof sc->dir, "%s/s%d", tmpdir, sc->index);
    if (mkdir(sc->dir, 0755) != 0 && errno != EEXIST) return -1;
    const char **files = calloc(sc->nnames + 1, sizeof *files);
    const char **apexes = calloc(sc->nnames + 1, sizeof *apexes);
    const char **fwd = calloc(sc->nnames + 1, sizeof *fwd);
    size_t nfiles = 0, nfwd = 0;
    for (size_t i = 0; i < sc->nnames; i++) {
        dname_t *d = &sc->names[i];
        if (d->timeout) {
            char *z = malloc(strlen(d->name) + 32);
            sprintf(z, "%s=127.0.0.1:%d", d->name, fdns.silent_port);
            fwd[nfwd++] = z;
            continue;
        }
        const char *apex = apex_of(sc, d->name);
        size_t k;
        for (k = 0; k < nfiles && strcmp(apexes[k], apex) != 0; k++)
            ;
        char path[400];
        snprintf(path, sizeof path, "%s/z%zu.zone", sc->dir, k);
        FILE *f = fopen(path, k == nfiles ? "w" : "a");
        if (f == NULL) return -1;
        if (k == nfiles) {
            apexes[nfiles] = apex;
            files[nfiles++] = strdup(path);
            put_name(f, apex);
            fputs(" 300 IN SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300\n", f);
        }
        for (size_t r = 0; r < d->ndata; r++) {
            if (!rr_served(&d->rr[r])) continue;
            bool dup = false;
            for (size_t q = 0; q < r && !dup; q++)
                dup = rr_same(&d->rr[q], &d->rr[r]);
            if (!dup) put_rr(f, d, &d->rr[r]);
        }
        fclose(f);
    }
    char nx[64];
    snprintf(nx, sizeof nx, "127.0.0.1:%d", fdns.nx_port);
    const char *fw[] = {nx};
    dns_options_t opt = {
        .forwarders = fw,
        .nforwarders = 1,
        .forward_zones = fwd,
        .nforward_zones = nfwd,
        .zone_files = files,
        .nzone_files = nfiles,
        .timeout_ms = TIMEOUT_MS,
    };
    sc->dns = dns_resolver_new(&loop, &opt, sc->setup_err, sizeof sc->setup_err);
    for (size_t i = 0; i < nfiles; i++)
        free((char *)files[i]);
    for (size_t i = 0; i < nfwd; i++)
        free((char *)fwd[i]);
    free(files);
    free(apexes);
    free(fwd);
    return sc->dns != NULL ? 0 : -1;
}

/* ---- running the cases ---- */

static void done_cb(spf_check_t *c, void *arg)
{
    (void)c;
    *(int *)arg = 1;
}

static bool result_ok(const char *results, spf_result_t r)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", results);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, spf_result_name(r)) == 0) return true;
    return false;
}

static void print_trace(const spf_trace_t *t, int depth)
{
    for (; t != NULL; t = t->next) {
        fprintf(stderr, "    %*s%s\n", depth * 2, "", t->text);
        print_trace(t->child, depth + 1);
    }
}

static void run_case(void **state)
{
    tcase_t *t = *state;
    scenario_t *sc = t->sc;
    if (current != sc) {
        if (current != NULL && current->dns != NULL) {
            dns_resolver_free(current->dns);
            current->dns = NULL;
            uv_run(&loop, UV_RUN_NOWAIT);
        }
        current = sc;
        if (build_scenario(sc) != 0) sc->failed_setup = true;
    }
    if (sc->failed_setup)
        fail_msg("scenario \"%s\": cannot set up DNS: %s", sc->desc, sc->setup_err);
    spf_request_t req;
    memset(&req, 0, sizeof req);
    if (ipaddr_parsez(&req.ip, t->host) != 0) fail_msg("bad host %s", t->host);
    req.sender = t->mailfrom;
    req.helo = t->helo;
    req.trace = true;
    int fired = 0;
    spf_check_t *c = spf_check_start(sc->dns, &req, done_cb, &fired);
    uv_update_time(&loop);
    uint64_t start = uv_now(&loop);
    while (!spf_check_done(c)) {
        uv_run(&loop, UV_RUN_ONCE);
        uv_update_time(&loop);
        if (uv_now(&loop) - start > 30000) fail_msg("no result within 30 s");
    }
    const spf_evidence_t *ev = spf_check_evidence(c);
    bool ok = result_ok(t->results, ev->result);
    const char *why = NULL;
    if (ok && t->explanation != NULL) {
        if (strcmp(t->explanation, "DEFAULT") == 0) {
            if (ev->explanation != NULL) why = "expected no explanation from the record (DEFAULT)";
        } else if (ev->explanation == NULL || strcmp(ev->explanation, t->explanation) != 0) {
            why = "explanation differs";
        }
    }
    if (getenv("MB_SPF_SUITE_VERBOSE") != NULL)
        fprintf(stderr, "  %s: %s (want %s), %u lookups, %u voids, reason %s\n", t->name,
                spf_result_name(ev->result), t->results, ev->lookups, ev->voids,
                ev->reason != NULL ? ev->reason : "-");
    if (!ok || why != NULL) {
        fprintf(stderr, "  case %s (spec %s): host %s helo \"%s\" mailfrom \"%s\"\n", t->name,
                t->spec, t->host, t->helo, t->mailfrom);
        fprintf(stderr, "  want %s%s%s%s, got %s, explanation %s%s%s, reason %s\n", t->results,
                t->explanation ? " explanation \"" : "", t->explanation ? t->explanation : "",
                t->explanation ? "\"" : "", spf_result_name(ev->result),
                ev->explanation ? "\"" : "", ev->explanation ? ev->explanation : "(none)",
                ev->explanation ? "\"" : "", ev->reason ? ev->reason : "-");
        print_trace(ev->trace, 0);
        spf_check_free(c);
        fail_msg("%s", why != NULL ? why : "result differs");
    }
    spf_check_free(c);
}

static void suite_not_available(void **state)
{
    (void)state;
    fprintf(stderr, "SKIPPED: the SPF suite was not run: %s\n", skip_reason);
    skip();
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_spf_suite.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) return -1;
    if (uv_loop_init(&loop) != 0 || fake_dns_start(&fdns, &loop) != 0) return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (current != NULL && current->dns != NULL) dns_resolver_free(current->dns);
    fake_dns_stop(&fdns);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    char suite[1024], script[1024], cmd[2200];
    const char *src = getenv("MB_SOURCE_DIR");
    if (src == NULL) src = ".";
    if (argc > 1)
        snprintf(suite, sizeof suite, "%s", argv[1]);
    else
        snprintf(suite, sizeof suite, "%s/../shared/testsuites/spf-openspf/rfc7208-tests.yml", src);
    snprintf(script, sizeof script, "%s/tests/suites/spf_suite_lines.py", src);
    struct stat st;
    if (stat(suite, &st) != 0) {
        skip_reason = "the suite file is missing (looked for "
                      "$MB_SOURCE_DIR/../shared/testsuites/spf-openspf/rfc7208-tests.yml)";
    } else {
        snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", script, suite);
        FILE *p = popen(cmd, "r");
        int rc = p != NULL ? load_lines(p) : -1;
        int status = p != NULL ? pclose(p) : -1;
        if (p == NULL || (WIFEXITED(status) && WEXITSTATUS(status) == 2) ||
            (WIFEXITED(status) && WEXITSTATUS(status) == 127))
            skip_reason = "python3 with PyYAML is needed to read the suite";
        else if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            skip_reason = NULL, ncases = 0, fprintf(stderr, "cannot read the suite %s\n", suite);
        if (ncases == 0 && skip_reason == NULL) return 1;
    }
    if (skip_reason != NULL) {
        const struct CMUnitTest one[] = {cmocka_unit_test(suite_not_available)};
        return cmocka_run_group_tests_name("spf_suite", one, NULL, NULL);
    }
    struct CMUnitTest *tests = calloc(ncases, sizeof *tests);
    for (size_t i = 0; i < ncases; i++) {
        tests[i].name = cases[i].title;
        tests[i].test_func = run_case;
        tests[i].initial_state = &cases[i];
    }
    fprintf(stderr, "%zu scenarios, %zu cases from %s\n", nscen, ncases, suite);
    return _cmocka_run_group_tests("spf_suite", tests, ncases, group_setup, group_teardown);
}
