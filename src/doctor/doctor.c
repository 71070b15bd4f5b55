/*
 * btl-cma-doctor: tells a user, in plain words, whether the cma BTL will
 * work well on this node and, where it will not, what to change.  This file
 * owns the command line, the judgement (which facts make an OK, a WARN or a
 * FAIL, and the fix to print) and the exit status; the facts themselves come
 * from doctor_ompi.c, doctor_system.c, doctor_probe.c and doctor_topo.c.
 * The doctor links libshmring (the component's own segment and liveness
 * code) but not MPI, so it also diagnoses a node where Open MPI is broken.
 */
#define _GNU_SOURCE
#include "doctor.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "btl_cma_buildcfg.h"

/* Below this much free space /dev/shm is a trap even for small jobs: vader,
 * POSIX segments and other programs all draw on it (Docker's default is 64
 * MiB, the usual culprit). */
#define SHM_LOW_WATER ((uint64_t) 64 << 20)

static int quiet;
static int counts[3];

void doctor_finding(enum doctor_level level, const char *fix, const char *fmt, ...)
{
    static const char *const tags[] = {"[ OK ]", "[WARN]", "[FAIL]"};
    counts[level]++;
    if (quiet && level == DOCTOR_OK) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", tags[level]);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    if (level != DOCTOR_OK && fix) {
        printf("       fix: %s\n", fix);
    }
}

const char *doctor_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double) n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    if (u == 0 || v >= 100 || v == (double) (uint64_t) v) {
        snprintf(buf, len, "%.0f %s", v, units[u]);
    } else {
        snprintf(buf, len, "%.1f %s", v, units[u]);
    }
    return buf;
}

/* "EPERM, Operation not permitted": the symbol is what people search for. */
static const char *errtext(int e, char *buf, size_t len)
{
    static const struct {
        int e;
        const char *name;
    } names[] = {{EPERM, "EPERM"},   {EACCES, "EACCES"}, {ENOSYS, "ENOSYS"}, {ESRCH, "ESRCH"},
                 {EFAULT, "EFAULT"}, {EINVAL, "EINVAL"}, {ENOMEM, "ENOMEM"}, {EIO, "EIO"},
                 {EBADF, "EBADF"},   {EMFILE, "EMFILE"}, {ENOSPC, "ENOSPC"}, {ENOENT, "ENOENT"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        if (names[i].e == e) {
            snprintf(buf, len, "%s, %s", names[i].name, strerror(e));
            return buf;
        }
    }
    snprintf(buf, len, "errno %d, %s", e, strerror(e));
    return buf;
}

static const char *step_call(int step)
{
    switch (step) {
    case STEP_MEMFD_CREATE:
        return "memfd_create";
    case STEP_SELF_READV:
    case STEP_PEER_READV:
        return "process_vm_readv";
    case STEP_PIDFD_OPEN:
        return "pidfd_open";
    case STEP_SELF_GETFD:
    case STEP_PEER_GETFD:
        return "pidfd_getfd";
    case STEP_ATTACH:
        return "shm_segment_attach (pidfd_getfd, mmap)";
    default:
        return "its first system call";
    }
}

/* A probe child died instead of answering: say of what, and in which call. */
static void describe_death(char *buf, size_t len, int status, int step)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
        snprintf(buf, len, "was killed by SIGSYS in %s: a seccomp filter kills processes that make this call",
                 step_call(step));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, len, "was killed by signal %d (%s) in %s", WTERMSIG(status), strsignal(WTERMSIG(status)),
                 step_call(step));
    } else {
        snprintf(buf, len, "exited with status %d in %s", WEXITSTATUS(status), step_call(step));
    }
}

static const char *const fix_seccomp =
    "allow process_vm_readv and process_vm_writev in the seccomp profile (Docker/Podman: --cap-add=SYS_PTRACE "
    "with the default profile, or --security-opt seccomp=PROFILE.json listing them); or run with --mca "
    "btl_cma_single_copy none (large messages then use the ring pipeline, without a warning)";

/* ------------------------------------------------------------------------ */

static void report_ompi(const struct doctor_ompi *o)
{
    if (!o->ompi_info[0]) {
        doctor_finding(DOCTOR_FAIL,
                       "install Open MPI 4.1 (Debian/Ubuntu: apt install openmpi-bin libopenmpi-dev) or put its "
                       "bin directory on PATH",
                       "Open MPI: %s; cma is an Open MPI 4.x plugin", o->run_error);
        return;
    }
    if (!o->ran) {
        doctor_finding(DOCTOR_FAIL, "repair the Open MPI installation (run ompi_info by hand to see its error)",
                       "Open MPI: %s does not work: %s", o->ompi_info, o->run_error);
        return;
    }
    if (o->major != 4) {
        doctor_finding(DOCTOR_FAIL,
                       "use Open MPI 4.1, or rebuild btl-cma against a 4.x installation (./configure "
                       "--with-ompi=DIR)",
                       "Open MPI %s (%s): cma is built for the Open MPI 4.x component interface",
                       o->version[0] ? o->version : "of unknown version", o->ompi_info);
    } else {
        doctor_finding(DOCTOR_OK, NULL, "Open MPI %s (%s)", o->version, o->ompi_info);
    }

    char fix[sizeof(o->pkglibdir) + 512];
    if (o->cma_listed) {
        if (o->cma_version[0] && strcmp(o->cma_version, o->version) != 0) {
            doctor_finding(DOCTOR_WARN,
                           "rebuild and reinstall btl-cma against this Open MPI (./configure --with-ompi=DIR && "
                           "make && make install)",
                           "the cma component loads, but was built for Open MPI %s and runs under %s",
                           o->cma_version, o->version);
        } else {
            doctor_finding(DOCTOR_OK, NULL, "the cma component loads: \"MCA btl: cma\" (Component v%s) from %s",
                           o->cma_version[0] ? o->cma_version : "?",
                           o->cma_file[0] ? o->cma_file : "the component path");
        }
        /* mpirun will not know about --component-dir: say what it needs. */
        if (o->component_dir[0] && o->cma_file[0] &&
            strncmp(o->cma_file, o->component_dir, strlen(o->component_dir)) == 0) {
            doctor_finding(DOCTOR_OK, NULL,
                           "it was found through --component-dir: run jobs with --mca mca_base_component_path %s",
                           o->search_path);
        }
        return;
    }
    if (o->load_error[0]) {
        doctor_finding(DOCTOR_FAIL,
                       "rebuild btl-cma against this Open MPI (./configure --with-ompi=DIR && make && make "
                       "install); \"undefined symbol\" means it was built for another Open MPI",
                       "the cma component is present (%s) but Open MPI cannot load it: %s",
                       o->cma_file[0] ? o->cma_file : "on the component path", o->load_error);
        return;
    }
    snprintf(fix, sizeof(fix),
             "install it: 'make install' as root (into %s), or './configure --with-component-dir=user && make "
             "install' (into ~/.openmpi/components, no root needed); to check a build tree, pass "
             "--component-dir DIR",
             o->pkglibdir[0] ? o->pkglibdir : "Open MPI's component directory");
    if (o->cma_file[0]) {
        doctor_finding(DOCTOR_FAIL, fix,
                       "the cma component file %s exists, but ompi_info does not list \"MCA btl: cma\"",
                       o->cma_file);
    } else {
        doctor_finding(DOCTOR_FAIL, fix, "the cma component is not installed where Open MPI looks (%s)",
                       o->search_path[0] ? o->search_path : "its component path");
    }
}

static void report_yama(const struct doctor_system *s)
{
    static const char fix[] =
        "as root: sysctl -w kernel.yama.ptrace_scope=1 (and persist it in /etc/sysctl.d/); or run with --mca "
        "btl_cma_single_copy none (large messages use the ring pipeline, without a warning)";
    switch (s->yama) {
    case -1:
        doctor_finding(DOCTOR_OK, NULL, "Yama: not in this kernel; processes of one user may read each other");
        break;
    case 0:
        doctor_finding(DOCTOR_OK, NULL, "Yama ptrace_scope 0: processes of one user may read each other");
        break;
    case 1:
        doctor_finding(DOCTOR_OK, NULL,
                       "Yama ptrace_scope 1: only ancestors may read a process, but the component declares "
                       "PR_SET_PTRACER_ANY so sibling ranks may read it");
        break;
    case 2:
        if (s->cap_sys_ptrace) {
            doctor_finding(DOCTOR_WARN, fix,
                           "Yama ptrace_scope 2: only processes with CAP_SYS_PTRACE may read others; this one has "
                           "it, but jobs of ordinary users get no single copy");
        } else {
            doctor_finding(DOCTOR_FAIL, fix,
                           "Yama ptrace_scope 2: only processes with CAP_SYS_PTRACE may read others, and this one "
                           "lacks it: single copy is impossible, large messages fall back to the ring pipeline");
        }
        break;
    default:
        doctor_finding(DOCTOR_FAIL,
                       "boot with kernel.yama.ptrace_scope below 3 (3 cannot be lowered without a reboot); or run "
                       "with --mca btl_cma_single_copy none",
                       "Yama ptrace_scope %d: no process may read another, single copy is impossible", s->yama);
    }
}

static void report_caps(const struct doctor_system *s)
{
    if (!s->have_capeff) {
        doctor_finding(DOCTOR_OK, NULL, "capabilities: unknown (no CapEff in /proc/self/status)");
    } else if (s->cap_sys_ptrace) {
        doctor_finding(DOCTOR_OK, NULL,
                       "capabilities: CAP_SYS_PTRACE held (CapEff %016llx): this process may also read processes "
                       "of other users",
                       (unsigned long long) s->capeff);
    } else {
        doctor_finding(DOCTOR_OK, NULL,
                       "capabilities: CAP_SYS_PTRACE not held (CapEff %016llx): not needed while all ranks run as "
                       "one user%s",
                       (unsigned long long) s->capeff, s->yama >= 2 ? " (but see Yama above)" : "");
    }
}

static int single_copy_works(const struct doctor_probe *p)
{
    return p->started && p->r1_step == STEP_DONE && p->self_readv_errno == 0 && p->peer_readv_errno == 0 &&
           p->readv_data_ok;
}

static int memfd_sharing_works(const struct doctor_probe *p)
{
    return p->started && p->memfd_rc == 0 && p->r2_step == STEP_DONE && p->attach_rc == 0 && p->attach_data_ok;
}

static void report_container(const struct doctor_system *s, const struct doctor_probe *p)
{
    if (!s->container && !s->user_ns) {
        doctor_finding(DOCTOR_OK, NULL, "container: none detected");
        return;
    }
    char what[256];
    if (s->container) {
        snprintf(what, sizeof(what), "%s (%s)%s", s->container, s->container_hint,
                 s->user_ns ? ", in a user namespace" : "");
    } else {
        snprintf(what, sizeof(what), "a user namespace (uid_map is not the identity map)");
    }
    if (single_copy_works(p)) {
        doctor_finding(DOCTOR_OK, NULL,
                       "container: %s; process_vm_readv between its processes is permitted (ranks of one job must "
                       "share the container)",
                       what);
    } else {
        /* With CAP_SYS_PTRACE already held, only the profile is left to
         * blame; don't send the user after a capability they have. */
        doctor_finding(DOCTOR_WARN,
                       s->cap_sys_ptrace
                           ? "start the container with a seccomp profile that allows process_vm_readv and "
                             "process_vm_writev; or run with --mca btl_cma_single_copy none"
                           : "start the container with --cap-add=SYS_PTRACE, or with a seccomp profile that allows "
                             "process_vm_readv and process_vm_writev; or run with --mca btl_cma_single_copy none",
                       "container: %s: single copy fails in it (below); container runtimes commonly cause that "
                       "with their seccomp profile%s",
                       what, s->cap_sys_ptrace ? "" : " or by withholding CAP_SYS_PTRACE");
    }
}

static void report_seccomp(const struct doctor_system *s, const struct doctor_probe *p)
{
    if (s->seccomp < 0) {
        doctor_finding(DOCTOR_OK, NULL, "seccomp: unknown (no Seccomp line in /proc/self/status)");
        return;
    }
    if (s->seccomp == 0) {
        doctor_finding(DOCTOR_OK, NULL, "seccomp: no filter on this process");
        return;
    }
    /* A filter is active: name the calls it refused in the probes (an
     * errno, or a probe child killed while making the call). */
    int r2_killed_in = p->r2_ran && p->r2_step != STEP_DONE ? p->r2_step : STEP_NONE;
    int blocked_readv = p->started && ((p->r1_step == STEP_DONE && p->self_readv_errno != 0) ||
                                       (p->r1_step != STEP_DONE && p->r1_ran));
    int blocked_memfd = (!p->started && p->pub_step == STEP_MEMFD_CREATE) ||
                        (p->started && (p->memfd_rc == -EPERM || p->memfd_rc == -ENOSYS));
    int blocked_pidfd = p->started && ((p->r2_step == STEP_DONE && (p->pidfd_open_errno == EPERM ||
                                                                    p->pidfd_open_errno == ENOSYS)) ||
                                       r2_killed_in == STEP_PIDFD_OPEN);
    int blocked_getfd = p->started && !blocked_pidfd &&
                        ((p->r2_step == STEP_DONE &&
                          (p->self_getfd_errno == EPERM || p->self_getfd_errno == ENOSYS)) ||
                         r2_killed_in == STEP_SELF_GETFD || r2_killed_in == STEP_PEER_GETFD);
    char refused[128] = "";
    if (blocked_readv) {
        strcat(refused, ", process_vm_readv");
    }
    if (blocked_memfd) {
        strcat(refused, ", memfd_create");
    }
    if (blocked_pidfd) {
        strcat(refused, ", pidfd_open");
    }
    if (blocked_getfd) {
        strcat(refused, ", pidfd_getfd");
    }
    if (!refused[0]) {
        doctor_finding(DOCTOR_OK, NULL,
                       "seccomp: %d filter(s) on this process, allowing process_vm_readv, memfd_create, pidfd_open "
                       "and pidfd_getfd",
                       s->seccomp_filters);
        return;
    }
    char fix[768];
    snprintf(fix, sizeof(fix),
             "allow %s in the seccomp profile (Docker/Podman: --security-opt seccomp=PROFILE.json%s)%s%s", refused + 2,
             blocked_readv && !s->cap_sys_ptrace ? "; the default profile allows process_vm_readv with "
                                                  "--cap-add=SYS_PTRACE"
                                                : "",
             blocked_readv ? "; or run with --mca btl_cma_single_copy none" : "",
             blocked_memfd ? "; or run with --mca btl_cma_segment posix" : "");
    /* Only single copy and memfd creation change what cma does; pidfd calls
     * have fallbacks, reported in their own findings. */
    int matters = blocked_readv || blocked_memfd;
    doctor_finding(matters ? DOCTOR_WARN : DOCTOR_OK, fix,
                   "seccomp: %d filter(s) on this process (Seccomp: %d), refusing %s%s", s->seccomp_filters, s->seccomp, refused + 2, matters ? "" : "; cma falls back (below)");
}

static void report_single_copy(const struct doctor_system *s, const struct doctor_probe *p,
                               const struct doctor_ompi *o)
{
    char e[128], why[512];
    if (!p->started) {
        if (WIFSIGNALED(p->pub_status) && WTERMSIG(p->pub_status) == SIGSYS) {
            describe_death(why, sizeof(why), p->pub_status, p->pub_step);
            doctor_finding(DOCTOR_FAIL, "allow memfd_create in the seccomp profile, or run with --mca "
                           "btl_cma_segment posix",
                           "live probes: the publishing process %s", why);
        } else {
            doctor_finding(DOCTOR_FAIL, "check 'ulimit -u' (processes) and the messages above",
                           "live probes could not start: %s", p->start_error);
        }
        return;
    }
    if (!p->r1_ran) {
        doctor_finding(DOCTOR_FAIL, "check 'ulimit -u' (processes)", "single copy: could not fork a probe");
        return;
    }
    if (p->r1_step != STEP_DONE) {
        describe_death(why, sizeof(why), p->r1_status, p->r1_step);
        doctor_finding(DOCTOR_FAIL, fix_seccomp, "single copy: the probe process %s", why);
        return;
    }
    if (p->self_readv_errno != 0) {
        errtext(p->self_readv_errno, e, sizeof(e));
        const char *cause, *fixp = fix_seccomp;
        if (s->seccomp == 2) {
            cause = "refused by the seccomp filter on this process (Seccomp: 2 in /proc/self/status)";
        } else if (p->self_readv_errno == ENOSYS) {
            cause = "this kernel lacks it (built without CONFIG_CROSS_MEMORY_ATTACH)";
            fixp = "use a kernel built with CONFIG_CROSS_MEMORY_ATTACH=y; or run with --mca btl_cma_single_copy "
                   "none";
        } else {
            cause = "a security module (SELinux, AppArmor) refuses the call itself";
            fixp = "allow process_vm_readv in the security policy; or run with --mca btl_cma_single_copy none";
        }
        doctor_finding(DOCTOR_FAIL, fixp,
                       "single copy: process_vm_readv fails (%s) even on the process's own memory: %s; large "
                       "messages will use the ring pipeline",
                       e, cause);
        return;
    }
    if (p->peer_readv_errno != 0) {
        errtext(p->peer_readv_errno, e, sizeof(e));
        const char *fix = "run all ranks as one user in one user namespace; in a container: --cap-add=SYS_PTRACE; "
                          "look for SELinux/AppArmor denials (dmesg, ausearch); or run with --mca "
                          "btl_cma_single_copy none (large messages use the ring pipeline, without a warning)";
        if (s->yama >= 3) {
            snprintf(why, sizeof(why), "Yama ptrace_scope %d forbids it", s->yama);
            fix = "boot with kernel.yama.ptrace_scope below 3; or run with --mca btl_cma_single_copy none";
        } else if (s->yama == 2 && !s->cap_sys_ptrace) {
            snprintf(why, sizeof(why), "Yama ptrace_scope 2 allows it only with CAP_SYS_PTRACE");
            fix = "as root: sysctl -w kernel.yama.ptrace_scope=1; or run with --mca btl_cma_single_copy none";
        } else if (p->peer_readv_errno == EPERM || p->peer_readv_errno == EACCES) {
            snprintf(why, sizeof(why),
                     "the kernel's ptrace permission check refused it (a security module, a user namespace%s)",
                     s->container ? ", the container's settings" : "");
        } else {
            snprintf(why, sizeof(why), "an unexpected error");
        }
        doctor_finding(DOCTOR_FAIL, fix,
                       "single copy: process_vm_readv into a sibling process fails (%s): %s; large messages will "
                       "use the ring pipeline",
                       e, why);
        return;
    }
    if (!p->readv_data_ok) {
        doctor_finding(DOCTOR_FAIL, "report this: the kernel returned another process's memory incorrectly",
                       "single copy: process_vm_readv returned the wrong word");
        return;
    }
    const char *mode = o->params[DP_SINGLE_COPY].value;
    doctor_finding(DOCTOR_OK, NULL,
                   "single copy: process_vm_readv between two sibling processes works (used for messages from %s "
                   "bytes%s)",
                   o->params[DP_SINGLE_COPY_MIN].value,
                   strcmp(mode, "none") == 0 ? "; but btl_cma_single_copy is none" : "");
}

static void report_memfd(const struct doctor_system *s, const struct doctor_probe *p)
{
    char e[128], why[512];
    if (!p->started) {
        return; /* report_single_copy said why */
    }
    if (p->memfd_rc == 0) {
        doctor_finding(DOCTOR_OK, NULL,
                       "memfd_create works: cma's segments have no name, a killed job leaves nothing in /dev/shm");
    } else if (p->memfd_rc == -ENOSYS) {
        doctor_finding(DOCTOR_WARN,
                       "use a kernel >= 3.17 (or allow memfd_create in the seccomp profile), and keep room in "
                       "/dev/shm",
                       "memfd_create is not available (%s): cma falls back to POSIX segments in /dev/shm",
                       errtext(ENOSYS, e, sizeof(e)));
    } else {
        doctor_finding(DOCTOR_FAIL,
                       "run with --mca btl_cma_segment posix (segments in /dev/shm); or allow memfd_create in the "
                       "seccomp profile",
                       "memfd_create fails (%s)%s: cma's default segment kind cannot be created, so it disables "
                       "itself%s%s",
                       errtext(-p->memfd_rc, e, sizeof(e)),
                       s->seccomp == 2 && p->memfd_rc == -EPERM ? ", refused by the seccomp filter" : "",
                       /* libshmring's hint for EPERM speaks of /dev/shm, wrong for a memfd */
                       p->memfd_rc == -EPERM ? "" : "; ", p->memfd_rc == -EPERM ? "" : p->memfd_msg);
    }

    if (!p->r2_ran) {
        return;
    }
    if (p->r2_step != STEP_DONE) {
        describe_death(why, sizeof(why), p->r2_status, p->r2_step);
        doctor_finding(DOCTOR_FAIL,
                       "allow pidfd_open and pidfd_getfd in the seccomp profile; or run with --mca btl_cma_segment "
                       "posix",
                       "segment probe: the probe process %s", why);
        return;
    }
    if (p->pidfd_open_errno == 0 && p->exit_seen_by_pidfd) {
        doctor_finding(DOCTOR_OK, NULL,
                       "pidfd_open works: a dead peer is noticed at once, even if its pid is reused");
    } else if (p->pidfd_open_errno == 0) {
        doctor_finding(DOCTOR_WARN, "report this, with the kernel version (uname -r)",
                       "pidfd_open works, but a peer's exit did not show on its pidfd");
    } else {
        doctor_finding(DOCTOR_WARN, "use a Linux kernel >= 5.3 (and allow pidfd_open in the seccomp profile)",
                       "pidfd_open is not available (%s): dead peers are found with kill(pid, 0), which cannot "
                       "tell a reused pid",
                       errtext(p->pidfd_open_errno, e, sizeof(e)));
    }
    if (p->memfd_rc != 0) {
        return;
    }
    if (p->attach_rc != 0) {
        doctor_finding(DOCTOR_FAIL,
                       "run with --mca btl_cma_segment posix (segments in /dev/shm, which then needs room); or lift "
                       "the ptrace restriction as for single copy",
                       "memfd segment: a sibling process cannot map it: %s", p->attach_msg);
    } else if (!p->attach_data_ok) {
        doctor_finding(DOCTOR_FAIL, "report this: shared memory returned other bytes than were written",
                       "memfd segment: a sibling mapped it but read the wrong bytes");
    } else if (p->peer_getfd_errno == 0) {
        doctor_finding(DOCTOR_OK, NULL,
                       "memfd segment shared between sibling processes with pidfd_getfd; the bytes one wrote, the "
                       "other read");
    } else {
        doctor_finding(DOCTOR_OK, NULL,
                       "memfd segment shared between sibling processes through /proc/PID/fd (%s: %s); the bytes one "
                       "wrote, the other read",
                       p->pidfd_open_errno ? "pidfd_open" : "pidfd_getfd", errtext(p->peer_getfd_errno, e, sizeof(e)));
    }
}

static uint32_t pow2_at_least(uint64_t v)
{
    uint32_t p = SHM_RING_MIN_CELLS;
    while (p < v && p < SHM_RING_MAX_CELLS) {
        p <<= 1;
    }
    return p;
}

/* The receive segment each rank creates, computed as btl_cma_component.c
 * does: one ring per local rank (its own slot unused), each raised to hold
 * two of the largest fragments, page-rounded, plus a page of bookkeeping,
 * plus the library's reserved bytes rounded up to a page. */
/* btl_cma_ring_size, with 0 resolved as the component does for this many
 * local ranks. */
static uint64_t ring_bytes(const struct doctor_ompi *o, long ranks)
{
    uint64_t ring = doctor_param_u(o, DP_RING_SIZE);
    if (0 == ring) {
        ring = ranks <= 8 ? 512 * 1024 : ranks <= 16 ? 256 * 1024 : 128 * 1024;
    }
    return ring;
}

static uint64_t segment_bytes(const struct doctor_ompi *o, long ranks)
{
    uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
    uint64_t eager = doctor_param_u(o, DP_EAGER), frag = doctor_param_u(o, DP_MAX_SEND);
    uint64_t largest = eager > frag ? eager : frag;
    uint32_t cells = pow2_at_least(ring_bytes(o, ranks) / SHM_RING_CELL_SIZE);
    uint32_t need = pow2_at_least(2 * ((largest + SHM_RING_MSG_HDR_SIZE) / SHM_RING_CELL_SIZE + 1));
    if (cells < need) {
        cells = need;
    }
    uint64_t stride = (SHM_RING_HEADER_SIZE + (uint64_t) cells * SHM_RING_CELL_SIZE + page - 1) / page * page;
    uint64_t size = page + (uint64_t) ranks * stride + SHM_SEGMENT_RESERVED;
    return (size + page - 1) / page * page;
}

static void report_shm(const struct doctor_system *s, const struct doctor_probe *p, const struct doctor_ompi *o,
                       long ranks)
{
    static const char fix[] =
        "enlarge /dev/shm: docker run --shm-size=1g (Kubernetes: an emptyDir with medium: Memory mounted at "
        "/dev/shm); on a host, as root: mount -o remount,size=4G /dev/shm; or run fewer ranks per node, or a "
        "smaller --mca btl_cma_ring_size";
    char a[32], b[32], c[32], d[32];
    int memfd_ok = memfd_sharing_works(p);
    const char *where = memfd_ok ? "cma itself uses memfd segments here, but falls back to /dev/shm for "
                                   "non-dumpable processes and with btl_cma_segment posix, and vader lives there"
                                 : "cma must use POSIX segments in /dev/shm here, since memfd sharing fails";
    if (!s->shm_ok) {
        char e[128];
        doctor_finding(memfd_ok ? DOCTOR_WARN : DOCTOR_FAIL,
                       "mount a tmpfs there: mount -t tmpfs -o size=4G,mode=1777 tmpfs /dev/shm",
                       "/dev/shm cannot be examined (%s); %s", errtext(s->shm_errno, e, sizeof(e)), where);
        return;
    }
    uint64_t per = segment_bytes(o, ranks);
    uint64_t node = per * (uint64_t) ranks;
    doctor_bytes(s->shm_free, a, sizeof(a));
    doctor_bytes(s->shm_size, b, sizeof(b));
    doctor_bytes(node, c, sizeof(c));
    doctor_bytes(per, d, sizeof(d));
    if (s->shm_free < node) {
        doctor_finding(memfd_ok ? DOCTOR_WARN : DOCTOR_FAIL, fix,
                       "/dev/shm: %s free of %s, but %ld ranks on this node need about %s of segments (%s each); "
                       "%s",
                       a, b, ranks, c, d, where);
    } else if (s->shm_free < SHM_LOW_WATER) {
        doctor_finding(DOCTOR_WARN, fix,
                       "/dev/shm: only %s free of %s, under 64 MiB: enough for %ld ranks' segments (%s) but "
                       "little for anything else; %s",
                       a, b, ranks, c, where);
    } else {
        doctor_finding(DOCTOR_OK, NULL,
                       "/dev/shm: %s free of %s; %ld ranks on this node need about %s of segments (%s each)%s", a,
                       b, ranks, c, d, memfd_ok ? ", as memfd, outside /dev/shm" : ", in /dev/shm (POSIX segments)");
    }
}

static void report_thp(const struct doctor_system *s)
{
    if (!s->thp[0]) {
        doctor_finding(DOCTOR_OK, NULL, "transparent huge pages: not available in this kernel (information only)");
        return;
    }
    if (s->pagemap_scan_errno) {
        doctor_finding(DOCTOR_OK, NULL,
                       "transparent huge pages: %s (shared memory: %s), but the kernel cannot say which pages are "
                       "huge (PAGEMAP_SCAN: %s; Linux 6.7 or later has it): large messages are sent as if every "
                       "buffer were on 4 KiB pages",
                       s->thp, s->thp_shmem[0] ? s->thp_shmem : "unknown", strerror(s->pagemap_scan_errno));
        return;
    }
    doctor_finding(DOCTOR_OK, NULL,
                   "transparent huge pages: %s (shared memory: %s); huge-page detection works (PAGEMAP_SCAN): send "
                   "buffers on huge pages go by single copy from btl_cma_single_copy_min_huge bytes, and "
                   "'--mca btl_cma_hugepage collapse' moves buffers sent repeatedly onto huge pages",
                   s->thp, s->thp_shmem[0] ? s->thp_shmem : "unknown");
}

static void report_topology(const struct doctor_topo *t, const struct doctor_system *s, long ranks,
                            const struct doctor_ompi *o)
{
    char l3[32];
    if (!t->loaded) {
        doctor_finding(DOCTOR_WARN, "check that /sys and /proc are mounted; Open MPI needs the same information",
                       "topology: hwloc cannot read it (%s)", t->error);
    } else {
        doctor_finding(DOCTOR_OK, NULL,
                       "topology: %d package(s), %d NUMA node(s), %d core(s), %d hardware thread(s), %d L3 "
                       "cache(s)%s%s%s",
                       t->packages, t->numa_nodes, t->cores, t->pus, t->l3_caches, t->l3_size ? " of " : "",
                       t->l3_size ? doctor_bytes(t->l3_size, l3, sizeof(l3)) : "", t->l3_size ? " each" : "");
        if (t->numa_nodes > 1) {
            doctor_finding(DOCTOR_OK, NULL,
                           "several NUMA nodes: peers on different nodes read each other's rings across the "
                           "interconnect; map communicating ranks close (--map-by core --bind-to core)");
        }
    }
    long cpus = s->online_cpus > 0 ? s->online_cpus : (t->pus > 0 ? t->pus : 1);
    long yield = strtol(o->params[DP_YIELD_IDLE].value, NULL, 10);
    if (ranks > cpus) {
        char fix[160];
        snprintf(fix, sizeof(fix), "run at most %ld ranks per node", cpus);
        doctor_finding(DOCTOR_WARN, fix,
                       "%ld ranks on %ld online CPUs: oversubscribed; %s, and latency rises with every rank that "
                       "waits for a CPU",
                       ranks, cpus,
                       yield < 0    ? "cma's progress yields the CPU after 64 idle polls where Open MPI does not yield by itself (btl_cma_yield_idle -1)"
                       : yield == 0 ? "btl_cma_yield_idle is 0, so idle ranks never yield the CPU"
                                    : "cma's progress yields after btl_cma_yield_idle idle polls");
    } else {
        doctor_finding(DOCTOR_OK, NULL, "%ld ranks on %ld online CPUs: not oversubscribed%s", ranks, cpus,
                       yield < 0 ? ", progress polls without yielding" : "");
    }
}

static void param_text(const struct doctor_ompi *o, int which, char *buf, size_t len)
{
    const struct doctor_param *pp = &o->params[which];
    if (pp->source[0] && strcmp(pp->source, "default") != 0) {
        snprintf(buf, len, "%s (set by %s)", pp->value, pp->source);
    } else {
        snprintf(buf, len, "%s", pp->value);
    }
}

static void report_thresholds(const struct doctor_ompi *o, const struct doctor_probe *p, long ranks)
{
    char eager[96], frag[96], scmin[96], ring[160];
    param_text(o, DP_EAGER, eager, sizeof(eager));
    param_text(o, DP_MAX_SEND, frag, sizeof(frag));
    param_text(o, DP_SINGLE_COPY_MIN, scmin, sizeof(scmin));
    if (0 == doctor_param_u(o, DP_RING_SIZE)) {
        snprintf(ring, sizeof(ring), "%llu (automatic for %ld local ranks)",
                 (unsigned long long) ring_bytes(o, ranks), ranks);
    } else {
        param_text(o, DP_RING_SIZE, ring, sizeof(ring));
    }
    const char *mode = o->params[DP_SINGLE_COPY].value;
    const char *large = strcmp(mode, "none") == 0 ? "single copy off (btl_cma_single_copy none)"
                        : single_copy_works(p)    ? "single copy from"
                                                  : "single copy (denied here, so the ring pipeline) from";
    doctor_finding(DOCTOR_OK, NULL,
                   "thresholds (%s): eager up to %s bytes; ring pipeline in %s-byte fragments; %s%s%s bytes; "
                   "%s-byte ring per peer; segment %s; change any with --mca btl_cma_<name> VALUE",
                   o->params_from_ompi_info ? "from ompi_info" : "component defaults, ompi_info did not list them",
                   eager, frag, large, strcmp(mode, "none") == 0 ? "" : " ", strcmp(mode, "none") == 0 ? "" : scmin,
                   ring, o->params[DP_SEGMENT].value);
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: btl-cma-doctor [--quiet] [--component-dir DIR] [--ranks N]\n"
            "Checks whether the cma BTL of Open MPI will work well on this node, and why not.\n"
            "\n"
            "  -q, --quiet              print only warnings and failures (with their fixes)\n"
            "  -c, --component-dir DIR  look for mca_btl_cma.so in DIR before Open MPI's own\n"
            "                           component path (e.g. a build tree's src/btl_cma/.libs)\n"
            "  -n, --ranks N            ranks per node to size shared memory for (default:\n"
            "                           the number of online CPUs)\n"
            "  -h, --help               this text\n"
            "\n"
            "Exit status: 0 no failure (warnings allowed), 1 at least one failure, 2 usage error.\n"
            "See btl-cma-doctor(1) for every check.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"quiet", no_argument, NULL, 'q'},
        {"component-dir", required_argument, NULL, 'c'},
        {"ranks", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *component_dir = NULL;
    long ranks = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hqc:n:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case 'q':
            quiet = 1;
            break;
        case 'c':
            component_dir = optarg;
            break;
        case 'n': {
            char *end;
            errno = 0;
            ranks = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || ranks < 1 || ranks > 1 << 20) {
                fprintf(stderr, "btl-cma-doctor: --ranks needs a whole number from 1 to %d, not '%s'\n", 1 << 20,
                        optarg);
                return 2;
            }
            break;
        }
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "btl-cma-doctor: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    static char component_path[PATH_MAX];
    if (component_dir) {
        struct stat st;
        if (stat(component_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "btl-cma-doctor: --component-dir %s is not a directory\n", component_dir);
            return 2;
        }
        /* The path is printed for mpirun, which may start elsewhere. */
        if (realpath(component_dir, component_path)) {
            component_dir = component_path;
        }
    }

    /* Probes first: they fork, and nothing must sit in stdio buffers then. */
    struct doctor_system sys;
    struct doctor_probe probe;
    struct doctor_ompi ompi;
    struct doctor_topo topo;
    doctor_system_gather(&sys);
    doctor_probe_run(&probe, sys.yama);
    doctor_ompi_gather(&ompi, component_dir);
    doctor_topo_gather(&topo);
    if (ranks == 0) {
        ranks = sys.online_cpus > 0 ? sys.online_cpus : 1;
    }

    if (!quiet) {
        char host[256] = "this node";
        if (gethostname(host, sizeof(host)) != 0) {
            snprintf(host, sizeof(host), "this node");
        }
        host[sizeof(host) - 1] = '\0';
        printf("btl-cma-doctor %s: can the cma BTL work well on %s? (%ld ranks per node assumed)\n",
               PACKAGE_VERSION, host, ranks);
    }
    report_ompi(&ompi);
    report_yama(&sys);
    report_caps(&sys);
    report_container(&sys, &probe);
    report_seccomp(&sys, &probe);
    report_single_copy(&sys, &probe, &ompi);
    report_memfd(&sys, &probe);
    report_shm(&sys, &probe, &ompi, ranks);
    report_thp(&sys);
    report_topology(&topo, &sys, ranks, &ompi);
    report_thresholds(&ompi, &probe, ranks);

    if (!quiet) {
        const char *verdict = counts[DOCTOR_FAIL] ? "cma will not work well here until the failures above are fixed"
                              : counts[DOCTOR_WARN] ? "cma will work here; the warnings above cost performance or "
                                                      "robustness"
                                                    : "cma will work well here";
        printf("summary: %d OK, %d WARN, %d FAIL: %s\n", counts[DOCTOR_OK], counts[DOCTOR_WARN],
               counts[DOCTOR_FAIL], verdict);
    }
    fflush(stdout);
    return counts[DOCTOR_FAIL] ? 1 : 0;
}
