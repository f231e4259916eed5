/* models/gemm_roofline.c: the roofline GEMM cost model (no tile or wave quantization). */
#include <string.h>

#include "models/gemm.h"

static double roofline_time_s(void *state, const gemm_device *dev, int64_t m, int64_t n,
                              int64_t k, int dtype_bytes)
{
    (void)state;
    if (m <= 0 || n <= 0 || k <= 0)
        return 0.0;
    double flops = 2.0 * (double)m * (double)n * (double)k;
    double bytes = ((double)m * k + (double)k * n + (double)m * n) * dtype_bytes;
    double t_compute = flops / (dev->peak_flops * dev->gemm_efficiency);
    double t_memory = bytes / (dev->hbm_bytes_per_s * dev->mem_efficiency);
    return (t_compute > t_memory ? t_compute : t_memory) + dev->launch_s;
}

const gemm_model gemm_roofline = {
    .name = "roofline",
    .state_size = 0,
    .init = NULL,
    .fini = NULL,
    .time_s = roofline_time_s,
};

static const gemm_model *const models[] = {&gemm_roofline};

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
