/*
 * Dynamic windows: MPI_Win_create_dynamic, memory attached with
 * MPI_Win_attach, its address published with MPI_Get_address and
 * MPI_Allgather or MPI_Bcast and used as the target displacement.  Puts
 * and gets into two attached regions of the right neighbour (one at an odd
 * offset, one of 1 MiB + 3), fetch-and-add on a counter inside an
 * attached region, then a region detached and a new one attached and
 * reached through an address broadcast from rank 0.  Every byte is
 * verified, and the cma counters must show puts, gets and atomics.
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_A = 1, TAG_B, TAG_C, TAG_OWN };

#define A_LEN 4099
#define B_LEN (1048576 + 3)
#define C_LEN 65537
#define FOPS 1000

int main(int argc, char **argv)
{
    int n, right, left, i;
    unsigned char *a, *b, *c, *o, *g;
    int64_t *ctr, one = 1, prev;
    MPI_Aint addr[2], *all, caddr;
    uint64_t put_remote = 0, get_remote = 0;
    rt_traffic_t traffic;
    MPI_Win win;

    rt_init(&argc, &argv, "rma_dynamic");
    n = rt_size, right = (rt_rank + 1) % n, left = (rt_rank + n - 1) % n;
    a = rt_malloc(A_LEN + 16);
    b = rt_malloc(B_LEN);
    o = rt_malloc(B_LEN);
    g = rt_malloc(B_LEN);
    all = rt_malloc(sizeof(MPI_Aint) * 2 * (size_t) n);
    memset(a, 0, A_LEN + 16);
    rt_fill(b, B_LEN, rt_seed(TAG_OWN, (uint64_t) rt_rank, 0, 0));
    /* The counter sits in the tail of region a, 8-byte aligned. */
    ctr = (int64_t *) (a + ((A_LEN + 7) & ~(size_t) 7));
    RT_MPI(MPI_Win_create_dynamic(MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    RT_MPI(MPI_Win_attach(win, a, A_LEN + 16));
    RT_MPI(MPI_Win_attach(win, b, B_LEN));
    RT_MPI(MPI_Get_address(a, &addr[0]));
    RT_MPI(MPI_Get_address(b, &addr[1]));
    RT_MPI(MPI_Allgather(addr, 2, MPI_AINT, all, 2, MPI_AINT, MPI_COMM_WORLD));

    rt_traffic_begin(&traffic);
    RT_MPI(MPI_Win_lock_all(0, win));
    /* Read the right neighbour's region b before anyone overwrites it. */
    memset(g, 0, B_LEN);
    RT_MPI(MPI_Get(g, B_LEN, MPI_BYTE, right, all[2 * right + 1], B_LEN, MPI_BYTE, win));
    RT_MPI(MPI_Win_flush(right, win));
    rt_check(g, B_LEN, rt_seed(TAG_OWN, (uint64_t) right, 0, 0), "dynamic window: get of region b of rank %d",
             right);
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    rt_fill(o, A_LEN - 5, rt_seed(TAG_A, (uint64_t) rt_rank, 0, 0));
    RT_MPI(MPI_Put(o, A_LEN - 5, MPI_BYTE, right, all[2 * right] + 5, A_LEN - 5, MPI_BYTE, win));
    rt_fill(g, B_LEN, rt_seed(TAG_B, (uint64_t) rt_rank, 0, 0));
    RT_MPI(MPI_Put(g, B_LEN, MPI_BYTE, right, all[2 * right + 1], B_LEN, MPI_BYTE, win));
    RT_MPI(MPI_Win_flush(right, win));
    memset(o, 0, B_LEN);
    RT_MPI(MPI_Get(o, B_LEN, MPI_BYTE, right, all[2 * right + 1], B_LEN, MPI_BYTE, win));
    RT_MPI(MPI_Win_flush(right, win));
    rt_check(o, B_LEN, rt_seed(TAG_B, (uint64_t) rt_rank, 0, 0), "dynamic window: read back region b of rank %d",
             right);
    for (i = 0; i < FOPS; i++) {
        RT_MPI(MPI_Fetch_and_op(&one, &prev, MPI_INT64_T, 0, all[0] + ((char *) ctr - (char *) a), MPI_SUM, win));
        RT_MPI(MPI_Win_flush(0, win));
    }
    RT_MPI(MPI_Win_unlock_all(win));
    if (right != rt_rank)
        put_remote += A_LEN - 5 + B_LEN, get_remote += 2 * (uint64_t) B_LEN;
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    RT_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rt_rank, 0, win));
    RT_MPI(MPI_Win_sync(win));
    rt_check(a + 5, A_LEN - 5, rt_seed(TAG_A, (uint64_t) left, 0, 0), "dynamic window: region a written by rank %d",
             left);
    for (i = 0; i < 5; i++)
        if (a[i])
            rt_fail("dynamic window: byte %d of region a, before the put's offset, was overwritten", i);
    rt_check(b, B_LEN, rt_seed(TAG_B, (uint64_t) left, 0, 0), "dynamic window: region b written by rank %d", left);
    if (rt_rank == 0 && *ctr != (int64_t) FOPS * n)
        rt_fail("dynamic window: %d ranks x %d fetch-and-add left %lld", n, FOPS, (long long) *ctr);
    RT_MPI(MPI_Win_unlock(rt_rank, win));
    rt_log("dynamic window: puts, gets and fetch-and-add into attached regions verified");

    /* Replace region a with a new region c; rank 0 broadcasts the address
     * of its c, every rank writes its slot there. */
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    RT_MPI(MPI_Win_detach(win, a));
    free(a);
    c = rt_malloc(C_LEN * (size_t) n);
    memset(c, 0, C_LEN * (size_t) n);
    RT_MPI(MPI_Win_attach(win, c, C_LEN * (size_t) n));
    RT_MPI(MPI_Get_address(c, &caddr));
    RT_MPI(MPI_Bcast(&caddr, 1, MPI_AINT, 0, MPI_COMM_WORLD));
    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
    rt_fill(o, C_LEN, rt_seed(TAG_C, (uint64_t) rt_rank, 0, 0));
    RT_MPI(MPI_Put(o, C_LEN, MPI_BYTE, 0, caddr + (MPI_Aint) rt_rank * C_LEN, C_LEN, MPI_BYTE, win));
    RT_MPI(MPI_Win_unlock(0, win));
    if (rt_rank)
        put_remote += C_LEN;
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_rank == 0) {
        RT_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        RT_MPI(MPI_Win_sync(win));
        for (i = 0; i < n; i++)
            rt_check(c + (size_t) i * C_LEN, C_LEN, rt_seed(TAG_C, (uint64_t) i, 0, 0),
                     "dynamic window: newly attached region, slot of rank %d", i);
        RT_MPI(MPI_Win_unlock(0, win));
    }
    rt_log("dynamic window: detach, attach and a broadcast address verified");
    rt_traffic_end(&traffic, "dynamic window", RT_PUT | RT_GET | RT_ATOMIC, put_remote, get_remote);

    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    RT_MPI(MPI_Win_detach(win, b));
    RT_MPI(MPI_Win_detach(win, c));
    RT_MPI(MPI_Win_free(&win));
    free(b), free(c), free(o), free(g), free(all);
    return rt_finalize();
}
