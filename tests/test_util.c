/* tests/test_util.c: the command's shared helpers (cli/util.c): the progress line a sweep
 * prints, on a terminal and redirected, and the exit statuses of errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

/* 12 of 48 points in 5 s, 2 of them found stored before: 10 run in 5 s = 2.00 points/s;
 * 36 left at that rate = 18 s. The terminal form redraws in place: it starts with '\r',
 * has a 30-character bar filled 30 * 12 / 48 = 7 and no newline. */
static void test_sweep_progress_line(void **state)
{
    (void)state;
    cli_progress p;
    cli_progress_init(&p, "sweep", 0);
    p.unit = "points";
    p.base = 2;
    char buf[256];
    cli_progress_format(&p, 1, 12, 48, 5.0, buf, sizeof buf);
    assert_string_equal(buf, "\rsweep [#######.......................] 12/48 points  2.00 points/s"
                             "  ~18s left  5s elapsed   ");
    cli_progress_format(&p, 0, 12, 48, 5.0, buf, sizeof buf);
    assert_string_equal(buf, "sweep: 12/48 points, 2.00 points/s, ~18s left, 5s elapsed\n");
}

/* Rates and durations stay readable: 1 point in 8 s is 0.125 points/s and 99 left take
 * 792 s = 13m12s; 3000 steps in 2 s, no unit, 1500/s; nothing done yet: the time left is
 * unknown. */
static void test_rates_and_durations(void **state)
{
    (void)state;
    cli_progress p;
    cli_progress_init(&p, "sweep", 0);
    p.unit = "points";
    char buf[256];
    cli_progress_format(&p, 0, 1, 100, 8.0, buf, sizeof buf);
    assert_string_equal(buf, "sweep: 1/100 points, 0.125 points/s, ~13m12s left, 8s elapsed\n");
    cli_progress_init(&p, "simulating", 0);
    cli_progress_format(&p, 0, 3000, 10000, 2.0, buf, sizeof buf);
    assert_string_equal(buf, "simulating: 3000/10000 done, 1500/s, ~5s left, 2s elapsed\n");
    cli_progress_format(&p, 0, 0, 10, 3.0, buf, sizeof buf);
    assert_string_equal(buf, "simulating: 0/10 done, 0/s, ~? left, 3s elapsed\n");
    /* 1 of 10000 in 2 h: 9999 left at 1 per 7200 s is 2 h short of 20000 h */
    cli_progress_format(&p, 0, 1, 10000, 7200.0, buf, sizeof buf);
    assert_non_null(strstr(buf, "~19998h00m left, 2h00m elapsed"));
}

/* A small buffer truncates, never overflows. */
static void test_truncates(void **state)
{
    (void)state;
    cli_progress p;
    cli_progress_init(&p, "sweep", 0);
    char buf[16];
    cli_progress_format(&p, 1, 1, 2, 1.0, buf, sizeof buf);
    assert_int_equal(strlen(buf), 15);
}

/* Quiet progress prints nothing (and does not touch stderr's state). */
static void test_quiet(void **state)
{
    (void)state;
    cli_progress p;
    cli_progress_init(&p, "sweep", 1);
    p.t0 -= 100;                        /* as if 100 s had passed */
    cli_progress_update(&p, 1, 2);
    assert_int_equal(p.shown, 0);
}

/* Runs are named after their scenario file: the last path part without its extension. */
static void test_scenario_name(void **state)
{
    (void)state;
    char buf[64];
    cli_scenario_name("scenarios/default.ini", buf, sizeof buf);
    assert_string_equal(buf, "default");
    cli_scenario_name("a.b/c.d.ini", buf, sizeof buf);
    assert_string_equal(buf, "c.d");
    cli_scenario_name(".hidden", buf, sizeof buf);
    assert_string_equal(buf, ".hidden");
    cli_scenario_name("plain", buf, sizeof buf);
    assert_string_equal(buf, "plain");
}

/* Usage errors are status 2; runtime errors take their status's exit code. */
static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(cli_usage_error("sweep", "bad %s", "thing"), 2);
    sim_err err = {0};
    sim_err_set(&err, SIM_EINPUT, "x");
    assert_int_equal(cli_fail(&err), 2);
    sim_err_set(&err, SIM_EIO, "y");
    assert_int_equal(cli_fail(&err), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_progress_line),
        cmocka_unit_test(test_rates_and_durations),
        cmocka_unit_test(test_truncates),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_scenario_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
