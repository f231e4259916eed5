/* models/topo.c: builds the node, NIC and leaf-spine links and answers path queries
 * (see models/topo.h for the shapes). */
#include "models/topo.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "models/hw.h"
#include "sim/alloc.h"

static double efficiency(const scn_config *c, const char *link_name)
{
    if (!isnan(c->cluster.link_efficiency))
        return c->cluster.link_efficiency;
    const hw_link *l = hw_link_find(link_name);
    return l ? l->efficiency : 1.0;
}

double topo_intra_bw(const scn_config *c)
{
    return c->cluster.intra_bw_GBps * 1e9 * efficiency(c, c->cluster.intra);
}

double topo_inter_bw(const scn_config *c)
{
    return c->cluster.inter_bw_Gbps * 1e9 / 8.0 * efficiency(c, c->cluster.inter);
}

double topo_pcie_bw(const scn_config *c)
{
    const hw_link *l = hw_link_find(c->network.pcie);
    assert(l);
    return l->bw_GBps * 1e9 * efficiency(c, c->network.pcie);
}

double topo_nvls_cost(const scn_config *c)
{
    const hw_link *l = hw_link_find(c->cluster.intra);
    if (!isnan(c->cluster.link_efficiency) || !l || !l->nvls)
        return 1.0;
    return l->efficiency / l->nvls_efficiency;
}

static double bridge_bw(const scn_config *c)
{
    const hw_link *l = hw_link_find("nvlink-bridge");
    assert(l);
    return l->bw_GBps * 1e9 * efficiency(c, "nvlink-bridge");
}

void topo_fini(topo *t)
{
    sim_free(t->gpu_up);
    sim_free(t->gpu_down);
    sim_free(t->mesh);
    sim_free(t->bridge);
    sim_free(t->pcie_up);
    sim_free(t->pcie_down);
    sim_free(t->nic_up);
    sim_free(t->nic_down);
    sim_free(t->leaf_up);
    sim_free(t->leaf_down);
    sim_free(t->nic_leaf);
    memset(t, 0, sizeof *t);
}

static sim_id *ids(size_t n)
{
    sim_id *p = sim_malloc((n ? n : 1) * sizeof *p);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = -1;
    return p;
}

/* A link pair (up, down) of bandwidth bw; latency on up. 0, or -1 when out of memory. */
static int duplex(sim_engine *e, double bw, sim_time lat, sim_id *up, sim_id *down)
{
    *up = sim_engine_add_link(e, bw, lat);
    *down = sim_engine_add_link(e, bw, 0);
    return *up < 0 || *down < 0 ? -1 : 0;
}

sim_status topo_build(const scn_config *c, sim_engine *e, topo *t, sim_err *err)
{
    memset(t, 0, sizeof *t);
    const int gpn = c->cluster.gpus_per_node, nodes = c->cluster.nodes, n = nodes * gpn;
    const int nics = c->cluster.nics_per_node > 0 ? c->cluster.nics_per_node : gpn;
    assert(nics <= gpn);
    t->n_gpus = n;
    t->gpus_per_node = gpn;
    t->nodes = nodes;
    t->nics_per_node = nics;
    t->kind = strcmp(c->network.intra_topology, "pcie") == 0   ? TOPO_PCIE
              : strcmp(c->network.intra_topology, "mesh") == 0 ? TOPO_MESH
                                                               : TOPO_NVSWITCH;
    const hw_link *intra = hw_link_find(c->cluster.intra);
    t->nvls = t->kind == TOPO_NVSWITCH && intra && intra->nvls;
    const int per_leaf = c->network.nodes_per_leaf > 0 ? c->network.nodes_per_leaf : nodes;
    const int groups = (nodes + per_leaf - 1) / per_leaf;
    const int rail = c->network.rail_optimized;
    t->n_leaves = groups * (rail ? nics : 1);

    t->gpu_up = ids((size_t)n);
    t->gpu_down = ids((size_t)n);
    t->pcie_up = ids((size_t)n);
    t->pcie_down = ids((size_t)n);
    t->nic_up = ids((size_t)nodes * nics);
    t->nic_down = ids((size_t)nodes * nics);
    t->nic_leaf = ids((size_t)nodes * nics);
    t->leaf_up = ids((size_t)t->n_leaves);
    t->leaf_down = ids((size_t)t->n_leaves);
    if (!t->gpu_up || !t->gpu_down || !t->pcie_up || !t->pcie_down || !t->nic_up ||
        !t->nic_down || !t->nic_leaf || !t->leaf_up || !t->leaf_down)
        goto oom;
    if (t->kind == TOPO_MESH && !(t->mesh = ids((size_t)n * gpn)))
        goto oom;
    if (t->kind == TOPO_PCIE && c->network.nvlink_bridge && !(t->bridge = ids((size_t)n)))
        goto oom;

    sim_time intra_lat = sim_time_from_s(c->cluster.intra_lat_us * 1e-6);
    sim_time inter_lat = sim_time_from_s(c->cluster.inter_lat_us * 1e-6);
    double intra_bw = topo_intra_bw(c), inter_bw = topo_inter_bw(c);
    double pcie_bw = topo_pcie_bw(c);
    for (int g = 0; g < n; g++) {
        if (t->kind == TOPO_MESH) {
            for (int j = 0; j < gpn; j++)
                if (j != g % gpn &&
                    (t->mesh[(size_t)g * gpn + j] = sim_engine_add_link(e, intra_bw, intra_lat)) < 0)
                    goto oom;
        } else if (duplex(e, intra_bw, intra_lat, &t->gpu_up[g], &t->gpu_down[g])) {
            goto oom;
        }
        if (t->bridge && (g ^ 1) < n && (g ^ 1) / gpn == g / gpn &&
            (t->bridge[g] = sim_engine_add_link(e, bridge_bw(c), intra_lat)) < 0)
            goto oom;
    }
    if (nodes > 1) {
        /* the GPU's PCIe link binds only when slower than its NIC; PCIe nodes reuse the
         * GPU's own x16 link (gpu_up/down), shared with intra-node traffic */
        for (int g = 0; g < n; g++) {
            if (t->kind == TOPO_PCIE) {
                t->pcie_up[g] = t->gpu_up[g];
                t->pcie_down[g] = t->gpu_down[g];
            } else if (pcie_bw < inter_bw &&
                       duplex(e, pcie_bw, 0, &t->pcie_up[g], &t->pcie_down[g])) {
                goto oom;
            }
        }
        double *leaf_bw = sim_calloc((size_t)t->n_leaves, sizeof *leaf_bw);
        if (!leaf_bw)
            goto oom;
        for (int nd = 0; nd < nodes; nd++)
            for (int i = 0; i < nics; i++) {
                size_t k = (size_t)nd * nics + i;
                int leaf = rail ? (nd / per_leaf) * nics + i : nd / per_leaf;
                t->nic_leaf[k] = leaf;
                leaf_bw[leaf] += inter_bw;
                if (duplex(e, inter_bw, inter_lat, &t->nic_up[k], &t->nic_down[k])) {
                    sim_free(leaf_bw);
                    goto oom;
                }
            }
        if (c->cluster.oversubscription > 1 && t->n_leaves > 1)
            for (int l = 0; l < t->n_leaves; l++)
                if (duplex(e, leaf_bw[l] / c->cluster.oversubscription, 0, &t->leaf_up[l],
                           &t->leaf_down[l])) {
                    sim_free(leaf_bw);
                    goto oom;
                }
        sim_free(leaf_bw);
    }
    return SIM_OK;
oom:
    topo_fini(t);
    return sim_err_set(err, SIM_ENOMEM, "out of memory building the topology");
}

sim_id topo_switch_up(const topo *t, int g)
{
    assert(t->kind == TOPO_NVSWITCH);
    return t->gpu_up[g];
}

sim_id topo_switch_down(const topo *t, int g)
{
    assert(t->kind == TOPO_NVSWITCH);
    return t->gpu_down[g];
}

int topo_path(const topo *t, int src, int dst, sim_id path[TOPO_MAX_PATH])
{
    assert(src != dst && src >= 0 && dst >= 0 && src < t->n_gpus && dst < t->n_gpus);
    const int gpn = t->gpus_per_node;
    int n = 0;
    if (src / gpn == dst / gpn) {
        if (t->kind == TOPO_MESH) {
            path[n++] = t->mesh[(size_t)src * gpn + dst % gpn];
        } else if (t->bridge && (src ^ 1) == dst) {
            path[n++] = t->bridge[src];
        } else {
            path[n++] = t->gpu_up[src];
            path[n++] = t->gpu_down[dst];
        }
        return n;
    }
    const int nics = t->nics_per_node;
    size_t ns = (size_t)(src / gpn) * nics + (size_t)(src % gpn) * nics / gpn;
    size_t nd = (size_t)(dst / gpn) * nics + (size_t)(dst % gpn) * nics / gpn;
    if (t->pcie_up[src] >= 0)
        path[n++] = t->pcie_up[src];
    path[n++] = t->nic_up[ns];
    int ls = t->nic_leaf[ns], ld = t->nic_leaf[nd];
    if (ls != ld && t->leaf_up[ls] >= 0) {
        path[n++] = t->leaf_up[ls];
        path[n++] = t->leaf_down[ld];
    }
    path[n++] = t->nic_down[nd];
    if (t->pcie_down[dst] >= 0)
        path[n++] = t->pcie_down[dst];
    return n;
}
