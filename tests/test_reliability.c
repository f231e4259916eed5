/* tests/test_reliability.c: nothing lost, nothing half-written. An interrupted run leaves
 * no trace and earlier runs intact; concurrent writers lose no row; a read-only or full
 * database gives a clear error; the same sweep gives the same rows with --jobs 1 and 4. */
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[256];
static char err_buf[1 << 16];

static const char *bin(void) { return getenv("MOESIM"); }

static int sh(const char *fmt, ...)
{
    char cmd[8192], e[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd - 400, fmt, ap);
    va_end(ap);
    snprintf(e, sizeof e, "%s/stderr", dir);
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof cmd - n, " 2>%s", e);
    int st = system(cmd);
    FILE *f = fopen(e, "r");
    size_t k = f ? fread(err_buf, 1, sizeof err_buf - 1, f) : 0;
    err_buf[k] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long long q(const char *db, const char *sql)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, db);
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(p, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static int setup(void **state)
{
    (void)state;
    static char abs[600];
    const char *b = getenv("MOESIM");
    if (!b)
        b = "./moesim";
    if (b[0] != '/') {
        char cwd[400];
        if (!getcwd(cwd, sizeof cwd))
            return -1;
        snprintf(abs, sizeof abs, "%s/%s", cwd, b);
        setenv("MOESIM", abs, 1);
    }
    snprintf(dir, sizeof dir, "/tmp/moesim-rel-XXXXXX");
    assert_non_null(mkdtemp(dir));
    chmod(dir, 0755);
    char p[300];
    snprintf(p, sizeof p, "%s/tiny.ini", dir);
    FILE *f = fopen(p, "w");
    fputs("[cluster]\ngpus_per_node = 2\n[model]\nlayers = 1\nhidden = 256\nffn_expert = 512\n"
          "experts = 4\ntop_k = 2\nheads = 4\nkv_heads = 4\n[training]\nseq_len = 128\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* SIGINT and SIGTERM in the middle of a long run: the process ends by the signal, the
 * database keeps its one earlier run whole and gains nothing; a rerun then stores. */
static void test_interrupted_run_leaves_nothing(void **state)
{
    (void)state;
    assert_int_equal(sh("cd %s && %s run tiny.ini --db i.db --quiet >/dev/null", dir, bin()), 0);
    int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s/i.db", dir);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int fd = open("/dev/null", 1);
            dup2(fd, 1);
            dup2(fd, 2);
            execl(bin(), "moesim", "run", "scenarios/default.ini", "--db", cmd, "--quiet",
                  "--set", "training.steps=1000", (char *)NULL);
            _exit(127);
        }
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        kill(pid, sigs[i]);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i]);
        assert_int_equal(q("i.db", "SELECT count(*) FROM runs"), 1);
        assert_int_equal(q("i.db", "SELECT count(*) FROM steps"), 1);
        assert_int_equal(q("i.db", "SELECT count(*) FROM pragma_integrity_check "
                                   "WHERE integrity_check != 'ok'"), 0);
    }
    assert_int_equal(sh("cd %s && %s run tiny.ini --db i.db --quiet >/dev/null", dir, bin()), 0);
    assert_int_equal(q("i.db", "SELECT count(*) FROM runs"), 2);
}

/* Four processes write two runs each into one database at the same time: all 8 arrive. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    assert_int_equal(sh("cd %s && for p in 1 2 3 4; do (for s in 1 2; do %s run tiny.ini "
                        "--db c.db --quiet --set run.seed=$p$s >/dev/null || touch failed; done) & "
                        "done; wait; test ! -e failed",
                        dir, bin()), 0);
    assert_int_equal(q("c.db", "SELECT count(*) FROM runs"), 8);
    assert_int_equal(q("c.db", "SELECT count(DISTINCT seed) FROM runs"), 8);
    assert_int_equal(q("c.db", "SELECT count(*) FROM steps"), 8);
}

/* A database the user may not write: a clear message before any simulation, status 1, and
 * the file unchanged. (Run as another user when we are root, who may write anything.) */
static void test_read_only_database(void **state)
{
    (void)state;
    assert_int_equal(sh("cd %s && %s run tiny.ini --db ro.db --quiet >/dev/null", dir, bin()), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/ro.db", dir);
    chmod(p, 0444);
    const char *as = getuid() == 0 ? "runuser -u nobody -- " : "";
    if (getuid() == 0 && system("command -v runuser >/dev/null") != 0)
        skip();
    assert_int_equal(sh("cd %s && %s%s run tiny.ini --db ro.db --quiet >/dev/null", dir, as,
                        bin()), 1);
    assert_non_null(strstr(err_buf, "ro.db: cannot write: the database is read-only"));
    assert_int_equal(q("ro.db", "SELECT count(*) FROM runs"), 1);
}

/* A disk that fills up (here: a file-size limit): a clear message with the system's reason
 * and status 1, no crash. */
static void test_full_disk(void **state)
{
    (void)state;
    int rc = sh("cd %s && bash -c 'trap \"\" XFSZ; ulimit -f 16; exec %s run tiny.ini --db "
                "full.db --quiet --set training.steps=20' >/dev/null", dir, bin());
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err_buf, "full.db"));
    assert_non_null(strstr(err_buf, "File too large"));
}

/* The same sweep with --jobs 1 and --jobs 4 stores the same rows (ids, start and wall times
 * aside): every run of one database has a run with the same resolved keys in the other,
 * with identical steps, breakdown, loads and busy times. */
static void test_jobs_do_not_change_results(void **state)
{
    (void)state;
    const char *sweep = "sweep tiny.ini --set model.layers=1,2,3 --set run.seed=1,2 "
                        "--set routing.capacity_factor=0,1.0 --quiet";
    assert_int_equal(sh("cd %s && %s %s --db j1.db --jobs 1 >/dev/null", dir, bin(), sweep), 0);
    assert_int_equal(sh("cd %s && %s %s --db j4.db --jobs 4 >/dev/null", dir, bin(), sweep), 0);
    char sql[2048];
    const char *cmp[][2] = {
        {"steps", "step, step_time_s, tokens, dropped_tokens, max_mean_load, events"},
        {"breakdown", "step, category, category_index, seconds"},
        {"expert_load", "step, layer, expert, tokens, dropped"},
        {"gpu_busy", "step, gpu, busy_s"},
    };
    char other[300];
    snprintf(other, sizeof other, "%s/j4.db", dir);
    for (size_t t = 0; t < sizeof cmp / sizeof cmp[0]; t++) {
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM (SELECT r.resolved, %2$s FROM runs r JOIN %1$s x "
                 "ON x.run_id = r.id EXCEPT SELECT r.resolved, %2$s FROM o.runs r JOIN o.%1$s x "
                 "ON x.run_id = r.id)) + (SELECT count(*) FROM o.%1$s) - (SELECT count(*) FROM "
                 "%1$s)",
                 cmp[t][0], cmp[t][1]);
        sqlite3 *h;
        char p[300];
        snprintf(p, sizeof p, "%s/j1.db", dir);
        assert_int_equal(sqlite3_open_v2(p, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        char att[400];
        snprintf(att, sizeof att, "ATTACH '%s' AS o", other);
        assert_int_equal(sqlite3_exec(h, att, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
            fail_msg("%s", sqlite3_errmsg(h));
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int64(st, 0) != 0)
            fail_msg("table %s differs between --jobs 1 and --jobs 4", cmp[t][0]);
        sqlite3_finalize(st);
        sqlite3_close(h);
    }
    assert_int_equal(q("j1.db", "SELECT count(*) FROM runs"), 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupted_run_leaves_nothing),
        cmocka_unit_test(test_concurrent_writers),
        cmocka_unit_test(test_read_only_database),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_jobs_do_not_change_results),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
