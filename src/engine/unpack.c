/* SPDX-License-Identifier: Apache-2.0 */
/* bw_unpack: open a spooled container with libarchive and scan its members.
 *
 * Design decisions:
 *
 * - Only the formats (and compression filters) that the detected type calls
 *   for are registered.  archive_read_support_format_all would let text files
 *   parse as mtree, and archive_read_support_filter_all registers filters
 *   that fork external programs (lrzip, lzop, grzip) - unacceptable on
 *   untrusted input.  A compressed stream gets the five in-process filters;
 *   if its first decompressed bytes carry a tar or cpio magic it is opened
 *   as that archive (".tar.gz" is one open: filter + tar), otherwise it is
 *   one member named after the gzip header's FNAME or "(gzip)", and the
 *   child scan's own detection finds whatever is inside (see
 *   unpack_stream).
 * - Members are streamed into child scans, never written anywhere.  The
 *   archive is read through our own callbacks over the spool (memory, or
 *   pread on the temporary file), which give libarchive the seek it needs for
 *   zip's central directory and 7z.
 * - Every way out is a status, never a silent clean: encrypted -> PROTECTED
 *   "Heuristics.Encrypted.<Fmt>"; broken after a STRONG magic -> CORRUPTED
 *   "Broken.Container: <fmt>: <why>"; a WEAK magic failing before its first
 *   member is simply not a container.  Limits: depth and member count ->
 *   ERROR, member size -> TOO_LARGE, compression ratio -> ERROR, scanned
 *   bytes and time -> whatever bw_scan_check_budget reports at the root.
 *   docs/containers.md has the table.
 * - A limit of 0 means "no limit" (as in ClamAV), but recursion depth and
 *   entries per container still have hard caps so that a quine cannot run
 *   the stack out.
 * - Memory: libarchive sizes allocations from header fields (a 100-byte 7z
 *   declares gigabytes of substream tables).  Every call into it runs
 *   inside a per-thread heap budget (unpack-mem.c: why an allocator
 *   wrapper); a refused allocation makes the container TOO_LARGE
 *   "limits exceeded: max unpack memory", never CORRUPTED.  The raw bytes
 *   of the container were scanned before it is opened (scan.c).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/scan-int.h"
#include "engine/unpack-mem.h"
#include "engine/unpack-name.h"

#define HARD_MAX_DEPTH 64u
#define HARD_MAX_ENTRIES 1000000u
#define RATIO_FLOOR (1u << 20)   /* bytes any container may unpack whatever its size */
#define FEED_CHUNK (256u << 10)  /* budget checks at least this often */
#define READ_BLOCK (64u << 10)
#define MAX_FAILURES 64          /* per-entry failures before giving up on a container */
#define HARD_MAX_UNPACK_MEM (2ull << 30) /* max_unpack_mem = 0 */
#define MEM_REASON "limits exceeded: max unpack memory"

typedef struct src {
    const bw_spool_t *sp;
    const uint8_t *mem;  /* NULL: read the spool's file */
    uint64_t pos;
    uint8_t *buf;
} src_t;

static la_ssize_t src_read(struct archive *a, void *ud, const void **out)
{
    src_t *s = ud;
    if (s->pos >= s->sp->size) {
        *out = NULL;
        return 0;
    }
    if (s->mem) {
        uint64_t left = s->sp->size - s->pos;
        size_t n = left > (1u << 30) ? (1u << 30) : (size_t)left;
        *out = s->mem + s->pos;
        s->pos += n;
        return (la_ssize_t)n;
    }
    ssize_t r = bw_spool_pread(s->sp, s->buf, READ_BLOCK, s->pos);
    if (r < 0) {
        archive_set_error(a, errno, "spool read failed");
        return -1;
    }
    *out = s->buf;
    s->pos += (uint64_t)r;
    return r;
}

static la_int64_t src_skip(struct archive *a, void *ud, la_int64_t req)
{
    src_t *s = ud;
    if (req <= 0)
        return 0;
    uint64_t left = s->sp->size - s->pos;
    uint64_t n = (uint64_t)req < left ? (uint64_t)req : left;
    s->pos += n;
    return (la_int64_t)n;
}

static la_int64_t src_seek(struct archive *a, void *ud, la_int64_t off, int whence)
{
    src_t *s = ud;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)s->pos
                                                               : (int64_t)s->sp->size;
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return ARCHIVE_FATAL;
    int64_t np = base + off;
    s->pos = (uint64_t)np > s->sp->size ? s->sp->size : (uint64_t)np;
    return (la_int64_t)s->pos;
}

static const char *enc_name(bw_ftype_t t)
{
    switch (t) {
    case BW_FT_ZIP: return "Heuristics.Encrypted.Zip";
    case BW_FT_7Z: return "Heuristics.Encrypted.7Zip";
    case BW_FT_RAR: return "Heuristics.Encrypted.RAR";
    default: return "Heuristics.Encrypted.Archive";
    }
}

static int is_encryption_error(struct archive *a)
{
    const char *m = archive_error_string(a);
    return m && (strcasestr(m, "encrypt") || strcasestr(m, "password") ||
                 strcasestr(m, "passphrase") || strcasestr(m, "decryption"));
}

/* How a compressed stream is opened: first PROBE (filters + raw) to look
 * at the first decompressed bytes, then, if they hold a tar or cpio magic,
 * again as ARCHIVE (filters + tar + cpio). */
enum { PROBE = 1, ARCHIVE = 2 };

/* Registers what type t needs.  Returns ARCHIVE_OK or an error. */
static int setup_formats(struct archive *a, bw_ftype_t t, int mode)
{
    int r = ARCHIVE_OK;
#define TRY(call) do { int r_ = (call); if (r_ < r && r_ != ARCHIVE_WARN) r = r_; } while (0)
    switch (t) {
    case BW_FT_ZIP: TRY(archive_read_support_format_zip(a)); break;
    case BW_FT_7Z: TRY(archive_read_support_format_7zip(a)); break;
    case BW_FT_RAR:
        TRY(archive_read_support_format_rar(a));
        TRY(archive_read_support_format_rar5(a));
        break;
    case BW_FT_CAB: TRY(archive_read_support_format_cab(a)); break;
    case BW_FT_TAR: TRY(archive_read_support_format_tar(a)); break;
    case BW_FT_CPIO: TRY(archive_read_support_format_cpio(a)); break;
    case BW_FT_ISO9660: TRY(archive_read_support_format_iso9660(a)); break;
    case BW_FT_AR: TRY(archive_read_support_format_ar(a)); break;
    case BW_FT_LHA: TRY(archive_read_support_format_lha(a)); break;
    case BW_FT_XAR: TRY(archive_read_support_format_xar(a)); break;
    case BW_FT_GZIP: case BW_FT_BZIP2: case BW_FT_XZ: case BW_FT_LZMA: case BW_FT_ZSTD:
        TRY(archive_read_support_filter_gzip(a));
        TRY(archive_read_support_filter_bzip2(a));
        TRY(archive_read_support_filter_xz(a));
        TRY(archive_read_support_filter_lzma(a));
        TRY(archive_read_support_filter_zstd(a));
        if (mode == ARCHIVE) {
            TRY(archive_read_support_format_tar(a));
            TRY(archive_read_support_format_cpio(a));
        } else {
            TRY(archive_read_support_format_raw(a));
            TRY(archive_read_support_format_empty(a));
        }
        break;
    default:
        return ARCHIVE_FATAL;
    }
#undef TRY
    return r;
}

/* What a step tells the loop around it. */
enum { GO = 0, STOP = 1, OOM = 2, NEXT = 3 };

typedef struct unpack {
    bw_scan_t *s;
    const bw_limits_t *lim;
    bw_ftype_t t;
    int strong;
    struct archive *a;
    src_t *src;
    uint64_t unpacked;   /* bytes fed to children, for the ratio bound */
    uint64_t ratio_cap;  /* 0: no bound */
    uint32_t entries;
    int failures;
    int compressed;      /* a filter sits under the format: skipping costs inflating */
    int mem_refused;     /* libarchive was refused memory (unpack-mem.c) */
    int mem_reported;
    char raw_name[BW_MEMBER_NAME_MAX];
} unpack_t;

/* Calls into libarchive, each inside the heap budget's window. */
static int lib_next_header(unpack_t *u, struct archive_entry **e)
{
    bw_umem_open();
    int r = archive_read_next_header(u->a, e);
    u->mem_refused |= bw_umem_close();
    return r;
}

static int lib_data_block(unpack_t *u, const void **buf, size_t *size, la_int64_t *off)
{
    bw_umem_open();
    int r = archive_read_data_block(u->a, buf, size, off);
    u->mem_refused |= bw_umem_close();
    return r;
}

static void lib_free(unpack_t *u)
{
    if (!u->a)
        return;
    bw_umem_open();
    archive_read_free(u->a);
    u->mem_refused |= bw_umem_close();
    u->a = NULL;
}

/* TOO_LARGE for a refused allocation, once per container. */
static int report_mem(unpack_t *u, bw_scan_t *at)
{
    if (!u->mem_refused)
        return 0;
    if (!u->mem_reported)
        bw_scan_report(at, BW_TOO_LARGE, MEM_REASON, NULL);
    u->mem_reported = 1;
    return 1;
}

/* CORRUPTED with libarchive's reason; a member stored with a method
 * libarchive cannot decode (implode, deflate64) is no corruption but a
 * member we could not scan: ERROR, "Unsupported.Container: ...". */
static void report_broken(unpack_t *u, bw_scan_t *at, const char *why)
{
    if (report_mem(u, at))
        return;
    char reason[256];
    const char *m = why ? why : archive_error_string(u->a);
    int unsupported = m && strcasestr(m, "unsupported");
    snprintf(reason, sizeof reason, "%s: %s: %s",
             unsupported ? "Unsupported.Container" : "Broken.Container", bw_ftype_name(u->t),
             m ? m : "truncated or unreadable header");
    bw_reason_clean(reason);
    bw_scan_report(at, unsupported ? BW_ERROR : BW_CORRUPTED, reason, NULL);
}

/* A data or header error from libarchive, reported at `at`. */
static void report_error(unpack_t *u, bw_scan_t *at)
{
    if (report_mem(u, at))
        return;
    if (is_encryption_error(u->a))
        bw_scan_report(at, BW_PROTECTED, enc_name(u->t), NULL);
    else
        report_broken(u, at, NULL);
}

/* Feeds bytes of one member to child under the file-size, ratio and budget
 * limits.  *member counts the member's bytes so far.  Returns GO (keep
 * feeding), NEXT (this member is finished), STOP (the container is) or OOM. */
static int feed_bytes(unpack_t *u, bw_scan_t *child, const uint8_t *p, size_t size,
                      uint64_t *member)
{
    uint64_t fmax = u->lim->max_file_size;
    while (size) {
        size_t n = size > FEED_CHUNK ? FEED_CHUNK : size;
        if (fmax && *member + n > fmax) {
            n = (size_t)(fmax - *member);
            if (n && bw_scan_feed(child, p, n) == BW_ERR)
                return OOM;
            bw_scan_report(child, BW_TOO_LARGE, "limits exceeded: max file size", NULL);
            /* Skipping the rest of a compressed stream means inflating it
             * all: give up on the container instead. */
            return u->compressed ? STOP : NEXT;
        }
        if (u->ratio_cap && u->unpacked + n > u->ratio_cap) {
            bw_scan_report(u->s, BW_ERROR, "limits exceeded: compression ratio (bomb?)", NULL);
            return STOP;
        }
        int fr = bw_scan_feed(child, p, n);
        *member += n;
        u->unpacked += n;
        p += n;
        size -= n;
        if (fr == BW_ERR)
            return OOM;
        if (bw_scan_check_budget(u->s) == BW_DONE)
            return STOP;
        if (fr == BW_DONE) /* this member is decided; the caller asks about the rest */
            return NEXT;
    }
    return GO;
}

/* A member whose reads bring no bytes and no end. */
static void report_no_progress(unpack_t *u, bw_scan_t *at)
{
    const char *m = archive_error_string(u->a);
    report_broken(u, at, m ? m : "no progress reading a member's data");
}

/* Feeds the rest of the current member's data to child: GO (on to the next
 * member), STOP or OOM. */
static int feed_member(unpack_t *u, bw_scan_t *child, uint64_t member)
{
    int retries = 0, idle = 0;
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = lib_data_block(u, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            return GO;
        if (r == ARCHIVE_RETRY && ++retries <= MAX_FAILURES)
            continue;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            report_error(u, child);
            if (r == ARCHIVE_FATAL || r == ARCHIVE_RETRY || ++u->failures > MAX_FAILURES)
                return STOP;
            return GO;
        }
        /* libarchive's lha reader can answer ARCHIVE_WARN ("data CRC
         * error") with no bytes and no end, forever: give up after a run of
         * calls that bring nothing. */
        if (size == 0) {
            if (++idle > MAX_FAILURES) {
                report_no_progress(u, child);
                return STOP;
            }
            continue;
        }
        idle = 0;
        int fr = feed_bytes(u, child, buf, size, &member);
        if (fr == NEXT)
            return GO;
        if (fr != GO)
            return fr;
    }
}

/* Handles one entry whose header was read: GO, STOP or OOM. */
static int do_entry(unpack_t *u, struct archive_entry *e)
{
    char name[BW_MEMBER_NAME_MAX];
    bw_umem_open(); /* the name may be converted (and allocated) here */
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        raw = archive_entry_pathname_utf8(e);
    bw_member_name(raw, name, sizeof name);
    u->mem_refused |= bw_umem_close();

    if (archive_entry_filetype(e) != AE_IFREG)
        return GO; /* directories, links, devices: no data of their own */
    if (archive_entry_is_encrypted(e)) {
        bw_scan_report(u->s, BW_PROTECTED, enc_name(u->t), name);
        return GO;
    }
    if (u->lim->max_file_size && archive_entry_size_is_set(e) &&
        archive_entry_size(e) > 0 && (uint64_t)archive_entry_size(e) > u->lim->max_file_size) {
        bw_scan_report(u->s, BW_TOO_LARGE, "limits exceeded: max file size", name);
        return u->compressed ? STOP : GO;
    }
    bw_scan_t *child = bw_scan_begin_child(u->s, name);
    if (!child)
        return OOM;
    int r = feed_member(u, child, 0);
    if (bw_scan_end_child(child) != BW_OK)
        return OOM;
    if (r != GO)
        return r;
    return bw_scan_decided(u->s) ? STOP : GO;
}

/* The member loop of an opened archive.  Returns BW_OK or BW_ERR (OOM). */
static int run(unpack_t *u)
{
    struct archive_entry *e;
    int retries = 0;
    for (;;) {
        if (bw_scan_check_budget(u->s) == BW_DONE || bw_scan_decided(u->s))
            return BW_OK;
        int r = lib_next_header(u, &e);
        if (r == ARCHIVE_EOF)
            return BW_OK;
        if (r == ARCHIVE_RETRY) {
            if (++retries > MAX_FAILURES) {
                report_broken(u, u->s, NULL);
                return BW_OK;
            }
            continue;
        }
        if (r == ARCHIVE_FATAL || r == ARCHIVE_FAILED) {
            if (u->strong || u->entries > 0 || u->mem_refused || is_encryption_error(u->a))
                report_error(u, u->s);
            if (r == ARCHIVE_FATAL || ++u->failures > MAX_FAILURES)
                return BW_OK;
            continue;
        }
        u->entries++;
        uint32_t maxf = u->lim->max_files ? u->lim->max_files : HARD_MAX_ENTRIES;
        if (u->entries > maxf || u->entries > HARD_MAX_ENTRIES) {
            bw_scan_report(u->s, BW_ERROR, "limits exceeded: max files", NULL);
            return BW_OK;
        }
        int dr = do_entry(u, e);
        if (dr == OOM)
            return BW_ERR;
        if (dr == STOP)
            return BW_OK;
    }
}

/* open_archive's calls into libarchive (inside the budget's window).
 * Returns 1 open, 0 not, -1 no archive object, -2 no format support. */
static int open_archive_in(unpack_t *u, int mode)
{
    u->a = archive_read_new();
    if (!u->a)
        return -1;
    if (setup_formats(u->a, u->t, mode) != ARCHIVE_OK)
        return -2;
    archive_read_set_read_callback(u->a, src_read);
    archive_read_set_skip_callback(u->a, src_skip);
    archive_read_set_seek_callback(u->a, src_seek);
    archive_read_set_callback_data(u->a, u->src);
    if (archive_read_open1(u->a) != ARCHIVE_OK)
        return 0;
    u->compressed = archive_filter_count(u->a) > 1;
    return 1;
}

/* Opens the spool as type t in the given mode into u->a.  Returns 1 when
 * open, 0 when not (reported as a finding where that is one), -1 on OOM. */
static int open_archive(unpack_t *u, int mode)
{
    u->src->pos = 0;
    bw_umem_open();
    int o = open_archive_in(u, mode);
    u->mem_refused |= bw_umem_close();
    if (o == 1)
        return 1;
    if (report_mem(u, u->s))
        return 0;
    if (o == -1)
        return -1;
    if (o == -2)
        bw_scan_report(u->s, BW_ERROR, "unpack: format support unavailable", NULL);
    else if (is_encryption_error(u->a))
        bw_scan_report(u->s, BW_PROTECTED, enc_name(u->t), NULL);
    else if (u->strong)
        report_broken(u, u->s, NULL);
    return 0;
}

/* A compressed stream.  libarchive's tar reader takes a block of zeros for
 * an (empty) archive and stops there, so a stream that merely starts with
 * zeros would hide everything after them.  So the stream is first opened
 * raw; only if its first decompressed bytes carry a STRONG tar or cpio magic
 * is it reopened as an archive (".tar.gz" = one open, members at
 * "x.tar.gz/dir/file").  Anything else is one member, and the child scan's
 * own detection finds what is inside. */
static int unpack_stream(unpack_t *u)
{
    int o = open_archive(u, PROBE);
    if (o <= 0)
        return o < 0 ? BW_ERR : BW_OK;
    if (!u->compressed) {
        /* No filter took the stream (libarchive's lzma bidder refuses a
         * dictionary over 128 MiB, for one), so the raw reader would hand
         * back the same bytes, detected as the same type again, down to the
         * depth cap.  A strong magic says it is undecodable; a weak one is
         * not a container.  The raw bytes were scanned either way. */
        if (u->strong)
            report_broken(u, u->s, "no decoder accepts the stream's header");
        return BW_OK;
    }
    struct archive_entry *e;
    int r = lib_next_header(u, &e);
    if (r == ARCHIVE_EOF)
        return BW_OK;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        if (u->strong || u->mem_refused)
            report_error(u, u->s);
        return BW_OK;
    }

    uint8_t head[512];
    size_t hlen = 0;
    const uint8_t *rest = NULL;
    size_t restlen = 0;
    int eof = 0, err = 0, retries = 0, idle = 0;
    while (hlen < sizeof head) {
        const void *buf;
        size_t size;
        la_int64_t off;
        r = lib_data_block(u, &buf, &size, &off);
        if (r == ARCHIVE_EOF) {
            eof = 1;
            break;
        }
        if (r == ARCHIVE_RETRY && ++retries <= MAX_FAILURES)
            continue;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            err = 1;
            break;
        }
        if (size == 0 && ++idle > MAX_FAILURES) { /* see feed_member */
            err = 1;
            break;
        }
        size_t take = size < sizeof head - hlen ? size : sizeof head - hlen;
        memcpy(head + hlen, buf, take);
        hlen += take;
        rest = (const uint8_t *)buf + take;
        restlen = size - take;
    }

    int strong = 0;
    bw_ftype_t inner = bw_ftype_detect_ex(head, hlen, &strong);
    if (!err && strong && (inner == BW_FT_TAR || inner == BW_FT_CPIO)) {
        lib_free(u);
        o = open_archive(u, ARCHIVE);
        if (o <= 0)
            return o < 0 ? BW_ERR : BW_OK;
        return run(u);
    }

    bw_scan_t *child = bw_scan_begin_child(u->s, u->raw_name);
    if (!child)
        return BW_ERR;
    uint64_t member = 0;
    int fr = feed_bytes(u, child, head, hlen, &member);
    if (fr == GO && restlen)
        fr = feed_bytes(u, child, rest, restlen, &member);
    if (fr == GO && err)
        report_error(u, child);
    else if (fr == GO && !eof)
        fr = feed_member(u, child, member);
    if (bw_scan_end_child(child) != BW_OK || fr == OOM)
        return BW_ERR;
    return BW_OK;
}

static void raw_member_name(unpack_t *u, const uint8_t *head, size_t hlen)
{
    if (u->t == BW_FT_GZIP && bw_gzip_orig_name(head, hlen, u->raw_name, sizeof u->raw_name))
        return;
    snprintf(u->raw_name, sizeof u->raw_name, "(%s)", bw_ftype_name(u->t));
}

int bw_unpack(bw_scan_t *s, const bw_spool_t *sp, bw_ftype_t t)
{
    const bw_limits_t *lim = bw_scan_limits(s);
    if (!bw_ftype_is_container(t))
        return BW_OK;

    uint32_t maxd = lim->max_depth ? lim->max_depth : HARD_MAX_DEPTH;
    if (maxd > HARD_MAX_DEPTH)
        maxd = HARD_MAX_DEPTH;
    if (bw_scan_depth(s) + 1 > maxd) {
        bw_scan_report(s, BW_ERROR, "limits exceeded: max recursion depth", NULL);
        return BW_OK;
    }

    const uint8_t *head = bw_spool_mem(sp);
    size_t hlen = sp->size > BW_FTYPE_HEAD ? BW_FTYPE_HEAD : (size_t)sp->size;
    uint8_t *big = NULL;
    src_t src = {.sp = sp, .mem = head};
    if (!head) {
        big = malloc(BW_FTYPE_HEAD > READ_BLOCK ? BW_FTYPE_HEAD : READ_BLOCK);
        if (!big)
            return BW_ERR;
        ssize_t r = bw_spool_pread(sp, big, hlen, 0);
        hlen = r > 0 ? (size_t)r : 0;
        head = big;
        src.buf = big; /* reused for reads once detection is done */
    }
    unpack_t u = {.s = s, .lim = lim, .t = t, .src = &src};
    int strong = 1;
    bw_ftype_t again = bw_ftype_detect_ex(head, hlen, &strong);
    u.strong = again == t ? strong : 1;
    raw_member_name(&u, head, hlen);

    if (lim->max_ratio) {
        uint64_t cap;
        if (__builtin_mul_overflow((uint64_t)lim->max_ratio, sp->size, &cap))
            cap = UINT64_MAX;
        u.ratio_cap = cap < RATIO_FLOOR ? RATIO_FLOOR : cap;
    }

    int rc;
    bw_umem_begin(lim->max_unpack_mem ? lim->max_unpack_mem : HARD_MAX_UNPACK_MEM);
    if (bw_ftype_is_compression(t)) {
        rc = unpack_stream(&u);
    } else {
        int o = open_archive(&u, ARCHIVE);
        rc = o < 0 ? BW_ERR : o == 0 ? BW_OK : run(&u);
    }
    lib_free(&u);
    /* A refusal that libarchive got past without an error is still a part
     * of the container that may not have been looked at. */
    if (rc == BW_OK)
        report_mem(&u, s);
    bw_umem_end();
    free(big);
    return rc;
}
