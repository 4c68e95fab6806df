/* SPDX-License-Identifier: MIT */

/* VHD, fixed (Microsoft "Virtual Hard Disk Image Format Specification" 1.0,
 * "Hard Disk Footer Format"): the disk's bytes as they are, then a 512-byte
 * footer. Dynamic and differencing disks (a header and a BAT) are not what
 * slipway writes and are refused. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "inspect/block.h"

typedef uint32_t be32_t;
typedef uint64_t be64_t;
typedef uint16_t be16_t;

/* "Hard Disk Footer Format": all fields big-endian. */
struct vhd_footer {
        char cookie[8]; /* "conectix" */
        be32_t features;
        be32_t file_format_version;
        be64_t data_offset;
        be32_t time_stamp;
        char creator_application[4];
        be32_t creator_version;
        be32_t creator_host_os;
        be64_t original_size;
        be64_t current_size;
        be16_t cylinders;
        uint8_t heads;
        uint8_t sectors_per_track;
        be32_t disk_type; /* 2 fixed, 3 dynamic, 4 differencing */
        be32_t checksum;  /* one's complement of the byte sum without this field */
        uint8_t unique_id[16];
        uint8_t saved_state;
        uint8_t reserved[427];
} _packed_;
static_assert(sizeof(struct vhd_footer) == 512, "VHD footer");

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
