/*
 * btl-cma-doctor's internal interface: the facts each part of the doctor
 * gathers (Open MPI and the component, kernel and container settings, the
 * live probes between forked processes, the hardware topology), and the one
 * function that prints a finding.  Gathering and judging are kept apart so
 * that a finding can weigh facts from several parts (a full /dev/shm matters
 * more when memfd segments cannot be shared), and so that every risky system
 * call runs in a forked child before anything is printed.
 */
#ifndef BTL_CMA_DOCTOR_H
#define BTL_CMA_DOCTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm_ring.h"

/* ------------------------------------------------------------------------ */
/* Findings                                                                  */

enum doctor_level { DOCTOR_OK = 0, DOCTOR_WARN = 1, DOCTOR_FAIL = 2 };

/* Print "[ OK ] ..." / "[WARN] ..." / "[FAIL] ..." and, for a problem, an
 * indented "fix: ..." line.  fix is ignored for DOCTOR_OK. */
__attribute__((format(printf, 3, 4)))
void doctor_finding(enum doctor_level level, const char *fix, const char *fmt, ...);

/* Human-readable byte counts ("544 KiB", "23.5 GiB"); buf holds >= 32. */
const char *doctor_bytes(uint64_t n, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Open MPI and the component (doctor_ompi.c)                                */

/* A component parameter as ompi_info reports it, or the compiled-in default. */
struct doctor_param {
    const char *name;   /* without the btl_cma_ prefix */
    char value[64];
    char source[64];    /* "default", "environment", a file...; "" if not read */
};

enum { DP_EAGER, DP_MAX_SEND, DP_SINGLE_COPY_MIN, DP_RING_SIZE, DP_SINGLE_COPY, DP_SEGMENT, DP_YIELD_IDLE,
       DP_COUNT };

struct doctor_ompi {
    char ompi_info[4096];     /* program run; "" when none was found */
    int ran;                  /* ompi_info ran and exited 0 */
    char run_error[256];      /* why it did not */
    char version[64];         /* "4.1.4" */
    int major, minor;
    char component_dir[4096]; /* --component-dir, or "" */
    char search_path[8192];   /* the component path ompi_info searched */
    int cma_listed;           /* "MCA btl: cma" appeared */
    char cma_version[64];     /* "4.1.4" from "Component v4.1.4" */
    char cma_file[4096 + 32]; /* first mca_btl_cma.so on the search path */
    char load_error[512];     /* ompi_info's complaint about mca_btl_cma */
    char pkglibdir[4096];
    int params_from_ompi_info;
    struct doctor_param params[DP_COUNT];
};

void doctor_ompi_gather(struct doctor_ompi *o, const char *component_dir);
/* A parameter as an unsigned number (0 when it does not parse). */
unsigned long long doctor_param_u(const struct doctor_ompi *o, int which);

/* ------------------------------------------------------------------------ */
/* Kernel, capabilities, container, memory (doctor_system.c)                 */

struct doctor_system {
    int yama;                 /* -1: no Yama in this kernel */
    int have_capeff;
    uint64_t capeff;
    int cap_sys_ptrace;
    int seccomp;              /* -1 unknown, 0 none, 1 strict, 2 filter */
    int seccomp_filters;      /* -1 unknown */
    const char *container;    /* NULL: none detected */
    const char *container_hint; /* the evidence */
    int user_ns;              /* uid_map is not the identity map */
    int shm_ok;               /* statvfs(/dev/shm) worked */
    int shm_errno;
    uint64_t shm_size, shm_free;
    char thp[32], thp_shmem[32];
    int pagemap_scan_errno;   /* 0: the PAGEMAP_SCAN ioctl answers (huge-page detection) */
    long online_cpus;
};

void doctor_system_gather(struct doctor_system *s);

/* ------------------------------------------------------------------------ */
/* Live probes between forked processes (doctor_probe.c)                     */

/* What a probe child was doing, so a child killed by a seccomp filter
 * (SIGSYS) can be blamed on the right system call. */
enum doctor_step {
    STEP_NONE = 0,
    STEP_MEMFD_CREATE,
    STEP_SELF_READV,
    STEP_PEER_READV,
    STEP_PIDFD_OPEN,
    STEP_SELF_GETFD,
    STEP_PEER_GETFD,
    STEP_ATTACH,
    STEP_DONE,
};

struct doctor_probe {
    int started;            /* the publisher came up and reported */
    char start_error[256];
    /* publisher */
    int pub_status;         /* waitpid status of the publisher */
    int memfd_rc;           /* shm_segment_create(MEMFD): 0 or -errno */
    char memfd_msg[256];
    int pub_step;           /* last step the publisher began */
    /* single-copy reader */
    int r1_ran, r1_status, r1_step;
    int self_readv_errno;   /* 0: reading its own memory worked */
    int peer_readv_errno;   /* 0: reading the publisher worked */
    int readv_data_ok;
    /* segment reader */
    int r2_ran, r2_status, r2_step;
    int pidfd_open_errno;   /* 0: pidfd_open worked (liveness via pidfd) */
    int self_getfd_errno;   /* 0: pidfd_getfd works at all */
    int peer_getfd_errno;   /* 0: pidfd_getfd on the publisher worked */
    int attach_rc;
    char attach_msg[256];
    int attach_data_ok;
    /* liveness seen from the parent */
    int exit_seen_by_pidfd; /* the publisher's exit showed on its pidfd */
    int parent_pidfd;       /* the parent could pidfd_open its child */
};

void doctor_probe_run(struct doctor_probe *p, int yama);

/* ------------------------------------------------------------------------ */
/* Topology (doctor_topo.c)                                                  */

struct doctor_topo {
    int loaded;
    char error[128];
    int packages, numa_nodes, cores, pus, l3_caches;
    uint64_t l3_size;       /* first L3 cache's size */
};

void doctor_topo_gather(struct doctor_topo *t);

#endif /* BTL_CMA_DOCTOR_H */
