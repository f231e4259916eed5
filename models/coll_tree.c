/* models/coll_tree.c: double binary tree all-reduce (NCCL's "tree" algorithm).
 *
 * Two binary trees over the P ranks each reduce half of the buffer to their root and
 * broadcast the result back. Tree 0 places rank r at heap position r (parent of position
 * p is (p-1)/2); tree 1 mirrors it (rank r at position P-1-r), so that the leaves of one
 * tree (the upper half of positions) are inner nodes of the other, as in NCCL's
 * construction, and every rank sends and receives about the same amount.
 * Each half is split into K chunks, pipelined: a rank sends chunk k up when it has chunk k
 * from all its children; it sends chunk k down to its children when it has received it
 * from its parent (the root: when its children's chunk k arrived). At most COLL_WINDOW
 * chunks are in flight per rank and direction. Unlike NCCL, the trees ignore node
 * boundaries (NCCL chains the GPUs of a node and builds the trees across nodes): see
 * docs/NETWORK.md. */
#include "models/coll.h"

#include "sim/alloc.h"

static int rank_at(int tree, int pos, int P) { return tree == 0 ? pos : P - 1 - pos; }

static sim_status tree_ar(const coll_args *a, sim_id *done, sim_err *err)
{
    const int P = a->n;
    if (P <= 1 || a->bytes <= 0) {
        for (int r = 0; r < P; r++)
            done[r] = coll_join(a, r);
        return SIM_OK;
    }
    const int K = coll_chunks(a, a->bytes / 2, 4.0 * (P - 1));
    const double c = a->bytes / 2 / K;
    size_t cells = (size_t)2 * K * P;
    /* up[(t K + k) P + pos]: flow from position pos to its parent; down: parent -> pos */
    sim_id *up = sim_malloc(cells * sizeof *up), *down = sim_malloc(cells * sizeof *down);
    if (!up || !down) {
        sim_free(up);
        sim_free(down);
        return sim_err_set(err, SIM_ENOMEM, "out of memory building a tree all-reduce");
    }
    for (int r = 0; r < P; r++)
        done[r] = coll_join(a, r);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < K; k++) {
            sim_id *u = up + ((size_t)t * K + k) * P, *d = down + ((size_t)t * K + k) * P;
            /* reduce: children (higher positions) first */
            for (int p = P - 1; p >= 1; p--) {
                int r = rank_at(t, p, P), parent = rank_at(t, (p - 1) / 2, P);
                sim_id f = coll_flow(a, r, parent, c);
                coll_dep(a, coll_after(a, r), f);
                for (int ch = 2 * p + 1; ch <= 2 * p + 2 && ch < P; ch++)
                    coll_dep(a, u[ch], f);
                if (k >= COLL_WINDOW)
                    coll_dep(a, up[((size_t)t * K + k - COLL_WINDOW) * P + p], f);
                u[p] = f;
            }
            /* the root has the result when its children's chunks arrived */
            int root = rank_at(t, 0, P);
            for (int ch = 1; ch <= 2 && ch < P; ch++)
                coll_dep(a, u[ch], done[root]);
            /* broadcast: parents first */
            for (int p = 1; p < P; p++) {
                int r = rank_at(t, p, P), parent = rank_at(t, (p - 1) / 2, P);
                sim_id f = coll_flow(a, parent, r, c);
                if (p <= 2) {
                    coll_dep(a, coll_after(a, root), f);
                    for (int ch = 1; ch <= 2 && ch < P; ch++)
                        coll_dep(a, u[ch], f);
                } else {
                    coll_dep(a, d[(p - 1) / 2], f);
                }
                if (k >= COLL_WINDOW)
                    coll_dep(a, down[((size_t)t * K + k - COLL_WINDOW) * P + p], f);
                d[p] = f;
                coll_dep(a, f, done[r]);
            }
        }
    sim_free(up);
    sim_free(down);
    return SIM_OK;
}

const coll_algo coll_tree_all_reduce = {"tree", COLL_ALL_REDUCE, tree_ar};
