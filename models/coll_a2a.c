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
 * Zero-byte pairs send nothing. done[j] waits for every flow into j. */
#include "models/coll.h"

#include <math.h>

#include "sim/alloc.h"

static double pair_bytes(const coll_args *a, int i, int j)
{
    return a->matrix ? a->matrix[(size_t)i * a->n + j] : a->bytes / a->n;
}

static sim_status direct(const coll_args *a, sim_id *done, sim_err *err)
{
    (void)err;
    const int n = a->n;
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
            s1[(size_t)i * n + R] += b;
            max_s1 = fmax(max_s1, s1[(size_t)i * n + R]);
            if (R != j) {
                n_s2 += s2[(size_t)R * n + j] == 0;
                s2[(size_t)R * n + j] += b;
            }
        }
    int K = coll_chunks(a, max_s1, (double)(n_s1 + n_s2));
    if (K > HIER_MAX_CHUNKS)
        K = HIER_MAX_CHUNKS;
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
