/* SPDX-License-Identifier: MIT */
/* ext4 from a tree through libext2fs: the steps of mke2fs (misc/mke2fs.c in
 * e2fsprogs 1.47) with fixed UUID, hash seed and time, then the tree's
 * nodes in path order, so that every directory exists before its contents.
 * On-disk layout references: the kernel's Documentation/filesystems/ext4
 * ("Hash Tree Directories", "Inode Table", "Extended Attributes"). */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "basic/macro.h"
#include "fs/ext4.h"

#define BLOCK_SIZE 4096u
#define INODE_SIZE 256u
#define MIN_SIZE (16u * 1024 * 1024)
#define INODE_RATIO 16384u /* bytes per inode, as mke2fs.conf's default */
#define LPF_BLOCKS 4       /* lost+found: 16 KiB, as mke2fs */

static_assert(sizeof(struct ext2_inode_large) <= INODE_SIZE, "");

/* A whole on-disk inode: the fixed part, the large part and the in-inode
 * xattr area, so a read-modify-write keeps everything. */
typedef union InodeBuf {
        struct ext2_inode small;
        struct ext2_inode_large large;
        uint8_t raw[INODE_SIZE];
} InodeBuf;

typedef struct Entry {
        const TreeNode *node;
        const char *path;     /* in the file system: "/", "/etc", ... */
        size_t parent;        /* index of the parent directory's entry */
        size_t primary;       /* hard links: index of the group's first entry; else itself */
        ext2_ino_t ino;
        unsigned nlink;       /* names of a hard-link group */
        uint64_t dir_bytes;   /* directories: bytes of directory entries */
} Entry;

typedef struct Plan {
        Entry *entries;
        size_t n;
        uint64_t data_blocks; /* file data, directories, slow symlinks, xattr blocks */
        uint64_t n_inodes;    /* including the reserved ones and lost+found */
        bool lpf_in_tree;     /* the tree has /lost+found (a directory) */
        bool lpf_blocked;     /* the tree has /lost+found that is not a directory */
} Plan;

static void plan_release(Plan *p) {
        free(p->entries);
        *p = (Plan) {};
}

static int errcode_to_errno(errcode_t e) {
        switch (e) {
        case 0:
                return 0;
        case EXT2_ET_BLOCK_ALLOC_FAIL:
        case EXT2_ET_INODE_ALLOC_FAIL:
        case EXT2_ET_DIR_NO_SPACE:
        case EXT2_ET_TOOSMALL:
        case EXT2_ET_RES_GDT_BLOCKS:
        case EXT2_ET_JOURNAL_TOO_SMALL:
        case EXT2_ET_TOO_MANY_INODES:
        case EXT2_ET_NO_JOURNAL_SB:
                return -ENOSPC;
        case EXT2_ET_EA_NO_SPACE:
        case EXT2_ET_EA_INODE_CORRUPTED:
                return -E2BIG;
        case EXT2_ET_NO_MEMORY:
                return -ENOMEM;
        case EXT2_ET_INVALID_ARGUMENT:
                return -EINVAL;
        default:
                /* I/O errors come through as plain errno values. */
                if (e > 0 && e < 4096)
                        return -(int) e;
                return -EIO;
        }
}

static uint64_t div_round_up(uint64_t a, uint64_t b) {
        return (a + b - 1) / b;
}

static int entry_cmp(const void *key, const void *elem) {
        return strcmp(key, ((const Entry *) elem)->path);
}

static int link_cmp(const void *a, const void *b) {
        const Entry *const *x = a, *const *y = b;
        if ((*x)->node->link_id != (*y)->node->link_id)
                return (*x)->node->link_id < (*y)->node->link_id ? -1 : 1;
        return *x < *y ? -1 : *x > *y; /* path order within a group */
}

static const char *base_name(const char *path) {
        return strrchr(path, '/') + 1;
}

/* Directory entry size (ext4 "Linear (Classic) Directories"). */
static uint64_t dirent_size(size_t name_len) {
        return (8 + name_len + 3) & ~(uint64_t) 3;
}

/* Blocks of a directory with that many bytes of entries: one block while
 * they fit (with ".", ".." and the checksum tail), else an htree whose
 * leaves, split in halves as they fill, are on average at least half full. */
static uint64_t dir_blocks(uint64_t bytes) {
        if (bytes + 24 <= BLOCK_SIZE - 12)
                return 1;
        uint64_t leaves = 2 * div_round_up(bytes, BLOCK_SIZE - 12) + 1;
        return 1 + leaves + leaves / 500;
}

static bool dir_wants_htree(uint64_t bytes) {
        return bytes + 24 > BLOCK_SIZE - 12;
}

/* Whether the xattrs fit into the inode's extra space (256-byte inode, 32
 * bytes of extra fields, a 4-byte header and a 4-byte end marker), as
 * libext2fs places them; otherwise they take a block. */
static bool xattrs_fit_inode(const TreeNode *n) {
        uint64_t sz = 0;
        for (size_t i = 0; i < n->n_xattrs; i++) {
                const char *name = n->xattrs[i].name;
                const char *dot = strchr(name, '.');
                size_t nl = dot ? strlen(dot + 1) : strlen(name);
                sz += 16 + ((nl + 3) & ~(size_t) 3) + ((n->xattrs[i].size + 3) & ~(size_t) 3);
        }
        return sz + 8 <= INODE_SIZE - EXT2_GOOD_OLD_INODE_SIZE - 32;
}

static int plan_make(const Tree *t, const FsOptions *o, Plan *ret) {
        _cleanup_free_ FsNode *sel = NULL;
        size_t n_sel = 0;
        Plan p = {};
        int r;

        r = fs_select(t, o, &sel, &n_sel);
        if (r < 0)
                return r;
        p.entries = calloc(n_sel, sizeof(Entry));
        if (!p.entries)
                return -ENOMEM;
        for (size_t i = 0; i < n_sel; i++)
                p.entries[i] = (Entry) { .node = sel[i].node, .path = sel[i].path, .primary = i };
        p.n = n_sel;

        /* Parents, directory sizes, names. */
        for (size_t i = 1; i < p.n; i++) {
                Entry *e = &p.entries[i];
                const char *name = base_name(e->path);
                size_t plen = (size_t) (name - 1 - e->path);
                char parent[PATH_MAX];

                if (strlen(name) > EXT2_NAME_LEN) {
                        r = -ENAMETOOLONG;
                        goto finish;
                }
                if (plen >= sizeof parent) {
                        r = -ENAMETOOLONG;
                        goto finish;
                }
                if (plen == 0)
                        strcpy(parent, "/");
                else {
                        memcpy(parent, e->path, plen);
                        parent[plen] = 0;
                }
                /* Entries are sorted, so the parent is among those before. */
                Entry *pe = bsearch(parent, p.entries, i, sizeof(Entry), entry_cmp);
                if (!pe || pe->node->type != TREE_DIR) {
                        r = -ENOTDIR;
                        goto finish;
                }
                e->parent = (size_t) (pe - p.entries);
                pe->dir_bytes += dirent_size(strlen(name));
                if (e->parent == 0 && strcmp(name, "lost+found") == 0) {
                        if (e->node->type == TREE_DIR)
                                p.lpf_in_tree = true;
                        else
                                p.lpf_blocked = true;
                }
        }

        /* Hard-link groups: the first name in path order creates the inode. */
        {
                _cleanup_free_ Entry **links = calloc(p.n, sizeof(Entry *));
                size_t n_links = 0;
                if (!links) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t i = 0; i < p.n; i++)
                        if (p.entries[i].node->link_id != 0 && p.entries[i].node->type != TREE_DIR)
                                links[n_links++] = &p.entries[i];
                qsort(links, n_links, sizeof(Entry *), link_cmp);
                for (size_t i = 0; i < n_links;) {
                        size_t j = i;
                        while (j < n_links && links[j]->node->link_id == links[i]->node->link_id) {
                                links[j]->primary = (size_t) (links[i] - p.entries);
                                j++;
                        }
                        links[i]->nlink = (unsigned) (j - i);
                        i = j;
                }
        }

        /* What it needs, for the automatic size: inodes 1 to 10 are
         * reserved, the root is inode 2; lost+found is made as mke2fs does
         * (and taken for the tree's own). */
        p.n_inodes = EXT2_GOOD_OLD_FIRST_INO - 1;
        if (!p.lpf_blocked) {
                p.data_blocks += LPF_BLOCKS;
                if (!p.lpf_in_tree) {
                        p.n_inodes++;
                        p.entries[0].dir_bytes += dirent_size(strlen("lost+found"));
                }
        }
        for (size_t i = 0; i < p.n; i++) {
                const Entry *e = &p.entries[i];
                const TreeNode *n = e->node;

                if (e->primary != i)
                        continue;
                if (i > 0)
                        p.n_inodes++;
                if (n->type == TREE_REG && n->blob) {
                        uint64_t b = div_round_up(n->blob->size, BLOCK_SIZE);
                        p.data_blocks += b + b / 8192; /* + extent tree blocks */
                } else if (n->type == TREE_DIR)
                        p.data_blocks += dir_blocks(e->dir_bytes);
                else if (n->type == TREE_SYMLINK && n->target && strlen(n->target) >= sizeof(((struct ext2_inode *) NULL)->i_block))
                        p.data_blocks++;
                if (n->n_xattrs > 0 && !xattrs_fit_inode(n))
                        p.data_blocks++;
        }

        *ret = p;
        p = (Plan) {};
        r = 0;
finish:
        plan_release(&p);
        return r;
}

/* Inode times: seconds in 32 bits, with the two epoch bits in the _extra
 * field ("Inode Timestamps"); nanoseconds are 0. */
static void set_xtime(__u32 *lo, __u32 *extra, int64_t t) {
        *lo = (__u32) t;
        if (extra)
                *extra = (__u32) (((t - (int64_t) (int32_t) (uint32_t) t) >> 32) & 3);
}

static void inode_set_times(InodeBuf *in, int64_t t) {
        set_xtime(&in->large.i_atime, &in->large.i_atime_extra, t);
        set_xtime(&in->large.i_mtime, &in->large.i_mtime_extra, t);
        set_xtime(&in->large.i_ctime, &in->large.i_ctime_extra, t);
        set_xtime(&in->large.i_crtime, &in->large.i_crtime_extra, t);
}

static void inode_set_owner(InodeBuf *in, uint32_t uid, uint32_t gid) {
        in->large.i_uid = (__u16) uid;
        ext2fs_set_i_uid_high(in->small, uid >> 16);
        in->large.i_gid = (__u16) gid;
        ext2fs_set_i_gid_high(in->small, gid >> 16);
}

static uint32_t node_perms(const TreeNode *n) {
        if (n->type == TREE_SYMLINK && (n->mode & 07777) == 0)
                return 0777;
        return n->mode & 07777;
}

static int node_file_type(TreeType t) {
        switch (t) {
        case TREE_REG:
                return EXT2_FT_REG_FILE;
        case TREE_DIR:
                return EXT2_FT_DIR;
        case TREE_SYMLINK:
                return EXT2_FT_SYMLINK;
        case TREE_CHR:
                return EXT2_FT_CHRDEV;
        case TREE_BLK:
                return EXT2_FT_BLKDEV;
        case TREE_FIFO:
                return EXT2_FT_FIFO;
        case TREE_SOCK:
                return EXT2_FT_SOCK;
        default:
                return EXT2_FT_UNKNOWN;
        }
}

static uint16_t node_type_mode(TreeType t) {
        switch (t) {
        case TREE_REG:
                return LINUX_S_IFREG;
        case TREE_DIR:
                return LINUX_S_IFDIR;
        case TREE_SYMLINK:
                return LINUX_S_IFLNK;
        case TREE_CHR:
                return LINUX_S_IFCHR;
        case TREE_BLK:
                return LINUX_S_IFBLK;
        case TREE_FIFO:
                return LINUX_S_IFIFO;
        case TREE_SOCK:
                return LINUX_S_IFSOCK;
        default:
                return 0;
        }
}

/* A name into a directory. A linear directory that is full grows by a
 * block; an htree grows by itself (ext2fs_link splits its leaves). */
static errcode_t link_name(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft) {
        errcode_t e = ext2fs_link(fs, dir, name, ino, ft);
        if (e != EXT2_ET_DIR_NO_SPACE)
                return e;

        struct ext2_inode di;
        e = ext2fs_read_inode(fs, dir, &di);
        if (e)
                return e;
        if (di.i_flags & EXT2_INDEX_FL)
                return EXT2_ET_DIR_NO_SPACE;
        e = ext2fs_expand_dir(fs, dir);
        if (e)
                return e;
        return ext2fs_link(fs, dir, name, ino, ft);
}

/* Turns a new, empty directory into an htree with one empty leaf, so that
 * ext2fs_link() indexes every entry added after ("Hash Tree Directories":
 * dx_root with "." and ".." whose rec_len covers the block, the root info,
 * the count/limit header, the dx_tail for the checksum). */
static errcode_t make_htree(ext2_filsys fs, ext2_ino_t ino, ext2_ino_t parent) {
        struct ext2_inode di;
        blk64_t blk0;
        errcode_t e;

        e = ext2fs_expand_dir(fs, ino); /* block 1: an empty leaf with its checksum tail */
        if (e)
                return e;
        e = ext2fs_read_inode(fs, ino, &di);
        if (e)
                return e;
        e = ext2fs_bmap2(fs, ino, &di, NULL, 0, 0, NULL, &blk0);
        if (e)
                return e;

        _cleanup_free_ uint8_t *buf = calloc(1, BLOCK_SIZE);
        if (!buf)
                return EXT2_ET_NO_MEMORY;

        struct ext2_dir_entry *dot = (struct ext2_dir_entry *) buf;
        dot->inode = ext2fs_cpu_to_le32(ino);
        e = ext2fs_set_rec_len(fs, 12, dot);
        if (e)
                return e;
        ext2fs_dirent_set_name_len(dot, 1);
        ext2fs_dirent_set_file_type(dot, EXT2_FT_DIR);
        dot->name[0] = '.';

        struct ext2_dir_entry *dotdot = (struct ext2_dir_entry *) (buf + 12);
        dotdot->inode = ext2fs_cpu_to_le32(parent);
        e = ext2fs_set_rec_len(fs, BLOCK_SIZE - 12, dotdot);
        if (e)
                return e;
        ext2fs_dirent_set_name_len(dotdot, 2);
        ext2fs_dirent_set_file_type(dotdot, EXT2_FT_DIR);
        dotdot->name[0] = dotdot->name[1] = '.';

        struct ext2_dx_root_info *info = (struct ext2_dx_root_info *) (buf + 24);
        info->hash_version = fs->super->s_def_hash_version;
        info->info_length = sizeof(struct ext2_dx_root_info);

        struct ext2_dx_countlimit *cl = (struct ext2_dx_countlimit *) (buf + 32);
        struct ext2_dx_entry *ent = (struct ext2_dx_entry *) (buf + 32);
        cl->limit = ext2fs_cpu_to_le16((BLOCK_SIZE - 32 - sizeof(struct ext2_dx_tail)) / sizeof(struct ext2_dx_entry));
        cl->count = ext2fs_cpu_to_le16(1);
        ent[0].block = ext2fs_cpu_to_le32(1);

        e = ext2fs_write_dir_block4(fs, blk0, buf, 0, ino);
        if (e)
                return e;
        di.i_flags |= EXT2_INDEX_FL;
        return ext2fs_write_inode(fs, ino, &di);
}

static bool is_zero(const uint8_t *p, size_t n) {
        static const uint8_t zero[BLOCK_SIZE];
        return memcmp(p, zero, n) == 0;
}

typedef struct DataWrite {
        ext2_file_t f;
        errcode_t e;
        bool seek;
} DataWrite;

static int write_piece(void *userdata, uint64_t at, const void *data, size_t size) {
        DataWrite *w = userdata;
        const uint8_t *p = data;
        /* Pieces start at multiples of TREE_BLOB_CHUNK, itself a multiple of BLOCK_SIZE. */
        for (size_t off = 0; off < size && !w->e; off += BLOCK_SIZE) {
                size_t n = MIN((size_t) BLOCK_SIZE, size - off);
                unsigned got = 0;

                if (is_zero(p + off, n)) {
                        w->seek = true;
                        continue;
                }
                if (w->seek) {
                        w->e = ext2fs_file_llseek(w->f, at + off, EXT2_SEEK_SET, NULL);
                        if (w->e)
                                break;
                        w->seek = false;
                }
                w->e = ext2fs_file_write(w->f, p + off, (unsigned) n, &got);
                if (!w->e && got != n)
                        w->e = EXT2_ET_SHORT_WRITE;
        }
        return w->e ? -EIO : 0;
}

/* File contents, read from the blob in pieces; blocks of zeros are left as holes. */
static errcode_t write_data(ext2_filsys fs, ext2_ino_t ino, const TreeBlob *b) {
        DataWrite w = {};
        errcode_t e, e2;

        static_assert(TREE_BLOB_CHUNK % BLOCK_SIZE == 0, "pieces must be whole blocks");
        e = ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &w.f);
        if (e)
                return e;
        int r = tree_blob_foreach(b, write_piece, &w);
        e = w.e ? w.e : r < 0 ? (errcode_t) -r : 0;
        if (!e)
                e = ext2fs_file_set_size2(w.f, b->size);
        e2 = ext2fs_file_close(w.f);
        return e ? e : e2;
}

static errcode_t write_xattrs(ext2_filsys fs, ext2_ino_t ino, const TreeNode *n) {
        struct ext2_xattr_handle *h = NULL;
        errcode_t e, e2;

        if (n->n_xattrs == 0)
                return 0;
        e = ext2fs_xattrs_open(fs, ino, &h);
        if (e)
                return e;
        e = ext2fs_xattrs_read(h);
        for (size_t i = 0; i < n->n_xattrs && !e; i++)
                e = ext2fs_xattr_set(h, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].size);
        e2 = ext2fs_xattrs_close(&h);
        return e ? e : e2;
}

/* A new inode of a regular file, device, fifo or socket; contents and
 * xattrs are added after. */
static errcode_t write_new_inode(ext2_filsys fs, ext2_ino_t ino, const Entry *e, int64_t t) {
        const TreeNode *n = e->node;
        InodeBuf in = {};
        errcode_t r;

        in.large.i_mode = node_type_mode(n->type) | node_perms(n);
        in.large.i_links_count = (__u16) MAX(e->nlink, 1u);
        in.large.i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        inode_set_owner(&in, n->uid, n->gid);
        inode_set_times(&in, t);

        if (n->type == TREE_REG) {
                ext2_extent_handle_t handle;
                /* Sets up an empty extent tree in i_block and EXT4_EXTENTS_FL. */
                r = ext2fs_extent_open2(fs, ino, &in.small, &handle);
                if (r)
                        return r;
                ext2fs_extent_free(handle);
        } else if (n->type == TREE_CHR || n->type == TREE_BLK) {
                /* Linux's old (8:8) and new (12:20) device number encodings. */
                uint32_t ma = n->rdev_major, mi = n->rdev_minor;
                if (ma < 256 && mi < 256)
                        in.large.i_block[0] = ext2fs_cpu_to_le32(ma << 8 | mi);
                else
                        in.large.i_block[1] = ext2fs_cpu_to_le32((mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12));
        }

        r = ext2fs_write_inode_full(fs, ino, &in.small, INODE_SIZE);
        if (r)
                return r;
        ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
        return 0;
}

static errcode_t add_entry(ext2_filsys fs, Plan *p, size_t i, ext2_ino_t lpf_ino, int64_t t) {
        Entry *e = &p->entries[i];
        const TreeNode *n = e->node;
        const char *name = base_name(e->path);
        ext2_ino_t parent = p->entries[e->parent].ino, ino;
        errcode_t r;

        if (e->primary != i) { /* another name of a hard-link group */
                e->ino = p->entries[e->primary].ino;
                return link_name(fs, parent, name, e->ino, node_file_type(n->type));
        }

        if (n->type == TREE_DIR && e->parent == 0 && lpf_ino != 0 && strcmp(name, "lost+found") == 0) {
                e->ino = lpf_ino;
                return write_xattrs(fs, lpf_ino, n);
        }

        r = ext2fs_new_inode(fs, parent, node_type_mode(n->type) | 0755, NULL, &ino);
        if (r)
                return r;

        switch (n->type) {
        case TREE_DIR:
                /* Without a name: links to the parent and its count here. */
                r = ext2fs_mkdir(fs, parent, ino, NULL);
                if (!r)
                        r = link_name(fs, parent, name, ino, EXT2_FT_DIR);
                if (!r && dir_wants_htree(e->dir_bytes))
                        r = make_htree(fs, ino, parent);
                break;
        case TREE_SYMLINK:
                if (!n->target || strlen(n->target) >= BLOCK_SIZE)
                        return EXT2_ET_INVALID_ARGUMENT;
                r = ext2fs_symlink(fs, parent, ino, NULL, n->target);
                if (!r)
                        r = link_name(fs, parent, name, ino, EXT2_FT_SYMLINK);
                break;
        default:
                r = write_new_inode(fs, ino, e, t);
                if (!r)
                        r = link_name(fs, parent, name, ino, node_file_type(n->type));
                if (!r && n->type == TREE_REG && n->blob && n->blob->size > 0)
                        r = write_data(fs, ino, n->blob);
                break;
        }
        if (r)
                return r;
        e->ino = ino;
        return write_xattrs(fs, ino, n);
}

/* Owner, permissions and times of an inode, the rest (sizes, blocks,
 * in-inode xattrs) as libext2fs left it. */
static errcode_t finish_inode(ext2_filsys fs, ext2_ino_t ino, const TreeNode *n, int64_t t) {
        InodeBuf in = {};
        errcode_t r;

        r = ext2fs_read_inode_full(fs, ino, &in.small, INODE_SIZE);
        if (r)
                return r;
        in.large.i_mode = (in.large.i_mode & LINUX_S_IFMT) | node_perms(n);
        inode_set_owner(&in, n->uid, n->gid);
        if (in.large.i_extra_isize < sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE)
                in.large.i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        inode_set_times(&in, t);
        return ext2fs_write_inode_full(fs, ino, &in.small, INODE_SIZE);
}

/* Inodes libext2fs made (bad blocks, resize, journal, lost+found) got
 * fs->now, or the current time if that is 0: every time they have becomes
 * o->time. */
static errcode_t clamp_lib_inode(ext2_filsys fs, ext2_ino_t ino, int64_t t) {
        InodeBuf in = {};
        errcode_t r;

        r = ext2fs_read_inode_full(fs, ino, &in.small, INODE_SIZE);
        if (r)
                return r;
        if (in.large.i_atime)
                set_xtime(&in.large.i_atime, NULL, t);
        if (in.large.i_mtime)
                set_xtime(&in.large.i_mtime, NULL, t);
        if (in.large.i_ctime)
                set_xtime(&in.large.i_ctime, NULL, t);
        if (in.large.i_extra_isize >= 24 && in.large.i_crtime)
                set_xtime(&in.large.i_crtime, NULL, t);
        return ext2fs_write_inode_full(fs, ino, &in.small, INODE_SIZE);
}

/* libext2fs fills new directory blocks partly from uninitialised memory
 * (the padding after names that ext2fs_link() and the htree leaf split
 * copy, the unused part of split index blocks). Zero every byte that is
 * not an entry, so the image does not depend on what malloc() returned. */
static void scrub_dx_node(uint8_t *buf, size_t countlimit_off) {
        struct ext2_dx_countlimit *cl = (struct ext2_dx_countlimit *) (buf + countlimit_off);
        size_t count = ext2fs_le16_to_cpu(cl->count), limit = ext2fs_le16_to_cpu(cl->limit);
        size_t from = countlimit_off + count * sizeof(struct ext2_dx_entry);
        size_t to = countlimit_off + limit * sizeof(struct ext2_dx_entry);
        if (count <= limit && to <= BLOCK_SIZE)
                memset(buf + from, 0, to - from);
}

static errcode_t scrub_leaf(ext2_filsys fs, uint8_t *buf) {
        for (size_t off = 0; off + 8 <= BLOCK_SIZE;) {
                struct ext2_dir_entry *de = (struct ext2_dir_entry *) (buf + off);
                unsigned rec_len;
                errcode_t e = ext2fs_get_rec_len(fs, de, &rec_len);
                if (e)
                        return e;
                if (rec_len < 8 || off + rec_len > BLOCK_SIZE)
                        return EXT2_ET_DIR_CORRUPTED;
                if (off + rec_len == BLOCK_SIZE && rec_len == sizeof(struct ext2_dir_entry_tail) && de->inode == 0 &&
                    ext2fs_dirent_name_len(de) == 0)
                        break; /* the checksum tail, set on writing */
                size_t used = 8 + (size_t) ext2fs_dirent_name_len(de);
                if (used < rec_len)
                        memset(buf + off + used, 0, rec_len - used);
                off += rec_len;
        }
        return 0;
}

static errcode_t scrub_dir(ext2_filsys fs, ext2_ino_t ino) {
        struct ext2_inode di;
        errcode_t e;

        e = ext2fs_read_inode(fs, ino, &di);
        if (e)
                return e;
        _cleanup_free_ uint8_t *buf = malloc(BLOCK_SIZE);
        if (!buf)
                return EXT2_ET_NO_MEMORY;

        bool indexed = di.i_flags & EXT2_INDEX_FL;
        uint64_t n = EXT2_I_SIZE(&di) / BLOCK_SIZE;
        for (uint64_t lblk = 0; lblk < n; lblk++) {
                blk64_t pblk = 0;
                e = ext2fs_bmap2(fs, ino, &di, NULL, 0, lblk, NULL, &pblk);
                if (e)
                        return e;
                if (pblk == 0)
                        continue;
                e = ext2fs_read_dir_block4(fs, pblk, buf, 0, ino);
                if (e)
                        return e;

                struct ext2_dir_entry *de = (struct ext2_dir_entry *) buf;
                unsigned rec_len;
                e = ext2fs_get_rec_len(fs, de, &rec_len);
                if (e)
                        return e;
                if (indexed && lblk == 0)
                        scrub_dx_node(buf, 32); /* after ".", ".." and the root info */
                else if (indexed && de->inode == 0 && rec_len == BLOCK_SIZE)
                        scrub_dx_node(buf, 8); /* an index node: one empty entry over the block */
                else {
                        e = scrub_leaf(fs, buf);
                        if (e)
                                return e;
                }
                e = ext2fs_write_dir_block4(fs, pblk, buf, 0, ino);
                if (e)
                        return e;
        }
        return 0;
}

static void ext2fs_freep(ext2_filsys *fs) {
        if (*fs)
                ext2fs_free(*fs);
}

static errcode_t make_fs(const char *path, const FsOptions *o, uint64_t blocks, uint64_t inodes, ext2_filsys *ret) {
        struct ext2_super_block param = {};
        _cleanup_(ext2fs_freep) ext2_filsys fs = NULL;
        errcode_t e;

        ext2fs_blocks_count_set(&param, blocks);
        ext2fs_r_blocks_count_set(&param, blocks * 5 / 100);
        param.s_log_block_size = 2; /* 1024 << 2 */
        param.s_rev_level = EXT2_DYNAMIC_REV;
        param.s_inode_size = INODE_SIZE;
        param.s_inodes_count = (__u32) MIN(inodes, (uint64_t) UINT32_MAX);
        param.s_log_groups_per_flex = 4;
        param.s_desc_size = EXT2_MIN_DESC_SIZE_64BIT;
        param.s_min_extra_isize = param.s_want_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
        param.s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;
        ext2fs_set_feature_journal(&param);
        ext2fs_set_feature_xattr(&param);
        ext2fs_set_feature_resize_inode(&param);
        ext2fs_set_feature_dir_index(&param);
        ext2fs_set_feature_filetype(&param);
        ext2fs_set_feature_extents(&param);
        ext2fs_set_feature_64bit(&param);
        ext2fs_set_feature_flex_bg(&param);
        ext2fs_set_feature_sparse_super(&param);
        ext2fs_set_feature_large_file(&param);
        ext2fs_set_feature_huge_file(&param);
        ext2fs_set_feature_dir_nlink(&param);
        ext2fs_set_feature_extra_isize(&param);
        ext2fs_set_feature_metadata_csum(&param);

        e = ext2fs_initialize(path, EXT2_FLAG_64BITS, &param, unix_io_manager, &fs);
        if (e)
                return e;

        /* ext2fs_initialize() took the time (or E2FSPROGS_FAKE_TIME) for
         * s_mkfs_time; from here on libext2fs takes fs->now, unless it is
         * 0 (then the inodes are fixed up after, s_wtime after closing). */
        int64_t st = MAX(o->time, (int64_t) 0);
        fs->now = (time_t) st;
        fs->super->s_mkfs_time = fs->super->s_lastcheck = (__u32) st;
        fs->super->s_mkfs_time_hi = fs->super->s_lastcheck_hi = (__u8) (st >> 32);
        memcpy(fs->super->s_uuid, o->uuid, sizeof(fs->super->s_uuid));
        memcpy(fs->super->s_hash_seed, o->hash_seed, sizeof(fs->super->s_hash_seed));
        fs->super->s_def_hash_version = EXT2_HASH_HALF_MD4;
        fs->super->s_max_mnt_count = -1;
        fs->super->s_kbytes_written = 0; /* 0: libext2fs does not count what it writes */
        memset(fs->super->s_volume_name, 0, sizeof(fs->super->s_volume_name));
        if (o->label)
                memcpy(fs->super->s_volume_name, o->label, strlen(o->label));
        fs->super->s_checksum_type = EXT2_CRC32C_CHKSUM;
        ext2fs_init_csum_seed(fs);

        e = ext2fs_allocate_tables(fs);
        if (e)
                return e;

        /* The image is a new sparse file: its inode tables read as zeros. */
        for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
                ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
                ext2fs_group_desc_csum_set(fs, g);
        }
        /* Reserved inodes need valid checksums (metadata_csum). */
        {
                InodeBuf zero = {};
                for (ext2_ino_t ino = 1; ino < EXT2_FIRST_INO(fs->super); ino++) {
                        e = ext2fs_write_inode_full(fs, ino, &zero.small, INODE_SIZE);
                        if (e)
                                return e;
                }
        }

        *ret = TAKE_PTR(fs);
        return 0;
}

/* The superblocks' s_wtime, which ext2fs_close() sets to the current time
 * when fs->now is 0: set to 0 in every copy, checksum updated. */
static int zero_wtime(const char *path, const uint64_t *offsets, size_t n) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        for (size_t i = 0; i < n; i++) {
                struct ext2_super_block sb;
                if (pread(fd, &sb, sizeof sb, (off_t) offsets[i]) != (ssize_t) sizeof sb)
                        return -EIO;
                if (ext2fs_le16_to_cpu(sb.s_magic) != EXT2_SUPER_MAGIC)
                        return -EIO;
                sb.s_wtime = 0;
                sb.s_wtime_hi = 0;
                sb.s_checksum = ext2fs_cpu_to_le32(
                        ext2fs_crc32c_le(~0u, (const unsigned char *) &sb, offsetof(struct ext2_super_block, s_checksum)));
                if (pwrite(fd, &sb, sizeof sb, (off_t) offsets[i]) != (ssize_t) sizeof sb)
                        return negative_errno();
        }
        return 0;
}

static int build_image(Plan *p, const FsOptions *o, const char *path, uint64_t blocks, uint64_t inodes) {
        _cleanup_(ext2fs_freep) ext2_filsys fs = NULL;
        _cleanup_free_ uint64_t *sb_offsets = NULL;
        size_t n_sb = 0;
        ext2_ino_t lpf_ino = 0;
        errcode_t e;
        int r;

        {
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0)
                        return negative_errno();
                if (ftruncate(fd, (off_t) (blocks * BLOCK_SIZE)) < 0) {
                        r = negative_errno();
                        (void) unlink(path);
                        return r;
                }
        }

        e = make_fs(path, o, blocks, inodes, &fs);
        if (e)
                goto fail;

        /* As mke2fs: root, lost+found (16 KiB), the reserved inodes, the
         * bad-block inode, the resize inode, the journal. */
        fs->umask = 022;
        p->entries[0].ino = EXT2_ROOT_INO;
        e = ext2fs_mkdir(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, NULL);
        if (!e && dir_wants_htree(p->entries[0].dir_bytes))
                e = make_htree(fs, EXT2_ROOT_INO, EXT2_ROOT_INO);
        if (e)
                goto fail;
        if (!p->lpf_blocked) {
                fs->umask = 077;
                e = ext2fs_new_inode(fs, EXT2_ROOT_INO, LINUX_S_IFDIR | 0700, NULL, &lpf_ino);
                if (!e)
                        e = ext2fs_mkdir(fs, EXT2_ROOT_INO, lpf_ino, NULL);
                if (!e)
                        e = link_name(fs, EXT2_ROOT_INO, "lost+found", lpf_ino, EXT2_FT_DIR);
                for (int i = 1; i < LPF_BLOCKS && !e; i++)
                        e = ext2fs_expand_dir(fs, lpf_ino);
                fs->umask = 022;
                if (e)
                        goto fail;
        }
        for (ext2_ino_t ino = EXT2_ROOT_INO + 1; ino < EXT2_FIRST_INO(fs->super); ino++)
                ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
        ext2fs_mark_ib_dirty(fs);
        ext2fs_mark_inode_bitmap2(fs->inode_map, EXT2_BAD_INO);
        ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
        e = ext2fs_update_bb_inode(fs, NULL);
        if (e)
                goto fail;
        e = ext2fs_create_resize_inode(fs);
        if (e)
                goto fail;
        {
                struct ext2fs_journal_params jp;
                e = ext2fs_get_journal_params(&jp, fs);
                if (e)
                        goto fail;
                /* LAZYINIT: the journal's blocks are holes of the new file,
                 * zeros without writing them. */
                e = ext2fs_add_journal_inode3(fs, &jp, ~0ULL, EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK);
                if (e)
                        goto fail;
        }

        /* The root's xattrs (its SELinux label), which mke2fs has no
         * entry for. */
        e = write_xattrs(fs, EXT2_ROOT_INO, p->entries[0].node);
        if (e)
                goto fail;
        for (size_t i = 1; i < p->n; i++) {
                const TreeNode *n = p->entries[i].node;
                e = add_entry(fs, p, i, lpf_ino, MIN(n->mtime, o->time));
                if (e)
                        goto fail;
        }

        for (size_t i = 0; i < p->n; i++) {
                const Entry *en = &p->entries[i];
                if (en->node->type != TREE_DIR)
                        continue;
                e = scrub_dir(fs, en->ino);
                if (e)
                        goto fail;
        }

        /* Owners, modes and times last: linking and xattrs rewrite inodes. */
        for (size_t i = 0; i < p->n; i++) {
                const Entry *en = &p->entries[i];
                if (en->primary != i)
                        continue;
                e = finish_inode(fs, en->ino, en->node, MIN(en->node->mtime, o->time));
                if (e)
                        goto fail;
        }
        {
                ext2_ino_t lib[] = { EXT2_BAD_INO, EXT2_RESIZE_INO, EXT2_JOURNAL_INO, p->lpf_in_tree ? 0 : lpf_ino };
                for (size_t i = 0; i < ELEMENTSOF(lib); i++) {
                        if (lib[i] == 0)
                                continue;
                        e = clamp_lib_inode(fs, lib[i], o->time);
                        if (e)
                                goto fail;
                }
        }

        if (o->time <= 0) {
                sb_offsets = calloc(fs->group_desc_count, sizeof(uint64_t));
                if (!sb_offsets) {
                        e = EXT2_ET_NO_MEMORY;
                        goto fail;
                }
                for (dgrp_t g = 0; g < fs->group_desc_count; g++)
                        if (ext2fs_bg_has_super(fs, g))
                                sb_offsets[n_sb++] = g == 0 ? SUPERBLOCK_OFFSET
                                                            : (uint64_t) g * fs->super->s_blocks_per_group * BLOCK_SIZE;
        }

        ext2fs_mark_super_dirty(fs);
        e = ext2fs_close_free(&fs);
        if (e)
                goto fail;

        if (n_sb > 0) {
                r = zero_wtime(path, sb_offsets, n_sb);
                if (r < 0) {
                        (void) unlink(path);
                        return r;
                }
        }
        return 0;

fail:
        r = errcode_to_errno(e);
        if (fs) {
                ext2fs_free(fs);
                fs = NULL;
        }
        (void) unlink(path);
        return r;
}

/* Metadata of a file system of that many blocks: bitmaps, and in the groups
 * with a superblock copy the superblock, the group descriptors and the
 * blocks reserved for them to grow 1024 times (resize_inode). */
static uint64_t overhead_blocks(uint64_t blocks) {
        const uint64_t per_group = BLOCK_SIZE * 8, desc_per_block = BLOCK_SIZE / EXT2_MIN_DESC_SIZE_64BIT;
        uint64_t groups = div_round_up(blocks, per_group);
        uint64_t gdt = div_round_up(groups, desc_per_block);
        uint64_t max_groups = div_round_up(MIN(blocks * 1024, (uint64_t) UINT32_MAX), per_group);
        uint64_t rsv = div_round_up(max_groups, desc_per_block);
        rsv = MIN(rsv > gdt ? rsv - gdt : 0, (uint64_t) 1024);

        uint64_t backups = 1; /* group 0 */
        if (groups > 1)
                backups++; /* group 1 */
        for (uint64_t base = 3; base <= 7; base += 2)
                for (uint64_t g = base; g < groups; g *= base)
                        backups++;
        return groups * 2 + backups * (1 + gdt + rsv);
}

/* The automatic size (see ext4.h): grows until the estimate holds. */
static uint64_t auto_blocks(const Plan *p) {
        const uint64_t min_blocks = MIN_SIZE / BLOCK_SIZE, mib = (1024 * 1024) / BLOCK_SIZE;
        uint64_t blocks = min_blocks;

        for (int i = 0; i < 16; i++) {
                uint64_t inodes = MAX(p->n_inodes + p->n_inodes / 5 + 64, blocks * BLOCK_SIZE / INODE_RATIO);
                uint64_t need = p->data_blocks + div_round_up(inodes * INODE_SIZE, BLOCK_SIZE) + overhead_blocks(blocks);
                need += need / 5;
                int j = ext2fs_default_journal_size(blocks);
                if (j > 0)
                        need += (uint64_t) j;
                need = div_round_up(need, mib) * mib;
                if (need <= blocks)
                        break;
                blocks = need;
        }
        return blocks;
}

int ext4_build(const Tree *t, const FsOptions *o, const char *path, uint64_t *ret_size) {
        _cleanup_(plan_release) Plan p = {};
        int r;

        if (!t || !o || !path)
                return -EINVAL;
        if (o->label && strlen(o->label) > EXT2_LABEL_LEN)
                return -EINVAL;
        if (o->n_exclude > 0 && !o->exclude)
                return -EINVAL;

        r = plan_make(t, o, &p);
        if (r < 0)
                return r;

        uint64_t blocks;
        if (o->size > 0) {
                blocks = o->size / BLOCK_SIZE;
                if (blocks == 0)
                        return -ENOSPC;
                uint64_t inodes = MAX(p.n_inodes + 16, blocks * BLOCK_SIZE / INODE_RATIO);
                r = build_image(&p, o, path, blocks, inodes);
        } else {
                blocks = auto_blocks(&p);
                for (int attempt = 0;; attempt++) {
                        uint64_t inodes = MAX(p.n_inodes + p.n_inodes / 5 + 64, blocks * BLOCK_SIZE / INODE_RATIO);
                        r = build_image(&p, o, path, blocks, inodes);
                        if (r != -ENOSPC || attempt >= 8)
                                break;
                        blocks += blocks / 4;
                }
        }
        if (r < 0)
                return r;

        if (ret_size)
                *ret_size = blocks * BLOCK_SIZE;
        return 0;
}
