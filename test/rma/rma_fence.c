/*
 * Active-target one-sided communication with fence epochs on a window
 * made by MPI_Win_create over malloc'd memory: MPI_Put and MPI_Get of 0 B
 * to 16 MiB (every power of two and odd sizes, aligned and unaligned
 * target displacements) between ring neighbours, an epoch where every rank
 * writes a slot of every window (itself included) and reads another rank's
 * slot back, and a burst of many small puts in one epoch.  Every byte
 * written, every byte around it that must stay untouched, and every byte
 * read is verified, and the cma counters must show the data went through
 * cma.  Usage: rma_fence [MAX_BYTES]
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

#define GUARD 64
#define BURST 512
#define BURST_LEN 24

enum { TAG_PUT = 1, TAG_GET, TAG_SLOT, TAG_BURST };

static unsigned char guard_byte(int k, int r)
{
    /* Differs per round, so bytes left from an earlier round are caught. */
    return (unsigned char) (((unsigned) k * 37u + (unsigned) r * 11u) | 1u);
}

static void check_guard(const unsigned char *p, size_t len, unsigned char g, const char *what, size_t size)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (p[i] != g)
            rt_fail("%s (%zu-byte transfer): byte %zu of the untouched area changed to 0x%02x", what, size, i,
                    p[i]);
}

int main(int argc, char **argv)
{
    static const size_t odd[] = { 3, 7, 13, 127, 1000, 4097, 65537, 262143, 1048573, 3000001 };
    size_t max = 16u << 20, sizes[64], offs[64], nsizes = 0, s, k, win_len, slot_max = 262147;
    static const size_t chunks[] = { 1, 8, 1000, 4099, 65536, 262147 };
    uint64_t put_remote = 0, get_remote = 0;
    unsigned char *wbuf, *obuf, *gbuf;
    rt_traffic_t traffic;
    int right, left, t;
    MPI_Win win;

    rt_init(&argc, &argv, "rma_fence");
    if (argc > 1)
        max = (size_t) rt_parse_long(argv[1], "MAX_BYTES");
    sizes[nsizes] = 0, offs[nsizes++] = 0;
    for (s = 1; s <= max; s *= 2)
        sizes[nsizes] = s, offs[nsizes++] = 0;
    /* Odd sizes land at odd displacements, and the largest transfer once
     * more one byte off alignment, since copy paths treat alignment
     * specially. */
    for (k = 0; k < sizeof(odd) / sizeof(odd[0]); k++)
        if (odd[k] <= max)
            sizes[nsizes] = odd[k], offs[nsizes++] = 3 + k * 2;
    sizes[nsizes] = max, offs[nsizes++] = 1;
    win_len = max + 64 + GUARD;
    if (win_len < (size_t) rt_size * slot_max)
        win_len = (size_t) rt_size * slot_max;
    if (win_len < BURST * BURST_LEN + GUARD)
        win_len = BURST * BURST_LEN + GUARD;

    wbuf = rt_malloc(win_len);
    obuf = rt_malloc(max + 64);
    gbuf = rt_malloc(max + GUARD + 64);
    memset(wbuf, 0, win_len);
    RT_MPI(MPI_Win_create(wbuf, (MPI_Aint) win_len, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    right = (rt_rank + 1) % rt_size;
    left = (rt_rank + rt_size - 1) % rt_size;

    rt_traffic_begin(&traffic);
    RT_MPI(MPI_Win_fence(MPI_MODE_NOPRECEDE, win));
    for (k = 0; k < nsizes; k++) {
        size_t size = sizes[k], off = offs[k];
        unsigned char g = guard_byte((int) k, rt_rank);

        /* Put: our window gets the left neighbour's data at off, with our
         * guard byte all around it. */
        memset(wbuf, g, off + size + GUARD);
        rt_fill(obuf, size, rt_seed(TAG_PUT, (uint64_t) rt_rank, (uint64_t) right, k));
        RT_MPI(MPI_Win_fence(0, win));
        RT_MPI(MPI_Put(obuf, (int) size, MPI_BYTE, right, (MPI_Aint) off, (int) size, MPI_BYTE, win));
        RT_MPI(MPI_Win_fence(0, win));
        check_guard(wbuf, off, g, "MPI_Put: before the target area", size);
        rt_check(wbuf + off, size, rt_seed(TAG_PUT, (uint64_t) left, (uint64_t) rt_rank, k),
                 "MPI_Put from rank %d at displacement %zu", left, off);
        check_guard(wbuf + off + size, GUARD, g, "MPI_Put: after the target area", size);

        /* Get: we read the right neighbour's own data into a guarded
         * buffer. */
        rt_fill(wbuf + off, size, rt_seed(TAG_GET, (uint64_t) rt_rank, 0, k));
        memset(gbuf, g, size + GUARD);
        RT_MPI(MPI_Win_fence(0, win));
        RT_MPI(MPI_Get(gbuf, (int) size, MPI_BYTE, right, (MPI_Aint) off, (int) size, MPI_BYTE, win));
        RT_MPI(MPI_Win_fence(0, win));
        rt_check(gbuf, size, rt_seed(TAG_GET, (uint64_t) right, 0, k), "MPI_Get from rank %d at displacement %zu",
                 right, off);
        check_guard(gbuf + size, GUARD, g, "MPI_Get: after the origin buffer", size);
        if (right != rt_rank) {
            put_remote += size;
            get_remote += size;
        }
    }
    rt_log("puts and gets of %zu sizes from 0 to %zu bytes verified", nsizes, max);

    /* Every rank writes slot `rank` of every window in one epoch, then
     * reads from every window the slot the next rank wrote there: many
     * targets and origins in flight at once, data read back remotely. */
    for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        size_t c = chunks[k];
        /* One origin area per target: an origin buffer may not be reused
         * before the epoch ends. */
        unsigned char *origin = rt_malloc(c * (size_t) rt_size);

        for (t = 0; t < rt_size; t++) {
            rt_fill(origin + (size_t) t * c, c, rt_seed(TAG_SLOT, (uint64_t) rt_rank, (uint64_t) t, c));
            RT_MPI(MPI_Put(origin + (size_t) t * c, (int) c, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * c), (int) c,
                           MPI_BYTE, win));
            if (t != rt_rank)
                put_remote += c;
        }
        RT_MPI(MPI_Win_fence(0, win));
        for (t = 0; t < rt_size; t++)
            rt_check(wbuf + (size_t) t * c, c, rt_seed(TAG_SLOT, (uint64_t) t, (uint64_t) rt_rank, c),
                     "all-to-all epoch: slot of rank %d", t);
        memset(origin, 0, c * (size_t) rt_size);
        /* The epoch that follows only reads windows: the assertions let
         * the implementation skip work, and must not change results. */
        RT_MPI(MPI_Win_fence(MPI_MODE_NOSTORE | MPI_MODE_NOPUT, win));
        for (t = 0; t < rt_size; t++) {
            RT_MPI(MPI_Get(origin + (size_t) t * c, (int) c, MPI_BYTE, t, (MPI_Aint) ((size_t) right * c), (int) c,
                           MPI_BYTE, win));
            if (t != rt_rank)
                get_remote += c;
        }
        RT_MPI(MPI_Win_fence(0, win));
        for (t = 0; t < rt_size; t++)
            rt_check(origin + (size_t) t * c, c, rt_seed(TAG_SLOT, (uint64_t) right, (uint64_t) t, c),
                     "all-to-all epoch: slot %d read back from rank %d", right, t);
        free(origin);
    }
    rt_log("all-to-all epochs verified");

    /* Many small puts in flight in one epoch, to consecutive places. */
    rt_fill(obuf, BURST * BURST_LEN, rt_seed(TAG_BURST, (uint64_t) rt_rank, 0, 0));
    memset(wbuf, 0, BURST * BURST_LEN + GUARD);
    RT_MPI(MPI_Win_fence(0, win));
    for (k = 0; k < BURST; k++)
        RT_MPI(MPI_Put(obuf + k * BURST_LEN, BURST_LEN, MPI_BYTE, right, (MPI_Aint) (k * BURST_LEN), BURST_LEN,
                       MPI_BYTE, win));
    if (right != rt_rank)
        put_remote += BURST * BURST_LEN;
    RT_MPI(MPI_Win_fence(MPI_MODE_NOSUCCEED, win));
    rt_check(wbuf, BURST * BURST_LEN, rt_seed(TAG_BURST, (uint64_t) left, 0, 0), "burst of %d puts", BURST);
    check_guard(wbuf + BURST * BURST_LEN, GUARD, 0, "burst of puts: after the target area", BURST * BURST_LEN);
    rt_log("burst of %d puts of %d bytes verified", BURST, BURST_LEN);

    rt_traffic_end(&traffic, "fence epochs", RT_PUT | RT_GET, put_remote, get_remote);
    RT_MPI(MPI_Win_free(&win));
    free(wbuf);
    free(obuf);
    free(gbuf);
    return rt_finalize();
}
