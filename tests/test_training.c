/* tests/test_training.c: end-to-end properties of the training step through the moesim
 * command (MOESIM, ./moesim by default): the step never gets slower when overlap is on,
 * never faster when the router gets more skewed, the breakdown always sums to the step,
 * the run JSON carries the training-step outputs, and pipeline, tensor and ZeRO layouts run
 * on a small 2-node cluster. */
#include <cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/e2e.h"

/* A small MoE on 2 nodes of 4 GPUs: 4 layers (1 dense), 8 experts top-2, a shared expert,
 * 4 sequences of 256 tokens per DP rank and step. */
static const char small[] =
    "[cluster]\nnodes = 2\ngpus_per_node = 4\n"
    "[model]\nlayers = 4\ndense_layers = 1\nffn_dense = 2048\nhidden = 512\nffn_expert = 1024\n"
    "experts = 8\ntop_k = 2\nshared_experts = 1\nheads = 8\nkv_heads = 4\nvocab = 1000\n"
    "[training]\nseq_len = 256\nmicro_batch = 1\n";

static int setup(void **state)
{
    (void)state;
    return e2e_mkdir("training") == 0 ? write_file("small.ini", small) : -1;
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

/* `moesim run small.ini --json SETS`, parsed; the test fails if it does not run. */
static cJSON *run_json(const char *sets)
{
    int st = run("run %s/small.ini --db %s/t.db --json --quiet %s", dir, dir, sets);
    if (st != 0)
        fail_msg("moesim failed (%d) with: %s\n%s", st, sets, err_buf);
    cJSON *o = cJSON_Parse(out_buf);
    assert_non_null(o);
    return o;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v))
        fail_msg("no number %s in the output", key);
    return v->valuedouble;
}

static double step_time(const char *sets)
{
    cJSON *o = run_json(sets);
    double t = num(o, "step_time_s");
    /* the breakdown sums to the step time (printed with 12 digits) */
    double sum = 0;
    const cJSON *b = cJSON_GetObjectItem(o, "breakdown_s"), *it;
    cJSON_ArrayForEach(it, b) sum += it->valuedouble;
    assert_true(fabs(sum - t) <= 1e-9 * t + 1e-12);
    cJSON_Delete(o);
    return t;
}

/* Overlap lets communication run under compute; turning it on never makes a step slower.
 * Layouts: plain EP, pipelined with ZeRO 1, tensor parallel with ZeRO 3, interleaved. */
static void test_overlap_never_slower(void **state)
{
    (void)state;
    const char *layouts[] = {
        "",
        "--set parallel.pp=2 --set parallel.zero=1 --set training.global_batch=16",
        "--set parallel.tp=2 --set parallel.zero=3 --set training.global_batch=8",
        "--set parallel.pp=2 --set parallel.vpp=2 --set parallel.schedule=interleaved "
        "--set training.global_batch=16 --set routing.model=zipf",
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char on[512], off[512];
        snprintf(on, sizeof on, "%s --set training.overlap=true", layouts[i]);
        snprintf(off, sizeof off, "%s --set training.overlap=false", layouts[i]);
        double a = step_time(on), b = step_time(off);
        if (!(a <= b))
            fail_msg("layout %zu: overlap on %.9f s > off %.9f s", i, a, b);
    }
}

/* Same seed, more skew: the hot experts' GPUs only get busier. */
static void test_skew_never_faster(void **state)
{
    (void)state;
    double prev = 0;
    for (double skew = 0; skew <= 2.0; skew += 0.5) {
        char sets[256];
        snprintf(sets, sizeof sets, "--set routing.model=zipf --set routing.skew=%g", skew);
        double t = step_time(sets);
        if (t < prev)
            fail_msg("skew %g: %.9f s, faster than %.9f s at the lower skew", skew, t, prev);
        prev = t;
    }
}

/* The JSON of a pipelined run names its layout and the training-step outputs. */
static void test_outputs(void **state)
{
    (void)state;
    cJSON *o = run_json("--set parallel.pp=2 --set parallel.tp=2 --set training.global_batch=8 "
                        "--set parallel.zero=1");
    const char *keys[] = {"tokens_per_s", "tokens_per_s_per_gpu", "model_tflops_per_gpu", "mfu",
                          "megatron_tflops_per_gpu", "memory_per_gpu_bytes", "dropped_fraction",
                          "max_mean_load", "imbalance_cost_s", "params_total", "params_active",
                          "gpu_hours", "cost_usd", "gpu_hours_per_trillion_tokens", "comm_s",
                          "comm_overlapped_s", "comm_exposed_s", "tasks"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        (void)num(o, keys[i]);
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(o, "fits")));
    const cJSON *par = cJSON_GetObjectItem(o, "parallel");
    assert_true(num(par, "tp") == 2 && num(par, "pp") == 2 && num(par, "dp") == 2);
    assert_true(num(par, "ep") == 4 && num(par, "micro_batches") == 4);   /* 8 / (2 x 1) */
    const cJSON *bd = cJSON_GetObjectItem(o, "breakdown_s");
    assert_true(num(bd, "tp_comm") > 0 && num(bd, "pp_comm") > 0);
    const cJSON *busy = cJSON_GetObjectItem(o, "gpu_busy_fraction");
    assert_true(num(busy, "min") > 0 && num(busy, "max") <= 1);
    /* 4 micro-batches x 2 DP ranks x 256 tokens in the step */
    assert_true(fabs(num(o, "tokens_per_s") * num(o, "step_time_s") - 2048) < 1e-6);
    cJSON_Delete(o);
}

/* run.replicas simulates one of the 4 expert-data-parallel replicas (EP 2 of 8 GPUs); the
 * gradient collectives that span the others cost their closed-form ring time. With balanced
 * routing on ideal, uncontended links (analytic model, no chunking) that is what the full
 * simulation's rings take, to the picosecond rounding of their 2(P-1) steps: the balanced
 * counterfactuals agree within 10 ps, with a fifth of the tasks. */
/* One node of 8 GPUs on ideal, uncontended links (analytic model, no chunking), EP 2. */
static const char ideal_node[] = "--set cluster.nodes=1 --set cluster.gpus_per_node=8 "
                                 "--set cluster.link_efficiency=1 --set parallel.ep=2 "
                                 "--set network.model=analytic --set network.chunk_KiB=0";

/* run_json on ideal_node with one more setting. */
static cJSON *run_ideal(const char *set)
{
    char sets[512];
    snprintf(sets, sizeof sets, "%s --set %s", ideal_node, set);
    return run_json(sets);
}

static void test_replicas_reduction(void **state)
{
    (void)state;
    cJSON *full = run_ideal("run.replicas=0");
    cJSON *red = run_ideal("run.replicas=1");
    double a = num(full, "balanced_step_time_s"), b = num(red, "balanced_step_time_s");
    if (fabs(a - b) > 10e-12)
        fail_msg("balanced step: full %.12f s, reduced %.12f s", a, b);
    assert_true(num(red, "tasks") * 4 < num(full, "tasks"));
    cJSON_Delete(full);
    cJSON_Delete(red);
}

/* network.ring_bundles: on one node of ideal links (analytic model, no chunking) a ring as
 * one bundle takes what its steps take, to their picosecond rounding: the step, the
 * gradient time and each GPU's communication time (a bundle counts on every member's GPU)
 * agree within 10 ps, with fewer tasks. */
static void test_ring_bundles(void **state)
{
    (void)state;
    cJSON *steps = run_ideal("network.ring_bundles=false");
    cJSON *bund = run_ideal("network.ring_bundles=true");
    const char *keys[] = {"step_time_s", "balanced_step_time_s", "comm_s"};
    for (size_t i = 0; i < 3; i++) {
        double a = num(steps, keys[i]), b = num(bund, keys[i]);
        if (!(a > 0) || fabs(a - b) > 10e-12)
            fail_msg("%s: rings step by step %.12f s, as bundles %.12f s", keys[i], a, b);
    }
    double ga = num(cJSON_GetObjectItem(steps, "breakdown_s"), "grad_reduce");
    double gb = num(cJSON_GetObjectItem(bund, "breakdown_s"), "grad_reduce");
    assert_true(ga > 0 && fabs(ga - gb) <= 10e-12);
    assert_true(num(bund, "tasks") < num(steps, "tasks"));
    cJSON_Delete(steps);
    cJSON_Delete(bund);
}

/* run.balanced = false skips the counterfactual: the same step to the picosecond, and the
 * imbalance figures null in the JSON (never a made-up number) and "not computed" in the
 * summary. */
static void test_balanced_off(void **state)
{
    (void)state;
    cJSON *on = run_json("");
    cJSON *off = run_json("--set run.balanced=false");
    assert_true(num(on, "step_time_s") == num(off, "step_time_s"));
    (void)num(on, "imbalance_cost_s");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(off, "imbalance_cost_s")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(off, "balanced_step_time_s")));
    cJSON_Delete(on);
    cJSON_Delete(off);
    assert_int_equal(run("run %s/small.ini --db %s/nb.db --quiet --set run.balanced=false", dir,
                         dir), 0);
    assert_non_null(strstr(out_buf, "imbalance  not computed (run.balanced = false)"));
    /* and the database has no row for what was not computed */
    char path[300];
    snprintf(path, sizeof path, "%s/nb.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), sum(name LIKE '%imbalance%' OR name "
                                            "LIKE 'balanced%') FROM metrics", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_int(st, 0) > 10 && sqlite3_column_int(st, 1) == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* 94 layers on 8 pipeline stages x 4 virtual stages (32 chunks of 2 or 3 layers): the
 * uneven split runs, interleaved, with every layer's experts routed. */
static void test_uneven_pipeline_runs(void **state)
{
    (void)state;
    cJSON *o = run_json("--set model.layers=94 --set model.dense_layers=0 --set parallel.pp=8 "
                        "--set parallel.vpp=4 --set parallel.schedule=interleaved "
                        "--set training.global_batch=8");
    assert_true(num(o, "step_time_s") > 0);
    assert_true(num(cJSON_GetObjectItem(o, "parallel"), "micro_batches") == 8);
    assert_true(num(cJSON_GetObjectItem(o, "breakdown_s"), "pipeline_bubble") > 0);
    cJSON_Delete(o);
}

/* Node-limited routing with a deduplicating (hierarchical) dispatch: a token crosses the
 * fabric once per node it needs, so keeping each token on one node (node_limit 1) moves
 * fewer bytes between the 2 nodes and the all-to-alls take less time. */
static void test_node_limit_saves_fabric(void **state)
{
    (void)state;
    const char *base = "--set network.all_to_all=hierarchical --set model.experts=16 "
                       "--set model.top_k=4";
    char sets[512];
    snprintf(sets, sizeof sets, "%s --set routing.node_limit=0", base);
    cJSON *flat = run_json(sets);
    snprintf(sets, sizeof sets, "%s --set routing.node_limit=1", base);
    cJSON *one = run_json(sets);
    const cJSON *bf = cJSON_GetObjectItem(flat, "breakdown_s");
    const cJSON *b1 = cJSON_GetObjectItem(one, "breakdown_s");
    assert_true(num(b1, "dispatch") + num(b1, "combine") <
                num(bf, "dispatch") + num(bf, "combine"));
    cJSON_Delete(flat);
    cJSON_Delete(one);
}

/* A dense model (every layer dense, one "expert") runs on its own: no MoE layer, nothing
 * to drop, finite outputs. */
static void test_dense_model_runs(void **state)
{
    (void)state;
    cJSON *o = run_json("--set model.dense_layers=4 --set model.experts=1 --set model.top_k=1 "
                        "--set model.shared_experts=0");
    assert_true(num(o, "step_time_s") > 0);
    assert_true(num(o, "dropped_fraction") == 0);
    assert_true(num(o, "imbalance_cost_s") == 0);
    cJSON_Delete(o);
    /* every layer dense but the router's experts kept (8, top-2): the draws of dense layers
     * route nothing, so no load ratio is reported from them */
    o = run_json("--set model.dense_layers=4");
    assert_true(num(o, "max_mean_load") == 0 && num(o, "dropped_fraction") == 0);
    cJSON_Delete(o);
    assert_int_equal(run("run %s/small.ini --db %s/t.db --quiet --set model.dense_layers=4", dir,
                         dir), 0);
    assert_non_null(strstr(out_buf, "routing    none: no MoE layers"));
}

/* A slow GPU slows the step: a hardware straggler, not the router's. */
static void test_slow_gpu(void **state)
{
    (void)state;
    double base = step_time(""), slow = step_time("--set cluster.slow_gpus=5:0.5");
    assert_true(slow > base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlap_never_slower),
        cmocka_unit_test(test_skew_never_faster),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_slow_gpu),
        cmocka_unit_test(test_replicas_reduction),
        cmocka_unit_test(test_ring_bundles),
        cmocka_unit_test(test_balanced_off),
        cmocka_unit_test(test_uneven_pipeline_runs),
        cmocka_unit_test(test_node_limit_saves_fabric),
        cmocka_unit_test(test_dense_model_runs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
