/* SPDX-License-Identifier: MIT */
/* Hybrid bootable ISO 9660 images through libisofs (see iso.h and
 * docs/notes/iso.md). libisofs writes every on-disk structure: the ECMA-119
 * volume descriptors and directories, Rock Ridge and Joliet, the El Torito
 * boot catalog, the isohybrid MBR and the GPT. This file builds its tree from
 * memory, sets the options that make the result bootable and reproducible,
 * and copies the generated stream into place. */

/* The burn_source definition in libisofs.h, since libburn is not used. */
#define LIBISOFS_WITHOUT_LIBBURN 1

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libisofs.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "fs/iso9660.h"

#define ISO_BLOCK 2048u
/* Sectors of 512 bytes that the BIOS loads of isolinux.bin (mkisofs
 * -boot-load-size 4): isolinux loads the rest itself. */
#define BIOS_LOAD_SECTORS 4
/* ISOLINUX's boot info table ends at byte 64 of the image (mkisofs(8),
 * -boot-info-table). */
#define BOOT_INFO_TABLE_END 64
/* ECMA-119 9.1.5: the year of a directory record's date is one byte past
 * 1900, so 2155 is the last year every date in the image can hold. */
#define TIMESTAMP_MAX INT64_C(5869583999) /* 2155-12-31 23:59:59 UTC */
/* The isohybrid MBR template: its boot code ends at 432 (MBR_BOOT_ADDRESS),
 * the rest of the sector is libisofs'. */
#define BIOS_MBR_MIN 432u
#define BIOS_MBR_MAX 512u
#define SYSTEM_AREA_SIZE (16u * ISO_BLOCK)
/* The ESP's node: a file of the ISO 9660 volume, hidden from all three
 * directory trees, found through El Torito and the GPT only. */
#define EFI_IMAGE_PATH "/efiboot.img"
/* The isohybrid MBR's boot code ends at 432, where it expects the 512-byte
 * address of isolinux.bin as 8 bytes little-endian; libisofs' GRUB2 patch
 * (system area options bit14) writes that address plus 4 there. */
#define MBR_BOOT_ADDRESS 432u
#define MBR_GRUB2_ADDRESS_OFFSET 4u
/* El Torito 2.1: platform ids of the validation and section header entries. */
#define PLATFORM_X86 0x00
#define PLATFORM_EFI 0xef
/* A file system id for our streams, distinct from libisofs' own (1..5). */
#define MEM_STREAM_FS_ID 0x534c5057u

/* ---- libisofs setup ---- */

static int lib_init_result;

static void lib_init(void) {
        /* bit0: leave the locale alone; names are UTF-8 whatever LC_* say,
         * so the Joliet names do not depend on the environment. */
        int r = iso_init_with_flag(1);
        if (r < 0) {
                lib_init_result = -EIO;
                return;
        }
        static char charset[] = "UTF-8", never[] = "NEVER", prefix[] = "libisofs";
        if (iso_set_local_charset(charset, 0) <= 0) {
                lib_init_result = -EIO;
                return;
        }
        /* Library code does not print: no message is queued or printed;
         * failures come back as return values. */
        iso_set_msgs_severities(never, never, prefix);
}

static int lib_init_once(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        int r = pthread_once(&once, lib_init);
        if (r != 0)
                return -r;
        return lib_init_result;
}

static int errno_from_iso(int e) {
        switch (e) {
        case (int) ISO_OUT_OF_MEM:
                return -ENOMEM;
        case (int) ISO_NODE_NAME_NOT_UNIQUE:
                return -EEXIST;
        case (int) ISO_RR_NAME_TOO_LONG:
                return -ENAMETOOLONG;
        case (int) ISO_NULL_POINTER:
        case (int) ISO_WRONG_ARG_VALUE:
                return -EINVAL;
        default:
                return -EIO;
        }
}

static inline void iso_image_unrefp(IsoImage **p) {
        if (*p)
                iso_image_unref(*p);
}

static inline void iso_write_opts_freep(IsoWriteOpts **p) {
        if (*p)
                iso_write_opts_free(*p);
}

/* ---- file contents from memory, without a copy ----
 *
 * iso_memory_stream_new() would take (and free) a malloc'd copy; this
 * stream reads the caller's bytes in place. Each stream has its own id
 * (fs_id, dev_id, ino_id): libisofs stores the data of streams with equal
 * ids once, as one file's. */

typedef struct MemStream {
        const uint8_t *data;
        int (*read_file)(const void *data, uint64_t off, void *buf, size_t n); /* NULL: data is the bytes */
        size_t size, pos;
        ino_t ino;
} MemStream;

static int mem_stream_open(IsoStream *s) {
        MemStream *m = s->data;
        m->pos = 0;
        return ISO_SUCCESS;
}

static int mem_stream_close(IsoStream *s) {
        return ISO_SUCCESS;
}

static off_t mem_stream_get_size(IsoStream *s) {
        MemStream *m = s->data;
        return (off_t) m->size;
}

/* libisofs reads blocks of 2048 bytes, or a whole boot image at once. */
static int mem_stream_read(IsoStream *s, void *buf, size_t count) {
        MemStream *m = s->data;
        size_t n = MIN(count, m->size - m->pos);
        if (n > (size_t) INT_MAX)
                return (int) ISO_WRONG_ARG_VALUE;
        if (n > 0 && m->read_file) {
                int r = m->read_file(m->data, m->pos, buf, n);
                if (r < 0)
                        return (int) ISO_FILE_READ_ERROR;
        } else if (n > 0)
                memcpy(buf, m->data + m->pos, n);
        m->pos += n;
        return (int) n;
}

static int mem_stream_is_repeatable(IsoStream *s) {
        return 1;
}

static void mem_stream_get_id(IsoStream *s, unsigned int *fs_id, dev_t *dev_id, ino_t *ino_id) {
        MemStream *m = s->data;
        *fs_id = MEM_STREAM_FS_ID;
        *dev_id = 0;
        *ino_id = m->ino;
}

static void mem_stream_free(IsoStream *s) {
        free(s->data);
}

static int mem_stream_update_size(IsoStream *s) {
        return ISO_SUCCESS;
}

static IsoStreamIface mem_stream_class = {
        .version = 1,
        .type = { 'u', 's', 'e', 'r' },
        .open = mem_stream_open,
        .close = mem_stream_close,
        .get_size = mem_stream_get_size,
        .read = mem_stream_read,
        .is_repeatable = mem_stream_is_repeatable,
        .get_id = mem_stream_get_id,
        .free = mem_stream_free,
        .update_size = mem_stream_update_size,
};

/* A new stream with one reference (iso_stream_unref() frees the IsoStream
 * itself after the class's free()). */
static int mem_stream_new(const void *data, int (*read_file)(const void *, uint64_t, void *, size_t), size_t size,
                          ino_t ino, IsoStream **ret) {
        _cleanup_free_ MemStream *m = malloc(sizeof(MemStream));
        IsoStream *s = malloc(sizeof(IsoStream));
        if (!m || !s) {
                free(s);
                return -ENOMEM;
        }
        *m = (MemStream) { .data = data, .read_file = read_file, .size = size, .ino = ino };
        *s = (IsoStream) { .class = &mem_stream_class, .refcount = 1, .data = TAKE_PTR(m) };
        *ret = s;
        return 0;
}

/* ---- validation ---- */

static bool utf8_valid(const char *s, size_t n) {
        const uint8_t *p = (const uint8_t *) s;
        for (size_t i = 0; i < n;) {
                uint8_t c = p[i];
                size_t len;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i + k] & 0x3f);
                }
                /* Overlong forms, surrogates, beyond U+10FFFF. */
                static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
                if (cp < min[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                i += len;
        }
        return true;
}

/* An absolute path of non-empty components other than "." and "..", each
 * at most 255 bytes (the Rock Ridge name limit of libisofs). */
static int validate_path(const char *path) {
        if (!path || path[0] != '/' || path[1] == 0)
                return -EINVAL;
        const char *p = path + 1;
        for (;;) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t) (e - p);
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                if (n > 255)
                        return -ENAMETOOLONG;
                if (!utf8_valid(p, n))
                        return -EINVAL;
                if (*e == 0)
                        return 0;
                p = e + 1;
        }
}

/* ECMA-119 7.4.1: d-characters. */
static bool volume_id_valid(const char *id) {
        if (!id)
                return false;
        size_t n = strlen(id);
        if (n == 0 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
                        return false;
        return true;
}

static int file_ptr_cmp(const void *a, const void *b) {
        const Iso9660File *x = *(const Iso9660File *const *) a, *y = *(const Iso9660File *const *) b;
        return strcmp(x->path, y->path);
}

/* Checks spec and returns its files sorted by path (malloc'd array of
 * pointers into spec->files) and the BIOS boot file among them. */
static int validate_spec(const Iso9660Spec *s, const Iso9660File ***ret_sorted, const Iso9660File **ret_boot) {
        int r;
        if (!volume_id_valid(s->fs.label))
                return -EINVAL;
        if (s->fs.time < 0 || s->fs.time > TIMESTAMP_MAX)
                return -EINVAL;
        static const uint8_t zero16[16];
        if ((s->fs.root && strcmp(s->fs.root, "/") != 0) || s->fs.n_exclude > 0 || s->fs.size != 0 ||
            memcmp(s->fs.hash_seed, zero16, 16) != 0)
                return -EINVAL;
        if (s->n_files > 0 && !s->files)
                return -EINVAL;
        /* Sort weights are ints (file_weight()). */
        if (s->n_files > (size_t) INT_MAX - 2)
                return -E2BIG;
        if (s->bios_mbr && (!s->bios_boot_path || s->bios_mbr_size < BIOS_MBR_MIN || s->bios_mbr_size > BIOS_MBR_MAX))
                return -EINVAL;
        if (s->efi_image && s->efi_image_size == 0)
                return -EINVAL;
        if (s->bios_boot_path && (r = validate_path(s->bios_boot_path)) < 0)
                return r;

        _cleanup_free_ const Iso9660File **sorted = calloc(MAX(s->n_files, (size_t) 1), sizeof(Iso9660File *));
        if (!sorted)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_files; i++) {
                r = validate_path(s->files[i].path);
                if (r < 0)
                        return r;
                if (!s->files[i].data && s->files[i].size > 0)
                        return -EINVAL;
                sorted[i] = &s->files[i];
        }
        qsort(sorted, s->n_files, sizeof(Iso9660File *), file_ptr_cmp);

        const Iso9660File *boot = NULL;
        for (size_t i = 0; i < s->n_files; i++) {
                const char *p = sorted[i]->path;
                if (i > 0 && strcmp(sorted[i - 1]->path, p) == 0)
                        return -EINVAL;
                if (s->bios_boot_path && strcmp(p, s->bios_boot_path) == 0)
                        boot = sorted[i];
        }
        if (s->bios_boot_path && (!boot || boot->size < BOOT_INFO_TABLE_END))
                return -EINVAL;

        *ret_sorted = TAKE_PTR(sorted);
        *ret_boot = boot;
        return 0;
}

/* ---- the tree ---- */

static void node_set_attrs(IsoNode *n, mode_t mode, time_t t) {
        iso_node_set_permissions(n, mode);
        iso_node_set_uid(n, 0);
        iso_node_set_gid(n, 0);
        iso_node_set_mtime(n, t);
        iso_node_set_atime(n, t);
        iso_node_set_ctime(n, t);
}

/* The directory for path's parent, made as needed; -EINVAL if a file is in
 * the way. */
static int make_parents(IsoImage *image, const char *path, time_t t, IsoDir **ret_dir, const char **ret_name) {
        IsoDir *dir = iso_image_get_root(image);
        const char *p = path + 1;
        for (;;) {
                const char *e = strchr(p, '/');
                if (!e) {
                        *ret_dir = dir;
                        *ret_name = p;
                        return 0;
                }
                _cleanup_free_ char *name = strndup(p, (size_t) (e - p));
                if (!name)
                        return -ENOMEM;
                IsoNode *node = NULL;
                int r = iso_dir_get_node(dir, name, &node);
                if (r < 0)
                        return errno_from_iso(r);
                if (r == 0) {
                        IsoDir *sub = NULL;
                        r = iso_image_add_new_dir(image, dir, name, &sub);
                        if (r < 0)
                                return errno_from_iso(r);
                        node_set_attrs((IsoNode *) sub, 0555, t);
                        dir = sub;
                } else if (iso_node_get_type(node) == LIBISO_DIR)
                        dir = (IsoDir *) node;
                else
                        return -EINVAL;
                p = e + 1;
        }
}

/* Data is laid out by descending sort weight (iso_write_opts_set_sort_files):
 * after the ESP (placed by libisofs) and the catalog (weight 10^9), the BIOS
 * boot image, then the files in path order. Every weight is distinct, so the
 * order does not depend on how qsort() treats ties. */
static int file_weight(size_t n_files, size_t index, bool boot) {
        return boot ? (int) n_files + 1 : (int) (n_files - index);
}

static int add_file(IsoImage *image, const Iso9660Spec *spec, const Iso9660File *f, ino_t ino, int weight, time_t t) {
        IsoDir *dir;
        const char *name;
        int r = make_parents(image, f->path, t, &dir, &name);
        if (r < 0)
                return r;
        IsoNode *old = NULL;
        r = iso_dir_get_node(dir, name, &old);
        if (r < 0)
                return errno_from_iso(r);
        if (r > 0) /* a directory some earlier (sorted) path made */
                return -EINVAL;

        IsoStream *stream = NULL;
        r = mem_stream_new(f->data, spec->read_file, f->size, ino, &stream);
        if (r < 0)
                return r;
        /* The new node takes over our reference; a failure leaves it with
         * us (libisofs fails before it makes the node). */
        IsoFile *file = NULL;
        r = iso_image_add_new_file(image, dir, name, stream, &file);
        if (r < 0) {
                iso_stream_unref(stream);
                return errno_from_iso(r);
        }
        node_set_attrs((IsoNode *) file, 0444, t);
        iso_node_set_sort_weight((IsoNode *) file, weight);
        return 0;
}

/* The ESP as a hidden file: its data is written (LIBISO_HIDE_BUT_WRITE)
 * but no directory lists it. */
static int add_efi_image(IsoImage *image, const Iso9660Spec *s, ino_t ino, time_t t) {
        IsoNode *node = NULL;
        int r = iso_tree_path_to_node(image, EFI_IMAGE_PATH, &node);
        if (r < 0)
                return errno_from_iso(r);
        if (r > 0)
                return -EEXIST;
        IsoStream *stream = NULL;
        r = mem_stream_new(s->efi_image, s->read_file, s->efi_image_size, ino, &stream);
        if (r < 0)
                return r;
        IsoFile *file = NULL;
        r = iso_image_add_new_file(image, iso_image_get_root(image), &EFI_IMAGE_PATH[1], stream, &file);
        if (r < 0) {
                iso_stream_unref(stream);
                return errno_from_iso(r);
        }
        node_set_attrs((IsoNode *) file, 0444, t);
        iso_node_set_hidden((IsoNode *) file, LIBISO_HIDE_ON_RR | LIBISO_HIDE_ON_JOLIET | LIBISO_HIDE_ON_1999 |
                                                      LIBISO_HIDE_ON_HFSPLUS | LIBISO_HIDE_ON_FAT |
                                                      LIBISO_HIDE_BUT_WRITE);
        return 0;
}

/* The boot catalog: "boot.cat" beside the BIOS boot image (as ISOLINUX
 * images usually have it), or in the root. */
static char *catalog_path(const char *bios_boot_path) {
        if (!bios_boot_path)
                return strdup("/boot.cat");
        const char *slash = strrchr(bios_boot_path, '/');
        size_t n = (size_t) (slash - bios_boot_path);
        char *p = malloc(n + sizeof("/boot.cat"));
        if (!p)
                return NULL;
        memcpy(p, bios_boot_path, n);
        strcpy(p + n, "/boot.cat");
        return p;
}

static int add_boot(IsoImage *image, const Iso9660Spec *s, time_t t) {
        if (!s->bios_boot_path && !s->efi_image)
                return 0;
        _cleanup_free_ char *cat = catalog_path(s->bios_boot_path);
        if (!cat)
                return -ENOMEM;
        IsoNode *node = NULL;
        int r = iso_tree_path_to_node(image, cat, &node);
        if (r < 0)
                return errno_from_iso(r);
        if (r > 0)
                return -EEXIST;

        ElToritoBootImage *boot = NULL;
        bool have_catalog = false;
        if (s->bios_boot_path) {
                r = iso_image_set_boot_image(image, s->bios_boot_path, ELTORITO_NO_EMUL, cat, &boot);
                if (r < 0)
                        return errno_from_iso(r);
                have_catalog = true;
                el_torito_set_boot_platform_id(boot, PLATFORM_X86);
                el_torito_set_load_size(boot, BIOS_LOAD_SECTORS);
                /* bit0: patch the boot info table (mkisofs -boot-info-table).
                 * The isohybrid MBR comes from the system area instead
                 * (iso_write_opts_set_system_area() options bit1). */
                r = el_torito_set_isolinux_options(boot, 1, 0);
                if (r < 0)
                        return errno_from_iso(r);
        }
        if (s->efi_image) {
                /* Stored once, inside the ISO 9660 volume, read by the
                 * firmware through El Torito from a CD and through the GPT
                 * (iso_write_opts_set_efi_bootp()) from a disk. The load size
                 * is the whole image in 512-byte sectors, or 0 above 32 MiB,
                 * which EDK II takes as "up to the end of the volume". */
                if (have_catalog)
                        r = iso_image_add_boot_image(image, EFI_IMAGE_PATH, ELTORITO_NO_EMUL, 0, &boot);
                else
                        r = iso_image_set_boot_image(image, EFI_IMAGE_PATH, ELTORITO_NO_EMUL, cat, &boot);
                if (r < 0)
                        return errno_from_iso(r);
                el_torito_set_boot_platform_id(boot, PLATFORM_EFI);
                el_torito_set_full_load(boot, 1);
        }
        /* libisofs sets the catalog's times again when writing; these are
         * for the tree until then. */
        r = iso_tree_path_to_node(image, cat, &node);
        if (r > 0)
                node_set_attrs(node, 0444, t);
        return 0;
}

/* ---- options ---- */

/* ECMA-119 8.4.26.1: "YYYYMMDDhhmmsscc", read by libisofs as a UTC time. */
static int format_dec_datetime(int64_t ts, char out[17]) {
        time_t t = (time_t) ts;
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        if (strftime(out, 17, "%Y%m%d%H%M%S", &tm) != 14)
                return -EINVAL;
        out[14] = out[15] = '0';
        out[16] = 0;
        return 0;
}

static int set_options(IsoWriteOpts *o, const Iso9660Spec *s, uint8_t *system_area) {
        time_t t = (time_t) s->fs.time;
        int r;

        /* Level 3: files of 4 GiB and more as several extents. */
        if ((r = iso_write_opts_set_iso_level(o, 3)) < 0 || (r = iso_write_opts_set_rockridge(o, 1)) < 0 ||
            (r = iso_write_opts_set_joliet(o, 1)) < 0 || (r = iso_write_opts_set_joliet_long_names(o, 1)) < 0 ||
            (r = iso_write_opts_set_iso1999(o, 0)) < 0 || (r = iso_write_opts_set_hardlinks(o, 0)) < 0 ||
            (r = iso_write_opts_set_aaip(o, 0)) < 0 || (r = iso_write_opts_set_record_md5(o, 0, 0)) < 0)
                return errno_from_iso(r);

        /* Rock Ridge as of RRIP 1.10 ("RRIP_1991A"): its PX entries have no
         * file serial number. libisofs numbers the nodes it has no id for
         * (directories, the boot catalog) in the order of their addresses in
         * memory (iso_node_cmp_flag()), which differs from one image to the
         * next in one process; without the numbers nothing depends on it.
         * Readers (Linux, xorriso) then make inode numbers up themselves. */
        if ((r = iso_write_opts_set_rrip_version_1_10(o, 1)) < 0 || (r = iso_write_opts_set_rrip_1_10_px_ino(o, 0)) < 0)
                return errno_from_iso(r);

        /* Modes and owners as set on the nodes. */
        if ((r = iso_write_opts_set_replace_mode(o, 0, 0, 0, 0)) < 0)
                return errno_from_iso(r);

        /* Determinism: every Rock Ridge time and every directory record
         * (ECMA-119 9.1.5 and Joliet, bit0 and bit1) take the time stamp, in
         * UTC. The volume descriptors' creation and modification dates
         * (ECMA-119 8.4.26, 8.4.27) come from the "vol_uuid" text, which
         * libisofs copies verbatim with a zero (UTC) offset; it also derives
         * the isohybrid MBR's disk signature from that text rather than from
         * the clock. */
        char uuid[17];
        r = format_dec_datetime(s->fs.time, uuid);
        if (r < 0)
                return r;
        if ((r = iso_write_opts_set_replace_timestamps(o, 2)) < 0 ||
            (r = iso_write_opts_set_default_timestamp(o, t)) < 0 ||
            (r = iso_write_opts_set_dir_rec_mtime(o, 1 | 2)) < 0 || (r = iso_write_opts_set_always_gmt(o, 1)) < 0 ||
            (r = iso_write_opts_set_pvd_times(o, t, t, 0, t, uuid)) < 0 ||
            (r = iso_write_opts_set_sort_files(o, 1)) < 0)
                return errno_from_iso(r);

        /* The caller's GUID instead of one from /dev/urandom. */
        uint8_t guid[16];
        memcpy(guid, s->fs.uuid, sizeof guid);
        if ((r = iso_write_opts_set_gpt_guid(o, guid, 1)) < 0)
                return errno_from_iso(r);

        if (s->bios_mbr && !s->efi_image) {
                /* options bit1: isohybrid, i.e. libisofs writes the El Torito
                 * image's 512-byte address at byte 432 of the template, the
                 * disk signature at 440 and a partition table of one bootable
                 * partition of type 0x17 from block 0 over the image, which it
                 * pads to a cylinder (bits 8-9 = 0: automatic). */
                memcpy(system_area, s->bios_mbr, s->bios_mbr_size);
                if ((r = iso_write_opts_set_system_area(o, (char *) system_area, 1 << 1, 0)) < 0)
                        return errno_from_iso(r);
        } else if (s->bios_mbr) {
                /* The isohybrid MBR's partition table would overlap the GPT's
                 * ESP (libisofs refuses the combination), so the template is
                 * given as plain system area data (type 0, MBR) and only its
                 * boot code is kept: libisofs writes the protective MBR's
                 * partition table and the GPT over it. bit14 writes the boot
                 * image's address, plus 4 as GRUB2 wants it; write_stream()
                 * takes the 4 off again. Bits 8-9 = 2: no cylinder padding. */
                memcpy(system_area, s->bios_mbr, s->bios_mbr_size);
                memset(system_area + MBR_BOOT_ADDRESS, 0, 512 - MBR_BOOT_ADDRESS);
                if ((r = iso_write_opts_set_system_area(o, (char *) system_area, 1 << 14 | 2 << 8, 0)) < 0)
                        return errno_from_iso(r);
        }
        if (s->efi_image) {
                /* The El Torito EFI image is also a GPT partition (type EFI
                 * System), with protective MBR and GPT entries for the rest
                 * of the ISO ("Gap0", "Gap1"). libisofs places it first in
                 * the volume, at block 32. */
                static char efi_boot_image[] = "--efi-boot-image";
                if ((r = iso_write_opts_set_efi_bootp(o, efi_boot_image, 0)) < 0)
                        return errno_from_iso(r);
        }
        return 0;
}

/* ---- output ---- */

static void burn_source_release(struct burn_source **p) {
        if (!*p)
                return;
        (*p)->free_data(*p);
        free(*p);
        *p = NULL;
}

/* Turns libisofs' GRUB2 address at byte 432 into the isohybrid one. */
static int fix_mbr_boot_address(uint8_t *mbr) {
        uint64_t a = 0;
        for (unsigned i = 8; i-- > 0;)
                a = a << 8 | mbr[MBR_BOOT_ADDRESS + i];
        if (a < MBR_GRUB2_ADDRESS_OFFSET)
                return -EIO;
        a -= MBR_GRUB2_ADDRESS_OFFSET;
        for (unsigned i = 0; i < 8; i++)
                mbr[MBR_BOOT_ADDRESS + i] = (uint8_t) (a >> (8 * i));
        return 0;
}

/* Runs the generator and copies its stream to fd. */
static int write_stream(IsoImage *image, IsoWriteOpts *o, bool fix_mbr, int fd) {
        _cleanup_(burn_source_release) struct burn_source *bs = NULL;
        int r = iso_image_create_burn_source(image, o, &bs);
        if (r < 0)
                return errno_from_iso(r);
        off_t total = bs->get_size(bs);
        if (total <= 0 || total % ISO_BLOCK != 0) {
                bs->cancel(bs);
                return -EIO;
        }
        enum { CHUNK = 64 * 1024 };
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        if (!buf) {
                bs->cancel(bs);
                return -ENOMEM;
        }
        /* The ring buffer drops a partly filled read at the end of the
         * stream, so read exactly what is left. */
        for (off_t done = 0; done < total;) {
                int n = (int) MIN((off_t) CHUNK, total - done);
                if (bs->read_xt(bs, buf, n) != n) {
                        bs->cancel(bs);
                        return -EIO;
                }
                if (done == 0 && fix_mbr && (r = fix_mbr_boot_address(buf)) < 0) {
                        bs->cancel(bs);
                        return r;
                }
                r = loop_write(fd, buf, (size_t) n);
                if (r < 0) {
                        bs->cancel(bs);
                        return r;
                }
                done += n;
        }
        /* The end of the stream, and whether the generator ended well
         * (2 "ending", 6 "ended"; 3 and 7 are its failures). */
        if (bs->read_xt(bs, buf, ISO_BLOCK) != 0) {
                bs->cancel(bs);
                return -EIO;
        }
        int st = iso_ring_buffer_get_status(bs, NULL, NULL);
        if (st != 2 && st != 6)
                return -EIO;
        return 0;
}

int iso9660_write(const Iso9660Spec *spec, const char *path) {
        if (!spec || !path)
                return -EINVAL;
        _cleanup_free_ const Iso9660File **sorted = NULL;
        const Iso9660File *boot = NULL;
        int r = validate_spec(spec, &sorted, &boot);
        if (r < 0)
                return r;
        r = lib_init_once();
        if (r < 0)
                return r;

        time_t t = (time_t) spec->fs.time;
        _cleanup_(iso_image_unrefp) IsoImage *image = NULL;
        r = iso_image_new(spec->fs.label, &image);
        if (r < 0)
                return errno_from_iso(r);
        static const char app_id[] = "SLIPWAY";
        iso_image_set_application_id(image, app_id);
        node_set_attrs((IsoNode *) iso_image_get_root(image), 0555, t);

        for (size_t i = 0; i < spec->n_files; i++) {
                r = add_file(image, spec, sorted[i], (ino_t) i + 1, file_weight(spec->n_files, i, sorted[i] == boot), t);
                if (r < 0)
                        return r;
        }
        if (spec->efi_image) {
                r = add_efi_image(image, spec, (ino_t) spec->n_files + 1, t);
                if (r < 0)
                        return r;
        }
        r = add_boot(image, spec, t);
        if (r < 0)
                return r;

        _cleanup_(iso_write_opts_freep) IsoWriteOpts *opts = NULL;
        r = iso_write_opts_new(&opts, 0);
        if (r < 0)
                return errno_from_iso(r);
        _cleanup_free_ uint8_t *system_area = calloc(1, SYSTEM_AREA_SIZE);
        if (!system_area)
                return -ENOMEM;
        r = set_options(opts, spec, system_area);
        if (r < 0)
                return r;

        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        r = write_stream(image, opts, spec->bios_mbr && spec->efi_image, fd);
        /* Not fsync'd: see docs/images.md on large outputs. */
        return tmpfile_commit_unsynced(r, fd, tmp, path, 0644);
}
