/* tests/test_res_trace.c: the Chrome trace writer (results/trace.c). A trace is read back
 * with cJSON and checked event by event: what Perfetto and chrome://tracing need is valid
 * JSON with a traceEvents array, "M" metadata naming processes and threads, "X" spans,
 * "b"/"e" async pairs with one id, and "C" counters whose args are the series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <cJSON.h>

#include "results/trace.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/moesim-rtrace-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/t.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static cJSON *read_trace(void)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "traceEvents")));
    return o;
}

/* the n-th event with phase ph (from 0), or NULL */
static cJSON *nth(cJSON *o, char ph, int n)
{
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "traceEvents")) {
        if (cJSON_GetObjectItem(e, "ph")->valuestring[0] == ph && n-- == 0)
            return e;
    }
    return NULL;
}

static double num(cJSON *e, const char *key)
{
    cJSON *v = cJSON_GetObjectItem(e, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

/* Spans, async pairs and names round-trip; a name with quotes and a newline stays text. */
static void test_spans_and_names(void **state)
{
    (void)state;
    res_trace *t = NULL;
    assert_int_equal(res_trace_open(path, &t, NULL), SIM_OK);
    res_trace_name_process(t, 0, "GPU 0 (\"x\"\n)", 0);
    res_trace_name_thread(t, 0, 1, "sends");
    res_trace_complete(t, 0, 0, "expert_gemm", "expert_gemm", 1.5, 2.25, NULL, 0);
    res_trace_async(t, 0, 1, 7, "dispatch", "dispatch", 4.0, 1.0, "bytes", 4096);
    assert_int_equal(res_trace_close(t, NULL), SIM_OK);
    cJSON *o = read_trace();
    cJSON *m = nth(o, 'M', 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "args"), "name")->valuestring,
                        "GPU 0 (\"x\"\n)");
    cJSON *x = nth(o, 'X', 0);
    assert_true(num(x, "ts") == 1.5 && num(x, "dur") == 2.25);
    cJSON *b = nth(o, 'b', 0), *e = nth(o, 'e', 0);
    assert_string_equal(cJSON_GetObjectItem(b, "id")->valuestring,
                        cJSON_GetObjectItem(e, "id")->valuestring);
    assert_true(num(e, "ts") == 5.0);
    assert_true(num(cJSON_GetObjectItem(b, "args"), "bytes") == 4096);
    cJSON_Delete(o);
}

/* Two links of a 2 ms step: a named process and, per link, a counter at 0 with its busy
 * percent (0.5 ms of 2 ms = 25 %, 1.5 ms = 75 %) and GB (1.5e9 bytes = 1.5 GB), back to 0
 * at the end of the step (2000 us). */
static void test_link_counters(void **state)
{
    (void)state;
    res_trace *t = NULL;
    assert_int_equal(res_trace_open(path, &t, NULL), SIM_OK);
    res_link links[2] = {{"node 0 NIC 0 up", 50e9, 1.5e9, 1.5e-3},
                         {"node 1 NIC 0 down", 50e9, 0.5e9, 0.5e-3}};
    res_trace_links(t, 8, 8, 0, 2e-3, links, 2);
    res_trace_links(t, 9, 9, 0, 2e-3, links, 0);       /* nothing for no links */
    assert_int_equal(res_trace_close(t, NULL), SIM_OK);
    cJSON *o = read_trace();
    cJSON *m = nth(o, 'M', 0);
    assert_int_equal((int)num(m, "pid"), 8);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "args"), "name")->valuestring,
                        "network links (busiest 2, step 0)");
    assert_null(nth(o, 'M', 2));                       /* name and sort index, once */
    const double busy[2] = {75, 25}, gb[2] = {1.5, 0.5};
    for (int l = 0; l < 2; l++) {
        cJSON *start = nth(o, 'C', 2 * l), *end = nth(o, 'C', 2 * l + 1);
        assert_string_equal(cJSON_GetObjectItem(start, "name")->valuestring, links[l].name);
        assert_int_equal((int)num(start, "pid"), 8);
        assert_true(num(start, "ts") == 0);
        assert_true(num(cJSON_GetObjectItem(start, "args"), "busy %") == busy[l]);
        assert_true(num(cJSON_GetObjectItem(start, "args"), "GB") == gb[l]);
        assert_true(num(end, "ts") == 2000);
        assert_true(num(cJSON_GetObjectItem(end, "args"), "busy %") == 0);
    }
    assert_null(nth(o, 'C', 4));
    cJSON_Delete(o);
}

/* A trace that cannot be created fails with the path; an aborted one leaves no file. */
static void test_failures_leave_nothing(void **state)
{
    (void)state;
    res_trace *t = NULL;
    sim_err err = {0};
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/t.json", dir);
    assert_int_equal(res_trace_open(bad, &t, &err), SIM_EIO);
    assert_non_null(strstr(err.msg, bad));
    unlink(path);
    assert_int_equal(res_trace_open(path, &t, NULL), SIM_OK);
    res_trace_complete(t, 0, 0, "a", "a", 0, 1, NULL, 0);
    res_trace_abort(t);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", dir);
    assert_int_equal(system(cmd), 0);                  /* no temporary file left either */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_and_names),
        cmocka_unit_test(test_link_counters),
        cmocka_unit_test(test_failures_leave_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
