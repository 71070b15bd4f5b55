/*
 * Processes of two jobs on one node: two ranks spawn two more of this
 * program (MPI_Comm_spawn) and all four talk through the merged
 * communicator, run with "--mca btl cma,self,tcp".  cma indexes its rings by
 * local rank, which every job numbers from 0, so it must carry the traffic
 * within each job and leave the other job's processes to tcp: a cma that
 * claimed them would write into a ring owned by a process of its own job.
 * Checked on every process through MPI_T: messages to the other job's two
 * processes move none of cma's counters, messages to the one of its own job
 * do.  Every byte of every message (0 B to 1 MiB + 3, around the eager
 * limit and the fragment size) is verified, with a guard byte behind it, in
 * both directions between every pair of the four processes.
 *   spawn_check           (2 ranks; spawns 2 more of itself)
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"

#define PROG "spawn_check"
#define FAIL(...) pt_fail(PROG, __VA_ARGS__)
#define GUARD 0xa5

static MPI_T_pvar_session session;
static pt_counter_t counters[] = {{"btl_cma_ring_sends", 0}, {"btl_cma_get_count", 0}, {"btl_cma_put_count", 0}};
enum { RING_SENDS, GETS, PUTS, NCOUNTERS };

/* 0, odd sizes, the default eager limit (8192), fragment size (32768) and
 * ring message limit (262128) with their neighbours, and a pipelined size. */
static const size_t sizes[] = {0, 1, 7, 64, 1023, 8191, 8192, 8193, 32767, 32768, 32769, 262128, 262129, 1048579};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static MPI_Comm merged;
static int me;
static unsigned char *sbuf, *rbuf;

/* Distinct modulo 256 (the pattern's period in its seed) for every
 * (size, sender, receiver), so a message delivered to the wrong process or
 * for the wrong size fails the check. */
static unsigned seed_of(size_t k, int from, int to)
{
    return (unsigned) (k * 16 + (size_t) from * 4 + (size_t) to);
}

/* Every size both ways with partner; returns the messages sent. */
static int exchange(int partner)
{
    for (size_t k = 0; k < NSIZES; ++k) {
        size_t n = sizes[k];
        pt_fill(sbuf, n, seed_of(k, me, partner));
        memset(rbuf, 0, n);
        rbuf[n] = GUARD;
        MPI_Sendrecv(sbuf, (int) n, MPI_BYTE, partner, (int) k, rbuf, (int) n, MPI_BYTE, partner, (int) k, merged,
                     MPI_STATUS_IGNORE);
        pt_verify(PROG, rbuf, n, seed_of(k, partner, me));
        if (rbuf[n] != GUARD) {
            FAIL("a %zu-byte message from process %d wrote past its end", n, partner);
        }
    }
    return (int) NSIZES;
}

int main(int argc, char **argv)
{
    uint64_t before[NCOUNTERS], after[NCOUNTERS];
    pt_init(PROG, &argc, &argv, &session, counters, NCOUNTERS);

    MPI_Comm parent, inter;
    MPI_Comm_get_parent(&parent);
    if (MPI_COMM_NULL == parent) {
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        int rc = MPI_Comm_spawn(argv[0], MPI_ARGV_NULL, 2, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &inter,
                                MPI_ERRCODES_IGNORE);
        if (MPI_SUCCESS != rc) {
            FAIL("MPI_Comm_spawn failed (error %d): the two jobs cannot reach each other", rc);
        }
        MPI_Intercomm_merge(inter, 0, &merged);
    } else {
        inter = parent;
        MPI_Intercomm_merge(inter, 1, &merged);
    }
    int size;
    MPI_Comm_rank(merged, &me);
    MPI_Comm_size(merged, &size);
    if (size != 4) {
        FAIL("the merged communicator has %d processes, not 4", size);
    }
    /* Merged ranks 0-1 are the first job, 2-3 the spawned one. */
    int sibling = me ^ 1;
    size_t max = sizes[NSIZES - 1];
    sbuf = malloc(max + 1);
    rbuf = malloc(max + 1);
    if (!sbuf || !rbuf) {
        FAIL("out of memory");
    }

    /* The other job's processes, in two rounds that pair everyone:
     * (0,2)(1,3), then (0,3)(1,2). */
    MPI_Barrier(merged);
    pt_counters_read(session, counters, NCOUNTERS, before);
    for (int round = 0; round < 2; ++round) {
        exchange(me ^ 2 ^ round);
    }
    pt_counters_read(session, counters, NCOUNTERS, after);
    for (int i = 0; i < NCOUNTERS; ++i) {
        if (after[i] != before[i]) {
            FAIL("%s grew by %llu while messages went only to the other job's processes: cma claimed them",
                 counters[i].name, (unsigned long long) (after[i] - before[i]));
        }
    }

    MPI_Barrier(merged);
    pt_counters_read(session, counters, NCOUNTERS, before);
    int sent = exchange(sibling);
    pt_counters_read(session, counters, NCOUNTERS, after);
    if (after[RING_SENDS] - before[RING_SENDS] < (uint64_t) sent) {
        FAIL("%d messages to process %d of the same job but only %llu ring sends: cma did not carry them", sent,
             sibling, (unsigned long long) (after[RING_SENDS] - before[RING_SENDS]));
    }

    MPI_Barrier(merged);
    if (0 == me) {
        printf(PROG ": PASS: 4 processes in 2 jobs, %zu sizes both ways between every pair; cma carried only the "
               "pairs within a job\n",
               NSIZES);
    }
    free(sbuf);
    free(rbuf);
    MPI_Comm_free(&merged);
    MPI_Comm_disconnect(&inter);
    pt_counters_close(&session, counters, NCOUNTERS);
    /* MPI_T ends first: Open MPI 4.1.4 frees its variable groups in
     * MPI_Finalize when the job spawned and a pvar session was made, and a
     * later MPI_T_finalize reads them (valgrind: the same with vader and
     * with self,tcp alone, so not cma's). */
    MPI_T_finalize();
    MPI_Finalize();
    return 0;
}
