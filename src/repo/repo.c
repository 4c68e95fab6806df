/* SPDX-License-Identifier: MIT */

/* Writing repodata/. Packages are read in parallel and written in a fixed
 * order (basename, then directory, as createrepo_c sorts them), so the output
 * depends only on the packages and the revision.
 *
 * Incremental runs: each package's three XML fragments are kept with the
 * file's size, mtime and inode in repodata/.slipway-cache (a flat file of
 * length-prefixed records, fast to load); an unchanged file is not read
 * again. New metadata files get new names; repomd.xml is
 * replaced atomically after them, its signature right after it, and old
 * metadata files are deleted only then, so a reader never sees a repomd.xml
 * that points at missing files. */

#include <dirent.h>
#include <inttypes.h>
#include <stdint.h>
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

#define CACHE_NAME ".slipway-cache"
#define CACHE_MAGIC "slipway-repo-cache-3\n"

typedef struct Item {
        char *href;
        const char *base; /* basename, in href */
        struct stat st;   /* from the scan */
        RepoPackage pkg;  /* read this run */
        /* The XML fragments and identity, from pkg or borrowed from the cache. */
        const char *frag[3];
        size_t frag_len[3];
        const char *pkgid;
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
                *it = (Item) { .href = TAKE_PTR(sub), .st = st };
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
        if (it->r >= 0) {
                const char *f[3] = { it->pkg.primary, it->pkg.filelists, it->pkg.other };
                for (int k = 0; k < 3; k++) {
                        it->frag[k] = f[k];
                        it->frag_len[k] = strlen(f[k]);
                }
                it->pkgid = it->pkg.pkgid;
        }
}

typedef struct MdFile {
        const char *type;
        char *name;   /* in repodata/ */
        char checksum[65], open_checksum[65];
        uint64_t size, open_size;
} MdFile;

/* The previous run's records, loaded from the cache file. */
typedef struct CacheEntry {
        const char *href;
        size_t href_len;
        uint64_t size;
        int64_t mtime_ns;
        uint64_t ino;
        const char *pkgid; /* 64 hex digits */
        const char *frag[3];
        size_t frag_len[3];
} CacheEntry;

typedef struct Cache {
        char *data;
        CacheEntry *entries;
        bool *matched; /* an item with this href exists now */
        size_t n;
        uint64_t revision;
        int compression;
        char signer[41]; /* fingerprint of the key that signed, or "-" */
        char files[3][160]; /* the metadata files written */
} Cache;

static void cache_release(Cache *c) {
        free(c->data);
        free(c->entries);
        free(c->matched);
        *c = (Cache) {};
}

/* Reads n space- or newline-terminated decimal numbers at *p (no sscanf:
 * glibc's measures the whole rest of the input on every call). */
static bool take_numbers(const char **p, const char *end, uint64_t *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char *q = *p;
                uint64_t x = 0;
                bool neg = q < end && *q == '-';
                if (neg)
                        q++;
                if (q >= end || *q < '0' || *q > '9')
                        return false;
                while (q < end && *q >= '0' && *q <= '9') {
                        if (x > (UINT64_MAX - 9) / 10)
                                return false;
                        x = x * 10 + (uint64_t) (*q++ - '0');
                }
                if (q >= end || (*q != ' ' && *q != '\n'))
                        return false;
                v[i] = neg ? (uint64_t) -(int64_t) x : x;
                *p = q + 1;
        }
        return true;
}

/* Format: CACHE_MAGIC, "R revision compression count\n", "K signer\n",
 * "F primary filelists other\n", then per package
 * "P size mtime_ns ino pkgid hreflen l1 l2 l3\n" + href + 3 fragments.
 * Anything malformed: no cache (everything is read again). */
static int cache_load(const char *path, Cache *ret) {
        Cache c = {};
        size_t size, allocated = 0;
        if (read_full_file(path, &c.data, &size) < 0)
                return -ENOENT;
        const char *p = c.data, *end = c.data + size;
        size_t ml = strlen(CACHE_MAGIC);
        uint64_t h[3];
        if (size < ml || memcmp(p, CACHE_MAGIC, ml) != 0)
                goto bad;
        p += ml;
        if (end - p < 2 || memcmp(p, "R ", 2) != 0)
                goto bad;
        p += 2;
        if (!take_numbers(&p, end, h, 3))
                goto bad;
        c.revision = h[0];
        c.compression = (int) h[1];
        /* K signer, F three names: each a word ending in ' ' or '\n'. */
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        if (!nl || nl - p < 3 || memcmp(p, "K ", 2) != 0 || (size_t) (nl - p - 2) >= sizeof c.signer)
                goto bad;
        memcpy(c.signer, p + 2, (size_t) (nl - p - 2));
        c.signer[nl - p - 2] = 0;
        p = nl + 1;
        if (end - p < 2 || memcmp(p, "F ", 2) != 0)
                goto bad;
        p += 2;
        for (int f = 0; f < 3; f++) {
                size_t l = 0;
                while (p + l < end && p[l] != ' ' && p[l] != '\n')
                        l++;
                if (p + l >= end || l == 0 || l >= sizeof c.files[f] || memchr(p, '/', l))
                        goto bad;
                memcpy(c.files[f], p, l);
                c.files[f][l] = 0;
                p += l + 1;
        }
        for (uint64_t i = 0; i < h[2]; i++) {
                CacheEntry e = {};
                uint64_t a[3], b[4];
                if (end - p < 2 || memcmp(p, "P ", 2) != 0)
                        goto bad;
                p += 2;
                if (!take_numbers(&p, end, a, 3) || end - p < 65 || p[64] != ' ')
                        goto bad;
                e.pkgid = p;
                p += 65;
                if (!take_numbers(&p, end, b, 4))
                        goto bad;
                e.size = a[0];
                e.mtime_ns = (int64_t) a[1];
                e.ino = a[2];
                e.href_len = (size_t) b[0];
                uint64_t total = b[0];
                for (int f = 0; f < 3; f++) {
                        e.frag_len[f] = (size_t) b[1 + f];
                        total += b[1 + f];
                }
                if ((uint64_t) (end - p) < total)
                        goto bad;
                e.href = p;
                p += e.href_len;
                for (int f = 0; f < 3; f++) {
                        e.frag[f] = p;
                        p += e.frag_len[f];
                }
                if (!GREEDY_REALLOC(c.entries, allocated, c.n + 1))
                        goto bad;
                c.entries[c.n++] = e;
        }
        c.matched = new0(bool, c.n ? c.n : 1);
        if (!c.matched)
                goto bad;
        *ret = c;
        return 0;
bad:
        cache_release(&c);
        return -EBADMSG;
}

static void signer_of(const RepoOptions *o, char out[41]) {
        if (o->key)
                hex_encode(pgp_key_fingerprint(o->key), 20, out);
        else
                strcpy(out, "-");
}

static int cache_write(const char *path, const Item *items, size_t n, const RepoOptions *o, const MdFile md[3]) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        size_t total = 256;
        for (size_t i = 0; i < n; i++)
                total += 160 + strlen(items[i].href) + items[i].frag_len[0] + items[i].frag_len[1] + items[i].frag_len[2];
        strbuf_reserve(&sb, total);
        char signer[41];
        signer_of(o, signer);
        strbuf_puts(&sb, CACHE_MAGIC);
        strbuf_printf(&sb, "R %" PRIu64 " %d %zu\nK %s\nF %s %s %s\n", o->revision, (int) o->compression, n, signer,
                      md[0].name, md[1].name, md[2].name);
        for (size_t i = 0; i < n; i++) {
                const Item *it = &items[i];
                int64_t mt = (int64_t) it->st.st_mtim.tv_sec * 1000000000 + it->st.st_mtim.tv_nsec;
                strbuf_printf(&sb, "P %" PRIu64 " %" PRId64 " %" PRIu64 " %.64s %zu %zu %zu %zu\n",
                              (uint64_t) it->st.st_size, mt, (uint64_t) it->st.st_ino, it->pkgid, strlen(it->href),
                              it->frag_len[0], it->frag_len[1], it->frag_len[2]);
                strbuf_puts(&sb, it->href);
                for (int k = 0; k < 3; k++)
                        strbuf_put(&sb, it->frag[k], it->frag_len[k]);
        }
        if (sb.oom)
                return -ENOMEM;
        return write_file_atomic(path, sb.buf, sb.len, 0644);
}

/* Takes the cached fragments of it if its file did not change. Entries are
 * in the same sorted order as items, so a moving cursor finds them. The
 * fragments stay in the cache's buffer. */
static bool cache_take(Cache *c, size_t *cursor, Item *it) {
        const CacheEntry *e = NULL;
        size_t hl = strlen(it->href);
        for (size_t tries = 0; tries < c->n && !e; tries++) {
                size_t k = (*cursor + tries) % c->n;
                const CacheEntry *x = &c->entries[k];
                if (x->href_len == hl && memcmp(x->href, it->href, hl) == 0) {
                        e = x;
                        c->matched[k] = true;
                        *cursor = (k + 1) % c->n;
                }
        }
        if (!e)
                return false;
        int64_t mt = (int64_t) it->st.st_mtim.tv_sec * 1000000000 + it->st.st_mtim.tv_nsec;
        if ((uint64_t) it->st.st_size != e->size || mt != e->mtime_ns || (uint64_t) it->st.st_ino != e->ino)
                return false;
        for (int k = 0; k < 3; k++) {
                it->frag[k] = e->frag[k];
                it->frag_len[k] = e->frag_len[k];
        }
        it->pkgid = e->pkgid;
        return true;
}


/* Compresses and writes one metadata document; its name carries its digest. */
static int write_md(const char *repodata, const char *type, const StrBuf *doc, RepoCompression c, MdFile *ret) {
        _cleanup_free_ uint8_t *z = NULL;
        size_t zl;
        uint8_t md[32];
        int r = c == REPO_COMPRESS_ZSTD ? zstd_compress(doc->buf, doc->len, 3, &z, &zl)
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

/* DIR/RPM-GPG-KEY-<key_name>, malloc'd; NULL when out of memory. */
static char *key_file_path(const RepoOptions *o) {
        _cleanup_free_ char *kn = NULL;
        if (asprintf(&kn, "RPM-GPG-KEY-%s", o->key_name ? o->key_name : "repo") < 0)
                return NULL;
        return path_join(o->dir, kn);
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
        Cache cache = {};
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
        bool have_cache = path_exists(repomd_path) && cache_load(cache_path, &cache) >= 0;
        size_t cursor = 0;
        for (size_t i = 0; i < n && have_cache && cache.n > 0; i++)
                if (cache_take(&cache, &cursor, &items[i])) {
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

        if (have_cache)
                for (size_t k = 0; k < cache.n; k++)
                        stats.n_removed += !cache.matched[k];

        /* Nothing changed: same packages, revision, key and compression, and
         * everything the last run wrote is still there. */
        char signer[41];
        signer_of(o, signer);
        bool outputs = have_cache;
        for (int f = 0; f < 3 && outputs; f++) {
                _cleanup_free_ char *fp = path_join(repodata, cache.files[f]);
                outputs = fp && path_exists(fp);
        }
        if (outputs && o->key) {
                _cleanup_free_ char *ap = path_join(repodata, "repomd.xml.asc"), *kp = key_file_path(o);
                outputs = ap && path_exists(ap) && kp && path_exists(kp);
        }
        if (outputs && stats.n_reused == n && cache.n == n && cache.revision == o->revision &&
            strcmp(cache.signer, signer) == 0 && cache.compression == (int) o->compression) {
                stats.changed = false;
                *ret = stats;
                r = 0;
                goto finish;
        }

        r = mkdir_parents(repodata, 0755);
        if (r < 0) {
                diag_error(d, NULL, "cannot create '%s': %s", repodata, strerror(-r));
                r = -EINVAL;
                goto finish;
        }

        /* The three documents. */
        {
                _cleanup_strbuf_ StrBuf pri = STRBUF_INIT, fl = STRBUF_INIT, ot = STRBUF_INIT;
                size_t lp = 256, lf = 256, lo = 256;
                for (size_t i = 0; i < n; i++) {
                        lp += items[i].frag_len[0];
                        lf += items[i].frag_len[1];
                        lo += items[i].frag_len[2];
                }
                strbuf_reserve(&pri, lp);
                strbuf_reserve(&fl, lf);
                strbuf_reserve(&ot, lo);
                open_doc(&pri, "metadata", "http://linux.duke.edu/metadata/common", n);
                open_doc(&fl, "filelists", "http://linux.duke.edu/metadata/filelists", n);
                open_doc(&ot, "otherdata", "http://linux.duke.edu/metadata/other", n);
                for (size_t i = 0; i < n; i++) {
                        strbuf_put(&pri, items[i].frag[0], items[i].frag_len[0]);
                        strbuf_put(&fl, items[i].frag[1], items[i].frag_len[1]);
                        strbuf_put(&ot, items[i].frag[2], items[i].frag_len[2]);
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
                _cleanup_free_ char *kp = key_file_path(o);
                if (!kp) {
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
        (void) cache_write(cache_path, items, n, o, md);
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
        cache_release(&cache);
        return r;
}
