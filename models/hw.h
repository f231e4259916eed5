/* models/hw.h: hardware presets: GPUs and the links between them.
 *
 * Every number is the vendor's dense figure with its source in hw.c. Efficiency factors
 * (the fraction of a peak that real kernels and collectives reach) are documented with
 * their provenance next to each value; docs/VALIDATION.md compares the resulting
 * collective bandwidths with published measurements. Presets are looked up by name. */
#ifndef MODELS_HW_H
#define MODELS_HW_H

typedef struct hw_link {
    const char *name;
    double bw_GBps;          /* per direction, per GPU port, 1e9 bytes/s */
    double lat_us;           /* one-way latency of a message, microseconds */
    double efficiency;       /* achievable fraction of bw_GBps for large transfers */
    const char *source;
    int nvls;                /* 1: the switch behind this link reduces in-network (NVLS) */
    double nvls_efficiency;  /* achievable fraction of bw_GBps for NVLS traffic */
} hw_link;

/* A fused causal attention kernel's achieved fraction of the bf16 peak, measured at a few
 * sequence lengths (head dim 128; FLOPs counted as flash attention's benchmarks count them:
 * causal halved, backward 2.5 x the forward). Between points hw_attn_efficiency
 * interpolates linearly in log2(seq_len); outside them it holds the nearest point. */
#define HW_ATTN_POINTS 3
typedef struct hw_attn_curve {
    int n;
    int seq[HW_ATTN_POINTS];     /* increasing */
    double fwd[HW_ATTN_POINTS];
    double bwd[HW_ATTN_POINTS];
} hw_attn_curve;

typedef struct hw_gpu {
    const char *name;
    double bf16_tflops;      /* dense tensor-core peak, 1e12 FLOP/s */
    double fp8_tflops;       /* dense, 0 if unsupported */
    double hbm_GB;           /* memory capacity, 1e9 bytes */
    double hbm_GBps;         /* memory bandwidth, 1e9 bytes/s */
    int n_sm;                /* streaming multiprocessors (compute units) */
    double gemm_efficiency;  /* achieved fraction of bf16 peak on large GEMMs */
    double fp8_efficiency_ratio; /* fp8 GEMMs' achieved fraction of the fp8 peak over
                                  * gemm_efficiency (measured where the source says;
                                  * 0 = no measurement: taken as 1) */
    double mem_efficiency;   /* achieved fraction of HBM bandwidth by streaming kernels */
    const hw_attn_curve *attn; /* fused (flash) causal attention, by sequence length */
    const char *intra;       /* usual intra-node link preset */
    const char *source;
    const char *pcie;        /* host/NIC PCIe link preset */
    const char *topology;    /* usual node shape: "nvswitch", "pcie" or "mesh" */
} hw_gpu;

const hw_gpu *hw_gpu_find(const char *name);        /* NULL if unknown */
const hw_link *hw_link_find(const char *name);      /* NULL if unknown */
/* The fused attention kernel's efficiencies for sequences of seq_len tokens (> 0). */
void hw_attn_efficiency(const hw_gpu *gpu, int seq_len, double *fwd, double *bwd);
/* "|"-separated preset names, for config choices and messages. */
extern const char hw_gpu_names[];
extern const char hw_link_names[];

#endif
