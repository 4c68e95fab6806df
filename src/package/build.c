/* SPDX-License-Identifier: MIT */

/* The build graph, the cache and the parallel scheduler.
 *
 * Order: a spec component builds after every component that provides one of
 * its BuildRequires. Native components have no BuildRequires.
 *
 * Cache: each component's inputs hash to a key (cache_key()): its own files
 * and settings (with the build host's files its `host-inputs` name), the
 * project settings that reach its packages, and the exact
 * RPMs (by the SHA-256 of each as built, before signing) of the project
 * components that provide its BuildRequires. Signing is not an input: the
 * same key names the same unsigned packages whoever signs them. The key, the
 * RPMs it produced (their digests as built and as signed) and the key that
 * signed them are kept in cache/packages/NAME.json; an unchanged key whose
 * RPMs are still in place, signed by the same key, is a cache hit. Then the
 * shared cache (remote.h), if the project has one: its packages are
 * fetched, checked and signed here. Spec queries (rpmspec) are cached
 * locally the same way, keyed by the spec's directory and the macros. */

#include <dirent.h>
#include <glob.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/parallel.h"
#include "basic/process.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "package/build.h"
#include "package/buildroot.h"
#include "package/hardening.h"
#include "package/remote.h"
#include "rpm/dep.h"
#include "rpm/package.h"
#include "rpm/version.h"
#include "sign/pgp.h"
#include "sign/rpmsign.h"
#include "upstream/upstream.h"

#define CACHE_FORMAT "slipway-package-cache-3" /* 2: rpmbuild in the fixed sandbox layout; 3: unsigned digests */

static const char *const build_status_table[_BUILD_STATUS_MAX] = {
        [BUILD_BUILT] = "built",
        [BUILD_CACHED] = "cached",
        [BUILD_FAILED] = "failed",
        [BUILD_SKIPPED] = "skipped",
        [BUILD_MISSING] = "missing",
};

const char *build_status_to_string(BuildStatus s) {
        return s >= 0 && s < _BUILD_STATUS_MAX ? build_status_table[s] : NULL;
}

static void result_release(BuildResult *r) {
        for (size_t i = 0; i < r->n_rpms; i++)
                free(r->rpms[i]);
        free(r->rpms);
        free(r->srpm);
        free(r->log_path);
        free(r->reason);
        free(r->warning);
        free(r->key);
        free(r->needs);
        hardening_packages_free(r->hardening, r->n_hardening);
}

BuildReport *build_report_free(BuildReport *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++)
                result_release(&r->results[i]);
        free(r->results);
        free(r);
        return NULL;
}

/* ---- nodes ------------------------------------------------------------------- */

typedef struct Node {
        const Component *c;
        bool selected;
        SpecInfo spec;       /* spec components */
        RpmDep *provides;    /* points into spec.provides, or owned (native) */
        size_t n_provides;
        bool owns_provides;
        size_t *deps;        /* nodes that provide its BuildRequires */
        bool edges_done;
        size_t n_deps;
        size_t *rdeps;
        size_t n_rdeps;
        size_t pending;      /* deps not finished yet */
        bool done;
        char *key;           /* cache key, once computed */
        char **rpm_sha256;   /* of result.rpms as built (unsigned), once done */
        bool damaged;        /* the shared cache's copy was damaged: overwrite it */
        BuildResult result;
        /* buildroot mode */
        bool in_buildroot;
        char **br_specs;     /* the base set, then the BuildRequires */
        size_t n_br_specs;
        char **project_rpms; /* the project's packages the build may use */
        char **project_rpm_sha256; /* their digests as built */
        size_t n_project_rpms;
        Buildroot br;
        bool br_resolved;    /* br (and br_specs, project_rpms) is set */
        char *precheck;      /* why it fails before any build; NULL: fine */
        /* upstream components */
        const LockEntry *lock_entry;
        char *upstream_inputs; /* SHA-256 of upstream_key_inputs() */
} Node;

typedef struct Graph {
        const Project *p;
        BuildEnv env;
        Node *nodes;
        size_t n;
        /* scheduler */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t *ready;
        size_t n_ready;
        size_t remaining;
        size_t running;
        size_t rpmbuild_runs;
        const BuildOptions *o;
        /* Files built in this run, under lock (build_claim_output()). */
        struct Claim { char *file; bool srpm; size_t node; } *claims;
        size_t n_claims, allocated_claims;
        RpmDep *base;   /* buildroot mode: [build] buildroot, parsed */
        const char *const *base_strs; /* the same as written (the project's) */
        size_t n_base;
        /* What the [repos] provide, asked once for every selected buildroot
         * node's BuildRequires and the base set (graph_repos_provided()). */
        struct Provided { char *spec; bool have; } *provided;
        size_t n_provided;
        char *query_root; /* buildroot mode: the base set's buildroot, where specs are queried; NULL: the host */
        Buildroot query_br;
        UpstreamCaches caches;
        char *caches_git, *caches_lookaside;
        char *signed_by;  /* "FINGERPRINT@TIME" of the signing key; NULL: unsigned */
        bool remote_down; /* the shared cache could not be reached: not asked again (under lock) */
        /* The one-component mode without buildroots: what the component
         * needs enters its key by digest only, so its files stay in the
         * shared cache (the manifests are enough). */
        bool digests_only;
} Graph;

static bool add_index(size_t **v, size_t *n, size_t x) {
        for (size_t i = 0; i < *n; i++)
                if ((*v)[i] == x)
                        return true;
        size_t *nv = realloc(*v, (*n + 1) * sizeof *nv);
        if (!nv)
                return false;
        nv[(*n)++] = x;
        *v = nv;
        return true;
}

/* ---- hashing inputs ---------------------------------------------------------- */

static void key_str(StrBuf *sb, const char *label, const char *v) {
        strbuf_printf(sb, "%s=%zu:%s\n", label, v ? strlen(v) : 0, v ? v : "");
}

/* Every file below dir: relative path, type, mode, mtime clamped to
 * SOURCE_DATE_EPOCH (what may reach a package), and content digest. */
static int key_tree(StrBuf *sb, const char *dir, const char *rel, uint64_t sde) {
        struct dirent **names = NULL;
        _cleanup_free_ char *full = rel[0] ? path_join(dir, rel) : strdup(dir);
        if (!full)
                return -ENOMEM;
        int n = scandir(full, &names, NULL, alphasort);
        if (n < 0)
                return negative_errno();
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *e = names[i]->d_name;
                if (r >= 0 && strcmp(e, ".") != 0 && strcmp(e, "..") != 0) {
                        _cleanup_free_ char *sub = rel[0] ? path_join(rel, e) : strdup(e);
                        _cleanup_free_ char *path = sub ? path_join(dir, sub) : NULL;
                        struct stat st;
                        if (!path)
                                r = -ENOMEM;
                        else if (lstat(path, &st) < 0)
                                r = negative_errno();
                        else if (S_ISDIR(st.st_mode)) {
                                strbuf_printf(sb, "dir %s %o %llu\n", sub, (unsigned) (st.st_mode & 07777),
                                              (unsigned long long) MIN((uint64_t) st.st_mtime, sde));
                                r = key_tree(sb, dir, sub, sde);
                        } else if (S_ISLNK(st.st_mode)) {
                                char buf[4096];
                                ssize_t k = readlink(path, buf, sizeof buf - 1);
                                buf[k < 0 ? 0 : k] = 0;
                                strbuf_printf(sb, "link %s %s %llu\n", sub, buf,
                                              (unsigned long long) MIN((uint64_t) st.st_mtime, sde));
                        } else if (S_ISREG(st.st_mode)) {
                                uint8_t md[32];
                                char hex[65];
                                r = hash_file(HASH_SHA256, path, md, NULL);
                                hex_encode(md, 32, hex);
                                strbuf_printf(sb, "file %s %o %llu %s\n", sub, (unsigned) (st.st_mode & 07777),
                                              (unsigned long long) MIN((uint64_t) st.st_mtime, sde), hex);
                        }
                }
                free(names[i]);
        }
        free(names);
        return r;
}

/* A file source of a native component: the file, or the tree below it. */
static int key_source(StrBuf *sb, const char *path, uint64_t sde) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return negative_errno();
        strbuf_printf(sb, "mtime %llu\n", (unsigned long long) MIN((uint64_t) st.st_mtime, sde));
        if (S_ISDIR(st.st_mode)) {
                /* The directory's own mode, and everything below it. */
                strbuf_printf(sb, "tree %o\n", (unsigned) (st.st_mode & 07777));
                return key_tree(sb, path, "", sde);
        }
        if (S_ISLNK(st.st_mode)) {
                char buf[4096];
                ssize_t k = readlink(path, buf, sizeof buf - 1);
                buf[k < 0 ? 0 : k] = 0;
                strbuf_printf(sb, "link %s\n", buf);
                return 0;
        }
        uint8_t md[32];
        char hex[65];
        int r = hash_file(HASH_SHA256, path, md, NULL);
        if (r < 0)
                return r;
        hex_encode(md, 32, hex);
        strbuf_printf(sb, "file %o %s\n", (unsigned) (st.st_mode & 07777), hex);
        return 0;
}

/* The SHA-256 (hex, malloc'd) of what was collected for a key. */
static int digest_of(const StrBuf *sb, char **ret) {
        uint8_t md[32];
        char hex[65];
        if (sb->oom)
                return -ENOMEM;
        hash_buffer(HASH_SHA256, sb->buf ? sb->buf : "", sb->len, md);
        hex_encode(md, 32, hex);
        *ret = strdup(hex);
        return *ret ? 0 : -ENOMEM;
}

static void key_defines(StrBuf *sb, const Component *c) {
        for (size_t k = 0; k < c->defines.n; k++) {
                key_str(sb, "define", c->defines.keys[k]);
                key_str(sb, "value", c->defines.values[k]);
        }
        for (size_t k = 0; k < c->with.n; k++)
                key_str(sb, "with", c->with.items[k]);
        for (size_t k = 0; k < c->without.n; k++)
                key_str(sb, "without", c->without.items[k]);
        strbuf_printf(sb, "check-skip %d\n", c->check_skip);
}

static void key_build_defines(StrBuf *sb, const Project *p) {
        for (size_t k = 0; k < p->build.defines.n; k++) {
                key_str(sb, "build-define", p->build.defines.keys[k]);
                key_str(sb, "value", p->build.defines.values[k]);
        }
}

static void key_list(StrBuf *sb, const char *label, const StrList *l) {
        strbuf_printf(sb, "%s %zu\n", label, l->n);
        for (size_t i = 0; i < l->n; i++)
                key_str(sb, label, l->items[i]);
}

/* The build host's files a spec reads (`host-inputs`): each match of each
 * pattern by path, type and contents (not mtime: a reinstalled identical
 * file is no change). A pattern that matches nothing counts as such. */
static int key_host_inputs(StrBuf *sb, const StrList *patterns) {
        for (size_t i = 0; i < patterns->n; i++) {
                glob_t g = {};
                int gr = glob(patterns->items[i], 0, NULL, &g);
                if (gr == GLOB_NOSPACE) {
                        globfree(&g);
                        return -ENOMEM;
                }
                if (gr != 0 || g.gl_pathc == 0)
                        strbuf_printf(sb, "host-input %s: none\n", patterns->items[i]);
                for (size_t k = 0; gr == 0 && k < g.gl_pathc; k++) {
                        const char *path = g.gl_pathv[k];
                        struct stat st;
                        if (lstat(path, &st) < 0)
                                strbuf_printf(sb, "host-input %s: gone\n", path);
                        else if (S_ISREG(st.st_mode)) {
                                uint8_t md[32];
                                char hex[65];
                                int r = hash_file(HASH_SHA256, path, md, NULL);
                                if (r < 0) {
                                        globfree(&g);
                                        return r;
                                }
                                hex_encode(md, 32, hex);
                                strbuf_printf(sb, "host-input %s: file %o %s\n", path, (unsigned) (st.st_mode & 07777),
                                              hex);
                        } else if (S_ISLNK(st.st_mode)) {
                                char buf[4096];
                                ssize_t n = readlink(path, buf, sizeof buf - 1);
                                buf[n < 0 ? 0 : n] = 0;
                                strbuf_printf(sb, "host-input %s: link %s\n", path, buf);
                        } else
                                strbuf_printf(sb, "host-input %s: type %o\n", path, (unsigned) (st.st_mode & S_IFMT));
                }
                globfree(&g);
        }
        return 0;
}

/* The digest as built of one of the project's packages that node nd's
 * buildroot may hold (file: its name in repo/Packages); NULL if none. */
static const char *built_digest(const Node *nd, const char *file) {
        for (size_t k = 0; k < nd->n_project_rpms; k++)
                if (strcmp(nd->project_rpms[k], file) == 0)
                        return nd->project_rpm_sha256[k];
        return NULL;
}

/* The cache key of node i; called once its deps are done. */
static int cache_key(Graph *g, size_t i, char **ret) {
        const Project *p = g->p;
        Node *nd = &g->nodes[i];
        const Component *c = nd->c;
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        int r;

        strbuf_printf(&sb, "%s\nslipway %s\n", CACHE_FORMAT, SLIPWAY_VERSION);
        key_str(&sb, "kind", component_kind_to_string(c->kind));
        key_str(&sb, "name", c->name);
        key_str(&sb, "project", p->project.name);
        key_str(&sb, "vendor", p->project.vendor);
        key_str(&sb, "dist", p->project.dist);
        key_str(&sb, "arch", p->arch);
        key_str(&sb, "payload", component_payload(p, c));
        strbuf_printf(&sb, "sde %llu\n", (unsigned long long) p->source_date_epoch);

        if (component_uses_spec(c)) {
                if (c->kind == COMPONENT_UPSTREAM)
                        key_str(&sb, "upstream", nd->upstream_inputs);
                else {
                        _cleanup_free_ char *spec = project_path(p, c->spec);
                        _cleanup_free_ char *dir = spec ? path_dirname(spec) : NULL;
                        if (!dir)
                                return -ENOMEM;
                        key_str(&sb, "spec", strrchr(c->spec, '/') ? strrchr(c->spec, '/') + 1 : c->spec);
                        r = key_tree(&sb, dir, "", p->source_date_epoch);
                        if (r < 0)
                                return r;
                }
                key_defines(&sb, c);
                r = key_host_inputs(&sb, &c->host_inputs);
                if (r < 0)
                        return r;
                key_build_defines(&sb, p);
                /* A buildroot: exactly its packages; the project's that it
                 * holds by their digests as built, so that a buildroot of
                 * signed packages and one of the same unsigned (a cluster
                 * node's) give the same key. */
                if (nd->in_buildroot)
                        for (size_t k = 0; k < nd->br.n; k++) {
                                const SolvedPackage *sp = &nd->br.pkgs[k];
                                const char *sum = sp->checksum;
                                if (sp->repo == 0 && sp->location && strncmp(sp->location, "Packages/", 9) == 0)
                                        sum = built_digest(nd, sp->location + 9) ?: sum;
                                strbuf_printf(&sb, "buildroot %s %s %s %s\n", sp->name, sp->evr, sp->arch,
                                              sum ? sum : "");
                        }
                /* The exact RPMs this build may use. */
                for (size_t d = 0; d < nd->n_deps; d++) {
                        const Node *dep = &g->nodes[nd->deps[d]];
                        for (size_t k = 0; k < dep->result.n_rpms; k++)
                                strbuf_printf(&sb, "buildrequires %s %s\n", dep->result.rpms[k], dep->rpm_sha256[k]);
                }
        } else {
                if (cfg_has(&c->obj, "epoch"))
                        strbuf_printf(&sb, "epoch %lld\n", (long long) c->epoch);
                key_str(&sb, "version", c->version);
                key_str(&sb, "release", c->release);
                key_str(&sb, "summary", c->summary);
                key_str(&sb, "description", c->description);
                key_str(&sb, "license", c->license);
                key_str(&sb, "url", c->url);
                key_str(&sb, "arch", c->arch);
                key_list(&sb, "requires", &c->requires);
                key_list(&sb, "provides", &c->provides);
                key_list(&sb, "conflicts", &c->conflicts);
                key_list(&sb, "obsoletes", &c->obsoletes);
                /* Only what is set, so that the key of a component with
                 * neither is what it was before they existed. */
                const char *const scripts[] = { c->scripts.pretrans, c->scripts.pre, c->scripts.post,
                                                c->scripts.preun, c->scripts.postun, c->scripts.posttrans };
                for (size_t k = 0; k < ELEMENTSOF(scripts); k++)
                        if (scripts[k]) {
                                strbuf_printf(&sb, "script %zu\n", k);
                                key_str(&sb, "body", scripts[k]);
                        }
                for (size_t k = 0; k < c->file_triggers.n; k++) {
                        const FileTrigger *t = &c->file_triggers.items[k];
                        key_str(&sb, "file-trigger", file_trigger_when_to_string(t->when));
                        key_list(&sb, "paths", &t->paths);
                        strbuf_printf(&sb, "priority %lld\n", (long long) t->priority);
                        key_str(&sb, "program", t->program);
                        if (t->body)
                                key_str(&sb, "body", t->body);
                }
                for (size_t k = 0; k < c->files.n; k++) {
                        const FileSpec *f = &c->files.items[k];
                        _cleanup_free_ char *src = project_path(p, f->source);
                        if (!src)
                                return -ENOMEM;
                        key_str(&sb, "path", f->path);
                        strbuf_printf(&sb, "mode %d config %d\n", f->mode, f->config);
                        key_str(&sb, "user", f->user);
                        key_str(&sb, "group", f->group);
                        r = key_source(&sb, src, p->source_date_epoch);
                        if (r < 0)
                                return r;
                }
        }
        return digest_of(&sb, ret);
}

/* ---- the cache file ----------------------------------------------------------- */

static char *cache_path(const Graph *g, const char *kind, const char *name) {
        char *r;
        if (asprintf(&r, "%s/cache/%s/%s.json", g->env.out_dir, kind, name) < 0)
                return NULL;
        return r;
}

static int sha256_file_hex(const char *path, char hex[65]) {
        uint8_t md[32];
        int r = hash_file(HASH_SHA256, path, md, NULL);
        if (r < 0)
                return r;
        hex_encode(md, 32, hex);
        return 0;
}

static bool streq_ptr(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

/* Loads the local cache entry of node i if its key matches, its RPMs are
 * intact and signed as this run signs. */
static bool cache_lookup(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        _cleanup_free_ char *path = cache_path(g, "packages", nd->c->name);
        if (!path)
                return false;
        json_t *j = json_load_file(path, 0, NULL);
        if (!j)
                return false;

        bool ok = false;
        const char *format = json_string_value(json_object_get(j, "format"));
        const char *key = json_string_value(json_object_get(j, "key"));
        const char *signed_by = json_string_value(json_object_get(j, "signed_by"));
        json_t *rpms = json_object_get(j, "rpms");
        const char *srpm = json_string_value(json_object_get(j, "srpm"));
        size_t n = json_array_size(rpms);
        if (!format || strcmp(format, CACHE_FORMAT) != 0 || !key || strcmp(key, nd->key) != 0 || n == 0)
                goto out;
        if (!streq_ptr(signed_by, g->signed_by))
                goto out;

        char **names = new0(char *, n), **sums = new0(char *, n);
        if (!names || !sums) {
                free(names);
                free(sums);
                goto out;
        }
        ok = true;
        for (size_t k = 0; k < n && ok; k++) {
                json_t *e = json_array_get(rpms, k);
                const char *name = json_string_value(json_object_get(e, "file"));
                const char *sum = json_string_value(json_object_get(e, "sha256"));
                const char *built = json_string_value(json_object_get(e, "built"));
                json_int_t size = json_integer_value(json_object_get(e, "size"));
                json_int_t mtime = json_integer_value(json_object_get(e, "mtime_ns"));
                _cleanup_free_ char *f = NULL;
                struct stat st;
                if (!name || !sum || !built || strchr(name, '/') ||
                    asprintf(&f, "%s/repo/Packages/%s", g->env.out_dir, name) < 0) {
                        f = NULL;
                        ok = false;
                        break;
                }
                if (stat(f, &st) < 0 || st.st_size != size) {
                        ok = false;
                        break;
                }
                /* Same size and time: trust the recorded digest; else check it. */
                if ((json_int_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != mtime) {
                        char hex[65];
                        if (sha256_file_hex(f, hex) < 0 || strcmp(hex, sum) != 0) {
                                ok = false;
                                break;
                        }
                }
                names[k] = strdup(name);
                sums[k] = strdup(built);
                if (!names[k] || !sums[k])
                        ok = false;
        }
        if (ok && srpm) {
                _cleanup_free_ char *f = NULL;
                if (strchr(srpm, '/') || asprintf(&f, "%s/srpms/%s", g->env.out_dir, srpm) < 0 || !path_exists(f))
                        ok = false;
        }
        if (!ok) {
                for (size_t k = 0; k < n; k++) {
                        free(names[k]);
                        free(sums[k]);
                }
                free(names);
                free(sums);
                goto out;
        }
        nd->result.rpms = names;
        nd->result.n_rpms = n;
        nd->rpm_sha256 = sums;
        nd->result.srpm = srpm ? strdup(srpm) : NULL;
        nd->result.last_seconds = json_number_value(json_object_get(j, "seconds"));
        /* The hardening check's results, kept with the packages they are
         * of; a record without them (or not well formed) has them made
         * again (hardening_gate()). */
        json_t *hard = json_object_get(json_object_get(j, "hardening"), "packages");
        if (json_integer_value(json_object_get(json_object_get(j, "hardening"), "rules")) == HARDENING_RULES &&
            json_array_size(hard) == n) {
                HardeningPackage *pk = new0(HardeningPackage, n);
                bool good = pk != NULL;
                for (size_t k = 0; good && k < n; k++)
                        good = hardening_package_from_json(json_array_get(hard, k), &pk[k]) >= 0 &&
                               strcmp(pk[k].rpm, names[k]) == 0;
                if (good) {
                        nd->result.hardening = pk;
                        nd->result.n_hardening = n;
                } else
                        hardening_packages_free(pk, n);
        }
out:
        json_decref(j);
        return ok;
}

void built_rpms_free(BuiltRpm *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(a[i].file);
        free(a);
}

static int built_rpm_cmp(const void *a, const void *b) {
        return strcmp(((const BuiltRpm *) a)->file, ((const BuiltRpm *) b)->file);
}

int build_record_load(const Project *p, const char *out_dir, BuiltRpm **ret, size_t *ret_n) {
        _cleanup_free_ char *out = out_dir ? strdup(out_dir) : project_path(p, "out");
        BuiltRpm *a = NULL;
        size_t n = 0, allocated = 0;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < p->components.n; i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/cache/packages/%s.json", out, p->components.items[i].name) < 0) {
                        built_rpms_free(a, n);
                        return -ENOMEM;
                }
                json_t *j = json_load_file(path, 0, NULL);
                json_t *rpms = json_object_get(j, "rpms");
                for (size_t k = 0; k < json_array_size(rpms); k++) {
                        json_t *e = json_array_get(rpms, k);
                        const char *file = json_string_value(json_object_get(e, "file"));
                        const char *sum = json_string_value(json_object_get(e, "sha256"));
                        /* A record that is not well formed allows nothing. */
                        if (!file || !*file || strchr(file, '/') || !sum || strlen(sum) != 64)
                                continue;
                        if (!GREEDY_REALLOC(a, allocated, n + 1) || !(a[n].file = strdup(file))) {
                                json_decref(j);
                                built_rpms_free(a, n);
                                return -ENOMEM;
                        }
                        memcpy(a[n].sha256, sum, 65);
                        n++;
                }
                json_decref(j);
        }
        if (n > 0)
                qsort(a, n, sizeof(BuiltRpm), built_rpm_cmp);
        *ret = a;
        *ret_n = n;
        return 0;
}

/* Reads the RPM names a previous build of node i produced (to remove stale ones). */
static void cache_previous_outputs(Graph *g, size_t i, json_t **ret) {
        _cleanup_free_ char *path = cache_path(g, "packages", g->nodes[i].c->name);
        *ret = path ? json_load_file(path, 0, NULL) : NULL;
}

static int cache_store(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        _cleanup_free_ char *path = cache_path(g, "packages", nd->c->name);
        json_t *rpms = json_array();
        if (!path || !rpms)
                return -ENOMEM;
        for (size_t k = 0; k < nd->result.n_rpms; k++) {
                _cleanup_free_ char *f = NULL;
                struct stat st;
                char hex[65];
                if (asprintf(&f, "%s/repo/Packages/%s", g->env.out_dir, nd->result.rpms[k]) < 0 || stat(f, &st) < 0 ||
                    sha256_file_hex(f, hex) < 0) {
                        json_decref(rpms);
                        return -EIO;
                }
                json_array_append_new(rpms, json_pack("{s:s, s:s, s:s, s:I, s:I}", "file", nd->result.rpms[k],
                                                      "sha256", hex, "built", nd->rpm_sha256[k], "size",
                                                      (json_int_t) st.st_size, "mtime_ns",
                                                      (json_int_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec));
        }
        json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:f}", "format", CACHE_FORMAT, "key", nd->key, "signed_by",
                              g->signed_by ? json_string(g->signed_by) : json_null(), "rpms", rpms, "srpm",
                              nd->result.srpm ? json_string(nd->result.srpm) : json_null(), "seconds",
                              nd->result.last_seconds);
        if (!j)
                return -ENOMEM;
        if (nd->result.hardening) {
                json_t *hard = json_array();
                for (size_t k = 0; hard && k < nd->result.n_hardening; k++)
                        json_array_append_new(hard, hardening_package_to_json(&nd->result.hardening[k]));
                json_object_set_new(j, "hardening",
                                    hard ? json_pack("{s:i, s:o}", "rules", HARDENING_RULES, "packages", hard)
                                         : json_null());
        }
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (!s)
                return -ENOMEM;
        int r = write_file_atomic(path, s, strlen(s), 0644);
        free(s);
        return r;
}

static SourcePos component_pos(const Component *c);

/* ---- spec queries, cached ------------------------------------------------------ */

static int specinfo_key(const Graph *g, const Node *nd, char **ret) {
        const Component *c = nd->c;
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        _cleanup_free_ char *spec = c->spec ? project_path(g->p, c->spec) : NULL;
        _cleanup_free_ char *dir = spec ? path_dirname(spec) : NULL;
        if (c->spec && !dir)
                return -ENOMEM;
        strbuf_printf(&sb, "specinfo-4\n"); /* 2: file names too; 3: sources; 4: upstream components */
        if (c->kind == COMPONENT_UPSTREAM)
                key_str(&sb, "upstream", nd->upstream_inputs);
        else
                key_str(&sb, "spec", c->spec);
        key_str(&sb, "project", g->p->project.name);
        key_str(&sb, "dist", g->p->project.dist);
        key_str(&sb, "vendor", g->p->project.vendor);
        key_defines(&sb, c);
        key_build_defines(&sb, g->p);
        /* Where it is queried: a buildroot's macros are part of the answer. */
        if (nd->in_buildroot && g->query_root)
                strbuf_printf(&sb, "query buildroot %s\n", g->query_br.key);
        int r = dir ? key_tree(&sb, dir, "", g->p->source_date_epoch) : 0;
        if (r >= 0)
                r = key_host_inputs(&sb, &c->host_inputs);
        if (r < 0)
                return r;
        return digest_of(&sb, ret);
}

static json_t *deps_json(const RpmDep *d, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_pack("{s:s, s:i, s:s}", "name", d[i].name, "flags", (int) d[i].flags, "evr",
                                                   d[i].evr));
        return a;
}

static int deps_from_json(json_t *a, RpmDep **ret, size_t *ret_n) {
        size_t n = json_array_size(a);
        RpmDep *d = new0(RpmDep, n);
        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(a, i);
                const char *name = json_string_value(json_object_get(e, "name"));
                const char *evr = json_string_value(json_object_get(e, "evr"));
                d[i] = (RpmDep) { .name = strdup(name ? name : ""), .evr = strdup(evr ? evr : ""),
                                  .flags = (uint32_t) json_integer_value(json_object_get(e, "flags")) };
                if (!d[i].name || !d[i].evr || !name) {
                        for (size_t k = 0; k <= i; k++)
                                rpm_dep_release(&d[k]);
                        free(d);
                        return -EBADMSG;
                }
        }
        *ret = d;
        *ret_n = n;
        return 0;
}

/* One message of all of d's, for a component's failure reason. */
static char *diagnostics_join(const Diagnostics *d) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < d->n; i++) {
                const Diagnostic *x = &d->items[i];
                if (x->level != DIAG_ERROR)
                        continue;
                if (sb.len)
                        strbuf_puts(&sb, "; ");
                if (x->file)
                        strbuf_printf(&sb, "%s:%u:%u: ", x->file, x->line, x->column);
                strbuf_puts(&sb, x->message);
        }
        return strbuf_detach(&sb, NULL);
}

/* An upstream component's rendered tree, made unless it is there for the
 * same inputs (a stamp beside it holds their digest). */
static int ensure_rendered(Graph *g, Node *nd, Diagnostics *d) {
        _cleanup_free_ char *dest = NULL, *stamp = NULL, *have = NULL;
        size_t size;
        int r;

        if (asprintf(&dest, "%s/cache/upstream/render/%s", g->env.out_dir, nd->c->name) < 0 ||
            asprintf(&stamp, "%s/cache/upstream/render/%s.key", g->env.out_dir, nd->c->name) < 0)
                return -ENOMEM;
        if (read_full_file(stamp, &have, &size) >= 0 && strcmp(have, nd->upstream_inputs) == 0 && path_exists(dest))
                return 0;
        (void) unlink(stamp);
        r = upstream_render(g->p, nd->c, nd->lock_entry, &g->caches, dest, d);
        if (r < 0)
                return r;
        return write_file_atomic(stamp, nd->upstream_inputs, strlen(nd->upstream_inputs), 0644);
}

static int query_spec_cached(Graph *g, Node *nd, Diagnostics *d, char **ret_error) {
        _cleanup_free_ char *key = NULL, *path = cache_path(g, "specinfo", nd->c->name);
        int r;

        if (!path)
                return -ENOMEM;
        r = specinfo_key(g, nd, &key);
        if (r < 0)
                return r;

        json_t *j = json_load_file(path, 0, NULL);
        if (j) {
                const char *k = json_string_value(json_object_get(j, "key"));
                json_t *pk = json_object_get(j, "packages"), *fl = json_object_get(j, "files");
                const char *srpm = json_string_value(json_object_get(j, "srpm"));
                if (k && strcmp(k, key) == 0 && json_array_size(pk) > 0 && json_array_size(fl) == json_array_size(pk) &&
                    srpm &&
                    deps_from_json(json_object_get(j, "provides"), &nd->spec.provides, &nd->spec.n_provides) >= 0 &&
                    deps_from_json(json_object_get(j, "buildrequires"), &nd->spec.buildrequires,
                                   &nd->spec.n_buildrequires) >= 0) {
                        json_t *src = json_object_get(j, "sources");
                        nd->spec.sources = new0(char *, json_array_size(src) + 1);
                        for (size_t i = 0; nd->spec.sources && i < json_array_size(src); i++) {
                                const char *f = json_string_value(json_array_get(src, i));
                                nd->spec.sources[nd->spec.n_sources++] = strdup(f ? f : "");
                        }
                        nd->spec.packages = new0(char *, json_array_size(pk));
                        nd->spec.files = new0(char *, json_array_size(pk));
                        nd->spec.srpm = strdup(srpm);
                        bool ok = nd->spec.packages && nd->spec.files && nd->spec.srpm && nd->spec.sources;
                        for (size_t i = 0; ok && i < nd->spec.n_sources; i++)
                                ok = nd->spec.sources[i];
                        for (size_t i = 0; ok && i < json_array_size(pk); i++) {
                                const char *s = json_string_value(json_array_get(pk, i));
                                const char *f = json_string_value(json_array_get(fl, i));
                                nd->spec.packages[nd->spec.n_packages++] = strdup(s ? s : "");
                                nd->spec.files[i] = strdup(f ? f : "");
                                ok = nd->spec.packages[i] && nd->spec.files[i];
                        }
                        json_decref(j);
                        if (ok)
                                return 0;
                        spec_info_release(&nd->spec);
                        return -ENOMEM;
                }
                spec_info_release(&nd->spec);
                json_decref(j);
        }

        if (nd->c->kind == COMPONENT_UPSTREAM) {
                r = ensure_rendered(g, nd, d);
                if (r < 0)
                        return r;
        }
        r = spec_query(&g->env, nd->c, nd->in_buildroot ? g->query_root : NULL, &nd->spec, ret_error);
        if (r < 0)
                return r;

        json_t *pk = json_array(), *fl = json_array(), *src = json_array();
        for (size_t i = 0; i < nd->spec.n_sources; i++)
                json_array_append_new(src, json_string(nd->spec.sources[i]));
        for (size_t i = 0; i < nd->spec.n_packages; i++) {
                json_array_append_new(pk, json_string(nd->spec.packages[i]));
                json_array_append_new(fl, json_string(nd->spec.files[i]));
        }
        j = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:o}", "key", key, "packages", pk, "files", fl, "srpm",
                      nd->spec.srpm, "provides", deps_json(nd->spec.provides, nd->spec.n_provides), "buildrequires",
                      deps_json(nd->spec.buildrequires, nd->spec.n_buildrequires), "sources", src);
        char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        json_decref(j);
        if (s) {
                (void) write_file_atomic(path, s, strlen(s), 0644);
                free(s);
        }
        return 0;
}

typedef struct QueryCtx {
        Graph *g;
        int *rs;
        char **errors;
        Diagnostics *diags; /* one per node: render errors, at their TOML keys */
} QueryCtx;

static void query_one(void *ctx, size_t i) {
        QueryCtx *q = ctx;
        Node *nd = &q->g->nodes[i];
        if (!nd->selected || !component_uses_spec(nd->c))
                return;
        q->rs[i] = query_spec_cached(q->g, nd, &q->diags[i], &q->errors[i]);
}

/* ---- the scheduler ------------------------------------------------------------ */

double build_clock(void) {
        return monotonic_seconds();
}

static void remove_stale_outputs(Graph *g, size_t i, json_t *prev) {
        Node *nd = &g->nodes[i];
        json_t *rpms = json_object_get(prev, "rpms");
        for (size_t k = 0; k < json_array_size(rpms); k++) {
                const char *name = json_string_value(json_object_get(json_array_get(rpms, k), "file"));
                bool still = false;
                if (!name || strchr(name, '/'))
                        continue;
                for (size_t m = 0; m < nd->result.n_rpms; m++)
                        still |= strcmp(nd->result.rpms[m], name) == 0;
                if (!still) {
                        _cleanup_free_ char *f = NULL;
                        if (asprintf(&f, "%s/repo/Packages/%s", g->env.out_dir, name) >= 0)
                                (void) unlink(f);
                }
        }
        const char *srpm = json_string_value(json_object_get(prev, "srpm"));
        if (srpm && !strchr(srpm, '/') && (!nd->result.srpm || strcmp(srpm, nd->result.srpm) != 0)) {
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "%s/srpms/%s", g->env.out_dir, srpm) >= 0)
                        (void) unlink(f);
        }
}

/* The RPMs of the components node i needs (its deps, and theirs), which
 * its buildroot may hold. */
static int collect_project_rpms(Graph *g, size_t into, size_t i, bool *seen) {
        Node *nd = &g->nodes[i], *me = &g->nodes[into];
        for (size_t k = 0; k < nd->n_deps; k++) {
                size_t j = nd->deps[k];
                if (seen[j])
                        continue;
                seen[j] = true;
                Node *dep = &g->nodes[j];
                for (size_t m = 0; m < dep->result.n_rpms; m++) {
                        char **nv = reallocarray(me->project_rpms, me->n_project_rpms + 1, sizeof(char *));
                        if (!nv)
                                return -ENOMEM;
                        me->project_rpms = nv;
                        char **ns = reallocarray(me->project_rpm_sha256, me->n_project_rpms + 1, sizeof(char *));
                        if (!ns)
                                return -ENOMEM;
                        me->project_rpm_sha256 = ns;
                        nv[me->n_project_rpms] = dep->result.rpms[m];
                        ns[me->n_project_rpms++] = dep->rpm_sha256[m];
                }
                /* What it needs, in turn, is the buildroot's to choose from too. */
                int r = collect_project_rpms(g, into, j, seen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Buildroot mode: what the buildroot holds, resolved (its key is part of
 * the component's). */
static int resolve_buildroot(Graph *g, size_t i, char **ret_reason) {
        Node *nd = &g->nodes[i];
        _cleanup_free_ bool *seen = new0(bool, g->n);
        if (!seen)
                return -ENOMEM;
        seen[i] = true;
        int r = collect_project_rpms(g, i, i, seen);
        if (r < 0)
                return r;
        nd->br_specs = new0(char *, g->n_base + nd->spec.n_buildrequires + 1);
        if (!nd->br_specs)
                return -ENOMEM;
        for (size_t b = 0; b < g->n_base + nd->spec.n_buildrequires; b++) {
                char buf[1024];
                const char *spec = b < g->n_base ? g->base_strs[b] : NULL;
                if (!spec) {
                        const RpmDep *d = &nd->spec.buildrequires[b - g->n_base];
                        if (strncmp(d->name, "rpmlib(", 7) == 0)
                                continue;
                        rpm_dep_format(d, buf, sizeof buf);
                        spec = buf;
                }
                if (!(nd->br_specs[nd->n_br_specs] = strdup(spec)))
                        return -ENOMEM;
                nd->n_br_specs++;
        }
        _cleanup_free_ char *error = NULL;
        r = buildroot_resolve(g->env.buildroots, nd->c->name, nd->project_rpms, nd->n_project_rpms,
                              (const char *const *) nd->br_specs, nd->n_br_specs, &nd->br, &error);
        if (r == -EINVAL)
                *ret_reason = strprintf("the buildroot cannot be resolved: %s", error ? error : "");
        return r;
}

/* Where a file of node i's is: repo/Packages, or srpms for its SRPM. */
static char *output_path(const Graph *g, const char *file, bool srpm) {
        return strprintf("%s/%s/%s", g->env.out_dir, srpm ? "srpms" : "repo/Packages", file);
}

/* Signs a file in place with the run's key, if it has one. */
static int sign_output(Graph *g, const char *path) {
        return g->o->sign_key ? rpm_sign_file(g->o->sign_key, path, g->o->sign_time) : 0;
}

/* The shared cache's copy of node i: each file fetched into the output's
 * cache, checked, signed and put in place. 1: taken; 0: a miss (*ret_why
 * set when something was refused); < 0: failed, with *ret_why. */
static int remote_take(Graph *g, size_t i, char **ret_why) {
        Node *nd = &g->nodes[i];
        _cleanup_(manifest_release) Manifest m = {};
        *ret_why = NULL;
        pthread_mutex_lock(&g->lock);
        bool down = g->remote_down;
        pthread_mutex_unlock(&g->lock);
        if (down)
                return 0;
        int r = remote_lookup(g->o->remote, nd->key, nd->c->name, &m, ret_why);
        if (r == -EIO) {
                /* An unreachable cache is a miss: the build goes on without
                 * it, and the run stops asking (one warning, not one per
                 * component). */
                pthread_mutex_lock(&g->lock);
                bool first = !g->remote_down;
                g->remote_down = true;
                pthread_mutex_unlock(&g->lock);
                char *why = first ? strprintf("the shared cache cannot be reached (not asked again in this run): %s",
                                              *ret_why ? *ret_why : "")
                                  : NULL;
                free(*ret_why);
                *ret_why = why;
                return 0;
        }
        if (r <= 0)
                return r;
        if (g->digests_only && !(g->o->one && strcmp(g->o->one, nd->c->name) == 0)) {
                BuildResult *res = &nd->result;
                res->rpms = new0(char *, m.n_rpms);
                nd->rpm_sha256 = new0(char *, m.n_rpms);
                if (!res->rpms || !nd->rpm_sha256)
                        return -ENOMEM;
                for (size_t k = 0; k < m.n_rpms; k++) {
                        if (!(res->rpms[k] = strdup(m.rpms[k].file)) || !(nd->rpm_sha256[k] = strdup(m.rpms[k].sha256)))
                                return -ENOMEM;
                        res->n_rpms = k + 1;
                }
                return 1;
        }
        size_t n = m.n_rpms + (m.srpm.file ? 1 : 0);
        _cleanup_free_ char **tmp = new0(char *, n);
        if (!tmp)
                return -ENOMEM;
        for (size_t k = 0; k < n && r >= 0; k++) {
                const CachedFile *f = k < m.n_rpms ? &m.rpms[k] : &m.srpm;
                bool srpm = k >= m.n_rpms;
                char *why = NULL;
                r = build_claim_output(&g->env, nd->c, f->file, srpm, &why);
                if (r < 0) {
                        *ret_why = why;
                        break;
                }
                tmp[k] = strprintf("%s/cache/fetch/%s.%s", g->env.out_dir, f->sha256, srpm ? "src.rpm" : "rpm");
                if (!tmp[k]) {
                        r = -ENOMEM;
                        break;
                }
                r = remote_fetch(g->o->remote, f, tmp[k], &why);
                if (r < 0) {
                        *ret_why = strprintf("the shared cache's copy cannot be used: %s", why ? why : strerror(-r));
                        free(why);
                        if (r == -EBADMSG)
                                nd->damaged = true;
                        break;
                }
                r = sign_output(g, tmp[k]);
                if (r < 0)
                        *ret_why = strprintf("cannot sign '%s': %s", f->file, strerror(-r));
        }
        if (r < 0) {
                for (size_t k = 0; k < n; k++)
                        if (tmp[k])
                                (void) unlink(tmp[k]);
                for (size_t k = 0; k < n; k++)
                        free(tmp[k]);
                /* A damaged or unreachable copy is a miss; a file another
                 * component claims, or no room to sign, is a failure. */
                return r == -EBADMSG || r == -EIO || r == -ENOENT ? 0 : r;
        }

        json_t *prev = NULL;
        cache_previous_outputs(g, i, &prev);
        BuildResult *res = &nd->result;
        res->rpms = new0(char *, m.n_rpms);
        nd->rpm_sha256 = new0(char *, m.n_rpms);
        if (!res->rpms || !nd->rpm_sha256)
                r = -ENOMEM;
        run_critical_enter();
        for (size_t k = 0; k < n && r >= 0; k++) {
                const CachedFile *f = k < m.n_rpms ? &m.rpms[k] : &m.srpm;
                _cleanup_free_ char *dst = output_path(g, f->file, k >= m.n_rpms);
                if (!dst || rename(tmp[k], dst) < 0)
                        r = dst ? -errno : -ENOMEM;
        }
        run_critical_leave();
        for (size_t k = 0; k < n; k++) {
                if (r < 0)
                        (void) unlink(tmp[k]);
                free(tmp[k]);
        }
        for (size_t k = 0; k < m.n_rpms && r >= 0; k++) {
                if (!(res->rpms[k] = strdup(m.rpms[k].file)) || !(nd->rpm_sha256[k] = strdup(m.rpms[k].sha256)))
                        r = -ENOMEM;
                res->n_rpms = k + 1;
        }
        if (r >= 0 && m.srpm.file && !(res->srpm = strdup(m.srpm.file)))
                r = -ENOMEM;
        res->last_seconds = m.seconds;
        if (r < 0) {
                *ret_why = strprintf("cannot put the shared cache's packages in place: %s", strerror(-r));
                json_decref(prev);
                return r;
        }
        if (prev) {
                remove_stale_outputs(g, i, prev);
                json_decref(prev);
        }
        (void) cache_store(g, i);
        return 1;
}

/* Gives node i's packages, as built (unsigned), to the shared cache. */
static int remote_give(Graph *g, size_t i, char **ret_why) {
        Node *nd = &g->nodes[i];
        BuildResult *res = &nd->result;
        Manifest m = { .rpms = new0(CachedFile, res->n_rpms), .n_rpms = res->n_rpms, .seconds = res->last_seconds };
        size_t n = res->n_rpms + (res->srpm ? 1 : 0);
        _cleanup_free_ char **paths = new0(char *, n);
        int r = m.rpms && paths ? 0 : -ENOMEM;
        for (size_t k = 0; k < n && r >= 0; k++) {
                bool srpm = k >= res->n_rpms;
                CachedFile *f = srpm ? &m.srpm : &m.rpms[k];
                uint8_t md[32];
                f->file = srpm ? res->srpm : res->rpms[k];
                paths[k] = output_path(g, f->file, srpm);
                if (!paths[k]) {
                        r = -ENOMEM;
                        break;
                }
                r = hash_file(HASH_SHA256, paths[k], md, &f->size);
                hex_encode(md, 32, f->sha256);
        }
        if (r >= 0)
                r = remote_store(g->o->remote, nd->key, nd->c->name, &m, (const char *const *) paths, nd->damaged,
                                 ret_why);
        else
                *ret_why = strprintf("cannot read the packages: %s", strerror(-r));
        for (size_t k = 0; k < n && paths; k++)
                free(paths[k]);
        free(m.rpms); /* the names are the result's */
        return r;
}

/* Removes node i's packages from the output, and its record (and the
 * files the record names), so that the repository has nothing of it. */
static void withdraw_outputs(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        BuildResult *res = &nd->result;
        json_t *prev = NULL;
        cache_previous_outputs(g, i, &prev);
        json_t *rpms = json_object_get(prev, "rpms");
        for (size_t k = 0; k < json_array_size(rpms); k++) {
                const char *name = json_string_value(json_object_get(json_array_get(rpms, k), "file"));
                _cleanup_free_ char *f = name && !strchr(name, '/') ? output_path(g, name, false) : NULL;
                if (f)
                        (void) unlink(f);
        }
        const char *srpm = json_string_value(json_object_get(prev, "srpm"));
        _cleanup_free_ char *sf = srpm && !strchr(srpm, '/') ? output_path(g, srpm, true) : NULL;
        if (sf)
                (void) unlink(sf);
        json_decref(prev);
        for (size_t k = 0; k < res->n_rpms; k++) {
                _cleanup_free_ char *f = output_path(g, res->rpms[k], false);
                if (f)
                        (void) unlink(f);
                free(res->rpms[k]);
                if (nd->rpm_sha256)
                        free(nd->rpm_sha256[k]);
        }
        free(nd->rpm_sha256);
        nd->rpm_sha256 = NULL;
        res->n_rpms = 0;
        if (res->srpm) {
                _cleanup_free_ char *f = output_path(g, res->srpm, true);
                if (f)
                        (void) unlink(f);
                free(res->srpm);
                res->srpm = NULL;
        }
        _cleanup_free_ char *record = cache_path(g, "packages", nd->c->name);
        if (record)
                (void) unlink(record);
}

/* The hardening check of node i's packages, once they are in
 * repo/Packages (built or cached): the record's results, else the packages
 * are read. A file missing a property whose check is "fail" for the
 * component fails it, and its packages are withdrawn (withdraw_outputs()):
 * false. */
static bool hardening_gate(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        BuildResult *res = &nd->result;
        double t0 = build_clock();
        if (!res->hardening && res->n_rpms > 0) {
                HardeningPackage *pk = new0(HardeningPackage, res->n_rpms);
                char *error = NULL;
                int r = pk ? 0 : -ENOMEM;
                for (size_t k = 0; r >= 0 && k < res->n_rpms; k++) {
                        _cleanup_free_ char *f = output_path(g, res->rpms[k], false);
                        if (!f)
                                r = -ENOMEM;
                        else if (!path_exists(f))
                                r = -ENOENT; /* only the manifests (the one-component mode) */
                        else
                                r = hardening_scan_rpm(f, res->rpms[k], &pk[k], &error);
                }
                if (r == -ENOENT) {
                        hardening_packages_free(pk, res->n_rpms);
                        return true;
                }
                if (r < 0) {
                        hardening_packages_free(pk, res->n_rpms);
                        res->status = BUILD_FAILED;
                        res->reason = strprintf("hardening check: %s", error ? error : strerror(-r));
                        free(error);
                        withdraw_outputs(g, i);
                        return false;
                }
                res->hardening = pk;
                res->n_hardening = res->n_rpms;
        }
        res->hardening_seconds += build_clock() - t0;
        size_t count = 0;
        char *first = hardening_failure(g->p, nd->c, res->hardening, res->n_hardening, &count);
        if (count == 0)
                return true;
        res->status = BUILD_FAILED;
        res->reason = count > 1 ? strprintf("%s, and %zu more finding%s", first ? first : "", count - 1,
                                            count > 2 ? "s" : "")
                                : first;
        if (count > 1)
                free(first);
        if (res->log_path && res->reason) {
                FILE *f = fopen(res->log_path, "ae");
                if (f) {
                        fprintf(f, "slipway: the hardening check failed: %s\n", res->reason);
                        fclose(f);
                }
        }
        withdraw_outputs(g, i);
        return false;
}

/* Builds node i (outside the lock). */
static void run_node(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        BuildResult *res = &nd->result;
        double start = build_clock();
        char *reason = NULL;
        bool is_one = g->o->one && strcmp(g->o->one, nd->c->name) == 0;
        int r;

        if (nd->in_buildroot && !nd->br_resolved) {
                r = resolve_buildroot(g, i, &reason);
                if (r < 0) {
                        res->status = BUILD_FAILED;
                        res->reason = reason ? reason : strprintf("cannot resolve the buildroot: %s", strerror(-r));
                        return;
                }
        }
        r = cache_key(g, i, &nd->key);
        if (r < 0) {
                res->status = BUILD_FAILED;
                if (asprintf(&res->reason, "cannot read the inputs: %s", strerror(-r)) < 0)
                        res->reason = NULL;
                return;
        }
        res->key = strdup(nd->key);
        if (cache_lookup(g, i)) {
                res->status = BUILD_CACHED;
                res->seconds = build_clock() - start;
                bool had = res->hardening != NULL;
                if (!hardening_gate(g, i))
                        return;
                if (!had && res->hardening)
                        (void) cache_store(g, i); /* a record of before the check */
                /* A job's component reaches the shared cache even when this
                 * node had it already. */
                if (is_one && g->o->remote) {
                        _cleanup_(manifest_release) Manifest m = {};
                        _cleanup_free_ char *why = NULL;
                        if (remote_lookup(g->o->remote, nd->key, nd->c->name, &m, &why) <= 0 &&
                            remote_give(g, i, &reason) < 0) {
                                res->status = BUILD_FAILED;
                                res->reason = strprintf("cannot put its packages in the shared cache: %s",
                                                        reason ? reason : "");
                                free(reason);
                        }
                }
                return;
        }
        if (g->o->remote) {
                _cleanup_free_ char *why = NULL;
                r = remote_take(g, i, &why);
                if (r > 0) {
                        res->status = BUILD_CACHED;
                        res->fetched = true;
                        res->seconds = build_clock() - start;
                        if (hardening_gate(g, i) && res->hardening)
                                (void) cache_store(g, i);
                        return;
                }
                if (r < 0) {
                        res->status = BUILD_FAILED;
                        res->reason = why ? TAKE_PTR(why) : strprintf("cannot fetch from the shared cache: %s",
                                                                      strerror(-r));
                        return;
                }
                if (why)
                        res->warning = TAKE_PTR(why);
        }
        if (g->o->cache_only || (g->o->one && !is_one)) {
                json_t *prev = NULL;
                cache_previous_outputs(g, i, &prev);
                res->last_seconds = json_number_value(json_object_get(prev, "seconds"));
                json_decref(prev);
                res->status = BUILD_MISSING;
                res->reason = strprintf("its packages (key %.12s) are not in the %s", nd->key,
                                        g->o->remote ? "shared cache" : "cache");
                return;
        }

        if (nd->c->kind == COMPONENT_UPSTREAM) {
                _cleanup_(diagnostics_release) Diagnostics rd = {};
                r = ensure_rendered(g, nd, &rd);
                if (r < 0) {
                        res->status = BUILD_FAILED;
                        res->reason = rd.n_errors ? diagnostics_join(&rd)
                                                  : strprintf("cannot render its sources: %s", strerror(-r));
                        return;
                }
        }
        json_t *prev = NULL;
        cache_previous_outputs(g, i, &prev);
        if (component_uses_spec(nd->c)) {
                pthread_mutex_lock(&g->lock);
                g->rpmbuild_runs++;
                pthread_mutex_unlock(&g->lock);
                if (nd->in_buildroot) {
                        BuildrootInput in = {
                                .project_rpms = nd->project_rpms,
                                .n_project_rpms = nd->n_project_rpms,
                                .specs = (const char *const *) nd->br_specs,
                                .n_specs = nd->n_br_specs,
                                .br = &nd->br,
                        };
                        r = spec_build_buildroot(&g->env, nd->c, &in, res->log_path, &res->rpms, &res->n_rpms,
                                                 &res->srpm, &reason);
                } else
                        r = spec_build(&g->env, nd->c, res->log_path, &res->rpms, &res->n_rpms, &res->srpm,
                                       &reason);
        } else
                r = native_build(&g->env, nd->c, res->log_path, &res->rpms, &res->n_rpms, &reason);
        res->seconds = build_clock() - start;
        res->last_seconds = res->seconds;
        if (r < 0) {
                res->status = BUILD_FAILED;
                if (reason)
                        res->reason = reason;
                else if (asprintf(&res->reason, "%s", strerror(-r)) < 0)
                        res->reason = NULL;
                /* rpmbuild wrote its own log; a native failure says why here. */
                if (nd->c->kind == COMPONENT_NATIVE && res->reason) {
                        _cleanup_free_ char *log = NULL;
                        if (asprintf(&log, "slipway: cannot write the package of '%s': %s\n", nd->c->name, res->reason) >= 0)
                                (void) write_file_atomic(res->log_path, log, strlen(log), 0644);
                }
                json_decref(prev);
                return;
        }
        free(reason);
        reason = NULL;

        /* Checked before anything else sees them: a failure withdraws them. */
        if (!hardening_gate(g, i)) {
                json_decref(prev);
                return;
        }

        /* The digests as built: what dependents' keys and the shared cache
         * name. */
        nd->rpm_sha256 = new0(char *, res->n_rpms);
        for (size_t k = 0; nd->rpm_sha256 && k < res->n_rpms; k++) {
                _cleanup_free_ char *f = output_path(g, res->rpms[k], false);
                char hex[65];
                if (!f || sha256_file_hex(f, hex) < 0)
                        hex[0] = 0;
                nd->rpm_sha256[k] = strdup(hex);
        }
        pthread_mutex_lock(&g->lock);
        bool down = g->remote_down;
        pthread_mutex_unlock(&g->lock);
        if (g->o->remote && (is_one || (remote_cache_push(g->o->remote) && !down))) {
                r = remote_give(g, i, &reason);
                if (r == -EIO && !is_one) {
                        pthread_mutex_lock(&g->lock);
                        g->remote_down = true;
                        pthread_mutex_unlock(&g->lock);
                }
                if (r < 0) {
                        char *why = strprintf("cannot put its packages in the shared cache: %s", reason ? reason : "");
                        free(reason);
                        reason = NULL;
                        if (is_one) {
                                res->status = BUILD_FAILED;
                                res->reason = why;
                                json_decref(prev);
                                return;
                        }
                        free(res->warning);
                        res->warning = why;
                }
        }

        /* Then signed: dependents' builds and the repository take the
         * signed files. */
        for (size_t k = 0; k < res->n_rpms + (res->srpm ? 1 : 0) && r >= 0; k++) {
                bool srpm = k >= res->n_rpms;
                _cleanup_free_ char *f = output_path(g, srpm ? res->srpm : res->rpms[k], srpm);
                r = f ? sign_output(g, f) : -ENOMEM;
        }
        if (r < 0) {
                res->status = BUILD_FAILED;
                if (asprintf(&res->reason, "cannot sign the packages: %s", strerror(-r)) < 0)
                        res->reason = NULL;
                json_decref(prev);
                return;
        }
        if (prev) {
                remove_stale_outputs(g, i, prev);
                json_decref(prev);
        }
        (void) cache_store(g, i);
        res->status = BUILD_BUILT;
}

/* With the lock held: node i finished; release its dependents. */
static void finish_node(Graph *g, size_t i);

static void skip_dependents(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        for (size_t k = 0; k < nd->n_rdeps; k++) {
                Node *d = &g->nodes[nd->rdeps[k]];
                if (d->done || !d->selected)
                        continue;
                d->result.status = BUILD_SKIPPED;
                d->result.reason = strprintf("needs '%s', which %s", nd->c->name,
                                             nd->result.status == BUILD_FAILED    ? "failed"
                                             : nd->result.status == BUILD_MISSING ? "is not in the cache"
                                                                                  : "was skipped");
                finish_node(g, nd->rdeps[k]);
        }
}

static void finish_node(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        nd->done = true;
        g->remaining--;
        if (g->o->progress)
                g->o->progress(&nd->result, g->o->userdata);
        if (nd->result.status == BUILD_FAILED || nd->result.status == BUILD_SKIPPED ||
            nd->result.status == BUILD_MISSING) {
                skip_dependents(g, i);
                return;
        }
        for (size_t k = 0; k < nd->n_rdeps; k++) {
                Node *d = &g->nodes[nd->rdeps[k]];
                if (!d->selected || d->done)
                        continue;
                if (--d->pending == 0)
                        g->ready[g->n_ready++] = nd->rdeps[k];
        }
}

static void *scheduler_worker(void *arg) {
        Graph *g = arg;
        pthread_mutex_lock(&g->lock);
        for (;;) {
                while (g->n_ready == 0 && g->remaining > 0)
                        pthread_cond_wait(&g->cond, &g->lock);
                if (g->remaining == 0)
                        break;
                /* Lowest index first: a stable order for the same graph. */
                size_t best = 0;
                for (size_t k = 1; k < g->n_ready; k++)
                        if (g->ready[k] < g->ready[best])
                                best = k;
                size_t i = g->ready[best];
                g->ready[best] = g->ready[--g->n_ready];
                g->running++;
                pthread_mutex_unlock(&g->lock);

                run_node(g, i);

                pthread_mutex_lock(&g->lock);
                g->running--;
                finish_node(g, i);
                pthread_cond_broadcast(&g->cond);
        }
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
        return NULL;
}

/* ---- graph checks ------------------------------------------------------------- */

/* A BuildRequires nothing in the project provides: is the host said to have it? */
static bool host_provides(const Project *p, const RpmDep *br) {
        if (strncmp(br->name, "rpmlib(", 7) == 0)
                return true; /* rpm itself provides these */
        if (br->name[0] == '/' && access(br->name, F_OK) == 0)
                return true;
        for (size_t i = 0; i < p->build.host_provides.n; i++) {
                RpmDep hp;
                if (rpm_dependency_parse(p->build.host_provides.items[i], &hp) < 0)
                        continue;
                bool m = rpm_dep_matches(&hp, br);
                rpm_dep_release(&hp);
                if (m)
                        return true;
        }
        return false;
}


/* Depth-first search for a cycle among selected nodes; reports the first. */
static bool find_cycle(Graph *g, size_t i, int *color, size_t *stack, size_t depth, Diagnostics *d) {
        color[i] = 1;
        stack[depth] = i;
        Node *nd = &g->nodes[i];
        for (size_t k = 0; k < nd->n_deps; k++) {
                size_t j = nd->deps[k];
                if (color[j] == 1) {
                        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
                        size_t from = depth;
                        while (stack[from] != j)
                                from--;
                        /* Print in build order: j is needed by ..., needed by i. */
                        for (size_t s = from; s <= depth; s++)
                                strbuf_printf(&sb, "'%s' -> ", g->nodes[stack[s]].c->name);
                        strbuf_printf(&sb, "'%s'", g->nodes[j].c->name);
                        SourcePos pos = cfg_pos(&g->nodes[j].c->obj, "spec");
                        diag_error(d, &pos,
                                   "build dependency cycle: %s (each BuildRequires something the next one provides)",
                                   sb.buf ? sb.buf : "?");
                        return true;
                }
                if (color[j] == 0 && find_cycle(g, j, color, stack, depth + 1, d))
                        return true;
        }
        color[i] = 2;
        return false;
}

/* ---- host mode: the host's claims, checked ------------------------------------ */

#define BUILD_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool program_in_path(const char *name) {
        if (strchr(name, '/'))
                return false;
        for (const char *p = BUILD_PATH; *p;) {
                size_t l = strcspn(p, ":");
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "%.*s/%s", (int) l, p, name) >= 0 && access(f, X_OK) == 0)
                        return true;
                p += l + (p[l] == ':');
        }
        return false;
}

/* 1: the command ran and exited 0; 0: it exited otherwise; -ENOENT: it is
 * not installed (nothing to ask). */
static int host_query(char *const *argv, bool want_installed) {
        static char *const envp[] = { (char *) "PATH=" BUILD_PATH, (char *) "LC_ALL=C", NULL };
        _cleanup_free_ char *out = NULL;
        int status;
        ProcessOptions po = { .argv = argv, .envp = envp, .output_fd = -1 };
        int r = process_run(&po, &out, &status);
        if (r < 0)
                return r;
        if (want_installed)
                return status == 0 && out && strstr(out, "install ok installed") ? 1 : 0;
        return status == 0;
}

/* Each [build] host-provides claim against the host (host mode): a path
 * must exist; pkgconfig(NAME) is asked of pkg-config, with its version;
 * a name is a program in the build's PATH or an installed Debian package,
 * unless [build] host-evidence names a file that shows it. Versions of
 * programs and packages are not compared. */
static int check_host_claims(const Project *p, Diagnostics *d) {
        const StrList *claims = &p->build.host_provides;
        for (size_t i = 0; i < claims->n; i++) {
                _cleanup_(rpm_dep_release) RpmDep dep = {};
                SourcePos pos = cfg_pos(&p->build.obj, "host-provides");
                if (rpm_dependency_parse(claims->items[i], &dep) < 0)
                        continue; /* config/ reported it */
                const char *evidence = NULL;
                for (size_t k = 0; k < p->build.host_evidence.n; k++)
                        if (strcmp(p->build.host_evidence.keys[k], dep.name) == 0)
                                evidence = p->build.host_evidence.values[k];
                if (evidence) {
                        if (access(evidence, F_OK) < 0)
                                diag_error(d, &pos,
                                           "[build] host-provides '%s' does not hold on this host: '%s' (its "
                                           "host-evidence) does not exist",
                                           claims->items[i], evidence);
                        continue;
                }
                if (dep.name[0] == '/') {
                        if (access(dep.name, F_OK) < 0)
                                diag_error(d, &pos, "[build] host-provides '%s' does not hold on this host: no such file",
                                           claims->items[i]);
                        continue;
                }
                size_t l = strlen(dep.name);
                if (strncmp(dep.name, "pkgconfig(", 10) == 0 && l > 11 && dep.name[l - 1] == ')') {
                        char buf[600];
                        char module[512];
                        snprintf(module, sizeof module, "%.*s", (int) (l - 11), dep.name + 10);
                        RpmDep m = { .name = module, .evr = dep.evr, .flags = dep.flags };
                        rpm_dep_format(&m, buf, sizeof buf);
                        char *argv[] = { (char *) "pkg-config", (char *) "--exists", buf, NULL };
                        int r = host_query(argv, false);
                        if (r == -ENOMEM)
                                return r;
                        if (r <= 0)
                                diag_error(d, &pos, "[build] host-provides '%s' does not hold on this host: %s",
                                           claims->items[i],
                                           r == -ENOENT ? "pkg-config is not installed"
                                                        : "pkg-config knows no such module (in that version)");
                        continue;
                }
                if (program_in_path(dep.name))
                        continue;
                char *argv[] = { (char *) "dpkg-query", (char *) "-W", (char *) "-f=${Status}", dep.name, NULL };
                int r = host_query(argv, true);
                if (r == -ENOMEM)
                        return r;
                if (r <= 0)
                        diag_error(d, &pos,
                                   "[build] host-provides '%s' does not hold on this host: no program '%s' in %s%s; "
                                   "if another file shows it, name that file in [build] host-evidence",
                                   claims->items[i], dep.name, BUILD_PATH,
                                   r == -ENOENT ? "" : " and no installed Debian package of that name");
        }
        return 0;
}

/* Whether a component provides br (other than the spec itself). */
static bool project_provides(const Graph *g, size_t self, const RpmDep *br, const Node **ret_owner,
                             const RpmDep **ret_have) {
        for (size_t j = 0; j < g->n; j++) {
                if (j == self && component_uses_spec(g->nodes[j].c))
                        continue;
                for (size_t m = 0; m < g->nodes[j].n_provides; m++) {
                        if (rpm_dep_matches(&g->nodes[j].provides[m], br))
                                return true;
                        if (ret_owner && !*ret_owner && strcmp(g->nodes[j].provides[m].name, br->name) == 0) {
                                *ret_owner = &g->nodes[j];
                                *ret_have = &g->nodes[j].provides[m];
                        }
                }
        }
        return false;
}

static int provided_cmp(const void *a, const void *b) {
        return strcmp(((const struct Provided *) a)->spec, ((const struct Provided *) b)->spec);
}

/* Asks the [repos] once (one pool, not one a component) about every
 * BuildRequires of the selected buildroot-mode components and the base set,
 * as node_precheck() writes them. */
static int graph_repos_provided(Graph *g) {
        size_t allocated = 0;
        for (size_t i = 0; i < g->n; i++) {
                const Node *nd = &g->nodes[i];
                if (!nd->selected || !nd->in_buildroot)
                        continue;
                for (size_t b = 0; b < nd->spec.n_buildrequires + g->n_base; b++) {
                        const RpmDep *d = b < nd->spec.n_buildrequires ? &nd->spec.buildrequires[b]
                                                                       : &g->base[b - nd->spec.n_buildrequires];
                        char buf[512];
                        rpm_dep_format(d, buf, sizeof buf);
                        if (!GREEDY_REALLOC(g->provided, allocated, g->n_provided + 1) ||
                            !(g->provided[g->n_provided].spec = strdup(buf)))
                                return -ENOMEM;
                        g->provided[g->n_provided++].have = false;
                }
        }
        if (g->n_provided == 0)
                return 0;
        qsort(g->provided, g->n_provided, sizeof *g->provided, provided_cmp);
        size_t n = 1;
        for (size_t k = 1; k < g->n_provided; k++) {
                if (strcmp(g->provided[k].spec, g->provided[n - 1].spec) == 0)
                        free(g->provided[k].spec);
                else
                        g->provided[n++] = g->provided[k];
        }
        g->n_provided = n;
        _cleanup_free_ const char **specs = new0(const char *, n);
        _cleanup_free_ bool *have = new0(bool, n);
        if (!specs || !have)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                specs[k] = g->provided[k].spec;
        int r = buildroots_repos_provide(g->env.buildroots, specs, n, have);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++)
                g->provided[k].have = have[k];
        return 0;
}

static bool repos_provide(const Graph *g, const char *spec) {
        struct Provided key = { .spec = (char *) spec };
        const struct Provided *p = g->n_provided > 0 ? bsearch(&key, g->provided, g->n_provided, sizeof key, provided_cmp)
                                                     : NULL;
        return p && p->have;
}

/* The checks of a selected spec component before any build, all of them
 * (nd->precheck says what failed; the component then fails alone): every
 * Source and Patch is in the spec's directory; every BuildRequires (and,
 * in buildroot mode, the base set) is provided by a component, or by the
 * [repos] (buildroot mode) or the host (host mode). */
static int node_precheck(Graph *g, size_t i) {
        Node *nd = &g->nodes[i];
        _cleanup_strbuf_ StrBuf why = STRBUF_INIT;
        if (!nd->selected || !component_uses_spec(nd->c))
                return 0;

        /* An upstream component's sources are checked when it is rendered. */
        bool local = nd->c->kind == COMPONENT_SPEC;
        _cleanup_free_ char *spec = local ? project_path(g->p, nd->c->spec) : NULL;
        _cleanup_free_ char *dir = spec ? path_dirname(spec) : NULL;
        if (local && !dir)
                return -ENOMEM;
        size_t n_absent = 0;
        for (size_t k = 0; local && k < nd->spec.n_sources; k++) {
                const char *f = nd->spec.sources[k];
                _cleanup_free_ char *path = path_join(dir, f);
                struct stat st;
                if (!path)
                        return -ENOMEM;
                if (!strchr(f, '/') && stat(path, &st) == 0 && S_ISREG(st.st_mode))
                        continue;
                strbuf_printf(&why, "%s'%s'", n_absent++ ? ", " : "its Source or Patch ", f);
        }
        if (n_absent > 0)
                strbuf_printf(&why, " %s not in %s (slipway downloads nothing)", n_absent == 1 ? "is" : "are", dir);

        size_t n_br = nd->spec.n_buildrequires, n_base = nd->in_buildroot ? g->n_base : 0;
        size_t n_missing = 0;
        _cleanup_strbuf_ StrBuf missing = STRBUF_INIT;
        for (size_t b = 0; b < n_br + n_base; b++) {
                const RpmDep *br = b < n_br ? &nd->spec.buildrequires[b] : &g->base[b - n_br];
                const Node *owner = NULL;
                const RpmDep *have = NULL;
                char buf[512];
                if (strncmp(br->name, "rpmlib(", 7) == 0)
                        continue;
                rpm_dep_format(br, buf, sizeof buf);
                if (project_provides(g, i, br, &owner, &have) || (nd->in_buildroot && repos_provide(g, buf)) ||
                    (!nd->in_buildroot && host_provides(g->p, br)))
                        continue;
                strbuf_printf(&missing, "%s'%s'", n_missing ? ", " : "", buf);
                if (have) {
                        char hbuf[512];
                        rpm_dep_format(have, hbuf, sizeof hbuf);
                        strbuf_printf(&missing, " (component '%s' provides '%s')", owner->c->name, hbuf);
                }
                if (b >= n_br)
                        strbuf_puts(&missing, " (in [build] buildroot)");
                n_missing++;
        }
        if (n_missing > 0)
                strbuf_printf(&why, "%s%s %s %s provided by nothing: %s %s", why.len ? "; " : "",
                              n_br > 0 ? "BuildRequires" : "the buildroot's packages", missing.buf,
                              n_missing == 1 ? "is" : "are",
                              nd->in_buildroot ? "no component of the project and no package of [repos] provides"
                                               : "no component of the project provides, and [build] host-provides "
                                                 "does not list,",
                              n_missing == 1 ? "it" : "them");
        /* A buildroot that needs nothing built in this run is resolved
         * now, whole: a conflict or a dependency nothing provides fails
         * the component before any build, not when its turn comes. */
        bool deps_done = true;
        for (size_t k = 0; k < nd->n_deps; k++)
                deps_done &= g->nodes[nd->deps[k]].done;
        if (nd->in_buildroot && n_missing == 0 && deps_done) {
                _cleanup_free_ char *reason = NULL;
                int r = resolve_buildroot(g, i, &reason);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        strbuf_printf(&why, "%s%s", why.len ? "; " : "",
                                      reason ? reason : "the buildroot cannot be resolved");
                nd->br_resolved = r >= 0;
        }
        if (why.oom)
                return -ENOMEM;
        if (why.len)
                nd->precheck = strbuf_detach(&why, NULL);
        return 0;
}

static int graph_resolve(Graph *g, Diagnostics *d) {
        /* Provides of every component. */
        for (size_t i = 0; i < g->n; i++) {
                Node *nd = &g->nodes[i];
                if (component_uses_spec(nd->c)) {
                        nd->provides = nd->spec.provides;
                        nd->n_provides = nd->spec.n_provides;
                } else {
                        int r = native_provides(g->p, nd->c, &nd->provides, &nd->n_provides);
                        if (r < 0)
                                return r;
                        nd->owns_provides = true;
                }
        }

        /* BuildRequires: edges to providers, or the host, or an error. The
         * selection grows to what the selected components need. */
        bool changed = true;
        while (changed) {
                changed = false;
                for (size_t i = 0; i < g->n; i++) {
                        Node *nd = &g->nodes[i];
                        if (!nd->selected || !component_uses_spec(nd->c) || nd->edges_done)
                                continue;
                        nd->edges_done = true;
                        size_t n_base = nd->in_buildroot ? g->n_base : 0;
                        for (size_t b = 0; b < nd->spec.n_buildrequires + n_base; b++) {
                                const RpmDep *br = b < nd->spec.n_buildrequires ? &nd->spec.buildrequires[b]
                                                                                : &g->base[b - nd->spec.n_buildrequires];
                                for (size_t j = 0; j < g->n; j++) {
                                        if (j == i && component_uses_spec(g->nodes[j].c))
                                                continue;
                                        for (size_t k = 0; k < g->nodes[j].n_provides; k++)
                                                if (rpm_dep_matches(&g->nodes[j].provides[k], br)) {
                                                        if (!add_index(&nd->deps, &nd->n_deps, j))
                                                                return -ENOMEM;
                                                        if (!g->nodes[j].selected) {
                                                                g->nodes[j].selected = true;
                                                                changed = true;
                                                        }
                                                        break;
                                                }
                                }
                        }
                }
        }

        if (g->env.buildroots) {
                int r = graph_repos_provided(g);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < g->n; i++) {
                int r = node_precheck(g, i);
                if (r < 0)
                        return r;
        }

        /* Reverse edges and cycles. */
        for (size_t i = 0; i < g->n; i++)
                for (size_t k = 0; k < g->nodes[i].n_deps; k++)
                        if (!add_index(&g->nodes[g->nodes[i].deps[k]].rdeps, &g->nodes[g->nodes[i].deps[k]].n_rdeps, i))
                                return -ENOMEM;
        _cleanup_free_ int *color = new0(int, g->n);
        _cleanup_free_ size_t *stack = new0(size_t, g->n + 1);
        if (!color || !stack)
                return -ENOMEM;
        for (size_t i = 0; i < g->n; i++)
                if (g->nodes[i].selected && color[i] == 0 && find_cycle(g, i, color, stack, 0, d))
                        break;
        return 0;
}

/* The files node i makes: binary packages (repo/Packages) and, for a spec,
 * its source package (srpms/). *ret_native is the one file of a native
 * component, to be freed. */
static void node_outputs(const Node *nd, const char *const **ret_files, size_t *ret_n, const char **ret_srpm,
                         char **ret_native) {
        *ret_native = NULL;
        if (component_uses_spec(nd->c)) {
                *ret_files = (const char *const *) nd->spec.files;
                *ret_n = nd->spec.files ? nd->spec.n_packages : 0;
                *ret_srpm = nd->spec.srpm;
                return;
        }
        *ret_native = rpm_package_filename(nd->c->name, nd->c->version, nd->c->release, nd->c->arch);
        *ret_files = (const char *const *) ret_native;
        *ret_n = *ret_native ? 1 : 0;
        *ret_srpm = NULL;
}

static SourcePos component_pos(const Component *c) {
        return cfg_pos(&c->obj, c->kind == COMPONENT_SPEC ? "spec" : c->kind == COMPONENT_NATIVE ? "version" : "dist-git");
}

/* Two components that make the same file would overwrite each other's
 * package in the output (whichever finished last would win, silently): an
 * error before anything is built, for every component of the project (an
 * earlier build of one not selected now is in the output too). */
static int graph_check_outputs(const Graph *g, Diagnostics *d) {
        for (size_t i = 0; i < g->n; i++) {
                const char *const *fi, *si;
                _cleanup_free_ char *ni = NULL;
                size_t n_fi;
                node_outputs(&g->nodes[i], &fi, &n_fi, &si, &ni);
                if (g->nodes[i].c->kind == COMPONENT_NATIVE && !ni)
                        return -ENOMEM;
                for (size_t j = i + 1; j < g->n; j++) {
                        const char *const *fj, *sj;
                        _cleanup_free_ char *nj = NULL;
                        size_t n_fj;
                        node_outputs(&g->nodes[j], &fj, &n_fj, &sj, &nj);
                        if (g->nodes[j].c->kind == COMPONENT_NATIVE && !nj)
                                return -ENOMEM;
                        const Component *a = g->nodes[i].c, *b = g->nodes[j].c;
                        SourcePos pos = component_pos(b);
                        for (size_t x = 0; x < n_fi; x++)
                                for (size_t y = 0; y < n_fj; y++)
                                        if (strcmp(fi[x], fj[y]) == 0)
                                                diag_error(d, &pos,
                                                           "components '%s' and '%s' both make the package file '%s': "
                                                           "one would overwrite the other in repo/Packages",
                                                           a->name, b->name, fi[x]);
                        if (si && sj && strcmp(si, sj) == 0)
                                diag_error(d, &pos,
                                           "components '%s' and '%s' both make the source package file '%s': one would "
                                           "overwrite the other in srpms",
                                           a->name, b->name, si);
                }
        }
        return 0;
}

int build_claim_output(const BuildEnv *env, const Component *c, const char *file, bool srpm, char **ret_reason) {
        Graph *g = env->graph;
        const Component *other = NULL;
        int r = 0;

        if (!g)
                return 0;
        size_t self = 0;
        for (size_t i = 0; i < g->n; i++)
                if (g->nodes[i].c == c)
                        self = i;
        /* What the others were predicted to make (graph_check_outputs()
         * refused any two alike), then what they made in this run. */
        for (size_t i = 0; i < g->n && !other; i++) {
                if (i == self)
                        continue;
                const char *const *f, *sr;
                _cleanup_free_ char *native = NULL;
                size_t n;
                node_outputs(&g->nodes[i], &f, &n, &sr, &native);
                if (srpm)
                        other = sr && strcmp(sr, file) == 0 ? g->nodes[i].c : NULL;
                else
                        for (size_t k = 0; k < n && !other; k++)
                                if (strcmp(f[k], file) == 0)
                                        other = g->nodes[i].c;
        }
        pthread_mutex_lock(&g->lock);
        for (size_t k = 0; k < g->n_claims && !other; k++)
                if (g->claims[k].node != self && g->claims[k].srpm == srpm && strcmp(g->claims[k].file, file) == 0)
                        other = g->nodes[g->claims[k].node].c;
        if (!other) {
                char *f = strdup(file);
                if (!f || !GREEDY_REALLOC(g->claims, g->allocated_claims, g->n_claims + 1)) {
                        free(f);
                        r = -ENOMEM;
                } else
                        g->claims[g->n_claims++] = (struct Claim) { .file = f, .srpm = srpm, .node = self };
        }
        pthread_mutex_unlock(&g->lock);
        if (r < 0)
                return r;
        if (other) {
                if (asprintf(ret_reason, "components '%s' and '%s' both make the %spackage file '%s': it is not "
                             "overwritten", other->name, c->name, srpm ? "source " : "", file) < 0)
                        *ret_reason = NULL;
                return -EEXIST;
        }
        return 0;
}

static void graph_release(Graph *g) {
        free(g->caches_git);
        free(g->caches_lookaside);
        free(g->signed_by);
        for (size_t i = 0; i < g->n; i++) {
                Node *nd = &g->nodes[i];
                if (nd->owns_provides) {
                        for (size_t k = 0; k < nd->n_provides; k++)
                                rpm_dep_release(&nd->provides[k]);
                        free(nd->provides);
                }
                spec_info_release(&nd->spec);
                free(nd->deps);
                free(nd->rdeps);
                free(nd->key);
                free(nd->upstream_inputs);
                for (size_t k = 0; k < nd->n_br_specs; k++)
                        free(nd->br_specs[k]);
                free(nd->br_specs);
                free(nd->project_rpms); /* the strings are other nodes' */
                free(nd->project_rpm_sha256);
                buildroot_release(&nd->br);
                free(nd->precheck);
                if (nd->rpm_sha256)
                        for (size_t k = 0; k < nd->result.n_rpms; k++)
                                free(nd->rpm_sha256[k]);
                free(nd->rpm_sha256);
                result_release(&nd->result);
        }
        free(g->nodes);
        free(g->ready);
        for (size_t k = 0; k < g->n_claims; k++)
                free(g->claims[k].file);
        free(g->claims);
        for (size_t k = 0; k < g->n_base; k++)
                rpm_dep_release(&g->base[k]);
        free(g->base);
        for (size_t k = 0; k < g->n_provided; k++)
                free(g->provided[k].spec);
        free(g->provided);
        free(g->query_root);
        buildroot_release(&g->query_br);
        g->env.buildroots = buildroots_free(g->env.buildroots);
}

/* The fixed environment of spec queries and builds. */
static char **make_envp(const Project *p) {
        char **e = new0(char *, 8);
        if (!e)
                return NULL;
        int k = 0;
        e[k++] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        e[k++] = strdup("LANG=C.UTF-8");
        e[k++] = strdup("LC_ALL=C.UTF-8");
        e[k++] = strdup("TZ=UTC");
        e[k++] = strdup("HOME=/nonexistent");
        if (asprintf(&e[k++], "SOURCE_DATE_EPOCH=%llu", (unsigned long long) p->source_date_epoch) < 0)
                e[k - 1] = NULL;
        for (int i = 0; i < k; i++)
                if (!e[i]) {
                        for (int j = 0; j < k; j++)
                                free(e[j]);
                        free(e);
                        return NULL;
                }
        return e;
}

/* Buildroot mode: specs are queried in a buildroot of the base set alone
 * (mock builds the source RPM in one), so their Name, BuildRequires and the
 * rest see the distribution's macros. The native components that provide a
 * package of the base set (the distribution's macro package, say) are built
 * first; the base set is resolved against the project's packages as last
 * built and the [repos]. If it cannot be resolved yet (a bootstrap), the
 * specs are queried on the host, with a warning. */
static int prepare_query_root(Graph *g, Diagnostics *d) {
        for (size_t i = 0; i < g->n; i++) {
                Node *nd = &g->nodes[i];
                RpmDep *prov = NULL;
                size_t n_prov = 0;
                bool needed = false;
                if (nd->c->kind != COMPONENT_NATIVE)
                        continue;
                int r = native_provides(g->p, nd->c, &prov, &n_prov);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < n_prov && !needed; k++)
                        for (size_t b = 0; b < g->n_base && !needed; b++)
                                needed = rpm_dep_matches(&prov[k], &g->base[b]);
                for (size_t k = 0; k < n_prov; k++)
                        rpm_dep_release(&prov[k]);
                free(prov);
                if (!needed)
                        continue;
                nd->selected = true;
                run_node(g, i);
                nd->done = true;
                if (g->o->progress)
                        g->o->progress(&nd->result, g->o->userdata);
                if (nd->result.status == BUILD_FAILED) {
                        SourcePos pos = component_pos(nd->c);
                        diag_error(d, &pos, "component '%s', in [build] buildroot, failed: %s", nd->c->name,
                                   nd->result.reason ? nd->result.reason : "");
                        return -EINVAL;
                }
        }

        BuiltRpm *built = NULL;
        size_t n_built = 0;
        int r = build_record_load(g->p, g->env.out_dir, &built, &n_built);
        if (r < 0)
                return r;
        _cleanup_free_ char **files = new0(char *, n_built + 1);
        size_t n_files = 0;
        if (!files) {
                built_rpms_free(built, n_built);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_built; i++) {
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "%s/repo/Packages/%s", g->env.out_dir, built[i].file) >= 0 && path_exists(f))
                        files[n_files++] = built[i].file;
        }
        _cleanup_free_ char *error = NULL;
        r = buildroot_resolve(g->env.buildroots, "(spec queries)", files, n_files, g->base_strs, g->n_base, &g->query_br,
                              &error);
        if (r >= 0) {
                bool made;
                r = buildroot_open(g->env.buildroots, "(spec queries)", files, n_files, &g->query_br, &g->query_root,
                                   &made, &error);
        }
        built_rpms_free(built, n_built);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                SourcePos pos = cfg_pos(&g->p->build.obj, "buildroot");
                diag_warning(d, &pos,
                             "the specs are queried with the host's rpmspec and macros: the buildroot of [build] "
                             "buildroot cannot be made yet: %s",
                             error ? error : strerror(-r));
                buildroot_release(&g->query_br);
        }
        return 0;
}

int build_packages(const Project *p, const BuildOptions *o, Diagnostics *d, BuildReport **ret) {
        Graph g = { .p = p, .o = o, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        _cleanup_free_ char *out = NULL;
        char **envp = NULL;
        int r;

        out = o->out_dir ? strdup(o->out_dir) : project_path(p, "out");
        if (!out)
                return -ENOMEM;
        static const char *const subdirs[] = { "repo/Packages", "srpms", "logs", "cache/packages", "cache/specinfo",
                                                "cache/fetch" };
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *s = path_join(out, subdirs[i]);
                if (!s)
                        return -ENOMEM;
                r = mkdir_parents(s, 0755);
                if (r < 0) {
                        diag_error(d, NULL, "cannot create the output directory '%s': %s", s, strerror(-r));
                        return -EINVAL;
                }
        }
        _cleanup_free_ char *out_abs = realpath(out, NULL);
        if (!out_abs)
                return negative_errno();

        envp = make_envp(p);
        if (!envp)
                return -ENOMEM;
        g.env = (BuildEnv) { .project = p, .out_dir = out_abs, .envp = envp, .jobs = MAX(o->jobs, 1u), .graph = &g };
        if (o->sign_key) {
                char fpr[41];
                hex_encode(pgp_key_fingerprint(o->sign_key), 20, fpr);
                if (!(g.signed_by = strprintf("%s@%u", fpr, o->sign_time))) {
                        r = -ENOMEM;
                        goto finish;
                }
        }

        g.n = p->components.n;
        g.nodes = new0(Node, g.n ? g.n : 1);
        g.ready = new0(size_t, g.n ? g.n : 1);
        if (!g.nodes || !g.ready) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < g.n; i++) {
                g.nodes[i].c = &p->components.items[i];
                g.nodes[i].selected = o->n_only == 0;
                g.nodes[i].result.component = g.nodes[i].c;
        }
        for (size_t k = 0; k < o->n_only; k++) {
                bool found = false;
                for (size_t i = 0; i < g.n; i++)
                        if (strcmp(g.nodes[i].c->name, o->only[k]) == 0) {
                                g.nodes[i].selected = true;
                                found = true;
                        }
                if (!found)
                        diag_error(d, NULL, "no component '%s' in the project", o->only[k]);
        }
        if (diagnostics_status(d) < 0) {
                r = -EINVAL;
                goto finish;
        }

        /* Upstream components: their lock entries, and the digest of what
         * their rendered trees are made of. */
        if (asprintf(&g.caches_git, "%s/cache/upstream/git", out_abs) < 0 ||
            asprintf(&g.caches_lookaside, "%s/cache/upstream/lookaside", out_abs) < 0) {
                r = -ENOMEM;
                goto finish;
        }
        g.caches = (UpstreamCaches) { .git = g.caches_git, .lookaside = g.caches_lookaside };
        for (size_t i = 0; i < g.n; i++) {
                Node *nd = &g.nodes[i];
                if (nd->c->kind != COMPONENT_UPSTREAM)
                        continue;
                nd->lock_entry = o->lock ? lock_find(o->lock, nd->c->name) : NULL;
                if (!nd->lock_entry) {
                        diag_error(d, &nd->c->obj.pos, "component '%s' is not in slipway.lock: run 'slipway update %s'",
                                   nd->c->name, nd->c->name);
                        continue;
                }
                _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
                r = upstream_key_inputs(p, nd->c, nd->lock_entry, &sb);
                if (r >= 0)
                        r = digest_of(&sb, &nd->upstream_inputs);
                if (r < 0)
                        goto finish;
        }
        if (diagnostics_status(d) < 0) {
                r = -EINVAL;
                goto finish;
        }

        /* Buildroot mode: the base set, and the [repos] opened once. */
        bool any_buildroot = false;
        for (size_t i = 0; i < g.n; i++) {
                Node *nd = &g.nodes[i];
                nd->in_buildroot = component_uses_spec(nd->c) && component_build_mode(p, nd->c) == BUILD_MODE_BUILDROOT;
                nd->result.mode = component_uses_spec(nd->c) ? component_build_mode(p, nd->c) : _BUILD_MODE_INVALID;
                any_buildroot |= nd->in_buildroot;
        }
        g.digests_only = o->one && !any_buildroot;
        bool any_host = false;
        for (size_t i = 0; i < g.n; i++)
                any_host |= g.nodes[i].selected && component_uses_spec(g.nodes[i].c) && !g.nodes[i].in_buildroot;
        if (any_host) {
                r = check_host_claims(p, d);
                if (r < 0)
                        goto finish;
                if (diagnostics_status(d) < 0) {
                        r = -EINVAL;
                        goto finish;
                }
        }
        if (any_buildroot) {
                const char *const *base;
                size_t n_base;
                project_buildroot_packages(p, &base, &n_base);
                g.base_strs = base;
                g.base = new0(RpmDep, n_base + 1);
                if (!g.base) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t k = 0; k < n_base; k++) {
                        r = rpm_dependency_parse(base[k], &g.base[g.n_base]);
                        if (r < 0)
                                goto finish; /* config/ checked them */
                        g.n_base++;
                }
                r = buildroots_new(p, out_abs, o->jobs, d, &g.env.buildroots);
                if (r < 0)
                        goto finish;
        }

        if (any_buildroot) {
                r = prepare_query_root(&g, d);
                if (r < 0)
                        goto finish;
        }

        /* rpmspec on every spec that may be needed (all of them: a selected
         * component may need any other), in parallel. */
        {
                _cleanup_free_ int *rs = new0(int, g.n ? g.n : 1);
                _cleanup_free_ char **errors = new0(char *, g.n ? g.n : 1);
                if (!rs || !errors) {
                        r = -ENOMEM;
                        goto finish;
                }
                _cleanup_free_ bool *all = new0(bool, g.n ? g.n : 1);
                _cleanup_free_ Diagnostics *diags = new0(Diagnostics, g.n ? g.n : 1);
                if (!all || !diags) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t i = 0; i < g.n; i++) {
                        all[i] = g.nodes[i].selected;
                        g.nodes[i].selected = true;
                }
                QueryCtx q = { .g = &g, .rs = rs, .errors = errors, .diags = diags };
                parallel_for(g.n, o->jobs, query_one, &q);
                for (size_t i = 0; i < g.n; i++) {
                        g.nodes[i].selected = all[i];
                        /* A render's errors, each at its key. */
                        for (size_t k = 0; k < diags[i].n; k++) {
                                const Diagnostic *x = &diags[i].items[k];
                                SourcePos pos = { .file = x->file, .line = x->line, .column = x->column };
                                diag_add(d, x->level, x->file ? &pos : NULL, "%s", x->message);
                        }
                        bool rendered_badly = diags[i].n_errors > 0;
                        diagnostics_release(&diags[i]);
                        if (rendered_badly) {
                                free(errors[i]);
                                continue;
                        }
                        if (rs[i] < 0) {
                                SourcePos pos = component_pos(g.nodes[i].c);
                                if (rs[i] == -ENOENT && !errors[i])
                                        diag_error(d, &pos, "component '%s': cannot run rpmspec: it is not installed",
                                                   g.nodes[i].c->name);
                                else
                                        diag_error(d, &pos, "component '%s': rpmspec cannot read the spec: %s",
                                                   g.nodes[i].c->name, errors[i] ? errors[i] : strerror(-rs[i]));
                        }
                        free(errors[i]);
                }
        }
        if (diagnostics_status(d) < 0) {
                r = -EINVAL;
                goto finish;
        }

        r = graph_check_outputs(&g, d);
        if (r >= 0)
                r = graph_resolve(&g, d);
        if (r < 0)
                goto finish;
        if (diagnostics_status(d) < 0) {
                r = -EINVAL;
                goto finish;
        }

        /* Schedule. */
        for (size_t i = 0; i < g.n; i++) {
                Node *nd = &g.nodes[i];
                if (!nd->selected)
                        continue;
                if (asprintf(&nd->result.log_path, "%s/logs/%s.log", out_abs, nd->c->name) < 0) {
                        nd->result.log_path = NULL;
                        r = -ENOMEM;
                        goto finish;
                }
                if (nd->done) /* built before the queries (prepare_query_root()) */
                        continue;
                g.remaining++;
                nd->pending = 0;
                if (nd->precheck)
                        continue;
                bool blocked = false;
                for (size_t k = 0; k < nd->n_deps; k++) {
                        const Node *dep = &g.nodes[nd->deps[k]];
                        if (dep->selected && !dep->done)
                                nd->pending++;
                        /* Made before the queries, and not there (a plan's
                         * native of the base set): skipped below. */
                        blocked |= dep->done && dep->result.status != BUILD_BUILT &&
                                   dep->result.status != BUILD_CACHED;
                }
                if (nd->pending == 0 && !blocked)
                        g.ready[g.n_ready++] = i;
        }
        for (size_t i = 0; i < g.n; i++) {
                Node *nd = &g.nodes[i];
                if (nd->selected && nd->done && nd->result.status == BUILD_MISSING)
                        skip_dependents(&g, i);
        }
        /* What failed its checks fails now, before anything builds (its
         * dependents are skipped); the rest builds. */
        for (size_t i = 0; i < g.n; i++) {
                Node *nd = &g.nodes[i];
                if (!nd->selected || !nd->precheck || nd->done)
                        continue;
                nd->result.status = BUILD_FAILED;
                nd->result.reason = TAKE_PTR(nd->precheck);
                finish_node(&g, i);
        }
        {
                size_t nt = MAX(o->jobs, 1u);
                pthread_t *threads = new0(pthread_t, nt);
                size_t started = 0;
                for (size_t i = 0; threads && i + 1 < nt; i++)
                        if (pthread_create(&threads[i], NULL, scheduler_worker, &g) == 0)
                                started++;
                scheduler_worker(&g);
                for (size_t i = 0; i < started; i++)
                        pthread_join(threads[i], NULL);
                free(threads);
        }

        /* The report, in component order. */
        BuildReport *rep = new0(BuildReport, 1);
        if (!rep) {
                r = -ENOMEM;
                goto finish;
        }
        rep->results = new0(BuildResult, g.n ? g.n : 1);
        if (!rep->results) {
                free(rep);
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < g.n; i++) {
                Node *nd = &g.nodes[i];
                if (!nd->selected)
                        continue;
                BuildResult *res = &rep->results[rep->n++];
                *res = nd->result;
                nd->result = (BuildResult) {};
                if (nd->rpm_sha256) {
                        for (size_t k = 0; k < res->n_rpms; k++)
                                free(nd->rpm_sha256[k]);
                        free(nd->rpm_sha256);
                        nd->rpm_sha256 = NULL;
                }
                res->needs = new0(const Component *, nd->n_deps + 1);
                if (!res->needs) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t k = 0; k < nd->n_deps; k++)
                        res->needs[res->n_needs++] = g.nodes[nd->deps[k]].c;
                switch (res->status) {
                case BUILD_BUILT: rep->n_built++; break;
                case BUILD_CACHED: rep->n_cached++; rep->n_fetched += res->fetched; break;
                case BUILD_FAILED: rep->n_failed++; break;
                case BUILD_SKIPPED: rep->n_skipped++; break;
                case BUILD_MISSING: rep->n_missing++; break;
                default: break;
                }
        }
        rep->n_rpmbuild = g.rpmbuild_runs;
        if (g.env.buildroots) {
                buildroots_counts(g.env.buildroots, &rep->n_buildroots_made, &rep->n_buildroots_reused);
                (void) buildroots_prune(g.env.buildroots, &rep->n_buildroots_pruned);
        }
        *ret = rep;
        r = 0;

finish:
        graph_release(&g);
        for (size_t i = 0; envp && envp[i]; i++)
                free(envp[i]);
        free(envp);
        return r;
}
