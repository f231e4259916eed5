/* tests/test_tools.c: end-to-end tests of sweep, shard + merge and check (the binary named
 * by MOESIM, ./moesim by default). */
#include <cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/e2e.h"

static long long q(const char *db, const char *sql)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, db);
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(p, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static const char tiny[] = "[cluster]\ngpus_per_node = 2\n[model]\nlayers = 1\nhidden = 256\n"
                           "ffn_expert = 512\nexperts = 4\ntop_k = 2\nheads = 4\nkv_heads = 4\n"
                           "[training]\nseq_len = 128\n";

static int setup(void **state)
{
    (void)state;
    setenv("MOESIM", bin(), 1);          /* absolute: some tests run it from a shell in dir */
    return e2e_mkdir("tools") == 0 ? write_file("tiny.ini", tiny) : -1;
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

/* 3 x 2 = 6 points, each stored once and recorded in sweep_points under the sweep's name;
 * rerunning stores nothing new (and finds every point before starting a process); after
 * the scenario file changes, the points are run again and their records follow. */
static void test_sweep_product_and_resume(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3 --set run.seed=1,2 --db s.db "
                         "--jobs 3"), 0);
    assert_int_equal(q("s.db", "SELECT count(*) FROM runs"), 6);
    assert_int_equal(q("s.db", "SELECT count(DISTINCT resolved) FROM runs"), 6);
    assert_non_null(strstr(out_buf, "sweep: 6 of 6 points stored"));
    assert_int_equal(q("s.db", "SELECT count(*) FROM sweep_points WHERE sweep = "
                               "'tiny: model.layers=1,2,3 run.seed=1,2'"), 6);
    assert_int_equal(q("s.db", "SELECT count(DISTINCT run_id) FROM sweep_points"), 6);
    /* point 4 (from 0: layers 3, seed 1; the first --set varies slowest) is its run */
    assert_int_equal(q("s.db", "SELECT count(*) FROM sweep_points p JOIN runs r ON r.id = "
                               "p.run_id WHERE p.point = 'model.layers=3 run.seed=1' AND "
                               "p.point_index = 4 AND r.seed = 1 AND "
                               "r.resolved LIKE '%layers = 3%'"), 1);
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3 --set run.seed=1,2 --db s.db"), 0);
    assert_int_equal(q("s.db", "SELECT count(*) FROM runs"), 6);
    assert_non_null(strstr(out_buf, "6 of them were already stored"));
    assert_int_equal(q("s.db", "SELECT count(*) FROM sweep_points"), 6);
    /* a named sweep over some of the same points records them again, runs nothing */
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=2,3 --set run.seed=1 --db s.db "
                         "--name again --quiet"), 0);
    assert_int_equal(q("s.db", "SELECT count(*) FROM runs"), 6);
    assert_int_equal(q("s.db", "SELECT count(*) FROM sweep_points WHERE sweep = 'again'"), 2);
    /* an edited scenario is another point: run again, records replaced */
    write_file("edit.ini", tiny);
    assert_int_equal(run_in_dir("sweep edit.ini --set model.layers=1,2 --db e.db --quiet"), 0);
    write_file("edit.ini", "[cluster]\ngpus_per_node = 2\n[model]\nlayers = 1\nhidden = 512\n"
                               "ffn_expert = 512\nexperts = 4\ntop_k = 2\nheads = 4\n"
                               "kv_heads = 4\n[training]\nseq_len = 128\n");
    assert_int_equal(run_in_dir("sweep edit.ini --set model.layers=1,2 --db e.db --quiet"), 0);
    assert_int_equal(q("e.db", "SELECT count(*) FROM runs"), 4);
    assert_int_equal(q("e.db", "SELECT count(*) FROM sweep_points"), 2);
    assert_int_equal(q("e.db", "SELECT min(run_id) FROM sweep_points"), 3);
    /* a bad value stops the sweep with status 2 and the run's own message */
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,zero --db s.db --quiet"), 2);
    assert_non_null(strstr(err_buf, "model.layers: expected an integer (got \"zero\")"));
}

/* A sweep killed with SIGKILL mid-way keeps its finished points whole; a rerun completes it
 * with every point stored exactly once. */
static void test_sweep_killed_and_rerun(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && exec %s sweep tiny.ini --set model.layers=1,2,3,4,5,6,7,8,9,10,11,12 "
             "--db k.db --jobs 2 --quiet >/dev/null 2>&1", dir, getenv("MOESIM"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3,4,5,6,7,8,9,10,11,12 --db k.db "
                         "--quiet"), 0);
    assert_int_equal(q("k.db", "SELECT count(*) FROM runs"), 12);
    assert_int_equal(q("k.db", "SELECT count(DISTINCT resolved) FROM runs"), 12);
    /* every run has its steps and breakdown */
    assert_int_equal(q("k.db", "SELECT count(*) FROM runs WHERE id NOT IN "
                               "(SELECT run_id FROM breakdown)"), 0);
}

/* The rows of table T in database schema S, each with its run's name and resolved keys in
 * place of the run id (ids differ between databases), as a SELECT. */
static void rows_sql(sqlite3 *h, const char *schema, const char *t, char *out, size_t n)
{
    char q_cols[200], cols[2048] = "";
    snprintf(q_cols, sizeof q_cols, "SELECT name FROM pragma_table_info('%s', 'main')", t);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, q_cols, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (strcmp(c, "run_id") == 0 || strcmp(c, "id") == 0)
            continue;
        size_t k = strlen(cols);
        snprintf(cols + k, sizeof cols - k, ", t.\"%s\"", c);
    }
    sqlite3_finalize(st);
    if (strcmp(t, "runs") == 0)
        snprintf(out, n, "SELECT 0%s FROM %s.runs t", cols, schema);
    else
        snprintf(out, n, "SELECT r.name, r.resolved%s FROM %s.\"%s\" t JOIN %s.runs r "
                         "ON r.id = t.run_id", cols, schema, t, schema);
}

/* Every row of every table of all.db is a row of s1.db or s2.db and the other way round,
 * runs matched by what they are; returns the number of tables compared. */
static int same_rows_as_sources(const char *all, const char *s1, const char *s2)
{
    char p[300], att[1200];
    snprintf(p, sizeof p, "%s/%s", dir, all);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(p, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    snprintf(att, sizeof att, "ATTACH '%s/%s' AS s1; ATTACH '%s/%s' AS s2", dir, s1, dir, s2);
    assert_int_equal(sqlite3_exec(h, att, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *tabs;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT name FROM main.sqlite_master WHERE type = "
                                           "'table' ORDER BY name", -1, &tabs, NULL), SQLITE_OK);
    int n = 0;
    while (sqlite3_step(tabs) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(tabs, 0);
        static char m[3][3000], sql[10000];
        rows_sql(h, "main", t, m[0], sizeof m[0]);
        rows_sql(h, "s1", t, m[1], sizeof m[1]);
        rows_sql(h, "s2", t, m[2], sizeof m[2]);
        for (int way = 0; way < 2; way++) {
            if (way == 0)
                snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s EXCEPT SELECT * FROM "
                                          "(%s UNION ALL %s))", m[0], m[1], m[2]);
            else
                snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT * FROM (%s UNION ALL "
                                          "%s) EXCEPT %s)", m[1], m[2], m[0]);
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", t, sqlite3_errmsg(h));
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            if (sqlite3_column_int64(st, 0) != 0)
                fail_msg("table %s: %lld rows %s", t, (long long)sqlite3_column_int64(st, 0),
                         way ? "of the sources lost" : "not from a source");
            sqlite3_finalize(st);
        }
        /* and no row twice (task_spans has no key: compare counts too) */
        snprintf(sql, sizeof sql, "SELECT (SELECT count(*) FROM (%s)) - (SELECT count(*) FROM "
                                  "(%s)) - (SELECT count(*) FROM (%s))", m[0], m[1], m[2]);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int64(st, 0) != 0)
            fail_msg("table %s: %lld rows more than the sources", t,
                     (long long)sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
        n++;
    }
    sqlite3_finalize(tabs);
    sqlite3_close(h);
    return n;
}

static void exec_sql(const char *db, const char *sql)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, db);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(p, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

/* Two shards merged hold every point once with every row of every table (runs, steps,
 * breakdown, gpu_busy, expert_load, metrics, routing_layer, gpu_load, task_spans,
 * link_util, memory, memory_part, sweep_points); merging again changes nothing; a copy of
 * the sweep run separately (other start and wall times) adds no point. */
static void test_shard_and_merge(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3,4,5 --db s1.db --shard 1/2 --quiet"), 0);
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3,4,5 --db s2.db --shard 2/2 --quiet"), 0);
    assert_int_equal(q("s1.db", "SELECT count(*) FROM runs"), 3);   /* points 1, 3, 5 */
    assert_int_equal(q("s2.db", "SELECT count(*) FROM runs"), 2);   /* points 2, 4 */
    /* every step reports its busiest links */
    assert_true(q("s1.db", "SELECT count(*) FROM link_util") > 0);
    assert_true(q("s2.db", "SELECT count(*) FROM link_util") > 0);
    assert_int_equal(run_in_dir("merge s1.db s2.db -o all.db"), 0);
    assert_non_null(strstr(out_buf, "5 runs copied, 0 already there"));
    assert_int_equal(run_in_dir("merge s1.db s2.db -o all.db"), 0);
    assert_non_null(strstr(out_buf, "0 runs copied, 5 already there"));
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), 5);
    assert_int_equal(same_rows_as_sources("all.db", "s1.db", "s2.db"), 13);
    const char *tables[] = {"steps", "breakdown", "gpu_busy", "expert_load", "metrics",
                            "routing_layer", "gpu_load", "task_spans", "link_util", "memory",
                            "memory_part", "sweep_points"};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[t]);
        if (q("all.db", sql) == 0)
            fail_msg("%s: no rows to compare", tables[t]);
    }
    /* the same sweep run again elsewhere: other start and wall times, same points */
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3,4,5 --db copy.db --quiet"), 0);
    assert_int_equal(run_in_dir("merge copy.db -o all.db"), 0);
    assert_non_null(strstr(out_buf, "0 runs copied, 5 already there"));
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), 5);
    assert_int_equal(q("all.db", "SELECT count(*) FROM sweep_points"), 5);
    /* ... even by another moesim version: kept once, and said so */
    exec_sql("copy.db", "UPDATE runs SET version = '0.0.1'");
    assert_int_equal(run_in_dir("merge copy.db -o all.db"), 0);
    assert_non_null(strstr(out_buf, "5 of the runs already there came from another moesim"));
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), 5);
    /* the merged database already has every point: the full sweep runs nothing */
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3,4,5 --db all.db --quiet"), 0);
    assert_non_null(strstr(out_buf, "5 of them were already stored"));
    assert_int_equal(q("all.db", "SELECT count(*) FROM runs"), 5);
}

/* check: same results -> 0; a slower candidate -> 1 (step_time_s, lower is better);
 * nothing pairs up -> 2. */
static void test_check_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("run tiny.ini --db b.db --quiet"), 0);
    assert_int_equal(run_in_dir("run tiny.ini --db c.db --quiet"), 0);
    assert_int_equal(run_in_dir("check b.db c.db"), 0);
    assert_non_null(strstr(out_buf, "1 pair, 0 regressions"));
    /* a slower setting is another point: paired only when told to ignore the key */
    assert_int_equal(run_in_dir("run tiny.ini --db d.db --quiet --set cluster.launch_us=40"), 0);
    assert_int_equal(run_in_dir("check b.db d.db"), 2);
    assert_non_null(strstr(out_buf, "only in candidate: tiny seed 1 run 1  cluster.launch_us=40"));
    assert_int_equal(run_in_dir("check b.db d.db --ignore-key cluster.launch_us --tolerance 2%%"), 1);
    assert_non_null(strstr(out_buf, "cluster.launch_us: 4 -> 40"));
    assert_non_null(strstr(out_buf, "REGRESSION"));
    assert_int_equal(run_in_dir("check d.db b.db --ignore-key cluster.launch_us"), 0);
    assert_int_equal(run_in_dir("check b.db d.db --ignore-key cluster.launch_us --metric "
                         "tokens_per_s_per_gpu --tolerance 1000%%"), 0);
    assert_int_equal(run_in_dir("check b.db d.db --ignore-key cluster.nope"), 2);
    assert_non_null(strstr(err_buf, "no run has this key"));
    assert_int_equal(run_in_dir("run tiny.ini --db e.db --quiet --set run.seed=9"), 0);
    assert_int_equal(run_in_dir("check b.db e.db"), 2);
    assert_non_null(strstr(err_buf, "no run pairs up"));
}

/* On sweep databases every point pairs with its own point: a candidate where one of six
 * points got 10% slower shows that one regression and five ok pairs; points of other
 * configurations are listed as unpaired, not compared; of two runs of a point the latest
 * counts. */
static void test_check_pairs_points(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3 --set run.seed=1,2 --db cb.db "
                         "--quiet"), 0);
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=1,2,3 --set run.seed=1,2 --db cc.db "
                         "--quiet"), 0);
    assert_int_equal(run_in_dir("check cb.db cc.db"), 0);
    assert_non_null(strstr(out_buf, "6 pairs, 0 regressions"));
    exec_sql("cc.db", "UPDATE metrics SET value = value * 1.1 WHERE name = 'step_time_s' AND "
                      "run_id = (SELECT p.run_id FROM sweep_points p WHERE p.point = "
                      "'model.layers=2 run.seed=2')");
    assert_int_equal(run_in_dir("check cb.db cc.db"), 1);
    assert_non_null(strstr(out_buf, "6 pairs, 1 regression beyond 2%"));
    const char *line = strstr(out_buf, "REGRESSION");
    assert_non_null(line);
    while (line > out_buf && line[-1] != '\n')
        line--;
    assert_non_null(strstr(line, "layers=2"));
    assert_true(strstr(line, "+10.00%") < strchr(line, '\n'));
    assert_null(strstr(strstr(out_buf, "REGRESSION") + 1, "REGRESSION"));
    /* other layer counts in the candidate: only layers 2 and 3 pair */
    assert_int_equal(run_in_dir("sweep tiny.ini --set model.layers=2,3,4 --set run.seed=1 --db cd.db "
                         "--quiet"), 0);
    assert_int_equal(run_in_dir("check cb.db cd.db"), 0);
    assert_non_null(strstr(out_buf, "2 pairs, 0 regressions beyond 2% (lower is better); "
                                    "unpaired: 4 baseline, 1 candidate"));
    assert_non_null(strstr(out_buf, "only in candidate: tiny seed 1 run 3  layers=4"));
    /* a second, faster run of a point in the candidate: the latest is compared */
    assert_int_equal(run_in_dir("run tiny.ini --db cd.db --quiet --set model.layers=2"), 0);
    exec_sql("cd.db", "UPDATE metrics SET value = value * 0.5 WHERE name = 'step_time_s' AND "
                      "run_id = (SELECT max(id) FROM runs)");
    assert_int_equal(run_in_dir("check cb.db cd.db"), 0);
    assert_non_null(strstr(out_buf, "better"));
    assert_non_null(strstr(out_buf, "has 1 older run of the same point"));
}

static int is_png(const char *name)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    unsigned char sig[8] = {0};
    size_t n = f ? fread(sig, 1, 8, f) : 0;
    if (f)
        fclose(f);
    return n == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0;
}

static char svg_buf[1 << 21];

/* The text of an SVG picture written by the last plot (NUL-terminated). */
static const char *svg(const char *name)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    slurp(p, svg_buf, sizeof svg_buf);
    assert_non_null(strstr(svg_buf, "<svg"));
    assert_non_null(strstr(svg_buf, "</svg>"));
    return svg_buf;
}

/* Width and height of the PNG embedded in an SVG <image> (gnuplot's "with image"): the first
 * 24 bytes of the PNG are its signature and IHDR, width and height at bytes 16 and 20. */
static void svg_image_size(const char *s, unsigned *w, unsigned *h)
{
    const char *b64 = strstr(s, "data:image/png;base64,");
    assert_non_null(b64);
    b64 += strlen("data:image/png;base64,");
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char png[24];
    for (int i = 0; i < 8; i++) {          /* 32 characters -> 24 bytes */
        unsigned v = 0;
        for (int j = 0; j < 4; j++) {
            const char *c = strchr(abc, b64[4 * i + j]);
            assert_non_null(c);
            v = v << 6 | (unsigned)(c - abc);
        }
        png[3 * i] = (unsigned char)(v >> 16);
        png[3 * i + 1] = (unsigned char)(v >> 8);
        png[3 * i + 2] = (unsigned char)v;
    }
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    *w = (unsigned)png[16] << 24 | (unsigned)png[17] << 16 | (unsigned)png[18] << 8 | png[19];
    *h = (unsigned)png[20] << 24 | (unsigned)png[21] << 16 | (unsigned)png[22] << 8 | png[23];
}

/* The y of the translate() that places a text element of the SVG. */
static double text_y(const char *s, const char *text)
{
    char want[200];
    snprintf(want, sizeof want, "<text>%s</text>", text);
    const char *t = strstr(s, want);
    assert_non_null(t);
    const char *g = t;
    while (g > s && strncmp(g, "translate(", 10) != 0)
        g--;
    double x, y;
    assert_int_equal(sscanf(g, "translate(%lf,%lf)", &x, &y), 2);
    return y;
}

/* Does the SVG show this exact text (a whole text element)? */
static int shows(const char *s, const char *text)
{
    char want[200];
    snprintf(want, sizeof want, ">%s</text>", text);
    return strstr(s, want) != NULL;
}

/* Every plot kind draws a PNG from a small database; bad arguments give status 2. */
static void test_plot_kinds(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("sweep tiny.ini --set routing.capacity_factor=0,1.0 --set model.layers=1,2 "
                         "--db pk.db --quiet"), 0);
    assert_int_equal(run_in_dir("plot pk.db -o b.png"), 0);
    assert_true(is_png("b.png"));
    assert_int_equal(run_in_dir("plot pk.db --kind load --layer 0 -o l.png"), 0);
    assert_true(is_png("l.png"));
    assert_int_equal(run_in_dir("plot pk.db --kind heatmap --run 4 -o h.png"), 0);
    assert_true(is_png("h.png"));
    assert_int_equal(run_in_dir("plot pk.db --kind sweep --x routing.capacity_factor --by model.layers "
                         "-o s.png"), 0);
    assert_true(is_png("s.png"));
    assert_int_equal(run_in_dir("plot pk.db --kind timeline -o t.png"), 0);
    assert_true(is_png("t.png"));
    assert_int_equal(run_in_dir("plot pk.db --kind load --layer 7 -o x.png"), 2);
    assert_non_null(strstr(err_buf, "--layer: expected 0 to"));
    assert_int_equal(run_in_dir("plot pk.db --kind pie -o x.png"), 2);
    assert_int_equal(run_in_dir("plot pk.db --kind sweep -o x.png"), 2);
    assert_int_equal(run_in_dir("plot pk.db --kind sweep --x model.nope -o x.png"), 2);
    assert_int_equal(run_in_dir("plot pk.db --kind links -o k.png"), 0);
    assert_true(is_png("k.png"));
    /* a step without link rows: said so, status 2, no picture */
    exec_sql("pk.db", "DELETE FROM link_util");
    assert_int_equal(run_in_dir("plot pk.db --kind links -o x.png"), 2);
    assert_non_null(strstr(err_buf, "has no link usage for step 0"));
    assert_int_equal(access("x.png", F_OK), -1);
}

/* What the pictures say (read from their SVG text): titles name the scenario and what tells
 * the run apart; breakdown bars carry the swept values in sweep order and the run id, and
 * categories that are zero everywhere (idle) are not in the legend; the sweep's seconds are
 * milliseconds; the heatmap has one cell per expert and layer. */
static void test_plot_contents(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("plot pk.db -o b.svg"), 0);
    const char *s = svg("b.svg");
    assert_true(shows(s, "Step-time breakdown, scenario: tiny (4 runs varying capacity_factor, "
                         "layers)"));
    assert_true(shows(s, "capacity_factor=0") && shows(s, "capacity_factor=1"));
    assert_true(shows(s, "layers=1") && shows(s, "layers=2") && shows(s, "#4"));
    assert_true(shows(s, "expert_gemm"));
    assert_false(shows(s, "idle"));
    /* the bars in sweep order: the first is point 0 (capacity_factor=0, layers=1) */
    assert_true(strstr(s, ">capacity_factor=0<") < strstr(s, ">capacity_factor=1<"));

    assert_int_equal(run_in_dir("plot pk.db --kind timeline --run 2 -o t.svg"), 0);
    s = svg("t.svg");
    assert_true(shows(s, "Step 0 timeline: tiny, run 2 (capacity_factor=0, layers=2)"));
    assert_false(shows(s, "idle"));

    assert_int_equal(run_in_dir("plot pk.db --kind sweep --x routing.capacity_factor --by model.layers "
                         "-o s.svg"), 0);
    s = svg("s.svg");
    assert_true(shows(s, "step_time (ms) vs routing.capacity_factor, a line per model.layers: "
                         "scenario tiny"));
    assert_true(shows(s, "step_time (ms)") && shows(s, "model.layers = 2"));

    /* heatmap of a 3-layer, 8-expert run: an image of 8 x 3 cells */
    assert_int_equal(run_in_dir("run tiny.ini --db hm.db --quiet --set model.layers=3 --set "
                         "model.experts=8"), 0);
    assert_int_equal(run_in_dir("plot hm.db --kind heatmap -o h.svg"), 0);
    s = svg("h.svg");
    assert_true(shows(s, "Routed load per expert and layer: tiny, run 1"));
    assert_true(shows(s, "expert") && shows(s, "layer"));
    unsigned w = 0, h = 0;
    svg_image_size(s, &w, &h);
    assert_int_equal(w, 8);
    assert_int_equal(h, 3);

    /* 64 experts: every 2nd expert labelled (0, 2, ..., 62), not every one */
    assert_int_equal(run_in_dir("run tiny.ini --db e64.db --quiet --set model.experts=64"), 0);
    assert_int_equal(run_in_dir("plot e64.db --kind load -o l64.svg"), 0);
    s = svg("l64.svg");
    assert_true(shows(s, "0") && shows(s, "2") && shows(s, "62"));
    assert_false(shows(s, "61") || shows(s, "63"));
    assert_true(shows(s, "Expert load, layer 0: tiny, run 1"));
}

/* The busiest links of a step, from given rows (the step does not fill them yet): a bar per
 * link, busiest on top, labelled with its name, GB and fill; in PNG and SVG. */
static void test_plot_links(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("run tiny.ini --db lk.db --quiet --set training.steps=2"), 0);
    /* the run's own link rows, replaced by two known ones per step */
    exec_sql("lk.db", "DELETE FROM link_util; "
                      "INSERT INTO link_util SELECT run_id, step, 0, 'node 0 GPU 1 NIC up', 50e9, "
                      "25e9 * step_time_s * 0.5, step_time_s * 0.5 FROM steps; "
                      "INSERT INTO link_util SELECT run_id, step, 1, 'node 0 NVSwitch port 3', "
                      "50e9, 1e9 * step_time_s, step_time_s * 0.25 FROM steps");
    assert_int_equal(run_in_dir("plot lk.db --kind links -o k.png"), 0);
    assert_true(is_png("k.png"));
    assert_int_equal(run_in_dir("plot lk.db --kind links --step 1 --run 1 -o k.svg"), 0);
    const char *s = svg("k.svg");
    assert_true(shows(s, "Busiest links, step 1: tiny, run 1"));
    assert_true(shows(s, "node 0 GPU 1 NIC up") && shows(s, "node 0 NVSwitch port 3"));
    /* 0.5 of the step at 25 of 50 GB/s: 50% full; 0.25 of the step at 1 GB/s: 8% */
    assert_non_null(strstr(s, "GB, 50%"));
    assert_non_null(strstr(s, "GB, 8%"));
    assert_non_null(strstr(s, "busy (% of the step time"));
    /* busiest on top: its name is drawn higher (smaller y in the text's translate()) */
    assert_true(text_y(s, "node 0 GPU 1 NIC up") < text_y(s, "node 0 NVSwitch port 3"));
    assert_int_equal(run_in_dir("plot lk.db --kind links --step 2 -o x.png"), 2);
    assert_int_equal(run_in_dir("plot lk.db --kind links --step x -o x.png"), 2);
}

/* --trace writes Chrome trace JSON: named GPU processes, one complete event per compute task
 * of step 0 and a begin/end pair per message; the database holds the same tasks (the first
 * 16 GPUs) for the timeline. */
static void test_trace(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("run tiny.ini --db tr.db --trace tr.json --quiet"), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/tr.json", dir);
    static char buf[1 << 22];
    slurp(p, buf, sizeof buf);
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    cJSON *ev = cJSON_GetObjectItem(o, "traceEvents"), *e;
    long complete = 0, begin = 0, end = 0, names = 0;
    cJSON_ArrayForEach(e, ev) {
        const char *ph = cJSON_GetObjectItem(e, "ph")->valuestring;
        complete += ph[0] == 'X';
        begin += ph[0] == 'b';
        end += ph[0] == 'e';
        names += ph[0] == 'M';
    }
    cJSON_Delete(o);
    assert_int_equal(begin, end);
    assert_true(complete > 0 && begin > 0);
    /* 2 GPUs: process name, sort index, 2 threads; the links process: name, sort index */
    assert_int_equal(names, 2 * 4 + 2);
    assert_int_equal(q("tr.db", "SELECT count(*) FROM task_spans WHERE stream = 0"), complete);
    assert_int_equal(q("tr.db", "SELECT count(*) FROM task_spans WHERE stream = 1"), begin);
    /* a trace in a missing directory: status 1 (a write failure), the run not stored */
    assert_int_equal(run_in_dir("run tiny.ini --db tr.db --trace nodir/x.json --quiet"), 1);
    assert_int_equal(q("tr.db", "SELECT count(*) FROM runs"), 1);
}

/* --json carries every output key of the training-step issue; --dense-equivalent adds the
 * comparator (same active parameters, or a named dense preset); an MoE preset is refused. */
static void test_outputs_and_dense_equivalent(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("run tiny.ini --db o.db --json --dense-equivalent"), 0);
    cJSON *o = cJSON_Parse(out_buf);
    assert_non_null(o);
    const char *keys[] = {"tokens_per_s", "tokens_per_s_per_gpu", "model_tflops_per_gpu", "mfu",
                          "memory_per_gpu_bytes", "fits", "dropped_fraction", "max_mean_load",
                          "imbalance_cost_s", "params_total", "params_active", "gpu_hours",
                          "cost_usd", "gpu_hours_per_trillion_tokens", "dense_equivalent"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!cJSON_GetObjectItem(o, keys[i]))
            fail_msg("--json lacks %s", keys[i]);
    cJSON *d = cJSON_GetObjectItem(o, "dense_equivalent");
    /* same active parameters by construction (the dense FFN is k experts wide) */
    double pa = cJSON_GetObjectItem(o, "params_active")->valuedouble;
    double da = cJSON_GetObjectItem(d, "params_active")->valuedouble;
    assert_true(fabs(da - pa) / pa < 0.01);
    cJSON_Delete(o);
    assert_int_equal(run_in_dir("run tiny.ini --db o.db --dense-equivalent=llama3-8b"), 0);
    assert_non_null(strstr(out_buf, "dense comparator: llama3-8b"));
    assert_int_equal(run_in_dir("run tiny.ini --db o.db --dense-equivalent=mixtral-8x7b"), 2);
    assert_non_null(strstr(err_buf, "not a dense model"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_product_and_resume),
        cmocka_unit_test(test_sweep_killed_and_rerun),
        cmocka_unit_test(test_shard_and_merge),
        cmocka_unit_test(test_check_exit_codes),
        cmocka_unit_test(test_check_pairs_points),
        cmocka_unit_test(test_plot_kinds),
        cmocka_unit_test(test_plot_contents),
        cmocka_unit_test(test_plot_links),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_outputs_and_dense_equivalent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
