/* tests/test_memory.c: per-GPU memory footprint (models/memory.c) on a model small enough to
 * count by hand, ZeRO sharding, recomputation, all-to-all buffers, and "does not fit" as a
 * result. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "models/memory.h"

/* 4 GPUs, EP 2 (so DP 4, expert-DP 2); one MoE layer: d 8, 2 heads of 4, 1 KV head, 4 experts
 * top-2 of ffn 16 (SwiGLU), no vocabulary; 6 tokens per GPU; 1 GB reserve.
 * Parameters: attention 8 x 16 + 8 x 8 = 192, norms 2 x 8 = 16, router 8 x 4 = 32: 240
 * replicated; experts 4 x 3 x 8 x 16 = 1536, 768 per GPU (2 of the 4). */
static void small(scn_config *c, const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text,
             "[cluster]\ngpus_per_node = 4\n[parallel]\nep = 2\n"
             "[model]\nlayers = 1\nhidden = 8\nheads = 2\nkv_heads = 1\nhead_dim = 4\n"
             "experts = 4\ntop_k = 2\nffn_expert = 16\n"
             "[training]\nseq_len = 6\nmicro_batch = 1\nreserve_GB = 1\n%s",
             extra);
    sim_err err = {0};
    if (cli_load_scenario_text("m.ini", text, NULL, 0, c, &err) != SIM_OK)
        fail_msg("%s", err.msg);
}

static void test_breakdown_by_hand(void **state)
{
    (void)state;
    scn_config c;
    small(&c, "");
    mem_footprint m;
    mem_footprint_of(&c, NULL, &m);
    assert_int_equal(m.dp, 4);
    assert_int_equal(m.edp, 2);
    assert_true(m.dense_params_per_gpu == 240 && m.expert_params_per_gpu == 768);
    /* ZeRO 0: 2, 2 and 12 bytes for each of the 1008 parameters held */
    assert_true(m.part_bytes[MEM_WEIGHTS] == 2 * 1008);
    assert_true(m.part_bytes[MEM_GRADS] == 2 * 1008);
    assert_true(m.part_bytes[MEM_OPTIMIZER] == 12 * 1008);
    /* activations per token: attention 8 (input) + 8 (norm out) + 8 + 4 + 4 (Q, K, V) + 8
     * (core output) + 2 x 2 (fp32 statistics per head) = 44; MoE 8 + 8 + 2 x 4 (fp32 logits)
     * + 2 copies x (8 input + 32 gate/up + 16 activation + 8 output) = 152; 196 elements x 6
     * tokens x 2 bytes = 2352 */
    assert_true(m.part_bytes[MEM_ACTIVATIONS] == 2352);
    /* all-to-all: send 6 x 2 tokens; dropless worst-case receive 2 GPUs x 6 tokens x min(2, 2
     * local experts) = 24; 36 tokens x 8 x 2 bytes */
    assert_true(m.part_bytes[MEM_A2A] == 576);
    assert_true(m.part_bytes[MEM_RESERVE] == 1e9);
    assert_true(m.total_bytes == 2016 + 2016 + 12096 + 2352 + 576 + 1e9);
    assert_true(m.fits && m.capacity_bytes == 80e9 && m.message[0] == '\0');
}

/* ZeRO 1 shards the optimizer state over DP (replicated part) and expert-DP (experts);
 * stage 2 also the gradients, stage 3 also the weights: 240 / 4 + 768 / 2 = 444 each. */
static void test_zero_stages(void **state)
{
    (void)state;
    scn_config c;
    double want[4][3] = {{2016, 2016, 12096}, {2016, 2016, 12 * 444}, {2016, 2 * 444, 12 * 444},
                         {2 * 444, 2 * 444, 12 * 444}};
    for (int z = 0; z <= 3; z++) {
        char extra[64];
        snprintf(extra, sizeof extra, "[parallel]\nzero = %d\n", z);
        small(&c, extra);
        mem_footprint m;
        mem_footprint_of(&c, NULL, &m);
        assert_true(m.part_bytes[MEM_WEIGHTS] == want[z][0]);
        assert_true(m.part_bytes[MEM_GRADS] == want[z][1]);
        assert_true(m.part_bytes[MEM_OPTIMIZER] == want[z][2]);
    }
}

/* Recomputation: selective drops norm and activation-function outputs (attention 36, MoE
 * 8 + 8 + 2 x (8 + 32 + 8) = 112: 148 x 12 = 1776); full keeps each layer's input (6 x 8 x 2
 * = 96) plus one layer rebuilt at a time (2352). A capacity factor of 1.5 bounds the
 * receive buffer at 1.5 x 6 x 2 = 18 tokens (30 x 16 = 480 bytes) and the routed copies
 * the activations hold at 3 per token: MoE 8 + 8 + 8 + 3 x 64 = 216; (44 + 216) x 12 = 3120. */
static void test_recompute_and_capacity(void **state)
{
    (void)state;
    scn_config c;
    mem_footprint m;
    small(&c, "recompute = selective\n");
    mem_footprint_of(&c, NULL, &m);
    assert_true(m.part_bytes[MEM_ACTIVATIONS] == 1776);
    small(&c, "recompute = full\n");
    mem_footprint_of(&c, NULL, &m);
    assert_true(m.part_bytes[MEM_ACTIVATIONS] == 96 + 2352);
    small(&c, "[routing]\ncapacity_factor = 1.5\n");
    mem_footprint_of(&c, NULL, &m);
    assert_true(m.part_bytes[MEM_A2A] == 480);
    assert_true(m.part_bytes[MEM_ACTIVATIONS] == 3120);
}

/* Tensor and pipeline degrees plug in through mem_parallel: tp 2 halves the weights held and
 * the activations; pp 2 halves the layers' weights and, with 2 micro-batches in flight,
 * keeps the activations. */
static void test_parallel_plugs_in(void **state)
{
    (void)state;
    scn_config c;
    small(&c, "");
    mem_parallel p;
    mem_parallel_of(&c, &p);
    mem_footprint base, m;
    mem_footprint_of(&c, &p, &base);
    /* TP 2 halves the 240 replicated parameters per GPU; the 768 expert parameters are not
     * tensor-parallel and stay: 2 x (120 + 768) bytes */
    p.tp = 2;
    mem_footprint_of(&c, &p, &m);
    assert_true(m.part_bytes[MEM_WEIGHTS] == 2.0 * (120 + 768));
    assert_true(m.part_bytes[MEM_ACTIVATIONS] == base.part_bytes[MEM_ACTIVATIONS] / 2);
    p.tp = 1, p.pp = 2, p.in_flight = 2;
    mem_footprint_of(&c, &p, &m);
    assert_true(m.part_bytes[MEM_WEIGHTS] == base.part_bytes[MEM_WEIGHTS] / 2);
    assert_true(m.part_bytes[MEM_ACTIVATIONS] == base.part_bytes[MEM_ACTIVATIONS]);
}

/* Not fitting is a result with a message, not an error. */
static void test_does_not_fit(void **state)
{
    (void)state;
    scn_config c;
    small(&c, "");
    c.training.reserve_GB = 100;
    mem_footprint m;
    mem_footprint_of(&c, NULL, &m);
    assert_false(m.fits);
    assert_non_null(strstr(m.message, "but h100-sxm has 80 GB"));
    assert_non_null(strstr(m.message, "largest part: reserve 100.0 GB"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breakdown_by_hand), cmocka_unit_test(test_zero_stages),
        cmocka_unit_test(test_recompute_and_capacity), cmocka_unit_test(test_parallel_plugs_in),
        cmocka_unit_test(test_does_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
