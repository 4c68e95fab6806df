/* SPDX-License-Identifier: MIT */

/* Overlays (src/upstream/overlay.c): every kind on a spec and files in a
 * temporary tree, compared with the expected text byte for byte; every
 * failure with its message and the position of its key; archive overlays
 * on archives made here; check-skip; the Release change. */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "config/project.h"
#include "upstream/upstream.h"
#include "../unit.h"

static const char base_spec[] =
        "Name:           hello\n"
        "Version:        1.0\n"
        "Release:        3%{?dist}\n"
        "Summary:        Hello\n"
        "License:        MIT\n"
        "Source0:        hello-1.0.tar.gz\n"
        "Source1:        hello.conf\n"
        "Patch0:         fix-build.patch\n"
        "BuildRequires:  gcc\n"
        "BuildRequires:  make\n"
        "%if %{with docs}\n"
        "BuildRequires:  pandoc\n"
        "%endif\n"
        "\n"
        "%description\n"
        "Says hello.\n"
        "\n"
        "%package devel\n"
        "Summary:        Headers\n"
        "Requires:       %{name} = %{version}-%{release}\n"
        "\n"
        "%description devel\n"
        "Headers.\n"
        "\n"
        "%package -n libhello\n"
        "Summary:        Library\n"
        "\n"
        "%description -n libhello\n"
        "The library.\n"
        "\n"
        "%prep\n"
        "%autosetup -p1\n"
        "\n"
        "%build\n"
        "%configure --enable-foo --disable-bar\n"
        "make %{?_smp_mflags}\n"
        "\n"
        "%install\n"
        "%make_install\n"
        "\n"
        "%check\n"
        "make check\n"
        "\n"
        "%post -n libhello -p /sbin/ldconfig\n"
        "\n"
        "%files\n"
        "/usr/bin/hello\n"
        "\n"
        "%files devel\n"
        "/usr/include/hello.h\n"
        "\n"
        "%files -n libhello -f libs.list\n"
        "/usr/lib/libhello.so.1\n"
        "\n"
        "%changelog\n"
        "* Mon Jan 01 2024 A <a@b> - 1.0-3\n"
        "- Build\n";

/* The header of every project: the component's table starts at line 6, so
 * its keys (given to run()) start at line 7. */
static const char toml_head[] = "[project]\n"
                                "name = \"t\"\n"
                                "version = \"1\"\n"
                                "[distro]\n"
                                "dist-git = \"file:///x/$pkg.git\"\n"
                                "[components.hello]\n";

static char *tree_new(void) {
        char t[] = "/tmp/test-overlay-XXXXXX";
        CHECK(mkdtemp(t) != NULL);
        return strdup(t);
}

static void tree_free(char *dir) {
        (void) rm_rf(dir);
        free(dir);
}

static void put(const char *dir, const char *name, const char *text, mode_t mode) {
        char *path = path_join(dir, name), *parent = path_dirname(path);
        CHECK(mkdir_parents(parent, 0755) == 0);
        free(parent);
        CHECK(write_file_atomic(path, text, strlen(text), mode) == 0);
        free(path);
}

static char *get(const char *dir, const char *name) {
        char *path = path_join(dir, name), *data = NULL;
        size_t size;
        if (read_full_file(path, &data, &size) < 0)
                data = NULL;
        free(path);
        return data;
}

static bool exists(const char *dir, const char *name) {
        char *path = path_join(dir, name);
        struct stat st;
        bool r = lstat(path, &st) == 0;
        free(path);
        return r;
}

/* base with from (which must be there once) replaced by to. */
static char *edit(const char *base, const char *from, const char *to) {
        const char *at = strstr(base, from);
        CHECK(at && !strstr(at + 1, from));
        if (!at)
                return strdup(base);
        return strprintf("%.*s%s%s", (int) (at - base), base, to, at + strlen(from));
}

/* Loads the project (its component's keys: keys), with dir as the project
 * directory, and applies the component's overlays to dir/hello.spec. */
static int apply(const char *dir, const char *keys, Diagnostics *d) {
        /* "[[overlays]]" in the tests: the component's. */
        StrBuf b = STRBUF_INIT;
        strbuf_puts(&b, toml_head);
        for (const char *k = keys; *k;) {
                if (strncmp(k, "[[overlays]]", 12) == 0) {
                        strbuf_puts(&b, "[[components.hello.overlays]]");
                        k += 12;
                } else
                        strbuf_putc(&b, *k++);
        }
        char *toml = strbuf_detach(&b, NULL);
        Diagnostics ld = {};
        Project *p = NULL;
        int r = project_load_buffer(toml, strlen(toml), "p.toml", &ld, &p);
        if (r < 0) {
                for (size_t i = 0; i < ld.n; i++)
                        fprintf(stderr, "load: %u:%u: %s\n", ld.items[i].line, ld.items[i].column,
                                ld.items[i].message);
                CHECK(r == 0);
                diagnostics_release(&ld);
                free(toml);
                return r;
        }
        free(p->dir);
        p->dir = strdup(dir);
        r = overlays_apply(p, &p->components.items[0], dir, "hello.spec", d);
        project_free(p);
        diagnostics_release(&ld);
        free(toml);
        return r;
}

/* Applies keys to a tree holding spec; the result must be expect exactly. */
static void spec_case(const char *spec, const char *keys, const char *expect, int line) {
        char *dir = tree_new(), *out;
        Diagnostics d = {};
        put(dir, "hello.spec", spec, 0644);
        int r = apply(dir, keys, &d);
        if (r != 0 || d.n != 0) {
                fprintf(stderr, "line %d: r=%d\n", line, r);
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "  %u:%u: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
        }
        CHECK(r == 0 && d.n == 0);
        out = get(dir, "hello.spec");
        if (!out || strcmp(out, expect) != 0)
                fprintf(stderr, "line %d: got:\n%s---- expected:\n%s----\n", line, out ? out : "(null)", expect);
        CHECK(out && strcmp(out, expect) == 0);
        free(out);
        diagnostics_release(&d);
        tree_free(dir);
}
#define SPEC_CASE(spec, keys, expect) spec_case(spec, keys, expect, __LINE__)

/* Applies keys; there must be exactly one error, message at line:column,
 * and the spec must be as it was. */
static void error_case(const char *spec, const char *keys, const char *message, unsigned line, unsigned column,
                       int src_line) {
        char *dir = tree_new(), *out;
        Diagnostics d = {};
        put(dir, "hello.spec", spec, 0644);
        int r = apply(dir, keys, &d);
        CHECK(r == -EINVAL);
        CHECK(d.n == 1);
        if (d.n != 1 || strcmp(d.items[0].message, message) != 0 || d.items[0].line != line ||
            d.items[0].column != column) {
                fprintf(stderr, "line %d: r=%d, expected %u:%u: %s\n", src_line, r, line, column, message);
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "  got %u:%u: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
        }
        if (d.n >= 1) {
                CHECK_STREQ(d.items[0].message, message);
                CHECK(d.items[0].line == line && d.items[0].column == column);
                CHECK_STREQ(d.items[0].file, "p.toml");
        }
        out = get(dir, "hello.spec");
        CHECK(out && strcmp(out, spec) == 0);
        free(out);
        diagnostics_release(&d);
        tree_free(dir);
}
#define ERROR_CASE(spec, keys, message, line, column) error_case(spec, keys, message, line, column, __LINE__)

/* ---- tags ------------------------------------------------------------------------------ */

static void test_tags(void) {
        char *e;

        /* add: at the end of the preamble (after the %if block), a value
         * trimmed; a repeatable tag with a new value is fine. */
        e = edit(base_spec, "%endif\n\n%description\n", "%endif\nBuildRequires: zlib-devel\n\n%description\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-add-tag\"\ntag = \"BuildRequires\"\nvalue = \"  zlib-devel \"\n", e);
        free(e);
        /* ... of a sub-package: at the end of its %package section. */
        e = edit(base_spec, "%{release}\n\n%description devel", "%{release}\nProvides: hello-headers\n\n%description devel");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-add-tag\"\npackage = \"devel\"\ntag = \"Provides\"\nvalue = \"hello-headers\"\n",
                  e);
        free(e);
        e = edit(base_spec, "Summary:        Library\n", "Summary:        Library\nGroup: libs\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-add-tag\"\npackage = \"libhello\"\ntag = \"Group\"\nvalue = \"libs\"\n",
                  e);
        free(e);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-add-tag\"\ntag = \"version\"\nvalue = \"2\"\n",
                   "component 'hello': overlay 1 (spec-add-tag): the main package already has tag version (line 2: "
                   "'Version:        1.0')",
                   9, 7);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-add-tag\"\ntag = \"BuildRequires\"\nvalue = \"MAKE\"\n",
                   "component 'hello': overlay 1 (spec-add-tag): the main package already has 'BuildRequires: MAKE' "
                   "(line 10)",
                   10, 9);
        ERROR_CASE(base_spec,
                   "[[overlays]]\ntype = \"spec-add-tag\"\npackage = \"docs\"\ntag = \"Summary\"\nvalue = \"x\"\n",
                   "component 'hello': overlay 1 (spec-add-tag): sub-package 'docs' has no %package section", 9, 11);

        /* insert: after the last of its family; out of the %if block it
         * lands in; after the last tag if the family has none. */
        e = edit(base_spec, "Source1:        hello.conf\n", "Source1:        hello.conf\nSource9999: macros.azl\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-insert-tag\"\ntag = \"Source9999\"\nvalue = \"macros.azl\"\n", e);
        free(e);
        e = edit(base_spec, "%endif\n\n%description\n", "%endif\nbuildrequires: zlib\n\n%description\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-insert-tag\"\ntag = \"buildrequires\"\nvalue = \"zlib\"\n", e);
        free(e);
        e = edit(base_spec, "%endif\n\n%description\n", "%endif\nVendor: me\n\n%description\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-insert-tag\"\ntag = \"Vendor\"\nvalue = \"me\"\n", e);
        free(e);
        e = edit(base_spec, "Requires:       %{name} = %{version}-%{release}\n",
                 "Requires:       %{name} = %{version}-%{release}\nRequires: zlib\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-insert-tag\"\npackage = \"devel\"\ntag = \"Requires\"\nvalue = \"zlib\"\n", e);
        free(e);
        ERROR_CASE(base_spec,
                   "[[overlays]]\ntype = \"spec-insert-tag\"\npackage = \"nope\"\ntag = \"Requires\"\nvalue = \"zlib\"\n",
                   "component 'hello': overlay 1 (spec-insert-tag): sub-package 'nope' has no %package section", 9, 11);
        /* A preamble without tags: like add. */
        SPEC_CASE("%global x 1\n\n%description\nd\n",
                  "[[overlays]]\ntype = \"spec-insert-tag\"\ntag = \"Name\"\nvalue = \"x\"\n",
                  "%global x 1\nName: x\n\n%description\nd\n");

        /* set: the value replaced, the line's own spelling and alignment kept;
         * added when absent. */
        e = edit(base_spec, "Version:        1.0\n", "Version:        2.0\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-set-tag\"\ntag = \"VERSION\"\nvalue = \"2.0\"\n", e);
        free(e);
        e = edit(base_spec, "%endif\n\n%description\n", "%endif\nURL: https://example.org\n\n%description\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-set-tag\"\ntag = \"URL\"\nvalue = \"https://example.org\"\n", e);
        free(e);
        e = edit(base_spec, "Summary:        Headers\n", "Summary:        Header files\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-set-tag\"\npackage = \"devel\"\ntag = \"Summary\"\nvalue = \"Header files\"\n",
                  e);
        free(e);
        /* Set in both branches of a %if: both change. */
        SPEC_CASE("Name: a\n%if 0\nVersion: 1\n%else\nVersion:\t2 \n%endif\n",
                  "[[overlays]]\ntype = \"spec-set-tag\"\ntag = \"Version\"\nvalue = \"3\"\n",
                  "Name: a\n%if 0\nVersion: 3\n%else\nVersion:\t3 \n%endif\n");

        /* update: only if there. */
        e = edit(base_spec, "License:        MIT\n", "License:        MIT AND BSD\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-update-tag\"\ntag = \"License\"\nvalue = \"MIT AND BSD\"\n", e);
        free(e);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-update-tag\"\ntag = \"URL\"\nvalue = \"x\"\n",
                   "component 'hello': overlay 1 (spec-update-tag): tag URL is not in the main package", 9, 7);
        /* The main package's tags are not a sub-package's. */
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-update-tag\"\npackage = \"libhello\"\ntag = \"Requires\"\nvalue = \"x\"\n",
                   "component 'hello': overlay 1 (spec-update-tag): tag Requires is not in sub-package 'libhello'", 10, 7);

        /* remove: every one, or those of the value; inside %if too. */
        e = edit(base_spec, "BuildRequires:  gcc\nBuildRequires:  make\n%if %{with docs}\nBuildRequires:  pandoc\n",
                 "%if %{with docs}\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-tag\"\ntag = \"BuildRequires\"\n", e);
        free(e);
        e = edit(base_spec, "BuildRequires:  pandoc\n", "");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-tag\"\ntag = \"BuildRequires\"\nvalue = \" pandoc\"\n", e);
        free(e);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-tag\"\ntag = \"BuildRequires\"\nvalue = \"rust\"\n",
                   "component 'hello': overlay 1 (spec-remove-tag): no tag BuildRequires of the main package has the "
                   "value 'rust'",
                   10, 9);
        /* An empty value matches any. */
        e = edit(base_spec, "BuildRequires:  gcc\nBuildRequires:  make\n%if %{with docs}\nBuildRequires:  pandoc\n",
                 "%if %{with docs}\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-tag\"\ntag = \"BuildRequires\"\nvalue = \"\"\n", e);
        free(e);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-set-tag\"\ntag = \"Build Requires\"\nvalue = \"x\"\n",
                   "component 'hello': overlay 1 (spec-set-tag): 'Build Requires' is not a tag name: a letter, then no "
                   "blank or ':'",
                   9, 7);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-tag\"\ntag = \"Epoch\"\n",
                   "component 'hello': overlay 1 (spec-remove-tag): tag Epoch is not in the main package", 9, 7);
}

/* ---- lines, search-replace, sections -------------------------------------------------- */

static void test_lines(void) {
        char *e, *f;

        e = edit(base_spec, "%build\n", "%build\nexport A=1\nexport B=2\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-prepend-lines\"\nsection = \"%build\"\nlines = [\"export A=1\", \"export B=2\"]\n",
                  e);
        free(e);
        /* append: after the last line of the section, before its blank lines. */
        e = edit(base_spec, "%make_install\n", "%make_install\nrm -f x\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%install\"\nlines = [\"rm -f x\"]\n", e);
        free(e);
        /* package: the sub-package's section, suffix or -n form. */
        e = edit(base_spec, "/usr/include/hello.h\n", "/usr/include/hello.h\n/usr/include/hello2.h\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%files\"\npackage = \"devel\"\nlines = "
                  "[\"/usr/include/hello2.h\"]\n",
                  e);
        free(e);
        e = edit(base_spec, "/usr/lib/libhello.so.1\n", "/usr/lib/libhello.so.1\n/usr/lib/libhello.so.2\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%files -n libhello\"\nlines = "
                  "[\"/usr/lib/libhello.so.2\"]\n",
                  e);
        free(e);
        /* The main package's %files is not devel's. */
        e = edit(base_spec, "%files\n/usr/bin/hello\n", "%files\n/usr/bin/hello\n/usr/bin/hi\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%files\"\nlines = [\"/usr/bin/hi\"]\n", e);
        free(e);
        /* The last section: at the end of the file. */
        e = strprintf("%s- Overlaid\n", base_spec);
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%changelog\"\nlines = [\"- Overlaid\"]\n",
                  e);
        free(e);
        /* Whole file, also one without a final newline. */
        e = strprintf("# top\n%s", base_spec);
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-prepend-lines\"\nlines = [\"# top\"]\n", e);
        free(e);
        e = strprintf("%s%%global azl 1\n", base_spec);
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-append-lines\"\nlines = [\"%global azl 1\"]\n", e);
        free(e);
        SPEC_CASE("Name: a\n%files\n/a", "[[overlays]]\ntype = \"spec-append-lines\"\nlines = [\"/b\"]\n",
                  "Name: a\n%files\n/a\n/b\n");
        SPEC_CASE("Name: a\n%files\n/a", "[[overlays]]\ntype = \"spec-prepend-lines\"\nlines = [\"#x\"]\n",
                  "#x\nName: a\n%files\n/a");
        /* A %if around the next section stays after the appended lines. */
        SPEC_CASE("Name: a\n%files\n/a\n\n%if %{with x}\n%package x\nSummary: x\n%endif\n",
                  "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%files\"\nlines = [\"/b\"]\n",
                  "Name: a\n%files\n/a\n/b\n\n%if %{with x}\n%package x\nSummary: x\n%endif\n");

        /* ... and so do the %else between two branches and the %endif of a
         * block around the section: the lines go into each branch. */
        SPEC_CASE("Name: a\n%if %{with x}\n%files\n/a\n%else\n%files\n/b\n%endif\n\n%changelog\n",
                  "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%files\"\nlines = [\"/c\"]\n",
                  "Name: a\n%if %{with x}\n%files\n/a\n/c\n%else\n%files\n/b\n/c\n%endif\n\n%changelog\n");
        /* A block inside the section is the section's. */
        SPEC_CASE("Name: a\n%files\n/a\n%ifarch x86_64\n/b\n%endif\n%changelog\n",
                  "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%files\"\nlines = [\"/c\"]\n",
                  "Name: a\n%files\n/a\n%ifarch x86_64\n/b\n%endif\n/c\n%changelog\n");
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%conf\"\nlines = [\"x\"]\n",
                   "component 'hello': overlay 1 (spec-append-lines): section %conf is not in the spec", 9, 11);
        ERROR_CASE(base_spec,
                   "[[overlays]]\ntype = \"spec-prepend-lines\"\nsection = \"%files\"\npackage = \"docs\"\nlines = [\"x\"]\n",
                   "component 'hello': overlay 1 (spec-prepend-lines): section %files of sub-package 'docs' is not in "
                   "the spec",
                   10, 11);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-prepend-lines\"\nsection = \"%bogus\"\nlines = [\"x\"]\n",
                   "component 'hello': overlay 1 (spec-prepend-lines): '%bogus' is not a spec section rpm knows", 9, 11);

        /* search-replace: literal replacement ($1 stays), within the
         * section, every match of every line. */
        e = edit(base_spec, "%configure --enable-foo --disable-bar\n", "%configure $1--disable-bar\n");
        SPEC_CASE(base_spec,
                  "[[overlays]]\ntype = \"spec-search-replace\"\ndescription = \"drop the flag\"\nsection = \"%build\"\n"
                  "regex = '--enable-(\\w+)\\s+'\nreplacement = \"$1\"\n",
                  e);
        free(e);
        /* Whole spec, no replacement: deleted; ^ and $ are per line. */
        e = edit(base_spec, "make %{?_smp_mflags}\n", "make \n");
        f = edit(e, "make check\n", "make \n"); /* not "%check" */
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-search-replace\"\nregex = '(%\\{\\?_smp_mflags\\}|check)$'\n", f);
        free(e);
        free(f);
        /* Section headers are not searched (azldev's rule), in the whole
         * spec either. */
        e = edit(base_spec, "/usr/lib/libhello.so.1\n", "/usr/lib/libhi.so.1\n");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-search-replace\"\nregex = 'libhello'\nreplacement = \"libhi\"\n", e);
        free(e);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-search-replace\"\nregex = '-n libhello'\n",
                   "component 'hello': overlay 1 (spec-search-replace): regex '-n libhello' matches nothing in the spec",
                   9, 9);
        /* A replacement that makes lines. */
        SPEC_CASE("Name: a\n%build\nmake\n%install\n",
                  "[[overlays]]\ntype = \"spec-search-replace\"\nsection = \"%build\"\nregex = '^make$'\n"
                  "replacement = \"make\\nmake test\"\n"
                  "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%build\"\nlines = [\"done\"]\n",
                  "Name: a\n%build\nmake\nmake test\ndone\n%install\n");
        /* Empty matches: Go's rule (not right after a match). */
        SPEC_CASE("Name: a\n%build\nxab\n", "[[overlays]]\ntype = \"spec-search-replace\"\nsection = \"%build\"\nregex = 'x*'\n"
                  "replacement = \"-\"\n",
                  "Name: a\n%build\n-a-b-\n");
        /* Bytes that are not UTF-8 neither match nor stop a match. */
        SPEC_CASE("Name: a\n%changelog\n- J\xf6rg fixed \xc3\xa9t\xe9\n",
                  "[[overlays]]\ntype = \"spec-search-replace\"\nregex = 'fixed .t'\nreplacement = \"did\"\n",
                  "Name: a\n%changelog\n- J\xf6rg did\xe9\n");
        ERROR_CASE(base_spec,
                   "[[overlays]]\ntype = \"spec-search-replace\"\ndescription = \"drop the flag\"\nsection = \"%build\"\n"
                   "regex = 'foo\\s+$'\n",
                   "component 'hello': overlay 1 (spec-search-replace, \"drop the flag\"): regex 'foo\\s+$' matches "
                   "nothing in section %build",
                   11, 9);
        /* In %install only, not in %build where it is. */
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-search-replace\"\nsection = \"%install\"\nregex = 'configure'\n",
                   "component 'hello': overlay 1 (spec-search-replace): regex 'configure' matches nothing in section "
                   "%install",
                   10, 9);
        ERROR_CASE(base_spec,
                   "[[overlays]]\ntype = \"spec-search-replace\"\nsection = \"%files\"\npackage = \"devel\"\nregex = 'bin'\n",
                   "component 'hello': overlay 1 (spec-search-replace): regex 'bin' matches nothing in section %files "
                   "of sub-package 'devel'",
                   11, 9);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-search-replace\"\nregex = 'nowhere'\n",
                   "component 'hello': overlay 1 (spec-search-replace): regex 'nowhere' matches nothing in the spec", 9, 9);
}

static void test_sections(void) {
        char *e;

        e = edit(base_spec, "%check\nmake check\n\n", "");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-section\"\nsection = \"%check\"\n", e);
        free(e);
        e = edit(base_spec, "%files devel\n/usr/include/hello.h\n\n", "");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-section\"\nsection = \"%files\"\npackage = \"devel\"\n", e);
        free(e);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-section\"\nsection = \"%generate_buildrequires\"\n",
                   "component 'hello': overlay 1 (spec-remove-section): section %generate_buildrequires is not in the spec",
                   9, 11);

        /* remove-subpackage: every section of it, in its own form. */
        e = edit(base_spec, "%package devel\nSummary:        Headers\nRequires:       %{name} = %{version}-%{release}\n\n"
                            "%description devel\nHeaders.\n\n", "");
        char *f = edit(e, "%files devel\n/usr/include/hello.h\n\n", "");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-subpackage\"\npackage = \"devel\"\n", f);
        free(e);
        free(f);
        e = edit(base_spec, "%package -n libhello\nSummary:        Library\n\n%description -n libhello\nThe library.\n\n", "");
        f = edit(e, "%post -n libhello -p /sbin/ldconfig\n\n", "");
        free(e);
        e = edit(f, "%files -n libhello -f libs.list\n/usr/lib/libhello.so.1\n\n", "");
        SPEC_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-subpackage\"\npackage = \"libhello\"\n", e);
        free(e);
        free(f);
        ERROR_CASE(base_spec, "[[overlays]]\ntype = \"spec-remove-subpackage\"\ndescription = \"no docs\"\npackage = \"docs\"\n",
                   "component 'hello': overlay 1 (spec-remove-subpackage, \"no docs\"): no section of the spec belongs to "
                   "sub-package 'docs'",
                   10, 11);

        /* Scriptlets and triggers with options, %files -f LIST NAME: all the
         * sub-package's; the main package's trigger on it stays. */
        SPEC_CASE("Name: a\n%package devel\nSummary: d\n%post devel -p /sbin/ldconfig\n%triggerin devel -- bash\n"
                  "echo\n%triggerin -- devel\necho main\n%files -f list devel\n/d\n%files\n/a\n",
                  "[[overlays]]\ntype = \"spec-remove-subpackage\"\npackage = \"devel\"\n",
                  "Name: a\n%triggerin -- devel\necho main\n%files\n/a\n");
        /* A sub-package inside %if: the %if and %endif stay, empty. */
        static const char cond[] = "Name: a\n\n%if %{with x}\n%package x\nSummary: x\n%description x\nX.\n%endif\n\n"
                                   "%files\n/a\n\n%if %{with x}\n%files x\n/x\n%endif\n\n%changelog\n";
        SPEC_CASE(cond, "[[overlays]]\ntype = \"spec-remove-subpackage\"\npackage = \"x\"\n",
                  "Name: a\n\n%if %{with x}\n%endif\n\n%files\n/a\n\n%if %{with x}\n%endif\n\n%changelog\n");
        /* A %if inside the section goes with it. */
        SPEC_CASE("Name: a\n%files\n/a\n%ifarch x86_64\n/b\n%endif\n%changelog\n",
                  "[[overlays]]\ntype = \"spec-remove-section\"\nsection = \"%files\"\n", "Name: a\n%changelog\n");
        /* A block mixing the section with what follows it cannot be split. */
        ERROR_CASE("Name: a\n%files\n/a\n%if 1\n/b\n%changelog\n%endif\n",
                   "[[overlays]]\ntype = \"spec-remove-section\"\nsection = \"%files\"\n",
                   "component 'hello': overlay 1 (spec-remove-section): line 5 of section %files is inside the %if of "
                   "line 4, which ends after the section; change the %if lines with a spec-search-replace overlay first",
                   9, 11);
        ERROR_CASE("Name: a\n%if 1\n%files\n/a\n%else\n%files\n/b\n%endif\n",
                   "[[overlays]]\ntype = \"spec-remove-section\"\nsection = \"%files\"\n",
                   "component 'hello': overlay 1 (spec-remove-section): section %files holds the %else of line 5, whose "
                   "%if (line 2) is outside it; change the %if lines with a spec-search-replace overlay first",
                   9, 11);
}

/* ---- patches and files ------------------------------------------------------------------- */

static void test_patches(void) {
        char *dir = tree_new(), *out, *e;
        Diagnostics d = {};

        /* patch-add: copied from the project; PatchN after the last Patch. */
        put(dir, "hello.spec", base_spec, 0644);
        put(dir, "p/fix.patch", "--- a\n+++ b\n", 0644);
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-add\"\nsource = \"p/fix.patch\"\n"
                         "[[overlays]]\ntype = \"patch-add\"\nsource = \"p/fix.patch\"\nfile = \"second.patch\"\n",
                    &d) == 0);
        CHECK(d.n == 0);
        out = get(dir, "hello.spec");
        e = edit(base_spec, "Patch0:         fix-build.patch\n",
                 "Patch0:         fix-build.patch\nPatch1: fix.patch\nPatch2: second.patch\n");
        CHECK_STREQ(out, e);
        free(out);
        free(e);
        out = get(dir, "fix.patch");
        CHECK_STREQ(out, "--- a\n+++ b\n");
        free(out);
        CHECK(exists(dir, "second.patch"));
        diagnostics_release(&d);

        /* patch-add again: the file is there. */
        put(dir, "hello.spec", base_spec, 0644);
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-add\"\nsource = \"p/fix.patch\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strcmp(d.items[0].message, "component 'hello': overlay 1 (patch-add): 'fix.patch' is already "
                                                     "in the sources") == 0 && d.items[0].line == 9);
        diagnostics_release(&d);
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-add\"\nsource = \"p/missing.patch\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strstr(d.items[0].message, "cannot read '") && d.items[0].line == 9 && d.items[0].column == 10);
        diagnostics_release(&d);

        /* patch-remove: tags matching the glob, and the files. */
        put(dir, "hello.spec",
            "Name: a\nPatch0: keep.patch\nPatch1: CVE-1.patch\n%package x\nPatch2: https://x.org/CVE-2.patch\n", 0644);
        put(dir, "CVE-1.patch", "1", 0644);
        put(dir, "CVE-2.patch", "2", 0644);
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-remove\"\nfile = \"CVE-*.patch\"\n", &d) == 0);
        out = get(dir, "hello.spec");
        CHECK_STREQ(out, "Name: a\nPatch0: keep.patch\n%package x\n");
        free(out);
        CHECK(!exists(dir, "CVE-1.patch") && !exists(dir, "CVE-2.patch") && exists(dir, "fix.patch"));
        diagnostics_release(&d);
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-remove\"\nfile = \"CVE-*.patch\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strcmp(d.items[0].message, "component 'hello': overlay 1 (patch-remove): no Patch tag or "
                                                     "%patchlist line of the spec names a file that 'CVE-*.patch' "
                                                     "matches") == 0 && d.items[0].line == 9 && d.items[0].column == 8);
        diagnostics_release(&d);
        /* The reference without the file. */
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-remove\"\nfile = \"keep.patch\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strcmp(d.items[0].message, "component 'hello': overlay 1 (patch-remove): no file in the "
                                                     "sources matches 'keep.patch'") == 0);
        diagnostics_release(&d);

        /* %patchlist: added to and removed from there. */
        put(dir, "hello.spec", "Name: a\n\n%patchlist\none.patch\ntwo.patch\n\n%prep\n", 0644);
        put(dir, "two.patch", "2", 0644);
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-remove\"\nfile = \"two.patch\"\n"
                         "[[overlays]]\ntype = \"patch-add\"\nsource = \"p/fix.patch\"\nfile = \"three.patch\"\n",
                    &d) == 0);
        out = get(dir, "hello.spec");
        CHECK_STREQ(out, "Name: a\n\n%patchlist\none.patch\nthree.patch\n\n%prep\n");
        free(out);
        CHECK(!exists(dir, "two.patch") && exists(dir, "three.patch"));
        diagnostics_release(&d);

        /* Bare Patch: tags count from 0. */
        put(dir, "hello.spec", "Name: a\nPatch: a.patch\nPatch: b.patch\nBuildRequires: x\n", 0644);
        CHECK(apply(dir, "[[overlays]]\ntype = \"patch-add\"\nsource = \"p/fix.patch\"\nfile = \"c.patch\"\n", &d) == 0);
        out = get(dir, "hello.spec");
        CHECK_STREQ(out, "Name: a\nPatch: a.patch\nPatch: b.patch\nPatch2: c.patch\nBuildRequires: x\n");
        free(out);
        diagnostics_release(&d);
        tree_free(dir);
}

static void test_files(void) {
        char *dir = tree_new(), *out;
        Diagnostics d = {};
        struct stat st;

        put(dir, "hello.spec", base_spec, 0644);
        put(dir, "hello.conf", "a = 1\nb = 2\n", 0640);
        put(dir, "sub/x.conf", "a = 1\n", 0644);
        put(dir, "sub/deep/y.conf", "c = 3\n", 0644);
        put(dir, "extra.src", "new\n", 0755);

        CHECK(apply(dir,
                    "[[overlays]]\ntype = \"file-prepend-lines\"\nfile = \"hello.conf\"\nlines = [\"# azl\", \"z = 0\"]\n"
                    "[[overlays]]\ntype = \"file-search-replace\"\nfile = \"**/*.conf\"\nregex = '^a = (\\d)'\n"
                    "replacement = \"a = $1!\"\n"
                    "[[overlays]]\ntype = \"file-add\"\nfile = \"extra.sh\"\nsource = \"extra.src\"\n"
                    "[[overlays]]\ntype = \"file-rename\"\nfile = \"sub/deep/*.conf\"\nreplacement = \"z.conf\"\n"
                    "[[overlays]]\ntype = \"file-remove\"\nfile = \"extra.src\"\n",
                    &d) == 0);
        for (size_t i = 0; i < d.n; i++)
                fprintf(stderr, "%s\n", d.items[i].message);
        CHECK(d.n == 0);
        out = get(dir, "hello.conf");
        CHECK_STREQ(out, "# azl\nz = 0\na = $1!\nb = 2\n");
        free(out);
        out = get(dir, "sub/x.conf");
        CHECK_STREQ(out, "a = $1!\n");
        free(out);
        char *path = path_join(dir, "hello.conf");
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
        free(path);
        path = path_join(dir, "extra.sh");
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755);
        free(path);
        CHECK(exists(dir, "sub/deep/z.conf") && !exists(dir, "sub/deep/y.conf") && !exists(dir, "extra.src"));
        /* The spec is untouched: no spec overlay. */
        out = get(dir, "hello.spec");
        CHECK_STREQ(out, base_spec);
        free(out);
        diagnostics_release(&d);

        /* Failures: each reported, the next overlay still tried. */
        int r = apply(dir,
                      "[[overlays]]\ntype = \"file-remove\"\nfile = \"*.txt\"\n"                              /* 7 */
                      "[[overlays]]\ntype = \"file-search-replace\"\nfile = \"sub/**\"\nregex = 'nothing'\n"  /* 10 */
                      "[[overlays]]\ntype = \"file-add\"\nfile = \"hello.conf\"\nsource = \"extra.sh\"\n"   /* 15 */
                      "[[overlays]]\ntype = \"file-rename\"\nfile = \"**/*.conf\"\nreplacement = \"q\"\n"   /* 20 */
                      "[[overlays]]\ntype = \"file-prepend-lines\"\nfile = \"hello.spec\"\nlines = [\"x\"]\n" /* 25 */
                      "[[overlays]]\ntype = \"file-rename\"\nfile = \"hello.conf\"\nreplacement = \"extra.sh\"\n",
                      &d);
        CHECK(r == -EINVAL);
        CHECK(d.n == 6);
        if (d.n == 6) {
                CHECK_STREQ(d.items[0].message, "component 'hello': overlay 1 (file-remove): no file in the sources matches '*.txt'");
                CHECK(d.items[0].line == 9 && d.items[0].column == 8);
                CHECK_STREQ(d.items[1].message, "component 'hello': overlay 2 (file-search-replace): regex 'nothing' "
                                                "matches nothing in the 2 files 'sub/**' matches");
                CHECK(d.items[1].line == 13 && d.items[1].column == 9);
                CHECK_STREQ(d.items[2].message, "component 'hello': overlay 3 (file-add): 'hello.conf' is already in the "
                                                "sources");
                CHECK(d.items[2].line == 16);
                CHECK_STREQ(d.items[3].message, "component 'hello': overlay 4 (file-rename): '**/*.conf' matches 3 files "
                                                "('hello.conf', 'sub/deep/z.conf', ...); file-rename renames one");
                CHECK_STREQ(d.items[4].message, "component 'hello': overlay 5 (file-prepend-lines): no file in the "
                                                "sources matches 'hello.spec' (the spec changes through the spec-* "
                                                "overlays)");
                CHECK_STREQ(d.items[5].message, "component 'hello': overlay 6 (file-rename): 'extra.sh' is already in "
                                                "the sources");
                CHECK(d.items[5].line == 29 && d.items[5].column == 15);
        }
        diagnostics_release(&d);
        tree_free(dir);
}

/* ---- archives ---------------------------------------------------------------------------- */

typedef struct TarEntry {
        const char *path;
        unsigned type;
        const char *data; /* contents, or the symlink/hardlink target */
} TarEntry;

static void make_tar_format(const char *path, int filter, bool gnu, const TarEntry *entries, size_t n) {
        struct archive *w = archive_write_new();
        CHECK((gnu ? archive_write_set_format_gnutar(w) : archive_write_set_format_pax_restricted(w)) == ARCHIVE_OK);
        if (filter == ARCHIVE_FILTER_GZIP)
                CHECK(archive_write_add_filter_gzip(w) == ARCHIVE_OK);
        else if (filter == ARCHIVE_FILTER_XZ)
                CHECK(archive_write_add_filter_xz(w) == ARCHIVE_OK);
        else if (filter == ARCHIVE_FILTER_BZIP2)
                CHECK(archive_write_add_filter_bzip2(w) == ARCHIVE_OK);
        else if (filter == ARCHIVE_FILTER_ZSTD)
                CHECK(archive_write_add_filter_zstd(w) == ARCHIVE_OK);
        CHECK(archive_write_open_filename(w, path) == ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, entries[i].path);
                archive_entry_set_mtime(e, 1700000000 + (time_t) i, 0);
                archive_entry_set_uid(e, 1000);
                archive_entry_set_uname(e, "builder");
                if (entries[i].type == AE_IFDIR) {
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, 0755);
                } else if (entries[i].type == AE_IFLNK) {
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_perm(e, 0777);
                        archive_entry_set_symlink(e, entries[i].data);
                } else if (entries[i].type == 1) { /* a hard link */
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_hardlink(e, entries[i].data);
                } else {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t) strlen(entries[i].data));
                }
                CHECK(archive_write_header(w, e) == ARCHIVE_OK);
                if (entries[i].type == AE_IFREG)
                        CHECK(archive_write_data(w, entries[i].data, strlen(entries[i].data)) ==
                              (la_ssize_t) strlen(entries[i].data));
                archive_entry_free(e);
        }
        CHECK(archive_write_close(w) == ARCHIVE_OK);
        archive_write_free(w);
}

static void make_tar(const char *path, int filter, const TarEntry *entries, size_t n) {
        make_tar_format(path, filter, false, entries, n);
}

/* "path[=data]|path|..." of every entry, with mtimes checked against the
 * ones make_tar() gave (index i: 1700000000 + i, of the original). */
static char *list_tar(const char *path, int *ret_filter) {
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        StrBuf b = STRBUF_INIT;
        CHECK(archive_read_support_filter_gzip(a) == ARCHIVE_OK);
        CHECK(archive_read_support_filter_xz(a) == ARCHIVE_OK);
        CHECK(archive_read_support_filter_bzip2(a) == ARCHIVE_OK);
        CHECK(archive_read_support_filter_zstd(a) == ARCHIVE_OK);
        CHECK(archive_read_support_format_tar(a) == ARCHIVE_OK);
        CHECK(archive_read_open_filename(a, path, 65536) == ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                strbuf_printf(&b, "%s@%lld", archive_entry_pathname(e), (long long) archive_entry_mtime(e) - 1700000000);
                if (archive_entry_filetype(e) == AE_IFREG) {
                        char buf[4096];
                        la_ssize_t k = archive_read_data(a, buf, sizeof buf - 1);
                        CHECK(k >= 0);
                        strbuf_printf(&b, "=%.*s", (int) (k > 0 ? k : 0), buf);
                } else if (archive_entry_filetype(e) == AE_IFLNK)
                        strbuf_printf(&b, "->%s", archive_entry_symlink(e));
                CHECK(archive_entry_uid(e) == 1000 && strcmp(archive_entry_uname(e), "builder") == 0);
                strbuf_putc(&b, '|');
        }
        if (ret_filter)
                *ret_filter = archive_filter_code(a, 0);
        archive_read_free(a);
        return strbuf_detach(&b, NULL);
}

static const TarEntry tree_entries[] = {
        { "hello-1.0/", AE_IFDIR, NULL },
        { "hello-1.0/configure.ac", AE_IFREG, "AC_INIT([hello], [1.0])\nAC_CHECK_LIB(old_lib, f)\n" },
        { "hello-1.0/vendor/", AE_IFDIR, NULL },
        { "hello-1.0/vendor/a/", AE_IFDIR, NULL },
        { "hello-1.0/vendor/a/x.c", AE_IFREG, "x" },
        { "hello-1.0/vendor/b.c", AE_IFREG, "b" },
        { "hello-1.0/README", AE_IFREG, "old_lib here\n" },
        { "hello-1.0/link", AE_IFLNK, "README" },
};

static void test_archives(void) {
        char *dir = tree_new(), *dir2 = tree_new(), *out;
        Diagnostics d = {};
        int filter = -1;
        static const char keys[] =
                "[[overlays]]\ntype = \"file-search-replace\"\narchive = \"hello-1.0.tar.gz\"\nfile = \"configure.ac\"\n"
                "regex = 'AC_CHECK_LIB\\(old_lib'\nreplacement = \"AC_CHECK_LIB(new_lib\"\n"
                "[[overlays]]\ntype = \"file-remove\"\narchive = \"hello-1.0.tar.gz\"\nfile = \"vendor/**\"\n"
                "[[overlays]]\ntype = \"spec-set-tag\"\ntag = \"Version\"\nvalue = \"1.1\"\n";

        for (int round = 0; round < 2; round++) {
                const char *t = round == 0 ? dir : dir2;
                char *tar = path_join(t, "hello-1.0.tar.gz");
                put(t, "hello.spec", base_spec, 0644);
                make_tar(tar, ARCHIVE_FILTER_GZIP, tree_entries, ELEMENTSOF(tree_entries));
                CHECK(apply(t, keys, &d) == 0);
                CHECK(d.n == 0);
                diagnostics_release(&d);
                out = list_tar(tar, &filter);
                CHECK_STREQ(out, "hello-1.0/@0|hello-1.0/configure.ac@1=AC_INIT([hello], [1.0])\n"
                                 "AC_CHECK_LIB(new_lib, f)\n|hello-1.0/vendor/@2|hello-1.0/vendor/a/@3|"
                                 "hello-1.0/README@6=old_lib here\n|hello-1.0/link@7->README|");
                CHECK(filter == ARCHIVE_FILTER_GZIP);
                free(out);
                /* No time in the gzip header. */
                void *m = NULL;
                size_t size = 0;
                CHECK(map_file(tar, &m, &size) == 0 && size > 10);
                if (m) {
                        const unsigned char *g = m;
                        CHECK(g[0] == 0x1f && g[1] == 0x8b && g[4] == 0 && g[5] == 0 && g[6] == 0 && g[7] == 0);
                        munmap(m, size);
                }
                free(tar);
                if (round == 0)
                        sleep(1); /* the second repack a second later: no time gets in */
        }
        char *a = path_join(dir, "hello-1.0.tar.gz"), *b = path_join(dir2, "hello-1.0.tar.gz");
        CHECK(unit_files_equal(a, b));
        free(a);
        free(b);
        out = get(dir, "hello.spec");
        char *e = edit(base_spec, "Version:        1.0\n", "Version:        1.1\n");
        CHECK_STREQ(out, e);
        free(e);
        free(out);

        /* xz, an archive without one top directory, and a glob with braces. */
        static const TarEntry flat[] = {
                { "a/x.c", AE_IFREG, "int old;\n" },
                { "a/y.h", AE_IFREG, "old\n" },
                { "b.txt", AE_IFREG, "old\n" },
        };
        char *xz = path_join(dir, "flat.tar.xz");
        make_tar(xz, ARCHIVE_FILTER_XZ, flat, ELEMENTSOF(flat));
        CHECK(apply(dir, "[[overlays]]\ntype = \"file-search-replace\"\narchive = \"flat.tar.xz\"\nfile = \"a/*.{c,h}\"\n"
                         "regex = 'old'\nreplacement = \"new\"\n",
                    &d) == 0);
        CHECK(d.n == 0);
        diagnostics_release(&d);
        out = list_tar(xz, &filter);
        CHECK_STREQ(out, "a/x.c@0=int new;\n|a/y.h@1=new\n|b.txt@2=old\n|");
        CHECK(filter == ARCHIVE_FILTER_XZ);
        free(out);

        /* bzip2 and zstd; GNU tar's format (a long name) written back so. */
        static const char long_name[] = "p/a-directory-name-that-is-long/and-another-one-that-is-long-too/"
                                        "and-a-file-name-past-one-hundred-characters.c";
        static const TarEntry gnu[] = {
                { "p/", AE_IFDIR, NULL },
                { long_name, AE_IFREG, "old\n" },
                { "p/keep", AE_IFREG, "old\n" },
        };
        static const int filters[] = { ARCHIVE_FILTER_BZIP2, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_NONE };
        for (size_t k = 0; k < ELEMENTSOF(filters); k++) {
                char *name = strprintf("gnu.tar%s", k == 0 ? ".bz2" : k == 1 ? ".zst" : ""), *t = path_join(dir, name);
                char *keys2 = strprintf("[[overlays]]\ntype = \"file-search-replace\"\narchive = \"%s\"\n"
                                        "file = \"**/*.c\"\nregex = 'old'\nreplacement = \"new\"\n",
                                        name);
                make_tar_format(t, filters[k], true, gnu, ELEMENTSOF(gnu));
                CHECK(apply(dir, keys2, &d) == 0);
                CHECK(d.n == 0);
                diagnostics_release(&d);
                out = list_tar(t, &filter);
                char *want = strprintf("p/@0|%s@1=new\n|p/keep@2=old\n|", long_name);
                CHECK_STREQ(out, want);
                CHECK(filter == filters[k]);
                free(want);
                free(out);
                struct archive *r = archive_read_new();
                struct archive_entry *ae;
                archive_read_support_filter_bzip2(r);
                archive_read_support_filter_zstd(r);
                archive_read_support_format_tar(r);
                CHECK(archive_read_open_filename(r, t, 65536) == ARCHIVE_OK);
                CHECK(archive_read_next_header(r, &ae) == ARCHIVE_OK);
                CHECK(archive_format(r) == ARCHIVE_FORMAT_TAR_GNUTAR);
                archive_read_free(r);
                free(keys2);
                free(t);
                free(name);
        }

        /* Failures: nothing matches (the archive stays as it was). */
        char *before = list_tar(xz, NULL);
        CHECK(apply(dir, "[[overlays]]\ntype = \"file-remove\"\narchive = \"flat.tar.xz\"\nfile = \"c/*\"\n"
                         "[[overlays]]\ntype = \"file-search-replace\"\narchive = \"flat.tar.xz\"\nfile = \"b.txt\"\n"
                         "regex = 'nothing'\n",
                    &d) == -EINVAL);
        CHECK(d.n == 1);
        if (d.n >= 1) {
                CHECK_STREQ(d.items[0].message, "component 'hello': overlay 1 (file-remove): no file in archive "
                                                "'flat.tar.xz' matches 'c/*'");
                CHECK(d.items[0].line == 10 && d.items[0].column == 8);
        }
        diagnostics_release(&d);
        CHECK(apply(dir, "[[overlays]]\ntype = \"file-search-replace\"\narchive = \"flat.tar.xz\"\nfile = \"b.txt\"\n"
                         "regex = 'nothing'\n",
                    &d) == -EINVAL);
        CHECK(d.n == 1 && strcmp(d.items[0].message, "component 'hello': overlay 1 (file-search-replace): regex "
                                                     "'nothing' matches nothing in the files of archive 'flat.tar.xz' "
                                                     "that 'b.txt' matches") == 0 && d.items[0].line == 11);
        diagnostics_release(&d);
        out = list_tar(xz, NULL);
        CHECK_STREQ(out, before);
        free(out);
        free(before);
        CHECK(!exists(dir, "flat.tar.xz.tmp"));
        CHECK(apply(dir, "[[overlays]]\ntype = \"file-remove\"\narchive = \"nope.tar.gz\"\nfile = \"x\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strcmp(d.items[0].message, "component 'hello': overlay 1 (file-remove): archive 'nope.tar.gz' "
                                                     "is not in the sources") == 0 && d.items[0].line == 9);
        diagnostics_release(&d);
        /* A loose overlay on the archive that archive overlays change. */
        CHECK(apply(dir, "[[overlays]]\ntype = \"file-remove\"\narchive = \"flat.tar.xz\"\nfile = \"b.txt\"\n"
                         "[[overlays]]\ntype = \"file-remove\"\nfile = \"flat.tar.xz\"\n",
                    &d) == -EINVAL);
        CHECK(d.n == 1 && strcmp(d.items[0].message, "component 'hello': overlay 2 (file-remove): 'flat.tar.xz' is the "
                                                     "archive that overlay 1 changes inside; a loose-file overlay cannot "
                                                     "change it too") == 0);
        diagnostics_release(&d);

        /* A hard link cannot be repacked. */
        static const TarEntry linked[] = {
                { "p/a", AE_IFREG, "a" },
                { "p/b", 1, "p/a" },
        };
        char *hl = path_join(dir, "linked.tar.gz");
        make_tar(hl, ARCHIVE_FILTER_GZIP, linked, ELEMENTSOF(linked));
        CHECK(apply(dir, "[[overlays]]\ntype = \"file-remove\"\narchive = \"linked.tar.gz\"\nfile = \"a\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strcmp(d.items[0].message, "component 'hello': overlay 1 (file-remove): archive "
                                                     "'linked.tar.gz': 'p/b' is a hard link; only regular files, "
                                                     "directories and symbolic links can be repacked") == 0);
        diagnostics_release(&d);
        /* Not an archive. */
        put(dir, "junk.tar.gz", "not an archive", 0644);
        CHECK(apply(dir, "[[overlays]]\ntype = \"file-remove\"\narchive = \"junk.tar.gz\"\nfile = \"a\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strstr(d.items[0].message, "archive 'junk.tar.gz': "));
        diagnostics_release(&d);

        free(hl);
        free(xz);
        tree_free(dir);
        tree_free(dir2);
}

/* ---- check-skip, order, the spec file ------------------------------------------------------ */

static void test_check_skip(void) {
        char *e = edit(base_spec, "%check\n", "%check\nexit 0\n");
        SPEC_CASE(base_spec, "check-skip = true\ncheck-skip-reason = \"network\"\n", e);
        free(e);
        /* After the overlays: a %check an overlay adds gets it too. */
        SPEC_CASE("Name: a\n", "check-skip = true\ncheck-skip-reason = \"x\"\n"
                  "[[overlays]]\ntype = \"spec-append-lines\"\nlines = [\"%check\", \"make test\"]\n",
                  "Name: a\n%check\nexit 0\nmake test\n");
        /* No %check: nothing made, the spec untouched. */
        SPEC_CASE("Name: a\n%build\n", "check-skip = true\ncheck-skip-reason = \"x\"\n", "Name: a\n%build\n");

        /* A missing spec. */
        char *dir = tree_new();
        Diagnostics d = {};
        CHECK(apply(dir, "check-skip = true\ncheck-skip-reason = \"x\"\n", &d) == -EINVAL);
        CHECK(d.n == 1 && strstr(d.items[0].message, "component 'hello': cannot read the spec 'hello.spec'"));
        diagnostics_release(&d);
        tree_free(dir);
}

static void test_order_and_errors(void) {
        /* Errors are collected; the overlays that apply do. */
        char *dir = tree_new(), *out;
        Diagnostics d = {};
        put(dir, "hello.spec", base_spec, 0644);
        int r = apply(dir,
                      "[[overlays]]\ntype = \"spec-update-tag\"\ntag = \"Nope\"\nvalue = \"x\"\n"
                      "[[overlays]]\ntype = \"spec-set-tag\"\ntag = \"Version\"\nvalue = \"9\"\n"
                      "[[overlays]]\ntype = \"spec-search-replace\"\ndescription = \"drop the flag\"\n"
                      "section = \"%build\"\nregex = 'foo\\s+'\nreplacement = \"\"\n"
                      "[[overlays]]\ntype = \"spec-search-replace\"\ndescription = \"drop the flag\"\n"
                      "section = \"%build\"\nregex = 'foo\\s+'\n",
                      &d);
        CHECK(r == -EINVAL);
        CHECK(d.n == 2);
        if (d.n == 2) {
                CHECK_STREQ(d.items[0].message, "component 'hello': overlay 1 (spec-update-tag): tag Nope is not in "
                                                "the main package");
                CHECK(d.items[0].line == 9 && d.items[0].column == 7);
                CHECK_STREQ(d.items[1].message, "component 'hello': overlay 4 (spec-search-replace, \"drop the flag\"): "
                                                "regex 'foo\\s+' matches nothing in section %build");
                CHECK(d.items[1].line == 25 && d.items[1].column == 9);
        }
        out = get(dir, "hello.spec");
        char *e = edit(base_spec, "Version:        1.0\n", "Version:        9\n"), *f = edit(e, "--enable-foo ", "--enable-");
        CHECK_STREQ(out, f);
        free(out);
        free(e);
        free(f);
        diagnostics_release(&d);
        tree_free(dir);

        /* CRLF lines: tags read, untouched lines keep their bytes. */
        SPEC_CASE("Name: a\r\nVersion: 1\r\n%build\r\nmake\r\n",
                  "[[overlays]]\ntype = \"spec-set-tag\"\ntag = \"Version\"\nvalue = \"2\"\n",
                  "Name: a\r\nVersion: 2\r\n%build\r\nmake\r\n");
        /* A line continued from one ending in '\' starts no section. */
        SPEC_CASE("Name: a\n%global d \\\n%files\n%build\nmake\n",
                  "[[overlays]]\ntype = \"spec-prepend-lines\"\nsection = \"%build\"\nlines = [\"# b\"]\n",
                  "Name: a\n%global d \\\n%files\n%build\n# b\nmake\n");
        ERROR_CASE("Name: a\n%global d \\\n%files\n%build\nmake\n",
                   "[[overlays]]\ntype = \"spec-append-lines\"\nsection = \"%files\"\nlines = [\"/x\"]\n",
                   "component 'hello': overlay 1 (spec-append-lines): section %files is not in the spec", 9, 11);
}

/* ---- Release ------------------------------------------------------------------------------- */

static void release_case(const char *spec, ReleaseMode mode, const char *suffix, const char *expect, int line) {
        StrBuf b = STRBUF_INIT;
        char *error = NULL;
        strbuf_puts(&b, spec);
        int r = spec_release_apply(&b, mode, suffix, &error);
        if (r != 0 || strcmp(b.buf, expect) != 0)
                fprintf(stderr, "line %d: r=%d %s\n%s", line, r, error ? error : "", b.buf);
        CHECK(r == 0 && strcmp(b.buf, expect) == 0);
        free(error);
        strbuf_release(&b);
}
#define RELEASE_CASE(spec, mode, suffix, expect) release_case(spec, mode, suffix, expect, __LINE__)

static void release_error(const char *spec, ReleaseMode mode, const char *message, int line) {
        StrBuf b = STRBUF_INIT;
        char *error = NULL;
        strbuf_puts(&b, spec);
        int r = spec_release_apply(&b, mode, ".azl1", &error);
        if (r != -EBADMSG || !error || strcmp(error, message) != 0)
                fprintf(stderr, "line %d: r=%d '%s'\n", line, r, error ? error : "(null)");
        CHECK(r == -EBADMSG);
        CHECK_STREQ(error, message);
        CHECK_STREQ(b.buf, spec);
        free(error);
        strbuf_release(&b);
}

static void test_release(void) {
        char *e = edit(base_spec, "Release:        3%{?dist}\n", "Release:        4%{?dist}\n");
        RELEASE_CASE(base_spec, RELEASE_BUMP, NULL, e);
        free(e);
        e = edit(base_spec, "Release:        3%{?dist}\n", "Release:        3.azl1%{?dist}\n");
        RELEASE_CASE(base_spec, RELEASE_SUFFIX, ".azl1", e);
        free(e);
        RELEASE_CASE(base_spec, RELEASE_NONE, NULL, base_spec);
        RELEASE_CASE("Release: 0.5.rc1%{?dist}\n", RELEASE_BUMP, NULL, "Release: 1.5.rc1%{?dist}\n");
        RELEASE_CASE("Release: 0.5.rc1%{?dist}\n", RELEASE_SUFFIX, ".azl1", "Release: 0.5.azl1.rc1%{?dist}\n");
        RELEASE_CASE("Release: 99\n", RELEASE_BUMP, NULL, "Release: 100\n");
        RELEASE_CASE("Release: 99999999999999999999999\n", RELEASE_BUMP, NULL, "Release: 100000000000000000000000\n");
        RELEASE_CASE("release:\t09%{?dist}", RELEASE_BUMP, NULL, "release:\t10%{?dist}");
        /* Only the main package's, each of them. */
        RELEASE_CASE("%if 0\nRelease: 1\n%else\nRelease: 7\n%endif\n%package x\nRelease: 5\n", RELEASE_BUMP, NULL,
                     "%if 0\nRelease: 2\n%else\nRelease: 8\n%endif\n%package x\nRelease: 5\n");
        /* Through a macro the spec defines. */
        RELEASE_CASE("%global rel 3\n%define other 1\nRelease: %{rel}%{?dist}\n", RELEASE_BUMP, NULL,
                     "%global rel 4\n%define other 1\nRelease: %{rel}%{?dist}\n");
        RELEASE_CASE("%define baserelease 12\nRelease: %baserelease%{?dist}\n", RELEASE_SUFFIX, ".azl1",
                     "%define baserelease 12.azl1\nRelease: %baserelease%{?dist}\n");

        static const char hint[] = "set release-mode = \"none\", or set Release with a spec-set-tag overlay";
        char *m = strprintf("Release '%%autorelease' comes from %%autorelease, which slipway does not change: set "
                            "release-mode = \"none\" (and set Release with a spec-set-tag overlay if it must differ)");
        release_error("Name: a\nRelease: %autorelease\n", RELEASE_BUMP, m, __LINE__);
        free(m);
        m = strprintf("Release '%%{?autorelease}%%{!?autorelease:1%%{?dist}}' comes from %%autorelease, which slipway "
                      "does not change: set release-mode = \"none\" (and set Release with a spec-set-tag overlay if it "
                      "must differ)");
        release_error("Release: %{?autorelease}%{!?autorelease:1%{?dist}}\n", RELEASE_SUFFIX, m, __LINE__);
        free(m);
        m = strprintf("Release 'rc1%%{?dist}' does not start with a number: %s", hint);
        release_error("Release: rc1%{?dist}\n", RELEASE_BUMP, m, __LINE__);
        free(m);
        m = strprintf("Release '%%{rel}' does not start with a number: %s", hint);
        release_error("Release: %{rel}\n%global rel 3\n", RELEASE_BUMP, m, __LINE__);
        free(m);
        release_error("Name: a\n%package x\nRelease: 1\n", RELEASE_BUMP,
                      "the spec has no Release tag: set release-mode = \"none\", or add one with a spec-set-tag overlay",
                      __LINE__);

        StrBuf b = STRBUF_INIT;
        char *error = NULL;
        strbuf_puts(&b, "Release: 1\n");
        CHECK(spec_release_apply(&b, RELEASE_SUFFIX, NULL, &error) == -EINVAL);
        CHECK(spec_release_apply(&b, _RELEASE_MODE_MAX, NULL, &error) == -EINVAL);
        CHECK(!error);
        strbuf_release(&b);
}

UNIT_MAIN(test_tags, test_lines, test_sections, test_patches, test_files, test_archives, test_check_skip,
          test_order_and_errors, test_release)
