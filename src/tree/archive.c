/* SPDX-License-Identifier: MIT */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "tree/archive.h"

void tree_archive_release(TreeArchive *a) {
        huge_buf_release(a);
}

typedef struct StreamCtx {
        TreeArchiveSink sink;
        void *userdata;
        int error;
} StreamCtx;

static la_ssize_t to_sink(struct archive *a, void *userdata, const void *buf, size_t n) {
        StreamCtx *c = userdata;
        int r = c->sink(c->userdata, buf, n);
        if (r < 0) {
                c->error = r;
                archive_set_error(a, -r, "cannot write the archive");
                return -1;
        }
        return (la_ssize_t) n;
}

/* archive_write_data() returns the bytes written as an int-sized count
 * (a single call of 2 GiB or more fails): pieces of at most TREE_BLOB_CHUNK,
 * which tree_blob_foreach() gives. */
static int write_piece(void *userdata, uint64_t off, const void *data, size_t n) {
        struct archive *a = userdata;
        static_assert(TREE_BLOB_CHUNK < INT_MAX, "pieces must fit an int");
        if (n > TREE_BLOB_CHUNK)
                return -EFBIG;
        return archive_write_data(a, data, n) == (la_ssize_t) n ? 0 : -EIO;
}

/* RFC 3629: well-formed UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF). */
static bool utf8_valid(const char *s) {
        const uint8_t *p = (const uint8_t *) s;
        while (*p) {
                uint8_t c = *p;
                size_t n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 4;
                if (n == 4 || (n == 1 && c < 0xc2) || (n == 3 && c > 0xf4))
                        return false;
                uint32_t cp = n == 0 ? c : c & (0x3f >> n);
                for (size_t i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3f);
                }
                if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                        return false;
                p += n + 1;
        }
        return true;
}

/* The path with every byte that is not printable ASCII as \xHH. */
static char *path_escape(const char *path) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (const uint8_t *p = (const uint8_t *) path; *p; p++) {
                if (*p >= 0x20 && *p < 0x7f && *p != '\\')
                        strbuf_putc(&sb, (char) *p);
                else
                        strbuf_printf(&sb, "\\x%02x", *p);
        }
        size_t n;
        return strbuf_detach(&sb, &n);
}

int tree_archive_check(const Tree *t, TreeArchiveFormat f, const char *image, Diagnostics *d) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        const char *fmt = f == TREE_ARCHIVE_TAR ? "tar" : "cpio";
        bool bad = false;
        for (size_t i = 0; i < n && !diagnostics_full(d); i++) {
                const TreeNode *nd = nodes[i];
                _cleanup_free_ char *esc = path_escape(nd->path);
                if (!esc)
                        return -ENOMEM;
                if (nd->type == TREE_SOCK) {
                        diag_error(d, NULL, "image '%s': '%s' is a socket, which a %s archive cannot hold", image, esc,
                                   fmt);
                        bad = true;
                }
                if (f == TREE_ARCHIVE_CPIO && nd->type == TREE_REG && nd->blob && nd->blob->size > TREE_CPIO_FILE_MAX) {
                        diag_error(d, NULL,
                                   "image '%s': '%s' is %zu bytes, but a newc cpio archive holds at most "
                                   "4 GiB - 1 (%" PRIu64 " bytes) per file",
                                   image, esc, nd->blob->size, (uint64_t) TREE_CPIO_FILE_MAX);
                        bad = true;
                }
                if (f == TREE_ARCHIVE_TAR && !utf8_valid(nd->path)) {
                        diag_error(d, NULL,
                                   "image '%s': the name '%s' is not UTF-8, which a pax tar archive's names must be",
                                   image, esc);
                        bad = true;
                }
        }
        return bad ? -EINVAL : 0;
}

static int buffer_sink(void *userdata, const void *buf, size_t n) {
        return huge_buf_append(userdata, buf, n);
}

int tree_archive(const Tree *t, TreeArchiveFormat f, TreeArchive *ret) {
        TreeArchive sb = {};
        /* A first size: the contents, and a few blocks of headers per node. */
        size_t guess = 0;
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                guess += (nodes[i]->blob ? nodes[i]->blob->size : 0) + 2048;
        guess += guess / 8;
        (void) huge_buf_reserve(&sb, guess); /* a guess: appending grows it anyway */
        r = tree_archive_stream(t, f, buffer_sink, &sb);
        if (r < 0) {
                tree_archive_release(&sb);
                return r;
        }
        *ret = sb;
        return 0;
}

int tree_archive_stream(const Tree *t, TreeArchiveFormat f, TreeArchiveSink sink, void *userdata) {
        StreamCtx sc = { .sink = sink, .userdata = userdata };
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        struct archive *a = archive_write_new();
        if (!a)
                return -ENOMEM;
        struct archive_entry *e = archive_entry_new();
        if (!e) {
                archive_write_free(a);
                return -ENOMEM;
        }
        int ar = f == TREE_ARCHIVE_TAR ? archive_write_set_format_pax_restricted(a) : archive_write_set_format_cpio_newc(a);
        /* xattrs only as SCHILY.xattr records (what GNU tar, podman and
         * umoci read), not also as LIBARCHIVE.xattr ones, which GNU tar
         * warns about for every file. */
        if (ar == ARCHIVE_OK && f == TREE_ARCHIVE_TAR)
                ar = archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY");
        if (ar == ARCHIVE_OK)
                ar = archive_write_set_bytes_per_block(a, f == TREE_ARCHIVE_TAR ? 10240 : 0);
        if (ar == ARCHIVE_OK)
                ar = archive_write_open(a, &sc, NULL, to_sink, NULL);
        /* First member of each hard-link group written so far (tar refers back to it). */
        _cleanup_free_ const char **first_link = NULL;
        size_t n_links = 0;
        for (size_t i = 0; i < n; i++)
                if (nodes[i]->link_id > n_links)
                        n_links = nodes[i]->link_id;
        first_link = new0(const char *, n_links + 1);
        if (!first_link)
                ar = ARCHIVE_FATAL;
        r = ar == ARCHIVE_OK ? 0 : -EIO;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const TreeNode *nd = nodes[i];
                _cleanup_free_ char *name = NULL;
                if (strcmp(nd->path, "/") == 0)
                        name = strdup(".");
                /* tar: "./etc/x" as `tar -C root -c .` writes; cpio: "etc/x". */
                else if (asprintf(&name, "%s%s", f == TREE_ARCHIVE_TAR ? "." : "",
                                  nd->path + (f == TREE_ARCHIVE_TAR ? 0 : 1)) < 0)
                        name = NULL;
                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                archive_entry_clear(e);
                archive_entry_set_pathname(e, name);
                archive_entry_set_mode(e, tree_type_to_mode(nd->type) | nd->mode);
                archive_entry_set_uid(e, nd->uid);
                archive_entry_set_gid(e, nd->gid);
                archive_entry_set_mtime(e, nd->mtime, 0);
                archive_entry_set_nlink(e, nd->type == TREE_DIR ? 2 : 1);
                archive_entry_set_size(e, 0); /* cpio wants a size on every entry */
                if (f == TREE_ARCHIVE_CPIO) {
                        /* newc needs inode numbers; a fixed sequence keeps them
                         * reproducible. Hard links are written as copies. */
                        archive_entry_set_ino(e, (la_int64_t) i + 1);
                        archive_entry_set_dev(e, 0);
                }
                const TreeBlob *blob = NULL;
                size_t size = 0;
                switch (nd->type) {
                case TREE_REG:
                        if (f == TREE_ARCHIVE_TAR && nd->link_id && first_link[nd->link_id]) {
                                archive_entry_set_hardlink(e, first_link[nd->link_id]);
                                break;
                        }
                        if (nd->blob) {
                                blob = nd->blob;
                                size = nd->blob->size;
                        }
                        archive_entry_set_size(e, (la_int64_t) size);
                        break;
                case TREE_SYMLINK:
                        archive_entry_set_symlink(e, nd->target);
                        break;
                case TREE_CHR:
                case TREE_BLK:
                        archive_entry_set_rdevmajor(e, nd->rdev_major);
                        archive_entry_set_rdevminor(e, nd->rdev_minor);
                        break;
                default:
                        break;
                }
                /* What tree_archive_check() reports: refused here too, so
                         * that a caller that skipped it gets no broken archive. */
                if (nd->type == TREE_SOCK || (f == TREE_ARCHIVE_CPIO && size > TREE_CPIO_FILE_MAX) ||
                    (f == TREE_ARCHIVE_TAR && !utf8_valid(nd->path))) {
                        r = nd->type == TREE_SOCK ? -EOPNOTSUPP : size > TREE_CPIO_FILE_MAX ? -EFBIG : -EILSEQ;
                        break;
                }
                if (f == TREE_ARCHIVE_TAR)
                        for (size_t x = 0; x < nd->n_xattrs; x++)
                                archive_entry_xattr_add_entry(e, nd->xattrs[x].name, nd->xattrs[x].value, nd->xattrs[x].size);
                if (archive_write_header(a, e) != ARCHIVE_OK) {
                        r = -EIO;
                        break;
                }
                if (size > 0) {
                        /* In pieces: a file's contents may be larger than memory. */
                        r = tree_blob_foreach(blob, write_piece, a);
                        if (r < 0)
                                break;
                }
                if (f == TREE_ARCHIVE_TAR && nd->type == TREE_REG && nd->link_id && !first_link[nd->link_id]) {
                        /* Later members of the group link to this name. */
                        first_link[nd->link_id] = strdup(name);
                        if (!first_link[nd->link_id])
                                r = -ENOMEM;
                }
        }
        if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
                r = -EIO;
        archive_entry_free(e);
        archive_write_free(a); /* flushes into the sink: before the sink goes */
        for (size_t k = 0; first_link && k <= n_links; k++)
                free((char *) first_link[k]);
        if (r < 0)
                return sc.error < 0 ? sc.error : r;
        return sc.error;
}
