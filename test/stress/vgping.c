/*
 * vgping: a 2-rank ping-pong small enough to run under valgrind's memcheck
 * (t-valgrind-*.sh): sizes from 0 B to 1 MiB crossing every protocol
 * boundary of the cma component (eager ring message, copy pipeline, single
 * copy), each message verified on arrival and sent back, and the MPI_T
 * counters checked so the run under valgrind is known to have exercised the
 * protocol it was meant to.
 *
 * Usage: vgping [-r REPS] get|ring
 */
#include "stress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const size_t sizes[] = {0,    1,     7,     8,     63,     64,     65,     1000,   4096,   8191,
                               8192, 8193,  32767, 32768, 32769,  65535,  65536,  65537,  262144, 262145,
                               (size_t) 1 << 20};

int main(int argc, char **argv)
{
    int reps = 2, opt;
    st_init(&argc, &argv, "vgping");
    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt == 'r') {
            reps = atoi(optarg);
        } else {
            st_fail("usage: vgping [-r reps] get|ring");
        }
    }
    if (optind != argc - 1 || st_size != 2 || (strcmp(argv[optind], "get") && strcmp(argv[optind], "ring"))) {
        st_fail("usage: vgping [-r reps] get|ring, on 2 ranks");
    }
    const char *expect = argv[optind];
    size_t max = sizes[sizeof(sizes) / sizeof(sizes[0]) - 1];
    unsigned char *buf = st_malloc_touched(max);
    int peer = 1 - st_rank;
    uint64_t before[ST_NCOUNTERS], after[ST_NCOUNTERS];
    st_counters_open();
    st_counters_read(before);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        size_t n = sizes[i];
        for (int r = 0; r < reps; ++r) {
            /* Rank 0 sends pattern A; rank 1 checks it and answers pattern B. */
            uint64_t ping = st_seed(11, n, (uint64_t) r, 0, 0), pong = st_seed(11, n, (uint64_t) r, 1, 0);
            if (st_rank == 0) {
                st_fill(buf, n, ping);
                MPI_Send(buf, (int) n, MPI_BYTE, peer, r, MPI_COMM_WORLD);
                memset(buf, 0, n);
                MPI_Recv(buf, (int) n, MPI_BYTE, peer, r, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                long long bad = st_check(buf, n, pong);
                if (bad >= 0) {
                    st_fail("pong of %zu bytes wrong at byte %lld", n, bad);
                }
            } else {
                memset(buf, 0, n);
                MPI_Recv(buf, (int) n, MPI_BYTE, peer, r, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                long long bad = st_check(buf, n, ping);
                if (bad >= 0) {
                    st_fail("ping of %zu bytes wrong at byte %lld", n, bad);
                }
                st_fill(buf, n, pong);
                MPI_Send(buf, (int) n, MPI_BYTE, peer, r, MPI_COMM_WORLD);
            }
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    st_counters_read(after);
    uint64_t d[ST_NCOUNTERS], sum[ST_NCOUNTERS];
    for (int c = 0; c < ST_NCOUNTERS; ++c) {
        d[c] = after[c] - before[c];
    }
    MPI_Reduce(d, sum, ST_NCOUNTERS, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    int status = 0;
    if (st_rank == 0) {
        printf("vgping: %zu sizes x %d round trips verified; ring %llu msgs, process_vm_readv %llu reads "
               "(%llu bytes)\n",
               sizeof(sizes) / sizeof(sizes[0]), reps, (unsigned long long) sum[ST_RING_SENDS],
               (unsigned long long) sum[ST_GET_COUNT], (unsigned long long) sum[ST_GET_BYTES]);
        if (strcmp(expect, "get") == 0 && sum[ST_GET_COUNT] == 0) {
            printf("vgping: FAIL: single copy expected, none happened\n");
            status = 1;
        } else if (strcmp(expect, "ring") == 0 && sum[ST_GET_COUNT] != 0) {
            printf("vgping: FAIL: rings only expected, single copy happened\n");
            status = 1;
        }
        fflush(stdout);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(buf);
    return st_finalize(status);
}
