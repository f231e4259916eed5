/* models/route.h: routing models (which experts each token picks) and capacity dropping.
 *
 * A routing model is a vtable; for each step and MoE layer it draws, for every source GPU
 * of one expert-parallel group, how many of that GPU's tokens picked each expert (top-k
 * distinct experts per token, so each source row sums to tokens x k). All randomness comes
 * from the gsl_rng it is given. route_sample_step runs a model over every layer and group,
 * then applies the capacity limit. */
#ifndef MODELS_ROUTE_H
#define MODELS_ROUTE_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "models/scenario.h"
#include "sim/err.h"

typedef struct route_model {
    const char *name;
    size_t state_size;
    sim_status (*init)(void *state, const scn_config *c, sim_err *err);
    void (*fini)(void *state);
    /* counts: [n_src][n_experts], written whole. */
    sim_status (*sample)(void *state, gsl_rng *rng, int step, int layer, int n_src,
                         int64_t tokens_per_src, int n_experts, int top_k, int64_t *counts);
} route_model;

extern const route_model route_uniform;
const route_model *route_model_find(const char *name);   /* NULL if unknown */

/* One step's routing for the whole cluster, after capacity dropping. */
typedef struct route_result {
    int n_layers, n_gpus, n_experts, ep;
    int64_t tokens_per_gpu;
    int64_t *counts;       /* [layer][gpu][expert]: assignments from gpu kept for expert */
    int64_t *dropped;      /* [layer][gpu][expert]: assignments from gpu dropped */
} route_result;

/* Expert capacity per EP group, step and layer: ceil(C x group_tokens x k / E);
 * INT64_MAX when C = 0 (dropless). */
int64_t route_capacity(double capacity_factor, int64_t group_tokens, int top_k, int n_experts);

/* Keeps at most cap of the assignments in column `expert` of counts[n_src][n_experts],
 * choosing which uniformly at random (multivariate hypergeometric); writes what each
 * source lost into dropped (same shape). */
void route_apply_capacity(gsl_rng *rng, int n_src, int n_experts, int expert, int64_t cap,
                          int64_t *counts, int64_t *dropped);

/* Draws the routing of one step for every layer and EP group from `rng`, then applies the
 * capacity limit drawing from `drop_rng` (a separate stream, so the routing does not change
 * with the capacity factor). out is allocated here; free with route_result_fini. */
sim_status route_sample_step(const route_model *m, void *state, const scn_config *c,
                             gsl_rng *rng, gsl_rng *drop_rng, int step, route_result *out,
                             sim_err *err);
void route_result_fini(route_result *r);

/* The GPU (within the whole cluster) that holds `expert` for the EP group of `gpu`:
 * experts are placed contiguously, E/ep per GPU. */
static inline int route_expert_gpu(const route_result *r, int gpu, int expert)
{
    int per_gpu = r->n_experts / r->ep;
    return (gpu / r->ep) * r->ep + expert / per_gpu;
}

#endif
