/* tests/test_db_v2.c: results schemas 2 (routing metrics) and 3 (task timeline): a schema-1
 * database migrates
 * forward keeping its rows; routing rows are written and read back exactly. */
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "results/db.h"

static char path[256];

static int setup(void **state)
{
    (void)state;
    char dir[] = "/tmp/moesim-dbv2-XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/r.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %.*s", (int)(strrchr(path, '/') - path), path);
    return system(cmd);
}

static int64_t q_int(sqlite3 *c, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The schema-1 tables this test needs (as results/db.c's schema_v1 creates them) and one
 * expert_load row, at user_version 1. */
static void make_v1(void)
{
    sqlite3 *c;
    unlink(path);
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    const char *sql =
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, scenario TEXT NOT "
        "NULL, resolved TEXT NOT NULL, seed INTEGER NOT NULL, version TEXT NOT NULL, "
        "started_at TEXT NOT NULL, wall_s REAL NOT NULL, n_gpus INTEGER NOT NULL, n_layers "
        "INTEGER NOT NULL, n_experts INTEGER NOT NULL, n_steps INTEGER NOT NULL);"
        "CREATE TABLE steps (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
        "step INTEGER NOT NULL, step_time_s REAL NOT NULL, tokens REAL NOT NULL, "
        "dropped_tokens REAL NOT NULL, max_mean_load REAL NOT NULL, events INTEGER NOT NULL, "
        "PRIMARY KEY (run_id, step));"
        "CREATE TABLE breakdown (run_id INTEGER NOT NULL, step INTEGER NOT NULL, category "
        "TEXT NOT NULL, category_index INTEGER NOT NULL, seconds REAL NOT NULL, PRIMARY KEY "
        "(run_id, step, category));"
        "CREATE TABLE gpu_busy (run_id INTEGER NOT NULL, step INTEGER NOT NULL, gpu INTEGER "
        "NOT NULL, busy_s REAL NOT NULL, PRIMARY KEY (run_id, step, gpu));"
        "CREATE TABLE expert_load (run_id INTEGER NOT NULL, step INTEGER NOT NULL, layer "
        "INTEGER NOT NULL, expert INTEGER NOT NULL, tokens INTEGER NOT NULL, dropped INTEGER, "
        "PRIMARY KEY (run_id, step, layer, expert));"
        "CREATE TABLE metrics (run_id INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT "
        "NULL, PRIMARY KEY (run_id, name));"
        "INSERT INTO runs VALUES (1, 'old', '', '', 1, '0.1.0', '2024-01-01T00:00:00Z', 0, 1, "
        "1, 1, 1);"
        "INSERT INTO steps VALUES (1, 0, 1.0, 10, 0, 1, 5);"
        "INSERT INTO expert_load VALUES (1, 0, 0, 0, 10, 0);"
        "PRAGMA user_version = 1;";
    assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
}

/* Read-only opening refuses schema 1; opening for writing migrates through 2 to the current
 * schema 3, keeps the old row (its cold column NULL: not reported) and adds the routing
 * tables (2) and the task timeline (3). */
static void test_migrates_v1(void **state)
{
    (void)state;
    make_v1();
    res_db *db = NULL;
    sim_err err = {0};
    assert_int_equal(res_db_open_readonly(path, &db, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "written by an older moesim (schema 1)"));
    assert_int_equal(res_db_open(path, &db, &err), SIM_OK);
    sqlite3 *c = res_db_handle(db);
    assert_int_equal(q_int(c, "PRAGMA user_version"), 3);
    assert_int_equal(q_int(c, "SELECT tokens FROM expert_load WHERE run_id = 1"), 10);
    assert_int_equal(q_int(c, "SELECT cold FROM expert_load WHERE run_id = 1"), -1);
    assert_int_equal(q_int(c, "SELECT count(*) FROM routing_layer"), 0);
    assert_int_equal(q_int(c, "SELECT count(*) FROM gpu_load"), 0);
    assert_int_equal(q_int(c, "SELECT count(*) FROM task_spans"), 0);
    res_db_close(db);
}

/* A run with routing data: 1 step, 2 layers, 2 GPUs, 2 experts; every value comes back
 * exactly (REAL is an IEEE double). */
static void test_routing_rows(void **state)
{
    (void)state;
    unlink(path);
    res_db *db = NULL;
    assert_int_equal(res_db_open(path, &db, NULL), SIM_OK);
    double bd[1] = {1.5}, busy[2] = {1.0, 1.2};
    int64_t tok[4] = {10, 20, 30, 40}, drop[4] = {0, 1, 0, 2}, gpu_tok[4] = {11, 12, 13, 14};
    uint8_t cold[4] = {0, 1, 1, 0};
    res_layer layers[2] = {{1.25, 1.125, 0.5, 0.75, 1.0625, 0.01, 1},
                           {2.5, 2.25, 0.25, 0.5, 1.5, 0.02, 1}};
    const char *cats[1] = {"all"};
    res_step step = {.step = 0, .step_time_s = 1.5, .tokens = 10, .breakdown_s = bd,
                     .gpu_busy_s = busy, .expert_tokens = tok, .expert_dropped = drop,
                     .layers = layers, .gpu_tokens = gpu_tok, .expert_cold = cold};
    res_run run = {.name = "r", .scenario_text = "", .resolved = "", .version = "t",
                   .n_gpus = 2, .n_layers = 2, .n_experts = 2, .n_categories = 1,
                   .category_names = cats, .n_steps = 1, .steps = &step};
    int64_t id;
    assert_int_equal(res_db_write_run(db, &run, &id, NULL), SIM_OK);
    sqlite3 *c = res_db_handle(db);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c,
                                        "SELECT max_mean_load, max_mean_gpu_load, cv, entropy, "
                                        "aux_loss, dropped_fraction, cold_experts FROM "
                                        "routing_layer ORDER BY layer",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (int l = 0; l < 2; l++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        const res_layer *m = &layers[l];
        const double want[6] = {m->max_mean_load, m->max_mean_gpu_load, m->cv, m->entropy,
                                m->aux_loss, m->dropped_fraction};
        for (int i = 0; i < 6; i++)
            assert_true(sqlite3_column_double(st, i) == want[i]);
        assert_int_equal(sqlite3_column_int(st, 6), m->cold_experts);
    }
    sqlite3_finalize(st);
    assert_int_equal(q_int(c, "SELECT sum(tokens) FROM gpu_load"), 50);
    assert_int_equal(q_int(c, "SELECT tokens FROM gpu_load WHERE layer = 1 AND gpu = 0"), 13);
    assert_int_equal(q_int(c, "SELECT sum(cold) FROM expert_load"), 2);
    assert_int_equal(q_int(c, "SELECT cold FROM expert_load WHERE layer = 0 AND expert = 1"),
                     1);
    /* deleting the run cascades to the new tables */
    assert_int_equal(sqlite3_exec(c, "DELETE FROM runs", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(q_int(c, "SELECT count(*) FROM routing_layer"), 0);
    assert_int_equal(q_int(c, "SELECT count(*) FROM gpu_load"), 0);
    res_db_close(db);
}

/* Timeline spans (schema 3) come back exactly and are deleted with their run. */
static void test_span_rows(void **state)
{
    (void)state;
    unlink(path);
    res_db *db = NULL;
    assert_int_equal(res_db_open(path, &db, NULL), SIM_OK);
    double bd[2] = {1.0, 0.5}, busy[1] = {1.0};
    res_span spans[3] = {{0, 0, 0, 0.0, 1.0, 0}, {0, 1, 1, 1.0, 1.25, 4096.0},
                         {0, 0, 0, 1.25, 1.5, 0}};
    const char *cats[2] = {"compute", "comm"};
    res_step step = {.step = 0, .step_time_s = 1.5, .tokens = 1, .breakdown_s = bd,
                     .gpu_busy_s = busy, .spans = spans, .n_spans = 3};
    res_run run = {.name = "s", .scenario_text = "", .resolved = "", .version = "t",
                   .n_gpus = 1, .n_layers = 0, .n_experts = 1, .n_categories = 2,
                   .category_names = cats, .n_steps = 1, .steps = &step};
    assert_int_equal(res_db_write_run(db, &run, NULL, NULL), SIM_OK);
    sqlite3 *c = res_db_handle(db);
    assert_int_equal(q_int(c, "SELECT count(*) FROM task_spans"), 3);
    assert_int_equal(q_int(c, "SELECT bytes FROM task_spans WHERE stream = 1"), 4096);
    assert_int_equal(q_int(c, "SELECT count(*) FROM task_spans WHERE start_s = 1.25 AND "
                              "end_s = 1.5 AND category_index = 0"), 1);
    assert_int_equal(sqlite3_exec(c, "DELETE FROM runs", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(q_int(c, "SELECT count(*) FROM task_spans"), 0);
    res_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrates_v1),
        cmocka_unit_test(test_routing_rows),
        cmocka_unit_test(test_span_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
