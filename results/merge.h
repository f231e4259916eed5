/* results/merge.h: combining results databases (e.g. the shards of a sweep).
 *
 * Every run of every source is copied into the target with all its rows (every table with
 * a run_id column, whatever the schema version adds), under a new run id. A run is the
 * same run when its name, resolved keys, version, start time and wall time all match; such
 * a run already in the target is not copied again, so merging is idempotent. Each source
 * is merged in one transaction. Sources are migrated to the current schema first (as any
 * writing open does); a source written by a newer moesim is refused. */
#ifndef RESULTS_MERGE_H
#define RESULTS_MERGE_H

#include "sim/err.h"

typedef struct res_merge_stats {
    long runs_copied;
    long runs_skipped;       /* already present */
} res_merge_stats;

sim_status res_db_merge(const char *target, const char *const *sources, int n_sources,
                        res_merge_stats *stats, sim_err *err);

#endif
