/*
 * t_segment: shm_segment_create/describe/attach/seal/detach for the memfd
 * and POSIX kinds, with the attaching side in a forked process (in both
 * directions for memfd), the POSIX name disappearing exactly when the
 * announced number of peers attached, sealing, and the failure paths:
 * invalid sizes and kinds, address-space and file-size limits, too few file
 * descriptors, a full /dev/shm, and descriptions that do not match a live
 * segment (including a stale one whose descriptor number was reused).  Every failure must return a negative errno with a message and
 * leave nothing in /dev/shm.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define CHECK_FAILED(call, want, err)                                                                        \
    do {                                                                                                     \
        memset(&(err), 0, sizeof(err));                                                                      \
        int rc_ = (call);                                                                                    \
        CHECK_MSG(rc_ == (want), "returned %d (%s), expected %d", rc_, (err).msg, (want));                   \
        CHECK_EQ((err).code, want);                                                                          \
        CHECK_MSG(strlen((err).msg) > 10, "message too short: '%s'", (err).msg);                             \
    } while (0)

static void fill(shm_segment_t *seg, uint64_t msgno, size_t off)
{
    pattern_fill((uint8_t *) seg->base + off, msgno, (uint32_t) (seg->size - off));
}

static int filled(const shm_segment_t *seg, uint64_t msgno, size_t off)
{
    return pattern_check((const uint8_t *) seg->base + off, msgno, (uint32_t) (seg->size - off)) == -1;
}

static void wr(int fd, const void *p, size_t n)
{
    CHECK_EQ(write(fd, p, n), (ssize_t) n);
}

static void rd(int fd, void *p, size_t n)
{
    CHECK_EQ(read(fd, p, n), (ssize_t) n);
}

/* Child: attach desc, check the creator's pattern 1, write pattern 2 into
 * the second half, detach. */
static void child_attach_and_reply(const shm_segment_desc_t *desc)
{
    shm_segment_t seg;
    shm_error_t err;
    CHECK_MSG(shm_segment_attach(&seg, desc, &err) == 0, "%s", err.msg);
    CHECK(seg.base != NULL);
    CHECK_EQ(seg.size, desc->size);
    CHECK_EQ(seg.owner, 0);
    CHECK_EQ(seg.kind, (int) desc->kind);
    CHECK_EQ(seg.pid, desc->pid);
    CHECK_EQ(seg.fd, -1); /* the mapping is all an attached peer keeps */
    size_t half = seg.size / 2;
    CHECK(pattern_check((uint8_t *) seg.base + SHM_SEGMENT_RESERVED, 1, (uint32_t) (half - SHM_SEGMENT_RESERVED)) == -1);
    pattern_fill((uint8_t *) seg.base + half, 2, (uint32_t) (seg.size - half));
    shm_segment_detach(&seg);
    CHECK(seg.base == NULL);
    shm_segment_detach(&seg);
}

static void test_memfd_parent_creates(void)
{
    shm_segment_t seg;
    shm_segment_desc_t desc;
    shm_error_t err;
    CHECK_MSG(shm_segment_create(&seg, 8000, SHM_SEGMENT_MEMFD, 0, 0, test_tag(), &err) == 0, "%s", err.msg);
    CHECK(seg.base != NULL);
    CHECK_EQ(seg.size, 8192); /* 8000 + reserved, page-rounded */
    CHECK_GE(seg.fd, 0);
    CHECK_EQ(seg.kind, SHM_SEGMENT_MEMFD);
    CHECK_EQ(seg.owner, 1);
    CHECK_EQ(seg.pid, getpid());
    CHECK_EQ(seg.name[0], 0);
    CHECK_EQ(test_shm_count(test_tag()), 0); /* a memfd has no name */
    /* Only the bytes past SHM_SEGMENT_RESERVED are ours to write. */
    memset((uint8_t *) seg.base + SHM_SEGMENT_RESERVED, 0, seg.size - SHM_SEGMENT_RESERVED);
    pattern_fill((uint8_t *) seg.base + SHM_SEGMENT_RESERVED, 1, (uint32_t) (seg.size / 2 - SHM_SEGMENT_RESERVED));
    shm_segment_describe(&seg, &desc);
    CHECK_EQ(desc.kind, SHM_SEGMENT_MEMFD);
    CHECK_EQ(desc.pid, getpid());
    CHECK_EQ(desc.fd, seg.fd);
    CHECK_EQ(desc.size, seg.size);

    /* Two peers in turn (a memfd has no attach limit while it is open). */
    for (int i = 0; i < 2; ++i) {
        pid_t pid = test_fork();
        if (pid == 0) {
            child_attach_and_reply(&desc);
            _exit(0);
        }
        test_wait_ok(pid);
        CHECK(filled(&seg, 2, seg.size / 2));
        memset((uint8_t *) seg.base + seg.size / 2, 0, seg.size / 2);
    }

    /* Sealed: the mapping stays, attaching is over. */
    shm_segment_seal(&seg);
    CHECK_EQ(seg.fd, -1);
    shm_segment_seal(&seg);
    fill(&seg, 3, SHM_SEGMENT_RESERVED);
    CHECK(filled(&seg, 3, SHM_SEGMENT_RESERVED));
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_segment_t s2;
        CHECK_FAILED(shm_segment_attach(&s2, &desc, &err), -ESRCH, err);
        CHECK(s2.base == NULL);
        shm_segment_detach(&s2);
        _exit(0);
    }
    test_wait_ok(pid);
    shm_segment_detach(&seg);
    CHECK(seg.base == NULL);
    shm_segment_detach(&seg);
}

/* The usual direction in a job: the peer that attaches is the creator's
 * parent or sibling, and the creator lives on while the mapping is used. */
static void test_memfd_child_creates(void)
{
    int to_parent[2], to_child[2];
    CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_segment_t seg;
        shm_segment_desc_t desc;
        shm_error_t err;
        char c;
        CHECK_MSG(shm_segment_create(&seg, 1 << 20, SHM_SEGMENT_MEMFD, SHM_SEGMENT_PREALLOCATE, 1, test_tag(), &err) == 0,
                  "%s", err.msg);
        pattern_fill((uint8_t *) seg.base + SHM_SEGMENT_RESERVED, 1, (uint32_t) (seg.size / 2 - SHM_SEGMENT_RESERVED));
        shm_segment_describe(&seg, &desc);
        wr(to_parent[1], &desc, sizeof(desc));
        rd(to_child[0], &c, 1); /* parent attached */
        shm_segment_seal(&seg);
        CHECK(filled(&seg, 2, seg.size / 2));
        shm_segment_detach(&seg);
        _exit(0);
    }
    shm_segment_desc_t desc;
    rd(to_parent[0], &desc, sizeof(desc));
    CHECK_EQ(desc.pid, pid);
    child_attach_and_reply(&desc);
    /* Attach again and keep the mapping past the creator's exit. */
    shm_segment_t seg;
    shm_error_t err;
    CHECK_MSG(shm_segment_attach(&seg, &desc, &err) == 0, "%s", err.msg);
    wr(to_child[1], "x", 1);
    test_wait_ok(pid);
    CHECK(filled(&seg, 2, seg.size / 2));
    fill(&seg, 4, SHM_SEGMENT_RESERVED);
    CHECK(filled(&seg, 4, SHM_SEGMENT_RESERVED));
    shm_segment_detach(&seg);
    /* Creator gone: a late attach fails cleanly. */
    CHECK_FAILED(shm_segment_attach(&seg, &desc, &err), -ESRCH, err);
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
}

static void test_posix_nattach(uint32_t nattach)
{
    shm_segment_t seg;
    shm_segment_desc_t desc;
    shm_error_t err;
    CHECK_MSG(shm_segment_create(&seg, 100000, SHM_SEGMENT_POSIX, 0, nattach, test_tag(), &err) == 0, "%s", err.msg);
    CHECK_EQ(seg.kind, SHM_SEGMENT_POSIX);
    CHECK_EQ(seg.fd, -1);
    CHECK_EQ(seg.size, 102400);
    CHECK(seg.attach_count == (_Atomic uint32_t *) seg.base);
    CHECK_EQ(seg.nattach, nattach);
    char name[SHM_SEGMENT_NAME_MAX];
    memcpy(name, seg.name, sizeof(name));
    char prefix[96];
    struct stat ns;
    CHECK(stat("/proc/self/ns/pid", &ns) == 0);
    snprintf(prefix, sizeof(prefix), "/btl_cma.%s.%lx.%d.", test_tag(), (unsigned long) ns.st_ino, (int) getpid());
    CHECK_MSG(strncmp(name, prefix, strlen(prefix)) == 0, "name %s", name);
    CHECK(test_shm_exists(name));
    CHECK_EQ(test_shm_count(test_tag()), 1);
    pattern_fill((uint8_t *) seg.base + SHM_SEGMENT_RESERVED, 1, (uint32_t) (seg.size / 2 - SHM_SEGMENT_RESERVED));
    shm_segment_describe(&seg, &desc);
    CHECK_EQ(desc.kind, SHM_SEGMENT_POSIX);
    CHECK_EQ(desc.nattach, nattach);
    CHECK(strcmp(desc.name, name) == 0);

    for (uint32_t i = 1; i <= nattach; ++i) {
        pid_t pid = test_fork();
        if (pid == 0) {
            child_attach_and_reply(&desc);
            _exit(0);
        }
        test_wait_ok(pid);
        CHECK(filled(&seg, 2, seg.size / 2));
        CHECK_EQ(atomic_load(seg.attach_count), i);
        /* The last announced peer removes the name, not earlier. */
        CHECK_MSG(test_shm_exists(name) == (i < nattach), "after %u of %u attaches", i, nattach);
    }
    /* One peer too many finds no name. */
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_segment_t s2;
        CHECK_FAILED(shm_segment_attach(&s2, &desc, &err), -ENOENT, err);
        CHECK(strstr(err.msg, name) != NULL);
        _exit(0);
    }
    test_wait_ok(pid);
    shm_segment_seal(&seg); /* name already gone: harmless */
    CHECK(filled(&seg, 2, seg.size / 2));
    shm_segment_detach(&seg);
    CHECK_EQ(test_shm_count(test_tag()), 0);
}

static void test_posix_seal_and_detach_remove_name(void)
{
    shm_segment_t seg;
    shm_segment_desc_t desc;
    shm_error_t err;
    /* nattach 0: nobody will attach, the name is gone at once. */
    CHECK_MSG(shm_segment_create(&seg, 1, SHM_SEGMENT_POSIX, 0, 0, test_tag(), &err) == 0, "%s", err.msg);
    CHECK_EQ(seg.name[0], 0);
    CHECK_EQ(test_shm_count(test_tag()), 0);
    memset((uint8_t *) seg.base + SHM_SEGMENT_RESERVED, 0x77, seg.size - SHM_SEGMENT_RESERVED);
    shm_segment_detach(&seg);

    /* Creator seals before the announced peers came. */
    CHECK_MSG(shm_segment_create(&seg, 4096, SHM_SEGMENT_POSIX, 0, 3, test_tag(), &err) == 0, "%s", err.msg);
    shm_segment_describe(&seg, &desc);
    CHECK_EQ(test_shm_count(test_tag()), 1);
    shm_segment_seal(&seg);
    CHECK_EQ(test_shm_count(test_tag()), 0);
    shm_segment_t s2;
    CHECK_FAILED(shm_segment_attach(&s2, &desc, &err), -ENOENT, err);
    shm_segment_detach(&seg);

    /* Creator detaches without sealing: the name goes too. */
    CHECK_MSG(shm_segment_create(&seg, 4096, SHM_SEGMENT_POSIX, SHM_SEGMENT_PREALLOCATE, 3, "x", &err) == 0, "%s",
              err.msg);
    char name[SHM_SEGMENT_NAME_MAX];
    memcpy(name, seg.name, sizeof(name));
    CHECK(test_shm_exists(name));
    CHECK(strncmp(name, "/btl_cma.x.", 11) == 0);
    shm_segment_detach(&seg);
    CHECK(!test_shm_exists(name));

    /* Several at once get distinct names; a long tag is cut, not overrun. */
    shm_segment_t segs[4];
    for (int i = 0; i < 4; ++i) {
        char tag[64];
        snprintf(tag, sizeof(tag), "%s%s", test_tag(), i == 3 ? "-a-very-long-tag-that-does-not-fit" : "");
        CHECK_MSG(shm_segment_create(&segs[i], 4096, SHM_SEGMENT_POSIX, 0, 1, tag, &err) == 0, "%s", err.msg);
        CHECK(test_shm_exists(segs[i].name));
        for (int j = 0; j < i; ++j) {
            CHECK(strcmp(segs[i].name, segs[j].name) != 0);
        }
    }
    for (int i = 0; i < 4; ++i) {
        shm_segment_detach(&segs[i]);
    }
    CHECK_EQ(test_shm_count(test_tag()), 0);
}

static void test_auto_kind(void)
{
    shm_segment_t seg;
    shm_error_t err;
    CHECK_MSG(shm_segment_create(&seg, 4096, SHM_SEGMENT_AUTO, 0, 1, test_tag(), &err) == 0, "%s", err.msg);
    CHECK_EQ(seg.kind, SHM_SEGMENT_MEMFD); /* this kernel has memfd */
    shm_segment_detach(&seg);
}

static size_t vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    CHECK(f != NULL);
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    CHECK(kb > 0);
    return kb * 1024;
}

/* Runs fn in a child so that limits and signal dispositions stay there. */
static void in_child(void (*fn)(int kind), int kind)
{
    pid_t pid = test_fork();
    if (pid == 0) {
        fn(kind);
        _exit(0);
    }
    test_wait_ok(pid);
}

static void no_address_space(int kind)
{
    shm_segment_t seg;
    shm_error_t err;
    /* Room for the test itself, not for a 1 GiB mapping. */
    struct rlimit rl = {vm_size_bytes() + (64u << 20), RLIM_INFINITY};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    CHECK_FAILED(shm_segment_create(&seg, 1u << 30, kind, 0, 1, test_tag(), &err), -ENOMEM, err);
    CHECK(strstr(err.msg, "mapping") != NULL);
    CHECK(seg.base == NULL);
    shm_segment_detach(&seg);
    CHECK_EQ(test_shm_count(test_tag()), 0);
}

static void file_size_limit(int kind)
{
    shm_segment_t seg;
    shm_error_t err;
    /* Ignoring SIGXFSZ exercises the error path even where the library
     * leaves the size check to ftruncate (t_segment_fsize covers the
     * default disposition). */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {1u << 20, RLIM_INFINITY};
    CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    for (unsigned flags = 0; flags <= SHM_SEGMENT_PREALLOCATE; flags += SHM_SEGMENT_PREALLOCATE) {
        CHECK_FAILED(shm_segment_create(&seg, 64u << 20, kind, flags, 1, test_tag(), &err), -EFBIG, err);
        CHECK(seg.base == NULL);
        CHECK_EQ(test_shm_count(test_tag()), 0);
    }
    /* Under the limit it works. */
    CHECK_MSG(shm_segment_create(&seg, 512u << 10, kind, SHM_SEGMENT_PREALLOCATE, 1, test_tag(), &err) == 0, "%s",
              err.msg);
    shm_segment_detach(&seg);
}

static void no_descriptors(int kind)
{
    shm_segment_t seg;
    shm_error_t err;
    struct rlimit old, rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    /* Close everything above stderr so that the limit bites exactly. */
    for (int fd = 3; fd < 1024; ++fd) {
        close(fd);
    }
    rl = old;
    rl.rlim_cur = 3;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK_FAILED(shm_segment_create(&seg, 4096, kind, 0, 1, test_tag(), &err), -EMFILE, err);
    CHECK(strstr(err.msg, "ulimit -n") != NULL);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK_EQ(test_shm_count(test_tag()), 0);
}

static void test_create_failures(void)
{
    shm_segment_t seg;
    shm_error_t err;
    CHECK_FAILED(shm_segment_create(&seg, 0, SHM_SEGMENT_MEMFD, 0, 1, test_tag(), &err), -EINVAL, err);
    CHECK(seg.base == NULL);
    shm_segment_detach(&seg); /* safe on a failed create */
    CHECK_FAILED(shm_segment_create(&seg, 0, SHM_SEGMENT_POSIX, 0, 1, test_tag(), &err), -EINVAL, err);
    CHECK_FAILED(shm_segment_create(&seg, ((size_t) 1 << 46) + 1, SHM_SEGMENT_POSIX, 0, 1, test_tag(), &err), -EINVAL,
                 err);
    CHECK_FAILED(shm_segment_create(&seg, SIZE_MAX, SHM_SEGMENT_MEMFD, 0, 1, test_tag(), &err), -EINVAL, err);
    CHECK_FAILED(shm_segment_create(&seg, 4096, 3, 0, 1, test_tag(), &err), -EINVAL, err);
    CHECK_FAILED(shm_segment_create(&seg, 4096, -1, 0, 1, test_tag(), &err), -EINVAL, err);
    CHECK_EQ(shm_segment_create(&seg, 0, SHM_SEGMENT_MEMFD, 0, 1, test_tag(), NULL), -EINVAL);
    CHECK_EQ(test_shm_count(test_tag()), 0);

    if (!TEST_SANITIZED) {
        /* Sanitizer runtimes cannot live under a tight address-space limit. */
        in_child(no_address_space, SHM_SEGMENT_MEMFD);
        in_child(no_address_space, SHM_SEGMENT_POSIX);
    }
    in_child(file_size_limit, SHM_SEGMENT_MEMFD);
    in_child(file_size_limit, SHM_SEGMENT_POSIX);
    in_child(no_descriptors, SHM_SEGMENT_MEMFD);
    in_child(no_descriptors, SHM_SEGMENT_POSIX);

    /* /dev/shm too small for a preallocated segment: ENOSPC at creation,
     * not SIGBUS later.  Only where tmpfs has a size limit, so that the
     * kernel refuses at once instead of allocating. */
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) == 0 && vfs.f_blocks > 0) {
        size_t total = (size_t) vfs.f_blocks * vfs.f_frsize;
        size_t huge = total * 2 < ((size_t) 1 << 45) ? total * 2 : ((size_t) 1 << 45);
        if (huge > total) {
            CHECK_FAILED(shm_segment_create(&seg, huge, SHM_SEGMENT_POSIX, SHM_SEGMENT_PREALLOCATE, 1, test_tag(), &err),
                         -ENOSPC, err);
            CHECK(strstr(err.msg, "df /dev/shm") != NULL);
            CHECK(seg.base == NULL);
            CHECK_EQ(test_shm_count(test_tag()), 0);
        }
    } else {
        printf("  /dev/shm has no size limit: ENOSPC case skipped\n");
    }
}

static void test_attach_failures(void)
{
    shm_segment_t seg, s2;
    shm_segment_desc_t desc, bad;
    shm_error_t err;
    CHECK(shm_segment_create(&seg, 4096, SHM_SEGMENT_MEMFD, 0, 1, test_tag(), &err) == 0);
    shm_segment_describe(&seg, &desc);

    bad = desc;
    bad.kind = 7;
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -EINVAL, err);
    CHECK(s2.base == NULL);
    shm_segment_detach(&s2);
    bad = desc;
    bad.size = 0;
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -EINVAL, err);
    bad.size = ((uint64_t) 1 << 46) + 1;
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -EINVAL, err);
    /* Larger than the real segment: refused, not mapped past its end. */
    bad = desc;
    bad.size = desc.size + 4096;
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -EPROTO, err);
    /* A descriptor number that is open but is not the segment. */
    int p[2];
    CHECK(pipe(p) == 0);
    bad = desc;
    bad.fd = p[0];
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -EPROTO, err);
    close(p[0]);
    close(p[1]);
    /* A descriptor number that is not open: the creator "closed it". */
    bad.fd = 1000;
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -ESRCH, err);
    /* A creator that does not exist. */
    pid_t gone = test_fork();
    if (gone == 0) {
        _exit(0);
    }
    test_wait_ok(gone);
    bad = desc;
    bad.pid = gone;
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -ESRCH, err);
    shm_segment_detach(&seg);

    /* POSIX names that are not ours are never opened. */
    memset(&bad, 0, sizeof(bad));
    bad.kind = SHM_SEGMENT_POSIX;
    bad.size = 4096;
    bad.pid = getpid();
    const char *names[] = {"/foo", "btl_cma.x.1.1", "/btl_cma.a/b", "//btl_cma.x", "", "/btl_cma"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        snprintf(bad.name, sizeof(bad.name), "%s", names[i]);
        CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -EINVAL, err);
    }
    /* Not NUL-terminated: the name is cut at the field's end, never read
     * past it (it then names nothing). */
    memset(bad.name, 'a', sizeof(bad.name));
    memcpy(bad.name, "/btl_cma.", 9);
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -ENOENT, err);
    /* Ours but absent. */
    snprintf(bad.name, sizeof(bad.name), "/btl_cma.%s.1.999", test_tag());
    CHECK_FAILED(shm_segment_attach(&s2, &bad, &err), -ENOENT, err);
    /* Present but smaller than announced. */
    CHECK(shm_segment_create(&seg, 4096, SHM_SEGMENT_POSIX, 0, 1, test_tag(), &err) == 0);
    shm_segment_describe(&seg, &desc);
    desc.size *= 2;
    CHECK_FAILED(shm_segment_attach(&s2, &desc, &err), -EPROTO, err);
    shm_segment_detach(&seg);
    CHECK_EQ(test_shm_count(test_tag()), 0);
}

/* A description names a memfd by (creator pid, descriptor number), and
 * seal closes that number, so the creator's next segment usually gets the
 * same number.  Attaching with the old description must fail (-ESTALE),
 * never map the other segment; so must any description whose id does not
 * match, for both kinds, without counting as an attach. */
static void test_stale_description(void)
{
    shm_segment_t a, b, p;
    shm_segment_desc_t da, db, dp;
    shm_error_t err;
    CHECK_MSG(shm_segment_create(&a, 4096, SHM_SEGMENT_MEMFD, 0, 1, test_tag(), &err) == 0, "%s", err.msg);
    shm_segment_describe(&a, &da);
    shm_segment_seal(&a);
    CHECK_MSG(shm_segment_create(&b, 4096, SHM_SEGMENT_MEMFD, 0, 1, test_tag(), &err) == 0, "%s", err.msg);
    shm_segment_describe(&b, &db);
    CHECK_EQ(db.fd, da.fd); /* the reuse this test is about */
    CHECK(db.id != da.id);
    memset((uint8_t *) b.base + SHM_SEGMENT_RESERVED, 'B', b.size - SHM_SEGMENT_RESERVED);
    CHECK_MSG(shm_segment_create(&p, 4096, SHM_SEGMENT_POSIX, 0, 1, test_tag(), &err) == 0, "%s", err.msg);
    shm_segment_describe(&p, &dp);
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_segment_t x;
        shm_segment_desc_t bad;
        CHECK_FAILED(shm_segment_attach(&x, &da, &err), -ESTALE, err);
        CHECK(x.base == NULL);
        bad = db;
        bad.id ^= 2;
        CHECK_FAILED(shm_segment_attach(&x, &bad, &err), -ESTALE, err);
        bad = dp;
        bad.id = 0;
        CHECK_FAILED(shm_segment_attach(&x, &bad, &err), -ESTALE, err);
        /* A refused attach is not one of the announced peers. */
        CHECK(test_shm_exists(dp.name));
        CHECK_MSG(shm_segment_attach(&x, &db, &err) == 0, "%s", err.msg);
        CHECK_EQ(((uint8_t *) x.base)[SHM_SEGMENT_RESERVED], 'B');
        shm_segment_detach(&x);
        CHECK_MSG(shm_segment_attach(&x, &dp, &err) == 0, "%s", err.msg);
        CHECK(!test_shm_exists(dp.name));
        shm_segment_detach(&x);
        _exit(0);
    }
    test_wait_ok(pid);
    CHECK_EQ(atomic_load(p.attach_count), 1);
    shm_segment_detach(&a);
    shm_segment_detach(&b);
    shm_segment_detach(&p);
}

/* Whether this process's page tables map the page holding addr (bit 63 of
 * its /proc/self/pagemap entry). */
static int page_mapped(const void *addr)
{
    size_t pg = (size_t) sysconf(_SC_PAGESIZE);
    uint64_t entry = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_EQ(pread(fd, &entry, sizeof(entry), (off_t) ((uintptr_t) addr / pg * sizeof(entry))),
             (ssize_t) sizeof(entry));
    close(fd);
    return (int) (entry >> 63);
}

/* shm_segment_prefault in an attaching process: the pages of the range
 * become mapped, with the creator's data intact and writable, and pages far
 * from it do not (near ones may: a read fault maps up to 16 neighbours that
 * exist, "fault-around", which is why attaching maps pages 1-15); a range
 * outside the segment is refused. */
static void test_prefault(void)
{
    size_t pg = (size_t) sysconf(_SC_PAGESIZE);
    shm_segment_t seg;
    shm_segment_desc_t desc;
    shm_error_t err;
    CHECK_MSG(shm_segment_create(&seg, 256 * pg - SHM_SEGMENT_RESERVED, SHM_SEGMENT_MEMFD, 0, 0, test_tag(),
                                 &err) == 0,
              "%s", err.msg);
    CHECK_EQ(seg.size, 256 * pg);
    fill(&seg, 7, SHM_SEGMENT_RESERVED);
    shm_segment_describe(&seg, &desc);
    pid_t pid = test_fork();
    if (pid == 0) {
        shm_segment_t s2;
        CHECK_MSG(shm_segment_attach(&s2, &desc, &err) == 0, "%s", err.msg);
        uint8_t *b = s2.base;
        for (size_t p = 64; p < 256; ++p) {
            CHECK_MSG(!page_mapped(b + p * pg), "page %zu mapped before any use", p);
        }
        /* Pages 100 to 116: the range starts and ends inside a page. */
        CHECK_EQ(shm_segment_prefault(&s2, 100 * pg + 100, 16 * pg), 0);
        for (size_t p = 64; p < 256; ++p) {
            if (p >= 100 && p <= 116) {
                CHECK_MSG(page_mapped(b + p * pg), "page %zu of the range is not mapped", p);
            } else if (p < 84 || p > 132) {
                CHECK_MSG(!page_mapped(b + p * pg), "page %zu, far from the range, is mapped", p);
            }
        }
        CHECK_EQ(shm_segment_prefault(&s2, 0, 0), 0);
        CHECK_EQ(shm_segment_prefault(&s2, s2.size + 1, 0), -EINVAL);
        CHECK_EQ(shm_segment_prefault(&s2, pg, s2.size), -EINVAL);
        CHECK_EQ(shm_segment_prefault(&s2, 1, SIZE_MAX), -EINVAL);
        CHECK(!page_mapped(b + 200 * pg));
        CHECK(filled(&s2, 7, SHM_SEGMENT_RESERVED));
        b[110 * pg] ^= 0xff; /* writable (a fault here ends the child) */
        b[110 * pg] ^= 0xff;
        shm_segment_detach(&s2);
        CHECK_EQ(shm_segment_prefault(&s2, 0, pg), -EINVAL); /* detached */
        _exit(0);
    }
    test_wait_ok(pid);
    CHECK(filled(&seg, 7, SHM_SEGMENT_RESERVED));
    shm_segment_detach(&seg);
}

int main(void)
{
    test_init("t_segment", 60);
    test_memfd_parent_creates();
    test_memfd_child_creates();
    test_posix_nattach(1);
    test_posix_nattach(2);
    test_posix_nattach(5);
    test_posix_seal_and_detach_remove_name();
    test_auto_kind();
    test_create_failures();
    test_attach_failures();
    test_stale_description();
    test_prefault();
    return test_pass();
}
