/* sim/net_flow.c: the flow-level network model: max-min fair sharing of link bandwidth.
 *
 * Each link is a constraint (capacity in bytes/s, one direction of a full-duplex wire),
 * each active flow a variable (its rate). The rates are max-min fair: computed by
 * progressive filling, every flow's rate is raised together until some link is full; the
 * flows through that link are frozen at its fair share, and so on with what is left.
 * (SimGrid's lmm solver does the same with all weights 1 and no bound per flow.)
 *
 * When rates change. A flow's bytes start moving when the engine calls flow_start (its
 * latency is already paid). The model does not recompute at once: it gathers every flow
 * starting or ending at the current picosecond and recomputes in one update event at that
 * time (scheduled after every event already queued for it, so all flows that start at one
 * instant are handled together). An update
 *   1. ends every flow whose finish time is now (popped in (finish, task id) order) and
 *      marks the links it crossed;
 *   2. adds the new flows to their links and marks those links;
 *   3. walks from the marked links to every flow and link connected to them (the
 *      component: links -> flows on them -> their other links ...): only rates inside it
 *      can change; flows elsewhere keep their rate and finish time untouched;
 *   4. solves max-min on that component, and for every flow whose rate changed moves its
 *      remaining bytes to now at the old rate and computes its new finish time
 *      (now + remaining / rate, rounded once to the picosecond);
 *   5. reports the ended flows to the engine and schedules the next update at the earliest
 *      finish time (a binary heap of active flows keyed by (finish, task id)).
 * Flows with equal bytes and rates get equal finish times, bit for bit, so an all-to-all
 * of identical flows ends in one update, not P(P-1).
 *
 * Cost of an update: linear in the component's flows times their path length, plus a heap
 * operation per link popped (log of the component's links). What it does not do: an
 * all-to-allv whose flows all end at different times over one big component recomputes
 * that component once per distinct finish time (see docs/NETWORK.md).
 *
 * Flows that end are dropped from link lists lazily: a link list is compacted when an
 * update walks it. Per-flow arrays are indexed by the engine's flow id (dense over flows
 * only, never reused: 40 bytes per flow, none per work task), so no slot can be confused
 * with another. Ties in the finish heap break by flow id, and the flows ending at one
 * instant are reported in flow-id order (a radix sort: an all-to-all ends a million flows
 * at once).
 *
 * Bundles (sim_engine_add_bundle) are weighted variables: a bundle of weight w on a link
 * counts w times there (its members all move at the bundle's rate r, so they put w x r on
 * the link). With every weight 1 the arithmetic is the unweighted one, operation for
 * operation.
 *
 * Exactness: one flow alone on its bottleneck gets exactly the link's capacity, n flows
 * sharing one link get exactly capacity / n; finish times are now + round(bytes / rate).
 * Numerical leftovers (a link's remaining capacity a few ulps below 0) are snapped to 0. */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/alloc.h"
#include "sim/net.h"

typedef struct link_state {
    double cap;              /* bytes/s */
    sim_id *ids;             /* flows on this link (some may have ended) */
    int32_t n, cap_ids;
    /* solver scratch, valid while mark == the current epoch */
    double rem;              /* capacity not yet given to frozen flows */
    int64_t cnt;             /* weight of the unfrozen flows */
    uint32_t mark;
} link_state;

typedef struct heap_ent {
    sim_time finish;
    sim_id flow;
} heap_ent;

typedef struct key_ent {
    double share;
    sim_id link;
} key_ent;

/* hpos values besides heap indices */
#define DEAD (-1)            /* not started, or ended */
#define FRESH (-2)           /* started, not in the heap yet */

typedef struct flow_state {
    sim_engine *e;           /* NULL in the standalone solver */
    size_t n_links;
    link_state *links;
    size_t n_flows;
    const sim_flow_info *ft; /* the flows' paths: the engine's table, or sa_ft */
    const sim_id *pool;
    sim_flow_info *sa_ft;    /* standalone solver: its own table */
    sim_id *sa_pool;
    /* per flow */
    double *rem_bytes;       /* bytes left at t_last (per member of a bundle) */
    double *rate;            /* bytes/s, 0 until the first update */
    double *new_rate;
    sim_time *t_last;
    int32_t *hpos;           /* index in the finish heap, or DEAD, FRESH */
    uint32_t *mark;          /* 2 epoch: in the component; 2 epoch + 1: frozen */
    /* finish-time heap */
    heap_ent *heap;
    size_t n_heap, cap_heap;
    /* flows started since the last update */
    sim_id *pending;
    size_t n_pending, cap_pending;
    /* scratch */
    sim_id *seed, *queue, *comp, *done, *tmp;
    size_t n_seed, cap_seed, cap_queue, cap_comp, n_done, cap_done, cap_tmp;
    key_ent *keys;
    size_t cap_keys;
    uint32_t epoch;          /* component walks */
    uint32_t seed_epoch;     /* links already in `seed` for this update */
    uint32_t *seed_mark;     /* [n_links] */
    /* the one pending update event */
    uint64_t ev_handle;
    sim_time ev_time;        /* -1: none */
    sim_time quantum;        /* sim_engine_net_quantum: updates only at its multiples */
    sim_status failed;
} flow_state;

/* Flow f's links and weights (NULL: all 1). */
static inline const sim_id *fpath(const flow_state *s, sim_id f, int32_t *n, const int32_t **w)
{
    const sim_flow_info *fi = &s->ft[f];
    const sim_id *p = s->pool + fi->path_off;
    *n = fi->n_links;
    *w = fi->mult > 1 ? p + fi->n_links : NULL;
    return p;
}

static int push_id(sim_id **v, size_t *n, size_t *cap, sim_id x)
{
    if (sim_grow((void **)v, cap, *n + 1, sizeof **v))
        return -1;
    (*v)[(*n)++] = x;
    return 0;
}

/* Sorts k non-negative ids ascending: insertion sort when few, else LSD radix sort in
 * three passes of 11 bits (ids < 2^31), using tmp (k entries). */
static void sort_ids(sim_id *a, size_t k, sim_id *tmp)
{
    if (k < 64) {
        for (size_t i = 1; i < k; i++) {
            sim_id x = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > x; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    sim_id *src = a, *dst = tmp;
    for (int shift = 0; shift < 33; shift += 11) {
        size_t count[2048] = {0};
        for (size_t i = 0; i < k; i++)
            count[((uint32_t)src[i] >> shift) & 2047]++;
        size_t sum = 0;
        for (size_t d = 0; d < 2048; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < k; i++)
            dst[count[((uint32_t)src[i] >> shift) & 2047]++] = src[i];
        sim_id *x = src;
        src = dst;
        dst = x;
    }
    if (src != a)   /* three passes: the result is in tmp */
        memcpy(a, src, k * sizeof *a);
}

/* ---------------------------------------------------------------- finish-time heap */

static int ent_less(heap_ent a, heap_ent b)
{
    return a.finish < b.finish || (a.finish == b.finish && a.flow < b.flow);
}

static void heap_set(flow_state *s, size_t i, heap_ent x)
{
    s->heap[i] = x;
    s->hpos[x.flow] = (int32_t)i;
}

static void heap_up(flow_state *s, size_t i)
{
    heap_ent x = s->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(x, s->heap[p]))
            break;
        heap_set(s, i, s->heap[p]);
        i = p;
    }
    heap_set(s, i, x);
}

static void heap_down(flow_state *s, size_t i)
{
    heap_ent x = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_heap)
            break;
        if (c + 1 < s->n_heap && ent_less(s->heap[c + 1], s->heap[c]))
            c++;
        if (!ent_less(s->heap[c], x))
            break;
        heap_set(s, i, s->heap[c]);
        i = c;
    }
    heap_set(s, i, x);
}

static int heap_push(flow_state *s, sim_id f, sim_time finish)
{
    if (sim_grow((void **)&s->heap, &s->cap_heap, s->n_heap + 1, sizeof *s->heap))
        return -1;
    s->heap[s->n_heap] = (heap_ent){finish, f};
    s->hpos[f] = (int32_t)s->n_heap;
    heap_up(s, s->n_heap++);
    return 0;
}

static void heap_update(flow_state *s, sim_id f, sim_time finish)
{
    size_t i = (size_t)s->hpos[f];
    sim_time old = s->heap[i].finish;
    s->heap[i].finish = finish;
    if (finish < old)
        heap_up(s, i);
    else
        heap_down(s, i);
}

/* Takes the entry at index `at` out of the heap (the flow is then DEAD). */
static void heap_remove_at(flow_state *s, size_t at)
{
    s->hpos[s->heap[at].flow] = DEAD;
    if (at == --s->n_heap)
        return;
    heap_ent x = s->heap[s->n_heap];
    heap_set(s, at, x);
    heap_up(s, at);
    heap_down(s, (size_t)s->hpos[x.flow]);
}

/* Restores the heap order of the whole array in O(n) (Floyd), after many entries changed
 * in place: cheaper than one sift per entry when a large share of the heap changed. */
static void heap_rebuild(flow_state *s)
{
    for (size_t i = s->n_heap / 2; i-- > 0;)
        heap_down(s, i);
    for (size_t i = 0; i < s->n_heap; i++)
        s->hpos[s->heap[i].flow] = (int32_t)i;
}

/* Appends to s->done every flow whose finish is <= now and takes them out of the heap
 * (they become DEAD): the heap is walked from the root (children of a later entry are
 * later), so this costs O(k) to find k flows; they leave one by one when few, by one
 * filter and rebuild when many (an all-to-all ends a million flows in one instant).
 * Order: (finish, flow id); all have finish == now, the update running at the earliest. */
static int heap_take_due(flow_state *s, sim_time now)
{
    size_t first = s->n_done, stack_n = 0;
    if (s->n_heap == 0 || s->heap[0].finish > now)
        return 0;
    /* s->queue serves as the walk's stack of heap indices */
    if (push_id(&s->queue, &stack_n, &s->cap_queue, 0))
        return -1;
    while (stack_n > 0) {
        size_t i = (size_t)s->queue[--stack_n];
        if (push_id(&s->done, &s->n_done, &s->cap_done, s->heap[i].flow))
            return -1;
        for (size_t c = 2 * i + 1; c <= 2 * i + 2 && c < s->n_heap; c++)
            if (s->heap[c].finish <= now && push_id(&s->queue, &stack_n, &s->cap_queue, (sim_id)c))
                return -1;
    }
    size_t k = s->n_done - first;
    if (sim_grow((void **)&s->tmp, &s->cap_tmp, k, sizeof *s->tmp))
        return -1;
    if (k * 8 < s->n_heap) {
        for (size_t i = first; i < s->n_done; i++)
            heap_remove_at(s, (size_t)s->hpos[s->done[i]]);
    } else {
        size_t w = 0;
        for (size_t i = 0; i < s->n_heap; i++) {
            if (s->heap[i].finish <= now)
                s->hpos[s->heap[i].flow] = DEAD;
            else
                s->heap[w++] = s->heap[i];
        }
        s->n_heap = w;
        heap_rebuild(s);
    }
    sort_ids(s->done + first, k, s->tmp);
    return 0;
}

/* ---------------------------------------------------------------- share heap (solver) */

static void key_up(key_ent *h, size_t i)
{
    key_ent x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!(x.share < h[p].share || (x.share == h[p].share && x.link < h[p].link)))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void key_down(key_ent *h, size_t n, size_t i)
{
    key_ent x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && (h[c + 1].share < h[c].share ||
                          (h[c + 1].share == h[c].share && h[c + 1].link < h[c].link)))
            c++;
        if (!(h[c].share < x.share || (h[c].share == x.share && h[c].link < x.link)))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* ---------------------------------------------------------------- the solver */

static int link_add(link_state *l, sim_id f)
{
    if (l->n == l->cap_ids) {
        size_t cap = (size_t)l->cap_ids;
        if (sim_grow((void **)&l->ids, &cap, (size_t)l->n + 1, sizeof *l->ids) || cap > INT32_MAX)
            return -1;
        l->cap_ids = (int32_t)cap;
    }
    l->ids[l->n++] = f;
    return 0;
}

/* Marks link l as touched by this update (a seed of the component walk). */
static int seed_link(flow_state *s, sim_id l)
{
    if (s->seed_mark[l] == s->seed_epoch)
        return 0;
    s->seed_mark[l] = s->seed_epoch;
    return push_id(&s->seed, &s->n_seed, &s->cap_seed, l);
}

/* Puts link l in the component's queue (once per walk), its solver state reset. */
static int enqueue_link(flow_state *s, sim_id l, uint32_t ep, size_t *nq)
{
    link_state *L = &s->links[l];
    if (L->mark == ep)
        return 0;
    L->mark = ep;
    L->rem = L->cap;
    L->cnt = 0;
    return push_id(&s->queue, nq, &s->cap_queue, l);
}

/* Freezes the unfrozen flows of link L at `share`, taking their rate off their links. */
static void freeze_link(flow_state *s, link_state *L, double share, uint32_t in, uint32_t frozen)
{
    for (int32_t j = 0; j < L->n; j++) {
        sim_id f = L->ids[j];
        if (s->mark[f] != in)   /* frozen already (ended flows were compacted away) */
            continue;
        s->mark[f] = frozen;
        s->new_rate[f] = share;
        int32_t np;
        const int32_t *w;
        const sim_id *p = fpath(s, f, &np, &w);
        for (int32_t h = 0; h < np; h++) {
            link_state *M = &s->links[p[h]];
            int32_t wh = w ? w[h] : 1;
            M->rem -= wh * share;   /* exact for wh = 1 */
            if (M->rem < 0)
                M->rem = 0;     /* rounding leftovers */
            M->cnt -= wh;
        }
    }
    assert(L->cnt == 0);
}

/* Walks the component reachable from the seed links, then fills new_rate for every flow
 * in it by progressive filling. On return s->comp[0 .. *n_comp) lists those flows. */
static int solve_component(flow_state *s, size_t *n_comp)
{
    uint32_t ep = ++s->epoch;
    uint32_t in = 2 * ep, frozen = 2 * ep + 1;
    size_t nq = 0, nc = 0;
    for (size_t i = 0; i < s->n_seed; i++)
        if (enqueue_link(s, s->seed[i], ep, &nq))
            return -1;
    for (size_t qi = 0; qi < nq; qi++) {
        link_state *L = &s->links[s->queue[qi]];
        int32_t j = 0;
        while (j < L->n) {          /* compact: drop flows that ended */
            sim_id f = L->ids[j];
            if (s->hpos[f] == DEAD) {
                L->ids[j] = L->ids[--L->n];
                continue;
            }
            j++;
            if (s->mark[f] == in)
                continue;
            s->mark[f] = in;
            if (push_id(&s->comp, &nc, &s->cap_comp, f))
                return -1;
            int32_t np;
            const int32_t *w;
            const sim_id *p = fpath(s, f, &np, &w);
            for (int32_t h = 0; h < np; h++) {
                if (enqueue_link(s, p[h], ep, &nq))
                    return -1;
                s->links[p[h]].cnt += w ? w[h] : 1;
            }
        }
        /* A flow list that shrank a lot gives memory back to nobody; fine: it regrows. */
    }
    *n_comp = nc;
    /* progressive filling over the links of the component */
    if (sim_grow((void **)&s->keys, &s->cap_keys, nq ? nq : 1, sizeof *s->keys))
        return -1;
    size_t nk = 0;
    for (size_t qi = 0; qi < nq; qi++) {
        sim_id l = s->queue[qi];
        if (s->links[l].cnt > 0) {
            s->keys[nk] = (key_ent){s->links[l].rem / (double)s->links[l].cnt, l};
            key_up(s->keys, nk++);
        }
    }
    while (nk > 0) {
        key_ent top = s->keys[0];
        link_state *L = &s->links[top.link];
        if (L->cnt == 0) {
            s->keys[0] = s->keys[--nk];
            if (nk)
                key_down(s->keys, nk, 0);
            continue;
        }
        double share = L->rem / (double)L->cnt;
        if (share > top.share) {    /* stale: its share only grew since it was pushed */
            s->keys[0].share = share;
            key_down(s->keys, nk, 0);
            continue;
        }
        s->keys[0] = s->keys[--nk];
        if (nk)
            key_down(s->keys, nk, 0);
        freeze_link(s, L, share, in, frozen);
    }
    return 0;
}

/* ---------------------------------------------------------------- the engine model */

static void ev_update(sim_evq *q, void *self, void *arg);

static void fail(flow_state *s, sim_status st)
{
    if (s->failed == SIM_OK)
        s->failed = st;
}

/* Schedules the update at t (rounded up to the quantum), unless one is due by then. */
static void schedule_at(flow_state *s, sim_time t)
{
    if (s->quantum > 0 && t % s->quantum != 0)
        t += s->quantum - t % s->quantum;
    if (s->ev_time >= 0 && s->ev_time <= t)
        return;
    if (s->ev_time >= 0)
        sim_evq_cancel(sim_engine_evq(s->e), s->ev_handle);
    s->ev_time = -1;
    sim_status st = sim_evq_at(sim_engine_evq(s->e), t, ev_update, s, NULL, &s->ev_handle);
    if (st != SIM_OK) {
        fail(s, st);
        sim_engine_fail(s->e, st);
        return;
    }
    s->ev_time = t;
}

static void update(flow_state *s, sim_time now)
{
    s->seed_epoch++;
    s->n_seed = 0;
    s->n_done = 0;
    int32_t np;
    const int32_t *w;
    const sim_id *p;
    /* 1. flows that end now (all have finish == now: the update runs at the earliest) */
    if (heap_take_due(s, now))
        goto oom;
    for (size_t i = 0; i < s->n_done; i++) {
        p = fpath(s, s->done[i], &np, &w);
        for (int32_t h = 0; h < np; h++)
            if (seed_link(s, p[h]))
                goto oom;
    }
    /* 2. flows that start now */
    size_t n_new_done = 0;
    for (size_t i = 0; i < s->n_pending; i++) {
        sim_id f = s->pending[i];
        p = fpath(s, f, &np, &w);
        if (np == 0 || s->rem_bytes[f] <= 0) {
            s->pending[n_new_done++] = f;   /* nothing to move: ends now */
            continue;
        }
        s->hpos[f] = FRESH;
        s->rate[f] = 0;
        s->t_last[f] = now;
        for (int32_t h = 0; h < np; h++)
            if (link_add(&s->links[p[h]], f) || seed_link(s, p[h]))
                goto oom;
    }
    /* 3-4. rates in the touched component */
    size_t nc = 0;
    if (s->n_seed && solve_component(s, &nc))
        goto oom;
    size_t n_changed = 0;
    for (size_t i = 0; i < nc; i++) {
        sim_id f = s->comp[i];
        if (s->new_rate[f] != s->rate[f])
            n_changed++;
    }
    /* many changes: write them in place and rebuild the heap once */
    int bulk = n_changed * 8 > s->n_heap + n_changed;
    if (bulk && sim_grow((void **)&s->heap, &s->cap_heap, s->n_heap + n_changed, sizeof *s->heap))
        goto oom;
    for (size_t i = 0; i < nc; i++) {
        sim_id f = s->comp[i];
        double r = s->new_rate[f];
        if (r == s->rate[f])
            continue;
        if (s->rate[f] > 0) {
            s->rem_bytes[f] -= s->rate[f] * sim_time_to_s(now - s->t_last[f]);
            if (s->rem_bytes[f] < 0)
                s->rem_bytes[f] = 0;
        }
        s->t_last[f] = now;
        s->rate[f] = r;
        assert(r > 0);
        sim_time fin = now + sim_time_from_s(s->rem_bytes[f] / r);
        if (bulk) {
            if (s->hpos[f] >= 0)
                s->heap[s->hpos[f]].finish = fin;
            else
                heap_set(s, s->n_heap++, (heap_ent){fin, f});
        } else if (s->hpos[f] >= 0) {
            heap_update(s, f, fin);
        } else if (heap_push(s, f, fin)) {
            goto oom;
        }
    }
    if (bulk)
        heap_rebuild(s);
    /* 5. report, in (finish, flow) order, then the flows that had nothing to move */
    for (size_t i = 0; i < n_new_done; i++)
        if (push_id(&s->done, &s->n_done, &s->cap_done, s->pending[i]))
            goto oom;
    s->n_pending = 0;
    for (size_t i = 0; i < s->n_done; i++)
        sim_engine_flow_finished(s->e, s->done[i]);
    if (s->ev_time < 0 && s->n_heap > 0)
        schedule_at(s, s->heap[0].finish);
    return;
oom:
    fail(s, SIM_ENOMEM);
    sim_engine_fail(s->e, SIM_ENOMEM);
}

static void ev_update(sim_evq *q, void *self, void *arg)
{
    (void)arg;
    flow_state *s = self;
    s->ev_time = -1;
    if (s->failed != SIM_OK)
        return;
    update(s, sim_evq_now(q));
}

static void flow_fini(void *state)
{
    flow_state *s = state;
    if (s->links)
        for (size_t l = 0; l < s->n_links; l++)
            sim_free(s->links[l].ids);
    sim_free(s->links);
    sim_free(s->rem_bytes);
    sim_free(s->rate);
    sim_free(s->new_rate);
    sim_free(s->t_last);
    sim_free(s->hpos);
    sim_free(s->mark);
    sim_free(s->heap);
    sim_free(s->pending);
    sim_free(s->seed);
    sim_free(s->queue);
    sim_free(s->comp);
    sim_free(s->done);
    sim_free(s->tmp);
    sim_free(s->keys);
    sim_free(s->seed_mark);
    sim_free(s->sa_ft);
    sim_free(s->sa_pool);
    memset(s, 0, sizeof *s);
}

static sim_status alloc_arrays(flow_state *s, size_t n_links, size_t n_flows)
{
    s->n_links = n_links;
    s->n_flows = n_flows;
    size_t nl = n_links ? n_links : 1, nf = n_flows ? n_flows : 1;
    s->links = sim_calloc(nl, sizeof *s->links);
    s->seed_mark = sim_calloc(nl, sizeof *s->seed_mark);
    s->rem_bytes = sim_malloc(nf * sizeof *s->rem_bytes);
    s->rate = sim_malloc(nf * sizeof *s->rate);
    s->new_rate = sim_malloc(nf * sizeof *s->new_rate);
    s->t_last = sim_malloc(nf * sizeof *s->t_last);
    s->hpos = sim_malloc(nf * sizeof *s->hpos);
    s->mark = sim_calloc(nf, sizeof *s->mark);
    if (!s->links || !s->seed_mark || !s->rem_bytes || !s->rate || !s->new_rate || !s->t_last ||
        !s->hpos || !s->mark)
        return SIM_ENOMEM;
    for (size_t i = 0; i < nf; i++)
        s->hpos[i] = DEAD;
    s->ev_time = -1;
    return SIM_OK;
}

static sim_status flow_init(void *state, sim_engine *e, sim_err *err)
{
    flow_state *s = state;
    memset(s, 0, sizeof *s);
    s->e = e;
    if (alloc_arrays(s, sim_engine_n_links(e), sim_engine_n_flows(e)) != SIM_OK)
        return sim_err_set(err, SIM_ENOMEM, "out of memory creating the flow network model");
    for (size_t l = 0; l < s->n_links; l++)
        s->links[l].cap = sim_engine_link_bw(e, (sim_id)l);
    s->ft = sim_engine_flow_table(e);
    s->pool = sim_engine_path_pool(e);
    s->quantum = sim_engine_net_quantum(e);
    return SIM_OK;
}

static sim_status flow_start(void *state, sim_engine *e, sim_id flow)
{
    flow_state *s = state;
    if (s->failed != SIM_OK)
        return s->failed;
    s->rem_bytes[flow] = sim_engine_flow_bytes(e, flow);
    if (push_id(&s->pending, &s->n_pending, &s->cap_pending, flow))
        return SIM_ENOMEM;
    schedule_at(s, sim_engine_now(e));
    return s->failed;
}

const sim_net_model sim_net_flow = {
    .name = "flow",
    .state_size = sizeof(flow_state),
    .init = flow_init,
    .fini = flow_fini,
    .flow_start = flow_start,
};

/* ---------------------------------------------------------------- standalone solver */

sim_status sim_maxmin_rates_weighted(size_t n_links, const double *cap, size_t n_flows,
                                     const int32_t *path_off, const sim_id *links,
                                     const int32_t *weights, double *rate)
{
    flow_state s;
    memset(&s, 0, sizeof s);
    sim_status st = alloc_arrays(&s, n_links, n_flows);
    if (st != SIM_OK)
        goto done;
    /* a flow table as the engine's: links then weights (weights > 1 make a bundle) */
    size_t n_ent = (size_t)path_off[n_flows];
    s.sa_ft = sim_malloc((n_flows ? n_flows : 1) * sizeof *s.sa_ft);
    s.sa_pool = sim_malloc((n_ent ? 2 * n_ent : 1) * sizeof *s.sa_pool);
    if (!s.sa_ft || !s.sa_pool) {
        st = SIM_ENOMEM;
        goto done;
    }
    for (size_t f = 0; f < n_flows; f++) {
        int32_t o = path_off[f], n = path_off[f + 1] - o, mult = 1;
        for (int32_t k = 0; k < n; k++) {
            assert(!weights || weights[o + k] >= 1);
            if (weights && weights[o + k] > mult)
                mult = weights[o + k];
        }
        s.sa_ft[f] = (sim_flow_info){.lat = 0, .path_off = (uint32_t)(2 * o), .n_links = n,
                                     .task = (sim_id)f, .mult = mult};
        memcpy(s.sa_pool + 2 * o, links + o, (size_t)n * sizeof *links);
        for (int32_t k = 0; k < n; k++)
            s.sa_pool[2 * o + n + k] = weights ? weights[o + k] : 1;
    }
    s.ft = s.sa_ft;
    s.pool = s.sa_pool;
    for (size_t l = 0; l < n_links; l++) {
        assert(cap[l] > 0);
        s.links[l].cap = cap[l];
    }
    s.seed_epoch = 1;
    for (size_t f = 0; f < n_flows; f++) {
        s.hpos[f] = FRESH;
        for (int32_t k = path_off[f]; k < path_off[f + 1]; k++) {
            sim_id l = links[k];
            assert(l >= 0 && (size_t)l < n_links);
            if (link_add(&s.links[l], (sim_id)f) || seed_link(&s, l)) {
                st = SIM_ENOMEM;
                goto done;
            }
        }
    }
    size_t nc;
    if (solve_component(&s, &nc)) {
        st = SIM_ENOMEM;
        goto done;
    }
    for (size_t f = 0; f < n_flows; f++)
        rate[f] = path_off[f + 1] == path_off[f] ? INFINITY : s.new_rate[f];
done:
    flow_fini(&s);
    return st;
}

sim_status sim_maxmin_rates(size_t n_links, const double *cap, size_t n_flows,
                            const int32_t *path_off, const sim_id *links, double *rate)
{
    return sim_maxmin_rates_weighted(n_links, cap, n_flows, path_off, links, NULL, rate);
}
