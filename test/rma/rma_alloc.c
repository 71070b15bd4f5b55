/*
 * Windows whose memory MPI allocates keep working with the cma BTL in the
 * job: MPI_Win_allocate (fence puts and gets of 1 B to 1 MiB, then
 * fetch-and-add and compare-and-swap counters under lock_all) and MPI_Win_allocate_shared (direct loads
 * and stores through MPI_Win_shared_query pointers, plus MPI_Put, MPI_Get
 * and MPI_Fetch_and_op).  Open MPI serves these with shared memory of its
 * own (osc sm, or osc rdma's shared segment), so the cma counters are
 * reported, not required.  Every value is verified.
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_PUT = 1, TAG_OWN, TAG_STORE, TAG_SHPUT };

#define FOPS 1000

static void allocate(void)
{
    static const size_t sizes[] = { 1, 4097, 65536, 1048576 };
    size_t len = 1048576 + 64, k;
    int n = rt_size, right = (rt_rank + 1) % n, left = (rt_rank + n - 1) % n, i;
    unsigned char *w, *o = rt_malloc(len), *g = rt_malloc(len);
    int64_t one = 1, prev, *ctr, *ctr2;
    MPI_Win win;

    RT_MPI(MPI_Win_allocate((MPI_Aint) len, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &w, &win));
    ctr = (int64_t *) (w + len - 8);
    ctr2 = (int64_t *) (w + len - 16);
    RT_MPI(MPI_Win_fence(0, win));
    *ctr = 0;
    *ctr2 = 0;
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t s = sizes[k];

        rt_fill(o, s, rt_seed(TAG_PUT, (uint64_t) rt_rank, s, 0));
        RT_MPI(MPI_Win_fence(0, win));
        RT_MPI(MPI_Put(o, (int) s, MPI_BYTE, right, 0, (int) s, MPI_BYTE, win));
        RT_MPI(MPI_Win_fence(0, win));
        rt_check(w, s, rt_seed(TAG_PUT, (uint64_t) left, s, 0), "MPI_Win_allocate: put from rank %d", left);
        rt_fill(w, s, rt_seed(TAG_OWN, (uint64_t) rt_rank, s, 0));
        memset(g, 0, s);
        RT_MPI(MPI_Win_fence(0, win));
        RT_MPI(MPI_Get(g, (int) s, MPI_BYTE, right, 0, (int) s, MPI_BYTE, win));
        RT_MPI(MPI_Win_fence(0, win));
        rt_check(g, s, rt_seed(TAG_OWN, (uint64_t) right, s, 0), "MPI_Win_allocate: get from rank %d", right);
    }
    RT_MPI(MPI_Win_lock_all(0, win));
    for (i = 0; i < FOPS; i++) {
        RT_MPI(MPI_Fetch_and_op(&one, &prev, MPI_INT64_T, 0, (MPI_Aint) (len - 8), MPI_SUM, win));
        RT_MPI(MPI_Win_flush(0, win));
    }
    /* The same count with compare-and-swap loops: osc rdma hands the other
     * ranks' operations on rank 0's part to the BTL without a registration
     * (the address being their own mapping of it), and once cma refused
     * them, its fallback lost updates. */
    for (i = 0; i < FOPS; i++) {
        int64_t seen = 0, next, got;
        for (;;) {
            next = seen + 1;
            RT_MPI(MPI_Compare_and_swap(&next, &seen, &got, MPI_INT64_T, 0, (MPI_Aint) (len - 16), win));
            RT_MPI(MPI_Win_flush(0, win));
            if (got == seen)
                break;
            seen = got;
        }
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_rank == 0) {
        RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
        RT_MPI(MPI_Win_sync(win));
        if (*ctr != (int64_t) FOPS * n)
            rt_fail("MPI_Win_allocate: %d ranks x %d fetch-and-add left %lld", n, FOPS, (long long) *ctr);
        if (*ctr2 != (int64_t) FOPS * n)
            rt_fail("MPI_Win_allocate: %d ranks x %d compare-and-swap increments left %lld (lost updates)", n,
                    FOPS, (long long) *ctr2);
        RT_MPI(MPI_Win_unlock(0, win));
    }
    RT_MPI(MPI_Win_free(&win));
    free(o), free(g);
    rt_log("MPI_Win_allocate: fence puts/gets, fetch-and-add and compare-and-swap verified");
}

static void allocate_shared(void)
{
    int n = rt_size, right = (rt_rank + 1) % n, left = (rt_rank + n - 1) % n, du, i;
    /* Sizes differ per rank, so a wrong offset into the segment shows. */
    size_t mine = 65536 + 8 * (size_t) rt_rank, rlen;
    unsigned char *w, *rp, *o = rt_malloc(mine + 8 * (size_t) n), *g = rt_malloc(mine + 8 * (size_t) n);
    MPI_Aint rsize;
    int64_t one = 1, prev;
    MPI_Win win;

    RT_MPI(MPI_Win_allocate_shared((MPI_Aint) mine + 8, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &w, &win));
    RT_MPI(MPI_Win_shared_query(win, right, &rsize, &du, &rp));
    if ((size_t) rsize != 65536 + 8 * (size_t) right + 8 || du != 1)
        rt_fail("MPI_Win_shared_query(rank %d): size %ld, disp unit %d", right, (long) rsize, du);
    rlen = (size_t) rsize - 8;
    memset(w + mine, 0, 8);

    /* Direct stores into the neighbour's segment. */
    RT_MPI(MPI_Win_lock_all(0, win));
    rt_fill(rp, rlen, rt_seed(TAG_STORE, (uint64_t) rt_rank, 0, 0));
    RT_MPI(MPI_Win_sync(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    RT_MPI(MPI_Win_sync(win));
    rt_check(w, mine, rt_seed(TAG_STORE, (uint64_t) left, 0, 0),
             "MPI_Win_allocate_shared: direct stores from rank %d", left);

    /* MPI_Put into the neighbour, MPI_Get it back, and fetch-and-add. */
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    rt_fill(o, rlen, rt_seed(TAG_SHPUT, (uint64_t) rt_rank, 0, 0));
    RT_MPI(MPI_Put(o, (int) rlen, MPI_BYTE, right, 0, (int) rlen, MPI_BYTE, win));
    RT_MPI(MPI_Win_flush(right, win));
    memset(g, 0, rlen);
    RT_MPI(MPI_Get(g, (int) rlen, MPI_BYTE, right, 0, (int) rlen, MPI_BYTE, win));
    RT_MPI(MPI_Win_flush(right, win));
    rt_check(g, rlen, rt_seed(TAG_SHPUT, (uint64_t) rt_rank, 0, 0), "MPI_Win_allocate_shared: read back from %d",
             right);
    for (i = 0; i < FOPS; i++) {
        RT_MPI(MPI_Fetch_and_op(&one, &prev, MPI_INT64_T, 0, (MPI_Aint) 65536, MPI_SUM, win));
        RT_MPI(MPI_Win_flush(0, win));
    }
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, rt_rank, 0, win));
    RT_MPI(MPI_Win_sync(win));
    rt_check(w, mine, rt_seed(TAG_SHPUT, (uint64_t) left, 0, 0), "MPI_Win_allocate_shared: MPI_Put from rank %d",
             left);
    if (rt_rank == 0) {
        int64_t c;

        memcpy(&c, w + 65536, 8);
        if (c != (int64_t) FOPS * n)
            rt_fail("MPI_Win_allocate_shared: %d ranks x %d fetch-and-add left %lld", n, FOPS, (long long) c);
    }
    RT_MPI(MPI_Win_unlock(rt_rank, win));
    RT_MPI(MPI_Win_free(&win));
    free(o), free(g);
    rt_log("MPI_Win_allocate_shared: direct stores, put/get and fetch-and-add verified");
}

int main(int argc, char **argv)
{
    rt_traffic_t traffic;

    rt_init(&argc, &argv, "rma_alloc");
    rt_traffic_begin(&traffic);
    allocate();
    rt_traffic_end(&traffic, "MPI_Win_allocate (reported only)", 0, 0, 0);
    rt_traffic_begin(&traffic);
    allocate_shared();
    rt_traffic_end(&traffic, "MPI_Win_allocate_shared (reported only)", 0, 0, 0);
    return rt_finalize();
}
