/*
 * Atomics of one-sided MPI on a window from MPI_Win_create over malloc'd
 * memory: every rank adds 1 to rank 0's 64-bit counter N times with
 * MPI_Fetch_and_op (default 10,000), then the same on a 32-bit int
 * counter; the final values must be exact and the values fetched, over all
 * ranks, must be 0..size*N-1 each exactly once (a lost or doubled update
 * breaks that even when the total happens to match).  Then MPI_MAX, MIN,
 * BOR, BAND, BXOR, REPLACE (a swap chain), NO_OP and MPI_Compare_and_swap
 * (exactly one winner), all checked, and the cma counters must show the
 * atomics went through cma; then 64-bit sums at odd byte displacements.
 * Usage: rma_fop [N]
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

/* Window layout, in 8-byte cells so every value is naturally aligned. */
enum { C_SUM64, C_SUM32, C_MAX, C_MIN, C_BOR, C_BAND, C_BXOR, C_SWAP, C_CAS, C_MAX32, NCELLS };

static int64_t cells[NCELLS];

static MPI_Aint disp(int cell)
{
    return (MPI_Aint) ((size_t) cell * sizeof(int64_t));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

/* Rank 0 checks that the values fetched by all ranks are 0..total-1. */
static void check_permutation(int64_t *seen, int n, const char *what)
{
    int64_t *all = NULL;
    long i, total = (long) n * rt_size;

    if (rt_rank == 0)
        all = rt_malloc(sizeof(int64_t) * (size_t) total);
    RT_MPI(MPI_Gather(seen, n, MPI_INT64_T, all, n, MPI_INT64_T, 0, MPI_COMM_WORLD));
    if (rt_rank != 0)
        return;
    qsort(all, (size_t) total, sizeof(int64_t), cmp_i64);
    for (i = 0; i < total; i++)
        if (all[i] != i)
            rt_fail("%s: the values fetched over all ranks are not 0..%ld each once: sorted position %ld holds "
                    "%lld (a lost or duplicated atomic update)", what, total - 1, i, (long long) all[i]);
    free(all);
}

/* Rank 0 reads its own window; the lock and sync order the loads after
 * the other ranks' atomics. */
static int64_t read_cell(MPI_Win win, int cell)
{
    int64_t v;

    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, rt_rank, 0, win));
    RT_MPI(MPI_Win_sync(win));
    v = __atomic_load_n(&cells[cell], __ATOMIC_SEQ_CST);
    RT_MPI(MPI_Win_unlock(rt_rank, win));
    return v;
}

static int32_t read_cell32(MPI_Win win, int cell)
{
    int32_t v;

    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, rt_rank, 0, win));
    RT_MPI(MPI_Win_sync(win));
    v = __atomic_load_n((int32_t *) &cells[cell], __ATOMIC_SEQ_CST);
    RT_MPI(MPI_Win_unlock(rt_rank, win));
    return v;
}

static void counter64(MPI_Win win, int n)
{
    int64_t one = 1, prev, *seen = rt_malloc(sizeof(int64_t) * (size_t) n);
    double t0 = MPI_Wtime();
    int i;

    RT_MPI(MPI_Win_lock_all(0, win));
    for (i = 0; i < n; i++) {
        RT_MPI(MPI_Fetch_and_op(&one, &prev, MPI_INT64_T, 0, disp(C_SUM64), MPI_SUM, win));
        RT_MPI(MPI_Win_flush(0, win));
        if (i && prev <= seen[i - 1])
            rt_fail("64-bit fetch_and_op: fetched %lld after %lld", (long long) prev, (long long) seen[i - 1]);
        seen[i] = prev;
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_rank == 0 && read_cell(win, C_SUM64) != (int64_t) n * rt_size)
        rt_fail("64-bit fetch_and_op: %d ranks x %d increments left %lld", rt_size, n,
                (long long) read_cell(win, C_SUM64));
    check_permutation(seen, n, "64-bit fetch_and_op");
    rt_log("64-bit MPI_Fetch_and_op: %d ranks x %d increments exact (%.2f us each)", rt_size, n,
           (MPI_Wtime() - t0) * 1e6 / n);
    free(seen);
}

static void counter32(MPI_Win win, int n)
{
    int64_t *seen = rt_malloc(sizeof(int64_t) * (size_t) n);
    int32_t one = 1, prev;
    double t0 = MPI_Wtime();
    int i;

    RT_MPI(MPI_Win_lock_all(0, win));
    for (i = 0; i < n; i++) {
        RT_MPI(MPI_Fetch_and_op(&one, &prev, MPI_INT, 0, disp(C_SUM32), MPI_SUM, win));
        RT_MPI(MPI_Win_flush(0, win));
        seen[i] = prev;
        if (i && seen[i] <= seen[i - 1])
            rt_fail("32-bit fetch_and_op: fetched %d after %lld", prev, (long long) seen[i - 1]);
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    /* The neighbouring 4 bytes of the cell must not have been touched: a
     * 64-bit operation in place of a 32-bit one would carry into them. */
    if (rt_rank == 0) {
        int32_t fin = read_cell32(win, C_SUM32), hi;

        memcpy(&hi, (char *) &cells[C_SUM32] + 4, 4);
        if (fin != n * rt_size || hi != 0x5a5a5a5a)
            rt_fail("32-bit fetch_and_op: %d ranks x %d increments left %d (upper neighbour 0x%x, must stay "
                    "0x5a5a5a5a)", rt_size, n, fin, (unsigned) hi);
    }
    check_permutation(seen, n, "32-bit fetch_and_op");
    rt_log("32-bit MPI_Fetch_and_op: %d ranks x %d increments exact (%.2f us each)", rt_size, n,
           (MPI_Wtime() - t0) * 1e6 / n);
    free(seen);
}

static void other_ops(MPI_Win win)
{
    int64_t v, prev, swapped, cas_prev, want, all_swapped[64], all_cas[64], fin;
    int32_t v32, prev32;
    int i, winners = 0, won, r = rt_rank;
    int64_t chain[65];

    if (rt_size > 62)
        rt_fail("run with at most 62 ranks (one bit per rank)");
    RT_MPI(MPI_Win_lock_all(0, win));
    v = r * 7 + 3;
    RT_MPI(MPI_Fetch_and_op(&v, &prev, MPI_INT64_T, 0, disp(C_MAX), MPI_MAX, win));
    v = 1000 - r * 5;
    RT_MPI(MPI_Fetch_and_op(&v, &prev, MPI_INT64_T, 0, disp(C_MIN), MPI_MIN, win));
    v = (int64_t) 1 << r;
    RT_MPI(MPI_Fetch_and_op(&v, &prev, MPI_INT64_T, 0, disp(C_BOR), MPI_BOR, win));
    v = ~((int64_t) 1 << r);
    RT_MPI(MPI_Fetch_and_op(&v, &prev, MPI_INT64_T, 0, disp(C_BAND), MPI_BAND, win));
    v = ((int64_t) 1 << r) | ((int64_t) 3 << 62);
    RT_MPI(MPI_Fetch_and_op(&v, &prev, MPI_INT64_T, 0, disp(C_BXOR), MPI_BXOR, win));
    v32 = -(r * 3 + 1);
    RT_MPI(MPI_Fetch_and_op(&v32, &prev32, MPI_INT, 0, disp(C_MAX32), MPI_MAX, win));
    RT_MPI(MPI_Win_flush(0, win));
    v = r + 1;
    RT_MPI(MPI_Fetch_and_op(&v, &swapped, MPI_INT64_T, 0, disp(C_SWAP), MPI_REPLACE, win));
    /* Rank 0 stays out: Open MPI 4.1.4's osc rdma hands a compare-and-swap
     * on the caller's own window to the BTL with no endpoint (crashes with
     * vader too; see rma_cas_self.c). */
    v = r + 100;
    want = 0;
    cas_prev = -1;
    if (r != 0)
        RT_MPI(MPI_Compare_and_swap(&v, &want, &cas_prev, MPI_INT64_T, 0, disp(C_CAS), win));
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));

    /* Atomic read with NO_OP sees every rank's MAX. */
    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
    RT_MPI(MPI_Fetch_and_op(NULL, &fin, MPI_INT64_T, 0, disp(C_MAX), MPI_NO_OP, win));
    RT_MPI(MPI_Win_unlock(0, win));
    if (fin != (int64_t) (rt_size - 1) * 7 + 3)
        rt_fail("MPI_NO_OP read %lld from the MAX cell, expected %lld", (long long) fin,
                (long long) (rt_size - 1) * 7 + 3);

    won = cas_prev == 0;
    RT_MPI(MPI_Allreduce(&won, &winners, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    RT_MPI(MPI_Gather(&swapped, 1, MPI_INT64_T, all_swapped, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
    RT_MPI(MPI_Gather(&cas_prev, 1, MPI_INT64_T, all_cas, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
    if (rt_rank != 0)
        return;
    if (winners != (rt_size > 1))
        rt_fail("MPI_Compare_and_swap: %d ranks saw the initial 0, exactly one must", winners);
    fin = read_cell(win, C_CAS);
    if (fin < 101 || fin >= 100 + rt_size)
        rt_fail("MPI_Compare_and_swap left %lld, not one rank's value", (long long) fin);
    /* Every loser must have seen the winner's value, not some other. */
    for (i = 1; i < rt_size; i++)
        if (all_cas[i] != 0 && all_cas[i] != fin)
            rt_fail("MPI_Compare_and_swap: rank %d saw %lld, but the winner wrote %lld", i,
                    (long long) all_cas[i], (long long) fin);
    if ((fin = read_cell(win, C_MIN)) != 1000 - (int64_t) (rt_size - 1) * 5)
        rt_fail("MPI_MIN left %lld", (long long) fin);
    if ((fin = read_cell(win, C_BOR)) != ((int64_t) 1 << rt_size) - 1)
        rt_fail("MPI_BOR left %#llx", (unsigned long long) fin);
    if ((fin = read_cell(win, C_BAND)) != ~(((int64_t) 1 << rt_size) - 1))
        rt_fail("MPI_BAND left %#llx", (unsigned long long) fin);
    want = ((int64_t) 1 << rt_size) - 1;
    if (rt_size % 2)
        want |= (int64_t) 3 << 62;
    if ((fin = read_cell(win, C_BXOR)) != want)
        rt_fail("MPI_BXOR left %#llx, expected %#llx", (unsigned long long) fin, (unsigned long long) want);
    if ((v32 = read_cell32(win, C_MAX32)) != -1)
        rt_fail("32-bit MPI_MAX left %d, expected -1", v32);
    /* The swaps form one chain: what each rank got back, plus what is left,
     * is 0 and every rank's value exactly once. */
    for (i = 0; i < rt_size; i++)
        chain[i] = all_swapped[i];
    chain[rt_size] = read_cell(win, C_SWAP);
    qsort(chain, (size_t) rt_size + 1, sizeof(int64_t), cmp_i64);
    for (i = 0; i <= rt_size; i++)
        if (chain[i] != i)
            rt_fail("MPI_REPLACE swaps do not form one chain: sorted position %d holds %lld", i,
                    (long long) chain[i]);
    rt_log("MAX, MIN, BOR, BAND, BXOR, REPLACE, NO_OP, 32-bit MAX and Compare_and_swap verified");
}

/* One-sided MPI allows any displacement: 64-bit atomics at byte offsets 3
 * and 13 of a window with a displacement unit of 1 (one of them crossing
 * an 8-byte boundary only, none a cache line as the buffer is aligned).
 * The target once dropped such a request without an answer, and the
 * origin waited for ever. */
static void misaligned(int n)
{
    static _Alignas(64) unsigned char odd[64];
    const MPI_Aint at[2] = {3, 13};
    MPI_Win win;
    int64_t one = 1, prev, total[2];
    int i, k;

    memset(odd, 0, sizeof(odd));
    RT_MPI(MPI_Win_create(odd, sizeof(odd), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    RT_MPI(MPI_Win_lock_all(0, win));
    for (i = 0; i < n; i++)
        for (k = 0; k < 2; k++)
            RT_MPI(MPI_Fetch_and_op(&one, &prev, MPI_INT64_T, 0, at[k], MPI_SUM, win));
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_rank == 0) {
        RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
        RT_MPI(MPI_Win_sync(win));
        for (k = 0; k < 2; k++)
            memcpy(&total[k], odd + at[k], sizeof(total[k]));
        RT_MPI(MPI_Win_unlock(0, win));
        for (k = 0; k < 2; k++)
            if (total[k] != (int64_t) n * rt_size)
                rt_fail("64-bit MPI_SUM at byte displacement %ld left %lld, expected %lld", (long) at[k],
                        (long long) total[k], (long long) n * rt_size);
        for (i = 0; i < 3; i++)
            if (odd[i] || odd[11 + i % 2] || odd[21 + i])
                rt_fail("a misaligned atomic wrote outside its 8 bytes");
        rt_log("64-bit atomics at byte displacements 3 and 13 verified");
    }
    RT_MPI(MPI_Win_free(&win));
}

int main(int argc, char **argv)
{
    rt_traffic_t traffic;
    int n = 10000;
    MPI_Win win;

    rt_init(&argc, &argv, "rma_fop");
    if (argc > 1)
        n = (int) rt_parse_long(argv[1], "N");
    memset(cells, 0, sizeof(cells));
    memset((char *) &cells[C_SUM32] + 4, 0x5a, 4);
    cells[C_MIN] = INT64_MAX;
    cells[C_BAND] = -1;
    {
        int32_t lo = INT32_MIN;

        memcpy(&cells[C_MAX32], &lo, sizeof(lo));
    }
    RT_MPI(MPI_Win_create(cells, sizeof(cells), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));

    rt_traffic_begin(&traffic);
    counter64(win, n);
    counter32(win, n);
    other_ops(win);
    rt_traffic_end(&traffic, "atomics", RT_ATOMIC, 0, 0);

    RT_MPI(MPI_Win_free(&win));
    misaligned(n < 100 ? n : 100);
    return rt_finalize();
}
