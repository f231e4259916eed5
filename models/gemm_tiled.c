/* models/gemm_tiled.c: the tiled GEMM cost model: roofline with tile and wave quantization.
 *
 * The m x n output is cut into tile_m x tile_n tiles (a partial tile costs a full one). When
 * there are fewer tiles than SMs, the k dimension is split among the idle SMs (split-K /
 * stream-K, as cuBLAS and CUTLASS do for small outputs): s = floor(n_sm / tiles) slices of
 * ceil(k / s) rounded up to the 64-element k step. Work units run in waves of n_sm; a last
 * partial wave costs a full one. One unit takes 2 x tile_m x tile_n x k_slice FLOPs at one
 * SM's share of the achieved tensor rate. The kernel time is the larger of that compute time
 * and the operand and result bytes at the achieved HBM bandwidth, plus the launch overhead.
 * Formulas: docs/MODEL.md "GEMM cost"; measured error: docs/VALIDATION.md. */
#include "models/gemm.h"

#define TILED_K_STEP 64          /* k granularity of one main-loop iteration (bf16 and fp8) */

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Compute seconds for `tiles` output tiles over k. */
static double tiles_compute_s(const gemm_device *dev, int64_t tiles, int64_t k, int dtype_bytes)
{
    int64_t tm = dev->tile_m > 0 ? dev->tile_m : 128, tn = dev->tile_n > 0 ? dev->tile_n : 128;
    int64_t sms = dev->n_sm > 0 ? dev->n_sm : 1;
    int64_t split = tiles < sms ? sms / tiles : 1;
    int64_t k_slice = cdiv(cdiv(k, split), TILED_K_STEP) * TILED_K_STEP;
    int64_t waves = cdiv(tiles * split, sms);
    double per_sm = gemm_peak_flops(dev, dtype_bytes) / (double)sms;
    return (double)waves * 2.0 * (double)tm * (double)tn * (double)k_slice / per_sm;
}

static double tiled_time_s(void *state, const gemm_device *dev, int64_t m, int64_t n, int64_t k,
                           int dtype_bytes)
{
    return gemm_tiled.grouped_time_s(state, dev, 1, &m, n, k, dtype_bytes);
}

static double tiled_grouped_s(void *state, const gemm_device *dev, int n_groups,
                              const int64_t *m, int64_t n, int64_t k, int dtype_bytes)
{
    (void)state;
    if (n <= 0 || k <= 0)
        return 0.0;
    int64_t tm = dev->tile_m > 0 ? dev->tile_m : 128, tn = dev->tile_n > 0 ? dev->tile_n : 128;
    int64_t tiles = 0;
    double bytes = 0;
    for (int g = 0; g < n_groups; g++) {
        if (m[g] <= 0)
            continue;
        tiles += cdiv(m[g], tm) * cdiv(n, tn);
        bytes += gemm_bytes(m[g], n, k, dtype_bytes);
    }
    if (tiles == 0)
        return 0.0;
    double t_compute = tiles_compute_s(dev, tiles, k, dtype_bytes);
    double t_memory = bytes / (dev->hbm_bytes_per_s * dev->mem_efficiency);
    return (t_compute > t_memory ? t_compute : t_memory) + dev->launch_s;
}

const gemm_model gemm_tiled = {
    .name = "tiled",
    .state_size = 0,
    .init = NULL,
    .fini = NULL,
    .time_s = tiled_time_s,
    .grouped_time_s = tiled_grouped_s,
};
