/* tests/bench_net.c: speed and memory of the flow-level network model on the all-to-all
 * that SimGrid was timed on (issue 3): every GPU sends 256 MiB in total, split evenly over
 * all GPUs (direct algorithm: P(P-1) concurrent flows), 8 H100 per node, one NDR NIC per
 * GPU, non-blocking fabric. Each size runs in a child process so that its peak resident
 * memory (getrusage) is its own. Sizes MOESIM_BENCH_MIN_GPUS (64) .. MOESIM_BENCH_MAX_GPUS
 * (default 2048), doubling; the 16,384-GPU run needs about 60 GiB (docs/BENCHMARKS.md). */
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

static int one(int gpus, int fd)
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
    if (coll_simulate(&c, coll_find(COLL_ALL_TO_ALL, "direct"), 256.0 * (1 << 20), NULL, &t,
                      NULL, &events, &err) != SIM_OK) {
        fprintf(stderr, "bench_net: %s\n", err.msg);
        return 1;
    }
    double wall = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char line[256];
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec * 1e-6;
    int n = snprintf(line, sizeof line, "%6d GPUs  %12.0f flows  %8.3f s wall  %8.3f s cpu  "
                     "%8.0f MiB peak  simulated %.3f ms  %llu events\n", gpus,
                     (double)gpus * (gpus - 1), wall, cpu, ru.ru_maxrss / 1024.0, t * 1e3,
                     (unsigned long long)events);
    return write(fd, line, (size_t)n) == n ? 0 : 1;
}

int main(void)
{
    const char *m = getenv("MOESIM_BENCH_MAX_GPUS");
    const char *lo = getenv("MOESIM_BENCH_MIN_GPUS");
    int max = m ? atoi(m) : 2048, min = lo ? atoi(lo) : 64;
    printf("all-to-all, 256 MiB per GPU, 8 H100 + 8 NDR NICs per node, flow model:\n");
    fflush(stdout);
    for (int gpus = min < 64 ? 64 : min; gpus <= max; gpus *= 2) {
        pid_t p = fork();
        if (p == 0)
            _exit(one(gpus, STDOUT_FILENO));
        int st;
        if (p < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "bench_net: %d GPUs failed\n", gpus);
            return 1;
        }
    }
    return 0;
}
