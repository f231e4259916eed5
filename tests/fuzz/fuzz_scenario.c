/* tests/fuzz/fuzz_scenario.c: libFuzzer target for the scenario loader. The input is an INI
 * text, optionally followed by a line "--set" and then one override per line; it goes
 * through the same path as `moesim run` (sim_cfg_load_string_where, then scn_resolve and
 * sim_cfg_format). Any crash, leak, sanitizer report or assertion is a bug; a rejected input
 * must come with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/scenario.h"
#include "sim/alloc.h"
#include "sim/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *sets[16];
    size_t n_sets = 0;
    char *mark = strstr(text, "\n--set\n");
    if (mark) {
        *mark = '\0';
        for (char *p = mark + 7; *p && n_sets < 16;) {
            char *nl = strchr(p, '\n');
            if (nl)
                *nl = '\0';
            sets[n_sets++] = p;
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    scn_config c;
    int *where = malloc(scn_n_keys * sizeof *where);     /* the key table only grows */
    if (!where)
        abort();
    sim_err err = {0};
    sim_status st = sim_cfg_load_string_where(scn_keys, scn_n_keys, &c, "fuzz.ini", text, sets,
                                              n_sets, where, &err);
    if (st == SIM_OK) {
        const sim_cfg_key *bad = NULL;
        st = scn_resolve(&c, &bad, &err);
        if (st == SIM_OK) {
            char *fmt = sim_cfg_format(scn_keys, scn_n_keys, &c);
            if (fmt) {
                /* the resolved text must load back */
                scn_config again;
                if (sim_cfg_load_string(scn_keys, scn_n_keys, &again, "again", fmt, NULL, 0,
                                        NULL) != SIM_OK)
                    abort();
                sim_free(fmt);
            }
        }
    }
    if (st != SIM_OK && err.msg[0] == '\0')
        abort();                         /* every rejection explains itself */
    free(where);
    free(text);
    return 0;
}
