/*
 * Shared helpers of the one-sided (RMA) tests in test/rma: start-up and
 * shut-down, failure reporting that aborts the whole job naming the rank
 * and the check, a data pattern that is a function of (seed, byte offset)
 * so any rank can verify any window without a copy of what was written,
 * and the proof through the cma BTL's MPI_T counters that one-sided
 * traffic really went through cma (process_vm_readv/writev, or the rings
 * when single copy is off or denied) rather than through some other path.
 * The expectation comes from run-rma.sh in RMATEST_MODE: cma, none, deny,
 * or empty (another BTL: counters are not judged).
 */
#ifndef BTL_CMA_TEST_RMATEST_H
#define BTL_CMA_TEST_RMATEST_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#if defined(__GNUC__)
#define RT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RT_NORETURN __attribute__((noreturn))
#else
#define RT_PRINTF(f, a)
#define RT_NORETURN
#endif

extern int rt_rank;
extern int rt_size;

/* MPI_Init, errors returned rather than fatal, the counters armed. */
void rt_init(int *argc, char ***argv, const char *prog);

/* Barrier, counters released (MPI_T_finalize must precede MPI_Finalize
 * with Open MPI 4.1.4), "PASS" from rank 0, MPI_Finalize.  Returns 0. */
int rt_finalize(void);

/* "prog: FAIL rank r/n: ..." on stderr, then MPI_Abort. */
void rt_fail(const char *fmt, ...) RT_PRINTF(1, 2) RT_NORETURN;

void rt_mpi_check(int rc, const char *call, int line);
#define RT_MPI(call) rt_mpi_check((call), #call, __LINE__)

/* A line from rank 0 with the time since rt_init. */
void rt_log(const char *fmt, ...) RT_PRINTF(1, 2);

void *rt_malloc(size_t len);

/* Every region written by a test gets its own seed built from who wrote
 * it, where and in which round, so misplaced or stale bytes show up. */
uint64_t rt_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d);
uint8_t rt_byte(uint64_t seed, size_t off);
void rt_fill(void *buf, size_t len, uint64_t seed);
/* First offset where buf differs from the pattern, or (size_t)-1. */
size_t rt_find_error(const void *buf, size_t len, uint64_t seed);
/* Abort naming what (printf-style), the length and the first bad offset. */
void rt_check(const void *buf, size_t len, uint64_t seed, const char *what, ...) RT_PRINTF(4, 5);

/* What a phase must have sent through cma, for rt_traffic_end. */
enum { RT_PUT = 1, RT_GET = 2, RT_ATOMIC = 4 };

enum {
    RT_C_PUT_COUNT, RT_C_PUT_BYTES, RT_C_GET_COUNT, RT_C_GET_BYTES, RT_C_EMU_PUTS, RT_C_EMU_PUT_BYTES,
    RT_C_EMU_GETS, RT_C_EMU_GET_BYTES, RT_C_ATOMICS, RT_NCOUNTERS
};
typedef struct rt_traffic {
    uint64_t v[RT_NCOUNTERS];
} rt_traffic_t;

/* Snapshot the counters at the start of a phase (local, not collective). */
void rt_traffic_begin(rt_traffic_t *t);

/* Collective.  Judges the phase since rt_traffic_begin against
 * RMATEST_MODE: with cma, each kind in `kinds` must show up as
 * process_vm_writev/readv writes/reads or atomics and nothing may have been
 * emulated; with none or deny no single copy may have happened and the
 * kinds must show up as emulated puts/gets or atomics.  Each rank must also
 * have moved at least min_put / min_get bytes (what it wrote to / read from
 * other ranks' windows) through cma by one path or the other. */
void rt_traffic_end(const rt_traffic_t *t, const char *phase, unsigned kinds, uint64_t min_put, uint64_t min_get);

/* Parse a positive integer option value or abort. */
long rt_parse_long(const char *s, const char *what);

#endif
