/* SPDX-License-Identifier: MIT */

/* libFuzzer target: disk images as `slipway inspect` reads them
 * (inspect_disk_memory()): the container readers (raw, VHD fixed and
 * dynamic, VHDX, qcow2 with its deflate clusters), the GPT reader, the file
 * system listers (vfat of our own, ext4 through libext2fs over a
 * BlockSource, ISO 9660 through libarchive), the boot loader files and the
 * rpm database found on them. Then what `slipway convert` and customize
 * read: the container's allocation map (checked well-formed; up to 16 MiB
 * of what it maps is read), the MBR reader, and fs_identify() on the disk
 * and on each MBR partition (with its slice's map). Entries are capped at
 * 100000 and contents at 16 MiB; a virtual disk may be far larger than the
 * input (qcow2, VHDX, VHD), which the readers must bound by the input's
 * size. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "inspect/disk.h"
#include "inspect/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* block_map()'s promise: sorted, non-overlapping, within the source,
 * starts on 512 bytes, ends on 512 bytes or at the end. */
static void map_check(BlockSource *s, uint64_t *budget) {
        DiskExtent *e = NULL;
        size_t n = 0;
        if (block_map(s, &e, &n) < 0)
                return;
        uint64_t end = 0;
        static uint8_t buf[64 << 10];
        for (size_t i = 0; i < n; i++) {
                if (e[i].offset % 512 != 0 || e[i].length == 0 || e[i].offset < end || e[i].offset > s->size ||
                    e[i].length > s->size - e[i].offset)
                        abort();
                end = e[i].offset + e[i].length;
                if (end % 512 != 0 && end != s->size)
                        abort();
                for (uint64_t at = e[i].offset; at < end && *budget > 0;) {
                        size_t k = (size_t) (end - at < sizeof buf ? end - at : sizeof buf);
                        if (block_read(s, at, buf, k) < 0)
                                break;
                        at += k;
                        *budget -= k < *budget ? k : *budget;
                }
        }
        free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const InspectOptions o = { .max_bytes = 16u << 20, .max_entries = 100000 };
        Diagnostics d = {};
        Inventory *inv = NULL;

        if (inspect_disk_memory(data, size, &o, &inv, &d) >= 0)
                inv = inventory_free(inv);
        diagnostics_release(&d);

        BlockSource *file = NULL, *disk = NULL;
        if (block_source_from_memory(data, size, &file) < 0)
                return 0;
        if (block_open_container(file, &disk, &d) < 0) {
                block_source_free(file);
                diagnostics_release(&d);
                return 0;
        }
        uint64_t budget = 16u << 20;
        map_check(disk, &budget);
        (void) fs_identify(disk);
        MbrTable *t = NULL;
        if (mbr_read(disk, &t, &d) >= 0) {
                for (size_t i = 0; i < t->n_entries; i++) {
                        BlockSource *part = NULL;
                        if (block_source_slice(disk, t->entries[i].first_lba * 512, t->entries[i].sectors * 512,
                                               &part) < 0)
                                abort(); /* mbr_read() promised the entry lies within the disk */
                        (void) fs_identify(part);
                        map_check(part, &budget);
                        block_source_free(part);
                }
                mbr_table_free(t);
        }
        block_source_free(disk);
        diagnostics_release(&d);
        return 0;
}
