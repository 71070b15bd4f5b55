/*
 * fuzz_common.h: what the two ring fuzz targets (fuzz_ring.c, the consumer
 * facing a hostile producer; fuzz_ring_producer.c, the producer facing a
 * hostile consumer) and the seed-corpus generator (mkcorpus.c) share: the
 * reader that turns fuzz input into bounded values, the input's geometry
 * prologue and opcode numbers (the wire format of every corpus file, so a
 * change here invalidates test/fuzz/corpus), the ring memory with guard
 * zones on both sides, an independent oracle of which ring headers are
 * valid, and the check that aborts so that libFuzzer records a crash.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ring.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#ifndef FUZZ_ASAN
#define FUZZ_ASAN 0
#endif
#if FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* libFuzzer's entry point; fuzz_main.c calls it too when built without
 * libFuzzer (gcc, plain `make check`). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort(), not exit(): libFuzzer only saves the input as a crash artifact
 * when the process dies from a signal or a sanitizer report. */
#define FUZZ_CHECK(expr)                                                                                     \
    do {                                                                                                     \
        if (!(expr)) {                                                                                       \
            fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", __FILE__, __LINE__, #expr);              \
            fflush(stderr);                                                                                  \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Input reader.  Past the end every read yields zeros, so any byte string is
 * a complete program and libFuzzer's truncations stay meaningful. */

typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in_t;

static inline uint8_t fin_u8(fuzz_in_t *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static inline uint16_t fin_u16(fuzz_in_t *in)
{
    uint16_t lo = fin_u8(in);
    return (uint16_t) (lo | (uint16_t) fin_u8(in) << 8);
}

/* Hands out up to n bytes without copying; returns how many. */
static inline size_t fin_take(fuzz_in_t *in, size_t n, const uint8_t **out)
{
    if (n > in->n) {
        n = in->n;
    }
    *out = in->p;
    in->p += n;
    in->n -= n;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Geometry prologue: three bytes.
 *   g0  bits 0-2: ncells = 4 << (v % 7), 4..256 cells (bigger rings only
 *                 slow the fuzzer down: no check depends on size);
 *       bits 3-7: largest payload, s/31 of the ring's maximum (0: maximum).
 *   g1  consumer batch: 0 = library default, else 1 + (g1-1) % (ncells/2).
 *   g2  slack: g2 * 48 bytes of memory after the formatted ring, inside the
 *       size given to attach, so a hostile header can claim a larger ring
 *       that still fits (and memsize is not always a multiple of 64). */

#define FUZZ_GEOM_BYTES 3u
#define FUZZ_SLACK_UNIT 48u

typedef struct fuzz_geom {
    uint32_t ncells;
    uint32_t max_msg; /* as passed to shm_ring_init (0 = default) */
    uint32_t batch;   /* likewise */
    size_t region;    /* bytes given to init and attach */
} fuzz_geom_t;

static inline void fuzz_geom_decode(fuzz_in_t *in, fuzz_geom_t *g)
{
    uint8_t g0 = fin_u8(in), g1 = fin_u8(in), g2 = fin_u8(in);
    g->ncells = 4u << ((g0 & 7u) % 7u);
    g->max_msg = (uint32_t) ((uint64_t) shm_ring_max_payload(g->ncells) * (g0 >> 3) / 31u);
    g->batch = g1 ? 1u + (g1 - 1u) % (g->ncells / 2) : 0;
    g->region = shm_ring_memsize(g->ncells) + (size_t) g2 * FUZZ_SLACK_UNIT;
}

/* ------------------------------------------------------------------------ */
/* Opcodes (an op byte is taken modulo the count, so every byte is one). */

/* fuzz_ring.c */
enum {
    CONS_OP_WRITE = 0,  /* u16 off, u8 n, n bytes: raw copy into the ring  */
    CONS_OP_CELL = 1,   /* u8 k, u8 kind, u16 len, u8 dcells: a producer's
                         * commit at position tail+k, seq made valid       */
    CONS_OP_PEEK = 2,   /* u8 flags: PEEK_RELEASE, PEEK_PUBLISH, PEEK_RACE */
    CONS_OP_ATTACH = 3, /* attach a fresh consumer handle                  */
    CONS_OP_CLOSE = 4,  /* u8 state: producer_state, then drained_closed   */
    CONS_NOPS = 5
};
enum {
    PEEK_RELEASE = 1, /* release the message peek returned               */
    PEEK_PUBLISH = 2, /* then publish the position at once               */
    PEEK_RACE = 4     /* one WRITE/CELL op between peek and release, as a
                       * producer rewriting the cell being processed     */
};

/* fuzz_ring_producer.c */
enum {
    PROD_OP_WRITE = 0,   /* as CONS_OP_WRITE: the hostile consumer's side   */
    PROD_OP_SEND = 1,    /* u16 len, u8 tag: reserve, fill, commit          */
    PROD_OP_SPLIT = 2,   /* u16 len, u8 tag, then a WRITE op between
                          * reserve and commit                              */
    PROD_OP_CONSUME = 3, /* u8 n: an honest consumer takes up to n messages */
    PROD_OP_ATTACH = 4,  /* attach a fresh producer handle                  */
    PROD_OP_CLOSE = 5,   /* producer_close, then drained_closed             */
    PROD_NOPS = 6
};
/* Send length: bit 15 set picks an arbitrary 32-bit length (mostly
 * -EMSGSIZE), clear picks one in 0..max_msg. */
#define FUZZ_LEN_RAW 0x8000u

/* ------------------------------------------------------------------------ */
/* Ring memory: FUZZ_GUARD bytes on each side of the region.  Under ASan the
 * guards are poisoned, so a stray access is reported at the instruction
 * that made it; otherwise they hold a pattern checked after every step. */

#define FUZZ_GUARD 256u
#define FUZZ_GUARD_BYTE 0xa5

typedef struct fuzz_mem {
    uint8_t *block;
    uint8_t *base; /* 64-byte aligned start of the region */
    size_t size;
} fuzz_mem_t;

static inline void fuzz_mem_alloc(fuzz_mem_t *m, size_t size)
{
    size_t total = ((2 * FUZZ_GUARD + size + 63) / 64) * 64;
    m->block = aligned_alloc(64, total);
    FUZZ_CHECK(m->block != NULL);
    m->base = m->block + FUZZ_GUARD;
    m->size = size;
    memset(m->block, FUZZ_GUARD_BYTE, total);
#if FUZZ_ASAN
    ASAN_POISON_MEMORY_REGION(m->block, FUZZ_GUARD);
    ASAN_POISON_MEMORY_REGION(m->base + size, total - FUZZ_GUARD - size);
#endif
}

static inline void fuzz_mem_check(const fuzz_mem_t *m)
{
#if !FUZZ_ASAN
    for (size_t i = 0; i < FUZZ_GUARD; ++i) {
        FUZZ_CHECK(m->block[i] == FUZZ_GUARD_BYTE);
        FUZZ_CHECK(m->base[m->size + i] == FUZZ_GUARD_BYTE);
    }
#else
    (void) m;
#endif
}

static inline void fuzz_mem_free(fuzz_mem_t *m)
{
    fuzz_mem_check(m);
#if FUZZ_ASAN
    size_t total = ((2 * FUZZ_GUARD + m->size + 63) / 64) * 64;
    ASAN_UNPOISON_MEMORY_REGION(m->block, total);
#endif
    free(m->block);
}

/* Raw copy of up to n input bytes to region offset off (both wrapped or
 * clipped into the region): the hostile peer's store. */
static inline void fuzz_mem_write(fuzz_mem_t *m, fuzz_in_t *in)
{
    size_t off = fin_u16(in) % m->size;
    size_t n = fin_u8(in);
    const uint8_t *src;
    if (n > m->size - off) {
        n = m->size - off;
    }
    n = fin_take(in, n, &src);
    memcpy(m->base + off, src, n);
}

/* ------------------------------------------------------------------------ */
/* Header oracle: shm_ring.h's definition of a valid ring, written again
 * from the documentation rather than from shm_ring.c, so that attach
 * accepting a header this rejects (or the reverse) is a finding. */

static inline int fuzz_header_valid(const void *mem, size_t memsize)
{
    shm_ring_shared_t s;
    if (memsize < sizeof(s)) {
        return 0;
    }
    memcpy(&s, mem, sizeof(s));
    uint32_t n = s.ncells;
    if (s.magic != SHM_RING_MAGIC || s.version != SHM_RING_VERSION || s.cell_size != SHM_RING_CELL_SIZE) {
        return 0;
    }
    if (n < SHM_RING_MIN_CELLS || n > SHM_RING_MAX_CELLS || (n & (n - 1)) != 0) {
        return 0;
    }
    if ((uint64_t) s.max_msg + SHM_RING_MSG_HDR_SIZE > (uint64_t) (n / 2) * SHM_RING_CELL_SIZE) {
        return 0;
    }
    if (s.batch < 1 || s.batch > n / 2) {
        return 0;
    }
    return (uint64_t) memsize >= SHM_RING_HEADER_SIZE + (uint64_t) n * SHM_RING_CELL_SIZE;
}

/* Attach must agree with the oracle, fail with a negative errno and a
 * message, and reject what no caller may pass (NULL, misaligned, short). */
static inline void fuzz_check_attach_result(int rc, const shm_error_t *err, const void *mem, size_t memsize)
{
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTO);
    FUZZ_CHECK((rc == 0) == fuzz_header_valid(mem, memsize));
    if (rc != 0) {
        FUZZ_CHECK(err->code == rc);
        FUZZ_CHECK(err->msg[0] != '\0' && memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    }
}

/* Snapshot of the region, to prove that a call wrote only where the
 * protocol lets it. */
static inline void fuzz_snap(const fuzz_mem_t *m, uint8_t *snap)
{
    memcpy(snap, m->base, m->size);
}

/* Every byte that differs from the snapshot lies in one of the allowed
 * [off, off+len) ranges (len 0 = unused slot). */
static inline void fuzz_diff_within(const fuzz_mem_t *m, const uint8_t *snap, const size_t allow[][2],
                                    size_t nallow)
{
    for (size_t i = 0; i < m->size; ++i) {
        /* Whole lines first: byte loops are slow under ASan, and most
         * lines of the ring are untouched by any one call. */
        if (i % 64 == 0 && m->size - i >= 64 && memcmp(m->base + i, snap + i, 64) == 0) {
            i += 63;
            continue;
        }
        if (m->base[i] == snap[i]) {
            continue;
        }
        int ok = 0;
        for (size_t a = 0; a < nallow; ++a) {
            if (i >= allow[a][0] && i - allow[a][0] < allow[a][1]) {
                ok = 1;
            }
        }
        if (!ok) {
            fprintf(stderr, "fuzz: byte %zu of the ring region changed (0x%02x -> 0x%02x) outside the "
                            "bytes this call may write\n", i, snap[i], m->base[i]);
        }
        FUZZ_CHECK(ok);
    }
}

/* FUZZ_TRACE=1 in the environment narrates what an input does: how to
 * check that a seed does what its name says, or to read a crash input. */
__attribute__((format(printf, 1, 2), unused)) static void fuzz_trace(const char *fmt, ...)
{
    static int on = -1;
    if (on < 0) {
        on = getenv("FUZZ_TRACE") != NULL;
    }
    if (on) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

/* Sticky -EBADMSG is known broken (test/ring/t_bug_sticky_broken: the
 * inline fast path of shm_ring_peek ignores c->broken).  Setting
 * SHM_FUZZ_KNOWN=sticky_broken stops asserting that one promise so a fuzz
 * run can look for other bugs; the default is to check everything. */
static inline int fuzz_known_bug(const char *name)
{
    const char *v = getenv("SHM_FUZZ_KNOWN");
    return v && strstr(v, name) != NULL;
}

#endif
