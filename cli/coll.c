/* cli/coll.c: `moesim coll`: nccl-tests on a simulated cluster. Sweeps message sizes of
 * one collective and prints nccl-tests' columns (size, count, type, time, algbw, busbw),
 * or replays an all-to-allv traffic matrix read from CSV. */
#include <assert.h>
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "models/coll.h"
#include "models/scenario.h"
#include "sim/alloc.h"
#include "sim/cfg.h"
#include "sim/csv.h"

static const char coll_usage[] =
    "usage: moesim coll [FILE] [--gpu NAME] [--nodes N] [--gpus-per-node N] [--intra LINK]\n"
    "                   [--inter LINK] [--op OP] [--algo NAME] [-b MIN] [-e MAX]\n"
    "                   [-f FACTOR | -i INCREMENT] [--aggregate off|nodes|rings]\n"
    "                   [--set section.key=value]... [--json]\n"
    "       moesim coll [FILE] ... --op all_to_allv --matrix FILE.csv [--json]\n"
    "\n"
    "Runs one collective on a simulated cluster, like nccl-tests on a real one, and prints\n"
    "nccl-tests' columns: size (B), count (elements), type, time (us), algbw and busbw (GB/s).\n"
    "The cluster comes from scenario FILE (its [cluster] and [network] sections), the\n"
    "options below and --set overrides (later ones win).\n"
    "\n"
    "  --gpu NAME           GPU preset (a100-sxm h100-sxm h800 h200 b200 mi300x rtx4090\n"
    "                       h100-pcie); it implies its intra-node link\n"
    "  --nodes N, --gpus-per-node N\n"
    "  --intra LINK, --inter LINK  link presets (nvlink3 nvlink4 nvlink5 h800-nvlink pcie4\n"
    "                       pcie5 hdr200 ndr400 xdr800 roce400 eth100 nvlink-bridge xgmi)\n"
    "  --op OP              all_reduce (default), reduce_scatter, all_gather, all_to_all,\n"
    "                       all_to_allv\n"
    "  --algo NAME          all_reduce: ring tree hierarchical nvls (default network.all_reduce);\n"
    "                       all_to_all(v): direct pairwise hierarchical (network.all_to_all);\n"
    "                       reduce_scatter, all_gather: ring\n"
    "  -b MIN, -e MAX       smallest and largest size in bytes; suffixes K, M, G (x1024)\n"
    "                       (defaults 8 and 128M)\n"
    "  -f FACTOR            multiply the size by FACTOR each row (default 2)\n"
    "  -i INCREMENT         add INCREMENT bytes each row instead\n"
    "  --matrix FILE.csv    all_to_allv: rows src,dst,bytes (GPU indices; a header line\n"
    "                       is allowed); prints the completion time and each GPU's finish\n"
    "  --aggregate MODE     off (default); nodes: in all_to_all(v) direct, the flows between\n"
    "                       two nodes that carry equal bytes move as one bundle (exact for\n"
    "                       uniform all-to-alls on symmetric fabrics); rings: every ring\n"
    "                       (ring and hierarchical collectives) moves as one bundle of its\n"
    "                       edges, unchunked (docs/NETWORK.md, \"Aggregation\")\n"
    "  --json               print the rows as JSON\n"
    "\n"
    "Bus bandwidth as nccl-tests: algbw x 2(n-1)/n for all_reduce, x (n-1)/n for the others.\n"
    "Sizes as nccl-tests: float elements; reduce_scatter, all_gather and all_to_all round\n"
    "the size down to a multiple of 4 x n bytes.\n";

typedef struct coll_opts {
    const char *file, *op, *algo, *matrix;
    const char **sets;
    size_t n_sets;
    char *owned[8];
    size_t n_owned;
    double min_b, max_b, factor, incr;
    int json, aggregate;
} coll_opts;

/* "8", "64K", "8G" (x1024 per step) -> bytes; -1 if malformed. */
static double parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || isinf(v))
        return -1;
    double m = 1;
    switch (*end) {
    case 'K': case 'k': m = 1024.0; end++; break;
    case 'M': case 'm': m = 1024.0 * 1024; end++; break;
    case 'G': case 'g': m = 1024.0 * 1024 * 1024; end++; break;
    case 'T': case 't': m = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    return *end ? -1 : floor(v * m);
}

/* Adds "key=value" as an override (owned copy). */
static int add_set(coll_opts *o, const char *key, const char *value)
{
    if (o->n_owned >= sizeof o->owned / sizeof o->owned[0])
        return -1;
    size_t n = strlen(key) + strlen(value) + 2;
    char *s = sim_malloc(n);
    if (!s)
        return -1;
    snprintf(s, n, "%s=%s", key, value);
    o->owned[o->n_owned++] = s;
    o->sets[o->n_sets++] = s;
    return 0;
}

static int parse_args(int argc, char **argv, coll_opts *o)
{
    static const struct {
        const char *flag, *key;
    } cluster_flags[] = {{"--gpu", "cluster.gpu"},
                         {"--nodes", "cluster.nodes"},
                         {"--gpus-per-node", "cluster.gpus_per_node"},
                         {"--intra", "cluster.intra"},
                         {"--inter", "cluster.inter"}};
    o->sets = sim_calloc((size_t)argc + 8, sizeof *o->sets);
    if (!o->sets)
        return cli_usage_error("coll", "out of memory");
    /* a collective needs no model: an expert-parallel degree that always divides */
    if (add_set(o, "parallel.ep", "1"))
        return cli_usage_error("coll", "out of memory");
    o->op = "all_reduce";
    o->min_b = 8;
    o->max_b = 128.0 * 1024 * 1024;
    o->factor = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(coll_usage, stdout);
            return -1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof cluster_flags / sizeof cluster_flags[0]; k++)
            if (strcmp(a, cluster_flags[k].flag) == 0) {
                if (i + 1 >= argc)
                    return cli_usage_error("coll", "%s needs a value", a);
                if (add_set(o, cluster_flags[k].key, argv[++i]))
                    return cli_usage_error("coll", "too many cluster options");
                matched = 1;
            }
        if (matched)
            continue;
        if (strcmp(a, "--set") == 0 || strcmp(a, "--op") == 0 || strcmp(a, "--algo") == 0 ||
            strcmp(a, "--matrix") == 0 || strcmp(a, "-b") == 0 || strcmp(a, "-e") == 0 ||
            strcmp(a, "-f") == 0 || strcmp(a, "-i") == 0 || strcmp(a, "--aggregate") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("coll", "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--set") == 0) {
                o->sets[o->n_sets++] = v;
            } else if (strcmp(a, "--op") == 0) {
                o->op = v;
            } else if (strcmp(a, "--algo") == 0) {
                o->algo = v;
            } else if (strcmp(a, "--matrix") == 0) {
                o->matrix = v;
            } else if (strcmp(a, "--aggregate") == 0) {
                if (strcmp(v, "off") != 0 && strcmp(v, "nodes") != 0 && strcmp(v, "rings") != 0)
                    return cli_usage_error("coll",
                                           "--aggregate: expected off, nodes or rings (got \"%s\")",
                                           v);
                o->aggregate = strcmp(v, "nodes") == 0   ? COLL_AGG_NODES
                               : strcmp(v, "rings") == 0 ? COLL_AGG_RINGS
                                                         : COLL_AGG_OFF;
            } else {
                double x = parse_size(v);
                if (x < 0)
                    return cli_usage_error("coll", "%s: expected a size such as 8, 64K or 8G (got \"%s\")",
                                           a, v);
                if (a[1] == 'b')
                    o->min_b = x;
                else if (a[1] == 'e')
                    o->max_b = x;
                else if (a[1] == 'i')
                    o->incr = x, o->factor = 0;
                else if (strtod(v, NULL) > 1)
                    o->factor = strtod(v, NULL), o->incr = 0;
                else
                    return cli_usage_error("coll", "-f: expected a factor above 1 (got \"%s\")", v);
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("coll", "unknown option '%s'", a);
        } else if (!o->file) {
            o->file = a;
        } else {
            return cli_usage_error("coll", "one scenario file at a time (got '%s' and '%s')",
                                   o->file, a);
        }
    }
    if (o->min_b > o->max_b)
        return cli_usage_error("coll", "-b %.0f is larger than -e %.0f", o->min_b, o->max_b);
    if (o->factor == 0 && o->incr <= 0)
        return cli_usage_error("coll", "-i: expected an increment above 0");
    return 0;
}

static sim_status load_config(const coll_opts *o, scn_config *c, sim_err *err)
{
    sim_status st;
    if (o->file)
        st = sim_cfg_load_file(scn_keys, scn_n_keys, c, o->file, o->sets, o->n_sets, NULL, err);
    else
        st = sim_cfg_load_string(scn_keys, scn_n_keys, c, "(defaults)", "", o->sets, o->n_sets,
                                 err);
    if (st == SIM_OK && (st = scn_resolve(c, NULL, err)) != SIM_OK && o->file) {
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        sim_err_set(err, st, "%.250s: %.700s", o->file, msg);
    }
    return st;
}

/* The traffic matrix: rows src,dst,bytes over n GPUs; repeated pairs add up. */
static sim_status read_matrix(const char *path, int n, double *m, sim_err *err)
{
    sim_csv *csv;
    sim_status st = sim_csv_open(path, &csv, err);
    if (st != SIM_OK)
        return st;
    int nf, first = 1;
    char **f;
    int r;
    while ((r = sim_csv_next(csv, &nf, &f, err)) == 1) {
        if (first && nf >= 1 && strcmp(f[0], "src") == 0) {   /* header */
            first = 0;
            continue;
        }
        first = 0;
        if (nf != 3) {
            st = sim_err_set(err, SIM_EINPUT, "%s:%d: expected 3 fields src,dst,bytes (got %d)",
                             sim_csv_name(csv), sim_csv_line(csv), nf);
            break;
        }
        int64_t s, d;
        double b;
        if (sim_csv_int64(csv, f[0], "src", 0, n - 1, &s, err) ||
            sim_csv_int64(csv, f[1], "dst", 0, n - 1, &d, err) ||
            sim_csv_double(csv, f[2], "bytes", 0, 1e18, &b, err)) {
            st = SIM_EINPUT;
            break;
        }
        m[(size_t)s * n + d] += b;
    }
    if (r < 0)
        st = SIM_EINPUT;
    sim_csv_close(csv);
    return st;
}

static void print_header(const scn_config *c, const char *op, const coll_algo *algo)
{
    printf("# moesim coll: %s (%s), %d x %s (%d node%s x %d), intra %s %.0f GB/s (%s), "
           "inter %s %.0f Gb/s, network %s\n",
           op, algo->name, scn_world(c), c->cluster.gpu, c->cluster.nodes,
           c->cluster.nodes == 1 ? "" : "s", c->cluster.gpus_per_node, c->cluster.intra,
           c->cluster.intra_bw_GBps, c->network.intra_topology, c->cluster.inter,
           c->cluster.inter_bw_Gbps, c->network.model);
}

static int run_matrix(const coll_opts *o, const scn_config *c, const coll_algo *algo)
{
    int n = scn_world(c);
    sim_err err = {0};
    double *m = sim_calloc((size_t)n * n, sizeof *m), *fin = sim_calloc((size_t)n, sizeof *fin);
    double t = 0, total = 0;
    sim_status st = SIM_OK;
    int rc = 0;
    if (!m || !fin) {
        st = sim_err_set(&err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = read_matrix(o->matrix, n, m, &err)) != SIM_OK)
        goto out;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j)
                total += m[(size_t)i * n + j];
    if ((st = coll_simulate_agg(c, algo, 0, m, o->aggregate, &t, fin, NULL, NULL, &err)) !=
        SIM_OK)
        goto out;
    if (o->json) {
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "op", "all_to_allv");
        cJSON_AddStringToObject(obj, "algo", algo->name);
        cJSON_AddNumberToObject(obj, "gpus", n);
        cJSON_AddNumberToObject(obj, "bytes", total);
        cJSON_AddNumberToObject(obj, "time_us", t * 1e6);
        cJSON *arr = cJSON_AddArrayToObject(obj, "gpu_finish_us");
        for (int g = 0; g < n && arr; g++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(fin[g] * 1e6));
        char *txt = cJSON_Print(obj);
        cJSON_Delete(obj);
        if (!txt) {
            rc = 1;
            goto out;
        }
        puts(txt);
        cJSON_free(txt);
    } else {
        print_header(c, "all_to_allv", algo);
        printf("# matrix %s: %.0f bytes between GPUs\n", o->matrix, total);
        printf("completion time %.2f us\n", t * 1e6);
        printf("#  gpu   finish (us)\n");
        for (int g = 0; g < n; g++)
            printf("%6d  %12.2f\n", g, fin[g] * 1e6);
    }
out:
    if (st != SIM_OK)
        rc = cli_fail(&err);
    sim_free(m);
    sim_free(fin);
    return rc;
}

static int run_sweep(const coll_opts *o, const scn_config *c, coll_op op, const coll_algo *algo)
{
    const int n = scn_world(c);
    sim_err err = {0};
    cJSON *obj = NULL, *rows = NULL;
    if (o->json) {
        obj = cJSON_CreateObject();
        if (!obj)
            return 1;
        cJSON_AddStringToObject(obj, "op", coll_op_name(op));
        cJSON_AddStringToObject(obj, "algo", algo->name);
        cJSON_AddNumberToObject(obj, "gpus", n);
        cJSON_AddStringToObject(obj, "network", c->network.model);
        rows = cJSON_AddArrayToObject(obj, "rows");
    } else {
        print_header(c, coll_op_name(op), algo);
        printf("#\n#%11s  %12s  %8s  %10s  %7s  %7s\n", "size", "count", "type", "time",
               "algbw", "busbw");
        printf("#%11s  %12s  %8s  %10s  %7s  %7s\n", "(B)", "(elements)", "", "(us)", "(GB/s)",
               "(GB/s)");
    }
    double sum_bus = 0;
    int n_rows = 0;
    for (double size = o->min_b; size <= o->max_b;
         size = o->factor > 0 ? floor(size * o->factor) : size + o->incr) {
        double elems = floor(size / 4), count = elems;
        if (op != COLL_ALL_REDUCE) {
            count = floor(elems / n);
            elems = count * n;
        }
        double bytes = elems * 4, t = 0;
        sim_status st =
            coll_simulate_agg(c, algo, bytes, NULL, o->aggregate, &t, NULL, NULL, NULL, &err);
        if (st != SIM_OK) {
            cJSON_Delete(obj);
            return cli_fail(&err);
        }
        double alg = t > 0 ? bytes / t / 1e9 : 0, bus = alg * coll_busbw_factor(op, n);
        sum_bus += bus;
        n_rows++;
        if (o->json) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddNumberToObject(row, "size", bytes);
            cJSON_AddNumberToObject(row, "count", count);
            cJSON_AddStringToObject(row, "type", "float");
            cJSON_AddNumberToObject(row, "time_us", t * 1e6);
            cJSON_AddNumberToObject(row, "algbw_GBps", alg);
            cJSON_AddNumberToObject(row, "busbw_GBps", bus);
            cJSON_AddItemToArray(rows, row);
        } else {
            printf("%12.0f  %12.0f  %8s  %10.2f  %7.2f  %7.2f\n", bytes, count, "float", t * 1e6,
                   alg, bus);
            fflush(stdout);
        }
        if (o->factor > 0 && size <= 0)
            break;
    }
    if (o->json) {
        char *txt = cJSON_Print(obj);
        cJSON_Delete(obj);
        if (!txt)
            return 1;
        puts(txt);
        cJSON_free(txt);
    } else {
        printf("# Avg bus bandwidth    : %g\n", n_rows ? sum_bus / n_rows : 0.0);
    }
    return 0;
}

int cli_coll(int argc, char **argv)
{
    coll_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    scn_config c;
    sim_err err = {0};
    if (load_config(&o, &c, &err) != SIM_OK) {
        rc = cli_fail(&err);
        goto out;
    }
    int v = strcmp(o.op, "all_to_allv") == 0;
    coll_op op;
    if (v)
        op = COLL_ALL_TO_ALL;
    else if (coll_op_from_name(o.op, &op)) {
        rc = cli_usage_error("coll", "--op: expected all_reduce, reduce_scatter, all_gather, "
                                     "all_to_all or all_to_allv (got \"%s\")", o.op);
        goto out;
    }
    if (v != (o.matrix != NULL)) {
        rc = cli_usage_error("coll", v ? "--op all_to_allv needs --matrix FILE.csv"
                                       : "--matrix goes with --op all_to_allv");
        goto out;
    }
    const char *name = o.algo                    ? o.algo
                       : op == COLL_ALL_REDUCE   ? c.network.all_reduce
                       : op == COLL_ALL_TO_ALL   ? c.network.all_to_all
                                                 : "ring";
    const coll_algo *algo = coll_find(op, name);
    if (!algo) {
        rc = cli_usage_error("coll", "--algo: no algorithm \"%s\" for %s", name, o.op);
        goto out;
    }
    rc = v ? run_matrix(&o, &c, algo) : run_sweep(&o, &c, op, algo);
out:
    for (size_t i = 0; i < o.n_owned; i++)
        sim_free(o.owned[i]);
    sim_free(o.sets);
    return rc;
}
