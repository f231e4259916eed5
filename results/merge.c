/* results/merge.c: copies runs between results databases without duplicates: a run is
 * identified by what it is (scenario name and resolved keys), looked up through the index
 * runs_point. */
#include "results/merge.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "results/db.h"
#include "sim/alloc.h"

/* Builds "INSERT INTO main.T (a, b, run_id, ...) SELECT a, b, ?1, ... FROM src.T WHERE
 * run_id = ?2" for table T; NULL when T has no run_id column (or on error). */
static char *copy_sql(sqlite3 *h, const char *table)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT name FROM pragma_table_info('%s', 'main')", table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, q, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    size_t cap = 4096;
    char *cols = sim_calloc(1, cap), *sel = sim_calloc(1, cap), *sql = NULL;
    int has_run = 0;
    while (cols && sel && sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (strlen(cols) + strlen(c) + 8 >= cap)
            goto done;
        if (cols[0]) {
            strcat(cols, ", ");
            strcat(sel, ", ");
        }
        strcat(cols, "\"");
        strcat(cols, c);
        strcat(cols, "\"");
        if (strcmp(c, "run_id") == 0) {
            strcat(sel, "?1");
            has_run = 1;
        } else {
            strcat(sel, "\"");
            strcat(sel, c);
            strcat(sel, "\"");
        }
    }
    if (!has_run)
        goto done;
    size_t n = strlen(cols) + strlen(sel) + 2 * strlen(table) + 96;
    sql = sim_malloc(n);
    if (sql)
        snprintf(sql, n, "INSERT INTO main.\"%s\" (%s) SELECT %s FROM src.\"%s\" WHERE run_id = ?2",
                 table, cols, sel, table);
done:
    sqlite3_finalize(st);
    sim_free(cols);
    sim_free(sel);
    return sql;
}

static sim_status fail(sqlite3 *h, const char *what, const char *src, sim_err *err)
{
    return sim_err_set(err, SIM_EDB, "%s: %s: %s", src, what, sqlite3_errmsg(h));
}

#define RUN_COLS "name, scenario, resolved, seed, version, started_at, wall_s, n_gpus, " \
                 "n_layers, n_experts, n_steps"

/* Merges one source in one transaction; *total grows by its counts only when it commits. */
static sim_status merge_one(res_db *db, const char *src, res_merge_stats *total, sim_err *err)
{
    res_merge_stats counts = {0}, *stats = &counts;
    sqlite3 *h = res_db_handle(db);
    /* migrate the source to this schema (and refuse newer ones) by opening it */
    res_db *sdb = NULL;
    sim_status s = res_db_open(src, &sdb, err);
    res_db_close(sdb);
    if (s != SIM_OK)
        return s;
    sqlite3_stmt *att = NULL, *runs = NULL, *exists = NULL, *ins = NULL, *tabs = NULL;
    sqlite3_stmt *points = NULL;
    sqlite3_stmt *copy[32] = {0};
    int n_copy = 0;
    if (sqlite3_prepare_v2(h, "ATTACH DATABASE ?1 AS src", -1, &att, NULL) != SQLITE_OK)
        return fail(h, "cannot attach", src, err);
    sqlite3_bind_text(att, 1, src, -1, SQLITE_STATIC);
    int rc = sqlite3_step(att);
    sqlite3_finalize(att);
    if (rc != SQLITE_DONE)
        return fail(h, "cannot attach", src, err);
    s = SIM_OK;
    if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        s = fail(h, "cannot begin", src, err);
        goto detach;
    }
    /* tables with a run_id column, in creation order (parents before children); sweep_points
     * is keyed by the point, not the run, and is copied on its own below */
    if (sqlite3_prepare_v2(h, "SELECT name FROM main.sqlite_master WHERE type = 'table' AND "
                              "name NOT IN ('runs', 'sweep_points') ORDER BY rowid",
                           -1, &tabs, NULL) != SQLITE_OK)
        goto db_fail;
    while (sqlite3_step(tabs) == SQLITE_ROW && n_copy < 32) {
        char *sql = copy_sql(h, (const char *)sqlite3_column_text(tabs, 0));
        if (!sql)
            continue;
        rc = sqlite3_prepare_v2(h, sql, -1, &copy[n_copy], NULL);
        sim_free(sql);
        if (rc != SQLITE_OK)
            goto db_fail;
        n_copy++;
    }
    if (sqlite3_prepare_v2(h, "SELECT id FROM src.runs ORDER BY id", -1, &runs, NULL) ||
        sqlite3_prepare_v2(h, "SELECT m.id, m.version = s.version FROM src.runs s "
                              "JOIN main.runs m INDEXED BY runs_point "
                              "ON m.name = s.name AND m.resolved = s.resolved "
                              "WHERE s.id = ?1 ORDER BY m.id LIMIT 1", -1, &exists, NULL) ||
        sqlite3_prepare_v2(h, "INSERT OR IGNORE INTO main.sweep_points (sweep, point, "
                              "point_index, run_id) SELECT sweep, point, point_index, ?1 "
                              "FROM src.sweep_points WHERE run_id = ?2", -1, &points, NULL) ||
        sqlite3_prepare_v2(h, "INSERT INTO main.runs (" RUN_COLS ") SELECT " RUN_COLS
                              " FROM src.runs WHERE id = ?1", -1, &ins, NULL))
        goto db_fail;
    while ((rc = sqlite3_step(runs)) == SQLITE_ROW) {
        sqlite3_int64 old = sqlite3_column_int64(runs, 0);
        sqlite3_reset(exists);
        sqlite3_bind_int64(exists, 1, old);
        rc = sqlite3_step(exists);
        sqlite3_int64 target_id;
        if (rc == SQLITE_ROW) {
            target_id = sqlite3_column_int64(exists, 0);
            stats->runs_skipped++;
            stats->runs_other_version += sqlite3_column_int(exists, 1) == 0;
        } else if (rc == SQLITE_DONE) {
            sqlite3_reset(ins);
            sqlite3_bind_int64(ins, 1, old);
            if (sqlite3_step(ins) != SQLITE_DONE)
                goto db_fail;
            target_id = sqlite3_last_insert_rowid(h);
            for (int t = 0; t < n_copy; t++) {
                sqlite3_reset(copy[t]);
                sqlite3_bind_int64(copy[t], 1, target_id);
                sqlite3_bind_int64(copy[t], 2, old);
                if (sqlite3_step(copy[t]) != SQLITE_DONE)
                    goto db_fail;
            }
            stats->runs_copied++;
        } else {
            goto db_fail;
        }
        sqlite3_reset(points);
        sqlite3_bind_int64(points, 1, target_id);
        sqlite3_bind_int64(points, 2, old);
        if (sqlite3_step(points) != SQLITE_DONE)
            goto db_fail;
    }
    if (rc != SQLITE_DONE)
        goto db_fail;
    if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        total->runs_copied += counts.runs_copied;
        total->runs_skipped += counts.runs_skipped;
        total->runs_other_version += counts.runs_other_version;
        goto finish;
    }
db_fail:
    s = fail(h, "cannot merge", src, err);
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
finish:
    sqlite3_finalize(tabs);
    sqlite3_finalize(runs);
    sqlite3_finalize(exists);
    sqlite3_finalize(ins);
    sqlite3_finalize(points);
    for (int t = 0; t < n_copy; t++)
        sqlite3_finalize(copy[t]);
detach:
    sqlite3_exec(h, "DETACH DATABASE src", NULL, NULL, NULL);
    return s;
}

sim_status res_db_merge(const char *target, const char *const *sources, int n_sources,
                        res_merge_stats *stats, sim_err *err)
{
    res_merge_stats st = {0};
    res_db *db = NULL;
    sim_status s = res_db_open(target, &db, err);
    for (int i = 0; s == SIM_OK && i < n_sources; i++) {
        if (strcmp(sources[i], target) == 0) {
            s = sim_err_set(err, SIM_EINPUT, "%s: a database cannot be merged into itself",
                            target);
            break;
        }
        s = merge_one(db, sources[i], &st, err);
    }
    res_db_close(db);
    if (stats)
        *stats = st;
    return s;
}
