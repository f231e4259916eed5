/* sim/err.h: status codes and error messages for everything that can fail at run time.
 *
 * Statuses come from one X-macro table (name, exit status, text). A failing function
 * returns its status and, when given a non-NULL sim_err, writes a message there naming
 * what went wrong (for input: "file:line: key: what was expected"). Out-parameters are
 * left untouched on failure. Programmer errors are assertions, not statuses. */
#ifndef SIM_ERR_H
#define SIM_ERR_H

/* X(name, process exit status, short text) */
#define SIM_STATUS_TABLE(X)                                  \
    X(SIM_OK, 0, "ok")                                       \
    X(SIM_ENOMEM, 1, "out of memory")                        \
    X(SIM_EIO, 1, "input/output error")                      \
    X(SIM_EDB, 1, "database error")                          \
    X(SIM_ERUN, 1, "simulation failed")                      \
    X(SIM_EINTR, 1, "interrupted")                           \
    X(SIM_EINPUT, 2, "bad input")                            \
    X(SIM_EUSAGE, 2, "bad usage")

typedef enum {
#define SIM_X_ENUM(name, code, text) name,
    SIM_STATUS_TABLE(SIM_X_ENUM)
#undef SIM_X_ENUM
    SIM_STATUS_COUNT
} sim_status;

typedef struct sim_err {
    sim_status status;
    char msg[1024];
} sim_err;

const char *sim_status_text(sim_status s);
int sim_status_exit_code(sim_status s);

/* Records status s and a printf-style message in e (if e is not NULL); returns s. */
sim_status sim_err_set(sim_err *e, sim_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_err_clear(sim_err *e);

#endif
