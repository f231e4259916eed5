/* cli/main.c: the moesim command: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/version.h"

static const char usage[] =
    "usage: moesim COMMAND [ARGS]\n"
    "\n"
    "Simulates Mixture-of-Experts training steps on a GPU cluster.\n"
    "\n"
    "commands:\n"
    "  run FILE [--set section.key=value]... [--db PATH] [--json] [--quiet]\n"
    "                     simulate the scenario in FILE, print the step-time breakdown\n"
    "                     and store the run in SQLite (results/runs/NAME.db)\n"
    "  plot DB [--kind KIND] -o FILE\n"
    "                     draw the runs in DB (.png or .svg): the step-time breakdown,\n"
    "                     or another kind (moesim plot --help lists them)\n"
    "  keys [--markdown]  list every scenario key with its values, default and unit\n"
    "  sweep FILE --set section.key=v1,v2,... [--jobs N] [--shard K/N] [--db PATH]\n"
    "                     run every combination of the values, one run each, resumable\n"
    "  merge A.db B.db ... -o ALL.db\n"
    "                     combine databases (sweep shards) without duplicates\n"
    "  check BASELINE.db CANDIDATE.db [--metric NAME] [--tolerance 2%]\n"
    "                     compare runs pairwise; exit 1 if any regressed beyond tolerance\n"
    "  model PRESET|FILE [--set section.key=value]... [--json]\n"
    "                     parameters, FLOPs per token and memory footprint of a model\n"
    "  gemm M N K [--gpu NAME] [--dtype bf16|fp8] [--json]\n"
    "                     time and TFLOP/s of one GEMM as the GEMM cost model predicts\n"
    "  coll [FILE] --gpu NAME --nodes N --op OP -b MIN -e MAX -f F [--json]\n"
    "                     nccl-tests on a simulated cluster: time, algbw, busbw per size\n"
    "\n"
    "  moesim COMMAND --help   help on one command\n"
    "  moesim --version        print the version\n"
    "\n"
    "exit status: 0 success, 1 failure while running, 2 bad usage or bad input\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("moesim %s\n", MOESIM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cli_run(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0)
        return cli_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "keys") == 0)
        return cli_keys(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0)
        return cli_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "merge") == 0)
        return cli_merge(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "model") == 0)
        return cli_model(argc - 1, argv + 1);
    if (strcmp(cmd, "gemm") == 0)
        return cli_gemm(argc - 1, argv + 1);
    if (strcmp(cmd, "coll") == 0)
        return cli_coll(argc - 1, argv + 1);
    fprintf(stderr, "moesim: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
