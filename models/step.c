/* models/step.c: the training-step task graph (see models/step.h and docs/MODEL.md).
 *
 * Building: every pipeline stage has its schedule of passes (models/par.h); passes are
 * added stage by stage, each as far as its inputs from other stages exist, so the graph
 * grows in the order the pipeline runs. A pass adds, layer by layer, the tasks of every GPU
 * of the stage's plane. Each GPU has one compute stream; its tasks form a chain (`prev`).
 * A collective that blocks the chain leaves its done task in `gate`, which the next task of
 * the chain waits for; collectives that overlap compute (dispatch beside shared experts,
 * gradient buckets, parameter gathers) keep their own done tasks instead. */
#include "models/step.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/arch.h"
#include "models/coll.h"
#include "models/gemm.h"
#include "models/hw.h"
#include "models/par.h"
#include "models/topo.h"
#include "sim/alloc.h"
#include "sim/net.h"

const char *const step_category_names[STEP_N_CAT] = {
#define STEP_X_NAME(e, n) n,
    STEP_CATEGORY_TABLE(STEP_X_NAME)
#undef STEP_X_NAME
};

int step_category_is_comm(int cat)
{
    return cat == STEP_CAT_DISPATCH || cat == STEP_CAT_COMBINE || cat == STEP_CAT_TP ||
           cat == STEP_CAT_PP || cat == STEP_CAT_GRAD;
}

#define DTYPE_BYTES 2     /* bf16 activations, weights and gradients */
#define ADAM_BYTES 28.0   /* per parameter: read fp32 master, m, v and the bf16 gradient
                           * (14 B), write master, m, v and the bf16 weight (14 B) */

/* ------------------------------------------------------------------ routing, condensed */

struct step_routing {
    int n_micro, L, G, ep, spg;   /* G: EP groups per plane; spg: expert slots per GPU */
    int first_moe;                /* layers below are dense: their draws route nothing */
    int n_nodes;                  /* nodes of an EP group with a deduplicating dispatch; 0 */
    int rank_node[4096];          /* node (0..n_nodes-1) of each EP rank, when n_nodes > 0 */
    size_t cell;                  /* ep * ep (matrix) + ep * spg (slot tokens) + ep * n_nodes
                                   * (tokens per source and node) */
    int64_t *data;                /* [n_micro][L][G][cell] */
    uint8_t *set;                 /* [n_micro] */
    double dropped, max_mean_load;
};

sim_status step_routing_new(const scn_config *c, step_routing **out, sim_err *err)
{
    par_layout p;
    par_layout_of(c, &p);
    step_routing *s = sim_calloc(1, sizeof *s);
    if (!s)
        return sim_err_set(err, SIM_ENOMEM, "out of memory (step routing)");
    s->n_micro = p.n_micro;
    s->L = c->model.layers;
    s->first_moe = c->model.dense_layers < s->L ? c->model.dense_layers : s->L;
    s->G = p.sim_plane / p.ep;
    s->ep = p.ep;
    int slots = c->placement.spare_slots > 0 || strcmp(c->placement.policy, "contiguous") != 0
                    ? p.ep * (c->model.experts / p.ep + c->placement.spare_slots)
                    : c->model.experts;
    s->spg = slots / p.ep;
    /* the router's rule (models/route_router.c): dedup counts when the group spans several
     * nodes evenly and no expert is replicated */
    int nodes = p.ep <= 4096 ? par_ep_nodes(&p, c->cluster.gpus_per_node, s->rank_node) : -1;
    s->n_nodes = nodes > 1 && c->placement.spare_slots == 0 ? nodes : 0;
    s->cell = (size_t)p.ep * p.ep + (size_t)p.ep * s->spg + (size_t)p.ep * s->n_nodes;
    size_t n = (size_t)s->n_micro * s->L * s->G * s->cell;
    s->data = sim_calloc(n ? n : 1, sizeof *s->data);
    s->set = sim_calloc((size_t)s->n_micro, 1);
    if (!s->data || !s->set) {
        step_routing_free(s);
        return sim_err_set(err, SIM_ENOMEM, "out of memory (step routing: %zu cells)", n);
    }
    *out = s;
    return SIM_OK;
}

void step_routing_free(step_routing *s)
{
    if (!s)
        return;
    sim_free(s->data);
    sim_free(s->set);
    sim_free(s);
}

static int64_t *routing_cell(const step_routing *s, int mb, int l, int group)
{
    return s->data + (((size_t)mb * s->L + l) * s->G + group) * s->cell;
}

void step_routing_set(step_routing *s, int mb, const route_result *r)
{
    assert(mb >= 0 && mb < s->n_micro);
    assert(r->n_layers == s->L && r->ep == s->ep && r->n_gpus == s->G * s->ep &&
           route_slots(r) == s->ep * s->spg && (r->n_nodes == s->n_nodes || !r->node_tokens));
    const int ep = s->ep, spg = s->spg, E = r->n_experts;
    const size_t per_layer = (size_t)r->n_gpus * E;
    for (int l = 0; l < s->L; l++)
        for (int k = 0; k < s->G; k++) {
            int64_t *mat = routing_cell(s, mb, l, k), *loc = mat + (size_t)ep * ep;
            int64_t *nt = loc + (size_t)ep * spg;
            memset(mat, 0, s->cell * sizeof *mat);
            for (int i = 0; i < ep; i++) {
                const int64_t *row = route_slot_row(r, l, k * ep + i);
                for (int j = 0; j < ep; j++)
                    for (int e = j * spg; e < (j + 1) * spg; e++) {
                        mat[(size_t)i * ep + j] += row[e];
                        loc[e] += row[e];
                    }
                if (s->n_nodes && r->node_tokens)
                    memcpy(nt + (size_t)i * s->n_nodes,
                           r->node_tokens + ((size_t)l * r->n_gpus + k * ep + i) * s->n_nodes,
                           (size_t)s->n_nodes * sizeof *nt);
                else
                    for (int j = 0; j < ep && s->n_nodes; j++)   /* no token rows: no dedup */
                        nt[(size_t)i * s->n_nodes + s->rank_node[j]] += mat[(size_t)i * ep + j];
            }
            /* load and drops of the group: routed = kept + dropped per expert (MoE layers) */
            if (l < s->first_moe)
                continue;
            double max = 0, sum = 0;
            for (int e = 0; e < E; e++) {
                double load = 0;
                for (int i = 0; i < ep; i++) {
                    size_t at = l * per_layer + (size_t)(k * ep + i) * E + e;
                    load += (double)(r->counts[at] + r->dropped[at]);
                    s->dropped += (double)r->dropped[at];
                }
                sum += load;
                max = fmax(max, load);
            }
            if (sum > 0)
                s->max_mean_load = fmax(s->max_mean_load, max / (sum / E));
        }
    s->set[mb] = 1;
}

/* ------------------------------------------------------------------ the builder */

/* Per-token block costs of one micro-batch on one GPU (seconds, before straggler scaling),
 * [0] forward and [1] backward. */
typedef struct costs {
    double attn[2], attn_core_f;
    double router[2], unperm[2];
    double dense[2], shared[2];
    double embed, head[2];
} costs;

/* A point of a chunk's backward after which gradient buckets are reduced: after layer
 * `after_layer` (or, -1, at the end of the chunk's backward), `dense` bytes over the
 * data-parallel group and `expert` bytes over the expert-data-parallel group. */
typedef struct flush {
    int after_layer;
    double dense, expert;
} flush;

typedef struct ctx {
    const scn_config *c;
    const step_routing *sr;
    par_layout p;
    sim_engine *e;
    topo t;
    gemm_device dev;
    const gemm_model *gm;
    const gemm_calib *calib;
    const coll_algo *a2a, *allreduce, *rs, *ag;
    int dt;               /* GEMM operand bytes: 2 bf16, 1 fp8 */
    int n, L, C, M;       /* GPUs, layers, chunks, micro-batches */
    int64_t T, Ts;        /* tokens of a micro-batch (TP group), routed per GPU */
    costs k;
    int *first;           /* [C + 1] first layer of each chunk */
    int *stage_of_gpu;    /* [n] */
    double *slow;         /* [n] 1 / speed factor */
    sim_id *stream;       /* [n] compute stream */
    sim_id *prev;         /* [n] last task of the compute chain */
    sim_id *gate;         /* [n] what the next chain task also waits for, or -1 */
    sim_id *dpc;          /* [n] last task of the gradient / parameter comm stream */
    sim_id *done;         /* [n] scratch: done tasks of the last collective, by GPU */
    sim_id *a2a_done;     /* [n] the dispatch, while shared experts overlap it */
    sim_id *side_done;    /* [n] shared experts' reduce-scatter, while overlapping */
    sim_id *pref, *pref_cur; /* [n] ZeRO-3 gathers: the one just issued, the one in use */
    sim_id *handoff;      /* [M][C][2][plane] the flow into the next chunk */
    sim_id *gather;       /* [n_flush_total][n] ZeRO >= 1 + overlap: parameter all-gathers */
    int *gpus;            /* [n] scratch: GPUs of one collective */
    sim_id *after;        /* [n] scratch */
    sim_id *cdone;        /* [n] scratch */
    double *matrix;       /* [ep * ep] scratch */
    double *fscale;       /* [ep * ep] scratch: the fabric share of each pair (dedup) */
    int64_t *mbuf;        /* [spg] scratch */
    flush *flushes;       /* all chunks' flush points, chunk after chunk */
    int *flush_off;       /* [C + 1] */
    int *bucket_of_layer; /* [L] index into flushes of the bucket holding the layer */
    /* ring bundles (network.ring_bundles): their tasks in creation (= id) order and the
     * GPUs of their members, bundle i's in bgpus[boff[i] .. boff[i + 1]) */
    sim_id *btask;
    size_t *boff;
    int *bgpus;
    size_t n_b, cap_btask, cap_boff, cap_bgpus;
    sim_status bfail;     /* SIM_ENOMEM when the table could not grow */
} ctx;

/* coll_args.on_bundle: keeps the members of a ring bundle, whose record has one owner,
 * so that per-GPU figures (comm overlap, spans) count it on each member's GPU. */
static void note_bundle(void *arg, sim_id task, int n, const int *gpus)
{
    ctx *x = arg;
    size_t m = x->n_b ? x->boff[x->n_b] : 0;
    if (sim_grow((void **)&x->btask, &x->cap_btask, x->n_b + 1, sizeof *x->btask) ||
        sim_grow((void **)&x->boff, &x->cap_boff, x->n_b + 2, sizeof *x->boff) ||
        sim_grow((void **)&x->bgpus, &x->cap_bgpus, m + (size_t)n, sizeof *x->bgpus)) {
        x->bfail = SIM_ENOMEM;
        return;
    }
    assert(x->n_b == 0 || task > x->btask[x->n_b - 1]);
    if (x->n_b == 0)
        x->boff[0] = 0;
    x->btask[x->n_b] = task;
    memcpy(x->bgpus + m, gpus, (size_t)n * sizeof *gpus);
    x->boff[++x->n_b] = m + (size_t)n;
}

/* The GPUs record `task` counts on: a ring bundle's members, else its owner (*one).
 * Tasks must be asked in increasing order; *cur is the walk's position (start at 0). */
static const int *task_gpus(const ctx *x, sim_id task, const sim_record *r, size_t *cur,
                            int *one, int *n)
{
    while (*cur < x->n_b && x->btask[*cur] < task)
        ++*cur;
    if (*cur < x->n_b && x->btask[*cur] == task) {
        *n = (int)(x->boff[*cur + 1] - x->boff[*cur]);
        return x->bgpus + x->boff[*cur];
    }
    *one = r->owner;
    *n = 1;
    return one;
}

/* ---- costs (docs/MODEL.md "Step costs") ---- */

/* One GEMM with dt-byte operands (2 bf16, 1 fp8). */
static double gemm_dt(const ctx *x, int64_t m, int64_t n, int64_t k, int dt)
{
    if (x->calib)
        return gemm_calib_time_s(x->calib, x->gm, NULL, &x->dev, m, n, k, dt, NULL);
    return x->gm->time_s(NULL, &x->dev, m, n, k, dt);
}

/* One GEMM at the step's precision. */
static double gemm(const ctx *x, int64_t m, int64_t n, int64_t k)
{
    return gemm_dt(x, m, n, k, x->dt);
}

/* One grouped launch of the GEMMs m[g] x n x k (the local experts of a layer). With a
 * calibration table: the calibrated per-expert times, with one launch overhead. */
static double gemm_grouped(const ctx *x, int ng, const int64_t *m, int64_t n, int64_t k)
{
    if (!x->calib)
        return x->gm->grouped_time_s(NULL, &x->dev, ng, m, n, k, x->dt);
    double t = 0;
    int launches = 0;
    for (int g = 0; g < ng; g++)
        if (m[g] > 0)
            t += gemm(x, m[g], n, k), launches++;
    return launches ? t - (launches - 1) * x->dev.launch_s : 0.0;
}

/* Backward of the grouped forward GEMMs m[g] x n x k: the data gradients m[g] x k x n in one
 * grouped launch; the weight gradients k x n x m[g] (grouped over the reduction dimension)
 * costed as per-expert GEMMs sharing one launch overhead. */
static double gemm_grouped_bwd(const ctx *x, int ng, const int64_t *m, int64_t n, int64_t k)
{
    double t = gemm_grouped(x, ng, m, k, n), w = 0;
    int launches = 0;
    for (int g = 0; g < ng; g++)
        if (m[g] > 0)
            w += gemm(x, k, n, m[g]), launches++;
    return t + (launches ? w - (launches - 1) * x->dev.launch_s : 0.0);
}

static double mem(const ctx *x, double bytes) { return gemm_memory_kernel_s(&x->dev, bytes); }

/* fp8 GEMMs as Transformer Engine runs them: the forward casts the GEMM's input to fp8 with
 * a transposed copy for the weight gradient, the backward casts the output's gradient the
 * same way; each reads bf16 and writes two fp8 copies, 4 bytes per element of `elems`.
 * Nothing in bf16. (Weight casts, once per step, and the scaling-factor updates are not
 * costed: docs/MODEL.md.) */
static double cast_s(const ctx *x, int dt, double elems)
{
    return dt == 1 ? mem(x, 4.0 * elems) : 0.0;
}

/* forward GEMM m x n x k with dt-byte operands, and its backward: dgrad (m x k x n) + wgrad
 * (k x n x m); in fp8 with their casts */
static double gemm_fb_dt(const ctx *x, int64_t m, int64_t n, int64_t k, int backward, int dt)
{
    if (!backward)
        return gemm_dt(x, m, n, k, dt) + cast_s(x, dt, (double)m * k);
    return gemm_dt(x, m, k, n, dt) + gemm_dt(x, k, n, m, dt) + cast_s(x, dt, (double)m * n);
}

static double gemm_fb(const ctx *x, int64_t m, int64_t n, int64_t k, int backward)
{
    return gemm_fb_dt(x, m, n, k, backward, x->dt);
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Attention block on one TP rank: pre-norm over its Ts tokens, the projections over the
 * micro-batch's T tokens (sharded as arch_attn_gemm_tp says), the causal core over its
 * heads / tp heads. Backward costs each GEMM's dgrad + wgrad. The core is a fused (flash)
 * kernel at the bf16 peak (flash attention keeps bf16 in both precisions) times the
 * preset's measured attention efficiency; its backward does 2.5 x the forward's FLOPs (it
 * recomputes the scores: 5 matmuls to the forward's 2), as flash attention's benchmarks
 * count them. */
static double attention_core_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int tp = x->p.tp;
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    /* QK^T and PV over a mean context of s/2: per token heads x (qk + v head) x s FLOPs */
    double flops = (double)x->T * c->training.seq_len * (double)(c->model.heads / tp) *
                   (double)(a.qk_head + a.v_head) * (backward ? 2.5 : 1.0);
    double bytes = (double)x->T * (double)(a.q_dim + a.k_dim + a.v_dim + a.o_dim) / tp *
                   DTYPE_BYTES;
    double eff = backward ? x->dev.attn_bwd_efficiency : x->dev.attn_fwd_efficiency;
    return fmax(flops / (x->dev.peak_flops * eff),
                bytes / (x->dev.hbm_bytes_per_s * x->dev.mem_efficiency)) +
           x->dev.launch_s;
}

/* The sum of two Ts x d tensors (the sequence-parallel shard): reads both, writes the sum.
 * The residual add closing a block is one; its backward accumulates the two gradients at the
 * fork the same way. */
static double add_s(const ctx *x)
{
    return mem(x, 3.0 * x->Ts * x->c->model.hidden * DTYPE_BYTES);
}

/* Elementwise kernels on the queries and keys of the T tokens (read and write each):
 * rotary embeddings (GQA: the whole query and key heads; MLA: the rotary parts, heads x
 * qk_rope_dim of the query and the one shared key part), forward and backward alike; and the
 * per-head QK RMSNorm (twice in the backward, as the other norms). */
static double qk_elementwise_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int64_t tp = x->p.tp;
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    double t = 0, T2 = 2.0 * x->T * DTYPE_BYTES;
    if (c->model.rope) {
        int mla = arch_is_mla(c);
        double qr = mla ? (double)(c->model.heads / tp) * c->model.qk_rope_dim
                        : (double)a.q_dim / tp;
        double kr = mla ? (double)c->model.qk_rope_dim : (double)a.k_dim / tp;
        t += mem(x, T2 * qr) + mem(x, T2 * kr);
    }
    if (c->model.qk_norm)
        t += (backward ? 2 : 1) *
             (mem(x, T2 * (double)a.q_dim / tp) + mem(x, T2 * (double)a.k_dim / tp));
    return t;
}

static double attention_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int64_t d = c->model.hidden, tp = x->p.tp;
    int64_t gn[ARCH_MAX_ATTN_GEMMS], gk[ARCH_MAX_ATTN_GEMMS];
    int split[ARCH_MAX_ATTN_GEMMS];
    int ng = arch_attn_gemms(c, gn, gk);
    arch_attn_gemm_tp(c, split);
    double t = (backward ? 2 : 1) * mem(x, 2.0 * x->Ts * d * DTYPE_BYTES) +
               qk_elementwise_s(x, backward) + attention_core_s(x, backward) +
               add_s(x);
    for (int i = 0; i < ng; i++) {
        int64_t n = split[i] == ARCH_TP_COLUMN ? gn[i] / tp : gn[i];
        int64_t kk = split[i] == ARCH_TP_ROW ? gk[i] / tp : gk[i];
        t += gemm_fb(x, x->T, n, kk, backward);
    }
    return t;
}

/* A dense FFN of width f (dense layers; the shared experts fused into one FFN) on one TP
 * rank: [pre-norm over Ts tokens,] up (or gate+up) projection, activation, down projection
 * over the T tokens, f / tp columns[, the residual add closing a dense layer]. */
static double ffn_s(const ctx *x, int64_t f, int with_norm, int backward)
{
    const scn_config *c = x->c;
    int64_t d = c->model.hidden, T = x->T, fl = f / x->p.tp;
    int64_t up = c->model.swiglu ? 2 * fl : fl;
    double norm = with_norm ? mem(x, 2.0 * x->Ts * d * DTYPE_BYTES) : 0.0;
    double act = (double)T * fl * (c->model.swiglu ? 3 : 2) * DTYPE_BYTES;
    return (backward ? 2 : 1) * norm + gemm_fb(x, T, up, d, backward) +
           (backward ? 2 : 1) * mem(x, act) + gemm_fb(x, T, d, fl, backward) +
           (with_norm ? add_s(x) : 0.0);
}

/* Final norm, the vocabulary-parallel output layer T x vocab/tp x d, and the loss over its
 * T x vocab/tp logits as Megatron-Core's vocab_parallel_cross_entropy computes it, one
 * kernel per pass over the logits, bytes per logit: forward the fp32 copy of the bf16 logits
 * (2 + 4), their maximum (4), minus the maximum (4 + 4), exp (4 + 4), the sum (4), the
 * division into the softmax kept for the backward (4 + 4); backward the product with the
 * loss's gradient (4 + 4) and the cast back to bf16 for the output layer (4 + 2). */
static double head_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int64_t d = c->model.hidden, V = ceil_div(c->model.vocab, x->p.tp);
    static const double fwd[] = {6, 4, 8, 8, 4, 8}, bwd[] = {8, 6};
    double logits = (double)x->T * V, loss = 0;
    for (int i = 0; i < (backward ? 2 : 6); i++)
        loss += mem(x, logits * (backward ? bwd[i] : fwd[i]));
    return (backward ? 2 : 1) * mem(x, 2.0 * x->Ts * d * DTYPE_BYTES) +
           gemm_fb_dt(x, x->T, V, d, backward, DTYPE_BYTES) + loss;
}

/* Router over the GPU's Ts tokens: pre-FFN norm, router GEMM (d -> E), the scores' softmax
 * and top-k (reads the bf16 logits, writes fp32 probabilities, the k chosen probabilities
 * and their int64 indices), the load-balancing loss (reads the probabilities and the 1-byte
 * routing map), permute of the k copies of each token. Backward: the softmax's gradient
 * (reads the probabilities and their gradient, writes the logits' gradient, fp32) and the
 * loss's gradient (writes one fp32 per score). */
static double router_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int64_t d = c->model.hidden, Ts = x->Ts;
    double scores = (double)Ts * c->model.experts;
    double route = backward ? mem(x, scores * 12.0) + mem(x, scores * 4.0)
                            : mem(x, scores * (2.0 + 4.0) + (double)Ts * c->model.top_k * 12.0) +
                                  mem(x, scores * (4.0 + 1.0));
    return (backward ? 2 : 1) * mem(x, 2.0 * Ts * d * DTYPE_BYTES) +
           gemm_fb_dt(x, Ts, c->model.experts, d, backward, DTYPE_BYTES) + route +
           mem(x, 2.0 * Ts * c->model.top_k * d * DTYPE_BYTES);
}

/* After the combine: unpermute (the k weighted copies of each token summed back, read and
 * write) and the residual add closing the MoE layer; forward, with shared experts, also the
 * add of their output to the routed one (a sum's gradient is a copy: no kernel backward). */
static double unpermute_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    double shared = c->model.shared_experts > 0 && !backward ? add_s(x) : 0.0;
    return mem(x, 2.0 * x->Ts * c->model.top_k * c->model.hidden * DTYPE_BYTES) + shared +
           add_s(x);
}

static void costs_of(ctx *x)
{
    const scn_config *c = x->c;
    int64_t d = c->model.hidden;
    for (int b = 0; b < 2; b++) {
        x->k.attn[b] = attention_s(x, b);
        x->k.router[b] = router_s(x, b);
        x->k.dense[b] = c->model.dense_layers > 0 ? ffn_s(x, c->model.ffn_dense, 1, b) : 0.0;
        x->k.shared[b] = c->model.shared_experts > 0
                             ? ffn_s(x, (int64_t)c->model.shared_experts * c->model.ffn_shared,
                                     0, b)
                             : 0.0;
        x->k.head[b] = c->model.vocab > 0 ? head_s(x, b) : 0.0;
        x->k.unperm[b] = unpermute_s(x, b);
    }
    x->k.attn_core_f = attention_core_s(x, 0);
    x->k.embed = c->model.vocab > 0 ? mem(x, 2.0 * x->Ts * d * DTYPE_BYTES) : 0.0;
}

/* The expert slots on GPU (ep rank j) of layer l in micro-batch mb, each over the tokens
 * routed to it: up (or gate+up) projection, activation, down projection; one grouped launch
 * per GEMM (gemm.grouped) or one launch per expert. */
static double experts_s(ctx *x, const int64_t *loc, int backward)
{
    const scn_config *c = x->c;
    int64_t d = c->model.hidden, f = c->model.ffn_expert;
    int64_t up = c->model.swiglu ? 2 * f : f;
    int spg = x->sr->spg, acts = c->model.swiglu ? 3 : 2;
    double t = 0;
    int64_t total = 0;
    for (int e = 0; e < spg; e++) {
        int64_t m = loc[e];
        x->mbuf[e] = m;
        total += m;
        if (m == 0 || c->gemm.grouped)
            continue;
        t += gemm_fb(x, m, up, d, backward) +
             (backward ? 2 : 1) * mem(x, (double)m * f * acts * DTYPE_BYTES) +
             gemm_fb(x, m, d, f, backward);
    }
    if (c->gemm.grouped && total > 0)
        t = (backward ? gemm_grouped_bwd(x, spg, x->mbuf, up, d)
                      : gemm_grouped(x, spg, x->mbuf, up, d)) +
            (backward ? 2 : 1) * mem(x, (double)total * f * acts * DTYPE_BYTES) +
            (backward ? gemm_grouped_bwd(x, spg, x->mbuf, d, f)
                      : gemm_grouped(x, spg, x->mbuf, d, f)) +
            /* fp8 casts, as gemm_fb_dt: the inputs forward, the outputs' gradients backward */
            cast_s(x, x->dt, (double)total * (backward ? up : d)) +
            cast_s(x, x->dt, (double)total * (backward ? d : f));
    return t;
}

/* ---- parameters (gradient buckets, optimizer) ---- */

/* Gradient bytes one GPU holds for layer l: replicated (attention, norms, router, shared
 * experts or dense FFN; TP-sharded parts / tp) and expert (its E / ep routed experts). */
static double dense_grad_bytes(const ctx *x, int l)
{
    const scn_config *c = x->c;
    double tp = x->p.tp;
    double p = arch_attn_params_layer(c) / tp + 2.0 * c->model.hidden;
    if (l < c->model.dense_layers)
        p += arch_dense_ffn_params_layer(c) / tp;
    else
        p += arch_router_params_layer(c) + arch_shared_params_layer(c) / tp;
    return p * DTYPE_BYTES;
}

static double expert_grad_bytes(const ctx *x, int l)
{
    if (l < x->c->model.dense_layers)
        return 0.0;
    return (double)(x->c->model.experts / x->p.ep) * arch_expert_params(x->c) * DTYPE_BYTES;
}

/* Embedding or output matrix (d x vocab / tp) and the final norm, in bytes. */
static double vocab_grad_bytes(const ctx *x, int output)
{
    const scn_config *c = x->c;
    if (c->model.vocab <= 0 || (output && c->model.tied_embeddings))
        return output ? (c->model.vocab > 0 ? c->model.hidden * (double)DTYPE_BYTES : 0.0) : 0.0;
    double p = (double)c->model.hidden * ceil_div(c->model.vocab, x->p.tp);
    if (output)
        p += c->model.hidden;
    return p * DTYPE_BYTES;
}

/* Plans the gradient buckets of every chunk, in backward order: the output layer (last
 * chunk), the layers from last to first, the embedding (first chunk); a bucket closes when
 * its dense or expert part reaches training.grad_bucket_MB, and at the chunk's end. */
static sim_status plan_buckets(ctx *x)
{
    double cap = x->c->training.grad_bucket_MB * 1e6;
    size_t max = (size_t)x->L + 2 * (size_t)x->C;
    x->flushes = sim_malloc(max * sizeof *x->flushes);
    x->flush_off = sim_malloc(((size_t)x->C + 1) * sizeof *x->flush_off);
    x->bucket_of_layer = sim_malloc((size_t)x->L * sizeof *x->bucket_of_layer);
    if (!x->flushes || !x->flush_off || !x->bucket_of_layer)
        return SIM_ENOMEM;
    int n = 0;
    for (int ch = 0; ch < x->C; ch++) {
        x->flush_off[ch] = n;
        double dense = ch == x->C - 1 ? vocab_grad_bytes(x, 1) : 0.0, expert = 0;
        for (int l = x->first[ch + 1] - 1; l >= x->first[ch]; l--) {
            dense += dense_grad_bytes(x, l);
            expert += expert_grad_bytes(x, l);
            x->bucket_of_layer[l] = n;
            int last = l == x->first[ch];
            if (cap > 0 && !last && (dense >= cap || expert >= cap)) {
                x->flushes[n++] = (flush){.after_layer = l, .dense = dense, .expert = expert};
                dense = expert = 0;
            }
        }
        if (ch == 0)
            dense += vocab_grad_bytes(x, 0);
        x->flushes[n++] = (flush){.after_layer = -1, .dense = dense, .expert = expert};
    }
    x->flush_off[x->C] = n;
    return SIM_OK;
}

/* ---- graph helpers ---- */

/* for every simulated GPU g of stage s's plane, in plane order */
#define EACH_GPU(x, s, g)                                                                  \
    for (int q_ = 0, g = 0; q_ < (x)->p.sim_plane && ((g = par_gpu(&(x)->p, (s), q_)), 1); q_++)

static sim_id join2(ctx *x, int g, sim_id a, sim_id b, int cat)
{
    if (a < 0)
        return b;
    if (b < 0 || a == b)
        return a;
    sim_id j = sim_engine_add_work(x->e, -1, 0, cat, g);
    sim_engine_add_dep(x->e, a, j);
    sim_engine_add_dep(x->e, b, j);
    return j;
}

/* A compute task on g's stream after its chain and gate. */
static sim_id work(ctx *x, int g, double seconds, int cat)
{
    sim_id id = sim_engine_add_work(x->e, x->stream[g],
                                    sim_time_from_s(seconds * x->slow[g]), cat, g);
    if (x->prev[g] >= 0)
        sim_engine_add_dep(x->e, x->prev[g], id);
    if (x->gate[g] >= 0)
        sim_engine_add_dep(x->e, x->gate[g], id);
    x->gate[g] = -1;
    x->prev[g] = id;
    return id;
}

static sim_id work_after(ctx *x, int g, double seconds, int cat, sim_id also)
{
    sim_id id = work(x, g, seconds, cat);
    if (also >= 0)
        sim_engine_add_dep(x->e, also, id);
    return id;
}

/* The task after which g's next communication may start: its chain and gate joined. */
static sim_id chain_end(ctx *x, int g, int cat)
{
    sim_id t = join2(x, g, x->prev[g], x->gate[g], cat);
    x->prev[g] = t;
    x->gate[g] = -1;
    return t;
}

static void add_gate(ctx *x, int g, sim_id t, int cat)
{
    x->gate[g] = join2(x, g, x->gate[g], t, cat);
}

/* One collective over the n GPUs gpus[] (after[] each), done tasks into x->done by GPU. */
static sim_status collective(ctx *x, const coll_algo *algo, int n, double bytes,
                             const double *matrix, const double *fabric_scale, int cat,
                             sim_err *err)
{
    /* Ring collectives move as one chunk in the step: in the fluid model every ring step
     * keeps each link busy whatever the chunking, which only pipelines per-chunk latencies
     * (docs/MODEL.md "Reductions"); tree, NVLS, hierarchical and all-to-all pipelines keep
     * network.chunk_KiB. */
    double chunk = strcmp(algo->name, "ring") == 0 ? 0.0 : coll_chunk_bytes(x->c);
    coll_args a = {.e = x->e, .t = &x->t, .n = n, .gpus = x->gpus, .after = x->after,
                   .category = cat, .bytes = bytes, .matrix = matrix,
                   .fabric_scale = fabric_scale, .max_chunks = x->c->network.a2a_chunks,
                   .chunk_bytes = chunk, .nvls_cost = topo_nvls_cost(x->c),
                   .aggregate = x->c->network.ring_bundles ? COLL_AGG_RINGS : COLL_AGG_OFF,
                   .on_bundle = note_bundle, .bundle_ctx = x};
    sim_status st = algo->build(&a, x->cdone, err);
    if (st != SIM_OK)
        return st;
    for (int i = 0; i < n; i++)
        x->done[x->gpus[i]] = x->cdone[i];
    return SIM_OK;
}

/* A blocking tensor-parallel collective of `bytes` in every TP group of stage s. */
static sim_status tp_coll(ctx *x, int s, const coll_algo *algo, double bytes, sim_err *err)
{
    int tp = x->p.tp;
    if (tp <= 1)
        return SIM_OK;
    for (int q0 = 0; q0 < x->p.sim_plane; q0 += tp) {
        for (int i = 0; i < tp; i++) {
            int g = par_gpu(&x->p, s, q0 + i);
            x->gpus[i] = g;
            x->after[i] = chain_end(x, g, STEP_CAT_TP);
        }
        sim_status st = collective(x, algo, tp, bytes, NULL, NULL, STEP_CAT_TP, err);
        if (st != SIM_OK)
            return st;
        for (int i = 0; i < tp; i++)
            add_gate(x, x->gpus[i], x->done[x->gpus[i]], STEP_CAT_TP);
    }
    return SIM_OK;
}

/* The all-to-allv of layer l, micro-batch mb in every EP group of stage s: dispatch
 * direction (`forward_dir`: GPU i sends j the tokens it routed to j's experts) or the way
 * back. Each GPU starts after its chain; done tasks in x->done. */
static sim_status all_to_all(ctx *x, int s, int mb, int l, int forward_dir, int cat,
                             sim_err *err)
{
    int ep = x->p.ep;
    double tok_bytes = (double)x->c->model.hidden * DTYPE_BYTES;
    for (int k = 0; k < x->sr->G; k++) {
        const int64_t *mat = routing_cell(x->sr, mb, l, k);
        for (int i = 0; i < ep; i++) {
            int g = par_gpu(&x->p, s, k * ep + i);
            x->gpus[i] = g;
            x->after[i] = chain_end(x, g, cat);
            for (int j = 0; j < ep; j++)
                x->matrix[(size_t)i * ep + j] =
                    i == j ? 0
                           : (double)(forward_dir ? mat[(size_t)i * ep + j]
                                                  : mat[(size_t)j * ep + i]) *
                                 tok_bytes;
        }
        const double *scale = NULL;
        if (x->sr->n_nodes) {
            /* deduplicated tokens over the fabric: for the pair (token GPU t, expert GPU
             * e), tokens(t, node(e)) / assignments(t, node(e)) */
            const int N = x->sr->n_nodes, *node = x->sr->rank_node;
            const int64_t *nt = mat + (size_t)ep * ep + (size_t)ep * x->sr->spg;
            for (int t = 0; t < ep; t++) {
                double assign[64] = {0};
                for (int e = 0; e < ep; e++)
                    assign[node[e]] += (double)mat[(size_t)t * ep + e];
                for (int e = 0; e < ep; e++) {
                    double a = assign[node[e]], d = (double)nt[(size_t)t * N + node[e]];
                    double f = a > 0 ? fmin(1.0, d / a) : 1.0;
                    x->fscale[forward_dir ? (size_t)t * ep + e : (size_t)e * ep + t] = f;
                }
            }
            scale = x->fscale;
        }
        sim_status st = collective(x, x->a2a, ep, 0, x->matrix, scale, cat, err);
        if (st != SIM_OK)
            return st;
    }
    return SIM_OK;
}

/* Shared experts of stage s (TP: all-gather, FFN shard, reduce-scatter). With `overlap` the
 * reduce-scatter's done goes to side_done instead of blocking the chain. */
static sim_status shared_experts(ctx *x, int s, int backward, int overlap, sim_err *err)
{
    double hbytes = (double)x->T * x->c->model.hidden * DTYPE_BYTES;
    sim_status st = tp_coll(x, s, backward ? x->rs : x->ag, hbytes, err);
    for (int q = 0; q < x->p.sim_plane && st == SIM_OK; q++)
        work(x, par_gpu(&x->p, s, q), x->k.shared[backward], STEP_CAT_EXPERT);
    if (st == SIM_OK)
        st = tp_coll(x, s, backward ? x->ag : x->rs, hbytes, err);
    for (int q = 0; q < x->p.sim_plane && st == SIM_OK; q++) {
        int g = par_gpu(&x->p, s, q);
        x->side_done[g] = -1;
        if (overlap && x->p.tp > 1) {       /* the gate holds the reduce-scatter */
            x->side_done[g] = x->gate[g];
            x->gate[g] = -1;
        }
    }
    return st;
}

static sim_status layer_pass(ctx *x, int s, int mb, int l, int backward, sim_err *err)
{
    const scn_config *c = x->c;
    int overlap = c->training.overlap, moe = l >= c->model.dense_layers;
    double hbytes = (double)x->T * c->model.hidden * DTYPE_BYTES;
    sim_status st = SIM_OK;
    if (!backward) {
        if ((st = tp_coll(x, s, x->ag, hbytes, err)) != SIM_OK)
            return st;
        EACH_GPU(x, s, g) work(x, g, x->k.attn[0], STEP_CAT_ATTENTION);
        if ((st = tp_coll(x, s, x->rs, hbytes, err)) != SIM_OK)
            return st;
        if (!moe) {
            if ((st = tp_coll(x, s, x->ag, hbytes, err)) != SIM_OK)
                return st;
            EACH_GPU(x, s, g) work(x, g, x->k.dense[0], STEP_CAT_OTHER);
            return tp_coll(x, s, x->rs, hbytes, err);
        }
        EACH_GPU(x, s, g) work(x, g, x->k.router[0], STEP_CAT_OTHER);
        int shared = c->model.shared_experts > 0;
        if (shared && !overlap && (st = shared_experts(x, s, 0, 0, err)) != SIM_OK)
            return st;
        if ((st = all_to_all(x, s, mb, l, 1, STEP_CAT_DISPATCH, err)) != SIM_OK)
            return st;
        EACH_GPU(x, s, g) x->a2a_done[g] = x->done[g];
        if (shared && overlap && (st = shared_experts(x, s, 0, 1, err)) != SIM_OK)
            return st;
        for (int k = 0; k < x->sr->G; k++)
            for (int i = 0; i < x->p.ep; i++) {
                int g = par_gpu(&x->p, s, k * x->p.ep + i);
                const int64_t *loc = routing_cell(x->sr, mb, l, k) +
                                     (size_t)x->p.ep * x->p.ep + (size_t)i * x->sr->spg;
                work_after(x, g, experts_s(x, loc, 0), STEP_CAT_EXPERT, x->a2a_done[g]);
            }
        if ((st = all_to_all(x, s, mb, l, 0, STEP_CAT_COMBINE, err)) != SIM_OK)
            return st;
        EACH_GPU(x, s, g) {
            add_gate(x, g, x->done[g], STEP_CAT_COMBINE);
            work_after(x, g, x->k.unperm[0], STEP_CAT_OTHER,
                       shared && overlap ? x->side_done[g] : -1);
        }
        return SIM_OK;
    }
    /* backward, the forward's steps in reverse: the gradient of a reduce-scatter is an
     * all-gather and vice versa; the combine's gradients travel the dispatch's way */
    if (!moe) {
        if ((st = tp_coll(x, s, x->ag, hbytes, err)) != SIM_OK)
            return st;
        EACH_GPU(x, s, g) work(x, g, x->k.dense[1], STEP_CAT_OTHER);
        if ((st = tp_coll(x, s, x->rs, hbytes, err)) != SIM_OK)
            return st;
    } else {
        int shared = c->model.shared_experts > 0;
        EACH_GPU(x, s, g) work(x, g, x->k.unperm[1], STEP_CAT_OTHER);
        if (shared && overlap) {
            if ((st = all_to_all(x, s, mb, l, 1, STEP_CAT_COMBINE, err)) != SIM_OK)
                return st;
            EACH_GPU(x, s, g) x->a2a_done[g] = x->done[g];
            if ((st = shared_experts(x, s, 1, 1, err)) != SIM_OK)
                return st;
        } else {
            if (shared && (st = shared_experts(x, s, 1, 0, err)) != SIM_OK)
                return st;
            if ((st = all_to_all(x, s, mb, l, 1, STEP_CAT_COMBINE, err)) != SIM_OK)
                return st;
            EACH_GPU(x, s, g) x->a2a_done[g] = x->done[g];
        }
        for (int k = 0; k < x->sr->G; k++)
            for (int i = 0; i < x->p.ep; i++) {
                int g = par_gpu(&x->p, s, k * x->p.ep + i);
                const int64_t *loc = routing_cell(x->sr, mb, l, k) +
                                     (size_t)x->p.ep * x->p.ep + (size_t)i * x->sr->spg;
                work_after(x, g, experts_s(x, loc, 1), STEP_CAT_EXPERT, x->a2a_done[g]);
            }
        if ((st = all_to_all(x, s, mb, l, 0, STEP_CAT_DISPATCH, err)) != SIM_OK)
            return st;
        EACH_GPU(x, s, g) {
            add_gate(x, g, x->done[g], STEP_CAT_DISPATCH);
            work_after(x, g, x->k.router[1], STEP_CAT_OTHER,
                       shared && overlap ? x->side_done[g] : -1);
        }
    }
    if ((st = tp_coll(x, s, x->ag, hbytes, err)) != SIM_OK)
        return st;
    /* selective recompute re-runs the attention core's forward before its backward */
    double recompute = strcmp(c->training.recompute, "selective") == 0 ? x->k.attn_core_f : 0;
    EACH_GPU(x, s, g) work(x, g, x->k.attn[1] + recompute, STEP_CAT_ATTENTION);
    return tp_coll(x, s, x->rs, hbytes, err);
}

/* The closed-form time of a ring collective (algo's operation) of `bytes` over n ranks:
 * all-reduce 2(n-1)(a + S/(nB)), reduce-scatter and all-gather (n-1)(a + S/(nB)). Inside a
 * node B is the intra-node link; across nodes, with m of the group's ranks in each node,
 * NCCL runs m rings side by side, one per rank's NIC, so the node's boundary carries
 * m x the NIC rate: B = min(intra, m x inter) and a the inter-node latency. For groups that
 * reach beyond the simulated replicas. */
static double ring_closed_form_s(const ctx *x, coll_op op, int n, double bytes, int per_node)
{
    double intra = topo_intra_bw(x->c);
    int spans = per_node < n;
    double B = spans ? fmin(intra, per_node * topo_inter_bw(x->c)) : intra;
    double a = (spans ? x->c->cluster.inter_lat_us : x->c->cluster.intra_lat_us) * 1e-6;
    double steps = op == COLL_ALL_REDUCE ? 2.0 * (n - 1) : (double)(n - 1);
    return steps * (a + bytes / (n * B));
}

/* A collective over every data-parallel group (dense: the GPUs of stage s with the same TP
 * rank) or expert-data-parallel group (the same EP rank) of stage s, on the comm stream
 * (dpc). from_chain: it also waits for the compute chain's last task; blocking: the chain
 * then waits for it (overlap = false). A group that reaches GPUs outside the simulated
 * replicas (run.replicas) costs each simulated member the ring's closed form instead of
 * flows: its traffic does not load the links. */
static sim_status group_coll(ctx *x, int s, int dense, const coll_algo *algo, double bytes,
                             int blocking, int from_chain, sim_err *err)
{
    int groups = dense ? x->p.tp : x->p.ep;
    int size = dense ? x->p.dp : x->p.edp;
    int n_sim = x->p.sim_plane / groups;        /* simulated members of each group */
    if (bytes <= 0 || size <= 1)
        return SIM_OK;
    for (int r = 0; r < groups; r++) {
        for (int j = 0; j < n_sim; j++) {
            int g = par_gpu(&x->p, s, r + j * groups);
            x->gpus[j] = g;
            sim_id chain = from_chain ? (blocking ? chain_end(x, g, STEP_CAT_GRAD) : x->prev[g])
                                      : -1;
            x->after[j] = join2(x, g, chain, x->dpc[g], STEP_CAT_GRAD);
        }
        if (n_sim < size) {
            int per_node = 0, node0 = topo_node(&x->t, par_gpu(&x->p, s, r));
            for (int j = 0; j < size; j++)
                per_node += topo_node(&x->t, par_gpu(&x->p, s, r + j * groups)) == node0;
            sim_time t = sim_time_from_s(ring_closed_form_s(x, algo->op, size, bytes, per_node));
            for (int j = 0; j < n_sim; j++) {
                int g = x->gpus[j];
                sim_id w = sim_engine_add_work(x->e, -1, t, STEP_CAT_GRAD, g);
                if (x->after[j] >= 0)
                    sim_engine_add_dep(x->e, x->after[j], w);
                x->done[g] = w;
            }
        } else {
            sim_status st = collective(x, algo, size, bytes, NULL, NULL, STEP_CAT_GRAD, err);
            if (st != SIM_OK)
                return st;
        }
        for (int j = 0; j < n_sim; j++) {
            int g = x->gpus[j];
            x->dpc[g] = x->done[g];
            if (blocking)
                add_gate(x, g, x->done[g], STEP_CAT_GRAD);
        }
    }
    return SIM_OK;
}

/* Reduces the buckets of flush f of stage s: all-reduce (ZeRO 0) or reduce-scatter. */
static sim_status reduce_buckets(ctx *x, int s, const flush *f, sim_err *err)
{
    int blocking = !x->c->training.overlap;
    const coll_algo *algo = x->c->parallel.zero >= 1 ? x->rs : x->allreduce;
    sim_status st = group_coll(x, s, 1, algo, f->dense, blocking, 1, err);
    if (st == SIM_OK)
        st = group_coll(x, s, 0, algo, f->expert, blocking, 1, err);
    return st;
}

/* ZeRO >= 1: all-gather the updated parameters of flush f's buckets. */
static sim_status gather_buckets(ctx *x, int s, const flush *f, int blocking, sim_err *err)
{
    sim_status st = group_coll(x, s, 1, x->ag, f->dense, blocking, blocking, err);
    if (st == SIM_OK)
        st = group_coll(x, s, 0, x->ag, f->expert, blocking, blocking, err);
    return st;
}

/* ZeRO-3: all-gather layer l's parameters (dense over DP, experts over EDP) on stage s, on
 * the comm stream after the chain's last task. blocking: the chain waits for it; else its
 * done task is left in x->pref. */
static sim_status zero3_gather(ctx *x, int s, int l, int blocking, sim_err *err)
{
    sim_status st = group_coll(x, s, 1, x->ag, dense_grad_bytes(x, l), blocking, 1, err);
    if (st == SIM_OK)
        st = group_coll(x, s, 0, x->ag, expert_grad_bytes(x, l), blocking, 1, err);
    if (st == SIM_OK && !blocking)
        EACH_GPU(x, s, g) x->pref[g] = x->dpc[g];
    return st;
}

/* The layers of a pass in order, each after its ZeRO-3 gather: without overlap in the chain
 * just before the layer; with overlap (FSDP-style prefetch) the next layer's gather is
 * issued when a layer starts, so it runs under that layer's compute. */
static sim_status pass_layers(ctx *x, int s, int mb, int lo, int hi, int backward,
                              int last_micro, sim_err *err)
{
    int z3 = x->c->parallel.zero >= 3, overlap = x->c->training.overlap;
    int full = backward && strcmp(x->c->training.recompute, "full") == 0;
    int n = hi - lo, fl = x->flush_off[0];
    sim_status st = SIM_OK;
    for (int i = 0; i < n && st == SIM_OK; i++) {
        int l = backward ? hi - 1 - i : lo + i;
        if (z3 && overlap) {
            if (i == 0 && (st = zero3_gather(x, s, l, 0, err)) == SIM_OK)
                EACH_GPU(x, s, g) x->pref_cur[g] = x->pref[g];
            if (st == SIM_OK && i + 1 < n)
                st = zero3_gather(x, s, backward ? l - 1 : l + 1, 0, err);
            EACH_GPU(x, s, g) {
                add_gate(x, g, x->pref_cur[g], STEP_CAT_GRAD);
                x->pref_cur[g] = x->pref[g];
            }
        } else if (z3) {
            st = zero3_gather(x, s, l, 1, err);
        }
        if (st == SIM_OK && full)
            st = layer_pass(x, s, mb, l, 0, err);
        if (st == SIM_OK)
            st = layer_pass(x, s, mb, l, backward, err);
        if (st != SIM_OK || !backward || !last_micro)
            continue;
        int ch = 0;
        while (x->first[ch + 1] <= l)
            ch++;
        for (fl = x->flush_off[ch]; fl < x->flush_off[ch + 1]; fl++)
            if (x->flushes[fl].after_layer == l)
                st = reduce_buckets(x, s, &x->flushes[fl], err);
    }
    return st;
}

static sim_id *handoff(const ctx *x, int mb, int ch, int backward, int q)
{
    return x->handoff + (((size_t)mb * x->C + ch) * 2 + backward) * x->p.sim_plane + q;
}

/* Sends each GPU's activations (or their gradients) of micro-batch mb to the stage of the
 * next chunk (dir +1) or the previous (backward). */
static void send_handoff(ctx *x, int s, int mb, int ch, int backward)
{
    int to_chunk = backward ? ch - 1 : ch + 1, to_stage = to_chunk % x->p.pp;
    double bytes = (double)x->Ts * x->c->model.hidden * DTYPE_BYTES;
    for (int q = 0; q < x->p.sim_plane; q++) {
        int g = par_gpu(&x->p, s, q), dst = par_gpu(&x->p, to_stage, q);
        sim_id after = chain_end(x, g, STEP_CAT_PP), f;
        if (g == dst) {
            f = sim_engine_add_work(x->e, -1, 0, STEP_CAT_PP, g);
        } else {
            sim_id path[TOPO_MAX_PATH];
            int len = topo_path(&x->t, g, dst, path);
            f = sim_engine_add_flow(x->e, path, len, bytes, 0, -1, STEP_CAT_PP, g);
        }
        if (after >= 0)
            sim_engine_add_dep(x->e, after, f);
        *handoff(x, mb, ch, backward, q) = f;
        if (!x->c->training.overlap)
            add_gate(x, g, f, STEP_CAT_PP);
    }
}

/* ZeRO 1-2 with overlap: the first micro-batch's forward of each bucket's first layer waits
 * for that bucket's parameter all-gather (start_gathers); here, before the pass, the
 * gathers of the chunk's buckets gate the pass as a whole. */
static sim_status gather_gates(ctx *x, int s, int lo, int hi)
{
    for (int l = lo; l < hi; l++)
        if (l == lo || x->bucket_of_layer[l] != x->bucket_of_layer[l - 1])
            EACH_GPU(x, s, g)
                add_gate(x, g, x->gather[(size_t)x->bucket_of_layer[l] * x->n + g], STEP_CAT_GRAD);
    return SIM_OK;
}

static sim_status build_pass(ctx *x, int s, par_op op, sim_err *err)
{
    const scn_config *c = x->c;
    int ch = op.v * x->p.pp + s, mb = op.micro, bw = !op.forward, plane = x->p.sim_plane;
    double hbytes = (double)x->T * c->model.hidden * DTYPE_BYTES;
    int lo = x->first[ch], hi = x->first[ch + 1];
    int last_micro = mb == x->M - 1;
    sim_status st = SIM_OK;
    /* inputs from the neighbouring chunk */
    int from = bw ? ch + 1 : ch - 1;
    if (from >= 0 && from < x->C)
        for (int q = 0; q < plane; q++)
            add_gate(x, par_gpu(&x->p, s, q), *handoff(x, mb, from, bw, q), STEP_CAT_PP);
    if (!bw) {
        if (ch == 0 && c->model.vocab > 0)
            EACH_GPU(x, s, g) work(x, g, x->k.embed, STEP_CAT_OTHER);
        if (x->gather && mb == 0)
            st = gather_gates(x, s, lo, hi);
        if (st == SIM_OK)
            st = pass_layers(x, s, mb, lo, hi, 0, last_micro, err);
        if (st != SIM_OK)
            return st;
        if (ch == x->C - 1) {
            if (c->model.vocab > 0) {
                if ((st = tp_coll(x, s, x->ag, hbytes, err)) != SIM_OK)
                    return st;
                EACH_GPU(x, s, g) work(x, g, x->k.head[0], STEP_CAT_OTHER);
            }
        } else {
            send_handoff(x, s, mb, ch, 0);
        }
        return SIM_OK;
    }
    if (ch == x->C - 1 && c->model.vocab > 0) {
        EACH_GPU(x, s, g) work(x, g, x->k.head[1], STEP_CAT_OTHER);
        if ((st = tp_coll(x, s, x->rs, hbytes, err)) != SIM_OK)
            return st;
    }
    if ((st = pass_layers(x, s, mb, lo, hi, 1, last_micro, err)) != SIM_OK)
        return st;
    if (ch == 0) {
        if (c->model.vocab > 0)
            EACH_GPU(x, s, g) work(x, g, x->k.embed, STEP_CAT_OTHER);
    } else {
        send_handoff(x, s, mb, ch, 1);
    }
    if (last_micro) {
        const flush *f = &x->flushes[x->flush_off[ch + 1] - 1];
        assert(f->after_layer == -1);
        st = reduce_buckets(x, s, f, err);
    }
    return st;
}

/* After a stage's last pass: the optimizer step on every GPU once its gradients are
 * reduced, over the parameters it holds (sharded with ZeRO >= 1); then, without overlap,
 * the ZeRO parameter all-gather. */
static sim_status finish_stage(ctx *x, int s, sim_err *err)
{
    const scn_config *c = x->c;
    double dense = 0, expert = 0;
    for (int ch = s; ch < x->C; ch += x->p.pp)
        for (int f = x->flush_off[ch]; f < x->flush_off[ch + 1]; f++)
            dense += x->flushes[f].dense, expert += x->flushes[f].expert;
    if (c->parallel.zero >= 1)
        dense /= x->p.dp, expert /= x->p.edp;
    double params = (dense + expert) / DTYPE_BYTES;
    double t = mem(x, params * ADAM_BYTES);
    for (int q = 0; q < x->p.sim_plane; q++) {
        int g = par_gpu(&x->p, s, q);
        work_after(x, g, t, STEP_CAT_OPTIM, x->dpc[g]);
    }
    if (c->parallel.zero >= 1 && c->parallel.zero < 3 && !c->training.overlap)
        for (int ch = s; ch < x->C; ch += x->p.pp)
            for (int f = x->flush_off[ch]; f < x->flush_off[ch + 1]; f++) {
                sim_status st = gather_buckets(x, s, &x->flushes[f], 1, err);
                if (st != SIM_OK)
                    return st;
            }
    return SIM_OK;
}

/* ZeRO 1-2 with overlap: the parameter all-gathers of the previous step's update overlap
 * this step's forward (Megatron's overlap_param_gather): issued at the start, bucket by
 * bucket in the order the forward needs them; the first micro-batch's forward of a bucket's
 * first layer waits for it. */
static sim_status start_gathers(ctx *x, sim_err *err)
{
    size_t nf = (size_t)x->flush_off[x->C];
    x->gather = sim_malloc(nf * x->n * sizeof *x->gather);
    if (!x->gather)
        return sim_err_set(err, SIM_ENOMEM, "out of memory building the step");
    for (int s = 0; s < x->p.pp; s++)
        for (int ch = s; ch < x->C; ch += x->p.pp)
            for (int f = x->flush_off[ch + 1] - 1; f >= x->flush_off[ch]; f--) {
                sim_status st = gather_buckets(x, s, &x->flushes[f], 0, err);
                if (st != SIM_OK)
                    return st;
                for (int q = 0; q < x->p.sim_plane; q++) {
                    int g = par_gpu(&x->p, s, q);
                    x->gather[(size_t)f * x->n + g] = x->dpc[g];
                }
            }
    return SIM_OK;
}

/* Adds every stage's passes, each when its inputs from the neighbouring stages exist. */
static sim_status build_schedule(ctx *x, sim_err *err)
{
    int pp = x->p.pp, per = 2 * x->M * x->p.vpp;
    par_op *ops = sim_malloc((size_t)pp * per * sizeof *ops);
    int *next = sim_calloc((size_t)pp, sizeof *next);
    sim_status st = SIM_OK;
    if (!ops || !next) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building the step");
        goto done;
    }
    for (int s = 0; s < pp; s++)
        par_schedule(&x->p, s, ops + (size_t)s * per);
    for (int left = pp * per; left > 0 && st == SIM_OK;) {
        int progressed = 0;
        for (int s = 0; s < pp && st == SIM_OK; s++) {
            while (next[s] < per && st == SIM_OK) {
                par_op op = ops[(size_t)s * per + next[s]];
                int ch = op.v * pp + s, from = op.forward ? ch - 1 : ch + 1;
                if (from >= 0 && from < x->C &&
                    *handoff(x, op.micro, from, !op.forward, 0) < 0)
                    break;          /* its input is not built yet */
                st = build_pass(x, s, op, err);
                next[s]++, left--, progressed = 1;
                if (next[s] == per && st == SIM_OK)
                    st = finish_stage(x, s, err);
            }
        }
        assert(progressed && "a pipeline schedule that cannot proceed");
        (void)progressed;
    }
done:
    sim_free(ops);
    sim_free(next);
    return st;
}

/* ---- results ---- */

/* Critical-path attribution (docs/MODEL.md "Breakdown"). The path is walked back from the
 * task that finished last, on GPU `end`. A task on end's own pipeline stage gives its span
 * to its category (on end itself, or on a peer of its stage: an EP straggler's expert GEMM
 * counts as expert_gemm). A task on another stage is pipeline fill or drain from end's
 * point of view: the part of its span during which end's compute stream was busy goes to
 * the category of what end was computing; the part during which end sat idle is the
 * pipeline bubble when the task is compute, and the task's own category when it is
 * communication. The parts sum to the step time. */
typedef struct crit_ctx {
    const ctx *x;
    sim_time *out;
    int end, end_stage;
    const sim_record **busy;      /* end's compute tasks, by start */
    size_t n_busy;
} crit_ctx;

static void find_end(void *arg, const sim_record *rec, sim_time gap)
{
    (void)gap;
    crit_ctx *k = arg;
    if (k->end < 0)
        k->end = rec->owner;
}

static void attribute(void *arg, const sim_record *rec, sim_time gap)
{
    crit_ctx *k = arg;
    k->out[STEP_CAT_IDLE] += gap;
    if (k->x->stage_of_gpu[rec->owner] == k->end_stage) {
        k->out[rec->category] += rec->end - rec->start;
        return;
    }
    sim_time a = rec->start, b = rec->end, covered = 0;
    /* end's compute tasks overlapping [a, b): the first ending after a, by bisection */
    size_t lo = 0, hi = k->n_busy;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->busy[mid]->end <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < k->n_busy && k->busy[i]->start < b; i++) {
        sim_time s = k->busy[i]->start > a ? k->busy[i]->start : a;
        sim_time e = k->busy[i]->end < b ? k->busy[i]->end : b;
        if (e > s) {
            k->out[k->busy[i]->category] += e - s;
            covered += e - s;
        }
    }
    /* another stage's communication stays communication (latency the pipeline could not
     * hide); its compute is pipeline fill, drain or a slower stage: the bubble */
    k->out[step_category_is_comm(rec->category) ? rec->category : STEP_CAT_BUBBLE] +=
        (b - a) - covered;
}

static sim_status breakdown(const ctx *x, step_result *res)
{
    crit_ctx k = {.x = x, .out = res->breakdown, .end = -1};
    sim_engine_critical_path(x->e, find_end, &k);
    if (k.end < 0)
        return SIM_OK;                 /* an empty graph */
    k.end_stage = x->stage_of_gpu[k.end];
    size_t n = sim_engine_n_tasks(x->e), m = 0;
    for (size_t i = 0; i < n; i++) {
        const sim_record *r = sim_engine_record(x->e, (sim_id)i);
        m += r->owner == k.end && r->resource == x->stream[k.end];
    }
    k.busy = sim_malloc((m ? m : 1) * sizeof *k.busy);
    if (!k.busy)
        return SIM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const sim_record *r = sim_engine_record(x->e, (sim_id)i);
        if (r->owner == k.end && r->resource == x->stream[k.end])
            k.busy[k.n_busy++] = r;
    }
    /* a stream runs its tasks one at a time in chain order, which is creation order */
    for (size_t i = 1; i < k.n_busy; i++)
        assert(k.busy[i]->start >= k.busy[i - 1]->end);
    sim_engine_critical_path(x->e, attribute, &k);
    sim_free(k.busy);
    return SIM_OK;
}

typedef struct span_iv {
    sim_time a, b;
} span_iv;

static int cmp_iv(const void *pa, const void *pb)
{
    const span_iv *a = pa, *b = pb;
    return a->a < b->a ? -1 : a->a > b->a ? 1 : (a->b > b->b) - (a->b < b->b);
}

/* Mean over GPUs of the time any of a GPU's sends is in flight, and of the part of it
 * during which its compute stream is busy. */
static sim_status comm_overlap(const ctx *x, step_result *res)
{
    size_t n = sim_engine_n_tasks(x->e);
    size_t *off = sim_calloc((size_t)x->n * 2 + 1, sizeof *off);
    span_iv *iv = sim_malloc((n ? n : 1) * sizeof *iv);
    if (!off || !iv) {
        sim_free(off);
        sim_free(iv);
        return SIM_ENOMEM;
    }
    /* buckets: 2g = g's compute tasks, 2g+1 = g's sends */
    size_t cur = 0, n_iv = 0;
    for (size_t i = 0; i < n; i++) {
        const sim_record *r = sim_engine_record(x->e, (sim_id)i);
        int one, ng;
        const int *gs = task_gpus(x, (sim_id)i, r, &cur, &one, &ng);
        if (r->end > r->start && (r->kind == SIM_TASK_FLOW ? step_category_is_comm(r->category)
                                                            : r->resource >= 0))
            for (int k = 0; k < ng; k++, n_iv++)
                off[2 * (size_t)gs[k] + (r->kind == SIM_TASK_FLOW) + 1]++;
    }
    for (size_t b = 0; b < 2 * (size_t)x->n; b++)
        off[b + 1] += off[b];
    if (n_iv > n) {
        span_iv *grown = sim_realloc(iv, n_iv * sizeof *iv);
        if (!grown) {
            sim_free(off);
            sim_free(iv);
            return SIM_ENOMEM;
        }
        iv = grown;
    }
    size_t *fill = sim_malloc((2 * (size_t)x->n + 1) * sizeof *fill);
    if (!fill) {
        sim_free(off);
        sim_free(iv);
        return SIM_ENOMEM;
    }
    memcpy(fill, off, (2 * (size_t)x->n + 1) * sizeof *fill);
    cur = 0;
    for (size_t i = 0; i < n; i++) {
        const sim_record *r = sim_engine_record(x->e, (sim_id)i);
        int one, ng;
        const int *gs = task_gpus(x, (sim_id)i, r, &cur, &one, &ng);
        if (r->end > r->start && (r->kind == SIM_TASK_FLOW ? step_category_is_comm(r->category)
                                                            : r->resource >= 0))
            for (int k = 0; k < ng; k++)
                iv[fill[2 * (size_t)gs[k] + (r->kind == SIM_TASK_FLOW)]++] =
                    (span_iv){r->start, r->end};
    }
    double comm = 0, both = 0;
    for (int g = 0; g < x->n; g++) {
        span_iv *cp = iv + off[2 * g], *fl = iv + off[2 * g + 1];
        size_t ncp = off[2 * g + 1] - off[2 * g], nfl = off[2 * g + 2] - off[2 * g + 1];
        qsort(cp, ncp, sizeof *cp, cmp_iv);
        qsort(fl, nfl, sizeof *fl, cmp_iv);
        /* union of the sends in place */
        size_t u = 0;
        for (size_t i = 0; i < nfl; i++) {
            if (u > 0 && fl[i].a <= fl[u - 1].b) {
                if (fl[i].b > fl[u - 1].b)
                    fl[u - 1].b = fl[i].b;
            } else {
                fl[u++] = fl[i];
            }
        }
        sim_time c_total = 0, c_both = 0;
        size_t j = 0;
        for (size_t i = 0; i < u; i++) {
            c_total += fl[i].b - fl[i].a;
            while (j < ncp && cp[j].b <= fl[i].a)
                j++;
            for (size_t m = j; m < ncp && cp[m].a < fl[i].b; m++) {
                sim_time lo = cp[m].a > fl[i].a ? cp[m].a : fl[i].a;
                sim_time hi = cp[m].b < fl[i].b ? cp[m].b : fl[i].b;
                if (hi > lo)
                    c_both += hi - lo;
            }
        }
        comm += sim_time_to_s(c_total);
        both += sim_time_to_s(c_both);
    }
    /* over the simulated GPUs (with run.replicas the others are their copies) */
    int n_sim = x->p.pp * x->p.sim_plane;
    res->comm_s = comm / n_sim;
    res->comm_overlapped_s = both / n_sim;
    sim_free(off);
    sim_free(fill);
    sim_free(iv);
    return SIM_OK;
}

/* The STEP_MAX_LINKS links that carried the most bytes, most first (ties: lower link id). */
static void busiest_links(const ctx *x, step_result *res)
{
    size_t n = sim_engine_n_links(x->e);
    res->n_links = 0;
    for (size_t l = 0; l < n; l++) {
        double bytes;
        sim_time busy;
        sim_engine_link_usage(x->e, (sim_id)l, &bytes, &busy);
        if (bytes <= 0)
            continue;
        int at = res->n_links;
        while (at > 0 && res->links[at - 1].bytes < bytes)
            at--;
        if (at >= STEP_MAX_LINKS)
            continue;
        int last = res->n_links < STEP_MAX_LINKS ? res->n_links : STEP_MAX_LINKS - 1;
        memmove(&res->links[at + 1], &res->links[at], (size_t)(last - at) * sizeof res->links[0]);
        step_link *k = &res->links[at];
        topo_link_name(&x->t, (sim_id)l, k->name, sizeof k->name);
        k->capacity_bytes_per_s = sim_engine_link_bw(x->e, (sim_id)l);
        k->bytes = bytes;
        k->busy_s = sim_time_to_s(busy);
        if (res->n_links < STEP_MAX_LINKS)
            res->n_links++;
    }
}

/* Copies the finished tasks of GPUs below span_gpus (0: all) into res->spans; a ring
 * bundle gives one span per member (its bytes shared among them). */
static sim_status keep_spans(const ctx *x, int span_gpus, step_result *res, sim_err *err)
{
    size_t n = sim_engine_n_tasks(x->e), k = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t cur = 0;
        for (size_t i = 0; i < n; i++) {
            const sim_record *rec = sim_engine_record(x->e, (sim_id)i);
            int one, ng;
            const int *gs = task_gpus(x, (sim_id)i, rec, &cur, &one, &ng);
            if (rec->kind == SIM_TASK_WORK && rec->resource < 0)   /* joins */
                continue;
            for (int m = 0; m < ng; m++) {
                if (span_gpus > 0 && gs[m] >= span_gpus)
                    continue;
                if (pass == 1)
                    res->spans[k] = (step_span){.gpu = gs[m], .category = rec->category,
                                                .is_flow = rec->kind == SIM_TASK_FLOW,
                                                .start = rec->start, .end = rec->end,
                                                .bytes = rec->bytes / ng};
                k++;
            }
        }
        if (pass == 0) {
            res->spans = sim_malloc((k ? k : 1) * sizeof *res->spans);
            if (!res->spans)
                return sim_err_set(err, SIM_ENOMEM, "out of memory keeping the step's tasks");
            res->n_spans = k;
            k = 0;
        }
    }
    return SIM_OK;
}

static void ctx_free(ctx *x)
{
    sim_free(x->first);
    sim_free(x->stage_of_gpu);
    sim_free(x->slow);
    sim_free(x->stream);
    sim_free(x->prev);
    sim_free(x->gate);
    sim_free(x->dpc);
    sim_free(x->done);
    sim_free(x->a2a_done);
    sim_free(x->side_done);
    sim_free(x->pref);
    sim_free(x->pref_cur);
    sim_free(x->handoff);
    sim_free(x->gather);
    sim_free(x->gpus);
    sim_free(x->after);
    sim_free(x->cdone);
    sim_free(x->matrix);
    sim_free(x->fscale);
    sim_free(x->mbuf);
    sim_free(x->flushes);
    sim_free(x->flush_off);
    sim_free(x->bucket_of_layer);
    sim_free(x->btask);
    sim_free(x->boff);
    sim_free(x->bgpus);
    topo_fini(&x->t);
    sim_engine_free(x->e);
}

sim_status step_simulate_routing(const scn_config *c, const step_routing *sr,
                                 const step_opts *o, step_result *out, sim_err *err)
{
    ctx x = {.c = c, .sr = sr, .calib = o ? o->calib : NULL};
    par_layout_of(c, &x.p);
    assert(sr->n_micro == x.p.n_micro && sr->L == c->model.layers && sr->ep == x.p.ep);
    for (int mb = 0; mb < sr->n_micro; mb++)
        assert(sr->set[mb] && "every micro-batch's routing is set");
    const sim_net_model *net = sim_net_model_find(c->network.model);
    x.gm = gemm_model_find(c->gemm.model);
    x.a2a = coll_find(COLL_ALL_TO_ALL, c->network.all_to_all);
    x.allreduce = coll_find(COLL_ALL_REDUCE, c->network.all_reduce);
    x.rs = coll_find(COLL_REDUCE_SCATTER, "ring");
    x.ag = coll_find(COLL_ALL_GATHER, "ring");
    assert(net && x.gm && x.a2a && x.allreduce && x.rs && x.ag);
    x.dt = strcmp(c->training.precision, "fp8") == 0 ? 1 : 2;
    gemm_device_of(c, &x.dev);
    x.n = x.p.world;
    x.L = c->model.layers;
    x.C = x.p.n_chunks;
    x.M = x.p.n_micro;
    x.T = x.p.tokens_per_micro;
    x.Ts = x.p.tokens_per_src;
    costs_of(&x);
    step_result res = {.n_gpus = x.n};
    sim_status st = sim_engine_new(net, &x.e, err);
    if (st != SIM_OK)
        return st;
    if (o && o->progress)
        sim_engine_set_progress(x.e, o->progress, o->progress_ctx, 1 << 16);
    sim_engine_set_net_quantum(x.e, sim_time_from_s(c->network.flow_quantum_us * 1e-6));
    st = topo_build(c, x.e, &x.t, err);
    if (st != SIM_OK)
        goto done;
    size_t n = (size_t)x.n, nh = (size_t)x.M * x.C * 2 * x.p.sim_plane;
    x.first = sim_malloc(((size_t)x.C + 1) * sizeof *x.first);
    x.stage_of_gpu = sim_malloc(n * sizeof *x.stage_of_gpu);
    x.slow = sim_malloc(n * sizeof *x.slow);
    x.stream = sim_malloc(n * sizeof *x.stream);
    x.prev = sim_malloc(n * sizeof *x.prev);
    x.gate = sim_malloc(n * sizeof *x.gate);
    x.dpc = sim_malloc(n * sizeof *x.dpc);
    x.done = sim_malloc(n * sizeof *x.done);
    x.a2a_done = sim_malloc(n * sizeof *x.a2a_done);
    x.side_done = sim_malloc(n * sizeof *x.side_done);
    x.pref = sim_malloc(n * sizeof *x.pref);
    x.pref_cur = sim_malloc(n * sizeof *x.pref_cur);
    x.handoff = sim_malloc(nh * sizeof *x.handoff);
    x.gpus = sim_malloc(n * sizeof *x.gpus);
    x.after = sim_malloc(n * sizeof *x.after);
    x.cdone = sim_malloc(n * sizeof *x.cdone);
    x.matrix = sim_malloc((size_t)x.p.ep * x.p.ep * sizeof *x.matrix);
    x.fscale = sim_malloc((size_t)x.p.ep * x.p.ep * sizeof *x.fscale);
    x.mbuf = sim_malloc((size_t)sr->spg * sizeof *x.mbuf);
    res.gpu_busy_s = sim_calloc(n, sizeof *res.gpu_busy_s);
    if (!x.first || !x.stage_of_gpu || !x.slow || !x.stream || !x.prev || !x.gate || !x.dpc ||
        !x.done || !x.a2a_done || !x.side_done || !x.handoff || !x.gpus || !x.after ||
        !x.cdone || !x.matrix || !x.fscale || !x.mbuf || !x.pref || !x.pref_cur || !res.gpu_busy_s) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building the step");
        goto done;
    }
    par_chunk_layers(&x.p, x.L, x.first);
    if (plan_buckets(&x) != SIM_OK) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building the step");
        goto done;
    }
    for (size_t i = 0; i < nh; i++)
        x.handoff[i] = -1;
    for (int g = 0; g < x.n; g++) {
        int q;
        par_coords(&x.p, g, &x.stage_of_gpu[g], &q);
        x.slow[g] = 1.0;
        x.stream[g] = sim_engine_add_resource(x.e);
        x.prev[g] = x.gate[g] = x.dpc[g] = x.a2a_done[g] = x.side_done[g] = -1;
        x.pref[g] = x.pref_cur[g] = -1;
    }
    for (int i = 0; i < c->cluster.n_slow; i++)
        x.slow[c->cluster.slow[i].gpu] = 1.0 / c->cluster.slow[i].speed;

    if (c->parallel.zero >= 1 && c->parallel.zero < 3 && c->training.overlap &&
        (st = start_gathers(&x, err)) != SIM_OK)
        goto done;
    if ((st = build_schedule(&x, err)) != SIM_OK)
        goto done;
    if (x.bfail != SIM_OK) {
        st = sim_err_set(err, x.bfail, "out of memory noting the step's ring bundles");
        goto done;
    }

    st = sim_engine_run(x.e, err);
    if (st != SIM_OK)
        goto done;
    res.step_time = sim_engine_makespan(x.e);
    res.events = sim_engine_events(x.e);
    res.n_tasks = sim_engine_n_tasks(x.e);
    for (int g = 0; g < x.n; g++) {
        /* a GPU outside the simulated replicas is represented by the simulated one with
         * the same stage and plane index mod sim_plane */
        int st_g, q;
        par_coords(&x.p, g, &st_g, &q);
        int rep = par_gpu(&x.p, st_g, q % x.p.sim_plane);
        res.gpu_busy_s[g] = sim_time_to_s(sim_engine_resource_busy(x.e, x.stream[rep]));
    }
    res.tokens = (double)c->training.global_batch * c->training.seq_len;
    res.dropped = sr->dropped * ((double)x.p.plane / x.p.sim_plane);
    res.max_mean_load = sr->max_mean_load;
    if (breakdown(&x, &res) != SIM_OK || comm_overlap(&x, &res) != SIM_OK) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory attributing the step time");
        goto done;
    }
    busiest_links(&x, &res);
    if (o && o->keep_spans)
        st = keep_spans(&x, o->span_gpus, &res, err);
done:
    if (st == SIM_OK)
        *out = res;
    else
        step_result_fini(&res);
    ctx_free(&x);
    return st;
}

sim_status step_simulate(const scn_config *c, const route_result *r, const step_opts *o,
                         step_result *out, sim_err *err)
{
    step_routing *sr = NULL;
    sim_status st = step_routing_new(c, &sr, err);
    if (st != SIM_OK)
        return st;
    for (int mb = 0; mb < sr->n_micro; mb++)
        step_routing_set(sr, mb, r);
    /* the same routing in every micro-batch: its drops count once per micro-batch */
    st = step_simulate_routing(c, sr, o, out, err);
    step_routing_free(sr);
    return st;
}

void step_result_fini(step_result *s)
{
    sim_free(s->spans);
    s->spans = NULL;
    s->n_spans = 0;
    sim_free(s->gpu_busy_s);
    s->gpu_busy_s = NULL;
}
