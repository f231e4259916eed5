/* tests/test_engine.c: the task-graph executor: dependencies, resource exclusivity,
 * flows, critical-path attribution, cycles and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/alloc.h"
#include "sim/engine.h"
#include "sim/net.h"

enum { CAT_A, CAT_B, CAT_IDLE, N_CAT };

static sim_engine *new_engine(void)
{
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    return e;
}

/* a(10) -> b(20) -> c(5) on three resources: b starts at 10, c at 30, makespan 35. */
static void test_dependencies(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id r0 = sim_engine_add_resource(e), r1 = sim_engine_add_resource(e),
           r2 = sim_engine_add_resource(e);
    sim_id a = sim_engine_add_work(e, r0, 10, CAT_A, 0);
    sim_id b = sim_engine_add_work(e, r1, 20, CAT_B, 1);
    sim_id c = sim_engine_add_work(e, r2, 5, CAT_A, 2);
    sim_engine_add_dep(e, b, c);
    sim_engine_add_dep(e, a, b);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_record(e, b)->start, 10);
    assert_int_equal(sim_engine_record(e, c)->start, 30);
    assert_int_equal(sim_engine_record(e, c)->end, 35);
    assert_int_equal(sim_engine_makespan(e), 35);
    sim_engine_free(e);
}

/* Three independent tasks (7, 3, 5) on one resource run back to back in the order they
 * were added: [0,7], [7,10], [10,15]; a task on another resource runs in parallel. */
static void test_resource_exclusive_fifo(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id r = sim_engine_add_resource(e), other = sim_engine_add_resource(e);
    sim_id t[3] = {sim_engine_add_work(e, r, 7, CAT_A, 0), sim_engine_add_work(e, r, 3, CAT_A, 0),
                   sim_engine_add_work(e, r, 5, CAT_B, 0)};
    sim_id p = sim_engine_add_work(e, other, 4, CAT_B, 1);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    sim_time want[3][2] = {{0, 7}, {7, 10}, {10, 15}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sim_engine_record(e, t[i])->start, want[i][0]);
        assert_int_equal(sim_engine_record(e, t[i])->end, want[i][1]);
    }
    assert_int_equal(sim_engine_record(e, p)->start, 0);
    assert_int_equal(sim_engine_resource_busy(e, r), 15);
    /* critical path: t2 waited for t1 which waited for t0: A 7+3, B 5 */
    sim_time bd[N_CAT];
    sim_engine_critical_breakdown(e, N_CAT, CAT_IDLE, bd);
    assert_int_equal(bd[CAT_A], 10);
    assert_int_equal(bd[CAT_B], 5);
    assert_int_equal(bd[CAT_IDLE], 0);
    sim_engine_free(e);
}

/* A flow of 1e6 bytes over links of 1e9 and 2e9 B/s with latencies 1 us and 0.5 us:
 * 1.5 us + 1e6 / 1e9 s = 1,001,500,000 ps. A zero-link flow takes only its extra latency. */
static void test_flow_analytic(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id l0 = sim_engine_add_link(e, 1e9, 1000000), l1 = sim_engine_add_link(e, 2e9, 500000);
    sim_id path[2] = {l0, l1};
    sim_id f = sim_engine_add_flow(e, path, 2, 1e6, 0, -1, CAT_A, 0);
    sim_id g = sim_engine_add_flow(e, NULL, 0, 123.0, 42, -1, CAT_B, 1);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_record(e, f)->end, 1001500000);
    assert_int_equal(sim_engine_record(e, g)->end, 42);
    sim_engine_free(e);
}

/* Critical path with a fork: x(100) then y(50) on r0 and z(80, flow-like on r1) after x;
 * w after y and z. Path: x(A,100) -> z(B,80) -> w(A,10): makespan 190 = A 110 + B 80. */
static void test_critical_breakdown_sums(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id r0 = sim_engine_add_resource(e), r1 = sim_engine_add_resource(e);
    sim_id x = sim_engine_add_work(e, r0, 100, CAT_A, 0);
    sim_id y = sim_engine_add_work(e, r0, 50, CAT_A, 0);
    sim_id z = sim_engine_add_work(e, r1, 80, CAT_B, 1);
    sim_id w = sim_engine_add_work(e, r0, 10, CAT_A, 0);
    sim_engine_add_dep(e, x, y);
    sim_engine_add_dep(e, x, z);
    sim_engine_add_dep(e, y, w);
    sim_engine_add_dep(e, z, w);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_makespan(e), 190);
    sim_time bd[N_CAT];
    sim_engine_critical_breakdown(e, N_CAT, CAT_IDLE, bd);
    assert_int_equal(bd[CAT_A], 110);
    assert_int_equal(bd[CAT_B], 80);
    assert_int_equal(bd[CAT_A] + bd[CAT_B] + bd[CAT_IDLE], sim_engine_makespan(e));
    sim_engine_free(e);
}

/* a -> b -> a: nothing can start; the run reports the cycle. */
static void test_cycle_detected(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id r = sim_engine_add_resource(e);
    sim_id a = sim_engine_add_work(e, r, 1, CAT_A, 0), b = sim_engine_add_work(e, r, 1, CAT_A, 0);
    sim_id c = sim_engine_add_work(e, r, 1, CAT_A, 0);
    sim_engine_add_dep(e, a, b);
    sim_engine_add_dep(e, b, a);
    sim_err err = {0};
    assert_int_equal(sim_engine_run(e, &err), SIM_ERUN);
    assert_string_equal(err.msg, "task graph did not finish: 1 of 3 tasks ran (dependency cycle)");
    assert_int_equal(sim_engine_record(e, c)->end, 1);
    sim_engine_free(e);
}

/* With the n-th allocation failing, building and running either succeeds or reports
 * SIM_ENOMEM; nothing leaks (checked by the sanitizer leg). */
static void test_alloc_failures(void **state)
{
    (void)state;
    int succeeded = 0;
    for (long n = 0; n < 200 && !succeeded; n++) {
        sim_alloc_fail_after(n);
        sim_engine *e = NULL;
        sim_status st = sim_engine_new(NULL, &e, NULL);
        if (st != SIM_OK) {
            assert_int_equal(st, SIM_ENOMEM);
            continue;
        }
        sim_id r = sim_engine_add_resource(e);
        sim_id l = sim_engine_add_link(e, 1e9, 10);
        sim_id prev = -1;
        for (int i = 0; i < 40; i++) {
            sim_id t = (i % 2) ? sim_engine_add_flow(e, &l, l >= 0 ? 1 : 0, 100, 0, -1, CAT_A, 0)
                               : sim_engine_add_work(e, r, 5, CAT_B, 0);
            if (prev >= 0 && t >= 0)
                sim_engine_add_dep(e, prev, t);
            prev = t;
        }
        st = sim_engine_run(e, NULL);
        assert_true(st == SIM_OK || st == SIM_ENOMEM);
        succeeded = st == SIM_OK;
        sim_engine_free(e);
    }
    sim_alloc_fail_after(-1);
    assert_true(succeeded);
}

typedef struct visit {
    int n;
    sim_id tasks[8];
    sim_time gaps[8];
} visit;

static void visit_fn(void *ctx, const sim_record *rec, sim_time gap)
{
    visit *v = ctx;
    v->tasks[v->n] = rec->task;
    v->gaps[v->n++] = gap;
}

/* a(10) on r0 and b(4) on r1 -> c(5) on r0 after both: the path is c <- a (a finished at
 * 10, after b at 4), visited last first, with no gaps. A flow of 2 us latency then c2
 * waiting for it: the flow's latency is part of its span, so no gap either. */
static void test_critical_path_visitor(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id r0 = sim_engine_add_resource(e), r1 = sim_engine_add_resource(e);
    sim_id a = sim_engine_add_work(e, r0, 10, CAT_A, 0);
    sim_id b = sim_engine_add_work(e, r1, 4, CAT_B, 1);
    sim_id c = sim_engine_add_work(e, r0, 5, CAT_A, 0);
    sim_engine_add_dep(e, a, c);
    sim_engine_add_dep(e, b, c);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    visit v = {0};
    assert_int_equal(sim_engine_critical_path(e, visit_fn, &v), 2);
    assert_int_equal(v.tasks[0], c);
    assert_int_equal(v.tasks[1], a);
    assert_int_equal(v.gaps[0] + v.gaps[1], 0);
    sim_engine_free(e);
}

/* Latency release. 3000 flows without links, flow i with extra latency 10 + (i % 1500) ps:
 * 1500 distinct latencies, more than the engine's 1024 classes, so some flows get their
 * own event: every flow still ends at its latency exactly. 2000 zero-byte flows of one
 * latency starting together under the flow model cost two events: one release, one model
 * update that ends them all. */
static void test_latency_classes(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id f[3000];
    for (int i = 0; i < 3000; i++)
        f[i] = sim_engine_add_flow(e, NULL, 0, 1, 10 + i % 1500, -1, CAT_A, 0);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(sim_engine_record(e, f[i])->end, 10 + i % 1500);
    sim_engine_free(e);

    assert_int_equal(sim_engine_new(&sim_net_flow, &e, NULL), SIM_OK);
    sim_id l = sim_engine_add_link(e, 1e9, 1000);
    for (int i = 0; i < 2000; i++)
        sim_engine_add_flow(e, &l, 1, 0, 0, -1, CAT_A, 0);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_events(e), 2);
    assert_int_equal(sim_engine_makespan(e), 1000);
    sim_engine_free(e);
}

/* sim_engine_reserve makes room up front and changes nothing else; when the memory is
 * not there it says so and the engine still works. */
static void test_reserve(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    assert_int_equal(sim_engine_reserve(e, 100, 50, 100, 100), SIM_OK);
    sim_alloc_fail_after(0);
    assert_int_equal(sim_engine_reserve(e, 1000000, 10, 10, 10), SIM_ENOMEM);
    sim_alloc_fail_after(-1);
    sim_id r = sim_engine_add_resource(e);
    sim_id a = sim_engine_add_work(e, r, 7, CAT_A, 0);
    sim_id b = sim_engine_add_work(e, r, 3, CAT_A, 0);
    sim_engine_add_dep(e, a, b);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(sim_engine_makespan(e), 10);
    assert_int_equal(sim_engine_task_mult(e, a), 1);
    sim_engine_free(e);
}

static void count_progress(void *ctx, size_t done, size_t total)
{
    size_t *calls = ctx;
    assert_true(done <= total && total == 10);
    assert_int_equal(done % 3, 0);
    (*calls)++;
}

/* Ten tasks, progress every 3 finished: called at 3, 6 and 9. */
static void test_progress(void **state)
{
    (void)state;
    sim_engine *e = new_engine();
    sim_id r = sim_engine_add_resource(e);
    for (int i = 0; i < 10; i++)
        sim_engine_add_work(e, r, 1, CAT_A, 0);
    size_t calls = 0;
    sim_engine_set_progress(e, count_progress, &calls, 3);
    assert_int_equal(sim_engine_run(e, NULL), SIM_OK);
    assert_int_equal(calls, 3);
    sim_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dependencies),
        cmocka_unit_test(test_resource_exclusive_fifo),
        cmocka_unit_test(test_flow_analytic),
        cmocka_unit_test(test_critical_breakdown_sums),
        cmocka_unit_test(test_cycle_detected),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_critical_path_visitor),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_latency_classes),
        cmocka_unit_test(test_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
