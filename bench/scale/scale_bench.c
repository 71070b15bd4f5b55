/* scale_bench: the many-rank MPI benchmark by which the cma BTL's cost of
 * scale is measured: per-process memory and small-message latency when a
 * node holds np ranks (2 to 64 here, on two cores, so oversubscribed).  It
 * owns the measurement itself: every pair of ranks is first made to talk
 * (an MPI_Alltoall, then a pairwise exchange with every peer), so that
 * lazily created connections and shared segments exist before anything is
 * counted; once all ranks are through that, ranks 0 and 1 run a ping-pong
 * (one way = half the round trip, median of many short timed blocks) at a
 * few small sizes while every other rank sleeps in a non-blocking barrier;
 * then every rank reads its own memory (/proc/self/smaps_rollup,
 * /proc/self/status, and the shared mappings in /proc/self/smaps) and rank
 * 0 gathers and prints the spread.  Beside the latency it records how the
 * scheduler treated ranks 0 and 1 (blocks begun on one shared CPU,
 * involuntary context switches), since on an oversubscribed node that can
 * set the figure more than the transport does.  Received data are checked:
 * after each timed block the last message of the block (a block-specific
 * pattern) and, in a separate untimed pass, every message of a run of
 * exchanges with a per-message pattern; a mismatch prints FAIL and aborts
 * the job with a nonzero status.  Output: lines "RESULT <label> <np> lat
 * <bytes> <usec>", "RESULT <label> <np> samecpu <bytes> <share of blocks>",
 * "RESULT <label> <np> sched <name> <count>" and "RESULT <label> <np> mem
 * <name> <value>", commentary on lines starting with '#'.
 * bench/scale/run.sh drives it.
 */
#define _GNU_SOURCE
#include <mpi.h>

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { TAG_PP = 1, TAG_CHECK = 2, TAG_PAIR = 3, TAG_STOP = 4 };
#define MAX_SIZES 32

struct options {
    size_t sizes[MAX_SIZES];
    int nsizes;
    long warmup;     /* untimed round trips before the blocks of a size */
    long iters;      /* round trips per timed block */
    int blocks;      /* timed blocks per size; the median is reported */
    /* Many short blocks rather than a few long ones: with more ranks than
     * cores, the idle ranks' wake-ups land in most long blocks, while a
     * median over short blocks still finds the undisturbed ones where
     * there are any. */
    long verify;     /* round trips of the per-message checked pass */
    long sleep_us;   /* idle ranks: sleep between two MPI_Test calls */
    long settle_ms;  /* ranks 0 and 1: pause before measuring */
    long warmup_ms;  /* ranks 0 and 1: ping-pong this long before the first size */
    const char *label;
};

static int rank, nprocs;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mpirun -np N scale_bench [options]   (N >= 2)\n"
        "  --label NAME     transport name written into the RESULT lines (default mpi)\n"
        "  --sizes a,b,...  ping-pong sizes in bytes (default 0,8,64,512,4096)\n"
        "  --warmup N       untimed round trips per size (default 500)\n"
        "  --iters N        round trips per timed block (default 100)\n"
        "  --blocks N       timed blocks per size, median reported (default 31)\n"
        "  --verify N       round trips of the per-message checked pass per size (default 50)\n"
        "  --sleep-us N     idle ranks sleep this long between barrier tests (default 1000)\n"
        "  --settle-ms N    ranks 0 and 1 wait this long for the others to fall asleep (default 50)\n"
        "  --warmup-ms N    ranks 0 and 1 ping-pong this long before the first size (default 200)\n");
}

static int parse_long(const char *s, long *v, long min)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < min)
        return -1;
    *v = x;
    return 0;
}

/* Returns 0 on success, 1 for --help, -1 on a bad option. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const size_t def_sizes[] = { 0, 8, 64, 512, 4096 };
    *o = (struct options){ .warmup = 500, .iters = 100, .blocks = 31, .verify = 50,
                           .sleep_us = 1000, .settle_ms = 50, .warmup_ms = 200,
                           .label = "mpi" };
    o->nsizes = (int)(sizeof def_sizes / sizeof *def_sizes);
    memcpy(o->sizes, def_sizes, sizeof def_sizes);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        if (!v)
            return -1;
        if (!strcmp(a, "--label")) {
            o->label = v;
        } else if (!strcmp(a, "--sizes")) {
            char *copy = strdup(v), *save = NULL;
            o->nsizes = 0;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (o->nsizes == MAX_SIZES || parse_long(t, &x, 0)) {
                    free(copy);
                    return -1;
                }
                o->sizes[o->nsizes++] = (size_t)x;
            }
            free(copy);
            if (!o->nsizes)
                return -1;
        } else if (!strcmp(a, "--warmup")) {
            if (parse_long(v, &o->warmup, 0))
                return -1;
        } else if (!strcmp(a, "--iters")) {
            if (parse_long(v, &o->iters, 1))
                return -1;
        } else if (!strcmp(a, "--blocks")) {
            if (parse_long(v, &x, 1) || x > 1000)
                return -1;
            o->blocks = (int)x;
        } else if (!strcmp(a, "--verify")) {
            if (parse_long(v, &o->verify, 0))
                return -1;
        } else if (!strcmp(a, "--sleep-us")) {
            if (parse_long(v, &o->sleep_us, 1))
                return -1;
        } else if (!strcmp(a, "--settle-ms")) {
            if (parse_long(v, &o->settle_ms, 0))
                return -1;
        } else if (!strcmp(a, "--warmup-ms")) {
            if (parse_long(v, &o->warmup_ms, 0))
                return -1;
        } else {
            return -1;
        }
        i++;
    }
    return 0;
}

/* ---- data patterns ------------------------------------------------------ */

/* A byte pattern that differs with every seed at every offset, so a buffer
 * left over from an earlier message (or another size) does not pass. */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

/* Index of the first byte that differs from fill(seed), or n. */
static size_t first_mismatch(const unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (p[i] != (unsigned char)x)
            return i;
    }
    return n;
}

static uint64_t seed_of(size_t size, long k, int sender)
{
    return ((uint64_t)size << 32) ^ ((uint64_t)k << 2) ^ (uint64_t)sender;
}

/* Checks a received message: length and every byte.  A mismatch ends the
 * whole job (MPI_Abort), because a number measured over wrong data means
 * nothing. */
static void expect(const unsigned char *buf, const MPI_Status *st, size_t size, uint64_t seed,
                   const char *what, const struct options *o)
{
    int count;
    MPI_Get_count(st, MPI_BYTE, &count);
    size_t bad = count == (int)size ? first_mismatch(buf, size, seed) : 0;
    if (count != (int)size || bad != size) {
        printf("FAIL %s %d %s size %zu: rank %d received %d bytes, first wrong byte at %zu\n",
               o->label, nprocs, what, size, rank, count, bad);
        fflush(stdout);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
}

/* ---- phases ---------------------------------------------------------------- */

/* Makes every pair of ranks exchange data.  MPI_Alltoall alone is not
 * enough: for small blocks and many ranks Open MPI's tuned collective uses
 * Bruck's algorithm, in which a rank talks to only log2(np) others; the
 * pairwise loop afterwards sends to and receives from every peer, so every
 * connection and every shared segment that a transport creates lazily
 * exists before memory is read. */
static void connect_all(const struct options *o)
{
    int *sbuf = malloc(sizeof(int) * (size_t)nprocs), *rbuf = malloc(sizeof(int) * (size_t)nprocs);
    for (int i = 0; i < nprocs; i++)
        sbuf[i] = rank * nprocs + i;
    MPI_Alltoall(sbuf, 1, MPI_INT, rbuf, 1, MPI_INT, MPI_COMM_WORLD);
    for (int i = 0; i < nprocs; i++) {
        if (rbuf[i] != i * nprocs + rank) {
            printf("FAIL %s %d alltoall: rank %d got %d from %d, expected %d\n", o->label, nprocs, rank,
                   rbuf[i], i, i * nprocs + rank);
            fflush(stdout);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
    for (int k = 1; k < nprocs; k++) {
        int to = (rank + k) % nprocs, from = (rank - k + nprocs) % nprocs, got = -1;
        int mine = rank * nprocs + to;
        MPI_Sendrecv(&mine, 1, MPI_INT, to, TAG_PAIR, &got, 1, MPI_INT, from, TAG_PAIR, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        if (got != from * nprocs + rank) {
            printf("FAIL %s %d pairwise: rank %d got %d from %d\n", o->label, nprocs, rank, got, from);
            fflush(stdout);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
    free(sbuf);
    free(rbuf);
}

/* A barrier that does not spin: on a node with more ranks than cores, ranks
 * polling a blocking barrier would take the CPUs away from the two ranks
 * being measured.  MPI_Test drives progress, the sleep gives the CPU back. */
static void idle_barrier(const struct options *o)
{
    MPI_Request req;
    int done = 0;
    struct timespec ts = { .tv_sec = o->sleep_us / 1000000, .tv_nsec = (o->sleep_us % 1000000) * 1000 };
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    for (;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            break;
        nanosleep(&ts, NULL);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place and returns its median. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Empty round trips between ranks 0 and 1 for warmup_ms, counted by rank 0,
 * which ends them with a message of another tag.  A fixed count of
 * warm-up round trips per size is over in well under a millisecond; the
 * first size measured would otherwise pay for whatever a freshly woken
 * machine needs first (an idle virtual CPU the host has descheduled, the
 * last of the other ranks settling into their barrier). */
static void warm_up(const struct options *o)
{
    int peer = 1 - rank;
    MPI_Status st;
    if (rank == 0) {
        double end = MPI_Wtime() + (double)o->warmup_ms / 1e3;
        do {
            for (int i = 0; i < 100; i++) {
                MPI_Send(NULL, 0, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD);
                MPI_Recv(NULL, 0, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD, &st);
            }
        } while (MPI_Wtime() < end);
        MPI_Send(NULL, 0, MPI_BYTE, peer, TAG_STOP, MPI_COMM_WORLD);
    } else {
        for (;;) {
            MPI_Recv(NULL, 0, MPI_BYTE, peer, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
            if (st.MPI_TAG == TAG_STOP)
                break;
            MPI_Send(NULL, 0, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD);
        }
    }
}

/* Ping-pong between ranks 0 and 1 at one size; returns (on rank 0) the
 * one-way latency in microseconds, the median over the timed blocks, and in
 * *same_cpu the number of blocks that began with both ranks on one CPU.
 * Unbound ranks on two cores can share one (the other runs an idle rank
 * that woke up), and a ping-pong through the scheduler is another
 * measurement than one between two cores: the count tells them apart. */
static double pingpong(size_t size, const struct options *o, unsigned char *sb, unsigned char *rb,
                       int *same_cpu)
{
    int peer = 1 - rank;
    MPI_Status st;
    double *t = malloc(sizeof(double) * (size_t)o->blocks);
    int *cpu = malloc(sizeof(int) * (size_t)o->blocks), *peer_cpu = malloc(sizeof(int) * (size_t)o->blocks);

    for (long i = 0; i < o->warmup; i++) {
        if (rank == 0) {
            MPI_Send(sb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD);
            MPI_Recv(rb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD, &st);
        } else {
            MPI_Recv(rb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD, &st);
            MPI_Send(sb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD);
        }
    }
    for (int b = 0; b < o->blocks; b++) {
        /* A fresh pattern per block and a wiped receive buffer: the check
         * after the block sees this block's data or fails.  Both stay
         * outside the timed loop. */
        fill(sb, size, seed_of(size, b, rank));
        memset(rb, 0, size);
        cpu[b] = sched_getcpu();
        double t0 = MPI_Wtime();
        for (long i = 0; i < o->iters; i++) {
            if (rank == 0) {
                MPI_Send(sb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD);
                MPI_Recv(rb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD, &st);
            } else {
                MPI_Recv(rb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD, &st);
                MPI_Send(sb, (int)size, MPI_BYTE, peer, TAG_PP, MPI_COMM_WORLD);
            }
        }
        t[b] = (MPI_Wtime() - t0) * 1e6 / (2.0 * (double)o->iters);
        expect(rb, &st, size, seed_of(size, b, peer), "timed block", o);
    }
    /* Every message of this pass carries its own pattern and is checked in
     * full: it would catch a transport that delivers stale or mixed data
     * only now and then, which the per-block check could miss. */
    for (long i = 0; i < o->verify; i++) {
        long k = 1000000 + i;
        if (rank == 0) {
            fill(sb, size, seed_of(size, k, 0));
            MPI_Send(sb, (int)size, MPI_BYTE, peer, TAG_CHECK, MPI_COMM_WORLD);
            memset(rb, 0, size);
            MPI_Recv(rb, (int)size, MPI_BYTE, peer, TAG_CHECK, MPI_COMM_WORLD, &st);
            expect(rb, &st, size, seed_of(size, k, 1), "checked pass", o);
        } else {
            memset(rb, 0, size);
            MPI_Recv(rb, (int)size, MPI_BYTE, peer, TAG_CHECK, MPI_COMM_WORLD, &st);
            expect(rb, &st, size, seed_of(size, k, 0), "checked pass", o);
            fill(sb, size, seed_of(size, k, 1));
            MPI_Send(sb, (int)size, MPI_BYTE, peer, TAG_CHECK, MPI_COMM_WORLD);
        }
    }
    if (rank == 0) {
        MPI_Recv(peer_cpu, o->blocks, MPI_INT, peer, TAG_CHECK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        *same_cpu = 0;
        for (int b = 0; b < o->blocks; b++)
            *same_cpu += cpu[b] >= 0 && cpu[b] == peer_cpu[b];
    } else {
        MPI_Send(cpu, o->blocks, MPI_INT, peer, TAG_CHECK, MPI_COMM_WORLD);
    }
    double m = median(t, o->blocks);
    free(t);
    free(cpu);
    free(peer_cpu);
    return m;
}

/* ---- memory -------------------------------------------------------------- */

/* Per-process figures, KiB; -1 where the kernel does not provide one. */
enum { F_PSS, F_RSS, F_PSS_SHMEM, F_PSS_ANON, F_VMRSS, F_VMHWM, F_SHM_MAPPED, F_SHM_RSS, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "pss", "rss", "pss_shmem", "pss_anon", "vmrss", "vmhwm", "shm_mapped", "shm_rss",
};

/* Value in kB of "key:" in a /proc file of "key: value kB" lines, or -1. */
static double proc_value(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[512];
    size_t kl = strlen(key);
    double v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtod(line + kl + 1, NULL);
            break;
        }
    }
    fclose(f);
    return v;
}

/* Shared-memory mappings of this process, by kind: memfd segments (cma's
 * default; also what a peer's descriptor maps to), files under /dev/shm
 * (vader's segments, cma's posix fallback, UCX posix) and System V segments
 * (UCX sysv).  Sizes are of the mappings (address space), rss what of them
 * is resident in this process. */
enum { K_MEMFD, K_DEVSHM, K_SYSV, K_COUNT };
static const char *const kind_names[K_COUNT] = { "memfd", "devshm", "sysv" };
struct shm_usage {
    double count[K_COUNT], kib[K_COUNT], rss_kib[K_COUNT], largest_kib[K_COUNT];
};

static int shm_kind(const char *path)
{
    if (strstr(path, "memfd:"))
        return K_MEMFD;
    if (strstr(path, "/dev/shm/"))
        return K_DEVSHM;
    if (strstr(path, "SYSV"))
        return K_SYSV;
    return -1;
}

static void read_shm(struct shm_usage *u)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[4096];
    int kind = -1;
    memset(u, 0, sizeof *u);
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        int path_at = 0;
        /* A mapping's header line: "lo-hi perms offset dev inode [path]". */
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &path_at) == 2 && path_at > 0) {
            kind = shm_kind(line + path_at);
            if (kind >= 0) {
                double kib = (double)(hi - lo) / 1024;
                u->count[kind]++;
                u->kib[kind] += kib;
                if (kib > u->largest_kib[kind])
                    u->largest_kib[kind] = kib;
            }
        } else if (kind >= 0 && !strncmp(line, "Rss:", 4)) {
            u->rss_kib[kind] += strtod(line + 4, NULL);
        }
    }
    fclose(f);
}

static void read_memory(double *v, struct shm_usage *u)
{
    v[F_PSS] = proc_value("/proc/self/smaps_rollup", "Pss");
    v[F_RSS] = proc_value("/proc/self/smaps_rollup", "Rss");
    v[F_PSS_SHMEM] = proc_value("/proc/self/smaps_rollup", "Pss_Shmem");
    v[F_PSS_ANON] = proc_value("/proc/self/smaps_rollup", "Pss_Anon");
    v[F_VMRSS] = proc_value("/proc/self/status", "VmRSS");
    v[F_VMHWM] = proc_value("/proc/self/status", "VmHWM");
    read_shm(u);
    v[F_SHM_MAPPED] = v[F_SHM_RSS] = 0;
    for (int k = 0; k < K_COUNT; k++) {
        v[F_SHM_MAPPED] += u->kib[k];
        v[F_SHM_RSS] += u->rss_kib[k];
    }
}

/* Reads an integer or boolean control variable through the MPI tool
 * interface, so that the output records a setting that Open MPI may change
 * on its own (mpi_yield_when_idle is switched on when a node is
 * oversubscribed).  Returns -1 where the variable cannot be read. */
static long read_cvar(const char *name)
{
    int idx, count, provided;
    long value = -1;
    MPI_T_cvar_handle h;
    MPI_Datatype dt;
    int verbosity, bind, scope;
    if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS)
        return -1;
    if (MPI_T_cvar_get_index(name, &idx) == MPI_SUCCESS &&
        MPI_T_cvar_get_info(idx, NULL, NULL, &verbosity, &dt, NULL, NULL, NULL, &bind, &scope) == MPI_SUCCESS &&
        MPI_T_cvar_handle_alloc(idx, NULL, &h, &count) == MPI_SUCCESS) {
        /* A union wide enough for any scalar type the library may write. */
        union { int i; long l; unsigned long long u; double d; char bytes[64]; } buf;
        memset(&buf, 0, sizeof buf);
        if (count == 1 && MPI_T_cvar_read(h, &buf) == MPI_SUCCESS)
            value = dt == MPI_INT || dt == MPI_C_BOOL ? (dt == MPI_C_BOOL ? (long)buf.bytes[0] : (long)buf.i) : -1;
        MPI_T_cvar_handle_free(&h);
    }
    MPI_T_finalize();
    return value;
}

int main(int argc, char **argv)
{
    struct options o;
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    MPI_Init(&argc, &argv);
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);

    int prc = parse_args(argc, argv, &o);
    if (prc != 0 || nprocs < 2) {
        if (rank == 0)
            usage(prc == 1 ? stdout : stderr);
        MPI_Finalize();
        return prc == 1 ? 0 : 2;
    }
    long yield = read_cvar("mpi_yield_when_idle");
    double init_s = (double)(ts1.tv_sec - ts0.tv_sec) + (double)(ts1.tv_nsec - ts0.tv_nsec) / 1e9;

    double t0 = MPI_Wtime();
    connect_all(&o);
    /* Ranks 0 and 1 finish their part of the exchange before the others
     * do; without this barrier they would start measuring while the rest
     * still spin through it on the same two cores. */
    idle_barrier(&o);
    double connect_s = MPI_Wtime() - t0;
    /* The others notice the end of that barrier only at their next test,
     * up to sleep_us later, and then post the next one: ranks 0 and 1 let
     * them settle before measuring. */
    if (rank < 2) {
        struct timespec settle = { .tv_sec = o.settle_ms / 1000, .tv_nsec = (o.settle_ms % 1000) * 1000000 };
        nanosleep(&settle, NULL);
    }

    size_t max_size = 1;
    for (int i = 0; i < o.nsizes; i++)
        if (o.sizes[i] > max_size)
            max_size = o.sizes[i];
    double *lat = calloc((size_t)o.nsizes, sizeof *lat);
    int *same = calloc((size_t)o.nsizes, sizeof *same);
    /* Involuntary context switches of ranks 0 and 1 while measuring: how
     * often another task (an idle rank waking up) took their CPU. */
    long preempted[2] = { 0, 0 };
    t0 = MPI_Wtime();
    if (rank < 2) {
        unsigned char *sb = malloc(max_size), *rb = malloc(max_size);
        struct rusage ru0, ru1;
        getrusage(RUSAGE_SELF, &ru0);
        warm_up(&o);
        for (int i = 0; i < o.nsizes; i++)
            lat[i] = pingpong(o.sizes[i], &o, sb, rb, &same[i]);
        getrusage(RUSAGE_SELF, &ru1);
        long mine_ivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
        if (rank == 1) {
            MPI_Send(&mine_ivcsw, 1, MPI_LONG, 0, TAG_CHECK, MPI_COMM_WORLD);
        } else {
            preempted[0] = mine_ivcsw;
            MPI_Recv(&preempted[1], 1, MPI_LONG, 1, TAG_CHECK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        free(sb);
        free(rb);
    }
    /* Ranks 0 and 1 join the barrier the others are sleeping in. */
    idle_barrier(&o);
    double measure_s = MPI_Wtime() - t0;

    /* Memory is read once everything has connected and carried data, and
     * gathered to rank 0 for the spread over processes. */
    double mine[F_COUNT], *all = NULL;
    struct shm_usage shm;
    read_memory(mine, &shm);
    if (rank == 0)
        all = malloc(sizeof(double) * F_COUNT * (size_t)nprocs);
    MPI_Gather(mine, F_COUNT, MPI_DOUBLE, all, F_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    if (rank == 0) {
        const char *L = o.label;
        int n = nprocs;
        printf("# scale_bench: %d ranks, label %s, %ld warm-up + %d blocks x %ld round trips per size, "
               "%ld checked round trips per size, idle ranks sleep %ld us between tests, settle %ld ms, "
               "warm-up %ld ms\n", n, L, o.warmup, o.blocks, o.iters, o.verify, o.sleep_us, o.settle_ms, o.warmup_ms);
        printf("# mpi_yield_when_idle (as Open MPI set it): %ld; MPI_Init %.2f s on rank 0, "
               "connecting all pairs %.2f s, measuring %.2f s\n", yield, init_s, connect_s, measure_s);
        for (int i = 0; i < o.nsizes; i++)
            printf("RESULT %s %d lat %zu %.3f\n", L, n, o.sizes[i], lat[i]);
        for (int i = 0; i < o.nsizes; i++)
            printf("RESULT %s %d samecpu %zu %.3f\n", L, n, o.sizes[i], (double)same[i] / o.blocks);
        printf("RESULT %s %d sched preempted_rank0 %ld\n", L, n, preempted[0]);
        printf("RESULT %s %d sched preempted_rank1 %ld\n", L, n, preempted[1]);
        double *v = malloc(sizeof(double) * (size_t)n);
        for (int f = 0; f < F_COUNT; f++) {
            int m = 0;
            for (int r = 0; r < n; r++)
                if (all[r * F_COUNT + f] >= 0)
                    v[m++] = all[r * F_COUNT + f];
            if (!m) {
                printf("# %s: not provided by this kernel\n", field_names[f]);
                continue;
            }
            double med = median(v, m);
            printf("RESULT %s %d mem %s_min_kib %.0f\n", L, n, field_names[f], v[0]);
            printf("RESULT %s %d mem %s_median_kib %.0f\n", L, n, field_names[f], med);
            printf("RESULT %s %d mem %s_max_kib %.0f\n", L, n, field_names[f], v[m - 1]);
        }
        for (int k = 0; k < K_COUNT; k++) {
            printf("RESULT %s %d mem rank0_%s_count %.0f\n", L, n, kind_names[k], shm.count[k]);
            printf("RESULT %s %d mem rank0_%s_kib %.0f\n", L, n, kind_names[k], shm.kib[k]);
            printf("RESULT %s %d mem rank0_%s_rss_kib %.0f\n", L, n, kind_names[k], shm.rss_kib[k]);
            printf("RESULT %s %d mem rank0_%s_largest_kib %.0f\n", L, n, kind_names[k], shm.largest_kib[k]);
        }
        printf("RESULT %s %d mem rank0_shm_total_kib %.0f\n", L, n, mine[F_SHM_MAPPED]);
        printf("RESULT %s %d mem rank0_shm_total_rss_kib %.0f\n", L, n, mine[F_SHM_RSS]);
        fflush(stdout);
        free(v);
        free(all);
    }
    free(lat);
    free(same);
    MPI_Finalize();
    return 0;
}
