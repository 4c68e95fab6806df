/* SPDX-License-Identifier: MIT */

/* The tree: nodes in an open-addressing hash table keyed by path. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "tree/tree.h"

/* Every node's ancestors are in the tree and are directories: tree_add()
 * makes missing parents and refuses a parent that is not a directory, a
 * directory replaced by something else takes what was below it along, and
 * tree_remove() removes whole subtrees. So finding the deepest ancestor of a
 * path that exists says everything about the ones above it, and lookups,
 * insertions and tree_resolve() cost time linear in the path's length,
 * whatever its depth (prefixes are hashed in one pass, hash.h's FNV-1a being
 * computed incrementally, and compared by hash before their bytes). */
struct Tree {
        TreeNode **slots; /* NULL: empty; TOMBSTONE: removed */
        uint64_t *hashes; /* path_hash() of each slot's node */
        size_t n_slots;   /* a power of two */
        size_t n_nodes, n_used; /* n_used counts tombstones too */
        int64_t mtime;
        uint64_t next_link_id;
};

static TreeNode tombstone;
#define TOMBSTONE (&tombstone)

TreeBlob *tree_blob_take(uint8_t *data, size_t size) {
        TreeBlob *b = new0(TreeBlob, 1);
        if (!b) {
                free(data);
                return NULL;
        }
        *b = (TreeBlob) { .data = data, .size = size, .ref = 1, .fd = -1 };
        return b;
}

TreeBlob *tree_blob_new(const void *data, size_t size) {
        uint8_t *d = malloc(size ? size : 1);
        if (!d)
                return NULL;
        if (size)
                memcpy(d, data, size);
        return tree_blob_take(d, size);
}

/* Atomic: slices of one payload arena are made on several threads. */
TreeBlob *tree_blob_ref(TreeBlob *b) {
        if (b)
                __atomic_add_fetch(&b->ref, 1, __ATOMIC_RELAXED);
        return b;
}

TreeBlob *tree_blob_take_huge(uint8_t *data, size_t size, size_t huge_size) {
        TreeBlob *b = new0(TreeBlob, 1);
        if (!b) {
                huge_free(data, huge_size);
                return NULL;
        }
        *b = (TreeBlob) { .data = data, .size = size, .ref = 1, .huge_size = huge_size, .fd = -1 };
        return b;
}

TreeBlob *tree_blob_take_fd(int fd, uint64_t offset, size_t size) {
        TreeBlob *b = fd >= 0 ? new0(TreeBlob, 1) : NULL;
        if (!b) {
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        *b = (TreeBlob) { .size = size, .ref = 1, .fd = fd, .offset = offset };
        return b;
}

TreeBlob *tree_blob_new_reader(const TreeBlobReader *reader, void *data, size_t size) {
        TreeBlob *b = new0(TreeBlob, 1);
        if (!b) {
                if (reader->free)
                        reader->free(data);
                return NULL;
        }
        *b = (TreeBlob) { .size = size, .ref = 1, .fd = -1, .reader = reader, .reader_data = data };
        return b;
}

TreeBlob *tree_blob_slice(TreeBlob *parent, size_t off, size_t size) {
        if (off > parent->size || size > parent->size - off)
                return NULL;
        TreeBlob *b = new0(TreeBlob, 1);
        if (!b)
                return NULL;
        *b = (TreeBlob) { .data = parent->data ? parent->data + off : NULL, .size = size, .ref = 1,
                          .parent = tree_blob_ref(parent), .fd = parent->fd, .offset = parent->offset + off,
                          .reader = parent->reader, .reader_data = parent->reader_data };
        return b;
}

TreeBlob *tree_blob_unref(TreeBlob *b) {
        if (b && __atomic_sub_fetch(&b->ref, 1, __ATOMIC_ACQ_REL) == 0) {
                if (b->parent)
                        tree_blob_unref(b->parent);
                else if (b->fd >= 0)
                        close(b->fd);
                else if (b->reader) {
                        if (b->reader->free)
                                b->reader->free(b->reader_data);
                } else if (b->huge_size)
                        huge_free(b->data, b->huge_size);
                else
                        free(b->data);
                free(b);
        }
        return NULL;
}

int tree_blob_read(const TreeBlob *b, uint64_t off, void *buf, size_t n) {
        if (off > b->size || n > b->size - off)
                return -EINVAL;
        if (b->reader)
                return n > 0 ? b->reader->read(b->reader_data, b->offset + off, buf, n) : 0;
        if (b->fd < 0) {
                if (n > 0)
                        memcpy(buf, b->data + off, n);
                return 0;
        }
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = pread(b->fd, p, n, (off_t) (b->offset + off));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                off += (uint64_t) k;
                n -= (size_t) k;
        }
        return 0;
}

int tree_blob_load(const TreeBlob *b, size_t max, uint8_t **ret, size_t *ret_size) {
        size_t n = b ? b->size : 0;
        if (n > max)
                return -EFBIG;
        uint8_t *d = malloc(n + 1);
        if (!d)
                return -ENOMEM;
        int r = n > 0 ? tree_blob_read(b, 0, d, n) : 0;
        if (r < 0) {
                free(d);
                return r;
        }
        d[n] = 0;
        *ret = d;
        if (ret_size)
                *ret_size = n;
        return 0;
}

int tree_blob_foreach(const TreeBlob *b, TreeBlobPieceFn fn, void *userdata) {
        if (!b || b->size == 0)
                return 0;
        if (!tree_blob_in_file(b)) {
                /* In place, but in bounded pieces too: consumers such as
                 * libarchive cannot take 2 GiB or more in one call. */
                for (uint64_t off = 0; off < b->size; off += TREE_BLOB_CHUNK) {
                        int r = fn(userdata, off, b->data + off, (size_t) MIN((uint64_t) TREE_BLOB_CHUNK, b->size - off));
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        _cleanup_free_ uint8_t *buf = malloc(MIN(b->size, TREE_BLOB_CHUNK));
        if (!buf)
                return -ENOMEM;
        for (uint64_t off = 0; off < b->size; off += TREE_BLOB_CHUNK) {
                size_t k = (size_t) MIN((uint64_t) TREE_BLOB_CHUNK, b->size - off);
                int r = tree_blob_read(b, off, buf, k);
                if (r >= 0)
                        r = fn(userdata, off, buf, k);
                if (r < 0)
                        return r;
        }
        return 0;
}

int tree_blob_equal(const TreeBlob *a, const TreeBlob *b) {
        size_t an = a ? a->size : 0, bn = b ? b->size : 0;
        if (an != bn)
                return 0;
        if (an == 0 || a == b)
                return 1;
        if (!tree_blob_in_file(a) && !tree_blob_in_file(b))
                return memcmp(a->data, b->data, an) == 0;
        if ((a->fd >= 0 && a->fd == b->fd && a->offset == b->offset) ||
            (a->reader && a->reader == b->reader && a->reader_data == b->reader_data && a->offset == b->offset))
                return 1;
        _cleanup_free_ uint8_t *x = malloc(TREE_BLOB_CHUNK), *y = malloc(TREE_BLOB_CHUNK);
        if (!x || !y)
                return -ENOMEM;
        for (uint64_t off = 0; off < an; off += TREE_BLOB_CHUNK) {
                size_t k = (size_t) MIN((uint64_t) TREE_BLOB_CHUNK, an - off);
                int r = tree_blob_read(a, off, x, k);
                if (r >= 0)
                        r = tree_blob_read(b, off, y, k);
                if (r < 0)
                        return r;
                if (memcmp(x, y, k) != 0)
                        return 0;
        }
        return 1;
}

void tree_node_free(TreeNode *n) {
        if (!n || n == TOMBSTONE)
                return;
        free(n->path);
        tree_blob_unref(n->blob);
        free(n->target);
        for (size_t i = 0; i < n->n_xattrs; i++) {
                free(n->xattrs[i].name);
                free(n->xattrs[i].value);
        }
        free(n->xattrs);
        free(n->owner);
        free(n);
}

/* FNV-1a over the path's bytes, then a final mix; hash_step() extends the
 * state by one byte, so every prefix of a path is hashed in one pass. */
#define HASH_INIT 1469598103934665603ull
static inline uint64_t hash_step(uint64_t h, char c) {
        return (h ^ (uint8_t) c) * 1099511628211ull;
}
static inline uint64_t hash_final(uint64_t h) {
        return h ^ (h >> 29);
}

static uint64_t path_hash_n(const char *s, size_t len) {
        uint64_t h = HASH_INIT;
        for (size_t i = 0; i < len; i++)
                h = hash_step(h, s[i]);
        return hash_final(h);
}

/* The slot holding the path of len bytes (not necessarily NUL-terminated)
 * whose path_hash_n() is h, or the empty slot where it would go. */
static size_t find_slot_h(const Tree *t, const char *path, size_t len, uint64_t h, bool *found) {
        size_t mask = t->n_slots - 1, i = h & mask, first_free = SIZE_MAX;
        for (;; i = (i + 1) & mask) {
                TreeNode *n = t->slots[i];
                if (!n) {
                        *found = false;
                        return first_free != SIZE_MAX ? first_free : i;
                }
                if (n == TOMBSTONE) {
                        if (first_free == SIZE_MAX)
                                first_free = i;
                        continue;
                }
                if (t->hashes[i] == h && strncmp(n->path, path, len) == 0 && n->path[len] == 0) {
                        *found = true;
                        return i;
                }
        }
}

static size_t find_slot(const Tree *t, const char *path, bool *found) {
        size_t len = strlen(path);
        return find_slot_h(t, path, len, path_hash_n(path, len), found);
}

static int grow(Tree *t) {
        size_t ns = t->n_slots ? t->n_slots * 2 : 1024;
        while (t->n_nodes * 2 >= ns)
                ns *= 2;
        TreeNode **old = t->slots;
        uint64_t *oldh = t->hashes;
        size_t on = t->n_slots;
        t->slots = new0(TreeNode *, ns);
        t->hashes = new0(uint64_t, ns);
        if (!t->slots || !t->hashes) {
                free(t->slots);
                free(t->hashes);
                t->slots = old;
                t->hashes = oldh;
                return -ENOMEM;
        }
        t->n_slots = ns;
        t->n_used = t->n_nodes;
        for (size_t i = 0; i < on; i++)
                if (old[i] && old[i] != TOMBSTONE) {
                        size_t j = oldh[i] & (ns - 1);
                        while (t->slots[j])
                                j = (j + 1) & (ns - 1);
                        t->slots[j] = old[i];
                        t->hashes[j] = oldh[i];
                }
        free(old);
        free(oldh);
        return 0;
}

Tree *tree_new(int64_t mtime) {
        Tree *t = new0(Tree, 1);
        if (!t || grow(t) < 0)
                return tree_free(t);
        t->mtime = mtime;
        TreeNode *root = new0(TreeNode, 1);
        if (!root || !(root->path = strdup("/"))) {
                free(root);
                return tree_free(t);
        }
        root->type = TREE_DIR;
        root->mode = 0755;
        root->mtime = mtime;
        if (tree_add(t, root, NULL) < 0)
                return tree_free(t);
        return t;
}

Tree *tree_free(Tree *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_slots; i++)
                tree_node_free(t->slots[i]);
        free(t->slots);
        free(t->hashes);
        free(t);
        return NULL;
}

/* A deep copy of one node; the contents blob is shared (a reference). */
static TreeNode *node_clone(const TreeNode *n) {
        _cleanup_free_ TreeNode *c = new0(TreeNode, 1);
        if (!c)
                return NULL;
        *c = *n;
        c->path = c->target = c->owner = NULL;
        c->xattrs = NULL;
        c->n_xattrs = 0;
        c->blob = tree_blob_ref(n->blob);
        TreeNode *ret = TAKE_PTR(c);
        if (!(ret->path = strdup(n->path)) || (n->target && !(ret->target = strdup(n->target))) ||
            (n->owner && !(ret->owner = strdup(n->owner))))
                goto fail;
        if (n->n_xattrs) {
                ret->xattrs = new0(TreeXattr, n->n_xattrs);
                if (!ret->xattrs)
                        goto fail;
                for (size_t i = 0; i < n->n_xattrs; i++) {
                        TreeXattr *x = &ret->xattrs[ret->n_xattrs];
                        x->name = strdup(n->xattrs[i].name);
                        x->value = malloc(n->xattrs[i].size ? n->xattrs[i].size : 1);
                        x->size = n->xattrs[i].size;
                        ret->n_xattrs++;
                        if (!x->name || !x->value)
                                goto fail;
                        memcpy(x->value, n->xattrs[i].value, x->size);
                }
        }
        return ret;
fail:
        tree_node_free(ret);
        return NULL;
}

Tree *tree_clone(const Tree *t) {
        _cleanup_(tree_freep) Tree *c = new0(Tree, 1);
        if (!c)
                return NULL;
        c->slots = new0(TreeNode *, t->n_slots);
        c->hashes = new0(uint64_t, t->n_slots);
        if (!c->slots || !c->hashes)
                return NULL;
        memcpy(c->hashes, t->hashes, t->n_slots * sizeof(uint64_t));
        c->n_slots = t->n_slots;
        c->mtime = t->mtime;
        c->next_link_id = t->next_link_id;
        /* Same table size and same slots: no rehashing, tombstones kept. */
        for (size_t i = 0; i < t->n_slots; i++) {
                if (!t->slots[i])
                        continue;
                if (t->slots[i] == TOMBSTONE) {
                        c->slots[i] = TOMBSTONE;
                        c->n_used++;
                        continue;
                }
                if (!(c->slots[i] = node_clone(t->slots[i])))
                        return NULL;
                c->n_nodes++;
                c->n_used++;
        }
        return TAKE_PTR(c);
}

int tree_path_normalize(const char *path, char **ret) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        const char *p = path;
        while (*p) {
                while (*p == '/')
                        p++;
                const char *e = strchrnul(p, '/');
                size_t l = (size_t) (e - p);
                if (l == 0)
                        break;
                if (l == 2 && p[0] == '.' && p[1] == '.')
                        return -EPERM;
                if (!(l == 1 && p[0] == '.')) {
                        strbuf_putc(&sb, '/');
                        strbuf_put(&sb, p, l);
                }
                p = e;
        }
        if (sb.len == 0)
                strbuf_putc(&sb, '/');
        size_t n;
        char *s = strbuf_detach(&sb, &n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

TreeNode *tree_get(const Tree *t, const char *path) {
        bool found;
        size_t i = find_slot(t, path, &found);
        return found ? t->slots[i] : NULL;
}

/* The directory prefixes of a normalised path, "/" first ("/a/b/c": "/",
 * "/a", "/a/b"), as lengths and hashes, made in one pass. */
typedef struct Prefixes {
        size_t *len;
        uint64_t *hash;
        size_t n;
} Prefixes;

static void prefixes_release(Prefixes *px) {
        free(px->len);
        free(px->hash);
}

static int prefixes_make(const char *path, Prefixes *ret) {
        size_t n = 0;
        for (const char *s = path; *s; s++)
                n += *s == '/';
        Prefixes px = { .len = new0(size_t, n + 1), .hash = new0(uint64_t, n + 1) };
        if (!px.len || !px.hash) {
                prefixes_release(&px);
                return -ENOMEM;
        }
        uint64_t h = HASH_INIT;
        for (size_t i = 0; path[i]; i++) {
                if (path[i] == '/' && i > 0) {
                        px.len[px.n] = i;
                        px.hash[px.n++] = hash_final(h);
                }
                h = hash_step(h, path[i]);
                if (i == 0 && path[0] == '/' && path[1]) { /* "/" itself */
                        px.len[px.n] = 1;
                        px.hash[px.n++] = hash_final(h);
                }
        }
        *ret = px;
        return 0;
}

/* How many of the prefixes exist (by the invariant, the first ones do and
 * the others do not); *ret_node: the deepest of them, or NULL. One lookup
 * per missing prefix (hash only) and one comparison of bytes. */
static size_t prefixes_existing(const Tree *t, const char *path, const Prefixes *px, TreeNode **ret_node) {
        for (size_t k = px->n; k > 0; k--) {
                bool found;
                size_t i = find_slot_h(t, path, px->len[k - 1], px->hash[k - 1], &found);
                if (found) {
                        *ret_node = t->slots[i];
                        return k;
                }
        }
        *ret_node = NULL;
        return 0;
}

int tree_resolve(const Tree *t, const char *path, char **ret) {
        _cleanup_free_ char *cur = NULL;
        int r = tree_path_normalize(path, &cur);
        if (r < 0)
                return r;
        for (unsigned links = 0;;) {
                /* Only the deepest existing directory-part prefix can be
                 * something other than a directory (the invariant above); on
                 * a symlink, splice its target in and start again. */
                _cleanup_(prefixes_release) Prefixes px = {};
                r = prefixes_make(cur, &px);
                if (r < 0)
                        return r;
                TreeNode *n;
                size_t k = prefixes_existing(t, cur, &px, &n);
                if (!n || n->type == TREE_DIR)
                        break;
                if (n->type != TREE_SYMLINK)
                        return -ENOTDIR;
                if (++links > 40)
                        return -ELOOP;
                size_t plen = px.len[k - 1];
                _cleanup_free_ char *joined = NULL;
                /* The symlink's directory: the prefix up to its last '/'. */
                size_t blen = 0;
                if (n->target[0] != '/')
                        for (size_t j = plen; j > 0; j--)
                                if (cur[j - 1] == '/') {
                                        blen = j - 1;
                                        break;
                                }
                if (asprintf(&joined, "%.*s/%s/%s", (int) blen, cur, n->target, cur + plen + 1) < 0)
                        return -ENOMEM;
                /* ".." in a symlink target stays inside the tree: resolve it
                 * against what we have so far. */
                _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
                for (const char *p = joined; *p;) {
                        while (*p == '/')
                                p++;
                        const char *e = strchrnul(p, '/');
                        size_t l = (size_t) (e - p);
                        if (l == 2 && p[0] == '.' && p[1] == '.') {
                                while (sb.len > 0 && sb.buf[sb.len - 1] != '/')
                                        sb.len--;
                                if (sb.len > 0)
                                        sb.len--;
                        } else if (l > 0 && !(l == 1 && p[0] == '.')) {
                                strbuf_putc(&sb, '/');
                                strbuf_put(&sb, p, l);
                        }
                        p = e;
                }
                if (sb.len == 0)
                        strbuf_putc(&sb, '/');
                size_t nl;
                char *next = strbuf_detach(&sb, &nl);
                if (!next)
                        return -ENOMEM;
                free(cur);
                cur = next;
        }
        *ret = TAKE_PTR(cur);
        return 0;
}

/* Tombstones every node strictly below path (not path itself, never "/"). */
static bool remove_below(Tree *t, const char *path) {
        size_t l = strlen(path);
        bool root = l == 1 && path[0] == '/', any = false;
        for (size_t i = 0; i < t->n_slots; i++) {
                TreeNode *n = t->slots[i];
                if (!n || n == TOMBSTONE)
                        continue;
                if (root ? strcmp(n->path, "/") != 0 : strncmp(n->path, path, l) == 0 && n->path[l] == '/') {
                        tree_node_free(n);
                        t->slots[i] = TOMBSTONE;
                        t->n_nodes--;
                        any = true;
                }
        }
        return any;
}

/* Puts n (whose path hashes to h) into its slot; its parents exist. */
static int insert(Tree *t, TreeNode *n, uint64_t h) {
        if ((t->n_used + 1) * 2 > t->n_slots) {
                int r = grow(t);
                if (r < 0) {
                        tree_node_free(n);
                        return r;
                }
        }
        bool found;
        size_t i = find_slot_h(t, n->path, strlen(n->path), h, &found);
        if (found) {
                TreeNode *old = t->slots[i];
                if (old->type == TREE_DIR && n->type != TREE_DIR) {
                        /* What was below a directory cannot stay below a
                         * file or symlink: it goes with the directory. */
                        t->slots[i] = n; /* not a tombstone while scanning */
                        (void) remove_below(t, n->path);
                }
                tree_node_free(old);
        } else {
                if (!t->slots[i])
                        t->n_used++;
                t->n_nodes++;
        }
        t->slots[i] = n;
        t->hashes[i] = h;
        return 0;
}

/* Makes the missing parent directories of path: linear in its length,
 * however deep (the deepest existing one is found from the end). */
static int ensure_parents(Tree *t, const char *path) {
        _cleanup_(prefixes_release) Prefixes px = {};
        int r = prefixes_make(path, &px);
        if (r < 0)
                return r;
        TreeNode *n;
        size_t k = prefixes_existing(t, path, &px, &n);
        if (n && n->type != TREE_DIR)
                return -ENOTDIR;
        for (; k < px.n; k++) {
                TreeNode *d = new0(TreeNode, 1);
                if (!d)
                        return -ENOMEM;
                d->path = strndup(path, px.len[k]);
                if (!d->path) {
                        free(d);
                        return -ENOMEM;
                }
                d->type = TREE_DIR;
                d->mode = 0755;
                d->mtime = t->mtime;
                r = insert(t, d, px.hash[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int tree_add(Tree *t, TreeNode *n, TreeNode **ret) {
        int r = 0;
        if (strcmp(n->path, "/") != 0)
                r = ensure_parents(t, n->path);
        if (r < 0) {
                tree_node_free(n);
                return r;
        }
        r = insert(t, n, path_hash_n(n->path, strlen(n->path)));
        if (r < 0)
                return r;
        if (ret)
                *ret = n;
        return 0;
}

static TreeNode *node_new(const char *path, TreeType type, uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime,
                          int *r) {
        TreeNode *n = new0(TreeNode, 1);
        if (!n) {
                *r = -ENOMEM;
                return NULL;
        }
        *r = tree_path_normalize(path, &n->path);
        if (*r < 0) {
                free(n);
                return NULL;
        }
        n->type = type;
        n->mode = mode & 07777;
        n->uid = uid;
        n->gid = gid;
        n->mtime = mtime;
        return n;
}

int tree_add_dir(Tree *t, const char *path, uint32_t mode, uint32_t uid, uint32_t gid, TreeNode **ret) {
        int r;
        TreeNode *n = node_new(path, TREE_DIR, mode, uid, gid, t->mtime, &r);
        return n ? tree_add(t, n, ret) : r;
}

int tree_add_file(Tree *t, const char *path, const void *data, size_t size, uint32_t mode, uint32_t uid, uint32_t gid,
                  TreeNode **ret) {
        int r;
        TreeNode *n = node_new(path, TREE_REG, mode, uid, gid, t->mtime, &r);
        if (!n)
                return r;
        n->blob = tree_blob_new(data, size);
        if (!n->blob) {
                tree_node_free(n);
                return -ENOMEM;
        }
        return tree_add(t, n, ret);
}

int tree_add_blob(Tree *t, const char *path, TreeBlob *blob, uint32_t mode, uint32_t uid, uint32_t gid,
                  TreeNode **ret) {
        int r;
        TreeNode *n = node_new(path, TREE_REG, mode, uid, gid, t->mtime, &r);
        if (!n)
                return r;
        n->blob = blob ? tree_blob_ref(blob) : NULL;
        return tree_add(t, n, ret);
}

int tree_add_symlink(Tree *t, const char *path, const char *target, TreeNode **ret) {
        int r;
        TreeNode *n = node_new(path, TREE_SYMLINK, 0777, 0, 0, t->mtime, &r);
        if (!n)
                return r;
        n->target = strdup(target);
        if (!n->target) {
                tree_node_free(n);
                return -ENOMEM;
        }
        return tree_add(t, n, ret);
}

int tree_remove(Tree *t, const char *path) {
        bool any = remove_below(t, path);
        if (strcmp(path, "/") != 0) { /* the root stays */
                bool found;
                size_t i = find_slot(t, path, &found);
                if (found) {
                        tree_node_free(t->slots[i]);
                        t->slots[i] = TOMBSTONE;
                        t->n_nodes--;
                        any = true;
                }
        }
        return any ? 0 : -ENOENT;
}

static int xattr_cmp(const void *a, const void *b) {
        return strcmp(((const TreeXattr *) a)->name, ((const TreeXattr *) b)->name);
}

int tree_node_set_xattr(TreeNode *n, const char *name, const void *value, size_t size) {
        uint8_t *v = malloc(size ? size : 1);
        if (!v)
                return -ENOMEM;
        if (size)
                memcpy(v, value, size);
        for (size_t i = 0; i < n->n_xattrs; i++)
                if (strcmp(n->xattrs[i].name, name) == 0) {
                        free(n->xattrs[i].value);
                        n->xattrs[i].value = v;
                        n->xattrs[i].size = size;
                        return 0;
                }
        TreeXattr *x = realloc(n->xattrs, (n->n_xattrs + 1) * sizeof(TreeXattr));
        if (!x) {
                free(v);
                return -ENOMEM;
        }
        n->xattrs = x;
        x[n->n_xattrs] = (TreeXattr) { .name = strdup(name), .value = v, .size = size };
        if (!x[n->n_xattrs].name) {
                free(v);
                return -ENOMEM;
        }
        n->n_xattrs++;
        qsort(n->xattrs, n->n_xattrs, sizeof(TreeXattr), xattr_cmp);
        return 0;
}

static int node_ptr_cmp(const void *a, const void *b) {
        return strcmp((*(TreeNode *const *) a)->path, (*(TreeNode *const *) b)->path);
}

int tree_list(const Tree *t, TreeNode ***ret, size_t *ret_n) {
        TreeNode **v = new0(TreeNode *, t->n_nodes);
        if (!v)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < t->n_slots; i++)
                if (t->slots[i] && t->slots[i] != TOMBSTONE)
                        v[k++] = t->slots[i];
        if (k > 1)
                qsort(v, k, sizeof(TreeNode *), node_ptr_cmp);
        *ret = v;
        *ret_n = k;
        return 0;
}

size_t tree_size(const Tree *t) {
        return t->n_nodes;
}

int64_t tree_mtime(const Tree *t) {
        return t->mtime;
}

uint64_t tree_new_link_id(Tree *t) {
        return ++t->next_link_id;
}

/* name:...:id:... lines of /etc/passwd (id in field 3) or /etc/group (field 3). */
static int lookup_id(const Tree *t, const char *file, const char *name, uint32_t *ret) {
        TreeNode *n = tree_get(t, file);
        if (!n || n->type != TREE_REG || !n->blob)
                return -ENOENT;
        /* Called for every file installed: read in place when in memory. */
        _cleanup_free_ uint8_t *copy = NULL;
        if (tree_blob_in_file(n->blob)) {
                int r = tree_blob_load(n->blob, (size_t) 64 << 20, &copy, NULL);
                if (r < 0)
                        return r == -EFBIG ? -ENOENT : r;
        }
        const char *p = (const char *) (copy ? copy : n->blob->data), *end = p + n->blob->size;
        size_t nl = strlen(name);
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                if (!eol)
                        eol = end;
                if ((size_t) (eol - p) > nl + 1 && memcmp(p, name, nl) == 0 && p[nl] == ':') {
                        const char *f = memchr(p + nl + 1, ':', (size_t) (eol - p - nl - 1)); /* after the password */
                        if (f) {
                                uint64_t v = 0;
                                const char *q = f + 1;
                                bool digits = false;
                                while (q < eol && *q >= '0' && *q <= '9' && v <= UINT32_MAX) {
                                        v = v * 10 + (uint64_t) (*q++ - '0');
                                        digits = true;
                                }
                                if (digits && q < eol && *q == ':' && v <= UINT32_MAX) {
                                        *ret = (uint32_t) v;
                                        return 0;
                                }
                        }
                }
                p = eol + 1;
        }
        return -ENOENT;
}

int tree_lookup_user(const Tree *t, const char *name, uint32_t *ret) {
        if (strcmp(name, "root") == 0) {
                *ret = 0;
                return 0;
        }
        return lookup_id(t, "/etc/passwd", name, ret);
}

int tree_lookup_group(const Tree *t, const char *name, uint32_t *ret) {
        if (strcmp(name, "root") == 0) {
                *ret = 0;
                return 0;
        }
        return lookup_id(t, "/etc/group", name, ret);
}

uint32_t tree_type_to_mode(TreeType t) {
        static const uint32_t m[_TREE_TYPE_MAX] = { S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK };
        return t >= 0 && t < _TREE_TYPE_MAX ? m[t] : 0;
}

TreeType tree_type_from_mode(uint32_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG: return TREE_REG;
        case S_IFDIR: return TREE_DIR;
        case S_IFLNK: return TREE_SYMLINK;
        case S_IFCHR: return TREE_CHR;
        case S_IFBLK: return TREE_BLK;
        case S_IFIFO: return TREE_FIFO;
        case S_IFSOCK: return TREE_SOCK;
        default: return _TREE_TYPE_INVALID;
        }
}
