/* models/cost.h: what a simulated step means for a training run: model FLOPs and MFU,
 * throughput, GPU-hours and dollars for the scenario's train_tokens.
 *
 * Model FLOPs per token are arch_flops_per_token's training FLOPs (3 x forward: 2 per weight
 * entry a token multiplies, plus the sequence-length attention term), the convention of the
 * MFU literature; recomputation and dropped tokens do not count as useful work. The peak is
 * the GPU's dense tensor-core rate at the scenario's precision. No I/O. */
#ifndef MODELS_COST_H
#define MODELS_COST_H

#include "models/scenario.h"

typedef struct cost_result {
    double params_total, params_active;     /* arch_count */
    double flops_per_token_train;           /* model FLOPs per token (fwd + bwd) */
    double tokens_per_s, tokens_per_s_per_gpu;
    double model_tflops_per_gpu;            /* model FLOPs per GPU per second, 1e12 */
    double peak_tflops;                     /* dense, at the precision used */
    double mfu;                             /* model_tflops_per_gpu / peak_tflops */
    double gpu_hours;                       /* for train_tokens on this cluster */
    double wall_days;                       /* wall-clock days for train_tokens */
    double cost_usd;                        /* gpu_hours x usd_per_gpu_hour */
    double gpu_hours_per_trillion_tokens;
    /* The same throughput counted as Megatron-LM's training log counts it
     * (num_floating_point_operations, 2024): 3 x (2 x the matrix entries a token multiplies,
     * router left out, + the attention core over the full sequence, not causal), so that
     * moesim can be held against a Megatron log's "TFLOP/s/GPU". */
    double megatron_flops_per_token;
    double megatron_tflops_per_gpu;
} cost_result;

/* step_time_s: one step; tokens_per_step: tokens the whole cluster processes in it. */
void cost_of(const scn_config *c, double step_time_s, double tokens_per_step,
             cost_result *out);

#endif
