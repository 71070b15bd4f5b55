/*
 * collectives: MPI_Bcast (several roots), MPI_Allreduce (sum of ints and of
 * doubles, also in place), MPI_Alltoall and MPI_Allgather at sizes from a
 * few bytes to several MiB, each result verified exactly.  Open MPI's
 * collectives are built on the point-to-point layer, so they drive the BTL
 * with many-peer traffic patterns (trees, pairwise exchanges, rings) that
 * the pair tests do not.  Allreduce inputs are chosen so every sum is exact
 * in any reduction order: integers, and doubles that are multiples of 1/4
 * far below 2^53.
 *
 * Options: -m MAX (cap on the largest per-rank buffer, default 16m),
 * -n ITERS (passes over everything, each with new data; default 3).
 */
#include "mpitest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PH_BCAST = 51, PH_A2A, PH_AGATHER };
#define GUARD 64

static size_t max_bytes = (size_t) 16 << 20;
static int iters = 3;
static int iter;   /* current pass, folded into every seed and value */

static void test_bcast(void)
{
    static const size_t sizes[] = { 1, 1000, 4097, 65537, (1 << 20) + 3, (8 << 20) + 1 };
    int roots[3] = { 0, mt_size - 1, mt_size / 2 }, r;
    unsigned char *buf = mt_malloc(max_bytes + GUARD);
    size_t k;

    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && sizes[k] <= max_bytes; k++) {
        size_t s = sizes[k];

        for (r = 0; r < 3; r++) {
            uint64_t seed = mt_seed(PH_BCAST, (uint64_t) roots[r], s, (uint64_t) (iter << 8 | r));

            if (mt_rank == roots[r])
                mt_fill(buf, s, seed);
            else
                mt_guard_set(buf, s);
            mt_guard_set(buf + s, GUARD);
            MT_MPI(MPI_Bcast(buf, (int) s, MPI_BYTE, roots[r], MPI_COMM_WORLD));
            mt_check(buf, s, seed, "MPI_Bcast from root %d", roots[r]);
            mt_guard_check(buf + s, GUARD, s, "MPI_Bcast");
        }
    }
    free(buf);
}

static void test_allreduce(void)
{
    static const size_t counts[] = { 1, 1000, 65536 + 3, (1 << 20) + 1 };
    long long n = mt_size;
    size_t k, i;

    for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        size_t c = counts[k];
        int *in, *out;
        double *din, *dout;
        int inplace;

        if (c * sizeof(double) > max_bytes)
            break;
        in = mt_malloc(c * sizeof(int));
        out = mt_malloc(c * sizeof(int));
        din = mt_malloc(c * sizeof(double));
        dout = mt_malloc(c * sizeof(double));
        for (inplace = 0; inplace < 2; inplace++) {
            for (i = 0; i < c; i++) {
                in[i] = (mt_rank + 1) * (int) (i % 1000 + 1) + (int) i + iter;
                din[i] = (mt_rank + 1) * 0.25 + (double) (i % 4096) * 0.5 + iter;
            }
            if (inplace) {
                memcpy(out, in, c * sizeof(int));
                memcpy(dout, din, c * sizeof(double));
                MT_MPI(MPI_Allreduce(MPI_IN_PLACE, out, (int) c, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
                MT_MPI(MPI_Allreduce(MPI_IN_PLACE, dout, (int) c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
            } else {
                MT_MPI(MPI_Allreduce(in, out, (int) c, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
                MT_MPI(MPI_Allreduce(din, dout, (int) c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
            }
            mt_corrupt_hook(out, c * sizeof(int));
            for (i = 0; i < c; i++) {
                long long want = n * (n + 1) / 2 * (long long) (i % 1000 + 1) +
                                 n * (long long) i + n * iter;

                if (out[i] != want)
                    mt_fail("MPI_Allreduce(MPI_INT, MPI_SUM%s) of %zu ints: element %zu is %d, "
                            "expected %lld", inplace ? ", in place" : "", c, i, out[i], want);
            }
            for (i = 0; i < c; i++) {
                double want = (double) (n * (n + 1) / 2) * 0.25 +
                              (double) n * ((double) (i % 4096) * 0.5 + iter);

                if (dout[i] != want)
                    mt_fail("MPI_Allreduce(MPI_DOUBLE, MPI_SUM%s) of %zu doubles: element %zu "
                            "is %.17g, expected %.17g", inplace ? ", in place" : "", c, i, dout[i], want);
            }
        }
        free(in);
        free(out);
        free(din);
        free(dout);
    }
}

static void test_alltoall(void)
{
    static const size_t blocks[] = { 1, 100, 4097, 65537, (512 << 10) + 1 };
    size_t k;
    int p;

    for (k = 0; k < sizeof(blocks) / sizeof(blocks[0]); k++) {
        size_t b = blocks[k], total = b * (size_t) mt_size;
        unsigned char *sbuf, *rbuf;

        if (total > max_bytes)
            break;
        sbuf = mt_malloc(total);
        rbuf = mt_malloc(total + GUARD);
        for (p = 0; p < mt_size; p++)
            mt_fill(sbuf + (size_t) p * b, b, mt_seed(PH_A2A, (uint64_t) mt_rank, (uint64_t) p, b + ((uint64_t) iter << 40)));
        mt_guard_set(rbuf, total + GUARD);
        MT_MPI(MPI_Alltoall(sbuf, (int) b, MPI_BYTE, rbuf, (int) b, MPI_BYTE, MPI_COMM_WORLD));
        for (p = 0; p < mt_size; p++)
            mt_check(rbuf + (size_t) p * b, b, mt_seed(PH_A2A, (uint64_t) p, (uint64_t) mt_rank, b + ((uint64_t) iter << 40)),
                     "MPI_Alltoall block from rank %d", p);
        mt_guard_check(rbuf + total, GUARD, total, "MPI_Alltoall");
        free(sbuf);
        free(rbuf);
    }
}

static void test_allgather(void)
{
    static const size_t blocks[] = { 1, 1000, 4097, 65537, (1 << 20) + 1 };
    size_t k;
    int p;

    for (k = 0; k < sizeof(blocks) / sizeof(blocks[0]); k++) {
        size_t b = blocks[k], total = b * (size_t) mt_size;
        unsigned char *sbuf, *rbuf;

        if (total > max_bytes)
            break;
        sbuf = mt_malloc(b);
        rbuf = mt_malloc(total + GUARD);
        mt_fill(sbuf, b, mt_seed(PH_AGATHER, (uint64_t) mt_rank, b, (uint64_t) iter));
        mt_guard_set(rbuf, total + GUARD);
        MT_MPI(MPI_Allgather(sbuf, (int) b, MPI_BYTE, rbuf, (int) b, MPI_BYTE, MPI_COMM_WORLD));
        for (p = 0; p < mt_size; p++)
            mt_check(rbuf + (size_t) p * b, b, mt_seed(PH_AGATHER, (uint64_t) p, b, (uint64_t) iter),
                     "MPI_Allgather block from rank %d", p);
        mt_guard_check(rbuf + total, GUARD, total, "MPI_Allgather");
        free(sbuf);
        free(rbuf);
    }
}

int main(int argc, char **argv)
{
    int opt;

    mt_init(&argc, &argv, "collectives", MPI_THREAD_SINGLE);
    while ((opt = getopt(argc, argv, "m:n:")) != -1) {
        if (opt == 'm')
            max_bytes = mt_parse_size(optarg);
        else if (opt == 'n')
            iters = atoi(optarg);
        else
            mt_fail("usage: collectives [-m max] [-n iterations]");
    }
    for (iter = 0; iter < iters; iter++) {
        mt_log("pass %d: MPI_Bcast", iter);
        test_bcast();
        mt_log("pass %d: MPI_Allreduce", iter);
        test_allreduce();
        mt_log("pass %d: MPI_Alltoall", iter);
        test_alltoall();
        mt_log("pass %d: MPI_Allgather", iter);
        test_allgather();
    }
    return mt_finalize();
}
