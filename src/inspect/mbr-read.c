/* SPDX-License-Identifier: MIT */

/* Reading an MBR partition table (disk.h mbr_read()). The MBR is UEFI
 * Specification 2.10, section 5.2.1 "Legacy Master Boot Record" (table 5.1:
 * the layout; table 5.2: a partition record), and 5.2.3 "Protective MBR"
 * (an OSType 0xEE record: the disk is GPT). Extended partitions are not in
 * that specification: their chain of Extended Boot Records is the layout DOS
 * introduced and Linux reads (block/partitions/msdos.c): each EBR is an MBR
 * whose first record is a logical partition, its start relative to the EBR,
 * and whose second record links the next EBR, its start relative to the
 * extended partition's. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "disk/gpt-format.h"
#include "inspect/disk.h"


#define SECTOR 512u
#define MAX_LOGICAL 128

MbrTable *mbr_table_free(MbrTable *t) {
        if (!t)
                return NULL;
        free(t->entries);
        free(t);
        return NULL;
}

bool mbr_type_is_extended(uint8_t type) {
        return type == 0x05 || type == 0x0F || type == 0x85;
}

static bool record_used(const struct mbr_partition_record *r) {
        return r->os_type != 0 && le32toh(r->size_in_lba) != 0;
}

static int read_sector(BlockSource *disk, uint64_t lba, struct mbr *ret) {
        if (lba >= disk->size / SECTOR)
                return -EIO;
        return block_read(disk, lba * SECTOR, ret, sizeof *ret);
}

static bool overlap(const MbrEntry *a, const MbrEntry *b) {
        return a->first_lba < b->first_lba + b->sectors && b->first_lba < a->first_lba + a->sectors;
}

static int add_entry(MbrTable *t, const MbrEntry *e, uint64_t disk_sectors, Diagnostics *d) {
        if (e->first_lba > disk_sectors || e->sectors > disk_sectors - e->first_lba) {
                diag_error(d, NULL, "MBR: partition %u (sectors %llu to %llu) lies outside the disk of %llu sectors",
                           e->number, (unsigned long long) e->first_lba,
                           (unsigned long long) (e->first_lba + e->sectors - 1), (unsigned long long) disk_sectors);
                return -EBADMSG;
        }
        MbrEntry *p = reallocarray(t->entries, t->n_entries + 1, sizeof *p);
        if (!p)
                return -ENOMEM;
        t->entries = p;
        t->entries[t->n_entries++] = *e;
        return 0;
}

/* The logical partitions of the extended partition ext, in chain order. */
static int read_chain(BlockSource *disk, MbrTable *t, const MbrEntry *ext, Diagnostics *d) {
        uint64_t visited[MAX_LOGICAL + 1];
        size_t n_visited = 0;
        unsigned n_logical = 0;
        uint64_t link = 0; /* the next EBR, relative to the extended partition */
        for (;;) {
                uint64_t ebr = ext->first_lba + link;
                if (link >= ext->sectors) {
                        diag_error(d, NULL, "MBR: an EBR at sector %llu lies outside extended partition %u",
                                   (unsigned long long) ebr, ext->number);
                        return -EBADMSG;
                }
                for (size_t i = 0; i < n_visited; i++)
                        if (visited[i] == ebr) {
                                diag_error(d, NULL, "MBR: the chain of extended partition %u comes back to the EBR "
                                                    "at sector %llu",
                                           ext->number, (unsigned long long) ebr);
                                return -EBADMSG;
                        }
                if (n_visited > MAX_LOGICAL) {
                        diag_error(d, NULL, "MBR: extended partition %u has more than %d logical partitions",
                                   ext->number, MAX_LOGICAL);
                        return -EBADMSG;
                }
                visited[n_visited++] = ebr;

                struct mbr m;
                if (read_sector(disk, ebr, &m) < 0 || le16toh(m.signature) != 0xAA55) {
                        diag_error(d, NULL, "MBR: the EBR at sector %llu (extended partition %u) has no 0x55AA "
                                            "signature",
                                   (unsigned long long) ebr, ext->number);
                        return -EBADMSG;
                }
                const struct mbr_partition_record *part = &m.partition_record[0], *next = &m.partition_record[1];
                if (record_used(part)) {
                        if (n_logical == MAX_LOGICAL) {
                                diag_error(d, NULL, "MBR: extended partition %u has more than %d logical partitions",
                                           ext->number, MAX_LOGICAL);
                                return -EBADMSG;
                        }
                        MbrEntry e = {
                                .number = 5 + n_logical,
                                .bootable = part->boot_indicator == 0x80,
                                .logical = true,
                                .type = part->os_type,
                                .first_lba = ebr + le32toh(part->starting_lba),
                                .sectors = le32toh(part->size_in_lba),
                        };
                        if (e.first_lba < ext->first_lba || e.first_lba - ext->first_lba > ext->sectors ||
                            e.sectors > ext->sectors - (e.first_lba - ext->first_lba)) {
                                diag_error(d, NULL, "MBR: logical partition %u (sectors %llu to %llu) lies outside "
                                                    "extended partition %u",
                                           e.number, (unsigned long long) e.first_lba,
                                           (unsigned long long) (e.first_lba + e.sectors - 1), ext->number);
                                return -EBADMSG;
                        }
                        for (size_t i = 0; i < t->n_entries; i++)
                                if (t->entries[i].logical && overlap(&t->entries[i], &e)) {
                                        diag_error(d, NULL, "MBR: logical partitions %u and %u overlap",
                                                   t->entries[i].number, e.number);
                                        return -EBADMSG;
                                }
                        int r = add_entry(t, &e, disk->size / SECTOR, d);
                        if (r < 0)
                                return r;
                        n_logical++;
                }
                if (!record_used(next) || !mbr_type_is_extended(next->os_type))
                        return 0;
                link = le32toh(next->starting_lba);
        }
}

int mbr_read(BlockSource *disk, MbrTable **ret, Diagnostics *d) {
        struct mbr m;
        if (read_sector(disk, 0, &m) < 0 || le16toh(m.signature) != 0xAA55)
                return -EMEDIUMTYPE;
        for (size_t i = 0; i < 4; i++) {
                const struct mbr_partition_record *r = &m.partition_record[i];
                /* 5.2.1: the boot indicator is 0x00 or 0x80; anything else is
                 * a file system's boot sector (FAT, NTFS) over the disk. */
                if (r->boot_indicator != 0x00 && r->boot_indicator != 0x80)
                        return -EMEDIUMTYPE;
                if (r->os_type == 0xEE) /* 5.2.3: protective MBR */
                        return -EMEDIUMTYPE;
        }

        _cleanup_(mbr_table_freep) MbrTable *t = new0(MbrTable, 1);
        if (!t)
                return -ENOMEM;
        t->disk_signature = le32toh(m.unique_mbr_disk_signature);
        uint64_t disk_sectors = disk->size / SECTOR;
        size_t ext = SIZE_MAX;
        int r;
        for (unsigned i = 0; i < 4; i++) {
                const struct mbr_partition_record *p = &m.partition_record[i];
                if (!record_used(p))
                        continue;
                MbrEntry e = {
                        .number = i + 1,
                        .bootable = p->boot_indicator == 0x80,
                        .type = p->os_type,
                        .first_lba = le32toh(p->starting_lba),
                        .sectors = le32toh(p->size_in_lba),
                };
                for (size_t k = 0; k < t->n_entries; k++)
                        if (overlap(&t->entries[k], &e)) {
                                diag_error(d, NULL, "MBR: partitions %u and %u overlap", t->entries[k].number,
                                           e.number);
                                return -EBADMSG;
                        }
                if (mbr_type_is_extended(e.type)) {
                        if (ext != SIZE_MAX) {
                                diag_error(d, NULL, "MBR: partitions %u and %u are both extended partitions",
                                           t->entries[ext].number, e.number);
                                return -EBADMSG;
                        }
                        ext = t->n_entries;
                }
                if ((r = add_entry(t, &e, disk_sectors, d)) < 0)
                        return r;
        }
        if (ext != SIZE_MAX) {
                MbrEntry x = t->entries[ext]; /* the array moves as logicals are added */
                if ((r = read_chain(disk, t, &x, d)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(t);
        return 0;
}
