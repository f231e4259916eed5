/* tests/test_evq.c: cmocka tests for the event queue (sim/evq.h).
 *
 * Order (earliest time first, first in first out among equal times, including ties made
 * while the queue's base time moved), cancellation and handles, the usage error for times
 * in the past, counting, allocation failure (SIM_ENOMEM leaves the queue unchanged and
 * usable), and a long random run checked against a reference: a plain array kept sorted by
 * (time, insertion sequence). Random streams are splitmix64 with fixed seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/alloc.h"
#include "sim/evq.h"

/* ---- helpers --------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (the modulo bias is irrelevant here). */
static uint64_t below(uint64_t *s, uint64_t n) { return splitmix64(s) % n; }

/* Events carry their id in arg; self points to the recorder that callbacks append to. */
typedef struct recorder {
    uintptr_t ids[64];
    sim_time times[64];
    size_t n;
} recorder;

static void record_fn(sim_evq *q, void *self, void *arg)
{
    recorder *r = self;
    assert_true(r->n < 64);
    r->ids[r->n] = (uintptr_t)arg;
    r->times[r->n] = sim_evq_now(q);
    r->n++;
}

static void noop_fn(sim_evq *q, void *self, void *arg)
{
    (void)q;
    (void)self;
    (void)arg;
}

/* The id of the event note_fn last ran for. */
static uintptr_t noted_id;

static void note_fn(sim_evq *q, void *self, void *arg)
{
    (void)q;
    (void)self;
    noted_id = (uintptr_t)arg;
}

static void *id_arg(uintptr_t id) { return (void *)id; }

static sim_evq *new_queue(void)
{
    sim_evq *q = NULL;
    assert_int_equal(sim_evq_new(&q), SIM_OK);
    assert_non_null(q);
    return q;
}

static uint64_t at_ok(sim_evq *q, sim_time t, uintptr_t id)
{
    uint64_t h = 0;
    assert_int_equal(sim_evq_at(q, t, note_fn, NULL, id_arg(id), &h), SIM_OK);
    assert_true(h != 0);
    return h;
}

/* Pops one event and checks its time and id. */
static void expect_pop(sim_evq *q, sim_time t, uintptr_t id)
{
    sim_time pt = -1;
    sim_event_fn *fn = NULL;
    void *self = NULL, *arg = NULL;
    assert_int_equal(sim_evq_pop(q, &pt, &fn, &self, &arg), 1);
    assert_int_equal(pt, t);
    assert_int_equal((uintptr_t)arg, id);
    assert_int_equal(sim_evq_now(q), t);
}

static void expect_empty(sim_evq *q)
{
    sim_time t = 12345;
    void *arg = id_arg(777);
    assert_int_equal(sim_evq_pop(q, &t, NULL, NULL, &arg), 0);
    assert_int_equal(t, 12345);            /* out-parameters untouched */
    assert_int_equal((uintptr_t)arg, 777);
    assert_int_equal(sim_evq_size(q), 0);
}

/* The reference: events sorted by (time, insertion sequence), live in v[head..n). */
typedef struct ref_ev {
    sim_time t;
    uint64_t handle;
    uintptr_t id;
} ref_ev;

typedef struct ref_q {
    ref_ev *v;
    size_t head, n, cap;
} ref_q;

static void ref_free(ref_q *r) { free(r->v); }

static size_t ref_size(const ref_q *r) { return r->n - r->head; }

/* Inserts after every event with time <= t: equal times keep insertion order. */
static void ref_push(ref_q *r, sim_time t, uint64_t handle, uintptr_t id)
{
    if (r->head > 0 && r->head * 2 >= r->n) {
        memmove(r->v, r->v + r->head, (r->n - r->head) * sizeof *r->v);
        r->n -= r->head;
        r->head = 0;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    size_t lo = r->head, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->v[mid].t <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(r->v + lo + 1, r->v + lo, (r->n - lo) * sizeof *r->v);
    r->v[lo] = (ref_ev){t, handle, id};
    r->n++;
}

static int ref_pop(ref_q *r, ref_ev *out)
{
    if (r->head == r->n)
        return 0;
    *out = r->v[r->head++];
    return 1;
}

static int ref_cancel(ref_q *r, uint64_t handle)
{
    for (size_t i = r->head; i < r->n; i++) {
        if (r->v[i].handle == handle) {
            memmove(r->v + i, r->v + i + 1, (r->n - i - 1) * sizeof *r->v);
            r->n--;
            return 1;
        }
    }
    return 0;
}

/* Schedules in both the queue and the reference. */
static uint64_t both_at(sim_evq *q, ref_q *r, sim_time t, uintptr_t id)
{
    uint64_t h = at_ok(q, t, id);
    ref_push(r, t, h, id);
    return h;
}

/* Pops everything from both and compares event by event. */
static void drain_and_compare(sim_evq *q, ref_q *r)
{
    ref_ev want = {0};
    while (ref_pop(r, &want)) {
        assert_int_equal(sim_evq_size(q), ref_size(r) + 1);
        expect_pop(q, want.t, want.id);
    }
    expect_empty(q);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_free_null(void **state)
{
    (void)state;
    sim_evq_free(NULL); /* no-op, must not crash */
}

static void test_empty_queue(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    /* A new queue: now 0, nothing pending, nothing executed. */
    assert_int_equal(sim_evq_now(q), 0);
    assert_int_equal(sim_evq_size(q), 0);
    assert_int_equal(sim_evq_executed(q), 0);
    expect_empty(q);
    assert_int_equal(sim_evq_step(q), 0);
    assert_int_equal(sim_evq_executed(q), 0);
    sim_evq_free(q);
}

static void test_basic_order(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    /* Scheduled (time, id): (30,0) (10,1) (20,2) (10,3) (0,4).
     * Expected pops: (0,4) (10,1) (10,3) (20,2) (30,0); executed ends at 5. */
    at_ok(q, 30, 0);
    at_ok(q, 10, 1);
    at_ok(q, 20, 2);
    at_ok(q, 10, 3);
    at_ok(q, 0, 4);
    assert_int_equal(sim_evq_size(q), 5);
    expect_pop(q, 0, 4);
    expect_pop(q, 10, 1);
    expect_pop(q, 10, 3);
    expect_pop(q, 20, 2);
    expect_pop(q, 30, 0);
    expect_empty(q);
    assert_int_equal(sim_evq_executed(q), 5);
    assert_int_equal(sim_evq_now(q), 30); /* now stays at the last popped time */
    sim_evq_free(q);
}

static void test_fifo_equal_times(void **state)
{
    (void)state;
    /* 1000 events at one time pop in scheduling order (ids 0..999), whether the time equals
     * now (the events go straight to the front bucket, across several chunks) or lies far
     * ahead (they are redistributed down the levels first). */
    const sim_time times[] = {0, 5, (sim_time)1 << 40, SIM_TIME_MAX};
    for (size_t k = 0; k < sizeof times / sizeof times[0]; k++) {
        sim_evq *q = new_queue();
        for (uintptr_t i = 0; i < 1000; i++)
            at_ok(q, times[k], i);
        for (uintptr_t i = 0; i < 1000; i++)
            expect_pop(q, times[k], i);
        expect_empty(q);
        sim_evq_free(q);
    }
}

static void test_fifo_ties_across_bases(void **state)
{
    (void)state;
    /* Five events at T are scheduled while the last popped time is 0, 1, T - 10, T - 1 and
     * T itself; each of these states files T in a different bucket. Expected: they pop in
     * scheduling order A, B, C, D, E (ids 100..104), after the fillers (ids 1..3). */
    const sim_time tees[] = {1000000, 0x123456789abcLL, 16, 17, 256, (sim_time)1 << 62};
    for (size_t k = 0; k < sizeof tees / sizeof tees[0]; k++) {
        sim_time T = tees[k];
        sim_evq *q = new_queue();
        at_ok(q, T, 100); /* A, with last = 0 */
        at_ok(q, 1, 1);
        at_ok(q, T - 10, 2);
        at_ok(q, T - 1, 3);
        expect_pop(q, 1, 1);
        at_ok(q, T, 101); /* B, last = 1 */
        expect_pop(q, T - 10, 2);
        at_ok(q, T, 102); /* C, last = T - 10 */
        expect_pop(q, T - 1, 3);
        at_ok(q, T, 103); /* D, last = T - 1 */
        expect_pop(q, T, 100);
        at_ok(q, T, 104); /* E, last = T */
        expect_pop(q, T, 101);
        expect_pop(q, T, 102);
        expect_pop(q, T, 103);
        expect_pop(q, T, 104);
        expect_empty(q);
        sim_evq_free(q);
    }
}

static void reschedule_fn(sim_evq *q, void *self, void *arg)
{
    record_fn(q, self, arg);
    if ((uintptr_t)arg == 1) /* a: schedules c at the current time */
        assert_int_equal(sim_evq_at(q, sim_evq_now(q), record_fn, self, id_arg(3), NULL),
                         SIM_OK);
}

static void test_step_runs_callbacks(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    recorder rec = {0};
    /* a (id 1) and b (id 2) at time 10; a schedules c (id 3) at now = 10 while running.
     * Expected runs: a, b, c, all seeing now = 10; then d (id 4) at 25; executed 4. */
    assert_int_equal(sim_evq_at(q, 10, reschedule_fn, &rec, id_arg(1), NULL), SIM_OK);
    assert_int_equal(sim_evq_at(q, 25, record_fn, &rec, id_arg(4), NULL), SIM_OK);
    assert_int_equal(sim_evq_at(q, 10, record_fn, &rec, id_arg(2), NULL), SIM_OK);
    while (sim_evq_step(q))
        ;
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 2);
    assert_int_equal(rec.ids[2], 3);
    assert_int_equal(rec.ids[3], 4);
    assert_int_equal(rec.times[0], 10);
    assert_int_equal(rec.times[1], 10);
    assert_int_equal(rec.times[2], 10);
    assert_int_equal(rec.times[3], 25);
    assert_int_equal(sim_evq_executed(q), 4);
    assert_int_equal(sim_evq_now(q), 25);
    sim_evq_free(q);
}

static void test_cancel(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    recorder rec = {0};
    uint64_t h1, h2, h3;
    assert_int_equal(sim_evq_at(q, 10, record_fn, &rec, id_arg(1), &h1), SIM_OK);
    assert_int_equal(sim_evq_at(q, 20, record_fn, &rec, id_arg(2), &h2), SIM_OK);
    assert_int_equal(sim_evq_at(q, 30, record_fn, &rec, id_arg(3), &h3), SIM_OK);
    assert_true(h1 != h2 && h2 != h3 && h1 != h3);
    /* Cancelling pending event 2: 1, and 2 pending remain; cancelling it again: 0. */
    assert_int_equal(sim_evq_cancel(q, h2), 1);
    assert_int_equal(sim_evq_size(q), 2);
    assert_int_equal(sim_evq_cancel(q, h2), 0);
    assert_int_equal(sim_evq_size(q), 2);
    /* Event 1 runs; cancelling it afterwards: 0. */
    assert_int_equal(sim_evq_step(q), 1);
    assert_int_equal(sim_evq_cancel(q, h1), 0);
    /* Event 4 probably reuses event 1's slot; event 1's handle still cancels nothing. */
    uint64_t h4;
    assert_int_equal(sim_evq_at(q, 40, record_fn, &rec, id_arg(4), &h4), SIM_OK);
    assert_true(h4 != h1 && h4 != h2 && h4 != h3);
    assert_int_equal(sim_evq_cancel(q, h1), 0);
    assert_int_equal(sim_evq_cancel(q, h2), 0);
    /* Handles never issued: 0. */
    assert_int_equal(sim_evq_cancel(q, 0), 0);
    assert_int_equal(sim_evq_cancel(q, UINT64_MAX), 0);
    assert_int_equal(sim_evq_cancel(q, (h3 & 0xffffffffu) | (UINT64_C(77) << 32)), 0);
    assert_int_equal(sim_evq_size(q), 2);
    while (sim_evq_step(q))
        ;
    /* Expected runs: 1 at 10, 3 at 30, 4 at 40; event 2 never ran. Executed: 3. */
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 3);
    assert_int_equal(rec.ids[2], 4);
    assert_int_equal(rec.times[1], 30);
    assert_int_equal(sim_evq_executed(q), 3);
    assert_int_equal(sim_evq_cancel(q, h3), 0);
    assert_int_equal(sim_evq_cancel(q, h4), 0);
    /* Nothing is pending, so no value at all cancels anything: try neighbours of the issued
     * handles too (with this queue's encoding, the generations after theirs). */
    const uint64_t issued[] = {h1, h2, h3, h4};
    for (size_t i = 0; i < 4; i++)
        for (uint64_t d = 1; d <= 3; d++) {
            assert_int_equal(sim_evq_cancel(q, issued[i] + (d << 32)), 0);
            assert_int_equal(sim_evq_cancel(q, issued[i] + d), 0);
        }
    assert_int_equal(sim_evq_size(q), 0);
    sim_evq_free(q);
}

static void test_cancel_everything(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    /* Three events at 50, 60, 70, all cancelled: the queue pops nothing and now stays 0;
     * afterwards an event at 5 (< 50) may still be scheduled and pops. */
    uint64_t h[3];
    for (int i = 0; i < 3; i++)
        h[i] = at_ok(q, 50 + 10 * i, (uintptr_t)i);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sim_evq_cancel(q, h[i]), 1);
    assert_int_equal(sim_evq_size(q), 0);
    expect_empty(q);
    assert_int_equal(sim_evq_now(q), 0);
    at_ok(q, 5, 9);
    expect_pop(q, 5, 9);
    expect_empty(q);
    assert_int_equal(sim_evq_executed(q), 1);
    sim_evq_free(q);
}

static void test_schedule_in_past(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    at_ok(q, 100, 1);
    at_ok(q, 200, 2);
    expect_pop(q, 100, 1);
    /* now = 100: time 99 is in the past: SIM_EUSAGE, handle untouched, 1 still pending. */
    uint64_t h = 4242;
    assert_int_equal(sim_evq_at(q, 99, noop_fn, NULL, NULL, &h), SIM_EUSAGE);
    assert_int_equal(h, 4242);
    assert_int_equal(sim_evq_at(q, -1, noop_fn, NULL, NULL, &h), SIM_EUSAGE);
    assert_int_equal(sim_evq_size(q), 1);
    /* Time == now is allowed, and runs before the event at 200. */
    at_ok(q, 100, 3);
    expect_pop(q, 100, 3);
    expect_pop(q, 200, 2);
    expect_empty(q);
    sim_evq_free(q);
}

static void test_size_counts_pending(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    uint64_t h[10];
    for (int i = 0; i < 10; i++)
        h[i] = at_ok(q, 1000 - i, (uintptr_t)i);
    assert_int_equal(sim_evq_size(q), 10);
    /* Cancel ids 0, 4, 9 (times 1000, 996, 991): 7 pending. */
    assert_int_equal(sim_evq_cancel(q, h[0]), 1);
    assert_int_equal(sim_evq_cancel(q, h[4]), 1);
    assert_int_equal(sim_evq_cancel(q, h[9]), 1);
    assert_int_equal(sim_evq_size(q), 7);
    /* Pop two: the earliest live are id 8 (992) and id 7 (993); 5 pending, 2 executed. */
    expect_pop(q, 992, 8);
    expect_pop(q, 993, 7);
    assert_int_equal(sim_evq_size(q), 5);
    assert_int_equal(sim_evq_executed(q), 2);
    sim_evq_free(q);
}

static void test_extreme_times(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    ref_q r = {0};
    /* Times spanning every level of the radix, including 0 and SIM_TIME_MAX. */
    const sim_time ts[] = {SIM_TIME_MAX, 0, 1, SIM_TIME_MAX - 1, (sim_time)1 << 62,
                           15, 16, 255, 256, ((sim_time)1 << 62) - 1, 17, 0, SIM_TIME_MAX};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        both_at(q, &r, ts[i], i);
    drain_and_compare(q, &r);
    assert_int_equal(sim_evq_now(q), SIM_TIME_MAX);
    /* At the end of time only the end of time can still be scheduled. */
    at_ok(q, SIM_TIME_MAX, 99);
    expect_pop(q, SIM_TIME_MAX, 99);
    ref_free(&r);
    sim_evq_free(q);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_handles_unique(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    enum { N = 20000 };
    uint64_t *h = malloc(N * sizeof *h);
    assert_non_null(h);
    /* One event pending at a time, 20000 times: the slot is reused every time, yet all
     * 20000 handles differ and none of the old ones cancels the pending event. */
    for (int i = 0; i < N; i++) {
        h[i] = at_ok(q, i, (uintptr_t)i);
        if (i > 0)
            assert_int_equal(sim_evq_cancel(q, h[i - 1]), 0);
        expect_pop(q, i, (uintptr_t)i);
    }
    qsort(h, N, sizeof *h, cmp_u64);
    for (int i = 1; i < N; i++)
        assert_true(h[i] != h[i - 1]);
    free(h);
    sim_evq_free(q);
}

/* Spreads entries over every bucket the queue has (every base-16 digit of every level, as
 * seen from the current time), several chunks' worth in some, then drains; repeated from
 * several base times. Checks order and that pops never run out of chunks (an assertion in
 * the queue). */
static void test_every_bucket(void **state)
{
    (void)state;
    sim_evq *q = new_queue();
    ref_q r = {0};
    uintptr_t id = 0;
    for (int round = 0; round < 4; round++) {
        sim_time now = sim_evq_now(q);
        for (unsigned l = 0; l < 16; l++) {
            for (uint64_t d = 1; d < 16; d++) {
                uint64_t off = d << (4 * l);
                if (off > (uint64_t)(SIM_TIME_MAX - now) / 2)
                    continue;
                int copies = (l + d) % 5 == 0 ? 300 : 1 + (int)(d % 3);
                for (int c = 0; c < copies; c++)
                    both_at(q, &r, now + (sim_time)off + c % 2, id++);
            }
        }
        both_at(q, &r, now, id++);
        /* Pop half, refill near the front, then drain all but a few far ones. */
        size_t half = ref_size(&r) / 2;
        for (size_t i = 0; i < half; i++) {
            ref_ev want = {0};
            assert_true(ref_pop(&r, &want));
            expect_pop(q, want.t, want.id);
            if (i % 7 == 0)
                both_at(q, &r, want.t + (sim_time)(i % 40), id++);
        }
        while (ref_size(&r) > 3) {
            ref_ev want = {0};
            assert_true(ref_pop(&r, &want));
            expect_pop(q, want.t, want.id);
        }
    }
    drain_and_compare(q, &r);
    ref_free(&r);
    sim_evq_free(q);
}

/* Many cancels force the in-place compaction, including on a front bucket that has been
 * partly popped; order and FIFO must survive it. */
static void test_compaction(void **state)
{
    (void)state;
    uint64_t rng = 7;
    sim_evq *q = new_queue();
    ref_q r = {0};
    enum { N_TIE = 3000, N_FAR = 12000 };
    uint64_t *far = malloc(N_FAR * sizeof *far);
    uint64_t *tie = malloc(N_TIE * sizeof *tie);
    assert_non_null(far);
    assert_non_null(tie);
    for (uintptr_t i = 0; i < N_TIE; i++)
        tie[i] = both_at(q, &r, 100, i);
    at_ok(q, 50, 999999);
    expect_pop(q, 50, 999999);
    for (int i = 0; i < 10; i++) { /* the bucket of time 100 is now partly popped */
        ref_ev want = {0};
        assert_true(ref_pop(&r, &want));
        expect_pop(q, want.t, want.id);
    }
    for (uintptr_t i = 0; i < N_FAR; i++)
        far[i] = both_at(q, &r, 100 + (sim_time)below(&rng, 1u << 24), N_TIE + i);
    /* Cancel every other tie and 11000 of the far events, in random order. */
    for (int i = 10; i < N_TIE; i += 2) {
        assert_int_equal(sim_evq_cancel(q, tie[i]), 1);
        assert_true(ref_cancel(&r, tie[i]));
    }
    for (int i = N_FAR - 1; i > 0; i--) { /* shuffle */
        int j = (int)below(&rng, (uint64_t)i + 1);
        uint64_t x = far[i];
        far[i] = far[j];
        far[j] = x;
    }
    for (int i = 0; i < 11000; i++) {
        assert_int_equal(sim_evq_cancel(q, far[i]), 1);
        assert_true(ref_cancel(&r, far[i]));
        assert_int_equal(sim_evq_size(q), ref_size(&r));
    }
    /* Expected pending: 1495 ties (ids 11, 13, ..., 2999) + 1000 far = 2495. */
    assert_int_equal(sim_evq_size(q), 2495);
    for (int i = 0; i < 11000; i++)
        assert_int_equal(sim_evq_cancel(q, far[i]), 0);
    /* More events at 100 go after the surviving ties. */
    for (uintptr_t i = 0; i < 200; i++)
        both_at(q, &r, 100, 100000 + i);
    drain_and_compare(q, &r);
    free(far);
    free(tie);
    ref_free(&r);
    sim_evq_free(q);
}

/* Random inserts, pops and cancels against the reference, in phases that grow, churn and
 * shrink the queue. Time offsets mix ties with now, ties with pending events (scheduled
 * while the base was elsewhere), small, medium and large distances. */
static void random_run(uint64_t seed, long n_ops)
{
    uint64_t rng = seed;
    sim_evq *q = new_queue();
    ref_q r = {0};
    size_t n_handles = 0, cap_handles = 1024;
    uint64_t *handles = malloc(cap_handles * sizeof *handles);
    assert_non_null(handles);
    uintptr_t next_id = 0;
    uint64_t pops = 0;

    for (long op = 0; op < n_ops; op++) {
        unsigned phase = (unsigned)(op / 5000 % 3); /* 0: grow, 1: churn, 2: shrink */
        unsigned p_insert = phase == 0 ? 60 : phase == 1 ? 40 : 25;
        unsigned p_pop = phase == 0 ? 25 : phase == 1 ? 40 : 55;
        unsigned dice = (unsigned)below(&rng, 100);
        sim_time now = sim_evq_now(q);
        if (dice < p_insert) {
            sim_time dt;
            unsigned kind = (unsigned)below(&rng, 100);
            if (kind < 15)
                dt = 0;
            else if (kind < 35)
                dt = (sim_time)below(&rng, 32);
            else if (kind < 55 && ref_size(&r) > 0) /* tie with a pending event */
                dt = r.v[r.head + below(&rng, ref_size(&r))].t - now;
            else if (kind < 80)
                dt = (sim_time)below(&rng, 1u << 20);
            else if (kind < 97)
                dt = (sim_time)below(&rng, UINT64_C(1) << 40);
            else
                dt = (sim_time)below(&rng, UINT64_C(1) << 52);
            uint64_t h = both_at(q, &r, now + dt, next_id++);
            if (n_handles == cap_handles) {
                cap_handles *= 2;
                handles = realloc(handles, cap_handles * sizeof *handles);
                assert_non_null(handles);
            }
            handles[n_handles++] = h;
        } else if (dice < p_insert + p_pop) {
            ref_ev want = {0};
            int have = ref_pop(&r, &want);
            if (below(&rng, 2)) {
                sim_time t;
                sim_event_fn *fn;
                void *self, *arg;
                assert_int_equal(sim_evq_pop(q, &t, &fn, &self, &arg), have);
                if (have) {
                    assert_int_equal(t, want.t);
                    assert_int_equal((uintptr_t)arg, want.id);
                    assert_ptr_equal(fn, note_fn);
                }
            } else {
                sim_time before = sim_evq_now(q);
                noted_id = UINTPTR_MAX;
                assert_int_equal(sim_evq_step(q), have);
                if (have)
                    assert_int_equal(noted_id, want.id);
                else
                    assert_int_equal(sim_evq_now(q), before);
            }
            if (have) {
                pops++;
                assert_int_equal(sim_evq_now(q), want.t);
            }
        } else if (n_handles > 0) {
            /* Cancel: mostly recent handles (likely pending), sometimes any. */
            size_t i = below(&rng, 4) ? n_handles - 1 - below(&rng, n_handles < 64 ? n_handles
                                                                                 : 64)
                                      : below(&rng, n_handles);
            int want = ref_cancel(&r, handles[i]);
            assert_int_equal(sim_evq_cancel(q, handles[i]), want);
        }
        assert_int_equal(sim_evq_size(q), ref_size(&r));
        assert_int_equal(sim_evq_executed(q), pops);
    }
    drain_and_compare(q, &r);
    free(handles);
    ref_free(&r);
    sim_evq_free(q);
}

static void test_random_against_reference(void **state)
{
    (void)state;
    /* Expected: every pop, size and now equal the reference's, over 4 seeds x 60000 ops. */
    random_run(1, 60000);
    random_run(2, 60000);
    random_run(UINT64_C(0xdeadbeef), 60000);
    random_run(42, 60000);
}

/* The HOLD pattern itself (pop one, schedule one later): 2000 pending, 50000 holds.
 * Expected: every pop equals the reference's (time and id). */
static void test_hold_against_reference(void **state)
{
    (void)state;
    uint64_t rng = 99;
    sim_evq *q = new_queue();
    ref_q r = {0};
    uintptr_t id = 0;
    for (int i = 0; i < 2000; i++)
        both_at(q, &r, (sim_time)below(&rng, 100000), id++);
    for (int i = 0; i < 50000; i++) {
        ref_ev want = {0};
        assert_true(ref_pop(&r, &want));
        expect_pop(q, want.t, want.id);
        both_at(q, &r, want.t + (sim_time)below(&rng, 100000), id++);
    }
    drain_and_compare(q, &r);
    ref_free(&r);
    sim_evq_free(q);
}

static void test_new_out_of_memory(void **state)
{
    (void)state;
    sim_evq *q = (sim_evq *)&q; /* sentinel */
    sim_alloc_fail_after(0);
    sim_status st = sim_evq_new(&q);
    sim_alloc_fail_after(-1);
    /* Expected: SIM_ENOMEM and the out-parameter untouched. */
    assert_int_equal(st, SIM_ENOMEM);
    assert_ptr_equal(q, (sim_evq *)&q);
}

/* Allocation n fails, for n = 0, 1, 2, ... until a whole batch of inserts succeeds. Each
 * failing insert returns SIM_ENOMEM and leaves the queue as it was: the same size, and
 * afterwards it pops exactly the reference's events in the reference's order. */
static void schedule_out_of_memory(int n_pre)
{
    enum { N_BATCH = 6000 };
    int completed = 0;
    for (long n = 0; !completed; n++) {
        assert_true(n < 1000);
        uint64_t rng = 5;
        sim_evq *q = new_queue();
        ref_q r = {0};
        uintptr_t id = 0;
        for (int i = 0; i < n_pre; i++)
            both_at(q, &r, (sim_time)below(&rng, 1u << 20), id++);
        for (int i = 0; i < n_pre / 3; i++) {
            ref_ev want = {0};
            assert_true(ref_pop(&r, &want));
            expect_pop(q, want.t, want.id);
        }
        sim_time now = sim_evq_now(q);
        sim_alloc_fail_after(n);
        sim_status st = SIM_OK;
        int i;
        for (i = 0; i < N_BATCH; i++) {
            sim_time t = now + (sim_time)below(&rng, 1u << 22);
            uint64_t h = 0xabcdef;
            st = sim_evq_at(q, t, note_fn, NULL, id_arg(id), &h);
            if (st != SIM_OK) {
                assert_int_equal(h, 0xabcdef);
                break;
            }
            ref_push(&r, t, h, id++);
        }
        sim_alloc_fail_after(-1);
        if (i == N_BATCH) {
            completed = 1;
        } else {
            assert_int_equal(st, SIM_ENOMEM);
        }
        assert_int_equal(sim_evq_size(q), ref_size(&r));
        assert_int_equal(sim_evq_now(q), now);
        /* Still usable: more inserts (ties included), then everything in order. */
        for (int j = 0; j < 100; j++)
            both_at(q, &r, now + (sim_time)below(&rng, 64), id++);
        drain_and_compare(q, &r);
        ref_free(&r);
        sim_evq_free(q);
    }
}

static void test_schedule_out_of_memory(void **state)
{
    (void)state;
    schedule_out_of_memory(0);   /* failures while the queue takes its first memory */
    schedule_out_of_memory(300); /* failures while it grows (300 in, 100 popped) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_empty_queue),
        cmocka_unit_test(test_basic_order),
        cmocka_unit_test(test_fifo_equal_times),
        cmocka_unit_test(test_fifo_ties_across_bases),
        cmocka_unit_test(test_step_runs_callbacks),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_everything),
        cmocka_unit_test(test_schedule_in_past),
        cmocka_unit_test(test_size_counts_pending),
        cmocka_unit_test(test_extreme_times),
        cmocka_unit_test(test_handles_unique),
        cmocka_unit_test(test_every_bucket),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_hold_against_reference),
        cmocka_unit_test(test_new_out_of_memory),
        cmocka_unit_test(test_schedule_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
