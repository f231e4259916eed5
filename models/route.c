/* models/route.c: the uniform routing model, capacity dropping and per-step sampling. */
#include "models/route.h"

#include <assert.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "sim/alloc.h"

/* Uniform: each token picks top_k distinct experts, every expert equally likely
 * (rejection of repeats; exact, and cheap while top_k is small next to n_experts). */
static sim_status uniform_sample(void *state, gsl_rng *rng, int step, int layer, int n_src,
                                 int64_t tokens_per_src, int n_experts, int top_k,
                                 int64_t *counts)
{
    (void)state;
    (void)step;
    (void)layer;
    int picked[64];
    int use_perm = top_k > 64 || 2 * top_k > n_experts;
    int *perm = NULL;
    if (use_perm) {
        perm = sim_malloc((size_t)n_experts * sizeof *perm);
        if (!perm)
            return SIM_ENOMEM;
        for (int e = 0; e < n_experts; e++)
            perm[e] = e;
    }
    memset(counts, 0, (size_t)n_src * n_experts * sizeof *counts);
    for (int s = 0; s < n_src; s++) {
        int64_t *row = counts + (size_t)s * n_experts;
        for (int64_t t = 0; t < tokens_per_src; t++) {
            if (use_perm) {
                /* partial Fisher-Yates: the first top_k entries are the choice */
                for (int i = 0; i < top_k; i++) {
                    int j = i + (int)gsl_rng_uniform_int(rng, (unsigned long)(n_experts - i));
                    int tmp = perm[i];
                    perm[i] = perm[j];
                    perm[j] = tmp;
                    row[perm[i]]++;
                }
                continue;
            }
            for (int i = 0; i < top_k; i++) {
                int e, dup;
                do {
                    e = (int)gsl_rng_uniform_int(rng, (unsigned long)n_experts);
                    dup = 0;
                    for (int j = 0; j < i; j++)
                        dup |= picked[j] == e;
                } while (dup);
                picked[i] = e;
                row[e]++;
            }
        }
    }
    sim_free(perm);
    return SIM_OK;
}

const route_model route_uniform = {
    .name = "uniform",
    .state_size = 0,
    .init = NULL,
    .fini = NULL,
    .sample = uniform_sample,
};

static const route_model *const models[] = {&route_uniform};

const route_model *route_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

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
    memset(r, 0, sizeof *r);
}

sim_status route_sample_step(const route_model *m, void *state, const scn_config *c,
                             gsl_rng *rng, gsl_rng *drop_rng, int step, route_result *out,
                             sim_err *err)
{
    route_result r = {
        .n_layers = c->model.layers,
        .n_gpus = scn_world(c),
        .n_experts = c->model.experts,
        .ep = c->parallel.ep,
        .tokens_per_gpu = (int64_t)c->training.seq_len * c->training.micro_batch,
    };
    size_t per_layer = (size_t)r.n_gpus * r.n_experts;
    r.counts = sim_malloc((size_t)r.n_layers * per_layer * sizeof *r.counts);
    r.dropped = sim_calloc((size_t)r.n_layers * per_layer, sizeof *r.dropped);
    if (!r.counts || !r.dropped) {
        route_result_fini(&r);
        return sim_err_set(err, SIM_ENOMEM, "out of memory drawing the routing");
    }
    int64_t cap = route_capacity(c->routing.capacity_factor, r.tokens_per_gpu * r.ep,
                                 c->model.top_k, r.n_experts);
    for (int l = 0; l < r.n_layers; l++) {
        for (int g0 = 0; g0 < r.n_gpus; g0 += r.ep) {
            int64_t *cnt = r.counts + (size_t)l * per_layer + (size_t)g0 * r.n_experts;
            int64_t *drp = r.dropped + (size_t)l * per_layer + (size_t)g0 * r.n_experts;
            sim_status st = m->sample(state, rng, step, l, r.ep, r.tokens_per_gpu, r.n_experts,
                                      c->model.top_k, cnt);
            if (st != SIM_OK) {
                route_result_fini(&r);
                return sim_err_set(err, st, "routing model %s failed", m->name);
            }
            if (cap != INT64_MAX)
                for (int e = 0; e < r.n_experts; e++)
                    route_apply_capacity(drop_rng, r.ep, r.n_experts, e, cap, cnt, drp);
        }
    }
    *out = r;
    return SIM_OK;
}
