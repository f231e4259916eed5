/* sim/evq.h: the event queue of the discrete-event engine.
 *
 * Events carry an integer time (picoseconds) and a callback. Events at equal times run in
 * the order they were scheduled (first in, first out). Times are monotone: an event may not
 * be scheduled before the time of the event last popped (SIM_EUSAGE otherwise).
 * Pending events can be cancelled through the handle returned when they were scheduled;
 * handles are never reused within one queue (a stale handle cancels nothing).
 *
 * Ownership: the queue owns its storage; the caller owns what `self` and `arg` point to.
 * Complexity: see evq.c (the layout, not the arithmetic, decides speed at 1M pending). */
#ifndef SIM_EVQ_H
#define SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"
#include "sim/time.h"

typedef struct sim_evq sim_evq;
typedef void sim_event_fn(sim_evq *q, void *self, void *arg);

sim_status sim_evq_new(sim_evq **out);
void sim_evq_free(sim_evq *q);                    /* NULL: no-op */

/* Schedules fn(q, self, arg) at time t >= sim_evq_now(q). *handle (if not NULL) receives a
 * handle for sim_evq_cancel. SIM_EUSAGE if t is in the past, SIM_ENOMEM on allocation
 * failure (queue unchanged). */
sim_status sim_evq_at(sim_evq *q, sim_time t, sim_event_fn *fn, void *self, void *arg,
                      uint64_t *handle);

/* Cancels a pending event: 1 if it was pending and is now cancelled, 0 otherwise. */
int sim_evq_cancel(sim_evq *q, uint64_t handle);

/* Pops the earliest pending event, advances now to its time and runs it.
 * Returns 1 if an event ran, 0 if the queue was empty. */
int sim_evq_step(sim_evq *q);

/* Lower-level pop for callers that dispatch themselves (and for the benchmark):
 * removes the earliest pending event, advances now, fills the out-parameters.
 * Returns 1, or 0 when empty (out-parameters untouched). */
int sim_evq_pop(sim_evq *q, sim_time *t, sim_event_fn **fn, void **self, void **arg);

sim_time sim_evq_now(const sim_evq *q);
size_t sim_evq_size(const sim_evq *q);            /* pending, not counting cancelled */
uint64_t sim_evq_executed(const sim_evq *q);      /* events popped so far */

#endif
