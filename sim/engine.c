/* sim/engine.c: task-graph executor: dependencies, FIFO resources, flows over links,
 * records and critical-path attribution. See sim/engine.h for the contract. */
#include "sim/engine.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sim/alloc.h"
#include "sim/net.h"

typedef struct task {
    sim_record rec;
    sim_time dur;            /* WORK: duration; FLOW: extra latency */
    int32_t pending;         /* unfinished dependencies */
    sim_id crit;             /* critical predecessor, -1 if none */
    sim_id next_wait;        /* intrusive FIFO of tasks waiting for a resource */
    int32_t path_off;        /* FLOW: offset into path pool */
    int32_t path_len;
} task;

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

struct sim_engine {
    task *tasks;
    size_t n_tasks, cap_tasks;
    res_slot *res;
    size_t n_res, cap_res;
    net_link *links;
    size_t n_links, cap_links;
    sim_id *paths;
    size_t n_paths, cap_paths;
    sim_id *dep_from, *dep_to;
    size_t n_deps, cap_dep_from, cap_dep_to;
    /* successor lists in CSR form, built at run time */
    int32_t *succ_off;
    sim_id *succ;

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
    sim_free(e->res);
    sim_free(e->links);
    sim_free(e->paths);
    sim_free(e->dep_from);
    sim_free(e->dep_to);
    sim_free(e->succ_off);
    sim_free(e->succ);
    sim_free(e);
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
    memset(t, 0, sizeof *t);
    t->rec.task = id;
    t->rec.owner = owner;
    t->rec.category = (int16_t)category;
    t->rec.kind = (int8_t)kind;
    t->rec.resource = resource;
    t->rec.ready = t->rec.start = t->rec.end = -1;
    t->crit = -1;
    t->next_wait = -1;
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

sim_id sim_engine_add_flow(sim_engine *e, const sim_id *path, int n_links, double bytes,
                           sim_time extra_lat, sim_id resource, int category, int owner)
{
    assert(n_links >= 0 && bytes >= 0 && extra_lat >= 0);
    for (int i = 0; i < n_links; i++)
        assert(path[i] >= 0 && (size_t)path[i] < e->n_links);
    if (e->n_paths + (size_t)n_links > INT32_MAX ||
        sim_grow((void **)&e->paths, &e->cap_paths, e->n_paths + (size_t)n_links,
                 sizeof *e->paths)) {
        e->oom = 1;
        return -1;
    }
    sim_id id = new_task(e, SIM_TASK_FLOW, resource, category, owner);
    if (id < 0)
        return -1;
    task *t = &e->tasks[id];
    t->dur = extra_lat;
    t->rec.bytes = bytes;
    t->path_off = (int32_t)e->n_paths;
    t->path_len = n_links;
    if (n_links)
        memcpy(e->paths + e->n_paths, path, (size_t)n_links * sizeof *path);
    e->n_paths += (size_t)n_links;
    return id;
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

static void task_ready(sim_engine *e, sim_id id, sim_id pred);
static void task_start(sim_engine *e, sim_id id);

static void ev_work_end(sim_evq *q, void *self, void *arg)
{
    (void)q;
    sim_engine_flow_finished(self, (sim_id)(intptr_t)arg);
}

/* A flow's bytes start moving over its links now (latency paid): usage opens. */
static void usage_open(sim_engine *e, const task *t, sim_time now)
{
    for (int i = 0; i < t->path_len; i++) {
        net_link *l = &e->links[e->paths[t->path_off + i]];
        l->bytes += t->rec.bytes;
        if (l->active++ == 0)
            l->since = now;
    }
}

/* The flow's last byte arrived: usage closes. */
static void usage_close(sim_engine *e, const task *t, sim_time now)
{
    for (int i = 0; i < t->path_len; i++) {
        net_link *l = &e->links[e->paths[t->path_off + i]];
        assert(l->active > 0);
        if (--l->active == 0)
            l->busy += now - l->since;
    }
}

static void ev_flow_go(sim_evq *q, void *self, void *arg)
{
    (void)q;
    sim_engine *e = self;
    sim_id id = (sim_id)(intptr_t)arg;
    usage_open(e, &e->tasks[id], sim_evq_now(e->q));
    sim_status st = e->net->flow_start(e->net_state, e, id);
    if (st != SIM_OK && e->run_status == SIM_OK)
        e->run_status = st;
}

static void schedule(sim_engine *e, sim_time t, sim_event_fn *fn, sim_id id)
{
    sim_status st = sim_evq_at(e->q, t, fn, e, (void *)(intptr_t)id, NULL);
    if (st != SIM_OK && e->run_status == SIM_OK)
        e->run_status = st;
}

static void task_start(sim_engine *e, sim_id id)
{
    task *t = &e->tasks[id];
    sim_time now = sim_evq_now(e->q);
    t->rec.start = now;
    if (t->rec.resource >= 0)
        e->res[t->rec.resource].busy = 1;
    if (t->rec.kind == SIM_TASK_WORK) {
        schedule(e, now + t->dur, ev_work_end, id);
        return;
    }
    sim_time lat = t->dur;
    for (int i = 0; i < t->path_len; i++)
        lat += e->links[e->paths[t->path_off + i]].lat;
    schedule(e, now + lat, ev_flow_go, id);
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
    t->next_wait = -1;
    if (r->tail >= 0)
        e->tasks[r->tail].next_wait = id;
    else
        r->head = id;
    r->tail = id;
}

void sim_engine_flow_finished(sim_engine *e, sim_id id)
{
    task *t = &e->tasks[id];
    sim_time now = sim_evq_now(e->q);
    assert(t->rec.end < 0);
    t->rec.end = now;
    if (t->rec.kind == SIM_TASK_FLOW)
        usage_close(e, t, now);
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
            r->head = e->tasks[next].next_wait;
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

static sim_status build_successors(sim_engine *e)
{
    e->succ_off = sim_calloc(e->n_tasks + 1, sizeof *e->succ_off);
    e->succ = sim_malloc((e->n_deps ? e->n_deps : 1) * sizeof *e->succ);
    if (!e->succ_off || !e->succ)
        return SIM_ENOMEM;
    for (size_t i = 0; i < e->n_deps; i++) {
        e->succ_off[e->dep_from[i] + 1]++;
        e->tasks[e->dep_to[i]].pending++;
    }
    for (size_t i = 0; i < e->n_tasks; i++)
        e->succ_off[i + 1] += e->succ_off[i];
    /* stable fill: successors in the order the dependencies were added */
    int32_t *fill = sim_malloc((e->n_tasks ? e->n_tasks : 1) * sizeof *fill);
    if (!fill)
        return SIM_ENOMEM;
    memcpy(fill, e->succ_off, e->n_tasks * sizeof *fill);
    for (size_t i = 0; i < e->n_deps; i++)
        e->succ[fill[e->dep_from[i]]++] = e->dep_to[i];
    sim_free(fill);
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
    for (size_t i = 0; i < e->n_tasks; i++)
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

/* ---------------------------------------------------------------- network access */

void sim_engine_link_usage(const sim_engine *e, sim_id l, double *bytes, sim_time *busy)
{
    assert(l >= 0 && (size_t)l < e->n_links);
    const net_link *k = &e->links[l];
    if (bytes)
        *bytes = k->bytes;
    if (busy)   /* an interval still open (a run that failed) counts up to now */
        *busy = k->busy + (k->active > 0 ? sim_evq_now(e->q) - k->since : 0);
}

size_t sim_engine_n_links(const sim_engine *e) { return e->n_links; }

sim_time sim_engine_link_lat(const sim_engine *e, sim_id l)
{
    assert(l >= 0 && (size_t)l < e->n_links);
    return e->links[l].lat;
}

double sim_engine_link_bw(const sim_engine *e, sim_id l)
{
    assert(l >= 0 && (size_t)l < e->n_links);
    return e->links[l].bw;
}

const sim_id *sim_engine_flow_path(const sim_engine *e, sim_id f, int *n_links)
{
    const task *t = &e->tasks[f];
    assert(t->rec.kind == SIM_TASK_FLOW);
    *n_links = t->path_len;
    return e->paths + t->path_off;
}

double sim_engine_flow_bytes(const sim_engine *e, sim_id f) { return e->tasks[f].rec.bytes; }
sim_time sim_engine_now(const sim_engine *e) { return sim_evq_now(e->q); }
sim_evq *sim_engine_evq(sim_engine *e) { return e->q; }

void sim_engine_fail(sim_engine *e, sim_status st)
{
    assert(st != SIM_OK);
    if (e->run_status == SIM_OK)
        e->run_status = st;
}
