/* tests/test_db.c: the results database (results/db.c) and the breakdown plot
 * (results/plot.c).
 *
 * A small run built by hand is written and read back table by table with plain SQLite;
 * doubles compare with == because SQLite REAL stores IEEE doubles unchanged. Failures
 * (constraint violations late in a run, a lock held by another connection, allocations
 * failing) must leave nothing of the run behind. Every test works in its own mkdtemp
 * directory under /tmp, removed afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "results/db.h"
#include "results/plot.h"
#include "sim/alloc.h"

/* ---- fixture: a private directory, with TMPDIR pointed inside it ---- */

typedef struct fixture {
    char dir[64];
    char tmp[96];                    /* TMPDIR for the plot code */
    char *old_tmpdir;
} fixture;

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[512];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/test_db-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->tmp, sizeof f->tmp, "%s/tmp", f->dir);
    mkdir(f->tmp, 0700);
    const char *old = getenv("TMPDIR");
    f->old_tmpdir = old ? strdup(old) : NULL;
    setenv("TMPDIR", f->tmp, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sim_alloc_fail_after(-1);
    if (f->old_tmpdir)
        setenv("TMPDIR", f->old_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(f->old_tmpdir);
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* f->dir/name in buf (one static buffer per slot, so two paths can be live at once). */
static const char *fpath(const fixture *f, int slot, const char *name)
{
    static char buf[4][256];
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", f->dir, name);
    return buf[slot];
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Entries of dir whose name starts with '.' (the plot's temporary outputs). */
static int count_hidden(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* Reads up to cap-1 bytes of path into buf (NUL-terminated); returns the byte count. */
static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return n;
}

/* ---- a small run, by hand: 2 steps, 3 categories, 2 GPUs, 2 layers x 4 experts ---- */

static const char *const cat_names[3] = {"compute", "dispatch", "combine"};
static const double bd0[3] = {0.25, 0.125, 0.0625};       /* sums to step 0's 0.4375 s */
static const double bd1[3] = {0.3, 0.1, 0.07};             /* not dyadic: exact anyway */
static const double busy0[2] = {0.25, 0.2};
static const double busy1[2] = {0.3, 1.0 / 3.0};
static const int64_t tok0[8] = {10, 20, 30, 40, 50, 60, 70, 80};
static const int64_t drop0[8] = {0, 0, 1, 2, 0, 3, 0, 5};
static const int64_t tok1[8] = {11, 21, 31, 41, 51, 61, 71, 8000000000LL};

static const res_step sample_steps[2] = {
    {.step = 0, .step_time_s = 0.4375, .tokens = 4096, .dropped_tokens = 11,
     .max_mean_load = 1.7777777777777777, .events = 123456, .breakdown_s = bd0,
     .gpu_busy_s = busy0, .expert_tokens = tok0, .expert_dropped = drop0},
    /* step 1 reports tokens but no drops: dropped is NULL in the database */
    {.step = 1, .step_time_s = 0.47, .tokens = 4096.5, .dropped_tokens = 0,
     .max_mean_load = 1.25, .events = 9000000000ULL, .breakdown_s = bd1, .gpu_busy_s = busy1,
     .expert_tokens = tok1, .expert_dropped = NULL},
};

static const res_metric sample_metrics[3] = {
    {"tokens_per_s_per_gpu", 4681.142857142857},
    {"mfu", 0.41},
    {"cost_usd_per_mtok", 1e-3},
};

static res_run sample_run(void)
{
    return (res_run){
        .name = "tiny",
        .scenario_text = "[cluster]\ngpus = 2\n",
        .resolved = "[cluster]\ngpus = 2\ngpu = h100\n",
        .seed = 42,
        .version = "moesim 0.1.0-test",
        .started_unix = 1700000000,  /* 2023-11-14T22:13:20Z (date -u -d @1700000000) */
        .wall_s = 0.015625,
        .n_gpus = 2,
        .n_layers = 2,
        .n_experts = 4,
        .n_categories = 3,
        .category_names = cat_names,
        .n_steps = 2,
        .steps = sample_steps,
        .n_metrics = 3,
        .metrics = sample_metrics,
    };
}

static res_db *open_ok(const char *path)
{
    res_db *db = NULL;
    sim_err err = {0};
    sim_status s = res_db_open(path, &db, &err);
    if (s != SIM_OK)
        fail_msg("res_db_open(%s): %s", path, err.msg);
    return db;
}

static int64_t write_ok(res_db *db, const res_run *run)
{
    int64_t id = -1;
    sim_err err = {0};
    sim_status s = res_db_write_run(db, run, &id, &err);
    if (s != SIM_OK)
        fail_msg("res_db_write_run: %s", err.msg);
    return id;
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *c = NULL;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    return c;
}

/* The one integer a query returns; ?1 is bound to arg. */
static int64_t q_int(sqlite3 *c, const char *sql, int64_t arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static const char *q_text(sqlite3 *c, const char *sql, int64_t arg)
{
    static char buf[512];
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, sizeof buf, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
    return buf;
}

static const char *const all_tables[] = {"steps", "breakdown", "gpu_busy", "expert_load",
                                         "metrics"};

/* Rows of every table in the database (runs included). */
static int64_t total_rows(sqlite3 *c)
{
    int64_t n = q_int(c, "SELECT count(*) FROM runs", 0);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", all_tables[i]);
        n += q_int(c, sql, 0);
    }
    return n;
}

/* Rows that mention run_id, in every table. */
static int64_t rows_of_run(sqlite3 *c, int64_t run_id)
{
    int64_t n = q_int(c, "SELECT count(*) FROM runs WHERE id = ?1", run_id);
    for (size_t i = 0; i < sizeof all_tables / sizeof *all_tables; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = ?1", all_tables[i]);
        n += q_int(c, sql, run_id);
    }
    return n;
}

/* ---- database tests ---- */

static void test_write_and_read_back_every_table(void **state)
{
    fixture *f = *state;
    res_db *db = open_ok(fpath(f, 0, "r.db"));
    res_run run = sample_run();
    int64_t id = write_ok(db, &run);
    assert_true(id > 0);
    sqlite3 *c = res_db_handle(db);
    sqlite3_stmt *st = NULL;

    /* runs */
    assert_int_equal(sqlite3_prepare_v2(c,
                                        "SELECT name, scenario, resolved, seed, version, "
                                        "started_at, wall_s, n_gpus, n_layers, n_experts, "
                                        "n_steps FROM runs WHERE id = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), run.name);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), run.scenario_text);
    assert_string_equal((const char *)sqlite3_column_text(st, 2), run.resolved);
    assert_int_equal(sqlite3_column_int64(st, 3), 42);
    assert_string_equal((const char *)sqlite3_column_text(st, 4), run.version);
    assert_string_equal((const char *)sqlite3_column_text(st, 5), "2023-11-14T22:13:20Z");
    assert_true(sqlite3_column_double(st, 6) == run.wall_s);
    assert_int_equal(sqlite3_column_int(st, 7), 2);
    assert_int_equal(sqlite3_column_int(st, 8), 2);
    assert_int_equal(sqlite3_column_int(st, 9), 4);
    assert_int_equal(sqlite3_column_int(st, 10), 2);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* steps */
    assert_int_equal(sqlite3_prepare_v2(c,
                                        "SELECT step, step_time_s, tokens, dropped_tokens, "
                                        "max_mean_load, events FROM steps WHERE run_id = ?1 "
                                        "ORDER BY step",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    for (int i = 0; i < 2; i++) {
        const res_step *s = &sample_steps[i];
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), s->step);
        assert_true(sqlite3_column_double(st, 1) == s->step_time_s);
        assert_true(sqlite3_column_double(st, 2) == s->tokens);
        assert_true(sqlite3_column_double(st, 3) == s->dropped_tokens);
        assert_true(sqlite3_column_double(st, 4) == s->max_mean_load);
        assert_true((uint64_t)sqlite3_column_int64(st, 5) == s->events);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* breakdown: every step x category, with the category's position */
    assert_int_equal(sqlite3_prepare_v2(c,
                                        "SELECT step, category, category_index, seconds FROM "
                                        "breakdown WHERE run_id = ?1 "
                                        "ORDER BY step, category_index",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 3; k++) {
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int(st, 0), i);
            assert_string_equal((const char *)sqlite3_column_text(st, 1), cat_names[k]);
            assert_int_equal(sqlite3_column_int(st, 2), k);
            assert_true(sqlite3_column_double(st, 3) == sample_steps[i].breakdown_s[k]);
        }
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* gpu_busy */
    assert_int_equal(sqlite3_prepare_v2(c,
                                        "SELECT step, gpu, busy_s FROM gpu_busy "
                                        "WHERE run_id = ?1 ORDER BY step, gpu",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    for (int i = 0; i < 2; i++) {
        for (int g = 0; g < 2; g++) {
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int(st, 0), i);
            assert_int_equal(sqlite3_column_int(st, 1), g);
            assert_true(sqlite3_column_double(st, 2) == sample_steps[i].gpu_busy_s[g]);
        }
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* expert_load: layer-major [layer * n_experts + expert]; no drops in step 1 -> NULL */
    assert_int_equal(sqlite3_prepare_v2(c,
                                        "SELECT step, layer, expert, tokens, dropped FROM "
                                        "expert_load WHERE run_id = ?1 "
                                        "ORDER BY step, layer, expert",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    for (int i = 0; i < 2; i++) {
        for (int l = 0; l < 2; l++) {
            for (int e = 0; e < 4; e++) {
                const res_step *s = &sample_steps[i];
                assert_int_equal(sqlite3_step(st), SQLITE_ROW);
                assert_int_equal(sqlite3_column_int(st, 0), i);
                assert_int_equal(sqlite3_column_int(st, 1), l);
                assert_int_equal(sqlite3_column_int(st, 2), e);
                assert_true(sqlite3_column_int64(st, 3) == s->expert_tokens[l * 4 + e]);
                if (s->expert_dropped)
                    assert_true(sqlite3_column_int64(st, 4) == s->expert_dropped[l * 4 + e]);
                else
                    assert_int_equal(sqlite3_column_type(st, 4), SQLITE_NULL);
            }
        }
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* metrics */
    assert_int_equal(sqlite3_prepare_v2(c,
                                        "SELECT name, value FROM metrics WHERE run_id = ?1 "
                                        "ORDER BY rowid",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    for (int m = 0; m < 3; m++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), sample_metrics[m].name);
        assert_true(sqlite3_column_double(st, 1) == sample_metrics[m].value);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);

    /* 1 run + 2 steps + 6 breakdown + 4 gpu_busy + 16 expert_load + 3 metrics = 32 */
    assert_int_equal(rows_of_run(c, id), 32);
    res_db_close(db);
}

static void test_connection_settings(void **state)
{
    fixture *f = *state;
    res_db *db = open_ok(fpath(f, 0, "r.db"));
    sqlite3 *c = res_db_handle(db);
    assert_int_equal(q_int(c, "PRAGMA user_version", 0), RES_SCHEMA_VERSION);
    assert_string_equal(q_text(c, "PRAGMA journal_mode", 0), "wal");
    assert_int_equal(q_int(c, "PRAGMA foreign_keys", 0), 1);
    res_db_close(db);
    res_db_close(NULL);              /* no-op */
}

static void test_two_runs_get_distinct_ids(void **state)
{
    fixture *f = *state;
    res_db *db = open_ok(fpath(f, 0, "r.db"));
    res_run run = sample_run();
    int64_t a = write_ok(db, &run);
    int64_t b = write_ok(db, &run);
    assert_true(a != b);
    assert_int_equal(q_int(res_db_handle(db), "SELECT count(*) FROM runs", 0), 2);
    assert_int_equal(rows_of_run(res_db_handle(db), a), 32);
    assert_int_equal(rows_of_run(res_db_handle(db), b), 32);
    res_db_close(db);
}

static void test_reopen_keeps_rows(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "r.db");
    res_run run = sample_run();
    res_db *db = open_ok(path);
    int64_t a = write_ok(db, &run);
    res_db_close(db);

    db = open_ok(path);
    assert_int_equal(rows_of_run(res_db_handle(db), a), 32);
    int64_t b = write_ok(db, &run);
    assert_true(b > a);
    assert_int_equal(q_int(res_db_handle(db), "PRAGMA user_version", 0), RES_SCHEMA_VERSION);
    res_db_close(db);
}

static void test_deleting_a_run_cascades(void **state)
{
    fixture *f = *state;
    res_db *db = open_ok(fpath(f, 0, "r.db"));
    res_run run = sample_run();
    int64_t a = write_ok(db, &run);
    int64_t b = write_ok(db, &run);
    sqlite3 *c = res_db_handle(db);
    assert_int_equal(sqlite3_exec(c, "DELETE FROM runs WHERE id = 1", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(a, 1);
    assert_int_equal(rows_of_run(c, a), 0);
    assert_int_equal(rows_of_run(c, b), 32);
    res_db_close(db);
}

static void test_no_expert_arrays_no_expert_rows(void **state)
{
    fixture *f = *state;
    res_db *db = open_ok(fpath(f, 0, "r.db"));
    res_step steps[2] = {sample_steps[0], sample_steps[1]};
    steps[0].expert_tokens = steps[0].expert_dropped = NULL;
    steps[1].expert_tokens = NULL;
    res_run run = sample_run();
    run.steps = steps;
    int64_t id = write_ok(db, &run);
    sqlite3 *c = res_db_handle(db);
    assert_int_equal(q_int(c, "SELECT count(*) FROM expert_load WHERE run_id = ?1", id), 0);
    assert_int_equal(rows_of_run(c, id), 32 - 16);
    res_db_close(db);
}

static void test_seed_round_trips_all_64_bits(void **state)
{
    fixture *f = *state;
    res_db *db = open_ok(fpath(f, 0, "r.db"));
    sqlite3 *c = res_db_handle(db);
    const uint64_t seeds[] = {0, 1, 42, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1,
                              UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        res_run run = sample_run();
        run.seed = seeds[i];
        int64_t id = write_ok(db, &run);
        int64_t stored = q_int(c, "SELECT seed FROM runs WHERE id = ?1", id);
        uint64_t back;
        memcpy(&back, &stored, sizeof back);
        assert_true(back == seeds[i]);
    }
    /* 2^64-1 is stored as the int64 with the same bits, -1; SQL reads it back with %u. */
    int64_t id = q_int(c, "SELECT max(id) FROM runs", 0);
    assert_int_equal(q_int(c, "SELECT seed FROM runs WHERE id = ?1", id), -1);
    assert_string_equal(q_text(c, "SELECT printf('%u', seed) FROM runs WHERE id = ?1", id),
                        "18446744073709551615");
    res_db_close(db);
}

static void test_failure_late_in_a_run_leaves_nothing(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "r.db");
    res_db *db = open_ok(path);
    sqlite3 *c = res_db_handle(db);
    res_run run = sample_run();
    int64_t good = write_ok(db, &run);
    int64_t before = total_rows(c);

    /* A duplicate metric name: metrics are written last, so every other table already has
     * this run's rows when the UNIQUE constraint fails. */
    res_metric dup[2] = {{"mfu", 0.4}, {"mfu", 0.5}};
    run.metrics = dup;
    run.n_metrics = 2;
    sim_err err = {0};
    int64_t id = -7;
    assert_int_equal(res_db_write_run(db, &run, &id, &err), SIM_EDB);
    assert_int_equal(err.status, SIM_EDB);
    assert_int_equal(id, -7);        /* untouched on failure */
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "UNIQUE constraint failed: metrics"));
    assert_int_equal(total_rows(c), before);
    assert_int_equal(rows_of_run(c, good + 1), 0);

    /* A duplicate step number fails in the middle of the steps. */
    res_step steps[2] = {sample_steps[0], sample_steps[0]};
    run = sample_run();
    run.steps = steps;
    assert_int_equal(res_db_write_run(db, &run, NULL, &err), SIM_EDB);
    assert_non_null(strstr(err.msg, "UNIQUE constraint failed: steps"));
    assert_int_equal(total_rows(c), before);

    /* A NaN is not a number SQLite keeps (it becomes NULL): refused, not stored. */
    res_step nan_step[1] = {sample_steps[0]};
    nan_step[0].max_mean_load = NAN;
    run = sample_run();
    run.steps = nan_step;
    run.n_steps = 1;
    assert_int_equal(res_db_write_run(db, &run, NULL, &err), SIM_EDB);
    assert_non_null(strstr(err.msg, "NOT NULL constraint failed: steps.max_mean_load"));
    assert_int_equal(total_rows(c), before);

    /* The connection is still usable, and the next run follows the good one. */
    run = sample_run();
    assert_int_equal(write_ok(db, &run), good + 1);
    res_db_close(db);
}

static void test_lock_held_elsewhere_fails_cleanly(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "r.db");
    res_db *db = open_ok(path);
    res_run run = sample_run();
    write_ok(db, &run);
    int64_t before = total_rows(res_db_handle(db));

    sqlite3 *other = raw_open(path);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_busy_timeout(res_db_handle(db), 20);
    sim_err err = {0};
    assert_int_equal(res_db_write_run(db, &run, NULL, &err), SIM_EDB);
    assert_non_null(strstr(err.msg, "database is locked"));
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);

    assert_int_equal(total_rows(res_db_handle(db)), before);
    write_ok(db, &run);
    assert_int_equal(total_rows(res_db_handle(db)), 2 * before);
    res_db_close(db);
}

static void test_newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "r.db");
    res_db_close(open_ok(path));
    sqlite3 *c = raw_open(path);
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", RES_SCHEMA_VERSION + 1);
    assert_int_equal(sqlite3_exec(c, pragma, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);

    char want[512];
    snprintf(want, sizeof want,
             "%s: written by a newer moesim (schema %d, this one reads up to %d)", path,
             RES_SCHEMA_VERSION + 1, RES_SCHEMA_VERSION);
    res_db *db = NULL;
    sim_err err = {0};
    assert_int_equal(res_db_open(path, &db, &err), SIM_EINPUT);
    assert_null(db);
    assert_string_equal(err.msg, want);

    sim_err_clear(&err);
    assert_int_equal(res_db_open_readonly(path, &db, &err), SIM_EINPUT);
    assert_string_equal(err.msg, want);

    sim_err_clear(&err);
    assert_int_equal(res_plot_breakdown(path, fpath(f, 1, "p.png"), &err), SIM_EINPUT);
    assert_string_equal(err.msg, want);
}

static void test_missing_directory_is_eio(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "no/such/dir/r.db");
    char want[512];
    snprintf(want, sizeof want, "%s: cannot open database: ", path);
    res_db *db = NULL;
    sim_err err = {0};
    assert_int_equal(res_db_open(path, &db, &err), SIM_EIO);
    assert_null(db);
    assert_memory_equal(err.msg, want, strlen(want));
    assert_true(strlen(err.msg) > strlen(want));      /* and a reason */

    sim_err_clear(&err);
    assert_int_equal(res_db_open_readonly(fpath(f, 0, "absent.db"), &db, &err), SIM_EIO);
    assert_int_equal(count_entries(f->dir), 1);        /* only tmp/: nothing was created */
}

static void test_text_file_is_not_a_database(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "notes.txt");
    const char *text = "These are notes, not a database.\n";
    write_file(path, text);
    res_db *db = NULL;
    sim_err err = {0};
    assert_int_equal(res_db_open(path, &db, &err), SIM_EINPUT);
    assert_null(db);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "not a moesim database"));
    assert_non_null(strstr(err.msg, "file is not a database"));
    char back[128];
    read_file(path, back, sizeof back);
    assert_string_equal(back, text);                   /* left alone */
}

static void test_foreign_database_is_refused(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "other.db");
    sqlite3 *c = raw_open(path);
    assert_int_equal(sqlite3_exec(c, "CREATE TABLE accounts (id INTEGER, owner TEXT)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);

    res_db *db = NULL;
    sim_err err = {0};
    assert_int_equal(res_db_open(path, &db, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "not a moesim database"));
    c = raw_open(path);                                /* untouched: no WAL, no tables */
    assert_string_equal(q_text(c, "PRAGMA journal_mode", 0), "delete");
    assert_int_equal(q_int(c, "SELECT count(*) FROM sqlite_master", 0), 1);
    sqlite3_close(c);
}

static void test_readonly_handle_cannot_write(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "r.db");
    res_db *db = open_ok(path);
    res_run run = sample_run();
    write_ok(db, &run);
    res_db_close(db);

    sim_err err = {0};
    assert_int_equal(res_db_open_readonly(path, &db, &err), SIM_OK);
    assert_int_equal(res_db_write_run(db, &run, NULL, &err), SIM_EDB);
    assert_non_null(strstr(err.msg, "readonly"));
    assert_int_equal(q_int(res_db_handle(db), "SELECT count(*) FROM runs", 0), 1);
    res_db_close(db);

    /* An empty SQLite file has no moesim schema to read. */
    const char *empty = fpath(f, 1, "empty.db");
    write_file(empty, "");
    assert_int_equal(res_db_open_readonly(empty, &db, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "not a moesim database"));
}

static void test_open_out_of_memory(void **state)
{
    fixture *f = *state;
    const char *path = fpath(f, 0, "r.db");
    for (long n = 0; n < 2; n++) {                     /* the handle, then its path copy */
        res_db *db = NULL;
        sim_err err = {0};
        sim_alloc_fail_after(n);
        assert_int_equal(res_db_open(path, &db, &err), SIM_ENOMEM);
        sim_alloc_fail_after(-1);
        assert_null(db);
        assert_non_null(strstr(err.msg, "out of memory"));
    }
    res_db_close(open_ok(path));
}

/* ---- plot tests ---- */

/* A database with two scenarios: the sample (2 steps) and a 1-step run. */
static void make_plot_db(const char *path)
{
    res_db *db = open_ok(path);
    res_run run = sample_run();
    write_ok(db, &run);
    res_run one = sample_run();
    one.name = "ep4-wide";
    one.n_steps = 1;
    write_ok(db, &one);
    res_db_close(db);
}

static void test_plot_png(void **state)
{
    fixture *f = *state;
    const char *dbp = fpath(f, 0, "r.db"), *out = fpath(f, 1, "breakdown.png");
    make_plot_db(dbp);
    write_file(out, "an older picture");          /* replaced as a whole */
    sim_err err = {0};
    if (res_plot_breakdown(dbp, out, &err) != SIM_OK)
        fail_msg("res_plot_breakdown: %s", err.msg);
    unsigned char sig[8] = {0};
    FILE *fp = fopen(out, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(sig, 1, 8, fp), 8);
    fclose(fp);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_memory_equal(sig, png_sig, 8);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_true(st.st_size > 1000);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(count_hidden(f->dir), 0);        /* no temporary output left */
    assert_int_equal(count_entries(f->tmp), 0);       /* temporary directory removed */
}

static void test_plot_svg(void **state)
{
    fixture *f = *state;
    const char *dbp = fpath(f, 0, "r.db"), *out = fpath(f, 1, "breakdown.svg");
    make_plot_db(dbp);
    sim_err err = {0};
    if (res_plot_breakdown(dbp, out, &err) != SIM_OK)
        fail_msg("res_plot_breakdown: %s", err.msg);
    static char svg[1 << 17];
    assert_true(read_file(out, svg, sizeof svg) > 0);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "time per step (ms)"));
    assert_non_null(strstr(svg, "scenarios: tiny, ep4-wide"));
    assert_non_null(strstr(svg, "dispatch"));
    assert_non_null(strstr(svg, "#2"));
    assert_int_equal(count_hidden(f->dir), 0);
    assert_int_equal(count_entries(f->tmp), 0);
}

static void test_plot_names_are_text_not_commands(void **state)
{
    fixture *f = *state;
    const char *dbp = fpath(f, 0, "r.db"), *out = fpath(f, 1, "b.svg");
    char evil[256];
    snprintf(evil, sizeof evil, "it's `touch %s/pwned` \"q\" \\n @m $d\nnext", f->dir);
    res_db *db = open_ok(dbp);
    res_run run = sample_run();
    run.name = evil;
    const char *evil_cats[3] = {"com'pute", "`touch pwned2`", "x\ty"};
    run.category_names = evil_cats;
    write_ok(db, &run);
    res_db_close(db);
    sim_err err = {0};
    if (res_plot_breakdown(dbp, out, &err) != SIM_OK)
        fail_msg("res_plot_breakdown: %s", err.msg);
    assert_int_equal(access(fpath(f, 2, "pwned"), F_OK), -1);
    assert_int_equal(access("pwned2", F_OK), -1);
    static char svg[1 << 17];
    read_file(out, svg, sizeof svg);
    assert_non_null(strstr(svg, "`touch pwned2`"));
}

static void test_plot_bad_extension(void **state)
{
    fixture *f = *state;
    const char *out = fpath(f, 1, "breakdown.jpg");
    char want[512];
    snprintf(want, sizeof want, "%s: expected an output file ending in .png or .svg", out);
    sim_err err = {0};
    /* The extension is checked before the database is looked at. */
    assert_int_equal(res_plot_breakdown(fpath(f, 0, "absent.db"), out, &err), SIM_EINPUT);
    assert_string_equal(err.msg, want);
    assert_int_equal(res_plot_breakdown(fpath(f, 0, "absent.db"), "png", &err), SIM_EINPUT);
}

static void test_plot_empty_database(void **state)
{
    fixture *f = *state;
    const char *dbp = fpath(f, 0, "r.db"), *out = fpath(f, 1, "b.png");
    res_db_close(open_ok(dbp));
    sim_err err = {0};
    assert_int_equal(res_plot_breakdown(dbp, out, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "no runs in DB"));
    assert_int_equal(access(out, F_OK), -1);
}

static void test_plot_without_gnuplot(void **state)
{
    fixture *f = *state;
    const char *dbp = fpath(f, 0, "r.db"), *out = fpath(f, 1, "b.png");
    make_plot_db(dbp);
    char *old_path = strdup(getenv("PATH"));
    assert_non_null(old_path);
    setenv("PATH", f->tmp, 1);                          /* an empty directory */
    sim_err err = {0};
    sim_status s = res_plot_breakdown(dbp, out, &err);
    setenv("PATH", old_path, 1);
    free(old_path);
    assert_int_equal(s, SIM_EIO);
    assert_string_equal(err.msg, "gnuplot not found: install gnuplot-nox");
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(count_hidden(f->dir), 0);
    assert_int_equal(count_entries(f->tmp), 0);
}

static void test_plot_into_missing_directory(void **state)
{
    fixture *f = *state;
    const char *dbp = fpath(f, 0, "r.db");
    make_plot_db(dbp);
    sim_err err = {0};
    assert_int_equal(res_plot_breakdown(dbp, fpath(f, 1, "nope/b.png"), &err), SIM_EIO);
    assert_non_null(strstr(err.msg, "nope/b.png: cannot create a file next to it"));
    assert_int_equal(count_entries(f->tmp), 0);
}

static sim_status bad_body(void *ctx, const char *tmp_dir, FILE *script, sim_err *err)
{
    (void)ctx;
    (void)tmp_dir;
    (void)err;
    fputs("plot 'no-such-file.dat' using 1\n", script);
    return SIM_OK;
}

static void test_gnuplot_error_is_reported(void **state)
{
    fixture *f = *state;
    const char *out = fpath(f, 1, "b.svg");
    sim_err err = {0};
    assert_int_equal(res_plot_render(out, bad_body, NULL, &err), SIM_EIO);
    assert_non_null(strstr(err.msg, "gnuplot failed"));
    assert_non_null(strstr(err.msg, "no-such-file.dat"));
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(count_hidden(f->dir), 0);
    assert_int_equal(count_entries(f->tmp), 0);
}

/* Every allocation of the plot path failing in turn: each attempt reports ENOMEM and
 * leaves no file behind, until enough allocations succeed to draw. */
static void test_plot_out_of_memory(void **state)
{
    fixture *f = *state;
    const char *dbp = fpath(f, 0, "r.db"), *out = fpath(f, 1, "b.svg");
    make_plot_db(dbp);
    long n;
    for (n = 0; n < 100; n++) {
        sim_err err = {0};
        sim_alloc_fail_after(n);
        sim_status s = res_plot_breakdown(dbp, out, &err);
        sim_alloc_fail_after(-1);
        if (s == SIM_OK)
            break;
        assert_int_equal(s, SIM_ENOMEM);
        assert_int_equal(access(out, F_OK), -1);
        assert_int_equal(count_hidden(f->dir), 0);
        assert_int_equal(count_entries(f->tmp), 0);
    }
    assert_true(n > 5 && n < 100);
    assert_int_equal(access(out, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_write_and_read_back_every_table),
        T(test_connection_settings),
        T(test_two_runs_get_distinct_ids),
        T(test_reopen_keeps_rows),
        T(test_deleting_a_run_cascades),
        T(test_no_expert_arrays_no_expert_rows),
        T(test_seed_round_trips_all_64_bits),
        T(test_failure_late_in_a_run_leaves_nothing),
        T(test_lock_held_elsewhere_fails_cleanly),
        T(test_newer_schema_is_refused),
        T(test_missing_directory_is_eio),
        T(test_text_file_is_not_a_database),
        T(test_foreign_database_is_refused),
        T(test_readonly_handle_cannot_write),
        T(test_open_out_of_memory),
        T(test_plot_png),
        T(test_plot_svg),
        T(test_plot_names_are_text_not_commands),
        T(test_plot_bad_extension),
        T(test_plot_empty_database),
        T(test_plot_without_gnuplot),
        T(test_plot_into_missing_directory),
        T(test_gnuplot_error_is_reported),
        T(test_plot_out_of_memory),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
