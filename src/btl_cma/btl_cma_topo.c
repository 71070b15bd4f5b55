/*
 * Topology decisions (see btl_cma_topo.h): pure hwloc, no Open MPI, so
 * test/topo can check them on synthetic multi-package, multi-NUMA
 * topologies that this one-NUMA-node machine cannot show.
 */
#include "btl_cma_topo.h"

#include <errno.h>

static const char *const class_names[MCA_BTL_CMA_PEER_NCLASSES] = {
    "same core", "shared L2", "shared L3", "same NUMA node", "same package", "other NUMA node", "unknown",
};

const char *mca_btl_cma_peer_class_name(mca_btl_cma_peer_class_t c)
{
    return (unsigned) c < MCA_BTL_CMA_PEER_NCLASSES ? class_names[c] : "invalid";
}

static int usable(hwloc_topology_t topo, hwloc_const_cpuset_t s)
{
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
    return s && !hwloc_bitmap_iszero(s) && !hwloc_bitmap_isincluded(all, s);
}

mca_btl_cma_peer_class_t mca_btl_cma_topo_classify_sets(hwloc_topology_t topo, hwloc_const_cpuset_t a,
                                                        hwloc_const_cpuset_t b)
{
    if (!usable(topo, a) || !usable(topo, b)) {
        return MCA_BTL_CMA_PEER_UNKNOWN;
    }
    hwloc_bitmap_t both = hwloc_bitmap_alloc();
    hwloc_bitmap_or(both, a, b);
    /* The smallest object covering both processes names their relation. */
    hwloc_obj_t o = hwloc_get_obj_covering_cpuset(topo, both);
    hwloc_bitmap_free(both);
    mca_btl_cma_peer_class_t c = MCA_BTL_CMA_PEER_OTHER_NUMA;
    for (; o; o = o->parent) {
        if (o->type == HWLOC_OBJ_CORE || o->type == HWLOC_OBJ_PU) {
            c = MCA_BTL_CMA_PEER_SAME_CORE;
            break;
        }
        if (o->type == HWLOC_OBJ_L2CACHE || o->type == HWLOC_OBJ_L1CACHE) {
            c = MCA_BTL_CMA_PEER_SHARED_L2;
            break;
        }
        if (o->type == HWLOC_OBJ_L3CACHE) {
            c = MCA_BTL_CMA_PEER_SHARED_L3;
            break;
        }
        /* hwloc 2 hangs NUMA nodes off the memory tree: an object whose
         * memory children include one node is "same NUMA node". */
        if (o->memory_arity > 0 && o->type != HWLOC_OBJ_MACHINE) {
            c = MCA_BTL_CMA_PEER_SAME_NUMA;
            break;
        }
        if (o->type == HWLOC_OBJ_PACKAGE) {
            c = MCA_BTL_CMA_PEER_SAME_PACKAGE;
            break;
        }
    }
    /* A package with several NUMA nodes below it, and processes on two of
     * them, is still "same package"; a machine-level cover that contains
     * only one NUMA node in total means same NUMA node. */
    if (c == MCA_BTL_CMA_PEER_OTHER_NUMA && hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE) == 1) {
        c = MCA_BTL_CMA_PEER_SAME_NUMA;
    }
    return c;
}

int mca_btl_cma_topo_home_numa(hwloc_topology_t topo, hwloc_const_cpuset_t cpuset)
{
    if (hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE) < 2 || !usable(topo, cpuset)) {
        return -1;
    }
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)) != NULL) {
        if (hwloc_bitmap_isincluded(cpuset, node->cpuset)) {
            return (int) node->os_index;
        }
    }
    return -1;
}

int mca_btl_cma_topo_place(hwloc_topology_t topo, void *addr, size_t len, int numa_os_index)
{
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)) != NULL) {
        if ((int) node->os_index == numa_os_index) {
            break;
        }
    }
    if (!node) {
        return -EINVAL;
    }
    /* BIND without STRICT: preferred placement, never an allocation
     * failure when the node is full. */
    if (hwloc_set_area_membind(topo, addr, len, node->nodeset, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_BYNODESET) != 0) {
        return -errno;
    }
    return 0;
}
