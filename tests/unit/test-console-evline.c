/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP event lines made by the line builder (bw_evline_*, the Clean = yes
 * path) pass the console's batch validator as they are, hostile values
 * included: the node's forwarder sends spool lines verbatim in
 * {"events":[...]}, so a line the validator refused would stall a batch. */
#include <jansson.h>

#include "bulwark/core.h"
#include "console/evbatch.h"
#include "events/event.h"
#include "t.h"

static void icap_line(bw_evline_t *l, const char *type, const char *v)
{
    bw_evline_begin(l, "icap", type, BW_SEV_HIGH);
    bw_evline_str(l, "verdict", "INFECTED");
    bw_evline_str(l, "action", "deny");
    bw_evline_arr(l, "threats");
    bw_evline_elem(l, v);
    bw_evline_end(l, ']');
    bw_evline_obj(l, "object");
    bw_evline_str(l, "url", v);
    bw_evline_int(l, "size", 68);
    bw_evline_end(l, '}');
    bw_evline_obj(l, "client");
    bw_evline_str(l, "ip", "192.0.2.1");
    bw_evline_str(l, "user", v);
    bw_evline_str(l, "group", "default");
    bw_evline_end(l, '}');
    bw_evline_str(l, "method", "RESPMOD");
}

TEST(evline_events_pass_the_batch_validator)
{
    bw_event_set_node("node \"a\"");
    const char *vals[] = {"http://example.com/x.js", "a\"b\\c\x01\x1f/<script>",
                          "bad \xFF utf8 \xC0\xAF", "caf\xC3\xA9"};
    char body[65536];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"events\":[");
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        bw_evline_t l;
        icap_line(&l, i % 2 ? "scan" : "detection", vals[i]);
        size_t len;
        const char *s = bw_evline_text(&l, &len);
        CHECK(s != NULL && n + len + 4 < sizeof body);
        if (s && n + len + 4 < sizeof body) {
            if (i)
                body[n++] = ',';
            memcpy(body + n, s, len);
            n += len;
        }
        bw_evline_free(&l);
    }
    n += (size_t)snprintf(body + n, sizeof body - n, "]}");
    json_t *events = NULL;
    int too_big = 0;
    bw_err_t err = {{0}};
    int rc = bw_evbatch_validate(body, n, 100, &events, &too_big, &err);
    if (rc != BW_OK)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_EQ(rc, BW_OK);
    CHECK_EQ(json_array_size(events), 4);
    json_decref(events);
}

int main(void)
{
    return t_run();
}
