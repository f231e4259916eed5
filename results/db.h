/* results/db.h: the SQLite results database (schema in docs/SCHEMA.md).
 *
 * A run is handed over as a plain data record (res_run) and written in one transaction:
 * a run that fails to write leaves nothing behind. The schema version lives in
 * PRAGMA user_version; opening a database written by a newer moesim is an error, an older
 * one is migrated forward. Knows nothing about how the numbers were produced.
 *
 * Ownership: res_run and everything it points to belong to the caller; the database
 * handle owns its connection. */
#ifndef RESULTS_DB_H
#define RESULTS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"

#define RES_SCHEMA_VERSION 4

typedef struct res_db res_db;

/* Routing metrics of one MoE layer in one step (schema 2; docs/ROUTING.md defines them). */
typedef struct res_layer {
    double max_mean_load;            /* worst EP group: busiest expert / mean (routed) */
    double max_mean_gpu_load;        /* worst EP group: busiest GPU / mean (kept tokens) */
    double cv;                       /* coefficient of variation of expert loads */
    double entropy;                  /* normalized routing entropy, 1 = uniform */
    double aux_loss;                 /* Switch aux loss E sum f_i P_i */
    double dropped_fraction;
    int cold_experts;
} res_layer;

/* One task of a step on the timeline (schema 3): a compute kernel on a GPU's stream, or a
 * message the GPU sent. Times are seconds from the start of the step. */
typedef struct res_span {
    int gpu;
    int stream;                      /* 0: compute, 1: network send */
    int category_index;              /* index into res_run.category_names */
    double start_s, end_s;
    double bytes;                    /* messages only; 0 for compute */
} res_span;

/* One link's traffic in one step (schema 4): the step keeps its busiest links only. */
typedef struct res_link {
    const char *name;                /* the link in words, e.g. "node 0 GPU 3 NIC up" */
    double capacity_bytes_per_s;     /* after efficiency */
    double bytes;                    /* carried during the step */
    double busy_s;                   /* time with at least one flow moving bytes over it */
} res_link;

/* The memory one GPU needs (schema 4), by part (weights, gradients, ...). */
typedef struct res_memory {
    int n_parts;
    const char *const *part_names;   /* [n_parts], distinct */
    const double *part_bytes;        /* [n_parts] */
    double total_bytes;
    double capacity_bytes;           /* the GPU's memory */
    int fits;                        /* total_bytes <= capacity_bytes */
} res_memory;

/* One simulated training step. Arrays are indexed as documented; counts live in res_run. */
typedef struct res_step {
    int step;                        /* 0-based */
    double step_time_s;
    double tokens;                   /* tokens processed in the step (whole cluster) */
    double dropped_tokens;           /* token-expert assignments dropped by capacity */
    double max_mean_load;            /* max over layers of max/mean expert load */
    uint64_t events;                 /* engine events for this step */
    const double *breakdown_s;       /* [n_categories], sums to step_time_s */
    const double *gpu_busy_s;        /* [n_gpus]: compute-stream busy time */
    const int64_t *expert_tokens;    /* [n_layers * n_experts], after dropping; may be NULL */
    const int64_t *expert_dropped;   /* [n_layers * n_experts]; may be NULL */
    /* schema 2 (routing); each may be NULL */
    const res_layer *layers;         /* [n_layers] */
    const int64_t *gpu_tokens;       /* [n_layers * n_gpus] kept assignments per GPU */
    const uint8_t *expert_cold;      /* [n_layers * n_experts] 1 = flagged cold; only with
                                        expert_tokens */
    /* schema 3 (timeline); may be NULL */
    const res_span *spans;           /* [n_spans] */
    size_t n_spans;
    /* schema 4 (links); may be NULL */
    const res_link *links;           /* [n_links], busiest first (rank 0) */
    int n_links;
} res_step;

/* A named scalar of the run (e.g. "tokens_per_s_per_gpu"). */
typedef struct res_metric {
    const char *name;
    double value;
} res_metric;

typedef struct res_run {
    const char *name;                /* scenario name, e.g. "default" */
    const char *scenario_text;       /* the scenario file as given */
    const char *resolved;            /* every key's resolved value, INI text */
    uint64_t seed;                   /* stored as the int64_t with the same bits */
    const char *version;             /* moesim version string */
    int64_t started_unix;            /* seconds since the epoch */
    double wall_s;                   /* simulator wall time */
    int n_gpus;
    int n_layers;                    /* MoE layers with expert loads */
    int n_experts;
    int n_categories;
    const char *const *category_names; /* [n_categories] */
    int n_steps;
    const res_step *steps;           /* [n_steps] */
    int n_metrics;
    const res_metric *metrics;       /* [n_metrics] */
    const res_memory *memory;        /* schema 4; NULL: not reported */
} res_run;

/* Opens (creating if absent) the database at path, creating or migrating the schema.
 * SIM_EIO with a message naming the path when it cannot be opened or created (for example
 * a missing directory); SIM_EINPUT (bad input: the user's file) when it was written by a
 * newer schema or is not a moesim database. */
sim_status res_db_open(const char *path, res_db **out, sim_err *err);

/* Opens an existing moesim database read-only (for plots and checks). Never creates or
 * migrates: SIM_EIO when it cannot be opened (for example it does not exist); SIM_EINPUT
 * when it was written by a newer or an older schema, or is not a moesim database. */
sim_status res_db_open_readonly(const char *path, res_db **out, sim_err *err);
void res_db_close(res_db *db);                  /* NULL: no-op */

/* Writes the whole run in one transaction; *run_id (if not NULL) receives its id.
 * SIM_EDB with SQLite's message when anything fails (a lock held too long, a duplicate
 * step number, category or metric name, a NaN where a number is required); the
 * transaction is then rolled back and nothing of the run remains.
 * Caller contract (assertions): the strings in res_run are not NULL; every array whose
 * count is positive is given; expert_dropped is given only together with expert_tokens;
 * events fits in int64_t. */
sim_status res_db_write_run(res_db *db, const res_run *run, int64_t *run_id, sim_err *err);

/* Looks for a run with exactly this name and resolved scenario text (which includes the
 * seed): *run_id receives its id, or 0 when there is none. */
sim_status res_db_find_run(res_db *db, const char *name, const char *resolved, int64_t *run_id,
                           sim_err *err);

/* Records that point `point` (the sweep's --set values for it, e.g. "model.layers=2
 * run.seed=1") of sweep `sweep` is stored as run run_id, replacing an earlier record of
 * the same point (schema 4, table sweep_points). point_index: its position in the sweep's
 * cartesian product, from 0. SIM_EDB when run_id is not a run of this database. */
sim_status res_db_record_point(res_db *db, const char *sweep, const char *point,
                               long point_index, int64_t run_id, sim_err *err);

/* The underlying connection, for readers (plots, checks, tests). Owned by db. */
struct sqlite3 *res_db_handle(res_db *db);

#endif
