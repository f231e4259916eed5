/* models/hw.c: GPU and link preset tables with the source of every figure. */
#include "models/hw.h"

#include <string.h>

/* Efficiencies used below, and where they come from:
 * - gemm_efficiency 0.76 (H100): cuBLAS bf16 reaches about 750 of 989 dense TFLOP/s on a
 *   1024x4096x4096 GEMM (figure quoted in issue 4 of this project; NVIDIA's own
 *   "Hopper tuning guide" and public cuBLAS benchmarks report 700-780 TFLOP/s). Other GPUs
 *   use the same fraction until a measurement of their own is recorded in VALIDATION.md.
 * - mem_efficiency 0.85: streaming kernels (copies, elementwise) reach 80-90% of the HBM
 *   data-sheet bandwidth on A100/H100 (STREAM-like measurements, e.g. the
 *   "nvbandwidth"/BabelStream results published for these parts).
 * - link efficiency: large-message nccl-tests busbw over the per-direction link rate.
 *   NVLink4 (H100 SXM, 450 GB/s per direction): ring all-reduce busbw about 370 GB/s
 *   (nccl-tests issue 212) -> 0.82. NVLink3 (A100, 300 GB/s): about 230 GB/s (nccl-tests
 *   issue 149) -> 0.77. InfiniBand NDR 400 Gb/s (50 GB/s): all-to-all busbw 46-48 GB/s per
 *   GPU across nodes (nccl-tests issues 130 and 290) -> 0.94; HDR uses the same factor. */

static const hw_gpu gpus[] = {
    /* A100 SXM4 80GB data sheet: 312 TFLOP/s bf16 dense, 2039 GB/s HBM2e, 108 SMs. */
    {"a100-sxm", 312.0, 0.0, 80.0, 2039.0, 108, 0.76, 0.85, "nvlink3",
     "NVIDIA A100 Tensor Core GPU data sheet (SXM4 80GB)"},
    /* H100 SXM5 data sheet: 989 TFLOP/s bf16 dense (1979 with 2:4 sparsity), 1979 fp8
     * dense, 80 GB HBM3 at 3.35 TB/s, 132 SMs. */
    {"h100-sxm", 989.0, 1979.0, 80.0, 3350.0, 132, 0.76, 0.85, "nvlink4",
     "NVIDIA H100 Tensor Core GPU data sheet (SXM5)"},
    /* H200 SXM data sheet: same compute as H100 SXM, 141 GB HBM3e at 4.8 TB/s. */
    {"h200", 989.0, 1979.0, 141.0, 4800.0, 132, 0.76, 0.85, "nvlink4",
     "NVIDIA H200 Tensor Core GPU data sheet (SXM)"},
    /* B200 (HGX B200): 2.25 PFLOP/s bf16 dense, 4.5 PFLOP/s fp8 dense, 180 GB HBM3e at
     * 8 TB/s per GPU (DGX B200: 1,440 GB and 64 TB/s for 8 GPUs); 148 SMs. */
    {"b200", 2250.0, 4500.0, 180.0, 8000.0, 148, 0.76, 0.85, "nvlink5",
     "NVIDIA HGX B200 data sheet (per-GPU figures, dense)"},
};

static const hw_link links[] = {
    /* NVLink3 (A100): 12 links x 25 GB/s = 300 GB/s per direction. */
    {"nvlink3", 300.0, 2.0, 0.77, "NVIDIA A100 data sheet: 600 GB/s bidirectional NVLink"},
    /* NVLink4 (H100 SXM): 18 links x 25 GB/s = 450 GB/s per direction. */
    {"nvlink4", 450.0, 2.0, 0.82, "NVIDIA H100 data sheet: 900 GB/s bidirectional NVLink"},
    /* NVLink5 (B200): 18 links x 50 GB/s = 900 GB/s per direction. */
    {"nvlink5", 900.0, 2.0, 0.82, "NVIDIA B200 data sheet: 1.8 TB/s bidirectional NVLink"},
    /* InfiniBand HDR 200 Gb/s and NDR 400 Gb/s per port (one NIC per GPU). */
    {"hdr200", 25.0, 4.0, 0.94, "InfiniBand HDR: 200 Gb/s per port"},
    {"ndr400", 50.0, 4.0, 0.94, "InfiniBand NDR: 400 Gb/s per port"},
};

const char hw_gpu_names[] = "a100-sxm|h100-sxm|h200|b200";
const char hw_link_names[] = "nvlink3|nvlink4|nvlink5|hdr200|ndr400";

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
