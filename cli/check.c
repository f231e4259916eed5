/* cli/check.c: `moesim check BASELINE.db CANDIDATE.db`: a regression check for CI.
 *
 * A baseline run and a candidate run pair up when they are the same point: the same
 * scenario name and the same value of every resolved key (the seed is one), except the keys
 * given with --ignore-key and keys that not every run has (a newer moesim may add keys; they
 * are listed, not compared). Of several runs of one point in one database the latest
 * counts. The metric is compared per pair; the command exits 1 when any pair got worse by
 * more than the tolerance, 2 when nothing pairs up (or the metric is missing), else 0.
 * Unpaired runs are listed. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "results/db.h"
#include "results/runkeys.h"
#include "sim/alloc.h"

static const char check_usage[] =
    "usage: moesim check BASELINE.db CANDIDATE.db [--metric NAME] [--tolerance T]\n"
    "                    [--ignore-key section.key[,...]]... [--higher-is-better]\n"
    "\n"
    "Pairs each run of the candidate with the baseline run of the same point: the same\n"
    "scenario name, seed and resolved keys (the latest run of a point in each database).\n"
    "Prints the metric for both and the change, lists the runs that pair with nothing, and\n"
    "exits 1 if any pair got worse by more than T, 0 otherwise (2 for bad usage, when no\n"
    "run pairs up, or when the metric is missing).\n"
    "\n"
    "  --metric NAME        a name from the metrics table (default step_time_s)\n"
    "  --tolerance T        allowed relative change: 2% or 0.02 (default 2%)\n"
    "  --ignore-key KEY     pair runs even when KEY differs (repeatable, or a comma list),\n"
    "                       e.g. to hold a zipf candidate against a uniform baseline\n"
    "  --higher-is-better   a larger value is better (automatic for tokens_per_s*, mfu,\n"
    "                       model_tflops_per_gpu)\n";

/* One run of one side: its identity (what it is, over the compared keys) and its value. */
typedef struct side_run {
    const res_run_info *info;
    char *identity;
    double value;
    int found;                       /* the run has the metric */
} side_run;

typedef struct side {
    const char *path;
    res_runs runs;
    side_run *pts;                   /* the latest run of each point, sorted by identity */
    int n_pts;
    int shadowed;                    /* older runs of a point, not compared */
} side;

typedef struct opts {
    const char *dbs[2], *metric;
    double tol;
    int higher;
    const char **ignore;
    int n_ignore;
    const char **common;             /* keys every run of both sides has, sorted */
    int n_common;
    const char **across;             /* of those, the keys whose values differ between the
                                        sides (shown for unpaired runs) */
    int n_across;
} opts;

static void side_fini(side *s)
{
    for (int i = 0; i < s->n_pts; i++)
        sim_free(s->pts[i].identity);
    sim_free(s->pts);
    res_runs_fini(&s->runs);
}

static int is_ignored(const opts *o, const char *key)
{
    for (int i = 0; i < o->n_ignore; i++)
        if (strcmp(o->ignore[i], key) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every key of every run of both sides, sorted, each once (pointers into the runs). */
static const char **all_keys(const side *sd, int *n)
{
    size_t total = 0, k = 0;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sd[s].runs.n_runs; i++)
            total += (size_t)sd[s].runs.runs[i].n_kv;
    const char **keys = sim_malloc((total ? total : 1) * sizeof *keys);
    if (!keys)
        return NULL;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sd[s].runs.n_runs; i++)
            for (int j = 0; j < sd[s].runs.runs[i].n_kv; j++)
                keys[k++] = sd[s].runs.runs[i].kv[j].key;
    qsort(keys, total, sizeof *keys, cmp_str);
    int m = 0;
    for (size_t i = 0; i < total; i++)
        if (m == 0 || strcmp(keys[m - 1], keys[i]) != 0)
            keys[m++] = keys[i];
    *n = m;
    return keys;
}

/* The compared keys: those every run has, less the ignored ones. Keys that some runs lack
 * (a newer moesim added them) are listed, not compared. keys: all_keys; kept in o. */
static void choose_keys(const side *sd, const char **keys, int n, opts *o)
{
    int m = 0, noted = 0;
    for (int i = 0; i < n; i++) {
        int everywhere = 1;
        for (int s = 0; s < 2 && everywhere; s++)
            for (int r = 0; r < sd[s].runs.n_runs && everywhere; r++)
                everywhere = res_run_value(&sd[s].runs.runs[r], keys[i]) != NULL;
        if (!everywhere && !is_ignored(o, keys[i]) && noted++ < 8)
            printf("note: key %s is not in every run; not compared\n", keys[i]);
        if (everywhere && !is_ignored(o, keys[i]))
            keys[m++] = keys[i];
    }
    o->common = keys;
    o->n_common = m;
}

/* Is some value of key on side a missing from side b? */
static int has_value_not_in(const side *a, const side *b, const char *key)
{
    for (int i = 0; i < a->runs.n_runs; i++) {
        const char *v = res_run_value(&a->runs.runs[i], key);
        int found = 0;
        for (int j = 0; j < b->runs.n_runs && !found; j++)
            found = strcmp(v, res_run_value(&b->runs.runs[j], key)) == 0;
        if (!found)
            return 1;
    }
    return 0;
}

/* The compared keys whose values differ between the two databases, e.g. routing.model
 * uniform in one and zipf in the other: what an unpaired run is told apart by. At most 8. */
static sim_status find_across(const side *sd, opts *o, sim_err *err)
{
    o->across = sim_calloc(8, sizeof *o->across);
    if (!o->across)
        return sim_err_set(err, SIM_ENOMEM, "out of memory");
    for (int k = 0; k < o->n_common && o->n_across < 8; k++) {
        const char *key = o->common[k];
        if (strcmp(key, "run.seed") == 0)
            continue;
        if (has_value_not_in(&sd[0], &sd[1], key) || has_value_not_in(&sd[1], &sd[0], key))
            o->across[o->n_across++] = key;
    }
    return SIM_OK;
}

/* "NAME\nkey=value\n..." over the compared keys. */
static char *identity_of(const res_run_info *r, const opts *o)
{
    size_t len = strlen(r->name) + 2;
    for (int k = 0; k < o->n_common; k++)
        len += strlen(o->common[k]) + strlen(res_run_value(r, o->common[k])) + 2;
    char *id = sim_malloc(len);
    if (!id)
        return NULL;
    size_t at = (size_t)sprintf(id, "%s\n", r->name);
    for (int k = 0; k < o->n_common; k++)
        at += (size_t)sprintf(id + at, "%s=%s\n", o->common[k], res_run_value(r, o->common[k]));
    return id;
}

static int cmp_pt(const void *a, const void *b)
{
    const side_run *p = a, *q = b;
    int c = strcmp(p->identity, q->identity);
    if (c)
        return c;
    return (p->info->id < q->info->id) - (p->info->id > q->info->id);   /* latest first */
}

/* Reads one database: its runs, their metric, and the latest run of each point. */
static sim_status load_side(side *s, const opts *o, sim_err *err)
{
    res_db *db = NULL;
    sim_status st = res_db_open_readonly(s->path, &db, err);
    if (st != SIM_OK)
        return st;
    sqlite3 *h = res_db_handle(db);
    st = res_runs_load(h, s->path, &s->runs, err);
    if (st != SIM_OK)
        goto done;
    s->pts = sim_calloc((size_t)(s->runs.n_runs ? s->runs.n_runs : 1), sizeof *s->pts);
    sqlite3_stmt *q = NULL;
    if (!s->pts) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory");
        goto done;
    }
    if (sqlite3_prepare_v2(h, "SELECT value FROM metrics WHERE run_id = ?1 AND name = ?2", -1,
                           &q, NULL) != SQLITE_OK) {
        st = sim_err_set(err, SIM_EDB, "%s: %s", s->path, sqlite3_errmsg(h));
        goto done;
    }
    for (int i = 0; i < s->runs.n_runs; i++) {
        side_run *p = &s->pts[i];
        p->info = &s->runs.runs[i];
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, p->info->id);
        sqlite3_bind_text(q, 2, o->metric, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            p->found = 1;
            p->value = sqlite3_column_double(q, 0);
        }
        s->n_pts++;
    }
    sqlite3_finalize(q);
done:
    res_db_close(db);
    return st;
}

/* With both sides loaded: identities, sorted, the latest run of each point kept. */
static sim_status index_side(side *s, const opts *o, sim_err *err)
{
    for (int i = 0; i < s->n_pts; i++)
        if (!(s->pts[i].identity = identity_of(s->pts[i].info, o)))
            return sim_err_set(err, SIM_ENOMEM, "out of memory");
    qsort(s->pts, (size_t)s->n_pts, sizeof *s->pts, cmp_pt);
    int k = 0;
    for (int i = 0; i < s->n_pts; i++) {
        if (k > 0 && strcmp(s->pts[k - 1].identity, s->pts[i].identity) == 0) {
            sim_free(s->pts[i].identity);
            s->shadowed++;
            continue;
        }
        s->pts[k++] = s->pts[i];
    }
    s->n_pts = k;
    return SIM_OK;
}

static int higher_better_by_name(const char *m)
{
    return strncmp(m, "tokens_per_s", 12) == 0 || strcmp(m, "mfu") == 0 ||
           strcmp(m, "model_tflops_per_gpu") == 0;
}

/* "layers=2 capacity_factor=1.25" plus, for ignored keys that differ, "model: uniform ->
 * zipf" */
static void pair_label(const side *sd, const side_run *b, const side_run *c, const opts *o,
                       char *buf, size_t n)
{
    res_runs_label(&sd[0].runs, b->info, " ", 4, RES_LABEL_NO_SEED, buf, n);
    for (int i = 0; i < o->n_ignore; i++) {
        const char *vb = res_run_value(b->info, o->ignore[i]);
        const char *vc = res_run_value(c->info, o->ignore[i]);
        if (vb && vc && strcmp(vb, vc) == 0)
            continue;
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s: %s -> %s", len ? " " : "", o->ignore[i],
                 vb ? vb : "-", vc ? vc : "-");
    }
    if (!buf[0])
        snprintf(buf, n, "-");
}

/* An unpaired run: what tells it apart within its database, and its values of the keys
 * that differ between the databases. */
static void print_unpaired(const side *s, const char *where, const opts *o)
{
    for (int i = 0; i < s->n_pts; i++) {
        if (!s->pts[i].identity)
            continue;
        char label[240];
        res_runs_label(&s->runs, s->pts[i].info, " ", 4, RES_LABEL_NO_SEED, label, sizeof label);
        for (int k = 0; k < o->n_across; k++) {
            int dup = 0;
            for (int j = 0; j < s->runs.n_label_keys && !dup; j++)
                dup = strcmp(s->runs.label_keys[j], o->across[k]) == 0;
            size_t len = strlen(label);
            if (!dup && len + 2 < sizeof label)
                snprintf(label + len, sizeof label - len, "%s%s=%s", len ? " " : "",
                         o->across[k], res_run_value(s->pts[i].info, o->across[k]));
        }
        uint64_t seed;
        memcpy(&seed, &s->pts[i].info->seed, sizeof seed);
        printf("  only in %s: %s seed %llu run %lld%s%s\n", where, s->pts[i].info->name,
               (unsigned long long)seed, (long long)s->pts[i].info->id, label[0] ? "  " : "",
               label);
    }
}

/* Pairs and prints; returns the exit status. */
static int compare(side *sd, const opts *o)
{
    int w = 5;                       /* width of the point column */
    /* pair the two sorted lists; a paired run's identity is freed (NULL), so what keeps
     * one afterwards is unpaired */
    int nb = sd[0].n_pts, nc = sd[1].n_pts, i = 0, j = 0, n_pairs = 0;
    typedef struct pr { int b, c; } pr;
    pr *pairs = sim_calloc((size_t)(nb < nc ? nb : nc) + 1, sizeof *pairs);
    if (!pairs) {
        fprintf(stderr, "moesim check: out of memory\n");
        return 1;
    }
    while (i < nb && j < nc) {
        int c = strcmp(sd[0].pts[i].identity, sd[1].pts[j].identity);
        if (c == 0)
            pairs[n_pairs++] = (pr){i++, j++};
        else if (c < 0)
            i++;
        else
            j++;
    }
    char label[200];
    int wn = 8, ws = 4;              /* widths of the scenario and seed columns */
    for (int k = 0; k < n_pairs; k++) {
        const side_run *b = &sd[0].pts[pairs[k].b];
        pair_label(sd, b, &sd[1].pts[pairs[k].c], o, label, sizeof label);
        int lw = (int)strlen(label), nw = (int)strlen(b->info->name);
        w = lw > w ? lw : w;      /* widest of each column: long labels keep it aligned */
        wn = nw > wn ? nw : wn;
        uint64_t seed;
        memcpy(&seed, &b->info->seed, sizeof seed);
        char sb[24];
        int sw = snprintf(sb, sizeof sb, "%llu", (unsigned long long)seed);
        ws = sw > ws ? sw : ws;
    }
    if (n_pairs)
        printf("%-*s %*s  %-*s %14s %14s %9s  %s\n", wn, "scenario", ws, "seed", w, "point",
               "baseline", "candidate", "change", "verdict");
    int regressions = 0, missing = 0;
    for (int k = 0; k < n_pairs; k++) {
        side_run *b = &sd[0].pts[pairs[k].b], *c = &sd[1].pts[pairs[k].c];
        pair_label(sd, b, c, o, label, sizeof label);
        uint64_t seed;
        memcpy(&seed, &b->info->seed, sizeof seed);
        printf("%-*s %*llu  %-*s ", wn, b->info->name, ws, (unsigned long long)seed, w, label);
        if (!b->found || !c->found) {
            missing++;
            printf("%14s %14s %9s  metric %s missing\n", "-", "-", "-", o->metric);
        } else {
            double vb = b->value, vc = c->value;
            double change = vb != 0 ? (vc - vb) / fabs(vb) : (vc == vb ? 0 : INFINITY);
            double worse = o->higher ? -change : change;
            int bad = worse > o->tol;
            regressions += bad;
            printf("%14.6g %14.6g %+8.2f%%  %s\n", vb, vc, 100 * change,
                   bad ? "REGRESSION" : (worse < -o->tol ? "better" : "ok"));
        }
        sim_free(b->identity);
        sim_free(c->identity);
        b->identity = c->identity = NULL;
    }
    int unpaired_b = nb - n_pairs, unpaired_c = nc - n_pairs;
    if (unpaired_b || unpaired_c) {
        printf("unpaired (no run of the same point in the other database):\n");
        print_unpaired(&sd[0], "baseline", o);
        print_unpaired(&sd[1], "candidate", o);
    }
    sim_free(pairs);
    if (n_pairs == 0 || missing) {
        fprintf(stderr, "moesim check: %s\n",
                n_pairs ? "the metric is missing from some runs"
                        : "no run pairs up (same scenario name, seed and resolved keys; "
                          "--ignore-key KEY pairs runs that differ in KEY)");
        return 2;
    }
    printf("%d pair%s, %d regression%s beyond %.4g%% (%s is better)", n_pairs,
           n_pairs == 1 ? "" : "s", regressions, regressions == 1 ? "" : "s", 100 * o->tol,
           o->higher ? "higher" : "lower");
    if (unpaired_b || unpaired_c)
        printf("; unpaired: %d baseline, %d candidate", unpaired_b, unpaired_c);
    putchar('\n');
    for (int s = 0; s < 2; s++)
        if (sd[s].shadowed)
            printf("note: %s has %d older run%s of the same point%s; the latest of each was "
                   "compared\n", sd[s].path, sd[s].shadowed, sd[s].shadowed == 1 ? "" : "s",
                   sd[s].shadowed == 1 ? "" : "s");
    return regressions ? 1 : 0;
}

static int parse_ignore(opts *o, const char *v, char **owned, int *n_owned)
{
    char *copy = sim_malloc(strlen(v) + 1);
    if (!copy)
        return cli_usage_error("check", "out of memory");
    strcpy(copy, v);
    owned[(*n_owned)++] = copy;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (!strchr(tok, '.') || tok[0] == '.')
            return cli_usage_error("check", "--ignore-key: expected section.key (got \"%s\")", tok);
        o->ignore[o->n_ignore++] = tok;
    }
    return 0;
}

int cli_check(int argc, char **argv)
{
    opts o = {.metric = "step_time_s", .tol = 0.02, .higher = -1};
    int n_db = 0, rc = 0, n_owned = 0;
    o.ignore = sim_calloc((size_t)argc + 1, sizeof *o.ignore);
    char **owned = sim_calloc((size_t)argc + 1, sizeof *owned);
    side sd[2] = {{0}, {0}};
    const char **keys = NULL;
    if (!o.ignore || !owned) {
        rc = cli_usage_error("check", "out of memory");
        goto out;
    }
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(check_usage, stdout);
            goto out;
        } else if (!strcmp(a, "--metric") || !strcmp(a, "--tolerance") ||
                   !strcmp(a, "--ignore-key")) {
            if (i + 1 >= argc) {
                rc = cli_usage_error("check", "%s needs a value", a);
                break;
            }
            const char *v = argv[++i];
            if (a[2] == 'm') {
                o.metric = v;
            } else if (a[2] == 'i') {
                rc = parse_ignore(&o, v, owned, &n_owned);
            } else {
                char *end;
                o.tol = strtod(v, &end);
                if (*end == '%') {
                    o.tol /= 100;
                    end++;
                }
                if (end == v || *end || !(o.tol >= 0) || !isfinite(o.tol))
                    rc = cli_usage_error("check", "--tolerance: expected e.g. 2%% or 0.02 (got \"%s\")", v);
            }
        } else if (!strcmp(a, "--higher-is-better")) {
            o.higher = 1;
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("check", "unknown option '%s'", a);
        } else if (n_db < 2) {
            o.dbs[n_db++] = a;
        } else {
            rc = cli_usage_error("check", "two databases: BASELINE.db CANDIDATE.db");
        }
    }
    if (rc)
        goto out;
    if (n_db != 2) {
        rc = cli_usage_error("check", "two databases: BASELINE.db CANDIDATE.db");
        goto out;
    }
    if (o.higher < 0)
        o.higher = higher_better_by_name(o.metric);
    sim_err err = {0};
    sd[0].path = o.dbs[0];
    sd[1].path = o.dbs[1];
    if (load_side(&sd[0], &o, &err) != SIM_OK || load_side(&sd[1], &o, &err) != SIM_OK) {
        rc = cli_fail(&err);
        goto out;
    }
    for (int k = 0; k < o.n_ignore; k++) {
        int known = 0;
        for (int s = 0; s < 2 && !known; s++)
            for (int r = 0; r < sd[s].runs.n_runs && !known; r++)
                known = res_run_value(&sd[s].runs.runs[r], o.ignore[k]) != NULL;
        if (!known && sd[0].runs.n_runs + sd[1].runs.n_runs > 0) {
            rc = cli_usage_error("check", "--ignore-key %s: no run has this key", o.ignore[k]);
            goto out;
        }
    }
    int n_keys = 0;
    if (!(keys = all_keys(sd, &n_keys))) {
        rc = cli_usage_error("check", "out of memory");
        goto out;
    }
    choose_keys(sd, keys, n_keys, &o);
    if (find_across(sd, &o, &err) != SIM_OK) {
        rc = cli_fail(&err);
        goto out;
    }
    if (index_side(&sd[0], &o, &err) != SIM_OK || index_side(&sd[1], &o, &err) != SIM_OK) {
        rc = cli_fail(&err);
        goto out;
    }
    rc = compare(sd, &o);
out:
    sim_free(keys);
    sim_free(o.across);
    side_fini(&sd[0]);
    side_fini(&sd[1]);
    for (int k = 0; k < n_owned; k++)
        sim_free(owned[k]);
    sim_free(owned);
    sim_free(o.ignore);
    return rc;
}
