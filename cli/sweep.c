/* cli/sweep.c: `moesim sweep`: the cartesian product of --set value lists, each point one
 * `moesim run` in its own process (so --jobs N runs points in parallel and a crash or a
 * kill loses at most the points in flight), all into one database. Points already stored
 * (same scenario name and resolved keys: the sweep resolves each point's keys itself before
 * starting anything) are skipped, so an interrupted sweep resumes where it stopped; every
 * point stored or found is recorded in sweep_points. --shard K/N runs every N-th point, for
 * spreading a sweep over machines. */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "models/scenario.h"
#include "results/db.h"
#include "sim/alloc.h"
#include "sim/cfg.h"

extern char **environ;

static const char sweep_usage[] =
    "usage: moesim sweep FILE --set section.key=v1,v2,... [--set ...]... [--db PATH]\n"
    "                    [--jobs N] [--shard K/N] [--name NAME] [--quiet]\n"
    "\n"
    "Runs scenario FILE once for every combination of the listed values (the first --set\n"
    "varies slowest). A --set with one value applies to every point. Each point is one run\n"
    "in the database (default results/runs/NAME.db); points already stored (same scenario\n"
    "and resolved keys) are skipped, so rerunning an interrupted sweep finishes it. Every\n"
    "point is recorded in the table sweep_points under the sweep's name.\n"
    "\n"
    "  --jobs N     run N points at a time, each in its own process (default 1)\n"
    "  --shard K/N  run only points K, K+N, K+2N, ... (1 <= K <= N), e.g. one shard per\n"
    "               machine, each into its own --db; combine with 'moesim merge'\n"
    "  --name NAME  the sweep's name in sweep_points (default: the scenario name and the\n"
    "               --set lists, e.g. \"default: model.layers=4,8\")\n"
    "  --quiet      no progress output on stderr (otherwise: points done, points/s and time\n"
    "               left, as a bar on a terminal, a line every 10 s when redirected)\n";

typedef struct axis {
    char *key;                 /* "section.key" */
    char **values;
    int n;
} axis;

typedef struct point {
    long index;
    pid_t pid;
    int status;                /* exit status; -1 while running or not started */
    long long run_id;
    int skipped;               /* already stored (found here, or by the child) */
    int stored_before;         /* found before starting: no process needed */
} point;

typedef struct sweep {
    const char *file, *db, *name_opt;
    axis *axes;
    int n_axes;
    int jobs, shard_k, shard_n, quiet;
    char scenario[256];        /* the scenario's name, as moesim run names it */
    char *name;                /* the sweep's name in sweep_points */
    res_db *conn;              /* the database, once it exists (for points and records) */
    char tmp[64];
    char db_buf[512];
} sweep;

static void sweep_fini(sweep *s)
{
    res_db_close(s->conn);
    sim_free(s->name);
    for (int a = 0; a < s->n_axes; a++) {
        sim_free(s->axes[a].key);
        for (int v = 0; v < s->axes[a].n; v++)
            sim_free(s->axes[a].values[v]);
        sim_free(s->axes[a].values);
    }
    sim_free(s->axes);
}

static char *dup_n(const char *p, size_t n)
{
    char *d = sim_malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* "section.key=v1,v2" -> axis */
static int add_axis(sweep *s, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !memchr(arg, '.', (size_t)(eq - arg)))
        return cli_usage_error("sweep", "--set \"%s\": expected section.key=v1,v2,...", arg);
    axis *na = sim_realloc(s->axes, (size_t)(s->n_axes + 1) * sizeof *na);
    if (!na)
        return cli_usage_error("sweep", "out of memory");
    s->axes = na;
    axis *x = &s->axes[s->n_axes++];
    memset(x, 0, sizeof *x);
    x->key = dup_n(arg, (size_t)(eq - arg));
    const char *p = eq + 1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return cli_usage_error("sweep", "--set %s: empty value in the list", x->key);
        char **nv = sim_realloc(x->values, (size_t)(x->n + 1) * sizeof *nv);
        if (!nv)
            return cli_usage_error("sweep", "out of memory");
        x->values = nv;
        x->values[x->n] = dup_n(p, len);
        if (!x->key || !x->values[x->n])
            return cli_usage_error("sweep", "out of memory");
        x->n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, sweep *s)
{
    s->jobs = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(sweep_usage, stdout);
            return -1;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            s->quiet = 1;
        } else if (!strcmp(a, "--set") || !strcmp(a, "--db") || !strcmp(a, "--jobs") ||
                   !strcmp(a, "--shard") || !strcmp(a, "--name")) {
            if (!val)
                return cli_usage_error("sweep", "%s needs a value", a);
            i++;
            if (!strcmp(a, "--set")) {
                int rc = add_axis(s, val);
                if (rc)
                    return rc;
            } else if (!strcmp(a, "--db")) {
                s->db = val;
            } else if (!strcmp(a, "--name")) {
                if (!*val)
                    return cli_usage_error("sweep", "--name: expected a name");
                s->name_opt = val;
            } else if (!strcmp(a, "--jobs")) {
                char *end;
                long j = strtol(val, &end, 10);
                if (*end || j < 1 || j > 1024)
                    return cli_usage_error("sweep", "--jobs: expected 1 to 1024 (got \"%s\")", val);
                s->jobs = (int)j;
            } else {
                int k, n, used = 0;
                if (sscanf(val, "%d/%d%n", &k, &n, &used) != 2 || val[used] || n < 1 || k < 1 ||
                    k > n)
                    return cli_usage_error("sweep", "--shard: expected K/N with 1 <= K <= N (got \"%s\")",
                                           val);
                s->shard_k = k;
                s->shard_n = n;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("sweep", "unknown option '%s'", a);
        } else if (!s->file) {
            s->file = a;
        } else {
            return cli_usage_error("sweep", "one scenario file at a time");
        }
    }
    if (!s->file)
        return cli_usage_error("sweep", "missing scenario FILE");
    if (s->n_axes == 0)
        return cli_usage_error("sweep", "nothing to sweep: give at least one --set key=v1,v2,...");
    return 0;
}

static long n_points(const sweep *s)
{
    long n = 1;
    for (int a = 0; a < s->n_axes; a++)
        n *= s->axes[a].n;
    return n;
}

/* value index of axis a at point i (last axis fastest) */
static int value_of(const sweep *s, long i, int a)
{
    for (int b = s->n_axes - 1; b > a; b--)
        i /= s->axes[b].n;
    return (int)(i % s->axes[a].n);
}

/* Appends "fmt..." to the growing string *buf (length *len, capacity *cap); -1: no memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *a, const char *b)
{
    size_t need = *len + strlen(a) + strlen(b) + 1;
    if (sim_grow((void **)buf, cap, need, 1))
        return -1;
    *len += (size_t)sprintf(*buf + *len, "%s%s", a, b);
    return 0;
}

/* The sweep's default name: "SCENARIO: key=v1,v2 key2=w1" (every --set, in order). */
static char *sweep_name(const sweep *s)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (append(&buf, &len, &cap, s->name_opt ? s->name_opt : s->scenario,
               s->name_opt ? "" : ":"))
        return NULL;
    for (int a = 0; !s->name_opt && a < s->n_axes; a++) {
        if (append(&buf, &len, &cap, " ", s->axes[a].key) || append(&buf, &len, &cap, "=", ""))
            goto fail;
        for (int v = 0; v < s->axes[a].n; v++)
            if (append(&buf, &len, &cap, v ? "," : "", s->axes[a].values[v]))
                goto fail;
    }
    return buf;
fail:
    sim_free(buf);
    return NULL;
}

/* Point i's --set values: "key=v key2=w" (NULL: no memory). */
static char *point_text(const sweep *s, long i)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (append(&buf, &len, &cap, "", ""))
        return NULL;
    for (int a = 0; a < s->n_axes; a++)
        if (append(&buf, &len, &cap, a ? " " : "", s->axes[a].key) ||
            append(&buf, &len, &cap, "=", s->axes[a].values[value_of(s, i, a)])) {
            sim_free(buf);
            return NULL;
        }
    return buf;
}

/* Opens the database once it exists (before that nothing is stored: nothing to find, and a
 * sweep whose every point fails must not leave an empty database behind). */
static res_db *conn(sweep *s)
{
    struct stat st;
    if (!s->conn && stat(s->db, &st) == 0) {
        sim_err err = {0};
        if (res_db_open(s->db, &s->conn, &err) != SIM_OK) {
            fprintf(stderr, "moesim sweep: %s\n", err.msg);
            s->conn = NULL;
        }
    }
    return s->conn;
}

/* Is point i already stored? Resolves its keys as moesim run would and looks the run up.
 * A point whose keys do not resolve is left to its run, which reports the error. */
static void find_stored(sweep *s, point *p)
{
    res_db *db = conn(s);
    if (!db)
        return;
    const char **sets = sim_calloc((size_t)s->n_axes, sizeof *sets);
    char **owned = sim_calloc((size_t)s->n_axes, sizeof *owned);
    scn_config *c = sim_malloc(sizeof *c);
    char *resolved = NULL;
    if (!sets || !owned || !c)
        goto done;
    for (int a = 0; a < s->n_axes; a++) {
        const char *v = s->axes[a].values[value_of(s, p->index, a)];
        size_t len = strlen(s->axes[a].key) + strlen(v) + 2;
        if (!(owned[a] = sim_malloc(len)))
            goto done;
        snprintf(owned[a], len, "%s=%s", s->axes[a].key, v);
        sets[a] = owned[a];
    }
    sim_err err = {0};
    if (cli_load_scenario(s->file, sets, (size_t)s->n_axes, c, NULL, &err) != SIM_OK)
        goto done;
    resolved = sim_cfg_format(scn_keys, scn_n_keys, c);
    int64_t id = 0;
    if (resolved && res_db_find_run(db, s->scenario, resolved, &id, &err) == SIM_OK && id) {
        p->run_id = id;
        p->skipped = p->stored_before = 1;
        p->status = 0;
    }
done:
    sim_free(resolved);
    sim_free(c);
    if (owned)
        for (int a = 0; a < s->n_axes; a++)
            sim_free(owned[a]);
    sim_free(owned);
    sim_free(sets);
}

/* Records a stored point in sweep_points; a failure is reported, not fatal (the run is
 * stored: a rerun finds it and records it then). */
static int record(sweep *s, const point *p)
{
    res_db *db = conn(s);
    char *pt = point_text(s, p->index);
    sim_err err = {0};
    int ok = db && pt && p->run_id > 0 &&
             res_db_record_point(db, s->name, pt, p->index, p->run_id, &err) == SIM_OK;
    if (!ok)
        fprintf(stderr, "moesim sweep: point %ld: not recorded in sweep_points: %s\n",
                p->index + 1, err.msg[0] ? err.msg : pt ? "no run id" : "out of memory");
    sim_free(pt);
    return ok;
}

static void tmp_path(const sweep *s, long i, const char *ext, char *out, size_t n)
{
    snprintf(out, n, "%s/p%ld.%s", s->tmp, i, ext);
}

static pid_t spawn_point(const sweep *s, long i)
{
    int argc_max = 12 + 2 * s->n_axes;
    char **args = sim_calloc((size_t)argc_max, sizeof *args);
    char **sets = sim_calloc((size_t)s->n_axes, sizeof *sets);
    pid_t pid = -1;
    if (!args || !sets)
        goto done;
    int k = 0;
    args[k++] = "moesim";
    args[k++] = "run";
    args[k++] = (char *)s->file;
    args[k++] = "--db";
    args[k++] = (char *)s->db;
    args[k++] = "--json";
    args[k++] = "--quiet";
    args[k++] = "--skip-existing";
    for (int a = 0; a < s->n_axes; a++) {
        const char *v = s->axes[a].values[value_of(s, i, a)];
        size_t len = strlen(s->axes[a].key) + strlen(v) + 2;
        sets[a] = sim_malloc(len);
        if (!sets[a])
            goto done;
        snprintf(sets[a], len, "%s=%s", s->axes[a].key, v);
        args[k++] = "--set";
        args[k++] = sets[a];
    }
    args[k] = NULL;
    char out[128], err[128];
    tmp_path(s, i, "json", out, sizeof out);
    tmp_path(s, i, "err", err, sizeof err);
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto done;
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
done:
    if (sets)
        for (int a = 0; a < s->n_axes; a++)
            sim_free(sets[a]);
    sim_free(sets);
    sim_free(args);
    return pid;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = sim_malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static void read_result(const sweep *s, point *p)
{
    char path[128];
    tmp_path(s, p->index, "json", path, sizeof path);
    char *txt = slurp(path);
    cJSON *o = txt ? cJSON_Parse(txt) : NULL;
    cJSON *id = o ? cJSON_GetObjectItem(o, "run_id") : NULL;
    p->run_id = cJSON_IsNumber(id) ? (long long)id->valuedouble : 0;
    p->skipped = o && cJSON_IsTrue(cJSON_GetObjectItem(o, "skipped"));
    cJSON_Delete(o);
    sim_free(txt);
}

static void print_child_error(const sweep *s, const point *p)
{
    char path[128];
    tmp_path(s, p->index, "err", path, sizeof path);
    char *txt = slurp(path);
    fprintf(stderr, "moesim sweep: point %ld failed (exit %d)", p->index + 1, p->status);
    for (int a = 0; a < s->n_axes; a++)
        fprintf(stderr, "%s %s=%s", a ? "," : ":", s->axes[a].key,
                s->axes[a].values[value_of(s, p->index, a)]);
    fprintf(stderr, "\n%s", txt ? txt : "");
    sim_free(txt);
}

static double metric(sqlite3 *h, long long run_id, const char *name)
{
    sqlite3_stmt *st;
    double v = NAN;
    if (sqlite3_prepare_v2(h, "SELECT value FROM metrics WHERE run_id = ?1 AND name = ?2", -1,
                           &st, NULL) != SQLITE_OK)
        return v;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void print_table(const sweep *s, const point *pts, long n)
{
    res_db *db = NULL;
    if (res_db_open_readonly(s->db, &db, NULL) != SIM_OK)
        return;
    sqlite3 *h = res_db_handle(db);
    for (int a = 0; a < s->n_axes; a++)
        printf("%-*s ", (int)(strlen(s->axes[a].key) > 12 ? strlen(s->axes[a].key) : 12),
               s->axes[a].key);
    printf("%14s %20s %8s\n", "step_time_ms", "tokens_per_s_per_gpu", "run");
    for (long i = 0; i < n; i++) {
        const point *p = &pts[i];
        for (int a = 0; a < s->n_axes; a++)
            printf("%-*s ", (int)(strlen(s->axes[a].key) > 12 ? strlen(s->axes[a].key) : 12),
                   s->axes[a].values[value_of(s, p->index, a)]);
        printf("%14.3f %20.1f %8lld%s\n", metric(h, p->run_id, "step_time_s") * 1e3,
               metric(h, p->run_id, "tokens_per_s_per_gpu"), p->run_id,
               p->skipped ? " (already stored)" : "");
    }
    res_db_close(db);
}

static void remove_tmp(const sweep *s, const point *pts, long n)
{
    char path[128];
    for (long i = 0; i < n; i++) {
        tmp_path(s, pts[i].index, "json", path, sizeof path);
        unlink(path);
        tmp_path(s, pts[i].index, "err", path, sizeof path);
        unlink(path);
    }
    rmdir(s->tmp);
}

int cli_sweep(int argc, char **argv)
{
    sweep s = {0};
    int rc = parse_args(argc, argv, &s);
    if (rc != 0) {
        sweep_fini(&s);
        return rc < 0 ? 0 : rc;
    }
    if (!s.db) {
        const char *base = strrchr(s.file, '/');
        base = base ? base + 1 : s.file;
        size_t len = strcspn(base, ".");
        snprintf(s.db_buf, sizeof s.db_buf, "results/runs/%.*s.db", (int)len, base);
        s.db = s.db_buf;
        mkdir("results", 0777);
        mkdir("results/runs", 0777);
    }
    cli_scenario_name(s.file, s.scenario, sizeof s.scenario);
    s.name = sweep_name(&s);
    long total = n_points(&s), n = 0;
    point *pts = sim_calloc((size_t)total, sizeof *pts);
    snprintf(s.tmp, sizeof s.tmp, "/tmp/moesim-sweep-XXXXXX");
    if (!pts || !s.name || !mkdtemp(s.tmp)) {
        fprintf(stderr, "moesim sweep: cannot set up: %s\n",
                pts && s.name ? strerror(errno) : "out of memory");
        sim_free(pts);
        sweep_fini(&s);
        return 1;
    }
    for (long i = 0; i < total; i++)
        if (!s.shard_n || i % s.shard_n == s.shard_k - 1)
            pts[n++] = (point){.index = i, .pid = -1, .status = -1};

    /* points already stored need no process; record them (the record may be missing: a
     * sweep killed between a run and its record, or a run made outside the sweep) */
    long stored = 0;
    for (long i = 0; i < n; i++) {
        find_stored(&s, &pts[i]);
        if (pts[i].stored_before) {
            record(&s, &pts[i]);
            stored++;
        }
    }

    cli_progress pr;
    cli_progress_init(&pr, "sweep", s.quiet);
    pr.unit = "points";
    pr.base = stored;
    long next = 0, running = 0, done = stored;
    int worst = 0;
    while (done < n) {
        while (next < n && pts[next].stored_before)
            next++;
        while (worst != 2 && running < s.jobs && next < n) {
            pts[next].pid = spawn_point(&s, pts[next].index);
            if (pts[next].pid < 0) {
                fprintf(stderr, "moesim sweep: cannot start a run: %s\n", strerror(errno));
                worst = worst > 1 ? worst : 1;
                pts[next].status = 1;
                done++;
            } else {
                running++;
            }
            next++;
            while (next < n && pts[next].stored_before)
                next++;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (long i = 0; i < next; i++) {
            if (pts[i].pid != pid)
                continue;
            pts[i].status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            running--;
            done++;
            if (pts[i].status == 0) {
                read_result(&s, &pts[i]);
                record(&s, &pts[i]);
            } else {
                print_child_error(&s, &pts[i]);
                int sev = pts[i].status == 2 ? 2 : 1;
                worst = sev > worst ? sev : worst;
            }
        }
        cli_progress_update(&pr, done, n);
    }
    cli_progress_done(&pr);
    long ok = 0;
    for (long i = 0; i < n; i++)
        ok += pts[i].status == 0;
    if (ok)
        print_table(&s, pts, n);
    printf("sweep: %ld of %ld points stored in %s%s\n", ok, n, s.db,
           ok < n ? " (rerun the same command to finish)" : "");
    if (stored)
        printf("sweep: %ld of them were already stored (not run again)\n", stored);
    remove_tmp(&s, pts, n);
    sim_free(pts);
    sweep_fini(&s);
    return worst;
}
