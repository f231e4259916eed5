/* models/gemm_calib.c: measured GEMM times overriding a cost model by interpolation (see
 * models/gemm.h). The table is read by the command (cli/) with sim/csv.h; here it is data. */
#include <stdlib.h>

#include "models/gemm.h"

static int cmp_point(const void *a, const void *b)
{
    const gemm_calib_point *x = a, *y = b;
    if (x->dtype_bytes != y->dtype_bytes)
        return x->dtype_bytes < y->dtype_bytes ? -1 : 1;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->m != y->m)
        return x->m < y->m ? -1 : 1;
    return 0;
}

void gemm_calib_sort(gemm_calib *cal)
{
    if (cal && cal->n > 1)
        qsort(cal->pts, cal->n, sizeof *cal->pts, cmp_point);
}

/* model kernel time without the launch overhead */
static double model_kernel_s(const gemm_model *gm, void *state, const gemm_device *dev,
                             int64_t m, int64_t n, int64_t k, int dtype_bytes)
{
    return gm->time_s(state, dev, m, n, k, dtype_bytes) - dev->launch_s;
}

double gemm_calib_time_s(const gemm_calib *cal, const gemm_model *gm, void *state,
                         const gemm_device *dev, int64_t m, int64_t n, int64_t k,
                         int dtype_bytes, int *used)
{
    if (used)
        *used = 0;
    if (m <= 0 || n <= 0 || k <= 0)
        return 0.0;
    size_t lo = 0, hi = 0;
    if (cal) {       /* the run of points with this dtype, n and k */
        while (lo < cal->n && (cal->pts[lo].dtype_bytes != dtype_bytes || cal->pts[lo].n != n ||
                               cal->pts[lo].k != k))
            lo++;
        hi = lo;
        while (hi < cal->n && cal->pts[hi].dtype_bytes == dtype_bytes && cal->pts[hi].n == n &&
               cal->pts[hi].k == k)
            hi++;
    }
    if (hi == lo)
        return gm->time_s(state, dev, m, n, k, dtype_bytes);
    if (used)
        *used = 1;
    const gemm_calib_point *p = cal->pts;
    double t;
    if (m <= p[lo].m || m >= p[hi - 1].m) {
        const gemm_calib_point *near = m <= p[lo].m ? &p[lo] : &p[hi - 1];
        double model_near = model_kernel_s(gm, state, dev, near->m, n, k, dtype_bytes);
        t = model_kernel_s(gm, state, dev, m, n, k, dtype_bytes) * near->time_s / model_near;
    } else {
        size_t i = lo;
        while (p[i + 1].m < m)
            i++;
        double f = (double)(m - p[i].m) / (double)(p[i + 1].m - p[i].m);
        t = p[i].time_s + f * (p[i + 1].time_s - p[i].time_s);
    }
    return t + dev->launch_s;
}
