/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the console's event-batch validator over arbitrary
 * bytes, as POST /api/v1/events hands them to it.  It must never crash,
 * leak or accept a batch whose events break the rules; an accepted batch is
 * checked again here (ids, sizes, count).
 *
 * The fuzz build links libbulwark.a only, so the validator's source (pure:
 * jansson, no store, no sockets) is compiled into the target directly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/console/evbatch.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *events = NULL;
    int too_big = 0;
    bw_err_t err;
    if (bw_evbatch_validate((const char *)data, size, 20, &events, &too_big, &err) == BW_OK) {
        if (json_array_size(events) > 20)
            abort();
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            if (!id || strlen(id) != 32)
                abort();
            int64_t us;
            if (bw_evbatch_parse_time(json_string_value(json_object_get(e, "time")), &us) != BW_OK)
                abort();
            char *s = json_dumps(e, JSON_COMPACT);
            if (!s || strlen(s) > BW_EVBATCH_MAX_EVENT)
                abort();
            free(s);
        }
        json_decref(events);
    } else if (events) {
        abort(); /* a refused batch hands nothing back */
    }
    /* The time parser alone, over the same bytes as a C string. */
    char t[64];
    size_t n = size < sizeof(t) - 1 ? size : sizeof(t) - 1;
    memcpy(t, data, n);
    t[n] = 0;
    int64_t us;
    (void)bw_evbatch_parse_time(t, &us);
    return 0;
}
