/*
 * t_kill: a producer that dies by SIGKILL in the middle of a stream.  The
 * consumer, watching it with shm_peer_watch, must deliver every message
 * committed before the death, never the half-written one, notice the death
 * within one second (asserted against the kill's timestamp) and return an
 * error instead of waiting forever.  Three ways: the producer kills itself
 * half-way through writing a message (POSIX segment), another process kills
 * it at a random moment (memfd segment), and a POSIX-kind creator killed
 * before any peer attached, whose stale /dev/shm name the next POSIX
 * shm_segment_create must reap - while a live creator's name survives.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stream.h"

#define NCELLS 256u
#define MAXMSG 4096u

typedef struct shared_page {
    _Atomic uint64_t die_ns;
    _Atomic int producer_started;
} shared_page_t;

/* Producer child: create the segment and ring, hand over the description,
 * stream until killed.  Never returns. */
static void producer(int kind, stream_t *s, int to_parent, int from_parent)
{
    shm_segment_t seg;
    shm_segment_desc_t desc;
    shm_ring_producer_t p;
    shm_error_t err;
    stream_stats_t st;
    char c;
    size_t ring_size = shm_ring_memsize(NCELLS);
    CHECK_MSG(shm_segment_create(&seg, SHM_SEGMENT_RESERVED + ring_size, kind, 0, 1, test_tag(), &err) == 0, "%s",
              err.msg);
    void *ring = (uint8_t *) seg.base + SHM_SEGMENT_RESERVED;
    CHECK(shm_ring_init(ring, ring_size, NCELLS, MAXMSG, 0, &err) == 0);
    CHECK(shm_ring_producer_attach(&p, ring, ring_size, &err) == 0);
    shm_segment_describe(&seg, &desc);
    CHECK_EQ(write(to_parent, &desc, sizeof(desc)), (ssize_t) sizeof(desc));
    CHECK_EQ(read(from_parent, &c, 1), 1);
    shm_segment_seal(&seg);
    stream_produce(&p, s, &st);
    CHECK_MSG(0, "the producer was meant to die, not finish");
    _exit(1);
}

/* Parent: attach, consume until the producer is gone; returns messages. */
static uint64_t consume_until_gone(pid_t pid, stream_t *s, int from_child, int to_child, uint64_t *gone_ns)
{
    shm_segment_desc_t desc;
    shm_segment_t seg;
    shm_ring_consumer_t c;
    shm_peer_t peer;
    shm_error_t err;
    stream_stats_t st;
    size_t ring_size = shm_ring_memsize(NCELLS);
    CHECK_EQ(read(from_child, &desc, sizeof(desc)), (ssize_t) sizeof(desc));
    CHECK_MSG(shm_segment_attach(&seg, &desc, &err) == 0, "%s", err.msg);
    if (desc.kind == SHM_SEGMENT_POSIX) {
        CHECK(!test_shm_exists(desc.name)); /* the only peer attached */
    }
    CHECK_EQ(write(to_child, "x", 1), 1);
    void *ring = (uint8_t *) seg.base + SHM_SEGMENT_RESERVED;
    CHECK(shm_ring_consumer_attach(&c, ring, ring_size, &err) == 0);
    CHECK_MSG(shm_peer_watch(&peer, pid, &err) == 0, "%s", err.msg);
    int rc = stream_consume(&c, s, &peer, &st);
    CHECK_EQ(rc, -EPIPE);
    *gone_ns = st.gone_ns;
    /* Nothing half-written became visible: the next cell is unpublished. */
    shm_ring_msg_t m;
    CHECK_EQ(shm_ring_peek(&c, &m), 0);
    shm_peer_unwatch(&peer);
    shm_segment_detach(&seg);
    return st.msgs;
}

static void report(const char *what, uint64_t msgs, uint64_t die_ns, uint64_t gone_ns)
{
    CHECK(die_ns != 0 && gone_ns >= die_ns);
    printf("  %s: %llu messages delivered, death noticed after %.3f ms\n", what, (unsigned long long) msgs,
           (double) (gone_ns - die_ns) / 1e6);
    CHECK_MSG(gone_ns - die_ns < 1000000000ull, "death noticed after %.3f s", (double) (gone_ns - die_ns) / 1e9);
}

static void test_self_kill_mid_message(shared_page_t *sh, uint64_t seed)
{
    int a[2], b[2];
    uint64_t rng = seed;
    stream_t s = {.count = UINT64_MAX, .seed = seed, .max_len = MAXMSG, .die_ns = &sh->die_ns};
    s.die_at = 50000 + rng_next(&rng) % 200000;
    atomic_store(&sh->die_ns, 0);
    CHECK(pipe(a) == 0 && pipe(b) == 0);
    pid_t pid = test_fork();
    if (pid == 0) {
        producer(SHM_SEGMENT_POSIX, &s, a[1], b[0]);
    }
    uint64_t gone_ns;
    uint64_t msgs = consume_until_gone(pid, &s, a[0], b[1], &gone_ns);
    int st = test_wait_status(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* Exactly the committed messages: all before die_at, not die_at. */
    CHECK_EQ(msgs, s.die_at);
    report("self-kill inside a message (POSIX segment)", msgs, atomic_load(&sh->die_ns), gone_ns);
    for (int i = 0; i < 2; ++i) {
        close(a[i]);
        close(b[i]);
    }
    test_shm_assert_clean();
}

static void test_killed_by_other(shared_page_t *sh, uint64_t seed)
{
    int a[2], b[2];
    uint64_t rng = seed;
    stream_t s = {.count = UINT64_MAX, .seed = seed, .max_len = MAXMSG, .die_at = UINT64_MAX, .die_ns = &sh->die_ns};
    atomic_store(&sh->die_ns, 0);
    CHECK(pipe(a) == 0 && pipe(b) == 0);
    pid_t pid = test_fork();
    if (pid == 0) {
        producer(SHM_SEGMENT_MEMFD, &s, a[1], b[0]);
    }
    unsigned delay_us = 20000 + (unsigned) (rng_next(&rng) % 200000);
    pid_t killer = test_fork();
    if (killer == 0) {
        usleep(delay_us);
        atomic_store(&sh->die_ns, now_ns());
        CHECK(kill(pid, SIGKILL) == 0);
        _exit(0);
    }
    uint64_t gone_ns;
    uint64_t msgs = consume_until_gone(pid, &s, a[0], b[1], &gone_ns);
    test_wait_ok(killer);
    int st = test_wait_status(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(msgs > 0);
    report("killed by another process (memfd segment)", msgs, atomic_load(&sh->die_ns), gone_ns);
    for (int i = 0; i < 2; ++i) {
        close(a[i]);
        close(b[i]);
    }
    test_shm_assert_clean();
}

/* Child: create a POSIX segment for one peer that never comes, report its
 * name, wait to be killed. */
static pid_t posix_creator(char *name, int keep_alive_fd, int keep_alive_wfd)
{
    int a[2];
    CHECK(pipe(a) == 0);
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_segment_t seg;
        shm_error_t err;
        char c;
        close(keep_alive_wfd); /* or the pipe never reaches end of file */
        CHECK_MSG(shm_segment_create(&seg, 4096, SHM_SEGMENT_POSIX, 0, 1, test_tag(), &err) == 0, "%s", err.msg);
        CHECK_EQ(write(a[1], seg.name, SHM_SEGMENT_NAME_MAX), SHM_SEGMENT_NAME_MAX);
        /* Until killed, or until the parent closes the pipe. */
        while (read(keep_alive_fd, &c, 1) > 0) {
        }
        shm_segment_detach(&seg);
        _exit(0);
    }
    CHECK_EQ(read(a[0], name, SHM_SEGMENT_NAME_MAX), SHM_SEGMENT_NAME_MAX);
    close(a[0]);
    close(a[1]);
    return pid;
}

static void test_stale_name_reaped(void)
{
    int keep[2];
    char dead_name[SHM_SEGMENT_NAME_MAX], live_name[SHM_SEGMENT_NAME_MAX];
    CHECK(pipe(keep) == 0);
    pid_t dead = posix_creator(dead_name, keep[0], keep[1]);
    pid_t live = posix_creator(live_name, keep[0], keep[1]);
    CHECK(test_shm_exists(dead_name) && test_shm_exists(live_name));
    CHECK(kill(dead, SIGKILL) == 0);
    int st = test_wait_status(dead);
    CHECK(WIFSIGNALED(st));
    /* Killed before any peer attached: the name is left behind... */
    CHECK(test_shm_exists(dead_name));
    CHECK_EQ(test_shm_count(test_tag()), 2);
    /* ...until the next POSIX creation, which removes names of dead
     * creators only. */
    shm_segment_t seg;
    shm_error_t err;
    CHECK_MSG(shm_segment_create(&seg, 4096, SHM_SEGMENT_POSIX, 0, 1, test_tag(), &err) == 0, "%s", err.msg);
    CHECK(!test_shm_exists(dead_name));
    CHECK(test_shm_exists(live_name));
    CHECK(test_shm_exists(seg.name));
    shm_segment_detach(&seg);
    close(keep[1]);
    test_wait_ok(live);
    CHECK(!test_shm_exists(live_name));
    close(keep[0]);
    printf("  stale %s reaped, live %s kept\n", dead_name, live_name);
    test_shm_assert_clean();
}

/* Names of dead creators in another PID namespace (a container sharing
 * /dev/shm, where a live creator's pid means nothing to us) are never
 * reaped; a dead creator's name in our namespace is.  The names are made
 * by hand in the format shm_segment.c uses, with a pid that exists in no
 * namespace here. */
static void test_other_namespace_kept(void)
{
    struct stat ns;
    CHECK(stat("/proc/self/ns/pid", &ns) == 0);
    pid_t gone = fork();
    CHECK(gone >= 0);
    if (gone == 0) {
        _exit(0);
    }
    test_wait_ok(gone);
    char ours[SHM_SEGMENT_NAME_MAX], theirs[SHM_SEGMENT_NAME_MAX];
    snprintf(ours, sizeof(ours), "/btl_cma.%s.%lx.%d.7", test_tag(), (unsigned long) ns.st_ino, (int) gone);
    snprintf(theirs, sizeof(theirs), "/btl_cma.%s.%lx.%d.7", test_tag(), (unsigned long) ns.st_ino ^ 0x5a5a,
             (int) gone);
    for (int i = 0; i < 2; ++i) {
        int fd = shm_open(i ? theirs : ours, O_RDWR | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0);
        close(fd);
    }
    shm_segment_t seg;
    shm_error_t err;
    CHECK_MSG(shm_segment_create(&seg, 4096, SHM_SEGMENT_POSIX, 0, 1, test_tag(), &err) == 0, "%s", err.msg);
    CHECK(!test_shm_exists(ours));
    CHECK(test_shm_exists(theirs));
    shm_segment_detach(&seg);
    CHECK(shm_unlink(theirs) == 0);
    printf("  dead creator's %s reaped, other namespace's %s kept\n", ours, theirs);
    test_shm_assert_clean();
}

int main(void)
{
    test_init("t_kill", 60);
    shared_page_t *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(sh != MAP_FAILED);
    for (uint64_t i = 0; i < 3; ++i) {
        test_self_kill_mid_message(sh, 0x4b111 + i);
        test_killed_by_other(sh, 0x4b222 + i);
    }
    test_stale_name_reaped();
    test_other_namespace_kept();
    munmap(sh, sizeof(*sh));
    return test_pass();
}
