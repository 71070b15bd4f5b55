/*
 * t_ring_corrupt: a consumer facing a corrupted or hostile ring.  Garbage
 * written into the seq, len, ncells or kind of a published cell, an odd seq
 * of another position, a PAD in the middle of the ring, a message running
 * past the ring's end, len over max_msg: each must make peek return
 * -EBADMSG, keep returning it, and never touch memory outside the ring (the
 * ring sits between guard pages; check-sanitize runs this under ASan too).
 * A random fuzz of the cell area and of the shared consumer position
 * checks the same bounds for the producer and the consumer.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define N 16u
#define MAX 200u

enum field { F_SEQ, F_LEN, F_NCELLS, F_KIND };
static const char *const field_name[] = {"seq", "len", "ncells", "kind"};

/* A ring whose next message to read sits at cell `at`; returns its header. */
static shm_ring_cell_hdr_t *ring_with_message_at(test_ring_t *r, uint32_t at, uint32_t len)
{
    uint8_t buf[MAX];
    test_ring_open(r, N, MAX, 2, (uint64_t) 5 * N + at);
    pattern_fill(buf, at, len);
    CHECK_EQ(shm_ring_send(&r->p, 1, buf, len, NULL, 0), 0);
    CHECK_EQ(r->p.head - shm_ring_cells_for(len), r->c.tail); /* no pad */
    return test_ring_cell(r, r->c.tail);
}

static void expect_broken(test_ring_t *r, const char *what)
{
    shm_ring_msg_t m;
    memset(&m, 0, sizeof(m));
    int rc = shm_ring_peek(&r->c, &m);
    CHECK_MSG(rc == -EBADMSG, "%s: peek returned %d, message len %u ncells %u", what, rc, m.len, m.ncells);
    CHECK_EQ(r->c.broken, 1);
    /* Sticky while the cell stays bad, and it never reads as drained. */
    CHECK_EQ(shm_ring_peek(&r->c, &m), -EBADMSG);
    shm_ring_producer_close(&r->p);
    CHECK_EQ(shm_ring_consumer_drained_closed(&r->c), 0);
}

static void corrupt_field(uint32_t at, uint32_t len, enum field f, uint32_t value)
{
    test_ring_t r;
    char what[96];
    shm_ring_cell_hdr_t *h = ring_with_message_at(&r, at, len);
    shm_ring_cell_hdr_t good;
    memcpy(&good, h, sizeof(good));
    switch (f) {
    case F_SEQ:
        atomic_store(&h->seq, value);
        break;
    case F_LEN:
        h->len = value;
        break;
    case F_NCELLS:
        h->ncells = value;
        break;
    case F_KIND:
        h->kind = (uint8_t) value;
        break;
    }
    snprintf(what, sizeof(what), "cell %u len %u: %s := %#x", at, len, field_name[f], value);
    expect_broken(&r, what);
    /* A peer that rewrites the cell into a valid one does not revive the
     * ring: corrupted once, corrupted for good. */
    memcpy(h, &good, sizeof(good));
    shm_ring_msg_t m;
    CHECK_MSG(shm_ring_peek(&r.c, &m) == -EBADMSG, "%s, then repaired: the ring came back", what);
    test_ring_close(&r);
}

static void test_field_garbage(void)
{
    for (uint32_t at = 0; at < N; ++at) {
        uint32_t lens[] = {0, 10, 48, 49, 120};
        for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); ++li) {
            uint32_t len = lens[li], cells = shm_ring_cells_for(len);
            if (at + cells > N) {
                continue; /* would be preceded by a pad: covered below */
            }
            uint64_t pos = (uint64_t) 5 * N + at;
            /* seq: odd values that are not 2*pos+1. */
            uint32_t odd_seqs[] = {(uint32_t) (2 * pos + 3), (uint32_t) (2 * (pos + N) + 1),
                                   (uint32_t) (2 * (pos - N) + 1), (uint32_t) (2 * pos - 1), 0xffffffffu, 1u};
            for (size_t i = 0; i < sizeof(odd_seqs) / sizeof(odd_seqs[0]); ++i) {
                corrupt_field(at, len, F_SEQ, odd_seqs[i]);
            }
            /* len: over max_msg, absurd, or inconsistent with ncells. */
            corrupt_field(at, len, F_LEN, MAX + 1);
            corrupt_field(at, len, F_LEN, UINT32_MAX);
            corrupt_field(at, len, F_LEN, 0x80000000u);
            corrupt_field(at, len, F_LEN, cells * 64 - 16 + 1);
            if (cells > 1) {
                corrupt_field(at, len, F_LEN, (cells - 1) * 64 - 16);
            }
            /* ncells: zero, off by one, past the end, absurd. */
            uint32_t bad_cells[] = {0, cells + 1, cells - 1, N, N + 1, 0x7fffffffu, UINT32_MAX};
            for (size_t i = 0; i < sizeof(bad_cells) / sizeof(bad_cells[0]); ++i) {
                if (bad_cells[i] != cells) {
                    corrupt_field(at, len, F_NCELLS, bad_cells[i]);
                }
            }
            /* kind: unknown values, and PAD where no pad may be. */
            uint32_t kinds[] = {0, 3, 0x7f, 0xff};
            for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
                corrupt_field(at, len, F_KIND, kinds[i]);
            }
            /* A PAD is valid only with len 0 ending exactly at the ring's
             * end; a data message turned PAD breaks at least one rule. */
            if (!(len == 0 && at + cells == N)) {
                corrupt_field(at, len, F_KIND, SHM_RING_KIND_PAD);
            }
        }
    }
}

/* An even seq is indistinguishable from "not yet published": the consumer
 * must wait, not fail and not read. */
static void test_even_seq_reads_as_empty(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    shm_ring_cell_hdr_t *h = ring_with_message_at(&r, 3, 30);
    uint32_t good = atomic_load(&h->seq);
    atomic_store(&h->seq, good + 1);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    atomic_store(&h->seq, 0xfffffffeu);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    atomic_store(&h->seq, good);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
    CHECK_EQ(pattern_check(m.data, 3, 30), -1);
    test_ring_close(&r);
}

/* Forge a whole header at the consumer's position. */
static void forge(uint32_t at, uint32_t len, uint32_t ncells, uint8_t kind, const char *what)
{
    test_ring_t r;
    test_ring_open(&r, N, MAX, 2, (uint64_t) 9 * N + at);
    shm_ring_cell_hdr_t *h = test_ring_cell(&r, r.c.tail);
    h->len = len;
    h->ncells = ncells;
    h->kind = kind;
    atomic_store(&h->seq, (uint32_t) (2 * r.c.tail + 1));
    expect_broken(&r, what);
    test_ring_close(&r);
}

static void test_forged_headers(void)
{
    char what[96];
    for (uint32_t at = 0; at < N; ++at) {
        /* A PAD in the middle of the ring: short of the end, past it. */
        for (uint32_t pc = 0; pc <= N + 1; ++pc) {
            if (at + pc != N || pc == 0) {
                snprintf(what, sizeof(what), "PAD at %u of %u cells", at, pc);
                forge(at, 0, pc, SHM_RING_KIND_PAD, what);
            }
        }
        /* A PAD of the right size with a payload length. */
        snprintf(what, sizeof(what), "PAD at %u with len 1", at);
        forge(at, 1, N - at, SHM_RING_KIND_PAD, what);
        /* Self-consistent len/ncells that run past the ring's end. */
        for (uint32_t cells = N - at + 1; cells <= 4 && at + cells > N; ++cells) {
            uint32_t len = (cells - 1) * 64 - 16 + 1; /* <= MAX: only the end is wrong */
            snprintf(what, sizeof(what), "DATA at %u of %u cells (len %u)", at, cells, len);
            forge(at, len, cells, SHM_RING_KIND_DATA, what);
        }
        /* len past max_msg though consistent and inside the ring: only the
         * max_msg check stands between it and a caller's buffer. */
        for (uint32_t len = MAX + 1; at + shm_ring_cells_for(len) <= N; len += 64) {
            snprintf(what, sizeof(what), "DATA at %u len %u > max_msg", at, len);
            forge(at, len, shm_ring_cells_for(len), SHM_RING_KIND_DATA, what);
        }
        /* len past max_msg, consistent ncells, past the end of memory. */
        snprintf(what, sizeof(what), "DATA at %u len 4000", at);
        forge(at, 4000, shm_ring_cells_for(4000), SHM_RING_KIND_DATA, what);
    }
}

/* A genuine pad followed by a bad cell 0: the wrap must validate too. */
static void test_bad_cell_after_pad(void)
{
    for (uint32_t v = 0; v < 3; ++v) {
        test_ring_t r;
        uint8_t buf[MAX];
        memset(buf, 0x3c, sizeof(buf));
        test_ring_open(&r, N, MAX, 2, (uint64_t) 3 * N + 14);
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, 100, NULL, 0), 0); /* 2 cells at 14: exactly fits */
        shm_ring_msg_t m;
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        shm_ring_release(&r.c, &m);
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, 100, NULL, 0), 0); /* at 0 */
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        shm_ring_release(&r.c, &m);
        /* Now at 2; fill to 13, then a 3-cell message forces a pad at 13. */
        for (int i = 0; i < 11; ++i) {
            CHECK_EQ(shm_ring_send(&r.p, 1, buf, 0, NULL, 0), 0);
            CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
            shm_ring_release(&r.c, &m);
        }
        CHECK_EQ((uint32_t) r.c.tail % N, 13);
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, MAX, NULL, 0), 0); /* 4 cells: pad of 3 */
        CHECK_EQ(test_ring_cell(&r, r.c.tail)->kind, SHM_RING_KIND_PAD);
        shm_ring_cell_hdr_t *h0 = test_ring_cell(&r, 0);
        if (v == 0) {
            atomic_store(&h0->seq, atomic_load(&h0->seq) + 2);
        } else if (v == 1) {
            h0->ncells = 9;
        } else {
            h0->kind = SHM_RING_KIND_PAD;
        }
        expect_broken(&r, "cell 0 after a pad");
        test_ring_close(&r);
    }
}

/* Corruption after a successful peek: release trusts only its copy. */
static void test_corrupt_after_peek(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    uint8_t buf[MAX] = {0};
    test_ring_open(&r, N, MAX, 1, 13);
    CHECK_EQ(shm_ring_send(&r.p, 1, buf, 100, NULL, 0), 0); /* cells 13, 14 */
    CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
    shm_ring_cell_hdr_t *h = test_ring_cell(&r, 13);
    h->ncells = 1000;
    h->len = UINT32_MAX;
    shm_ring_release(&r.c, &m);
    CHECK_EQ(r.c.tail, 15);
    test_ring_close(&r);
}

/* Random writes into the cells and the shared position while both sides
 * keep working: every message handed out lies inside the ring, and
 * nothing outside the ring is ever touched (guard pages, canary). */
static void test_fuzz(uint64_t seed, uint64_t ops)
{
    uint64_t rng = seed;
    uint8_t buf[MAX];
    uint64_t outcomes[3] = {0};
    for (int round = 0; round < 200; ++round) {
        test_ring_t r;
        test_ring_open(&r, N, MAX, 1 + (uint32_t) (rng_next(&rng) % (N / 2)), rng_next(&rng) >> (rng_next(&rng) % 64));
        uint8_t *lo = (uint8_t *) r.g.mem + SHM_RING_HEADER_SIZE, *hi = (uint8_t *) r.g.mem + r.g.size;
        for (uint64_t op = 0; op < ops / 200; ++op) {
            uint64_t x = rng_next(&rng);
            /* Rare corruption between many valid operations, so that both
             * sides get far between the hits. */
            switch (x % 256) {
            case 0: { /* one random byte of the cell area */
                lo[(x >> 8) % (N * 64)] = (uint8_t) (x >> 40);
                break;
            }
            case 1: { /* a plausible header field */
                shm_ring_cell_hdr_t *h = (shm_ring_cell_hdr_t *) (lo + ((x >> 8) % N) * 64);
                uint32_t v = (uint32_t) (x >> 32) % (2 * N * 64);
                switch ((x >> 4) % 4) {
                case 0: atomic_store(&h->seq, (uint32_t) (2 * r.c.tail + 1)); break;
                case 1: h->len = v; break;
                case 2: h->ncells = v % (N + 2); break;
                default: h->kind = (uint8_t) (v % 4); break;
                }
                break;
            }
            case 2: /* the shared consumer position */
                if ((x >> 8) % 4 == 0) {
                    atomic_store(&r.shared->tail, r.p.head + (x >> 16) % (3 * N) - N);
                }
                break;
            default:
                if ((x >> 60) & 1) {
                    uint32_t len = (uint32_t) (x >> 20) % (MAX + 1);
                    void *dst;
                    int rc = shm_ring_reserve(&r.p, len, 0, &dst);
                    CHECK(rc == 0 || rc == -EAGAIN);
                    if (rc == 0) {
                        CHECK((uint8_t *) dst >= lo && (uint8_t *) dst + len <= hi);
                        memset(dst, (int) x, len);
                        shm_ring_commit(&r.p);
                    }
                } else {
                    shm_ring_msg_t m;
                    int rc = shm_ring_peek(&r.c, &m);
                    CHECK(rc == 1 || rc == 0 || rc == -EBADMSG);
                    outcomes[rc == 1 ? 0 : rc == 0 ? 1 : 2]++;
                    if (rc == 1) {
                        CHECK(m.len <= MAX);
                        CHECK((uint8_t *) m.data >= lo && (uint8_t *) m.data + m.len <= hi);
                        CHECK((uint8_t *) m.data - SHM_RING_MSG_HDR_SIZE + (size_t) m.ncells * 64 <= hi);
                        /* Read every byte, as a user would: a guard page or
                         * ASan catches anything out of bounds. */
                        memcpy(buf, m.data, m.len);
                        shm_ring_release(&r.c, &m);
                    }
                    if (rc == -EBADMSG) {
                        op = ops; /* this ring is done */
                    }
                }
            }
        }
        test_ring_close(&r);
    }
    printf("  fuzz: %llu messages, %llu empty, %llu corrupted\n", (unsigned long long) outcomes[0],
           (unsigned long long) outcomes[1], (unsigned long long) outcomes[2]);
    CHECK(outcomes[0] > 0 && outcomes[2] > 0);
}

int main(void)
{
    test_init("t_ring_corrupt", 60);
    test_field_garbage();
    test_even_seq_reads_as_empty();
    test_forged_headers();
    test_bad_cell_after_pad();
    test_corrupt_after_peek();
    test_fuzz(77, TEST_SANITIZED ? 400000 : 2000000);
    return test_pass();
}
