/* cli/model.c: `moesim model PRESET|FILE`: what a model is, in numbers: parameters by
 * component (total and active per token), FLOPs per token, weight bytes, and the per-GPU
 * memory footprint under the scenario's parallelism. */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "models/arch.h"
#include "models/memory.h"
#include "sim/alloc.h"

static const char model_usage[] =
    "usage: moesim model PRESET|FILE [--set section.key=value]... [--json]\n"
    "\n"
    "Prints a model's parameters by component (total and active per token), its forward and\n"
    "training FLOPs per token, its weight bytes in bf16 and fp8, and the memory one GPU needs\n"
    "under the scenario's parallelism (does it fit?).\n"
    "\n"
    "  PRESET   a preset name: scenarios/presets/models/PRESET.ini (e.g. mixtral-8x7b)\n"
    "  FILE     a scenario or model file (.ini); its [model] section may name a preset\n"
    "  --set section.key=value  override one key (repeatable), e.g. training.seq_len=8192\n"
    "  --json   one JSON object instead of the table\n";

typedef struct row {
    const char *name, *json;
    double total, active;
} row;

static int fill_rows(const scn_config *c, const arch_params *p, row *r)
{
    double vd = (double)c->model.vocab * c->model.hidden;
    int n = 0;
    r[n++] = (row){"embedding", "embedding", p->embedding,
                   c->model.tied_embeddings ? vd : 0.0};
    r[n++] = (row){"attention", "attention", p->attention, p->attention};
    r[n++] = (row){"norms", "norms", p->norms, p->norms};
    r[n++] = (row){"router", "router", p->router, p->router};
    r[n++] = (row){"shared experts", "shared_experts", p->shared, p->shared};
    r[n++] = (row){"routed experts", "routed_experts", p->routed, p->routed_active};
    r[n++] = (row){"dense FFN", "dense_ffn", p->dense_ffn, p->dense_ffn};
    r[n++] = (row){"output", "output", p->output, c->model.tied_embeddings ? 0.0 : p->output};
    return n;
}

static void print_text(const char *src, const scn_config *c, const arch_params *p,
                       const arch_flops *f, const mem_footprint *m)
{
    row r[8];
    int n = fill_rows(c, p, r);
    arch_attn_dims a;
    arch_attn_dims_of(c, &a);
    int Lm = arch_moe_layers(c);
    printf("model      %s  (%s)\n", c->model.name[0] ? c->model.name : "(unnamed)", src);
    printf("shape      %d layers (%d dense, %d MoE), hidden %d, %s attention (%d heads, "
           "%d KV heads)",
           c->model.layers, c->model.dense_layers, Lm, c->model.hidden,
           arch_is_mla(c) ? "latent (MLA)" : "grouped-query", c->model.heads,
           arch_is_mla(c) ? c->model.heads : c->model.kv_heads);
    if (Lm > 0)
        printf(",\n           %d routed experts top-%d (ffn %d)", c->model.experts, c->model.top_k,
               c->model.ffn_expert);
    if (Lm > 0 && c->model.shared_experts > 0)
        printf(" + %d shared (ffn %d)", c->model.shared_experts, c->model.ffn_shared);
    if (c->model.dense_layers > 0)
        printf(", dense ffn %d", c->model.ffn_dense);
    printf(", %s, vocab %d%s\n", c->model.swiglu ? "SwiGLU" : "plain MLP", c->model.vocab,
           c->model.vocab ? (c->model.tied_embeddings ? " (tied)" : " (untied)") : "");
    printf("parameters           total (B)   active/token (B)\n");
    for (int i = 0; i < n; i++)
        if (r[i].total > 0 || r[i].active > 0)
            printf("  %-16s %12.4f %12.4f\n", r[i].name, r[i].total * 1e-9, r[i].active * 1e-9);
    printf("  %-16s %12.4f %12.4f   (%.4f with the input embedding)\n", "total", p->total * 1e-9,
           p->active * 1e-9, p->active_with_embedding * 1e-9);
    printf("FLOPs/token seq_len %d: forward %.4g G = matmul 2 x %.4g B + attention %.4g G;"
           " training 3 x forward = %.4g G\n",
           c->training.seq_len, f->fwd * 1e-9, f->matmul_fwd / 2 * 1e-9, f->attn_fwd * 1e-9,
           f->train * 1e-9);
    printf("           attention = layers x heads x (qk %lld + v %lld) x seq_len "
           "(causal: mean context seq_len/2)\n",
           (long long)a.qk_head, (long long)a.v_head);
    printf("weights    %.2f GB bf16, %.2f GB fp8\n", p->total * 2e-9, p->total * 1e-9);
    cli_memory_print(c, m);
}

void cli_memory_print(const scn_config *c, const mem_footprint *m)
{
    printf("memory     per GPU on %d x %s, EP %d, DP %d, ZeRO %d, recompute %s, %s:\n",
           scn_world(c), c->cluster.gpu, c->parallel.ep, m->dp, c->parallel.zero,
           c->training.recompute, c->training.precision);
    for (int i = 0; i < MEM_N_PARTS; i++)
        printf("  %-16s %10.2f GB\n", mem_part_names[i], m->part_bytes[i] * 1e-9);
    printf("  %-16s %10.2f GB of %.0f GB: %s\n", "total", m->total_bytes * 1e-9,
           m->capacity_bytes * 1e-9, m->fits ? "fits" : "DOES NOT FIT");
    if (!m->fits)
        printf("           %s\n", m->message);
}

void cli_memory_json(cJSON *parent, const mem_footprint *m)
{
    cJSON *mem = cJSON_AddObjectToObject(parent, "memory");
    if (!mem)
        return;
    cJSON *parts = cJSON_AddObjectToObject(mem, "bytes");
    for (int i = 0; i < MEM_N_PARTS && parts; i++)
        cJSON_AddNumberToObject(parts, mem_part_names[i], m->part_bytes[i]);
    cJSON_AddNumberToObject(mem, "total_bytes", m->total_bytes);
    cJSON_AddNumberToObject(mem, "capacity_bytes", m->capacity_bytes);
    cJSON_AddBoolToObject(mem, "fits", m->fits);
    cJSON_AddStringToObject(mem, "message", m->message);
}

static int print_json(const scn_config *c, const arch_params *p, const arch_flops *f,
                      const mem_footprint *m)
{
    row r[8];
    int n = fill_rows(c, p, r);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return 1;
    cJSON_AddStringToObject(o, "name", c->model.name);
    cJSON *pt = cJSON_AddObjectToObject(o, "params");
    for (int i = 0; i < n && pt; i++)
        cJSON_AddNumberToObject(pt, r[i].json, r[i].total);
    cJSON *act = cJSON_AddObjectToObject(o, "params_active_by_component");
    for (int i = 0; i < n && act; i++)
        cJSON_AddNumberToObject(act, r[i].json, r[i].active);
    cJSON_AddNumberToObject(o, "params_total", p->total);
    cJSON_AddNumberToObject(o, "params_active", p->active);
    cJSON_AddNumberToObject(o, "params_active_with_embedding", p->active_with_embedding);
    cJSON_AddNumberToObject(o, "params_non_embedding", p->non_embedding);
    cJSON_AddNumberToObject(o, "seq_len", c->training.seq_len);
    cJSON_AddNumberToObject(o, "flops_per_token_fwd", f->fwd);
    cJSON_AddNumberToObject(o, "flops_per_token_fwd_matmul", f->matmul_fwd);
    cJSON_AddNumberToObject(o, "flops_per_token_fwd_attention", f->attn_fwd);
    cJSON_AddNumberToObject(o, "flops_per_token_train", f->train);
    cJSON_AddNumberToObject(o, "weight_bytes_bf16", p->total * 2.0);
    cJSON_AddNumberToObject(o, "weight_bytes_fp8", p->total);
    cli_memory_json(o, m);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt)
        return 1;
    puts(txt);
    cJSON_free(txt);
    return 0;
}

int cli_model(int argc, char **argv)
{
    const char *what = NULL;
    const char **sets = sim_calloc((size_t)argc, sizeof *sets);
    size_t n_sets = 0;
    int json = 0, rc = 0;
    if (!sets)
        return cli_usage_error("model", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(model_usage, stdout);
            goto out;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--set") == 0) {
            if (i + 1 >= argc) {
                rc = cli_usage_error("model", "--set needs a value");
                goto out;
            }
            sets[n_sets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            sets[n_sets++] = a + 6;
        } else if (a[0] == '-' && a[1] != '\0') {
            rc = cli_usage_error("model", "unknown option '%s'", a);
            goto out;
        } else if (!what) {
            what = a;
        } else {
            rc = cli_usage_error("model", "one model at a time (got '%s' and '%s')", what, a);
            goto out;
        }
    }
    if (!what) {
        rc = cli_usage_error("model", "missing PRESET or FILE");
        goto out;
    }
    scn_config c;
    sim_err err = {0};
    sim_status st;
    struct stat sb;
    char src[1100];
    if (stat(what, &sb) == 0 && S_ISREG(sb.st_mode)) {
        st = cli_load_scenario(what, sets, n_sets, &c, NULL, &err);
        snprintf(src, sizeof src, "%s", what);
    } else if (strchr(what, '/') || strstr(what, ".ini")) {
        st = sim_err_set(&err, SIM_EINPUT, "%s: cannot read: no such file", what);
    } else {
        char text[160];
        snprintf(text, sizeof text, "[model]\npreset = %.100s\n", what);
        st = cli_load_scenario_text(what, text, sets, n_sets, &c, &err);
        if (cli_preset_path(what, src, sizeof src) != 0)
            snprintf(src, sizeof src, "preset %s", what);
    }
    if (st != SIM_OK) {
        rc = cli_fail(&err);
        goto out;
    }
    arch_params p;
    arch_flops f;
    mem_footprint m;
    arch_count(&c, &p);
    arch_flops_per_token(&c, c.training.seq_len, &f);
    mem_footprint_of(&c, NULL, &m);
    if (json)
        rc = print_json(&c, &p, &f, &m);
    else
        print_text(src, &c, &p, &f, &m);
out:
    sim_free(sets);
    return rc;
}
