/* SPDX-License-Identifier: MIT */

/* VHD (Microsoft, "Virtual Hard Disk Image Format Specification" 1.0
 * (2006)). Fixed: the disk's bytes as they are, then a 512-byte footer
 * ("Hard Disk Footer Format", appendix "CHS Calculation"); written by
 * write_vhd() (a raw disk and the footer). Dynamic: a copy of the footer, a
 * header ("Dynamic Disk Header Format"), a Block Allocation Table and
 * blocks, each a sector bitmap and the block's data ("Block Allocation
 * Table and Data Blocks"), then the footer. block_open_vhd() reads both and
 * refuses differencing disks (dynamic disks over a parent). */

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

/* VHD specification, "Dynamic Disk Header Format": all fields big-endian. */
struct vhd_parent_locator {
        be32_t platform_code;
        be32_t platform_data_space;
        be32_t platform_data_length;
        be32_t reserved;
        be64_t platform_data_offset;
} _packed_;

struct vhd_dynamic_header {
        char cookie[8];             /* "cxsparse" */
        be64_t data_offset;         /* unused: 0xFFFFFFFFFFFFFFFF */
        be64_t table_offset;        /* the BAT's absolute byte offset */
        be32_t header_version;      /* 0x00010000 */
        be32_t max_table_entries;   /* BAT entries */
        be32_t block_size;          /* data bytes per block, without the bitmap; 2 MiB by default */
        be32_t checksum;            /* as the footer's, over the header's 1024 bytes */
        uint8_t parent_unique_id[16];
        be32_t parent_time_stamp;
        be32_t reserved;
        be16_t parent_unicode_name[256]; /* UTF-16BE, differencing disks */
        struct vhd_parent_locator parent_locators[8];
        uint8_t reserved2[256];
} _packed_;
static_assert(sizeof(struct vhd_dynamic_header) == 1024, "VHD dynamic disk header");

#define VHD_TYPE_FIXED 2
#define VHD_TYPE_DYNAMIC 3
#define VHD_TYPE_DIFFERENCING 4
#define VHD_BAT_UNUSED UINT32_MAX

typedef struct VhdSource {
        BlockSource base;
        BlockSource *file;
        /* Dynamic disks: the BAT (sector offsets of blocks, host order,
         * VHD_BAT_UNUSED where none), and the sector bitmap last read. */
        uint32_t *bat;
        uint64_t n_bat;
        uint64_t block_size, bitmap_size;
        uint8_t *bitmap;
        uint64_t bitmap_for;
} VhdSource;

/* The footer's checksum and the dynamic header's: the one's complement of
 * the sum of every byte, the checksum field taken as zero. */
static uint32_t vhd_checksum(const void *p, size_t n, size_t checksum_at) {
        uint32_t sum = 0;
        for (size_t i = 0; i < n; i++)
                if (i < checksum_at || i >= checksum_at + 4)
                        sum += ((const uint8_t *) p)[i];
        return ~sum;
}

static bool footer_valid(const struct vhd_footer *f) {
        return memcmp(f->cookie, "conectix", 8) == 0 &&
               vhd_checksum(f, sizeof *f, offsetof(struct vhd_footer, checksum)) == be32toh(f->checksum);
}

static int vhd_fixed_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        return block_read(((VhdSource *) s)->file, offset, buf, n);
}

/* A fixed disk's data is its file's, without the footer. */
static int vhd_fixed_map(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        _cleanup_free_ DiskExtent *e = NULL;
        size_t n = 0;
        int r = block_map(((VhdSource *) s)->file, &e, &n);
        if (r < 0)
                return r;
        while (n > 0 && e[n - 1].offset >= s->size)
                n--;
        if (n > 0 && e[n - 1].offset + e[n - 1].length > s->size)
                e[n - 1].length = s->size - e[n - 1].offset;
        *ret = n > 0 ? TAKE_PTR(e) : NULL;
        *ret_n = n;
        return 0;
}

/* "Block Allocation Table and Data Blocks": a block holds a sector bitmap
 * (a bit per sector, the most significant bit of the first byte for the
 * first sector, padded to a whole sector) and then its data; a sector whose
 * bit is clear was never written and reads as zeros in a dynamic disk. */
static int vhd_dynamic_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        VhdSource *v = (VhdSource *) s;
        uint8_t *p = buf;
        while (n > 0) {
                uint64_t block = offset / v->block_size, within = offset % v->block_size;
                size_t k = (size_t) MIN((uint64_t) n, v->block_size - within);
                uint32_t e = block < v->n_bat ? v->bat[block] : VHD_BAT_UNUSED;
                if (e == VHD_BAT_UNUSED) {
                        memset(p, 0, k);
                        goto next;
                }
                uint64_t at = (uint64_t) e * 512;
                if (v->bitmap_for != block) {
                        v->bitmap_for = UINT64_MAX;
                        int r = block_read(v->file, at, v->bitmap, v->bitmap_size);
                        if (r < 0)
                                return r == -EIO ? -EBADMSG : r;
                        v->bitmap_for = block;
                }
                /* Runs of sectors with the same bit: one read or one memset each. */
                for (uint64_t pos = within, end = within + k; pos < end;) {
                        uint64_t sector = pos / 512;
                        bool present = v->bitmap[sector / 8] & (0x80 >> (sector % 8));
                        uint64_t stop = sector + 1;
                        while (stop * 512 < end && !!(v->bitmap[stop / 8] & (0x80 >> (stop % 8))) == present)
                                stop++;
                        uint64_t len = MIN(stop * 512, end) - pos;
                        uint8_t *dst = p + (pos - within);
                        if (present) {
                                int r = block_read(v->file, at + v->bitmap_size + pos, dst, (size_t) len);
                                if (r < 0)
                                        return r == -EIO ? -EBADMSG : r;
                        } else
                                memset(dst, 0, (size_t) len);
                        pos += len;
                }
        next:
                p += k;
                n -= k;
                offset += k;
        }
        return 0;
}

/* The blocks the BAT allocates. */
static int vhd_dynamic_map(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        VhdSource *v = (VhdSource *) s;
        ExtentList l = { .size = s->size, .max = extent_list_max(v->file->size) };
        for (uint64_t b = 0; b < v->n_bat; b++) {
                if (v->bat[b] == VHD_BAT_UNUSED)
                        continue;
                int r = extent_list_add(&l, b * v->block_size, v->block_size);
                if (r < 0) {
                        extent_list_release(&l);
                        return r;
                }
        }
        extent_list_take(&l, ret, ret_n);
        return 0;
}

static void vhd_release(BlockSource *s) {
        VhdSource *v = (VhdSource *) s;
        free(v->bat);
        free(v->bitmap);
        block_source_free(v->file);
}

static const BlockSourceOps vhd_fixed_ops = {
        .read_at = vhd_fixed_read_at,
        .release = vhd_release,
        .map = vhd_fixed_map,
};
static const BlockSourceOps vhd_dynamic_ops = {
        .read_at = vhd_dynamic_read_at,
        .release = vhd_release,
        .map = vhd_dynamic_map,
};

/* The header at the footer's data offset, checked. */
static int read_dynamic_header(BlockSource *file, const struct vhd_footer *f, struct vhd_dynamic_header *ret,
                               Diagnostics *d) {
        uint64_t at = be64toh(f->data_offset);
        if (at < 512 || at > file->size || sizeof *ret > file->size - at ||
            block_read(file, at, ret, sizeof *ret) < 0) {
                diag_error(d, NULL, "VHD: the dynamic disk header at %llu lies outside the file of %llu bytes",
                           (unsigned long long) at, (unsigned long long) file->size);
                return -EBADMSG;
        }
        if (memcmp(ret->cookie, "cxsparse", 8) != 0 ||
            vhd_checksum(ret, sizeof *ret, offsetof(struct vhd_dynamic_header, checksum)) != be32toh(ret->checksum)) {
                diag_error(d, NULL, "VHD: the dynamic disk header at %llu has no \"cxsparse\" cookie or a bad checksum",
                           (unsigned long long) at);
                return -EBADMSG;
        }
        return 0;
}

/* The parent's name from a differencing disk's header, printable ASCII
 * ('?' for the rest), for the message that refuses it. */
static void parent_name(const struct vhd_dynamic_header *h, char out[257]) {
        size_t k = 0;
        for (size_t i = 0; i < 256; i++) {
                uint16_t c = be16toh(h->parent_unicode_name[i]);
                if (c == 0)
                        break;
                out[k++] = c >= 0x20 && c < 0x7F ? (char) c : '?';
        }
        out[k] = 0;
}

static int open_dynamic(BlockSource *file, const struct vhd_footer *f, uint64_t size, BlockSource **ret,
                        Diagnostics *d) {
        struct vhd_dynamic_header h;
        int r = read_dynamic_header(file, f, &h, d);
        if (r < 0)
                return r;
        uint64_t block_size = be32toh(h.block_size), table = be64toh(h.table_offset);
        uint64_t entries = be32toh(h.max_table_entries);
        /* qemu (block/vpc.c) takes any power of two from a sector up; 2 MiB
         * is the specification's default. Bounded here so that a block's
         * bitmap stays small. */
        if (block_size < 512 || block_size > 256 * MiB || (block_size & (block_size - 1)) != 0 ||
            be32toh(h.header_version) != 0x00010000) {
                diag_error(d, NULL, "VHD: block size %llu or header version 0x%08x not supported",
                           (unsigned long long) block_size, be32toh(h.header_version));
                return -EBADMSG;
        }
        uint64_t need = (size + block_size - 1) / block_size;
        if (entries < need || table > file->size || need > (file->size - table) / 4) {
                diag_error(d, NULL, "VHD: a disk of %llu bytes needs %llu BAT entries; the table has %llu at %llu in a "
                                    "file of %llu bytes",
                           (unsigned long long) size, (unsigned long long) need, (unsigned long long) entries,
                           (unsigned long long) table, (unsigned long long) file->size);
                return -EBADMSG;
        }
        uint64_t bitmap_size = round_up(block_size / 512 / 8, 512);
        /* need * 4 bytes lie within the file: bounded by its size. */
        _cleanup_free_ uint32_t *bat = new0(uint32_t, need + 1);
        _cleanup_free_ uint8_t *bitmap = malloc(bitmap_size);
        if (!bat || !bitmap)
                return -ENOMEM;
        if (need > 0 && block_read(file, table, bat, need * 4) < 0)
                return -EIO;
        for (uint64_t i = 0; i < need; i++) {
                bat[i] = be32toh(bat[i]);
                uint64_t at = (uint64_t) bat[i] * 512;
                if (bat[i] == VHD_BAT_UNUSED)
                        continue;
                /* Writers add whole blocks (bitmap and data) before the
                 * footer: a block past the end means the file was cut. */
                if (at > file->size || bitmap_size + block_size > file->size - at) {
                        diag_error(d, NULL, "VHD: block %llu lies past the end of the file (%llu bytes): truncated",
                                   (unsigned long long) i, (unsigned long long) file->size);
                        return -EBADMSG;
                }
        }
        VhdSource *v = new0(VhdSource, 1);
        if (!v)
                return -ENOMEM;
        v->base = (BlockSource) { .ops = &vhd_dynamic_ops, .size = size, .format = "vhd" };
        v->file = file;
        v->bat = TAKE_PTR(bat);
        v->n_bat = need;
        v->block_size = block_size;
        v->bitmap_size = bitmap_size;
        v->bitmap = TAKE_PTR(bitmap);
        v->bitmap_for = UINT64_MAX;
        *ret = &v->base;
        return 0;
}

int block_open_vhd(BlockSource *file, BlockSource **ret, Diagnostics *d) {
        struct vhd_footer f;
        if (file->size < 512 || block_read(file, file->size - 512, &f, sizeof f) < 0 ||
            memcmp(f.cookie, "conectix", 8) != 0) {
                /* A dynamic disk starts with a copy of its footer: with the
                 * one at the end gone, the file was cut short. */
                if (file->size >= 1024 && block_read(file, 0, &f, sizeof f) >= 0 && footer_valid(&f) &&
                    (be32toh(f.disk_type) == VHD_TYPE_DYNAMIC || be32toh(f.disk_type) == VHD_TYPE_DIFFERENCING)) {
                        diag_error(d, NULL, "VHD: the footer copy at the start is there but the footer at the end "
                                            "is not: the file is truncated");
                        return -EBADMSG;
                }
                return -EMEDIUMTYPE;
        }
        if (!footer_valid(&f)) {
                diag_error(d, NULL, "VHD footer: bad checksum");
                return -EBADMSG;
        }
        uint32_t type = be32toh(f.disk_type);
        uint64_t size = be64toh(f.current_size);
        if (type == VHD_TYPE_DIFFERENCING) {
                struct vhd_dynamic_header h;
                char parent[257] = "";
                Diagnostics quiet = {};
                if (read_dynamic_header(file, &f, &h, &quiet) >= 0)
                        parent_name(&h, parent);
                diagnostics_release(&quiet);
                diag_error(d, NULL, "VHD: a differencing disk%s%s%s; only whole disks (fixed or dynamic) can be read",
                           parent[0] ? " (its parent is '" : "", parent, parent[0] ? "')" : "");
                return -EOPNOTSUPP;
        }
        if (type != VHD_TYPE_FIXED && type != VHD_TYPE_DYNAMIC) {
                diag_error(d, NULL, "VHD: unknown disk type %u", type);
                return -EOPNOTSUPP;
        }
        if (size == 0 || size % 512 != 0) {
                diag_error(d, NULL, "VHD footer: a disk of %llu bytes (not a positive multiple of 512)",
                           (unsigned long long) size);
                return -EBADMSG;
        }
        if (type == VHD_TYPE_DYNAMIC)
                return open_dynamic(file, &f, size, ret, d);

        /* A fixed disk is the file before its footer: the footer's size may
         * not claim more than that. */
        if (size > file->size - 512) {
                diag_error(d, NULL, "VHD footer: a disk of %llu bytes in a file of %llu", (unsigned long long) size,
                           (unsigned long long) file->size);
                return -EBADMSG;
        }
        VhdSource *v = new0(VhdSource, 1);
        if (!v)
                return -ENOMEM;
        v->base = (BlockSource) { .ops = &vhd_fixed_ops, .size = size, .format = "vhd" };
        v->file = file;
        *ret = &v->base;
        return 0;
}
