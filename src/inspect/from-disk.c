/* SPDX-License-Identifier: MIT */

/* Disk images (inspect.h, inspect_disk_file()): the container (block.h),
 * the GPT (gpt-read.c), every partition's file system (fs-*.c), the boot
 * loader files on them (boot-entries.c) and the rpm database
 * (from-rpmdb.c), into one Inventory. The rpm database and the boot files
 * are the only contents read, into memory, as the listers reach them: a
 * partition is never copied out of its container. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "disk/gpt.h"
#include "inspect/disk.h"

#define DEFAULT_MAX_ENTRIES ((size_t) 4 << 20)
/* The largest rpm database read (Fedora's with 3000 packages is ~100 MiB). */
#define RPMDB_MAX (UINT64_C(1) << 30)
#define BOOT_FILE_READ_MAX (UINT64_C(1) << 20)
/* A live ISO's root is its initrd (compose/live.c): a compressed newc
 * archive, read whole (up to RPMDB_MAX) and listed as an archive for its
 * rpm database when the ISO itself has none. */
#define LIVE_INITRD "/boot/initrd"

typedef struct DiskReader {
        Inventory *inv;
        Diagnostics *d;
        size_t max_entries;
        uint64_t budget;  /* bytes of contents that may still be read */
        int partition;    /* of the file system being walked */
        uint8_t *rpmdb;   /* the best database found so far (the lowest slot, the first file system) */
        size_t rpmdb_size;
        int rpmdb_slot;
        int rpmdb_partition;
        uint8_t *initrd; /* a live ISO's initrd, read from the disk's own ISO 9660 volume */
        size_t initrd_size;
} DiskReader;

static int rpmdb_slot(const char *path) {
        for (size_t i = 0; i < ELEMENTSOF(inspect_rpmdb_paths); i++)
                if (strcmp(path, inspect_rpmdb_paths[i]) == 0)
                        return (int) i;
        return -1;
}

static bool want(void *userdata, const char *path, uint64_t size) {
        DiskReader *r = userdata;
        if (boot_file_wanted(path))
                return size <= BOOT_FILE_READ_MAX && size <= r->budget;
        if (r->partition == 0 && strcmp(path, LIVE_INITRD) == 0 && !r->initrd)
                return size <= RPMDB_MAX && size <= r->budget;
        int slot = rpmdb_slot(path);
        if (slot < 0 || (r->rpmdb && r->rpmdb_slot <= slot))
                return false;
        if (size > RPMDB_MAX || size > r->budget) {
                diag_warning(r->d, NULL, "'%s' (%llu bytes) is too large to read", path, (unsigned long long) size);
                return false;
        }
        return true;
}

static int contents(void *userdata, const char *path, uint8_t *data, size_t size) {
        DiskReader *r = userdata;
        r->budget -= MIN((uint64_t) size, r->budget);
        if (boot_file_wanted(path)) {
                int k = boot_file_parse(r->inv, r->partition, path, data, size);
                free(data);
                return k;
        }
        if (r->partition == 0 && strcmp(path, LIVE_INITRD) == 0) {
                free(r->initrd);
                r->initrd = data;
                r->initrd_size = size;
                return 0;
        }
        free(r->rpmdb);
        r->rpmdb = data;
        r->rpmdb_size = size;
        r->rpmdb_slot = rpmdb_slot(path);
        r->rpmdb_partition = r->partition;
        return 0;
}

/* Paths in depth-first order with names sorted bytewise: '/' before any
 * other byte, so "/a" "/a/b" "/a-b". */
static int path_cmp(const void *a, const void *b) {
        const unsigned char *x = (const unsigned char *) ((const InvFile *) a)->path;
        const unsigned char *y = (const unsigned char *) ((const InvFile *) b)->path;
        while (*x && *x == *y)
                x++, y++;
        int cx = *x == '/' ? 1 : *x ? *x + 1 : 0, cy = *y == '/' ? 1 : *y ? *y + 1 : 0;
        return cx - cy;
}

static const char *where(int partition, char buf[32]) {
        if (partition == 0)
                return "the disk";
        snprintf(buf, 32, "partition %d", partition);
        return buf;
}

/* Lists the file system on s, if there is one it knows, into fs. A file
 * system that cannot be read is a warning; only -ENOMEM and -EFBIG (too
 * many entries in all) fail. */
static int walk_fs(DiskReader *r, BlockSource *s, int partition, InvFilesystem *fs) {
        const FsType *t = fs_probe(s);
        if (!t)
                return 0;
        fs->type = t->name;

        _cleanup_(diagnostics_releasep) Diagnostics local = {};
        FsWalk w = { .inv = r->inv, .max_entries = r->max_entries, .want = want, .contents = contents, .userdata = r };
        size_t start = r->inv->n_files;
        r->partition = partition;
        int k = t->walk(s, &w, &fs->label, &fs->uuid, &local);
        for (size_t i = start; i < r->inv->n_files; i++)
                r->inv->files[i].partition = partition;
        fs->n_files = r->inv->n_files - start;
        if (fs->n_files > 1)
                qsort(r->inv->files + start, fs->n_files, sizeof(InvFile), path_cmp);

        char buf[32];
        const char *w_ = where(partition, buf);
        for (size_t i = 0; i < local.n; i++) {
                const Diagnostic *g = &local.items[i];
                if (g->level == DIAG_WARNING)
                        diag_warning(r->d, NULL, "%s: %s", w_, g->message);
                else if (g->level == DIAG_ERROR && k == -EFBIG)
                        diag_error(r->d, NULL, "%s: %s", w_, g->message);
                else if (g->level == DIAG_ERROR) {
                        diag_warning(r->d, NULL, "%s: %s", w_, g->message);
                        if (!fs->error && !(fs->error = strdup(g->message)))
                                return -ENOMEM;
                }
        }
        if (k == -ENOMEM || k == -EFBIG || local.oom)
                return k < 0 ? k : -ENOMEM;
        if (k < 0 && !fs->error && !(fs->error = strdup(strerror(-k))))
                return -ENOMEM;
        return 0;
}

static int add_partition(DiskReader *r, BlockSource *disk, const GptEntry *e) {
        InvPartition *p = inventory_add_partition(r->inv);
        if (!p)
                return -ENOMEM;
        p->number = e->number;
        memcpy(p->type_guid, e->type_guid, 16);
        memcpy(p->guid, e->guid, 16);
        if (gpt_type_to_name(e->type_guid, &p->type_name, &p->type_arch) < 0) {
                /* Types slipway does not make but finds: xorriso's ISO 9660
                 * "gap" partitions, GRUB's BIOS boot partition. */
                static const struct {
                        const char *guid, *name;
                } others[] = {
                        { "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "basic-data" },
                        { "21686148-6449-6e6f-744e-656564454649", "bios-boot" },
                };
                char s[GUID_STRING_MAX];
                guid_to_string(e->type_guid, s);
                p->type_name = p->type_arch = NULL;
                for (size_t i = 0; i < ELEMENTSOF(others); i++)
                        if (strcmp(s, others[i].guid) == 0)
                                p->type_name = others[i].name;
        }
        p->first_lba = e->first_lba;
        p->last_lba = e->last_lba;
        p->attributes = e->attributes;
        if (!(p->name = strdup(e->name)))
                return -ENOMEM;

        _cleanup_(block_source_freep) BlockSource *slice = NULL;
        int k = block_source_slice(disk, e->first_lba * 512, (e->last_lba - e->first_lba + 1) * 512, &slice);
        if (k < 0)
                return k == -EINVAL ? 0 : k; /* gpt_read() keeps entries within the disk */
        /* p may move when the walk appends: walk into a copy. */
        InvFilesystem fs = {};
        k = walk_fs(r, slice, (int) e->number, &fs);
        r->inv->partitions[r->inv->n_partitions - 1].fs = fs;
        return k;
}

/* The packages of a live ISO: the rpm database in its initrd, listed as an
 * archive. What goes wrong there is a warning: the ISO's own listing stands. */
static int live_packages(DiskReader *r, const InspectOptions *o) {
        _cleanup_(diagnostics_releasep) Diagnostics local = {};
        _cleanup_(inventory_freep) Inventory *sub = NULL;
        int k = inspect_archive_memory(r->initrd, r->initrd_size, o, &sub, &local);
        for (size_t i = 0; i < local.n; i++)
                if (local.items[i].level != DIAG_NOTE)
                        diag_warning(r->d, NULL, "%s: %s", LIVE_INITRD, local.items[i].message);
        if (k == -ENOMEM || local.oom)
                return -ENOMEM;
        if (k < 0 || !sub->rpmdb)
                return 0;
        if (asprintf(&r->inv->rpmdb, "%s:%s", LIVE_INITRD, sub->rpmdb) < 0) {
                r->inv->rpmdb = NULL;
                return -ENOMEM;
        }
        r->inv->rpmdb_partition = 0;
        r->inv->rpmdb_data = TAKE_PTR(sub->rpmdb_data);
        r->inv->rpmdb_size = sub->rpmdb_size;
        /* The (empty) arrays change places: sub frees the ISO's. */
        InvPackage *pk = r->inv->packages;
        size_t n = r->inv->n_packages, a = r->inv->allocated_packages;
        r->inv->packages = sub->packages;
        r->inv->n_packages = sub->n_packages;
        r->inv->allocated_packages = sub->allocated_packages;
        sub->packages = pk;
        sub->n_packages = n;
        sub->allocated_packages = a;
        return 0;
}

static int inspect_disk_source(BlockSource *file, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        _cleanup_(block_source_freep) BlockSource *owned = file, *disk = NULL;
        int k = block_open_container(file, &disk, d);
        if (k < 0)
                return k;
        if (disk == owned)
                owned = NULL; /* raw: the same source */
        else
                owned = NULL; /* the container owns the file now */

        _cleanup_(gpt_table_freep) GptTable *gpt = NULL;
        k = gpt_read(disk, &gpt, d);
        if (k < 0 && k != -EMEDIUMTYPE)
                return k;
        const FsType *whole = fs_probe(disk);
        /* A raw file with neither a partition table nor a file system is
         * not a disk image (maybe an archive); in a container it is an
         * empty disk. Over a GPT only an ISO 9660 volume counts as the
         * disk's own file system (a hybrid ISO). */
        if (!gpt && !whole && strcmp(disk->format, "raw") == 0)
                return -EMEDIUMTYPE;
        if (gpt && whole != &fs_type_iso9660)
                whole = NULL;

        _cleanup_(inventory_freep) Inventory *inv = inventory_new(INVENTORY_DISK, disk->format);
        if (!inv)
                return -ENOMEM;
        if (whole == &fs_type_iso9660 && strcmp(disk->format, "raw") == 0)
                inv->format = "iso";
        inv->disk_size = disk->size;
        if (gpt) {
                inv->has_gpt = true;
                inv->gpt_from_backup = gpt->from_backup;
                memcpy(inv->disk_guid, gpt->disk_guid, 16);
        }

        DiskReader r = {
                .inv = inv,
                .d = d,
                .max_entries = o && o->max_entries ? o->max_entries : DEFAULT_MAX_ENTRIES,
                .budget = o && o->max_bytes ? o->max_bytes : UINT64_MAX,
                .rpmdb_slot = -1,
                .rpmdb_partition = -1,
        };
        if (whole)
                k = walk_fs(&r, disk, 0, &inv->disk_fs);
        for (size_t i = 0; k >= 0 && gpt && i < gpt->n_entries; i++)
                k = add_partition(&r, disk, &gpt->entries[i]);
        if (k >= 0 && r.rpmdb) {
                inv->rpmdb = strdup(inspect_rpmdb_paths[r.rpmdb_slot]);
                inv->rpmdb_partition = r.rpmdb_partition;
                if (!inv->rpmdb)
                        k = -ENOMEM;
                else {
                        /* An unreadable database is a warning (from-rpmdb.c gave it). */
                        k = inspect_rpmdb_memory(r.rpmdb, r.rpmdb_size, inv, d);
                        if (k == -EBADMSG)
                                k = 0;
                        inv->rpmdb_data = TAKE_PTR(r.rpmdb);
                        inv->rpmdb_size = r.rpmdb_size;
                }
        } else if (k >= 0 && r.initrd && inv->n_packages == 0)
                k = live_packages(&r, o);
        free(r.rpmdb);
        free(r.initrd);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(inv);
        return 0;
}

int inspect_disk_file(const char *path, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int k = negative_errno();
                diag_error(d, NULL, "cannot open: %s", strerror(-k));
                return k;
        }
        BlockSource *file = NULL;
        int k = block_source_from_fd(fd, &file);
        if (k < 0)
                return k == -EINVAL ? -EMEDIUMTYPE : k;
        return inspect_disk_source(file, o, ret, d);
}

int inspect_disk_memory(const void *data, size_t size, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        BlockSource *file = NULL;
        int k = block_source_from_memory(data, size, &file);
        if (k < 0)
                return k;
        return inspect_disk_source(file, o, ret, d);
}
