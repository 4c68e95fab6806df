/* SPDX-License-Identifier: MIT */

/* Native components: the RPM written by slipway from the TOML description. A
 * file source that is a directory is packaged recursively: the directory
 * itself, its subdirectories, files and symbolic links. */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "package/build.h"
#include "rpm/dep.h"
#include "rpm/package.h"

typedef struct FileList {
        RpmFile *items;
        size_t *origin; /* the [[files]] entry each item comes from */
        size_t n;
        size_t allocated;
        size_t origin_allocated;
        size_t current; /* the entry being added */
} FileList;

static void file_list_release(FileList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].path);
                free(l->items[i].link_target);
                free(l->items[i].source);
        }
        free(l->items);
        free(l->origin);
        *l = (FileList) {};
}

/* Adds the entry at host path src as dest, and everything below it for a
 * directory (in sorted order, so the result never depends on readdir). */
static int add_tree(FileList *l, const FileSpec *fs, const char *src, const char *dest, uint32_t sde,
                    char **ret_reason) {
        struct stat st;
        if (lstat(src, &st) < 0) {
                int r = negative_errno();
                if (asprintf(ret_reason, "cannot read '%s': %s", src, strerror(-r)) < 0)
                        *ret_reason = NULL;
                return r;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
                if (asprintf(ret_reason, "'%s' is not a regular file, directory or symbolic link", src) < 0)
                        *ret_reason = NULL;
                return -EINVAL;
        }
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1) ||
            !GREEDY_REALLOC(l->origin, l->origin_allocated, l->n + 1))
                return -ENOMEM;
        l->origin[l->n] = l->current;

        RpmFile f = {
                .user = fs->user,
                .group = fs->group,
                /* Clamped as rpmbuild's %clamp_mtime_to_source_date_epoch does. */
                .mtime = (uint32_t) MIN((uint64_t) st.st_mtime, (uint64_t) sde),
        };
        uint32_t perm = st.st_mode & 07777;
        /* 'mode' applies to the named file, or to the files in a directory;
         * directories keep their own mode. */
        if (fs->mode >= 0 && S_ISREG(st.st_mode))
                perm = (uint32_t) fs->mode;
        if (S_ISLNK(st.st_mode))
                perm = 0777;
        f.mode = (st.st_mode & S_IFMT) | perm;
        if (S_ISREG(st.st_mode) && fs->config)
                f.flags = RPMFILE_CONFIG | RPMFILE_NOREPLACE;
        f.path = strdup(dest);
        if (!f.path)
                return -ENOMEM;
        if (S_ISREG(st.st_mode) && !(f.source = strdup(src))) {
                free(f.path);
                return -ENOMEM;
        }
        if (S_ISLNK(st.st_mode)) {
                char buf[4096];
                ssize_t n = readlink(src, buf, sizeof buf - 1);
                if (n < 0) {
                        free(f.path);
                        return negative_errno();
                }
                buf[n] = 0;
                f.link_target = strdup(buf);
                if (!f.link_target) {
                        free(f.path);
                        return -ENOMEM;
                }
        }
        l->items[l->n++] = f;

        if (!S_ISDIR(st.st_mode))
                return 0;

        struct dirent **names = NULL;
        int n = scandir(src, &names, NULL, alphasort);
        if (n < 0)
                return negative_errno();
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *e = names[i]->d_name;
                if (r >= 0 && strcmp(e, ".") != 0 && strcmp(e, "..") != 0) {
                        _cleanup_free_ char *s = path_join(src, e), *d = NULL;
                        if (!s || asprintf(&d, "%s/%s", dest, e) < 0) {
                                d = NULL;
                                r = -ENOMEM;
                        } else
                                r = add_tree(l, fs, s, d, sde, ret_reason);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

static int parse_deps(const StrList *l, RpmDep **ret, size_t *ret_n) {
        RpmDep *d = new0(RpmDep, l->n);
        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                int r = rpm_dependency_parse(l->items[i], &d[i]);
                if (r < 0) {
                        for (size_t k = 0; k < i; k++)
                                rpm_dep_release(&d[k]);
                        free(d);
                        return r;
                }
        }
        *ret = d;
        *ret_n = l->n;
        return 0;
}

static void free_deps(RpmDep *d, size_t n) {
        for (size_t i = 0; i < n; i++)
                rpm_dep_release(&d[i]);
        free(d);
}

static char *native_evr(const Component *c) {
        char *r;
        int k = cfg_has(&c->obj, "epoch") ? asprintf(&r, "%lld:%s-%s", (long long) c->epoch, c->version, c->release)
                                          : asprintf(&r, "%s-%s", c->version, c->release);
        return k < 0 ? NULL : r;
}

int native_provides(const Project *p, const Component *c, RpmDep **ret, size_t *ret_n) {
        RpmDep *d = NULL;
        size_t n = 0;
        int r = parse_deps(&c->provides, &d, &n);
        if (r < 0)
                return r;
        RpmDep *nd = realloc(d, (n + 1) * sizeof *nd);
        if (!nd) {
                free_deps(d, n);
                return -ENOMEM;
        }
        d = nd;
        d[n] = (RpmDep) { .name = strdup(c->name), .flags = RPMSENSE_EQUAL, .evr = native_evr(c) };
        if (!d[n].name || !d[n].evr) {
                rpm_dep_release(&d[n]);
                free_deps(d, n);
                return -ENOMEM;
        }
        *ret = d;
        *ret_n = n + 1;
        return 0;
}

int native_build(const BuildEnv *env, const Component *c, const char *log_path, char ***ret_rpms, size_t *ret_n,
                 char **ret_reason) {
        const Project *p = env->project;
        _cleanup_(file_list_release) FileList files = {};
        RpmDep *req = NULL, *prov = NULL, *conf = NULL, *obs = NULL;
        size_t n_req = 0, n_prov = 0, n_conf = 0, n_obs = 0;
        uint32_t sde = (uint32_t) MIN(p->source_date_epoch, (uint64_t) UINT32_MAX);
        int r;

        for (size_t i = 0; i < c->files.n; i++) {
                const FileSpec *fs = &c->files.items[i];
                _cleanup_free_ char *src = project_path(p, fs->source);
                if (!src)
                        return -ENOMEM;
                files.current = i;
                r = add_tree(&files, fs, src, fs->path, sde, ret_reason);
                if (r < 0)
                        return r;
        }

        /* One path from two entries (directory sources that overlap). */
        for (size_t a = 0; a < files.n; a++)
                for (size_t b = a + 1; b < files.n; b++)
                        if (strcmp(files.items[a].path, files.items[b].path) == 0) {
                                const FileSpec *x = &c->files.items[files.origin[a]], *y = &c->files.items[files.origin[b]];
                                SourcePos px = cfg_pos(&x->obj, "source"), py = cfg_pos(&y->obj, "source");
                                if (asprintf(ret_reason,
                                             "path '%s' is packaged twice: from source '%s' (%s:%u:%u) and from source "
                                             "'%s' (%s:%u:%u)",
                                             files.items[a].path, x->source, px.file, px.line, px.column, y->source,
                                             py.file, py.line, py.column) < 0)
                                        *ret_reason = NULL;
                                return -EINVAL;
                        }

        RpmPayload payload;
        r = rpm_payload_parse(component_payload(p, c), &payload);
        if (r >= 0)
                r = parse_deps(&c->requires, &req, &n_req);
        if (r >= 0)
                r = parse_deps(&c->provides, &prov, &n_prov);
        if (r >= 0)
                r = parse_deps(&c->conflicts, &conf, &n_conf);
        if (r >= 0)
                r = parse_deps(&c->obsoletes, &obs, &n_obs);

        /* The config's six kinds as rpm's two sets of tags and a sense. */
        static const uint32_t senses[] = { RPMSENSE_TRIGGERIN, RPMSENSE_TRIGGERUN, RPMSENSE_TRIGGERPOSTUN };
        static_assert(TRANS_FILE_TRIGGER_IN == ELEMENTSOF(senses) && _FILE_TRIGGER_WHEN_MAX == 2 * ELEMENTSOF(senses),
                      "three plain kinds, then the same three per transaction");
        _cleanup_free_ RpmFileTrigger *triggers = new0(RpmFileTrigger, c->file_triggers.n ? c->file_triggers.n : 1);
        if (r >= 0 && !triggers)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < c->file_triggers.n; i++) {
                const FileTrigger *t = &c->file_triggers.items[i];
                triggers[i] = (RpmFileTrigger) {
                        .trans = t->when >= TRANS_FILE_TRIGGER_IN,
                        .sense = senses[t->when % ELEMENTSOF(senses)],
                        .paths = (const char *const *) t->paths.items,
                        .n_paths = t->paths.n,
                        .priority = (uint32_t) t->priority,
                        .program = t->program,
                        .body = t->body,
                };
        }

        _cleanup_free_ char *fname = rpm_package_filename(c->name, c->version, c->release, c->arch);
        _cleanup_free_ char *pkgdir = path_join(env->out_dir, "repo/Packages");
        _cleanup_free_ char *dest = fname && pkgdir ? path_join(pkgdir, fname) : NULL;
        if (r >= 0 && !dest)
                r = -ENOMEM;
        if (r >= 0)
                r = build_claim_output(env, c, fname, false, ret_reason);

        if (r >= 0) {
                RpmPackageSpec spec = {
                        .name = c->name,
                        .has_epoch = cfg_has(&c->obj, "epoch"),
                        .epoch = (uint32_t) c->epoch,
                        .version = c->version,
                        .release = c->release,
                        .arch = c->arch,
                        .summary = c->summary,
                        .description = c->description ? c->description : c->summary,
                        .license = c->license,
                        .vendor = p->project.vendor,
                        .url = c->url,
                        .buildhost = p->project.name,
                        .buildtime = sde,
                        .requires = req,
                        .n_requires = n_req,
                        .provides = prov,
                        .n_provides = n_prov,
                        .conflicts = conf,
                        .n_conflicts = n_conf,
                        .obsoletes = obs,
                        .n_obsoletes = n_obs,
                        .files = files.items,
                        .n_files = files.n,
                        .scripts = {
                                [RPM_SCRIPT_PRETRANS] = c->scripts.pretrans,
                                [RPM_SCRIPT_PRE] = c->scripts.pre,
                                [RPM_SCRIPT_POST] = c->scripts.post,
                                [RPM_SCRIPT_PREUN] = c->scripts.preun,
                                [RPM_SCRIPT_POSTUN] = c->scripts.postun,
                                [RPM_SCRIPT_POSTTRANS] = c->scripts.posttrans,
                        },
                        .file_triggers = triggers,
                        .n_file_triggers = c->file_triggers.n,
                        /* zstd's output does not depend on the thread count. */
                        .payload = payload,
                        .threads = env->jobs,
                };
                const char *bad = NULL;
                r = rpm_package_write(&spec, dest, &bad);
                if (r == -EEXIST) {
                        *ret_reason = strdup("two file entries resolve to the same path in the package");
                        r = -EINVAL;
                } else if (r < 0 && bad) {
                        if (asprintf(ret_reason, "cannot read '%s': %s", bad, strerror(-r)) < 0)
                                *ret_reason = NULL;
                }
        }
        free_deps(req, n_req);
        free_deps(prov, n_prov);
        free_deps(conf, n_conf);
        free_deps(obs, n_obs);
        if (r < 0)
                return r;

        /* A log for every component, native ones too, so out/logs is complete. */
        _cleanup_free_ char *log = NULL;
        if (asprintf(&log, "slipway: wrote %s with the native writer (%zu file%s)\n", fname, files.n,
                     files.n == 1 ? "" : "s") < 0)
                return -ENOMEM;
        (void) write_file_atomic(log_path, log, strlen(log), 0644);

        char **rpms = new0(char *, 1);
        if (!rpms || !(rpms[0] = strdup(fname))) {
                free(rpms);
                return -ENOMEM;
        }
        *ret_rpms = rpms;
        *ret_n = 1;
        return 0;
}
