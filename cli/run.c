/* cli/run.c: `moesim run`: load a scenario, simulate its steps, print and store the run. */
#include <assert.h>
#include <cJSON.h>
#include <errno.h>
#include <gsl/gsl_rng.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/trace.h"
#include "models/arch.h"
#include "models/cost.h"
#include "models/par.h"
#include "models/route.h"
#include "models/scenario.h"
#include "models/step.h"
#include "results/db.h"
#include "results/trace.h"
#include "sim/alloc.h"
#include "sim/cfg.h"
#include "sim/rng.h"
#include "sim/version.h"

#define RNG_STREAM_ROUTING 1
#define RNG_STREAM_DROPPING 2
#define RNG_STREAM_DYNAMICS 3      /* drift steps of the routing popularity */
#define RNG_STREAM_POPULARITY 4    /* zipf rank shuffles, dirichlet and hot draws (at start) */
#define RNG_STREAM_BALANCED 5      /* drops of the balanced counterfactual (C < 1 only) */

static const char run_usage[] =
    "usage: moesim run FILE [--set section.key=value]... [--db PATH] [--json] [--quiet]\n"
    "\n"
    "Simulates the training step(s) that scenario FILE describes, prints the step time and\n"
    "where it goes (critical-path breakdown), and stores the run in a SQLite database.\n"
    "\n"
    "  --set section.key=value  override one scenario key (repeatable)\n"
    "  --db PATH                database to add the run to (default results/runs/NAME.db,\n"
    "                           NAME being FILE's name without .ini)\n"
    "  --json                   print one JSON object instead of the summary\n"
    "  --quiet                  no progress output on stderr\n"
    "  --skip-existing          do nothing if the database already holds a run of this\n"
    "                           scenario with the same resolved keys (used by sweeps)\n"
    "  --trace FILE.json        write the first step's tasks as a Chrome trace (open it in\n"
    "                           ui.perfetto.dev or chrome://tracing)\n"
    "  --dense-equivalent[=PRESET]\n"
    "                           also simulate a dense model on the same cluster and tokens per\n"
    "                           step (default: the same active parameters; or a named dense\n"
    "                           preset, e.g. llama3-70b) and print both costs side by side\n";

typedef struct run_opts {
    const char *file;
    const char *db;
    const char *trace;
    const char *dense;          /* --dense-equivalent: "" = same active parameters */
    const char **sets;
    size_t n_sets;
    int json, quiet, skip_existing;
} run_opts;

static int parse_args(int argc, char **argv, run_opts *o)
{
    o->sets = sim_calloc((size_t)argc, sizeof *o->sets);
    if (!o->sets)
        return cli_usage_error("run", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(run_usage, stdout);
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--skip-existing") == 0) {
            o->skip_existing = 1;
        } else if (strcmp(a, "--set") == 0 || strcmp(a, "--db") == 0 ||
                   strcmp(a, "--trace") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("run", "%s needs a value", a);
            if (a[2] == 's')
                o->sets[o->n_sets++] = argv[++i];
            else if (a[2] == 't')
                o->trace = argv[++i];
            else
                o->db = argv[++i];
        } else if (strcmp(a, "--dense-equivalent") == 0) {
            o->dense = "";
        } else if (strncmp(a, "--dense-equivalent=", 19) == 0) {
            o->dense = a + 19;
        } else if (strncmp(a, "--set=", 6) == 0) {
            o->sets[o->n_sets++] = a + 6;
        } else if (strncmp(a, "--db=", 5) == 0) {
            o->db = a + 5;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("run", "unknown option '%s'", a);
        } else if (!o->file) {
            o->file = a;
        } else {
            return cli_usage_error("run", "one scenario file at a time (got '%s' and '%s')",
                                   o->file, a);
        }
    }
    if (!o->file)
        return cli_usage_error("run", "missing scenario FILE");
    return 0;
}

/* "dir/name.ini" -> "name" */
static void scenario_name(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, n, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
}

/* The database's directory must exist; the default results/runs/ is created. */
static sim_status prepare_db_path(const char *db, int is_default, sim_err *err)
{
    char *copy = strdup(db);
    if (!copy)
        return sim_err_set(err, SIM_ENOMEM, "out of memory");
    char *dir = dirname(copy);
    struct stat st;
    sim_status s = SIM_OK;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (is_default && (mkdir("results", 0777) == 0 || errno == EEXIST) &&
            (mkdir(dir, 0777) == 0 || errno == EEXIST))
            s = SIM_OK;
        else
            s = sim_err_set(err, SIM_EINPUT, "%s: cannot write the database: directory %s does not exist",
                            db, dir);
    } else if (access(db, F_OK) != 0 && access(dir, W_OK) != 0) {   /* a new file there */
        s = sim_err_set(err, SIM_EIO, "%s: cannot write the database: directory %s is not "
                        "writable (%s)", db, dir, strerror(errno));
    }
    free(copy);
    return s;
}

/* Is this exact scenario (name and every resolved key, seed included) already stored? */
static sim_status find_existing(const char *db_path, const char *name, const scn_config *c,
                                int64_t *found, sim_err *err)
{
    char *resolved = sim_cfg_format(scn_keys, scn_n_keys, c);
    if (!resolved)
        return sim_err_set(err, SIM_ENOMEM, "out of memory");
    res_db *db = NULL;
    sim_status st = res_db_open(db_path, &db, err);
    if (st == SIM_OK)
        st = res_db_find_run(db, name, resolved, found, err);
    res_db_close(db);
    sim_free(resolved);
    return st;
}

typedef struct run_totals {
    int n_steps;
    step_result *steps;
    int64_t *expert_tokens;    /* [steps][layers][experts] summed over GPUs */
    int64_t *expert_dropped;
    res_layer *layers;         /* [steps][layers] routing metrics */
    int64_t *gpu_tokens;       /* [steps][layers][gpus] kept assignments per GPU */
    uint8_t *expert_cold;      /* [steps][layers][experts] cold flags */
    step_result balanced;      /* the balanced counterfactual (same every step) */
    int have_balanced;
    double wall_s;
} run_totals;

static void totals_fini(run_totals *t)
{
    if (t->steps)
        for (int i = 0; i < t->n_steps; i++)
            step_result_fini(&t->steps[i]);
    if (t->have_balanced)
        step_result_fini(&t->balanced);
    sim_free(t->steps);
    sim_free(t->expert_tokens);
    sim_free(t->expert_dropped);
    sim_free(t->layers);
    sim_free(t->gpu_tokens);
    sim_free(t->expert_cold);
}

/* The trace file named by routing.trace, relative to the scenario file's directory. */
static sim_status load_trace(const char *scenario, const scn_config *c, cli_trace *tr,
                             sim_err *err)
{
    char path[1024];
    const char *slash = strrchr(scenario, '/');
    if (c->routing.trace[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", c->routing.trace);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - scenario), scenario,
                 c->routing.trace);
    return cli_trace_load(path, c, tr, err);
}

/* Routing metrics of micro-batch routing r, step s, added into the step's means (weight
 * 1 / n_micro; max/mean ratios take the maximum); GPU loads are scattered from the plane to
 * the GPUs of each layer's stage. */
static void routing_metrics(const scn_config *c, const par_layout *p, const int *stage_of_layer,
                            const route_result *r, const double *P, run_totals *t, int s,
                            int64_t *plane_tokens)
{
    int L = c->model.layers, E = c->model.experts, n = p->world;
    double w = 1.0 / p->n_micro;
    for (int l = 0; l < L; l++) {
        route_layer_stats m;
        route_layer_metrics(r, l, P + (size_t)l * E, NULL, &m, plane_tokens);
        res_layer *o = &t->layers[(size_t)s * L + l];
        o->max_mean_load = fmax(o->max_mean_load, m.max_mean_load);
        o->max_mean_gpu_load = fmax(o->max_mean_gpu_load, m.max_mean_gpu);
        o->cv += w * m.cv;
        o->entropy += w * m.entropy;
        o->aux_loss += w * m.aux_loss;
        o->dropped_fraction += w * m.dropped_fraction;
        int64_t *row = t->gpu_tokens + ((size_t)s * L + l) * n;
        for (int q = 0; q < p->plane; q++)     /* unsimulated replicas: their representative */
            row[par_gpu(p, stage_of_layer[l], q)] += plane_tokens[q % p->sim_plane];
    }
}

/* GPUs whose tasks of the first step are stored for `moesim plot --kind timeline` */
#define TIMELINE_GPUS 16

/* Engine progress within a step, shown as a fraction of the run's steps. */
typedef struct step_progress {
    cli_progress *pr;
    int step, n_steps;
} step_progress;

static void on_engine_progress(void *arg, size_t done, size_t total)
{
    step_progress *sp = arg;
    long scale = 1000;
    cli_progress_update(sp->pr, sp->step * scale + (long)(scale * (double)done / (double)total),
                        sp->n_steps * scale);
}

static sim_status simulate(const scn_config *c, const run_opts *o, const gemm_calib *calib,
                           run_totals *t, sim_err *err)
{
    par_layout pl;
    par_layout_of(c, &pl);
    int L = c->model.layers, E = c->model.experts, n = scn_world(c), M = pl.n_micro;
    t->n_steps = c->training.steps;
    t->steps = sim_calloc((size_t)t->n_steps, sizeof *t->steps);
    t->expert_tokens = sim_calloc((size_t)t->n_steps * L * E, sizeof(int64_t));
    t->expert_dropped = sim_calloc((size_t)t->n_steps * L * E, sizeof(int64_t));
    t->layers = sim_calloc((size_t)t->n_steps * L, sizeof *t->layers);
    t->gpu_tokens = sim_calloc((size_t)t->n_steps * L * n, sizeof *t->gpu_tokens);
    t->expert_cold = sim_calloc((size_t)t->n_steps * L * E, sizeof *t->expert_cold);
    double *P = sim_malloc((size_t)L * E * sizeof *P);
    double *routed = sim_malloc((size_t)L * E * sizeof *routed);
    int64_t *plane_tokens = sim_malloc((size_t)pl.sim_plane * sizeof *plane_tokens);
    int64_t rep = pl.plane / pl.sim_plane;   /* run.replicas: each simulated GPU stands for rep */
    int *stage_of_layer = sim_malloc((size_t)L * sizeof *stage_of_layer);
    gsl_rng *rng = sim_rng_new(c->run.seed, RNG_STREAM_ROUTING);
    gsl_rng *drop_rng = sim_rng_new(c->run.seed, RNG_STREAM_DROPPING);
    gsl_rng *dyn_rng = sim_rng_new(c->run.seed, RNG_STREAM_DYNAMICS);
    gsl_rng *pop_rng = sim_rng_new(c->run.seed, RNG_STREAM_POPULARITY);
    gsl_rng *bal_rng = sim_rng_new(c->run.seed, RNG_STREAM_BALANCED);
    cli_trace trace = {0};
    route_input in = {0};
    route_router *rt = NULL;
    step_routing *sr = NULL;
    sim_status st = SIM_OK;
    if (!t->steps || !t->expert_tokens || !t->expert_dropped || !t->layers || !t->gpu_tokens ||
        !t->expert_cold || !P || !routed || !plane_tokens || !stage_of_layer || !rng ||
        !drop_rng || !dyn_rng || !pop_rng || !bal_rng) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory");
        goto done;
    }
    for (int l = 0; l < L; l++)     /* to map the routing plane's index q to a GPU */
        stage_of_layer[l] = par_layer_stage(&pl, L, l);
    if (strcmp(c->routing.model, "trace") == 0) {
        st = load_trace(o->file, c, &trace, err);
        if (st != SIM_OK)
            goto done;
        in.trace = &trace.t;
    }
    st = route_router_new(c, &in, pop_rng, &rt, err);
    if (st != SIM_OK)
        goto done;
    cli_progress pr;
    cli_progress_init(&pr, "simulating", o->quiet || o->json);
    step_progress sp = {.pr = &pr, .n_steps = t->n_steps};
    for (int s = 0; s < t->n_steps && st == SIM_OK; s++) {
        /* every micro-batch of the step draws its own tokens from the step's router */
        if ((st = step_routing_new(c, &sr, err)) != SIM_OK)
            break;
        for (int mb = 0; mb < M && st == SIM_OK; mb++) {
            route_result r;
            st = route_router_sample(rt, s, rng, drop_rng, &r, err);
            if (st != SIM_OK)
                break;
            for (int l = 0; l < L; l++)
                for (int g = 0; g < pl.sim_plane; g++)
                    for (int e = 0; e < E; e++) {
                        size_t i = ((size_t)l * pl.sim_plane + g) * E + e;
                        size_t j = ((size_t)s * L + l) * E + e;
                        t->expert_tokens[j] += rep * r.counts[i];
                        t->expert_dropped[j] += rep * r.dropped[i];
                    }
            if (mb == 0)    /* the step's probabilities, before observing moves them on */
                for (int l = 0; l < L; l++)
                    memcpy(P + (size_t)l * E, route_router_probs(rt, l), (size_t)E * sizeof *P);
            routing_metrics(c, &pl, stage_of_layer, &r, P, t, s, plane_tokens);
            step_routing_set(sr, mb, &r);
            route_result_fini(&r);
        }
        if (st != SIM_OK)
            break;
        for (size_t i = 0; i < (size_t)L * E; i++) {
            size_t j = (size_t)s * L * E + i;
            routed[i] = (double)(t->expert_tokens[j] + t->expert_dropped[j]);
        }
        uint8_t *cold = t->expert_cold + (size_t)s * L * E;
        route_router_observe_loads(rt, routed, dyn_rng, cold);
        for (int l = 0; l < L; l++) {
            int k = 0;
            for (int e = 0; e < E; e++)
                k += cold[(size_t)l * E + e];
            t->layers[(size_t)s * L + l].cold_experts = k;
        }
        sp.step = s;
        /* the first step's tasks: the timeline's GPUs, or every GPU for a trace */
        step_opts so = {.calib = calib, .keep_spans = s == 0,
                        .span_gpus = o->trace ? 0 : TIMELINE_GPUS,
                        .progress = on_engine_progress, .progress_ctx = &sp};
        st = step_simulate_routing(c, sr, &so, &t->steps[s], err);
        step_routing_free(sr);
        sr = NULL;
        cli_progress_update(&pr, (long)(s + 1) * 1000, (long)t->n_steps * 1000);
    }
    cli_progress_done(&pr);
    if (st == SIM_OK && c->run.balanced) {
        /* the balanced counterfactual: the same scenario, every expert exactly T k / E */
        route_result b;
        st = route_router_balanced(rt, bal_rng, &b, err);
        if (st == SIM_OK) {
            step_opts so = {.calib = calib};
            st = step_simulate(c, &b, &so, &t->balanced, err);
            t->have_balanced = st == SIM_OK;
            route_result_fini(&b);
        }
    }
done:
    route_router_free(rt);
    step_routing_free(sr);
    cli_trace_fini(&trace);
    sim_free(P);
    sim_free(routed);
    sim_free(plane_tokens);
    sim_free(stage_of_layer);
    gsl_rng *rngs[] = {rng, drop_rng, dyn_rng, pop_rng, bal_rng};
    for (size_t i = 0; i < sizeof rngs / sizeof rngs[0]; i++)
        if (rngs[i])
            gsl_rng_free(rngs[i]);
    return st;
}

typedef struct summary {
    double step_time_s, breakdown_s[STEP_N_CAT];
    double tokens, dropped, max_mean_load;
    double assignments;         /* token-expert assignments: tokens x top_k x MoE layers */
    double dropped_fraction;    /* dropped / assignments; 0 for a dense model */
    uint64_t events;
    double tasks;               /* task-graph tasks per step (mean) */
    /* routing (docs/ROUTING.md): means over steps and layers, maxima, the last step's cold
     * experts, and the balanced counterfactual */
    double max_mean_gpu_load, cv, entropy, aux_loss;
    int cold_experts;
    double balanced_step_time_s, imbalance_cost_s, imbalance_cost_percent;
    cost_result cost;           /* throughput, MFU and training cost (models/cost.h) */
    mem_footprint mem;          /* per GPU */
    /* overlap (means over steps): time with a GPU's sends in flight, the part of it
     * under its compute, and compute-stream busy fractions over GPUs */
    double comm_s, comm_overlapped_s;
    double busy_min, busy_mean, busy_max;
} summary;

static void summarize(const scn_config *c, const run_totals *t, summary *s)
{
    memset(s, 0, sizeof *s);
    sim_time total = 0, cat[STEP_N_CAT] = {0};
    for (int i = 0; i < t->n_steps; i++) {
        const step_result *r = &t->steps[i];
        total += r->step_time;
        for (int k = 0; k < STEP_N_CAT; k++)
            cat[k] += r->breakdown[k];
        s->tokens += r->tokens;
        s->dropped += r->dropped;
        if (r->max_mean_load > s->max_mean_load)
            s->max_mean_load = r->max_mean_load;
        s->events += r->events;
        s->tasks += (double)r->n_tasks / t->n_steps;
    }
    s->assignments = s->tokens * c->model.top_k * arch_moe_layers(c);
    s->dropped_fraction = s->assignments > 0 ? s->dropped / s->assignments : 0.0;
    s->busy_min = 1;
    for (int i = 0; i < t->n_steps; i++) {
        const step_result *r = &t->steps[i];
        double st = sim_time_to_s(r->step_time), w = 1.0 / t->n_steps;
        s->comm_s += w * r->comm_s;
        s->comm_overlapped_s += w * r->comm_overlapped_s;
        double lo = 1, hi = 0, mean = 0;
        for (int g = 0; g < r->n_gpus; g++) {
            double f = st > 0 ? r->gpu_busy_s[g] / st : 0;
            lo = fmin(lo, f);
            hi = fmax(hi, f);
            mean += f / r->n_gpus;
        }
        s->busy_min = fmin(s->busy_min, lo);
        s->busy_max = fmax(s->busy_max, hi);
        s->busy_mean += w * mean;
    }
    s->step_time_s = sim_time_to_s(total) / t->n_steps;
    for (int k = 0; k < STEP_N_CAT; k++)
        s->breakdown_s[k] = sim_time_to_s(cat[k]) / t->n_steps;
    int L = c->model.layers;
    size_t cells = (size_t)t->n_steps * L;
    for (size_t i = 0; i < cells; i++) {
        const res_layer *m = &t->layers[i];
        if (m->max_mean_gpu_load > s->max_mean_gpu_load)
            s->max_mean_gpu_load = m->max_mean_gpu_load;
        s->cv += m->cv / (double)cells;
        s->entropy += m->entropy / (double)cells;
        s->aux_loss += m->aux_loss / (double)cells;
    }
    for (int l = 0; l < L; l++)
        s->cold_experts += t->layers[(size_t)(t->n_steps - 1) * L + l].cold_experts;
    if (t->have_balanced) {
        s->balanced_step_time_s = sim_time_to_s(t->balanced.step_time);
        s->imbalance_cost_s = s->step_time_s - s->balanced_step_time_s;
        s->imbalance_cost_percent = 100.0 * s->imbalance_cost_s / s->step_time_s;
    }
    cost_of(c, s->step_time_s, s->tokens / t->n_steps, &s->cost);
    mem_footprint_of(c, NULL, &s->mem);
}


/* The step's busiest links as the database takes them (names point into r). */
static void links_of(const step_result *r, res_link *out)
{
    for (int l = 0; l < r->n_links; l++)
        out[l] = (res_link){.name = r->links[l].name,
                            .capacity_bytes_per_s = r->links[l].capacity_bytes_per_s,
                            .bytes = r->links[l].bytes, .busy_s = r->links[l].busy_s};
}

/* The first step's tasks as a Chrome trace: a process per GPU with a compute track and a
 * track of the messages it sends (async spans: they overlap), then a process with a counter
 * per busy link (the step's busiest links: busy percent and GB carried). */
static sim_status write_trace(const char *path, const char *name, const run_totals *t,
                              int n_gpus, sim_err *err)
{
    res_trace *tr = NULL;
    sim_status st = res_trace_open(path, &tr, err);
    if (st != SIM_OK)
        return st;
    for (int g = 0; g < n_gpus; g++) {
        char label[160];
        snprintf(label, sizeof label, "GPU %d (%.100s)", g, name);
        res_trace_name_process(tr, g, label, g);
        res_trace_name_thread(tr, g, 0, "compute");
        res_trace_name_thread(tr, g, 1, "sends");
    }
    const step_result *r = &t->steps[0];
    for (size_t i = 0; i < r->n_spans; i++) {
        const step_span *p = &r->spans[i];
        const char *cat = step_category_names[p->category];
        double ts = (double)p->start / 1e6, dur = (double)(p->end - p->start) / 1e6;
        if (p->is_flow)
            res_trace_async(tr, p->gpu, 1, (uint64_t)i, cat, cat, ts, dur, "bytes", p->bytes);
        else
            res_trace_complete(tr, p->gpu, 0, cat, cat, ts, dur, NULL, 0);
    }
    res_link links[STEP_MAX_LINKS];
    assert(r->n_links >= 0 && r->n_links <= STEP_MAX_LINKS);
    links_of(r, links);
    res_trace_links(tr, n_gpus, n_gpus, 0, sim_time_to_s(r->step_time), links, r->n_links);
    return res_trace_close(tr, err);
}

static sim_status store(const char *db_path, const char *name, const char *text,
                        const scn_config *c, const run_totals *t, const summary *s,
                        time_t started, int64_t *run_id, sim_err *err)
{
    int n = scn_world(c), L = c->model.layers, E = c->model.experts;
    par_layout pl;
    par_layout_of(c, &pl);
    char *resolved = sim_cfg_format(scn_keys, scn_n_keys, c);
    res_step *steps = sim_calloc((size_t)t->n_steps, sizeof *steps);
    res_span *spans = NULL;
    size_t n_spans = 0;
    double (*bd)[STEP_N_CAT] = sim_calloc((size_t)t->n_steps, sizeof *bd);
    res_link (*links)[STEP_MAX_LINKS] = sim_calloc((size_t)t->n_steps, sizeof *links);
    sim_status st = SIM_OK;
    res_db *db = NULL;
    if (!resolved || !steps || !bd || !links) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory");
        goto done;
    }
    /* the timeline: step 0's tasks on the first TIMELINE_GPUS GPUs */
    const step_result *r0 = &t->steps[0];
    spans = sim_malloc((r0->n_spans ? r0->n_spans : 1) * sizeof *spans);
    if (!spans) {
        st = sim_err_set(err, SIM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r0->n_spans; i++) {
        const step_span *p = &r0->spans[i];
        if (p->gpu < TIMELINE_GPUS)
            spans[n_spans++] = (res_span){.gpu = p->gpu, .stream = p->is_flow,
                                          .category_index = p->category,
                                          .start_s = sim_time_to_s(p->start),
                                          .end_s = sim_time_to_s(p->end), .bytes = p->bytes};
    }
    for (int i = 0; i < t->n_steps; i++) {
        const step_result *r = &t->steps[i];
        for (int k = 0; k < STEP_N_CAT; k++)
            bd[i][k] = sim_time_to_s(r->breakdown[k]);
        assert(r->n_links >= 0 && r->n_links <= STEP_MAX_LINKS);
        links_of(r, links[i]);
        steps[i] = (res_step){
            .step = i,
            .step_time_s = sim_time_to_s(r->step_time),
            .tokens = r->tokens,
            .dropped_tokens = r->dropped,
            .max_mean_load = r->max_mean_load,
            .events = r->events,
            .breakdown_s = bd[i],
            .gpu_busy_s = r->gpu_busy_s,
            .expert_tokens = t->expert_tokens + (size_t)i * L * E,
            .expert_dropped = t->expert_dropped + (size_t)i * L * E,
            .layers = t->layers + (size_t)i * L,
            .gpu_tokens = t->gpu_tokens + (size_t)i * L * n,
            .expert_cold = t->expert_cold + (size_t)i * L * E,
            .spans = i == 0 ? spans : NULL,
            .n_spans = i == 0 ? n_spans : 0,
            .links = links[i],
            .n_links = r->n_links,
        };
    }
    res_memory mem = {.n_parts = MEM_N_PARTS, .part_names = mem_part_names,
                      .part_bytes = s->mem.part_bytes, .total_bytes = s->mem.total_bytes,
                      .capacity_bytes = s->mem.capacity_bytes, .fits = s->mem.fits};
    res_metric metrics[] = {
        {"step_time_s", s->step_time_s},
        {"tokens_per_s_per_gpu", s->tokens / t->n_steps / s->step_time_s / n},
        {"dropped_fraction", s->dropped_fraction},
        {"max_mean_load", s->max_mean_load},
        {"events", (double)s->events},
        /* per expert and layer, summed over the EP groups; 0 = dropless */
        /* per expert, layer and step: summed over the EP groups and micro-batches, as the
         * expert_load rows are; 0 = dropless */
        {"expert_capacity",
         c->routing.capacity_factor > 0
             ? (double)route_capacity(c->routing.capacity_factor, pl.tokens_per_src * pl.ep,
                                      c->model.top_k, E) *
                   (pl.plane / pl.ep) * pl.n_micro
             : 0.0},
        {"max_mean_gpu_load", s->max_mean_gpu_load},
        {"cv", s->cv},
        {"entropy", s->entropy},
        {"aux_loss", s->aux_loss},
        {"cold_experts", s->cold_experts},
        {"tokens_per_s", s->cost.tokens_per_s},
        {"model_tflops_per_gpu", s->cost.model_tflops_per_gpu},
        {"mfu", s->cost.mfu},
        {"params_total", s->cost.params_total},
        {"params_active", s->cost.params_active},
        {"gpu_hours", s->cost.gpu_hours},
        {"cost_usd", s->cost.cost_usd},
        {"gpu_hours_per_trillion_tokens", s->cost.gpu_hours_per_trillion_tokens},
        {"memory_per_gpu_bytes", s->mem.total_bytes},
        {"fits", s->mem.total_bytes <= s->mem.capacity_bytes ? 1.0 : 0.0},
        {"comm_s", s->comm_s},
        {"comm_overlapped_s", s->comm_overlapped_s},
        {"gpu_busy_fraction_mean", s->busy_mean},
        /* last: absent without the counterfactual (run.balanced = false) */
        {"balanced_step_time_s", s->balanced_step_time_s},
        {"imbalance_cost_s", s->imbalance_cost_s},
        {"imbalance_cost_percent", s->imbalance_cost_percent},
    };
    int n_metrics = (int)(sizeof metrics / sizeof metrics[0]) - (t->have_balanced ? 0 : 3);
    res_run run = {
        .name = name,
        .scenario_text = text,
        .resolved = resolved,
        .seed = c->run.seed,
        .version = MOESIM_VERSION,
        .started_unix = (int64_t)started,
        .wall_s = t->wall_s,
        .n_gpus = n,
        .n_layers = L,
        .n_experts = E,
        .n_categories = STEP_N_CAT,
        .category_names = step_category_names,
        .n_steps = t->n_steps,
        .steps = steps,
        .n_metrics = n_metrics,
        .metrics = metrics,
        .memory = &mem,
    };
    st = res_db_open(db_path, &db, err);
    if (st == SIM_OK)
        st = res_db_write_run(db, &run, run_id, err);
done:
    res_db_close(db);
    sim_free(spans);
    sim_free(resolved);
    sim_free(steps);
    sim_free(bd);
    sim_free(links);
    return st;
}

static void print_summary(const char *file, const scn_config *c, const run_totals *t,
                          const summary *s, const char *db_path, int64_t run_id)
{
    int n = scn_world(c);
    double tok_step = s->tokens / t->n_steps;
    printf("moesim %s  %s  (seed %llu, %d step%s)\n", MOESIM_VERSION, file,
           (unsigned long long)c->run.seed, t->n_steps, t->n_steps == 1 ? "" : "s");
    printf("cluster    %d x %s (%d node%s x %d), intra %s %.0f GB/s, inter %s %.0f Gb/s\n", n,
           c->cluster.gpu, c->cluster.nodes, c->cluster.nodes == 1 ? "" : "s",
           c->cluster.gpus_per_node, c->cluster.intra, c->cluster.intra_bw_GBps,
           c->cluster.inter, c->cluster.inter_bw_Gbps);
    par_layout pl;
    par_layout_of(c, &pl);
    printf("model      %s%s%d layers, hidden %d, %d experts top-%d, expert ffn %d\n",
           c->model.name, c->model.name[0] ? ": " : "", c->model.layers, c->model.hidden,
           c->model.experts, c->model.top_k, c->model.ffn_expert);
    char sched[96] = "no pipeline";
    if (pl.pp > 1)
        snprintf(sched, sizeof sched, "%s schedule", c->parallel.schedule);
    if (pl.vpp > 1)
        snprintf(sched, sizeof sched, "%s schedule, %d chunks per stage", c->parallel.schedule,
                 pl.vpp);
    printf("parallel   TP %d x PP %d x DP %d, EP %d (expert DP %d); %d micro-batch%s of %d x %d "
           "tokens per DP rank, %s, ZeRO %d, overlap %s\n",
           pl.tp, pl.pp, pl.dp, pl.ep, pl.edp, pl.n_micro, pl.n_micro == 1 ? "" : "es",
           c->training.micro_batch, c->training.seq_len, sched, c->parallel.zero,
           c->training.overlap ? "on" : "off");
    printf("step time  %.3f ms%s\n", s->step_time_s * 1e3, t->n_steps > 1 ? " (mean)" : "");
    printf("throughput %.0f tokens/s, %.1f tokens/s per GPU\n", tok_step / s->step_time_s,
           tok_step / s->step_time_s / n);
    printf("compute    %.1f model TFLOP/s per GPU, MFU %.1f%% of %.0f TFLOP/s %s peak "
           "(%.3g training FLOPs per token)\n",
           s->cost.model_tflops_per_gpu, 100 * s->cost.mfu, s->cost.peak_tflops,
           c->training.precision, s->cost.flops_per_token_train);
    printf("cost       %.3g tokens: %.0f GPU-hours (%.1f days on these %d GPUs), $%.0f at "
           "$%.2f/GPU-hour; %.0f GPU-hours per trillion tokens\n",
           c->cost.train_tokens, s->cost.gpu_hours, s->cost.wall_days, n, s->cost.cost_usd,
           c->cost.usd_per_gpu_hour, s->cost.gpu_hours_per_trillion_tokens);
    printf("breakdown (critical path):\n");
    for (int k = 0; k < STEP_N_CAT; k++)
        printf("  %-14s %10.3f ms  %5.1f%%\n", step_category_names[k], s->breakdown_s[k] * 1e3,
               100.0 * s->breakdown_s[k] / s->step_time_s);
    printf("overlap    each GPU has sends in flight %.3f ms per step, %.1f%% of it under its own "
           "compute; compute busy %.1f%% of the step (min %.1f%%, max %.1f%%)\n",
           s->comm_s * 1e3, s->comm_s > 0 ? 100 * s->comm_overlapped_s / s->comm_s : 0.0,
           100 * s->busy_mean, 100 * s->busy_min, 100 * s->busy_max);
    if (s->assignments > 0)
        printf("routing    %s; dropped %.0f of %.0f token-expert assignments (%.2f%%); "
               "load max/mean %.3f\n",
               c->routing.model, s->dropped, s->assignments, 100.0 * s->dropped_fraction,
               s->max_mean_load);
    else
        printf("routing    none: no MoE layers\n");
    cli_memory_print(c, &s->mem);
    printf("balance    GPU load max/mean %.3f; cv %.3f, entropy %.3f, aux loss %.3f; "
           "cold experts %d of %d\n",
           s->max_mean_gpu_load, s->cv, s->entropy, s->aux_loss, s->cold_experts,
           c->model.layers * c->model.experts);
    if (t->have_balanced)
        printf("imbalance  balanced step %.3f ms; the imbalance costs %.3f ms (%.1f%% of the "
               "step)\n",
               s->balanced_step_time_s * 1e3, s->imbalance_cost_s * 1e3,
               s->imbalance_cost_percent);
    else
        printf("imbalance  not computed (run.balanced = false)\n");
    printf("engine     %llu events in %.3f s wall\n", (unsigned long long)s->events, t->wall_s);
    printf("results    %s (run %lld)\n", db_path, (long long)run_id);
}

static int print_json(const scn_config *c, const run_totals *t, const summary *s,
                      const char *db_path, int64_t run_id, const summary *dense)
{
    int n = scn_world(c);
    double tok_step = s->tokens / t->n_steps;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return 1;
    cJSON_AddNumberToObject(o, "step_time_s", s->step_time_s);
    cJSON *bd = cJSON_AddObjectToObject(o, "breakdown_s");
    for (int k = 0; k < STEP_N_CAT && bd; k++)
        cJSON_AddNumberToObject(bd, step_category_names[k], s->breakdown_s[k]);
    cJSON_AddNumberToObject(o, "tokens_per_s", tok_step / s->step_time_s);
    cJSON_AddNumberToObject(o, "tokens_per_s_per_gpu", tok_step / s->step_time_s / n);
    cJSON_AddNumberToObject(o, "dropped_fraction", s->dropped_fraction);
    cJSON_AddNumberToObject(o, "max_mean_load", s->max_mean_load);
    cJSON_AddNumberToObject(o, "events", (double)s->events);
    cJSON_AddNumberToObject(o, "tasks", (double)s->tasks);
    cJSON_AddStringToObject(o, "routing", c->routing.model);
    cJSON_AddNumberToObject(o, "max_mean_gpu_load", s->max_mean_gpu_load);
    cJSON_AddNumberToObject(o, "cv", s->cv);
    cJSON_AddNumberToObject(o, "entropy", s->entropy);
    cJSON_AddNumberToObject(o, "aux_loss", s->aux_loss);
    cJSON_AddNumberToObject(o, "cold_experts", s->cold_experts);
    if (t->have_balanced) {
        cJSON_AddNumberToObject(o, "balanced_step_time_s", s->balanced_step_time_s);
        cJSON_AddNumberToObject(o, "imbalance_cost_s", s->imbalance_cost_s);
        cJSON_AddNumberToObject(o, "imbalance_cost_percent", s->imbalance_cost_percent);
    } else {   /* not computed: null, never a made-up number */
        cJSON_AddNullToObject(o, "balanced_step_time_s");
        cJSON_AddNullToObject(o, "imbalance_cost_s");
        cJSON_AddNullToObject(o, "imbalance_cost_percent");
    }
    cJSON_AddNumberToObject(o, "wall_s", t->wall_s);
    cJSON_AddNumberToObject(o, "gpus", n);
    cJSON_AddNumberToObject(o, "steps", t->n_steps);
    cJSON *arr = cJSON_AddArrayToObject(o, "step_times_s");
    for (int i = 0; i < t->n_steps && arr; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(sim_time_to_s(t->steps[i].step_time)));
    cJSON_AddNumberToObject(o, "model_tflops_per_gpu", s->cost.model_tflops_per_gpu);
    cJSON_AddNumberToObject(o, "mfu", s->cost.mfu);
    cJSON_AddNumberToObject(o, "megatron_tflops_per_gpu", s->cost.megatron_tflops_per_gpu);
    cJSON_AddNumberToObject(o, "params_total", s->cost.params_total);
    cJSON_AddNumberToObject(o, "params_active", s->cost.params_active);
    cJSON_AddNumberToObject(o, "flops_per_token_train", s->cost.flops_per_token_train);
    cJSON_AddNumberToObject(o, "train_tokens", c->cost.train_tokens);
    cJSON_AddNumberToObject(o, "gpu_hours", s->cost.gpu_hours);
    cJSON_AddNumberToObject(o, "wall_days", s->cost.wall_days);
    cJSON_AddNumberToObject(o, "cost_usd", s->cost.cost_usd);
    cJSON_AddNumberToObject(o, "gpu_hours_per_trillion_tokens",
                            s->cost.gpu_hours_per_trillion_tokens);
    cJSON *par = cJSON_AddObjectToObject(o, "parallel");
    if (par) {
        par_layout pl;
        par_layout_of(c, &pl);
        cJSON_AddNumberToObject(par, "tp", pl.tp);
        cJSON_AddNumberToObject(par, "pp", pl.pp);
        cJSON_AddNumberToObject(par, "dp", pl.dp);
        cJSON_AddNumberToObject(par, "ep", pl.ep);
        cJSON_AddNumberToObject(par, "edp", pl.edp);
        cJSON_AddNumberToObject(par, "vpp", pl.vpp);
        cJSON_AddNumberToObject(par, "micro_batches", pl.n_micro);
        cJSON_AddStringToObject(par, "schedule", c->parallel.schedule);
    }
    cJSON_AddNumberToObject(o, "comm_s", s->comm_s);
    cJSON_AddNumberToObject(o, "comm_overlapped_s", s->comm_overlapped_s);
    cJSON_AddNumberToObject(o, "comm_exposed_s", s->comm_s - s->comm_overlapped_s);
    cJSON *busy = cJSON_AddObjectToObject(o, "gpu_busy_fraction");
    if (busy) {
        cJSON_AddNumberToObject(busy, "min", s->busy_min);
        cJSON_AddNumberToObject(busy, "mean", s->busy_mean);
        cJSON_AddNumberToObject(busy, "max", s->busy_max);
    }
    cJSON_AddNumberToObject(o, "memory_per_gpu_bytes", s->mem.total_bytes);
    cJSON_AddBoolToObject(o, "fits", s->mem.total_bytes <= s->mem.capacity_bytes);
    cli_memory_json(o, &s->mem);
    if (dense) {
        cJSON *d = cJSON_AddObjectToObject(o, "dense_equivalent");
        if (d) {
            cJSON_AddNumberToObject(d, "step_time_s", dense->step_time_s);
            cJSON_AddNumberToObject(d, "tokens_per_s_per_gpu", dense->cost.tokens_per_s_per_gpu);
            cJSON_AddNumberToObject(d, "model_tflops_per_gpu", dense->cost.model_tflops_per_gpu);
            cJSON_AddNumberToObject(d, "mfu", dense->cost.mfu);
            cJSON_AddNumberToObject(d, "params_total", dense->cost.params_total);
            cJSON_AddNumberToObject(d, "params_active", dense->cost.params_active);
            cJSON_AddNumberToObject(d, "gpu_hours", dense->cost.gpu_hours);
            cJSON_AddNumberToObject(d, "cost_usd", dense->cost.cost_usd);
            cJSON_AddNumberToObject(d, "memory_per_gpu_bytes", dense->mem.total_bytes);
            cJSON_AddBoolToObject(d, "fits", dense->mem.total_bytes <= dense->mem.capacity_bytes);
        }
    }
    cJSON_AddStringToObject(o, "db", db_path);
    cJSON_AddNumberToObject(o, "run_id", (double)run_id);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt)
        return 1;
    puts(txt);
    cJSON_free(txt);
    return 0;
}

/* The dense comparator of an MoE scenario: the same cluster, parallelism, sequence and batch,
 * with either a dense FFN of the same active size (k routed + shared experts' widths) or a
 * named preset's whole [model] section. */
static sim_status dense_config(const scn_config *c, const char *preset, scn_config *d,
                               sim_err *err)
{
    *d = *c;
    if (preset[0]) {
        char text[160];
        snprintf(text, sizeof text, "[model]\npreset = %.100s\n", preset);
        scn_config p;
        sim_status st = cli_load_scenario_text("--dense-equivalent", text, NULL, 0, &p, err);
        if (st != SIM_OK)
            return st;
        d->model = p.model;
    } else {
        int fs = c->model.ffn_shared > 0 ? c->model.ffn_shared : c->model.ffn_expert;
        int moe_ffn = c->model.top_k * c->model.ffn_expert + c->model.shared_experts * fs;
        if (c->model.dense_layers > 0 && c->model.ffn_dense != moe_ffn)
            return sim_err_set(err, SIM_EINPUT,
                               "--dense-equivalent: the model has dense layers of another width "
                               "(ffn_dense %d vs %d); name a dense preset instead",
                               c->model.ffn_dense, moe_ffn);
        d->model.dense_layers = c->model.layers;
        d->model.ffn_dense = moe_ffn;
        d->model.experts = 1;
        d->model.top_k = 1;
        d->model.shared_experts = 0;
    }
    if (d->model.dense_layers != d->model.layers)
        return sim_err_set(err, SIM_EINPUT, "--dense-equivalent=%s: not a dense model (%d of %d "
                           "layers are dense)", preset, d->model.dense_layers, d->model.layers);
    d->parallel.ep = 1;
    snprintf(d->routing.model, sizeof d->routing.model, "uniform");
    d->routing.capacity_factor = 0;
    d->routing.node_limit = d->routing.group_nodes = 0;
    snprintf(d->routing.dynamics, sizeof d->routing.dynamics, "none");
    d->placement.spare_slots = 0;
    const sim_cfg_key *bad = NULL;
    sim_status st = scn_resolve(d, &bad, err);
    if (st != SIM_OK) {
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        sim_err_set(err, st, "--dense-equivalent: %.900s", msg);
    }
    return st;
}

static void compare_row(const char *what, const char *fmt, double moe, double dense)
{
    char a[64], b[64];
    snprintf(a, sizeof a, fmt, moe);
    snprintf(b, sizeof b, fmt, dense);
    printf("  %-30s %18s %18s\n", what, a, b);
}

static void print_comparison(const scn_config *c, const summary *m, const scn_config *dc,
                             const summary *d, const char *preset)
{
    printf("\ndense comparator: %s, on the same cluster and tokens per step\n",
           preset[0] ? preset : "a dense model with the same active parameters");
    printf("  %-30s %18s %18s\n", "", "MoE (scenario)", "dense");
    compare_row("parameters total (B)", "%.2f", m->cost.params_total / 1e9,
                d->cost.params_total / 1e9);
    compare_row("parameters active (B)", "%.2f", m->cost.params_active / 1e9,
                d->cost.params_active / 1e9);
    compare_row("step time (ms)", "%.3f", m->step_time_s * 1e3, d->step_time_s * 1e3);
    compare_row("tokens/s per GPU", "%.1f", m->cost.tokens_per_s_per_gpu,
                d->cost.tokens_per_s_per_gpu);
    compare_row("model TFLOP/s per GPU", "%.1f", m->cost.model_tflops_per_gpu,
                d->cost.model_tflops_per_gpu);
    compare_row("MFU (%)", "%.1f", 100 * m->cost.mfu, 100 * d->cost.mfu);
    compare_row("memory per GPU (GB)", "%.1f", m->mem.total_bytes / 1e9, d->mem.total_bytes / 1e9);
    compare_row("fits", "%.0f", m->mem.total_bytes <= m->mem.capacity_bytes,
                d->mem.total_bytes <= d->mem.capacity_bytes);
    compare_row("GPU-hours for train_tokens", "%.0f", m->cost.gpu_hours, d->cost.gpu_hours);
    compare_row("cost (USD)", "%.0f", m->cost.cost_usd, d->cost.cost_usd);
    double r = d->cost.cost_usd / m->cost.cost_usd;
    printf("  the MoE run costs %.2fx %s the dense one (%.3g tokens, $%.2f/GPU-hour)\n",
           r >= 1 ? r : 1 / r, r >= 1 ? "less than" : "more than", c->cost.train_tokens,
           c->cost.usd_per_gpu_hour);
    (void)dc;
}

int cli_run(int argc, char **argv)
{
    run_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        sim_free(o.sets);
        return rc < 0 ? 0 : rc;
    }
    sim_err err = {0};
    scn_config c;
    char *text = NULL, name[256], db_buf[512];
    run_totals t = {0};
    summary s;
    int64_t run_id = 0;
    gemm_calib calib = {NULL, 0};
    time_t started = time(NULL);
    double t0 = cli_now_s();

    sim_status st = cli_load_scenario(o.file, o.sets, o.n_sets, &c, &text, &err);
    if (st != SIM_OK)
        goto out;
    scenario_name(o.file, name, sizeof name);
    if (!o.db) {
        snprintf(db_buf, sizeof db_buf, "results/runs/%s.db", name);
        o.db = db_buf;
    }
    st = prepare_db_path(o.db, o.db == db_buf, &err);
    if (st != SIM_OK)
        goto out;
    {   /* fail now, not after the simulation, if the database cannot take the run; create
         * nothing yet: input errors found while simulating must leave no file behind */
        struct stat dbst;
        if (stat(o.db, &dbst) == 0) {
            res_db *probe = NULL;
            st = res_db_open(o.db, &probe, &err);
            res_db_close(probe);
            if (st != SIM_OK)
                goto out;
        }
    }
    if (o.skip_existing) {
        int64_t found = 0;
        st = find_existing(o.db, name, &c, &found, &err);
        if (st != SIM_OK)
            goto out;
        if (found) {
            if (o.json)
                printf("{\"skipped\": true, \"db\": \"%s\", \"run_id\": %lld}\n", o.db,
                       (long long)found);
            else
                printf("skipped: %s already holds this run (run %lld)\n", o.db,
                       (long long)found);
            goto out;
        }
    }
    if (c.gemm.calibration[0] &&
        (st = cli_load_gemm_calib(c.gemm.calibration, &calib, &err)) != SIM_OK)
        goto out;
    st = simulate(&c, &o, calib.n ? &calib : NULL, &t, &err);
    if (st != SIM_OK)
        goto out;
    t.wall_s = cli_now_s() - t0;
    summarize(&c, &t, &s);
    if (o.trace && (st = write_trace(o.trace, name, &t, scn_world(&c), &err)) != SIM_OK)
        goto out;
    st = store(o.db, name, text, &c, &t, &s, started, &run_id, &err);
    if (st != SIM_OK)
        goto out;
    scn_config dc;
    run_totals dt = {0};
    summary ds;
    if (o.dense) {
        st = dense_config(&c, o.dense, &dc, &err);
        if (st == SIM_OK)
            st = simulate(&dc, &o, calib.n ? &calib : NULL, &dt, &err);
        if (st != SIM_OK) {
            totals_fini(&dt);
            goto out;
        }
        summarize(&dc, &dt, &ds);
    }
    if (o.json)
        rc = print_json(&c, &t, &s, o.db, run_id, o.dense ? &ds : NULL);
    else
        print_summary(o.file, &c, &t, &s, o.db, run_id);
    if (o.dense && !o.json)
        print_comparison(&c, &s, &dc, &ds, o.dense);
    totals_fini(&dt);
out:
    if (st != SIM_OK)
        rc = cli_fail(&err);
    totals_fini(&t);
    sim_free(calib.pts);
    sim_free(text);
    sim_free(o.sets);
    return rc;
}
