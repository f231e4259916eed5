/* sim/cfg.h: typed configuration from INI text, driven by a table of keys.
 *
 * The caller describes its configuration struct with a table of sim_cfg_key (section, key,
 * type, offset into the struct, range, default, unit). sim_cfg_load_* fills the struct:
 * first every default, then the INI text (parsed by libinih), then command-line overrides
 * of the form "section.key=value". Every problem is reported as
 *     FILE:LINE: section.key: what was expected (got "value")
 * (for overrides FILE:LINE reads "--set"), with status SIM_EINPUT; the struct may then be
 * partly written and must not be used. Unknown sections or keys, a key given twice in one
 * file, a value of the wrong type or out of range, and a missing required key are errors.
 *
 * Knows nothing of what the keys mean: domain tables live with the models. */
#ifndef SIM_CFG_H
#define SIM_CFG_H

#include <stddef.h>

#include "sim/err.h"

typedef enum {
    SIM_CFG_INT,      /* int */
    SIM_CFG_U64,      /* uint64_t */
    SIM_CFG_DOUBLE,   /* double; finite */
    SIM_CFG_BOOL,     /* int 0/1; accepts true/false/yes/no/on/off/1/0 */
    SIM_CFG_STRING,   /* char[size], NUL-terminated; longer values are an error */
    SIM_CFG_ENUM      /* char[size] holding one of the '|'-separated choices */
} sim_cfg_type;

enum {
    SIM_CFG_REQUIRED = 1 << 0,   /* must be given (def is ignored) */
    SIM_CFG_MIN_OPEN = 1 << 1,   /* value must be > min rather than >= min */
    SIM_CFG_OPTIONAL = 1 << 2,   /* may stay unset: doubles NAN, ints -1, strings "" */
    SIM_CFG_LIST     = 1 << 3    /* STRING holding a comma-separated list: no check here */
};

typedef struct sim_cfg_key {
    const char *section;
    const char *key;
    sim_cfg_type type;
    size_t offset;            /* offsetof(your_struct, field) */
    size_t size;              /* STRING/ENUM: buffer size in bytes */
    double min, max;          /* INT/U64/DOUBLE: inclusive range (see SIM_CFG_MIN_OPEN) */
    unsigned flags;
    const char *def;          /* default as text; NULL with OPTIONAL or REQUIRED */
    const char *choices;      /* ENUM: "a|b|c" */
    const char *unit;         /* documented unit, "" for none */
    const char *help;         /* one line for --help and docs */
} sim_cfg_key;

/* Loads `text` (named `name` in messages) into obj. overrides: n strings "section.key=value".
 * Returns SIM_OK or SIM_EINPUT with err filled. */
sim_status sim_cfg_load_string(const sim_cfg_key *keys, size_t n_keys, void *obj,
                               const char *name, const char *text,
                               const char *const *overrides, size_t n_overrides,
                               sim_err *err);

/* Reads the whole file at path (SIM_EIO with a message if it cannot be read), loads it as
 * above, and on success hands the file's text to *text_out (caller frees with sim_free),
 * if text_out is not NULL. */
sim_status sim_cfg_load_file(const sim_cfg_key *keys, size_t n_keys, void *obj,
                             const char *path, const char *const *overrides,
                             size_t n_overrides, char **text_out, sim_err *err);

/* Writes every key's resolved value as INI text ("[section]\nkey = value\n"), sections in
 * table order. Returns a string the caller frees with sim_free, or NULL when out of memory. */
char *sim_cfg_format(const sim_cfg_key *keys, size_t n_keys, const void *obj);

/* Finds the key entry for "section.key" (NULL if none). */
const sim_cfg_key *sim_cfg_find(const sim_cfg_key *keys, size_t n_keys, const char *dotted);

#endif
