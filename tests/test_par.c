/* tests/test_par.c: the parallel layout (models/par.h): rank-to-GPU orders, EP groups over
 * nodes, layer chunks (uneven ones included) and the 1F1B and interleaved schedules, each
 * against a case written out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "models/par.h"
#include "models/scenario.h"

static void load(scn_config *c, const char *text)
{
    sim_err err = {0};
    if (cli_load_scenario_text("p.ini", text, NULL, 0, c, &err) != SIM_OK)
        fail_msg("%s", err.msg);
}

/* 16 GPUs = tp 2 x dp 4 x pp 2. tp-dp-pp: GPU = tp + 2 dp + 8 pp; plane index q = tp + 2 dp.
 * pp-dp-tp: GPU = pp + 2 dp + 8 tp. */
static void test_orders(void **state)
{
    (void)state;
    scn_config c;
    load(&c, "[cluster]\nnodes = 2\n[parallel]\ntp = 2\npp = 2\n");
    par_layout p;
    par_layout_of(&c, &p);
    assert_int_equal(p.dp, 4);
    assert_int_equal(p.plane, 8);
    assert_int_equal(p.ep, 8);              /* gcd(8 experts, 8 GPUs per stage) */
    assert_int_equal(par_gpu(&p, 1, 5), 8 + 5);
    int s, q;
    par_coords(&p, 13, &s, &q);
    assert_int_equal(s, 1);
    assert_int_equal(q, 5);
    load(&c, "[cluster]\nnodes = 2\n[parallel]\ntp = 2\npp = 2\norder = pp-dp-tp\n");
    par_layout_of(&c, &p);
    /* q = 5: tp rank 1, dp rank 2; stage 1 -> GPU 1 + 2 * 2 + 8 * 1 = 13 */
    assert_int_equal(par_gpu(&p, 1, 5), 13);
    for (int g = 0; g < 16; g++) {
        par_coords(&p, g, &s, &q);
        assert_int_equal(par_gpu(&p, s, q), g);
    }
}

/* EP 16 over 2 nodes of 8 (default order): ranks 0-7 on node 0, 8-15 on node 1. With
 * order dp-tp-pp and tp 2 the group is spread the same way; 3 GPUs per node with EP 2
 * leaves some groups across a node boundary: uneven, -1. */
static void test_ep_nodes(void **state)
{
    (void)state;
    scn_config c;
    load(&c, "[cluster]\nnodes = 2\n[model]\nexperts = 16\n");
    par_layout p;
    par_layout_of(&c, &p);
    int node_of[16];
    assert_int_equal(par_ep_nodes(&p, 8, node_of), 2);
    assert_int_equal(node_of[7], 0);
    assert_int_equal(node_of[8], 1);
    load(&c, "[cluster]\nnodes = 2\ngpus_per_node = 3\n[model]\nexperts = 6\n"
             "[parallel]\nep = 2\n");
    par_layout_of(&c, &p);
    assert_int_equal(par_ep_nodes(&p, 3, NULL), -1);
}

/* 94 layers over pp 8 x vpp 4 = 32 chunks: 94 = 30 x 3 + 2 x 2, the two smaller chunks at
 * the ends (chunk 0 on stage 0, chunk 31 on stage 7). 10 layers over 4 chunks: sizes
 * 2, 3, 3, 2. */
static void test_uneven_chunks(void **state)
{
    (void)state;
    scn_config c;
    load(&c, "[cluster]\nnodes = 8\n[model]\nlayers = 94\n"
             "[parallel]\npp = 8\nvpp = 4\nschedule = interleaved\n"
             "[training]\nglobal_batch = 64\n");
    par_layout p;
    par_layout_of(&c, &p);
    int first[33];
    par_chunk_layers(&p, 94, first);
    for (int ch = 0; ch < 32; ch++)
        assert_int_equal(first[ch + 1] - first[ch], ch == 0 || ch == 31 ? 2 : 3);
    assert_int_equal(par_layer_stage(&p, 94, 0), 0);
    assert_int_equal(par_layer_stage(&p, 94, 2), 1);       /* chunk 1 */
    assert_int_equal(par_layer_stage(&p, 94, 93), 7);      /* chunk 31 */
    assert_int_equal(par_layer_stage(&p, 94, 26), 1);      /* 2 + 8 x 3 = 26 starts chunk 9 */
    load(&c, "[model]\nlayers = 10\n[parallel]\npp = 4\n[training]\nglobal_batch = 2\n");
    par_layout_of(&c, &p);
    par_chunk_layers(&p, 10, first);
    int want[5] = {0, 2, 5, 8, 10};
    for (int i = 0; i < 5; i++)
        assert_int_equal(first[i], want[i]);
}

static void expect_ops(const par_op *ops, int n, const char *want)
{
    char got[512] = "", one[16];
    for (int i = 0; i < n; i++) {
        snprintf(one, sizeof one, "%s%c%d.%d", i ? " " : "", ops[i].forward ? 'F' : 'B', ops[i].v,
                 ops[i].micro);
        strcat(got, one);
    }
    assert_string_equal(got, want);
}

/* 1F1B with pp 4 and 6 micro-batches: stage s warms up with pp - s - 1 forwards. Stage 0:
 * F0 F1 F2, then F3 B0 F4 B1 F5 B2, then B3 B4 B5; the last stage alternates from the start. */
static void test_1f1b(void **state)
{
    (void)state;
    scn_config c;
    load(&c, "[parallel]\npp = 4\n[training]\nglobal_batch = 12\n");
    par_layout p;
    par_layout_of(&c, &p);
    assert_int_equal(p.n_micro, 6);
    par_op ops[12];
    par_schedule(&p, 0, ops);
    expect_ops(ops, 12, "F0.0 F0.1 F0.2 F0.3 B0.0 F0.4 B0.1 F0.5 B0.2 B0.3 B0.4 B0.5");
    par_schedule(&p, 3, ops);
    expect_ops(ops, 12, "F0.0 B0.0 F0.1 B0.1 F0.2 B0.2 F0.3 B0.3 F0.4 B0.4 F0.5 B0.5");
    assert_int_equal(par_warmup(&p, 1), 2);
}

/* Megatron's interleaved schedule, pp 2, vpp 2, 4 micro-batches (8 passes each way per
 * stage). Forward k runs chunk (k mod 4) / 2 on micro-batch 2 (k / 4) + k mod 2; backward
 * k the chunk 1 - (k mod 4) / 2. Warm-up: stage 0 (2-0-1) x 2 + (2-1) x 2 = 4, stage 1 2. */
static void test_interleaved(void **state)
{
    (void)state;
    scn_config c;
    load(&c, "[parallel]\npp = 2\nvpp = 2\nschedule = interleaved\n"
             "[training]\nglobal_batch = 16\n");
    par_layout p;
    par_layout_of(&c, &p);
    assert_int_equal(p.n_micro, 4);
    par_op ops[16];
    par_schedule(&p, 0, ops);
    expect_ops(ops, 16, "F0.0 F0.1 F1.0 F1.1 F0.2 B1.0 F0.3 B1.1 F1.2 B0.0 F1.3 B0.1 "
                        "B1.2 B1.3 B0.2 B0.3");
    par_schedule(&p, 1, ops);
    expect_ops(ops, 16, "F0.0 F0.1 F1.0 B1.0 F1.1 B1.1 F0.2 B0.0 F0.3 B0.1 F1.2 B1.2 "
                        "F1.3 B1.3 B0.2 B0.3");
}

/* What does not divide is refused, naming the key. */
static void test_rejected(void **state)
{
    (void)state;
    struct {
        const char *text, *msg;
    } cases[] = {
        {"[parallel]\ntp = 3\n", "parallel.tp: parallel.tp x parallel.pp = 3 x 1 must divide "
                                 "the 8 GPUs"},
        {"[parallel]\ntp = 2\npp = 2\ndp = 3\n", "parallel.dp: expected tp x pp x dp = the 8 GPUs"},
        {"[model]\nheads = 30\nkv_heads = 10\nhidden = 3840\n[parallel]\ntp = 4\n",
         "parallel.tp: expected a divisor of model.heads = 30 (got 4)"},
        {"[parallel]\nep = 3\n", "parallel.ep: expected a divisor of tp x dp = 8"},
        {"[model]\nexperts = 6\n[parallel]\nep = 4\n",
         "parallel.ep: expected a divisor of model.experts = 6 (got 4)"},
        {"[training]\nglobal_batch = 12\n",
         "training.global_batch: expected a multiple of dp x micro_batch = 8 x 1 = 8 sequences "
         "(got 12)"},
        {"[parallel]\nvpp = 2\n", "parallel.vpp: expected 1 with parallel.schedule = 1f1b"},
        {"[parallel]\npp = 2\nvpp = 2\nschedule = interleaved\n[training]\nglobal_batch = 4\n",
         "training.global_batch: the interleaved schedule needs a multiple of pp = 2 "
         "micro-batches per data-parallel rank (got 1)"},
        {"[model]\nlayers = 3\n[parallel]\npp = 4\n",
         "parallel.pp: pp x vpp = 4 model chunks but model.layers = 3"},
        {"[cluster]\nslow_gpus = 3:0.5, 9:0.5\n", "cluster.slow_gpus: GPU 9 does not exist"},
        {"[cluster]\nslow_gpus = 3:1.5\n", "cluster.slow_gpus: GPU 3: expected a speed factor"},
        {"[cluster]\nslow_gpus = 3\n", "cluster.slow_gpus: expected ID:FACTOR pairs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        scn_config c;
        sim_err err = {0};
        if (cli_load_scenario_text("p.ini", cases[i].text, NULL, 0, &c, &err) != SIM_EINPUT ||
            !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got \"%s\", expected \"%s\"", i, err.msg, cases[i].msg);
    }
    scn_config c;
    load(&c, "[cluster]\nslow_gpus = 3:0.5, 7:0.25\n");
    assert_int_equal(c.cluster.n_slow, 2);
    assert_int_equal(c.cluster.slow[1].gpu, 7);
    assert_true(c.cluster.slow[1].speed == 0.25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders),       cmocka_unit_test(test_ep_nodes),
        cmocka_unit_test(test_uneven_chunks), cmocka_unit_test(test_1f1b),
        cmocka_unit_test(test_interleaved),  cmocka_unit_test(test_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
