/*
 * Shared helpers of the MPI correctness tests in test/mpi: start-up and
 * shut-down (which also confirms through MPI_T that the cma BTL honoured the
 * requested single-copy mode), a data pattern that is a function of (seed,
 * byte offset) so a receiver can verify every byte without a copy of what
 * was sent, the verification itself (which reports rank, message size and
 * the first wrong offset, then aborts the whole job), and a debug hook,
 * MPITEST_CORRUPT, that flips one received byte to prove the checks catch
 * corruption.
 */
#ifndef BTL_CMA_TEST_MPITEST_H
#define BTL_CMA_TEST_MPITEST_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#if defined(__GNUC__)
#define MT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MT_NORETURN __attribute__((noreturn))
#else
#define MT_PRINTF(f, a)
#define MT_NORETURN
#endif

/* Rank and size in MPI_COMM_WORLD, and the program name used in messages. */
extern int mt_rank;
extern int mt_size;
extern const char *mt_prog;

/* MPI_Init (or MPI_Init_thread when required > MPI_THREAD_SINGLE, failing
 * clearly when the library provides less) plus the debug environment. */
void mt_init(int *argc, char ***argv, const char *prog, int required);

/* The value of one of the cma BTL's MPI_T counters read by this helper
 * (btl_cma_get_count, _put_count, _ring_sends, _doorbells_rung,
 * _doorbell_wakeups, _sweep_wakeups) since mt_init, or -1 when they are not
 * being read (not the cma BTL, or not run by run-mpi.sh). */
long long mt_cma_counter(const char *name);

/* Barrier, the single-copy mode check (MPITEST_BTL / MPITEST_SINGLE_COPY
 * from run-mpi.sh against the cma BTL's MPI_T counters), "PASS" from rank 0,
 * MPI_Finalize.  Returns the exit status. */
int mt_finalize(void);

/* Print "prog: FAIL rank r/n: ..." to stderr and MPI_Abort the job, so
 * mpirun exits nonzero even when the other ranks are blocked in MPI. */
void mt_fail(const char *fmt, ...) MT_PRINTF(1, 2) MT_NORETURN;

/* Abort with a message naming the MPI call when rc is not MPI_SUCCESS. */
void mt_mpi_check(int rc, const char *call);
#define MT_MPI(call) mt_mpi_check((call), #call)

/* Progress line from rank 0 only, with the time since mt_init. */
void mt_log(const char *fmt, ...) MT_PRINTF(1, 2);

/* malloc that aborts the job on failure. */
void *mt_malloc(size_t len);

/* Combine a few integers into a pattern seed; every message of a test gets a
 * distinct seed so a misrouted, stale or reordered message is detected. */
uint64_t mt_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/* The pattern byte at offset off for seed. */
uint8_t mt_byte(uint64_t seed, size_t off);

/* Fill buf[0..len) with the pattern for seed. */
void mt_fill(void *buf, size_t len, uint64_t seed);

/* Verify buf[0..len) against the pattern for seed; on the first wrong byte
 * report what (printf-style), the size and the offset, then abort. */
void mt_check(void *buf, size_t len, uint64_t seed, const char *what, ...)
    MT_PRINTF(4, 5);

/* Like mt_check but only returns the first wrong offset, or (size_t)-1 when
 * the buffer is intact, so callers with their own layout can report. */
size_t mt_find_error(const void *buf, size_t len, uint64_t seed);

/* The debug hook every verification path calls on a received buffer before
 * checking it: with MPITEST_CORRUPT=N in the environment the first call with
 * len > N on each rank flips one bit of byte N, so choosing N picks the
 * message sizes (eager, rendezvous, > 2 GiB) whose check is proven to
 * bite; MPITEST_CORRUPT_SKIP=K spares the first K such buffers, to reach
 * the checks of later phases.  Thread safe. */
void mt_corrupt_hook(void *buf, size_t len);

/* Fill len bytes with the guard value and check them, used around receive
 * areas to catch a transport writing past the end of a message. */
#define MT_GUARD_BYTE 0xA5
void mt_guard_set(void *buf, size_t len);
void mt_guard_check(const void *buf, size_t len, size_t msg_size, const char *what);

/* Parse a byte count with an optional k/m/g (binary) suffix, or abort. */
size_t mt_parse_size(const char *s);

#endif
