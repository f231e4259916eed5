/* cli/scenario_load.c: loading a scenario the way every command does: defaults, then the
 * model preset named by model.preset (scenarios/presets/models/NAME.ini), then the file's own
 * keys, then --set overrides; then the cross-key rules (scn_resolve), with every error
 * naming the file and line (or the preset's file and line, or --set) of the key at fault. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sim/alloc.h"
#include "sim/cfg.h"

#define PRESET_SUBDIR "scenarios/presets/models"

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The preset directory: $MOESIM_PRESETS, else ./scenarios/presets/models, else the same
 * path next to the moesim executable. */
static void preset_dir(char *buf, size_t n)
{
    const char *env = getenv("MOESIM_PRESETS");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    if (is_dir(PRESET_SUBDIR)) {
        snprintf(buf, n, "%s", PRESET_SUBDIR);
        return;
    }
    char exe[512];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* the binary may sit in build/san/: try its directory and two levels up */
            for (int up = 0; up < 3; up++) {
                snprintf(buf, n, "%.511s/%s", exe, PRESET_SUBDIR);
                if (is_dir(buf))
                    return;
                slash = strrchr(exe, '/');
                if (!slash)
                    break;
                *slash = '\0';
            }
        }
    }
    snprintf(buf, n, "%s", PRESET_SUBDIR);
}

/* "a, b, c": the presets in dir (file names without .ini, sorted). */
static void list_presets(const char *dir, char *out, size_t n)
{
    out[0] = '\0';
    struct dirent **names = NULL;
    int k = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        const char *f = names[i]->d_name;
        size_t len = strlen(f);
        if (len > 4 && strcmp(f + len - 4, ".ini") == 0) {
            size_t used = strlen(out);
            snprintf(out + used, n - used, "%s%.*s", used ? ", " : "", (int)(len - 4), f);
        }
        free(names[i]);
    }
    free(names);
    if (!out[0])
        snprintf(out, n, "none");
}

int cli_preset_path(const char *name, char *buf, size_t n)
{
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return -1;
    if (!*name || name[0] == '.')
        return -1;
    char dir[900];
    preset_dir(dir, sizeof dir);
    snprintf(buf, n, "%s/%s.ini", dir, name);
    struct stat st;
    return stat(buf, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
}

/* Names where key i was set: FILE:LINE, the preset's FILE:LINE, --set, or FILE (default). */
static void origin(char *at, size_t n, const char *name, const char *preset_path, int line,
                   int preset_line)
{
    if (line > 0)
        snprintf(at, n, "%.250s:%d", name, line);
    else if (line < 0)
        snprintf(at, n, "--set");
    else if (preset_line > 0)
        snprintf(at, n, "%.250s:%d", preset_path, preset_line);
    else
        snprintf(at, n, "%.250s", name);
}

static sim_status load(const char *name, const char *text, const char *const *sets,
                       size_t n_sets, scn_config *out, sim_err *err)
{
    int *where = sim_calloc(scn_n_keys, sizeof *where);
    int *where_p = sim_calloc(scn_n_keys, sizeof *where_p);
    sim_status st = SIM_ENOMEM;
    scn_config c;
    char ppath[1024] = "";
    if (!where || !where_p) {
        sim_err_set(err, SIM_ENOMEM, "out of memory");
        goto done;
    }
    st = sim_cfg_load_string_where(scn_keys, scn_n_keys, &c, name, text, sets, n_sets, where,
                                   err);
    if (st != SIM_OK || !c.model.preset[0])
        goto resolve;
    /* the preset first, then this file and the overrides over it */
    const sim_cfg_key *pk = sim_cfg_find(scn_keys, scn_n_keys, "model.preset");
    int pline = where[pk - scn_keys];
    char at[300], avail[1024], dir[900];
    if (cli_preset_path(c.model.preset, ppath, sizeof ppath) != 0) {
        origin(at, sizeof at, name, "", pline, 0);
        preset_dir(dir, sizeof dir);
        list_presets(dir, avail, sizeof avail);
        st = sim_err_set(err, SIM_EINPUT,
                         "%s: model.preset: no preset \"%.64s\" in %.300s (expected one of: %.500s)",
                         at, c.model.preset, dir, avail);
        goto done;
    }
    char *ptext = NULL;
    st = sim_cfg_load_file_where(scn_keys, scn_n_keys, &c, ppath, NULL, 0, &ptext, where_p, err);
    sim_free(ptext);
    if (st != SIM_OK)
        goto done;
    for (size_t i = 0; i < scn_n_keys; i++) {
        if (where_p[i] > 0 && (strcmp(scn_keys[i].section, "model") != 0 || &scn_keys[i] == pk)) {
            st = sim_err_set(err, SIM_EINPUT,
                             "%s:%d: %s.%s: a model preset holds [model] keys only, and no "
                             "model.preset",
                             ppath, where_p[i], scn_keys[i].section, scn_keys[i].key);
            goto done;
        }
    }
    memset(where, 0, scn_n_keys * sizeof *where);
    st = sim_cfg_load_string_over(scn_keys, scn_n_keys, &c, name, text, sets, n_sets, where, err);
resolve:
    if (st != SIM_OK)
        goto done;
    const sim_cfg_key *bad = NULL;
    st = scn_resolve(&c, &bad, err);
    if (st != SIM_OK) {
        size_t i = bad ? (size_t)(bad - scn_keys) : 0;
        char msg[sizeof err->msg], where_at[1100];
        memcpy(msg, err->msg, sizeof msg);
        origin(where_at, sizeof where_at, name, ppath, bad ? where[i] : 0, bad ? where_p[i] : 0);
        sim_err_set(err, st, "%s: %.700s", where_at, msg);
        goto done;
    }
    *out = c;
done:
    sim_free(where);
    sim_free(where_p);
    return st;
}

sim_status cli_load_scenario_text(const char *name, const char *text, const char *const *sets,
                                  size_t n_sets, scn_config *c, sim_err *err)
{
    return load(name, text, sets, n_sets, c, err);
}

sim_status cli_load_scenario(const char *path, const char *const *sets, size_t n_sets,
                             scn_config *c, char **text_out, sim_err *err)
{
    /* read and check the file once on its own (its text, and errors naming its lines) */
    scn_config tmp;
    char *text = NULL;
    sim_status st = sim_cfg_load_file(scn_keys, scn_n_keys, &tmp, path, NULL, 0, &text, err);
    if (st != SIM_OK)
        return st;
    st = load(path, text, sets, n_sets, c, err);
    if (st == SIM_OK && text_out)
        *text_out = text;
    else
        sim_free(text);
    return st;
}
