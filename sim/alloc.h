/* sim/alloc.h: the one allocator every moesim module uses.
 *
 * Wrappers over malloc/calloc/realloc/free that tests can make fail on demand
 * (sim_alloc_fail_after), so every error path can be shown to free what it took.
 * sim_free(NULL) does nothing. */
#ifndef SIM_ALLOC_H
#define SIM_ALLOC_H

#include <stddef.h>

void *sim_malloc(size_t n);
void *sim_calloc(size_t count, size_t size);
void *sim_realloc(void *p, size_t n);           /* overflow-safe growth: see sim_grow */
void sim_free(void *p);

/* Grows *buf (holding *cap elements of size elem) to at least need elements,
 * doubling. Returns 0 on success, -1 (buffer untouched) when out of memory. */
int sim_grow(void **buf, size_t *cap, size_t need, size_t elem);

/* Testing: after n more successful allocations, every allocation fails.
 * n < 0 turns failure injection off (the default). */
void sim_alloc_fail_after(long n);

#endif
