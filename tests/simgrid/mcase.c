/* tests/simgrid/mcase.c: the moesim side of the SimGrid comparison (tests/simgrid/README.md).
 * Writes contended cases as text and simulates them with moesim's flow model.
 *
 *   mcase gen random SEED        a random case: 2-12 links of 1-20 GB/s, 1-40 flows of
 *                                1e6-1e9 bytes over 1-3 links, starts on a 10 us grid
 *   mcase gen a2a KEY=VALUE...   a uniform all-to-all (direct: one flow per ordered pair)
 *                                over moesim's own topology of the scenario given by the
 *                                overrides (e.g. cluster.nodes=4); bytes=B sets the bytes
 *                                per GPU (default 256 MiB); hot=1 makes GPU 0 send 4x
 *   mcase run FILE               simulates FILE, prints "flow end_s" per flow, and the
 *                                wall time and peak memory on stderr
 *
 * Case format, one record per line:
 *   H n                          n hosts (0..n-1)
 *   L bw_bytes_per_s lat_s       a link (ids 0, 1, ... in order); one direction
 *   F src dst start_s bytes extra_lat_s k l1 .. lk
 *                                a flow from host src to host dst over links l1..lk,
 *                                starting at start_s, paying the links' latencies plus
 *                                extra_lat_s before its bytes move
 * SimGrid's CM02 shares a link between flows in inverse proportion to their latency
 * (TCP's RTT unfairness), moesim equally: so every generated case gives all flows that
 * can meet on a link the same latency. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "models/scenario.h"
#include "models/topo.h"
#include "sim/cfg.h"
#include "sim/engine.h"
#include "sim/net.h"
#include "sim/rng.h"

static int gen_random(unsigned long seed)
{
    gsl_rng *r = sim_rng_new(seed, 99);
    if (!r)
        return 1;
    int nl = 2 + (int)gsl_rng_uniform_int(r, 11), nf = 1 + (int)gsl_rng_uniform_int(r, 40);
    printf("H %d\n", 2 * nf);
    for (int l = 0; l < nl; l++)
        printf("L %.17g 0\n", 1e9 * (double)(1 + gsl_rng_uniform_int(r, 20)));
    for (int f = 0; f < nf; f++) {
        int n = 1 + (int)gsl_rng_uniform_int(r, nl < 3 ? (unsigned long)nl : 3);
        int p[3];
        for (int h = 0; h < n; h++) {
            int dup;
            do {
                p[h] = (int)gsl_rng_uniform_int(r, (unsigned long)nl);
                dup = 0;
                for (int k = 0; k < h; k++)
                    dup |= p[k] == p[h];
            } while (dup);
        }
        /* every flow pays the same 1 us before moving (equal CM02 weights) */
        printf("F %d %d %.17g %.17g 1e-6 %d", 2 * f, 2 * f + 1,
               1e-5 * (double)gsl_rng_uniform_int(r, 100),
               1e6 * (double)(1 + gsl_rng_uniform_int(r, 1000)), n);
        for (int h = 0; h < n; h++)
            printf(" %d", p[h]);
        printf("\n");
    }
    gsl_rng_free(r);
    return 0;
}

static int gen_a2a(int argc, char **argv)
{
    const char *sets[32];
    int n_sets = 0, hot = 0;
    double bytes = 256.0 * (1 << 20);
    sets[n_sets++] = "parallel.ep=1";
    for (int i = 0; i < argc && n_sets < 32; i++) {
        if (strncmp(argv[i], "bytes=", 6) == 0)
            bytes = atof(argv[i] + 6);
        else if (strncmp(argv[i], "hot=", 4) == 0)
            hot = atoi(argv[i] + 4);
        else
            sets[n_sets++] = argv[i];
    }
    scn_config c;
    sim_err err = {0};
    if (sim_cfg_load_string(scn_keys, scn_n_keys, &c, "mcase", "", sets, (size_t)n_sets, &err) ||
        scn_resolve(&c, NULL, &err)) {
        fprintf(stderr, "mcase: %s\n", err.msg);
        return 2;
    }
    sim_engine *e = NULL;
    topo t;
    if (sim_engine_new(NULL, &e, &err) || topo_build(&c, e, &t, &err)) {
        fprintf(stderr, "mcase: %s\n", err.msg);
        return 1;
    }
    const int n = t.n_gpus;
    printf("H %d\n", n);
    for (size_t l = 0; l < sim_engine_n_links(e); l++)
        printf("L %.17g %.17g\n", sim_engine_link_bw(e, (sim_id)l),
               sim_time_to_s(sim_engine_link_lat(e, (sim_id)l)));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            sim_id p[TOPO_MAX_PATH];
            int np = topo_path(&t, i, j, p);
            printf("F %d %d 0 %.0f 0 %d", i, j, floor(bytes / n) * (hot && i == 0 ? 4 : 1), np);
            for (int h = 0; h < np; h++)
                printf(" %d", p[h]);
            printf("\n");
        }
    topo_fini(&t);
    sim_engine_free(e);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int run(const char *path)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        perror(path);
        return 1;
    }
    double t0 = now_s();
    sim_engine *e = NULL;
    if (sim_engine_new(&sim_net_flow, &e, NULL) != SIM_OK)
        return 1;
    sim_id *ids = NULL;
    size_t n = 0, cap = 0;
    char kind;
    while (fscanf(in, " %c", &kind) == 1) {
        if (kind == 'H') {
            int h;
            if (fscanf(in, "%d", &h) != 1)
                return 1;
        } else if (kind == 'L') {
            double bw, lat;
            if (fscanf(in, "%lf %lf", &bw, &lat) != 2)
                return 1;
            sim_engine_add_link(e, bw, sim_time_from_s(lat));
        } else if (kind == 'F') {
            int src, dst, k;
            double start, bytes, extra;
            sim_id p[64];
            if (fscanf(in, "%d %d %lf %lf %lf %d", &src, &dst, &start, &bytes, &extra, &k) != 6 ||
                k < 0 || k > 64)
                return 1;
            for (int h = 0; h < k; h++)
                if (fscanf(in, "%d", &p[h]) != 1)
                    return 1;
            sim_id f = sim_engine_add_flow(e, p, k, bytes, sim_time_from_s(extra), -1, 0, src);
            if (start > 0) {
                sim_id w = sim_engine_add_work(e, -1, sim_time_from_s(start), 1, src);
                sim_engine_add_dep(e, w, f);
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                ids = realloc(ids, cap * sizeof *ids);
                if (!ids)
                    return 1;
            }
            ids[n++] = f;
        } else {
            fprintf(stderr, "mcase: bad record '%c'\n", kind);
            return 1;
        }
    }
    fclose(in);
    double t1 = now_s();
    sim_err err = {0};
    if (sim_engine_run(e, &err) != SIM_OK) {
        fprintf(stderr, "mcase: %s\n", err.msg);
        return 1;
    }
    double t2 = now_s();
    for (size_t i = 0; i < n; i++)
        printf("%zu %.12e\n", i, sim_time_to_s(sim_engine_record(e, ids[i])->end));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "moesim: %zu flows, read %.3f s, simulate %.3f s, peak %.0f MiB\n", n,
            t1 - t0, t2 - t1, ru.ru_maxrss / 1024.0);
    sim_engine_free(e);
    free(ids);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "gen") == 0 && strcmp(argv[2], "random") == 0)
        return gen_random(strtoul(argv[3], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "gen") == 0 && strcmp(argv[2], "a2a") == 0)
        return gen_a2a(argc - 3, argv + 3);
    if (argc == 3 && strcmp(argv[1], "run") == 0)
        return run(argv[2]);
    fprintf(stderr, "usage: mcase gen random SEED | mcase gen a2a KEY=VALUE... | mcase run FILE\n");
    return 2;
}
