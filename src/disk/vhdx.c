/* SPDX-License-Identifier: MIT */

/* VHDX ([MS-VHDX] "Virtual Hard Disk v2 (VHDX) File Format"). Written by
 * write_vhdx() as a dynamic disk; read by block_open_vhdx(). */

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

/* [MS-VHDX] 2.2.1 File Type Identifier (at offset 0, 64 KiB reserved). */
struct vhdx_file_identifier {
        char signature[8];   /* "vhdxfile" */
        le16_t creator[256]; /* UTF-16LE, informational */
} _packed_;
static_assert(sizeof(struct vhdx_file_identifier) == 520, "VHDX file type identifier");

/* [MS-VHDX] 2.2.2 Headers (at 64 KiB and 128 KiB). */
struct vhdx_header {
        char signature[4]; /* "head" */
        le32_t checksum;   /* CRC-32C of the 4 KiB header with this field 0 */
        le64_t sequence_number;
        uint8_t file_write_guid[16];
        uint8_t data_write_guid[16];
        uint8_t log_guid[16]; /* zero: no log to replay */
        le16_t log_version;   /* 0 */
        le16_t version;       /* 1 */
        le32_t log_length;
        le64_t log_offset;
        uint8_t reserved[4016];
} _packed_;
static_assert(sizeof(struct vhdx_header) == 4096, "VHDX header");

/* [MS-VHDX] 2.2.3.1 Region Table Header, 2.2.3.2 Region Table Entry (at
 * 192 KiB and 256 KiB, 64 KiB each). */
struct vhdx_region_table_header {
        char signature[4]; /* "regi" */
        le32_t checksum;   /* CRC-32C of the 64 KiB table with this field 0 */
        le32_t entry_count;
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

/* [MS-VHDX] 2.6.1.1 Metadata Table Header, 2.6.1.2 Metadata Table Entry. */
struct vhdx_metadata_table_header {
        char signature[8]; /* "metadata" */
        le16_t reserved;
        le16_t entry_count;
        uint8_t reserved2[20];
} _packed_;
static_assert(sizeof(struct vhdx_metadata_table_header) == 32, "VHDX metadata table header");

struct vhdx_metadata_table_entry {
        uint8_t item_id[16];
        le32_t offset; /* from the start of the metadata region, >= 64 KiB */
        le32_t length;
        le32_t flags; /* bit 0 IsUser, bit 1 IsVirtualDisk, bit 2 IsRequired */
        le32_t reserved2;
} _packed_;
static_assert(sizeof(struct vhdx_metadata_table_entry) == 32, "VHDX metadata table entry");

#define VHDX_META_IS_VIRTUAL_DISK 2u
#define VHDX_META_IS_REQUIRED 4u

/* [MS-VHDX] 2.6.2.1 File Parameters. */
struct vhdx_file_parameters {
        le32_t block_size;
        le32_t flags; /* bit 0 LeaveBlockAllocated, bit 1 HasParent */
} _packed_;
static_assert(sizeof(struct vhdx_file_parameters) == 8, "VHDX file parameters");

/* [MS-VHDX] 2.5.1.1 payload block states. */
enum {
        PAYLOAD_BLOCK_NOT_PRESENT = 0,
        PAYLOAD_BLOCK_UNDEFINED = 1,
        PAYLOAD_BLOCK_ZERO = 2,
        PAYLOAD_BLOCK_UNMAPPED = 3,
        PAYLOAD_BLOCK_FULLY_PRESENT = 6,
        PAYLOAD_BLOCK_PARTIALLY_PRESENT = 7,
};

/* GUIDs in their binary form: the first three fields little-endian. */
#define GUID_BYTES(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                                   \
        {                                                                                                     \
                (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, ((a) >> 24) & 0xff, (b) & 0xff, (b) >> 8, \
                        (c) & 0xff, (c) >> 8, d0, d1, d2, d3, d4, d5, d6, d7                                  \
        }

/* [MS-VHDX] 2.2.3.2: the known regions. */
static const uint8_t vhdx_region_bat[16] =
        GUID_BYTES(0x2DC27766, 0xF623, 0x4200, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08);
static const uint8_t vhdx_region_metadata[16] =
        GUID_BYTES(0x8B7CA206, 0x4790, 0x4B9A, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E);
/* [MS-VHDX] 2.6.2: the known metadata items. */
static const uint8_t vhdx_item_file_parameters[16] =
        GUID_BYTES(0xCAA16737, 0xFA36, 0x4D43, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B);
static const uint8_t vhdx_item_virtual_disk_size[16] =
        GUID_BYTES(0x2FA54224, 0xCD1B, 0x4876, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8);
static const uint8_t vhdx_item_virtual_disk_id[16] =
        GUID_BYTES(0xBECA12AB, 0xB2E6, 0x4523, 0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46);
static const uint8_t vhdx_item_logical_sector_size[16] =
        GUID_BYTES(0x8141BF1D, 0xA96F, 0x4709, 0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F);
static const uint8_t vhdx_item_physical_sector_size[16] =
        GUID_BYTES(0xCDA348C7, 0x445D, 0x4471, 0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56);

/* The file's layout: the header section (1 MiB), then the log, the metadata
 * region and the BAT, each 1 MiB-aligned ([MS-VHDX] 2.1), then the payload
 * blocks in the order of the virtual disk. The log is 1 MiB of zeros with a
 * zero LogGuid: nothing to replay ([MS-VHDX] 2.2.2), as qemu-img creates. */
#define VHDX_HEADER1_OFFSET (64 * KiB)
#define VHDX_HEADER2_OFFSET (128 * KiB)
#define VHDX_REGION1_OFFSET (192 * KiB)
#define VHDX_REGION2_OFFSET (256 * KiB)
#define VHDX_REGION_TABLE_SIZE (64 * KiB)
#define VHDX_LOG_OFFSET (1 * MiB)
#define VHDX_LOG_LENGTH (1 * MiB)
#define VHDX_METADATA_OFFSET (2 * MiB)
#define VHDX_METADATA_LENGTH (1 * MiB)
#define VHDX_BAT_OFFSET (3 * MiB)
#define VHDX_BLOCK_SIZE (32 * MiB) /* Hyper-V's default */
#define VHDX_LOGICAL_SECTOR 512
#define VHDX_PHYSICAL_SECTOR 4096
/* [MS-VHDX] 2.4: chunk ratio = 2^23 * LogicalSectorSize / BlockSize. */
#define VHDX_CHUNK_RATIO (((uint64_t) 1 << 23) * VHDX_LOGICAL_SECTOR / VHDX_BLOCK_SIZE)

typedef struct VhdxWriter {
        int fd;
        le64_t *bat;
        uint64_t next_block; /* file offset for the next payload block */
} VhdxWriter;

/* [MS-VHDX] 2.5: a sector bitmap entry follows every chunk ratio payload
 * entries. */
static uint64_t vhdx_bat_index(uint64_t block) {
        return block + block / VHDX_CHUNK_RATIO;
}

static int vhdx_piece(void *userdata, uint64_t offset, const uint8_t *data, size_t n) {
        VhdxWriter *w = userdata;
        if (is_zero(data, n))
                return 0;
        uint64_t i = vhdx_bat_index(offset / VHDX_BLOCK_SIZE);
        if ((le64toh(w->bat[i]) & 7) != PAYLOAD_BLOCK_FULLY_PRESENT) {
                /* FileOffsetMB in bits 20-63 is the offset itself, as it is
                 * a multiple of 1 MiB ([MS-VHDX] 2.5.1). */
                w->bat[i] = htole64(w->next_block | PAYLOAD_BLOCK_FULLY_PRESENT);
                w->next_block += VHDX_BLOCK_SIZE;
        }
        uint64_t block_offset = le64toh(w->bat[i]) & ~(MiB - 1);
        return write_sparse(w->fd, block_offset + offset % VHDX_BLOCK_SIZE, data, n);
}

int write_vhdx(const DiskSource *s, const DiskWriteOptions *o, int fd) {
        int r;

        /* [MS-VHDX] 2.6.2.2: at most 64 TB. */
        if (s->size > 64 * TiB)
                return -EINVAL;

        uint64_t blocks = (s->size + VHDX_BLOCK_SIZE - 1) / VHDX_BLOCK_SIZE;
        /* [MS-VHDX] 2.5, dynamic disks: the last entry is that of the last
         * payload block. */
        uint64_t entries = blocks + (blocks - 1) / VHDX_CHUNK_RATIO;
        uint64_t bat_length = round_up(entries * 8, MiB);

        _cleanup_free_ le64_t *bat = calloc(entries, sizeof(le64_t));
        if (!bat)
                return -ENOMEM;
        for (uint64_t b = 0; b < blocks; b++)
                bat[vhdx_bat_index(b)] = htole64(PAYLOAD_BLOCK_ZERO);
        /* Sector bitmap entries stay 0, SB_BLOCK_NOT_PRESENT ([MS-VHDX] 2.5.1.2). */

        VhdxWriter w = { .fd = fd, .bat = bat, .next_block = VHDX_BAT_OFFSET + bat_length };
        r = source_walk(s, vhdx_piece, &w);
        if (r < 0)
                return r;
        /* Every allocated block is whole in the file, its tail a hole. */
        if (ftruncate(fd, (off_t) w.next_block) < 0)
                return negative_errno();
        r = pwrite_all(fd, bat, entries * 8, VHDX_BAT_OFFSET);
        if (r < 0)
                return r;

        /* Metadata region: the table, then the items from 64 KiB on. */
        struct {
                struct vhdx_metadata_table_header header;
                struct vhdx_metadata_table_entry entries[5];
        } _packed_ table = {
                .header.entry_count = htole16(5),
        };
        memcpy(table.header.signature, "metadata", 8);
        struct {
                struct vhdx_file_parameters file_parameters;
                le64_t virtual_disk_size;
                uint8_t virtual_disk_id[16];
                le32_t logical_sector_size;
                le32_t physical_sector_size;
        } _packed_ items = {
                .file_parameters.block_size = htole32(VHDX_BLOCK_SIZE),
                .virtual_disk_size = htole64(s->size),
                .logical_sector_size = htole32(VHDX_LOGICAL_SECTOR),
                .physical_sector_size = htole32(VHDX_PHYSICAL_SECTOR),
        };
        r = gpt_guid_derive(o->seed, "vhdx-virtual-disk-id", items.virtual_disk_id);
        if (r < 0)
                return r;
        const struct {
                const uint8_t *id;
                size_t offset, length;
                uint32_t flags;
        } meta[5] = {
                { vhdx_item_file_parameters, offsetof(__typeof__(items), file_parameters),
                  sizeof items.file_parameters, VHDX_META_IS_REQUIRED },
                { vhdx_item_virtual_disk_size, offsetof(__typeof__(items), virtual_disk_size),
                  sizeof items.virtual_disk_size, VHDX_META_IS_VIRTUAL_DISK | VHDX_META_IS_REQUIRED },
                { vhdx_item_virtual_disk_id, offsetof(__typeof__(items), virtual_disk_id), sizeof items.virtual_disk_id,
                  VHDX_META_IS_VIRTUAL_DISK | VHDX_META_IS_REQUIRED },
                { vhdx_item_logical_sector_size, offsetof(__typeof__(items), logical_sector_size),
                  sizeof items.logical_sector_size, VHDX_META_IS_VIRTUAL_DISK | VHDX_META_IS_REQUIRED },
                { vhdx_item_physical_sector_size, offsetof(__typeof__(items), physical_sector_size),
                  sizeof items.physical_sector_size, VHDX_META_IS_VIRTUAL_DISK | VHDX_META_IS_REQUIRED },
        };
        for (size_t i = 0; i < ELEMENTSOF(meta); i++) {
                memcpy(table.entries[i].item_id, meta[i].id, 16);
                table.entries[i].offset = htole32((uint32_t) (64 * KiB + meta[i].offset));
                table.entries[i].length = htole32((uint32_t) meta[i].length);
                table.entries[i].flags = htole32(meta[i].flags);
        }
        if ((r = pwrite_all(fd, &table, sizeof table, VHDX_METADATA_OFFSET)) < 0 ||
            (r = pwrite_all(fd, &items, sizeof items, VHDX_METADATA_OFFSET + 64 * KiB)) < 0)
                return r;

        /* Region tables: two identical copies. */
        _cleanup_free_ uint8_t *region = calloc(1, VHDX_REGION_TABLE_SIZE);
        if (!region)
                return -ENOMEM;
        struct vhdx_region_table_header *rh = (struct vhdx_region_table_header *) region;
        struct vhdx_region_table_entry *re = (struct vhdx_region_table_entry *) (rh + 1);
        memcpy(rh->signature, "regi", 4);
        rh->entry_count = htole32(2);
        memcpy(re[0].guid, vhdx_region_bat, 16);
        re[0].file_offset = htole64(VHDX_BAT_OFFSET);
        re[0].length = htole32((uint32_t) bat_length);
        re[0].required = htole32(1);
        memcpy(re[1].guid, vhdx_region_metadata, 16);
        re[1].file_offset = htole64(VHDX_METADATA_OFFSET);
        re[1].length = htole32(VHDX_METADATA_LENGTH);
        re[1].required = htole32(1);
        rh->checksum = htole32(block_crc32c(region, VHDX_REGION_TABLE_SIZE));
        if ((r = pwrite_all(fd, region, VHDX_REGION_TABLE_SIZE, VHDX_REGION1_OFFSET)) < 0 ||
            (r = pwrite_all(fd, region, VHDX_REGION_TABLE_SIZE, VHDX_REGION2_OFFSET)) < 0)
                return r;

        /* Headers: both valid, the second one current (higher sequence
         * number), as after the two-step update of [MS-VHDX] 2.2.2.1. */
        struct vhdx_header h = {
                .version = htole16(1),
                .log_length = htole32(VHDX_LOG_LENGTH),
                .log_offset = htole64(VHDX_LOG_OFFSET),
        };
        memcpy(h.signature, "head", 4);
        if ((r = gpt_guid_derive(o->seed, "vhdx-file-write", h.file_write_guid)) < 0 ||
            (r = gpt_guid_derive(o->seed, "vhdx-data-write", h.data_write_guid)) < 0)
                return r;
        for (unsigned k = 0; k < 2; k++) {
                h.sequence_number = htole64(k + 1);
                h.checksum = 0;
                h.checksum = htole32(block_crc32c(&h, sizeof h));
                r = pwrite_all(fd, &h, sizeof h, k == 0 ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET);
                if (r < 0)
                        return r;
        }

        struct vhdx_file_identifier id = {};
        memcpy(id.signature, "vhdxfile", 8);
        static const char creator[] = "slipway " SLIPWAY_VERSION;
        static_assert(sizeof creator <= ELEMENTSOF(id.creator), "VHDX creator");
        for (size_t i = 0; creator[i]; i++)
                id.creator[i] = htole16((uint8_t) creator[i]);
        return pwrite_all(fd, &id, sizeof id, 0);
}

/* ---- reading ---- */


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

/* Payload blocks whose BAT entry ([MS-VHDX] 2.5.1.1) says they are fully
 * or partially present; the others read as zeros. */
static int vhdx_map(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        VhdxSource *v = (VhdxSource *) s;
        ExtentList l = { .size = s->size, .max = extent_list_max(v->file->size) };
        uint64_t blocks = (s->size + v->block_size - 1) / v->block_size;
        for (uint64_t b = 0; b < blocks; b++) {
                uint64_t i = b + b / v->chunk_ratio;
                uint64_t e = i < v->n_bat ? le64toh(v->bat[i]) & 7 : PAYLOAD_BLOCK_NOT_PRESENT;
                if (e != PAYLOAD_BLOCK_FULLY_PRESENT && e != PAYLOAD_BLOCK_PARTIALLY_PRESENT)
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

static const BlockSourceOps vhdx_ops = { .read_at = vhdx_read_at, .release = vhdx_release, .map = vhdx_map };

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
                        if (memcmp(e[i].guid, vhdx_region_bat, 16) == 0) {
                                *ret_bat = le64toh(e[i].file_offset);
                                *ret_bat_len = le32toh(e[i].length);
                                bat = true;
                        } else if (memcmp(e[i].guid, vhdx_region_metadata, 16) == 0) {
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
        if (read_item(file, meta, meta_len, items, n_items, vhdx_item_file_parameters, &params, sizeof params) < 0 ||
            read_item(file, meta, meta_len, items, n_items, vhdx_item_virtual_disk_size, &vsize, sizeof vsize) < 0 ||
            read_item(file, meta, meta_len, items, n_items, vhdx_item_logical_sector_size, &lss, sizeof lss) < 0) {
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
