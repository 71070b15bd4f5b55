/*
 * Shared segments that leave nothing behind.  The preferred kind is an
 * anonymous memfd: it has no name, so a process killed at any moment leaves
 * no file; peers obtain the descriptor with pidfd_getfd() or by opening
 * /proc/PID/fd/N.  Where memfd is missing, or peers may not read the
 * creator's descriptors (non-dumpable process, Yama, seccomp), a POSIX shm
 * name is used instead; its creator writes an attach counter into the
 * segment's first bytes and the last expected peer to attach removes the
 * name, and any creator removes names whose creating process is gone (in
 * its own PID namespace, which the name records).
 */
#define _GNU_SOURCE
#include "shm_ring.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#include "shm_error.h"

#define POSIX_PREFIX "btl_cma."

/* The library's bytes at the start of every segment (SHM_SEGMENT_RESERVED). */
typedef struct segment_header {
    _Atomic uint32_t attach_count; /* POSIX: peers attached so far */
    uint32_t reserved;
    uint64_t id;                   /* must match the description's */
} segment_header_t;
_Static_assert(sizeof(segment_header_t) <= SHM_SEGMENT_RESERVED, "segment header fits the reserved bytes");

static uint64_t new_id(void)
{
    uint64_t id = 0;
    if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t) sizeof(id) || id == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        id = ((uint64_t) getpid() << 32) ^ (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 20) ^ (uintptr_t) &id;
    }
    return id | 1; /* never 0, the value of a fresh file */
}

static size_t page_round(size_t size)
{
    size_t pg = (size_t) sysconf(_SC_PAGESIZE);
    return (size + pg - 1) / pg * pg;
}

static const char *space_hint(int e)
{
    switch (e) {
    case ENOSPC:
        return "the shared-memory file system is full or too small (check 'df /dev/shm'; "
               "in a container raise --shm-size), or reduce the segment size";
    case ENOMEM:
        return "the system or this process's memory limit is exhausted; reduce the segment size";
    case EMFILE:
    case ENFILE:
        return "too many open files; raise 'ulimit -n'";
    case EACCES:
    case EPERM:
        return "permission denied on /dev/shm; check its mode (1777) and mount options";
    case ENOSYS:
        return "this kernel lacks the call; use the other segment kind";
    case EROFS:
        return "the shared-memory file system is mounted read-only; use a memfd segment or remount it "
               "read-write";
    default:
        return "the system error just named is its cause";
    }
}

static int size_segment(int fd, size_t size, unsigned flags, const char *what, shm_error_t *err)
{
    /* Growing a file past RLIMIT_FSIZE raises SIGXFSZ, which kills the
     * process by default: refuse beforehand with an error instead. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (rlim_t) size > rl.rlim_cur) {
        return shm_error_set(err, -EFBIG,
                             "a %zu-byte %s segment exceeds the file size limit of %llu bytes (ulimit -f); "
                             "raise the limit or reduce the segment size",
                             size, what, (unsigned long long) rl.rlim_cur);
    }
    if (ftruncate(fd, (off_t) size) != 0) {
        int e = errno;
        return shm_error_set(err, -e, "sizing a %zu-byte %s segment failed: %s; %s", size, what,
                             strerror(e), space_hint(e));
    }
    if (flags & SHM_SEGMENT_PREALLOCATE) {
        int e = posix_fallocate(fd, 0, (off_t) size);
        if (e != 0 && e != EOPNOTSUPP && e != EINVAL) {
            return shm_error_set(err, -e, "reserving %zu bytes for a %s segment failed: %s; %s", size,
                                 what, strerror(e), space_hint(e));
        }
    }
    return 0;
}

static int map_segment(shm_segment_t *seg, int fd, size_t size, shm_error_t *err)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        return shm_error_set(err, -e, "mapping a %zu-byte shared segment failed: %s; %s", size,
                             strerror(e), space_hint(e));
    }
    seg->base = p;
    seg->size = size;
    return 0;
}

/* This process's PID namespace (the inode of /proc/self/ns/pid), or 0 when
 * it cannot be known.  It is part of every POSIX segment name: a pid means
 * something only inside its namespace, and containers that share /dev/shm
 * (docker --ipc=host, the containers of a Kubernetes pod) each have their
 * own, where another one's live creator looks gone. */
static unsigned long pid_namespace(void)
{
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long) st.st_ino : 0;
}

/* Remove POSIX segment names whose creator no longer exists.  Only names of
 * our own prefix, owned by us and made in our PID namespace are touched. */
static void reap_stale_names(void)
{
    unsigned long ns = pid_namespace();
    if (ns == 0) {
        return; /* a name's creator cannot be judged */
    }
    DIR *d = opendir("/dev/shm");
    if (!d) {
        return;
    }
    struct dirent *de;
    uid_t me = geteuid();
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, POSIX_PREFIX, strlen(POSIX_PREFIX)) != 0) {
            continue;
        }
        /* btl_cma.<tag>.<pid namespace, hex>.<pid>.<serial> */
        const char *dot[3] = {NULL, NULL, NULL};
        const char *q = de->d_name + strlen(de->d_name);
        for (int k = 0; k < 3 && q > de->d_name;) {
            if (*--q == '.') {
                dot[k++] = q;
            }
        }
        if (!dot[2]) {
            continue;
        }
        char *end;
        unsigned long their_ns = strtoul(dot[2] + 1, &end, 16);
        long pid = strtol(dot[1] + 1, NULL, 10);
        if (end != dot[1] || their_ns != ns || pid <= 0) {
            continue;
        }
        char path[300];
        struct stat st;
        snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
        if (stat(path, &st) != 0 || st.st_uid != me) {
            continue;
        }
        if (kill((pid_t) pid, 0) != 0 && errno == ESRCH) {
            char name[300];
            snprintf(name, sizeof(name), "/%s", de->d_name);
            shm_unlink(name);
        }
    }
    closedir(d);
}

static int create_memfd(shm_segment_t *seg, size_t size, unsigned flags, const char *tag, shm_error_t *err)
{
    char name[SHM_SEGMENT_NAME_MAX];
    snprintf(name, sizeof(name), "btl_cma.%s", tag ? tag : "seg");
    int fd = (int) syscall(SYS_memfd_create, name, MFD_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return shm_error_set(err, -e, "memfd_create failed: %s; %s", strerror(e), space_hint(e));
    }
    int rc = size_segment(fd, size, flags, "memfd", err);
    if (rc == 0) {
        rc = map_segment(seg, fd, size, err);
    }
    if (rc) {
        close(fd);
        return rc;
    }
    seg->fd = fd;
    seg->kind = SHM_SEGMENT_MEMFD;
    return 0;
}

static int create_posix(shm_segment_t *seg, size_t size, unsigned flags, uint32_t nattach, const char *tag,
                        shm_error_t *err)
{
    static _Atomic unsigned serial;
    reap_stale_names();
    snprintf(seg->name, sizeof(seg->name), "/" POSIX_PREFIX "%.16s.%lx.%d.%u", tag ? tag : "seg", pid_namespace(),
             (int) getpid(), atomic_fetch_add(&serial, 1));
    int fd = shm_open(seg->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        return shm_error_set(err, -e, "creating shared memory /dev/shm%s failed: %s; %s", seg->name,
                             strerror(e), space_hint(e));
    }
    int rc = size_segment(fd, size, flags, "/dev/shm", err);
    if (rc == 0) {
        rc = map_segment(seg, fd, size, err);
    }
    close(fd);
    if (rc) {
        shm_unlink(seg->name);
        seg->name[0] = '\0';
        return rc;
    }
    seg->fd = -1;
    seg->kind = SHM_SEGMENT_POSIX;
    seg->nattach = nattach;
    seg->attach_count = &((segment_header_t *) seg->base)->attach_count;
    atomic_store_explicit(seg->attach_count, 0, memory_order_relaxed);
    return 0;
}

int shm_segment_create(shm_segment_t *seg, size_t size, int kind, unsigned flags, uint32_t nattach,
                       const char *tag, shm_error_t *err)
{
    memset(seg, 0, sizeof(*seg));
    seg->fd = -1;
    if (size == 0 || size > ((size_t) 1 << 46)) {
        return shm_error_set(err, -EINVAL, "segment size %zu is out of range", size);
    }
    size = page_round(size + SHM_SEGMENT_RESERVED);
    seg->owner = 1;
    seg->pid = getpid();
    int rc;
    switch (kind) {
    case SHM_SEGMENT_MEMFD:
        rc = create_memfd(seg, size, flags, tag, err);
        break;
    case SHM_SEGMENT_POSIX:
        rc = create_posix(seg, size, flags, nattach, tag, err);
        break;
    case SHM_SEGMENT_AUTO:
        rc = create_memfd(seg, size, flags, tag, err);
        if (rc == -ENOSYS) {
            rc = create_posix(seg, size, flags, nattach, tag, err);
        }
        break;
    default:
        rc = shm_error_set(err, -EINVAL, "unknown segment kind %d", kind);
    }
    if (rc == 0) {
        seg->id = new_id();
        ((segment_header_t *) seg->base)->id = seg->id;
        if (seg->kind == SHM_SEGMENT_POSIX && nattach == 0) {
            shm_segment_seal(seg); /* nobody will attach: no name at all */
        }
    }
    return rc;
}

void shm_segment_describe(const shm_segment_t *seg, shm_segment_desc_t *desc)
{
    memset(desc, 0, sizeof(*desc));
    desc->kind = (uint32_t) seg->kind;
    desc->pid = (int32_t) seg->pid;
    desc->fd = seg->fd;
    desc->nattach = seg->nattach;
    desc->size = seg->size;
    desc->id = seg->id;
    memcpy(desc->name, seg->name, sizeof(desc->name));
}

static int fetch_peer_fd(pid_t pid, int fd, shm_error_t *err)
{
    int e1 = 0, e2;
    int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        int got = (int) syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        e1 = errno;
        close(pidfd);
        if (got >= 0) {
            return got;
        }
    } else {
        e1 = errno;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int) pid, fd);
    int got = open(path, O_RDWR | O_CLOEXEC);
    if (got >= 0) {
        return got;
    }
    e2 = errno;
    if (e1 == EMFILE || e2 == EMFILE || e1 == ENFILE || e2 == ENFILE) {
        return shm_error_set(err, -EMFILE,
                             "cannot obtain the shared-memory descriptor of process %d: too many open files "
                             "(raise the limit, e.g. ulimit -n, to at least a few per local process)",
                             (int) pid);
    }
    if (e1 == ESRCH || e2 == ENOENT) {
        return shm_error_set(err, -ESRCH,
                             "process %d, which owns the shared segment, has exited or closed it", (int) pid);
    }
    return shm_error_set(err, -e2,
                         "cannot obtain the shared-memory descriptor of process %d (pidfd_getfd: %s, %s: %s): "
                         "the process is not dumpable, or ptrace access is restricted (Yama ptrace_scope, "
                         "a seccomp profile, a different user namespace); use POSIX segments instead",
                         (int) pid, strerror(e1), path, strerror(e2));
}

int shm_segment_attach(shm_segment_t *seg, const shm_segment_desc_t *desc, shm_error_t *err)
{
    memset(seg, 0, sizeof(*seg));
    seg->fd = -1;
    int fd;
    if (desc->size == 0 || desc->size > ((uint64_t) 1 << 46)) {
        return shm_error_set(err, -EINVAL, "segment description has an invalid size %llu",
                             (unsigned long long) desc->size);
    }
    if (desc->kind == SHM_SEGMENT_MEMFD) {
        fd = fetch_peer_fd(desc->pid, desc->fd, err);
    } else if (desc->kind == SHM_SEGMENT_POSIX) {
        char name[SHM_SEGMENT_NAME_MAX];
        memcpy(name, desc->name, sizeof(name));
        name[sizeof(name) - 1] = '\0';
        if (name[0] != '/' || strncmp(name + 1, POSIX_PREFIX, strlen(POSIX_PREFIX)) != 0 || strchr(name + 1, '/')) {
            return shm_error_set(err, -EINVAL, "segment name '%s' is not one of ours", name);
        }
        fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0) {
            int e = errno;
            return shm_error_set(err, -e, "opening /dev/shm%s of process %d failed: %s%s", name, (int) desc->pid,
                                 strerror(e),
                                 e == ENOENT ? " (its creator exited, or more peers attached than announced)"
                                             : "");
        }
        memcpy(seg->name, name, sizeof(name));
    } else {
        return shm_error_set(err, -EINVAL, "segment description has unknown kind %u", desc->kind);
    }
    if (fd < 0) {
        return fd;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t) st.st_size < desc->size) {
        close(fd);
        return shm_error_set(err, -EPROTO, "shared segment of process %d is smaller than announced",
                             (int) desc->pid);
    }
    int rc = map_segment(seg, fd, (size_t) desc->size, err);
    close(fd);
    if (rc) {
        return rc;
    }
    seg->kind = (int) desc->kind;
    seg->pid = desc->pid;
    segment_header_t *hdr = seg->base;
    if (hdr->id != desc->id) {
        munmap(seg->base, seg->size);
        seg->base = NULL;
        seg->name[0] = '\0';
        return shm_error_set(err, -ESTALE,
                             "the shared segment of process %d described to us no longer exists (its creator "
                             "closed it; the descriptor now names another file)",
                             (int) desc->pid);
    }
    seg->id = desc->id;
    if (seg->kind == SHM_SEGMENT_POSIX) {
        uint32_t n = atomic_fetch_add_explicit(&hdr->attach_count, 1, memory_order_acq_rel) + 1;
        if (n >= desc->nattach) {
            shm_unlink(seg->name);
        }
        seg->name[0] = '\0';
    }
    return 0;
}

void shm_segment_seal(shm_segment_t *seg)
{
    if (seg->owner && seg->fd >= 0) {
        close(seg->fd);
        seg->fd = -1;
    }
    if (seg->owner && seg->name[0]) {
        shm_unlink(seg->name); /* ENOENT: the last peer already removed it */
        seg->name[0] = '\0';
    }
}

void shm_segment_detach(shm_segment_t *seg)
{
    shm_segment_seal(seg);
    if (seg->fd >= 0) {
        close(seg->fd);
        seg->fd = -1;
    }
    if (seg->base) {
        munmap(seg->base, seg->size);
        seg->base = NULL;
    }
}

int shm_segment_prefault(shm_segment_t *seg, size_t offset, size_t len)
{
    if (!seg->base || offset > seg->size || len > seg->size - offset) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    size_t pg = (size_t) sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t) seg->base + offset) & ~(uintptr_t) (pg - 1);
    uintptr_t hi = (uintptr_t) seg->base + offset + len;
    /* One system call maps the whole range writable (Linux 5.14 and
     * later).  Older kernels answer EINVAL; there a read of one byte per page
     * maps it, and writable too, because shared memory asks for no
     * write-fault notification. */
    if (madvise((void *) lo, hi - lo, MADV_POPULATE_WRITE) == 0) {
        return 0;
    }
    if (errno != EINVAL) {
        return -errno;
    }
    for (uintptr_t a = lo; a < hi; a += pg) {
        (void) *(volatile const uint8_t *) a;
    }
    return 0;
}
