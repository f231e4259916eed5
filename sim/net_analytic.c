/* sim/net_analytic.c: the analytic network model. Each flow moves its bytes at the
 * bandwidth of the slowest link on its path, ignoring every other flow (no contention).
 * Exact for isolated transfers; optimistic whenever flows share a link. A bundle moves
 * each member's bytes at its slowest link (members ignore each other too). */
#include <string.h>

#include "sim/net.h"

static void ev_done(sim_evq *q, void *self, void *arg)
{
    (void)q;
    sim_engine_flow_finished(self, (sim_id)(intptr_t)arg);
}

static sim_status analytic_flow_start(void *state, sim_engine *e, sim_id flow)
{
    (void)state;
    int n;
    const sim_id *path = sim_engine_flow_path(e, flow, &n, NULL);
    double bytes = sim_engine_flow_bytes(e, flow);
    sim_time dt = 0;
    if (n > 0 && bytes > 0) {
        double bw = sim_engine_link_bw(e, path[0]);
        for (int i = 1; i < n; i++) {
            double b = sim_engine_link_bw(e, path[i]);
            if (b < bw)
                bw = b;
        }
        dt = sim_time_from_s(bytes / bw);
    }
    return sim_evq_at(sim_engine_evq(e), sim_engine_now(e) + dt, ev_done, e,
                      (void *)(intptr_t)flow, NULL);
}

const sim_net_model sim_net_analytic = {
    .name = "analytic",
    .state_size = 0,
    .init = NULL,
    .fini = NULL,
    .flow_start = analytic_flow_start,
};

const sim_net_model *const sim_net_models[] = {&sim_net_flow, &sim_net_analytic, NULL};

const sim_net_model *sim_net_model_find(const char *name)
{
    for (size_t i = 0; sim_net_models[i]; i++)
        if (strcmp(sim_net_models[i]->name, name) == 0)
            return sim_net_models[i];
    return NULL;
}
