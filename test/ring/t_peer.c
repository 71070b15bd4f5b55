/*
 * t_peer: shm_peer_watch/alive/unwatch.  A live child reads as alive (1);
 * once it exits, or is killed, it reads as gone (0) at once, before the
 * parent reaps it (a zombie is not a live peer) and after; invalid and
 * nonexistent pids are refused with a message.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

/* Polls until the peer reads as gone; returns the nanoseconds it took. */
static uint64_t wait_gone(const shm_peer_t *peer)
{
    uint64_t t0 = now_ns();
    int a;
    while ((a = shm_peer_alive(peer)) == 1) {
        CHECK_MSG(now_ns() - t0 < 1000000000ull, "peer %d still alive after 1 s", (int) peer->pid);
        usleep(100);
    }
    CHECK_EQ(a, 0);
    return now_ns() - t0;
}

static void test_exit_and_kill(int kill_it)
{
    int p[2];
    shm_peer_t peer;
    shm_error_t err;
    CHECK(pipe(p) == 0);
    pid_t pid = test_fork();
    if (pid == 0) {
        char c;
        close(p[1]);
        /* Lives until the parent closes the pipe. */
        while (read(p[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(p[0]);
    CHECK_MSG(shm_peer_watch(&peer, pid, &err) == 0, "%s", err.msg);
    CHECK_EQ(peer.pid, pid);
    CHECK_GE(peer.pidfd, 0); /* this kernel has pidfd_open */
    for (int i = 0; i < 100; ++i) {
        CHECK_EQ(shm_peer_alive(&peer), 1);
    }
    if (kill_it) {
        CHECK(kill(pid, SIGKILL) == 0);
    } else {
        close(p[1]);
    }
    uint64_t ns = wait_gone(&peer);
    printf("  %s child seen gone after %llu us (not yet reaped)\n", kill_it ? "killed" : "exited",
           (unsigned long long) (ns / 1000));
    CHECK_EQ(shm_peer_alive(&peer), 0);
    int st = test_wait_status(pid);
    CHECK(kill_it ? (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) : (WIFEXITED(st) && WEXITSTATUS(st) == 0));
    CHECK_EQ(shm_peer_alive(&peer), 0); /* reaped */
    shm_peer_unwatch(&peer);
    CHECK_EQ(peer.pidfd, -1);
    shm_peer_unwatch(&peer);
    if (kill_it) {
        close(p[1]);
    }
}

static void test_invalid(void)
{
    shm_peer_t peer;
    shm_error_t err;
    memset(&err, 0, sizeof(err));
    CHECK_EQ(shm_peer_watch(&peer, 0, &err), -EINVAL);
    CHECK_EQ(err.code, -EINVAL);
    CHECK(strlen(err.msg) > 10);
    CHECK_EQ(peer.pidfd, -1);
    shm_peer_unwatch(&peer);
    CHECK_EQ(shm_peer_watch(&peer, -1, &err), -EINVAL);
    CHECK_EQ(shm_peer_watch(&peer, -1, NULL), -EINVAL);

    /* A pid that existed and was reaped: no such process. */
    pid_t pid = test_fork();
    if (pid == 0) {
        _exit(0);
    }
    test_wait_ok(pid);
    memset(&err, 0, sizeof(err));
    CHECK_EQ(shm_peer_watch(&peer, pid, &err), -ESRCH);
    CHECK(strstr(err.msg, "does not exist") != NULL);
    CHECK_EQ(peer.pidfd, -1);
}

static void test_self_and_parent(void)
{
    shm_peer_t peer;
    shm_error_t err;
    CHECK(shm_peer_watch(&peer, getpid(), &err) == 0);
    CHECK_EQ(shm_peer_alive(&peer), 1);
    shm_peer_unwatch(&peer);
    /* A child watches its parent (the usual direction is either). */
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_peer_t pp;
        CHECK(shm_peer_watch(&pp, getppid(), &err) == 0);
        CHECK_EQ(shm_peer_alive(&pp), 1);
        shm_peer_unwatch(&pp);
        _exit(0);
    }
    test_wait_ok(pid);
}

int main(void)
{
    test_init("t_peer", 30);
    test_exit_and_kill(0);
    test_exit_and_kill(1);
    test_invalid();
    test_self_and_parent();
    return test_pass();
}
