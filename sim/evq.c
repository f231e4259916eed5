/* sim/evq.c: the event queue, a radix heap (base 16) over chunked buckets.
 *
 * Why a radix heap: times never go below the time of the event last popped (the queue is
 * monotone), and at a million pending events a comparison heap pays a cache miss on every
 * level of every sift. A radix heap instead moves each entry down through a few buckets in
 * sequential passes, and touches an event's payload only when the event is scheduled and
 * when it is popped.
 *
 * Entries. An entry is 16 bytes: {time, slot, gen}. The payload (fn, self, arg) lives in a
 * node array indexed by slot, with a LIFO free list (a hold loop reuses the slot it just
 * freed, still in cache). A handle is gen << 32 | slot.
 *
 * Buckets. Let `last` be the time of the event last popped (the radix base; last == now
 * between calls) and x = t ^ last for an entry at time t. The entry sits in level
 * l = floor(log2(x | 1) / 4), the base-16 digit where t first differs from last, and in
 * that level in digit d = (t >> 4l) & 15: bucket 16 l + d. Every entry of a level-l bucket
 * shares with last all digits above l, so buckets in index order hold ever later times.
 * Level 0 needs no further sorting: bucket (0, d) holds only time (last & ~15) | d, and
 * bucket (0, last & 15) holds exactly the events at time last. A 256-bit mask marks the
 * non-empty buckets.
 *
 * Pop. Take the lowest non-empty bucket. If it is in level 0, its time is known: set last to
 * it and pop its front. Otherwise set last to the bucket's minimum (tracked on every
 * append) and append its entries, in order, to the buckets they now belong to, all in lower
 * levels (they share with the new last the digit of the old level too); then look again.
 * Each entry moves about once per level it starts above, at most 15 times; in a hold model
 * with 10^6 ps mean delays that is about 4 moves per event.
 *
 * First in, first out. Entries with equal times always sit in the same bucket (the bucket
 * is a function of time and last), appends keep order, and a redistribution writes into
 * buckets that are empty (they are below the lowest non-empty one), in read order. So
 * events at equal times pop in the order they were scheduled, whatever `last` was when
 * each was scheduled.
 *
 * Memory. A bucket is a singly linked list of chunks of CHUNK_CAP entries. Chunks come from
 * slabs of SLAB_CHUNKS and circulate through a LIFO pool, so the chunk a redistribution has
 * just read is the one it next writes, still in cache. A bucket keeps its last chunk when
 * it empties, so a bucket that refills (most do, within a few events) takes nothing from the
 * pool. Pops never allocate: sim_evq_at first makes sure the queue owns enough chunks for
 * every entry in the worst case (see chunks_needed), so any sequence of pops finds a free
 * chunk whenever it needs one. The price is a fixed floor: once anything is scheduled the
 * queue owns at least 5 slabs (640 KB), about one chunk per bucket; beyond that, memory
 * is about 16 bytes per entry plus 32 per node, and it is kept until sim_evq_free.
 *
 * Prefetching. At a million pending events the node array is 32 MB and popping an event
 * would miss the cache on its node. When a redistribution sends an entry to a bucket
 * expected to hold at most PF_NEAR entries (estimated from the source bucket's count, the
 * times inside a bucket being roughly uniform), that entry will pop soon, and its node is
 * prefetched.
 *
 * Cancel is lazy: it moves the node to the next generation and frees the slot; the entry
 * stays in its bucket and is dropped when it is popped (its gen no longer matches the
 * node's). When stale entries outnumber live ones (and are at least COMPACT_MIN), every
 * bucket is filtered in place, keeping order, so memory stays O(pending).
 *
 * Handles are never reused: a slot's generation starts at 1 and grows by one each time the
 * slot is freed, and a slot whose generation would wrap past 2^32 - 1 is retired (never
 * used again: 32 bytes lost per 2^32 events through one slot). Handle 0 is never issued.
 * At most 2^32 - 1 events can be pending at once (SIM_ENOMEM beyond).
 *
 * Errors: sim_evq_at reserves a node and chunks before it changes anything, so SIM_ENOMEM
 * leaves the queue as it was (perhaps with spare capacity).
 *
 * Ownership: the queue owns nodes, slabs and chunks; the caller owns what self and arg
 * point to. */
#include "sim/evq.h"

#include <assert.h>
#include <stdbool.h>

#include "sim/alloc.h"

#define RADIX_BITS 4
#define RADIX (1u << RADIX_BITS)
#define N_LEVELS (64 / RADIX_BITS) /* times are >= 0: bit 63 never differs */
#define N_BUCKETS (N_LEVELS * RADIX)
#define N_MASK_WORDS (N_BUCKETS / 64)
#define CHUNK_CAP 127   /* entries per chunk: 16-byte header + 127 * 16 = 2048 bytes */
#define SLAB_CHUNKS 64  /* chunks per allocation */
#define PF_NEAR 32      /* prefetch nodes of entries sent to buckets expected this small */
#define COMPACT_MIN 4096
#define NO_SLOT UINT32_MAX

typedef struct sim_evq_entry {
    sim_time t;
    uint32_t slot;
    uint32_t gen;
} sim_evq_entry;

typedef struct sim_evq_chunk {
    struct sim_evq_chunk *next; /* next chunk of the bucket (NULL at the tail) or pool */
    uint64_t pad;
    sim_evq_entry e[CHUNK_CAP];
} sim_evq_chunk;

typedef struct sim_evq_slab {
    struct sim_evq_slab *next;
    uint64_t pad;
    sim_evq_chunk chunk[SLAB_CHUNKS];
} sim_evq_slab;

/* Entries run from rp (in head) to wp (in tail); every chunk but the tail is full. Only
 * level-0 buckets are popped from the front; in others rp stays at head->e. A bucket with
 * no chunk has all pointers NULL; an empty one may keep one chunk (rp == wp == head->e). */
typedef struct sim_evq_bucket {
    sim_evq_entry *wp;   /* where the next entry goes */
    sim_evq_entry *wend; /* end of the tail chunk */
    sim_time min;        /* <= every time in the bucket (SIM_TIME_MAX when empty) */
    sim_evq_entry *rp;   /* first entry */
    sim_evq_chunk *head, *tail;
    size_t n_chunks;
    uint64_t pad;
} sim_evq_bucket;

typedef struct sim_evq_node {
    sim_event_fn *fn; /* NULL while the slot is free (or retired) */
    void *self;
    void *arg;
    uint32_t gen;       /* generation of the current (or next) occupant; 0: retired */
    uint32_t next_free; /* free list link */
} sim_evq_node;

struct sim_evq {
    sim_time now;  /* time of the event last popped */
    sim_time last; /* radix base: == now between calls */
    uint64_t mask[N_MASK_WORDS]; /* bit b set iff bucket b holds entries */

    sim_evq_node *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t free_slot; /* head of the node free list, NO_SLOT if none */

    sim_evq_chunk *pool; /* free chunks, LIFO */
    sim_evq_slab *slabs;
    size_t n_chunks; /* owned, in buckets or in the pool */

    size_t n_live;  /* pending, not cancelled */
    size_t n_stale; /* cancelled entries still in buckets */
    uint64_t executed;

    sim_evq_bucket bk[N_BUCKETS];
};

static inline unsigned bucket_of(sim_time t, sim_time last)
{
    uint64_t x = (uint64_t)t ^ (uint64_t)last;
    unsigned l = (unsigned)(63 - __builtin_clzll(x | 1)) / RADIX_BITS;
    unsigned d = (unsigned)((uint64_t)t >> (l * RADIX_BITS)) & (RADIX - 1);
    return l * RADIX + d;
}

/* Chunks the queue must own so that pops never run out, with n_entries in buckets: a
 * level >= 1 bucket of n entries uses ceil(n / C) chunks (all full but the tail), or one
 * when empty; a level-0 bucket may also have a partly consumed head (< 1 chunk more each);
 * a redistribution in progress uses at most one chunk beyond these bounds. */
static inline size_t chunks_needed(size_t n_entries)
{
    return n_entries / CHUNK_CAP + N_BUCKETS + RADIX + 4;
}

static inline sim_evq_chunk *pool_take(sim_evq *q)
{
    sim_evq_chunk *c = q->pool;
    assert(c != NULL);
    q->pool = c->next;
    return c;
}

static inline void pool_put(sim_evq *q, sim_evq_chunk *c)
{
    c->next = q->pool;
    q->pool = c;
}

/* The bucket's tail is full, or it has no chunk: gives it a new tail. */
static void bucket_add_chunk(sim_evq *q, unsigned b)
{
    sim_evq_bucket *k = &q->bk[b];
    sim_evq_chunk *c = pool_take(q);
    c->next = NULL;
    if (k->head) {
        k->tail->next = c;
    } else {
        k->head = c;
        k->rp = c->e;
    }
    k->tail = c;
    k->wp = c->e;
    k->wend = c->e + CHUNK_CAP;
    k->n_chunks++;
}

static inline void bucket_push(sim_evq *q, unsigned b, sim_evq_entry e)
{
    sim_evq_bucket *k = &q->bk[b];
    if (__builtin_expect(k->wp == k->wend, 0))
        bucket_add_chunk(q, b);
    *k->wp++ = e;
    k->min = e.t < k->min ? e.t : k->min;
    q->mask[b / 64] |= UINT64_C(1) << (b % 64);
}

/* Empties bucket b, keeping chunk c (NULL: none) for its next entries. */
static inline void bucket_clear(sim_evq *q, unsigned b, sim_evq_chunk *c)
{
    sim_evq_bucket *k = &q->bk[b];
    k->head = k->tail = c;
    if (c) {
        c->next = NULL;
        k->rp = k->wp = c->e;
        k->wend = c->e + CHUNK_CAP;
        k->n_chunks = 1;
    } else {
        k->rp = k->wp = k->wend = NULL;
        k->n_chunks = 0;
    }
    k->min = SIM_TIME_MAX;
    q->mask[b / 64] &= ~(UINT64_C(1) << (b % 64));
}

static inline int lowest_bucket(const sim_evq *q)
{
    for (unsigned w = 0; w < N_MASK_WORDS; w++)
        if (q->mask[w])
            return (int)(w * 64 + (unsigned)__builtin_ctzll(q->mask[w]));
    return -1;
}

/* Bucket b, in level >= 1, is the lowest non-empty one: sets last to its minimum and moves
 * its entries, in order, to lower levels. Kept out of line so that the common pop (from
 * level 0) stays small: measured 8% more holds per second at 10^4 pending. */
__attribute__((noinline)) static void redistribute(sim_evq *q, unsigned b)
{
    sim_evq_bucket *k = &q->bk[b];
    sim_evq_chunk *c = k->head, *tail = k->tail;
    sim_evq_entry *tail_end = k->wp;
    sim_time m = k->min;
    size_t n = (k->n_chunks - 1) * CHUNK_CAP + (size_t)(tail_end - tail->e);
    unsigned l = b / RADIX;
    assert(l >= 1 && k->rp == c->e && m >= q->last);

    /* Levels below l split the source range 16 ways each; buckets below pf_limit are
     * expected to receive at most PF_NEAR entries. */
    unsigned pf_limit = 0;
    for (unsigned j = l; j-- > 0;) {
        if ((n >> (RADIX_BITS * (l - j))) <= PF_NEAR) {
            pf_limit = (j + 1) * RADIX;
            break;
        }
    }

    bucket_clear(q, b, tail); /* keeps the tail; nothing is written to b below */
    q->last = m;
    for (;;) {
        bool is_tail = c == tail;
        sim_evq_chunk *next = is_tail ? NULL : c->next;
        sim_evq_entry *end = is_tail ? tail_end : c->e + CHUNK_CAP;
        if (next)
            __builtin_prefetch(next);
        for (sim_evq_entry *p = c->e; p < end; p++) {
            sim_evq_entry e = *p;
            unsigned nb = bucket_of(e.t, m);
            assert(nb / RADIX < l);
            if (nb < pf_limit)
                __builtin_prefetch(&q->nodes[e.slot]);
            bucket_push(q, nb, e);
        }
        if (is_tail)
            break;
        pool_put(q, c);
        c = next;
    }
}

/* Frees a slot: its generation moves on (so handles and entries naming it go stale) and it
 * goes on the free list, unless the generation wrapped, which retires it for good. */
static inline void release_slot(sim_evq *q, uint32_t slot)
{
    sim_evq_node *nd = &q->nodes[slot];
    nd->fn = NULL;
    if (++nd->gen == 0)
        return;
    nd->next_free = q->free_slot;
    q->free_slot = slot;
}

/* Drops stale entries from every bucket, keeping order; returns emptied chunks. */
static void compact(sim_evq *q)
{
    for (unsigned b = 0; b < N_BUCKETS; b++) {
        if (!(q->mask[b / 64] >> (b % 64) & 1))
            continue;
        sim_evq_bucket *k = &q->bk[b];
        sim_evq_chunk *tail = k->tail, *wc = k->head;
        sim_evq_entry *tail_end = k->wp, *w = k->rp, *r = k->rp;
        sim_time min = SIM_TIME_MAX;
        size_t kept = 0, n_chunks = 1;
        for (sim_evq_chunk *rc = k->head;; rc = rc->next, r = rc->e) {
            sim_evq_entry *end = rc == tail ? tail_end : rc->e + CHUNK_CAP;
            for (; r < end; r++) {
                sim_evq_entry e = *r;
                if (q->nodes[e.slot].gen != e.gen)
                    continue;
                if (w == wc->e + CHUNK_CAP) { /* wc is behind rc, already read */
                    wc = wc->next;
                    w = wc->e;
                    n_chunks++;
                }
                *w++ = e;
                min = e.t < min ? e.t : min;
                kept++;
            }
            if (rc == tail)
                break;
        }
        for (sim_evq_chunk *c = wc == tail ? NULL : wc->next; c;) {
            sim_evq_chunk *next = c == tail ? NULL : c->next;
            pool_put(q, c);
            c = next;
        }
        if (!kept) {
            bucket_clear(q, b, k->head);
            continue;
        }
        wc->next = NULL;
        k->tail = wc;
        k->wp = w;
        k->wend = wc->e + CHUNK_CAP;
        k->min = min;
        k->n_chunks = n_chunks;
    }
    q->n_stale = 0;
}

sim_status sim_evq_new(sim_evq **out)
{
    assert(out != NULL);
    sim_evq *q = sim_calloc(1, sizeof *q);
    if (!q)
        return SIM_ENOMEM;
    q->free_slot = NO_SLOT;
    for (unsigned b = 0; b < N_BUCKETS; b++)
        q->bk[b].min = SIM_TIME_MAX;
    *out = q;
    return SIM_OK;
}

void sim_evq_free(sim_evq *q)
{
    if (!q)
        return;
    while (q->slabs) {
        sim_evq_slab *next = q->slabs->next;
        sim_free(q->slabs);
        q->slabs = next;
    }
    sim_free(q->nodes);
    sim_free(q);
}

/* Makes sure a slot is free and enough chunks are owned for one more entry. Changes
 * nothing a caller can observe (capacity aside). */
static sim_status reserve(sim_evq *q)
{
    if (q->free_slot == NO_SLOT && q->n_nodes == q->cap_nodes) {
        if (q->n_nodes >= NO_SLOT)
            return SIM_ENOMEM; /* handles have 32 bits of slot */
        void *buf = q->nodes;
        if (sim_grow(&buf, &q->cap_nodes, q->n_nodes + 1, sizeof *q->nodes) != 0)
            return SIM_ENOMEM;
        q->nodes = buf;
    }
    while (q->n_chunks < chunks_needed(q->n_live + q->n_stale + 1)) {
        sim_evq_slab *s = sim_malloc(sizeof *s);
        if (!s)
            return SIM_ENOMEM;
        s->next = q->slabs;
        q->slabs = s;
        for (unsigned i = SLAB_CHUNKS; i-- > 0;)
            pool_put(q, &s->chunk[i]);
        q->n_chunks += SLAB_CHUNKS;
    }
    return SIM_OK;
}

sim_status sim_evq_at(sim_evq *q, sim_time t, sim_event_fn *fn, void *self, void *arg,
                      uint64_t *handle)
{
    assert(q != NULL && fn != NULL);
    if (t < q->now)
        return SIM_EUSAGE;
    if (q->free_slot == NO_SLOT || q->n_chunks < chunks_needed(q->n_live + q->n_stale + 1)) {
        sim_status st = reserve(q);
        if (st != SIM_OK)
            return st;
    }
    uint32_t slot = q->free_slot;
    if (slot != NO_SLOT) {
        q->free_slot = q->nodes[slot].next_free;
    } else {
        slot = (uint32_t)q->n_nodes++;
        q->nodes[slot].gen = 1;
    }
    sim_evq_node *nd = &q->nodes[slot];
    nd->fn = fn;
    nd->self = self;
    nd->arg = arg;
    sim_evq_entry e = {t, slot, nd->gen};
    bucket_push(q, bucket_of(t, q->last), e);
    q->n_live++;
    if (handle)
        *handle = (uint64_t)nd->gen << 32 | slot;
    return SIM_OK;
}

int sim_evq_cancel(sim_evq *q, uint64_t handle)
{
    assert(q != NULL);
    uint32_t slot = (uint32_t)handle;
    uint32_t gen = (uint32_t)(handle >> 32);
    if (slot >= q->n_nodes)
        return 0;
    sim_evq_node *nd = &q->nodes[slot];
    if (nd->gen != gen || nd->fn == NULL)
        return 0;
    release_slot(q, slot);
    q->n_live--;
    q->n_stale++;
    if (q->n_stale >= COMPACT_MIN && q->n_stale > q->n_live)
        compact(q);
    return 1;
}

/* Each out-parameter may be NULL. */
int sim_evq_pop(sim_evq *q, sim_time *t, sim_event_fn **fn, void **self, void **arg)
{
    assert(q != NULL);
    for (;;) {
        int b = lowest_bucket(q);
        if (b < 0) {
            assert(q->n_live == 0 && q->n_stale == 0);
            q->last = q->now; /* only stale entries were left: bring the base back */
            return 0;
        }
        if (b >= (int)RADIX) {
            redistribute(q, (unsigned)b);
            continue;
        }
        sim_evq_bucket *k = &q->bk[b];
        q->last = (q->last & ~(sim_time)(RADIX - 1)) | b;
        sim_evq_entry e = *k->rp++;
        if (k->rp == k->wp) {
            bucket_clear(q, (unsigned)b, k->head); /* rp and wp met: head is the tail */
        } else if (k->rp == k->head->e + CHUNK_CAP) {
            sim_evq_chunk *c = k->head;
            k->head = c->next;
            k->rp = k->head->e;
            k->n_chunks--;
            pool_put(q, c);
        }
        sim_evq_node *nd = &q->nodes[e.slot];
        if (nd->gen != e.gen) {
            q->n_stale--;
            continue;
        }
        assert(e.t == q->last && e.t >= q->now);
        q->now = e.t;
        if (t)
            *t = e.t;
        if (fn)
            *fn = nd->fn;
        if (self)
            *self = nd->self;
        if (arg)
            *arg = nd->arg;
        release_slot(q, e.slot);
        q->n_live--;
        q->executed++;
        return 1;
    }
}

int sim_evq_step(sim_evq *q)
{
    sim_event_fn *fn;
    void *self, *arg;
    if (!sim_evq_pop(q, NULL, &fn, &self, &arg))
        return 0;
    fn(q, self, arg);
    return 1;
}

sim_time sim_evq_now(const sim_evq *q)
{
    assert(q != NULL);
    return q->now;
}

size_t sim_evq_size(const sim_evq *q)
{
    assert(q != NULL);
    return q->n_live;
}

uint64_t sim_evq_executed(const sim_evq *q)
{
    assert(q != NULL);
    return q->executed;
}
