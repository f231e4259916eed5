/* tests/e2e.h: what the end-to-end tests of the moesim command share: a scratch directory,
 * the binary under test (the MOESIM environment variable, ./moesim by default, made absolute
 * so that it runs from any directory), running it with its stdout and stderr captured, and
 * small file helpers. Header-only (static inline, so a test uses what it needs), included by
 * one test file each, after <cmocka.h>. */
#ifndef TESTS_E2E_H
#define TESTS_E2E_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];                             /* the scratch directory */
static char out_buf[1 << 18], err_buf[1 << 16];   /* the last run's stdout and stderr */

static inline const char *bin(void)
{
    static char abs_path[1024];
    if (!abs_path[0]) {
        const char *b = getenv("MOESIM") ? getenv("MOESIM") : "./moesim";
        char cwd[512];
        if (b[0] == '/' || !getcwd(cwd, sizeof cwd))
            snprintf(abs_path, sizeof abs_path, "%s", b);
        else
            snprintf(abs_path, sizeof abs_path, "%s/%s", cwd, b);
    }
    return abs_path;
}

static inline void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = '\0';
    if (f)
        fclose(f);
}

/* Runs `moesim ARGS` (a shell-quoted argument string) from the current directory (the
 * repository root) or, with in_dir, from dir; returns its exit status (-1 if it did not
 * exit) and leaves its stdout and stderr in out_buf and err_buf. */
static inline int e2e_vrun(int in_dir, const char *fmt, va_list ap)
{
    char args[4096], cmd[8192], o[300], e[300];
    vsnprintf(args, sizeof args, fmt, ap);
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    if (in_dir)
        snprintf(cmd, sizeof cmd, "cd %s && %s %s >%s 2>%s", dir, bin(), args, o, e);
    else
        snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", bin(), args, o, e);
    int st = system(cmd);
    slurp(o, out_buf, sizeof out_buf);
    slurp(e, err_buf, sizeof err_buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = e2e_vrun(0, fmt, ap);
    va_end(ap);
    return st;
}

static inline int run_in_dir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int run_in_dir(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = e2e_vrun(1, fmt, ap);
    va_end(ap);
    return st;
}

/* Writes text to dir/name; 0, or -1 if it cannot. */
static inline int write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

static inline int exists(const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* dir = a new /tmp/moesim-TAG-XXXXXX; 0, or -1. */
static inline int e2e_mkdir(const char *tag)
{
    snprintf(dir, sizeof dir, "/tmp/moesim-%s-XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

static inline int e2e_rmdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
