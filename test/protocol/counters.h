/*
 * What the protocol tests share: the cma BTL's MPI_T counters opened by
 * name in one session (read as growth since they were opened), the byte
 * pattern every test message carries and its check, and the failure that
 * names program and rank and ends the whole job.
 */
#ifndef BTL_CMA_TEST_PROTOCOL_COUNTERS_H
#define BTL_CMA_TEST_PROTOCOL_COUNTERS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pt_counter {
    const char *name;
    MPI_T_pvar_handle handle;
} pt_counter_t;

/* Ends the job (MPI_Abort) after "PROG rank R: FAIL: message". */
void pt_fail(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Opens every counter of c[0..n) in a new session; a missing one fails
 * the test (the component is not loaded, or the counter was renamed). */
void pt_counters_open(const char *prog, MPI_T_pvar_session *session, pt_counter_t *c, int n);
/* What every protocol test starts with: MPI_T (first: counters start at
 * zero when their handle is allocated) and MPI initialised, exactly two
 * ranks, the counters open.  Returns this process's rank. */
int pt_init(const char *prog, int *argc, char ***argv, MPI_T_pvar_session *session, pt_counter_t *c, int n);
void pt_counters_read(MPI_T_pvar_session session, const pt_counter_t *c, int n, uint64_t *values);
void pt_counters_close(MPI_T_pvar_session *session, pt_counter_t *c, int n);

void pt_fill(unsigned char *b, size_t n, unsigned seed);
/* Fails the test at the first byte that is not the pattern of seed. */
void pt_verify(const char *prog, const unsigned char *b, size_t n, unsigned seed);

#endif
