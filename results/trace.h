/* results/trace.h: Chrome trace event files (JSON), which Perfetto (ui.perfetto.dev) and
 * chrome://tracing open.
 *
 * Events are streamed to a temporary file next to the target and renamed into place by
 * res_trace_close, so the target holds either nothing new or a whole trace. Processes and
 * threads (tracks) are named with res_trace_name_*; a "complete" event is a span on one
 * track; an "async" span may overlap others on its track (used for network flows).
 * Times are microseconds (double). Strings are escaped by cJSON. */
#ifndef RESULTS_TRACE_H
#define RESULTS_TRACE_H

#include <stdint.h>

#include "results/db.h"
#include "sim/err.h"

typedef struct res_trace res_trace;

sim_status res_trace_open(const char *path, res_trace **out, sim_err *err);
/* Finishes the file and renames it into place; frees t in every case. */
sim_status res_trace_close(res_trace *t, sim_err *err);
/* Abandons the trace: removes the temporary file, frees t (NULL: no-op). */
void res_trace_abort(res_trace *t);

void res_trace_name_process(res_trace *t, int pid, const char *name, int sort_index);
void res_trace_name_thread(res_trace *t, int pid, int tid, const char *name);
/* A span [ts, ts + dur] on track (pid, tid). arg_name/arg_value: one numeric argument
 * (arg_name NULL: none). */
void res_trace_complete(res_trace *t, int pid, int tid, const char *name, const char *cat,
                        double ts_us, double dur_us, const char *arg_name, double arg_value);
/* A span that may overlap others on its track; id must be unique within cat. */
void res_trace_async(res_trace *t, int pid, int tid, uint64_t id, const char *name,
                     const char *cat, double ts_us, double dur_us, const char *arg_name,
                     double arg_value);

/* A counter sample at ts: one series per argument (Perfetto shows each as a counter track
 * named "NAME ARG" under process pid; chrome://tracing stacks them in one track). The value
 * holds until the next sample of the same name. */
void res_trace_counter(res_trace *t, int pid, const char *name, double ts_us, int n_args,
                       const char *const *arg_names, const double *values);

/* The busiest links of a step as process pid ("network links (busiest N, step S)"), one
 * counter per link: its busy fraction of the step in percent and the gigabytes it carried,
 * from ts 0 to the end of the step (then 0). The step gives only per-link totals, not when
 * each link was busy, so a counter (a level over the step) is what they honestly show. */
void res_trace_links(res_trace *t, int pid, int sort_index, int step, double step_s,
                     const res_link *links, int n_links);

#endif
