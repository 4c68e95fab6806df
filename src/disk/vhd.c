/* SPDX-License-Identifier: MIT */

/* VHD, fixed (Microsoft, "Virtual Hard Disk Image Format Specification" 1.0
 * (2006), "Hard Disk Footer Format" and appendix "CHS Calculation"): the
 * disk's bytes as they are, then a 512-byte footer. Written by write_vhd()
 * (a raw disk and the footer); read by block_open_vhd(), which refuses
 * dynamic and differencing disks (a header and a BAT): slipway writes
 * neither. */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "disk/container-internal.h"
#include "disk/gpt.h"

/* VHD specification, "Hard Disk Footer Format": all fields big-endian. */
struct vhd_footer {
        char cookie[8];             /* "conectix" */
        be32_t features;            /* 2: reserved, always set */
        be32_t file_format_version; /* 0x00010000 */
        be64_t data_offset;         /* fixed disks: 0xFFFFFFFFFFFFFFFF */
        be32_t time_stamp;          /* seconds since 2000-01-01 00:00:00 UTC */
        char creator_application[4];
        be32_t creator_version;
        be32_t creator_host_os; /* "Wi2k" */
        be64_t original_size;
        be64_t current_size;
        be16_t cylinders; /* disk geometry */
        uint8_t heads;
        uint8_t sectors_per_track;
        be32_t disk_type; /* 2: fixed */
        be32_t checksum;  /* one's complement of the sum of the footer's bytes without this field */
        uint8_t unique_id[16];
        uint8_t saved_state;
        uint8_t reserved[427];
} _packed_;
static_assert(sizeof(struct vhd_footer) == 512, "VHD footer");

#define VHD_EPOCH 946684800 /* 2000-01-01T00:00:00Z */

/* VHD specification, appendix "CHS Calculation". */
static void vhd_geometry(uint64_t size, uint16_t *ret_c, uint8_t *ret_h, uint8_t *ret_s) {
        uint64_t total = size / 512;
        uint32_t spt, heads, cth;
        if (total > 65535ull * 16 * 255)
                total = 65535ull * 16 * 255;
        if (total >= 65535ull * 16 * 63) {
                spt = 255;
                heads = 16;
                cth = (uint32_t) (total / spt);
        } else {
                spt = 17;
                cth = (uint32_t) (total / spt);
                heads = (cth + 1023) / 1024;
                if (heads < 4)
                        heads = 4;
                if (cth >= heads * 1024 || heads > 16) {
                        spt = 31;
                        heads = 16;
                        cth = (uint32_t) (total / spt);
                }
                if (cth >= heads * 1024) {
                        spt = 63;
                        heads = 16;
                        cth = (uint32_t) (total / spt);
                }
        }
        *ret_c = (uint16_t) (cth / heads);
        *ret_h = (uint8_t) heads;
        *ret_s = (uint8_t) spt;
}

/* The creator version: slipway's major and minor version, as major << 16 |
 * minor (the way Virtual PC writes its own). */
static uint32_t creator_version(void) {
        char *end;
        unsigned long major = strtoul(SLIPWAY_VERSION, &end, 10), minor = 0;
        if (*end == '.')
                minor = strtoul(end + 1, NULL, 10);
        return (uint32_t) ((major & 0xffff) << 16 | (minor & 0xffff));
}

int write_vhd(const DiskSource *s, const DiskWriteOptions *o, int fd) {
        int r = write_raw(s, o, fd);
        if (r < 0)
                return r;

        struct vhd_footer f = {
                .features = htobe32(2),
                .file_format_version = htobe32(0x00010000),
                .data_offset = htobe64(UINT64_MAX),
                .creator_version = htobe32(creator_version()),
                .original_size = htobe64(s->size),
                .current_size = htobe64(s->size),
                .disk_type = htobe32(2),
        };
        memcpy(f.cookie, "conectix", 8);
        /* qemu (block/vpc.c) sizes a fixed VHD by its CHS geometry, which
         * rounds down, unless the creator is one it knows to mean the
         * footer's size ("win ", "qem2", "d2v ", "CTXS", "tap\0"). Hyper-V
         * and Azure use the footer's size; "qem2" says exactly that. */
        memcpy(f.creator_application, "qem2", 4);
        memcpy(&f.creator_host_os, "Wi2k", 4);
        int64_t t = o->timestamp - VHD_EPOCH;
        f.time_stamp = htobe32((uint32_t) (t < 0 ? 0 : t > UINT32_MAX ? UINT32_MAX : t));
        uint16_t c;
        vhd_geometry(s->size, &c, &f.heads, &f.sectors_per_track);
        f.cylinders = htobe16(c);
        r = gpt_guid_derive(o->seed, "vhd-unique-id", f.unique_id);
        if (r < 0)
                return r;
        uint32_t sum = 0;
        for (size_t i = 0; i < sizeof f; i++)
                sum += ((const uint8_t *) &f)[i];
        f.checksum = htobe32(~sum);
        return pwrite_all(fd, &f, sizeof f, s->size);
}

/* ---- reading ---- */


typedef struct VhdSource {
        BlockSource base;
        BlockSource *file;
} VhdSource;

static int vhd_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        return block_read(((VhdSource *) s)->file, offset, buf, n);
}

static void vhd_release(BlockSource *s) {
        block_source_free(((VhdSource *) s)->file);
}

static const BlockSourceOps vhd_ops = { .read_at = vhd_read_at, .release = vhd_release };

int block_open_vhd(BlockSource *file, BlockSource **ret, Diagnostics *d) {
        struct vhd_footer f;
        if (file->size < 512 || block_read(file, file->size - 512, &f, sizeof f) < 0 ||
            memcmp(f.cookie, "conectix", 8) != 0)
                return -EMEDIUMTYPE;

        uint32_t sum = 0, want = be32toh(f.checksum);
        f.checksum = 0;
        for (size_t i = 0; i < sizeof f; i++)
                sum += ((const uint8_t *) &f)[i];
        if (~sum != want) {
                diag_error(d, NULL, "VHD footer: bad checksum");
                return -EBADMSG;
        }
        uint32_t type = be32toh(f.disk_type);
        if (type != 2) {
                diag_error(d, NULL, "VHD: a %s disk; only fixed VHDs can be read",
                           type == 3 ? "dynamic" : type == 4 ? "differencing" : "unknown type of");
                return -EOPNOTSUPP;
        }
        /* A fixed disk is the file before its footer: the footer's size may
         * not claim more than that. */
        uint64_t size = be64toh(f.current_size);
        if (size > file->size - 512) {
                diag_error(d, NULL, "VHD footer: a disk of %llu bytes in a file of %llu", (unsigned long long) size,
                           (unsigned long long) file->size);
                return -EBADMSG;
        }
        VhdSource *v = new0(VhdSource, 1);
        if (!v)
                return -ENOMEM;
        v->base = (BlockSource) { .ops = &vhd_ops, .size = size, .format = "vhd" };
        v->file = file;
        *ret = &v->base;
        return 0;
}
