/* SPDX-License-Identifier: MIT */

/* A tar file or an OCI image read into a tree (load.h), for `slipway
 * customize` of container images and rootfs tarballs: each entry with its
 * type, mode, owner, mtime, xattrs, device number and link target, hard links
 * as link groups; file contents spooled once into a private file beside the
 * run (slices of one blob). An OCI image (a layout directory, or an
 * oci-archive, unpacked first) is its first manifest's layers applied in
 * order, with the OCI whiteouts (image-spec layer.md: ".wh.NAME" removes NAME,
 * ".wh..wh..opq" empties its directory of what lower layers put there).
 *
 * Untrusted input: names are normalised within the tree (".." refused),
 * entries and JSON documents are bounded, hard links must name a regular
 * file read before. */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/run.h"
#include "inspect/load.h"

#define ARCHIVE_MAX_ENTRIES ((size_t) 8 << 20)
#define OCI_JSON_MAX ((size_t) 4 << 20)
#define OCI_MAX_LAYERS 256

typedef struct ArchiveLoad {
        Tree *t;
        TreeBlob *spool; /* the contents of every file, appended */
        int fd;
        uint64_t used;
        size_t n_entries;
        Diagnostics *d;
        const char *what; /* for messages */
} ArchiveLoad;

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

/* Copies the entry's data to the spool; *ret_off is where it starts. */
static int spool_data(ArchiveLoad *x, struct archive *a, uint64_t *ret_off, uint64_t *ret_size) {
        uint64_t start = x->used;
        for (;;) {
                const void *buf;
                size_t n;
                la_int64_t off;
                int k = archive_read_data_block(a, &buf, &n, &off);
                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN)
                        return -EBADMSG;
                if (off < 0 || (uint64_t) off < x->used - start)
                        return -EBADMSG;
                /* A sparse entry: zeros up to its next block. */
                uint64_t at = start + (uint64_t) off;
                if (pwrite(x->fd, buf, n, (off_t) at) != (ssize_t) n)
                        return -errno ? -errno : -EIO;
                x->used = at + n;
        }
        *ret_off = start;
        *ret_size = x->used - start;
        return 0;
}

static bool is_whiteout(const char *base) {
        return strncmp(base, ".wh.", 4) == 0;
}

/* Removes what a whiteout names (layer.md "Whiteouts"). */
static int whiteout(ArchiveLoad *x, const char *path) {
        const char *slash = strrchr(path, '/');
        const char *base = slash + 1;
        _cleanup_free_ char *dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        if (strcmp(base, ".wh..wh..opq") == 0) {
                _cleanup_free_ TreeNode **nodes = NULL;
                size_t n;
                int r = tree_list(x->t, &nodes, &n);
                if (r < 0)
                        return r;
                size_t l = strlen(dir);
                _cleanup_free_ char **gone = new0(char *, n + 1);
                size_t m = 0;
                if (!gone)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        const char *p = nodes[i]->path;
                        /* The directory's children only (tree_remove takes what is below). */
                        if ((l == 0 ? p[0] == '/' && p[1] : strncmp(p, dir, l) == 0 && p[l] == '/') &&
                            !strchr(p + l + 1, '/'))
                                gone[m++] = nodes[i]->path;
                }
                for (size_t i = 0; i < m; i++) {
                        _cleanup_free_ char *p = strdup(gone[i]);
                        if (!p)
                                return -ENOMEM;
                        if ((r = tree_remove(x->t, p)) < 0 && r != -ENOENT)
                                return r;
                }
                return 0;
        }
        _cleanup_free_ char *victim = NULL;
        if (asprintf(&victim, "%s/%s", dir, base + 4) < 0)
                return -ENOMEM;
        int r = tree_remove(x->t, victim);
        return r == -ENOENT ? 0 : r;
}

/* Every entry of the archive a into x->t; oci: a layer (whiteouts apply). */
static int load_entries(ArchiveLoad *x, struct archive *a, bool oci) {
        struct archive_entry *e;
        int k, r = 0;
        while ((k = archive_read_next_header(a, &e)) == ARCHIVE_OK || k == ARCHIVE_WARN) {
                const char *name = archive_entry_pathname(e);
                _cleanup_free_ char *path = NULL;
                if (!name || tree_path_normalize(name, &path) < 0) {
                        diag_error(x->d, NULL, "%s: the entry '%s' names a path outside the root", x->what,
                                   name ? name : "(none)");
                        return -EBADMSG;
                }
                if (++x->n_entries > ARCHIVE_MAX_ENTRIES) {
                        diag_error(x->d, NULL, "%s: more than %zu entries", x->what, ARCHIVE_MAX_ENTRIES);
                        return -EFBIG;
                }
                const char *base = strrchr(path, '/') + 1;
                if (oci && is_whiteout(base)) {
                        if ((r = whiteout(x, path)) < 0)
                                return r;
                        continue;
                }
                TreeNode *n = new0(TreeNode, 1);
                if (!n)
                        return -ENOMEM;
                n->path = TAKE_PTR(path);
                n->mode = archive_entry_perm(e) & 07777;
                n->uid = (uint32_t) archive_entry_uid(e);
                n->gid = (uint32_t) archive_entry_gid(e);
                n->mtime = archive_entry_mtime(e);
                const char *hard = archive_entry_hardlink(e);
                mode_t type = archive_entry_filetype(e);
                if (hard) {
                        _cleanup_free_ char *tp = NULL;
                        TreeNode *target = tree_path_normalize(hard, &tp) >= 0 ? tree_get(x->t, tp) : NULL;
                        if (!target || target->type != TREE_REG) {
                                diag_error(x->d, NULL, "%s: '%s' is a hard link to '%s', which is not a file before it",
                                           x->what, n->path, hard);
                                tree_node_free(n);
                                return -EBADMSG;
                        }
                        if (!target->link_id)
                                target->link_id = tree_new_link_id(x->t);
                        n->type = TREE_REG;
                        n->mode = target->mode;
                        n->uid = target->uid;
                        n->gid = target->gid;
                        n->mtime = target->mtime;
                        n->link_id = target->link_id;
                        n->blob = tree_blob_ref(target->blob);
                } else if (type == AE_IFREG) {
                        uint64_t off = 0, size = 0;
                        n->type = TREE_REG;
                        r = spool_data(x, a, &off, &size);
                        if (r >= 0 && size > 0 && !(n->blob = tree_blob_slice(x->spool, (size_t) off, (size_t) size)))
                                r = -ENOMEM;
                        if (r == -EBADMSG)
                                diag_error(x->d, NULL, "%s: '%s': cannot read its data: %s", x->what, n->path,
                                           archive_error_string(a) ? archive_error_string(a) : "malformed");
                } else if (type == AE_IFDIR)
                        n->type = TREE_DIR;
                else if (type == AE_IFLNK) {
                        n->type = TREE_SYMLINK;
                        const char *target = archive_entry_symlink(e);
                        if (!(n->target = strdup(target ? target : "")))
                                r = -ENOMEM;
                } else if (type == AE_IFCHR || type == AE_IFBLK) {
                        n->type = type == AE_IFCHR ? TREE_CHR : TREE_BLK;
                        n->rdev_major = (uint32_t) archive_entry_rdevmajor(e);
                        n->rdev_minor = (uint32_t) archive_entry_rdevminor(e);
                } else if (type == AE_IFIFO)
                        n->type = TREE_FIFO;
                else if (type == AE_IFSOCK)
                        n->type = TREE_SOCK;
                else {
                        diag_error(x->d, NULL, "%s: '%s' has an unknown type", x->what, n->path);
                        r = -EBADMSG;
                }
                const char *xname;
                const void *xval;
                size_t xsize;
                archive_entry_xattr_reset(e);
                while (r >= 0 && archive_entry_xattr_next(e, &xname, &xval, &xsize) == ARCHIVE_OK)
                        r = tree_node_set_xattr(n, xname, xval, xsize);
                if (r < 0) {
                        tree_node_free(n);
                        return r;
                }
                /* A directory given again keeps what is below it. */
                TreeNode *old = tree_get(x->t, n->path);
                if (old && old->type == TREE_DIR && n->type == TREE_DIR) {
                        old->mode = n->mode;
                        old->uid = n->uid;
                        old->gid = n->gid;
                        old->mtime = n->mtime;
                        tree_node_free(n);
                        continue;
                }
                if (old && old->type == TREE_DIR && (r = tree_remove(x->t, n->path)) < 0) {
                        tree_node_free(n);
                        return r;
                }
                r = tree_add(x->t, n, NULL);
                if (r == -ENOTDIR) {
                        diag_error(x->d, NULL, "%s: a parent of an entry is not a directory", x->what);
                        return -EBADMSG;
                }
                if (r < 0)
                        return r;
        }
        if (k != ARCHIVE_EOF) {
                diag_error(x->d, NULL, "%s: %s", x->what,
                           archive_error_string(a) ? archive_error_string(a) : "not a tar archive, or a damaged one");
                return -EBADMSG;
        }
        return 0;
}

static int open_archive(const char *path, struct archive **ret) {
        struct archive *a = archive_read_new();
        if (!a)
                return -ENOMEM;
        /* gzip and zstd: what container images and slipway's tarballs use. */
        if (archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
            archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
                archive_read_free(a);
                return -EBADMSG;
        }
        *ret = a;
        return 0;
}

static int load_tar(ArchiveLoad *x, const char *path, bool oci) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        if (open_archive(path, &a) < 0) {
                diag_error(x->d, NULL, "%s: not a tar archive (plain or compressed)", x->what);
                return -EBADMSG;
        }
        return load_entries(x, a, oci);
}

/* A JSON document of the layout (a blob or index.json), bounded. */
static int oci_json(const char *dir, const char *digest, json_t **ret, Diagnostics *d, const char *what) {
        _cleanup_free_ char *path = NULL;
        if (!digest)
                path = path_join(dir, "index.json");
        else if (strncmp(digest, "sha256:", 7) == 0 && strlen(digest) == 71 && !strchr(digest + 7, '/'))
                (void) asprintf(&path, "%s/blobs/sha256/%s", dir, digest + 7);
        else {
                diag_error(d, NULL, "%s: the digest '%s' is not a sha256 digest", what, digest);
                return -EBADMSG;
        }
        if (!path)
                return -ENOMEM;
        json_error_t err;
        struct stat st;
        if (stat(path, &st) < 0 || (size_t) st.st_size > OCI_JSON_MAX) {
                diag_error(d, NULL, "%s: %s is missing or too large", what, digest ? digest : "index.json");
                return -EBADMSG;
        }
        json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
        if (!j) {
                diag_error(d, NULL, "%s: %s: %s (line %d)", what, digest ? digest : "index.json", err.text, err.line);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

/* The first manifest's layers, in order. */
static int load_oci_layout(ArchiveLoad *x, const char *dir) {
        json_t *index = NULL, *manifest = NULL;
        int r = oci_json(dir, NULL, &index, x->d, x->what);
        if (r < 0)
                return r;
        json_t *ms = json_object_get(index, "manifests"), *m0 = json_array_get(ms, 0);
        const char *md = json_string_value(json_object_get(m0, "digest"));
        if (!md) {
                diag_error(x->d, NULL, "%s: index.json lists no manifest", x->what);
                json_decref(index);
                return -EBADMSG;
        }
        r = oci_json(dir, md, &manifest, x->d, x->what);
        json_decref(index);
        if (r < 0)
                return r;
        json_t *layers = json_object_get(manifest, "layers");
        if (!json_is_array(layers) || json_array_size(layers) > OCI_MAX_LAYERS) {
                diag_error(x->d, NULL, "%s: the manifest's layers are missing or more than %d", x->what, OCI_MAX_LAYERS);
                json_decref(manifest);
                return -EBADMSG;
        }
        for (size_t i = 0; r >= 0 && i < json_array_size(layers); i++) {
                const char *ld = json_string_value(json_object_get(json_array_get(layers, i), "digest"));
                _cleanup_free_ char *path = NULL;
                if (!ld || strncmp(ld, "sha256:", 7) != 0 || strlen(ld) != 71 || strchr(ld + 7, '/')) {
                        diag_error(x->d, NULL, "%s: layer %zu has no sha256 digest", x->what, i + 1);
                        r = -EBADMSG;
                } else if (asprintf(&path, "%s/blobs/sha256/%s", dir, ld + 7) < 0)
                        r = -ENOMEM;
                else
                        r = load_tar(x, path, true);
        }
        json_decref(manifest);
        return r;
}

/* An oci-archive is unpacked into dir (regular files and directories only). */
static int unpack_oci_archive(const char *path, const char *dir, Diagnostics *d, const char *what) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        if (open_archive(path, &a) < 0)
                return -EBADMSG;
        struct archive_entry *e;
        int k;
        size_t n = 0;
        while ((k = archive_read_next_header(a, &e)) == ARCHIVE_OK || k == ARCHIVE_WARN) {
                _cleanup_free_ char *norm = NULL, *full = NULL;
                const char *name = archive_entry_pathname(e);
                if (++n > 100000 || !name || tree_path_normalize(name, &norm) < 0) {
                        diag_error(d, NULL, "%s: a malformed oci-archive", what);
                        return -EBADMSG;
                }
                if (!(full = path_join(dir, norm + 1)))
                        return -ENOMEM;
                if (archive_entry_filetype(e) == AE_IFDIR) {
                        if (mkdir_parents(full, 0755) < 0)
                                return -errno;
                        continue;
                }
                if (archive_entry_filetype(e) != AE_IFREG)
                        continue;
                _cleanup_free_ char *parent = path_dirname(full);
                if (!parent || mkdir_parents(parent, 0755) < 0)
                        return parent ? -errno : -ENOMEM;
                _cleanup_close_ int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0 || archive_read_data_into_fd(a, fd) != ARCHIVE_OK) {
                        diag_error(d, NULL, "%s: cannot unpack '%s'", what, norm);
                        return -EBADMSG;
                }
        }
        return k == ARCHIVE_EOF ? 0 : -EBADMSG;
}

int archive_load(const char *path, int64_t mtime, LoadedImage **ret, Diagnostics *d) {
        struct stat st;
        if (stat(path, &st) < 0) {
                diag_error(d, NULL, "%s: cannot open: %m", path);
                return -EINVAL;
        }
        _cleanup_(loaded_image_freep) LoadedImage *l = new0(LoadedImage, 1);
        _cleanup_free_ char *spool_dir = NULL, *oci_dir = NULL;
        if (!l || !(l->tree = tree_new(mtime)))
                return -ENOMEM;
        int r = run_mkdtemp("archive", &spool_dir);
        if (r < 0)
                return r;
        ArchiveLoad x = { .t = l->tree, .fd = tmpfile_anonymous(spool_dir), .d = d, .what = path };
        if (x.fd < 0) {
                r = x.fd;
                goto finish;
        }
        /* One blob over the spool, which only grows: files are slices of it. */
        x.spool = tree_blob_take_fd(x.fd, 0, (size_t) 1 << 62);
        if (!x.spool) {
                x.fd = -1; /* closed by tree_blob_take_fd() */
                r = -ENOMEM;
                goto finish;
        }
        bool layout = S_ISDIR(st.st_mode);
        if (layout)
                r = load_oci_layout(&x, path);
        else {
                /* An oci-archive has an oci-layout file: unpacked, it is a layout. */
                _cleanup_(archive_read_freep) struct archive *a = NULL;
                bool is_oci = false;
                struct archive_entry *e;
                if (open_archive(path, &a) >= 0)
                        for (size_t i = 0; i < 64 && archive_read_next_header(a, &e) == ARCHIVE_OK; i++) {
                                const char *name = archive_entry_pathname(e);
                                if (name && (strcmp(name, "oci-layout") == 0 || strcmp(name, "./oci-layout") == 0)) {
                                        is_oci = true;
                                        break;
                                }
                        }
                if (is_oci) {
                        if (!(oci_dir = path_join(spool_dir, "oci")))
                                r = -ENOMEM;
                        else if (mkdir(oci_dir, 0700) < 0)
                                r = -errno;
                        else
                                r = unpack_oci_archive(path, oci_dir, d, path);
                        if (r >= 0)
                                r = load_oci_layout(&x, oci_dir);
                        l->format = "oci";
                } else {
                        r = load_tar(&x, path, false);
                        l->format = "tar";
                }
        }
        if (layout)
                l->format = "oci";
finish:
        tree_blob_unref(x.spool); /* the files keep it */
        if (x.fd >= 0 && !x.spool)
                close(x.fd);
        (void) rm_rf(spool_dir);
        run_untrack(spool_dir);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        *ret = TAKE_PTR(l);
        return 0;
}

bool archive_input(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return false;
        if (S_ISDIR(st.st_mode))
                return true;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        uint8_t b[512];
        if (fd < 0 || pread(fd, b, sizeof b, 0) != (ssize_t) sizeof b)
                return false;
        /* gzip (RFC 1952), zstd (RFC 8878), or ustar at 257 (POSIX pax). */
        return (b[0] == 0x1f && b[1] == 0x8b) || memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0 ||
               memcmp(b + 257, "ustar", 5) == 0;
}
