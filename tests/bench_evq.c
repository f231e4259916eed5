/* tests/bench_evq.c: the classic HOLD benchmark for the event queue.
 *
 * Prefills P pending events at now + Exp(mean), then repeats "pop the earliest, schedule a
 * new one at its time + Exp(mean)" (a hold) and reports holds per second, for P = 10,000
 * and P = 1,000,000, mean 10^6 ps. Variants: `pop` calls sim_evq_pop and reschedules in
 * the loop (no callback dispatch); `step` calls sim_evq_step, whose callback reschedules
 * itself (the way a model uses the queue). Exponentials are -log(u) * mean from a
 * splitmix64 stream, computed inside the timed loop (their cost alone is reported too).
 * `pop-predrawn` is `pop` with the increments drawn into an array before each timed
 * segment, the same stream in the same order: the queue's own cost, without the log().
 * After a warm-up of 3 P holds (at least 10^6), SEGMENTS segments of HOLDS holds each are
 * timed with CLOCK_MONOTONIC; the line gives the median segment rate and the range, since
 * a shared machine makes single timings noisy. The event sequence is deterministic: the
 * checksum line must not change between runs. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sim/evq.h"

#define MEAN_PS 1000000.0
#define HOLDS 5000000L
#define SEGMENTS 3

static uint64_t rng_state;

static inline uint64_t splitmix64(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Exp(MEAN_PS) in integer picoseconds; u in (0, 1]. */
static inline sim_time exp_ps(void)
{
    double u = (double)((splitmix64() >> 11) + 1) * 0x1.0p-53;
    return (sim_time)(-log(u) * MEAN_PS);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t checksum;

static void die(const char *what)
{
    fprintf(stderr, "bench_evq: %s\n", what);
    exit(1);
}

static void on_event(sim_evq *q, void *self, void *arg)
{
    (void)self;
    (void)arg;
    sim_time t = sim_evq_now(q);
    checksum += (uint64_t)t;
    if (sim_evq_at(q, t + exp_ps(), on_event, NULL, NULL, NULL) != SIM_OK)
        die("schedule failed");
}

static void holds_pop(sim_evq *q, long n)
{
    sim_time t;
    sim_event_fn *fn;
    void *self, *arg;
    for (long i = 0; i < n; i++) {
        if (!sim_evq_pop(q, &t, &fn, &self, &arg))
            die("queue ran empty");
        checksum += (uint64_t)t;
        if (sim_evq_at(q, t + exp_ps(), fn, self, arg, NULL) != SIM_OK)
            die("schedule failed");
    }
}

static sim_time *predrawn; /* HOLDS increments for the next segment */

static void draw_increments(void)
{
    for (long i = 0; i < HOLDS; i++)
        predrawn[i] = exp_ps();
}

static void holds_pop_predrawn(sim_evq *q, long n)
{
    sim_time t;
    sim_event_fn *fn;
    void *self, *arg;
    for (long i = 0; i < n; i++) {
        if (!sim_evq_pop(q, &t, &fn, &self, &arg))
            die("queue ran empty");
        checksum += (uint64_t)t;
        if (sim_evq_at(q, t + predrawn[i], fn, self, arg, NULL) != SIM_OK)
            die("schedule failed");
    }
}

static void holds_step(sim_evq *q, long n)
{
    for (long i = 0; i < n; i++)
        if (!sim_evq_step(q))
            die("queue ran empty");
}

static sim_evq *prefill(long pending)
{
    sim_evq *q;
    if (sim_evq_new(&q) != SIM_OK)
        die("out of memory");
    for (long i = 0; i < pending; i++)
        if (sim_evq_at(q, exp_ps(), on_event, NULL, NULL, NULL) != SIM_OK)
            die("schedule failed");
    return q;
}

enum variant { POP, STEP, POP_PREDRAWN };

static void run(long pending, enum variant v)
{
    static const char *const names[] = {"pop", "step", "pop-predrawn"};
    rng_state = UINT64_C(42);
    sim_evq *q = prefill(pending);
    long warm = 3 * pending > 1000000 ? 3 * pending : 1000000;
    if (v == STEP)
        holds_step(q, warm);
    else
        holds_pop(q, warm);
    double rate[SEGMENTS];
    for (int s = 0; s < SEGMENTS; s++) {
        if (v == POP_PREDRAWN)
            draw_increments();
        double t0 = now_s();
        if (v == STEP)
            holds_step(q, HOLDS);
        else if (v == POP)
            holds_pop(q, HOLDS);
        else
            holds_pop_predrawn(q, HOLDS);
        rate[s] = (double)HOLDS / (now_s() - t0) / 1e6;
    }
    if (sim_evq_size(q) != (size_t)pending)
        die("pending count drifted");
    for (int i = 1; i < SEGMENTS; i++) /* insertion sort, SEGMENTS is tiny */
        for (int j = i; j > 0 && rate[j] < rate[j - 1]; j--) {
            double x = rate[j];
            rate[j] = rate[j - 1];
            rate[j - 1] = x;
        }
    printf("evq hold: pending=%ld holds=%ld variant=%s rate=%.1f Mhold/s "
           "(%.1f ns/hold; median of %d, range %.1f-%.1f)\n",
           pending, HOLDS, names[v], rate[SEGMENTS / 2],
           1e3 / rate[SEGMENTS / 2], SEGMENTS, rate[0], rate[SEGMENTS - 1]);
    fflush(stdout);
    sim_evq_free(q);
}

static void run_rng_only(long n)
{
    rng_state = UINT64_C(42);
    sim_time acc = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++)
        acc += exp_ps();
    double dt = now_s() - t0;
    checksum += (uint64_t)acc;
    printf("evq hold: generator alone (splitmix64 + log) %.1f ns/draw, included in pop and step\n",
           dt / (double)n * 1e9);
}

int main(void)
{
    predrawn = malloc(HOLDS * sizeof *predrawn);
    if (!predrawn)
        die("out of memory");
    run(10000, POP);
    run(10000, STEP);
    run(10000, POP_PREDRAWN);
    run(1000000, POP);
    run(1000000, STEP);
    run(1000000, POP_PREDRAWN);
    run_rng_only(HOLDS);
    free(predrawn);
    printf("evq hold: checksum %" PRIu64 "\n", checksum);
    return 0;
}
