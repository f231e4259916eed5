/* models/route.h: routing models (which experts each token picks), capacity dropping,
 * routing dynamics over steps, and the per-layer routing metrics.
 *
 * A routing model is a vtable (docs/ROUTING.md lists every one). It gives, for every step
 * and MoE layer, the router's probability vector p over the experts; the shared top-k
 * sampler then draws, token by token, k distinct experts from p for every source GPU of an
 * expert-parallel (EP) group, under the node constraints (node-limited, two-level). A model
 * may instead draw its counts itself (`sample`: uniform's historical sampler, trace,
 * expert_choice). Every draw comes from the gsl_rng it is given.
 *
 * A router (route_router) owns one model's state, the dynamics (drift, collapse) and the
 * cold-expert counters; route_router_sample draws a whole step (every layer and EP group),
 * applies the capacity limit and the placement (models/place.h). No I/O: the trace's
 * counts arrive parsed (cli/trace.c). */
#ifndef MODELS_ROUTE_H
#define MODELS_ROUTE_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "models/scenario.h"
#include "sim/err.h"

/* A routing trace, parsed (cli/trace.c reads the CSV; format in docs/ROUTING.md).
 * tokens: [n_steps][n_layers][n_src ? n_src : 1][n_experts] token-expert assignments.
 * n_src = 0: one row of counts per step and layer, for a whole EP group; n_src = ep: one
 * row per source rank of the EP group. Owned by the caller; must outlive the router. */
typedef struct route_trace {
    int n_steps, n_layers, n_experts, n_src;
    const int64_t *tokens;
} route_trace;

/* What the command hands the models beyond the scenario. */
typedef struct route_input {
    const route_trace *trace;        /* routing.model = trace; else NULL */
} route_input;

/* One (step, layer, EP group) draw. */
typedef struct route_draw {
    int step, layer, group;
    int n_src;                       /* source GPUs (the EP group) */
    int64_t tokens_per_src;
    int n_experts, top_k;
    double capacity_factor;          /* routing.capacity_factor */
    const double *p;                 /* [n_experts] the router's probabilities */
    /* Optional: tokens per (source, node) that have at least one of their experts on that
     * node, what a deduplicating dispatch sends across the fabric once (DeepEP). node_of
     * [n_experts] numbers the group's nodes 0..n_nodes-1 (n_nodes <= 64); node_tokens
     * [n_src][n_nodes] is written whole when not NULL. Samplers that draw token by token
     * count it exactly; the multinomial sampler draws each cell as a binomial of the pilot's
     * share; models that give counts directly (trace, expert choice) write every
     * assignment as its own token (no deduplication). */
    const int *node_of;
    int n_nodes;
    int64_t *node_tokens;
} route_draw;

/* For samplers: counts one token of source src whose k experts are chosen[0..k-1] into
 * d->node_tokens (nothing when it is NULL). */
void route_count_token_nodes(const route_draw *d, int src, const int *chosen, int k);
/* For samplers without per-token structure: node_tokens = assignments per node. */
void route_node_tokens_undeduplicated(const route_draw *d, const int64_t *counts);

typedef struct route_model {
    const char *name;
    size_t state_size;
    /* rng: the popularity stream (zipf rank shuffles, Dirichlet draws); in may be NULL. */
    sim_status (*init)(void *state, const scn_config *c, const route_input *in, gsl_rng *rng,
                       sim_err *err);
    void (*fini)(void *state);       /* safe after a failed init; may be NULL */
    /* The router's probabilities in (step, layer), before dynamics: p[n_experts], sum 1. */
    void (*probs)(void *state, int step, int layer, int n_experts, double *p);
    /* Optional: draws counts[n_src][n_experts] itself (and d->node_tokens when not NULL:
     * route_count_token_nodes per token, or route_node_tokens_undeduplicated without token
     * rows). Used only when no node constraint and no dynamics is active; NULL: the shared
     * top-k sampler draws from probs. */
    sim_status (*sample)(void *state, gsl_rng *rng, const route_draw *d, int64_t *counts);
} route_model;

extern const route_model route_uniform, route_zipf, route_dirichlet, route_hot, route_trace_model,
    route_expert_choice;
const route_model *route_model_find(const char *name);   /* NULL if unknown */

/* Node structure of one EP group for the constrained samplers. */
typedef struct route_nodes {
    int n_experts;
    const int *node_of;              /* [n_experts]: node (0-based within the group) */
    int node_limit;                  /* 0: none; else each token's experts on <= this many */
    int group_nodes;                 /* 0: none; else two-level over groups of this many */
} route_nodes;

/* The shared top-k sampler: for each of d->n_src sources and each of its tokens, k distinct
 * experts drawn one after another with probability proportional to p among those still
 * allowed (a Plackett-Luce / sequential draw without replacement, the law of Gumbel-top-k);
 * nodes may be NULL (no constraint). Writes counts[n_src][n_experts] whole. */
sim_status route_topk_sample(gsl_rng *rng, const route_draw *d, const route_nodes *nodes,
                             int64_t *counts);

/* The approximate sampler (routing.sampler = multinomial): pilot_tokens tokens drawn exactly
 * with route_topk_sample give each expert's expected share q_e of a source's T x k
 * assignments (the law of k distinct draws and any node constraint included), then each
 * source's row is one multinomial draw of T x k assignments over q. Per-token structure is
 * lost (a source may give one expert more than T tokens, with vanishing probability when
 * q_e << 1/k); marginals and totals are kept. docs/ROUTING.md gives its measured error. */
sim_status route_topk_sample_multinomial(gsl_rng *rng, const route_draw *d,
                                         const route_nodes *nodes, int64_t pilot_tokens,
                                         int64_t *counts);
/* Its two halves: the pilot's estimate q[n_experts] of each expert's share of a source's
 * assignments (sums to 1), and one multinomial row per source drawn from q. The router
 * draws one pilot per step and layer and reuses it for every EP group and micro-batch: they
 * share the probabilities and the node structure, so their q is the same in law. */
sim_status route_topk_pilot(gsl_rng *rng, const route_draw *d, const route_nodes *nodes,
                            int64_t pilot_tokens, double *q);
sim_status route_multinomial_rows(gsl_rng *rng, const route_draw *d, const double *q,
                                  int64_t *counts);
/* The shares the pilot estimates, exactly, where they have a closed form (no node
 * constraint): with top-1 each expert's share is its probability; with every probability
 * equal it is 1 / n_experts by symmetry. Node shares (d->node_tokens): the probability that
 * a token touches the node: its experts' probability mass with top-1, 1 - C(E-m, k) / C(E, k)
 * for m experts there with equal probabilities. Returns 1 with q written, 0 when there is
 * no closed form (the pilot is needed). */
int route_exact_shares(const route_draw *d, double *q);
/* With d->node_tokens: the pilot also gives r[n_nodes], the share of tokens touching each
 * node (route_topk_pilot writes it to q + n_experts: q has n_experts + n_nodes entries), and
 * the rows draw each source's node tokens as binomials (T, r_n). */

/* One step's routing for the whole cluster, after capacity dropping and placement. */
typedef struct route_result {
    int n_layers, n_gpus, n_experts, ep;
    int64_t tokens_per_gpu;
    int64_t *counts;       /* [layer][gpu][expert]: assignments from gpu kept for expert */
    int64_t *dropped;      /* [layer][gpu][expert]: assignments from gpu dropped */
    /* Placement (models/place.h). n_slots = 0: no slot table, slot = expert and experts
     * lie contiguously, E/ep per GPU. Otherwise every EP group has n_slots expert slots,
     * n_slots/ep per GPU (slot i on EP rank i / (n_slots/ep)), each holding one replica. */
    int n_slots;
    int *slot_expert;      /* [layer][n_slots]: expert in each slot, -1 empty */
    int64_t *slot_counts;  /* [layer][gpu][n_slots]: kept assignments from gpu to each slot */
    /* Deduplicated dispatch (route_draw.node_tokens): [layer][gpu][n_nodes] tokens from gpu
     * with at least one kept expert on node n of its EP group, or NULL (n_nodes = 0) when
     * experts are replicated (placement.spare_slots > 0). After capacity drops each cell is
     * scaled by the kept share of its assignments. */
    int n_nodes;
    int64_t *node_tokens;
} route_result;

/* Slots per EP group, and the row of assignments source gpu sends to each slot in layer l
 * (the step builder reads placement only through these). */
static inline int route_slots(const route_result *r)
{
    return r->n_slots ? r->n_slots : r->n_experts;
}
static inline const int64_t *route_slot_row(const route_result *r, int l, int gpu)
{
    size_t row = (size_t)l * r->n_gpus + gpu;
    return r->n_slots ? r->slot_counts + row * r->n_slots : r->counts + row * r->n_experts;
}

/* Expert capacity per EP group, step and layer: ceil(C x group_tokens x k / E);
 * INT64_MAX when C = 0 (dropless). */
int64_t route_capacity(double capacity_factor, int64_t group_tokens, int top_k, int n_experts);

/* Keeps at most cap of the assignments in column `expert` of counts[n_src][n_experts],
 * choosing which uniformly at random (multivariate hypergeometric); writes what each
 * source lost into dropped (same shape). */
void route_apply_capacity(gsl_rng *rng, int n_src, int n_experts, int expert, int64_t cap,
                          int64_t *counts, int64_t *dropped);

void route_result_fini(route_result *r);

/* ---- the router: a model, its state, dynamics, cold experts, placement ---- */

typedef struct route_router route_router;

/* rng: the popularity stream (used only here, at creation). SIM_EINPUT when the scenario
 * and the trace disagree; SIM_ENOMEM. */
sim_status route_router_new(const scn_config *c, const route_input *in, gsl_rng *rng,
                            route_router **out, sim_err *err);
void route_router_free(route_router *rt);                 /* NULL: no-op */

/* Draws step `step` (steps are drawn in order 0, 1, ...): routing from rng, capacity drops
 * from drop_rng (a separate stream, so the routing does not change with the capacity
 * factor), then the placement. out is allocated here; free with route_result_fini. */
sim_status route_router_sample(route_router *rt, int step, gsl_rng *rng, gsl_rng *drop_rng,
                               route_result *out, sim_err *err);

/* The balanced counterfactual: every source sends every expert tokens x k / E (the
 * remainder spread so that expert totals differ by at most one), with the same capacity
 * and home placement but no replicas (spare slots stay empty: a balanced load needs none);
 * drop_rng only draws which sources lose assignments when C < 1. */
sim_status route_router_balanced(route_router *rt, gsl_rng *drop_rng, route_result *out,
                                 sim_err *err);

/* The probabilities the router used in the last sampled step for layer l: [n_experts]. */
const double *route_router_probs(const route_router *rt, int layer);

/* Feeds the realized routing of the step just sampled back: updates the cold-expert
 * counters, then the dynamics for the next step (drift draws from dyn_rng). cold (may be
 * NULL) receives [n_layers][n_experts] flags: 1 if the expert has been cold for
 * routing.cold_steps consecutive steps up to and including this one. */
void route_router_observe(route_router *rt, const route_result *r, gsl_rng *dyn_rng,
                          uint8_t *cold);
/* The same from the step's routed assignments (kept + dropped) per layer and expert,
 * routed[n_layers][n_experts], e.g. summed over a step's micro-batches. */
void route_router_observe_loads(route_router *rt, const double *routed, gsl_rng *dyn_rng,
                                uint8_t *cold);

/* ---- metrics of one layer of one step ---- */

typedef struct route_layer_stats {
    double max_mean_load;    /* worst EP group: most loaded expert's routed assignments / mean */
    double max_mean_gpu;     /* worst EP group: most loaded GPU's kept expert tokens / mean */
    double cv;               /* std / mean of routed assignments per expert (cluster-wide) */
    double entropy;          /* -sum f ln f / ln E, f = routed shares; 1 = uniform */
    double aux_loss;         /* Switch aux loss E x sum f_i P_i (P = router probabilities) */
    double dropped_fraction; /* dropped / routed assignments */
    int cold_experts;        /* experts flagged cold (cold may be NULL: 0) */
} route_layer_stats;

/* Metrics of layer l. P: [n_experts] router probabilities; cold: [n_experts] flags or NULL;
 * gpu_tokens (may be NULL): [n_gpus] kept assignments each GPU's experts process. */
void route_layer_metrics(const route_result *r, int l, const double *P, const uint8_t *cold,
                         route_layer_stats *out, int64_t *gpu_tokens);

#endif
