/* SPDX-License-Identifier: MIT */

/* Reading a GUID Partition Table (UEFI Specification 2.10, chapter 5):
 * 5.3.2 the header (its CRC32, MyLBA, the usable range), 5.3.3 the entry
 * array (its CRC32; entries inside the usable range, not overlapping). The
 * writer is src/disk/gpt.c. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "basic/alloc.h"
#include "disk/gpt-format.h"
#include "inspect/disk.h"

typedef uint16_t le16_t;
typedef uint32_t le32_t;
typedef uint64_t le64_t;

#define SECTOR 512u
/* The most bytes of entry array read: 128 entries of 128 bytes is the
 * usual 16 KiB; allow up to 1 MiB (e.g. 4096 entries of 256 bytes). */
#define ARRAY_MAX (1u << 20)

GptTable *gpt_table_free(GptTable *t) {
        if (!t)
                return NULL;
        free(t->entries);
        free(t);
        return NULL;
}

/* UTF-16LE (up to a NUL) to UTF-8; unpaired surrogates become U+FFFD. */
static void name_utf8(const uint8_t raw[72], char out[4 * 36 + 1]) {
        le16_t in[36];
        memcpy(in, raw, sizeof in);
        char *o = out;
        for (size_t i = 0; i < 36; i++) {
                uint32_t c = le16toh(in[i]);
                if (c == 0)
                        break;
                if (c >= 0xD800 && c <= 0xDBFF && i + 1 < 36 && le16toh(in[i + 1]) >= 0xDC00 &&
                    le16toh(in[i + 1]) <= 0xDFFF) {
                        c = 0x10000 + ((c - 0xD800) << 10) + (le16toh(in[i + 1]) - 0xDC00u);
                        i++;
                } else if (c >= 0xD800 && c <= 0xDFFF)
                        c = 0xFFFD;
                if (c < 0x80)
                        *o++ = (char) c;
                else if (c < 0x800) {
                        *o++ = (char) (0xC0 | c >> 6);
                        *o++ = (char) (0x80 | (c & 0x3F));
                } else if (c < 0x10000) {
                        *o++ = (char) (0xE0 | c >> 12);
                        *o++ = (char) (0x80 | ((c >> 6) & 0x3F));
                        *o++ = (char) (0x80 | (c & 0x3F));
                } else {
                        *o++ = (char) (0xF0 | c >> 18);
                        *o++ = (char) (0x80 | ((c >> 12) & 0x3F));
                        *o++ = (char) (0x80 | ((c >> 6) & 0x3F));
                        *o++ = (char) (0x80 | (c & 0x3F));
                }
        }
        *o = 0;
}

/* The header at lba, if valid: signature, size, CRC, MyLBA, usable range
 * within the disk. NULL reason on success. */
static const char *read_header(BlockSource *disk, uint64_t lba, struct gpt_header *ret) {
        uint8_t sector[SECTOR];
        uint64_t sectors = disk->size / SECTOR;
        if (lba >= sectors || block_read(disk, lba * SECTOR, sector, SECTOR) < 0)
                return "cannot be read";
        struct gpt_header h;
        memcpy(&h, sector, sizeof h);
        if (memcmp(h.signature, "EFI PART", 8) != 0)
                return "has no signature";
        uint32_t hs = le32toh(h.header_size);
        if (hs < sizeof h || hs > SECTOR)
                return "has a bad size";
        uint32_t want = le32toh(h.header_crc32);
        memset(sector + offsetof(struct gpt_header, header_crc32), 0, 4);
        if (crc32(0, sector, hs) != want)
                return "has a bad CRC32";
        uint64_t first = le64toh(h.first_usable_lba), last = le64toh(h.last_usable_lba);
        if (le64toh(h.my_lba) != lba || first > last || last >= sectors)
                return "names LBAs outside the disk";
        *ret = h;
        return NULL;
}

/* The entry array a valid header names, checked against its CRC32. */
static const char *read_array(BlockSource *disk, const struct gpt_header *h, uint8_t **ret, size_t *ret_n,
                              size_t *ret_size) {
        uint32_t n = le32toh(h->number_of_partition_entries), size = le32toh(h->size_of_partition_entry);
        uint64_t lba = le64toh(h->partition_entry_lba);
        /* 5.3.2: the entry size is 128 * 2^n. */
        if (size < 128 || (size & (size - 1)) != 0 || n == 0 || (uint64_t) n * size > ARRAY_MAX)
                return "has a bad entry size or count";
        size_t bytes = (size_t) n * size;
        if (lba > disk->size / SECTOR || bytes > disk->size - lba * SECTOR)
                return "names an entry array outside the disk";
        _cleanup_free_ uint8_t *a = malloc(bytes);
        if (!a)
                return "cannot be read (out of memory)";
        if (block_read(disk, lba * SECTOR, a, bytes) < 0)
                return "names an entry array that cannot be read";
        if (crc32(0, a, (uInt) bytes) != le32toh(h->partition_entry_array_crc32))
                return "has an entry array with a bad CRC32";
        *ret = TAKE_PTR(a);
        *ret_n = n;
        *ret_size = size;
        return NULL;
}

int gpt_read(BlockSource *disk, GptTable **ret, Diagnostics *d) {
        struct gpt_header h, b;
        _cleanup_free_ uint8_t *array = NULL;
        size_t n = 0, esize = 0;
        uint64_t sectors = disk->size / SECTOR;
        bool backup = false;

        if (sectors < 3)
                return -EMEDIUMTYPE;
        const char *why = read_header(disk, 1, &h);
        if (!why)
                why = read_array(disk, &h, &array, &n, &esize);
        if (why) {
                /* The backup: where the primary says, else the last sector. */
                uint64_t alt = sectors - 1;
                uint8_t sig[8];
                if (block_read(disk, SECTOR, sig, sizeof sig) == 0 && memcmp(sig, "EFI PART", 8) == 0) {
                        struct gpt_header p;
                        memcpy(&p, sig, sizeof sig);
                        le64_t a;
                        if (block_read(disk, SECTOR + offsetof(struct gpt_header, alternate_lba), &a, 8) == 0 &&
                            le64toh(a) < sectors && le64toh(a) > 1)
                                alt = le64toh(a);
                }
                const char *bwhy = read_header(disk, alt, &b);
                if (!bwhy)
                        bwhy = read_array(disk, &b, &array, &n, &esize);
                if (bwhy) {
                        if (strcmp(why, "has no signature") == 0 && strcmp(bwhy, "has no signature") == 0)
                                return -EMEDIUMTYPE;
                        diag_error(d, NULL, "GPT: the primary header %s, and the backup header %s", why, bwhy);
                        return -EBADMSG;
                }
                h = b;
                backup = true;
        }

        _cleanup_(gpt_table_freep) GptTable *t = new0(GptTable, 1);
        if (!t)
                return -ENOMEM;
        memcpy(t->disk_guid, h.disk_guid, 16);
        t->from_backup = backup;
        t->entries = new0(GptEntry, n);
        if (!t->entries)
                return -ENOMEM;
        uint64_t first = le64toh(h.first_usable_lba), last = le64toh(h.last_usable_lba);
        static const uint8_t zero[16];
        for (size_t i = 0; i < n; i++) {
                struct gpt_entry e;
                memcpy(&e, array + i * esize, sizeof e);
                if (memcmp(e.partition_type_guid, zero, 16) == 0)
                        continue;
                uint64_t s = le64toh(e.starting_lba), l = le64toh(e.ending_lba);
                if (s > l || s < first || l > last) {
                        diag_error(d, NULL, "GPT: partition %zu (LBA %llu to %llu) lies outside the usable LBAs %llu "
                                            "to %llu",
                                   i + 1, (unsigned long long) s, (unsigned long long) l, (unsigned long long) first,
                                   (unsigned long long) last);
                        return -EBADMSG;
                }
                for (size_t k = 0; k < t->n_entries; k++)
                        if (s <= t->entries[k].last_lba && t->entries[k].first_lba <= l) {
                                diag_error(d, NULL, "GPT: partitions %u and %zu overlap", t->entries[k].number, i + 1);
                                return -EBADMSG;
                        }
                GptEntry *g = &t->entries[t->n_entries++];
                g->number = (unsigned) (i + 1);
                memcpy(g->type_guid, e.partition_type_guid, 16);
                memcpy(g->guid, e.unique_partition_guid, 16);
                g->first_lba = s;
                g->last_lba = l;
                g->attributes = le64toh(e.attributes);
                name_utf8((const uint8_t *) &e + offsetof(struct gpt_entry, partition_name), g->name);
        }
        if (backup)
                diag_warning(d, NULL, "GPT: the primary table is damaged (%s); the backup was read", why);
        *ret = TAKE_PTR(t);
        return 0;
}
