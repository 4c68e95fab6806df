/* SPDX-License-Identifier: MIT */

/* The packages of a customized image (customize.h): its rpm database read
 * as libsolv's installed set, the customization's installs, removals and
 * updates solved against the project's repository and [repos] (signatures
 * checked as for `slipway image`), then applied as rpm would: the new
 * packages' files installed, the leaving ones' files removed (what no
 * package that stays also has), the transaction's scriptlets run in the
 * sandbox (%pre/%post of new packages, %preun/%postun of leaving ones,
 * triggers), and the rpm database written again: the packages that stay with
 * their headers as they were, then the new ones. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "compose/compose.h"
#include "compose/scriptlets.h"
#include "compose/source.h"
#include "customize/customize.h"
#include "inspect/inspect.h"
#include "repo/repo.h"
#include "rpm/files.h"
#include "script/plan.h"
#include "rpm/tags.h"
#include "solve/solve.h"
#include "tree/rpmdb.h"

/* Where rpm keeps its database: the current place, then the old one (which
 * is often a symlink to the new one). */
static const char *const rpmdb_paths[] = {
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        "/var/lib/rpm/rpmdb.sqlite",
};
#define RPMDB_MAX ((size_t) 1 << 30)

typedef struct Installed {
        RpmHeader *header;
        char *nevra;
        bool leaves;
        char **removed;
        size_t n_removed, allocated_removed;
} Installed;

typedef struct InstalledSet {
        Installed *items;
        size_t n, allocated;
        Diagnostics *d;
} InstalledSet;

static void installed_set_release(InstalledSet *s) {
        for (size_t i = 0; i < s->n; i++) {
                rpm_header_free(s->items[i].header);
                free(s->items[i].nevra);
                for (size_t k = 0; k < s->items[i].n_removed; k++)
                        free(s->items[i].removed[k]);
                free(s->items[i].removed);
        }
        free(s->items);
        *s = (InstalledSet) {};
}

static char *header_nevra(const RpmHeader *h) {
        const char *n = rpm_header_get_string(h, RPMTAG_NAME), *v = rpm_header_get_string(h, RPMTAG_VERSION),
                   *r = rpm_header_get_string(h, RPMTAG_RELEASE), *a = rpm_header_get_string(h, RPMTAG_ARCH);
        uint64_t e;
        char *s = NULL, ep[24] = "";
        if (rpm_header_get_number(h, RPMTAG_EPOCH, &e) >= 0)
                snprintf(ep, sizeof ep, "%llu:", (unsigned long long) e);
        if (asprintf(&s, "%s-%s%s-%s%s%s", n ? n : "?", ep, v ? v : "?", r ? r : "?", a ? "." : "", a ? a : "") < 0)
                return NULL;
        return s;
}

static int add_row(void *userdata, int64_t hnum, const void *blob, size_t size) {
        InstalledSet *s = userdata;
        RpmHeader *h = NULL;
        int r = rpm_header_parse_installed(blob, size, &h);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !rpm_header_get_string(h, RPMTAG_NAME)) {
                rpm_header_free(h);
                diag_error(s->d, NULL, "the image's rpm database: package %lld has a malformed header", (long long) hnum);
                return -EBADMSG;
        }
        if (!GREEDY_REALLOC(s->items, s->allocated, s->n + 1)) {
                rpm_header_free(h);
                return -ENOMEM;
        }
        s->items[s->n] = (Installed) { .header = h, .nevra = header_nevra(h) };
        if (!s->items[s->n].nevra) {
                rpm_header_free(h);
                return -ENOMEM;
        }
        s->n++;
        return 0;
}

/* The image's rpm database: its path in the tree and its packages. */
static int read_installed(const Tree *t, char **ret_path, InstalledSet *set, Diagnostics *d) {
        for (size_t i = 0; i < ELEMENTSOF(rpmdb_paths); i++) {
                _cleanup_free_ char *path = NULL;
                if (tree_resolve(t, rpmdb_paths[i], &path) < 0)
                        continue;
                const TreeNode *n = tree_get(t, path);
                if (!n || n->type != TREE_REG)
                        continue;
                _cleanup_free_ uint8_t *data = NULL;
                size_t size = 0;
                int r = tree_blob_load(n->blob, RPMDB_MAX, &data, &size);
                if (r < 0) {
                        diag_error(d, NULL, "the image's rpm database %s: cannot read it: %s", path, strerror(-r));
                        return r == -ENOMEM ? r : -EINVAL;
                }
                _cleanup_(diagnostics_releasep) Diagnostics local = {};
                set->d = d;
                r = rpmdb_read_memory(data, size, add_row, set, &local);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        for (size_t k = 0; k < local.n; k++)
                                diag_error(d, NULL, "the image's %s: %s", path, local.items[k].message);
                        return -EINVAL;
                }
                *ret_path = TAKE_PTR(path);
                return 0;
        }
        if (tree_get(t, "/var/lib/rpm/Packages"))
                diag_error(d, NULL, "the image's rpm database is in the Berkeley DB format (/var/lib/rpm/Packages), "
                                    "which slipway does not read; rpm 4.16 and later use rpmdb.sqlite");
        else
                diag_error(d, NULL, "the image has no rpm database (%s), so its packages cannot be changed",
                           rpmdb_paths[0]);
        return -EINVAL;
}

/* Marks every path an installed package has as its own in the tree (what
 * the loader read has no owner): conflicts with new packages name it, and
 * the scriptlets' plan finds each package's files. */
static int set_owners(Tree *t, const InstalledSet *set) {
        for (size_t i = 0; i < set->n; i++) {
                _cleanup_(rpm_file_list_releasep) RpmFileList fl = {};
                if (rpm_header_files(set->items[i].header, &fl, NULL) < 0)
                        continue; /* no files (gpg-pubkey) */
                for (size_t k = 0; k < fl.n; k++) {
                        _cleanup_free_ char *norm = NULL;
                        if (tree_path_normalize(fl.files[k].path, &norm) < 0)
                                continue;
                        TreeNode *n = tree_get(t, norm);
                        if (n && !n->owner && !(n->owner = strdup(set->items[i].nevra)))
                                return -ENOMEM;
                }
        }
        return 0;
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Removes from t the paths of the leaving packages that no package that
 * stays has (directories only when nothing is left in them), deepest
 * first, and records them per package for the scriptlets' plan. */
/* The tree's paths as they were, sorted bytewise: everything below a
 * directory is one run of them ("D/..."), looked up without listing the
 * tree again for each directory. */
typedef struct Snapshot {
        char **paths;
        size_t n;
} Snapshot;

static void snapshot_release(Snapshot *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->paths[i]);
        free(s->paths);
        *s = (Snapshot) {};
}

static int snapshot_take(Snapshot *s, const Tree *t) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        if (!(s->paths = new0(char *, n + 1)))
                return -ENOMEM;
        for (; s->n < n; s->n++)
                if (!(s->paths[s->n] = strdup(nodes[s->n]->path)))
                        return -ENOMEM;
        return 0;
}

/* Whether nothing that was below dir is still in t. */
static int snapshot_empty_dir(const Snapshot *s, const Tree *t, const char *dir, bool *ret) {
        _cleanup_free_ char *prefix = NULL;
        if (asprintf(&prefix, "%s/", dir) < 0)
                return -ENOMEM;
        size_t l = strlen(prefix), lo = 0, hi = s->n;
        while (lo < hi) { /* the first path >= prefix */
                size_t mid = (lo + hi) / 2;
                if (strcmp(s->paths[mid], prefix) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret = true;
        for (size_t i = lo; i < s->n && strncmp(s->paths[i], prefix, l) == 0; i++)
                if (tree_get(t, s->paths[i])) {
                        *ret = false;
                        break;
                }
        return 0;
}

static int remove_leaving(Tree *t, InstalledSet *set) {
        _cleanup_(snapshot_release) Snapshot snapshot = {};
        _cleanup_free_ const char **kept = NULL;
        size_t n_kept = 0, allocated = 0;
        int r = 0;
        RpmFileList *lists = new0(RpmFileList, set->n ? set->n : 1);
        if (!lists)
                return -ENOMEM;
        for (size_t i = 0; i < set->n; i++)
                (void) rpm_header_files(set->items[i].header, &lists[i], NULL);
        for (size_t i = 0; i < set->n && r >= 0; i++)
                for (size_t k = 0; !set->items[i].leaves && k < lists[i].n; k++) {
                        if (!GREEDY_REALLOC(kept, allocated, n_kept + 1)) {
                                r = -ENOMEM;
                                break;
                        }
                        kept[n_kept++] = lists[i].files[k].path;
                }
        if (r >= 0 && n_kept > 1)
                qsort(kept, n_kept, sizeof *kept, str_cmp);
        for (size_t i = 0; i < set->n && r >= 0; i++) {
                Installed *it = &set->items[i];
                if (!it->leaves)
                        continue;
                /* Deepest first: the list is sorted, so backwards. */
                for (size_t k = lists[i].n; k > 0 && r >= 0; k--) {
                        const char *path = lists[i].files[k - 1].path;
                        if (bsearch(&path, kept, n_kept, sizeof *kept, str_cmp))
                                continue;
                        _cleanup_free_ char *norm = NULL;
                        if (tree_path_normalize(path, &norm) < 0 || strcmp(norm, "/") == 0)
                                continue;
                        TreeNode *n = tree_get(t, norm);
                        if (!n)
                                continue;
                        if (n->type == TREE_DIR) {
                                /* Only an empty directory goes (rpm leaves one with files in it). */
                                bool empty;
                                if (!snapshot.paths && (r = snapshot_take(&snapshot, t)) < 0)
                                        break;
                                if ((r = snapshot_empty_dir(&snapshot, t, norm, &empty)) < 0)
                                        break;
                                if (!empty)
                                        continue;
                        }
                        if ((r = tree_remove(t, norm)) < 0)
                                break;
                        if (!GREEDY_REALLOC(it->removed, it->allocated_removed, it->n_removed + 1) ||
                            !(it->removed[it->n_removed] = strdup(norm))) {
                                r = -ENOMEM;
                                break;
                        }
                        it->n_removed++;
                }
        }
        for (size_t i = 0; i < set->n; i++)
                rpm_file_list_release(&lists[i]);
        free(lists);
        return r;
}

/* The staying packages' headers as they were, then the new ones. */
static int write_rpmdb(Tree *t, const char *path, const InstalledSet *set, const InstallResult *inst, size_t n,
                       int64_t when, Diagnostics *d) {
        _cleanup_free_ RpmdbPackage *db = new0(RpmdbPackage, set->n + n + 1);
        size_t m = 0;
        if (!db)
                return -ENOMEM;
        for (size_t i = 0; i < set->n; i++)
                if (!set->items[i].leaves)
                        db[m++] = (RpmdbPackage) { .header = set->items[i].header, .installed = true };
        for (size_t i = 0; i < n; i++)
                db[m++] = (RpmdbPackage) { .header = inst[i].pkg->header, .signature = inst[i].pkg->signature,
                                           .install_time = (uint32_t) when, .install_tid = (uint32_t) when };
        RpmdbFailure bad = {};
        int r = tree_put_rpmdb(t, path, db, m, when, &bad);
        if (r < 0 && r != -ENOMEM) {
                diag_error(d, NULL, "cannot write the image's rpm database: %s", bad.why ? bad.why : strerror(-r));
                return -EINVAL;
        }
        return r;
}

/* What the SBOM says of the n packages installed (compose_package_fetched()). */
static int keep_fetched(const Source *sources, const SolvedPackage *news, const InstallResult *inst, size_t n,
                        CustomizeResult *res) {
        res->fetched_nevra = new0(char *, n + 1);
        res->fetched_sha256 = new0(char *, n + 1);
        res->fetched_url = new0(char *, n + 1);
        if (!res->fetched_nevra || !res->fetched_sha256 || !res->fetched_url)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                res->n_fetched = i + 1; /* customize_result_release() frees what is there */
                if (!(res->fetched_nevra[i] = strdup(inst[i].nevra)))
                        return -ENOMEM;
                int r = compose_package_fetched(sources, &news[i], &res->fetched_sha256[i], &res->fetched_url[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int customize_packages(Project *p, const Customization *c, Tree **t, const char *cache_dir, unsigned jobs,
                       Diagnostics *d, CustomizeResult *res) {
        const Image *im = &c->im;
        if (im->packages.n == 0 && c->remove.n == 0 && c->update.n == 0 && !c->update_existing)
                return 0;
        const int64_t when = (int64_t) p->source_date_epoch;
        _cleanup_(installed_set_release) InstalledSet set = {};
        _cleanup_free_ char *dbpath = NULL;
        int r = read_installed(*t, &dbpath, &set, d);
        if (r < 0)
                return r;
        if ((r = set_owners(*t, &set)) < 0)
                return r;

        /* What is installed, as a repository for the solver. */
        _cleanup_free_ char **frags = new0(char *, set.n + 1);
        _cleanup_free_ char *doc = NULL;
        size_t doc_len = 0;
        if (!frags)
                return -ENOMEM;
        for (size_t i = 0; i < set.n && r >= 0; i++) {
                r = repo_installed_primary(set.items[i].header, i, &frags[i]);
                if (r == -EBADMSG)
                        diag_error(d, NULL, "the image's rpm database: package %s has a malformed header",
                                   set.items[i].nevra);
        }
        if (r >= 0)
                r = repo_primary_document((const char *const *) frags, set.n, &doc, &doc_len);
        for (size_t i = 0; i < set.n; i++)
                free(frags[i]);
        if (r < 0)
                return r == -EBADMSG ? -EINVAL : r;

        /* The project's repository (project mode, when built) and the [repos]. */
        _cleanup_(source_set_release) SourceSet src = {};
        _cleanup_free_ char *repo_dir = cache_dir ? path_join(cache_dir, "repo") : NULL;
        bool with_project = repo_dir && path_exists(repo_dir) && p->signing.key;
        r = source_set_open(p, cache_dir, with_project, &src, d);
        if (r < 0)
                return r;
        _cleanup_free_ SolveRepo *repos = new0(SolveRepo, src.n + 1);
        if (!repos)
                return -ENOMEM;
        for (size_t i = 0; i < src.n; i++)
                repos[i] = (SolveRepo) { .name = src.items[i].name, .primary = (const char *) src.items[i].primary,
                                         .primary_len = src.items[i].primary_len,
                                         .priority = strcmp(src.items[i].name, "project") == 0 ? 99 : 0 };
        SolveRepo installed_repo = { .name = "@System", .primary = doc, .primary_len = doc_len };
        char subject[256];
        snprintf(subject, sizeof subject, "customization '%s'", im->name);
        SolveRequest req = {
                .image = im->name,
                .subject = subject,
                .specs = (const char *const *) im->packages.items,
                .n_specs = im->packages.n,
                .arch = p->arch,
                .installed = &installed_repo,
                .erase = (const char *const *) c->remove.items,
                .n_erase = c->remove.n,
                .update = (const char *const *) c->update.items,
                .n_update = c->update.n,
                .update_all = c->update_existing,
        };
        SolvedPackage *sol = NULL;
        size_t n_sol = 0;
        r = solve_image(repos, src.n, &req, d, &sol, &n_sol);
        if (r < 0)
                return r;

        /* New packages (in install order) and the installed ones that leave. */
        _cleanup_free_ SolvedPackage *news = new0(SolvedPackage, n_sol + 1);
        size_t n_new = 0;
        if (!news) {
                solved_packages_free(sol, n_sol);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_sol; i++) {
                if (sol[i].erase) {
                        if (sol[i].installed < set.n)
                                set.items[sol[i].installed].leaves = true;
                } else
                        news[n_new++] = sol[i];
        }
        RpmUnpacked **unpacked = NULL;
        r = compose_fetch(im, src.items, news, n_new, jobs, d, &unpacked);
        if (r < 0) {
                solved_packages_free(sol, n_sol);
                return r;
        }

        /* The root before (staged for the scriptlets), then the change. */
        _cleanup_(tree_freep) Tree *before = tree_clone(*t);
        InstallResult *inst = new0(InstallResult, n_new + 1);
        bool scripts = false;
        if (!before || !inst)
                r = -ENOMEM;
        if (r >= 0)
                r = remove_leaving(*t, &set);
        for (size_t i = 0; i < n_new; i++) {
                if (r >= 0) {
                        r = tree_install_unpacked(*t, unpacked[i], d, &inst[i]);
                        scripts |= r >= 0 && inst[i].has_scriptlets;
                }
                rpm_unpacked_free(unpacked[i]);
        }
        free(unpacked);
        for (size_t i = 0; i < set.n; i++)
                scripts |= header_has_scriptlets(set.items[i].header);
        if (r >= 0 && scripts && im->scriptlets != SCRIPTLETS_SKIP) {
                _cleanup_free_ ScriptletInstalled *si = new0(ScriptletInstalled, set.n + 1);
                if (!si)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < set.n; i++)
                        si[i] = (ScriptletInstalled) { .header = set.items[i].header, .nevra = set.items[i].nevra,
                                                       .erase = set.items[i].leaves, .removed = set.items[i].removed,
                                                       .n_removed = set.items[i].n_removed };
                if (r >= 0)
                        r = scriptlets_run_transaction(p, im, t, before, inst, n_new, si, set.n, d,
                                                       &res->n_scriptlets_run);
        }
        if (r >= 0)
                r = write_rpmdb(*t, dbpath, &set, inst, n_new, when, d);
        if (r >= 0)
                r = keep_fetched(src.items, news, inst, n_new, res);
        if (r >= 0)
                for (size_t i = 0; i < n_sol; i++) {
                        diag_note(d, NULL, "customization '%s': %s %s-%s.%s", im->name,
                                  sol[i].erase ? "removed" : "installed", sol[i].name, sol[i].evr, sol[i].arch);
                        res->n_installed += !sol[i].erase;
                        res->n_removed += sol[i].erase;
                }
        for (size_t i = 0; i < n_new; i++)
                install_result_release(&inst[i]);
        free(inst);
        solved_packages_free(sol, n_sol);
        return r;
}
