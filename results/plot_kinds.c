/* results/plot_kinds.c: the plot kinds beyond the breakdown: expert load of one layer,
 * the layer x expert load heatmap, a metric against a swept scenario key, the timeline of a
 * step and the busiest links. Each reads the database read-only, writes its data to the
 * private temporary directory that res_plot_render provides, and emits the gnuplot
 * commands. Titles name the scenario and what tells the run apart from the others in the
 * database (results/runkeys.h). */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/db.h"
#include "results/plot.h"
#include "results/runkeys.h"
#include "sim/alloc.h"

typedef struct kind_ctx {
    sqlite3 *h;
    const char *db_path;
    int64_t run_id;
    char run_name[128];
    int layer, n_layers, n_experts, step;
    const char *metric, *x_key, *by_key;
    res_runs keys;                   /* every run's keys: titles */
} kind_ctx;

/* "WHAT: SCENARIO, run N (layers=4, capacity_factor=1.25)" for the run being drawn. */
static void run_title(const kind_ctx *k, const char *what, char *buf, size_t n)
{
    char label[200] = "";
    const res_run_info *info = res_runs_find(&k->keys, k->run_id);
    if (info)
        res_runs_label(&k->keys, info, ", ", 4, 0, label, sizeof label);
    snprintf(buf, n, "%s: %s, run %lld%s%s%s", what, k->run_name, (long long)k->run_id,
             label[0] ? " (" : "", label, label[0] ? ")" : "");
}

static sim_status open_data(const char *tmp_dir, const char *name, char *path, size_t n,
                            FILE **f, sim_err *err)
{
    snprintf(path, n, "%s/%s", tmp_dir, name);
    *f = fopen(path, "w");
    if (!*f)
        return sim_err_set(err, SIM_EIO, "%s: cannot create: %s", path, strerror(errno));
    return SIM_OK;
}

static sim_status close_data(FILE *f, const char *path, sim_err *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return sim_err_set(err, SIM_EIO, "%s: cannot write", path);
    return SIM_OK;
}

/* Opens data file `name` under tmp_dir and prepares `sql` with ?1 bound to the run being
 * drawn; on failure nothing stays open. */
static sim_status open_query(kind_ctx *k, const char *tmp_dir, const char *name, const char *sql,
                             char *path, size_t n, FILE **f, sqlite3_stmt **st, sim_err *err)
{
    sim_status s = open_data(tmp_dir, name, path, n, f, err);
    if (s != SIM_OK)
        return s;
    if (sqlite3_prepare_v2(k->h, sql, -1, st, NULL) != SQLITE_OK) {
        fclose(*f);
        return sim_err_set(err, SIM_EDB, "%s: %s", k->db_path, sqlite3_errmsg(k->h));
    }
    sqlite3_bind_int64(*st, 1, k->run_id);
    return SIM_OK;
}

/* Picks the run (latest when run_id is 0) and reads its shape. */
static sim_status pick_run(kind_ctx *k, sim_err *err)
{
    sqlite3_stmt *st;
    const char *sql = k->run_id ? "SELECT id, name, n_layers, n_experts FROM runs WHERE id = ?1"
                                : "SELECT id, name, n_layers, n_experts FROM runs "
                                  "ORDER BY id DESC LIMIT 1";
    if (sqlite3_prepare_v2(k->h, sql, -1, &st, NULL) != SQLITE_OK)
        return sim_err_set(err, SIM_EDB, "%s: %s", k->db_path, sqlite3_errmsg(k->h));
    if (k->run_id)
        sqlite3_bind_int64(st, 1, k->run_id);
    sim_status s = SIM_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        k->run_id = sqlite3_column_int64(st, 0);
        snprintf(k->run_name, sizeof k->run_name, "%s", sqlite3_column_text(st, 1));
        k->n_layers = sqlite3_column_int(st, 2);
        k->n_experts = sqlite3_column_int(st, 3);
    } else if (k->run_id) {
        s = sim_err_set(err, SIM_EINPUT, "%s: no run %lld", k->db_path, (long long)k->run_id);
    } else {
        s = sim_err_set(err, SIM_EINPUT, "%s: no runs in DB", k->db_path);
    }
    sqlite3_finalize(st);
    return s;
}

static double run_metric(kind_ctx *k, const char *name)
{
    sqlite3_stmt *st;
    double v = 0;
    if (sqlite3_prepare_v2(k->h, "SELECT value FROM metrics WHERE run_id = ?1 AND name = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, k->run_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---- load: tokens per expert in one layer ------------------------------------------- */

static sim_status load_body(void *ctx, const char *tmp_dir, FILE *script, sim_err *err)
{
    kind_ctx *k = ctx;
    char path[512];
    FILE *f;
    sqlite3_stmt *st;
    sim_status s = open_query(k, tmp_dir, "load.dat",
                              "SELECT expert, avg(tokens), avg(coalesce(dropped, 0)) FROM "
                              "expert_load WHERE run_id = ?1 AND layer = ?2 GROUP BY expert "
                              "ORDER BY expert", path, sizeof path, &f, &st, err);
    if (s != SIM_OK)
        return s;
    sqlite3_bind_int(st, 2, k->layer);
    int rows = 0;
    double total = 0;
    fputs("# expert\tkept tokens\tdropped tokens (mean over steps)\n", f);
    while (sqlite3_step(st) == SQLITE_ROW) {
        double kept = sqlite3_column_double(st, 1), drop = sqlite3_column_double(st, 2);
        fprintf(f, "%d\t%.10g\t%.10g\n", sqlite3_column_int(st, 0), kept, drop);
        total += kept + drop;
        rows++;
    }
    sqlite3_finalize(st);
    s = close_data(f, path, err);
    if (s != SIM_OK)
        return s;
    if (rows == 0)
        return sim_err_set(err, SIM_EINPUT, "%s: run %lld has no expert loads for layer %d",
                           k->db_path, (long long)k->run_id, k->layer);
    double cap = run_metric(k, "expert_capacity"), mean = total / rows;
    fprintf(script, "set title ");
    char title[400], what[64];
    snprintf(what, sizeof what, "Expert load, layer %d", k->layer);
    run_title(k, what, title, sizeof title);
    res_gnuplot_quote(script, title);
    fputs("\nset xlabel 'expert'\nset ylabel 'token assignments per step (mean over steps)'\n"
          "set style data histograms\nset style histogram rowstacked\n"
          "set style fill solid 0.9 border rgb '#404040'\nset boxwidth 0.8 relative\n"
          "set key outside right top vertical Left reverse\n"
          "set grid ytics lc rgb '#d0d0d0'\nset border 3\nset ytics nomirror\n"
          "set xtics nomirror scale 0\nset yrange [0:*]\n",
          script);
    /* a label on every expert up to 32, then on every 2nd, 4th, 5th, 8th, 10th, 16th, ...
     * so that at most 32 two-digit or 20 three-digit labels stand under the bars (64
     * experts: every 2nd; 128: every 8th; 256: every 16th) */
    static const int nice[] = {1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 256, 512};
    int every = 1, most = rows > 100 ? 20 : 32;
    for (size_t i = 0; i < sizeof nice / sizeof nice[0] && (rows + every - 1) / every > most; i++)
        every = nice[i];
    fprintf(script, "mean = %.10g\ncap = %.10g\n", mean, cap);
    fputs("plot ", script);
    res_gnuplot_quote(script, path);
    fprintf(script, " using 2:xtic(int($1) %% %d == 0 ? stringcolumn(1) : '') title 'kept' "
                    "lc rgb '#4E79A7', '' using 3 title 'dropped' lc rgb '#E15759', mean with "
                    "lines dt 2 lw 2 lc rgb '#404040' title 'mean'", every);
    if (cap > 0)
        fputs(", cap with lines lw 2 lc rgb '#F28E2B' title 'capacity'", script);
    fputc('\n', script);
    return SIM_OK;
}

/* ---- heatmap: layer x expert ------------------------------------------------------- */

static sim_status heatmap_body(void *ctx, const char *tmp_dir, FILE *script, sim_err *err)
{
    kind_ctx *k = ctx;
    char path[512];
    FILE *f;
    sqlite3_stmt *st;
    sim_status s = open_query(k, tmp_dir, "heat.dat",
                              "SELECT layer, expert, avg(tokens + coalesce(dropped, 0)) FROM "
                              "expert_load WHERE run_id = ?1 GROUP BY layer, expert "
                              "ORDER BY layer, expert", path, sizeof path, &f, &st, err);
    if (s != SIM_OK)
        return s;
    int rows = 0, last_layer = -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int layer = sqlite3_column_int(st, 0);
        if (last_layer >= 0 && layer != last_layer)
            fputc('\n', f);                /* gnuplot: blank line between scan lines */
        last_layer = layer;
        fprintf(f, "%d\t%d\t%.10g\n", sqlite3_column_int(st, 1), layer,
                sqlite3_column_double(st, 2));
        rows++;
    }
    sqlite3_finalize(st);
    s = close_data(f, path, err);
    if (s != SIM_OK)
        return s;
    if (rows == 0)
        return sim_err_set(err, SIM_EINPUT, "%s: run %lld has no expert loads", k->db_path,
                           (long long)k->run_id);
    char title[400];
    run_title(k, "Routed load per expert and layer", title, sizeof title);
    fputs("set title ", script);
    res_gnuplot_quote(script, title);
    fprintf(script,
            "\nset xlabel 'expert'\nset ylabel 'layer'\n"
            "set cblabel 'token assignments per step (routed, incl. dropped)'\n"
            "set palette defined (0 '#ffffff', 1 '#4E79A7', 2 '#E15759')\n"
            "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\nset cbrange [*:*]\n"
            "set tics out nomirror\nunset key\nplot ",
            k->n_experts - 1, k->n_layers - 1);
    res_gnuplot_quote(script, path);
    fputs(" using 1:2:3 with image\n", script);
    return SIM_OK;
}

/* ---- sweep: a metric against a swept key ------------------------------------------- */

typedef struct sweep_pt {
    char x[128], by[192];
    double xv, y;
    int n;                             /* runs averaged into this point */
} sweep_pt;

static int cmp_pt(const void *a, const void *b)
{
    const sweep_pt *p = a, *q = b;
    int c = strcmp(p->by, q->by);
    if (c)
        return c;
    return (p->xv > q->xv) - (p->xv < q->xv);
}

/* How a metric reads: seconds in ms, bytes in GB; the name without its unit suffix. */
static double metric_unit(const char *metric, char *label, size_t n)
{
    size_t len = strlen(metric);
    static const struct { const char *suffix, *unit; double scale; } units[] = {
        {"_s", "ms", 1e3}, {"_bytes", "GB", 1e-9}, {"_percent", "%", 1}, {"_usd", "USD", 1},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t sl = strlen(units[i].suffix);
        if (len > sl && strcmp(metric + len - sl, units[i].suffix) == 0) {
            snprintf(label, n, "%.*s (%s)", (int)(len - sl), metric, units[i].unit);
            return units[i].scale;
        }
    }
    snprintf(label, n, "%s", metric);
    return 1;
}

static sim_status sweep_body(void *ctx, const char *tmp_dir, FILE *script, sim_err *err)
{
    kind_ctx *k = ctx;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(k->h,
                           "SELECT r.id, m.value FROM runs r JOIN metrics m "
                           "ON m.run_id = r.id AND m.name = ?1 ORDER BY r.id",
                           -1, &st, NULL) != SQLITE_OK)
        return sim_err_set(err, SIM_EDB, "%s: %s", k->db_path, sqlite3_errmsg(k->h));
    sqlite3_bind_text(st, 1, k->metric, -1, SQLITE_STATIC);
    char ylabel[160];
    double scale = metric_unit(k->metric, ylabel, sizeof ylabel);
    size_t n = 0, cap = 0;
    sweep_pt *pts = NULL;
    int numeric_x = 1, averaged = 0, multi = k->keys.n_names > 1;
    sim_status s = SIM_OK;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const res_run_info *info = res_runs_find(&k->keys, sqlite3_column_int64(st, 0));
        const char *xv = info ? res_run_value(info, k->x_key) : NULL;
        const char *bv = info && k->by_key ? res_run_value(info, k->by_key) : "";
        if (!xv || !bv)
            continue;
        sweep_pt p = {.y = sqlite3_column_double(st, 1) * scale, .n = 1};
        snprintf(p.x, sizeof p.x, "%s", xv);
        /* one line per value of --by, and per scenario when the database has several */
        snprintf(p.by, sizeof p.by, "%s%s%s%s%s", multi ? info->name : "",
                 multi && k->by_key ? ", " : "", k->by_key ? k->by_key : "",
                 k->by_key ? " = " : "", bv);
        char *end;
        p.xv = strtod(p.x, &end);
        if (*end || end == p.x)
            numeric_x = 0;
        /* several runs of one point (seeds, say): their mean */
        size_t j = 0;
        while (j < n && (strcmp(pts[j].x, p.x) || strcmp(pts[j].by, p.by)))
            j++;
        if (j < n) {
            pts[j].y += (p.y - pts[j].y) / ++pts[j].n;
            averaged = 1;
            continue;
        }
        if (sim_grow((void **)&pts, &cap, n + 1, sizeof *pts)) {
            s = sim_err_set(err, SIM_ENOMEM, "out of memory");
            break;
        }
        pts[n++] = p;
    }
    sqlite3_finalize(st);
    if (s == SIM_OK && n == 0)
        s = sim_err_set(err, SIM_EINPUT, "%s: no run has both metric %s and key %s%s%s",
                        k->db_path, k->metric, k->x_key, k->by_key ? " and " : "",
                        k->by_key ? k->by_key : "");
    if (s != SIM_OK) {
        sim_free(pts);
        return s;
    }
    if (!numeric_x)                     /* categorical x: order of first appearance */
        for (size_t i = 0; i < n; i++) {
            pts[i].xv = (double)i;
            for (size_t j = 0; j < i; j++)
                if (strcmp(pts[j].x, pts[i].x) == 0) {
                    pts[i].xv = pts[j].xv;
                    break;
                }
        }
    qsort(pts, n, sizeof *pts, cmp_pt);
    char path[512];
    FILE *f;
    s = open_data(tmp_dir, "sweep.dat", path, sizeof path, &f, err);
    if (s != SIM_OK) {
        sim_free(pts);
        return s;
    }
    int n_lines = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(pts[i].by, pts[i - 1].by) != 0) {
            if (i)
                fputs("\n\n", f);          /* a new gnuplot data block per line */
            n_lines++;
        }
        fprintf(f, "%.10g\t%.10g\t%s\n", pts[i].xv, pts[i].y, pts[i].x);
    }
    s = close_data(f, path, err);
    if (s == SIM_OK) {
        char names[160], title[600];
        res_runs_names(&k->keys, names, sizeof names);
        snprintf(title, sizeof title, "%s vs %s%s%s: scenario%s %s%s", ylabel, k->x_key,
                 k->by_key ? ", a line per " : "", k->by_key ? k->by_key : "",
                 k->keys.n_names == 1 ? "" : "s", names,
                 averaged ? " (a point: the mean of its runs)" : "");
        fputs("set title ", script);
        res_gnuplot_quote(script, title);
        fputs("\nset xlabel ", script);
        res_gnuplot_quote(script, k->x_key);
        fputs("\nset ylabel ", script);
        res_gnuplot_quote(script, ylabel);
        fputs("\nset grid lc rgb '#d0d0d0'\nset border 3\nset tics nomirror\n"
              "set key outside right top vertical Left reverse\nset yrange [0:*]\n",
              script);
        if (!numeric_x)
            fputs("set xtics ()\nset offsets 0.3, 0.3, 0, 0\n", script);
        fputs("plot ", script);
        size_t first = 0;
        for (int l = 0; l < n_lines; l++) {
            size_t end = first;
            while (end < n && strcmp(pts[end].by, pts[first].by) == 0)
                end++;
            if (l)
                fputs(", ", script);
            res_gnuplot_quote(script, path);
            fprintf(script, " index %d using 1:2%s with linespoints pt 7 lw 2 title ", l,
                    numeric_x ? "" : ":xtic(3)");
            res_gnuplot_quote(script, pts[first].by[0] ? pts[first].by : ylabel);
            first = end;
        }
        fputc('\n', script);
    }
    sim_free(pts);
    return s;
}

/* ---- timeline: a Gantt chart of one step ------------------------------------------- */

static const char *const tl_palette[] = {
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
};

static sim_status timeline_body(void *ctx, const char *tmp_dir, FILE *script, sim_err *err)
{
    kind_ctx *k = ctx;
    char path[512];
    FILE *f;
    sim_status s = open_data(tmp_dir, "timeline.dat", path, sizeof path, &f, err);
    if (s != SIM_OK)
        return s;
    /* one data block per category: compute boxes and send strips */
    sqlite3_stmt *cats, *st;
    if (sqlite3_prepare_v2(k->h, "SELECT DISTINCT category_index, category FROM breakdown "
                                 "WHERE run_id = ?1 ORDER BY category_index", -1, &cats, NULL) ||
        sqlite3_prepare_v2(k->h, "SELECT gpu, stream, start_s, end_s FROM task_spans "
                                 "WHERE run_id = ?1 AND step = 0 AND category_index = ?2",
                           -1, &st, NULL)) {
        fclose(f);
        return sim_err_set(err, SIM_EDB, "%s: %s", k->db_path, sqlite3_errmsg(k->h));
    }
    sqlite3_bind_int64(cats, 1, k->run_id);
    char names[16][64];
    int colour[16];                    /* the category's index: the same colour everywhere */
    int n_cat = 0, rows = 0, max_gpu = 0;
    double end = 0;
    while (n_cat < 16 && sqlite3_step(cats) == SQLITE_ROW) {
        int index = sqlite3_column_int(cats, 0), cat_rows = 0;
        snprintf(names[n_cat], sizeof names[n_cat], "%s", sqlite3_column_text(cats, 1));
        colour[n_cat] = index;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, k->run_id);
        sqlite3_bind_int(st, 2, index);
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (cat_rows == 0)
                fprintf(f, "# %s\n", names[n_cat]);
            int g = sqlite3_column_int(st, 0), stream = sqlite3_column_int(st, 1);
            double a = sqlite3_column_double(st, 2) * 1e3, b = sqlite3_column_double(st, 3) * 1e3;
            /* compute: a box 0.5 high centred on the row; sends: a thin strip above it (the
             * y axis runs downwards: GPU 0 on top, so above is the smaller y) */
            double lo = stream ? g - 0.42 : g - 0.25, hi = stream ? g - 0.3 : g + 0.25;
            fprintf(f, "%.9g %.9g %.9g %.9g\n", a, b, lo, hi);
            max_gpu = g > max_gpu ? g : max_gpu;
            end = b > end ? b : end;
            cat_rows++;
        }
        if (cat_rows == 0)             /* never drawn: not in the legend either */
            continue;
        fputs("\n\n", f);              /* one data block per category drawn */
        rows += cat_rows;
        n_cat++;
    }
    sqlite3_finalize(cats);
    sqlite3_finalize(st);
    s = close_data(f, path, err);
    if (s != SIM_OK)
        return s;
    if (rows == 0)
        return sim_err_set(err, SIM_EINPUT,
                           "%s: run %lld has no timeline (written by a moesim before schema 3?)",
                           k->db_path, (long long)k->run_id);
    char title[400];
    run_title(k, "Step 0 timeline", title, sizeof title);
    fputs("set title ", script);
    res_gnuplot_quote(script, title);
    fprintf(script,
            "\nset xlabel 'time in the step (ms); boxes: compute, thin strips above: messages "
            "sent'\nset ylabel 'GPU'\n"
            "set yrange [%d.5:-0.7]\nset xrange [0:%.9g]\nset ytics 1\nset mytics 1\n"
            "set grid xtics lc rgb '#e0e0e0'\nset border 3\nset tics out nomirror\n"
            "set style fill solid 1.0 noborder\n"
            "set key outside right top vertical Left reverse title 'category'\nplot ",
            max_gpu, end * 1.001);
    for (int c = 0; c < n_cat; c++) {
        if (c)
            fputs(", ", script);
        res_gnuplot_quote(script, path);
        fprintf(script, " index %d using (($1+$2)/2):(($3+$4)/2):1:2:3:4 with boxxyerror "
                        "lc rgb '%s' title ", c, tl_palette[colour[c] % 10]);
        res_gnuplot_quote(script, names[c]);
    }
    fputc('\n', script);
    return SIM_OK;
}

/* ---- links: the busiest links of one step ------------------------------------------ */

static sim_status links_body(void *ctx, const char *tmp_dir, FILE *script, sim_err *err)
{
    kind_ctx *k = ctx;
    char path[512];
    FILE *f;
    sqlite3_stmt *st;
    sim_status s = open_query(k, tmp_dir, "links.dat",
                              "SELECT l.link, l.bytes, l.busy_s, l.capacity_bytes_per_s, "
                              "s.step_time_s FROM link_util l JOIN steps s ON s.run_id = "
                              "l.run_id AND s.step = l.step WHERE l.run_id = ?1 AND l.step = ?2 "
                              "ORDER BY l.rank", path, sizeof path, &f, &st, err);
    if (s != SIM_OK)
        return s;
    sqlite3_bind_int(st, 2, k->step);
    /* row i: busy percent of the step, GB carried, how full it ran while busy, the name */
    int rows = 0, widest = 4;
    double max_busy = 0;
    fputs("# rank\tbusy % of the step\tGB\tpercent of capacity while busy\tlink\n", f);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        double bytes = sqlite3_column_double(st, 1), busy = sqlite3_column_double(st, 2);
        double capacity = sqlite3_column_double(st, 3), step_s = sqlite3_column_double(st, 4);
        double pct = step_s > 0 ? 100 * busy / step_s : 0;
        double full = busy > 0 && capacity > 0 ? 100 * bytes / (capacity * busy) : 0;
        char shown[48];                /* a tab or newline in a name would break the file */
        snprintf(shown, sizeof shown, "%s", name ? name : "");
        for (char *c = shown; *c; c++)
            if ((unsigned char)*c < 0x20)
                *c = ' ';
        fprintf(f, "%d\t%.10g\t%.10g\t%.10g\t%s\n", rows, pct, bytes / 1e9, full, shown);
        max_busy = pct > max_busy ? pct : max_busy;
        widest = (int)strlen(shown) > widest ? (int)strlen(shown) : widest;
        rows++;
    }
    sqlite3_finalize(st);
    s = close_data(f, path, err);
    if (s != SIM_OK)
        return s;
    if (rows == 0)
        return sim_err_set(err, SIM_EINPUT,
                           "%s: run %lld has no link usage for step %d (the step reports its "
                           "busiest links only when the network model tracks them)",
                           k->db_path, (long long)k->run_id, k->step);
    char title[400], what[64];
    snprintf(what, sizeof what, "Busiest links, step %d", k->step);
    run_title(k, what, title, sizeof title);
    fputs("set title ", script);
    res_gnuplot_quote(script, title);
    /* horizontal bars, the busiest on top; each labelled with what it carried */
    double xmax = max_busy > 0 ? (max_busy * 1.3 < 100 ? max_busy * 1.3 : 115) : 1;
    fprintf(script,
            "\nset datafile separator tab\n"
            "set xlabel 'busy (%% of the step time; label: GB carried, %% of capacity while "
            "busy)'\nset ylabel 'link'\n"
            "set yrange [%d.6:-0.6]\nset xrange [0:%.6g]\n"
            "set ytics nomirror scale 0\nset xtics nomirror\nset border 3\n"
            "set grid xtics lc rgb '#e0e0e0'\nset style fill solid 0.9 border rgb '#404040'\n"
            "set lmargin %d\nunset key\nplot ",
            rows - 1, xmax, widest + 4);
    res_gnuplot_quote(script, path);
    fputs(" using ($2/2):1:(0):($2):($1-0.35):($1+0.35):ytic(5) with boxxyerror "
          "lc rgb '#4E79A7', '' using 2:1:(sprintf(' %.3g GB, %.0f%%', $3, $4)) with labels "
          "left font ',9'\n",
          script);
    return SIM_OK;
}

/* ---- entry points ------------------------------------------------------------------ */

static sim_status with_db(const char *db_path, const char *out_path, kind_ctx *k, int need_run,
                          res_plot_body_fn *body, sim_err *err)
{
    res_db *db = NULL;
    sim_status s = res_db_open_readonly(db_path, &db, err);
    if (s != SIM_OK)
        return s;
    k->h = res_db_handle(db);
    k->db_path = db_path;
    s = res_runs_load(k->h, db_path, &k->keys, err);
    if (s == SIM_OK && need_run)
        s = pick_run(k, err);
    if (s == SIM_OK && need_run == 2 && (k->layer < 0 || k->layer >= k->n_layers))
        s = sim_err_set(err, SIM_EINPUT, "--layer: expected 0 to %d for run %lld (got %d)",
                        k->n_layers - 1, (long long)k->run_id, k->layer);
    if (s == SIM_OK)
        s = res_plot_render(out_path, body, k, err);
    res_runs_fini(&k->keys);
    res_db_close(db);
    return s;
}

sim_status res_plot_load(const char *db_path, int64_t run_id, int layer, const char *out_path,
                         sim_err *err)
{
    kind_ctx k = {.run_id = run_id, .layer = layer};
    return with_db(db_path, out_path, &k, 2, load_body, err);
}

sim_status res_plot_heatmap(const char *db_path, int64_t run_id, const char *out_path,
                            sim_err *err)
{
    kind_ctx k = {.run_id = run_id};
    return with_db(db_path, out_path, &k, 1, heatmap_body, err);
}

sim_status res_plot_sweep(const char *db_path, const char *metric, const char *x_key,
                          const char *by_key, const char *out_path, sim_err *err)
{
    kind_ctx k = {.metric = metric, .x_key = x_key, .by_key = by_key};
    return with_db(db_path, out_path, &k, 0, sweep_body, err);
}

sim_status res_plot_links(const char *db_path, int64_t run_id, int step, const char *out_path,
                          sim_err *err)
{
    kind_ctx k = {.run_id = run_id, .step = step};
    return with_db(db_path, out_path, &k, 1, links_body, err);
}

sim_status res_plot_timeline(const char *db_path, int64_t run_id, const char *out_path,
                             sim_err *err)
{
    kind_ctx k = {.run_id = run_id};
    return with_db(db_path, out_path, &k, 1, timeline_body, err);
}
