/* cli/gemm.c: `moesim gemm M N K`: the time of one GEMM on a GPU as the scenario's GEMM cost
 * model predicts it, with achieved TFLOP/s and whether it is compute- or memory-bound. For
 * checking the model against measurements (tests/validation/) and for what-ifs. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "models/gemm.h"
#include "models/hw.h"
#include "models/scenario.h"
#include "sim/alloc.h"

static const char gemm_usage[] =
    "usage: moesim gemm M N K [FILE] [--gpu NAME] [--dtype bf16|fp8] [--set section.key=value]...\n"
    "                   [--json]\n"
    "\n"
    "Predicts the kernel time of one GEMM, C[M x N] = A[M x K] B[K x N], on the scenario's GPU\n"
    "(default h100-sxm) with its GEMM model (gemm.model, default tiled), and prints the time,\n"
    "the achieved TFLOP/s (2MNK / time) and the bound. The launch overhead\n"
    "(cluster.launch_us) is included; --set cluster.launch_us=0 gives the kernel alone.\n"
    "With gemm.calibration = FILE.csv the table's measured times are used where it covers\n"
    "the shape, as in a run (docs/MODEL.md \"Calibration table\").\n";

static int parse_dim(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s || v < 1 || v > (1LL << 40))
        return -1;
    *out = v;
    return 0;
}

int cli_gemm(int argc, char **argv)
{
    int64_t dims[3];
    int n_dims = 0, json = 0;
    const char *file = NULL, *gpu = NULL, *dtype = "bf16";
    const char **sets = sim_calloc((size_t)argc + 2, sizeof *sets);
    char gpu_set[96], dt_set[64];
    size_t n_sets = 0;
    int rc = 0;
    if (!sets)
        return cli_usage_error("gemm", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(gemm_usage, stdout);
            goto done;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--gpu") || !strcmp(a, "--dtype") || !strcmp(a, "--set")) {
            if (i + 1 >= argc) {
                rc = cli_usage_error("gemm", "%s needs a value", a);
                goto done;
            }
            const char *v = argv[++i];
            if (a[2] == 'g')
                gpu = v;
            else if (a[2] == 'd')
                dtype = v;
            else
                sets[n_sets++] = v;
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("gemm", "unknown option '%s'", a);
            goto done;
        } else if (n_dims < 3) {
            if (parse_dim(a, &dims[n_dims]) != 0) {
                rc = cli_usage_error("gemm", "expected a dimension from 1 to 2^40 (got \"%s\")", a);
                goto done;
            }
            n_dims++;
        } else if (!file) {
            file = a;
        } else {
            rc = cli_usage_error("gemm", "unexpected argument '%s'", a);
            goto done;
        }
    }
    if (n_dims != 3) {
        rc = cli_usage_error("gemm", "expected three dimensions M N K");
        goto done;
    }
    if (strcmp(dtype, "bf16") != 0 && strcmp(dtype, "fp8") != 0) {
        rc = cli_usage_error("gemm", "--dtype: expected bf16 or fp8 (got \"%s\")", dtype);
        goto done;
    }
    const hw_gpu *hg = gpu ? hw_gpu_find(gpu) : NULL;
    if (hg && strcmp(dtype, "fp8") == 0 && hg->fp8_tflops <= 0) {
        rc = cli_usage_error("gemm", "--dtype fp8: the %s has no fp8 tensor cores (use bf16)", gpu);
        goto done;
    }
    /* options come before --set overrides: later ones win */
    memmove(sets + 2, sets, n_sets * sizeof *sets);
    size_t k = 0;
    if (gpu) {
        snprintf(gpu_set, sizeof gpu_set, "cluster.gpu=%.80s", gpu);
        sets[k++] = gpu_set;
    }
    snprintf(dt_set, sizeof dt_set, "training.precision=%s", dtype);
    sets[k++] = dt_set;
    if (k < 2)
        memmove(sets + k, sets + 2, n_sets * sizeof *sets);
    n_sets += k;

    sim_err err = {0};
    scn_config c;
    char *text = NULL;
    sim_status st = file ? cli_load_scenario(file, sets, n_sets, &c, &text, &err)
                         : cli_load_scenario_text("(defaults)", "", sets, n_sets, &c, &err);
    sim_free(text);
    if (st != SIM_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    gemm_calib calib = {NULL, 0};
    if (c.gemm.calibration[0] &&
        cli_load_gemm_calib(c.gemm.calibration, &calib, &err) != SIM_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    gemm_device dev;
    gemm_device_of(&c, &dev);
    const gemm_model *gm = gemm_model_find(c.gemm.model);
    int db = strcmp(dtype, "fp8") == 0 ? 1 : 2, calibrated = 0;
    int64_t m = dims[0], n = dims[1], kk = dims[2];
    double t = gemm_calib_time_s(calib.n ? &calib : NULL, gm, NULL, &dev, m, n, kk, db,
                                 &calibrated);
    sim_free(calib.pts);
    double flops = 2.0 * (double)m * n * kk;
    double achievable = gemm_peak_flops(&dev, db);          /* peak x efficiency */
    double peak = db == 1 && dev.peak_fp8_flops > 0 ? dev.peak_fp8_flops   /* data sheet */
                                                    : dev.peak_flops;
    double t_compute = flops / achievable;
    double t_memory = gemm_bytes(m, n, kk, db) / (dev.hbm_bytes_per_s * dev.mem_efficiency);
    const char *bound = t_memory > t_compute ? "memory" : "compute";
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "m", (double)m);
        cJSON_AddNumberToObject(o, "n", (double)n);
        cJSON_AddNumberToObject(o, "k", (double)kk);
        cJSON_AddStringToObject(o, "dtype", dtype);
        cJSON_AddStringToObject(o, "gpu", c.cluster.gpu);
        cJSON_AddStringToObject(o, "model", c.gemm.model);
        cJSON_AddBoolToObject(o, "calibrated", calibrated);
        cJSON_AddNumberToObject(o, "time_us", t * 1e6);
        cJSON_AddNumberToObject(o, "tflops", flops / t / 1e12);
        cJSON_AddNumberToObject(o, "peak_tflops", peak / 1e12);
        cJSON_AddStringToObject(o, "bound", bound);
        char *s = cJSON_Print(o);
        cJSON_Delete(o);
        if (s)
            puts(s);
        cJSON_free(s);
    } else {
        printf("%lld x %lld x %lld %s on %s (gemm.model %s%s%s): %.3f us, %.1f TFLOP/s of "
               "%.0f peak, %s-bound (roofline)\n",
               (long long)m, (long long)n, (long long)kk, dtype, c.cluster.gpu, c.gemm.model,
               calibrated ? ", calibrated from " : "", calibrated ? c.gemm.calibration : "",
               t * 1e6, flops / t / 1e12, peak / 1e12, bound);
    }
done:
    sim_free(sets);
    return rc;
}
