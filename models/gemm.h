/* models/gemm.h: the GEMM cost-model interface and memory-bound kernel cost.
 *
 * A GEMM computes C[m x n] = A[m x k] B[k x n]: 2mnk FLOPs, reading A and B and writing
 * C. Cost models are vtables (name, state size, init/fini, time); look one up by name.
 * Times are seconds (double); the engine converts them once (sim/time.h). */
#ifndef MODELS_GEMM_H
#define MODELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"

typedef struct gemm_device {
    double peak_flops;          /* tensor-core peak at the precision used, FLOP/s */
    double hbm_bytes_per_s;     /* data-sheet HBM bandwidth */
    double gemm_efficiency;     /* achieved fraction of peak_flops */
    double mem_efficiency;      /* achieved fraction of hbm_bytes_per_s */
    double launch_s;            /* fixed cost of every kernel launch */
    int n_sm;
} gemm_device;

typedef struct gemm_model {
    const char *name;
    size_t state_size;
    sim_status (*init)(void *state, const gemm_device *dev, sim_err *err);
    void (*fini)(void *state);
    /* Seconds for one m x n x k GEMM with dtype_bytes-byte operands; 0 when m, n or k is 0
     * (no kernel is launched). */
    double (*time_s)(void *state, const gemm_device *dev, int64_t m, int64_t n, int64_t k,
                     int dtype_bytes);
} gemm_model;

/* max(compute at gemm_efficiency x peak, operand+result bytes at mem_efficiency x HBM)
 * + launch. */
extern const gemm_model gemm_roofline;

const gemm_model *gemm_model_find(const char *name);

/* Seconds for a memory-bound kernel moving `bytes` (read + written), plus launch;
 * 0 for 0 bytes. */
double gemm_memory_kernel_s(const gemm_device *dev, double bytes);

#endif
