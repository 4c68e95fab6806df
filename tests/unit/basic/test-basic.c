/* SPDX-License-Identifier: MIT */
/* Unit tests of src/basic: compression (concatenated frames and members, as
 * repository metadata is written) and vectored writes. */

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/sde.h"
#include "../unit.h"

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

/* Chunked compression: round trip, byte-identical whatever the number of
 * threads, and one frame (member) per chunk; xz is read as well. */
static void check_chunked(bool gzip) {
        size_t n = 3 * 65536 + 123, chunk = 65536;
        _cleanup_free_ char *d = malloc(n);
        for (size_t i = 0; i < n; i++)
                d[i] = (char) ((i * 2654435761u) >> 13);
        uint8_t *a = NULL, *b = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        size_t al, bl, lo, ac = 0, bc = 0;
        CHECK((gzip ? gzip_compress_chunked(d, n, chunk, 1, &a, &al, &ac) : zstd_compress_chunked(d, n, 3, chunk, 1, &a, &al, &ac)) == 0);
        CHECK((gzip ? gzip_compress_chunked(d, n, chunk, 4, &b, &bl, &bc) : zstd_compress_chunked(d, n, 3, chunk, 4, &b, &bl, &bc)) == 0);
        CHECK(a && b && al == bl && memcmp(a, b, al) == 0);
        CHECK(decompress_any(a, al, &out, &lo) == 0);
        CHECK(out && lo == n && memcmp(out, d, n) == 0);
        /* Four pieces: four magic numbers at frame starts (the first at 0). */
        size_t magics = 0;
        for (size_t i = 0; i + 4 <= al; i++)
                if (gzip ? (a[i] == 0x1F && a[i + 1] == 0x8B && a[i + 2] == 8 && a[i + 3] == 0)
                         : (a[i] == 0x28 && a[i + 1] == 0xB5 && a[i + 2] == 0x2F && a[i + 3] == 0xFD))
                        magics++;
        CHECK(magics >= 4);
        CHECK(a[0] == (gzip ? 0x1F : 0x28));
        /* Streamed in odd pieces through a pipe of rounds: the same bytes. */
        char tmpl[] = "/tmp/test-basic-cw-XXXXXX";
        int fd = mkstemp(tmpl);
        CHECK(fd >= 0);
        ChunkedWriter *w = NULL;
        CHECK(chunked_writer_new(fd, gzip, 3, chunk, 1, &w) == 0);
        for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 + 7)
                CHECK(chunked_writer_write(w, d + off, MIN(step, n - off)) == 0);
        uint64_t written = 0;
        CHECK(chunked_writer_finish(w, &written) == 0);
        CHECK(written == al);
        _cleanup_free_ char *streamed = NULL;
        size_t sl;
        CHECK(read_full_file(tmpl, &streamed, &sl) == 0);
        CHECK(sl == al && memcmp(streamed, a, al) == 0);
        close(fd);
        unlink(tmpl);
        huge_free(a, ac);
        huge_free(b, bc);
        /* Empty input is one empty frame. */
        uint8_t *e = NULL;
        _cleanup_free_ uint8_t *eo = NULL;
        size_t el, eol, ec = 0;
        CHECK((gzip ? gzip_compress_chunked(d, 0, chunk, 2, &e, &el, &ec) : zstd_compress_chunked(d, 0, 3, chunk, 2, &e, &el, &ec)) == 0);
        CHECK(decompress_any(e, el, &eo, &eol) == 0 && eol == 0);
        huge_free(e, ec);
}

static void test_chunked_zstd(void) {
        check_chunked(false);
}

static void test_chunked_gzip(void) {
        check_chunked(true);
}

static void test_xz(void) {
        /* 1000 lines of "hello" as xz(1) writes them. */
        FILE *g = popen("printf 'hello\\n%.0s' $(seq 1000) | xz -c", "r");
        uint8_t xzbuf[8192];
        size_t xl = g ? fread(xzbuf, 1, sizeof xzbuf, g) : 0;
        if (g)
                pclose(g);
        CHECK(xl > 6 && memcmp(xzbuf, "\xFD" "7zXZ", 5) == 0);
        _cleanup_free_ uint8_t *out = NULL;
        size_t lo;
        CHECK(decompress_any(xzbuf, xl, &out, &lo) == 0);
        CHECK(lo == 6000 && out && memcmp(out, "hello\nhello\n", 12) == 0);
        /* Truncated: an error, not a short result. */
        _cleanup_free_ uint8_t *out2 = NULL;
        CHECK(decompress_any(xzbuf, xl - 4, &out2, &lo) == -EBADMSG);
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

static void test_source_date_epoch(void) {
        static const struct {
                const char *s;
                uint64_t v;
        } good[] = {
                { "0", 0 },
                { "1234", 1234 },
                { "0001767225600", 1767225600 },
                { "4294967296", UINT64_C(4294967296) },
                { "253402300799", SOURCE_DATE_EPOCH_MAX },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                uint64_t v = 7;
                CHECK(source_date_epoch_parse(good[i].s, &v) == 0 && v == good[i].v);
        }
        static const char *const bad[] = {
                "", " 1", "1 ", "+1", "-1", "-0", "0x10", "1e9", "1.5", "12a", "yesterday",
                "253402300800", "18446744073709551616", "99999999999999999999999999", "\xd9\xa1",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint64_t v = 7;
                CHECK(source_date_epoch_parse(bad[i], &v) == -EINVAL && v == 7);
        }
        uint64_t v = 7;
        CHECK(source_date_epoch_parse(NULL, &v) == -EINVAL && v == 7);

        /* The environment: unset and empty are "not given", anything else is
         * parsed by the same rules and an error is recorded. */
        _cleanup_(diagnostics_releasep) Diagnostics d = {};
        CHECK(unsetenv("SOURCE_DATE_EPOCH") == 0);
        CHECK(source_date_epoch_from_env(&d, &v) == 0 && v == 7);
        CHECK(setenv("SOURCE_DATE_EPOCH", "", 1) == 0);
        CHECK(source_date_epoch_from_env(&d, &v) == 0 && v == 7 && d.n == 0);
        CHECK(setenv("SOURCE_DATE_EPOCH", "1700000000", 1) == 0);
        CHECK(source_date_epoch_from_env(&d, &v) == 1 && v == 1700000000 && d.n == 0);
        CHECK(setenv("SOURCE_DATE_EPOCH", " 1700000000", 1) == 0);
        v = 7;
        CHECK(source_date_epoch_from_env(&d, &v) == -EINVAL && v == 7 && d.n_errors == 1);
        CHECK(d.n == 1 && strstr(d.items[0].message, "SOURCE_DATE_EPOCH=' 1700000000' is not valid"));
        CHECK(unsetenv("SOURCE_DATE_EPOCH") == 0);
}


typedef struct Collect {
        uint8_t *buf;
        size_t len, cap;
        int fail_at; /* the piece number that fails with -ENOSPC; 0: none */
        int pieces;
} Collect;

static int collect(void *userdata, const void *data, size_t n) {
        Collect *c = userdata;
        if (++c->pieces == c->fail_at)
                return -ENOSPC;
        if (c->len + n > c->cap)
                return -EFBIG;
        memcpy(c->buf + c->len, data, n);
        c->len += n;
        return 0;
}

/* decompress_fd(): gzip members, zstd frames, xz and plain bytes, read from a
 * file at an offset in pieces smaller than the input. */
static void test_decompress_fd(void) {
        const size_t n = 3 * ((size_t) 1 << 20) + 777;
        _cleanup_free_ uint8_t *data = malloc(n), *got = malloc(n + 16);
        CHECK(data && got);
        uint64_t x = 0x9E3779B97F4A7C15u;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data[i] = i % 3 ? (uint8_t) x : 'a'; /* compressible a little: members of ~700 KiB */
        }
        char path[] = "/tmp/test-basic-dfd-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        unlink(path);
        for (int kind = 0; kind < 4; kind++) {
                uint8_t *z = NULL;
                size_t zl = 0, cap = 0;
                bool huge = false;
                if (kind == 0) {
                        CHECK(gzip_compress_chunked(data, n, (size_t) 1 << 20, 2, &z, &zl, &cap) == 0);
                        huge = true;
                } else if (kind == 1) {
                        CHECK(zstd_compress_chunked(data, n, 3, (size_t) 1 << 20, 2, &z, &zl, &cap) == 0);
                        huge = true;
                } else if (kind == 2) {
                        char raw[] = "/tmp/test-basic-raw-XXXXXX";
                        int rfd = mkstemp(raw);
                        CHECK(rfd >= 0 && loop_write(rfd, data, n) == 0);
                        close(rfd);
                        char cmd[128];
                        snprintf(cmd, sizeof cmd, "xz -c -0 %s", raw);
                        FILE *g = popen(cmd, "r");
                        z = malloc(2 * n);
                        zl = g && z ? fread(z, 1, 2 * n, g) : 0;
                        if (g)
                                pclose(g);
                        unlink(raw);
                        CHECK(zl > 6);
                } else {
                        z = malloc(n);
                        memcpy(z, data, n);
                        zl = n;
                }
                CHECK(ftruncate(fd, 0) == 0);
                CHECK(pwrite(fd, "garbage", 7, 0) == 7);
                CHECK(pwrite(fd, z, zl, 7) == (ssize_t) zl);
                Collect c = { .buf = got, .cap = n + 16 };
                CHECK(decompress_fd(fd, 7, UINT64_MAX, UINT64_MAX, collect, &c) == 0);
                CHECK(c.len == n && memcmp(got, data, n) == 0);
                /* A length: the bytes after it are not read. */
                CHECK(pwrite(fd, "trailing", 8, 7 + (off_t) zl) == 8);
                c = (Collect) { .buf = got, .cap = n + 16 };
                CHECK(decompress_fd(fd, 7, zl, UINT64_MAX, collect, &c) == 0);
                CHECK(c.len == n && memcmp(got, data, n) == 0);
                /* Too much out. */
                c = (Collect) { .buf = got, .cap = n + 16 };
                CHECK(decompress_fd(fd, 7, zl, n - 1, collect, &c) == -EFBIG);
                /* The sink's error stops it. */
                c = (Collect) { .buf = got, .cap = n + 16, .fail_at = 2 };
                CHECK(decompress_fd(fd, 7, zl, UINT64_MAX, collect, &c) == -ENOSPC);
                if (kind < 3) {
                        /* Cut short: an error, not a shorter result. */
                        c = (Collect) { .buf = got, .cap = n + 16 };
                        CHECK(decompress_fd(fd, 7, zl - 5, UINT64_MAX, collect, &c) == -EBADMSG);
                }
                if (huge)
                        huge_free(z, cap);
                else
                        free(z);
        }
        close(fd);
}

/* An xz stream whose block header asks for a 3 GiB dictionary (the LZMA2
 * filter's property rewritten with liblzma, the header keeping its size): the
 * decoders refuse it rather than allocate that much for 6000 bytes. */
static void test_xz_dictionary(void) {
        FILE *g = popen("printf 'hello\\n%.0s' $(seq 1000) | xz -c -0", "r");
        uint8_t b[8192];
        size_t l = g ? fread(b, 1, sizeof b, g) : 0;
        if (g)
                pclose(g);
        CHECK(l > 24 && memcmp(b, "\xFD" "7zXZ", 5) == 0);
        if (l <= 24)
                return;
        lzma_filter f[LZMA_FILTERS_MAX + 1];
        lzma_block blk = { .version = 0, .check = LZMA_CHECK_CRC64, .filters = f };
        blk.header_size = lzma_block_header_size_decode(b[12]); /* after the 12-byte stream header */
        CHECK(lzma_block_header_decode(&blk, NULL, b + 12) == LZMA_OK);
        CHECK(f[0].id == LZMA_FILTER_LZMA2);
        ((lzma_options_lzma *) f[0].options)->dict_size = (uint32_t) 3 << 30;
        uint32_t hs = blk.header_size;
        CHECK(lzma_block_header_size(&blk) == LZMA_OK && blk.header_size == hs);
        CHECK(lzma_block_header_encode(&blk, b + 12) == LZMA_OK);
        for (size_t i = 0; f[i].id != LZMA_VLI_UNKNOWN; i++)
                free(f[i].options);

        _cleanup_free_ uint8_t *out = NULL;
        size_t lo = 0;
        CHECK(decompress_any(b, l, &out, &lo) == -EBADMSG);
        char path[] = "/tmp/test-basic-xzd-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        unlink(path);
        CHECK(loop_write(fd, b, l) == 0);
        uint8_t got[8192];
        Collect c = { .buf = got, .cap = sizeof got };
        CHECK(decompress_fd(fd, 0, UINT64_MAX, UINT64_MAX, collect, &c) == -EBADMSG);
        close(fd);
}

UNIT_MAIN(test_concat_zstd, test_concat_gzip, test_zstd_large, test_chunked_zstd, test_chunked_gzip, test_xz, test_xz_dictionary, test_writev, test_source_date_epoch, test_decompress_fd)
