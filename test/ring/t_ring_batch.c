/*
 * t_ring_batch: when the consumer's position becomes visible to the
 * producer.  The shared tail must NOT move on every release (that would put
 * a cache-line transfer on every message) but must move once `batch` cells
 * were consumed, whenever peek finds the ring empty (so a waiting producer
 * is never stuck behind the batching), and on an explicit publish.  Also
 * checks that the producer's fast path relies on its cached position and
 * reads the shared one only when the ring looks full.
 */
#define _GNU_SOURCE
#include <string.h>

#include "testlib.h"

static uint64_t shared_tail(test_ring_t *r)
{
    return atomic_load(&r->shared->tail);
}

static void send_cells(test_ring_t *r, uint32_t cells, uint16_t tag)
{
    uint8_t buf[4096];
    uint32_t len = cells * 64 - 16;
    memset(buf, tag & 0xff, len);
    CHECK_EQ(shm_ring_send(&r->p, tag, buf, len, NULL, 0), 0);
}

static uint32_t recv_one(test_ring_t *r, uint16_t tag)
{
    shm_ring_msg_t m;
    CHECK_EQ(shm_ring_peek(&r->c, &m), 1);
    CHECK_EQ(m.tag, tag);
    shm_ring_release(&r->c, &m);
    return m.ncells;
}

static void test_batch_one_cell(uint32_t ncells, uint32_t batch)
{
    test_ring_t r;
    test_ring_open(&r, ncells, 0, batch, 0);
    CHECK_EQ(r.c.batch, batch);
    uint32_t n = ncells - 1;
    for (uint32_t i = 0; i < n; ++i) {
        send_cells(&r, 1, (uint16_t) i);
    }
    uint64_t expect = 0;
    for (uint32_t i = 0; i < n; ++i) {
        recv_one(&r, (uint16_t) i);
        if ((i + 1) % batch == 0) {
            expect = i + 1;
        }
        CHECK_MSG(shared_tail(&r) == expect, "after %u releases with batch %u: tail %llu, expected %llu", i + 1,
                  batch, (unsigned long long) shared_tail(&r), (unsigned long long) expect);
    }
    /* Empty ring: peek hands back the remainder at once. */
    shm_ring_msg_t m;
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    CHECK_EQ(shared_tail(&r), n);
    test_ring_close(&r);
}

static void test_batch_counts_cells(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    test_ring_open(&r, 64, 0, 8, 0);
    /* Batching counts cells, not messages: three 3-cell messages cross 8. */
    for (uint16_t i = 0; i < 6; ++i) {
        send_cells(&r, 3, i);
    }
    CHECK_EQ(recv_one(&r, 0), 3);
    CHECK_EQ(shared_tail(&r), 0);
    recv_one(&r, 1);
    CHECK_EQ(shared_tail(&r), 0);
    recv_one(&r, 2);
    CHECK_EQ(shared_tail(&r), 9);
    recv_one(&r, 3);
    CHECK_EQ(shared_tail(&r), 9);
    /* Explicit publish: immediately. */
    shm_ring_publish(&r.c);
    CHECK_EQ(shared_tail(&r), 12);
    CHECK_EQ(r.c.published, 12);
    /* Nothing new to publish: no store at all (shown by a planted value
     * that survives; the consumer's own record is unchanged). */
    atomic_store(&r.shared->tail, 11);
    shm_ring_publish(&r.c);
    CHECK_EQ(shared_tail(&r), 11);
    atomic_store(&r.shared->tail, 12);
    /* Peek that finds a message does not publish. */
    recv_one(&r, 4);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
    CHECK_EQ(shared_tail(&r), 12);
    shm_ring_release(&r.c, &m);
    CHECK_EQ(shared_tail(&r), 12); /* 6 cells since the last publish */
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    CHECK_EQ(shared_tail(&r), 18);
    /* A single message of batch or more cells publishes on its own. */
    send_cells(&r, 8, 9);
    recv_one(&r, 9);
    CHECK_EQ(shared_tail(&r), 26);
    test_ring_close(&r);
}

static void test_producer_reads_shared_tail_only_when_full(void)
{
    test_ring_t r;
    test_ring_open(&r, 16, 0, 1, 0);
    /* batch 1: every release publishes, yet the producer's cache stays
     * where it was as long as its fast path has room. */
    for (uint16_t i = 0; i < 8; ++i) {
        send_cells(&r, 1, i);
        recv_one(&r, i);
    }
    CHECK_EQ(shared_tail(&r), 8);
    CHECK_EQ(r.p.tail_cache, 0);
    for (uint16_t i = 8; i < 16; ++i) {
        send_cells(&r, 1, i);
    }
    CHECK_EQ(r.p.tail_cache, 0);
    /* Head 16 with cache 0 looks full: the slow path reloads. */
    send_cells(&r, 1, 16);
    CHECK_EQ(r.p.tail_cache, 8);
    CHECK_EQ(r.p.full_events, 0);
    test_ring_close(&r);
}

/* The empty-peek publish is what unblocks a producer waiting for space
 * when the consumer's batch is large. */
static void test_empty_peek_unblocks(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    test_ring_open(&r, 16, 0, 8, 0);
    for (uint16_t i = 0; i < 7; ++i) {
        send_cells(&r, 1, i);
    }
    for (uint16_t i = 0; i < 7; ++i) {
        recv_one(&r, i);
    }
    CHECK_EQ(shared_tail(&r), 0);
    /* Seen from the producer only 9 cells are free; the empty peek hands
     * back all 7 consumed ones, so 16 more fit. */
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    CHECK_EQ(shared_tail(&r), 7);
    for (uint16_t i = 0; i < 16; ++i) {
        send_cells(&r, 1, (uint16_t) (100 + i));
    }
    CHECK_EQ(shm_ring_send(&r.p, 0, NULL, 0, NULL, 0), -EAGAIN);
    /* While messages keep coming, the consumer publishes only per batch:
     * 7 released cells leave the producer refused, the 8th frees 8. */
    for (uint16_t i = 0; i < 7; ++i) {
        recv_one(&r, (uint16_t) (100 + i));
    }
    CHECK_EQ(shm_ring_send(&r.p, 0, NULL, 0, NULL, 0), -EAGAIN);
    recv_one(&r, 107);
    CHECK_EQ(shared_tail(&r), 15);
    for (uint16_t i = 0; i < 8; ++i) {
        CHECK_EQ(shm_ring_send(&r.p, 0, NULL, 0, NULL, 0), 0);
    }
    CHECK_EQ(shm_ring_send(&r.p, 0, NULL, 0, NULL, 0), -EAGAIN);
    test_ring_close(&r);
}

int main(void)
{
    test_init("t_ring_batch", 60);
    test_batch_one_cell(16, 1);
    test_batch_one_cell(16, 2);
    test_batch_one_cell(16, 8);
    test_batch_one_cell(64, 8);
    test_batch_one_cell(64, 5);
    test_batch_one_cell(64, 32);
    test_batch_one_cell(4096, 512);
    test_batch_counts_cells();
    test_producer_reads_shared_tail_only_when_full();
    test_empty_peek_unblocks();
    return test_pass();
}
