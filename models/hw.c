/* models/hw.c: GPU and link preset tables with the source of every figure. */
#include "models/hw.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* Efficiencies used below, and where they come from:
 * - gemm_efficiency 0.76 (H100): cuBLAS bf16 reaches about 750 of 989 dense TFLOP/s on a
 *   1024x4096x4096 GEMM (figure quoted in issue 4 of this project; NVIDIA's own
 *   "Hopper tuning guide" and public cuBLAS benchmarks report 700-780 TFLOP/s). Other GPUs
 *   use the same fraction until a measurement of their own is recorded in VALIDATION.md.
 * - attention kernels (hw_attn_curve, below).
 * - fp8_efficiency_ratio (Hopper: H100, H800, H200): cuBLAS fp8 GEMMs reach a smaller
 *   fraction of the fp8 peak than bf16 GEMMs of the bf16 peak. Measured on an H200 (the
 *   GH100 chip of the H100, same tensor cores and 700 W limit), short runs before the power
 *   cap: bf16 0.7680 of 989.5 TFLOP/s, fp8 0.6977 of 1979 (tile-ai/TileOPs,
 *   src/tileops/perf/profiles/h200.yaml, "calibration_burst"; sustained 0.7077 and 0.6303):
 *   0.6977 / 0.7680 = 0.908. Other GPUs have no such measurement here: ratio 1.
 * - mem_efficiency 0.85: streaming kernels (copies, elementwise) reach 80-90% of the HBM
 *   data-sheet bandwidth on A100/H100 (STREAM-like measurements, e.g. the
 *   "nvbandwidth"/BabelStream results published for these parts).
 * - link efficiency: the large-message bandwidth NCCL reaches over the per-direction line
 *   rate (its protocol overhead), each value below with its measurement. Where no
 *   measurement of a link is known the factor of its closest relative is reused and the
 *   comment says "assumed". docs/VALIDATION.md lists how well the results match. */
#define FP8_RATIO_HOPPER 0.908

/* Causal attention, cuDNN's fused kernel on an H100 SXM5 (bf16, head dim 128, batch x seq =
 * 16k tokens, clock held at 1830 MHz, cuDNN 9.1; FlashAttention-3 paper, Shah et al., arXiv
 * 2407.08608, figures 5 and 6), the kernel Megatron-Core runs through Transformer Engine.
 * Forward, causal, measured: 484, 518 and 529 TFLOP/s at 2k, 4k and 8k tokens.
 * Backward: the paper measures it without the causal mask only (465, 499, 518 TFLOP/s).
 * The causal backward is slower (a diagonal tile per row of blocks, shorter rows to
 * pipeline); its ratio to the non-causal one is taken from cuDNN 9.19 on an H200 (same GH100
 * chip), measured at the same lengths with 64 query and 8 KV heads, batch 1:
 * 370 / 504, 474 / 560 and 541 / 594 (NVIDIA/cudnn-frontend,
 * benchmark/sdpa_benchmark_training/results/h200_919_only_cudnn/llama3.1_20260227_034703.csv).
 * So 465 x 370/504 = 341.4, 499 x 474/560 = 422.4 and 518 x 541/594 = 471.8 TFLOP/s.
 * Longer sequences hold the 8k figures (on that H200 the rates still rise 4.5% forward and
 * 7% backward from 8k to 16k, so long contexts are costed a little slow). Other GPUs reuse
 * these fractions (assumed; FA2 reports 50-73% of an A100's peak). */
static const hw_attn_curve attn_cudnn_h100 = {
    .n = 3,
    .seq = {2048, 4096, 8192},
    .fwd = {484.0 / 989.0, 518.0 / 989.0, 529.0 / 989.0},
    .bwd = {465.0 * 370.0 / 504.0 / 989.0, 499.0 * 474.0 / 560.0 / 989.0,
            518.0 * 541.0 / 594.0 / 989.0},
};

static const hw_gpu gpus[] = {
    /* A100 SXM4 80GB data sheet: 312 TFLOP/s bf16 dense, no fp8, 2039 GB/s HBM2e, 108 SMs;
     * 12 NVLink3 links to NVSwitch; PCIe Gen4 to the NICs. */
    {.name = "a100-sxm", .bf16_tflops = 312.0, .fp8_tflops = 0.0, .hbm_GB = 80.0,
     .hbm_GBps = 2039.0, .n_sm = 108, .gemm_efficiency = 0.76, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "nvlink3", .pcie = "pcie4", .topology = "nvswitch",
     .source = "NVIDIA A100 Tensor Core GPU data sheet (SXM4 80GB)"},
    /* H100 SXM5 data sheet: 989 TFLOP/s bf16 dense (1979 with 2:4 sparsity), 1979 fp8
     * dense, 80 GB HBM3 at 3.35 TB/s, 132 SMs; 18 NVLink4 links to NVSwitch; PCIe Gen5. */
    {.name = "h100-sxm", .bf16_tflops = 989.0, .fp8_tflops = 1979.0, .hbm_GB = 80.0,
     .hbm_GBps = 3350.0, .n_sm = 132, .gemm_efficiency = 0.76,
     .fp8_efficiency_ratio = FP8_RATIO_HOPPER, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "nvlink4", .pcie = "pcie5", .topology = "nvswitch",
     .source = "NVIDIA H100 Tensor Core GPU data sheet (SXM5)"},
    /* H800 SXM5 (export variant of the H100 SXM): same die and compute (989 bf16 dense,
     * 1979 fp8 dense, 80 GB HBM3 at 3.35 TB/s, 132 SMs); NVLink cut to 400 GB/s
     * bidirectional (8 links), see h800-nvlink. */
    {.name = "h800", .bf16_tflops = 989.0, .fp8_tflops = 1979.0, .hbm_GB = 80.0,
     .hbm_GBps = 3350.0, .n_sm = 132, .gemm_efficiency = 0.76,
     .fp8_efficiency_ratio = FP8_RATIO_HOPPER, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "h800-nvlink", .pcie = "pcie5", .topology = "nvswitch",
     .source = "NVIDIA H800 SXM5 product brief; DeepEP issue 16 (H800 NVLink 200 GB/s)"},
    /* H200 SXM data sheet: same compute as H100 SXM, 141 GB HBM3e at 4.8 TB/s. */
    {.name = "h200", .bf16_tflops = 989.0, .fp8_tflops = 1979.0, .hbm_GB = 141.0,
     .hbm_GBps = 4800.0, .n_sm = 132, .gemm_efficiency = 0.76,
     .fp8_efficiency_ratio = FP8_RATIO_HOPPER, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "nvlink4", .pcie = "pcie5", .topology = "nvswitch",
     .source = "NVIDIA H200 Tensor Core GPU data sheet (SXM)"},
    /* B200 (HGX B200): 2.25 PFLOP/s bf16 dense, 4.5 PFLOP/s fp8 dense, 180 GB HBM3e at
     * 8 TB/s per GPU (DGX B200: 1,440 GB and 64 TB/s for 8 GPUs); 148 SMs; NVLink5. */
    {.name = "b200", .bf16_tflops = 2250.0, .fp8_tflops = 4500.0, .hbm_GB = 180.0,
     .hbm_GBps = 8000.0, .n_sm = 148, .gemm_efficiency = 0.76, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "nvlink5", .pcie = "pcie5", .topology = "nvswitch",
     .source = "NVIDIA HGX B200 data sheet (per-GPU figures, dense)"},
    /* AMD Instinct MI300X data sheet: 1307.4 TFLOP/s bf16 dense (2614.9 with sparsity),
     * 2614.9 fp8 dense, 192 GB HBM3 at 5.3 TB/s, 304 compute units; 8 GPUs fully
     * connected by Infinity Fabric (7 links each, see xgmi); PCIe Gen5. */
    {.name = "mi300x", .bf16_tflops = 1307.4, .fp8_tflops = 2614.9, .hbm_GB = 192.0,
     .hbm_GBps = 5300.0, .n_sm = 304, .gemm_efficiency = 0.76, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "xgmi", .pcie = "pcie5", .topology = "mesh",
     .source = "AMD Instinct MI300X accelerator data sheet"},
    /* GeForce RTX 4090 (NVIDIA Ada GPU architecture whitepaper, appendix): 165.2 TFLOP/s
     * bf16 dense with fp32 accumulate (330.4 sparse), 330.3 fp8 dense with fp32
     * accumulate, 24 GB GDDR6X at 1008 GB/s, 128 SMs; no NVLink and no peer-to-peer:
     * GPUs talk through the CPU over PCIe Gen4 x16. */
    {.name = "rtx4090", .bf16_tflops = 165.2, .fp8_tflops = 330.3, .hbm_GB = 24.0,
     .hbm_GBps = 1008.0, .n_sm = 128, .gemm_efficiency = 0.76, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "pcie4", .pcie = "pcie4", .topology = "pcie",
     .source = "NVIDIA Ada GPU architecture whitepaper (GeForce RTX 4090)"},
    /* H100 PCIe data sheet: 756 TFLOP/s bf16 dense (1513 sparse), 1513 fp8 dense, 80 GB
     * HBM2e at 2.0 TB/s, 114 SMs; PCIe Gen5; optional NVLink bridge between pairs
     * (600 GB/s bidirectional, see nvlink-bridge). */
    {.name = "h100-pcie", .bf16_tflops = 756.0, .fp8_tflops = 1513.0, .hbm_GB = 80.0,
     .hbm_GBps = 2000.0, .n_sm = 114, .gemm_efficiency = 0.76,
     .fp8_efficiency_ratio = FP8_RATIO_HOPPER, .mem_efficiency = 0.85,
     .attn = &attn_cudnn_h100,
     .intra = "pcie5", .pcie = "pcie5", .topology = "pcie",
     .source = "NVIDIA H100 Tensor Core GPU data sheet (PCIe)"},
};

static const hw_link links[] = {
    /* NVLink3 (A100): 12 links x 25 GB/s = 300 GB/s per direction. Efficiency: 8x A100
     * all-reduce busbw about 230 GB/s at 8 GB (nccl-tests issue 149, sjeaugey: "~20GB/s
     * effective per link ... ~230GB/s") -> 230 / 300 = 0.77. No NVLS on A100 (NVSwitch
     * gen2; nccl-tests issue 228). */
    {.name = "nvlink3", .bw_GBps = 300.0, .lat_us = 2.0, .efficiency = 0.77,
     .source = "NVIDIA A100 data sheet: 600 GB/s bidirectional NVLink"},
    /* NVLink4 (H100/H200 SXM): 18 links x 25 GB/s = 450 GB/s per direction. Efficiency:
     * "With the protocol overhead (~20%) NCCL can get an effective NVLink bandwidth of
     * 370GB/s" (nccl-tests issue 212, sjeaugey) -> 370 / 450 = 0.82. NVLS (NVLink SHARP
     * in the gen3 NVSwitch): calibrated once on the same issue's "peak busBw of ~480GB/s"
     * on 8 GPUs with the NVLS traffic model of models/coll_nvls.c (docs/NETWORK.md). */
    {.name = "nvlink4", .bw_GBps = 450.0, .lat_us = 2.0, .efficiency = 0.82,
     .source = "NVIDIA H100 data sheet: 900 GB/s bidirectional NVLink", .nvls = 1,
     .nvls_efficiency = 0.70},
    /* NVLink5 (B200): 18 links x 50 GB/s = 900 GB/s per direction. Efficiencies assumed
     * equal to NVLink4's (same protocol; no published nccl-tests figure used here). */
    {.name = "nvlink5", .bw_GBps = 900.0, .lat_us = 2.0, .efficiency = 0.82,
     .source = "NVIDIA B200 data sheet: 1.8 TB/s bidirectional NVLink", .nvls = 1,
     .nvls_efficiency = 0.70},
    /* H800 NVLink: 8 links x 25 GB/s = 200 GB/s per direction ("reduced configuration of
     * NVLink, featuring a nominal bandwidth of 200GB/s ... achievable bandwidth peaks at
     * approximately 160GB/s", DeepEP issue 16) -> 0.80. NVSwitch gen3: NVLS, factor
     * assumed equal to NVLink4's. */
    {.name = "h800-nvlink", .bw_GBps = 200.0, .lat_us = 2.0, .efficiency = 0.80,
     .source = "NVIDIA H800 product brief: 400 GB/s bidirectional NVLink", .nvls = 1,
     .nvls_efficiency = 0.70},
    /* PCIe Gen4 x16: 16 GT/s x 16 lanes x 128/130 = 31.5 GB/s per direction; Gen5 x16:
     * 63.0 GB/s. Efficiency 0.80 assumed (TLP headers on 256-byte payloads cap the link
     * at about 0.9; DMA engines typically reach 0.8 of the raw rate); not validated. */
    {.name = "pcie4", .bw_GBps = 31.5, .lat_us = 2.0, .efficiency = 0.80,
     .source = "PCI Express Base Specification 4.0: 16 GT/s per lane, 128b/130b"},
    {.name = "pcie5", .bw_GBps = 63.0, .lat_us = 2.0, .efficiency = 0.80,
     .source = "PCI Express Base Specification 5.0: 32 GT/s per lane, 128b/130b"},
    /* InfiniBand per port (one NIC per GPU): HDR 200 Gb/s, NDR 400 Gb/s, XDR 800 Gb/s.
     * Efficiency: all-to-all busbw across nodes with one NDR NIC per GPU is 46-48 GB/s
     * of the 50 GB/s line rate (nccl-tests issues 130 and 290) -> 0.94; HDR and XDR
     * assumed to reach the same fraction. */
    {.name = "hdr200", .bw_GBps = 25.0, .lat_us = 4.0, .efficiency = 0.94,
     .source = "InfiniBand HDR: 200 Gb/s per port"},
    {.name = "ndr400", .bw_GBps = 50.0, .lat_us = 4.0, .efficiency = 0.94,
     .source = "InfiniBand NDR: 400 Gb/s per port"},
    {.name = "xdr800", .bw_GBps = 100.0, .lat_us = 4.0, .efficiency = 0.94,
     .source = "InfiniBand XDR: 800 Gb/s per port"},
    /* RoCE v2 over 400 GbE and 100 GbE Ethernet: 50 and 12.5 GB/s per port. Efficiency
     * 0.90 assumed (Ethernet/IP/UDP/BTH headers on 4 KiB RDMA MTU frames cost about 2%,
     * congestion control the rest); latency a little above InfiniBand's. Not validated. */
    {.name = "roce400", .bw_GBps = 50.0, .lat_us = 5.0, .efficiency = 0.90,
     .source = "IEEE 802.3bs 400GBASE: 400 Gb/s per port"},
    {.name = "eth100", .bw_GBps = 12.5, .lat_us = 6.0, .efficiency = 0.90,
     .source = "IEEE 802.3 100GBASE: 100 Gb/s per port"},
    /* NVLink bridge between two H100 PCIe cards: 600 GB/s bidirectional (H100 PCIe data
     * sheet) -> 300 per direction. Efficiency assumed equal to NVLink4's. */
    {.name = "nvlink-bridge", .bw_GBps = 300.0, .lat_us = 2.0, .efficiency = 0.82,
     .source = "NVIDIA H100 PCIe data sheet: NVLink bridge 600 GB/s bidirectional"},
    /* AMD Infinity Fabric between two MI300X (one of 7 links per GPU): 128 GB/s
     * bidirectional -> 64 GB/s per direction (MI300X data sheet: 896 GB/s aggregate for
     * 7 links). Efficiency assumed 0.80, as H800 NVLink (no measurement used here). */
    {.name = "xgmi", .bw_GBps = 64.0, .lat_us = 2.0, .efficiency = 0.80,
     .source = "AMD Instinct MI300X data sheet: 128 GB/s bidirectional per IF link"},
};

const char hw_gpu_names[] = "a100-sxm|h100-sxm|h800|h200|b200|mi300x|rtx4090|h100-pcie";
const char hw_link_names[] = "nvlink3|nvlink4|nvlink5|h800-nvlink|pcie4|pcie5|hdr200|ndr400|"
                             "xdr800|roce400|eth100|nvlink-bridge|xgmi";

const hw_gpu *hw_gpu_find(const char *name)
{
    for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++)
        if (strcmp(gpus[i].name, name) == 0)
            return &gpus[i];
    return NULL;
}

const hw_link *hw_link_find(const char *name)
{
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (strcmp(links[i].name, name) == 0)
            return &links[i];
    return NULL;
}

void hw_attn_efficiency(const hw_gpu *gpu, int seq_len, double *fwd, double *bwd)
{
    const hw_attn_curve *a = gpu->attn;
    int i = 0;
    assert(a && a->n >= 1 && seq_len > 0);
    if (seq_len <= a->seq[0] || a->n == 1) {
        *fwd = a->fwd[0], *bwd = a->bwd[0];
        return;
    }
    while (i + 1 < a->n && a->seq[i + 1] < seq_len)
        i++;
    if (i + 1 == a->n) {
        *fwd = a->fwd[i], *bwd = a->bwd[i];
        return;
    }
    double t = log2((double)seq_len / a->seq[i]) / log2((double)a->seq[i + 1] / a->seq[i]);
    *fwd = a->fwd[i] + t * (a->fwd[i + 1] - a->fwd[i]);
    *bwd = a->bwd[i] + t * (a->bwd[i + 1] - a->bwd[i]);
}
