/* SPDX-License-Identifier: MIT */

/* Dist-git repositories through libgit2, in process (no `git` command).
 * Each URL has a bare mirror in the cache, CACHE/ID.git (ID: the first 16
 * hex digits of the URL's SHA-256), holding the remote's branches as its
 * own (refs/heads/NAME) and its HEAD naming the remote's default branch,
 * like `git clone --mirror` without tags. A fetch takes an exclusive
 * flock() on CACHE/ID.lock, so two runs (or two threads) never fetch into
 * one mirror at once; reading needs no lock (git writes objects before the
 * references that name them and never removes any here). A new mirror is
 * made and fetched beside its final name and renamed into place, so a
 * mirror that exists has been fetched once.
 *
 * libgit2 is opened with dlopen() on first use (meson.build says why). */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "upstream/upstream.h"

/* ---- libgit2, opened on first use ---- */

#define LIBGIT2_SONAME "libgit2.so.1.5"

#define GIT_FUNCTIONS(X)               \
        X(libgit2_init)                \
        X(libgit2_opts)                \
        X(error_last)                  \
        X(repository_init)             \
        X(repository_open_bare)        \
        X(repository_free)             \
        X(remote_create_with_opts)     \
        X(remote_connect)              \
        X(remote_default_branch)       \
        X(remote_download)             \
        X(remote_update_tips)          \
        X(remote_prune)                \
        X(remote_disconnect)           \
        X(remote_free)                 \
        X(buf_dispose)                 \
        X(reference_symbolic_create)   \
        X(reference_name_to_id)        \
        X(reference_free)              \
        X(oid_fromstrn)                \
        X(oid_fmt)                     \
        X(commit_lookup)               \
        X(commit_lookup_prefix)        \
        X(commit_id)                   \
        X(commit_time)                 \
        X(commit_tree)                 \
        X(commit_free)                 \
        X(tree_lookup)                 \
        X(tree_free)                   \
        X(tree_entrycount)             \
        X(tree_entry_byindex)          \
        X(tree_entry_bypath)           \
        X(tree_entry_free)             \
        X(tree_entry_name)             \
        X(tree_entry_id)               \
        X(tree_entry_filemode)         \
        X(blob_lookup)                 \
        X(blob_rawcontent)             \
        X(blob_rawsize)                \
        X(blob_free)

static struct {
#define X(f) __typeof__(git_##f) *f;
        GIT_FUNCTIONS(X)
#undef X
} git;
static pthread_once_t git_once = PTHREAD_ONCE_INIT;
static const char *git_init_error;

static void git_init_once(void) {
        void *h = dlopen(LIBGIT2_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                git_init_error = LIBGIT2_SONAME " cannot be loaded (install libgit2-1.5)";
                return;
        }
#define X(f)                                               \
        *(void **) &git.f = dlsym(h, "git_" #f);           \
        if (!git.f) {                                      \
                git_init_error = LIBGIT2_SONAME " lacks git_" #f; \
                return;                                    \
        }
        GIT_FUNCTIONS(X)
#undef X
        if (git.libgit2_init() < 0) {
                git_init_error = "libgit2 cannot be initialised";
                return;
        }
        /* git's safe.directory check guards against a repository's config
         * making git run programs (core.fsmonitor, hooks); libgit2 runs
         * none. Without this, a dist-git repository reached through
         * file:// that another user owns (a shared mirror, root's checkout
         * read by a build user) could not be fetched at all. */
        if (git.libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0) < 0)
                git_init_error = "libgit2 refuses to turn off its owner check";
}

static int git_ready(char **ret_error) {
        pthread_once(&git_once, git_init_once);
        if (git_init_error) {
                *ret_error = strprintf("cannot use dist-git repositories: %s", git_init_error);
                return -ENOPKG;
        }
        return 0;
}

/* libgit2's reason for the last failure in this thread. */
static const char *git_reason(void) {
        const git_error *e = git.error_last();
        return e && e->message ? e->message : "unknown error";
}

static int git_errno(int e) {
        switch (e) {
        case GIT_ENOTFOUND:
                return -ENOENT;
        case GIT_EAMBIGUOUS:
        case GIT_EEXISTS:
                return -EEXIST;
        case GIT_EINVALIDSPEC:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* ---- mirrors ---- */

struct DistGit {
        git_repository *repo;
        char *url;
        char *dir;       /* the mirror, CACHE/ID.git */
        char *lock_path; /* CACHE/ID.lock, flock()ed around fetches */
        bool fetched;    /* this handle fetched: a missing commit is not fetched for again */
};

DistGit *distgit_free(DistGit *g) {
        if (!g)
                return NULL;
        if (g->repo)
                git.repository_free(g->repo);
        free(g->url);
        free(g->dir);
        free(g->lock_path);
        free(g);
        return NULL;
}

static int lock_mirror(const char *path, char **ret_error) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0644);
        if (fd < 0) {
                int r = negative_errno();
                *ret_error = strprintf("cannot open '%s': %s", path, strerror(-r));
                return r;
        }
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR) {
                        int r = negative_errno();
                        *ret_error = strprintf("cannot lock '%s': %s", path, strerror(-r));
                        close(fd);
                        return r;
                }
        return fd;
}

/* Fetches url's branches into repo as its own, dropping those the remote
 * no longer has, and points HEAD at the remote's default branch. */
static int fetch_into(git_repository *repo, const char *url, char **ret_error) {
        static char refspec[] = "+refs/heads/*:refs/heads/*";
        char *specs[] = { refspec };
        git_strarray refspecs = { specs, 1 };
        /* GIT_FETCH_OPTIONS_INIT, spelt out (its positional form leaves
         * fields out, which -Wmissing-field-initializers flags). */
        git_fetch_options fo = {
                .version = GIT_FETCH_OPTIONS_VERSION,
                .callbacks = { .version = GIT_REMOTE_CALLBACKS_VERSION },
                .update_fetchhead = 0,
                .download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE,
                /* http.proxy from git's configuration, else $https_proxy and the like. */
                .proxy_opts = { .version = GIT_PROXY_OPTIONS_VERSION, .type = GIT_PROXY_AUTO },
        };
        git_remote *remote = NULL;
        git_buf head = { .ptr = NULL };
        bool have_head = false;
        int e, r = 0;

        /* The URL fetched is the URL written: url.NAME.insteadOf in the
         * user's git configuration does not apply. (libgit2 1.5 also leaks
         * memory for every configuration entry it tries that rewrite on.) */
        git_remote_create_options co = {
                .version = GIT_REMOTE_CREATE_OPTIONS_VERSION,
                .repository = repo,
                .flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC,
        };
        e = git.remote_create_with_opts(&remote, url, &co);
        if (e == 0)
                e = git.remote_connect(remote, GIT_DIRECTION_FETCH, &fo.callbacks, &fo.proxy_opts, NULL);
        if (e == 0) {
                /* An empty repository, or a server that does not say, has none. */
                have_head = git.remote_default_branch(&head, remote) == 0 && head.ptr &&
                            strncmp(head.ptr, "refs/heads/", 11) == 0;
                e = git.remote_download(remote, &refspecs, &fo);
        }
        if (e == 0)
                e = git.remote_update_tips(remote, &fo.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, "slipway: fetch");
        if (e == 0)
                e = git.remote_prune(remote, &fo.callbacks);
        if (e < 0) {
                *ret_error = strprintf("cannot fetch '%s': %s", url, git_reason());
                r = git_errno(e) == -ENOENT ? -ENOENT : -EIO;
        }
        if (r == 0 && have_head) {
                git_reference *ref = NULL;
                e = git.reference_symbolic_create(&ref, repo, "HEAD", head.ptr, 1, "slipway: the remote's HEAD");
                if (e < 0) {
                        *ret_error = strprintf("cannot set the default branch of the mirror of '%s': %s", url,
                                               git_reason());
                        r = -EIO;
                }
                if (ref)
                        git.reference_free(ref);
        }
        git.buf_dispose(&head);
        if (remote) {
                git.remote_disconnect(remote);
                git.remote_free(remote);
        }
        return r;
}

/* Fetches into g's open mirror, under the lock. */
static int refetch(DistGit *g, char **ret_error) {
        _cleanup_close_ int lock = lock_mirror(g->lock_path, ret_error);
        if (lock < 0)
                return lock;
        int r = fetch_into(g->repo, g->url, ret_error);
        if (r >= 0)
                g->fetched = true;
        return r;
}

static int open_mirror(DistGit *g, char **ret_error) {
        int e = git.repository_open_bare(&g->repo, g->dir);
        if (e < 0) {
                g->repo = NULL;
                *ret_error = strprintf("cannot open '%s', the mirror of '%s': %s", g->dir, g->url, git_reason());
                return git_errno(e);
        }
        return 0;
}

/* Makes g's mirror, with the lock held: made and fetched beside its final
 * name, then renamed into place. */
static int make_mirror(DistGit *g, char **ret_error) {
        _cleanup_free_ char *tmp = NULL;
        git_repository *repo = NULL;
        int r = tmpdir_beside(g->dir, "tmp", &tmp);
        if (r < 0) {
                *ret_error = strprintf("cannot make a directory beside '%s': %s", g->dir, strerror(-r));
                return r;
        }
        int e = git.repository_init(&repo, tmp, 1);
        if (e < 0) {
                *ret_error = strprintf("cannot make a repository in '%s': %s", tmp, git_reason());
                r = -EIO;
        } else
                r = fetch_into(repo, g->url, ret_error);
        if (repo)
                git.repository_free(repo);
        if (r >= 0 && rename(tmp, g->dir) < 0) {
                r = negative_errno();
                *ret_error = strprintf("cannot rename '%s' to '%s': %s", tmp, g->dir, strerror(-r));
        }
        if (r < 0)
                (void) rm_rf(tmp);
        run_untrack(tmp);
        return r;
}

static bool url_supported(const char *url) {
        return strncmp(url, "file:///", 8) == 0 || strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

int distgit_open(const char *cache_dir, const char *url, bool fetch, DistGit **ret, char **ret_error) {
        _cleanup_(distgit_freep) DistGit *g = NULL;
        uint8_t digest[HASH_MAX_SIZE];
        char hex[2 * HASH_MAX_SIZE + 1];
        int r;

        *ret_error = NULL;
        r = git_ready(ret_error);
        if (r < 0)
                return r;
        if (!url_supported(url)) {
                *ret_error = strprintf("dist-git repository '%s': slipway fetches file:///, http:// and https:// URLs",
                                       url);
                return -EPROTONOSUPPORT;
        }
        r = hash_buffer(HASH_SHA256, url, strlen(url), digest);
        if (r < 0)
                return r;
        hex_encode(digest, 8, hex);

        g = new0(DistGit, 1);
        if (!g)
                return -ENOMEM;
        g->url = strdup(url);
        g->dir = strprintf("%s/%s.git", cache_dir, hex);
        g->lock_path = strprintf("%s/%s.lock", cache_dir, hex);
        if (!g->url || !g->dir || !g->lock_path)
                return -ENOMEM;
        r = mkdir_parents(cache_dir, 0755);
        if (r < 0) {
                *ret_error = strprintf("cannot make '%s': %s", cache_dir, strerror(-r));
                return r;
        }

        if (!fetch && path_exists(g->dir))
                r = open_mirror(g, ret_error);
        else {
                _cleanup_close_ int lock = lock_mirror(g->lock_path, ret_error);
                if (lock < 0)
                        return lock;
                /* Looked at again with the lock: another run may have made it. */
                if (path_exists(g->dir)) {
                        r = open_mirror(g, ret_error);
                        if (r >= 0 && fetch)
                                r = fetch_into(g->repo, url, ret_error);
                        g->fetched = fetch;
                } else {
                        /* A mirror just made was fetched now, too. */
                        r = make_mirror(g, ret_error);
                        if (r >= 0)
                                r = open_mirror(g, ret_error);
                        g->fetched = true;
                }
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(g);
        return 0;
}

/* ---- commits ---- */

static bool is_hex(const char *s, size_t n) {
        return strspn(s, "0123456789abcdefABCDEF") == n;
}

static void oid_text(const git_oid *oid, char ret[static 41]) {
        git.oid_fmt(ret, oid);
        ret[40] = 0;
}

/* The commit a (possibly abbreviated) id names in the mirror, as it is. */
static int lookup_commit(DistGit *g, const char *id, git_commit **ret) {
        size_t n = strlen(id);
        git_oid oid;
        if (n < 7 || n > 40 || !is_hex(id, n))
                return GIT_EINVALIDSPEC;
        int e = git.oid_fromstrn(&oid, id, n);
        if (e < 0)
                return e;
        return n == 40 ? git.commit_lookup(ret, g->repo, &oid) : git.commit_lookup_prefix(ret, g->repo, &oid, n);
}

static int commit_error(DistGit *g, const char *id, int e, char **ret_error) {
        switch (e) {
        case GIT_EINVALIDSPEC:
                *ret_error = strprintf("'%s' is not a commit: expected 7 to 40 hexadecimal digits", id);
                return -EINVAL;
        case GIT_ENOTFOUND:
                *ret_error = strprintf("repository %s has no commit '%s'", g->url, id);
                return -ENOENT;
        case GIT_EAMBIGUOUS:
                *ret_error = strprintf("commit '%s' is ambiguous in repository %s: give more of its digits", id,
                                       g->url);
                return -EEXIST;
        default:
                *ret_error = strprintf("cannot read commit '%s' of %s: %s", id, g->url, git_reason());
                return -EIO;
        }
}

int distgit_resolve_branch(DistGit *g, const char *branch, char ret[static 41], char **ret_error) {
        _cleanup_free_ char *ref = branch ? strprintf("refs/heads/%s", branch) : strdup("HEAD");
        git_commit *c = NULL;
        git_oid oid;

        *ret_error = NULL;
        if (!ref)
                return -ENOMEM;
        int e = git.reference_name_to_id(&oid, g->repo, ref);
        if (e == GIT_ENOTFOUND || e == GIT_EINVALIDSPEC) {
                *ret_error = branch ? strprintf("repository %s has no branch '%s'", g->url, branch)
                                    : strprintf("repository %s has no default branch", g->url);
                return -ENOENT;
        }
        if (e == 0)
                e = git.commit_lookup(&c, g->repo, &oid);
        if (e < 0) {
                *ret_error = strprintf("cannot read branch '%s' of %s: %s", branch ? branch : "HEAD", g->url,
                                       git_reason());
                return -EIO;
        }
        oid_text(git.commit_id(c), ret);
        git.commit_free(c);
        return 0;
}

int distgit_resolve_commit(DistGit *g, const char *prefix, char ret[static 41], char **ret_error) {
        git_commit *c = NULL;

        *ret_error = NULL;
        int e = lookup_commit(g, prefix, &c);
        if (e == GIT_ENOTFOUND && !g->fetched) {
                /* The lock may name a commit newer than the mirror. */
                int r = refetch(g, ret_error);
                if (r < 0)
                        return r;
                e = lookup_commit(g, prefix, &c);
        }
        if (e < 0)
                return commit_error(g, prefix, e, ret_error);
        oid_text(git.commit_id(c), ret);
        git.commit_free(c);
        return 0;
}

/* The tree of commit id. */
static int commit_tree(DistGit *g, const char *id, git_tree **ret, git_time_t *ret_time, char **ret_error) {
        git_commit *c = NULL;
        int e = lookup_commit(g, id, &c);
        if (e < 0)
                return commit_error(g, id, e, ret_error);
        e = git.commit_tree(ret, c);
        if (ret_time)
                *ret_time = git.commit_time(c);
        git.commit_free(c);
        if (e < 0) {
                *ret_error = strprintf("cannot read the tree of commit '%s' of %s: %s", id, g->url, git_reason());
                return -EIO;
        }
        return 0;
}

static bool filemode_is_file(git_filemode_t m) {
        return m == GIT_FILEMODE_BLOB || m == GIT_FILEMODE_BLOB_EXECUTABLE;
}

int distgit_read(DistGit *g, const char *commit, const char *path, char **ret, size_t *ret_size, char **ret_error) {
        git_tree *tree = NULL;
        git_tree_entry *te = NULL;
        git_blob *blob = NULL;
        int e, r;

        *ret_error = NULL;
        r = commit_tree(g, commit, &tree, NULL, ret_error);
        if (r < 0)
                return r;
        e = git.tree_entry_bypath(&te, tree, path);
        if (e == GIT_ENOTFOUND) {
                *ret_error = strprintf("commit %s of %s has no file '%s'", commit, g->url, path);
                r = -ENOENT;
                goto finish;
        }
        if (e == 0 && !filemode_is_file(git.tree_entry_filemode(te))) {
                *ret_error = strprintf("'%s' at commit %s of %s is not a regular file", path, commit, g->url);
                r = -EINVAL;
                goto finish;
        }
        if (e == 0)
                e = git.blob_lookup(&blob, g->repo, git.tree_entry_id(te));
        if (e < 0) {
                *ret_error = strprintf("cannot read '%s' at commit %s of %s: %s", path, commit, g->url, git_reason());
                r = -EIO;
                goto finish;
        }
        size_t size = (size_t) git.blob_rawsize(blob);
        char *data = malloc(size + 1);
        if (!data) {
                r = -ENOMEM;
                goto finish;
        }
        if (size > 0)
                memcpy(data, git.blob_rawcontent(blob), size);
        data[size] = 0;
        *ret = data;
        if (ret_size)
                *ret_size = size;
        r = 0;
finish:
        if (blob)
                git.blob_free(blob);
        if (te)
                git.tree_entry_free(te);
        git.tree_free(tree);
        return r;
}

/* ---- export ---- */

/* Deeper trees than this are not dist-git repositories. */
#define EXPORT_MAX_DEPTH 64

typedef struct Export {
        DistGit *g;
        const char *commit;
        const char *dir;
        struct timespec times[2]; /* the commit's time, for every file and link */
        char **ret_error;
} Export;

/* A name a tree entry may have to be written: one component that is not
 * '.', '..' or '.git'. git itself refuses the others, but a tree object
 * can hold any bytes. */
static bool entry_name_ok(const char *name) {
        return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
               strcmp(name, ".git") != 0;
}

/* Whether a symbolic link at path (relative to the tree's top) to target
 * points inside the tree: relative, and never climbing above the top. */
static bool link_inside(const char *path, const char *target) {
        long depth = 0;
        if (target[0] == '/')
                return false;
        for (const char *p = path; (p = strchr(p, '/')); p++)
                depth++;
        for (const char *p = target; *p;) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (--depth < 0)
                                return false;
                } else if (n > 0 && !(n == 1 && p[0] == '.'))
                        depth++;
                p += n;
                if (*p == '/')
                        p++;
        }
        return true;
}

static int export_error(Export *x, const char *path, int r) {
        *x->ret_error = strprintf("cannot write '%s/%s': %s", x->dir, path, strerror(-r));
        return r;
}

static int export_blob(Export *x, const git_tree_entry *te, int dfd, const char *name, const char *path) {
        git_filemode_t m = git.tree_entry_filemode(te);
        git_blob *blob = NULL;
        int r = 0;

        if (git.blob_lookup(&blob, x->g->repo, git.tree_entry_id(te)) < 0) {
                *x->ret_error = strprintf("cannot read '%s' at commit %s of %s: %s", path, x->commit, x->g->url,
                                          git_reason());
                return -EIO;
        }
        const char *data = git.blob_rawcontent(blob);
        size_t size = (size_t) git.blob_rawsize(blob);

        if (m == GIT_FILEMODE_LINK) {
                _cleanup_free_ char *target = strndup_nul(data, size);
                if (!target)
                        r = -ENOMEM;
                else if (size == 0 || size >= PATH_MAX || strlen(target) != size || !link_inside(path, target)) {
                        *x->ret_error = strprintf("symbolic link '%s' at commit %s of %s points outside the repository",
                                                  path, x->commit, x->g->url);
                        r = -EINVAL;
                } else if (symlinkat(target, dfd, name) < 0 ||
                           utimensat(dfd, name, x->times, AT_SYMLINK_NOFOLLOW) < 0)
                        r = export_error(x, path, negative_errno());
        } else {
                mode_t mode = m == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
                _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
                if (fd < 0)
                        r = negative_errno();
                if (r >= 0)
                        r = loop_write(fd, data, size);
                /* The mode git records, whatever the umask. */
                if (r >= 0 && (fchmod(fd, mode) < 0 || futimens(fd, x->times) < 0))
                        r = negative_errno();
                if (r < 0)
                        r = export_error(x, path, r);
        }
        git.blob_free(blob);
        return r;
}

static int export_tree(Export *x, const git_tree *tree, int dfd, const char *prefix, unsigned depth) {
        size_t n = git.tree_entrycount(tree);

        for (size_t i = 0; i < n; i++) {
                const git_tree_entry *te = git.tree_entry_byindex(tree, i);
                const char *name = git.tree_entry_name(te);
                _cleanup_free_ char *path = prefix ? strprintf("%s/%s", prefix, name) : strdup(name);
                int r;

                if (!path)
                        return -ENOMEM;
                if (!entry_name_ok(name)) {
                        *x->ret_error = strprintf("commit %s of %s has an entry named '%s' in '%s', which is not written",
                                                  x->commit, x->g->url, name, prefix ? prefix : ".");
                        return -EINVAL;
                }
                git_filemode_t m = git.tree_entry_filemode(te);
                switch (m) {
                case GIT_FILEMODE_BLOB:
                case GIT_FILEMODE_BLOB_EXECUTABLE:
                case GIT_FILEMODE_LINK:
                        r = export_blob(x, te, dfd, name, path);
                        if (r < 0)
                                return r;
                        break;
                case GIT_FILEMODE_TREE: {
                        git_tree *sub = NULL;
                        if (depth >= EXPORT_MAX_DEPTH) {
                                *x->ret_error = strprintf("commit %s of %s nests directories deeper than %d ('%s')",
                                                          x->commit, x->g->url, EXPORT_MAX_DEPTH, path);
                                return -EINVAL;
                        }
                        if (mkdirat(dfd, name, 0755) < 0)
                                return export_error(x, path, negative_errno());
                        _cleanup_close_ int sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sfd < 0 || fchmod(sfd, 0755) < 0)
                                return export_error(x, path, negative_errno());
                        if (git.tree_lookup(&sub, x->g->repo, git.tree_entry_id(te)) < 0) {
                                *x->ret_error = strprintf("cannot read '%s' at commit %s of %s: %s", path, x->commit,
                                                          x->g->url, git_reason());
                                return -EIO;
                        }
                        r = export_tree(x, sub, sfd, path, depth + 1);
                        git.tree_free(sub);
                        if (r < 0)
                                return r;
                        break;
                }
                case GIT_FILEMODE_COMMIT:
                        *x->ret_error = strprintf("'%s' at commit %s of %s is a submodule, which slipway does not fetch",
                                                  path, x->commit, x->g->url);
                        return -EOPNOTSUPP;
                default:
                        *x->ret_error = strprintf("'%s' at commit %s of %s has the unknown mode %06o", path, x->commit,
                                                  x->g->url, (unsigned) m);
                        return -EBADMSG;
                }
        }
        return 0;
}

int distgit_export(DistGit *g, const char *commit, const char *dir, char **ret_error) {
        git_tree *tree = NULL;
        git_time_t when = 0;
        int r;

        *ret_error = NULL;
        r = commit_tree(g, commit, &tree, &when, ret_error);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                r = negative_errno();
                *ret_error = strprintf("cannot open '%s': %s", dir, strerror(-r));
        } else {
                Export x = {
                        .g = g,
                        .commit = commit,
                        .dir = dir,
                        .times = { { .tv_sec = (time_t) when }, { .tv_sec = (time_t) when } },
                        .ret_error = ret_error,
                };
                r = export_tree(&x, tree, dfd, NULL, 0);
        }
        git.tree_free(tree);
        return r;
}
