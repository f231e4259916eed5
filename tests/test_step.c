/* tests/test_step.c: a training step small enough to compute by hand: 2 GPUs in one node,
 * one MoE layer, 2 experts (one per GPU), top-1, fixed routing, ideal links. The expected
 * step time is built below from the documented cost formulas (docs/MODEL.md) and the
 * timeline of dependencies, task by task, in picoseconds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "models/route.h"
#include "models/scenario.h"
#include "models/step.h"
#include "sim/time.h"

/* H100 preset: 989e12 FLOP/s, 3350e9 B/s; efficiencies set to 0.5 / 0.5; launch 2 us */
#define PEAK (989e12 * 0.5)
#define HBM (3350e9 * 0.5)
#define LAUNCH 2e-6
#define BW 100e9          /* intra_bw_GBps = 100, link_efficiency = 1 */
#define LAT 1e-6

static double g(double m, double n, double k)
{
    if (m == 0)
        return 0;
    return fmax(2 * m * n * k / PEAK, (m * k + k * n + m * n) * 2 / HBM) + LAUNCH;
}
static double mem(double bytes) { return bytes / HBM + LAUNCH; }
static sim_time ps(double s) { return sim_time_from_s(s); }
static sim_time flow(double tokens) { return ps(LAT) + ps(tokens * 256 * 2 / BW); }
static sim_time max2(sim_time a, sim_time b) { return a > b ? a : b; }

static void make_config(scn_config *c)
{
    memset(c, 0, sizeof *c);
    c->run.seed = 1;
    c->training.steps = 1;
    strcpy(c->cluster.gpu, "h100-sxm");
    c->cluster.nodes = 1;
    c->cluster.gpus_per_node = 2;
    strcpy(c->cluster.inter, "ndr400");
    c->cluster.intra_bw_GBps = 100;
    c->cluster.intra_lat_us = 1;
    c->cluster.inter_bw_Gbps = NAN;
    c->cluster.inter_lat_us = NAN;
    c->cluster.link_efficiency = 1;
    c->cluster.gemm_efficiency = 0.5;
    c->cluster.mem_efficiency = 0.5;
    c->cluster.launch_us = 2;
    c->model.layers = 1;
    c->model.hidden = 256;
    c->model.ffn_expert = 512;
    c->model.experts = 2;
    c->model.top_k = 1;
    c->model.heads = 4;
    c->model.kv_heads = 2;
    c->model.swiglu = 0;
    c->parallel.ep = 2;
    c->training.seq_len = 64;
    c->training.micro_batch = 1;
    strcpy(c->routing.model, "uniform");
    strcpy(c->network.model, "analytic");
    /* issue 4 keys: the plain roofline, one launch per expert, bf16, GQA, no vocabulary */
    strcpy(c->gemm.model, "roofline");
    c->gemm.grouped = 0;
    strcpy(c->training.precision, "bf16");
    strcpy(c->model.attention, "gqa");
    c->model.vocab = 0;
    strcpy(c->network.all_reduce, "ring");    /* the hand-computed ring below */
    strcpy(c->network.all_to_all, "direct");
    c->network.chunk_KiB = 512;
    c->network.rail_optimized = 1;
    c->network.nodes_per_leaf = 32;
    c->cluster.oversubscription = 1;
    assert_int_equal(scn_resolve(c, NULL, NULL), SIM_OK);
}

static void test_two_gpu_step_by_hand(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c);
    /* routing: GPU0 sends 40 tokens to expert 0 (local) and 24 to expert 1 (GPU1);
     * GPU1 sends 10 to expert 0 (GPU0) and 54 to expert 1 (local). */
    int64_t counts[4] = {40, 24, 10, 54}, dropped[4] = {0};
    route_result r = {.n_layers = 1, .n_gpus = 2, .n_experts = 2, .ep = 2,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    const double T = 64, d = 256, f = 512, E = 2, s = 64, qkv = 512, kvd = 128;
    double norm = mem(2 * T * d * 2);
    /* attention core: 2 T s d FLOPs forward (x2 backward), Q,K,V,O bytes T (2d + 2kvd) 2 */
    double core_f = fmax(2 * T * s * d / PEAK, T * (2 * d + 2 * kvd) * 2 / HBM) + LAUNCH;
    double core_bw = fmax(4 * T * s * d / PEAK, T * (2 * d + 2 * kvd) * 2 / HBM) + LAUNCH;
    double Af = norm + g(T, qkv, d) + core_f + g(T, d, d);
    double Ab = 2 * norm + (g(T, d, qkv) + g(d, qkv, T)) + core_bw + (g(T, d, d) + g(d, d, T));
    double permute = mem(2 * T * 1 * d * 2);
    double Rf = norm + g(T, E, d) + permute;
    double Rb = 2 * norm + (g(T, d, E) + g(d, E, T)) + permute;
    double U = mem(2 * T * 1 * d * 2);
    double m0 = 40 + 10, m1 = 24 + 54;
    double X0f = g(m0, f, d) + mem(m0 * f * 2 * 2) + g(m0, d, f);
    double X1f = g(m1, f, d) + mem(m1 * f * 2 * 2) + g(m1, d, f);
    double X0b = (g(m0, d, f) + g(d, f, m0)) + 2 * mem(m0 * f * 2 * 2) + (g(m0, f, d) + g(f, d, m0));
    double X1b = (g(m1, d, f) + g(d, f, m1)) + 2 * mem(m1 * f * 2 * 2) + (g(m1, f, d) + g(f, d, m1));
    sim_time D01 = flow(24), D10 = flow(10);

    sim_time tR = ps(Af) + ps(Rf);
    sim_time x0e = tR + D10 + ps(X0f), x1e = tR + D01 + ps(X1f);
    sim_time u0e = max2(x0e, x1e + D01) + ps(U), u1e = max2(x1e, x0e + D10) + ps(U);
    sim_time ub0e = u0e + ps(U), ub1e = u1e + ps(U);
    sim_time xb0e = max2(ub0e, ub1e + D10) + ps(X0b), xb1e = max2(ub1e, ub0e + D01) + ps(X1b);
    sim_time ab0e = max2(xb0e, xb1e + D01) + ps(Rb) + ps(Ab);
    sim_time ab1e = max2(xb1e, xb0e + D10) + ps(Rb) + ps(Ab);
    /* ring all-reduce over 2 GPUs of the replicated gradients (bf16): 2 steps of half */
    double dense = d * (d + 2 * kvd) + d * d + d * E + 2 * d;
    sim_time C = ps(LAT) + ps(dense * 2 / 2 / BW);
    sim_time want = max2(ab0e, ab1e) + 2 * C;

    step_result res;
    assert_int_equal(step_simulate(&c, &r, &res, NULL), SIM_OK);
    assert_int_equal(res.step_time, want);
    sim_time sum = 0;
    for (int k = 0; k < STEP_N_CAT; k++)
        sum += res.breakdown[k];
    assert_int_equal(sum, res.step_time);
    assert_int_equal(res.breakdown[STEP_CAT_GRAD], 2 * C);
    assert_int_equal(res.breakdown[STEP_CAT_IDLE], 0);
    /* busy time of GPU1's stream: every compute task it ran */
    double busy1 = sim_time_to_s(ps(Af) + ps(Rf) + ps(X1f) + ps(U) + ps(U) + ps(X1b) + ps(Rb) +
                                 ps(Ab));
    assert_true(res.gpu_busy_s[1] == busy1);
    /* load: expert 0 gets 50, expert 1 gets 78: max/mean = 78 / 64 */
    assert_true(res.max_mean_load == 78.0 / 64.0);
    assert_true(res.tokens == 128 && res.dropped == 0);
    step_result_fini(&res);
}

/* The hot expert's GPU is the straggler: moving tokens onto one expert never shortens
 * the step (same cluster, same totals). */
static void test_skew_slows_step(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c);
    sim_time prev = 0;
    for (int64_t hot = 32; hot <= 64; hot += 8) {
        int64_t counts[4] = {hot, 64 - hot, hot, 64 - hot}, dropped[4] = {0};
        route_result r = {.n_layers = 1, .n_gpus = 2, .n_experts = 2, .ep = 2,
                          .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
        step_result res;
        assert_int_equal(step_simulate(&c, &r, &res, NULL), SIM_OK);
        assert_true(res.step_time >= prev);
        prev = res.step_time;
        step_result_fini(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_gpu_step_by_hand),
        cmocka_unit_test(test_skew_slows_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
