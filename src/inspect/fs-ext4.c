/* SPDX-License-Identifier: MIT */

/* Listing ext2/3/4 through libext2fs, read-only, over a BlockSource: an
 * io_manager of our own reads the blocks (a partition of a qcow2 is never
 * copied out). libext2fs checks the superblock and group descriptors (and
 * their metadata_csum checksums); on top of that the file system's claimed
 * size must fit its partition, directories are listed once each (a
 * directory linked twice is not followed again), to a fixed depth, and the
 * entries count against FsWalk.max_entries. */

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "inspect/disk.h"
#include "inspect/ext4-internal.h"

/* libext2fs allocates the group descriptors at open: bound the file system
 * size it may believe in (64 TiB: 32 MiB of descriptors at most). */
#define MAX_FS_BYTES (UINT64_C(64) << 40)

/* ---- the io_manager over a BlockSource ---- */

/* ext2fs_open2() takes a name; the source to open is handed over here. */
static _Thread_local BlockSource *pending_source;

static errcode_t bio_open(const char *name, int flags, io_channel *ret) {
        if ((flags & IO_FLAG_RW) || !pending_source)
                return EXT2_ET_RO_FILSYS;
        io_channel c = calloc(1, sizeof *c);
        if (!c)
                return EXT2_ET_NO_MEMORY;
        c->name = strdup(name);
        if (!c->name) {
                free(c);
                return EXT2_ET_NO_MEMORY;
        }
        extern struct struct_io_manager block_io_manager;
        c->magic = EXT2_ET_MAGIC_IO_CHANNEL;
        c->manager = &block_io_manager;
        c->block_size = 1024;
        c->refcount = 1;
        c->private_data = pending_source;
        *ret = c;
        return 0;
}

static errcode_t bio_close(io_channel c) {
        if (--c->refcount > 0)
                return 0;
        free(c->name);
        free(c);
        return 0;
}

static errcode_t bio_set_blksize(io_channel c, int blksize) {
        if (blksize <= 0)
                return EXT2_ET_INVALID_ARGUMENT;
        c->block_size = blksize;
        return 0;
}

static errcode_t bio_read_blk64(io_channel c, unsigned long long block, int count, void *data) {
        uint64_t n = count < 0 ? (uint64_t) -(int64_t) count : (uint64_t) count * (uint64_t) c->block_size;
        if (block > UINT64_MAX / (uint64_t) c->block_size)
                return EXT2_ET_SHORT_READ;
        int r = block_read(c->private_data, block * (uint64_t) c->block_size, data, (size_t) n);
        if (r < 0) {
                memset(data, 0, (size_t) n);
                return EXT2_ET_SHORT_READ;
        }
        return 0;
}

static errcode_t bio_read_blk(io_channel c, unsigned long block, int count, void *data) {
        return bio_read_blk64(c, block, count, data);
}

static errcode_t bio_write_blk64(io_channel c, unsigned long long block, int count, const void *data) {
        return EXT2_ET_RO_FILSYS;
}

static errcode_t bio_write_blk(io_channel c, unsigned long block, int count, const void *data) {
        return EXT2_ET_RO_FILSYS;
}

static errcode_t bio_write_byte(io_channel c, unsigned long offset, int count, const void *data) {
        return EXT2_ET_RO_FILSYS;
}

static errcode_t bio_flush(io_channel c) {
        return 0;
}

static errcode_t bio_set_option(io_channel c, const char *option, const char *arg) {
        return EXT2_ET_INVALID_ARGUMENT;
}

struct struct_io_manager block_io_manager = {
        .magic = EXT2_ET_MAGIC_IO_MANAGER,
        .name = "slipway block source",
        .open = bio_open,
        .close = bio_close,
        .set_blksize = bio_set_blksize,
        .read_blk = bio_read_blk,
        .write_blk = bio_write_blk,
        .flush = bio_flush,
        .write_byte = bio_write_byte,
        .set_option = bio_set_option,
        .read_blk64 = bio_read_blk64,
        .write_blk64 = bio_write_blk64,
};

/* ---- probing ---- */

/* The superblock at 1024 (ext4 wiki "The Super Block"). */
static bool ext4_probe(BlockSource *s) {
        uint8_t sb[1024];
        if (block_read(s, 1024, sb, sizeof sb) < 0)
                return false;
        uint16_t magic = (uint16_t) (sb[0x38] | sb[0x39] << 8);
        uint32_t log_block = (uint32_t) sb[0x18] | (uint32_t) sb[0x19] << 8 | (uint32_t) sb[0x1A] << 16 |
                             (uint32_t) sb[0x1B] << 24;
        return magic == EXT2_SUPER_MAGIC && log_block <= 6;
}

/* ---- listing ---- */

typedef struct Child {
        char *name;
        ext2_ino_t ino;
} Child;

typedef struct Ext4Walk {
        ext2_filsys fs;
        FsWalk *w;
        Diagnostics *d;
        Child *children;
        size_t n_children, allocated_children;
        size_t over; /* children beyond what max_entries allows */
        bool oom;
        U32Set seen; /* directory inodes listed already */
} Ext4Walk;

static int collect(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf,
                   void *userdata) {
        Ext4Walk *e = userdata;
        if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || dirent->inode == 0)
                return 0;
        int len = ext2fs_dirent_name_len(dirent);
        if (len <= 0 || memchr(dirent->name, '/', (size_t) len) || memchr(dirent->name, 0, (size_t) len))
                return 0; /* a name no path can hold; e2fsck would remove it */
        if (e->w->inv->n_files + e->n_children >= e->w->max_entries) {
                e->over++;
                return DIRENT_ABORT;
        }
        char *name = NULL;
        if (!GREEDY_REALLOC(e->children, e->allocated_children, e->n_children + 1) ||
            !(name = strndup(dirent->name, (size_t) len))) {
                e->oom = true;
                return DIRENT_ABORT;
        }
        e->children[e->n_children++] = (Child) { .name = name, .ino = dirent->inode };
        return 0;
}

static int child_cmp(const void *a, const void *b) {
        return strcmp(((const Child *) a)->name, ((const Child *) b)->name);
}

static int read_contents(Ext4Walk *e, ext2_ino_t ino, uint64_t size, uint8_t **ret) {
        ext2_file_t f = NULL;
        if (size > SIZE_MAX - 1)
                return -EFBIG;
        _cleanup_free_ uint8_t *buf = malloc((size_t) size + 1);
        if (!buf)
                return -ENOMEM;
        if (ext2fs_file_open(e->fs, ino, 0, &f) != 0)
                return -EBADMSG;
        uint64_t got = 0;
        int r = 0;
        while (got < size) {
                unsigned int n = 0, want = (unsigned int) MIN(size - got, (uint64_t) (1u << 20));
                if (ext2fs_file_read(f, buf + got, want, &n) != 0) {
                        r = -EBADMSG;
                        break;
                }
                if (n == 0)
                        break;
                got += n;
        }
        ext2fs_file_close(f);
        if (r < 0)
                return r;
        if (got != size)
                return -EBADMSG;
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int add_entry(Ext4Walk *e, const char *path, ext2_ino_t ino, bool *ret_dir) {
        struct ext2_inode in;
        errcode_t err = ext2fs_read_inode(e->fs, ino, &in);
        if (err != 0) {
                diag_error(e->d, NULL, "ext4: '%s': cannot read inode %u: %s", path, ino, error_message(err));
                return -EBADMSG;
        }
        InvFile *f;
        int r = fs_add_file(e->w, path, &f, e->d);
        if (r < 0)
                return r;
        f->mode = in.i_mode;
        f->has_ids = true;
        f->uid = inode_uid(in);
        f->gid = inode_gid(in);
        f->size = EXT2_I_SIZE(&in);
        *ret_dir = LINUX_S_ISDIR(in.i_mode);
        if (LINUX_S_ISCHR(in.i_mode) || LINUX_S_ISBLK(in.i_mode)) {
                f->has_rdev = true;
                ext4_inode_rdev(&in, &f->rdev_major, &f->rdev_minor);
                f->size = 0;
        } else if (LINUX_S_ISLNK(in.i_mode)) {
                uint64_t size = EXT2_I_SIZE(&in);
                if (size == 0 || size >= EXT4_SYMLINK_MAX) {
                        diag_warning(e->d, NULL, "ext4: '%s': a symbolic link of %llu bytes", path,
                                     (unsigned long long) size);
                        return 0;
                }
                if (ext2fs_is_fast_symlink(&in)) {
                        f->target = strndup((const char *) in.i_block, MIN((size_t) size, sizeof in.i_block));
                        if (!f->target)
                                return -ENOMEM;
                } else {
                        uint8_t *t = NULL;
                        r = read_contents(e, ino, size, &t);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                diag_warning(e->d, NULL, "ext4: '%s': cannot read the link's target", path);
                                return 0;
                        }
                        f->target = (char *) t;
                }
        } else if (LINUX_S_ISREG(in.i_mode) && e->w->want && e->w->want(e->w->userdata, path, f->size)) {
                uint8_t *data = NULL;
                uint64_t size = f->size;
                r = read_contents(e, ino, size, &data);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        diag_warning(e->d, NULL, "ext4: '%s': cannot read its contents", path);
                else if ((r = e->w->contents(e->w->userdata, path, data, (size_t) size)) < 0)
                        return r;
        }
        return 0;
}

static int list_dir(Ext4Walk *e, ext2_ino_t dir, const char *path, unsigned depth) {
        if (depth > EXT4_MAX_DEPTH) {
                diag_error(e->d, NULL, "ext4: '%s': directories nested more than %u deep", path, EXT4_MAX_DEPTH);
                return -EBADMSG;
        }
        int r = u32_set_add(&e->seen, dir);
        if (r <= 0)
                return r; /* listed already: a directory hard link or a loop */

        size_t start = e->n_children;
        errcode_t err = ext2fs_dir_iterate2(e->fs, dir, 0, NULL, collect, e);
        size_t end = e->n_children;
        if (e->over > 0) {
                diag_error(e->d, NULL, "more than %zu entries", e->w->max_entries);
                r = -EFBIG;
        } else if (err != 0) {
                diag_error(e->d, NULL, "ext4: '%s': cannot read the directory: %s", path, error_message(err));
                r = -EBADMSG;
        } else if (e->oom) {
                r = -ENOMEM;
        }
        if (r >= 0) {
                if (end - start > 1)
                        qsort(e->children + start, end - start, sizeof(Child), child_cmp);
                for (size_t i = start; i < end && r >= 0; i++) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s%s%s", path, strcmp(path, "/") == 0 ? "" : "/", e->children[i].name) < 0)
                                return -ENOMEM;
                        bool is_dir = false;
                        r = add_entry(e, p, e->children[i].ino, &is_dir);
                        if (r >= 0 && is_dir)
                                r = list_dir(e, e->children[i].ino, p, depth + 1);
                }
        }
        for (size_t i = start; i < end; i++)
                free(e->children[i].name);
        e->n_children = start;
        return r;
}

int ext4_open_source(BlockSource *s, ext2_filsys *ret, Diagnostics *d) {
        ext2_filsys fs = NULL;
        char name[64];
        snprintf(name, sizeof name, "block:%p", (void *) s);

        /* The size the superblock claims, before libext2fs allocates its group
         * descriptors for it: s_blocks_count_lo (0x04), _hi (0x150, with the
         * 64bit feature, 0x80 of s_feature_incompat at 0x60), s_log_block_size
         * (0x18); ext4 wiki "The Super Block". */
        uint8_t sb[1024];
        if (block_read(s, 1024, sb, sizeof sb) < 0) {
                diag_error(d, NULL, "ext4: cannot read the superblock");
                return -EBADMSG;
        }
#define LE32(o) ((uint32_t) sb[o] | (uint32_t) sb[(o) + 1] << 8 | (uint32_t) sb[(o) + 2] << 16 | (uint32_t) sb[(o) + 3] << 24)
        uint64_t claimed = LE32(0x04) | (LE32(0x60) & 0x80 ? (uint64_t) LE32(0x150) << 32 : 0);
        uint32_t log_block = LE32(0x18);
#undef LE32
        if (log_block > 6 || claimed > MAX_FS_BYTES >> (10 + log_block) || (claimed << (10 + log_block)) > s->size) {
                diag_error(d, NULL, "ext4: the file system (%llu blocks of %u bytes) is larger than its partition "
                                    "(%llu bytes)",
                           (unsigned long long) claimed, 1024u << MIN(log_block, 6u), (unsigned long long) s->size);
                return -EBADMSG;
        }

        pending_source = s;
        errcode_t err = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS, 0, 0, &block_io_manager, &fs);
        pending_source = NULL;
        if (err != 0) {
                diag_error(d, NULL, "ext4: cannot open the file system: %s", error_message(err));
                return -EBADMSG;
        }
        uint64_t bytes = ext2fs_blocks_count(fs->super) * (uint64_t) fs->blocksize;
        if (bytes > s->size || bytes > MAX_FS_BYTES) {
                ext2fs_close_free(&fs);
                diag_error(d, NULL, "ext4: the file system (%llu bytes) is larger than its partition (%llu bytes)",
                           (unsigned long long) bytes, (unsigned long long) s->size);
                return -EBADMSG;
        }
        *ret = fs;
        return 0;
}

static int ext4_walk(BlockSource *s, FsWalk *w, char **ret_label, char **ret_uuid, Diagnostics *d) {
        ext2_filsys fs = NULL;
        int r = ext4_open_source(s, &fs, d);
        if (r < 0)
                return r;
        if (ext2fs_has_feature_journal_needs_recovery(fs->super))
                diag_warning(d, NULL, "ext4: the journal needs recovery; the listing may be out of date");

        Ext4Walk e = { .fs = fs, .w = w, .d = d };
        bool is_dir = false;
        r = add_entry(&e, "/", EXT2_ROOT_INO, &is_dir);
        if (r >= 0 && !is_dir) {
                diag_error(d, NULL, "ext4: the root inode is not a directory");
                r = -EBADMSG;
        }
        if (r >= 0)
                r = list_dir(&e, EXT2_ROOT_INO, "/", 0);
        free(e.children);
        u32_set_release(&e.seen);

        _cleanup_free_ char *label = NULL, *uuid = NULL;
        if (r >= 0) {
                char l[sizeof fs->super->s_volume_name + 1] = {};
                memcpy(l, fs->super->s_volume_name, sizeof fs->super->s_volume_name);
                char u[37];
                const uint8_t *b = fs->super->s_uuid;
                snprintf(u, sizeof u, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
                label = l[0] ? strdup(l) : NULL;
                uuid = strdup(u);
                if ((l[0] && !label) || !uuid)
                        r = -ENOMEM;
        }
        ext2fs_close_free(&fs);
        if (r < 0)
                return r;
        *ret_label = TAKE_PTR(label);
        *ret_uuid = TAKE_PTR(uuid);
        return 0;
}

const FsType fs_type_ext4 = { .name = "ext4", .probe = ext4_probe, .walk = ext4_walk };
