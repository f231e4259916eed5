/* tests/test_netflow.c: the max-min fair flow model (sim/net_flow.c): closed forms to the
 * picosecond, max-min properties on random link/flow sets, the incremental updates against
 * a from-scratch reference simulation, batching of equal finish times, determinism and
 * allocation failures. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/alloc.h"
#include "sim/engine.h"
#include "sim/net.h"
#include "sim/rng.h"

static sim_engine *flow_engine(void)
{
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(&sim_net_flow, &e, NULL), SIM_OK);
    return e;
}

static sim_time ps(double s) { return sim_time_from_s(s); }

/* The model is registered and found by name; the analytic one too. */
static void test_lookup(void **state)
{
    (void)state;
    assert_ptr_equal(sim_net_model_find("flow"), &sim_net_flow);
    assert_ptr_equal(sim_net_model_find("analytic"), &sim_net_analytic);
    assert_null(sim_net_model_find("packet"));
}

/* One flow of S = 1e9 bytes over a 2-link path (100 GB/s then 50 GB/s, latencies 1 us and
 * 2 us): latency 3 us, then S at the bottleneck 50 GB/s = 20 ms. End = 3 us + 20 ms. */
static void test_single_flow_closed_form(void **state)
{
    (void)state;
    sim_engine *e = flow_engine();
    sim_id l0 = sim_engine_add_link(e, 100e9, ps(1e-6));
    sim_id l1 = sim_engine_add_link(e, 50e9, ps(2e-6));
    sim_id path[2] = {l0, l1};
    sim_id f = sim_engine_add_flow(e, path, 2, 1e9, 0, -1, 0, 0);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_record(e, f)->end, ps(1e-6) + ps(2e-6) + ps(1e9 / 50e9));
    sim_engine_free(e);
}

/* Two flows of 1e9 bytes on one 100 GB/s link, no latency: each gets exactly half,
 * 50 GB/s, both end at 1e9 / 50e9 = 20 ms. */
static void test_two_flows_halve(void **state)
{
    (void)state;
    sim_engine *e = flow_engine();
    sim_id l = sim_engine_add_link(e, 100e9, 0);
    sim_id a = sim_engine_add_flow(e, &l, 1, 1e9, 0, -1, 0, 0);
    sim_id b = sim_engine_add_flow(e, &l, 1, 1e9, 0, -1, 0, 1);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_record(e, a)->end, ps(1e9 / 50e9));
    assert_int_equal(sim_engine_record(e, b)->end, ps(1e9 / 50e9));
    sim_engine_free(e);
}

/* Staggered: A (1e9 B) starts at 0 alone on a 100 GB/s link; B (1e9 B) starts at 5 ms
 * (after a 5 ms work task). A has moved 0.5e9 by then; both share 50 GB/s; A's last
 * 0.5e9 take 10 ms: A ends at 15 ms. B has moved 0.5e9 by then, then runs alone at
 * 100 GB/s for 5 ms: B ends at 20 ms. */
static void test_staggered_start(void **state)
{
    (void)state;
    sim_engine *e = flow_engine();
    sim_id l = sim_engine_add_link(e, 100e9, 0);
    sim_id r = sim_engine_add_resource(e);
    sim_id w = sim_engine_add_work(e, r, ps(5e-3), 1, 0);
    sim_id a = sim_engine_add_flow(e, &l, 1, 1e9, 0, -1, 0, 0);
    sim_id b = sim_engine_add_flow(e, &l, 1, 1e9, 0, -1, 0, 1);
    sim_engine_add_dep(e, w, b);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_record(e, a)->end, ps(15e-3));
    assert_int_equal(sim_engine_record(e, b)->end, ps(20e-3));
    sim_engine_free(e);
}

/* The textbook case (Bertsekas & Gallager, Data Networks, max-min example): L1 cap 10,
 * L2 cap 20; f0 crosses L1 and L2, f1 only L1, f2 and f3 only L2. L1 is the first
 * bottleneck: f0 = f1 = 5. L2 then has 15 left for f2 and f3: 7.5 each. A flow without
 * links is unconstrained (INFINITY). */
static void test_solver_textbook(void **state)
{
    (void)state;
    double cap[2] = {10, 20};
    int32_t off[6] = {0, 2, 3, 4, 5, 5};
    sim_id links[5] = {0, 1, 0, 1, 1};
    double rate[5];
    assert_int_equal(sim_maxmin_rates(2, cap, 5, off, links, rate), SIM_OK);
    assert_true(rate[0] == 5 && rate[1] == 5 && rate[2] == 7.5 && rate[3] == 7.5);
    assert_true(isinf(rate[4]));
}

/* Random link/flow sets: (a) no link carries more than its capacity; (b) every flow has a
 * bottleneck: a saturated link on which no flow gets a higher rate (the definition of
 * max-min fairness). Relative tolerance 1e-9 for floating-point sums. */
static void test_solver_maxmin_properties(void **state)
{
    (void)state;
    gsl_rng *r = sim_rng_new(42, 7);
    assert_non_null(r);
    for (int trial = 0; trial < 300; trial++) {
        size_t nl = 1 + gsl_rng_uniform_int(r, 30), nf = 1 + gsl_rng_uniform_int(r, 80);
        double *cap = malloc(nl * sizeof *cap), *rate = malloc(nf * sizeof *rate);
        int32_t *off = malloc((nf + 1) * sizeof *off);
        sim_id *links = malloc(nf * 6 * sizeof *links);
        for (size_t l = 0; l < nl; l++)
            cap[l] = gsl_rng_uniform_int(r, 4) == 0 ? 1e9 : 1e9 * (1 + 99 * gsl_rng_uniform(r));
        off[0] = 0;
        for (size_t f = 0; f < nf; f++) {
            int len = 1 + (int)gsl_rng_uniform_int(r, nl < 6 ? nl : 6);
            int32_t o = off[f];
            for (int h = 0; h < len; h++) {   /* distinct links along a path */
                sim_id l;
                int dup;
                do {
                    l = (sim_id)gsl_rng_uniform_int(r, nl);
                    dup = 0;
                    for (int32_t k = off[f]; k < o; k++)
                        dup |= links[k] == l;
                } while (dup);
                links[o++] = l;
            }
            off[f + 1] = o;
        }
        assert_int_equal(sim_maxmin_rates(nl, cap, nf, off, links, rate), SIM_OK);
        double *load = calloc(nl, sizeof *load), *maxr = calloc(nl, sizeof *maxr);
        for (size_t f = 0; f < nf; f++) {
            assert_true(rate[f] > 0);
            for (int32_t k = off[f]; k < off[f + 1]; k++) {
                load[links[k]] += rate[f];
                maxr[links[k]] = fmax(maxr[links[k]], rate[f]);
            }
        }
        for (size_t l = 0; l < nl; l++)
            assert_true(load[l] <= cap[l] * (1 + 1e-9));
        for (size_t f = 0; f < nf; f++) {
            int has_bottleneck = 0;
            for (int32_t k = off[f]; k < off[f + 1]; k++) {
                sim_id l = links[k];
                if (load[l] >= cap[l] * (1 - 1e-9) && rate[f] >= maxr[l] * (1 - 1e-9))
                    has_bottleneck = 1;
            }
            if (!has_bottleneck)
                fail_msg("trial %d: flow %zu (rate %g) has no bottleneck link", trial, f, rate[f]);
        }
        free(cap);
        free(rate);
        free(off);
        free(links);
        free(load);
        free(maxr);
    }
    gsl_rng_free(r);
}

/* All-to-all of P = 16 GPUs on a non-blocking fabric: each GPU has an up and a down link
 * of B = 50 GB/s (its NIC), latency a = 5 us on the up link. Every GPU sends S = 1e8 bytes
 * to each of the 15 others at once. Each up link carries 15 flows, each down link 15: every
 * flow gets B / 15 and the all-to-all takes a + 15 S / B (bounded by the NIC), and all
 * 240 flows end in the same picosecond. The engine runs one event for all the flows'
 * latencies (they share one latency class and instant) plus a handful of model updates
 * (start, end), not one per flow. */
static void test_all_to_all_nic_bound(void **state)
{
    (void)state;
    enum { P = 16 };
    const double B = 50e9, S = 1e8;
    sim_engine *e = flow_engine();
    sim_id up[P], down[P], f[P][P];
    for (int g = 0; g < P; g++) {
        up[g] = sim_engine_add_link(e, B, ps(5e-6));
        down[g] = sim_engine_add_link(e, B, 0);
    }
    for (int s = 0; s < P; s++)
        for (int d = 0; d < P; d++)
            if (s != d) {
                sim_id path[2] = {up[s], down[d]};
                f[s][d] = sim_engine_add_flow(e, path, 2, S, 0, -1, 0, s);
            }
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    sim_time want = ps(5e-6) + ps(15 * S / B);
    for (int s = 0; s < P; s++)
        for (int d = 0; d < P; d++)
            if (s != d)
                assert_int_equal(sim_engine_record(e, f[s][d])->end, want);
    assert_true(sim_engine_events(e) <= 4);
    sim_engine_free(e);
}

/* Reference: a from-scratch fluid simulation in double seconds that recomputes max-min
 * over every active flow at every start and end (sim_maxmin_rates on the whole set). The
 * engine's incremental model must agree on every flow's end to within 1 ps per rate change
 * it went through (each change rounds a finish time once): we allow 100 ps. */
typedef struct ref_flow {
    double start, bytes, end;
    int n;
    sim_id path[4];
} ref_flow;

static void reference(int nl, const double *cap, int nf, ref_flow *fl)
{
    double *left = malloc(nf * sizeof *left), *rate = malloc(nf * sizeof *rate);
    int32_t *off = malloc((nf + 1) * sizeof *off);
    sim_id *links = malloc(nf * 4 * sizeof *links);
    int *act = malloc(nf * sizeof *act);
    for (int i = 0; i < nf; i++) {
        left[i] = fl[i].bytes;
        fl[i].end = -1;
    }
    double now = 0;
    for (;;) {
        int na = 0;
        off[0] = 0;
        for (int i = 0; i < nf; i++)
            if (fl[i].start <= now && fl[i].end < 0) {
                act[na] = i;
                memcpy(links + off[na], fl[i].path, fl[i].n * sizeof(sim_id));
                off[na + 1] = off[na] + fl[i].n;
                na++;
            }
        double next_start = INFINITY;
        for (int i = 0; i < nf; i++)
            if (fl[i].start > now)
                next_start = fmin(next_start, fl[i].start);
        if (na == 0 && isinf(next_start))
            break;
        assert_int_equal(sim_maxmin_rates(nl, cap, na, off, links, rate), SIM_OK);
        double dt = next_start - now;
        for (int k = 0; k < na; k++)
            dt = fmin(dt, left[act[k]] / rate[k]);
        for (int k = 0; k < na; k++) {
            left[act[k]] -= rate[k] * dt;
            if (left[act[k]] <= 1e-9 * fl[act[k]].bytes)
                fl[act[k]].end = now + dt;
        }
        now += dt;
    }
    free(left);
    free(rate);
    free(off);
    free(links);
    free(act);
}

static void test_incremental_matches_reference(void **state)
{
    (void)state;
    gsl_rng *r = sim_rng_new(3, 11);
    for (int trial = 0; trial < 40; trial++) {
        int nl = 2 + (int)gsl_rng_uniform_int(r, 10), nf = 1 + (int)gsl_rng_uniform_int(r, 40);
        double cap[12];
        ref_flow fl[40];
        sim_engine *e = flow_engine();
        sim_id res = sim_engine_add_resource(e);
        (void)res;
        for (int l = 0; l < nl; l++) {
            cap[l] = 1e9 * (1 + gsl_rng_uniform_int(r, 20));
            sim_engine_add_link(e, cap[l], 0);
        }
        sim_id ids[40];
        for (int i = 0; i < nf; i++) {
            /* start times on a 1 us grid so that both simulations see the same instants */
            fl[i].start = 1e-6 * (double)gsl_rng_uniform_int(r, 200);
            fl[i].bytes = 1e3 * (1 + gsl_rng_uniform_int(r, 1000));
            fl[i].n = 1 + (int)gsl_rng_uniform_int(r, nl < 3 ? nl : 3);
            for (int h = 0; h < fl[i].n; h++) {
                sim_id l;
                int dup;
                do {
                    l = (sim_id)gsl_rng_uniform_int(r, nl);
                    dup = 0;
                    for (int k = 0; k < h; k++)
                        dup |= fl[i].path[k] == l;
                } while (dup);
                fl[i].path[h] = l;
            }
            /* a delay task (no resource) before each flow starts it at fl[i].start */
            sim_id w = sim_engine_add_work(e, -1, ps(fl[i].start), 1, i);
            ids[i] = sim_engine_add_flow(e, fl[i].path, fl[i].n, fl[i].bytes, 0, -1, 0, i);
            sim_engine_add_dep(e, w, ids[i]);
        }
        assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
        reference(nl, cap, nf, fl);
        for (int i = 0; i < nf; i++) {
            sim_time got = sim_engine_record(e, ids[i])->end, want = ps(fl[i].end);
            if (llabs(got - want) > 100)
                fail_msg("trial %d flow %d: engine %lld ps, reference %lld ps", trial, i,
                         (long long)got, (long long)want);
        }
        sim_engine_free(e);
    }
    gsl_rng_free(r);
}

/* Link usage (sim_engine_link_usage). Link L: 100 GB/s, latency 1 us. A (1e9 B) starts at
 * 0; B (1e9 B) after a 30 ms work task; C (1e9 B) with A, over [L, M] (M: 1 TB/s, no
 * latency); D (0 bytes) on L at 40 ms moves nothing.
 * Max-min: A and C share L from 1 us: 50 GB/s each, both end at 1 us + 20 ms; B alone at
 * 30 ms + 1 us, 10 ms: ends at 40.001 ms. L busy: [1 us, 20.001 ms] and [30.001 ms,
 * 40.001 ms] = 30 ms exactly (the latency phases do not count); L carried 3e9 bytes.
 * M: 1e9 bytes, busy [1 us, 20.001 ms] = 20 ms although it never binds. The analytic model
 * (A and C ignore each other, each at its path's slowest link, 100 GB/s: 10 ms each) gives
 * L busy 10 + 10 = 20 ms and M 10 ms. */
static void usage_graph(sim_engine *e, sim_id *L, sim_id *M)
{
    *L = sim_engine_add_link(e, 100e9, ps(1e-6));
    *M = sim_engine_add_link(e, 1e12, 0);
    sim_id w = sim_engine_add_work(e, -1, ps(30e-3), 1, 0);
    sim_engine_add_flow(e, L, 1, 1e9, 0, -1, 0, 0);
    sim_id b = sim_engine_add_flow(e, L, 1, 1e9, 0, -1, 0, 1);
    sim_engine_add_dep(e, w, b);
    sim_id p[2] = {*L, *M};
    sim_engine_add_flow(e, p, 2, 1e9, 0, -1, 0, 2);
    sim_id w2 = sim_engine_add_work(e, -1, ps(40e-3), 1, 0);
    sim_id d = sim_engine_add_flow(e, L, 1, 0, 0, -1, 0, 3);
    sim_engine_add_dep(e, w2, d);
}

static void test_link_usage(void **state)
{
    (void)state;
    sim_id L, M;
    double bytes;
    sim_time busy;
    sim_engine *e = flow_engine();
    usage_graph(e, &L, &M);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    sim_engine_link_usage(e, L, &bytes, &busy);
    assert_true(bytes == 3e9);
    assert_int_equal(busy, ps(30e-3));
    sim_engine_link_usage(e, M, &bytes, &busy);
    assert_true(bytes == 1e9);
    assert_int_equal(busy, ps(20e-3));
    sim_engine_link_usage(e, M, NULL, NULL);
    sim_engine_free(e);

    assert_int_equal(sim_engine_new(&sim_net_analytic, &e, NULL), SIM_OK);
    usage_graph(e, &L, &M);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    sim_engine_link_usage(e, L, &bytes, &busy);
    assert_true(bytes == 3e9);
    assert_int_equal(busy, ps(20e-3));
    sim_engine_link_usage(e, M, &bytes, &busy);
    assert_int_equal(busy, ps(10e-3));
    sim_engine_free(e);
}

/* Weighted max-min (sim_maxmin_rates_weighted). (a) L0 cap 12: bundle A of weight 3 and a
 * flow B share it: 12 / (3 + 1) = 3 each (A puts 9 on L0). (b) L1 cap 10 carries bundle A
 * (weight 2); L2 cap 20 carries A (weight 2) and flow C: L1 binds first at 10 / 2 = 5 for A,
 * which then takes 10 of L2; C gets the other 10. */
static void test_solver_weighted(void **state)
{
    (void)state;
    double cap[3] = {12, 10, 20};
    int32_t off[5] = {0, 1, 2, 4, 5};
    sim_id links[5] = {0, 0, 1, 2, 2};
    int32_t w[5] = {3, 1, 2, 2, 1};
    double rate[4];
    assert_int_equal(sim_maxmin_rates_weighted(3, cap, 4, off, links, w, rate), SIM_OK);
    assert_true(rate[0] == 3 && rate[1] == 3);
    assert_true(rate[2] == 5 && rate[3] == 10);
}

/* A bundle is its members, simulated together. All-to-all of P = 16 GPUs in 4 groups of
 * 4 (each GPU: up and down link of B = 50 GB/s, 5 us latency): once as 240 flows, once as
 * 16 bundles, one per (source group, destination group) pair, with weight 4 (3 inside a
 * group) on each member's up and down link. By symmetry every member gets the rate of the
 * unaggregated flows, B / 15: every end is 5 us + 15 S / B, to 1 ps (the weighted sums
 * round differently). Usage: each up link carries 15 S either way. Under the analytic model
 * a bundle moves at its slowest link: S / B after the latency. */
static void test_bundle_equals_members(void **state)
{
    (void)state;
    enum { P = 16, G = 4 };
    const double B = 50e9, S = 1e8;
    sim_engine *e = flow_engine();
    sim_id up[P], down[P];
    for (int g = 0; g < P; g++) {
        up[g] = sim_engine_add_link(e, B, ps(5e-6));
        down[g] = sim_engine_add_link(e, B, 0);
    }
    sim_id bundle[G][G];
    for (int a = 0; a < G; a++)
        for (int b = 0; b < G; b++) {
            sim_id l[2 * G];
            int32_t w[2 * G];
            int m = a == b ? G - 1 : G;
            for (int k = 0; k < G; k++) {
                l[k] = up[a * G + k];
                l[G + k] = down[b * G + k];
                w[k] = w[G + k] = m;
            }
            bundle[a][b] = sim_engine_add_bundle(e, l, w, 2 * G, S, G * m, ps(5e-6), -1, 0, a);
        }
    assert_int_equal(sim_engine_n_flows(e), G * G);
    assert_int_equal(sim_engine_task_mult(e, bundle[1][2]), 16);
    assert_int_equal(sim_engine_task_mult(e, bundle[1][1]), 12);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    sim_time want = ps(5e-6) + ps(15 * S / B);
    for (int a = 0; a < G; a++)
        for (int b = 0; b < G; b++) {
            assert_true(llabs(sim_engine_record(e, bundle[a][b])->end - want) <= 1);
            assert_true(sim_engine_record(e, bundle[a][b])->bytes == S * G * (a == b ? G - 1 : G));
        }
    double bytes;
    sim_engine_link_usage(e, up[5], &bytes, NULL);
    assert_true(bytes == 15 * S);
    sim_engine_free(e);

    assert_int_equal(sim_engine_new(&sim_net_analytic, &e, NULL), SIM_OK);
    sim_id l[2] = {sim_engine_add_link(e, B, 0), sim_engine_add_link(e, B / 2, 0)};
    int32_t w[2] = {4, 1};
    sim_id x = sim_engine_add_bundle(e, l, w, 2, S, 4, ps(1e-6), -1, 0, 0);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_record(e, x)->end, ps(1e-6) + ps(S / (B / 2)));
    sim_engine_free(e);
}

/* Zero-byte flows and flows without links end as soon as their latency is paid. */
static void test_degenerate_flows(void **state)
{
    (void)state;
    sim_engine *e = flow_engine();
    sim_id l = sim_engine_add_link(e, 1e9, ps(1e-6));
    sim_id a = sim_engine_add_flow(e, &l, 1, 0, 0, -1, 0, 0);
    sim_id b = sim_engine_add_flow(e, NULL, 0, 1e6, ps(2e-6), -1, 0, 0);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_record(e, a)->end, ps(1e-6));
    assert_int_equal(sim_engine_record(e, b)->end, ps(2e-6));
    sim_engine_free(e);
}

/* Same graph twice: identical records, bit for bit. */
static void build_mesh(sim_engine *e, int n)
{
    sim_id l[8];
    for (int i = 0; i < 8; i++)
        l[i] = sim_engine_add_link(e, 1e9 * (i + 1), ps(1e-6));
    for (int i = 0; i < n; i++) {
        sim_id p[2] = {l[i % 8], l[(i * 5 + 3) % 8]};
        if (p[0] == p[1])
            p[1] = l[(i + 1) % 8];
        sim_engine_add_flow(e, p, 2, 1e6 * (1 + i % 7), ps(1e-7 * (i % 3)), -1, 0, i);
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    sim_engine *a = flow_engine(), *b = flow_engine();
    build_mesh(a, 200);
    build_mesh(b, 200);
    assert_int_equal(sim_engine_run(a, NULL), SIM_OK);
    assert_int_equal(sim_engine_run(b, NULL), SIM_OK);
    for (sim_id i = 0; i < 200; i++)
        assert_int_equal(sim_engine_record(a, i)->end, sim_engine_record(b, i)->end);
    sim_engine_free(a);
    sim_engine_free(b);
}

/* Every allocation failure inside a run is reported as SIM_ENOMEM, never a crash or a
 * leak (the sanitizer leg checks leaks). */
static void test_out_of_memory(void **state)
{
    (void)state;
    int saw_fail = 0, saw_ok = 0;
    for (long n = 0; n < 400 && !saw_ok; n++) {
        sim_engine *e = NULL;
        if (sim_engine_new(&sim_net_flow, &e, NULL) != SIM_OK)
            continue;
        build_mesh(e, 60);
        sim_alloc_fail_after(n);
        sim_status st = sim_engine_run(e, NULL);
        sim_alloc_fail_after(-1);
        assert_true(st == SIM_OK || st == SIM_ENOMEM);
        saw_fail |= st == SIM_ENOMEM;
        saw_ok |= st == SIM_OK;
        sim_engine_free(e);
    }
    assert_true(saw_fail && saw_ok);
    double cap[1] = {1};
    int32_t off[2] = {0, 1};
    sim_id links[1] = {0};
    double rate[1] = {-1};
    sim_alloc_fail_after(0);
    assert_int_equal(sim_maxmin_rates(1, cap, 1, off, links, rate), SIM_ENOMEM);
    sim_alloc_fail_after(-1);
    assert_true(rate[0] == -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_single_flow_closed_form),
        cmocka_unit_test(test_two_flows_halve),
        cmocka_unit_test(test_staggered_start),
        cmocka_unit_test(test_solver_textbook),
        cmocka_unit_test(test_solver_maxmin_properties),
        cmocka_unit_test(test_all_to_all_nic_bound),
        cmocka_unit_test(test_link_usage),
        cmocka_unit_test(test_solver_weighted),
        cmocka_unit_test(test_bundle_equals_members),
        cmocka_unit_test(test_incremental_matches_reference),
        cmocka_unit_test(test_degenerate_flows),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
