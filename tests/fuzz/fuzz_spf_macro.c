/*
 * fuzz_spf_macro: libFuzzer harness for the SPF macro expander (src/auth/spf_macro.c), where
 * libspf2 had its CVE-2021-33912/33913. Input: one flags byte, the macro string up to the
 * first newline, then newline-separated values for l, d (also o), h and p (each cut at its
 * first NUL). Aborts when the output breaks the contracts of spf.h: names at most 253 octets,
 * made of whole labels of the full expansion's tail, explanations within the buffer, the
 * result always NUL-terminated, spf_macro_check() and spf_macro_expand() agreeing on syntax.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"

#include "fuzz.h"

/* Copies the next newline-separated field into a fresh NUL-terminated buffer. */
static char *field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *s = *p, *e = s;
    while (e < end && *e != '\n')
        e++;
    size_t n = (size_t)(e - s);
    char *out = malloc(n + 1);
    if (out == NULL) abort();
    memcpy(out, s, n);
    out[n] = '\0';
    *p = e < end ? e + 1 : e;
    return out;
}

/*
 * A name must be the whole expansion (one trailing dot removed) when that fits in 253 octets,
 * else its longest tail that starts after a dot and fits (RFC 7208 7.3). The whole expansion
 * is what explanation mode gives with a buffer large enough.
 */
static void check_name(const char *macro, size_t mlen, const spf_macro_ctx_t *ctx, const char *name,
                       size_t n)
{
    CHECK(n >= 1 && n <= SPF_DOMAIN_MAX && strlen(name) == n);
    size_t cap = (size_t)1 << 20, fn;
    char *full = malloc(cap + 1);
    const char *why;
    if (full == NULL) abort();
    if (spf_macro_expand(macro, mlen, ctx, SPF_MACRO_EXPLAIN, full, cap + 1, &fn, &why) ==
            SPF_EXPAND_OK &&
        fn < cap) {
        if (fn > 0 && full[fn - 1] == '.') fn--;
        if (fn <= SPF_DOMAIN_MAX) {
            CHECK(n == fn && memcmp(full, name, n) == 0);
        } else {
            CHECK(n < fn && full[fn - n - 1] == '.' && memcmp(full + fn - n, name, n) == 0);
            size_t k = fn - n - 1; /* the dot before the name; the previous one is too early */
            while (k > 0 && full[k - 1] != '.')
                k--;
            CHECK(k == 0 || fn - k > SPF_DOMAIN_MAX);
        }
    }
    free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned flags = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    const uint8_t *ms = p;
    while (p < end && *p != '\n')
        p++;
    size_t mlen = (size_t)(p - ms);
    char *macro = malloc(mlen > 0 ? mlen : 1); /* exact size: overreads are caught */
    if (macro == NULL) return 0;
    if (mlen > 0) memcpy(macro, ms, mlen);
    if (p < end) p++;
    char *l = field(&p, end), *d = field(&p, end), *h = field(&p, end), *ptr = field(&p, end);
    char sender[2 * SPF_MACRO_VALUE_MAX + 4];
    snprintf(sender, sizeof sender, "%s@%s", l, d);
    spf_macro_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.sender = sender;
    ctx.local = l;
    ctx.sender_domain = d;
    ctx.domain = d;
    ctx.helo = h;
    ctx.ptr = (flags & 4) ? ptr : NULL;
    ctx.receiver = (flags & 8) ? h : NULL;
    ctx.now = 1234567890;
    ipaddr_parsez(&ctx.ip, (flags & 2) ? "2001:db8::1:2:3:cb01" : "192.0.2.255");
    bool long_value = strlen(sender) > SPF_MACRO_VALUE_MAX || strlen(h) > SPF_MACRO_VALUE_MAX ||
                      strlen(ptr) > SPF_MACRO_VALUE_MAX;

    unsigned mode = flags & 1 ? SPF_MACRO_EXPLAIN : 0;
    spf_macro_info_t mi;
    int syntax = spf_macro_check(macro, mlen, mode, &mi);
    CHECK(syntax == 0 || (mi.why != NULL && mi.err_off < mlen));

    size_t outsize = mode ? 1 + (size_t)(flags >> 4) * 40 : SPF_DOMAIN_MAX + 1;
    char *out = malloc(outsize);
    size_t n = 99999;
    const char *why = NULL;
    spf_expand_status_t st = spf_macro_expand(macro, mlen, &ctx, mode, out, outsize, &n, &why);
    if (syntax != 0)
        CHECK(st == SPF_EXPAND_SYNTAX);
    else if (!long_value)
        CHECK(st != SPF_EXPAND_SYNTAX);
    if (st == SPF_EXPAND_OK) {
        CHECK(n < outsize && out[n] == '\0');
        if (!mode) check_name(macro, mlen, &ctx, out, n);
    } else {
        CHECK(why != NULL && n == 0 && out[0] == '\0');
    }
    free(out);
    free(macro);
    free(l);
    free(d);
    free(h);
    free(ptr);
    return 0;
}
