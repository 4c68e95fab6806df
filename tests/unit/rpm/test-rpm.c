/* SPDX-License-Identifier: MIT */

/* RPM headers (build, parse, reject malformed input), version comparison and
 * dependency matching. The package writer is checked against rpm itself in
 * package_test.py; here only our own reading of what we write. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/compress.h"
#include "basic/fileio.h"
#include "rpm/header.h"
#include "rpm/package.h"
#include "rpm/version.h"
#include "../unit.h"

static void test_header_roundtrip(void) {
        RpmHeaderBuilder *b = rpm_header_builder_new();
        const char *names[] = { "a", "bb", "" };
        uint32_t ints[] = { 1, 0xFFFFFFFFu };
        uint16_t shorts[] = { 0100644, 040755, 3 };
        uint64_t big = 1ull << 40;
        rpm_header_add_string(b, RPMTAG_NAME, "hello");
        rpm_header_add_i18n(b, RPMTAG_SUMMARY, "a summary");
        rpm_header_add_strings(b, RPMTAG_BASENAMES, names, 3);
        rpm_header_add_int32(b, RPMTAG_FILESIZES, ints, 2);
        rpm_header_add_int16(b, RPMTAG_FILEMODES, shorts, 3);
        rpm_header_add_int64(b, RPMTAG_LONGSIZE, &big, 1);
        rpm_header_add_string(b, RPMTAG_VERSION, "old");
        rpm_header_add_string(b, RPMTAG_VERSION, "1.0"); /* replaces */
        uint8_t *blob = NULL;
        size_t size = 0;
        CHECK(rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &blob, &size) == 0);
        rpm_header_builder_free(b);

        RpmHeader *h = NULL;
        size_t used = 0;
        CHECK(rpm_header_parse(blob, size, &h, &used) == 0 && used == size);
        if (h) {
                CHECK(h->n_entries == 8); /* 7 tags + the region */
                CHECK_STREQ(rpm_header_get_string(h, RPMTAG_NAME), "hello");
                CHECK_STREQ(rpm_header_get_string(h, RPMTAG_VERSION), "1.0");
                CHECK_STREQ(rpm_header_get_string(h, RPMTAG_SUMMARY), "a summary");
                uint64_t v = 0;
                CHECK(rpm_header_get_number(h, RPMTAG_LONGSIZE, &v) == 0 && v == big);
                const char **s = NULL;
                size_t n = 0;
                CHECK(rpm_header_get_strings(h, RPMTAG_BASENAMES, &s, &n) == 0 && n == 3);
                if (n == 3) {
                        CHECK_STREQ(s[1], "bb");
                        CHECK_STREQ(s[2], "");
                }
                free(s);
                uint32_t *u = NULL;
                CHECK(rpm_header_get_u32s(h, RPMTAG_FILEMODES, &u, &n) == 0 && n == 3 && u[1] == 040755);
                free(u);
                CHECK(rpm_header_get_u32s(h, RPMTAG_FILESIZES, &u, &n) == 0 && n == 2 && u[1] == 0xFFFFFFFFu);
                free(u);
                CHECK(!rpm_header_get_string(h, RPMTAG_URL));
                /* The region trailer points back over the whole index. */
                RpmEntry e;
                CHECK(rpm_header_get(h, RPMTAG_HEADERIMMUTABLE, &e) == 0 && e.count == 16 && e.type == RPM_BIN_TYPE);
                if (e.data) {
                        int32_t off;
                        memcpy(&off, e.data + 8, 4);
                        CHECK((int32_t) be32toh((uint32_t) off) == -(int32_t) (8 * 16));
                }
        }
        rpm_header_free(h);

        /* Every truncation is rejected, never read past. */
        for (size_t cut = 0; cut < size; cut++) {
                RpmHeader *t = NULL;
                int r = rpm_header_parse(blob, cut, &t, NULL);
                CHECK(r == -ENODATA || r == -EBADMSG);
                rpm_header_free(t);
        }
        /* A corrupted offset or type is rejected. */
        uint8_t *bad = malloc(size);
        memcpy(bad, blob, size);
        bad[16 + 16 + 8] = 0x7F; /* second entry's offset, high byte */
        RpmHeader *t = NULL;
        CHECK(rpm_header_parse(bad, size, &t, NULL) == -EBADMSG);
        memcpy(bad, blob, size);
        bad[16 + 16 + 7] = 42; /* second entry's type */
        CHECK(rpm_header_parse(bad, size, &t, NULL) == -EBADMSG);
        free(bad);
        free(blob);
}

/* An installed header (rpmdb Packages blob): the region verbatim, then added
 * tags, no magic, the index not sorted as a whole. */
static void test_header_installed(void) {
        RpmHeaderBuilder *b = rpm_header_builder_new();
        rpm_header_add_string(b, RPMTAG_NAME, "hello");
        rpm_header_add_string(b, RPMTAG_VERSION, "1.0");
        rpm_header_add_string(b, RPMTAG_RELEASE, "1");
        rpm_header_add_string(b, RPMTAG_ARCH, "noarch");
        uint8_t *blob = NULL, *inst = NULL;
        size_t size = 0, isize = 0, used;
        CHECK(rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &blob, &size) == 0);
        rpm_header_builder_free(b);
        RpmHeader *base = NULL;
        CHECK(rpm_header_parse(blob, size, &base, &used) == 0);
        b = rpm_header_builder_new();
        rpm_header_add_u32(b, RPMTAG_EPOCH, 7);           /* 1003: sorts before ARCH (1022) */
        rpm_header_add_u32(b, 1128 /* INSTALLTID */, 42); /* added after the region */
        CHECK(base && rpm_header_build_appended(b, base, &inst, &isize) == 0);
        rpm_header_builder_free(b);
        rpm_header_free(base);

        /* The sorted parser refuses it; the installed one takes it without the magic. */
        RpmHeader *h = NULL;
        CHECK(inst && rpm_header_parse(inst, isize, &h, NULL) == -EBADMSG);
        CHECK(inst && rpm_header_parse_installed(inst + 8, isize - 8, &h) == 0);
        if (h) {
                uint64_t v = 0;
                CHECK_STREQ(rpm_header_get_string(h, RPMTAG_NAME), "hello");
                CHECK_STREQ(rpm_header_get_string(h, RPMTAG_ARCH), "noarch");
                CHECK(rpm_header_get_number(h, RPMTAG_EPOCH, &v) == 0 && v == 7);
                CHECK(rpm_header_get_number(h, 1128, &v) == 0 && v == 42);
        }
        rpm_header_free(h);
        h = NULL;
        /* Every other size and a corrupted offset are refused, never read past. */
        for (size_t cut = 0; inst && cut < isize - 8; cut++) {
                RpmHeader *t = NULL;
                CHECK(rpm_header_parse_installed(inst + 8, cut, &t) == -EBADMSG && !t);
        }
        if (inst) {
                inst[8 + 8 + 16 + 8] = 0x7F; /* second entry's offset, high byte */
                CHECK(rpm_header_parse_installed(inst + 8, isize - 8, &h) == -EBADMSG && !h);
        }
        free(inst);
        free(blob);
}

static void test_vercmp(void) {
        struct {
                const char *a, *b;
                int want;
        } t[] = {
                { "1.0", "1.0", 0 },       { "1.0", "2.0", -1 },     { "2.0", "1.0", 1 },
                { "2.0.1", "2.0", 1 },     { "2.0", "2.0.1", -1 },   { "1.10", "1.9", 1 },
                { "1.001", "1.1", 0 },     { "1.0a", "1.0", 1 },     { "1.0", "1.0a", -1 },
                { "a", "1", -1 },          { "1", "a", 1 },          { "1.0~rc1", "1.0", -1 },
                { "1.0~rc1", "1.0~rc2", -1 }, { "1.0^git1", "1.0", 1 }, { "1.0^git1", "1.0.1", -1 },
                { "1.0^", "1.0", 1 },      { "5.5p1", "5.5p2", -1 }, { "1.0.", "1.0", 0 },
                { "xyz", "xyz", 0 },       { "abc", "abd", -1 },
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
                int got = rpm_vercmp(t[i].a, t[i].b);
                got = got < 0 ? -1 : got > 0;
                if (got != t[i].want)
                        fprintf(stderr, "vercmp(%s, %s) = %d, want %d\n", t[i].a, t[i].b, got, t[i].want);
                CHECK(got == t[i].want);
        }
        CHECK(rpm_evrcmp("1:1.0-1", "2.0-1") > 0);
        CHECK(rpm_evrcmp("1.0-2", "1.0-10") < 0);
        CHECK(rpm_evrcmp("1.0", "1.0-5") == 0); /* no release: any release */
}

static RpmDep dep(const char *s) {
        RpmDep d = {};
        CHECK(rpm_dep_parse(s, &d) == 0);
        return d;
}

static bool matches(const char *prov, const char *req) {
        RpmDep p = dep(prov), r = dep(req);
        bool m = rpm_dep_matches(&p, &r);
        rpm_dep_release(&p);
        rpm_dep_release(&r);
        return m;
}

static void test_deps(void) {
        RpmDep d = dep("bash >= 5.0");
        CHECK_STREQ(d.name, "bash");
        CHECK(d.flags == (RPMSENSE_GREATER | RPMSENSE_EQUAL));
        CHECK_STREQ(d.evr, "5.0");
        rpm_dep_release(&d);
        d = dep("(a or b)");
        CHECK_STREQ(d.name, "(a or b)");
        rpm_dep_release(&d);
        RpmDep x;
        CHECK(rpm_dep_parse("foo >=", &x) < 0);
        CHECK(rpm_dep_parse("foo 1.0", &x) < 0);

        CHECK(matches("foo = 1.2-1", "foo"));
        CHECK(matches("foo", "foo >= 9"));
        CHECK(matches("foo = 1.2-1", "foo >= 1.0"));
        CHECK(!matches("foo = 1.2-1", "foo >= 2.0"));
        CHECK(matches("foo = 1.2-1", "foo < 2"));
        CHECK(!matches("foo = 1.2-1", "foo < 1.2"));
        CHECK(matches("foo = 1.2-1", "foo = 1.2"));
        CHECK(!matches("foo = 1.2-1", "foo = 1.2-2"));
        CHECK(!matches("bar = 1", "foo"));
}

static void test_package_roundtrip(void) {
        char dir[] = "/tmp/test-rpm-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *src = path_join(dir, "f"), *out = path_join(dir, "p.rpm");
        CHECK(write_file_atomic(src, "data\n", 5, 0644) == 0);
        RpmFile files[] = {
                { .path = "/b", .mode = S_IFREG | 0644, .user = "root", .group = "root", .source = src },
                { .path = "/a", .mode = S_IFLNK | 0777, .user = "root", .group = "root", .link_target = "b" },
        };
        RpmPackageSpec s = { .name = "p", .version = "1", .release = "2", .arch = "noarch", .summary = "s",
                             .description = "d", .license = "MIT", .buildhost = "h", .buildtime = 5,
                             .files = files, .n_files = 2 };
        CHECK(rpm_package_write(&s, out, NULL) == 0);
        /* Sorted by path. */
        CHECK_STREQ(files[0].path, "/a");

        RpmPackage *p = NULL;
        CHECK(rpm_package_read(out, &p) == 0);
        if (p) {
                CHECK_STREQ(rpm_header_get_string(p->header, RPMTAG_NAME), "p");
                CHECK_STREQ(rpm_header_get_string(p->header, RPMTAG_SOURCERPM), "p-1-2.src.rpm");
                CHECK(p->payload_offset > p->header_offset && p->payload_offset < p->file_size);
                CHECK(p->header_offset % 8 == 0);
        }
        rpm_package_free(p);

        /* Paths that collide are refused. */
        RpmFile dup[] = { files[1], files[1] };
        s.files = dup;
        CHECK(rpm_package_write(&s, out, NULL) == -EEXIST);

        /* A source that vanished is named. */
        RpmFile gone[] = { { .path = "/x", .mode = S_IFREG | 0644, .user = "root", .group = "root", .source = "/nonexistent/x" } };
        const char *bad = NULL;
        s.files = gone;
        s.n_files = 1;
        CHECK(rpm_package_write(&s, out, &bad) == -ENOENT);
        CHECK_STREQ(bad, "/nonexistent/x");
        CHECK(rm_rf(dir) == 0);
}

static void test_payload_parse(void) {
        RpmPayload pl;
        CHECK(rpm_payload_parse(NULL, &pl) == 0 && pl.codec == COMPRESS_ZSTD && pl.level == 19);
        CHECK(rpm_payload_parse("w3.zstdio", &pl) == 0 && pl.codec == COMPRESS_ZSTD && pl.level == 3);
        CHECK(rpm_payload_parse("w9.gzdio", &pl) == 0 && pl.codec == COMPRESS_GZIP && pl.level == 9);
        CHECK(rpm_payload_parse("w0.xzdio", &pl) == 0 && pl.codec == COMPRESS_XZ && pl.level == 0);
        CHECK(rpm_payload_parse("w.ufdio", &pl) == 0 && pl.codec == COMPRESS_NONE);
        static const char *const bad[] = { "", "w", "19.zstdio", "w20.zstdio", "w0.zstdio", "w10.gzdio", "w0.gzdio",
                                           "w10.xzdio", "w.zstdio", "w0.ufdio", "w19T8.zstdio", "w9.bzdio",
                                           "w6.lzdio", "w-1.gzdio", "w019.zstdio", "w19.zstdio ", "zstd", NULL };
        for (const char *const *b = bad; *b; b++) {
                CHECK(rpm_payload_check(*b) != NULL);
                CHECK(rpm_payload_parse(*b, &pl) == -EINVAL);
        }
}

static void count_sink(void *userdata, const void *data, size_t n) {
        *(uint64_t *) userdata += n;
}

/* Every codec: our reader finds the digests right, the payload decompresses
 * to the archive size the signature header records, and no temporary file
 * is left beside the package. */
static void test_payload_codecs(void) {
        char dir[] = "/tmp/test-rpm-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *src = path_join(dir, "f"), *out = path_join(dir, "p.rpm");
        _cleanup_free_ char *data = malloc(3 << 20);
        CHECK(data != NULL);
        for (size_t i = 0; data && i < (size_t) 3 << 20; i++)
                data[i] = (char) ((i * 2654435761u) >> 13);
        CHECK(data && write_file_atomic(src, data, 3 << 20, 0644) == 0);
        static const char *const payloads[] = { "w19.zstdio", "w1.zstdio", "w6.gzdio", "w1.xzdio", "w.ufdio", NULL };
        for (const char *const *pl = payloads; *pl; pl++) {
                RpmFile files[] = {
                        { .path = "/d", .mode = S_IFDIR | 0755, .user = "root", .group = "root" },
                        { .path = "/d/f", .mode = S_IFREG | 0644, .user = "root", .group = "root", .source = src },
                };
                RpmPackageSpec s = { .name = "p", .version = "1", .release = "2", .arch = "noarch", .summary = "s",
                                     .description = "d", .license = "MIT", .buildhost = "h", .buildtime = 5,
                                     .files = files, .n_files = 2, .threads = 2 };
                CHECK(rpm_payload_parse(*pl, &s.payload) == 0);
                CHECK(rpm_package_write(&s, out, NULL) == 0);
                const char *what = NULL;
                CHECK(rpm_package_check_digests(out, &what) == 0);

                RpmPackage *p = NULL;
                void *map = NULL;
                size_t size = 0;
                uint64_t got = 0;
                CHECK(rpm_package_read(out, &p) == 0);
                CHECK(map_file(out, &map, &size) == 0);
                if (p && map) {
                        RpmEntry e;
                        CHECK(rpm_header_get(p->signature, RPMSIGTAG_PAYLOADSIZE, &e) == 0);
                        CHECK(decompress_stream((const uint8_t *) map + p->payload_offset, size - p->payload_offset,
                                                UINT64_MAX, count_sink, &got) == 0);
                        /* 110 + "./d" + pad, 110 + "./d/f" + pad + data, trailer */
                        CHECK(got == 116 + 116 + ((uint64_t) 3 << 20) + 124);
                        uint32_t be = 0;
                        if (e.count == 1 && e.size >= 4)
                                memcpy(&be, e.data, 4);
                        CHECK(e.count == 1 && be32toh(be) == got);
                }
                if (map)
                        munmap(map, size);
                rpm_package_free(p);
                _cleanup_(closedirp) DIR *dd = opendir(dir);
                size_t n = 0;
                for (struct dirent *de; dd && (de = readdir(dd));)
                        n += de->d_name[0] != '.';
                CHECK(n == 2);
        }
        CHECK(rm_rf(dir) == 0);
}

UNIT_MAIN(test_header_roundtrip, test_header_installed, test_vercmp, test_deps, test_package_roundtrip,
          test_payload_parse, test_payload_codecs)
