/* tests/test_route.c: routing models, the top-k sampler, capacity and dropping, node
 * constraints, the router (dynamics, cold experts, balanced counterfactual) and metrics.
 * Samplers are checked against their expected proportions with chi-square tests at fixed
 * seeds (a test at the 0.1% level: a correct sampler fails one seed in a thousand, and the
 * seeds are fixed, so the tests are deterministic). */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "models/route.h"
#include "sim/alloc.h"
#include "sim/rng.h"

static route_draw draw_of(int n_src, int64_t tok, int E, int k, const double *p)
{
    return (route_draw){.n_src = n_src, .tokens_per_src = tok, .n_experts = E, .top_k = k,
                        .p = p};
}

/* Chi-square p-value of observed counts against expected counts (dof = n - 1). */
static double chi2_p(const double *obs, const double *expect, int n)
{
    double chi2 = 0;
    for (int i = 0; i < n; i++)
        chi2 += (obs[i] - expect[i]) * (obs[i] - expect[i]) / expect[i];
    return gsl_cdf_chisq_Q(chi2, n - 1);
}

/* A small scenario: nodes x gpn GPUs, EP = all, E experts top-k, T tokens per GPU. */
static scn_config small_cfg(int nodes, int gpn, int E, int k, int T, const char *model)
{
    scn_config c;
    memset(&c, 0, sizeof c);
    c.training.steps = 1;
    c.cluster.nodes = nodes;
    c.cluster.gpus_per_node = gpn;
    c.model.layers = 2;
    c.model.experts = E;
    c.model.top_k = k;
    c.parallel.ep = nodes * gpn;
    c.parallel.tp = c.parallel.pp = c.parallel.vpp = 1;
    c.parallel.dp = nodes * gpn;
    snprintf(c.parallel.schedule, sizeof c.parallel.schedule, "1f1b");
    snprintf(c.parallel.order, sizeof c.parallel.order, "tp-dp-pp");
    c.training.global_batch = nodes * gpn;
    c.training.seq_len = T;
    c.training.micro_batch = 1;
    snprintf(c.routing.model, sizeof c.routing.model, "%s", model);
    c.routing.skew = 1.0;
    c.routing.alpha = 1.0;
    c.routing.hot_experts = 1;
    c.routing.hot_share = 0.5;
    snprintf(c.routing.dynamics, sizeof c.routing.dynamics, "none");
    c.routing.collapse_gain = 2;
    c.routing.balance_alpha = 0.6;
    c.routing.cold_threshold = 0.1;
    c.routing.cold_steps = 1;
    snprintf(c.placement.policy, sizeof c.placement.policy, "contiguous");
    return c;
}

/* ---- uniform (the foundation's sampler) ---- */

/* Every source row sums to tokens x k, no expert gets more than `tokens` copies from one
 * source (k distinct experts per token), and the pooled counts pass a chi-square test of
 * uniformity at the 0.1% level (fixed seed). */
static void test_uniform_rows_and_chi_square(void **state)
{
    (void)state;
    enum { SRC = 4, E = 16, K = 4, TOK = 5000 };
    int64_t counts[SRC * E];
    gsl_rng *rng = sim_rng_new(7, 1);
    route_draw d = draw_of(SRC, TOK, E, K, NULL);
    assert_int_equal(route_uniform.sample(NULL, rng, &d, counts), SIM_OK);
    double pooled[E] = {0}, expect[E];
    for (int s = 0; s < SRC; s++) {
        int64_t sum = 0;
        for (int e = 0; e < E; e++) {
            sum += counts[s * E + e];
            assert_true(counts[s * E + e] <= TOK);
            pooled[e] += (double)counts[s * E + e];
        }
        assert_int_equal(sum, (int64_t)TOK * K);
    }
    for (int e = 0; e < E; e++)
        expect[e] = (double)SRC * TOK * K / E;
    assert_true(chi2_p(pooled, expect, E) > 0.001);
    gsl_rng_free(rng);
}

/* k = E: every token picks every expert, so each count is exactly TOK. */
static void test_uniform_all_experts(void **state)
{
    (void)state;
    int64_t counts[3 * 5];
    gsl_rng *rng = sim_rng_new(1, 1);
    route_draw d = draw_of(3, 100, 5, 5, NULL);
    assert_int_equal(route_uniform.sample(NULL, rng, &d, counts), SIM_OK);
    for (int i = 0; i < 15; i++)
        assert_int_equal(counts[i], 100);
    gsl_rng_free(rng);
}

/* The same seed gives the same draws, bit for bit; another seed differs. */
static void test_same_seed_same_counts(void **state)
{
    (void)state;
    int64_t a[2 * 8], b[2 * 8], c[2 * 8];
    double p[8] = {0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05};
    gsl_rng *r1 = sim_rng_new(42, 1), *r2 = sim_rng_new(42, 1), *r3 = sim_rng_new(43, 1);
    route_draw d = draw_of(2, 1000, 8, 2, p);
    route_topk_sample(r1, &d, NULL, a);
    route_topk_sample(r2, &d, NULL, b);
    route_topk_sample(r3, &d, NULL, c);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    gsl_rng_free(r3);
}

/* ---- the shared top-k sampler ---- */

/* k = 1: counts are multinomial with probabilities p exactly; chi-square at 0.1%. */
static void test_topk_k1_matches_p(void **state)
{
    (void)state;
    enum { E = 6, TOK = 60000 };
    double p[E] = {0.4, 0.25, 0.15, 0.1, 0.07, 0.03}, obs[E], expect[E];
    int64_t counts[E];
    gsl_rng *rng = sim_rng_new(11, 1);
    route_draw d = draw_of(1, TOK, E, 1, p);
    assert_int_equal(route_topk_sample(rng, &d, NULL, counts), SIM_OK);
    for (int e = 0; e < E; e++) {
        obs[e] = (double)counts[e];
        expect[e] = p[e] * TOK;
    }
    assert_true(chi2_p(obs, expect, E) > 0.001);
    gsl_rng_free(rng);
}

/* k = 2 without replacement: expert i is in a token's pair with probability
 * pi_i = p_i + sum_{j != i} p_j p_i / (1 - p_j) (first pick i, or first j then i among the
 * rest). The test computes pi from that formula and checks the counts (which sum to 2 TOK)
 * against TOK x pi with a chi-square test at 0.1%. A concentrated p (0.9 on one expert)
 * exercises the rejection fallback: after the hot expert, most draws are repeats. */
static void test_topk_k2_inclusion(void **state)
{
    (void)state;
    enum { E = 5, TOK = 50000 };
    double ps[2][E] = {{0.4, 0.3, 0.15, 0.1, 0.05}, {0.9, 0.04, 0.03, 0.02, 0.01}};
    for (int v = 0; v < 2; v++) {
        const double *p = ps[v];
        double pi[E], obs[E], expect[E];
        for (int i = 0; i < E; i++) {
            pi[i] = p[i];
            for (int j = 0; j < E; j++)
                if (j != i)
                    pi[i] += p[j] * p[i] / (1 - p[j]);
        }
        int64_t counts[E];
        gsl_rng *rng = sim_rng_new(5 + v, 1);
        route_draw d = draw_of(1, TOK, E, 2, p);
        assert_int_equal(route_topk_sample(rng, &d, NULL, counts), SIM_OK);
        int64_t sum = 0;
        for (int e = 0; e < E; e++) {
            obs[e] = (double)counts[e];
            expect[e] = pi[e] * TOK;
            sum += counts[e];
            assert_true(counts[e] <= TOK);
        }
        assert_int_equal(sum, 2 * TOK);
        /* sum of pi is 2, so counts/TOK and pi are both distributions of mass 2 */
        assert_true(chi2_p(obs, expect, E) > 0.001);
        gsl_rng_free(rng);
    }
}

/* Experts of probability 0 are picked only when nothing else is left: p has two non-zero
 * entries and k = 3, so every token takes both and one of the three zero experts,
 * uniformly: TOK each for experts 0 and 1, TOK in total over experts 2..4. */
static void test_topk_zero_probability(void **state)
{
    (void)state;
    double p[5] = {0.5, 0.5, 0, 0, 0};
    int64_t counts[5];
    gsl_rng *rng = sim_rng_new(3, 1);
    route_draw d = draw_of(1, 3000, 5, 3, p);
    assert_int_equal(route_topk_sample(rng, &d, NULL, counts), SIM_OK);
    assert_int_equal(counts[0], 3000);
    assert_int_equal(counts[1], 3000);
    assert_int_equal(counts[2] + counts[3] + counts[4], 3000);
    for (int e = 2; e < 5; e++)
        assert_true(counts[e] > 800 && counts[e] < 1200);   /* 1000 +- 7 sigma (sigma 26) */
    gsl_rng_free(rng);
}

/* Node-limited routing holds for every token: with one token per draw, the row is that
 * token's choice, so we check the constraint token by token. 4 nodes x 4 experts, k = 4,
 * M = 2: every token's experts lie on at most 2 nodes; without the limit some token
 * spreads over 3 or 4 nodes (p uniform: P(<= 2 nodes) is small). */
static void test_node_limit_every_token(void **state)
{
    (void)state;
    enum { E = 16, K = 4 };
    int node_of[E];
    double p[E];
    for (int e = 0; e < E; e++) {
        node_of[e] = e / 4;
        p[e] = 1.0 / E;
    }
    route_nodes nodes = {.n_experts = E, .node_of = node_of, .node_limit = 2};
    gsl_rng *rng = sim_rng_new(21, 1);
    route_draw d = draw_of(1, 1, E, K, p);
    int wide_without = 0;
    for (int t = 0; t < 2000; t++) {
        int64_t row[E];
        for (int limited = 0; limited < 2; limited++) {
            assert_int_equal(route_topk_sample(rng, &d, limited ? &nodes : NULL, row), SIM_OK);
            int used[4] = {0}, n_used = 0, n = 0;
            for (int e = 0; e < E; e++) {
                assert_true(row[e] == 0 || row[e] == 1);
                n += (int)row[e];
                if (row[e] && !used[node_of[e]]++)
                    n_used++;
            }
            assert_int_equal(n, K);
            if (limited)
                assert_true(n_used <= 2);
            else
                wide_without += n_used > 2;
        }
    }
    assert_true(wide_without > 1000);
    gsl_rng_free(rng);
}

/* Two-level routing: each token's experts all lie in one group of nodes, and groups are
 * chosen in proportion to their mass. 4 nodes x 2 experts, groups of 2 nodes; p puts 0.8
 * on group 0 (experts 0-3) and 0.2 on group 1: over 4000 tokens about 3200 stay in group
 * 0 (binomial sigma 25; we accept +-150, 6 sigma). */
static void test_two_level_every_token(void **state)
{
    (void)state;
    enum { E = 8, K = 3 };
    int node_of[E] = {0, 0, 1, 1, 2, 2, 3, 3};
    double p[E] = {0.2, 0.2, 0.2, 0.2, 0.05, 0.05, 0.05, 0.05};
    route_nodes nodes = {.n_experts = E, .node_of = node_of, .group_nodes = 2};
    gsl_rng *rng = sim_rng_new(8, 1);
    route_draw d = draw_of(1, 1, E, K, p);
    int in_group0 = 0;
    for (int t = 0; t < 4000; t++) {
        int64_t row[E];
        assert_int_equal(route_topk_sample(rng, &d, &nodes, row), SIM_OK);
        int g0 = 0, g1 = 0;
        for (int e = 0; e < E; e++) {
            g0 += e < 4 ? (int)row[e] : 0;
            g1 += e >= 4 ? (int)row[e] : 0;
        }
        assert_int_equal(g0 + g1, K);
        assert_true(g0 == 0 || g1 == 0);
        in_group0 += g0 == K;
    }
    assert_true(in_group0 > 3050 && in_group0 < 3350);
    gsl_rng_free(rng);
}

/* ---- capacity ---- */

/* ceil(C x tokens x k / E): 1.25 x 100 x 2 / 8 = 31.25 -> 32; 1.0 x 64 x 2 / 8 = 16;
 * C = 0 is dropless. */
static void test_capacity_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(route_capacity(1.25, 100, 2, 8), 32);
    assert_int_equal(route_capacity(1.0, 64, 2, 8), 16);
    assert_int_equal(route_capacity(0.0, 64, 2, 8), INT64_MAX);
}

/* Column 1 holds 10 + 20 + 30 = 60 assignments; capacity 45 keeps 45 and drops 15, taken
 * from the sources in some split; column 0 (15 <= 45) is untouched. */
static void test_apply_capacity(void **state)
{
    (void)state;
    int64_t counts[6] = {5, 10, 5, 20, 5, 30}, dropped[6] = {0};
    gsl_rng *rng = sim_rng_new(3, 2);
    route_apply_capacity(rng, 3, 2, 1, 45, counts, dropped);
    route_apply_capacity(rng, 3, 2, 0, 45, counts, dropped);
    int64_t kept = counts[1] + counts[3] + counts[5];
    int64_t lost = dropped[1] + dropped[3] + dropped[5];
    assert_int_equal(kept, 45);
    assert_int_equal(lost, 15);
    assert_int_equal(counts[1] + dropped[1], 10);
    assert_int_equal(counts[3] + dropped[3], 20);
    assert_int_equal(counts[5] + dropped[5], 30);
    assert_int_equal(counts[0] + counts[2] + counts[4], 15);
    assert_int_equal(dropped[0] + dropped[2] + dropped[4], 0);
    gsl_rng_free(rng);
}

/* A whole step over 2 EP groups of 4 GPUs: capacity changes which assignments are kept, never
 * the routing itself: kept + dropped with C = 1 equals the dropless counts, each expert keeps
 * at most ceil(1.0 x 4 x 256 x 2 / 8) = 256 per group and layer. */
static void test_capacity_does_not_change_routing(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 8, 8, 2, 256, "zipf");
    c.model.layers = 3;
    c.parallel.ep = 4;
    route_result a, b;
    route_router *ra, *rb;
    gsl_rng *p1 = sim_rng_new(9, 4), *p2 = sim_rng_new(9, 4);
    gsl_rng *r1 = sim_rng_new(9, 1), *d1 = sim_rng_new(9, 2);
    gsl_rng *r2 = sim_rng_new(9, 1), *d2 = sim_rng_new(9, 2);
    c.routing.capacity_factor = 0;
    assert_int_equal(route_router_new(&c, NULL, p1, &ra, NULL), SIM_OK);
    assert_int_equal(route_router_sample(ra, 0, r1, d1, &a, NULL), SIM_OK);
    c.routing.capacity_factor = 1.0;
    assert_int_equal(route_router_new(&c, NULL, p2, &rb, NULL), SIM_OK);
    assert_int_equal(route_router_sample(rb, 0, r2, d2, &b, NULL), SIM_OK);
    int64_t total_dropped = 0;
    for (int l = 0; l < 3; l++)
        for (int g0 = 0; g0 < 8; g0 += 4)
            for (int e = 0; e < 8; e++) {
                int64_t kept = 0;
                for (int s = g0; s < g0 + 4; s++) {
                    size_t i = ((size_t)l * 8 + s) * 8 + e;
                    assert_int_equal(a.counts[i], b.counts[i] + b.dropped[i]);
                    assert_int_equal(a.dropped[i], 0);
                    kept += b.counts[i];
                    total_dropped += b.dropped[i];
                }
                assert_true(kept <= 256);
            }
    assert_true(total_dropped > 0);
    route_result_fini(&a);
    route_result_fini(&b);
    route_router_free(ra);
    route_router_free(rb);
    gsl_rng *all[] = {p1, p2, r1, d1, r2, d2};
    for (int i = 0; i < 6; i++)
        gsl_rng_free(all[i]);
}

/* Drop arithmetic on a hand case: hot routing, 1 GPU (EP 1), 8 experts, k = 1, 800
 * tokens, C = 1: capacity ceil(1 x 800 x 1 / 8) = 100 per expert. Every expert's kept
 * count is min(routed, 100), dropped = routed - kept exactly. */
static void test_drop_arithmetic(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 1, 8, 1, 800, "hot");
    c.model.layers = 1;
    c.routing.capacity_factor = 1.0;
    route_router *rt;
    route_result r;
    gsl_rng *p = sim_rng_new(2, 4), *rng = sim_rng_new(2, 1), *drop = sim_rng_new(2, 2);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    assert_int_equal(route_router_sample(rt, 0, rng, drop, &r, NULL), SIM_OK);
    int64_t kept = 0, lost = 0;
    for (int e = 0; e < 8; e++) {
        int64_t routed = r.counts[e] + r.dropped[e];
        assert_int_equal(r.counts[e], routed < 100 ? routed : 100);
        kept += r.counts[e];
        lost += r.dropped[e];
    }
    assert_int_equal(kept + lost, 800);
    /* the hot expert has p = 0.5: about 400 routed, so about 300 dropped */
    assert_true(lost > 250 && lost < 350);
    route_result_fini(&r);
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(drop);
}

/* ---- routing models ---- */

/* zipf: p_i = rank^-s / H with ranks shuffled per layer. Skew 1, E = 4: the sorted
 * probabilities are 1, 1/2, 1/3, 1/4 over H = 25/12, i.e. 0.48, 0.24, 0.16, 0.12; the two
 * layers use different rank orders for this seed; k = 1 counts pass a chi-square test. */
static void test_zipf_probs_and_counts(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 1, 4, 1, 40000, "zipf");
    route_router *rt;
    gsl_rng *p = sim_rng_new(1, 4), *rng = sim_rng_new(1, 1), *drop = sim_rng_new(1, 2);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    route_result r;
    assert_int_equal(route_router_sample(rt, 0, rng, drop, &r, NULL), SIM_OK);
    const double want[4] = {12.0 / 25, 6.0 / 25, 4.0 / 25, 3.0 / 25};
    int differ = 0;
    for (int l = 0; l < 2; l++) {
        const double *P = route_router_probs(rt, l);
        double sorted[4], obs[4], expect[4];
        memcpy(sorted, P, sizeof sorted);
        for (int i = 0; i < 4; i++)      /* descending */
            for (int j = i + 1; j < 4; j++)
                if (sorted[j] > sorted[i]) {
                    double t = sorted[i];
                    sorted[i] = sorted[j];
                    sorted[j] = t;
                }
        for (int i = 0; i < 4; i++) {
            assert_true(fabs(sorted[i] - want[i]) < 1e-15);
            obs[i] = (double)r.counts[(size_t)l * 4 + i];
            expect[i] = P[i] * 40000;
        }
        assert_true(chi2_p(obs, expect, 4) > 0.001);
        differ |= l == 1 && memcmp(P, route_router_probs(rt, 0), 4 * sizeof *P) != 0;
    }
    assert_true(differ);
    route_result_fini(&r);
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(drop);
}

/* hot: 2 hot experts of 8 share 0.6 (0.3 each), the other 6 share 0.4 (1/15 each). */
static void test_hot_probs(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 1, 8, 1, 10, "hot");
    c.routing.hot_experts = 2;
    c.routing.hot_share = 0.6;
    route_router *rt;
    gsl_rng *p = sim_rng_new(1, 4);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    for (int l = 0; l < 2; l++) {
        const double *P = route_router_probs(rt, l);
        int n_hot = 0;
        double sum = 0;
        for (int e = 0; e < 8; e++) {
            sum += P[e];
            if (fabs(P[e] - 0.3) < 1e-15)
                n_hot++;
            else
                assert_true(fabs(P[e] - 0.4 / 6) < 1e-15);
        }
        assert_int_equal(n_hot, 2);
        assert_true(fabs(sum - 1) < 1e-12);
    }
    route_router_free(rt);
    gsl_rng_free(p);
}

/* The drawn counts follow the router's probabilities: k = 1, T tokens from one source, every
 * layer's counts against T x P with a chi-square test at 0.1% (hot: 2 of 8 experts share
 * 0.6; dirichlet alpha 1: one Dirichlet draw per layer). */
static void counts_follow_probs(scn_config c)
{
    route_router *rt;
    gsl_rng *p = sim_rng_new(3, 4), *rng = sim_rng_new(3, 1), *drop = sim_rng_new(3, 2);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    route_result r;
    assert_int_equal(route_router_sample(rt, 0, rng, drop, &r, NULL), SIM_OK);
    int E = c.model.experts;
    for (int l = 0; l < c.model.layers; l++) {
        const double *P = route_router_probs(rt, l);
        double obs[64], expect[64];
        for (int e = 0; e < E; e++) {
            obs[e] = (double)r.counts[(size_t)l * E + e];
            expect[e] = P[e] * c.training.seq_len;
        }
        assert_true(chi2_p(obs, expect, E) > 0.001);
    }
    route_result_fini(&r);
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(drop);
}

static void test_hot_and_dirichlet_counts(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 1, 8, 1, 40000, "hot");
    c.routing.hot_experts = 2;
    c.routing.hot_share = 0.6;
    counts_follow_probs(c);
    c = small_cfg(1, 1, 4, 1, 40000, "dirichlet");
    c.routing.alpha = 1;
    counts_follow_probs(c);
}

/* dirichlet: the mean of Dirichlet(alpha) is uniform and Var(p_i) = (1/E)(1 - 1/E) /
 * (E alpha + 1). Over 400 layers with E = 4: alpha = 0.1 gives Var = 0.1339, alpha = 100
 * Var = 0.000467; the sample variances must lie within 25% of those (a sample of 1600
 * values has a relative standard error of the variance under 10%). */
static void test_dirichlet_spread(void **state)
{
    (void)state;
    const double alphas[2] = {0.1, 100};
    for (int a = 0; a < 2; a++) {
        scn_config c = small_cfg(1, 1, 4, 1, 10, "dirichlet");
        c.model.layers = 400;
        c.routing.alpha = alphas[a];
        route_router *rt;
        gsl_rng *p = sim_rng_new(4, 4);
        assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
        double ss = 0;
        for (int l = 0; l < 400; l++) {
            const double *P = route_router_probs(rt, l);
            double sum = 0;
            for (int e = 0; e < 4; e++) {
                sum += P[e];
                ss += (P[e] - 0.25) * (P[e] - 0.25);
            }
            assert_true(fabs(sum - 1) < 1e-12);
        }
        double var = ss / 1600, want = 0.25 * 0.75 / (4 * alphas[a] + 1);
        assert_true(fabs(var / want - 1) < 0.25);
        route_router_free(rt);
        gsl_rng_free(p);
    }
}

/* expert_choice: every expert takes exactly ceil(G k / E) tokens of its EP group (G = 4 x
 * 300 tokens, k = 2, E = 8: 300), so max/mean = 1 and cv = 0 exactly; each source gives
 * an expert at most its 300 tokens. */
static void test_expert_choice_balanced(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 4, 8, 2, 300, "expert_choice");
    route_router *rt;
    route_result r;
    gsl_rng *p = sim_rng_new(1, 4), *rng = sim_rng_new(1, 1), *drop = sim_rng_new(1, 2);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    assert_int_equal(route_router_sample(rt, 0, rng, drop, &r, NULL), SIM_OK);
    for (int l = 0; l < 2; l++) {
        for (int e = 0; e < 8; e++) {
            int64_t sum = 0;
            for (int s = 0; s < 4; s++) {
                int64_t x = r.counts[((size_t)l * 4 + s) * 8 + e];
                assert_true(x >= 0 && x <= 300);
                sum += x;
            }
            assert_int_equal(sum, 300);
        }
        route_layer_stats m;
        route_layer_metrics(&r, l, route_router_probs(rt, l), NULL, &m, NULL);
        assert_true(m.max_mean_load == 1.0);
        assert_true(m.max_mean_gpu == 1.0);
        assert_true(m.cv == 0.0);
        assert_true(fabs(m.entropy - 1) < 1e-12);
        assert_true(fabs(m.aux_loss - 1) < 1e-12);
    }
    route_result_fini(&r);
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(drop);
}

/* trace without a source column: the group totals 30/10/0/0 (k = 1) are scaled to the
 * group's 2 x 100 tokens: 150/50/0/0 exactly, each source gets 100, split at random. */
static void test_trace_scaled_split(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 2, 4, 1, 100, "trace");
    c.model.layers = 1;
    int64_t tok[4] = {30, 10, 0, 0};
    route_trace t = {.n_steps = 1, .n_layers = 1, .n_experts = 4, .n_src = 0, .tokens = tok};
    route_input in = {.trace = &t};
    route_router *rt;
    route_result r;
    gsl_rng *p = sim_rng_new(1, 4), *rng = sim_rng_new(1, 1), *drop = sim_rng_new(1, 2);
    assert_int_equal(route_router_new(&c, &in, p, &rt, NULL), SIM_OK);
    assert_int_equal(route_router_sample(rt, 0, rng, drop, &r, NULL), SIM_OK);
    assert_int_equal(r.counts[0] + r.counts[4], 150);
    assert_int_equal(r.counts[1] + r.counts[5], 50);
    assert_int_equal(r.counts[2] + r.counts[3] + r.counts[6] + r.counts[7], 0);
    assert_int_equal(r.counts[0] + r.counts[1], 100);
    assert_int_equal(r.counts[4] + r.counts[5], 100);
    const double *P = route_router_probs(rt, 0);
    assert_true(P[0] == 0.75 && P[1] == 0.25 && P[2] == 0);
    route_result_fini(&r);
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(drop);
}

/* ---- the router: dynamics, cold experts, counterfactual ---- */

/* Runs `steps` steps of collapse dynamics; returns the last step's max/mean expert load
 * (layer 0). */
static double collapse_run(double balance_alpha, int steps)
{
    scn_config c = small_cfg(1, 1, 8, 2, 2000, "uniform");
    c.model.layers = 1;
    snprintf(c.routing.dynamics, sizeof c.routing.dynamics, "collapse");
    c.routing.balance_alpha = balance_alpha;
    route_router *rt;
    gsl_rng *p = sim_rng_new(3, 4), *rng = sim_rng_new(3, 1), *drop = sim_rng_new(3, 2),
            *dyn = sim_rng_new(3, 3);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    double mm = 0;
    for (int s = 0; s < steps; s++) {
        route_result r;
        assert_int_equal(route_router_sample(rt, s, rng, drop, &r, NULL), SIM_OK);
        route_layer_stats m;
        route_layer_metrics(&r, 0, route_router_probs(rt, 0), NULL, &m, NULL);
        mm = m.max_mean_load;
        route_router_observe(rt, &r, dyn, NULL);
        route_result_fini(&r);
    }
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(drop);
    gsl_rng_free(dyn);
    return mm;
}

/* Collapse shows for small alpha and not for large. E = 8, k = 2: a fully collapsed
 * router sends every token to the same 2 experts, max/mean = (1/2) / (1/8) = 4; with
 * alpha = 0.05 after 40 steps the load is within 10% of that. With alpha = 0.9 the pull
 * toward uniform wins (threshold 1 - 1/gain = 0.5 for k = 1, lower for k = 2) and
 * max/mean stays at sampling noise (uniform draws of 4000 assignments: < 1.15). */
static void test_collapse_small_alpha_only(void **state)
{
    (void)state;
    double small = collapse_run(0.05, 40), large = collapse_run(0.9, 40);
    assert_true(small > 3.6);
    assert_true(large < 1.15);
}

/* Drift moves the popularity each step; with sigma = 0 it stays put. */
static void test_drift(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        scn_config c = small_cfg(1, 1, 8, 2, 100, "zipf");
        snprintf(c.routing.dynamics, sizeof c.routing.dynamics, "drift");
        c.routing.drift_sigma = v ? 0.5 : 0.0;
        route_router *rt;
        gsl_rng *p = sim_rng_new(3, 4), *rng = sim_rng_new(3, 1), *drop = sim_rng_new(3, 2),
                *dyn = sim_rng_new(3, 3);
        assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
        double before[8];
        memcpy(before, route_router_probs(rt, 0), sizeof before);
        route_result r;
        assert_int_equal(route_router_sample(rt, 0, rng, drop, &r, NULL), SIM_OK);
        route_router_observe(rt, &r, dyn, NULL);
        route_result_fini(&r);
        const double *after = route_router_probs(rt, 0);
        double diff = 0, sum = 0;
        for (int e = 0; e < 8; e++) {
            diff += fabs(after[e] - before[e]);
            sum += after[e];
        }
        assert_true(fabs(sum - 1) < 1e-12);
        if (v)
            assert_true(diff > 0.05);
        else
            assert_true(diff < 1e-12);
        route_router_free(rt);
        gsl_rng_free(p);
        gsl_rng_free(rng);
        gsl_rng_free(drop);
        gsl_rng_free(dyn);
    }
}

/* Cold experts: hot routing with hot_share = 1 gives the 7 other experts probability 0
 * (k = 1), so they get no tokens: with cold_steps = 2 they are flagged from the second
 * step on, never the hot one. */
static void test_cold_experts(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 1, 8, 1, 100, "hot");
    c.model.layers = 1;
    c.routing.hot_share = 1.0;
    c.routing.cold_steps = 2;
    route_router *rt;
    gsl_rng *p = sim_rng_new(3, 4), *rng = sim_rng_new(3, 1), *drop = sim_rng_new(3, 2),
            *dyn = sim_rng_new(3, 3);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    for (int s = 0; s < 3; s++) {
        route_result r;
        uint8_t cold[8];
        assert_int_equal(route_router_sample(rt, s, rng, drop, &r, NULL), SIM_OK);
        route_router_observe(rt, &r, dyn, cold);
        route_layer_stats m;
        route_layer_metrics(&r, 0, route_router_probs(rt, 0), cold, &m, NULL);
        assert_int_equal(m.cold_experts, s == 0 ? 0 : 7);
        /* entropy 0 (one expert), aux loss E x 1 x 1 = 8, cv sqrt(7) */
        assert_true(fabs(m.entropy) < 1e-15);
        assert_true(fabs(m.aux_loss - 8) < 1e-12);
        assert_true(fabs(m.cv - sqrt(7.0)) < 1e-12);
        route_result_fini(&r);
    }
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(rng);
    gsl_rng_free(drop);
    gsl_rng_free(dyn);
}

/* The balanced counterfactual: 3 GPUs x 10 tokens x k 2 = 20 assignments per source over
 * E = 6 experts: 3 each plus 2 extra, rotated so that every expert gets 3 x 3 + 1 = 10
 * from the group; max/mean = 1 and cv = 0 exactly. */
static void test_balanced_counterfactual(void **state)
{
    (void)state;
    scn_config c = small_cfg(1, 3, 6, 2, 10, "zipf");
    route_router *rt;
    route_result r;
    gsl_rng *p = sim_rng_new(1, 4), *drop = sim_rng_new(1, 5);
    assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
    assert_int_equal(route_router_balanced(rt, drop, &r, NULL), SIM_OK);
    for (int l = 0; l < 2; l++) {
        for (int s = 0; s < 3; s++) {
            int64_t sum = 0;
            for (int e = 0; e < 6; e++)
                sum += r.counts[((size_t)l * 3 + s) * 6 + e];
            assert_int_equal(sum, 20);
        }
        for (int e = 0; e < 6; e++) {
            int64_t sum = 0;
            for (int s = 0; s < 3; s++)
                sum += r.counts[((size_t)l * 3 + s) * 6 + e];
            assert_int_equal(sum, 10);
        }
        route_layer_stats m;
        route_layer_metrics(&r, l, route_router_probs(rt, l), NULL, &m, NULL);
        assert_true(m.max_mean_load == 1.0 && m.cv == 0.0);
    }
    route_result_fini(&r);
    route_router_free(rt);
    gsl_rng_free(p);
    gsl_rng_free(drop);
}

/* Every allocation of the router and of a step's draw can fail: each failure is reported
 * as SIM_ENOMEM and leaks nothing (the sanitizer leg checks the leaks). */
static void test_out_of_memory(void **state)
{
    (void)state;
    scn_config c = small_cfg(2, 2, 8, 2, 50, "zipf");
    c.routing.node_limit = 1;
    c.placement.spare_slots = 1;
    int failed = 0;
    for (long n = 0; n < 200; n++) {
        gsl_rng *p = sim_rng_new(1, 4), *rng = sim_rng_new(1, 1), *drop = sim_rng_new(1, 2);
        route_router *rt = NULL;
        route_result r;
        sim_alloc_fail_after(n);
        sim_status st = route_router_new(&c, NULL, p, &rt, NULL);
        if (st == SIM_OK) {
            st = route_router_sample(rt, 0, rng, drop, &r, NULL);
            if (st == SIM_OK)
                route_result_fini(&r);
        }
        sim_alloc_fail_after(-1);
        route_router_free(rt);
        gsl_rng_free(p);
        gsl_rng_free(rng);
        gsl_rng_free(drop);
        if (st == SIM_OK)
            break;
        assert_int_equal(st, SIM_ENOMEM);
        failed++;
    }
    assert_true(failed > 10);
}

/* route_exact_shares: where the pilot's shares have a closed form it is not needed. Equal
 * probabilities, top-8 of 256 over 8 nodes of 32: each expert 1/256, each node touched
 * with probability 1 - C(224, 8) / C(256, 8); top-1 of an unequal router: its
 * probabilities, and the node's mass; top-2 of an unequal router: no closed form. */
static void test_exact_shares(void **state)
{
    (void)state;
    enum { E = 256, NODES = 8 };
    double p[E], q[E + NODES];
    int node_of[E];
    int64_t nt[NODES];
    for (int e = 0; e < E; e++)
        p[e] = 1.0 / E, node_of[e] = e / 32;
    route_draw d = {.n_src = 1, .tokens_per_src = 1, .n_experts = E, .top_k = 8, .p = p,
                    .node_of = node_of, .n_nodes = NODES, .node_tokens = nt};
    assert_int_equal(route_exact_shares(&d, q), 1);
    double miss = 1;
    for (int i = 0; i < 8; i++)
        miss *= (224.0 - i) / (256.0 - i);
    for (int e = 0; e < E; e++)
        assert_true(q[e] == 1.0 / E);
    for (int n = 0; n < NODES; n++)
        assert_true(fabs(q[E + n] - (1 - miss)) < 1e-15);
    double sum = 0;
    for (int e = 0; e < E; e++)
        sum += p[e] = 1.0 / (e + 1);
    for (int e = 0; e < E; e++)
        p[e] /= sum;
    d.top_k = 1;
    assert_int_equal(route_exact_shares(&d, q), 1);
    double mass0 = 0;
    for (int e = 0; e < 32; e++)
        mass0 += p[e];
    assert_true(q[0] == p[0] && q[E - 1] == p[E - 1] && fabs(q[E] - mass0) < 1e-15);
    d.top_k = 2;
    assert_int_equal(route_exact_shares(&d, q), 0);
}

/* The multinomial sampler keeps each source row's total (T x k) exactly and each expert's
 * share of a skewed router within 3% of the exact sampler's (both at fixed seeds, 4 sources
 * x 200,000 tokens, 16 experts, top-4; pilot 20,000 tokens; the shares' sampling error is
 * well under 1%). */
static void test_multinomial_sampler_matches_exact(void **state)
{
    (void)state;
    enum { SRC = 4, E = 16, K = 4 };
    const int64_t T = 200000;
    double p[E], sum = 0;
    for (int e = 0; e < E; e++)
        sum += p[e] = 1.0 / (e + 1);
    for (int e = 0; e < E; e++)
        p[e] /= sum;
    route_draw d = {.n_src = SRC, .tokens_per_src = T, .n_experts = E, .top_k = K, .p = p};
    static int64_t exact[SRC * E], approx[SRC * E];
    gsl_rng *r1 = sim_rng_new(11, 1), *r2 = sim_rng_new(11, 1);
    assert_int_equal(route_topk_sample(r1, &d, NULL, exact), SIM_OK);
    assert_int_equal(route_topk_sample_multinomial(r2, &d, NULL, 20000, approx), SIM_OK);
    for (int s = 0; s < SRC; s++) {
        int64_t tot = 0;
        for (int e = 0; e < E; e++)
            tot += approx[s * E + e];
        assert_int_equal(tot, T * K);
    }
    for (int e = 0; e < E; e++) {
        double a = 0, b = 0;
        for (int s = 0; s < SRC; s++) {
            a += (double)exact[s * E + e];
            b += (double)approx[s * E + e];
        }
        if (fabs(b / a - 1) > 0.03)
            fail_msg("expert %d: exact %.0f, multinomial %.0f", e, a, b);
    }
    gsl_rng_free(r1);
    gsl_rng_free(r2);
}

/* Tokens per node for a deduplicating dispatch: 4 experts, 2 per node, top-2, uniform.
 * A token touches both nodes unless both its experts share one: P = 2 C(2,2) / C(4,2) = 1/3,
 * so the node tokens of a source sum to T (1/3 + 2 x 2/3) = 5T/3 (checked within 4 sigma of
 * the binomial, sigma = sqrt(2/9 / T)); with node_limit = 1 every token touches one node:
 * exactly T. */
static void test_node_tokens(void **state)
{
    (void)state;
    for (int limit = 0; limit <= 1; limit++) {
        scn_config c = small_cfg(2, 1, 4, 2, 30000, "uniform");
        c.routing.node_limit = limit;
        route_router *rt;
        gsl_rng *p = sim_rng_new(5, 4), *rng = sim_rng_new(5, 1), *drop = sim_rng_new(5, 2);
        assert_int_equal(route_router_new(&c, NULL, p, &rt, NULL), SIM_OK);
        route_result r;
        assert_int_equal(route_router_sample(rt, 0, rng, drop, &r, NULL), SIM_OK);
        assert_int_equal(r.n_nodes, 2);
        for (int l = 0; l < 2; l++)
            for (int g = 0; g < 2; g++) {
                const int64_t *nt = r.node_tokens + ((size_t)l * 2 + g) * 2;
                double sum = (double)(nt[0] + nt[1]);
                if (limit)
                    assert_true(sum == 30000);
                else
                    assert_true(fabs(sum / 30000 - 5.0 / 3) < 4 * sqrt(2.0 / 9 / 30000));
            }
        route_result_fini(&r);
        route_router_free(rt);
        gsl_rng_free(p);
        gsl_rng_free(rng);
        gsl_rng_free(drop);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_rows_and_chi_square),
        cmocka_unit_test(test_hot_and_dirichlet_counts),
        cmocka_unit_test(test_node_tokens),
        cmocka_unit_test(test_uniform_all_experts),
        cmocka_unit_test(test_same_seed_same_counts),
        cmocka_unit_test(test_topk_k1_matches_p),
        cmocka_unit_test(test_topk_k2_inclusion),
        cmocka_unit_test(test_topk_zero_probability),
        cmocka_unit_test(test_node_limit_every_token),
        cmocka_unit_test(test_two_level_every_token),
        cmocka_unit_test(test_capacity_arithmetic),
        cmocka_unit_test(test_apply_capacity),
        cmocka_unit_test(test_capacity_does_not_change_routing),
        cmocka_unit_test(test_exact_shares),
        cmocka_unit_test(test_multinomial_sampler_matches_exact),
        cmocka_unit_test(test_drop_arithmetic),
        cmocka_unit_test(test_zipf_probs_and_counts),
        cmocka_unit_test(test_hot_probs),
        cmocka_unit_test(test_dirichlet_spread),
        cmocka_unit_test(test_expert_choice_balanced),
        cmocka_unit_test(test_trace_scaled_split),
        cmocka_unit_test(test_collapse_small_alpha_only),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_cold_experts),
        cmocka_unit_test(test_balanced_counterfactual),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
