/* SPDX-License-Identifier: MIT */

/* A FAT file system of a disk image read into a tree (load.h): the vfat
 * lister (fs-vfat.c) walks it and hands over every file's contents, which
 * become in-memory blobs (an ESP holds boot loaders, kernels and initrds:
 * tens of MiB, bounded here). FAT keeps no owners and no modes that Linux
 * honours: files are 0644 and directories 0755, root's. */

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "inspect/disk.h"
#include "inspect/load.h"

/* The most file contents read from one FAT file system. */
#define VFAT_LOAD_MAX (UINT64_C(4) << 30)

typedef struct VfatLoad {
        Tree *t;
        const char *prefix;
        int64_t mtime;
        uint64_t budget;
        Diagnostics *d;
        int r;
} VfatLoad;

static char *full_path(const VfatLoad *v, const char *path) {
        char *p = NULL;
        if (asprintf(&p, "%s%s", v->prefix, strcmp(path, "/") == 0 && v->prefix[0] ? "" : path) < 0)
                return NULL;
        return p;
}

static bool want(void *userdata, const char *path, uint64_t size) {
        VfatLoad *v = userdata;
        if (size > v->budget) {
                diag_error(v->d, NULL, "vfat: more than %llu bytes of files", (unsigned long long) VFAT_LOAD_MAX);
                v->r = -EFBIG;
                return false;
        }
        return true;
}

static int contents(void *userdata, const char *path, uint8_t *data, size_t size) {
        VfatLoad *v = userdata;
        v->budget -= size;
        _cleanup_free_ char *p = full_path(v, path);
        if (!p) {
                free(data);
                return -ENOMEM;
        }
        TreeBlob *b = tree_blob_take(data, size);
        if (!b)
                return -ENOMEM;
        int r = tree_add_blob(v->t, p, b, 0644, 0, 0, NULL);
        tree_blob_unref(b);
        return r;
}

static int parse_volume_id(const char *s, uint8_t uuid[16]) {
        unsigned hi, lo;
        if (!s || sscanf(s, "%4X-%4X", &hi, &lo) != 2)
                return -EINVAL;
        uint32_t id = hi << 16 | lo;
        memset(uuid, 0, 16);
        for (int i = 0; i < 4; i++)
                uuid[i] = (uint8_t) (id >> (8 * i));
        return 0;
}

int vfat_load_tree(ImageDisk *disk, uint64_t offset, uint64_t size, Tree *t, const char *prefix, size_t max_entries,
                   int64_t mtime, LoadedFs *ret, Diagnostics *d) {
        _cleanup_(block_source_freep) BlockSource *part = NULL;
        int r = block_source_slice(disk->source, offset, size, &part);
        if (r < 0)
                return r;
        _cleanup_(inventory_freep) Inventory *inv = inventory_new(INVENTORY_DISK, "vfat");
        if (!inv)
                return -ENOMEM;
        VfatLoad v = { .t = t, .prefix = strcmp(prefix, "/") == 0 ? "" : prefix, .mtime = mtime,
                       .budget = VFAT_LOAD_MAX, .d = d };
        FsWalk w = { .inv = inv, .max_entries = max_entries, .want = want, .contents = contents, .userdata = &v };
        _cleanup_free_ char *label = NULL, *uuid = NULL;
        /* The lister reads the disk's source directly: under its lock. */
        pthread_mutex_lock(&disk->lock);
        r = fs_type_vfat.walk(part, &w, &label, &uuid, d);
        pthread_mutex_unlock(&disk->lock);
        if (v.r < 0)
                return v.r;
        if (r < 0)
                return r;
        /* Directories (and empty files, which were not handed over). */
        for (size_t i = 0; i < inv->n_files; i++) {
                const InvFile *f = &inv->files[i];
                _cleanup_free_ char *p = full_path(&v, f->path);
                if (!p)
                        return -ENOMEM;
                TreeNode *n = tree_get(t, p);
                if (S_ISDIR(f->mode)) {
                        if (!n && (r = tree_add_dir(t, p, 0755, 0, 0, &n)) < 0)
                                return r;
                } else if (!n && (r = tree_add_file(t, p, NULL, 0, 0644, 0, 0, &n)) < 0)
                        return r;
                n->mtime = mtime;
        }
        *ret = (LoadedFs) { .type = "vfat", .n_entries = inv->n_files };
        (void) parse_volume_id(uuid, ret->uuid);
        ret->label = TAKE_PTR(label);
        return 0;
}
