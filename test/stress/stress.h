/*
 * Helpers shared by the stress programs of test/stress: start-up and
 * shut-down in the order Open MPI 4.1.4 needs (MPI_T before MPI_Init,
 * MPI_T_finalize before MPI_Finalize), a failure path that aborts the whole
 * job so a stuck peer cannot turn a detected error into a hang, a
 * counter-based data pattern (any byte is a function of a seed and its
 * offset, so a receiver verifies without a copy of what was sent), a small
 * deterministic PRNG, the process's resident memory, a seccomp filter that
 * denies single copy from inside a running job, and the cma component's
 * MPI_T counters, which tell which protocol carried the bytes.
 */
#ifndef BTL_CMA_TEST_STRESS_H
#define BTL_CMA_TEST_STRESS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#define ST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ST_NORETURN __attribute__((noreturn))

extern int st_rank, st_size;

/* MPI_T_init_thread, MPI_Init, rank and size; name prefixes every message. */
void st_init(int *argc, char ***argv, const char *name);
/* Counters released, MPI_T_finalize, MPI_Finalize; returns status for main. */
int st_finalize(int status);

void st_fail(const char *fmt, ...) ST_PRINTF(1, 2) ST_NORETURN;
/* Rank 0 only, flushed at once so the log interleaves sensibly. */
void st_log(const char *fmt, ...) ST_PRINTF(1, 2);
void *st_malloc_touched(size_t n);
double st_now(void);
size_t st_parse_size(const char *s);

/* splitmix64: a good 64-bit mix of x; the PRNG and the pattern build on it. */
uint64_t st_mix(uint64_t x);
uint64_t st_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e);

typedef struct st_rng {
    uint64_t state;
} st_rng_t;
void st_rng_init(st_rng_t *r, uint64_t seed);
uint64_t st_rng_next(st_rng_t *r);
/* Uniform in [0, n), n > 0. */
uint64_t st_rng_below(st_rng_t *r, uint64_t n);

/* Pattern of n bytes for seed; st_check returns the first wrong offset, or
 * -1 when all n bytes are right. */
void st_fill(void *buf, size_t n, uint64_t seed);
long long st_check(const void *buf, size_t n, uint64_t seed);

/* From now on process_vm_readv and process_vm_writev fail with EPERM in
 * every thread of this process (a seccomp filter, as a container profile
 * would install): a single-copy denial that starts after MPI_Init, when the
 * component's connection-time probe has already succeeded. */
void st_deny_single_copy(void);

/* VmRSS of this process in KiB (from /proc/self/status), -1 if unknown. */
long st_rss_kib(void);

/* The cma component's counters this suite looks at. */
enum {
    ST_RING_SENDS,
    ST_RING_BYTES,
    ST_PIPE_FRAGS,
    ST_PIPE_BYTES,
    ST_GET_COUNT,
    ST_GET_BYTES,
    ST_EMU_GETS,
    ST_EMU_GET_BYTES,
    ST_SC_FALLBACKS,
    ST_NCOUNTERS
};
extern const char *const st_counter_names[ST_NCOUNTERS];
/* Opens every counter; fails the job if one is missing (cma not loaded). */
void st_counters_open(void);
void st_counters_read(uint64_t v[ST_NCOUNTERS]);

#endif
