/* models/gemm.h: the GEMM cost-model interface and memory-bound kernel cost.
 *
 * A GEMM computes C[m x n] = A[m x k] B[k x n]: 2mnk FLOPs, reading A and B (dtype_bytes per
 * element: 2 for bf16, 1 for fp8) and writing C in bf16 (2 bytes; fp8 GEMMs also write bf16,
 * as DeepGEMM and Transformer Engine do). fp8 operands run at peak_fp8_flops. Cost models are
 * vtables (name, state size, init/fini, time, grouped time); look one up by name. Times are
 * seconds (double); the engine converts them once (sim/time.h).
 *
 * A calibration table (measured times of some m x n x k GEMMs) overrides any model by
 * interpolation: gemm_calib_time_s. The rule is in docs/MODEL.md ("GEMM cost"). */
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
    double peak_fp8_flops;      /* fp8 tensor-core peak, FLOP/s; 0 = no fp8 (bf16 peak used) */
    double fp8_efficiency_ratio;/* fp8 GEMMs reach gemm_efficiency x this of peak_fp8_flops
                                 * (0 = 1) */
    int tile_m, tile_n;         /* output tile of the tiled model (0: 128 x 128) */
    double attn_fwd_efficiency; /* fused attention kernel, fraction of the bf16 peak */
    double attn_bwd_efficiency; /* its backward, counting 2.5 x the forward's FLOPs */
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
    /* Seconds for one grouped launch of n_groups GEMMs m[g] x n x k sharing n and k (the
     * experts of one layer on one GPU, MegaBlocks / grouped-GEMM style); groups with m[g] = 0
     * cost nothing; 0 when every m[g] is 0. */
    double (*grouped_time_s)(void *state, const gemm_device *dev, int n_groups,
                             const int64_t *m, int64_t n, int64_t k, int dtype_bytes);
} gemm_model;

/* max(compute at gemm_efficiency x peak, operand+result bytes at mem_efficiency x HBM)
 * + launch. Grouped: the same over the summed FLOPs and bytes, one launch. */
extern const gemm_model gemm_roofline;
/* Tile and wave quantization (models/gemm_tiled.c; docs/MODEL.md "GEMM cost"). */
extern const gemm_model gemm_tiled;

/* The tensor-core rate for dtype_bytes-byte operands, at gemm_efficiency (fp8: times
 * fp8_efficiency_ratio). */
double gemm_peak_flops(const gemm_device *dev, int dtype_bytes);
/* Operand and result bytes of one GEMM: (mk + kn) x dtype_bytes + mn x 2. */
double gemm_bytes(int64_t m, int64_t n, int64_t k, int dtype_bytes);

/* One measured GEMM: kernel time (without launch overhead) of m x n x k. */
typedef struct gemm_calib_point {
    int64_t m, n, k;
    int dtype_bytes;
    double time_s;
} gemm_calib_point;

/* A calibration table: points sorted by (dtype_bytes, n, k, m), as gemm_calib_sort leaves
 * them. The caller owns the array. */
typedef struct gemm_calib {
    gemm_calib_point *pts;
    size_t n;
} gemm_calib;

void gemm_calib_sort(gemm_calib *cal);
/* The time of m x n x k with the table's help: where the table holds points of the same n, k
 * and dtype, their kernel times interpolated linearly in m (outside their m range: the model's
 * kernel time scaled by measured / modelled at the nearest point), plus the launch overhead;
 * failing that, points of the same m, n and dtype the same way along k (weight gradients
 * reduce over the token count); elsewhere the model's own time. *used (if not NULL) says
 * whether the table was used. */
double gemm_calib_time_s(const gemm_calib *cal, const gemm_model *gm, void *state,
                         const gemm_device *dev, int64_t m, int64_t n, int64_t k,
                         int dtype_bytes, int *used);

const gemm_model *gemm_model_find(const char *name);

/* The device of a resolved scenario: its GPU preset's peaks, HBM and SMs, with the
 * scenario's efficiencies, launch overhead and tile (models/gemm_device.c). */
struct scn_config;
void gemm_device_of(const struct scn_config *c, gemm_device *out);

/* Seconds for a memory-bound kernel moving `bytes` (read + written), plus launch;
 * 0 for 0 bytes. */
double gemm_memory_kernel_s(const gemm_device *dev, double bytes);

#endif
