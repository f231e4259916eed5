/* models/par.h: how a training job is laid out on the cluster.
 *
 * The world of GPUs is tp x pp x dp (tensor, pipeline and data parallel). Expert parallelism
 * lives inside each pipeline stage's plane of tp x dp GPUs, as Megatron-Core folds it: the
 * plane index of a GPU is q = tp_rank + tp x dp_rank, and EP group k of a stage is the ep
 * GPUs with plane indices k x ep .. k x ep + ep - 1 (so TP ranks, then EP ranks, are
 * neighbours); the experts themselves are not tensor-parallel. The expert-data-parallel
 * group of a GPU is the tp x dp / ep GPUs of its stage with the same EP rank.
 *
 * Which GPU holds which (tp, dp, pp) rank follows parallel.order, fastest-varying first:
 * the default tp-dp-pp puts the tensor-parallel ranks, then the expert- and data-parallel
 * ranks, side by side inside a node, and the pipeline stages outermost.
 *
 * Layers are cut into pp x vpp model chunks of consecutive layers; chunk c runs on stage
 * c mod pp. When they do not divide evenly, chunks get floor or ceil of L / chunks layers
 * and the smaller chunks go to the ends first (the first chunk, the last, the second, ...),
 * where the embedding and the output layer already add work, as Megatron's uneven first and
 * last stages do.
 *
 * The schedule says in which order a stage runs the forward and backward passes of its
 * (micro-batch, chunk) pairs: 1F1B (PipeDream-flush) or Megatron's interleaved 1F1B.
 * Pure functions of a resolved scenario; no I/O. */
#ifndef MODELS_PAR_H
#define MODELS_PAR_H

#include <stdint.h>

#include "models/scenario.h"

enum { PAR_TP, PAR_DP, PAR_PP };

typedef struct par_layout {
    int world, tp, pp, dp, ep, edp, vpp;
    int plane;                  /* tp x dp GPUs per pipeline stage */
    int sim_plane;              /* plane indices simulated: plane, or with run.replicas = R
                                 * (an explicit reduction) the first R x ep; the others are
                                 * represented by the simulated GPU of plane index q mod
                                 * sim_plane */
    int n_chunks;               /* pp x vpp */
    int n_micro;                /* micro-batches per step on every DP rank */
    int64_t tokens_per_micro;   /* micro_batch x seq_len: one micro-batch of one DP rank */
    int64_t tokens_per_src;     /* tokens_per_micro / tp: what one GPU routes (sequence
                                 * parallelism shards the tokens over the TP ranks) */
    int order[3];               /* PAR_TP/DP/PP, fastest-varying first */
    int stride[3];              /* GPU-index stride of each dimension */
    int interleaved;
} par_layout;

/* The layout of a resolved scenario (scn_resolve has checked that it divides). */
void par_layout_of(const scn_config *c, par_layout *p);

/* The GPU of plane index q (tp_rank + tp x dp_rank) in pipeline stage s. */
static inline int par_gpu(const par_layout *p, int s, int q)
{
    int tp_rank = q % p->tp, dp_rank = q / p->tp;
    return tp_rank * p->stride[PAR_TP] + dp_rank * p->stride[PAR_DP] + s * p->stride[PAR_PP];
}
/* The stage and plane index of GPU g. */
void par_coords(const par_layout *p, int g, int *stage, int *q);

/* Layers of chunk c: first[c] .. first[c + 1] - 1 (first has n_chunks + 1 entries). */
void par_chunk_layers(const par_layout *p, int n_layers, int *first);

/* The pipeline stage that holds layer l. */
int par_layer_stage(const par_layout *p, int n_layers, int l);

/* One pass of a stage's schedule: forward or backward of one micro-batch through one of
 * the stage's model chunks (virtual index v: global chunk v x pp + stage). */
typedef struct par_op {
    int8_t forward;
    int16_t v;
    int32_t micro;
} par_op;

/* The schedule of stage s: 2 x n_micro x vpp ops into ops[] (every micro-batch and chunk
 * forward once and backward once, each backward after its forward). */
void par_schedule(const par_layout *p, int s, par_op *ops);
/* Forward passes a stage runs before its first backward (the warm-up), as Megatron
 * computes it; stage 0 holds this many (micro-batch, chunk) activations at once, plus one. */
int par_warmup(const par_layout *p, int s);

/* The nodes that EP group 0 of stage 0 spans: writes node_of[ep] (may be NULL), the node of
 * each EP rank numbered 0, 1, ... in order of first appearance, and returns the number of
 * nodes; -1 when some EP group's nodes do not hold equally many of its ranks, when groups
 * span different numbers of nodes, or when a group spans more than 64 nodes. */
int par_ep_nodes(const par_layout *p, int gpus_per_node, int *node_of);

/* "tp-dp-pp" etc. -> order[3]; 0, or -1 when the text is not one of the six orders. */
int par_order_parse(const char *text, int order[3]);
extern const char par_order_names[];       /* "|"-separated, for the key table */

#endif
