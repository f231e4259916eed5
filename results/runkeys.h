/* results/runkeys.h: what tells the runs of a database apart.
 *
 * Each run's resolved keys (runs.resolved, INI text) are parsed into "section.key" = value
 * pairs, sorted by key. Over the runs loaded, the keys whose value is not the same in all of
 * them (a key missing from some run counts) are the differing keys; the label keys are the
 * ones a person would name: the differing keys that some sweep set explicitly (the keys of
 * sweep_points.point, in the sweep's --set order) followed by any other differing key that
 * tells apart two runs the sweep's keys do not (up to 500 runs), or, when no sweep names any,
 * every differing key (sorted). Pictures use them
 * for titles and bar labels, `moesim check` to show what a pair is.
 *
 * Ownership: a res_runs owns every string and array in it; res_runs_fini frees them. */
#ifndef RESULTS_RUNKEYS_H
#define RESULTS_RUNKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"

struct sqlite3;

typedef struct res_kv {
    char *key;                       /* "section.key" */
    char *value;
} res_kv;

typedef struct res_run_info {
    int64_t id;
    char *name;                      /* scenario name */
    int64_t seed;                    /* as stored (the uint64 seed's bits) */
    res_kv *kv;                      /* sorted by key */
    int n_kv;
} res_run_info;

typedef struct res_runs {
    res_run_info *runs;              /* ascending id */
    int n_runs;
    char **differing;                /* sorted */
    int n_differing;
    char **label_keys;               /* a subset of differing (see above for the order) */
    int n_label_keys;
    int n_names;                     /* distinct scenario names */
} res_runs;

/* Loads every run of the database behind h (runs.id, name, seed, resolved; the keys of
 * sweep_points when the table exists). SIM_EDB with the path on SQLite errors, SIM_ENOMEM. */
sim_status res_runs_load(struct sqlite3 *h, const char *db_path, res_runs *out, sim_err *err);
void res_runs_fini(res_runs *r);

/* The run with this id, or NULL. */
const res_run_info *res_runs_find(const res_runs *r, int64_t id);
/* Its value of "section.key", or NULL when the run has no such key. */
const char *res_run_value(const res_run_info *r, const char *key);

enum {
    RES_LABEL_NO_SEED = 1,           /* leave out run.seed (where the seed is shown anyway) */
    RES_LABEL_VALUES = 2,            /* values only: "1.25 2" */
};

/* "capacity_factor=1.25 layers=2": run's values of the label keys, short names (the part
 * after the dot, unless two label keys share it), joined by sep, at most max_keys of them
 * (then "+N"); flags: RES_LABEL_*. "" when no key tells the runs apart. Truncated to fit n. */
void res_runs_label(const res_runs *r, const res_run_info *run, const char *sep, int max_keys,
                    int flags, char *buf, size_t n);
/* "capacity_factor, layers": the label keys, short names, at most max_keys (then "and N
 * more"); "" when there are none. */
void res_runs_varying(const res_runs *r, int max_keys, char *buf, size_t n);
/* The scenario names: "default" or "default, skew" (at most 3, then "and N more"). */
void res_runs_names(const res_runs *r, char *buf, size_t n);

#endif
