/* SPDX-License-Identifier: MIT */

/* A customized disk written in its input's layout (customize.h): each
 * partition whose file system was read into the tree is made again from
 * the tree at its size, with its UUID, label and (ext4) hash seed; every
 * other partition (a BIOS boot partition, swap, what slipway cannot read) is
 * copied from the input through its allocation map; the GPT (or the MBR)
 * keeps types, GUIDs, names and attributes; the boot code in LBA 0 and the
 * sectors before the first partition (GRUB's boot.img and core.img) are the
 * input's. */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "customize/customize.h"
#include "disk/gpt-format.h"
#include "disk/gpt.h"
#include "disk/layout.h"
#include "fs/ext4.h"
#include "fs/vfat.h"

#define SECTOR 512u

typedef struct Built {
        char *path;
        int fd;
        uint64_t used;
} Built;

static bool below(const char *path, const char *mount) {
        size_t l = strlen(mount);
        if (strcmp(mount, "/") == 0)
                return strcmp(path, "/") != 0;
        return strncmp(path, mount, l) == 0 && path[l] == '/';
}

/* Partition i's file system made from t into a file of tmpdir. */
static int build_fs(const LoadedImage *l, const LoadedPartition *parts, size_t i, const Tree *t, uint64_t size,
                    int64_t when, const char *tmpdir, Built *b, Diagnostics *d) {
        const LoadedPartition *p = &parts[i];
        _cleanup_free_ const char **ex = new0(const char *, l->n_parts);
        size_t n_ex = 0;
        if (!ex)
                return -ENOMEM;
        for (size_t k = 0; k < l->n_parts; k++)
                if (k != i && parts[k].mount && below(parts[k].mount, p->mount))
                        ex[n_ex++] = parts[k].mount;
        FsOptions o = { .root = p->mount, .exclude = ex, .n_exclude = n_ex, .size = size, .time = when,
                        .label = p->fs.label };
        memcpy(o.uuid, p->fs.uuid, 16);
        memcpy(o.hash_seed, p->fs.hash_seed, 16);
        if (asprintf(&b->path, "%s/part%u.%s", tmpdir, p->number, p->fs.type) < 0) {
                b->path = NULL;
                return -ENOMEM;
        }
        int r;
        if (strcmp(p->fs.type, "ext4") == 0) {
                uint64_t got = 0;
                r = ext4_build(t, &o, b->path, &got);
                b->used = got;
        } else
                r = vfat_build(t, &o, b->path, &b->used);
        if (r == -ENOSPC) {
                diag_error(d, NULL, "partition %u (%s): the files do not fit in its %" PRIu64 " KiB as %s", p->number,
                           p->mount, size >> 10, p->fs.type);
                return -EINVAL;
        }
        if (r == -ENAMETOOLONG || r == -E2BIG || r == -EOPNOTSUPP || r == -EEXIST) {
                diag_error(d, NULL, "partition %u (%s): the tree holds what its %s file system cannot store (%s)",
                           p->number, p->mount, p->fs.type, strerror(-r));
                return -EINVAL;
        }
        if (r < 0)
                return r;
        b->fd = open(b->path, O_RDONLY | O_CLOEXEC);
        return b->fd < 0 ? -errno : 0;
}

/* The MBR of an MBR disk: the input's, with the (primary) partition's size
 * grown to its last_lba (UEFI 2.10 5.2.1, table 5.2: SizeInLBA). */
static void mbr_grow(uint8_t sector[512], const LoadedPartition *p) {
        struct mbr m;
        memcpy(&m, sector, sizeof m);
        uint64_t n = p->last_lba - p->first_lba + 1;
        m.partition_record[p->number - 1].size_in_lba = htole32(n > UINT32_MAX ? UINT32_MAX : (uint32_t) n);
        memcpy(sector, &m, sizeof m);
}

int customize_write_disk(const LoadedImage *l, const Tree *t, const CustomizeDiskOptions *o, DiskFormat f,
                         const char *path, const char *tmpdir, Diagnostics *d) {
        uint64_t size = o->size ? o->size : l->size;
        int r;

        if (size < l->size) {
                diag_error(d, NULL, "the disk cannot shrink: the input is %" PRIu64 " MiB, %" PRIu64 " MiB was asked for",
                           l->size >> 20, size >> 20);
                return -EINVAL;
        }
        _cleanup_free_ LoadedPartition *parts = new0(LoadedPartition, l->n_parts);
        _cleanup_free_ Built *built = new0(Built, l->n_parts);
        if (!parts || !built)
                return -ENOMEM;
        memcpy(parts, l->parts, l->n_parts * sizeof *parts);
        for (size_t i = 0; i < l->n_parts; i++)
                built[i].fd = -1;

        /* A larger disk: the last partition grows (GPT: up to the backup's
         * entry array, 33 sectors before the end). */
        size_t last = SIZE_MAX;
        for (size_t i = 0; i < l->n_parts; i++)
                if (last == SIZE_MAX || parts[i].last_lba > parts[last].last_lba)
                        last = i;
        if (size > l->size && last != SIZE_MAX) {
                LoadedPartition *p = &parts[last];
                if (!p->fs.type || strcmp(p->fs.type, "ext4") != 0) {
                        diag_error(d, NULL, "the disk can grow only when its last partition holds an ext4 file system "
                                            "slipway read (partition %u does not)",
                                   p->number);
                        return -EINVAL;
                }
                if (!l->gpt && p->number > 4) {
                        /* A logical partition's size is in its EBR, inside the
                         * extended partition, which does not grow. */
                        diag_error(d, NULL, "the disk can grow only when its last partition is a primary one "
                                            "(partition %u is a logical partition)",
                                   p->number);
                        return -EINVAL;
                }
                uint64_t end = size / SECTOR - (l->gpt ? 34 : 1);
                /* Keep the partition's end aligned as the input had its start (1 MiB). */
                end = ((end + 1) / 2048) * 2048 - 1;
                if (end > p->last_lba)
                        p->last_lba = end;
        }

        DiskLayout lay = {};
        uint8_t *head = NULL, *tail = NULL;
        size_t head_len = 0, tail_len = 0;
        uint8_t mbr[512];
        if (l->gpt) {
                GptPartition *gp = new0(GptPartition, l->n_parts);
                if (!gp)
                        return -ENOMEM;
                uint64_t first_usable = 34;
                for (size_t i = 0; i < l->n_parts; i++) {
                        memcpy(gp[i].type_guid, parts[i].type_guid, 16);
                        memcpy(gp[i].part_guid, parts[i].guid, 16);
                        gp[i].first_lba = parts[i].first_lba;
                        gp[i].last_lba = parts[i].last_lba;
                        gp[i].attributes = parts[i].attributes;
                        snprintf(gp[i].name, sizeof gp[i].name, "%s", parts[i].name ? parts[i].name : "");
                }
                if (l->boot_gap)
                        first_usable = 34 + l->boot_gap_size / SECTOR;
                r = gpt_build_reserved(size, l->disk_guid, gp, l->n_parts, first_usable, &head, &head_len, &tail,
                                       &tail_len);
                free(gp);
                if (r < 0) {
                        diag_error(d, NULL, "cannot lay out the partition table again: %s", strerror(-r));
                        return -EINVAL;
                }
                /* The boot code of the input's MBR (GRUB's boot.img), the
                 * protective entry made for the new size. */
                memcpy(head, l->mbr, 440);
        } else {
                memcpy(mbr, l->mbr, sizeof mbr);
                if (last != SIZE_MAX && parts[last].last_lba != l->parts[last].last_lba)
                        mbr_grow(mbr, &parts[last]);
                head = mbr;
                head_len = SECTOR;
        }

        r = disk_layout_add_data(&lay, 0, head, head_len);
        if (r >= 0 && l->boot_gap)
                r = disk_layout_add_data(&lay, (uint64_t) (l->gpt ? 34 : 1) * SECTOR, l->boot_gap, l->boot_gap_size);
        /* The partitions in disk order. */
        _cleanup_free_ size_t *order = new0(size_t, l->n_parts);
        if (!order)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < l->n_parts; i++) {
                size_t k = i;
                order[i] = i;
                while (k > 0 && parts[order[k - 1]].first_lba > parts[order[k]].first_lba) {
                        size_t tmp = order[k - 1];
                        order[k - 1] = order[k];
                        order[k] = tmp;
                        k--;
                }
        }
        for (size_t j = 0; r >= 0 && j < l->n_parts; j++) {
                size_t i = order[j];
                const LoadedPartition *p = &parts[i];
                uint64_t off = p->first_lba * SECTOR, len = (p->last_lba - p->first_lba + 1) * SECTOR;
                if (p->fs.type) {
                        r = build_fs(l, parts, i, t, len, o->time, tmpdir, &built[i], d);
                        if (r >= 0)
                                r = disk_layout_add_file(&lay, off, MIN(len, built[i].used), built[i].fd);
                } else
                        r = disk_layout_add_source(&lay, off, l->disk->source, off,
                                                   (l->parts[i].last_lba - l->parts[i].first_lba + 1) * SECTOR);
        }
        if (r >= 0 && l->gpt)
                r = disk_layout_add_data(&lay, size - tail_len, tail, tail_len);
        DiskSource src;
        if (r >= 0)
                r = disk_layout_source(&lay, size, &src);
        if (r >= 0) {
                DiskWriteOptions wo = { .timestamp = o->time };
                memcpy(wo.seed, o->seed, 32);
                r = disk_write(&src, f, &wo, path);
                if (r == -EINVAL && f == DISK_FORMAT_VHD && size % (1u << 20)) {
                        diag_error(d, NULL, "a VHD's size must be a whole number of MiB (Azure's rule); the disk is "
                                            "%" PRIu64 " bytes: give a size",
                                   size);
                }
        }
        for (size_t i = 0; i < l->n_parts; i++) {
                if (built[i].fd >= 0)
                        close(built[i].fd);
                if (built[i].path)
                        (void) unlink(built[i].path);
                free(built[i].path);
        }
        if (l->gpt) {
                free(head);
                free(tail);
        }
        disk_layout_release(&lay);
        return r;
}
