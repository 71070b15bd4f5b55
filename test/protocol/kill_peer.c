/*
 * kill_peer eager|large: rank 1 streams messages to rank 0 and kills itself
 * with SIGKILL in the middle (during eager traffic, or while a large
 * single-copy message is in flight).  Rank 0 keeps receiving; the job must
 * end (run.sh --expect-death checks: nonzero exit, within the time limit,
 * no file of ours left behind) instead of hanging.
 * kill_peer exit: rank 1 sends one message and leaves with exit(0) without
 * MPI_Finalize, as mpirun's orte_allowed_exit_without_sync permits; rank 0
 * waits past several liveness checks, then must still receive the message
 * intact and finalize (cma ended such jobs as "peer failed"; vader did not).
 */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int leave_without_finalize(int *argc, char ***argv)
{
    int rank;
    char msg[300], got[300];
    for (size_t k = 0; k < sizeof(msg); ++k) {
        msg[k] = (char) (k * 7 + 3);
    }
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 1) {
        MPI_Send(msg, (int) sizeof(msg), MPI_BYTE, 0, 7, MPI_COMM_WORLD);
        exit(0);
    }
    /* 1.5 s of progress (liveness checks every 200 ms) before the receive. */
    double t0 = MPI_Wtime();
    int flag;
    while (MPI_Wtime() - t0 < 1.5) {
        MPI_Iprobe(MPI_ANY_SOURCE, 99, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    }
    MPI_Recv(got, (int) sizeof(got), MPI_BYTE, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (memcmp(got, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "kill_peer rank 0: FAIL: the message sent before the exit arrived damaged\n");
        return 1;
    }
    MPI_Finalize();
    printf("PASS: rank 1 left without MPI_Finalize; its message arrived and rank 0 finalized\n");
    return 0;
}

int main(int argc, char **argv)
{
    int rank;
    if (argc > 1 && strcmp(argv[1], "exit") == 0) {
        return leave_without_finalize(&argc, &argv);
    }
    int large = argc > 1 && strcmp(argv[1], "large") == 0;
    size_t size = large ? (size_t) 64 << 20 : 256;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char *buf = calloc(size, 1);
    if (rank == 1) {
        for (int i = 0;; ++i) {
            if (i == 50) {
                if (large) {
                    /* Die while rank 0 is reading this message. */
                    MPI_Request r;
                    MPI_Isend(buf, (int) size, MPI_BYTE, 0, 0, MPI_COMM_WORLD, &r);
                    usleep(1000);
                }
                raise(SIGKILL);
            }
            MPI_Send(buf, (int) size, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
    } else if (rank == 0) {
        for (;;) {
            MPI_Recv(buf, (int) size, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
    MPI_Finalize();
    return 0;
}
