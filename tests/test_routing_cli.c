/* tests/test_routing_cli.c: end-to-end checks of the routing features through the moesim
 * command (MOESIM names the binary, ./moesim by default): the imbalance cost, the routing
 * metrics in JSON and in the database (schema 2), trace files, bad routing scenarios,
 * determinism with dynamics. */
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

/* 4 GPUs, 2 layers, 8 experts top-2 (2 per GPU), 1024 tokens per GPU. */
static const char small[] = "[cluster]\ngpu = h100-sxm\nnodes = 1\ngpus_per_node = 4\n"
                            "[model]\nlayers = 2\nhidden = 1024\nffn_expert = 2048\n"
                            "experts = 8\ntop_k = 2\nheads = 8\nkv_heads = 8\n"
                            "[training]\nseq_len = 512\nmicro_batch = 2\n";

static int setup(void **state)
{
    (void)state;
    return e2e_mkdir("routing") == 0 ? write_file("small.ini", small) : -1;
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

/* Runs small.ini with extra --set arguments and returns the parsed JSON (caller frees). */
static cJSON *run_json(const char *sets)
{
    int rc = run("run %s/small.ini --db %s/r.db --json %s", dir, dir, sets);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, err_buf);
    cJSON *o = cJSON_Parse(out_buf);
    assert_non_null(o);
    return o;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItem(o, key);
    if (!it)
        fail_msg("no %s in the JSON", key);
    return it->valuedouble;
}

/* Every routing output is in the JSON; the imbalance cost is the step time minus the
 * balanced step time, and its percent is of the step time. */
static void test_json_fields(void **state)
{
    (void)state;
    cJSON *o = run_json("--set routing.model=zipf");
    const char *keys[] = {"imbalance_cost_s", "imbalance_cost_percent", "balanced_step_time_s",
                          "max_mean_load", "max_mean_gpu_load", "dropped_fraction", "cv",
                          "entropy", "aux_loss", "cold_experts"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        (void)num(o, keys[i]);
    double step = num(o, "step_time_s"), bal = num(o, "balanced_step_time_s");
    assert_true(fabs(num(o, "imbalance_cost_s") - (step - bal)) <= 1e-15 * step);
    assert_true(fabs(num(o, "imbalance_cost_percent") - 100 * (step - bal) / step) < 1e-9);
    assert_string_equal(cJSON_GetObjectItem(o, "routing")->valuestring, "zipf");
    cJSON_Delete(o);
}

/* The imbalance cost is exactly zero when the routing is exactly balanced: a trace with
 * one row per source giving every expert the same count is scaled to 1024 x 2 / 8 = 256
 * per expert per source, the same counts the balanced counterfactual uses. */
static void test_zero_cost_when_balanced(void **state)
{
    (void)state;
    char csv[4096] = "step,layer,expert,tokens,src\n";
    for (int l = 0; l < 2; l++)
        for (int s = 0; s < 4; s++)
            for (int e = 0; e < 8; e++) {
                char line[64];
                snprintf(line, sizeof line, "0,%d,%d,3,%d\n", l, e, s);
                strcat(csv, line);
            }
    write_file("flat.csv", csv);
    cJSON *o = run_json("--set routing.model=trace --set routing.trace=flat.csv");
    assert_true(num(o, "imbalance_cost_s") == 0);
    assert_true(num(o, "max_mean_load") == 1 && num(o, "cv") == 0);
    assert_true(num(o, "max_mean_gpu_load") == 1);
    cJSON_Delete(o);
}

/* Imbalance cost grows with skew: zipf with skew 0 (uniform popularity), 0.5, 1, 1.5, 2
 * gives a strictly increasing imbalance cost (each step up moves the busiest GPU's load
 * far more than the sampling noise of 8192 assignments). */
static void test_cost_grows_with_skew(void **state)
{
    (void)state;
    double last = -1;
    const char *skews[] = {"0", "0.5", "1", "1.5", "2"};
    for (int i = 0; i < 5; i++) {
        char sets[128];
        snprintf(sets, sizeof sets, "--set routing.model=zipf --set routing.skew=%s", skews[i]);
        cJSON *o = run_json(sets);
        double cost = num(o, "imbalance_cost_s");
        if (!(cost > last))
            fail_msg("skew %s: cost %g not above %g", skews[i], cost, last);
        last = cost;
        cJSON_Delete(o);
    }
}

/* Expert choice: balanced by construction (max/mean 1, cv 0); what is left of the
 * imbalance cost comes only from the per-source split of each expert's tokens in the
 * all-to-all, under 0.5% of the step here. */
static void test_expert_choice(void **state)
{
    (void)state;
    cJSON *o = run_json("--set routing.model=expert_choice");
    assert_true(num(o, "max_mean_load") == 1 && num(o, "cv") == 0);
    assert_true(num(o, "max_mean_gpu_load") == 1);
    assert_true(fabs(num(o, "imbalance_cost_percent")) < 0.5);
    cJSON_Delete(o);
}

/* Replicating the hot expert cuts the straggler: hot routing (one expert with 0.5 of the
 * probability), one spare slot per GPU: the busiest GPU's load and the imbalance cost
 * both drop. */
static void test_replication_helps(void **state)
{
    (void)state;
    cJSON *a = run_json("--set routing.model=hot");
    cJSON *b = run_json("--set routing.model=hot --set placement.spare_slots=1");
    assert_true(num(b, "max_mean_gpu_load") < num(a, "max_mean_gpu_load") - 0.2);
    assert_true(num(b, "imbalance_cost_s") < 0.5 * num(a, "imbalance_cost_s"));
    /* replication moves tokens between GPUs, never changes the routing */
    assert_true(num(a, "max_mean_load") == num(b, "max_mean_load"));
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static double query_double(const char *sql)
{
    char db[300];
    snprintf(db, sizeof db, "%s/d.db", dir);
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* Schema 2 rows: 3 steps x 2 layers routing_layer rows, x 4 GPUs gpu_load rows whose
 * tokens add up to the kept assignments (3 x 2 x 4 x 1024 x 2 = 49152 when dropless);
 * cold flags on every expert_load row; the imbalance metrics. */
static void test_database_rows(void **state)
{
    (void)state;
    assert_int_equal(run("run %s/small.ini --db %s/d.db --quiet --set training.steps=3 "
                         "--set routing.model=dirichlet --set routing.alpha=0.3",
                         dir, dir),
                     0);
    assert_true(query_double("SELECT count(*) FROM routing_layer") == 6);
    assert_true(query_double("SELECT count(*) FROM gpu_load") == 24);
    assert_true(query_double("SELECT sum(tokens) FROM gpu_load") == 49152);
    assert_true(query_double("SELECT count(*) FROM expert_load WHERE cold IS NULL") == 0);
    assert_true(query_double("SELECT sum(cold) FROM expert_load WHERE step = 2") ==
                query_double("SELECT sum(cold_experts) FROM routing_layer WHERE step = 2"));
    assert_true(query_double("SELECT value FROM metrics WHERE name = 'imbalance_cost_s'") > 0);
    assert_true(query_double("SELECT min(entropy) FROM routing_layer") < 1);
    assert_true(query_double("PRAGMA user_version") >= 2);
}

/* Same scenario and seed with drift dynamics and node-limited routing: the same step
 * times, bit for bit. */
static void test_deterministic_dynamics(void **state)
{
    (void)state;
    const char *sets = "--set cluster.nodes=2 --set cluster.gpus_per_node=2 --set training.steps=3 "
                       "--set routing.model=zipf --set routing.dynamics=drift "
                       "--set routing.node_limit=1";
    char first[1 << 14];
    for (int i = 0; i < 2; i++) {
        cJSON *o = run_json(sets);
        char *txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "step_times_s"));
        if (i == 0)
            snprintf(first, sizeof first, "%s", txt);
        else
            assert_string_equal(first, txt);
        cJSON_free(txt);
        cJSON_Delete(o);
    }
}

/* Bad routing scenarios and trace files: exit 2, messages naming file, line and key. */
static void test_bad_routing(void **state)
{
    (void)state;
    struct {
        const char *set, *msg;
    } cases[] = {
        {"--set routing.model=trace",
         "--set: routing.model: trace needs routing.trace, the path of a trace CSV"},
        {"--set routing.model=hot --set routing.hot_experts=8",
         "--set: routing.hot_experts: expected fewer than model.experts = 8 (got 8)"},
        {"--set cluster.nodes=2 --set cluster.gpus_per_node=2 --set model.top_k=5 "
         "--set routing.node_limit=1",
         "--set: routing.node_limit: 1 node(s) hold 4 experts, fewer than model.top_k = 5"},
        {"--set cluster.nodes=2 --set cluster.gpus_per_node=3 --set model.experts=6 "
         "--set parallel.ep=2 --set routing.group_nodes=1",
         "--set: routing.group_nodes: needs EP groups spread evenly over at most 64 nodes"},
        {"--set routing.model=expert_choice --set routing.dynamics=drift",
         "--set: routing.dynamics: expected none with routing.model = expert_choice"},
        {"--set routing.model=trace --set routing.trace=bad.csv",
         "bad.csv:3: column tokens: expected an integer (got \"many\")"},
        {"--set routing.model=trace --set routing.trace=missing.csv", "missing.csv: cannot read"},
    };
    write_file("bad.csv", "step,layer,expert,tokens\n0,0,0,4\n0,0,1,many\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run("run %s/small.ini --db %s/never.db %s", dir, dir, cases[i].set);
        if (rc != 2 || !strstr(err_buf, cases[i].msg))
            fail_msg("case %zu: exit %d, stderr: %s(expected: %s)", i, rc, err_buf,
                     cases[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_zero_cost_when_balanced),
        cmocka_unit_test(test_cost_grows_with_skew),
        cmocka_unit_test(test_expert_choice),
        cmocka_unit_test(test_replication_helps),
        cmocka_unit_test(test_database_rows),
        cmocka_unit_test(test_deterministic_dynamics),
        cmocka_unit_test(test_bad_routing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
