/* SPDX-License-Identifier: Apache-2.0 */
/* Character classes that the protocol parsers share (RFC 9110 tokens and
 * optional whitespace, hex digits), one copy instead of one per parser.
 * Inline: the parsers call them for every byte of a header. */
#ifndef BW_CORE_CHARS_H
#define BW_CORE_CHARS_H

/* tchar: "!#$%&'*+-.^_`|~", digits and letters (RFC 9110, 5.6.2). */
static inline int bw_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

/* OWS: space or horizontal tab. */
static inline int bw_is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* ASCII lower case, whatever the locale. */
static inline int bw_ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* The value of one hex digit (either case), -1 for anything else. */
static inline int bw_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
