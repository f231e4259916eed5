/* models/arch.c: parameter and FLOP accounting of a transformer architecture (see
 * models/arch.h for the conventions and docs/MODEL.md for the formulas). */
#include "models/arch.h"

#include <string.h>

int arch_moe_layers(const scn_config *c) { return c->model.layers - c->model.dense_layers; }

int arch_is_mla(const scn_config *c) { return strcmp(c->model.attention, "mla") == 0; }

static double ffn_mats(const scn_config *c) { return c->model.swiglu ? 3.0 : 2.0; }

static int64_t head_dim(const scn_config *c)
{
    return c->model.head_dim > 0 ? c->model.head_dim : c->model.hidden / c->model.heads;
}

void arch_attn_dims_of(const scn_config *c, arch_attn_dims *o)
{
    int64_t h = c->model.heads;
    if (arch_is_mla(c)) {
        o->qk_head = (int64_t)c->model.qk_nope_dim + c->model.qk_rope_dim;
        o->v_head = c->model.v_head_dim;
        o->q_dim = h * o->qk_head;
        o->k_dim = h * o->qk_head;
        o->v_dim = h * o->v_head;
        o->o_dim = h * o->v_head;
    } else {
        int64_t hd = head_dim(c);
        o->qk_head = o->v_head = hd;
        o->q_dim = o->o_dim = h * hd;
        o->k_dim = o->v_dim = (int64_t)c->model.kv_heads * hd;
    }
}

int arch_attn_gemms(const scn_config *c, int64_t n[ARCH_MAX_ATTN_GEMMS],
                    int64_t k[ARCH_MAX_ATTN_GEMMS])
{
    int64_t d = c->model.hidden;
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    int i = 0;
    if (arch_is_mla(c)) {
        int64_t ql = c->model.q_lora_rank, kl = c->model.kv_lora_rank, h = c->model.heads;
        if (ql > 0) {
            n[i] = ql, k[i++] = d;                       /* query down-projection */
            n[i] = a.q_dim, k[i++] = ql;                 /* query up-projection */
        } else {
            n[i] = a.q_dim, k[i++] = d;                  /* uncompressed query projection */
        }
        n[i] = kl + c->model.qk_rope_dim, k[i++] = d;    /* key/value down + shared rope key */
        n[i] = h * ((int64_t)c->model.qk_nope_dim + c->model.v_head_dim), k[i++] = kl;
        n[i] = d, k[i++] = a.o_dim;                      /* output projection */
    } else {
        n[i] = a.q_dim + a.k_dim + a.v_dim, k[i++] = d;  /* fused QKV projection */
        n[i] = d, k[i++] = a.o_dim;                      /* output projection */
    }
    return i;
}

void arch_attn_gemm_tp(const scn_config *c, int split[ARCH_MAX_ATTN_GEMMS])
{
    int i = 0;
    if (arch_is_mla(c)) {
        if (c->model.q_lora_rank > 0) {
            split[i++] = ARCH_TP_NONE;           /* query down */
            split[i++] = ARCH_TP_COLUMN;         /* query up */
        } else {
            split[i++] = ARCH_TP_COLUMN;         /* query */
        }
        split[i++] = ARCH_TP_NONE;               /* key/value down + rope key */
        split[i++] = ARCH_TP_COLUMN;             /* key/value up */
    } else {
        split[i++] = ARCH_TP_COLUMN;             /* fused QKV */
    }
    split[i++] = ARCH_TP_ROW;                    /* output */
}

double arch_attn_matrix_params_layer(const scn_config *c)
{
    int64_t n[ARCH_MAX_ATTN_GEMMS], k[ARCH_MAX_ATTN_GEMMS];
    int g = arch_attn_gemms(c, n, k);
    double p = 0;
    for (int i = 0; i < g; i++)
        p += (double)n[i] * (double)k[i];
    return p;
}

double arch_attn_params_layer(const scn_config *c)
{
    double p = arch_attn_matrix_params_layer(c);
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    if (arch_is_mla(c)) {
        p += c->model.kv_lora_rank;                     /* norm of the compressed key/value */
        if (c->model.q_lora_rank > 0)
            p += c->model.q_lora_rank;                  /* norm of the compressed query */
    }
    if (c->model.attn_bias)
        p += (double)(a.q_dim + a.k_dim + a.v_dim) + c->model.hidden;
    if (c->model.qk_norm)
        p += (double)(a.qk_head + a.qk_head);
    return p;
}

double arch_expert_matrix_params(const scn_config *c)
{
    return ffn_mats(c) * c->model.hidden * (double)c->model.ffn_expert;
}

double arch_expert_params(const scn_config *c)
{
    double p = arch_expert_matrix_params(c);
    if (c->model.expert_bias)      /* up (and gate) outputs, down output */
        p += (ffn_mats(c) - 1.0) * c->model.ffn_expert + c->model.hidden;
    return p;
}

double arch_shared_params_layer(const scn_config *c)
{
    int64_t fs = c->model.ffn_shared > 0 ? c->model.ffn_shared : c->model.ffn_expert;
    return (double)c->model.shared_experts * ffn_mats(c) * c->model.hidden * (double)fs;
}

double arch_dense_ffn_params_layer(const scn_config *c)
{
    return ffn_mats(c) * c->model.hidden * (double)c->model.ffn_dense;
}

double arch_router_params_layer(const scn_config *c)
{
    double p = (double)c->model.hidden * c->model.experts;
    if (c->model.expert_bias)
        p += c->model.experts;
    return p;
}

void arch_count(const scn_config *c, arch_params *o)
{
    memset(o, 0, sizeof *o);
    double L = c->model.layers, Lm = arch_moe_layers(c), Ld = c->model.dense_layers;
    double d = c->model.hidden, V = c->model.vocab;
    o->embedding = V * d;
    o->output = (V > 0 && !c->model.tied_embeddings) ? V * d : 0.0;
    o->attention = L * arch_attn_params_layer(c);
    o->norms = L * 2.0 * d + (V > 0 ? d : 0.0);
    o->router = Lm * arch_router_params_layer(c);
    o->shared = Lm * arch_shared_params_layer(c);
    o->routed = Lm * c->model.experts * arch_expert_params(c);
    o->dense_ffn = Ld * arch_dense_ffn_params_layer(c);
    o->total = o->embedding + o->output + o->attention + o->norms + o->router + o->shared +
               o->routed + o->dense_ffn;
    o->non_embedding = o->total - o->embedding - o->output;
    o->routed_active = Lm * c->model.top_k * arch_expert_params(c);
    /* the output layer is a product every token makes, with its own matrix or the tied one */
    double out_used = V > 0 ? V * d : 0.0;
    o->active = o->attention + o->norms + o->router + o->shared + o->routed_active +
                o->dense_ffn + out_used;
    o->active_with_embedding = o->active + (c->model.tied_embeddings ? 0.0 : o->embedding);
}

void arch_flops_per_token(const scn_config *c, int64_t seq_len, arch_flops *o)
{
    double Lm = arch_moe_layers(c), Ld = c->model.dense_layers, L = c->model.layers;
    double d = c->model.hidden, V = c->model.vocab;
    double per_moe = arch_router_params_layer(c) - (c->model.expert_bias ? c->model.experts : 0) +
                     arch_shared_params_layer(c) + c->model.top_k * arch_expert_matrix_params(c);
    double mats = L * arch_attn_matrix_params_layer(c) + Lm * per_moe +
                  Ld * arch_dense_ffn_params_layer(c) + V * d;
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    o->matmul_fwd = 2.0 * mats;
    o->attn_fwd = L * (double)c->model.heads * (double)(a.qk_head + a.v_head) * (double)seq_len;
    o->fwd = o->matmul_fwd + o->attn_fwd;
    o->train = 3.0 * o->fwd;
}
