/*
 * The cma BTL's shared declarations: the component singleton (parameters,
 * this process's receive segment and rings, counters), the one module it
 * creates, the wire format of what it publishes through the modex, and the
 * prototypes every other file of the component implements.  Open MPI's
 * headers come first (opal_config.h must precede everything); the ring
 * library is reached only through shm_ring.h.
 */
#ifndef MCA_BTL_CMA_H
#define MCA_BTL_CMA_H

#include "opal_config.h"

#include "opal/class/opal_free_list.h"
#include "opal/class/opal_list.h"
#include "opal/mca/btl/base/base.h"
#include "opal/mca/btl/btl.h"
#include "opal/threads/mutex.h"
#include "opal/threads/threads.h"
#include "opal/util/output.h"
#include "opal/util/proc.h"
#include "opal/util/show_help.h"

#include <stdio.h>
#include <stdlib.h>

#include "btl_cma_channel.h"
#include "shm_ring.h"

BEGIN_C_DECLS

/* Ring tags below 256 are the PML's active-message tags; the component's own
 * control messages use the tags above. */
enum {
    MCA_BTL_CMA_TAG_GET_REQ = 256,  /* emulated get: please send me bytes   */
    MCA_BTL_CMA_TAG_GET_DATA = 257, /* emulated get: bytes of a request      */
    MCA_BTL_CMA_TAG_NO_SC = 258,    /* I cannot read your memory: stop RGET  */
    MCA_BTL_CMA_TAG_PUT_DATA = 259, /* emulated put: bytes to store          */
    MCA_BTL_CMA_TAG_PUT_ACK = 260,  /* emulated put: all bytes stored        */
    MCA_BTL_CMA_TAG_AMO_REQ = 261,  /* atomic: apply this to your memory     */
    MCA_BTL_CMA_TAG_AMO_RESP = 262, /* atomic: the previous value            */
    MCA_BTL_CMA_TAG_REFUSED = 263,  /* the target refused a get/put/atomic   */
};

/* Compare-and-swap travels as one more atomic operation code, outside the
 * range of mca_btl_base_atomic_op_t. */
#define MCA_BTL_CMA_AMO_CSWAP 0x1000u

enum mca_btl_cma_single_copy {
    MCA_BTL_CMA_SC_AUTO = 0, /* use process_vm_readv where the probe allows */
    MCA_BTL_CMA_SC_CMA = 1,  /* required: error if denied                  */
    MCA_BTL_CMA_SC_NONE = 2, /* never: every byte through the rings        */
};

enum mca_btl_cma_calibration_mode {
    MCA_BTL_CMA_CAL_AUTO = 0,    /* use the cache file, measure when absent */
    MCA_BTL_CMA_CAL_MEASURE = 1, /* measure at every startup */
    MCA_BTL_CMA_CAL_OFF = 2,     /* use the parameter defaults */
};

typedef struct mca_btl_cma_calibration_t {
    double memcpy_gbps;
    double cma_gbps;        /* process_vm_readv, source on 4 KiB pages */
    double cma_huge_gbps;   /* process_vm_readv, source on 2 MiB pages; 0: none to measure */
    size_t single_copy_min; /* SIZE_MAX: never */
    size_t single_copy_min_huge;
    unsigned samples; /* jobs whose measurements the rates above merge */
    bool from_cache;
} mca_btl_cma_calibration_t;

/* Counters exposed as MPI_T performance variables (see btl_cma_component.c).
 * Updated with relaxed atomics: exact totals, no ordering needed. */
typedef struct mca_btl_cma_counters_t {
    uint64_t ring_sends;     /* messages written into a ring (eager + fragments) */
    uint64_t small_ring_sends; /* of which through the small ring */
    uint64_t ring_bytes;
    uint64_t ring_recvs;
    uint64_t ring_full;      /* sends that waited for room, once each */
    uint64_t pipeline_frags; /* fragments sent through btl_send (copy pipeline) */
    uint64_t pipeline_bytes;
    uint64_t coaligned_cuts; /* fragments cut short to line the next one up with the ring */
    uint64_t get_count;      /* btl_get served by process_vm_readv */
    uint64_t get_bytes;
    uint64_t put_count;      /* btl_put served by process_vm_writev */
    uint64_t put_bytes;
    uint64_t emulated_gets;  /* btl_get served through the rings */
    uint64_t emulated_get_bytes;
    uint64_t emulated_puts;  /* btl_put served through the rings */
    uint64_t emulated_put_bytes;
    uint64_t atomics;        /* atomic operations sent to a peer to execute */
    uint64_t sc_fallbacks;   /* peers for which single copy was found denied */
    uint64_t doorbells_rung;     /* doorbells rung for a peer asleep on my ring */
    uint64_t doorbell_wakeups;   /* my rings woken by their doorbell */
    uint64_t sweep_wakeups;      /* my rings woken by the periodic sweep (a missed doorbell) */
    uint64_t hugepage_sends; /* send buffers offered for single copy because on huge pages */
    uint64_t hugepage_advised;   /* buffers given the btl_cma_hugepage advice */
    uint64_t hugepage_advise_us; /* microseconds spent in that madvise */
} mca_btl_cma_counters_t;

/* A locked add costs about as much as a whole ring message: pay it only
 * when several threads may count at once. */
#define MCA_BTL_CMA_COUNT(field, n)                                                                 \
    do {                                                                                            \
        if (opal_using_threads()) {                                                                 \
            __atomic_fetch_add(&mca_btl_cma_component.counters.field, (uint64_t) (n), __ATOMIC_RELAXED); \
        } else {                                                                                    \
            mca_btl_cma_component.counters.field += (uint64_t) (n);                                 \
        }                                                                                           \
    } while (0)

struct mca_btl_base_endpoint_t;

/* Descriptor buffer sizes (btl_cma_frag.h): MCA_BTL_CMA_FRAG_SMALL bytes
 * (every ob1 protocol header, registration handle included, and short
 * messages), the eager limit, the largest fragment. */
#define MCA_BTL_CMA_FRAG_CLASSES 3
#define MCA_BTL_CMA_FRAG_SMALL 256
/* The largest eager message or pipeline fragment: each peer's ring is
 * raised to a power of two that holds two of them, 128 MiB for this one
 * (64 MiB itself, with the ring's header, needs 256 MiB); larger values
 * would only make rings of gigabytes, and above 512 MiB no ring could hold
 * one at all. */
#define MCA_BTL_CMA_FRAG_LIMIT (((size_t) 64 << 20) - 64)

typedef struct mca_btl_cma_component_t {
    mca_btl_base_component_3_0_0_t super;

    /* parameters (registered in btl_cma_component.c) */
    int verbose;
    int output;
    unsigned int ring_size;
    unsigned int small_ring_size;
    unsigned int small_min;
    unsigned int small_max;
    int single_copy;
    size_t single_copy_min;
    size_t single_copy_min_huge;
    int hugepage_policy;
    unsigned int hugepage_repeat;
    int segment_kind;
    int free_list_max;
    unsigned int liveness_ms;
    int yield_idle;
    bool yield_auto;        /* yield_idle was -1: decided from the CPUs the local ranks may use */
    bool keep_pidfds;       /* watch peers through a pidfd each (else kill(pid, 0)) */
    bool exit_allowed;      /* orte_allowed_exit_without_sync: an unfinalized exit is no failure */
    void *job_cpus;         /* hwloc_bitmap_t: union of this process's and its peers' CPU sets */
    bool job_cpus_unknown;  /* some local rank's set was not published */
    int calibration_mode;
    char *calibration_file;
    mca_btl_cma_calibration_t calibration;

    /* state */
    int local_rank;
    int nlocal;
    shm_segment_t segment;          /* my receive segment: nlocal rings */
    size_t ring_stride;
    uint32_t ring_cells;
    uint32_t small_cells;           /* cells of each small ring, 0: none */
    mca_btl_cma_channel_rx_t *rx;   /* rx[i]: the rings written by local rank i */
    opal_mutex_t *rx_lock;
    uint16_t *rx_idle;              /* consecutive empty polls per ring */
    unsigned poll_round;
    bool sleep_rings;               /* many peers: poll only busy rings, doorbell for the rest */
    opal_mutex_t poll_lock;         /* the awake list below, when sleep_rings */
    int *awake;                     /* local ranks whose rings are polled every call */
    int nawake;
    bool *asleep;                   /* by local rank: ring waits for the doorbell */
    struct mca_btl_base_endpoint_t **peers; /* by local rank, NULL until added */
    bool *cannot_read_me;           /* by local rank: that peer's probe of us failed */
    bool *tx_last_small;            /* by local rank: the last message to it took its small ring */
    opal_list_t emu_waiting;        /* my ring-served operations awaiting an answer */
    uint64_t emu_next_cookie;
    opal_free_list_t frags[MCA_BTL_CMA_FRAG_CLASSES]; /* by buffer size, btl_cma_frag.h */
    size_t frag_bytes[MCA_BTL_CMA_FRAG_CLASSES];
    opal_mutex_t lock;
    volatile int pending_sends;     /* endpoints with queued fragments */
    uint64_t next_liveness_ns;
    unsigned idle_polls;
    volatile uint64_t probe_word;   /* read by peers' single-copy probe */
    char cpuset[256];               /* my binding, hwloc list syntax */
    int home_numa;                  /* NUMA node my rings are placed on, -1 none */
    bool warned_sc_denied;
    volatile int sc_denied_errno;   /* warning not yet printed */
    mca_btl_cma_counters_t counters;
} mca_btl_cma_component_t;

OPAL_MODULE_DECLSPEC extern mca_btl_cma_component_t mca_btl_cma_component;

typedef struct mca_btl_cma_module_t {
    mca_btl_base_module_t super;
    mca_btl_base_module_error_cb_fn_t error_cb;
} mca_btl_cma_module_t;

extern mca_btl_cma_module_t mca_btl_cma;

/* What each process publishes through the modex.  Fixed-width fields only:
 * the peer reads it as raw bytes. */
#define MCA_BTL_CMA_MODEX_VERSION 3u
typedef struct mca_btl_cma_modex_t {
    uint32_t version;
    int32_t local_rank;
    int32_t nrings;
    uint32_t ring_cells;
    uint64_t ring_offset; /* first ring, from the segment's start */
    uint64_t ring_stride;
    uint32_t small_cells;  /* 0: no small rings */
    uint32_t small_offset; /* of a peer's small ring, from the start of its large one */
    uint64_t probe_addr;  /* address of probe_word in the publisher */
    uint64_t probe_value;
    shm_segment_desc_t segment;
    char cpuset[256]; /* hwloc list of the PUs the publisher is bound to ("" if unknown) */
} mca_btl_cma_modex_t;

/* Bytes of every receive segment after the ring library's reserved bytes:
 * node-wide flags that any local process may set in local rank 0's
 * segment. */
typedef struct mca_btl_cma_segment_header_t {
    uint32_t sc_warned; /* the single-copy warning was printed on this node */
    uint32_t finalized; /* the owner went through MPI_Finalize: its exit is no failure */
    uint64_t failure_told; /* bit i: local rank i's failure was reported on this node */
    uint32_t pad[12];
    /* On a line of its own: bit i of the doorbell is set by local rank i
     * after writing to a ring the owner no longer polls (btl_cma_progress.c). */
    uint64_t doorbell[];
} mca_btl_cma_segment_header_t;
_Static_assert(offsetof(mca_btl_cma_segment_header_t, doorbell) == 64, "the doorbell words start a line");
/* The fewest send descriptors (of each buffer size) btl_cma_free_list_max
 * may allow.  Descriptors
 * that complete inside btl_send go straight back to the list, so the ones
 * out at any moment are those the PML holds between prepare_src and send
 * (a few per thread) and those queued behind a full ring, which complete
 * through a callback; the callback is what makes ob1 retry sends it set
 * aside for lack of a descriptor.  With this many, a failed allocation
 * means some are queued, so a callback is coming (with 1, a Bsend exchange
 * hung for good). */
#define MCA_BTL_CMA_FREE_LIST_MIN 32
/* Up to this many local ranks every ring is polled on every progress call;
 * beyond it idle rings sleep and wake by doorbell. */
#define MCA_BTL_CMA_HOT_PEERS_MIN 8
/* Empty polls in a row after which a ring sleeps (btl_cma_progress.c). */
#define MCA_BTL_CMA_SLEEP_AFTER 256
/* Doorbell bits that fit before the rings, which start one page in. */
#define MCA_BTL_CMA_DOORBELL_MAX_RANKS(page) \
    ((int) (((page) - SHM_SEGMENT_RESERVED - offsetof(mca_btl_cma_segment_header_t, doorbell)) * 8))
#define MCA_BTL_CMA_SEGMENT_HEADER(base) \
    ((mca_btl_cma_segment_header_t *) ((char *) (base) + SHM_SEGMENT_RESERVED))

/* Registration handle sent to a peer inside ob1's RGET header: the bounds a
 * single-copy request against this region must stay within. */
struct mca_btl_base_registration_handle_t {
    uint64_t base;
    uint64_t size;
};

/* btl_cma_progress.c */
void mca_btl_cma_ring_doorbell(struct mca_btl_base_endpoint_t *ep);

/* btl_cma_module.c */
int mca_btl_cma_add_procs(struct mca_btl_base_module_t *btl, size_t nprocs, struct opal_proc_t **procs,
                          struct mca_btl_base_endpoint_t **peers, struct opal_bitmap_t *reachable);
int mca_btl_cma_del_procs(struct mca_btl_base_module_t *btl, size_t nprocs, struct opal_proc_t **procs,
                          struct mca_btl_base_endpoint_t **peers);
int mca_btl_cma_finalize(struct mca_btl_base_module_t *btl);
void mca_btl_cma_peer_failed(struct mca_btl_base_endpoint_t *ep, const char *why);

/* btl_cma_send.c */
mca_btl_base_descriptor_t *mca_btl_cma_alloc(struct mca_btl_base_module_t *btl,
                                             struct mca_btl_base_endpoint_t *ep, uint8_t order,
                                             size_t size, uint32_t flags);
int mca_btl_cma_free(struct mca_btl_base_module_t *btl, mca_btl_base_descriptor_t *des);
mca_btl_base_descriptor_t *mca_btl_cma_prepare_src(struct mca_btl_base_module_t *btl,
                                                   struct mca_btl_base_endpoint_t *ep,
                                                   struct opal_convertor_t *conv, uint8_t order,
                                                   size_t reserve, size_t *size, uint32_t flags);
int mca_btl_cma_send(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                     mca_btl_base_descriptor_t *des, mca_btl_base_tag_t tag);
int mca_btl_cma_sendi(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                      struct opal_convertor_t *conv, void *header, size_t header_size, size_t payload_size,
                      uint8_t order, uint32_t flags, mca_btl_base_tag_t tag,
                      mca_btl_base_descriptor_t **descriptor);
int mca_btl_cma_send_ctrl(struct mca_btl_base_endpoint_t *ep, uint16_t tag, const void *hdr, size_t hdrlen,
                          const void *data, size_t datalen);
int mca_btl_cma_progress_pending(struct mca_btl_base_endpoint_t *ep);

/* btl_cma_get.c / btl_cma_put.c */
int mca_btl_cma_get(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep, void *local_address,
                    uint64_t remote_address, struct mca_btl_base_registration_handle_t *local_handle,
                    struct mca_btl_base_registration_handle_t *remote_handle, size_t size, int flags,
                    int order, mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata);
int mca_btl_cma_put(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep, void *local_address,
                    uint64_t remote_address, struct mca_btl_base_registration_handle_t *local_handle,
                    struct mca_btl_base_registration_handle_t *remote_handle, size_t size, int flags,
                    int order, mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata);
struct mca_btl_base_registration_handle_t *mca_btl_cma_register_mem(struct mca_btl_base_module_t *btl,
                                                                    struct mca_btl_base_endpoint_t *ep,
                                                                    void *base, size_t size, uint32_t flags);
int mca_btl_cma_deregister_mem(struct mca_btl_base_module_t *btl,
                               struct mca_btl_base_registration_handle_t *handle);
void mca_btl_cma_single_copy_denied(struct mca_btl_base_endpoint_t *ep, int err, bool tell_peer);
void mca_btl_cma_warn_single_copy_denied(void);

/* btl_cma_atomic.c */
int mca_btl_cma_atomic_op(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                          uint64_t remote_address, struct mca_btl_base_registration_handle_t *remote_handle,
                          mca_btl_base_atomic_op_t op, uint64_t operand, int flags, int order,
                          mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata);
int mca_btl_cma_atomic_fop(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                           void *local_address, uint64_t remote_address,
                           struct mca_btl_base_registration_handle_t *local_handle,
                           struct mca_btl_base_registration_handle_t *remote_handle, mca_btl_base_atomic_op_t op,
                           uint64_t operand, int flags, int order, mca_btl_base_rdma_completion_fn_t cbfunc,
                           void *cbcontext, void *cbdata);
int mca_btl_cma_atomic_cswap(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                             void *local_address, uint64_t remote_address,
                             struct mca_btl_base_registration_handle_t *local_handle,
                             struct mca_btl_base_registration_handle_t *remote_handle, uint64_t compare,
                             uint64_t value, int flags, int order, mca_btl_base_rdma_completion_fn_t cbfunc,
                             void *cbcontext, void *cbdata);
/* Apply an atomic operation to this process's own memory; *prev gets the
 * previous value.  OPAL_ERR_NOT_SUPPORTED for unknown operations. */
int mca_btl_cma_atomic_apply(void *addr, uint32_t op, uint64_t operand, uint64_t compare, int flags,
                             uint64_t *prev);

/* btl_cma_emu.c: one-sided operations served through the rings */
int mca_btl_cma_emu_get(struct mca_btl_base_endpoint_t *ep, void *local, uint64_t remote,
                        struct mca_btl_base_registration_handle_t *local_handle,
                        struct mca_btl_base_registration_handle_t *remote_handle, size_t size,
                        mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata);
int mca_btl_cma_emu_put(struct mca_btl_base_endpoint_t *ep, void *local, uint64_t remote,
                        struct mca_btl_base_registration_handle_t *local_handle,
                        struct mca_btl_base_registration_handle_t *remote_handle, size_t size,
                        mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata);
int mca_btl_cma_emu_atomic(struct mca_btl_base_endpoint_t *ep, void *local, uint64_t remote,
                           struct mca_btl_base_registration_handle_t *local_handle,
                           struct mca_btl_base_registration_handle_t *remote_handle, uint32_t op,
                           uint64_t operand, uint64_t compare, int flags, mca_btl_base_rdma_completion_fn_t cbfunc,
                           void *cbcontext, void *cbdata);
int mca_btl_cma_emu_progress(struct mca_btl_base_endpoint_t *ep);
void mca_btl_cma_handle_ctrl(uint16_t tag, int src_local_rank, const void *data, size_t len);

/* btl_cma_progress.c */
int mca_btl_cma_component_progress(void);

/* btl_cma_calibrate.c */
void mca_btl_cma_calibrate(void);

/* btl_cma_component.c: topology glue */
int mca_btl_cma_peer_class(const char *peer_cpuset_list);

/* btl_cma_component.c */
bool mca_btl_cma_help_available(void);
/* yield_idle -1: add a peer's published CPU set (hwloc list, "" if it
 * published none) to the node's, then decide whether the local ranks
 * outnumber the CPUs they may run on. */
void mca_btl_cma_note_peer_cpus(const char *cpuset_list);
void mca_btl_cma_decide_yield(void);

/* Unmap and free everything btl_init created (also on its failure paths). */
void mca_btl_cma_component_release(void);

/* An error or warning for the user: the topic of help-btl-cma.txt when the
 * file is installed, else the fallback sentence with the same arguments.
 * Formatted here and written to stderr (which mpirun forwards) rather than
 * sent through opal_show_help: Open MPI 4.1.4's forwarding of help messages
 * to mpirun garbled about one message in three in our tests ("Data unpack
 * would read past end of buffer"), losing the warning. */
#define mca_btl_cma_show_help(topic, fallback, ...)                                          \
    do {                                                                                     \
        char *msg_ = mca_btl_cma_help_available()                                            \
                         ? opal_show_help_string("help-btl-cma.txt", (topic), true, __VA_ARGS__) \
                         : NULL;                                                             \
        if (msg_) {                                                                          \
            fputs(msg_, stderr);                                                             \
            fflush(stderr);                                                                  \
            free(msg_);                                                                      \
        } else {                                                                             \
            opal_output(0, "btl:cma: " fallback, __VA_ARGS__);                              \
        }                                                                                    \
    } while (0)

#define MCA_BTL_CMA_VERBOSE(level, ...)                                        \
    do {                                                                       \
        if (mca_btl_cma_component.verbose >= (level)) {                        \
            opal_output(mca_btl_cma_component.output, "btl:cma: " __VA_ARGS__); \
        }                                                                      \
    } while (0)

END_C_DECLS

#endif /* MCA_BTL_CMA_H */
