/*
 * oversub: collective traffic with more ranks than cores (8 ranks on this
 * 2-core machine), where every rank busy-polls and progress depends on the
 * scheduler handing the cores around.  A loop of MPI_Alltoall (every block
 * verified) and a loop of MPI_Barrier must both finish, and together within
 * a bound; the times are printed so the effect of the cma component's yield
 * policy (btl_cma_yield_idle, also printed) can be compared between runs.
 *
 * Usage: oversub [-a ALLTOALL_ITERS] [-b BLOCK_BYTES] [-B BARRIERS] [-T BOUND_SECONDS]
 * Exit status 1 when a block is wrong or the loops took longer than the bound.
 */
#include "stress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The effective value of an integer or boolean control variable, or -999
 * if absent.  For btl_cma_yield_idle that is the value the component
 * settled on at start-up (it replaces -1 by 64 or 0). */
static int cvar_int(const char *name)
{
    int n, value = -999, count;
    union {
        int i;
        long long ll;
        char raw[16];
    } v;
    MPI_T_cvar_get_num(&n);
    for (int i = 0; i < n; ++i) {
        char nm[256], desc[1024];
        int nl = sizeof(nm), dl = sizeof(desc), verb, bind, scope;
        MPI_Datatype dt;
        MPI_T_enum en;
        if (MPI_T_cvar_get_info(i, nm, &nl, &verb, &dt, &en, desc, &dl, &bind, &scope) != MPI_SUCCESS ||
            strcmp(nm, name) != 0) {
            continue;
        }
        MPI_T_cvar_handle h;
        memset(&v, 0, sizeof(v));
        if (MPI_T_cvar_handle_alloc(i, NULL, &h, &count) == MPI_SUCCESS) {
            if (MPI_T_cvar_read(h, &v) == MPI_SUCCESS) {
                /* bool, int or long: all read as the low bytes on x86-64 */
                value = v.i;
            }
            MPI_T_cvar_handle_free(&h);
        }
        break;
    }
    return value;
}

int main(int argc, char **argv)
{
    int iters = 200, barriers = 2000, opt;
    size_t block = 4096;
    double bound = 60.0;

    st_init(&argc, &argv, "oversub");
    while ((opt = getopt(argc, argv, "a:b:B:T:")) != -1) {
        switch (opt) {
        case 'a': iters = atoi(optarg); break;
        case 'b': block = st_parse_size(optarg); break;
        case 'B': barriers = atoi(optarg); break;
        case 'T': bound = atof(optarg); break;
        default: st_fail("usage: oversub [-a iters] [-b block] [-B barriers] [-T bound_s]");
        }
    }
    if (block == 0 || block > ((size_t) 1 << 24) || iters < 1 || barriers < 1) {
        st_fail("block must be 1 B..16 MiB, counts positive");
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    st_log("%d ranks on %ld online cores; btl_cma_yield_idle = %d, mpi_yield_when_idle = %d", st_size, ncpu,
           cvar_int("btl_cma_yield_idle"), cvar_int("mpi_yield_when_idle"));
    unsigned char *sbuf = st_malloc_touched(block * (size_t) st_size);
    unsigned char *rbuf = st_malloc_touched(block * (size_t) st_size);

    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = st_now();
    for (int it = 0; it < iters; ++it) {
        for (int d = 0; d < st_size; ++d) {
            st_fill(sbuf + (size_t) d * block, block, st_seed(7, (uint64_t) it, (uint64_t) st_rank, (uint64_t) d, 0));
        }
        memset(rbuf, 0, block * (size_t) st_size);
        MPI_Alltoall(sbuf, (int) block, MPI_BYTE, rbuf, (int) block, MPI_BYTE, MPI_COMM_WORLD);
        for (int s = 0; s < st_size; ++s) {
            long long bad = st_check(rbuf + (size_t) s * block, block,
                                     st_seed(7, (uint64_t) it, (uint64_t) s, (uint64_t) st_rank, 0));
            if (bad >= 0) {
                st_fail("alltoall iteration %d: block from rank %d wrong at byte %lld", it, s, bad);
            }
        }
    }
    double t1 = st_now();
    for (int i = 0; i < barriers; ++i) {
        MPI_Barrier(MPI_COMM_WORLD);
    }
    double t2 = st_now();

    double mine[3] = {t1 - t0, t2 - t1, t2 - t0}, worst[3];
    MPI_Reduce(mine, worst, 3, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    int status = 0;
    if (st_rank == 0) {
        printf("oversub: %d x MPI_Alltoall of %zu B per pair: %.2f s (%.2f ms each); %d x MPI_Barrier: %.2f s "
               "(%.1f us each); total %.2f s, bound %.0f s\n",
               iters, block, worst[0], 1e3 * worst[0] / iters, barriers, worst[1], 1e6 * worst[1] / barriers,
               worst[2], bound);
        if (worst[2] > bound) {
            printf("oversub: FAIL: %.2f s is over the bound of %.0f s\n", worst[2], bound);
            status = 1;
        } else {
            printf("oversub: PASS\n");
        }
        fflush(stdout);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(sbuf);
    free(rbuf);
    return st_finalize(status);
}
