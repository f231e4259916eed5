/* tests/bench_net.c: speed and memory of the flow-level network model on the all-to-all
 * that SimGrid was timed on (issue 3): every GPU sends 256 MiB in total, split evenly over
 * all GPUs (direct algorithm: P(P-1) concurrent flows), 8 H100 per node, one NDR NIC per
 * GPU, non-blocking fabric. Each size runs in a child process so that its peak resident
 * memory (getrusage) is its own.
 *
 * Two series: the full flow model (every flow its own variable), sizes
 * MOESIM_BENCH_MIN_GPUS (64) .. MOESIM_BENCH_MAX_GPUS (default 2048), doubling; and the
 * same all-to-all with node-pair aggregation (coll_args.aggregate = COLL_AGG_NODES), up to
 * MOESIM_BENCH_AGG_MAX_GPUS (default 16384; 0 skips it), with the relative difference of
 * its completion time from the full run where both ran. The 16,384-GPU full run needs
 * about 50 GiB (docs/BENCHMARKS.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "models/coll.h"
#include "models/scenario.h"
#include "sim/cfg.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int one(int gpus, int agg, int fd)
{
    char nodes[64];
    snprintf(nodes, sizeof nodes, "cluster.nodes=%d", gpus / 8);
    const char *sets[] = {nodes, "parallel.ep=1"};
    scn_config c;
    sim_err err = {0};
    if (sim_cfg_load_string(scn_keys, scn_n_keys, &c, "bench", "", sets, 2, &err) ||
        scn_resolve(&c, NULL, &err)) {
        fprintf(stderr, "bench_net: %s\n", err.msg);
        return 1;
    }
    double t0 = now_s(), t = 0;
    uint64_t events = 0;
    size_t n_flows = 0;
    if (coll_simulate_agg(&c, coll_find(COLL_ALL_TO_ALL, "direct"), 256.0 * (1 << 20), NULL,
                          agg, &t, NULL, &events, &n_flows, &err) != SIM_OK) {
        fprintf(stderr, "bench_net: %s\n", err.msg);
        return 1;
    }
    double wall = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec * 1e-6;
    char line[256];
    int n = snprintf(line, sizeof line, "%6d GPUs  %12.0f flows  %10zu variables  %8.3f s wall  "
                     "%8.3f s cpu  %8.0f MiB peak  simulated %.6f ms  %llu events\n", gpus,
                     (double)gpus * (gpus - 1), n_flows, wall, cpu, ru.ru_maxrss / 1024.0,
                     t * 1e3, (unsigned long long)events);
    return write(fd, line, (size_t)n) == n ? 0 : 1;
}

/* Runs one size in a child; its line goes to stdout and its simulated time to *ms. */
static int run(int gpus, int agg, double *ms)
{
    int pfd[2];
    if (pipe(pfd))
        return 1;
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        close(pfd[0]);
        _exit(one(gpus, agg, pfd[1]));
    }
    close(pfd[1]);
    char buf[512];
    ssize_t k = p < 0 ? -1 : read(pfd[0], buf, sizeof buf - 1);
    close(pfd[0]);
    int st;
    if (p < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || k <= 0) {
        fprintf(stderr, "bench_net: %d GPUs failed\n", gpus);
        return 1;
    }
    buf[k] = '\0';
    fputs(buf, stdout);
    const char *s = strstr(buf, "simulated ");
    *ms = s ? atof(s + 10) : NAN;
    return 0;
}

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v ? atoi(v) : dflt;
}

int main(void)
{
    int max = env_int("MOESIM_BENCH_MAX_GPUS", 2048), min = env_int("MOESIM_BENCH_MIN_GPUS", 64);
    int agg_max = env_int("MOESIM_BENCH_AGG_MAX_GPUS", 16384);
    if (min < 64)
        min = 64;
    double full_ms[32] = {0};
    printf("all-to-all, 256 MiB per GPU, 8 H100 + 8 NDR NICs per node, flow model:\n");
    int i = 0;
    for (int gpus = min; gpus <= max && i < 32; gpus *= 2, i++)
        if (run(gpus, COLL_AGG_OFF, &full_ms[i]))
            return 1;
    if (agg_max <= 0)
        return 0;
    printf("the same, node-pair aggregation (bundles), difference from the full model:\n");
    i = 0;
    for (int gpus = min; gpus <= agg_max && i < 32; gpus *= 2, i++) {
        double ms;
        if (run(gpus, COLL_AGG_NODES, &ms))
            return 1;
        if (gpus <= max)
            printf("%6d GPUs  aggregated vs full: %+.2e relative\n", gpus,
                   (ms - full_ms[i]) / full_ms[i]);
    }
    return 0;
}
