/* SPDX-License-Identifier: MIT */

/* The inventory model, and telling inputs apart by their content. */

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "inspect/inspect.h"

static const char *const kind_table[_INVENTORY_KIND_MAX] = {
        [INVENTORY_RPM] = "rpm",
        [INVENTORY_REPOSITORY] = "repository",
        [INVENTORY_IMAGE] = "image",
        [INVENTORY_DISK] = "disk",
};

const char *inventory_kind_to_string(InventoryKind k) {
        return k >= 0 && k < _INVENTORY_KIND_MAX ? kind_table[k] : NULL;
}

const char *const inspect_rpmdb_paths[2] = {
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        "/var/lib/rpm/rpmdb.sqlite",
};

char *inv_package_nevra(const InvPackage *p) {
        char *s = NULL, epoch[16] = "";
        if (p->has_epoch)
                snprintf(epoch, sizeof epoch, "%u:", p->epoch);
        if (asprintf(&s, "%s-%s%s-%s.%s", p->name ? p->name : "?", epoch, p->version ? p->version : "?",
                     p->release ? p->release : "?", p->arch ? p->arch : "(none)") < 0)
                return NULL;
        return s;
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static void package_release(InvPackage *p) {
        free(p->name);
        free(p->version);
        free(p->release);
        free(p->arch);
        free(p->summary);
        free(p->license);
        free(p->signature_tag);
        free(p->key_id);
        strv_free(p->requires, p->n_requires);
        strv_free(p->provides, p->n_provides);
        strv_free(p->conflicts, p->n_conflicts);
        strv_free(p->obsoletes, p->n_obsoletes);
        free(p->href);
        free(p->checksum_type);
        free(p->checksum);
}

static void file_release(InvFile *f) {
        free(f->path);
        free(f->user);
        free(f->group);
        free(f->target);
        free(f->hardlink);
        free(f->caps);
        strv_free(f->xattrs, f->n_xattrs);
}

static void filesystem_release(InvFilesystem *f) {
        free(f->label);
        free(f->uuid);
        free(f->error);
}

static void boot_entry_release(InvBootEntry *e) {
        free(e->path);
        free(e->title);
        free(e->version);
        free(e->linux);
        strv_free(e->initrd, e->n_initrd);
        free(e->options);
}

Inventory *inventory_new(InventoryKind kind, const char *format) {
        Inventory *inv = new0(Inventory, 1);
        if (!inv)
                return NULL;
        inv->kind = kind;
        inv->format = format;
        inv->rpmdb_partition = -1;
        inv->loader_partition = -1;
        return inv;
}

Inventory *inventory_free(Inventory *inv) {
        if (!inv)
                return NULL;
        for (size_t i = 0; i < inv->n_packages; i++)
                package_release(&inv->packages[i]);
        free(inv->packages);
        for (size_t i = 0; i < inv->n_files; i++)
                file_release(&inv->files[i]);
        free(inv->files);
        for (size_t i = 0; i < inv->n_metadata; i++) {
                free(inv->metadata[i].type);
                free(inv->metadata[i].href);
                free(inv->metadata[i].checksum_type);
                free(inv->metadata[i].checksum);
        }
        free(inv->metadata);
        for (size_t i = 0; i < inv->n_layers; i++) {
                free(inv->layers[i].digest);
                free(inv->layers[i].media_type);
        }
        free(inv->layers);
        for (size_t i = 0; i < inv->n_partitions; i++) {
                free(inv->partitions[i].name);
                filesystem_release(&inv->partitions[i].fs);
        }
        free(inv->partitions);
        filesystem_release(&inv->disk_fs);
        for (size_t i = 0; i < inv->n_boot_entries; i++)
                boot_entry_release(&inv->boot_entries[i]);
        free(inv->boot_entries);
        free(inv->loader_path);
        free(inv->loader_default);
        free(inv->loader_timeout);
        free(inv->rpmdb);
        free(inv->rpmdb_data);
        free(inv);
        return NULL;
}

InvPackage *inventory_add_package(Inventory *inv) {
        if (!GREEDY_REALLOC(inv->packages, inv->allocated_packages, inv->n_packages + 1))
                return NULL;
        InvPackage *p = &inv->packages[inv->n_packages++];
        *p = (InvPackage) {};
        return p;
}

InvFile *inventory_add_file(Inventory *inv) {
        if (!GREEDY_REALLOC(inv->files, inv->allocated_files, inv->n_files + 1))
                return NULL;
        InvFile *f = &inv->files[inv->n_files++];
        *f = (InvFile) { .layer = -1, .partition = -1 };
        return f;
}

InvMetadata *inventory_add_metadata(Inventory *inv) {
        if (!GREEDY_REALLOC(inv->metadata, inv->allocated_metadata, inv->n_metadata + 1))
                return NULL;
        InvMetadata *m = &inv->metadata[inv->n_metadata++];
        *m = (InvMetadata) {};
        return m;
}

InvLayer *inventory_add_layer(Inventory *inv) {
        if (!GREEDY_REALLOC(inv->layers, inv->allocated_layers, inv->n_layers + 1))
                return NULL;
        InvLayer *l = &inv->layers[inv->n_layers++];
        *l = (InvLayer) {};
        return l;
}

InvPartition *inventory_add_partition(Inventory *inv) {
        if (!GREEDY_REALLOC(inv->partitions, inv->allocated_partitions, inv->n_partitions + 1))
                return NULL;
        InvPartition *p = &inv->partitions[inv->n_partitions++];
        *p = (InvPartition) {};
        return p;
}

InvBootEntry *inventory_add_boot_entry(Inventory *inv) {
        if (!GREEDY_REALLOC(inv->boot_entries, inv->allocated_boot_entries, inv->n_boot_entries + 1))
                return NULL;
        InvBootEntry *e = &inv->boot_entries[inv->n_boot_entries++];
        *e = (InvBootEntry) { .partition = -1 };
        return e;
}

static bool is_file_in(const char *dir, const char *name) {
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;
        return p && stat(p, &st) >= 0 && S_ISREG(st.st_mode);
}

int inspect_path(const char *path, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        struct stat st;
        if (stat(path, &st) < 0) {
                int r = negative_errno();
                diag_error(d, NULL, "%s", r == -ENOENT ? "no such file or directory" : strerror(-r));
                return r;
        }
        if (S_ISDIR(st.st_mode)) {
                if (is_file_in(path, "repodata/repomd.xml"))
                        return inspect_repository(path, ret, d);
                if (is_file_in(path, "oci-layout"))
                        return inspect_oci_layout(path, o, ret, d);
                diag_error(d, NULL, "a directory, but neither a repository (no repodata/repomd.xml) nor an OCI "
                                    "image layout (no oci-layout)");
                return -EMEDIUMTYPE;
        }
        if (!S_ISREG(st.st_mode)) {
                diag_error(d, NULL, "not a regular file or directory");
                return -EMEDIUMTYPE;
        }

        /* The lead magic tells RPMs apart; everything else is for libarchive
         * to recognise (tar, cpio, possibly compressed). */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int r = negative_errno();
                diag_error(d, NULL, "cannot open: %s", strerror(-r));
                return r;
        }
        uint8_t magic[4];
        ssize_t n = pread(fd, magic, sizeof magic, 0);
        if (n < 0) {
                int r = negative_errno();
                diag_error(d, NULL, "cannot read: %s", strerror(-r));
                return r;
        }
        if (n == 0) {
                diag_error(d, NULL, "empty file: not an RPM package, a repository or an image");
                return -EMEDIUMTYPE;
        }
        static const uint8_t rpm_magic[4] = { 0xED, 0xAB, 0xEE, 0xDB };
        if (n == 4 && memcmp(magic, rpm_magic, 4) == 0)
                return inspect_rpm_file(path, ret, d);
        /* Disk images are recognised by their container's or file system's
         * structures, archives by libarchive; a disk is tried first (its
         * signatures are at fixed places), and what it does not recognise
         * leaves no diagnostics behind. */
        int r = inspect_disk_file(path, o, ret, d);
        if (r != -EMEDIUMTYPE)
                return r;
        return inspect_archive_file(path, o, ret, d);
}
