/*
 * fuzz_dnsrdata: the DNS name and reply parsers of src/dns/rdata.c.
 *
 * Each input is tried two ways:
 * - as a name in presentation form: if it parses, its canonical text must parse back to
 *   the same wire form (the cache key and the name sent to libunbound agree);
 * - as a reply: the first two bytes are the type asked, the rest is the message; the
 *   question name is the message's own (or www.example when it has none). Whatever
 *   parses must stay inside the limits of rdata.h.
 * Seeds in tests/fuzz/corpus/dnsrdata are replies libunbound produced for the zone of
 * tests/unit/test_dns.c, hand-made hostile messages and names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/rdata.h"

static void check_name(const uint8_t *data, size_t size)
{
    unsigned char w1[RDATA_WIRE_MAX], w2[RDATA_WIRE_MAX];
    size_t l1, l2;
    char text[RDATA_TEXT_MAX];
    if (rdata_name_parse((const char *)data, size, w1, &l1) != 0)
        return;
    if (l1 < 1 || l1 > RDATA_WIRE_MAX)
        abort();
    size_t n = rdata_name_format(w1, l1, text);
    if (n >= RDATA_TEXT_MAX || strlen(text) != n)
        abort();
    if (l1 == 1)
        return; /* the root formats as "" */
    if (rdata_name_parse(text, n, w2, &l2) != 0 || l2 != l1 || memcmp(w1, w2, l1) != 0)
        abort();
}

static void check_reply(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    uint16_t qtype = (uint16_t)(data[0] << 8 | data[1]);
    const unsigned char *msg = data + 2;
    size_t len = size - 2, off = 12;
    unsigned char q[RDATA_WIRE_MAX];
    size_t qlen;
    if (len < 12 || rdata_name_unpack(msg, len, &off, q, &qlen) != 0) {
        static const unsigned char www[] = "\3www\7example";
        memcpy(q, www, sizeof www);
        qlen = sizeof www;
    }
    rdata_set_t set;
    rdata_set_init(&set);
    if (rdata_parse_reply(msg, len, q, qlen, qtype, &set) == 0) {
        if (set.cnames > RDATA_CHAIN_MAX)
            abort();
        for (size_t i = 0; i < set.count; i++) {
            const rdata_rr_t *rr = &set.rr[i];
            if (rr->type != qtype)
                abort();
            if (rr->has_name &&
                (rr->name_off >= set.text.len ||
                 strnlen(set.text.data + rr->name_off, set.text.len - rr->name_off) >=
                     RDATA_TEXT_MAX))
                abort();
            if (rr->has_txt &&
                (rr->txt_off >= set.text.len || rr->txt_len >= set.text.len - rr->txt_off))
                abort();
        }
    }
    rdata_set_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_name(data, size);
    check_reply(data, size);
    return 0;
}
