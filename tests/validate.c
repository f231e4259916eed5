/* tests/validate.c: the validation runner behind `make validate`.
 *
 * Reads a case file (INI, one section per case; default tests/validation/cases.ini):
 *
 *   [case-name]
 *   command   = run tests/validation/x.ini --set ...   ; moesim arguments; --json is added
 *   metric    = step_time_s                            ; path into the JSON output
 *   published = 468                                    ; the published value
 *   scale     = 1e-12                                  ; optional: multiplies the metric
 *   unit      = TFLOP/s per GPU
 *   tolerance = 15%                                    ; "exact" = 1e-9 relative
 *   source    = where the published value comes from (paper, file, issue thread)
 *   note      = optional: what the model lacks when the case misses
 *   denominator        = optional: a second moesim command; the case's value is then
 *                        scale x metric(command) / denominator_metric(denominator),
 *                        a ratio of two runs (e.g. a dense run's cost over an MoE run's)
 *   denominator_metric = path into the second command's JSON (default: metric)
 *
 * A value too long for one line (libinih reads at most 200 characters a line) continues on
 * the following lines indented by a blank; the parts are joined with one blank.
 *
 * Each distinct command runs once: cases that share a command (or use it as a
 * denominator) reuse its JSON output.
 *
 * A metric path is dot-separated object keys and array indices, e.g. "breakdown_s.dispatch"
 * or "rows.-1.busbw_GBps" (negative indices count from the end). Each case runs
 * `MOESIM COMMAND --json` (plus --quiet for `run`; MOESIM from the environment, default
 * ./moesim), and the
 * runner prints a table of case, published, moesim, error and tolerance, rewrites the table
 * between the markers <!-- validate:begin --> and <!-- validate:end --> in the report file
 * (default docs/VALIDATION.md; --no-write to leave it), and exits 1 when any case is outside
 * its tolerance or fails to run, 0 otherwise. */
#include <cJSON.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CASES 256

typedef struct vcase {
    char name[96];
    char command[1024], metric[160], unit[64], source[512], note[512];
    char denominator[1024], denominator_metric[160];
    double published, scale, tolerance;   /* tolerance: relative; 1e-9 when exact */
    int exact, have_published;
    double value, error;
    int ok, ran;
    char why[256];
} vcase;

typedef struct vset {
    vcase cases[MAX_CASES];
    int n;
    const char *file;
    char bad[512];
} vset;

static vcase *find_or_add(vset *s, const char *section)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->cases[i].name, section) == 0)
            return &s->cases[i];
    if (s->n == MAX_CASES)
        return NULL;
    vcase *c = &s->cases[s->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", section);
    c->scale = 1;
    c->tolerance = -1;
    return c;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    vset *s = user;
    vcase *c = find_or_add(s, section);
    if (!c)
        return 0;
    char *end;
    /* A value continued on indented lines (libinih hands each line over as the same key
     * again; its lines are at most 200 characters) is joined with blanks. */
#define STR(k, f)                                                                         \
    if (strcmp(key, k) == 0) {                                                            \
        size_t used = strlen(c->f);                                                       \
        snprintf(c->f + used, sizeof c->f - used, "%s%s", used ? " " : "", value);        \
        return 1;                                                                         \
    }
    STR("command", command)
    STR("metric", metric)
    STR("unit", unit)
    STR("source", source)
    STR("note", note)
    STR("denominator", denominator)
    STR("denominator_metric", denominator_metric)
#undef STR
    if (strcmp(key, "published") == 0 || strcmp(key, "scale") == 0) {
        double v = strtod(value, &end);
        if (*end || end == value) {
            snprintf(s->bad, sizeof s->bad, "[%s] %s: expected a number (got \"%s\")", section,
                     key, value);
            return 0;
        }
        if (key[0] == 'p') {
            c->published = v;
            c->have_published = 1;
        } else {
            c->scale = v;
        }
        return 1;
    }
    if (strcmp(key, "tolerance") == 0) {
        if (strcmp(value, "exact") == 0) {
            c->exact = 1;
            c->tolerance = 1e-9;
            return 1;
        }
        double v = strtod(value, &end);
        if (*end == '%') {
            v /= 100;
            end++;
        }
        if (*end || end == value || !(v >= 0)) {
            snprintf(s->bad, sizeof s->bad, "[%s] tolerance: expected e.g. 10%% or exact", section);
            return 0;
        }
        c->tolerance = v;
        return 1;
    }
    snprintf(s->bad, sizeof s->bad, "[%s] %s: unknown key", section, key);
    return 0;
}

static cJSON *walk(cJSON *o, const char *path)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, ".")) {
        char *end;
        long idx = strtol(tok, &end, 10);
        if (*end == '\0' && cJSON_IsArray(o)) {
            int n = cJSON_GetArraySize(o);
            o = cJSON_GetArrayItem(o, (int)(idx < 0 ? n + idx : idx));
        } else {
            o = cJSON_GetObjectItemCaseSensitive(o, tok);
        }
    }
    return o;
}

/* The JSON output of each distinct command, run once (or why it failed). */
typedef struct vrun {
    char command[1024];
    cJSON *json;        /* NULL: the command failed; why says how */
    char why[256];
} vrun;

static vrun runs[2 * MAX_CASES];
static int n_runs;

static const vrun *run_command(const char *command, const char *moesim)
{
    for (int i = 0; i < n_runs; i++)
        if (strcmp(runs[i].command, command) == 0)
            return &runs[i];
    if (n_runs == (int)(sizeof runs / sizeof runs[0]))
        return NULL;
    vrun *r = &runs[n_runs++];
    snprintf(r->command, sizeof r->command, "%s", command);
    char cmd[2048];
    int quiet = strncmp(command, "run ", 4) == 0;   /* the commands with progress output */
    snprintf(cmd, sizeof cmd, "%s %s --json%s 2>&1", moesim, command, quiet ? " --quiet" : "");
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(r->why, sizeof r->why, "cannot run");
        return r;
    }
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    while (out && (n += fread(out + n, 1, cap - 1 - n, p)) < cap - 1 && !feof(p))
        ;
    int st = pclose(p);
    if (!out) {
        snprintf(r->why, sizeof r->why, "out of memory");
        return r;
    }
    out[n] = '\0';
    r->json = st == 0 ? cJSON_Parse(out) : NULL;
    if (!r->json) {
        char *nl = strchr(out, '\n');
        if (nl)
            *nl = '\0';
        snprintf(r->why, sizeof r->why, "%s", st != 0 ? out : "output is not JSON");
    }
    free(out);
    return r;
}

/* The number at `metric` in the output of `command`, or 0 with c->why set. */
static int metric_of(vcase *c, const char *command, const char *metric, const char *moesim,
                     double *out)
{
    const vrun *r = run_command(command, moesim);
    if (!r) {
        snprintf(c->why, sizeof c->why, "too many commands");
        return 0;
    }
    if (!r->json) {
        snprintf(c->why, sizeof c->why, "%s", r->why);
        return 0;
    }
    cJSON *v = walk(r->json, metric);
    if (!cJSON_IsNumber(v)) {
        snprintf(c->why, sizeof c->why, "metric %s not in the output", metric);
        return 0;
    }
    *out = v->valuedouble;
    return 1;
}

static void run_case(vcase *c, const char *moesim)
{
    double v, d = 1;
    if (!metric_of(c, c->command, c->metric, moesim, &v))
        return;
    if (c->denominator[0] &&
        !metric_of(c, c->denominator, c->denominator_metric[0] ? c->denominator_metric : c->metric,
                   moesim, &d))
        return;
    if (d == 0) {
        snprintf(c->why, sizeof c->why, "denominator is 0");
        return;
    }
    c->ran = 1;
    c->value = v * c->scale / d;
    c->error = c->published != 0 ? (c->value - c->published) / fabs(c->published)
                                 : c->value - c->published;
    c->ok = fabs(c->error) <= c->tolerance;
}

static void fmt_num(char *b, size_t n, double v)
{
    if (v != 0 && (fabs(v) >= 1e7 || fabs(v) < 1e-3))
        snprintf(b, n, "%.4g", v);
    else
        snprintf(b, n, "%.6g", v);
}

static void table(FILE *f, const vset *s, int markdown)
{
    if (markdown)
        fprintf(f, "| case | published | moesim | error | tolerance | unit | source |\n"
                   "| --- | --- | --- | --- | --- | --- | --- |\n");
    else
        fprintf(f, "%-50s %12s %12s %9s %7s  %s\n", "case", "published", "moesim", "error",
                "tol", "verdict");
    for (int i = 0; i < s->n; i++) {
        const vcase *c = &s->cases[i];
        char pub[32], val[32], err[32], tol[32];
        fmt_num(pub, sizeof pub, c->published);
        if (c->ran)
            fmt_num(val, sizeof val, c->value);
        else
            snprintf(val, sizeof val, "failed");
        snprintf(err, sizeof err, c->ran ? "%+.2f%%" : "-", 100 * c->error);
        if (c->exact)
            snprintf(tol, sizeof tol, "exact");
        else
            snprintf(tol, sizeof tol, "%.3g%%", 100 * c->tolerance);
        if (markdown)
            fprintf(f, "| %s%s | %s | %s | %s | %s | %s | %s%s%s |\n", c->name,
                    c->ok ? "" : " **(miss)**", pub, val, err, tol, c->unit, c->source,
                    c->note[0] ? ". " : "", c->note);
        else
            fprintf(f, "%-50.50s %12s %12s %9s %7s  %s%s%s\n", c->name, pub, val, err, tol,
                    c->ok ? "ok" : "MISS", c->ran ? "" : ": ", c->ran ? "" : c->why);
    }
}

static int rewrite(const char *report, const vset *s)
{
    FILE *f = fopen(report, "r");
    if (!f) {
        fprintf(stderr, "validate: %s: cannot read\n", report);
        return -1;
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *b = strstr(text, "<!-- validate:begin -->"), *e = strstr(text, "<!-- validate:end -->");
    if (!b || !e || e < b) {
        fprintf(stderr, "validate: %s: markers <!-- validate:begin --> / end missing\n", report);
        return -1;
    }
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", report);
    FILE *o = fopen(tmp, "w");
    if (!o)
        return -1;
    fwrite(text, 1, (size_t)(b - text) + strlen("<!-- validate:begin -->"), o);
    fputc('\n', o);
    table(o, s, 1);
    fputs(e, o);
    int bad = ferror(o);
    if (fclose(o) != 0 || bad || rename(tmp, report) != 0) {
        fprintf(stderr, "validate: %s: cannot write\n", report);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *file = "tests/validation/cases.ini", *report = "docs/VALIDATION.md";
    int write = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-write") == 0)
            write = 0;
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            report = argv[++i];
        else if (argv[i][0] != '-')
            file = argv[i];
        else {
            fprintf(stderr, "usage: validate [CASES.ini] [--report FILE.md] [--no-write]\n");
            return 2;
        }
    }
    static vset s;
    s.file = file;
    int rc = ini_parse(file, on_key, &s);
    if (rc != 0) {
        fprintf(stderr, "validate: %s:%d: %s\n", file, rc > 0 ? rc : 0,
                s.bad[0] ? s.bad : "cannot read or parse");
        return 2;
    }
    for (int i = 0; i < s.n; i++) {
        vcase *c = &s.cases[i];
        if (!c->command[0] || !c->metric[0] || !c->have_published || c->tolerance < 0 ||
            !c->source[0]) {
            fprintf(stderr, "validate: %s: [%s] needs command, metric, published, tolerance "
                            "and source\n", file, c->name);
            return 2;
        }
    }
    const char *moesim = getenv("MOESIM") ? getenv("MOESIM") : "./moesim";
    int misses = 0;
    for (int i = 0; i < s.n; i++) {
        run_case(&s.cases[i], moesim);
        misses += !s.cases[i].ok;
    }
    table(stdout, &s, 0);
    for (int i = 0; i < n_runs; i++)
        cJSON_Delete(runs[i].json);
    printf("validate: %d case%s, %d within tolerance, %d outside\n", s.n, s.n == 1 ? "" : "s",
           s.n - misses, misses);
    if (write && rewrite(report, &s) != 0)
        return 2;
    return misses ? 1 : 0;
}
