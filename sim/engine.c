/* sim/engine.c: task-graph executor: dependencies, FIFO resources, flows over links,
 * records and critical-path attribution. See sim/engine.h for the contract. */
#include "sim/engine.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sim/alloc.h"
#include "sim/net.h"

/* A task: its record plus what running it needs. 64 bytes. */
typedef struct task {
    sim_record rec;
    sim_time dur;            /* WORK: duration; FLOW: its index in the flow table */
    int32_t pending;         /* unfinished dependencies; once ready and waiting for its
                              * resource: the next task waiting for it (-1: none) */
    sim_id crit;             /* critical predecessor, -1 if none */
} task;

/* A flow (or bundle), indexed by flow id: sim_flow_info (sim/net.h). */
typedef sim_flow_info flow_rec;

typedef struct res_slot {
    int busy;
    sim_id head, tail;       /* waiting tasks */
    sim_time busy_total;
} res_slot;

typedef struct net_link {
    double bw;               /* bytes/s */
    sim_time lat;
    /* usage, kept while running (sim_engine_link_usage) */
    double bytes;            /* carried by flows that started moving bytes */
    sim_time busy;           /* closed busy intervals */
    sim_time since;          /* start of the open busy interval (active > 0) */
    int32_t active;          /* flows moving bytes over the link now */
} net_link;

/* Latency release. Flows whose latency is L and which start at t go at t + L; since t only
 * grows, the flows of one latency class go in the order they started. Each class is a FIFO
 * (ring) with one pending event, at its head's time: an instant at which k flows of a class
 * finish their latency costs one event, not k, and 12 bytes per waiting flow instead of an
 * event's 48. Beyond LAT_CLASSES distinct latencies a flow gets its own event. */
#define LAT_CLASSES 1024
#define LAT_HASH (2 * LAT_CLASSES)   /* open addressing, power of two */

typedef struct lat_class {
    sim_time lat;
    sim_time *t;             /* [cap] go times */
    int32_t *flow;           /* [cap] flow ids */
    size_t head, n, cap;     /* cap: a power of two (or 0) */
    int scheduled;           /* an event at t[head] is pending */
} lat_class;

struct sim_engine {
    task *tasks;
    size_t n_tasks, cap_tasks;
    flow_rec *flows;
    size_t n_flows, cap_flows;
    res_slot *res;
    size_t n_res, cap_res;
    net_link *links;
    size_t n_links, cap_links;
    sim_id *paths;
    size_t n_paths, cap_paths;
    sim_id *dep_from, *dep_to;   /* freed once the successor lists are built */
    size_t n_deps, cap_dep_from, cap_dep_to;
    /* successor lists in CSR form, built at run time */
    int32_t *succ_off;
    sim_id *succ;

    lat_class *cls;
    size_t n_cls;
    int32_t *cls_hash;           /* [LAT_HASH] class index, -1: empty */

    sim_evq *q;
    const sim_net_model *net;
    void *net_state;
    int net_inited;

    int oom;                 /* a graph-building call ran out of memory */
    int ran;
    sim_status run_status;   /* first failure inside an event handler */
    size_t n_done;
    sim_time makespan;
    sim_id last;             /* task that finished last */
    sim_progress_fn *progress;
    void *progress_ctx;
    size_t progress_every;
    sim_time net_quantum;    /* sim_engine_set_net_quantum */
};

/* ---------------------------------------------------------------- creation */

sim_status sim_engine_new(const sim_net_model *net, sim_engine **out, sim_err *err)
{
    sim_engine *e = sim_calloc(1, sizeof *e);
    if (!e)
        return sim_err_set(err, SIM_ENOMEM, "out of memory creating the engine");
    e->net = net ? net : &sim_net_analytic;
    e->last = -1;
    sim_status st = sim_evq_new(&e->q);
    if (st != SIM_OK) {
        sim_free(e);
        return sim_err_set(err, st, "out of memory creating the event queue");
    }
    if (e->net->state_size) {
        e->net_state = sim_calloc(1, e->net->state_size);
        if (!e->net_state) {
            sim_engine_free(e);
            return sim_err_set(err, SIM_ENOMEM, "out of memory creating the network model");
        }
    }
    *out = e;
    return SIM_OK;
}

void sim_engine_free(sim_engine *e)
{
    if (!e)
        return;
    if (e->net_inited && e->net->fini)
        e->net->fini(e->net_state);
    sim_free(e->net_state);
    sim_evq_free(e->q);
    sim_free(e->tasks);
    sim_free(e->flows);
    sim_free(e->res);
    sim_free(e->links);
    sim_free(e->paths);
    sim_free(e->dep_from);
    sim_free(e->dep_to);
    sim_free(e->succ_off);
    sim_free(e->succ);
    for (size_t i = 0; i < e->n_cls; i++) {
        sim_free(e->cls[i].t);
        sim_free(e->cls[i].flow);
    }
    sim_free(e->cls);
    sim_free(e->cls_hash);
    sim_free(e);
}

sim_status sim_engine_reserve(sim_engine *e, size_t n_tasks, size_t n_flows, size_t n_path_links,
                              size_t n_deps)
{
    assert(!e->ran);
    if (sim_grow((void **)&e->tasks, &e->cap_tasks, e->n_tasks + n_tasks, sizeof *e->tasks) ||
        sim_grow((void **)&e->flows, &e->cap_flows, e->n_flows + n_flows, sizeof *e->flows) ||
        sim_grow((void **)&e->paths, &e->cap_paths, e->n_paths + n_path_links, sizeof *e->paths) ||
        sim_grow((void **)&e->dep_from, &e->cap_dep_from, e->n_deps + n_deps, sizeof(sim_id)) ||
        sim_grow((void **)&e->dep_to, &e->cap_dep_to, e->n_deps + n_deps, sizeof(sim_id)))
        return SIM_ENOMEM;
    return SIM_OK;
}

sim_id sim_engine_add_resource(sim_engine *e)
{
    if (e->n_res >= INT32_MAX ||
        sim_grow((void **)&e->res, &e->cap_res, e->n_res + 1, sizeof *e->res)) {
        e->oom = 1;
        return -1;
    }
    e->res[e->n_res] = (res_slot){.busy = 0, .head = -1, .tail = -1, .busy_total = 0};
    return (sim_id)e->n_res++;
}

sim_id sim_engine_add_link(sim_engine *e, double bw_bytes_per_s, sim_time lat)
{
    assert(bw_bytes_per_s > 0 && lat >= 0);
    if (e->n_links >= INT32_MAX ||
        sim_grow((void **)&e->links, &e->cap_links, e->n_links + 1, sizeof *e->links)) {
        e->oom = 1;
        return -1;
    }
    e->links[e->n_links] = (net_link){.bw = bw_bytes_per_s, .lat = lat, .since = -1};
    return (sim_id)e->n_links++;
}

static sim_id new_task(sim_engine *e, sim_task_kind kind, sim_id resource, int category,
                       int owner)
{
    assert(!e->ran);
    assert(resource < (sim_id)e->n_res);
    assert(category >= 0 && category < INT16_MAX);
    if (e->n_tasks >= INT32_MAX ||
        sim_grow((void **)&e->tasks, &e->cap_tasks, e->n_tasks + 1, sizeof *e->tasks)) {
        e->oom = 1;
        return -1;
    }
    sim_id id = (sim_id)e->n_tasks++;
    task *t = &e->tasks[id];
    *t = (task){.rec = {.task = id, .owner = owner, .category = (int16_t)category,
                        .kind = (int8_t)kind, .resource = resource, .ready = -1, .start = -1,
                        .end = -1, .bytes = 0},
                .dur = 0, .pending = 0, .crit = -1};
    return id;
}

sim_id sim_engine_add_work(sim_engine *e, sim_id resource, sim_time duration, int category,
                           int owner)
{
    assert(duration >= 0);
    sim_id id = new_task(e, SIM_TASK_WORK, resource, category, owner);
    if (id >= 0)
        e->tasks[id].dur = duration;
    return id;
}

/* The common part of a flow and a bundle: n_links ids (and weights) into the pool. */
static sim_id new_flow(sim_engine *e, const sim_id *path, const int32_t *weights, int n_links,
                       double bytes, int32_t mult, sim_time lat, sim_id resource, int category,
                       int owner)
{
    for (int i = 0; i < n_links; i++)
        assert(path[i] >= 0 && (size_t)path[i] < e->n_links);
    size_t words = (size_t)n_links * (weights ? 2 : 1);
    if (e->n_paths + words > UINT32_MAX || e->n_flows >= INT32_MAX ||
        sim_grow((void **)&e->paths, &e->cap_paths, e->n_paths + words, sizeof *e->paths) ||
        sim_grow((void **)&e->flows, &e->cap_flows, e->n_flows + 1, sizeof *e->flows)) {
        e->oom = 1;
        return -1;
    }
    sim_id id = new_task(e, SIM_TASK_FLOW, resource, category, owner);
    if (id < 0)
        return -1;
    int32_t f = (int32_t)e->n_flows++;
    task *t = &e->tasks[id];
    t->dur = f;
    t->rec.bytes = bytes * mult;
    e->flows[f] = (flow_rec){.lat = lat, .path_off = (uint32_t)e->n_paths, .n_links = n_links,
                             .task = id, .mult = mult};
    if (n_links)
        memcpy(e->paths + e->n_paths, path, (size_t)n_links * sizeof *path);
    if (weights)
        memcpy(e->paths + e->n_paths + n_links, weights, (size_t)n_links * sizeof *weights);
    e->n_paths += words;
    return id;
}

sim_id sim_engine_add_flow(sim_engine *e, const sim_id *path, int n_links, double bytes,
                           sim_time extra_lat, sim_id resource, int category, int owner)
{
    assert(n_links >= 0 && bytes >= 0 && extra_lat >= 0);
    sim_time lat = extra_lat;
    for (int i = 0; i < n_links; i++) {
        assert(path[i] >= 0 && (size_t)path[i] < e->n_links);
        lat += e->links[path[i]].lat;
    }
    return new_flow(e, path, NULL, n_links, bytes, 1, lat, resource, category, owner);
}

sim_id sim_engine_add_bundle(sim_engine *e, const sim_id *links, const int32_t *weights,
                             int n_links, double bytes, int32_t mult, sim_time lat,
                             sim_id resource, int category, int owner)
{
    assert(n_links >= 0 && bytes >= 0 && lat >= 0 && mult >= 1);
    for (int i = 0; i < n_links; i++)
        assert(weights[i] >= 1 && weights[i] <= mult);
    return new_flow(e, links, mult > 1 ? weights : NULL, n_links, bytes, mult, lat, resource,
                    category, owner);
}

int sim_engine_add_dep(sim_engine *e, sim_id before, sim_id after)
{
    assert(!e->ran);
    if (before < 0 || after < 0) {  /* an earlier add failed: already flagged */
        assert(e->oom);
        return -1;
    }
    assert((size_t)before < e->n_tasks && (size_t)after < e->n_tasks && before != after);
    if (sim_grow((void **)&e->dep_from, &e->cap_dep_from, e->n_deps + 1, sizeof(sim_id)) ||
        sim_grow((void **)&e->dep_to, &e->cap_dep_to, e->n_deps + 1, sizeof(sim_id))) {
        e->oom = 1;
        return -1;
    }
    e->dep_from[e->n_deps] = before;
    e->dep_to[e->n_deps] = after;
    e->n_deps++;
    return 0;
}

/* ---------------------------------------------------------------- execution */

static void task_finished(sim_engine *e, sim_id id);

static void run_fail(sim_engine *e, sim_status st)
{
    if (st != SIM_OK && e->run_status == SIM_OK)
        e->run_status = st;
}

static void schedule(sim_engine *e, sim_time t, sim_event_fn *fn, intptr_t arg)
{
    run_fail(e, sim_evq_at(e->q, t, fn, e, (void *)arg, NULL));
}

static void ev_work_end(sim_evq *q, void *self, void *arg)
{
    (void)q;
    task_finished(self, (sim_id)(intptr_t)arg);
}

static inline const int32_t *flow_weights(const sim_engine *e, const flow_rec *f)
{
    return f->mult > 1 ? e->paths + f->path_off + f->n_links : NULL;
}

/* Flow f's latency is paid: its bytes start moving (usage opens) and the network model
 * takes it. */
static void flow_go(sim_engine *e, int32_t f, sim_time now)
{
    const flow_rec *fr = &e->flows[f];
    const sim_id *path = e->paths + fr->path_off;
    const int32_t *w = flow_weights(e, fr);
    double each = e->tasks[fr->task].rec.bytes / fr->mult;
    for (int i = 0; i < fr->n_links; i++) {
        net_link *l = &e->links[path[i]];
        l->bytes += w ? w[i] * each : each;
        if (l->active++ == 0)
            l->since = now;
    }
    run_fail(e, e->net->flow_start(e->net_state, e, f));
}

static void ev_flow_go(sim_evq *q, void *self, void *arg)
{
    flow_go(self, (int32_t)(intptr_t)arg, sim_evq_now(q));
}

static void ev_release(sim_evq *q, void *self, void *arg)
{
    sim_engine *e = self;
    lat_class *c = &e->cls[(intptr_t)arg];
    sim_time now = sim_evq_now(q);
    c->scheduled = 0;
    while (c->n > 0 && c->t[c->head] == now && e->run_status == SIM_OK) {
        int32_t f = c->flow[c->head];
        c->head = (c->head + 1) & (c->cap - 1);
        c->n--;
        flow_go(e, f, now);
    }
    if (c->n > 0 && !c->scheduled) {
        c->scheduled = 1;
        schedule(e, c->t[c->head], ev_release, (intptr_t)arg);
    }
}

/* The class of latency lat, created if there is room; -1 if the table is full (or out of
 * memory: the flow then gets its own event, which works as well). */
static int32_t lat_class_of(sim_engine *e, sim_time lat)
{
    if (!e->cls_hash) {
        e->cls_hash = sim_malloc(LAT_HASH * sizeof *e->cls_hash);
        e->cls = sim_calloc(LAT_CLASSES, sizeof *e->cls);
        if (!e->cls_hash || !e->cls) {
            sim_free(e->cls_hash);
            sim_free(e->cls);
            e->cls_hash = NULL;
            e->cls = NULL;
            return -1;
        }
        for (size_t i = 0; i < LAT_HASH; i++)
            e->cls_hash[i] = -1;
    }
    uint64_t h = (uint64_t)lat * 0x9E3779B97F4A7C15u;
    for (size_t i = (size_t)(h >> 40) & (LAT_HASH - 1);; i = (i + 1) & (LAT_HASH - 1)) {
        int32_t k = e->cls_hash[i];
        if (k >= 0 && e->cls[k].lat == lat)
            return k;
        if (k < 0) {
            if (e->n_cls >= LAT_CLASSES)
                return -1;
            k = (int32_t)e->n_cls++;
            e->cls[k] = (lat_class){.lat = lat};
            e->cls_hash[i] = k;
            return k;
        }
    }
}

static int lat_push(lat_class *c, sim_time t, int32_t f)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 64;
        sim_time *nt = sim_malloc(ncap * sizeof *nt);
        int32_t *nf = sim_malloc(ncap * sizeof *nf);
        if (!nt || !nf) {
            sim_free(nt);
            sim_free(nf);
            return -1;
        }
        for (size_t i = 0; i < c->n; i++) {   /* unwrap */
            nt[i] = c->t[(c->head + i) & (c->cap - 1)];
            nf[i] = c->flow[(c->head + i) & (c->cap - 1)];
        }
        sim_free(c->t);
        sim_free(c->flow);
        c->t = nt;
        c->flow = nf;
        c->head = 0;
        c->cap = ncap;
    }
    size_t at = (c->head + c->n) & (c->cap - 1);
    c->t[at] = t;
    c->flow[at] = f;
    c->n++;
    return 0;
}

/* Flow f pays its latency from now. */
static void flow_wait_latency(sim_engine *e, int32_t f, sim_time now)
{
    sim_time go = now + e->flows[f].lat;
    int32_t k = lat_class_of(e, e->flows[f].lat);
    if (k >= 0 && lat_push(&e->cls[k], go, f) == 0) {
        lat_class *c = &e->cls[k];
        if (!c->scheduled) {
            c->scheduled = 1;
            schedule(e, c->t[c->head], ev_release, k);
        }
        return;
    }
    schedule(e, go, ev_flow_go, f);
}

static void task_start(sim_engine *e, sim_id id)
{
    task *t = &e->tasks[id];
    sim_time now = sim_evq_now(e->q);
    t->rec.start = now;
    if (t->rec.resource >= 0)
        e->res[t->rec.resource].busy = 1;
    if (t->rec.kind == SIM_TASK_WORK)
        schedule(e, now + t->dur, ev_work_end, id);
    else
        flow_wait_latency(e, (int32_t)t->dur, now);
}

static void task_ready(sim_engine *e, sim_id id, sim_id pred)
{
    task *t = &e->tasks[id];
    t->rec.ready = sim_evq_now(e->q);
    t->crit = pred;
    if (t->rec.resource < 0) {
        task_start(e, id);
        return;
    }
    res_slot *r = &e->res[t->rec.resource];
    if (!r->busy) {
        task_start(e, id);
        return;
    }
    t->pending = -1;            /* from now on: the next waiting task */
    if (r->tail >= 0)
        e->tasks[r->tail].pending = id;
    else
        r->head = id;
    r->tail = id;
}

void sim_engine_flow_finished(sim_engine *e, sim_id flow)
{
    assert(flow >= 0 && (size_t)flow < e->n_flows);
    const flow_rec *fr = &e->flows[flow];
    const sim_id *path = e->paths + fr->path_off;
    sim_time now = sim_evq_now(e->q);
    for (int i = 0; i < fr->n_links; i++) {   /* usage closes */
        net_link *l = &e->links[path[i]];
        assert(l->active > 0);
        if (--l->active == 0)
            l->busy += now - l->since;
    }
    task_finished(e, fr->task);
}

static void task_finished(sim_engine *e, sim_id id)
{
    task *t = &e->tasks[id];
    sim_time now = sim_evq_now(e->q);
    assert(t->rec.end < 0);
    t->rec.end = now;
    e->n_done++;
    if (e->progress && e->n_done % e->progress_every == 0)
        e->progress(e->progress_ctx, e->n_done, e->n_tasks);
    if (now >= e->makespan) {
        e->makespan = now;
        e->last = id;
    }
    if (t->rec.resource >= 0) {
        res_slot *r = &e->res[t->rec.resource];
        r->busy_total += now - t->rec.start;
        r->busy = 0;
        if (r->head >= 0) {
            sim_id next = r->head;
            r->head = e->tasks[next].pending;
            if (r->head < 0)
                r->tail = -1;
            if (e->tasks[next].rec.ready < now)
                e->tasks[next].crit = id;   /* it waited for us, not for its deps */
            task_start(e, next);
        }
    }
    for (int32_t i = e->succ_off[id]; i < e->succ_off[id + 1]; i++) {
        sim_id s = e->succ[i];
        if (--e->tasks[s].pending == 0)
            task_ready(e, s, id);
    }
}

/* Successor lists in CSR form, in the order the dependencies were added; the dependency
 * arrays are freed afterwards (the run does not need them). */
static sim_status build_successors(sim_engine *e)
{
    e->succ_off = sim_calloc(e->n_tasks + 1, sizeof *e->succ_off);
    e->succ = sim_malloc((e->n_deps ? e->n_deps : 1) * sizeof *e->succ);
    if (!e->succ_off || !e->succ)
        return SIM_ENOMEM;
    if (e->n_deps > INT32_MAX)
        return SIM_ENOMEM;
    for (size_t i = 0; i < e->n_deps; i++) {
        e->succ_off[e->dep_from[i] + 1]++;
        e->tasks[e->dep_to[i]].pending++;
    }
    for (size_t i = 0; i < e->n_tasks; i++)
        e->succ_off[i + 1] += e->succ_off[i];
    /* stable fill, using dep_to's slots as the cursor: fill in from the back */
    for (size_t i = e->n_deps; i-- > 0;) {
        sim_id from = e->dep_from[i];
        e->succ[--e->succ_off[from + 1]] = e->dep_to[i];
    }
    /* succ_off[k + 1] now holds the start of k's list: shift back */
    for (size_t i = 0; i < e->n_tasks; i++)
        e->succ_off[i] = e->succ_off[i + 1];
    e->succ_off[e->n_tasks] = (int32_t)e->n_deps;
    sim_free(e->dep_from);
    sim_free(e->dep_to);
    e->dep_from = e->dep_to = NULL;
    e->cap_dep_from = e->cap_dep_to = 0;
    return SIM_OK;
}

sim_status sim_engine_run(sim_engine *e, sim_err *err)
{
    assert(!e->ran);
    e->ran = 1;
    if (e->oom)
        return sim_err_set(err, SIM_ENOMEM, "out of memory building the task graph");
    if (build_successors(e) != SIM_OK)
        return sim_err_set(err, SIM_ENOMEM, "out of memory preparing the task graph");
    if (e->net->init) {
        sim_status st = e->net->init(e->net_state, e, err);
        e->net_inited = 1;
        if (st != SIM_OK)
            return st;
    }
    for (size_t i = 0; i < e->n_tasks && e->run_status == SIM_OK; i++)
        if (e->tasks[i].pending == 0)
            task_ready(e, (sim_id)i, -1);
    while (e->run_status == SIM_OK && sim_evq_step(e->q))
        ;
    if (e->run_status != SIM_OK)
        return sim_err_set(err, e->run_status, "simulation failed: %s",
                           sim_status_text(e->run_status));
    if (e->n_done != e->n_tasks)
        return sim_err_set(err, SIM_ERUN,
                           "task graph did not finish: %zu of %zu tasks ran (dependency cycle)",
                           e->n_done, e->n_tasks);
    return SIM_OK;
}

/* ---------------------------------------------------------------- results */

size_t sim_engine_n_tasks(const sim_engine *e) { return e->n_tasks; }

const sim_record *sim_engine_record(const sim_engine *e, sim_id id)
{
    assert(id >= 0 && (size_t)id < e->n_tasks);
    return &e->tasks[id].rec;
}

int32_t sim_engine_task_mult(const sim_engine *e, sim_id id)
{
    assert(id >= 0 && (size_t)id < e->n_tasks);
    const task *t = &e->tasks[id];
    return t->rec.kind == SIM_TASK_FLOW ? e->flows[t->dur].mult : 1;
}

sim_time sim_engine_makespan(const sim_engine *e) { return e->makespan; }
uint64_t sim_engine_events(const sim_engine *e) { return sim_evq_executed(e->q); }

sim_time sim_engine_resource_busy(const sim_engine *e, sim_id r)
{
    assert(r >= 0 && (size_t)r < e->n_res);
    return e->res[r].busy_total;
}

size_t sim_engine_critical_path(const sim_engine *e, sim_crit_fn *fn, void *ctx)
{
    size_t n = 0;
    sim_id cur = e->last;
    while (cur >= 0) {
        const task *t = &e->tasks[cur];
        sim_time before = t->crit >= 0 ? e->tasks[t->crit].rec.end : 0;
        assert(before <= t->rec.start);
        fn(ctx, &t->rec, t->rec.start - before);
        n++;
        cur = t->crit;
    }
    return n;
}

typedef struct crit_sum {
    int n_categories, idle_category;
    sim_time *out;
} crit_sum;

static void add_to_category(void *ctx, const sim_record *rec, sim_time gap)
{
    crit_sum *s = ctx;
    assert(rec->category < s->n_categories);
    s->out[rec->category] += rec->end - rec->start;
    s->out[s->idle_category] += gap;
}

void sim_engine_critical_breakdown(const sim_engine *e, int n_categories, int idle_category,
                                   sim_time *out)
{
    assert(idle_category >= 0 && idle_category < n_categories);
    memset(out, 0, (size_t)n_categories * sizeof *out);
    crit_sum s = {n_categories, idle_category, out};
    sim_engine_critical_path(e, add_to_category, &s);
}

void sim_engine_set_progress(sim_engine *e, sim_progress_fn *fn, void *ctx, size_t every)
{
    e->progress = fn;
    e->progress_ctx = ctx;
    e->progress_every = every ? every : 1;
}

void sim_engine_set_net_quantum(sim_engine *e, sim_time q)
{
    assert(q >= 0);
    e->net_quantum = q;
}

sim_time sim_engine_net_quantum(const sim_engine *e) { return e->net_quantum; }

void sim_engine_link_usage(const sim_engine *e, sim_id l, double *bytes, sim_time *busy)
{
    assert(l >= 0 && (size_t)l < e->n_links);
    const net_link *k = &e->links[l];
    if (bytes)
        *bytes = k->bytes;
    if (busy)   /* an interval still open (a run that failed) counts up to now */
        *busy = k->busy + (k->active > 0 ? sim_evq_now(e->q) - k->since : 0);
}

/* ---------------------------------------------------------------- network access */

size_t sim_engine_n_links(const sim_engine *e) { return e->n_links; }

double sim_engine_link_bw(const sim_engine *e, sim_id l)
{
    assert(l >= 0 && (size_t)l < e->n_links);
    return e->links[l].bw;
}

sim_time sim_engine_link_lat(const sim_engine *e, sim_id l)
{
    assert(l >= 0 && (size_t)l < e->n_links);
    return e->links[l].lat;
}

size_t sim_engine_n_flows(const sim_engine *e) { return e->n_flows; }

const sim_flow_info *sim_engine_flow_table(const sim_engine *e) { return e->flows; }
const sim_id *sim_engine_path_pool(const sim_engine *e) { return e->paths; }

const sim_id *sim_engine_flow_path(const sim_engine *e, sim_id f, int *n_links,
                                   const int32_t **weights)
{
    assert(f >= 0 && (size_t)f < e->n_flows);
    const flow_rec *fr = &e->flows[f];
    *n_links = fr->n_links;
    if (weights)
        *weights = flow_weights(e, fr);
    return e->paths + fr->path_off;
}

double sim_engine_flow_bytes(const sim_engine *e, sim_id f)
{
    assert(f >= 0 && (size_t)f < e->n_flows);
    return e->tasks[e->flows[f].task].rec.bytes / e->flows[f].mult;
}

sim_id sim_engine_flow_task(const sim_engine *e, sim_id f)
{
    assert(f >= 0 && (size_t)f < e->n_flows);
    return e->flows[f].task;
}

sim_time sim_engine_now(const sim_engine *e) { return sim_evq_now(e->q); }
sim_evq *sim_engine_evq(sim_engine *e) { return e->q; }

void sim_engine_fail(sim_engine *e, sim_status st)
{
    assert(st != SIM_OK);
    run_fail(e, st);
}
