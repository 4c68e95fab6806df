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
