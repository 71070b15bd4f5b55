/*
 * A spin lock built from MPI_Compare_and_swap protecting a counter that is
 * incremented with MPI_Get and MPI_Put, on windows from MPI_Win_create over
 * malloc'd memory.  The lock word lives on rank 0 and, from 3 ranks on,
 * the counter on rank 1, so a release that overtook the counter's put to
 * another rank would show as a lost update.  The final counter must be exact, the values read inside the
 * critical section must be distinct, and every release must find the lock
 * still held by its owner.  By default rank 0 does not contend: Open MPI
 * 4.1.4's osc rdma passes a compare-and-swap on the caller's own window to
 * the BTL with no endpoint (vader crashes the same way); "all" makes rank
 * 0 contend too, which is what that case tests.
 * Usage: rma_cas [ROUNDS [all]]
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

#define LOCK_RANK 0
#define LOCK_DISP 0
#define COUNTER_DISP 8

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int64_t cells[2] = { 0, 0 }, mine, zero = 0, prev, v, *seen, *all = NULL, fin[2];
    int rounds = 500, all_contend = 0, contend, counter_rank, ncontenders, i;
    long spins = 0, total_spins = 0;
    rt_traffic_t traffic;
    MPI_Win win;

    rt_init(&argc, &argv, "rma_cas");
    if (argc > 1)
        rounds = (int) rt_parse_long(argv[1], "ROUNDS");
    if (argc > 2)
        all_contend = strcmp(argv[2], "all") == 0;
    if (rt_size < 2)
        rt_fail("run with at least 2 ranks");
    /* With 2 ranks only rank 1 contends: the counter stays on rank 0 so
     * its gets and puts still cross processes. */
    counter_rank = rt_size > 2 ? 1 : 0;
    contend = all_contend || rt_rank != LOCK_RANK;
    ncontenders = all_contend ? rt_size : rt_size - 1;
    mine = rt_rank + 1;
    seen = rt_malloc(sizeof(int64_t) * (size_t) rounds);
    RT_MPI(MPI_Win_create(cells, sizeof(cells), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));

    rt_traffic_begin(&traffic);
    RT_MPI(MPI_Win_lock_all(0, win));
    for (i = 0; contend && i < rounds; i++) {
        do {
            RT_MPI(MPI_Compare_and_swap(&mine, &zero, &prev, MPI_INT64_T, LOCK_RANK, LOCK_DISP, win));
            RT_MPI(MPI_Win_flush(LOCK_RANK, win));
            spins += prev != 0;
            if (prev < 0 || prev > rt_size)
                rt_fail("lock word holds %lld, not 0 or a rank + 1", (long long) prev);
        } while (prev != 0);
        RT_MPI(MPI_Get(&v, 1, MPI_INT64_T, counter_rank, COUNTER_DISP, 1, MPI_INT64_T, win));
        RT_MPI(MPI_Win_flush(counter_rank, win));
        seen[i] = v++;
        RT_MPI(MPI_Put(&v, 1, MPI_INT64_T, counter_rank, COUNTER_DISP, 1, MPI_INT64_T, win));
        /* The put must be complete at the target before the lock is seen
         * free, or the next holder may read the old value. */
        RT_MPI(MPI_Win_flush(counter_rank, win));
        RT_MPI(MPI_Compare_and_swap(&zero, &mine, &prev, MPI_INT64_T, LOCK_RANK, LOCK_DISP, win));
        RT_MPI(MPI_Win_flush(LOCK_RANK, win));
        if (prev != mine)
            rt_fail("round %d: releasing, the lock word held %lld instead of my %lld: mutual exclusion broken", i,
                    (long long) prev, (long long) mine);
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));

    RT_MPI(MPI_Reduce(&spins, &total_spins, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD));
    if (rt_rank == 0)
        all = rt_malloc(sizeof(int64_t) * (size_t) rounds * (size_t) rt_size);
    RT_MPI(MPI_Gather(seen, rounds, MPI_INT64_T, all, rounds, MPI_INT64_T, 0, MPI_COMM_WORLD));
    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, rt_rank, 0, win));
    RT_MPI(MPI_Win_sync(win));
    memcpy(fin, cells, sizeof(fin));
    RT_MPI(MPI_Win_unlock(rt_rank, win));
    if (rt_rank == counter_rank && fin[1] != (int64_t) rounds * ncontenders)
        rt_fail("%d contenders x %d locked increments left the counter at %lld", ncontenders, rounds,
                (long long) fin[1]);
    if (rt_rank == LOCK_RANK && fin[0] != 0)
        rt_fail("the lock word is %lld after every rank released it", (long long) fin[0]);
    if (rt_rank == 0) {
        int64_t *vals = all + (all_contend ? 0 : rounds), n = (int64_t) rounds * ncontenders;

        qsort(vals, (size_t) n, sizeof(int64_t), cmp_i64);
        for (i = 0; i < n; i++)
            if (vals[i] != i)
                rt_fail("values read under the lock are not 0..%lld each once: sorted position %d holds %lld",
                        (long long) n - 1, i, (long long) vals[i]);
        free(all);
    }
    rt_log("compare-and-swap lock: %d contenders x %d increments exact, %ld failed acquisitions", ncontenders,
           rounds, total_spins);
    rt_traffic_end(&traffic, "compare-and-swap lock", RT_ATOMIC | RT_PUT | RT_GET, 0, 0);

    RT_MPI(MPI_Win_free(&win));
    free(seen);
    return rt_finalize();
}
