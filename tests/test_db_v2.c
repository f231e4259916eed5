/* tests/test_db_v2.c: results schemas 2 (routing metrics), 3 (task timeline) and 4 (links,
 * memory, sweep points): older databases migrate forward keeping their rows; the rows of
 * each schema are written and read back exactly. */
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

/* Read-only opening refuses schema 1; opening for writing migrates through 2 and 3 to the
 * current schema, keeps the old row (its cold column NULL: not reported) and adds the routing
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
    assert_int_equal(q_int(c, "PRAGMA user_version"), RES_SCHEMA_VERSION);
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

/* A schema-3 database as moesim 3 left it: make_v1 plus the 1 -> 2 and 2 -> 3 migrations'
 * statements (results/db.c, never edited), with a routing_layer and a task_spans row. */
static void make_v3(void)
{
    make_v1();
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    const char *sql =
        "CREATE TABLE routing_layer (run_id INTEGER NOT NULL, step INTEGER NOT NULL, layer "
        "INTEGER NOT NULL, max_mean_load REAL NOT NULL, max_mean_gpu_load REAL NOT NULL, cv "
        "REAL NOT NULL, entropy REAL NOT NULL, aux_loss REAL NOT NULL, dropped_fraction REAL "
        "NOT NULL, cold_experts INTEGER NOT NULL, PRIMARY KEY (run_id, step, layer), FOREIGN "
        "KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE);"
        "CREATE TABLE gpu_load (run_id INTEGER NOT NULL, step INTEGER NOT NULL, layer INTEGER "
        "NOT NULL, gpu INTEGER NOT NULL, tokens INTEGER NOT NULL, PRIMARY KEY (run_id, step, "
        "layer, gpu), FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE "
        "CASCADE);"
        "ALTER TABLE expert_load ADD COLUMN cold INTEGER;"
        "CREATE TABLE task_spans (run_id INTEGER NOT NULL, step INTEGER NOT NULL, gpu INTEGER "
        "NOT NULL, stream INTEGER NOT NULL, category_index INTEGER NOT NULL, start_s REAL NOT "
        "NULL, end_s REAL NOT NULL, bytes REAL NOT NULL, FOREIGN KEY (run_id, step) "
        "REFERENCES steps(run_id, step) ON DELETE CASCADE);"
        "CREATE INDEX task_spans_run ON task_spans(run_id, step, gpu);"
        "INSERT INTO routing_layer VALUES (1, 0, 0, 1.5, 1.25, 0.5, 0.9, 1.1, 0, 0);"
        "INSERT INTO task_spans VALUES (1, 0, 0, 0, 0, 0.0, 0.5, 0);"
        "PRAGMA user_version = 3;";
    assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
}

/* Schema 3 -> 4: the old rows stay, the new tables and indices exist and are empty, and
 * the migrated database takes a run with links and memory. A read-only open of the schema-3
 * file is refused with the hint to open it for writing. */
static void test_migrates_v3(void **state)
{
    (void)state;
    make_v3();
    res_db *db = NULL;
    sim_err err = {0};
    assert_int_equal(res_db_open_readonly(path, &db, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "written by an older moesim (schema 3)"));
    assert_int_equal(res_db_open(path, &db, &err), SIM_OK);
    sqlite3 *c = res_db_handle(db);
    assert_int_equal(q_int(c, "PRAGMA user_version"), 4);
    assert_int_equal(q_int(c, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(q_int(c, "SELECT count(*) FROM routing_layer"), 1);
    assert_int_equal(q_int(c, "SELECT count(*) FROM task_spans"), 1);
    const char *tables[] = {"link_util", "memory", "memory_part", "sweep_points"};
    for (int i = 0; i < 4; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        assert_int_equal(q_int(c, sql), 0);
    }
    assert_int_equal(q_int(c, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                              "name IN ('runs_point', 'link_util_link', 'sweep_points_run')"), 3);
    /* the lookup of a point by name and resolved keys uses the new index */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, "EXPLAIN QUERY PLAN SELECT id FROM runs WHERE "
                                           "name = 'a' AND resolved = 'b'", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "runs_point"));
    sqlite3_finalize(st);
    res_db_close(db);
    /* reopening does not migrate again */
    assert_int_equal(res_db_open(path, &db, &err), SIM_OK);
    assert_int_equal(q_int(res_db_handle(db), "PRAGMA user_version"), 4);
    res_db_close(db);
}

/* Links, memory and sweep points (schema 4) come back exactly; a sweep point recorded again
 * replaces the old record; deleting a run removes its rows from every new table. */
static void test_link_memory_point_rows(void **state)
{
    (void)state;
    unlink(path);
    res_db *db = NULL;
    assert_int_equal(res_db_open(path, &db, NULL), SIM_OK);
    double bd[1] = {2.0}, busy[1] = {1.0};
    res_link links[2] = {{"node 0 NIC 0 up", 50e9, 3.5e9, 0.0875},
                         {"node 1 NIC 0 down", 50e9, 1.25e9, 0.03125}};
    res_step steps[2] = {{.step = 0, .step_time_s = 2.0, .breakdown_s = bd, .gpu_busy_s = busy,
                          .links = links, .n_links = 2},
                         {.step = 1, .step_time_s = 2.0, .breakdown_s = bd, .gpu_busy_s = busy,
                          .links = links + 1, .n_links = 1}};
    const char *parts[3] = {"weights", "gradients", "optimizer"};
    double part_bytes[3] = {1.5e9, 1.5e9, 9e9};
    res_memory mem = {.n_parts = 3, .part_names = parts, .part_bytes = part_bytes,
                      .total_bytes = 12e9, .capacity_bytes = 80e9, .fits = 1};
    const char *cats[1] = {"all"};
    res_run run = {.name = "l", .scenario_text = "", .resolved = "[run]\nseed = 1\n",
                   .version = "t", .n_gpus = 1, .n_layers = 0, .n_experts = 1,
                   .n_categories = 1, .category_names = cats, .n_steps = 2, .steps = steps,
                   .memory = &mem};
    int64_t id = 0, id2 = 0;
    assert_int_equal(res_db_write_run(db, &run, &id, NULL), SIM_OK);
    sqlite3 *c = res_db_handle(db);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, "SELECT step, rank, link, capacity_bytes_per_s, "
                                           "bytes, busy_s FROM link_util ORDER BY step, rank",
                                        -1, &st, NULL), SQLITE_OK);
    const int want_step[3] = {0, 0, 1}, want_rank[3] = {0, 1, 0}, want_link[3] = {0, 1, 1};
    for (int i = 0; i < 3; i++) {
        const res_link *k = &links[want_link[i]];
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), want_step[i]);
        assert_int_equal(sqlite3_column_int(st, 1), want_rank[i]);
        assert_string_equal((const char *)sqlite3_column_text(st, 2), k->name);
        assert_true(sqlite3_column_double(st, 3) == k->capacity_bytes_per_s);
        assert_true(sqlite3_column_double(st, 4) == k->bytes);
        assert_true(sqlite3_column_double(st, 5) == k->busy_s);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(c, "SELECT total_bytes, capacity_bytes, fits FROM memory",
                                        -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_double(st, 0) == 12e9);
    assert_true(sqlite3_column_double(st, 1) == 80e9);
    assert_int_equal(sqlite3_column_int(st, 2), 1);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(c, "SELECT part, part_index, bytes FROM memory_part "
                                           "ORDER BY part_index", -1, &st, NULL), SQLITE_OK);
    for (int p = 0; p < 3; p++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), parts[p]);
        assert_int_equal(sqlite3_column_int(st, 1), p);
        assert_true(sqlite3_column_double(st, 2) == part_bytes[p]);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* sweep points: recorded, replaced, and refused for a run that does not exist */
    sim_err err = {0};
    assert_int_equal(res_db_record_point(db, "sw", "model.layers=2", 1, id, &err), SIM_OK);
    run.memory = NULL;
    assert_int_equal(res_db_write_run(db, &run, &id2, NULL), SIM_OK);
    assert_int_equal(q_int(c, "SELECT count(*) FROM memory"), 1);   /* none for run 2 */
    assert_int_equal(res_db_record_point(db, "sw", "model.layers=2", 1, id2, &err), SIM_OK);
    assert_int_equal(res_db_record_point(db, "sw", "model.layers=4", 2, id, &err), SIM_OK);
    assert_int_equal(q_int(c, "SELECT count(*) FROM sweep_points"), 2);
    assert_int_equal(q_int(c, "SELECT run_id FROM sweep_points WHERE point = 'model.layers=2'"),
                     id2);
    assert_int_equal(res_db_record_point(db, "sw", "model.layers=8", 3, id2 + 10, &err), SIM_EDB);
    assert_non_null(strstr(err.msg, "FOREIGN KEY constraint failed"));

    /* duplicate part names: the run fails whole (memory is written last) */
    const char *dup_parts[3] = {"weights", "weights", "optimizer"};
    mem.part_names = dup_parts;
    run.memory = &mem;
    int64_t runs_before = q_int(c, "SELECT count(*) FROM runs");
    assert_int_equal(res_db_write_run(db, &run, NULL, &err), SIM_EDB);
    assert_non_null(strstr(err.msg, "UNIQUE constraint failed: memory_part"));
    assert_int_equal(q_int(c, "SELECT count(*) FROM runs"), runs_before);
    assert_int_equal(q_int(c, "SELECT count(*) FROM link_util"), 6);

    /* deleting run 1 cascades to its links, memory, parts and sweep point */
    char del[64];
    snprintf(del, sizeof del, "DELETE FROM runs WHERE id = %lld", (long long)id);
    assert_int_equal(sqlite3_exec(c, del, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(q_int(c, "SELECT count(*) FROM link_util"), 3);
    assert_int_equal(q_int(c, "SELECT count(*) FROM memory"), 0);
    assert_int_equal(q_int(c, "SELECT count(*) FROM memory_part"), 0);
    assert_int_equal(q_int(c, "SELECT count(*) FROM sweep_points"), 1);
    res_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrates_v1),
        cmocka_unit_test(test_routing_rows),
        cmocka_unit_test(test_span_rows),
        cmocka_unit_test(test_migrates_v3),
        cmocka_unit_test(test_link_memory_point_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
