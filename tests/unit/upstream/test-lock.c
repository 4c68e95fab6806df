/* SPDX-License-Identifier: MIT */

/* slipway.lock (lock.c) and the dist-git `sources` file (sources.c): both
 * formats of the sources file and the lines it refuses; the lock read back
 * as it was written, byte for byte, and every error at its place. */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "upstream/upstream.h"
#include "../unit.h"

#define SHA512_A "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define MD5_B "d41d8cd98f00b204e9800998ecf8427e"
#define COMMIT_A "0123456789abcdef0123456789abcdef01234567"

static char dir[] = "/tmp/test-lock-XXXXXX";

/* ---- sources ---- */

static void test_sources_formats(void) {
        const char *text = "SHA512 (bash-5.2.tar.gz) = " SHA512_A "\n"
                           "\n"
                           MD5_B "  bash-5.2-patches.tar.bz2\r\n"
                           "sha256 (odd) = name.tar) = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
                           "   \n"
                           "SHA1 (gtk+-2.tar.xz) = DA39A3EE5E6B4B0D3255BFEF95601890AFD80709";
        LockSource *s = NULL;
        size_t n = 0;
        char *err = (char *) "unset";

        CHECK(sources_parse(text, strlen(text), &s, &n, &err) == 0);
        CHECK(err == NULL);
        CHECK(n == 4);
        if (n == 4) {
                CHECK_STREQ(s[0].file, "bash-5.2.tar.gz");
                CHECK_STREQ(s[0].hashtype, "sha512");
                CHECK_STREQ(s[0].hash, SHA512_A);
                CHECK_STREQ(s[1].file, "bash-5.2-patches.tar.bz2");
                CHECK_STREQ(s[1].hashtype, "md5");
                CHECK_STREQ(s[1].hash, MD5_B);
                /* The name runs to the last ") = ". */
                CHECK_STREQ(s[2].file, "odd) = name.tar");
                CHECK_STREQ(s[2].hashtype, "sha256");
                /* Type and hash lower-cased. */
                CHECK_STREQ(s[3].file, "gtk+-2.tar.xz");
                CHECK_STREQ(s[3].hashtype, "sha1");
                CHECK_STREQ(s[3].hash, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        }
        lock_sources_free(s, n);

        /* Empty and blank files name nothing. */
        s = NULL;
        CHECK(sources_parse("", 0, &s, &n, &err) == 0 && n == 0);
        lock_sources_free(s, n);
        CHECK(sources_parse("\n \n\t\n", 5, &s, &n, &err) == 0 && n == 0);
        lock_sources_free(s, n);
}

static void bad_sources(const char *text, size_t size, const char *want) {
        LockSource *s = (LockSource *) 1;
        size_t n = 77;
        char *err = NULL;
        CHECK(sources_parse(text, size, &s, &n, &err) == -EBADMSG);
        CHECK(s == (LockSource *) 1 && n == 77); /* untouched */
        CHECK_STREQ(err, want);
        free(err);
}

static void test_sources_errors(void) {
        {
                const char *t = "SHA512 (a.tar) = " SHA512_A "\nnonsense\n";
                bad_sources(t, strlen(t), "line 2: expected 'SHA512 (FILE) = HASH' or 'MD5-HASH  FILE'");
        }
        {
                const char *t = "SHA384 (a.tar) = 00\n";
                bad_sources(t, strlen(t), "line 1: unknown hash type 'sha384' (expected MD5, SHA1, SHA256 or SHA512)");
        }
        {
                const char *t = "\n\nSHA512 (a.tar) = " MD5_B "\n";
                bad_sources(t, strlen(t), "line 3: the sha512 hash of 'a.tar' must be 128 hexadecimal digits");
        }
        {
                /* The old format is md5: a sha512 there is the wrong length. */
                const char *t = SHA512_A "  a.tar\n";
                bad_sources(t, strlen(t), "line 1: the md5 hash of 'a.tar' must be 32 hexadecimal digits");
        }
        {
                const char *t = "d41d8cd98f00b204e9800998ecf8427g  a.tar\n";
                bad_sources(t, strlen(t), "line 1: the md5 hash of 'a.tar' must be 32 hexadecimal digits");
        }
        {
                const char *t = MD5_B "  ../a.tar\n";
                bad_sources(t, strlen(t),
                            "line 1: not a file name for a source: it has a '/' (a source is one file beside the spec)");
        }
        {
                const char *t = "SHA512 (..) = " SHA512_A "\n";
                bad_sources(t, strlen(t), "line 1: not a file name for a source: it is '.' or '..'");
        }
        {
                const char *t = "SHA512 () = " SHA512_A "\n";
                bad_sources(t, strlen(t), "line 1: not a file name for a source: it is empty");
        }
        {
                const char *t = MD5_B "  a\x01.tar\n";
                bad_sources(t, strlen(t), "line 1: not a file name for a source: it has a control character");
        }
        {
                const char *t = MD5_B "  a\xff.tar\n";
                bad_sources(t, strlen(t), "line 1: not a file name for a source: it is not valid UTF-8");
        }
        {
                /* An overlong '/' is not valid UTF-8 either. */
                const char *t = MD5_B "  a\xc0\xaf.tar\n";
                bad_sources(t, strlen(t), "line 1: not a file name for a source: it is not valid UTF-8");
        }
        {
                static const char t[] = MD5_B "  a\0b\n";
                bad_sources(t, sizeof t - 1, "line 1: not a file name for a source: it has a control character");
        }
        {
                const char *t = "SHA512 (a.tar) " SHA512_A "\n";
                bad_sources(t, strlen(t), "line 1: expected 'SHA512 (FILE) = HASH' or 'MD5-HASH  FILE'");
        }
        {
                const char *t = MD5_B " a.tar\n"; /* one space */
                bad_sources(t, strlen(t), "line 1: expected 'SHA512 (FILE) = HASH' or 'MD5-HASH  FILE'");
        }
        /* UTF-8 in a name is fine. */
        {
                const char *t = MD5_B "  caf\xc3\xa9-\xe2\x82\xac.tar\n";
                LockSource *s = NULL;
                size_t n = 0;
                char *err = NULL;
                CHECK(sources_parse(t, strlen(t), &s, &n, &err) == 0 && n == 1);
                lock_sources_free(s, n);
        }
}

/* ---- the lock ---- */

static char *path_in(const char *name) {
        return strprintf("%s/%s", dir, name);
}

static void entry(Lock *l, const char *name, const char *url, const char *branch, const char *commit, size_t n_sources) {
        LockEntry e = {
                .name = strdup(name),
                .url = strdup(url),
                .branch = branch ? strdup(branch) : NULL,
                .commit = strdup(commit),
        };
        if (n_sources > 0) {
                e.sources = calloc(n_sources, sizeof *e.sources);
                for (size_t i = 0; i < n_sources; i++) {
                        e.sources[i].file = strprintf("%s-%zu.tar.gz", name, i);
                        e.sources[i].hashtype = strdup(i % 2 ? "md5" : "sha512");
                        e.sources[i].hash = strdup(i % 2 ? MD5_B : SHA512_A);
                }
                e.n_sources = n_sources;
        }
        CHECK(lock_set(l, &e) == 0);
        CHECK(e.name == NULL);
}

static bool entries_equal(const LockEntry *a, const LockEntry *b) {
        if (strcmp(a->name, b->name) || strcmp(a->url, b->url) || strcmp(a->commit, b->commit) ||
            !a->branch != !b->branch || (a->branch && strcmp(a->branch, b->branch)) || a->n_sources != b->n_sources)
                return false;
        for (size_t i = 0; i < a->n_sources; i++)
                if (strcmp(a->sources[i].file, b->sources[i].file) ||
                    strcmp(a->sources[i].hashtype, b->sources[i].hashtype) ||
                    strcmp(a->sources[i].hash, b->sources[i].hash))
                        return false;
        return true;
}

static void test_lock_round_trip(void) {
        _cleanup_free_ char *p = path_in("slipway.lock"), *p2 = path_in("again.lock");
        Diagnostics d = {};
        Lock *l = NULL, *back = NULL;

        /* A missing file is an empty lock with its path. */
        CHECK(lock_load(p, &l, &d) == 0);
        if (!l)
                return;
        CHECK(l->n == 0);
        CHECK_STREQ(l->path, p);

        /* Added out of order; kept sorted. */
        entry(l, "zsh", "https://src.fedoraproject.org/rpms/zsh.git", "f43", COMMIT_A, 1);
        entry(l, "bash", "https://src.fedoraproject.org/rpms/bash.git", "f43", COMMIT_A, 2);
        entry(l, "python3.12", "file:///srv/git/python3.12", NULL, "89abcdef0123456789abcdef0123456789abcdef", 0);
        entry(l, "odd\"name\\x", "https://example.com/a \"b\"\t\x01.git", "br\"anch", COMMIT_A, 0);
        entry(l, "mc", "https://example.com/mc.git", "main", COMMIT_A, 3);
        /* Replacing keeps one entry of a name. */
        entry(l, "mc", "https://example.com/mc.git", "f42", COMMIT_A, 1);
        CHECK(l->n == 5);
        CHECK_STREQ(l->items[0].name, "bash");
        CHECK_STREQ(l->items[1].name, "mc");
        CHECK_STREQ(l->items[1].branch, "f42");
        CHECK_STREQ(l->items[2].name, "odd\"name\\x");
        CHECK_STREQ(l->items[3].name, "python3.12");
        CHECK_STREQ(l->items[4].name, "zsh");
        CHECK(lock_find(l, "zsh") == &l->items[4]);
        CHECK(lock_find(l, "nope") == NULL);
        CHECK(lock_save(l) == 0);

        _cleanup_free_ char *text = NULL;
        size_t size;
        CHECK(read_full_file(p, &text, &size) == 0);
        CHECK_STREQ(text,
                    "# slipway.lock: the exact upstream inputs of every upstream component.\n"
                    "# Written by slipway (`slipway update` moves it); commit it with the project.\n"
                    "version = 1\n"
                    "\n"
                    "[components.bash]\n"
                    "url = \"https://src.fedoraproject.org/rpms/bash.git\"\n"
                    "branch = \"f43\"\n"
                    "commit = \"" COMMIT_A "\"\n"
                    "sources = [\n"
                    "  { file = \"bash-0.tar.gz\", hashtype = \"sha512\", hash = \"" SHA512_A "\" },\n"
                    "  { file = \"bash-1.tar.gz\", hashtype = \"md5\", hash = \"" MD5_B "\" },\n"
                    "]\n"
                    "\n"
                    "[components.mc]\n"
                    "url = \"https://example.com/mc.git\"\n"
                    "branch = \"f42\"\n"
                    "commit = \"" COMMIT_A "\"\n"
                    "sources = [\n"
                    "  { file = \"mc-0.tar.gz\", hashtype = \"sha512\", hash = \"" SHA512_A "\" },\n"
                    "]\n"
                    "\n"
                    "[components.\"odd\\\"name\\\\x\"]\n"
                    "url = \"https://example.com/a \\\"b\\\"\\t\\u0001.git\"\n"
                    "branch = \"br\\\"anch\"\n"
                    "commit = \"" COMMIT_A "\"\n"
                    "sources = []\n"
                    "\n"
                    "[components.\"python3.12\"]\n"
                    "url = \"file:///srv/git/python3.12\"\n"
                    "commit = \"89abcdef0123456789abcdef0123456789abcdef\"\n"
                    "sources = []\n"
                    "\n"
                    "[components.zsh]\n"
                    "url = \"https://src.fedoraproject.org/rpms/zsh.git\"\n"
                    "branch = \"f43\"\n"
                    "commit = \"" COMMIT_A "\"\n"
                    "sources = [\n"
                    "  { file = \"zsh-0.tar.gz\", hashtype = \"sha512\", hash = \"" SHA512_A "\" },\n"
                    "]\n");

        /* load(save(x)) == x, and saving it again gives the same bytes. */
        CHECK(lock_load(p, &back, &d) == 0);
        CHECK(d.n == 0);
        if (back) {
                CHECK(back->n == l->n);
                for (size_t i = 0; i < l->n && i < back->n; i++)
                        CHECK(entries_equal(&l->items[i], &back->items[i]));
                /* Each entry knows where it stands. */
                LockEntry *mc = lock_find(back, "mc");
                CHECK(mc && mc->pos.line == 14 && mc->pos.column == 1 && mc->pos.file == back->path);
                free(back->path);
                back->path = strdup(p2);
                CHECK(lock_save(back) == 0);
                CHECK(unit_files_equal(p, p2));

                /* A copy is deep and equal. */
                LockEntry c;
                CHECK(lock_entry_copy(mc, &c) == 0);
                CHECK(entries_equal(&c, mc) && c.sources != mc->sources && c.pos.line == 14);
                lock_entry_release(&c);

                lock_remove(back, "mc");
                lock_remove(back, "absent");
                lock_remove(back, "zsh");
                CHECK(back->n == 3 && lock_find(back, "mc") == NULL);
                CHECK_STREQ(back->items[2].name, "python3.12");
                lock_remove(back, "bash");
                lock_remove(back, "odd\"name\\x");
                lock_remove(back, "python3.12");
                CHECK(back->n == 0);
                CHECK(lock_save(back) == 0);
                _cleanup_free_ char *empty = NULL;
                CHECK(read_full_file(p2, &empty, &size) == 0);
                CHECK(empty && strstr(empty, "version = 1\n") && !strchr(strstr(empty, "version = 1\n") + 12, '['));
        }
        lock_free(back);
        lock_free(l);
        diagnostics_release(&d);
}

/* The lock text gives exactly the error want at line:column. */
static void bad_lock(const char *text, unsigned line, unsigned column, const char *want) {
        _cleanup_free_ char *p = path_in("bad.lock");
        Diagnostics d = {};
        Lock *l = (Lock *) 1;

        CHECK(write_file_atomic(p, text, strlen(text), 0644) == 0);
        CHECK(lock_load(p, &l, &d) == -EINVAL);
        CHECK(l == (Lock *) 1);
        CHECK(d.n_errors >= 1);
        bool found = false;
        for (size_t i = 0; i < d.n; i++)
                if (d.items[i].line == line && d.items[i].column == column && d.items[i].file &&
                    strcmp(d.items[i].file, p) == 0 && strstr(d.items[i].message, want))
                        found = true;
        if (!found) {
                fprintf(stderr, "wanted %u:%u: %s; got:\n", line, column, want);
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "  %u:%u: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
        }
        CHECK(found);
        diagnostics_release(&d);
}

#define HEAD "version = 1\n[components.a]\nurl = \"https://x/a.git\"\n"

static void test_lock_errors(void) {
        bad_lock("version = 2\n", 1, 11, "this slipway reads version 1 of slipway.lock, not 2");
        bad_lock("version = \"1\"\n", 1, 11, "key 'version': expected an integer");
        bad_lock("[components]\n", 1, 1, "has no 'version = 1'");
        bad_lock("version = 1\nextra = 3\n", 2, 1, "unknown key 'extra'");
        bad_lock("version = 1\ncomponents = 3\n", 2, 14, "key 'components': expected a table");
        bad_lock(HEAD "commit = \"0123\"\nsources = []\n", 4, 10, "key 'components.a.commit': expected a commit: 40 lower-case");
        bad_lock(HEAD "commit = \"" "0123456789ABCDEF0123456789abcdef01234567" "\"\nsources = []\n", 4, 10,
                 "expected a commit: 40 lower-case");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = []\nowner = \"me\"\n", 6, 1,
                 "unknown key 'components.a.owner'");
        bad_lock(HEAD "sources = []\n", 2, 1, "component 'a' in the lock needs url, commit and sources");
        bad_lock("version = 1\n[components.a]\nurl = \"ftp://x/a.git\"\ncommit = \"" COMMIT_A "\"\nsources = []\n", 3, 7,
                 "expected a file:///, http:// or https:// URL");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = [\n  { file = \"a.tar\", hashtype = \"sha512\", hash = \"" MD5_B
                      "\" },\n]\n",
                 6, 49, "key 'components.a.sources[1].hash': expected 128 lower-case hexadecimal digits (a sha512 hash)");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = [\n  { file = \"a.tar\", hashtype = \"md5\", hash = \"" 
                      "D41D8CD98F00B204E9800998ECF8427E\" },\n]\n",
                 6, 46, "expected 32 lower-case hexadecimal digits (a md5 hash)");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = [\n  { file = \"a.tar\", hashtype = \"SHA512\", hash = \"" SHA512_A
                      "\" },\n]\n",
                 6, 32, "key 'components.a.sources[1].hashtype': expected \"md5\", \"sha1\", \"sha256\" or \"sha512\"");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = [\n  { file = \"x/a.tar\", hashtype = \"md5\", hash = \"" MD5_B
                      "\" },\n]\n",
                 6, 12, "key 'components.a.sources[1].file': not a file name for a source: it has a '/'");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = [\n  { file = \"a\", hashtype = \"md5\", hash = \"" MD5_B
                      "\", size = 3 },\n]\n",
                 6, 78, "unknown key in 'components.a.sources[1]'");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = [\n  { file = \"a\", hash = \"" MD5_B "\" },\n]\n", 6, 3,
                 "key 'components.a.sources[1]': a source needs file, hashtype and hash");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = [\"a.tar\"]\n", 5, 12, "key 'components.a.sources[1]': expected a table");
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = {}\n", 5, 11, "key 'components.a.sources': expected an array");
        bad_lock(HEAD "commit = 3\nsources = []\n", 4, 10, "key 'components.a.commit': expected a string, found a integer");
        bad_lock("version = 1\n[components]\na = 3\n", 3, 5, "key 'components.a': expected a table");
        /* A component twice: the TOML parser refuses the table defined again. */
        bad_lock(HEAD "commit = \"" COMMIT_A "\"\nsources = []\n[components.a]\n", 6, 13, "table 'components.a' is defined twice");
        /* Syntax errors have their place too. */
        bad_lock("version = 1\n[components.a\n", 2, 14, "");

        /* An error in one entry does not hide one in another. */
        {
                _cleanup_free_ char *p = path_in("two.lock");
                const char *t = "version = 1\n[components.a]\nurl = \"https://x\"\ncommit = \"x\"\nsources = []\n"
                                "[components.b]\nurl = \"https://x\"\ncommit = \"y\"\nsources = []\n";
                Diagnostics d = {};
                Lock *l = NULL;
                CHECK(write_file_atomic(p, t, strlen(t), 0644) == 0);
                CHECK(lock_load(p, &l, &d) == -EINVAL);
                CHECK(d.n_errors == 2);
                CHECK(d.n == 2 && d.items[0].line == 4 && d.items[1].line == 8);
                diagnostics_release(&d);
        }
        /* Diagnostics from before do not count as the lock's. */
        {
                _cleanup_free_ char *p = path_in("good.lock");
                const char *t = "version = 1\n";
                Diagnostics d = {};
                Lock *l = NULL;
                diag_error(&d, NULL, "an earlier error");
                CHECK(write_file_atomic(p, t, strlen(t), 0644) == 0);
                CHECK(lock_load(p, &l, &d) == 0);
                CHECK(l && l->n == 0);
                lock_free(l);
                diagnostics_release(&d);
        }
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        test_sources_formats();
        test_sources_errors();
        test_lock_round_trip();
        test_lock_errors();
        rm_rf(dir);
        printf("%d checks, %d failed\n", unit_checks, unit_failures);
        return unit_failures ? 1 : 0;
}

int unit_failures, unit_checks;
