/* tests/test_csv.c: the numeric CSV reader: records, comments, line numbers, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/alloc.h"
#include "sim/csv.h"

/* Header, a comment, a blank line and two records: fields trimmed, lines counted from 1. */
static void test_records_and_lines(void **state)
{
    (void)state;
    sim_csv *c;
    assert_int_equal(sim_csv_open_string("t.csv", "src, dst ,bytes\n# note\n\n0,1, 100\r\n1,0,5",
                                         &c, NULL), SIM_OK);
    int n;
    char **f;
    assert_int_equal(sim_csv_next(c, &n, &f, NULL), 1);
    assert_int_equal(n, 3);
    assert_string_equal(f[1], "dst");
    assert_int_equal(sim_csv_next(c, &n, &f, NULL), 1);
    assert_int_equal(sim_csv_line(c), 4);
    assert_string_equal(f[2], "100");
    int64_t v;
    assert_int_equal(sim_csv_int64(c, f[2], "bytes", 0, 1000, &v, NULL), 0);
    assert_int_equal(v, 100);
    assert_int_equal(sim_csv_next(c, &n, &f, NULL), 1);
    assert_int_equal(sim_csv_line(c), 5);
    assert_int_equal(sim_csv_next(c, &n, &f, NULL), 0);
    sim_csv_close(c);
}

/* Bad numbers name the file, line and column. */
static void test_errors(void **state)
{
    (void)state;
    sim_csv *c;
    sim_err err = {0};
    assert_int_equal(sim_csv_open_string("t.csv", "1,x\n2,-3\n", &c, NULL), SIM_OK);
    int n;
    char **f;
    int64_t v;
    double d;
    sim_csv_next(c, &n, &f, NULL);
    assert_int_equal(sim_csv_int64(c, f[1], "tokens", 0, 10, &v, &err), -1);
    assert_string_equal(err.msg, "t.csv:1: column tokens: expected an integer (got \"x\")");
    sim_csv_next(c, &n, &f, NULL);
    assert_int_equal(sim_csv_double(c, f[1], "time", 0, 1, &d, &err), -1);
    assert_string_equal(err.msg, "t.csv:2: column time: expected a number between 0 and 1 (got -3)");
    sim_csv_close(c);
    assert_int_equal(sim_csv_open("/nonexistent/x.csv", &c, &err), SIM_EINPUT);
    assert_string_equal(err.msg, "/nonexistent/x.csv: cannot read: No such file or directory");
}

static void test_alloc_failure(void **state)
{
    (void)state;
    for (long k = 0; k < 5; k++) {
        sim_alloc_fail_after(k);
        sim_csv *c = NULL;
        sim_status st = sim_csv_open_string("t.csv", "1,2\n", &c, NULL);
        sim_alloc_fail_after(-1);
        assert_true(st == SIM_OK || st == SIM_ENOMEM);
        sim_csv_close(st == SIM_OK ? c : NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_and_lines),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
