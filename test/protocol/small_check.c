/*
 * The small ring (btl_cma_small_min..btl_cma_small_max, see
 * src/btl_cma/btl_cma_channel.h), proven through MPI_T: a message one byte
 * below small_min and one byte above small_max goes through the large
 * ring, one at each bound through the small ring; a window of 1 KiB
 * messages overflows the small ring into the large one; a stream of mixed
 * sizes switches rings back and forth.  Every byte of every message is
 * verified, and the receives of each stream share one tag, so MPI's order
 * is checked as well.  The PML's header length is measured (ring bytes of
 * a 0-byte message), not assumed.
 *   small_check SMALL_MIN SMALL_MAX   (the values given to the component)
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"

static MPI_T_pvar_session session;
static pt_counter_t counters[] = {
    {"btl_cma_ring_sends", 0}, {"btl_cma_ring_bytes", 0}, {"btl_cma_small_ring_sends", 0}};
enum { RING_SENDS, RING_BYTES, SMALL_SENDS, NCOUNTERS };

#define FAIL(...) pt_fail("small_check", __VA_ARGS__)

static int rank;
static unsigned char *buf;

/* Rank 0 sends one message of n bytes (rank 1 verifies it and answers with
 * 0 bytes); returns rank 0's counter deltas of the send alone. */
static void one_message(size_t n, unsigned seed, uint64_t *d)
{
    uint64_t before[NCOUNTERS], after[NCOUNTERS];
    MPI_Barrier(MPI_COMM_WORLD);
    pt_counters_read(session, counters, NCOUNTERS, before);
    if (rank == 0) {
        pt_fill(buf, n, seed);
        MPI_Send(buf, (int) n, MPI_BYTE, 1, 5, MPI_COMM_WORLD);
        pt_counters_read(session, counters, NCOUNTERS, after);
        MPI_Recv(NULL, 0, MPI_BYTE, 1, 6, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
        memset(buf, 0, n + 1);
        MPI_Recv(buf, (int) n, MPI_BYTE, 0, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        pt_verify("small_check", buf, n, seed);
        MPI_Send(NULL, 0, MPI_BYTE, 0, 6, MPI_COMM_WORLD);
        pt_counters_read(session, counters, NCOUNTERS, after);
    }
    for (int i = 0; i < NCOUNTERS; ++i) {
        d[i] = after[i] - before[i];
    }
}

/* count messages from rank 0 to rank 1, at most window in flight, sizes
 * from size_of; returns rank 0's small-ring sends. */
static uint64_t stream(int count, int window, size_t (*size_of)(int), unsigned seed)
{
    MPI_Request req[64];
    uint64_t before[NCOUNTERS], after[NCOUNTERS];
    size_t off[64];
    MPI_Barrier(MPI_COMM_WORLD);
    pt_counters_read(session, counters, NCOUNTERS, before);
    for (int base = 0; base < count; base += window) {
        int k = count - base < window ? count - base : window;
        size_t o = 0;
        for (int i = 0; i < k; ++i) {
            size_t n = size_of(base + i);
            off[i] = o;
            if (rank == 0) {
                pt_fill(buf + o, n, seed + (unsigned) (base + i));
                MPI_Isend(buf + o, (int) n, MPI_BYTE, 1, 7, MPI_COMM_WORLD, &req[i]);
            } else {
                memset(buf + o, 0, n);
                MPI_Irecv(buf + o, (int) n, MPI_BYTE, 0, 7, MPI_COMM_WORLD, &req[i]);
            }
            o += n;
        }
        MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
        if (rank == 1) {
            for (int i = 0; i < k; ++i) {
                pt_verify("small_check", buf + off[i], size_of(base + i), seed + (unsigned) (base + i));
            }
        }
    }
    pt_counters_read(session, counters, NCOUNTERS, after);
    MPI_Barrier(MPI_COMM_WORLD);
    return after[SMALL_SENDS] - before[SMALL_SENDS];
}

static size_t one_kib(int i)
{
    (void) i;
    return 1024;
}

static size_t mixed(int i)
{
    uint32_t x = (uint32_t) i * 2654435761u;
    return (x >> 7) % 4 == 0 ? (x >> 11) % 4097 : (x >> 11) % 1200;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: small_check SMALL_MIN SMALL_MAX\n");
        return 2;
    }
    size_t small_min = strtoull(argv[1], NULL, 0), small_max = strtoull(argv[2], NULL, 0);
    rank = pt_init("small_check", &argc, &argv, &session, counters, NCOUNTERS);
    buf = malloc(64 * 4200);

    uint64_t d[NCOUNTERS];
    one_message(0, 1, d);
    size_t hdr = (size_t) d[RING_BYTES];
    if (rank == 0 && (d[RING_SENDS] != 1 || hdr == 0 || hdr >= small_min)) {
        FAIL("a 0-byte message made %llu ring messages of %zu bytes in all", (unsigned long long) d[RING_SENDS],
             hdr);
    }
    MPI_Bcast(&hdr, sizeof(hdr), MPI_BYTE, 0, MPI_COMM_WORLD);

    /* Around both bounds: (MPI bytes, expected through the small ring). */
    struct {
        size_t n;
        int small;
    } cases[] = {{small_min - hdr - 1, 0}, {small_min - hdr, 1}, {small_min - hdr + 1, 1},
                 {small_max - hdr - 1, 1}, {small_max - hdr, 1},  {small_max - hdr + 1, 0}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        one_message(cases[c].n, 100 + (unsigned) c, d);
        if (rank == 0 && (d[RING_SENDS] != 1 || d[SMALL_SENDS] != (uint64_t) cases[c].small)) {
            FAIL("%zu-byte message (%zu with the PML header; small ring %zu..%zu): %llu ring messages, %llu "
                 "through the small ring, expected 1 and %d",
                 cases[c].n, cases[c].n + hdr, small_min, small_max, (unsigned long long) d[RING_SENDS],
                 (unsigned long long) d[SMALL_SENDS], cases[c].small);
        }
    }

    /* Windows of 64 x 1 KiB: the small ring holds a few of each window,
     * the large ring the rest. */
    uint64_t s = stream(640, 64, one_kib, 1000);
    if (rank == 0 && (s == 0 || s >= 640)) {
        FAIL("640 windowed 1 KiB messages: %llu through the small ring, expected some but not all",
             (unsigned long long) s);
    }
    if (rank == 0) {
        printf("windowed 1 KiB: %llu of 640 through the small ring\n", (unsigned long long) s);
    }
    /* Mixed sizes 0..4 KiB: the rings switch back and forth. */
    s = stream(4000, 16, mixed, 5000);
    if (rank == 0) {
        printf("mixed sizes: %llu of 4000 through the small ring\n", (unsigned long long) s);
        if (s == 0) {
            FAIL("no mixed-size message went through the small ring");
        }
    }

    pt_counters_close(&session, counters, NCOUNTERS);
    MPI_T_finalize(); /* before MPI_Finalize: see protocol_check.c */
    free(buf);
    MPI_Finalize();
    if (rank == 0) {
        printf("small_check %zu %zu: ok\n", small_min, small_max);
    }
    return 0;
}
