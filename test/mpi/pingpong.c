/*
 * pingpong: point-to-point data integrity over every message size from 0 B
 * to the maximum (64 MiB by default): each power of two and its neighbours
 * +-1, so every eager/rendezvous/fragment boundary a BTL may have is hit
 * from both sides.  Ranks meet in a round-robin tournament (every pair of
 * ranks talks once; with an odd count one rank sits each round out) and run
 * blocking ping-pong (Send/Recv), simultaneous nonblocking exchange
 * (Isend/Irecv), windows of up to 64 outstanding messages on one tag,
 * receives posted only after the message arrived (unexpected path), and
 * finally a ring Sendrecv over all ranks at once.  Every received byte is
 * verified, as are guard bytes past each message and the send buffers.
 *
 * Options: -m MAX (largest size, default 64m), -w CAP (bytes a window may
 * span, default MAX), -r ROUNDS (tournament rounds to run, default all),
 * -n REPS (repeats of each size up to 64 KiB, default 3).
 */
#include "mpitest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PH_PING = 1, PH_PONG, PH_XCHG, PH_WIN, PH_LATE, PH_RING };
enum { TAG_DATA = 11, TAG_WIN = 12, TAG_LATE = 13, TAG_GO = 14, TAG_RING = 15 };

#define GUARD 64          /* guard bytes checked past every received message */
#define WINDOW 64         /* outstanding messages per window */
#define SMALL_REPEAT_MAX (64 * 1024)

static size_t max_size = (size_t) 64 << 20;
static size_t window_cap;
static int max_rounds = -1;
static int small_reps = 3;

static unsigned char *sbuf, *rbuf;
static size_t *sizes;
static int nsizes;

/* 0, then 2^k - 1, 2^k, 2^k + 1 for every k up to max_size. */
static void make_sizes(void)
{
    size_t p;

    sizes = mt_malloc(sizeof(*sizes) * 3 * 70);
    nsizes = 0;
    sizes[nsizes++] = 0;
    for (p = 1; p <= max_size; p <<= 1) {
        if (p - 1 > sizes[nsizes - 1])
            sizes[nsizes++] = p - 1;
        if (p > sizes[nsizes - 1])
            sizes[nsizes++] = p;
        if (p + 1 <= max_size)
            sizes[nsizes++] = p + 1;
    }
}

static uint64_t seed_of(int phase, int src, int dst, size_t size, unsigned idx)
{
    return mt_seed((uint64_t) phase, ((uint64_t) src << 20) | (uint64_t) dst, size, idx);
}

/* Partner of rank me in tournament round r by the circle method over an even
 * number of players; a partner >= mt_size means a bye this round. */
static int partner(int r, int me)
{
    int n = mt_size + (mt_size & 1);

    if (me == n - 1)
        return r;
    if (me == r)
        return n - 1;
    return ((2 * r - me) % (n - 1) + (n - 1)) % (n - 1);
}

static void recv_checked(size_t size, int src, int tag, uint64_t seed, const char *what)
{
    MPI_Status st;
    int count;

    mt_guard_set(rbuf + size, GUARD);
    /* Post more room than the message needs: the transport must still write
     * exactly size bytes and report that count. */
    MT_MPI(MPI_Recv(rbuf, (int) (size + GUARD), MPI_BYTE, src, tag, MPI_COMM_WORLD, &st));
    MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
    if ((size_t) count != size)
        mt_fail("%s from %d: MPI_Get_count says %d bytes, sent %zu", what, src, count, size);
    mt_check(rbuf, size, seed, "%s from rank %d", what, src);
    mt_guard_check(rbuf + size, GUARD, size, what);
}

static void phase_pingpong(int round, int peer)
{
    int i, rep, me = mt_rank, first = me < peer;

    for (i = 0; i < nsizes; i++) {
        size_t s = sizes[i];
        int reps = s <= SMALL_REPEAT_MAX ? small_reps : 1;

        for (rep = 0; rep < reps; rep++) {
            unsigned idx = (unsigned) (round << 8 | rep);

            if (first) {
                mt_fill(sbuf, s, seed_of(PH_PING, me, peer, s, idx));
                MT_MPI(MPI_Send(sbuf, (int) s, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD));
                recv_checked(s, peer, TAG_DATA, seed_of(PH_PONG, peer, me, s, idx), "blocking pong");
            } else {
                recv_checked(s, peer, TAG_DATA, seed_of(PH_PING, peer, me, s, idx), "blocking ping");
                mt_fill(sbuf, s, seed_of(PH_PONG, me, peer, s, idx));
                MT_MPI(MPI_Send(sbuf, (int) s, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD));
            }
        }
    }
}

/* Both sides send at once with the receive posted first, then check that the
 * transport left the send buffer alone. */
static void phase_exchange(int round, int peer)
{
    int i, rep, me = mt_rank;

    for (i = 0; i < nsizes; i++) {
        size_t s = sizes[i];
        int reps = s <= SMALL_REPEAT_MAX ? small_reps : 1;

        for (rep = 0; rep < reps; rep++) {
            unsigned idx = (unsigned) (round << 8 | rep);
            uint64_t out = seed_of(PH_XCHG, me, peer, s, idx);
            MPI_Request req[2];
            size_t bad;

            mt_guard_set(rbuf + s, GUARD);
            MT_MPI(MPI_Irecv(rbuf, (int) s, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD, &req[0]));
            mt_fill(sbuf, s, out);
            MT_MPI(MPI_Isend(sbuf, (int) s, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD, &req[1]));
            MT_MPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
            mt_check(rbuf, s, seed_of(PH_XCHG, peer, me, s, idx), "nonblocking exchange from rank %d", peer);
            mt_guard_check(rbuf + s, GUARD, s, "nonblocking exchange");
            bad = mt_find_error(sbuf, s, out);
            if (bad != (size_t) -1)
                mt_fail("nonblocking exchange to rank %d: message size %zu bytes: send "
                        "buffer modified at offset %zu", peer, s, bad);
        }
    }
}

/* Up to 64 messages in flight each way on one tag: the i-th receive must get
 * the i-th send (MPI's non-overtaking rule), which the per-slot seeds check. */
static void phase_window(int round, int peer)
{
    static const size_t wsizes[] = { 1, 64, 1023, 4096, 4097, 32769, 65536,
                                     262145, 1048575, 4194305, 16777216 };
    MPI_Request req[2 * WINDOW];
    int me = mt_rank;
    size_t k;

    for (k = 0; k < sizeof(wsizes) / sizeof(wsizes[0]); k++) {
        size_t s = wsizes[k], nwin = window_cap / s, i;

        if (s > max_size)
            break;
        if (nwin > WINDOW)
            nwin = WINDOW;
        if (nwin < 2)
            continue;
        for (i = 0; i < nwin; i++)
            MT_MPI(MPI_Irecv(rbuf + i * s, (int) s, MPI_BYTE, peer, TAG_WIN, MPI_COMM_WORLD, &req[i]));
        for (i = 0; i < nwin; i++) {
            unsigned idx = (unsigned) (round << 8 | i);

            mt_fill(sbuf + i * s, s, seed_of(PH_WIN, me, peer, s, idx));
            MT_MPI(MPI_Isend(sbuf + i * s, (int) s, MPI_BYTE, peer, TAG_WIN, MPI_COMM_WORLD,
                             &req[nwin + i]));
        }
        MT_MPI(MPI_Waitall((int) (2 * nwin), req, MPI_STATUSES_IGNORE));
        for (i = 0; i < nwin; i++)
            mt_check(rbuf + i * s, s, seed_of(PH_WIN, peer, me, s, (unsigned) (round << 8 | i)),
                     "window of %zu from rank %d, slot %zu", nwin, peer, i);
    }
}

/* The receiver matches a later message first, so the data message is
 * already waiting (eager data or a rendezvous request queued as unexpected)
 * when its receive is finally posted. */
static void phase_late(int round, int peer)
{
    static const size_t lsizes[] = { 1, 4096, 4097, 65537, 1048577, 16777217 };
    int me = mt_rank, dir;
    size_t k;

    for (k = 0; k < sizeof(lsizes) / sizeof(lsizes[0]); k++) {
        size_t s = lsizes[k];

        if (s > max_size)
            break;
        for (dir = 0; dir < 2; dir++) {
            int sender = (dir == 0) == (me < peer);

            if (sender) {
                MPI_Request req;

                mt_fill(sbuf, s, seed_of(PH_LATE, me, peer, s, (unsigned) round));
                MT_MPI(MPI_Isend(sbuf, (int) s, MPI_BYTE, peer, TAG_LATE, MPI_COMM_WORLD, &req));
                MT_MPI(MPI_Send(NULL, 0, MPI_BYTE, peer, TAG_GO, MPI_COMM_WORLD));
                MT_MPI(MPI_Wait(&req, MPI_STATUS_IGNORE));
            } else {
                MT_MPI(MPI_Recv(NULL, 0, MPI_BYTE, peer, TAG_GO, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
                /* Give a rendezvous request time to land before posting. */
                usleep(1000);
                recv_checked(s, peer, TAG_LATE, seed_of(PH_LATE, peer, me, s, (unsigned) round),
                             "late-posted receive");
            }
        }
    }
}

/* Everybody sends right and receives from the left at the same time. */
static void phase_ring(void)
{
    static const size_t rsizes[] = { 0, 1, 4095, 4097, 65537, 1048577, 8388609 };
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
    size_t k;

    for (k = 0; k < sizeof(rsizes) / sizeof(rsizes[0]); k++) {
        size_t s = rsizes[k];
        MPI_Status st;
        int count;

        if (s > max_size)
            break;
        mt_fill(sbuf, s, seed_of(PH_RING, mt_rank, right, s, 0));
        mt_guard_set(rbuf + s, GUARD);
        MT_MPI(MPI_Sendrecv(sbuf, (int) s, MPI_BYTE, right, TAG_RING,
                            rbuf, (int) (s + GUARD), MPI_BYTE, left, TAG_RING, MPI_COMM_WORLD, &st));
        MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
        if ((size_t) count != s)
            mt_fail("ring Sendrecv from %d: MPI_Get_count says %d bytes, sent %zu", left, count, s);
        mt_check(rbuf, s, seed_of(PH_RING, left, mt_rank, s, 0), "ring Sendrecv from rank %d", left);
        mt_guard_check(rbuf + s, GUARD, s, "ring Sendrecv");
    }
}

int main(int argc, char **argv)
{
    int opt, round, nrounds;
    size_t bufsize;

    mt_init(&argc, &argv, "pingpong", MPI_THREAD_SINGLE);
    while ((opt = getopt(argc, argv, "m:w:r:n:")) != -1) {
        switch (opt) {
        case 'm': max_size = mt_parse_size(optarg); break;
        case 'w': window_cap = mt_parse_size(optarg); break;
        case 'r': max_rounds = atoi(optarg); break;
        case 'n': small_reps = atoi(optarg); break;
        default: mt_fail("usage: pingpong [-m max] [-w window-cap] [-r rounds] [-n reps]");
        }
    }
    if (max_size > (size_t) 1 << 30)
        mt_fail("-m %zu: sizes must fit an int count; use the big test for more", max_size);
    if (window_cap == 0)
        window_cap = max_size;
    if (mt_size < 2)
        mt_fail("needs at least 2 ranks");
    make_sizes();
    bufsize = (max_size > window_cap ? max_size : window_cap) + GUARD;
    sbuf = mt_malloc(bufsize);
    rbuf = mt_malloc(bufsize);

    nrounds = mt_size + (mt_size & 1) - 1;
    if (max_rounds >= 0 && max_rounds < nrounds)
        nrounds = max_rounds;
    mt_log("%d sizes 0..%zu, %d tournament round(s), window cap %zu", nsizes, max_size,
           nrounds, window_cap);

    for (round = 0; round < nrounds; round++) {
        int peer = partner(round, mt_rank);

        if (peer < mt_size) {
            mt_log("round %d: blocking ping-pong", round);
            phase_pingpong(round, peer);
            mt_log("round %d: nonblocking exchange", round);
            phase_exchange(round, peer);
            mt_log("round %d: windows of %d", round, WINDOW);
            phase_window(round, peer);
            mt_log("round %d: late-posted receives", round);
            phase_late(round, peer);
        }
        /* Keep rounds apart so a pair cannot run into the next round while
         * its next partner is still busy: easier to read a failure's log. */
        MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    }
    mt_log("ring Sendrecv");
    phase_ring();

    free(sbuf);
    free(rbuf);
    free(sizes);
    return mt_finalize();
}
