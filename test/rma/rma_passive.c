/*
 * Passive-target one-sided communication on a window from MPI_Win_create
 * over malloc'd memory: exclusive locks (put, flush, read back in the same
 * epoch; and a get-increment-put counter whose exact final value and
 * distinct intermediate values prove mutual exclusion), shared locks
 * (concurrent readers of one window, concurrent writers of disjoint
 * slots), and MPI_Win_lock_all with MPI_Win_flush, MPI_Win_flush_all,
 * MPI_Win_flush_local_all.  Every transfer is verified, and the cma
 * counters must show puts and gets went through cma.
 * Usage: rma_passive [COUNTER_ROUNDS]
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_EXCL = 1, TAG_OWN, TAG_SHARED, TAG_ALL1, TAG_ALL2, TAG_SCRATCH };

static const size_t slot_sizes[] = { 8, 1000, 65541, 1048579 };
#define NSLOTSIZES (sizeof(slot_sizes) / sizeof(slot_sizes[0]))
#define SLOT_MAX 1048579

static unsigned char *wbuf;
static size_t cnt_off; /* the exclusive-lock counter, after the slots */
static uint64_t put_remote, get_remote;

static unsigned char *slot(unsigned char *base, int w, size_t s)
{
    return base + (size_t) w * s;
}

/* Under the unified memory model a process reads its own window after
 * remote updates inside a lock epoch on itself; MPI_Win_sync orders the
 * loads after the remote writes. */
static void verify_own_slots(MPI_Win win, size_t s, int tag, int round)
{
    int w;

    RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, rt_rank, 0, win));
    RT_MPI(MPI_Win_sync(win));
    for (w = 0; w < rt_size; w++)
        rt_check(slot(wbuf, w, s), s, rt_seed((uint64_t) tag, (uint64_t) w, (uint64_t) rt_rank, s + (size_t) round),
                 "tag %d round %d: slot of rank %d in my window", tag, round, w);
    RT_MPI(MPI_Win_unlock(rt_rank, win));
}

static void exclusive_puts(MPI_Win win, size_t s, unsigned char *origin, unsigned char *back)
{
    int i;

    for (i = 0; i < rt_size; i++) {
        int t = (rt_rank + 1 + i) % rt_size;

        rt_fill(origin, s, rt_seed(TAG_EXCL, (uint64_t) rt_rank, (uint64_t) t, s));
        memset(back, 0, s);
        RT_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, t, 0, win));
        RT_MPI(MPI_Put(origin, (int) s, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * s), (int) s, MPI_BYTE, win));
        /* The get must see the put: flush completes it at the target. */
        RT_MPI(MPI_Win_flush(t, win));
        RT_MPI(MPI_Get(back, (int) s, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * s), (int) s, MPI_BYTE, win));
        RT_MPI(MPI_Win_unlock(t, win));
        rt_check(back, s, rt_seed(TAG_EXCL, (uint64_t) rt_rank, (uint64_t) t, s),
                 "exclusive lock: read back my put from rank %d", t);
        if (t != rt_rank) {
            put_remote += s;
            get_remote += s;
        }
    }
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    verify_own_slots(win, s, TAG_EXCL, 0);
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

/* Without mutual exclusion two ranks read the same value and one
 * increment is lost; the values each rank read must also be distinct. */
static void exclusive_counter(MPI_Win win, int rounds)
{
    int64_t *seen = rt_malloc(sizeof(int64_t) * (size_t) rounds), *all = NULL, v, fin;
    int i;

    for (i = 0; i < rounds; i++) {
        RT_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        RT_MPI(MPI_Get(&v, 1, MPI_INT64_T, 0, (MPI_Aint) cnt_off, 1, MPI_INT64_T, win));
        RT_MPI(MPI_Win_flush(0, win));
        seen[i] = v++;
        RT_MPI(MPI_Put(&v, 1, MPI_INT64_T, 0, (MPI_Aint) cnt_off, 1, MPI_INT64_T, win));
        RT_MPI(MPI_Win_unlock(0, win));
        if (i && seen[i] <= seen[i - 1])
            rt_fail("exclusive counter: read %lld after %lld: my own increment was lost",
                    (long long) seen[i], (long long) seen[i - 1]);
    }
    if (rt_rank)
        get_remote += 8 * (uint64_t) rounds, put_remote += 8 * (uint64_t) rounds;
    if (rt_rank == 0)
        all = rt_malloc(sizeof(int64_t) * (size_t) rounds * (size_t) rt_size);
    RT_MPI(MPI_Gather(seen, rounds, MPI_INT64_T, all, rounds, MPI_INT64_T, 0, MPI_COMM_WORLD));
    if (rt_rank == 0) {
        RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
        RT_MPI(MPI_Win_sync(win));
        memcpy(&fin, wbuf + cnt_off, sizeof(fin));
        RT_MPI(MPI_Win_unlock(0, win));
        if (fin != (int64_t) rounds * rt_size)
            rt_fail("exclusive counter: %d ranks x %d increments ended at %lld, expected %lld", rt_size, rounds,
                    (long long) fin, (long long) rounds * rt_size);
        qsort(all, (size_t) rounds * (size_t) rt_size, sizeof(int64_t), cmp_i64);
        for (i = 0; i < rounds * rt_size; i++)
            if (all[i] != i)
                rt_fail("exclusive counter: the values read are not 0..%d each once (position %d holds %lld)",
                        rounds * rt_size - 1, i, (long long) all[i]);
        free(all);
    }
    free(seen);
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    rt_log("exclusive lock: %d x %d get-increment-put rounds on rank 0 exact", rt_size, rounds);
}

static void shared_locks(MPI_Win win, size_t s, unsigned char *origin, unsigned char *back)
{
    int i;

    /* Every rank publishes slot 0 of its own window, then all read all
     * windows at the same time under shared locks. */
    RT_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rt_rank, 0, win));
    rt_fill(wbuf, s, rt_seed(TAG_OWN, (uint64_t) rt_rank, 0, s));
    RT_MPI(MPI_Win_sync(win));
    RT_MPI(MPI_Win_unlock(rt_rank, win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    for (i = 0; i < rt_size; i++) {
        int t = (rt_rank + 1 + i) % rt_size;

        memset(back, 0, s);
        RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, t, 0, win));
        RT_MPI(MPI_Get(back, (int) s, MPI_BYTE, t, 0, (int) s, MPI_BYTE, win));
        RT_MPI(MPI_Win_unlock(t, win));
        rt_check(back, s, rt_seed(TAG_OWN, (uint64_t) t, 0, s), "shared lock: window of rank %d", t);
        if (t != rt_rank)
            get_remote += s;
    }
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    /* Concurrent writers under shared locks, each to its own slot. */
    for (i = 0; i < rt_size; i++) {
        int t = (rt_rank + 1 + i) % rt_size;

        rt_fill(origin, s, rt_seed(TAG_SHARED, (uint64_t) rt_rank, (uint64_t) t, s));
        RT_MPI(MPI_Win_lock(MPI_LOCK_SHARED, t, 0, win));
        RT_MPI(MPI_Put(origin, (int) s, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * s), (int) s, MPI_BYTE, win));
        RT_MPI(MPI_Win_unlock(t, win));
        if (t != rt_rank)
            put_remote += s;
    }
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    verify_own_slots(win, s, TAG_SHARED, 0);
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

static void lock_all(MPI_Win win, size_t s, unsigned char *origins, unsigned char *backs)
{
    int t;

    RT_MPI(MPI_Win_lock_all(0, win));
    for (t = 0; t < rt_size; t++) {
        rt_fill(slot(origins, t, s), s, rt_seed(TAG_ALL1, (uint64_t) rt_rank, (uint64_t) t, s));
        RT_MPI(MPI_Put(slot(origins, t, s), (int) s, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * s), (int) s,
                       MPI_BYTE, win));
    }
    /* Per-target flush, then read back while the other puts may still be
     * in flight. */
    memset(backs, 0, s * (size_t) rt_size);
    for (t = 0; t < rt_size; t++) {
        RT_MPI(MPI_Win_flush(t, win));
        RT_MPI(MPI_Get(slot(backs, t, s), (int) s, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * s), (int) s,
                       MPI_BYTE, win));
    }
    RT_MPI(MPI_Win_flush_all(win));
    for (t = 0; t < rt_size; t++) {
        rt_check(slot(backs, t, s), s, rt_seed(TAG_ALL1, (uint64_t) rt_rank, (uint64_t) t, s),
                 "lock_all: read back my put from rank %d after MPI_Win_flush", t);
        if (t != rt_rank)
            put_remote += s, get_remote += s;
    }
    /* flush_local_all lets the origin buffers be overwritten; what lands
     * must be what they held when the puts were issued. */
    for (t = 0; t < rt_size; t++) {
        rt_fill(slot(origins, t, s), s, rt_seed(TAG_ALL2, (uint64_t) rt_rank, (uint64_t) t, s + 1));
        RT_MPI(MPI_Put(slot(origins, t, s), (int) s, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * s), (int) s,
                       MPI_BYTE, win));
        if (t != rt_rank)
            put_remote += s;
    }
    RT_MPI(MPI_Win_flush_local_all(win));
    rt_fill(origins, s * (size_t) rt_size, rt_seed(TAG_SCRATCH, (uint64_t) rt_rank, 0, s));
    RT_MPI(MPI_Win_flush_all(win));
    RT_MPI(MPI_Win_unlock_all(win));
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    verify_own_slots(win, s, TAG_ALL2, 1);
    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

int main(int argc, char **argv)
{
    unsigned char *origin, *back;
    rt_traffic_t traffic;
    int rounds = 200;
    size_t win_len, k;
    MPI_Win win;

    rt_init(&argc, &argv, "rma_passive");
    if (argc > 1)
        rounds = (int) rt_parse_long(argv[1], "COUNTER_ROUNDS");
    cnt_off = (size_t) rt_size * SLOT_MAX;
    cnt_off = (cnt_off + 7) & ~(size_t) 7;
    win_len = cnt_off + 64;
    wbuf = rt_malloc(win_len);
    memset(wbuf, 0, win_len);
    origin = rt_malloc((size_t) rt_size * SLOT_MAX);
    back = rt_malloc((size_t) rt_size * SLOT_MAX);
    RT_MPI(MPI_Win_create(wbuf, (MPI_Aint) win_len, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));

    rt_traffic_begin(&traffic);
    for (k = 0; k < NSLOTSIZES; k++) {
        exclusive_puts(win, slot_sizes[k], origin, back);
        shared_locks(win, slot_sizes[k], origin, back);
        lock_all(win, slot_sizes[k], origin, back);
        rt_log("%zu-byte slots: exclusive, shared and lock_all epochs verified", slot_sizes[k]);
    }
    exclusive_counter(win, rounds);
    rt_traffic_end(&traffic, "passive target", RT_PUT | RT_GET, put_remote, get_remote);

    RT_MPI(MPI_Win_free(&win));
    free(wbuf);
    free(origin);
    free(back);
    return rt_finalize();
}
