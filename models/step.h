/* models/step.h: one training step as a task graph, simulated.
 *
 * From a resolved scenario and the routing of each micro-batch, builds the task graph of a
 * whole step on every GPU (models/par.h lays out TP x PP x DP, EP inside each stage): each
 * pipeline stage runs its schedule of forward and backward passes over its model chunks;
 * every layer is attention (with tensor-parallel all-gather / reduce-scatter when TP > 1)
 * and an MoE block (router, dispatch all-to-allv over the EP group with the bytes the
 * routing produced, grouped expert GEMMs from each GPU's own token counts, combine,
 * unpermute; shared experts beside the dispatch) or a dense FFN; activations and their
 * gradients travel between stages as point-to-point flows; in the last micro-batch's
 * backward, gradient buckets are reduced over the data-parallel (dense) and
 * expert-data-parallel (experts) groups as soon as they are ready; then the optimizer step
 * and, with ZeRO, the parameter all-gather. The engine runs it and the step time is
 * attributed to categories along the critical path. Costs and rules: docs/MODEL.md. */
#ifndef MODELS_STEP_H
#define MODELS_STEP_H

#include <stdint.h>

#include "models/gemm.h"
#include "models/route.h"
#include "models/scenario.h"
#include "sim/engine.h"

/* X(enum, name) in the order reports list them. pipeline_bubble tags no task: it is the
 * part of the critical path spent on other pipeline stages than the one that finished last
 * (fill and drain), see docs/MODEL.md "Breakdown". */
#define STEP_CATEGORY_TABLE(X)              \
    X(STEP_CAT_ATTENTION, "attention")      \
    X(STEP_CAT_EXPERT, "expert_gemm")       \
    X(STEP_CAT_OTHER, "other_compute")      \
    X(STEP_CAT_DISPATCH, "dispatch")        \
    X(STEP_CAT_COMBINE, "combine")          \
    X(STEP_CAT_TP, "tp_comm")               \
    X(STEP_CAT_PP, "pp_comm")               \
    X(STEP_CAT_GRAD, "grad_reduce")         \
    X(STEP_CAT_OPTIM, "optimizer")          \
    X(STEP_CAT_BUBBLE, "pipeline_bubble")   \
    X(STEP_CAT_IDLE, "idle")

typedef enum {
#define STEP_X_ENUM(e, n) e,
    STEP_CATEGORY_TABLE(STEP_X_ENUM)
#undef STEP_X_ENUM
    STEP_N_CAT
} step_category;

extern const char *const step_category_names[STEP_N_CAT];

/* 1 for the categories of communication (dispatch, combine, tp, pp, grad). */
int step_category_is_comm(int category);

/* One finished task of a step, for traces and timelines. */
typedef struct step_span {
    int32_t gpu;          /* the GPU computing, or the sender of a flow */
    int16_t category;     /* step_category */
    int8_t is_flow;       /* 0: compute stream, 1: a message on the network */
    sim_time start, end;  /* picoseconds from the start of the step */
    double bytes;         /* flows only */
} step_span;

/* Utilization of one link in a step (the busiest links are kept, see step_result). */
typedef struct step_link {
    char name[64];                    /* the link in words, e.g. "node 0 GPU 3 NIC up" */
    double capacity_bytes_per_s;      /* after efficiency */
    double bytes;                     /* carried during the step */
    double busy_s;                    /* time with at least one flow moving bytes over it */
} step_link;

#define STEP_MAX_LINKS 32

typedef struct step_result {
    sim_time step_time;
    sim_time breakdown[STEP_N_CAT];   /* sums to step_time exactly */
    uint64_t events;
    size_t n_tasks;                   /* tasks of the graph (compute, flows, joins) */
    int n_gpus;
    double *gpu_busy_s;               /* [n_gpus] compute-stream busy time; owned */
    double comm_s;                    /* mean over GPUs: time with any of its sends in flight */
    double comm_overlapped_s;         /* ... of which its compute stream was busy too */
    double tokens;                    /* tokens in the step, whole cluster */
    double dropped;                   /* token-expert assignments dropped */
    double max_mean_load;             /* max over micro-batches, layers, EP groups */
    step_span *spans;                 /* every task, when asked for (step_opts); owned */
    size_t n_spans;
    /* the links that carried the most bytes in the step, most first (at most
     * STEP_MAX_LINKS; sim_engine_link_usage, names from topo_link_name) */
    step_link links[STEP_MAX_LINKS];
    int n_links;
} step_result;

/* The routing of one step, condensed for the builder: for every micro-batch, layer and EP
 * group, the tokens each GPU of the group sends each other one (dispatch; the combine
 * returns them) and the tokens of every expert slot on every GPU. Filled micro-batch by
 * micro-batch from route_result's over the plane of tp x dp GPUs (models/par.h); a layer's
 * plane index q is GPU par_gpu(stage of the layer, q). */
typedef struct step_routing step_routing;

sim_status step_routing_new(const scn_config *c, step_routing **out, sim_err *err);
void step_routing_free(step_routing *s);               /* NULL: no-op */
/* Stores micro-batch mb's routing (r must match the plane: n_gpus = tp x dp, ep, layers,
 * experts). r is only read. */
void step_routing_set(step_routing *s, int mb, const route_result *r);

/* What to simulate with beyond the scenario and routing. */
typedef struct step_opts {
    const gemm_calib *calib;          /* measured GEMM times, or NULL */
    int keep_spans;                   /* fill step_result.spans */
    int span_gpus;                    /* ... with the tasks of GPUs below this only (0: all) */
    sim_progress_fn *progress;        /* engine progress (tasks done of all), or NULL */
    void *progress_ctx;
} step_opts;

/* Simulates one step; every micro-batch must have been set. */
sim_status step_simulate_routing(const scn_config *c, const step_routing *sr,
                                 const step_opts *o, step_result *out, sim_err *err);
/* The same with one routing r used for every micro-batch (tests, the balanced
 * counterfactual); o may be NULL. */
sim_status step_simulate(const scn_config *c, const route_result *r, const step_opts *o,
                         step_result *out, sim_err *err);
void step_result_fini(step_result *s);                /* frees gpu_busy_s and spans */

#endif
