/* cli/cli.h: the moesim command's subcommands and their shared helpers.
 *
 * cli/ is the only place that wires sim/ (engine), models/ (domain) and results/ (SQLite,
 * plots) together; each subcommand returns a process exit status: 0 success, 1 failure
 * while running, 2 bad usage or bad input. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stddef.h>

#include "sim/err.h"

int cli_run(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_coll(int argc, char **argv);

/* Prints "moesim: MESSAGE" on stderr and returns the exit status of err's status. */
int cli_fail(const sim_err *err);
/* Prints "moesim CMD: message" and a hint to use --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wall-clock seconds since an arbitrary origin (monotonic). */
double cli_now_s(void);

/* Progress on stderr for long runs: silent for the first 2 s, then a bar on a terminal,
 * or a line every 10 s otherwise. */
typedef struct cli_progress {
    const char *what;
    double t0, last;
    int quiet, tty, shown;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *what, int quiet);
void cli_progress_update(cli_progress *p, long done, long total);
void cli_progress_done(cli_progress *p);

#endif
