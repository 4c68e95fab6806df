/* SPDX-License-Identifier: MIT */

/* Block sources (block.h): the interface, the three plain sources (a file,
 * memory, a slice), allocation maps and the choice of a container reader. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "disk/block.h"
#include "disk/container-internal.h"

int block_read(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        if (offset > s->size || n > s->size - offset)
                return -EIO;
        if (n == 0)
                return 0;
        return s->ops->read_at(s, offset, buf, n);
}

/* ---- maps ---- */

size_t extent_list_max(uint64_t file_size) {
        uint64_t m = MAX(file_size / 64, (uint64_t) 4096);
        return (size_t) MIN(m, (uint64_t) SIZE_MAX / sizeof(DiskExtent));
}

int extent_list_add(ExtentList *l, uint64_t offset, uint64_t length) {
        if (offset >= l->size || length == 0)
                return 0;
        uint64_t start = offset / 512 * 512;
        uint64_t end = length > l->size - offset ? l->size : offset + length;
        end = MIN(round_up(end, 512), l->size); /* sizes are far below 2^64: no overflow */
        if (l->n > 0) {
                DiskExtent *last = &l->extents[l->n - 1];
                if (start <= last->offset + last->length || l->n >= MAX(l->max, (size_t) 1)) {
                        uint64_t e = MAX(last->offset + last->length, end);
                        last->length = e - last->offset;
                        return 0;
                }
        }
        if (l->n == l->allocated) {
                size_t n = l->allocated ? l->allocated * 2 : 16;
                DiskExtent *p = reallocarray(l->extents, n, sizeof *p);
                if (!p)
                        return -ENOMEM;
                l->extents = p;
                l->allocated = n;
        }
        l->extents[l->n++] = (DiskExtent) { .offset = start, .length = end - start };
        return 0;
}

void extent_list_take(ExtentList *l, DiskExtent **ret, size_t *ret_n) {
        *ret = l->n > 0 ? l->extents : NULL;
        *ret_n = l->n;
        if (l->n == 0)
                free(l->extents);
        l->extents = NULL;
        l->n = l->allocated = 0;
}

void extent_list_release(ExtentList *l) {
        free(l->extents);
        l->extents = NULL;
        l->n = l->allocated = 0;
}

static int block_map_all(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        if (s->size == 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        DiskExtent *e = new0(DiskExtent, 1);
        if (!e)
                return -ENOMEM;
        *e = (DiskExtent) { .offset = 0, .length = s->size };
        *ret = e;
        *ret_n = 1;
        return 0;
}

int block_map(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        return s->ops->map ? s->ops->map(s, ret, ret_n) : block_map_all(s, ret, ret_n);
}

BlockSource *block_source_free(BlockSource *s) {
        if (!s)
                return NULL;
        if (s->ops->release)
                s->ops->release(s);
        free(s);
        return NULL;
}

/* ---- a file ---- */

typedef struct FileSource {
        BlockSource base;
        int fd;
} FileSource;

static int file_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        FileSource *f = (FileSource *) s;
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = pread(f->fd, p, n, (off_t) offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0) /* the file shrank under us */
                        return -EIO;
                p += k;
                n -= (size_t) k;
                offset += (uint64_t) k;
        }
        return 0;
}

static void file_release(BlockSource *s) {
        FileSource *f = (FileSource *) s;
        if (f->fd >= 0)
                close(f->fd);
}

/* The file's data as its file system keeps it: SEEK_DATA and SEEK_HOLE
 * (lseek(2)). A file system without them reports the whole file as data;
 * so does a file that cannot be asked (EINVAL). */
static int file_map(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        FileSource *f = (FileSource *) s;
        ExtentList l = { .size = s->size, .max = extent_list_max(s->size) };
        uint64_t at = 0;
        while (at < s->size) {
                off_t data = lseek(f->fd, (off_t) at, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO) /* no data past at */
                                break;
                        if (errno == EINVAL && at == 0) {
                                extent_list_release(&l);
                                return block_map_all(s, ret, ret_n);
                        }
                        int r = negative_errno();
                        extent_list_release(&l);
                        return r;
                }
                off_t hole = lseek(f->fd, data, SEEK_HOLE);
                if (hole < 0 || hole <= data) /* the file changed under us: the rest is data */
                        hole = (off_t) s->size;
                int r = extent_list_add(&l, (uint64_t) data, (uint64_t) (hole - data));
                if (r < 0) {
                        extent_list_release(&l);
                        return r;
                }
                at = (uint64_t) hole;
        }
        extent_list_take(&l, ret, ret_n);
        return 0;
}

static const BlockSourceOps file_ops = { .read_at = file_read_at, .release = file_release, .map = file_map };

int block_source_from_fd(int fd, BlockSource **ret) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return -EINVAL;
        uint64_t size = (uint64_t) st.st_size;
        if (S_ISBLK(st.st_mode)) {
                off_t end = lseek(fd, 0, SEEK_END);
                if (end < 0)
                        return negative_errno();
                size = (uint64_t) end;
        }
        FileSource *f = new0(FileSource, 1);
        if (!f)
                return -ENOMEM;
        f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (f->fd < 0) {
                int r = negative_errno();
                free(f);
                return r;
        }
        f->base = (BlockSource) { .ops = &file_ops, .size = size, .format = "raw" };
        *ret = &f->base;
        return 0;
}

/* ---- memory ---- */

typedef struct MemorySource {
        BlockSource base;
        const uint8_t *data;
} MemorySource;

static int memory_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        memcpy(buf, ((MemorySource *) s)->data + offset, n);
        return 0;
}

static const BlockSourceOps memory_ops = { .read_at = memory_read_at };

int block_source_from_memory(const void *data, size_t size, BlockSource **ret) {
        MemorySource *m = new0(MemorySource, 1);
        if (!m)
                return -ENOMEM;
        m->base = (BlockSource) { .ops = &memory_ops, .size = size, .format = "raw" };
        m->data = data;
        *ret = &m->base;
        return 0;
}

/* ---- a slice ---- */

typedef struct SliceSource {
        BlockSource base;
        BlockSource *parent;
        uint64_t offset;
} SliceSource;

static int slice_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        SliceSource *sl = (SliceSource *) s;
        return block_read(sl->parent, sl->offset + offset, buf, n);
}

/* The base's map, clipped to the slice and shifted. */
static int slice_map(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        SliceSource *sl = (SliceSource *) s;
        _cleanup_free_ DiskExtent *base = NULL;
        size_t n = 0;
        int r = block_map(sl->parent, &base, &n);
        if (r < 0)
                return r;
        ExtentList l = { .size = s->size, .max = n + 1 };
        for (size_t i = 0; i < n; i++) {
                uint64_t lo = MAX(base[i].offset, sl->offset), hi = base[i].offset + base[i].length;
                if (hi <= lo)
                        continue;
                if (lo - sl->offset >= s->size)
                        break;
                if ((r = extent_list_add(&l, lo - sl->offset, hi - lo)) < 0) {
                        extent_list_release(&l);
                        return r;
                }
        }
        extent_list_take(&l, ret, ret_n);
        return 0;
}

static const BlockSourceOps slice_ops = { .read_at = slice_read_at, .map = slice_map };

int block_source_slice(BlockSource *base, uint64_t offset, uint64_t size, BlockSource **ret) {
        if (offset > base->size || size > base->size - offset)
                return -EINVAL;
        SliceSource *sl = new0(SliceSource, 1);
        if (!sl)
                return -ENOMEM;
        sl->base = (BlockSource) { .ops = &slice_ops, .size = size, .format = base->format };
        sl->parent = base;
        sl->offset = offset;
        *ret = &sl->base;
        return 0;
}

/* ---- containers ---- */

/* The most specific first: a VHD is recognised by its last sector only, and
 * a qcow2 or VHDX file's first bytes are not a raw disk's. */
static int (*const containers[])(BlockSource *, BlockSource **, Diagnostics *) = {
        block_open_qcow2,
        block_open_vhdx,
        block_open_vhd,
};

int block_open_container(BlockSource *file, BlockSource **ret, Diagnostics *d) {
        for (size_t i = 0; i < ELEMENTSOF(containers); i++) {
                int r = containers[i](file, ret, d);
                if (r != -EMEDIUMTYPE)
                        return r;
        }
        *ret = file;
        return 0;
}

/* Bit by bit: it checks 68 KiB of a VHDX file once, no table is worth it. */
uint32_t block_crc32c(const void *data, size_t n) {
        const uint8_t *p = data;
        uint32_t c = 0xFFFFFFFFu;
        while (n--) {
                c ^= *p++;
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        return c ^ 0xFFFFFFFFu;
}
