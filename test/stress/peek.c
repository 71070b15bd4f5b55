/*
 * peek: tries, as whatever user runs it, to get at the memory of an MPI
 * rank by each way a process outside the job could: opening the rank's
 * shared-segment descriptor through /proc/PID/fd/N, taking it with
 * pidfd_getfd, reading the rank's memory with process_vm_readv, and
 * opening a shared-memory file by name.  It reports each attempt on one
 * line as "METHOD: allowed" or "METHOD: denied (errno text)"; t-access.sh
 * runs it as the job's user (everything must be allowed: proves the probe
 * works) and as another user (everything must be denied).  Not an MPI
 * program, though built with mpicc like the rest of the directory.
 *
 * Usage: peek PID FD ADDR LEN [FILE...]
 *   FD    the segment descriptor in PID, or -1 to skip the two fd methods
 *   ADDR  address in PID of LEN readable bytes (hex), or 0 to skip
 *   FILE  paths to open read-only (e.g. /dev/shm names, /proc/PID/map_files)
 * Exit status: the number of attempts that were allowed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int allowed;

static void report(const char *method, int ok, int err)
{
    if (ok) {
        printf("%s: allowed\n", method);
        ++allowed;
    } else {
        printf("%s: denied (%s)\n", method, strerror(err));
    }
}

/* An open descriptor is only half the story: mapping it proves the
 * segment's contents would be reachable. */
static int can_map(int fd)
{
    void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return 0;
    }
    volatile unsigned char c = *(unsigned char *) p;
    (void) c;
    munmap(p, 4096);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: peek PID FD ADDR LEN [FILE...]\n");
        return 255;
    }
    pid_t pid = (pid_t) atoi(argv[1]);
    int fd = atoi(argv[2]);
    unsigned long addr = strtoul(argv[3], NULL, 16);
    size_t len = strtoul(argv[4], NULL, 0);
    char what[512];

    if (fd >= 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int) pid, fd);
        int got = open(path, O_RDONLY | O_CLOEXEC);
        int e = errno;
        snprintf(what, sizeof(what), "open %s", path);
        report(what, got >= 0 && can_map(got), got >= 0 ? EACCES : e);
        if (got >= 0) {
            close(got);
        }

        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        e = errno;
        got = -1;
        if (pidfd >= 0) {
            got = (int) syscall(SYS_pidfd_getfd, pidfd, fd, 0);
            e = errno;
            close(pidfd);
        }
        snprintf(what, sizeof(what), "pidfd_getfd(%d, %d)", (int) pid, fd);
        report(what, got >= 0 && can_map(got), got >= 0 ? EACCES : e);
        if (got >= 0) {
            close(got);
        }
    }
    if (addr && len) {
        char *buf = malloc(len);
        struct iovec l = {.iov_base = buf, .iov_len = len}, r = {.iov_base = (void *) addr, .iov_len = len};
        ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
        int e = errno;
        snprintf(what, sizeof(what), "process_vm_readv(%d, %#lx, %zu)", (int) pid, addr, len);
        report(what, n == (ssize_t) len, n < 0 ? e : EIO);
        free(buf);
    }
    for (int i = 5; i < argc; ++i) {
        int got = open(argv[i], O_RDONLY | O_CLOEXEC);
        int e = errno;
        snprintf(what, sizeof(what), "open %s", argv[i]);
        report(what, got >= 0 && can_map(got), got >= 0 ? EACCES : e);
        if (got >= 0) {
            close(got);
        }
    }
    return allowed;
}
