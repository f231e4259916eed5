/* models/route_expert_choice.c: expert-choice routing (Zhou et al. 2022,
 * arXiv:2202.09368): instead of tokens choosing experts, every expert of an EP group takes
 * exactly its capacity c = ceil(C' x group_tokens x k / E) tokens (C' = capacity_factor, or
 * 1 when dropless), at most group_tokens. Loads are balanced by construction; a token may
 * be taken by several experts or by none. Which tokens an expert takes is, for the
 * simulator, a uniform choice among the group's tokens (tokens of all sources are
 * exchangeable), so its split over the sources is multivariate hypergeometric. */
#include <gsl/gsl_randist.h>
#include <string.h>

#include "models/route.h"

static void ec_probs(void *state, int step, int layer, int n_experts, double *p)
{
    (void)state;
    (void)step;
    (void)layer;
    for (int e = 0; e < n_experts; e++)
        p[e] = 1.0 / n_experts;
}

static sim_status ec_sample(void *state, gsl_rng *rng, const route_draw *d, int64_t *counts)
{
    (void)state;
    int64_t group = d->tokens_per_src * d->n_src;
    double cf = d->capacity_factor > 0 ? d->capacity_factor : 1.0;
    int64_t cap = route_capacity(cf, group, d->top_k, d->n_experts);
    if (cap > group)
        cap = group;
    memset(counts, 0, (size_t)d->n_src * d->n_experts * sizeof *counts);
    for (int e = 0; e < d->n_experts; e++) {
        int64_t need = cap, rest = group;
        for (int s = 0; s < d->n_src; s++) {
            int64_t take = s == d->n_src - 1
                               ? need
                               : (need == 0 ? 0
                                            : (int64_t)gsl_ran_hypergeometric(
                                                  rng, (unsigned)d->tokens_per_src,
                                                  (unsigned)(rest - d->tokens_per_src),
                                                  (unsigned)need));
            counts[(size_t)s * d->n_experts + e] = take;
            need -= take;
            rest -= d->tokens_per_src;
        }
    }
    route_node_tokens_undeduplicated(d, counts);   /* experts pick tokens: no token rows */
    return SIM_OK;
}

const route_model route_expert_choice = {
    .name = "expert_choice",
    .state_size = 0,
    .probs = ec_probs,
    .sample = ec_sample,
};
