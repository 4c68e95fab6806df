/* SPDX-License-Identifier: MIT */

/* The plan against rpm itself: tiny noarch packages built with rpmbuild,
 * whose every scriptlet, trigger and file trigger appends a line naming
 * itself, its $1 and $2 (and its standard input) to /log, are installed,
 * upgraded and erased by rpm 4.18 (--root, scriptlets run chrooted there
 * with a static busybox as /bin/sh); after each transaction /log must be
 * what plan_build() says for the same headers: the packages read from the
 * built files with slipway's reader, the installed ones from the root's
 * rpmdb.sqlite in instance order. Needs root, rpm, rpmbuild and a static
 * /usr/bin/busybox (busybox-static); skipped (77) without them. KEEP=1
 * keeps the temporary directory, VERBOSE=1 prints the logs. */

#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "rpm/package.h"
#include "script/plan.h"
#include "../unit.h"

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static bool streq_ptr(const char *a, const char *b) {
        return a && b && streq(a, b);
}

static char tmpdir[] = "/tmp/test-plan-rpm-XXXXXX";
static char *root;

static int run(char **out, const char *fmt, ...) _printf_(2, 3);
static int run(char **out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *full = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (k < 0 || asprintf(&full, "%s 2>&1", cmd) < 0)
                return -1;
        char *o = NULL;
        int r = unit_run(full, &o, NULL);
        if (out)
                *out = o;
        else
                free(o);
        return r;
}

/* ---- the packages ----------------------------------------------------------- */

/* A scriptlet section that logs "LBL:<label> $1 $2", and its standard input
 * too when input is set. */
static void sh(StrBuf *sb, const char *section, const char *label, bool input) {
        strbuf_printf(sb, "%s\necho \"LBL:%s $1 $2\" >> /log\n%s\n", section, label,
                      input ? "while read f; do echo \"  $f\" >> /log; done" : "");
}

/* "-p <lua>" goes before a trigger's "--": after it, it would be a prefix. */
static void lua(StrBuf *sb, const char *section, const char *label) {
        const char *dashes = strstr(section, " --");
        size_t head = dashes ? (size_t) (dashes - section) : strlen(section);
        strbuf_printf(sb,
                      "%.*s -p <lua>%s\nlocal f = io.open('/log', 'a')\n"
                      "f:write('LBL:%s ' .. tostring(arg[2]) .. ' ' .. tostring(arg[3]) .. '\\n')\n"
                      "if rpm.next_file then for p in rpm.next_file do f:write('  ' .. p .. '\\n') end end\n"
                      "f:close()\n",
                      (int) head, section, section + head, label);
}

#define SPEC_HEAD                                                                           \
        "Name: %s\nVersion: %s\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n%s" \
        "%%description\nt\n%%install\n%s\n%%files\n%s\n"

static char *build(const char *name, const char *version, const char *requires, const char *install,
                   const char *files, void (*scripts)(StrBuf *, const char *v)) {
        StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb, SPEC_HEAD, name, version, requires, install, files);
        scripts(&sb, version);
        _cleanup_free_ char *spec_text = strbuf_detach(&sb, NULL);
        _cleanup_free_ char *spec = NULL, *out = NULL;
        char *rpm = NULL;
        if (asprintf(&spec, "%s/%s-%s.spec", tmpdir, name, version) < 0 ||
            asprintf(&rpm, "%s/rpms/%s-%s.rpm", tmpdir, name, version) < 0)
                abort();
        CHECK(write_file_atomic(spec, spec_text, strlen(spec_text), 0644) == 0);
        int r = run(&out,
                    "rpmbuild -bb --quiet --define '_topdir %s/top' --define '_rpmdir %s/rpms' "
                    "--define '_build_name_fmt %%%%{NAME}-%%%%{VERSION}.rpm' --define '_binary_payload w.ufdio' %s",
                    tmpdir, tmpdir, spec);
        if (r != 0)
                fprintf(stderr, "rpmbuild %s: %s\n", spec, out);
        CHECK(r == 0);
        return rpm;
}

/* c: %pretrans and %posttrans, a program with arguments and no body, a Lua
 * %preun; files under /usr/lib64 ("/usr/lib" is a prefix of them). */
static void c_scripts(StrBuf *sb, const char *v) {
        (void) v;
        sh(sb, "%pretrans", "c pretrans", false);
        sh(sb, "%posttrans", "c posttrans", false);
        strbuf_puts(sb, "%post -p \"/bin/logprog c-post x\"\n");
        lua(sb, "%preun", "c preun-lua");
}

/* b: a Lua %post, a %postun that is a program alone, triggers on a (one
 * versioned) and a program-only trigger on c. */
static void b_scripts(StrBuf *sb, const char *v) {
        char l[64];
        snprintf(l, sizeof l, "b%s pre", v);
        sh(sb, "%pre", l, false);
        snprintf(l, sizeof l, "b%s post-lua", v);
        lua(sb, "%post", l);
        strbuf_puts(sb, "%postun -p /bin/logprog\n");
        snprintf(l, sizeof l, "b%s triggerin-a", v);
        sh(sb, "%triggerin -- a", l, false);
        snprintf(l, sizeof l, "b%s triggerun-a", v);
        sh(sb, "%triggerun -- a", l, false);
        snprintf(l, sizeof l, "b%s triggerpostun-a<2", v);
        sh(sb, "%triggerpostun -- a < 2", l, false);
        strbuf_puts(sb, "%triggerin -p /bin/logprog -- c\n");
}

/* a: every kind of scriptlet, triggers and file triggers of several
 * priorities and prefixes. */
static void a_scripts(StrBuf *sb, const char *v) {
        static const struct {
                const char *section, *label;
                bool input;
        } s[] = {
                { "%pretrans", "pretrans", false },
                { "%pre", "pre", false },
                { "%post", "post", false },
                { "%preun", "preun", false },
                { "%postun", "postun", false },
                { "%posttrans", "posttrans", false },
                { "%filetriggerin -- /usr/lib", "fin-lib", true },
                { "%filetriggerin -P 20000 -- /usr/lib64 /usr/lib", "fin-20000-lib64+lib", true },
                { "%filetriggerin -P 100 -- /usr/lib64", "fin-100-lib64", true },
                { "%filetriggerin -P 5000 -- /usr/lib/b", "fin-5000-libb", true },
                { "%filetriggerun -- /usr/lib", "fun-lib", true },
                { "%filetriggerun -P 50 -- /usr/lib64", "fun-50-lib64", true },
                { "%filetriggerpostun -- /usr/lib", "fpostun-lib", true },
                { "%filetriggerpostun -P 50 -- /usr/lib", "fpostun-50-lib", true },
                { "%transfiletriggerin -- /usr/lib", "tin-lib", true },
                { "%transfiletriggerin -P 10 -- /usr/libexec", "tin-10-libexec", true },
                { "%transfiletriggerun -- /usr/lib", "tun-lib", true },
                { "%transfiletriggerpostun -- /usr/lib64 /usr/lib", "tpostun-lib64+lib", true },
                { "%triggerprein -- b", "triggerprein-b", false },
                { "%triggerin -- b", "triggerin-b", false },
                { "%triggerin -- c > 5", "triggerin-c>5", false },
                { "%triggerin -- c", "triggerin-c", false },
                { "%triggerun -- b", "triggerun-b", false },
                { "%triggerpostun -- b", "triggerpostun-b", false },
                { "%triggerin -- d", "triggerin-d", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(s); i++) {
                char l[64];
                snprintf(l, sizeof l, "a%s %s", v, s[i].label);
                sh(sb, s[i].section, l, s[i].input);
        }
        char l[64];
        snprintf(l, sizeof l, "a%s tin-lua-libb", v);
        lua(sb, "%transfiletriggerin -P 1 -- /usr/lib/b", l);
}

static void d_scripts(StrBuf *sb, const char *v) {
        (void) v;
        sh(sb, "%post", "d post", false);
        sh(sb, "%triggerin -- a", "d triggerin-a", false);
        sh(sb, "%filetriggerin -- /usr/lib/b", "d fin-libb", true);
        sh(sb, "%filetriggerpostun -- /usr/libexec-e", "d fpostun-libexec-e", true);
}

static void e_scripts(StrBuf *sb, const char *v) {
        (void) v;
        sh(sb, "%post", "e post", false);
}

/* ---- what the plan says rpm logs ---------------------------------------------- */

static void render_args(StrBuf *sb, const PlanScript *s, bool lua_style) {
        if (lua_style) {
                s->arg1 >= 0 ? strbuf_printf(sb, " %d", s->arg1) : strbuf_puts(sb, " nil");
                s->arg2 >= 0 ? strbuf_printf(sb, " %d", s->arg2) : strbuf_puts(sb, " nil");
        } else {
                s->arg1 >= 0 ? strbuf_printf(sb, " %d", s->arg1) : strbuf_puts(sb, " ");
                s->arg2 >= 0 ? strbuf_printf(sb, " %d", s->arg2) : strbuf_puts(sb, " ");
        }
}

static void render_input(StrBuf *sb, const PlanScript *s) {
        for (const char *p = s->input; p && *p;) {
                const char *nl = strchr(p, '\n');
                strbuf_puts(sb, "  ");
                strbuf_put(sb, p, nl - p + 1);
                p = nl + 1;
        }
}

/* The body's label (after "LBL:" up to the quote or the space before $1). */
static void render_label(StrBuf *sb, const char *body) {
        const char *l = body ? strstr(body, "LBL:") : NULL;
        if (!l) {
                strbuf_puts(sb, "?no-label?");
                return;
        }
        const char *end = strstr(l, " $1");
        if (!end)
                end = strstr(l, " ' ..");
        strbuf_put(sb, l, end ? (size_t) (end - l) : strlen(l));
}

static char *render(const Plan *plan) {
        StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const PlanScript *s = &plan->steps[i].script;
                if (plan->steps[i].type != PLAN_STEP_SCRIPT)
                        continue;
                if (streq_ptr(s->argv[0], "/bin/logprog")) {
                        strbuf_puts(&sb, "logprog [");
                        for (size_t k = 1; s->argv[k]; k++)
                                strbuf_printf(&sb, " %s", s->argv[k]);
                        if (s->body)
                                strbuf_puts(&sb, " TMPFILE");
                        if (s->arg1 >= 0)
                                strbuf_printf(&sb, " %d", s->arg1);
                        if (s->arg2 >= 0)
                                strbuf_printf(&sb, " %d", s->arg2);
                        strbuf_puts(&sb, " ]\n");
                        render_input(&sb, s);
                        continue;
                }
                render_label(&sb, s->body);
                render_args(&sb, s, s->lua);
                strbuf_putc(&sb, '\n');
                if (s->lua || (s->body && strstr(s->body, "while read")))
                        render_input(&sb, s);
        }
        return strbuf_detach(&sb, NULL);
}

/* ---- transactions --------------------------------------------------------------- */

typedef struct Installed {
        RpmHeader **headers;
        size_t n;
} Installed;

static void installed_release(Installed *in) {
        for (size_t i = 0; i < in->n; i++)
                rpm_header_free(in->headers[i]);
        free(in->headers);
        *in = (Installed) {};
}

/* The root's installed headers, in instance order, as rpm stored them. */
static void read_installed(Installed *ret) {
        _cleanup_free_ char *path = NULL;
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        *ret = (Installed) {};
        if (asprintf(&path, "%s/rpmdb/rpmdb.sqlite", root) < 0)
                abort();
        if (!path_exists(path))
                return;
        CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        CHECK(sqlite3_prepare_v2(db, "SELECT blob FROM Packages ORDER BY hnum", -1, &st, NULL) == SQLITE_OK);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
                RpmHeader *h = NULL;
                CHECK(rpm_header_parse_installed(sqlite3_column_blob(st, 0), (size_t) sqlite3_column_bytes(st, 0), &h) == 0);
                ret->headers = realloc(ret->headers, (ret->n + 1) * sizeof *ret->headers);
                ret->headers[ret->n++] = h;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static size_t find_installed(const Installed *in, const char *name, const char *version) {
        for (size_t i = 0; i < in->n; i++)
                if (in->headers[i] && streq_ptr(rpm_header_get_string(in->headers[i], RPMTAG_NAME), name) &&
                    streq_ptr(rpm_header_get_string(in->headers[i], RPMTAG_VERSION), version))
                        return i;
        return SIZE_MAX;
}

/* One transaction: elements "+FILE" to install (upgrade), "-NAME-VERSION"
 * to erase, in rpm's processing order; rpm is run with the same. */
static void transaction(const char *title, const char *rpm_args, const char *const *elements, size_t n) {
        Installed inst;
        read_installed(&inst);
        RpmPackage *files[8] = {};
        PlanPackage pkgs[8], installed[16];
        PlanElement els[8];
        size_t n_pkgs = 0;
        assert(n <= 8 && inst.n <= 16);

        for (size_t i = 0; i < inst.n; i++)
                installed[i] = (PlanPackage) { inst.headers[i] };
        for (size_t i = 0; i < n; i++) {
                if (elements[i][0] == '+') {
                        CHECK(rpm_package_read(elements[i] + 1, &files[n_pkgs]) == 0);
                        pkgs[n_pkgs] = (PlanPackage) { files[n_pkgs] ? files[n_pkgs]->header : NULL };
                        els[i] = (PlanElement) { PLAN_INSTALL, n_pkgs++ };
                } else {
                        char name[32], version[32];
                        CHECK(sscanf(elements[i] + 1, "%31[^-]-%31s", name, version) == 2);
                        els[i] = (PlanElement) { PLAN_ERASE, find_installed(&inst, name, version) };
                        CHECK(els[i].package != SIZE_MAX);
                }
        }

        PlanInput in = { installed, inst.n, pkgs, n_pkgs, els, n };
        Plan plan = {};
        _cleanup_free_ char *error = NULL, *expected = NULL, *out = NULL, *log = NULL, *logpath = NULL;
        int r = plan_build(&in, &plan, &error);
        if (r < 0)
                fprintf(stderr, "%s: plan_build: %s\n", title, error ?: strerror(-r));
        CHECK(r == 0);
        expected = render(&plan);

        if (asprintf(&logpath, "%s/log", root) < 0)
                abort();
        CHECK(write_file_atomic(logpath, "", 0, 0644) == 0);
        r = run(&out, "rpm --root %s --dbpath /rpmdb --nodeps --noplugins %s", root, rpm_args);
        if (r != 0)
                fprintf(stderr, "%s: rpm: %s\n", title, out);
        CHECK(r == 0);
        size_t log_size;
        CHECK(read_full_file(logpath, &log, &log_size) == 0);
        unit_checks++;
        if (!expected || !log || !streq(expected, log)) {
                unit_failures++;
                fprintf(stderr, "%s: the plan differs from rpm's log\n--- plan\n%s--- rpm\n%s---\n", title,
                        expected ?: "(null)", log ?: "(null)");
        } else {
                printf("%s: %zu steps, the same as rpm\n", title, plan.n_steps);
                if (getenv("VERBOSE"))
                        printf("%s", log);
        }

        plan_release(&plan);
        for (size_t i = 0; i < n_pkgs; i++)
                rpm_package_free(files[i]);
        installed_release(&inst);
}

static void test_against_rpm(void) {
        _cleanup_free_ char *a1 = NULL, *a2 = NULL, *b1 = NULL, *b2 = NULL, *c1 = NULL, *d1 = NULL, *e1 = NULL;
        c1 = build("c", "1", "",
                   "mkdir -p %{buildroot}/usr/lib64/c; echo c > %{buildroot}/usr/lib64/c/c.so; echo c > %{buildroot}/usr/libexec-c",
                   "/usr/lib64/c\n/usr/libexec-c", c_scripts);
        b1 = build("b", "1", "Requires: c\n", "mkdir -p %{buildroot}/usr/lib/b; echo b > %{buildroot}/usr/lib/b/b.so",
                   "/usr/lib/b", b_scripts);
        b2 = build("b", "2", "Requires: c\n",
                   "mkdir -p %{buildroot}/usr/lib/b; echo b > %{buildroot}/usr/lib/b/b.so; echo b2 > %{buildroot}/usr/lib/b/new.so",
                   "/usr/lib/b", b_scripts);
        const char *a_install =
                "mkdir -p %{buildroot}/usr/lib %{buildroot}/usr/lib64; echo a > %{buildroot}/usr/lib/a.so; "
                "echo a > %{buildroot}/usr/lib64/a64.so";
        a1 = build("a", "1", "Requires: b\nRequires: c\n", a_install, "/usr/lib/a.so\n/usr/lib64/a64.so", a_scripts);
        a2 = build("a", "2", "Requires: b\nRequires: c\n", a_install, "/usr/lib/a.so\n/usr/lib64/a64.so", a_scripts);
        e1 = build("e", "1", "", "mkdir -p %{buildroot}/usr; echo e > %{buildroot}/usr/libexec-e", "/usr/libexec-e", e_scripts);
        d1 = build("d", "1", "Requires: e\n", "mkdir -p %{buildroot}/usr/lib/d; echo d > %{buildroot}/usr/lib/d/d.so",
                   "/usr/lib/d", d_scripts);
        if (unit_failures)
                return;

        /* The root: busybox as /bin/sh, and the program-only scriptlets'
         * program, which logs its arguments (a temporary file as TMPFILE)
         * and its standard input. */
        CHECK(run(NULL,
                  "mkdir -p %1$s/bin && cp /usr/bin/busybox %1$s/bin/busybox && ln -s busybox %1$s/bin/sh && "
                  "printf '%%s\\n' '#!/bin/sh' 'l=\"logprog [\"' "
                  "'for a in \"$@\"; do case $a in *rpm-tmp*) l=\"$l TMPFILE\";; *) l=\"$l $a\";; esac; done' "
                  "'echo \"$l ]\" >> /log' 'while read f; do echo \"  $f\" >> /log; done' > %1$s/bin/logprog && "
                  "chmod 755 %1$s/bin/logprog",
                  root) == 0);

        /* A fresh install: pretrans of all first, triggers of an earlier
         * element set off by a later one and the other way round. */
        _cleanup_free_ char *args = NULL;
        if (asprintf(&args, "-i %s %s %s", a1, b1, c1) < 0)
                abort();
        char *p1[3];
        if (asprintf(&p1[0], "+%s", c1) < 0 || asprintf(&p1[1], "+%s", b1) < 0 || asprintf(&p1[2], "+%s", a1) < 0)
                abort();
        transaction("install c b a", args, (const char *const *) p1, 3);

        /* Packages set off installed ones' triggers, and installed ones
         * theirs; a file whose directory is not under a prefix. */
        free(args);
        char *p2[2];
        if (asprintf(&args, "-i %s %s", d1, e1) < 0 || asprintf(&p2[0], "+%s", e1) < 0 || asprintf(&p2[1], "+%s", d1) < 0)
                abort();
        transaction("install e d", args, (const char *const *) p2, 2);

        /* Upgrades: the old instances erased after every install, in the
         * order rpm's dependencies give (a before b). */
        free(args);
        char *p3[4];
        if (asprintf(&args, "-U %s %s", a2, b2) < 0 || asprintf(&p3[0], "+%s", b2) < 0 || asprintf(&p3[1], "+%s", a2) < 0 ||
            !(p3[2] = strdup("-a-1")) || !(p3[3] = strdup("-b-1")))
                abort();
        transaction("upgrade a b", args, (const char *const *) p3, 4);

        const char *p4[] = { "-b-2" };
        transaction("erase b", "-e b", p4, 1);
        const char *p5[] = { "-d-1", "-e-1" };
        transaction("erase d e", "-e d e", p5, 2);
        const char *p6[] = { "-a-2", "-c-1" };
        transaction("erase a c", "-e a c", p6, 2);

        for (size_t i = 0; i < 3; i++)
                free(p1[i]);
        for (size_t i = 0; i < 2; i++)
                free(p2[i]);
        for (size_t i = 0; i < 4; i++)
                free(p3[i]);
}

int unit_failures, unit_checks;

int main(void) {
        if (run(NULL, "command -v rpm && command -v rpmbuild") != 0) {
                printf("rpm or rpmbuild missing: skipping\n");
                return 77;
        }
        if (geteuid() != 0) {
                printf("not root (rpm --root needs it): skipping\n");
                return 77;
        }
        if (run(NULL, "test -x /usr/bin/busybox && ! ldd /usr/bin/busybox") != 0) {
                printf("no static /usr/bin/busybox (busybox-static) for the root's /bin/sh: skipping\n");
                return 77;
        }
        if (!mkdtemp(tmpdir))
                return 1;
        root = path_join(tmpdir, "root");
        test_against_rpm();
        if (!getenv("KEEP"))
                rm_rf(tmpdir);
        else
                printf("kept %s\n", tmpdir);
        free(root);
        printf("%d checks, %d failed\n", unit_checks, unit_failures);
        return unit_failures ? 1 : 0;
}
