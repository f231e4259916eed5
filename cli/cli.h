/* cli/cli.h: the moesim command's subcommands and their shared helpers.
 *
 * cli/ is the only place that wires sim/ (engine), models/ (domain) and results/ (SQLite,
 * plots) together; each subcommand returns a process exit status: 0 success, 1 failure
 * while running, 2 bad usage or bad input. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stddef.h>

#include "models/gemm.h"
#include "models/memory.h"
#include "models/scenario.h"
#include "sim/err.h"

int cli_run(int argc, char **argv);
int cli_model(int argc, char **argv);

/* Scenario loading for every command (cli/scenario_load.c): defaults, then the preset that
 * model.preset names (scenarios/presets/models/NAME.ini; the directory can be moved with the
 * MOESIM_PRESETS environment variable), then the file's keys, then the --set overrides, then
 * scn_resolve. Errors name FILE:LINE (or the preset's FILE:LINE, or --set). On success *c is
 * filled and, if text_out is not NULL, *text_out holds the file's text (sim_free it). */
sim_status cli_load_scenario(const char *path, const char *const *sets, size_t n_sets,
                             scn_config *c, char **text_out, sim_err *err);
/* The same from text in memory, named `name` in messages. */
sim_status cli_load_scenario_text(const char *name, const char *text, const char *const *sets,
                                  size_t n_sets, scn_config *c, sim_err *err);
/* Reads a GEMM calibration CSV (cli/calib.c) into out (out->pts: sim_free it); errors name
 * the file, line and column. */
sim_status cli_load_gemm_calib(const char *path, gemm_calib *out, sim_err *err);
/* The memory footprint as one summary line ("memory ...") and as a JSON object, for the
 * commands that report it (cli/model.c). */
void cli_memory_print(const scn_config *c, const mem_footprint *m);
struct cJSON;
void cli_memory_json(struct cJSON *parent, const mem_footprint *m);

/* Path of preset NAME's file in buf; 0 if it exists, -1 if not (or NAME is not a plain name). */
int cli_preset_path(const char *name, char *buf, size_t n);
int cli_plot(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_merge(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_coll(int argc, char **argv);
int cli_gemm(int argc, char **argv);

/* Prints "moesim: MESSAGE" on stderr and returns the exit status of err's status. */
int cli_fail(const sim_err *err);
/* Prints "moesim CMD: message" and a hint to use --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The name moesim gives the runs of scenario file path: "dir/name.ini" -> "name". */
void cli_scenario_name(const char *path, char *out, size_t n);

/* Wall-clock seconds since an arbitrary origin (monotonic). */
double cli_now_s(void);

/* Progress on stderr for long runs: silent for the first 2 s, then on a terminal a bar
 * redrawn in place with items done, rate and time left, otherwise a plain line every 10 s.
 * The rate counts items done since init beyond `base` (items that were done before, e.g.
 * points a resumed sweep finds stored, which would make the rate a lie). */
typedef struct cli_progress {
    const char *what;          /* "sweep" */
    const char *unit;          /* "points"; NULL: "done", rate in 1/s */
    long base;                 /* items already done at init (0 unless set) */
    double t0, last;
    int quiet, tty, shown;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *what, int quiet);
void cli_progress_update(cli_progress *p, long done, long total);
void cli_progress_done(cli_progress *p);
/* The text cli_progress_update prints for done of total after elapsed_s seconds: tty != 0
 * gives the bar line (starting with '\r', no newline), else a plain line ending in '\n'.
 * Truncated to fit n. */
void cli_progress_format(const cli_progress *p, int tty, long done, long total,
                         double elapsed_s, char *buf, size_t n);

#endif
