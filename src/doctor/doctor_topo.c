/*
 * The node's shape as hwloc sees it (packages, NUMA nodes, cores, hardware
 * threads, L3 caches): the same discovery Open MPI makes, reduced to the
 * counts that tell a user how ranks will share caches and memory
 * controllers, and therefore which of cma's topology classes their peers
 * will fall into.
 */
#include "doctor.h"

#include <hwloc.h>
#include <stdio.h>
#include <string.h>

static int count(hwloc_topology_t topo, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n < 0 ? 0 : n; /* -1: objects of this type sit at several depths */
}

void doctor_topo_gather(struct doctor_topo *t)
{
    memset(t, 0, sizeof(*t));
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) {
        snprintf(t->error, sizeof(t->error), "hwloc_topology_init failed");
        return;
    }
    if (hwloc_topology_load(topo) != 0) {
        snprintf(t->error, sizeof(t->error), "hwloc_topology_load failed");
        hwloc_topology_destroy(topo);
        return;
    }
    t->loaded = 1;
    t->packages = count(topo, HWLOC_OBJ_PACKAGE);
    t->numa_nodes = count(topo, HWLOC_OBJ_NUMANODE);
    t->cores = count(topo, HWLOC_OBJ_CORE);
    t->pus = count(topo, HWLOC_OBJ_PU);
    t->l3_caches = count(topo, HWLOC_OBJ_L3CACHE);
    hwloc_obj_t l3 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L3CACHE, 0);
    if (l3 && l3->attr) {
        t->l3_size = l3->attr->cache.size;
    }
    hwloc_topology_destroy(topo);
}
