/* tests/test_model_cli.c: end-to-end tests of `moesim model` and of the issue-4 parts of
 * `moesim run` (presets in scenarios, the GEMM calibration table, the memory report), through
 * the binary named by MOESIM (./moesim by default). Run from the repository root. */
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
    return e2e_mkdir("model");
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

static double num(cJSON *o, const char *key)
{
    cJSON *it = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(it))
        fail_msg("no number \"%s\"", key);
    return it->valuedouble;
}

/* moesim model PRESET --json: the exact Mixtral 8x7B count (tests/test_arch.c derives
 * 46,702,792,704), bf16 bytes = 2 x total, training = 3 x forward FLOPs. */
static void test_model_json(void **state)
{
    (void)state;
    assert_int_equal(run("model mixtral-8x7b --json"), 0);
    cJSON *o = cJSON_Parse(out_buf);
    assert_non_null(o);
    assert_true(num(o, "params_total") == 46702792704.0);
    assert_true(num(o, "weight_bytes_bf16") == 2 * 46702792704.0);
    assert_true(num(o, "params_active") < num(o, "params_active_with_embedding"));
    assert_true(num(o, "flops_per_token_train") == 3 * num(o, "flops_per_token_fwd"));
    cJSON *mem = cJSON_GetObjectItem(o, "memory");
    assert_non_null(mem);
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(mem, "fits")));
    cJSON_Delete(o);
}

/* The text report names the components; a longer sequence raises the attention term only. */
static void test_model_text_and_set(void **state)
{
    (void)state;
    assert_int_equal(run("model deepseek-v3"), 0);
    assert_non_null(strstr(out_buf, "latent (MLA)"));
    assert_non_null(strstr(out_buf, "shared experts"));
    assert_non_null(strstr(out_buf, "routed experts"));
    assert_int_equal(run("model deepseek-v3 --json"), 0);
    cJSON *a = cJSON_Parse(out_buf);
    assert_int_equal(run("model deepseek-v3 --json --set training.seq_len=8192"), 0);
    cJSON *b = cJSON_Parse(out_buf);
    assert_true(num(b, "flops_per_token_fwd_matmul") == num(a, "flops_per_token_fwd_matmul"));
    assert_true(num(b, "flops_per_token_fwd_attention") ==
                2 * num(a, "flops_per_token_fwd_attention"));
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* Bad input: unknown preset (exit 2, the list of presets), missing file, no argument. */
static void test_model_errors(void **state)
{
    (void)state;
    assert_int_equal(run("model no-such-model"), 2);
    assert_non_null(strstr(err_buf, "model.preset: no preset \"no-such-model\""));
    assert_non_null(strstr(err_buf, "gpt-oss-120b"));
    assert_int_equal(run("model %s/missing.ini", dir), 2);
    assert_int_equal(run("model"), 2);
    assert_int_equal(run("model --help"), 0);
    assert_non_null(strstr(out_buf, "PRESET|FILE"));
}

/* A scenario naming a preset runs; its own keys override the preset; a calibration table
 * changes the GEMM times (a 1000x slower measured GEMM lengthens the step), in `moesim gemm`
 * too; a bad table is bad input naming its line. */
static void test_run_preset_and_calibration(void **state)
{
    (void)state;
    write_file("p.ini", "[cluster]\ngpus_per_node = 2\n[model]\npreset = mixtral-8x7b\n"
                        "layers = 1\nhidden = 512\nheads = 8\nkv_heads = 8\nhead_dim = 64\n"
                        "ffn_expert = 1024\nvocab = 1000\n[training]\nseq_len = 128\n");
    assert_int_equal(run("run %s/p.ini --db %s/p.db --json", dir, dir), 0);
    cJSON *a = cJSON_Parse(out_buf);
    assert_non_null(a);
    assert_non_null(cJSON_GetObjectItem(a, "memory"));
    /* the output layer: 128 tokens x 1000 x 512, bf16; measured 1000 s (absurd on purpose) */
    write_file("cal.csv", "m,n,k,dtype,time_us\n# one shape\n128,1000,512,bf16,1e9\n");
    assert_int_equal(run("run %s/p.ini --db %s/p.db --json --set gemm.calibration=%s/cal.csv",
                         dir, dir, dir), 0);
    cJSON *b = cJSON_Parse(out_buf);
    assert_true(num(b, "step_time_s") > num(a, "step_time_s") + 999);
    cJSON_Delete(a);
    cJSON_Delete(b);
    /* `moesim gemm` reads the same table: the measured point itself (launch 0: 1e9 us);
     * the same m and n at k = 1024 is in the table's k-run, scaled by the point's measured
     * over modelled time, so far above the model; another m and n is the model alone */
    assert_int_equal(run("gemm 128 1000 512 --set gemm.calibration=%s/cal.csv "
                         "--set cluster.launch_us=0 --json", dir), 0);
    cJSON *g = cJSON_Parse(out_buf);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(g, "calibrated")));
    assert_true(num(g, "time_us") == 1e9);
    cJSON_Delete(g);
    assert_int_equal(run("gemm 128 1000 1024 --set gemm.calibration=%s/cal.csv --json", dir), 0);
    g = cJSON_Parse(out_buf);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(g, "calibrated")));
    assert_true(num(g, "time_us") > 1e9);
    cJSON_Delete(g);
    assert_int_equal(run("gemm 64 64 64 --set gemm.calibration=%s/cal.csv", dir), 0);
    assert_null(strstr(out_buf, "calibrated"));
    write_file("bad.csv", "m,n,k,dtype,time_us\n128,1000,512,fp16,3\n");
    assert_int_equal(run("run %s/p.ini --db %s/p.db --set gemm.calibration=%s/bad.csv", dir,
                         dir, dir), 2);
    assert_non_null(strstr(err_buf, "bad.csv:2: column dtype: expected bf16 or fp8"));
    assert_int_equal(run("gemm 1 1 1 --set gemm.calibration=%s/bad.csv", dir), 2);
    assert_non_null(strstr(err_buf, "bad.csv:2: column dtype: expected bf16 or fp8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_json), cmocka_unit_test(test_model_text_and_set),
        cmocka_unit_test(test_model_errors), cmocka_unit_test(test_run_preset_and_calibration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
