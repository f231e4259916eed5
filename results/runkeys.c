/* results/runkeys.c: each run's resolved keys, and the keys that tell runs apart. */
#include "results/runkeys.h"

#include <ini.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/alloc.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sim_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

typedef struct kv_build {
    res_kv *kv;
    size_t n, cap;
    int failed;
} kv_build;

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    kv_build *b = user;
    if (b->failed)
        return 0;
    size_t len = strlen(section) + strlen(name) + 2;
    char *key = sim_malloc(len), *val = dup_str(value);
    if (!key || !val || sim_grow((void **)&b->kv, &b->cap, b->n + 1, sizeof *b->kv)) {
        sim_free(key);
        sim_free(val);
        b->failed = 1;
        return 0;
    }
    snprintf(key, len, "%s.%s", section, name);
    b->kv[b->n++] = (res_kv){key, val};
    return 1;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const res_kv *)a)->key, ((const res_kv *)b)->key);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_kv(res_kv *kv, int n)
{
    for (int i = 0; i < n; i++) {
        sim_free(kv[i].key);
        sim_free(kv[i].value);
    }
    sim_free(kv);
}

void res_runs_fini(res_runs *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_runs; i++) {
        sim_free(r->runs[i].name);
        free_kv(r->runs[i].kv, r->runs[i].n_kv);
    }
    sim_free(r->runs);
    for (int i = 0; i < r->n_differing; i++)
        sim_free(r->differing[i]);
    sim_free(r->differing);
    sim_free(r->label_keys);         /* points into differing */
    memset(r, 0, sizeof *r);
}

const res_run_info *res_runs_find(const res_runs *r, int64_t id)
{
    int lo = 0, hi = r->n_runs - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (r->runs[mid].id == id)
            return &r->runs[mid];
        if (r->runs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const char *res_run_value(const res_run_info *r, const char *key)
{
    res_kv probe = {(char *)key, NULL};
    const res_kv *hit = bsearch(&probe, r->kv, (size_t)r->n_kv, sizeof *r->kv, cmp_kv);
    return hit ? hit->value : NULL;
}

/* Where `key` is first named in the sweep points ("k=v k2=w"): point index * 2^20 + offset
 * in it, so that sorting by it gives the sweeps' --set order; -1 if in none. */
static long point_rank(char **points, int n_points, const char *key)
{
    size_t len = strlen(key);
    for (int i = 0; i < n_points; i++)
        for (const char *p = points[i]; (p = strstr(p, key)) != NULL; p += len)
            if ((p == points[i] || p[-1] == ' ') && p[len] == '=')
                return (long)i * (1L << 20) + (long)(p - points[i]);
    return -1;
}

typedef struct ranked {
    char *key;
    long rank;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *p = a, *q = b;
    return (p->rank > q->rank) - (p->rank < q->rank);
}

static int same_value(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Are there two runs equal on every label key so far but different on `key`? */
static int tells_apart(const res_runs *r, const char *key)
{
    for (int a = 0; a < r->n_runs; a++)
        for (int b = a + 1; b < r->n_runs; b++) {
            int same = 1;
            for (int j = 0; j < r->n_label_keys && same; j++)
                same = same_value(res_run_value(&r->runs[a], r->label_keys[j]),
                                  res_run_value(&r->runs[b], r->label_keys[j]));
            if (same && !same_value(res_run_value(&r->runs[a], key),
                                    res_run_value(&r->runs[b], key)))
                return 1;
        }
    return 0;
}

/* The differing keys over all runs, then the label keys among them. */
static int find_differing(res_runs *r, char **points, int n_points)
{
    size_t n_all = 0;
    for (int i = 0; i < r->n_runs; i++)
        n_all += (size_t)r->runs[i].n_kv;
    char **all = sim_malloc((n_all ? n_all : 1) * sizeof *all);
    if (!all)
        return -1;
    size_t k = 0;
    for (int i = 0; i < r->n_runs; i++)
        for (int j = 0; j < r->runs[i].n_kv; j++)
            all[k++] = r->runs[i].kv[j].key;
    qsort(all, n_all, sizeof *all, cmp_str);
    r->differing = sim_malloc((n_all ? n_all : 1) * sizeof *r->differing);
    r->label_keys = sim_malloc((n_all ? n_all : 1) * sizeof *r->label_keys);
    if (!r->differing || !r->label_keys) {
        sim_free(all);
        return -1;
    }
    for (size_t i = 0; i < n_all; i++) {
        if (i > 0 && strcmp(all[i], all[i - 1]) == 0)
            continue;
        const char *first = res_run_value(&r->runs[0], all[i]);
        int differs = 0;
        for (int j = 1; j < r->n_runs && !differs; j++) {
            const char *v = res_run_value(&r->runs[j], all[i]);
            differs = !first || !v || strcmp(first, v) != 0;
        }
        if (!differs)
            continue;
        char *d = dup_str(all[i]);
        if (!d) {
            sim_free(all);
            return -1;
        }
        r->differing[r->n_differing++] = d;
    }
    sim_free(all);
    ranked *rk = sim_malloc((size_t)(r->n_differing ? r->n_differing : 1) * sizeof *rk);
    if (!rk)
        return -1;
    int n_rk = 0;
    for (int i = 0; i < r->n_differing; i++) {
        long at = point_rank(points, n_points, r->differing[i]);
        if (at >= 0)
            rk[n_rk++] = (ranked){r->differing[i], at};
    }
    qsort(rk, (size_t)n_rk, sizeof *rk, cmp_ranked);
    for (int i = 0; i < n_rk; i++)
        r->label_keys[r->n_label_keys++] = rk[i].key;
    sim_free(rk);
    if (r->n_label_keys == 0) {
        for (int i = 0; i < r->n_differing; i++)
            r->label_keys[r->n_label_keys++] = r->differing[i];
        return 0;
    }
    /* runs outside the sweeps (or of other sweeps) may share every sweep key's value and
     * differ elsewhere: add, in key order, each other differing key that tells two runs
     * apart that the label keys so far do not (quadratic in the runs: up to 500 of them) */
    for (int i = 0; i < r->n_differing && r->n_runs <= 500; i++) {
        const char *key = r->differing[i];
        int have = 0;
        for (int j = 0; j < r->n_label_keys && !have; j++)
            have = r->label_keys[j] == key;
        if (have || !tells_apart(r, key))
            continue;
        r->label_keys[r->n_label_keys++] = r->differing[i];
    }
    return 0;
}

/* Every distinct sweep point text, when the database has sweep_points (schema 4). */
static int load_points(sqlite3 *h, char ***out, int *n)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(h, "SELECT point FROM sweep_points GROUP BY point "
                              "ORDER BY min(rowid)", -1, &st, NULL) != SQLITE_OK)
        return 0;                    /* no such table: no points */
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char *p = dup_str((const char *)sqlite3_column_text(st, 0));
        if (!p || sim_grow((void **)out, &cap, (size_t)*n + 1, sizeof **out)) {
            sim_free(p);
            sqlite3_finalize(st);
            return -1;
        }
        (*out)[(*n)++] = p;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

sim_status res_runs_load(sqlite3 *h, const char *db_path, res_runs *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    sim_status s = SIM_OK;
    char **points = NULL;
    int n_points = 0;
    if (sqlite3_prepare_v2(h, "SELECT id, name, seed, resolved, "
                              "(SELECT count(DISTINCT name) FROM runs) FROM runs ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return sim_err_set(err, SIM_EDB, "%s: cannot read the runs: %s", db_path,
                           sqlite3_errmsg(h));
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sim_grow((void **)&out->runs, &cap, (size_t)out->n_runs + 1, sizeof *out->runs))
            goto fail_nomem;
        res_run_info *r = &out->runs[out->n_runs];
        memset(r, 0, sizeof *r);
        out->n_runs++;
        r->id = sqlite3_column_int64(st, 0);
        r->seed = sqlite3_column_int64(st, 2);
        out->n_names = sqlite3_column_int(st, 4);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *res = (const char *)sqlite3_column_text(st, 3);
        r->name = dup_str(name ? name : "");
        if (!r->name)
            goto fail_nomem;
        kv_build b = {0};
        ini_parse_string(res ? res : "", on_key, &b);
        r->kv = b.kv;
        r->n_kv = (int)b.n;
        if (b.failed)
            goto fail_nomem;
        qsort(r->kv, b.n, sizeof *r->kv, cmp_kv);
    }
    if (rc != SQLITE_DONE) {
        s = sim_err_set(err, SIM_EDB, "%s: cannot read the runs: %s", db_path, sqlite3_errmsg(h));
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (load_points(h, &points, &n_points) || find_differing(out, points, n_points))
        goto fail_nomem;
    goto done;

fail_nomem:
    s = sim_err_set(err, SIM_ENOMEM, "%s: out of memory reading the runs", db_path);
fail:
    res_runs_fini(out);
done:
    sqlite3_finalize(st);
    for (int i = 0; i < n_points; i++)
        sim_free(points[i]);
    sim_free(points);
    return s;
}

/* The short name of label key i: after the dot, unless another label key shares it. */
static const char *short_key(const res_runs *r, int i)
{
    const char *dot = strchr(r->label_keys[i], '.');
    const char *tail = dot ? dot + 1 : r->label_keys[i];
    for (int j = 0; j < r->n_label_keys; j++) {
        if (j == i)
            continue;
        const char *d = strchr(r->label_keys[j], '.');
        if (strcmp(d ? d + 1 : r->label_keys[j], tail) == 0)
            return r->label_keys[i];
    }
    return tail;
}

/* snprintf at the end of buf, never past n */
static void add(char *buf, size_t n, const char *fmt, const char *a, const char *b)
{
    size_t len = strlen(buf);
    if (len + 1 < n)
        snprintf(buf + len, n - len, fmt, a, b);
}

void res_runs_label(const res_runs *r, const res_run_info *run, const char *sep, int max_keys,
                    int flags, char *buf, size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    int shown = 0, skipped = 0;
    for (int i = 0; i < r->n_label_keys && shown < max_keys; i++, shown++) {
        if ((flags & RES_LABEL_NO_SEED) && strcmp(r->label_keys[i], "run.seed") == 0) {
            skipped = 1;
            shown--;
            continue;
        }
        const char *v = res_run_value(run, r->label_keys[i]);
        if (shown)
            add(buf, n, "%s%s", sep, "");
        if (flags & RES_LABEL_VALUES)
            add(buf, n, "%s%s", v ? v : "-", "");
        else
            add(buf, n, "%s=%s", short_key(r, i), v ? v : "-");
    }
    if (r->n_label_keys - skipped > shown) {
        char more[24];
        snprintf(more, sizeof more, "+%d", r->n_label_keys - skipped - shown);
        add(buf, n, "%s%s", shown ? sep : "", more);
    }
}

void res_runs_varying(const res_runs *r, int max_keys, char *buf, size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    int shown = 0;
    for (int i = 0; i < r->n_label_keys && shown < max_keys; i++, shown++)
        add(buf, n, "%s%s", shown ? ", " : "", short_key(r, i));
    if (r->n_label_keys > shown) {
        char more[32];
        snprintf(more, sizeof more, " and %d more", r->n_label_keys - shown);
        add(buf, n, "%s%s", more, "");
    }
}

void res_runs_names(const res_runs *r, char *buf, size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    int shown = 0;
    for (int i = 0; i < r->n_runs && shown < 3 && shown < r->n_names; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(r->runs[j].name, r->runs[i].name) == 0;
        if (seen)
            continue;
        add(buf, n, "%s%s", shown ? ", " : "", r->runs[i].name);
        shown++;
    }
    if (r->n_names > shown) {
        char more[32];
        snprintf(more, sizeof more, " and %d more", r->n_names - shown);
        add(buf, n, "%s%s", more, "");
    }
}
