/* models/place.c: expert placement and EPLB-style replication (see models/place.h). */
#include "models/place.h"

#include <assert.h>
#include <string.h>

#include "sim/alloc.h"

int place_policy_find(const char *name, place_policy *out)
{
    if (strcmp(name, "contiguous") == 0)
        *out = PLACE_CONTIGUOUS;
    else if (strcmp(name, "round_robin") == 0)
        *out = PLACE_ROUND_ROBIN;
    else
        return -1;
    return 0;
}

int place_home_rank(place_policy pol, int ep, int n_experts, int e)
{
    assert(ep > 0 && n_experts % ep == 0 && e >= 0 && e < n_experts);
    return pol == PLACE_CONTIGUOUS ? e / (n_experts / ep) : e % ep;
}

/* Position of expert e's home copy among its rank's home slots. */
static int home_index(place_policy pol, int ep, int n_experts, int e)
{
    return pol == PLACE_CONTIGUOUS ? e % (n_experts / ep) : e / ep;
}

sim_status place_plan(place_policy pol, int ep, int n_experts, int spare, const double *loads,
                      int *slot_expert)
{
    int per = n_experts / ep, spg = per + spare, n_slots = ep * spg;
    for (int i = 0; i < n_slots; i++)
        slot_expert[i] = -1;
    for (int e = 0; e < n_experts; e++)
        slot_expert[place_home_rank(pol, ep, n_experts, e) * spg +
                    home_index(pol, ep, n_experts, e)] = e;
    if (spare == 0)
        return SIM_OK;
    assert(loads);
    int n_extra = ep * spare;
    int *rep = sim_malloc((size_t)n_experts * sizeof *rep);
    int *order = sim_malloc((size_t)n_extra * sizeof *order);
    int *used = sim_calloc((size_t)ep, sizeof *used);
    double *gpu_load = sim_calloc((size_t)ep, sizeof *gpu_load);
    sim_status st = SIM_OK;
    if (!rep || !order || !used || !gpu_load) {
        st = SIM_ENOMEM;
        goto done;
    }
    /* 1. replica counts (EPLB's replicate step): each extra replica goes to the expert
     * with the highest load per replica; at most one copy per GPU; none for idle experts */
    for (int e = 0; e < n_experts; e++)
        rep[e] = 1;
    int n_order = 0;
    for (int x = 0; x < n_extra; x++) {
        int best = -1;
        for (int e = 0; e < n_experts; e++)
            if (rep[e] < ep && loads[e] > 0 &&
                (best < 0 || loads[e] * rep[best] > loads[best] * rep[e]))
                best = e;
        if (best < 0)
            break;
        rep[best]++;
        order[n_order++] = best;
    }
    /* 2. pack: heaviest replica first onto the least loaded GPU with a free spare slot and
     * no copy of the expert (EPLB's balanced packing, restricted to spare slots) */
    for (int e = 0; e < n_experts; e++)
        gpu_load[place_home_rank(pol, ep, n_experts, e)] += loads[e] / rep[e];
    for (int i = 1; i < n_order; i++) {             /* insertion sort, stable, by share */
        int e = order[i], j = i;
        while (j > 0 && loads[order[j - 1]] * rep[e] < loads[e] * rep[order[j - 1]]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = e;
    }
    for (int i = 0; i < n_order; i++) {
        int e = order[i], best = -1;
        for (int g = 0; g < ep; g++) {
            if (used[g] == spare)
                continue;
            int holds = 0;
            for (int j = 0; j < spg && !holds; j++)
                holds = slot_expert[g * spg + j] == e;
            if (!holds && (best < 0 || gpu_load[g] < gpu_load[best]))
                best = g;
        }
        if (best < 0)
            continue;           /* every GPU with room already holds e: one replica fewer */
        slot_expert[best * spg + per + used[best]++] = e;
        gpu_load[best] += loads[e] / rep[e];
    }
done:
    sim_free(rep);
    sim_free(order);
    sim_free(used);
    sim_free(gpu_load);
    return st;
}

void place_split(int n_experts, int n_slots, const int *slot_expert, int n_src,
                 const int64_t *counts, int64_t *slot_counts, int *scratch)
{
    /* replicas of each expert, in slot order: list[first[e] .. first[e + 1]) */
    int *first = scratch, *list = scratch + n_experts + 1;
    memset(first, 0, (size_t)(n_experts + 1) * sizeof *first);
    for (int i = 0; i < n_slots; i++)
        if (slot_expert[i] >= 0)
            first[slot_expert[i] + 1]++;
    for (int e = 0; e < n_experts; e++)
        first[e + 1] += first[e];
    for (int i = 0; i < n_slots; i++) {
        int e = slot_expert[i];
        if (e < 0)
            continue;
        /* first[e] is advanced while filling and restored below */
        list[first[e]++] = i;
    }
    for (int e = n_experts; e > 0; e--)
        first[e] = first[e - 1];
    first[0] = 0;
    memset(slot_counts, 0, (size_t)n_src * n_slots * sizeof *slot_counts);
    for (int s = 0; s < n_src; s++) {
        const int64_t *row = counts + (size_t)s * n_experts;
        int64_t *out = slot_counts + (size_t)s * n_slots;
        for (int e = 0; e < n_experts; e++) {
            int r = first[e + 1] - first[e];
            assert(r > 0 && "every expert has its home copy");
            int64_t base = row[e] / r, rem = row[e] % r;
            for (int j = 0; j < r; j++)
                out[list[first[e] + j]] = base + (((j - s % r) + r) % r < rem ? 1 : 0);
        }
    }
}
