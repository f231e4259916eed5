/* models/coll_a2a.c: all-to-all(v) algorithms.
 *
 * - direct: every pair at once, one flow per (source, destination) with bytes; the flow
 *   model shares the links (NCCL posts all its sends and receives in one group).
 * - pairwise: n-1 rounds; in round r rank i sends to i+r and receives from i-r; a rank
 *   starts round r when its round r-1 send is done and its round r-1 receive arrived.
 * - hierarchical (DeepEP's normal kernels): a token for a GPU on another node first
 *   crosses the fabric to the GPU of that node with the sender's local rank (same rail),
 *   then is forwarded over NVLink to its destination; traffic inside a node goes directly.
 *   The bytes from source i for all destinations behind relay R travel as one stream
 *   split into K chunks sent one after another (K from chunk_bytes, at most 16); relay R
 *   forwards chunk k once chunk k from every source has arrived, so the two stages
 *   overlap. A destination whose same-rail relay is not in the group is reached directly.
 *   With fabric_scale the cross-node stream carries only that share of each pair's bytes
 *   (deduplicated tokens); the NVLink forwards carry them all.
 * Zero-byte pairs send nothing. done[j] waits for every flow into j.
 *
 * Aggregation (a->aggregate == COLL_AGG_NODES, direct only): the flows from the ranks of
 * node S to those of node D (S == D included) become one bundle when they all carry the
 * same bytes and pay the same latency; its weighted path is the union of the members'
 * paths, each link weighted by the members crossing it. The bundle starts when every
 * source rank of S may start (a join of their `after`), and done[j] of every j in D waits
 * for it (through one join per destination node). Pairs of nodes whose flows differ keep
 * their individual flows. */
#include "models/coll.h"

#include <math.h>

#include "sim/alloc.h"

static double pair_bytes(const coll_args *a, int i, int j)
{
    return a->matrix ? a->matrix[(size_t)i * a->n + j] : a->bytes / a->n;
}

static sim_status direct_by_nodes(const coll_args *a, sim_id *done, sim_err *err);

static sim_status direct(const coll_args *a, sim_id *done, sim_err *err)
{
    if (a->aggregate == COLL_AGG_NODES)
        return direct_by_nodes(a, done, err);
    const int n = a->n;
    /* room for the n (n - 1) flows and their dependencies up front (a hint) */
    size_t pairs = (size_t)n * (size_t)(n - 1);
    (void)sim_engine_reserve(a->e, pairs + (size_t)n, pairs, pairs * 2,
                             pairs * (a->after ? 2 : 1) + (size_t)n);
    for (int j = 0; j < n; j++)
        done[j] = coll_join(a, j);
    for (int i = 0; i < n; i++) {
        sim_id after = coll_after(a, i);
        for (int j = 0; j < n; j++) {
            double b = i == j ? 0 : pair_bytes(a, i, j);
            if (b <= 0)
                continue;
            sim_id f = coll_flow(a, i, j, b);
            coll_dep(a, after, f);
            coll_dep(a, f, done[j]);
        }
    }
    return SIM_OK;
}

/* The bundle of the flows i -> j for i in src[0..ns), j in dst[0..nd), i != j, if they all
 * carry the same positive bytes and latency: its links and weights into l / w (room for
 * every link of the engine), *n_l, *bytes, *mult, *lat. 0 if they do not qualify (or fewer
 * than two). slot/stamp: per-link scratch of the engine's link count. */
static int node_pair_bundle(const coll_args *a, const int *src, int ns, const int *dst, int nd,
                            int32_t *slot, uint32_t *stamp, uint32_t ep, sim_id *l, int32_t *w,
                            int *n_l, double *bytes, int32_t *mult, sim_time *lat)
{
    double b0 = -1;
    int n = 0, m = 0;
    sim_time lat0 = -1;
    for (int x = 0; x < ns; x++)
        for (int y = 0; y < nd; y++) {
            int i = src[x], j = dst[y];
            if (i == j)
                continue;
            double b = pair_bytes(a, i, j);
            if (b0 < 0)
                b0 = b;
            if (b != b0 || b <= 0)
                return 0;
            sim_id p[TOPO_MAX_PATH];
            int np = topo_path(a->t, a->gpus[i], a->gpus[j], p);
            sim_time pl = 0;
            for (int h = 0; h < np; h++) {
                pl += sim_engine_link_lat(a->e, p[h]);
                if (stamp[p[h]] != ep) {
                    stamp[p[h]] = ep;
                    slot[p[h]] = n;
                    l[n] = p[h];
                    w[n++] = 0;
                }
                w[slot[p[h]]]++;
            }
            if (lat0 < 0)
                lat0 = pl;
            if (pl != lat0)
                return 0;
            m++;
        }
    if (m < 2)
        return 0;
    *n_l = n;
    *bytes = b0;
    *mult = m;
    *lat = lat0;
    return 1;
}

/* direct with COLL_AGG_NODES. */
static sim_status direct_by_nodes(const coll_args *a, sim_id *done, sim_err *err)
{
    const int n = a->n;
    const size_t n_links = sim_engine_n_links(a->e);
    int *node = sim_malloc((size_t)n * sizeof *node);      /* node index (dense) per rank */
    int *start = sim_calloc((size_t)n + 1, sizeof *start); /* ranks by node: CSR */
    int *ranks = sim_malloc((size_t)n * sizeof *ranks);
    int *key = sim_malloc((size_t)a->t->nodes * sizeof *key);
    int32_t *slot = sim_malloc((n_links ? n_links : 1) * sizeof *slot);
    uint32_t *stamp = sim_calloc(n_links ? n_links : 1, sizeof *stamp);
    sim_id *l = sim_malloc((n_links ? n_links : 1) * sizeof *l);
    int32_t *w = sim_malloc((n_links ? n_links : 1) * sizeof *w);
    sim_id *src_join = NULL, *arrive = NULL;
    sim_status st = SIM_OK;
    if (!node || !start || !ranks || !key || !slot || !stamp || !l || !w)
        goto oom;
    int n_nodes = 0;
    for (int k = 0; k < a->t->nodes; k++)
        key[k] = -1;
    for (int r = 0; r < n; r++) {
        int k = topo_node(a->t, a->gpus[r]);
        if (key[k] < 0)
            key[k] = n_nodes++;
        node[r] = key[k];
        start[node[r] + 1]++;
    }
    for (int k = 0; k < n_nodes; k++)
        start[k + 1] += start[k];
    int *fill = key;   /* reused: n_nodes <= t->nodes */
    for (int k = 0; k < n_nodes; k++)
        fill[k] = start[k];
    for (int r = 0; r < n; r++)
        ranks[fill[node[r]]++] = r;
    src_join = sim_malloc((size_t)n_nodes * sizeof *src_join);
    arrive = sim_malloc((size_t)n_nodes * sizeof *arrive);
    if (!src_join || !arrive)
        goto oom;
    for (int j = 0; j < n; j++)
        done[j] = coll_join(a, j);
    for (int k = 0; k < n_nodes; k++)
        src_join[k] = arrive[k] = -1;
    uint32_t ep = 0;
    for (int S = 0; S < n_nodes; S++)
        for (int D = 0; D < n_nodes; D++) {
            const int *src = ranks + start[S], *dst = ranks + start[D];
            int ns = start[S + 1] - start[S], nd = start[D + 1] - start[D], nl;
            double b;
            int32_t m;
            sim_time lat;
            if (node_pair_bundle(a, src, ns, dst, nd, slot, stamp, ++ep, l, w, &nl, &b, &m,
                                 &lat)) {
                sim_id f = sim_engine_add_bundle(a->e, l, w, nl, b, m, lat, -1, a->category,
                                                 a->gpus[src[0]]);
                if (a->after && src_join[S] < 0) {
                    src_join[S] = sim_engine_add_work(a->e, -1, 0, a->category, a->gpus[src[0]]);
                    for (int x = 0; x < ns; x++)
                        coll_dep(a, coll_after(a, src[x]), src_join[S]);
                }
                coll_dep(a, src_join[S], f);
                if (arrive[D] < 0) {
                    arrive[D] = sim_engine_add_work(a->e, -1, 0, a->category, a->gpus[dst[0]]);
                    for (int y = 0; y < nd; y++)
                        coll_dep(a, arrive[D], done[dst[y]]);
                }
                coll_dep(a, f, arrive[D]);
                continue;
            }
            for (int x = 0; x < ns; x++)   /* as without aggregation */
                for (int y = 0; y < nd; y++) {
                    int i = src[x], j = dst[y];
                    double bij = i == j ? 0 : pair_bytes(a, i, j);
                    if (bij <= 0)
                        continue;
                    sim_id f = coll_flow(a, i, j, bij);
                    coll_dep(a, coll_after(a, i), f);
                    coll_dep(a, f, done[j]);
                }
        }
    goto out;
oom:
    st = sim_err_set(err, SIM_ENOMEM, "out of memory building an aggregated all-to-all");
out:
    sim_free(node);
    sim_free(start);
    sim_free(ranks);
    sim_free(key);
    sim_free(slot);
    sim_free(stamp);
    sim_free(l);
    sim_free(w);
    sim_free(src_join);
    sim_free(arrive);
    return st;
}

static sim_status pairwise(const coll_args *a, sim_id *done, sim_err *err)
{
    const int n = a->n;
    sim_id *send = sim_malloc((size_t)n * sizeof *send), *recv = sim_malloc((size_t)n * sizeof *recv);
    sim_id *recv_new = sim_malloc((size_t)n * sizeof *recv_new);
    if (!send || !recv || !recv_new) {
        sim_free(send);
        sim_free(recv);
        sim_free(recv_new);
        return sim_err_set(err, SIM_ENOMEM, "out of memory building a pairwise all-to-all");
    }
    for (int j = 0; j < n; j++) {
        done[j] = coll_join(a, j);
        send[j] = recv[j] = -1;
    }
    for (int r = 1; r < n; r++) {
        for (int j = 0; j < n; j++)
            recv_new[j] = -1;
        for (int i = 0; i < n; i++) {
            int j = (i + r) % n;
            double b = pair_bytes(a, i, j);
            if (b <= 0)
                continue;
            sim_id f = coll_flow(a, i, j, b);
            coll_dep(a, coll_after(a, i), f);
            coll_dep(a, send[i], f);
            coll_dep(a, recv[i], f);
            coll_dep(a, f, done[j]);
            send[i] = f;
            recv_new[j] = f;
        }
        for (int j = 0; j < n; j++)
            if (recv_new[j] >= 0)
                recv[j] = recv_new[j];
    }
    sim_free(send);
    sim_free(recv);
    sim_free(recv_new);
    return SIM_OK;
}

#define HIER_MAX_CHUNKS 16

static sim_status hier(const coll_args *a, sim_id *done, sim_err *err)
{
    const int n = a->n, gpn = a->t->gpus_per_node;
    const int n_nodes = a->t->nodes;
    /* rank_of[node * gpn + local]: the rank on that GPU, -1 if not in the group */
    int *rank_of = sim_malloc((size_t)n_nodes * gpn * sizeof *rank_of);
    double *s1 = sim_calloc((size_t)n * n, sizeof *s1);   /* i -> relay R */
    double *s2 = sim_calloc((size_t)n * n, sizeof *s2);   /* relay R -> j */
    sim_status st = SIM_OK;
    sim_id *prev = NULL, *arrived = NULL;
    if (!rank_of || !s1 || !s2) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building a hierarchical all-to-all");
        goto out;
    }
    for (int i = 0; i < n_nodes * gpn; i++)
        rank_of[i] = -1;
    for (int r = 0; r < n; r++)
        rank_of[a->gpus[r]] = r;
    double max_s1 = 0;
    size_t n_s1 = 0, n_s2 = 0;
    for (int j = 0; j < n; j++)
        done[j] = coll_join(a, j);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double b = i == j ? 0 : pair_bytes(a, i, j);
            int gi = a->gpus[i], gj = a->gpus[j];
            int R = -1;
            if (gi / gpn != gj / gpn)
                R = rank_of[(gj / gpn) * gpn + gi % gpn];
            if (b <= 0)
                continue;
            if (R < 0) {   /* same node, or no same-rail relay: direct */
                sim_id f = coll_flow(a, i, j, b);
                coll_dep(a, coll_after(a, i), f);
                coll_dep(a, f, done[j]);
                continue;
            }
            n_s1 += s1[(size_t)i * n + R] == 0;
            s1[(size_t)i * n + R] += a->fabric_scale ? b * a->fabric_scale[(size_t)i * n + j] : b;
            max_s1 = fmax(max_s1, s1[(size_t)i * n + R]);
            if (R != j) {
                n_s2 += s2[(size_t)R * n + j] == 0;
                s2[(size_t)R * n + j] += b;
            }
        }
    int K = coll_chunks(a, max_s1, (double)(n_s1 + n_s2));
    int cap = a->max_chunks > 0 && a->max_chunks < HIER_MAX_CHUNKS ? a->max_chunks
                                                                     : HIER_MAX_CHUNKS;
    if (K > cap)
        K = cap;
    prev = sim_malloc((size_t)n * n * sizeof *prev);
    arrived = sim_malloc((size_t)n * sizeof *arrived);
    if (!prev || !arrived) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory building a hierarchical all-to-all");
        goto out;
    }
    for (size_t x = 0; x < (size_t)n * n; x++)
        prev[x] = -1;
    for (int k = 0; k < K; k++) {
        /* stage 1: chunk k of every (source, relay) stream */
        for (int R = 0; R < n; R++)
            arrived[R] = -1;
        for (int i = 0; i < n; i++)
            for (int R = 0; R < n; R++) {
                double b = s1[(size_t)i * n + R];
                if (b <= 0)
                    continue;
                sim_id f = coll_flow(a, i, R, b / K);
                coll_dep(a, coll_after(a, i), f);
                coll_dep(a, prev[(size_t)i * n + R], f);
                prev[(size_t)i * n + R] = f;
                coll_dep(a, f, done[R]);
                if (arrived[R] < 0)
                    arrived[R] = sim_engine_add_work(a->e, -1, 0, a->category, a->gpus[R]);
                coll_dep(a, f, arrived[R]);
            }
        /* stage 2: relay R forwards chunk k once it arrived from every source */
        for (int R = 0; R < n; R++) {
            if (arrived[R] < 0)
                continue;
            for (int j = 0; j < n; j++) {
                double b = s2[(size_t)R * n + j];
                if (b <= 0)
                    continue;
                sim_id f = coll_flow(a, R, j, b / K);
                coll_dep(a, arrived[R], f);
                coll_dep(a, f, done[j]);
            }
        }
    }
out:
    sim_free(rank_of);
    sim_free(s1);
    sim_free(s2);
    sim_free(prev);
    sim_free(arrived);
    return st;
}

const coll_algo coll_a2a_direct = {"direct", COLL_ALL_TO_ALL, direct};
const coll_algo coll_a2a_pairwise = {"pairwise", COLL_ALL_TO_ALL, pairwise};
const coll_algo coll_a2a_hier = {"hierarchical", COLL_ALL_TO_ALL, hier};
