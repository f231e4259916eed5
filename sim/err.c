/* sim/err.c: status table and error message helpers. */
#include "sim/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    int code;
    const char *text;
} status_info[] = {
#define SIM_X_INFO(name, code, text) {code, text},
    SIM_STATUS_TABLE(SIM_X_INFO)
#undef SIM_X_INFO
};

const char *sim_status_text(sim_status s)
{
    if ((unsigned)s >= SIM_STATUS_COUNT)
        return "unknown status";
    return status_info[s].text;
}

int sim_status_exit_code(sim_status s)
{
    if ((unsigned)s >= SIM_STATUS_COUNT)
        return 1;
    return status_info[s].code;
}

sim_status sim_err_set(sim_err *e, sim_status s, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->status = s;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return s;
}

void sim_err_clear(sim_err *e)
{
    if (e) {
        e->status = SIM_OK;
        e->msg[0] = '\0';
    }
}
