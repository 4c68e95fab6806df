/* SPDX-License-Identifier: MIT */
/* Disk containers: what raw, VHD (fixed), VHDX (dynamic) and qcow2 share,
 * and the one entry point of their writers. Each format is one file (raw.c,
 * vhd.c, vhdx.c, qcow2.c) with its structures, writer and reader.
 *
 * Specifications:
 *  VHD:   Microsoft, "Virtual Hard Disk Image Format Specification" 1.0
 *         (2006), "Hard Disk Footer Format" and appendix "CHS Calculation".
 *  VHDX:  Microsoft [MS-VHDX] "Virtual Hard Disk v2 (VHDX) File Format".
 *  qcow2: QEMU, docs/interop/qcow2.txt (version 3). */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "disk/container-internal.h"
#include "disk/gpt.h"

static const char *const disk_format_table[_DISK_FORMAT_MAX] = {
        [DISK_FORMAT_RAW] = "raw",
        [DISK_FORMAT_VHD] = "vhd",
        [DISK_FORMAT_VHDX] = "vhdx",
        [DISK_FORMAT_QCOW2] = "qcow2",
};

const char *disk_format_to_string(DiskFormat f) {
        if (f < 0 || f >= _DISK_FORMAT_MAX)
                return NULL;
        return disk_format_table[f];
}

DiskFormat disk_format_from_string(const char *s) {
        for (size_t i = 0; s && i < _DISK_FORMAT_MAX; i++)
                if (strcmp(disk_format_table[i], s) == 0)
                        return (DiskFormat) i;
        return _DISK_FORMAT_INVALID;
}

/* ---- helpers ---- */

uint64_t round_up(uint64_t x, uint64_t a) {
        return (x + a - 1) / a * a;
}

bool is_zero(const uint8_t *p, size_t n) {
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Writes data (n bytes, meant for file offset `offset`) but leaves out the
 * 4 KiB blocks (counted from data) that are all zeros: the file must already
 * be long enough or be extended by a later write or ftruncate(). */
int write_sparse(int fd, uint64_t offset, const uint8_t *data, size_t n) {
        size_t run = 0, run_len = 0;
        for (size_t i = 0; i < n; i += HOLE_BLOCK) {
                size_t l = MIN(HOLE_BLOCK, n - i);
                if (!is_zero(data + i, l)) {
                        if (run_len == 0)
                                run = i;
                        run_len += l;
                        continue;
                }
                if (run_len > 0) {
                        int r = pwrite_all(fd, data + run, run_len, offset + run);
                        if (r < 0)
                                return r;
                        run_len = 0;
                }
        }
        if (run_len > 0)
                return pwrite_all(fd, data + run, run_len, offset + run);
        return 0;
}

static int validate_source(const DiskSource *s) {
        if (!s || s->size == 0 || s->size % 512 != 0)
                return -EINVAL;
        if (s->n_extents > 0 && (!s->extents || !s->read))
                return -EINVAL;
        uint64_t end = 0;
        for (size_t i = 0; i < s->n_extents; i++) {
                const DiskExtent *e = &s->extents[i];
                if (e->offset % 512 != 0 || e->length % 512 != 0 || e->offset < end || e->offset > s->size ||
                    e->length > s->size - e->offset)
                        return -EINVAL;
                end = e->offset + e->length;
        }
        return 0;
}

int source_walk(const DiskSource *s, PieceFunc f, void *userdata) {
        _cleanup_free_ uint8_t *buf = malloc(UNIT);
        if (!buf)
                return -ENOMEM;
        uint64_t u = 0;
        size_t e = 0;
        for (;;) {
                while (e < s->n_extents && s->extents[e].offset + s->extents[e].length <= u)
                        e++;
                if (e >= s->n_extents)
                        return 0;
                u = MAX(u, s->extents[e].offset / UNIT * UNIT);
                size_t n = (size_t) MIN(UNIT, s->size - u);
                memset(buf, 0, UNIT);
                for (size_t i = e; i < s->n_extents && s->extents[i].offset < u + n; i++) {
                        uint64_t lo = MAX(s->extents[i].offset, u),
                                 hi = MIN(s->extents[i].offset + s->extents[i].length, u + n);
                        if (lo >= hi)
                                continue;
                        int r = s->read(s->userdata, lo, buf + (lo - u), (size_t) (hi - lo));
                        if (r < 0)
                                return r;
                }
                int r = f(userdata, u, buf, n);
                if (r < 0)
                        return r;
                u += n;
        }
}

/* ---- entry point ---- */

uint64_t disk_format_max_size(DiskFormat f) {
        switch (f) {
        case DISK_FORMAT_VHDX:
                return 64 * TiB;
        case DISK_FORMAT_QCOW2:
                return qcow2_max_size();
        case DISK_FORMAT_VHD:
                return 2040 * 1024 * MiB;
        case DISK_FORMAT_RAW:
                return 64 * TiB;
        default:
                return UINT64_MAX;
        }
}

/* One row per format: a new container is one file and one row here (and
 * one in block.c's readers). */
static int (*const writers[_DISK_FORMAT_MAX])(const DiskSource *s, const DiskWriteOptions *o, int fd) = {
        [DISK_FORMAT_RAW] = write_raw,
        [DISK_FORMAT_VHD] = write_vhd,
        [DISK_FORMAT_VHDX] = write_vhdx,
        [DISK_FORMAT_QCOW2] = write_qcow2,
};

int disk_write(const DiskSource *src, DiskFormat f, const DiskWriteOptions *o, const char *path) {
        static const DiskWriteOptions defaults = {};
        int r = validate_source(src);
        if (r < 0)
                return r;
        if (f < 0 || f >= _DISK_FORMAT_MAX || !path)
                return -EINVAL;
        /* Azure takes only fixed VHDs of a whole number of MiB. */
        if (f == DISK_FORMAT_VHD && src->size % MiB != 0)
                return -EINVAL;
        if (src->size > disk_format_max_size(f))
                return -EINVAL;
        if (!o)
                o = &defaults;

        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        r = writers[f](src, o, fd);
        /* Not fsync'd: see docs/images.md on large outputs. */
        return tmpfile_commit_unsynced(r, fd, tmp, path, 0644);
}
