/* models/topo.c: builds the switch + NIC topology and answers path queries. */
#include "models/topo.h"

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

void topo_fini(topo *t)
{
    sim_free(t->nvl_up);
    sim_free(t->nvl_down);
    sim_free(t->nic_up);
    sim_free(t->nic_down);
    memset(t, 0, sizeof *t);
}

sim_status topo_build(const scn_config *c, sim_engine *e, topo *t, sim_err *err)
{
    memset(t, 0, sizeof *t);
    int n = scn_world(c);
    t->n_gpus = n;
    t->gpus_per_node = c->cluster.gpus_per_node;
    t->nvl_up = sim_malloc((size_t)n * sizeof(sim_id));
    t->nvl_down = sim_malloc((size_t)n * sizeof(sim_id));
    t->nic_up = sim_malloc((size_t)n * sizeof(sim_id));
    t->nic_down = sim_malloc((size_t)n * sizeof(sim_id));
    if (!t->nvl_up || !t->nvl_down || !t->nic_up || !t->nic_down)
        goto oom;
    sim_time intra_lat = sim_time_from_s(c->cluster.intra_lat_us * 1e-6);
    sim_time inter_lat = sim_time_from_s(c->cluster.inter_lat_us * 1e-6);
    double intra_bw = topo_intra_bw(c), inter_bw = topo_inter_bw(c);
    for (int g = 0; g < n; g++) {
        t->nvl_up[g] = sim_engine_add_link(e, intra_bw, intra_lat);
        t->nvl_down[g] = sim_engine_add_link(e, intra_bw, 0);
        if (t->nvl_up[g] < 0 || t->nvl_down[g] < 0)
            goto oom;
        t->nic_up[g] = t->nic_down[g] = -1;
        if (c->cluster.nodes > 1) {
            t->nic_up[g] = sim_engine_add_link(e, inter_bw, inter_lat);
            t->nic_down[g] = sim_engine_add_link(e, inter_bw, 0);
            if (t->nic_up[g] < 0 || t->nic_down[g] < 0)
                goto oom;
        }
    }
    return SIM_OK;
oom:
    topo_fini(t);
    return sim_err_set(err, SIM_ENOMEM, "out of memory building the topology");
}

int topo_path(const topo *t, int src, int dst, sim_id path[TOPO_MAX_PATH])
{
    if (src / t->gpus_per_node == dst / t->gpus_per_node) {
        path[0] = t->nvl_up[src];
        path[1] = t->nvl_down[dst];
    } else {
        path[0] = t->nic_up[src];
        path[1] = t->nic_down[dst];
    }
    return 2;
}
