/*
 * Fuzz harness: bytes from a policy client -> the protocol parser -> transaction facts
 * (address re-quoting, IP and size parsing), for every request in the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate/gate.h"
#include "mail/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static txn_t *t;
    if (t == NULL)
        t = txn_new();
    policy_attr_t attrs[POLICY_ATTR_MAX];
    const char *buf = (const char *)data;
    size_t off = 0;
    while (off < size) {
        size_t n, used;
        const char *why;
        if (policy_parse(buf + off, size - off, attrs, POLICY_ATTR_MAX, &n, &used, &why) !=
            POLICY_PARSE_DONE)
            break;
        txn_reset(t, NULL, NULL);
        int stage = gate_facts_from_request(t, attrs, n);
        const facts_t *f = txn_facts(t);
        if (stage >= STAGE_MAIL && f->sender_len > 0) {
            /* re-quoting never shrinks an address and keeps its domain */
            addr_t a;
            (void)addr_parse((const unsigned char *)f->sender, f->sender_len, 0, &a);
            if (f->sender_len > 2 * POLICY_LINE_MAX + 2)
                abort();
        }
        off += used;
    }
    return 0;
}
