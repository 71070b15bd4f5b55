/*
 * Implementation of stress.h: the start-up/shut-down order, failure and
 * logging, the PRNG and data pattern, the late single-copy denial, VmRSS,
 * and the MPI_T counters of the cma component.  Nothing here knows about a
 * particular test.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int st_rank = -1, st_size = 0;
static const char *st_name = "stress";
static double st_t0;

const char *const st_counter_names[ST_NCOUNTERS] = {
    "btl_cma_ring_sends",     "btl_cma_ring_bytes", "btl_cma_pipeline_frags",
    "btl_cma_pipeline_bytes", "btl_cma_get_count",  "btl_cma_get_bytes",
    "btl_cma_emulated_gets",  "btl_cma_emulated_get_bytes", "btl_cma_single_copy_fallbacks",
};
static MPI_T_pvar_session st_session;
static MPI_T_pvar_handle st_handle[ST_NCOUNTERS];
static int st_counters_opened;

double st_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

void st_init(int *argc, char ***argv, const char *name)
{
    int provided;
    st_name = name;
    st_t0 = st_now();
    /* The counters are read through MPI_T, which must be initialised on its
     * own (before MPI_Init, so the component's variables are registered by
     * the time MPI_Init has loaded it). */
    if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s: MPI_T_init_thread failed\n", name);
        exit(1);
    }
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &st_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &st_size);
}

int st_finalize(int status)
{
    if (st_counters_opened) {
        for (int i = 0; i < ST_NCOUNTERS; ++i) {
            MPI_T_pvar_handle_free(st_session, &st_handle[i]);
        }
        MPI_T_pvar_session_free(&st_session);
        st_counters_opened = 0;
    }
    /* Open MPI 4.1.4 crashes in mca_base_components_close when MPI_T is
     * finalized after MPI (with every BTL), so this order is required. */
    MPI_T_finalize();
    MPI_Finalize();
    return status;
}

void st_fail(const char *fmt, ...)
{
    va_list ap;
    char msg[1024];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: FAIL rank %d/%d: %s\n", st_name, st_rank, st_size, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

void st_log(const char *fmt, ...)
{
    va_list ap;
    if (st_rank != 0) {
        return;
    }
    printf("%s [%7.2f s] ", st_name, st_now() - st_t0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

void *st_malloc_touched(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        st_fail("cannot allocate %zu bytes", n);
    }
    /* Touched now, so resident memory measured later does not grow merely
     * because a buffer got used for the first time. */
    memset(p, 0x5a, n);
    return p;
}

size_t st_parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s) {
        st_fail("bad size '%s'", s);
    }
    switch (*end) {
    case 'k': case 'K': v <<= 10; ++end; break;
    case 'm': case 'M': v <<= 20; ++end; break;
    case 'g': case 'G': v <<= 30; ++end; break;
    default: break;
    }
    if (*end) {
        st_fail("bad size '%s'", s);
    }
    return (size_t) v;
}

uint64_t st_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t st_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    return st_mix(st_mix(st_mix(st_mix(st_mix(a) ^ b) ^ c) ^ d) ^ e);
}

void st_rng_init(st_rng_t *r, uint64_t seed)
{
    r->state = st_mix(seed);
}

uint64_t st_rng_next(st_rng_t *r)
{
    r->state += 0x9e3779b97f4a7c15ull;
    return st_mix(r->state);
}

uint64_t st_rng_below(st_rng_t *r, uint64_t n)
{
    /* The modulo bias of a 64-bit draw over the small ranges used here is
     * far below anything a test could notice. */
    return st_rng_next(r) % n;
}

/* Word i of the pattern.  Counter-based rather than a stream, so a check
 * may start anywhere and a shifted copy never matches by accident. */
static inline uint64_t pattern_word(uint64_t seed, uint64_t i)
{
    uint64_t x = seed ^ (i * 0xd6e8feb86659fd93ull);
    x = (x ^ (x >> 32)) * 0xd6e8feb86659fd93ull;
    return x ^ (x >> 32);
}

void st_fill(void *buf, size_t n, uint64_t seed)
{
    unsigned char *p = buf;
    size_t words = n / 8;
    for (size_t i = 0; i < words; ++i) {
        uint64_t w = pattern_word(seed, i);
        memcpy(p + 8 * i, &w, 8);
    }
    if (n % 8) {
        uint64_t w = pattern_word(seed, words);
        memcpy(p + 8 * words, &w, n % 8);
    }
}

long long st_check(const void *buf, size_t n, uint64_t seed)
{
    const unsigned char *p = buf;
    size_t words = n / 8;
    for (size_t i = 0; i < words; ++i) {
        uint64_t w = pattern_word(seed, i), got;
        memcpy(&got, p + 8 * i, 8);
        if (got != w) {
            for (size_t b = 0; b < 8; ++b) {
                if (((const unsigned char *) &w)[b] != p[8 * i + b]) {
                    return (long long) (8 * i + b);
                }
            }
        }
    }
    if (n % 8) {
        uint64_t w = pattern_word(seed, words);
        for (size_t b = 0; b < n % 8; ++b) {
            if (((const unsigned char *) &w)[b] != p[8 * words + b]) {
                return (long long) (8 * words + b);
            }
        }
    }
    return -1;
}

void st_deny_single_copy(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_writev, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
    /* TSYNC: Open MPI's own threads may be the ones that make the call. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
        st_fail("installing the seccomp filter: %s", strerror(errno));
    }
}

long st_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

void st_counters_open(void)
{
    int n, count;
    if (MPI_T_pvar_session_create(&st_session) != MPI_SUCCESS) {
        st_fail("MPI_T_pvar_session_create failed");
    }
    MPI_T_pvar_get_num(&n);
    for (int c = 0; c < ST_NCOUNTERS; ++c) {
        int found = 0;
        for (int i = 0; i < n && !found; ++i) {
            char name[256], desc[1024];
            int nl = sizeof(name), dl = sizeof(desc), verb, cls, bind, ro, cont, atomic;
            MPI_Datatype dt;
            MPI_T_enum en;
            if (MPI_T_pvar_get_info(i, name, &nl, &verb, &cls, &dt, &en, desc, &dl, &bind, &ro, &cont,
                                    &atomic) != MPI_SUCCESS ||
                strcmp(name, st_counter_names[c]) != 0) {
                continue;
            }
            if (dt != MPI_UNSIGNED_LONG) {
                st_fail("counter %s is not an unsigned long", name);
            }
            if (MPI_T_pvar_handle_alloc(st_session, i, NULL, &st_handle[c], &count) != MPI_SUCCESS) {
                st_fail("cannot open counter %s", name);
            }
            found = 1;
        }
        if (!found) {
            st_fail("MPI_T counter %s not found: is the cma component loaded?", st_counter_names[c]);
        }
    }
    st_counters_opened = 1;
}

void st_counters_read(uint64_t v[ST_NCOUNTERS])
{
    for (int c = 0; c < ST_NCOUNTERS; ++c) {
        unsigned long x = 0;
        MPI_T_pvar_read(st_session, st_handle[c], &x);
        v[c] = x;
    }
}
