/* results/db.c: the SQLite results database: opening, schema migrations, writing runs.
 *
 * The schema (docs/SCHEMA.md) is reached by a list of forward migrations, one per version
 * step, applied in one transaction when a database is opened for writing. A run is written
 * in one BEGIN IMMEDIATE transaction with prepared statements; any failure rolls it back.
 * Values are always bound, never formatted into SQL. */
#include "results/db.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "sim/alloc.h"

#define RES_BUSY_TIMEOUT_MS 5000

struct res_db {
    sqlite3 *conn;
    char *path;                      /* as given, for messages */
};

/* One forward migration: from version `from` to from + 1. Its SQL ends by setting
 * PRAGMA user_version to from + 1 (a pragma cannot take a bound parameter, so the number
 * is part of the constant text). Later versions append a step; steps are never edited. */
typedef struct res_migration {
    int from;
    const char *sql;
} res_migration;

static const char schema_v1[] =
    "CREATE TABLE runs (\n"
    "  id         INTEGER PRIMARY KEY,\n"
    "  name       TEXT NOT NULL,\n"
    "  scenario   TEXT NOT NULL,\n"
    "  resolved   TEXT NOT NULL,\n"
    "  seed       INTEGER NOT NULL,\n" /* uint64 seed as the int64 with the same bits */
    "  version    TEXT NOT NULL,\n"
    "  started_at TEXT NOT NULL,\n"    /* ISO-8601 UTC, e.g. 2024-05-01T12:00:00Z */
    "  wall_s     REAL NOT NULL,\n"
    "  n_gpus     INTEGER NOT NULL,\n"
    "  n_layers   INTEGER NOT NULL,\n"
    "  n_experts  INTEGER NOT NULL,\n"
    "  n_steps    INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE steps (\n"
    "  run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  step           INTEGER NOT NULL,\n"
    "  step_time_s    REAL NOT NULL,\n"
    "  tokens         REAL NOT NULL,\n"
    "  dropped_tokens REAL NOT NULL,\n"
    "  max_mean_load  REAL NOT NULL,\n"
    "  events         INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, step)\n"
    ");\n"
    "CREATE TABLE breakdown (\n"
    "  run_id         INTEGER NOT NULL,\n"
    "  step           INTEGER NOT NULL,\n"
    "  category       TEXT NOT NULL,\n"
    "  category_index INTEGER NOT NULL,\n"
    "  seconds        REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, step, category),\n"
    "  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE\n"
    ");\n"
    "CREATE TABLE gpu_busy (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  step   INTEGER NOT NULL,\n"
    "  gpu    INTEGER NOT NULL,\n"
    "  busy_s REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, step, gpu),\n"
    "  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE\n"
    ");\n"
    "CREATE TABLE expert_load (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  step    INTEGER NOT NULL,\n"
    "  layer   INTEGER NOT NULL,\n"
    "  expert  INTEGER NOT NULL,\n"
    "  tokens  INTEGER NOT NULL,\n"
    "  dropped INTEGER,\n"             /* NULL when the run did not report drops */
    "  PRIMARY KEY (run_id, step, layer, expert),\n"
    "  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE\n"
    ");\n"
    "CREATE TABLE metrics (\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  name   TEXT NOT NULL,\n"
    "  value  REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, name)\n"
    ");\n"
    "CREATE INDEX runs_name ON runs(name);\n"
    "PRAGMA user_version = 1;\n";

/* Schema 2: routing metrics per step and layer, tokens per GPU, cold experts. */
static const char schema_v2[] =
    "CREATE TABLE routing_layer (\n"
    "  run_id            INTEGER NOT NULL,\n"
    "  step              INTEGER NOT NULL,\n"
    "  layer             INTEGER NOT NULL,\n"
    "  max_mean_load     REAL NOT NULL,\n"
    "  max_mean_gpu_load REAL NOT NULL,\n"
    "  cv                REAL NOT NULL,\n"
    "  entropy           REAL NOT NULL,\n"
    "  aux_loss          REAL NOT NULL,\n"
    "  dropped_fraction  REAL NOT NULL,\n"
    "  cold_experts      INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, step, layer),\n"
    "  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE\n"
    ");\n"
    "CREATE TABLE gpu_load (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  step   INTEGER NOT NULL,\n"
    "  layer  INTEGER NOT NULL,\n"
    "  gpu    INTEGER NOT NULL,\n"
    "  tokens INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, step, layer, gpu),\n"
    "  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE\n"
    ");\n"
    "ALTER TABLE expert_load ADD COLUMN cold INTEGER;\n" /* NULL: not reported (schema 1) */
    "PRAGMA user_version = 2;\n";

/* Schema 3: the tasks of a step on its timeline (for Gantt charts). */
static const char schema_v3[] =
    "CREATE TABLE task_spans (\n"
    "  run_id         INTEGER NOT NULL,\n"
    "  step           INTEGER NOT NULL,\n"
    "  gpu            INTEGER NOT NULL,\n"
    "  stream         INTEGER NOT NULL,\n"      /* 0 compute, 1 network send */
    "  category_index INTEGER NOT NULL,\n"
    "  start_s        REAL NOT NULL,\n"
    "  end_s          REAL NOT NULL,\n"
    "  bytes          REAL NOT NULL,\n"
    "  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE\n"
    ");\n"
    "CREATE INDEX task_spans_run ON task_spans(run_id, step, gpu);\n"
    "PRAGMA user_version = 3;\n";

/* Schema 4: the busiest links per step, the memory footprint per GPU, the points of sweeps,
 * and an index to find a run by what it is (name and resolved keys: resume, merge). */
static const char schema_v4[] =
    "CREATE TABLE link_util (\n"
    "  run_id               INTEGER NOT NULL,\n"
    "  step                 INTEGER NOT NULL,\n"
    "  rank                 INTEGER NOT NULL,\n"   /* 0: the link that carried most bytes */
    "  link                 TEXT NOT NULL,\n"
    "  capacity_bytes_per_s REAL NOT NULL,\n"
    "  bytes                REAL NOT NULL,\n"
    "  busy_s               REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, step, rank),\n"
    "  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE\n"
    ");\n"
    "CREATE INDEX link_util_link ON link_util(link);\n"
    "CREATE TABLE memory (\n"
    "  run_id         INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  total_bytes    REAL NOT NULL,\n"
    "  capacity_bytes REAL NOT NULL,\n"
    "  fits           INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE memory_part (\n"
    "  run_id     INTEGER NOT NULL REFERENCES memory(run_id) ON DELETE CASCADE,\n"
    "  part       TEXT NOT NULL,\n"
    "  part_index INTEGER NOT NULL,\n"
    "  bytes      REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, part)\n"
    ");\n"
    "CREATE TABLE sweep_points (\n"
    "  sweep       TEXT NOT NULL,\n"
    "  point       TEXT NOT NULL,\n"               /* the point's --set values */
    "  point_index INTEGER NOT NULL,\n"
    "  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  PRIMARY KEY (sweep, point)\n"
    ");\n"
    "CREATE INDEX sweep_points_run ON sweep_points(run_id);\n"
    "CREATE INDEX runs_point ON runs(name, resolved);\n"
    "PRAGMA user_version = 4;\n";

static const res_migration migrations[] = {
    {0, schema_v1},
    {1, schema_v2},
    {2, schema_v3},
    {3, schema_v4},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sim_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* SIM_EIO for failures of the file itself, SIM_EDB for everything else SQLite reports. */
static sim_status status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_FULL:
        return SIM_EIO;
    case SQLITE_NOMEM:
        return SIM_ENOMEM;
    default:
        return SIM_EDB;
    }
}

/* Runs a statement that returns at most one integer; *value is left alone if no row. */
static int query_int(sqlite3 *c, const char *sql, int64_t *value)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    /* On error, finalize keeps the connection's error message for the caller. */
    sqlite3_finalize(st);
    return rc;
}

/* Sets WAL journal mode. Databases that cannot use WAL (in-memory ones) keep their mode.
 * WAL is a property of the file: once any process has set it, the others find it set. The
 * switch takes an exclusive lock, and SQLite answers SQLITE_BUSY at once (without its busy
 * handler) while another connection reads, so the switch is retried until the busy
 * timeout. */
static int set_wal(sqlite3 *c)
{
    int rc = SQLITE_OK;
    for (int waited_ms = 0;; waited_ms += 10) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(c, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc != SQLITE_OK)
            return rc;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_finalize(st);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return rc;
        if (waited_ms >= RES_BUSY_TIMEOUT_MS)
            return rc;
        sqlite3_sleep(10);
    }
}

/* The message names the database, what failed, SQLite's reason and, for I/O failures, the
 * system's (e.g. "No space left on device"). */
static sim_status fail_sqlite(res_db *db, int rc, const char *what, sim_err *err)
{
    int sys = (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL ||
                      (rc & 0xff) == SQLITE_CANTOPEN
                  ? sqlite3_system_errno(db->conn)
                  : 0;
    return sim_err_set(err, status_of(rc), "%s: %s: %s%s%s%s", db->path, what,
                       sqlite3_errmsg(db->conn), sys ? " (" : "", sys ? strerror(sys) : "",
                       sys ? ")" : "");
}

static void rollback(sqlite3 *c)
{
    if (!sqlite3_get_autocommit(c))
        sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
}

/* Brings a writable database from its version up to RES_SCHEMA_VERSION in one transaction.
 * Another process may have migrated it since we looked, so the version is read again
 * under the write lock. */
static sim_status migrate(res_db *db, sim_err *err)
{
    sqlite3 *c = db->conn;
    int64_t version = 0;
    int rc = sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail_sqlite(db, rc, "cannot create the schema", err);
    rc = query_int(c, "PRAGMA user_version", &version);
    if (rc != SQLITE_OK)
        goto fail_rollback;
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        if (migrations[i].from != version)
            continue;
        rc = sqlite3_exec(c, migrations[i].sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto fail_rollback;
        rc = query_int(c, "PRAGMA user_version", &version);
        if (rc != SQLITE_OK)
            goto fail_rollback;
        assert(version == migrations[i].from + 1 && "a migration must set user_version");
    }
    if (version > RES_SCHEMA_VERSION) {        /* a newer moesim got there first */
        rollback(c);
        return sim_err_set(err, SIM_EINPUT,
                           "%s: written by a newer moesim (schema %lld, this one reads up to %d)",
                           db->path, (long long)version, RES_SCHEMA_VERSION);
    }
    assert(version == RES_SCHEMA_VERSION && "no migration path to RES_SCHEMA_VERSION");
    rc = sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail_rollback;
    return SIM_OK;

fail_rollback:;
    sim_status s = fail_sqlite(db, rc, "cannot create the schema", err);
    rollback(c);
    return s;
}

/* Checks the schema version and, when writable, sets WAL and creates or migrates. */
static sim_status prepare_schema(res_db *db, int writable, sim_err *err)
{
    sqlite3 *c = db->conn;
    int64_t version = 0, n_objects = 0;

    /* Read the version and count the objects in one read transaction, so that another
     * process creating the schema at the same moment is seen either not at all or whole. */
    int rc = sqlite3_exec(c, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail_sqlite(db, rc, "cannot read the schema version", err);
    /* The first statement that reads the file: a text file fails here (SQLITE_NOTADB). */
    rc = query_int(c, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK && version == 0)
        rc = query_int(c,
                       "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' "
                       "ESCAPE '\\'",
                       &n_objects);
    int notadb = rc == SQLITE_NOTADB;
    const char *why = notadb ? sqlite3_errmsg(c) : NULL;
    char why_buf[256] = "";
    if (why)
        snprintf(why_buf, sizeof why_buf, "%s", why);
    sqlite3_exec(c, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    if (notadb)
        return sim_err_set(err, SIM_EINPUT, "%s: not a moesim database: %s", db->path, why_buf);
    if (rc != SQLITE_OK)
        return fail_sqlite(db, rc, "cannot read the schema version", err);
    if (version > RES_SCHEMA_VERSION)
        return sim_err_set(err, SIM_EINPUT,
                           "%s: written by a newer moesim (schema %lld, this one reads up to %d)",
                           db->path, (long long)version, RES_SCHEMA_VERSION);
    if (version < 0)
        return sim_err_set(err, SIM_EINPUT, "%s: not a moesim database (schema version %lld)",
                           db->path, (long long)version);
    if (version == 0 && n_objects > 0)
        return sim_err_set(err, SIM_EINPUT,
                           "%s: not a moesim database (it has tables but no moesim "
                           "schema version)",
                           db->path);

    rc = sqlite3_exec(c, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return fail_sqlite(db, rc, "cannot enable foreign keys", err);

    if (!writable) {
        if (version == 0)
            return sim_err_set(err, SIM_EINPUT, "%s: not a moesim database (no moesim schema)",
                               db->path);
        if (version < RES_SCHEMA_VERSION)
            return sim_err_set(err, SIM_EINPUT,
                               "%s: written by an older moesim (schema %lld); open it for "
                               "writing once to migrate it to schema %d",
                               db->path, (long long)version, RES_SCHEMA_VERSION);
        return SIM_OK;
    }

    rc = set_wal(c);
    if (rc != SQLITE_OK)
        return fail_sqlite(db, rc, "cannot set WAL journal mode", err);
    if (version < RES_SCHEMA_VERSION)
        return migrate(db, err);
    return SIM_OK;
}

static sim_status db_open(const char *path, int writable, res_db **out, sim_err *err)
{
    assert(path && out);
    sim_status s;
    res_db *db = sim_calloc(1, sizeof *db);
    if (!db)
        return sim_err_set(err, SIM_ENOMEM, "%s: out of memory opening the database", path);
    db->path = dup_str(path);
    if (!db->path) {
        s = sim_err_set(err, SIM_ENOMEM, "%s: out of memory opening the database", path);
        goto fail_free;
    }

    int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    int rc = sqlite3_open_v2(path, &db->conn, flags, NULL);
    if (rc != SQLITE_OK) {
        if (!db->conn) {
            s = sim_err_set(err, SIM_ENOMEM, "%s: out of memory opening the database", path);
            goto fail_free;
        }
        int sys = sqlite3_system_errno(db->conn);
        s = sim_err_set(err, (rc & 0xff) == SQLITE_NOMEM ? SIM_ENOMEM : SIM_EIO,
                        "%s: cannot open database: %s%s%s%s", path, sqlite3_errmsg(db->conn),
                        sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
        goto fail_close;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, RES_BUSY_TIMEOUT_MS);

    if (writable && sqlite3_db_readonly(db->conn, "main") == 1) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot write: the database is read-only", path);
        goto fail_close;
    }
    s = prepare_schema(db, writable, err);
    if (s != SIM_OK)
        goto fail_close;
    *out = db;
    return SIM_OK;

fail_close:
    sqlite3_close(db->conn);
fail_free:
    sim_free(db->path);
    sim_free(db);
    return s;
}

sim_status res_db_open(const char *path, res_db **out, sim_err *err)
{
    return db_open(path, 1, out, err);
}

sim_status res_db_open_readonly(const char *path, res_db **out, sim_err *err)
{
    return db_open(path, 0, out, err);
}

void res_db_close(res_db *db)
{
    if (!db)
        return;
    /* Statements are finalized where they are used, so close cannot be refused as busy. */
    int rc = sqlite3_close(db->conn);
    assert(rc == SQLITE_OK && "a statement was left unfinalized");
    (void)rc;
    sim_free(db->path);
    sim_free(db);
}

struct sqlite3 *res_db_handle(res_db *db)
{
    assert(db);
    return db->conn;
}

/* ---- writing a run ---- */

enum { ST_RUN, ST_STEP, ST_BREAKDOWN, ST_GPU, ST_EXPERT, ST_METRIC, ST_LAYER, ST_GPU_LOAD,
       ST_SPAN, ST_LINK, ST_MEMORY, ST_MEMORY_PART, ST_COUNT };

static const char *const insert_sql[ST_COUNT] = {
    [ST_RUN] = "INSERT INTO runs (name, scenario, resolved, seed, version, started_at, wall_s, "
               "n_gpus, n_layers, n_experts, n_steps) VALUES (?1, ?2, ?3, ?4, ?5, "
               "strftime('%Y-%m-%dT%H:%M:%SZ', ?6, 'unixepoch'), ?7, ?8, ?9, ?10, ?11)",
    [ST_STEP] = "INSERT INTO steps (run_id, step, step_time_s, tokens, dropped_tokens, "
                "max_mean_load, events) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_BREAKDOWN] = "INSERT INTO breakdown (run_id, step, category, category_index, seconds) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_GPU] = "INSERT INTO gpu_busy (run_id, step, gpu, busy_s) VALUES (?1, ?2, ?3, ?4)",
    [ST_EXPERT] = "INSERT INTO expert_load (run_id, step, layer, expert, tokens, dropped, "
                  "cold) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_METRIC] = "INSERT INTO metrics (run_id, name, value) VALUES (?1, ?2, ?3)",
    [ST_LAYER] = "INSERT INTO routing_layer (run_id, step, layer, max_mean_load, "
                 "max_mean_gpu_load, cv, entropy, aux_loss, dropped_fraction, cold_experts) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_GPU_LOAD] = "INSERT INTO gpu_load (run_id, step, layer, gpu, tokens) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_SPAN] = "INSERT INTO task_spans (run_id, step, gpu, stream, category_index, start_s, "
                "end_s, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_LINK] = "INSERT INTO link_util (run_id, step, rank, link, capacity_bytes_per_s, bytes, "
                "busy_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_MEMORY] = "INSERT INTO memory (run_id, total_bytes, capacity_bytes, fits) "
                  "VALUES (?1, ?2, ?3, ?4)",
    [ST_MEMORY_PART] = "INSERT INTO memory_part (run_id, part, part_index, bytes) "
                       "VALUES (?1, ?2, ?3, ?4)",
};

/* The uint64 seed as the int64 with the same bits (two's complement), without relying on
 * the implementation-defined conversion. */
static int64_t seed_bits(uint64_t seed)
{
    int64_t v;
    memcpy(&v, &seed, sizeof v);
    return v;
}

static void check_run(const res_run *run)
{
    assert(run->name && run->scenario_text && run->resolved && run->version);
    assert(run->n_gpus >= 0 && run->n_layers >= 0 && run->n_experts >= 0);
    assert(run->n_categories >= 0 && run->n_steps >= 0 && run->n_metrics >= 0);
    assert(run->n_categories == 0 || run->category_names);
    for (int c = 0; c < run->n_categories; c++)
        assert(run->category_names[c]);
    assert(run->n_steps == 0 || run->steps);
    assert(run->n_metrics == 0 || run->metrics);
    for (int m = 0; m < run->n_metrics; m++)
        assert(run->metrics[m].name);
    for (int i = 0; i < run->n_steps; i++) {
        const res_step *s = &run->steps[i];
        assert(run->n_categories == 0 || s->breakdown_s);
        assert(run->n_gpus == 0 || s->gpu_busy_s);
        assert(!s->expert_dropped || s->expert_tokens);
        assert(!s->expert_cold || s->expert_tokens);
        assert(s->events <= (uint64_t)INT64_MAX);
        assert(s->n_links >= 0 && (s->n_links == 0 || s->links));
        for (int l = 0; l < s->n_links; l++)
            assert(s->links[l].name);
    }
    if (run->memory) {
        assert(run->memory->n_parts >= 0);
        assert(run->memory->n_parts == 0 ||
               (run->memory->part_names && run->memory->part_bytes));
        for (int p = 0; p < run->memory->n_parts; p++)
            assert(run->memory->part_names[p]);
    }
}

/* Steps an INSERT and resets it for the next row; on error the statement is left as it
 * is, so the connection still holds the message. */
static int insert_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        return rc;
    return sqlite3_reset(st);
}

/* Schema 2: the step's routing metrics per layer and tokens per GPU and layer. */
static int write_routing(sqlite3_stmt **st, int64_t id, const res_run *run, const res_step *s)
{
    int rc = SQLITE_OK;
    sqlite3_stmt *q = st[ST_LAYER];
    for (int l = 0; s->layers && l < run->n_layers; l++) {
        const res_layer *m = &s->layers[l];
        if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
            (rc = sqlite3_bind_int(q, 3, l)) ||
            (rc = sqlite3_bind_double(q, 4, m->max_mean_load)) ||
            (rc = sqlite3_bind_double(q, 5, m->max_mean_gpu_load)) ||
            (rc = sqlite3_bind_double(q, 6, m->cv)) ||
            (rc = sqlite3_bind_double(q, 7, m->entropy)) ||
            (rc = sqlite3_bind_double(q, 8, m->aux_loss)) ||
            (rc = sqlite3_bind_double(q, 9, m->dropped_fraction)) ||
            (rc = sqlite3_bind_int(q, 10, m->cold_experts)) || (rc = insert_row(q)))
            return rc;
    }
    q = st[ST_GPU_LOAD];
    for (int l = 0; s->gpu_tokens && l < run->n_layers; l++)
        for (int g = 0; g < run->n_gpus; g++) {
            if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
                (rc = sqlite3_bind_int(q, 3, l)) || (rc = sqlite3_bind_int(q, 4, g)) ||
                (rc = sqlite3_bind_int64(q, 5, s->gpu_tokens[(size_t)l * run->n_gpus + g])) ||
                (rc = insert_row(q)))
                return rc;
        }
    q = st[ST_SPAN];
    for (size_t i = 0; s->spans && i < s->n_spans; i++) {
        const res_span *p = &s->spans[i];
        assert(p->category_index >= 0 && p->category_index < run->n_categories);
        if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
            (rc = sqlite3_bind_int(q, 3, p->gpu)) || (rc = sqlite3_bind_int(q, 4, p->stream)) ||
            (rc = sqlite3_bind_int(q, 5, p->category_index)) ||
            (rc = sqlite3_bind_double(q, 6, p->start_s)) ||
            (rc = sqlite3_bind_double(q, 7, p->end_s)) ||
            (rc = sqlite3_bind_double(q, 8, p->bytes)) || (rc = insert_row(q)))
            return rc;
    }
    q = st[ST_LINK];
    for (int l = 0; s->links && l < s->n_links; l++) {
        const res_link *k = &s->links[l];
        if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
            (rc = sqlite3_bind_int(q, 3, l)) ||
            (rc = sqlite3_bind_text(q, 4, k->name, -1, SQLITE_STATIC)) ||
            (rc = sqlite3_bind_double(q, 5, k->capacity_bytes_per_s)) ||
            (rc = sqlite3_bind_double(q, 6, k->bytes)) ||
            (rc = sqlite3_bind_double(q, 7, k->busy_s)) || (rc = insert_row(q)))
            return rc;
    }
    return SQLITE_OK;
}

/* Schema 4: the run's memory footprint per GPU, total and by part. */
static int write_memory(sqlite3_stmt **st, int64_t id, const res_memory *m)
{
    int rc = SQLITE_OK;
    sqlite3_stmt *q = st[ST_MEMORY];
    if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_double(q, 2, m->total_bytes)) ||
        (rc = sqlite3_bind_double(q, 3, m->capacity_bytes)) ||
        (rc = sqlite3_bind_int(q, 4, m->fits != 0)) || (rc = insert_row(q)))
        return rc;
    q = st[ST_MEMORY_PART];
    for (int p = 0; p < m->n_parts; p++) {
        if ((rc = sqlite3_bind_int64(q, 1, id)) ||
            (rc = sqlite3_bind_text(q, 2, m->part_names[p], -1, SQLITE_STATIC)) ||
            (rc = sqlite3_bind_int(q, 3, p)) ||
            (rc = sqlite3_bind_double(q, 4, m->part_bytes[p])) || (rc = insert_row(q)))
            return rc;
    }
    return SQLITE_OK;
}

static int write_step(sqlite3_stmt **st, int64_t id, const res_run *run, const res_step *s)
{
    sqlite3_stmt *q = st[ST_STEP];
    int rc = SQLITE_OK;
    if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
        (rc = sqlite3_bind_double(q, 3, s->step_time_s)) ||
        (rc = sqlite3_bind_double(q, 4, s->tokens)) ||
        (rc = sqlite3_bind_double(q, 5, s->dropped_tokens)) ||
        (rc = sqlite3_bind_double(q, 6, s->max_mean_load)) ||
        (rc = sqlite3_bind_int64(q, 7, (int64_t)s->events)) || (rc = insert_row(q)))
        return rc;

    q = st[ST_BREAKDOWN];
    for (int c = 0; c < run->n_categories; c++) {
        if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
            (rc = sqlite3_bind_text(q, 3, run->category_names[c], -1, SQLITE_STATIC)) ||
            (rc = sqlite3_bind_int(q, 4, c)) ||
            (rc = sqlite3_bind_double(q, 5, s->breakdown_s[c])) || (rc = insert_row(q)))
            return rc;
    }

    q = st[ST_GPU];
    for (int g = 0; g < run->n_gpus; g++) {
        if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
            (rc = sqlite3_bind_int(q, 3, g)) ||
            (rc = sqlite3_bind_double(q, 4, s->gpu_busy_s[g])) || (rc = insert_row(q)))
            return rc;
    }

    if (!s->expert_tokens)
        return write_routing(st, id, run, s);
    q = st[ST_EXPERT];
    for (int l = 0; l < run->n_layers; l++) {
        for (int e = 0; e < run->n_experts; e++) {
            size_t k = (size_t)l * (size_t)run->n_experts + (size_t)e;
            if ((rc = sqlite3_bind_int64(q, 1, id)) || (rc = sqlite3_bind_int(q, 2, s->step)) ||
                (rc = sqlite3_bind_int(q, 3, l)) || (rc = sqlite3_bind_int(q, 4, e)) ||
                (rc = sqlite3_bind_int64(q, 5, s->expert_tokens[k])) ||
                (rc = s->expert_dropped ? sqlite3_bind_int64(q, 6, s->expert_dropped[k])
                                        : sqlite3_bind_null(q, 6)) ||
                (rc = s->expert_cold ? sqlite3_bind_int(q, 7, s->expert_cold[k])
                                     : sqlite3_bind_null(q, 7)) ||
                (rc = insert_row(q)))
                return rc;
        }
    }
    return write_routing(st, id, run, s);
}

sim_status res_db_write_run(res_db *db, const res_run *run, int64_t *run_id, sim_err *err)
{
    assert(db && run);
    check_run(run);
    sqlite3 *c = db->conn;
    sqlite3_stmt *st[ST_COUNT] = {0};
    sim_status s = SIM_OK;
    int64_t id = 0;

    int rc = sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v2(c, insert_sql[i], -1, &st[i], NULL);
        if (rc != SQLITE_OK)
            goto fail;
    }

    sqlite3_stmt *q = st[ST_RUN];
    if ((rc = sqlite3_bind_text(q, 1, run->name, -1, SQLITE_STATIC)) ||
        (rc = sqlite3_bind_text(q, 2, run->scenario_text, -1, SQLITE_STATIC)) ||
        (rc = sqlite3_bind_text(q, 3, run->resolved, -1, SQLITE_STATIC)) ||
        (rc = sqlite3_bind_int64(q, 4, seed_bits(run->seed))) ||
        (rc = sqlite3_bind_text(q, 5, run->version, -1, SQLITE_STATIC)) ||
        (rc = sqlite3_bind_int64(q, 6, run->started_unix)) ||
        (rc = sqlite3_bind_double(q, 7, run->wall_s)) ||
        (rc = sqlite3_bind_int(q, 8, run->n_gpus)) ||
        (rc = sqlite3_bind_int(q, 9, run->n_layers)) ||
        (rc = sqlite3_bind_int(q, 10, run->n_experts)) ||
        (rc = sqlite3_bind_int(q, 11, run->n_steps)) || (rc = insert_row(q)))
        goto fail;
    id = sqlite3_last_insert_rowid(c);

    for (int i = 0; i < run->n_steps; i++) {
        rc = write_step(st, id, run, &run->steps[i]);
        if (rc != SQLITE_OK)
            goto fail;
    }

    q = st[ST_METRIC];
    for (int m = 0; m < run->n_metrics; m++) {
        if ((rc = sqlite3_bind_int64(q, 1, id)) ||
            (rc = sqlite3_bind_text(q, 2, run->metrics[m].name, -1, SQLITE_STATIC)) ||
            (rc = sqlite3_bind_double(q, 3, run->metrics[m].value)) || (rc = insert_row(q)))
            goto fail;
    }
    if (run->memory && (rc = write_memory(st, id, run->memory)) != SQLITE_OK)
        goto fail;

    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(st[i]);
        st[i] = NULL;
    }
    rc = sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    if (run_id)
        *run_id = id;
    return SIM_OK;

fail:
    /* The message first: finalizing and rolling back may replace it. */
    s = sim_err_set(err, SIM_EDB, "%s: cannot write run '%s': %s", db->path, run->name, sqlite3_errmsg(c));
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st[i]);
    rollback(c);
    return s;
}

sim_status res_db_find_run(res_db *db, const char *name, const char *resolved, int64_t *run_id,
                           sim_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(res_db_handle(db),
                                "SELECT id FROM runs WHERE name = ?1 AND resolved = ?2 "
                                "ORDER BY id LIMIT 1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, resolved, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *run_id = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        *run_id = 0;
    sim_status s = SIM_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = sim_err_set(err, SIM_EDB, "looking up a run: %s",
                        sqlite3_errmsg(res_db_handle(db)));
    sqlite3_finalize(st);
    return s;
}

sim_status res_db_record_point(res_db *db, const char *sweep, const char *point,
                               long point_index, int64_t run_id, sim_err *err)
{
    assert(db && sweep && point);
    sqlite3 *c = res_db_handle(db);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c,
                                "INSERT OR REPLACE INTO sweep_points (sweep, point, point_index, "
                                "run_id) VALUES (?1, ?2, ?3, ?4)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK && !(rc = sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC)) &&
        !(rc = sqlite3_bind_text(st, 2, point, -1, SQLITE_STATIC)) &&
        !(rc = sqlite3_bind_int64(st, 3, point_index)) &&
        !(rc = sqlite3_bind_int64(st, 4, run_id)))
        rc = sqlite3_step(st);
    sim_status s = SIM_OK;
    if (rc != SQLITE_DONE)
        s = sim_err_set(err, SIM_EDB, "%s: cannot record sweep point %s: %s", db->path, point,
                        sqlite3_errmsg(c));
    sqlite3_finalize(st);
    return s;
}
