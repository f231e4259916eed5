/* tests/test_gemm.c: GEMM cost models (models/gemm_tiled.c, models/gemm_roofline.c) and the
 * calibration table (models/gemm_calib.c): exact hand-computed cases, monotonicity in each
 * dimension, memory-bound below the ridge point, tile and wave quantization, grouped
 * launches, fp8, interpolation, the published measurements of docs/VALIDATION.md, and the
 * fused attention kernel's efficiency by sequence length (models/hw.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "models/gemm.h"
#include "models/hw.h"

/* A round device for hand computation: 132 SMs of 1e12 FLOP/s each, 1e12 B/s, 1 us launch. */
static const gemm_device toy = {
    .peak_flops = 132e12, .hbm_bytes_per_s = 1e12, .gemm_efficiency = 1, .mem_efficiency = 1,
    .launch_s = 1e-6, .n_sm = 132, .peak_fp8_flops = 264e12, .tile_m = 128, .tile_n = 128};

/* H100 SXM preset (models/hw.c): 989 / 1979 TFLOP/s bf16 / fp8 dense, 3350 GB/s, 132 SMs,
 * efficiencies 0.76 and 0.85; no launch overhead, as the published kernel timings exclude it. */
static const gemm_device h100 = {
    .peak_flops = 989e12, .hbm_bytes_per_s = 3350e9, .gemm_efficiency = 0.76,
    .mem_efficiency = 0.85, .launch_s = 0, .n_sm = 132, .peak_fp8_flops = 1979e12,
    .tile_m = 128, .tile_n = 128};

static double tiled(const gemm_device *d, int64_t m, int64_t n, int64_t k, int dt)
{
    return gemm_tiled.time_s(NULL, d, m, n, k, dt);
}

static void assert_close(double got, double want)
{
    if (fabs(got - want) > 1e-12 * fabs(want))
        fail_msg("got %.15g, want %.15g", got, want);
}

/* 256 x 256 x 1024 bf16: 4 tiles of 128 x 128 on 132 SMs, so k is split 33 ways:
 * ceil(1024 / 33) = 32, rounded up to the 64-element k step = 64; 132 units in 1 wave;
 * compute 2 x 128 x 128 x 64 / 1e12 = 2.097152 us; bytes (256x1024 + 1024x256 + 256x256) x 2
 * = 1,179,648 -> 1.179648 us; time = 2.097152 + 1 (launch) us.
 * 2048 x 2048 x 512: 256 tiles, no split, 2 waves of 132: 2 x 2 x 128 x 128 x 512 / 1e12 =
 * 33.554432 us vs bytes (2 x 2048 x 512 x 2 + 2048 x 2048 x 2) = 12,582,912 -> 12.58 us. */
static void test_exact_by_hand(void **state)
{
    (void)state;
    assert_close(tiled(&toy, 256, 256, 1024, 2), 2.097152e-6 + 1e-6);
    assert_close(tiled(&toy, 2048, 2048, 512, 2), 33.554432e-6 + 1e-6);
    /* roofline of the same: 2 x 2048^2 x 512 / 132e12 = 32.537... us (no wave loss) */
    assert_close(gemm_roofline.time_s(NULL, &toy, 2048, 2048, 512, 2),
                 2.0 * 2048 * 2048 * 512 / 132e12 + 1e-6);
    assert_true(gemm_roofline.time_s(NULL, &toy, 2048, 2048, 512, 2) <
                tiled(&toy, 2048, 2048, 512, 2));
    /* empty GEMMs launch nothing */
    assert_true(tiled(&toy, 0, 256, 256, 2) == 0 && tiled(&toy, 256, 256, 0, 2) == 0);
}

/* Non-decreasing in m, n and k separately, for both models and both precisions. */
static void test_monotonic(void **state)
{
    (void)state;
    const gemm_model *ms[] = {&gemm_tiled, &gemm_roofline};
    for (int mi = 0; mi < 2; mi++)
        for (int dt = 1; dt <= 2; dt++)
            for (int dim = 0; dim < 3; dim++) {
                double prev = 0;
                for (int64_t x = 1; x <= 9000; x += (x < 300 ? 1 : 37)) {
                    int64_t m = dim == 0 ? x : 512, n = dim == 1 ? x : 1024,
                            k = dim == 2 ? x : 2048;
                    double t = ms[mi]->time_s(NULL, &h100, m, n, k, dt);
                    if (t < prev)
                        fail_msg("%s dt %d: time falls at dim %d = %lld", ms[mi]->name, dt, dim,
                                 (long long)x);
                    prev = t;
                }
            }
}

/* Below the ridge point (arithmetic intensity < peak / bandwidth) the time is the bytes at
 * HBM bandwidth: small-m expert GEMMs are memory-bound. On the H100 preset the bf16 ridge is
 * 0.76 x 989e12 / (0.85 x 3350e9) = 264 FLOP/B; m = 16, 64 x 4096 x 4096 are far below. */
static void test_memory_bound_below_ridge(void **state)
{
    (void)state;
    for (int64_t m = 1; m <= 64; m *= 4) {
        double bytes = gemm_bytes(m, 4096, 4096, 2);
        double want = bytes / (3350e9 * 0.85);
        assert_close(tiled(&h100, m, 4096, 4096, 2), want);
        assert_close(gemm_roofline.time_s(NULL, &h100, m, 4096, 4096, 2), want);
    }
    /* far above the ridge (8192^3: 2731 FLOP/B) the tiled time is compute: 64 x 64 tiles of
     * 128 x 128 = 4096 tiles; 4096 / 132 = 31.03, so 32 waves (the last holds 4 tiles but
     * costs a full one), each one tile's 2 x 128 x 128 x 8192 FLOPs at 0.76 x 989e12 / 132 */
    assert_close(tiled(&h100, 8192, 8192, 8192, 2),
                 32 * 2.0 * 128 * 128 * 8192 / (0.76 * 989e12 / 132));
}

/* Tile quantization: m = 129 pays for two row tiles like m = 256; wave quantization: 133 tiles
 * take two waves, twice the time of 132 (compute-bound, k large). */
static void test_quantization(void **state)
{
    (void)state;
    gemm_device d = toy;
    d.launch_s = 0;
    d.hbm_bytes_per_s = 1e18;         /* keep it compute-bound */
    assert_close(tiled(&d, 129, 128 * 132, 8192, 2), tiled(&d, 256, 128 * 132, 8192, 2));
    double one = tiled(&d, 128, 128 * 132, 8192, 2), two = tiled(&d, 128, 128 * 133, 8192, 2);
    assert_close(two, 2 * one);
    /* the roofline has no such steps */
    assert_true(gemm_roofline.time_s(NULL, &d, 128, 128 * 133, 8192, 2) < 1.01 *
                gemm_roofline.time_s(NULL, &d, 128, 128 * 132, 8192, 2));
}

/* Grouped launch: one group is the plain GEMM; many small experts in one launch cost less
 * than one launch each (one launch overhead instead of eight); the grouped time by hand;
 * empty groups cost nothing. */
static void test_grouped(void **state)
{
    (void)state;
    int64_t one[1] = {300};
    assert_close(gemm_tiled.grouped_time_s(NULL, &toy, 1, one, 512, 1024, 2),
                 tiled(&toy, 300, 512, 1024, 2));
    int64_t small[8] = {16, 16, 16, 16, 16, 16, 16, 16};
    double per_expert = 0;
    for (int g = 0; g < 8; g++)
        per_expert += tiled(&toy, small[g], 512, 512, 2);
    assert_true(gemm_tiled.grouped_time_s(NULL, &toy, 8, small, 512, 512, 2) < per_expert);
    int64_t m[8] = {64, 0, 100, 30, 64, 64, 0, 200};
    double grouped = gemm_tiled.grouped_time_s(NULL, &toy, 8, m, 4096, 1024, 2);
    /* grouped: tiles 1+1+1+1+1+2 = 7 row tiles x 32 column tiles = 224 > 132: 2 waves of
     * 2 x 128 x 128 x 1024 / 1e12; bytes sum over the 6 non-empty groups */
    double bytes = 0;
    for (int g = 0; g < 8; g++)
        if (m[g])
            bytes += gemm_bytes(m[g], 4096, 1024, 2);
    double compute = 2 * 2.0 * 128 * 128 * 1024 / 1e12;
    assert_close(grouped, fmax(compute, bytes / 1e12) + 1e-6);
    int64_t none[3] = {0, 0, 0};
    assert_true(gemm_tiled.grouped_time_s(NULL, &toy, 3, none, 4096, 1024, 2) == 0);
    assert_true(gemm_roofline.grouped_time_s(NULL, &toy, 3, none, 4096, 1024, 2) == 0);
}

/* fp8: twice the tensor rate when compute-bound; operand bytes halve when memory-bound (the
 * bf16 result stays 2 bytes per element). */
static void test_fp8(void **state)
{
    (void)state;
    gemm_device d = toy;
    d.launch_s = 0;
    assert_close(tiled(&d, 4096, 4096, 4096, 1), tiled(&d, 4096, 4096, 4096, 2) / 2);
    assert_close(tiled(&d, 1, 4096, 4096, 1), (4096.0 + 4096.0 * 4096 + 4096 * 2) / 1e12);
    /* no fp8 tensor cores: the bf16 rate */
    d.peak_fp8_flops = 0;
    assert_close(tiled(&d, 4096, 4096, 4096, 1), tiled(&d, 4096, 4096, 4096, 2));
}

/* Calibration: points at m = 64 (10 us) and 128 (14 us) for 4096 x 4096 bf16. m = 96 is
 * halfway: 12 us + launch; m = 64 is the point itself; m = 256 scales the model by the
 * nearest point's measured / modelled ratio; another shape falls back to the model. */
static void test_calibration(void **state)
{
    (void)state;
    gemm_calib_point pts[] = {{128, 4096, 4096, 2, 14e-6}, {64, 4096, 4096, 2, 10e-6},
                              {64, 4096, 4096, 1, 99e-6}};
    gemm_calib cal = {pts, 3};
    gemm_calib_sort(&cal);
    int used;
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 96, 4096, 4096, 2, &used),
                 12e-6 + 1e-6);
    assert_true(used);
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 64, 4096, 4096, 2, NULL),
                 10e-6 + 1e-6);
    double m128 = tiled(&toy, 128, 4096, 4096, 2) - 1e-6, m256 = tiled(&toy, 256, 4096, 4096, 2) - 1e-6;
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 256, 4096, 4096, 2, NULL),
                 m256 * 14e-6 / m128 + 1e-6);
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 96, 4096, 2048, 2, &used),
                 tiled(&toy, 96, 4096, 2048, 2));
    assert_false(used);
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 64, 4096, 4096, 1, NULL),
                 99e-6 + 1e-6);
}

/* Calibration along k (a weight gradient, whose reduction dimension is the token count):
 * points at k = 64 (10 us) and 128 (14 us) for m = 2048, n = 512 bf16, and none with the
 * queried n and k. k = 96 is halfway: 12 us + launch; k = 256 scales the model by the
 * nearest point's measured / modelled ratio; another m falls back to the model. A run in m
 * (n, k fixed) comes first: with a point at (1024, 512, 96) of 30 us, 2048 x 512 x 96 is
 * the model scaled by that point's ratio, not the 12 us of the run in k. */
static void test_calibration_k(void **state)
{
    (void)state;
    gemm_calib_point pts[] = {{2048, 512, 128, 2, 14e-6}, {2048, 512, 64, 2, 10e-6}};
    gemm_calib cal = {pts, 2};
    gemm_calib_sort(&cal);
    int used;
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 2048, 512, 96, 2, &used),
                 12e-6 + 1e-6);
    assert_true(used);
    double k128 = tiled(&toy, 2048, 512, 128, 2) - 1e-6, k256 = tiled(&toy, 2048, 512, 256, 2) - 1e-6;
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 2048, 512, 256, 2, NULL),
                 k256 * 14e-6 / k128 + 1e-6);
    assert_close(gemm_calib_time_s(&cal, &gemm_tiled, NULL, &toy, 1024, 512, 96, 2, &used),
                 tiled(&toy, 1024, 512, 96, 2));
    assert_false(used);
    gemm_calib_point pm[] = {{2048, 512, 128, 2, 14e-6}, {2048, 512, 64, 2, 10e-6},
                             {1024, 512, 96, 2, 30e-6}};
    gemm_calib calm = {pm, 3};
    gemm_calib_sort(&calm);
    double a = tiled(&toy, 2048, 512, 96, 2) - 1e-6, b = tiled(&toy, 1024, 512, 96, 2) - 1e-6;
    assert_close(gemm_calib_time_s(&calm, &gemm_tiled, NULL, &toy, 2048, 512, 96, 2, NULL),
                 a * 30e-6 / b + 1e-6);
}

/* Published measurements (docs/VALIDATION.md, "GEMM"): achieved TFLOP/s = 2mnk / time.
 * - cuBLAS bf16 on H100 SXM, 1024 x 4096 x 4096: about 750 TFLOP/s (the figure issue 4 and
 *   models/hw.c cite); the model gives 728.9 (-2.8%); tolerance 5%.
 * - DeepGEMM fp8 on H800 (same SMs, tensor rate and HBM as H100 SXM), DeepGEMM README,
 *   normal GEMMs: 64 x 2112 x 7168: 206; 128 x 2112 x 7168: 352; 128 x 4096 x 7168: 533;
 *   128 x 7168 x 2048: 510. The model makes all four memory-bound, as measured (DeepGEMM
 *   reports 1.5-2.3 TB/s there), but assumes 85% of HBM bandwidth where these kernels reach
 *   45-68%: it is optimistic by 25-89% (stated in VALIDATION.md, not hidden by a tolerance;
 *   the check here is only that it is memory-bound and optimistic by less than 2x). */
static void test_published(void **state)
{
    (void)state;
    double f = 2.0 * 1024 * 4096 * 4096;
    double tf = f / tiled(&h100, 1024, 4096, 4096, 2) / 1e12;
    assert_true(fabs(tf / 750.0 - 1) < 0.05);
    struct {
        int64_t m, n, k;
        double tflops;
    } dg[] = {{64, 2112, 7168, 206}, {128, 2112, 7168, 352}, {128, 4096, 7168, 533},
              {128, 7168, 2048, 510}};
    for (int i = 0; i < 4; i++) {
        double t = tiled(&h100, dg[i].m, dg[i].n, dg[i].k, 1);
        double mem = gemm_bytes(dg[i].m, dg[i].n, dg[i].k, 1) / (3350e9 * 0.85);
        assert_close(t, mem);                          /* memory-bound */
        double model_tf = 2.0 * dg[i].m * dg[i].n * dg[i].k / t / 1e12;
        assert_true(model_tf > dg[i].tflops && model_tf < 2 * dg[i].tflops);
    }
}

/* The H100's causal attention curve (models/hw.c): the published points exactly, TFLOP/s over
 * the 989 peak (backward: the non-causal H100 figure times the H200's causal / non-causal
 * ratio); between points linear in log2(seq_len); outside them the nearest point. */
static void test_attention_by_sequence_length(void **state)
{
    (void)state;
    const hw_gpu *gpu = hw_gpu_find("h100-sxm");
    const int seq[] = {2048, 4096, 8192};
    const double fwd[] = {484, 518, 529};
    const double bwd[] = {465.0 * 370 / 504, 499.0 * 474 / 560, 518.0 * 541 / 594};
    double f, b;
    for (int i = 0; i < 3; i++) {
        hw_attn_efficiency(gpu, seq[i], &f, &b);
        assert_close(f * 989, fwd[i]);
        assert_close(b * 989, bwd[i]);
    }
    assert_true(fabs(bwd[1] - 422.4) < 0.05);       /* 499 x 474 / 560 */
    hw_attn_efficiency(gpu, 1024, &f, &b);
    assert_close(f * 989, fwd[0]);
    assert_close(b * 989, bwd[0]);
    hw_attn_efficiency(gpu, 131072, &f, &b);
    assert_close(f * 989, fwd[2]);
    assert_close(b * 989, bwd[2]);
    /* 5792 = 4096 x 2^0.5 (to 0.01%): halfway between the 4k and 8k points in log2 */
    double t = log2(5792.0 / 4096);
    hw_attn_efficiency(gpu, 5792, &f, &b);
    assert_close(f * 989, fwd[1] + t * (fwd[2] - fwd[1]));
    assert_close(b * 989, bwd[1] + t * (bwd[2] - bwd[1]));
    assert_true(f * 989 > 523 && f * 989 < 524);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_by_hand),  cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_memory_bound_below_ridge), cmocka_unit_test(test_quantization),
        cmocka_unit_test(test_grouped),        cmocka_unit_test(test_fp8),
        cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_calibration_k),   cmocka_unit_test(test_published),
        cmocka_unit_test(test_attention_by_sequence_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
