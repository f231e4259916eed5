/* sim/engine.h: the task-graph executor of the discrete-event engine.
 *
 * A graph of tasks is built, then run once. A task is either
 *   - WORK: a fixed duration on a serial resource (a "stream": one task at a time, FIFO in
 *     the order tasks became ready, ties in scheduling order), or
 *   - FLOW: a number of bytes sent over a path of links; it first pays the path's latency
 *     (the sum of its links' latencies plus the flow's own extra latency), then moves its
 *     bytes at the rate the network model gives it. A flow may also hold a resource.
 *     A BUNDLE is a flow task that stands for `mult` identical flows moving together at
 *     one common rate (an explicit aggregation, see sim_engine_add_bundle).
 * A task becomes ready when all its dependencies have finished, and starts when its
 * resource (if any) is free. Every task carries an owner tag (e.g. a GPU index) and a
 * category (a small integer whose meaning belongs to the caller); every finished task
 * leaves a record with its start and end time.
 *
 * The engine knows nothing of GPUs or models: owners and categories are opaque integers.
 * The network model (how flows share links) is a pluggable vtable, see sim/net.h.
 *
 * Ownership: the engine owns the graph, the records and the network model's state. */
#ifndef SIM_ENGINE_H
#define SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"
#include "sim/evq.h"
#include "sim/time.h"

typedef int32_t sim_id;          /* task, resource or link index; -1 means none */
typedef struct sim_engine sim_engine;
typedef struct sim_net_model sim_net_model;

typedef enum { SIM_TASK_WORK = 0, SIM_TASK_FLOW = 1 } sim_task_kind;

/* What a finished task leaves behind. */
typedef struct sim_record {
    sim_id task;
    int32_t owner;
    int16_t category;
    int8_t kind;                 /* sim_task_kind */
    sim_id resource;             /* -1 if none */
    sim_time ready;              /* all dependencies done */
    sim_time start;              /* resource acquired (flows: latency starts) */
    sim_time end;
    double bytes;                /* flows only; 0 for work */
} sim_record;

/* Creates an empty engine using the given network model (NULL: the analytic model). */
sim_status sim_engine_new(const sim_net_model *net, sim_engine **out, sim_err *err);
void sim_engine_free(sim_engine *e);            /* NULL: no-op */

/* Graph building. Each returns the new id, or -1 when out of memory (the engine then
 * remembers the failure and sim_engine_run returns SIM_ENOMEM). */
sim_id sim_engine_add_resource(sim_engine *e);
sim_id sim_engine_add_link(sim_engine *e, double bw_bytes_per_s, sim_time lat);
sim_id sim_engine_add_work(sim_engine *e, sim_id resource, sim_time duration,
                           int category, int owner);
/* path: n_links link ids, copied. bytes >= 0. resource may be -1. */
sim_id sim_engine_add_flow(sim_engine *e, const sim_id *path, int n_links, double bytes,
                           sim_time extra_lat, sim_id resource, int category, int owner);
/* A bundle: mult >= 1 flows of `bytes` each that start together and move at one common
 * rate r; link links[i] carries weights[i] of them (1 <= weights[i] <= mult), i.e.
 * weights[i] x r. Both arrays are copied. The bundle pays `lat` as its whole latency (the
 * links' own latencies are not added: they belong to different members' paths), then
 * moves; it ends when its members' last byte arrives. Its record is one FLOW record with
 * bytes = mult x bytes. Under the flow model a bundle is one weighted max-min variable;
 * it gives the same times as its members simulated one by one exactly when those members
 * would all get equal rates (e.g. the flows between two nodes of a uniform all-to-all on
 * a symmetric fabric); otherwise its members all move at the rate of the most constrained
 * one (docs/NETWORK.md, "Aggregation"). Under the analytic model a bundle moves at its
 * slowest link. */
sim_id sim_engine_add_bundle(sim_engine *e, const sim_id *links, const int32_t *weights,
                             int n_links, double bytes, int32_t mult, sim_time lat,
                             sim_id resource, int category, int owner);
/* Optional: makes room for n_tasks more tasks (of which n_flows flows or bundles), with
 * n_path_links more path entries (a bundle's weights count too) and n_deps more
 * dependencies, so that building a large graph does not regrow its arrays. SIM_ENOMEM
 * (nothing else changes) when that much memory is not available. */
sim_status sim_engine_reserve(sim_engine *e, size_t n_tasks, size_t n_flows, size_t n_path_links,
                              size_t n_deps);
/* `after` may not start before `before` has finished. Both ids must exist. */
int sim_engine_add_dep(sim_engine *e, sim_id before, sim_id after);

/* Runs the graph to completion. SIM_ERUN if tasks remain unfinished (a dependency cycle),
 * SIM_ENOMEM if building or running ran out of memory. Runs at most once. */
sim_status sim_engine_run(sim_engine *e, sim_err *err);

/* Results (after a successful run). */
size_t sim_engine_n_tasks(const sim_engine *e);
const sim_record *sim_engine_record(const sim_engine *e, sim_id task);
/* How many flows the task stands for: a bundle's multiplicity, else 1. */
int32_t sim_engine_task_mult(const sim_engine *e, sim_id task);
sim_time sim_engine_makespan(const sim_engine *e);        /* latest end over all tasks */
uint64_t sim_engine_events(const sim_engine *e);          /* events executed */
sim_time sim_engine_resource_busy(const sim_engine *e, sim_id resource);

/* Usage of one link over the run, O(1) (kept while running, at O(path length) per flow):
 * *bytes: the bytes of every flow that crossed it (counted when the flow's bytes start
 * moving, i.e. after its latency); *busy: the time during which at least one flow was
 * moving bytes over it (the union of the flows' [latency paid, last byte] intervals; a
 * flow's latency phase does not count). Utilization = bytes / (busy x bandwidth) while
 * busy, bytes / (makespan x bandwidth) over the run. Either pointer may be NULL. */
void sim_engine_link_usage(const sim_engine *e, sim_id link, double *bytes, sim_time *busy);
size_t sim_engine_n_links(const sim_engine *e);
double sim_engine_link_bw(const sim_engine *e, sim_id link);      /* bytes/s */
sim_time sim_engine_link_lat(const sim_engine *e, sim_id link);

/* Walks the critical path backwards from the task that finished last: at each task, the
 * dependency that finished last (or, if the task waited for its resource, the task that
 * released it). Adds each critical task's [start, end] to out[category] and any time the
 * path spends waiting (not covered by a task) to out[idle_category]. out has n_categories
 * entries (every category used must be < n_categories) and is zeroed first; its entries sum
 * to the makespan exactly. */
void sim_engine_critical_breakdown(const sim_engine *e, int n_categories, int idle_category,
                                   sim_time *out);

/* The same walk, handing each task of the critical path to fn, from the last task back to
 * the first: rec is the task's record and gap the time the path waited just before the
 * task started (not covered by any task; 0 on a tight path). The tasks' spans plus the gaps
 * sum to the makespan. For callers that attribute the path by more than the category
 * (e.g. by owner). Returns the number of tasks visited. */
typedef void sim_crit_fn(void *ctx, const sim_record *rec, sim_time gap);
size_t sim_engine_critical_path(const sim_engine *e, sim_crit_fn *fn, void *ctx);

/* Progress while running: fn(ctx, done, total) is called after every `every` finished tasks
 * (and not at all when fn is NULL). For progress bars on long runs; fn must not touch e. */
typedef void sim_progress_fn(void *ctx, size_t done, size_t total);
void sim_engine_set_progress(sim_engine *e, sim_progress_fn *fn, void *ctx, size_t every);

/* Update quantum of the network model (an explicit approximation; 0, the default, is
 * exact): the flow model recomputes rates only at multiples of q picoseconds, so flows
 * that start or end between two of them wait for the next (each flow ends at most q late,
 * starts at most q late); many rate updates become one. Set before sim_engine_run. */
void sim_engine_set_net_quantum(sim_engine *e, sim_time q);
sim_time sim_engine_net_quantum(const sim_engine *e);

/* --- For network models (sim/net.h) ------------------------------------------------- */
/* Network models see flows by flow id: 0 .. sim_engine_n_flows - 1, dense, in the order
 * the flows (and bundles) were added; not the task id. */
size_t sim_engine_n_flows(const sim_engine *e);
/* The flow's links; *weights (if not NULL) receives NULL for a plain flow (every weight
 * 1) or the bundle's weights. */
const sim_id *sim_engine_flow_path(const sim_engine *e, sim_id flow, int *n_links,
                                   const int32_t **weights);
double sim_engine_flow_bytes(const sim_engine *e, sim_id flow);   /* per member */
sim_id sim_engine_flow_task(const sim_engine *e, sim_id flow);
sim_time sim_engine_now(const sim_engine *e);
sim_evq *sim_engine_evq(sim_engine *e);
/* The network model reports that a flow's last byte arrived now. */
void sim_engine_flow_finished(sim_engine *e, sim_id flow);
/* The network model reports a failure inside one of its own events (e.g. SIM_ENOMEM):
 * the run stops and sim_engine_run returns that status. The first failure wins. */
void sim_engine_fail(sim_engine *e, sim_status st);

#endif
