/*
 * Reads from a peer's memory: btl_get (the receiver side of ob1's RGET
 * protocol, and one-sided gets) with process_vm_readv, handing over to the
 * ring emulation of btl_cma_emu.c where the kernel denies single copy for a
 * peer, so a denial costs speed, never correctness; the one warning about
 * it.  Also memory registration, which is where the
 * protocol is chosen per message: a NULL handle for the sender's buffer
 * makes ob1 use the copy pipeline instead of RGET.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_hugepage.h"
#include "btl_cma_rdma.h"

#include "opal/util/proc.h"

struct mca_btl_base_registration_handle_t *mca_btl_cma_register_mem(struct mca_btl_base_module_t *btl,
                                                                    struct mca_btl_base_endpoint_t *ep,
                                                                    void *base, size_t size, uint32_t flags)
{
    const mca_btl_cma_component_t *c = &mca_btl_cma_component;
    (void) btl;
    if (MCA_BTL_REG_FLAG_REMOTE_READ == flags) {
        /* Exactly ob1's registration of a send buffer for RGET: offer it
         * only where single copy is the faster protocol and the peer is
         * able to read us.  Its speed depends on the page size of this,
         * the source, buffer, so a buffer on huge pages has a threshold of
         * its own.  One-sided components register with more flags and
         * always get a handle (their gets and puts work either way). */
        if (MCA_BTL_CMA_SC_NONE == c->single_copy || (ep && !ep->peer_can_read_me)) {
            return NULL;
        }
        if (size < c->single_copy_min) {
            if (size < c->single_copy_min_huge || !mca_btl_cma_send_buffer_on_huge_pages(base, size)) {
                return NULL;
            }
            MCA_BTL_CMA_COUNT(hugepage_sends, 1);
        }
    }
    struct mca_btl_base_registration_handle_t *h = malloc(sizeof(*h));
    if (h) {
        h->base = (uint64_t) (uintptr_t) base;
        h->size = size;
    }
    return h;
}

int mca_btl_cma_deregister_mem(struct mca_btl_base_module_t *btl, struct mca_btl_base_registration_handle_t *handle)
{
    (void) btl;
    free(handle);
    return OPAL_SUCCESS;
}

void mca_btl_cma_warn_single_copy_denied(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    int err = c->sc_denied_errno;
    c->sc_denied_errno = 0;
    /* One warning per node, not per process: the first process to claim
     * the flag in local rank 0's segment prints it. */
    void *base = 0 == c->local_rank ? c->segment.base : c->peers[0] ? c->peers[0]->segment.base : NULL;
    if (base && __atomic_exchange_n(&MCA_BTL_CMA_SEGMENT_HEADER(base)->sc_warned, 1, __ATOMIC_RELAXED)) {
        return;
    }
    mca_btl_cma_show_help("single copy denied",
                          "single copy (process_vm_readv) between processes on %s is denied: %s. Large messages "
                          "go through shared-memory rings instead (correct, but slower). Fix: allow ptrace "
                          "between the job's processes (Yama ptrace_scope 0, --cap-add=SYS_PTRACE or a seccomp "
                          "profile allowing process_vm_readv in containers, and no prctl(PR_SET_DUMPABLE, 0)), "
                          "or silence this with '--mca btl_cma_single_copy none'.",
                          opal_process_info.nodename, strerror(err));
}

void mca_btl_cma_single_copy_denied(mca_btl_cma_endpoint_t *ep, int err, bool tell_peer)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    ep->can_read_peer = false;
    MCA_BTL_CMA_COUNT(sc_fallbacks, 1);
    if (tell_peer) {
        (void) mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_NO_SC, NULL, 0, NULL, 0);
    }
    if (MCA_BTL_CMA_SC_CMA == c->single_copy) {
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int) ep->pid);
        mca_btl_cma_show_help("single copy required",
                              "btl_cma_single_copy=cma was requested, but reading process %s on %s with "
                              "process_vm_readv failed: %s. Fix: allow ptrace between the job's processes "
                              "(Yama: echo 0 > /proc/sys/kernel/yama/ptrace_scope; containers: "
                              "--cap-add=SYS_PTRACE or a seccomp profile allowing process_vm_readv), or use "
                              "btl_cma_single_copy=auto.",
                              pid, opal_process_info.nodename, strerror(err));
    } else if (!c->warned_sc_denied && MCA_BTL_CMA_SC_AUTO == c->single_copy) {
        /* Printed from progress, not here: this usually runs inside
         * add_procs during MPI_Init, where Open MPI 4.1.4's forwarding of
         * help messages to mpirun was seen to garble them. */
        c->warned_sc_denied = true;
        c->sc_denied_errno = err;
    }
    MCA_BTL_CMA_VERBOSE(1, "single copy with local rank %d disabled: %s", ep->local_rank, strerror(err));
}

int mca_btl_cma_get(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep, void *local_address,
                    uint64_t remote_address, struct mca_btl_base_registration_handle_t *local_handle,
                    struct mca_btl_base_registration_handle_t *remote_handle, size_t size, int flags, int order,
                    mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    (void) flags;
    (void) order;
    return mca_btl_cma_transfer(btl, ep, local_address, remote_address, local_handle, remote_handle, size, cbfunc,
                                cbcontext, cbdata, false);
}
