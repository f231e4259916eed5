/* cli/plot.c: `moesim plot`: draw pictures from a results database. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "results/plot.h"

static const char plot_usage[] =
    "usage: moesim plot DB -o FILE.png|FILE.svg\n"
    "\n"
    "Draws a stacked-bar chart of the step-time breakdown (critical path, mean over steps),\n"
    "one bar per run stored in the results database DB.\n";

int cli_plot(int argc, char **argv)
{
    const char *db = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(plot_usage, stdout);
            return 0;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("plot", "%s needs a file name", a);
            out = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("plot", "unknown option '%s'", a);
        } else if (!db) {
            db = a;
        } else {
            return cli_usage_error("plot", "one database at a time");
        }
    }
    if (!db)
        return cli_usage_error("plot", "missing DB");
    if (!out)
        return cli_usage_error("plot", "missing -o FILE.png");
    sim_err err = {0};
    if (res_plot_breakdown(db, out, &err) != SIM_OK)
        return cli_fail(&err);
    printf("wrote %s\n", out);
    return 0;
}
