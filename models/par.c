/* models/par.c: parallel layout, layer chunks and pipeline schedules (see models/par.h). */
#include "models/par.h"

#include <assert.h>
#include <string.h>

const char par_order_names[] = "tp-dp-pp|tp-pp-dp|dp-tp-pp|dp-pp-tp|pp-tp-dp|pp-dp-tp";

int par_order_parse(const char *text, int order[3])
{
    static const char *const dim[3] = {"tp", "dp", "pp"};
    if (strlen(text) != 8 || text[2] != '-' || text[5] != '-')
        return -1;
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        int d = -1;
        for (int k = 0; k < 3; k++)
            if (strncmp(text + 3 * i, dim[k], 2) == 0)
                d = k;
        if (d < 0 || (seen & (1 << d)))
            return -1;
        seen |= 1 << d;
        order[i] = d;
    }
    return 0;
}

void par_layout_of(const scn_config *c, par_layout *p)
{
    memset(p, 0, sizeof *p);
    p->world = scn_world(c);
    p->tp = c->parallel.tp;
    p->pp = c->parallel.pp;
    p->dp = c->parallel.dp;
    p->ep = c->parallel.ep;
    p->vpp = c->parallel.vpp;
    assert(p->tp * p->pp * p->dp == p->world && "scn_resolve checked the degrees");
    p->plane = p->tp * p->dp;
    assert(p->plane % p->ep == 0);
    p->edp = p->plane / p->ep;
    int R = c->run.replicas;
    p->sim_plane = R > 0 && R < p->edp ? R * p->ep : p->plane;
    p->n_chunks = p->pp * p->vpp;
    p->interleaved = strcmp(c->parallel.schedule, "interleaved") == 0;
    p->tokens_per_micro = (int64_t)c->training.micro_batch * c->training.seq_len;
    p->tokens_per_src = p->tokens_per_micro / p->tp;
    int64_t per_step = (int64_t)p->dp * c->training.micro_batch;
    p->n_micro = (int)(c->training.global_batch / per_step);
    int bad = par_order_parse(c->parallel.order, p->order);
    assert(!bad && "the key table lists the orders");
    (void)bad;
    int size[3] = {p->tp, p->dp, p->pp}, stride = 1;
    for (int i = 0; i < 3; i++) {
        p->stride[p->order[i]] = stride;
        stride *= size[p->order[i]];
    }
}

void par_coords(const par_layout *p, int g, int *stage, int *q)
{
    int tp_rank = (g / p->stride[PAR_TP]) % p->tp;
    int dp_rank = (g / p->stride[PAR_DP]) % p->dp;
    *stage = (g / p->stride[PAR_PP]) % p->pp;
    *q = tp_rank + p->tp * dp_rank;
}

/* Layers in chunk c: the C - extra smaller chunks are, in this order, 0, C-1, 1, C-2, ... */
static int chunk_size(const par_layout *p, int n_layers, int c)
{
    int C = p->n_chunks, base = n_layers / C, small = C - n_layers % C;
    int from_end = c < C - 1 - c ? c : C - 1 - c;          /* distance to the nearer end */
    int rank = 2 * from_end + (c > C - 1 - c ? 1 : 0);     /* position in 0, C-1, 1, ... */
    return base + (rank < small ? 0 : 1);
}

void par_chunk_layers(const par_layout *p, int n_layers, int *first)
{
    first[0] = 0;
    for (int c = 0; c < p->n_chunks; c++)
        first[c + 1] = first[c] + chunk_size(p, n_layers, c);
    assert(first[p->n_chunks] == n_layers);
}

int par_layer_stage(const par_layout *p, int n_layers, int l)
{
    int c = 0;
    for (int end = chunk_size(p, n_layers, 0); end <= l; end += chunk_size(p, n_layers, ++c))
        ;
    return c % p->pp;
}

/* The nodes of one EP group: node_of[r] numbered by first appearance; -1 if uneven. */
static int group_nodes(const par_layout *p, int gpn, int s, int k, int *node_of)
{
    int n_nodes = 0, seen[64], count[64];
    for (int r = 0; r < p->ep; r++) {
        int node = par_gpu(p, s, k * p->ep + r) / gpn, i = 0;
        while (i < n_nodes && seen[i] != node)
            i++;
        if (i == n_nodes) {
            if (n_nodes == 64)
                return -1;
            seen[n_nodes] = node;
            count[n_nodes++] = 0;
        }
        count[i]++;
        if (node_of)
            node_of[r] = i;
    }
    for (int i = 1; i < n_nodes; i++)
        if (count[i] != count[0])
            return -1;
    return n_nodes;
}

int par_ep_nodes(const par_layout *p, int gpus_per_node, int *node_of)
{
    int n = group_nodes(p, gpus_per_node, 0, 0, node_of);
    for (int s = 0; s < p->pp && n > 0; s++)
        for (int k = 0; k < p->plane / p->ep; k++)
            if (group_nodes(p, gpus_per_node, s, k, NULL) != n)
                return -1;
    return n;
}

int par_warmup(const par_layout *p, int s)
{
    int total = p->n_micro * p->vpp;
    if (!p->interleaved)
        return p->pp - s - 1 < p->n_micro ? p->pp - s - 1 : p->n_micro;
    if (p->n_micro == p->pp)        /* Megatron: every forward first */
        return total;
    int w = (p->pp - s - 1) * 2 + (p->vpp - 1) * p->pp;
    return w < total ? w : total;
}

/* Megatron's interleaved schedule: the k-th forward (or backward) of a stage. */
static par_op interleaved_op(const par_layout *p, int k, int forward)
{
    int group = p->pp * p->vpp;
    int v = (k % group) / p->pp;
    if (!forward)
        v = p->vpp - 1 - v;
    return (par_op){.forward = (int8_t)forward, .v = (int16_t)v,
                    .micro = (k / group) * p->pp + k % p->pp};
}

static par_op op_of(const par_layout *p, int k, int forward)
{
    if (p->interleaved)
        return interleaved_op(p, k, forward);
    return (par_op){.forward = (int8_t)forward, .v = 0, .micro = k};
}

void par_schedule(const par_layout *p, int s, par_op *ops)
{
    int total = p->n_micro * p->vpp, warm = par_warmup(p, s), n = 0;
    for (int k = 0; k < warm; k++)
        ops[n++] = op_of(p, k, 1);
    for (int k = 0; k < total - warm; k++) {
        ops[n++] = op_of(p, warm + k, 1);
        ops[n++] = op_of(p, k, 0);
    }
    for (int k = total - warm; k < total; k++)
        ops[n++] = op_of(p, k, 0);
    assert(n == 2 * total);
}
