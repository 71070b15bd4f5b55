/* mpi_bench: the two-rank MPI point-to-point benchmark by which the cma BTL is
 * compared with its peers (vader, UCX, MPICH).  It owns the measurement
 * itself: ping-pong latency (one way = half the round trip, like
 * osu_latency), windowed unidirectional bandwidth (a window of non-blocking
 * sends answered by a short ack, like osu_bw) and bidirectional bandwidth
 * (both ranks run a window at once, like osu_bibw), over every power of two
 * from 0 bytes to a maximum, with "hot" buffers (one buffer reused, so it
 * stays in cache where it fits) and "cold" buffers (a rotation through pools
 * much larger than the last-level cache, page-touched beforehand and flushed
 * from the cache before each timed block).  After each timed block one extra
 * exchange in each direction carries a known pattern and is checked, so a
 * transport that is fast because it moves garbage shows up as FAIL.  Output:
 * one line per (test, mode, size), "RESULT <test> <mode> <bytes> <value>",
 * latency in microseconds and bandwidth in MB/s (10^6 bytes per second);
 * lines starting with '#' are commentary.  It is plain MPI and builds with
 * both Open MPI's and MPICH's mpicc; compare.sh drives it.
 */
#define _GNU_SOURCE
#include <mpi.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

/* Message tags: distinct for data and acks so a mismatch cannot pair an ack
 * with a data message. */
enum { TAG_DATA = 1, TAG_ACK = 2, TAG_CHECK = 3 };

enum test { T_LAT, T_BW, T_BIBW, T_COUNT };
enum mode { M_HOT, M_COLD, M_COUNT };
static const char *const test_names[T_COUNT] = { "lat", "bw", "bibw" };
static const char *const mode_names[M_COUNT] = { "hot", "cold" };

struct options {
    size_t min_size, max_size;
    size_t *sizes;             /* explicit list (--sizes), or NULL */
    int nsizes;
    int tests[T_COUNT], modes[M_COUNT];
    int window;
    size_t budget;             /* bytes moved per direction per timed block */
    double scale;              /* multiplies every iteration count */
    size_t cold_pool;          /* bytes per cold pool (send and receive each) */
    size_t flush_bytes;        /* bytes written to evict the cache (cold) */
    int thp;                   /* madvise(MADV_HUGEPAGE) on the buffers */
    int check;
};

/* A buffer set: either one region reused (hot) or `nslots` page-aligned slots
 * `stride` bytes apart (cold). */
struct bufset {
    char *base;
    size_t bytes;
    size_t stride;
    size_t nslots;
};

static int rank, peer;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mpirun -np 2 mpi_bench [options]\n"
        "  --max-size S     largest message (default 64M; suffixes K, M, G)\n"
        "  --min-size S     smallest size (default 0: 0 B, then 1, 2, 4, ...)\n"
        "  --sizes a,b,...  explicit message sizes instead of the powers of two\n"
        "  --tests LIST     lat,bw,bibw (default all)\n"
        "  --modes LIST     hot,cold (default both)\n"
        "  --window N       messages in flight for bw/bibw (default 64)\n"
        "  --budget S       bytes per direction per timed block above 8 KiB (default 512M)\n"
        "  --scale F        multiply all iteration counts (default 1; e.g. 0.1 for a smoke run)\n"
        "  --cold-pool S    bytes per cold pool, one for sending, one for receiving (default 256M)\n"
        "  --thp            ask for transparent huge pages on all buffers (MADV_HUGEPAGE)\n"
        "  --no-check       skip the pattern check after each timed block\n");
}

static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s)
        return (size_t)-1;
    switch (*end) {
    case 'k': case 'K': v *= KIB; end++; break;
    case 'm': case 'M': v *= MIB; end++; break;
    case 'g': case 'G': v *= MIB * KIB; end++; break;
    default: break;
    }
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B')
        end++;
    return *end ? (size_t)-1 : (size_t)v;
}

/* Sets flags[i] for each name of `names` found in the comma list `list`;
 * returns -1 on an unknown name. */
static int parse_list(const char *list, const char *const *names, int n, int *flags)
{
    char *copy = strdup(list), *save = NULL;
    int rc = 0;
    for (int i = 0; i < n; i++)
        flags[i] = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(tok, names[i]))
                flags[i] = found = 1;
        if (!found)
            rc = -1;
    }
    free(copy);
    return rc;
}

static int parse_sizes(const char *list, struct options *o)
{
    char *copy = strdup(list), *save = NULL;
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    o->sizes = calloc((size_t)n, sizeof *o->sizes);
    o->nsizes = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t v = parse_size(tok);
        if (v == (size_t)-1) {
            free(copy);
            return -1;
        }
        o->sizes[o->nsizes++] = v;
    }
    free(copy);
    return o->nsizes ? 0 : -1;
}

/* Returns 0 on success, 1 for --help, -1 on a bad option. */
static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){
        .min_size = 0, .max_size = 64 * MIB, .window = 64, .budget = 512 * MIB,
        .scale = 1.0, .cold_pool = 256 * MIB, .flush_bytes = 64 * MIB, .check = 1,
    };
    for (int i = 0; i < T_COUNT; i++)
        o->tests[i] = 1;
    for (int i = 0; i < M_COUNT; i++)
        o->modes[i] = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return 1;
        else if (!strcmp(a, "--thp"))
            o->thp = 1, used = 0;
        else if (!strcmp(a, "--no-check"))
            o->check = 0, used = 0;
        else if (!v)
            return -1;
        else if (!strcmp(a, "--max-size"))
            o->max_size = parse_size(v);
        else if (!strcmp(a, "--min-size"))
            o->min_size = parse_size(v);
        else if (!strcmp(a, "--sizes")) {
            if (parse_sizes(v, o))
                return -1;
        } else if (!strcmp(a, "--tests")) {
            if (parse_list(v, test_names, T_COUNT, o->tests))
                return -1;
        } else if (!strcmp(a, "--modes")) {
            if (parse_list(v, mode_names, M_COUNT, o->modes))
                return -1;
        } else if (!strcmp(a, "--window"))
            o->window = atoi(v);
        else if (!strcmp(a, "--budget"))
            o->budget = parse_size(v);
        else if (!strcmp(a, "--scale"))
            o->scale = atof(v);
        else if (!strcmp(a, "--cold-pool"))
            o->cold_pool = parse_size(v);
        else
            return -1;
        i += used;
    }
    if (o->max_size == (size_t)-1 || o->min_size == (size_t)-1 || o->budget == (size_t)-1 ||
        o->cold_pool == (size_t)-1 || o->window < 1 || o->window > 4096 || !(o->scale > 0))
        return -1;
    if (!o->sizes) {
        /* 0 B, then the powers of two from max(min_size,1) up to max_size. */
        int n = 0;
        o->sizes = calloc(66, sizeof *o->sizes);
        if (o->min_size == 0)
            o->sizes[n++] = 0;
        size_t s = 1;
        while (s < o->min_size)
            s <<= 1;
        for (; s && s <= o->max_size; s <<= 1)
            o->sizes[n++] = s;
        o->nsizes = n;
    } else {
        o->max_size = 0;
        for (int i = 0; i < o->nsizes; i++)
            if (o->sizes[i] > o->max_size)
                o->max_size = o->sizes[i];
    }
    return 0;
}

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* Page-aligned, page-touched memory.  mmap rather than malloc so that the
 * alignment (and the THP choice) is ours and not the allocator's: the cost of
 * a single-copy transport depends on the page size of the source buffer. */
static char *alloc_touched(size_t bytes, int thp)
{
    size_t len = round_up(bytes ? bytes : 1, page_size());
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mpi_bench: rank %d: mmap of %zu bytes failed: %s\n", rank, len,
                strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
#ifdef MADV_HUGEPAGE
    if (thp)
        (void)madvise(p, len, MADV_HUGEPAGE);
#else
    (void)thp;
#endif
    /* Touch every page now so that first-touch page faults never fall inside
     * a timed block. */
    memset(p, 0x5a, len);
    return p;
}

static void bufset_init(struct bufset *b, size_t size, int mode, const struct options *o,
                        char *hot_base, char *cold_base)
{
    if (mode == M_HOT) {
        *b = (struct bufset){ .base = hot_base, .bytes = o->max_size, .stride = 0, .nslots = 1 };
        return;
    }
    /* Slots are page-aligned and at least a page apart, so that small
     * messages in consecutive slots share no cache line and the hardware
     * prefetcher does not stream them in ahead of use. */
    size_t stride = round_up(size ? size : 1, page_size());
    size_t pool = o->cold_pool > 2 * stride ? o->cold_pool : 2 * stride;
    *b = (struct bufset){ .base = cold_base, .bytes = pool, .stride = stride,
                          .nslots = pool / stride };
}

static inline char *slot(const struct bufset *b, size_t i)
{
    return b->nslots == 1 ? b->base : b->base + (i % b->nslots) * b->stride;
}

/* Evict this core's caches and as much of the shared L3 as possible by
 * writing a scratch area larger than the L3; used before each cold block so
 * that buffers touched by the previous block are not still cached. */
static void flush_cache(char *scratch, size_t bytes)
{
    static unsigned char v;
    memset(scratch, ++v, bytes);
}

/* Iteration counts: like the OSU benchmarks, many iterations for small
 * messages and fewer above 8 KiB, but the large-message count follows a
 * byte budget so that a 64 MiB message does not take minutes. */
static void iterations(int test, size_t size, const struct options *o, long *iters, long *warm)
{
    long n, w;
    if (test == T_LAT) {
        if (size <= 8 * KIB) {
            n = 10000;
            w = 100;
        } else {
            n = (long)(o->budget / (2 * size));
            n = n < 10 ? 10 : n > 1000 ? 1000 : n;
            w = n / 10 < 2 ? 2 : n / 10 > 10 ? 10 : n / 10;
        }
    } else {
        size_t per_iter = (size ? size : 1) * (size_t)o->window;
        if (size <= 8 * KIB) {
            n = 200;
            w = 10;
        } else {
            n = (long)(o->budget / per_iter);
            n = n < 1 ? 1 : n > 200 ? 200 : n;
            w = n / 10 < 1 ? 1 : n / 10 > 5 ? 5 : n / 10;
        }
    }
    n = (long)(n * o->scale + 0.5);
    w = (long)(w * o->scale + 0.5);
    *iters = n < 1 ? 1 : n;
    *warm = w < 1 ? 1 : w;
}

static double run_lat(size_t size, long iters, long warm, const struct bufset *sb,
                      const struct bufset *rb)
{
    double t0 = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (long i = 0; i < warm + iters; i++) {
        if (i == warm)
            t0 = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(slot(sb, (size_t)i), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD);
            MPI_Recv(slot(rb, (size_t)i), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(slot(rb, (size_t)i), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            MPI_Send(slot(sb, (size_t)i), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD);
        }
    }
    double t = MPI_Wtime() - t0;
    return t * 1e6 / (2.0 * (double)iters);
}

static double run_bw(size_t size, long iters, long warm, int window, const struct bufset *sb,
                     const struct bufset *rb, MPI_Request *req, MPI_Status *st)
{
    char ack[4] = { 0 };
    double t0 = 0;
    size_t k = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (long i = 0; i < warm + iters; i++) {
        if (i == warm)
            t0 = MPI_Wtime();
        if (rank == 0) {
            for (int j = 0; j < window; j++, k++)
                MPI_Isend(slot(sb, k), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD, &req[j]);
            MPI_Waitall(window, req, st);
            /* The ack makes the sender's clock cover delivery, not just
             * local completion of the sends. */
            MPI_Recv(ack, sizeof ack, MPI_BYTE, peer, TAG_ACK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            for (int j = 0; j < window; j++, k++)
                MPI_Irecv(slot(rb, k), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD, &req[j]);
            MPI_Waitall(window, req, st);
            MPI_Send(ack, sizeof ack, MPI_BYTE, peer, TAG_ACK, MPI_COMM_WORLD);
        }
    }
    double t = MPI_Wtime() - t0;
    return (double)size * (double)window * (double)iters / t / 1e6;
}

static double run_bibw(size_t size, long iters, long warm, int window, const struct bufset *sb,
                       const struct bufset *rb, MPI_Request *req, MPI_Status *st)
{
    double t0 = 0;
    size_t k = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (long i = 0; i < warm + iters; i++) {
        if (i == warm)
            t0 = MPI_Wtime();
        /* Receives first, so that arriving messages find a posted receive
         * on both sides rather than going through the unexpected queue. */
        for (int j = 0; j < window; j++)
            MPI_Irecv(slot(rb, k + (size_t)j), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD,
                      &req[window + j]);
        for (int j = 0; j < window; j++)
            MPI_Isend(slot(sb, k + (size_t)j), (int)size, MPI_BYTE, peer, TAG_DATA, MPI_COMM_WORLD,
                      &req[j]);
        k += (size_t)window;
        MPI_Waitall(2 * window, req, st);
    }
    double t = MPI_Wtime() - t0;
    return 2.0 * (double)size * (double)window * (double)iters / t / 1e6;
}

/* A pattern that differs per block and per direction, so stale data from an
 * earlier block or the other direction cannot pass the check. */
static void fill(char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < n; i++)
        p[i] = (char)(seed + i);
}

static size_t first_mismatch(const char *p, size_t n, uint64_t seed, char *scratch)
{
    fill(scratch, n, seed);
    for (size_t i = 0; i < n; i++)
        if (p[i] != scratch[i])
            return i;
    return n;
}

/* One pattern exchange each way through the buffers the block used; returns
 * 1 when both ranks received exactly what was sent. */
static int check_block(size_t size, uint64_t seed, const struct bufset *sb,
                       const struct bufset *rb, char *scratch)
{
    int ok = 1;
    if (size == 0)
        return 1;
    size_t si = sb->nslots - 1, ri = rb->nslots - 1;
    for (int dir = 0; dir < 2; dir++) {
        int sender = dir;
        uint64_t s = seed * 2 + (uint64_t)dir;
        MPI_Request r;
        if (rank == sender) {
            fill(slot(sb, si), size, s);
            MPI_Barrier(MPI_COMM_WORLD);
            MPI_Isend(slot(sb, si), (int)size, MPI_BYTE, peer, TAG_CHECK, MPI_COMM_WORLD, &r);
            MPI_Wait(&r, MPI_STATUS_IGNORE);
        } else {
            memset(slot(rb, ri), 0xee, size);
            MPI_Irecv(slot(rb, ri), (int)size, MPI_BYTE, peer, TAG_CHECK, MPI_COMM_WORLD, &r);
            MPI_Barrier(MPI_COMM_WORLD);
            MPI_Wait(&r, MPI_STATUS_IGNORE);
            size_t bad = first_mismatch(slot(rb, ri), size, s, scratch);
            if (bad != size) {
                fprintf(stderr, "mpi_bench: rank %d: CHECK FAILED for %zu bytes: first wrong byte "
                        "at offset %zu\n", rank, size, bad);
                ok = 0;
            }
        }
    }
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}

int main(int argc, char **argv)
{
    struct options o;
    int nranks;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);

    int prc = parse_args(argc, argv, &o);
    if (prc) {
        if (rank == 0)
            usage(prc > 0 ? stdout : stderr);
        MPI_Finalize();
        return prc > 0 ? 0 : 1;
    }
    if (nranks != 2) {
        if (rank == 0)
            fprintf(stderr, "mpi_bench: needs exactly 2 ranks, got %d\n", nranks);
        MPI_Finalize();
        return 1;
    }
    if (o.max_size > (size_t)INT32_MAX) {
        if (rank == 0)
            fprintf(stderr, "mpi_bench: sizes above 2 GiB - 1 do not fit an MPI int count\n");
        MPI_Finalize();
        return 1;
    }
    peer = 1 - rank;

    /* Memory: hot send + receive buffers of max_size; for cold, a send pool
     * and a receive pool, each at least two slots of the largest message;
     * plus a scratch area used for flushing the cache and for the check. */
    size_t max_stride = round_up(o.max_size ? o.max_size : 1, page_size());
    size_t pool = o.cold_pool > 2 * max_stride ? o.cold_pool : 2 * max_stride;
    size_t scratch_bytes = o.flush_bytes > o.max_size ? o.flush_bytes : o.max_size;
    char *hot_s = alloc_touched(o.max_size, o.thp), *hot_r = alloc_touched(o.max_size, o.thp);
    char *cold_s = NULL, *cold_r = NULL;
    if (o.modes[M_COLD]) {
        cold_s = alloc_touched(pool, o.thp);
        cold_r = alloc_touched(pool, o.thp);
    }
    char *scratch = alloc_touched(scratch_bytes, 0);
    MPI_Request *req = calloc(2 * (size_t)o.window, sizeof *req);
    /* A real status array rather than MPI_STATUSES_IGNORE: MPICH's prototype
     * makes gcc's -Wstringop-overflow misread the (MPI_Status *)1 constant. */
    MPI_Status *st = calloc(2 * (size_t)o.window, sizeof *st);

    if (rank == 0) {
        char ver[MPI_MAX_LIBRARY_VERSION_STRING];
        int len;
        MPI_Get_library_version(ver, &len);
        char *nl = strchr(ver, '\n');
        if (nl)
            *nl = 0;
        printf("# mpi_bench: %s\n", ver);
        printf("# units: lat = one-way latency in us (half the round trip); bw, bibw = MB/s "
               "(1e6 bytes/s); bibw counts both directions\n");
        printf("# window %d, budget %zu bytes per block above 8 KiB, scale %g, cold pools "
               "2 x %zu bytes, cache flush %zu bytes, thp %s, check %s\n",
               o.window, o.budget, o.scale, pool, o.flush_bytes, o.thp ? "on" : "off",
               o.check ? "on" : "off");
        fflush(stdout);
    }

    uint64_t block = 0;
    int failures = 0;
    for (int t = 0; t < T_COUNT; t++) {
        if (!o.tests[t])
            continue;
        for (int m = 0; m < M_COUNT; m++) {
            if (!o.modes[m])
                continue;
            for (int si = 0; si < o.nsizes; si++) {
                size_t size = o.sizes[si];
                struct bufset sb, rb;
                long iters, warm;
                bufset_init(&sb, size, m, &o, hot_s, cold_s);
                bufset_init(&rb, size, m, &o, hot_r, cold_r);
                iterations(t, size, &o, &iters, &warm);
                if (m == M_COLD)
                    flush_cache(scratch, o.flush_bytes);
                double v = t == T_LAT ? run_lat(size, iters, warm, &sb, &rb)
                         : t == T_BW  ? run_bw(size, iters, warm, o.window, &sb, &rb, req, st)
                                      : run_bibw(size, iters, warm, o.window, &sb, &rb, req, st);
                int ok = o.check ? check_block(size, ++block, &sb, &rb, scratch) : 1;
                failures += !ok;
                if (rank == 0) {
                    if (ok)
                        printf("RESULT %s %s %zu %.*f\n", test_names[t], mode_names[m], size,
                               t == T_LAT ? 3 : 1, v);
                    else
                        printf("RESULT %s %s %zu FAIL\n", test_names[t], mode_names[m], size);
                    fflush(stdout);
                }
            }
        }
    }

    free(st);
    free(req);
    free(o.sizes);
    MPI_Finalize();
    return failures ? 3 : 0;
}
