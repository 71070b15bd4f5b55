/*
 * The single-copy primitive shared by btl_get and btl_put: one function for
 * both directions (the system call is chosen by a compile-time constant, so
 * each caller gets its own specialised copy), and the bounds check every
 * request from a peer must pass before it reaches the kernel.
 */
#ifndef MCA_BTL_CMA_RDMA_H
#define MCA_BTL_CMA_RDMA_H

#include "btl_cma.h"
#include "btl_cma_endpoint.h"

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

#endif /* MCA_BTL_CMA_RDMA_H */
