/* SPDX-License-Identifier: MIT */
#pragma once

/* What an RPM package, a dnf repository or an image holds, for `slipway
 * inspect`. One model (Inventory) is filled by one reader per kind of input:
 *
 *   from-rpm.c      an RPM package file: its main and signature headers
 *   from-repo.c     a repository directory: repomd.xml and primary
 *   from-archive.c  tar and cpio archives (plain, gzip, zstd), OCI image
 *                   layouts and oci-archive tarballs
 *   from-rpmdb.c    the packages of an image's rpmdb.sqlite
 *
 * and inventory.c tells the inputs apart by their content. The CLI renders
 * the model (verb-inspect.c); nothing here prints.
 *
 * All of this reads untrusted bytes: every length, count and offset is checked
 * before use, nested structures are followed to a fixed depth, decompression
 * stops at InspectOptions.max_bytes, and malformed input gives -EBADMSG with
 * an error in the Diagnostics that names what is wrong, never a crash. The
 * entries that work on memory (inspect_archive_memory(),
 * inspect_rpmdb_memory()) are the fuzz target's (fuzz/fuzz-inspect.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "basic/macro.h"
#include "rpm/package.h"

typedef enum InventoryKind {
        INVENTORY_RPM,
        INVENTORY_REPOSITORY,
        INVENTORY_IMAGE,
        INVENTORY_DISK,
        _INVENTORY_KIND_MAX,
        _INVENTORY_KIND_INVALID = -EINVAL,
} InventoryKind;

const char *inventory_kind_to_string(InventoryKind k) _pure_;

/* A package: of an RPM file (everything), of a repository's primary (NEVRA,
 * href, checksum), or installed in an image (NEVRA). Every string is
 * malloc'd and owned by the package; NULL when unknown. */
typedef struct InvPackage {
        char *name;
        bool has_epoch;
        uint32_t epoch;
        char *version;
        char *release;
        char *arch;
        /* RPM files */
        bool source;          /* a source package (lead type 1) */
        char *summary;
        char *license;
        bool is_signed;       /* has a header or legacy signature */
        char *signature_tag;  /* "RSAHEADER", "DSAHEADER", "PGP", "GPG" */
        char *key_id;         /* 16 upper-case hex digits; NULL: signed, issuer unknown */
        char **requires;      /* "name", "name >= evr" */
        size_t n_requires;
        char **provides;
        size_t n_provides;
        char **conflicts;
        size_t n_conflicts;
        char **obsoletes;
        size_t n_obsoletes;
        /* repositories */
        char *href;
        char *checksum_type;
        char *checksum;
} InvPackage;

/* "name-[epoch:]version-release.arch" (malloc'd; NULL when out of memory). */
char *inv_package_nevra(const InvPackage *p);

/* A file: of an RPM's file list or an image's archive. */
typedef struct InvFile {
        char *path;       /* absolute: "/", "/usr/bin/ls" */
        uint32_t mode;    /* st_mode: type and permission bits */
        bool has_ids;     /* images: numeric owner known */
        int64_t uid;
        int64_t gid;
        char *user;       /* NULL: not recorded (cpio) */
        char *group;
        uint64_t size;
        char *target;     /* symbolic links */
        char *hardlink;   /* images: a hard link to this earlier path */
        bool has_rdev;    /* images: character and block devices */
        uint32_t rdev_major;
        uint32_t rdev_minor;
        uint32_t rpm_flags; /* RPMFILE_* */
        char *caps;       /* RPMs: FILECAPS text, NULL if none */
        char **xattrs;    /* names of extended attributes, sorted */
        size_t n_xattrs;
        int layer;        /* OCI images: index into Inventory.layers; else -1 */
        int partition;    /* disks: the GPT partition number it is on, 0: the file system of the
                           * whole disk (an ISO 9660 image); else -1 */
} InvFile;

/* A file listed by repomd.xml. */
typedef struct InvMetadata {
        char *type;
        char *href;
        char *checksum_type;
        char *checksum;
} InvMetadata;

/* A layer of an OCI image. */
typedef struct InvLayer {
        char *digest;
        char *media_type;
        int64_t size;
        const char *compression; /* static: "none", "gzip", "zstd" */
} InvLayer;

/* A file system found on a disk or a partition. */
typedef struct InvFilesystem {
        const char *type; /* static: "ext4", "vfat", "iso9660"; NULL: none recognised */
        char *label;      /* NULL: none */
        char *uuid;       /* as blkid prints it; NULL: none */
        size_t n_files;
        char *error;      /* why it could not be listed (in full), NULL if it could */
} InvFilesystem;

/* A partition of a disk's GPT. */
typedef struct InvPartition {
        unsigned number; /* its entry's index, from 1 */
        uint8_t type_guid[16];
        uint8_t guid[16];
        const char *type_name; /* static: slipway's name for the type ("esp", "root", ...), NULL if unknown */
        const char *type_arch; /* static: the architecture of a "root" or "usr" type, else NULL */
        char *name;            /* the GPT partition name (UTF-8), "" if none */
        uint64_t first_lba, last_lba; /* inclusive, 512-byte sectors */
        uint64_t attributes;
        InvFilesystem fs;
} InvPartition;

/* A boot menu entry: a Boot Loader Specification entry of systemd-boot
 * (loader/entries/NAME.conf) or a GRUB menuentry. */
typedef struct InvBootEntry {
        const char *type; /* static: "bls", "grub" */
        int partition;    /* where its file is, as InvFile.partition */
        char *path;       /* the file, within its file system */
        char *title;
        char *version;    /* BLS only */
        char *linux;
        char **initrd;
        size_t n_initrd;
        char *options;    /* the kernel command line */
} InvBootEntry;

typedef struct Inventory {
        InventoryKind kind;
        const char *format;      /* static: "rpm", "repository", "oci-layout", "oci-archive", "tar", "cpio" */
        const char *compression; /* static: tar and cpio: "none", "gzip", "zstd"; NULL otherwise */
        bool repo_signed;        /* repositories: repodata/repomd.xml.asc exists */
        char *rpmdb;             /* images: the path of the rpm database read, NULL if none */
        uint8_t *rpmdb_data;     /* its bytes (for `inspect --sbom`: compose/sbom.h), owned */
        size_t rpmdb_size;
        InvPackage *packages;
        size_t n_packages, allocated_packages;
        InvFile *files;
        size_t n_files, allocated_files;
        InvMetadata *metadata;
        size_t n_metadata, allocated_metadata;
        InvLayer *layers;
        size_t n_layers, allocated_layers;
        /* disks */
        uint64_t disk_size;        /* the virtual size in bytes */
        bool has_gpt;
        bool gpt_from_backup;      /* the primary GPT was damaged */
        uint8_t disk_guid[16];     /* has_gpt */
        InvPartition *partitions;
        size_t n_partitions, allocated_partitions;
        InvFilesystem disk_fs;     /* a file system over the whole disk (an ISO 9660 image, or a disk
                                    * without a partition table); type NULL if none */
        int rpmdb_partition;       /* where rpmdb was read (as InvFile.partition) */
        InvBootEntry *boot_entries;
        size_t n_boot_entries, allocated_boot_entries;
        char *loader_path;         /* loader/loader.conf, if found */
        int loader_partition;
        char *loader_default;      /* its "default" and "timeout", NULL if not set */
        char *loader_timeout;
} Inventory;

Inventory *inventory_new(InventoryKind kind, const char *format);
Inventory *inventory_free(Inventory *inv);
DEFINE_TRIVIAL_CLEANUP_FUNC(Inventory *, inventory_free);

/* Appends a zeroed element (layer -1 for files) and returns it; NULL when out
 * of memory. The pointer is valid until the next append. */
InvPackage *inventory_add_package(Inventory *inv);
InvFile *inventory_add_file(Inventory *inv);
InvMetadata *inventory_add_metadata(Inventory *inv);
InvLayer *inventory_add_layer(Inventory *inv);
InvPartition *inventory_add_partition(Inventory *inv);
InvBootEntry *inventory_add_boot_entry(Inventory *inv);

typedef struct InspectOptions {
        /* The most bytes decompressed archives may expand to, in all (0: 1 TiB);
         * more: -EFBIG. Bounds the time a small compressed input can take. */
        uint64_t max_bytes;
        /* The most entries an image may list (0: 4 million); more: -EFBIG.
         * Bounds the memory a stream of empty entries can take. */
        size_t max_entries;
} InspectOptions;

/* Inspects path: an RPM file, a repository directory (repodata/repomd.xml),
 * an OCI image layout directory (oci-layout), an archive (tar or cpio,
 * plain or compressed with gzip or zstd; a tar holding an OCI layout is an
 * oci-archive), or a disk image (raw, VHD, VHDX, qcow2, ISO 9660; see
 * inspect_disk()). Detected by content; file names do not matter. Errors go to
 * d (without the path: the caller names it) and give -EBADMSG (malformed),
 * -EMEDIUMTYPE (not any of these), -EFBIG, or -errno of a system call;
 * warnings (an unreadable rpm database) go to d too and do not fail. */
int inspect_path(const char *path, const InspectOptions *o, Inventory **ret, Diagnostics *d);

/* The readers inspect_path() dispatches to. */
int inspect_rpm_file(const char *path, Inventory **ret, Diagnostics *d);
/* A package already read (rpm_package_read() or, fuzzing, rpm_package_parse()). */
int inspect_rpm_package(const RpmPackage *pkg, Inventory **ret, Diagnostics *d);
int inspect_repository(const char *dir, Inventory **ret, Diagnostics *d);
int inspect_oci_layout(const char *dir, const InspectOptions *o, Inventory **ret, Diagnostics *d);
int inspect_archive_file(const char *path, const InspectOptions *o, Inventory **ret, Diagnostics *d);
/* An archive (or oci-archive) in memory. */
int inspect_archive_memory(const void *data, size_t size, const InspectOptions *o, Inventory **ret, Diagnostics *d);

/* A disk image: the container (raw, fixed VHD, VHDX, qcow2: block.h), its
 * GPT, the files of every partition's file system (ext4, vfat, ISO 9660;
 * or of the whole disk's, for an ISO image or a disk without a partition
 * table), the boot entries on them (disk.h), and the packages of the rpm
 * database of the first file system that has one. A file system that cannot
 * be read is a warning (InvFilesystem.error), not a failure; a container or
 * GPT that cannot be read is -EBADMSG / -EOPNOTSUPP. -EMEDIUMTYPE: not a
 * disk image (no container signature, no GPT, no file system). The files of
 * all file systems together are bounded by o->max_entries, the contents
 * read (boot files, the rpm database) by o->max_bytes. */
int inspect_disk_file(const char *path, const InspectOptions *o, Inventory **ret, Diagnostics *d);
/* The same over bytes in memory (the fuzz target's). */
int inspect_disk_memory(const void *data, size_t size, const InspectOptions *o, Inventory **ret, Diagnostics *d);

/* Appends the packages of an rpmdb.sqlite (rpm 4.16+'s sqlite backend, table
 * Packages(hnum, blob)) to inv, in hnum order. data is the whole database
 * file; bytes 18 and 19 (the WAL flags) may be rewritten so that a database
 * left in WAL mode reads from memory. Packages whose header is malformed are
 * skipped with a warning; -EBADMSG: no readable Packages table. */
/* The rows of an rpmdb.sqlite's Packages table (rpm's sqlite backend), in
 * hnum order: fn gets each header blob as rpm stores it (no magic); a
 * negative return stops the walk with it. The database is untrusted: opened
 * from memory read-only, defensively, queries bounded. data may be changed
 * (the WAL flag bytes). Problems with the database are warnings in d and
 * -EBADMSG. */
typedef int (*RpmdbRowFn)(void *userdata, int64_t hnum, const void *blob, size_t size);
int rpmdb_read_memory(void *data, size_t size, RpmdbRowFn fn, void *userdata, Diagnostics *d);
int inspect_rpmdb_memory(void *data, size_t size, Inventory *inv, Diagnostics *d);

/* Where images keep the rpm database, first the one rpm 4.16+ uses. */
extern const char *const inspect_rpmdb_paths[2];
