/* SPDX-License-Identifier: MIT */

/* Spec components: rpmspec queries and rpmbuild runs.
 *
 * rpmbuild runs with a private topdir at a fixed path for the project and
 * component ($TMPDIR/slipway-UID/PROJECT/NAME, locked while in use), so paths
 * that end up in binaries do not depend on the output directory; with a clean
 * environment; in a new network namespace; and with the macros that make its
 * output reproducible (SOURCE_DATE_EPOCH as build time, clamped mtimes, fixed
 * build host, zstd payloads). Debian's rpm database is empty, so rpmbuild's
 * own dependency check is off (--nodeps): slipway checked the BuildRequires
 * against the project and [build] host-provides before. */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/process.h"
#include "basic/strbuf.h"
#include "package/build.h"

void spec_info_release(SpecInfo *s) {
        for (size_t i = 0; i < s->n_packages; i++)
                free(s->packages[i]);
        free(s->packages);
        for (size_t i = 0; i < s->n_provides; i++)
                rpm_dep_release(&s->provides[i]);
        free(s->provides);
        for (size_t i = 0; i < s->n_buildrequires; i++)
                rpm_dep_release(&s->buildrequires[i]);
        free(s->buildrequires);
        *s = (SpecInfo) {};
}

/* A growable NULL-terminated argv. */
typedef struct Argv {
        char **v;
        size_t n;
        size_t allocated;
        bool oom;
} Argv;

static void argv_add(Argv *a, const char *s) {
        if (a->oom)
                return;
        char *d = strdup(s);
        if (!d || !GREEDY_REALLOC(a->v, a->allocated, a->n + 2)) {
                free(d);
                a->oom = true;
                return;
        }
        a->v[a->n++] = d;
        a->v[a->n] = NULL;
}

static void argv_define(Argv *a, const char *name, const char *value) {
        char *s;
        argv_add(a, "--define");
        if (asprintf(&s, "%s %s", name, value) < 0) {
                a->oom = true;
                return;
        }
        argv_add(a, s);
        free(s);
}

static void argv_release(Argv *a) {
        for (size_t i = 0; i < a->n; i++)
                free(a->v[i]);
        free(a->v);
        *a = (Argv) {};
}

/* Macros shared by rpmspec and rpmbuild, so queries see what builds see. */
static void add_macros(Argv *a, const BuildEnv *env, const Component *c, const char *spec_dir, const char *topdir) {
        const Project *p = env->project;
        char sde[32];

        snprintf(sde, sizeof sde, "%llu", (unsigned long long) p->source_date_epoch);
        argv_define(a, "_topdir", topdir);
        argv_define(a, "_sourcedir", spec_dir);
        argv_define(a, "_buildhost", p->project.name);
        if (p->project.dist)
                argv_define(a, "dist", p->project.dist);
        if (p->project.vendor)
                argv_define(a, "vendor", p->project.vendor);
        argv_define(a, "source_date_epoch_from_changelog", "0");
        argv_define(a, "use_source_date_epoch_as_buildtime", "1");
        argv_define(a, "clamp_mtime_to_source_date_epoch", "1");
        /* The component's defines come later: a _binary_payload there wins
         * over the project's payload (config/ refuses it beside the
         * component's own). */
        argv_define(a, "_binary_payload", component_payload(p, c));
        /* Source RPMs are not shipped in images: a fast level. rpm's streaming
         * zstd at level 19 sets up ~90 MB of tables per payload, whatever its size. */
        argv_define(a, "_source_payload", "w3.zstdio");
        for (size_t i = 0; i < c->defines.n; i++)
                argv_define(a, c->defines.keys[i], c->defines.values[i]);
}

/* The environment with HOME and TMPDIR replaced; the array is malloc'd, the
 * strings are borrowed from env and from home_tmp. */
static char **build_envp(const BuildEnv *env, char *const home_tmp[2]) {
        size_t n = 0;
        while (env->envp[n])
                n++;
        char **e = new0(char *, n + 3);
        if (!e)
                return NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (strncmp(env->envp[i], "HOME=", 5) != 0 && strncmp(env->envp[i], "TMPDIR=", 7) != 0)
                        e[k++] = env->envp[i];
        e[k++] = home_tmp[0];
        e[k++] = home_tmp[1];
        e[k] = NULL;
        return e;
}

static int spec_paths(const BuildEnv *env, const Component *c, char **ret_spec, char **ret_dir) {
        _cleanup_free_ char *rel = project_path(env->project, c->spec);
        _cleanup_free_ char *abs = rel ? realpath(rel, NULL) : NULL;
        if (!abs)
                return rel ? negative_errno() : -ENOMEM;
        char *dir = path_dirname(abs);
        if (!dir)
                return -ENOMEM;
        *ret_spec = TAKE_PTR(abs);
        *ret_dir = dir;
        return 0;
}

static int parse_dep_lines(const char *out, const char *prefix, RpmDep **items, size_t *n) {
        size_t pl = strlen(prefix), allocated = 0;
        for (const char *l = out; l && *l;) {
                const char *e = strchr(l, '\n');
                size_t len = e ? (size_t) (e - l) : strlen(l);
                if (len > pl && strncmp(l, prefix, pl) == 0) {
                        _cleanup_free_ char *s = strndup_nul(l + pl, len - pl);
                        RpmDep d;
                        if (!s)
                                return -ENOMEM;
                        if (rpm_dep_parse(s, &d) < 0)
                                return -EBADMSG;
                        if (!GREEDY_REALLOC(*items, allocated, *n + 1)) {
                                rpm_dep_release(&d);
                                return -ENOMEM;
                        }
                        (*items)[(*n)++] = d;
                }
                l = e ? e + 1 : NULL;
        }
        return 0;
}

/* The last non-empty line of s, for one-line error reasons. */
static char *last_line(const char *s) {
        const char *end = s + strlen(s);
        while (end > s && (end[-1] == '\n' || end[-1] == ' '))
                end--;
        const char *start = end;
        while (start > s && start[-1] != '\n')
                start--;
        return strndup_nul(start, (size_t) (end - start));
}

/* rpmspec's first "error: " line without the prefix, else the last line. */
static char *spec_error(const char *s) {
        for (const char *l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, "error: ", 7) == 0) {
                        const char *e = strchrnul(l, '\n');
                        return strndup_nul(l + 7, (size_t) (e - l - 7));
                }
        return last_line(s);
}

int spec_query(const BuildEnv *env, const Component *c, SpecInfo *ret, char **ret_error) {
        _cleanup_free_ char *spec = NULL, *dir = NULL, *out = NULL, *out2 = NULL;
        _cleanup_(argv_release) Argv a = {}, b = {};
        SpecInfo info = {};
        int status, r;

        r = spec_paths(env, c, &spec, &dir);
        if (r < 0)
                return r;

        /* Binary packages and their provides. */
        argv_add(&a, "rpmspec");
        argv_add(&a, "-q");
        add_macros(&a, env, c, dir, "/nonexistent");
        argv_add(&a, "--qf");
        argv_add(&a, "@@P %{NAME}\\n[@@p %{PROVIDENEVRS}\\n]");
        argv_add(&a, spec);
        /* BuildRequires: the requires of the source package. */
        argv_add(&b, "rpmspec");
        argv_add(&b, "-q");
        argv_add(&b, "--srpm");
        add_macros(&b, env, c, dir, "/nonexistent");
        argv_add(&b, "--qf");
        argv_add(&b, "[@@r %{REQUIRENEVRS}\\n]");
        argv_add(&b, spec);
        if (a.oom || b.oom)
                return -ENOMEM;

        ProcessOptions po = { .argv = a.v, .envp = env->envp, .cwd = dir, .output_fd = -1, .capture_stderr = true };
        r = process_run(&po, &out, &status);
        if (r < 0)
                return r;
        if (status != 0) {
                *ret_error = spec_error(out);
                return -EINVAL;
        }
        po.argv = b.v;
        r = process_run(&po, &out2, &status);
        if (r < 0)
                return r;
        if (status != 0) {
                *ret_error = spec_error(out2);
                return -EINVAL;
        }

        size_t allocated = 0;
        for (const char *l = out; *l;) {
                const char *e = strchr(l, '\n');
                size_t len = e ? (size_t) (e - l) : strlen(l);
                if (len > 4 && strncmp(l, "@@P ", 4) == 0) {
                        char *name = strndup_nul(l + 4, len - 4);
                        if (!name || !GREEDY_REALLOC(info.packages, allocated, info.n_packages + 1)) {
                                free(name);
                                spec_info_release(&info);
                                return -ENOMEM;
                        }
                        info.packages[info.n_packages++] = name;
                }
                if (!e)
                        break;
                l = e + 1;
        }
        r = parse_dep_lines(out, "@@p ", &info.provides, &info.n_provides);
        if (r >= 0)
                r = parse_dep_lines(out2, "@@r ", &info.buildrequires, &info.n_buildrequires);
        if (r < 0 || info.n_packages == 0) {
                spec_info_release(&info);
                if (r == -ENOMEM)
                        return r;
                *ret_error = strdup("rpmspec printed no packages");
                return -EINVAL;
        }
        *ret = info;
        return 0;
}

/* Collects *.rpm below dir (one level of subdirectories, as RPMS/ARCH/). */
static int collect_rpms(const char *dir, bool nested, char ***paths, size_t *n) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *full = path_join(dir, de->d_name);
                if (!full)
                        return -ENOMEM;
                size_t l = strlen(de->d_name);
                if (nested) {
                        int r = collect_rpms(full, false, paths, n);
                        if (r < 0)
                                return r;
                } else if (l > 4 && strcmp(de->d_name + l - 4, ".rpm") == 0) {
                        char **np = realloc(*paths, (*n + 1) * sizeof(char *));
                        if (!np)
                                return -ENOMEM;
                        *paths = np;
                        (*paths)[(*n)++] = TAKE_PTR(full);
                }
        }
        return 0;
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int spec_build(const BuildEnv *env, const Component *c, const char *log_path, char ***ret_rpms, size_t *ret_n,
               char **ret_srpm, char **ret_reason) {
        const Project *p = env->project;
        _cleanup_free_ char *spec = NULL, *dir = NULL, *base = NULL, *topdir = NULL, *lock = NULL;
        _cleanup_free_ char *home = NULL, *tmp = NULL, *rpmsdir = NULL, *srpmsdir = NULL, *pkgdir = NULL, *sdir = NULL;
        _cleanup_(argv_release) Argv a = {};
        _cleanup_close_ int lock_fd = -EBADF, log_fd = -EBADF;
        char **rpms = NULL, **srpms = NULL;
        size_t n_rpms = 0, n_srpms = 0;
        int status, r;

        r = spec_paths(env, c, &spec, &dir);
        if (r < 0)
                return r;

        const char *t = getenv("TMPDIR");
        if (asprintf(&base, "%s/slipway-%u/%s", t && *t ? t : "/tmp", (unsigned) getuid(), p->project.name) < 0 ||
            asprintf(&topdir, "%s/%s", base, c->name) < 0 || asprintf(&lock, "%s/%s.lock", base, c->name) < 0 ||
            asprintf(&home, "%s/home", topdir) < 0 || asprintf(&tmp, "%s/tmp", topdir) < 0 ||
            asprintf(&rpmsdir, "%s/RPMS", topdir) < 0 || asprintf(&srpmsdir, "%s/SRPMS", topdir) < 0)
                return -ENOMEM;
        r = mkdir_parents(base, 0700);
        if (r < 0)
                return r;
        lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0)
                return negative_errno();

        r = rm_rf(topdir);
        if (r >= 0)
                r = mkdir_parents(home, 0755);
        if (r >= 0)
                r = mkdir_parents(tmp, 0755);
        if (r < 0)
                return r;

        log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
        if (log_fd < 0)
                return negative_errno();

        argv_add(&a, "rpmbuild");
        argv_add(&a, "-ba");
        argv_add(&a, "--nodeps");
        add_macros(&a, env, c, dir, topdir);
        argv_add(&a, spec);
        _cleanup_free_ char *env_home = NULL, *env_tmp = NULL;
        if (asprintf(&env_home, "HOME=%s", home) < 0 || asprintf(&env_tmp, "TMPDIR=%s", tmp) < 0)
                return -ENOMEM;
        char *const home_tmp[2] = { env_home, env_tmp };
        _cleanup_free_ char **envp = build_envp(env, home_tmp);
        if (a.oom || !envp)
                return -ENOMEM;

        dprintf(log_fd, "slipway: building component '%s' with:", c->name);
        for (size_t i = 0; i < a.n; i++)
                dprintf(log_fd, " %s", a.v[i]);
        dprintf(log_fd, "\n\n");

        ProcessOptions po = { .argv = a.v, .envp = envp, .cwd = dir, .output_fd = log_fd, .new_netns = true };
        r = process_run(&po, NULL, &status);
        if (r == -EPERM) {
                *ret_reason = strdup("cannot isolate the build from the network: no network namespace could be made "
                                     "(unshare was refused)");
                return r;
        }
        if (r < 0) {
                char *s;
                *ret_reason = asprintf(&s, "cannot run rpmbuild: %s", strerror(-r)) < 0 ? NULL : s;
                return r;
        }
        if (status != 0) {
                char *s;
                *ret_reason = asprintf(&s, "rpmbuild failed with exit status %d", status) < 0 ? NULL : s;
                return -EINVAL;
        }

        r = collect_rpms(rpmsdir, true, &rpms, &n_rpms);
        if (r >= 0)
                r = collect_rpms(srpmsdir, false, &srpms, &n_srpms);
        if (r >= 0 && n_rpms == 0) {
                *ret_reason = strdup("rpmbuild produced no binary RPM");
                r = -EINVAL;
        }
        if (r < 0)
                goto finish;
        qsort(rpms, n_rpms, sizeof(char *), str_cmp);

        /* Move the results into place; names only in the result. */
        pkgdir = path_join(env->out_dir, "repo/Packages");
        sdir = path_join(env->out_dir, "srpms");
        if (!pkgdir || !sdir) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_rpms; i++) {
                const char *name = strrchr(rpms[i], '/') + 1;
                _cleanup_free_ char *dst = path_join(pkgdir, name);
                if (!dst) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = move_file(rpms[i], dst);
                if (r < 0)
                        goto finish;
                char *bn = strdup(name);
                if (!bn) {
                        r = -ENOMEM;
                        goto finish;
                }
                free(rpms[i]);
                rpms[i] = bn;
        }
        if (n_srpms > 0) {
                const char *name = strrchr(srpms[0], '/') + 1;
                _cleanup_free_ char *dst = path_join(sdir, name);
                if (!dst) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = move_file(srpms[0], dst);
                if (r < 0)
                        goto finish;
                *ret_srpm = strdup(name);
        }
        (void) rm_rf(topdir);
        *ret_rpms = TAKE_PTR(rpms);
        *ret_n = n_rpms;
        r = 0;

finish:
        if (rpms) {
                for (size_t i = 0; i < n_rpms; i++)
                        free(rpms[i]);
                free(rpms);
        }
        for (size_t i = 0; i < n_srpms; i++)
                free(srpms[i]);
        free(srpms);
        if (r < 0 && !*ret_reason) {
                char *s;
                *ret_reason = asprintf(&s, "cannot store the built packages: %s", strerror(-r)) < 0 ? NULL : s;
        }
        return r;
}
