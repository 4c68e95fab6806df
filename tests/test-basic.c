/* SPDX-License-Identifier: MIT */
/* Unit tests of src/basic: compression (concatenated frames and members, as
 * repository metadata is written) and vectored writes. */

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "unit.h"

/* Two pieces compressed separately and concatenated decompress as one. */
static void check_concat(bool zstd) {
        const char *a = "<metadata packages=\"2\">\n", *b = "  <package>one</package>\n  <package>two</package>\n</metadata>\n";
        _cleanup_free_ uint8_t *za = NULL, *zb = NULL, *out = NULL;
        size_t la, lb, lo;
        CHECK((zstd ? zstd_compress_tables(a, strlen(a), 3, 13, &za, &la) : gzip_compress(a, strlen(a), &za, &la)) == 0);
        CHECK((zstd ? zstd_compress_tables(b, strlen(b), 3, 13, &zb, &lb) : gzip_compress(b, strlen(b), &zb, &lb)) == 0);
        _cleanup_free_ uint8_t *cat = malloc(la + lb);
        memcpy(cat, za, la);
        memcpy(cat + la, zb, lb);
        _cleanup_free_ char *want = malloc(strlen(a) + strlen(b) + 1);
        strcpy(want, a);
        strcat(want, b);

        CHECK(decompress_any(cat, la + lb, &out, &lo) == 0);
        CHECK(out && lo == strlen(want) && memcmp(out, want, lo) == 0);

        char buf[256];
        size_t n;
        CHECK(decompress_into(cat, la + lb, buf, sizeof buf, &n) == 0);
        CHECK(n == strlen(want) && memcmp(buf, want, n) == 0);
        /* Too small a buffer. */
        CHECK(decompress_into(cat, la + lb, buf, 10, &n) == -EFBIG);
        /* Cut short: an error, not a shorter document. */
        free(out);
        out = NULL;
        CHECK(decompress_any(cat, la + lb - 3, &out, &lo) < 0);
        CHECK(decompress_into(cat, la + lb - 3, buf, sizeof buf, &n) < 0);
        /* One byte changed inside the second frame: its checksum (zstd
         * content checksum, gzip CRC) catches it. */
        cat[la + lb / 2] ^= 0x55;
        CHECK(decompress_into(cat, la + lb, buf, sizeof buf, &n) < 0);
        free(out);
        out = NULL;
        CHECK(decompress_any(cat, la + lb, &out, &lo) < 0);
}

static void test_concat_zstd(void) {
        check_concat(true);
}

static void test_concat_gzip(void) {
        check_concat(false);
}

/* A large zstd stream whose output exceeds the streaming buffer after the
 * input is consumed. */
static void test_zstd_large(void) {
        size_t n = 1 << 20;
        _cleanup_free_ char *d = malloc(n);
        for (size_t i = 0; i < n; i++)
                d[i] = (char) ('a' + i % 7);
        _cleanup_free_ uint8_t *z = NULL, *out = NULL;
        size_t zl, lo;
        CHECK(zstd_compress(d, n, 3, &z, &zl) == 0);
        CHECK(decompress_any(z, zl, &out, &lo) == 0);
        CHECK(out && lo == n && memcmp(out, d, n) == 0);
}

static void test_writev(void) {
        char dir[] = "/tmp/test-basic-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *p = path_join(dir, "f");
        /* More pieces than one writev() takes, some empty. */
        struct iovec iov[3000];
        static const char letters[] = "abcdefghij";
        for (size_t i = 0; i < 3000; i++)
                iov[i] = (struct iovec) { (void *) (letters + i % 10), i % 4 == 3 ? 0 : 1 };
        CHECK(write_file_atomic_iov(p, iov, 3000, 0644, false) == 0);
        _cleanup_free_ char *got = NULL;
        size_t gl;
        CHECK(read_full_file(p, &got, &gl) == 0);
        CHECK(gl == 2250);
        size_t k = 0;
        bool same = true;
        for (size_t i = 0; i < 3000; i++)
                if (i % 4 != 3)
                        same = same && got[k++] == letters[i % 10];
        CHECK(same);
        void *m;
        size_t ml;
        CHECK(map_file(p, &m, &ml) == 0 && ml == 2250 && memcmp(m, got, ml) == 0);
        munmap(m, ml);
        CHECK(rm_rf(dir) == 0);
}

UNIT_MAIN(test_concat_zstd, test_concat_gzip, test_zstd_large, test_writev)
