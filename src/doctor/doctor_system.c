/*
 * Facts about the kernel and the environment the doctor runs in, read from
 * /proc, /sys and statvfs without side effects: Yama's ptrace_scope, the
 * effective capabilities and seccomp mode of this process, signs of a
 * container or user namespace, the size and free space of /dev/shm, the
 * transparent-huge-page modes and the number of online CPUs.  Ranks started
 * from the same shell inherit the same capabilities, seccomp filter and
 * namespaces, so what holds for the doctor holds for them.
 */
#define _GNU_SOURCE
#include "doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CAP_SYS_PTRACE_BIT 19

static int read_first_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return -errno;
    }
    int ok = fgets(buf, (int) len, f) != NULL;
    fclose(f);
    if (!ok) {
        return -EIO;
    }
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* "always [madvise] never" -> "madvise" */
static void bracketed(const char *path, char *out, size_t len)
{
    char line[256];
    out[0] = '\0';
    if (read_first_line(path, line, sizeof(line)) != 0) {
        return;
    }
    const char *open = strchr(line, '[');
    const char *close = open ? strchr(open, ']') : NULL;
    if (open && close) {
        snprintf(out, len, "%.*s", (int) (close - open - 1), open + 1);
    } else {
        snprintf(out, len, "%.*s", (int) len - 1, line);
    }
}

static void read_status(struct doctor_system *s)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        int i;
        if (sscanf(line, "CapEff: %llx", &v) == 1) {
            s->have_capeff = 1;
            s->capeff = v;
            s->cap_sys_ptrace = (int) ((v >> CAP_SYS_PTRACE_BIT) & 1);
        } else if (sscanf(line, "Seccomp: %d", &i) == 1) {
            s->seccomp = i;
        } else if (sscanf(line, "Seccomp_filters: %d", &i) == 1) {
            s->seccomp_filters = i;
        }
    }
    fclose(f);
}

static int file_mentions(const char *path, const char *const words[], const char **which)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    if (!f) {
        return 0;
    }
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        for (int i = 0; words[i]; ++i) {
            if (strstr(line, words[i])) {
                *which = words[i];
                found = 1;
                break;
            }
        }
    }
    fclose(f);
    return found;
}

/* Runtimes leave marker files; cgroup v1 paths name the runtime; init's
 * environment carries container= for podman, LXC and systemd-nspawn.  None
 * is proof, each is a good hint, and the hint is printed with the verdict. */
static void detect_container(struct doctor_system *s)
{
    static const char *const runtimes[] = {"docker", "kubepods", "containerd", "libpod", "lxc", "crio", NULL};
    const char *which = NULL;
    if (access("/.dockerenv", F_OK) == 0) {
        s->container = "Docker";
        s->container_hint = "/.dockerenv exists";
    } else if (access("/run/.containerenv", F_OK) == 0) {
        s->container = "Podman";
        s->container_hint = "/run/.containerenv exists";
    } else if (file_mentions("/proc/1/cgroup", runtimes, &which) ||
               file_mentions("/proc/self/cgroup", runtimes, &which)) {
        s->container = which;
        s->container_hint = "its name is in the cgroup path";
    } else {
        FILE *f = fopen("/proc/1/environ", "r");
        if (f) {
            static char value[64];
            char var[256];
            size_t n = 0;
            int c;
            /* NUL-separated VAR=value entries. */
            while ((c = fgetc(f)) != EOF) {
                if (c != '\0' && n < sizeof(var) - 1) {
                    var[n++] = (char) c;
                    continue;
                }
                var[n] = '\0';
                n = 0;
                if (strncmp(var, "container=", 10) == 0 && var[10]) {
                    snprintf(value, sizeof(value), "%.63s", var + 10);
                    s->container = value;
                    s->container_hint = "init's environment says container=";
                    break;
                }
            }
            fclose(f);
        }
    }
    /* Rootless containers map a few ids only; the host has the identity map
     * "0 0 4294967295".  Processes in another user namespace than their
     * peers' cannot read them, which matters for mixed launchers. */
    FILE *m = fopen("/proc/self/uid_map", "r");
    if (m) {
        unsigned long a, b, c;
        if (fscanf(m, "%lu %lu %lu", &a, &b, &c) == 3 && !(a == 0 && b == 0 && c == 4294967295ul)) {
            s->user_ns = 1;
        }
        fclose(m);
    }
}

/* The component tells huge-page send buffers apart with the PAGEMAP_SCAN
 * ioctl (Linux 6.7+); ask it about one page of our own stack.  Its ABI is
 * spelled out for kernel headers that predate it. */
static int probe_pagemap_scan(void)
{
    struct {
        uint64_t start, end, categories;
    } vec[1];
    struct {
        uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask,
            category_anyof_mask, return_mask;
    } arg;
    static char page[8192];
    uintptr_t start = ((uintptr_t) page + 4095) & ~(uintptr_t) 4095;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    memset(&arg, 0, sizeof(arg));
    arg.size = sizeof(arg);
    arg.start = start;
    arg.end = start + 4096;
    arg.vec = (uint64_t) (uintptr_t) vec;
    arg.vec_len = 1;
    arg.category_mask = 1 << 6;  /* PAGE_IS_HUGE */
    arg.return_mask = 1 << 6;
    int rc = ioctl(fd, _IOWR('f', 16, arg), &arg);
    int err = rc < 0 ? errno : 0;
    close(fd);
    return err;
}

void doctor_system_gather(struct doctor_system *s)
{
    memset(s, 0, sizeof(*s));
    s->yama = -1;
    s->seccomp = -1;
    s->seccomp_filters = -1;
    char line[64];
    if (read_first_line("/proc/sys/kernel/yama/ptrace_scope", line, sizeof(line)) == 0) {
        s->yama = atoi(line);
    }
    read_status(s);
    detect_container(s);
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) == 0) {
        s->shm_ok = 1;
        s->shm_size = (uint64_t) vfs.f_blocks * vfs.f_frsize;
        s->shm_free = (uint64_t) vfs.f_bavail * vfs.f_frsize;
    } else {
        s->shm_errno = errno;
    }
    bracketed("/sys/kernel/mm/transparent_hugepage/enabled", s->thp, sizeof(s->thp));
    bracketed("/sys/kernel/mm/transparent_hugepage/shmem_enabled", s->thp_shmem, sizeof(s->thp_shmem));
    s->pagemap_scan_errno = probe_pagemap_scan();
    s->online_cpus = sysconf(_SC_NPROCESSORS_ONLN);
}
