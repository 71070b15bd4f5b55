/*
 * t_ring_wrap: messages crossing the ring's end.  First exhaustively: every
 * message length class at every starting offset of small rings, checking the
 * exact cell layout (a PAD of the right size at the offset, the message at
 * cell 0) and the payload.  Then a long randomized run against a reference
 * model of the ring that predicts, for every operation, the return value
 * (-EAGAIN exactly when the model says the message does not fit), the
 * placement of pads, the message the consumer sees and the published
 * consumer position; run at start positions near the wrap points of the
 * 32-bit seq word and of the 64-bit position counters.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static void check_layout_at(uint32_t ncells, uint64_t base)
{
    uint32_t max = shm_ring_max_payload(ncells);
    uint8_t *buf = malloc(max);
    CHECK(buf != NULL);
    for (uint32_t off = 0; off < ncells; ++off) {
        for (uint32_t need = 1; need <= ncells / 2; ++need) {
            /* The smallest and the largest length of this cell count. */
            uint32_t lens[2] = {need == 1 ? 0 : (need - 1) * 64 - 16 + 1, need * 64 - 16};
            for (int li = 0; li < 2; ++li) {
                test_ring_t r;
                shm_ring_msg_t m;
                uint64_t start = base + off;
                uint32_t len = lens[li];
                uint64_t msgno = (uint64_t) off << 20 | need << 1 | (uint32_t) li;
                test_ring_open(&r, ncells, 0, 0, start);
                pattern_fill(buf, msgno, len);
                CHECK_EQ(shm_ring_send(&r.p, (uint16_t) msgno, buf, len, NULL, 0), 0);
                uint64_t pos = start;
                if (off + need > ncells) {
                    shm_ring_cell_hdr_t *pad = test_ring_cell(&r, start);
                    CHECK_EQ(atomic_load(&pad->seq), (uint32_t) (2 * start + 1));
                    CHECK_EQ(pad->kind, SHM_RING_KIND_PAD);
                    CHECK_EQ(pad->len, 0);
                    CHECK_EQ(pad->ncells, ncells - off);
                    pos = start + (ncells - off);
                    CHECK_EQ(pos % ncells, 0);
                }
                shm_ring_cell_hdr_t *h = test_ring_cell(&r, pos);
                CHECK_EQ(atomic_load(&h->seq), (uint32_t) (2 * pos + 1));
                CHECK_EQ(h->kind, SHM_RING_KIND_DATA);
                CHECK_EQ(h->len, len);
                CHECK_EQ(h->ncells, need);
                CHECK_EQ(r.p.head, pos + need);
                CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
                CHECK(m.data == (uint8_t *) h + SHM_RING_MSG_HDR_SIZE);
                CHECK_EQ(m.len, len);
                CHECK_EQ(m.tag, (uint16_t) msgno);
                CHECK_EQ(pattern_check(m.data, msgno, len), -1);
                shm_ring_release(&r.c, &m);
                CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
                CHECK_EQ(atomic_load(&r.shared->tail), pos + need);
                /* Every cell is free again, the pad's included. */
                for (uint32_t i = 0; i < ncells; ++i) {
                    CHECK_EQ(atomic_load(&test_ring_cell(&r, i)->seq) & 1u, 0);
                }
                test_ring_close(&r);
            }
        }
    }
    free(buf);
}

/* ---- reference model ---------------------------------------------------- */

typedef struct model_msg {
    uint64_t pos;
    uint64_t msgno; /* ~0: a pad */
    uint32_t len;
    uint32_t cells;
} model_msg_t;

typedef struct model {
    uint32_t ncells, batch, max;
    uint64_t head, ptail, ctail;
    model_msg_t *q;
    size_t qhead, qlen, qcap;
    int peeked;
} model_t;

static model_msg_t *mq(model_t *md, size_t i)
{
    return &md->q[(md->qhead + i) % md->qcap];
}

static void model_push(model_t *md, model_msg_t m)
{
    CHECK(md->qlen < md->qcap);
    *mq(md, md->qlen) = m;
    md->qlen++;
}

static void model_pop(model_t *md)
{
    md->qhead = (md->qhead + 1) % md->qcap;
    md->qlen--;
}

static void model_consumed(model_t *md, uint32_t cells)
{
    md->ctail += cells;
    if (md->ctail - md->ptail >= md->batch) {
        md->ptail = md->ctail;
    }
}

static void model_run(uint32_t ncells, uint32_t max_msg, uint32_t batch, uint64_t start, uint64_t seed,
                      uint64_t ops)
{
    test_ring_t r;
    model_t md = {0};
    uint64_t rng = seed, next_msgno = 0;
    uint64_t counts[4] = {0}; /* sent, refused, pads, received */
    test_ring_open(&r, ncells, max_msg, batch, start);
    md.ncells = ncells;
    md.batch = r.c.batch;
    md.max = r.p.max_msg;
    md.head = md.ptail = md.ctail = start;
    md.qcap = 2 * ncells + 2;
    md.q = calloc(md.qcap, sizeof(*md.q));
    uint8_t *buf = malloc(md.max + 1);
    CHECK(md.q && buf);
    int bias = 50;
    for (uint64_t op = 0; op < ops; ++op) {
        if (op % 997 == 0) {
            /* Phases that favour one side reach both full and empty. */
            bias = (int) (rng_next(&rng) % 3) * 40 + 10;
        }
        uint64_t x = rng_next(&rng);
        int choice = (int) (x % 100);
        if (choice < bias) {
            uint32_t len = test_skewed_len(&rng, md.max);
            uint32_t need = shm_ring_cells_for(len), idx = (uint32_t) md.head & (ncells - 1);
            uint32_t pad = idx + need > ncells ? ncells - idx : 0;
            int fits = md.head + pad + need - md.ptail <= ncells;
            pattern_fill(buf, next_msgno, len);
            int rc;
            if (x & (1ull << 40)) {
                void *dst;
                rc = shm_ring_reserve(&r.p, len, (uint16_t) next_msgno, &dst);
                if (rc == 0) {
                    memcpy(dst, buf, len);
                    shm_ring_commit(&r.p);
                }
            } else {
                uint32_t split = len ? (uint32_t) (x >> 41) % (len + 1) : 0;
                rc = shm_ring_send(&r.p, (uint16_t) next_msgno, buf, split, buf + split, len - split);
            }
            CHECK_MSG(rc == (fits ? 0 : -EAGAIN), "op %llu: rc %d, model says %s (head %llu ptail %llu need %u pad %u)",
                      (unsigned long long) op, rc, fits ? "fits" : "full", (unsigned long long) md.head,
                      (unsigned long long) md.ptail, need, pad);
            if (fits) {
                if (pad) {
                    shm_ring_cell_hdr_t *ph = test_ring_cell(&r, md.head);
                    CHECK_EQ(ph->kind, SHM_RING_KIND_PAD);
                    CHECK_EQ(ph->ncells, pad);
                    CHECK_EQ(atomic_load(&ph->seq), (uint32_t) (2 * md.head + 1));
                    model_push(&md, (model_msg_t){md.head, ~0ull, 0, pad});
                    md.head += pad;
                    counts[2]++;
                }
                model_push(&md, (model_msg_t){md.head, next_msgno, len, need});
                md.head += need;
                next_msgno++;
                counts[0]++;
            } else {
                counts[1]++;
            }
            CHECK_EQ(r.p.head, md.head);
        } else if (choice < 97) {
            shm_ring_msg_t m;
            int rc = shm_ring_peek(&r.c, &m);
            /* Pads are skipped transparently inside peek. */
            while (md.qlen && mq(&md, 0)->msgno == ~0ull) {
                model_consumed(&md, mq(&md, 0)->cells);
                model_pop(&md);
            }
            if (md.qlen == 0) {
                CHECK_EQ(rc, 0);
                md.ptail = md.ctail;
            } else {
                model_msg_t *e = mq(&md, 0);
                CHECK_EQ(rc, 1);
                CHECK_EQ(m.len, e->len);
                CHECK_EQ(m.tag, (uint16_t) e->msgno);
                CHECK_EQ(m.ncells, e->cells);
                CHECK(m.data == (uint8_t *) test_ring_cell(&r, e->pos) + SHM_RING_MSG_HDR_SIZE);
                CHECK_EQ(pattern_check(m.data, e->msgno, m.len), -1);
                if (x & (1ull << 33)) {
                    /* Sometimes peek again before releasing. */
                    shm_ring_msg_t m2;
                    CHECK_EQ(shm_ring_peek(&r.c, &m2), 1);
                    CHECK(m2.data == m.data);
                }
                shm_ring_release(&r.c, &m);
                model_consumed(&md, e->cells);
                model_pop(&md);
                counts[3]++;
            }
            CHECK_EQ(r.c.tail, md.ctail);
        } else {
            shm_ring_publish(&r.c);
            md.ptail = md.ctail;
        }
        CHECK_MSG(atomic_load(&r.shared->tail) == md.ptail, "op %llu: shared tail %llu, model %llu",
                  (unsigned long long) op, (unsigned long long) atomic_load(&r.shared->tail),
                  (unsigned long long) md.ptail);
        CHECK_EQ(shm_ring_producer_used(&r.p), (uint32_t) (md.head - md.ptail));
    }
    printf("  model ncells=%u max=%u batch=%u start=%#llx: %llu sent, %llu full, %llu pads, %llu received\n",
           ncells, md.max, md.batch, (unsigned long long) start, (unsigned long long) counts[0],
           (unsigned long long) counts[1], (unsigned long long) counts[2], (unsigned long long) counts[3]);
    CHECK(counts[1] > 0 && counts[2] > 0 && counts[3] > 0);
    free(buf);
    free(md.q);
    test_ring_close(&r);
}

int main(void)
{
    test_init("t_ring_wrap", 100);
    check_layout_at(4, 0);
    check_layout_at(16, 0);
    check_layout_at(64, 0);
    check_layout_at(16, (1ull << 31) - 16);
    check_layout_at(16, (1ull << 32) - 16);
    check_layout_at(16, UINT64_MAX - 15);

    uint64_t ops = TEST_SANITIZED ? 100000 : 400000;
    model_run(4, 0, 0, 0, 11, ops);
    model_run(8, 0, 1, 0, 12, ops);
    model_run(16, 0, 0, 0, 13, ops);
    model_run(16, 100, 8, 0, 14, ops);
    model_run(64, 0, 5, 0, 15, ops);
    model_run(64, 0, 32, 0, 16, ops);
    model_run(1024, 4096, 0, 0, 17, ops);
    /* Near the wrap points of seq (2*pos+1 in 32 bits) and of the 64-bit
     * free-running positions themselves. */
    model_run(16, 0, 2, (1ull << 31) - 100, 18, ops);
    model_run(64, 0, 8, (1ull << 32) - 1000, 19, ops);
    model_run(16, 0, 4, UINT64_MAX - 500, 20, ops);
    model_run(256, 0, 0, UINT64_MAX - 100000, 21, ops);
    return test_pass();
}
