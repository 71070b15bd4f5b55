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
    return mca_btl_cma_transfer(btl, ep, local_address, remote_address, local_handle, remote_handle, size, cbfunc,
                                cbcontext, cbdata, true);
}
