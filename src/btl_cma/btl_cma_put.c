/*
 * Writes into a peer's memory (btl_put, used by one-sided MPI; ob1's
 * point-to-point protocols never choose it, see btl_cma_component.c) with
 * process_vm_writev, or through the rings (btl_cma_emu.c) where single copy
 * is denied or switched off.  An out-of-bounds put is refused, never
 * issued.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_rdma.h"

int mca_btl_cma_put(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep, void *local_address,
                    uint64_t remote_address, struct mca_btl_base_registration_handle_t *local_handle,
                    struct mca_btl_base_registration_handle_t *remote_handle, size_t size, int flags, int order,
                    mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    (void) flags;
    (void) order;
    if (OPAL_UNLIKELY(NULL == ep)) {
        /* The caller's own memory (osc rdma passes no endpoint for it). */
        memmove((void *) (uintptr_t) remote_address, local_address, size);
        cbfunc(btl, NULL, local_address, local_handle, cbcontext, cbdata, OPAL_SUCCESS);
        return OPAL_SUCCESS;
    }
    int rc = mca_btl_cma_rdma_admit(ep, remote_handle, remote_address, size);
    if (OPAL_UNLIKELY(OPAL_SUCCESS != rc)) {
        return rc;
    }
    if (ep->can_read_peer) {
        int err = mca_btl_cma_vm_copy(ep->pid, local_address, remote_address, size, true);
        if (OPAL_LIKELY(0 == err)) {
            MCA_BTL_CMA_COUNT(put_count, 1);
            MCA_BTL_CMA_COUNT(put_bytes, size);
            cbfunc(btl, ep, local_address, local_handle, cbcontext, cbdata, OPAL_SUCCESS);
            return OPAL_SUCCESS;
        }
        if (ESRCH == err) {
            mca_btl_cma_peer_failed(ep, "it vanished during a single-copy write");
            return OPAL_ERR_UNREACH;
        }
        if (!mca_btl_cma_is_denial(err)) {
            return OPAL_ERROR;
        }
        mca_btl_cma_single_copy_denied(ep, err, true);
    }
    return mca_btl_cma_emu_put(ep, local_address, remote_address, local_handle, remote_handle, size, cbfunc,
                               cbcontext, cbdata);
}
