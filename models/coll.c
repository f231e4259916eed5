/* models/coll.c: the table of collective algorithms and the helpers they share (flows,
 * join tasks, chunk counts, running a collective on groups of ranks). */
#include "models/coll.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "sim/alloc.h"
#include "sim/net.h"

const coll_algo *const coll_algos[] = {
    &coll_ring_all_reduce, &coll_tree_all_reduce, &coll_hier_all_reduce,
    &coll_nvls_all_reduce, &coll_ring_reduce_scatter, &coll_ring_all_gather,
    &coll_a2a_direct,      &coll_a2a_pairwise,   &coll_a2a_hier,
    NULL,
};

static const char *const op_names[COLL_N_OPS] = {"all_reduce", "reduce_scatter", "all_gather",
                                                 "all_to_all"};

const coll_algo *coll_find(coll_op op, const char *name)
{
    for (size_t i = 0; coll_algos[i]; i++)
        if (coll_algos[i]->op == op && strcmp(coll_algos[i]->name, name) == 0)
            return coll_algos[i];
    return NULL;
}

const char *coll_op_name(coll_op op)
{
    assert(op >= 0 && op < COLL_N_OPS);
    return op_names[op];
}

int coll_op_from_name(const char *name, coll_op *op)
{
    for (int i = 0; i < COLL_N_OPS; i++)
        if (strcmp(op_names[i], name) == 0) {
            *op = (coll_op)i;
            return 0;
        }
    return -1;
}

double coll_busbw_factor(coll_op op, int n)
{
    double f = (double)(n - 1) / n;
    return op == COLL_ALL_REDUCE ? 2 * f : f;
}

sim_id coll_flow(const coll_args *a, int s, int d, double bytes)
{
    sim_id path[TOPO_MAX_PATH];
    int np = topo_path(a->t, a->gpus[s], a->gpus[d], path);
    return sim_engine_add_flow(a->e, path, np, bytes, 0, -1, a->category, a->gpus[s]);
}

sim_id coll_link_flow(const coll_args *a, sim_id link, int r, double bytes)
{
    return sim_engine_add_flow(a->e, &link, 1, bytes, 0, -1, a->category, a->gpus[r]);
}

sim_id coll_after(const coll_args *a, int r) { return a->after ? a->after[r] : -1; }

void coll_dep(const coll_args *a, sim_id before, sim_id after)
{
    if (before >= 0 || after < 0)
        sim_engine_add_dep(a->e, before, after);   /* after < 0: flags the failed add */
}

sim_id coll_join(const coll_args *a, int r)
{
    sim_id j = sim_engine_add_work(a->e, -1, 0, a->category, a->gpus[r]);
    coll_dep(a, coll_after(a, r), j);
    return j;
}

int coll_chunks(const coll_args *a, double bytes, double flows_per_chunk)
{
    double k = a->chunk_bytes > 0 ? ceil(bytes / a->chunk_bytes) : 1;
    double cap = floor(COLL_MAX_FLOWS / fmax(flows_per_chunk, 1));
    if (k > cap)
        k = cap;
    return k < 1 ? 1 : (int)k;
}

sim_status coll_by_group(const coll_args *a, const int *key, const sim_id *after_in,
                         sim_status (*inner)(const coll_args *, void *, sim_id *, sim_err *),
                         void *ctx, sim_id *done, sim_err *err)
{
    int *gpus = sim_malloc((size_t)a->n * sizeof *gpus);
    int *idx = sim_malloc((size_t)a->n * sizeof *idx);
    sim_id *after = sim_malloc((size_t)a->n * sizeof *after);
    sim_id *sub_done = sim_malloc((size_t)a->n * sizeof *sub_done);
    char *seen = sim_calloc((size_t)a->n, 1);
    sim_status st = SIM_OK;
    if (!gpus || !idx || !after || !sub_done || !seen) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building a collective");
        goto done;
    }
    for (int first = 0; first < a->n && st == SIM_OK; first++) {
        if (seen[first])
            continue;
        int m = 0;
        for (int r = first; r < a->n; r++)
            if (!seen[r] && key[r] == key[first]) {
                seen[r] = 1;
                idx[m] = r;
                gpus[m] = a->gpus[r];
                after[m] = after_in ? after_in[r] : -1;
                m++;
            }
        coll_args sub = *a;
        sub.n = m;
        sub.gpus = gpus;
        sub.after = after;
        sub.matrix = NULL;
        st = inner(&sub, ctx, sub_done, err);
        for (int i = 0; i < m && st == SIM_OK; i++)
            done[idx[i]] = sub_done[i];
    }
done:
    sim_free(gpus);
    sim_free(idx);
    sim_free(after);
    sim_free(sub_done);
    sim_free(seen);
    return st;
}

double coll_chunk_bytes(const scn_config *c)
{
    return strcmp(c->network.model, "analytic") == 0 ? 0 : c->network.chunk_KiB * 1024.0;
}

sim_status coll_simulate(const scn_config *c, const coll_algo *algo, double bytes,
                         const double *matrix, double *time_s, double *finish_s,
                         uint64_t *events, sim_err *err)
{
    return coll_simulate_agg(c, algo, bytes, matrix, COLL_AGG_OFF, time_s, finish_s, events,
                             NULL, err);
}

sim_status coll_simulate_agg(const scn_config *c, const coll_algo *algo, double bytes,
                             const double *matrix, int aggregate, double *time_s,
                             double *finish_s, uint64_t *events, size_t *n_flows,
                             sim_err *err)
{
    const sim_net_model *net = sim_net_model_find(c->network.model);
    assert(net);
    const int n = scn_world(c);
    sim_engine *e = NULL;
    topo t;
    memset(&t, 0, sizeof t);
    int *gpus = sim_malloc((size_t)n * sizeof *gpus);
    sim_id *done = sim_malloc((size_t)n * sizeof *done);
    sim_status st = SIM_OK;
    if (!gpus || !done) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory simulating a collective");
        goto out;
    }
    if ((st = sim_engine_new(net, &e, err)) != SIM_OK || (st = topo_build(c, e, &t, err)) != SIM_OK)
        goto out;
    sim_engine_set_net_quantum(e, sim_time_from_s(c->network.flow_quantum_us * 1e-6));
    for (int g = 0; g < n; g++)
        gpus[g] = g;
    coll_args a = {.e = e, .t = &t, .n = n, .gpus = gpus, .after = NULL, .category = 0,
                   .bytes = bytes, .matrix = matrix, .chunk_bytes = coll_chunk_bytes(c),
                   .nvls_cost = topo_nvls_cost(c), .aggregate = aggregate};
    if ((st = algo->build(&a, done, err)) != SIM_OK || (st = sim_engine_run(e, err)) != SIM_OK)
        goto out;
    sim_time last = 0;
    for (int r = 0; r < n; r++) {
        sim_time end = sim_engine_record(e, done[r])->end;
        if (end > last)
            last = end;
        if (finish_s)
            finish_s[r] = sim_time_to_s(end);
    }
    *time_s = sim_time_to_s(last);
    if (events)
        *events = sim_engine_events(e);
    if (n_flows)
        *n_flows = sim_engine_n_flows(e);
out:
    topo_fini(&t);
    sim_engine_free(e);
    sim_free(gpus);
    sim_free(done);
    return st;
}
