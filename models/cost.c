/* models/cost.c: throughput, MFU and training cost from a step time (see models/cost.h). */
#include "models/cost.h"

#include <assert.h>
#include <string.h>

#include "models/arch.h"
#include "models/hw.h"

void cost_of(const scn_config *c, double step_time_s, double tokens_per_step, cost_result *out)
{
    assert(step_time_s > 0 && tokens_per_step > 0);
    memset(out, 0, sizeof *out);
    arch_params p;
    arch_count(c, &p);
    arch_flops f;
    arch_flops_per_token(c, c->training.seq_len, &f);
    const hw_gpu *gpu = hw_gpu_find(c->cluster.gpu);
    assert(gpu);
    int n = scn_world(c);
    int fp8 = strcmp(c->training.precision, "fp8") == 0;
    out->params_total = p.total;
    out->params_active = p.active;
    out->flops_per_token_train = f.train;
    out->tokens_per_s = tokens_per_step / step_time_s;
    out->tokens_per_s_per_gpu = out->tokens_per_s / n;
    out->model_tflops_per_gpu = f.train * out->tokens_per_s_per_gpu / 1e12;
    out->peak_tflops = fp8 ? gpu->fp8_tflops : gpu->bf16_tflops;
    out->mfu = out->model_tflops_per_gpu / out->peak_tflops;
    double seconds = c->cost.train_tokens / out->tokens_per_s;
    out->wall_days = seconds / 86400.0;
    out->gpu_hours = seconds * n / 3600.0;
    out->cost_usd = out->gpu_hours * c->cost.usd_per_gpu_hour;
    out->gpu_hours_per_trillion_tokens = 1e12 / out->tokens_per_s * n / 3600.0;
    out->megatron_flops_per_token =
        3.0 * (f.matmul_fwd - 2.0 * p.router + 2.0 * f.attn_fwd);
    out->megatron_tflops_per_gpu = out->megatron_flops_per_token * out->tokens_per_s_per_gpu / 1e12;
}
