/* SPDX-License-Identifier: MIT */

/* libFuzzer target: disk images as `slipway inspect` reads them
 * (inspect_disk_memory()): the container readers (raw, VHD, VHDX, qcow2
 * with its deflate clusters), the GPT reader, the file system listers
 * (vfat of our own, ext4 through libext2fs over a BlockSource, ISO 9660
 * through libarchive), the boot loader files and the rpm database found on
 * them. Entries are capped at 100000 and contents at 16 MiB; a virtual disk
 * may be far larger than the input (qcow2, VHDX), which the readers must
 * bound by the input's size. */

#include <stddef.h>
#include <stdint.h>

#include "inspect/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const InspectOptions o = { .max_bytes = 16u << 20, .max_entries = 100000 };
        Diagnostics d = {};
        Inventory *inv = NULL;

        if (inspect_disk_memory(data, size, &o, &inv, &d) >= 0)
                inv = inventory_free(inv);
        diagnostics_release(&d);
        return 0;
}
