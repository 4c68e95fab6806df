/* SPDX-License-Identifier: MIT */

/* A disk image read into one tree (load.h): the container, the partition
 * table, the root file system, then every partition the root's /etc/fstab
 * mounts, each at its mount point. */

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "disk/gpt.h"
#include "inspect/disk.h"
#include "inspect/load.h"

/* Entries of all file systems together. */
#define LOAD_MAX_ENTRIES ((size_t) 8 << 20)
/* The bytes before the first partition kept as they are (GRUB's core.img
 * lies there on a BIOS-booting GPT disk): at most this many. */
#define BOOT_GAP_MAX ((size_t) 4 << 20)
#define FSTAB_MAX ((size_t) 1 << 20)

ImageDisk *image_disk_ref(ImageDisk *d) {
        if (d)
                __atomic_add_fetch(&d->ref, 1, __ATOMIC_RELAXED);
        return d;
}

ImageDisk *image_disk_unref(ImageDisk *d) {
        if (d && __atomic_sub_fetch(&d->ref, 1, __ATOMIC_ACQ_REL) == 0) {
                block_source_free(d->source);
                pthread_mutex_destroy(&d->lock);
                free(d);
        }
        return NULL;
}

int image_disk_read(ImageDisk *d, uint64_t offset, void *buf, size_t n) {
        pthread_mutex_lock(&d->lock);
        int r = block_read(d->source, offset, buf, n);
        pthread_mutex_unlock(&d->lock);
        return r;
}

LoadedImage *loaded_image_free(LoadedImage *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_parts; i++) {
                free(l->parts[i].name);
                free(l->parts[i].fs.label);
                free(l->parts[i].mount);
        }
        free(l->parts);
        free(l->boot_gap);
        tree_free(l->tree);
        image_disk_unref(l->disk);
        free(l);
        return NULL;
}

static uint64_t part_offset(const LoadedPartition *p) {
        return p->first_lba * 512;
}

static uint64_t part_size(const LoadedPartition *p) {
        return (p->last_lba - p->first_lba + 1) * 512;
}

/* What partition p holds, by its magic numbers. */
static const char *identify(ImageDisk *disk, const LoadedPartition *p) {
        _cleanup_(block_source_freep) BlockSource *s = NULL;
        if (block_source_slice(disk->source, part_offset(p), part_size(p), &s) < 0)
                return NULL;
        return fs_identify(s);
}

static int read_gpt(LoadedImage *l, Diagnostics *d) {
        _cleanup_(gpt_table_freep) GptTable *gpt = NULL;
        int r = gpt_read(l->disk->source, &gpt, d);
        if (r < 0)
                return r;
        l->gpt = true;
        memcpy(l->disk_guid, gpt->disk_guid, 16);
        l->parts = new0(LoadedPartition, gpt->n_entries);
        if (!l->parts)
                return -ENOMEM;
        for (size_t i = 0; i < gpt->n_entries; i++) {
                const GptEntry *e = &gpt->entries[i];
                LoadedPartition *p = &l->parts[l->n_parts++];
                p->number = e->number;
                memcpy(p->type_guid, e->type_guid, 16);
                memcpy(p->guid, e->guid, 16);
                p->first_lba = e->first_lba;
                p->last_lba = e->last_lba;
                p->attributes = e->attributes;
                const char *arch;
                if (gpt_type_to_name(e->type_guid, &p->type_name, &arch) < 0)
                        p->type_name = NULL;
                if (!(p->name = strdup(e->name)))
                        return -ENOMEM;
        }
        return 0;
}

static int read_mbr(LoadedImage *l, Diagnostics *d) {
        _cleanup_(mbr_table_freep) MbrTable *mbr = NULL;
        int r = mbr_read(l->disk->source, &mbr, d);
        if (r < 0)
                return r;
        l->gpt = false;
        l->mbr_signature = mbr->disk_signature;
        l->parts = new0(LoadedPartition, mbr->n_entries);
        if (!l->parts)
                return -ENOMEM;
        for (size_t i = 0; i < mbr->n_entries; i++) {
                const MbrEntry *e = &mbr->entries[i];
                if (mbr_type_is_extended(e->type))
                        continue; /* the container of the logical partitions, kept in LBA 0's table */
                LoadedPartition *p = &l->parts[l->n_parts++];
                p->number = e->number;
                p->mbr_type = e->type;
                p->bootable = e->bootable;
                p->first_lba = e->first_lba;
                p->last_lba = e->first_lba + e->sectors - 1;
                /* Types: 0x83 Linux, 0xEF EFI System, 0x82 Linux swap. */
                p->type_name = e->type == 0xEF ? "esp" : e->type == 0x82 ? "swap" : e->type == 0x83 ? "linux" : NULL;
                if (!(p->name = strdup("")))
                        return -ENOMEM;
        }
        return 0;
}

/* fs_identify()'s name in a sentence. */
static const char *describe(const char *found) {
        static const struct {
                const char *name, *text;
        } names[] = {
                { "lvm2", "an LVM2 physical volume" }, { "luks", "a LUKS encrypted volume" }, { "swap", "swap space" },
                { "xfs", "an xfs file system" },        { "btrfs", "a btrfs file system" },
                { "squashfs", "a squashfs file system" }, { "erofs", "an erofs file system" },
                { "ntfs", "an NTFS file system" },      { "iso9660", "an ISO 9660 file system" },
        };
        if (!found)
                return "no file system slipway recognises";
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(found, names[i].name) == 0)
                        return names[i].text;
        return found;
}

static const char *where(const LoadedPartition *p, char buf[64]) {
        snprintf(buf, 64, "partition %u", p->number);
        return buf;
}

/* Loads partition p's file system into l->tree at mount. */
static int load_part(LoadedImage *l, LoadedPartition *p, const char *mount, int64_t mtime, Diagnostics *d) {
        char w[64];
        if (!p->found || (strcmp(p->found, "ext4") != 0 && strcmp(p->found, "vfat") != 0)) {
                diag_error(d, NULL, "%s (mounted at %s) holds %s, which slipway cannot read (it reads ext2/3/4 and "
                                    "FAT)",
                           where(p, w), mount, describe(p->found));
                return -EINVAL;
        }
        _cleanup_(diagnostics_releasep) Diagnostics local = {};
        /* The loader sets the identity anew (peek_identity()'s was for fstab). */
        free(p->fs.label);
        p->fs.label = NULL;
        size_t used = 0;
        for (size_t i = 0; i < l->n_parts; i++)
                used += l->parts[i].fs.n_entries;
        int r = strcmp(p->found, "ext4") == 0
                        ? ext4_load_tree(l->disk, part_offset(p), part_size(p), l->tree, mount, LOAD_MAX_ENTRIES - used,
                                         &p->fs, &local)
                        : vfat_load_tree(l->disk, part_offset(p), part_size(p), l->tree, mount, LOAD_MAX_ENTRIES - used,
                                         mtime, &p->fs, &local);
        for (size_t i = 0; i < local.n; i++)
                if (local.items[i].level >= DIAG_WARNING) {
                        if (local.items[i].level == DIAG_ERROR)
                                diag_error(d, NULL, "%s: %s", where(p, w), local.items[i].message);
                        else
                                diag_warning(d, NULL, "%s: %s", where(p, w), local.items[i].message);
                }
        if (r == -ENOMEM || local.oom)
                return -ENOMEM;
        if (r < 0) {
                if (local.n == 0)
                        diag_error(d, NULL, "%s: cannot read its %s file system: %s", where(p, w), p->found, strerror(-r));
                return -EINVAL;
        }
        if (!(p->mount = strdup(mount)))
                return -ENOMEM;
        return 0;
}

/* The partition an fstab device names: PARTUUID=, UUID=, LABEL=,
 * PARTLABEL=, their /dev/disk/by-* links, or /dev/NAME<number>. */
static LoadedPartition *fstab_device(LoadedImage *l, const char *spec) {
        static const struct {
                const char *tag, *link;
        } kinds[] = {
                { "PARTUUID=", "/dev/disk/by-partuuid/" },
                { "UUID=", "/dev/disk/by-uuid/" },
                { "LABEL=", "/dev/disk/by-label/" },
                { "PARTLABEL=", "/dev/disk/by-partlabel/" },
        };
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                const char *v = NULL;
                if (strncmp(spec, kinds[k].tag, strlen(kinds[k].tag)) == 0)
                        v = spec + strlen(kinds[k].tag);
                else if (strncmp(spec, kinds[k].link, strlen(kinds[k].link)) == 0)
                        v = spec + strlen(kinds[k].link);
                if (!v)
                        continue;
                if (*v == '"') /* LABEL="x" */
                        v++;
                size_t vl = strcspn(v, "\"");
                for (size_t i = 0; i < l->n_parts; i++) {
                        LoadedPartition *p = &l->parts[i];
                        char s[GUID_STRING_MAX + 16];
                        if (k == 0) {
                                if (l->gpt)
                                        guid_to_string(p->guid, s);
                                else
                                        snprintf(s, sizeof s, "%08x-%02x", l->mbr_signature, p->number);
                                if (strlen(s) == vl && strncasecmp(s, v, vl) == 0)
                                        return p;
                        } else if (k == 1) {
                                if (p->found && strcmp(p->found, "ext4") == 0)
                                        guid_to_string(p->fs.uuid, s);
                                else if (p->found && strcmp(p->found, "vfat") == 0)
                                        snprintf(s, sizeof s, "%02X%02X-%02X%02X", p->fs.uuid[3], p->fs.uuid[2],
                                                 p->fs.uuid[1], p->fs.uuid[0]);
                                else
                                        continue;
                                if (strlen(s) == vl && strncasecmp(s, v, vl) == 0)
                                        return p;
                        } else if (k == 2) {
                                if (p->fs.label && strlen(p->fs.label) == vl && strncmp(p->fs.label, v, vl) == 0)
                                        return p;
                        } else if (p->name && strlen(p->name) == vl && strncmp(p->name, v, vl) == 0)
                                return p;
                }
                return NULL;
        }
        /* /dev/sda2, /dev/vda2, /dev/nvme0n1p2, /dev/mmcblk0p2: the number at the end. */
        if (strncmp(spec, "/dev/", 5) == 0) {
                size_t n = strlen(spec), k = n;
                while (k > 5 && isdigit((unsigned char) spec[k - 1]))
                        k--;
                if (k < n) {
                        unsigned num = (unsigned) strtoul(spec + k, NULL, 10);
                        for (size_t i = 0; i < l->n_parts; i++)
                                if (l->parts[i].number == num)
                                        return &l->parts[i];
                }
        }
        return NULL;
}

/* Reads each file system's identity (UUID, label) without loading it, so
 * that fstab's UUID= and LABEL= find their partitions. */
static void peek_identity(ImageDisk *disk, LoadedPartition *p) {
        uint8_t b[1024];
        if (!p->found)
                return;
        if (strcmp(p->found, "ext4") == 0 && image_disk_read(disk, part_offset(p) + 1024, b, sizeof b) >= 0) {
                /* s_uuid at 0x68, s_volume_name at 0x78 (16 bytes): ext4 wiki "The Super Block". */
                memcpy(p->fs.uuid, b + 0x68, 16);
                char label[17] = {};
                memcpy(label, b + 0x78, 16);
                free(p->fs.label);
                p->fs.label = label[0] ? strdup(label) : NULL;
        } else if (strcmp(p->found, "vfat") == 0 && image_disk_read(disk, part_offset(p), b, 512) >= 0) {
                /* The extended BIOS parameter block: at 36 (FAT12/16) or 64
                 * (FAT32, whose sectors-per-FAT at 22 is 0); signature 0x29,
                 * then the volume id and the 11-byte label. */
                const uint8_t *ext = (b[22] | b[23] << 8) == 0 ? b + 64 : b + 36;
                if (ext[2] == 0x29 || ext[2] == 0x28)
                        memcpy(p->fs.uuid, ext + 3, 4);
                if (ext[2] == 0x29) {
                        char label[12] = {};
                        memcpy(label, ext + 7, 11);
                        for (int i = 10; i >= 0 && label[i] == ' '; i--)
                                label[i] = 0;
                        free(p->fs.label);
                        p->fs.label = label[0] && strcmp(label, "NO NAME") != 0 ? strdup(label) : NULL;
                }
        }
}

/* The root's /etc/fstab: each line that mounts a partition of this disk
 * loads it there (in the file's order, which mounts parents first). */
static int mount_fstab(LoadedImage *l, int64_t mtime, Diagnostics *d) {
        TreeNode *n = tree_get(l->tree, "/etc/fstab");
        if (!n || n->type != TREE_REG)
                return 0;
        _cleanup_free_ uint8_t *text = NULL;
        int r = tree_blob_load(n->blob, FSTAB_MAX, &text, NULL);
        if (r < 0) {
                diag_error(d, NULL, "/etc/fstab: cannot read it: %s", strerror(-r));
                return -EINVAL;
        }
        unsigned line = 0;
        for (char *save = NULL, *s = strtok_r((char *) text, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
                line++;
                char spec[512], mount[1024], type[64];
                s += strspn(s, " \t");
                if (*s == '#' || *s == 0 || sscanf(s, "%511s %1023s %63s", spec, mount, type) != 3)
                        continue;
                if (mount[0] != '/' || strcmp(mount, "/") == 0 || strcmp(type, "swap") == 0)
                        continue;
                LoadedPartition *p = fstab_device(l, spec);
                if (!p)
                        continue; /* not a partition of this disk (tmpfs, a network share, ...) */
                if (p->mount)
                        continue;
                _cleanup_free_ char *m = NULL;
                if ((r = tree_path_normalize(mount, &m)) < 0) {
                        diag_error(d, NULL, "/etc/fstab:%u: the mount point '%s' is not a path in the image", line, mount);
                        return -EINVAL;
                }
                if ((r = load_part(l, p, m, mtime, d)) < 0)
                        return r;
        }
        return 0;
}

static bool has_os_release(const Tree *t) {
        return tree_get(t, "/etc/os-release") || tree_get(t, "/usr/lib/os-release");
}

static int find_root(LoadedImage *l, int64_t mtime, Diagnostics *d) {
        char w[64];
        /* A partition typed root (the Discoverable Partitions Specification). */
        for (size_t i = 0; i < l->n_parts; i++)
                if (l->parts[i].type_name && strcmp(l->parts[i].type_name, "root") == 0) {
                        l->root = i;
                        return load_part(l, &l->parts[i], "/", mtime, d);
                }
        /* Else the first ext4 file system with an os-release. */
        for (size_t i = 0; i < l->n_parts; i++) {
                LoadedPartition *p = &l->parts[i];
                if (!p->found || strcmp(p->found, "ext4") != 0)
                        continue;
                int r = load_part(l, p, "/", mtime, d);
                if (r < 0)
                        return r;
                if (has_os_release(l->tree)) {
                        l->root = i;
                        return 0;
                }
                free(p->mount);
                p->mount = NULL;
                p->fs.n_entries = 0;
                tree_free(l->tree);
                if (!(l->tree = tree_new(mtime)))
                        return -ENOMEM;
        }
        for (size_t i = 0; i < l->n_parts; i++)
                if (l->parts[i].found && strcmp(l->parts[i].found, "ext4") != 0 && strcmp(l->parts[i].found, "vfat") != 0 &&
                    strcmp(l->parts[i].found, "swap") != 0) {
                        diag_error(d, NULL, "%s holds %s, which slipway cannot read (it reads ext2/3/4 and FAT); no "
                                            "root file system found",
                                   where(&l->parts[i], w), describe(l->parts[i].found));
                        return -EINVAL;
                }
        diag_error(d, NULL, "no partition holds a root file system (an ext4 file system with /etc/os-release)");
        return -EINVAL;
}

int image_load(const char *path, int64_t mtime, LoadedImage **ret, Diagnostics *d) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                diag_error(d, NULL, "%s: cannot open: %m", path);
                return -EINVAL;
        }
        return image_load_fd(fd, path, mtime, ret, d);
}

int image_load_fd(int fd, const char *path, int64_t mtime, LoadedImage **ret, Diagnostics *d) {
        _cleanup_(loaded_image_freep) LoadedImage *l = new0(LoadedImage, 1);
        ImageDisk *disk = new0(ImageDisk, 1);
        if (!l || !disk) {
                free(disk);
                return -ENOMEM;
        }
        disk->ref = 1;
        pthread_mutex_init(&disk->lock, NULL);
        l->disk = disk;

        _cleanup_(diagnostics_releasep) Diagnostics local = {};
        BlockSource *file = NULL;
        int r = block_source_from_fd(fd, &file);
        if (r == -EINVAL) {
                diag_error(d, NULL, "%s: not a disk image (not a regular file, or empty)", path);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        r = block_open_container(file, &disk->source, &local);
        if (r < 0) {
                block_source_free(file);
                if (r == -ENOMEM)
                        return r;
                for (size_t i = 0; i < local.n; i++)
                        diag_error(d, NULL, "%s: %s", path, local.items[i].message);
                if (local.n == 0)
                        diag_error(d, NULL, "%s: cannot read the disk image: %s", path, strerror(-r));
                return -EINVAL;
        }
        l->format = disk->source->format;
        l->size = disk->source->size;
        if (l->size % 512 != 0 || l->size < 512) {
                diag_error(d, NULL, "%s: the disk's size (%llu bytes) is not a whole number of 512-byte sectors", path,
                           (unsigned long long) l->size);
                return -EINVAL;
        }
        if ((r = image_disk_read(disk, 0, l->mbr, 512)) < 0) {
                diag_error(d, NULL, "%s: cannot read the first sector: %s", path, strerror(-r));
                return -EINVAL;
        }

        diagnostics_release(&local);
        r = read_gpt(l, &local);
        if (r == -EMEDIUMTYPE)
                r = read_mbr(l, &local);
        if (r == -EMEDIUMTYPE) {
                diag_error(d, NULL, "%s: no partition table (neither GPT nor MBR)", path);
                return -EINVAL;
        }
        if (r < 0) {
                if (r == -ENOMEM)
                        return r;
                for (size_t i = 0; i < local.n; i++)
                        diag_error(d, NULL, "%s: %s", path, local.items[i].message);
                if (local.n == 0)
                        diag_error(d, NULL, "%s: cannot read the partition table: %s", path, strerror(-r));
                return -EINVAL;
        }

        /* The boot loader's bytes between the table and the first partition. */
        uint64_t first = UINT64_MAX;
        for (size_t i = 0; i < l->n_parts; i++)
                first = MIN(first, l->parts[i].first_lba);
        uint64_t gap_start = l->gpt ? 34 : 1;
        if (first != UINT64_MAX && first > gap_start && (first - gap_start) * 512 <= BOOT_GAP_MAX) {
                size_t n = (size_t) (first - gap_start) * 512;
                _cleanup_free_ uint8_t *gap = malloc(n);
                if (!gap)
                        return -ENOMEM;
                if ((r = image_disk_read(disk, gap_start * 512, gap, n)) < 0) {
                        diag_error(d, NULL, "%s: cannot read the sectors before the first partition: %s", path,
                                   strerror(-r));
                        return -EINVAL;
                }
                bool zero = true;
                for (size_t i = 0; i < n && zero; i++)
                        zero = gap[i] == 0;
                if (!zero) {
                        l->boot_gap = TAKE_PTR(gap);
                        l->boot_gap_size = n;
                }
        }

        for (size_t i = 0; i < l->n_parts; i++) {
                l->parts[i].found = identify(disk, &l->parts[i]);
                peek_identity(disk, &l->parts[i]);
        }
        if (!(l->tree = tree_new(mtime)))
                return -ENOMEM;
        diagnostics_release(&local);
        r = find_root(l, mtime, &local);
        if (r >= 0)
                r = mount_fstab(l, mtime, &local);
        for (size_t i = 0; i < local.n; i++) {
                if (local.items[i].level == DIAG_ERROR)
                        diag_error(d, NULL, "%s: %s", path, local.items[i].message);
                else if (local.items[i].level == DIAG_WARNING)
                        diag_warning(d, NULL, "%s: %s", path, local.items[i].message);
        }
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        *ret = TAKE_PTR(l);
        return 0;
}
