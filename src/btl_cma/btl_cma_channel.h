/*
 * One peer's channel: the two rings a peer writes into this process's
 * segment, used as one ordered stream of messages.  Messages of small_min
 * to small_max bytes go through a small ring (8 KiB by default) whose few
 * lines stay in the two cores' first-level caches, as long as it has room;
 * the others go through the large ring that keeps pipeline fragments in
 * flight.  A ring walked through 512 KiB brings every line back from
 * farther away: in bench/ring a 1 KiB ping-pong took 250 ns one way
 * through 512 KiB and 155 ns through 8 KiB.  Below about 150 bytes the
 * small ring measured slower in MPI ping-pongs (4-12 %), hence small_min.
 *
 * Order across the two rings: the producer sets MCA_BTL_CMA_TAG_SWITCH in
 * the tag of a message that goes to another ring than the message before
 * it.  So after taking a message from ring R, the consumer knows the next
 * one is either R's head without the flag or the other ring's head with
 * it.  Publications are release stores made in message order, so once the
 * consumer's acquire load has seen a message, every earlier one is visible
 * too: having seen a flagged head in the other ring, it looks at R once
 * more (an unflagged message there came first), and any other combination
 * of heads means a broken peer.  Neither side ever waits for the other, no
 * sequence number travels (one was tried: it cost 4-8 % of the latency of
 * 1-64 byte messages), and the ring library sees only an opaque tag.
 *
 * Plain C over shm_ring.h, without Open MPI: the component's hot path and
 * the unit test test/ring/t_channel share it.  Callers serialise each side
 * (the endpoint's tx_lock, the consumer's per-peer lock).
 */
#ifndef MCA_BTL_CMA_CHANNEL_H
#define MCA_BTL_CMA_CHANNEL_H

#include "shm_ring.h"

#include <errno.h>
#include <stdint.h>

#define MCA_BTL_CMA_ALWAYS_INLINE static inline __attribute__((always_inline))

/* Tag bit set by the producer on a message that changes rings; callers'
 * own tags stay below it. */
#define MCA_BTL_CMA_TAG_SWITCH 0x8000u
/* Messages sent through the large ring after the small one was found full. */
#define MCA_BTL_CMA_CHANNEL_SKIP 64u

typedef struct mca_btl_cma_channel_tx {
    shm_ring_producer_t large;
    shm_ring_producer_t small; /* small.shared == NULL: the peer has none */
    uint32_t small_min;        /* messages of small_min bytes and more, */
    uint32_t small_limit;      /* and shorter than this, use the small ring; 0: none */
    uint32_t max_msg;          /* largest message the channel takes */
    shm_ring_producer_t *last; /* ring of the last message */
    shm_ring_producer_t *cur;  /* ring of the reservation in progress */
    uint32_t skip_small;       /* messages still kept off the small ring */
} mca_btl_cma_channel_tx_t;

typedef struct mca_btl_cma_channel_rx {
    shm_ring_consumer_t large;
    shm_ring_consumer_t small;
    int has_small;
    shm_ring_consumer_t *last; /* ring of the last message taken */
} mca_btl_cma_channel_rx_t;

/* After the rings are attached: messages of small_min to small_max bytes
 * go through the small ring (small_max bounded by what it holds). */
static inline void mca_btl_cma_channel_tx_setup(mca_btl_cma_channel_tx_t *t, uint32_t small_min, uint32_t small_max)
{
    t->max_msg = t->large.max_msg;
    t->small_min = small_min;
    t->small_limit = 0;
    if (t->small.shared && small_max >= small_min) {
        t->small_limit = (small_max < t->small.max_msg ? small_max : t->small.max_msg) + 1;
    }
    /* Both sides start on the large ring. */
    t->last = &t->large;
    t->cur = NULL;
    t->skip_small = 0;
}

/* Length for a pipeline fragment of len bytes starting at src, sent
 * behind a protocol header of reserve bytes, shortened by at most 63 bytes
 * so that the next fragment's data starts at the same offset within a
 * 64-byte line as its copy in the ring will.  Why: the two copies of the
 * pipeline (user buffer to ring, ring to user buffer) run about a quarter
 * slower when source and destination sit at different offsets in their lines
 * (receiver side, 1 MiB messages from cold buffers: 4.1 bytes/cycle with
 * the user data at 8 or 40 and the ring at 48, 5.3-5.4 at 16 or 48), and
 * the fragment boundaries are the one thing the sender can move.  The
 * receiver's buffer gains as well when it has the sender's alignment, as
 * buffers from the same allocator usually do.  Only fragments that leave
 * data behind them may be shortened, and len <= 64 is returned as is.  The
 * next fragment is assumed to carry a header of the same reserve bytes:
 * true of ob1, whose rendezvous and fragment headers are both 32 bytes. */
static inline size_t mca_btl_cma_channel_coaligned_len(const void *src, size_t len, size_t reserve)
{
    if (len <= SHM_RING_CELL_SIZE) {
        return len;
    }
    size_t want = shm_ring_payload_line_offset(reserve);
    size_t end = ((uintptr_t) src + len) % SHM_RING_CELL_SIZE;
    return len - (end + SHM_RING_CELL_SIZE - want) % SHM_RING_CELL_SIZE;
}

static inline void mca_btl_cma_channel_rx_setup(mca_btl_cma_channel_rx_t *rx, int has_small)
{
    rx->has_small = has_small;
    rx->last = &rx->large;
}

/* The tag a message carries into ring r: flagged when r is not the ring
 * of the message before it. */
static inline uint16_t mca_btl_cma_channel__tag(const mca_btl_cma_channel_tx_t *t, const shm_ring_producer_t *r,
                                                uint16_t tag)
{
    return (uint16_t) (r == t->last ? tag : tag | MCA_BTL_CMA_TAG_SWITCH);
}

/* Reserve len bytes for a message with the given tag (below
 * MCA_BTL_CMA_TAG_SWITCH); then write the payload and call
 * mca_btl_cma_channel_commit.  0, -EAGAIN (no room: retry after the
 * consumer progressed), or -EMSGSIZE. */
MCA_BTL_CMA_ALWAYS_INLINE int mca_btl_cma_channel_reserve(mca_btl_cma_channel_tx_t *t, uint32_t len, uint16_t tag,
                                                          void **payload)
{
    shm_ring_producer_t *want = &t->large;
    if (len >= t->small_min && len < t->small_limit) {
        if (__builtin_expect(t->skip_small == 0, 1)) {
            want = &t->small;
        } else {
            --t->skip_small;
        }
    }
    int rc = shm_ring_reserve(want, len, mca_btl_cma_channel__tag(t, want, tag), payload);
    if (__builtin_expect(rc == -EAGAIN && want == &t->small, 0)) {
        /* The small ring is full: a stream, which the large ring carries
         * faster (bench/ring: 1 KiB messages at 3.6e7/s against 2.0e7/s
         * through 8 KiB); keep it there for a while. */
        t->skip_small = MCA_BTL_CMA_CHANNEL_SKIP;
        want = &t->large;
        rc = shm_ring_reserve(want, len, mca_btl_cma_channel__tag(t, want, tag), payload);
    }
    t->cur = want;
    return rc;
}

/* Publish the reserved message; returns the ring it went to (the caller
 * may owe that ring's consumer a notification). */
MCA_BTL_CMA_ALWAYS_INLINE shm_ring_producer_t *mca_btl_cma_channel_commit(mca_btl_cma_channel_tx_t *t)
{
    shm_ring_commit(t->cur);
    t->last = t->cur;
    return t->cur;
}

/* The next message of the channel: 1 (msg and *from filled, the switch
 * bit cleared from msg->tag), 0 (none yet), or -EBADMSG (a corrupted ring
 * or messages out of order). */
MCA_BTL_CMA_ALWAYS_INLINE int mca_btl_cma_channel_peek(mca_btl_cma_channel_rx_t *rx, shm_ring_msg_t *msg,
                                                       shm_ring_consumer_t **from)
{
    shm_ring_consumer_t *r = rx->last;
    *from = r;
    int rc = shm_ring_peek(r, msg);
    if (__builtin_expect(rc == 1 && !(msg->tag & MCA_BTL_CMA_TAG_SWITCH), 1)) {
        return 1;
    }
    if (rc < 0) {
        return rc;
    }
    if (!rx->has_small) {
        return rc == 0 ? 0 : -EBADMSG; /* a flag with a single ring */
    }
    shm_ring_consumer_t *other = r == &rx->large ? &rx->small : &rx->large;
#ifdef MCA_BTL_CMA_CHANNEL_RACE_HOOK
    /* test/ring/t_channel publishes here what a producer on another core
     * could publish between the two looks. */
    MCA_BTL_CMA_CHANNEL_RACE_HOOK(rx, rc);
#endif
    shm_ring_msg_t o;
    int ro = shm_ring_peek(other, &o);
    if (ro < 0) {
        return ro;
    }
    if (ro == 0) {
        /* r's head, if any, is flagged: its predecessor is in the other
         * ring and would be visible by now. */
        return rc == 0 ? 0 : -EBADMSG;
    }
    if (!(o.tag & MCA_BTL_CMA_TAG_SWITCH)) {
        return -EBADMSG; /* the other ring's head cannot follow r's last */
    }
    if (rc == 0) {
        /* The other ring's flagged head is visible, so everything before
         * it is: a message r got meanwhile, unflagged, comes first. */
        rc = shm_ring_peek(r, msg);
        if (rc < 0) {
            return rc;
        }
        if (rc == 1 && !(msg->tag & MCA_BTL_CMA_TAG_SWITCH)) {
            *from = r;
            return 1;
        }
    }
    *msg = o;
    msg->tag = (uint16_t) (msg->tag & ~MCA_BTL_CMA_TAG_SWITCH);
    *from = other;
    return 1;
}

/* Consume the message last returned by mca_btl_cma_channel_peek.  The
 * consumer moves to the message's ring only now: a poll nested in the
 * message's callback (progress entered again from inside it) sees the
 * same state as the outer one. */
MCA_BTL_CMA_ALWAYS_INLINE void mca_btl_cma_channel_release(mca_btl_cma_channel_rx_t *rx, shm_ring_consumer_t *from,
                                                           const shm_ring_msg_t *msg)
{
    shm_ring_release(from, msg);
    rx->last = from;
}

/* Stop polling: both rings ask for a notification.  1 when a message
 * arrived meanwhile (keep polling; call mca_btl_cma_channel_wake). */
static inline int mca_btl_cma_channel_sleep(mca_btl_cma_channel_rx_t *rx)
{
    int r = shm_ring_consumer_sleep(&rx->large);
    if (rx->has_small) {
        r |= shm_ring_consumer_sleep(&rx->small);
    }
    return r;
}

static inline void mca_btl_cma_channel_wake(mca_btl_cma_channel_rx_t *rx)
{
    shm_ring_consumer_wake(&rx->large);
    if (rx->has_small) {
        shm_ring_consumer_wake(&rx->small);
    }
}

#endif /* MCA_BTL_CMA_CHANNEL_H */
