/* SPDX-License-Identifier: Apache-2.0 */
/* unpack-mem: a per-thread heap budget for libarchive and its decoders.
 *
 * Why an allocator wrapper.  libarchive sizes many allocations from header
 * fields before it has read the data they describe: a 7z header of 100
 * bytes declares 3 x 10^8 substreams and libarchive callocs 3.9 GB and
 * zeroes it; a 7z/xz/lzma coder declares a 4 GiB dictionary and liblzma
 * mallocs it; a cpio name length of 3 GB grows the read-ahead buffer to 3 GB.
 * The options were:
 *
 *  - check declared sizes ourselves before libarchive sees the stream.  That
 *    means a second parser per format (7z alone: packed/encoded headers whose
 *    counts are only visible after LZMA-decoding them, per-coder properties
 *    for LZMA, LZMA2, PPMd, BCJ2; zip, rar, rar5 dictionaries; cpio, tar,
 *    iso9660, xar lengths) that has to stay in step with every libarchive
 *    release, and whatever it misses is still unbounded;
 *  - unpack in a helper process under RLIMIT_AS.  Robust, but a fork per
 *    container in the daemon's hot path, member data over a pipe, and
 *    RLIMIT_AS cannot be combined with AddressSanitizer (it reserves
 *    terabytes of shadow), so the sanitizer and fuzz builds would not test
 *    the bound at all;
 *  - bound the heap itself.  glibc >= 2.34 has no malloc hooks, but it
 *    supports replacing malloc: a program may define malloc, calloc,
 *    realloc and free and forward them to __libc_malloc and friends.
 *
 * We take the third: whatever libarchive (or liblzma, zlib, bzip2, zstd,
 * libxml2 under it) asks for is counted, and a request that would take the
 * thread's live total over the budget fails like an exhausted heap: the
 * library reports ENOMEM, and bw_unpack turns that into TOO_LARGE "limits
 * exceeded: max unpack memory" (the container's raw bytes were scanned
 * already).  Counting is switched on only inside the calls into libarchive
 * (bw_umem_open/close around each), so our own scanning, other threads and
 * the rest of the program pay one thread-local test per allocation and are
 * never refused.  The budget spans nested containers on one thread: the
 * outer archive's buffers stay counted while an inner one is opened.
 * Frees subtract malloc_usable_size, so the count is exact for blocks made
 * in a window; the count restarts at the outermost container.
 *
 * Under AddressSanitizer the sanitizer owns malloc (its definitions are weak
 * aliases of __interceptor_malloc, ...): ours take precedence and forward to
 * those, so the sanitizer builds and the fuzzers keep both the budget and
 * ASan's checks.  posix_memalign/aligned_alloc/reallocarray are not wrapped:
 * libarchive and its decoders do not use them for data-sized buffers, and
 * blocks they return are freed correctly through ours.
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/unpack-mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define BW_UMEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BW_UMEM_ASAN 1
#endif
#endif

#ifdef BW_UMEM_ASAN
#define REAL(f) __interceptor_##f
#else
#define REAL(f) __libc_##f
#endif

extern void *REAL(malloc)(size_t n);
extern void *REAL(calloc)(size_t n, size_t m);
extern void *REAL(realloc)(void *p, size_t n);
extern void REAL(free)(void *p);

static __thread struct {
    int on;         /* inside a call into libarchive */
    int refused;    /* a request was refused since the window opened */
    unsigned depth; /* nested bw_umem_begin */
    size_t live;    /* bytes held by blocks made inside windows */
    size_t cap;
} um;

void bw_umem_begin(uint64_t cap)
{
    if (um.depth++ == 0) {
        um.live = 0;
        um.cap = cap > SIZE_MAX ? SIZE_MAX : (size_t)cap;
    }
}

void bw_umem_end(void)
{
    if (um.depth && --um.depth == 0)
        um.live = 0;
}

void bw_umem_open(void)
{
    um.on = um.depth > 0;
}

int bw_umem_close(void)
{
    int r = um.refused;
    um.on = 0;
    um.refused = 0;
    return r;
}

uint64_t bw_umem_live(void)
{
    return um.live;
}

/* May a block of n more bytes be made?  Sets refused when not. */
static int fits(size_t n)
{
    if (n <= um.cap && um.live <= um.cap - n)
        return 1;
    um.refused = 1;
    return 0;
}

static void took(void *p)
{
    if (p)
        um.live += malloc_usable_size(p);
}

static void gave(void *p)
{
    size_t u = malloc_usable_size(p);
    um.live = u > um.live ? 0 : um.live - u;
}

void *malloc(size_t n)
{
    if (!um.on)
        return REAL(malloc)(n);
    if (!fits(n)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = REAL(malloc)(n);
    took(p);
    return p;
}

void *calloc(size_t n, size_t m)
{
    if (!um.on)
        return REAL(calloc)(n, m);
    size_t t;
    if (__builtin_mul_overflow(n, m, &t) || !fits(t)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = REAL(calloc)(n, m);
    took(p);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (!um.on)
        return REAL(realloc)(old, n);
    size_t had = old ? malloc_usable_size(old) : 0;
    if (n > had && !fits(n - had)) {
        errno = ENOMEM;
        return NULL; /* old stays valid, as realloc promises */
    }
    void *p = REAL(realloc)(old, n);
    if (p || n == 0) {
        um.live = had > um.live ? 0 : um.live - had;
        took(p);
    }
    return p;
}

void free(void *p)
{
    if (p && um.on)
        gave(p);
    REAL(free)(p);
}
