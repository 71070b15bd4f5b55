/*
 * Liveness of the process on the other side of a ring.  A pidfd becomes
 * readable when its process exits, so a consumer can tell "no message yet"
 * from "no message ever" with one poll(); without pidfd_open (kernels older
 * than 5.3) kill(pid, 0) is the fallback, which cannot tell a reused pid.
 */
#define _GNU_SOURCE
#include "shm_ring.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#include "shm_error.h"

int shm_peer_watch_nofd(shm_peer_t *peer, pid_t pid, shm_error_t *err)
{
    peer->pid = pid;
    peer->pidfd = -1;
    if (pid <= 0) {
        return shm_error_set(err, -EINVAL, "invalid peer pid %d", (int) pid);
    }
    if (kill(pid, 0) != 0 && errno == ESRCH) {
        return shm_error_set(err, -ESRCH, "peer process %d does not exist", (int) pid);
    }
    return 0;
}

int shm_peer_watch(shm_peer_t *peer, pid_t pid, shm_error_t *err)
{
    int rc = shm_peer_watch_nofd(peer, pid, err);
    if (rc == 0) {
        /* Without a pidfd (kernels before 5.3, no descriptor left), kill()
         * stays the test. */
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        peer->pidfd = fd >= 0 ? fd : -1;
    }
    return rc;
}

int shm_peer_alive(const shm_peer_t *peer)
{
    if (peer->pidfd >= 0) {
        struct pollfd pfd = {.fd = peer->pidfd, .events = POLLIN};
        int n = poll(&pfd, 1, 0);
        if (n < 0) {
            return -errno;
        }
        return n == 0;
    }
    if (kill(peer->pid, 0) == 0 || errno == EPERM) {
        return 1;
    }
    return errno == ESRCH ? 0 : -errno;
}

void shm_peer_unwatch(shm_peer_t *peer)
{
    if (peer->pidfd >= 0) {
        close(peer->pidfd);
        peer->pidfd = -1;
    }
}
