/* SPDX-License-Identifier: MIT */

/* An ext2/3/4 file system of a disk image read into a tree (load.h), for
 * `slipway customize`: every inode's type, mode, owner, mtime, xattrs,
 * device number and symlink target, hard links as link groups, and regular
 * files as blobs that read the image when a writer asks (their extents
 * mapped to the disk's bytes, holes and unwritten extents reading as zeros):
 * nothing is copied out of the image while it is loaded.
 *
 * Everything comes from untrusted bytes: extents must lie within the file
 * system and not overlap, names may not hold '/' or NUL, directories are
 * followed once each and to EXT4_MAX_DEPTH, and the number of entries is
 * bounded by the caller. */

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "inspect/disk.h"
#include "inspect/ext4-internal.h"
#include "inspect/load.h"

/* ---- file contents through the disk ---- */

typedef struct Ext {
        uint64_t lblk, pblk; /* file block, file system block */
        uint32_t len;        /* blocks */
} Ext;

typedef struct FileMap {
        ImageDisk *disk;
        uint64_t base;      /* the file system's offset on the disk */
        uint32_t blocksize;
        Ext *ext;           /* sorted by lblk, apart */
        size_t n;
} FileMap;

static void file_map_free(void *data) {
        FileMap *m = data;
        image_disk_unref(m->disk);
        free(m->ext);
        free(m);
}

static int file_map_read(void *data, uint64_t off, void *buf, size_t n) {
        const FileMap *m = data;
        uint8_t *p = buf;
        while (n > 0) {
                uint64_t blk = off / m->blocksize;
                /* The last extent starting at or before blk. */
                size_t lo = 0, hi = m->n;
                while (lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        if (m->ext[mid].lblk <= blk)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                const Ext *e = lo > 0 ? &m->ext[lo - 1] : NULL;
                size_t k;
                if (e && blk < e->lblk + e->len) {
                        uint64_t end = (e->lblk + e->len) * m->blocksize;
                        k = (size_t) MIN((uint64_t) n, end - off);
                        uint64_t at = m->base + (e->pblk + (blk - e->lblk)) * m->blocksize + off % m->blocksize;
                        int r = image_disk_read(m->disk, at, p, k);
                        if (r < 0)
                                return r;
                } else {
                        /* A hole: up to the next extent. */
                        uint64_t next = lo < m->n ? m->ext[lo].lblk * m->blocksize : UINT64_MAX;
                        k = (size_t) MIN((uint64_t) n, next - off);
                        memset(p, 0, k);
                }
                p += k;
                off += k;
                n -= k;
        }
        return 0;
}

static const TreeBlobReader file_map_reader = { .read = file_map_read, .free = file_map_free };

typedef struct Loader {
        ext2_filsys fs;
        ImageDisk *disk;
        uint64_t base;
        Tree *t;
        const char *prefix; /* where the file system's root is in the tree: "" for "/" */
        size_t max_entries, n_entries;
        Diagnostics *d;
        U32Set seen_dirs;
        /* Inodes with more than one link: the node made first for each. */
        struct {
                uint32_t ino;
                uint64_t link_id;
                TreeBlob *blob;
        } *links;
        size_t n_links, allocated_links;
        /* ino -> index into links + 1 (0: empty), open addressing. */
        size_t *link_slots;
        size_t n_link_slots; /* a power of two, over twice n_links */
        /* Extents of the file being mapped. */
        Ext *ext;
        size_t n_ext, allocated_ext;
        bool oom;
} Loader;

static size_t slot_of(uint32_t ino, size_t n) {
        return (size_t) (ino * UINT32_C(2654435761)) & (n - 1);
}

/* The index into l->links of inode ino, or SIZE_MAX. */
static size_t link_find(const Loader *l, uint32_t ino) {
        if (l->n_link_slots == 0)
                return SIZE_MAX;
        for (size_t k = slot_of(ino, l->n_link_slots);; k = (k + 1) & (l->n_link_slots - 1)) {
                size_t v = l->link_slots[k];
                if (v == 0)
                        return SIZE_MAX;
                if (l->links[v - 1].ino == ino)
                        return v - 1;
        }
}

/* Puts the last entry of l->links into the table (grown when half full). */
static int link_index(Loader *l) {
        if (2 * l->n_links > l->n_link_slots) {
                size_t n = l->n_link_slots ? l->n_link_slots * 2 : 64;
                size_t *t = new0(size_t, n);
                if (!t)
                        return -ENOMEM;
                free(l->link_slots);
                l->link_slots = t;
                l->n_link_slots = n;
                for (size_t i = 0; i < l->n_links; i++) {
                        size_t k = slot_of(l->links[i].ino, n);
                        while (t[k])
                                k = (k + 1) & (n - 1);
                        t[k] = i + 1;
                }
                return 0;
        }
        size_t k = slot_of(l->links[l->n_links - 1].ino, l->n_link_slots);
        while (l->link_slots[k])
                k = (k + 1) & (l->n_link_slots - 1);
        l->link_slots[k] = l->n_links;
        return 0;
}

static int add_ext(Loader *l, uint64_t lblk, uint64_t pblk, uint64_t len) {
        if (len == 0)
                return 0;
        if (pblk < l->fs->super->s_first_data_block || pblk > ext2fs_blocks_count(l->fs->super) ||
            len > ext2fs_blocks_count(l->fs->super) - pblk)
                return -EBADMSG;
        if (l->n_ext > 0) {
                Ext *prev = &l->ext[l->n_ext - 1];
                if (lblk < prev->lblk + prev->len)
                        return -EBADMSG; /* out of order or overlapping */
                if (prev->lblk + prev->len == lblk && prev->pblk + prev->len == pblk && prev->len + len <= UINT32_MAX) {
                        prev->len += (uint32_t) len;
                        return 0;
                }
        }
        if (len > UINT32_MAX)
                return -EBADMSG;
        if (!GREEDY_REALLOC(l->ext, l->allocated_ext, l->n_ext + 1))
                return -ENOMEM;
        l->ext[l->n_ext++] = (Ext) { .lblk = lblk, .pblk = pblk, .len = (uint32_t) len };
        return 0;
}

typedef struct IterState {
        Loader *l;
        int r;
} IterState;

static int block_fn(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref_blk, int ref_offset,
                    void *priv) {
        IterState *s = priv;
        if (blockcnt < 0)
                return 0; /* metadata (indirect blocks): not contents */
        s->r = add_ext(s->l, (uint64_t) blockcnt, *blocknr, 1);
        return s->r < 0 ? BLOCK_ABORT : 0;
}

/* The extents of inode ino into l->ext: the extent tree's leaves (unwritten
 * ones are holes: they read as zeros), or the block map of an ext2/3 file. */
static int map_file(Loader *l, ext2_ino_t ino, struct ext2_inode *in) {
        l->n_ext = 0;
        if (in->i_flags & EXT4_EXTENTS_FL) {
                ext2_extent_handle_t h = NULL;
                if (ext2fs_extent_open2(l->fs, ino, in, &h) != 0)
                        return -EBADMSG;
                struct ext2fs_extent e;
                errcode_t err = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &e);
                int r = 0;
                while (err == 0 && r >= 0) {
                        if ((e.e_flags & EXT2_EXTENT_FLAGS_LEAF) && !(e.e_flags & EXT2_EXTENT_FLAGS_UNINIT))
                                r = add_ext(l, e.e_lblk, e.e_pblk, e.e_len);
                        err = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &e);
                }
                ext2fs_extent_free(h);
                if (r < 0)
                        return r;
                return err == EXT2_ET_EXTENT_NO_NEXT ? 0 : -EBADMSG;
        }
        IterState s = { .l = l };
        errcode_t err = ext2fs_block_iterate3(l->fs, ino, BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY, NULL, block_fn, &s);
        if (s.r < 0)
                return s.r;
        return err == 0 ? 0 : -EBADMSG;
}

/* The contents of a regular file (or a slow symlink's target) as a blob:
 * inline data in memory, else a FileMap over the disk. */
static int file_blob(Loader *l, ext2_ino_t ino, struct ext2_inode *in, uint64_t size, TreeBlob **ret) {
        if (size == 0) {
                *ret = NULL;
                return 0;
        }
        if (in->i_flags & EXT4_INLINE_DATA_FL) {
                size_t isize = 0;
                if (ext2fs_inline_data_size(l->fs, ino, &isize) != 0 || isize < size)
                        return -EBADMSG;
                _cleanup_free_ uint8_t *buf = malloc(isize);
                if (!buf)
                        return -ENOMEM;
                if (ext2fs_inline_data_get(l->fs, ino, in, buf, &isize) != 0)
                        return -EBADMSG;
                *ret = tree_blob_new(buf, (size_t) size);
                return *ret ? 0 : -ENOMEM;
        }
        int r = map_file(l, ino, in);
        if (r < 0)
                return r;
        FileMap *m = new0(FileMap, 1);
        if (!m)
                return -ENOMEM;
        *m = (FileMap) { .disk = image_disk_ref(l->disk), .base = l->base, .blocksize = l->fs->blocksize };
        /* Only what lies within the file's size is ever read. */
        uint64_t blocks = (size + l->fs->blocksize - 1) / l->fs->blocksize;
        size_t keep = 0;
        while (keep < l->n_ext && l->ext[keep].lblk < blocks)
                keep++;
        if (keep > 0) {
                m->ext = new0(Ext, keep);
                if (m->ext)
                        memcpy(m->ext, l->ext, keep * sizeof(Ext));
                if (!m->ext) {
                        file_map_free(m);
                        return -ENOMEM;
                }
                m->n = keep;
        }
        *ret = tree_blob_new_reader(&file_map_reader, m, (size_t) size);
        return *ret ? 0 : -ENOMEM;
}

typedef struct XattrState {
        TreeNode *n;
        int r;
} XattrState;

static int xattr_fn(char *name, char *value, size_t len, void *data) {
        XattrState *s = data;
        /* system.data is where inline data lives, not an attribute of the file. */
        if (strcmp(name, "system.data") == 0)
                return 0;
        s->r = tree_node_set_xattr(s->n, name, value, len);
        return s->r < 0 ? XATTR_ABORT : 0;
}

static int load_xattrs(Loader *l, ext2_ino_t ino, TreeNode *n) {
        struct ext2_xattr_handle *h = NULL;
        if (ext2fs_xattrs_open(l->fs, ino, &h) != 0)
                return -EBADMSG;
        XattrState s = { .n = n };
        errcode_t err = ext2fs_xattrs_read(h);
        if (err == 0)
                err = ext2fs_xattrs_iterate(h, xattr_fn, &s);
        ext2fs_xattrs_close(&h);
        if (s.r < 0)
                return s.r;
        return err == 0 ? 0 : -EBADMSG;
}

/* The inode's mtime with the epoch bits of a large inode (ext4 wiki "Inode
 * Timestamps": the low 2 bits of i_mtime_extra extend the seconds). */
static int64_t inode_mtime(const struct ext2_inode_large *in, size_t inode_size) {
        int64_t t = (int32_t) in->i_mtime;
        if (inode_size > EXT2_GOOD_OLD_INODE_SIZE &&
            (size_t) EXT2_GOOD_OLD_INODE_SIZE + in->i_extra_isize >= offsetof(struct ext2_inode_large, i_mtime_extra) + 4)
                t += (int64_t) (in->i_mtime_extra & 3) << 32;
        return t;
}

static int add_node(Loader *l, const char *path, ext2_ino_t ino, bool *ret_dir) {
        uint8_t raw[1024] = {};
        size_t isize = MIN((size_t) EXT2_INODE_SIZE(l->fs->super), sizeof raw);
        struct ext2_inode_large *big = (struct ext2_inode_large *) raw;
        struct ext2_inode *in = (struct ext2_inode *) raw;
        errcode_t err = ext2fs_read_inode_full(l->fs, ino, in, (int) isize);
        if (err != 0) {
                diag_error(l->d, NULL, "ext4: '%s': cannot read inode %u: %s", path, ino, error_message(err));
                return -EBADMSG;
        }
        if (++l->n_entries > l->max_entries) {
                diag_error(l->d, NULL, "more than %zu entries", l->max_entries);
                return -EFBIG;
        }
        TreeType type = tree_type_from_mode(LINUX_S_IFMT & in->i_mode);
        if (type < 0) {
                diag_error(l->d, NULL, "ext4: '%s': inode %u has an unknown type (mode %o)", path, ino, in->i_mode);
                return -EBADMSG;
        }
        *ret_dir = type == TREE_DIR;

        _cleanup_free_ char *full = NULL;
        if (asprintf(&full, "%s%s", l->prefix, strcmp(path, "/") == 0 && l->prefix[0] ? "" : path) < 0)
                return -ENOMEM;

        TreeNode *n = new0(TreeNode, 1);
        if (!n)
                return -ENOMEM;
        n->path = TAKE_PTR(full);
        n->type = type;
        n->mode = in->i_mode & 07777;
        n->uid = inode_uid(*in);
        n->gid = inode_gid(*in);
        n->mtime = inode_mtime(big, isize);
        int r = 0;
        uint64_t size = EXT2_I_SIZE(in);
        if (type == TREE_CHR || type == TREE_BLK)
                ext4_inode_rdev(in, &n->rdev_major, &n->rdev_minor);
        else if (type == TREE_SYMLINK) {
                if (size == 0 || size >= EXT4_SYMLINK_MAX) {
                        diag_error(l->d, NULL, "ext4: '%s': a symbolic link of %llu bytes", path, (unsigned long long) size);
                        r = -EBADMSG;
                } else if (ext2fs_is_fast_symlink(in) && !(in->i_flags & EXT4_INLINE_DATA_FL)) {
                        n->target = strndup((const char *) in->i_block, MIN((size_t) size, sizeof in->i_block));
                        r = n->target ? 0 : -ENOMEM;
                } else {
                        _cleanup_(tree_blob_unrefp) TreeBlob *b = NULL;
                        r = file_blob(l, ino, in, size, &b);
                        if (r >= 0)
                                r = tree_blob_load(b, EXT4_SYMLINK_MAX, (uint8_t **) &n->target, NULL);
                }
                if (r >= 0 && (strlen(n->target) != size)) {
                        diag_error(l->d, NULL, "ext4: '%s': the symbolic link's target holds a NUL byte", path);
                        r = -EBADMSG;
                }
        } else if (type == TREE_REG) {
                /* Hard links share the first name's blob and link id. */
                bool linked = false;
                if (in->i_links_count > 1) {
                        size_t i = link_find(l, ino);
                        if (i != SIZE_MAX) {
                                n->link_id = l->links[i].link_id;
                                n->blob = tree_blob_ref(l->links[i].blob);
                                linked = true;
                        }
                }
                if (!linked) {
                        r = file_blob(l, ino, in, size, &n->blob);
                        if (r == -EBADMSG)
                                diag_error(l->d, NULL, "ext4: '%s': the file's block map is corrupt", path);
                        if (r >= 0 && in->i_links_count > 1) {
                                if (!GREEDY_REALLOC(l->links, l->allocated_links, l->n_links + 1))
                                        r = -ENOMEM;
                                else {
                                        n->link_id = tree_new_link_id(l->t);
                                        l->links[l->n_links].ino = ino;
                                        l->links[l->n_links].link_id = n->link_id;
                                        l->links[l->n_links].blob = tree_blob_ref(n->blob);
                                        l->n_links++;
                                        r = link_index(l);
                                }
                        }
                }
        }
        if (r >= 0 && (r = load_xattrs(l, ino, n)) == -EBADMSG)
                diag_error(l->d, NULL, "ext4: '%s': cannot read its extended attributes", path);
        if (r < 0) {
                tree_node_free(n);
                return r;
        }
        r = tree_add(l->t, n, NULL);
        if (r == -ENOTDIR)
                diag_error(l->d, NULL, "ext4: '%s': a parent in the tree is not a directory", path);
        return r;
}

typedef struct Child {
        char *name;
        ext2_ino_t ino;
} Child;

typedef struct DirState {
        Child *c;
        size_t n, allocated;
        int r;
} DirState;

static int collect(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf,
                   void *userdata) {
        DirState *s = userdata;
        if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || dirent->inode == 0)
                return 0;
        int len = ext2fs_dirent_name_len(dirent);
        if (len <= 0 || memchr(dirent->name, '/', (size_t) len) || memchr(dirent->name, 0, (size_t) len) ||
            (len == 1 && dirent->name[0] == '.') || (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
                return 0; /* a name no path can hold; e2fsck would remove it */
        char *name = NULL;
        if (!GREEDY_REALLOC(s->c, s->allocated, s->n + 1) || !(name = strndup(dirent->name, (size_t) len))) {
                s->r = -ENOMEM;
                return DIRENT_ABORT;
        }
        s->c[s->n++] = (Child) { .name = name, .ino = dirent->inode };
        return 0;
}

static int child_cmp(const void *a, const void *b) {
        return strcmp(((const Child *) a)->name, ((const Child *) b)->name);
}

static int load_dir(Loader *l, ext2_ino_t dir, const char *path, unsigned depth) {
        if (depth > EXT4_MAX_DEPTH) {
                diag_error(l->d, NULL, "ext4: '%s': directories nested more than %u deep", path, EXT4_MAX_DEPTH);
                return -EBADMSG;
        }
        int r = u32_set_add(&l->seen_dirs, dir);
        if (r < 0)
                return r;
        if (r == 0) {
                diag_error(l->d, NULL, "ext4: '%s': a directory linked twice", path);
                return -EBADMSG;
        }
        DirState s = {};
        errcode_t err = ext2fs_dir_iterate2(l->fs, dir, 0, NULL, collect, &s);
        r = s.r;
        if (r >= 0 && err != 0) {
                diag_error(l->d, NULL, "ext4: '%s': cannot read the directory: %s", path, error_message(err));
                r = -EBADMSG;
        }
        if (r >= 0 && s.n > 1)
                qsort(s.c, s.n, sizeof(Child), child_cmp);
        for (size_t i = 0; i < s.n && r >= 0; i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s%s%s", path, strcmp(path, "/") == 0 ? "" : "/", s.c[i].name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                bool is_dir = false;
                r = add_node(l, p, s.c[i].ino, &is_dir);
                if (r >= 0 && is_dir)
                        r = load_dir(l, s.c[i].ino, p, depth + 1);
        }
        for (size_t i = 0; i < s.n; i++)
                free(s.c[i].name);
        free(s.c);
        return r;
}

int ext4_load_tree(ImageDisk *disk, uint64_t offset, uint64_t size, Tree *t, const char *prefix, size_t max_entries,
                   LoadedFs *ret, Diagnostics *d) {
        _cleanup_(block_source_freep) BlockSource *part = NULL;
        int r = block_source_slice(disk->source, offset, size, &part);
        if (r < 0)
                return r;
        ext2_filsys fs = NULL;
        r = ext4_open_source(part, &fs, d);
        if (r < 0)
                return r;
        if (ext2fs_has_feature_journal_needs_recovery(fs->super)) {
                ext2fs_close_free(&fs);
                diag_error(d, NULL, "ext4: the journal needs recovery (the file system was not unmounted "
                                    "cleanly); boot the image once or run e2fsck on it first");
                return -EBADMSG;
        }
        Loader l = { .fs = fs, .disk = disk, .base = offset, .t = t, .prefix = strcmp(prefix, "/") == 0 ? "" : prefix,
                     .max_entries = max_entries, .d = d };
        bool is_dir = false;
        r = add_node(&l, "/", EXT2_ROOT_INO, &is_dir);
        if (r >= 0 && !is_dir) {
                diag_error(d, NULL, "ext4: the root inode is not a directory");
                r = -EBADMSG;
        }
        if (r >= 0)
                r = load_dir(&l, EXT2_ROOT_INO, "/", 0);
        if (r >= 0) {
                *ret = (LoadedFs) { .type = "ext4", .n_entries = l.n_entries };
                memcpy(ret->uuid, fs->super->s_uuid, 16);
                memcpy(ret->hash_seed, fs->super->s_hash_seed, 16);
                char label[sizeof fs->super->s_volume_name + 1] = {};
                memcpy(label, fs->super->s_volume_name, sizeof fs->super->s_volume_name);
                if (label[0] && !(ret->label = strdup(label)))
                        r = -ENOMEM;
        }
        for (size_t i = 0; i < l.n_links; i++)
                tree_blob_unref(l.links[i].blob);
        free(l.links);
        free(l.link_slots);
        free(l.ext);
        u32_set_release(&l.seen_dirs);
        ext2fs_close_free(&fs);
        return r;
}
