/* models/memory.c: per-GPU memory footprint (see models/memory.h and docs/MODEL.md). */
#include "models/memory.h"

#include <stdio.h>
#include <string.h>

#include "models/arch.h"
#include "models/hw.h"
#include "models/par.h"

const char *const mem_part_names[MEM_N_PARTS] = {
#define MEM_X_NAME(e, n) n,
    MEM_PART_TABLE(MEM_X_NAME)
#undef MEM_X_NAME
};

#define ACT_BYTES 2.0        /* bf16 activations */

void mem_parallel_of(const scn_config *c, mem_parallel *p)
{
    par_layout l;
    par_layout_of(c, &l);
    p->tp = l.tp;
    p->pp = l.pp;
    p->ep = l.ep;
    p->dp = l.dp;
    p->edp = l.edp;
    int passes = l.n_micro * l.vpp, held = par_warmup(&l, 0) + 1;
    p->in_flight = (double)(held < passes ? held : passes) / l.vpp;
}

typedef struct act_layer {
    double attn, moe, dense;     /* elements per token of one layer's stored activations */
} act_layer;

/* Elements stored per token per layer for the backward pass, by block. selective drops what
 * is cheap to recompute from a kept input: norm outputs and activation-function outputs.
 * routed_copies: expert inputs per token this GPU holds (top_k x capacity factor). */
static void act_per_token(const scn_config *c, int selective, double routed_copies,
                          act_layer *o)
{
    double d = c->model.hidden, E = c->model.experts;
    double gate = c->model.swiglu ? 2.0 : 1.0;
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    double nout = selective ? 0.0 : d;
    /* input (norm backward), norm output, Q, K, V, core output, softmax statistics (fp32) */
    o->attn = d + nout + (double)(a.q_dim + a.k_dim + a.v_dim + a.o_dim) +
              2.0 * c->model.heads;
    if (arch_is_mla(c))      /* compressed query, key/value latent and rotary key */
        o->attn += (double)c->model.q_lora_rank + c->model.kv_lora_rank + c->model.qk_rope_dim;
    /* per FFN of intermediate size F on one token: up (and gate) output, activation output */
    double F = c->model.ffn_expert, Fs = c->model.ffn_shared, Fd = c->model.ffn_dense;
    double routed = routed_copies * (d + gate * F + (selective ? 0.0 : F) + d);
    double shared = c->model.shared_experts * (gate * Fs + (selective ? 0.0 : Fs));
    /* input, norm output, router logits (fp32), routed copies (input, up, act, output) */
    o->moe = d + nout + 2.0 * E + routed + shared;
    o->dense = d + nout + gate * Fd + (selective ? 0.0 : Fd);
}

void mem_footprint_of(const scn_config *c, const mem_parallel *par, mem_footprint *o)
{
    mem_parallel p;
    if (par)
        p = *par;
    else
        mem_parallel_of(c, &p);
    memset(o, 0, sizeof *o);
    const hw_gpu *gpu = hw_gpu_find(c->cluster.gpu);
    arch_params ap;
    arch_count(c, &ap);

    /* parameters held: non-expert ones split over tp x pp (an even split across pipeline
     * stages: the embedding and output layers really sit on the first and last stage),
     * experts over ep x pp (routed experts are not tensor-parallel: models/par.h) */
    double dense = (ap.total - ap.routed) / ((double)p.tp * p.pp);
    double expert = ap.routed / ((double)p.ep * p.pp);
    o->dense_params_per_gpu = dense;
    o->expert_params_per_gpu = expert;
    o->dp = p.dp;
    o->edp = p.edp;
    int z = c->parallel.zero;
    double sd = (double)p.dp, se = (double)p.edp;
    o->part_bytes[MEM_WEIGHTS] = MEM_WEIGHT_BYTES * (z >= 3 ? dense / sd + expert / se
                                                            : dense + expert);
    o->part_bytes[MEM_GRADS] = MEM_GRAD_BYTES * (z >= 2 ? dense / sd + expert / se
                                                        : dense + expert);
    o->part_bytes[MEM_OPTIMIZER] = MEM_OPTIM_BYTES * (z >= 1 ? dense / sd + expert / se
                                                             : dense + expert);

    /* activations of one micro-batch: T tokens per GPU */
    double T = (double)c->training.seq_len * c->training.micro_batch;
    double cf = c->routing.capacity_factor > 0 ? c->routing.capacity_factor : 1.0;
    double copies = c->model.top_k * cf;
    int sel = strcmp(c->training.recompute, "selective") == 0;
    int full = strcmp(c->training.recompute, "full") == 0;
    act_layer al;
    act_per_token(c, sel, copies, &al);
    double Lm = arch_moe_layers(c), Ld = c->model.dense_layers;
    double layers_here = (double)c->model.layers / p.pp;
    double per_moe = (al.attn + al.moe) * T * ACT_BYTES / p.tp;
    double per_dense = (al.attn + al.dense) * T * ACT_BYTES / p.tp;
    o->act_bytes_per_layer = Lm > 0 ? per_moe : per_dense;
    double act;
    if (full) {
        /* each layer keeps its input; one layer's activations are rebuilt at a time */
        act = p.in_flight * layers_here * T * c->model.hidden * ACT_BYTES / p.tp +
              (Lm > 0 ? per_moe : per_dense);
    } else {
        act = p.in_flight * (Lm * per_moe + Ld * per_dense) / p.pp;
    }
    /* logits of the output layer: bf16 and the fp32 copy the loss uses */
    act += T * (double)c->model.vocab * (2.0 + 4.0) / p.tp;
    o->part_bytes[MEM_ACTIVATIONS] = act;

    /* all-to-all buffers: the dispatch's send buffer (Ts x top_k tokens, Ts = T / tp the
     * tokens a GPU routes) and its receive buffer: capacity-bounded, or when dropless the
     * worst case in which every token of the EP group picks this GPU's experts (at most
     * min(top_k, local experts) copies each) */
    if (Lm > 0 && p.ep > 1) {
        T /= p.tp;
        double tok_bytes = (double)c->model.hidden * ACT_BYTES;
        int local = c->model.experts / p.ep;
        double worst = (double)p.ep * T * (c->model.top_k < local ? c->model.top_k : local);
        double recv = c->routing.capacity_factor > 0
                          ? c->routing.capacity_factor * T * c->model.top_k
                          : worst;
        o->part_bytes[MEM_A2A] = (T * c->model.top_k + recv) * tok_bytes;
    }
    o->part_bytes[MEM_RESERVE] = c->training.reserve_GB * 1e9;

    for (int i = 0; i < MEM_N_PARTS; i++)
        o->total_bytes += o->part_bytes[i];
    o->capacity_bytes = gpu ? gpu->hbm_GB * 1e9 : 0.0;
    o->fits = o->total_bytes <= o->capacity_bytes;
    if (!o->fits) {
        int big = 0;
        for (int i = 1; i < MEM_N_PARTS; i++)
            if (o->part_bytes[i] > o->part_bytes[big])
                big = i;
        snprintf(o->message, sizeof o->message,
                 "needs %.1f GB per GPU but %s has %.0f GB (%.1f GB over); largest part: %s "
                 "%.1f GB",
                 o->total_bytes * 1e-9, c->cluster.gpu, o->capacity_bytes * 1e-9,
                 (o->total_bytes - o->capacity_bytes) * 1e-9, mem_part_names[big],
                 o->part_bytes[big] * 1e-9);
    }
}
