/* models/route.c: the routing-model table, the shared top-k sampler (alias tables with
 * rejection of repeats, node-limited and two-level constraints), capacity dropping. */
#include "models/route.h"

#include <assert.h>
#include <limits.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "sim/alloc.h"

static const route_model *const models[] = {
    &route_uniform, &route_zipf, &route_dirichlet, &route_hot, &route_trace_model,
    &route_expert_choice,
};

const route_model *route_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

/* ---- Vose's alias table: O(n) to build, O(1) (two uniform draws) per sample ---- */

typedef struct alias {
    int n;
    double *prob;          /* [n] probability of keeping column i */
    int *other;            /* [n] the alias of column i */
    int *stack;            /* [2n] scratch for building */
} alias;

static int alias_init(alias *a, int n)
{
    a->n = n;
    a->prob = sim_malloc((size_t)n * sizeof *a->prob);
    a->other = sim_malloc((size_t)n * sizeof *a->other);
    a->stack = sim_malloc(2 * (size_t)n * sizeof *a->stack);
    return a->prob && a->other && a->stack ? 0 : -1;
}

static void alias_fini(alias *a)
{
    sim_free(a->prob);
    sim_free(a->other);
    sim_free(a->stack);
}

/* Builds the table for the weights w[idx[i]], i < n (idx NULL: w[i]); they need not sum to
 * 1 but must not all be zero. Column i stands for entry i. */
static void alias_build(alias *a, const double *w, const int *idx, int n)
{
    double sum = 0;
    a->n = n;
    for (int i = 0; i < n; i++)
        sum += w[idx ? idx[i] : i];
    assert(sum > 0);
    int *small = a->stack, *large = a->stack + n, ns = 0, nl = 0;
    for (int i = 0; i < n; i++) {
        a->prob[i] = w[idx ? idx[i] : i] * n / sum;
        a->other[i] = i;
        if (a->prob[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        int s = small[--ns], l = large[--nl];
        a->other[s] = l;
        a->prob[l] -= 1.0 - a->prob[s];
        if (a->prob[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    /* what is left is 1 up to rounding */
    while (nl > 0)
        a->prob[large[--nl]] = 1.0;
    while (ns > 0)
        a->prob[small[--ns]] = 1.0;
}

static int alias_draw(const alias *a, gsl_rng *rng)
{
    int i = (int)gsl_rng_uniform_int(rng, (unsigned long)a->n);
    return gsl_rng_uniform(rng) < a->prob[i] ? i : a->other[i];
}

/* ---- the shared top-k sampler ---- */

#define ROUTE_MAX_REJECTS 16   /* then one exact draw over what is still allowed */

typedef struct sampler {
    const double *p;
    int E, k, M, G;            /* M: node limit (0 none); G: nodes per group (0 none) */
    const int *node_of;
    alias all;                 /* over every expert */
    int n_groups;
    alias *grp;                /* [n_groups] over each group's experts (two-level) */
    alias groups;              /* over the groups, weighted by their mass */
    int *grp_first, *grp_list; /* experts of group g: grp_list[grp_first[g]..grp_first[g+1]) */
    double *grp_mass;
    uint8_t *mark;             /* [E] chosen by the current token */
    uint8_t *node_mark;        /* [nodes] used by the current token */
    int *chosen, *used_nodes;
    int n_nodes;
} sampler;

static void sampler_fini(sampler *s)
{
    alias_fini(&s->all);
    if (s->grp)
        for (int g = 0; g < s->n_groups; g++)
            alias_fini(&s->grp[g]);
    sim_free(s->grp);
    alias_fini(&s->groups);
    sim_free(s->grp_first);
    sim_free(s->grp_list);
    sim_free(s->grp_mass);
    sim_free(s->mark);
    sim_free(s->node_mark);
    sim_free(s->chosen);
    sim_free(s->used_nodes);
}

static int sampler_init(sampler *s, const route_draw *d, const route_nodes *nodes)
{
    memset(s, 0, sizeof *s);
    s->p = d->p;
    s->E = d->n_experts;
    s->k = d->top_k;
    if (nodes) {
        s->M = nodes->node_limit;
        s->G = nodes->group_nodes;
        s->node_of = nodes->node_of;
        for (int e = 0; e < s->E; e++)
            if (nodes->node_of[e] + 1 > s->n_nodes)
                s->n_nodes = nodes->node_of[e] + 1;
    }
    if (alias_init(&s->all, s->E) != 0)
        return -1;
    alias_build(&s->all, s->p, NULL, s->E);
    s->mark = sim_calloc((size_t)s->E, 1);
    s->chosen = sim_malloc((size_t)s->k * sizeof *s->chosen);
    s->node_mark = sim_calloc((size_t)s->n_nodes + 1, 1);
    s->used_nodes = sim_malloc(((size_t)s->n_nodes + 1) * sizeof *s->used_nodes);
    if (!s->mark || !s->chosen || !s->node_mark || !s->used_nodes)
        return -1;
    if (s->G > 0) {
        s->n_groups = (s->n_nodes + s->G - 1) / s->G;
        s->grp = sim_calloc((size_t)s->n_groups, sizeof *s->grp);
        s->grp_first = sim_calloc((size_t)s->n_groups + 1, sizeof *s->grp_first);
        s->grp_list = sim_malloc((size_t)s->E * sizeof *s->grp_list);
        s->grp_mass = sim_calloc((size_t)s->n_groups, sizeof *s->grp_mass);
        if (!s->grp || !s->grp_first || !s->grp_list || !s->grp_mass ||
            alias_init(&s->groups, s->n_groups) != 0)
            return -1;
        for (int e = 0; e < s->E; e++) {
            int g = s->node_of[e] / s->G;
            s->grp_first[g + 1]++;
            s->grp_mass[g] += s->p[e];
        }
        for (int g = 0; g < s->n_groups; g++)
            s->grp_first[g + 1] += s->grp_first[g];
        for (int g = 0, at = 0; g < s->n_groups; g++)
            for (int e = 0; e < s->E; e++)
                if (s->node_of[e] / s->G == g)
                    s->grp_list[at++] = e;
        alias_build(&s->groups, s->grp_mass, NULL, s->n_groups);
        for (int g = 0; g < s->n_groups; g++) {
            int n = s->grp_first[g + 1] - s->grp_first[g];
            if (alias_init(&s->grp[g], n) != 0)
                return -1;
            if (s->grp_mass[g] > 0)
                alias_build(&s->grp[g], s->p, s->grp_list + s->grp_first[g], n);
        }
    }
    return 0;
}

/* Is expert e still allowed for the current token? (not chosen; within the node budget;
 * inside the token's group) */
static int allowed(const sampler *s, int e, int n_used, int group)
{
    if (s->mark[e])
        return 0;
    if (s->M > 0 && n_used >= s->M && !s->node_mark[s->node_of[e]])
        return 0;
    if (group >= 0 && s->node_of[e] / s->G != group)
        return 0;
    return 1;
}

/* One exact draw with probability proportional to p among the allowed experts; uniform
 * among them if they all have probability 0. */
static int exact_draw(const sampler *s, gsl_rng *rng, int n_used, int group)
{
    double mass = 0;
    int n_ok = 0, last = -1;
    for (int e = 0; e < s->E; e++)
        if (allowed(s, e, n_used, group)) {
            mass += s->p[e];
            n_ok++;
        }
    assert(n_ok > 0);
    if (mass <= 0) {
        int pick = (int)gsl_rng_uniform_int(rng, (unsigned long)n_ok);
        for (int e = 0; e < s->E; e++)
            if (allowed(s, e, n_used, group) && pick-- == 0)
                return e;
    }
    double u = gsl_rng_uniform(rng) * mass;
    for (int e = 0; e < s->E; e++) {
        if (!allowed(s, e, n_used, group) || s->p[e] <= 0)
            continue;
        last = e;
        if (u < s->p[e])
            return e;
        u -= s->p[e];
    }
    return last;          /* rounding left u just above the last mass */
}

/* k distinct experts for one token, added to row. */
static void draw_token(sampler *s, gsl_rng *rng, int64_t *row)
{
    int n_used = 0, group = -1;
    const alias *tab = &s->all;
    const int *map = NULL;
    if (s->G > 0) {
        group = alias_draw(&s->groups, rng);
        tab = &s->grp[group];
        map = s->grp_list + s->grp_first[group];
        if (s->grp_mass[group] <= 0)
            tab = NULL;
    }
    for (int i = 0; i < s->k; i++) {
        int e = -1;
        for (int tries = 0; tab && tries < ROUTE_MAX_REJECTS; tries++) {
            int c = alias_draw(tab, rng);
            c = map ? map[c] : c;
            if (allowed(s, c, n_used, group)) {
                e = c;
                break;
            }
        }
        if (e < 0)
            e = exact_draw(s, rng, n_used, group);
        s->mark[e] = 1;
        s->chosen[i] = e;
        row[e]++;
        if (s->M > 0 && !s->node_mark[s->node_of[e]]) {
            s->node_mark[s->node_of[e]] = 1;
            s->used_nodes[n_used++] = s->node_of[e];
        }
    }
    for (int i = 0; i < s->k; i++)
        s->mark[s->chosen[i]] = 0;
    for (int i = 0; i < n_used; i++)
        s->node_mark[s->used_nodes[i]] = 0;
}

void route_count_token_nodes(const route_draw *d, int src, const int *chosen, int k)
{
    if (!d->node_tokens)
        return;
    uint64_t seen = 0;
    for (int i = 0; i < k; i++)
        seen |= UINT64_C(1) << d->node_of[chosen[i]];
    int64_t *row = d->node_tokens + (size_t)src * d->n_nodes;
    for (int n = 0; seen; n++, seen >>= 1)
        row[n] += (int64_t)(seen & 1);
}

void route_node_tokens_undeduplicated(const route_draw *d, const int64_t *counts)
{
    if (!d->node_tokens)
        return;
    memset(d->node_tokens, 0, (size_t)d->n_src * d->n_nodes * sizeof *d->node_tokens);
    for (int src = 0; src < d->n_src; src++)
        for (int e = 0; e < d->n_experts; e++)
            d->node_tokens[(size_t)src * d->n_nodes + d->node_of[e]] +=
                counts[(size_t)src * d->n_experts + e];
}

sim_status route_topk_sample(gsl_rng *rng, const route_draw *d, const route_nodes *nodes,
                             int64_t *counts)
{
    assert(d->top_k <= d->n_experts);
    if (nodes && nodes->node_limit == 0 && nodes->group_nodes == 0)
        nodes = NULL;
    sampler s;
    if (sampler_init(&s, d, nodes) != 0) {
        sampler_fini(&s);
        return SIM_ENOMEM;
    }
    memset(counts, 0, (size_t)d->n_src * d->n_experts * sizeof *counts);
    if (d->node_tokens)
        memset(d->node_tokens, 0, (size_t)d->n_src * d->n_nodes * sizeof *d->node_tokens);
    for (int src = 0; src < d->n_src; src++) {
        int64_t *row = counts + (size_t)src * d->n_experts;
        for (int64_t t = 0; t < d->tokens_per_src; t++) {
            draw_token(&s, rng, row);
            route_count_token_nodes(d, src, s.chosen, s.k);
        }
    }
    sampler_fini(&s);
    return SIM_OK;
}

sim_status route_topk_pilot(gsl_rng *rng, const route_draw *d, const route_nodes *nodes,
                            int64_t pilot_tokens, double *q)
{
    int E = d->n_experts;
    int64_t *pilot = sim_malloc((size_t)E * sizeof *pilot);
    int64_t *nt = d->node_tokens ? sim_malloc((size_t)d->n_nodes * sizeof *nt) : NULL;
    if (!pilot || (d->node_tokens && !nt)) {
        sim_free(pilot);
        sim_free(nt);
        return SIM_ENOMEM;
    }
    route_draw pd = *d;
    pd.n_src = 1;
    pd.tokens_per_src = pilot_tokens;
    pd.node_tokens = nt;
    sim_status st = route_topk_sample(rng, &pd, nodes, pilot);
    for (int e = 0; e < E && st == SIM_OK; e++)
        q[e] = (double)pilot[e] / ((double)pilot_tokens * d->top_k);
    for (int n = 0; nt && n < d->n_nodes && st == SIM_OK; n++)
        q[E + n] = (double)nt[n] / (double)pilot_tokens;
    sim_free(pilot);
    sim_free(nt);
    return st;
}

sim_status route_multinomial_rows(gsl_rng *rng, const route_draw *d, const double *q,
                                  int64_t *counts)
{
    int E = d->n_experts;
    unsigned int *n = sim_malloc((size_t)E * sizeof *n);
    if (!n)
        return SIM_ENOMEM;
    int64_t trials = d->tokens_per_src * d->top_k;
    assert(trials <= UINT_MAX);
    for (int src = 0; src < d->n_src; src++) {
        gsl_ran_multinomial(rng, (size_t)E, (unsigned int)trials, q, n);
        int64_t *row = counts + (size_t)src * E;
        for (int e = 0; e < E; e++)
            row[e] = n[e];
        for (int k = 0; d->node_tokens && k < d->n_nodes; k++)
            d->node_tokens[(size_t)src * d->n_nodes + k] =
                gsl_ran_binomial(rng, q[E + k], (unsigned int)d->tokens_per_src);
    }
    sim_free(n);
    return SIM_OK;
}

int route_exact_shares(const route_draw *d, double *q)
{
    int E = d->n_experts, k = d->top_k, equal = 1;
    for (int e = 1; e < E && equal; e++)
        equal = d->p[e] == d->p[0];
    if (k != 1 && !equal)
        return 0;
    for (int e = 0; e < E; e++)
        q[e] = equal ? 1.0 / E : d->p[e];
    for (int n = 0; d->node_tokens && n < d->n_nodes; n++) {
        int m = 0;
        double mass = 0;
        for (int e = 0; e < E; e++)
            if (d->node_of[e] == n)
                m++, mass += d->p[e];
        if (k == 1) {
            q[E + n] = mass;
            continue;
        }
        double miss = 1;   /* C(E - m, k) / C(E, k) */
        for (int i = 0; i < k && miss > 0; i++)
            miss = E - m - i > 0 ? miss * (E - m - i) / (double)(E - i) : 0;
        q[E + n] = 1 - miss;
    }
    return 1;
}

sim_status route_topk_sample_multinomial(gsl_rng *rng, const route_draw *d,
                                         const route_nodes *nodes, int64_t pilot_tokens,
                                         int64_t *counts)
{
    if (d->tokens_per_src <= pilot_tokens)         /* nothing to gain: draw exactly */
        return route_topk_sample(rng, d, nodes, counts);
    double *q = sim_malloc(((size_t)d->n_experts + (size_t)d->n_nodes) * sizeof *q);
    if (!q)
        return SIM_ENOMEM;
    sim_status st = !nodes && route_exact_shares(d, q)
                        ? SIM_OK
                        : route_topk_pilot(rng, d, nodes, pilot_tokens, q);
    if (st == SIM_OK)
        st = route_multinomial_rows(rng, d, q, counts);
    sim_free(q);
    return st;
}

/* ---- capacity ---- */

int64_t route_capacity(double capacity_factor, int64_t group_tokens, int top_k, int n_experts)
{
    if (capacity_factor <= 0)
        return INT64_MAX;
    /* exact for integers: C x tokens x k / E, rounded up */
    double cap = ceil(capacity_factor * (double)group_tokens * top_k / n_experts);
    return cap >= 9.2e18 ? INT64_MAX : (int64_t)cap;
}

void route_apply_capacity(gsl_rng *rng, int n_src, int n_experts, int expert, int64_t cap,
                          int64_t *counts, int64_t *dropped)
{
    int64_t total = 0;
    for (int s = 0; s < n_src; s++)
        total += counts[(size_t)s * n_experts + expert];
    if (total <= cap)
        return;
    int64_t rest = total, keep = cap;
    for (int s = 0; s < n_src; s++) {
        int64_t *c = &counts[(size_t)s * n_experts + expert];
        int64_t kept;
        if (s == n_src - 1)
            kept = keep;
        else if (keep == 0 || *c == 0)
            kept = 0;
        else
            kept = gsl_ran_hypergeometric(rng, (unsigned)*c, (unsigned)(rest - *c),
                                          (unsigned)keep);
        rest -= *c;
        keep -= kept;
        dropped[(size_t)s * n_experts + expert] += *c - kept;
        *c = kept;
    }
    assert(keep == 0 && rest == 0);
}

void route_result_fini(route_result *r)
{
    sim_free(r->counts);
    sim_free(r->dropped);
    sim_free(r->slot_expert);
    sim_free(r->slot_counts);
    sim_free(r->node_tokens);
    memset(r, 0, sizeof *r);
}
