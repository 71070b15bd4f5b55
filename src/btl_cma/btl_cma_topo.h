/*
 * Topology decisions of the cma component, written against plain hwloc so
 * they can be tested on synthetic topologies without MPI: how two processes
 * relate (the closest level of the hierarchy they share), and which NUMA
 * node a receiving process's rings belong on.  The component feeds them
 * the topology Open MPI already loaded.
 */
#ifndef MCA_BTL_CMA_TOPO_H
#define MCA_BTL_CMA_TOPO_H

#include <hwloc.h>
#include <stddef.h>

typedef enum mca_btl_cma_peer_class {
    MCA_BTL_CMA_PEER_SAME_CORE = 0,
    MCA_BTL_CMA_PEER_SHARED_L2,
    MCA_BTL_CMA_PEER_SHARED_L3,
    MCA_BTL_CMA_PEER_SAME_NUMA,
    MCA_BTL_CMA_PEER_SAME_PACKAGE,
    MCA_BTL_CMA_PEER_OTHER_NUMA, /* different NUMA node and package */
    MCA_BTL_CMA_PEER_UNKNOWN,    /* unbound or unknown cpusets */
    MCA_BTL_CMA_PEER_NCLASSES
} mca_btl_cma_peer_class_t;

const char *mca_btl_cma_peer_class_name(mca_btl_cma_peer_class_t c);

/* The closest relation shared by every PU of a and every PU of b.  An
 * empty or NULL cpuset, or one covering the whole machine (an unbound
 * process), gives UNKNOWN. */
mca_btl_cma_peer_class_t mca_btl_cma_topo_classify_sets(hwloc_topology_t topo, hwloc_const_cpuset_t a,
                                                        hwloc_const_cpuset_t b);

/* The NUMA node whose memory a process bound to cpuset should receive
 * into: the single NUMA node containing the whole cpuset, or -1 when the
 * binding spans nodes or the machine has only one (first touch is then as
 * good as anything). */
int mca_btl_cma_topo_home_numa(hwloc_topology_t topo, hwloc_const_cpuset_t cpuset);

/* Ask the kernel to place [addr, addr+len) on NUMA node os_index (preferred,
 * not strict: a full node falls back rather than failing).  0 or -errno. */
int mca_btl_cma_topo_place(hwloc_topology_t topo, void *addr, size_t len, int numa_os_index);

#endif /* MCA_BTL_CMA_TOPO_H */
