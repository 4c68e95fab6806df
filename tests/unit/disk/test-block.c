/* SPDX-License-Identifier: MIT */
/* Unit tests of the block sources' allocation maps (block_map()) and of the
 * dynamic VHD reader (src/disk/vhd.c):
 *  - a sparse file's map follows its holes; memory is all data; a slice's
 *    map is its base's clipped and shifted;
 *  - a disk made by the test, converted by qemu-img into qcow2, VHDX, fixed
 *    and dynamic VHD, reads back byte for byte, with a map that covers every
 *    non-zero byte and leaves the holes out; a qcow2 cluster given the zero
 *    flag leaves the map and reads as zeros;
 *  - a dynamic VHD built here (small blocks, a partial sector bitmap with
 *    garbage behind its clear bits) reads as the specification says, and
 *    its malformed variants (checksum, truncation, a block past the end, a
 *    short BAT, a differencing disk) are refused with the right error.
 * Without qemu-img those checks are skipped (said on stderr). */

#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "disk/block.h"
#include "../unit.h"

#define KiB ((uint64_t) 1 << 10)
#define MiB ((uint64_t) 1 << 20)

static char tmpdir[] = "/tmp/test-block.XXXXXX";

static char *path_in(const char *name) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
                abort();
        return p;
}

/* Sorted, non-overlapping, 512-aligned starts, ends aligned or at size. */
static bool map_well_formed(const DiskExtent *e, size_t n, uint64_t size) {
        uint64_t end = 0;
        for (size_t i = 0; i < n; i++) {
                if (e[i].offset % 512 != 0 || e[i].length == 0 || e[i].offset < end || e[i].offset > size ||
                    e[i].length > size - e[i].offset)
                        return false;
                end = e[i].offset + e[i].length;
                if (end % 512 != 0 && end != size)
                        return false;
        }
        return true;
}

static bool in_map(const DiskExtent *e, size_t n, uint64_t offset) {
        for (size_t i = 0; i < n; i++)
                if (offset >= e[i].offset && offset < e[i].offset + e[i].length)
                        return true;
        return false;
}

static uint64_t mapped(const DiskExtent *e, size_t n) {
        uint64_t t = 0;
        for (size_t i = 0; i < n; i++)
                t += e[i].length;
        return t;
}

/* Every non-zero byte of data lies in the map. */
static bool map_covers(const DiskExtent *e, size_t n, const uint8_t *data, uint64_t size) {
        for (uint64_t i = 0; i < size; i++)
                if (data[i] && !in_map(e, n, i))
                        return false;
        return true;
}

/* The test disk: 8 MiB with data at 1 MiB (64 KiB), at 5 MiB + 100 (100
 * bytes) and in the last sector; zeros elsewhere. */
#define DISK_SIZE (8 * MiB)
static uint8_t *make_disk(void) {
        uint8_t *d = calloc(1, DISK_SIZE);
        for (uint64_t i = 0; i < 64 * KiB; i++)
                d[MiB + i] = (uint8_t) (i * 7 + 1);
        memset(d + 5 * MiB + 100, 0xA5, 100);
        memset(d + DISK_SIZE - 512, 0x5A, 512);
        return d;
}

static void write_file(const char *path, const uint8_t *data, uint64_t size, bool sparse) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        CHECK(ftruncate(fd, (off_t) size) == 0);
        for (uint64_t i = 0; i < size; i += 4096) {
                size_t n = (size_t) MIN((uint64_t) 4096, size - i);
                bool zero = true;
                for (size_t k = 0; k < n && zero; k++)
                        zero = data[i + k] == 0;
                if (!sparse || !zero)
                        CHECK(pwrite(fd, data + i, n, (off_t) i) == (ssize_t) n);
        }
        close(fd);
}

static BlockSource *open_file(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        BlockSource *s = NULL;
        CHECK(fd >= 0 && block_source_from_fd(fd, &s) == 0);
        close(fd);
        return s;
}

static void test_map_file_memory_slice(void) {
        _cleanup_free_ uint8_t *disk = make_disk();
        _cleanup_free_ char *p = path_in("sparse.raw");
        write_file(p, disk, DISK_SIZE, true);

        _cleanup_(block_source_freep) BlockSource *s = open_file(p);
        _cleanup_free_ DiskExtent *e = NULL;
        size_t n = 0;
        CHECK(s && block_map(s, &e, &n) == 0);
        CHECK(map_well_formed(e, n, DISK_SIZE));
        CHECK(map_covers(e, n, disk, DISK_SIZE));
        /* Whether this file system reports holes at all. */
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        bool holes = lseek(fd, 0, SEEK_HOLE) < (off_t) DISK_SIZE;
        close(fd);
        if (holes) {
                CHECK(!in_map(e, n, 3 * MiB));
                CHECK(mapped(e, n) < 1 * MiB);
        } else
                fprintf(stderr, "SKIP hole checks: %s does not report holes\n", tmpdir);

        /* A slice from 1 MiB - 512 of 5 MiB: the data at 1 MiB is at 512. */
        _cleanup_(block_source_freep) BlockSource *sl = NULL;
        _cleanup_free_ DiskExtent *se = NULL;
        size_t sn = 0;
        CHECK(block_source_slice(s, MiB - 512, 5 * MiB, &sl) == 0);
        CHECK(sl && block_map(sl, &se, &sn) == 0);
        CHECK(map_well_formed(se, sn, 5 * MiB));
        CHECK(map_covers(se, sn, disk + MiB - 512, 5 * MiB));
        CHECK(in_map(se, sn, 512));
        if (holes) {
                CHECK(sn >= 1 && se[0].offset <= 512 && !in_map(se, sn, 0) == (se[0].offset > 0));
                /* The data at 5 MiB + 100 is past the slice's end. */
                CHECK(mapped(se, sn) <= 128 * KiB);
        }

        /* A slice of an odd offset: starts rounded down, ends at its size. */
        _cleanup_(block_source_freep) BlockSource *odd = NULL;
        _cleanup_free_ DiskExtent *oe = NULL;
        size_t on = 0;
        CHECK(block_source_slice(s, DISK_SIZE - 700, 700, &odd) == 0);
        CHECK(odd && block_map(odd, &oe, &on) == 0);
        CHECK(map_well_formed(oe, on, 700));
        CHECK(on == 1 && oe[0].offset == 0 && oe[0].length == 700);

        /* Memory: everything. */
        _cleanup_(block_source_freep) BlockSource *m = NULL;
        _cleanup_free_ DiskExtent *me = NULL;
        size_t mn = 0;
        CHECK(block_source_from_memory(disk, DISK_SIZE, &m) == 0);
        CHECK(block_map(m, &me, &mn) == 0);
        CHECK(mn == 1 && me[0].offset == 0 && me[0].length == DISK_SIZE);
}

static bool have_qemu_img(void) {
        return system("qemu-img --version >/dev/null 2>&1") == 0;
}

static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...) {
        char cmd[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        int r = system(cmd);
        if (r != 0)
                fprintf(stderr, "command failed (%d): %s\n", r, cmd);
        return r;
}

/* Opens path as a container and checks it reads as disk (then zeros to its
 * virtual size) and maps what it must. */
static void check_container(const char *path, const char *format, const uint8_t *disk, bool expect_holes) {
        Diagnostics d = {};
        BlockSource *file = open_file(path), *c = NULL;
        CHECK(file && block_open_container(file, &c, &d) == 0);
        diagnostics_release(&d);
        if (!c) {
                block_source_free(file);
                return;
        }
        CHECK_STREQ(c->format, format);
        CHECK(c->size >= DISK_SIZE);
        uint8_t *back = malloc(c->size);
        CHECK(block_read(c, 0, back, c->size) == 0);
        CHECK(memcmp(back, disk, DISK_SIZE) == 0);
        bool rest_zero = true;
        for (uint64_t i = DISK_SIZE; i < c->size; i++)
                rest_zero = rest_zero && back[i] == 0;
        CHECK(rest_zero);
        free(back);

        DiskExtent *e = NULL;
        size_t n = 0;
        CHECK(block_map(c, &e, &n) == 0);
        CHECK(map_well_formed(e, n, c->size));
        CHECK(map_covers(e, n, disk, DISK_SIZE));
        if (expect_holes) {
                CHECK(!in_map(e, n, 3 * MiB));
                CHECK(mapped(e, n) <= 3 * 2 * MiB); /* three data places, blocks of at most 2 MiB */
        }
        if (unit_failures)
                fprintf(stderr, "  (%s: %zu ranges, %llu bytes mapped)\n", path, n,
                        (unsigned long long) mapped(e, n));
        free(e);
        block_source_free(c);
}

static void test_qemu_containers(void) {
        if (!have_qemu_img()) {
                fprintf(stderr, "SKIP qemu-img containers: no qemu-img\n");
                return;
        }
        _cleanup_free_ uint8_t *disk = make_disk();
        _cleanup_free_ char *raw = path_in("disk.raw");
        write_file(raw, disk, DISK_SIZE, true);
        static const struct {
                const char *name, *args, *format;
                bool holes;
        } cases[] = {
                { "q.qcow2", "-O qcow2", "qcow2", true },
                { "qc.qcow2", "-O qcow2 -c", "qcow2", true },
                { "q.vhdx", "-O vhdx -o block_size=1M", "vhdx", true },
                { "dyn.vhd", "-O vpc -o subformat=dynamic,force_size=on", "vhd", true },
                { "dynchs.vhd", "-O vpc -o subformat=dynamic", "vhd", true },
                { "fix.vhd", "-O vpc -o subformat=fixed,force_size=on", "vhd", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *p = path_in(cases[i].name);
                if (run("qemu-img convert -f raw %s '%s' '%s'", cases[i].args, raw, p) != 0) {
                        CHECK(false);
                        continue;
                }
                check_container(p, cases[i].format, disk, cases[i].holes);
        }

        /* The zero flag (qcow2.txt, standard cluster descriptor bit 0) on
         * the cluster at 1 MiB: it leaves the map and reads as zeros. */
        _cleanup_free_ char *q = path_in("q.qcow2");
        int fd = open(q, O_RDWR | O_CLOEXEC);
        CHECK(fd >= 0);
        uint64_t l1_off, l2_off, entry;
        CHECK(pread(fd, &l1_off, 8, 40) == 8);
        CHECK(pread(fd, &l2_off, 8, (off_t) (be64toh(l1_off))) == 8);
        l2_off = be64toh(l2_off) & UINT64_C(0x00fffffffffffe00);
        off_t at = (off_t) (l2_off + (MiB / (64 * KiB)) * 8);
        CHECK(pread(fd, &entry, 8, at) == 8);
        CHECK(be64toh(entry) & UINT64_C(0x00fffffffffffe00)); /* allocated before */
        entry = htobe64(be64toh(entry) | 1);
        CHECK(pwrite(fd, &entry, 8, at) == 8);
        close(fd);
        Diagnostics d = {};
        BlockSource *file = open_file(q), *c = NULL;
        CHECK(block_open_container(file, &c, &d) == 0);
        diagnostics_release(&d);
        if (c) {
                DiskExtent *e = NULL;
                size_t n = 0;
                uint8_t b[512];
                CHECK(block_map(c, &e, &n) == 0);
                CHECK(!in_map(e, n, MiB));
                CHECK(in_map(e, n, 5 * MiB + 100));
                CHECK(block_read(c, MiB, b, sizeof b) == 0 && b[0] == 0 && b[511] == 0);
                free(e);
                block_source_free(c);
        } else
                block_source_free(file);
}

/* ---- a dynamic VHD built here ---- */

#define BS 4096u /* block size: 8 sectors, a bitmap of one byte padded to a sector */
#define BLOCKS 4u
#define VSIZE (BS * BLOCKS)

static void put32(uint8_t *p, uint32_t v) {
        v = htobe32(v);
        memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v) {
        v = htobe64(v);
        memcpy(p, &v, 8);
}

static void checksum(uint8_t *p, size_t n, size_t at) {
        uint32_t sum = 0;
        put32(p + at, 0);
        for (size_t i = 0; i < n; i++)
                sum += p[i];
        put32(p + at, ~sum);
}

/* Layout: footer copy at 0, header at 512, BAT at 1536 (one sector), blocks
 * from 2048 (each 512 + BS bytes), footer at the end. Block 1 unallocated;
 * block 2's bitmap has sectors 0, 3 and 7 only, with 0xEE behind the clear
 * bits. *ret_want is what the disk must read as. */
static uint8_t *make_vhd(size_t *ret_size, uint8_t **ret_want, uint32_t type) {
        const uint64_t blocks_at = 2048, stride = 512 + BS;
        size_t size = (size_t) (blocks_at + 3 * stride + 512);
        uint8_t *f = calloc(1, size), *want = calloc(1, VSIZE);
        uint8_t footer[512] = {};
        memcpy(footer, "conectix", 8);
        put32(footer + 8, 2);
        put32(footer + 12, 0x00010000);
        put64(footer + 16, 512); /* data offset: the header */
        memcpy(footer + 28, "test", 4);
        put64(footer + 40, VSIZE);
        put64(footer + 48, VSIZE);
        put32(footer + 60, type);
        checksum(footer, 512, 64);
        memcpy(f, footer, 512);
        memcpy(f + size - 512, footer, 512);

        uint8_t *h = f + 512;
        memcpy(h, "cxsparse", 8);
        put64(h + 8, UINT64_MAX);
        put64(h + 16, 1536);
        put32(h + 24, 0x00010000);
        put32(h + 28, BLOCKS);
        put32(h + 32, BS);
        /* parent name "base.vhd" (UTF-16BE) at 64 */
        const char *parent = "base.vhd";
        for (size_t i = 0; parent[i]; i++)
                h[64 + 2 * i + 1] = (uint8_t) parent[i];
        checksum(h, 1024, 36);

        uint32_t bat[BLOCKS] = { 0, UINT32_MAX, 0, 0 };
        for (unsigned b = 0, k = 0; b < BLOCKS; b++) {
                if (bat[b] == UINT32_MAX) {
                        put32(f + 1536 + 4 * b, UINT32_MAX);
                        continue;
                }
                uint64_t at = blocks_at + k++ * stride;
                put32(f + 1536 + 4 * b, (uint32_t) (at / 512));
                uint8_t bits = b == 2 ? 0x80 | 0x10 | 0x01 : 0xFF;
                f[at] = bits;
                for (unsigned s = 0; s < BS / 512; s++) {
                        bool present = bits & (0x80 >> s);
                        uint8_t *data = f + at + 512 + s * 512;
                        for (unsigned i = 0; i < 512; i++)
                                data[i] = present ? (uint8_t) (b * 31 + s * 7 + i + 1) : 0xEE;
                        if (present)
                                memcpy(want + b * BS + s * 512, data, 512);
                }
        }
        for (unsigned s = 0; s < 256; s++) /* the rest of the BAT sector */
                if (s >= BLOCKS)
                        put32(f + 1536 + 4 * s, UINT32_MAX);
        *ret_size = size;
        *ret_want = want;
        return f;
}

static int open_vhd_memory(const uint8_t *data, size_t size, BlockSource **ret, Diagnostics *d) {
        BlockSource *m = NULL;
        if (block_source_from_memory(data, size, &m) < 0)
                return -ENOMEM;
        int r = block_open_vhd(m, ret, d);
        if (r < 0)
                block_source_free(m);
        return r;
}

static bool diag_has(const Diagnostics *d, const char *s) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, s))
                        return true;
        return false;
}

static void test_vhd_dynamic(void) {
        size_t size;
        _cleanup_free_ uint8_t *want = NULL;
        _cleanup_free_ uint8_t *f = make_vhd(&size, &want, 3);
        Diagnostics d = {};
        BlockSource *v = NULL;
        CHECK(open_vhd_memory(f, size, &v, &d) == 0);
        if (v) {
                uint8_t back[VSIZE];
                CHECK(v->size == VSIZE);
                CHECK_STREQ(v->format, "vhd");
                CHECK(block_read(v, 0, back, VSIZE) == 0);
                CHECK(memcmp(back, want, VSIZE) == 0);
                /* Reads across blocks and bitmap runs, one byte at a time. */
                bool same = true;
                for (uint64_t i = 0; i < VSIZE; i += 97) {
                        uint8_t b;
                        same = same && block_read(v, i, &b, 1) == 0 && b == want[i];
                }
                CHECK(same);
                CHECK(block_read(v, 2 * BS + 512 + 10, back, 1500) == 0 &&
                      memcmp(back, want + 2 * BS + 512 + 10, 1500) == 0);
                DiskExtent *e = NULL;
                size_t n = 0;
                CHECK(block_map(v, &e, &n) == 0);
                CHECK(n == 2 && e[0].offset == 0 && e[0].length == BS && e[1].offset == 2 * BS &&
                      e[1].length == 2 * BS);
                free(e);
                v = block_source_free(v);
        }
        diagnostics_release(&d);

        /* A bad header checksum. */
        _cleanup_free_ uint8_t *bad = malloc(size);
        memcpy(bad, f, size);
        bad[512 + 40] ^= 1;
        CHECK(open_vhd_memory(bad, size, &v, &d) == -EBADMSG && diag_has(&d, "cxsparse"));
        diagnostics_release(&d);

        /* Cut short: the footer at the end is gone, the copy at 0 says so. */
        CHECK(open_vhd_memory(f, size - 700, &v, &d) == -EBADMSG && diag_has(&d, "truncated"));
        diagnostics_release(&d);

        /* A block past the end (the footer moved to the new end). */
        memcpy(bad, f, size);
        put32(bad + 1536 + 12, (uint32_t) (size / 512 - 2));
        CHECK(open_vhd_memory(bad, size, &v, &d) == -EBADMSG && diag_has(&d, "block 3"));
        diagnostics_release(&d);

        /* A BAT shorter than the disk needs. */
        memcpy(bad, f, size);
        put32(bad + 512 + 28, BLOCKS - 1);
        checksum(bad + 512, 1024, 36);
        CHECK(open_vhd_memory(bad, size, &v, &d) == -EBADMSG && diag_has(&d, "BAT"));
        diagnostics_release(&d);

        /* Differencing: refused, naming the parent. */
        _cleanup_free_ uint8_t *want2 = NULL;
        _cleanup_free_ uint8_t *diff = make_vhd(&size, &want2, 4);
        CHECK(open_vhd_memory(diff, size, &v, &d) == -EOPNOTSUPP && diag_has(&d, "differencing") &&
              diag_has(&d, "'base.vhd'"));
        diagnostics_release(&d);
}

static void setup(void) {
        CHECK(mkdtemp(tmpdir) != NULL);
}

static void teardown(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        CHECK(system(cmd) == 0);
}

UNIT_MAIN(setup, test_map_file_memory_slice, test_qemu_containers, test_vhd_dynamic, teardown)
