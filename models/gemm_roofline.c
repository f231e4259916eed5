/* models/gemm_roofline.c: the roofline GEMM cost model (no tile or wave quantization), the
 * model registry, and the helpers every model shares (peak by dtype, bytes, memory-bound
 * kernels). */
#include <string.h>

#include "models/gemm.h"

double gemm_peak_flops(const gemm_device *dev, int dtype_bytes)
{
    if (dtype_bytes == 1 && dev->peak_fp8_flops > 0)
        return dev->peak_fp8_flops * dev->gemm_efficiency *
               (dev->fp8_efficiency_ratio > 0 ? dev->fp8_efficiency_ratio : 1.0);
    return dev->peak_flops * dev->gemm_efficiency;
}

double gemm_bytes(int64_t m, int64_t n, int64_t k, int dtype_bytes)
{
    return ((double)m * k + (double)k * n) * dtype_bytes + (double)m * n * 2.0;
}

static double roofline_time_s(void *state, const gemm_device *dev, int64_t m, int64_t n,
                              int64_t k, int dtype_bytes)
{
    (void)state;
    if (m <= 0 || n <= 0 || k <= 0)
        return 0.0;
    double flops = 2.0 * (double)m * (double)n * (double)k;
    double t_compute = flops / gemm_peak_flops(dev, dtype_bytes);
    double t_memory = gemm_bytes(m, n, k, dtype_bytes) / (dev->hbm_bytes_per_s * dev->mem_efficiency);
    return (t_compute > t_memory ? t_compute : t_memory) + dev->launch_s;
}

static double roofline_grouped_s(void *state, const gemm_device *dev, int n_groups,
                                 const int64_t *m, int64_t n, int64_t k, int dtype_bytes)
{
    (void)state;
    double flops = 0, bytes = 0;
    for (int g = 0; g < n_groups; g++) {
        if (m[g] <= 0)
            continue;
        flops += 2.0 * (double)m[g] * (double)n * (double)k;
        bytes += gemm_bytes(m[g], n, k, dtype_bytes);
    }
    if (flops <= 0 || n <= 0 || k <= 0)
        return 0.0;
    double t_compute = flops / gemm_peak_flops(dev, dtype_bytes);
    double t_memory = bytes / (dev->hbm_bytes_per_s * dev->mem_efficiency);
    return (t_compute > t_memory ? t_compute : t_memory) + dev->launch_s;
}

const gemm_model gemm_roofline = {
    .name = "roofline",
    .state_size = 0,
    .init = NULL,
    .fini = NULL,
    .time_s = roofline_time_s,
    .grouped_time_s = roofline_grouped_s,
};

static const gemm_model *const models[] = {&gemm_tiled, &gemm_roofline};

const gemm_model *gemm_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

double gemm_memory_kernel_s(const gemm_device *dev, double bytes)
{
    if (bytes <= 0)
        return 0.0;
    return bytes / (dev->hbm_bytes_per_s * dev->mem_efficiency) + dev->launch_s;
}
