/*
 * Which send buffers are on huge pages, cheaply enough to ask per message.
 * /proc/self/smaps would cost milliseconds; the PAGEMAP_SCAN ioctl (Linux
 * 6.7+) walks only the page tables of the range and returns huge extents
 * directly: about 1-4 us for a buffer on huge pages, about 1 us per 4 MiB
 * of 4 KiB pages.  The answer is remembered per (address, length) in a
 * small table, rescanned every RESCAN_EVERY uses because khugepaged or an
 * munmap can change it behind our back; a stale answer costs speed only,
 * never correctness, since process_vm_readv reads any page.  The same table
 * counts how often a buffer is sent, which is what the advise/collapse
 * policy (btl_cma_hugepage) needs: collapsing costs milliseconds per
 * buffer and only repays itself on buffers that are sent again.
 */
#include "btl_cma.h"
#include "btl_cma_hugepage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* The PAGEMAP_SCAN ABI (include/uapi/linux/fs.h, Linux 6.7), for systems
 * whose kernel headers predate it: the ioctl fails with ENOTTY on kernels
 * without it and we fall back to "not huge". */
#ifndef PAGEMAP_SCAN
struct page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;
};
struct pm_scan_arg {
    uint64_t size;
    uint64_t flags;
    uint64_t start;
    uint64_t end;
    uint64_t walk_end;
    uint64_t vec;
    uint64_t vec_len;
    uint64_t max_pages;
    uint64_t category_inverted;
    uint64_t category_mask;
    uint64_t category_anyof_mask;
    uint64_t return_mask;
};
#define PAGE_IS_HUGE (1 << 6)
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#define HUGE_PAGE_BYTES ((uintptr_t) 2 << 20)
#define CACHE_SLOTS 32
#define RESCAN_EVERY 64
#define SCAN_VEC 16

typedef struct {
    uintptr_t base;
    size_t len;
    uint32_t uses;
    bool policy_applied;
    int64_t huge; /* -1: not scanned */
} hp_entry_t;

static hp_entry_t cache[CACHE_SLOTS];
static opal_mutex_t cache_lock;
static bool lock_ready;
static int pagemap_fd = -1;
static pid_t pagemap_pid;
static bool unsupported;
static const char *unsupported_why;

static bool open_pagemap(void)
{
    /* /proc/self is resolved at open: a forked child must not go on
     * scanning its parent's page tables. */
    if (pagemap_fd >= 0 && pagemap_pid == getpid()) {
        return true;
    }
    if (pagemap_fd >= 0) {
        close(pagemap_fd);
    }
    pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    pagemap_pid = getpid();
    if (pagemap_fd < 0) {
        unsupported = true;
        unsupported_why = "/proc/self/pagemap cannot be opened";
        return false;
    }
    return true;
}

bool mca_btl_cma_hugepage_supported(const char **why)
{
    if (!unsupported) {
        /* One real query settles it: kernels before 6.7 answer ENOTTY. */
        int probe = 0;
        (void) mca_btl_cma_huge_bytes(&probe, sizeof(probe));
    }
    if (why) {
        *why = unsupported ? unsupported_why : NULL;
    }
    return !unsupported;
}

int64_t mca_btl_cma_huge_bytes(const void *base, size_t len)
{
    if (unsupported || 0 == len || !open_pagemap()) {
        return unsupported ? -1 : 0;
    }
    const uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
    const uintptr_t lo = (uintptr_t) base, hi = lo + len;
    uint64_t start = lo & ~(page - 1), end = (hi + page - 1) & ~(page - 1);
    int64_t huge = 0;
    while (start < end) {
        struct page_region vec[SCAN_VEC];
        struct pm_scan_arg arg = {
            .size = sizeof(arg),
            .start = start,
            .end = end,
            .vec = (uint64_t) (uintptr_t) vec,
            .vec_len = SCAN_VEC,
            .category_mask = PAGE_IS_HUGE,
            .return_mask = PAGE_IS_HUGE,
        };
        int n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
        if (n < 0) {
            if (EINTR == errno) {
                continue;
            }
            unsupported = true;
            unsupported_why = ENOTTY == errno || EINVAL == errno
                                  ? "the kernel lacks the PAGEMAP_SCAN ioctl (Linux 6.7 or later)"
                                  : "the PAGEMAP_SCAN ioctl failed";
            MCA_BTL_CMA_VERBOSE(1, "huge-page detection off: %s (%s)", unsupported_why, strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; ++i) {
            uint64_t s = vec[i].start < lo ? lo : vec[i].start;
            uint64_t e = vec[i].end > hi ? hi : vec[i].end;
            huge += e > s ? (int64_t) (e - s) : 0;
        }
        /* A full vector means the walk stopped early; go on from where
         * the kernel says it stopped. */
        if (n < SCAN_VEC || arg.walk_end <= start || arg.walk_end >= end) {
            break;
        }
        start = arg.walk_end;
    }
    return huge;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double) ts.tv_sec + 1e-3 * (double) ts.tv_nsec;
}

/* Why the application does not want huge pages in [lo, hi), or NULL.
 * MADV_HUGEPAGE clears a mapping's MADV_NOHUGEPAGE, so advising such a
 * buffer would silently undo the application's own choice (a helper's
 * sweep saw an 8 MiB MADV_NOHUGEPAGE buffer put on huge pages by
 * khugepaged after the policy ran).  The mapping's flag is only visible in
 * /proc/self/smaps: read once per buffer, when the policy is due, and only
 * up to the mappings of the range.  When smaps cannot be read we cannot
 * tell, and leave the buffer alone. */
static const char *thp_opt_out(uintptr_t lo, uintptr_t hi)
{
    if (1 == prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)) {
        return "the process disabled transparent huge pages (prctl PR_SET_THP_DISABLE)";
    }
    FILE *f = fopen("/proc/self/smaps", "re");
    if (NULL == f) {
        return "/proc/self/smaps cannot be read to check for MADV_NOHUGEPAGE";
    }
    const char *why = NULL;
    char *line = NULL;
    size_t cap = 0;
    bool inside = false;
    /* getline, not a fixed buffer: a long file name split a header line,
     * and its tail could read as another mapping's header. */
    while (NULL == why && getline(&line, &cap, f) > 0) {
        unsigned long start, end;
        char dash;
        if (3 == sscanf(line, "%lx%c%lx ", &start, &dash, &end) && '-' == dash) {
            if (start >= hi) {
                break; /* mappings are listed in address order */
            }
            inside = end > lo;
            continue;
        }
        if (inside && 0 == strncmp(line, "VmFlags:", 8) && NULL != strstr(line + 8, " nh")) {
            why = "the application marked the buffer MADV_NOHUGEPAGE";
        }
    }
    free(line);
    fclose(f);
    return why;
}

/* Only whole, aligned 2 MiB extents inside the buffer can become huge
 * pages; advising more than the buffer would change memory the caller did
 * not hand us. */
static void apply_policy(hp_entry_t *e)
{
    const mca_btl_cma_component_t *c = &mca_btl_cma_component;
    uintptr_t lo = (e->base + HUGE_PAGE_BYTES - 1) & ~(HUGE_PAGE_BYTES - 1);
    uintptr_t hi = (e->base + e->len) & ~(HUGE_PAGE_BYTES - 1);
    e->policy_applied = true;
    if (hi <= lo) {
        return;
    }
    const char *opt_out = thp_opt_out(lo, hi);
    if (opt_out) {
        MCA_BTL_CMA_VERBOSE(10, "buffer of %zu bytes at %p left on its pages: %s", e->len, (void *) e->base,
                            opt_out);
        return;
    }
    int advice = MCA_BTL_CMA_HP_COLLAPSE == c->hugepage_policy ? MADV_COLLAPSE : MADV_HUGEPAGE;
    double t = now_us();
    int rc = madvise((void *) lo, hi - lo, advice);
    int err = rc ? errno : 0;
    t = now_us() - t;
    MCA_BTL_CMA_COUNT(hugepage_advised, 1);
    MCA_BTL_CMA_COUNT(hugepage_advise_us, (uint64_t) t);
    MCA_BTL_CMA_VERBOSE(10, "%s of %zu bytes at %p: %s in %.0f us",
                        advice == MADV_COLLAPSE ? "MADV_COLLAPSE" : "MADV_HUGEPAGE", (size_t) (hi - lo),
                        (void *) lo, rc ? strerror(err) : "done", t);
    e->huge = mca_btl_cma_huge_bytes((void *) e->base, e->len);
}

bool mca_btl_cma_send_buffer_on_huge_pages(const void *base, size_t len)
{
    const mca_btl_cma_component_t *c = &mca_btl_cma_component;
    if (unsupported || !lock_ready) {
        return false;
    }
    uintptr_t b = (uintptr_t) base;
    hp_entry_t *e = &cache[((b >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - 5)];
    OPAL_THREAD_LOCK(&cache_lock);
    if (e->base != b || e->len != len) {
        *e = (hp_entry_t) {.base = b, .len = len, .uses = 0, .policy_applied = false, .huge = -1};
    }
    e->uses++;
    if (e->huge < 0 || 0 == e->uses % RESCAN_EVERY) {
        e->huge = mca_btl_cma_huge_bytes(base, len);
    }
    /* "On huge pages": at least 7/8 of the bytes, so the 4 KiB-page
     * remainder cannot cost more than the huge part saves. */
    bool on_huge = e->huge >= 0 && (uint64_t) e->huge * 8 >= (uint64_t) len * 7;
    if (!on_huge && MCA_BTL_CMA_HP_NONE != c->hugepage_policy && !e->policy_applied &&
        e->uses >= c->hugepage_repeat) {
        apply_policy(e);
        on_huge = e->huge >= 0 && (uint64_t) e->huge * 8 >= (uint64_t) len * 7;
    }
    OPAL_THREAD_UNLOCK(&cache_lock);
    return on_huge;
}

void mca_btl_cma_hugepage_init(void)
{
    if (!lock_ready) {
        OBJ_CONSTRUCT(&cache_lock, opal_mutex_t);
        lock_ready = true;
    }
    memset(cache, 0, sizeof(cache));
}

void mca_btl_cma_hugepage_fini(void)
{
    if (lock_ready) {
        OBJ_DESTRUCT(&cache_lock);
        lock_ready = false;
    }
    if (pagemap_fd >= 0) {
        close(pagemap_fd);
        pagemap_fd = -1;
    }
}
