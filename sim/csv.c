/* sim/csv.c: the numeric CSV reader (see sim/csv.h). */
#include "sim/csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/alloc.h"

#define MAX_LINE (64 * 1024)

struct sim_csv {
    char *name;
    char *text;                      /* whole input, NUL-terminated */
    size_t len, pos;
    int line;
    char *rec;                       /* current record (copy of its line) */
    char *fields[SIM_CSV_MAX_FIELDS];
};

static sim_status make(const char *name, char *text, size_t len, sim_csv **out, sim_err *err)
{
    sim_csv *c = sim_calloc(1, sizeof *c);
    char *nm = sim_malloc(strlen(name) + 1);
    char *rec = sim_malloc(MAX_LINE + 1);
    if (!c || !nm || !rec) {
        sim_free(c);
        sim_free(nm);
        sim_free(rec);
        sim_free(text);
        return sim_err_set(err, SIM_ENOMEM, "%s: out of memory", name);
    }
    strcpy(nm, name);
    c->name = nm;
    c->text = text;
    c->len = len;
    c->rec = rec;
    *out = c;
    return SIM_OK;
}

sim_status sim_csv_open_string(const char *name, const char *text, sim_csv **out, sim_err *err)
{
    size_t n = strlen(text);
    char *copy = sim_malloc(n + 1);
    if (!copy)
        return sim_err_set(err, SIM_ENOMEM, "%s: out of memory", name);
    memcpy(copy, text, n + 1);
    return make(name, copy, n, out, err);
}

sim_status sim_csv_open(const char *path, sim_csv **out, sim_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sim_err_set(err, SIM_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = sim_malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap)
            break;
        char *nb = sim_realloc(buf, 2 * cap + 1);
        if (!nb) {
            sim_free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return sim_err_set(err, SIM_ENOMEM, "%s: out of memory", path);
    if (bad) {
        sim_free(buf);
        return sim_err_set(err, SIM_EINPUT, "%s: cannot read: I/O error", path);
    }
    buf[len] = '\0';
    return make(path, buf, len, out, err);
}

void sim_csv_close(sim_csv *c)
{
    if (!c)
        return;
    sim_free(c->name);
    sim_free(c->text);
    sim_free(c->rec);
    sim_free(c);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int sim_csv_next(sim_csv *c, int *n_fields, char ***fields, sim_err *err)
{
    while (c->pos < c->len) {
        const char *start = c->text + c->pos;
        const char *nl = memchr(start, '\n', c->len - c->pos);
        size_t n = nl ? (size_t)(nl - start) : c->len - c->pos;
        c->pos += n + (nl ? 1 : 0);
        c->line++;
        if (memchr(start, '\0', n)) {
            sim_err_set(err, SIM_EINPUT, "%s:%d: NUL byte (not a text file)", c->name, c->line);
            return -1;
        }
        if (n > MAX_LINE) {
            sim_err_set(err, SIM_EINPUT, "%s:%d: line longer than %d bytes", c->name, c->line,
                        MAX_LINE);
            return -1;
        }
        memcpy(c->rec, start, n);
        c->rec[n] = '\0';
        char *s = trim(c->rec);
        if (*s == '\0' || *s == '#')
            continue;
        int k = 0;
        for (char *p = s;; k++) {
            if (k == SIM_CSV_MAX_FIELDS) {
                sim_err_set(err, SIM_EINPUT, "%s:%d: more than %d fields", c->name, c->line,
                            SIM_CSV_MAX_FIELDS);
                return -1;
            }
            char *comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            c->fields[k] = trim(p);
            if (!comma) {
                k++;
                break;
            }
            p = comma + 1;
        }
        *n_fields = k;
        *fields = c->fields;
        return 1;
    }
    return 0;
}

int sim_csv_line(const sim_csv *c) { return c->line; }
const char *sim_csv_name(const sim_csv *c) { return c->name; }

int sim_csv_int64(const sim_csv *c, const char *field, const char *column, int64_t min,
                  int64_t max, int64_t *out, sim_err *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(field, &end, 10);
    if (*field == '\0' || *end != '\0' || errno == ERANGE) {
        sim_err_set(err, SIM_EINPUT, "%s:%d: column %s: expected an integer (got \"%.40s\")",
                    c->name, c->line, column, field);
        return -1;
    }
    if (v < min || v > max) {
        sim_err_set(err, SIM_EINPUT,
                    "%s:%d: column %s: expected an integer between %lld and %lld (got %lld)",
                    c->name, c->line, column, (long long)min, (long long)max, v);
        return -1;
    }
    *out = v;
    return 0;
}

int sim_csv_double(const sim_csv *c, const char *field, const char *column, double min,
                   double max, double *out, sim_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(field, &end);
    if (*field == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        sim_err_set(err, SIM_EINPUT, "%s:%d: column %s: expected a number (got \"%.40s\")",
                    c->name, c->line, column, field);
        return -1;
    }
    if (v < min || v > max) {
        sim_err_set(err, SIM_EINPUT,
                    "%s:%d: column %s: expected a number between %g and %g (got %g)", c->name,
                    c->line, column, min, max, v);
        return -1;
    }
    *out = v;
    return 0;
}
