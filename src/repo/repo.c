/* SPDX-License-Identifier: MIT */

/* Writing repodata/. Packages are read in parallel and written in a fixed
 * order (basename, then directory, as createrepo_c sorts them), so the output
 * depends only on the packages and the revision.
 *
 * Incremental runs: each package's three XML fragments are kept with the
 * file's size, mtime and inode in repodata/.slipway-cache (a flat file of
 * length-prefixed records, mapped, not parsed); an unchanged file is not read
 * again. Each document is written as a sequence of compressed frames (zstd
 * frames or gzip members, which every reader decodes as one stream): one for
 * the opening tag, one per chunk of packages, one for the closing tag. Chunk
 * boundaries depend only on the packages at them (a hash of the location),
 * so adding a package changes one chunk, and the cache keeps each chunk's
 * compressed frames: only changed chunks are compressed again.
 *
 * New metadata files get new names; repomd.xml is replaced atomically after
 * them, its signature right after it, and old metadata files are deleted
 * only then, so a reader never sees a repomd.xml that points at missing
 * files. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/parallel.h"
#include "basic/strbuf.h"
#include "repo/repo.h"

#define CACHE_NAME ".slipway-cache"
#define CACHE_MAGIC "slipway-repo-cache-6\n" /* 6: <time file> clamped to the revision */
#ifndef SLIPWAY_VERSION
#define SLIPWAY_VERSION "0"
#endif

/* A chunk ends after a package whose location hashes to 0 in these bits (64
 * packages on average), or at CHUNK_MAX packages. */
#define CHUNK_MASK 63u
#define CHUNK_MAX 1024
/* The most a chunk's frame may decompress to (a cache sanity bound). */
#define CHUNK_PLAIN_MAX (1024ull * 1024 * 1024)

typedef struct CacheEntry CacheEntry;

typedef struct Item {
        char *href;
        const char *base; /* basename, in href */
        uint64_t size, ino;
        int64_t mtime_ns;
        RepoPackage *pkg; /* read this run */
        /* The XML fragments and identity, from pkg or (reused) from the
         * cache; a reused item's fragments are only located when a chunk
         * that holds it has to be compressed again. */
        const char *frag[3];
        size_t frag_len[3];
        const char *pkgid;
        const CacheEntry *ce; /* reused: the cache's record */
        bool reused;
        int r;
        const char *reason;
} Item;

/* Collects the *.rpm names below dir (not *.src.rpm, not repodata/); their
 * stat comes after, in parallel (stat_one). */
static int scan(const char *dir, const char *rel, char ***names, size_t *n, size_t *allocated) {
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
                unsigned type = de->d_type;
                if (type == DT_UNKNOWN) {
                        struct stat st;
                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
                }
                _cleanup_free_ char *sub = rel[0] ? path_join(rel, de->d_name) : strdup(de->d_name);
                if (!sub)
                        return -ENOMEM;
                if (type == DT_DIR) {
                        int r = scan(dir, sub, names, n, allocated);
                        if (r < 0)
                                return r;
                        continue;
                }
                size_t l = strlen(de->d_name);
                if (type != DT_REG || l < 5 || strcmp(de->d_name + l - 4, ".rpm") != 0 ||
                    (l > 8 && strcmp(de->d_name + l - 8, ".src.rpm") == 0))
                        continue;
                if (!GREEDY_REALLOC(*names, *allocated, *n + 1))
                        return -ENOMEM;
                (*names)[(*n)++] = TAKE_PTR(sub);
        }
        return 0;
}

typedef struct StatCtx {
        int dirfd;
        Item *items;
} StatCtx;

static void stat_one(void *ctx, size_t i) {
        StatCtx *sc = ctx;
        Item *it = &sc->items[i];
        struct stat st;
        if (fstatat(sc->dirfd, it->href, &st, AT_SYMLINK_NOFOLLOW) < 0)
                it->r = negative_errno();
        else if (!S_ISREG(st.st_mode))
                it->r = -ENOENT; /* replaced since the scan */
        else {
                it->size = (uint64_t) st.st_size;
                it->ino = (uint64_t) st.st_ino;
                it->mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        }
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int repo_scan_packages(const char *dir, char ***ret, size_t *ret_n) {
        char **names = NULL;
        size_t n = 0, allocated = 0;
        int r = scan(dir, "", &names, &n, &allocated);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                return r;
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), str_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

static int allowed_cmp(const void *key, const void *elem) {
        return strcmp(key, ((const RepoAllowed *) elem)->href);
}

static const RepoAllowed *allowed_find(const RepoOptions *o, const char *href) {
        return o->n_allowed ? bsearch(href, o->allowed, o->n_allowed, sizeof(RepoAllowed), allowed_cmp) : NULL;
}

/* A package that is not (or, changed, no longer) what the project built:
 * deleted with prune, else an error. Returns true if it is an error. */
static bool foreign(const RepoOptions *o, Diagnostics *d, const char *href, const char *why, RepoStats *stats) {
        _cleanup_free_ char *shown = path_join(o->dir, href);
        SourcePos pos = { .file = shown ? shown : href };
        if (o->prune) {
                if (unlink(pos.file) < 0 && errno != ENOENT) {
                        diag_error(d, &pos, "%s, and it cannot be removed: %s", why, strerror(errno));
                        return true;
                }
                diag_note(d, &pos, "removed: %s", why);
                stats->n_pruned++;
                return false;
        }
        diag_error(d, &pos, "%s: remove it, or run 'slipway repo --prune'", why);
        return true;
}

static int item_cmp(const void *a, const void *b) {
        const Item *x = a, *y = b;
        int c = strcmp(x->base, y->base);
        return c ? c : strcmp(x->href, y->href);
}

typedef struct ReadCtx {
        const char *dir;
        uint64_t revision;
        Item *items;
} ReadCtx;

static void read_item(const char *dir, uint64_t revision, Item *it) {
        it->pkg = new0(RepoPackage, 1);
        if (!it->pkg) {
                it->r = -ENOMEM;
                return;
        }
        it->r = repo_package_read(dir, it->href, revision, it->pkg, &it->reason);
        if (it->r >= 0) {
                const char *f[3] = { it->pkg->primary, it->pkg->filelists, it->pkg->other };
                for (int k = 0; k < 3; k++) {
                        it->frag[k] = f[k];
                        it->frag_len[k] = strlen(f[k]);
                }
                it->pkgid = it->pkg->pkgid;
        }
}

static void read_one(void *ctx, size_t i) {
        ReadCtx *rc = ctx;
        if (!rc->items[i].reused && !rc->items[i].pkg)
                read_item(rc->dir, rc->revision, &rc->items[i]);
}

typedef struct MdFile {
        const char *type;
        char *name;   /* in repodata/ */
        char checksum[65], open_checksum[65];
        uint64_t size, open_size;
} MdFile;

/* ---- the cache ---- */

/* A package of the previous run, mapped from the cache file. Its fragments
 * are in its chunk's frames, at frag_off once decompressed. */
struct CacheEntry {
        const char *href;
        size_t href_len;
        uint64_t size;
        int64_t mtime_ns;
        uint64_t ino;
        const char *pkgid; /* 64 hex digits */
        size_t frag_len[3];
        size_t chunk;       /* index into Cache.chunks */
        size_t frag_off[3]; /* in the chunk's decompressed frames */
};

/* A chunk of the previous run: its key, its compressed frames (one per
 * document) and, when needed this run, those frames decompressed. */
typedef struct CacheChunk {
        uint8_t key[32];
        const uint8_t *frame[3];
        size_t frame_len[3];
        size_t plain_len[3]; /* what the frames hold: the sums of its entries' lengths */
        char *plain[3];      /* decompressed this run, or NULL */
        bool needed;
        int r;
} CacheChunk;

typedef struct Cache {
        void *data;
        size_t size;
        CacheEntry *entries;
        bool *matched; /* an item with this href exists now */
        size_t n;
        CacheChunk *chunks;  /* in file order */
        size_t *by_key;      /* chunk indices sorted by key */
        size_t n_chunks;
        uint64_t revision;
        int compression;
        char signer[41]; /* fingerprint of the key that signed, or "-" */
        char files[3][160]; /* the metadata files written */
} Cache;

static void cache_release(Cache *c) {
        if (c->data)
                munmap(c->data, c->size);
        for (size_t k = 0; k < c->n_chunks; k++)
                for (int f = 0; f < 3; f++)
                        free(c->chunks[k].plain[f]);
        free(c->entries);
        free(c->matched);
        free(c->chunks);
        free(c->by_key);
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

static bool unhex(const char *s, uint8_t *out, size_t n) {
        for (size_t i = 0; i < 2 * n; i++) {
                int v = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;
                if (v < 0)
                        return false;
                out[i / 2] = (uint8_t) (i % 2 ? (out[i / 2] << 4) | v : v);
        }
        return true;
}

static int by_key_cmp(const void *a, const void *b, void *chunks) {
        const CacheChunk *c = chunks;
        return memcmp(c[*(const size_t *) a].key, c[*(const size_t *) b].key, 32);
}

/* Format: CACHE_MAGIC, "V slipway-version\n", "R revision compression count\n",
 * "K signer\n", "F primary filelists other\n", then per package
 * "P size mtime_ns ino pkgid hreflen l1 l2 l3\n" + href, then "C count\n"
 * and per chunk "H key packages z1 z2 z3\n" + its 3 compressed frames; the
 * chunks hold the packages in order. Anything malformed, or written by
 * another version of slipway (whose fragments may differ): no cache
 * (everything is read again). */
static int cache_load(const char *path, Cache *ret) {
        Cache c = {};
        void *map;
        if (map_file(path, &map, &c.size) < 0 || !map)
                return -ENOENT;
        c.data = map;
        const char *p = map, *end = p + c.size;
        size_t ml = strlen(CACHE_MAGIC), vl = strlen(SLIPWAY_VERSION);
        uint64_t h[3];
        if (c.size < ml || memcmp(p, CACHE_MAGIC, ml) != 0)
                goto bad;
        p += ml;
        if ((size_t) (end - p) < vl + 3 || memcmp(p, "V ", 2) != 0 || memcmp(p + 2, SLIPWAY_VERSION, vl) != 0 ||
            p[2 + vl] != '\n')
                goto bad;
        p += vl + 3;
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
        if (h[2] > c.size / 8)
                goto bad;
        c.entries = new0(CacheEntry, h[2]);
        if (!c.entries)
                goto bad;
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
                if (!take_numbers(&p, end, b, 4) || b[0] > (uint64_t) (end - p))
                        goto bad;
                e.size = a[0];
                e.mtime_ns = (int64_t) a[1];
                e.ino = a[2];
                e.href_len = (size_t) b[0];
                for (int f = 0; f < 3; f++) {
                        if (b[1 + f] > CHUNK_PLAIN_MAX)
                                goto bad;
                        e.frag_len[f] = (size_t) b[1 + f];
                }
                e.href = p;
                p += e.href_len;
                c.entries[c.n++] = e;
        }
        uint64_t nc;
        if (end - p < 2 || memcmp(p, "C ", 2) != 0)
                goto bad;
        p += 2;
        if (!take_numbers(&p, end, &nc, 1) || nc > c.size / 8 || nc > c.n)
                goto bad;
        c.chunks = new0(CacheChunk, nc);
        c.by_key = new0(size_t, nc);
        if (!c.chunks || !c.by_key)
                goto bad;
        size_t next = 0; /* the first entry of the next chunk */
        for (uint64_t i = 0; i < nc; i++) {
                CacheChunk k = {};
                uint64_t l[4];
                if (end - p < 67 || memcmp(p, "H ", 2) != 0 || p[66] != ' ' || !unhex(p + 2, k.key, 32))
                        goto bad;
                p += 67;
                if (!take_numbers(&p, end, l, 4) || l[0] == 0 || l[0] > c.n - next)
                        goto bad;
                for (int f = 0; f < 3; f++) {
                        if (l[1 + f] > (uint64_t) (end - p))
                                goto bad;
                        k.frame[f] = (const uint8_t *) p;
                        k.frame_len[f] = (size_t) l[1 + f];
                        p += l[1 + f];
                }
                for (size_t j = next; j < next + l[0]; j++) {
                        CacheEntry *e = &c.entries[j];
                        e->chunk = c.n_chunks;
                        for (int f = 0; f < 3; f++) {
                                e->frag_off[f] = k.plain_len[f];
                                k.plain_len[f] += e->frag_len[f];
                                if (k.plain_len[f] > CHUNK_PLAIN_MAX)
                                        goto bad;
                        }
                }
                next += (size_t) l[0];
                c.by_key[c.n_chunks] = c.n_chunks;
                c.chunks[c.n_chunks++] = k;
        }
        if (p != end || next != c.n)
                goto bad;
        if (c.n_chunks > 1)
                qsort_r(c.by_key, c.n_chunks, sizeof(size_t), by_key_cmp, c.chunks);
        c.matched = new0(bool, c.n);
        if (!c.matched)
                goto bad;
        *ret = c;
        return 0;
bad:
        cache_release(&c);
        return -EBADMSG;
}

static CacheChunk *cache_find_chunk(Cache *c, const uint8_t key[32]) {
        size_t lo = 0, hi = c->n_chunks;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int d = memcmp(c->chunks[c->by_key[mid]].key, key, 32);
                if (d == 0)
                        return &c->chunks[c->by_key[mid]];
                if (d < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Takes the cache's record of it if its file did not change. Entries are in
 * the same sorted order as items, so a moving cursor finds them. */
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
        if (!e || it->size != e->size || it->mtime_ns != e->mtime_ns || it->ino != e->ino)
                return false;
        for (int k = 0; k < 3; k++)
                it->frag_len[k] = e->frag_len[k];
        it->pkgid = e->pkgid;
        it->ce = e;
        return true;
}

/* Decompresses an old chunk's frames; they must hold exactly what its
 * records say. */
static int cache_chunk_open(CacheChunk *k) {
        for (int f = 0; f < 3; f++) {
                char *buf = malloc(k->plain_len[f] + 1);
                size_t len;
                if (!buf)
                        return -ENOMEM;
                int r = decompress_into(k->frame[f], k->frame_len[f], buf, k->plain_len[f] + 1, &len);
                if (r >= 0 && len != k->plain_len[f])
                        r = -EBADMSG;
                if (r < 0) {
                        free(buf);
                        return r;
                }
                k->plain[f] = buf;
        }
        return 0;
}

static void cache_chunk_open_one(void *ctx, size_t i) {
        Cache *c = ctx;
        CacheChunk *k = &c->chunks[i];
        if (k->needed)
                k->r = cache_chunk_open(k);
}

static void signer_of(const RepoOptions *o, char out[41]) {
        if (o->key)
                hex_encode(pgp_key_fingerprint(o->key), 20, out);
        else
                strcpy(out, "-");
}

/* ---- chunks and documents ---- */

/* A run of packages, compressed as one frame per document. */
typedef struct Chunk {
        size_t first, n; /* items[first, first + n) */
        uint8_t key[32];
        CacheChunk *from;        /* the previous run's frames, reused */
        const uint8_t *frame[3]; /* from the cache or owned */
        size_t frame_len[3];
        uint8_t *owned[3];
        char *plain[3];          /* compressed this run: the uncompressed frame */
        size_t plain_len[3];
} Chunk;

/* Writes " " and v in decimal (as a negative number if neg) at p. */
static char *put_number(char *p, uint64_t v, bool neg) {
        char tmp[21];
        size_t l = 0;
        if (neg)
                v = (uint64_t) -(int64_t) v;
        do
                tmp[l++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        *p++ = ' ';
        if (neg)
                *p++ = '-';
        while (l > 0)
                *p++ = tmp[--l];
        return p;
}

/* Written without fsync: a cache whose data a crash lost fails to load and
 * costs one full run; the metadata itself is always synced. */
static int cache_write(const char *path, const Item *items, size_t n, const Chunk *chunks, size_t n_chunks,
                       const RepoOptions *o, MdFile md[3]) {
        _cleanup_strbuf_ StrBuf lines = STRBUF_INIT;
        _cleanup_free_ struct iovec *iov = new0(struct iovec, 2 + 2 * n + 4 * n_chunks);
        _cleanup_free_ size_t *off = new0(size_t, n + n_chunks + 2);
        if (!iov || !off)
                return -ENOMEM;
        char signer[41];
        signer_of(o, signer);
        strbuf_reserve(&lines, 256 + 120 * n + 120 * n_chunks);
        strbuf_printf(&lines, "%sV %s\nR %" PRIu64 " %d %zu\nK %s\nF %s %s %s\n", CACHE_MAGIC, SLIPWAY_VERSION,
                      o->revision, (int) o->compression, n, signer, md[0].name, md[1].name, md[2].name);
        for (size_t i = 0; i < n; i++) {
                const Item *it = &items[i];
                off[i] = lines.len;
                /* "P size mtime_ns ino pkgid hreflen l1 l2 l3\n", without
                 * printf (thousands of lines). */
                char line[8 * 21 + 64 + 16], *p = line;
                *p++ = 'P';
                p = put_number(p, it->size, false);
                p = put_number(p, (uint64_t) it->mtime_ns, it->mtime_ns < 0);
                p = put_number(p, it->ino, false);
                *p++ = ' ';
                memcpy(p, it->pkgid, 64);
                p += 64;
                p = put_number(p, strlen(it->href), false);
                for (int f = 0; f < 3; f++)
                        p = put_number(p, it->frag_len[f], false);
                *p++ = '\n';
                strbuf_put(&lines, line, (size_t) (p - line));
        }
        off[n] = lines.len;
        strbuf_printf(&lines, "C %zu\n", n_chunks);
        for (size_t k = 0; k < n_chunks; k++) {
                char hex[65];
                hex_encode(chunks[k].key, 32, hex);
                off[n + 1 + k] = lines.len;
                strbuf_printf(&lines, "H %s %zu %zu %zu %zu\n", hex, chunks[k].n, chunks[k].frame_len[0],
                              chunks[k].frame_len[1], chunks[k].frame_len[2]);
        }
        off[n + 1 + n_chunks] = lines.len;
        if (lines.oom)
                return -ENOMEM;
        /* The pieces: record lines from `lines`, the rest borrowed. */
        size_t m = 0;
        iov[m++] = (struct iovec) { lines.buf, off[0] };
        for (size_t i = 0; i < n; i++) {
                iov[m++] = (struct iovec) { lines.buf + off[i], off[i + 1] - off[i] };
                iov[m++] = (struct iovec) { items[i].href, strlen(items[i].href) };
        }
        iov[m++] = (struct iovec) { lines.buf + off[n], off[n + 1] - off[n] };
        for (size_t k = 0; k < n_chunks; k++) {
                iov[m++] = (struct iovec) { lines.buf + off[n + 1 + k], off[n + 2 + k] - off[n + 1 + k] };
                for (int f = 0; f < 3; f++)
                        iov[m++] = (struct iovec) { (void *) chunks[k].frame[f], chunks[k].frame_len[f] };
        }
        return write_file_atomic_iov(path, iov, m, 0644, false);
}

static void chunks_free(Chunk *chunks, size_t n) {
        for (size_t k = 0; k < n; k++)
                for (size_t f = 0; f < 3; f++) {
                        free(chunks[k].owned[f]);
                        free(chunks[k].plain[f]);
                }
        free(chunks);
}

typedef struct CacheJob {
        const char *path;
        const Item *items;
        size_t n;
        const Chunk *chunks;
        size_t n_chunks;
        const RepoOptions *o;
        MdFile *md;
        int r;
} CacheJob;

static void *cache_write_thread(void *arg) {
        CacheJob *j = arg;
        j->r = cache_write(j->path, j->items, j->n, j->chunks, j->n_chunks, j->o, j->md);
        return NULL;
}

static int compress_buf(RepoCompression c, const void *data, size_t n, uint8_t **ret, size_t *ret_len) {
        /* Chunks are tens of KiB: level 3's tables sized for them (2^17
         * entries) cost more to clear than they gain over 2^13. */
        return c == REPO_COMPRESS_ZSTD ? zstd_compress_tables(data, n, 3, 13, ret, ret_len)
                                       : gzip_compress(data, n, ret, ret_len);
}

/* Where chunks end: FNV-1a over the location, then a finalizer that mixes
 * every input bit into the low bits (FNV-1a's own low bits depend only on
 * the low bits of the input). Not a security boundary, only a spread. */
static uint32_t href_hash(const char *s) {
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619u;
        h ^= h >> 16;
        h *= 0x85ebca6bu;
        h ^= h >> 13;
        h *= 0xc2b2ae35u;
        h ^= h >> 16;
        return h;
}

/* Splits the sorted items into chunks and computes each chunk's key: what
 * its fragments were made from (location, file digest, size, mtime, lengths;
 * the cache is dropped when slipway's version changes) and the compression. */
static int make_chunks(const Item *items, size_t n, RepoCompression comp, Chunk **ret, size_t *ret_n) {
        Chunk *chunks = NULL;
        size_t nc = 0, allocated = 0;
        bool open = false;
        for (size_t i = 0; i < n; i++) {
                if (!open) {
                        if (!GREEDY_REALLOC(chunks, allocated, nc + 1)) {
                                free(chunks);
                                return -ENOMEM;
                        }
                        chunks[nc++] = (Chunk) { .first = i };
                        open = true;
                }
                Chunk *k = &chunks[nc - 1];
                k->n++;
                open = (href_hash(items[i].href) & CHUNK_MASK) != 0 && k->n < CHUNK_MAX && i + 1 < n;
                if (open)
                        continue;
                _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
                if (!h) {
                        free(chunks);
                        return -ENOMEM;
                }
                uint8_t cb = (uint8_t) comp;
                hash_update(h, &cb, 1);
                for (size_t j = k->first; j < k->first + k->n; j++) {
                        const Item *it = &items[j];
                        uint64_t v[5] = { it->size, (uint64_t) it->mtime_ns, it->frag_len[0], it->frag_len[1],
                                          it->frag_len[2] };
                        hash_update(h, it->href, strlen(it->href) + 1);
                        hash_update(h, it->pkgid, 64);
                        hash_update(h, v, sizeof v);
                }
                if (hash_final(h, k->key) < 0) {
                        free(chunks);
                        return -EIO;
                }
        }
        *ret = chunks;
        *ret_n = nc;
        return 0;
}

typedef struct CompressCtx {
        const Item *items;
        Chunk *chunks;
        const size_t *pending; /* frames to compress: chunk * 3 + document */
        int *r;
        RepoCompression compression;
} CompressCtx;

static void compress_one(void *ctx, size_t j) {
        CompressCtx *cc = ctx;
        Chunk *k = &cc->chunks[cc->pending[j] / 3];
        size_t f = cc->pending[j] % 3, total = 0;
        for (size_t i = k->first; i < k->first + k->n; i++)
                total += cc->items[i].frag_len[f];
        char *buf = malloc(total ? total : 1);
        if (!buf) {
                cc->r[j] = -ENOMEM;
                return;
        }
        size_t at = 0;
        for (size_t i = k->first; i < k->first + k->n; i++) {
                memcpy(buf + at, cc->items[i].frag[f], cc->items[i].frag_len[f]);
                at += cc->items[i].frag_len[f];
        }
        k->plain[f] = buf;
        k->plain_len[f] = total;
        cc->r[j] = compress_buf(cc->compression, buf, total, &k->owned[f], &k->frame_len[f]);
        k->frame[f] = k->owned[f];
}

typedef struct DocCtx {
        const char *repodata;
        size_t n;
        const Chunk *chunks;
        size_t n_chunks;
        RepoCompression compression;
        MdFile *md;
        int r[3];
} DocCtx;

static const char *const doc_type[3] = { "primary", "filelists", "other" };
static const char *const doc_root[3] = { "metadata", "filelists", "otherdata" };
static const char *const doc_ns[3] = { "http://linux.duke.edu/metadata/common", "http://linux.duke.edu/metadata/filelists",
                                       "http://linux.duke.edu/metadata/other" };

int repo_primary_document(const char *const *fragments, size_t n, char **ret, size_t *ret_len) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"%s\" "
                      "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"%zu\">\n",
                      doc_root[0], doc_ns[0], n);
        for (size_t i = 0; i < n; i++)
                strbuf_puts(&sb, fragments[i]);
        strbuf_printf(&sb, "</%s>\n", doc_root[0]);
        if (sb.oom)
                return -ENOMEM;
        *ret = strbuf_detach(&sb, ret_len);
        return *ret ? 0 : -ENOMEM;
}

/* Writes document f: opening frame, the chunks' frames, closing frame. Its
 * name carries the digest of the compressed file; the open-checksum covers
 * the document as it decompresses (reused frames are decompressed for it). */
static int write_doc(DocCtx *dc, size_t f) {
        MdFile *ret = &dc->md[f];
        _cleanup_free_ char *head = NULL, *tail = NULL;
        _cleanup_free_ uint8_t *zhead = NULL, *ztail = NULL;
        size_t zhl, ztl;
        if (asprintf(&head, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"%s\"%s packages=\"%zu\">\n",
                     doc_root[f], doc_ns[f], f == 0 ? " xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\"" : "", dc->n) < 0) {
                head = NULL;
                return -ENOMEM;
        }
        if (asprintf(&tail, "</%s>\n", doc_root[f]) < 0) {
                tail = NULL;
                return -ENOMEM;
        }
        int r = compress_buf(dc->compression, head, strlen(head), &zhead, &zhl);
        if (r >= 0)
                r = compress_buf(dc->compression, tail, strlen(tail), &ztail, &ztl);
        if (r < 0)
                return r;

        _cleanup_(hash_freep) HashCtx *oh = hash_new(HASH_SHA256), *zh = hash_new(HASH_SHA256);
        if (!oh || !zh)
                return -ENOMEM;
        uint64_t open_size = strlen(head) + strlen(tail);
        hash_update(oh, head, strlen(head));
        /* Reused frames are decompressed into one buffer, again and again. */
        size_t cap = 0;
        for (size_t k = 0; k < dc->n_chunks; k++)
                if (!dc->chunks[k].plain[f] && !dc->chunks[k].from->plain[f])
                        cap = MAX(cap, dc->chunks[k].from->plain_len[f] + 1);
        _cleanup_free_ char *buf = cap ? malloc(cap) : NULL;
        if (cap && !buf)
                return -ENOMEM;
        for (size_t k = 0; k < dc->n_chunks; k++) {
                const Chunk *c = &dc->chunks[k];
                if (c->plain[f]) {
                        hash_update(oh, c->plain[f], c->plain_len[f]);
                        open_size += c->plain_len[f];
                } else if (c->from->plain[f]) {
                        hash_update(oh, c->from->plain[f], c->from->plain_len[f]);
                        open_size += c->from->plain_len[f];
                } else {
                        /* A frame of the cache that does not decompress to
                         * what the cache says: the cache is damaged. */
                        size_t len;
                        r = decompress_into(c->frame[f], c->frame_len[f], buf, cap, &len);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0 || len != c->from->plain_len[f])
                                return -ESTALE;
                        hash_update(oh, buf, len);
                        open_size += len;
                }
        }
        hash_update(oh, tail, strlen(tail));
        uint8_t digest[32];
        if (hash_final(oh, digest) < 0)
                return -EIO;
        hex_encode(digest, 32, ret->open_checksum);

        _cleanup_free_ struct iovec *iov = new0(struct iovec, dc->n_chunks + 2);
        if (!iov)
                return -ENOMEM;
        size_t m = 0;
        iov[m++] = (struct iovec) { zhead, zhl };
        for (size_t k = 0; k < dc->n_chunks; k++)
                iov[m++] = (struct iovec) { (void *) dc->chunks[k].frame[f], dc->chunks[k].frame_len[f] };
        iov[m++] = (struct iovec) { ztail, ztl };
        uint64_t size = 0;
        for (size_t k = 0; k < m; k++) {
                hash_update(zh, iov[k].iov_base, iov[k].iov_len);
                size += iov[k].iov_len;
        }
        if (hash_final(zh, digest) < 0)
                return -EIO;
        hex_encode(digest, 32, ret->checksum);
        ret->type = doc_type[f];
        ret->size = size;
        ret->open_size = open_size;
        if (asprintf(&ret->name, "%s-%s.xml.%s", ret->checksum, doc_type[f],
                     dc->compression == REPO_COMPRESS_ZSTD ? "zst" : "gz") < 0) {
                ret->name = NULL;
                return -ENOMEM;
        }
        _cleanup_free_ char *path = path_join(dc->repodata, ret->name);
        if (!path)
                return -ENOMEM;
        /* The name is the content's digest, and no repomd.xml names a file
         * that is not there yet: a new name is written in place (a crash
         * leaves an unreferenced file that the next run removes). A name
         * that exists may be in use, and is replaced atomically. */
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST)
                return write_file_atomic_iov(path, iov, m, 0644, true);
        if (fd < 0)
                return negative_errno();
        r = loop_writev(fd, iov, m);
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = negative_errno();
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlink(path);
        return r;
}

static void write_doc_one(void *ctx, size_t f) {
        DocCtx *dc = ctx;
        dc->r[f] = write_doc(dc, f);
}

/* DIR/RPM-GPG-KEY-<key_name>, malloc'd; NULL when out of memory. */
static char *key_file_path(const RepoOptions *o) {
        _cleanup_free_ char *kn = NULL;
        if (asprintf(&kn, "RPM-GPG-KEY-%s", o->key_name ? o->key_name : "repo") < 0)
                return NULL;
        return path_join(o->dir, kn);
}

/* What the last run wrote is what this run would write: repomd.xml names
 * the documents the cache describes, and, signed, repomd.xml.asc verifies
 * over it with this key and the public key file is this key's; unsigned,
 * there is no repomd.xml.asc. Anything else (a file edited, or copied from
 * another repository) is written again, never trusted because it exists. */
static bool outputs_current(const RepoOptions *o, const char *repodata, const char *repomd_path,
                            const Cache *cache) {
        _cleanup_free_ char *ap = path_join(repodata, "repomd.xml.asc"), *kp = key_file_path(o);
        _cleanup_free_ char *md = NULL, *asc = NULL, *pub = NULL, *want = NULL;
        size_t ml = 0, al = 0, pl = 0;

        if (!ap || !kp || read_full_file(repomd_path, &md, &ml) < 0)
                return false;
        for (int f = 0; f < 3; f++)
                if (!strstr(md, cache->files[f]))
                        return false;
        if (!o->key)
                return !path_exists(ap);
        if (read_full_file(ap, &asc, &al) < 0 || pgp_verify(o->key, asc, al, md, ml) < 0)
                return false;
        return read_full_file(kp, &pub, &pl) >= 0 && pgp_key_export_public(o->key, &want) >= 0 &&
               strlen(want) == pl && memcmp(want, pub, pl) == 0;
}

/* The chunks that cannot be reused are compressed again; their reused
 * packages' fragments come from the previous run's frames (a package whose
 * old frame fails to decompress is read again instead). */
static int build_chunks(const RepoOptions *o, Item *items, size_t n, Cache *cache, bool have_cache, Chunk **ret,
                        size_t *ret_n, RepoStats *stats) {
        Chunk *chunks = NULL;
        size_t n_chunks = 0;
        int r = make_chunks(items, n, o->compression, &chunks, &n_chunks);
        if (r < 0)
                return r;
        *ret = chunks;
        *ret_n = n_chunks;

        size_t n_frames = 3 * n_chunks;
        _cleanup_free_ size_t *pending = new0(size_t, n_frames);
        _cleanup_free_ int *rs = new0(int, n_frames);
        size_t n_pending = 0;
        if (!pending || !rs)
                return -ENOMEM;
        for (size_t k = 0; k < n_chunks; k++) {
                CacheChunk *cc = have_cache ? cache_find_chunk(cache, chunks[k].key) : NULL;
                if (cc) {
                        chunks[k].from = cc;
                        for (size_t f = 0; f < 3; f++) {
                                chunks[k].frame[f] = cc->frame[f];
                                chunks[k].frame_len[f] = cc->frame_len[f];
                        }
                        continue;
                }
                for (size_t f = 0; f < 3; f++)
                        pending[n_pending++] = 3 * k + f;
                for (size_t i = chunks[k].first; i < chunks[k].first + chunks[k].n; i++)
                        if (items[i].reused)
                                cache->chunks[items[i].ce->chunk].needed = true;
        }
        if (have_cache) {
                parallel_for(cache->n_chunks, o->jobs, cache_chunk_open_one, cache);
                for (size_t k = 0; k < n_chunks; k++) {
                        if (chunks[k].from)
                                continue;
                        for (size_t i = chunks[k].first; i < chunks[k].first + chunks[k].n; i++) {
                                Item *it = &items[i];
                                if (!it->reused)
                                        continue;
                                const CacheChunk *cc = &cache->chunks[it->ce->chunk];
                                if (cc->r < 0) {
                                        it->reused = false;
                                        stats->n_reused--;
                                        read_item(o->dir, o->revision, it);
                                        if (it->r < 0)
                                                return it->r;
                                        stats->n_read++;
                                        continue;
                                }
                                for (int f = 0; f < 3; f++)
                                        it->frag[f] = cc->plain[f] + it->ce->frag_off[f];
                        }
                }
        }
        CompressCtx cctx = { .items = items, .chunks = chunks, .pending = pending, .r = rs, .compression = o->compression };
        parallel_for(n_pending, o->jobs, compress_one, &cctx);
        for (size_t j = 0; j < n_pending; j++)
                if (rs[j] < 0)
                        return rs[j];
        stats->n_chunks = n_chunks;
        stats->n_chunks_compressed = n_pending / 3;
        return 0;
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
        Chunk *chunks = NULL;
        size_t n_chunks = 0;
        bool cache_started = false, cache_thread_running = false;
        _cleanup_strbuf_ StrBuf repomd = STRBUF_INIT;
        _cleanup_free_ char *asc = NULL, *pub = NULL, *asc_path = NULL;
        int r;

        if (!repodata || !cache_path || !repomd_path)
                return -ENOMEM;
        {
                /* Names first, then the items in one allocation. */
                char **names = NULL;
                size_t nn = 0;
                r = scan(o->dir, "", &names, &nn, &allocated);
                items = r >= 0 ? new0(Item, nn) : NULL;
                if (r >= 0 && !items)
                        r = -ENOMEM;
                for (size_t i = 0; i < nn; i++) {
                        if (items) {
                                Item *it = &items[n++];
                                it->href = names[i];
                                it->base = strrchr(it->href, '/') ? strrchr(it->href, '/') + 1 : it->href;
                        } else
                                free(names[i]);
                }
                free(names);
        }
        if (r < 0) {
                diag_error(d, NULL, "cannot read the repository directory '%s': %s", o->dir, strerror(-r));
                r = -EINVAL;
                goto finish;
        }
        if (n > 0)
                qsort(items, n, sizeof(Item), item_cmp);
        {
                _cleanup_close_ int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                StatCtx sc = { .dirfd = dfd, .items = items };
                if (dfd >= 0)
                        parallel_for(n, o->jobs, stat_one, &sc);
                /* Files gone since the scan are not in the repository. */
                size_t m = 0;
                for (size_t i = 0; i < n; i++) {
                        if (dfd >= 0 && items[i].r >= 0)
                                items[m++] = items[i];
                        else
                                free(items[i].href);
                }
                n = m;
        }
        /* A project's repository holds what the project built, nothing else:
         * a file of another name is refused (or pruned) before it is read. */
        bool bad = false;
        if (o->only_allowed) {
                size_t m = 0;
                for (size_t i = 0; i < n; i++) {
                        if (allowed_find(o, items[i].href)) {
                                items[m++] = items[i];
                                continue;
                        }
                        bad |= foreign(o, d, items[i].href, "not built by this project (not in its build record)",
                                       &stats);
                        free(items[i].href);
                }
                n = m;
        }
        /* What the last run read, if the metadata it wrote is still there
         * (and, should the cache prove damaged, once more without it). */
        bool use_cache = true, have_cache;
again:
        have_cache = use_cache && path_exists(repomd_path) && cache_load(cache_path, &cache) >= 0;
        /* Its entries hold <time file> clamped to the old revision. */
        if (have_cache && cache.revision != o->revision) {
                cache_release(&cache);
                have_cache = false;
        }
        size_t cursor = 0;
        for (size_t i = 0; i < n && have_cache && cache.n > 0; i++)
                if (cache_take(&cache, &cursor, &items[i])) {
                        items[i].reused = true;
                        stats.n_reused++;
                }
        ReadCtx rc = { .dir = o->dir, .revision = o->revision, .items = items };
        parallel_for(n, o->jobs, read_one, &rc);
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
        /* ... and holds it as it was built. */
        if (o->only_allowed) {
                size_t m = 0;
                for (size_t i = 0; i < n; i++) {
                        const RepoAllowed *a = allowed_find(o, items[i].href);
                        /* (one that cannot be read is reported above) */
                        if (!items[i].pkgid || (a && strncmp(items[i].pkgid, a->sha256, 64) == 0)) {
                                items[m++] = items[i];
                                continue;
                        }
                        bad |= foreign(o, d, items[i].href,
                                       "changed since the project built it (its SHA-256 is not the one recorded)",
                                       &stats);
                        stats.n_read -= !items[i].reused;
                        stats.n_reused -= items[i].reused;
                        free(items[i].href);
                        if (items[i].pkg) {
                                repo_package_release(items[i].pkg);
                                free(items[i].pkg);
                        }
                }
                n = m;
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
        if (outputs)
                outputs = outputs_current(o, repodata, repomd_path, &cache);
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

        /* The three documents, from chunks compressed now or taken from the cache. */
        r = build_chunks(o, items, n, &cache, have_cache, &chunks, &n_chunks, &stats);
        if (r < 0)
                goto finish;
        {
                DocCtx dc = { .repodata = repodata, .n = n, .chunks = chunks, .n_chunks = n_chunks,
                              .compression = o->compression, .md = md };
                parallel_for(3, o->jobs, write_doc_one, &dc);
                for (size_t f = 0; f < 3; f++)
                        if (dc.r[f] < 0 && r >= 0)
                                r = dc.r[f];
                if (r == -ESTALE && use_cache) {
                        /* Forget the cache: every package is read. */
                        for (size_t k = 0; k < 3; k++) {
                                free(md[k].name);
                                md[k].name = NULL;
                        }
                        chunks_free(chunks, n_chunks);
                        chunks = NULL;
                        n_chunks = 0;
                        cache_release(&cache);
                        for (size_t i = 0; i < n; i++) {
                                Item *it = &items[i];
                                if (it->reused)
                                        *it = (Item) { .href = it->href, .base = it->base, .size = it->size,
                                                       .ino = it->ino, .mtime_ns = it->mtime_ns };
                        }
                        stats = (RepoStats) {};
                        use_cache = false;
                        goto again;
                }
                if (r < 0)
                        goto finish;
        }
        /* The cache for the next run is written while repomd.xml is made
         * (it is removed again should that fail: it describes these
         * documents, which only a repomd.xml makes current). */
        CacheJob cj = { .path = cache_path, .items = items, .n = n, .chunks = chunks, .n_chunks = n_chunks, .o = o,
                        .md = md };
        pthread_t cache_thread;
        cache_started = true;
        cache_thread_running = pthread_create(&cache_thread, NULL, cache_write_thread, &cj) == 0;
        if (!cache_thread_running)
                (void) cache_write_thread(&cj);

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
        stats.changed = true;
        *ret = stats;
        r = 0;

finish:
        if (cache_thread_running)
                pthread_join(cache_thread, NULL);
        if (cache_started && r < 0)
                (void) unlink(cache_path);
        for (size_t k = 0; k < 3; k++)
                free(md[k].name);
        for (size_t i = 0; i < n; i++) {
                free(items[i].href);
                if (items[i].pkg) {
                        repo_package_release(items[i].pkg);
                        free(items[i].pkg);
                }
        }
        free(items);
        chunks_free(chunks, n_chunks);
        cache_release(&cache);
        return r;
}
