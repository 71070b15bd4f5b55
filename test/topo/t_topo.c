/*
 * Checks the cma component's topology decisions (src/btl_cma/btl_cma_topo.c)
 * on synthetic hwloc topologies with several packages, NUMA nodes and
 * caches, which the one-NUMA-node build machine cannot show: the class of
 * every pair of cores, the NUMA node a bound process receives into, and
 * that unbound or machine-wide bindings give no decision.
 */
#include "btl_cma_topo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define EXPECT(cond, ...)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            ++failures;                                                         \
        }                                                                       \
    } while (0)

static hwloc_topology_t load(const char *synthetic)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) || hwloc_topology_set_synthetic(t, synthetic) || hwloc_topology_load(t)) {
        fprintf(stderr, "cannot load synthetic topology '%s'\n", synthetic);
        exit(1);
    }
    return t;
}

/* cpuset of the PU with logical index i */
static hwloc_bitmap_t pu(hwloc_topology_t t, unsigned i)
{
    return hwloc_bitmap_dup(hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, i)->cpuset);
}

static void check_class(hwloc_topology_t t, const char *topo, unsigned a, unsigned b, mca_btl_cma_peer_class_t want)
{
    hwloc_bitmap_t sa = pu(t, a), sb = pu(t, b);
    mca_btl_cma_peer_class_t got = mca_btl_cma_topo_classify_sets(t, sa, sb);
    EXPECT(got == want, "%s: PUs %u and %u classified '%s', expected '%s'", topo, a, b,
           mca_btl_cma_peer_class_name(got), mca_btl_cma_peer_class_name(want));
    hwloc_bitmap_free(sa);
    hwloc_bitmap_free(sb);
}

int main(void)
{
    /* Two packages, each with two L3 caches, a NUMA node per L3. */
    const char *t1s = "pack:2 numa:2 l3:1 l2:2 core:1 pu:2";
    hwloc_topology_t t1 = load(t1s);
    check_class(t1, t1s, 0, 1, MCA_BTL_CMA_PEER_SAME_CORE);
    check_class(t1, t1s, 0, 2, MCA_BTL_CMA_PEER_SHARED_L3);
    check_class(t1, t1s, 0, 4, MCA_BTL_CMA_PEER_SAME_PACKAGE);
    check_class(t1, t1s, 0, 8, MCA_BTL_CMA_PEER_OTHER_NUMA);
    check_class(t1, t1s, 15, 8, MCA_BTL_CMA_PEER_SAME_PACKAGE);
    /* each PU's home NUMA node is the one over its L3 */
    for (unsigned i = 0; i < 16; ++i) {
        hwloc_bitmap_t s = pu(t1, i);
        int home = mca_btl_cma_topo_home_numa(t1, s);
        EXPECT(home == (int) (i / 4), "%s: PU %u home NUMA %d, expected %u", t1s, i, home, i / 4);
        hwloc_bitmap_free(s);
    }
    /* a binding spanning two NUMA nodes, and an unbound process, get none */
    hwloc_bitmap_t span = pu(t1, 3);
    hwloc_bitmap_set(span, 4);
    EXPECT(mca_btl_cma_topo_home_numa(t1, span) == -1, "%s: spanning binding got a home node", t1s);
    EXPECT(mca_btl_cma_topo_home_numa(t1, hwloc_topology_get_topology_cpuset(t1)) == -1,
           "%s: unbound process got a home node", t1s);
    hwloc_bitmap_t p0 = pu(t1, 0);
    EXPECT(mca_btl_cma_topo_classify_sets(t1, p0, hwloc_topology_get_topology_cpuset(t1)) ==
               MCA_BTL_CMA_PEER_UNKNOWN,
           "%s: unbound peer classified", t1s);
    hwloc_bitmap_free(p0);
    /* a process bound to a whole L3 and its neighbour core */
    hwloc_bitmap_t l3 = hwloc_bitmap_dup(hwloc_get_obj_by_type(t1, HWLOC_OBJ_L3CACHE, 1)->cpuset);
    hwloc_bitmap_t c6 = pu(t1, 6);
    EXPECT(mca_btl_cma_topo_classify_sets(t1, l3, c6) == MCA_BTL_CMA_PEER_SHARED_L3, "%s: L3-wide binding", t1s);
    EXPECT(mca_btl_cma_topo_home_numa(t1, l3) == 1, "%s: L3-wide binding home", t1s);
    hwloc_bitmap_free(l3);
    hwloc_bitmap_free(c6);
    hwloc_bitmap_free(span);
    hwloc_topology_destroy(t1);

    /* One NUMA node per package, two L3 per package. */
    const char *t2s = "pack:2 numa:1 l3:2 core:2 pu:1";
    hwloc_topology_t t2 = load(t2s);
    check_class(t2, t2s, 0, 1, MCA_BTL_CMA_PEER_SHARED_L3);
    check_class(t2, t2s, 0, 2, MCA_BTL_CMA_PEER_SAME_NUMA);
    check_class(t2, t2s, 0, 4, MCA_BTL_CMA_PEER_OTHER_NUMA);
    hwloc_bitmap_t s2 = pu(t2, 5);
    EXPECT(mca_btl_cma_topo_home_numa(t2, s2) == 1, "%s: PU 5 home", t2s);
    hwloc_bitmap_free(s2);
    hwloc_topology_destroy(t2);

    /* One NUMA node in all (this build machine's shape): no placement,
     * and cores in different L2s are "same NUMA node". */
    const char *t3s = "numa:1 l3:1 l2:2 core:1 pu:1";
    hwloc_topology_t t3 = load(t3s);
    check_class(t3, t3s, 0, 1, MCA_BTL_CMA_PEER_SHARED_L3);
    hwloc_bitmap_t s3 = pu(t3, 0);
    EXPECT(mca_btl_cma_topo_home_numa(t3, s3) == -1, "%s: single NUMA node must not place", t3s);
    hwloc_bitmap_free(s3);
    hwloc_topology_destroy(t3);

    const char *t4s = "numa:1 core:2 pu:1";
    hwloc_topology_t t4 = load(t4s);
    check_class(t4, t4s, 0, 1, MCA_BTL_CMA_PEER_SAME_NUMA);
    hwloc_topology_destroy(t4);

    if (failures) {
        fprintf(stderr, "%d topology check(s) failed\n", failures);
        return 1;
    }
    printf("topology decisions: all checks passed\n");
    return 0;
}
