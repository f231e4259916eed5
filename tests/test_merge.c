/* tests/test_merge.c: merging results databases (results/merge.c). Runs are written by hand
 * with res_db_write_run (links and memory included), then merged; what a run is (scenario
 * name and resolved keys) decides what is a duplicate, never when or by which version it
 * ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "results/db.h"
#include "results/merge.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/moesim-merge-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static const char *db_path(const char *name)
{
    static char buf[4][128];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, name);
    return buf[slot];
}

static int64_t q(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(db_path(db), &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* One run of scenario `name` with resolved keys `resolved`: 1 step, 1 GPU, 2 links,
 * memory in 2 parts; started and wall time and version as given. */
static int64_t put(const char *db, const char *name, const char *resolved, int64_t started,
                   double wall_s, const char *version)
{
    res_db *h = NULL;
    assert_int_equal(res_db_open(db_path(db), &h, NULL), SIM_OK);
    double bd[1] = {1.0}, busy[1] = {0.5};
    res_link links[2] = {{"node 0 NIC 0 up", 50e9, 2e9, 0.04}, {"node 0 NIC 1 up", 50e9, 1e9, 0.02}};
    res_step step = {.step = 0, .step_time_s = 1.0, .breakdown_s = bd, .gpu_busy_s = busy,
                     .links = links, .n_links = 2};
    const char *parts[2] = {"weights", "optimizer"}, *cats[1] = {"all"};
    double pb[2] = {1e9, 6e9};
    res_memory mem = {2, parts, pb, 7e9, 80e9, 1};
    res_metric m[1] = {{"step_time_s", 1.0}};
    res_run run = {.name = name, .scenario_text = "", .resolved = resolved, .seed = 1,
                   .version = version, .started_unix = started, .wall_s = wall_s, .n_gpus = 1,
                   .n_experts = 1, .n_categories = 1, .category_names = cats, .n_steps = 1,
                   .steps = &step, .n_metrics = 1, .metrics = m, .memory = &mem};
    int64_t id = 0;
    assert_int_equal(res_db_write_run(h, &run, &id, NULL), SIM_OK);
    res_db_close(h);
    return id;
}

static void point(const char *db, const char *sweep, const char *pt, long index, int64_t run)
{
    res_db *h = NULL;
    assert_int_equal(res_db_open(db_path(db), &h, NULL), SIM_OK);
    assert_int_equal(res_db_record_point(h, sweep, pt, index, run, NULL), SIM_OK);
    res_db_close(h);
}

static res_merge_stats merge(const char *target, const char *a, const char *b)
{
    const char *src[2] = {db_path(a), b ? db_path(b) : NULL};
    res_merge_stats st = {0};
    sim_err err = {0};
    if (res_db_merge(db_path(target), src, b ? 2 : 1, &st, &err) != SIM_OK)
        fail_msg("merge: %s", err.msg);
    return st;
}

/* A and B each ran the same sweep of two points (x=1, x=2) at other times, B with another
 * version for x=2; B also has a point x=3 of its own. Merged: 3 runs (x=1, x=2 once each,
 * x=3), every row of each copied run (1 step, 1 breakdown, 1 gpu_busy, 2 links, 1 memory,
 * 2 parts, 1 metric), and the sweep's 3 points pointing at them. */
static void test_same_point_is_merged_once(void **state)
{
    (void)state;
    int64_t a1 = put("a.db", "s", "x = 1\n", 1000, 0.5, "1.0");
    int64_t a2 = put("a.db", "s", "x = 2\n", 1001, 0.6, "1.0");
    point("a.db", "sw", "x=1", 0, a1);
    point("a.db", "sw", "x=2", 1, a2);
    int64_t b0 = put("b.db", "s", "x = 3\n", 2000, 0.1, "1.0");
    int64_t b1 = put("b.db", "s", "x = 1\n", 2001, 0.7, "1.0");
    int64_t b2 = put("b.db", "s", "x = 2\n", 2002, 0.8, "1.1");
    point("b.db", "sw", "x=1", 0, b1);
    point("b.db", "sw", "x=2", 1, b2);
    point("b.db", "sw", "x=3", 2, b0);
    res_merge_stats st = merge("all.db", "a.db", "b.db");
    assert_int_equal(st.runs_copied, 3);
    assert_int_equal(st.runs_skipped, 2);
    assert_int_equal(st.runs_other_version, 1);
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), 3);
    assert_int_equal(q("all.db", "SELECT count(DISTINCT resolved) FROM runs"), 3);
    /* the copies kept are A's (merged first) */
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs WHERE started_at LIKE '1970%' AND "
                                 "wall_s IN (0.5, 0.6, 0.1)"), 3);
    const char *per_run[][2] = {{"steps", "1"}, {"breakdown", "1"}, {"gpu_busy", "1"},
                                {"link_util", "2"}, {"memory", "1"}, {"memory_part", "2"},
                                {"metrics", "1"}};
    for (size_t i = 0; i < sizeof per_run / sizeof per_run[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", per_run[i][0]);
        if (q("all.db", sql) != 3 * atoi(per_run[i][1]))
            fail_msg("%s: %lld rows, expected %d", per_run[i][0], (long long)q("all.db", sql),
                     3 * atoi(per_run[i][1]));
    }
    assert_int_equal(q("all.db", "SELECT count(*) FROM link_util WHERE link = 'node 0 NIC 0 up' "
                                 "AND bytes = 2e9 AND busy_s = 0.04 AND rank = 0"), 3);
    /* every point once, each naming the run that is it */
    assert_int_equal(q("all.db", "SELECT count(*) FROM sweep_points"), 3);
    assert_int_equal(q("all.db", "SELECT count(*) FROM sweep_points p JOIN runs r ON "
                                 "r.id = p.run_id WHERE r.resolved = replace(p.point, '=', "
                                 "' = ') || char(10)"), 3);
    /* idempotent */
    st = merge("all.db", "a.db", "b.db");
    assert_int_equal(st.runs_copied, 0);
    assert_int_equal(st.runs_skipped, 5);
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), 3);
    assert_int_equal(q("all.db", "SELECT count(*) FROM link_util"), 6);
}

/* Another sweep over a point already there adds its record, pointing at the run already
 * there; the same name with other keys, or other keys under the same name, is another run. */
static void test_records_follow_the_kept_run(void **state)
{
    (void)state;
    int64_t c1 = put("c.db", "s", "x = 1\n", 3000, 0.9, "1.0");
    point("c.db", "other sweep", "x=1", 0, c1);
    put("c.db", "t", "x = 1\n", 3001, 0.9, "1.0");       /* scenario t: not a duplicate */
    res_merge_stats st = merge("all.db", "c.db", NULL);
    assert_int_equal(st.runs_copied, 1);
    assert_int_equal(st.runs_skipped, 1);
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), 4);
    assert_int_equal(q("all.db", "SELECT run_id FROM sweep_points WHERE sweep = 'other sweep'"),
                     q("all.db", "SELECT run_id FROM sweep_points WHERE sweep = 'sw' AND "
                                 "point = 'x=1'"));
}

/* Refusals leave the target as it was: a source that is not a database, the target as its
 * own source. */
static void test_bad_sources_change_nothing(void **state)
{
    (void)state;
    FILE *f = fopen(db_path("junk.db"), "w");
    assert_non_null(f);
    fputs("not sqlite\n", f);
    fclose(f);
    int64_t before = q("all.db", "SELECT count(*) FROM runs");
    const char *src[2] = {db_path("a.db"), db_path("junk.db")};
    res_merge_stats st = {0};
    sim_err err = {0};
    assert_int_equal(res_db_merge(db_path("all.db"), src, 2, &st, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "not a moesim database"));
    assert_int_equal(st.runs_copied, 0);
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), before);
    const char *self[1] = {db_path("all.db")};
    assert_int_equal(res_db_merge(db_path("all.db"), self, 1, &st, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "cannot be merged into itself"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_point_is_merged_once),
        cmocka_unit_test(test_records_follow_the_kept_run),
        cmocka_unit_test(test_bad_sources_change_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
