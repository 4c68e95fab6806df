/* SPDX-License-Identifier: MIT */

/* Package sources for images: repository metadata and packages, local or
 * fetched over http(s) with libcurl, checked against repomd.xml's signature,
 * the checksums it lists and the packages' signatures. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/http.h"
#include "basic/strbuf.h"
#include "compose/source.h"
#include "repo/verify.h"
#include "repo/repo.h"
#include "rpm/package.h"
#include "sign/keyfile.h"
#include "sign/rpmsign.h"

void source_release(Source *s) {
        free(s->name);
        free(s->url);
        free(s->dir);
        free(s->base);
        free(s->cache);
        free(s->primary);
        *s = (Source) {};
}

/* ---- checksums (the one policy of repo/verify.h) ---- */

/* path is there with this checksum (a cached download can be used). */
static bool file_matches(const char *path, const char *type, const char *want) {
        _cleanup_free_ char *err = NULL;
        return repo_check_file(path, type, want, &err) == 0;
}

/* The local path of a repository file: in the repository, or in the cache
 * after downloading it (when `reuse` and the cached copy's checksum is right,
 * it is not downloaded again). */
static int source_file(const Source *s, const char *href, const char *type, const char *checksum, uint64_t max,
                       char **ret, char **ret_error) {
        if (!repo_href_safe(href)) {
                *ret_error = strprintf("the location '%s' leaves the repository", href ? href : "");
                return -EINVAL;
        }
        if (s->dir) {
                *ret = path_join(s->dir, href);
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_free_ char *path = path_join(s->cache, href);
        if (!path)
                return -ENOMEM;
        if (checksum && file_matches(path, type, checksum)) {
                *ret = TAKE_PTR(path);
                return 0;
        }
        _cleanup_free_ char *url = NULL;
        if (asprintf(&url, "%s%s", s->base, href) < 0)
                return -ENOMEM;
        int r = http_download(url, path, max, ret_error);
        if (r < 0)
                return r == -EIO || r == -EFBIG || r == -ENOENT ? -EINVAL : r;
        *ret = TAKE_PTR(path);
        return 0;
}

/* ---- metadata ---- */

int source_open(Source *s, Diagnostics *d) {
        _cleanup_free_ char *repomd = NULL, *asc = NULL, *data = NULL, *sig = NULL, *err = NULL;
        size_t n = 0, sn = 0;
        int r;

        if (s->dir) {
                repomd = path_join(s->dir, "repodata/repomd.xml");
                asc = path_join(s->dir, "repodata/repomd.xml.asc");
                if (!repomd || !asc)
                        return -ENOMEM;
        } else {
                _cleanup_free_ char *u = NULL, *ua = NULL;
                repomd = path_join(s->cache, "repodata/repomd.xml");
                asc = path_join(s->cache, "repodata/repomd.xml.asc");
                if (!repomd || !asc || asprintf(&u, "%srepodata/repomd.xml", s->base) < 0 ||
                    asprintf(&ua, "%srepodata/repomd.xml.asc", s->base) < 0)
                        return -ENOMEM;
                /* repomd.xml is always fetched anew: it is what says whether
                 * anything else changed. */
                r = http_download(u, repomd, SOURCE_UNVERIFIED_MAX, &err);
                if (r < 0) {
                        diag_error(d, NULL, "repository '%s': %s", s->name, err ? err : strerror(-r));
                        return -EINVAL;
                }
                if (s->signed_md) {
                        free(err);
                        err = NULL;
                        r = http_download(ua, asc, SOURCE_UNVERIFIED_MAX, &err);
                        if (r == -EFBIG) {
                                /* The cache keeps only what was checked. */
                                (void) unlink(repomd);
                                diag_error(d, NULL, "repository '%s': %s", s->name, err);
                                return -EINVAL;
                        }
                        if (r < 0) {
                                (void) unlink(asc); /* reported below as unsigned */
                                free(err);
                                err = NULL;
                        }
                }
        }

        r = read_full_file(repomd, &data, &n);
        if (r < 0) {
                diag_error(d, NULL, "repository '%s' (%s): cannot read repodata/repomd.xml: %s", s->name, s->url,
                           r == -ENOENT ? "it does not exist (is it a repository?)" : strerror(-r));
                return -EINVAL;
        }
        if (s->signed_md) {
                bool has_sig = read_full_file(asc, &sig, &sn) >= 0;
                r = repo_check_repomd(s->key, data, n, has_sig ? sig : NULL, sn, &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && !s->dir) {
                        /* The cache keeps only what was checked. */
                        (void) unlink(repomd);
                        (void) unlink(asc);
                }
                if (r < 0) {
                        diag_error(d, NULL, "repository '%s': %s%s%s", s->name, err,
                                   r == -ENODATA ? ", and its key requires a signature" : "",
                                   s->remedy ? s->remedy : "");
                        return -EINVAL;
                }
        }

        RepoMdData *md = NULL;
        size_t nmd = 0;
        r = repomd_parse(data, n, &md, &nmd);
        if (r < 0) {
                diag_error(d, NULL, "repository '%s': malformed repodata/repomd.xml", s->name);
                return r == -ENOMEM ? r : -EINVAL;
        }
        const RepoMdData *pm = NULL;
        for (size_t i = 0; i < nmd; i++)
                if (strcmp(md[i].type, "primary") == 0)
                        pm = &md[i];
        if (!pm) {
                diag_error(d, NULL, "repository '%s': repomd.xml lists no primary metadata", s->name);
                repomd_free_array(md, nmd);
                return -EINVAL;
        }
        _cleanup_free_ char *pf = NULL, *raw = NULL;
        size_t rl = 0;
        /* As large as repomd.xml says (its signature checked, when signed). */
        r = source_file(s, pm->href, pm->checksum_type, pm->checksum, pm->size ? pm->size : SOURCE_UNSIZED_MAX, &pf,
                        &err);
        if (r >= 0) {
                _cleanup_free_ char *why = NULL;
                r = repo_check_file(pf, pm->checksum_type, pm->checksum, &why);
                if (r == -EINVAL)
                        err = strprintf("primary metadata '%s': %s", pm->href, why);
        }
        if (r >= 0) {
                r = read_full_file(pf, &raw, &rl);
                /* Into a buffer of the size repomd.xml states, and no more. */
                int k = r >= 0 ? repo_metadata_decompress(raw, rl, pm->open_size, &s->primary, &s->primary_len) : 0;
                if (k == -ENOMEM)
                        r = k;
                else if (k == -EFBIG) {
                        err = strprintf("'%s' decompresses to more than the %" PRIu64 " bytes repomd.xml states",
                                        pm->href, pm->open_size);
                        r = -EINVAL;
                } else if (k < 0) {
                        err = strprintf("'%s' cannot be decompressed", pm->href);
                        r = -EINVAL;
                }
        }
        if (r < 0)
                diag_error(d, NULL, "repository '%s': %s", s->name, err ? err : strerror(-r));
        repomd_free_array(md, nmd);
        return r < 0 && r != -ENOMEM ? -EINVAL : r;
}

int source_fetch(const Source *s, const char *href, const char *checksum_type, const char *checksum, uint64_t size,
                 char **ret, char **ret_error) {
        _cleanup_free_ char *path = NULL, *why = NULL;
        int r;

        *ret_error = NULL;
        if (!checksum || !*checksum) {
                *ret_error = strdup("the repository metadata gives no checksum for it");
                return *ret_error ? -EINVAL : -ENOMEM;
        }
        r = source_file(s, href, checksum_type, checksum, size ? size : SOURCE_UNSIZED_MAX, &path, ret_error);
        if (r < 0)
                return r;
        r = repo_check_file(path, checksum_type, checksum, &why);
        if (r >= 0 && s->gpgcheck)
                r = repo_check_package(s->key, path, s->name, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret_error = strprintf("'%s': %s", path, why);
                return -EINVAL;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

/* ---- a project's sources ---------------------------------------------------- */

void source_set_release(SourceSet *s) {
        for (size_t i = 0; i < s->n; i++)
                source_release(&s->items[i]);
        free(s->items);
        for (size_t i = 0; i < s->n_keys; i++)
                pgp_key_free(s->keys[i]);
        free(s->keys);
        *s = (SourceSet) {};
}

static int keep_key(SourceSet *s, PgpKey *k) {
        PgpKey **a = reallocarray(s->keys, s->n_keys + 1, sizeof(PgpKey *));
        if (!a) {
                pgp_key_free(k);
                return -ENOMEM;
        }
        s->keys = a;
        s->keys[s->n_keys++] = k;
        return 0;
}

/* A file:// URL as a path ("file:///srv/repo" -> "/srv/repo"). */
static char *file_url_path(const char *url) {
        const char *p = url + strlen("file://");
        size_t l = strlen(p);
        while (l > 1 && p[l - 1] == '/')
                l--;
        return strndup(p, l);
}

static int load_repo_key(const Project *p, const Repo *repo, const char *cache, PgpKey **ret, Diagnostics *d) {
        _cleanup_free_ char *path = NULL;
        const char *why = NULL;
        SourcePos pos = cfg_pos(&repo->obj, "gpg-key");
        if (strstr(repo->gpg_key, "://")) {
                _cleanup_free_ char *err = NULL;
                path = path_join(cache, "gpg-key.asc");
                if (!path)
                        return -ENOMEM;
                if (http_download(repo->gpg_key, path, SOURCE_UNVERIFIED_MAX, &err) < 0) {
                        diag_error(d, &pos, "repository '%s': cannot fetch its key: %s", repo->name,
                                   err ? err : "download failed");
                        return -EINVAL;
                }
        } else if (!(path = project_path(p, repo->gpg_key)))
                return -ENOMEM;
        int r = key_load(path, ret, &why);
        if (r < 0) {
                diag_error(d, &pos, "repository '%s': cannot use key '%s': %s", repo->name, repo->gpg_key,
                           why ? why : strerror(-r));
                return -EINVAL;
        }
        return 0;
}

int source_set_open(const Project *p, const char *out, bool with_project, SourceSet *s, Diagnostics *d) {
        int r, ret = 0;
        s->items = new0(Source, p->repos.n + 1);
        if (!s->items)
                return -ENOMEM;

        _cleanup_free_ char *own = path_join(out, "repo"), *own_md = path_join(out, "repo/repodata/repomd.xml");
        if (!own || !own_md)
                return -ENOMEM;
        if (!with_project)
                ;
        else if (path_exists(own_md)) {
                Source *src = &s->items[s->n++];
                src->name = strdup("project");
                src->remedy = " (run 'slipway repo' to index and sign it again)";
                src->url = strdup(own);
                src->dir = strdup(own);
                if (!src->name || !src->url || !src->dir)
                        return -ENOMEM;
                if (p->signing.key) {
                        _cleanup_free_ char *kp = project_path(p, p->signing.key);
                        PgpKey *k = NULL;
                        const char *why = NULL;
                        if (!kp)
                                return -ENOMEM;
                        if (key_load(kp, &k, &why) < 0) {
                                SourcePos pos = cfg_pos(&p->signing.obj, "key");
                                diag_error(d, &pos, "signing key '%s': %s", p->signing.key, why ? why : "unusable");
                                return -EINVAL;
                        }
                        if ((r = keep_key(s, k)) < 0)
                                return r;
                        src->key = k;
                        src->gpgcheck = src->signed_md = true;
                }
                /* Without a key the unsigned-output warning of the project
                 * load covers it: the repository is used as it is. */
        } else if (p->components.n > 0) {
                diag_error(d, NULL,
                           "the project's repository '%s' does not exist: run 'slipway package' first to build the "
                           "components",
                           own);
                return -EINVAL;
        }

        for (size_t i = 0; i < p->repos.n; i++) {
                const Repo *repo = &p->repos.items[i];
                Source *src = &s->items[s->n++];
                src->name = strdup(repo->name);
                src->url = strdup(repo->url);
                src->cache = path_join(out, "cache");
                if (!src->name || !src->url || !src->cache)
                        return -ENOMEM;
                char *c = src->cache;
                src->cache = path_join(c, repo->name);
                free(c);
                if (!src->cache)
                        return -ENOMEM;
                if (strncmp(repo->url, "file://", 7) == 0) {
                        if (!(src->dir = file_url_path(repo->url)))
                                return -ENOMEM;
                } else {
                        size_t l = strlen(repo->url);
                        if (asprintf(&src->base, "%s%s", repo->url, l && repo->url[l - 1] == '/' ? "" : "/") < 0) {
                                src->base = NULL;
                                return -ENOMEM;
                        }
                }
                if (repo->gpgcheck) {
                        PgpKey *k = NULL;
                        r = load_repo_key(p, repo, src->cache, &k, d);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                ret = r;
                                continue;
                        }
                        if ((r = keep_key(s, k)) < 0)
                                return r;
                        src->key = k;
                        src->gpgcheck = src->signed_md = true;
                }
        }
        if (ret < 0)
                return ret;
        for (size_t i = 0; i < s->n; i++) {
                r = source_open(&s->items[i], d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = r;
        }
        return ret;
}
