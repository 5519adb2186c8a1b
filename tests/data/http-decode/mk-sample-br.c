/* SPDX-License-Identifier: Apache-2.0 */
/* Regenerates sample.br for tests/unit/test-http-decode.c (the unit tests
 * link only the brotli decoder):
 *   cc mk-sample-br.c -lbrotlienc -o /tmp/mk && /tmp/mk > sample.br */
#include <brotli/encode.h>
#include <stdio.h>

static size_t sample(char *buf, size_t cap) /* as in the test */
{
    size_t n = 0;
    for (unsigned i = 0; n + 64 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "line %u: the quick brown fox %x\n", i, i * 2654435761u);
    return n;
}

int main(void)
{
    static char text[20000];
    static unsigned char out[40000];
    size_t n = sample(text, sizeof(text)), on = sizeof(out);
    if (!BrotliEncoderCompress(11, 22, BROTLI_MODE_TEXT, n, (const uint8_t *)text, &on, out))
        return 1;
    return fwrite(out, 1, on, stdout) != on;
}
