/* models/route_hot.c: hot-expert routing: routing.hot_experts experts (chosen at random
 * in every layer) share routing.hot_share of the router's probability mass equally; the
 * others share the rest equally. */
#include <gsl/gsl_randist.h>

#include "models/route.h"
#include "sim/alloc.h"

typedef struct hot_state {
    double *p;             /* [layers][experts] */
} hot_state;

static sim_status hot_init(void *state, const scn_config *c, const route_input *in,
                           gsl_rng *rng, sim_err *err)
{
    (void)in;
    hot_state *h = state;
    int L = c->model.layers, E = c->model.experts, H = c->routing.hot_experts;
    h->p = sim_malloc((size_t)L * E * sizeof *h->p);
    int *perm = sim_malloc((size_t)E * sizeof *perm);
    if (!h->p || !perm) {
        sim_free(perm);
        return sim_err_set(err, SIM_ENOMEM, "out of memory (hot routing)");
    }
    double hot = c->routing.hot_share / H, cold = (1.0 - c->routing.hot_share) / (E - H);
    for (int l = 0; l < L; l++) {
        for (int e = 0; e < E; e++)
            perm[e] = e;
        gsl_ran_shuffle(rng, perm, (size_t)E, sizeof *perm);
        for (int r = 0; r < E; r++)
            h->p[(size_t)l * E + perm[r]] = r < H ? hot : cold;
    }
    sim_free(perm);
    return SIM_OK;
}

static void hot_fini(void *state)
{
    hot_state *h = state;
    sim_free(h->p);
}

static void hot_probs(void *state, int step, int layer, int n_experts, double *p)
{
    (void)step;
    const hot_state *h = state;
    for (int e = 0; e < n_experts; e++)
        p[e] = h->p[(size_t)layer * n_experts + e];
}

const route_model route_hot = {
    .name = "hot",
    .state_size = sizeof(hot_state),
    .init = hot_init,
    .fini = hot_fini,
    .probs = hot_probs,
};
