/*
 * Where a peer sits relative to this process, from the locality flags Open
 * MPI computed from the hwloc topology it already loaded (no second
 * discovery): same core, shared L2, shared L3, same NUMA node, same package,
 * or only the same node.  Used for diagnostics now; placement and
 * per-class thresholds build on it.
 */
#include "btl_cma.h"

#include "opal/mca/hwloc/hwloc-internal.h"
#include "opal/util/proc.h"

const char *mca_btl_cma_topo_classify(const struct opal_proc_t *peer)
{
    opal_hwloc_locality_t f = peer->proc_flags;
    if (OPAL_PROC_ON_LOCAL_CORE(f)) {
        return "same core";
    }
    if (OPAL_PROC_ON_LOCAL_L2CACHE(f)) {
        return "shared L2";
    }
    if (OPAL_PROC_ON_LOCAL_L3CACHE(f)) {
        return "shared L3";
    }
    if (OPAL_PROC_ON_LOCAL_NUMA(f)) {
        return "same NUMA node";
    }
    if (OPAL_PROC_ON_LOCAL_SOCKET(f)) {
        return "same package";
    }
    return "same node";
}
