/* results/plot.c: gnuplot pictures from the results database, and the machinery to draw
 * them (temporary directory, script, running gnuplot without a shell, atomic rename).
 *
 * Every string that comes from the database reaches gnuplot as a single-quoted literal
 * (res_gnuplot_quote), which gnuplot never expands: a run named "`rm -rf ~`" is text. */
#include "results/plot.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "results/db.h"
#include "results/runkeys.h"
#include "sim/alloc.h"

extern char **environ;

typedef enum { FMT_PNG, FMT_SVG } plot_format;

static const char *const terminal_line[] = {
    [FMT_PNG] = "set terminal pngcairo size 900,600 noenhanced font 'Sans,10' "
                "background rgb 'white'\n",
    [FMT_SVG] = "set terminal svg size 900,600 noenhanced font 'Sans,10' "
                "background rgb 'white'\n",
};

static sim_status format_of(const char *out_path, plot_format *fmt, sim_err *err)
{
    size_t n = strlen(out_path);
    if (n > 4 && strcasecmp(out_path + n - 4, ".png") == 0)
        *fmt = FMT_PNG;
    else if (n > 4 && strcasecmp(out_path + n - 4, ".svg") == 0)
        *fmt = FMT_SVG;
    else
        return sim_err_set(err, SIM_EINPUT, "%s: expected an output file ending in .png or .svg",
                           out_path);
    /* A gnuplot script is line-based; such a name cannot be written into one. */
    if (strpbrk(out_path, "\n\r"))
        return sim_err_set(err, SIM_EINPUT, "output file name contains a line break");
    return SIM_OK;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = sim_malloc(a + 1 + b + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* A template "DIR/.BASE.XXXXXX" next to out_path, so the final rename() stays within one
 * file system. Relative paths get "./" so gnuplot sees no leading "~" to expand. */
static char *temp_template_next_to(const char *out_path)
{
    const char *slash = strrchr(out_path, '/');
    size_t dir_len = slash ? (size_t)(slash - out_path) + 1 : 0;
    const char *base = out_path + dir_len;
    const char *lead = out_path[0] == '/' ? "" : "./";
    size_t n = strlen(lead) + dir_len + 1 + strlen(base) + sizeof ".XXXXXX";
    char *t = sim_malloc(n);
    if (!t)
        return NULL;
    size_t k = strlen(lead);
    memcpy(t, lead, k);
    memcpy(t + k, out_path, dir_len);
    k += dir_len;
    t[k++] = '.';
    memcpy(t + k, base, strlen(base));
    k += strlen(base);
    memcpy(t + k, ".XXXXXX", sizeof ".XXXXXX");
    return t;
}

/* Removes the files in a directory this module created (no subdirectories), then it. */
static void remove_temp_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        }
        closedir(d);
    }
    rmdir(dir);
}

void res_gnuplot_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\'')
            fputs("''", f);
        else if (ch < 0x20 || ch == 0x7f)
            fputc(' ', f);
        else
            fputc(ch, f);
    }
    fputc('\'', f);
}

/* Keeps the last bytes of gnuplot's output for the error message. */
typedef struct out_tail {
    char buf[640];
    size_t len;
} out_tail;

static void tail_append(out_tail *t, const char *p, size_t n)
{
    size_t cap = sizeof t->buf - 1;
    if (n >= cap) {
        memcpy(t->buf, p + n - cap, cap);
        t->len = cap;
    } else {
        if (t->len + n > cap) {
            size_t drop = t->len + n - cap;
            memmove(t->buf, t->buf + drop, t->len - drop);
            t->len -= drop;
        }
        memcpy(t->buf + t->len, p, n);
        t->len += n;
    }
    t->buf[t->len] = '\0';
}

/* Folds whitespace and control characters into single spaces, trimmed, in place. */
static const char *tail_text(out_tail *t)
{
    size_t k = 0;
    int space = 1;
    for (size_t i = 0; i < t->len; i++) {
        unsigned char ch = (unsigned char)t->buf[i];
        if (ch <= 0x20 || ch == 0x7f) {
            if (!space)
                t->buf[k++] = ' ';
            space = 1;
        } else {
            t->buf[k++] = (char)ch;
            space = 0;
        }
    }
    while (k > 0 && t->buf[k - 1] == ' ')
        k--;
    t->buf[k] = '\0';
    t->len = k;
    return k ? t->buf : "(no output)";
}

sim_status res_gnuplot_run(const char *script_path, sim_err *err)
{
    assert(script_path);
    sim_status s = SIM_OK;
    int fds[2];
    if (pipe(fds) != 0)
        return sim_err_set(err, SIM_EIO, "cannot start gnuplot: %s", strerror(errno));
    /* Close-on-exec, so other children never inherit them; dup2 in the child makes
     * its own stdout and stderr without the flag. */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);

    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        s = sim_err_set(err, SIM_EIO, "cannot start gnuplot: %s", strerror(rc));
        goto fail_close_pipe;
    }
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, fds[1], 1)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, fds[1], 2)) != 0) {
        s = sim_err_set(err, SIM_EIO, "cannot start gnuplot: %s", strerror(rc));
        goto fail_destroy_actions;
    }
    char *argv[] = {"gnuplot", (char *)script_path, NULL};
    pid_t pid;
    rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    if (rc == ENOENT) {
        s = sim_err_set(err, SIM_EIO, "gnuplot not found: install gnuplot-nox");
        goto fail_destroy_actions;
    }
    if (rc != 0) {
        s = sim_err_set(err, SIM_EIO, "cannot start gnuplot: %s", strerror(rc));
        goto fail_destroy_actions;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);

    out_tail tail = {.len = 0};
    char buf[1024];
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        tail_append(&tail, buf, (size_t)n);
    }
    close(fds[0]);

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return sim_err_set(err, SIM_EIO, "waiting for gnuplot: %s", strerror(errno));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return SIM_OK;
    /* 127 with no output: the exec failed in the child (older spawn implementations). */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && tail.len == 0)
        return sim_err_set(err, SIM_EIO, "gnuplot not found: install gnuplot-nox");
    if (WIFEXITED(status))
        return sim_err_set(err, SIM_EIO, "gnuplot failed on %s (exit %d): %s", script_path,
                           WEXITSTATUS(status), tail_text(&tail));
    return sim_err_set(err, SIM_EIO, "gnuplot killed by signal %d on %s: %s",
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0, script_path,
                       tail_text(&tail));

fail_destroy_actions:
    posix_spawn_file_actions_destroy(&fa);
fail_close_pipe:
    close(fds[0]);
    close(fds[1]);
    return s;
}

sim_status res_plot_render(const char *out_path, res_plot_body_fn *body, void *ctx,
                           sim_err *err)
{
    assert(out_path && body);
    plot_format fmt;
    sim_status s = format_of(out_path, &fmt, err);
    if (s != SIM_OK)
        return s;

    const char *tmp_base = getenv("TMPDIR");
    if (!tmp_base || !*tmp_base)
        tmp_base = "/tmp";
    char *tmp_dir = path_join(tmp_base, "moesim-plot-XXXXXX");
    if (!tmp_dir)
        return sim_err_set(err, SIM_ENOMEM, "%s: out of memory", out_path);
    if (!mkdtemp(tmp_dir)) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot create a temporary directory: %s", tmp_dir,
                        strerror(errno));
        goto fail_free_dir;
    }

    char *tmp_out = temp_template_next_to(out_path);
    if (!tmp_out) {
        s = sim_err_set(err, SIM_ENOMEM, "%s: out of memory", out_path);
        goto fail_remove_dir;
    }
    int fd = mkstemp(tmp_out);
    if (fd < 0) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot create a file next to it: %s", out_path,
                        strerror(errno));
        sim_free(tmp_out);
        goto fail_remove_dir;
    }
    /* mkstemp makes it 0600; a picture is for sharing. */
    fchmod(fd, 0644);
    close(fd);

    char *script_path = path_join(tmp_dir, "plot.gp");
    if (!script_path) {
        s = sim_err_set(err, SIM_ENOMEM, "%s: out of memory", out_path);
        goto fail_unlink_out;
    }
    FILE *script = fopen(script_path, "w");
    if (!script) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot create: %s", script_path, strerror(errno));
        goto fail_free_script_path;
    }
    fputs(terminal_line[fmt], script);
    fputs("set output ", script);
    res_gnuplot_quote(script, tmp_out);
    fputc('\n', script);
    s = body(ctx, tmp_dir, script, err);
    int write_failed = ferror(script);
    if (fclose(script) != 0)
        write_failed = 1;
    if (s != SIM_OK)
        goto fail_free_script_path;
    if (write_failed) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot write the gnuplot script", script_path);
        goto fail_free_script_path;
    }

    s = res_gnuplot_run(script_path, err);
    if (s != SIM_OK)
        goto fail_free_script_path;
    struct stat st;
    if (stat(tmp_out, &st) != 0 || st.st_size == 0) {
        s = sim_err_set(err, SIM_EIO, "%s: gnuplot wrote nothing", out_path);
        goto fail_free_script_path;
    }
    if (rename(tmp_out, out_path) != 0) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot move the picture into place: %s", out_path,
                        strerror(errno));
        goto fail_free_script_path;
    }
    sim_free(script_path);
    sim_free(tmp_out);
    remove_temp_dir(tmp_dir);
    sim_free(tmp_dir);
    return SIM_OK;

fail_free_script_path:
    sim_free(script_path);
fail_unlink_out:
    unlink(tmp_out);
    sim_free(tmp_out);
fail_remove_dir:
    remove_temp_dir(tmp_dir);
fail_free_dir:
    sim_free(tmp_dir);
    return s;
}

/* ---- the step-time breakdown ---- */

typedef struct bd_run {
    int64_t id;
    int64_t n_steps;                 /* rows in steps; the mean divides by it */
    char *name;
    int64_t point;                   /* position in a sweep (sweep_points), or -1 */
} bd_run;

typedef struct bd_data {
    int n_runs;
    bd_run *runs;                    /* ascending id */
    int *order;                      /* [n_runs]: bar b draws runs[order[b]]: the points of
                                        the largest sweep in its order, then the other runs */
    int n_cats;
    char **cats;                     /* stack order, bottom first */
    double *ms;                      /* [n_runs * n_cats]: mean ms per step */
    res_runs keys;                   /* what tells the runs apart (bar labels, title) */
} bd_data;

static void bd_fini(bd_data *d)
{
    for (int i = 0; i < d->n_runs; i++)
        sim_free(d->runs[i].name);
    for (int i = 0; i < d->n_cats; i++)
        sim_free(d->cats[i]);
    sim_free(d->runs);
    sim_free(d->order);
    sim_free(d->cats);
    sim_free(d->ms);
    res_runs_fini(&d->keys);
}

static char *dup_column(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    char *p = sim_malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, t, n);
    p[n] = '\0';
    return p;
}

static int find_run(const bd_data *d, int64_t id)
{
    int lo = 0, hi = d->n_runs - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (d->runs[mid].id == id)
            return mid;
        if (d->runs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int find_cat(const bd_data *d, const char *name)
{
    for (int i = 0; i < d->n_cats; i++)
        if (strcmp(d->cats[i], name) == 0)
            return i;
    return -1;
}

enum { Q_COUNT_RUNS, Q_RUNS, Q_COUNT_CATS, Q_CATS, Q_SUMS, Q_N };

static const char *const bd_sql[Q_N] = {
    [Q_COUNT_RUNS] = "SELECT count(*) FROM runs",
    /* the bar order: a run's position in the sweep with most points (the latest of equals),
     * then in any other sweep, then none (-1) */
    [Q_RUNS] = ("SELECT r.id, (SELECT count(*) FROM steps s WHERE s.run_id = r.id), r.name, "
                "coalesce((SELECT p.point_index FROM sweep_points p WHERE p.run_id = r.id AND "
                "p.sweep = (SELECT sweep FROM sweep_points GROUP BY sweep "
                "ORDER BY count(*) DESC, max(rowid) DESC LIMIT 1)), "
                "1000000000 + (SELECT min(p.point_index) FROM sweep_points p "
                "WHERE p.run_id = r.id), -1) FROM runs r ORDER BY r.id"),
    [Q_COUNT_CATS] = "SELECT count(DISTINCT category) FROM breakdown",
    /* Stack order: the categories' position in the runs' lists, ties by name. */
    [Q_CATS] = ("SELECT category FROM breakdown GROUP BY category "
                "ORDER BY min(category_index), category"),
    [Q_SUMS] = "SELECT run_id, category, sum(seconds) FROM breakdown GROUP BY run_id, category",
};

/* Reads everything the chart needs in one read transaction (one consistent snapshot). */
static sim_status bd_load(res_db *db, const char *db_path, bd_data *d, sim_err *err)
{
    sqlite3 *c = res_db_handle(db);
    sqlite3_stmt *st[Q_N] = {0};
    sim_status s = SIM_OK;
    int rc = sqlite3_exec(c, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail_sqlite;
    for (int i = 0; i < Q_N; i++) {
        rc = sqlite3_prepare_v2(c, bd_sql[i], -1, &st[i], NULL);
        if (rc != SQLITE_OK)
            goto fail_sqlite;
    }

    int64_t n_runs = 0, n_cats = 0;
    if ((rc = sqlite3_step(st[Q_COUNT_RUNS])) != SQLITE_ROW)
        goto fail_sqlite;
    n_runs = sqlite3_column_int64(st[Q_COUNT_RUNS], 0);
    if (n_runs == 0) {
        s = sim_err_set(err, SIM_EINPUT, "%s: no runs in DB", db_path);
        goto done;
    }
    if ((rc = sqlite3_step(st[Q_COUNT_CATS])) != SQLITE_ROW)
        goto fail_sqlite;
    n_cats = sqlite3_column_int64(st[Q_COUNT_CATS], 0);
    if (n_cats == 0) {
        s = sim_err_set(err, SIM_EINPUT, "%s: no step-time breakdown in DB", db_path);
        goto done;
    }
    if (n_runs > INT32_MAX / 2 || n_cats > 4096) {
        s = sim_err_set(err, SIM_EINPUT, "%s: too many runs or categories to draw", db_path);
        goto done;
    }

    d->runs = sim_calloc((size_t)n_runs, sizeof *d->runs);
    d->cats = sim_calloc((size_t)n_cats, sizeof *d->cats);
    d->ms = sim_calloc((size_t)n_runs * (size_t)n_cats, sizeof *d->ms);
    d->order = sim_calloc((size_t)n_runs, sizeof *d->order);
    if (!d->runs || !d->cats || !d->ms || !d->order)
        goto fail_nomem;

    while ((rc = sqlite3_step(st[Q_RUNS])) == SQLITE_ROW && d->n_runs < n_runs) {
        bd_run *r = &d->runs[d->n_runs];
        r->id = sqlite3_column_int64(st[Q_RUNS], 0);
        r->n_steps = sqlite3_column_int64(st[Q_RUNS], 1);
        r->name = dup_column(st[Q_RUNS], 2);
        r->point = sqlite3_column_int64(st[Q_RUNS], 3);
        if (!r->name)
            goto fail_nomem;
        d->n_runs++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto fail_sqlite;

    while ((rc = sqlite3_step(st[Q_CATS])) == SQLITE_ROW && d->n_cats < n_cats) {
        d->cats[d->n_cats] = dup_column(st[Q_CATS], 0);
        if (!d->cats[d->n_cats])
            goto fail_nomem;
        d->n_cats++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto fail_sqlite;

    while ((rc = sqlite3_step(st[Q_SUMS])) == SQLITE_ROW) {
        int r = find_run(d, sqlite3_column_int64(st[Q_SUMS], 0));
        const char *cat = (const char *)sqlite3_column_text(st[Q_SUMS], 1);
        int k = cat ? find_cat(d, cat) : -1;
        if (r < 0 || k < 0 || d->runs[r].n_steps <= 0)
            continue;
        double sum_s = sqlite3_column_double(st[Q_SUMS], 2);
        d->ms[(size_t)r * (size_t)d->n_cats + (size_t)k] =
            sum_s / (double)d->runs[r].n_steps * 1e3;
    }
    if (rc != SQLITE_DONE)
        goto fail_sqlite;

    /* bar order: insertion sort (stable) by sweep position, runs outside sweeps last */
    for (int i = 0; i < d->n_runs; i++) {
        int j = i;
        int64_t pi = d->runs[i].point < 0 ? INT64_MAX : d->runs[i].point;
        while (j > 0) {
            int64_t pj = d->runs[d->order[j - 1]].point;
            if ((pj < 0 ? INT64_MAX : pj) <= pi)
                break;
            d->order[j] = d->order[j - 1];
            j--;
        }
        d->order[j] = i;
    }
    s = res_runs_load(c, db_path, &d->keys, err);
    goto done;

fail_nomem:
    s = sim_err_set(err, SIM_ENOMEM, "%s: out of memory reading the breakdown", db_path);
    goto done;
fail_sqlite:
    s = sim_err_set(err, SIM_EDB, "%s: cannot read the breakdown: %s", db_path,
                    sqlite3_errmsg(c));
done:
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(st[i]);
    if (!sqlite3_get_autocommit(c))
        sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    return s;
}

/* Tableau 10: distinct, readable on white, cycled if there are more categories. */
static const char *const palette[] = {
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
};

/* Writes name shortened to at most max bytes (cut on a UTF-8 boundary, "..." appended)
 * as a quoted gnuplot string. */
static void quote_short(FILE *f, const char *name, size_t max)
{
    size_t n = strlen(name);
    if (n <= max) {
        res_gnuplot_quote(f, name);
        return;
    }
    char buf[64];
    assert(max + 4 <= sizeof buf);
    size_t cut = max - 3;
    while (cut > 0 && ((unsigned char)name[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(buf, name, cut);
    memcpy(buf + cut, "...", 4);
    res_gnuplot_quote(f, buf);
}

static sim_status bd_body(void *ctx, const char *tmp_dir, FILE *script, sim_err *err)
{
    const bd_data *d = ctx;
    char *data_path = path_join(tmp_dir, "breakdown.dat");
    if (!data_path)
        return sim_err_set(err, SIM_ENOMEM, "out of memory writing the plot");
    sim_status s = SIM_OK;
    FILE *data = fopen(data_path, "w");
    if (!data) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot create: %s", data_path, strerror(errno));
        goto done_free_path;
    }
    /* Row i is bar i (x = i); column 1 the run id, then one column per category in ms. */
    fputs("# run_id, then the mean ms per step of each category in plot order\n", data);
    for (int b = 0; b < d->n_runs; b++) {
        int r = d->order[b];
        fprintf(data, "%lld", (long long)d->runs[r].id);
        for (int k = 0; k < d->n_cats; k++)
            fprintf(data, "\t%.10g", d->ms[(size_t)r * (size_t)d->n_cats + (size_t)k]);
        fputc('\n', data);
    }
    int failed = ferror(data);
    if (fclose(data) != 0 || failed) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot write", data_path);
        goto done_free_path;
    }

    /* categories that are zero in every bar are left out (and out of the legend) */
    int n_drawn = 0;
    for (int k = 0; k < d->n_cats; k++) {
        int any = 0;
        for (int r = 0; r < d->n_runs && !any; r++)
            any = d->ms[(size_t)r * (size_t)d->n_cats + (size_t)k] != 0;
        n_drawn += any;
    }
    char names[160], varying[160], title[400];
    res_runs_names(&d->keys, names, sizeof names);
    res_runs_varying(&d->keys, 4, varying, sizeof varying);
    snprintf(title, sizeof title, "Step-time breakdown, scenario%s: %s (%d run%s%s%s)",
             d->keys.n_names == 1 ? "" : "s", names, d->n_runs, d->n_runs == 1 ? "" : "s",
             varying[0] ? " varying " : "", varying);
    int many = d->n_runs > 10, multi = d->keys.n_names > 1;
    fputs("set datafile separator tab\n", script);
    fputs("set title ", script);
    res_gnuplot_quote(script, title);
    fputs("\nset ylabel 'time per step (ms)'\n"
          "set style data histograms\n"
          "set style histogram rowstacked\n"
          "set style fill solid 0.9 border rgb '#404040'\n"
          "set boxwidth 0.7 relative\n"
          "set key outside right top vertical invert title 'category' Left reverse\n"
          "set grid ytics lc rgb '#d0d0d0'\n"
          "set border 3\n"
          "set ytics nomirror\n"
          "set yrange [0:*]\n",
          script);
    fprintf(script, "set xrange [-0.6:%d.6]\n", d->n_runs - 1);
    /* a bar's label: the values of the keys that tell the runs apart (a line each, or one
     * rotated line when there are many bars), the scenario when there are several (or
     * nothing else to tell), and the run id for --run. "key=value" lines when they fit the
     * bar's slot (about 95 characters of plot width shared by the bars), else values only
     * and the x label names the keys. */
    int n_keys = d->keys.n_label_keys < 3 ? d->keys.n_label_keys : 3;
    int lines = n_keys + (multi || n_keys == 0) + 1, values_only = many && n_keys > 0;
    int slot = 95 / (d->n_runs > 0 ? d->n_runs : 1);
    for (int r = 0; r < d->n_runs && !many && !values_only; r++) {
        const res_run_info *info = res_runs_find(&d->keys, d->runs[r].id);
        char label[200] = "";
        if (info)
            res_runs_label(&d->keys, info, "\n", 3, 0, label, sizeof label);
        for (char *p = label, *nl; *p && !values_only; p = nl ? nl + 1 : p + strlen(p)) {
            nl = strchr(p, '\n');
            values_only = (int)(nl ? (size_t)(nl - p) : strlen(p)) > slot;
        }
    }
    char xlabel[300];
    if (values_only) {
        char keys[200];                /* "a, b, c" -> "a / b / c" */
        res_runs_varying(&d->keys, 3, keys, sizeof keys);
        size_t at = (size_t)snprintf(xlabel, sizeof xlabel, "bar: %s", multi ? "scenario / " : "");
        for (const char *c = keys; *c && at + 4 < sizeof xlabel; c++) {
            if (c[0] == ',' && c[1] == ' ') {
                at += (size_t)snprintf(xlabel + at, sizeof xlabel - at, " / ");
                c++;
            } else {
                xlabel[at++] = *c;
                xlabel[at] = '\0';
            }
        }
        snprintf(xlabel + at, sizeof xlabel - at, " / run id (mean over its steps)");
    } else {
        snprintf(xlabel, sizeof xlabel, "run (bar: mean over its steps)");
    }
    fputs("set xlabel ", script);
    res_gnuplot_quote(script, xlabel);
    fprintf(script, " offset 0,%d\n", many ? 0 : -(lines - 1));
    fprintf(script, "set bmargin %d\n", many ? 8 : 3 + lines + lines / 2);
    fputs(many ? "set xtics nomirror scale 0 rotate by -35 (" : "set xtics nomirror scale 0 (",
          script);
    for (int b = 0; b < d->n_runs; b++) {
        int r = d->order[b];
        const res_run_info *info = res_runs_find(&d->keys, d->runs[r].id);
        char label[200] = "", line[64];
        if (info)
            res_runs_label(&d->keys, info, many ? " / " : "\n", 3,
                           values_only ? RES_LABEL_VALUES : 0, label, sizeof label);
        if (multi || !label[0]) {
            quote_short(script, d->runs[r].name, many ? 16 : 24);
            fputs(many ? ".' / '." : ".\"\\n\".", script);
        }
        /* each line quoted on its own; joined with "\n" (a newline in gnuplot) */
        for (char *p = label, *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
            nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            quote_short(script, line, many ? 40 : 24);
            fputs(nl ? ".\"\\n\"." : many ? ".' '." : ".\"\\n\".", script);
        }
        fprintf(script, "'#%lld' %d%s", (long long)d->runs[r].id, b,
                b + 1 < d->n_runs ? ", " : ")\n");
    }
    fputs("plot ", script);
    int drawn = 0;
    for (int k = 0; k < d->n_cats; k++) {
        int any = 0;
        for (int r = 0; r < d->n_runs && !any; r++)
            any = d->ms[(size_t)r * (size_t)d->n_cats + (size_t)k] != 0;
        if (!any && n_drawn > 0)
            continue;
        if (drawn++ == 0)
            res_gnuplot_quote(script, data_path);
        else
            fputs(", ''", script);
        fprintf(script, " using %d title ", k + 2);
        res_gnuplot_quote(script, d->cats[k]);
        fprintf(script, " lc rgb '%s'", palette[(size_t)k % (sizeof palette / sizeof *palette)]);
    }
    fputc('\n', script);

done_free_path:
    sim_free(data_path);
    return s;
}

sim_status res_plot_breakdown(const char *db_path, const char *out_path, sim_err *err)
{
    assert(db_path && out_path);
    plot_format fmt;
    sim_status s = format_of(out_path, &fmt, err);
    if (s != SIM_OK)
        return s;

    res_db *db = NULL;
    s = res_db_open_readonly(db_path, &db, err);
    if (s != SIM_OK)
        return s;
    bd_data d = {.n_runs = 0};
    s = bd_load(db, db_path, &d, err);
    res_db_close(db);
    if (s == SIM_OK)
        s = res_plot_render(out_path, bd_body, &d, err);
    bd_fini(&d);
    return s;
}
