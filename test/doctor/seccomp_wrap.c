/*
 * seccomp_wrap ACTION CALL[,CALL...] PROGRAM [ARGS...]: runs PROGRAM under a
 * seccomp filter that answers the named system calls with ACTION (eperm,
 * enosys: fail with that errno; kill: kill the calling process with SIGSYS)
 * and allows everything else.  It lets the doctor's tests reproduce the
 * container profiles the doctor must recognise (a call refused, a call
 * unknown to an old profile, a call that kills) on an ordinary machine.
 * "seccomp_wrap --check" exits 0 where such filters can be built, 77 where
 * this architecture is not supported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define WRAP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define WRAP_ARCH AUDIT_ARCH_AARCH64
#endif
/* Numbers shared by every architecture since Linux 5.1's unified table. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS SECCOMP_RET_KILL
#endif

#define MAX_CALLS 8

static long call_number(const char *name)
{
    static const struct {
        const char *name;
        long nr;
    } calls[] = {
        {"process_vm_readv", SYS_process_vm_readv},
        {"process_vm_writev", SYS_process_vm_writev},
        {"memfd_create", SYS_memfd_create},
        {"pidfd_open", SYS_pidfd_open},
        {"pidfd_getfd", SYS_pidfd_getfd},
    };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); ++i) {
        if (strcmp(calls[i].name, name) == 0) {
            return calls[i].nr;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
#ifndef WRAP_ARCH
    fprintf(stderr, "seccomp_wrap: this architecture is not supported\n");
    return 77;
#else
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        return 0;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: seccomp_wrap eperm|enosys|kill CALL[,CALL...] PROGRAM [ARGS...]\n");
        return 2;
    }
    unsigned action;
    if (strcmp(argv[1], "eperm") == 0) {
        action = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
    } else if (strcmp(argv[1], "enosys") == 0) {
        action = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
    } else if (strcmp(argv[1], "kill") == 0) {
        action = SECCOMP_RET_KILL_PROCESS;
    } else {
        fprintf(stderr, "seccomp_wrap: unknown action '%s'\n", argv[1]);
        return 2;
    }
    long nrs[MAX_CALLS];
    int n = 0;
    char *list = strdup(argv[2]), *save = NULL;
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (n == MAX_CALLS || (nrs[n] = call_number(name)) < 0) {
            fprintf(stderr, "seccomp_wrap: unknown or too many calls at '%s'\n", name);
            return 2;
        }
        ++n;
    }
    free(list);

    /* arch check, load nr, one compare per call (jumping to the final
     * "deny"), "allow", "deny". */
    struct sock_filter f[4 + MAX_CALLS + 2];
    int k = 0;
    f[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WRAP_ARCH, 1, 0);
    f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < n; ++i) {
        /* From compare i, "deny" lies n - i instructions ahead. */
        f[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned) nrs[i],
                                               (unsigned char) (n - i), 0);
    }
    f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, action);
    struct sock_fprog prog = {.len = (unsigned short) k, .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp_wrap: installing the filter");
        return 1;
    }
    execvp(argv[3], argv + 3);
    perror("seccomp_wrap: exec");
    return 127;
#endif
}
