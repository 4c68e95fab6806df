/* SPDX-License-Identifier: MIT */

/* Spec components: rpmspec queries and rpmbuild runs, in host mode and in
 * buildroot mode (below, "buildroot mode", and buildroot.h).
 *
 * Host mode: rpmbuild runs in new mount and network namespaces (inside a new user
 * namespace when not root): a private scratch directory (mkdtemp, 0700) is
 * its /tmp, with the topdir at /tmp/rpmbuild and the spec's directory bound
 * read-only at /tmp/rpmbuild/SOURCES. Every path a build can record is then
 * the same wherever the project, its output or $TMPDIR is, so two copies of a
 * project build byte-identical packages. It runs with a clean environment, no
 * network, and the macros that make its output reproducible
 * (SOURCE_DATE_EPOCH as build time, clamped mtimes, fixed build host, zstd
 * payloads). Debian's rpm database is empty, so rpmbuild's
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
#include "basic/run.h"
#include "basic/strbuf.h"
#include "package/build.h"
#include "package/buildroot.h"
#include "upstream/upstream.h"
#include "rpm/dep.h"
#include "rpm/header.h"
#include "rpm/package.h"
#include "rpm/tags.h"
#include "sandbox/sandbox.h"

void spec_info_release(SpecInfo *s) {
        for (size_t i = 0; i < s->n_packages; i++) {
                free(s->packages[i]);
                if (s->files)
                        free(s->files[i]);
        }
        free(s->packages);
        free(s->files);
        free(s->srpm);
        for (size_t i = 0; i < s->n_provides; i++)
                rpm_dep_release(&s->provides[i]);
        free(s->provides);
        for (size_t i = 0; i < s->n_buildrequires; i++)
                rpm_dep_release(&s->buildrequires[i]);
        free(s->buildrequires);
        for (size_t i = 0; i < s->n_sources; i++)
                free(s->sources[i]);
        free(s->sources);
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
        for (size_t i = 0; i < p->build.defines.n; i++)
                argv_define(a, p->build.defines.keys[i], p->build.defines.values[i]);
        for (size_t i = 0; i < c->defines.n; i++)
                argv_define(a, c->defines.keys[i], c->defines.values[i]);
        /* A local spec's %check skipped: rpm runs %__spec_check_pre first in
         * the %check script. (An upstream spec has 'exit 0' rendered into
         * its %check instead, where `slipway render` shows it.) */
        if (c->check_skip && c->kind == COMPONENT_SPEC)
                argv_define(a, "__spec_check_pre", "exit 0");
        /* rpmbuild --with X / --without X are these defines (rpm's popt aliases). */
        for (size_t i = 0; i < c->with.n; i++) {
                _cleanup_free_ char *k = strprintf("_with_%s", c->with.items[i]);
                _cleanup_free_ char *v = strprintf("--with-%s", c->with.items[i]);
                if (k && v)
                        argv_define(a, k, v);
        }
        for (size_t i = 0; i < c->without.n; i++) {
                _cleanup_free_ char *k = strprintf("_without_%s", c->without.items[i]);
                _cleanup_free_ char *v = strprintf("--without-%s", c->without.items[i]);
                if (k && v)
                        argv_define(a, k, v);
        }
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
        /* An upstream component builds from its rendered tree (upstream.h). */
        _cleanup_free_ char *rel = c->kind == COMPONENT_UPSTREAM ? upstream_rendered_spec(env->out_dir, c)
                                                                 : project_path(env->project, c->spec);
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

/* The dependencies on the lines of out that start with prefix. -EBADMSG with
 * *ret_error set if one is not a dependency (rpm/dep.h). */
static int parse_dep_lines(const char *out, const char *prefix, RpmDep **items, size_t *n, char **ret_error) {
        size_t pl = strlen(prefix), allocated = 0;
        for (const char *l = out; l && *l;) {
                const char *e = strchr(l, '\n');
                size_t len = e ? (size_t) (e - l) : strlen(l);
                if (len > pl && strncmp(l, prefix, pl) == 0) {
                        _cleanup_free_ char *s = strndup_nul(l + pl, len - pl);
                        RpmDep d;
                        if (!s)
                                return -ENOMEM;
                        int r = rpm_dependency_parse(s, &d);
                        if (r == -EINVAL) {
                                *ret_error = strprintf("rpmspec printed a dependency slipway cannot read: '%s'", s);
                                return *ret_error ? -EBADMSG : -ENOMEM;
                        }
                        if (r < 0)
                                return r;
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

static void scratch_removep(char **dir) {
        if (*dir)
                (void) rm_rf(*dir);
        free(*dir);
}

/* Runs the two queries of spec_query() in the buildroot at root: the
 * spec's directory copied to /builddir/sources, rpmspec of the buildroot. */
static int query_in_buildroot(const char *root, const char *arch, const char *dir, char *const *envp, Argv *a,
                              Argv *b, char **ret_out, char **ret_out2, int *ret_status, char **ret_error) {
        _cleanup_(scratch_removep) char *scratch = NULL;
        _cleanup_(sandbox_stopp) Sandbox *sb = NULL;
        _cleanup_free_ char *builddir = NULL, *sources = NULL, *error = NULL;
        int r = run_mkdtemp("query", &scratch);
        if (r < 0)
                return r;
        builddir = path_join(scratch, "builddir");
        sources = path_join(scratch, "builddir/sources");
        if (!builddir || !sources)
                return -ENOMEM;
        if (mkdir(builddir, 0755) < 0 || mkdir(sources, 0755) < 0)
                return negative_errno();
        r = copy_tree(dir, sources);
        if (r < 0)
                return r;
        const ProcessBind binds[] = { { .source = builddir, .target = BUILDROOT_BUILDDIR, .read_only = true } };
        SandboxOptions o = { .root = root, .arch = arch, .binds = binds, .n_binds = 1, .read_only_root = true };
        r = sandbox_start(&o, &sb, &error);
        if (r < 0) {
                *ret_error = strprintf("cannot enter the buildroot: %s", error ? error : strerror(-r));
                return r;
        }
        Argv *args[2] = { a, b };
        char **outs[2] = { ret_out, ret_out2 };
        for (size_t i = 0; i < 2; i++) {
                SandboxCommand cmd = { .argv = args[i]->v, .envp = envp, .cwd = BUILDROOT_BUILDDIR "/sources" };
                SandboxResult res = {};
                free(error);
                error = NULL;
                r = sandbox_run(sb, &cmd, &res, &error);
                if (r < 0) {
                        *ret_error = strprintf("cannot run rpmspec in the buildroot: %s", error ? error : strerror(-r));
                        return r;
                }
                *ret_status = res.status;
                *outs[i] = TAKE_PTR(res.output);
                sandbox_result_release(&res);
                if (res.status != 0)
                        return 0;
        }
        return 0;
}

/* The environment of what runs in a buildroot (queries and builds): fixed,
 * and SOURCE_DATE_EPOCH (written into sde). */
#define BR_ENV_N 8
static void br_environment(const Project *p, char sde[static 48], char *envp[static BR_ENV_N]) {
        static const char *const fixed[] = {
                "PATH=/usr/bin:/bin:/usr/sbin:/sbin", ("HOME=" BUILDROOT_BUILDDIR), "LANG=C.UTF-8", "TZ=UTC",
                "TERM=vt100", "SHELL=/bin/bash",
        };
        static_assert(ELEMENTSOF(fixed) + 2 == BR_ENV_N, "buildroot environment");
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                envp[i] = (char *) fixed[i];
        snprintf(sde, 48, "SOURCE_DATE_EPOCH=%llu", (unsigned long long) p->source_date_epoch);
        envp[BR_ENV_N - 2] = sde;
        envp[BR_ENV_N - 1] = NULL;
}

int spec_query(const BuildEnv *env, const Component *c, const char *root, SpecInfo *ret, char **ret_error) {
        _cleanup_free_ char *spec = NULL, *dir = NULL, *out = NULL, *out2 = NULL, *inside = NULL;
        _cleanup_(argv_release) Argv a = {}, b = {};
        SpecInfo info = {};
        int status = 0, r;

        r = spec_paths(env, c, &spec, &dir);
        if (r < 0)
                return r;
        /* In a buildroot: its rpmspec, its macros, the spec's copy. */
        const char *spec_arg = spec, *sourcedir = dir;
        if (root) {
                inside = strprintf("%s/sources/%s", BUILDROOT_BUILDDIR, strrchr(spec, '/') + 1);
                if (!inside)
                        return -ENOMEM;
                spec_arg = inside;
                sourcedir = BUILDROOT_BUILDDIR "/sources";
        }

        /* Binary packages and their provides. */
        argv_add(&a, root ? "/usr/bin/rpmspec" : "rpmspec");
        argv_add(&a, "-q");
        add_macros(&a, env, c, sourcedir, "/nonexistent");
        argv_add(&a, "--qf");
        /* The file names as rpmbuild's _build_name_fmt makes them: two
         * components must not make the same file. */
        argv_add(&a, "@@P %{NAME}\\n@@F %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm\\n[@@p %{PROVIDENEVRS}\\n]");
        argv_add(&a, spec_arg);
        /* BuildRequires: the requires of the source package. */
        argv_add(&b, root ? "/usr/bin/rpmspec" : "rpmspec");
        argv_add(&b, "-q");
        argv_add(&b, "--srpm");
        add_macros(&b, env, c, sourcedir, "/nonexistent");
        argv_add(&b, "--qf");
        argv_add(&b, "@@S %{NAME}-%{VERSION}-%{RELEASE}.src.rpm\\n[@@r %{REQUIRENEVRS}\\n][@@s %{SOURCE}\\n][@@s %{PATCH}\\n]");
        argv_add(&b, spec_arg);
        if (a.oom || b.oom)
                return -ENOMEM;

        if (root) {
                char sde[48], *envp[BR_ENV_N];
                br_environment(env->project, sde, envp);
                r = query_in_buildroot(root, env->project->arch, dir, envp, &a, &b, &out, &out2, &status, ret_error);
                if (r < 0)
                        return r;
                if (status != 0) {
                        *ret_error = spec_error(out2 ? out2 : out ? out : "");
                        return -EINVAL;
                }
        } else {
                ProcessOptions po = { .argv = a.v, .envp = env->envp, .cwd = dir, .output_fd = -1,
                                      .capture_stderr = true };
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
        }

        size_t allocated = 0, n_files = 0;
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
        /* Each package's file name follows its name. */
        info.files = new0(char *, info.n_packages);
        if (!info.files) {
                spec_info_release(&info);
                return -ENOMEM;
        }
        for (const char *l = out; l && *l && n_files < info.n_packages; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, "@@F ", 4) == 0 && !(info.files[n_files++] = strndup_nul(l + 4, strcspn(l + 4, "\n")))) {
                        spec_info_release(&info);
                        return -ENOMEM;
                }
        for (const char *l = out2; l && *l && !info.srpm; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, "@@S ", 4) == 0 && !(info.srpm = strndup_nul(l + 4, strcspn(l + 4, "\n")))) {
                        spec_info_release(&info);
                        return -ENOMEM;
                }
        for (const char *l = out2; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, "@@s ", 4) == 0) {
                        char *f = strndup_nul(l + 4, strcspn(l + 4, "\n"));
                        char **nv = f ? reallocarray(info.sources, info.n_sources + 1, sizeof(char *)) : NULL;
                        if (!nv) {
                                free(f);
                                spec_info_release(&info);
                                return -ENOMEM;
                        }
                        info.sources = nv;
                        info.sources[info.n_sources++] = f;
                }
        r = parse_dep_lines(out, "@@p ", &info.provides, &info.n_provides, ret_error);
        if (r >= 0)
                r = parse_dep_lines(out2, "@@r ", &info.buildrequires, &info.n_buildrequires, ret_error);
        if (r < 0) {
                spec_info_release(&info);
                return r == -EBADMSG ? -EINVAL : r; /* -EINVAL: *ret_error says why */
        }
        if (info.n_packages == 0 || n_files != info.n_packages || !info.srpm) {
                *ret_error = strdup(info.n_packages == 0 ? "rpmspec printed no packages"
                                                         : "rpmspec printed no file name for a package");
                spec_info_release(&info);
                return *ret_error ? -EINVAL : -ENOMEM;
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

/* Where the build sees its files: the private scratch directory is the
 * build's /tmp, so no path the build can record (the expanded spec in the
 * source RPM, debug information, __FILE__) depends on where the project or
 * the scratch directory is. */
#define SANDBOX_TMP "/tmp"
#define SANDBOX_TOPDIR SANDBOX_TMP "/rpmbuild"
#define SANDBOX_SOURCES SANDBOX_TOPDIR "/SOURCES"
#define SANDBOX_HOME SANDBOX_TMP "/home"

/* A new private scratch directory (mode 0700, a name nobody can guess) in
 * the run's own directory in $TMPDIR or /tmp (basic/run.h), holding
 * rpmbuild/SOURCES (where the spec's directory is bound) and home. */
static int make_scratch(char **ret) {
        _cleanup_free_ char *dir = NULL;
        int r = run_mkdtemp("build", &dir);
        if (r < 0)
                return r;
        static const char *const subdirs[] = { "rpmbuild", "rpmbuild/SOURCES", "home" };
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *s = path_join(dir, subdirs[i]);
                if (!s) {
                        (void) rm_rf(dir);
                        return -ENOMEM;
                }
                if (mkdir(s, 0755) < 0) {
                        r = negative_errno();
                        (void) rm_rf(dir);
                        return r;
                }
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

/* Moves what rpmbuild made (binary RPMs below rpmsdir/ARCH, the source RPM
 * in srpmsdir) into the output, after claiming every file name. */
static int publish_outputs(const BuildEnv *env, const Component *c, const char *rpmsdir, const char *srpmsdir,
                           char ***ret_rpms, size_t *ret_n, char **ret_srpm, char **ret_reason) {
        _cleanup_free_ char *pkgdir = NULL, *sdir = NULL;
        char **rpms = NULL, **srpms = NULL;
        size_t n_rpms = 0, n_srpms = 0;
        int r;

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
        /* Every file claimed before any is moved: one another component
         * makes is not overwritten, and nothing of this one is published. */
        for (size_t i = 0; i < n_rpms && r >= 0; i++)
                r = build_claim_output(env, c, strrchr(rpms[i], '/') + 1, false, ret_reason);
        if (r >= 0 && n_srpms > 0)
                r = build_claim_output(env, c, strrchr(srpms[0], '/') + 1, true, ret_reason);
        if (r < 0)
                goto finish;
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

int spec_build(const BuildEnv *env, const Component *c, const char *log_path, char ***ret_rpms, size_t *ret_n,
               char **ret_srpm, char **ret_reason) {
        _cleanup_free_ char *spec = NULL, *dir = NULL, *sources = NULL, *sandbox_spec = NULL;
        _cleanup_free_ char *rpmsdir = NULL, *srpmsdir = NULL;
        _cleanup_(scratch_removep) char *scratch = NULL;
        _cleanup_(argv_release) Argv a = {};
        _cleanup_close_ int log_fd = -EBADF;
        int status, r;

        r = spec_paths(env, c, &spec, &dir);
        if (r < 0)
                return r;

        r = make_scratch(&scratch);
        if (r < 0) {
                char *s;
                *ret_reason = asprintf(&s, "cannot make a scratch directory: %s", strerror(-r)) < 0 ? NULL : s;
                return r;
        }
        if (asprintf(&sources, "%s/rpmbuild/SOURCES", scratch) < 0 ||
            asprintf(&rpmsdir, "%s/rpmbuild/RPMS", scratch) < 0 || asprintf(&srpmsdir, "%s/rpmbuild/SRPMS", scratch) < 0 ||
            asprintf(&sandbox_spec, "%s/%s", SANDBOX_SOURCES, strrchr(spec, '/') + 1) < 0)
                return -ENOMEM;

        log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
        if (log_fd < 0)
                return negative_errno();

        argv_add(&a, "rpmbuild");
        argv_add(&a, "-ba");
        argv_add(&a, "--nodeps");
        add_macros(&a, env, c, SANDBOX_SOURCES, SANDBOX_TOPDIR);
        argv_define(&a, "_tmppath", SANDBOX_TMP);
        argv_add(&a, sandbox_spec);
        char *const home_tmp[2] = { (char *) "HOME=" SANDBOX_HOME, (char *) "TMPDIR=" SANDBOX_TMP };
        _cleanup_free_ char **envp = build_envp(env, home_tmp);
        if (a.oom || !envp)
                return -ENOMEM;

        dprintf(log_fd, "slipway: building component '%s' with %s bound at %s, read-only, and a private %s:", c->name,
                dir, SANDBOX_SOURCES, SANDBOX_TMP);
        for (size_t i = 0; i < a.n; i++)
                dprintf(log_fd, " %s", a.v[i]);
        dprintf(log_fd, "\n\n");

        /* The spec's directory first, while the project is still visible
         * where it is (it may be below /tmp), then the scratch directory with
         * it over /tmp. */
        const ProcessBind binds[] = {
                { .source = dir, .target = sources, .read_only = true },
                { .source = scratch, .target = SANDBOX_TMP },
        };
        ProcessOptions po = { .argv = a.v, .envp = envp, .cwd = SANDBOX_SOURCES, .output_fd = log_fd,
                              .new_netns = true, .binds = binds, .n_binds = ELEMENTSOF(binds) };
        r = process_run(&po, NULL, &status);
        if (r == -EPERM) {
                *ret_reason = strdup("cannot isolate the build: the kernel refused a network or mount namespace "
                                     "(unshare or mount was not permitted)");
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

        return publish_outputs(env, c, rpmsdir, srpmsdir, ret_rpms, ret_n, ret_srpm, ret_reason);
}

/* ---- buildroot mode ------------------------------------------------------------ */

/* Where a buildroot-mode build sees its files, as mock lays them out: the
 * topdir /builddir/build, a copy of the spec's directory at
 * /builddir/sources (the source RPM's _sourcedir), HOME /builddir. */
#define BR_TOPDIR BUILDROOT_BUILDDIR "/build"
#define BR_SOURCES BUILDROOT_BUILDDIR "/sources"
#define BR_ROUNDS_MAX 8

typedef struct BrBuild {
        const BuildEnv *env;
        const Component *c;
        const BuildrootInput *in;
        const char *log_path;
        int log_fd;
        char *scratch;   /* host: the build's /builddir, /tmp and /var/tmp */
        char *spec_dir;  /* host: the spec's directory */
        char *spec_name; /* its file name */
        char sde[48];
        char *envp[BR_ENV_N];
        Sandbox *sandbox;
        char *root;      /* the buildroot in use */
} BrBuild;

static void br_build_release(BrBuild *b) {
        b->sandbox = sandbox_stop(b->sandbox);
        free(b->root);
        if (b->scratch)
                (void) rm_rf(b->scratch);
        free(b->scratch);
        free(b->spec_dir);
        free(b->spec_name);
}

/* Enters the buildroot at root (a directory of the cache), leaving the
 * sandbox of an earlier one. */
static int br_enter(BrBuild *b, char *root, char **ret_reason) {
        _cleanup_free_ char *builddir = path_join(b->scratch, "builddir"), *tmp = path_join(b->scratch, "tmp"),
                            *vartmp = path_join(b->scratch, "vartmp");
        _cleanup_free_ char *error = NULL;
        if (!builddir || !tmp || !vartmp) {
                free(root);
                return -ENOMEM;
        }
        b->sandbox = sandbox_stop(b->sandbox);
        free(b->root);
        b->root = root;
        const ProcessBind binds[] = {
                { .source = builddir, .target = BUILDROOT_BUILDDIR },
                { .source = tmp, .target = "/tmp" },
                { .source = vartmp, .target = "/var/tmp" },
        };
        SandboxOptions o = {
                .root = b->root,
                .arch = b->env->project->arch,
                .binds = binds,
                .n_binds = ELEMENTSOF(binds),
                .read_only_root = true,
        };
        int r = sandbox_start(&o, &b->sandbox, &error);
        if (r < 0)
                *ret_reason = strprintf("cannot enter the buildroot: %s", error ? error : strerror(-r));
        return r;
}

/* Runs rpmbuild in the buildroot with the project's macros and args;
 * *ret_status is its exit status. */
static int br_rpmbuild(BrBuild *b, const char *const *args, size_t n_args, const char *sourcedir, int *ret_status,
                       char **ret_reason) {
        _cleanup_(argv_release) Argv a = {};
        _cleanup_free_ char *error = NULL;
        argv_add(&a, "/usr/bin/rpmbuild");
        for (size_t i = 0; i < n_args - 1; i++)
                argv_add(&a, args[i]);
        argv_add(&a, "--nodeps");
        add_macros(&a, b->env, b->c, sourcedir, BR_TOPDIR);
        argv_add(&a, args[n_args - 1]);
        if (a.oom)
                return -ENOMEM;
        dprintf(b->log_fd, "slipway: in the buildroot:");
        for (size_t i = 0; i < a.n; i++)
                dprintf(b->log_fd, " %s", a.v[i]);
        dprintf(b->log_fd, "\n");
        SandboxCommand cmd = {
                .argv = a.v,
                .envp = b->envp,
                .cwd = BUILDROOT_BUILDDIR,
                .output_max = 4096,
                .log_fd = b->log_fd,
        };
        SandboxResult res = {};
        int r = sandbox_run(b->sandbox, &cmd, &res, &error);
        if (r < 0) {
                *ret_reason = strprintf("cannot run rpmbuild in the buildroot: %s", error ? error : strerror(-r));
                return r;
        }
        *ret_status = res.status;
        sandbox_result_release(&res);
        return 0;
}

/* The BuildRequires a %generate_buildrequires round wrote into
 * SRPMS/NAME-VERSION-RELEASE.buildreqs.nosrc.rpm, as dependency strings
 * (rpmlib() ones left out); the file is removed. */
static int br_dynamic_requires(BrBuild *b, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        char **files = NULL, **deps = NULL;
        size_t n_files = 0, n = 0;
        int r;

        if (asprintf(&dir, "%s/builddir/build/SRPMS", b->scratch) < 0)
                return -ENOMEM;
        r = collect_rpms(dir, false, &files, &n_files);
        for (size_t i = 0; r >= 0 && i < n_files; i++) {
                static const char suffix[] = ".buildreqs.nosrc.rpm";
                size_t l = strlen(files[i]);
                if (l < sizeof suffix || strcmp(files[i] + l - (sizeof suffix - 1), suffix) != 0)
                        continue;
                _cleanup_(rpm_package_freep) RpmPackage *pkg = NULL;
                const char **names = NULL, **versions = NULL;
                uint32_t *flags = NULL;
                size_t nn = 0, nv = 0, nf = 0;
                r = rpm_package_read(files[i], &pkg);
                if (r >= 0)
                        r = rpm_header_get_strings(pkg->header, RPMTAG_REQUIRENAME, &names, &nn);
                if (r >= 0)
                        r = rpm_header_get_strings(pkg->header, RPMTAG_REQUIREVERSION, &versions, &nv);
                if (r >= 0)
                        r = rpm_header_get_u32s(pkg->header, RPMTAG_REQUIREFLAGS, &flags, &nf);
                for (size_t k = 0; r >= 0 && k < nn && k < nv && k < nf; k++) {
                        if (strncmp(names[k], "rpmlib(", 7) == 0)
                                continue;
                        char buf[1024];
                        RpmDep d = { .name = (char *) names[k], .evr = (char *) versions[k], .flags = flags[k] };
                        rpm_dep_format(&d, buf, sizeof buf);
                        char **nd = reallocarray(deps, n + 1, sizeof(char *));
                        if (!nd || !(nd[n] = strdup(buf))) {
                                if (nd)
                                        deps = nd;
                                r = -ENOMEM;
                                break;
                        }
                        deps = nd;
                        n++;
                }
                free(names);
                free(versions);
                free(flags);
                (void) unlink(files[i]);
        }
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(deps[i]);
                free(deps);
                return r;
        }
        *ret = deps;
        *ret_n = n;
        return 0;
}

static void br_log_root(BrBuild *b, const struct Buildroot *br, bool made, double seconds) {
        dprintf(b->log_fd, "slipway: buildroot %s: %zu packages, %s", br->key, br->n,
                made ? "made" : "reused from the cache");
        if (made)
                dprintf(b->log_fd, " in %.2f s", seconds);
        dprintf(b->log_fd, "\n");
}

/* Opens (makes or reuses) br and enters it. */
static int br_use(BrBuild *b, const struct Buildroot *br, char **ret_reason) {
        _cleanup_free_ char *error = NULL;
        char *root = NULL;
        bool made = false;
        double t0 = build_clock();
        int r = buildroot_open(b->env->buildroots, b->c->name, b->in->project_rpms, b->in->n_project_rpms, br, &root,
                               &made, &error);
        if (r < 0) {
                *ret_reason = strprintf("cannot make the buildroot: %s", error ? error : strerror(-r));
                return r;
        }
        br_log_root(b, br, made, build_clock() - t0);
        return br_enter(b, root, ret_reason);
}

static bool spec_has_dynamic_buildrequires(const char *spec) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        if (read_full_file(spec, &text, &size) < 0)
                return false;
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, "%generate_buildrequires", 23) == 0)
                        return true;
        return false;
}

static char *failure_reason(const char *log_path, const char *step, int status);

/* One round of %generate_buildrequires in the buildroot active: 0 when its
 * requirements resolve to the same packages (done), 1 with *ret_next when
 * they need another buildroot, -errno with *ret_reason. */
static int br_generate_round(BrBuild *b, const char *srpm, unsigned round, const struct Buildroot *active,
                             struct Buildroot *ret_next, char **ret_reason) {
        const char *args[] = { "-rr", srpm };
        char **dyn = NULL;
        size_t n_dyn = 0;
        int status = 0;
        int r = br_rpmbuild(b, args, ELEMENTSOF(args), BR_TOPDIR "/SOURCES", &status, ret_reason);
        if (r < 0)
                return r;
        /* 11: the generator ran and wrote its requirements. */
        if (status != 0 && status != 11) {
                *ret_reason = failure_reason(b->log_path, "rpmbuild -rr", status);
                return -EINVAL;
        }
        r = br_dynamic_requires(b, &dyn, &n_dyn);
        if (r < 0)
                return r;
        const BuildrootInput *in = b->in;
        _cleanup_free_ const char **specs = new0(const char *, in->n_specs + n_dyn + 1);
        _cleanup_free_ char *error = NULL;
        struct Buildroot next = {};
        if (specs) {
                memcpy(specs, in->specs, in->n_specs * sizeof(char *));
                for (size_t i = 0; i < n_dyn; i++)
                        specs[in->n_specs + i] = dyn[i];
                dprintf(b->log_fd, "slipway: %%generate_buildrequires round %u: %zu requirements\n", round, n_dyn);
                r = buildroot_resolve(b->env->buildroots, b->c->name, in->project_rpms, in->n_project_rpms, specs,
                                      in->n_specs + n_dyn, &next, &error);
        } else
                r = -ENOMEM;
        for (size_t i = 0; i < n_dyn; i++)
                free(dyn[i]);
        free(dyn);
        if (r == -EINVAL)
                *ret_reason = strprintf("dynamic BuildRequires (round %u): %s", round,
                                        error ? error : "cannot be resolved");
        if (r < 0)
                return r;
        if (strcmp(next.key, active->key) == 0) {
                buildroot_release(&next);
                return 0;
        }
        *ret_next = next;
        return 1;
}

static char *failure_reason(const char *log_path, const char *step, int status) {
        _cleanup_free_ char *text = NULL, *phase = NULL, *first = NULL;
        size_t size = 0;
        if (read_full_file(log_path, &text, &size) >= 0)
                (void) build_log_diagnose(text, size, &phase, &first);
        if (phase && first)
                return strprintf("%s failed in %s: %s", step, phase, first);
        if (first)
                return strprintf("%s failed: %s", step, first);
        if (phase)
                return strprintf("%s failed in %s with exit status %d", step, phase, status);
        return strprintf("%s failed with exit status %d", step, status);
}

int spec_build_buildroot(const BuildEnv *env, const Component *c, const BuildrootInput *in, const char *log_path,
                         char ***ret_rpms, size_t *ret_n, char **ret_srpm, char **ret_reason) {
        _cleanup_(br_build_release) BrBuild b = {
                .env = env, .c = c, .in = in, .log_path = log_path, .log_fd = -EBADF,
        };
        _cleanup_free_ char *spec = NULL, *rpmsdir = NULL, *srpmsdir = NULL, *sandbox_spec = NULL, *srpm = NULL;
        _cleanup_close_ int log_fd = -EBADF;
        struct Buildroot cur = {};
        int status = 0, r;

        r = spec_paths(env, c, &spec, &b.spec_dir);
        if (r < 0)
                return r;
        b.spec_name = strdup(strrchr(spec, '/') + 1);
        if (!b.spec_name || asprintf(&sandbox_spec, "%s/%s", BR_SOURCES, b.spec_name) < 0)
                return -ENOMEM;
        br_environment(env->project, b.sde, b.envp);

        r = run_mkdtemp("build", &b.scratch);
        if (r < 0) {
                *ret_reason = strprintf("cannot make a scratch directory: %s", strerror(-r));
                return r;
        }
        static const char *const subdirs[] = {
                "builddir",         "builddir/sources",        "builddir/build",      "builddir/build/SOURCES",
                "builddir/build/SPECS", "builddir/build/BUILD", "builddir/build/RPMS", "builddir/build/SRPMS",
                "tmp",              "vartmp",
        };
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *d = path_join(b.scratch, subdirs[i]);
                if (!d)
                        return -ENOMEM;
                if (mkdir(d, 0755) < 0)
                        return negative_errno();
        }
        if (asprintf(&rpmsdir, "%s/builddir/build/RPMS", b.scratch) < 0 ||
            asprintf(&srpmsdir, "%s/builddir/build/SRPMS", b.scratch) < 0)
                return -ENOMEM;

        log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
        if (log_fd < 0)
                return negative_errno();
        b.log_fd = log_fd;
        /* A copy, not a bind: the copies are the caller's, so the source
         * RPM records them as root's, whoever owns the project's files
         * (a group the sandbox does not map would be "nobody"). */
        _cleanup_free_ char *sources = NULL;
        if (asprintf(&sources, "%s/builddir/sources", b.scratch) < 0)
                return -ENOMEM;
        r = copy_tree(b.spec_dir, sources);
        if (r < 0) {
                *ret_reason = strprintf("cannot copy '%s' into the build: %s", b.spec_dir, strerror(-r));
                return r;
        }
        dprintf(log_fd, "slipway: building component '%s' in a buildroot, %s copied to %s\n", c->name, b.spec_dir,
                BR_SOURCES);

        r = br_use(&b, in->br, ret_reason);
        if (r < 0)
                return r;

        /* 1. The source RPM, as mock --buildsrpm makes it. */
        const char *bs[] = { "-bs", sandbox_spec };
        r = br_rpmbuild(&b, bs, ELEMENTSOF(bs), BR_SOURCES, &status, ret_reason);
        if (r < 0)
                return r;
        if (status != 0) {
                *ret_reason = failure_reason(log_path, "rpmbuild -bs", status);
                return -EINVAL;
        }
        {
                char **s = NULL;
                size_t n = 0;
                r = collect_rpms(srpmsdir, false, &s, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        if (!srpm && strlen(s[i]) > 8 && strcmp(s[i] + strlen(s[i]) - 8, ".src.rpm") == 0)
                                srpm = strdup(strrchr(s[i], '/') + 1);
                        free(s[i]);
                }
                free(s);
                if (!srpm) {
                        *ret_reason = strdup("rpmbuild -bs made no source RPM");
                        return -EINVAL;
                }
        }
        _cleanup_free_ char *inside_srpm = strprintf("%s/SRPMS/%s", BR_TOPDIR, srpm);
        if (!inside_srpm)
                return -ENOMEM;

        /* 2. Dynamic BuildRequires, in rounds: each round's requirements are
         * resolved with what the buildroot held; a different set of packages
         * is a new buildroot, and the generator runs again there. */
        if (spec_has_dynamic_buildrequires(spec))
                for (unsigned round = 1;; round++) {
                        struct Buildroot next = {};
                        const struct Buildroot *active = cur.key[0] ? &cur : in->br;
                        r = br_generate_round(&b, inside_srpm, round, active, &next, ret_reason);
                        if (r == 0)
                                break;
                        if (r > 0 && round >= BR_ROUNDS_MAX) {
                                buildroot_release(&next);
                                *ret_reason = strprintf("%%generate_buildrequires asked for new packages in each of "
                                                        "%u rounds", round);
                                r = -ELOOP;
                        }
                        if (r > 0) {
                                buildroot_release(&cur);
                                cur = next;
                                r = br_use(&b, &cur, ret_reason);
                        }
                        if (r < 0) {
                                buildroot_release(&cur);
                                return r;
                        }
                }

        /* 3. The binary RPMs from the source RPM, as mock --rebuild. */
        const char *bb[] = { "--rebuild", inside_srpm };
        r = br_rpmbuild(&b, bb, ELEMENTSOF(bb), BR_TOPDIR "/SOURCES", &status, ret_reason);
        buildroot_release(&cur);
        if (r < 0)
                return r;
        if (status != 0) {
                *ret_reason = failure_reason(log_path, "rpmbuild", status);
                return -EINVAL;
        }
        return publish_outputs(env, c, rpmsdir, srpmsdir, ret_rpms, ret_n, ret_srpm, ret_reason);
}
