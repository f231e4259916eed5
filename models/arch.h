/* models/arch.h: a transformer's architecture as numbers: parameters by component (total and
 * active per token), forward and training FLOPs per token, and the per-token GEMM shapes of
 * the attention block, all derived from a resolved scenario's [model] keys.
 *
 * What the [model] keys describe (docs/MODEL.md, "Architectures"): `layers` layers, the first
 * `dense_layers` with a dense FFN (`ffn_dense`), the rest MoE layers (a router, `experts`
 * routed experts of size `ffn_expert` of which `top_k` per token, and `shared_experts`
 * always-active experts of size `ffn_shared`); attention is grouped-query (`heads`,
 * `kv_heads`, `head_dim`) or multi-head latent (`q_lora_rank`, `kv_lora_rank`,
 * `qk_nope_dim`, `qk_rope_dim`, `v_head_dim`); every FFN is gated (SwiGLU: 3 matrices) or a
 * plain MLP (2) after `swiglu`; `vocab` > 0 adds an input embedding, a final norm and an
 * output layer (the embedding matrix itself when `tied_embeddings`).
 *
 * Counting conventions, stated once:
 * - `total` counts every parameter once (a tied output layer is the embedding matrix).
 * - `active` counts the parameters a token's forward pass multiplies or adds: everything but
 *   the unchosen routed experts and the input embedding table (a lookup of one row, no FLOPs).
 *   OpenAI (gpt-oss), Databricks (DBRX) and DeepSeek (V3: 36.6B) count this way.
 *   `active_with_embedding` adds the input embedding table (Mistral's 12.9B for Mixtral).
 * - FLOPs: 2 per multiply-add of every weight matrix a token passes through (norm weights
 *   and biases are not matrix products and are left out), plus the attention core:
 *   per layer `heads x (qk_head_dim + v_head_dim) x seq_len` forward (QK^T and PV, causal:
 *   on average a token attends to seq_len/2 positions, the diagonal's extra 1/2 ignored).
 *   Training = 3 x forward (the backward computes a data and a weight gradient for every
 *   product, and twice the attention core), without recomputation.
 * Pure functions of the config; no I/O, no allocation. */
#ifndef MODELS_ARCH_H
#define MODELS_ARCH_H

#include <stdint.h>

#include "models/scenario.h"

typedef struct arch_params {
    double embedding;          /* input embedding table (0 when vocab = 0) */
    double attention;          /* all layers: projections, their biases, q/k and MLA norms */
    double norms;              /* two pre-norms per layer, plus the final norm with vocab > 0 */
    double router;             /* all MoE layers: d x E (+ E biases) */
    double shared;             /* shared experts of all MoE layers */
    double routed;             /* routed experts of all MoE layers */
    double dense_ffn;          /* FFNs of the dense layers */
    double output;             /* output layer; 0 when tied (it is `embedding`) or vocab = 0 */
    double total;
    double active;             /* per token, without the input embedding table */
    double active_with_embedding;
    double routed_active;      /* the top_k routed experts of every MoE layer */
    double non_embedding;      /* total - embedding - output */
} arch_params;

typedef struct arch_flops {
    double matmul_fwd;         /* 2 x the weight-matrix entries a token multiplies */
    double attn_fwd;           /* attention core, depends on seq_len */
    double fwd;                /* matmul_fwd + attn_fwd */
    double train;              /* 3 x fwd */
} arch_flops;

int arch_moe_layers(const scn_config *c);                /* layers - dense_layers */
int arch_is_mla(const scn_config *c);

/* Per layer (one MoE or dense layer), parameters including biases. */
double arch_attn_params_layer(const scn_config *c);      /* projections, biases, inner norms */
double arch_attn_matrix_params_layer(const scn_config *c);   /* projection matrices only */
double arch_expert_params(const scn_config *c);          /* one routed expert */
double arch_expert_matrix_params(const scn_config *c);
double arch_shared_params_layer(const scn_config *c);    /* all shared experts of one layer */
double arch_dense_ffn_params_layer(const scn_config *c);
double arch_router_params_layer(const scn_config *c);

void arch_count(const scn_config *c, arch_params *out);
/* FLOPs per token of a sequence of seq_len tokens (causal). */
void arch_flops_per_token(const scn_config *c, int64_t seq_len, arch_flops *out);

/* Attention geometry per token. q_dim: query width (heads x qk head dim); k_dim, v_dim: the
 * key and value widths the core reads (GQA: kv_heads x head_dim; MLA: expanded to every
 * head, as training computes it); o_dim: the core's output width (heads x v head dim). */
typedef struct arch_attn_dims {
    int64_t q_dim, k_dim, v_dim, o_dim;
    int64_t qk_head, v_head;     /* per-head dims of scores and values */
} arch_attn_dims;
void arch_attn_dims_of(const scn_config *c, arch_attn_dims *out);

/* The attention block's projections as GEMMs over T tokens: GEMM i is T x n[i] x k[i].
 * GQA: the fused QKV projection and the output projection (2); MLA: query down and up (or
 * one query projection when q_lora_rank = 0), key/value down, key/value up, output (4 or 5).
 * Returns the count (at most ARCH_MAX_ATTN_GEMMS). */
#define ARCH_MAX_ATTN_GEMMS 5
int arch_attn_gemms(const scn_config *c, int64_t n[ARCH_MAX_ATTN_GEMMS],
                    int64_t k[ARCH_MAX_ATTN_GEMMS]);

/* How tensor parallelism shards each GEMM of arch_attn_gemms, as Megatron does: COLUMN
 * splits n (query, key, value projections; MLA's up-projections), ROW splits k (the output
 * projection), NONE keeps it whole on every TP rank (MLA's down-projections). */
enum { ARCH_TP_NONE, ARCH_TP_COLUMN, ARCH_TP_ROW };
void arch_attn_gemm_tp(const scn_config *c, int split[ARCH_MAX_ATTN_GEMMS]);

#endif
