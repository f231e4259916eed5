/* tests/test_cfg.c: cmocka tests for sim/cfg (table-driven INI loading, overrides, every
 * error message, file reading, format round trip, out-of-memory paths).
 *
 * A small test struct and key table stand in for a model's configuration. Each test states
 * the answer it expects in a comment (or, for the error table, next to the input). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "sim/alloc.h"
#include "sim/cfg.h"

typedef struct {
    int nodes;            /* cluster.nodes          INT [1, 4096], default 8 */
    int gpus_per_node;    /* cluster.gpus_per_node  INT [1, 16], REQUIRED, unit GPU */
    uint64_t hbm_bytes;   /* cluster.hbm_bytes      U64 >= 1, default 80e9, unit B */
    double link_gbps;     /* cluster.link_gbps      DOUBLE > 0, default 400, unit Gbit/s */
    double efficiency;    /* cluster.efficiency     DOUBLE [0, 1], default 0.5 */
    char routing[8];      /* model.routing          ENUM uniform|zipf, default uniform */
    double zipf_s;        /* model.zipf_s           DOUBLE (0, 10], OPTIONAL */
    char experts[32];     /* model.experts          STRING LIST, OPTIONAL */
    int trace;            /* run.trace              BOOL, default false */
    char name[16];        /* run.name               STRING, default "baseline" */
    int seed;             /* run.seed               INT >= 0, OPTIONAL */
    uint64_t max_events;  /* run.max_events         U64 >= 1, OPTIONAL */
    int priority;         /* run.priority           INT <= 10 (no lower bound), default 0 */
    double lat_us;        /* cluster.lat_us         DOUBLE [0, 1000], default 2.5, unit us;
                             last in the table, so format must group it under [cluster] */
} tcfg;

static const sim_cfg_key KEYS[] = {
    {"cluster", "nodes", SIM_CFG_INT, offsetof(tcfg, nodes), 0, 1, 4096, 0, "8", NULL, "",
     "nodes in the cluster"},
    {"cluster", "gpus_per_node", SIM_CFG_INT, offsetof(tcfg, gpus_per_node), 0, 1, 16,
     SIM_CFG_REQUIRED, NULL, NULL, "GPU", "GPUs in each node"},
    {"cluster", "hbm_bytes", SIM_CFG_U64, offsetof(tcfg, hbm_bytes), 0, 1, HUGE_VAL, 0,
     "80000000000", NULL, "B", "HBM per GPU"},
    {"cluster", "link_gbps", SIM_CFG_DOUBLE, offsetof(tcfg, link_gbps), 0, 0, HUGE_VAL,
     SIM_CFG_MIN_OPEN, "400", NULL, "Gbit/s", "link bandwidth"},
    {"cluster", "efficiency", SIM_CFG_DOUBLE, offsetof(tcfg, efficiency), 0, 0, 1, 0, "0.5",
     NULL, "", "fraction of peak reached"},
    {"model", "routing", SIM_CFG_ENUM, offsetof(tcfg, routing), sizeof(((tcfg *)0)->routing), 0,
     0, 0, "uniform", "uniform|zipf", "", "token routing"},
    {"model", "zipf_s", SIM_CFG_DOUBLE, offsetof(tcfg, zipf_s), 0, 0, 10,
     SIM_CFG_MIN_OPEN | SIM_CFG_OPTIONAL, NULL, NULL, "", "Zipf exponent"},
    {"model", "experts", SIM_CFG_STRING, offsetof(tcfg, experts), sizeof(((tcfg *)0)->experts), 0,
     0, SIM_CFG_OPTIONAL | SIM_CFG_LIST, NULL, NULL, "", "expert ids"},
    {"run", "trace", SIM_CFG_BOOL, offsetof(tcfg, trace), 0, 0, 0, 0, "false", NULL, "",
     "write a trace"},
    {"run", "name", SIM_CFG_STRING, offsetof(tcfg, name), sizeof(((tcfg *)0)->name), 0, 0, 0,
     "baseline", NULL, "", "run name"},
    {"run", "seed", SIM_CFG_INT, offsetof(tcfg, seed), 0, 0, INT_MAX, SIM_CFG_OPTIONAL, NULL,
     NULL, "", "random seed"},
    {"run", "max_events", SIM_CFG_U64, offsetof(tcfg, max_events), 0, 1, HUGE_VAL,
     SIM_CFG_OPTIONAL, NULL, NULL, "", "stop after this many events"},
    {"run", "priority", SIM_CFG_INT, offsetof(tcfg, priority), 0, -HUGE_VAL, 10, 0, "0", NULL, "",
     "scheduling priority"},
    {"cluster", "lat_us", SIM_CFG_DOUBLE, offsetof(tcfg, lat_us), 0, 0, 1000, 0, "2.5", NULL,
     "us", "link latency"},
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

#define CLUSTER_KEYS "nodes, gpus_per_node, hbm_bytes, link_gbps, efficiency, lat_us"
#define SECTIONS "cluster, model, run"

static sim_status load(tcfg *c, const char *text, const char *const *ov, size_t n_ov,
                       sim_err *e)
{
    return sim_cfg_load_string(KEYS, N_KEYS, c, "t.ini", text, ov, n_ov, e);
}

/* Field-by-field equality; doubles compared bit for bit. */
static void assert_same_cfg(const tcfg *a, const tcfg *b)
{
    assert_int_equal(a->nodes, b->nodes);
    assert_int_equal(a->gpus_per_node, b->gpus_per_node);
    assert_true(a->hbm_bytes == b->hbm_bytes);
    assert_memory_equal(&a->link_gbps, &b->link_gbps, sizeof(double));
    assert_memory_equal(&a->efficiency, &b->efficiency, sizeof(double));
    assert_string_equal(a->routing, b->routing);
    assert_memory_equal(&a->zipf_s, &b->zipf_s, sizeof(double));
    assert_string_equal(a->experts, b->experts);
    assert_int_equal(a->trace, b->trace);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->seed, b->seed);
    assert_true(a->max_events == b->max_events);
    assert_int_equal(a->priority, b->priority);
    assert_memory_equal(&a->lat_us, &b->lat_us, sizeof(double));
}

/* Defaults: only the required key given; every other field takes its table default, and
 * OPTIONAL keys without a default are unset (NAN, -1, UINT64_MAX, ""). */
static void test_defaults(void **state)
{
    (void)state;
    tcfg c;
    sim_err e;
    memset(&c, 0xAB, sizeof c);
    assert_int_equal(load(&c, "[cluster]\ngpus_per_node = 8\n", NULL, 0, &e), SIM_OK);
    assert_int_equal(c.nodes, 8);
    assert_int_equal(c.gpus_per_node, 8);
    assert_true(c.hbm_bytes == 80000000000u);
    assert_true(c.link_gbps == 400.0);
    assert_true(c.efficiency == 0.5);
    assert_string_equal(c.routing, "uniform");
    assert_true(isnan(c.zipf_s));
    assert_string_equal(c.experts, "");
    assert_int_equal(c.trace, 0);
    assert_string_equal(c.name, "baseline");
    assert_int_equal(c.seed, -1);
    assert_true(c.max_events == UINT64_MAX);
    assert_int_equal(c.priority, 0);
    assert_true(c.lat_us == 2.5);
}

/* File values replace defaults; comments, inline comments, "key: value", indentation,
 * blank lines and CRLF line ends are all accepted. */
static void test_file_values(void **state)
{
    (void)state;
    tcfg c;
    sim_err e;
    const char *text =
        "; a scenario\r\n"
        "# another comment\r\n"
        "[cluster]\r\n"
        "  nodes = 64          ; indented, with an inline comment\r\n"
        "  gpus_per_node = 4\r\n"
        "hbm_bytes = 18446744073709551615\r\n"
        "link_gbps: 5e-324\r\n"
        "\r\n"
        "[model]\n"
        "routing = zipf\n"
        "zipf_s = 10\n"
        "experts = 0,1, 2\n"
        "[run]\n"
        "trace = on\n"
        "name = fifteen-chars-x\n"
        "seed = -0\n"
        "max_events = 1\n";
    assert_int_equal(load(&c, text, NULL, 0, &e), SIM_OK);
    /* expected: exactly the file's values; "-0" is 0; 5e-324 is the smallest double > 0 */
    assert_int_equal(c.nodes, 64);
    assert_int_equal(c.gpus_per_node, 4);
    assert_true(c.hbm_bytes == UINT64_MAX);
    assert_true(c.link_gbps == 5e-324);
    assert_true(c.efficiency == 0.5);
    assert_string_equal(c.routing, "zipf");
    assert_true(c.zipf_s == 10.0);
    assert_string_equal(c.experts, "0,1, 2");
    assert_int_equal(c.trace, 1);
    assert_string_equal(c.name, "fifteen-chars-x");
    assert_int_equal(c.seed, 0);
    assert_true(c.max_events == 1);
}

/* Every boolean spelling: true/yes/on/1 -> 1, false/no/off/0 -> 0. */
static void test_bool_words(void **state)
{
    (void)state;
    static const char *const words[] = {"true", "yes", "on", "1", "false", "no", "off", "0"};
    for (size_t i = 0; i < 8; i++) {
        char text[128];
        tcfg c;
        sim_err e;
        snprintf(text, sizeof text, "[cluster]\ngpus_per_node=1\n[run]\ntrace = %s\n", words[i]);
        assert_int_equal(load(&c, text, NULL, 0, &e), SIM_OK);
        assert_int_equal(c.trace, i < 4 ? 1 : 0);
    }
}

/* Integer limits: INT_MAX, INT_MIN (priority has no lower bound) and +4 are fine. */
static void test_int_limits(void **state)
{
    (void)state;
    tcfg c;
    sim_err e;
    const char *ov[] = {"run.seed=2147483647", "cluster.nodes=+4", "run.priority=-2147483648"};
    assert_int_equal(load(&c, "[cluster]\ngpus_per_node=1\n", ov, 3, &e), SIM_OK);
    assert_int_equal(c.seed, INT_MAX);
    assert_int_equal(c.priority, INT_MIN);
    assert_int_equal(c.nodes, 4);
}

/* Overrides beat the file, a repeated override's last value wins, blanks around the parts
 * are trimmed, and a required key may come from --set alone. */
static void test_overrides(void **state)
{
    (void)state;
    tcfg c;
    sim_err e;
    const char *ov[] = {"cluster.nodes=16", " cluster.nodes = 32 ", "cluster.gpus_per_node=2",
                        "run.name=", "model.zipf_s=1.5"};
    assert_int_equal(load(&c, "[cluster]\nnodes = 4\n[run]\nname = x\n", ov, 5, &e), SIM_OK);
    /* expected: nodes 32 (last --set), gpus 2, name "" (string may be empty), zipf 1.5 */
    assert_int_equal(c.nodes, 32);
    assert_int_equal(c.gpus_per_node, 2);
    assert_string_equal(c.name, "");
    assert_true(c.zipf_s == 1.5);
    assert_true(c.link_gbps == 400.0);
}

typedef struct {
    const char *text;
    const char *ov[2];
    size_t n_ov;
    const char *msg;
} err_case;

#define G "[cluster]\ngpus_per_node = 8\n"   /* lines 1-2: the required key */

static const err_case ERR_CASES[] = {
    /* sections and keys */
    {G "[clutser]\nnodes = 4\n", {0}, 0,
     "t.ini:3: [clutser]: unknown section (expected one of: " SECTIONS ")"},
    {G "[Cluster]\n\n; c\nnodes = 4\n", {0}, 0,
     "t.ini:3: [Cluster]: unknown section (expected one of: " SECTIONS ")"},
    {G "node = 4\n", {0}, 0,
     "t.ini:3: cluster.node: unknown key (keys in [cluster]: " CLUSTER_KEYS ")"},
    {G "Nodes = 4\n", {0}, 0,
     "t.ini:3: cluster.Nodes: unknown key (keys in [cluster]: " CLUSTER_KEYS ")"},
    {"nodes = 4\n" G, {0}, 0,
     "t.ini:1: nodes: key outside any section (expected a [section] line first, one of: "
     SECTIONS ")"},
    {"[cluster]\nnodes = 4\ngpus_per_node = 8\n\nnodes = 5\n", {0}, 0,
     "t.ini:5: cluster.nodes: given twice (first on line 2)"},
    {G "nodes=4\n[run]\ntrace=on\n[cluster]\nnodes=4\n", {0}, 0,
     "t.ini:7: cluster.nodes: given twice (first on line 3)"},
    /* integers */
    {G "nodes = abc\n", {0}, 0, "t.ini:3: cluster.nodes: expected an integer (got \"abc\")"},
    {G "nodes = 1.5\n", {0}, 0, "t.ini:3: cluster.nodes: expected an integer (got \"1.5\")"},
    {G "nodes = 12x\n", {0}, 0, "t.ini:3: cluster.nodes: expected an integer (got \"12x\")"},
    {G "nodes = 1e3\n", {0}, 0, "t.ini:3: cluster.nodes: expected an integer (got \"1e3\")"},
    {G "nodes = 0x10\n", {0}, 0, "t.ini:3: cluster.nodes: expected an integer (got \"0x10\")"},
    {G "nodes = -\n", {0}, 0, "t.ini:3: cluster.nodes: expected an integer (got \"-\")"},
    {G "nodes =\n", {0}, 0, "t.ini:3: cluster.nodes: expected an integer (got \"\")"},
    {G "nodes = 0\n", {0}, 0,
     "t.ini:3: cluster.nodes: expected a value between 1 and 4096 (got \"0\")"},
    {G "nodes = 4097\n", {0}, 0,
     "t.ini:3: cluster.nodes: expected a value between 1 and 4096 (got \"4097\")"},
    {G "nodes = 99999999999999999999999\n", {0}, 0,
     "t.ini:3: cluster.nodes: expected a value between 1 and 4096 (got "
     "\"99999999999999999999999\")"},
    {"[cluster]\ngpus_per_node = 17\n", {0}, 0,
     "t.ini:2: cluster.gpus_per_node: expected a value between 1 and 16 GPU (got \"17\")"},
    /* seed: [0, INT_MAX], so the top is only named when passed */
    {G "[run]\nseed = -1\n", {0}, 0,
     "t.ini:4: run.seed: expected a value of at least 0 (got \"-1\")"},
    {G "[run]\nseed = 2147483648\n", {0}, 0,
     "t.ini:4: run.seed: expected a value between 0 and 2147483647 (got \"2147483648\")"},
    /* priority: (-inf, 10], so the bottom is only named when passed */
    {G "[run]\npriority = 11\n", {0}, 0,
     "t.ini:4: run.priority: expected a value of at most 10 (got \"11\")"},
    {G "[run]\npriority = -2147483649\n", {0}, 0,
     "t.ini:4: run.priority: expected a value between -2147483648 and 10 (got \"-2147483649\")"},
    /* u64 */
    {G "hbm_bytes = -1\n", {0}, 0,
     "t.ini:3: cluster.hbm_bytes: expected a value of at least 1 B (got \"-1\")"},
    {G "hbm_bytes = 0\n", {0}, 0,
     "t.ini:3: cluster.hbm_bytes: expected a value of at least 1 B (got \"0\")"},
    {G "hbm_bytes = 18446744073709551616\n", {0}, 0,
     "t.ini:3: cluster.hbm_bytes: expected a value between 1 and 18446744073709551615 B (got "
     "\"18446744073709551616\")"},
    {G "hbm_bytes = 80e9\n", {0}, 0,
     "t.ini:3: cluster.hbm_bytes: expected an integer (got \"80e9\")"},
    /* doubles */
    {G "link_gbps = fast\n", {0}, 0,
     "t.ini:3: cluster.link_gbps: expected a number (got \"fast\")"},
    {G "link_gbps = nan\n", {0}, 0, "t.ini:3: cluster.link_gbps: expected a number (got \"nan\")"},
    {G "link_gbps = inf\n", {0}, 0, "t.ini:3: cluster.link_gbps: expected a number (got \"inf\")"},
    {G "link_gbps = 1e999\n", {0}, 0,
     "t.ini:3: cluster.link_gbps: expected a number (got \"1e999\")"},
    {G "link_gbps = 400 Gbit/s\n", {0}, 0,
     "t.ini:3: cluster.link_gbps: expected a number (got \"400 Gbit/s\")"},
    {G "link_gbps =\n", {0}, 0, "t.ini:3: cluster.link_gbps: expected a number (got \"\")"},
    {G "link_gbps = 0\n", {0}, 0,
     "t.ini:3: cluster.link_gbps: expected a value greater than 0 Gbit/s (got \"0\")"},
    {G "link_gbps = -5\n", {0}, 0,
     "t.ini:3: cluster.link_gbps: expected a value greater than 0 Gbit/s (got \"-5\")"},
    {G "efficiency = 1.5\n", {0}, 0,
     "t.ini:3: cluster.efficiency: expected a value between 0 and 1 (got \"1.5\")"},
    {G "lat_us = 1000.5\n", {0}, 0,
     "t.ini:3: cluster.lat_us: expected a value between 0 and 1000 us (got \"1000.5\")"},
    {G "[model]\nzipf_s = 0\n", {0}, 0,
     "t.ini:4: model.zipf_s: expected a value greater than 0 and at most 10 (got \"0\")"},
    {G "[model]\nzipf_s = 10.000000000000002\n", {0}, 0,
     "t.ini:4: model.zipf_s: expected a value greater than 0 and at most 10 (got "
     "\"10.000000000000002\")"},
    /* bool, enum, string */
    {G "[run]\ntrace = maybe\n", {0}, 0,
     "t.ini:4: run.trace: expected true or false (got \"maybe\")"},
    {G "[run]\ntrace = True\n", {0}, 0,
     "t.ini:4: run.trace: expected true or false (got \"True\")"},
    {G "[run]\ntrace =\n", {0}, 0, "t.ini:4: run.trace: expected true or false (got \"\")"},
    {G "[model]\nrouting = foo\n", {0}, 0,
     "t.ini:4: model.routing: expected one of: uniform, zipf (got \"foo\")"},
    {G "[model]\nrouting = Zipf\n", {0}, 0,
     "t.ini:4: model.routing: expected one of: uniform, zipf (got \"Zipf\")"},
    {G "[model]\nrouting =\n", {0}, 0,
     "t.ini:4: model.routing: expected one of: uniform, zipf (got \"\")"},
    {G "[run]\nname = abcdefghijklmnop\n", {0}, 0,
     "t.ini:4: run.name: expected at most 15 characters (got \"abcdefghijklmnop\")"},
    /* a bad value longer than 64 bytes is cut after 64 bytes */
    {G "[model]\nexperts = "
       "0123456789012345678901234567890123456789012345678901234567890123456789\n",
     {0}, 0,
     "t.ini:4: model.experts: expected at most 31 characters (got "
     "\"0123456789012345678901234567890123456789012345678901234567890123...\")"},
    /* required */
    {"[cluster]\nnodes = 4\n", {0}, 0,
     "t.ini: cluster.gpus_per_node: required key missing (GPUs in each node; unit: GPU)"},
    {"", {0}, 0,
     "t.ini: cluster.gpus_per_node: required key missing (GPUs in each node; unit: GPU)"},
    /* syntax, including the first problem winning whichever kind it is */
    {G "nodes 4\n", {0}, 0, "t.ini:3: syntax error (expected 'key = value' or '[section]')"},
    {"[cluster\ngpus_per_node = 8\n", {0}, 0,
     "t.ini:1: syntax error (expected 'key = value' or '[section]')"},
    {"[cluster]\njunk\nnodes = x\n", {0}, 0,
     "t.ini:2: syntax error (expected 'key = value' or '[section]')"},
    {"[cluster]\nnodes = x\njunk\n", {0}, 0,
     "t.ini:2: cluster.nodes: expected an integer (got \"x\")"},
    /* a UTF-8 byte order mark does not hide the first line's section header */
    {"\xEF\xBB\xBF[clutser]\nnodes = 4\n", {0}, 0,
     "t.ini:1: [clutser]: unknown section (expected one of: " SECTIONS ")"},
    /* an indented line is not a continuation: plain text there is a syntax error */
    {G "nodes = 4\n    more words\n", {0}, 0,
     "t.ini:4: syntax error (expected 'key = value' or '[section]')"},
    /* an indented key after another is its own key (libinih would have glued it on) */
    {G "  nodes = 4\n  nodes = 5\n", {0}, 0,
     "t.ini:4: cluster.nodes: given twice (first on line 3)"},
    /* overrides */
    {G, {"nodes=4"}, 1, "--set: \"nodes=4\": expected section.key=value"},
    {G, {"cluster.nodes"}, 1, "--set: \"cluster.nodes\": expected section.key=value"},
    {G, {".nodes=4"}, 1, "--set: \".nodes=4\": expected section.key=value"},
    {G, {"cluster.=4"}, 1, "--set: \"cluster.=4\": expected section.key=value"},
    {G, {"run.name=a\nb"}, 1, "--set: \"run.name=a\nb\": expected section.key=value"},
    {G, {"clutser.nodes=4"}, 1,
     "--set: [clutser]: unknown section (expected one of: " SECTIONS ")"},
    {G, {"cluster.node=4"}, 1,
     "--set: cluster.node: unknown key (keys in [cluster]: " CLUSTER_KEYS ")"},
    {G, {"cluster.nodes=4", "cluster.nodes=abc"}, 2,
     "--set: cluster.nodes: expected an integer (got \"abc\")"},
    {G, {"cluster.nodes="}, 1, "--set: cluster.nodes: expected an integer (got \"\")"},
    {G, {"cluster.link_gbps=0"}, 1,
     "--set: cluster.link_gbps: expected a value greater than 0 Gbit/s (got \"0\")"},
    /* the file is checked before the overrides */
    {G "nodes = x\n", {"cluster.nodes=abc"}, 1,
     "t.ini:3: cluster.nodes: expected an integer (got \"x\")"},
};

/* Each case: SIM_EINPUT, exactly the message listed, and the struct untouched. */
static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ERR_CASES / sizeof ERR_CASES[0]; i++) {
        const err_case *t = &ERR_CASES[i];
        tcfg c, before;
        sim_err e;
        memset(&c, 0xAB, sizeof c);
        memcpy(&before, &c, sizeof c);
        sim_err_clear(&e);
        sim_status s = load(&c, t->text, t->ov, t->n_ov, &e);
        if (s != SIM_EINPUT || strcmp(e.msg, t->msg))
            print_error("case %zu: status %d, message:\n  %s\nexpected:\n  %s\n", i, (int)s, e.msg,
                        t->msg);
        assert_int_equal(s, SIM_EINPUT);
        assert_int_equal(e.status, SIM_EINPUT);
        assert_string_equal(e.msg, t->msg);
        assert_memory_equal(&c, &before, sizeof c);
    }
}

/* A line longer than libinih's buffer (INI_MAX_LINE, 200 here: 198 characters plus '\n' and
 * NUL) is refused with its line number rather than split into two lines. */
static void test_line_too_long(void **state)
{
    (void)state;
    char text[512], want[128];
    tcfg c;
    sim_err e;
    size_t limit = INI_MAX_LINE - 2;
    /* a comment line of exactly the limit: fine */
    memset(text, 0, sizeof text);
    strcpy(text, G "; ");
    memset(text + strlen(text), 'x', limit - 2);
    strcat(text, "\n");
    assert_int_equal(load(&c, text, NULL, 0, &e), SIM_OK);
    /* one more character: refused on line 3 */
    memset(text, 0, sizeof text);
    strcpy(text, G "; ");
    memset(text + strlen(text), 'x', limit - 1);
    strcat(text, "\nnodes = 4\n");
    snprintf(want, sizeof want, "t.ini:3: line too long (at most %zu characters)", limit);
    assert_int_equal(load(&c, text, NULL, 0, &e), SIM_EINPUT);
    assert_string_equal(e.msg, want);
}

/* sim_cfg_find: "cluster.nodes" is KEYS[0]; no dot, unknown key or section give NULL. */
static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(sim_cfg_find(KEYS, N_KEYS, "cluster.nodes"), &KEYS[0]);
    assert_ptr_equal(sim_cfg_find(KEYS, N_KEYS, "run.seed"), &KEYS[10]);
    assert_null(sim_cfg_find(KEYS, N_KEYS, "cluster"));
    assert_null(sim_cfg_find(KEYS, N_KEYS, "cluster.nope"));
    assert_null(sim_cfg_find(KEYS, N_KEYS, "run.nodes"));
    assert_null(sim_cfg_find(KEYS, N_KEYS, "clusterx.nodes"));
}

/* ---- files -------------------------------------------------------------------------------- */

/* Writes n bytes to a fresh temporary file; returns its path in path (size >= 32). */
static void write_temp(char *path, const char *data, size_t n)
{
    strcpy(path, "/tmp/test_cfg_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* A readable file loads; *text_out is the file's text byte for byte; NULL text_out is fine. */
static void test_file_ok(void **state)
{
    (void)state;
    const char *data = "[cluster]\ngpus_per_node = 2\nnodes = 3\n";
    char path[32];
    write_temp(path, data, strlen(data));
    tcfg c;
    sim_err e;
    char *text = NULL;
    const char *ov[] = {"cluster.nodes=5"};
    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, path, ov, 1, &text, &e), SIM_OK);
    assert_string_equal(text, data);
    assert_int_equal(c.nodes, 5);
    sim_free(text);
    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, path, NULL, 0, NULL, &e), SIM_OK);
    assert_int_equal(c.nodes, 3);
    unlink(path);
}

/* Missing file and directory: SIM_EINPUT "PATH: cannot read: <strerror>", text_out untouched.
 * A file error names the path as the file name: "PATH:LINE: ...". */
static void test_file_errors(void **state)
{
    (void)state;
    tcfg c;
    sim_err e;
    char *text = (char *)"untouched";
    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, "/nonexistent-dir/x.ini", NULL, 0,
                                       &text, &e), SIM_EINPUT);
    assert_string_equal(e.msg, "/nonexistent-dir/x.ini: cannot read: No such file or directory");
    assert_string_equal(text, "untouched");

    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, "/tmp", NULL, 0, &text, &e), SIM_EINPUT);
    assert_string_equal(e.msg, "/tmp: cannot read: Is a directory");

    char path[32], want[128];
    const char *bad = "[cluster]\ngpus_per_node = 99\n";
    write_temp(path, bad, strlen(bad));
    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, path, NULL, 0, &text, &e), SIM_EINPUT);
    snprintf(want, sizeof want,
             "%s:2: cluster.gpus_per_node: expected a value between 1 and 16 GPU (got \"99\")",
             path);
    assert_string_equal(e.msg, want);
    assert_string_equal(text, "untouched");
    unlink(path);
}

/* A NUL byte on line 3: "PATH:3: NUL byte (not a text file)". */
static void test_file_nul(void **state)
{
    (void)state;
    static const char data[] = "[cluster]\ngpus_per_node = 2\nx\0y\n";
    char path[32], want[128];
    write_temp(path, data, sizeof data - 1);
    tcfg c;
    sim_err e;
    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, path, NULL, 0, NULL, &e), SIM_EINPUT);
    snprintf(want, sizeof want, "%s:3: NUL byte (not a text file)", path);
    assert_string_equal(e.msg, want);
    unlink(path);
}

/* Size limit: exactly 16 MiB is read (and then fails as all NUL, on line 1); 16 MiB + 1 is
 * "PATH: too large (more than 16 MiB)". */
static void test_file_size(void **state)
{
    (void)state;
    char path[32], want[128];
    write_temp(path, "", 0);
    tcfg c;
    sim_err e;
    assert_int_equal(truncate(path, (off_t)16 << 20), 0);
    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, path, NULL, 0, NULL, &e), SIM_EINPUT);
    snprintf(want, sizeof want, "%s:1: NUL byte (not a text file)", path);
    assert_string_equal(e.msg, want);
    assert_int_equal(truncate(path, ((off_t)16 << 20) + 1), 0);
    assert_int_equal(sim_cfg_load_file(KEYS, N_KEYS, &c, path, NULL, 0, NULL, &e), SIM_EINPUT);
    snprintf(want, sizeof want, "%s: too large (more than 16 MiB)", path);
    assert_string_equal(e.msg, want);
    unlink(path);
}

/* ---- format --------------------------------------------------------------------------------- */

/* The exact text for the defaults: sections in table order, lat_us grouped under [cluster],
 * unset optionals as comments, 0.5 and 2.5 written shortest. */
static void test_format_text(void **state)
{
    (void)state;
    tcfg c;
    sim_err e;
    assert_int_equal(load(&c, "[cluster]\ngpus_per_node = 8\n", NULL, 0, &e), SIM_OK);
    char *s = sim_cfg_format(KEYS, N_KEYS, &c);
    assert_non_null(s);
    assert_string_equal(s,
                        "[cluster]\n"
                        "nodes = 8\n"
                        "gpus_per_node = 8\n"
                        "hbm_bytes = 80000000000\n"
                        "link_gbps = 400\n"
                        "efficiency = 0.5\n"
                        "lat_us = 2.5\n"
                        "\n"
                        "[model]\n"
                        "routing = uniform\n"
                        "; zipf_s = (not set)\n"
                        "; experts = (not set)\n"
                        "\n"
                        "[run]\n"
                        "trace = false\n"
                        "name = baseline\n"
                        "; seed = (not set)\n"
                        "; max_events = (not set)\n"
                        "priority = 0\n");
    sim_free(s);
}

/* Round trip: format, load the text back, and every field is the same (doubles bit for bit),
 * both with optionals unset and with awkward doubles (1/3, 0.1, denormal, -0, 1e300). */
static void test_format_round_trip(void **state)
{
    (void)state;
    static const char *const sets[][8] = {
        {"cluster.gpus_per_node=8", NULL},
        {"cluster.gpus_per_node=16", "cluster.efficiency=0.33333333333333331",
         "cluster.link_gbps=4.9406564584124654e-324", "cluster.lat_us=-0",
         "model.zipf_s=0.1", "model.experts=1,2,3", "run.seed=0",
         "run.max_events=18446744073709551614"},
        {"cluster.gpus_per_node=1", "cluster.link_gbps=1e300", "run.priority=-7",
         "run.trace=yes", "run.name=a b", "model.routing=zipf", "cluster.lat_us=999.99999999999989",
         "cluster.efficiency=1"},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        size_t n = 0;
        while (n < 8 && sets[i][n])
            n++;
        tcfg a, b;
        sim_err e;
        memset(&a, 0, sizeof a);
        memset(&b, 0x5A, sizeof b);
        assert_int_equal(load(&a, "", sets[i], n, &e), SIM_OK);
        char *s = sim_cfg_format(KEYS, N_KEYS, &a);
        assert_non_null(s);
        if (load(&b, s, NULL, 0, &e) != SIM_OK)
            print_error("%s\n%s\n", e.msg, s);
        assert_int_equal(load(&b, s, NULL, 0, &e), SIM_OK);
        assert_same_cfg(&a, &b);
        sim_free(s);
    }
}

/* ---- out of memory ------------------------------------------------------------------------- */

/* Failing the n-th allocation, n = 0, 1, ...: every call returns SIM_ENOMEM with "out of
 * memory" and leaves struct and text_out untouched, until n is large enough to succeed.
 * ASan (the san build) checks that nothing leaks along the way. */
static void test_out_of_memory(void **state)
{
    (void)state;
    const char *data = "[cluster]\ngpus_per_node = 2\n";
    char path[32];
    write_temp(path, data, strlen(data));
    const char *ov[] = {"cluster.nodes=5", "run.seed=3"};
    long n;
    for (n = 0;; n++) {
        tcfg c, before;
        sim_err e;
        char *text = NULL;
        memset(&c, 0xAB, sizeof c);
        memcpy(&before, &c, sizeof c);
        sim_alloc_fail_after(n);
        sim_status s = sim_cfg_load_file(KEYS, N_KEYS, &c, path, ov, 2, &text, &e);
        sim_alloc_fail_after(-1);
        if (s == SIM_OK) {
            assert_string_equal(text, data);
            assert_int_equal(c.nodes, 5);
            sim_free(text);
            break;
        }
        assert_int_equal(s, SIM_ENOMEM);
        assert_non_null(strstr(e.msg, "out of memory"));
        assert_null(text);
        assert_memory_equal(&c, &before, sizeof c);
        assert_true(n < 100);
    }
    /* expected: read buffer, key marks, scratch struct, two override copies = 5 allocations */
    assert_int_equal(n, 5);
    unlink(path);

    tcfg c;
    sim_err e;
    assert_int_equal(load(&c, data, NULL, 0, &e), SIM_OK);
    for (n = 0;; n++) {
        sim_alloc_fail_after(n);
        char *s = sim_cfg_format(KEYS, N_KEYS, &c);
        sim_alloc_fail_after(-1);
        if (s) {
            sim_free(s);
            break;
        }
        assert_true(n < 100);
    }
    assert_true(n >= 1);   /* at least the first buffer allocation was refused once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_bool_words),
        cmocka_unit_test(test_int_limits),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_file_ok),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_nul),
        cmocka_unit_test(test_file_size),
        cmocka_unit_test(test_format_text),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
