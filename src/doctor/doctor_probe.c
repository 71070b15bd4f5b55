/*
 * The live probes: what the kernel actually lets two processes of one user
 * do to each other, which is what decides whether cma's single copy and its
 * memfd segments work.  A publisher child exposes a word and a memfd segment
 * (through libshmring, as the component does) and sends their addresses
 * through a pipe; two reader children, siblings of the publisher exactly as
 * MPI ranks are siblings under their launcher, then try process_vm_readv,
 * pidfd_open, pidfd_getfd and shm_segment_attach on it.  Siblings matter: a
 * parent may always read its child under Yama ptrace_scope 1, ranks may not.
 * Each child records the step it is in inside a shared mapping, so a child
 * killed by a seccomp filter (SIGSYS) is still blamed on the right call, and
 * the doctor itself never makes a call that a filter might punish.
 */
#define _GNU_SOURCE
#include "doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif
#ifndef PR_SET_PTRACER_ANY
#define PR_SET_PTRACER_ANY ((unsigned long) -1)
#endif

/* Every probe is a handful of system calls; seconds mean something hangs. */
#define PROBE_TIMEOUT_MS 10000

static const char segment_text[] = "btl-cma-doctor memfd probe";

/* What the publisher sends through the pipe; smaller than PIPE_BUF, so one
 * write arrives whole. */
struct publication {
    uint64_t word_addr;
    uint64_t word;
    int memfd_rc;
    char memfd_msg[256];
    shm_segment_desc_t desc;
};

/* The word a reader fetches from the publisher.  It is set after fork, so
 * the reader's own copy (inherited from the doctor) differs: a match proves
 * the bytes came from the other process. */
static volatile uint64_t probe_word;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A seccomp filter that kills would otherwise leave core files behind. */
static void child_setup(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

/* Wait for a child up to PROBE_TIMEOUT_MS, then kill it.  Returns 1 if it
 * had to be killed. */
static int wait_child(pid_t pid, int *status)
{
    long long deadline = now_ms() + PROBE_TIMEOUT_MS;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            return 0;
        }
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
            }
            return 1;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static _Noreturn void publisher(struct doctor_probe *sh, int ready_fd, int hold_fd, int yama)
{
    child_setup();
    /* Under Yama 1 the component lets its siblings read it; do the same so
     * the probe sees what a rank would see. */
    if (yama == 1) {
        (void) prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    }
    struct publication pub;
    memset(&pub, 0, sizeof(pub));
    probe_word = 0x636d61646f63746full ^ (uint64_t) getpid(); /* "cmadoct" */
    pub.word_addr = (uint64_t) (uintptr_t) &probe_word;
    pub.word = probe_word;

    sh->pub_step = STEP_MEMFD_CREATE;
    shm_segment_t seg;
    shm_error_t err = {0};
    pub.memfd_rc = shm_segment_create(&seg, 4096, SHM_SEGMENT_MEMFD, 0, 1, "doctor", &err);
    if (pub.memfd_rc == 0) {
        memcpy((char *) seg.base + SHM_SEGMENT_RESERVED, segment_text, sizeof(segment_text));
        shm_segment_describe(&seg, &pub.desc);
    } else {
        snprintf(pub.memfd_msg, sizeof(pub.memfd_msg), "%s", err.msg);
    }
    sh->pub_step = STEP_DONE;
    if (write(ready_fd, &pub, sizeof(pub)) != (ssize_t) sizeof(pub)) {
        _exit(1);
    }
    /* Stay alive (and keep the memfd open) until the doctor closes the
     * hold pipe: readers need a live publisher. */
    char c;
    while (read(hold_fd, &c, 1) < 0 && errno == EINTR) {
    }
    if (pub.memfd_rc == 0) {
        shm_segment_detach(&seg);
    }
    _exit(0);
}

static _Noreturn void reader_single_copy(struct doctor_probe *sh, pid_t pub_pid, const struct publication *pub)
{
    child_setup();
    uint64_t mine = 0x6d696e65ull, got = 0; /* "mine" */
    struct iovec local = {&got, sizeof(got)};
    struct iovec remote = {&mine, sizeof(mine)};

    /* Reading our own memory passes every ptrace check, so a failure here
     * means the system call itself is blocked (seccomp, missing kernel
     * support), not the relation between two processes. */
    sh->r1_step = STEP_SELF_READV;
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    sh->self_readv_errno = n == (ssize_t) sizeof(got) && got == mine ? 0 : (n < 0 ? errno : EIO);

    sh->r1_step = STEP_PEER_READV;
    got = 0;
    remote.iov_base = (void *) (uintptr_t) pub->word_addr;
    n = process_vm_readv(pub_pid, &local, 1, &remote, 1, 0);
    if (n == (ssize_t) sizeof(got)) {
        sh->peer_readv_errno = 0;
        sh->readv_data_ok = got == pub->word;
    } else {
        sh->peer_readv_errno = n < 0 ? errno : EIO;
    }
    sh->r1_step = STEP_DONE;
    _exit(0);
}

static _Noreturn void reader_segment(struct doctor_probe *sh, pid_t pub_pid, const struct publication *pub)
{
    child_setup();
    sh->r2_step = STEP_PIDFD_OPEN;
    int pidfd = (int) syscall(SYS_pidfd_open, pub_pid, 0);
    sh->pidfd_open_errno = pidfd >= 0 ? 0 : errno;

    /* pidfd_getfd on our own descriptor needs no permission: it tells
     * "the kernel or a filter lacks the call" from "not allowed on a peer". */
    sh->r2_step = STEP_SELF_GETFD;
    int selffd = (int) syscall(SYS_pidfd_open, getpid(), 0);
    if (selffd >= 0) {
        int dup = (int) syscall(SYS_pidfd_getfd, selffd, selffd, 0);
        sh->self_getfd_errno = dup >= 0 ? 0 : errno;
        if (dup >= 0) {
            close(dup);
        }
        close(selffd);
    } else {
        sh->self_getfd_errno = errno;
    }

    if (pub->memfd_rc == 0) {
        sh->r2_step = STEP_PEER_GETFD;
        if (pidfd >= 0) {
            int fd = (int) syscall(SYS_pidfd_getfd, pidfd, pub->desc.fd, 0);
            sh->peer_getfd_errno = fd >= 0 ? 0 : errno;
            if (fd >= 0) {
                close(fd);
            }
        } else {
            sh->peer_getfd_errno = sh->pidfd_open_errno;
        }
        /* The real thing: the same call the component makes to map a
         * peer's receive rings (pidfd_getfd, else /proc/PID/fd/N). */
        sh->r2_step = STEP_ATTACH;
        shm_segment_t seg;
        shm_error_t err = {0};
        sh->attach_rc = shm_segment_attach(&seg, &pub->desc, &err);
        if (sh->attach_rc == 0) {
            sh->attach_data_ok =
                memcmp((char *) seg.base + SHM_SEGMENT_RESERVED, segment_text, sizeof(segment_text)) == 0;
            shm_segment_detach(&seg);
        } else {
            snprintf(sh->attach_msg, sizeof(sh->attach_msg), "%s", err.msg);
        }
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    sh->r2_step = STEP_DONE;
    _exit(0);
}

/* Read exactly one publication, or give up at the deadline or on EOF (the
 * publisher died). */
static int read_publication(int fd, struct publication *pub)
{
    size_t got = 0;
    long long deadline = now_ms() + PROBE_TIMEOUT_MS;
    while (got < sizeof(*pub)) {
        long long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int) left) == 0) {
            return -ETIMEDOUT;
        }
        ssize_t n = read(fd, (char *) pub + got, sizeof(*pub) - got);
        if (n == 0) {
            return -EPIPE;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        got += (size_t) n;
    }
    return 0;
}

static pid_t spawn_reader(struct doctor_probe *sh, int hold_w, pid_t pub_pid, const struct publication *pub,
                          int which)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* The publisher waits for every copy of the hold pipe to close. */
        close(hold_w);
        if (which == 1) {
            reader_single_copy(sh, pub_pid, pub);
        }
        reader_segment(sh, pub_pid, pub);
    }
    return pid;
}

void doctor_probe_run(struct doctor_probe *p, int yama)
{
    memset(p, 0, sizeof(*p));
    struct doctor_probe *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        snprintf(p->start_error, sizeof(p->start_error), "mmap: %s", strerror(errno));
        return;
    }
    memset(sh, 0, sizeof(*sh));
    int ready[2], hold[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        snprintf(p->start_error, sizeof(p->start_error), "pipe: %s", strerror(errno));
        munmap(sh, sizeof(*sh));
        return;
    }
    if (pipe2(hold, O_CLOEXEC) != 0) {
        snprintf(p->start_error, sizeof(p->start_error), "pipe: %s", strerror(errno));
        close(ready[0]);
        close(ready[1]);
        munmap(sh, sizeof(*sh));
        return;
    }
    fflush(NULL);
    pid_t pub_pid = fork();
    if (pub_pid == 0) {
        close(ready[0]);
        close(hold[1]);
        publisher(sh, ready[1], hold[0], yama);
    }
    close(ready[1]);
    close(hold[0]);
    if (pub_pid < 0) {
        snprintf(p->start_error, sizeof(p->start_error), "fork: %s", strerror(errno));
        close(ready[0]);
        close(hold[1]);
        munmap(sh, sizeof(*sh));
        return;
    }
    shm_peer_t watch;
    shm_error_t err = {0};
    int watching = shm_peer_watch(&watch, pub_pid, &err) == 0;
    sh->parent_pidfd = watching && watch.pidfd >= 0;

    struct publication pub;
    int rc = read_publication(ready[0], &pub);
    close(ready[0]);
    if (rc != 0) {
        kill(pub_pid, SIGKILL);
    } else {
        sh->started = 1;
        sh->memfd_rc = pub.memfd_rc;
        memcpy(sh->memfd_msg, pub.memfd_msg, sizeof(sh->memfd_msg));
        pid_t r1 = spawn_reader(sh, hold[1], pub_pid, &pub, 1);
        if (r1 > 0) {
            sh->r1_ran = 1;
            wait_child(r1, &sh->r1_status);
        }
        pid_t r2 = spawn_reader(sh, hold[1], pub_pid, &pub, 2);
        if (r2 > 0) {
            sh->r2_ran = 1;
            wait_child(r2, &sh->r2_status);
        }
    }
    /* Let the publisher go, and see whether its exit shows on the pidfd
     * before it is reaped: that is how the component notices a dead peer. */
    close(hold[1]);
    if (sh->started && sh->parent_pidfd) {
        long long deadline = now_ms() + PROBE_TIMEOUT_MS;
        while (now_ms() < deadline) {
            if (shm_peer_alive(&watch) == 0) {
                sh->exit_seen_by_pidfd = 1;
                break;
            }
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (watching) {
        shm_peer_unwatch(&watch);
    }
    wait_child(pub_pid, &sh->pub_status);
    if (!sh->started) {
        if (WIFSIGNALED(sh->pub_status)) {
            snprintf(sh->start_error, sizeof(sh->start_error), "the publisher process was killed by %s",
                     strsignal(WTERMSIG(sh->pub_status)));
        } else {
            snprintf(sh->start_error, sizeof(sh->start_error), "the publisher process %s",
                     rc == -ETIMEDOUT ? "did not answer" : "exited without answering");
        }
    }
    memcpy(p, sh, sizeof(*p));
    munmap(sh, sizeof(*sh));
}
