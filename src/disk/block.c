/* SPDX-License-Identifier: MIT */

/* Block sources (block.h): the interface, the three plain sources (a file,
 * memory, a slice) and the choice of a container reader. */

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "disk/block.h"

int block_read(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        if (offset > s->size || n > s->size - offset)
                return -EIO;
        if (n == 0)
                return 0;
        return s->ops->read_at(s, offset, buf, n);
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

static const BlockSourceOps file_ops = { .read_at = file_read_at, .release = file_release };

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

static const BlockSourceOps slice_ops = { .read_at = slice_read_at };

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
