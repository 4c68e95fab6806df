/* SPDX-License-Identifier: MIT */

/* Writing repodata/. Packages are read in parallel and written in a fixed
 * order (basename, then directory, as createrepo_c sorts them), so the output
 * depends only on the packages and the revision.
 *
 * Incremental runs: each package's three XML fragments are kept with the
 * file's size, mtime and inode in repodata/.slipway-cache.json; an unchanged
 * file is not read again. New metadata files get new names; repomd.xml is
 * replaced atomically after them, its signature right after it, and old
 * metadata files are deleted only then, so a reader never sees a repomd.xml
 * that points at missing files. */

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/parallel.h"
#include "basic/strbuf.h"
#include "repo/repo.h"

#define CACHE_NAME ".slipway-cache.json"
#define CACHE_FORMAT "slipway-repo-cache-1"

typedef struct Item {
        char *href;
        const char *base; /* basename, in href */
        RepoPackage pkg;
        bool reused;
        int r;
        const char *reason;
} Item;

static int scan(const char *dir, const char *rel, Item **items, size_t *n, size_t *allocated) {
        _cleanup_free_ char *full = rel[0] ? path_join(dir, rel) : strdup(dir);
        if (!full)
                return -ENOMEM;
        _cleanup_(closedirp) DIR *d = opendir(full);
        if (!d)
                return negative_errno();
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || (!rel[0] && strcmp(de->d_name, "repodata") == 0))
                        continue;
                _cleanup_free_ char *sub = rel[0] ? path_join(rel, de->d_name) : strdup(de->d_name);
                _cleanup_free_ char *p = sub ? path_join(dir, sub) : NULL;
                struct stat st;
                if (!p)
                        return -ENOMEM;
                if (lstat(p, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int r = scan(dir, sub, items, n, allocated);
                        if (r < 0)
                                return r;
                        continue;
                }
                size_t l = strlen(de->d_name);
                if (!S_ISREG(st.st_mode) || l < 5 || strcmp(de->d_name + l - 4, ".rpm") != 0 ||
                    (l > 8 && strcmp(de->d_name + l - 8, ".src.rpm") == 0))
                        continue;
                if (!GREEDY_REALLOC(*items, *allocated, *n + 1))
                        return -ENOMEM;
                Item *it = &(*items)[(*n)++];
                *it = (Item) { .href = TAKE_PTR(sub) };
                it->base = strrchr(it->href, '/') ? strrchr(it->href, '/') + 1 : it->href;
        }
        return 0;
}

static int item_cmp(const void *a, const void *b) {
        const Item *x = a, *y = b;
        int c = strcmp(x->base, y->base);
        return c ? c : strcmp(x->href, y->href);
}

typedef struct ReadCtx {
        const char *dir;
        Item *items;
} ReadCtx;

static void read_one(void *ctx, size_t i) {
        ReadCtx *rc = ctx;
        Item *it = &rc->items[i];
        if (it->reused)
                return;
        it->r = repo_package_read(rc->dir, it->href, &it->pkg, &it->reason);
}

/* Takes the cached fragments of it if its file did not change. */
static bool cache_take(json_t *cache, const char *dir, Item *it) {
        json_t *e = json_object_get(json_object_get(cache, "packages"), it->href);
        _cleanup_free_ char *p = path_join(dir, it->href);
        struct stat st;
        if (!e || !p || stat(p, &st) < 0)
                return false;
        int64_t mt = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if ((json_int_t) st.st_size != json_integer_value(json_object_get(e, "size")) ||
            (json_int_t) mt != json_integer_value(json_object_get(e, "mtime_ns")) ||
            (json_int_t) st.st_ino != json_integer_value(json_object_get(e, "ino")))
                return false;
        const char *pkgid = json_string_value(json_object_get(e, "pkgid"));
        const char *pr = json_string_value(json_object_get(e, "primary"));
        const char *fl = json_string_value(json_object_get(e, "filelists"));
        const char *ot = json_string_value(json_object_get(e, "other"));
        if (!pkgid || strlen(pkgid) != 64 || !pr || !fl || !ot)
                return false;
        it->pkg = (RepoPackage) { .href = strdup(it->href), .size = (uint64_t) st.st_size, .mtime_ns = mt,
                                  .ino = (uint64_t) st.st_ino, .primary = strdup(pr), .filelists = strdup(fl),
                                  .other = strdup(ot) };
        memcpy(it->pkg.pkgid, pkgid, 65);
        if (!it->pkg.href || !it->pkg.primary || !it->pkg.filelists || !it->pkg.other) {
                repo_package_release(&it->pkg);
                return false;
        }
        return true;
}

typedef struct MdFile {
        const char *type;
        char *name;   /* in repodata/ */
        char checksum[65], open_checksum[65];
        uint64_t size, open_size;
} MdFile;

/* Compresses and writes one metadata document; its name carries its digest. */
static int write_md(const char *repodata, const char *type, const StrBuf *doc, RepoCompression c, MdFile *ret) {
        _cleanup_free_ uint8_t *z = NULL;
        size_t zl;
        uint8_t md[32];
        int r = c == REPO_COMPRESS_ZSTD ? zstd_compress(doc->buf, doc->len, 10, &z, &zl)
                                        : gzip_compress(doc->buf, doc->len, &z, &zl);
        if (r < 0)
                return r;
        ret->type = type;
        hash_buffer(HASH_SHA256, doc->buf, doc->len, md);
        hex_encode(md, 32, ret->open_checksum);
        hash_buffer(HASH_SHA256, z, zl, md);
        hex_encode(md, 32, ret->checksum);
        ret->size = zl;
        ret->open_size = doc->len;
        if (asprintf(&ret->name, "%s-%s.xml.%s", ret->checksum, type, c == REPO_COMPRESS_ZSTD ? "zst" : "gz") < 0) {
                ret->name = NULL;
                return -ENOMEM;
        }
        _cleanup_free_ char *path = path_join(repodata, ret->name);
        if (!path)
                return -ENOMEM;
        return write_file_atomic(path, z, zl, 0644);
}

static void open_doc(StrBuf *sb, const char *root, const char *ns, size_t n) {
        strbuf_printf(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"%s\"%s packages=\"%zu\">\n", root, ns,
                      strcmp(root, "metadata") == 0 ? " xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\"" : "", n);
}

int repo_update(const RepoOptions *o, Diagnostics *d, RepoStats *ret) {
        _cleanup_free_ char *repodata = path_join(o->dir, "repodata");
        _cleanup_free_ char *cache_path = repodata ? path_join(repodata, CACHE_NAME) : NULL;
        _cleanup_free_ char *repomd_path = repodata ? path_join(repodata, "repomd.xml") : NULL;
        Item *items = NULL;
        size_t n = 0, allocated = 0;
        RepoStats stats = {};
        MdFile md[3] = {};
        json_t *cache = NULL;
        _cleanup_strbuf_ StrBuf repomd = STRBUF_INIT;
        _cleanup_free_ char *asc = NULL, *pub = NULL, *asc_path = NULL;
        int r;

        if (!repodata || !cache_path || !repomd_path)
                return -ENOMEM;
        r = scan(o->dir, "", &items, &n, &allocated);
        if (r < 0) {
                diag_error(d, NULL, "cannot read the repository directory '%s': %s", o->dir, strerror(-r));
                r = -EINVAL;
                goto finish;
        }
        if (n > 0)
                qsort(items, n, sizeof(Item), item_cmp);

        /* What the last run read, if the metadata it wrote is still there. */
        cache = path_exists(repomd_path) ? json_load_file(cache_path, 0, NULL) : NULL;
        if (cache && strcmp(json_string_value(json_object_get(cache, "format")) ?: "", CACHE_FORMAT) != 0) {
                json_decref(cache);
                cache = NULL;
        }
        for (size_t i = 0; i < n; i++)
                if (cache && cache_take(cache, o->dir, &items[i])) {
                        items[i].reused = true;
                        stats.n_reused++;
                }
        ReadCtx rc = { .dir = o->dir, .items = items };
        parallel_for(n, o->jobs, read_one, &rc);

        bool bad = false;
        for (size_t i = 0; i < n; i++) {
                if (items[i].reused || items[i].r >= 0) {
                        stats.n_read += !items[i].reused;
                        continue;
                }
                SourcePos pos = { .file = items[i].href };
                _cleanup_free_ char *shown = path_join(o->dir, items[i].href);
                pos.file = shown ? shown : items[i].href;
                if (items[i].r == -EBADMSG)
                        diag_error(d, &pos, "%s", items[i].reason ? items[i].reason : "not a valid RPM package");
                else
                        diag_error(d, &pos, "cannot read the package: %s", strerror(-items[i].r));
                bad = true;
        }
        if (bad) {
                r = -EINVAL; /* the previous metadata stays as it was */
                goto finish;
        }
        stats.n_packages = n;

        /* Nothing changed: same packages, same revision, same signing. */
        json_t *prev = json_object_get(cache, "packages");
        if (cache && stats.n_reused == n && json_object_size(prev) == n &&
            json_integer_value(json_object_get(cache, "revision")) == (json_int_t) o->revision &&
            json_is_true(json_object_get(cache, "signed")) == (o->key != NULL) &&
            json_integer_value(json_object_get(cache, "compression")) == (json_int_t) o->compression &&
            (!o->key || path_exists(repomd_path))) {
                stats.changed = false;
                *ret = stats;
                r = 0;
                goto finish;
        }
        if (cache)
                stats.n_removed = json_object_size(prev) > n - stats.n_read ? json_object_size(prev) - (n - stats.n_read) : 0;

        r = mkdir_parents(repodata, 0755);
        if (r < 0) {
                diag_error(d, NULL, "cannot create '%s': %s", repodata, strerror(-r));
                r = -EINVAL;
                goto finish;
        }

        /* The three documents. */
        {
                _cleanup_strbuf_ StrBuf pri = STRBUF_INIT, fl = STRBUF_INIT, ot = STRBUF_INIT;
                open_doc(&pri, "metadata", "http://linux.duke.edu/metadata/common", n);
                open_doc(&fl, "filelists", "http://linux.duke.edu/metadata/filelists", n);
                open_doc(&ot, "otherdata", "http://linux.duke.edu/metadata/other", n);
                for (size_t i = 0; i < n; i++) {
                        strbuf_puts(&pri, items[i].pkg.primary);
                        strbuf_puts(&fl, items[i].pkg.filelists);
                        strbuf_puts(&ot, items[i].pkg.other);
                }
                strbuf_puts(&pri, "</metadata>\n");
                strbuf_puts(&fl, "</filelists>\n");
                strbuf_puts(&ot, "</otherdata>\n");
                if (pri.oom || fl.oom || ot.oom) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = write_md(repodata, "primary", &pri, o->compression, &md[0]);
                if (r >= 0)
                        r = write_md(repodata, "filelists", &fl, o->compression, &md[1]);
                if (r >= 0)
                        r = write_md(repodata, "other", &ot, o->compression, &md[2]);
                if (r < 0)
                        goto finish;
        }

        /* repomd.xml */
        strbuf_printf(&repomd,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n"
                      "  <revision>%" PRIu64 "</revision>\n",
                      o->revision);
        for (size_t k = 0; k < 3; k++)
                strbuf_printf(&repomd,
                              "  <data type=\"%s\">\n"
                              "    <checksum type=\"sha256\">%s</checksum>\n"
                              "    <open-checksum type=\"sha256\">%s</open-checksum>\n"
                              "    <location href=\"repodata/%s\"/>\n"
                              "    <timestamp>%" PRIu64 "</timestamp>\n"
                              "    <size>%" PRIu64 "</size>\n"
                              "    <open-size>%" PRIu64 "</open-size>\n"
                              "  </data>\n",
                              md[k].type, md[k].checksum, md[k].open_checksum, md[k].name, o->revision, md[k].size,
                              md[k].open_size);
        strbuf_puts(&repomd, "</repomd>\n");
        if (repomd.oom) {
                r = -ENOMEM;
                goto finish;
        }

        /* The signature and public key are made before anything is replaced. */
        if (o->key) {
                _cleanup_free_ uint8_t *sig = NULL;
                size_t sl;
                r = pgp_sign(o->key, repomd.buf, repomd.len, (uint32_t) MIN(o->revision, (uint64_t) UINT32_MAX), &sig, &sl);
                if (r >= 0 && !(asc = pgp_armor("PGP SIGNATURE", sig, sl)))
                        r = -ENOMEM;
                if (r >= 0)
                        r = pgp_key_export_public(o->key, &pub);
                if (r < 0)
                        goto finish;
        }

        r = write_file_atomic(repomd_path, repomd.buf, repomd.len, 0644);
        if (r < 0)
                goto finish;
        asc_path = path_join(repodata, "repomd.xml.asc");
        if (!asc_path) {
                r = -ENOMEM;
                goto finish;
        }
        if (asc) {
                r = write_file_atomic(asc_path, asc, strlen(asc), 0644);
                if (r < 0)
                        goto finish;
                _cleanup_free_ char *kn = NULL, *kp = NULL;
                if (asprintf(&kn, "RPM-GPG-KEY-%s", o->key_name ? o->key_name : "repo") < 0 || !(kp = path_join(o->dir, kn))) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = write_file_atomic(kp, pub, strlen(pub), 0644);
                if (r < 0)
                        goto finish;
        } else
                (void) unlink(asc_path); /* an unsigned repomd.xml has no signature */

        /* Old metadata files: only now that the new repomd.xml is in place. */
        {
                _cleanup_(closedirp) DIR *dd = opendir(repodata);
                struct dirent *de;
                while (dd && (de = readdir(dd))) {
                        const char *nm = de->d_name;
                        bool keep = nm[0] == '.' || strcmp(nm, "repomd.xml") == 0 || strcmp(nm, "repomd.xml.asc") == 0;
                        for (size_t k = 0; k < 3 && !keep; k++)
                                keep = strcmp(nm, md[k].name) == 0;
                        if (!keep && (strstr(nm, ".xml") || strstr(nm, ".sqlite"))) {
                                _cleanup_free_ char *p = path_join(repodata, nm);
                                if (p)
                                        (void) unlink(p);
                        }
                }
        }

        /* The cache for the next run. */
        {
                json_t *pk = json_object();
                for (size_t i = 0; i < n; i++) {
                        const RepoPackage *p = &items[i].pkg;
                        json_object_set_new(pk, p->href,
                                            json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "size", (json_int_t) p->size,
                                                      "mtime_ns", (json_int_t) p->mtime_ns, "ino", (json_int_t) p->ino,
                                                      "pkgid", p->pkgid, "primary", p->primary, "filelists", p->filelists,
                                                      "other", p->other));
                }
                json_t *c = json_pack("{s:s, s:I, s:b, s:i, s:o}", "format", CACHE_FORMAT, "revision",
                                      (json_int_t) o->revision, "signed", o->key != NULL, "compression",
                                      (int) o->compression, "packages", pk);
                char *s = c ? json_dumps(c, JSON_COMPACT) : NULL;
                json_decref(c);
                if (s) {
                        (void) write_file_atomic(cache_path, s, strlen(s), 0644);
                        free(s);
                }
        }
        stats.changed = true;
        *ret = stats;
        r = 0;

finish:
        for (size_t k = 0; k < 3; k++)
                free(md[k].name);
        for (size_t i = 0; i < n; i++) {
                free(items[i].href);
                repo_package_release(&items[i].pkg);
        }
        free(items);
        json_decref(cache);
        return r;
}
