/*
 * The one transfer behind btl_get and btl_put: a single function for both
 * directions (the direction is a compile-time constant at each caller, so
 * each gets its own specialised copy), the bounds check every request must
 * pass before it reaches the kernel, the partial-transfer loop around
 * process_vm_readv/writev, and the hand-over to the ring emulation when the
 * kernel denies single copy for a peer.
 */
#ifndef MCA_BTL_CMA_RDMA_H
#define MCA_BTL_CMA_RDMA_H

#include "btl_cma.h"
#include "btl_cma_endpoint.h"

#include "opal/util/sys_limits.h"

#include <sys/mman.h>
#include <sys/uio.h>

/* The kernel moves at most 0x7ffff000 bytes per call; chunks of 1 GiB keep
 * each call well inside that and let a > 2 GiB transfer loop. */
#define MCA_BTL_CMA_MAX_PER_CALL ((size_t) 1 << 30)

/* Copy len bytes between local and the address remote of process pid.
 * Returns 0 or a positive errno.  A call that moves nothing is an error
 * (EFAULT), never a reason to spin. */
static inline int mca_btl_cma_vm_copy(pid_t pid, void *local, uint64_t remote, size_t len, const bool write)
{
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done;
        if (chunk > MCA_BTL_CMA_MAX_PER_CALL) {
            chunk = MCA_BTL_CMA_MAX_PER_CALL;
        }
        struct iovec l = {.iov_base = (char *) local + done, .iov_len = chunk};
        struct iovec r = {.iov_base = (void *) (uintptr_t) (remote + done), .iov_len = chunk};
        ssize_t n = write ? process_vm_writev(pid, &l, 1, &r, 1, 0) : process_vm_readv(pid, &l, 1, &r, 1, 0);
        if (n < 0) {
            if (EINTR == errno) {
                continue;
            }
            return errno;
        }
        if (0 == n) {
            return EFAULT;
        }
        done += (size_t) n;
    }
    return 0;
}

/* [addr, addr+len) inside the registered region, without overflow. */
static inline bool mca_btl_cma_in_bounds(const struct mca_btl_base_registration_handle_t *h, uint64_t addr,
                                         size_t len)
{
    return h && addr >= h->base && len <= h->size && addr - h->base <= h->size - len;
}

/* A request that names a peer but no registration: osc rdma (Open MPI
 * 4.1.4) makes these for the memory of an MPI_Win_allocate window that a
 * process of this node allocated, passing the address at which that
 * shared memory is mapped in this process, not in the peer (seen: the
 * peer's part one page below our own window base, the peer's mapping
 * elsewhere).  Executing them here, on our own mapping, is what the caller
 * means, and CPU atomics on shared memory are atomic for every process.
 * Refusing them sent osc rdma to a fallback that lost compare-and-swap
 * updates.  The pages of the first and last byte must be mapped here,
 * else the request is refused as before.  mincore, not a read of our own
 * memory with process_vm_readv: container seccomp profiles refuse the
 * latter and allow the former. */
static inline bool mca_btl_cma_mapped_here(uint64_t addr, size_t size)
{
    const uint64_t mask = ~((uint64_t) opal_getpagesize() - 1);
    unsigned char vec;
    uint64_t last = addr + (size ? size - 1 : 0);
    if (last < addr) {
        return false;
    }
    /* One call for the usual atomic or small transfer within one page. */
    return 0 == mincore((void *) (uintptr_t) (addr & mask), 1, &vec) &&
           ((last & mask) == (addr & mask) || 0 == mincore((void *) (uintptr_t) (last & mask), 1, &vec));
}

/* What every get and put checks before touching the kernel: the peer is
 * alive and the request lies inside the registration the peer sent. */
static inline int mca_btl_cma_rdma_admit(const struct mca_btl_base_endpoint_t *ep,
                                         const struct mca_btl_base_registration_handle_t *remote_handle,
                                         uint64_t remote_address, size_t size)
{
    if (OPAL_UNLIKELY(ep->failed)) {
        return OPAL_ERR_UNREACH;
    }
    if (OPAL_UNLIKELY(!mca_btl_cma_in_bounds(remote_handle, remote_address, size))) {
        opal_output(0, "btl:cma: refused a single-copy request of %zu bytes at 0x%" PRIx64
                       " outside the peer's registration",
                    size, remote_address);
        return OPAL_ERR_BAD_PARAM;
    }
    return OPAL_SUCCESS;
}

/* EPERM/EACCES (Yama, seccomp, capabilities, dumpability) and ENOSYS mean
 * the mechanism is unavailable for this peer; anything else is a failure of
 * this one transfer. */
static inline bool mca_btl_cma_is_denial(int err)
{
    return EPERM == err || EACCES == err || ENOSYS == err;
}

/* One get (write == false) or put (write == true): the caller's own memory
 * (osc rdma passes no endpoint for it) by memmove, a peer by
 * process_vm_readv/writev, or through the rings (btl_cma_emu.c) where the
 * kernel denies single copy for that peer or it is switched off.  Each
 * caller passes a constant, so each gets its own specialised copy. */
static inline int mca_btl_cma_transfer(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                                       void *local, uint64_t remote,
                                       struct mca_btl_base_registration_handle_t *local_handle,
                                       struct mca_btl_base_registration_handle_t *remote_handle, size_t size,
                                       mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata,
                                       const bool write)
{
    if (OPAL_UNLIKELY(NULL == ep || (NULL == remote_handle && mca_btl_cma_mapped_here(remote, size)))) {
        /* Our own memory (osc rdma passes no endpoint for it), or shared
         * memory mapped here (see mca_btl_cma_mapped_here). */
        if (write) {
            memmove((void *) (uintptr_t) remote, local, size);
        } else {
            memmove(local, (const void *) (uintptr_t) remote, size);
        }
        cbfunc(btl, ep, local, local_handle, cbcontext, cbdata, OPAL_SUCCESS);
        return OPAL_SUCCESS;
    }
    int rc = mca_btl_cma_rdma_admit(ep, remote_handle, remote, size);
    if (OPAL_UNLIKELY(OPAL_SUCCESS != rc)) {
        return rc;
    }
    if (OPAL_LIKELY(ep->can_read_peer)) {
        int err = mca_btl_cma_vm_copy(ep->pid, local, remote, size, write);
        if (OPAL_LIKELY(0 == err)) {
            if (write) {
                MCA_BTL_CMA_COUNT(put_count, 1);
                MCA_BTL_CMA_COUNT(put_bytes, size);
            } else {
                MCA_BTL_CMA_COUNT(get_count, 1);
                MCA_BTL_CMA_COUNT(get_bytes, size);
            }
            cbfunc(btl, ep, local, local_handle, cbcontext, cbdata, OPAL_SUCCESS);
            return OPAL_SUCCESS;
        }
        if (ESRCH == err) {
            mca_btl_cma_peer_failed(ep, write ? "it vanished during a single-copy write"
                                              : "it vanished during a single-copy read");
            return OPAL_ERR_UNREACH;
        }
        if (!mca_btl_cma_is_denial(err)) {
            opal_output(0, "btl:cma: %s of %zu bytes with process %d failed: %s",
                        write ? "process_vm_writev" : "process_vm_readv", size, (int) ep->pid, strerror(err));
            return OPAL_ERROR;
        }
        mca_btl_cma_single_copy_denied(ep, err, true);
        if (MCA_BTL_CMA_SC_CMA == mca_btl_cma_component.single_copy) {
            return OPAL_ERROR; /* the user required single copy */
        }
    }
    return write ? mca_btl_cma_emu_put(ep, local, remote, local_handle, remote_handle, size, cbfunc, cbcontext, cbdata)
                 : mca_btl_cma_emu_get(ep, local, remote, local_handle, remote_handle, size, cbfunc, cbcontext, cbdata);
}

#endif /* MCA_BTL_CMA_RDMA_H */
