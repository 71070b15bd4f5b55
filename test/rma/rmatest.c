/*
 * Implementation of rmatest.h: the pattern generator and checker, failure
 * reporting through MPI_Abort, and the judgement of one-sided traffic
 * through the cma BTL's MPI_T counters.  The pattern is produced eight
 * bytes at a time from a 64-bit mix of the seed and the word index, so a
 * 16 MiB window is filled or checked at close to memory speed even with
 * eight ranks sharing two cores.
 */
#include "rmatest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_rank = -1;
int rt_size = 0;

static const char *rt_prog = "rmatest";
static double rt_t0;

static const char *const rt_counter_names[RT_NCOUNTERS] = {
    "btl_cma_put_count",     "btl_cma_put_bytes",          "btl_cma_get_count",
    "btl_cma_get_bytes",     "btl_cma_emulated_puts",      "btl_cma_emulated_put_bytes",
    "btl_cma_emulated_gets", "btl_cma_emulated_get_bytes", "btl_cma_atomics",
};

static MPI_T_pvar_session rt_session;
static MPI_T_pvar_handle rt_handle[RT_NCOUNTERS];
static int rt_t_up;      /* MPI_T_init_thread succeeded */
static int rt_counting;  /* every handle allocated */
static const char *rt_mode; /* RMATEST_MODE, NULL when not judged */

static void rt_counters_open(void)
{
    int provided, i;

    if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS)
        rt_fail("MPI_T_init_thread failed");
    rt_t_up = 1;
    RT_MPI(MPI_T_pvar_session_create(&rt_session));
    rt_counting = 1;
    for (i = 0; i < RT_NCOUNTERS; i++) {
        int idx, count = 0;

        if (MPI_T_pvar_get_index(rt_counter_names[i], MPI_T_PVAR_CLASS_COUNTER, &idx) != MPI_SUCCESS ||
            MPI_T_pvar_handle_alloc(rt_session, idx, NULL, &rt_handle[i], &count) != MPI_SUCCESS ||
            count != 1) {
            /* Fatal only when the run promised the cma BTL: the same
             * programs also run over vader for comparison. */
            if (rt_mode)
                rt_fail("MPI_T counter %s not available: is the cma component loaded?",
                        rt_counter_names[i]);
            rt_counting = 0;
            return;
        }
    }
}

void rt_init(int *argc, char ***argv, const char *prog)
{
    const char *mode = getenv("RMATEST_MODE");

    rt_prog = prog;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "%s: FAIL: MPI_Init failed\n", prog);
        exit(1);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rt_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &rt_size);
    /* A failing call must name itself instead of dying inside the default
     * handler; windows inherit nothing from the communicator, hence the
     * RT_MPI checks around every window call too. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    rt_t0 = MPI_Wtime();
    if (mode && *mode) {
        if (strcmp(mode, "cma") && strcmp(mode, "none") && strcmp(mode, "deny"))
            rt_fail("RMATEST_MODE=%s: expected cma, none or deny", mode);
        rt_mode = mode;
    }
    rt_counters_open();
}

int rt_finalize(void)
{
    int i;

    RT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    if (rt_counting)
        for (i = 0; i < RT_NCOUNTERS; i++)
            MPI_T_pvar_handle_free(rt_session, &rt_handle[i]);
    if (rt_t_up) {
        MPI_T_pvar_session_free(&rt_session);
        /* Open MPI 4.1.4 crashes when MPI_T_finalize follows MPI_Finalize. */
        MPI_T_finalize();
    }
    if (rt_rank == 0)
        printf("%s: PASS (%d ranks, mode %s, %.1f s)\n", rt_prog, rt_size, rt_mode ? rt_mode : "unjudged",
               MPI_Wtime() - rt_t0);
    fflush(stdout);
    MPI_Finalize();
    return 0;
}

void rt_fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: FAIL rank %d/%d: %s\n", rt_prog, rt_rank, rt_size, msg);
    fflush(stderr);
    fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

void rt_mpi_check(int rc, const char *call, int line)
{
    char err[MPI_MAX_ERROR_STRING];
    int len = 0;

    if (rc == MPI_SUCCESS)
        return;
    if (MPI_Error_string(rc, err, &len) != MPI_SUCCESS)
        snprintf(err, sizeof(err), "error code %d", rc);
    rt_fail("line %d: %s returned %s", line, call, err);
}

void rt_log(const char *fmt, ...)
{
    va_list ap;

    if (rt_rank != 0)
        return;
    printf("%s [%6.2f s] ", rt_prog, MPI_Wtime() - rt_t0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

void *rt_malloc(size_t len)
{
    void *p = malloc(len ? len : 1);

    if (!p)
        rt_fail("cannot allocate %zu bytes: %s", len, strerror(errno));
    return p;
}

long rt_parse_long(const char *s, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 0);
    if (errno || end == s || *end || v <= 0)
        rt_fail("%s: '%s' is not a positive integer", what, s);
    return v;
}

/* splitmix64's finaliser: every input bit flips about half the output
 * bits, so neighbouring words and seeds give unrelated patterns. */
static inline uint64_t rt_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t rt_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t s = rt_mix(0x0123456789abcdefULL ^ a);

    s = rt_mix(s ^ (b + 0x9e3779b97f4a7c15ULL));
    s = rt_mix(s ^ (c + 0xd1b54a32d192ed03ULL));
    return rt_mix(s ^ (d + 0x8cb92ba72f3d8dd7ULL));
}

static inline uint64_t rt_word(uint64_t seed, size_t i)
{
    return rt_mix(seed ^ ((uint64_t) i * 0x9e3779b97f4a7c15ULL));
}

/* Little-endian byte order of the words is fixed by going through bytes,
 * so rt_byte and rt_fill agree on any host. */
uint8_t rt_byte(uint64_t seed, size_t off)
{
    return (uint8_t) (rt_word(seed, off >> 3) >> ((off & 7) * 8));
}

void rt_fill(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    size_t i, n = len / 8;

    for (i = 0; i < n; i++) {
        uint64_t w = rt_word(seed, i);
        int b;

        for (b = 0; b < 8; b++)
            p[i * 8 + b] = (unsigned char) (w >> (b * 8));
    }
    for (i = n * 8; i < len; i++)
        p[i] = rt_byte(seed, i);
}

size_t rt_find_error(const void *buf, size_t len, uint64_t seed)
{
    const unsigned char *p = buf;
    size_t i, n = len / 8;

    for (i = 0; i < n; i++) {
        uint64_t w = rt_word(seed, i);
        int b;

        for (b = 0; b < 8; b++)
            if (p[i * 8 + b] != (unsigned char) (w >> (b * 8)))
                return i * 8 + (size_t) b;
    }
    for (i = n * 8; i < len; i++)
        if (p[i] != rt_byte(seed, i))
            return i;
    return (size_t) -1;
}

void rt_check(const void *buf, size_t len, uint64_t seed, const char *what, ...)
{
    size_t bad = rt_find_error(buf, len, seed);
    char desc[512];
    va_list ap;

    if (bad == (size_t) -1)
        return;
    va_start(ap, what);
    vsnprintf(desc, sizeof(desc), what, ap);
    va_end(ap);
    rt_fail("%s: %zu bytes: first wrong byte at offset %zu (0x%02x, expected 0x%02x)", desc, len, bad,
            ((const unsigned char *) buf)[bad], rt_byte(seed, bad));
}

static void rt_counters_read(uint64_t v[RT_NCOUNTERS])
{
    int i;

    for (i = 0; i < RT_NCOUNTERS; i++) {
        unsigned long x = 0;

        if (rt_counting)
            RT_MPI(MPI_T_pvar_read(rt_session, rt_handle[i], &x));
        v[i] = x;
    }
}

void rt_traffic_begin(rt_traffic_t *t)
{
    rt_counters_read(t->v);
}

void rt_traffic_end(const rt_traffic_t *t, const char *phase, unsigned kinds, uint64_t min_put, uint64_t min_get)
{
    uint64_t now[RT_NCOUNTERS], d[RT_NCOUNTERS], sum[RT_NCOUNTERS];
    int i, single;

    rt_counters_read(now);
    for (i = 0; i < RT_NCOUNTERS; i++)
        d[i] = now[i] - t->v[i];
    RT_MPI(MPI_Allreduce(d, sum, RT_NCOUNTERS, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
    rt_log("%s: cma traffic over all ranks: %llu puts (%llu B), %llu gets (%llu B), "
           "emulated %llu puts (%llu B), %llu gets (%llu B), %llu atomics",
           phase, (unsigned long long) sum[RT_C_PUT_COUNT], (unsigned long long) sum[RT_C_PUT_BYTES],
           (unsigned long long) sum[RT_C_GET_COUNT], (unsigned long long) sum[RT_C_GET_BYTES],
           (unsigned long long) sum[RT_C_EMU_PUTS], (unsigned long long) sum[RT_C_EMU_PUT_BYTES],
           (unsigned long long) sum[RT_C_EMU_GETS], (unsigned long long) sum[RT_C_EMU_GET_BYTES],
           (unsigned long long) sum[RT_C_ATOMICS]);
    if (!rt_mode)
        return;
    /* Each rank judges its own bytes: they are counted where the operation
     * was issued, so a rank whose data went another way is named. */
    if (d[RT_C_PUT_BYTES] + d[RT_C_EMU_PUT_BYTES] < min_put)
        rt_fail("%s: wrote %llu bytes into other ranks' windows but cma carried only %llu "
                "(%llu single copy, %llu emulated)", phase, (unsigned long long) min_put,
                (unsigned long long) (d[RT_C_PUT_BYTES] + d[RT_C_EMU_PUT_BYTES]),
                (unsigned long long) d[RT_C_PUT_BYTES], (unsigned long long) d[RT_C_EMU_PUT_BYTES]);
    if (d[RT_C_GET_BYTES] + d[RT_C_EMU_GET_BYTES] < min_get)
        rt_fail("%s: read %llu bytes from other ranks' windows but cma carried only %llu "
                "(%llu single copy, %llu emulated)", phase, (unsigned long long) min_get,
                (unsigned long long) (d[RT_C_GET_BYTES] + d[RT_C_EMU_GET_BYTES]),
                (unsigned long long) d[RT_C_GET_BYTES], (unsigned long long) d[RT_C_EMU_GET_BYTES]);
    if (rt_rank != 0)
        return;
    single = strcmp(rt_mode, "cma") == 0;
    if (single) {
        if (sum[RT_C_EMU_PUTS] || sum[RT_C_EMU_GETS])
            rt_fail("%s: btl_cma_single_copy=cma, yet %llu puts and %llu gets went through the rings",
                    phase, (unsigned long long) sum[RT_C_EMU_PUTS], (unsigned long long) sum[RT_C_EMU_GETS]);
        if ((kinds & RT_PUT) && !sum[RT_C_PUT_COUNT])
            rt_fail("%s: no MPI_Put reached cma's process_vm_writev (btl_cma_put_count is 0)", phase);
        if ((kinds & RT_GET) && !sum[RT_C_GET_COUNT])
            rt_fail("%s: no MPI_Get reached cma's process_vm_readv (btl_cma_get_count is 0)", phase);
    } else {
        if (sum[RT_C_PUT_COUNT] || sum[RT_C_GET_COUNT])
            rt_fail("%s: single copy is %s, yet %llu process_vm_writev and %llu process_vm_readv "
                    "transfers were counted", phase, strcmp(rt_mode, "none") ? "denied" : "off",
                    (unsigned long long) sum[RT_C_PUT_COUNT], (unsigned long long) sum[RT_C_GET_COUNT]);
        if ((kinds & RT_PUT) && !sum[RT_C_EMU_PUTS])
            rt_fail("%s: no MPI_Put went through cma's rings (btl_cma_emulated_puts is 0)", phase);
        if ((kinds & RT_GET) && !sum[RT_C_EMU_GETS])
            rt_fail("%s: no MPI_Get went through cma's rings (btl_cma_emulated_gets is 0)", phase);
    }
    if ((kinds & RT_ATOMIC) && !sum[RT_C_ATOMICS])
        rt_fail("%s: no atomic went through cma (btl_cma_atomics is 0)", phase);
}
