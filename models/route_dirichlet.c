/* models/route_dirichlet.c: dirichlet routing: each layer's expert popularity is one draw
 * from a symmetric Dirichlet(alpha, ..., alpha); small alpha gives a few dominant experts,
 * large alpha nearly uniform popularity. */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "models/route.h"
#include "sim/alloc.h"

typedef struct dirichlet_state {
    double *p;             /* [layers][experts] */
} dirichlet_state;

static sim_status dirichlet_init(void *state, const scn_config *c, const route_input *in,
                                 gsl_rng *rng, sim_err *err)
{
    (void)in;
    dirichlet_state *d = state;
    int L = c->model.layers, E = c->model.experts;
    d->p = sim_malloc((size_t)L * E * sizeof *d->p);
    double *a = sim_malloc((size_t)E * sizeof *a);
    if (!d->p || !a) {
        sim_free(a);
        return sim_err_set(err, SIM_ENOMEM, "out of memory (dirichlet routing)");
    }
    for (int e = 0; e < E; e++)
        a[e] = c->routing.alpha;
    for (int l = 0; l < L; l++) {
        double *p = d->p + (size_t)l * E, sum = 0;
        gsl_ran_dirichlet(rng, (size_t)E, a, p);
        for (int e = 0; e < E; e++)
            sum += p[e];
        /* very small alpha can underflow every gamma variate: then all mass on one expert,
         * the limit of Dirichlet(alpha -> 0) */
        if (!(sum > 0) || !isfinite(sum)) {
            int hot = (int)gsl_rng_uniform_int(rng, (unsigned long)E);
            for (int e = 0; e < E; e++)
                p[e] = e == hot;
        }
    }
    sim_free(a);
    return SIM_OK;
}

static void dirichlet_fini(void *state)
{
    dirichlet_state *d = state;
    sim_free(d->p);
}

static void dirichlet_probs(void *state, int step, int layer, int n_experts, double *p)
{
    (void)step;
    const dirichlet_state *d = state;
    for (int e = 0; e < n_experts; e++)
        p[e] = d->p[(size_t)layer * n_experts + e];
}

const route_model route_dirichlet = {
    .name = "dirichlet",
    .state_size = sizeof(dirichlet_state),
    .init = dirichlet_init,
    .fini = dirichlet_fini,
    .probs = dirichlet_probs,
};
