/* tests/test_runkeys.c: what tells runs apart (results/runkeys.c), on runs written by hand:
 * the differing keys, the label keys (those a sweep set, when a sweep names any), labels
 * with short key names, and the scenario names. */
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
#include "results/runkeys.h"
#include "sim/alloc.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/moesim-runkeys-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/r.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static int64_t put(res_db *db, const char *name, const char *resolved)
{
    res_run run = {.name = name, .scenario_text = "", .resolved = resolved, .version = "t"};
    int64_t id = 0;
    assert_int_equal(res_db_write_run(db, &run, &id, NULL), SIM_OK);
    return id;
}

/* Three runs of "a": cluster.gpu and model.layers differ (the gpu's bandwidth with it),
 * model.hidden does not; parallel.ep is missing from one run, so it differs too. */
static void test_differing_and_labels(void **state)
{
    (void)state;
    unlink(path);
    res_db *db = NULL;
    assert_int_equal(res_db_open(path, &db, NULL), SIM_OK);
    int64_t r1 = put(db, "a", "[cluster]\ngpu = h100\nintra_bw = 450\n[model]\nlayers = 2\n"
                              "hidden = 256\n[parallel]\nep = 2\n");
    put(db, "a", "[cluster]\ngpu = b200\nintra_bw = 900\n[model]\nlayers = 2\nhidden = 256\n"
                 "[parallel]\nep = 2\n");
    int64_t r3 = put(db, "a", "[cluster]\ngpu = b200\nintra_bw = 900\n[model]\nlayers = 4\n"
                              "hidden = 256\n");
    res_runs rs;
    assert_int_equal(res_runs_load(res_db_handle(db), path, &rs, NULL), SIM_OK);
    assert_int_equal(rs.n_runs, 3);
    assert_int_equal(rs.n_names, 1);
    const char *want[4] = {"cluster.gpu", "cluster.intra_bw", "model.layers", "parallel.ep"};
    assert_int_equal(rs.n_differing, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(rs.differing[i], want[i]);
    /* no sweep: every differing key labels */
    assert_int_equal(rs.n_label_keys, 4);
    char buf[160];
    res_runs_label(&rs, res_runs_find(&rs, r3), " ", 8, 0, buf, sizeof buf);
    assert_string_equal(buf, "gpu=b200 intra_bw=900 layers=4 ep=-");
    res_runs_label(&rs, res_runs_find(&rs, r3), "/", 8, RES_LABEL_VALUES, buf, sizeof buf);
    assert_string_equal(buf, "b200/900/4/-");
    res_runs_label(&rs, res_runs_find(&rs, r1), "\n", 2, 0, buf, sizeof buf);
    assert_string_equal(buf, "gpu=h100\nintra_bw=450\n+2");

    assert_string_equal(res_run_value(res_runs_find(&rs, r1), "model.hidden"), "256");
    assert_null(res_run_value(res_runs_find(&rs, r3), "parallel.ep"));
    assert_null(res_runs_find(&rs, 99));
    res_runs_varying(&rs, 3, buf, sizeof buf);
    assert_string_equal(buf, "gpu, intra_bw, layers and 1 more");
    res_runs_fini(&rs);

    /* a sweep that set model.layers, then cluster.gpu (and run.seed, which does not
     * differ): those two label, in that order; the bandwidth that comes with the gpu does
     * not */
    assert_int_equal(res_db_record_point(db, "s", "model.layers=2 cluster.gpu=h100 run.seed=1",
                                         0, r1, NULL), SIM_OK);
    assert_int_equal(res_runs_load(res_db_handle(db), path, &rs, NULL), SIM_OK);
    assert_int_equal(rs.n_label_keys, 2);
    res_runs_label(&rs, res_runs_find(&rs, r3), ", ", 8, 0, buf, sizeof buf);
    assert_string_equal(buf, "layers=4, gpu=b200");
    res_runs_varying(&rs, 3, buf, sizeof buf);
    assert_string_equal(buf, "layers, gpu");
    res_runs_fini(&rs);

    /* a plain run equal to run 3 in both swept keys but with another router: the sweep's
     * keys cannot tell them apart, so routing.model labels too */
    int64_t r4 = put(db, "a", "[cluster]\ngpu = b200\nintra_bw = 900\n[model]\nlayers = 4\n"
                              "hidden = 256\n[routing]\nmodel = expert_choice\n");
    assert_int_equal(res_runs_load(res_db_handle(db), path, &rs, NULL), SIM_OK);
    assert_int_equal(rs.n_label_keys, 3);
    res_runs_label(&rs, res_runs_find(&rs, r4), ", ", 8, 0, buf, sizeof buf);
    assert_string_equal(buf, "layers=4, gpu=b200, model=expert_choice");
    res_runs_fini(&rs);
    res_db_close(db);
}

/* Short names stay unambiguous; scenario names are listed once each, at most three. */
static void test_short_names_and_scenarios(void **state)
{
    (void)state;
    unlink(path);
    res_db *db = NULL;
    assert_int_equal(res_db_open(path, &db, NULL), SIM_OK);
    int64_t r1 = put(db, "a", "[cluster]\nlat = 1\n[model]\nlat = 5\n");
    put(db, "b", "[cluster]\nlat = 2\n[model]\nlat = 5\n");
    put(db, "c", "[cluster]\nlat = 3\n[model]\nlat = 6\n");
    put(db, "a", "[cluster]\nlat = 3\n[model]\nlat = 6\n");
    put(db, "d", "[cluster]\nlat = 3\n[model]\nlat = 6\n");
    res_runs rs;
    assert_int_equal(res_runs_load(res_db_handle(db), path, &rs, NULL), SIM_OK);
    char buf[160];
    res_runs_label(&rs, res_runs_find(&rs, r1), " ", 8, 0, buf, sizeof buf);
    assert_string_equal(buf, "cluster.lat=1 model.lat=5");
    res_runs_names(&rs, buf, sizeof buf);
    assert_string_equal(buf, "a, b, c and 1 more");
    res_runs_fini(&rs);
    /* one run: nothing differs, labels are empty */
    assert_int_equal(sqlite3_exec(res_db_handle(db), "DELETE FROM runs WHERE id > 1", NULL, NULL,
                                  NULL), SQLITE_OK);
    assert_int_equal(res_runs_load(res_db_handle(db), path, &rs, NULL), SIM_OK);
    assert_int_equal(rs.n_differing, 0);
    res_runs_label(&rs, &rs.runs[0], " ", 8, RES_LABEL_NO_SEED, buf, sizeof buf);
    assert_string_equal(buf, "");
    res_runs_names(&rs, buf, sizeof buf);
    assert_string_equal(buf, "a");
    res_runs_fini(&rs);
    res_db_close(db);
}

/* Every allocation of a load failing in turn: SIM_ENOMEM with nothing left allocated (the
 * sanitizer leg checks for leaks), until the load succeeds. */
static void test_out_of_memory(void **state)
{
    (void)state;
    unlink(path);
    res_db *db = NULL;
    assert_int_equal(res_db_open(path, &db, NULL), SIM_OK);
    int64_t r1 = put(db, "a", "[m]\nx = 1\ny = 2\n");
    put(db, "a", "[m]\nx = 2\ny = 2\n");
    assert_int_equal(res_db_record_point(db, "s", "m.x=1", 0, r1, NULL), SIM_OK);
    long n;
    for (n = 0; n < 200; n++) {
        res_runs rs;
        sim_err err = {0};
        sim_alloc_fail_after(n);
        sim_status st = res_runs_load(res_db_handle(db), path, &rs, &err);
        sim_alloc_fail_after(-1);
        if (st == SIM_OK) {
            assert_int_equal(rs.n_label_keys, 1);
            res_runs_fini(&rs);
            break;
        }
        assert_int_equal(st, SIM_ENOMEM);
        assert_int_equal(rs.n_runs, 0);
    }
    assert_true(n > 5 && n < 200);
    res_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_differing_and_labels),
        cmocka_unit_test(test_short_names_and_scenarios),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
