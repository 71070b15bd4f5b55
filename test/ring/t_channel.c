/*
 * t_channel: the component's two-ring channel (src/btl_cma/btl_cma_channel.h)
 * keeps one peer's messages in order.  Messages of random sizes, some for
 * the small ring, some too large for it, some finding it full, are sent
 * and received in random interleavings in one process, then by two
 * processes at full speed on two cores (where a flagged message can be
 * seen before its predecessor in the other ring was looked at); every
 * message must come out once, in order, with its tag and every byte.  A
 * peer that breaks the switch-flag rule must be reported, not followed,
 * and a poll nested in a message's callback must not mistake the message
 * for a broken peer.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "shm_ring.h"

/* The race the consumer's second look at its ring closes, made to happen:
 * between its two looks, the producer publishes one message to the ring
 * the consumer just found empty and then one to the other ring. */
static shm_ring_producer_t *race_same, *race_other;
static int race_armed;
static void race_publish(int rc);
#define MCA_BTL_CMA_CHANNEL_RACE_HOOK(rx, rc) race_publish(rc)

#include "btl_cma_channel.h"
#include "testlib.h"

#define LARGE_CELLS 64u
#define SMALL_CELLS 16u
#define SMALL_MIN 8u
#define SMALL_MAX 200u
#define MAX_LEN 900u

typedef struct channel_mem {
    uint8_t *large, *small;
    size_t large_size, small_size;
} channel_mem_t;

static void channel_format(channel_mem_t *m, void *base)
{
    m->large_size = shm_ring_memsize(LARGE_CELLS);
    m->small_size = shm_ring_memsize(SMALL_CELLS);
    m->large = base;
    m->small = (uint8_t *) base + m->large_size;
    shm_error_t err;
    CHECK_MSG(shm_ring_init(m->large, m->large_size, LARGE_CELLS, 0, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_ring_init(m->small, m->small_size, SMALL_CELLS, 0, 0, &err) == 0, "%s", err.msg);
}

static void channel_tx(mca_btl_cma_channel_tx_t *t, channel_mem_t *m)
{
    shm_error_t err;
    memset(t, 0, sizeof(*t));
    CHECK_MSG(shm_ring_producer_attach(&t->large, m->large, m->large_size, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_ring_producer_attach(&t->small, m->small, m->small_size, &err) == 0, "%s", err.msg);
    mca_btl_cma_channel_tx_setup(t, SMALL_MIN, SMALL_MAX);
}

static void channel_rx(mca_btl_cma_channel_rx_t *rx, channel_mem_t *m)
{
    shm_error_t err;
    memset(rx, 0, sizeof(*rx));
    CHECK_MSG(shm_ring_consumer_attach(&rx->large, m->large, m->large_size, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_ring_consumer_attach(&rx->small, m->small, m->small_size, &err) == 0, "%s", err.msg);
    mca_btl_cma_channel_rx_setup(rx, 1);
}

/* A channel in guarded memory with both sides attached. */
static void open_channel(guarded_t *g, mca_btl_cma_channel_tx_t *t, mca_btl_cma_channel_rx_t *rx)
{
    channel_mem_t m;
    channel_format(&m, guarded_alloc(g, shm_ring_memsize(LARGE_CELLS) + shm_ring_memsize(SMALL_CELLS)));
    channel_tx(t, &m);
    channel_rx(rx, &m);
}

/* A channel in guarded memory with its consumer, and the two rings'
 * producers as plain rings: the test plays the peer, flags and all. */
static void raw_channel(guarded_t *g, mca_btl_cma_channel_rx_t *rx, shm_ring_producer_t *large,
                        shm_ring_producer_t *small)
{
    channel_mem_t m;
    shm_error_t err;
    channel_format(&m, guarded_alloc(g, shm_ring_memsize(LARGE_CELLS) + shm_ring_memsize(SMALL_CELLS)));
    channel_rx(rx, &m);
    CHECK_MSG(shm_ring_producer_attach(large, m.large, m.large_size, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_ring_producer_attach(small, m.small, m.small_size, &err) == 0, "%s", err.msg);
}

/* Message number n: its length (mostly small, now and then past
 * SMALL_MAX), tag (never the switch bit) and payload follow from n. */
static int alternate; /* every message changes rings: the race the re-peek closes */

static uint32_t msg_len(uint64_t n)
{
    if (alternate) {
        return n & 1 ? SMALL_MIN + (uint32_t) (n % 3) : (uint32_t) (n % SMALL_MIN);
    }
    uint64_t s = n * 7919u + 1;
    uint64_t x = rng_next(&s);
    return (x & 7) == 0 ? (uint32_t) (x >> 8) % (MAX_LEN + 1) : (uint32_t) (x >> 8) % (SMALL_MAX + 40);
}

static uint16_t msg_tag(uint64_t n)
{
    return (uint16_t) (n % 300);
}

static int try_send(mca_btl_cma_channel_tx_t *t, uint64_t n)
{
    void *dst;
    uint32_t len = msg_len(n);
    int rc = mca_btl_cma_channel_reserve(t, len, msg_tag(n), &dst);
    CHECK(rc == 0 || rc == -EAGAIN);
    if (rc == 0) {
        pattern_fill(dst, n, len);
        mca_btl_cma_channel_commit(t);
    }
    return rc == 0;
}

/* Takes the next message if there is one and checks it is number *n. */
static int try_recv(mca_btl_cma_channel_rx_t *rx, uint64_t *n, uint64_t *from_small)
{
    shm_ring_msg_t m;
    shm_ring_consumer_t *from;
    int rc = mca_btl_cma_channel_peek(rx, &m, &from);
    CHECK_MSG(rc == 0 || rc == 1, "message %llu: peek returned %d", (unsigned long long) *n, rc);
    if (rc == 0) {
        return 0;
    }
    uint32_t len = msg_len(*n);
    CHECK_MSG(m.len == len && m.tag == msg_tag(*n), "message %llu: got len %u tag %u, expected len %u tag %u",
              (unsigned long long) *n, m.len, m.tag, len, msg_tag(*n));
    CHECK_MSG(pattern_check(m.data, *n, len) == -1, "message %llu: payload differs", (unsigned long long) *n);
    *from_small += from == &rx->small;
    mca_btl_cma_channel_release(rx, from, &m);
    ++*n;
    return 1;
}

static void test_interleaved(uint64_t seed, uint64_t count)
{
    guarded_t g;
    mca_btl_cma_channel_tx_t t;
    mca_btl_cma_channel_rx_t rx;
    open_channel(&g, &t, &rx);
    uint64_t sent = 0, got = 0, small = 0, rng = seed;
    while (got < count) {
        /* Bursts of sends and of receives, so that the small ring both
         * overflows and drains. */
        uint64_t x = rng_next(&rng);
        int burst = 1 + (int) (x % 24);
        if ((x >> 8) & 1) {
            for (int i = 0; i < burst && sent < count && try_send(&t, sent); ++i) {
                ++sent;
            }
        } else {
            for (int i = 0; i < burst && try_recv(&rx, &got, &small); ++i) {
            }
        }
    }
    shm_ring_msg_t last;
    shm_ring_consumer_t *from;
    CHECK_EQ(mca_btl_cma_channel_peek(&rx, &last, &from), 0);
    printf("  seed %llu: %llu messages, %llu through the small ring\n", (unsigned long long) seed,
           (unsigned long long) count, (unsigned long long) small);
    CHECK(small > count / 50 && small < count / 2);
    guarded_free(&g);
}

static void test_two_processes(uint64_t count, int alternating)
{
    alternate = alternating;
    size_t size = shm_ring_memsize(LARGE_CELLS) + shm_ring_memsize(SMALL_CELLS);
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(base != MAP_FAILED);
    channel_mem_t m;
    channel_format(&m, base);
    pid_t pid = test_fork();
    if (pid == 0) {
        mca_btl_cma_channel_tx_t t;
        channel_tx(&t, &m);
        for (uint64_t n = 0; n < count;) {
            n += (uint64_t) try_send(&t, n);
        }
        _exit(0);
    }
    mca_btl_cma_channel_rx_t rx;
    channel_rx(&rx, &m);
    uint64_t got = 0, small = 0;
    while (got < count) {
        try_recv(&rx, &got, &small);
    }
    test_wait_ok(pid);
    printf("  two processes%s: %llu messages, %llu through the small ring\n", alternating ? ", rings alternating" : "",
           (unsigned long long) count, (unsigned long long) small);
    alternate = 0;
    CHECK(small > 0 && small < count);
    munmap(base, size);
}

static void race_publish(int rc)
{
    if (race_armed && rc == 0) {
        char b[4] = {1, 2, 3, 4};
        race_armed = 0;
        CHECK_EQ(shm_ring_send(race_same, 21, b, sizeof(b), NULL, 0), 0);
        CHECK_EQ(shm_ring_send(race_other, 22 | MCA_BTL_CMA_TAG_SWITCH, b, sizeof(b), NULL, 0), 0);
    }
}

static void test_race(void)
{
    guarded_t g;
    mca_btl_cma_channel_rx_t rx;
    shm_ring_producer_t large, small;
    raw_channel(&g, &rx, &large, &small);
    race_same = &large; /* the consumer starts on the large ring */
    race_other = &small;
    race_armed = 1;
    shm_ring_msg_t msg;
    shm_ring_consumer_t *from;
    CHECK_EQ(mca_btl_cma_channel_peek(&rx, &msg, &from), 1);
    CHECK_MSG(msg.tag == 21 && from == &rx.large, "the later message (tag %u) overtook the earlier one", msg.tag);
    mca_btl_cma_channel_release(&rx, from, &msg);
    CHECK_EQ(mca_btl_cma_channel_peek(&rx, &msg, &from), 1);
    CHECK(msg.tag == 22 && from == &rx.small);
    mca_btl_cma_channel_release(&rx, from, &msg);
    CHECK_EQ(mca_btl_cma_channel_peek(&rx, &msg, &from), 0);
    guarded_free(&g);
}

/* Progress entered again from a message's callback peeks before the outer
 * poll released the message: it must see that same message, not a broken
 * peer (the consumer moves to a ring only on release). */
static void test_nested_peek(void)
{
    guarded_t g;
    mca_btl_cma_channel_tx_t t;
    mca_btl_cma_channel_rx_t rx;
    open_channel(&g, &t, &rx);
    void *dst;
    CHECK_EQ(mca_btl_cma_channel_reserve(&t, SMALL_MIN, 7, &dst), 0); /* small ring: flagged */
    mca_btl_cma_channel_commit(&t);
    shm_ring_msg_t outer, inner;
    shm_ring_consumer_t *from_outer, *from_inner;
    CHECK_EQ(mca_btl_cma_channel_peek(&rx, &outer, &from_outer), 1);
    CHECK(from_outer == &rx.small && outer.tag == 7);
    CHECK_EQ(mca_btl_cma_channel_peek(&rx, &inner, &from_inner), 1);
    CHECK(from_inner == from_outer && inner.data == outer.data);
    mca_btl_cma_channel_release(&rx, from_outer, &outer);
    CHECK_EQ(mca_btl_cma_channel_peek(&rx, &inner, &from_inner), 0);
    guarded_free(&g);
}

/* A peer that writes to the other ring without the switch flag, or sets
 * the flag on two successors at once, is reported. */
static void test_broken_peer(void)
{
    for (int variant = 0; variant < 3; ++variant) {
        guarded_t g;
        mca_btl_cma_channel_rx_t rx;
        shm_ring_producer_t large, small;
        raw_channel(&g, &rx, &large, &small);
        char b[8] = {0};
        shm_ring_msg_t msg;
        shm_ring_consumer_t *from;
        if (variant == 0) {
            /* First message in the small ring, unflagged. */
            CHECK_EQ(shm_ring_send(&small, 1, b, sizeof(b), NULL, 0), 0);
        } else if (variant == 1) {
            /* A flagged message in the large ring, where the consumer already is. */
            CHECK_EQ(shm_ring_send(&large, 1 | MCA_BTL_CMA_TAG_SWITCH, b, sizeof(b), NULL, 0), 0);
        } else {
            /* Both heads claim to follow the last message. */
            CHECK_EQ(shm_ring_send(&large, 1, b, sizeof(b), NULL, 0), 0);
            CHECK_EQ(mca_btl_cma_channel_peek(&rx, &msg, &from), 1);
            mca_btl_cma_channel_release(&rx, from, &msg);
            CHECK_EQ(shm_ring_send(&small, 2, b, sizeof(b), NULL, 0), 0);
            CHECK_EQ(shm_ring_send(&large, 3 | MCA_BTL_CMA_TAG_SWITCH, b, sizeof(b), NULL, 0), 0);
        }
        CHECK_MSG(mca_btl_cma_channel_peek(&rx, &msg, &from) == -EBADMSG, "broken peer, variant %d, not reported",
                  variant);
        guarded_free(&g);
    }
}

/* mca_btl_cma_channel_coaligned_len against the ring's real layout: after
 * a fragment of the returned length, the next fragment's data (the byte
 * after it in the user buffer) and its copy in the ring (reserve bytes into
 * a payload) sit at the same offset within a 64-byte line, whatever the
 * ring position; the length shrinks by less than a line, never to zero,
 * and lengths up to one line are left alone. */
static void test_coaligned(void)
{
    guarded_t g;
    mca_btl_cma_channel_tx_t t;
    mca_btl_cma_channel_rx_t rx;
    open_channel(&g, &t, &rx);
    static const size_t lens[] = {0, 1, 63, 64, 65, 127, 128, 129, 500, 700};
    static const size_t reserves[] = {0, 1, 8, 16, 24, 32, 47, 48, 63, 64, 100};
    static uint8_t buf[256] __attribute__((aligned(64)));
    uint64_t checked = 0;
    for (size_t off = 0; off < 128; ++off) {
        for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); ++li) {
            for (size_t ri = 0; ri < sizeof(reserves) / sizeof(reserves[0]); ++ri) {
                const uint8_t *src = buf + off;
                size_t len = lens[li], reserve = reserves[ri];
                size_t n = mca_btl_cma_channel_coaligned_len(src, len, reserve);
                if (len <= 64) {
                    CHECK_EQ(n, len);
                    continue;
                }
                CHECK_LE(n, len);
                CHECK_LT(len - n, 64);
                CHECK_GT(n, 0);
                /* The next fragment, reserved for real at wherever the ring
                 * stands now (the lengths above move it around). */
                void *payload;
                CHECK_EQ(shm_ring_reserve(&t.large, (uint32_t) (reserve + n % 300), 5, &payload), 0);
                CHECK_EQ(((uintptr_t) payload + reserve) % 64, ((uintptr_t) src + n) % 64);
                shm_ring_commit(&t.large);
                shm_ring_msg_t msg;
                CHECK_EQ(shm_ring_peek(&rx.large, &msg), 1);
                shm_ring_release(&rx.large, &msg);
                ++checked;
            }
        }
    }
    CHECK_GT(checked, 5000);
    guarded_free(&g);
}

int main(void)
{
    test_init("t_channel", 120);
    uint64_t count = TEST_SANITIZED ? 20000 : 200000;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        test_interleaved(seed, count);
    }
    test_two_processes(TEST_SANITIZED ? 200000 : 2000000, 0);
    test_two_processes(TEST_SANITIZED ? 200000 : 4000000, 1);
    test_race();
    test_nested_peek();
    test_broken_peer();
    test_coaligned();
    return test_pass();
}
