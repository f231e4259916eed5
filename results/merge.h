/* results/merge.h: combining results databases (e.g. the shards of a sweep).
 *
 * Every run of every source is copied into the target with all its rows (every table with
 * a run_id column, whatever the schema version adds), under a new run id, unless the
 * target already holds the same point: a run with the same scenario name and resolved keys
 * (the seed is one of them). Runs are deterministic, so such a run has the same rows; it
 * is not copied again, whatever its start time, wall time or moesim version (the version
 * of the run kept is the one already in the target; runs_other_version counts the cases
 * where they differ). So merging is idempotent, and merging two separately run copies of a
 * sweep gives each point once. Sweep records (sweep_points) come along and, for a point
 * already there, point at the target's run; a (sweep, point) already recorded is kept.
 * Each source is merged in one transaction. Sources are migrated to the current schema
 * first (as any writing open does); a source written by a newer moesim is refused. */
#ifndef RESULTS_MERGE_H
#define RESULTS_MERGE_H

#include "sim/err.h"

typedef struct res_merge_stats {
    long runs_copied;
    long runs_skipped;       /* the same point was already present */
    long runs_other_version; /* of those, how many came from another moesim version */
} res_merge_stats;

sim_status res_db_merge(const char *target, const char *const *sources, int n_sources,
                        res_merge_stats *stats, sim_err *err);

#endif
