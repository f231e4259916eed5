/* models/step.c: the training-step task graph (see models/step.h and docs/MODEL.md). */
#include "models/step.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "models/arch.h"
#include "models/coll.h"
#include "models/gemm.h"
#include "models/hw.h"
#include "models/topo.h"
#include "sim/alloc.h"
#include "sim/net.h"

const char *const step_category_names[STEP_N_CAT] = {
#define STEP_X_NAME(e, n) n,
    STEP_CATEGORY_TABLE(STEP_X_NAME)
#undef STEP_X_NAME
};

#define DTYPE_BYTES 2     /* bf16 activations, weights and gradients */

typedef struct ctx {
    const scn_config *c;
    const route_result *r;
    sim_engine *e;
    topo t;
    gemm_device dev;
    const gemm_model *gm;
    const gemm_calib *calib;  /* measured GEMM times, or NULL */
    int dt;               /* GEMM operand bytes: 2 bf16, 1 fp8 */
    int64_t *mbuf;        /* [slots] scratch: tokens of each local expert slot */
    int n;                /* GPUs */
    int64_t T;            /* tokens per GPU */
    sim_id *stream;       /* [n] compute stream of each GPU */
    sim_id *prev;         /* [n] last compute task of each GPU */
    /* communication (models/coll.h) */
    const coll_algo *a2a, *allreduce;
    sim_id *join;         /* [n] each GPU's done task of the last all_to_all */
    int *gpus;            /* [n] scratch: ranks of one collective */
    sim_id *after;        /* [n] scratch */
    double *matrix;       /* [ep * ep] scratch: bytes of one EP group's all-to-allv */
} ctx;

static double gemm(const ctx *x, int64_t m, int64_t n, int64_t k)
{
    if (x->calib)
        return gemm_calib_time_s(x->calib, x->gm, NULL, &x->dev, m, n, k, x->dt, NULL);
    return x->gm->time_s(NULL, &x->dev, m, n, k, x->dt);
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

/* forward GEMM m x n x k, and its backward: dgrad (m x k x n) + wgrad (k x n x m) */
static double gemm_fb(const ctx *x, int64_t m, int64_t n, int64_t k, int backward)
{
    if (!backward)
        return gemm(x, m, n, k);
    return gemm(x, m, k, n) + gemm(x, k, n, m);
}

static double mem(const ctx *x, double bytes) { return gemm_memory_kernel_s(&x->dev, bytes); }

/* Attention block on one GPU: pre-norm, the projections (GQA: fused QKV; MLA: query and
 * key/value down- and up-projections, models/arch.h), causal attention core, output
 * projection. Backward costs each GEMM's dgrad + wgrad and twice the core's FLOPs. The core
 * runs at the bf16 rate (flash attention keeps bf16 in both precisions). */
static double attention_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int64_t T = x->T, d = c->model.hidden;
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    int64_t gn[ARCH_MAX_ATTN_GEMMS], gk[ARCH_MAX_ATTN_GEMMS];
    int ng = arch_attn_gemms(c, gn, gk);
    double norm = mem(x, 2.0 * T * d * DTYPE_BYTES);
    /* causal attention core: QK^T and PV over a mean context of s/2: per token
     * heads x (qk_head + v_head) x s FLOPs (GQA with head_dim = d / heads: 2 s d) */
    double core_flops = (double)T * c->training.seq_len * (double)c->model.heads *
                        (double)(a.qk_head + a.v_head) * (backward ? 2.0 : 1.0);
    double core_bytes = (double)T * (double)(a.q_dim + a.k_dim + a.v_dim + a.o_dim) * DTYPE_BYTES;
    double t_core = fmax(core_flops / (x->dev.peak_flops * x->dev.gemm_efficiency),
                         core_bytes / (x->dev.hbm_bytes_per_s * x->dev.mem_efficiency)) +
                    x->dev.launch_s;
    double t = (backward ? 2 : 1) * norm + gemm_fb(x, T, gn[0], gk[0], backward) + t_core;
    for (int i = 1; i < ng; i++)
        t += gemm_fb(x, T, gn[i], gk[i], backward);
    return t;
}

/* A dense FFN (dense layers, and the shared experts fused into one FFN of width f) over T
 * tokens: [pre-norm,] up (or gate+up) projection, activation, down projection. */
static double ffn_s(const ctx *x, int64_t T, int64_t f, int with_norm, int backward)
{
    const scn_config *c = x->c;
    int64_t d = c->model.hidden, up = c->model.swiglu ? 2 * f : f;
    double norm = with_norm ? mem(x, 2.0 * T * d * DTYPE_BYTES) : 0.0;
    double act = (double)T * f * (c->model.swiglu ? 3 : 2) * DTYPE_BYTES;
    return (backward ? 2 : 1) * norm + gemm_fb(x, T, up, d, backward) +
           (backward ? 2 : 1) * mem(x, act) + gemm_fb(x, T, d, f, backward);
}

/* Input embedding (a gather of T rows; backward: a scatter-add of the same bytes). */
static double embedding_s(const ctx *x)
{
    return mem(x, 2.0 * x->T * x->c->model.hidden * DTYPE_BYTES);
}

/* Final norm, output layer T x vocab x d, and the loss over the logits (bf16 logits written
 * and read, fp32 softmax): forward and backward alike in bytes. */
static double lm_head_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int64_t T = x->T, d = c->model.hidden, V = c->model.vocab;
    double norm = mem(x, 2.0 * T * d * DTYPE_BYTES);
    double loss = mem(x, (double)T * V * (2.0 + 4.0));
    return (backward ? 2 : 1) * norm + gemm_fb(x, T, V, d, backward) + loss;
}

/* Router: pre-FFN norm, router GEMM (d -> E), permute of the k copies of each token. */
static double router_s(const ctx *x, int backward)
{
    const scn_config *c = x->c;
    int64_t T = x->T, d = c->model.hidden;
    double norm = mem(x, 2.0 * T * d * DTYPE_BYTES);
    double permute = mem(x, 2.0 * T * c->model.top_k * d * DTYPE_BYTES);
    return (backward ? 2 : 1) * norm + gemm_fb(x, T, c->model.experts, d, backward) + permute;
}

/* Unpermute and weighted sum of the k expert outputs of each token. */
static double unpermute_s(const ctx *x)
{
    return mem(x, 2.0 * x->T * x->c->model.top_k * x->c->model.hidden * DTYPE_BYTES);
}

/* Experts held by GPU g in layer l, each over the tokens routed to it (one launch per
 * expert replica): up (or gate+up) projection, activation, down projection. */
static double experts_s(const ctx *x, int l, int g, int backward)
{
    const scn_config *c = x->c;
    const route_result *r = x->r;
    int64_t d = c->model.hidden, f = c->model.ffn_expert;
    int64_t up = c->model.swiglu ? 2 * f : f;
    /* the expert slots (placement, models/place.h) on g, each a replica's token share */
    int per_gpu = route_slots(r) / r->ep;
    int g0 = (g / r->ep) * r->ep, first = (g - g0) * per_gpu;
    double t = 0;
    int64_t total = 0;
    for (int e = first; e < first + per_gpu; e++) {
        int64_t m = 0;
        for (int s = g0; s < g0 + r->ep; s++)
            m += route_slot_row(r, l, s)[e];
        x->mbuf[e - first] = m;
        total += m;
        if (m == 0 || c->gemm.grouped)
            continue;
        double act = (double)m * f * (c->model.swiglu ? 3 : 2) * DTYPE_BYTES;
        t += gemm_fb(x, m, up, d, backward) + (backward ? 2 : 1) * mem(x, act) +
             gemm_fb(x, m, d, f, backward);
    }
    if (c->gemm.grouped && total > 0) {
        /* all local experts in one launch per GEMM, one activation kernel */
        double act = (double)total * f * (c->model.swiglu ? 3 : 2) * DTYPE_BYTES;
        t = (backward ? gemm_grouped_bwd(x, per_gpu, x->mbuf, up, d)
                      : gemm_grouped(x, per_gpu, x->mbuf, up, d)) +
            (backward ? 2 : 1) * mem(x, act) +
            (backward ? gemm_grouped_bwd(x, per_gpu, x->mbuf, d, f)
                      : gemm_grouped(x, per_gpu, x->mbuf, d, f));
    }
    return t;
}

static sim_id work(ctx *x, int g, double seconds, int cat)
{
    sim_id id = sim_engine_add_work(x->e, x->stream[g], sim_time_from_s(seconds), cat, g);
    if (x->prev[g] >= 0)
        sim_engine_add_dep(x->e, x->prev[g], id);
    x->prev[g] = id;
    return id;
}

/* Bytes GPU src sends to GPU dst in layer l's dispatch (tokens src routed to experts on
 * dst); the combine sends the same bytes back. */
static double a2a_bytes(const ctx *x, int l, int src, int dst)
{
    const route_result *r = x->r;
    int per_gpu = route_slots(r) / r->ep;          /* the expert slots on dst */
    int first = (dst % r->ep) * per_gpu;
    const int64_t *row = route_slot_row(r, l, src);
    int64_t tok = 0;
    for (int e = first; e < first + per_gpu; e++)
        tok += row[e];
    return (double)tok * x->c->model.hidden * DTYPE_BYTES;
}

/* One all-to-allv inside every EP group, with the algorithm of network.all_to_all. GPU
 * src sends dst a2a_bytes(l, src, dst) when `forward_dir`, else a2a_bytes(l, dst, src);
 * it starts after src's current last task. Afterwards x->join[g] is the task that
 * finishes when everything g receives has arrived. */
static sim_status all_to_all(ctx *x, int l, int forward_dir, int cat, sim_err *err)
{
    int ep = x->r->ep;
    for (int g0 = 0; g0 < x->n; g0 += ep) {
        for (int i = 0; i < ep; i++) {
            x->gpus[i] = g0 + i;
            x->after[i] = x->prev[g0 + i];
            for (int j = 0; j < ep; j++)
                x->matrix[(size_t)i * ep + j] =
                    i == j ? 0
                    : forward_dir ? a2a_bytes(x, l, g0 + i, g0 + j)
                                  : a2a_bytes(x, l, g0 + j, g0 + i);
        }
        coll_args a = {.e = x->e, .t = &x->t, .n = ep, .gpus = x->gpus, .after = x->after,
                       .category = cat, .matrix = x->matrix,
                       .chunk_bytes = coll_chunk_bytes(x->c),
                       .nvls_cost = topo_nvls_cost(x->c)};
        sim_status st = x->a2a->build(&a, x->join + g0, err);
        if (st != SIM_OK)
            return st;
    }
    return SIM_OK;
}

/* Compute task on g that waits for what g received in the last all_to_all. */
static sim_id work_after_flows(ctx *x, int g, double seconds, int cat)
{
    sim_id id = work(x, g, seconds, cat);
    sim_engine_add_dep(x->e, x->join[g], id);
    return id;
}

/* All-reduce of `bytes` over the GPUs first, first+stride, ... (p of them) with the
 * algorithm of network.all_reduce; each GPU starts after its last task. */
static sim_status allreduce(ctx *x, int first, int stride, int p, double bytes, sim_err *err)
{
    if (p <= 1 || bytes <= 0)
        return SIM_OK;
    for (int i = 0; i < p; i++) {
        x->gpus[i] = first + i * stride;
        x->after[i] = x->prev[first + i * stride];
    }
    coll_args a = {.e = x->e, .t = &x->t, .n = p, .gpus = x->gpus, .after = x->after,
                   .category = STEP_CAT_GRAD, .bytes = bytes,
                   .chunk_bytes = coll_chunk_bytes(x->c),
                   .nvls_cost = topo_nvls_cost(x->c)};
    return x->allreduce->build(&a, x->join, err);
}

/* Replicated parameters: everything but the routed experts (models/arch.h). */
double step_dense_params(const scn_config *c)
{
    arch_params p;
    arch_count(c, &p);
    return p.total - p.routed;
}

double step_expert_params_per_gpu(const scn_config *c)
{
    return (double)arch_moe_layers(c) * (c->model.experts / c->parallel.ep) *
           arch_expert_params(c);
}

static void load_metrics(const route_result *r, step_result *out)
{
    double dropped = 0, worst = 0;
    size_t per_layer = (size_t)r->n_gpus * r->n_experts;
    for (int l = 0; l < r->n_layers; l++) {
        for (int g0 = 0; g0 < r->n_gpus; g0 += r->ep) {
            double max = 0, sum = 0;
            for (int e = 0; e < r->n_experts; e++) {
                double load = 0;
                for (int s = g0; s < g0 + r->ep; s++) {
                    size_t i = l * per_layer + (size_t)s * r->n_experts + e;
                    load += (double)(r->counts[i] + r->dropped[i]);
                    dropped += (double)r->dropped[i];
                }
                sum += load;
                max = fmax(max, load);
            }
            if (sum > 0)
                worst = fmax(worst, max / (sum / r->n_experts));
        }
    }
    out->dropped = dropped;
    out->max_mean_load = worst;
    out->tokens = (double)r->tokens_per_gpu * r->n_gpus;
}

sim_status step_simulate(const scn_config *c, const route_result *r, step_result *out,
                         sim_err *err)
{
    return step_simulate_calibrated(c, r, NULL, out, err);
}

sim_status step_simulate_calibrated(const scn_config *c, const route_result *r,
                                    const gemm_calib *calib, step_result *out, sim_err *err)
{
    step_opts o = {.calib = calib};
    return step_simulate_opts(c, r, &o, out, err);
}

/* Copies every finished task into res->spans. */
static sim_status keep_spans(sim_engine *e, step_result *res, sim_err *err)
{
    size_t n = sim_engine_n_tasks(e);
    res->spans = sim_malloc((n ? n : 1) * sizeof *res->spans);
    if (!res->spans)
        return sim_err_set(err, SIM_ENOMEM, "out of memory keeping the step's tasks");
    for (size_t i = 0; i < n; i++) {
        const sim_record *rec = sim_engine_record(e, (sim_id)i);
        res->spans[i] = (step_span){.gpu = rec->owner, .category = rec->category,
                                    .is_flow = rec->kind == SIM_TASK_FLOW, .start = rec->start,
                                    .end = rec->end, .bytes = rec->bytes};
    }
    res->n_spans = n;
    return SIM_OK;
}

sim_status step_simulate_opts(const scn_config *c, const route_result *r, const step_opts *o,
                              step_result *out, sim_err *err)
{
    const gemm_calib *calib = o ? o->calib : NULL;
    assert(r->n_gpus == scn_world(c) && r->n_experts == c->model.experts &&
           r->n_layers == c->model.layers && r->ep == c->parallel.ep);
    const hw_gpu *gpu = hw_gpu_find(c->cluster.gpu);
    const sim_net_model *net = sim_net_model_find(c->network.model);
    assert(gpu && net);
    ctx x = {.c = c, .r = r, .n = r->n_gpus, .T = r->tokens_per_gpu,
             .gm = gemm_model_find(c->gemm.model), .calib = calib,
             .dt = strcmp(c->training.precision, "fp8") == 0 ? 1 : 2};
    assert(x.gm);
    x.a2a = coll_find(COLL_ALL_TO_ALL, c->network.all_to_all);
    x.allreduce = coll_find(COLL_ALL_REDUCE, c->network.all_reduce);
    assert(x.a2a && x.allreduce);
    x.dev = (gemm_device){
        .peak_flops = gpu->bf16_tflops * 1e12,
        .hbm_bytes_per_s = gpu->hbm_GBps * 1e9,
        .gemm_efficiency = c->cluster.gemm_efficiency,
        .mem_efficiency = c->cluster.mem_efficiency,
        .launch_s = c->cluster.launch_us * 1e-6,
        .n_sm = gpu->n_sm,
        .peak_fp8_flops = gpu->fp8_tflops * 1e12,
        .tile_m = c->gemm.tile_m,
        .tile_n = c->gemm.tile_n,
    };
    step_result res = {.n_gpus = x.n};
    sim_status st = sim_engine_new(net, &x.e, err);
    if (st != SIM_OK)
        return st;
    st = topo_build(c, x.e, &x.t, err);
    if (st != SIM_OK)
        goto done;
    x.stream = sim_malloc((size_t)x.n * sizeof *x.stream);
    x.prev = sim_malloc((size_t)x.n * sizeof *x.prev);
    x.join = sim_malloc((size_t)x.n * sizeof *x.join);
    x.gpus = sim_malloc((size_t)x.n * sizeof *x.gpus);
    x.after = sim_malloc((size_t)x.n * sizeof *x.after);
    x.matrix = sim_malloc((size_t)r->ep * r->ep * sizeof *x.matrix);
    x.mbuf = sim_malloc((size_t)route_slots(r) * sizeof *x.mbuf);
    res.gpu_busy_s = sim_calloc((size_t)x.n, sizeof *res.gpu_busy_s);
    if (!x.stream || !x.prev || !x.join || !x.gpus || !x.after || !x.matrix || !x.mbuf ||
        !res.gpu_busy_s) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building the step");
        goto done;
    }
    for (int g = 0; g < x.n; g++) {
        x.stream[g] = sim_engine_add_resource(x.e);
        x.prev[g] = -1;
    }

    double t_attn_f = attention_s(&x, 0), t_attn_b = attention_s(&x, 1);
    double t_router_f = router_s(&x, 0), t_router_b = router_s(&x, 1);
    double t_unperm = unpermute_s(&x);
    /* issue 4: dense leading layers, shared experts, embedding and output layer */
    int64_t f_shared = (int64_t)c->model.shared_experts * c->model.ffn_shared;
    double t_dense_f = ffn_s(&x, x.T, c->model.ffn_dense, 1, 0);
    double t_dense_b = ffn_s(&x, x.T, c->model.ffn_dense, 1, 1);
    double t_shared_f = f_shared > 0 ? ffn_s(&x, x.T, f_shared, 0, 0) : 0.0;
    double t_shared_b = f_shared > 0 ? ffn_s(&x, x.T, f_shared, 0, 1) : 0.0;
    int has_vocab = c->model.vocab > 0;
    if (has_vocab)
        for (int g = 0; g < x.n; g++)
            work(&x, g, embedding_s(&x), STEP_CAT_OTHER);
    for (int l = 0; l < c->model.layers; l++) {
        if (l < c->model.dense_layers) {
            for (int g = 0; g < x.n; g++) {
                work(&x, g, t_attn_f, STEP_CAT_ATTENTION);
                work(&x, g, t_dense_f, STEP_CAT_OTHER);
            }
            continue;
        }
        for (int g = 0; g < x.n; g++) {
            work(&x, g, t_attn_f, STEP_CAT_ATTENTION);
            work(&x, g, t_router_f, STEP_CAT_OTHER);
            if (f_shared > 0)
                work(&x, g, t_shared_f, STEP_CAT_EXPERT);
        }
        if ((st = all_to_all(&x, l, 1, STEP_CAT_DISPATCH, err)) != SIM_OK)
            goto done;
        for (int g = 0; g < x.n; g++)
            work_after_flows(&x, g, experts_s(&x, l, g, 0), STEP_CAT_EXPERT);
        if ((st = all_to_all(&x, l, 0, STEP_CAT_COMBINE, err)) != SIM_OK)
            goto done;
        for (int g = 0; g < x.n; g++)
            work_after_flows(&x, g, t_unperm, STEP_CAT_OTHER);
    }
    if (has_vocab)
        for (int g = 0; g < x.n; g++) {
            work(&x, g, lm_head_s(&x, 0), STEP_CAT_OTHER);
            work(&x, g, lm_head_s(&x, 1), STEP_CAT_OTHER);
        }
    for (int l = c->model.layers - 1; l >= 0; l--) {
        if (l < c->model.dense_layers) {
            for (int g = 0; g < x.n; g++) {
                work(&x, g, t_dense_b, STEP_CAT_OTHER);
                work(&x, g, t_attn_b, STEP_CAT_ATTENTION);
            }
            continue;
        }
        for (int g = 0; g < x.n; g++)
            work(&x, g, t_unperm, STEP_CAT_OTHER);
        /* gradients of the combine travel the dispatch's way, and vice versa */
        if ((st = all_to_all(&x, l, 1, STEP_CAT_COMBINE, err)) != SIM_OK)
            goto done;
        for (int g = 0; g < x.n; g++)
            work_after_flows(&x, g, experts_s(&x, l, g, 1), STEP_CAT_EXPERT);
        if ((st = all_to_all(&x, l, 0, STEP_CAT_DISPATCH, err)) != SIM_OK)
            goto done;
        for (int g = 0; g < x.n; g++) {
            work_after_flows(&x, g, t_router_b, STEP_CAT_OTHER);
            if (f_shared > 0)
                work(&x, g, t_shared_b, STEP_CAT_EXPERT);
            work(&x, g, t_attn_b, STEP_CAT_ATTENTION);
        }
    }
    if (has_vocab)
        for (int g = 0; g < x.n; g++)
            work(&x, g, embedding_s(&x), STEP_CAT_OTHER);
    /* gradients: replicated (attention, router, norms) over all GPUs; each expert over the
     * GPUs holding a replica of it (same EP rank in every EP group) */
    if ((st = allreduce(&x, 0, 1, x.n, step_dense_params(c) * DTYPE_BYTES, err)) != SIM_OK)
        goto done;
    int replicas = x.n / c->parallel.ep;
    for (int rank = 0; rank < c->parallel.ep; rank++)
        if ((st = allreduce(&x, rank, c->parallel.ep, replicas,
                            step_expert_params_per_gpu(c) * DTYPE_BYTES, err)) != SIM_OK)
            goto done;

    st = sim_engine_run(x.e, err);
    if (st != SIM_OK)
        goto done;
    res.step_time = sim_engine_makespan(x.e);
    res.events = sim_engine_events(x.e);
    sim_engine_critical_breakdown(x.e, STEP_N_CAT, STEP_CAT_IDLE, res.breakdown);
    for (int g = 0; g < x.n; g++)
        res.gpu_busy_s[g] = sim_time_to_s(sim_engine_resource_busy(x.e, x.stream[g]));
    load_metrics(r, &res);
    if (o && o->keep_spans)
        st = keep_spans(x.e, &res, err);
done:
    if (st == SIM_OK)
        *out = res;
    else
        step_result_fini(&res);
    sim_free(x.stream);
    sim_free(x.prev);
    sim_free(x.join);
    sim_free(x.gpus);
    sim_free(x.after);
    sim_free(x.matrix);
    sim_free(x.mbuf);
    topo_fini(&x.t);
    sim_engine_free(x.e);
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
