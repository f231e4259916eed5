/* models/topo.c: builds the node, NIC and leaf-spine links and answers path queries
 * (see models/topo.h for the shapes). */
#include "models/topo.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
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

/* On pcie nodes cluster.intra names the GPU-to-GPU link: the GPU's PCIe preset (the
 * default), or nvlink-bridge, which moves cluster.intra_bw_GBps / intra_lat_us to the
 * bridge and leaves the PCIe tree to network.pcie. */
static int intra_is_bridge(const scn_config *c)
{
    return strcmp(c->cluster.intra, "nvlink-bridge") == 0;
}

static double bridge_bw(const scn_config *c)
{
    if (intra_is_bridge(c))
        return topo_intra_bw(c);
    const hw_link *l = hw_link_find("nvlink-bridge");
    assert(l);
    return l->bw_GBps * 1e9 * efficiency(c, "nvlink-bridge");
}

/* The x16 links of a pcie node's tree (GPU to switch, switch to CPU). */
static double tree_bw(const scn_config *c)
{
    return intra_is_bridge(c) ? topo_pcie_bw(c) : topo_intra_bw(c);
}

/* What a link is (topo.link_kind); the index it refers to is in topo.link_index. */
enum {
    LK_SWITCH_UP, LK_SWITCH_DOWN,     /* GPU port of the NVSwitch; index: GPU (up kinds even) */
    LK_X16_UP, LK_X16_DOWN,           /* pcie nodes: GPU's x16 link; index: GPU */
    LK_BRIDGE,                        /* NVLink bridge GPU -> partner; index: GPU */
    LK_MESH,                          /* mesh: index: GPU * gpus_per_node + local dst */
    LK_PCIE_UP, LK_PCIE_DOWN,         /* GPU <-> NIC PCIe; index: GPU */
    LK_NIC_UP, LK_NIC_DOWN,           /* index: node * nics_per_node + NIC */
    LK_LEAF_UP, LK_LEAF_DOWN,         /* leaf <-> spine; index: leaf */
    LK_SW_UP, LK_SW_DOWN,             /* PCIe switch <-> CPU; index: node * switches + s */
};
_Static_assert(LK_X16_UP % 2 == 0 && LK_PCIE_UP % 2 == 0 && LK_NIC_UP % 2 == 0 &&
                   LK_LEAF_UP % 2 == 0 && LK_SW_UP % 2 == 0,
               "duplex() makes up_kind + 1 the down kind; names take k & 1 as the direction");

/* Adds a link and remembers what it is. -1 when out of memory. */
static sim_id add_link(topo *t, sim_engine *e, double bw, sim_time lat, int kind, int32_t idx)
{
    size_t cap = (size_t)t->cap_links;
    if (sim_grow((void **)&t->link_kind, &cap, (size_t)t->n_links + 1, sizeof *t->link_kind))
        return -1;
    cap = (size_t)t->cap_links;
    if (sim_grow((void **)&t->link_index, &cap, (size_t)t->n_links + 1, sizeof *t->link_index))
        return -1;
    t->cap_links = (int)cap;
    sim_id id = sim_engine_add_link(e, bw, lat);
    if (id < 0)
        return -1;
    if (t->n_links == 0)
        t->link0 = id;
    assert(id == t->link0 + t->n_links);   /* nobody else adds links meanwhile */
    t->link_kind[t->n_links] = (uint8_t)kind;
    t->link_index[t->n_links] = idx;
    t->n_links++;
    return id;
}

int topo_link_name(const topo *t, sim_id link, char *buf, size_t n)
{
    if (link < t->link0 || link >= t->link0 + t->n_links) {
        snprintf(buf, n, "link %d", (int)link);
        return -1;
    }
    int k = t->link_kind[link - t->link0], i = t->link_index[link - t->link0];
    const int gpn = t->gpus_per_node, nics = t->nics_per_node;
    /* up kinds are even, their down kinds the next odd number */
    static const char *const gpu_port[] = {[LK_SWITCH_UP] = "NVSwitch", [LK_X16_UP] = "PCIe x16",
                                           [LK_PCIE_UP] = "PCIe to NIC"};
    const char *dir = k & 1 ? "down" : "up";
    switch (k) {
    case LK_SWITCH_UP:
    case LK_SWITCH_DOWN:
    case LK_X16_UP:
    case LK_X16_DOWN:
    case LK_PCIE_UP:
    case LK_PCIE_DOWN:
        return snprintf(buf, n, "node %d GPU %d %s %s", i / gpn, i % gpn, gpu_port[k & ~1], dir);
    case LK_BRIDGE:
        return snprintf(buf, n, "node %d GPU %d NVLink bridge to GPU %d", i / gpn, i % gpn,
                        (i ^ 1) % gpn);
    case LK_MESH:
        return snprintf(buf, n, "node %d GPU %d mesh to GPU %d", i / gpn / gpn,
                        i / gpn % gpn, i % gpn);
    case LK_NIC_UP:
    case LK_NIC_DOWN:
        return snprintf(buf, n, "node %d NIC %d %s", i / nics, i % nics, dir);
    case LK_SW_UP:
    case LK_SW_DOWN:
        return snprintf(buf, n, "node %d PCIe switch %d %s", i / t->switches_per_node,
                        i % t->switches_per_node, k == LK_SW_UP ? "uplink" : "downlink");
    default:
        assert(k == LK_LEAF_UP || k == LK_LEAF_DOWN);
        return snprintf(buf, n, "leaf %d %s", i, k == LK_LEAF_UP ? "uplink" : "downlink");
    }
}

void topo_fini(topo *t)
{
    sim_free(t->link_kind);
    sim_free(t->link_index);
    sim_free(t->gpu_up);
    sim_free(t->gpu_down);
    sim_free(t->mesh);
    sim_free(t->bridge);
    sim_free(t->pcie_up);
    sim_free(t->pcie_down);
    sim_free(t->sw_up);
    sim_free(t->sw_down);
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

/* A link pair (up, down) of bandwidth bw; latency on up; kinds up_kind and up_kind + 1.
 * 0, or -1 when out of memory. */
static int duplex(topo *t, sim_engine *e, double bw, sim_time lat, int up_kind, int32_t idx,
                  sim_id *up, sim_id *down)
{
    *up = add_link(t, e, bw, lat, up_kind, idx);
    *down = *up < 0 ? -1 : add_link(t, e, bw, 0, up_kind + 1, idx);
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
    if (t->kind == TOPO_PCIE) {
        t->switches_per_node = (gpn + TOPO_PCIE_SW - 1) / TOPO_PCIE_SW;
        size_t n_sw = (size_t)nodes * t->switches_per_node;
        if (!(t->sw_up = ids(n_sw)) || !(t->sw_down = ids(n_sw)))
            goto oom;
    }

    sim_time intra_lat = sim_time_from_s(c->cluster.intra_lat_us * 1e-6);
    sim_time inter_lat = sim_time_from_s(c->cluster.inter_lat_us * 1e-6);
    double intra_bw = topo_intra_bw(c), inter_bw = topo_inter_bw(c);
    double pcie_bw = topo_pcie_bw(c);
    if (t->kind == TOPO_PCIE)
        intra_bw = tree_bw(c);
    for (int g = 0; g < n; g++) {
        if (t->kind == TOPO_MESH) {
            for (int j = 0; j < gpn; j++)
                if (j != g % gpn &&
                    (t->mesh[(size_t)g * gpn + j] =
                         add_link(t, e, intra_bw, intra_lat, LK_MESH, g * gpn + j)) < 0)
                    goto oom;
        } else if (duplex(t, e, intra_bw, intra_lat,
                          t->kind == TOPO_PCIE ? LK_X16_UP : LK_SWITCH_UP, g, &t->gpu_up[g],
                          &t->gpu_down[g])) {
            goto oom;
        }
        if (t->bridge && (g ^ 1) < n && (g ^ 1) / gpn == g / gpn &&
            (t->bridge[g] = add_link(t, e, bridge_bw(c), intra_lat, LK_BRIDGE, g)) < 0)
            goto oom;
    }
    /* PCIe switch uplinks: a switch with one GPU cannot load its uplink beyond that GPU's
     * own x16 link, so it gets none (the constraint could never bind) */
    for (int nd = 0; nd < nodes && t->kind == TOPO_PCIE; nd++)
        for (int sw = 0; sw < t->switches_per_node; sw++) {
            int below = gpn - sw * TOPO_PCIE_SW < TOPO_PCIE_SW ? gpn - sw * TOPO_PCIE_SW
                                                               : TOPO_PCIE_SW;
            size_t k = (size_t)nd * t->switches_per_node + sw;
            if (below > 1 && duplex(t, e, intra_bw, 0, LK_SW_UP, (int32_t)k, &t->sw_up[k],
                                    &t->sw_down[k]))
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
                       duplex(t, e, pcie_bw, 0, LK_PCIE_UP, g, &t->pcie_up[g], &t->pcie_down[g])) {
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
                if (duplex(t, e, inter_bw, inter_lat, LK_NIC_UP, (int32_t)k, &t->nic_up[k],
                           &t->nic_down[k])) {
                    sim_free(leaf_bw);
                    goto oom;
                }
            }
        if (c->cluster.oversubscription > 1 && t->n_leaves > 1)
            for (int l = 0; l < t->n_leaves; l++)
                if (duplex(t, e, leaf_bw[l] / c->cluster.oversubscription, 0, LK_LEAF_UP, l,
                           &t->leaf_up[l], &t->leaf_down[l])) {
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

/* pcie nodes: the switch (index into sw_up) of GPU g, and of the NIC serving GPU g (the
 * switch of the first GPU that NIC serves). */
static size_t gpu_switch(const topo *t, int g)
{
    const int gpn = t->gpus_per_node;
    return (size_t)(g / gpn) * t->switches_per_node + (size_t)(g % gpn / TOPO_PCIE_SW);
}

static size_t nic_switch(const topo *t, int g)
{
    const int gpn = t->gpus_per_node, nics = t->nics_per_node;
    int nic = g % gpn * nics / gpn;
    int first = (nic * gpn + nics - 1) / nics;   /* smallest j with j * nics / gpn == nic */
    return (size_t)(g / gpn) * t->switches_per_node + (size_t)(first / TOPO_PCIE_SW);
}

/* Appends the uplinks from switch a to switch b (none if a == b or a has none). */
static int add_switch_hop(const topo *t, size_t a, size_t b, sim_id *path, int n)
{
    if (a != b && t->sw_up[a] >= 0 && t->sw_down[b] >= 0) {
        path[n++] = t->sw_up[a];
        path[n++] = t->sw_down[b];
    } else if (a != b) {   /* one side has a single GPU: only the other uplink exists */
        if (t->sw_up[a] >= 0)
            path[n++] = t->sw_up[a];
        if (t->sw_down[b] >= 0)
            path[n++] = t->sw_down[b];
    }
    return n;
}

int topo_path(const topo *t, int src, int dst, sim_id path[TOPO_MAX_PATH])
{
    assert(src != dst && src >= 0 && dst >= 0 && src < t->n_gpus && dst < t->n_gpus);
    const int gpn = t->gpus_per_node;
    const int pcie = t->kind == TOPO_PCIE;
    int n = 0;
    if (src / gpn == dst / gpn) {
        if (t->kind == TOPO_MESH) {
            path[n++] = t->mesh[(size_t)src * gpn + dst % gpn];
        } else if (t->bridge && (src ^ 1) == dst) {
            path[n++] = t->bridge[src];
        } else {
            path[n++] = t->gpu_up[src];
            if (pcie)
                n = add_switch_hop(t, gpu_switch(t, src), gpu_switch(t, dst), path, n);
            path[n++] = t->gpu_down[dst];
        }
        return n;
    }
    const int nics = t->nics_per_node;
    size_t ns = (size_t)(src / gpn) * nics + (size_t)(src % gpn) * nics / gpn;
    size_t nd = (size_t)(dst / gpn) * nics + (size_t)(dst % gpn) * nics / gpn;
    if (t->pcie_up[src] >= 0)
        path[n++] = t->pcie_up[src];
    if (pcie)
        n = add_switch_hop(t, gpu_switch(t, src), nic_switch(t, src), path, n);
    path[n++] = t->nic_up[ns];
    int ls = t->nic_leaf[ns], ld = t->nic_leaf[nd];
    if (ls != ld && t->leaf_up[ls] >= 0) {
        path[n++] = t->leaf_up[ls];
        path[n++] = t->leaf_down[ld];
    }
    path[n++] = t->nic_down[nd];
    if (pcie)
        n = add_switch_hop(t, nic_switch(t, dst), gpu_switch(t, dst), path, n);
    if (t->pcie_down[dst] >= 0)
        path[n++] = t->pcie_down[dst];
    assert(n <= TOPO_MAX_PATH);
    return n;
}
