/* models/gemm_device.c: the GEMM device a scenario describes (its GPU preset with the
 * scenario's efficiencies, launch overhead and tile; the attention kernel's efficiencies
 * at the scenario's sequence length). */
#include <assert.h>
#include <math.h>

#include "models/gemm.h"
#include "models/hw.h"
#include "models/scenario.h"

void gemm_device_of(const scn_config *c, gemm_device *out)
{
    const hw_gpu *gpu = hw_gpu_find(c->cluster.gpu);
    assert(gpu);
    *out = (gemm_device){
        .peak_flops = gpu->bf16_tflops * 1e12,
        .hbm_bytes_per_s = gpu->hbm_GBps * 1e9,
        .gemm_efficiency = c->cluster.gemm_efficiency,
        .mem_efficiency = c->cluster.mem_efficiency,
        .launch_s = c->cluster.launch_us * 1e-6,
        .n_sm = gpu->n_sm,
        .peak_fp8_flops = gpu->fp8_tflops * 1e12,
        .fp8_efficiency_ratio = gpu->fp8_efficiency_ratio,
        .tile_m = c->gemm.tile_m,
        .tile_n = c->gemm.tile_n,
    };
    if (isnan(c->cluster.attn_efficiency))
        hw_attn_efficiency(gpu, c->training.seq_len, &out->attn_fwd_efficiency,
                           &out->attn_bwd_efficiency);
    else
        out->attn_fwd_efficiency = out->attn_bwd_efficiency = c->cluster.attn_efficiency;
}
