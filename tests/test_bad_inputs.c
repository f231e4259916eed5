/* tests/test_bad_inputs.c: hostile and extreme input to the moesim command (the binary named
 * by MOESIM). Every bad input gives its own message naming what is wrong, exit status 2 and
 * no database; extreme but valid values run and never print NaN or infinity. */
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

static int setup(void **state)
{
    (void)state;
    if (e2e_mkdir("bad") != 0)
        return -1;
    char p[300];
    snprintf(p, sizeof p, "%s/adir.ini", dir);
    mkdir(p, 0755);
    write_file("tiny.ini", "[cluster]\ngpus_per_node = 2\n[model]\nlayers = 1\nhidden = 256\n"
                           "ffn_expert = 512\nexperts = 4\ntop_k = 2\nheads = 4\nkv_heads = 4\n"
                           "[training]\nseq_len = 128\n");
    /* a trace naming expert 9 of a 4-expert model */
    return write_file("trace.csv", "step,layer,expert,tokens\n0,0,0,100\n0,0,9,50\n");
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

typedef struct bad_case {
    const char *text;        /* scenario text written to bad.ini; NULL: use args alone */
    const char *args;        /* arguments after "run" */
    const char *msg;         /* expected in stderr */
} bad_case;

static void test_bad_input_table(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {NULL, "missing.ini", "missing.ini: cannot read: No such file or directory"},
        {NULL, "adir.ini", "adir.ini: cannot read"},
        {"[clusterr]\nnodes = 1\n", "bad.ini", "bad.ini:1: [clusterr]: unknown section"},
        {"[cluster]\nnode = 1\n", "bad.ini", "bad.ini:2: cluster.node: unknown key"},
        {"[cluster]\nnodes = 1\nnodes = 2\n", "bad.ini",
         "bad.ini:3: cluster.nodes: given twice (first on line 2)"},
        {"[model]\nlayers = four\n", "bad.ini",
         "bad.ini:2: model.layers: expected an integer (got \"four\")"},
        {"[model]\nlayers =\n", "bad.ini", "bad.ini:2: model.layers: expected an integer"},
        {"[cluster]\nintra_bw_GBps = -1\n", "bad.ini",
         "bad.ini:2: cluster.intra_bw_GBps: expected a value greater than 0"},
        {"[cluster]\ninter_bw_Gbps = 0\n", "bad.ini",
         "bad.ini:2: cluster.inter_bw_Gbps: expected a value greater than 0"},
        {"[cluster]\nlink_efficiency = nan\n", "bad.ini",
         "bad.ini:2: cluster.link_efficiency: expected a number (got \"nan\")"},
        {"[cluster]\ninter_bw_Gbps = inf\n", "bad.ini",
         "bad.ini:2: cluster.inter_bw_Gbps: expected a number (got \"inf\")"},
        {"[cluster]\ngpus_per_node = 0\n", "bad.ini",
         "bad.ini:2: cluster.gpus_per_node: expected a value between 1 and"},
        {"[model]\nexperts = 0\n", "bad.ini", "bad.ini:2: model.experts: expected a value"},
        {"[model]\nexperts = 4\ntop_k = 5\n", "bad.ini",
         "bad.ini:3: model.top_k: expected at most model.experts = 4 (got 5)"},
        {"[parallel]\nep = 3\n", "bad.ini", "bad.ini:2: parallel.ep: expected a divisor"},
        {"[parallel]\ntp = 3\n", "bad.ini",
         "bad.ini:2: parallel.tp: parallel.tp x parallel.pp = 3 x 1 must divide the 8 GPUs"},
        {"[parallel]\npp = 16\n", "bad.ini",
         "bad.ini:2: parallel.pp: parallel.tp x parallel.pp = 1 x 16 must divide the 8 GPUs"},
        {"[parallel]\ntp = 2\ndp = 2\n", "bad.ini",
         "bad.ini:3: parallel.dp: expected tp x pp x dp = the 8 GPUs (got 2 x 1 x 2 = 4)"},
        {"[parallel]\ntp = 8\n[model]\nkv_heads = 4\n", "bad.ini",
         "bad.ini:2: parallel.tp: expected a divisor of model.kv_heads = 4 (got 8)"},
        {"[training]\nglobal_batch = 12\n", "bad.ini",
         "bad.ini:2: training.global_batch: expected a multiple of dp x micro_batch = 8 x 1"},
        {"[cluster]\nslow_gpus = 8:0.5\n", "bad.ini",
         "bad.ini:2: cluster.slow_gpus: GPU 8 does not exist (GPUs 0..7)"},
        {"[model]\npreset = mixtral-8x9b\n", "bad.ini",
         "bad.ini:2: model.preset: no preset \"mixtral-8x9b\""},
        {"[cluster]\ngpu = h999\n", "bad.ini",
         "bad.ini:2: cluster.gpu: expected one of: a100-sxm, h100-sxm"},
        {NULL, "tiny.ini --set routing.model=trace --set routing.trace=trace.csv",
         "trace.csv:3: "},
        {NULL, "tiny.ini --set model.hidden=x", "--set: model.hidden: expected an integer"},
        {NULL, "tiny.ini --set nodot=1", "--set: \"nodot=1\": expected section.key=value"},
        {NULL, "tiny.ini --bogus", "unknown option '--bogus'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].text)
            write_file("bad.ini", cases[i].text);
        int rc = run_in_dir("run %s --db never.db --quiet", cases[i].args);
        if (rc != 2 || !strstr(err_buf, cases[i].msg))
            fail_msg("case %zu (%s): exit %d, stderr: %s(expected: %s)", i, cases[i].args, rc,
                     err_buf, cases[i].msg);
        assert_false(exists("never.db"));
    }
}

/* The database itself as bad input: a directory that does not exist, and a file written by a
 * newer moesim (schema version above ours) - both exit 2 with a message naming the path. */
static void test_bad_databases(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("run tiny.ini --db nodir/x.db --quiet"), 2);
    assert_non_null(strstr(err_buf, "nodir/x.db: cannot write the database: directory"));
    assert_int_equal(run_in_dir("run tiny.ini --db newer.db --quiet"), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/newer.db", dir);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(p, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(run_in_dir("run tiny.ini --db newer.db --quiet"), 2);
    assert_non_null(strstr(err_buf, "newer.db: written by a newer moesim (schema 999"));
    assert_int_equal(run_in_dir("plot newer.db -o x.png"), 2);
    write_file("notes.db", "plain text, not a database\n");
    assert_int_equal(run_in_dir("run tiny.ini --db notes.db --quiet"), 2);
    assert_non_null(strstr(err_buf, "not a moesim database"));
}

static void no_nan_or_inf(const char *what)
{
    if (strstr(out_buf, "nan") || strstr(out_buf, "inf") || strstr(out_buf, "NaN") ||
        strstr(out_buf, "Infinity"))
        fail_msg("%s printed NaN or infinity:\n%s", what, out_buf);
}

/* Extreme but valid: 1 GPU, 1 expert, 1024 experts, 1-byte and 1e15-byte collectives, a
 * 1-token step: each runs, with finite numbers only. */
static void test_extremes_are_finite(void **state)
{
    (void)state;
    assert_int_equal(run_in_dir("run tiny.ini --db e.db --json --set cluster.gpus_per_node=1 "
                         "--set parallel.ep=1"), 0);
    no_nan_or_inf("1 GPU");
    assert_int_equal(run_in_dir("run tiny.ini --db e.db --json --set model.experts=1 --set model.top_k=1 "
                         "--set parallel.ep=1"), 0);
    no_nan_or_inf("1 expert");
    assert_int_equal(run_in_dir("run tiny.ini --db e.db --json --set model.experts=1024 "
                         "--set model.top_k=8"), 0);
    no_nan_or_inf("1024 experts");
    assert_int_equal(run_in_dir("run tiny.ini --db e.db --json --set training.seq_len=1"), 0);
    no_nan_or_inf("1-token sequences");
    assert_int_equal(run_in_dir("run tiny.ini --db e.db --json --set routing.capacity_factor=0.001"), 0);
    no_nan_or_inf("capacity dropping almost everything");
    assert_int_equal(run_in_dir("coll --gpu h100-sxm --op all_reduce -b 1 -e 1 --json"), 0);
    no_nan_or_inf("1-byte all-reduce");
    assert_int_equal(run_in_dir("coll --gpu h100-sxm --nodes 2 --op all_to_all -b 1 -e 8 --json"), 0);
    no_nan_or_inf("1-byte all-to-all");
    assert_int_equal(run_in_dir("coll --gpu h100-sxm --op all_reduce -b 1000000000000000 "
                         "-e 1000000000000000 --json"), 0);
    no_nan_or_inf("1e15-byte all-reduce");
    assert_int_equal(run_in_dir("gemm 1 1 1 --json"), 0);
    no_nan_or_inf("1x1x1 GEMM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_table),
        cmocka_unit_test(test_bad_databases),
        cmocka_unit_test(test_extremes_are_finite),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
