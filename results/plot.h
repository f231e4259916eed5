/* results/plot.h: gnuplot pictures drawn from the results database.
 *
 * A plot reads the database read-only, writes a data file and a gnuplot script to a
 * private temporary directory, runs gnuplot (no shell involved) and moves the finished
 * picture into place with rename(), so out_path holds either the old file or the whole new
 * one. The format follows out_path: ".png" (pngcairo, 900x600) or ".svg". gnuplot comes
 * from PATH (Debian package gnuplot-nox).
 *
 * The building blocks below (res_plot_render, res_gnuplot_run, res_gnuplot_quote) are
 * for further plot kinds; they own nothing the caller passes in. */
#ifndef RESULTS_PLOT_H
#define RESULTS_PLOT_H

#include <stdint.h>
#include <stdio.h>

#include "sim/err.h"

/* Stacked bars of the step-time breakdown, one bar per run in db_path (mean over its
 * steps), in milliseconds; sweep points in sweep order, then the other runs; each bar
 * labelled with the values of the keys that tell the runs apart and its run id;
 * categories that are zero in every bar left out. SIM_EINPUT for a bad extension or a database without runs;
 * SIM_EIO when gnuplot is missing or fails, or out_path cannot be written; as
 * res_db_open_readonly for the database. */
sim_status res_plot_breakdown(const char *db_path, const char *out_path, sim_err *err);

/* Token assignments per expert in one layer of one run (run_id 0: the latest), mean over
 * its steps: kept tokens, dropped tokens stacked on top, the mean, and the capacity line
 * (the run's expert_capacity metric, when it is above 0). */
sim_status res_plot_load(const char *db_path, int64_t run_id, int layer, const char *out_path,
                         sim_err *err);

/* Routed load (kept + dropped) per expert (x) and layer (y) of one run, as a heatmap. */
sim_status res_plot_heatmap(const char *db_path, int64_t run_id, const char *out_path,
                            sim_err *err);

/* A metric of the metrics table against the value of a scenario key (read from each run's
 * resolved keys), one line per value of by_key (NULL: a single line). Numeric x values are
 * placed on a numeric axis, others in order of first appearance. */
sim_status res_plot_sweep(const char *db_path, const char *metric, const char *x_key,
                          const char *by_key, const char *out_path, sim_err *err);

/* A Gantt chart of the first step of one run: a row per GPU (the first 16 GPUs, as stored),
 * compute tasks as boxes and the messages each GPU sends as a thin strip above its row, both
 * coloured by category (categories with no task are not in the legend). */
sim_status res_plot_timeline(const char *db_path, int64_t run_id, const char *out_path,
                             sim_err *err);

/* The busiest links of one step of one run (run_id 0: the latest), from link_util: a
 * horizontal bar per link, busiest on top, its length the link's busy time in percent of the
 * step, labelled with the GB it carried and how full it ran while busy. SIM_EINPUT when the
 * run has no link rows for that step. */
sim_status res_plot_links(const char *db_path, int64_t run_id, int step, const char *out_path,
                          sim_err *err);

/* Writes the plot-specific part of a gnuplot script: data files go under tmp_dir (a
 * private directory removed afterwards, with everything in it), commands go to script.
 * Terminal and output are already set when it is called. */
typedef sim_status res_plot_body_fn(void *ctx, const char *tmp_dir, FILE *script, sim_err *err);

/* Renders one picture to out_path: checks the extension, sets up the temporary directory
 * and script, calls body, runs gnuplot, renames the result into place (mode 0644) and
 * removes every temporary file, on success and on failure. */
sim_status res_plot_render(const char *out_path, res_plot_body_fn *body, void *ctx,
                           sim_err *err);

/* Runs `gnuplot script_path` and waits for it. SIM_EIO "gnuplot not found: install
 * gnuplot-nox" when it is not on PATH; SIM_EIO with the end of its error output when it
 * exits non-zero or is killed. */
sim_status res_gnuplot_run(const char *script_path, sim_err *err);

/* Writes s to f as a gnuplot single-quoted string literal (quotes doubled; control
 * characters, which cannot appear in one, become spaces). Single-quoted strings are
 * never expanded by gnuplot (no backquote command substitution, no escapes). */
void res_gnuplot_quote(FILE *f, const char *s);

#endif
