/* sim/cfg.h: typed configuration from INI text, driven by a table of keys.
 *
 * The caller describes its configuration struct with a table of sim_cfg_key (section, key,
 * type, offset into the struct, range, default, unit). sim_cfg_load_* fills the struct:
 * first every default, then the INI text (parsed by libinih), then command-line overrides
 * of the form "section.key=value" (applied in order, so a repeated key's last value wins,
 * and they beat the file). Every problem is reported as
 *     FILE:LINE: section.key: what was expected (got "value")
 * (for overrides FILE:LINE reads "--set"), with status SIM_EINPUT; the struct is then left
 * untouched (everything is loaded into a scratch copy first). Out of memory: SIM_ENOMEM,
 * "NAME: out of memory", struct untouched. Unknown sections or keys, a key given twice in
 * one file, a value of the wrong type or out of range, and a missing required key are errors:
 *     NAME:LINE: [sec]: unknown section (expected one of: cluster, model, run)
 *         (LINE is the line of the [sec] header; for --set: "--set: [sec]: ..."; a header
 *         with no keys under it is never seen, as libinih reports only keys)
 *     NAME:LINE: key: key outside any section (expected a [section] line first, one of: ...)
 *     NAME:LINE: sec.key: unknown key (keys in [sec]: a, b, c)
 *     NAME:LINE: sec.key: given twice (first on line N)
 *     NAME:LINE: sec.key: expected an integer | a number | true or false (got "v")
 *     NAME:LINE: sec.key: expected one of: uniform, zipf (got "v")
 *     NAME:LINE: sec.key: expected at most N characters (got "v")
 *     NAME:LINE: sec.key: expected a value between MIN and MAX UNIT (got "v")
 *         or "of at least MIN UNIT" / "of at most MAX UNIT" when one side is unbounded (past
 *         the field type's limit; that limit is named when the value passes it), and
 *         "greater than MIN [and at most MAX] UNIT" with SIM_CFG_MIN_OPEN; numbers are printed
 *         with %g, given more digits (up to %.17g) when needed to read back exactly
 *     NAME:LINE: syntax error (expected 'key = value' or '[section]')
 *     NAME:LINE: line too long (at most N characters)       (libinih's line buffer, ~198)
 *     NAME: sec.key: required key missing (help; unit: UNIT)
 *     --set: "text": expected section.key=value              (no '=', no '.', a newline)
 *     --set: sec.key: expected an integer (got "v")          (any value error, as above)
 * A bad value is quoted up to its first 64 bytes, then "...".
 * Text rules: names are case-sensitive ([A-Za-z0-9_]); values are trimmed; ';' after a blank
 * starts a comment, as do ';' and '#' at the start of a line; "key: value" is accepted too.
 * Leading blanks are ignored, so libinih's indented continuation lines do not exist here: an
 * indented line is an ordinary line. Integers are decimal, sign and digits only (no "1.5",
 * "1e3", overflow is out of range); doubles must be finite, no unit after the number; an
 * empty value is a type error except for STRING. A NULL unit or help reads as "".
 * A bad table (names, ranges, missing default, a default that fails its own checks, overlapping
 * fields) is a programmer error: a message on stderr and abort().
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
    SIM_CFG_BOOL,     /* int 0/1; accepts true/false/yes/no/on/off/1/0 (lowercase) */
    SIM_CFG_STRING,   /* char[size], NUL-terminated; longer values are an error */
    SIM_CFG_ENUM      /* char[size] holding one of the '|'-separated choices */
} sim_cfg_type;

enum {
    SIM_CFG_REQUIRED = 1 << 0,   /* must be given (def is ignored) */
    SIM_CFG_MIN_OPEN = 1 << 1,   /* value must be > min rather than >= min */
    SIM_CFG_OPTIONAL = 1 << 2,   /* without def may stay unset: doubles NAN, INT/BOOL -1,
                                    U64 UINT64_MAX, strings "" */
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
 * Returns SIM_OK (err untouched), or SIM_EINPUT / SIM_ENOMEM with err filled and obj untouched. */
sim_status sim_cfg_load_string(const sim_cfg_key *keys, size_t n_keys, void *obj,
                               const char *name, const char *text,
                               const char *const *overrides, size_t n_overrides,
                               sim_err *err);

/* Reads the whole file at path, loads it as above, and on success hands the file's text to
 * *text_out (caller frees with sim_free), if text_out is not NULL. A scenario file that cannot
 * be read is bad input (exit status 2), so: SIM_EINPUT "PATH: cannot read: <strerror>";
 * also SIM_EINPUT "PATH: too large (more than 16 MiB)" and "PATH:LINE: NUL byte (not a text
 * file)". *text_out is untouched on failure. */
sim_status sim_cfg_load_file(const sim_cfg_key *keys, size_t n_keys, void *obj,
                             const char *path, const char *const *overrides,
                             size_t n_overrides, char **text_out, sim_err *err);

/* Writes every key's resolved value as INI text ("[section]\nkey = value\n"), sections in
 * table order (first appearance), keys in table order within them, a blank line between
 * sections. Doubles are written as %g with as many more digits (up to %.17g) as it takes to
 * read back exactly (400, 0.1, 0.33333333333333331); an
 * OPTIONAL key without def that holds its unset value is written as the comment line
 * "; key = (not set)", so loading the text back gives the same struct. (Round trip does not
 * hold for STRING values that libinih cannot carry: leading/trailing blanks, " ;", or a line
 * longer than its buffer.) Returns a string the caller frees with sim_free, or NULL when out
 * of memory. */
char *sim_cfg_format(const sim_cfg_key *keys, size_t n_keys, const void *obj);

/* As sim_cfg_load_string / sim_cfg_load_file, and also records where each key's value
 * came from: where[i] (n_keys entries, written only on success) is the line of the text
 * that set key i, -1 for a --set override, 0 for the default. */
sim_status sim_cfg_load_string_where(const sim_cfg_key *keys, size_t n_keys, void *obj,
                                     const char *name, const char *text,
                                     const char *const *overrides, size_t n_overrides,
                                     int *where, sim_err *err);
sim_status sim_cfg_load_file_where(const sim_cfg_key *keys, size_t n_keys, void *obj,
                                   const char *path, const char *const *overrides,
                                   size_t n_overrides, char **text_out, int *where,
                                   sim_err *err);

/* Layered loading (a preset first, then a file over it): as sim_cfg_load_string_where, but
 * the starting values are obj's current fields instead of the defaults. where (n_keys
 * entries, may be NULL) comes in describing where obj's values came from; on success the
 * entries of keys that this text or these overrides set are overwritten (line, or -1), the
 * others are left as they were. A REQUIRED key counts as given when where[i] != 0 on entry.
 * On failure obj and where are untouched. */
sim_status sim_cfg_load_string_over(const sim_cfg_key *keys, size_t n_keys, void *obj,
                                    const char *name, const char *text,
                                    const char *const *overrides, size_t n_overrides,
                                    int *where, sim_err *err);

/* Finds the key entry for "section.key" (NULL if none). */
const sim_cfg_key *sim_cfg_find(const sim_cfg_key *keys, size_t n_keys, const char *dotted);

#endif
