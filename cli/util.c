/* cli/util.c: error printing, clocks and progress reporting for the command. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

void cli_scenario_name(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, n, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
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
    p->unit = NULL;
    p->base = 0;
    p->t0 = p->last = cli_now_s();
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->shown = 0;
}

/* "0.25", "2.40", "37.5", "1200" */
static void fmt_rate(double r, char *buf, size_t n)
{
    snprintf(buf, n, r < 1 ? "%.3g" : r < 10 ? "%.2f" : r < 100 ? "%.1f" : "%.0f", r);
}

/* "45s", "4m05s", "2h07m" */
static void fmt_duration(double s, char *buf, size_t n)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t < 60)
        snprintf(buf, n, "%lds", t);
    else if (t < 3600)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t % 3600 / 60);
}

void cli_progress_format(const cli_progress *p, int tty, long done, long total,
                         double elapsed_s, char *buf, size_t n)
{
    long fresh = done - p->base;
    double rate = elapsed_s > 0 && fresh > 0 ? fresh / elapsed_s : 0;
    char r[32], left[32], el[32];
    fmt_rate(rate, r, sizeof r);
    fmt_duration(rate > 0 ? (total - done) / rate : 0, left, sizeof left);
    fmt_duration(elapsed_s, el, sizeof el);
    const char *unit = p->unit ? p->unit : "done";
    const char *left_text = rate > 0 ? left : "?";
    char per[48];
    snprintf(per, sizeof per, "%s%s/s", p->unit ? " " : "", p->unit ? p->unit : "");
    if (tty) {
        enum { W = 30 };
        char bar[W + 1];
        int fill = total > 0 ? (int)(W * done / total) : 0;
        for (int i = 0; i < W; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[W] = '\0';
        /* the trailing spaces wipe what a longer previous line left */
        snprintf(buf, n, "\r%s [%s] %ld/%ld %s  %s%s  ~%s left  %s elapsed   ", p->what, bar,
                 done, total, unit, r, per, left_text, el);
    } else {
        snprintf(buf, n, "%s: %ld/%ld %s, %s%s, ~%s left, %s elapsed\n", p->what, done, total,
                 unit, r, per, left_text, el);
    }
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
    char line[256];
    cli_progress_format(p, p->tty, done, total, el, line, sizeof line);
    fputs(line, stderr);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p)
{
    if (p->shown && p->tty && !p->quiet)
        fputc('\n', stderr);
}
