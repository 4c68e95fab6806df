/* SPDX-License-Identifier: MIT */

/* A virtual disk from pieces (layout.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "disk/layout.h"

#define SECTOR 512u

void disk_layout_release(DiskLayout *l) {
        free(l->pieces);
        free(l->extents);
        *l = (DiskLayout) {};
}

static int add(DiskLayout *l, DiskPiece p) {
        if (p.length == 0)
                return 0;
        if (l->n > 0) {
                const DiskPiece *prev = &l->pieces[l->n - 1];
                if (p.offset < prev->offset + prev->length)
                        return -EINVAL;
        }
        if (!GREEDY_REALLOC(l->pieces, l->allocated, l->n + 1))
                return -ENOMEM;
        l->pieces[l->n++] = p;
        return 0;
}

int disk_layout_add_data(DiskLayout *l, uint64_t offset, const uint8_t *data, uint64_t length) {
        return add(l, (DiskPiece) { .offset = offset, .length = length, .data = data, .fd = -1 });
}

int disk_layout_add_file(DiskLayout *l, uint64_t offset, uint64_t len, int fd) {
        uint64_t pos = 0;
        while (pos < len) {
                off_t data = lseek(fd, (off_t) pos, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        break; /* only holes from here */
                off_t hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
                uint64_t a, b;
                if (data < 0 || hole < 0) {
                        if (errno != EINVAL && errno != EOPNOTSUPP)
                                return -errno;
                        a = pos, b = len; /* no hole detection here: all of it */
                } else {
                        a = (uint64_t) data / SECTOR * SECTOR;
                        b = MIN(((uint64_t) hole + SECTOR - 1) / SECTOR * SECTOR, len);
                }
                if (a >= len)
                        break;
                DiskPiece *prev = l->n > 0 ? &l->pieces[l->n - 1] : NULL;
                if (prev && prev->fd == fd && prev->offset + prev->length >= offset + a)
                        prev->length = offset + b - prev->offset; /* widened into the previous run: join */
                else {
                        int r = add(l, (DiskPiece) { .offset = offset + a, .length = b - a, .fd = fd, .src_offset = a });
                        if (r < 0)
                                return r;
                }
                pos = b;
        }
        return 0;
}

int disk_layout_add_source(DiskLayout *l, uint64_t offset, BlockSource *s, uint64_t src_offset, uint64_t length) {
        _cleanup_free_ DiskExtent *map = NULL;
        size_t n = 0;
        int r = block_map(s, &map, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                uint64_t a = MAX(map[i].offset, src_offset), b = MIN(map[i].offset + map[i].length, src_offset + length);
                if (a >= b)
                        continue;
                r = add(l, (DiskPiece) { .offset = offset + (a - src_offset), .length = b - a, .fd = -1, .source = s,
                                         .src_offset = a });
                if (r < 0)
                        return r;
        }
        return 0;
}

/* n bytes at offset: the parts that pieces cover from them, zeros between. */
static int layout_read(void *userdata, uint64_t offset, void *buf, size_t n) {
        const DiskLayout *l = userdata;
        uint8_t *out = buf;
        /* The first piece that ends after offset (pieces are sorted and apart). */
        size_t lo = 0, hi = l->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (l->pieces[mid].offset + l->pieces[mid].length <= offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        memset(out, 0, n);
        for (size_t i = lo; i < l->n && l->pieces[i].offset < offset + n; i++) {
                const DiskPiece *p = &l->pieces[i];
                uint64_t a = MAX(offset, p->offset), b = MIN(offset + n, p->offset + p->length);
                uint8_t *dst = out + (a - offset);
                size_t k = (size_t) (b - a);
                uint64_t at = a - p->offset;
                if (p->data)
                        memcpy(dst, p->data + at, k);
                else if (p->source) {
                        int r = block_read(p->source, p->src_offset + at, dst, k);
                        if (r < 0)
                                return r;
                } else {
                        ssize_t got = pread(p->fd, dst, k, (off_t) (p->src_offset + at));
                        if (got < 0)
                                return -errno;
                }
        }
        return 0;
}

int disk_layout_source(DiskLayout *l, uint64_t size, DiskSource *ret) {
        free(l->extents);
        l->extents = new0(DiskExtent, l->n);
        if (!l->extents)
                return -ENOMEM;
        size_t m = 0;
        for (size_t i = 0; i < l->n; i++) {
                uint64_t a = l->pieces[i].offset / SECTOR * SECTOR;
                uint64_t b = MIN((l->pieces[i].offset + l->pieces[i].length + SECTOR - 1) / SECTOR * SECTOR, size);
                if (m > 0 && l->extents[m - 1].offset + l->extents[m - 1].length >= a) {
                        /* Pieces that share a sector: one extent. */
                        DiskExtent *e = &l->extents[m - 1];
                        e->length = MAX(e->offset + e->length, b) - e->offset;
                } else
                        l->extents[m++] = (DiskExtent) { .offset = a, .length = b - a };
        }
        *ret = (DiskSource) { .size = size, .extents = l->extents, .n_extents = m, .read = layout_read, .userdata = l };
        return 0;
}
