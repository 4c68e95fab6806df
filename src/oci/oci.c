/* SPDX-License-Identifier: MIT */

/* OCI image layout and oci-archive writer (OCI image-spec v1.0/v1.1:
 * image-layout.md, image-index.md, manifest.md, config.md, descriptor.md,
 * annotations.md). One layer, one config, one manifest, one tag.
 *
 * Everything is built in memory first (the layer is in memory already), so
 * the bytes depend only on the inputs: JSON is written compact with sorted
 * keys, gzip without name or mtime, tar entries in a fixed order with fixed
 * owner, modes and mtime. Then the layout is written into a temporary
 * directory and the archive into a temporary file beside their final paths,
 * and only when both are complete are they renamed into place. */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/macro.h"
#include "oci/oci.h"

/* media-types.md */
#define MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_TYPE_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

/* annotations.md, "Pre-Defined Annotation Keys" */
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* One stable serialisation for every JSON document: the digests of config
 * and manifest are part of what the index and manifest say, so any variance
 * in key order or whitespace would change the image's identity. */
#define JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

/* jansson.h provides json_decrefp() for the cleanup attribute. */
#define _cleanup_json_ _cleanup_(json_decrefp)

static void archive_write_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

static void archive_entry_freep(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}

/* A blob of the layout: its bytes and their sha256 (descriptor.md, "Digests"). */
typedef struct Blob {
        uint8_t *data;
        size_t size;
        size_t huge_cap; /* data is from huge_alloc(huge_cap); 0: malloc */
        char hex[2 * 32 + 1];
        int fd;          /* > 0: the bytes are the file's, not data (the blob owns it) */
} Blob;

static void blob_release(Blob *b) {
        if (b->huge_cap)
                huge_free(b->data, b->huge_cap);
        else
                free(b->data);
        if (b->fd > 0)
                close(b->fd);
        *b = (Blob) {};
}

#define PIECE ((size_t) 1 << 20)

/* Hands the first len bytes of fd to fn in pieces of PIECE bytes. */
static int fd_foreach(int fd, uint64_t len, int (*fn)(void *userdata, const void *data, size_t n), void *userdata) {
        _cleanup_free_ uint8_t *buf = malloc(PIECE);
        if (!buf)
                return -ENOMEM;
        for (uint64_t off = 0; off < len;) {
                ssize_t k = pread(fd, buf, (size_t) MIN((uint64_t) PIECE, len - off), (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return -EIO;
                int r = fn(userdata, buf, (size_t) k);
                if (r < 0)
                        return r;
                off += (uint64_t) k;
        }
        return 0;
}

static int hash_piece(void *userdata, const void *data, size_t n) {
        hash_update(userdata, data, n);
        return 0;
}

static int digest_fd_hex(int fd, uint64_t len, char hex[static 2 * 32 + 1]) {
        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
        uint8_t md[32];
        if (!h)
                return -ENOMEM;
        int r = fd_foreach(fd, len, hash_piece, h);
        if (r < 0)
                return r;
        r = hash_final(h, md);
        if (r < 0)
                return r;
        hex_encode(md, sizeof md, hex);
        return 0;
}

static int compress_piece(void *userdata, const void *data, size_t n) {
        return chunked_writer_write(userdata, data, n);
}

static int digest_hex(const void *data, size_t n, char hex[static 2 * 32 + 1]) {
        uint8_t md[32];
        int r = hash_buffer(HASH_SHA256, data, n, md);
        if (r < 0)
                return r;
        hex_encode(md, sizeof md, hex);
        return 0;
}

/* jansson returns NULL both for invalid UTF-8 and when out of memory;
 * json_string_nocheck() (no UTF-8 check) tells the two apart. */
static int json_str(const char *s, json_t **ret) {
        if (!s)
                return -EINVAL;
        json_t *j = json_string(s);
        if (!j) {
                j = json_string_nocheck(s);
                if (!j)
                        return -ENOMEM;
                json_decref(j);
                return -EINVAL;
        }
        *ret = j;
        return 0;
}

static int json_set(json_t *o, const char *key, json_t *v) {
        /* json_object_set_new() consumes v even when it fails. */
        return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static int json_set_str(json_t *o, const char *key, const char *s) {
        json_t *v;
        int r = json_str(s, &v);
        if (r < 0)
                return r;
        return json_set(o, key, v);
}

static int json_set_int(json_t *o, const char *key, json_int_t i) {
        json_t *v = json_integer(i);
        if (!v)
                return -ENOMEM;
        return json_set(o, key, v);
}

/* A NULL-terminated string vector as a JSON array. With require_eq, each
 * entry must be NAME=VALUE (config.md, "Env"). */
static int json_strv(const char *const *v, bool require_eq, json_t **ret) {
        _cleanup_json_ json_t *a = json_array();
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; v[i]; i++) {
                json_t *s;
                if (require_eq && (!strchr(v[i], '=') || v[i][0] == '='))
                        return -EINVAL;
                int r = json_str(v[i], &s);
                if (r < 0)
                        return r;
                if (json_array_append_new(a, s) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* A descriptor (descriptor.md, "Properties"): media type, digest, size. */
static int json_descriptor(const char *media_type, const Blob *b, json_t **ret) {
        _cleanup_json_ json_t *d = json_object();
        char digest[7 + sizeof b->hex];
        int r;

        if (!d)
                return -ENOMEM;
        snprintf(digest, sizeof digest, "sha256:%s", b->hex);
        if ((r = json_set_str(d, "mediaType", media_type)) < 0 || (r = json_set_str(d, "digest", digest)) < 0 ||
            (r = json_set_int(d, "size", (json_int_t) b->size)) < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

/* Serialises j into a blob and digests it. */
static int json_blob(json_t *j, Blob *ret) {
        char *s = json_dumps(j, JSON_FLAGS);
        if (!s)
                return -ENOMEM;
        Blob b = { .data = (uint8_t *) s, .size = strlen(s) };
        int r = digest_hex(b.data, b.size, b.hex);
        if (r < 0) {
                blob_release(&b);
                return r;
        }
        *ret = b;
        return 0;
}

/* The reference grammar of annotations.md ("org.opencontainers.image.ref.name"):
 *   ref       ::= component ("/" component)*
 *   component ::= alphanum (separator alphanum)*
 *   separator ::= [-._:@+] | "--"
 * skopeo's oci: transport checks the tag against the same grammar, so a tag
 * outside it would give an image nobody can address. */
bool oci_ref_name_valid(const char *s) {
        if (!s || !*s)
                return false;
        for (;;) {
                /* component: alphanum runs joined by single separators */
                for (;;) {
                        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
                        if (n == 0)
                                return false;
                        s += n;
                        if (s[0] == '-' && s[1] == '-')
                                s += 2;
                        else if (*s && strchr("-._:@+", *s))
                                s++;
                        else
                                break;
                }
                if (*s == 0)
                        return true;
                if (*s != '/')
                        return false;
                s++;
        }
}

/* RFC 3339 section 5.6 in UTC, as config.md asks for "created". Years after
 * 9999 cannot be written in that grammar; SOURCE_DATE_EPOCH is never
 * negative. */
static int format_rfc3339(int64_t t, char buf[static 21]) {
        if (t < 0 || t > 253402300799)
                return -ERANGE;
        time_t tt = (time_t) t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm))
                return -ERANGE;
        if (strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
                return -ERANGE;
        return 0;
}

/* The image configuration (config.md, "Properties"). Only the execution
 * parameters the caller gave appear under "config". */
static int build_config(const OciConfig *c, const char *created, const char *diff_id, Blob *ret) {
        _cleanup_json_ json_t *root = json_object(), *exec = json_object(), *rootfs = json_object(),
                              *history = json_array(), *h = json_object(), *diff_ids = json_array();
        json_t *v;
        int r;

        if (!root || !exec || !rootfs || !history || !h || !diff_ids)
                return -ENOMEM;

        if (c->entrypoint) {
                if ((r = json_strv(c->entrypoint, false, &v)) < 0 || (r = json_set(exec, "Entrypoint", v)) < 0)
                        return r;
        }
        if (c->cmd) {
                if ((r = json_strv(c->cmd, false, &v)) < 0 || (r = json_set(exec, "Cmd", v)) < 0)
                        return r;
        }
        if (c->env) {
                if ((r = json_strv(c->env, true, &v)) < 0 || (r = json_set(exec, "Env", v)) < 0)
                        return r;
        }
        if (c->n_labels > 0) {
                /* Labels follow the annotation rules (annotations.md, "Rules"):
                 * string keys and values, keys unique. */
                _cleanup_json_ json_t *labels = json_object();
                if (!labels)
                        return -ENOMEM;
                if (!c->label_keys || !c->label_values)
                        return -EINVAL;
                for (size_t i = 0; i < c->n_labels; i++) {
                        const char *k = c->label_keys[i];
                        json_t *probe;
                        if ((r = json_str(k, &probe)) < 0)
                                return r;
                        json_decref(probe);
                        if (json_object_get(labels, k))
                                return -EINVAL;
                        if ((r = json_set_str(labels, k, c->label_values[i])) < 0)
                                return r;
                }
                if ((r = json_set(exec, "Labels", TAKE_PTR(labels))) < 0)
                        return r;
        }
        if (c->user && (r = json_set_str(exec, "User", c->user)) < 0)
                return r;
        if (c->workdir && (r = json_set_str(exec, "WorkingDir", c->workdir)) < 0)
                return r;

        if ((r = json_str(diff_id, &v)) < 0)
                return r;
        if (json_array_append_new(diff_ids, v) < 0)
                return -ENOMEM;
        if ((r = json_set_str(rootfs, "type", "layers")) < 0 || (r = json_set(rootfs, "diff_ids", TAKE_PTR(diff_ids))) < 0)
                return r;

        if ((r = json_set_str(h, "created", created)) < 0 || (r = json_set_str(h, "created_by", "slipway")) < 0)
                return r;
        if (json_array_append_new(history, TAKE_PTR(h)) < 0)
                return -ENOMEM;

        if ((r = json_set_str(root, "created", created)) < 0 ||
            (r = json_set_str(root, "architecture", c->architecture)) < 0 ||
            (r = json_set_str(root, "os", "linux")) < 0 || (r = json_set(root, "rootfs", TAKE_PTR(rootfs))) < 0 ||
            (r = json_set(root, "history", TAKE_PTR(history))) < 0)
                return r;
        if (json_object_size(exec) > 0 && (r = json_set(root, "config", TAKE_PTR(exec))) < 0)
                return r;

        return json_blob(root, ret);
}

/* The image manifest (manifest.md, "Image Manifest Property Descriptions"). */
static int build_manifest(const Blob *config, const Blob *layer, Blob *ret) {
        _cleanup_json_ json_t *root = json_object(), *layers = json_array();
        json_t *d;
        int r;

        if (!root || !layers)
                return -ENOMEM;
        if ((r = json_descriptor(MEDIA_TYPE_LAYER_GZIP, layer, &d)) < 0)
                return r;
        if (json_array_append_new(layers, d) < 0)
                return -ENOMEM;
        if ((r = json_descriptor(MEDIA_TYPE_CONFIG, config, &d)) < 0 || (r = json_set(root, "config", d)) < 0)
                return r;
        if ((r = json_set_int(root, "schemaVersion", 2)) < 0 ||
            (r = json_set_str(root, "mediaType", MEDIA_TYPE_MANIFEST)) < 0 ||
            (r = json_set(root, "layers", TAKE_PTR(layers))) < 0)
                return r;
        return json_blob(root, ret);
}

/* index.json (image-layout.md, "index.json file"; image-index.md): one
 * manifest descriptor, named by the ref.name annotation, with its platform so
 * that tools choosing by platform need not fetch the config. */
static int build_index(const OciConfig *c, const Blob *manifest, Blob *ret) {
        _cleanup_json_ json_t *root = json_object(), *manifests = json_array(), *platform = json_object(),
                              *annotations = json_object(), *d = NULL;
        int r;

        if (!root || !manifests || !platform || !annotations)
                return -ENOMEM;
        if ((r = json_descriptor(MEDIA_TYPE_MANIFEST, manifest, &d)) < 0)
                return r;
        if ((r = json_set_str(platform, "architecture", c->architecture)) < 0 ||
            (r = json_set_str(platform, "os", "linux")) < 0 || (r = json_set(d, "platform", TAKE_PTR(platform))) < 0)
                return r;
        if ((r = json_set_str(annotations, ANNOTATION_REF_NAME, c->tag)) < 0 ||
            (r = json_set(d, "annotations", TAKE_PTR(annotations))) < 0)
                return r;
        if (json_array_append_new(manifests, TAKE_PTR(d)) < 0)
                return -ENOMEM;
        if ((r = json_set_int(root, "schemaVersion", 2)) < 0 || (r = json_set_str(root, "mediaType", MEDIA_TYPE_INDEX)) < 0 ||
            (r = json_set(root, "manifests", TAKE_PTR(manifests))) < 0)
                return r;
        return json_blob(root, ret);
}

/* One entry of the layout, relative to its root. data NULL: a directory. */
typedef struct LayoutEntry {
        char path[sizeof "blobs/sha256/" + 2 * 32];
        const void *data;
        size_t size;
        int fd; /* > 0: a file of size bytes from the start of fd, data NULL */
} LayoutEntry;

static bool entry_is_file(const LayoutEntry *e) {
        return e->data || e->fd > 0;
}

static int write_piece(void *userdata, const void *data, size_t n) {
        return loop_write(*(const int *) userdata, data, n);
}

static int archive_piece(void *userdata, const void *data, size_t n) {
        la_ssize_t w = archive_write_data(userdata, data, n);
        return w == (la_ssize_t) n ? 0 : -EIO;
}

#define LAYOUT_MAX 7

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const LayoutEntry *) a)->path, ((const LayoutEntry *) b)->path);
}

/* image-layout.md, "Content": oci-layout, index.json, blobs/<alg>/<hex>. The
 * entries come out sorted by path, so parents precede children and the
 * archive's order is fixed. */
static size_t layout_entries(const Blob *blobs, size_t n_blobs, const Blob *index, const char *oci_layout,
                             LayoutEntry ret[static LAYOUT_MAX]) {
        size_t n = 0;
        ret[n++] = (LayoutEntry) { .path = "blobs" };
        ret[n++] = (LayoutEntry) { .path = "blobs/sha256" };
        for (size_t i = 0; i < n_blobs; i++) {
                ret[n] = (LayoutEntry) { .data = blobs[i].data, .size = blobs[i].size, .fd = blobs[i].fd };
                snprintf(ret[n].path, sizeof ret[n].path, "blobs/sha256/%s", blobs[i].hex);
                n++;
        }
        ret[n++] = (LayoutEntry) { .path = "index.json", .data = index->data, .size = index->size };
        ret[n++] = (LayoutEntry) { .path = "oci-layout", .data = oci_layout, .size = strlen(oci_layout) };
        assert(n <= LAYOUT_MAX);
        qsort(ret, n, sizeof ret[0], entry_cmp);
        /* Two equal blobs would be one file; that cannot happen for a config,
         * a manifest naming it, and a gzip stream, but keep the list a set. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (k == 0 || strcmp(ret[k - 1].path, ret[i].path) != 0)
                        ret[k++] = ret[i];
        return k;
}

/* Fills the (empty) directory tmp with the layout and syncs it, so that the
 * rename that publishes it publishes complete files. Modes are set
 * explicitly, the same as in the archive, whatever the umask. */
static int layout_write_dir(const char *tmp, const LayoutEntry *e, size_t n) {
        _cleanup_close_ int root = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return negative_errno();
        if (fchmod(root, 0755) < 0)
                return negative_errno();

        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = -EBADF;
                if (!entry_is_file(&e[i])) {
                        if (mkdirat(root, e[i].path, 0755) < 0)
                                return negative_errno();
                        fd = openat(root, e[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (fd < 0 || fchmod(fd, 0755) < 0)
                                return negative_errno();
                        continue;
                }
                fd = openat(root, e[i].path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0 || fchmod(fd, 0644) < 0)
                        return negative_errno();
                int r = e[i].data ? loop_write(fd, e[i].data, e[i].size) : fd_foreach(e[i].fd, e[i].size, write_piece, &fd);
                if (r < 0)
                        return r;
                if (fsync(fd) < 0)
                        return negative_errno();
        }

        /* The directories last, children before parents. */
        for (size_t i = n; i > 0; i--) {
                if (entry_is_file(&e[i - 1]))
                        continue;
                _cleanup_close_ int fd = openat(root, e[i - 1].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0 || fsync(fd) < 0)
                        return negative_errno();
        }
        if (fsync(root) < 0)
                return negative_errno();
        return 0;
}

static int archive_error(struct archive *a) {
        int e = archive_errno(a);
        return e > 0 ? -e : -EIO;
}

/* The oci-archive: a tar of the layout's contents, as skopeo's oci-archive
 * transport untars into a directory and reads as an image layout. Entry names
 * are relative without "./" (what skopeo itself writes). Restricted pax is
 * ustar unless an entry needs more (a layer over 8 GiB), and then only adds
 * the fields needed; nothing that varies (atime, ctime, user names) is set. */
static int layout_write_archive(int fd, const LayoutEntry *e, size_t n, int64_t mtime) {
        _cleanup_(archive_write_freep) struct archive *a = archive_write_new();
        if (!a)
                return -ENOMEM;
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK)
                return archive_error(a);

        for (size_t i = 0; i < n; i++) {
                _cleanup_(archive_entry_freep) struct archive_entry *ae = archive_entry_new();
                if (!ae)
                        return -ENOMEM;
                archive_entry_set_pathname(ae, e[i].path);
                archive_entry_set_filetype(ae, entry_is_file(&e[i]) ? AE_IFREG : AE_IFDIR);
                archive_entry_set_perm(ae, entry_is_file(&e[i]) ? 0644 : 0755);
                archive_entry_set_uid(ae, 0);
                archive_entry_set_gid(ae, 0);
                archive_entry_set_mtime(ae, (time_t) mtime, 0);
                archive_entry_set_size(ae, entry_is_file(&e[i]) ? (la_int64_t) e[i].size : 0);
                if (archive_write_header(a, ae) != ARCHIVE_OK)
                        return archive_error(a);
                if (e[i].fd > 0) {
                        int r = fd_foreach(e[i].fd, e[i].size, archive_piece, a);
                        if (r < 0)
                                return r == -EIO ? archive_error(a) : r;
                }
                /* archive_write_data() takes at most SSIZE_MAX at once. */
                for (size_t off = 0; e[i].data && off < e[i].size;) {
                        size_t chunk = MIN(e[i].size - off, (size_t) 1 << 30);
                        la_ssize_t w = archive_write_data(a, (const uint8_t *) e[i].data + off, chunk);
                        if (w <= 0)
                                return w < 0 ? archive_error(a) : -EIO;
                        off += (size_t) w;
                }
        }
        if (archive_write_close(a) != ARCHIVE_OK)
                return archive_error(a);
        return 0;
}

/* The state of putting the new layout directory in place, so that a later
 * failure (of the archive) can put the previous one back. */
typedef struct DirInstall {
        char *tmp;      /* the new layout; after an exchange, the previous one */
        char *old;      /* where rename-aside moved the previous directory */
        bool exchanged; /* renameat2(RENAME_EXCHANGE) swapped tmp and path */
        bool installed;
} DirInstall;

/* Where the previous directory is while the new one is installed. */
static const char *dir_install_old(const DirInstall *d) {
        return d->exchanged ? d->tmp : d->old;
}

/* Refuses to replace anything but an image layout or an empty directory:
 * a mistyped output path must not remove someone's files. */
static int check_replaceable(const char *path, bool *ret_exists) {
        struct stat st;
        if (lstat(path, &st) < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret_exists = false;
                return 0;
        }
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;

        _cleanup_free_ char *marker = path_join(path, "oci-layout");
        if (!marker)
                return -ENOMEM;
        if (!path_exists(marker)) {
                _cleanup_(closedirp) DIR *d = opendir(path);
                if (!d)
                        return negative_errno();
                for (struct dirent *de; (errno = 0, de = readdir(d));)
                        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                return -ENOTEMPTY;
                if (errno != 0)
                        return negative_errno();
        }
        *ret_exists = true;
        return 0;
}

/* Puts d->tmp in place at path. With RENAME_EXCHANGE (Linux 3.15) path never
 * disappears; file systems without it get rename-aside-then-rename, which
 * leaves path missing for a moment but never half-written. */
static int dir_install(DirInstall *d, const char *path, bool exists) {
        if (!exists) {
                if (rename(d->tmp, path) < 0)
                        return negative_errno();
                d->installed = true;
                return 0;
        }

        if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
                d->exchanged = d->installed = true;
                return 0;
        }
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                return negative_errno();

        _cleanup_free_ char *old = NULL;
        int r = tmpdir_beside(path, "old", &old);
        if (r < 0)
                return r;
        /* A directory renamed over an empty one replaces it. */
        if (rename(path, old) < 0) {
                r = negative_errno();
                (void) rmdir(old);
                return r;
        }
        if (rename(d->tmp, path) < 0) {
                r = negative_errno();
                (void) rename(old, path);
                return r;
        }
        d->old = TAKE_PTR(old);
        d->installed = true;
        return 0;
}

/* Puts the previous directory back after a later failure, leaving the new
 * layout at d->tmp for removal. If that fails, d stays installed, so that
 * nothing is removed: the previous tree then survives under its temporary
 * name rather than not at all. */
static void dir_undo(DirInstall *d, const char *path) {
        if (!d->installed)
                return;
        if (d->exchanged) {
                if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, path, RENAME_EXCHANGE) < 0)
                        return;
        } else {
                if (rename(path, d->tmp) < 0)
                        return;
                if (d->old && rename(d->old, path) < 0) {
                        /* The previous tree stays at d->old; tmp is the new one. */
                        d->installed = false;
                        free(d->old);
                        d->old = NULL;
                        return;
                }
        }
        d->installed = false;
}

static int oci_write_impl(const char *dir, const char *archive, const OciConfig *c, const void *layer_tar, int layer_fd,
                          uint64_t layer_len) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *gz = NULL;
        _cleanup_free_ char *archive_tmp = NULL;
        _cleanup_close_ int archive_fd = -EBADF;
        Blob blobs[3] = {}, index = {};
        DirInstall inst = {};
        LayoutEntry entries[LAYOUT_MAX];
        char created[21], diff_id[7 + 2 * 32 + 1];
        bool exists = false;
        size_t gz_len = 0, n;
        int r;

        if (!dir && !archive)
                return -EINVAL;
        if (!c || !c->architecture || !c->architecture[0] || !oci_ref_name_valid(c->tag) || (!layer_tar && layer_fd < 0 && layer_len > 0))
                return -EINVAL;
        r = format_rfc3339(c->created, created);
        if (r < 0)
                return r;

        if (dir) {
                /* "out/" must give its temporary directory beside it, not inside it. */
                size_t l = strlen(dir);
                while (l > 1 && dir[l - 1] == '/')
                        l--;
                if (l == 0 || (l == 1 && dir[0] == '/'))
                        return -EINVAL;
                path = strndup(dir, l);
                if (!path)
                        return -ENOMEM;
                r = check_replaceable(path, &exists);
                if (r < 0)
                        return r;
        }

        /* config.md, "Layer DiffID": the digest of the uncompressed tar. */
        memcpy(diff_id, "sha256:", 7);
        if (layer_fd >= 0) {
                /* From a file: read in pieces, compressed into a private
                 * temporary file beside the outputs, never whole in memory. */
                _cleanup_free_ char *where = path_dirname(archive ? archive : path);
                if (!where)
                        return -ENOMEM;
                r = digest_fd_hex(layer_fd, layer_len, diff_id + 7);
                if (r < 0)
                        return r;
                int gz_fd = tmpfile_anonymous(where);
                if (gz_fd < 0)
                        return gz_fd;
                blobs[0].fd = gz_fd;
                ChunkedWriter *w = NULL;
                uint64_t written = 0;
                r = chunked_writer_new(gz_fd, true, 6, COMPRESS_CHUNK, c->jobs, &w);
                if (r >= 0) {
                        r = fd_foreach(layer_fd, layer_len, compress_piece, w);
                        int k = chunked_writer_finish(w, &written);
                        if (r >= 0)
                                r = k;
                }
                blobs[0].size = (size_t) written;
                if (r >= 0)
                        r = digest_fd_hex(gz_fd, written, blobs[0].hex);
                if (r < 0)
                        goto finish;
        } else {
                r = digest_hex(layer_tar, (size_t) layer_len, diff_id + 7);
                if (r < 0)
                        return r;
                size_t gz_cap = 0;
                r = gzip_compress_chunked(layer_tar, (size_t) layer_len, COMPRESS_CHUNK, c->jobs, &gz, &gz_len, &gz_cap);
                if (r < 0)
                        return r;
                blobs[0] = (Blob) { .data = TAKE_PTR(gz), .size = gz_len, .huge_cap = gz_cap };
                r = digest_hex(blobs[0].data, blobs[0].size, blobs[0].hex);
                if (r < 0)
                        goto finish;
        }
        r = build_config(c, created, diff_id, &blobs[1]);
        if (r < 0)
                goto finish;
        r = build_manifest(&blobs[1], &blobs[0], &blobs[2]);
        if (r < 0)
                goto finish;
        r = build_index(c, &blobs[2], &index);
        if (r < 0)
                goto finish;
        /* image-layout.md, "oci-layout file" */
        n = layout_entries(blobs, ELEMENTSOF(blobs), &index, "{\"imageLayoutVersion\":\"1.0.0\"}", entries);

        /* Both outputs complete beside their final paths before either is
         * renamed, so a failure of one cannot leave the other replaced. */
        if (path) {
                r = tmpdir_beside(path, "tmp", &inst.tmp);
                if (r < 0)
                        goto finish;
                r = layout_write_dir(inst.tmp, entries, n);
                if (r < 0)
                        goto finish;
        }
        if (archive) {
                archive_fd = tmpfile_open(archive, &archive_tmp);
                if (archive_fd < 0) {
                        r = archive_fd;
                        goto finish;
                }
                r = layout_write_archive(archive_fd, entries, n, c->created);
                if (r < 0) {
                        (void) unlink(archive_tmp);
                        goto finish;
                }
        }

        if (path) {
                r = dir_install(&inst, path, exists);
                if (r < 0) {
                        if (archive_tmp)
                                (void) unlink(archive_tmp);
                        goto finish;
                }
        }
        if (archive) {
                r = tmpfile_commit(0, archive_fd, archive_tmp, archive, 0644);
                if (r < 0) {
                        dir_undo(&inst, path);
                        goto finish;
                }
        }
        r = 0;

finish:
        /* On success the previous directory goes; on failure the new one
         * (at tmp again after an undo). Neither removal changes the result:
         * the outputs are already what r says. */
        if (r >= 0 && inst.installed && dir_install_old(&inst))
                (void) rm_rf(dir_install_old(&inst));
        else if (r < 0 && inst.tmp && !inst.installed)
                (void) rm_rf(inst.tmp);
        free(inst.tmp);
        free(inst.old);
        for (size_t i = 0; i < ELEMENTSOF(blobs); i++)
                blob_release(&blobs[i]);
        blob_release(&index);
        return r;
}

int oci_write(const char *dir, const char *archive, const OciConfig *c, const void *layer_tar, size_t layer_len) {
        return oci_write_impl(dir, archive, c, layer_tar, -EBADF, layer_len);
}

int oci_write_fd(const char *dir, const char *archive, const OciConfig *c, int layer_fd, uint64_t layer_len) {
        if (layer_fd < 0)
                return -EINVAL;
        return oci_write_impl(dir, archive, c, NULL, layer_fd, layer_len);
}
