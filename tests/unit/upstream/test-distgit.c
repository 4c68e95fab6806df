/* SPDX-License-Identifier: MIT */

/* Dist-git mirrors through libgit2 (distgit.c) and the lookaside cache
 * (lookaside.c). The fixture repositories are made with the `git` command
 * (the code under test never runs it): an origin with a main branch and a
 * f43 branch of two commits holding a spec, a `sources` file, an
 * executable, a symbolic link and a subdirectory. The lookaside is a
 * file:// store and, when python3 is there, a local HTTP server. Without
 * git (or python3) those checks are skipped and said so. */

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "upstream/upstream.h"
#include "../unit.h"

static char dir[] = "/tmp/test-distgit-XXXXXX";
static char *url, *cache;

/* The commit date of every fixture commit: 2024-01-02T03:04:05Z. */
#define FIXTURE_TIME 1704164645

/* Runs a shell command in dir; its exit status. */
static int _printf_(1, 2) sh(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "cd '%s' && set -e && ", dir);
        strbuf_vprintf(&sb, fmt, ap);
        va_end(ap);
        int s = system(sb.buf);
        return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

/* The first line of a shell command's output in dir (malloc'd). */
static char *_printf_(1, 2) sh_out(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "cd '%s' && ", dir);
        strbuf_vprintf(&sb, fmt, ap);
        va_end(ap);
        char *out = NULL;
        if (unit_run(sb.buf, &out, NULL) != 0) {
                free(out);
                return NULL;
        }
        out[strcspn(out, "\n")] = 0;
        return out;
}

static char *rev(const char *what) {
        return sh_out("git -C work rev-parse '%s'", what);
}

/* A python3 HTTP server on 127.0.0.1 serving dir with the handler class
 * handler: its port, or 0. The pipe it printed the port to stays open while
 * it runs (a closed one would end it with SIGPIPE at its next write). */
typedef struct Server {
        pid_t pid;
        int out;
} Server;

static int server_start(Server *srv, const char *handler) {
        _cleanup_free_ char *script = strprintf(
                "import http.server\n"
                "%s\n"
                "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)\n"
                "print(s.server_address[1], flush=True)\n"
                "s.serve_forever()\n",
                handler);
        int p[2];
        *srv = (Server) { .pid = -1, .out = -1 };
        if (system("python3 -c 'import http.server' 2>/dev/null") != 0 || pipe(p) < 0)
                return 0;
        srv->pid = fork();
        if (srv->pid == 0) {
                dup2(p[1], 1);
                close(p[0]);
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, 2);
                if (chdir(dir) < 0)
                        _exit(1);
                execlp("python3", "python3", "-u", "-c", script, (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        char buf[16] = "";
        ssize_t k = read(p[0], buf, sizeof buf - 1);
        srv->out = p[0];
        return k > 0 ? atoi(buf) : 0;
}

static void server_stop(Server *srv) {
        if (srv->pid > 0) {
                kill(srv->pid, SIGTERM);
                waitpid(srv->pid, NULL, 0);
        }
        if (srv->out >= 0)
                close(srv->out);
        *srv = (Server) { .pid = -1, .out = -1 };
}

static bool have_git(void) {
        return system("git --version >/dev/null 2>&1") == 0;
}

static bool make_fixture(void) {
        return sh("git init -q --bare -b main origin.git && git init -q -b main work && cd work && "
                  "echo readme > README && git add README && git commit -q -m main && "
                  "git checkout -q -b f43 && "
                  "printf 'Name: hello\\nVersion: 1\\n' > hello.spec && "
                  "printf 'SHA512 (hello-1.tar.gz) = 00\\n' > sources && "
                  "printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod 755 run.sh && "
                  "ln -s hello.spec link.spec && mkdir -p sub/dir && echo deep > sub/dir/file && "
                  "git add -A && git commit -q -m one && "
                  "echo 'Release: 1' >> hello.spec && git commit -q -am two && "
                  "git push -q ../origin.git main f43") == 0;
}

static void test_resolve_and_read(void) {
        _cleanup_free_ char *f43 = rev("f43"), *f43_1 = rev("f43~1"), *main_ = rev("main");
        DistGit *g = NULL;
        char *err = NULL, id[41];

        CHECK(f43 && f43_1 && main_);
        if (!f43 || !f43_1 || !main_)
                return;
        CHECK(distgit_open(cache, url, false, &g, &err) == 0);
        CHECK(err == NULL);
        if (!g) {
                fprintf(stderr, "%s\n", err);
                free(err);
                return;
        }

        CHECK(distgit_resolve_branch(g, "f43", id, &err) == 0);
        CHECK_STREQ(id, f43);
        /* The default branch: the origin's HEAD, main. */
        CHECK(distgit_resolve_branch(g, NULL, id, &err) == 0);
        CHECK_STREQ(id, main_);
        CHECK(distgit_resolve_branch(g, "f99", id, &err) == -ENOENT);
        _cleanup_free_ char *want = strprintf("repository %s has no branch 'f99'", url);
        CHECK_STREQ(err, want);
        free(err);
        CHECK(distgit_resolve_branch(g, "bad..name", id, &err) == -ENOENT);
        free(err);

        /* Short and long commits. */
        _cleanup_free_ char *short7 = strndup(f43_1, 7), *short12 = strndup(f43_1, 12);
        memset(id, 0, sizeof id);
        CHECK(distgit_resolve_commit(g, short7, id, &err) == 0);
        CHECK_STREQ(id, f43_1);
        CHECK(distgit_resolve_commit(g, short12, id, &err) == 0);
        CHECK_STREQ(id, f43_1);
        CHECK(distgit_resolve_commit(g, f43, id, &err) == 0);
        CHECK_STREQ(id, f43);
        /* Unknown: fetched once more (the mirror was just made, so not
         * again), then not found. */
        CHECK(distgit_resolve_commit(g, "abc1234", id, &err) == -ENOENT);
        free(want);
        want = strprintf("repository %s has no commit 'abc1234'", url);
        CHECK_STREQ(err, want);
        free(err);
        CHECK(distgit_resolve_commit(g, "abc12", id, &err) == -EINVAL);
        CHECK(err && strstr(err, "7 to 40 hexadecimal digits"));
        free(err);
        CHECK(distgit_resolve_commit(g, "xyz1234", id, &err) == -EINVAL);
        free(err);

        /* Files at a commit. */
        char *data = NULL;
        size_t size = 0;
        CHECK(distgit_read(g, f43, "hello.spec", &data, &size, &err) == 0);
        CHECK_STREQ(data, "Name: hello\nVersion: 1\nRelease: 1\n");
        CHECK(size == strlen("Name: hello\nVersion: 1\nRelease: 1\n"));
        free(data);
        CHECK(distgit_read(g, f43_1, "hello.spec", &data, &size, &err) == 0);
        CHECK_STREQ(data, "Name: hello\nVersion: 1\n");
        free(data);
        CHECK(distgit_read(g, f43, "sub/dir/file", &data, &size, &err) == 0);
        CHECK_STREQ(data, "deep\n");
        free(data);
        CHECK(distgit_read(g, main_, "hello.spec", &data, &size, &err) == -ENOENT);
        CHECK(err && strstr(err, "has no file 'hello.spec'") && strstr(err, url));
        free(err);
        CHECK(distgit_read(g, f43, "sub", &data, &size, &err) == -EINVAL);
        free(err);
        CHECK(distgit_read(g, "0000000000000000000000000000000000000000", "sources", &data, &size, &err) == -ENOENT);
        free(err);

        /* The sources file reads as one. */
        CHECK(distgit_read(g, f43, "sources", &data, &size, &err) == 0);
        LockSource *s = NULL;
        size_t n = 0;
        CHECK(sources_parse(data, size, &s, &n, &err) == -EBADMSG); /* the fixture's hash is short */
        CHECK(err && strstr(err, "line 1: the sha512 hash of 'hello-1.tar.gz'"));
        free(err);
        free(data);
        distgit_free(g);
}

static void test_export(void) {
        _cleanup_free_ char *f43 = rev("f43"), *out = strprintf("%s/export", dir), *p = NULL;
        DistGit *g = NULL;
        char *err = NULL, link[64];
        struct stat st;

        CHECK(distgit_open(cache, url, false, &g, &err) == 0);
        if (!g || !f43)
                return;
        CHECK(mkdir(out, 0755) == 0);
        mode_t old = umask(077); /* git's modes, whatever the umask */
        CHECK(distgit_export(g, f43, out, &err) == 0);
        umask(old);
        if (err)
                fprintf(stderr, "%s\n", err);

        p = strprintf("%s/hello.spec", out);
        CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644);
        CHECK(st.st_mtime == FIXTURE_TIME);
        free(p);
        p = strprintf("%s/run.sh", out);
        CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0755);
        free(p);
        p = strprintf("%s/link.spec", out);
        CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && st.st_mtime == FIXTURE_TIME);
        ssize_t k = readlink(p, link, sizeof link - 1);
        CHECK(k == 10 && memcmp(link, "hello.spec", 10) == 0);
        free(p);
        p = strprintf("%s/sub/dir", out);
        CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
        /* The export is the commit's tree: compare with git's own checkout. */
        CHECK(sh("git -C work archive --prefix=want/ f43 | tar -x && diff -r want export") == 0);

        /* Into a directory that is not empty: refused, nothing followed. */
        err = NULL;
        CHECK(distgit_export(g, f43, out, &err) < 0);
        CHECK(err && strstr(err, "cannot write"));
        free(err);
        distgit_free(g);
}

static void test_export_refused(void) {
        _cleanup_free_ char *main_ = rev("main");
        if (!main_ ||
            sh("cd work && git checkout -q -b evil-link main && ln -s ../../outside evil && git add evil && "
               "git commit -q -m evil && git checkout -q -b submodule main && "
               "git update-index --add --cacheinfo 160000,%s,mod && git commit -q -m sub && "
               "git checkout -q -b abs-link main && ln -s /etc/passwd abs && git add abs && git commit -q -m abs && "
               "git checkout -q -b inner-link main && mkdir d && ln -s ../README d/up && git add d && "
               "git commit -q -m inner && git checkout -q f43 && "
               "git push -q ../origin.git evil-link submodule abs-link inner-link",
               main_) != 0) {
                CHECK(!"the refused trees could not be made");
                return;
        }
        DistGit *g = NULL;
        char *err = NULL, id[41];
        CHECK(distgit_open(cache, url, true, &g, &err) == 0);
        if (!g)
                return;
        static const struct {
                const char *branch, *error;
                int r;
        } cases[] = {
                { "evil-link", "symbolic link 'evil' at commit", -EINVAL },
                { "abs-link", "symbolic link 'abs' at commit", -EINVAL },
                { "submodule", "'mod' at commit", -EOPNOTSUPP },
                { "inner-link", NULL, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = strprintf("%s/refused-%zu", dir, i);
                CHECK(mkdir(out, 0755) == 0);
                CHECK(distgit_resolve_branch(g, cases[i].branch, id, &err) == 0);
                int r = distgit_export(g, id, out, &err);
                CHECK(r == cases[i].r);
                if (cases[i].error)
                        CHECK(err && strstr(err, cases[i].error));
                else
                        CHECK(err == NULL);
                free(err);
                err = NULL;
        }
        /* Nothing was written outside the export directories. */
        _cleanup_free_ char *outside = strprintf("%s/outside", dir);
        CHECK(!path_exists(outside));
        distgit_free(g);
}

static void test_fetch(void) {
        _cleanup_free_ char *old = rev("f43"), *c3 = NULL, *c4 = NULL;
        DistGit *g = NULL;
        char *err = NULL, id[41];

        /* A commit pushed to the origin after the mirror was made. */
        CHECK(sh("cd work && git checkout -q f43 && echo three >> hello.spec && git commit -q -am three && "
                 "git push -q ../origin.git f43") == 0);
        c3 = rev("f43");

        /* Without fetch, an existing mirror is used as it is ... */
        CHECK(distgit_open(cache, url, false, &g, &err) == 0);
        if (!g || !c3)
                return;
        CHECK(distgit_resolve_branch(g, "f43", id, &err) == 0);
        CHECK_STREQ(id, old);
        /* ... until a commit it lacks is asked for: fetched once more. */
        CHECK(distgit_resolve_commit(g, c3, id, &err) == 0);
        CHECK_STREQ(id, c3);
        distgit_free(g);

        /* With fetch: the new commit, the remote's default branch as it is
         * now, and branches gone from the remote gone from the mirror. */
        CHECK(sh("cd work && echo four >> hello.spec && git commit -q -am four && git push -q ../origin.git f43 && "
                 "git push -q ../origin.git :evil-link && git -C ../origin.git symbolic-ref HEAD refs/heads/f43") == 0);
        c4 = rev("f43");
        CHECK(distgit_open(cache, url, false, &g, &err) == 0);
        CHECK(distgit_resolve_branch(g, "f43", id, &err) == 0);
        CHECK_STREQ(id, c3);
        CHECK(distgit_resolve_branch(g, "evil-link", id, &err) == 0);
        distgit_free(g);
        g = NULL;
        CHECK(distgit_open(cache, url, true, &g, &err) == 0);
        if (!g)
                return;
        CHECK(distgit_resolve_branch(g, "f43", id, &err) == 0);
        CHECK_STREQ(id, c4);
        CHECK(distgit_resolve_branch(g, NULL, id, &err) == 0);
        CHECK_STREQ(id, c4);
        CHECK(distgit_resolve_branch(g, "evil-link", id, &err) == -ENOENT);
        free(err);
        distgit_free(g);
}

static void test_open_errors(void) {
        DistGit *g = NULL;
        char *err = NULL;
        _cleanup_free_ char *missing = strprintf("file://%s/missing.git", dir);

        CHECK(distgit_open(cache, "ssh://example.com/x.git", true, &g, &err) == -EPROTONOSUPPORT);
        CHECK(err && strstr(err, "'ssh://example.com/x.git'"));
        free(err);
        CHECK(distgit_open(cache, missing, false, &g, &err) < 0);
        CHECK(g == NULL);
        CHECK(err && strstr(err, missing));
        if (err)
                printf("an origin that is not there: %s\n", err);
        free(err);
        /* A failed first fetch leaves no mirror behind. */
        CHECK(sh("ls '%s' | grep -c '\\.git' | grep -qx 1", cache) == 0);
        /* A server that is not listening: the URL and the reason. */
        CHECK(distgit_open(cache, "http://127.0.0.1:9/x.git", false, &g, &err) < 0);
        CHECK(err && strstr(err, "cannot fetch 'http://127.0.0.1:9/x.git'"));
        if (err)
                printf("a server that does not answer: %s\n", err);
        free(err);
}

/* A dist-git repository over smart HTTP: git http-backend as a CGI
 * script of a python3 server. */
static void test_http_remote(void) {
        Server srv;
        CHECK(sh("mkdir -p cgi-bin && printf '#!/bin/sh\\nexport GIT_PROJECT_ROOT=%s GIT_HTTP_EXPORT_ALL=1\\n"
                 "exec git http-backend\\n' > cgi-bin/git && chmod 755 cgi-bin/git",
                 dir) == 0);
        /* have_fork: a forking server run by root runs its scripts as nobody. */
        int port = server_start(&srv, "class Handler(http.server.CGIHTTPRequestHandler):\n"
                                      "    have_fork = False");
        if (port <= 0) {
                server_stop(&srv);
                printf("test_http_remote: python3 with CGIHTTPRequestHandler missing, skipped\n");
                return;
        }
        _cleanup_free_ char *http = strprintf("http://127.0.0.1:%d/cgi-bin/git/origin.git", port),
                            *f43 = rev("f43"), *head = sh_out("git -C origin.git rev-parse HEAD"),
                            *spec = sh_out("git -C work show f43:hello.spec | wc -c");
        DistGit *g = NULL;
        char *err = NULL, id[41];

        CHECK(distgit_open(cache, http, false, &g, &err) == 0);
        if (err)
                fprintf(stderr, "%s\n", err);
        free(err);
        err = NULL;
        if (g) {
                CHECK(distgit_resolve_branch(g, "f43", id, &err) == 0);
                CHECK_STREQ(id, f43);
                CHECK(distgit_resolve_branch(g, NULL, id, &err) == 0);
                CHECK_STREQ(id, head);
                _cleanup_free_ char *short9 = f43 ? strndup(f43, 9) : NULL;
                CHECK(short9 && distgit_resolve_commit(g, short9, id, &err) == 0);
                CHECK_STREQ(id, f43);
                char *data = NULL;
                size_t size = 0;
                CHECK(distgit_read(g, f43, "hello.spec", &data, &size, &err) == 0);
                CHECK(spec && size == (size_t) atoi(spec));
                free(data);
                distgit_free(g);
                g = NULL;
        }
        server_stop(&srv);

        /* The server gone: a fetch fails naming the URL; the mirror is
         * still there to use as it is. */
        CHECK(distgit_open(cache, http, true, &g, &err) == -EIO);
        _cleanup_free_ char *want = strprintf("cannot fetch '%s': ", http);
        CHECK(err && strncmp(err, want, strlen(want)) == 0);
        free(err);
        err = NULL;
        CHECK(distgit_open(cache, http, false, &g, &err) == 0);
        if (g) {
                CHECK(distgit_resolve_branch(g, "f43", id, &err) == 0);
                CHECK_STREQ(id, f43);
        }
        distgit_free(g);
}

typedef struct Racer {
        const char *cache;
        int r;
        char id[41];
} Racer;

static void *race(void *p) {
        Racer *x = p;
        DistGit *g = NULL;
        char *err = NULL;
        x->r = distgit_open(x->cache, url, true, &g, &err);
        if (x->r >= 0)
                x->r = distgit_resolve_branch(g, "f43", x->id, &err);
        if (err)
                fprintf(stderr, "racer: %s\n", err);
        free(err);
        distgit_free(g);
        return NULL;
}

/* Threads making and fetching one mirror at once each get it whole. */
static void test_concurrent(void) {
        _cleanup_free_ char *c2 = strprintf("%s/cache-race", dir), *f43 = rev("f43");
        Racer r[4];
        pthread_t t[4];
        for (size_t i = 0; i < 4; i++) {
                r[i] = (Racer) { .cache = c2 };
                CHECK(pthread_create(&t[i], NULL, race, &r[i]) == 0);
        }
        for (size_t i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                CHECK(r[i].r == 0);
                CHECK_STREQ(r[i].id, f43);
        }
        /* One mirror and its lock, nothing left beside them. */
        CHECK(sh("test $(ls '%s' | wc -l) -eq 2", c2) == 0);
}

/* ---- lookaside ---- */

static void test_lookaside_url(void) {
        LockSource s = { .file = (char *) "bash-5.2.tar.gz", .hashtype = (char *) "sha512", .hash = (char *) "abc" };
        char *u = lookaside_url("https://src.fedoraproject.org/repo/pkgs/$pkg/$filename/$hashtype/$hash/$filename",
                                "bash", &s);
        CHECK_STREQ(u, "https://src.fedoraproject.org/repo/pkgs/bash/bash-5.2.tar.gz/sha512/abc/bash-5.2.tar.gz");
        free(u);
        /* $hashtype is not $hash followed by "type"; $ alone stays. */
        u = lookaside_url("http://x/$hashtype-$hash-$pk-$$/$pkg", "gtk+", &s);
        CHECK_STREQ(u, "http://x/sha512-abc-$pk-$$/gtk+");
        free(u);
        /* A name with characters a URL path cannot hold as they are. */
        s.file = (char *) "a b#c?d%e+f~g\xc3\xa9.tar";
        u = lookaside_url("file:///s/$filename", "p", &s);
        CHECK_STREQ(u, "file:///s/a%20b%23c%3Fd%25e+f~g%C3%A9.tar");
        free(u);
}

static void test_hash_file(void) {
        _cleanup_free_ char *p = strprintf("%s/abc", dir);
        char *hex = NULL;
        CHECK(write_file_atomic(p, "abc", 3, 0644) == 0);
        CHECK(lookaside_hash_file(p, "sha256", &hex) == 0);
        CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        free(hex);
        CHECK(lookaside_hash_file(p, "md5", &hex) == 0);
        CHECK_STREQ(hex, "900150983cd24fb0d6963f7d28e17f72");
        free(hex);
        CHECK(lookaside_hash_file(p, "sha384", &hex) == -EOPNOTSUPP);
        CHECK(lookaside_hash_file("/nonexistent/x", "md5", &hex) == -ENOENT);
}

/* Puts data at the place tmpl (a file:// template under dir) gives for s. */
static LockSource *stored(const char *file, const char *data, const char *hash_of) {
        static LockSource s;
        _cleanup_free_ char *tmp = strprintf("%s/h", dir);
        char *hex = NULL;
        write_file_atomic(tmp, hash_of, strlen(hash_of), 0644);
        lookaside_hash_file(tmp, "sha512", &hex);
        s = (LockSource) { .file = (char *) file, .hashtype = (char *) "sha512", .hash = hex };
        sh("mkdir -p 'la/hello/%s/sha512/%s' && printf '%%s' '%s' > 'la/hello/%s/sha512/%s/%s'", file, hex, data, file,
           hex, file);
        return &s;
}

static int count_files(const char *d) {
        _cleanup_free_ char *out = sh_out("find '%s' -type f | wc -l", d);
        return out ? atoi(out) : -1;
}

static void test_lookaside_file(void) {
        _cleanup_free_ char *store = strprintf("%s/store", dir),
                            *tmpl = strprintf("file://%s/la/$pkg/$filename/$hashtype/$hash/$filename", dir);
        char *path = NULL, *err = NULL;

        LockSource *s = stored("hello-1.tar.gz", "payload", "payload");
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == 0);
        CHECK(err == NULL);
        _cleanup_free_ char *want = strprintf("%s/sha512/%s", store, s->hash);
        CHECK_STREQ(path, want);
        char *data = NULL;
        size_t size;
        CHECK(path && read_full_file(path, &data, &size) == 0 && strcmp(data, "payload") == 0);
        free(data);
        free(path);
        path = NULL;
        /* Kept: found in the store without the server. */
        CHECK(sh("rm -r la/hello/hello-1.tar.gz") == 0);
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == 0);
        CHECK_STREQ(path, want);
        free(path);
        path = NULL;
        free(s->hash);

        /* A file that is not what the sources file says: refused, not kept. */
        s = stored("bad name.tar", "tampered", "original");
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == -EBADMSG);
        CHECK(path == NULL);
        _cleanup_free_ char *got = NULL;
        CHECK(sh("printf tampered > h") == 0);
        _cleanup_free_ char *h = strprintf("%s/h", dir);
        lookaside_hash_file(h, "sha512", &got);
        if (err && got) {
                CHECK(strstr(err, "source 'bad name.tar' from file://") != NULL);
                CHECK(strstr(err, "/bad%20name.tar has sha512 ") != NULL);
                CHECK(strstr(err, got) != NULL);
                CHECK(strstr(err, s->hash) != NULL);
                printf("a wrong hash: %s\n", err);
        }
        free(err);
        err = NULL;
        CHECK(count_files(store) == 1);
        free(s->hash);

        /* Nothing at the URL: its name in the error. */
        s = stored("absent.tar", "x", "x");
        CHECK(sh("rm -r la/hello/absent.tar") == 0);
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == -EIO);
        CHECK(err && strstr(err, "source 'absent.tar': cannot download 'file://") && strstr(err, "/absent.tar'"));
        free(err);
        err = NULL;
        CHECK(count_files(store) == 1);
        free(s->hash);

        /* A hash that does not fit its type never becomes a path. */
        LockSource bad = { .file = (char *) "x", .hashtype = (char *) "sha512", .hash = (char *) "../../etc" };
        CHECK(lookaside_get(store, tmpl, "hello", &bad, &path, &err) == -EINVAL);
        free(err);
}

static void test_lookaside_http(void) {
        Server srv;
        int port = server_start(&srv, "import functools\n"
                                      "Handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory='.')");
        if (port <= 0) {
                server_stop(&srv);
                printf("test_lookaside_http: python3 missing, skipped\n");
                return;
        }
        _cleanup_free_ char *store = strprintf("%s/store-http", dir),
                            *tmpl = strprintf("http://127.0.0.1:%d/la/$pkg/$filename/$hashtype/$hash/$filename", port);
        char *path = NULL, *err = NULL;

        LockSource *s = stored("web-1.tar.gz", "from the web", "from the web");
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == 0);
        if (err)
                fprintf(stderr, "%s\n", err);
        free(err);
        err = NULL;
        char *data = NULL;
        size_t size;
        CHECK(path && read_full_file(path, &data, &size) == 0 && strcmp(data, "from the web") == 0);
        free(data);
        free(path);
        path = NULL;
        free(s->hash);

        s = stored("wrong.tar", "tampered", "original");
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == -EBADMSG);
        CHECK(err && strstr(err, "source 'wrong.tar' from http://127.0.0.1:"));
        free(err);
        CHECK(count_files(store) == 1);
        free(s->hash);

        s = stored("gone.tar", "x", "x");
        CHECK(sh("rm -r la/hello/gone.tar") == 0);
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == -EIO);
        CHECK(err && strstr(err, "source 'gone.tar': cannot download 'http://127.0.0.1:") &&
              strstr(err, "the server answered HTTP 404"));
        free(err);
        CHECK(count_files(store) == 1);

        /* The server gone: the URL and curl's reason. */
        server_stop(&srv);
        CHECK(lookaside_get(store, tmpl, "hello", s, &path, &err) == -EIO);
        CHECK(err && strstr(err, "cannot download 'http://127.0.0.1:"));
        if (err)
                printf("a server that is gone: %s\n", err);
        free(err);
        free(s->hash);
        CHECK(count_files(store) == 1);
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        /* git's configuration and the fixtures' commits: this test's own. */
        setenv("HOME", dir, 1);
        setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
        setenv("GIT_AUTHOR_NAME", "Test", 1);
        setenv("GIT_AUTHOR_EMAIL", "test@example.com", 1);
        setenv("GIT_COMMITTER_NAME", "Test", 1);
        setenv("GIT_COMMITTER_EMAIL", "test@example.com", 1);
        setenv("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z", 1);
        setenv("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z", 1);
        url = strprintf("file://%s/origin.git", dir);
        cache = strprintf("%s/cache", dir);

        test_lookaside_url();
        test_hash_file();
        test_lookaside_file();
        test_lookaside_http();
        if (!have_git())
                printf("git missing: the dist-git checks are skipped\n");
        else if (!make_fixture())
                CHECK(!"the fixture repositories could not be made");
        else {
                test_resolve_and_read();
                test_export();
                test_export_refused();
                test_fetch();
                test_open_errors();
                test_http_remote();
                test_concurrent();
        }

        if (!getenv("KEEP"))
                rm_rf(dir);
        else
                printf("kept %s\n", dir);
        free(url);
        free(cache);
        printf("%d checks, %d failed\n", unit_checks, unit_failures);
        return unit_failures ? 1 : 0;
}

int unit_failures, unit_checks;
