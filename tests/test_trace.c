/* tests/test_trace.c: the routing trace CSV reader (cli/trace.c): the format, and the
 * FILE:LINE message of every kind of malformed file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli/trace.h"

static scn_config cfg(void)
{
    scn_config c;
    memset(&c, 0, sizeof c);
    c.model.experts = 4;
    c.model.top_k = 2;
    c.parallel.ep = 2;
    return c;
}

/* Two steps x one layer without a source column: dense [step][layer][1][expert]; missing
 * experts are 0; comments and blank lines are skipped. */
static void test_parse_totals(void **state)
{
    (void)state;
    scn_config c = cfg();
    cli_trace t;
    sim_err err = {0};
    const char *text = "# my router\nstep,layer,expert,tokens\n0,0,0,10\n0,0,1,10\n\n"
                       "1,0,2,6\n1,0,3,5\n1,0,0,1\n";
    assert_int_equal(cli_trace_parse("t.csv", text, &c, &t, &err), SIM_OK);
    assert_int_equal(t.t.n_steps, 2);
    assert_int_equal(t.t.n_layers, 1);
    assert_int_equal(t.t.n_src, 0);
    const int64_t want[8] = {10, 10, 0, 0, 1, 0, 6, 5};
    assert_memory_equal(t.t.tokens, want, sizeof want);
    cli_trace_fini(&t);
}

/* With a src column every (step, layer, src) row is kept apart. */
static void test_parse_sources(void **state)
{
    (void)state;
    scn_config c = cfg();
    cli_trace t;
    sim_err err = {0};
    const char *text = "step,layer,expert,tokens,src\n0,0,0,5,0\n0,0,1,5,0\n0,0,2,3,1\n"
                       "0,0,3,3,1\n";
    assert_int_equal(cli_trace_parse("t.csv", text, &c, &t, &err), SIM_OK);
    assert_int_equal(t.t.n_src, 2);
    const int64_t want[8] = {5, 5, 0, 0, 0, 0, 3, 3};
    assert_memory_equal(t.t.tokens, want, sizeof want);
    cli_trace_fini(&t);
}

/* Malformed files: the exact message, naming the file and line. */
static void test_malformed(void **state)
{
    (void)state;
    scn_config c = cfg();
    struct {
        const char *text, *msg;
    } cases[] = {
        {"", "t.csv: empty trace (expected a header step,layer,expert,tokens[,src])"},
        {"step,layer,expert\n0,0,0\n",
         "t.csv:1: expected the header step,layer,expert,tokens[,src] (got another first "
         "line)"},
        {"step,layer,expert,tokens\n", "t.csv: no rows after the header"},
        {"step,layer,expert,tokens\n0,0,1\n", "t.csv:2: expected 4 fields (got 3)"},
        {"step,layer,expert,tokens\n0,0,x,5\n",
         "t.csv:2: column expert: expected an integer (got \"x\")"},
        {"step,layer,expert,tokens\n0,0,4,5\n",
         "t.csv:2: column expert: expected an integer between 0 and 3 (got 4)"},
        {"step,layer,expert,tokens\n0,0,1,-5\n",
         "t.csv:2: column tokens: expected an integer between 0 and"},
        {"step,layer,expert,tokens,src\n0,0,1,5,2\n",
         "t.csv:2: column src: expected an integer between 0 and 1 (got 2)"},
        {"step,layer,expert,tokens\n0,0,1,5\n0,0,2,5\n0,0,1,6\n",
         "t.csv:4: step 0 layer 0 expert 1 given twice (first on line 2)"},
        {"step,layer,expert,tokens\n0,0,1,5\n0,0,2,5\n0,1,1,5\n0,1,3,5\n1,1,0,5\n1,1,2,5\n",
         "t.csv: step 1 layer 0: no tokens (steps and layers are numbered from 0 without "
         "gaps)"},
        {"step,layer,expert,tokens\n0,0,1,9\n0,0,2,5\n",
         "t.csv:2: expert 1 has 9 of the 14 assignments of step 0 layer 0, more than 1/top_k "
         "= 1/2 (each token picks 2 distinct experts)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_trace t = {0};
        sim_err err = {0};
        assert_int_equal(cli_trace_parse("t.csv", cases[i].text, &c, &t, &err), SIM_EINPUT);
        if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", expected \"%s\"", i, err.msg, cases[i].msg);
        assert_null(t.tokens);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_totals),
        cmocka_unit_test(test_parse_sources),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
