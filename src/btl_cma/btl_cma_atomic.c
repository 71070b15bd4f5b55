/*
 * Atomic operations on a peer's memory (btl_atomic_op, btl_atomic_fop,
 * btl_atomic_cswap), as one-sided MPI needs them.  No system call performs
 * an atomic on another process's memory, so the origin sends the request
 * through the ring and the target's progress applies it with the CPU's own
 * atomic instructions (btl_cma_emu.c carries it).  Because the target uses
 * ordinary CPU atomics on ordinary memory, these operations are atomic with
 * respect to CPU atomics of any process on the node as well, which is what
 * MCA_BTL_ATOMIC_SUPPORTS_GLOB promises.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_rdma.h"

/* Read-modify-write with a compare-and-swap loop, for the operations the
 * compiler has no fetch-and-op builtin for. */
#define CAS_LOOP(T, p, expr)                                                                   \
    do {                                                                                       \
        T old_ = __atomic_load_n((p), __ATOMIC_RELAXED), new_;                                 \
        do {                                                                                   \
            T x = old_;                                                                        \
            new_ = (T) (expr);                                                                 \
        } while (!__atomic_compare_exchange_n((p), &old_, new_, false, __ATOMIC_SEQ_CST,       \
                                              __ATOMIC_RELAXED));                              \
        *prev = (uint64_t) old_;                                                               \
    } while (0)

#define APPLY(T, ST)                                                                          \
    do {                                                                                      \
        T *p = addr, v = (T) operand;                                                         \
        switch (op) {                                                                         \
        case MCA_BTL_ATOMIC_ADD:                                                              \
            *prev = __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);                               \
            break;                                                                            \
        case MCA_BTL_ATOMIC_AND:                                                              \
            *prev = __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);                               \
            break;                                                                            \
        case MCA_BTL_ATOMIC_OR:                                                               \
            *prev = __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);                                \
            break;                                                                            \
        case MCA_BTL_ATOMIC_XOR:                                                              \
            *prev = __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);                               \
            break;                                                                            \
        case MCA_BTL_ATOMIC_SWAP:                                                             \
            *prev = __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);                              \
            break;                                                                            \
        case MCA_BTL_ATOMIC_LAND:                                                             \
            CAS_LOOP(T, p, x && v);                                                           \
            break;                                                                            \
        case MCA_BTL_ATOMIC_LOR:                                                              \
            CAS_LOOP(T, p, x || v);                                                           \
            break;                                                                            \
        case MCA_BTL_ATOMIC_LXOR:                                                             \
            CAS_LOOP(T, p, !x != !v);                                                         \
            break;                                                                            \
        case MCA_BTL_ATOMIC_MIN:                                                              \
            CAS_LOOP(T, p, (ST) x < (ST) v ? x : v);                                          \
            break;                                                                            \
        case MCA_BTL_CMA_AMO_CSWAP: {                                                         \
            T expected = (T) compare;                                                         \
            __atomic_compare_exchange_n(p, &expected, v, false, __ATOMIC_SEQ_CST,             \
                                        __ATOMIC_SEQ_CST);                                    \
            *prev = expected;                                                                 \
            break;                                                                            \
        }                                                                                     \
        case MCA_BTL_ATOMIC_MAX:                                                              \
            CAS_LOOP(T, p, (ST) x > (ST) v ? x : v);                                          \
            break;                                                                            \
        default:                                                                              \
            return OPAL_ERR_NOT_SUPPORTED;                                                    \
        }                                                                                     \
    } while (0)

int mca_btl_cma_atomic_apply(void *addr, uint32_t op, uint64_t operand, uint64_t compare, int flags,
                             uint64_t *prev)
{
    if (flags & MCA_BTL_ATOMIC_FLAG_FLOAT) {
        return OPAL_ERR_NOT_SUPPORTED;
    }
#if !defined(__x86_64__) && !defined(__i386__)
    /* One-sided MPI allows any displacement; x86 executes a locked
     * instruction on any address (slowly where it spans two lines), other
     * CPUs fault on a misaligned one, which would kill this process. */
    if ((uintptr_t) addr % ((flags & MCA_BTL_ATOMIC_FLAG_32BIT) ? 4 : 8)) {
        return OPAL_ERR_BAD_PARAM;
    }
#endif
    if (flags & MCA_BTL_ATOMIC_FLAG_32BIT) {
        APPLY(uint32_t, int32_t);
        *prev &= 0xffffffffu;
    } else {
        APPLY(uint64_t, int64_t);
    }
    return OPAL_SUCCESS;
}

static int start(struct mca_btl_base_endpoint_t *ep, void *local, uint64_t remote,
                 struct mca_btl_base_registration_handle_t *local_handle,
                 struct mca_btl_base_registration_handle_t *remote_handle, uint32_t op, uint64_t operand,
                 uint64_t compare, int flags, mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext,
                 void *cbdata)
{
    size_t width = (flags & MCA_BTL_ATOMIC_FLAG_32BIT) ? 4 : 8;
    if (NULL == ep || (NULL == remote_handle && mca_btl_cma_mapped_here(remote, width))) {
        /* osc rdma (Open MPI 4.1.4) targets the caller's own window with a
         * NULL endpoint, and shared memory mapped here with no registration
         * (mca_btl_cma_mapped_here): apply the operation here. */
        uint64_t prev = 0;
        int arc = mca_btl_cma_atomic_apply((void *) (uintptr_t) remote, op, operand, compare, flags, &prev);
        if (OPAL_SUCCESS != arc) {
            return arc;
        }
        if (local) {
            if (4 == width) {
                uint32_t v = (uint32_t) prev;
                memcpy(local, &v, sizeof(v));
            } else {
                memcpy(local, &prev, sizeof(prev));
            }
        }
        cbfunc(&mca_btl_cma.super, ep, local, local_handle, cbcontext, cbdata, OPAL_SUCCESS);
        return OPAL_SUCCESS;
    }
    int rc = mca_btl_cma_rdma_admit(ep, remote_handle, remote, width);
    if (OPAL_UNLIKELY(OPAL_SUCCESS != rc)) {
        return rc;
    }
    if (flags & MCA_BTL_ATOMIC_FLAG_FLOAT) {
        return OPAL_ERR_NOT_SUPPORTED;
    }
    return mca_btl_cma_emu_atomic(ep, local, remote, local_handle, remote_handle, op, operand, compare, flags, cbfunc,
                                  cbcontext, cbdata);
}

int mca_btl_cma_atomic_op(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                          uint64_t remote_address, struct mca_btl_base_registration_handle_t *remote_handle,
                          mca_btl_base_atomic_op_t op, uint64_t operand, int flags, int order,
                          mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    (void) btl;
    (void) order;
    return start(ep, NULL, remote_address, NULL, remote_handle, op, operand, 0, flags, cbfunc, cbcontext, cbdata);
}

int mca_btl_cma_atomic_fop(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                           void *local_address, uint64_t remote_address,
                           struct mca_btl_base_registration_handle_t *local_handle,
                           struct mca_btl_base_registration_handle_t *remote_handle, mca_btl_base_atomic_op_t op,
                           uint64_t operand, int flags, int order, mca_btl_base_rdma_completion_fn_t cbfunc,
                           void *cbcontext, void *cbdata)
{
    (void) btl;
    (void) order;
    return start(ep, local_address, remote_address, local_handle, remote_handle, op, operand, 0, flags, cbfunc,
                 cbcontext, cbdata);
}

int mca_btl_cma_atomic_cswap(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                             void *local_address, uint64_t remote_address,
                             struct mca_btl_base_registration_handle_t *local_handle,
                             struct mca_btl_base_registration_handle_t *remote_handle, uint64_t compare,
                             uint64_t value, int flags, int order, mca_btl_base_rdma_completion_fn_t cbfunc,
                             void *cbcontext, void *cbdata)
{
    (void) btl;
    (void) order;
    return start(ep, local_address, remote_address, local_handle, remote_handle, MCA_BTL_CMA_AMO_CSWAP, value,
                 compare, flags, cbfunc, cbcontext, cbdata);
}
