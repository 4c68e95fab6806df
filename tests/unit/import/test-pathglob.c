/* SPDX-License-Identifier: MIT */

/* '**' globs as azldev's configuration writes them (import/pathglob.h). */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import/pathglob.h"
#include "../unit.h"

static void check_norm(const char *in, const char *want) {
        char *got = path_normalize(in);
        CHECK_STREQ(got, want);
        free(got);
}

static void test_normalize(void) {
        check_norm("a/./b/../c", "a/c");
        check_norm("./azldev.toml", "azldev.toml");
        check_norm("a//b/", "a/b");
        check_norm("../x/../../y", "../../y");
        check_norm("a/..", ".");
        check_norm("", ".");
        check_norm("/a/../../b", "/b");
        check_norm("/", "/");
}

static void test_match(void) {
        CHECK(glob_match_path("**/*.comp.toml", "x.comp.toml"));
        CHECK(glob_match_path("**/*.comp.toml", "a/b/x.comp.toml"));
        CHECK(!glob_match_path("**/*.comp.toml", "a/b/x.toml"));
        CHECK(glob_match_path("specs/old/**", "specs/old/a/b.spec"));
        CHECK(!glob_match_path("specs/old/**", "specs/older/b.spec"));
        CHECK(glob_match_path("a/*/c", "a/b/c"));
        CHECK(!glob_match_path("a/*/c", "a/b/d/c"));
        CHECK(glob_match_path("a/**/c", "a/c"));
        CHECK(glob_match_path("*.toml", ".hidden.toml")); /* a leading '.' is not special */
        CHECK(!glob_match_path("/a/*", "a/b"));
        CHECK(glob_match_path("[ab].spec", "b.spec"));
}

static void touch(const char *dir, const char *rel) {
        char *p = path_join(dir, rel), *d = p ? path_dirname(p) : NULL;
        CHECK(d && mkdir_parents(d, 0755) == 0);
        CHECK(p && write_file_atomic(p, "x", 1, 0644) == 0);
        free(p);
        free(d);
}

static void test_expand(void) {
        char tmpl[] = "/tmp/test-pathglob-XXXXXX";
        CHECK(mkdtemp(tmpl) != NULL);
        touch(tmpl, "comps/z.comp.toml");
        touch(tmpl, "comps/a/a.comp.toml");
        touch(tmpl, "comps/a-b/c.comp.toml");
        touch(tmpl, "comps/a/deep/er/d.comp.toml");
        touch(tmpl, "comps/a/notes.md");
        char *pat;
        /* A loop, which '**' must not follow. */
        CHECK(asprintf(&pat, "%s/comps/loop", tmpl) > 0);
        CHECK(symlink(".", pat) == 0);
        free(pat);

        CHECK(asprintf(&pat, "%s/comps/**/*.comp.toml", tmpl) > 0);
        char **m = NULL;
        size_t n = 0;
        CHECK(glob_expand(pat, &m, &n) == 0);
        CHECK(n == 4);
        if (n == 4) {
                /* bytewise order of the paths */
                CHECK(strstr(m[0], "/comps/a-b/c.comp.toml"));
                CHECK(strstr(m[1], "/comps/a/a.comp.toml"));
                CHECK(strstr(m[2], "/comps/a/deep/er/d.comp.toml"));
                CHECK(strstr(m[3], "/comps/z.comp.toml"));
        }
        pathv_free(m);
        free(pat);

        CHECK(asprintf(&pat, "%s/comps/*/*.md", tmpl) > 0);
        CHECK(glob_expand(pat, &m, &n) == 0 && n == 1 && strstr(m[0], "/comps/a/notes.md"));
        pathv_free(m);
        free(pat);

        CHECK(asprintf(&pat, "%s/nothing/*.toml", tmpl) > 0);
        CHECK(glob_expand(pat, &m, &n) == 0 && n == 0 && m && !m[0]);
        pathv_free(m);
        free(pat);

        CHECK(asprintf(&pat, "rm -rf '%s'", tmpl) > 0);
        CHECK(system(pat) == 0);
        free(pat);
}

UNIT_MAIN(test_normalize, test_match, test_expand)
