/*
 * kill_peer eager|large: rank 1 streams messages to rank 0 and kills itself
 * with SIGKILL in the middle (during eager traffic, or while a large
 * single-copy message is in flight).  Rank 0 keeps receiving; the job must
 * end (run.sh --expect-death checks: nonzero exit, within the time limit,
 * no file of ours left behind) instead of hanging.
 */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int rank;
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
