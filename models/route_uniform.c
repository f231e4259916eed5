/* models/route_uniform.c: the uniform routing model: every expert equally likely. */
#include <string.h>

#include "models/route.h"
#include "sim/alloc.h"

static void uniform_probs(void *state, int step, int layer, int n_experts, double *p)
{
    (void)state;
    (void)step;
    (void)layer;
    for (int e = 0; e < n_experts; e++)
        p[e] = 1.0 / n_experts;
}

/* Each token picks top_k distinct experts, every expert equally likely (rejection of
 * repeats; exact, and cheap while top_k is small next to n_experts). This is the
 * foundation's sampler, kept draw for draw so that uniform runs stay bit-identical. */
static sim_status uniform_sample(void *state, gsl_rng *rng, const route_draw *d,
                                 int64_t *counts)
{
    (void)state;
    const int n_src = d->n_src, n_experts = d->n_experts, top_k = d->top_k;
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
    if (d->node_tokens)
        memset(d->node_tokens, 0, (size_t)n_src * d->n_nodes * sizeof *d->node_tokens);
    for (int s = 0; s < n_src; s++) {
        int64_t *row = counts + (size_t)s * n_experts;
        for (int64_t t = 0; t < d->tokens_per_src; t++) {
            if (use_perm) {
                /* partial Fisher-Yates: the first top_k entries are the choice */
                for (int i = 0; i < top_k; i++) {
                    int j = i + (int)gsl_rng_uniform_int(rng, (unsigned long)(n_experts - i));
                    int tmp = perm[i];
                    perm[i] = perm[j];
                    perm[j] = tmp;
                    row[perm[i]]++;
                }
                route_count_token_nodes(d, s, perm, top_k);
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
            route_count_token_nodes(d, s, picked, top_k);
        }
    }
    sim_free(perm);
    return SIM_OK;
}

const route_model route_uniform = {
    .name = "uniform",
    .state_size = 0,
    .probs = uniform_probs,
    .sample = uniform_sample,
};
