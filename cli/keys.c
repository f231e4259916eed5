/* cli/keys.c: `moesim keys`: every scenario key with its type, range, default and unit,
 * printed from the one table the loader uses (models/scenario.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "models/scenario.h"

static const char keys_usage[] =
    "usage: moesim keys [--markdown]\n"
    "\n"
    "Lists every scenario key: section.key, type, allowed values, default, unit and meaning.\n"
    "--markdown prints the table README.md carries.\n";

static void describe(const sim_cfg_key *k, char *buf, size_t n)
{
    switch (k->type) {
    case SIM_CFG_INT:
    case SIM_CFG_U64:
    case SIM_CFG_DOUBLE: {
        const char *t = k->type == SIM_CFG_DOUBLE ? "number" : "integer";
        if (k->max >= 1e18)
            snprintf(buf, n, "%s %s %.15g", t, (k->flags & SIM_CFG_MIN_OPEN) ? ">" : ">=", k->min);
        else
            snprintf(buf, n, "%s %s%.15g..%.15g]", t, (k->flags & SIM_CFG_MIN_OPEN) ? "(" : "[",
                     k->min, k->max);
        break;
    }
    case SIM_CFG_BOOL:
        snprintf(buf, n, "true|false");
        break;
    case SIM_CFG_STRING:
        snprintf(buf, n, "text");
        break;
    case SIM_CFG_ENUM:
        snprintf(buf, n, "%s", k->choices);
        break;
    }
}

int cli_keys(int argc, char **argv)
{
    int md = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0)
            md = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(keys_usage, stdout);
            return 0;
        } else
            return cli_usage_error("keys", "unknown argument '%s'", argv[i]);
    }
    if (md) {
        printf("| key | values | default | unit | meaning |\n| --- | --- | --- | --- | --- |\n");
    }
    for (size_t i = 0; i < scn_n_keys; i++) {
        const sim_cfg_key *k = &scn_keys[i];
        char vals[256], full[96];
        describe(k, vals, sizeof vals);
        snprintf(full, sizeof full, "%s.%s", k->section, k->key);
        const char *def = (k->flags & SIM_CFG_REQUIRED) ? "(required)"
                          : k->def                       ? k->def
                                                         : "(auto)";
        if (md)
            printf("| `%s` | %s | %s | %s | %s |\n", full, vals, def, k->unit, k->help);
        else
            printf("%-26s %-28s default %-10s %-9s %s\n", full, vals, def, k->unit, k->help);
    }
    return 0;
}
