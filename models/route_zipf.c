/* models/route_zipf.c: zipf routing: expert popularity ~ 1 / rank^skew, with the ranks
 * shuffled independently in every layer (so the hot expert sits on a different GPU in
 * each layer). */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "models/route.h"
#include "sim/alloc.h"

typedef struct zipf_state {
    int n_experts;
    double *p;             /* [layers][experts] */
} zipf_state;

static sim_status zipf_init(void *state, const scn_config *c, const route_input *in,
                            gsl_rng *rng, sim_err *err)
{
    (void)in;
    zipf_state *z = state;
    int L = c->model.layers, E = c->model.experts;
    z->n_experts = E;
    z->p = sim_malloc((size_t)L * E * sizeof *z->p);
    int *perm = sim_malloc((size_t)E * sizeof *perm);
    if (!z->p || !perm) {
        sim_free(perm);
        return sim_err_set(err, SIM_ENOMEM, "out of memory (zipf routing)");
    }
    double sum = 0;
    for (int r = 0; r < E; r++)
        sum += pow(r + 1.0, -c->routing.skew);
    for (int l = 0; l < L; l++) {
        for (int e = 0; e < E; e++)
            perm[e] = e;
        gsl_ran_shuffle(rng, perm, (size_t)E, sizeof *perm);
        for (int r = 0; r < E; r++)     /* the expert of rank r (0 = most popular) */
            z->p[(size_t)l * E + perm[r]] = pow(r + 1.0, -c->routing.skew) / sum;
    }
    sim_free(perm);
    return SIM_OK;
}

static void zipf_fini(void *state)
{
    zipf_state *z = state;
    sim_free(z->p);
}

static void zipf_probs(void *state, int step, int layer, int n_experts, double *p)
{
    (void)step;
    const zipf_state *z = state;
    for (int e = 0; e < n_experts; e++)
        p[e] = z->p[(size_t)layer * n_experts + e];
}

const route_model route_zipf = {
    .name = "zipf",
    .state_size = sizeof(zipf_state),
    .init = zipf_init,
    .fini = zipf_fini,
    .probs = zipf_probs,
};
