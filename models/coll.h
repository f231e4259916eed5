/* models/coll.h: collective algorithms, each expanded into flows over the topology.
 *
 * A collective algorithm is a const table (name, the operation it implements, a builder)
 * looked up by operation and name; adding one is a new models/coll_*.c file plus an entry
 * in coll_algos (models/coll.c). Algorithms keep no state between calls, so the table has
 * no state size, init or fini.
 *
 * A builder adds to the engine the flows of one collective among a->n ranks (rank r is GPU
 * a->gpus[r]), with the dependencies that order them, and writes to done[r] a zero-length
 * task that finishes when rank r has its whole result (every flow into r that carries
 * part of it has arrived). Rank r's first send waits for a->after[r] (a task id, or -1).
 * Dependencies on later tasks are the caller's: make them depend on done[r].
 *
 * Bytes (as nccl-tests counts them): all-reduce, reduce-scatter and all-gather move a
 * buffer of a->bytes (for reduce-scatter the input, for all-gather the output; each rank
 * owns a->bytes / n of it). All-to-all(v): rank i sends a->matrix[i * n + j] bytes to
 * rank j (the diagonal stays local), or, with a NULL matrix, a->bytes / n to every rank.
 *
 * Chunking as NCCL does (docs/NETWORK.md): ring, tree and NVLS split each rank's data into
 * chunks of about a->chunk_bytes (0: one chunk) and pipeline them, at most COLL_WINDOW
 * chunks in flight per sender and step (NCCL_STEPS); each chunk is a flow that pays the
 * path latency. Chunk counts are capped so that one collective has at most COLL_MAX_FLOWS
 * flows (the chunks then grow). Builders only add to the engine; allocation failures of
 * the engine surface at sim_engine_run, those of the builder's scratch as SIM_ENOMEM. */
#ifndef MODELS_COLL_H
#define MODELS_COLL_H

#include <stdint.h>

#include "models/scenario.h"
#include "models/topo.h"
#include "sim/engine.h"

#define COLL_WINDOW 8
#define COLL_MAX_FLOWS (1 << 16)

typedef enum {
    COLL_ALL_REDUCE,
    COLL_REDUCE_SCATTER,
    COLL_ALL_GATHER,
    COLL_ALL_TO_ALL,          /* all-to-all and all-to-allv */
    COLL_N_OPS
} coll_op;

/* Aggregation of all-to-all flows (coll_args.aggregate; docs/NETWORK.md, "Aggregation").
 * NODES: in `direct`, the flows between the ranks of two nodes (each way, and inside a
 * node) that all carry the same bytes and pay the same latency become one bundle
 * (sim_engine_add_bundle), which waits for every source rank of its node. Exact, to a
 * picosecond or so, when the members would get equal rates (a uniform all-to-all on a
 * symmetric fabric, all ranks starting together); otherwise an approximation, measured in
 * docs/NETWORK.md. Memory and time become O(nodes^2) instead of O(ranks^2). */
/* RINGS: every ring (each channel of a ring collective, each ring of the hierarchical
 * all-reduce) becomes one bundle of its P edges moving its whole volume at one rate
 * (coll_ring); 2(P-1) x P flows become one variable. Exact for a ring alone on links of
 * one latency without chunking; otherwise an approximation, measured in docs/NETWORK.md.
 * The flags combine. */
typedef enum { COLL_AGG_OFF = 0, COLL_AGG_NODES = 1, COLL_AGG_RINGS = 2 } coll_aggregate;

typedef struct coll_args {
    sim_engine *e;
    const topo *t;
    int n;                    /* ranks */
    const int *gpus;          /* [n] GPU of each rank */
    const sim_id *after;      /* [n] or NULL */
    int category;             /* of every flow and join task */
    double bytes;
    const double *matrix;     /* all-to-allv: [n * n], or NULL */
    /* all-to-allv, optional ([n * n], or NULL = 1): the share of matrix[i * n + j] that
     * crosses the fabric in algorithms that relay through the destination node (the
     * hierarchical one): a deduplicating dispatch (DeepEP) sends a token once per node
     * however many of its experts live there, and its NVLink stage fans the copies out. */
    const double *fabric_scale;
    int max_chunks;           /* hierarchical all-to-all: at most this many chunks (0: 16) */
    double chunk_bytes;       /* 0: no chunking */
    double nvls_cost;         /* bytes on a switch port per NVLS byte (topo_nvls_cost) */
    int aggregate;            /* coll_aggregate flags; 0 (off) unless asked */
    /* optional: told of every ring bundle made (its task and the GPUs of its members) */
    void (*on_bundle)(void *ctx, sim_id bundle, int n, const int *gpus);
    void *bundle_ctx;
} coll_args;

typedef struct coll_algo {
    const char *name;
    coll_op op;
    sim_status (*build)(const coll_args *a, sim_id *done, sim_err *err);
} coll_algo;

extern const coll_algo *const coll_algos[];      /* NULL-terminated */
const coll_algo *coll_find(coll_op op, const char *name);   /* NULL if none */
const char *coll_op_name(coll_op op);            /* "all_reduce", ... */
int coll_op_from_name(const char *name, coll_op *op);       /* 0, or -1 if unknown */
/* nccl-tests' bus-bandwidth factor: 2(n-1)/n for all-reduce, (n-1)/n for the others. */
double coll_busbw_factor(coll_op op, int n);

/* The chunk size collectives use under scenario c: network.chunk_KiB, but 0 (no
 * chunking) with the analytic network model, whose flows do not share links: chunks in
 * flight together on one link would each get the whole link. */
double coll_chunk_bytes(const scn_config *c);

/* Simulates one collective alone on the cluster of scenario c (resolved): every GPU is a
 * rank, all start at time 0, network model c->network.model. Writes its time (the last
 * rank's done) to *time_s and, if finish_s is not NULL, each rank's done time ([n]).
 * events (may be NULL): engine events executed. */
sim_status coll_simulate(const scn_config *c, const coll_algo *algo, double bytes,
                         const double *matrix, double *time_s, double *finish_s,
                         uint64_t *events, sim_err *err);
/* The same with an aggregation mode (coll_aggregate); n_flows (may be NULL) receives the
 * number of flow tasks the engine ran (a bundle counts once). */
sim_status coll_simulate_agg(const scn_config *c, const coll_algo *algo, double bytes,
                             const double *matrix, int aggregate, double *time_s,
                             double *finish_s, uint64_t *events, size_t *n_flows,
                             sim_err *err);

/* --- for algorithm files ------------------------------------------------------------ */
/* Flow of `bytes` from rank s to rank d (s != d) over the topology path. */
sim_id coll_flow(const coll_args *a, int s, int d, double bytes);
/* Flow of `bytes` over one link, owned by rank r. */
sim_id coll_link_flow(const coll_args *a, sim_id link, int r, double bytes);
/* Zero-length task owned by rank r that waits for a->after[r]. */
sim_id coll_join(const coll_args *a, int r);
void coll_dep(const coll_args *a, sim_id before, sim_id after);   /* before < 0: none */
sim_id coll_after(const coll_args *a, int r);
/* Chunks for pipelining `bytes` per rank and step when one chunk costs
 * `flows_per_chunk` flows: ceil(bytes / chunk_bytes), at least 1, capped by
 * COLL_MAX_FLOWS. */
int coll_chunks(const coll_args *a, double bytes, double flows_per_chunk);

/* Ring over the ranks in order: n_steps steps in which every rank sends seg_bytes to the
 * next (2(n-1) for all-reduce, n-1 for reduce-scatter and all-gather). */
sim_status coll_ring(const coll_args *a, int n_steps, double seg_bytes, sim_id *done,
                     sim_err *err);
/* Runs `inner` on subsets of the ranks: ranks r with key[r] == k form group k, in rank
 * order; each group's after is after_in[r] and its done goes to done[r]. */
sim_status coll_by_group(const coll_args *a, const int *key, const sim_id *after_in,
                         sim_status (*inner)(const coll_args *, void *, sim_id *, sim_err *),
                         void *ctx, sim_id *done, sim_err *err);

extern const coll_algo coll_ring_all_reduce, coll_ring_reduce_scatter, coll_ring_all_gather;
extern const coll_algo coll_tree_all_reduce, coll_hier_all_reduce, coll_nvls_all_reduce;
extern const coll_algo coll_a2a_direct, coll_a2a_pairwise, coll_a2a_hier;

#endif
