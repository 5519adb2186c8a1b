/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP chunked-body decoder: resumable, one byte of framing at a time.
 *
 * Why a byte-level state machine and not "find the CRLF, then parse the
 * line" as the head parser does: a body is unbounded and arrives in pieces
 * the network chooses, so the decoder must never need to look back at bytes
 * it has already consumed.  Everything it needs to remember about a
 * half-read size line (the size so far, the extension name being read, the
 * value of use-original-body) lives in the caller's zeroed state struct, and
 * the chunk data itself is never copied: it comes back as slices of the
 * caller's buffer, as large as the buffer allows.
 *
 * Accepted (RFC 3507 4.5 and 7230 4.1, plus what real clients do):
 *   size     1*HEXDIG, leading zeros allowed, overflow is an error
 *   blanks   before ';', around '=' and after the line's content ("0 ; ieof",
 *            which some clients send); not before the digits
 *   ext      *( ";" name [ "=" ( token | quoted-string ) ] ); "ieof" is only
 *            valid on the zero-size chunk; "use-original-body=N" needs a
 *            decimal N; unknown extensions are skipped
 *   ends     CRLF or a bare LF; a CR not followed by LF is an error
 *   trailer  lines after the last chunk are skipped up to the empty line,
 *            bounded by BW_CHUNK_MAX_TRAILER bytes in all
 * The size line is bounded by BW_CHUNK_MAX_LINE.
 */
#include <string.h>

#include "bulwark/bulwark.h"
#include "core/chars.h"
#include "icap/icap-parse.h"


void bw_icap_chunk_reset(bw_icap_chunk_t *st) { memset(st, 0, sizeof *st); }

static bw_chunk_ev_t fail(bw_icap_chunk_t *st, size_t at, const char *reason)
{
    st->state = BW_CHS_ERROR;
    st->err.status = 400;
    st->err.offset = (size_t)(st->offset + at);
    st->err.reason = reason;
    return BW_CHUNK_ERROR;
}

static int name_is(const bw_icap_chunk_t *st, const char *lit)
{
    size_t n = strlen(lit);
    if (st->name_long || st->name_len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((st->name[i] | 0x20) != lit[i])
            return 0;
    return 1;
}

/* One extension is complete (with or without a value): act on it.
 * Returns a reason on error, NULL when fine. */
static const char *ext_done(bw_icap_chunk_t *st, int has_val)
{
    if (name_is(st, "ieof")) {
        st->line_ieof = 1;
    } else if (name_is(st, "use-original-body")) {
        if (!has_val || !st->val_len || st->val_nondigit)
            return "use-original-body needs a decimal value";
        if (st->val_overflow)
            return "use-original-body value too large";
        st->has_use_original_body = 1;
        st->use_original_body = st->val;
    }
    st->name_len = 0;
    st->name_long = 0;
    st->val = 0;
    st->val_len = 0;
    st->val_nondigit = 0;
    st->val_overflow = 0;
    return NULL;
}

static void val_byte(bw_icap_chunk_t *st, unsigned char c)
{
    st->val_len++;
    if (c < '0' || c > '9') {
        st->val_nondigit = 1;
        return;
    }
    if (st->val > (UINT64_MAX - 9) / 10)
        st->val_overflow = 1;
    else
        st->val = st->val * 10 + (c - '0');
}

/* The size line ended (its LF consumed). */
static bw_chunk_ev_t line_done(bw_icap_chunk_t *st, size_t at)
{
    if (st->size == 0) {
        if (st->has_use_original_body && st->line_ieof)
            return fail(st, at, "ieof and use-original-body on the same chunk");
        st->ieof = st->line_ieof;
        st->state = BW_CHS_TRAILER;
        st->line_len = 0;
    } else {
        if (st->line_ieof)
            return fail(st, at, "ieof on a chunk that is not the last");
        if (st->has_use_original_body)
            return fail(st, at, "use-original-body on a chunk that is not the last");
        st->state = BW_CHS_DATA;
    }
    return BW_CHUNK_NEED_MORE; /* "keep going" */
}

static void new_line(bw_icap_chunk_t *st)
{
    st->state = BW_CHS_SIZE;
    st->size = 0;
    st->ndigits = 0;
    st->line_len = 0;
    st->line_ieof = 0;
    st->name_len = 0;
    st->name_long = 0;
    st->val = 0;
    st->val_len = 0;
    st->val_nondigit = 0;
    st->val_overflow = 0;
}

bw_chunk_ev_t bw_icap_chunk_feed(bw_icap_chunk_t *st, const char *buf, size_t len,
                                 size_t *consumed, bw_icap_str_t *data)
{
    size_t i = 0;
    *consumed = 0;
    if (st->state == BW_CHS_ERROR)
        return BW_CHUNK_ERROR;
    if (st->state == BW_CHS_DONE)
        return BW_CHUNK_END;
    while (i < len) {
        unsigned char c = (unsigned char)buf[i];
        int hv;
        const char *why;
        uint8_t s = st->state;
        if (s <= BW_CHS_LINE_LF && ++st->line_len > BW_CHUNK_MAX_LINE)
            return fail(st, i, "chunk-size line too long");
        switch (s) {
        case BW_CHS_SIZE:
            if ((hv = bw_hexval(c)) >= 0) {
                if (st->size > (UINT64_MAX >> 4))
                    return fail(st, i, "chunk size too large");
                st->size = st->size << 4 | (unsigned)hv;
                st->ndigits++;
                break;
            }
            if (st->ndigits == 0)
                return fail(st, i, "chunk size is not a hexadecimal number");
            /* fall through: what follows the digits is handled as after-size */
            /* FALLTHROUGH */
        case BW_CHS_AFTER_SIZE:
            if (bw_is_ows(c))
                st->state = BW_CHS_AFTER_SIZE;
            else if (c == ';')
                st->state = BW_CHS_EXT_PRE_NAME;
            else if (c == '\r')
                st->state = BW_CHS_LINE_LF;
            else if (c == '\n') {
                if (line_done(st, i) == BW_CHUNK_ERROR)
                    return BW_CHUNK_ERROR;
            } else
                return fail(st, i, "invalid character in chunk-size line");
            break;
        case BW_CHS_EXT_PRE_NAME:
            if (bw_is_ows(c))
                break;
            if (!bw_is_tchar(c))
                return fail(st, i, "expected a chunk extension name");
            st->state = BW_CHS_EXT_NAME;
            /* FALLTHROUGH */
        case BW_CHS_EXT_NAME:
            if (bw_is_tchar(c)) {
                if (st->name_len < sizeof st->name)
                    st->name[st->name_len++] = (char)c;
                else
                    st->name_long = 1;
                break;
            }
            st->state = BW_CHS_EXT_POST_NAME;
            /* FALLTHROUGH */
        case BW_CHS_EXT_POST_NAME:
            if (bw_is_ows(c))
                break;
            if (c == '=') {
                st->state = BW_CHS_EXT_PRE_VAL;
                break;
            }
            if (c != ';' && c != '\r' && c != '\n')
                return fail(st, i, "invalid character in chunk extension");
            if ((why = ext_done(st, 0)))
                return fail(st, i, why);
            st->state = BW_CHS_AFTER_SIZE;
            i--; /* let AFTER_SIZE see the ';' or the line end */
            st->line_len--;
            break;
        case BW_CHS_EXT_PRE_VAL:
            if (bw_is_ows(c))
                break;
            if (c == '"') {
                st->state = BW_CHS_EXT_QVAL;
                break;
            }
            if (!bw_is_tchar(c))
                return fail(st, i, "expected a chunk extension value");
            st->state = BW_CHS_EXT_VAL;
            /* FALLTHROUGH */
        case BW_CHS_EXT_VAL:
            if (bw_is_tchar(c)) {
                val_byte(st, c);
                break;
            }
            if (!bw_is_ows(c) && c != ';' && c != '\r' && c != '\n')
                return fail(st, i, "invalid character in chunk extension value");
            if ((why = ext_done(st, 1)))
                return fail(st, i, why);
            st->state = BW_CHS_AFTER_SIZE;
            i--;
            st->line_len--;
            break;
        case BW_CHS_EXT_QVAL:
            if (c == '"') {
                if ((why = ext_done(st, 1)))
                    return fail(st, i, why);
                st->state = BW_CHS_AFTER_SIZE;
            } else if (c == '\\') {
                st->state = BW_CHS_EXT_QESC;
            } else if (c < 0x20 ? c != '\t' : c == 0x7f) {
                return fail(st, i, "control character in quoted chunk extension");
            } else {
                val_byte(st, c);
            }
            break;
        case BW_CHS_EXT_QESC:
            if (c < 0x20 ? c != '\t' : c == 0x7f)
                return fail(st, i, "control character in quoted chunk extension");
            val_byte(st, c);
            st->state = BW_CHS_EXT_QVAL;
            break;
        case BW_CHS_LINE_LF:
            if (c != '\n')
                return fail(st, i, "CR not followed by LF in chunk-size line");
            if (line_done(st, i) == BW_CHUNK_ERROR)
                return BW_CHUNK_ERROR;
            break;
        case BW_CHS_DATA: {
            size_t n = len - i;
            if ((uint64_t)n > st->size)
                n = (size_t)st->size;
            data->p = buf + i;
            data->n = n;
            st->size -= n;
            st->total += n;
            if (st->size == 0)
                st->state = BW_CHS_DATA_CR;
            i += n;
            *consumed = i;
            st->offset += i;
            return BW_CHUNK_DATA;
        }
        case BW_CHS_DATA_CR:
            if (c == '\r')
                st->state = BW_CHS_DATA_LF;
            else if (c == '\n')
                new_line(st);
            else
                return fail(st, i, "missing CRLF after chunk data");
            break;
        case BW_CHS_DATA_LF:
            if (c != '\n')
                return fail(st, i, "missing CRLF after chunk data");
            new_line(st);
            break;
        case BW_CHS_TRAILER:
        case BW_CHS_TRAILER_LINE:
            if (++st->line_len > BW_CHUNK_MAX_TRAILER)
                return fail(st, i, "chunked trailer too large");
            if (c == '\n') {
                if (s == BW_CHS_TRAILER)
                    goto done;
                st->state = BW_CHS_TRAILER;
            } else if (c == '\r') {
                st->state = s == BW_CHS_TRAILER ? BW_CHS_FINAL_LF : BW_CHS_TRAILER_LF;
            } else {
                st->state = BW_CHS_TRAILER_LINE;
            }
            break;
        case BW_CHS_TRAILER_LF:
            if (c != '\n')
                return fail(st, i, "CR not followed by LF in chunked trailer");
            st->state = BW_CHS_TRAILER;
            break;
        case BW_CHS_FINAL_LF:
            if (c != '\n')
                return fail(st, i, "CR not followed by LF after the last chunk");
            goto done;
        default:
            return fail(st, i, "chunk decoder in an invalid state");
        }
        i++;
    }
    *consumed = len;
    st->offset += len;
    return BW_CHUNK_NEED_MORE;
done:
    st->state = BW_CHS_DONE;
    *consumed = i + 1;
    st->offset += i + 1;
    return BW_CHUNK_END;
}
