/* SPDX-License-Identifier: MIT */

/* plan_build() over synthetic headers: the order rpm 4.18 runs scriptlets,
 * triggers and file triggers in, their $1/$2 and standard input, and the
 * headers it refuses. Each plan is rendered one step a line:
 *   +NAME / -NAME                the package's files unpacked / removed
 *   KIND OWNER[#TRIGGER] $1 $2   a scriptlet (- for an argument not passed)
 *     PATH                       a file trigger's standard input
 * test-plan-rpm checks the same rules against rpm itself. */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/strbuf.h"
#include "rpm/header.h"
#include "script/plan.h"
#include "../unit.h"

/* ---- synthetic packages ------------------------------------------------------ */

typedef struct Trig {
        int mode; /* 0 normal, 1 file, 2 transfile */
        uint32_t sense;
        const char *names[3]; /* names or prefixes */
        const char *version;  /* normal triggers: "" or an EVR with flags below */
        uint32_t vflags;
        uint32_t priority;
        const char *prog;
        const char *body;
} Trig;

typedef struct Pkg {
        const char *name, *version;
        const char *files[6];
        const char *pre, *post, *preun, *postun, *pretrans, *posttrans; /* bodies */
        const char *post_prog;
        Trig trig[6];
        bool installed; /* add FILESTATES (all normal) */
} Pkg;

static void add_strv(RpmHeaderBuilder *b, uint32_t tag, const char **v, size_t n) {
        if (n)
                rpm_header_add_strings(b, tag, v, n);
}

static void add_u32v(RpmHeaderBuilder *b, uint32_t tag, const uint32_t *v, size_t n) {
        if (n)
                rpm_header_add_int32(b, tag, v, n);
}

static const uint32_t trig_tags[3][8] = {
        { RPMTAG_TRIGGERNAME, RPMTAG_TRIGGERVERSION, RPMTAG_TRIGGERFLAGS, RPMTAG_TRIGGERINDEX, RPMTAG_TRIGGERSCRIPTS,
          RPMTAG_TRIGGERSCRIPTPROG, 0, 0 },
        { RPMTAG_FILETRIGGERNAME, RPMTAG_FILETRIGGERVERSION, RPMTAG_FILETRIGGERFLAGS, RPMTAG_FILETRIGGERINDEX,
          RPMTAG_FILETRIGGERSCRIPTS, RPMTAG_FILETRIGGERSCRIPTPROG, RPMTAG_FILETRIGGERPRIORITIES, 0 },
        { RPMTAG_TRANSFILETRIGGERNAME, RPMTAG_TRANSFILETRIGGERVERSION, RPMTAG_TRANSFILETRIGGERFLAGS,
          RPMTAG_TRANSFILETRIGGERINDEX, RPMTAG_TRANSFILETRIGGERSCRIPTS, RPMTAG_TRANSFILETRIGGERSCRIPTPROG,
          RPMTAG_TRANSFILETRIGGERPRIORITIES, 0 },
};

/* The header as rpmbuild writes it (build/parseScript.c, build/pack.c):
 * files sorted, a self-provide, trigger arrays in order. modify may change
 * the builder before it is built. */
static RpmHeader *make(const Pkg *p, void (*modify)(RpmHeaderBuilder *)) {
        RpmHeaderBuilder *b = rpm_header_builder_new();
        char evr[32];
        snprintf(evr, sizeof evr, "%s-1", p->version);
        rpm_header_add_string(b, RPMTAG_NAME, p->name);
        rpm_header_add_string(b, RPMTAG_VERSION, p->version);
        rpm_header_add_string(b, RPMTAG_RELEASE, "1");
        rpm_header_add_string(b, RPMTAG_ARCH, "noarch");
        const char *pn = p->name, *pv = evr;
        rpm_header_add_strings(b, RPMTAG_PROVIDENAME, &pn, 1);
        rpm_header_add_strings(b, RPMTAG_PROVIDEVERSION, &pv, 1);
        rpm_header_add_u32(b, RPMTAG_PROVIDEFLAGS, RPMSENSE_EQUAL);

        /* Files: each its own directory entry. */
        const char *dirs[6], *bases[6];
        char dirbuf[6][64];
        uint32_t idx[6];
        uint16_t modes[6];
        size_t nf = 0, nd = 0;
        for (; nf < 6 && p->files[nf]; nf++) {
                const char *slash = strrchr(p->files[nf], '/');
                snprintf(dirbuf[nf], sizeof dirbuf[nf], "%.*s", (int) (slash - p->files[nf] + 1), p->files[nf]);
                size_t d;
                for (d = 0; d < nd && strcmp(dirs[d], dirbuf[nf]) != 0; d++)
                        ;
                if (d == nd)
                        dirs[nd++] = dirbuf[nf];
                idx[nf] = (uint32_t) d;
                bases[nf] = slash + 1;
                modes[nf] = S_IFREG | 0644;
        }
        if (nf) {
                rpm_header_add_strings(b, RPMTAG_BASENAMES, bases, nf);
                rpm_header_add_strings(b, RPMTAG_DIRNAMES, dirs, nd);
                rpm_header_add_int32(b, RPMTAG_DIRINDEXES, idx, nf);
                rpm_header_add_int16(b, RPMTAG_FILEMODES, modes, nf);
                if (p->installed) {
                        uint8_t states[6] = {};
                        RpmEntry e = { .tag = RPMTAG_FILESTATES, .type = RPM_CHAR_TYPE, .count = (uint32_t) nf, .data = states, .size = nf };
                        rpm_header_add_raw(b, &e);
                }
        }

        if (p->pre)
                rpm_header_add_string(b, RPMTAG_PREIN, p->pre);
        if (p->post)
                rpm_header_add_string(b, RPMTAG_POSTIN, p->post);
        if (p->post_prog)
                rpm_header_add_string(b, RPMTAG_POSTINPROG, p->post_prog);
        if (p->preun)
                rpm_header_add_string(b, RPMTAG_PREUN, p->preun);
        if (p->postun)
                rpm_header_add_string(b, RPMTAG_POSTUN, p->postun);
        if (p->pretrans)
                rpm_header_add_string(b, RPMTAG_PRETRANS, p->pretrans);
        if (p->posttrans)
                rpm_header_add_string(b, RPMTAG_POSTTRANS, p->posttrans);

        for (int m = 0; m < 3; m++) {
                const char *names[16], *versions[16], *scripts[6], *progs[6];
                uint32_t flags[16], index[16], prio[6];
                size_t n = 0, ns = 0;
                for (size_t t = 0; t < 6 && p->trig[t].sense; t++) {
                        const Trig *tr = &p->trig[t];
                        if (tr->mode != m)
                                continue;
                        for (size_t k = 0; k < 3 && tr->names[k]; k++) {
                                names[n] = tr->names[k];
                                versions[n] = tr->version ?: "";
                                flags[n] = tr->sense | tr->vflags;
                                index[n++] = (uint32_t) ns;
                        }
                        scripts[ns] = tr->body ?: "";
                        progs[ns] = tr->prog ?: "/bin/sh";
                        prio[ns++] = tr->priority ?: 1000000;
                }
                add_strv(b, trig_tags[m][0], names, n);
                add_strv(b, trig_tags[m][1], versions, n);
                add_u32v(b, trig_tags[m][2], flags, n);
                add_u32v(b, trig_tags[m][3], index, n);
                add_strv(b, trig_tags[m][4], scripts, ns);
                add_strv(b, trig_tags[m][5], progs, ns);
                if (trig_tags[m][6])
                        add_u32v(b, trig_tags[m][6], prio, ns);
        }
        if (modify)
                modify(b);

        uint8_t *blob = NULL;
        size_t size = 0, used;
        RpmHeader *h = NULL;
        CHECK(rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &blob, &size) == 0);
        rpm_header_builder_free(b);
        CHECK(blob && rpm_header_parse(blob, size, &h, &used) == 0);
        free(blob);
        return h;
}

/* ---- plans ------------------------------------------------------------------- */

typedef struct Case {
        RpmHeader *installed[6], *packages[6];
        size_t n_installed, n_packages;
        PlanElement elements[6];
        size_t n_elements;
} Case;

static const char *name_of(const Case *c, bool installed, size_t i) {
        return rpm_header_get_string(installed ? c->installed[i] : c->packages[i], RPMTAG_NAME);
}

static char *render(const Case *c, const Plan *p) {
        StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < p->n_steps; i++) {
                const PlanStep *st = &p->steps[i];
                const PlanScript *s = &st->script;
                if (st->type == PLAN_STEP_UNPACK) {
                        strbuf_printf(&sb, "+%s\n", name_of(c, false, st->package));
                        continue;
                }
                if (st->type == PLAN_STEP_REMOVE) {
                        strbuf_printf(&sb, "-%s\n", name_of(c, true, st->package));
                        continue;
                }
                strbuf_printf(&sb, "%s %s", script_kind_to_string(s->kind) + 1, name_of(c, s->owner_installed, s->owner));
                if (s->trigger_index != SIZE_MAX)
                        strbuf_printf(&sb, "#%zu", s->trigger_index);
                s->arg1 >= 0 ? strbuf_printf(&sb, " %d", s->arg1) : strbuf_puts(&sb, " -");
                s->arg2 >= 0 ? strbuf_printf(&sb, " %d", s->arg2) : strbuf_puts(&sb, " -");
                strbuf_putc(&sb, '\n');
                for (const char *q = s->input; q && *q;) {
                        const char *nl = strchr(q, '\n');
                        strbuf_printf(&sb, "  %.*s\n", (int) (nl - q), q);
                        q = nl + 1;
                }
        }
        return strbuf_detach(&sb, NULL);
}

static int build_plan(const Case *c, Plan *ret, char **ret_error) {
        PlanPackage inst[6], pkgs[6];
        for (size_t i = 0; i < c->n_installed; i++)
                inst[i] = (PlanPackage) { c->installed[i] };
        for (size_t i = 0; i < c->n_packages; i++)
                pkgs[i] = (PlanPackage) { c->packages[i] };
        PlanInput in = { inst, c->n_installed, pkgs, c->n_packages, c->elements, c->n_elements };
        return plan_build(&in, ret, ret_error);
}

static void check_plan(int line, const Case *c, const char *expected, Plan *keep) {
        Plan p = {};
        char *error = NULL;
        int r = build_plan(c, &p, &error);
        unit_checks++;
        if (r < 0) {
                unit_failures++;
                fprintf(stderr, "line %d: plan_build: %d %s\n", line, r, error ?: "");
        } else {
                char *got = render(c, &p);
                if (!got || strcmp(got, expected) != 0) {
                        unit_failures++;
                        fprintf(stderr, "line %d: plan differs\n--- expected\n%s--- got\n%s---\n", line, expected, got ?: "");
                }
                free(got);
        }
        free(error);
        if (keep)
                *keep = p;
        else
                plan_release(&p);
}

static void case_release(Case *c) {
        for (size_t i = 0; i < c->n_installed; i++)
                rpm_header_free(c->installed[i]);
        for (size_t i = 0; i < c->n_packages; i++)
                rpm_header_free(c->packages[i]);
}

#define IN RPMSENSE_TRIGGERIN
#define UN RPMSENSE_TRIGGERUN
#define POSTUN RPMSENSE_TRIGGERPOSTUN
#define PREIN RPMSENSE_TRIGGERPREIN

/* ---- the cases ----------------------------------------------------------------- */

/* Several new packages: every %pretrans first, then each package's own
 * steps, every %posttrans, and the transaction file triggers at the end;
 * a new package's trigger set off by an earlier element (runImmedTriggers)
 * and an earlier element's set off by a later one (runTriggers). */
static void test_fresh_install(void) {
        Pkg lib = { "lib", "1", { "/usr/lib/liba.so" }, .pre = "x", .post = "x", .pretrans = "x", .posttrans = "x" };
        Pkg app = { "app", "1", { "/usr/bin/app" }, .pre = "x", .post = "x", .pretrans = "x",
                    .trig = { { 0, IN, { "lib" }, .body = "x" }, { 0, PREIN, { "lib" }, .body = "x" },
                              { 2, IN, { "/usr/lib" }, .body = "x" } } };
        Pkg plug = { "plug", "1", { "/usr/lib/plug/p.so" }, .post = "x",
                     .trig = { { 0, IN, { "app" }, .body = "x" } } };
        Case c = { .packages = { make(&lib, NULL), make(&app, NULL), make(&plug, NULL) }, .n_packages = 3,
                   .elements = { { PLAN_INSTALL, 0 }, { PLAN_INSTALL, 2 }, { PLAN_INSTALL, 1 } }, .n_elements = 3 };
        check_plan(__LINE__, &c,
                   "pretrans lib 1 -\n"
                   "pretrans app 1 -\n"
                   "prein lib 1 -\n"
                   "+lib\n"
                   "post lib 1 -\n"
                   "+plug\n"
                   "post plug 1 -\n"
                   /* app: its %triggerprein on lib (installed by the first
                    * element), $1 = app's count before it is added. */
                   "triggerprein app#1 0 1\n"
                   "prein app 1 -\n"
                   "+app\n"
                   "post app 1 -\n"
                   "triggerin plug#0 1 1\n" /* plug's trigger on app: runTriggers */
                   "triggerin app#0 1 1\n"  /* app's own on lib: runImmedTriggers */
                   "posttrans lib 1 -\n"
                   /* app's %transfiletriggerin: every file of the database
                    * under /usr/lib, package by package in install order. */
                   "transfiletriggerin app#0 0 -\n"
                   "  /usr/lib/liba.so\n"
                   "  /usr/lib/plug/p.so\n",
                   NULL);
        case_release(&c);
}

/* Triggers of installed packages set off by a new one and the other way
 * round, with versions: the first matching trigger of a pair runs. */
static void test_installed_triggers(void) {
        Pkg old = { "old", "1", { "/etc/old" }, .installed = true,
                    .trig = { { 0, IN, { "new" }, "2", RPMSENSE_GREATER | RPMSENSE_EQUAL, .body = "x" },
                              { 0, IN, { "new" }, .body = "x" },
                              { 0, IN, { "new" }, .body = "x" } } };
        Pkg other = { "other", "1", { "/etc/other" }, .installed = true };
        Pkg new = { "new", "1", { "/etc/new" }, .trig = { { 0, IN, { "other", "old" }, .body = "x" } } };
        Case c = { .installed = { make(&old, NULL), make(&other, NULL) }, .n_installed = 2,
                   .packages = { make(&new, NULL) }, .n_packages = 1,
                   .elements = { { PLAN_INSTALL, 0 } }, .n_elements = 1 };
        check_plan(__LINE__, &c,
                   "+new\n"
                   "triggerin old#1 1 1\n" /* new-1 is not >= 2: the next one on new */
                   "triggerin new#0 1 1\n" /* once, though both other and old set it off */
                   , NULL);
        case_release(&c);
}

/* An upgrade: the new instance installed first, the old one erased after
 * every install, and their counts; a program alone gets no arguments. */
static void test_upgrade(void) {
        Pkg v1 = { "foo", "1", { "/usr/lib/foo.so", "/usr/lib/old.so" }, .installed = true, .preun = "x", .postun = "x",
                   .trig = { { 1, UN, { "/usr/lib" }, .body = "x" }, { 1, POSTUN, { "/usr/lib" }, .body = "x" } } };
        Pkg watcher = { "watcher", "1", { "/etc/w" }, .installed = true,
                        .trig = { { 0, UN, { "foo" }, .body = "x" }, { 0, POSTUN, { "foo" }, .body = "x" },
                                  { 0, IN, { "foo" }, .body = "x" } } };
        Pkg v2 = { "foo", "2", { "/usr/lib/foo.so" }, .pre = "x", .post_prog = "/sbin/ldconfig", .posttrans = "x",
                   .pretrans = "x" };
        Case c = { .installed = { make(&v1, NULL), make(&watcher, NULL) }, .n_installed = 2,
                   .packages = { make(&v2, NULL) }, .n_packages = 1,
                   .elements = { { PLAN_INSTALL, 0 } }, .n_elements = 1 };
        Plan p = {};
        check_plan(__LINE__, &c,
                   "pretrans foo 2 -\n"
                   "prein foo 2 -\n"
                   "+foo\n"
                   "post foo - -\n" /* -p /sbin/ldconfig alone: no $1 */
                   "triggerin watcher#2 1 2\n"
                   /* foo-1's own file triggers see the whole database but
                    * its own files shared with foo-2 only through foo-2; as
                    * a trigger of an installed package set off by foo-1,
                    * only foo-1's files that foo-2 does not have count. */
                   "filetriggerun foo#0 0 -\n"
                   "  /usr/lib/foo.so\n"
                   "  /usr/lib/old.so\n"
                   "  /usr/lib/foo.so\n"
                   "filetriggerun foo#0 0 -\n"
                   "  /usr/lib/old.so\n"
                   "triggerun watcher#0 1 1\n"
                   "preun foo 1 -\n"
                   "-foo\n"
                   "filetriggerpostun foo#1 0 -\n"
                   "  /usr/lib/old.so\n"
                   "postun foo 1 -\n"
                   "triggerpostun watcher#1 1 1\n"
                   "posttrans foo 2 -\n", /* the count now, +1 for an upgrade */
                   &p);
        /* The erasure is part of the upgrade's element; REMOVE names it. */
        for (size_t i = 0; i < p.n_steps; i++)
                CHECK(p.steps[i].element == 0);
        for (size_t i = 0; i < p.n_steps; i++)
                if (p.steps[i].type == PLAN_STEP_REMOVE)
                        CHECK(p.steps[i].package == 0);
        /* A program alone: argv is the program, no body. */
        for (size_t i = 0; i < p.n_steps; i++)
                if (p.steps[i].type == PLAN_STEP_SCRIPT && p.steps[i].script.kind == SCRIPT_POST) {
                        CHECK_STREQ(p.steps[i].script.argv[0], "/sbin/ldconfig");
                        CHECK(p.steps[i].script.argv[1] == NULL && !p.steps[i].script.body);
                        CHECK(!(p.steps[i].script.flags & RPMSCRIPT_FLAG_CRITICAL));
                } else if (p.steps[i].type == PLAN_STEP_SCRIPT && p.steps[i].script.kind == SCRIPT_PRE) {
                        CHECK_STREQ(p.steps[i].script.argv[0], "/bin/sh");
                        CHECK_STREQ(p.steps[i].script.body, "x");
                        CHECK(p.steps[i].script.flags & RPMSCRIPT_FLAG_CRITICAL);
                }
        plan_release(&p);
        case_release(&c);
}

/* An erase: $1 is what remains; others' triggers get both counts; the
 * file triggers of others see the erased files before and after; the
 * %transfiletriggerpostun of a package that stays runs at the end. */
static void test_erase(void) {
        Pkg gone = { "gone", "1", { "/usr/share/gone/a", "/usr/share/gone/b" }, .installed = true, .preun = "x", .postun = "x" };
        Pkg stays = { "stays", "1", { "/etc/s" }, .installed = true,
                      .trig = { { 0, UN, { "gone" }, .body = "x" }, { 0, POSTUN, { "gone" }, .body = "x" },
                                { 1, UN, { "/usr/share/gone/b" }, .priority = 100, .body = "x" },
                                { 1, UN, { "/usr/share" }, .body = "x" }, { 2, POSTUN, { "/usr/share" }, .body = "x" },
                                { 2, UN, { "/usr/share/gone" }, .body = "x" } } };
        Case c = { .installed = { make(&stays, NULL), make(&gone, NULL) }, .n_installed = 2,
                   .elements = { { PLAN_ERASE, 1 } }, .n_elements = 1 };
        check_plan(__LINE__, &c,
                   "transfiletriggerun stays#1 0 -\n"
                   "  /usr/share/gone/a\n"
                   "  /usr/share/gone/b\n"
                   "filetriggerun stays#1 0 -\n" /* priority 1000000: before %preun */
                   "  /usr/share/gone/a\n"
                   "  /usr/share/gone/b\n"
                   "triggerun stays#0 1 0\n"
                   "preun gone 0 -\n"
                   "filetriggerun stays#0 0 -\n" /* priority 100: after it */
                   "  /usr/share/gone/b\n"
                   "-gone\n"
                   "postun gone 0 -\n"
                   "triggerpostun stays#1 1 0\n"
                   "transfiletriggerpostun stays#0 0 -\n",
                   NULL);
        case_release(&c);
}

/* File trigger priorities around %post, prefixes as plain string prefixes
 * ("/usr/lib" takes "/usr/lib64/..."), a file under two prefixes of one
 * trigger given twice, Lua and program-only triggers. */
static void test_file_triggers(void) {
        Pkg watch = { "watch", "1", { "/etc/w" }, .installed = true,
                      .trig = { { 1, IN, { "/usr/lib64" }, .priority = 10, .body = "x" },
                                { 1, IN, { "/usr/lib" }, .priority = 20000, .prog = "<lua>", .body = "print(1)" },
                                { 1, IN, { "/usr/lib64", "/usr/lib" }, .priority = 20000, .prog = "/sbin/ldconfig" },
                                { 1, IN, { "/usr/lib/" }, .priority = 9999, .body = "x" },
                                { 1, IN, { "/usr/lib" }, .priority = 30000, .body = "x" } } };
        Pkg lib = { "lib", "1", { "/usr/lib/a.so", "/usr/lib64/b.so", "/usr/libexec/c" }, .post = "x" };
        Case c = { .installed = { make(&watch, NULL) }, .n_installed = 1, .packages = { make(&lib, NULL) }, .n_packages = 1,
                   .elements = { { PLAN_INSTALL, 0 } }, .n_elements = 1 };
        Plan p = {};
        check_plan(__LINE__, &c,
                   "+lib\n"
                   "filetriggerin watch#4 0 -\n" /* 30000 */
                   "  /usr/lib/a.so\n"
                   "  /usr/lib64/b.so\n"
                   "  /usr/libexec/c\n"
                   "filetriggerin watch#1 0 -\n" /* 20000, lower index first */
                   "  /usr/lib/a.so\n"
                   "  /usr/lib64/b.so\n"
                   "  /usr/libexec/c\n"
                   "filetriggerin watch#2 0 -\n"
                   "  /usr/lib64/b.so\n"
                   "  /usr/lib/a.so\n"
                   "  /usr/lib64/b.so\n"
                   "  /usr/libexec/c\n"
                   "post lib 1 -\n"
                   "filetriggerin watch#3 0 -\n" /* 9999: after %post */
                   "  /usr/lib/a.so\n"
                   "filetriggerin watch#0 0 -\n"
                   "  /usr/lib64/b.so\n",
                   &p);
        for (size_t i = 0; i < p.n_steps; i++) {
                const PlanScript *s = &p.steps[i].script;
                if (p.steps[i].type != PLAN_STEP_SCRIPT || s->kind != SCRIPT_FILETRIGGERIN)
                        continue;
                if (s->trigger_index == 1) {
                        CHECK(s->lua && s->arg1 == 0 && s->arg2 == -1);
                        CHECK_STREQ(s->body, "print(1)");
                } else if (s->trigger_index == 2) {
                        /* A trigger's program alone still gets its (empty)
                         * body file and $1. */
                        CHECK_STREQ(s->argv[0], "/sbin/ldconfig");
                        CHECK_STREQ(s->body, "");
                        CHECK(s->arg1 == 0 && !s->lua);
                }
                CHECK(s->input && s->input_size == strlen(s->input));
                CHECK(s->cause == 0);
        }
        plan_release(&p);
        case_release(&c);
}

/* A new package's own %filetriggerin runs twice, as in rpm: once as a
 * trigger in the database set off by its files, once against the
 * database, where its own files are not seen (rpm reads them from memory,
 * without states: lib/rpmtriggers.c rpmtsNextFiles()). */
static void test_own_file_trigger(void) {
        Pkg other = { "other", "1", { "/usr/lib/o.so" }, .installed = true };
        Pkg self = { "self", "1", { "/usr/lib/s.so" }, .trig = { { 1, IN, { "/usr/lib" }, .body = "x" } } };
        Case c = { .installed = { make(&other, NULL) }, .n_installed = 1, .packages = { make(&self, NULL) },
                   .n_packages = 1, .elements = { { PLAN_INSTALL, 0 } }, .n_elements = 1 };
        check_plan(__LINE__, &c,
                   "+self\n"
                   "filetriggerin self#0 0 -\n"
                   "  /usr/lib/s.so\n"
                   "filetriggerin self#0 0 -\n"
                   "  /usr/lib/o.so\n",
                   NULL);
        case_release(&c);
}

static void bad_trigger_index(RpmHeaderBuilder *b) {
        rpm_header_add_u32(b, RPMTAG_TRIGGERINDEX, 5);
}

static void bad_priorities(RpmHeaderBuilder *b) {
        uint32_t v[2] = { 1, 2 };
        rpm_header_add_int32(b, RPMTAG_FILETRIGGERPRIORITIES, v, 2);
}

static void bad_flags(RpmHeaderBuilder *b) {
        uint32_t v[2] = { IN, IN };
        rpm_header_add_int32(b, RPMTAG_TRIGGERFLAGS, v, 2);
}

/* Inconsistent trigger arrays are refused, naming package and tag. */
static void test_bad_headers(void) {
        Pkg p = { "bad", "1", { "/etc/bad" }, .trig = { { 0, IN, { "x" }, .body = "x" }, { 1, IN, { "/etc" }, .body = "x" } } };
        struct {
                void (*modify)(RpmHeaderBuilder *);
                const char *error;
        } cases[] = {
                { bad_trigger_index, "package bad-1-1.noarch: TRIGGERINDEX 5 is out of range (1 scripts)" },
                { bad_priorities, "package bad-1-1.noarch: FILETRIGGERSCRIPTS has 1 entries but its PRIORITIES has 2" },
                { bad_flags, "package bad-1-1.noarch: TRIGGERNAME has 1 entries but its FLAGS has 2" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Case c = { .packages = { make(&p, cases[i].modify) }, .n_packages = 1,
                           .elements = { { PLAN_INSTALL, 0 } }, .n_elements = 1 };
                Plan plan = { .n_steps = 12345 };
                char *error = NULL;
                CHECK(build_plan(&c, &plan, &error) == -EBADMSG);
                CHECK_STREQ(error, cases[i].error);
                CHECK(plan.n_steps == 12345); /* untouched */
                free(error);
                case_release(&c);
        }
}

static void expand_flag(RpmHeaderBuilder *b) {
        rpm_header_add_u32(b, RPMTAG_POSTINFLAGS, RPMSCRIPT_FLAG_EXPAND);
}

static void test_warnings_and_detection(void) {
        Pkg p = { "exp", "1", { "/etc/e" }, .post = "%{foo}" };
        Case c = { .packages = { make(&p, expand_flag) }, .n_packages = 1, .elements = { { PLAN_INSTALL, 0 } }, .n_elements = 1 };
        Plan plan = {};
        check_plan(__LINE__, &c, "+exp\npost exp 1 -\n", &plan);
        CHECK(plan.n_warnings == 1);
        if (plan.n_warnings == 1)
                CHECK(strstr(plan.warnings[0], "package exp-1-1.noarch: %post: macro expansion") == plan.warnings[0]);
        plan_release(&plan);

        Pkg none = { "none", "1", { "/etc/n" }, .pre = NULL }, preun = { "preun", "1", .preun = "x" },
            prog = { "prog", "1", .post_prog = "/sbin/ldconfig" }, trig = { "trig", "1", .trig = { { .mode = 2, .sense = IN, .names = { "/" } } } };
        RpmHeader *h[4] = { make(&none, NULL), make(&preun, NULL), make(&prog, NULL), make(&trig, NULL) };
        CHECK(!header_has_scriptlets(h[0]));
        CHECK(header_has_scriptlets(h[1]));
        CHECK(header_has_scriptlets(h[2]));
        CHECK(header_has_scriptlets(h[3]));
        for (size_t i = 0; i < 4; i++)
                rpm_header_free(h[i]);
        case_release(&c);

        CHECK_STREQ(script_kind_to_string(SCRIPT_PRE), "%prein");
        CHECK_STREQ(script_kind_to_string(SCRIPT_TRANSFILETRIGGERPOSTUN), "%transfiletriggerpostun");
        CHECK(script_kind_to_string(_SCRIPT_KIND_MAX) == NULL);
}

UNIT_MAIN(test_fresh_install, test_installed_triggers, test_upgrade, test_erase, test_file_triggers, test_own_file_trigger,
          test_bad_headers,
          test_warnings_and_detection)
