/*
 * fuzz_explain: libFuzzer harness for src/explain/explain.c, the whole path of `mailblock
 * explain`: form detection, the line-ending normalisation, the bounce reader or the reply
 * parser, then the classifier. Aborts when a result breaks explain.h's contract: a known
 * reason, a reply code of 0 or 200..599, bounded strings, a hard bounce
 * only with a permanent code or no code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain/explain.h"

#include "fuzz.h"

static arena_t *arena;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new();
    arena_reset(arena);
    ex_report_t rep;
    const char *why = NULL;
    if (explain_input(data, size, arena, &rep, &why) != 0) {
        CHECK(why != NULL);
        return 0;
    }
    CHECK(rep.nresults <= BOUNCE_RCPT_MAX);
    for (size_t i = 0; i < rep.nresults; i++) {
        const ex_result_t *r = &rep.results[i];
        CHECK((unsigned)r->reason < EX_REASON_COUNT);
        CHECK(ex_reason_name(r->reason) != NULL);
        CHECK(r->reply_code == 0 || (r->reply_code >= 200 && r->reply_code <= 599));
        CHECK(r->status != NULL && strlen(r->status) < 32);
        /* texts are bounded by the readers' limits (charset conversion may make them
         * longer than the input, never unbounded) */
        CHECK(r->text != NULL && strlen(r->text) <= 65536);
        if (r->recipient != NULL)
            CHECK(strlen(r->recipient) <= 65536);
        CHECK(explain_explanation(r) != NULL && explain_fix(r) != NULL);
        if (r->hard)
            CHECK(r->reply_code == 0 || r->reply_code >= 500);
    }
    return 0;
}
