/* SPDX-License-Identifier: Apache-2.0 */
/* bw_buf_put_field: a report-log field that no value can split or forge. */
#include <string.h>

#include "core/buf.h"
#include "t.h"

static char *field(const char *s)
{
    static char out[1024];
    bw_buf_t b = {0};
    bw_buf_put_field(&b, s);
    bw_buf_append(&b, "", 1);
    snprintf(out, sizeof out, "%s", b.oom ? "(oom)" : b.p);
    bw_buf_free(&b);
    return out;
}

TEST(plain_text_is_unchanged)
{
    CHECK_STR(field("192.0.2.7"), "192.0.2.7");
    CHECK_STR(field("http://example.com/a?b=c&d"), "http://example.com/a?b=c&d");
}

TEST(empty_and_null_are_a_dash_and_a_dash_is_escaped)
{
    CHECK_STR(field(""), "-");
    CHECK_STR(field(NULL), "-");
    CHECK_STR(field("-"), "%2D");
    CHECK_STR(field("--"), "--");
}

TEST(spaces_controls_high_bytes_and_percent_are_encoded)
{
    CHECK_STR(field("9.9.9.9 - RESPMOD http://forged 0 CLEAN"),
              "9.9.9.9%20-%20RESPMOD%20http://forged%200%20CLEAN");
    CHECK_STR(field("a\r\nb\tc"), "a%0D%0Ab%09c");
    CHECK_STR(field("caf\xff\xfe\x7f"), "caf%FF%FE%7F");
    CHECK_STR(field("100%"), "100%25");
}

int main(void)
{
    return t_run();
}
