/* cli/util.c: error printing, clocks and progress reporting for the command. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_fail(const sim_err *err)
{
    fprintf(stderr, "moesim: %s\n", err->msg[0] ? err->msg : sim_status_text(err->status));
    return sim_status_exit_code(err->status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "moesim %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'moesim %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p, const char *what, int quiet)
{
    p->what = what;
    p->t0 = p->last = cli_now_s();
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->shown = 0;
}

void cli_progress_update(cli_progress *p, long done, long total)
{
    if (p->quiet)
        return;
    double now = cli_now_s(), el = now - p->t0;
    if (el < 2.0 || now - p->last < (p->tty ? 0.2 : 10.0))
        return;
    p->last = now;
    p->shown = 1;
    double rate = done / el, left = rate > 0 ? (total - done) / rate : 0;
    if (p->tty) {
        int w = 30, fill = total > 0 ? (int)(w * done / total) : 0;
        fprintf(stderr, "\r%s [", p->what);
        for (int i = 0; i < w; i++)
            fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %ld/%ld  %.1fs elapsed  ~%.0fs left ", done, total, el, left);
    } else {
        fprintf(stderr, "%s: %ld/%ld done, %.1fs elapsed, ~%.0fs left\n", p->what, done, total,
                el, left);
    }
    fflush(stderr);
}

void cli_progress_done(cli_progress *p)
{
    if (p->shown && p->tty && !p->quiet)
        fputc('\n', stderr);
}
