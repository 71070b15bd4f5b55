/*
 * t_stress_fork: a producer process and a consumer process over one ring in
 * a memfd segment that the producer creates and the consumer attaches (by
 * pidfd_getfd), as the transport does.  RING_STRESS_MSGS messages (default
 * ten million) of skewed random sizes 0..max_msg; the consumer verifies the
 * length, tag and every payload byte of each, so a lost, duplicated,
 * reordered, torn or stale message fails.  A second, shorter run uses a
 * tiny ring whose batch is half the ring, so full, empty and pad transitions
 * happen on most messages.
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "stream.h"

static void run(const char *what, uint32_t ncells, uint32_t max_msg, uint32_t batch, uint64_t count, uint64_t seed)
{
    int to_parent[2], to_child[2];
    stream_t s = {.count = count,
                  .seed = seed,
                  .max_len = max_msg ? max_msg : shm_ring_max_payload(ncells),
                  .die_at = UINT64_MAX};
    size_t ring_off = SHM_SEGMENT_RESERVED;
    size_t ring_size = shm_ring_memsize(ncells);
    CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
    uint64_t t0 = now_ns();
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_segment_t seg;
        shm_segment_desc_t desc;
        shm_ring_producer_t p;
        shm_error_t err;
        stream_stats_t st;
        char c;
        CHECK_MSG(shm_segment_create(&seg, ring_off + ring_size, SHM_SEGMENT_MEMFD, 0, 1, test_tag(), &err) == 0,
                  "%s", err.msg);
        void *ring = (uint8_t *) seg.base + ring_off;
        CHECK_MSG(shm_ring_init(ring, ring_size, ncells, max_msg, batch, &err) == 0, "%s", err.msg);
        CHECK_MSG(shm_ring_producer_attach(&p, ring, ring_size, &err) == 0, "%s", err.msg);
        shm_segment_describe(&seg, &desc);
        CHECK_EQ(write(to_parent[1], &desc, sizeof(desc)), (ssize_t) sizeof(desc));
        CHECK_EQ(read(to_child[0], &c, 1), 1);
        shm_segment_seal(&seg);
        stream_produce(&p, &s, &st);
        printf("  producer: %llu messages, %llu bytes, %llu full polls\n", (unsigned long long) st.msgs,
               (unsigned long long) st.bytes, (unsigned long long) st.waits);
        shm_segment_detach(&seg);
        _exit(0);
    }
    shm_segment_desc_t desc;
    shm_segment_t seg;
    shm_ring_consumer_t c;
    shm_peer_t peer;
    shm_error_t err;
    stream_stats_t st;
    CHECK_EQ(read(to_parent[0], &desc, sizeof(desc)), (ssize_t) sizeof(desc));
    CHECK_EQ(desc.kind, SHM_SEGMENT_MEMFD);
    CHECK_MSG(shm_segment_attach(&seg, &desc, &err) == 0, "%s", err.msg);
    CHECK_EQ(write(to_child[1], "x", 1), 1);
    CHECK_MSG(shm_ring_consumer_attach(&c, (uint8_t *) seg.base + ring_off, ring_size, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_peer_watch(&peer, pid, &err) == 0, "%s", err.msg);
    uint64_t t1 = now_ns();
    CHECK_EQ(stream_consume(&c, &s, &peer, &st), 0);
    uint64_t t2 = now_ns();
    CHECK_EQ(st.msgs, count);
    test_wait_ok(pid);
    shm_peer_unwatch(&peer);
    shm_segment_detach(&seg);
    for (int i = 0; i < 2; ++i) {
        close(to_parent[i]);
        close(to_child[i]);
    }
    double secs = (double) (t2 - t1) / 1e9;
    printf("  %s: %llu messages (%.1f MB) verified in %.2f s (%.2f M msgs/s, %.0f MB/s; %.2f s with setup), "
           "%llu empty polls\n",
           what, (unsigned long long) st.msgs, (double) st.bytes / 1e6, secs, (double) st.msgs / secs / 1e6,
           (double) st.bytes / secs / 1e6, (double) (now_ns() - t0) / 1e9, (unsigned long long) st.waits);
}

int main(void)
{
    test_init("t_stress_fork", 110);
    uint64_t count = env_u64("RING_STRESS_MSGS", 10000000);
    printf("  RING_STRESS_MSGS=%llu\n", (unsigned long long) count);
    run("256 cells, max 4096", 256, 4096, 0, count, 0x5eed0001);
    run("16 cells, max 496, batch 8", 16, 0, 8, count / 10 + 1, 0x5eed0002);
    return test_pass();
}
