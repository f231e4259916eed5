/* sim/cfg.c: fills a table-described configuration struct from INI text (parsed by libinih)
 * and "section.key=value" overrides, checking every value's type and range.
 *
 * libinih (Debian build: no INI_HANDLER_LINENO) is fed through our own line reader so we
 * know the line of every key: the handler runs right after its line was read. The reader
 * drops each line's leading blanks, which turns libinih's indented-continuation feature off
 * (an indented line is an ordinary line) and keeps line numbers exact. Everything is loaded
 * into a scratch copy of the key fields and copied to the caller's struct only on success. */
#include "sim/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "sim/alloc.h"

#define CFG_MAX_FILE_BYTES ((size_t)16 << 20)   /* scenario files beyond 16 MiB are refused */
#define CFG_SHOW_VALUE 64                       /* at most this many bytes of a bad value */
#define CFG_TWO64 18446744073709551616.0        /* 2^64: U64 bounds at or past it are open */

/* Where a value came from, for messages: "name:line: ", or "name: " when line is 0. */
typedef struct {
    const char *name;
    int line;
} cfg_origin;

/* ---- programmer errors (bad tables) ------------------------------------------------ */

static _Noreturn void cfg_bug(const sim_cfg_key *k, const char *what)
{
    fprintf(stderr, "sim/cfg: bad key table entry %s.%s: %s\n",
            k && k->section ? k->section : "?", k && k->key ? k->key : "?", what);
    abort();
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static int is_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static size_t field_size(const sim_cfg_key *k)
{
    switch (k->type) {
    case SIM_CFG_INT:
    case SIM_CFG_BOOL:
        return sizeof(int);
    case SIM_CFG_U64:
        return sizeof(uint64_t);
    case SIM_CFG_DOUBLE:
        return sizeof(double);
    case SIM_CFG_STRING:
    case SIM_CFG_ENUM:
        return k->size;
    }
    cfg_bug(k, "unknown type");
}

/* Smallest and largest admissible integer as doubles, already clamped to the field's type
 * (INT: int, U64: uint64_t). *lo_unbounded / *hi_unbounded: the table bound lies at or beyond
 * the type's own limit, so messages should name the type's limit instead. */
static void int_bounds(const sim_cfg_key *k, double *lo, double *hi, int *lo_unbounded,
                       int *hi_unbounded)
{
    double tmin = k->type == SIM_CFG_INT ? (double)INT_MIN : 0.0;
    double tmax = k->type == SIM_CFG_INT ? (double)INT_MAX : CFG_TWO64;   /* U64: exclusive */
    double l = (k->flags & SIM_CFG_MIN_OPEN) ? floor(k->min) + 1.0 : ceil(k->min);
    double h = floor(k->max);
    *lo_unbounded = !(l > tmin);
    *hi_unbounded = !(h < tmax);
    *lo = *lo_unbounded ? tmin : l;
    /* U64: the largest double below 2^64, so a min at 2^64 or beyond fails check_table */
    *hi = *hi_unbounded ? (k->type == SIM_CFG_INT ? tmax : nextafter(CFG_TWO64, 0.0)) : h;
}

/* Checks the table once per load: names, types, ranges, flags, distinct keys, disjoint
 * fields. Defaults are checked when they are applied. */
static void check_table(const sim_cfg_key *keys, size_t n_keys)
{
    for (size_t i = 0; i < n_keys; i++) {
        const sim_cfg_key *k = &keys[i];
        if (!is_name(k->section) || !is_name(k->key))
            cfg_bug(k, "section and key names must be [A-Za-z0-9_]+");
        if ((k->flags & SIM_CFG_REQUIRED) && (k->flags & SIM_CFG_OPTIONAL))
            cfg_bug(k, "REQUIRED and OPTIONAL together");
        if (!(k->flags & (SIM_CFG_REQUIRED | SIM_CFG_OPTIONAL)) && !k->def)
            cfg_bug(k, "needs a default (or REQUIRED, or OPTIONAL)");
        switch (k->type) {
        case SIM_CFG_INT:
        case SIM_CFG_U64: {
            double lo, hi;
            int lo_unbounded, hi_unbounded;
            if (isnan(k->min) || isnan(k->max))
                cfg_bug(k, "NaN bound");
            int_bounds(k, &lo, &hi, &lo_unbounded, &hi_unbounded);
            if (lo > hi)
                cfg_bug(k, "no integer of the field's type lies in [min, max]");
            break;
        }
        case SIM_CFG_DOUBLE:
            if (isnan(k->min) || isnan(k->max) || k->min > k->max ||
                ((k->flags & SIM_CFG_MIN_OPEN) && k->min == k->max))
                cfg_bug(k, "empty or NaN range");
            break;
        case SIM_CFG_BOOL:
            break;
        case SIM_CFG_STRING:
            if (k->size == 0)
                cfg_bug(k, "STRING needs size > 0");
            break;
        case SIM_CFG_ENUM: {
            if (!k->choices || !*k->choices || k->size == 0)
                cfg_bug(k, "ENUM needs choices and size");
            const char *c = k->choices;
            for (;;) {
                size_t n = strcspn(c, "|");
                if (n == 0 || n >= k->size)
                    cfg_bug(k, "empty choice, or a choice that does not fit in size");
                if (!c[n])
                    break;
                c += n + 1;
            }
            break;
        }
        default:
            cfg_bug(k, "unknown type");
        }
        size_t sz = field_size(k);
        for (size_t j = 0; j < i; j++) {
            const sim_cfg_key *o = &keys[j];
            if (!strcmp(o->section, k->section) && !strcmp(o->key, k->key))
                cfg_bug(k, "key listed twice");
            if (k->offset < o->offset + field_size(o) && o->offset < k->offset + sz)
                cfg_bug(k, "field overlaps another key's field");
        }
    }
}

/* ---- messages ------------------------------------------------------------------------ */

static void origin_text(char *buf, size_t n, cfg_origin o)
{
    if (o.line > 0)
        snprintf(buf, n, "%s:%d: ", o.name, o.line);
    else
        snprintf(buf, n, "%s: ", o.name);
}

/* Appends s to the NUL-terminated buf of capacity cap, truncating. */
static void append(char *buf, size_t cap, const char *s, size_t n)
{
    size_t len = strlen(buf);
    if (len + 1 >= cap)
        return;
    if (n > cap - 1 - len)
        n = cap - 1 - len;
    memcpy(buf + len, s, n);
    buf[len + n] = '\0';
}

/* "cluster, model, run": the table's sections, first appearance order. */
static void list_sections(char *buf, size_t cap, const sim_cfg_key *keys, size_t n_keys)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n_keys; i++) {
        size_t j = 0;
        while (j < i && strcmp(keys[j].section, keys[i].section))
            j++;
        if (j < i)
            continue;
        if (buf[0])
            append(buf, cap, ", ", 2);
        append(buf, cap, keys[i].section, strlen(keys[i].section));
    }
}

/* "a, b, c": the keys of one section, table order. */
static void list_keys(char *buf, size_t cap, const sim_cfg_key *keys, size_t n_keys,
                      const char *section)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n_keys; i++) {
        if (strcmp(keys[i].section, section))
            continue;
        if (buf[0])
            append(buf, cap, ", ", 2);
        append(buf, cap, keys[i].key, strlen(keys[i].key));
    }
}

/* "WHERE section.key: WHAT (got "VALUE")", status SIM_EINPUT. */
__attribute__((format(printf, 5, 6)))
static sim_status fail_value(sim_err *err, cfg_origin o, const sim_cfg_key *k, const char *value,
                             const char *fmt, ...)
{
    char where[512], what[512];
    va_list ap;
    origin_text(where, sizeof where, o);
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t n = strlen(value);
    return sim_err_set(err, SIM_EINPUT, "%s%s.%s: %s (got \"%.*s%s\")", where, k->section, k->key,
                       what, (int)(n > CFG_SHOW_VALUE ? CFG_SHOW_VALUE : n), value,
                       n > CFG_SHOW_VALUE ? "..." : "");
}

/* %g text that reads back as exactly x: %.6g (plain %g) when that is exact, else the fewest
 * digits up to 17 that are. */
static void fmt_num(char *buf, size_t n, double x)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* Range message. lo/hi are the texts to print; show_* say which bounds to name. */
static sim_status fail_range(sim_err *err, cfg_origin o, const sim_cfg_key *k, const char *value,
                             int show_lo, const char *lo, int show_hi, const char *hi)
{
    const char *unit = str_or_empty(k->unit);
    const char *sp = *unit ? " " : "";
    int open = (k->flags & SIM_CFG_MIN_OPEN) != 0;
    if (show_lo && show_hi && open)
        return fail_value(err, o, k, value,
                          "expected a value greater than %s and at most %s%s%s", lo, hi, sp, unit);
    if (show_lo && show_hi)
        return fail_value(err, o, k, value, "expected a value between %s and %s%s%s", lo, hi, sp,
                          unit);
    if (show_lo && open)
        return fail_value(err, o, k, value, "expected a value greater than %s%s%s", lo, sp, unit);
    if (show_lo)
        return fail_value(err, o, k, value, "expected a value of at least %s%s%s", lo, sp, unit);
    return fail_value(err, o, k, value, "expected a value of at most %s%s%s", hi, sp, unit);
}

/* ---- values ---------------------------------------------------------------------------- */

/* A decimal integer: optional sign, digits only. Magnitude saturates with overflow set. */
typedef struct {
    int neg, overflow;
    uint64_t mag;
} cfg_int;

static int parse_int(const char *s, cfg_int *out)
{
    cfg_int v = {0, 0, 0};
    if (*s == '+' || *s == '-')
        v.neg = *s++ == '-';
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v.mag > (UINT64_MAX - d) / 10)
            v.overflow = 1;
        else
            v.mag = v.mag * 10 + d;
    }
    if (v.mag == 0 && !v.overflow)
        v.neg = 0;                  /* "-0" is 0 */
    *out = v;
    return 0;
}

static sim_status set_int(const sim_cfg_key *k, void *field, const char *value, cfg_origin o,
                          sim_err *err)
{
    cfg_int v;
    if (parse_int(value, &v))
        return fail_value(err, o, k, value, "expected an integer");
    double lo, hi;
    int lo_unbounded, hi_unbounded, low, high;
    int_bounds(k, &lo, &hi, &lo_unbounded, &hi_unbounded);
    uint64_t u = 0;
    int64_t s = 0;
    if (k->type == SIM_CFG_INT) {
        if (v.overflow || v.mag > (uint64_t)INT64_MAX) {
            low = v.neg;
            high = !v.neg;
        } else {
            s = v.neg ? -(int64_t)v.mag : (int64_t)v.mag;
            /* lo, hi are ints; rounding s to double cannot carry it across one */
            low = (double)s < lo;
            high = (double)s > hi;
        }
    } else {
        low = v.neg;
        high = !v.neg && v.overflow;
        u = v.mag;
        if (!low && !high) {
            /* lo and hi are integers below 2^64, so these conversions are exact */
            low = !lo_unbounded && u < (uint64_t)lo;
            high = !hi_unbounded && u > (uint64_t)hi;
        }
    }
    if (low || high) {
        char lo_t[40], hi_t[40];
        if (!lo_unbounded)
            fmt_num(lo_t, sizeof lo_t, k->min);
        else if (k->type == SIM_CFG_INT)
            snprintf(lo_t, sizeof lo_t, "%d", INT_MIN);
        else
            snprintf(lo_t, sizeof lo_t, "0");
        if (!hi_unbounded)
            fmt_num(hi_t, sizeof hi_t, k->max);
        else if (k->type == SIM_CFG_INT)
            snprintf(hi_t, sizeof hi_t, "%d", INT_MAX);
        else
            snprintf(hi_t, sizeof hi_t, "%" PRIu64, UINT64_MAX);
        /* a bound at the type's own limit is named only when the value passed it */
        sim_cfg_key plain = *k;
        if (lo_unbounded)
            plain.flags &= ~(unsigned)SIM_CFG_MIN_OPEN;
        return fail_range(err, o, &plain, value, !lo_unbounded || low, lo_t,
                          !hi_unbounded || high, hi_t);
    }
    if (k->type == SIM_CFG_INT)
        *(int *)field = (int)s;
    else
        *(uint64_t *)field = u;
    return SIM_OK;
}

static sim_status set_double(const sim_cfg_key *k, void *field, const char *value, cfg_origin o,
                             sim_err *err)
{
    char *end;
    double x = strtod(value, &end);
    if (end == value || *end || !isfinite(x) || isspace((unsigned char)*value))
        return fail_value(err, o, k, value, "expected a number");
    int low = x < k->min || ((k->flags & SIM_CFG_MIN_OPEN) && x <= k->min);
    int high = x > k->max;
    if (low || high) {
        char lo_t[40], hi_t[40];
        fmt_num(lo_t, sizeof lo_t, k->min);
        fmt_num(hi_t, sizeof hi_t, k->max);
        return fail_range(err, o, k, value, k->min > -DBL_MAX || low, lo_t,
                          k->max < DBL_MAX || high, hi_t);
    }
    *(double *)field = x;
    return SIM_OK;
}

static sim_status set_bool(const sim_cfg_key *k, void *field, const char *value, cfg_origin o,
                           sim_err *err)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcmp(value, yes[i])) {
            *(int *)field = 1;
            return SIM_OK;
        }
        if (!strcmp(value, no[i])) {
            *(int *)field = 0;
            return SIM_OK;
        }
    }
    return fail_value(err, o, k, value, "expected true or false");
}

static sim_status set_enum(const sim_cfg_key *k, void *field, const char *value, cfg_origin o,
                           sim_err *err)
{
    size_t len = strlen(value);
    char list[512] = "";
    for (const char *c = k->choices;;) {
        size_t n = strcspn(c, "|");
        if (n == len && !memcmp(c, value, n)) {
            memcpy(field, value, len + 1);      /* fits: check_table saw n < size */
            return SIM_OK;
        }
        if (list[0])
            append(list, sizeof list, ", ", 2);
        append(list, sizeof list, c, n);
        if (!c[n])
            break;
        c += n + 1;
    }
    return fail_value(err, o, k, value, "expected one of: %s", list);
}

/* Parses value for key k and stores it in obj's field; nothing is stored on failure. */
static sim_status set_value(const sim_cfg_key *k, void *obj, const char *value, cfg_origin o,
                            sim_err *err)
{
    void *field = (char *)obj + k->offset;
    switch (k->type) {
    case SIM_CFG_INT:
    case SIM_CFG_U64:
        return set_int(k, field, value, o, err);
    case SIM_CFG_DOUBLE:
        return set_double(k, field, value, o, err);
    case SIM_CFG_BOOL:
        return set_bool(k, field, value, o, err);
    case SIM_CFG_ENUM:
        return set_enum(k, field, value, o, err);
    case SIM_CFG_STRING: {
        size_t len = strlen(value);
        if (len >= k->size)
            return fail_value(err, o, k, value, "expected at most %zu characters", k->size - 1);
        memcpy(field, value, len + 1);
        return SIM_OK;
    }
    }
    cfg_bug(k, "unknown type");
}

/* Unset value of an OPTIONAL key without a default (also the start value of REQUIRED keys). */
static void set_unset(const sim_cfg_key *k, void *obj)
{
    void *field = (char *)obj + k->offset;
    switch (k->type) {
    case SIM_CFG_INT:
    case SIM_CFG_BOOL:
        *(int *)field = -1;
        break;
    case SIM_CFG_U64:
        *(uint64_t *)field = UINT64_MAX;
        break;
    case SIM_CFG_DOUBLE:
        *(double *)field = NAN;
        break;
    case SIM_CFG_STRING:
    case SIM_CFG_ENUM:
        *(char *)field = '\0';
        break;
    }
}

static int is_unset(const sim_cfg_key *k, const void *obj)
{
    const void *field = (const char *)obj + k->offset;
    switch (k->type) {
    case SIM_CFG_INT:
    case SIM_CFG_BOOL:
        return *(const int *)field == -1;
    case SIM_CFG_U64:
        return *(const uint64_t *)field == UINT64_MAX;
    case SIM_CFG_DOUBLE:
        return isnan(*(const double *)field);
    case SIM_CFG_STRING:
    case SIM_CFG_ENUM:
        return *(const char *)field == '\0';
    }
    return 0;
}

static void apply_defaults(const sim_cfg_key *keys, size_t n_keys, void *obj)
{
    for (size_t i = 0; i < n_keys; i++) {
        const sim_cfg_key *k = &keys[i];
        if ((k->flags & SIM_CFG_REQUIRED) || !k->def) {
            set_unset(k, obj);
            continue;
        }
        sim_err e;
        if (set_value(k, obj, k->def, (cfg_origin){"default", 0}, &e) != SIM_OK)
            cfg_bug(k, e.msg);
    }
}

/* ---- look-up ----------------------------------------------------------------------------- */

static int section_known(const sim_cfg_key *keys, size_t n_keys, const char *section)
{
    for (size_t i = 0; i < n_keys; i++)
        if (!strcmp(keys[i].section, section))
            return 1;
    return 0;
}

static ptrdiff_t find_key(const sim_cfg_key *keys, size_t n_keys, const char *section,
                          const char *key)
{
    for (size_t i = 0; i < n_keys; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key))
            return (ptrdiff_t)i;
    return -1;
}

const sim_cfg_key *sim_cfg_find(const sim_cfg_key *keys, size_t n_keys, const char *dotted)
{
    const char *dot = strchr(dotted, '.');
    if (!dot)
        return NULL;
    size_t sl = (size_t)(dot - dotted);
    for (size_t i = 0; i < n_keys; i++)
        if (strlen(keys[i].section) == sl && !memcmp(keys[i].section, dotted, sl) &&
            !strcmp(keys[i].key, dot + 1))
            return &keys[i];
    return NULL;
}

/* Section/key checks shared by file lines and overrides. sec_o: where to point for an
 * unknown section. Returns the key's index, or -1 with err set. */
static ptrdiff_t lookup(const sim_cfg_key *keys, size_t n_keys, const char *section,
                        const char *key, cfg_origin o, cfg_origin sec_o, sim_err *err)
{
    char where[512], list[512];
    if (!section_known(keys, n_keys, section)) {
        origin_text(where, sizeof where, sec_o);
        list_sections(list, sizeof list, keys, n_keys);
        sim_err_set(err, SIM_EINPUT, "%s[%s]: unknown section (expected one of: %s)", where,
                    section, list);
        return -1;
    }
    ptrdiff_t i = find_key(keys, n_keys, section, key);
    if (i < 0) {
        origin_text(where, sizeof where, o);
        list_keys(list, sizeof list, keys, n_keys, section);
        sim_err_set(err, SIM_EINPUT, "%s%s.%s: unknown key (keys in [%s]: %s)", where, section,
                    key, section, list);
    }
    return i;
}

/* ---- INI text through libinih ----------------------------------------------------------- */

typedef struct {
    const sim_cfg_key *keys;
    size_t n_keys;
    void *obj;                  /* the scratch copy being filled */
    const char *name;
    const char *pos;            /* next unread byte of the text */
    int line;                   /* lines handed to libinih so far */
    int section_line;           /* line of the latest line that opened with '[' */
    int *given;                 /* per key: line first given in the text, 0 if not */
    int fail_line;              /* line at which we stopped with an error, 0 if none */
    sim_err *err;
} cfg_parse;

/* fgets-style reader: hands out one line, without its leading blanks, so libinih never
 * treats a line as the continuation of the previous value. */
static char *read_line(char *str, int num, void *stream)
{
    cfg_parse *p = stream;
    if (p->fail_line || !*p->pos)
        return NULL;
    const char *s = p->pos;
    size_t len = strcspn(s, "\n");
    p->pos = s + len + (s[len] == '\n');
    p->line++;
    if (p->line == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        s += 3, len -= 3;                       /* UTF-8 byte order mark */
    while (len > 0 && (*s == ' ' || *s == '\t'))
        s++, len--;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    size_t room = num > 2 ? (size_t)num - 2 : 0;      /* leave space for '\n' and NUL */
    if (len > room) {
        p->fail_line = p->line;
        sim_err_set(p->err, SIM_EINPUT, "%s:%d: line too long (at most %zu characters)", p->name,
                    p->line, room);
        return NULL;
    }
    memcpy(str, s, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    if (*s == '[')
        p->section_line = p->line;
    return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    cfg_parse *p = user;
    cfg_origin o = {p->name, p->line};
    if (p->fail_line)
        return 0;
    p->fail_line = p->line;         /* cleared below on success */
    if (!*section) {
        char list[512];
        list_sections(list, sizeof list, p->keys, p->n_keys);
        sim_err_set(p->err, SIM_EINPUT,
                    "%s:%d: %s: key outside any section "
                    "(expected a [section] line first, one of: %s)",
                    p->name, p->line, name, list);
        return 0;
    }
    ptrdiff_t i = lookup(p->keys, p->n_keys, section, name, o,
                         (cfg_origin){p->name, p->section_line}, p->err);
    if (i < 0)
        return 0;
    if (p->given[i]) {
        sim_err_set(p->err, SIM_EINPUT, "%s:%d: %s.%s: given twice (first on line %d)", p->name,
                    p->line, section, name, p->given[i]);
        return 0;
    }
    p->given[i] = p->line;
    if (set_value(&p->keys[i], p->obj, value, o, p->err) != SIM_OK)
        return 0;
    p->fail_line = 0;
    return 1;
}

static sim_status parse_text(cfg_parse *p, const char *text)
{
    p->pos = text;
    int rc = ini_parse_stream(read_line, p, on_pair, p);
    /* libinih returns the first failing line: a syntax error there, unless that line is ours */
    if (rc > 0 && (p->fail_line == 0 || rc < p->fail_line))
        return sim_err_set(p->err, SIM_EINPUT,
                           "%s:%d: syntax error (expected 'key = value' or '[section]')",
                           p->name, rc);
    if (p->fail_line)
        return SIM_EINPUT;
    if (rc < 0)
        return sim_err_set(p->err, SIM_ENOMEM, "%s: out of memory", p->name);
    return SIM_OK;
}

/* ---- overrides ---------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static sim_status apply_override(const sim_cfg_key *keys, size_t n_keys, void *obj, int *given,
                                 const char *ov, sim_err *err)
{
    const cfg_origin o = {"--set", 0};
    size_t n = strlen(ov);
    char *copy = sim_malloc(n + 1);
    if (!copy)
        return sim_err_set(err, SIM_ENOMEM, "--set: out of memory");
    memcpy(copy, ov, n + 1);
    sim_status s = SIM_EINPUT;
    char *eq = strchr(copy, '=');
    char *dot = eq ? memchr(copy, '.', (size_t)(eq - copy)) : NULL;
    if (!eq || !dot || strpbrk(ov, "\r\n")) {
        sim_err_set(err, SIM_EINPUT, "--set: \"%s\": expected section.key=value", ov);
        goto free_copy;
    }
    *eq = *dot = '\0';
    char *section = trim(copy), *key = trim(dot + 1), *value = trim(eq + 1);
    if (!*section || !*key) {
        sim_err_set(err, SIM_EINPUT, "--set: \"%s\": expected section.key=value", ov);
        goto free_copy;
    }
    ptrdiff_t i = lookup(keys, n_keys, section, key, o, o, err);
    if (i < 0)
        goto free_copy;
    s = set_value(&keys[i], obj, value, o, err);
    if (s == SIM_OK)
        given[i] = -1;          /* the override is what counts now */
free_copy:
    sim_free(copy);
    return s;
}

/* ---- loading -------------------------------------------------------------------------------- */

static sim_status load_string(const sim_cfg_key *keys, size_t n_keys, void *obj,
                              const char *name, const char *text,
                              const char *const *overrides, size_t n_overrides, int *where,
                              int from_obj, sim_err *err);

sim_status sim_cfg_load_string(const sim_cfg_key *keys, size_t n_keys, void *obj,
                               const char *name, const char *text,
                               const char *const *overrides, size_t n_overrides,
                               sim_err *err)
{
    return sim_cfg_load_string_where(keys, n_keys, obj, name, text, overrides, n_overrides,
                                     NULL, err);
}

sim_status sim_cfg_load_string_where(const sim_cfg_key *keys, size_t n_keys, void *obj,
                                     const char *name, const char *text,
                                     const char *const *overrides, size_t n_overrides,
                                     int *where, sim_err *err)
{
    return load_string(keys, n_keys, obj, name, text, overrides, n_overrides, where, 0, err);
}

sim_status sim_cfg_load_string_over(const sim_cfg_key *keys, size_t n_keys, void *obj,
                                    const char *name, const char *text,
                                    const char *const *overrides, size_t n_overrides,
                                    int *where, sim_err *err)
{
    return load_string(keys, n_keys, obj, name, text, overrides, n_overrides, where, 1, err);
}

/* The loader behind both: from_obj = 0 starts from every key's default, 1 from obj's current
 * values (and then writes only the where[] entries of keys this text or overrides set). */
static sim_status load_string(const sim_cfg_key *keys, size_t n_keys, void *obj,
                              const char *name, const char *text,
                              const char *const *overrides, size_t n_overrides, int *where,
                              int from_obj, sim_err *err)
{
    check_table(keys, n_keys);
    size_t extent = 0;
    for (size_t i = 0; i < n_keys; i++)
        if (keys[i].offset + field_size(&keys[i]) > extent)
            extent = keys[i].offset + field_size(&keys[i]);

    sim_status s = SIM_ENOMEM;
    int *given = sim_calloc(n_keys, sizeof *given);
    if (!given)
        return sim_err_set(err, SIM_ENOMEM, "%s: out of memory", name);
    void *scratch = sim_calloc(1, extent);     /* malloc alignment suits any field */
    if (!scratch) {
        sim_err_set(err, SIM_ENOMEM, "%s: out of memory", name);
        goto free_given;
    }
    if (from_obj)
        for (size_t i = 0; i < n_keys; i++)
            memcpy((char *)scratch + keys[i].offset, (const char *)obj + keys[i].offset,
                   field_size(&keys[i]));
    else
        apply_defaults(keys, n_keys, scratch);

    cfg_parse p = {.keys = keys, .n_keys = n_keys, .obj = scratch, .name = name,
                   .given = given, .err = err};
    s = parse_text(&p, text);
    for (size_t j = 0; s == SIM_OK && j < n_overrides; j++)
        s = apply_override(keys, n_keys, scratch, given, overrides[j], err);
    for (size_t i = 0; s == SIM_OK && i < n_keys; i++) {
        const sim_cfg_key *k = &keys[i];
        if (!(k->flags & SIM_CFG_REQUIRED) || given[i] || (from_obj && where && where[i]))
            continue;
        const char *help = str_or_empty(k->help), *unit = str_or_empty(k->unit);
        s = sim_err_set(err, SIM_EINPUT, "%s: %s.%s: required key missing%s%s%s%s%s%s", name,
                        k->section, k->key, *help || *unit ? " (" : "", help,
                        *help && *unit ? "; " : "", *unit ? "unit: " : "", unit,
                        *help || *unit ? ")" : "");
    }
    if (s == SIM_OK) {
        for (size_t i = 0; i < n_keys; i++)
            memcpy((char *)obj + keys[i].offset, (char *)scratch + keys[i].offset,
                   field_size(&keys[i]));
        for (size_t i = 0; where && i < n_keys; i++)
            if (!from_obj || given[i])
                where[i] = given[i];
    }
    sim_free(scratch);
free_given:
    sim_free(given);
    return s;
}

/* Reads the whole file into a NUL-terminated buffer (*out, caller frees). */
static sim_status read_file(const char *path, char **out, sim_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sim_err_set(err, SIM_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    sim_status s = SIM_OK;
    void *mem = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (sim_grow(&mem, &cap, len + 4096 + 1, 1)) {
            s = sim_err_set(err, SIM_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        size_t want = cap - len - 1;
        if (want > CFG_MAX_FILE_BYTES + 1 - len)
            want = CFG_MAX_FILE_BYTES + 1 - len;
        errno = 0;
        size_t got = fread((char *)mem + len, 1, want, f);
        len += got;
        if (len > CFG_MAX_FILE_BYTES) {
            s = sim_err_set(err, SIM_EINPUT, "%s: too large (more than 16 MiB)", path);
            goto fail;
        }
        if (got < want) {
            if (ferror(f)) {
                s = sim_err_set(err, SIM_EINPUT, "%s: cannot read: %s", path,
                                strerror(errno ? errno : EIO));
                goto fail;
            }
            break;
        }
    }
    char *buf = mem;
    buf[len] = '\0';
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *c = buf; c < nul; c++)
            line += *c == '\n';
        s = sim_err_set(err, SIM_EINPUT, "%s:%d: NUL byte (not a text file)", path, line);
        goto fail;
    }
    fclose(f);
    *out = buf;
    return SIM_OK;
fail:
    sim_free(mem);
    fclose(f);
    return s;
}

sim_status sim_cfg_load_file(const sim_cfg_key *keys, size_t n_keys, void *obj,
                             const char *path, const char *const *overrides,
                             size_t n_overrides, char **text_out, sim_err *err)
{
    return sim_cfg_load_file_where(keys, n_keys, obj, path, overrides, n_overrides, text_out,
                                   NULL, err);
}

sim_status sim_cfg_load_file_where(const sim_cfg_key *keys, size_t n_keys, void *obj,
                                   const char *path, const char *const *overrides,
                                   size_t n_overrides, char **text_out, int *where,
                                   sim_err *err)
{
    char *text = NULL;
    sim_status s = read_file(path, &text, err);
    if (s != SIM_OK)
        return s;
    s = sim_cfg_load_string_where(keys, n_keys, obj, path, text, overrides, n_overrides,
                                  where, err);
    if (s == SIM_OK && text_out) {
        *text_out = text;
        return SIM_OK;
    }
    sim_free(text);
    return s;
}

/* ---- formatting ------------------------------------------------------------------------------ */

typedef struct {
    void *mem;
    size_t cap, len;
    int failed;
} cfg_buf;

__attribute__((format(printf, 2, 3)))
static void put(cfg_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sim_grow(&b->mem, &b->cap, b->len + (size_t)n + 1, 1)) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->mem + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void put_key(cfg_buf *b, const sim_cfg_key *k, const void *obj)
{
    const void *field = (const char *)obj + k->offset;
    if ((k->flags & SIM_CFG_OPTIONAL) && !k->def && is_unset(k, obj)) {
        put(b, "; %s = (not set)\n", k->key);
        return;
    }
    switch (k->type) {
    case SIM_CFG_INT:
        put(b, "%s = %d\n", k->key, *(const int *)field);
        break;
    case SIM_CFG_U64:
        put(b, "%s = %" PRIu64 "\n", k->key, *(const uint64_t *)field);
        break;
    case SIM_CFG_DOUBLE: {
        char num[40];
        fmt_num(num, sizeof num, *(const double *)field);
        put(b, "%s = %s\n", k->key, num);
        break;
    }
    case SIM_CFG_BOOL:
        put(b, "%s = %s\n", k->key, *(const int *)field ? "true" : "false");
        break;
    case SIM_CFG_STRING:
    case SIM_CFG_ENUM:
        put(b, "%s = %.*s\n", k->key, (int)strnlen(field, k->size), (const char *)field);
        break;
    }
}

char *sim_cfg_format(const sim_cfg_key *keys, size_t n_keys, const void *obj)
{
    cfg_buf b = {NULL, 0, 0, 0};
    put(&b, "%s", "");                          /* an empty table still gives "" */
    for (size_t i = 0; i < n_keys; i++) {
        size_t j = 0;
        while (j < i && strcmp(keys[j].section, keys[i].section))
            j++;
        if (j < i)
            continue;                           /* section already written */
        put(&b, "%s[%s]\n", i ? "\n" : "", keys[i].section);
        for (size_t m = i; m < n_keys; m++)
            if (!strcmp(keys[m].section, keys[i].section))
                put_key(&b, &keys[m], obj);
    }
    if (b.failed) {
        sim_free(b.mem);
        return NULL;
    }
    return b.mem;
}
