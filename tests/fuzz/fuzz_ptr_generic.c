/*
 * Fuzz harness for ptr_generic_check. Input: one selector byte (value % 3: 0 = IPv4, the next
 * 4 bytes are the address; 1 = IPv6, the next 16 bytes; 2 = no address), then the PTR name.
 * The name is copied to an exact-size buffer so that a read past len trips the sanitizer in
 * the corpus replay too. Checks the evidence contract: a span inside the name when generic,
 * no rule otherwise, and the same answer whether or not evidence is asked for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check/ptr_generic.h"
#include "util/ipaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ipaddr_t ip;
    memset(&ip, 0, sizeof ip);
    size_t used = 1;
    switch (data[0] % 3) {
    case 0:
        if (size < 5)
            return 0;
        ip.family = 4;
        memcpy(ip.a, data + 1, 4);
        used = 5;
        break;
    case 1:
        if (size < 17)
            return 0;
        ip.family = 6;
        memcpy(ip.a, data + 1, 16);
        used = 17;
        break;
    default:
        break;
    }
    size_t len = size - used;
    char *name = malloc(len > 0 ? len : 1);
    if (name == NULL)
        return 0;
    memcpy(name, data + used, len);

    ptr_generic_match_t m;
    bool generic = ptr_generic_check(name, len, &ip, &m);
    if (generic) {
        if (m.rule == NULL || m.len == 0 || m.off > len || m.len > len - m.off)
            abort();
    } else if (m.rule != NULL || m.off != 0 || m.len != 0) {
        abort();
    }
    if (ptr_generic_check(name, len, &ip, NULL) != generic)
        abort();
    if (ptr_generic_check(name, len, NULL, NULL) && !generic && ip.family == 0)
        abort();
    free(name);
    return 0;
}
