/* SPDX-License-Identifier: MIT */
/* squashfs from a tree through libsquashfs (squashfs-tools-ng 1.2), in the
 * order the format lays an image out (the kernel's
 * Documentation/filesystems/squashfs.rst, "Squashfs overview"): superblock,
 * data and fragment blocks, inode table, directory table, fragment table,
 * export table, id table, xattr tables.
 *
 * File contents go through libsquashfs's block processor first (it cuts
 * them into blocks, packs the tails into fragment blocks, compresses on
 * worker threads and writes in submission order, dropping duplicates); it
 * hands back each file's inode with its block list. Then the inodes are
 * written depth first, a directory after everything in it, because a
 * directory entry holds the location of its inode in the inode table and a
 * directory inode the location of its entries in the directory table. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_writer.h>

#include "basic/macro.h"
#include "fs/squashfs.h"

/* 128 KiB: see squashfs.h. */
#define BLOCK_SIZE SQFS_DEFAULT_BLOCK_SIZE
/* The image is padded to this, as mksquashfs does by default. */
#define PAD_SIZE 4096u
/* The kernel's SQUASHFS_NAME_LEN (fs/squashfs/squashfs_fs.h): a directory
 * entry stores its name's length - 1 and lookups refuse longer ones. */
#define NAME_MAX_LEN 256u
/* fs/squashfs/inode.c refuses a symlink whose size exceeds PAGE_SIZE; as
 * every Linux file system, a target (with its NUL) fits into PATH_MAX. */
#define TARGET_MAX_LEN 4095u
#define MAX_THREADS 16u
#define NONE SIZE_MAX

typedef struct Entry {
        const TreeNode *node;
        const char *path;      /* in the file system: "/", "/etc", ... */
        size_t parent;         /* index of the parent directory's entry */
        size_t primary;        /* hard links: index of the group's first entry; else itself */
        size_t first_child, last_child, next_sibling; /* directories' entries, in name order */
        uint32_t ino;          /* primaries: the inode number, 1 .. n_inodes */
        uint32_t nlink;        /* primaries: names of a file, 2 + subdirectories of a directory */
        uint64_t ref;          /* primaries, once written: (block << 16) | offset in the inode table */
        bool written;
        sqfs_inode_generic_t *inode; /* regular-file primaries: what the block processor made */
} Entry;

typedef struct Plan {
        Entry *entries;
        size_t n;
        uint32_t n_inodes;
} Plan;

static void plan_release(Plan *p) {
        for (size_t i = 0; i < p->n; i++)
                sqfs_free(p->entries[i].inode);
        free(p->entries);
        *p = (Plan) {};
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
                p.entries[i] = (Entry) {
                        .node = sel[i].node,
                        .path = sel[i].path,
                        .primary = i,
                        .first_child = NONE,
                        .last_child = NONE,
                        .next_sibling = NONE,
                };
        p.n = n_sel;

        /* Parents and children: entries are sorted by path, so a
         * directory's children come in the bytewise order of their names,
         * which is the order squashfs directories must be in (lookups stop
         * at the first name greater than the one searched). */
        for (size_t i = 1; i < p.n; i++) {
                Entry *e = &p.entries[i];
                const TreeNode *n = e->node;
                const char *name = base_name(e->path);
                size_t plen = (size_t) (name - 1 - e->path);
                char parent[PATH_MAX];

                if (strlen(name) > NAME_MAX_LEN || plen >= sizeof parent) {
                        r = -ENAMETOOLONG;
                        goto finish;
                }
                if (n->type == TREE_SYMLINK && (!n->target || strlen(n->target) > TARGET_MAX_LEN)) {
                        r = n->target ? -ENAMETOOLONG : -EINVAL;
                        goto finish;
                }
                if (plen == 0)
                        strcpy(parent, "/");
                else {
                        memcpy(parent, e->path, plen);
                        parent[plen] = 0;
                }
                Entry *pe = bsearch(parent, p.entries, i, sizeof(Entry), entry_cmp);
                if (!pe || pe->node->type != TREE_DIR) {
                        r = -ENOTDIR;
                        goto finish;
                }
                e->parent = (size_t) (pe - p.entries);
                if (pe->last_child == NONE)
                        pe->first_child = i;
                else
                        p.entries[pe->last_child].next_sibling = i;
                pe->last_child = i;
                if (n->type == TREE_DIR)
                        pe->nlink++;
        }

        /* Hard-link groups: the first name in path order holds the inode. */
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
                        links[i]->nlink = (uint32_t) (j - i);
                        i = j;
                }
        }

        /* Inode numbers in path order, the root 1. */
        for (size_t i = 0; i < p.n; i++) {
                Entry *e = &p.entries[i];
                if (e->primary != i)
                        continue;
                if (p.n_inodes == UINT32_MAX - 1) {
                        r = -EOVERFLOW;
                        goto finish;
                }
                e->ino = ++p.n_inodes;
                if (e->node->type == TREE_DIR)
                        e->nlink += 2;
                else if (e->nlink == 0)
                        e->nlink = 1;
        }

        *ret = p;
        p = (Plan) {};
        r = 0;
finish:
        plan_release(&p);
        return r;
}

/* The output: our own sqfs_file_t over a file we created with O_EXCL, so
 * that an I/O error reaches the caller as its errno. */
typedef struct OutFile {
        sqfs_file_t base;
        int fd;
        uint64_t size;
        int error; /* the errno of the first failed call */
} OutFile;

static int out_read_at(sqfs_file_t *f, sqfs_u64 offset, void *buffer, size_t size) {
        OutFile *o = (OutFile *) f;
        uint8_t *p = buffer;
        if (offset > o->size || size > o->size - offset)
                return SQFS_ERROR_OUT_OF_BOUNDS;
        while (size > 0) {
                ssize_t k = pread(o->fd, p, size, (off_t) offset);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        if (!o->error)
                                o->error = k < 0 ? errno : EIO;
                        return SQFS_ERROR_IO;
                }
                p += k;
                offset += (uint64_t) k;
                size -= (size_t) k;
        }
        return 0;
}

static int out_write_at(sqfs_file_t *f, sqfs_u64 offset, const void *buffer, size_t size) {
        OutFile *o = (OutFile *) f;
        const uint8_t *p = buffer;
        uint64_t end = offset + size;
        while (size > 0) {
                ssize_t k = pwrite(o->fd, p, size, (off_t) offset);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        if (!o->error)
                                o->error = k < 0 ? errno : EIO;
                        return SQFS_ERROR_IO;
                }
                p += k;
                offset += (uint64_t) k;
                size -= (size_t) k;
        }
        o->size = MAX(o->size, end);
        return 0;
}

static sqfs_u64 out_get_size(const sqfs_file_t *f) {
        return ((const OutFile *) f)->size;
}

static int out_truncate(sqfs_file_t *f, sqfs_u64 size) {
        OutFile *o = (OutFile *) f;
        if (ftruncate(o->fd, (off_t) size) < 0) {
                if (!o->error)
                        o->error = errno;
                return SQFS_ERROR_IO;
        }
        o->size = size;
        return 0;
}

static void out_destroy(sqfs_object_t *obj) {
        /* Embedded in the Writer, which closes the file. */
}

typedef struct Writer {
        OutFile out;
        sqfs_super_t super;
        sqfs_compressor_t *cmp, *uncmp;
        sqfs_block_writer_t *blkwr;
        sqfs_frag_table_t *frag;
        sqfs_block_processor_t *proc;
        sqfs_id_table_t *ids;
        sqfs_xattr_writer_t *xwr;
        sqfs_meta_writer_t *im, *dm; /* inode table (to the file), directory table (in memory until the end) */
        sqfs_dir_writer_t *dirwr;
        int64_t time;
} Writer;

static void writer_release(Writer *w) {
        sqfs_destroy(w->dirwr);
        sqfs_destroy(w->dm);
        sqfs_destroy(w->im);
        sqfs_destroy(w->xwr);
        sqfs_destroy(w->ids);
        sqfs_destroy(w->proc); /* joins its threads before what they use goes */
        sqfs_destroy(w->frag);
        sqfs_destroy(w->blkwr);
        sqfs_destroy(w->uncmp);
        sqfs_destroy(w->cmp);
        if (w->out.fd >= 0)
                close(w->out.fd);
        *w = (Writer) { .out.fd = -1 };
}

static int sqfs_errno(const Writer *w, int e) {
        switch (e) {
        case 0:
                return 0;
        case SQFS_ERROR_ALLOC:
                return -ENOMEM;
        case SQFS_ERROR_IO:
                return w->out.error ? -w->out.error : -EIO;
        case SQFS_ERROR_OVERFLOW:
                return -EOVERFLOW;
        case SQFS_ERROR_UNSUPPORTED:
                return -EOPNOTSUPP;
        case SQFS_ERROR_ARG_INVALID:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* Squashfs times are unsigned 32-bit seconds (sqfs_inode_t mod_time,
 * sqfs_super_t modification_time). */
static uint32_t clamp_time(int64_t t) {
        return (uint32_t) MAX(MIN(t, (int64_t) UINT32_MAX), (int64_t) 0);
}

static unsigned cpus_available(void) {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof set, &set) < 0)
                return 1;
        int n = CPU_COUNT(&set);
        return n > 0 ? (unsigned) n : 1;
}

static int writer_open(Writer *w, const char *path, unsigned n_threads, int64_t time) {
        sqfs_compressor_config_t cfg;
        int r;

        w->time = time;
        w->out.fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (w->out.fd < 0)
                return negative_errno();
        w->out.base.base.destroy = out_destroy;
        w->out.base.read_at = out_read_at;
        w->out.base.write_at = out_write_at;
        w->out.base.get_size = out_get_size;
        w->out.base.truncate = out_truncate;
        sqfs_file_t *file = &w->out.base;

        /* zstd at its default level: no compressor options block (its
         * write_options() writes one only for non-default settings). */
        r = sqfs_compressor_config_init(&cfg, SQFS_COMP_ZSTD, BLOCK_SIZE, 0);
        if (r == 0)
                r = sqfs_compressor_create(&cfg, &w->cmp);
        if (r != 0)
                return sqfs_errno(w, r);
        cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
        r = sqfs_compressor_create(&cfg, &w->uncmp);
        if (r != 0)
                return sqfs_errno(w, r);

        r = sqfs_super_init(&w->super, BLOCK_SIZE, clamp_time(time), SQFS_COMP_ZSTD);
        if (r == 0)
                r = sqfs_super_write(&w->super, file); /* a placeholder until the end */
        if (r != 0)
                return sqfs_errno(w, r);
        r = w->cmp->write_options(w->cmp, file);
        if (r < 0)
                return sqfs_errno(w, r);
        if (r > 0)
                w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

        /* Device block size: only used for blocks flagged SQFS_BLK_ALIGN,
         * which we do not ask for. */
        w->blkwr = sqfs_block_writer_create(file, SQFS_DEVBLK_SIZE, 0);
        w->frag = sqfs_frag_table_create(0);
        if (!w->blkwr || !w->frag)
                return -ENOMEM;

        if (n_threads == 0)
                n_threads = cpus_available();
        n_threads = MIN(n_threads, MAX_THREADS);
        /* file and uncmp: a fragment that hashes like an earlier one is
         * read back and compared before it is dropped. */
        sqfs_block_processor_desc_t desc = {
                .size = sizeof desc,
                .max_block_size = BLOCK_SIZE,
                .num_workers = n_threads,
                .max_backlog = 8 * n_threads,
                .cmp = w->cmp,
                .wr = w->blkwr,
                .tbl = w->frag,
                .file = file,
                .uncmp = w->uncmp,
        };
        r = sqfs_block_processor_create_ex(&desc, &w->proc);
        if (r != 0)
                return sqfs_errno(w, r);

        w->ids = sqfs_id_table_create(0);
        w->xwr = sqfs_xattr_writer_create(0);
        w->im = sqfs_meta_writer_create(file, w->cmp, 0);
        w->dm = sqfs_meta_writer_create(file, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
        if (!w->ids || !w->xwr || !w->im || !w->dm)
                return -ENOMEM;
        w->dirwr = sqfs_dir_writer_create(w->dm, SQFS_DIR_WRITER_CREATE_EXPORT_TABLE);
        if (!w->dirwr)
                return -ENOMEM;
        return 0;
}

static int append_piece(void *userdata, uint64_t off, const void *data, size_t n) {
        Writer *w = userdata;
        return sqfs_errno(w, sqfs_block_processor_append(w->proc, data, n));
}

/* Every regular file's contents, in path order (the order of the data in
 * the image); the block processor keeps updating each file's inode until
 * sqfs_block_processor_finish(). */
static int write_data(Writer *w, Plan *p) {
        int r;

        for (size_t i = 0; i < p->n; i++) {
                Entry *e = &p->entries[i];
                if (e->primary != i || e->node->type != TREE_REG)
                        continue;
                r = sqfs_block_processor_begin_file(w->proc, &e->inode, NULL, 0);
                if (r != 0)
                        return sqfs_errno(w, r);
                r = tree_blob_foreach(e->node->blob, append_piece, w);
                if (r < 0) {
                        /* libsquashfs 1.2 frees the blocks it still holds
                         * only when the file is ended and the processor
                         * drained; its own errors are beside the point. */
                        (void) sqfs_block_processor_end_file(w->proc);
                        (void) sqfs_block_processor_finish(w->proc);
                        return r;
                }
                r = sqfs_block_processor_end_file(w->proc);
                if (r != 0)
                        return sqfs_errno(w, r);
        }
        return sqfs_errno(w, sqfs_block_processor_finish(w->proc));
}

static uint16_t type_mode(TreeType t) {
        switch (t) {
        case TREE_REG:
                return SQFS_INODE_MODE_REG;
        case TREE_DIR:
                return SQFS_INODE_MODE_DIR;
        case TREE_SYMLINK:
                return SQFS_INODE_MODE_LNK;
        case TREE_CHR:
                return SQFS_INODE_MODE_CHR;
        case TREE_BLK:
                return SQFS_INODE_MODE_BLK;
        case TREE_FIFO:
                return SQFS_INODE_MODE_FIFO;
        case TREE_SOCK:
                return SQFS_INODE_MODE_SOCK;
        default:
                return 0;
        }
}

static uint16_t node_mode(const TreeNode *n) {
        uint32_t perms = n->mode & 07777;
        if (n->type == TREE_SYMLINK && perms == 0)
                perms = 0777;
        return (uint16_t) (type_mode(n->type) | perms);
}

/* The xattr block of a node (the writer stores equal blocks once):
 * 0xFFFFFFFF for none. The format has the user., trusted. and security.
 * namespaces only (sqfs_get_xattr_prefix_id()). */
static int node_xattrs(Writer *w, const TreeNode *n, uint32_t *ret) {
        int r;

        *ret = 0xFFFFFFFF;
        if (n->n_xattrs == 0)
                return 0;
        r = sqfs_xattr_writer_begin(w->xwr, 0);
        if (r != 0)
                return sqfs_errno(w, r);
        for (size_t i = 0; i < n->n_xattrs; i++) {
                const TreeXattr *x = &n->xattrs[i];
                if (sqfs_get_xattr_prefix_id(x->name) < 0)
                        return -EOPNOTSUPP;
                r = sqfs_xattr_writer_add(w->xwr, x->name, x->value, x->size);
                if (r != 0)
                        return sqfs_errno(w, r);
        }
        return sqfs_errno(w, sqfs_xattr_writer_end(w->xwr, ret));
}

/* The common fields, then the inode into the inode table; e->ref is where. */
static int put_inode(Writer *w, Entry *e, sqfs_inode_generic_t *in) {
        const TreeNode *n = e->node;
        sqfs_u64 block;
        sqfs_u32 offset;
        int r;

        in->base.mode = node_mode(n);
        in->base.mod_time = clamp_time(MIN(n->mtime, w->time));
        in->base.inode_number = e->ino;
        r = sqfs_id_table_id_to_index(w->ids, n->uid, &in->base.uid_idx);
        if (r == 0)
                r = sqfs_id_table_id_to_index(w->ids, n->gid, &in->base.gid_idx);
        if (r != 0)
                return sqfs_errno(w, r);

        sqfs_meta_writer_get_position(w->im, &block, &offset);
        r = sqfs_meta_writer_write_inode(w->im, in);
        if (r != 0)
                return sqfs_errno(w, r);
        e->ref = (block << 16) | offset;
        e->written = true;
        return 0;
}

/* The device number as the kernel decodes it (new_decode_dev() of the
 * inode's 32-bit rdev): 12 bits of major, 20 of minor. */
static int encode_dev(const TreeNode *n, uint32_t *ret) {
        if (n->rdev_major > 0xfff || n->rdev_minor > 0xfffff)
                return -EOVERFLOW;
        *ret = (n->rdev_minor & 0xff) | (n->rdev_major << 8) | ((n->rdev_minor & ~0xffu) << 12);
        return 0;
}

/* A non-directory's inode (e is a primary). */
static int write_inode(Writer *w, Entry *e) {
        const TreeNode *n = e->node;
        _cleanup_free_ sqfs_inode_generic_t *own = NULL;
        sqfs_inode_generic_t *in;
        uint32_t xattr;
        int r;

        r = node_xattrs(w, n, &xattr);
        if (r < 0)
                return r;

        if (n->type == TREE_REG) {
                in = e->inode;
                r = sqfs_inode_set_xattr_index(in, xattr);
                if (r == 0 && e->nlink > 1)
                        r = sqfs_inode_make_extended(in); /* the basic file inode has no link count */
                if (r != 0)
                        return sqfs_errno(w, r);
                if (in->base.type == SQFS_INODE_EXT_FILE)
                        in->data.file_ext.nlink = e->nlink;
        } else {
                size_t extra = n->type == TREE_SYMLINK ? strlen(n->target) : 0;
                own = calloc(1, sizeof(*own) + extra);
                if (!own)
                        return -ENOMEM;
                in = own;
                switch (n->type) {
                case TREE_SYMLINK:
                        in->base.type = SQFS_INODE_SLINK;
                        in->data.slink.nlink = e->nlink;
                        in->data.slink.target_size = (sqfs_u32) extra;
                        memcpy(in->extra, n->target, extra);
                        break;
                case TREE_CHR:
                case TREE_BLK:
                        in->base.type = n->type == TREE_CHR ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
                        in->data.dev.nlink = e->nlink;
                        r = encode_dev(n, &in->data.dev.devno);
                        if (r < 0)
                                return r;
                        break;
                case TREE_FIFO:
                case TREE_SOCK:
                        in->base.type = n->type == TREE_FIFO ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
                        in->data.ipc.nlink = e->nlink;
                        break;
                default:
                        return -EINVAL;
                }
                /* Promotes to the extended inode (which carries the index)
                 * if there are xattrs; the link count is kept. */
                r = sqfs_inode_set_xattr_index(in, xattr);
                if (r != 0)
                        return sqfs_errno(w, r);
        }
        return put_inode(w, e, in);
}

/* A directory: what is in it (depth first), then its entries into the
 * directory table, then its inode. The depth is bounded by PATH_MAX / 2. */
static int write_dir(Writer *w, Plan *p, size_t i) {
        Entry *e = &p->entries[i];
        uint32_t xattr;
        int r;

        for (size_t c = e->first_child; c != NONE; c = p->entries[c].next_sibling) {
                Entry *ce = &p->entries[c], *pe = &p->entries[ce->primary];
                if (ce->node->type == TREE_DIR)
                        r = write_dir(w, p, c);
                else if (!pe->written)
                        r = write_inode(w, pe);
                else
                        r = 0;
                if (r < 0)
                        return r;
        }

        r = sqfs_dir_writer_begin(w->dirwr, 0);
        if (r != 0)
                return sqfs_errno(w, r);
        for (size_t c = e->first_child; c != NONE; c = p->entries[c].next_sibling) {
                const Entry *ce = &p->entries[c], *pe = &p->entries[ce->primary];
                r = sqfs_dir_writer_add_entry(w->dirwr, base_name(ce->path), pe->ino, pe->ref, node_mode(pe->node));
                if (r != 0)
                        return sqfs_errno(w, r);
        }
        r = sqfs_dir_writer_end(w->dirwr);
        if (r != 0)
                return sqfs_errno(w, r);

        r = node_xattrs(w, e->node, &xattr);
        if (r < 0)
                return r;
        /* The root's parent: one past the last inode, as mksquashfs. */
        uint32_t parent_ino = i == 0 ? p->n_inodes + 1 : p->entries[e->parent].ino;
        /* A directory whose entries cross a metadata block boundary gets
         * the extended inode with an index of its headers, as mksquashfs
         * does: the kernel's lookup starts at the last header whose first
         * name is not after the one searched (get_dir_index_using_name() in
         * fs/squashfs/namei.c) instead of decompressing the listing from
         * its start. libsquashfs 1.2 writes the index only into an extended
         * inode and makes one only for xattrs or a listing over 64 KiB:
         * asking with an xattr index forces it, then the real one is set. */
        sqfs_u64 ref = sqfs_dir_writer_get_dir_reference(w->dirwr);
        bool indexed = (ref & 0xFFFF) + sqfs_dir_writer_get_size(w->dirwr) > SQFS_META_BLOCK_SIZE;
        _cleanup_free_ sqfs_inode_generic_t *in =
                sqfs_dir_writer_create_inode(w->dirwr, 0, indexed && xattr == 0xFFFFFFFF ? 0 : xattr, parent_ino);
        if (!in)
                return -ENOMEM;
        if (in->base.type == SQFS_INODE_EXT_DIR)
                in->data.dir_ext.xattr_idx = xattr;
        if (in->base.type == SQFS_INODE_DIR)
                in->data.dir.nlink = e->nlink;
        else
                in->data.dir_ext.nlink = e->nlink;
        return put_inode(w, e, in);
}

/* Zeros up to a multiple of PAD_SIZE; bytes_used in the superblock does
 * not count them. */
static int pad(Writer *w) {
        static const uint8_t zeros[PAD_SIZE];
        size_t rest = (size_t) (w->out.size % PAD_SIZE);
        if (rest == 0)
                return 0;
        return sqfs_errno(w, out_write_at(&w->out.base, w->out.size, zeros, PAD_SIZE - rest));
}

static int write_image(Writer *w, Plan *p, const char *path, unsigned n_threads, int64_t time) {
        sqfs_file_t *file = &w->out.base;
        int r;

        r = writer_open(w, path, n_threads, time);
        if (r < 0)
                return r;
        r = write_data(w, p);
        if (r < 0)
                return r;

        w->super.inode_count = p->n_inodes;
        w->super.inode_table_start = w->out.size;
        r = write_dir(w, p, 0);
        if (r < 0)
                return r;
        r = sqfs_meta_writer_flush(w->im);
        if (r == 0)
                r = sqfs_meta_writer_flush(w->dm);
        if (r != 0)
                return sqfs_errno(w, r);
        w->super.root_inode_ref = p->entries[0].ref;
        w->super.directory_table_start = w->out.size;
        r = sqfs_meta_write_write_to_file(w->dm);
        if (r == 0)
                r = sqfs_frag_table_write(w->frag, file, &w->super, w->cmp);
        if (r == 0)
                r = sqfs_dir_writer_write_export_table(w->dirwr, file, w->cmp, p->entries[0].ino, p->entries[0].ref,
                                                       &w->super);
        if (r == 0)
                r = sqfs_id_table_write(w->ids, file, &w->super, w->cmp);
        if (r == 0)
                r = sqfs_xattr_writer_flush(w->xwr, file, &w->super, w->cmp);
        if (r != 0)
                return sqfs_errno(w, r);

        /* Flag 0x0040, which sqfs_super_init() sets, is squashfs-tools'
         * SQUASHFS_DUPLICATE: "duplicates are removed" (unsquashfs -s), as
         * the block writer does (its default; libsquashfs's name for the
         * bit, SQFS_FLAG_NO_DUPLICATES, says the opposite). */
        w->super.bytes_used = w->out.size;
        r = sqfs_super_write(&w->super, file);
        if (r != 0)
                return sqfs_errno(w, r);
        return pad(w);
}

int squashfs_build_threads(const Tree *t, const FsOptions *o, const char *path, unsigned n_threads,
                           uint64_t *ret_size) {
        _cleanup_(plan_release) Plan p = {};
        Writer w = { .out.fd = -1 };
        int r;

        if (!t || !o || !path)
                return -EINVAL;
        if (o->size != 0 || (o->n_exclude > 0 && !o->exclude))
                return -EINVAL;

        r = plan_make(t, o, &p);
        if (r < 0)
                return r;

        r = write_image(&w, &p, path, n_threads, o->time);
        bool created = w.out.fd >= 0;
        uint64_t size = w.out.size;
        writer_release(&w);
        if (r < 0) {
                if (created)
                        (void) unlink(path);
                return r;
        }
        if (ret_size)
                *ret_size = size;
        return 0;
}

int squashfs_build(const Tree *t, const FsOptions *o, const char *path, uint64_t *ret_size) {
        return squashfs_build_threads(t, o, path, 0, ret_size);
}
