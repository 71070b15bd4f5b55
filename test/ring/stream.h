/*
 * stream: the producer and consumer loops of the stress and failure tests.
 * Both sides derive message i's length (skewed random, seeded per test),
 * tag and payload from i alone, so the consumer verifies every byte without
 * any side channel; the producer can be told to die half-way through a
 * message, and the consumer can watch its peer's liveness while idle.
 */
#ifndef RING_TEST_STREAM_H
#define RING_TEST_STREAM_H

#include "testlib.h"

typedef struct stream {
    uint64_t count;           /* messages in the stream; UINT64_MAX: endless */
    uint64_t seed;            /* length sequence */
    uint32_t max_len;         /* largest length drawn (<= the ring's max_msg) */
    uint64_t die_at;          /* producer: SIGKILL itself inside this message */
    _Atomic uint64_t *die_ns; /* CLOCK_MONOTONIC of the producer's death,
                               * noted by whoever kills it; the consumer
                               * fails if it has not noticed 2 s later */
} stream_t;

typedef struct stream_stats {
    uint64_t msgs, bytes;
    uint64_t waits;      /* full (producer) or empty (consumer) polls */
    uint64_t gone_ns;    /* consumer: when it saw the peer gone */
} stream_stats_t;

/* Sends the stream and closes the ring (unless it dies first). */
void stream_produce(shm_ring_producer_t *p, const stream_t *s, stream_stats_t *st);

/* Receives and verifies until the producer closed the drained ring (returns
 * 0; fails the test unless all s->count messages arrived) or, with a peer
 * to watch, until the producer is gone and the ring drained (-EPIPE). */
int stream_consume(shm_ring_consumer_t *c, const stream_t *s, const shm_peer_t *peer, stream_stats_t *st);

#endif
