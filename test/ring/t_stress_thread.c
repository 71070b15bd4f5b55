/*
 * t_stress_thread: the stress stream with the producer and the consumer as
 * two threads of one process.  Functionally it repeats t_stress_fork; its
 * reason to exist is ThreadSanitizer, which cannot see across processes:
 * under check-sanitize's TSan build every access of the ring protocol is
 * checked for races, so a missing release/acquire pairing or a payload
 * touched outside its ownership window is reported here.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

typedef struct job {
    shm_ring_producer_t p;
    stream_t s;
    stream_stats_t st;
} job_t;

static void *producer_main(void *arg)
{
    job_t *j = arg;
    stream_produce(&j->p, &j->s, &j->st);
    return NULL;
}

static void run(uint32_t ncells, uint32_t max_msg, uint32_t batch, uint64_t count, uint64_t seed)
{
    shm_error_t err;
    job_t *j = calloc(1, sizeof(*j));
    shm_ring_consumer_t c;
    stream_stats_t st;
    size_t size = shm_ring_memsize(ncells);
    void *mem = aligned_alloc(64, size);
    CHECK(j && mem);
    CHECK_MSG(shm_ring_init(mem, size, ncells, max_msg, batch, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_ring_producer_attach(&j->p, mem, size, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_ring_consumer_attach(&c, mem, size, &err) == 0, "%s", err.msg);
    j->s = (stream_t){.count = count, .seed = seed, .max_len = j->p.max_msg, .die_at = UINT64_MAX};
    pthread_t th;
    uint64_t t0 = now_ns();
    CHECK(pthread_create(&th, NULL, producer_main, j) == 0);
    CHECK_EQ(stream_consume(&c, &j->s, NULL, &st), 0);
    CHECK(pthread_join(th, NULL) == 0);
    double secs = (double) (now_ns() - t0) / 1e9;
    CHECK_EQ(st.msgs, count);
    CHECK_EQ(j->st.msgs, count);
    printf("  %u cells, max %u: %llu messages verified in %.2f s (%.2f M msgs/s), %llu full / %llu empty polls\n",
           ncells, j->p.max_msg, (unsigned long long) count, secs, (double) count / secs / 1e6,
           (unsigned long long) j->st.waits, (unsigned long long) st.waits);
    free(mem);
    free(j);
}

int main(void)
{
    test_init("t_stress_thread", 110);
    uint64_t count = env_u64("RING_STRESS_MSGS", 2000000);
    run(256, 4096, 0, count, 0x7eed0001);
    run(4, 0, 2, count / 4 + 1, 0x7eed0002);
    run(16, 0, 1, count / 4 + 1, 0x7eed0003);
    return test_pass();
}
