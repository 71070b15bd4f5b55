/*
 * rma_bench: one-sided MPI latency and bandwidth between two ranks, in the
 * manner of the OSU micro-benchmarks, so compare.sh can set the cma BTL
 * against vader under Open MPI's osc rdma.  It owns the measurement only:
 * rank 0 is the origin, rank 1 the passive target (waiting in a barrier,
 * which is where its progress engine serves the atomics both BTLs execute
 * on the target).  Tests: put_lat, get_lat (one MPI_Put/MPI_Get then
 * MPI_Win_flush, like osu_put_latency / osu_get_latency with -s flush),
 * fop_lat (MPI_Fetch_and_op on a 64-bit integer then flush, like
 * osu_fop_latency), put_bw, get_bw (64 operations of one size then one
 * flush, like osu_put_bw / osu_get_bw), and put_busy, get_busy, fop_busy:
 * the latency test while the target computes for BUSY_MS without calling
 * MPI, which shows whether an operation needs the target's progress (the
 * rings and both BTLs' atomics do; process_vm_readv/writev do not).
 * Output: one "TEST SIZE VALUE"
 * line per measurement, microseconds for latency, MB/s (10^6 B/s) for
 * bandwidth.  Run "rma_bench -h" for the options.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 64
#define BUSY_MS 50
#define BUSY_ITERS 200

enum sync_mode { SYNC_FLUSH, SYNC_LOCK };

static int rank;
static enum sync_mode sync_mode = SYNC_FLUSH;

static void die(const char *msg)
{
    fprintf(stderr, "rma_bench: %s\n", msg);
    MPI_Abort(MPI_COMM_WORLD, 2);
    exit(2);
}

static void check(int rc, const char *what)
{
    if (rc != MPI_SUCCESS)
        die(what);
}

/* Enough repetitions for a stable average without letting the 4 MiB
 * cases dominate the run time. */
static long lat_iters(size_t size, double scale)
{
    long n = size <= 4096 ? 20000 : size <= 65536 ? 5000 : size <= 1048576 ? 500 : 100;

    n = (long) (n * scale);
    return n < 5 ? 5 : n;
}

static long bw_iters(size_t size, double scale)
{
    long n = size <= 8192 ? 1000 : size <= 262144 ? 100 : size <= 1048576 ? 20 : 8;

    n = (long) (n * scale);
    return n < 2 ? 2 : n;
}

typedef enum { OP_PUT, OP_GET, OP_FOP } op_t;

static void issue(op_t op, void *buf, size_t size, MPI_Win win)
{
    static const int64_t one = 1;

    switch (op) {
    case OP_PUT:
        check(MPI_Put(buf, (int) size, MPI_BYTE, 1, 0, (int) size, MPI_BYTE, win), "MPI_Put");
        break;
    case OP_GET:
        check(MPI_Get(buf, (int) size, MPI_BYTE, 1, 0, (int) size, MPI_BYTE, win), "MPI_Get");
        break;
    case OP_FOP:
        check(MPI_Fetch_and_op(&one, buf, MPI_INT64_T, 1, 0, MPI_SUM, win), "MPI_Fetch_and_op");
        break;
    }
}

/* Latency: with SYNC_FLUSH one lock_all epoch around the loop and a flush
 * after every operation; with SYNC_LOCK a lock/unlock around each. */
static double latency(op_t op, void *buf, size_t size, long iters, MPI_Win win)
{
    long warm = iters / 10 + 2, i;
    double t0 = 0;

    if (sync_mode == SYNC_FLUSH)
        check(MPI_Win_lock_all(0, win), "MPI_Win_lock_all");
    for (i = -warm; i < iters; i++) {
        if (i == 0)
            t0 = MPI_Wtime();
        if (sync_mode == SYNC_LOCK)
            check(MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, win), "MPI_Win_lock");
        issue(op, buf, size, win);
        if (sync_mode == SYNC_LOCK)
            check(MPI_Win_unlock(1, win), "MPI_Win_unlock");
        else
            check(MPI_Win_flush(1, win), "MPI_Win_flush");
    }
    t0 = MPI_Wtime() - t0;
    if (sync_mode == SYNC_FLUSH)
        check(MPI_Win_unlock_all(win), "MPI_Win_unlock_all");
    return t0 * 1e6 / (double) iters;
}

/* Bandwidth: WINDOW operations of one size, one flush (or unlock). As in
 * the OSU tests every operation uses the same origin and target area. */
static double bandwidth(op_t op, void *buf, size_t size, long iters, MPI_Win win)
{
    long warm = iters / 10 + 1, i;
    int j;
    double t0 = 0;

    if (sync_mode == SYNC_FLUSH)
        check(MPI_Win_lock_all(0, win), "MPI_Win_lock_all");
    for (i = -warm; i < iters; i++) {
        if (i == 0)
            t0 = MPI_Wtime();
        if (sync_mode == SYNC_LOCK)
            check(MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, win), "MPI_Win_lock");
        for (j = 0; j < WINDOW; j++)
            issue(op, buf, size, win);
        if (sync_mode == SYNC_LOCK)
            check(MPI_Win_unlock(1, win), "MPI_Win_unlock");
        else
            check(MPI_Win_flush(1, win), "MPI_Win_flush");
    }
    t0 = MPI_Wtime() - t0;
    if (sync_mode == SYNC_FLUSH)
        check(MPI_Win_unlock_all(win), "MPI_Win_unlock_all");
    return (double) size * WINDOW * (double) iters / t0 / 1e6;
}

/* The target spins without entering MPI for BUSY_MS; the origin's
 * BUSY_ITERS operations either finish meanwhile (independent progress) or
 * wait for the target's next MPI call. */
static double busy_latency(op_t op, void *buf, size_t size, MPI_Win win)
{
    double v = 0, t0;
    long i;

    if (rank == 1) {
        t0 = MPI_Wtime();
        while (MPI_Wtime() - t0 < BUSY_MS / 1000.0)
            ;
        return 0;
    }
    check(MPI_Win_lock_all(0, win), "MPI_Win_lock_all");
    t0 = MPI_Wtime();
    for (i = 0; i < BUSY_ITERS; i++) {
        issue(op, buf, size, win);
        check(MPI_Win_flush(1, win), "MPI_Win_flush");
    }
    v = (MPI_Wtime() - t0) * 1e6 / BUSY_ITERS;
    check(MPI_Win_unlock_all(win), "MPI_Win_unlock_all");
    return v;
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);

    if (end == s)
        die("bad size");
    if (*end == 'k' || *end == 'K')
        v <<= 10;
    else if (*end == 'm' || *end == 'M')
        v <<= 20;
    return (size_t) v;
}

static void usage(void)
{
    if (rank == 0)
        printf("usage: rma_bench [-t TESTS] [-m MAX] [-x SCALE] [-s flush|lock] [-w create|allocate]\n"
               "  -t  comma list of put_lat,get_lat,fop_lat,put_bw,get_bw,put_busy,get_busy,fop_busy\n"
               "      (default all)\n"
               "  -m  largest size (default 4M; sizes 8 B and up, x8 steps, plus MAX)\n"
               "  -x  multiply the iteration counts (default 1)\n"
               "  -s  flush: lock_all + MPI_Win_flush (default); lock: lock/unlock per operation\n"
               "  -w  create: MPI_Win_create over malloc (default; goes through the BTL);\n"
               "      allocate: MPI_Win_allocate (osc rdma maps it directly on one node)\n");
}

int main(int argc, char **argv)
{
    const char *tests = "put_lat,get_lat,fop_lat,put_bw,get_bw,put_busy,get_busy,fop_busy", *wmode = "create";
    size_t max = 4u << 20, sizes[32], nsizes = 0, s, k;
    double scale = 1.0;
    unsigned char *wbuf, *obuf;
    int size, i;
    MPI_Win win;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h")) {
            usage();
            MPI_Finalize();
            return 0;
        }
        if (i + 1 >= argc)
            die("option without a value (-h for help)");
        if (!strcmp(argv[i], "-t"))
            tests = argv[++i];
        else if (!strcmp(argv[i], "-m"))
            max = parse_size(argv[++i]);
        else if (!strcmp(argv[i], "-x"))
            scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "-s"))
            sync_mode = !strcmp(argv[++i], "lock") ? SYNC_LOCK : SYNC_FLUSH;
        else if (!strcmp(argv[i], "-w"))
            wmode = argv[++i];
        else
            die("unknown option (-h for help)");
    }
    if (size != 2)
        die("run with exactly 2 ranks");
    for (s = 8; s < max; s *= 8)
        sizes[nsizes++] = s;
    sizes[nsizes++] = max;

    obuf = malloc(max);
    if (!obuf)
        die("out of memory");
    memset(obuf, 1, max);
    if (!strcmp(wmode, "allocate")) {
        check(MPI_Win_allocate((MPI_Aint) max, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &wbuf, &win), "MPI_Win_allocate");
    } else {
        wbuf = malloc(max);
        if (!wbuf)
            die("out of memory");
        check(MPI_Win_create(wbuf, (MPI_Aint) max, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win), "MPI_Win_create");
    }
    memset(wbuf, 0, max);
    if (rank == 0)
        printf("# rma_bench: window %s, sync %s, window of %d for bandwidth\n", wmode,
               sync_mode == SYNC_FLUSH ? "lock_all+flush" : "lock/unlock", WINDOW);

    static const struct {
        const char *name;
        op_t op;
        int kind; /* 0 latency, 1 bandwidth, 2 latency with a busy target */
    } all[] = {
        {"put_lat", OP_PUT, 0}, {"get_lat", OP_GET, 0},   {"fop_lat", OP_FOP, 0},   {"put_bw", OP_PUT, 1},
        {"get_bw", OP_GET, 1},  {"put_busy", OP_PUT, 2}, {"get_busy", OP_GET, 2}, {"fop_busy", OP_FOP, 2},
    };
    for (k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
        /* The busy-target variants only at 8 B and 1 MiB: the point is
         * whether they wait for the target, not the curve. */
        size_t z, n = all[k].op == OP_FOP ? 1 : all[k].kind == 2 ? 2 : nsizes;

        if (!strstr(tests, all[k].name))
            continue;
        for (z = 0; z < n; z++) {
            size_t sz = all[k].op == OP_FOP ? 8 : all[k].kind == 2 ? (z ? (max < 1048576 ? max : 1048576) : 8)
                                                                   : sizes[z];
            double v = 0;

            /* Otherwise the target only waits here; its progress serves the
             * operations that need it. */
            MPI_Barrier(MPI_COMM_WORLD);
            if (all[k].kind == 2)
                v = busy_latency(all[k].op, obuf, sz, win);
            else if (rank == 0)
                v = all[k].kind ? bandwidth(all[k].op, obuf, sz, bw_iters(sz, scale), win)
                                : latency(all[k].op, obuf, sz, lat_iters(sz, scale), win);
            if (rank == 0) {
                printf("%s %zu %.3f\n", all[k].name, sz, v);
                fflush(stdout);
            }
            MPI_Barrier(MPI_COMM_WORLD);
        }
    }
    check(MPI_Win_free(&win), "MPI_Win_free");
    if (strcmp(wmode, "allocate"))
        free(wbuf);
    free(obuf);
    MPI_Finalize();
    return 0;
}
