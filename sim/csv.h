/* sim/csv.h: a small reader for the numeric CSV files users hand moesim (routing traces,
 * GEMM calibration tables, traffic matrices).
 *
 * Format: one record per line, fields separated by commas, blanks around fields ignored;
 * empty lines and lines starting with '#' are skipped; the first non-comment line may be a
 * header of names (it is returned as such when `header` names are expected). No quoting:
 * these files hold numbers and short names. Errors name "FILE:LINE: ...".
 *
 * Usage: open, then call sim_csv_next until it returns 0; fields stay valid until the next
 * call. The reader owns its buffers. */
#ifndef SIM_CSV_H
#define SIM_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"

typedef struct sim_csv sim_csv;

#define SIM_CSV_MAX_FIELDS 64

/* Opens path for reading (SIM_EINPUT "PATH: cannot read: reason" if it cannot be). */
sim_status sim_csv_open(const char *path, sim_csv **out, sim_err *err);
/* Reads `text` (named `name` in messages); the text is copied. */
sim_status sim_csv_open_string(const char *name, const char *text, sim_csv **out, sim_err *err);
void sim_csv_close(sim_csv *c);                  /* NULL: no-op */

/* Advances to the next record: 1 and fills *n_fields / *fields, 0 at the end, -1 on error
 * (more than SIM_CSV_MAX_FIELDS fields, a NUL byte, a line over 64 KiB) with err set. */
int sim_csv_next(sim_csv *c, int *n_fields, char ***fields, sim_err *err);
int sim_csv_line(const sim_csv *c);              /* line number of the current record */
const char *sim_csv_name(const sim_csv *c);

/* Field parsers: 0 on success; -1 with err = "FILE:LINE: column NAME: expected ..." */
int sim_csv_int64(const sim_csv *c, const char *field, const char *column, int64_t min,
                  int64_t max, int64_t *out, sim_err *err);
int sim_csv_double(const sim_csv *c, const char *field, const char *column, double min,
                   double max, double *out, sim_err *err);

#endif
