/*
 * stream.c: the producer and consumer loops declared in stream.h.
 */
#define _GNU_SOURCE
#include "stream.h"

#include <sched.h>
#include <signal.h>
#include <string.h>

/* A ring that stops moving for this long is deadlocked (a lost publish,
 * a lost message): fail at once rather than at the test's watchdog. */
#define STALL_NS 10000000000ull

void stream_produce(shm_ring_producer_t *p, const stream_t *s, stream_stats_t *st)
{
    uint64_t rng = s->seed;
    memset(st, 0, sizeof(*st));
    for (uint64_t i = 0; i < s->count; ++i) {
        uint32_t len = test_skewed_len(&rng, s->max_len);
        void *dst = NULL;
        int rc;
        uint64_t since = 0;
        while ((rc = shm_ring_reserve(p, len, (uint16_t) i, &dst)) == -EAGAIN) {
            /* The cores are shared: let the consumer run. */
            if (++st->waits % 1024 == 0) {
                uint64_t now = now_ns();
                since = since ? since : now;
                CHECK_MSG(now - since < STALL_NS, "message %llu: ring full for 10 s", (unsigned long long) i);
            }
            sched_yield();
        }
        CHECK_EQ(rc, 0);
        if (i == s->die_at) {
            /* Die with a half-written, uncommitted message in the ring. */
            pattern_fill(dst, i, len / 2);
            atomic_store_explicit(s->die_ns, now_ns(), memory_order_release);
            raise(SIGKILL);
        }
        pattern_fill(dst, i, len);
        shm_ring_commit(p);
        st->msgs++;
        st->bytes += len;
    }
    shm_ring_producer_close(p);
}

int stream_consume(shm_ring_consumer_t *c, const stream_t *s, const shm_peer_t *peer, stream_stats_t *st)
{
    uint64_t rng = s->seed, i = 0;
    uint32_t len = s->count ? test_skewed_len(&rng, s->max_len) : 0;
    unsigned idle = 0;
    uint64_t idle_since = 0;
    memset(st, 0, sizeof(*st));
    for (;;) {
        shm_ring_msg_t m;
        int rc = shm_ring_peek(c, &m);
        if (rc == 1) {
            CHECK_MSG(i < s->count, "message %llu beyond the stream's %llu", (unsigned long long) i,
                      (unsigned long long) s->count);
            CHECK_MSG(m.len == len && m.tag == (uint16_t) i, "message %llu: len %u tag %u, expected %u %u",
                      (unsigned long long) i, m.len, m.tag, len, (unsigned) (uint16_t) i);
            long bad = pattern_check(m.data, i, len);
            CHECK_MSG(bad < 0, "message %llu (len %u): byte %ld differs", (unsigned long long) i, len, bad);
            shm_ring_release(c, &m);
            st->msgs++;
            st->bytes += len;
            if (++i < s->count) {
                len = test_skewed_len(&rng, s->max_len);
            }
            idle = 0;
            idle_since = 0;
            continue;
        }
        CHECK_MSG(rc == 0, "message %llu: peek returned %d", (unsigned long long) i, rc);
        st->waits++;
        if (shm_ring_consumer_drained_closed(c)) {
            CHECK_MSG(i == s->count, "producer closed after %llu of %llu messages", (unsigned long long) i,
                      (unsigned long long) s->count);
            return 0;
        }
        /* Liveness costs a system call: ask only after a run of empty
         * polls, which still bounds the detection delay to well under a
         * millisecond of polling. */
        if (++idle % 256 == 0) {
            uint64_t now = now_ns();
            idle_since = idle_since ? idle_since : now;
            CHECK_MSG(now - idle_since < STALL_NS, "message %llu: nothing arrived for 10 s", (unsigned long long) i);
            uint64_t died = s->die_ns ? atomic_load_explicit(s->die_ns, memory_order_acquire) : 0;
            CHECK_MSG(!died || now - died < 2000000000ull, "the producer died %.1f s ago and is still not noticed",
                      (double) (now - died) / 1e9);
        }
        if (peer && idle % 256 == 0) {
            int alive = shm_peer_alive(peer);
            CHECK(alive >= 0);
            if (!alive) {
                /* Anything it committed before dying is still delivered. */
                if (shm_ring_peek(c, &m) == 1) {
                    continue;
                }
                st->gone_ns = now_ns();
                return -EPIPE;
            }
        }
        sched_yield();
    }
}
