/* SPDX-License-Identifier: MIT */
/* Unit tests of src/disk/iso.c: hybrid ISO 9660 images read back by xorriso
 * and osirrox (El Torito report, Rock Ridge and Joliet names, extracted
 * bytes), sfdisk, sgdisk, fdisk and mtools (the GPT and the ESP inside it),
 * and by hand (volume descriptor dates, the El Torito catalog, the boot info
 * table, the isohybrid MBR). Determinism (another clock, time zone and input
 * order give the same bytes), refusals, and boots under QEMU (TCG): SeaBIOS
 * and OVMF from a CD-ROM and from a disk. Missing tools are reported and
 * their checks skipped. KEEP=1 keeps the directory with the images and the
 * serial logs. */

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "fs/iso9660.h"
#include "../unit.h"

#define TIMESTAMP INT64_C(1700000000) /* 2023-11-14 22:13:20 UTC */
#define ISO_BLOCK 2048u
#define ESP_GUID "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

typedef uint16_t le16_t;
typedef uint32_t le32_t;

/* ---- on-disk structures read back by hand ---- */

/* ECMA-119 (4th edition) 8.4: byte offsets in the Primary Volume Descriptor
 * at block 16. */
#define PVD_VOLUME_ID 40     /* 8.4.6, 32 d-characters padded with spaces */
#define PVD_CREATION 813     /* 8.4.26, 17-byte dec-datetime (8.4.26.1) */
#define PVD_MODIFICATION 830 /* 8.4.27 */
#define PVD_EXPIRATION 847   /* 8.4.28 */
#define PVD_EFFECTIVE 864    /* 8.4.29 */

/* El Torito Bootable CD-ROM Format Specification 1.0, 2.0 "Boot Record
 * Volume Descriptor", at block 17. */
struct eltorito_brvd {
        uint8_t indicator; /* 0 */
        char iso_id[5];    /* "CD001" */
        uint8_t version;   /* 1 */
        char system_id[32]; /* "EL TORITO SPECIFICATION" */
        uint8_t unused[32];
        le32_t catalog_lba;
} _packed_;
static_assert(sizeof(struct eltorito_brvd) == 0x4b, "El Torito boot record");

/* El Torito 2.1 "Validation Entry". */
struct eltorito_validation {
        uint8_t header_id; /* 1 */
        uint8_t platform_id;
        le16_t reserved;
        char id[24];
        le16_t checksum; /* the entry's 16-bit words sum to 0 */
        uint8_t key55, keyaa;
} _packed_;
static_assert(sizeof(struct eltorito_validation) == 32, "El Torito validation entry");

/* El Torito 2.2 "Initial/Default Entry" and 2.4 "Section Entry". */
struct eltorito_entry {
        uint8_t boot_indicator; /* 0x88 bootable */
        uint8_t media_type;     /* 0 no emulation */
        le16_t load_segment;
        uint8_t system_type;
        uint8_t unused;
        le16_t sector_count; /* 512-byte sectors */
        le32_t load_rba;     /* 2048-byte blocks */
        uint8_t rest[20];
} _packed_;
static_assert(sizeof(struct eltorito_entry) == 32, "El Torito entry");

/* El Torito 2.3 "Section Header Entry". */
struct eltorito_section_header {
        uint8_t indicator; /* 0x90 more headers follow, 0x91 final */
        uint8_t platform_id;
        le16_t n_entries;
        char id[28];
} _packed_;
static_assert(sizeof(struct eltorito_section_header) == 32, "El Torito section header");

/* The boot info table at byte 8 of isolinux.bin (mkisofs(8),
 * -boot-info-table). */
struct boot_info_table {
        le32_t pvd_lba;
        le32_t file_lba;
        le32_t file_length;
        le32_t checksum; /* sum of the file's 32-bit LE words from byte 64 */
        uint8_t reserved[40];
} _packed_;
static_assert(sizeof(struct boot_info_table) == 56, "boot info table");

typedef struct BootEntry {
        bool present;
        uint8_t platform;
        uint16_t sectors;
        uint32_t lba;
} BootEntry;

/* The default entry and the first section's entry of the catalog. */
static bool read_eltorito(const uint8_t *iso, size_t len, BootEntry *ret_default, BootEntry *ret_section) {
        *ret_default = *ret_section = (BootEntry) {};
        if (len < 18 * ISO_BLOCK)
                return false;
        const struct eltorito_brvd *b = (const void *) (iso + 17 * ISO_BLOCK);
        if (b->indicator != 0 || memcmp(b->iso_id, "CD001", 5) != 0 ||
            strncmp(b->system_id, "EL TORITO SPECIFICATION", 23) != 0)
                return false;
        uint64_t cat = (uint64_t) le32toh(b->catalog_lba) * ISO_BLOCK;
        if (cat + ISO_BLOCK > len)
                return false;
        const struct eltorito_validation *v = (const void *) (iso + cat);
        uint16_t sum = 0;
        for (size_t i = 0; i < 32; i += 2)
                sum += (uint16_t) (iso[cat + i] | iso[cat + i + 1] << 8);
        if (v->header_id != 1 || v->key55 != 0x55 || v->keyaa != 0xaa || sum != 0)
                return false;
        const struct eltorito_entry *d = (const void *) (iso + cat + 32);
        *ret_default = (BootEntry) { d->boot_indicator == 0x88, v->platform_id, le16toh(d->sector_count),
                                     le32toh(d->load_rba) };
        const struct eltorito_section_header *h = (const void *) (iso + cat + 64);
        if ((h->indicator == 0x90 || h->indicator == 0x91) && le16toh(h->n_entries) >= 1) {
                const struct eltorito_entry *e = (const void *) (iso + cat + 96);
                *ret_section = (BootEntry) { e->boot_indicator == 0x88, h->platform_id, le16toh(e->sector_count),
                                             le32toh(e->load_rba) };
        }
        return true;
}

/* ---- helpers ---- */

static char tmpdir[] = "/tmp/test-iso.XXXXXX";

static char *path_in(const char *name) {
        char *p = path_join(tmpdir, name);
        if (!p)
                abort();
        return p;
}

_printf_(1, 2) static int run(const char *fmt, ...) {
        char cmd[8192];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        int s = system(cmd);
        return WIFEXITED(s) ? WEXITSTATUS(s) : 128;
}

/* The standard output of a command (stderr too), NUL-terminated. */
_printf_(1, 2) static char *output(const char *fmt, ...) {
        char cmd[8192];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        char *out = NULL;
        (void) unit_run(cmd, &out, NULL);
        return out ? out : strdup("");
}

static bool have(const char *tool) {
        return run("command -v %s >/dev/null 2>&1", tool) == 0;
}

static void *read_or_die(const char *path, size_t *ret_size) {
        char *d = NULL;
        int r = read_full_file(path, &d, ret_size);
        if (r < 0) {
                fprintf(stderr, "cannot read '%s': %s\n", path, strerror(-r));
                abort();
        }
        return d;
}

static bool file_is(const char *path, const void *data, size_t size) {
        void *p = NULL;
        size_t n = 0;
        if (map_file(path, &p, &n) < 0)
                return false;
        bool eq = n == size && (n == 0 || memcmp(p, data, n) == 0);
        if (p)
                munmap(p, n);
        return eq;
}

static bool dir_has_tmp(void) {
        DIR *d = opendir(tmpdir);
        bool found = false;
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strstr(de->d_name, ".tmp."))
                        found = true;
        if (d)
                closedir(d);
        return found;
}

static uint8_t *pattern(size_t n, unsigned seed) {
        uint8_t *b = malloc(MAX(n, (size_t) 1));
        if (!b)
                abort();
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t) ((i * 31 + seed) ^ (i >> 11) ^ (i >> 7));
        return b;
}

/* ---- refusals ---- */

static void expect_refused(const Iso9660Spec *s, int err, const char *what) {
        _cleanup_free_ char *p = path_in("refused.iso");
        int r = iso9660_write(s, p);
        if (r != err)
                fprintf(stderr, "%s: %d (%s), expected %d\n", what, r, strerror(-r), -err);
        CHECK(r == err);
        CHECK(access(p, F_OK) < 0);
        CHECK(!dir_has_tmp());
}

static void test_errors(void) {
        uint8_t boot[2048] = { 0 }, mbr[512] = { 0 }, esp[4096] = { 0 };
        Iso9660File ok[] = {
                { "/isolinux/isolinux.bin", boot, sizeof boot },
                { "/README", "hello\n", 6 },
        };
        const Iso9660Spec good = { .fs.label = "TEST", .fs.time = TIMESTAMP, .files = ok, .n_files = 2,
                                   .bios_boot_path = "/isolinux/isolinux.bin", .bios_mbr = mbr,
                                   .bios_mbr_size = 432, .efi_image = esp, .efi_image_size = sizeof esp };
        Iso9660Spec s;

        _cleanup_free_ char *p_ok = path_in("ok.iso");
        CHECK(iso9660_write(&good, p_ok) == 0);
        CHECK(iso9660_write(NULL, "/tmp/x.iso") == -EINVAL);
        CHECK(iso9660_write(&good, NULL) == -EINVAL);

        static const char *const bad_paths[] = {
                "README", "", "/", "//a", "/a//b", "/a/", "/a/./b", "/./a", "/a/..", "/../a", "/a\xff", "/\xc0\xaf",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_paths); i++) {
                Iso9660File f[] = { ok[0], { bad_paths[i], "x", 1 } };
                s = good;
                s.files = f;
                expect_refused(&s, -EINVAL, bad_paths[i]);
        }
        Iso9660File nullpath[] = { ok[0], { NULL, "x", 1 } };
        s = good;
        s.files = nullpath;
        expect_refused(&s, -EINVAL, "NULL path");

        char longname[300] = "/";
        memset(longname + 1, 'a', 256);
        Iso9660File toolong[] = { ok[0], { longname, "x", 1 } };
        s = good;
        s.files = toolong;
        expect_refused(&s, -ENAMETOOLONG, "256-byte name");

        Iso9660File dup[] = { ok[0], ok[1], { "/README", "y", 1 } };
        s = good;
        s.files = dup;
        s.n_files = 3;
        expect_refused(&s, -EINVAL, "duplicate");

        Iso9660File clash[] = { ok[0], { "/a", "x", 1 }, { "/a/b", "y", 1 } };
        s = good;
        s.files = clash;
        s.n_files = 3;
        expect_refused(&s, -EINVAL, "file and directory");

        Iso9660File nodata[] = { ok[0], { "/x", NULL, 5 } };
        s = good;
        s.files = nodata;
        expect_refused(&s, -EINVAL, "NULL data");

        s = good;
        s.files = NULL;
        expect_refused(&s, -EINVAL, "NULL files");

        static const char *const bad_ids[] = {
                NULL, "", "lower", "WITH SPACE", "A-B", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", /* 33 */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_ids); i++) {
                s = good;
                s.fs.label = bad_ids[i];
                expect_refused(&s, -EINVAL, "volume id");
        }

        s = good;
        s.fs.time = -1;
        expect_refused(&s, -EINVAL, "negative time");
        s.fs.time = INT64_C(5869584000); /* 2156-01-01 */
        expect_refused(&s, -EINVAL, "time past 2155");

        s = good;
        s.bios_boot_path = "/isolinux/missing.bin";
        expect_refused(&s, -EINVAL, "boot path not among files");
        s.bios_boot_path = "isolinux/isolinux.bin";
        expect_refused(&s, -EINVAL, "relative boot path");
        s.bios_boot_path = "/isolinux";
        expect_refused(&s, -EINVAL, "boot path a directory");

        Iso9660File tiny[] = { { "/isolinux/isolinux.bin", boot, 63 } };
        s = good;
        s.files = tiny;
        s.n_files = 1;
        expect_refused(&s, -EINVAL, "boot image without room for the boot info table");

        s = good;
        s.bios_boot_path = NULL;
        expect_refused(&s, -EINVAL, "MBR without boot image");
        s = good;
        s.bios_mbr_size = 431;
        expect_refused(&s, -EINVAL, "MBR of 431 bytes");
        s.bios_mbr_size = 513;
        expect_refused(&s, -EINVAL, "MBR of 513 bytes");

        s = good;
        s.efi_image_size = 0;
        expect_refused(&s, -EINVAL, "empty ESP");

        Iso9660File catclash[] = { ok[0], { "/isolinux/boot.cat", "x", 1 } };
        s = good;
        s.files = catclash;
        expect_refused(&s, -EEXIST, "file at the boot catalog's path");
        Iso9660File espclash[] = { ok[0], { "/efiboot.img", "x", 1 } };
        s = good;
        s.files = espclash;
        expect_refused(&s, -EEXIST, "file at the ESP's path");
        s.efi_image = NULL;
        CHECK(iso9660_write(&s, p_ok) == 0); /* fine without an ESP */
        s = good;
        s.bios_boot_path = NULL;
        s.bios_mbr = NULL;
        Iso9660File catclash2[] = { { "/boot.cat", "x", 1 } };
        s.files = catclash2;
        s.n_files = 1;
        expect_refused(&s, -EEXIST, "file at /boot.cat");

        /* A directory that does not exist: tmpfile_open()'s error. */
        CHECK(iso9660_write(&good, "/nonexistent-dir/x.iso") == -ENOENT);

        /* File system options ISO 9660 has no use for are refused, not ignored. */
        s = good;
        s.fs.size = 1 << 20;
        expect_refused(&s, -EINVAL, "a size");
        s = good;
        s.fs.n_exclude = 1;
        expect_refused(&s, -EINVAL, "excluded subtrees");
        s = good;
        s.fs.hash_seed[3] = 1;
        expect_refused(&s, -EINVAL, "a hash seed");

        /* A failure leaves an older file as it was. */
        _cleanup_free_ char *p = path_in("old.iso");
        CHECK(write_file_atomic(p, "old", 3, 0644) == 0);
        s = good;
        s.fs.label = "bad id";
        CHECK(iso9660_write(&s, p) == -EINVAL);
        CHECK(file_is(p, "old", 3));
        CHECK(!dir_has_tmp());
        /* And a success replaces it. */
        CHECK(iso9660_write(&good, p) == 0);
        CHECK(!file_is(p, "old", 3));
        CHECK(!dir_has_tmp());
        unlink(p);
        unlink(p_ok);
}

/* ---- contents: Rock Ridge, Joliet, ECMA-119 names, extraction ---- */

#define LONG_NAME                                                                    \
        "a-file-name-of-well-over-one-hundred-characters-which-joliet-cuts-short-"   \
        "but-rock-ridge-keeps-whole-0123456789.data"

typedef struct Content {
        const char *path;
        size_t size;
} Content;

static const Content contents[] = {
        { "/README.txt", 41 },
        { "/boot/vmlinuz", 3 * 1024 * 1024 + 5 },
        { "/boot/initrd", 2048 },
        { "/empty", 0 },
        { "/Dir With Spaces/Mixed Case.Name.TXT", 100 },
        { "/unicode/Gr\xc3\xbc\xc3\x9f" "e-\xe2\x82\xac.txt", 7 },
        { "/long/" LONG_NAME, 4097 },
        { "/a/b/c/d/e/f/g/h/i/j/deep.txt", 12 },
        { "/a/sibling", 1 },
        { "/zz", 2049 },
};

static Iso9660File *make_files(uint8_t **bufs) {
        Iso9660File *f = calloc(ELEMENTSOF(contents), sizeof(Iso9660File));
        if (!f)
                abort();
        for (size_t i = 0; i < ELEMENTSOF(contents); i++) {
                bufs[i] = pattern(contents[i].size, (unsigned) i);
                f[i] = (Iso9660File) { contents[i].path, bufs[i], contents[i].size };
        }
        return f;
}

/* Reads the contents image back with osirrox and xorriso. */
static void check_readback(const char *iso, uint8_t *const *bufs) {
        /* Rock Ridge: every name, byte for byte, and the modes. */
        _cleanup_free_ char *out = path_in("extracted");
        CHECK(run("osirrox -abort_on FAILURE -indev '%s' -extract / '%s' >/dev/null 2>&1", iso, out) == 0);
        for (size_t i = 0; i < ELEMENTSOF(contents); i++) {
                _cleanup_free_ char *p = path_join(out, contents[i].path + 1);
                bool same = file_is(p, bufs[i], contents[i].size);
                if (!same)
                        fprintf(stderr, "extracted '%s' differs\n", contents[i].path);
                CHECK(same);
                struct stat st;
                CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0444 && st.st_mtime == TIMESTAMP);
        }
        struct stat st;
        _cleanup_free_ char *deepdir = path_join(out, "a/b/c/d/e/f/g/h/i/j");
        CHECK(stat(deepdir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0555 &&
              st.st_mtime == TIMESTAMP);
        CHECK(run("chmod -R u+w '%s' && rm -rf '%s'", out, out) == 0);

        /* Joliet: the names as given (UCS-2), the long one cut to 103. */
        _cleanup_free_ char *joliet = output("xorriso -abort_on FAILURE -read_fs norock -indev '%s' "
                                             "-find / -type f -exec lsdl 2>&1", iso);
        CHECK(strstr(joliet, "'/Dir With Spaces/Mixed Case.Name.TXT'"));
        CHECK(strstr(joliet, "'/a/b/c/d/e/f/g/h/i/j/deep.txt'"));
        CHECK(strstr(joliet, "'/long/" LONG_NAME "'") == NULL);
        CHECK(strstr(joliet, "'/long/a-file-name-of-well-over"));
        CHECK(strstr(joliet, "'/README.txt'"));
        CHECK(strstr(joliet, "/unicode/Gr"));

        /* ECMA-119 names: upper case d-characters with version numbers. */
        _cleanup_free_ char *ecma = output("xorriso -abort_on FAILURE -read_fs ecma119 -ecma119_map unmapped "
                                           "-indev '%s' -find / -type f 2>&1", iso);
        CHECK(strstr(ecma, "'/README.TXT;1'"));
        CHECK(strstr(ecma, "'/BOOT/VMLINUZ.;1'"));
        CHECK(strstr(ecma, "'/README.txt'") == NULL);
        if (!strstr(ecma, "'/README.TXT;1'"))
                fprintf(stderr, "%s\n", ecma);
}

static void test_contents(void) {
        uint8_t *bufs[ELEMENTSOF(contents)];
        _cleanup_free_ Iso9660File *files = make_files(bufs);
        Iso9660Spec s = { .fs.label = "SLIPWAY_TEST_1", .fs.time = TIMESTAMP, .files = files,
                          .n_files = ELEMENTSOF(contents) };
        _cleanup_free_ char *iso = path_in("contents.iso");
        CHECK(iso9660_write(&s, iso) == 0);

        /* The volume descriptor, by hand. */
        void *img = NULL;
        size_t len = 0;
        CHECK(map_file(iso, &img, &len) == 0);
        CHECK(len % ISO_BLOCK == 0 && len > 17 * ISO_BLOCK);
        if (img && len > 17 * ISO_BLOCK) {
                const uint8_t *pvd = (const uint8_t *) img + 16 * ISO_BLOCK;
                CHECK(pvd[0] == 1 && memcmp(pvd + 1, "CD001", 5) == 0);
                CHECK(memcmp(pvd + PVD_VOLUME_ID, "SLIPWAY_TEST_1                  ", 32) == 0);
                /* 8.4.26.1: digits, then the offset from GMT in 15 minute
                 * intervals (0). */
                static const char date[17] = "2023111422132000";
                CHECK(memcmp(pvd + PVD_CREATION, date, 17) == 0);
                CHECK(memcmp(pvd + PVD_MODIFICATION, date, 17) == 0);
                CHECK(memcmp(pvd + PVD_EXPIRATION, "0000000000000000", 17) == 0);
                CHECK(memcmp(pvd + PVD_EFFECTIVE, date, 17) == 0);
                /* No boot record without boot images. */
                CHECK(memcmp((const uint8_t *) img + 17 * ISO_BLOCK + 1, "CD001", 5) == 0);
                CHECK(((const uint8_t *) img)[17 * ISO_BLOCK] != 0);
                /* No MBR signature either: the system area is zeros. */
                CHECK(((const uint8_t *) img)[510] == 0 && ((const uint8_t *) img)[511] == 0);
        }
        if (img)
                munmap(img, len);

        if (have("osirrox") && have("xorriso"))
                check_readback(iso, bufs);
        else
                printf("test_contents: xorriso/osirrox missing, read-back skipped\n");
        for (size_t i = 0; i < ELEMENTSOF(contents); i++)
                free(bufs[i]);
        unlink(iso);
}

/* ---- determinism ---- */

static void test_determinism(void) {
        uint8_t *bufs[ELEMENTSOF(contents)];
        _cleanup_free_ Iso9660File *files = make_files(bufs);
        _cleanup_free_ uint8_t *boot = pattern(6000, 7), *mbr = pattern(432, 8), *esp = pattern(70000, 9);
        Iso9660File all[ELEMENTSOF(contents) + 1];
        memcpy(all, files, sizeof(Iso9660File) * ELEMENTSOF(contents));
        all[ELEMENTSOF(contents)] = (Iso9660File) { "/isolinux/isolinux.bin", boot, 6000 };
        Iso9660Spec s = { .fs.label = "DET", .fs.time = TIMESTAMP, .files = all,
                          .n_files = ELEMENTSOF(all), .bios_boot_path = "/isolinux/isolinux.bin",
                          .bios_mbr = mbr, .bios_mbr_size = 432, .efi_image = esp, .efi_image_size = 70000 };
        memset(s.fs.uuid, 0x5a, sizeof s.fs.uuid);

        _cleanup_free_ char *a = path_in("det-a.iso"), *b = path_in("det-b.iso"), *c = path_in("det-c.iso"),
                            *d = path_in("det-d.iso"), *e = path_in("det-e.iso");
        const char *tz = getenv("TZ");
        _cleanup_free_ char *saved_tz = tz ? strdup(tz) : NULL;
        setenv("TZ", "UTC", 1);
        tzset();
        CHECK(iso9660_write(&s, a) == 0);

        /* Another second, another time zone (west of GMT, and one a
         * quarter hour off), the files in reverse order. */
        usleep(1100 * 1000);
        setenv("TZ", "America/New_York", 1);
        tzset();
        Iso9660File rev[ELEMENTSOF(all)];
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                rev[i] = all[ELEMENTSOF(all) - 1 - i];
        Iso9660Spec s2 = s;
        s2.files = rev;
        CHECK(iso9660_write(&s2, b) == 0);
        CHECK(unit_files_equal(a, b));
        setenv("TZ", "Asia/Kathmandu", 1);
        tzset();
        CHECK(iso9660_write(&s, b) == 0);
        CHECK(unit_files_equal(a, b));
        if (saved_tz)
                setenv("TZ", saved_tz, 1);
        else
                unsetenv("TZ");
        tzset();

        /* The time stamp and the GPT disk GUID matter. */
        Iso9660Spec s3 = s;
        s3.fs.time = TIMESTAMP + 1;
        CHECK(iso9660_write(&s3, c) == 0);
        CHECK(!unit_files_equal(a, c));
        Iso9660Spec s4 = s;
        s4.fs.uuid[0] ^= 1;
        CHECK(iso9660_write(&s4, d) == 0);
        CHECK(!unit_files_equal(a, d));
        /* The GUID is only in the GPT: without an ESP it changes nothing. */
        Iso9660Spec s5 = s, s6 = s4;
        s5.efi_image = s6.efi_image = NULL;
        CHECK(iso9660_write(&s5, d) == 0);
        CHECK(iso9660_write(&s6, e) == 0);
        CHECK(unit_files_equal(d, e));

        if (have("sfdisk")) {
                _cleanup_free_ char *da = output("sfdisk -d '%s' 2>&1 | grep label-id", a);
                _cleanup_free_ char *dd = output("sfdisk -d '%s' 2>&1 | grep label-id", d);
                CHECK(strlen(da) > 10 && strcmp(da, dd) != 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(contents); i++)
                free(bufs[i]);
        unlink(a), unlink(b), unlink(c), unlink(d), unlink(e);
}

/* ---- the hybrid layout ---- */

/* A small real ESP (FAT) made with mkfs.vfat and mcopy, or NULL. */
static uint8_t *make_esp(const char *name, size_t *ret_size) {
        if (!have("mkfs.vfat") || !have("mcopy"))
                return NULL;
        _cleanup_free_ char *p = path_in(name), *f = path_in("esp-file.txt");
        CHECK(write_file_atomic(f, "in the ESP\n", 11, 0644) == 0);
        if (run("mkfs.vfat -C '%s' 2048 >/dev/null && mmd -i '%s' ::EFI ::EFI/BOOT && "
                "mcopy -i '%s' '%s' ::EFI/BOOT/HELLO.TXT",
                p, p, p, f) != 0)
                return NULL;
        uint8_t *d = read_or_die(p, ret_size);
        unlink(p);
        unlink(f);
        return d;
}

/* The ESP's start and size in sectors from sfdisk -d, or false. */
static bool sfdisk_esp(const char *dump, uint64_t *ret_start, uint64_t *ret_size) {
        const char *l = strstr(dump, "type=" ESP_GUID);
        if (!l)
                return false;
        while (l > dump && l[-1] != '\n')
                l--;
        const char *st = strstr(l, "start=");
        const char *sz = strstr(l, "size=");
        if (!st || !sz)
                return false;
        *ret_start = strtoull(st + 6, NULL, 10);
        *ret_size = strtoull(sz + 5, NULL, 10);
        return true;
}

static void check_layout(const char *iso, const Iso9660Spec *s, const uint8_t *boot_data, size_t boot_size) {
        void *map = NULL;
        size_t len = 0;
        CHECK(map_file(iso, &map, &len) == 0);
        if (!map)
                return;
        const uint8_t *img = map;
        bool bios = s->bios_boot_path, efi = s->efi_image;

        /* The catalog: BIOS as the default entry, UEFI in a section (or
         * as the default entry alone). */
        BootEntry def, sec;
        CHECK(read_eltorito(img, len, &def, &sec));
        const BootEntry *efi_entry = bios ? &sec : &def;
        if (bios) {
                CHECK(def.present && def.platform == 0x00 && def.sectors == 4);
                /* The boot info table, patched in the image's copy only. */
                uint64_t off = (uint64_t) def.lba * ISO_BLOCK;
                CHECK(off + boot_size <= len);
                if (off + boot_size <= len) {
                        const uint8_t *f = img + off;
                        const struct boot_info_table *t = (const void *) (f + 8);
                        uint32_t sum = 0;
                        for (size_t i = 64; i + 4 <= boot_size; i += 4)
                                sum += (uint32_t) f[i] | (uint32_t) f[i + 1] << 8 | (uint32_t) f[i + 2] << 16 |
                                       (uint32_t) f[i + 3] << 24;
                        CHECK(le32toh(t->pvd_lba) == 16);
                        CHECK(le32toh(t->file_lba) == def.lba);
                        CHECK(le32toh(t->file_length) == boot_size);
                        CHECK(le32toh(t->checksum) == sum);
                        CHECK(memcmp(f + 64, boot_data + 64, boot_size - 64) == 0);
                        CHECK(memcmp(f, boot_data, 8) == 0);
                        /* The caller's bytes are untouched. */
                        CHECK(memcmp(boot_data + 8, "\0\0\0\0\0\0\0\0", 8) == 0);
                }
        }
        if (efi) {
                CHECK(efi_entry->present && efi_entry->platform == 0xef);
                /* The whole image in 512-byte sectors, or 0 above 32 MiB. */
                uint64_t sectors = (s->efi_image_size + 2047) / 2048 * 4;
                CHECK(efi_entry->sectors == (sectors > 65535 ? 0 : sectors));
                /* Inside the ISO 9660 volume (ECMA-119 8.4.8, the volume
                 * space size at byte 80, both-endian), so that EDK II's
                 * reading of 0 covers it. */
                uint32_t volume_blocks = le32toh(*(const le32_t *) (img + 16 * ISO_BLOCK + 80));
                CHECK((uint64_t) efi_entry->lba * ISO_BLOCK + s->efi_image_size <=
                      (uint64_t) volume_blocks * ISO_BLOCK);
                CHECK(efi_entry->lba * (uint64_t) ISO_BLOCK + s->efi_image_size <= len);
                if (efi_entry->lba * (uint64_t) ISO_BLOCK + s->efi_image_size <= len)
                        CHECK(memcmp(img + efi_entry->lba * (uint64_t) ISO_BLOCK, s->efi_image,
                                     s->efi_image_size) == 0);
        } else
                CHECK(!sec.present);

        /* The MBR: the template's boot code with the boot image's address
         * at 432 (in 512-byte sectors), and the signature. */
        if (s->bios_mbr) {
                CHECK(memcmp(img, s->bios_mbr, 432) == 0);
                uint64_t lba = 0;
                for (int i = 7; i >= 0; i--)
                        lba = lba << 8 | img[432 + i];
                CHECK(lba == (uint64_t) def.lba * 4);
        }
        if (s->bios_mbr || efi)
                CHECK(img[510] == 0x55 && img[511] == 0xaa);
        /* The partition table: one bootable 0x17 partition over the ISO for
         * isohybrid alone, else only the protective 0xee. */
        const uint8_t *pt = img + 446;
        if (efi) {
                CHECK(pt[4] == 0xee && pt[0] == 0x00);
                CHECK(pt[16 + 4] == 0 && pt[32 + 4] == 0 && pt[48 + 4] == 0);
        } else if (s->bios_mbr) {
                CHECK(pt[0] == 0x80 && pt[4] == 0x17);
                CHECK(len % (1024 * 1024) == 0); /* padded to a cylinder (64 heads, 32 sectors) */
        }

        if (efi && have("sfdisk")) {
                _cleanup_free_ char *dump = output("sfdisk -d '%s' 2>&1", iso);
                uint64_t start = 0, size = 0;
                CHECK(strstr(dump, "label: gpt"));
                CHECK(sfdisk_esp(dump, &start, &size));
                CHECK(size == (s->efi_image_size + 2047) / 2048 * 4);
                /* The same bytes both ways in: GPT and El Torito. */
                CHECK((uint64_t) efi_entry->lba * 4 == start);
                if (!strstr(dump, "label: gpt"))
                        fprintf(stderr, "%s\n", dump);
                /* mtools reads the FAT at the partition's offset. */
                const uint8_t *e = s->efi_image;
                bool fat = s->efi_image_size > 512 && (memcmp(e + 54, "FAT", 3) == 0 || memcmp(e + 82, "FAT", 3) == 0);
                if (fat && have("mtype")) {
                        _cleanup_free_ char *t =
                                output("mtype -i '%s@@%llu' ::EFI/BOOT/HELLO.TXT 2>&1", iso,
                                       (unsigned long long) start * 512);
                        CHECK(strcmp(t, "in the ESP\n") == 0);
                }
        } else if (!efi && s->bios_mbr && have("sfdisk")) {
                _cleanup_free_ char *dump = output("sfdisk -d '%s' 2>&1", iso);
                CHECK(strstr(dump, "label: dos"));
                CHECK(strstr(dump, "start=           0, size=") && strstr(dump, "type=17, bootable"));
        }
        if (efi && have("sgdisk")) {
                _cleanup_free_ char *v = output("sgdisk -v '%s' 2>&1", iso);
                CHECK(strstr(v, "No problems found"));
        }
        if (efi && have("fdisk")) {
                _cleanup_free_ char *l = output("LC_ALL=C fdisk -l '%s' 2>&1", iso);
                CHECK(strstr(l, "Disklabel type: gpt") && strstr(l, "EFI System"));
        }

        if (have("xorriso")) {
                _cleanup_free_ char *rep = output("xorriso -abort_on FAILURE -indev '%s' "
                                                  "-report_el_torito plain 2>&1", iso);
                if (bios) {
                        CHECK(strstr(rep, "El Torito boot img :   1  BIOS  y   none"));
                        CHECK(strstr(rep, "El Torito img path :   1  /isolinux/isolinux.bin"));
                        CHECK(strstr(rep, "El Torito img opts :   1  boot-info-table"));
                        CHECK(strstr(rep, "El Torito cat path : /isolinux/boot.cat"));
                }
                if (efi)
                        CHECK(strstr(rep, bios ? "El Torito boot img :   2  UEFI  y   none"
                                               : "El Torito boot img :   1  UEFI  y   none"));
                if (!bios)
                        CHECK(strstr(rep, "El Torito cat path : /boot.cat"));
                /* The ESP is in no directory tree. */
                static const char *const trees[] = { "any", "norock", "ecma119" };
                for (size_t i = 0; i < ELEMENTSOF(trees); i++) {
                        _cleanup_free_ char *l = output("xorriso -abort_on FAILURE -read_fs %s -indev '%s' "
                                                        "-find / 2>&1", trees[i], iso);
                        CHECK(strstr(l, "'/isolinux/isolinux.cfg'") || strstr(l, "'/ISOLINUX/ISOLINUX.CFG'"));
                        CHECK(!strcasestr(l, "efiboot"));
                }
        }
        munmap(map, len);
}

static void test_layout(void) {
        if (!have("xorriso") || !have("sfdisk"))
                printf("test_layout: xorriso or sfdisk missing, their checks skipped\n");
        size_t esp_size = 0;
        _cleanup_free_ uint8_t *esp = make_esp("esp.img", &esp_size);
        if (!esp) {
                printf("test_layout: mkfs.vfat/mtools missing, a made-up ESP instead\n");
                esp_size = 3 * 1024 * 1024 + 512;
                esp = pattern(esp_size, 3);
        }
        _cleanup_free_ uint8_t *boot = pattern(38912, 4), *mbr = pattern(432, 5);
        memset(boot + 8, 0, 56); /* the boot info table's place, as in isolinux.bin */
        Iso9660File files[] = {
                { "/isolinux/isolinux.bin", boot, 38912 },
                { "/isolinux/isolinux.cfg", "DEFAULT linux\n", 14 },
                { "/boot/vmlinuz", esp, 100000 },
        };
        Iso9660Spec s = { .fs.label = "LAYOUT", .fs.time = TIMESTAMP, .files = files, .n_files = 3,
                          .bios_boot_path = "/isolinux/isolinux.bin", .bios_mbr = mbr, .bios_mbr_size = 432,
                          .efi_image = esp, .efi_image_size = esp_size };
        _cleanup_free_ char *iso = path_in("layout.iso");

        /* BIOS and UEFI, CD and disk. */
        CHECK(iso9660_write(&s, iso) == 0);
        check_layout(iso, &s, boot, 38912);

        /* BIOS only, isohybrid. */
        Iso9660Spec b = s;
        b.efi_image = NULL;
        CHECK(iso9660_write(&b, iso) == 0);
        check_layout(iso, &b, boot, 38912);

        /* BIOS from a CD only. */
        b.bios_mbr = NULL;
        CHECK(iso9660_write(&b, iso) == 0);
        check_layout(iso, &b, boot, 38912);

        /* UEFI only. */
        Iso9660Spec e = s;
        e.bios_boot_path = NULL;
        e.bios_mbr = NULL;
        CHECK(iso9660_write(&e, iso) == 0);
        check_layout(iso, &e, NULL, 0);

        /* An ESP over 32 MiB: sector count 0, still inside the volume. */
        size_t big_size = 33 * 1024 * 1024;
        _cleanup_free_ uint8_t *big = pattern(big_size, 11);
        Iso9660Spec g = s;
        g.efi_image = big;
        g.efi_image_size = big_size;
        CHECK(iso9660_write(&g, iso) == 0);
        check_layout(iso, &g, boot, 38912);

        /* A 512-byte template: its bytes from 432 on are libisofs'. */
        _cleanup_free_ uint8_t *mbr512 = pattern(512, 6);
        s.bios_mbr = mbr512;
        s.bios_mbr_size = 512;
        CHECK(iso9660_write(&s, iso) == 0);
        check_layout(iso, &s, boot, 38912);
        unlink(iso);
}

/* ---- booting under QEMU ---- */

typedef enum BootMedium {
        BOOT_CDROM,
        BOOT_IDE_DISK,
        BOOT_VIRTIO_DISK,
} BootMedium;

typedef struct Boot {
        const char *name;
        bool ovmf; /* else SeaBIOS */
        BootMedium medium;
} Boot;

#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"

static const Boot boots[] = {
        { "seabios-cdrom", false, BOOT_CDROM },
        { "ovmf-cdrom", true, BOOT_CDROM },
        { "seabios-disk", false, BOOT_IDE_DISK },
        { "ovmf-virtio-disk", true, BOOT_VIRTIO_DISK },
};

/* QEMU's arguments for one boot (after the common ones). */
static void boot_args(const Boot *b, const char *iso, const char *vars, char *out, size_t size) {
        size_t k = 0;
        if (b->ovmf)
                k += (size_t) snprintf(out, size,
                                       "-drive if=pflash,format=raw,readonly=on,file=" OVMF_CODE " "
                                       "-drive if=pflash,format=raw,file='%s' ",
                                       vars);
        switch (b->medium) {
        case BOOT_CDROM:
                snprintf(out + k, size - k, "-cdrom '%s' -boot d", iso);
                break;
        case BOOT_IDE_DISK:
                snprintf(out + k, size - k, "-drive file='%s',format=raw,snapshot=on", iso);
                break;
        case BOOT_VIRTIO_DISK:
                snprintf(out + k, size - k, "-drive file='%s',format=raw,if=virtio,snapshot=on", iso);
                break;
        }
}

static char *newest_kernel(void) {
        char *k = output("ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1");
        k[strcspn(k, "\n")] = 0;
        if (!*k || access(k, R_OK) < 0) {
                free(k);
                return NULL;
        }
        return k;
}

/* A newc initrd: /bin/busybox and an /init that prints the marker (built
 * at run time, so the script's text alone does not match) and powers off. */
static uint8_t *make_initrd(size_t *ret_size) {
        _cleanup_free_ char *root = path_in("initrd.d"), *cpio = path_in("initrd.cpio");
        static const char init[] = "#!/bin/busybox sh\n"
                                   "m=BOOT\n"
                                   "/bin/busybox echo \"ISO-$m-OK\"\n"
                                   "/bin/busybox poweroff -f\n";
        if (run("mkdir -p '%s/bin' && cp /bin/busybox '%s/bin/busybox'", root, root) != 0)
                return NULL;
        _cleanup_free_ char *initp = path_join(root, "init");
        if (write_file_atomic(initp, init, strlen(init), 0755) < 0)
                return NULL;
        if (run("cd '%s' && find . | LC_ALL=C sort | cpio -o -H newc --quiet > '%s'", root, cpio) != 0)
                return NULL;
        uint8_t *d = read_or_die(cpio, ret_size);
        (void) rm_rf(root);
        unlink(cpio);
        return d;
}

/* The ESP for systemd-boot: BOOTX64.EFI, loader.conf, one entry, the
 * kernel and the initrd. */
static uint8_t *make_boot_esp(const char *kernel, const char *initrd, size_t *ret_size) {
        _cleanup_free_ char *img = path_in("esp-boot.img"), *lc = path_in("loader.conf"),
                            *entry = path_in("live.conf");
        static const char loader[] = "timeout 0\ndefault live.conf\n";
        static const char live[] = "title live\nlinux /vmlinuz\ninitrd /initrd\noptions console=ttyS0 panic=-1\n";
        if (write_file_atomic(lc, loader, strlen(loader), 0644) < 0 ||
            write_file_atomic(entry, live, strlen(live), 0644) < 0)
                return NULL;
        /* 32 MiB: FAT16, room for a kernel of up to ~25 MiB; and over 65535
         * sectors, so the El Torito sector count is 0 (see iso.h). */
        if (run("mkfs.vfat -C '%s' 32768 >/dev/null && "
                "mmd -i '%s' ::EFI ::EFI/BOOT ::loader ::loader/entries && "
                "mcopy -i '%s' /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::EFI/BOOT/BOOTX64.EFI && "
                "mcopy -i '%s' '%s' ::loader/loader.conf && mcopy -i '%s' '%s' ::loader/entries/live.conf && "
                "mcopy -i '%s' '%s' ::vmlinuz && mcopy -i '%s' '%s' ::initrd",
                img, img, img, img, lc, img, entry, img, kernel, img, initrd) != 0)
                return NULL;
        uint8_t *d = read_or_die(img, ret_size);
        unlink(img), unlink(lc), unlink(entry);
        return d;
}

static bool boot_prerequisites(void) {
        static const char *const need[] = {
                "/usr/lib/ISOLINUX/isolinux.bin", "/usr/lib/ISOLINUX/isohdpfx.bin",
                "/usr/lib/syslinux/modules/bios/ldlinux.c32", "/usr/lib/systemd/boot/efi/systemd-bootx64.efi",
                "/bin/busybox", OVMF_CODE, OVMF_VARS,
        };
        for (size_t i = 0; i < ELEMENTSOF(need); i++)
                if (access(need[i], R_OK) < 0) {
                        printf("test_boot: %s missing, skipped\n", need[i]);
                        return false;
                }
        static const char *const tools[] = { "qemu-system-x86_64", "cpio", "mkfs.vfat", "mcopy", "timeout" };
        for (size_t i = 0; i < ELEMENTSOF(tools); i++)
                if (!have(tools[i])) {
                        printf("test_boot: %s missing, skipped\n", tools[i]);
                        return false;
                }
        return true;
}

static void test_boot(void) {
        /* The boots are tests/boot's (meson suite 'boot'), not the unit suite's. */
        if (!getenv("UNIT_BOOT"))
                return;
        if (!boot_prerequisites())
                return;
        _cleanup_free_ char *kernel = newest_kernel();
        if (!kernel) {
                printf("test_boot: no readable /boot/vmlinuz-*, skipped\n");
                return;
        }
        size_t n_initrd = 0, n_esp = 0, n_kernel = 0, n_isolinux = 0, n_ldlinux = 0, n_mbr = 0;
        _cleanup_free_ uint8_t *initrd = make_initrd(&n_initrd);
        CHECK(initrd);
        if (!initrd)
                return;
        _cleanup_free_ char *initrd_path = path_in("initrd");
        CHECK(write_file_atomic(initrd_path, initrd, n_initrd, 0644) == 0);
        _cleanup_free_ uint8_t *esp = make_boot_esp(kernel, initrd_path, &n_esp);
        CHECK(esp);
        if (!esp)
                return;
        _cleanup_free_ void *vmlinuz = read_or_die(kernel, &n_kernel),
                            *isolinux = read_or_die("/usr/lib/ISOLINUX/isolinux.bin", &n_isolinux),
                            *ldlinux = read_or_die("/usr/lib/syslinux/modules/bios/ldlinux.c32", &n_ldlinux),
                            *mbr = read_or_die("/usr/lib/ISOLINUX/isohdpfx.bin", &n_mbr);
        static const char cfg[] = "DEFAULT linux\n"
                                  "LABEL linux\n"
                                  "  KERNEL /boot/vmlinuz\n"
                                  "  APPEND initrd=/boot/initrd console=ttyS0 panic=-1\n";
        Iso9660File files[] = {
                { "/boot/vmlinuz", vmlinuz, n_kernel },
                { "/boot/initrd", initrd, n_initrd },
                { "/isolinux/isolinux.bin", isolinux, n_isolinux },
                { "/isolinux/ldlinux.c32", ldlinux, n_ldlinux },
                { "/isolinux/isolinux.cfg", cfg, strlen(cfg) },
        };
        Iso9660Spec s = { .fs.label = "SLIPWAY_BOOT", .fs.time = TIMESTAMP, .files = files,
                          .n_files = ELEMENTSOF(files), .bios_boot_path = "/isolinux/isolinux.bin",
                          .bios_mbr = mbr, .bios_mbr_size = n_mbr, .efi_image = esp, .efi_image_size = n_esp };
        _cleanup_free_ char *iso = path_in("boot.iso");
        CHECK(iso9660_write(&s, iso) == 0);

        /* Two at a time (TCG is one thread per guest). Each writes its
         * serial console to NAME.log and "STATUS MILLISECONDS" to NAME.rc. */
        for (size_t first = 0; first < ELEMENTSOF(boots); first += 2) {
                char script[16384];
                size_t k = 0;
                for (size_t i = first; i < MIN(first + 2, ELEMENTSOF(boots)); i++) {
                        _cleanup_free_ char *vars = path_in(boots[i].name), *log = NULL, *rc = NULL;
                        if (asprintf(&log, "%s/%s.log", tmpdir, boots[i].name) < 0 ||
                            asprintf(&rc, "%s/%s.rc", tmpdir, boots[i].name) < 0)
                                abort();
                        char vars_copy[4096], args[4096];
                        snprintf(vars_copy, sizeof vars_copy, "%s.vars.fd", vars);
                        boot_args(&boots[i], iso, vars_copy, args, sizeof args);
                        k += (size_t) snprintf(script + k, sizeof script - k,
                                               "( cp " OVMF_VARS " '%s' && s=$(date +%%s%%N) && "
                                               "timeout 120 qemu-system-x86_64 -accel tcg -m 512 -nographic "
                                               "-no-reboot -nic none %s </dev/null >'%s' 2>&1; "
                                               "echo $? $(( ($(date +%%s%%N) - s) / 1000000 )) >'%s' ) & ",
                                               vars_copy, args, log, rc);
                }
                snprintf(script + k, sizeof script - k, "wait");
                CHECK(run("%s", script) == 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(boots); i++) {
                _cleanup_free_ char *log = NULL, *rc = NULL, *log_data = NULL, *rc_data = NULL;
                if (asprintf(&log, "%s/%s.log", tmpdir, boots[i].name) < 0 ||
                    asprintf(&rc, "%s/%s.rc", tmpdir, boots[i].name) < 0)
                        abort();
                size_t n = 0, m = 0;
                bool ok = read_full_file(log, &log_data, &n) == 0 && memmem(log_data, n, "ISO-BOOT-OK", 11);
                int status = -1;
                long ms = -1;
                if (read_full_file(rc, &rc_data, &m) == 0)
                        (void) sscanf(rc_data, "%d %ld", &status, &ms);
                printf("test_boot: %-17s %s, qemu exit %d, %.1f s\n", boots[i].name, ok ? "ISO-BOOT-OK" : "FAILED",
                       status, (double) ms / 1000.0);
                if (!ok)
                        fprintf(stderr, "test_boot: %s did not print the marker; serial log in %s\n",
                                boots[i].name, log);
                CHECK(ok);
                CHECK(status == 0); /* powered off, not timed out */
        }
        if (!getenv("KEEP"))
                unlink(iso);
}

static void setup(void) {
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                exit(1);
        }
}

static void teardown(void) {
        if (getenv("KEEP") || unit_failures)
                fprintf(stderr, "kept %s\n", tmpdir);
        else
                (void) rm_rf(tmpdir);
}

UNIT_MAIN(setup, test_errors, test_contents, test_determinism, test_layout, test_boot, teardown)
