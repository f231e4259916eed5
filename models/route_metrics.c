/* models/route_metrics.c: routing metrics of one layer of one step (docs/ROUTING.md):
 * max/mean loads of experts and GPUs, coefficient of variation, normalized entropy, the
 * Switch Transformer auxiliary loss of the realized routing, dropped fraction, cold
 * experts. */
#include <math.h>

#include "models/route.h"

void route_layer_metrics(const route_result *r, int l, const double *P, const uint8_t *cold,
                         route_layer_stats *out, int64_t *gpu_tokens)
{
    const int E = r->n_experts, ep = r->ep, S = route_slots(r), spg = S / ep;
    size_t per_layer = (size_t)r->n_gpus * E;
    double total = 0, dropped = 0, worst = 0, worst_gpu = 0;
    /* per EP group: the most loaded expert and GPU against their means */
    for (int g0 = 0; g0 < r->n_gpus; g0 += ep) {
        double max = 0, sum = 0;
        for (int e = 0; e < E; e++) {
            double load = 0;
            for (int s = g0; s < g0 + ep; s++) {
                size_t i = l * per_layer + (size_t)s * E + e;
                load += (double)(r->counts[i] + r->dropped[i]);
            }
            sum += load;
            max = fmax(max, load);
        }
        if (sum > 0)
            worst = fmax(worst, max / (sum / E));
        double gmax = 0, gsum = 0;
        for (int g = 0; g < ep; g++) {
            int64_t tok = 0;
            for (int s = g0; s < g0 + ep; s++) {
                const int64_t *row = route_slot_row(r, l, s);
                for (int j = g * spg; j < (g + 1) * spg; j++)
                    tok += row[j];
            }
            if (gpu_tokens)
                gpu_tokens[g0 + g] = tok;
            gsum += (double)tok;
            gmax = fmax(gmax, (double)tok);
        }
        if (gsum > 0)
            worst_gpu = fmax(worst_gpu, gmax / (gsum / ep));
    }
    double sum_sq = 0, ent = 0, aux = 0;
    for (int e = 0; e < E; e++) {
        double load = 0;
        for (int s = 0; s < r->n_gpus; s++) {
            size_t i = l * per_layer + (size_t)s * E + e;
            load += (double)(r->counts[i] + r->dropped[i]);
            dropped += (double)r->dropped[i];
        }
        total += load;
    }
    double mean = total / E;
    for (int e = 0; e < E && total > 0; e++) {
        double load = 0;
        for (int s = 0; s < r->n_gpus; s++) {
            size_t i = l * per_layer + (size_t)s * E + e;
            load += (double)(r->counts[i] + r->dropped[i]);
        }
        double f = load / total;
        sum_sq += (load - mean) * (load - mean);
        if (f > 0)
            ent -= f * log(f);
        aux += f * P[e];
    }
    int n_cold = 0;
    for (int e = 0; e < E && cold; e++)
        n_cold += cold[e] != 0;
    double var = sum_sq / E;          /* population variance, two-pass */
    out->max_mean_load = worst;
    out->max_mean_gpu = worst_gpu;
    out->cv = total > 0 ? sqrt(var) / mean : 0;
    out->entropy = E > 1 ? ent / log(E) : 1;
    out->aux_loss = E * aux;
    out->dropped_fraction = total > 0 ? dropped / total : 0;
    out->cold_experts = n_cold;
}
