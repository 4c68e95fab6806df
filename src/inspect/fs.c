/* SPDX-License-Identifier: MIT */

/* What the file system listers share (disk.h): recognising a file system
 * and appending files within the entry limit. */

#include <stdlib.h>
#include <string.h>

#include "inspect/disk.h"

/* ISO 9660 first: a hybrid ISO also starts with an MBR boot sector. */
static const FsType *const fs_types[] = { &fs_type_iso9660, &fs_type_ext4, &fs_type_vfat };

const FsType *fs_probe(BlockSource *s) {
        for (size_t i = 0; i < ELEMENTSOF(fs_types); i++)
                if (fs_types[i]->probe(s))
                        return fs_types[i];
        return NULL;
}

/* Whether s holds n bytes of magic at offset. */
static bool magic_at(BlockSource *s, uint64_t offset, const char *magic, size_t n) {
        uint8_t b[16];
        return n <= sizeof b && block_read(s, offset, b, n) >= 0 && memcmp(b, magic, n) == 0;
}

/* The magic numbers of what slipway recognises but cannot read, each from
 * its format's own definition: */
static const char *identify_unreadable(BlockSource *s) {
        /* LUKS On-Disk Format Specification 1.2.3 and LUKS2 On-Disk Format:
         * "LUKS\xba\xbe" at 0 (LUKS2's secondary header is "SKUL"). */
        if (magic_at(s, 0, "LUKS\xba\xbe", 6))
                return "luks";
        /* XFS Algorithms & Data Structures, "Superblocks": sb_magicnum "XFSB". */
        if (magic_at(s, 0, "XFSB", 4))
                return "xfs";
        /* squashfs: the superblock's s_magic 0x73717368, little-endian "hsqs"
         * (big-endian images, of old kernels, "sqsh"). */
        if (magic_at(s, 0, "hsqs", 4) || magic_at(s, 0, "sqsh", 4))
                return "squashfs";
        /* btrfs on-disk format, "Superblock": the primary copy at 64 KiB,
         * its magic "_BHRfS_M" at offset 0x40 of it. */
        if (magic_at(s, 0x10040, "_BHRfS_M", 8))
                return "btrfs";
        /* LVM2 physical volume label: "LABELONE" in one of the first four
         * sectors, type "LVM2 001" at offset 24 of that sector. */
        for (uint64_t sector = 0; sector < 4; sector++)
                if (magic_at(s, sector * 512, "LABELONE", 8) && magic_at(s, sector * 512 + 24, "LVM2 001", 8))
                        return "lvm2";
        /* NTFS boot sector: the OEM ID "NTFS    " at 3. */
        if (magic_at(s, 3, "NTFS    ", 8))
                return "ntfs";
        /* EROFS: EROFS_SUPER_MAGIC_V1 0xE0F5E1E2 (little-endian) at 1024. */
        if (magic_at(s, 1024, "\xe2\xe1\xf5\xe0", 4))
                return "erofs";
        /* Linux swap (include/linux/swap.h union swap_header): "SWAPSPACE2"
         * (or the old "SWAP-SPACE") in the last 10 bytes of the first page,
         * whatever the page size of the system that made it. */
        static const uint64_t pages[] = { 4096, 8192, 16384, 65536 };
        for (size_t i = 0; i < ELEMENTSOF(pages); i++)
                if (magic_at(s, pages[i] - 10, "SWAPSPACE2", 10) || magic_at(s, pages[i] - 10, "SWAP-SPACE", 10))
                        return "swap";
        return NULL;
}

const char *fs_identify(BlockSource *s) {
        const char *name = identify_unreadable(s);
        if (name)
                return name;
        const FsType *t = fs_probe(s);
        return t ? t->name : NULL;
}

int fs_add_file(FsWalk *w, const char *path, InvFile **ret, Diagnostics *d) {
        if (w->inv->n_files >= w->max_entries) {
                diag_error(d, NULL, "more than %zu entries", w->max_entries);
                return -EFBIG;
        }
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        InvFile *f = inventory_add_file(w->inv);
        if (!f) {
                free(p);
                return -ENOMEM;
        }
        f->path = p;
        *ret = f;
        return 0;
}

/* Open addressing with linear probing; 0 is the empty slot. */
int u32_set_add(U32Set *s, uint32_t v) {
        if (v == 0)
                return -EINVAL;
        if (2 * (s->n + 1) > s->allocated) {
                size_t n = s->allocated ? s->allocated * 2 : 64;
                uint32_t *t = calloc(n, sizeof *t);
                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < s->allocated; i++)
                        if (s->slots[i])
                                for (size_t k = s->slots[i] * 2654435761u % n;; k = (k + 1) % n)
                                        if (!t[k]) {
                                                t[k] = s->slots[i];
                                                break;
                                        }
                free(s->slots);
                s->slots = t;
                s->allocated = n;
        }
        for (size_t k = v * 2654435761u % s->allocated;; k = (k + 1) % s->allocated) {
                if (s->slots[k] == v)
                        return 0;
                if (!s->slots[k]) {
                        s->slots[k] = v;
                        s->n++;
                        return 1;
                }
        }
}

void u32_set_release(U32Set *s) {
        free(s->slots);
        *s = (U32Set) {};
}
