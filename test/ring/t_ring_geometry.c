/*
 * t_ring_geometry: the arithmetic and validation functions of a ring -
 * shm_ring_memsize, shm_ring_max_payload, shm_ring_init with every kind of
 * invalid geometry, and producer/consumer attach against memory that is not
 * a valid ring (bad magic, version, cell size, geometry, too small, NULL,
 * misaligned).  Every rejection must carry the errno and a message.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

/* Each rejection: the expected code, the same code in err, a sentence. */
#define CHECK_REJECTED(call, want, err)                                                                      \
    do {                                                                                                     \
        memset(&(err), 0, sizeof(err));                                                                      \
        int rc_ = (call);                                                                                    \
        CHECK_EQ(rc_, want);                                                                                 \
        CHECK_EQ((err).code, want);                                                                          \
        CHECK_MSG(strlen((err).msg) > 10, "message too short: '%s'", (err).msg);                             \
    } while (0)

static void test_memsize_and_max_payload(void)
{
    CHECK_EQ(shm_ring_memsize(4), SHM_RING_HEADER_SIZE + 4 * 64);
    CHECK_EQ(shm_ring_memsize(1024), 192 + 65536);
    CHECK_EQ(shm_ring_memsize(SHM_RING_MAX_CELLS), 192 + (size_t) 64 * SHM_RING_MAX_CELLS);
    for (uint32_t n = SHM_RING_MIN_CELLS; n <= SHM_RING_MAX_CELLS; n *= 2) {
        uint32_t m = shm_ring_max_payload(n);
        /* Half the ring, header included: a max message fits after any pad. */
        CHECK_EQ(shm_ring_cells_for(m), n / 2);
        CHECK_EQ(shm_ring_cells_for(m + 1), n / 2 + 1);
    }
    CHECK_EQ(shm_ring_max_payload(4), 2 * 64 - 16);
    CHECK_EQ(shm_ring_cells_for(0), 1);
    CHECK_EQ(shm_ring_cells_for(48), 1);
    CHECK_EQ(shm_ring_cells_for(49), 2);
    CHECK_EQ(shm_ring_cells_for(UINT32_MAX), ((uint64_t) UINT32_MAX + 16 + 63) / 64);
}

static void test_init_valid(void)
{
    shm_error_t err;
    guarded_t g;
    size_t size = shm_ring_memsize(64);
    void *mem = guarded_alloc(&g, size);
    memset(mem, 0xee, size);
    CHECK(shm_ring_init(mem, size, 64, 0, 0, &err) == 0);
    shm_ring_shared_t *s = mem;
    CHECK(s->magic == SHM_RING_MAGIC);
    CHECK_EQ(s->version, SHM_RING_VERSION);
    CHECK_EQ(s->ncells, 64);
    CHECK_EQ(s->cell_size, SHM_RING_CELL_SIZE);
    CHECK_EQ(s->max_msg, shm_ring_max_payload(64)); /* 0 = the maximum */
    CHECK_EQ(s->batch, 8);                          /* 0 = an eighth */
    CHECK_EQ(atomic_load(&s->tail), 0);
    CHECK_EQ(atomic_load(&s->producer_state), SHM_RING_PRODUCER_NONE);
    /* Every cell starts free (even first word) whatever the memory held. */
    for (uint32_t i = 0; i < 64; ++i) {
        const uint8_t *cell = (const uint8_t *) mem + SHM_RING_HEADER_SIZE + i * 64;
        for (int b = 0; b < 64; ++b) {
            CHECK_EQ(cell[b], 0);
        }
    }
    /* Explicit values are kept; the smallest ring's default batch is 1. */
    CHECK(shm_ring_init(mem, size, 64, 100, 32, &err) == 0);
    CHECK_EQ(s->max_msg, 100);
    CHECK_EQ(s->batch, 32);
    CHECK(shm_ring_init(mem, size, 4, 0, 0, &err) == 0);
    CHECK_EQ(s->batch, 1);
    CHECK_EQ(s->max_msg, 112);
    /* NULL err is allowed. */
    CHECK(shm_ring_init(mem, size, 8, 0, 0, NULL) == 0);
    CHECK_EQ(shm_ring_init(mem, size, 7, 0, 0, NULL), -EINVAL);
    guarded_free(&g);
}

static void test_init_invalid(void)
{
    shm_error_t err;
    guarded_t g;
    size_t size = shm_ring_memsize(64);
    uint8_t *mem = guarded_alloc(&g, size);
    memset(mem, 0x5a, size);
    /* Cell counts: zero, not a power of two, below min, above max. */
    uint32_t bad_n[] = {0, 1, 2, 3, 5, 6, 7, 12, 63, 65, 100, 1000, SHM_RING_MAX_CELLS * 2u,
                        SHM_RING_MAX_CELLS + 1u, UINT32_MAX, 0x80000000u};
    for (size_t i = 0; i < sizeof(bad_n) / sizeof(bad_n[0]); ++i) {
        CHECK_REJECTED(shm_ring_init(mem, size, bad_n[i], 0, 0, &err), -EINVAL, err);
        CHECK_MSG(strstr(err.msg, "cell count") != NULL, "%s", err.msg);
    }
    /* The largest legal count passes the geometry check and fails only for
     * lack of memory, which shows the limit is inclusive without 1 GiB. */
    CHECK_REJECTED(shm_ring_init(mem, size, SHM_RING_MAX_CELLS, 0, 0, &err), -EINVAL, err);
    CHECK_MSG(strstr(err.msg, "needs") != NULL, "%s", err.msg);
    /* max_msg one byte over the half-ring limit; far over. */
    CHECK_REJECTED(shm_ring_init(mem, size, 64, shm_ring_max_payload(64) + 1, 0, &err), -EINVAL, err);
    CHECK_MSG(strstr(err.msg, "largest message") != NULL, "%s", err.msg);
    CHECK_REJECTED(shm_ring_init(mem, size, 64, UINT32_MAX, 0, &err), -EINVAL, err);
    CHECK(shm_ring_init(mem, size, 64, shm_ring_max_payload(64), 0, &err) == 0);
    /* batch over half the ring. */
    CHECK_REJECTED(shm_ring_init(mem, size, 64, 0, 33, &err), -EINVAL, err);
    CHECK_MSG(strstr(err.msg, "batch") != NULL, "%s", err.msg);
    CHECK_REJECTED(shm_ring_init(mem, size, 64, 0, UINT32_MAX, &err), -EINVAL, err);
    CHECK(shm_ring_init(mem, size, 64, 0, 32, &err) == 0);
    CHECK(shm_ring_init(mem, size, 64, 0, 1, &err) == 0);
    /* Memory: one byte short, zero, NULL, misaligned. */
    CHECK_REJECTED(shm_ring_init(mem, size - 1, 64, 0, 0, &err), -EINVAL, err);
    CHECK_MSG(strstr(err.msg, "needs") != NULL, "%s", err.msg);
    CHECK_REJECTED(shm_ring_init(mem, 0, 64, 0, 0, &err), -EINVAL, err);
    CHECK_REJECTED(shm_ring_init(NULL, size, 64, 0, 0, &err), -EINVAL, err);
    CHECK_REJECTED(shm_ring_init(mem + 8, size - 64, 4, 0, 0, &err), -EINVAL, err);
    CHECK_MSG(strstr(err.msg, "aligned") != NULL, "%s", err.msg);
    /* A rejected init writes nothing. */
    memset(mem, 0x5a, size);
    CHECK(shm_ring_init(mem, size - 64, 64, 0, 0, &err) != 0);
    CHECK(shm_ring_init(mem, size, 64, 0, 40, &err) != 0);
    for (size_t i = 0; i < size; ++i) {
        CHECK_EQ(mem[i], 0x5a);
    }
    guarded_free(&g);
}

typedef int (*attach_fn)(void *h, void *mem, size_t memsize, shm_error_t *err);
static int attach_p(void *h, void *mem, size_t memsize, shm_error_t *err)
{
    return shm_ring_producer_attach(h, mem, memsize, err);
}
static int attach_c(void *h, void *mem, size_t memsize, shm_error_t *err)
{
    return shm_ring_consumer_attach(h, mem, memsize, err);
}

static void test_attach(attach_fn attach, const char *who)
{
    shm_error_t err;
    guarded_t g;
    union {
        shm_ring_producer_t p;
        shm_ring_consumer_t c;
    } h;
    size_t size = shm_ring_memsize(64);
    uint8_t *mem = guarded_alloc(&g, size);
    shm_ring_shared_t *s = (shm_ring_shared_t *) mem;
    printf("  attach checks: %s\n", who);

    /* Never formatted: zeros, then garbage. */
    memset(mem, 0, size);
    CHECK_REJECTED(attach(&h, mem, size, &err), -EPROTO, err);
    CHECK_MSG(strstr(err.msg, "magic") != NULL, "%s", err.msg);
    memset(mem, 0xff, size);
    CHECK_REJECTED(attach(&h, mem, size, &err), -EPROTO, err);

    CHECK(shm_ring_init(mem, size, 64, 1000, 4, &err) == 0);
    CHECK(attach(&h, mem, size, &err) == 0);

    /* Bad magic: one bit flipped. */
    s->magic ^= 1u << 9;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EPROTO, err);
    s->magic ^= 1u << 9;
    /* Bad version: older, newer. */
    s->version = SHM_RING_VERSION + 1;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EPROTO, err);
    CHECK_MSG(strstr(err.msg, "version") != NULL, "%s", err.msg);
    s->version = 0;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EPROTO, err);
    s->version = SHM_RING_VERSION;
    /* Another cell size is another wire format. */
    s->cell_size = 128;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EPROTO, err);
    s->cell_size = SHM_RING_CELL_SIZE;
    /* Geometry the header claims but init would never write. */
    s->ncells = 48;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EINVAL, err);
    s->ncells = 128; /* larger than the memory given */
    CHECK_REJECTED(attach(&h, mem, size, &err), -EINVAL, err);
    s->ncells = 0;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EINVAL, err);
    s->ncells = 64;
    s->max_msg = shm_ring_max_payload(64) + 1;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EINVAL, err);
    s->max_msg = 1000;
    s->batch = 0;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EINVAL, err);
    s->batch = 33;
    CHECK_REJECTED(attach(&h, mem, size, &err), -EINVAL, err);
    s->batch = 4;
    /* Memory too small: for the cells, for the header, nothing. */
    CHECK_REJECTED(attach(&h, mem, size - 1, &err), -EINVAL, err);
    CHECK_REJECTED(attach(&h, mem, SHM_RING_HEADER_SIZE - 1, &err), -EINVAL, err);
    CHECK_REJECTED(attach(&h, mem, 0, &err), -EINVAL, err);
    CHECK_REJECTED(attach(&h, NULL, size, &err), -EINVAL, err);
    CHECK_REJECTED(attach(&h, mem + 32, size - 64, &err), -EINVAL, err);
    /* Restored header attaches again; NULL err is allowed. */
    CHECK(attach(&h, mem, size, NULL) == 0);
    s->magic = 0;
    CHECK_EQ(attach(&h, mem, size, NULL), -EPROTO);
    guarded_free(&g);
}

/* The handles keep local copies: rewriting the shared geometry after attach
 * (a hostile or corrupted peer) must not move them out of bounds. */
static void test_local_geometry(void)
{
    test_ring_t r;
    test_ring_open(&r, 16, 200, 2, 0);
    CHECK_EQ(r.p.ncells, 16);
    CHECK_EQ(r.p.max_msg, 200);
    CHECK_EQ(r.c.ncells, 16);
    CHECK_EQ(r.c.max_msg, 200);
    CHECK_EQ(r.c.batch, 2);
    r.shared->ncells = 1u << 20;
    r.shared->max_msg = UINT32_MAX;
    r.shared->batch = 0;
    uint8_t buf[201];
    for (uint64_t i = 0; i < 1000; ++i) {
        uint32_t len = (uint32_t) (i * 37 % 201);
        pattern_fill(buf, i, len);
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, len, NULL, 0), 0);
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, 201, NULL, 0), -EMSGSIZE);
        shm_ring_msg_t m;
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK_EQ(m.len, len);
        CHECK_EQ(pattern_check(m.data, i, len), -1);
        shm_ring_release(&r.c, &m);
    }
    test_ring_close(&r);
}

int main(void)
{
    test_init("t_ring_geometry", 60);
    test_memsize_and_max_payload();
    test_init_valid();
    test_init_invalid();
    test_attach(attach_p, "producer");
    test_attach(attach_c, "consumer");
    test_local_geometry();
    return test_pass();
}
