/* SPDX-License-Identifier: MIT */

/* Buildroots (buildroot.h): resolved like an image, installed like an
 * image, staged once into the cache, shared read-only by every build with
 * the same packages. */

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "compose/compose.h"
#include "compose/source.h"
#include "package/buildroot.h"
#include "repo/repo.h"
#include "tree/stage.h"

#define BUILDROOT_FORMAT "slipway-buildroot-1"

typedef struct ProjectRpm {
        char *file;       /* in OUT/repo/Packages */
        RepoPackage meta; /* its primary fragment */
} ProjectRpm;

struct Buildroots {
        const Project *p;
        char *out_dir;
        char *cache_dir; /* OUT/cache/buildroots */
        unsigned jobs;
        SourceSet repos; /* [repos], opened */
        pthread_mutex_t lock;
        ProjectRpm *rpms; /* read so far, under lock */
        size_t n_rpms, allocated_rpms;
        size_t n_made, n_reused;
};

Buildroots *buildroots_free(Buildroots *b) {
        if (!b)
                return NULL;
        source_set_release(&b->repos);
        for (size_t i = 0; i < b->n_rpms; i++) {
                free(b->rpms[i].file);
                repo_package_release(&b->rpms[i].meta);
        }
        free(b->rpms);
        free(b->out_dir);
        free(b->cache_dir);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return NULL;
}

int buildroots_new(const Project *p, const char *out_dir, unsigned jobs, Diagnostics *d, Buildroots **ret) {
        _cleanup_(buildroots_freep) Buildroots *b = new0(Buildroots, 1);
        if (!b)
                return -ENOMEM;
        pthread_mutex_init(&b->lock, NULL);
        b->p = p;
        b->jobs = MAX(jobs, 1u);
        b->out_dir = strdup(out_dir);
        b->cache_dir = path_join(out_dir, "cache/buildroots");
        if (!b->out_dir || !b->cache_dir)
                return -ENOMEM;
        int r = mkdir_parents(b->cache_dir, 0755);
        if (r < 0) {
                diag_error(d, NULL, "cannot create the buildroot cache '%s': %s", b->cache_dir, strerror(-r));
                return -EINVAL;
        }
        r = source_set_open(p, out_dir, false, &b->repos, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

void buildroots_counts(const Buildroots *b, size_t *ret_made, size_t *ret_reused) {
        pthread_mutex_lock((pthread_mutex_t *) &b->lock);
        *ret_made = b->n_made;
        *ret_reused = b->n_reused;
        pthread_mutex_unlock((pthread_mutex_t *) &b->lock);
}

static void repos_as_solve(const Buildroots *b, SolveRepo *r) {
        for (size_t i = 0; i < b->repos.n; i++)
                r[i] = (SolveRepo) {
                        .name = b->repos.items[i].name,
                        .primary = (const char *) b->repos.items[i].primary,
                        .primary_len = b->repos.items[i].primary_len,
                };
}

int buildroots_repos_provide(Buildroots *b, const char *const *specs, size_t n, bool *ret_provided) {
        _cleanup_free_ SolveRepo *repos = new0(SolveRepo, b->repos.n + 1);
        _cleanup_(diagnostics_releasep) Diagnostics d = {};
        if (!repos)
                return -ENOMEM;
        repos_as_solve(b, repos);
        return solve_provided(repos, b->repos.n, b->p->arch, specs, n, &d, ret_provided);
}

void buildroot_release(Buildroot *br) {
        solved_packages_free(br->pkgs, br->n);
        *br = (Buildroot) {};
}

/* The errors of d as one string, a line each. */
static char *errors_of(const Diagnostics *d, const char *fallback) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].level == DIAG_ERROR)
                        strbuf_printf(&sb, "%s%s", sb.len ? "\n" : "", d->items[i].message);
        if (sb.len == 0)
                strbuf_puts(&sb, fallback);
        return sb.oom ? NULL : strbuf_detach(&sb, NULL);
}

/* The primary fragment of OUT/repo/Packages/file, read once per run. The
 * string lives as long as b (entries are never removed). */
static int project_rpm_primary(Buildroots *b, const char *file, const char **ret) {
        pthread_mutex_lock(&b->lock);
        ProjectRpm *found = NULL;
        int r = 0;
        for (size_t i = 0; i < b->n_rpms && !found; i++)
                if (strcmp(b->rpms[i].file, file) == 0)
                        found = &b->rpms[i];
        if (!found) {
                _cleanup_free_ char *href = NULL, *repo = path_join(b->out_dir, "repo");
                const char *reason = NULL;
                RepoPackage meta = {};
                if (!repo || asprintf(&href, "Packages/%s", file) < 0) {
                        href = NULL;
                        r = -ENOMEM;
                } else
                        r = repo_package_read(repo, href, b->p->source_date_epoch, &meta, &reason);
                if (r >= 0 && !GREEDY_REALLOC(b->rpms, b->allocated_rpms, b->n_rpms + 1)) {
                        repo_package_release(&meta);
                        r = -ENOMEM;
                }
                if (r >= 0) {
                        b->rpms[b->n_rpms] = (ProjectRpm) { .file = strdup(file), .meta = meta };
                        if (!b->rpms[b->n_rpms].file) {
                                repo_package_release(&meta);
                                r = -ENOMEM;
                        } else
                                found = &b->rpms[b->n_rpms++];
                }
        }
        if (found)
                *ret = found->meta.primary;
        pthread_mutex_unlock(&b->lock);
        return r;
}

/* The sources of one buildroot: the project's packages given (a primary
 * document made for them) first, then the [repos] (shallow copies: only
 * sources[0] is to be released). */
static int make_sources(Buildroots *b, char *const *rpms, size_t n_rpms, Source **ret, char **ret_error) {
        _cleanup_free_ const char **fragments = new0(const char *, n_rpms + 1);
        Source *s = new0(Source, b->repos.n + 1);
        int r;
        if (!s || !fragments) {
                free(s);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_rpms; i++) {
                r = project_rpm_primary(b, rpms[i], &fragments[i]);
                if (r < 0) {
                        free(s);
                        *ret_error = strprintf("cannot read the project's package '%s': %s", rpms[i], strerror(-r));
                        return r;
                }
        }
        char *doc = NULL;
        r = repo_primary_document(fragments, n_rpms, &doc, &s[0].primary_len);
        s[0].primary = (uint8_t *) doc;
        s[0].name = strdup("project");
        s[0].url = path_join(b->out_dir, "repo");
        s[0].dir = path_join(b->out_dir, "repo");
        for (size_t i = 0; i < b->repos.n; i++)
                s[i + 1] = b->repos.items[i];
        if (r < 0 || !s[0].name || !s[0].url || !s[0].dir) {
                source_release(&s[0]);
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static void sources_free(Source *s) {
        if (s)
                source_release(&s[0]);
        free(s);
}

int buildroot_resolve(Buildroots *b, const char *component, char *const *project_rpms, size_t n_project_rpms,
                      const char *const *specs, size_t n_specs, Buildroot *ret, char **ret_error) {
        _cleanup_(diagnostics_releasep) Diagnostics d = { .max_errors = 50 };
        _cleanup_free_ SolveRepo *repos = new0(SolveRepo, b->repos.n + 1);
        _cleanup_free_ char *subject = strprintf("buildroot of component '%s'", component);
        Source *sources = NULL;
        Buildroot br = {};
        int r;

        if (!repos || !subject)
                return -ENOMEM;
        r = make_sources(b, project_rpms, n_project_rpms, &sources, ret_error);
        if (r < 0)
                return r;
        repos[0] = (SolveRepo) {
                .name = "project",
                .primary = (const char *) sources[0].primary,
                .primary_len = sources[0].primary_len,
                .priority = 99,
        };
        repos_as_solve(b, repos + 1);
        SolveRequest req = {
                .image = component,
                .subject = subject,
                .specs = specs,
                .n_specs = n_specs,
                .arch = b->p->arch,
        };
        r = solve_image(repos, b->repos.n + 1, &req, &d, &br.pkgs, &br.n);
        sources_free(sources);
        if (r == -EINVAL) {
                *ret_error = errors_of(&d, "the buildroot's packages cannot be resolved");
                return -EINVAL;
        }
        if (r < 0)
                return r;

        /* The key: exactly these packages, as installed here. */
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "%s\nslipway %s\narch %s\nsde %llu\n", BUILDROOT_FORMAT, SLIPWAY_VERSION, b->p->arch,
                      (unsigned long long) b->p->source_date_epoch);
        for (size_t i = 0; i < br.n; i++)
                strbuf_printf(&sb, "%s %s %s %s:%s\n", br.pkgs[i].name, br.pkgs[i].evr, br.pkgs[i].arch,
                              br.pkgs[i].checksum_type ? br.pkgs[i].checksum_type : "",
                              br.pkgs[i].checksum ? br.pkgs[i].checksum : "");
        if (sb.oom) {
                buildroot_release(&br);
                return -ENOMEM;
        }
        uint8_t md[32];
        hash_buffer(HASH_SHA256, sb.buf, sb.len, md);
        hex_encode(md, 32, br.key);
        *ret = br;
        return 0;
}

static void unlock_closep(int *fd) {
        if (*fd >= 0) {
                (void) flock(*fd, LOCK_UN);
                close(*fd);
        }
}

/* The tree of br: installed with scriptlets and an rpm database. */
static int compose_buildroot(Buildroots *b, const char *component, char *const *project_rpms, size_t n_project_rpms,
                             const Buildroot *br, ComposeResult *res, char **ret_error) {
        _cleanup_(diagnostics_releasep) Diagnostics d = { .max_errors = 50 };
        _cleanup_free_ char *what = strprintf("buildroot of component '%s'", component);
        Source *sources = NULL;
        if (!what)
                return -ENOMEM;
        int r = make_sources(b, project_rpms, n_project_rpms, &sources, ret_error);
        if (r < 0)
                return r;
        Image im = {
                .name = (char *) component,
                .what = what,
                .scriptlets = SCRIPTLETS_RUN,
        };
        r = compose_packages(b->p, &im, sources, br->pkgs, br->n, b->jobs, &d, res);
        sources_free(sources);
        if (r == -EINVAL)
                *ret_error = errors_of(&d, "its packages cannot be installed");
        return r;
}

/* Writes the tree into dir, with the mount points a build needs. */
static int stage_buildroot(const Buildroots *b, const Tree *t, const char *dir) {
        _cleanup_(stage_freep) Stage *s = NULL;
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n = 0;
        _cleanup_free_ char *store = path_join(b->cache_dir, "objects");
        if (!store)
                return -ENOMEM;
        int r = stage_new(dir, (int64_t) time(NULL), (int64_t) b->p->source_date_epoch, &s);
        if (r < 0)
                return r;
        /* Buildroots share their files: a second one with mostly the same
         * packages costs links, not copies. */
        if (mkdir(store, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        r = stage_set_store(s, store);
        if (r < 0)
                return r;
        r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = stage_put(s, t, nodes[i]);
                if (r < 0)
                        return r;
        }
        static const struct {
                const char *path;
                mode_t mode;
        } points[] = {
                { "builddir", 0755 }, { "tmp", 01777 }, { "var/tmp", 01777 }, { "proc", 0555 }, { "dev", 0755 },
        };
        for (size_t i = 0; i < ELEMENTSOF(points); i++) {
                _cleanup_free_ char *p = path_join(dir, points[i].path);
                struct stat st;
                if (!p)
                        return -ENOMEM;
                /* A symbolic link there (var/tmp -> ../tmp) is resolved inside
                 * the root by the sandbox; only a missing one is made. */
                if (lstat(p, &st) == 0)
                        continue;
                r = mkdir_parents(p, 0755);
                if (r < 0)
                        return r;
                if (chmod(p, points[i].mode) < 0)
                        return negative_errno();
        }
        return 0;
}

int buildroot_open(Buildroots *b, const char *component, char *const *project_rpms, size_t n_project_rpms,
                   const Buildroot *br, char **ret_dir, bool *ret_made, char **ret_error) {
        _cleanup_free_ char *dir = path_join(b->cache_dir, br->key), *lock = NULL, *tmp = NULL;
        _cleanup_(unlock_closep) int fd = -EBADF;
        int r;

        if (!dir || asprintf(&lock, "%s.lock", dir) < 0)
                return -ENOMEM;
        /* The lock file held must still be the one at its path: pruning
         * removes it under the lock, and a run that waited on the removed
         * one would not exclude a third that made a new one. */
        for (;;) {
                struct stat held, now;
                fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0) {
                        r = negative_errno();
                        *ret_error = strprintf("cannot lock the buildroot cache '%s': %s", lock, strerror(-r));
                        return r;
                }
                while (flock(fd, LOCK_EX) < 0)
                        if (errno != EINTR)
                                return negative_errno();
                if (fstat(fd, &held) < 0)
                        return negative_errno();
                if (stat(lock, &now) == 0 && held.st_ino == now.st_ino && held.st_dev == now.st_dev)
                        break;
                (void) flock(fd, LOCK_UN);
                close(fd);
                fd = -EBADF;
        }
        /* The lock's mtime is when the buildroot was last used (pruning). */
        (void) futimens(fd, NULL);

        if (path_exists(dir)) {
                pthread_mutex_lock(&b->lock);
                b->n_reused++;
                pthread_mutex_unlock(&b->lock);
                *ret_dir = TAKE_PTR(dir);
                *ret_made = false;
                return 0;
        }

        _cleanup_(compose_result_release) ComposeResult res = {};
        r = compose_buildroot(b, component, project_rpms, n_project_rpms, br, &res, ret_error);
        if (r < 0)
                return r;

        r = run_create_begin();
        if (r < 0)
                return r;
        r = tmpdir_beside(dir, "tmp", &tmp);
        if (r >= 0)
                r = run_track(tmp);
        run_create_end();
        if (r < 0) {
                *ret_error = strprintf("cannot make a directory beside '%s': %s", dir, strerror(-r));
                return r;
        }
        r = stage_buildroot(b, res.tree, tmp);
        if (r >= 0 && rename(tmp, dir) < 0)
                r = negative_errno();
        if (r < 0) {
                *ret_error = strprintf("cannot write the buildroot into '%s': %s", tmp, strerror(-r));
                (void) rm_rf(tmp);
                run_untrack(tmp);
                return r;
        }
        run_untrack(tmp);
        pthread_mutex_lock(&b->lock);
        b->n_made++;
        pthread_mutex_unlock(&b->lock);
        *ret_dir = TAKE_PTR(dir);
        *ret_made = true;
        return 0;
}

int buildroots_prune(Buildroots *b, size_t *ret_removed) {
        _cleanup_(closedirp) DIR *d = opendir(b->cache_dir);
        struct dirent *de;
        size_t removed = 0;
        time_t limit = time(NULL) - (time_t) BUILDROOT_KEEP_DAYS * 24 * 3600;
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l != 64 + 5 || strcmp(de->d_name + 64, ".lock") != 0)
                        continue;
                _cleanup_free_ char *lock = path_join(b->cache_dir, de->d_name);
                _cleanup_free_ char *dir = lock ? strndup(lock, strlen(lock) - 5) : NULL;
                struct stat st;
                if (!dir)
                        return -ENOMEM;
                _cleanup_close_ int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0 || fstat(fd, &st) < 0 || st.st_mtime >= limit)
                        continue;
                /* In use by another run: it is not old. */
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue;
                int r = rm_rf(dir);
                if (r >= 0 || r == -ENOENT) {
                        (void) unlink(lock);
                        removed++;
                }
        }
        if (removed > 0) {
                /* Objects no buildroot links to any more. */
                _cleanup_free_ char *store = path_join(b->cache_dir, "objects");
                _cleanup_(closedirp) DIR *sd = store ? opendir(store) : NULL;
                while (sd && (de = readdir(sd))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *sub = path_join(store, de->d_name);
                        _cleanup_(closedirp) DIR *od = sub ? opendir(sub) : NULL;
                        struct dirent *oe;
                        while (od && (oe = readdir(od))) {
                                struct stat st;
                                if (oe->d_name[0] != '.' && fstatat(dirfd(od), oe->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                    S_ISREG(st.st_mode) && st.st_nlink == 1)
                                        (void) unlinkat(dirfd(od), oe->d_name, 0);
                        }
                }
        }
        *ret_removed = removed;
        return 0;
}
