/* tests/fuzz/fuzz_csv.c: libFuzzer target for the CSV reader (sim/csv.h) that routing traces,
 * traffic matrices and calibration tables go through: every record, every field through
 * both number parsers. Crashes, leaks and sanitizer reports are bugs; every error must
 * carry a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sim_csv *c = NULL;
    sim_err err = {0};
    if (sim_csv_open_string("fuzz.csv", text, &c, &err) == SIM_OK) {
        int n, rc;
        char **f;
        while ((rc = sim_csv_next(c, &n, &f, &err)) == 1) {
            for (int i = 0; i < n; i++) {
                int64_t v;
                double d;
                err.msg[0] = '\0';
                if (sim_csv_int64(c, f[i], "x", INT64_MIN, INT64_MAX, &v, &err) && !err.msg[0])
                    abort();
                err.msg[0] = '\0';
                if (sim_csv_double(c, f[i], "y", -1e300, 1e300, &d, &err) && !err.msg[0])
                    abort();
            }
        }
        if (rc < 0 && !err.msg[0])
            abort();
        sim_csv_close(c);
    }
    free(text);
    return 0;
}
