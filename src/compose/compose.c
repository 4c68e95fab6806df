/* SPDX-License-Identifier: MIT */

/* An image's tree: solve, fetch, install, rpmdb, settings, labels. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/run.h"
#include "basic/parallel.h"
#include "basic/strbuf.h"
#include "compose/compose.h"
#include "compose/scriptlets.h"
#include "compose/settings.h"
#include "solve/solve.h"
#include "tree/install.h"
#include "tree/rpmdb.h"

#define RPMDB_DIR "/usr/lib/sysimage/rpm"

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

void compose_result_release(ComposeResult *r) {
        tree_free(r->tree);
        strv_free(r->packages, r->n_packages);
        strv_free(r->package_sha256, r->n_packages);
        strv_free(r->package_url, r->n_packages);
        strv_free(r->scriptlets, r->n_scriptlets);
        free(r->selinux_policy);
        *r = (ComposeResult) {};
}

typedef struct FetchJob {
        const Source *sources;
        const SolvedPackage *pkgs;
        char **paths;  /* per package: the local file */
        char **errors; /* per package: what is wrong */
        int *results;
        RpmUnpacked **unpacked; /* per package: read and decompressed, ready to install */
} FetchJob;

static void fetch_one(void *ctx, size_t i) {
        FetchJob *j = ctx;
        const SolvedPackage *sp = &j->pkgs[i];
        j->results[i] = source_fetch(&j->sources[sp->repo], sp->location, sp->checksum_type, sp->checksum, sp->size,
                                     &j->paths[i], &j->errors[i]);
        /* The expensive part of installing (decompression, payload parsing)
         * runs here, in parallel; the tree is filled in order afterwards. */
        if (j->results[i] >= 0 && rpm_unpack(j->paths[i], &j->unpacked[i]) == -ENOMEM)
                j->results[i] = -ENOMEM;
}

static char *solved_nevra(const SolvedPackage *sp) {
        char *s;
        return asprintf(&s, "%s-%s.%s", sp->name, sp->evr, sp->arch) < 0 ? NULL : s;
}

int tree_put_rpmdb(Tree *t, const char *path, const RpmdbPackage *pkgs, size_t n, int64_t when,
                   RpmdbFailure *ret_failure) {
        _cleanup_free_ char *dir = NULL, *file = NULL, *data = NULL, *dbdir = path_dirname(path);
        size_t len;
        int r;

        if (!dbdir)
                return -ENOMEM;
        r = run_mkdtemp("rpmdb", &dir);
        if (r < 0)
                return r;
        file = path_join(dir, "rpmdb.sqlite");
        r = file ? rpmdb_write(file, pkgs, n, ret_failure) : -ENOMEM;
        if (r >= 0)
                r = read_full_file(file, &data, &len);
        (void) rm_rf(dir);
        run_untrack(dir);
        if (r < 0)
                return r;
        /* rpm makes its dbpath 0755 and the database 0644; a database that is
         * there keeps its mode and owner. */
        TreeNode *node;
        const TreeNode *old = tree_get(t, path);
        uint32_t mode = old ? old->mode : 0644, uid = old ? old->uid : 0, gid = old ? old->gid : 0;
        if (!tree_get(t, dbdir)) {
                r = tree_add_dir(t, dbdir, 0755, 0, 0, &node);
                if (r < 0)
                        return r;
        }
        r = tree_add_file(t, path, data, len, mode, uid, gid, &node);
        if (r < 0)
                return r;
        node->mtime = when;
        return 0;
}

/* The image's rpm database, of its packages installed in this order. */
static int add_rpmdb(Tree *t, const InstallResult *inst, size_t n, int64_t when, RpmdbFailure *ret_failure) {
        _cleanup_free_ RpmdbPackage *db = new0(RpmdbPackage, n ? n : 1);
        if (!db)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                db[i] = (RpmdbPackage) {
                        .header = inst[i].pkg->header,
                        .signature = inst[i].pkg->signature,
                        .install_time = (uint32_t) when,
                        .install_tid = (uint32_t) when,
                };
        return tree_put_rpmdb(t, RPMDB_DIR "/rpmdb.sqlite", db, n, when, ret_failure);
}

int compose_fetch(const Image *im, const Source *sources, const SolvedPackage *pkgs, size_t n, unsigned jobs,
                  Diagnostics *d, RpmUnpacked ***ret) {
        FetchJob fj = {
                .sources = sources,
                .pkgs = pkgs,
                .paths = new0(char *, n ? n : 1),
                .errors = new0(char *, n ? n : 1),
                .results = new0(int, n ? n : 1),
                .unpacked = new0(RpmUnpacked *, n ? n : 1),
        };
        int r = 0;
        if (!fj.paths || !fj.errors || !fj.results || !fj.unpacked)
                r = -ENOMEM;
        if (r >= 0)
                parallel_for(n, jobs, fetch_one, &fj);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (fj.results[i] == -ENOMEM)
                        r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (fj.results[i] < 0) {
                        _cleanup_free_ char *nevra = solved_nevra(&pkgs[i]);
                        diag_error(d, NULL, "%s: package %s from repository '%s': %s", IMAGE_WHAT(im),
                                   nevra ? nevra : pkgs[i].name, sources[pkgs[i].repo].name,
                                   fj.errors[i] ? fj.errors[i] : strerror(-fj.results[i]));
                }
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (fj.results[i] < 0)
                        r = -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (fj.paths)
                        free(fj.paths[i]);
                if (fj.errors)
                        free(fj.errors[i]);
                if (r < 0 && fj.unpacked)
                        rpm_unpacked_free(fj.unpacked[i]);
        }
        free(fj.paths);
        free(fj.errors);
        free(fj.results);
        if (r < 0) {
                free(fj.unpacked);
                return r;
        }
        *ret = fj.unpacked;
        return 0;
}

int compose_packages(const Project *p, const Image *im, const Source *sources, const SolvedPackage *pkgs, size_t n,
                     unsigned jobs, Diagnostics *d, ComposeResult *ret) {
        _cleanup_(tree_freep) Tree *t = NULL;
        InstallResult *inst = NULL;
        RpmUnpacked **unpacked = NULL;
        char **nevras = NULL, **scripts = NULL;
        size_t n_scripts = 0;
        int64_t when = (int64_t) p->source_date_epoch;
        int r;

        *ret = (ComposeResult) {};
        /* Fetch and check every package first (in parallel): nothing is
         * installed from a source that fails its checks. */
        r = compose_fetch(im, sources, pkgs, n, jobs, d, &unpacked);
        if (r < 0)
                return r;

        t = tree_new(when);
        inst = new0(InstallResult, n ? n : 1);
        nevras = new0(char *, n ? n : 1);
        scripts = new0(char *, n ? n : 1);
        if (!t || !inst || !nevras || !scripts) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                r = tree_install_unpacked(t, unpacked[i], d, &inst[i]);
                unpacked[i] = rpm_unpacked_free(unpacked[i]);
                if (r < 0)
                        goto finish;
                nevras[i] = strdup(inst[i].nevra);
                if (!nevras[i]) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (inst[i].has_scriptlets && !(scripts[n_scripts++] = strdup(inst[i].nevra))) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        if (n_scripts > 0 && im->scriptlets == SCRIPTLETS_SKIP) {
                _cleanup_(strbuf_releasep) StrBuf list = STRBUF_INIT;
                for (size_t i = 0; i < n_scripts; i++)
                        strbuf_printf(&list, "%s%s", i ? ", " : "", scripts[i]);
                if (list.oom) {
                        r = -ENOMEM;
                        goto finish;
                }
                SourcePos pos = cfg_pos(&im->obj, "scriptlets");
                diag_warning(d, &pos, "%s: the scriptlets of %zu package%s are not run (scriptlets = \"skip\"): %s",
                             IMAGE_WHAT(im), n_scripts, n_scripts == 1 ? "" : "s", list.buf);
        } else if (n_scripts > 0) {
                strv_free(scripts, n_scripts);
                scripts = NULL;
                n_scripts = 0;
                r = compose_scriptlets(p, im, &t, inst, n, d, &ret->n_scriptlets_run);
                if (r < 0)
                        goto finish;
        }

        RpmdbFailure bad = {};
        r = add_rpmdb(t, inst, n, when, &bad);
        if (r < 0) {
                if (bad.why)
                        diag_error(d, NULL, "%s: cannot write the rpm database: package %s: %s", IMAGE_WHAT(im),
                                   inst[bad.package].nevra, bad.why);
                else
                        diag_error(d, NULL, "%s: cannot write the rpm database: %s", IMAGE_WHAT(im), strerror(-r));
                r = -EINVAL;
                goto finish;
        }
        /* What the SBOM says of the package files: their digest if primary
         * gave a SHA-256 (source_fetch() checked the file against it), and
         * a remote repository's URL. */
        ret->package_sha256 = new0(char *, n ? n : 1);
        ret->package_url = new0(char *, n ? n : 1);
        if (!ret->package_sha256 || !ret->package_url) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++)
                if ((r = compose_package_fetched(sources, &pkgs[i], &ret->package_sha256[i], &ret->package_url[i])) < 0)
                        goto finish;
        ret->tree = TAKE_PTR(t);
        ret->packages = TAKE_PTR(nevras);
        ret->n_packages = n;
        ret->scriptlets = TAKE_PTR(scripts);
        ret->n_scriptlets = n_scripts;
        r = 0;
finish:
        for (size_t i = 0; inst && i < n; i++)
                install_result_release(&inst[i]);
        free(inst);
        strv_free(nevras, nevras ? n : 0);
        strv_free(scripts, n_scripts);
        if (r < 0) {
                strv_free(ret->package_sha256, ret->package_sha256 ? n : 0);
                strv_free(ret->package_url, ret->package_url ? n : 0);
                ret->package_sha256 = ret->package_url = NULL;
        }
        for (size_t i = 0; unpacked && i < n; i++)
                rpm_unpacked_free(unpacked[i]);
        free(unpacked);
        return r;
}

int compose_package_fetched(const Source *sources, const SolvedPackage *pkg, char **ret_sha256, char **ret_url) {
        const Source *src = &sources[pkg->repo];
        *ret_sha256 = *ret_url = NULL;
        if (pkg->checksum_type && strcmp(pkg->checksum_type, "sha256") == 0 && pkg->checksum &&
            !(*ret_sha256 = strdup(pkg->checksum)))
                return -ENOMEM;
        if (src->base && pkg->location && asprintf(ret_url, "%s%s", src->base, pkg->location) < 0) {
                *ret_url = NULL;
                free(*ret_sha256);
                *ret_sha256 = NULL;
                return -ENOMEM;
        }
        return 0;
}

int compose_image(const Project *p, const Image *im, const Source *sources, size_t n_sources, unsigned jobs,
                  Diagnostics *d, ComposeResult *ret) {
        SolvedPackage *pkgs = NULL;
        size_t n = 0;
        _cleanup_free_ SolveRepo *repos = new0(SolveRepo, n_sources ? n_sources : 1);
        int r;

        *ret = (ComposeResult) {};
        if (!repos)
                return -ENOMEM;
        for (size_t i = 0; i < n_sources; i++)
                repos[i] = (SolveRepo) {
                        .name = sources[i].name,
                        .primary = (const char *) sources[i].primary,
                        .primary_len = sources[i].primary_len,
                        /* The project's own packages win over the same from elsewhere. */
                        .priority = i == 0 ? 99 : 0,
                };
        SolveRequest req = {
                .image = im->name,
                .subject = im->what,
                .specs = (const char *const *) im->packages.items,
                .n_specs = im->packages.n,
                .arch = p->arch,
        };
        r = solve_image(repos, n_sources, &req, d, &pkgs, &n);
        if (r < 0)
                return r;
        r = compose_packages(p, im, sources, pkgs, n, jobs, d, ret);
        solved_packages_free(pkgs, n);
        if (r < 0)
                return r;
        r = settings_apply(ret->tree, p, im, d);
        if (r >= 0)
                r = settings_label(ret->tree, im, d, &ret->selinux_policy, &ret->n_labelled);
        if (r < 0)
                compose_result_release(ret);
        return r;
}
