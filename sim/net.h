/* sim/net.h: the network-model interface: how flows share links.
 *
 * The engine pays each flow's latency, then hands it to the network model with
 * flow_start; the model must eventually call sim_engine_flow_finished(e, flow) for every
 * flow it was given, at the simulated time its last byte arrives (by scheduling events on
 * sim_engine_evq). Flows are named by flow id (sim_engine_n_flows of them, see
 * sim/engine.h); a flow may be a bundle (a weighted path, sim_engine_flow_path). Models are versioned tables of functions plus the size of their state;
 * the engine allocates the state (zeroed), calls init, and calls fini even after a failed
 * init. Look a model up by name with sim_net_model_find. */
#ifndef SIM_NET_H
#define SIM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "sim/engine.h"

/* A flow as the engine keeps it, for network models that read paths in their inner loops
 * (plain data owned by the engine; the table and the pool stay put while running). Flow
 * f's links are pool[path_off .. path_off + n_links); a bundle (mult > 1) has its weights
 * right after them, pool[path_off + n_links ..]. */
typedef struct sim_flow_info {
    sim_time lat;            /* whole latency: extra + the path's links (bundles: given) */
    uint32_t path_off;
    int32_t n_links;
    sim_id task;
    int32_t mult;            /* flows it stands for: 1, or a bundle's multiplicity */
} sim_flow_info;

const sim_flow_info *sim_engine_flow_table(const sim_engine *e);   /* [sim_engine_n_flows] */
const sim_id *sim_engine_path_pool(const sim_engine *e);

struct sim_net_model {
    const char *name;
    size_t state_size;
    sim_status (*init)(void *state, sim_engine *e, sim_err *err);
    void (*fini)(void *state);
    /* A flow's bytes start moving now. Returns SIM_OK or SIM_ENOMEM. */
    sim_status (*flow_start)(void *state, sim_engine *e, sim_id flow);
};

/* Per-flow latency + bytes / bottleneck bandwidth; flows ignore each other. */
extern const sim_net_model sim_net_analytic;
/* Max-min fair sharing (progressive filling), recomputed on the component of flows that a
 * start or an end touches; flows finishing at the same picosecond complete in one update.
 * See sim/net_flow.c. */
extern const sim_net_model sim_net_flow;

/* The flow model's solver on its own, for tests and tools: the max-min fair rates of
 * n_flows flows over n_links links of capacity cap[l] (bytes/s, > 0). Flow f crosses the
 * links links[path_off[f] .. path_off[f+1]-1] (path_off has n_flows + 1 entries). A flow
 * with no link gets rate INFINITY. rate has n_flows entries. SIM_ENOMEM when out of
 * memory (rate untouched). */
sim_status sim_maxmin_rates(size_t n_links, const double *cap, size_t n_flows,
                            const int32_t *path_off, const sim_id *links, double *rate);
/* The same with weights: flow f puts weights[k] x rate[f] on link links[k] (weights
 * parallel to links, each >= 1; NULL: all 1). A weight-w flow is w flows forced to share
 * one rate; the filling raises every rate together and freezes the flows on the first
 * full link at that link's share, capacity left / (sum of the weights still unfrozen). */
sim_status sim_maxmin_rates_weighted(size_t n_links, const double *cap, size_t n_flows,
                                     const int32_t *path_off, const sim_id *links,
                                     const int32_t *weights, double *rate);

/* NULL-terminated list of every network model, and look-up by name (NULL if unknown). */
extern const sim_net_model *const sim_net_models[];
const sim_net_model *sim_net_model_find(const char *name);

#endif
