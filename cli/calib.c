/* cli/calib.c: reading a GEMM calibration table (gemm.calibration) with sim/csv.h into the
 * plain array models/gemm.h interpolates in.
 *
 * Format (docs/MODEL.md, "Calibration table"): a header line `m,n,k,dtype,time_us`, then one
 * measured GEMM per line: sizes as integers >= 1, dtype `bf16` or `fp8`, the kernel time in
 * microseconds (> 0, without launch overhead). '#' lines are comments. */
#include <string.h>

#include "cli/cli.h"
#include "sim/alloc.h"
#include "sim/csv.h"

static const char *const calib_cols[] = {"m", "n", "k", "dtype", "time_us"};

sim_status cli_load_gemm_calib(const char *path, gemm_calib *out, sim_err *err)
{
    sim_csv *csv = NULL;
    sim_status st = sim_csv_open(path, &csv, err);
    if (st != SIM_OK)
        return st;
    gemm_calib_point *pts = NULL;
    size_t n = 0, cap = 0;
    int nf, r, header = 1;
    char **f;
    while ((r = sim_csv_next(csv, &nf, &f, err)) == 1) {
        if (nf != 5) {
            st = sim_err_set(err, SIM_EINPUT, "%s:%d: expected 5 columns (m,n,k,dtype,time_us), "
                             "got %d", path, sim_csv_line(csv), nf);
            goto fail;
        }
        if (header) {
            header = 0;
            for (int i = 0; i < 5; i++)
                if (strcmp(f[i], calib_cols[i]) != 0) {
                    st = sim_err_set(err, SIM_EINPUT, "%s:%d: expected the header "
                                     "m,n,k,dtype,time_us (column %d is \"%.32s\")",
                                     path, sim_csv_line(csv), i + 1, f[i]);
                    goto fail;
                }
            continue;
        }
        gemm_calib_point p;
        double us;
        if (sim_csv_int64(csv, f[0], "m", 1, INT64_C(1) << 40, &p.m, err) ||
            sim_csv_int64(csv, f[1], "n", 1, INT64_C(1) << 40, &p.n, err) ||
            sim_csv_int64(csv, f[2], "k", 1, INT64_C(1) << 40, &p.k, err)) {
            st = SIM_EINPUT;
            goto fail;
        }
        if (strcmp(f[3], "bf16") == 0) {
            p.dtype_bytes = 2;
        } else if (strcmp(f[3], "fp8") == 0) {
            p.dtype_bytes = 1;
        } else {
            st = sim_err_set(err, SIM_EINPUT, "%s:%d: column dtype: expected bf16 or fp8 "
                             "(got \"%.32s\")", path, sim_csv_line(csv), f[3]);
            goto fail;
        }
        if (sim_csv_double(csv, f[4], "time_us", 1e-9, 1e12, &us, err)) {
            st = SIM_EINPUT;
            goto fail;
        }
        p.time_s = us * 1e-6;
        if (sim_grow((void **)&pts, &cap, n + 1, sizeof *pts)) {
            st = sim_err_set(err, SIM_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        pts[n++] = p;
    }
    if (r < 0) {
        st = SIM_EINPUT;
        goto fail;
    }
    if (n == 0) {
        st = sim_err_set(err, SIM_EINPUT, "%s: no measurements (expected the header "
                         "m,n,k,dtype,time_us and at least one line)", path);
        goto fail;
    }
    sim_csv_close(csv);
    out->pts = pts;
    out->n = n;
    gemm_calib_sort(out);
    for (size_t i = 1; i < n; i++)
        if (pts[i].dtype_bytes == pts[i - 1].dtype_bytes && pts[i].n == pts[i - 1].n &&
            pts[i].k == pts[i - 1].k && pts[i].m == pts[i - 1].m) {
            st = sim_err_set(err, SIM_EINPUT, "%s: the GEMM %lld x %lld x %lld %s is measured "
                             "twice", path, (long long)pts[i].m, (long long)pts[i].n,
                             (long long)pts[i].k, pts[i].dtype_bytes == 1 ? "fp8" : "bf16");
            sim_free(pts);
            out->pts = NULL;
            out->n = 0;
            return st;
        }
    return SIM_OK;
fail:
    sim_free(pts);
    sim_csv_close(csv);
    return st;
}
