/*
 * Implementation of the helpers declared in mpitest.h: the pattern generator
 * and checker every test program verifies received data with, failure
 * reporting through MPI_Abort, the MPITEST_CORRUPT debug hook, and the
 * check through the cma BTL's MPI_T counters that the single-copy mode a
 * run asked for is the one the transport used.  The pattern is built 8
 * bytes at a time from a 64-bit mixing function of the seed and the word
 * index, so filling and checking a 2 GiB buffer costs about as much as a
 * memcpy and needs no second copy of the data.
 */
#include "mpitest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mt_rank = -1;
int mt_size = 0;
const char *mt_prog = "mpitest";

static double mt_t0;

static void mt_single_copy_arm(void);
static void mt_single_copy_verify(void);

/* MPITEST_CORRUPT state: the offset to flip, how many eligible buffers to
 * let pass first (MPITEST_CORRUPT_SKIP), and whether this rank has not
 * flipped yet (atomic because the threads test checks from 4 threads). */
static size_t mt_corrupt_off;
static atomic_long mt_corrupt_skip;
static atomic_int mt_corrupt_armed;

void mt_init(int *argc, char ***argv, const char *prog, int required)
{
    const char *env;

    mt_prog = prog;
    if (required > MPI_THREAD_SINGLE) {
        int provided = MPI_THREAD_SINGLE;

        if (MPI_Init_thread(argc, argv, required, &provided) != MPI_SUCCESS) {
            fprintf(stderr, "%s: FAIL: MPI_Init_thread failed\n", prog);
            exit(1);
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
        if (provided < required)
            mt_fail("MPI_Init_thread provided thread level %d, the test needs %d "
                    "(MPI_THREAD_MULTIPLE), which this MPI library does not offer",
                    provided, required);
    } else {
        if (MPI_Init(argc, argv) != MPI_SUCCESS) {
            fprintf(stderr, "%s: FAIL: MPI_Init failed\n", prog);
            exit(1);
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &mt_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &mt_size);
    }
    /* Errors must come back as return codes so the test can say which call
     * failed instead of dying inside the default error handler. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    mt_t0 = MPI_Wtime();
    mt_single_copy_arm();

    env = getenv("MPITEST_CORRUPT");
    if (env && *env) {
        const char *skip = getenv("MPITEST_CORRUPT_SKIP");

        mt_corrupt_off = (size_t) strtoull(env, NULL, 0);
        atomic_store(&mt_corrupt_skip, skip ? strtol(skip, NULL, 0) : 0);
        atomic_store(&mt_corrupt_armed, 1);
        mt_log("MPITEST_CORRUPT=%s: every rank flips byte %zu of a received buffer "
               "longer than that (after skipping %ld); this run must FAIL", env,
               mt_corrupt_off, atomic_load(&mt_corrupt_skip));
    }
}

/* True when the comma-separated BTL list selects the cma component. */
static int mt_btl_has_cma(const char *list)
{
    const char *p = list;

    while (p && *p) {
        size_t n = strcspn(p, ",");

        if (n == 3 && strncmp(p, "cma", 3) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* The cma BTL's MPI_T counters used to confirm the single-copy mode.  Open
 * MPI reports a counter as its growth since the handle was allocated, so
 * the handles are allocated in mt_init, before any traffic. */
static const char *const mt_pvar_names[] = {
    "btl_cma_get_count", "btl_cma_put_count", "btl_cma_ring_sends",
    "btl_cma_doorbells_rung", "btl_cma_doorbell_wakeups", "btl_cma_sweep_wakeups",
    "btl_cma_small_ring_sends"
};
#define MT_NPVARS (sizeof(mt_pvar_names) / sizeof(mt_pvar_names[0]))
static MPI_T_pvar_session mt_pvar_session;
static MPI_T_pvar_handle mt_pvar_handle[MT_NPVARS];
static MPI_Datatype mt_pvar_type[MT_NPVARS];
static const char *mt_sc_mode;   /* non-NULL while the check is armed */
static int mt_t_initialized;
static int mt_pvars_found;

static int mt_pvar_open(size_t i)
{
    char name[256], desc[256];
    int idx, count = 0, nlen = sizeof(name), dlen = sizeof(desc);
    int verbosity, var_class, bind, readonly, continuous, atomic;

    if (MPI_T_pvar_get_index(mt_pvar_names[i], MPI_T_PVAR_CLASS_COUNTER, &idx) != MPI_SUCCESS ||
        MPI_T_pvar_get_info(idx, name, &nlen, &verbosity, &var_class, &mt_pvar_type[i], NULL,
                            desc, &dlen, &bind, &readonly, &continuous, &atomic) != MPI_SUCCESS ||
        (mt_pvar_type[i] != MPI_UNSIGNED_LONG && mt_pvar_type[i] != MPI_UNSIGNED_LONG_LONG) ||
        MPI_T_pvar_handle_alloc(mt_pvar_session, idx, NULL, &mt_pvar_handle[i], &count) != MPI_SUCCESS)
        return -1;
    if (count != 1)
        return -1;
    if (!continuous && MPI_T_pvar_start(mt_pvar_session, mt_pvar_handle[i]) != MPI_SUCCESS)
        return -1;
    return 0;
}

static unsigned long long mt_pvar_read(size_t i)
{
    unsigned long long v = 0;

    if (mt_pvar_type[i] == MPI_UNSIGNED_LONG) {
        unsigned long ul = 0;

        MPI_T_pvar_read(mt_pvar_session, mt_pvar_handle[i], &ul);
        v = ul;
    } else {
        MPI_T_pvar_read(mt_pvar_session, mt_pvar_handle[i], &v);
    }
    return v;
}

long long mt_cma_counter(const char *name)
{
    size_t i;

    if (!mt_pvars_found)
        return -1;
    for (i = 0; i < MT_NPVARS; i++)
        if (strcmp(mt_pvar_names[i], name) == 0)
            return (long long) mt_pvar_read(i);
    return -1;
}

/* A silently ignored btl_cma_single_copy (a renamed parameter, a fallback
 * the component did not report) would make the "cma" and "none" runs test
 * the same path.  run-mpi.sh exports what it asked for (MPITEST_BTL,
 * MPITEST_SINGLE_COPY); the component's counters say what happened. */
static void mt_single_copy_arm(void)
{
    const char *btl = getenv("MPITEST_BTL"), *mode = getenv("MPITEST_SINGLE_COPY");
    int provided;
    size_t i;

    if (!btl || !mode || !*mode || !mt_btl_has_cma(btl))
        return;
    mt_sc_mode = mode;
    if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS)
        return;
    mt_t_initialized = 1;
    if (MPI_T_pvar_session_create(&mt_pvar_session) != MPI_SUCCESS)
        return;
    mt_pvars_found = 1;
    for (i = 0; i < MT_NPVARS; i++)
        if (mt_pvar_open(i) != 0)
            mt_pvars_found = 0;
}

/* none must make no process_vm_readv/writev call; cma must make some:
 * every program moves messages of several MiB, far above any sensible
 * single-copy threshold. */
static void mt_single_copy_verify(void)
{
    long long local[3] = { 0, 0, 0 }, sum[3];
    size_t i;

    if (!mt_sc_mode)
        return;
    if (mt_pvars_found) {
        local[1] = (long long) (mt_pvar_read(0) + mt_pvar_read(1));
        local[2] = (long long) mt_pvar_read(2);
        for (i = 0; i < MT_NPVARS; i++)
            MPI_T_pvar_handle_free(mt_pvar_session, &mt_pvar_handle[i]);
        MPI_T_pvar_session_free(&mt_pvar_session);
    }
    /* MPI_T_finalize releases whatever a partial set-up left behind. */
    if (mt_t_initialized)
        MPI_T_finalize();
    local[0] = !mt_pvars_found;
    MT_MPI(MPI_Allreduce(local, sum, 3, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD));
    if (sum[0] != 0 || sum[2] == 0) {
        /* Missing counters, or counters that never move (ring_sends is 0
         * although every message crossed the BTL): nothing to judge by. */
        mt_log("note: the cma BTL's MPI_T counters (%s, %s, %s) are %s; single-copy "
               "mode %s not verified", mt_pvar_names[0], mt_pvar_names[1], mt_pvar_names[2],
               sum[0] ? "missing" : "not counting", mt_sc_mode);
    } else if (strcmp(mt_sc_mode, "none") == 0 && sum[1] != 0) {
        if (mt_rank == 0)
            mt_fail("btl_cma_single_copy=none, yet the ranks made %lld single-copy "
                    "(process_vm_readv/writev) transfers", sum[1]);
    } else if (strcmp(mt_sc_mode, "cma") == 0 && sum[1] == 0) {
        if (mt_rank == 0)
            mt_fail("btl_cma_single_copy=cma, yet no rank made a single-copy "
                    "(process_vm_readv/writev) transfer (%lld ring sends)", sum[2]);
    } else {
        mt_log("single-copy mode %s confirmed by MPI_T: %lld process_vm_readv/writev "
               "transfers, %lld ring sends over all ranks", mt_sc_mode, sum[1], sum[2]);
    }
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

int mt_finalize(void)
{
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    mt_single_copy_verify();
    if (mt_rank == 0)
        printf("%s: PASS (%d ranks, %.1f s)\n", mt_prog, mt_size, MPI_Wtime() - mt_t0);
    fflush(stdout);
    MPI_Finalize();
    return 0;
}

void mt_fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: FAIL rank %d of %d: %s\n", mt_prog, mt_rank, mt_size, msg);
    fflush(stderr);
    fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, 1);
    /* MPI_Abort does not return; exit anyway should a broken MPI let it. */
    exit(1);
}

void mt_mpi_check(int rc, const char *call)
{
    char err[MPI_MAX_ERROR_STRING];
    int len = 0;

    if (rc == MPI_SUCCESS)
        return;
    if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS)
        snprintf(err, sizeof(err), "error code %d", rc);
    mt_fail("%s returned %s", call, err);
}

void mt_log(const char *fmt, ...)
{
    va_list ap;

    if (mt_rank != 0)
        return;
    printf("%s [%7.2f s] ", mt_prog, MPI_Wtime() - mt_t0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

void *mt_malloc(size_t len)
{
    void *p = malloc(len ? len : 1);

    if (!p)
        mt_fail("cannot allocate %zu bytes: %s", len, strerror(errno));
    return p;
}

/* splitmix64's finaliser: cheap, and every input bit affects every output
 * bit, so neighbouring words and neighbouring seeds look unrelated. */
static inline uint64_t mt_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t mt_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t s = 0x5eed5eed5eed5eedULL;

    s = mt_mix(s ^ a);
    s = mt_mix(s ^ (b + 0x9e3779b97f4a7c15ULL));
    s = mt_mix(s ^ (c + 0x632be59bd9b4e019ULL));
    s = mt_mix(s ^ (d + 0x8cb92ba72f3d8dd7ULL));
    return s;
}

/* Pattern word i; byte (o & 7) of word (o >> 3) is the byte at offset o. */
static inline uint64_t mt_word(uint64_t seed, size_t i)
{
    return mt_mix(seed + (uint64_t) i * 0x9e3779b97f4a7c15ULL);
}

uint8_t mt_byte(uint64_t seed, size_t off)
{
    return (uint8_t) (mt_word(seed, off >> 3) >> ((off & 7) * 8));
}

/* Words are stored little-endian whatever the host, so mt_byte agrees with
 * mt_fill on every machine. */
static inline uint64_t mt_le(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(w);
#else
    return w;
#endif
}

void mt_fill(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    size_t nwords = len / 8, i;

    for (i = 0; i < nwords; i++) {
        uint64_t w = mt_le(mt_word(seed, i));

        memcpy(p + i * 8, &w, 8);
    }
    for (i = nwords * 8; i < len; i++)
        p[i] = mt_byte(seed, i);
}

size_t mt_find_error(const void *buf, size_t len, uint64_t seed)
{
    const unsigned char *p = buf;
    size_t nwords = len / 8, i, start = 0;

    for (i = 0; i < nwords; i++) {
        uint64_t w, want = mt_le(mt_word(seed, i));

        memcpy(&w, p + i * 8, 8);
        if (w != want) {
            start = i * 8;
            break;
        }
    }
    if (i == nwords)
        start = nwords * 8;
    for (i = start; i < len; i++)
        if (p[i] != mt_byte(seed, i))
            return i;
    return (size_t) -1;
}

void mt_corrupt_hook(void *buf, size_t len)
{
    int armed = 1;

    if (len <= mt_corrupt_off || !atomic_load_explicit(&mt_corrupt_armed, memory_order_relaxed))
        return;
    if (atomic_fetch_sub(&mt_corrupt_skip, 1) > 0)
        return;
    if (!atomic_compare_exchange_strong(&mt_corrupt_armed, &armed, 0))
        return;
    ((unsigned char *) buf)[mt_corrupt_off] ^= 0x01;
}

void mt_check(void *buf, size_t len, uint64_t seed, const char *what, ...)
{
    char desc[512];
    size_t bad;
    va_list ap;

    mt_corrupt_hook(buf, len);
    bad = mt_find_error(buf, len, seed);
    if (bad == (size_t) -1)
        return;
    va_start(ap, what);
    vsnprintf(desc, sizeof(desc), what, ap);
    va_end(ap);
    mt_fail("%s: message size %zu bytes: first wrong byte at offset %zu "
            "(got 0x%02x, expected 0x%02x)", desc, len, bad,
            ((const unsigned char *) buf)[bad], mt_byte(seed, bad));
}

void mt_guard_set(void *buf, size_t len)
{
    memset(buf, MT_GUARD_BYTE, len);
}

void mt_guard_check(const void *buf, size_t len, size_t msg_size, const char *what)
{
    const unsigned char *p = buf;
    size_t i;

    for (i = 0; i < len; i++)
        if (p[i] != MT_GUARD_BYTE)
            mt_fail("%s: message size %zu bytes: byte %zu past the end of the "
                    "message was overwritten (0x%02x)", what, msg_size, i, p[i]);
}

size_t mt_parse_size(const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s)
        goto bad;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == '\0')
        return (size_t) v;
bad:
    mt_fail("bad size argument '%s' (a number with optional k, m or g)", s);
}
