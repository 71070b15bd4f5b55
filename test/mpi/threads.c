/*
 * threads: MPI_THREAD_MULTIPLE traffic.  Each rank runs 4 threads that
 * exchange verified messages concurrently, thread t always using tag t.  In
 * round k thread t talks to rank (me xor m) with m = (t + k) mod (P-1) + 1,
 * P being np rounded up to a power of two; the choice is symmetric, so both
 * ends agree without coordination, and within a round some threads share a
 * peer (same peer, different tags) while others talk to different peers.
 * Sizes cycle from 0 B to 4 MiB so eager and rendezvous transfers of
 * several threads interleave in the transport.  Rounds alternate blocking
 * MPI_Sendrecv and Irecv/Isend/Waitall.  The test fails clearly when the
 * library does not provide MPI_THREAD_MULTIPLE.
 *
 * Options: -r ROUNDS (per thread, default 200).
 */
#include "mpitest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 4
#define GUARD 64
#define PH_THREADS 61

static const size_t sizes[] = { 0, 8, 1000, 4097, 65537, (1 << 20) + 3, 12, (4 << 20) + 1, 33000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAXSIZE ((4 << 20) + 1)

static int rounds = 200;
static int pow2;

struct thread_arg {
    int t;
    pthread_t id;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    int t = a->t, k;
    unsigned char *sbuf = mt_malloc(MAXSIZE);
    unsigned char *rbuf = mt_malloc(MAXSIZE + GUARD);

    for (k = 0; k < rounds; k++) {
        int peer = mt_rank ^ ((t + k) % (pow2 - 1) + 1);
        size_t s = sizes[(size_t) (t + k) % NSIZES];
        uint64_t out = mt_seed(PH_THREADS, ((uint64_t) mt_rank << 20) | (uint64_t) peer, (uint64_t) t, (uint64_t) k);
        uint64_t in = mt_seed(PH_THREADS, ((uint64_t) peer << 20) | (uint64_t) mt_rank, (uint64_t) t, (uint64_t) k);
        MPI_Status st;
        int count;

        if (peer >= mt_size)
            continue;
        mt_fill(sbuf, s, out);
        mt_guard_set(rbuf + s, GUARD);
        if (k % 2 == 0) {
            MT_MPI(MPI_Sendrecv(sbuf, (int) s, MPI_BYTE, peer, t, rbuf, (int) (s + GUARD), MPI_BYTE,
                                peer, t, MPI_COMM_WORLD, &st));
        } else {
            MPI_Request req[2];
            MPI_Status sts[2];

            MT_MPI(MPI_Irecv(rbuf, (int) s, MPI_BYTE, peer, t, MPI_COMM_WORLD, &req[0]));
            MT_MPI(MPI_Isend(sbuf, (int) s, MPI_BYTE, peer, t, MPI_COMM_WORLD, &req[1]));
            MT_MPI(MPI_Waitall(2, req, sts));
            st = sts[0];
        }
        MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
        if ((size_t) count != s || st.MPI_TAG != t || st.MPI_SOURCE != peer)
            mt_fail("thread %d round %d: status source %d tag %d count %d, expected %d %d %zu",
                    t, k, st.MPI_SOURCE, st.MPI_TAG, count, peer, t, s);
        mt_check(rbuf, s, in, "thread %d round %d (%s) from rank %d", t, k,
                 k % 2 ? "Isend/Irecv" : "Sendrecv", peer);
        mt_guard_check(rbuf + s, GUARD, s, "threaded receive");
    }
    free(sbuf);
    free(rbuf);
    return NULL;
}

int main(int argc, char **argv)
{
    struct thread_arg args[NTHREADS];
    int opt, t, rc;

    mt_init(&argc, &argv, "threads", MPI_THREAD_MULTIPLE);
    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg);
        else
            mt_fail("usage: threads [-r rounds]");
    }
    if (mt_size < 2)
        mt_fail("needs at least 2 ranks");
    for (pow2 = 2; pow2 < mt_size; pow2 <<= 1)
        ;
    mt_log("%d threads per rank, %d rounds each", NTHREADS, rounds);
    for (t = 0; t < NTHREADS; t++) {
        args[t].t = t;
        rc = pthread_create(&args[t].id, NULL, thread_main, &args[t]);
        if (rc)
            mt_fail("pthread_create: %s", strerror(rc));
    }
    for (t = 0; t < NTHREADS; t++)
        pthread_join(args[t].id, NULL);
    return mt_finalize();
}
