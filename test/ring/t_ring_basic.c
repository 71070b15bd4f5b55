/*
 * t_ring_basic: the message functions of one ring used from one thread -
 * reserve/commit, send with one and two parts, peek/release, zero-length
 * and maximum-size messages (-EMSGSIZE one byte over), a full ring
 * (-EAGAIN, nothing overwritten, everything intact after draining), and
 * the orderly shutdown (producer_close / consumer_drained_closed) with a
 * second producer taking over a drained ring.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include <sys/mman.h>
#include <unistd.h>

static void test_reserve_commit_peek_release(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    void *payload = NULL;
    test_ring_open(&r, 16, 0, 4, 0);
    shm_ring_cell_hdr_t *h0 = test_ring_cell(&r, 0);

    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    CHECK_EQ(shm_ring_reserve(&r.p, 100, 7, &payload), 0);
    CHECK(payload == (uint8_t *) h0 + SHM_RING_MSG_HDR_SIZE);
    pattern_fill(payload, 1, 100);
    /* Reserved but not committed: invisible to the consumer. */
    CHECK_EQ(atomic_load(&h0->seq), 0);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    shm_ring_commit(&r.p);
    CHECK_EQ(atomic_load(&h0->seq), 1);
    CHECK_EQ(h0->len, 100);
    CHECK_EQ(h0->ncells, 2);
    CHECK_EQ(h0->kind, SHM_RING_KIND_DATA);
    CHECK_EQ(h0->tag, 7);
    CHECK_EQ(r.p.head, 2);
    CHECK_EQ(shm_ring_producer_used(&r.p), 2);

    /* Peek does not consume: twice the same message. */
    for (int i = 0; i < 2; ++i) {
        memset(&m, 0, sizeof(m));
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK(m.data == payload);
        CHECK_EQ(m.len, 100);
        CHECK_EQ(m.tag, 7);
        CHECK_EQ(m.ncells, 2);
        CHECK_EQ(pattern_check(m.data, 1, 100), -1);
    }
    shm_ring_release(&r.c, &m);
    CHECK_EQ(r.c.tail, 2);
    /* Every cell of the message is free again (even first word). */
    CHECK_EQ(atomic_load(&test_ring_cell(&r, 0)->seq), 0);
    CHECK_EQ(atomic_load(&test_ring_cell(&r, 1)->seq), 0);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    CHECK_EQ(atomic_load(&r.shared->tail), 2);
    CHECK_EQ(shm_ring_producer_used(&r.p), 0);

    /* The second message's seq encodes its position: 2*2+1. */
    CHECK_EQ(shm_ring_reserve(&r.p, 48, 0xffff, &payload), 0);
    memset(payload, 0x11, 48);
    shm_ring_commit(&r.p);
    CHECK_EQ(atomic_load(&test_ring_cell(&r, 2)->seq), 5);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
    CHECK_EQ(m.tag, 0xffff);
    CHECK_EQ(m.ncells, 1);
    shm_ring_release(&r.c, &m);

    /* A reservation that is never committed is simply replaced. */
    CHECK_EQ(shm_ring_reserve(&r.p, 10, 1, &payload), 0);
    CHECK_EQ(shm_ring_reserve(&r.p, 20, 2, &payload), 0);
    pattern_fill(payload, 2, 20);
    shm_ring_commit(&r.p);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
    CHECK_EQ(m.len, 20);
    CHECK_EQ(m.tag, 2);
    CHECK_EQ(pattern_check(m.data, 2, 20), -1);
    shm_ring_release(&r.c, &m);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    test_ring_close(&r);
}

static void test_send_parts(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    uint8_t a[40], b[300], both[340];
    test_ring_open(&r, 32, 0, 0, 0);
    pattern_fill(both, 9, sizeof(both));
    memcpy(a, both, sizeof(a));
    memcpy(b, both + sizeof(a), sizeof(b));

    CHECK_EQ(shm_ring_send(&r.p, 3, a, sizeof(a), b, sizeof(b)), 0);
    CHECK_EQ(shm_ring_send(&r.p, 4, both, sizeof(both), NULL, 0), 0);
    CHECK_EQ(shm_ring_send(&r.p, 5, NULL, 0, both, sizeof(both)), 0);
    CHECK_EQ(shm_ring_send(&r.p, 6, NULL, 0, NULL, 0), 0);
    for (uint16_t tag = 3; tag <= 5; ++tag) {
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK_EQ(m.tag, tag);
        CHECK_EQ(m.len, sizeof(both));
        CHECK_EQ(m.ncells, shm_ring_cells_for(sizeof(both)));
        CHECK(memcmp(m.data, both, sizeof(both)) == 0);
        shm_ring_release(&r.c, &m);
    }
    CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
    CHECK_EQ(m.tag, 6);
    CHECK_EQ(m.len, 0);
    shm_ring_release(&r.c, &m);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    test_ring_close(&r);
}

static void test_zero_length(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    void *payload = NULL;
    test_ring_open(&r, 4, 0, 0, 0);
    /* Many more than the ring holds, one at a time: each takes one cell. */
    for (uint32_t i = 0; i < 100; ++i) {
        CHECK_EQ(shm_ring_reserve(&r.p, 0, (uint16_t) i, &payload), 0);
        CHECK(payload != NULL);
        CHECK(payload == (uint8_t *) test_ring_cell(&r, i) + SHM_RING_MSG_HDR_SIZE);
        shm_ring_commit(&r.p);
        CHECK_EQ(test_ring_cell(&r, i)->ncells, 1);
        CHECK_EQ(test_ring_cell(&r, i)->len, 0);
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK_EQ(m.len, 0);
        CHECK_EQ(m.ncells, 1);
        CHECK_EQ(m.tag, (uint16_t) i);
        shm_ring_release(&r.c, &m);
    }
    /* A full ring of empty messages: exactly ncells of them fit. */
    int sent = 0;
    while (shm_ring_send(&r.p, 0, NULL, 0, NULL, 0) == 0) {
        sent++;
    }
    CHECK_EQ(sent, 4);
    for (int i = 0; i < 4; ++i) {
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK_EQ(m.len, 0);
        shm_ring_release(&r.c, &m);
    }
    CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
    test_ring_close(&r);
}

static void test_max_size(uint32_t ncells, uint32_t max_msg)
{
    test_ring_t r;
    shm_ring_msg_t m;
    void *payload = NULL;
    test_ring_open(&r, ncells, max_msg, 0, 0);
    uint32_t max = max_msg ? max_msg : shm_ring_max_payload(ncells);
    CHECK_EQ(r.p.max_msg, max);
    uint8_t *buf = malloc((size_t) max + 2);
    CHECK(buf != NULL);
    /* Several laps so the max message lands at offsets needing pads. */
    for (uint64_t i = 0; i < 4ull * ncells; ++i) {
        uint32_t len = (i % 3 == 0) ? max : (uint32_t) (i * 13 % 49);
        pattern_fill(buf, i, len + 1);
        uint64_t full = r.p.full_events;
        uint8_t *snap = malloc(r.g.size);
        CHECK(snap != NULL);
        memcpy(snap, r.g.mem, r.g.size);
        /* One byte over: refused before touching anything. */
        CHECK_EQ(shm_ring_reserve(&r.p, max + 1, 1, &payload), -EMSGSIZE);
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, max + 1, NULL, 0), -EMSGSIZE);
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, max, buf, 1), -EMSGSIZE);
        CHECK_EQ(shm_ring_reserve(&r.p, UINT32_MAX, 1, &payload), -EMSGSIZE);
        /* alen + blen beyond 32 bits: refused before any byte is read. */
        CHECK_EQ(shm_ring_send(&r.p, 1, buf, 1, buf, (size_t) UINT32_MAX), -EMSGSIZE);
        CHECK(memcmp(snap, r.g.mem, r.g.size) == 0);
        CHECK_EQ(r.p.full_events, full);
        free(snap);
        CHECK_EQ(shm_ring_send(&r.p, (uint16_t) i, buf, len, NULL, 0), 0);
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK_EQ(m.len, len);
        CHECK_EQ(m.ncells, shm_ring_cells_for(len));
        CHECK_EQ(pattern_check(m.data, i, len), -1);
        shm_ring_release(&r.c, &m);
    }
    free(buf);
    test_ring_close(&r);
}

/* Fill until -EAGAIN, show the refusals wrote nothing, drain in order. */
static void test_full(uint32_t ncells, uint32_t batch, uint64_t seed)
{
    test_ring_t r;
    shm_ring_msg_t m;
    uint64_t rng = seed;
    test_ring_open(&r, ncells, 0, batch, 0);
    uint32_t max = r.p.max_msg;
    uint8_t *buf = malloc(max);
    uint8_t *snap = malloc(r.g.size);
    CHECK(buf && snap);
    uint64_t next_send = 0, next_recv = 0;
    for (int round = 0; round < 50; ++round) {
        /* Fill.  Whether a message fits is fully determined by the
         * producer's head and the published consumer position: the cells
         * it needs plus the pad before it when it would cross the end. */
        uint32_t refused = 0;
        for (;;) {
            uint32_t len = test_skewed_len(&rng, max);
            uint32_t need = shm_ring_cells_for(len), idx = (uint32_t) r.p.head & (ncells - 1);
            uint32_t pad = idx + need > ncells ? ncells - idx : 0;
            uint32_t used = shm_ring_producer_used(&r.p);
            pattern_fill(buf, next_send, len);
            memcpy(snap, r.g.mem, r.g.size);
            uint64_t full = r.p.full_events;
            int rc = shm_ring_send(&r.p, (uint16_t) next_send, buf, len, NULL, 0);
            if (rc == -EAGAIN) {
                /* Nothing written and the refusal counted. */
                CHECK_MSG(used + pad + need > ncells, "used %u pad %u need %u", used, pad, need);
                CHECK(memcmp(snap, r.g.mem, r.g.size) == 0);
                CHECK_EQ(r.p.full_events, full + 1);
                CHECK_EQ(shm_ring_send(&r.p, 0, buf, max, NULL, 0), -EAGAIN);
                CHECK(memcmp(snap, r.g.mem, r.g.size) == 0);
                refused = len;
                break;
            }
            CHECK_EQ(rc, 0);
            CHECK_MSG(used + pad + need <= ncells, "used %u pad %u need %u", used, pad, need);
            CHECK_EQ(shm_ring_producer_used(&r.p), used + pad + need);
            next_send++;
        }
        /* Consuming without publishing frees nothing for the producer: the
         * refused message is refused again, and still nothing is written. */
        if (batch > 1 && next_recv < next_send) {
            uint64_t pub = atomic_load(&r.shared->tail);
            CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
            CHECK_EQ(m.tag, (uint16_t) next_recv);
            CHECK_EQ(pattern_check(m.data, next_recv, m.len), -1);
            shm_ring_release(&r.c, &m);
            next_recv++;
            if (atomic_load(&r.shared->tail) == pub) {
                memcpy(snap, r.g.mem, r.g.size);
                CHECK_EQ(shm_ring_send(&r.p, 0, buf, refused, NULL, 0), -EAGAIN);
                CHECK(memcmp(snap, r.g.mem, r.g.size) == 0);
            }
        }
        /* Drain part (odd rounds) or all (even rounds), checking order. */
        uint64_t stop = (round & 1) ? next_recv + (next_send - next_recv) / 2 : next_send;
        while (next_recv < stop) {
            CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
            CHECK_EQ(m.tag, (uint16_t) next_recv);
            CHECK_EQ(pattern_check(m.data, next_recv, m.len), -1);
            shm_ring_release(&r.c, &m);
            next_recv++;
        }
        shm_ring_publish(&r.c);
        if (stop == next_send) {
            CHECK_EQ(shm_ring_peek(&r.c, &m), 0);
        }
    }
    free(buf);
    free(snap);
    test_ring_close(&r);
}

static void test_close_and_takeover(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    shm_error_t err;
    test_ring_open(&r, 16, 0, 2, 0);
    CHECK_EQ(atomic_load(&r.shared->producer_state), SHM_RING_PRODUCER_ATTACHED);
    CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 0);
    for (uint16_t i = 0; i < 3; ++i) {
        CHECK_EQ(shm_ring_send(&r.p, i, &i, sizeof(i), NULL, 0), 0);
    }
    CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 0);
    shm_ring_producer_close(&r.p);
    CHECK_EQ(atomic_load(&r.shared->producer_state), SHM_RING_PRODUCER_CLOSED);
    for (uint16_t i = 0; i < 3; ++i) {
        /* Closed but not drained. */
        CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 0);
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK_EQ(m.tag, i);
        shm_ring_release(&r.c, &m);
    }
    CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 1);
    CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 1);

    /* A new producer takes over the drained ring where the consumer is. */
    shm_ring_producer_t p2;
    CHECK_EQ(shm_ring_producer_attach(&p2, r.g.mem, r.g.size, &err), 0);
    CHECK_EQ(atomic_load(&r.shared->producer_state), SHM_RING_PRODUCER_ATTACHED);
    CHECK_EQ(p2.head, r.c.tail);
    CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 0);
    for (uint16_t i = 0; i < 40; ++i) {
        CHECK_EQ(shm_ring_send(&p2, i, &i, sizeof(i), NULL, 0), 0);
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        CHECK_EQ(m.tag, i);
        CHECK(memcmp(m.data, &i, sizeof(i)) == 0);
        shm_ring_release(&r.c, &m);
    }
    shm_ring_producer_close(&p2);
    CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 1);

    /* Closing an empty ring: drained at once. */
    test_ring_close(&r);
    test_ring_open(&r, 4, 0, 0, 0);
    shm_ring_producer_close(&r.p);
    CHECK_EQ(shm_ring_consumer_drained_closed(&r.c), 1);
    test_ring_close(&r);
}

/* The notification request: off after init, on while the consumer sleeps,
 * and the sleep reports a message that was already there. */
static void test_sleep_and_notify(void)
{
    test_ring_t r;
    shm_ring_msg_t m;
    test_ring_open(&r, 16, 0, 0, 0);
    CHECK_EQ(shm_ring_producer_notify_wanted(&r.p), 0);
    CHECK_EQ(shm_ring_consumer_sleep(&r.c), 0);
    CHECK_EQ(shm_ring_producer_notify_wanted(&r.p), 1);
    CHECK_EQ(shm_ring_send(&r.p, 3, "abc", 3, NULL, 0), 0);
    CHECK_EQ(shm_ring_producer_notify_wanted(&r.p), 1);
    shm_ring_consumer_wake(&r.c);
    CHECK_EQ(shm_ring_producer_notify_wanted(&r.p), 0);
    /* Falling asleep with a message waiting: told so, and it is still there. */
    CHECK_EQ(shm_ring_consumer_sleep(&r.c), 1);
    shm_ring_consumer_wake(&r.c);
    CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
    CHECK_EQ(m.len, 3);
    shm_ring_release(&r.c, &m);
    /* After a lap, the cells of consumed messages do not read as
     * a message to a consumer falling asleep. */
    for (int i = 0; i < 40; ++i) {
        CHECK_EQ(shm_ring_send(&r.p, 1, "x", 1, NULL, 0), 0);
        CHECK_EQ(shm_ring_peek(&r.c, &m), 1);
        shm_ring_release(&r.c, &m);
    }
    CHECK_EQ(shm_ring_consumer_sleep(&r.c), 0);
    test_ring_close(&r);
}

/* shm_ring_init_zeroed on fresh anonymous memory writes the header only:
 * the cells' pages stay unresident until used, and the ring works. */
static void test_init_zeroed(void)
{
    const uint32_t ncells = 1024; /* 64 KiB of cells: 16 pages */
    size_t size = shm_ring_memsize(ncells), page = (size_t) sysconf(_SC_PAGESIZE);
    size_t npages = (size + page - 1) / page;
    unsigned char *mem = mmap(NULL, npages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char vec[64];
    shm_error_t err;
    shm_ring_producer_t p;
    shm_ring_consumer_t c;
    shm_ring_msg_t m;
    CHECK(mem != MAP_FAILED && npages <= sizeof(vec));
    CHECK_EQ(shm_ring_init_zeroed(mem, size, ncells, 0, 0, &err), 0);
    CHECK_EQ(mincore(mem, npages * page, vec), 0);
    size_t resident = 0;
    for (size_t i = 0; i < npages; ++i) {
        resident += vec[i] & 1;
    }
    CHECK_MSG(resident == 1, "%zu of %zu pages resident after formatting", resident, npages);
    CHECK_EQ(shm_ring_producer_attach(&p, mem, size, &err), 0);
    CHECK_EQ(shm_ring_consumer_attach(&c, mem, size, &err), 0);
    for (int i = 0; i < 3000; ++i) {
        char msg[100];
        pattern_fill((uint8_t *) msg, (uint64_t) i, sizeof(msg));
        CHECK_EQ(shm_ring_send(&p, 1, msg, sizeof(msg), NULL, 0), 0);
        CHECK_EQ(shm_ring_peek(&c, &m), 1);
        CHECK_EQ(pattern_check(m.data, (uint64_t) i, sizeof(msg)), -1);
        shm_ring_release(&c, &m);
    }
    munmap(mem, npages * page);
}

int main(void)
{
    test_init("t_ring_basic", 60);
    test_reserve_commit_peek_release();
    test_send_parts();
    test_zero_length();
    test_max_size(4, 0);
    test_max_size(16, 0);
    test_max_size(64, 300);
    test_max_size(1024, 4096);
    test_full(4, 1, 1);
    test_full(16, 1, 2);
    test_full(16, 8, 3);
    test_full(64, 8, 4);
    test_full(64, 32, 5);
    test_full(256, 1, 6);
    test_close_and_takeover();
    test_sleep_and_notify();
    test_init_zeroed();
    return test_pass();
}
