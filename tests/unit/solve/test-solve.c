/* SPDX-License-Identifier: MIT */

/* Dependency resolution through libsolv: small primary.xml documents written
 * here, the packages chosen and their order, and the exact wording of every
 * kind of problem. */

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/diag.h"
#include "basic/strbuf.h"
#include "solve/solve.h"
#include "../unit.h"

/* Capabilities inside <format>. */
#define ENTRY(n) "<rpm:entry name=\"" n "\"/>"
#define ENTRY_V(n, f, v) "<rpm:entry name=\"" n "\" flags=\"" f "\" epoch=\"0\" ver=\"" v "\"/>"
#define REQUIRES(x) "<rpm:requires>" x "</rpm:requires>"
#define CONFLICTS(x) "<rpm:conflicts>" x "</rpm:conflicts>"
#define PROVIDES(x) "<rpm:provides>" x "</rpm:provides>"
#define RECOMMENDS(x) "<rpm:recommends>" x "</rpm:recommends>"
#define SUPPLEMENTS(x) "<rpm:supplements>" x "</rpm:supplements>"
#define FILE_(p) "<file>" p "</file>"

/* A fake but stable sha256 for a package: its NEVRA hashed (FNV-1a) and
 * repeated to 64 hex digits. */
static void fake_digest(const char *name, const char *ver, const char *rel, const char *arch, char out[65]) {
        uint32_t h = 2166136261u;
        const char *parts[] = { name, "-", ver, "-", rel, ".", arch };
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                for (const char *p = parts[i]; *p; p++)
                        h = (h ^ (uint8_t) *p) * 16777619u;
        for (int i = 0; i < 8; i++)
                snprintf(out + 8 * i, 9, "%08x", h);
}

/* One <package>; format holds what goes into <format> after the package's
 * own provides. */
static void add_pkg(StrBuf *sb, const char *name, const char *arch, const char *ver, const char *rel,
                    const char *format) {
        char digest[65];
        fake_digest(name, ver, rel, arch, digest);
        strbuf_printf(sb,
                      "<package type=\"rpm\">\n"
                      "  <name>%s</name>\n"
                      "  <arch>%s</arch>\n"
                      "  <version epoch=\"0\" ver=\"%s\" rel=\"%s\"/>\n"
                      "  <checksum type=\"sha256\" pkgid=\"YES\">%s</checksum>\n"
                      "  <summary>%s</summary>\n"
                      "  <location href=\"Packages/%s-%s-%s.%s.rpm\"/>\n"
                      "  <format>\n"
                      "    <rpm:provides><rpm:entry name=\"%s\" flags=\"EQ\" epoch=\"0\" ver=\"%s\" rel=\"%s\"/>"
                      "</rpm:provides>\n"
                      "    %s\n"
                      "  </format>\n"
                      "</package>\n",
                      name, arch, ver, rel, digest, name, name, ver, rel, arch, name, ver, rel, format);
}

typedef struct Pkg {
        const char *name, *arch, *ver, *rel, *format;
} Pkg;

#define PKG(n, a, v, r, ...) ((Pkg) { n, a, v, r, "" __VA_ARGS__ })

static char *primary_of(const Pkg *pkgs, size_t n) {
        StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" "
                      "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%zu\">\n",
                      n);
        for (size_t i = 0; i < n; i++)
                add_pkg(&sb, pkgs[i].name, pkgs[i].arch, pkgs[i].ver, pkgs[i].rel, pkgs[i].format);
        strbuf_puts(&sb, "</metadata>\n");
        return strbuf_detach(&sb, NULL);
}

/* A call's inputs and outputs, so each test reads as data. */
typedef struct Run {
        char *primary[2];
        SolveRepo repos[2];
        size_t n_repos;
        Diagnostics d;
        SolvedPackage *pkgs;
        size_t n;
        int r;
} Run;

#define REPO(run, idx, nm, prio, ...)                                                       \
        do {                                                                                \
                const Pkg _p_[] = { __VA_ARGS__ };                                          \
                (run)->primary[idx] = primary_of(_p_, ELEMENTSOF(_p_));                     \
                (run)->repos[idx] = (SolveRepo) { .name = nm,                               \
                                                  .primary = (run)->primary[idx],           \
                                                  .primary_len = strlen((run)->primary[idx]), \
                                                  .priority = prio };                       \
                if ((run)->n_repos < (idx) + 1)                                             \
                        (run)->n_repos = (idx) + 1;                                         \
        } while (0)

static void solve_specs(Run *run, const char *arch, const char *const *specs, size_t n_specs) {
        SolveRequest req = { .image = "vm", .specs = specs, .n_specs = n_specs, .arch = arch };
        solved_packages_free(run->pkgs, run->n);
        diagnostics_release(&run->d);
        run->pkgs = NULL;
        run->n = 0;
        run->r = solve_image(run->repos, run->n_repos, &req, &run->d, &run->pkgs, &run->n);
}

#define SOLVE(run, arch, ...)                                                               \
        do {                                                                                \
                const char *const _s_[] = { __VA_ARGS__ };                                  \
                solve_specs(run, arch, _s_, ELEMENTSOF(_s_));                               \
        } while (0)

static void run_release(Run *run) {
        solved_packages_free(run->pkgs, run->n);
        diagnostics_release(&run->d);
        for (size_t i = 0; i < ELEMENTSOF(run->primary); i++)
                free(run->primary[i]);
}

/* The result as "name-evr.arch@repo" joined by spaces, for one-line checks. */
static char *result_str(const Run *run) {
        StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < run->n; i++)
                strbuf_printf(&sb, "%s%s-%s.%s@%zu", i ? " " : "", run->pkgs[i].name, run->pkgs[i].evr,
                              run->pkgs[i].arch, run->pkgs[i].repo);
        return strbuf_detach(&sb, NULL);
}

#define CHECK_RESULT(run, want)                                                             \
        do {                                                                                \
                char *_got_ = result_str(run);                                              \
                CHECK((run)->r == 0);                                                       \
                CHECK((run)->d.n == 0);                                                     \
                CHECK_STREQ(_got_, want);                                                   \
                free(_got_);                                                                \
        } while (0)

static const char *message(const Run *run, size_t i) {
        return i < run->d.n ? run->d.items[i].message : NULL;
}

static void test_chain_order(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("a", "noarch", "1", "1", REQUIRES(ENTRY("b"))),
             PKG("b", "x86_64", "2.0", "3", REQUIRES(ENTRY_V("c", "GE", "1"))),
             PKG("c", "noarch", "1", "1"),
             PKG("unrelated", "noarch", "1", "1"));
        SOLVE(&run, "x86_64", "a");
        CHECK_RESULT(&run, "c-1-1.noarch@0 b-2.0-3.x86_64@0 a-1-1.noarch@0");
        if (run.n == 3) {
                char digest[65];
                fake_digest("b", "2.0", "3", "x86_64", digest);
                CHECK_STREQ(run.pkgs[1].location, "Packages/b-2.0-3.x86_64.rpm");
                CHECK_STREQ(run.pkgs[1].checksum_type, "sha256");
                CHECK_STREQ(run.pkgs[1].checksum, digest);
                CHECK_STREQ(run.pkgs[0].location, "Packages/c-1-1.noarch.rpm");
        }

        /* The same inputs give the same answer. */
        char *first = result_str(&run);
        SOLVE(&run, "x86_64", "a");
        char *second = result_str(&run);
        CHECK_STREQ(first, second);
        free(first);
        free(second);

        /* Nothing asked, nothing installed. */
        solve_specs(&run, "x86_64", NULL, 0);
        CHECK(run.r == 0 && run.n == 0 && run.d.n == 0);
        run_release(&run);
}

static void test_versions(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("x", "noarch", "1", "1"),
             PKG("x", "noarch", "2", "1"),
             PKG("x", "noarch", "3", "1"),
             PKG("y", "noarch", "1", "1", REQUIRES(ENTRY_V("x", "LT", "3"))),
             PKG("z", "noarch", "1", "1", REQUIRES(ENTRY_V("x", "LE", "1"))));
        SOLVE(&run, "x86_64", "x");
        CHECK_RESULT(&run, "x-3-1.noarch@0");
        SOLVE(&run, "x86_64", "y");
        CHECK_RESULT(&run, "x-2-1.noarch@0 y-1-1.noarch@0");
        SOLVE(&run, "x86_64", "z");
        CHECK_RESULT(&run, "x-1-1.noarch@0 z-1-1.noarch@0");
        SOLVE(&run, "x86_64", "x < 3");
        CHECK_RESULT(&run, "x-2-1.noarch@0");
        SOLVE(&run, "x86_64", "x = 1-1");
        CHECK_RESULT(&run, "x-1-1.noarch@0");
        SOLVE(&run, "x86_64", "x >= 2");
        CHECK_RESULT(&run, "x-3-1.noarch@0");
        run_release(&run);
}

static void test_priorities(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("tool", "noarch", "2", "1", REQUIRES(ENTRY("base"))),
             PKG("base", "noarch", "1", "1"));
        REPO(&run, 1, "pinned", 10,
             PKG("tool", "noarch", "1", "1", REQUIRES(ENTRY("base"))));
        /* The higher priority wins over the higher version. */
        SOLVE(&run, "x86_64", "tool");
        CHECK_RESULT(&run, "base-1-1.noarch@0 tool-1-1.noarch@1");
        run.repos[1].priority = -10;
        SOLVE(&run, "x86_64", "tool");
        CHECK_RESULT(&run, "base-1-1.noarch@0 tool-2-1.noarch@0");
        run_release(&run);
}

static void test_arch(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("tool", "x86_64", "1", "1", REQUIRES(ENTRY("data") ENTRY("libt"))),
             PKG("tool", "aarch64", "2", "1", REQUIRES(ENTRY("data") ENTRY("libt"))),
             PKG("libt", "x86_64", "1", "1"),
             PKG("libt", "aarch64", "1", "1"),
             PKG("libt", "i686", "5", "1"),
             PKG("data", "noarch", "1", "1"),
             PKG("armonly", "aarch64", "1", "1"),
             PKG("oldonly", "i686", "1", "1"));
        SOLVE(&run, "x86_64", "tool");
        CHECK_RESULT(&run, "libt-1-1.x86_64@0 data-1-1.noarch@0 tool-1-1.x86_64@0");
        SOLVE(&run, "aarch64", "tool");
        CHECK_RESULT(&run, "libt-1-1.aarch64@0 data-1-1.noarch@0 tool-2-1.aarch64@0");

        /* Only the project's architecture: not aarch64 on x86_64, and not the
         * i686 that pool_setarch() would admit. */
        SOLVE(&run, "x86_64", "armonly", "oldonly");
        CHECK(run.r == -EINVAL);
        CHECK(run.d.n == 2 && run.d.n_errors == 2);
        CHECK_STREQ(message(&run, 0), "image 'vm': no package provides 'armonly'");
        CHECK_STREQ(message(&run, 1), "image 'vm': no package provides 'oldonly'");
        CHECK(run.pkgs == NULL && run.n == 0);
        run_release(&run);
}

static void test_files(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("script", "noarch", "1", "1", REQUIRES(ENTRY("/usr/bin/sh"))),
             PKG("bash", "x86_64", "5.2", "1", FILE_("/usr/bin/bash") FILE_("/usr/bin/sh")),
             PKG("tcsh", "x86_64", "6", "1", FILE_("/usr/bin/tcsh")));
        SOLVE(&run, "x86_64", "script");
        CHECK_RESULT(&run, "bash-5.2-1.x86_64@0 script-1-1.noarch@0");
        /* A path as a spec, whether or not anything requires it. */
        SOLVE(&run, "x86_64", "/usr/bin/sh");
        CHECK_RESULT(&run, "bash-5.2-1.x86_64@0");
        SOLVE(&run, "x86_64", "/usr/bin/tcsh");
        CHECK_RESULT(&run, "tcsh-6-1.x86_64@0");
        SOLVE(&run, "x86_64", "/usr/bin/zsh");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0), "image 'vm': no package provides '/usr/bin/zsh'");
        run_release(&run);
}

static void test_weak_deps(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("app", "noarch", "1", "1", RECOMMENDS(ENTRY("docs"))),
             PKG("docs", "noarch", "1", "1"),
             PKG("plugin", "noarch", "1", "1", SUPPLEMENTS(ENTRY("app"))));
        SOLVE(&run, "x86_64", "app");
        CHECK_RESULT(&run, "app-1-1.noarch@0");
        run_release(&run);
}

static void test_provides(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("openssh", "x86_64", "9", "1", PROVIDES(ENTRY_V("ssh", "EQ", "9")) REQUIRES(ENTRY("libcrypto.so.3()(64bit)"))),
             PKG("openssl-libs", "x86_64", "3.0", "1", PROVIDES(ENTRY("libcrypto.so.3()(64bit)"))));
        SOLVE(&run, "x86_64", "ssh >= 8");
        CHECK_RESULT(&run, "openssl-libs-3.0-1.x86_64@0 openssh-9-1.x86_64@0");
        SOLVE(&run, "x86_64", "ssh >= 10");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0), "image 'vm': no package provides 'ssh >= 10'");
        run_release(&run);
}

static void test_missing_spec(void) {
        Run run = {};
        REPO(&run, 0, "project", 0, PKG("a", "noarch", "1", "1"));
        SolvedPackage *sentinel = (SolvedPackage *) &run;
        run.pkgs = sentinel;
        SolveRequest req = { .image = "vm", .specs = (const char *const[]) { "a", "foo" }, .n_specs = 2, .arch = "x86_64" };
        size_t n = 7;
        CHECK(solve_image(run.repos, run.n_repos, &req, &run.d, &run.pkgs, &n) == -EINVAL);
        CHECK(run.pkgs == sentinel && n == 7); /* untouched on failure */
        run.pkgs = NULL;
        CHECK(run.d.n == 1 && run.d.items[0].level == DIAG_ERROR && !run.d.items[0].file);
        CHECK_STREQ(message(&run, 0), "image 'vm': no package provides 'foo'");
        run_release(&run);
}

/* What buildroots use: a subject of their own in messages, and
 * solve_provided() for the checks before any build. */
static void test_buildroot_uses(void) {
        Run run = {};
        REPO(&run, 0, "toolchain", 0,
             PKG("gcc", "x86_64", "12", "1", PROVIDES(ENTRY_V("cc", "EQ", "12")) FILE_("/usr/bin/gcc")),
             PKG("libc6-dev", "x86_64", "2.36", "1", PROVIDES(ENTRY("glibc-devel"))));
        SolveRequest req = { .image = "hello", .subject = "buildroot of component 'hello'",
                             .specs = (const char *const[]) { "gcc", "nope" }, .n_specs = 2, .arch = "x86_64" };
        CHECK(solve_image(run.repos, run.n_repos, &req, &run.d, &run.pkgs, &run.n) == -EINVAL);
        CHECK(run.d.n == 1);
        CHECK_STREQ(message(&run, 0), "buildroot of component 'hello': no package provides 'nope'");

        const char *const specs[] = { "gcc", "glibc-devel", "cc >= 11", "cc >= 13", "/usr/bin/gcc", "/usr/bin/no", "x" };
        bool have[ELEMENTSOF(specs)];
        Diagnostics d = {};
        CHECK(solve_provided(run.repos, run.n_repos, "x86_64", specs, ELEMENTSOF(specs), &d, have) == 0);
        CHECK(have[0] && have[1] && have[2] && !have[3] && have[4] && !have[5] && !have[6]);
        CHECK(d.n == 0);
        diagnostics_release(&d);
        run_release(&run);
}

static void test_missing_dependency(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("top", "noarch", "1", "1", REQUIRES(ENTRY("mid"))),
             PKG("mid", "noarch", "1", "1", REQUIRES(ENTRY("bot"))),
             PKG("bot", "x86_64", "1", "1", REQUIRES(ENTRY_V("libfoo", "GE", "2"))),
             PKG("libfoo", "x86_64", "1", "1"),
             PKG("baz", "noarch", "2", "1", REQUIRES(ENTRY("bar"))),
             PKG("bar", "x86_64", "1.0", "1", REQUIRES(ENTRY_V("libfoo", "GE", "2")) FILE_("/usr/bin/bar")));
        SOLVE(&run, "x86_64", "top");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0),
                    "image 'vm': nothing provides 'libfoo >= 2' needed by bot-1-1.x86_64 "
                    "(required by mid-1-1.noarch, required by top-1-1.noarch, which 'top' in packages brings in)");
        SOLVE(&run, "x86_64", "baz");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0),
                    "image 'vm': nothing provides 'libfoo >= 2' needed by bar-1.0-1.x86_64 "
                    "(required by baz-2-1.noarch, which 'baz' in packages brings in)");
        SOLVE(&run, "x86_64", "bar");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0),
                    "image 'vm': nothing provides 'libfoo >= 2' needed by bar-1.0-1.x86_64 "
                    "(which 'bar' in packages asks for)");
        /* A spec is named as written. */
        SOLVE(&run, "x86_64", "/usr/bin/bar");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0),
                    "image 'vm': nothing provides 'libfoo >= 2' needed by bar-1.0-1.x86_64 "
                    "(which '/usr/bin/bar' in packages asks for)");
        run_release(&run);
}

static void test_conflict(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("a", "noarch", "1", "1", CONFLICTS(ENTRY("b"))),
             PKG("b", "noarch", "1", "1"),
             PKG("c", "noarch", "1", "1", REQUIRES(ENTRY("b"))));
        SOLVE(&run, "x86_64", "a", "b");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0), "image 'vm': a-1-1.noarch conflicts with 'b' provided by b-1-1.noarch");
        /* Also when one side comes in as a dependency. */
        SOLVE(&run, "x86_64", "a", "c");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0), "image 'vm': a-1-1.noarch conflicts with 'b' provided by b-1-1.noarch");
        run_release(&run);
}

static void test_other_problem(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("x", "noarch", "1", "1"),
             PKG("x", "noarch", "2", "1"));
        /* Two versions of one package: libsolv's own words, with our prefix. */
        SOLVE(&run, "x86_64", "x = 1", "x = 2");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0), "image 'vm': cannot install both x-2-1.noarch and x-1-1.noarch");
        run_release(&run);
}

static void test_several_problems(void) {
        Run run = {};
        REPO(&run, 0, "project", 0,
             PKG("top", "noarch", "1", "1", REQUIRES(ENTRY("mid"))),
             PKG("mid", "noarch", "1", "1", REQUIRES(ENTRY("gone"))),
             PKG("a", "noarch", "1", "1", CONFLICTS(ENTRY("b"))),
             PKG("b", "noarch", "1", "1"),
             PKG("fine", "noarch", "1", "1"),
             PKG("p1", "noarch", "1", "1", REQUIRES(ENTRY("mid"))),
             PKG("p2", "noarch", "1", "1", REQUIRES(ENTRY("mid"))));
        SOLVE(&run, "x86_64", "fine", "top", "a", "b");
        CHECK(run.r == -EINVAL && run.d.n == 2 && run.d.n_errors == 2);
        CHECK_STREQ(message(&run, 0),
                    "image 'vm': nothing provides 'gone' needed by mid-1-1.noarch "
                    "(required by top-1-1.noarch, which 'top' in packages brings in)");
        CHECK_STREQ(message(&run, 1), "image 'vm': a-1-1.noarch conflicts with 'b' provided by b-1-1.noarch");

        /* Deterministic, messages included. */
        char *first = strdup(message(&run, 0) ? message(&run, 0) : "");
        SOLVE(&run, "x86_64", "fine", "top", "a", "b");
        CHECK_STREQ(message(&run, 0), first);
        free(first);

        /* Missing specs and solver problems together, all reported. */
        SOLVE(&run, "x86_64", "nosuch", "top", "a", "b");
        CHECK(run.r == -EINVAL && run.d.n == 3);
        CHECK_STREQ(message(&run, 0), "image 'vm': no package provides 'nosuch'");

        /* Two specs reaching one broken package: one problem each, each with
         * its own way in. */
        SOLVE(&run, "x86_64", "p1", "p2");
        CHECK(run.r == -EINVAL && run.d.n == 2);
        CHECK_STREQ(message(&run, 0),
                    "image 'vm': nothing provides 'gone' needed by mid-1-1.noarch "
                    "(required by p1-1-1.noarch, which 'p1' in packages brings in)");
        CHECK_STREQ(message(&run, 1),
                    "image 'vm': nothing provides 'gone' needed by mid-1-1.noarch "
                    "(required by p2-1-1.noarch, which 'p2' in packages brings in)");
        run_release(&run);
}

static void test_bad_input(void) {
        Run run = {};
        const char *bad = "<metadata><package><name>a</name";
        run.repos[0] = (SolveRepo) { .name = "broken", .primary = bad, .primary_len = strlen(bad) };
        run.repos[1] = (SolveRepo) { .name = "empty", .primary = "", .primary_len = 0 };
        run.n_repos = 2;
        SOLVE(&run, "x86_64", "a");
        CHECK(run.r == -EBADMSG && run.d.n == 1);
        CHECK(message(&run, 0) && strncmp(message(&run, 0), "repository 'broken': cannot read primary.xml: ", 46) == 0);

        /* An empty repository is no error; its packages just are not there. */
        run.repos[0] = run.repos[1];
        SOLVE(&run, "x86_64", "a");
        CHECK(run.r == -EINVAL && run.d.n == 1);
        CHECK_STREQ(message(&run, 0), "image 'vm': no package provides 'a'");

        SolveRequest req = { .image = "vm", .arch = NULL };
        CHECK(solve_image(run.repos, run.n_repos, &req, &run.d, &run.pkgs, &run.n) == -EINVAL);
        solved_packages_free(NULL, 0);
        run_release(&run);
}

UNIT_MAIN(test_chain_order, test_versions, test_priorities, test_arch, test_files, test_weak_deps,
          test_provides, test_missing_spec, test_buildroot_uses, test_missing_dependency, test_conflict, test_other_problem,
          test_several_problems, test_bad_input)
