/* tests/test_step.c: training steps small enough to compute by hand. Each expected step time
 * is built below from the documented cost formulas (docs/MODEL.md) and the timeline of
 * dependencies, task by task, in picoseconds: a 2-GPU expert-parallel step with fixed
 * routing, a 1-GPU dense step (the sum of its kernels) in bf16 and in fp8, a 2-stage 1F1B
 * pipeline, a 2-way tensor-parallel step, and a straggler GPU. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "models/route.h"
#include "models/scenario.h"
#include "models/step.h"
#include "sim/time.h"

/* H100 preset: 989e12 FLOP/s, 3350e9 B/s; GEMM, memory and attention efficiencies set to
 * 0.5; launch 2 us */
#define PEAK (989e12 * 0.5)
#define HBM (3350e9 * 0.5)
#define LAUNCH 2e-6
#define BW 100e9          /* intra_bw_GBps = 100, link_efficiency = 1 */
#define LAT 1e-6
#define ADAM 28.0         /* optimizer bytes per parameter */

/* fp8 (training.precision = fp8): 1-byte operands (results still 2 bytes) at the fp8 peak
 * x gemm_efficiency x the H100's fp8_efficiency_ratio 0.908; each GEMM's input is cast in
 * the forward, its output's gradient in the backward: a memory kernel of 4 bytes an element */
#define PEAK8 (1979e12 * 0.5 * 0.908)
static int fp8;

static double mem(double bytes) { return bytes / HBM + LAUNCH; }
static double g(double m, double n, double k)
{
    if (m == 0)
        return 0;
    if (fp8)
        return fmax(2 * m * n * k / PEAK8, (m * k + k * n + 2 * m * n) / HBM) + LAUNCH;
    return fmax(2 * m * n * k / PEAK, (m * k + k * n + m * n) * 2 / HBM) + LAUNCH;
}
/* a forward GEMM, and the backward (dgrad + wgrad) of one */
static double gf(double m, double n, double k) { return g(m, n, k) + (fp8 ? mem(4 * m * k) : 0); }
static double gfb(double m, double n, double k)
{
    return g(m, k, n) + g(k, n, m) + (fp8 ? mem(4 * m * n) : 0);
}
static sim_time ps(double s) { return sim_time_from_s(s); }
static sim_time max2(sim_time a, sim_time b) { return a > b ? a : b; }

/* Ideal links, analytic network, plain roofline, one launch per expert, no vocabulary;
 * `sets`: space-separated section.key=value overrides; the hand costs above follow its
 * precision. */
static void make_config(scn_config *c, const char *sets)
{
    fp8 = strstr(sets, "training.precision=fp8") != NULL;
    const char *text =
        "[cluster]\ngpus_per_node = 2\nintra_bw_GBps = 100\nintra_lat_us = 1\n"
        "link_efficiency = 1\ngemm_efficiency = 0.5\nmem_efficiency = 0.5\nlaunch_us = 2\n"
        "attn_efficiency = 0.5\n"
        "[model]\nlayers = 1\nhidden = 256\nffn_expert = 512\nexperts = 2\ntop_k = 1\n"
        "heads = 4\nkv_heads = 2\nswiglu = false\nvocab = 0\n"
        "[training]\nseq_len = 64\nmicro_batch = 1\n"
        "[network]\nmodel = analytic\nall_reduce = ring\nall_to_all = direct\n"
        "[gemm]\nmodel = roofline\ngrouped = false\n";
    char buf[1024], *ov[16];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", sets);
    for (char *t = strtok(buf, " "); t && n < 16; t = strtok(NULL, " "))
        ov[n++] = t;
    sim_err err = {0};
    if (cli_load_scenario_text("step.ini", text, (const char *const *)ov, n, c, &err) != SIM_OK)
        fail_msg("%s", err.msg);
}

static sim_time sum_breakdown(const step_result *r)
{
    sim_time sum = 0;
    for (int k = 0; k < STEP_N_CAT; k++)
        sum += r->breakdown[k];
    return sum;
}

/* Per-layer costs of the test model over T tokens (Ts of them routed/normed per GPU) with
 * tensor parallelism tp; d 256, 4 heads of 64, 2 KV heads (kv dim 128), seq 64. */
typedef struct layer_costs {
    double Af, Ab, Df, Db;
} layer_costs;

static layer_costs layer(double T, double Ts, double tp, double f)
{
    const double d = 256, s = 64, qkv = 512, kvd = 128;
    double norm = mem(2 * Ts * d * 2);
    /* attention core: heads/tp x (64 + 64) x s FLOPs per token forward (x2.5 backward: the
     * scores are recomputed), at attn_efficiency 0.5 of the peak; Q, K, V, O bytes
     * T (2d + 2kvd) 2 / tp */
    double cf = (T * s * (4 / tp) * 128), cb = 2.5 * cf, cbytes = T * (2 * d + 2 * kvd) * 2 / tp;
    double core_f = fmax(cf / PEAK, cbytes / HBM) + LAUNCH;
    double core_b = fmax(cb / PEAK, cbytes / HBM) + LAUNCH;
    /* rotary embeddings on the T tokens' 4/tp query heads and 2/tp key heads of 64 (read and
     * write, both directions); the residual add closing each block: 3 Ts x d tensors */
    double rope = mem(2 * T * (d / tp) * 2) + mem(2 * T * (kvd / tp) * 2);
    double res = mem(3 * Ts * d * 2);
    layer_costs k;
    k.Af = norm + gf(T, qkv / tp, d) + rope + core_f + gf(T, d, d / tp) + res;
    k.Ab = 2 * norm + gfb(T, qkv / tp, d) + rope + core_b + gfb(T, d, d / tp) + res;
    double act = T * (f / tp) * 2 * 2;
    k.Df = norm + gf(T, f / tp, d) + mem(act) + gf(T, d, f / tp) + res;
    k.Db = 2 * norm + gfb(T, f / tp, d) + 2 * mem(act) + gfb(T, d, f / tp) + res;
    return k;
}

/* 2 GPUs in one node, one MoE layer, 2 experts (one per GPU), top-1, fixed routing. */
static void test_two_gpu_step_by_hand(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c, "");
    /* routing: GPU0 sends 40 tokens to expert 0 (local) and 24 to expert 1 (GPU1);
     * GPU1 sends 10 to expert 0 (GPU0) and 54 to expert 1 (local). */
    int64_t counts[4] = {40, 24, 10, 54}, dropped[4] = {0};
    route_result r = {.n_layers = 1, .n_gpus = 2, .n_experts = 2, .ep = 2,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    const double T = 64, d = 256, f = 512, E = 2, kvd = 128;
    layer_costs k = layer(T, T, 1, f);
    double norm = mem(2 * T * d * 2), permute = mem(2 * T * 1 * d * 2);
    /* router: softmax and top-k (bf16 logits in, fp32 probabilities, one fp32 probability
     * and one int64 index out per token), the balancing loss (probabilities and the 1-byte
     * map); backward their fp32 gradients */
    double Rf = norm + g(T, E, d) + mem(T * E * 6 + T * 12) + mem(T * E * 5) + permute;
    double Rb = 2 * norm + gfb(T, E, d) + mem(T * E * 12) + mem(T * E * 4) + permute;
    /* unpermute, then the residual add closing the layer */
    double U = mem(2 * T * 1 * d * 2) + mem(3 * T * d * 2);
    double m0 = 40 + 10, m1 = 24 + 54;
    double X0f = g(m0, f, d) + mem(m0 * f * 2 * 2) + g(m0, d, f);
    double X1f = g(m1, f, d) + mem(m1 * f * 2 * 2) + g(m1, d, f);
    double X0b = gfb(m0, f, d) + 2 * mem(m0 * f * 2 * 2) + gfb(m0, d, f);
    double X1b = gfb(m1, f, d) + 2 * mem(m1 * f * 2 * 2) + gfb(m1, d, f);
    /* a message of n tokens of 256 bf16 values */
    sim_time D01 = ps(LAT) + ps(24 * 256 * 2 / BW), D10 = ps(LAT) + ps(10 * 256 * 2 / BW);

    sim_time tR = ps(k.Af) + ps(Rf);
    sim_time x0e = tR + D10 + ps(X0f), x1e = tR + D01 + ps(X1f);
    sim_time u0e = max2(x0e, x1e + D01) + ps(U), u1e = max2(x1e, x0e + D10) + ps(U);
    sim_time ub0e = u0e + ps(U), ub1e = u1e + ps(U);
    sim_time xb0e = max2(ub0e, ub1e + D10) + ps(X0b), xb1e = max2(ub1e, ub0e + D01) + ps(X1b);
    sim_time ab0e = max2(xb0e, xb1e + D01) + ps(Rb) + ps(k.Ab);
    sim_time ab1e = max2(xb1e, xb0e + D10) + ps(Rb) + ps(k.Ab);
    /* the replicated gradients (attention, norms, router; bf16) in one bucket, ring
     * all-reduce over the 2 GPUs: 2 steps of half; then Adam over what each GPU holds */
    double dense = d * (d + 2 * kvd) + d * d + 2 * d + d * E, expert = 2 * d * f;
    sim_time C = ps(LAT) + ps(dense * 2 / 2 / BW);
    sim_time opt = ps(mem((dense + expert) * ADAM));
    sim_time want = max2(ab0e, ab1e) + 2 * C + opt;

    step_result res;
    assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
    assert_int_equal(res.step_time, want);
    assert_int_equal(sum_breakdown(&res), res.step_time);
    assert_int_equal(res.breakdown[STEP_CAT_GRAD], 2 * C);
    assert_int_equal(res.breakdown[STEP_CAT_OPTIM], opt);
    assert_int_equal(res.breakdown[STEP_CAT_IDLE], 0);
    assert_int_equal(res.breakdown[STEP_CAT_BUBBLE], 0);
    /* busy time of GPU1's stream: every compute task it ran */
    sim_time busy1 = ps(k.Af) + ps(Rf) + ps(X1f) + ps(U) + ps(U) + ps(X1b) + ps(Rb) +
                     ps(k.Ab) + opt;
    assert_true(res.gpu_busy_s[1] == sim_time_to_s(busy1));
    /* load: expert 0 gets 50, expert 1 gets 78: max/mean = 78 / 64 */
    assert_true(res.max_mean_load == 78.0 / 64.0);
    assert_true(res.tokens == 128 && res.dropped == 0);
    step_result_fini(&res);

    /* GPU 1 at half speed: each of its kernels takes twice as long (to the picosecond:
     * each duration is converted once) */
    make_config(&c, "cluster.slow_gpus=1:0.5");
    assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
    double slow = 0;
    double kernels[] = {k.Af, Rf, X1f, U, U, X1b, Rb, k.Ab, mem((dense + expert) * ADAM)};
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        slow += sim_time_to_s(ps(2 * kernels[i]));
    assert_true(res.gpu_busy_s[1] == slow);
    assert_true(res.step_time > want);
    step_result_fini(&res);
}

/* One GPU, a dense model of 2 layers: no communication, so the step is the sum of its
 * kernels: per layer attention and FFN forward, then backward, then the optimizer. The
 * same in fp8 (state: "fp8"): fp8 GEMMs and their casts; attention core, norms and the
 * optimizer unchanged. */
static void test_one_gpu_dense_is_sum_of_kernels(void **state)
{
    scn_config c;
    make_config(&c, *state ? "cluster.gpus_per_node=1 model.layers=2 model.dense_layers=2 "
                          "model.ffn_dense=512 model.experts=1 training.precision=fp8"
                        : "cluster.gpus_per_node=1 model.layers=2 model.dense_layers=2 "
                          "model.ffn_dense=512 model.experts=1");
    int64_t counts[2] = {0}, dropped[2] = {0};
    route_result r = {.n_layers = 2, .n_gpus = 1, .n_experts = 1, .ep = 1,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    layer_costs k = layer(64, 64, 1, 512);
    const double d = 256, kvd = 128;
    double params = 2 * (d * (d + 2 * kvd) + d * d + 2 * d + 2 * d * 512);
    sim_time opt = ps(mem(params * ADAM));
    sim_time want = 2 * (ps(k.Af) + ps(k.Df) + ps(k.Db) + ps(k.Ab)) + opt;
    step_result res;
    assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
    assert_int_equal(res.step_time, want);
    assert_int_equal(res.breakdown[STEP_CAT_ATTENTION], 2 * (ps(k.Af) + ps(k.Ab)));
    assert_int_equal(res.breakdown[STEP_CAT_OTHER], 2 * (ps(k.Df) + ps(k.Db)));
    assert_int_equal(res.breakdown[STEP_CAT_OPTIM], opt);
    assert_int_equal(sum_breakdown(&res), want);
    assert_true(res.comm_s == 0);
    step_result_fini(&res);
}

/* One GPU, one dense layer and a vocabulary of 1000: the embedding gather, the layer, the
 * output layer with Megatron-Core's cross-entropy passes over the 64 x 1000 logits, then
 * their backwards (the embedding's a scatter-add of the same bytes) and the optimizer over
 * the layer, the embedding and the output layer with its final norm. */
static void test_one_gpu_output_layer_and_loss(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c, "cluster.gpus_per_node=1 model.layers=1 model.dense_layers=1 "
                    "model.ffn_dense=512 model.experts=1 model.vocab=1000");
    int64_t counts[1] = {0}, dropped[1] = {0};
    route_result r = {.n_layers = 1, .n_gpus = 1, .n_experts = 1, .ep = 1,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    layer_costs k = layer(64, 64, 1, 512);
    const double T = 64, d = 256, kvd = 128, V = 1000, L = T * V;
    double norm = mem(2 * T * d * 2), embed = mem(2 * T * d * 2);
    /* fp32 copy, max, minus max, exp, sum, divide; then times the gradient, cast to bf16 */
    double Hf = norm + g(T, V, d) + mem(6 * L) + mem(4 * L) + mem(8 * L) + mem(8 * L) +
                mem(4 * L) + mem(8 * L);
    double Hb = 2 * norm + gfb(T, V, d) + mem(8 * L) + mem(6 * L);
    double params = d * (d + 2 * kvd) + d * d + 2 * d + 2 * d * 512 + V * d + V * d + d;
    sim_time opt = ps(mem(params * ADAM));
    sim_time want = ps(embed) + ps(k.Af) + ps(k.Df) + ps(Hf) + ps(Hb) + ps(k.Db) + ps(k.Ab) +
                    ps(embed) + opt;
    step_result res;
    assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
    assert_int_equal(res.step_time, want);
    assert_int_equal(sum_breakdown(&res), want);
    step_result_fini(&res);
}

/* model.rope = false (learned or no position embeddings) drops exactly the two rotary
 * kernels of each attention block, forward and backward: 2 layers x 2 passes x (query +
 * key) on one GPU. */
static void test_rope_off_drops_its_kernels(void **state)
{
    (void)state;
    const char *base = "cluster.gpus_per_node=1 model.layers=2 model.dense_layers=2 "
                       "model.ffn_dense=512 model.experts=1";
    char sets[256];
    int64_t counts[2] = {0}, dropped[2] = {0};
    route_result r = {.n_layers = 2, .n_gpus = 1, .n_experts = 1, .ep = 1,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    sim_time t[2];
    for (int off = 0; off < 2; off++) {
        scn_config c;
        snprintf(sets, sizeof sets, "%s%s", base, off ? " model.rope=false" : "");
        make_config(&c, sets);
        step_result res;
        assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
        t[off] = res.step_time;
        step_result_fini(&res);
    }
    sim_time rope = ps(mem(2 * 64 * 256 * 2)) + ps(mem(2 * 64 * 128 * 2));
    assert_int_equal(t[0] - t[1], 4 * rope);
}

/* fp8 experts: with one expert per GPU a grouped launch is the expert's own GEMMs, so the
 * grouped path (its casts counted over the GPU's tokens) and the per-expert path (gemm_fb's
 * casts) give the same step, to the picosecond; and the casts and fp8 rates change it. */
static void test_fp8_grouped_matches_per_expert(void **state)
{
    (void)state;
    int64_t counts[4] = {40, 24, 10, 54}, dropped[4] = {0};
    route_result r = {.n_layers = 1, .n_gpus = 2, .n_experts = 2, .ep = 2,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    sim_time t[3];
    const char *sets[3] = {"training.precision=fp8 gemm.grouped=true",
                           "training.precision=fp8 gemm.grouped=false", "gemm.grouped=true"};
    for (int i = 0; i < 3; i++) {
        scn_config c;
        make_config(&c, sets[i]);
        step_result res;
        assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
        t[i] = res.step_time;
        step_result_fini(&res);
    }
    assert_int_equal(t[0], t[1]);
    assert_true(t[0] != t[2]);
}

/* Two pipeline stages of one dense layer each, one GPU per stage, 2 micro-batches, 1F1B.
 * With F and B a stage's forward and backward and S one activation message:
 *   stage 0: F0 [0, F], F1 [F, 2F], B0 [2F+2S+B, 2F+2S+2B], B1 [3F+2S+2B, 3F+2S+3B]
 *   stage 1: F0 [F+S, 2F+S], B0 [.., 2F+S+B], F1 [.., 3F+S+B], B1 [.., 3F+S+2B]
 * so the step is 3F + 2S + 3B and stage 0's optimizer. Stage 0 (last to finish) idles
 * for 2S + B (before B0) and F (before B1), F + B + 2S in all: the last message, stage 1's
 * gradient send, is pipeline comm (S); the rest, while stage 1 computes on the critical
 * path, the bubble (F + B + S). Stage 0's own first send is pipeline comm too. */
static void test_pipeline_1f1b_by_hand(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c, "model.layers=2 model.dense_layers=2 model.ffn_dense=512 model.experts=1 "
                    "parallel.pp=2 training.global_batch=2");
    int64_t counts[2] = {0}, dropped[2] = {0};
    route_result r = {.n_layers = 2, .n_gpus = 1, .n_experts = 1, .ep = 1,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    layer_costs k = layer(64, 64, 1, 512);
    const double d = 256, kvd = 128;
    sim_time F = ps(k.Af) + ps(k.Df), B = ps(k.Db) + ps(k.Ab);
    sim_time S = ps(LAT) + ps(64 * d * 2 / BW);
    double params = d * (d + 2 * kvd) + d * d + 2 * d + 2 * d * 512;
    sim_time opt = ps(mem(params * ADAM));
    step_result res;
    assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
    assert_int_equal(res.step_time, 3 * F + 2 * S + 3 * B + opt);
    assert_int_equal(res.breakdown[STEP_CAT_BUBBLE], F + B + S);
    assert_int_equal(res.breakdown[STEP_CAT_PP], 2 * S);
    assert_int_equal(res.breakdown[STEP_CAT_OPTIM], opt);
    assert_int_equal(res.breakdown[STEP_CAT_IDLE], 0);
    assert_int_equal(sum_breakdown(&res), res.step_time);
    step_result_fini(&res);
}

/* Megatron's interleaved schedule on 2 stages of 2 one-layer chunks each, 4 micro-batches,
 * with sends made free (bandwidth huge, no latency): every stage computes its 4 x 2 chunk
 * forwards and backwards, F and B each, and waits (p - 1) x (F + B) in all, the closed-form
 * bubble of the interleaved 1F1B schedule (Narayanan et al., 2021: (p - 1) / (v m) of the
 * ideal step). */
static void test_pipeline_interleaved_bubble(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c, "model.layers=4 model.dense_layers=4 model.ffn_dense=512 model.experts=1 "
                    "parallel.pp=2 parallel.vpp=2 parallel.schedule=interleaved "
                    "training.global_batch=4 cluster.intra_bw_GBps=1e12 cluster.intra_lat_us=0");
    int64_t counts[4] = {0}, dropped[4] = {0};
    route_result r = {.n_layers = 4, .n_gpus = 1, .n_experts = 1, .ep = 1,
                      .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
    layer_costs k = layer(64, 64, 1, 512);
    const double d = 256, kvd = 128;
    sim_time F = ps(k.Af) + ps(k.Df), B = ps(k.Db) + ps(k.Ab);
    double params = 2 * (d * (d + 2 * kvd) + d * d + 2 * d + 2 * d * 512);
    sim_time opt = ps(mem(params * ADAM));
    step_result res;
    assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
    assert_int_equal(res.step_time, 4 * 2 * (F + B) + (2 - 1) * (F + B) + opt);
    assert_int_equal(res.breakdown[STEP_CAT_BUBBLE], (2 - 1) * (F + B));
    assert_int_equal(sum_breakdown(&res), res.step_time);
    step_result_fini(&res);
}

/* Two GPUs, tensor parallel 2, one dense layer: each rank computes half the heads and half
 * the FFN columns over the micro-batch's 64 tokens and norms its 32. Every block is
 * all-gather, compute, reduce-scatter (forward and backward alike), each a 1-step ring on
 * 2 ranks moving half of the 64 x 256 bf16 activations: A = latency + 16 KiB / BW. */
static void test_tensor_parallel_by_hand(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c, "model.dense_layers=1 model.ffn_dense=512 model.experts=1 parallel.tp=2");
    int64_t counts[2] = {0}, dropped[2] = {0};
    route_result r = {.n_layers = 1, .n_gpus = 2, .n_experts = 1, .ep = 1,
                      .tokens_per_gpu = 32, .counts = counts, .dropped = dropped};
    layer_costs k = layer(64, 32, 2, 512);
    const double d = 256, kvd = 128;
    sim_time A = ps(LAT) + ps(64 * d * 2 / 2 / BW);
    double params = (d * (d + 2 * kvd) + d * d) / 2 + 2 * d + 2 * d * 512 / 2;
    sim_time opt = ps(mem(params * ADAM));
    sim_time want = 8 * A + ps(k.Af) + ps(k.Df) + ps(k.Db) + ps(k.Ab) + opt;
    step_result res;
    assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
    assert_int_equal(res.step_time, want);
    assert_int_equal(res.breakdown[STEP_CAT_TP], 8 * A);
    assert_int_equal(sum_breakdown(&res), want);
    step_result_fini(&res);
}

/* The hot expert's GPU is the straggler: moving tokens onto one expert never shortens
 * the step (same cluster, same totals). */
static void test_skew_slows_step(void **state)
{
    (void)state;
    scn_config c;
    make_config(&c, "");
    sim_time prev = 0;
    for (int64_t hot = 32; hot <= 64; hot += 8) {
        int64_t counts[4] = {hot, 64 - hot, hot, 64 - hot}, dropped[4] = {0};
        route_result r = {.n_layers = 1, .n_gpus = 2, .n_experts = 2, .ep = 2,
                          .tokens_per_gpu = 64, .counts = counts, .dropped = dropped};
        step_result res;
        assert_int_equal(step_simulate(&c, &r, NULL, &res, NULL), SIM_OK);
        assert_true(res.step_time >= prev);
        prev = res.step_time;
        step_result_fini(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_gpu_step_by_hand),
        cmocka_unit_test(test_one_gpu_dense_is_sum_of_kernels),
        cmocka_unit_test_prestate(test_one_gpu_dense_is_sum_of_kernels, "fp8"),
        cmocka_unit_test(test_fp8_grouped_matches_per_expert),
        cmocka_unit_test(test_rope_off_drops_its_kernels),
        cmocka_unit_test(test_one_gpu_output_layer_and_loss),
        cmocka_unit_test(test_pipeline_1f1b_by_hand),
        cmocka_unit_test(test_pipeline_interleaved_bubble),
        cmocka_unit_test(test_tensor_parallel_by_hand),
        cmocka_unit_test(test_skew_slows_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
