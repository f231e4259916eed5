/* cli/check.c: `moesim check BASELINE.db CANDIDATE.db`: a regression check for CI. Runs are
 * paired by scenario name and seed (the latest run of each pair in each database); the
 * metric is compared and the command exits 1 when any pair got worse by more than the
 * tolerance. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "results/db.h"

static const char check_usage[] =
    "usage: moesim check BASELINE.db CANDIDATE.db [--metric NAME] [--tolerance T]\n"
    "                    [--higher-is-better]\n"
    "\n"
    "Pairs the runs of the two databases by scenario name and seed (the latest run of each\n"
    "in each database), prints the metric for both and the change, and exits 1 if any pair\n"
    "got worse by more than T, 0 otherwise (2 for bad usage, or when no run pairs up).\n"
    "\n"
    "  --metric NAME        a name from the metrics table (default step_time_s)\n"
    "  --tolerance T        allowed relative change: 2% or 0.02 (default 2%)\n"
    "  --higher-is-better   a larger value is better (automatic for tokens_per_s*, mfu,\n"
    "                       model_tflops_per_gpu)\n";

typedef struct row {
    char name[128];
    long long seed;
    double value;
    int found;
} row;

/* the latest run per (name, seed) with its value of `metric` */
static int load(const char *path, const char *metric, row **out, int *n, sim_err *err)
{
    res_db *db = NULL;
    if (res_db_open_readonly(path, &db, err) != SIM_OK)
        return -1;
    sqlite3 *h = res_db_handle(db);
    sqlite3_stmt *st;
    const char *sql =
        "SELECT r.name, r.seed, m.value FROM runs r LEFT JOIN metrics m "
        "ON m.run_id = r.id AND m.name = ?1 "
        "WHERE r.id = (SELECT max(id) FROM runs x WHERE x.name = r.name AND x.seed = r.seed) "
        "ORDER BY r.name, r.seed";
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sim_err_set(err, SIM_EDB, "%s: %s", path, sqlite3_errmsg(h));
        res_db_close(db);
        return -1;
    }
    sqlite3_bind_text(st, 1, metric, -1, SQLITE_STATIC);
    int cap = 16, k = 0;
    row *rows = malloc((size_t)cap * sizeof *rows);
    while (rows && sqlite3_step(st) == SQLITE_ROW) {
        if (k == cap) {
            row *nr = realloc(rows, (size_t)(cap *= 2) * sizeof *rows);
            if (!nr) {
                free(rows);
                rows = NULL;
                break;
            }
            rows = nr;
        }
        snprintf(rows[k].name, sizeof rows[k].name, "%s", sqlite3_column_text(st, 0));
        rows[k].seed = sqlite3_column_int64(st, 1);
        rows[k].found = sqlite3_column_type(st, 2) != SQLITE_NULL;
        rows[k].value = sqlite3_column_double(st, 2);
        k++;
    }
    sqlite3_finalize(st);
    res_db_close(db);
    if (!rows) {
        sim_err_set(err, SIM_ENOMEM, "out of memory");
        return -1;
    }
    *out = rows;
    *n = k;
    return 0;
}

static int higher_better_by_name(const char *m)
{
    return strncmp(m, "tokens_per_s", 12) == 0 || strcmp(m, "mfu") == 0 ||
           strcmp(m, "model_tflops_per_gpu") == 0;
}

int cli_check(int argc, char **argv)
{
    const char *dbs[2] = {NULL, NULL}, *metric = "step_time_s";
    double tol = 0.02;
    int n_db = 0, higher = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(check_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--metric") || !strcmp(a, "--tolerance")) {
            if (i + 1 >= argc)
                return cli_usage_error("check", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'm') {
                metric = v;
                continue;
            }
            char *end;
            tol = strtod(v, &end);
            if (*end == '%') {
                tol /= 100;
                end++;
            }
            if (end == v || *end || !(tol >= 0) || !isfinite(tol))
                return cli_usage_error("check", "--tolerance: expected e.g. 2%% or 0.02 (got \"%s\")", v);
        } else if (!strcmp(a, "--higher-is-better")) {
            higher = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("check", "unknown option '%s'", a);
        } else if (n_db < 2) {
            dbs[n_db++] = a;
        } else {
            return cli_usage_error("check", "two databases: BASELINE.db CANDIDATE.db");
        }
    }
    if (n_db != 2)
        return cli_usage_error("check", "two databases: BASELINE.db CANDIDATE.db");
    if (higher < 0)
        higher = higher_better_by_name(metric);
    sim_err err = {0};
    row *base = NULL, *cand = NULL;
    int nb = 0, nc = 0;
    if (load(dbs[0], metric, &base, &nb, &err) || load(dbs[1], metric, &cand, &nc, &err)) {
        free(base);
        return cli_fail(&err);
    }
    printf("%-24s %20s %14s %14s %9s  %s\n", "scenario", "seed", "baseline", "candidate",
           "change", "verdict");
    int pairs = 0, regressions = 0, missing = 0;
    for (int i = 0; i < nb; i++) {
        for (int j = 0; j < nc; j++) {
            if (strcmp(base[i].name, cand[j].name) || base[i].seed != cand[j].seed)
                continue;
            pairs++;
            if (!base[i].found || !cand[j].found) {
                missing++;
                printf("%-24s %20llu %14s %14s %9s  metric %s missing\n", base[i].name,
                       (unsigned long long)base[i].seed, "-", "-", "-", metric);
                continue;
            }
            double b = base[i].value, c = cand[j].value;
            double change = b != 0 ? (c - b) / fabs(b) : (c == b ? 0 : INFINITY);
            double worse = higher ? -change : change;
            int bad = worse > tol;
            regressions += bad;
            printf("%-24s %20llu %14.6g %14.6g %+8.2f%%  %s\n", base[i].name,
                   (unsigned long long)base[i].seed, b, c, 100 * change,
                   bad ? "REGRESSION" : (worse < -tol ? "better" : "ok"));
        }
    }
    free(base);
    free(cand);
    if (pairs == 0 || missing) {
        fprintf(stderr, "moesim check: %s\n",
                pairs ? "the metric is missing from some runs" : "no run pairs up (same scenario name and seed)");
        return 2;
    }
    printf("%d pair%s, %d regression%s beyond %.4g%% (%s is better)\n", pairs, pairs == 1 ? "" : "s",
           regressions, regressions == 1 ? "" : "s", 100 * tol, higher ? "higher" : "lower");
    return regressions ? 1 : 0;
}
