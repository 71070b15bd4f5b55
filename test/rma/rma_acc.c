/*
 * Accumulate operations and derived datatypes of one-sided MPI on windows
 * from MPI_Win_create over malloc'd memory: MPI_Accumulate with MPI_SUM on
 * doubles and ints (every rank into every window in a fence epoch, small
 * and above the single-copy threshold; concurrent increments under
 * lock_all), MPI_REPLACE (slots, and concurrent replacement of one element
 * that must never tear), MPI_Get_accumulate (SUM with fetched values that
 * must be 0..N-1 each once, NO_OP, REPLACE), and vector/indexed datatypes
 * on both sides of MPI_Put, MPI_Get and MPI_Accumulate, small and 2 MiB.
 * All values are chosen so that floating-point sums are exact in any
 * order.  The cma counters must show puts, gets and atomics.
 * Usage: rma_acc [ROUNDS]
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

#define SENTINEL (-77)

static uint64_t put_remote, get_remote;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

/* Lock and sync so local loads see what other ranks wrote. */
static void local_begin(MPI_Win win)
{
    RT_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rt_rank, 0, win));
    RT_MPI(MPI_Win_sync(win));
}

static void local_end(MPI_Win win)
{
    RT_MPI(MPI_Win_sync(win));
    RT_MPI(MPI_Win_unlock(rt_rank, win));
}

/* Every rank adds into every window, small and large, in one epoch. */
static void sum_fence(void)
{
    const int small = 1000, big = 300000; /* 2.4 MB of doubles: above any single-copy threshold */
    int n = rt_size, t, i, len = small * 2 + big;
    double *wd = rt_malloc(sizeof(double) * (size_t) len), *od = rt_malloc(sizeof(double) * (size_t) len);
    int *wi = rt_malloc(sizeof(int) * (size_t) small), *oi = rt_malloc(sizeof(int) * (size_t) small);
    MPI_Win wind, wini;

    for (i = 0; i < len; i++)
        wd[i] = 0.0, od[i] = (rt_rank + 1) + (i % 4096) * 0.25;
    for (i = 0; i < small; i++)
        wi[i] = 0, oi[i] = (rt_rank + 1) * (i + 1);
    RT_MPI(MPI_Win_create(wd, (MPI_Aint) (sizeof(double) * (size_t) len), sizeof(double), MPI_INFO_NULL,
                          MPI_COMM_WORLD, &wind));
    RT_MPI(MPI_Win_create(wi, (MPI_Aint) (sizeof(int) * (size_t) small), sizeof(int), MPI_INFO_NULL, MPI_COMM_WORLD,
                          &wini));
    RT_MPI(MPI_Win_fence(0, wind));
    RT_MPI(MPI_Win_fence(0, wini));
    for (t = 0; t < n; t++) {
        RT_MPI(MPI_Accumulate(od, small, MPI_DOUBLE, t, 0, small, MPI_DOUBLE, MPI_SUM, wind));
        RT_MPI(MPI_Accumulate(oi, small, MPI_INT, t, 0, small, MPI_INT, MPI_SUM, wini));
    }
    /* The large one goes to the neighbours only, twice over: a second
     * accumulate into the same place must see the first. */
    RT_MPI(MPI_Accumulate(od, big, MPI_DOUBLE, (rt_rank + 1) % n, small * 2, big, MPI_DOUBLE, MPI_SUM, wind));
    RT_MPI(MPI_Accumulate(od, big, MPI_DOUBLE, (rt_rank + n - 1) % n, small * 2, big, MPI_DOUBLE, MPI_SUM, wind));
    RT_MPI(MPI_Win_fence(0, wind));
    RT_MPI(MPI_Win_fence(0, wini));
    for (i = 0; i < small; i++) {
        double want = n * (n + 1) / 2.0 + n * ((i % 4096) * 0.25);

        if (wd[i] != want)
            rt_fail("MPI_Accumulate SUM on doubles: element %d is %.17g, expected %.17g", i, wd[i], want);
        if (wi[i] != (i + 1) * n * (n + 1) / 2)
            rt_fail("MPI_Accumulate SUM on ints: element %d is %d, expected %d", i, wi[i], (i + 1) * n * (n + 1) / 2);
    }
    for (i = small * 2; i < len; i++) {
        int l = (rt_rank + n - 1) % n, r = (rt_rank + 1) % n, j = i - small * 2;
        double want = (l + 1) + (r + 1) + 2 * ((j % 4096) * 0.25);

        if (wd[i] != want)
            rt_fail("large MPI_Accumulate SUM on doubles: element %d is %.17g, expected %.17g", j, wd[i], want);
    }
    RT_MPI(MPI_Win_free(&wind));
    RT_MPI(MPI_Win_free(&wini));
    free(wd), free(od), free(wi), free(oi);
    rt_log("MPI_Accumulate SUM on doubles and ints in fence epochs verified");
}

/* Concurrent accumulates to the same elements from every rank. */
static void sum_concurrent(int rounds)
{
    struct {
        int64_t l[1];
        int i[8];
        double d[4];
    } cell;
    int64_t one64 = 1;
    int onei[8] = { 1, 1, 1, 1, 1, 1, 1, 1 }, k, n = rt_size;
    double half[4] = { 0.5, 0.5, 0.5, 0.5 };
    MPI_Win win;

    memset(&cell, 0, sizeof(cell));
    RT_MPI(MPI_Win_create(&cell, sizeof(cell), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    RT_MPI(MPI_Win_lock_all(0, win));
    for (k = 0; k < rounds; k++) {
        RT_MPI(MPI_Accumulate(&one64, 1, MPI_INT64_T, 0, 0, 1, MPI_INT64_T, MPI_SUM, win));
        RT_MPI(MPI_Accumulate(onei, 8, MPI_INT, 0, 8, 8, MPI_INT, MPI_SUM, win));
        RT_MPI(MPI_Accumulate(half, 4, MPI_DOUBLE, 0, 40, 4, MPI_DOUBLE, MPI_SUM, win));
        RT_MPI(MPI_Win_flush(0, win));
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_rank == 0) {
        local_begin(win);
        if (cell.l[0] != (int64_t) rounds * n)
            rt_fail("concurrent 64-bit accumulate: %lld, expected %lld", (long long) cell.l[0],
                    (long long) rounds * n);
        for (k = 0; k < 8; k++)
            if (cell.i[k] != rounds * n)
                rt_fail("concurrent int accumulate: element %d is %d, expected %d", k, cell.i[k], rounds * n);
        for (k = 0; k < 4; k++)
            if (cell.d[k] != rounds * n * 0.5)
                rt_fail("concurrent double accumulate: element %d is %.17g, expected %.17g", k, cell.d[k],
                        rounds * n * 0.5);
        local_end(win);
    }
    RT_MPI(MPI_Win_free(&win));
    rt_log("concurrent MPI_Accumulate SUM: %d ranks x %d rounds exact", n, rounds);
}

static void replace(void)
{
    enum { SLOT = 257, SHARED = 16 };
    int n = rt_size, t, i, k;
    int64_t *w = rt_malloc(sizeof(int64_t) * (size_t) (SLOT * n + SHARED));
    int64_t *o = rt_malloc(sizeof(int64_t) * (size_t) SLOT), mine[SHARED];
    MPI_Win win;

    for (i = 0; i < SLOT * n + SHARED; i++)
        w[i] = SENTINEL;
    RT_MPI(MPI_Win_create(w, (MPI_Aint) (sizeof(int64_t) * (size_t) (SLOT * n + SHARED)), sizeof(int64_t),
                          MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    RT_MPI(MPI_Win_fence(0, win));
    for (t = 0; t < n; t++) {
        /* The origin must stay untouched until the epoch ends: one fill
         * serves all targets. */
        if (t == 0)
            for (i = 0; i < SLOT; i++)
                o[i] = (int64_t) rt_rank * 1000003 + i;
        RT_MPI(MPI_Accumulate(o, SLOT, MPI_INT64_T, t, (MPI_Aint) rt_rank * SLOT, SLOT, MPI_INT64_T, MPI_REPLACE,
                              win));
    }
    RT_MPI(MPI_Win_fence(0, win));
    for (k = 0; k < n; k++)
        for (i = 0; i < SLOT; i++)
            if (w[k * SLOT + i] != (int64_t) k * 1000003 + i)
                rt_fail("MPI_REPLACE: slot of rank %d element %d is %lld", k, i, (long long) w[k * SLOT + i]);

    /* Everyone replaces the same 16 elements: each must end as one
     * writer's whole value, never a mix of bytes. */
    for (i = 0; i < SHARED; i++)
        mine[i] = (int64_t) (0x0101010101010101ULL * (uint64_t) (rt_rank + 1));
    RT_MPI(MPI_Win_lock_all(0, win));
    for (k = 0; k < 50; k++) {
        RT_MPI(MPI_Accumulate(mine, SHARED, MPI_INT64_T, 0, (MPI_Aint) SLOT * n, SHARED, MPI_INT64_T, MPI_REPLACE,
                              win));
        RT_MPI(MPI_Win_flush(0, win));
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_rank == 0) {
        local_begin(win);
        for (i = 0; i < SHARED; i++) {
            uint64_t x = (uint64_t) w[SLOT * n + i];

            if (x % 0x0101010101010101ULL || x / 0x0101010101010101ULL < 1 ||
                x / 0x0101010101010101ULL > (uint64_t) n)
                rt_fail("concurrent MPI_REPLACE: element %d is %#llx, no rank's value (torn)", i,
                        (unsigned long long) x);
        }
        local_end(win);
    }
    RT_MPI(MPI_Win_free(&win));
    free(w), free(o);
    rt_log("MPI_Accumulate REPLACE verified (slots, and concurrent replacement never torn)");
}

static void get_accumulate(int rounds)
{
    int64_t cells[3] = { 0, 0, 0 }, ones[3] = { 1, 1, 1 }, res[3], *seen[3], *all = NULL, fin;
    double dcell[2] = { 0, 0 }, dmine[2], dres[2], *dall = NULL;
    int n = rt_size, k, e;
    MPI_Win win, dwin;

    for (e = 0; e < 3; e++)
        seen[e] = rt_malloc(sizeof(int64_t) * (size_t) rounds);
    RT_MPI(MPI_Win_create(cells, sizeof(cells), sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    RT_MPI(MPI_Win_create(dcell, sizeof(dcell), sizeof(double), MPI_INFO_NULL, MPI_COMM_WORLD, &dwin));
    RT_MPI(MPI_Win_lock_all(0, win));
    for (k = 0; k < rounds; k++) {
        /* Element 0 alone (a single atomic), elements 1-2 together. */
        RT_MPI(MPI_Get_accumulate(ones, 1, MPI_INT64_T, res, 1, MPI_INT64_T, 0, 0, 1, MPI_INT64_T, MPI_SUM, win));
        RT_MPI(MPI_Get_accumulate(ones, 2, MPI_INT64_T, res + 1, 2, MPI_INT64_T, 0, 1, 2, MPI_INT64_T, MPI_SUM,
                                  win));
        RT_MPI(MPI_Win_flush(0, win));
        for (e = 0; e < 3; e++)
            seen[e][k] = res[e];
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
    RT_MPI(MPI_Get_accumulate(NULL, 0, MPI_INT64_T, &fin, 1, MPI_INT64_T, 0, 2, 1, MPI_INT64_T, MPI_NO_OP, win));
    RT_MPI(MPI_Win_unlock(0, win));
    if (fin != (int64_t) rounds * n)
        rt_fail("MPI_Get_accumulate NO_OP read %lld, expected %lld", (long long) fin, (long long) rounds * n);
    if (rt_rank == 0)
        all = rt_malloc(sizeof(int64_t) * (size_t) rounds * (size_t) n);
    for (e = 0; e < 3; e++) {
        RT_MPI(MPI_Gather(seen[e], rounds, MPI_INT64_T, all, rounds, MPI_INT64_T, 0, MPI_COMM_WORLD));
        if (rt_rank == 0) {
            qsort(all, (size_t) rounds * (size_t) n, sizeof(int64_t), cmp_i64);
            for (k = 0; k < rounds * n; k++)
                if (all[k] != k)
                    rt_fail("MPI_Get_accumulate SUM element %d: fetched values are not 0..%d each once "
                            "(sorted position %d holds %lld)", e, rounds * n - 1, k, (long long) all[k]);
        }
        free(seen[e]);
    }
    free(all);

    /* REPLACE on doubles returns the previous value: the values returned
     * plus the one left form a chain through every rank's value. */
    dmine[0] = dmine[1] = rt_rank + 1.5;
    RT_MPI(MPI_Win_lock_all(0, dwin));
    RT_MPI(MPI_Get_accumulate(dmine, 2, MPI_DOUBLE, dres, 2, MPI_DOUBLE, 0, 0, 2, MPI_DOUBLE, MPI_REPLACE, dwin));
    RT_MPI(MPI_Win_unlock_all(dwin));
    if (dres[0] != dres[1])
        rt_fail("MPI_Get_accumulate REPLACE on 2 doubles returned %g and %g: not one atomic step", dres[0],
                dres[1]);
    if (rt_rank == 0)
        dall = rt_malloc(sizeof(double) * (size_t) (n + 1));
    RT_MPI(MPI_Gather(dres, 1, MPI_DOUBLE, dall, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_rank == 0) {
        int seen_of[65] = { 0 };

        local_begin(dwin);
        dall[n] = dcell[0];
        local_end(dwin);
        for (k = 0; k <= n; k++) {
            int idx = dall[k] == 0.0 ? 0 : (int) (dall[k] - 0.5);

            if (n > 64 || idx < 0 || idx > n || (idx && dall[k] != idx + 0.5) || seen_of[idx]++)
                rt_fail("MPI_Get_accumulate REPLACE: value %g breaks the chain", dall[k]);
        }
        free(dall);
    }
    RT_MPI(MPI_Win_free(&win));
    RT_MPI(MPI_Win_free(&dwin));
    rt_log("MPI_Get_accumulate SUM (%d ranks x %d), NO_OP and REPLACE verified", n, rounds);
}

/* The value a window element holds before the datatype tests touch it. */
static double owner_value(int owner, int pos)
{
    return owner * 1000000.0 + pos;
}

static double origin_value(int rank, int k)
{
    return -(rank * 1000000.0 + k) - 0.5;
}

/* Builds an indexed type of `count` doubles in blocks of minb..minb+4
 * separated by gaps of 2, and returns the position of each element in
 * `pos`. */
static MPI_Datatype make_indexed(int count, int minb, int *pos, int *extent)
{
    int *len = rt_malloc(sizeof(int) * (size_t) count), *dis = rt_malloc(sizeof(int) * (size_t) count);
    int nb = 0, done = 0, at = 1, j;
    MPI_Datatype t;

    while (done < count) {
        int l = minb + nb % 5;

        if (l > count - done)
            l = count - done;
        len[nb] = l, dis[nb] = at;
        for (j = 0; j < l; j++)
            pos[done + j] = at + j;
        done += l, at += l + 2, nb++;
    }
    RT_MPI(MPI_Type_indexed(nb, len, dis, MPI_DOUBLE, &t));
    RT_MPI(MPI_Type_commit(&t));
    *extent = at;
    free(len), free(dis);
    return t;
}

/* Origin: vector (count/bl blocks of bl, stride). Target: indexed, blocks
 * of minb..minb+4.  osc rdma moves each contiguous piece separately (and
 * accumulates each with a get and a put), so large transfers use larger
 * target blocks to stay fast with 8 ranks on 2 cores. */
static void datatypes(int count, int bl, int stride, int minb)
{
    int n = rt_size, right = (rt_rank + 1) % n, left = (rt_rank + n - 1) % n, i, extent, vlen;
    int *pos = rt_malloc(sizeof(int) * (size_t) count);
    MPI_Datatype vec, idx = make_indexed(count, minb, pos, &extent);
    double *w, *o;
    MPI_Win win;

    RT_MPI(MPI_Type_vector(count / bl, bl, stride, MPI_DOUBLE, &vec));
    RT_MPI(MPI_Type_commit(&vec));
    vlen = (count / bl - 1) * stride + bl;
    w = rt_malloc(sizeof(double) * (size_t) extent);
    o = rt_malloc(sizeof(double) * (size_t) vlen);
    for (i = 0; i < extent; i++)
        w[i] = owner_value(rt_rank, i);
    RT_MPI(MPI_Win_create(w, (MPI_Aint) (sizeof(double) * (size_t) extent), sizeof(double), MPI_INFO_NULL,
                          MPI_COMM_WORLD, &win));

    /* Put: vector out of o into the indexed places of the right window. */
    for (i = 0; i < vlen; i++)
        o[i] = (i % stride < bl) ? origin_value(rt_rank, (i / stride) * bl + i % stride) : SENTINEL;
    RT_MPI(MPI_Win_fence(0, win));
    RT_MPI(MPI_Put(o, 1, vec, right, 0, 1, idx, win));
    RT_MPI(MPI_Win_fence(0, win));
    {
        int k = 0;

        for (i = 0; i < extent; i++) {
            double want = (k < count && pos[k] == i) ? origin_value(left, k++) : owner_value(rt_rank, i);

            if (w[i] != want)
                rt_fail("MPI_Put vector->indexed (%d doubles): window element %d is %.17g, expected %.17g", count, i,
                        w[i], want);
        }
    }
    if (right != rt_rank)
        put_remote += sizeof(double) * (size_t) count;

    /* Get: indexed places of the right window into the vector places of
     * o; the gaps of o must keep their sentinel. */
    for (i = 0; i < extent; i++)
        w[i] = owner_value(rt_rank, i);
    for (i = 0; i < vlen; i++)
        o[i] = SENTINEL;
    RT_MPI(MPI_Win_fence(0, win));
    RT_MPI(MPI_Get(o, 1, vec, right, 0, 1, idx, win));
    RT_MPI(MPI_Win_fence(0, win));
    for (i = 0; i < vlen; i++) {
        int k = (i / stride) * bl + i % stride;
        double want = (i % stride < bl) ? owner_value(right, pos[k]) : SENTINEL;

        if (o[i] != want)
            rt_fail("MPI_Get indexed->vector (%d doubles): origin element %d is %.17g, expected %.17g", count, i,
                    o[i], want);
    }
    if (right != rt_rank)
        get_remote += sizeof(double) * (size_t) count;

    /* Accumulate SUM from every rank, vector into indexed. */
    for (i = 0; i < vlen; i++)
        o[i] = (i % stride < bl) ? (rt_rank + 1) * 0.5 : SENTINEL;
    RT_MPI(MPI_Win_fence(0, win));
    for (i = 0; i < n; i++)
        RT_MPI(MPI_Accumulate(o, 1, vec, i, 0, 1, idx, MPI_SUM, win));
    RT_MPI(MPI_Win_fence(0, win));
    {
        int k = 0;

        for (i = 0; i < extent; i++) {
            double want = owner_value(rt_rank, i);

            if (k < count && pos[k] == i)
                want += n * (n + 1) * 0.25, k++;
            if (w[i] != want)
                rt_fail("MPI_Accumulate vector->indexed (%d doubles): window element %d is %.17g, expected %.17g",
                        count, i, w[i], want);
        }
    }
    RT_MPI(MPI_Win_free(&win));
    RT_MPI(MPI_Type_free(&vec));
    RT_MPI(MPI_Type_free(&idx));
    free(w), free(o), free(pos);
}

int main(int argc, char **argv)
{
    rt_traffic_t traffic;
    int rounds = 300;

    rt_init(&argc, &argv, "rma_acc");
    if (argc > 1)
        rounds = (int) rt_parse_long(argv[1], "ROUNDS");
    rt_traffic_begin(&traffic);
    sum_fence();
    sum_concurrent(rounds);
    replace();
    get_accumulate(rounds);
    datatypes(300, 3, 7, 1);
    datatypes(262144, 64, 80, 60); /* 2 MiB: 512-byte origin blocks, ~500-byte target blocks */
    rt_log("vector/indexed datatypes with MPI_Put, MPI_Get and MPI_Accumulate verified (300 and 262144 doubles)");
    rt_traffic_end(&traffic, "accumulate and datatypes", RT_PUT | RT_GET | RT_ATOMIC, put_remote, get_remote);
    return rt_finalize();
}
