/* cli/trace.h: reading a routing trace CSV (format in docs/ROUTING.md) into the parsed
 * form the trace routing model takes (models/route.h). Every problem is SIM_EINPUT with
 * "FILE:LINE: what was expected". */
#ifndef CLI_TRACE_H
#define CLI_TRACE_H

#include "models/route.h"
#include "models/scenario.h"
#include "sim/err.h"

typedef struct cli_trace {
    route_trace t;         /* t.tokens points into `tokens` */
    int64_t *tokens;       /* owned */
} cli_trace;

/* Reads the trace at path, checked against the scenario (experts, EP, top_k). */
sim_status cli_trace_load(const char *path, const scn_config *c, cli_trace *out, sim_err *err);
/* The same from text (named `name` in messages). */
sim_status cli_trace_parse(const char *name, const char *text, const scn_config *c,
                           cli_trace *out, sim_err *err);
void cli_trace_fini(cli_trace *t);

#endif
