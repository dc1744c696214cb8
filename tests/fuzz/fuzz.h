/*
 * What the fuzz harnesses share. CHECK(c) aborts when a contract the harness checks is
 * broken, so that libFuzzer (or the corpus replay under the sanitizers) reports the input.
 */
#ifndef MB_TESTS_FUZZ_H
#define MB_TESTS_FUZZ_H

#include <stdlib.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#endif
