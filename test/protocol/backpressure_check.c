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
 *   backpressure_check order N waits
 *                                  the same, and the sender also checks the
 *                                  ring_full counter (default fragment sizes
 *                                  only: a send is at most 2 fragments)
 * (ring_full grew with every progress call that retried a queued send.)
 * Sends that found the ring full were set aside by ob1 and overtaken by
 * later ones (80000 Isends arrived out of order, then hung); queued FINs
 * took a 32 KiB descriptor each (1.5 GB per rank for a 1 MiB message).
 */
#include "counters.h"

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

/* Stream `id` (the sending rank) is message i: sizes[(i + id) % NSIZES]
 * bytes of pattern(i, id, k), tag i. */
static size_t stream_len(long i, int id)
{
    return sizes[(size_t) (i + id) % NSIZES];
}

static unsigned char pattern(long i, int id, size_t k)
{
    return (unsigned char) ((i * 7 + id) * 131 + (long) k * 7 + 1);
}

/* Post n Isends of this rank's stream to dest before waiting for any. */
static void send_stream(int dest, long n)
{
    unsigned char *buf = malloc((size_t) n * LARGEST);
    MPI_Request *req = malloc((size_t) n * sizeof(*req));
    if (!buf || !req) {
        FAIL("out of memory for %ld messages", n);
    }
    for (long i = 0; i < n; ++i) {
        size_t len = stream_len(i, rank);
        unsigned char *b = buf + (size_t) i * LARGEST;
        for (size_t k = 0; k < len; ++k) {
            b[k] = pattern(i, rank, k);
        }
        MPI_Isend(b, (int) len, MPI_BYTE, dest, (int) i, MPI_COMM_WORLD, &req[i]);
    }
    MPI_Waitall((int) n, req, MPI_STATUSES_IGNORE);
    free(buf);
    free(req);
}

/* Receive one message from src (MPI_ANY_SOURCE allowed) with any tag and
 * check it is the next of its sender's stream; next[] counts by sender. */
static void take_next(unsigned char *b, int src, long *next)
{
    MPI_Status st;
    int count;
    MPI_Recv(b, LARGEST, MPI_BYTE, src, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_BYTE, &count);
    int from = st.MPI_SOURCE;
    long i = next[from]++;
    if (st.MPI_TAG != i || (size_t) count != stream_len(i, from)) {
        FAIL("from rank %d, message %ld arrived as tag %d with %d bytes (expected tag %ld, %zu bytes): reordered",
             from, i, st.MPI_TAG, count, i, stream_len(i, from));
    }
    for (size_t k = 0; k < (size_t) count; ++k) {
        if (b[k] != pattern(i, from, k)) {
            FAIL("from rank %d, message %ld byte %zu is %u, expected %u", from, i, k, b[k], pattern(i, from, k));
        }
    }
}

/* send_stream, and then check the ring_full counter: the flood must have
 * waited for room, each waiting fragment counted once.  A 5000-byte
 * message goes out as a rendezvous header and a fragment, each of which
 * may wait: at most 2 per message. */
static void send_stream_counting_waits(int dest, long n)
{
    MPI_T_pvar_session session;
    pt_counter_t full = {.name = "btl_cma_ring_full"};
    uint64_t waited;
    pt_counters_open("backpressure_check", &session, &full, 1);
    send_stream(dest, n);
    pt_counters_read(session, &full, 1, &waited);
    pt_counters_close(&session, &full, 1);
    printf("order: %lu fragments of %ld sends waited for room in the ring\n", (unsigned long) waited, n);
    if (0 == waited || waited > 2 * (uint64_t) n) {
        FAIL("btl_cma_ring_full is %lu after %ld sends into a sleeping receiver (expected 1 to %ld)",
             (unsigned long) waited, n, 2 * n);
    }
}

/* Rank 0 floods rank 1 (order) or every other rank floods rank 0
 * (incast); the receiver sleeps first so that the rings fill and most
 * sends wait in a queue. */
static void flood(long n, int np, int incast, int check_waits)
{
    int receiver = incast ? 0 : 1;
    if (rank != receiver) {
        if (incast || 0 == rank) {
            (check_waits ? send_stream_counting_waits : send_stream)(receiver, n);
        }
        return;
    }
    sleep(1);
    long *next = calloc((size_t) np, sizeof(*next));
    unsigned char *b = malloc(LARGEST);
    long total = incast ? n * (np - 1) : n;
    for (long got = 0; got < total; ++got) {
        take_next(b, incast ? MPI_ANY_SOURCE : 0, next);
    }
    free(b);
    free(next);
    printf("%s: %ld messages from each of %d ranks in order, every byte checked\n", incast ? "incast" : "order",
           n, incast ? np - 1 : 1);
}

static void fins(size_t size, long max_mb)
{
    unsigned char *s = malloc(size), *r = malloc(size);
    if (!s || !r) {
        FAIL("out of memory");
    }
    for (size_t k = 0; k < size; ++k) {
        s[k] = pattern(0, rank, k);
    }
    memset(r, 0, size);
    int peer = 1 - rank;
    MPI_Sendrecv(s, (int) size, MPI_BYTE, peer, 5, r, (int) size, MPI_BYTE, peer, 5, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    for (size_t k = 0; k < size; ++k) {
        if (r[k] != pattern(0, peer, k)) {
            FAIL("byte %zu is %u, expected %u", k, r[k], pattern(0, peer, k));
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
    int provided;
    MPI_T_init_thread(MPI_THREAD_SINGLE, &provided);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int np;
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    if (argc >= 3 && 0 == strcmp(argv[1], "incast")) {
        flood(atol(argv[2]), np, 1, 0);
    } else if (np != 2) {
        FAIL("needs 2 ranks");
    } else if (argc >= 3 && 0 == strcmp(argv[1], "order")) {
        flood(atol(argv[2]), np, 0, argc >= 4 && 0 == strcmp(argv[3], "waits"));
    } else if (argc >= 4 && 0 == strcmp(argv[1], "fins")) {
        fins((size_t) atol(argv[2]), atol(argv[3]));
    } else {
        FAIL("usage: backpressure_check order N [waits] | incast N | fins SIZE MAXMB");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_T_finalize(); /* before MPI_Finalize: after it, Open MPI 4.1.4 crashes */
    MPI_Finalize();
    if (0 == rank) {
        printf("PASS %s\n", argv[1]);
    }
    return 0;
}
