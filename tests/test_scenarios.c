/* tests/test_scenarios.c: end-to-end checks of the scenario library, scenarios/NAME.ini, with
 * the moesim binary named by the MOESIM environment variable (./moesim by default; run from
 * the repository root, as `make test` does).
 *
 * Every scenario file loads: `moesim model FILE --json` exits 0, so its keys, presets and
 * cross-key rules are valid as written. Every scenario also runs, shrunk with --set to a few
 * GPUs, layers and micro-batches (the table below) so that the suite stays fast under ASan:
 * the run exits 0 and its JSON has a positive step time that its breakdown sums to. The
 * shrunk run checks that the file's choices (presets, parallel layout, routing, network)
 * work together in a step, not the file's own numbers; scenarios/README.md gives those.
 * A file under scenarios/ without an entry in the table fails the test: a new scenario says
 * how it is shrunk (an empty string runs it as written). */
#include <cJSON.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/e2e.h"

typedef struct shrink {
    const char *file;   /* under scenarios/ */
    const char *sets;   /* --set arguments that make the run cheap */
} shrink;

/* Layers, GPUs and micro-batches cut; each layout still divides (tp x pp x dp = GPUs, EP
 * groups of whole nodes where the routing needs them, a global batch of dp x micro_batch x
 * a multiple of pp for interleaved schedules). */
static const shrink table[] = {
    {"default.ini", "--set cluster.nodes=2 --set parallel.pp=2 --set parallel.vpp=2 "
                    "--set model.layers=4 --set training.global_batch=16 "
                    "--set training.seq_len=1024"},
    {"skew.ini", "--set model.layers=2 --set training.steps=1"},
    {"collapse.ini", "--set model.layers=1 --set training.steps=3 --set training.seq_len=1024"},
    {"deepseek-v3.ini", "--set cluster.nodes=2 --set parallel.pp=2 --set parallel.ep=8 "
                        "--set routing.node_limit=1 --set model.layers=2 "
                        "--set model.dense_layers=1 --set training.global_batch=16 "
                        "--set training.seq_len=256"},
    {"deepseek-v3-stage.ini", "--set cluster.nodes=2 --set parallel.ep=16 --set model.layers=1 "
                              "--set routing.node_limit=1 --set training.global_batch=16 "
                              "--set training.seq_len=512"},
    {"gpus.ini", "--set cluster.gpu=b200 --set model.layers=2 --set training.global_batch=16 "
                 "--set training.seq_len=1024"},
    {"fabric.ini", "--set cluster.inter=eth100 --set model.layers=2 --set training.seq_len=1024"},
    {"cross-node-bw.ini", "--set cluster.nodes=2 --set parallel.ep=16 --set model.layers=2 "
                          "--set training.seq_len=1024"},
    {"ep-placement.ini", "--set cluster.nodes=2 --set parallel.ep=16 --set model.layers=1 "
                         "--set training.global_batch=16 --set training.seq_len=1024"},
    {"node-routing.ini", "--set cluster.nodes=2 --set parallel.ep=16 --set model.layers=1 "
                         "--set routing.group_nodes=1 --set training.seq_len=256"},
    {"capacity.ini", "--set model.layers=2 --set training.steps=1"},
    {"skew-sweep.ini", "--set model.layers=2 --set training.steps=1 --set routing.skew=2"},
    {"replication.ini", "--set model.layers=2 --set training.steps=1 "
                        "--set placement.spare_slots=2"},
    {"dense-vs-moe.ini", "--dense-equivalent --set cluster.nodes=2 --set parallel.pp=2 "
                         "--set parallel.vpp=2 --set model.layers=4 "
                         "--set training.global_batch=16 --set training.seq_len=1024"},
    {"mixtral-finetune.ini", "--set model.layers=2 --set training.global_batch=16 "
                             "--set training.seq_len=1024"},
    {"article-000-moe.ini", "--set cluster.nodes=2 --set model.layers=2 "
                            "--set training.global_batch=16 --set training.seq_len=1024"},
};
#define N_TABLE (sizeof table / sizeof table[0])


/* Runs `moesim ARGS` (e2e.h) and shows its stderr when it fails; returns the exit status. */
static int run_loud(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_loud(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = e2e_vrun(0, fmt, ap);
    va_end(ap);
    if (rc != 0)
        fprintf(stderr, "moesim: exit %d: %s\n", rc, err_buf);
    return rc;
}

static const shrink *find(const char *file)
{
    for (size_t i = 0; i < N_TABLE; i++)
        if (strcmp(table[i].file, file) == 0)
            return &table[i];
    return NULL;
}

static int is_scenario(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".ini") == 0;
}

static int setup(void **state)
{
    (void)state;
    return e2e_mkdir("scenarios");
}

static int teardown(void **state)
{
    (void)state;
    return e2e_rmdir();
}

/* Every scenarios/NAME.ini has a table entry, and every entry a file. */
static void test_table_covers_library(void **state)
{
    (void)state;
    DIR *d = opendir("scenarios");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_scenario(e->d_name))
            continue;
        if (!find(e->d_name))
            fprintf(stderr, "scenarios/%s: no entry in tests/test_scenarios.c\n", e->d_name);
        assert_non_null(find(e->d_name));
        n++;
    }
    closedir(d);
    assert_int_equal(n, (int)N_TABLE);
}

/* Every scenario loads as written: keys, presets and cross-key rules valid. */
static void test_every_scenario_loads(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TABLE; i++) {
        assert_int_equal(run_loud("model scenarios/%s --json", table[i].file), 0);
        cJSON *o = cJSON_Parse(out_buf);
        assert_non_null(o);
        assert_true(cJSON_GetObjectItem(o, "params_total")->valuedouble > 0);
        cJSON_Delete(o);
    }
}

/* Every scenario runs, shrunk: exit 0, a positive step time, the breakdown summing to it
 * (to the rounding of picoseconds to seconds per category: 1e-9 relative is ample). */
static void test_every_scenario_runs_shrunk(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TABLE; i++) {
        assert_int_equal(run_loud("run scenarios/%s %s --db %s/lib.db --json --quiet", table[i].file,
                             table[i].sets, dir),
                         0);
        cJSON *o = cJSON_Parse(out_buf);
        assert_non_null(o);
        double step = cJSON_GetObjectItem(o, "step_time_s")->valuedouble, sum = 0;
        assert_true(step > 0);
        cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "breakdown_s")) sum += it->valuedouble;
        assert_true(fabs(sum - step) <= 1e-9 * step + 1e-12);
        cJSON_Delete(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_covers_library),
        cmocka_unit_test(test_every_scenario_loads),
        cmocka_unit_test(test_every_scenario_runs_shrunk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
