/*
 * testlib.c: the fixtures declared in testlib.h (run tag and /dev/shm
 * audit, guard-paged memory, skewed sizes and payload patterns, clocks,
 * fork/wait helpers, the guarded test ring).
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char run_tag[16];
static const char *run_name = "?";

void test_init(const char *name, unsigned watchdog_s)
{
    run_name = name;
    snprintf(run_tag, sizeof(run_tag), "t%d", (int) getpid());
    /* A hung ring (lost wakeup, lost message) must fail the test, not stall
     * make check: SIGALRM's default action ends the process. */
    alarm(watchdog_s);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

const char *test_tag(void)
{
    return run_tag;
}

static int shm_count(const char *tag, int list)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof(prefix), "btl_cma.%s.", tag);
    DIR *d = opendir("/dev/shm");
    CHECK(d != NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            if (list) {
                fprintf(stderr, "  left behind: /dev/shm/%s\n", de->d_name);
            }
            n++;
        }
    }
    closedir(d);
    return n;
}

int test_shm_count(const char *tag)
{
    return shm_count(tag, 0);
}

void test_shm_assert_clean(void)
{
    CHECK_MSG(shm_count(run_tag, 1) == 0, "this run left the /dev/shm entries listed above");
}

int test_shm_exists(const char *name)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm%s", name);
    return stat(path, &st) == 0;
}

int test_pass(void)
{
    test_shm_assert_clean();
    printf("PASS %s\n", run_name);
    return 0;
}

void *guarded_alloc(guarded_t *g, size_t size)
{
    size_t pg = (size_t) sysconf(_SC_PAGESIZE);
    CHECK(size % 64 == 0);
    if (TEST_ASAN) {
        g->map = NULL;
        g->mem = aligned_alloc(64, size);
        CHECK(g->mem != NULL);
        g->size = size;
        return g->mem;
    }
    size_t body = (size + pg - 1) / pg * pg;
    g->maplen = body + 2 * pg;
    g->map = mmap(NULL, g->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(g->map != MAP_FAILED);
    CHECK(mprotect((char *) g->map + pg, body, PROT_READ | PROT_WRITE) == 0);
    g->mem = (char *) g->map + pg + body - size;
    g->size = size;
    /* The slack before mem is readable: a canary there catches underruns
     * that the leading guard page is too far away to. */
    memset((char *) g->map + pg, 0xa5, body - size);
    return g->mem;
}

void guarded_free(guarded_t *g)
{
    if (TEST_ASAN) {
        free(g->mem);
        g->mem = NULL;
        return;
    }
    if (g->map) {
        size_t pg = (size_t) sysconf(_SC_PAGESIZE);
        const unsigned char *slack = (const unsigned char *) g->map + pg;
        for (; slack < (const unsigned char *) g->mem; ++slack) {
            CHECK_MSG(*slack == 0xa5, "a write landed %td bytes before the ring",
                      (const unsigned char *) g->mem - slack);
        }
        munmap(g->map, g->maplen);
        g->map = NULL;
    }
}

uint32_t test_skewed_len(uint64_t *rng, uint32_t max)
{
    uint64_t r = rng_next(rng);
    uint32_t cls = (uint32_t) (r % 1000), v = (uint32_t) (r >> 32), len;
    if (cls < 5) {
        len = 0;
    } else if (cls < 10) {
        len = max;
    } else if (cls < 600) {
        len = v % 49; /* one cell */
    } else if (cls < 850) {
        len = v % 257;
    } else if (cls < 950) {
        len = v % 1025;
    } else {
        len = v % (max + 1);
    }
    return len > max ? max : len;
}

/* Word i of message m: distinct for every (m, i), cheap to regenerate. */
static inline uint64_t pattern_word(uint64_t base, uint64_t i)
{
    return base + i * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t pattern_base(uint64_t msgno)
{
    uint64_t s = msgno;
    return rng_next(&s);
}

void pattern_fill(void *dst, uint64_t msgno, uint32_t len)
{
    uint64_t base = pattern_base(msgno);
    uint8_t *d = dst;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = pattern_word(base, i / 8);
        memcpy(d + i, &w, 8);
    }
    if (i < len) {
        uint64_t w = pattern_word(base, i / 8);
        memcpy(d + i, &w, len - i);
    }
}

long pattern_check(const void *src, uint64_t msgno, uint32_t len)
{
    uint64_t base = pattern_base(msgno);
    const uint8_t *s = src;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = pattern_word(base, i / 8), got;
        memcpy(&got, s + i, 8);
        if (got != w) {
            break;
        }
    }
    for (; i < len; ++i) {
        uint64_t w = pattern_word(base, i / 8);
        if (s[i] != (uint8_t) (w >> (8 * (i % 8)))) {
            return (long) i;
        }
    }
    return -1;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

uint64_t env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        return def;
    }
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    CHECK_MSG(*end == '\0' && v > 0, "%s=%s is not a positive number", name, s);
    return v;
}

pid_t test_fork(void)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* A parent that fails a check exits at once; its children must not
         * outlive it spinning on a ring. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(1);
        }
    }
    return pid;
}

int test_wait_status(pid_t pid)
{
    int st;
    pid_t r;
    do {
        r = waitpid(pid, &st, 0);
    } while (r < 0 && errno == EINTR);
    CHECK_EQ(r, pid);
    return st;
}

void test_wait_ok(pid_t pid)
{
    int st = test_wait_status(pid);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: %s %d", (int) pid,
              WIFEXITED(st) ? "exit status" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

void test_ring_open(test_ring_t *r, uint32_t ncells, uint32_t max_msg, uint32_t batch, uint64_t start)
{
    shm_error_t err = {0};
    memset(r, 0, sizeof(*r));
    size_t size = shm_ring_memsize(ncells);
    void *mem = guarded_alloc(&r->g, size);
    CHECK_MSG(shm_ring_init(mem, size, ncells, max_msg, batch, &err) == 0, "%s", err.msg);
    r->shared = mem;
    /* Before any handle exists the consumer position is the only state, so
     * presetting it starts both handles at an arbitrary position. */
    atomic_store_explicit(&r->shared->tail, start, memory_order_relaxed);
    CHECK_MSG(shm_ring_producer_attach(&r->p, mem, size, &err) == 0, "%s", err.msg);
    CHECK_MSG(shm_ring_consumer_attach(&r->c, mem, size, &err) == 0, "%s", err.msg);
    CHECK_EQ(r->p.head, start);
    CHECK_EQ(r->c.tail, start);
}

void test_ring_close(test_ring_t *r)
{
    guarded_free(&r->g);
}

shm_ring_cell_hdr_t *test_ring_cell(test_ring_t *r, uint64_t pos)
{
    return (shm_ring_cell_hdr_t *) ((uint8_t *) r->shared + SHM_RING_HEADER_SIZE +
                                    (size_t) (pos & (r->p.ncells - 1)) * SHM_RING_CELL_SIZE);
}
