/*
 * mkcorpus: writes the seed corpus of the ring fuzz targets (corpus/) and
 * the reproducers of known bugs (repro/) as fuzz_common.h encodes inputs.
 * The seeds are committed as source; this program is how they were made
 * and how to remake them after the input format changes
 * (`make regen-corpus` in test/fuzz).  Rings that "an honest peer wrote"
 * are produced by the library itself on a scratch ring and copied in as
 * WRITE ops, so the seeds follow the wire format without restating it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

typedef struct buf {
    uint8_t b[65536];
    size_t n;
} buf_t;

static void put8(buf_t *b, uint32_t v)
{
    if (b->n >= sizeof(b->b)) {
        fprintf(stderr, "mkcorpus: seed too large\n");
        exit(1);
    }
    b->b[b->n++] = (uint8_t) v;
}

static void put16(buf_t *b, uint32_t v)
{
    put8(b, v & 0xff);
    put8(b, (v >> 8) & 0xff);
}

/* ncells_log: ncells = 4 << ncells_log; sel/batch/slack as fuzz_geom_decode. */
static void geom(buf_t *b, uint32_t ncells_log, uint32_t sel, uint32_t batch, uint32_t slack)
{
    b->n = 0;
    put8(b, (sel << 3) | ncells_log);
    put8(b, batch);
    put8(b, slack);
}

/* The operands of a WRITE op, also what PROD_OP_SPLIT reads after its own. */
static void write_body(buf_t *b, size_t off, const void *src, size_t n)
{
    put16(b, (uint32_t) off);
    put8(b, (uint32_t) n);
    for (size_t i = 0; i < n; ++i) {
        put8(b, ((const uint8_t *) src)[i]);
    }
}

static void op_write(buf_t *b, uint32_t op, size_t off, const void *src, size_t n)
{
    put8(b, op);
    write_body(b, off, src, n);
}

static void op_write_u32(buf_t *b, uint32_t op, size_t off, uint32_t v)
{
    op_write(b, op, off, &v, sizeof(v));
}

static void op_write_u64(buf_t *b, uint32_t op, size_t off, uint64_t v)
{
    op_write(b, op, off, &v, sizeof(v));
}

/* WRITE ops that turn a freshly formatted ring into mem: every 64-byte line
 * that differs, so the seeds stay small. */
static void copy_ring(buf_t *b, const uint8_t *fresh, const uint8_t *mem, size_t size)
{
    for (size_t off = 0; off < size; off += SHM_RING_CELL_SIZE) {
        size_t n = size - off < SHM_RING_CELL_SIZE ? size - off : SHM_RING_CELL_SIZE;
        if (memcmp(fresh + off, mem + off, n) != 0) {
            op_write(b, CONS_OP_WRITE, off, mem + off, n);
        }
    }
}

static void cons_cell(buf_t *b, uint32_t k, uint32_t kind, uint32_t len, int dcells)
{
    put8(b, CONS_OP_CELL);
    put8(b, k);
    put8(b, kind);
    put16(b, len);
    put8(b, (uint32_t) (uint8_t) (int8_t) dcells);
}

static void cons_peek(buf_t *b, uint32_t flags)
{
    put8(b, CONS_OP_PEEK);
    put8(b, flags);
}

static void prod_send(buf_t *b, uint32_t op, uint32_t len, uint32_t tag)
{
    put8(b, op);
    put16(b, len);
    put8(b, tag);
}

static void prod_consume(buf_t *b, uint32_t n)
{
    put8(b, PROD_OP_CONSUME);
    put8(b, n - 1);
}

static const char *outdir = ".";

static void save(const buf_t *b, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", outdir, dir);
    /* mkdir -p for the two levels used here */
    char *slash = strchr(path + strlen(outdir) + 1, '/');
    if (slash) {
        *slash = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            perror(path);
            exit(1);
        }
        *slash = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b->b, 1, b->n, f) != b->n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    printf("  %s (%zu bytes)\n", path, b->n);
}

/* A scratch ring with the geometry the seed's prologue will decode to. */
typedef struct scratch {
    uint8_t *fresh, *mem;
    size_t size;
    shm_ring_producer_t p;
    shm_ring_consumer_t c;
} scratch_t;

static void scratch_open(scratch_t *s, const buf_t *prologue)
{
    fuzz_in_t in = { prologue->b, FUZZ_GEOM_BYTES };
    fuzz_geom_t g;
    fuzz_geom_decode(&in, &g);
    s->size = g.region;
    s->fresh = aligned_alloc(64, (g.region + 63) / 64 * 64);
    s->mem = aligned_alloc(64, (g.region + 63) / 64 * 64);
    if (!s->fresh || !s->mem || shm_ring_init(s->fresh, g.region, g.ncells, g.max_msg, g.batch, NULL) != 0 ||
        shm_ring_init(s->mem, g.region, g.ncells, g.max_msg, g.batch, NULL) != 0 ||
        shm_ring_consumer_attach(&s->c, s->mem, g.region, NULL) != 0 ||
        shm_ring_producer_attach(&s->p, s->mem, g.region, NULL) != 0) {
        fprintf(stderr, "mkcorpus: scratch ring\n");
        exit(1);
    }
    /* The fuzz target attaches its own producer or none: the state word
     * stays as a fresh ring has it. */
    ((shm_ring_shared_t *) s->mem)->producer_state = SHM_RING_PRODUCER_NONE;
}

static void scratch_send(scratch_t *s, uint32_t len, uint16_t tag)
{
    uint8_t payload[8192];
    for (uint32_t i = 0; i < len && i < sizeof(payload); ++i) {
        payload[i] = (uint8_t) (tag + i);
    }
    if (shm_ring_send(&s->p, tag, payload, len, NULL, 0) != 0) {
        fprintf(stderr, "mkcorpus: scratch send of %u bytes failed\n", len);
        exit(1);
    }
}

static void scratch_consume_all(scratch_t *s)
{
    shm_ring_msg_t m;
    while (shm_ring_peek(&s->c, &m) == 1) {
        shm_ring_release(&s->c, &m);
    }
    shm_ring_publish(&s->c);
}

static void scratch_close(scratch_t *s)
{
    free(s->fresh);
    free(s->mem);
}

static void consumer_seeds(void)
{
    const char *dir = "corpus/fuzz_ring";
    buf_t b;
    scratch_t s;

    /* An honest ring holding messages of assorted sizes, all read. */
    geom(&b, 2, 0, 0, 0);
    scratch_open(&s, &b);
    scratch_send(&s, 0, 1);
    scratch_send(&s, 5, 2);
    scratch_send(&s, 48, 3);
    scratch_send(&s, 100, 4);
    scratch_send(&s, 200, 5);
    copy_ring(&b, s.fresh, s.mem, s.size);
    for (int i = 0; i < 6; ++i) {
        cons_peek(&b, PEEK_RELEASE);
    }
    save(&b, dir, "valid_msgs");
    scratch_close(&s);

    /* A pad: the consumer position near the end, the next message too big
     * to fit before it. */
    geom(&b, 1, 0, 1, 0);
    scratch_open(&s, &b);
    for (int i = 0; i < 5; ++i) {
        scratch_send(&s, 10, (uint16_t) i);
    }
    scratch_consume_all(&s);
    scratch_send(&s, 200, 9);
    scratch_send(&s, 20, 10);
    copy_ring(&b, s.fresh, s.mem, s.size);
    cons_peek(&b, PEEK_RELEASE);
    cons_peek(&b, PEEK_RELEASE | PEEK_PUBLISH);
    cons_peek(&b, 0);
    save(&b, dir, "pad");
    scratch_close(&s);

    /* Headers attach must refuse. */
    geom(&b, 2, 0, 0, 0);
    op_write_u64(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, magic), 0x676e6972336d6874ull);
    cons_peek(&b, PEEK_RELEASE);
    save(&b, dir, "bad_magic");

    geom(&b, 2, 0, 0, 0);
    op_write_u32(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, version), 2);
    cons_peek(&b, PEEK_RELEASE);
    save(&b, dir, "bad_version");

    geom(&b, 2, 0, 0, 0);
    op_write_u32(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, ncells), 12);
    cons_peek(&b, PEEK_RELEASE);
    save(&b, dir, "bad_ncells");

    geom(&b, 2, 0, 0, 0);
    op_write_u32(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, ncells), 1024);
    cons_peek(&b, PEEK_RELEASE);
    save(&b, dir, "ncells_past_memsize");

    geom(&b, 2, 0, 0, 0);
    op_write_u32(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, max_msg), 497);
    op_write_u32(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, batch), 9);
    cons_peek(&b, PEEK_RELEASE);
    save(&b, dir, "bad_max_msg_batch");

    /* A larger ring than was formatted, claimed by the header and still
     * inside the memory given (slack). */
    geom(&b, 0, 0, 0, 6);
    op_write_u32(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, ncells), 8);
    op_write_u32(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, max_msg), shm_ring_max_payload(8));
    cons_cell(&b, 0, SHM_RING_KIND_DATA, 200, 0);
    cons_peek(&b, PEEK_RELEASE);
    cons_cell(&b, 0, SHM_RING_KIND_DATA, 200, 0);
    cons_peek(&b, PEEK_RELEASE);
    cons_peek(&b, 0);
    save(&b, dir, "slack_geometry");

    /* A corrupted cell, peeked twice: -EBADMSG both times. */
    geom(&b, 2, 0, 0, 0);
    cons_cell(&b, 0, SHM_RING_KIND_DATA, 30, 0);
    cons_cell(&b, 1, SHM_RING_KIND_DATA, 30, 1);
    cons_peek(&b, PEEK_RELEASE);
    cons_peek(&b, PEEK_RELEASE);
    cons_peek(&b, PEEK_RELEASE);
    save(&b, dir, "corrupt_cell");

    /* The producer publishing between peeks and rewriting a cell while it
     * is processed; then it closes. */
    geom(&b, 3, 10, 3, 0);
    cons_peek(&b, PEEK_RELEASE);
    cons_cell(&b, 0, SHM_RING_KIND_DATA, 20, 0);
    cons_cell(&b, 1, SHM_RING_KIND_DATA, 90, 0);
    cons_peek(&b, PEEK_RELEASE | PEEK_RACE);
    put8(&b, 1); /* the racing op is a CELL... */
    put8(&b, 0); /* ...over the message being processed */
    put8(&b, 7);
    put16(&b, 5000);
    put8(&b, 0);
    cons_peek(&b, PEEK_RELEASE);
    cons_peek(&b, PEEK_RELEASE);
    put8(&b, CONS_OP_CLOSE);
    put8(&b, SHM_RING_PRODUCER_CLOSED);
    put8(&b, CONS_OP_ATTACH);
    cons_peek(&b, 0);
    save(&b, dir, "race_close");

    /* Positions at the 32-bit seq wrap. */
    geom(&b, 2, 0, 0, 0);
    op_write_u64(&b, CONS_OP_WRITE, offsetof(shm_ring_shared_t, tail), 0x7ffffffeull);
    for (int k = 0; k < 4; ++k) {
        cons_cell(&b, (uint32_t) k, SHM_RING_KIND_DATA, 10, 0);
    }
    for (int k = 0; k < 5; ++k) {
        cons_peek(&b, PEEK_RELEASE);
    }
    save(&b, dir, "seq_wrap");
}

static void producer_seeds(void)
{
    const char *dir = "corpus/fuzz_ring_producer";
    buf_t b;

    /* An honest stream that wraps the ring several times. */
    geom(&b, 2, 0, 2, 0);
    for (uint32_t i = 0; i < 24; ++i) {
        /* odd tags: through shm_ring_send, split at a tag-dependent point */
        prod_send(&b, PROD_OP_SEND, (i * 37u) % 300u, i % 2 ? (i * 11u) | 0x80u : i);
        if (i % 3 == 2) {
            prod_consume(&b, 3);
        }
    }
    prod_consume(&b, 4);
    put8(&b, PROD_OP_CLOSE);
    save(&b, dir, "honest_stream");

    /* Fill until -EAGAIN, drain one, send again; then a re-attach. */
    geom(&b, 1, 0, 0, 0);
    for (int i = 0; i < 6; ++i) {
        prod_send(&b, PROD_OP_SEND, 40, (uint32_t) i);
    }
    prod_consume(&b, 1);
    prod_send(&b, PROD_OP_SEND, 40, 7);
    prod_consume(&b, 8);
    put8(&b, PROD_OP_ATTACH);
    prod_send(&b, PROD_OP_SEND, 100, 8);
    prod_consume(&b, 1);
    save(&b, dir, "full");

    /* Lengths past max_msg. */
    geom(&b, 2, 20, 0, 0);
    prod_send(&b, PROD_OP_SEND, FUZZ_LEN_RAW | 0x7fff, 1);
    prod_send(&b, PROD_OP_SEND, FUZZ_LEN_RAW | 1, 2);
    prod_send(&b, PROD_OP_SEND, FUZZ_LEN_RAW | 0, 3);
    prod_consume(&b, 2);
    save(&b, dir, "emsgsize");

    /* The ring near the end of the 64-bit position space. */
    geom(&b, 0, 0, 0, 0);
    op_write_u64(&b, PROD_OP_WRITE, offsetof(shm_ring_shared_t, tail), 0xfffffffffffffffaull);
    for (uint32_t i = 0; i < 10; ++i) {
        prod_send(&b, PROD_OP_SEND, (i * 29u) % 100u, i);
        prod_consume(&b, 1);
    }
    save(&b, dir, "position_wrap");

    /* A hostile consumer: its position moved backwards and forwards. */
    geom(&b, 2, 0, 0, 0);
    prod_send(&b, PROD_OP_SEND, 100, 1);
    op_write_u64(&b, PROD_OP_WRITE, offsetof(shm_ring_shared_t, tail), 0x10);
    prod_send(&b, PROD_OP_SEND, 100, 2);
    op_write_u64(&b, PROD_OP_WRITE, offsetof(shm_ring_shared_t, tail), 0xfffffffffffffff0ull);
    prod_send(&b, PROD_OP_SEND, 400, 3);
    prod_send(&b, PROD_OP_SEND, 10, 4);
    prod_consume(&b, 4);
    save(&b, dir, "hostile_tail");

    /* Memory rewritten between reserve and commit. */
    geom(&b, 2, 0, 0, 0);
    {
        uint8_t junk[32];
        uint64_t pos = 3;
        memset(junk, 0xff, sizeof(junk));
        prod_send(&b, PROD_OP_SPLIT, 60, 1); /* the consumer position moves */
        write_body(&b, offsetof(shm_ring_shared_t, tail), &pos, sizeof(pos));
        prod_send(&b, PROD_OP_SPLIT, 60, 2); /* the cell being filled changes */
        write_body(&b, SHM_RING_HEADER_SIZE + 2 * SHM_RING_CELL_SIZE, junk, sizeof(junk));
    }
    prod_consume(&b, 3);
    save(&b, dir, "split");

    /* A header producer_attach must refuse. */
    geom(&b, 2, 0, 0, 0);
    op_write_u32(&b, PROD_OP_WRITE, offsetof(shm_ring_shared_t, cell_size), 32);
    prod_send(&b, PROD_OP_SEND, 10, 1);
    save(&b, dir, "bad_header");
}

static void repros(void)
{
    buf_t b;
    /* t_bug_sticky_broken as fuzz input: a corrupted cell (-EBADMSG), then
     * the producer rewrites it into a valid message, which peek returns. */
    geom(&b, 2, 0, 0, 0);
    cons_cell(&b, 0, 9, 3, 0);
    cons_peek(&b, 0);
    cons_cell(&b, 0, SHM_RING_KIND_DATA, 3, 0);
    cons_peek(&b, 0);
    save(&b, "repro/fuzz_ring", "sticky_broken");
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        outdir = argv[1];
    }
    consumer_seeds();
    producer_seeds();
    repros();
    return 0;
}
