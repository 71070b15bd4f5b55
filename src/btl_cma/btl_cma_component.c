/*
 * The cma component: how Open MPI finds and configures it.  Registration of
 * every MCA parameter and MPI_T performance variable, open/close, and
 * btl_init, which creates this process's receive segment (one ring per
 * local rank), formats the rings it will consume, and publishes through the
 * modex what a peer needs to attach.  Also the help-message helper that
 * keeps errors readable when the help file is not installed.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_frag.h"
#include "btl_cma_hugepage.h"
#include "btl_cma_topo.h"

#include "opal/mca/hwloc/base/base.h"

#include "opal/mca/base/mca_base_pvar.h"
#include "opal/mca/base/mca_base_var.h"
#include "opal/mca/pmix/pmix.h"
#include "opal/runtime/opal_progress.h"
#include "opal/util/proc.h"
#include "opal/util/show_help.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static int cma_register(void);
static int cma_open(void);
static int cma_close(void);
static mca_btl_base_module_t **cma_init(int *num_btls, bool enable_progress_threads, bool enable_mpi_threads);

mca_btl_cma_component_t mca_btl_cma_component = {
    .super = {
        .btl_version = {
            MCA_BTL_DEFAULT_VERSION("cma"),
            .mca_open_component = cma_open,
            .mca_close_component = cma_close,
            .mca_register_component_params = cma_register,
        },
        .btl_data = {.param_field = MCA_BASE_METADATA_PARAM_CHECKPOINT},
        .btl_init = cma_init,
        .btl_progress = mca_btl_cma_component_progress,
    },
};

/* ---------------------------------------------------------------------- */
/* help messages                                                           */

static char help_dirs_added;

/* opal_show_help finds help-btl-cma.txt only in Open MPI's data directory
 * and in directories added at run time.  Ours sits beside the installed
 * mca_btl_cma.so (and, in the build tree, one level above .libs). */
static const char *help_file_dir(void)
{
    static char dir[PATH_MAX];
    Dl_info info;
    if (dir[0] || !dladdr((void *) &mca_btl_cma_component, &info) || !info.dli_fname) {
        return dir[0] ? dir : NULL;
    }
    char so[PATH_MAX];
    snprintf(so, sizeof(so), "%s", info.dli_fname);
    const char *candidates[2];
    char parent[PATH_MAX + 4];
    snprintf(dir, sizeof(dir), "%s", dirname(so));
    snprintf(parent, sizeof(parent), "%s/..", dir);
    candidates[0] = dir;
    candidates[1] = parent;
    for (int i = 0; i < 2; ++i) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/help-btl-cma.txt", candidates[i]);
        if (access(path, R_OK) == 0) {
            memmove(dir, candidates[i], strlen(candidates[i]) + 1);
            return dir;
        }
    }
    dir[0] = '\0';
    return NULL;
}

bool mca_btl_cma_help_available(void)
{
    const char *dir = help_file_dir();
    if (dir && !help_dirs_added) {
        opal_show_help_add_dir(dir);
        help_dirs_added = 1;
    }
    return dir != NULL;
}

/* ---------------------------------------------------------------------- */
/* parameters and performance variables                                    */

static int register_counter(const char *name, const char *desc, uint64_t *storage)
{
    return mca_base_component_pvar_register(&mca_btl_cma_component.super.btl_version, name, desc, OPAL_INFO_LVL_4,
                                            MCA_BASE_PVAR_CLASS_COUNTER, MCA_BASE_VAR_TYPE_UNSIGNED_LONG, NULL,
                                            MCA_BASE_VAR_BIND_NO_OBJECT,
                                            MCA_BASE_PVAR_FLAG_READONLY | MCA_BASE_PVAR_FLAG_CONTINUOUS, NULL,
                                            NULL, NULL, storage);
}

/* A plain parameter (no value list, not settable after startup). */
static void register_param(const char *name, const char *desc, mca_base_var_type_t type,
                           mca_base_var_info_lvl_t level, void *storage)
{
    (void) mca_base_component_var_register(&mca_btl_cma_component.super.btl_version, name, desc, type, NULL, 0, 0,
                                           level, MCA_BASE_VAR_SCOPE_LOCAL, storage);
}

/* An enumerated parameter: ompi_info lists its values beside the default. */
static void register_enum(const char *name, const char *desc, const mca_base_var_enum_value_t *values,
                          mca_base_var_info_lvl_t level, int *storage)
{
    mca_base_var_enum_t *e = NULL;
    char enum_name[64];
    snprintf(enum_name, sizeof(enum_name), "btl_cma_%s", name);
    mca_base_var_enum_create(enum_name, values, &e);
    mca_base_component_var_register(&mca_btl_cma_component.super.btl_version, name, desc, MCA_BASE_VAR_TYPE_INT, e,
                                    0, 0, level, MCA_BASE_VAR_SCOPE_LOCAL, storage);
    OBJ_RELEASE(e);
}

static int cma_register(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    const mca_base_component_t *v = &c->super.btl_version;
    c->verbose = 0;
    mca_base_component_var_register(v, "verbose",
                                    "Diagnostics: 0 none, 1 decisions at startup (segment kind, thresholds, "
                                    "single copy per peer), 10 every connection, 100 everything",
                                    MCA_BASE_VAR_TYPE_INT, NULL, 0, MCA_BASE_VAR_FLAG_SETTABLE, OPAL_INFO_LVL_5,
                                    MCA_BASE_VAR_SCOPE_LOCAL, &c->verbose);

    c->ring_size = 0;
    register_param("ring_size",
                   "Bytes of each per-peer receive ring (rounded up to a power of two; raised automatically to "
                   "hold two of the largest fragment). 0: 512 KiB with up to 8 local ranks, 256 KiB up to 16, "
                   "128 KiB beyond (bigger rings keep more pipeline fragments in flight; memory grows with the "
                   "number of peers)",
                   MCA_BASE_VAR_TYPE_UNSIGNED_INT, OPAL_INFO_LVL_4, &c->ring_size);

    c->small_ring_size = 8192;
    register_param("small_ring_size",
                   "Bytes of each per-peer small ring (rounded up to a power of two, raised to hold two of the "
                   "largest small message), which carries the messages of up to btl_cma_small_max bytes: its "
                   "few cache lines stay in the cores' caches, where those of the large ring come from farther "
                   "away (a 1 KiB ping-pong in bench/ring: 155 ns one way through 8 KiB, 250 ns through 512 "
                   "KiB). 0: no small rings",
                   MCA_BASE_VAR_TYPE_UNSIGNED_INT, OPAL_INFO_LVL_4, &c->small_ring_size);
    c->small_min = 160;
    register_param("small_min",
                   "Smallest message, the PML's header included, sent through the small ring: below it the "
                   "large ring measured faster (1-128 byte MPI ping-pong 4-12 %), from 256 bytes the small "
                   "ring (15-40 %)",
                   MCA_BASE_VAR_TYPE_UNSIGNED_INT, OPAL_INFO_LVL_4, &c->small_min);
    c->small_max = 2112;
    register_param("small_max",
                   "Largest message, the PML's header included, sent through the small ring (default: 2 KiB of "
                   "MPI payload and its header; 4 KiB would not fit the default ring twice, and a 16 KiB ring "
                   "measured slower at 256 B-1 KiB). Larger messages, and small ones that find the small ring "
                   "full, take the large ring; order is kept across both",
                   MCA_BASE_VAR_TYPE_UNSIGNED_INT, OPAL_INFO_LVL_4, &c->small_max);

    static const mca_base_var_enum_value_t sc_values[] = {
        {MCA_BTL_CMA_SC_AUTO, "auto"}, {MCA_BTL_CMA_SC_CMA, "cma"}, {MCA_BTL_CMA_SC_NONE, "none"}, {0, NULL}};
    c->single_copy = MCA_BTL_CMA_SC_AUTO;
    register_enum("single_copy",
                  "Large-message protocol: auto (process_vm_readv where permitted and measured faster, see "
                  "btl_cma_calibration; rings otherwise, warning once if denied), cma (process_vm_readv from "
                  "single_copy_min bytes, error if denied), none (copy pipeline through the rings only)",
                  sc_values, OPAL_INFO_LVL_3, &c->single_copy);

    c->single_copy_min = 256 * 1024;
    register_param("single_copy_min",
                   "Smallest message (bytes) sent by single copy; smaller messages above the eager limit go "
                   "through the copy pipeline",
                   MCA_BASE_VAR_TYPE_SIZE_T, OPAL_INFO_LVL_4, &c->single_copy_min);

    c->single_copy_min_huge = 1024 * 1024;
    register_param("single_copy_min_huge",
                   "Smallest message (bytes) sent by single copy when at least 7/8 of the send buffer is on "
                   "huge pages (process_vm_readv is several times faster from them); measured by "
                   "btl_cma_calibration unless set",
                   MCA_BASE_VAR_TYPE_SIZE_T, OPAL_INFO_LVL_4, &c->single_copy_min_huge);

    static const mca_base_var_enum_value_t hp_values[] = {{MCA_BTL_CMA_HP_NONE, "none"},
                                                           {MCA_BTL_CMA_HP_ADVISE, "advise"},
                                                           {MCA_BTL_CMA_HP_COLLAPSE, "collapse"},
                                                           {0, NULL}};
    c->hugepage_policy = MCA_BTL_CMA_HP_NONE;
    register_enum("hugepage",
                  "What to do with a send buffer of at least single_copy_min_huge bytes that is sent "
                  "hugepage_repeat times while on 4 KiB pages: none (leave it), advise (madvise "
                  "MADV_HUGEPAGE on its aligned 2 MiB extents: khugepaged may collapse them later), collapse "
                  "(madvise MADV_COLLAPSE: collapse them now, costing about 2 ms per MiB once, after which "
                  "single copy reads it several times faster).  Buffers the application marked "
                  "MADV_NOHUGEPAGE, and processes that disabled THP with prctl, are left alone",
                  hp_values, OPAL_INFO_LVL_4, &c->hugepage_policy);

    c->hugepage_repeat = 4;
    register_param("hugepage_repeat",
                   "Sends of the same buffer before btl_cma_hugepage applies its advice",
                   MCA_BASE_VAR_TYPE_UNSIGNED_INT, OPAL_INFO_LVL_5, &c->hugepage_repeat);

    static const mca_base_var_enum_value_t seg_values[] = {
        {SHM_SEGMENT_AUTO, "auto"}, {SHM_SEGMENT_MEMFD, "memfd"}, {SHM_SEGMENT_POSIX, "posix"}, {0, NULL}};
    c->segment_kind = SHM_SEGMENT_AUTO;
    register_enum("segment",
                  "Shared segment kind: auto (memfd, or posix when this process is not dumpable), memfd (no file "
                  "ever exists), posix (/dev/shm file removed once all peers attached)",
                  seg_values, OPAL_INFO_LVL_4, &c->segment_kind);

    c->free_list_max = -1;
    _Static_assert(MCA_BTL_CMA_FREE_LIST_MIN == 32, "the free_list_max description names the minimum");
    register_param("free_list_max",
                   "Most send descriptors to allocate (-1: unlimited; values below 32 are raised to 32)",
                   MCA_BASE_VAR_TYPE_INT, OPAL_INFO_LVL_5, &c->free_list_max);

    c->liveness_ms = 200;
    register_param("liveness_ms",
                   "Milliseconds between checks that peers are alive (a dead peer is reported to the PML "
                   "within about this time; 0 disables; with orte_allowed_exit_without_sync a peer that "
                   "exits without MPI_Finalize is only marked unreachable)",
                   MCA_BASE_VAR_TYPE_UNSIGNED_INT, OPAL_INFO_LVL_5, &c->liveness_ms);

    /* Automatic by default: yield only where the local ranks outnumber the
     * CPUs they may use and Open MPI does not yield by itself.  mpirun
     * sets mpi_yield_when_idle when it knows the node is oversubscribed,
     * and a second yield of ours then only added system calls to the
     * latency (64 oversubscribed ranks: 0.59 -> 0.46 us at 0 B without
     * it, bench/scale); it does not know of taskset or a container's CPU
     * set (two ranks on one CPU: 9.2 s for t-oversub's loops without a
     * yield, 0.4 s with). */
    c->yield_idle = -1;
    register_param("yield_idle",
                   "Call sched_yield() after this many consecutive progress calls that found nothing (0: "
                   "never; -1: 64 when the local ranks outnumber the CPUs they may run on (their bindings and "
                   "affinity masks, so taskset and container CPU sets count) and Open MPI's "
                   "mpi_yield_when_idle is off, else never)",
                   MCA_BASE_VAR_TYPE_INT, OPAL_INFO_LVL_5, &c->yield_idle);

    static const mca_base_var_enum_value_t cal_values[] = {{MCA_BTL_CMA_CAL_AUTO, "auto"},
                                                            {MCA_BTL_CMA_CAL_MEASURE, "measure"},
                                                            {MCA_BTL_CMA_CAL_OFF, "off"},
                                                            {0, NULL}};
    c->calibration_mode = MCA_BTL_CMA_CAL_AUTO;
    register_enum("calibration",
                  "How single_copy_min is chosen when not set explicitly: auto (measure memcpy and "
                  "process_vm_readv in the first 4 jobs on a machine, cache the best rates, then read the cache), "
                  "measure (at every startup), off (use the default)",
                  cal_values, OPAL_INFO_LVL_4, &c->calibration_mode);

    c->calibration_file = NULL;
    register_param("calibration_file",
                   "Calibration cache (default $XDG_CACHE_HOME/btl-cma/calibration or "
                   "~/.cache/btl-cma/calibration); a plain text file, delete it to measure again",
                   MCA_BASE_VAR_TYPE_STRING, OPAL_INFO_LVL_5, &c->calibration_file);

    /* Defaults of the generic BTL parameters (btl_cma_eager_limit, ...). */
    mca_btl_base_module_t *m = &mca_btl_cma.super;
    /* Above vader's (MCA_BTL_EXCLUSIVITY_HIGH): with both loaded, on-node
     * peers go through cma alone instead of being striped over both. */
    m->btl_exclusivity = MCA_BTL_EXCLUSIVITY_HIGH + 1;
    m->btl_eager_limit = 8 * 1024;
    m->btl_rndv_eager_limit = 8 * 1024;
    m->btl_max_send_size = 32 * 1024;
    /* Huge: the receiver must never turn a send it chose to pipeline
     * through the rings into an RDMA pipeline. */
    m->btl_rdma_pipeline_send_length = SIZE_MAX >> 1;
    m->btl_rdma_pipeline_frag_size = SIZE_MAX >> 1;
    m->btl_min_rdma_pipeline_size = SIZE_MAX >> 1;
    m->btl_latency = 1;
    m->btl_bandwidth = 40000;
    /* ob1 picks RGET for the messages whose registration we accept
     * (btl_cma_get.c) and the copy pipeline for the rest; the huge
     * rdma_pipeline_send_length and min_rdma_pipeline_size above keep it
     * from ever choosing its PUT-based pipeline.  PUT and the atomics serve
     * one-sided MPI (osc rdma); the atomics are executed by the target's
     * CPU, hence coherent with CPU atomics (GLOB). */
    m->btl_flags = MCA_BTL_FLAGS_SEND | MCA_BTL_FLAGS_GET | MCA_BTL_FLAGS_PUT | MCA_BTL_FLAGS_ATOMIC_OPS |
                   MCA_BTL_FLAGS_ATOMIC_FOPS;
    m->btl_atomic_flags = MCA_BTL_ATOMIC_SUPPORTS_ADD | MCA_BTL_ATOMIC_SUPPORTS_AND | MCA_BTL_ATOMIC_SUPPORTS_OR |
                          MCA_BTL_ATOMIC_SUPPORTS_XOR | MCA_BTL_ATOMIC_SUPPORTS_LAND |
                          MCA_BTL_ATOMIC_SUPPORTS_LOR | MCA_BTL_ATOMIC_SUPPORTS_LXOR |
                          MCA_BTL_ATOMIC_SUPPORTS_SWAP | MCA_BTL_ATOMIC_SUPPORTS_MIN | MCA_BTL_ATOMIC_SUPPORTS_MAX |
                          MCA_BTL_ATOMIC_SUPPORTS_CSWAP | MCA_BTL_ATOMIC_SUPPORTS_32BIT |
                          MCA_BTL_ATOMIC_SUPPORTS_GLOB;
    /* One-sided local buffers need no registration. */
    m->btl_get_local_registration_threshold = SIZE_MAX >> 1;
    m->btl_put_local_registration_threshold = SIZE_MAX >> 1;
    m->btl_registration_handle_size = sizeof(struct mca_btl_base_registration_handle_t);
    m->btl_get_limit = SIZE_MAX >> 1;
    m->btl_put_limit = SIZE_MAX >> 1;
    m->btl_get_alignment = 0;
    m->btl_put_alignment = 0;
    int rc = mca_btl_base_param_register(&c->super.btl_version, m);
    if (OPAL_SUCCESS != rc) {
        return rc;
    }

    register_counter("ring_sends", "Messages written into shared-memory rings (eager sends, fragments, control)",
                     &c->counters.ring_sends);
    register_counter("ring_bytes", "Bytes written into shared-memory rings", &c->counters.ring_bytes);
    register_counter("small_ring_sends", "Of the ring messages, those sent through a small ring",
                     &c->counters.small_ring_sends);
    register_counter("ring_recvs", "Messages read from shared-memory rings", &c->counters.ring_recvs);
    register_counter("ring_full",
                     "Sends that found the ring full (or sends queued before them) and waited in the "
                     "sender's queue, each counted once",
                     &c->counters.ring_full);
    register_counter("pipeline_frags", "Descriptors sent with btl_send (copy pipeline and control)",
                     &c->counters.pipeline_frags);
    register_counter("pipeline_bytes", "Bytes sent with btl_send", &c->counters.pipeline_bytes);
    register_counter("coaligned_cuts",
                     "Pipeline fragments cut up to 63 bytes short so that the next one's data sits at the same "
                     "offset within a cache line as its copy in the ring",
                     &c->counters.coaligned_cuts);
    register_counter("get_count", "Single-copy reads (process_vm_readv)", &c->counters.get_count);
    register_counter("get_bytes", "Bytes moved by single-copy reads", &c->counters.get_bytes);
    register_counter("put_count", "Single-copy writes (process_vm_writev)", &c->counters.put_count);
    register_counter("put_bytes", "Bytes moved by single-copy writes", &c->counters.put_bytes);
    register_counter("emulated_gets", "Reads served through the rings because single copy was denied",
                     &c->counters.emulated_gets);
    register_counter("emulated_get_bytes", "Bytes of reads served through the rings",
                     &c->counters.emulated_get_bytes);
    register_counter("emulated_puts", "Writes served through the rings (single copy denied or off)",
                     &c->counters.emulated_puts);
    register_counter("emulated_put_bytes", "Bytes of writes served through the rings",
                     &c->counters.emulated_put_bytes);
    register_counter("atomics", "Atomic operations sent to peers (executed by the target)",
                     &c->counters.atomics);
    register_counter("single_copy_fallbacks", "Peers for which single copy was found denied",
                     &c->counters.sc_fallbacks);
    register_counter("doorbells_rung", "Doorbells rung for a local peer that had stopped polling the ring written",
                     &c->counters.doorbells_rung);
    register_counter("doorbell_wakeups", "Receive rings polled again because their doorbell rang",
                     &c->counters.doorbell_wakeups);
    register_counter("sweep_wakeups",
                     "Receive rings polled again because the periodic sweep found a message (a doorbell lost "
                     "in a race)",
                     &c->counters.sweep_wakeups);
    register_counter("hugepage_sends", "Send buffers offered for single copy because they are on huge pages",
                     &c->counters.hugepage_sends);
    register_counter("hugepage_advised", "Send buffers given the btl_cma_hugepage advice (advise or collapse)",
                     &c->counters.hugepage_advised);
    register_counter("hugepage_advise_us", "Microseconds spent advising or collapsing send buffers",
                     &c->counters.hugepage_advise_us);
    return OPAL_SUCCESS;
}

static int cma_open(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    c->output = opal_output_open(NULL);
    opal_output_set_verbosity(c->output, c->verbose);
    for (int k = 0; k < MCA_BTL_CMA_FRAG_CLASSES; ++k) {
        OBJ_CONSTRUCT(&c->frags[k], opal_free_list_t);
    }
    OBJ_CONSTRUCT(&c->emu_waiting, opal_list_t);
    OBJ_CONSTRUCT(&c->lock, opal_mutex_t);
    OBJ_CONSTRUCT(&c->poll_lock, opal_mutex_t);
    return OPAL_SUCCESS;
}

static int cma_close(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    for (int k = 0; k < MCA_BTL_CMA_FRAG_CLASSES; ++k) {
        OBJ_DESTRUCT(&c->frags[k]);
    }
    OBJ_DESTRUCT(&c->emu_waiting);
    OBJ_DESTRUCT(&c->lock);
    OBJ_DESTRUCT(&c->poll_lock);
    if (c->output > 0) {
        opal_output_close(c->output);
        c->output = -1;
    }
    return OPAL_SUCCESS;
}

/* ---------------------------------------------------------------------- */
/* btl_init                                                                */

static uint32_t pow2_at_least(uint64_t x)
{
    uint32_t p = SHM_RING_MIN_CELLS;
    while (p < x && p < SHM_RING_MAX_CELLS) {
        p <<= 1;
    }
    return p;
}

static int yama_scope(void)
{
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1) {
            v = 0;
        }
        fclose(f);
    }
    return v;
}

/* The topology Open MPI already loaded (never a second discovery), and
 * this process's binding within it. */
static hwloc_topology_t topology(void)
{
    if (NULL == opal_hwloc_topology) {
        (void) opal_hwloc_base_get_topology();
    }
    return opal_hwloc_topology;
}

static void read_binding(mca_btl_cma_component_t *c)
{
    hwloc_topology_t t = topology();
    c->cpuset[0] = '\0';
    c->home_numa = -1;
    if (!t) {
        return;
    }
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set && 0 == hwloc_get_cpubind(t, set, HWLOC_CPUBIND_PROCESS)) {
        if (hwloc_bitmap_list_snprintf(c->cpuset, sizeof(c->cpuset), set) >= (int) sizeof(c->cpuset)) {
            c->cpuset[0] = '\0'; /* too long to publish: peers treat us as unbound */
        }
        c->home_numa = mca_btl_cma_topo_home_numa(t, set);
    }
    hwloc_bitmap_free(set);
}

void mca_btl_cma_note_peer_cpus(const char *cpuset_list)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    if (!c->yield_auto || !c->job_cpus) {
        return;
    }
    hwloc_bitmap_t peer = hwloc_bitmap_alloc();
    if (!peer || !cpuset_list[0] || 0 != hwloc_bitmap_list_sscanf(peer, cpuset_list)) {
        c->job_cpus_unknown = true;
    } else {
        hwloc_bitmap_or(c->job_cpus, c->job_cpus, peer);
    }
    hwloc_bitmap_free(peer);
}

/* A boolean parameter of another Open MPI layer, or fallback where this
 * build does not have it. */
static bool other_layer_flag(const char *project, const char *framework, const char *name, bool fallback)
{
    const void *value = NULL;
    int idx = mca_base_var_find(project, framework, NULL, name);
    if (idx >= 0 && OPAL_SUCCESS == mca_base_var_get_value(idx, &value, NULL, NULL) && value) {
        return *(const bool *) value;
    }
    return fallback;
}

/* Whether Open MPI's progress will yield on idle calls by itself: the MPI
 * layer sets the flag progress reads (opal_progress_yield_when_idle) only
 * after add_procs, so read the parameter it comes from. */
static bool ompi_yields_when_idle(void)
{
    return other_layer_flag("ompi", "mpi", "yield_when_idle", opal_progress_yield_when_idle);
}

/* mpirun's orte_allowed_exit_without_sync lets a process end the job's
 * use of it by exiting without MPI_Finalize (exit status 0; a crash or a
 * signal still ends the job through mpirun).  vader lets such a job go on,
 * and cma had ended it as "peer failed". */
static bool exit_without_finalize_allowed(void)
{
    return other_layer_flag("orte", "orte", "allowed_exit_without_sync", false);
}

/* Busy polling pays only while every local rank has a CPU of its own.
 * Online cores are not the measure: ranks started under taskset, bound to
 * one core by a rankfile, or in a container's CPU set share fewer (two
 * ranks on one core ran a 0 B-1 MiB ping-pong in 3.1 s without yielding,
 * 0.05 s with). */
void mca_btl_cma_decide_yield(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    if (!c->yield_auto) {
        return;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *from = "online CPUs";
    if (c->job_cpus && !c->job_cpus_unknown && hwloc_bitmap_weight(c->job_cpus) > 0) {
        ncpu = hwloc_bitmap_weight(c->job_cpus);
        from = "CPUs the local ranks may use";
    }
    int before = c->yield_idle;
    c->yield_idle = (ncpu > 0 && c->nlocal > ncpu) ? 64 : 0;
    if (c->yield_idle != before) {
        MCA_BTL_CMA_VERBOSE(1, "%d local ranks, %ld %s: %s", c->nlocal, ncpu, from,
                            !c->yield_idle                ? "never yield"
                            : ompi_yields_when_idle() ? "Open MPI's mpi_yield_when_idle yields already, cma "
                                                              "does not"
                                                            : "yield after 64 idle polls");
    }
}

int mca_btl_cma_peer_class(const char *peer_cpuset_list)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    hwloc_topology_t t = topology();
    if (!t || !c->cpuset[0] || !peer_cpuset_list[0]) {
        return MCA_BTL_CMA_PEER_UNKNOWN;
    }
    hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc();
    int cls = MCA_BTL_CMA_PEER_UNKNOWN;
    if (a && b && 0 == hwloc_bitmap_list_sscanf(a, c->cpuset) && 0 == hwloc_bitmap_list_sscanf(b, peer_cpuset_list)) {
        cls = mca_btl_cma_topo_classify_sets(t, a, b);
    }
    hwloc_bitmap_free(a);
    hwloc_bitmap_free(b);
    return cls;
}

/* Bytes of memory the node can still give to shared segments: MemAvailable
 * (tmpfs and memfd pages are RAM), and for POSIX segments no more than
 * /dev/shm has free.  0 when unknown. */
static uint64_t available_shared_memory(bool posix)
{
    uint64_t avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[128];
        unsigned long long kb;
        while (fgets(line, sizeof(line), f)) {
            if (1 == sscanf(line, "MemAvailable: %llu kB", &kb)) {
                avail = (uint64_t) kb * 1024;
                break;
            }
        }
        fclose(f);
    }
    struct statvfs vfs;
    if (posix && 0 == statvfs("/dev/shm", &vfs)) {
        uint64_t shm = (uint64_t) vfs.f_bavail * (uint64_t) vfs.f_frsize;
        if (!avail || shm < avail) {
            avail = shm;
        }
    }
    return avail;
}

/* "never" for SIZE_MAX (a threshold no message reaches), else "from N
 * bytes". */
static const char *size_words(char *buf, size_t len, size_t bytes)
{
    if (SIZE_MAX == bytes) {
        snprintf(buf, len, "never");
    } else {
        snprintf(buf, len, "from %zu bytes", bytes);
    }
    return buf;
}

/* A parameter the user set to a value that cannot work as given: say what
 * is used instead and why, once per node (local rank 0; every rank of a
 * job normally gets the same parameters). */
static void parameter_adjusted(const char *name, const char *value, const char *used, const char *why)
{
    if (0 != mca_btl_cma_component.local_rank) {
        return;
    }
    mca_btl_cma_show_help("parameter adjusted", "on %s, %s = %s cannot work as given; using %s: %s.",
                          opal_process_info.nodename, name, value, used, why);
}

/* The generic BTL size parameters, bounded by what a ring can carry, and
 * the descriptor sizes they give: a
 * larger eager message or fragment never fitted any ring (the sender
 * waited for ever with no word), and SIZE_MAX overflowed the descriptor
 * buffers' size (SIGFPE in MPI_Init). */
static void set_fragment_sizes(mca_btl_base_module_t *m)
{
    struct {
        const char *name;
        size_t *value;
    } sizes[] = {{"btl_cma_eager_limit", &m->btl_eager_limit},
                 {"btl_cma_rndv_eager_limit", &m->btl_rndv_eager_limit},
                 {"btl_cma_max_send_size", &m->btl_max_send_size}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        if (*sizes[i].value > MCA_BTL_CMA_FRAG_LIMIT) {
            char value[32], used[32];
            snprintf(value, sizeof(value), "%zu", *sizes[i].value);
            snprintf(used, sizeof(used), "%zu", MCA_BTL_CMA_FRAG_LIMIT);
            parameter_adjusted(sizes[i].name, value, used,
                               "every peer's ring is made to hold two of the largest message, so above 64 MiB "
                               "each would take gigabytes (and above 512 MiB none could hold one)");
            *sizes[i].value = MCA_BTL_CMA_FRAG_LIMIT;
        }
    }
    /* Descriptor buffers by size (btl_cma_frag.h); the last is the largest
     * message this process sends, which every peer's ring must hold. */
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    size_t largest = m->btl_max_send_size > m->btl_eager_limit ? m->btl_max_send_size : m->btl_eager_limit;
    c->frag_bytes[0] = MCA_BTL_CMA_FRAG_SMALL;
    c->frag_bytes[1] = m->btl_eager_limit > MCA_BTL_CMA_FRAG_SMALL ? m->btl_eager_limit : MCA_BTL_CMA_FRAG_SMALL;
    c->frag_bytes[2] = largest > c->frag_bytes[1] ? largest : c->frag_bytes[1];
}

static int create_segment(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    shm_error_t err = {0};

    if (0 == c->ring_size) {
        c->ring_size = c->nlocal <= 8 ? 512 * 1024 : c->nlocal <= 16 ? 256 * 1024 : 128 * 1024;
    }
    /* Two of the largest message must fit the ring (see shm_ring_max_payload):
     * the largest descriptor, which is MCA_BTL_CMA_FRAG_SMALL bytes whatever
     * the limits (protocol headers with a registration handle). */
    size_t largest = mca_btl_cma_frag_max_bytes();
    uint32_t cells = pow2_at_least(c->ring_size / SHM_RING_CELL_SIZE);
    uint32_t need =
        pow2_at_least(2 * ((largest + SHM_RING_MSG_HDR_SIZE) / SHM_RING_CELL_SIZE + 1));
    if (cells < need) {
        MCA_BTL_CMA_VERBOSE(1, "ring_size %u raised to %u bytes to hold two %zu-byte fragments", c->ring_size,
                            need * SHM_RING_CELL_SIZE, largest);
        cells = need;
    }
    c->ring_cells = cells;
    uint32_t small = 0;
    if (c->small_ring_size && c->small_max && c->small_min > c->small_max) {
        char value[64];
        snprintf(value, sizeof(value), "%u, %u", c->small_min, c->small_max);
        parameter_adjusted("btl_cma_small_min, btl_cma_small_max", value, "no small rings",
                           "no message size lies between the two, so the small rings would only take memory");
    } else if (c->small_ring_size && c->small_max) {
        small = pow2_at_least(c->small_ring_size / SHM_RING_CELL_SIZE);
        uint32_t need_small = pow2_at_least(
            2 * ((c->small_max + SHM_RING_MSG_HDR_SIZE) / SHM_RING_CELL_SIZE + 1));
        need_small = need_small < SHM_RING_MIN_CELLS ? SHM_RING_MIN_CELLS : need_small;
        if (small < need_small) {
            MCA_BTL_CMA_VERBOSE(1, "small_ring_size %u raised to %u bytes to hold two %u-byte messages",
                                c->small_ring_size, need_small * SHM_RING_CELL_SIZE, c->small_max);
            small = need_small;
        }
        if (small >= cells) {
            MCA_BTL_CMA_VERBOSE(1, "small rings not used: %u cells would be no smaller than the large ring's %u",
                                small, cells);
            small = 0;
        }
    }
    c->small_cells = small;
    size_t page = (size_t) sysconf(_SC_PAGESIZE);
    /* One slot per peer: its large ring, then its small ring. */
    size_t small_offset = shm_ring_memsize(cells);
    c->ring_stride = (small_offset + (small ? shm_ring_memsize(small) : 0) + page - 1) / page * page;
    size_t size = page + (size_t) c->nlocal * c->ring_stride;

    int kind = c->segment_kind;
    if (SHM_SEGMENT_AUTO == kind && prctl(PR_GET_DUMPABLE) == 0) {
        /* Peers cannot take descriptors from a non-dumpable process. */
        kind = SHM_SEGMENT_POSIX;
    }
    unsigned flags = SHM_SEGMENT_POSIX == kind ? SHM_SEGMENT_PREALLOCATE : 0;
    /* Every local process makes a segment of this size, and it is all
     * committed at start-up (POSIX segments are preallocated; with few
     * peers the rings are prefaulted).  Far more than the node has made
     * the kernel's OOM killer take mpirun and left 16 GiB in /dev/shm
     * (16 ranks, btl_cma_ring_size 256 MiB, posix): refuse that up front. */
    uint64_t avail = available_shared_memory(SHM_SEGMENT_POSIX == kind);
    if (avail && (uint64_t) size * (uint64_t) c->nlocal > avail) {
        char sz[32], why[256];
        snprintf(sz, sizeof(sz), "%zu", size);
        snprintf(why, sizeof(why),
                 "the %d local processes' segments (%llu bytes in all) exceed the %llu bytes of memory%s "
                 "available",
                 c->nlocal, (unsigned long long) size * (unsigned long long) c->nlocal,
                 (unsigned long long) avail, SHM_SEGMENT_POSIX == kind ? " and /dev/shm space" : "");
        mca_btl_cma_show_help("segment create failed",
                              "on %s, cannot create the %s-byte shared receive segment: %s. The cma transport is "
                              "disabled in this process; lower btl_cma_ring_size or fix the cause above.",
                              opal_process_info.nodename, sz, why);
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    int rc = shm_segment_create(&c->segment, size, kind, flags, (uint32_t) (c->nlocal - 1), "rx", &err);
    if (rc != 0) {
        char sz[32];
        snprintf(sz, sizeof(sz), "%zu", size);
        mca_btl_cma_show_help("segment create failed",
                              "on %s, cannot create the %s-byte shared receive segment: %s. The cma transport is "
                              "disabled in this process; lower btl_cma_ring_size or fix the cause above.",
                              opal_process_info.nodename, sz, err.msg);
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    if (SHM_SEGMENT_POSIX == c->segment.kind && NULL != opal_pmix.register_cleanup) {
        /* The name goes once every peer attached; a job interrupted before
         * that (Ctrl-C during MPI_Init, a failed start) would leave it in
         * /dev/shm until another job's creation reaped it.  The local
         * daemon removes what is registered here when the job ends. */
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "/dev/shm%s", c->segment.name);
        (void) opal_pmix.register_cleanup(path, false, false, false);
    }
    c->rx = calloc((size_t) c->nlocal, sizeof(*c->rx));
    c->rx_lock = calloc((size_t) c->nlocal, sizeof(*c->rx_lock));
    c->peers = calloc((size_t) c->nlocal, sizeof(*c->peers));
    c->cannot_read_me = calloc((size_t) c->nlocal, sizeof(*c->cannot_read_me));
    c->tx_last_small = calloc((size_t) c->nlocal, sizeof(*c->tx_last_small));
    c->rx_idle = calloc((size_t) c->nlocal, sizeof(*c->rx_idle));
    c->awake = calloc((size_t) c->nlocal, sizeof(*c->awake));
    c->asleep = calloc((size_t) c->nlocal, sizeof(*c->asleep));
    if (!c->rx || !c->rx_lock || !c->peers || !c->cannot_read_me || !c->tx_last_small || !c->rx_idle || !c->awake ||
        !c->asleep) {
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    /* With many local peers, rings that stay idle stop being polled and
     * their producers ring a doorbell instead (btl_cma_progress.c). */
    c->sleep_rings = c->nlocal > MCA_BTL_CMA_HOT_PEERS_MIN && c->nlocal <= MCA_BTL_CMA_DOORBELL_MAX_RANKS(page);
    if (c->sleep_rings) {
        MCA_BTL_CMA_VERBOSE(1, "%d local ranks: rings idle for %d polls sleep until their doorbell rings", c->nlocal,
                            MCA_BTL_CMA_SLEEP_AFTER);
    }
    c->nawake = 0;
    for (int i = 0; i < c->nlocal; ++i) {
        if (i != c->local_rank) {
            c->awake[c->nawake++] = i;
        }
    }
    /* Receive rings live on the receiver's NUMA node: the producer's first
     * touch would otherwise put them next to the writer, and every poll
     * would cross the interconnect. */
    if (c->home_numa >= 0) {
        int prc = mca_btl_cma_topo_place(topology(), (char *) c->segment.base + page, (size_t) c->nlocal * c->ring_stride,
                                         c->home_numa);
        MCA_BTL_CMA_VERBOSE(1, "receive rings placed on NUMA node %d%s", c->home_numa, prc ? " (refused)" : "");
    }
    uint32_t max_msg = shm_ring_max_payload(cells);
    uint32_t small_max_msg = small ? shm_ring_max_payload(small) : 0;
    for (int i = 0; i < c->nlocal; ++i) {
        OBJ_CONSTRUCT(&c->rx_lock[i], opal_mutex_t);
        mca_btl_cma_channel_rx_setup(&c->rx[i], small != 0);
        if (i == c->local_rank) {
            continue;
        }
        char *mem = (char *) c->segment.base + page + (size_t) i * c->ring_stride;
        /* With many peers the segment's freshness (all zero) is used:
         * rings stay untouched, not resident, until a peer writes to them
         * (64 ranks: 3.9 instead of 11.8 MiB per process).  With few, every
         * ring is cleared here as before: rings first touched by the
         * producer measured slower at 2 ranks (8-byte latency 0.23 against
         * 0.17 us, interleaved runs), and their memory is small. */
        rc = c->sleep_rings ? shm_ring_init_zeroed(mem, small_offset, cells, max_msg, 0, &err)
                            : shm_ring_init(mem, small_offset, cells, max_msg, 0, &err);
        if (rc == 0) {
            rc = shm_ring_consumer_attach(&c->rx[i].large, mem, small_offset, &err);
        }
        if (rc == 0 && small) {
            char *sm = mem + small_offset;
            size_t sm_size = c->ring_stride - small_offset;
            rc = c->sleep_rings ? shm_ring_init_zeroed(sm, sm_size, small, small_max_msg, 0, &err)
                                : shm_ring_init(sm, sm_size, small, small_max_msg, 0, &err);
            if (rc == 0) {
                rc = shm_ring_consumer_attach(&c->rx[i].small, sm, sm_size, &err);
            }
        }
        if (rc != 0) {
            opal_output(0, "btl:cma: internal error formatting ring %d: %s", i, err.msg);
            return OPAL_ERROR;
        }
    }

    mca_btl_cma_modex_t modex = {
        .version = MCA_BTL_CMA_MODEX_VERSION,
        .local_rank = c->local_rank,
        .nrings = c->nlocal,
        .ring_cells = cells,
        .ring_offset = page,
        .ring_stride = c->ring_stride,
        .small_cells = small,
        .small_offset = small ? (uint32_t) small_offset : 0,
        .probe_addr = (uint64_t) (uintptr_t) &c->probe_word,
        .probe_value = c->probe_word,
    };
    shm_segment_describe(&c->segment, &modex.segment);
    memcpy(modex.cpuset, c->cpuset, sizeof(modex.cpuset));
    OPAL_MODEX_SEND(rc, OPAL_PMIX_LOCAL, &c->super.btl_version, &modex, sizeof(modex));
    if (OPAL_SUCCESS != rc) {
        return rc;
    }
    MCA_BTL_CMA_VERBOSE(1,
                        "local rank %d of %d: %s segment of %zu bytes, rings of %u cells (%u-byte messages max), "
                        "small rings of %u cells for messages of %u to %u bytes",
                        c->local_rank, c->nlocal, c->segment.kind == SHM_SEGMENT_MEMFD ? "memfd" : "posix", size,
                        cells, max_msg, small, small ? c->small_min : 0, small ? c->small_max : 0);
    return OPAL_SUCCESS;
}

static void frag_init_buffer(mca_btl_cma_frag_t *frag)
{
    frag->buffer = frag->base.super.ptr;
}

static int frag_item_init(opal_free_list_item_t *item, void *ctx)
{
    frag_init_buffer((mca_btl_cma_frag_t *) item);
    ((mca_btl_cma_frag_t *) item)->list = ctx;
    return OPAL_SUCCESS;
}

void mca_btl_cma_component_release(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    if (c->rx_lock) {
        for (int i = 0; i < c->nlocal; ++i) {
            OBJ_DESTRUCT(&c->rx_lock[i]);
        }
    }
    if (c->job_cpus) {
        hwloc_bitmap_free(c->job_cpus);
        c->job_cpus = NULL;
    }
    free(c->rx);
    free(c->rx_lock);
    free(c->peers);
    free(c->cannot_read_me);
    free(c->tx_last_small);
    free(c->rx_idle);
    free(c->awake);
    free(c->asleep);
    c->awake = NULL;
    c->asleep = NULL;
    c->cannot_read_me = NULL;
    c->tx_last_small = NULL;
    c->rx_idle = NULL;
    c->rx = NULL;
    c->rx_lock = NULL;
    c->peers = NULL;
    shm_segment_detach(&c->segment);
    mca_btl_cma_hugepage_fini();
}

static mca_btl_base_module_t **cma_init(int *num_btls, bool enable_progress_threads, bool enable_mpi_threads)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    mca_btl_base_module_t *m = &mca_btl_cma.super;
    (void) enable_progress_threads;
    (void) enable_mpi_threads;
    *num_btls = 0;

    c->nlocal = opal_process_info.num_local_peers + 1;
    c->local_rank = opal_process_info.my_local_rank;
    if (c->nlocal < 2 || c->local_rank < 0 || c->local_rank >= c->nlocal) {
        MCA_BTL_CMA_VERBOSE(1, "no other process of this job on the node: not used (processes started later by "
                               "MPI_Comm_spawn belong to another job, which cma does not connect: add tcp)");
        return NULL;
    }
    c->exit_allowed = exit_without_finalize_allowed();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    c->probe_word = 0x636d6150726f6265ull ^ ((uint64_t) getpid() << 20) ^ (uint64_t) ts.tv_nsec;

    if (MCA_BTL_CMA_SC_NONE != c->single_copy && yama_scope() == 1) {
        /* Yama scope 1 lets only ancestors read us; our peers are siblings.
         * Allow them (same user only: the kernel still checks credentials). */
        (void) prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    }

    /* A pidfd per peer tells a dead peer from a reused pid, but under a
     * low descriptor limit it took the descriptors that attaching the
     * peers' segments and Open MPI itself need (32 ranks under ulimit -n 32
     * failed in MPI_Init, vader ran): keep them only with room to spare. */
    struct rlimit nofile;
    c->keep_pidfds = 0 != getrlimit(RLIMIT_NOFILE, &nofile) || RLIM_INFINITY == nofile.rlim_cur ||
                     nofile.rlim_cur >= (rlim_t) (2 * c->nlocal + 256);
    if (!c->keep_pidfds) {
        MCA_BTL_CMA_VERBOSE(1, "descriptor limit %llu is low for %d local ranks: peers are watched with kill(), "
                               "keeping no pidfd",
                            (unsigned long long) nofile.rlim_cur, c->nlocal);
    }

    set_fragment_sizes(m);
    read_binding(c);
    if (OPAL_SUCCESS != create_segment()) {
        mca_btl_cma_component_release();
        return NULL;
    }

    if (c->free_list_max > 0 && c->free_list_max < MCA_BTL_CMA_FREE_LIST_MIN) {
        char value[32];
        snprintf(value, sizeof(value), "%d", c->free_list_max);
        char used[32];
        snprintf(used, sizeof(used), "%d", MCA_BTL_CMA_FREE_LIST_MIN);
        parameter_adjusted("btl_cma_free_list_max", value, used,
                           "ob1 sets aside a send that finds no descriptor and retries it only when another "
                           "one completes with a callback, which one that completes at once does not make; "
                           "with this few descriptors the job can wait for ever");
        c->free_list_max = MCA_BTL_CMA_FREE_LIST_MIN;
    }
    for (int k = 0; k < MCA_BTL_CMA_FRAG_CLASSES; ++k) {
        /* Start small where buffers are large: the last class is used by
         * non-contiguous pipeline fragments only. */
        int first = c->frag_bytes[k] > 65536 ? 2 : 16;
        if (k > 0 && c->frag_bytes[k] == c->frag_bytes[k - 1]) {
            first = 0; /* eager limit = largest: this list is never asked */
        }
        int rc = opal_free_list_init(&c->frags[k], sizeof(mca_btl_cma_frag_t), opal_cache_line_size,
                                     OBJ_CLASS(mca_btl_cma_frag_t), c->frag_bytes[k], opal_cache_line_size, first,
                                     c->free_list_max, first, NULL, 0, NULL, frag_item_init, &c->frags[k]);
        if (OPAL_SUCCESS != rc) {
            char sz[32];
            snprintf(sz, sizeof(sz), "%d x %zu", first, c->frag_bytes[k]);
            mca_btl_cma_show_help("no memory", "on %s, cannot allocate %s bytes of send descriptors",
                                  opal_process_info.nodename, sz);
            mca_btl_cma_component_release();
            return NULL;
        }
    }

    mca_btl_cma_hugepage_init();
    mca_btl_cma_calibrate();

    c->yield_auto = c->yield_idle < 0;
    if (c->yield_auto) {
        /* Decided in add_procs, once the peers' CPU sets are known; no
         * message goes through before. */
        c->yield_idle = 0;
        c->job_cpus = hwloc_bitmap_alloc();
        c->job_cpus_unknown = !c->job_cpus || !c->cpuset[0];
        if (c->job_cpus && c->cpuset[0] && 0 != hwloc_bitmap_list_sscanf(c->job_cpus, c->cpuset)) {
            c->job_cpus_unknown = true;
        }
    }
    const char *hp_why = NULL;
    bool hp = mca_btl_cma_hugepage_supported(&hp_why);
    char sc_min[32], sc_huge[32], yield[48];
    if (!c->yield_auto) {
        snprintf(yield, sizeof(yield), c->yield_idle ? "after %d idle polls" : "never", c->yield_idle);
    }
    MCA_BTL_CMA_VERBOSE(1,
                        "eager %zu, max send %zu, single copy %s: %s (%s on huge pages%s%s), "
                        "hugepage policy %s, yield %s",
                        m->btl_eager_limit, m->btl_max_send_size,
                        c->single_copy == MCA_BTL_CMA_SC_NONE ? "off"
                        : c->single_copy == MCA_BTL_CMA_SC_CMA ? "required"
                                                                : "auto",
                        size_words(sc_min, sizeof(sc_min), c->single_copy_min),
                        size_words(sc_huge, sizeof(sc_huge), c->single_copy_min_huge), hp ? "" : "; detection off: ",
                        hp ? "" : hp_why,
                        c->hugepage_policy == MCA_BTL_CMA_HP_COLLAPSE ? "collapse"
                        : c->hugepage_policy == MCA_BTL_CMA_HP_ADVISE ? "advise"
                                                                       : "none",
                        c->yield_auto ? "decided when the peers are known" : yield);

    mca_btl_base_module_t **modules = malloc(sizeof(*modules));
    if (!modules) {
        mca_btl_cma_component_release();
        return NULL;
    }
    modules[0] = m;
    *num_btls = 1;
    return modules;
}
