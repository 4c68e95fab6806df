/* SPDX-License-Identifier: MIT */
#pragma once

/* The tree: an in-memory root filesystem (DESIGN.md). Paths, types, modes,
 * owners, times, xattrs, hard links, symlinks, device nodes and file
 * contents; RPM payloads are unpacked into it, image settings applied to it,
 * and every image writer reads it. Nothing of it needs to exist on the host
 * with its real owner, so no root is needed.
 *
 * Paths are absolute and normalised ("/", "/usr/bin/sh"): no "." or ".."
 * components, no repeated or trailing '/'. Lookups do not follow symlinks;
 * tree_resolve() does, within the tree (an absolute target is taken from the
 * tree's root, so no path can leave the tree). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

typedef enum TreeType {
        TREE_REG,
        TREE_DIR,
        TREE_SYMLINK,
        TREE_CHR,
        TREE_BLK,
        TREE_FIFO,
        TREE_SOCK,
        _TREE_TYPE_MAX,
        _TREE_TYPE_INVALID = -EINVAL,
} TreeType;

/* File contents, shared by the nodes of one hard-link group and by nodes
 * made identical on purpose. Reference counted, never changed once made.
 *
 * Two kinds: in memory (data, small things: settings' text files, boot
 * files, the payloads of small packages) and in a file (fd, offset: a
 * private spool file a large package's payload was decompressed into), so
 * that a tree's contents need not fit in memory. Readers go through
 * tree_blob_read() in bounded pieces (TREE_BLOB_CHUNK), or tree_blob_load()
 * for small files they parse. */
typedef struct TreeBlob {
        uint8_t *data; /* in memory: the contents; NULL when they are in a file */
        size_t size;
        unsigned ref;
        struct TreeBlob *parent; /* a slice: data (or offset) lies in parent's (held by a reference) */
        size_t huge_size;        /* data is from huge_alloc(huge_size); 0: malloc or a slice */
        int fd;                  /* in a file: the file (owned by the root blob, not by a slice); else -1 */
        uint64_t offset;         /* in a file or a reader: where the contents start in it */
        const struct TreeBlobReader *reader; /* through a reader: its functions; else NULL */
        void *reader_data;       /* ... and its data (owned by the root blob, not by a slice) */
} TreeBlob;

/* Contents that something else produces on demand: a file of a disk image's
 * file system, read from the image when a writer asks (its extents mapped
 * to the disk's blocks). read() must be thread-safe and give the same bytes
 * every time; free() (optional) releases data with the blob's last reference. */
typedef struct TreeBlobReader {
        int (*read)(void *data, uint64_t off, void *buf, size_t n);
        void (*free)(void *data);
} TreeBlobReader;

#define TREE_BLOB_CHUNK ((size_t) 1 << 20) /* what a writer reads at once */

TreeBlob *tree_blob_new(const void *data, size_t size);       /* copies */
TreeBlob *tree_blob_take(uint8_t *data, size_t size);         /* takes a malloc'd buffer */
TreeBlob *tree_blob_take_huge(uint8_t *data, size_t size, size_t huge_size); /* from huge_alloc() */
/* size bytes at offset of the file fd, which the blob takes (also on
 * failure) and closes when its last reference (or its last slice's) goes.
 * The file must not change while the blob lives. */
TreeBlob *tree_blob_take_fd(int fd, uint64_t offset, size_t size);
/* size bytes that reader produces from data, which the blob takes (also on
 * failure: reader->free(data)). */
TreeBlob *tree_blob_new_reader(const TreeBlobReader *reader, void *data, size_t size);
/* size bytes at off of parent, without copying; parent lives as long as the slice. */
TreeBlob *tree_blob_slice(TreeBlob *parent, size_t off, size_t size);
TreeBlob *tree_blob_ref(TreeBlob *b);
TreeBlob *tree_blob_unref(TreeBlob *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(TreeBlob *, tree_blob_unref);

/* Whether the contents are not in memory (in a file or through a reader):
 * read them with tree_blob_read() and friends, never through data. */
static inline bool tree_blob_in_file(const TreeBlob *b) {
        return b->fd >= 0 || b->reader;
}
/* n bytes at off of the contents into buf: 0, -EINVAL if they are not all
 * within the blob, -EIO if the file is shorter than the blob says, -errno.
 * Thread-safe (pread). */
int tree_blob_read(const TreeBlob *b, uint64_t off, void *buf, size_t n);
/* The whole contents in a malloc'd buffer with a NUL after them (not
 * counted), for small files that are parsed; b may be NULL (empty). Above
 * max bytes: -EFBIG. */
int tree_blob_load(const TreeBlob *b, size_t max, uint8_t **ret, size_t *ret_size);
/* Hands the contents to fn in order, in pieces of at most TREE_BLOB_CHUNK
 * bytes: in-memory ones in place, file ones read into one buffer (so memory
 * stays bounded whatever the size). off is the piece's offset in the
 * contents. A negative return of fn stops and is returned. b NULL or empty:
 * fn is not called. */
typedef int (*TreeBlobPieceFn)(void *userdata, uint64_t off, const void *data, size_t n);
int tree_blob_foreach(const TreeBlob *b, TreeBlobPieceFn fn, void *userdata);
/* 1 if the contents are the same, 0 if not (NULL is empty), -errno. */
int tree_blob_equal(const TreeBlob *a, const TreeBlob *b);

typedef struct TreeXattr {
        char *name; /* "security.selinux", "security.capability", ... */
        uint8_t *value;
        size_t size;
} TreeXattr;

enum {
        TREE_NODE_CONFIG = 1 << 0, /* %config */
        TREE_NODE_DOC = 1 << 1,
};

typedef struct TreeNode {
        char *path;
        TreeType type;
        uint32_t mode; /* permission bits (07777) */
        uint32_t uid, gid;
        int64_t mtime;
        TreeBlob *blob;   /* TREE_REG: the contents (NULL: empty) */
        char *target;     /* TREE_SYMLINK */
        uint32_t rdev_major, rdev_minor;
        uint64_t link_id; /* non-zero: one inode with every node of the same id */
        TreeXattr *xattrs; /* sorted by name */
        size_t n_xattrs;
        char *owner;      /* the package (NEVRA) that installed it, or NULL */
        uint32_t flags;   /* TREE_NODE_* */
} TreeNode;

typedef struct Tree Tree;

/* A tree holding only "/" (0755 root:root, mtime). */
Tree *tree_new(int64_t mtime);
Tree *tree_free(Tree *t);
/* A copy whose changes do not reach t: every node's metadata copied, file
 * contents shared (blobs are reference counted and never changed in place).
 * What a writer that needs more than the frozen tree works on. */
Tree *tree_clone(const Tree *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Tree *, tree_free);

/* Normalises path (relative paths and "./x" are taken from the root; "//"
 * and "/." collapse). A ".." component is refused with -EPERM: nothing in a
 * tree may point outside it. *ret is malloc'd. */
int tree_path_normalize(const char *path, char **ret);

/* The node at a normalised path, symlinks not followed; NULL if none. */
TreeNode *tree_get(const Tree *t, const char *path);

/* The path with every symlink in its directory part followed within the tree
 * (the last component is not followed). -ELOOP after 40 links; -ENOTDIR if
 * a component is not a directory. *ret is malloc'd. */
int tree_resolve(const Tree *t, const char *path, char **ret);

/* Adds a node at n->path (normalised by the caller), taking ownership of
 * everything n points to (also on failure). Missing parent directories are
 * created 0755 root:root with the tree's mtime. An existing node at the path
 * is replaced (the caller decides conflicts beforehand). -ENOTDIR if a parent
 * exists and is not a directory. *ret (optional) is the node in the tree. */
int tree_add(Tree *t, TreeNode *n, TreeNode **ret);

/* Frees a node that is not (or no longer) in a tree. */
void tree_node_free(TreeNode *n);

/* Convenience adders; the path is normalised here. */
int tree_add_dir(Tree *t, const char *path, uint32_t mode, uint32_t uid, uint32_t gid, TreeNode **ret);
int tree_add_file(Tree *t, const char *path, const void *data, size_t size, uint32_t mode, uint32_t uid, uint32_t gid,
                  TreeNode **ret);
/* A file whose contents are blob (a reference is taken: no copy). */
int tree_add_blob(Tree *t, const char *path, TreeBlob *blob, uint32_t mode, uint32_t uid, uint32_t gid,
                  TreeNode **ret);
int tree_add_symlink(Tree *t, const char *path, const char *target, TreeNode **ret);

/* Removes the node (and, for a directory, everything below it). */
int tree_remove(Tree *t, const char *path);

/* Sets (replaces) an xattr on the node. */
int tree_node_set_xattr(TreeNode *n, const char *name, const void *value, size_t size);

/* Every node, sorted by path (bytewise, so a directory precedes what is in
 * it). The array is malloc'd; the nodes stay the tree's. */
int tree_list(const Tree *t, TreeNode ***ret, size_t *ret_n);

size_t tree_size(const Tree *t);
int64_t tree_mtime(const Tree *t);

/* A new link id for a hard-link group. */
uint64_t tree_new_link_id(Tree *t);

/* The ids of account names from the tree's /etc/passwd and /etc/group (as
 * rpm maps file owners at install time). -ENOENT if the name is unknown. */
int tree_lookup_user(const Tree *t, const char *name, uint32_t *ret);
int tree_lookup_group(const Tree *t, const char *name, uint32_t *ret);

/* The mode type bits (S_IFREG, ...) of a node type and back. */
uint32_t tree_type_to_mode(TreeType t);
TreeType tree_type_from_mode(uint32_t mode);
