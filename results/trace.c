/* results/trace.c: streaming writer of Chrome trace event JSON. */
#include "results/trace.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/alloc.h"

struct res_trace {
    FILE *f;
    char *path, *tmp;
    int first;
    int failed;
};

sim_status res_trace_open(const char *path, res_trace **out, sim_err *err)
{
    res_trace *t = sim_calloc(1, sizeof *t);
    size_t n = strlen(path);
    if (t) {
        t->path = sim_malloc(n + 1);
        t->tmp = sim_malloc(n + 16);
    }
    if (!t || !t->path || !t->tmp) {
        if (t) {
            sim_free(t->path);
            sim_free(t->tmp);
        }
        sim_free(t);
        return sim_err_set(err, SIM_ENOMEM, "%s: out of memory", path);
    }
    memcpy(t->path, path, n + 1);
    snprintf(t->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(t->tmp);
    if (fd >= 0)
        fchmod(fd, 0644);     /* mkstemp makes 0600; a trace is an ordinary file */
    t->f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!t->f) {
        sim_status s = sim_err_set(err, SIM_EIO, "%s: cannot write the trace: %s", path,
                                   strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(t->tmp);
        }
        sim_free(t->path);
        sim_free(t->tmp);
        sim_free(t);
        return s;
    }
    fputs("{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n", t->f);
    t->first = 1;
    *out = t;
    return SIM_OK;
}

static void sep(res_trace *t)
{
    if (!t->first)
        fputs(",\n", t->f);
    t->first = 0;
}

/* Writes s as a JSON string literal (escaped by cJSON). */
static void jstr(res_trace *t, const char *s)
{
    cJSON *j = cJSON_CreateString(s ? s : "");
    char *p = j ? cJSON_PrintUnformatted(j) : NULL;
    if (p)
        fputs(p, t->f);
    else {
        fputs("\"\"", t->f);
        t->failed = 1;
    }
    cJSON_free(p);
    cJSON_Delete(j);
}

void res_trace_name_process(res_trace *t, int pid, const char *name, int sort_index)
{
    sep(t);
    fprintf(t->f, "{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %d, \"args\": {\"name\": ",
            pid);
    jstr(t, name);
    fprintf(t->f, "}},\n{\"ph\": \"M\", \"name\": \"process_sort_index\", \"pid\": %d, "
                  "\"args\": {\"sort_index\": %d}}", pid, sort_index);
}

void res_trace_name_thread(res_trace *t, int pid, int tid, const char *name)
{
    sep(t);
    fprintf(t->f, "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %d, \"tid\": %d, "
                  "\"args\": {\"name\": ", pid, tid);
    jstr(t, name);
    fputs("}}", t->f);
}

static void args(res_trace *t, const char *arg_name, double v)
{
    if (!arg_name)
        return;
    fputs(", \"args\": {", t->f);
    jstr(t, arg_name);
    fprintf(t->f, ": %.17g}", v);
}

void res_trace_complete(res_trace *t, int pid, int tid, const char *name, const char *cat,
                        double ts_us, double dur_us, const char *arg_name, double arg_value)
{
    sep(t);
    fputs("{\"ph\": \"X\", \"name\": ", t->f);
    jstr(t, name);
    fputs(", \"cat\": ", t->f);
    jstr(t, cat);
    fprintf(t->f, ", \"pid\": %d, \"tid\": %d, \"ts\": %.6f, \"dur\": %.6f", pid, tid, ts_us,
            dur_us);
    args(t, arg_name, arg_value);
    fputc('}', t->f);
}

void res_trace_async(res_trace *t, int pid, int tid, uint64_t id, const char *name,
                     const char *cat, double ts_us, double dur_us, const char *arg_name,
                     double arg_value)
{
    for (int end = 0; end < 2; end++) {
        sep(t);
        fprintf(t->f, "{\"ph\": \"%c\", \"name\": ", end ? 'e' : 'b');
        jstr(t, name);
        fputs(", \"cat\": ", t->f);
        jstr(t, cat);
        fprintf(t->f, ", \"id\": \"0x%llx\", \"pid\": %d, \"tid\": %d, \"ts\": %.6f",
                (unsigned long long)id, pid, tid, end ? ts_us + dur_us : ts_us);
        if (!end)
            args(t, arg_name, arg_value);
        fputc('}', t->f);
    }
}

void res_trace_counter(res_trace *t, int pid, const char *name, double ts_us, int n_args,
                       const char *const *arg_names, const double *values)
{
    sep(t);
    fputs("{\"ph\": \"C\", \"name\": ", t->f);
    jstr(t, name);
    fprintf(t->f, ", \"pid\": %d, \"ts\": %.6f, \"args\": {", pid, ts_us);
    for (int i = 0; i < n_args; i++) {
        if (i)
            fputs(", ", t->f);
        jstr(t, arg_names[i]);
        fprintf(t->f, ": %.17g", values[i]);
    }
    fputs("}}", t->f);
}

void res_trace_links(res_trace *t, int pid, int sort_index, int step, double step_s,
                     const res_link *links, int n_links)
{
    if (n_links <= 0)
        return;
    char label[96];
    snprintf(label, sizeof label, "network links (busiest %d, step %d)", n_links, step);
    res_trace_name_process(t, pid, label, sort_index);
    static const char *const series[2] = {"busy %", "GB"};
    for (int l = 0; l < n_links; l++) {
        const res_link *k = &links[l];
        double v[2] = {step_s > 0 ? 100.0 * k->busy_s / step_s : 0, k->bytes / 1e9};
        double zero[2] = {0, 0};
        res_trace_counter(t, pid, k->name, 0, 2, series, v);
        res_trace_counter(t, pid, k->name, step_s * 1e6, 2, series, zero);
    }
}

void res_trace_abort(res_trace *t)
{
    if (!t)
        return;
    fclose(t->f);
    unlink(t->tmp);
    sim_free(t->path);
    sim_free(t->tmp);
    sim_free(t);
}

sim_status res_trace_close(res_trace *t, sim_err *err)
{
    fputs("\n]}\n", t->f);
    int bad = ferror(t->f) || t->failed;
    sim_status s = SIM_OK;
    if (fclose(t->f) != 0 || bad) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot write the trace", t->path);
        unlink(t->tmp);
    } else if (rename(t->tmp, t->path) != 0) {
        s = sim_err_set(err, SIM_EIO, "%s: cannot write the trace: %s", t->path, strerror(errno));
        unlink(t->tmp);
    }
    sim_free(t->path);
    sim_free(t->tmp);
    sim_free(t);
    return s;
}
