/* cli/trace.c: the routing trace CSV reader (see cli/trace.h, docs/ROUTING.md). */
#include "cli/trace.h"

#include <string.h>

#include "sim/alloc.h"
#include "sim/csv.h"

#define TRACE_MAX_CELLS (1L << 27)

typedef struct row {
    int64_t step, layer, expert, tokens, src;
    int line;
} row;

static sim_status bad(sim_err *err, const sim_csv *csv, const char *fmt, const char *what)
{
    return sim_err_set(err, SIM_EINPUT, fmt, sim_csv_name(csv), sim_csv_line(csv), what);
}

static sim_status read_rows(sim_csv *csv, const scn_config *c, row **rows_out, size_t *n_out,
                            int *has_src, sim_err *err)
{
    int nf;
    char **f;
    row *rows = NULL;
    size_t n = 0, cap = 0;
    int r = sim_csv_next(csv, &nf, &f, err);
    if (r < 0)
        return SIM_EINPUT;
    if (r == 0)
        return sim_err_set(err, SIM_EINPUT,
                           "%s: empty trace (expected a header step,layer,expert,tokens[,src])",
                           sim_csv_name(csv));
    if (!((nf == 4 || nf == 5) && strcmp(f[0], "step") == 0 && strcmp(f[1], "layer") == 0 &&
          strcmp(f[2], "expert") == 0 && strcmp(f[3], "tokens") == 0 &&
          (nf == 4 || strcmp(f[4], "src") == 0)))
        return bad(err, csv, "%s:%d: expected the header step,layer,expert,tokens%s",
                   "[,src] (got another first line)");
    *has_src = nf == 5;
    sim_status st = SIM_OK;
    while ((r = sim_csv_next(csv, &nf, &f, err)) > 0) {
        if (nf != (*has_src ? 5 : 4)) {
            st = sim_err_set(err, SIM_EINPUT, "%s:%d: expected %d fields (got %d)",
                             sim_csv_name(csv), sim_csv_line(csv), *has_src ? 5 : 4, nf);
            goto fail;
        }
        row x = {.line = sim_csv_line(csv)};
        if (sim_csv_int64(csv, f[0], "step", 0, 1000000, &x.step, err) ||
            sim_csv_int64(csv, f[1], "layer", 0, 100000, &x.layer, err) ||
            sim_csv_int64(csv, f[2], "expert", 0, c->model.experts - 1, &x.expert, err) ||
            sim_csv_int64(csv, f[3], "tokens", 0, (int64_t)1 << 50, &x.tokens, err) ||
            (*has_src && sim_csv_int64(csv, f[4], "src", 0, c->parallel.ep - 1, &x.src, err))) {
            st = SIM_EINPUT;
            goto fail;
        }
        if (sim_grow((void **)&rows, &cap, n + 1, sizeof *rows) != 0) {
            st = sim_err_set(err, SIM_ENOMEM, "%s: out of memory", sim_csv_name(csv));
            goto fail;
        }
        rows[n++] = x;
    }
    if (r < 0) {
        st = SIM_EINPUT;
        goto fail;
    }
    if (n == 0) {
        st = sim_err_set(err, SIM_EINPUT, "%s: no rows after the header", sim_csv_name(csv));
        goto fail;
    }
    *rows_out = rows;
    *n_out = n;
    return SIM_OK;
fail:
    sim_free(rows);
    return st;
}

static sim_status parse(sim_csv *csv, const scn_config *c, cli_trace *out, sim_err *err)
{
    row *rows = NULL;
    size_t n = 0;
    int has_src = 0;
    sim_status st = read_rows(csv, c, &rows, &n, &has_src, err);
    if (st != SIM_OK)
        return st;
    const char *name = sim_csv_name(csv);
    int E = c->model.experts, k = c->model.top_k, n_src = has_src ? c->parallel.ep : 0;
    int R = has_src ? n_src : 1;
    int64_t S = 0, L = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].step + 1 > S)
            S = rows[i].step + 1;
        if (rows[i].layer + 1 > L)
            L = rows[i].layer + 1;
    }
    int64_t cells = S * L * R * E;
    int64_t *tok = NULL;
    int *line = NULL;
    if (cells > TRACE_MAX_CELLS) {
        st = sim_err_set(err, SIM_EINPUT,
                         "%s: %lld steps x %lld layers x %d sources x %d experts is more than "
                         "%ld cells (steps and layers are numbered from 0 without gaps)",
                         name, (long long)S, (long long)L, R, E, TRACE_MAX_CELLS);
        goto done;
    }
    tok = sim_calloc((size_t)cells, sizeof *tok);
    line = sim_calloc((size_t)cells, sizeof *line);
    if (!tok || !line) {
        st = sim_err_set(err, SIM_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const row *x = &rows[i];
        size_t at = (((size_t)x->step * L + x->layer) * R + (has_src ? x->src : 0)) * E + x->expert;
        if (line[at]) {
            st = sim_err_set(err, SIM_EINPUT,
                             "%s:%d: step %lld layer %lld expert %lld%s given twice (first on "
                             "line %d)",
                             name, x->line, (long long)x->step, (long long)x->layer,
                             (long long)x->expert, has_src ? " (this src)" : "", line[at]);
            goto done;
        }
        line[at] = x->line;
        tok[at] = x->tokens;
    }
    /* every (step, layer[, src]) row needs tokens, and no expert can hold more than 1/k of
     * them: each token picks k distinct experts */
    for (int64_t s = 0; s < S; s++)
        for (int64_t l = 0; l < L; l++)
            for (int r = 0; r < R; r++) {
                size_t at = (((size_t)s * L + l) * R + r) * E;
                int64_t sum = 0;
                for (int e = 0; e < E; e++)
                    sum += tok[at + e];
                if (sum == 0) {
                    char src[32] = "";
                    if (has_src)
                        snprintf(src, sizeof src, " src %d", r);
                    st = sim_err_set(err, SIM_EINPUT,
                                     "%s: step %lld layer %lld%s: no tokens (steps and layers "
                                     "are numbered from 0 without gaps)",
                                     name, (long long)s, (long long)l, src);
                    goto done;
                }
                for (int e = 0; e < E; e++)
                    if ((double)tok[at + e] * k > (double)sum) {
                        st = sim_err_set(err, SIM_EINPUT,
                                         "%s:%d: expert %d has %lld of the %lld assignments of "
                                         "step %lld layer %lld, more than 1/top_k = 1/%d (each "
                                         "token picks %d distinct experts)",
                                         name, line[at + e], e, (long long)tok[at + e],
                                         (long long)sum, (long long)s, (long long)l, k, k);
                        goto done;
                    }
            }
    out->tokens = tok;
    out->t = (route_trace){.n_steps = (int)S, .n_layers = (int)L, .n_experts = E,
                           .n_src = n_src, .tokens = tok};
    tok = NULL;
done:
    sim_free(tok);
    sim_free(line);
    sim_free(rows);
    return st;
}

sim_status cli_trace_load(const char *path, const scn_config *c, cli_trace *out, sim_err *err)
{
    sim_csv *csv = NULL;
    sim_status st = sim_csv_open(path, &csv, err);
    if (st == SIM_OK)
        st = parse(csv, c, out, err);
    sim_csv_close(csv);
    return st;
}

sim_status cli_trace_parse(const char *name, const char *text, const scn_config *c,
                           cli_trace *out, sim_err *err)
{
    sim_csv *csv = NULL;
    sim_status st = sim_csv_open_string(name, text, &csv, err);
    if (st == SIM_OK)
        st = parse(csv, c, out, err);
    sim_csv_close(csv);
    return st;
}

void cli_trace_fini(cli_trace *t)
{
    sim_free(t->tokens);
    memset(t, 0, sizeof *t);
}
