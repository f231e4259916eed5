/* models/step.h: one training step as a task graph, simulated.
 *
 * From a resolved scenario and one step's routing, builds the task graph of a forward and
 * backward pass of every layer on every GPU (attention, router, dispatch all-to-all, expert
 * GEMMs from each GPU's own token counts, combine all-to-all), then the ring all-reduce of
 * the gradients, runs it on the engine, and attributes the step time to categories along
 * the critical path. The cost formulas are documented in docs/MODEL.md. */
#ifndef MODELS_STEP_H
#define MODELS_STEP_H

#include <stdint.h>

#include "models/gemm.h"
#include "models/route.h"
#include "models/scenario.h"
#include "sim/engine.h"

/* X(enum, name) in the order reports list them. */
#define STEP_CATEGORY_TABLE(X)              \
    X(STEP_CAT_ATTENTION, "attention")      \
    X(STEP_CAT_EXPERT, "expert_gemm")       \
    X(STEP_CAT_OTHER, "other_compute")      \
    X(STEP_CAT_DISPATCH, "dispatch")        \
    X(STEP_CAT_COMBINE, "combine")          \
    X(STEP_CAT_GRAD, "grad_reduce")         \
    X(STEP_CAT_IDLE, "idle")

typedef enum {
#define STEP_X_ENUM(e, n) e,
    STEP_CATEGORY_TABLE(STEP_X_ENUM)
#undef STEP_X_ENUM
    STEP_N_CAT
} step_category;

extern const char *const step_category_names[STEP_N_CAT];

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
    int n_gpus;
    double *gpu_busy_s;               /* [n_gpus] compute-stream busy time; owned */
    double tokens;                    /* tokens in the step, whole cluster */
    double dropped;                   /* token-expert assignments dropped */
    double max_mean_load;             /* max over layers and EP groups of max/mean load */
    step_span *spans;                 /* every task, when asked for (step_opts); owned */
    size_t n_spans;
    /* the busiest links of the step, most bytes first (at most STEP_MAX_LINKS; 0 until the
     * engine reports link usage) */
    step_link links[STEP_MAX_LINKS];
    int n_links;
} step_result;

/* Simulates one step with the given routing (r must match c's shape). */
/* What to simulate with beyond the scenario and routing. */
typedef struct step_opts {
    const gemm_calib *calib;          /* measured GEMM times, or NULL */
    int keep_spans;                   /* fill step_result.spans */
} step_opts;

sim_status step_simulate_opts(const scn_config *c, const route_result *r, const step_opts *o,
                              step_result *out, sim_err *err);
sim_status step_simulate(const scn_config *c, const route_result *r, step_result *out,
                         sim_err *err);
/* The same, with GEMM times taken from a calibration table where it has them (NULL: none). */
sim_status step_simulate_calibrated(const scn_config *c, const route_result *r,
                                    const gemm_calib *calib, step_result *out, sim_err *err);
void step_result_fini(step_result *s);                /* frees gpu_busy_s and spans */

/* Non-expert (replicated) and per-GPU expert parameter counts, as the step reduces them. */
double step_dense_params(const scn_config *c);
double step_expert_params_per_gpu(const scn_config *c);

#endif
