/*
 * What a full ring must not do to a stream of sends: reorder it, lose it,
 * or take memory out of proportion to it.  Usage:
 *   backpressure_check order N     rank 0 posts N MPI_Isends (8 bytes, 1 KiB
 *                                  and 5000 bytes in turn, tag = index) before
 *                                  rank 1, asleep for a second, receives any
 *                                  of them; rank 1 then takes them with
 *                                  MPI_ANY_TAG and checks that message i has
 *                                  tag i and its bytes, in posting order
 *                                  (MPI's non-overtaking rule)
 *   backpressure_check incast N    every rank but 0 posts N MPI_Isends to rank 0
 *                                  (same sizes and tags) while rank 0 sleeps;
 *                                  rank 0 takes them with MPI_ANY_SOURCE and
 *                                  MPI_ANY_TAG and checks each source's
 *                                  stream in order, every byte
 *   backpressure_check fins SIZE MAXMB
 *                                  both ranks exchange one SIZE-byte message
 *                                  (run with a tiny btl_cma_get_limit, so
 *                                  the receiver sends one small FIN per
 *                                  read, far more than the ring holds) and
 *                                  check the bytes and that no rank grew
 *                                  past MAXMB MiB of resident memory
 * Sends that found the ring full were set aside by ob1 and overtaken by
 * later ones (80000 Isends arrived out of order, then hung); queued FINs
 * took a 32 KiB descriptor each (1.5 GB per rank for a 1 MiB message).
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int rank;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "backpressure_check rank %d: FAIL: ", rank);                               \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        MPI_Abort(MPI_COMM_WORLD, 1);                                                              \
    } while (0)

static const size_t sizes[] = {8, 1024, 5000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define LARGEST 5000

static unsigned char pattern(long i, size_t k)
{
    return (unsigned char) (i * 131 + (long) k * 7 + 1);
}

static void order(long n)
{
    if (0 == rank) {
        unsigned char *buf = malloc((size_t) n * LARGEST);
        MPI_Request *req = malloc((size_t) n * sizeof(*req));
        if (!buf || !req) {
            FAIL("out of memory for %ld messages", n);
        }
        for (long i = 0; i < n; ++i) {
            size_t len = sizes[i % NSIZES];
            unsigned char *b = buf + (size_t) i * LARGEST;
            for (size_t k = 0; k < len; ++k) {
                b[k] = pattern(i, k);
            }
            MPI_Isend(b, (int) len, MPI_BYTE, 1, (int) i, MPI_COMM_WORLD, &req[i]);
        }
        MPI_Waitall((int) n, req, MPI_STATUSES_IGNORE);
        free(buf);
        free(req);
        return;
    }
    sleep(1); /* let the sender fill the ring and queue the rest */
    unsigned char *b = malloc(LARGEST);
    for (long i = 0; i < n; ++i) {
        MPI_Status st;
        int count;
        MPI_Recv(b, LARGEST, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        MPI_Get_count(&st, MPI_BYTE, &count);
        if (st.MPI_TAG != i || (size_t) count != sizes[i % NSIZES]) {
            FAIL("message %ld arrived as tag %d with %d bytes (expected tag %ld, %zu bytes): reordered", i,
                 st.MPI_TAG, count, i, sizes[i % NSIZES]);
        }
        for (size_t k = 0; k < (size_t) count; ++k) {
            if (b[k] != pattern(i, k)) {
                FAIL("message %ld byte %zu is %u, expected %u", i, k, b[k], pattern(i, k));
            }
        }
    }
    free(b);
    printf("order: %ld messages in order, every byte checked\n", n);
}

static void incast(long n, int np)
{
    if (0 != rank) {
        unsigned char *buf = malloc((size_t) n * LARGEST);
        MPI_Request *req = malloc((size_t) n * sizeof(*req));
        if (!buf || !req) {
            FAIL("out of memory for %ld messages", n);
        }
        for (long i = 0; i < n; ++i) {
            size_t len = sizes[(i + rank) % NSIZES];
            unsigned char *b = buf + (size_t) i * LARGEST;
            for (size_t k = 0; k < len; ++k) {
                b[k] = pattern(i * 7 + rank, k);
            }
            MPI_Isend(b, (int) len, MPI_BYTE, 0, (int) i, MPI_COMM_WORLD, &req[i]);
        }
        MPI_Waitall((int) n, req, MPI_STATUSES_IGNORE);
        free(buf);
        free(req);
        return;
    }
    sleep(1);
    long *next = calloc((size_t) np, sizeof(*next));
    unsigned char *b = malloc(LARGEST);
    for (long got = 0; got < n * (np - 1); ++got) {
        MPI_Status st;
        int count, src;
        MPI_Recv(b, LARGEST, MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        MPI_Get_count(&st, MPI_BYTE, &count);
        src = st.MPI_SOURCE;
        long i = next[src]++;
        if (st.MPI_TAG != i || (size_t) count != sizes[(i + src) % NSIZES]) {
            FAIL("from rank %d, message %ld arrived as tag %d with %d bytes (expected tag %ld, %zu bytes): "
                 "reordered",
                 src, i, st.MPI_TAG, count, i, sizes[(i + src) % NSIZES]);
        }
        for (size_t k = 0; k < (size_t) count; ++k) {
            if (b[k] != pattern(i * 7 + src, k)) {
                FAIL("from rank %d, message %ld byte %zu is %u, expected %u", src, i, k, b[k],
                     pattern(i * 7 + src, k));
            }
        }
    }
    free(b);
    free(next);
    printf("incast: %ld messages from each of %d ranks in order, every byte checked\n", n, np - 1);
}

static void fins(size_t size, long max_mb)
{
    unsigned char *s = malloc(size), *r = malloc(size);
    if (!s || !r) {
        FAIL("out of memory");
    }
    for (size_t k = 0; k < size; ++k) {
        s[k] = pattern(rank, k);
    }
    memset(r, 0, size);
    int peer = 1 - rank;
    MPI_Sendrecv(s, (int) size, MPI_BYTE, peer, 5, r, (int) size, MPI_BYTE, peer, 5, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    for (size_t k = 0; k < size; ++k) {
        if (r[k] != pattern(peer, k)) {
            FAIL("byte %zu is %u, expected %u", k, r[k], pattern(peer, k));
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long mb = ru.ru_maxrss / 1024;
    printf("fins: rank %d exchanged %zu bytes, max resident %ld MiB (limit %ld)\n", rank, size, mb, max_mb);
    if (mb > max_mb) {
        FAIL("resident memory grew to %ld MiB for a %zu-byte exchange (limit %ld MiB)", mb, size, max_mb);
    }
    free(s);
    free(r);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int np;
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    if (argc >= 3 && 0 == strcmp(argv[1], "incast")) {
        incast(atol(argv[2]), np);
    } else if (np != 2) {
        FAIL("needs 2 ranks");
    } else if (argc >= 3 && 0 == strcmp(argv[1], "order")) {
        order(atol(argv[2]));
    } else if (argc >= 4 && 0 == strcmp(argv[1], "fins")) {
        fins((size_t) atol(argv[2]), atol(argv[3]));
    } else {
        FAIL("usage: backpressure_check order N | incast N | fins SIZE MAXMB");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    if (0 == rank) {
        printf("PASS %s\n", argv[1]);
    }
    return 0;
}
