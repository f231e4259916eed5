/* cli/plot.c: `moesim plot`: draw pictures from a results database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "results/plot.h"

static const char plot_usage[] =
    "usage: moesim plot DB [--kind KIND] [options] -o FILE.png|FILE.svg\n"
    "\n"
    "kinds:\n"
    "  breakdown (default)  stacked bars of the step-time breakdown (critical path, mean\n"
    "                       over steps), one bar per run in DB\n"
    "  load                 tokens per expert of one layer: kept, dropped, mean and the\n"
    "                       capacity line   [--run ID] [--layer L]\n"
    "  heatmap              routed tokens per expert (x) and layer (y) of one run   [--run ID]\n"
    "  timeline             a Gantt chart of the first step: a row per GPU (first 16),\n"
    "                       compute boxes and send strips coloured by category   [--run ID]\n"
    "  sweep                a metric against a scenario key, one line per value of a second\n"
    "                       key   --x section.key [--by section.key] [--metric NAME]\n"
    "  links                the busiest links of one step: busy time in % of the step, GB\n"
    "                       carried   [--run ID] [--step S]\n"
    "\n"
    "  --run ID        the run to draw (default: the latest in DB)\n"
    "  --layer L       MoE layer, from 0 (default 0)\n"
    "  --step S        step, from 0 (default 0)\n"
    "  --metric NAME   a name from the metrics table (default step_time_s)\n";

int cli_plot(int argc, char **argv)
{
    const char *db = NULL, *out = NULL, *kind = "breakdown", *x = NULL, *by = NULL;
    const char *metric = "step_time_s";
    long long run = 0;
    int layer = 0, step = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(plot_usage, stdout);
            return 0;
        }
        int takes = !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--kind") ||
                    !strcmp(a, "--run") || !strcmp(a, "--layer") || !strcmp(a, "--x") ||
                    !strcmp(a, "--by") || !strcmp(a, "--metric") || !strcmp(a, "--step");
        if (takes) {
            if (i + 1 >= argc)
                return cli_usage_error("plot", "%s needs a value", a);
            const char *v = argv[++i];
            char *end;
            if (a[1] == 'o' || !strcmp(a, "--output"))
                out = v;
            else if (!strcmp(a, "--kind"))
                kind = v;
            else if (!strcmp(a, "--x"))
                x = v;
            else if (!strcmp(a, "--by"))
                by = v;
            else if (!strcmp(a, "--metric"))
                metric = v;
            else if (!strcmp(a, "--run")) {
                run = strtoll(v, &end, 10);
                if (*end || run < 1)
                    return cli_usage_error("plot", "--run: expected a run id (got \"%s\")", v);
            } else {
                long l = strtol(v, &end, 10);
                if (*end || end == v || l < 0 || l > 1000000)
                    return cli_usage_error("plot", "%s: expected a %s number (got \"%s\")", a,
                                           a[2] == 'l' ? "layer" : "step", v);
                if (a[2] == 'l')
                    layer = (int)l;
                else
                    step = (int)l;
            }
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
    sim_status s;
    if (!strcmp(kind, "breakdown"))
        s = res_plot_breakdown(db, out, &err);
    else if (!strcmp(kind, "load"))
        s = res_plot_load(db, run, layer, out, &err);
    else if (!strcmp(kind, "heatmap"))
        s = res_plot_heatmap(db, run, out, &err);
    else if (!strcmp(kind, "timeline"))
        s = res_plot_timeline(db, run, out, &err);
    else if (!strcmp(kind, "links"))
        s = res_plot_links(db, run, step, out, &err);
    else if (!strcmp(kind, "sweep")) {
        if (!x)
            return cli_usage_error("plot", "--kind sweep needs --x section.key");
        s = res_plot_sweep(db, metric, x, by, out, &err);
    } else
        return cli_usage_error("plot", "--kind: expected breakdown, load, heatmap, timeline, sweep or links (got \"%s\")",
                               kind);
    if (s != SIM_OK)
        return cli_fail(&err);
    printf("wrote %s\n", out);
    return 0;
}
