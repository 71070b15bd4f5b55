/*
 * Measured protocol thresholds.  Whether single copy (process_vm_readv)
 * beats the two-copy ring pipeline depends on the machine: on a VM with
 * 4 KiB pages the kernel's per-page pinning caps it near 13 GB/s while a
 * memcpy runs at 50+ GB/s, on bare metal with many NUMA nodes the balance
 * differs.  So at startup each process times, in a few milliseconds, a
 * memcpy and a process_vm_readv of its own memory (the same kernel path as
 * reading a peer) and derives btl_cma_single_copy_min from the two; a
 * second process_vm_readv from a buffer on transparent huge pages, where
 * the kernel pins 512 times fewer pages, gives btl_cma_single_copy_min_huge
 * (skipped when THP is off or the kernel cannot report huge pages).  The
 * result is cached per host, CPU count, kernel and THP mode in a text file
 * the user can read and delete; a value given explicitly by the user wins.
 * One job started while the node is busy would measure low rates, so the
 * first CAL_SAMPLES jobs each measure again and the cache keeps each rate's
 * best; later jobs only read it.
 * A process that cannot read even its own memory (a seccomp profile such
 * as Docker's default, an LSM) measures and caches nothing: the denial
 * belongs to that job, not to the machine, and a cached "never" would
 * take single copy from every later job that is allowed it.
 */
#include "btl_cma.h"
#include "btl_cma_hugepage.h"

#include "opal/mca/base/mca_base_var.h"
#include "opal/util/proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define CAL_BYTES (1u << 20)
#define CAL_REPS 7
#define CAL_WAIT_MS 500
#define CAL_HUGE_PAGE ((size_t) 2 << 20)
/* Cache files of another format are measured again (3: the thresholds
 * of format 2 came from other constants). */
#define CAL_FORMAT 3
/* Jobs that measure before the cache is final.  On the development VM a
 * busy phase halves memory bandwidth for minutes at a time; four jobs
 * started at different times rarely all fall into one. */
#define CAL_SAMPLES 4

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* Best of CAL_REPS: the machine is shared, the fastest run is the one
 * least disturbed. */
static double time_memcpy(char *dst, const char *src)
{
    double best = 1e9;
    for (int r = 0; r < CAL_REPS; ++r) {
        double t = now_s();
        memcpy(dst, src, CAL_BYTES);
        __asm__ __volatile__("" ::"r"(dst) : "memory");
        t = now_s() - t;
        best = t < best ? t : best;
    }
    return best;
}

static double time_cma_self(char *dst, char *src)
{
    double best = 1e9;
    pid_t me = getpid();
    for (int r = 0; r < CAL_REPS; ++r) {
        struct iovec l = {.iov_base = dst, .iov_len = CAL_BYTES};
        struct iovec rm = {.iov_base = src, .iov_len = CAL_BYTES};
        double t = now_s();
        ssize_t n = process_vm_readv(me, &l, 1, &rm, 1, 0);
        t = now_s() - t;
        if (n != (ssize_t) CAL_BYTES) {
            return -1.0;
        }
        best = t < best ? t : best;
    }
    return best;
}

/* The same read from a source on one transparent huge page; -1 when the
 * kernel gives none (THP "never", no PAGEMAP_SCAN to confirm it, no memory
 * to spare), in which case huge pages simply never change the protocol. */
static double time_cma_huge(char *dst)
{
    if (!mca_btl_cma_hugepage_supported(NULL)) {
        return -1.0;
    }
    size_t len = 2 * CAL_HUGE_PAGE;
    char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (MAP_FAILED == mem) {
        return -1.0;
    }
    char *src = (char *) (((uintptr_t) mem + CAL_HUGE_PAGE - 1) & ~(uintptr_t) (CAL_HUGE_PAGE - 1));
    double t = -1.0;
    if (0 == madvise(src, CAL_HUGE_PAGE, MADV_HUGEPAGE)) {
        memset(src, 1, CAL_BYTES);
        if (mca_btl_cma_huge_bytes(src, CAL_BYTES) == (int64_t) CAL_BYTES) {
            t = time_cma_self(dst, src);
        }
    }
    munmap(mem, len);
    return t;
}

static void cache_key(char *key, size_t len)
{
    struct utsname u;
    char thp[64] = "unknown";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(thp, sizeof(thp), f)) {
            snprintf(thp, sizeof(thp), "unknown");
        }
        fclose(f);
        thp[strcspn(thp, "\n")] = '\0';
        for (char *p = thp; *p; ++p) {
            if (*p == ' ') {
                *p = '_';
            }
        }
    }
    uname(&u);
    snprintf(key, len, "%s/%ld/%s/%s", u.nodename, sysconf(_SC_NPROCESSORS_ONLN), u.release, thp);
}

static void default_cache_path(char *path, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) {
        snprintf(path, len, "%s/btl-cma/calibration", xdg);
    } else if (home && *home) {
        snprintf(path, len, "%s/.cache/btl-cma/calibration", home);
    } else {
        path[0] = '\0';
    }
}

/* 0 when process_vm_readv can read this process's own memory, else the
 * errno that refused it. */
static int probe_self_read(void)
{
    char src[64] = {1}, dst[64];
    struct iovec l = {.iov_base = dst, .iov_len = sizeof(dst)};
    struct iovec r = {.iov_base = src, .iov_len = sizeof(src)};
    if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t) sizeof(src)) {
        return 0;
    }
    return errno ? errno : EIO;
}

static bool read_cache(const char *path, const char *key, mca_btl_cma_calibration_t *cal)
{
    FILE *f = fopen(path, "r");
    char line[512], k[300] = "";
    bool ok = false;
    if (!f) {
        return false;
    }
    mca_btl_cma_calibration_t c = {0};
    int format = 0, fields = 0;
    c.samples = 1; /* files written before samples were counted hold one */
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "key %299s", k) == 1 || sscanf(line, "format %d", &format) == 1 ||
            sscanf(line, "samples %u", &c.samples) == 1) {
            continue;
        }
        fields += sscanf(line, "memcpy_gbps %lf", &c.memcpy_gbps);
        fields += sscanf(line, "single_copy_gbps %lf", &c.cma_gbps);
        fields += sscanf(line, "single_copy_huge_gbps %lf", &c.cma_huge_gbps);
        fields += sscanf(line, "single_copy_min %zu", &c.single_copy_min);
        fields += sscanf(line, "single_copy_min_huge %zu", &c.single_copy_min_huge);
    }
    fclose(f);
    ok = CAL_FORMAT == format && 5 == fields;
    /* single_copy_gbps 0 is what a measurement under a seccomp denial left
     * in the files of versions before the probe: measure such files again. */
    if (!ok || strcmp(k, key) != 0 || c.memcpy_gbps <= 0 || c.cma_gbps <= 0 || c.samples < 1) {
        return false;
    }
    *cal = c;
    if (cal->samples > CAL_SAMPLES) {
        cal->samples = CAL_SAMPLES; /* an edited file: it is final */
    }
    cal->from_cache = true;
    return true;
}

/* The directory of path ("." for a bare file name). */
static void cache_dir(const char *path, char *dir, size_t len)
{
    snprintf(dir, len, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        snprintf(dir, len, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
}

/* 0 when this process can replace the cache, else why not.  It writes a
 * new file and renames it over the old one, so what counts is the
 * directory, not the file's own mode. */
static int cache_unwritable(const char *path)
{
    char dir[PATH_MAX];
    cache_dir(path, dir, sizeof(dir));
    /* A directory still to be created: what counts is the nearest one that
     * exists, in which it would be made. */
    while (0 != access(dir, F_OK) && ENOENT == errno && strcmp(dir, ".") && strcmp(dir, "/")) {
        char parent[PATH_MAX];
        cache_dir(dir, parent, sizeof(parent));
        memcpy(dir, parent, sizeof(dir));
    }
    return 0 == access(dir, W_OK) ? 0 : errno;
}

/* 0, or the errno that kept the cache from being written. */
static int write_cache(const char *path, const char *key, const mca_btl_cma_calibration_t *cal)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    cache_dir(path, dir, sizeof(dir));
    /* mkdir -p of at most two levels (~/.cache/btl-cma); a failure other
     * than "exists" is the cause to report. */
    char *mid = strrchr(dir, '/');
    if (mid && mid != dir) {
        *mid = '\0';
        if (mkdir(dir, 0700) != 0 && EEXIST != errno) {
            return errno;
        }
        *mid = '/';
    }
    if (mkdir(dir, 0700) != 0 && EEXIST != errno) {
        return errno;
    }
    /* Write then rename: concurrent jobs never see half a file. */
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int) getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return errno ? errno : EIO;
    }
    fprintf(f,
            "# btl-cma calibration: the best rates of %u measurement(s) taken at the startup of a job\n"
            "# (the first %d jobs on this machine each measure; process %d wrote this); delete this file\n"
            "# to measure again.\n"
            "# single_copy_min: smallest message sent with process_vm_readv (%zu = never, the ring\n"
            "# pipeline is faster at every size on this machine); single_copy_min_huge: the same for\n"
            "# send buffers on huge pages (single_copy_huge_gbps 0: not measured, THP unavailable).\n"
            "# Override with --mca btl_cma_single_copy_min / btl_cma_single_copy_min_huge.\n"
            "format %d\nkey %s\nsamples %u\nmemcpy_gbps %.2f\nsingle_copy_gbps %.2f\nsingle_copy_huge_gbps %.2f\n"
            "single_copy_min %zu\nsingle_copy_min_huge %zu\n",
            cal->samples, CAL_SAMPLES, (int) getpid(), SIZE_MAX, CAL_FORMAT, key, cal->samples, cal->memcpy_gbps,
            cal->cma_gbps, cal->cma_huge_gbps, cal->single_copy_min, cal->single_copy_min_huge);
    int err = 0;
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        err = errno ? errno : EIO;
        (void) unlink(tmp);
    }
    return err;
}

/* The pipeline moves a fragment with one copy on each side plus a ring
 * handshake per fragment; single copy is one kernel copy that also pins
 * every source page, after a rendezvous round trip.  The model: the
 * pipeline delivers a fraction of the memcpy rate measured here, single
 * copy starts fixed_s behind, and it is chosen from the size at which its
 * per-byte advantage has paid for fixed_s, never below 32 KiB, never when
 * it is not faster per byte.  Its constants are fitted to what the
 * development VM measured side by side (bench/README.md): from 4 KiB
 * pages single copy lost to the rings at every size (1/2 of memcpy, 2 us
 * keeps it off there); from huge pages it overtook them between 16 and
 * 32 KiB (1/3, 1 us: a read of one's own huge page, which is what can be
 * timed here, runs at about 27 GB/s where another process's read ran at
 * 46-52). */
static size_t derive_threshold(double memcpy_gbps, double cma_gbps, double pipeline_share, double fixed_s)
{
    const double pipeline_gbps = memcpy_gbps * pipeline_share;
    if (cma_gbps <= pipeline_gbps) {
        return SIZE_MAX;
    }
    double per_byte_gain = 1.0 / (pipeline_gbps * 1e9) - 1.0 / (cma_gbps * 1e9);
    double s = fixed_s / per_byte_gain;
    size_t min = (size_t) 32 * 1024;
    return s < (double) min ? min : (size_t) s;
}

static void derive_thresholds(mca_btl_cma_calibration_t *cal)
{
    cal->single_copy_min =
        cal->cma_gbps > 0 ? derive_threshold(cal->memcpy_gbps, cal->cma_gbps, 0.5, 2e-6) : SIZE_MAX;
    cal->single_copy_min_huge =
        cal->cma_huge_gbps > 0 ? derive_threshold(cal->memcpy_gbps, cal->cma_huge_gbps, 1.0 / 3.0, 1e-6) : SIZE_MAX;
}

static void measure(mca_btl_cma_calibration_t *cal)
{
    size_t len = 3 * (size_t) CAL_BYTES;
    char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(cal, 0, sizeof(*cal));
    if (MAP_FAILED == mem) {
        return;
    }
    /* Most user buffers sit on 4 KiB pages (THP is often "madvise"), and
     * the page size of the source is what single copy's speed depends on. */
    (void) madvise(mem, len, MADV_NOHUGEPAGE);
    memset(mem, 1, len);
    char *src = mem, *dst = mem + CAL_BYTES;
    double t_mem = time_memcpy(dst, src);
    double t_cma = time_cma_self(dst, src);
    double t_huge = time_cma_huge(dst);
    munmap(mem, len);
    cal->memcpy_gbps = (double) CAL_BYTES / t_mem / 1e9;
    cal->cma_gbps = t_cma > 0 ? (double) CAL_BYTES / t_cma / 1e9 : 0.0;
    cal->cma_huge_gbps = t_huge > 0 ? (double) CAL_BYTES / t_huge / 1e9 : 0.0;
    cal->samples = 1;
    derive_thresholds(cal);
}

/* Fold a new measurement into the cached one: each rate keeps its best,
 * since a busy node only ever slows a measurement down. */
static void merge(mca_btl_cma_calibration_t *cal, const mca_btl_cma_calibration_t *fresh)
{
    cal->memcpy_gbps = fresh->memcpy_gbps > cal->memcpy_gbps ? fresh->memcpy_gbps : cal->memcpy_gbps;
    cal->cma_gbps = fresh->cma_gbps > cal->cma_gbps ? fresh->cma_gbps : cal->cma_gbps;
    cal->cma_huge_gbps = fresh->cma_huge_gbps > cal->cma_huge_gbps ? fresh->cma_huge_gbps : cal->cma_huge_gbps;
    cal->samples += 1;
    cal->from_cache = false;
    derive_thresholds(cal);
}

static bool user_set(const char *name)
{
    int idx = mca_base_var_find("opal", "btl", "cma", name);
    mca_base_var_source_t source = MCA_BASE_VAR_SOURCE_DEFAULT;
    if (idx >= 0 && OPAL_SUCCESS == mca_base_var_get_value(idx, NULL, &source, NULL)) {
        return source != MCA_BASE_VAR_SOURCE_DEFAULT;
    }
    return false;
}

static void describe_threshold(char *buf, size_t len, size_t min)
{
    if (SIZE_MAX == min) {
        snprintf(buf, len, "never (the pipeline is faster)");
    } else {
        snprintf(buf, len, "from %zu bytes", min);
    }
}

void mca_btl_cma_calibrate(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    mca_btl_cma_calibration_t *cal = &c->calibration;
    char key[512], path[PATH_MAX];

    /* single_copy=cma means the user wants single copy for large messages
     * whatever the measurement says: keep the default threshold. */
    bool min_set = user_set("single_copy_min"), huge_set = user_set("single_copy_min_huge");
    if (MCA_BTL_CMA_SC_AUTO != c->single_copy || MCA_BTL_CMA_CAL_OFF == c->calibration_mode ||
        (min_set && huge_set)) {
        return;
    }
    int denied = probe_self_read();
    if (denied) {
        MCA_BTL_CMA_VERBOSE(1,
                            "calibration skipped: process_vm_readv cannot read even this process (%s); single copy "
                            "is not measured and nothing is cached",
                            strerror(denied));
        return;
    }
    cache_key(key, sizeof(key));
    if (c->calibration_file && *c->calibration_file) {
        snprintf(path, sizeof(path), "%s", c->calibration_file);
    } else {
        default_cache_path(path, sizeof(path));
    }
    if (!path[0]) {
        MCA_BTL_CMA_VERBOSE(1, "no calibration cache: neither XDG_CACHE_HOME nor HOME is set (set "
                               "btl_cma_calibration_file to keep one); every job measures");
    }
    bool auto_mode = MCA_BTL_CMA_CAL_AUTO == c->calibration_mode && path[0];
    bool cached = auto_mode && read_cache(path, key, cal);
    /* Where local rank 0 cannot write the cache (a shared read-only file
     * an administrator provides), nobody waits for it: a cache of fewer
     * samples is used as it is, and without one each process measures. */
    int werr = path[0] ? cache_unwritable(path) : ENOENT;
    bool writable = 0 == werr;
    if (auto_mode && !writable && (!cached || cal->samples < CAL_SAMPLES) && 0 == c->local_rank) {
        MCA_BTL_CMA_VERBOSE(1, "calibration cache %s cannot be written (%s): %s", path, strerror(werr),
                            cached ? "its values are used as they are" : "every job measures again");
    }
    if (auto_mode && writable && 0 != c->local_rank && (!cached || cal->samples < CAL_SAMPLES)) {
        /* Local rank 0 measures and writes the cache; measuring beside it
         * would halve both its memory bandwidth and its CPU on a small
         * node (two ranks on two cores read huge-page copies at half speed
         * and once cached "never").  Its few milliseconds are worth
         * waiting for, up to CAL_WAIT_MS; after that a cache of fewer
         * samples is still a measurement of this machine. */
        MCA_BTL_CMA_VERBOSE(10, "waiting up to %d ms for local rank 0 to update the calibration cache %s",
                            CAL_WAIT_MS, path);
        unsigned seen = cached ? cal->samples : 0;
        mca_btl_cma_calibration_t next;
        for (int ms = 0; ms < CAL_WAIT_MS; ms += 2) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            if (read_cache(path, key, &next) && next.samples > seen) {
                *cal = next;
                cached = true;
                break;
            }
        }
    }
    /* cached: the values in use came straight from the file. */
    bool merged = false;
    if (!cached || (0 == c->local_rank && auto_mode && writable && cal->samples < CAL_SAMPLES)) {
        mca_btl_cma_calibration_t fresh;
        measure(&fresh);
        /* A read refused after the probe passed (a limit hit mid-way) is no
         * measurement of the machine either. */
        bool sound = fresh.memcpy_gbps > 0 && fresh.cma_gbps > 0;
        if (!sound && !cached) {
            return;
        }
        if (sound) {
            if (cached) {
                merge(cal, &fresh);
                merged = true;
                cached = false;
            } else {
                *cal = fresh;
            }
            if (0 == c->local_rank && writable) {
                int err = write_cache(path, key, cal);
                if (err) {
                    MCA_BTL_CMA_VERBOSE(1, "calibration cache %s not written: %s", path, strerror(err));
                }
            }
        }
    }
    if (!min_set) {
        c->single_copy_min = cal->single_copy_min;
    }
    if (!huge_set) {
        c->single_copy_min_huge = cal->single_copy_min_huge;
    }
    char when[64], when_huge[64], origin[PATH_MAX + 64];
    describe_threshold(when, sizeof(when), cal->single_copy_min);
    describe_threshold(when_huge, sizeof(when_huge), cal->single_copy_min_huge);
    if (cached) {
        snprintf(origin, sizeof(origin), "cached in %s", path);
    } else if (merged) {
        snprintf(origin, sizeof(origin), "measured, merged into %s", path);
    } else {
        snprintf(origin, sizeof(origin), "measured");
    }
    MCA_BTL_CMA_VERBOSE(1,
                        "calibration (%s; best of %u of the %d measurements a machine gets): memcpy %.1f GB/s, "
                        "process_vm_readv %.1f GB/s from 4 KiB pages and %.1f GB/s from huge pages: single copy %s, "
                        "from huge pages %s",
                        origin, cal->samples, CAL_SAMPLES, cal->memcpy_gbps, cal->cma_gbps, cal->cma_huge_gbps, when,
                        when_huge);
}
