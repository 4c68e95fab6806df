/* SPDX-License-Identifier: MIT */

/* VHDX ([MS-VHDX] "Virtual Hard Disk v2 (VHDX) File Format" v20240423):
 * the file type identifier, two headers (the valid one with the higher
 * sequence number is current, 2.2.2.1), two copies of the region table
 * (2.2.3), the metadata region (2.6) for the block size, the virtual size
 * and the logical sector size, and the BAT (2.5) that maps each payload
 * block to a place in the file or to zeros. Differencing disks (a parent)
 * and files with a log to replay (2.3) are refused. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "inspect/block.h"

typedef uint16_t le16_t;
typedef uint32_t le32_t;
typedef uint64_t le64_t;

#define KiB UINT64_C(1024)
#define MiB (KiB * 1024)

/* 2.2.2 Headers (at 64 KiB and 128 KiB). */
struct vhdx_header {
        char signature[4]; /* "head" */
        le32_t checksum;   /* CRC-32C of the 4 KiB with this field 0 */
        le64_t sequence_number;
        uint8_t file_write_guid[16];
        uint8_t data_write_guid[16];
        uint8_t log_guid[16]; /* zero: no log to replay */
        le16_t log_version;
        le16_t version; /* 1 */
        le32_t log_length;
        le64_t log_offset;
        uint8_t reserved[4016];
} _packed_;
static_assert(sizeof(struct vhdx_header) == 4096, "VHDX header");

/* 2.2.3.1 Region Table Header, 2.2.3.2 Region Table Entry. */
struct vhdx_region_table_header {
        char signature[4]; /* "regi" */
        le32_t checksum;   /* CRC-32C of the 64 KiB table with this field 0 */
        le32_t entry_count; /* at most 2047 */
        le32_t reserved;
} _packed_;
static_assert(sizeof(struct vhdx_region_table_header) == 16, "VHDX region table header");

struct vhdx_region_table_entry {
        uint8_t guid[16];
        le64_t file_offset;
        le32_t length;
        le32_t required;
} _packed_;
static_assert(sizeof(struct vhdx_region_table_entry) == 32, "VHDX region table entry");

/* 2.6.1.1 Metadata Table Header, 2.6.1.2 Metadata Table Entry. */
struct vhdx_metadata_table_header {
        char signature[8]; /* "metadata" */
        le16_t reserved;
        le16_t entry_count; /* at most 2047 */
        uint8_t reserved2[20];
} _packed_;
static_assert(sizeof(struct vhdx_metadata_table_header) == 32, "VHDX metadata table header");

struct vhdx_metadata_table_entry {
        uint8_t item_id[16];
        le32_t offset; /* from the start of the metadata region */
        le32_t length;
        le32_t flags;
        le32_t reserved2;
} _packed_;
static_assert(sizeof(struct vhdx_metadata_table_entry) == 32, "VHDX metadata table entry");

#define GUID_BYTES(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                                   \
        {                                                                                                     \
                (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, ((a) >> 24) & 0xff, (b) & 0xff, (b) >> 8, \
                        (c) & 0xff, (c) >> 8, d0, d1, d2, d3, d4, d5, d6, d7                                  \
        }

/* 2.2.3.2 and 2.6.2: the regions and metadata items read here. */
static const uint8_t region_bat[16] =
        GUID_BYTES(0x2DC27766, 0xF623, 0x4200, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08);
static const uint8_t region_metadata[16] =
        GUID_BYTES(0x8B7CA206, 0x4790, 0x4B9A, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E);
static const uint8_t item_file_parameters[16] =
        GUID_BYTES(0xCAA16737, 0xFA36, 0x4D43, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B);
static const uint8_t item_virtual_disk_size[16] =
        GUID_BYTES(0x2FA54224, 0xCD1B, 0x4876, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8);
static const uint8_t item_logical_sector_size[16] =
        GUID_BYTES(0x8141BF1D, 0xA96F, 0x4709, 0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F);

/* 2.5.1.1 payload block states. */
enum {
        PAYLOAD_BLOCK_NOT_PRESENT = 0,
        PAYLOAD_BLOCK_UNDEFINED = 1,
        PAYLOAD_BLOCK_ZERO = 2,
        PAYLOAD_BLOCK_UNMAPPED = 3,
        PAYLOAD_BLOCK_FULLY_PRESENT = 6,
        PAYLOAD_BLOCK_PARTIALLY_PRESENT = 7,
};

typedef struct VhdxSource {
        BlockSource base;
        BlockSource *file;
        uint64_t block_size, chunk_ratio;
        le64_t *bat;
        uint64_t n_bat;
} VhdxSource;

static int vhdx_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        VhdxSource *v = (VhdxSource *) s;
        uint8_t *p = buf;
        while (n > 0) {
                uint64_t block = offset / v->block_size, within = offset % v->block_size;
                size_t k = (size_t) MIN((uint64_t) n, v->block_size - within);
                uint64_t i = block + block / v->chunk_ratio; /* a sector bitmap entry every chunk ratio */
                uint64_t e = i < v->n_bat ? le64toh(v->bat[i]) : 0;
                switch (e & 7) {
                case PAYLOAD_BLOCK_FULLY_PRESENT: {
                        uint64_t at = e & ~(MiB - 1); /* FileOffsetMB, bits 20-63 */
                        int r = block_read(v->file, at + within, p, k);
                        if (r < 0)
                                return r == -EIO ? -EBADMSG : r;
                        break;
                }
                case PAYLOAD_BLOCK_NOT_PRESENT:
                case PAYLOAD_BLOCK_UNDEFINED:
                case PAYLOAD_BLOCK_ZERO:
                case PAYLOAD_BLOCK_UNMAPPED:
                        memset(p, 0, k);
                        break;
                default: /* partially present needs a parent; 4, 5 are reserved */
                        return -EBADMSG;
                }
                p += k;
                n -= k;
                offset += k;
        }
        return 0;
}

static void vhdx_release(BlockSource *s) {
        VhdxSource *v = (VhdxSource *) s;
        free(v->bat);
        block_source_free(v->file);
}

static const BlockSourceOps vhdx_ops = { .read_at = vhdx_read_at, .release = vhdx_release };

static bool in_file(const BlockSource *file, uint64_t offset, uint64_t length) {
        return offset <= file->size && length <= file->size - offset;
}

/* The current header (2.2.2.1): valid checksum, the higher sequence number. */
static int read_header(BlockSource *file, struct vhdx_header *ret, Diagnostics *d) {
        _cleanup_free_ struct vhdx_header *h = new0(struct vhdx_header, 2);
        if (!h)
                return -ENOMEM;
        int best = -1;
        for (int k = 0; k < 2; k++) {
                if (block_read(file, (uint64_t) (k + 1) * 64 * KiB, &h[k], sizeof h[k]) < 0 ||
                    memcmp(h[k].signature, "head", 4) != 0)
                        continue;
                uint32_t want = le32toh(h[k].checksum);
                h[k].checksum = 0;
                if (block_crc32c(&h[k], sizeof h[k]) != want)
                        continue;
                if (best < 0 || le64toh(h[k].sequence_number) > le64toh(h[best].sequence_number))
                        best = k;
        }
        if (best < 0) {
                diag_error(d, NULL, "VHDX: no valid header (signature and CRC-32C) at 64 KiB or 128 KiB");
                return -EBADMSG;
        }
        *ret = h[best];
        return 0;
}

/* A valid region table (2.2.3): the first copy, or the second. */
static int read_regions(BlockSource *file, uint64_t *ret_bat, uint32_t *ret_bat_len, uint64_t *ret_meta,
                        uint32_t *ret_meta_len, Diagnostics *d) {
        _cleanup_free_ uint8_t *t = malloc(64 * KiB);
        if (!t)
                return -ENOMEM;
        for (int k = 0; k < 2; k++) {
                if (block_read(file, (uint64_t) (3 + k) * 64 * KiB, t, 64 * KiB) < 0)
                        continue;
                struct vhdx_region_table_header *h = (struct vhdx_region_table_header *) t;
                if (memcmp(h->signature, "regi", 4) != 0)
                        continue;
                uint32_t want = le32toh(h->checksum);
                h->checksum = 0;
                if (block_crc32c(t, 64 * KiB) != want)
                        continue;
                uint32_t n = le32toh(h->entry_count);
                if (n > 2047)
                        continue;
                bool bat = false, meta = false;
                const struct vhdx_region_table_entry *e = (const struct vhdx_region_table_entry *) (h + 1);
                for (uint32_t i = 0; i < n; i++) {
                        if (memcmp(e[i].guid, region_bat, 16) == 0) {
                                *ret_bat = le64toh(e[i].file_offset);
                                *ret_bat_len = le32toh(e[i].length);
                                bat = true;
                        } else if (memcmp(e[i].guid, region_metadata, 16) == 0) {
                                *ret_meta = le64toh(e[i].file_offset);
                                *ret_meta_len = le32toh(e[i].length);
                                meta = true;
                        } else if (le32toh(e[i].required) & 1) {
                                diag_error(d, NULL, "VHDX: an unknown required region");
                                return -EOPNOTSUPP;
                        }
                }
                if (!bat || !meta) {
                        diag_error(d, NULL, "VHDX: the region table has no %s region", bat ? "metadata" : "BAT");
                        return -EBADMSG;
                }
                return 0;
        }
        diag_error(d, NULL, "VHDX: no valid region table (signature and CRC-32C) at 192 KiB or 256 KiB");
        return -EBADMSG;
}

/* One metadata item of exactly size bytes (2.6.1.2: offset >= 64 KiB, within
 * the region). */
static int read_item(BlockSource *file, uint64_t meta, uint32_t meta_len, const struct vhdx_metadata_table_entry *e,
                     size_t n, const uint8_t id[16], void *buf, size_t size) {
        for (size_t i = 0; i < n; i++) {
                if (memcmp(e[i].item_id, id, 16) != 0)
                        continue;
                uint32_t off = le32toh(e[i].offset), len = le32toh(e[i].length);
                if (len != size || off < 64 * KiB || off > meta_len || len > meta_len - off)
                        return -EBADMSG;
                return block_read(file, meta + off, buf, size) < 0 ? -EBADMSG : 0;
        }
        return -ENOENT;
}

int block_open_vhdx(BlockSource *file, BlockSource **ret, Diagnostics *d) {
        char sig[8];
        if (block_read(file, 0, sig, sizeof sig) < 0 || memcmp(sig, "vhdxfile", 8) != 0)
                return -EMEDIUMTYPE;

        struct vhdx_header h;
        int r = read_header(file, &h, d);
        if (r < 0)
                return r;
        static const uint8_t zero[16];
        if (memcmp(h.log_guid, zero, 16) != 0) {
                diag_error(d, NULL, "VHDX: the log has entries to replay (the disk was not closed cleanly)");
                return -EOPNOTSUPP;
        }
        if (le16toh(h.version) != 1) {
                diag_error(d, NULL, "VHDX: version %u, not 1", le16toh(h.version));
                return -EOPNOTSUPP;
        }

        uint64_t bat = 0, meta = 0;
        uint32_t bat_len = 0, meta_len = 0;
        if ((r = read_regions(file, &bat, &bat_len, &meta, &meta_len, d)) < 0)
                return r;
        /* 2.2.3.2: regions are 1 MiB aligned, their lengths multiples of 1 MiB. */
        if (bat % MiB != 0 || meta % MiB != 0 || bat_len % MiB != 0 || meta_len % MiB != 0 || meta_len == 0 ||
            !in_file(file, bat, bat_len) || !in_file(file, meta, meta_len)) {
                diag_error(d, NULL, "VHDX: the BAT or metadata region is misaligned or outside the file");
                return -EBADMSG;
        }

        struct vhdx_metadata_table_header mh;
        if (block_read(file, meta, &mh, sizeof mh) < 0 || memcmp(mh.signature, "metadata", 8) != 0 ||
            le16toh(mh.entry_count) > 2047) {
                diag_error(d, NULL, "VHDX: the metadata table is malformed");
                return -EBADMSG;
        }
        size_t n_items = le16toh(mh.entry_count);
        _cleanup_free_ struct vhdx_metadata_table_entry *items = new0(struct vhdx_metadata_table_entry, n_items + 1);
        if (!items)
                return -ENOMEM;
        if (block_read(file, meta + sizeof mh, items, n_items * sizeof *items) < 0) {
                diag_error(d, NULL, "VHDX: the metadata table is malformed");
                return -EBADMSG;
        }
        struct {
                le32_t block_size;
                le32_t flags;
        } params;
        le64_t vsize;
        le32_t lss;
        if (read_item(file, meta, meta_len, items, n_items, item_file_parameters, &params, sizeof params) < 0 ||
            read_item(file, meta, meta_len, items, n_items, item_virtual_disk_size, &vsize, sizeof vsize) < 0 ||
            read_item(file, meta, meta_len, items, n_items, item_logical_sector_size, &lss, sizeof lss) < 0) {
                diag_error(d, NULL, "VHDX: the file parameters, virtual disk size or logical sector size is "
                                    "missing or malformed");
                return -EBADMSG;
        }
        uint64_t block_size = le32toh(params.block_size), size = le64toh(vsize), sector = le32toh(lss);
        if (le32toh(params.flags) & 2) {
                diag_error(d, NULL, "VHDX: a differencing disk (it has a parent); only whole disks can be read");
                return -EOPNOTSUPP;
        }
        /* 2.6.2.1: 1 MiB to 256 MiB, a power of two; 2.6.2.4: 512 or 4096;
         * 2.6.2.2: at most 64 TiB, a multiple of the logical sector size. */
        if (block_size < MiB || block_size > 256 * MiB || (block_size & (block_size - 1)) != 0 ||
            (sector != 512 && sector != 4096) || size == 0 || size > 64 * MiB * MiB || size % sector != 0) {
                diag_error(d, NULL, "VHDX: block size %llu, sector size %llu or disk size %llu out of range",
                           (unsigned long long) block_size, (unsigned long long) sector, (unsigned long long) size);
                return -EBADMSG;
        }
        /* 2.4: chunk ratio = 2^23 * LogicalSectorSize / BlockSize (>= 16). */
        uint64_t chunk_ratio = ((uint64_t) 1 << 23) * sector / block_size;
        uint64_t blocks = (size + block_size - 1) / block_size;
        uint64_t n_bat = blocks + (blocks - 1) / chunk_ratio;
        if (n_bat > bat_len / 8) {
                diag_error(d, NULL, "VHDX: the BAT region holds %llu entries, the disk needs %llu",
                           (unsigned long long) (bat_len / 8), (unsigned long long) n_bat);
                return -EBADMSG;
        }
        /* n_bat * 8 <= bat_len, which lies within the file: bounded by its size. */
        _cleanup_free_ le64_t *table = new0(le64_t, n_bat);
        if (!table)
                return -ENOMEM;
        if (block_read(file, bat, table, n_bat * 8) < 0)
                return -EIO;
        /* Every present block lies in the file (writers extend the file by
         * whole blocks): otherwise the file was cut short. */
        for (uint64_t i = 0; i < n_bat; i++) {
                uint64_t e = le64toh(table[i]), at = e & ~(MiB - 1);
                if ((i + 1) % (chunk_ratio + 1) == 0)
                        continue; /* a sector bitmap entry */
                if ((e & 7) == PAYLOAD_BLOCK_FULLY_PRESENT && !in_file(file, at, block_size)) {
                        diag_error(d, NULL, "VHDX: payload block %llu lies past the end of the file (%llu bytes): "
                                            "truncated",
                                   (unsigned long long) (i - i / (chunk_ratio + 1)), (unsigned long long) file->size);
                        return -EBADMSG;
                }
        }

        VhdxSource *v = new0(VhdxSource, 1);
        if (!v)
                return -ENOMEM;
        v->base = (BlockSource) { .ops = &vhdx_ops, .size = size, .format = "vhdx" };
        v->file = file;
        v->block_size = block_size;
        v->chunk_ratio = chunk_ratio;
        v->bat = TAKE_PTR(table);
        v->n_bat = n_bat;
        *ret = &v->base;
        return 0;
}
