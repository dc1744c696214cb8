/*
 * spf_lint: the problems of a published SPF record (see spf_lint.h). A recursive walk in term
 * order, each DNS answer awaited by running the loop; bounded by SPF_LINT_DEPTH_MAX and
 * SPF_LINT_RECORDS_MAX.
 */
#include "auth/spf_lint.h"

#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "util/mem.h"
#include "util/str.h"

struct spf_lint {
    uv_loop_t *loop;
    dns_resolver_t *dns;
    spf_lint_problem_t *probs;
    size_t nprobs;
    char **owned; /* strings and nodes to free */
    size_t nowned;
    spf_lint_node_t *root;
    size_t nrecords;
    unsigned counted; /* DNS-querying terms so far, in evaluation order */
    bool incomplete;
    bool limit_reported;
    /* where the count passed SPF_LOOKUP_MAX */
    const char *over_domain, *over_term, *over_path;
    size_t over_term_len;
    const char *stack[SPF_LINT_DEPTH_MAX + 2]; /* domains being walked, top first */
    size_t depth;
};

static const char *const kind_names[] = {
    [SPF_LINT_NONE_PUBLISHED] = "none",
    [SPF_LINT_SYNTAX] = "syntax",
    [SPF_LINT_LOOKUPS] = "lookups",
    [SPF_LINT_VOID] = "void",
    [SPF_LINT_PTR] = "ptr",
    [SPF_LINT_PASS_ALL] = "pass-all",
    [SPF_LINT_MULTIPLE] = "multiple",
    [SPF_LINT_TOO_LONG] = "too-long",
    [SPF_LINT_NO_RECORD] = "no-record",
    [SPF_LINT_LOOP] = "loop",
    [SPF_LINT_DNS] = "dns",
    [SPF_LINT_LIMIT] = "limit",
};

const char *spf_lint_kind_name(spf_lint_kind_t k)
{
    return (unsigned)k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "?";
}

static void *own(spf_lint_t *l, void *p)
{
    l->owned = xrealloc(l->owned, xmul(l->nowned + 1, sizeof *l->owned));
    l->owned[l->nowned++] = p;
    return p;
}

static const char *keep(spf_lint_t *l, const char *s, size_t len)
{
    return own(l, xstrndup(s, len));
}

static spf_lint_problem_t *add(spf_lint_t *l, spf_lint_kind_t kind, const char *domain,
                               const char *term, size_t term_len, const char *why)
{
    l->probs = xrealloc(l->probs, xmul(l->nprobs + 1, sizeof *l->probs));
    spf_lint_problem_t *p = &l->probs[l->nprobs++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->domain = domain;
    p->term = term;
    p->term_len = term_len;
    p->why = why;
    if (kind == SPF_LINT_DNS) l->incomplete = true;
    return p;
}

typedef struct wait {
    const dns_answer_t *ans;
    bool done;
} wait_t;

static void on_answer(const dns_answer_t *ans, void *arg)
{
    wait_t *w = arg;
    dns_answer_ref(ans);
    w->ans = ans;
    w->done = true;
}

/* The answer (to unref), or NULL when the name cannot be asked or the loop ran dry. */
static const dns_answer_t *ask(spf_lint_t *l, const char *name, uint16_t type)
{
    wait_t w = {NULL, false};
    dns_query_t *q = NULL;
    if (dns_query(l->dns, name, type, on_answer, &w, &q) != 0) return NULL;
    while (!w.done) {
        if (uv_run(l->loop, UV_RUN_ONCE) == 0 && !w.done) {
            dns_cancel(q);
            return NULL;
        }
    }
    return w.ans;
}

static bool has_macro(const char *s, size_t len)
{
    return memchr(s, '%', len) != NULL;
}

/* The target of a term as a name to ask ("" when it has macros), into out. */
static const char *target(const char *rec, const spf_term_t *t, const char *domain, char *out,
                          size_t outsize)
{
    if (t->arg_len == 0) {
        mem_copyz(out, outsize, domain, strlen(domain));
        return out;
    }
    const char *a = rec + t->arg_off;
    size_t n = t->arg_len;
    if (has_macro(a, n) || n >= outsize) return NULL;
    if (n > 1 && a[n - 1] == '.') n--;
    mem_copyz(out, outsize, a, n);
    return out;
}

static bool on_stack(const spf_lint_t *l, const char *name)
{
    for (size_t i = 0; i < l->depth; i++)
        if (mem_ieq(l->stack[i], strlen(l->stack[i]), name, strlen(name))) return true;
    return false;
}

/* Counts one DNS-querying term, remembering where the count passes the limit. */
static void count(spf_lint_t *l, spf_lint_node_t *n, const char *term, size_t term_len)
{
    n->own_lookups++;
    if (++l->counted != SPF_LOOKUP_MAX + 1) return;
    l->over_domain = n->domain;
    l->over_term = term;
    l->over_term_len = term_len;
    str_t path = STR_INIT;
    for (size_t i = 0; i < l->depth; i++) {
        if (i > 0) str_appendz(&path, " > ");
        str_appendz(&path, l->stack[i]);
    }
    l->over_path = keep(l, str_cstr(&path), path.len);
    str_free(&path);
}

/* Is an answer void (4.6.4: NXDOMAIN or no records)? Temporary failures are not. */
static bool is_void(const dns_answer_t *a)
{
    return a == NULL || a->status == DNS_NXDOMAIN || a->status == DNS_NODATA ||
           a->status == DNS_BADNAME;
}

static bool is_temp(const dns_answer_t *a)
{
    return a != NULL && dns_status_temporary(a->status);
}

static spf_lint_node_t *walk(spf_lint_t *l, const char *domain, const char *via, const char *from,
                             const char *term, size_t term_len);

/* Follows an include or redirect term of the record of n. */
static void follow(spf_lint_t *l, spf_lint_node_t *n, spf_lint_node_t **last, const char *rec,
                   const spf_term_t *t, const char *via)
{
    char name[SPF_DOMAIN_MAX + 2];
    const char *term = rec + t->off;
    if (target(rec, t, n->domain, name, sizeof name) == NULL)
        return; /* macros: needs the IP and sender */
    if (on_stack(l, name)) {
        add(l, SPF_LINT_LOOP, n->domain, term, t->len,
            "loops back to a domain already being evaluated (permerror)");
        return;
    }
    if (l->depth >= SPF_LINT_DEPTH_MAX) {
        if (!l->limit_reported)
            add(l, SPF_LINT_LIMIT, n->domain, term, t->len,
                "includes and redirects nested too deep; not followed further");
        l->limit_reported = true;
        return;
    }
    spf_lint_node_t *c = walk(l, keep(l, name, strlen(name)), via, n->domain, term, t->len);
    if (c == NULL) return;
    if (*last == NULL)
        n->child = c;
    else
        (*last)->next = c;
    *last = c;
    n->total_lookups += c->total_lookups;
}

/* Checks the target of a, mx or exists for a void lookup. */
static void check_void(spf_lint_t *l, spf_lint_node_t *n, const char *rec, const spf_term_t *t)
{
    char name[SPF_DOMAIN_MAX + 2];
    const char *term = rec + t->off;
    if (target(rec, t, n->domain, name, sizeof name) == NULL) return;
    bool temp = false, vd = true;
    if (t->kind == SPF_MX) {
        const dns_answer_t *a = ask(l, name, DNS_T_MX);
        temp = is_temp(a);
        vd = is_void(a);
        dns_answer_unref(a);
    } else {
        const dns_answer_t *a = ask(l, name, DNS_T_A);
        temp = is_temp(a);
        vd = is_void(a);
        dns_answer_unref(a);
        if (vd && !temp && t->kind == SPF_A) {
            a = ask(l, name, DNS_T_AAAA);
            temp = is_temp(a);
            vd = is_void(a);
            dns_answer_unref(a);
        }
    }
    if (temp)
        add(l, SPF_LINT_DNS, n->domain, term, t->len,
            "a lookup for this term failed temporarily; not checked");
    else if (vd)
        add(l, SPF_LINT_VOID, n->domain, term, t->len,
            t->kind == SPF_MX ? "void lookup: the name has no MX records (at most 2 voids allowed)"
            : t->kind == SPF_A
                ? "void lookup: the name has no A or AAAA records (at most 2 voids allowed)"
                : "void lookup: the name has no A record (at most 2 voids allowed)");
}

/* Estimates the size of the DNS message carrying the TXT answer (RFC 1035 4.1): header,
 * question, and each record with a compressed owner name. */
static unsigned long txt_message_size(const char *name, const dns_answer_t *a)
{
    unsigned long size = 12 + strlen(name) + 2 + 4;
    for (size_t i = 0; i < a->count; i++)
        if (a->rr[i].type == DNS_T_TXT) size += 2 + 10 + a->rr[i].txt_len + a->rr[i].txt_strings;
    return size;
}

static spf_lint_node_t *walk(spf_lint_t *l, const char *domain, const char *via, const char *from,
                             const char *term, size_t term_len)
{
    if (l->nrecords >= SPF_LINT_RECORDS_MAX) {
        if (!l->limit_reported)
            add(l, SPF_LINT_LIMIT, from ? from : domain, term, term_len,
                "too many records in the tree; the walk stopped");
        l->limit_reported = true;
        return NULL;
    }
    l->nrecords++;
    const dns_answer_t *a = ask(l, domain, DNS_T_TXT);
    if (is_temp(a)) {
        add(l, SPF_LINT_DNS, from ? from : domain, term, term_len,
            "the TXT lookup failed temporarily (temperror); not checked");
        dns_answer_unref(a);
        return NULL;
    }
    spf_lint_node_t *n = own(l, xcalloc(1, sizeof *n));
    n->domain = domain;
    n->via = via;
    size_t nspf = 0;
    const dns_rr_t *spf = NULL;
    for (size_t i = 0; a != NULL && a->status == DNS_OK && i < a->count; i++) {
        const dns_rr_t *rr = &a->rr[i];
        if (rr->type == DNS_T_TXT && spf_record_is_spf((const char *)rr->txt, rr->txt_len)) {
            nspf++;
            spf = rr;
        }
    }
    if (nspf == 0) {
        bool nx = a == NULL || (a->status != DNS_OK && a->status != DNS_NODATA);
        if (from == NULL)
            add(l, SPF_LINT_NONE_PUBLISHED, domain, NULL, 0,
                nx ? "the domain does not exist" : "the domain publishes no SPF record");
        else
            add(l, SPF_LINT_NO_RECORD, from, term, term_len,
                nx ? "the target does not exist (permerror)"
                   : "the target has no SPF record (permerror)");
        dns_answer_unref(a);
        return n;
    }
    if (nspf > 1) {
        add(l, SPF_LINT_MULTIPLE, domain, NULL, 0,
            "several SPF records at one name (permerror, RFC 7208 4.5)")
            ->value = nspf;
        dns_answer_unref(a);
        return n;
    }
    unsigned long size = txt_message_size(domain, a);
    if (size > SPF_LINT_UDP_MAX)
        add(l, SPF_LINT_TOO_LONG, domain, NULL, 0,
            "the TXT answer does not fit one 512-octet UDP message (RFC 7208 3.4)")
            ->value = size;
    const char *rec = keep(l, (const char *)spf->txt, spf->txt_len);
    size_t len = spf->txt_len;
    n->record = rec;
    n->record_len = len;
    dns_answer_unref(a);

    spf_record_t r;
    if (spf_record_parse(rec, len, &r) != 0) {
        add(l, SPF_LINT_SYNTAX, domain, rec + r.err_off, r.err_len, r.why);
        return n;
    }
    l->stack[l->depth++] = domain;
    spf_lint_node_t *last = NULL;
    size_t pos = SPF_VERSION_LEN;
    spf_term_t t;
    const char *why;
    while (spf_term_next(rec, len, &pos, &t, &why) == 1) {
        const char *tt = rec + t.off;
        switch (t.kind) {
        case SPF_ALL:
            if (t.qualifier == '+')
                add(l, SPF_LINT_PASS_ALL, domain, tt, t.len,
                    "every host on the Internet passes (use -all or ~all)");
            break;
        case SPF_PTR:
            count(l, n, tt, t.len);
            add(l, SPF_LINT_PTR, domain, tt, t.len,
                "ptr is slow and unreliable: do not use it (RFC 7208 5.5)");
            break;
        case SPF_A:
        case SPF_MX:
        case SPF_EXISTS:
            count(l, n, tt, t.len);
            check_void(l, n, rec, &t);
            break;
        case SPF_INCLUDE:
            count(l, n, tt, t.len);
            follow(l, n, &last, rec, &t, "include");
            break;
        default:
            break;
        }
    }
    /* 6.1: redirect is used only when no all is present */
    if (r.has_redirect && !r.has_all) {
        count(l, n, rec + r.redirect.off, r.redirect.len);
        follow(l, n, &last, rec, &r.redirect, "redirect");
    }
    n->total_lookups += n->own_lookups;
    l->depth--;
    return n;
}

spf_lint_t *spf_lint_run(uv_loop_t *loop, dns_resolver_t *dns, const char *domain)
{
    spf_lint_t *l = xcalloc(1, sizeof *l);
    l->loop = loop;
    l->dns = dns;
    size_t n = strlen(domain);
    if (n > 1 && domain[n - 1] == '.') n--;
    const char *d = keep(l, domain, n);
    l->root = walk(l, d, NULL, NULL, NULL, 0);
    if (l->root != NULL && l->root->record == NULL) l->root = NULL;
    if (l->counted > SPF_LOOKUP_MAX)
        add(l, SPF_LINT_LOOKUPS, l->over_domain, l->over_term, l->over_term_len,
            "more than 10 DNS-querying terms (permerror, RFC 7208 4.6.4); the count passes "
            "10 at this term")
            ->value = l->counted;
    return l;
}

size_t spf_lint_count(const spf_lint_t *l)
{
    return l->nprobs;
}

const spf_lint_problem_t *spf_lint_problem(const spf_lint_t *l, size_t i)
{
    return i < l->nprobs ? &l->probs[i] : NULL;
}

const spf_lint_node_t *spf_lint_tree(const spf_lint_t *l)
{
    return l->root;
}

unsigned spf_lint_lookups(const spf_lint_t *l)
{
    return l->counted;
}

const char *spf_lint_over_path(const spf_lint_t *l)
{
    return l->over_path;
}

bool spf_lint_incomplete(const spf_lint_t *l)
{
    return l->incomplete;
}

void spf_lint_free(spf_lint_t *l)
{
    if (l == NULL) return;
    for (size_t i = 0; i < l->nowned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->probs);
    free(l);
}
