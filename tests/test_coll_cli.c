/* tests/test_coll_cli.c: end-to-end tests of `moesim coll` (the binary named by MOESIM):
 * nccl-tests columns, --json rows and bus bandwidth, all_to_allv from a CSV matrix, and
 * bad usage. */
#include <cJSON.h>
#include <math.h>
#include <setjmp.h>
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

static int setup(void **state)
{
    (void)state;
    return e2e_mkdir("coll");
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

/* The example command: 2 nodes x 8 H100, NDR: a header, the nccl-tests columns,
 * one row per size from 8 B to 8 GiB doubling (31 rows). */
static void test_sweep_columns(void **state)
{
    (void)state;
    assert_int_equal(run("coll --gpu h100-sxm --nodes 2 --gpus-per-node 8 --inter ndr400 "
                         "--op all_reduce -b 8 -e 8G -f 2"), 0);
    assert_non_null(strstr(out_buf, "all_reduce (ring), 16 x h100-sxm"));
    assert_non_null(strstr(out_buf, "size         count      type        time"));
    int rows = 0;
    for (char *p = out_buf; (p = strstr(p, "  float  ")); p++)
        rows++;
    assert_int_equal(rows, 31);
    assert_non_null(strstr(out_buf, "  8589934592    2147483648     float"));
}

/* --json: busbw = algbw x 2(n-1)/n for all-reduce, (n-1)/n for all-to-all, and
 * algbw = size / time. */
static void test_json_busbw(void **state)
{
    (void)state;
    const char *ops[] = {"all_reduce", "all_to_all", "all_gather", "reduce_scatter"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(run("coll --gpu a100-sxm --op %s -b 1M -e 64M -f 4 --json", ops[k]), 0);
        cJSON *o = cJSON_Parse(out_buf);
        assert_non_null(o);
        cJSON *rows = cJSON_GetObjectItem(o, "rows"), *r;
        assert_int_equal(cJSON_GetArraySize(rows), 4);
        double f = k == 0 ? 2.0 * 7 / 8 : 7.0 / 8;
        cJSON_ArrayForEach(r, rows)
        {
            double size = cJSON_GetObjectItem(r, "size")->valuedouble;
            double t = cJSON_GetObjectItem(r, "time_us")->valuedouble * 1e-6;
            double alg = cJSON_GetObjectItem(r, "algbw_GBps")->valuedouble;
            double bus = cJSON_GetObjectItem(r, "busbw_GBps")->valuedouble;
            assert_true(t > 0 && fabs(alg - size / t / 1e9) <= 1e-9 * alg);
            assert_true(fabs(bus - alg * f) <= 1e-12 * bus);
        }
        cJSON_Delete(o);
    }
}

/* all_to_allv from a matrix: GPU 0 sends 1e6 B to GPU 1, GPU 2 sends 3e6 B to GPU 1 (a
 * header line and a comment are allowed). Ideal links of 100 GB/s, latency 1 us: GPU 1's
 * down port carries both flows (50 GB/s each) until the small one ends at
 * 1 us + 1e6/50e9 = 21 us; the big one then has 2e6 B left at 100 GB/s: 41 us. */
static void test_matrix(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/m.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("src,dst,bytes\n# two senders, one receiver\n0,1,1000000\n2,1,3000000\n", f);
    fclose(f);
    assert_int_equal(run("coll --gpus-per-node 4 --op all_to_allv --matrix %s --json "
                         "--set cluster.intra_bw_GBps=100 --set cluster.intra_lat_us=1 "
                         "--set cluster.link_efficiency=1", path), 0);
    cJSON *o = cJSON_Parse(out_buf);
    assert_non_null(o);
    assert_true(fabs(cJSON_GetObjectItem(o, "time_us")->valuedouble - 41.0) < 1e-6);
    cJSON *fin = cJSON_GetObjectItem(o, "gpu_finish_us");
    assert_int_equal(cJSON_GetArraySize(fin), 4);
    assert_true(fabs(cJSON_GetArrayItem(fin, 1)->valuedouble - 41.0) < 1e-6);
    assert_true(cJSON_GetArrayItem(fin, 0)->valuedouble == 0);
    cJSON_Delete(o);
    f = fopen(path, "w");
    fputs("0,9,5\n", f);
    fclose(f);
    assert_int_equal(run("coll --gpus-per-node 4 --op all_to_allv --matrix %s", path), 2);
    assert_non_null(strstr(err_buf, "m.csv:1: column dst: expected an integer between 0 and 3"));
}

static void test_bad_usage(void **state)
{
    (void)state;
    assert_int_equal(run("coll --help"), 0);
    assert_non_null(strstr(out_buf, "usage: moesim coll"));
    assert_int_equal(run("coll --op bogus"), 2);
    assert_non_null(strstr(err_buf, "--op: expected all_reduce"));
    assert_int_equal(run("coll --op all_reduce --algo pairwise"), 2);
    assert_non_null(strstr(err_buf, "no algorithm \"pairwise\" for all_reduce"));
    assert_int_equal(run("coll -b 1G -e 1M"), 2);
    assert_int_equal(run("coll --gpu a100-sxm --algo nvls -b 1M -e 1M"), 2);
    assert_non_null(strstr(err_buf, "nvls needs NVSwitch"));
    assert_int_equal(run("coll --gpu v100"), 2);
    assert_non_null(strstr(err_buf, "cluster.gpu: expected one of"));
    assert_int_equal(run("coll --op all_to_allv"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_columns),
        cmocka_unit_test(test_json_busbw),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_bad_usage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
