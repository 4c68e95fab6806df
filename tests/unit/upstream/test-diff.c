/* SPDX-License-Identifier: MIT */

/* Unified diffs (src/upstream/diff.c): our output against GNU diff's on
 * generated pairs of texts; where the shortest edit script is ambiguous and
 * GNU chose another one, ours must still be as short (checked against a
 * dynamic-programming LCS) and `patch` must turn the old text into the new
 * one with it. Then speed on a large spec, a heavy rewrite under the cost
 * limit, and tree_diff() on directories. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "upstream/upstream.h"
#include "../unit.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t) (rng_state % n);
}

static char *ours(const char *a, size_t an, const char *b, size_t bn, unsigned context) {
        StrBuf sb = STRBUF_INIT;
        CHECK(text_diff_unified("a/x", a, an, "b/x", b, bn, context, &sb) == 0);
        return strbuf_detach(&sb, NULL);
}

static char *ours_str(const char *a, const char *b, unsigned context) {
        return ours(a, strlen(a), b, strlen(b), context);
}

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- helpers: lines, the shortest script, applying a diff -------------------------------- */

typedef struct Lines {
        const char **p;
        size_t *len;
        size_t n;
} Lines;

static Lines split_lines(const char *s, size_t size) {
        Lines l = { .p = calloc(size + 1, sizeof(char *)), .len = calloc(size + 1, sizeof(size_t)) };
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(s + i, '\n', size - i);
                size_t e = nl ? (size_t) (nl - s) + 1 : size;
                l.p[l.n] = s + i;
                l.len[l.n++] = e - i;
                i = e;
        }
        return l;
}

static void lines_free(Lines *l) {
        free(l->p);
        free(l->len);
}

static bool line_eq(const Lines *a, size_t i, const Lines *b, size_t j) {
        return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

/* The length of the shortest edit script (deleted plus inserted lines),
 * by the textbook O(NM) LCS table. */
static size_t shortest(const char *a, size_t an, const char *b, size_t bn) {
        Lines x = split_lines(a, an), y = split_lines(b, bn);
        size_t *row = calloc(y.n + 1, sizeof(size_t)), *prev = calloc(y.n + 1, sizeof(size_t));
        for (size_t i = 1; i <= x.n; i++) {
                for (size_t j = 1; j <= y.n; j++)
                        row[j] = line_eq(&x, i - 1, &y, j - 1) ? prev[j - 1] + 1 : MAX(prev[j], row[j - 1]);
                size_t *t = prev;
                prev = row;
                row = t;
        }
        size_t lcs = prev[y.n], r = x.n + y.n - 2 * lcs;
        free(row);
        free(prev);
        lines_free(&x);
        lines_free(&y);
        return r;
}

/* The '-' and '+' lines of a unified diff. */
static size_t script_length(const char *diff) {
        size_t n = 0;
        for (const char *p = diff; *p;) {
                if ((*p == '-' && strncmp(p, "--- ", 4) != 0) || (*p == '+' && strncmp(p, "+++ ", 4) != 0))
                        n++;
                const char *nl = strchr(p, '\n');
                p = nl ? nl + 1 : p + strlen(p);
        }
        return n;
}

/* Applies a unified diff to old strictly: every hunk's counts must match
 * its lines, context and removed lines must be old's lines at the stated
 * place, hunks in order. Returns the new text (NUL-terminated, *ret_size
 * bytes) or NULL if the diff does not apply. */
static char *apply(const char *old, size_t old_size, const char *diff, size_t *ret_size) {
        Lines o = split_lines(old, old_size);
        StrBuf out = STRBUF_INIT;
        size_t at = 0;      /* lines of old copied or consumed */
        size_t written = 0; /* lines of new */
        const char *p = diff;
        bool ok = true;
        if (*p) {
                ok = strncmp(p, "--- a/x\n+++ b/x\n", 16) == 0;
                p += 16;
        }
        while (ok && *p) {
                unsigned long a0, ac = 1, b0, bc = 1;
                int used = 0;
                if (sscanf(p, "@@ -%lu%n", &a0, &used) != 1) {
                        ok = false;
                        break;
                }
                p += used;
                if (*p == ',')
                        ac = strtoul(p + 1, (char **) &p, 10);
                if (sscanf(p, " +%lu%n", &b0, &used) != 1) {
                        ok = false;
                        break;
                }
                p += used;
                if (*p == ',')
                        bc = strtoul(p + 1, (char **) &p, 10);
                if (strncmp(p, " @@\n", 4) != 0) {
                        ok = false;
                        break;
                }
                p += 4;
                size_t start = ac == 0 ? a0 : a0 - 1;
                if (start < at || start > o.n) {
                        ok = false;
                        break;
                }
                for (; at < start; at++, written++)
                        strbuf_put(&out, o.p[at], o.len[at]);
                /* The new side's position must agree with what was written. */
                if ((bc == 0 ? b0 : b0 - 1) != written) {
                        ok = false;
                        break;
                }
                unsigned long seen_a = 0, seen_b = 0;
                while (ok && (*p == ' ' || *p == '-' || *p == '+')) {
                        char kind = *p++;
                        const char *nl = strchr(p, '\n');
                        if (!nl) {
                                ok = false;
                                break;
                        }
                        size_t len = (size_t) (nl - p) + 1;
                        bool no_newline = strncmp(nl + 1, "\\ No newline at end of file\n", 28) == 0;
                        size_t real = no_newline ? len - 1 : len;
                        if (kind != '+') {
                                if (at >= o.n || o.len[at] != real || memcmp(o.p[at], p, real) != 0) {
                                        ok = false;
                                        break;
                                }
                                at++;
                                seen_a++;
                        }
                        if (kind != '-') {
                                strbuf_put(&out, p, real);
                                seen_b++;
                                written++;
                        }
                        p = nl + 1 + (no_newline ? 28 : 0);
                }
                ok = ok && seen_a == ac && seen_b == bc;
        }
        for (; ok && at < o.n; at++)
                strbuf_put(&out, o.p[at], o.len[at]);
        lines_free(&o);
        char *r = strbuf_detach(&out, ret_size);
        if (!ok) {
                free(r);
                return NULL;
        }
        return r;
}

static bool applies(const char *a, size_t an, const char *b, size_t bn, const char *diff) {
        size_t n;
        char *r = apply(a, an, diff, &n);
        bool ok = r && n == bn && memcmp(r, b, bn) == 0;
        free(r);
        return ok;
}

/* ---- exact cases ------------------------------------------------------------------------ */

static void test_exact(void) {
        char *d;

        d = ours_str("a\nb\nc\n", "a\nb\nc\n", 3);
        CHECK_STREQ(d, "");
        free(d);

        d = ours_str("a\nb\nc\n", "a\nB\nc\n", 3);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
        free(d);

        d = ours_str("", "q", 3);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+q\n\\ No newline at end of file\n");
        free(d);

        d = ours_str("x\ny\n", "", 3);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -1,2 +0,0 @@\n-x\n-y\n");
        free(d);

        /* The same last line, with and without its newline. */
        d = ours_str("a\nb", "a\nb\n", 3);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
        free(d);

        /* An unchanged last line without newline as context. */
        d = ours_str("a\nb\nc", "A\nb\nc", 3);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n\\ No newline at end of file\n");
        free(d);

        /* Context 0: an insertion names the line before it. */
        d = ours_str("1\n2\n3\n", "1\n2\nnew\n3\n", 0);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -2,0 +3 @@\n+new\n");
        free(d);

        /* Two changes 6 lines apart share a hunk with 3 lines of context;
         * 7 apart, they do not. */
        const char *t = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n";
        d = ours_str(t, "1\nX\n3\n4\n5\n6\n7\n8\nY\n10\n11\n12\n13\n14\n", 3);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -1,12 +1,12 @@\n 1\n-2\n+X\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+Y\n 10\n 11\n 12\n");
        free(d);
        d = ours_str(t, "1\nX\n3\n4\n5\n6\n7\n8\n9\nY\n11\n12\n13\n14\n", 3);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n@@ -7,7 +7,7 @@\n 7\n 8\n 9\n-10\n+Y\n"
                       " 11\n 12\n 13\n");
        free(d);

        /* A run of equal lines: the change slides down, as in diff. */
        d = ours_str("a\nb\nb\nc\n", "a\nb\nc\n", 0);
        CHECK_STREQ(d, "--- a/x\n+++ b/x\n@@ -3 +2,0 @@\n-b\n");
        free(d);
}

/* ---- against GNU diff ------------------------------------------------------------------- */

static char tmp_dir[] = "/tmp/test-diff.XXXXXX";

static void write_text(const char *name, const char *data, size_t size) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
        FILE *f = fopen(path, "we");
        CHECK(f && fwrite(data, 1, size, f) == size);
        CHECK(f && fclose(f) == 0);
}

static bool have_tool(const char *cmd) {
        char *out = NULL;
        int r = unit_run(cmd, &out, NULL);
        free(out);
        return r == 0;
}

/* A random text: lines drawn from an alphabet of `alphabet` lines (small:
 * many equal lines, ambiguous scripts), or all distinct when alphabet is 0. */
static void random_text(StrBuf *sb, size_t lines, unsigned alphabet, unsigned *serial) {
        for (size_t i = 0; i < lines; i++) {
                if (alphabet == 0)
                        strbuf_printf(sb, "line %u\n", (*serial)++);
                else
                        strbuf_printf(sb, "%c\n", 'a' + (int) rnd(alphabet));
        }
}

/* b from a by random edits: runs deleted, inserted, replaced. New lines
 * are distinct from all others when alphabet is 0. */
static void random_edit(const char *a, size_t an, StrBuf *b, unsigned alphabet, unsigned *serial) {
        Lines l = split_lines(a, an);
        for (size_t i = 0; i <= l.n;) {
                unsigned op = rnd(12);
                if (op == 0 && i < l.n) /* delete a run */
                        i += 1 + rnd(4);
                else if (op == 1) /* insert a run */
                        random_text(b, 1 + rnd(4), alphabet, serial);
                else if (op == 2 && i < l.n) { /* replace a run */
                        i += 1 + rnd(3);
                        random_text(b, 1 + rnd(3), alphabet, serial);
                } else if (i < l.n) {
                        strbuf_put(b, l.p[i], l.len[i]);
                        i++;
                } else
                        break;
        }
        lines_free(&l);
}

static void strip_final_newline(StrBuf *sb) {
        if (sb->len > 0 && sb->buf[sb->len - 1] == '\n')
                sb->buf[--sb->len] = 0;
}

static unsigned gnu_same, gnu_other, gnu_cases;

/* Compares our diff of a pair with GNU diff's. exact: the pair has one
 * shortest script (all lines distinct), so the outputs must be equal. */
static void compare_with_gnu(const char *a, size_t an, const char *b, size_t bn, unsigned context, bool exact,
                             bool with_patch) {
        write_text("a", a, an);
        write_text("b", b, bn);
        char cmd[512], *gnu = NULL;
        snprintf(cmd, sizeof cmd, "diff -U%u --label a/x --label b/x %s/a %s/b", context, tmp_dir, tmp_dir);
        int r = unit_run(cmd, &gnu, NULL);
        CHECK(r == 0 || r == 1);
        char *d = ours(a, an, b, bn, context);
        gnu_cases++;
        if (d && gnu && strcmp(d, gnu) == 0) {
                gnu_same++;
                free(d);
                free(gnu);
                return;
        }
        gnu_other++;
        if (exact) {
                CHECK_STREQ(d, gnu);
                fprintf(stderr, "a:\n%.*s\nb:\n%.*s\n", (int) an, a, (int) bn, b);
        }
        /* Another script: as short as can be, and patch applies it. */
        CHECK(script_length(d) == shortest(a, an, b, bn));
        CHECK(applies(a, an, b, bn, d));
        if (with_patch) {
                write_text("ours.diff", d, strlen(d));
                snprintf(cmd, sizeof cmd,
                         "patch -s -o %s/patched %s/a < %s/ours.diff >/dev/null 2>&1 && cmp -s %s/patched %s/b", tmp_dir,
                         tmp_dir, tmp_dir, tmp_dir, tmp_dir);
                char *out = NULL;
                CHECK(unit_run(cmd, &out, NULL) == 0);
                free(out);
        }
        free(d);
        free(gnu);
}

static void test_against_gnu(void) {
        if (!have_tool("diff --version >/dev/null 2>&1") || !have_tool("patch --version >/dev/null 2>&1")) {
                printf("skipped: GNU diff or patch missing (apt-get install diffutils patch)\n");
                return;
        }
        CHECK(mkdtemp(tmp_dir) != NULL);
        static const unsigned contexts[] = { 0, 3, 5 };
        unsigned serial = 0;

        /* Distinct lines: exactly GNU's output. */
        for (unsigned i = 0; i < 300; i++) {
                StrBuf a = STRBUF_INIT, b = STRBUF_INIT;
                random_text(&a, rnd(60), 0, &serial);
                random_edit(a.buf ? a.buf : "", a.len, &b, 0, &serial);
                if (rnd(5) == 0)
                        strip_final_newline(&a);
                if (rnd(5) == 0)
                        strip_final_newline(&b);
                compare_with_gnu(a.buf ? a.buf : "", a.len, b.buf ? b.buf : "", b.len, contexts[i % 3], true,
                                 false);
                strbuf_release(&a);
                strbuf_release(&b);
        }
        unsigned exact_cases = gnu_cases, exact_same = gnu_same;

        /* Repeated lines: the same output or another shortest script. */
        for (unsigned i = 0; i < 600; i++) {
                StrBuf a = STRBUF_INIT, b = STRBUF_INIT;
                unsigned alphabet = 2 + rnd(12);
                random_text(&a, rnd(80), alphabet, &serial);
                if (i % 7 == 0)
                        random_text(&b, rnd(80), alphabet, &serial); /* unrelated texts */
                else
                        random_edit(a.buf ? a.buf : "", a.len, &b, alphabet, &serial);
                if (rnd(5) == 0)
                        strip_final_newline(&a);
                if (rnd(5) == 0)
                        strip_final_newline(&b);
                compare_with_gnu(a.buf ? a.buf : "", a.len, b.buf ? b.buf : "", b.len, contexts[i % 3], false,
                                 i % 4 == 0);
                strbuf_release(&a);
                strbuf_release(&b);
        }

        /* Identical, empty and one-sided pairs. */
        compare_with_gnu("", 0, "", 0, 3, true, false);
        compare_with_gnu("a\n", 2, "a\n", 2, 3, true, false);
        compare_with_gnu("a", 1, "", 0, 3, true, false);
        compare_with_gnu("", 0, "a\nb\n", 4, 0, true, false);
        compare_with_gnu("a", 1, "a\n", 2, 0, true, false);
        compare_with_gnu("a\n", 2, "b", 1, 5, true, false);

        printf("GNU diff: distinct lines %u/%u equal; repeated lines %u/%u equal (the rest another shortest "
               "script)\n",
               exact_same, exact_cases, gnu_same - exact_same, gnu_cases - exact_cases);
        CHECK(rm_rf(tmp_dir) == 0);
}

/* ---- minimality and round trips in bulk --------------------------------------------------- */

static void test_shortest_bulk(void) {
        unsigned serial = 0;
        for (unsigned i = 0; i < 20000; i++) {
                StrBuf a = STRBUF_INIT, b = STRBUF_INIT;
                unsigned alphabet = 1 + rnd(6);
                random_text(&a, rnd(40), alphabet, &serial);
                if (i % 3 == 0)
                        random_text(&b, rnd(40), alphabet, &serial);
                else
                        random_edit(a.buf ? a.buf : "", a.len, &b, alphabet, &serial);
                if (rnd(4) == 0)
                        strip_final_newline(&a);
                if (rnd(4) == 0)
                        strip_final_newline(&b);
                const char *x = a.buf ? a.buf : "", *y = b.buf ? b.buf : "";
                char *d = ours(x, a.len, y, b.len, rnd(4));
                size_t want = shortest(x, a.len, y, b.len), got = script_length(d);
                bool ok = applies(x, a.len, y, b.len, d);
                CHECK(got == want);
                CHECK(ok);
                if (got != want || !ok) {
                        fprintf(stderr, "a:\n%s\nb:\n%s\ndiff:\n%s\n", x, y, d);
                        i = 20000;
                }
                free(d);
                strbuf_release(&a);
                strbuf_release(&b);
        }
}

/* ---- speed ---------------------------------------------------------------------------------- */

static void spec_like(StrBuf *sb, unsigned lines) {
        static const char *const common[] = { "", "%files", "%doc README", "}", "fi", "done", "%endif", "\tmake" };
        for (unsigned i = 0; i < lines; i++) {
                if (rnd(4) == 0)
                        strbuf_printf(sb, "%s\n", common[rnd(ELEMENTSOF(common))]);
                else
                        strbuf_printf(sb, "Requires: lib%u-devel >= %u.%u\n", i, rnd(9), rnd(30));
        }
}

static void test_speed_large_spec(void) {
        StrBuf a = STRBUF_INIT, b = STRBUF_INIT;
        spec_like(&a, 20000);
        /* A few overlay-like changes: a replaced line, an added tag, a removed block. */
        Lines l = split_lines(a.buf, a.len);
        for (size_t i = 0; i < l.n; i++) {
                if (i == 10)
                        strbuf_puts(&b, "Release: 2.azl1%{?dist}\n");
                else if (i == 11)
                        strbuf_puts(&b, "Patch9999: fix.patch\n");
                else if (i >= 9000 && i < 9040)
                        continue;
                else if (i == 15000)
                        strbuf_puts(&b, "BuildRequires: extra\n");
                if (i != 10)
                        strbuf_put(&b, l.p[i], l.len[i]);
        }
        lines_free(&l);

        double t0 = now_ms();
        char *d = ours(a.buf, a.len, b.buf, b.len, 3);
        double ms = now_ms() - t0;
        printf("20,000-line spec, 4 changes: %.2f ms\n", ms);
        CHECK(ms < 100);
        CHECK(applies(a.buf, a.len, b.buf, b.len, d));
        CHECK(script_length(d) == 2 + 1 + 40 + 1);
        free(d);
        strbuf_release(&a);
        strbuf_release(&b);
}

static void test_speed_rewrite(void) {
        /* Two unrelated 20,000-line texts of 40 distinct lines each: every
         * line has thousands of partners, the shortest script is huge, and
         * the cost limit has to keep the time down. */
        StrBuf a = STRBUF_INIT, b = STRBUF_INIT;
        unsigned serial = 0;
        random_text(&a, 20000, 26, &serial);
        random_text(&b, 20000, 26, &serial);
        double t0 = now_ms();
        char *d = ours(a.buf, a.len, b.buf, b.len, 3);
        double ms = now_ms() - t0;
        printf("two unrelated 20,000-line texts: %.2f ms, script %zu lines\n", ms, script_length(d));
        CHECK(ms < 2000);
        CHECK(applies(a.buf, a.len, b.buf, b.len, d));
        free(d);

        /* Moderately edited: many scattered changes, still exact. */
        strbuf_release(&b);
        random_edit(a.buf, a.len, &b, 26, &serial);
        t0 = now_ms();
        d = ours(a.buf, a.len, b.buf, b.len, 3);
        ms = now_ms() - t0;
        printf("20,000 lines with ~%u scattered edits: %.2f ms\n", 20000 / 4, ms);
        CHECK(ms < 2000);
        CHECK(applies(a.buf, a.len, b.buf, b.len, d));
        free(d);
        strbuf_release(&a);
        strbuf_release(&b);
}

/* ---- trees -------------------------------------------------------------------------------- */

static void put(const char *dir, const char *name, const char *data, size_t size) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        _cleanup_free_ char *parent = path_dirname(path);
        CHECK(mkdir_parents(parent, 0755) == 0);
        CHECK(write_file_atomic(path, data, size, 0644) == 0);
}

static void test_tree(void) {
        char top[] = "/tmp/test-tree-diff.XXXXXX";
        CHECK(mkdtemp(top) != NULL);
        char a[600], b[600], path[700];
        snprintf(a, sizeof a, "%s/a", top);
        snprintf(b, sizeof b, "%s/b", top);

        put(a, "same.txt", "same\n", 5);
        put(b, "same.txt", "same\n", 5);
        put(a, "pkg.spec", "Name: x\nRelease: 1\n", 19);
        put(b, "pkg.spec", "Name: x\nRelease: 2\n", 19);
        put(a, "gone.patch", "old\n", 4);
        put(b, "new.patch", "new\n", 4);
        put(a, "bin.dat", "\0\1\2", 3);
        put(b, "bin.dat", "\0\1\3", 3);
        put(a, "sub/deep/f", "1\n", 2);
        put(b, "sub/deep/f", "1\n2\n", 4);
        put(a, "was-file", "f\n", 2);
        put(b, "was-file/inside", "i\n", 2);
        put(a, "empty-dir-only-in-a/.keep-not", "", 0); /* an empty file is a file */
        snprintf(path, sizeof path, "%s/link", a);
        CHECK(symlink("target-one", path) == 0);
        snprintf(path, sizeof path, "%s/link", b);
        CHECK(symlink("target-two", path) == 0);
        snprintf(path, sizeof path, "%s/dirlink", a);
        CHECK(symlink("sub", path) == 0); /* a link to a directory is not followed */
        snprintf(path, sizeof path, "%s/dirlink", b);
        CHECK(symlink("sub", path) == 0);
        snprintf(path, sizeof path, "%s/type", a);
        CHECK(symlink("same.txt", path) == 0);
        put(b, "type", "same.txt\n", 9);

        TreeDiffEntry *e = NULL;
        size_t n = 0;
        CHECK(tree_diff(a, b, 3, &e, &n) == 0);
        static const struct {
                const char *path;
                TreeChange change;
                bool binary;
        } want[] = {
                { "bin.dat", TREE_MODIFIED, true },
                { "empty-dir-only-in-a/.keep-not", TREE_REMOVED, false },
                { "gone.patch", TREE_REMOVED, false },
                { "link", TREE_MODIFIED, false },
                { "new.patch", TREE_ADDED, false },
                { "pkg.spec", TREE_MODIFIED, false },
                { "sub/deep/f", TREE_MODIFIED, false },
                { "type", TREE_REMOVED, false },
                { "type", TREE_ADDED, false },
                { "was-file", TREE_REMOVED, false },
                { "was-file/inside", TREE_ADDED, false },
        };
        CHECK(n == ELEMENTSOF(want));
        for (size_t i = 0; i < MIN(n, ELEMENTSOF(want)); i++) {
                CHECK_STREQ(e[i].path, want[i].path);
                CHECK(e[i].change == want[i].change);
                CHECK(e[i].binary == want[i].binary);
                CHECK(e[i].binary == !e[i].diff);
        }
        if (n == ELEMENTSOF(want)) {
                CHECK_STREQ(e[3].diff, "--- a/link\n+++ b/link\n@@ -1 +1 @@\n-target-one\n+target-two\n");
                CHECK_STREQ(e[4].diff, "--- a/new.patch\n+++ b/new.patch\n@@ -0,0 +1 @@\n+new\n");
                CHECK_STREQ(e[2].diff, "--- a/gone.patch\n+++ b/gone.patch\n@@ -1 +0,0 @@\n-old\n");
                CHECK_STREQ(e[5].diff, "--- a/pkg.spec\n+++ b/pkg.spec\n@@ -1,2 +1,2 @@\n Name: x\n-Release: 1\n+Release: 2\n");
                CHECK_STREQ(e[1].diff, "");
                CHECK_STREQ(e[7].diff, "--- a/type\n+++ b/type\n@@ -1 +0,0 @@\n-same.txt\n");
        }
        tree_diff_free(e, n);

        /* One side missing: everything added. */
        CHECK(tree_diff(NULL, b, 0, &e, &n) == 0);
        CHECK(n == 9);
        for (size_t i = 0; i < n; i++)
                CHECK(e[i].change == TREE_ADDED);
        tree_diff_free(e, n);
        CHECK(tree_diff(a, a, 3, &e, &n) == 0);
        CHECK(n == 0);
        tree_diff_free(e, n);

        /* A missing directory is an error, not an empty tree. */
        snprintf(path, sizeof path, "%s/none", top);
        e = NULL;
        CHECK(tree_diff(a, path, 3, &e, &n) == -ENOENT);
        CHECK(!e);

        CHECK_STREQ(tree_change_to_string(TREE_ADDED), "added");
        CHECK_STREQ(tree_change_to_string(TREE_REMOVED), "removed");
        CHECK_STREQ(tree_change_to_string(TREE_MODIFIED), "modified");
        CHECK(!tree_change_to_string(_TREE_CHANGE_MAX));
        CHECK(rm_rf(top) == 0);
}

UNIT_MAIN(test_exact, test_against_gnu, test_shortest_bulk, test_speed_large_spec, test_speed_rewrite, test_tree)
