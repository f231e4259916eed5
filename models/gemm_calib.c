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

/* A point's coordinate along dim: m (0) or k (2). */
static int64_t along(const gemm_calib_point *p, int dim) { return dim == 0 ? p->m : p->k; }

/* The measured points nearest to x = m (dim 0) or x = k (dim 2) from below and from above
 * among those of this dtype whose other two dimensions equal (n, k) or (m, n); NULL where
 * there is none. */
static void bracket(const gemm_calib *cal, int dim, int64_t m, int64_t n, int64_t k,
                    int dtype_bytes, const gemm_calib_point **below,
                    const gemm_calib_point **above)
{
    int64_t x = dim == 0 ? m : k;
    *below = *above = NULL;
    for (size_t i = 0; i < cal->n; i++) {
        const gemm_calib_point *p = &cal->pts[i];
        if (p->dtype_bytes != dtype_bytes || p->n != n || (dim == 0 ? p->k != k : p->m != m))
            continue;
        int64_t v = along(p, dim);
        if (v <= x && (!*below || v > along(*below, dim)))
            *below = p;
        if (v >= x && (!*above || v < along(*above, dim)))
            *above = p;
    }
}

double gemm_calib_time_s(const gemm_calib *cal, const gemm_model *gm, void *state,
                         const gemm_device *dev, int64_t m, int64_t n, int64_t k,
                         int dtype_bytes, int *used)
{
    if (used)
        *used = 0;
    if (m <= 0 || n <= 0 || k <= 0)
        return 0.0;
    const gemm_calib_point *lo = NULL, *hi = NULL;
    int dim = 0;
    if (cal) {   /* points varying in m (n, k fixed), else points varying in k (m, n fixed) */
        bracket(cal, 0, m, n, k, dtype_bytes, &lo, &hi);
        if (!lo && !hi) {
            dim = 2;
            bracket(cal, 2, m, n, k, dtype_bytes, &lo, &hi);
        }
    }
    if (!lo && !hi)
        return gm->time_s(state, dev, m, n, k, dtype_bytes);
    if (used)
        *used = 1;
    double t;
    if (lo && hi) {
        int64_t a = along(lo, dim), b = along(hi, dim);
        double f = b > a ? (double)((dim == 0 ? m : k) - a) / (double)(b - a) : 0.0;
        t = lo->time_s + f * (hi->time_s - lo->time_s);
    } else {     /* outside the measured range: the model scaled at the nearest point */
        const gemm_calib_point *near = lo ? lo : hi;
        double model_near = model_kernel_s(gm, state, dev, near->m, near->n, near->k,
                                           dtype_bytes);
        t = model_kernel_s(gm, state, dev, m, n, k, dtype_bytes) * near->time_s / model_near;
    }
    return t + dev->launch_s;
}
