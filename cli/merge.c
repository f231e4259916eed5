/* cli/merge.c: `moesim merge A.db B.db ... -o ALL.db`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "results/merge.h"
#include "sim/alloc.h"

static const char merge_usage[] =
    "usage: moesim merge A.db [B.db ...] -o ALL.db\n"
    "\n"
    "Copies every run of the given databases (e.g. the shards of a sweep) into ALL.db,\n"
    "created if needed, with all its rows. A run whose point (scenario name and resolved\n"
    "keys, the seed among them) ALL.db already holds is not copied: merging again is\n"
    "harmless, and two separately run copies of a sweep give each point once. Sweep\n"
    "records (sweep_points) come along. Each source is merged in one transaction.\n";

int cli_merge(int argc, char **argv)
{
    const char *out = NULL;
    const char **src = sim_calloc((size_t)argc, sizeof *src);
    int n = 0;
    if (!src)
        return cli_usage_error("merge", "out of memory");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(merge_usage, stdout);
            sim_free(src);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc) {
                sim_free(src);
                return cli_usage_error("merge", "-o needs a file name");
            }
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            sim_free(src);
            return cli_usage_error("merge", "unknown option '%s'", argv[i]);
        } else {
            src[n++] = argv[i];
        }
    }
    if (!out || n == 0) {
        sim_free(src);
        return cli_usage_error("merge", out ? "no source databases" : "missing -o ALL.db");
    }
    sim_err err = {0};
    res_merge_stats st;
    sim_status s = res_db_merge(out, src, n, &st, &err);
    sim_free(src);
    if (s != SIM_OK)
        return cli_fail(&err);
    printf("merged %d database%s into %s: %ld run%s copied, %ld already there\n", n,
           n == 1 ? "" : "s", out, st.runs_copied, st.runs_copied == 1 ? "" : "s",
           st.runs_skipped);
    if (st.runs_other_version)
        printf("note: %ld of the runs already there came from another moesim version; the "
               "copy already in %s was kept\n", st.runs_other_version, out);
    return 0;
}
