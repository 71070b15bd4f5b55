/*
 * Proves which protocol carried which message, through the component's
 * MPI_T performance variables: small messages through the rings, messages
 * at or above btl_cma_single_copy_min through process_vm_readv (or, when
 * single copy is off or denied, through the rings), every byte verified.
 * Expectations come from the command line so one program checks each
 * configuration:  protocol_check SIZE EXPECT  where EXPECT is
 *   get   the large message must be one single-copy read of SIZE bytes
 *   ring  no single-copy read at all; the bytes went through the rings,
 *         in pipeline fragments cut to line up with the ring
 *   emu   single copy denied: served by ring-emulated gets or the pipeline
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "counters.h"

static MPI_T_pvar_session session;

static pt_counter_t counters[] = {
    {"btl_cma_ring_sends", 0},    {"btl_cma_ring_bytes", 0},  {"btl_cma_get_count", 0},
    {"btl_cma_get_bytes", 0},     {"btl_cma_emulated_gets", 0},
    {"btl_cma_pipeline_frags", 0}, {"btl_cma_coaligned_cuts", 0},
};
enum { RING_SENDS, RING_BYTES, GET_COUNT, GET_BYTES, EMU_GETS, PIPE_FRAGS, CUTS, NCOUNTERS };

static int rank;

#define FAIL(...) pt_fail("protocol_check", __VA_ARGS__)

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: protocol_check SIZE get|ring|emu [nodump-rank]\n");
        return 2;
    }
    size_t big = strtoull(argv[1], NULL, 0);
    const char *expect = argv[2];
    /* A non-dumpable process cannot be read with process_vm_readv by
     * processes lacking CAP_SYS_PTRACE: the classic single-copy denial. */
    if (argc > 3 && getenv("OMPI_COMM_WORLD_RANK") && atoi(getenv("OMPI_COMM_WORLD_RANK")) == atoi(argv[3])) {
        prctl(PR_SET_DUMPABLE, 0);
    }
    rank = pt_init("protocol_check", &argc, &argv, &session, counters, NCOUNTERS);
    unsigned char *buf = malloc(big + 64);
    uint64_t before[NCOUNTERS], after[NCOUNTERS];
    MPI_Barrier(MPI_COMM_WORLD);

    /* Small: 100 messages of 64 bytes must add at least 100 ring messages
     * on the sender and no single-copy reads anywhere. */
    pt_counters_read(session, counters, NCOUNTERS, before);
    for (int i = 0; i < 100; ++i) {
        if (rank == 0) {
            pt_fill(buf, 64, (unsigned) i);
            MPI_Send(buf, 64, MPI_BYTE, 1, i, MPI_COMM_WORLD);
        } else {
            MPI_Recv(buf, 64, MPI_BYTE, 0, i, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            pt_verify("protocol_check", buf, 64, (unsigned) i);
        }
    }
    pt_counters_read(session, counters, NCOUNTERS, after);
    if (rank == 0 && after[RING_SENDS] - before[RING_SENDS] < 100) {
        FAIL("100 small sends added only %llu ring messages",
             (unsigned long long) (after[RING_SENDS] - before[RING_SENDS]));
    }
    if (after[GET_COUNT] != before[GET_COUNT]) {
        FAIL("small messages used single copy");
    }
    MPI_Barrier(MPI_COMM_WORLD);

    /* Large: one message of SIZE bytes from rank 0 to rank 1. */
    pt_counters_read(session, counters, NCOUNTERS, before);
    if (rank == 0) {
        pt_fill(buf, big, 7);
        MPI_Send(buf, (int) big, MPI_BYTE, 1, 999, MPI_COMM_WORLD);
    } else {
        memset(buf, 0, big);
        MPI_Recv(buf, (int) big, MPI_BYTE, 0, 999, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        pt_verify("protocol_check", buf, big, 7);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    pt_counters_read(session, counters, NCOUNTERS, after);
    uint64_t gets = after[GET_COUNT] - before[GET_COUNT], gbytes = after[GET_BYTES] - before[GET_BYTES];
    uint64_t rbytes = after[RING_BYTES] - before[RING_BYTES];
    uint64_t emu = after[EMU_GETS] - before[EMU_GETS];
    if (strcmp(expect, "get") == 0) {
        if (rank == 1 && (gets != 1 || gbytes != big)) {
            FAIL("expected one single-copy read of %zu bytes, saw %llu reads of %llu bytes", big,
                 (unsigned long long) gets, (unsigned long long) gbytes);
        }
        if (rank == 0 && rbytes >= big) {
            FAIL("single copy expected but %llu bytes went through the rings", (unsigned long long) rbytes);
        }
    } else if (strcmp(expect, "ring") == 0) {
        if (gets != 0) {
            FAIL("expected no single copy, saw %llu reads", (unsigned long long) gets);
        }
        if (rank == 0 && rbytes < big) {
            FAIL("only %llu of %zu bytes went through the rings", (unsigned long long) rbytes, big);
        }
        /* The pipeline's fragments (32 KiB less a header) do not end on a
         * 64-byte boundary of their own, so unless the component cuts them
         * where the next one's data lines up with the ring, this stays 0. */
        uint64_t frags = after[PIPE_FRAGS] - before[PIPE_FRAGS], cuts = after[CUTS] - before[CUTS];
        if (rank == 0 && (cuts == 0 || cuts >= frags)) {
            FAIL("%llu of %llu pipeline fragments cut to line up with the ring; expected at least one and "
                 "never the last",
                 (unsigned long long) cuts, (unsigned long long) frags);
        }
    } else if (strcmp(expect, "emu") == 0) {
        /* Denied: nothing may have been read by single copy; the sender
         * wrote the whole payload into the rings, as pipeline fragments or
         * as answers to emulated gets.  (The denial itself is detected
         * during MPI_Init, before counters can be read: MPI_T counters
         * start at zero when their handle is allocated; run.sh checks the
         * one warning instead.) */
        if (gets != 0) {
            FAIL("single copy was denied yet %llu reads succeeded", (unsigned long long) gets);
        }
        if (rank == 0 && rbytes < big) {
            FAIL("only %llu of %zu bytes went through the rings", (unsigned long long) rbytes, big);
        }
        if (rank == 1) {
            printf("emulated gets %llu, pipeline fragments %llu\n", (unsigned long long) emu,
                   (unsigned long long) (after[PIPE_FRAGS] - before[PIPE_FRAGS]));
        }
    } else {
        FAIL("unknown expectation '%s'", expect);
    }
    pt_counters_close(&session, counters, NCOUNTERS);
    /* MPI_T_finalize before MPI_Finalize: Open MPI 4.1.4 crashes in the
     * reverse order with every BTL (vader included). */
    MPI_T_finalize();
    free(buf);
    MPI_Finalize();
    if (rank == 0) {
        printf("protocol_check %zu %s: ok\n", big, expect);
    }
    return 0;
}
