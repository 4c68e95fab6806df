/* SPDX-License-Identifier: MIT */
/* Unit tests of src/disk/container.c: a 64 MiB disk with a few data extents
 * written as raw, VHD, VHDX and qcow2 (plain and compressed), each read back
 * by qemu-img (info, check, compare against the raw image) and, for the VHD
 * footer, by the test itself. Deterministic bytes, atomic replacement and
 * the errors are checked too. Without qemu-img those checks are skipped. */

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "disk/container.h"
#include "../unit.h"

#define MiB ((uint64_t) 1 << 20)
#define TiB ((uint64_t) 1 << 40)
#define KiB ((uint64_t) 1 << 10)
#define DISK_SIZE (64 * MiB)
#define TIMESTAMP 1700000000 /* 2023-11-14 */

typedef struct MemDisk {
        uint8_t *data;
        const DiskExtent *extents;
        size_t n_extents;
        unsigned calls;
        unsigned outside; /* reads not inside one extent, or going backwards */
        int fail_after;   /* >= 0: the read after this many fails */
        uint64_t last_offset;
} MemDisk;

static int mem_read(void *userdata, uint64_t offset, void *buf, size_t n) {
        MemDisk *m = userdata;
        bool inside = false;
        for (size_t i = 0; i < m->n_extents; i++)
                if (offset >= m->extents[i].offset && offset + n <= m->extents[i].offset + m->extents[i].length)
                        inside = true;
        if (!inside || n == 0 || offset < m->last_offset)
                m->outside++;
        m->last_offset = offset;
        if (m->fail_after >= 0 && m->calls >= (unsigned) m->fail_after)
                return -EIO;
        m->calls++;
        memcpy(buf, m->data + offset, n);
        return 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static void fill_random(uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) rng();
}

/* Compressible: text lines with a counter. */
static void fill_text(uint8_t *p, size_t n) {
        size_t k = 0;
        for (unsigned line = 0; k < n; line++) {
                char s[80];
                int l = snprintf(s, sizeof s, "line %u: the quick brown fox jumps over the lazy dog\n", line);
                for (int j = 0; j < l && k < n; j++)
                        p[k++] = (uint8_t) s[j];
        }
}

/* The extents: data at the start with zeros after it in the same extent, a
 * piece not aligned to 4 KiB, text across the first VHDX block boundary
 * (32 MiB), an extent of zeros only, and text up to the very end. */
static const DiskExtent extents[] = {
        { 0, 1 * MiB },
        { 5 * MiB + 1536, 200 * KiB },
        { 32 * MiB - 320 * KiB, 640 * KiB },
        { 48 * MiB, 1 * MiB },
        { DISK_SIZE - 128 * KiB, 128 * KiB },
};

static uint8_t *make_disk(void) {
        uint8_t *d = calloc(1, DISK_SIZE);
        if (!d)
                abort();
        fill_random(d, 64 * KiB);
        fill_random(d + extents[1].offset, extents[1].length);
        fill_text(d + extents[2].offset, extents[2].length);
        fill_text(d + extents[4].offset, extents[4].length);
        d[DISK_SIZE - 1] = 0xAA;
        return d;
}

static char *path_in(const char *dir, const char *name) {
        char *p = path_join(dir, name);
        if (!p)
                abort();
        return p;
}

static int run(const char *cmd) {
        int s = system(cmd);
        return WIFEXITED(s) ? WEXITSTATUS(s) : 128;
}

static bool have_qemu_img(void) {
        return run("command -v qemu-img >/dev/null 2>&1") == 0;
}

/* The virtual size qemu-img reports, or 0. */
static uint64_t qemu_virtual_size(const char *fmt, const char *path) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "qemu-img info -f %s --output=json '%s' 2>&1", fmt, path);
        FILE *f = popen(cmd, "r");
        if (!f)
                return 0;
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        pclose(f);
        const char *p = strstr(buf, "\"virtual-size\":");
        if (!p) {
                fprintf(stderr, "qemu-img info: %s\n", buf);
                return 0;
        }
        return strtoull(p + strlen("\"virtual-size\":"), NULL, 10);
}

static int run_checked(const char *cmd) {
        int r = run(cmd);
        if (r != 0)
                fprintf(stderr, "failed (%d): %s\n", r, cmd);
        return r;
}

static const char *qemu_fmt(DiskFormat f) {
        return f == DISK_FORMAT_VHD ? "vpc" : disk_format_to_string(f);
}

/* Writes src in f (compressed qcow2 if compress) to dir/name twice and checks
 * both copies are the same bytes; returns the path of the first. */
static char *write_twice(const DiskSource *src, DiskFormat f, bool compress, const char *dir, const char *name) {
        MemDisk *m = src->userdata;
        DiskWriteOptions o = { .timestamp = TIMESTAMP, .compress = compress };
        memset(o.seed, 0x5e, sizeof o.seed);
        char *p = path_in(dir, name);
        char again[4096];
        snprintf(again, sizeof again, "%s.again", p);
        if (m)
                m->last_offset = 0;
        CHECK(disk_write(src, f, &o, p) == 0);
        if (m)
                m->last_offset = 0;
        CHECK(disk_write(src, f, &o, again) == 0);
        CHECK(unit_files_equal(p, again));
        unlink(again);
        return p;
}

static void check_with_qemu(DiskFormat f, const char *raw, const char *path, uint64_t size) {
        const char *fmt = qemu_fmt(f);
        char cmd[8192];
        CHECK(qemu_virtual_size(fmt, path) == size);
        if (f == DISK_FORMAT_VHDX || f == DISK_FORMAT_QCOW2) {
                snprintf(cmd, sizeof cmd, "qemu-img check -q -f %s '%s'", fmt, path);
                CHECK(run_checked(cmd) == 0);
        }
        snprintf(cmd, sizeof cmd, "qemu-img compare -q -f raw -F %s '%s' '%s'", fmt, raw, path);
        CHECK(run_checked(cmd) == 0);
}

/* The footer, parsed by hand: VHD specification "Hard Disk Footer Format". */
static void check_vhd_footer(const char *path, uint64_t size) {
        void *p = NULL;
        size_t l = 0;
        CHECK(map_file(path, &p, &l) == 0);
        CHECK(l == size + 512);
        if (l != size + 512)
                return;
        const uint8_t *f = (const uint8_t *) p + size;
        uint32_t be32, sum = 0;
        uint64_t be64;
        CHECK(memcmp(f, "conectix", 8) == 0);
        memcpy(&be32, f + 8, 4);
        CHECK(be32toh(be32) == 2); /* features */
        memcpy(&be32, f + 12, 4);
        CHECK(be32toh(be32) == 0x00010000);
        memcpy(&be64, f + 16, 8);
        CHECK(be64toh(be64) == UINT64_MAX);
        memcpy(&be32, f + 24, 4);
        CHECK(be32toh(be32) == TIMESTAMP - 946684800);
        CHECK(memcmp(f + 36, "Wi2k", 4) == 0);
        memcpy(&be64, f + 40, 8);
        CHECK(be64toh(be64) == size);
        memcpy(&be64, f + 48, 8);
        CHECK(be64toh(be64) == size);
        memcpy(&be32, f + 60, 4);
        CHECK(be32toh(be32) == 2); /* fixed */
        for (size_t i = 0; i < 512; i++)
                if (i < 64 || i >= 68)
                        sum += f[i];
        memcpy(&be32, f + 64, 4);
        CHECK(be32toh(be32) == ~sum);
        /* CHS per the specification's algorithm: 64 MiB = 131072 sectors:
         * 17 sectors per track, 8 heads, 963 cylinders. */
        if (size == DISK_SIZE) {
                CHECK(f[56] == 0x03 && f[57] == 0xC3 && f[58] == 8 && f[59] == 17);
        }
        static const uint8_t zero[16];
        CHECK(memcmp(f + 68, zero, 16) != 0); /* unique id */
        munmap(p, l);
}

static bool dir_has_tmp(const char *dir) {
        DIR *d = opendir(dir);
        bool found = false;
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strstr(de->d_name, ".tmp."))
                        found = true;
        if (d)
                closedir(d);
        return found;
}

static char tmpdir[] = "/tmp/test-container.XXXXXX";

static void test_formats(void) {
        _cleanup_free_ uint8_t *disk = make_disk();
        MemDisk m = { .data = disk, .extents = extents, .n_extents = ELEMENTSOF(extents), .fail_after = -1 };
        DiskSource src = { .size = DISK_SIZE, .extents = extents, .n_extents = ELEMENTSOF(extents),
                           .read = mem_read, .userdata = &m };
        bool qemu = have_qemu_img();
        if (!qemu)
                fprintf(stderr, "qemu-img not found: its checks are skipped\n");

        _cleanup_free_ char *raw = write_twice(&src, DISK_FORMAT_RAW, false, tmpdir, "disk.raw");
        CHECK(m.outside == 0);
        void *p = NULL;
        size_t l = 0;
        CHECK(map_file(raw, &p, &l) == 0);
        CHECK(l == DISK_SIZE && memcmp(p, disk, DISK_SIZE) == 0);
        if (p)
                munmap(p, l);
        struct stat st;
        CHECK(stat(raw, &st) == 0);
        CHECK((uint64_t) st.st_blocks * 512 < 4 * MiB); /* sparse */
        CHECK((st.st_mode & 0777) == 0644);

        _cleanup_free_ char *vhd = write_twice(&src, DISK_FORMAT_VHD, false, tmpdir, "disk.vhd");
        check_vhd_footer(vhd, DISK_SIZE);
        CHECK(map_file(vhd, &p, &l) == 0);
        CHECK(l == DISK_SIZE + 512 && memcmp(p, disk, DISK_SIZE) == 0);
        if (p)
                munmap(p, l);

        _cleanup_free_ char *vhdx = write_twice(&src, DISK_FORMAT_VHDX, false, tmpdir, "disk.vhdx");
        _cleanup_free_ char *qcow2 = write_twice(&src, DISK_FORMAT_QCOW2, false, tmpdir, "disk.qcow2");
        _cleanup_free_ char *qcow2z = write_twice(&src, DISK_FORMAT_QCOW2, true, tmpdir, "disk-z.qcow2");
        CHECK(m.outside == 0);
        struct stat a, b;
        CHECK(stat(qcow2, &a) == 0 && stat(qcow2z, &b) == 0);
        CHECK(b.st_size < a.st_size);

        /* Another seed: another VHD unique id, VHDX GUIDs. */
        DiskWriteOptions o2 = { .timestamp = TIMESTAMP };
        _cleanup_free_ char *vhdx2 = path_in(tmpdir, "seed2.vhdx");
        m.last_offset = 0;
        CHECK(disk_write(&src, DISK_FORMAT_VHDX, &o2, vhdx2) == 0);
        CHECK(!unit_files_equal(vhdx, vhdx2));

        if (qemu) {
                check_with_qemu(DISK_FORMAT_VHD, raw, vhd, DISK_SIZE);
                check_with_qemu(DISK_FORMAT_VHDX, raw, vhdx, DISK_SIZE);
                check_with_qemu(DISK_FORMAT_VHDX, raw, vhdx2, DISK_SIZE);
                check_with_qemu(DISK_FORMAT_QCOW2, raw, qcow2, DISK_SIZE);
                check_with_qemu(DISK_FORMAT_QCOW2, raw, qcow2z, DISK_SIZE);
        }
}

/* A size that is not a whole number of qcow2 clusters or VHDX blocks, with
 * data in its last sector; and a disk without any extent. */
static void test_odd_sizes(void) {
        const uint64_t size = 3 * MiB + 512;
        _cleanup_free_ uint8_t *disk = calloc(1, size);
        static const DiskExtent ext[] = { { 3 * MiB - 4096, 4096 + 512 } };
        fill_random(disk + ext[0].offset, ext[0].length);
        MemDisk m = { .data = disk, .extents = ext, .n_extents = 1, .fail_after = -1 };
        DiskSource src = { .size = size, .extents = ext, .n_extents = 1, .read = mem_read, .userdata = &m };
        DiskSource empty = { .size = 2 * MiB };
        bool qemu = have_qemu_img();

        _cleanup_free_ char *raw = write_twice(&src, DISK_FORMAT_RAW, false, tmpdir, "odd.raw");
        _cleanup_free_ char *empty_raw = write_twice(&empty, DISK_FORMAT_RAW, false, tmpdir, "empty.raw");
        for (int c = 0; c < 2; c++) {
                char name[64];
                snprintf(name, sizeof name, "odd-%d.qcow2", c);
                _cleanup_free_ char *q = write_twice(&src, DISK_FORMAT_QCOW2, c, tmpdir, name);
                if (qemu)
                        check_with_qemu(DISK_FORMAT_QCOW2, raw, q, size);
        }
        _cleanup_free_ char *x = write_twice(&src, DISK_FORMAT_VHDX, false, tmpdir, "odd.vhdx");
        _cleanup_free_ char *ex = write_twice(&empty, DISK_FORMAT_VHDX, false, tmpdir, "empty.vhdx");
        _cleanup_free_ char *eq = write_twice(&empty, DISK_FORMAT_QCOW2, false, tmpdir, "empty.qcow2");
        _cleanup_free_ char *ev = write_twice(&empty, DISK_FORMAT_VHD, false, tmpdir, "empty.vhd");
        check_vhd_footer(ev, 2 * MiB);
        if (qemu) {
                check_with_qemu(DISK_FORMAT_VHDX, raw, x, size);
                check_with_qemu(DISK_FORMAT_VHDX, empty_raw, ex, 2 * MiB);
                check_with_qemu(DISK_FORMAT_QCOW2, empty_raw, eq, 2 * MiB);
                check_with_qemu(DISK_FORMAT_VHD, empty_raw, ev, 2 * MiB);
        }
        CHECK(m.outside == 0);
}

static void test_errors(void) {
        _cleanup_free_ uint8_t *disk = make_disk();
        MemDisk m = { .data = disk, .extents = extents, .n_extents = ELEMENTSOF(extents), .fail_after = -1 };
        DiskSource src = { .size = DISK_SIZE, .extents = extents, .n_extents = ELEMENTSOF(extents),
                           .read = mem_read, .userdata = &m };
        DiskWriteOptions o = { .timestamp = TIMESTAMP };
        _cleanup_free_ char *p = path_in(tmpdir, "error.img");

        /* VHD: only whole MiB. */
        DiskSource odd = src;
        odd.size = DISK_SIZE + 512;
        CHECK(disk_write(&odd, DISK_FORMAT_VHD, &o, p) == -EINVAL);
        CHECK(!path_exists(p));
        CHECK(disk_write(&odd, DISK_FORMAT_VHDX, &o, p) == 0);
        unlink(p);

        /* The formats' largest sizes: one past them is refused before anything is written. */
        CHECK(disk_format_max_size(DISK_FORMAT_VHDX) == 64 * TiB);
        CHECK(disk_format_max_size(DISK_FORMAT_QCOW2) == 2048 * TiB);
        CHECK(disk_format_max_size(DISK_FORMAT_RAW) == 64 * TiB); /* issue 12: a bound, not the host's */
        CHECK(disk_format_max_size(DISK_FORMAT_VHD) == 2040 * 1024 * MiB);
        DiskSource big = src;
        big.size = 64 * TiB + MiB;
        CHECK(disk_write(&big, DISK_FORMAT_RAW, &o, p) == -EINVAL);
        big.size = 2040 * 1024 * MiB + MiB;
        CHECK(disk_write(&big, DISK_FORMAT_VHD, &o, p) == -EINVAL);
        big.size = 64 * TiB + MiB;
        CHECK(disk_write(&big, DISK_FORMAT_VHDX, &o, p) == -EINVAL);
        big.size = 2048 * TiB + MiB;
        CHECK(disk_write(&big, DISK_FORMAT_QCOW2, &o, p) == -EINVAL);
        CHECK(!path_exists(p));

        /* Bad sources. */
        DiskSource bad = src;
        bad.size = DISK_SIZE - 1;
        CHECK(disk_write(&bad, DISK_FORMAT_RAW, &o, p) == -EINVAL);
        bad.size = DISK_SIZE - 64 * KiB; /* the last extent sticks out */
        CHECK(disk_write(&bad, DISK_FORMAT_RAW, &o, p) == -EINVAL);
        static const DiskExtent overlap[] = { { 0, 2 * MiB }, { 1 * MiB, 2 * MiB } };
        bad = src;
        bad.extents = overlap;
        bad.n_extents = 2;
        CHECK(disk_write(&bad, DISK_FORMAT_QCOW2, &o, p) == -EINVAL);
        static const DiskExtent unaligned[] = { { 100, 512 } };
        bad.extents = unaligned;
        bad.n_extents = 1;
        CHECK(disk_write(&bad, DISK_FORMAT_QCOW2, &o, p) == -EINVAL);
        CHECK(disk_write(&src, _DISK_FORMAT_MAX, &o, p) == -EINVAL);
        CHECK(!path_exists(p));

        /* A failing read: nothing at the path, no temporary file left, and
         * an older file there stays as it was. */
        for (DiskFormat f = 0; f < _DISK_FORMAT_MAX; f++) {
                m.calls = 0;
                m.last_offset = 0;
                m.fail_after = 3;
                o.compress = f == DISK_FORMAT_QCOW2;
                CHECK(disk_write(&src, f, &o, p) == -EIO);
                CHECK(!path_exists(p));
        }
        CHECK(write_file_atomic(p, "old", 3, 0644) == 0);
        m.calls = 0;
        m.last_offset = 0;
        CHECK(disk_write(&src, DISK_FORMAT_VHDX, &o, p) == -EIO);
        _cleanup_free_ char *data = NULL;
        size_t l;
        CHECK(read_full_file(p, &data, &l) == 0 && l == 3 && memcmp(data, "old", 3) == 0);
        CHECK(!dir_has_tmp(tmpdir));
        unlink(p);
}

static void test_format_names(void) {
        for (DiskFormat f = 0; f < _DISK_FORMAT_MAX; f++)
                CHECK(disk_format_from_string(disk_format_to_string(f)) == f);
        CHECK(disk_format_from_string("vdi") == _DISK_FORMAT_INVALID);
        CHECK(disk_format_to_string(_DISK_FORMAT_MAX) == NULL);
}

static void setup(void) {
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                exit(1);
        }
}

static void teardown(void) {
        if (getenv("KEEP"))
                fprintf(stderr, "kept %s\n", tmpdir);
        else
                (void) rm_rf(tmpdir);
}

UNIT_MAIN(setup, test_format_names, test_formats, test_odd_sizes, test_errors, teardown)
