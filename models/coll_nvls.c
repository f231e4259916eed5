/* models/coll_nvls.c: NVLS all-reduce: the reduction happens inside the NVSwitch
 * (NVLink SHARP, H100-generation switches and later).
 *
 * Traffic model for L ranks of one node and a buffer of S bytes, per chunk of C bytes
 * (K = ceil(S / (L chunk_bytes)) chunks, pipelined: each rank's up flows of one phase form
 * a chain, chunk k waiting for chunk k - COLL_WINDOW; the same for its down flows):
 *   reduce-scatter: every rank's port carries C up (the switch reads every rank's copy of
 *     every slice: multimem.ld_reduce); when all ranks' chunk is up, each rank receives its
 *     reduced slice C / L down;
 *   all-gather: each rank sends its reduced slice C / L up (multimem.st); when all are up,
 *     the switch multicasts and every rank receives C down.
 * Per port and direction that is S (1 + 1/L) bytes, against 2 S (L-1)/L for a ring. The
 * switch's reduction does not run at the port's ring rate: NVLS bytes are scaled by
 * a->nvls_cost (the link's ring efficiency over its NVLS efficiency, calibrated once on
 * nccl-tests issue 212; docs/NETWORK.md and docs/VALIDATION.md).
 * Across nodes (NCCL's NVLS + inter-node step): NVLS reduce-scatter inside each node, ring
 * all-reduce of each rank's S / L across nodes among ranks of equal local index, NVLS
 * all-gather inside each node. */
#include "models/coll.h"

#include <stddef.h>

#include "sim/alloc.h"

typedef struct nvls_ctx {
    int phases;              /* bit 0: reduce-scatter, bit 1: all-gather */
    double bytes;
} nvls_ctx;

/* One node's ranks. */
static sim_status nvls_node(const coll_args *a, void *vctx, sim_id *done, sim_err *err)
{
    const nvls_ctx *x = vctx;
    const int L = a->n;
    if (L <= 1 || x->bytes <= 0) {
        for (int r = 0; r < L; r++)
            done[r] = coll_join(a, r);
        return SIM_OK;
    }
    const int K = coll_chunks(a, x->bytes / L, 4.0 * L);
    const double C = x->bytes / K, w = a->nvls_cost;
    /* per phase, chunk and rank: its up flow and its down flow */
    size_t cells = (size_t)2 * K * L;
    sim_id *upf = sim_malloc(cells * sizeof *upf), *dnf = sim_malloc(cells * sizeof *dnf);
    sim_id *lk = sim_malloc((size_t)L * sizeof *lk);
    if (!upf || !dnf || !lk) {
        sim_free(upf);
        sim_free(dnf);
        sim_free(lk);
        return sim_err_set(err, SIM_ENOMEM, "out of memory building an NVLS all-reduce");
    }
    for (int r = 0; r < L; r++)
        done[r] = coll_join(a, r);
    for (int k = 0; k < K; k++) {
        for (int r = 0; r < L; r++)
            lk[r] = coll_after(a, r);
        for (int ph = 0; ph < 2; ph++) {
            if (!(x->phases & (1 << ph)))
                continue;
            double up_b = ph == 0 ? C : C / L, down_b = ph == 0 ? C / L : C;
            sim_id *u = upf + ((size_t)ph * K + k) * L, *d = dnf + ((size_t)ph * K + k) * L;
            sim_id all_up = sim_engine_add_work(a->e, -1, 0, a->category, a->gpus[0]);
            for (int r = 0; r < L; r++) {
                u[r] = coll_link_flow(a, topo_switch_up(a->t, a->gpus[r]), r, up_b * w);
                coll_dep(a, lk[r], u[r]);
                if (k >= COLL_WINDOW)   /* the same chain, COLL_WINDOW chunks back */
                    coll_dep(a, u[r - (ptrdiff_t)COLL_WINDOW * L], u[r]);
                coll_dep(a, u[r], all_up);
            }
            for (int r = 0; r < L; r++) {
                d[r] = coll_link_flow(a, topo_switch_down(a->t, a->gpus[r]), r, down_b * w);
                coll_dep(a, all_up, d[r]);
                if (k >= COLL_WINDOW)
                    coll_dep(a, d[r - (ptrdiff_t)COLL_WINDOW * L], d[r]);
                lk[r] = d[r];
            }
        }
        for (int r = 0; r < L; r++)
            coll_dep(a, lk[r], done[r]);
    }
    sim_free(upf);
    sim_free(dnf);
    sim_free(lk);
    return SIM_OK;
}

typedef struct ring_ctx {
    double seg;
} ring_ctx;

static sim_status ring_inner(const coll_args *a, void *ctx, sim_id *done, sim_err *err)
{
    const ring_ctx *x = ctx;
    return coll_ring(a, 2 * (a->n - 1), x->seg, done, err);
}

static sim_status nvls_ar(const coll_args *a, sim_id *done, sim_err *err)
{
    const int n = a->n;
    int *node = sim_malloc((size_t)n * sizeof *node), *local = sim_malloc((size_t)n * sizeof *local);
    int *count = sim_calloc((size_t)a->t->nodes, sizeof *count);
    sim_id *d1 = sim_malloc((size_t)n * sizeof *d1), *d2 = sim_malloc((size_t)n * sizeof *d2);
    sim_id *after0 = sim_malloc((size_t)n * sizeof *after0);
    sim_status st = SIM_OK;
    if (!node || !local || !count || !d1 || !d2 || !after0) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building an NVLS all-reduce");
        goto out;
    }
    if (!a->t->nvls) {
        st = sim_err_set(err, SIM_EINPUT,
                         "network.all_reduce: nvls needs NVSwitch nodes whose switch reduces");
        goto out;
    }
    int n_nodes = 0;
    for (int r = 0; r < n; r++) {
        node[r] = topo_node(a->t, a->gpus[r]);
        n_nodes += count[node[r]] == 0;
        local[r] = count[node[r]]++;
        after0[r] = coll_after(a, r);
    }
    int L = count[node[0]];
    for (int r = 0; r < n; r++)
        if (count[node[r]] != L) {
            st = sim_err_set(err, SIM_EINPUT,
                             "network.all_reduce: nvls needs the same number of ranks on "
                             "every node (node %d has %d, node %d has %d)",
                             node[0], L, node[r], count[node[r]]);
            goto out;
        }
    if (n_nodes == 1) {
        nvls_ctx both = {3, a->bytes};
        st = nvls_node(a, &both, done, err);
        goto out;
    }
    nvls_ctx rs = {1, a->bytes}, ag = {2, a->bytes};
    ring_ctx ar = {a->bytes / L / n_nodes};
    st = coll_by_group(a, node, after0, nvls_node, &rs, d1, err);
    if (st == SIM_OK)
        st = coll_by_group(a, local, d1, ring_inner, &ar, d2, err);
    if (st == SIM_OK)
        st = coll_by_group(a, node, d2, nvls_node, &ag, done, err);
out:
    sim_free(node);
    sim_free(local);
    sim_free(count);
    sim_free(d1);
    sim_free(d2);
    sim_free(after0);
    return st;
}

const coll_algo coll_nvls_all_reduce = {"nvls", COLL_ALL_REDUCE, nvls_ar};
