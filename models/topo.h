/* models/topo.h: cluster topology: the links of a cluster and the path between two GPUs.
 *
 * Every link is one direction of a full-duplex wire (the two directions are separate links
 * with separate capacity). Inside a node (network.intra_topology):
 *   - nvswitch: each GPU has a port into the node's NVSwitch, an up and a down link of
 *     intra_bw each; GPU a -> b crosses [up(a), down(b)]. The switch itself is
 *     non-blocking. NVLS collectives address the switch directly (topo_switch_up/down).
 *   - pcie: a PCIe tree. GPUs 2i and 2i+1 of a node sit under PCIe switch i (TOPO_PCIE_SW
 *     GPUs per switch), each GPU with its x16 link to the switch (up and down), each switch
 *     with one x16 uplink to the CPU's root complex (up and down; the root complex itself
 *     is non-blocking): a -> b under one switch crosses [up(a), down(b)], else [up(a),
 *     switch up(sa), switch down(sb), down(b)]. With network.nvlink_bridge, GPUs 2i and
 *     2i+1 are also joined by an NVLink bridge (one link per direction) that carries their
 *     traffic instead. Rates: the PCIe links are cluster.intra_bw_GBps (the GPU's PCIe
 *     preset, its "intra-node" link) and the bridge the nvlink-bridge preset; with
 *     cluster.intra = nvlink-bridge the bridge follows cluster.intra_bw_GBps and
 *     intra_lat_us and the PCIe links the network.pcie preset instead (docs/NETWORK.md).
 *   - mesh: a direct link per ordered pair of GPUs of the node (AMD Infinity Fabric), each
 *     of intra_bw; a -> b crosses [mesh(a, b)].
 * Between nodes: NIC i of a node (cluster.nics_per_node of them; GPU j of g per node uses
 * NIC j * nics / g) has an up and a down link of inter_bw. The GPU reaches its NIC through
 * PCIe (its own x16 link, up and down; on pcie nodes the NIC sits under the PCIe switch of
 * the first GPU it serves, and a GPU under another switch reaches it through the switch
 * uplinks); a NIC sits on a leaf switch: leaf (k, i) for the
 * k-th group of network.nodes_per_leaf nodes when rail-optimized, else leaf k for all the
 * group's NICs. Leaves meet in a non-blocking spine layer, each leaf's uplink (and
 * downlink) carrying (sum of its NICs' bandwidth) / cluster.oversubscription. A message
 * between nodes crosses [pcie up(a), NIC up, (leaf up, leaf down if the leaves differ),
 * NIC down, pcie down(b)].
 * Constraints that can never bind are left out, which changes no rate: a GPU's PCIe link
 * when it is at least as fast as its NIC (its flows are a subset of the NIC's), and the
 * leaf uplinks when the fat tree is not oversubscribed (their capacity is the sum of the
 * NICs below). Latency sits on the first link of a path, so a path's latency is
 * intra_lat_us or inter_lat_us, once. The links are created in a sim_engine. */
#ifndef MODELS_TOPO_H
#define MODELS_TOPO_H

#include <stddef.h>
#include <stdint.h>

#include "models/scenario.h"
#include "sim/engine.h"

#define TOPO_MAX_PATH 12
#define TOPO_PCIE_SW 2             /* GPUs under one PCIe switch (pcie nodes) */

typedef enum { TOPO_NVSWITCH, TOPO_PCIE, TOPO_MESH } topo_kind;

typedef struct topo {
    int n_gpus, gpus_per_node, nodes;
    topo_kind kind;
    int nvls;                      /* the NVSwitch reduces in-network */
    int nics_per_node, n_leaves;
    sim_id *gpu_up, *gpu_down;     /* [n_gpus] switch port or PCIe x16; -1 for mesh */
    sim_id *mesh;                  /* mesh: [n_gpus * gpus_per_node], link g -> local j */
    sim_id *bridge;                /* pcie + bridge: [n_gpus] link g -> its partner */
    sim_id *pcie_up, *pcie_down;   /* [n_gpus] GPU <-> NIC, -1 when left out */
    int switches_per_node;         /* pcie: PCIe switches per node, else 0 */
    sim_id *sw_up, *sw_down;       /* pcie: [nodes * switches_per_node] uplink to the CPU,
                                    * -1 when left out (a switch with one GPU) */
    sim_id *nic_up, *nic_down;     /* [nodes * nics_per_node], -1 with a single node */
    sim_id *leaf_up, *leaf_down;   /* [n_leaves], -1 when left out */
    int *nic_leaf;                 /* [nics_per_node * nodes] leaf of each NIC */
    /* what each link of the topology is, for topo_link_name: links link0 .. link0 +
     * n_links - 1 of the engine, in creation order */
    sim_id link0;
    int n_links, cap_links;
    uint8_t *link_kind;            /* [n_links] topo_link_kind */
    int32_t *link_index;           /* [n_links] GPU, NIC, leaf ... the kind refers to */
} topo;

/* Adds the cluster's links to e. On failure t is left empty (topo_fini-safe). */
sim_status topo_build(const scn_config *c, sim_engine *e, topo *t, sim_err *err);
void topo_fini(topo *t);

/* Writes the links from GPU src to GPU dst (src != dst) into path; returns their number. */
int topo_path(const topo *t, int src, int dst, sim_id path[TOPO_MAX_PATH]);
static inline int topo_node(const topo *t, int g) { return g / t->gpus_per_node; }

/* NVSwitch nodes: GPU g's port to the switch, up (g -> switch) and down. */
sim_id topo_switch_up(const topo *t, int g);
sim_id topo_switch_down(const topo *t, int g);

/* The link in words, e.g. "node 3 GPU 5 NVSwitch up", "node 3 NIC 2 up", "leaf 4 uplink"
 * (GPUs and NICs numbered inside their node; leaves as in topo.nic_leaf). Writes at most n
 * bytes, NUL included, as snprintf does, and returns what snprintf returns (the length of
 * the whole name). A link that is not one of t's gets "link L" and returns -1. */
int topo_link_name(const topo *t, sim_id link, char *buf, size_t n);

/* Effective bandwidths after efficiency, bytes/s. */
double topo_intra_bw(const scn_config *c);
double topo_inter_bw(const scn_config *c);
double topo_pcie_bw(const scn_config *c);
/* Bytes an NVLS transfer of 1 byte costs on the switch ports: the intra link's
 * efficiency over its NVLS efficiency (1 when cluster.link_efficiency overrides both). */
double topo_nvls_cost(const scn_config *c);

#endif
