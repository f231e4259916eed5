/* models/topo.h: cluster topology: the links of a cluster and the path between two GPUs.
 *
 * Today's shape: every GPU has a full-duplex port into its node's NVSwitch (an up link and
 * a down link, each intra_bw per direction) and one NIC (up and down, inter_bw each) into a
 * non-blocking fabric. A message inside a node crosses [src up, dst down] of the switch; a
 * message between nodes crosses [src NIC up, dst NIC down]. Latency sits on the up link,
 * so a path's latency is the configured one. The links are created in a sim_engine. */
#ifndef MODELS_TOPO_H
#define MODELS_TOPO_H

#include "models/scenario.h"
#include "sim/engine.h"

#define TOPO_MAX_PATH 8

typedef struct topo {
    int n_gpus, gpus_per_node;
    sim_id *nvl_up, *nvl_down;     /* [n_gpus] */
    sim_id *nic_up, *nic_down;     /* [n_gpus], -1 when there is a single node */
} topo;

/* Adds the cluster's links to e. On failure t is left empty (topo_fini-safe). */
sim_status topo_build(const scn_config *c, sim_engine *e, topo *t, sim_err *err);
void topo_fini(topo *t);

/* Writes the links from GPU src to GPU dst (src != dst) into path; returns their number. */
int topo_path(const topo *t, int src, int dst, sim_id path[TOPO_MAX_PATH]);

/* Effective bandwidths after efficiency, bytes/s, and latencies, seconds. */
double topo_intra_bw(const scn_config *c);
double topo_inter_bw(const scn_config *c);

#endif
