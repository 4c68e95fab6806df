/* SPDX-License-Identifier: MIT */
/* Disk containers: raw, VHD (fixed), VHDX (dynamic) and qcow2, each written
 * in one pass over the source's data extents.
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
#include "disk/container.h"
#include "disk/gpt.h"

typedef uint16_t le16_t;
typedef uint32_t le32_t;
typedef uint64_t le64_t;
typedef uint16_t be16_t;
typedef uint32_t be32_t;
typedef uint64_t be64_t;

#define KiB ((uint64_t) 1024)
#define MiB (1024 * KiB)
#define TiB (1024 * 1024 * MiB)

/* The unit in which the source is read: every piece handed to a format's
 * writer is this long (the last one may be shorter) and aligned to it. */
#define UNIT (1 * MiB)
/* Zero blocks of this size inside extents become holes. */
#define HOLE_BLOCK (4 * KiB)

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

static uint64_t round_up(uint64_t x, uint64_t a) {
        return (x + a - 1) / a * a;
}

static bool is_zero(const uint8_t *p, size_t n) {
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t offset) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t w = pwrite(fd, p, n, (off_t) offset);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (w == 0)
                        return -EIO;
                p += w;
                n -= (size_t) w;
                offset += (uint64_t) w;
        }
        return 0;
}

/* Writes data (n bytes, meant for file offset `offset`) but leaves out the
 * 4 KiB blocks (counted from data) that are all zeros: the file must already
 * be long enough or be extended by a later write or ftruncate(). */
static int write_sparse(int fd, uint64_t offset, const uint8_t *data, size_t n) {
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

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as [MS-VHDX] 2.2.2
 * and 2.2.3.1 use for the headers and region tables. Only a few hundred KiB
 * are summed per file, so the table is built per call. */
static uint32_t crc32c(const void *data, size_t n) {
        uint32_t table[256];
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
                table[i] = c;
        }
        const uint8_t *p = data;
        uint32_t crc = 0xFFFFFFFFu;
        for (size_t i = 0; i < n; i++)
                crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
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

/* Called for each UNIT-aligned piece of the virtual disk that meets an
 * extent, in order: data holds UNIT bytes (zeros outside the extents and
 * past the end), n of which are inside the disk. */
typedef int (*PieceFunc)(void *userdata, uint64_t offset, const uint8_t *data, size_t n);

static int source_walk(const DiskSource *s, PieceFunc f, void *userdata) {
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

/* ---- raw ---- */

typedef struct RawWriter {
        int fd;
} RawWriter;

static int raw_piece(void *userdata, uint64_t offset, const uint8_t *data, size_t n) {
        RawWriter *w = userdata;
        return write_sparse(w->fd, offset, data, n);
}

static int write_raw(const DiskSource *s, int fd) {
        if (ftruncate(fd, (off_t) s->size) < 0)
                return negative_errno();
        RawWriter w = { .fd = fd };
        return source_walk(s, raw_piece, &w);
}

/* ---- VHD (fixed) ---- */

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

static int write_vhd(const DiskSource *s, const DiskWriteOptions *o, int fd) {
        int r = write_raw(s, fd);
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

/* ---- VHDX (dynamic) ---- */

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

/* [MS-VHDX] 2.5.1.1 payload BAT entry states. */
#define VHDX_PAYLOAD_BLOCK_ZERO 2u
#define VHDX_PAYLOAD_BLOCK_FULLY_PRESENT 6u

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
        if ((le64toh(w->bat[i]) & 7) != VHDX_PAYLOAD_BLOCK_FULLY_PRESENT) {
                /* FileOffsetMB in bits 20-63 is the offset itself, as it is
                 * a multiple of 1 MiB ([MS-VHDX] 2.5.1). */
                w->bat[i] = htole64(w->next_block | VHDX_PAYLOAD_BLOCK_FULLY_PRESENT);
                w->next_block += VHDX_BLOCK_SIZE;
        }
        uint64_t block_offset = le64toh(w->bat[i]) & ~(MiB - 1);
        return write_sparse(w->fd, block_offset + offset % VHDX_BLOCK_SIZE, data, n);
}

static int write_vhdx(const DiskSource *s, const DiskWriteOptions *o, int fd) {
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
                bat[vhdx_bat_index(b)] = htole64(VHDX_PAYLOAD_BLOCK_ZERO);
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
        rh->checksum = htole32(crc32c(region, VHDX_REGION_TABLE_SIZE));
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
                h.checksum = htole32(crc32c(&h, sizeof h));
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

/* ---- qcow2 ---- */

/* qcow2.txt "Header", version 3 (header_length 104), followed by the end of
 * the header extension area (type 0, length 0). */
struct qcow2_header {
        char magic[4]; /* "QFI\xfb" */
        be32_t version;
        be64_t backing_file_offset;
        be32_t backing_file_size;
        be32_t cluster_bits;
        be64_t size;
        be32_t crypt_method;
        be32_t l1_size;
        be64_t l1_table_offset;
        be64_t refcount_table_offset;
        be32_t refcount_table_clusters;
        be32_t nb_snapshots;
        be64_t snapshots_offset;
        be64_t incompatible_features;
        be64_t compatible_features;
        be64_t autoclear_features;
        be32_t refcount_order;
        be32_t header_length;
        be32_t extension_end_type;
        be32_t extension_end_length;
} _packed_;
static_assert(sizeof(struct qcow2_header) == 104 + 8, "qcow2 header");

#define QCOW2_CLUSTER_BITS 16
#define QCOW2_CLUSTER ((uint64_t) 1 << QCOW2_CLUSTER_BITS)
#define QCOW2_L2_ENTRIES (QCOW2_CLUSTER / 8)
#define QCOW2_REFCOUNT_ORDER 4 /* 16-bit refcounts */
#define QCOW2_REFCOUNTS_PER_BLOCK (QCOW2_CLUSTER * 8 / (1u << QCOW2_REFCOUNT_ORDER))
#define QCOW2_OFLAG_COPIED ((uint64_t) 1 << 63)
#define QCOW2_OFLAG_COMPRESSED ((uint64_t) 1 << 62)
/* "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8). */
#define QCOW2_CSIZE_SHIFT (62 - (QCOW2_CLUSTER_BITS - 8))

typedef struct Qcow2Writer {
        int fd;
        bool compress;
        uint64_t pos; /* the end of the data written so far */
        uint64_t **l2; /* per L1 entry, NULL while empty; host byte order */
        uint64_t l1_size;
        uint16_t *refcounts; /* per host cluster */
        uint64_t n_refcounts;
        z_stream z;
        bool z_ready;
        uint8_t *zbuf;
} Qcow2Writer;

static int qcow2_ref(Qcow2Writer *w, uint64_t cluster) {
        if (cluster >= w->n_refcounts) {
                uint64_t n = MAX(cluster + 1, w->n_refcounts * 2);
                uint16_t *p = realloc(w->refcounts, n * sizeof(uint16_t));
                if (!p)
                        return -ENOMEM;
                memset(p + w->n_refcounts, 0, (n - w->n_refcounts) * sizeof(uint16_t));
                w->refcounts = p;
                w->n_refcounts = n;
        }
        if (w->refcounts[cluster] == UINT16_MAX)
                return -EOVERFLOW;
        w->refcounts[cluster]++;
        return 0;
}

/* Compresses one cluster as qemu reads it: raw deflate with a 4 KiB window
 * (windowBits -12). *ret_len: the compressed length, or 0 if it is not
 * smaller than a cluster. */
static int qcow2_deflate(Qcow2Writer *w, const uint8_t *data, size_t *ret_len) {
        if (!w->z_ready) {
                if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
                        return -ENOMEM;
                w->z_ready = true;
        } else if (deflateReset(&w->z) != Z_OK)
                return -EIO;
        w->z.next_in = (uint8_t *) data;
        w->z.avail_in = QCOW2_CLUSTER;
        w->z.next_out = w->zbuf;
        w->z.avail_out = QCOW2_CLUSTER - 1;
        int z = deflate(&w->z, Z_FINISH);
        if (z == Z_STREAM_END) {
                *ret_len = QCOW2_CLUSTER - 1 - w->z.avail_out;
                return 0;
        }
        if (z == Z_OK || z == Z_BUF_ERROR) {
                *ret_len = 0; /* did not fit */
                return 0;
        }
        return -EIO;
}

static int qcow2_cluster(Qcow2Writer *w, uint64_t vcluster, const uint8_t *data) {
        int r;
        uint64_t l1 = vcluster / QCOW2_L2_ENTRIES, l2 = vcluster % QCOW2_L2_ENTRIES;
        if (!w->l2[l1]) {
                w->l2[l1] = calloc(QCOW2_L2_ENTRIES, sizeof(uint64_t));
                if (!w->l2[l1])
                        return -ENOMEM;
        }

        size_t clen = 0;
        if (w->compress) {
                r = qcow2_deflate(w, data, &clen);
                if (r < 0)
                        return r;
        }
        if (clen > 0) {
                /* Packed byte by byte after the previous compressed
                 * cluster; every host cluster its sectors touch gets a
                 * reference, as qemu-img check counts them. */
                uint64_t off = w->pos;
                uint64_t first = off / 512, last = (off + clen - 1) / 512;
                r = pwrite_all(w->fd, w->zbuf, clen, off);
                if (r < 0)
                        return r;
                for (uint64_t c = first * 512 / QCOW2_CLUSTER; c <= (last * 512 + 511) / QCOW2_CLUSTER; c++)
                        if ((r = qcow2_ref(w, c)) < 0)
                                return r;
                w->l2[l1][l2] = QCOW2_OFLAG_COMPRESSED | (last - first) << QCOW2_CSIZE_SHIFT | off;
                w->pos = off + clen;
                return 0;
        }

        uint64_t off = round_up(w->pos, QCOW2_CLUSTER);
        r = write_sparse(w->fd, off, data, QCOW2_CLUSTER);
        if (r < 0)
                return r;
        if ((r = qcow2_ref(w, off / QCOW2_CLUSTER)) < 0)
                return r;
        w->l2[l1][l2] = QCOW2_OFLAG_COPIED | off;
        w->pos = off + QCOW2_CLUSTER;
        return 0;
}

static int qcow2_piece(void *userdata, uint64_t offset, const uint8_t *data, size_t n) {
        Qcow2Writer *w = userdata;
        /* data is UNIT bytes with zeros past n, so the last cluster is whole. */
        for (size_t i = 0; i < n; i += QCOW2_CLUSTER) {
                if (is_zero(data + i, QCOW2_CLUSTER))
                        continue;
                int r = qcow2_cluster(w, (offset + i) / QCOW2_CLUSTER, data + i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void qcow2_writer_release(Qcow2Writer *w) {
        if (w->l2)
                for (uint64_t i = 0; i < w->l1_size; i++)
                        free(w->l2[i]);
        free(w->l2);
        free(w->refcounts);
        free(w->zbuf);
        if (w->z_ready)
                deflateEnd(&w->z);
}

static int write_qcow2_tables(Qcow2Writer *w, uint64_t size) {
        int r;
        uint64_t pos = round_up(w->pos, QCOW2_CLUSTER);

        /* L2 tables, each a cluster, in L1 order. */
        _cleanup_free_ be64_t *l1 = calloc(w->l1_size, sizeof(be64_t));
        _cleanup_free_ be64_t *table = malloc(QCOW2_CLUSTER);
        if (!l1 || !table)
                return -ENOMEM;
        for (uint64_t i = 0; i < w->l1_size; i++) {
                if (!w->l2[i])
                        continue;
                for (uint64_t j = 0; j < QCOW2_L2_ENTRIES; j++)
                        table[j] = htobe64(w->l2[i][j]);
                if ((r = pwrite_all(w->fd, table, QCOW2_CLUSTER, pos)) < 0 ||
                    (r = qcow2_ref(w, pos / QCOW2_CLUSTER)) < 0)
                        return r;
                l1[i] = htobe64(QCOW2_OFLAG_COPIED | pos);
                pos += QCOW2_CLUSTER;
        }

        uint64_t l1_offset = pos, l1_clusters = round_up(w->l1_size * 8, QCOW2_CLUSTER) / QCOW2_CLUSTER;
        if ((r = pwrite_all(w->fd, l1, w->l1_size * 8, l1_offset)) < 0)
                return r;
        pos += l1_clusters * QCOW2_CLUSTER;

        /* Refcount blocks, then the refcount table; they count themselves,
         * so their number is found by iteration. */
        uint64_t n = pos / QCOW2_CLUSTER, blocks = 0, table_clusters = 0;
        for (;;) {
                uint64_t b = (n + blocks + table_clusters + QCOW2_REFCOUNTS_PER_BLOCK - 1) / QCOW2_REFCOUNTS_PER_BLOCK;
                uint64_t t = round_up(b * 8, QCOW2_CLUSTER) / QCOW2_CLUSTER;
                if (b == blocks && t == table_clusters)
                        break;
                blocks = b;
                table_clusters = t;
        }
        uint64_t blocks_offset = pos, table_offset = pos + blocks * QCOW2_CLUSTER;
        uint64_t end = table_offset + table_clusters * QCOW2_CLUSTER;
        for (uint64_t c = 0; c < l1_clusters + blocks + table_clusters; c++)
                if ((r = qcow2_ref(w, l1_offset / QCOW2_CLUSTER + c)) < 0)
                        return r;
        if ((r = qcow2_ref(w, 0)) < 0) /* the header */
                return r;

        _cleanup_free_ be64_t *rtable = calloc(table_clusters, QCOW2_CLUSTER);
        _cleanup_free_ be16_t *block = malloc(QCOW2_CLUSTER);
        if (!rtable || !block)
                return -ENOMEM;
        for (uint64_t b = 0; b < blocks; b++) {
                for (uint64_t j = 0; j < QCOW2_REFCOUNTS_PER_BLOCK; j++) {
                        uint64_t c = b * QCOW2_REFCOUNTS_PER_BLOCK + j;
                        block[j] = htobe16(c < w->n_refcounts ? w->refcounts[c] : 0);
                }
                uint64_t off = blocks_offset + b * QCOW2_CLUSTER;
                if ((r = pwrite_all(w->fd, block, QCOW2_CLUSTER, off)) < 0)
                        return r;
                rtable[b] = htobe64(off);
        }
        if ((r = pwrite_all(w->fd, rtable, table_clusters * QCOW2_CLUSTER, table_offset)) < 0)
                return r;
        if (ftruncate(w->fd, (off_t) end) < 0)
                return negative_errno();

        struct qcow2_header h = {
                .version = htobe32(3),
                .cluster_bits = htobe32(QCOW2_CLUSTER_BITS),
                .size = htobe64(size),
                .l1_size = htobe32((uint32_t) w->l1_size),
                .l1_table_offset = htobe64(l1_offset),
                .refcount_table_offset = htobe64(table_offset),
                .refcount_table_clusters = htobe32((uint32_t) table_clusters),
                .refcount_order = htobe32(QCOW2_REFCOUNT_ORDER),
                .header_length = htobe32(104),
        };
        memcpy(h.magic, "QFI\xfb", 4);
        return pwrite_all(w->fd, &h, sizeof h, 0);
}

static int write_qcow2(const DiskSource *s, const DiskWriteOptions *o, int fd) {
        uint64_t clusters = (s->size + QCOW2_CLUSTER - 1) / QCOW2_CLUSTER;
        _cleanup_(qcow2_writer_release) Qcow2Writer w = {
                .fd = fd,
                .compress = o->compress,
                .pos = QCOW2_CLUSTER, /* after the header cluster */
                .l1_size = (clusters + QCOW2_L2_ENTRIES - 1) / QCOW2_L2_ENTRIES,
        };
        /* qemu's limit: an L1 table of at most 32 MiB. */
        if (w.l1_size * 8 > 32 * MiB)
                return -EINVAL;
        w.l2 = calloc(w.l1_size, sizeof(uint64_t *));
        if (!w.l2)
                return -ENOMEM;
        if (w.compress && !(w.zbuf = malloc(QCOW2_CLUSTER)))
                return -ENOMEM;
        int r = source_walk(s, qcow2_piece, &w);
        if (r < 0)
                return r;
        return write_qcow2_tables(&w, s->size);
}

/* ---- entry point ---- */

uint64_t disk_format_max_size(DiskFormat f) {
        switch (f) {
        case DISK_FORMAT_VHDX:
                return 64 * TiB;
        case DISK_FORMAT_QCOW2:
                /* write_qcow2(): an L1 table of 32 MiB of 8-byte entries, each
                 * for an L2 table of QCOW2_L2_ENTRIES clusters. */
                return 32 * MiB / 8 * QCOW2_L2_ENTRIES * QCOW2_CLUSTER;
        default:
                return UINT64_MAX;
        }
}

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
        switch (f) {
        case DISK_FORMAT_RAW:
                r = write_raw(src, fd);
                break;
        case DISK_FORMAT_VHD:
                r = write_vhd(src, o, fd);
                break;
        case DISK_FORMAT_VHDX:
                r = write_vhdx(src, o, fd);
                break;
        case DISK_FORMAT_QCOW2:
                r = write_qcow2(src, o, fd);
                break;
        default:
                r = -EINVAL;
        }
        /* Not fsync'd: see docs/images.md on large outputs. */
        return tmpfile_commit_unsynced(r, fd, tmp, path, 0644);
}
