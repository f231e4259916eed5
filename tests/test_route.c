/* tests/test_route.c: uniform routing, capacity arithmetic and dropping. */
#include <gsl/gsl_cdf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "models/route.h"
#include "sim/rng.h"

/* Every source row sums to tokens x k, no expert gets more than `tokens` copies from one
 * source (k distinct experts per token), and the pooled counts pass a chi-square test of
 * uniformity at the 0.1% level (fixed seed). */
static void test_uniform_rows_and_chi_square(void **state)
{
    (void)state;
    enum { SRC = 4, E = 16, K = 4, TOK = 5000 };
    int64_t counts[SRC * E];
    gsl_rng *rng = sim_rng_new(7, 1);
    assert_int_equal(route_uniform.sample(NULL, rng, 0, 0, SRC, TOK, E, K, counts), SIM_OK);
    double pooled[E] = {0};
    for (int s = 0; s < SRC; s++) {
        int64_t sum = 0;
        for (int e = 0; e < E; e++) {
            sum += counts[s * E + e];
            assert_true(counts[s * E + e] <= TOK);
            pooled[e] += (double)counts[s * E + e];
        }
        assert_int_equal(sum, (int64_t)TOK * K);
    }
    double expect = (double)SRC * TOK * K / E, chi2 = 0;
    for (int e = 0; e < E; e++)
        chi2 += (pooled[e] - expect) * (pooled[e] - expect) / expect;
    assert_true(gsl_cdf_chisq_Q(chi2, E - 1) > 0.001);
    gsl_rng_free(rng);
}

/* k = E: every token picks every expert, so each count is exactly TOK. */
static void test_uniform_all_experts(void **state)
{
    (void)state;
    int64_t counts[3 * 5];
    gsl_rng *rng = sim_rng_new(1, 1);
    assert_int_equal(route_uniform.sample(NULL, rng, 0, 0, 3, 100, 5, 5, counts), SIM_OK);
    for (int i = 0; i < 15; i++)
        assert_int_equal(counts[i], 100);
    gsl_rng_free(rng);
}

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

/* The same seed gives the same draws, bit for bit; another seed differs. */
static void test_same_seed_same_counts(void **state)
{
    (void)state;
    int64_t a[2 * 8], b[2 * 8], c[2 * 8];
    gsl_rng *r1 = sim_rng_new(42, 1), *r2 = sim_rng_new(42, 1), *r3 = sim_rng_new(43, 1);
    route_uniform.sample(NULL, r1, 0, 0, 2, 1000, 8, 2, a);
    route_uniform.sample(NULL, r2, 0, 0, 2, 1000, 8, 2, b);
    route_uniform.sample(NULL, r3, 0, 0, 2, 1000, 8, 2, c);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    gsl_rng_free(r3);
}

/* A whole step over 2 EP groups of 4 GPUs: capacity changes which assignments are kept, never
 * the routing itself: kept + dropped with C = 1 equals the dropless counts, each expert keeps
 * at most ceil(1.0 x 4 x 256 x 2 / 8) = 256 per group and layer. */
static void test_capacity_does_not_change_routing(void **state)
{
    (void)state;
    scn_config c;
    memset(&c, 0, sizeof c);
    c.cluster.nodes = 1;
    c.cluster.gpus_per_node = 8;
    c.model.layers = 3;
    c.model.experts = 8;
    c.model.top_k = 2;
    c.parallel.ep = 4;
    c.training.seq_len = 256;
    c.training.micro_batch = 1;
    route_result a, b;
    gsl_rng *r1 = sim_rng_new(9, 1), *d1 = sim_rng_new(9, 2);
    gsl_rng *r2 = sim_rng_new(9, 1), *d2 = sim_rng_new(9, 2);
    c.routing.capacity_factor = 0;
    assert_int_equal(route_sample_step(&route_uniform, NULL, &c, r1, d1, 0, &a, NULL), SIM_OK);
    c.routing.capacity_factor = 1.0;
    assert_int_equal(route_sample_step(&route_uniform, NULL, &c, r2, d2, 0, &b, NULL), SIM_OK);
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
    gsl_rng_free(r1);
    gsl_rng_free(d1);
    gsl_rng_free(r2);
    gsl_rng_free(d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_rows_and_chi_square),
        cmocka_unit_test(test_uniform_all_experts),
        cmocka_unit_test(test_capacity_arithmetic),
        cmocka_unit_test(test_apply_capacity),
        cmocka_unit_test(test_same_seed_same_counts),
        cmocka_unit_test(test_capacity_does_not_change_routing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
