/*
 * testlib: fixtures shared by the ring tests.  It owns the per-run segment
 * tag and the /dev/shm cleanliness check, guard-paged ring memory (so an
 * out-of-bounds access by the library faults even without a sanitizer),
 * the deterministic PRNG, message sizes and payload patterns both sides of
 * a stream derive from the message number, and the fork/wait helpers that
 * keep a failing test from leaving processes behind.
 */
#ifndef RING_TESTLIB_H
#define RING_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "check.h"
#include "shm_ring.h"

/* Sanitizer builds (check-sanitize) shrink some loops and skip the probes
 * that sanitizers cannot run under (address-space limits). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif
#ifndef TEST_SANITIZED
#define TEST_SANITIZED 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

/* Starts the watchdog and fixes this run's segment tag; call first. */
void test_init(const char *name, unsigned watchdog_s);
/* "t<pid of the test's main process>": every POSIX name this run creates
 * carries it, so the cleanliness check never blames a concurrent test. */
const char *test_tag(void);
/* /dev/shm entries named btl_cma.<tag>.*: how many there are. */
int test_shm_count(const char *tag);
/* Fails the test if this run left a btl_cma. entry in /dev/shm. */
void test_shm_assert_clean(void);
/* 1 if /dev/shm holds the POSIX name (with its leading slash). */
int test_shm_exists(const char *name);
/* Prints "PASS name" and returns 0, for main's return. */
int test_pass(void);

/* Memory of exactly size bytes whose end touches an inaccessible page and
 * whose start follows one; size must be a multiple of 64.  Under ASan it is
 * a heap block instead, whose redzones catch an overrun at either end to
 * the byte (ASan knows nothing of the bounds inside an mmap). */
typedef struct guarded {
    void *map;
    size_t maplen;
    void *mem;
    size_t size;
} guarded_t;
void *guarded_alloc(guarded_t *g, size_t size);
void guarded_free(guarded_t *g);

/* splitmix64: tiny, fast, and identical in producer and consumer. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A size in 0..max skewed toward small: most traffic of an MPI transport is
 * a few bytes, yet the tails (0 and max exactly) must be hit too. */
uint32_t test_skewed_len(uint64_t *rng, uint32_t max);

/* Payload of message msgno: a byte pattern that differs between messages
 * and between positions, so a stale, shifted or torn copy is caught. */
void pattern_fill(void *dst, uint64_t msgno, uint32_t len);
/* Index of the first wrong byte, or -1 when all len bytes match. */
long pattern_check(const void *src, uint64_t msgno, uint32_t len);

uint64_t now_ns(void);
/* Reads a positive count from the environment, else returns def. */
uint64_t env_u64(const char *name, uint64_t def);

/* fork() that flushes stdio first and makes the child die with its parent. */
pid_t test_fork(void);
/* Waits for pid and fails unless it exited with status 0. */
void test_wait_ok(pid_t pid);
/* Waits for pid and returns its raw wait status. */
int test_wait_status(pid_t pid);

/* A ring in guarded memory, formatted, with both handles attached. */
typedef struct test_ring {
    guarded_t g;
    shm_ring_shared_t *shared;
    shm_ring_producer_t p;
    shm_ring_consumer_t c;
} test_ring_t;
/* start: initial free-running position (0 for a fresh ring); lets a test
 * run near the wrap points of the 32-bit seq and the 64-bit counters. */
void test_ring_open(test_ring_t *r, uint32_t ncells, uint32_t max_msg, uint32_t batch, uint64_t start);
void test_ring_close(test_ring_t *r);
shm_ring_cell_hdr_t *test_ring_cell(test_ring_t *r, uint64_t pos);

#endif
