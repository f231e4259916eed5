/* models/route_router.c: the router: one routing model's state, routing dynamics over
 * steps (drift, collapse), cold-expert counters, capacity and placement of each step's
 * draw, and the balanced counterfactual. Formulas: docs/ROUTING.md. */
#include <assert.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "models/par.h"
#include "models/place.h"
#include "models/route.h"
#include "sim/alloc.h"

enum { DYN_NONE, DYN_DRIFT, DYN_COLLAPSE };

struct route_router {
    scn_config c;
    const route_model *m;
    void *state;
    int inited;
    int L, E, n, ep, k;
    int64_t T;
    int dyn;
    double *p;             /* [L][E] probabilities of the current step */
    int *cold_run;         /* [L][E] consecutive cold steps */
    place_policy pol;
    int spare, n_slots;    /* n_slots = 0: contiguous, no replicas, no slot table */
    int *node_of;          /* [E] node within the EP group of each expert's home */
    route_nodes nodes;
    int constrained;
    double *loads;         /* [E] scratch */
    double *pilot_q;       /* [L][E + n_nodes] multinomial sampler: the pilot's expert shares
                            * (and node shares) of pilot_step */
    int n_nodes;           /* nodes of an EP group for the deduplicated dispatch; 0: none */
    int pilot_step;
    int *scratch;          /* [n_slots + E + 1] */
};

void route_router_free(route_router *rt)
{
    if (!rt)
        return;
    if (rt->inited && rt->m->fini)
        rt->m->fini(rt->state);
    sim_free(rt->state);
    sim_free(rt->p);
    sim_free(rt->cold_run);
    sim_free(rt->node_of);
    sim_free(rt->loads);
    sim_free(rt->pilot_q);
    sim_free(rt->scratch);
    sim_free(rt);
}

sim_status route_router_new(const scn_config *c, const route_input *in, gsl_rng *rng,
                            route_router **out, sim_err *err)
{
    const route_model *m = route_model_find(c->routing.model);
    assert(m && "scn_resolve checked the model name");
    route_router *rt = sim_calloc(1, sizeof *rt);
    if (!rt)
        return sim_err_set(err, SIM_ENOMEM, "out of memory (router)");
    rt->c = *c;
    rt->m = m;
    /* one micro-batch of one pipeline stage's plane of tp x dp GPUs (models/par.h): every
     * GPU routes its share of the micro-batch's tokens */
    par_layout pl;
    par_layout_of(c, &pl);
    rt->L = c->model.layers;
    rt->E = c->model.experts;
    rt->n = pl.sim_plane;          /* run.replicas: only the simulated replicas route */
    rt->ep = pl.ep;
    rt->k = c->model.top_k;
    rt->T = pl.tokens_per_src;
    rt->dyn = strcmp(c->routing.dynamics, "drift") == 0      ? DYN_DRIFT
              : strcmp(c->routing.dynamics, "collapse") == 0 ? DYN_COLLAPSE
                                                             : DYN_NONE;
    int bad_policy = place_policy_find(c->placement.policy, &rt->pol);
    assert(!bad_policy && "the key table lists the policies");
    (void)bad_policy;
    rt->spare = c->placement.spare_slots;
    if (rt->pol != PLACE_CONTIGUOUS || rt->spare > 0)
        rt->n_slots = place_n_slots(rt->ep, rt->E, rt->spare);
    size_t LE = (size_t)rt->L * rt->E;
    rt->state = m->state_size ? sim_calloc(1, m->state_size) : NULL;
    rt->p = sim_malloc(LE * sizeof *rt->p);
    rt->cold_run = sim_calloc(LE, sizeof *rt->cold_run);
    rt->node_of = sim_malloc((size_t)rt->E * sizeof *rt->node_of);
    rt->loads = sim_malloc((size_t)rt->E * sizeof *rt->loads);
    rt->pilot_q = sim_malloc(((size_t)rt->L * ((size_t)rt->E + 64)) * sizeof *rt->pilot_q);
    rt->pilot_step = -1;
    rt->scratch = sim_malloc(((size_t)rt->n_slots + rt->E + 1) * sizeof *rt->scratch);
    sim_status st;
    if ((m->state_size && !rt->state) || !rt->p || !rt->cold_run || !rt->node_of ||
        !rt->loads || !rt->pilot_q || !rt->scratch) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory (router)");
        goto fail;
    }
    if (m->init) {
        rt->inited = 1;
        st = m->init(rt->state, c, in, rng, err);
        if (st != SIM_OK)
            goto fail;
    }
    /* the node of every EP rank (all EP groups have the same shape when node constraints
     * are on: scn_resolve checked it) */
    int *rank_node = sim_malloc((size_t)rt->ep * sizeof *rank_node);
    if (!rank_node) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory (router)");
        goto fail;
    }
    int group_nodes = par_ep_nodes(&pl, c->cluster.gpus_per_node, rank_node);
    if (group_nodes < 0)
        for (int r = 0; r < rt->ep; r++)
            rank_node[r] = r / c->cluster.gpus_per_node;
    /* tokens per (source, node) for a deduplicating dispatch: when the group spans nodes
     * evenly and every expert has one copy */
    rt->n_nodes = group_nodes > 1 && rt->spare == 0 ? group_nodes : 0;
    for (int e = 0; e < rt->E; e++)
        rt->node_of[e] = rank_node[place_home_rank(rt->pol, rt->ep, rt->E, e)];
    sim_free(rank_node);
    rt->nodes = (route_nodes){.n_experts = rt->E, .node_of = rt->node_of,
                              .node_limit = c->routing.node_limit,
                              .group_nodes = c->routing.group_nodes};
    rt->constrained = c->routing.node_limit > 0 || c->routing.group_nodes > 0;
    /* dynamics start from the model's probabilities of step 0 */
    for (int l = 0; l < rt->L; l++)
        m->probs(rt->state, 0, l, rt->E, rt->p + (size_t)l * rt->E);
    *out = rt;
    return SIM_OK;
fail:
    route_router_free(rt);
    return st;
}

const double *route_router_probs(const route_router *rt, int layer)
{
    return rt->p + (size_t)layer * rt->E;
}

static sim_status alloc_result(const route_router *rt, route_result *r)
{
    *r = (route_result){.n_layers = rt->L, .n_gpus = rt->n, .n_experts = rt->E,
                        .ep = rt->ep, .tokens_per_gpu = rt->T};
    size_t cells = (size_t)rt->L * rt->n * rt->E;
    r->counts = sim_malloc(cells * sizeof *r->counts);
    r->dropped = sim_calloc(cells, sizeof *r->dropped);
    if (!r->counts || !r->dropped)
        return SIM_ENOMEM;
    if (rt->n_nodes) {
        r->n_nodes = rt->n_nodes;
        r->node_tokens = sim_calloc((size_t)rt->L * rt->n * rt->n_nodes, sizeof *r->node_tokens);
        if (!r->node_tokens)
            return SIM_ENOMEM;
    }
    if (rt->n_slots) {
        r->n_slots = rt->n_slots;
        r->slot_expert = sim_malloc((size_t)rt->L * rt->n_slots * sizeof *r->slot_expert);
        r->slot_counts =
            sim_malloc((size_t)rt->L * rt->n * rt->n_slots * sizeof *r->slot_counts);
        if (!r->slot_expert || !r->slot_counts)
            return SIM_ENOMEM;
    }
    return SIM_OK;
}

/* Capacity on every expert of every layer and EP group, then the placement; replicate = 0
 * leaves the spare slots empty (the balanced counterfactual needs no replicas). */
static sim_status finish(route_router *rt, gsl_rng *drop_rng, route_result *r, int replicate)
{
    size_t per_layer = (size_t)rt->n * rt->E;
    int64_t cap = route_capacity(rt->c.routing.capacity_factor, rt->T * rt->ep, rt->k, rt->E);
    for (int l = 0; l < rt->L && cap != INT64_MAX; l++)
        for (int g0 = 0; g0 < rt->n; g0 += rt->ep)
            for (int e = 0; e < rt->E; e++)
                route_apply_capacity(drop_rng, rt->ep, rt->E, e, cap,
                                     r->counts + l * per_layer + (size_t)g0 * rt->E,
                                     r->dropped + l * per_layer + (size_t)g0 * rt->E);
    /* tokens to a node shrink with the share of their assignments kept there */
    for (int l = 0; l < rt->L && cap != INT64_MAX && r->node_tokens; l++)
        for (int g = 0; g < rt->n; g++) {
            double kept[64] = {0}, all[64] = {0};
            for (int e = 0; e < rt->E; e++) {
                size_t i = l * per_layer + (size_t)g * rt->E + e;
                kept[rt->node_of[e]] += (double)r->counts[i];
                all[rt->node_of[e]] += (double)(r->counts[i] + r->dropped[i]);
            }
            int64_t *nt = r->node_tokens + ((size_t)l * rt->n + g) * rt->n_nodes;
            for (int k = 0; k < rt->n_nodes; k++)
                nt[k] = all[k] > 0 ? (int64_t)llround((double)nt[k] * kept[k] / all[k]) : 0;
        }
    if (!rt->n_slots)
        return SIM_OK;
    for (int l = 0; l < rt->L; l++) {
        /* replication plans by the tokens that reach each expert, cluster-wide */
        for (int e = 0; e < rt->E; e++)
            rt->loads[e] = 0;
        for (int g = 0; g < rt->n; g++)
            for (int e = 0; e < rt->E; e++)
                rt->loads[e] += (double)r->counts[l * per_layer + (size_t)g * rt->E + e];
        int *slots = r->slot_expert + (size_t)l * rt->n_slots;
        if (place_plan(rt->pol, rt->ep, rt->E, rt->spare, rt->loads, slots) != SIM_OK)
            return SIM_ENOMEM;
        int per = rt->E / rt->ep, spg = per + rt->spare;   /* a GPU's slots: homes, spares */
        for (int g = 0; g < rt->ep && !replicate; g++)
            for (int j = per; j < spg; j++)
                slots[g * spg + j] = -1;
        for (int g0 = 0; g0 < rt->n; g0 += rt->ep)
            place_split(rt->E, rt->n_slots, slots, rt->ep,
                        r->counts + l * per_layer + (size_t)g0 * rt->E,
                        r->slot_counts + ((size_t)l * rt->n + g0) * rt->n_slots,
                        rt->scratch);
    }
    return SIM_OK;
}

sim_status route_router_sample(route_router *rt, int step, gsl_rng *rng, gsl_rng *drop_rng,
                               route_result *out, sim_err *err)
{
    route_result r;
    sim_status st = alloc_result(rt, &r);
    if (st != SIM_OK)
        goto fail;
    if (rt->dyn == DYN_NONE)
        for (int l = 0; l < rt->L; l++)
            rt->m->probs(rt->state, step, l, rt->E, rt->p + (size_t)l * rt->E);
    int direct = rt->m->sample && !rt->constrained && rt->dyn == DYN_NONE;
    /* the multinomial sampler draws from the router's probabilities; models that give
     * counts directly (trace, expert choice) keep their own */
    int approx = strcmp(rt->c.routing.sampler, "multinomial") == 0 &&
                 strcmp(rt->m->name, "trace") != 0 && strcmp(rt->m->name, "expert_choice") != 0;
    size_t per_layer = (size_t)rt->n * rt->E;
    int pilot_stale = rt->pilot_step != step;
    for (int l = 0; l < rt->L; l++) {
        for (int g0 = 0; g0 < rt->n; g0 += rt->ep) {
            route_draw d = {.step = step, .layer = l, .group = g0 / rt->ep, .n_src = rt->ep,
                            .tokens_per_src = rt->T, .n_experts = rt->E, .top_k = rt->k,
                            .capacity_factor = rt->c.routing.capacity_factor,
                            .p = rt->p + (size_t)l * rt->E};
            int64_t *cnt = r.counts + l * per_layer + (size_t)g0 * rt->E;
            if (rt->n_nodes) {
                d.node_of = rt->node_of;
                d.n_nodes = rt->n_nodes;
                d.node_tokens = r.node_tokens + ((size_t)l * rt->n + g0) * rt->n_nodes;
            }
            const route_nodes *nodes = rt->constrained ? &rt->nodes : NULL;
            double *q = rt->pilot_q + (size_t)l * (rt->E + 64);
            /* the pilot pays when the layer's sources together draw more tokens than it;
             * it is drawn once per step and layer and serves every micro-batch */
            if (approx && (int64_t)rt->n * rt->T <= rt->c.routing.pilot_tokens)
                st = route_topk_sample(rng, &d, nodes, cnt);   /* nothing to gain */
            else if (approx) {
                if (pilot_stale && g0 == 0)     /* one pilot per step and layer */
                    st = !nodes && route_exact_shares(&d, q)   /* no pilot needed */
                             ? SIM_OK
                             : route_topk_pilot(rng, &d, nodes, rt->c.routing.pilot_tokens, q);
                if (st == SIM_OK)
                    st = route_multinomial_rows(rng, &d, q, cnt);
            } else
                st = direct ? rt->m->sample(rt->state, rng, &d, cnt)
                            : route_topk_sample(rng, &d, nodes, cnt);
            if (st != SIM_OK)
                goto fail;
        }
    }
    if (approx)
        rt->pilot_step = step;
    st = finish(rt, drop_rng, &r, 1);
    if (st != SIM_OK)
        goto fail;
    *out = r;
    return SIM_OK;
fail:
    route_result_fini(&r);
    return sim_err_set(err, st, "routing model %s failed: %s", rt->m->name,
                       sim_status_text(st));
}

sim_status route_router_balanced(route_router *rt, gsl_rng *drop_rng, route_result *out,
                                 sim_err *err)
{
    route_result r;
    sim_status st = alloc_result(rt, &r);
    if (st != SIM_OK)
        goto fail;
    int64_t per_src = rt->T * rt->k, base = per_src / rt->E, rem = per_src % rt->E;
    for (int l = 0; l < rt->L; l++)
        for (int g = 0; g < rt->n; g++) {
            /* source s gives the remainder to experts s*rem .. s*rem+rem-1 (mod E), so
             * over the group the extra assignments go round the experts evenly */
            int64_t *row = r.counts + ((size_t)l * rt->n + g) * rt->E;
            int64_t first = ((int64_t)(g % rt->ep) * rem) % rt->E;
            for (int e = 0; e < rt->E; e++)
                row[e] = base + (((e - first) % rt->E + rt->E) % rt->E < rem ? 1 : 0);
            /* a token of k uniform distinct experts misses the m experts of a node with
             * probability C(E - m, k) / C(E, k) */
            for (int n = 0; n < rt->n_nodes; n++) {
                int m = 0;
                for (int e = 0; e < rt->E; e++)
                    m += rt->node_of[e] == n;
                double miss = 1;
                for (int i = 0; i < rt->k && miss > 0; i++)
                    miss = rt->E - m - i > 0 ? miss * (rt->E - m - i) / (double)(rt->E - i) : 0;
                r.node_tokens[((size_t)l * rt->n + g) * rt->n_nodes + n] =
                    llround((double)rt->T * (1 - (miss > 0 ? miss : 0)));
            }
        }
    st = finish(rt, drop_rng, &r, 0);
    if (st != SIM_OK)
        goto fail;
    *out = r;
    return SIM_OK;
fail:
    route_result_fini(&r);
    return sim_err_set(err, st, "balanced counterfactual: %s", sim_status_text(st));
}

/* Cold counters and dynamics of layer l from its routed assignments, in rt->loads[E]. */
static void observe_layer(route_router *rt, int l, gsl_rng *dyn_rng, uint8_t *cold)
{
    double thr = rt->c.routing.cold_threshold / rt->E;
    double *f = rt->loads, total = 0;
    for (int e = 0; e < rt->E; e++)
        total += f[e];
    for (int e = 0; e < rt->E; e++)
        f[e] = total > 0 ? f[e] / total : 0;
    int *run = rt->cold_run + (size_t)l * rt->E;
    for (int e = 0; e < rt->E; e++) {
        run[e] = f[e] < thr ? run[e] + 1 : 0;
        if (cold)
            cold[(size_t)l * rt->E + e] = run[e] >= rt->c.routing.cold_steps;
    }
    double *p = rt->p + (size_t)l * rt->E, sum = 0;
    if (rt->dyn == DYN_DRIFT) {
        /* log-popularity random walk: log p_e += sigma N(0,1), renormalized */
        double mx = -INFINITY;
        for (int e = 0; e < rt->E; e++) {
            p[e] = p[e] > 0 ? log(p[e]) + gsl_ran_gaussian(dyn_rng, rt->c.routing.drift_sigma)
                            : -INFINITY;
            mx = fmax(mx, p[e]);
        }
        for (int e = 0; e < rt->E; e++)
            sum += (p[e] = exp(p[e] - mx));
        for (int e = 0; e < rt->E; e++)
            p[e] /= sum;
    } else if (rt->dyn == DYN_COLLAPSE) {
        /* rich get richer: q ~ f^gain; balancing pulls toward uniform with alpha */
        double a = rt->c.routing.balance_alpha, gain = rt->c.routing.collapse_gain;
        for (int e = 0; e < rt->E; e++)
            sum += (p[e] = pow(f[e], gain));
        for (int e = 0; e < rt->E; e++)
            p[e] = (1 - a) * (sum > 0 ? p[e] / sum : 1.0 / rt->E) + a / rt->E;
    }
}

void route_router_observe(route_router *rt, const route_result *r, gsl_rng *dyn_rng,
                          uint8_t *cold)
{
    size_t per_layer = (size_t)rt->n * rt->E;
    for (int l = 0; l < rt->L; l++) {
        for (int e = 0; e < rt->E; e++)
            rt->loads[e] = 0;
        for (int g = 0; g < rt->n; g++)
            for (int e = 0; e < rt->E; e++) {
                size_t i = l * per_layer + (size_t)g * rt->E + e;
                rt->loads[e] += (double)(r->counts[i] + r->dropped[i]);
            }
        observe_layer(rt, l, dyn_rng, cold);
    }
}

void route_router_observe_loads(route_router *rt, const double *routed, gsl_rng *dyn_rng,
                                uint8_t *cold)
{
    for (int l = 0; l < rt->L; l++) {
        memcpy(rt->loads, routed + (size_t)l * rt->E, (size_t)rt->E * sizeof *rt->loads);
        observe_layer(rt, l, dyn_rng, cold);
    }
}
