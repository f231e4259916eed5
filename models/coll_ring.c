/* models/coll_ring.c: ring all-reduce, reduce-scatter and all-gather, and the
 * hierarchical all-reduce built from rings (intra-node reduce-scatter, inter-node
 * all-reduce, intra-node all-gather).
 *
 * Ring: rank i always sends to rank i+1. Each rank's share of the buffer (its segment) is
 * split into K chunks; in step s every rank sends chunk k of the segment it holds. Flow
 * (s, k, i) waits for (s-1, k, i) (its own previous step of that chunk) and for
 * (s-1, k, i-1) (what it received), and for (s, k-W, i) (at most W = COLL_WINDOW chunks
 * in flight per step, as NCCL's NCCL_STEPS slots). With one chunk and ideal links the
 * all-reduce takes exactly 2(P-1)(a + S/(P B)). */
#include "models/coll.h"

#include <stdlib.h>
#include <string.h>

#include "sim/alloc.h"

static int cmp_link(const void *pa, const void *pb)
{
    sim_id a = *(const sim_id *)pa, b = *(const sim_id *)pb;
    return (a > b) - (a < b);
}

/* The ring as one bundle (COLL_AGG_RINGS): its P edges i -> i+1 are the members, each
 * moving the n_steps x seg_bytes it would move step by step, at one common rate (the
 * fluid limit of a ring: every step waits for the slowest edge, so every edge averages
 * the bottleneck's rate); latency n_steps times the slowest edge's path latency. It
 * starts when every rank may; done[r] waits for it. Unchunked: on ideal links with one
 * latency it takes exactly n_steps (a + seg / B), the unchunked ring's time. */
static sim_status ring_bundle(const coll_args *a, int n_steps, double seg_bytes, sim_id *done,
                              sim_err *err)
{
    const int P = a->n;
    sim_id *l = sim_malloc((size_t)P * TOPO_MAX_PATH * sizeof *l);
    int32_t *w = sim_malloc((size_t)P * TOPO_MAX_PATH * sizeof *w);
    if (!l || !w) {
        sim_free(l);
        sim_free(w);
        return sim_err_set(err, SIM_ENOMEM, "out of memory building a ring collective");
    }
    size_t n = 0;
    sim_time lat = 0;
    for (int i = 0; i < P; i++) {
        int np = topo_path(a->t, a->gpus[i], a->gpus[(i + 1) % P], l + n);
        sim_time pl = 0;
        for (int h = 0; h < np; h++)
            pl += sim_engine_link_lat(a->e, l[n + h]);
        if (pl > lat)
            lat = pl;
        n += (size_t)np;
    }
    qsort(l, n, sizeof *l, cmp_link);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && l[m - 1] == l[i]) {
            w[m - 1]++;
            continue;
        }
        l[m] = l[i];
        w[m++] = 1;
    }
    sim_id b = sim_engine_add_bundle(a->e, l, w, (int)m, n_steps * seg_bytes, P,
                                     lat * n_steps, -1, a->category, a->gpus[0]);
    sim_free(l);
    sim_free(w);
    for (int r = 0; r < P; r++) {
        coll_dep(a, coll_after(a, r), b);
        done[r] = coll_join(a, r);
        coll_dep(a, b, done[r]);
    }
    if (b >= 0 && a->on_bundle)
        a->on_bundle(a->bundle_ctx, b, P, a->gpus);
    return SIM_OK;
}

sim_status coll_ring(const coll_args *a, int n_steps, double seg_bytes, sim_id *done,
                     sim_err *err)
{
    const int P = a->n;
    if (P <= 1 || seg_bytes <= 0 || n_steps <= 0) {
        for (int r = 0; r < P; r++)
            done[r] = coll_join(a, r);
        return SIM_OK;
    }
    if (a->aggregate & COLL_AGG_RINGS)
        return ring_bundle(a, n_steps, seg_bytes, done, err);
    const int K = coll_chunks(a, seg_bytes, (double)n_steps * P);
    const double c = seg_bytes / K;
    size_t cells = (size_t)P * K;
    sim_id *cur = sim_malloc(cells * sizeof *cur), *prev = sim_malloc(cells * sizeof *prev);
    if (!cur || !prev) {
        sim_free(cur);
        sim_free(prev);
        return sim_err_set(err, SIM_ENOMEM, "out of memory building a ring collective");
    }
    for (int s = 0; s < n_steps; s++) {
        for (int k = 0; k < K; k++)
            for (int i = 0; i < P; i++) {
                sim_id f = coll_flow(a, i, (i + 1) % P, c);
                if (s == 0) {
                    coll_dep(a, coll_after(a, i), f);
                } else {
                    coll_dep(a, prev[(size_t)i * K + k], f);
                    coll_dep(a, prev[(size_t)((i + P - 1) % P) * K + k], f);
                }
                if (k >= COLL_WINDOW)
                    coll_dep(a, cur[(size_t)i * K + k - COLL_WINDOW], f);
                cur[(size_t)i * K + k] = f;
            }
        sim_id *tmp = cur;
        cur = prev;
        prev = tmp;
    }
    for (int r = 0; r < P; r++) {
        done[r] = coll_join(a, r);
        for (int k = 0; k < K; k++)
            coll_dep(a, prev[(size_t)((r + P - 1) % P) * K + k], done[r]);
    }
    sim_free(cur);
    sim_free(prev);
    return SIM_OK;
}

/* NCCL runs a ring collective over several channels, each a ring of its own carrying its
 * share of the buffer; across nodes, channel c enters and leaves every node through
 * different GPUs, so that all the node's NICs carry traffic. Here: with L ranks on each
 * of several nodes, L channels; channel c visits each node's ranks starting at local
 * index c (so it leaves a node through local c - 1 and enters the next at local c), and
 * carries bytes / L. Inside one node the channels would share the same switch ports as one
 * ring does, so a single ring is built. done[r]: all of r's channels are done. */
static sim_status ring_channels(const coll_args *a, int all_reduce, sim_id *done, sim_err *err)
{
    const int P = a->n;
    int steps = all_reduce ? 2 * (P - 1) : P - 1;
    int *node = sim_malloc((size_t)P * sizeof *node), *count = sim_calloc((size_t)a->t->nodes, sizeof *count);
    int *order = sim_malloc((size_t)P * sizeof *order), *gpus = sim_malloc((size_t)P * sizeof *gpus);
    sim_id *after = sim_malloc((size_t)P * sizeof *after), *sub = sim_malloc((size_t)P * sizeof *sub);
    sim_status st = SIM_OK;
    if (!node || !count || !order || !gpus || !after || !sub) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building a ring collective");
        goto out;
    }
    int n_nodes = 0;
    for (int r = 0; r < P; r++) {
        node[r] = topo_node(a->t, a->gpus[r]);
        n_nodes += count[node[r]]++ == 0;
    }
    int L = count[node[0]], uniform = 1;
    for (int r = 0; r < P; r++)
        uniform &= count[node[r]] == L;
    /* ranks of each node must be contiguous in rank order for the rotation below */
    for (int r = 1; r < P; r++)
        uniform &= node[r] == node[r - 1] || (r % L == 0);
    if (n_nodes <= 1 || L <= 1 || !uniform) {
        st = coll_ring(a, steps, a->bytes / P, done, err);
        goto out;
    }
    for (int r = 0; r < P; r++)
        done[r] = coll_join(a, r);
    for (int c = 0; c < L; c++) {
        for (int b = 0; b < P / L; b++)
            for (int i = 0; i < L; i++)
                order[b * L + i] = b * L + (c + i) % L;
        for (int k = 0; k < P; k++) {
            gpus[k] = a->gpus[order[k]];
            after[k] = coll_after(a, order[k]);
        }
        coll_args ch = *a;
        ch.gpus = gpus;
        ch.after = after;
        ch.bytes = a->bytes / L;
        if ((st = coll_ring(&ch, steps, ch.bytes / P, sub, err)) != SIM_OK)
            goto out;
        for (int k = 0; k < P; k++)
            coll_dep(a, sub[k], done[order[k]]);
    }
out:
    sim_free(node);
    sim_free(count);
    sim_free(order);
    sim_free(gpus);
    sim_free(after);
    sim_free(sub);
    return st;
}

static sim_status ring_ar(const coll_args *a, sim_id *done, sim_err *err)
{
    return ring_channels(a, 1, done, err);
}

static sim_status ring_rs(const coll_args *a, sim_id *done, sim_err *err)
{
    return ring_channels(a, 0, done, err);
}

const coll_algo coll_ring_all_reduce = {"ring", COLL_ALL_REDUCE, ring_ar};
const coll_algo coll_ring_reduce_scatter = {"ring", COLL_REDUCE_SCATTER, ring_rs};
const coll_algo coll_ring_all_gather = {"ring", COLL_ALL_GATHER, ring_rs};

/* ---------------------------------------------------------------- hierarchical */

typedef struct hier_ctx {
    int n_steps_kind;        /* 0: reduce-scatter/all-gather (L-1 steps), 1: all-reduce */
    double seg;
} hier_ctx;

static sim_status hier_inner(const coll_args *a, void *ctx, sim_id *done, sim_err *err)
{
    const hier_ctx *h = ctx;
    int steps = h->n_steps_kind ? 2 * (a->n - 1) : a->n - 1;
    return coll_ring(a, steps, h->seg, done, err);
}

/* Ranks grouped by node, L per node (the same on every node), N nodes:
 * 1. reduce-scatter inside each node (ring over its L ranks): each holds S / L reduced
 *    over the node;
 * 2. all-reduce of those S / L across nodes among the ranks of equal local index (ring
 *    over N ranks, one per node, over the rails);
 * 3. all-gather inside each node.
 * Stages do not overlap at a rank (stage 2 starts when the rank's stage 1 is done). */
static sim_status hier_ar(const coll_args *a, sim_id *done, sim_err *err)
{
    const int n = a->n;
    int *node = sim_malloc((size_t)n * sizeof *node), *local = sim_malloc((size_t)n * sizeof *local);
    int *count = sim_calloc((size_t)a->t->nodes, sizeof *count);
    sim_id *d1 = sim_malloc((size_t)n * sizeof *d1), *d2 = sim_malloc((size_t)n * sizeof *d2);
    sim_id *after0 = sim_malloc((size_t)n * sizeof *after0);
    sim_status st = SIM_OK;
    if (!node || !local || !count || !d1 || !d2 || !after0) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building a hierarchical all-reduce");
        goto out;
    }
    for (int r = 0; r < n; r++) {
        node[r] = topo_node(a->t, a->gpus[r]);
        local[r] = count[node[r]]++;
        after0[r] = coll_after(a, r);
    }
    int L = count[node[0]];
    for (int r = 0; r < n; r++)
        if (count[node[r]] != L) {
            st = sim_err_set(err, SIM_EINPUT,
                             "network.all_reduce: hierarchical needs the same number of "
                             "ranks on every node (node %d has %d, node %d has %d)",
                             node[0], L, node[r], count[node[r]]);
            goto out;
        }
    hier_ctx rs = {0, a->bytes / L}, ar = {1, a->bytes / L / (n / L)};
    st = coll_by_group(a, node, after0, hier_inner, &rs, d1, err);
    if (st == SIM_OK)
        st = coll_by_group(a, local, d1, hier_inner, &ar, d2, err);
    if (st == SIM_OK)
        st = coll_by_group(a, node, d2, hier_inner, &rs, done, err);
out:
    sim_free(node);
    sim_free(local);
    sim_free(count);
    sim_free(d1);
    sim_free(d2);
    sim_free(after0);
    return st;
}

const coll_algo coll_hier_all_reduce = {"hierarchical", COLL_ALL_REDUCE, hier_ar};
