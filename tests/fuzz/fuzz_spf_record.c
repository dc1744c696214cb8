/*
 * fuzz_spf_record: libFuzzer harness for the SPF record parser (src/auth/spf_record.c) and the
 * domain-spec expansion it feeds. The input is one TXT record's joined bytes. Aborts when a
 * result breaks the contracts of spf.h: terms and arguments inside the record and inside
 * their term, CIDR lengths in range, spf_record_parse() and spf_term_next() agreeing, an
 * error naming a term inside the record, expansions bounded (253 octets for names, the buffer
 * for explanations) and NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"

#include "fuzz.h"

static void check_expand(const char *rec, const spf_term_t *t)
{
    spf_macro_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.sender = "strong-bad@email.example.com";
    ctx.local = "strong-bad";
    ctx.sender_domain = "email.example.com";
    ctx.domain = "a-rather-long-label-to-make-expansions-grow.email.example.com";
    ctx.helo = "mx.example.org";
    ctx.ptr = "mx.example.org";
    ctx.now = 1;
    ipaddr_parsez(&ctx.ip, t->off % 2 ? "2001:db8::cb01" : "192.0.2.3");
    char out[SPF_DOMAIN_MAX + 1];
    size_t n = 12345;
    const char *why = NULL;
    spf_expand_status_t st =
        spf_macro_expand(rec + t->arg_off, t->arg_len, &ctx, 0, out, sizeof out, &n, &why);
    /* the parser accepted the domain-spec, so its macros are valid */
    CHECK(st == SPF_EXPAND_OK || st == SPF_EXPAND_BADNAME);
    if (st == SPF_EXPAND_OK) {
        CHECK(n >= 1 && n <= SPF_DOMAIN_MAX && out[n] == '\0' && strlen(out) == n);
    } else {
        CHECK(why != NULL && n == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rec = (const char *)data;
    spf_record_t r;
    int rc = spf_record_parse(rec, size, &r);
    CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        CHECK(r.why != NULL);
        CHECK(r.err_off <= size && r.err_len <= size - r.err_off);
        return 0;
    }
    CHECK(spf_record_is_spf(rec, size));
    size_t pos = SPF_VERSION_LEN, nterms = 0, lookups = 0;
    bool all = false;
    spf_term_t t;
    const char *why;
    int k;
    while ((k = spf_term_next(rec, size, &pos, &t, &why)) == 1) {
        nterms++;
        CHECK(pos <= size);
        CHECK(t.len >= 1 && t.off >= SPF_VERSION_LEN && t.off + t.len <= size);
        CHECK(t.off + t.len == pos);
        if (t.arg_len > 0) CHECK(t.arg_off >= t.off && t.arg_off + t.arg_len <= t.off + t.len);
        CHECK(t.cidr4 >= -1 && t.cidr4 <= 32 && t.cidr6 >= -1 && t.cidr6 <= 128);
        switch (t.kind) {
        case SPF_ALL:
            all = true;
            CHECK(t.arg_len == 0);
            break;
        case SPF_IP4:
            CHECK(t.net.family == 4 && t.cidr6 == -1);
            break;
        case SPF_IP6:
            CHECK(t.net.family == 6 && t.cidr4 == -1);
            break;
        case SPF_INCLUDE:
        case SPF_EXISTS:
            CHECK(t.arg_len > 0);
            /* fall through */
        case SPF_A:
        case SPF_MX:
        case SPF_PTR:
            lookups++;
            if (t.arg_len > 0) check_expand(rec, &t);
            break;
        case SPF_REDIRECT:
        case SPF_EXP:
            CHECK(t.arg_len > 0);
            lookups += t.kind == SPF_REDIRECT;
            check_expand(rec, &t);
            break;
        case SPF_UNKNOWN_MOD:
            CHECK(t.name_len >= 1 && t.name_len < t.len);
            break;
        }
        if (t.kind < SPF_REDIRECT)
            CHECK(t.qualifier == '+' || t.qualifier == '-' || t.qualifier == '~' ||
                  t.qualifier == '?');
    }
    CHECK(k == 0);
    CHECK(nterms == r.nterms && lookups == r.lookup_terms && all == r.has_all);
    /* The whole record as an explanation: bounded by the buffer whatever it holds. */
    spf_macro_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.sender = ctx.local = ctx.domain = "x";
    ipaddr_parsez(&ctx.ip, "192.0.2.1");
    char small[32];
    size_t n;
    if (spf_macro_expand(rec, size, &ctx, SPF_MACRO_EXPLAIN, small, sizeof small, &n, &why) ==
        SPF_EXPAND_OK)
        CHECK(n < sizeof small && small[n] == '\0');
    return 0;
}
