/*
 * t_segment_fsize: creating a segment larger than RLIMIT_FSIZE must return
 * -EFBIG with a message, for both kinds, in a process that kept SIGXFSZ's
 * default disposition (terminate with a core dump) - the kernel raises
 * SIGXFSZ when ftruncate() grows a file past the limit, so the library has
 * to refuse before it gets there - and a failed POSIX creation leaves no
 * name.  (libshmring at 4097b5c was killed here and left its POSIX name.)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

int main(void)
{
    int status[3];
    test_init("t_segment_fsize", 10);
    for (int kind = SHM_SEGMENT_MEMFD; kind <= SHM_SEGMENT_POSIX; ++kind) {
        pid_t pid = test_fork();
        if (pid == 0) {
            shm_segment_t seg;
            shm_error_t err;
            struct rlimit rl = {1u << 20, RLIM_INFINITY}, nocore = {0, 0};
            CHECK(setrlimit(RLIMIT_CORE, &nocore) == 0); /* SIGXFSZ dumps core */
            CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
            int rc = shm_segment_create(&seg, 64u << 20, kind, 0, 1, test_tag(), &err);
            CHECK_MSG(rc == -EFBIG, "returned %d: %s", rc, err.msg);
            CHECK(err.code == -EFBIG && strlen(err.msg) > 10);
            CHECK_EQ(test_shm_count(test_tag()), 0);
            _exit(0);
        }
        status[kind] = test_wait_status(pid);
        printf("  kind %d: creator %s %d\n", kind, WIFSIGNALED(status[kind]) ? "killed by signal" : "exit status",
               WIFSIGNALED(status[kind]) ? WTERMSIG(status[kind]) : WEXITSTATUS(status[kind]));
    }
    /* Reap what a killed POSIX creator would leave, so that even a failure
     * leaves nothing. */
    shm_segment_t seg;
    CHECK(shm_segment_create(&seg, 4096, SHM_SEGMENT_POSIX, 0, 0, test_tag(), NULL) == 0);
    shm_segment_detach(&seg);
    test_shm_assert_clean();
    for (int kind = SHM_SEGMENT_MEMFD; kind <= SHM_SEGMENT_POSIX; ++kind) {
        CHECK_MSG(WIFEXITED(status[kind]) && WEXITSTATUS(status[kind]) == 0,
                  "kind %d: creation over RLIMIT_FSIZE did not return -EFBIG", kind);
    }
    return test_pass();
}
