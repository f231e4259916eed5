/* models/memory.h: the memory one GPU needs to train a model under a given parallelism:
 * weights, gradients, optimizer state (with ZeRO sharding), activations (with or without
 * recomputation), all-to-all buffers and a framework reserve, against the GPU's capacity.
 *
 * Not fitting is a result (fits = 0 and a message saying by how much and what dominates),
 * never an error. The parallel degrees come in a mem_parallel (mem_parallel_of: the
 * scenario's, models/par.h). Formulas and their approximations: docs/MODEL.md,
 * "Memory footprint". No I/O, no allocation. */
#ifndef MODELS_MEMORY_H
#define MODELS_MEMORY_H

#include "models/scenario.h"

#define MEM_PART_TABLE(X)                  \
    X(MEM_WEIGHTS, "weights")              \
    X(MEM_GRADS, "gradients")              \
    X(MEM_OPTIMIZER, "optimizer")          \
    X(MEM_ACTIVATIONS, "activations")      \
    X(MEM_A2A, "a2a_buffers")              \
    X(MEM_RESERVE, "reserve")

typedef enum {
#define MEM_X_ENUM(e, n) e,
    MEM_PART_TABLE(MEM_X_ENUM)
#undef MEM_X_ENUM
    MEM_N_PARTS
} mem_part;

extern const char *const mem_part_names[MEM_N_PARTS];

/* Bytes per parameter of the mixed-precision Adam recipe (ZeRO paper, Rajbhandari et al.
 * 2020, section 3.1: 2 + 2 + 12 = 16 bytes per parameter). */
#define MEM_WEIGHT_BYTES 2.0       /* bf16 weights (fp8 GEMMs cast on the fly) */
#define MEM_GRAD_BYTES 2.0         /* bf16 gradients, as the step reduces them */
#define MEM_OPTIM_BYTES 12.0       /* fp32 master weights + Adam first and second moments */

typedef struct mem_parallel {
    int tp;                  /* tensor-parallel degree (shards every weight and activation) */
    int pp;                  /* pipeline stages (each holds layers / pp layers) */
    int ep;                  /* expert-parallel degree */
    int dp;                  /* data-parallel degree of the non-expert weights */
    int edp;                 /* expert-data-parallel degree: replicas of each expert */
    double in_flight;        /* micro-batches whose activations a stage holds at once (in
                              * units of its layers: interleaved chunks count 1 / vpp) */
} mem_parallel;

typedef struct mem_footprint {
    double part_bytes[MEM_N_PARTS];
    double total_bytes;
    double capacity_bytes;         /* the GPU's HBM */
    int fits;                      /* total_bytes <= capacity_bytes */
    int dp, edp;
    double dense_params_per_gpu;   /* non-expert parameters held (before ZeRO-3) */
    double expert_params_per_gpu;
    double act_bytes_per_layer;    /* one micro-batch, one MoE layer (or dense if no MoE) */
    char message[256];             /* "" when it fits */
} mem_footprint;

/* The parallelism the scenario describes (models/par.h): its tp, pp, ep, dp, edp, and the
 * activations stage 0 holds at the peak of its schedule: warm-up passes + 1, capped by the
 * passes there are (1F1B: min(pp, micro-batches)), in micro-batches of its layers. */
void mem_parallel_of(const scn_config *c, mem_parallel *p);

/* Footprint of one GPU; par NULL = mem_parallel_of(c). c must be resolved (scn_resolve). */
void mem_footprint_of(const scn_config *c, const mem_parallel *par, mem_footprint *out);

#endif
