/*
 * wakeup: with more local ranks than MCA_BTL_CMA_HOT_PEERS_MIN (8), the cma
 * BTL stops polling rings that stay idle and relies on their producers to
 * ring a doorbell.  Rank 0 talks to one peer at a time, so every other ring
 * it owns goes quiet long enough to fall asleep; each peer then answers a
 * request from rank 0 with a reply of a different size (eager, one cell,
 * several cells, through the small ring, pipeline fragments), every byte
 * verified, and between rounds rank 0 idles in MPI_Iprobe so that the
 * rings fall asleep again.  A
 * lost wakeup shows as a hang (the time limit fails the test), a wrong
 * byte as a failure; with the cma BTL the counters must also show that
 * doorbells rang and woke rank 0's rings (a sweep that papers over a
 * broken doorbell would otherwise pass unnoticed).
 */
#include "mpitest.h"

#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 6
enum { TAG_REQ = 71, TAG_REPLY };

int main(int argc, char **argv)
{
    static const size_t sizes[] = { 0, 1, 40, 100, 200, 1500, 4097, 40000, 300001 };
    const int nsizes = (int) (sizeof(sizes) / sizeof(sizes[0]));
    char *buf;
    int r, p, flag;

    mt_init(&argc, &argv, "wakeup", MPI_THREAD_SINGLE);
    buf = mt_malloc(300001);
    for (r = 0; r < ROUNDS; r++) {
        if (mt_rank == 0) {
            for (p = 1; p < mt_size; p++) {
                size_t n = sizes[(r + p) % nsizes];
                int req = (int) n;
                /* Idle with nothing to receive: the quiet rings fall asleep. */
                for (int i = 0; i < 2000; i++)
                    MT_MPI(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE));
                MT_MPI(MPI_Send(&req, 1, MPI_INT, p, TAG_REQ, MPI_COMM_WORLD));
                MT_MPI(MPI_Recv(buf, (int) n, MPI_BYTE, p, TAG_REPLY, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
                mt_check(buf, n, mt_seed((uint64_t) r, (uint64_t) p, n, 7), "round %d reply of %zu bytes from %d",
                         r, n, p);
            }
        } else {
            int req;
            MT_MPI(MPI_Recv(&req, 1, MPI_INT, 0, TAG_REQ, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            mt_fill(buf, (size_t) req, mt_seed((uint64_t) r, (uint64_t) mt_rank, (uint64_t) req, 7));
            MT_MPI(MPI_Send(buf, req, MPI_BYTE, 0, TAG_REPLY, MPI_COMM_WORLD));
        }
    }
    long long rung = mt_cma_counter("btl_cma_doorbells_rung");
    long long woke = mt_cma_counter("btl_cma_doorbell_wakeups");
    long long swept = mt_cma_counter("btl_cma_sweep_wakeups");
    long long small = mt_cma_counter("btl_cma_small_ring_sends");
    long long mine[4] = { rung, woke, swept, small }, sum[4];
    MT_MPI(MPI_Allreduce(mine, sum, 4, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD));
    if (mt_rank == 0 && rung >= 0) {
        mt_log("doorbells rung %lld, rings woken by doorbell %lld (rank 0: %lld), by the sweep %lld; %lld replies "
               "through small rings", sum[0], sum[1], woke, sum[2], sum[3]);
        /* The 200- and 1500-byte replies take the small ring, whose sleep
         * and doorbell are the large ring's: they must have been there. */
        if (sum[3] < (long long) ROUNDS)
            mt_fail("only %lld messages went through small rings", sum[3]);
        if (mt_size > 8) {
            /* Every peer's reply after the first round finds its ring at
             * rank 0 asleep; allow a few doorbells lost in races. */
            long long expect = (long long) (ROUNDS - 1) * (mt_size - 1) / 2;
            if (woke < expect || sum[0] < expect)
                mt_fail("only %lld of rank 0's rings were woken by a doorbell (%lld rung), expected at least "
                        "%lld", woke, sum[0], expect);
            /* The sweep only catches a doorbell lost in the narrow race the
             * ring library documents: many sweep wakeups mean some sends
             * (say, those of one of a peer's two rings) ring no doorbell. */
            if (sum[2] > (mt_size - 1) / 4)
                mt_fail("%lld rings were woken by the sweep, at most %d expected: doorbells are missing", sum[2],
                        (mt_size - 1) / 4);
        } else if (sum[0] != 0 || sum[1] != 0) {
            mt_fail("%d ranks poll every ring, yet %lld doorbells rang", mt_size, sum[0]);
        }
    }
    free(buf);
    return mt_finalize();
}
