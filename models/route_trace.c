/* models/route_trace.c: trace routing: counts a user logged from their own router
 * (cli/trace.c parses the CSV; the format is in docs/ROUTING.md). Step s of the run uses
 * trace step s mod n_steps, layer l trace layer l mod n_layers. The trace's counts are
 * scaled to this scenario's token budget by largest remainder (totals exact):
 * - without a source column, one row per (step, layer) gives the EP group's totals, which
 *   are split over the group's sources at random with fixed margins (every source routes
 *   tokens x k assignments): a multivariate hypergeometric draw per source;
 * - with a source column, each source rank's row is scaled to tokens x k and used as is.
 * The router probabilities (for the aux loss) are the trace's shares. */
#include <gsl/gsl_randist.h>
#include <string.h>

#include "models/route.h"
#include "sim/alloc.h"

typedef struct trace_state {
    const route_trace *t;
    int64_t *scaled;       /* [n_experts] scratch */
    int64_t *rest;         /* [n_experts] scratch */
    double *frac;          /* [n_experts] scratch */
} trace_state;

static sim_status trace_init(void *state, const scn_config *c, const route_input *in,
                             gsl_rng *rng, sim_err *err)
{
    (void)rng;
    trace_state *s = state;
    if (!in || !in->trace)
        return sim_err_set(err, SIM_EINPUT, "routing.model = trace needs a parsed trace");
    s->t = in->trace;
    int E = c->model.experts;
    if (s->t->n_experts != E || (s->t->n_src != 0 && s->t->n_src != c->parallel.ep))
        return sim_err_set(err, SIM_EINPUT,
                           "routing.trace: the trace has %d experts and %d sources, the "
                           "scenario %d experts and EP %d",
                           s->t->n_experts, s->t->n_src, E, c->parallel.ep);
    s->scaled = sim_malloc((size_t)E * sizeof *s->scaled);
    s->rest = sim_malloc((size_t)E * sizeof *s->rest);
    s->frac = sim_malloc((size_t)E * sizeof *s->frac);
    if (!s->scaled || !s->rest || !s->frac)
        return sim_err_set(err, SIM_ENOMEM, "out of memory (trace routing)");
    return SIM_OK;
}

static void trace_fini(void *state)
{
    trace_state *s = state;
    sim_free(s->scaled);
    sim_free(s->rest);
    sim_free(s->frac);
}

/* Row `src` (0 when the trace has no source column) of (step, layer). */
static const int64_t *trace_row(const route_trace *t, int step, int layer, int src)
{
    int rows = t->n_src ? t->n_src : 1;
    size_t i = (((size_t)(step % t->n_steps) * t->n_layers + (size_t)(layer % t->n_layers)) *
                    rows + (size_t)src) * t->n_experts;
    return t->tokens + i;
}

static void trace_probs(void *state, int step, int layer, int n_experts, double *p)
{
    const trace_state *s = state;
    int rows = s->t->n_src ? s->t->n_src : 1;
    double sum = 0;
    for (int e = 0; e < n_experts; e++)
        p[e] = 0;
    for (int r = 0; r < rows; r++) {
        const int64_t *row = trace_row(s->t, step, layer, r);
        for (int e = 0; e < n_experts; e++) {
            p[e] += (double)row[e];
            sum += (double)row[e];
        }
    }
    for (int e = 0; e < n_experts; e++)
        p[e] = sum > 0 ? p[e] / sum : 1.0 / n_experts;
}

/* out[e] = row[e] scaled to `total`, rounded by largest remainder (ties: lower e first);
 * an all-zero row becomes an even split. */
static void scale(trace_state *s, const int64_t *row, int E, int64_t total, int64_t *out)
{
    double sum = 0;
    for (int e = 0; e < E; e++)
        sum += (double)row[e];
    int64_t given = 0;
    for (int e = 0; e < E; e++) {
        double q = sum > 0 ? (double)row[e] * (double)total / sum : (double)total / E;
        out[e] = (int64_t)q;
        s->frac[e] = q - (double)out[e];
        given += out[e];
    }
    while (given < total) {
        int best = 0;
        for (int e = 1; e < E; e++)
            if (s->frac[e] > s->frac[best])
                best = e;
        out[best]++;
        s->frac[best] = -1;
        given++;
    }
}

static sim_status trace_sample(void *state, gsl_rng *rng, const route_draw *d, int64_t *counts)
{
    trace_state *s = state;
    int E = d->n_experts;
    int64_t per_src = d->tokens_per_src * d->top_k;
    if (s->t->n_src) {
        for (int src = 0; src < d->n_src; src++)
            scale(s, trace_row(s->t, d->step, d->layer, src), E, per_src,
                  counts + (size_t)src * E);
        route_node_tokens_undeduplicated(d, counts);   /* a trace has no token rows */
        return SIM_OK;
    }
    scale(s, trace_row(s->t, d->step, d->layer, 0), E, per_src * d->n_src, s->rest);
    int64_t left = per_src * d->n_src;
    for (int src = 0; src < d->n_src; src++) {
        int64_t *row = counts + (size_t)src * E, need = per_src, pool = left;
        for (int e = 0; e < E; e++) {
            int64_t x;
            if (src == d->n_src - 1)
                x = s->rest[e];
            else if (need == 0 || s->rest[e] == 0)
                x = 0;
            else
                x = (int64_t)gsl_ran_hypergeometric(rng, (unsigned)s->rest[e],
                                                    (unsigned)(pool - s->rest[e]),
                                                    (unsigned)need);
            row[e] = x;
            need -= x;
            pool -= s->rest[e];
            s->rest[e] -= x;
        }
        left -= per_src;
    }
    route_node_tokens_undeduplicated(d, counts);
    return SIM_OK;
}

const route_model route_trace_model = {
    .name = "trace",
    .state_size = sizeof(trace_state),
    .init = trace_init,
    .fini = trace_fini,
    .probs = trace_probs,
    .sample = trace_sample,
};
