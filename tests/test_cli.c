/* tests/test_cli.c: end-to-end tests of the moesim command (the binary named by the
 * MOESIM environment variable, ./moesim by default): summaries, JSON, exit statuses,
 * error messages for bad scenarios, the database rows and determinism. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/e2e.h"

/* A small, fast scenario: 4 GPUs, 2 layers. */
static const char small[] = "[cluster]\ngpu = h100-sxm\nnodes = 1\ngpus_per_node = 4\n"
                            "[model]\nlayers = 2\nhidden = 1024\nffn_expert = 2048\n"
                            "experts = 8\ntop_k = 2\nheads = 8\nkv_heads = 8\n"
                            "[training]\nseq_len = 512\nmicro_batch = 2\n";

static int setup(void **state)
{
    (void)state;
    return e2e_mkdir("cli") == 0 ? write_file("small.ini", small) : -1;
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

static void test_help_and_version(void **state)
{
    (void)state;
    assert_int_equal(run("--version"), 0);
    assert_string_equal(out_buf, "moesim 0.1.0\n");
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(out_buf, "usage: moesim COMMAND"));
    assert_int_equal(run("run --help"), 0);
    assert_non_null(strstr(out_buf, "--set section.key=value"));
    assert_int_equal(run("frobnicate"), 2);
    assert_int_equal(run("run"), 2);
    assert_non_null(strstr(err_buf, "missing scenario FILE"));
}

/* --json: breakdown_s values sum to step_time_s (to rounding of the ps -> s conversion). */
static void test_json_breakdown_sums(void **state)
{
    (void)state;
    assert_int_equal(run("run %s/small.ini --db %s/a.db --json", dir, dir), 0);
    cJSON *o = cJSON_Parse(out_buf);
    assert_non_null(o);
    double step = cJSON_GetObjectItem(o, "step_time_s")->valuedouble, sum = 0;
    assert_true(step > 0);
    cJSON *bd = cJSON_GetObjectItem(o, "breakdown_s"), *it;
    cJSON_ArrayForEach(it, bd) sum += it->valuedouble;
    assert_true(fabs(sum - step) <= 1e-12 * step);
    const char *keys[] = {"tokens_per_s_per_gpu", "events", "wall_s"};
    for (int i = 0; i < 3; i++)
        assert_non_null(cJSON_GetObjectItem(o, keys[i]));
    /* tokens per GPU per step = 512 x 2 */
    double tps = cJSON_GetObjectItem(o, "tokens_per_s_per_gpu")->valuedouble;
    assert_true(fabs(tps * step - 1024.0) < 1e-9 * 1024);
    cJSON_Delete(o);
}

static double query_double(const char *db, const char *sql)
{
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

/* The summary names the step time; the database holds one run whose breakdown rows sum to
 * the step time and whose expert loads sum to tokens x k (4 GPUs x 1024 tokens x 2 per layer,
 * 2 layers = 16384). */
static void test_run_writes_database(void **state)
{
    (void)state;
    char db[300];
    snprintf(db, sizeof db, "%s/b.db", dir);
    assert_int_equal(run("run %s/small.ini --db %s", dir, db), 0);
    assert_non_null(strstr(out_buf, "step time"));
    assert_non_null(strstr(out_buf, "expert_gemm"));
    assert_true(query_double(db, "SELECT count(*) FROM runs") == 1);
    double step = query_double(db, "SELECT step_time_s FROM steps");
    double sum = query_double(db, "SELECT sum(seconds) FROM breakdown");
    assert_true(fabs(sum - step) <= 1e-12 * step);
    assert_true(query_double(db, "SELECT sum(tokens) FROM expert_load") == 16384);
    assert_true(query_double(db, "SELECT count(*) FROM gpu_busy") == 4);
    /* a second run adds a second row */
    assert_int_equal(run("run %s/small.ini --db %s --quiet", dir, db), 0);
    assert_true(query_double(db, "SELECT count(*) FROM runs") == 2);
}

/* Same scenario and seed: identical step time and expert loads; another seed differs. */
static void test_same_seed_same_rows(void **state)
{
    (void)state;
    char db[300];
    snprintf(db, sizeof db, "%s/c.db", dir);
    assert_int_equal(run("run %s/small.ini --db %s --set run.seed=5", dir, db), 0);
    assert_int_equal(run("run %s/small.ini --db %s --set run.seed=5", dir, db), 0);
    assert_int_equal(run("run %s/small.ini --db %s --set run.seed=6", dir, db), 0);
    const char *diff = "SELECT count(*) FROM expert_load a JOIN expert_load b "
                       "ON a.step = b.step AND a.layer = b.layer AND a.expert = b.expert "
                       "WHERE a.run_id = %d AND b.run_id = %d AND a.tokens != b.tokens";
    char sql[512];
    snprintf(sql, sizeof sql, diff, 1, 2);
    assert_true(query_double(db, sql) == 0);
    snprintf(sql, sizeof sql, diff, 1, 3);
    assert_true(query_double(db, sql) > 0);
    assert_true(query_double(db, "SELECT count(DISTINCT step_time_s) FROM steps "
                                 "WHERE run_id IN (1, 2)") == 1);
}

/* --set overrides a key: fewer layers, shorter step. */
static void test_set_override(void **state)
{
    (void)state;
    assert_int_equal(run("run %s/small.ini --db %s/d.db --json", dir, dir), 0);
    cJSON *a = cJSON_Parse(out_buf);
    assert_int_equal(run("run %s/small.ini --db %s/d.db --json --set model.layers=1", dir, dir), 0);
    cJSON *b = cJSON_Parse(out_buf);
    assert_true(cJSON_GetObjectItem(b, "step_time_s")->valuedouble <
                cJSON_GetObjectItem(a, "step_time_s")->valuedouble);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* Bad input: exact message on stderr, exit status 2, and no database file written. */
static void test_bad_scenarios(void **state)
{
    (void)state;
    struct {
        const char *text, *set, *msg;
    } cases[] = {
        {"[cluster]\nnodes = 1\nfoo = 2\n", "",
         "bad.ini:3: cluster.foo: unknown key (keys in [cluster]: gpu, nodes, gpus_per_node, "
         "intra, inter, intra_bw_GBps, intra_lat_us, inter_bw_Gbps, inter_lat_us, "
         "link_efficiency, gemm_efficiency, mem_efficiency, attn_efficiency, launch_us, "
         "nics_per_node, "
         "oversubscription, slow_gpus)"},
        {"[clusterr]\nnodes = 1\n", "", "bad.ini:1: [clusterr]: unknown section"},
        {"[model]\nlayers = many\n", "",
         "bad.ini:2: model.layers: expected an integer (got \"many\")"},
        {"[cluster]\nintra_bw_GBps = -5\n", "",
         "bad.ini:2: cluster.intra_bw_GBps: expected a value greater than 0"},
        {"[model]\nexperts = 4\ntop_k = 6\n", "",
         "bad.ini:3: model.top_k: expected at most model.experts = 4 (got 6)"},
        {"[model]\nexperts = 6\n[parallel]\nep = 8\n", "",
         "bad.ini:4: parallel.ep: expected a divisor of model.experts = 6 (got 8)"},
        {"[model]\nexperts = 6\n", "--set parallel.ep=4",
         "--set: parallel.ep: expected a divisor of model.experts = 6 (got 4)"},
        {"", "--set model.hidden=0", "--set: model.hidden: expected a value between 1 and"},
        {"[routing]\nmodel = zipfian\n", "",
         "bad.ini:2: routing.model: expected one of: uniform, zipf, dirichlet, hot, trace, "
         "expert_choice (got \"zipfian\")"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file("bad.ini", cases[i].text);
        int rc = run("run %s/bad.ini --db %s/never.db %s", dir, dir, cases[i].set);
        if (rc != 2 || !strstr(err_buf, cases[i].msg))
            fail_msg("case %zu: exit %d, stderr: %s(expected: %s)", i, rc, err_buf, cases[i].msg);
        assert_false(exists("never.db"));
    }
    assert_int_equal(run("run %s/missing.ini --db %s/never.db", dir, dir), 2);
    assert_non_null(strstr(err_buf, "missing.ini: cannot read"));
    assert_int_equal(run("run %s/small.ini --db %s/nodir/x.db", dir, dir), 2);
    assert_non_null(strstr(err_buf, "directory"));
    assert_false(exists("never.db"));
}

/* plot: a PNG from a database with runs. */
static void test_plot(void **state)
{
    (void)state;
    assert_int_equal(run("run %s/small.ini --db %s/p.db --quiet", dir, dir), 0);
    assert_int_equal(run("plot %s/p.db -o %s/p.png", dir, dir), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/p.png", dir);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    unsigned char sig[8] = {0};
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(run("plot %s/p.db -o %s/p.jpg", dir, dir), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),   cmocka_unit_test(test_json_breakdown_sums),
        cmocka_unit_test(test_run_writes_database), cmocka_unit_test(test_same_seed_same_rows),
        cmocka_unit_test(test_set_override),        cmocka_unit_test(test_bad_scenarios),
        cmocka_unit_test(test_plot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
