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
#include "rpm/dep.h"
#include "rpm/files.h"
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
        CHECK(rpm_dependency_parse(s, &d) == 0);
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
        CHECK(rpm_dependency_parse("foo >=", &x) < 0);
        CHECK(rpm_dependency_parse("foo 1.0", &x) < 0);

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


/* A valid file list of four files (a directory, a file, a symbolic link and
 * a hard link to the file) under two directories; mutate() then replaces or
 * adds tags (a tag added twice replaces the first), omit leaves tags out. */
typedef void (*FilesMutation)(RpmHeaderBuilder *b);

static int files_case(FilesMutation mutate, uint32_t omit, RpmFileList *ret, const char **ret_why, RpmHeader **ret_h) {
        RpmHeaderBuilder *b = rpm_header_builder_new();
        const char *bases[] = { "etc", "hello", "hello-link", "hello.hard" };
        const char *dirs[] = { "/", "/usr/bin/" };
        uint32_t idx[] = { 0, 1, 1, 1 };
        uint16_t modes[] = { 040755, 0100755, 0120777, 0100755 };
        uint32_t sizes[] = { 4096, 5, 5, 5 }, mtimes[] = { 1, 2, 3, 4 }, flags[] = { 0, RPMFILE_CONFIG, 0, 0 };
        uint32_t inodes[] = { 1, 2, 3, 2 };
        const char *users[] = { "root", "bin", "root", "bin" }, *links[] = { "", "", "hello", "" };
        rpm_header_add_string(b, RPMTAG_NAME, "hello");
        if (omit != RPMTAG_BASENAMES)
                rpm_header_add_strings(b, RPMTAG_BASENAMES, bases, 4);
        if (omit != RPMTAG_DIRNAMES)
                rpm_header_add_strings(b, RPMTAG_DIRNAMES, dirs, 2);
        if (omit != RPMTAG_DIRINDEXES)
                rpm_header_add_int32(b, RPMTAG_DIRINDEXES, idx, 4);
        if (omit != RPMTAG_FILEMODES)
                rpm_header_add_int16(b, RPMTAG_FILEMODES, modes, 4);
        if (omit != RPMTAG_FILESIZES)
                rpm_header_add_int32(b, RPMTAG_FILESIZES, sizes, 4);
        rpm_header_add_int32(b, RPMTAG_FILEMTIMES, mtimes, 4);
        rpm_header_add_int32(b, RPMTAG_FILEFLAGS, flags, 4);
        rpm_header_add_int32(b, RPMTAG_FILEINODES, inodes, 4);
        if (omit != RPMTAG_FILEUSERNAME)
                rpm_header_add_strings(b, RPMTAG_FILEUSERNAME, users, 4);
        if (omit != RPMTAG_FILELINKTOS)
                rpm_header_add_strings(b, RPMTAG_FILELINKTOS, links, 4);
        if (mutate)
                mutate(b);
        uint8_t *blob = NULL;
        size_t size = 0;
        RpmHeader *h = NULL;
        int r = rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &blob, &size);
        rpm_header_builder_free(b);
        if (r >= 0)
                r = rpm_header_parse(blob, size, &h, NULL);
        free(blob);
        if (r < 0) {
                *ret_h = NULL;
                return -999; /* the header itself, not the list */
        }
        r = rpm_header_files(h, ret, ret_why);
        /* The list's strings point into the header: the caller frees it. */
        *ret_h = h;
        return r;
}

static void mut_none(RpmHeaderBuilder *b) {
        (void) b;
}
static void mut_short_modes(RpmHeaderBuilder *b) {
        uint16_t m[] = { 040755, 0100644, 0120777 };
        rpm_header_add_int16(b, RPMTAG_FILEMODES, m, 3);
}
static void mut_long_users(RpmHeaderBuilder *b) {
        const char *u[] = { "a", "b", "c", "d", "e" };
        rpm_header_add_strings(b, RPMTAG_FILEUSERNAME, u, 5);
}
static void mut_dirindex_range(RpmHeaderBuilder *b) {
        uint32_t idx[] = { 0, 1, 2, 1 };
        rpm_header_add_int32(b, RPMTAG_DIRINDEXES, idx, 4);
}
static void mut_slash_base(RpmHeaderBuilder *b) {
        const char *bases[] = { "etc", "hel/lo", "hello-link", "hello.hard" };
        rpm_header_add_strings(b, RPMTAG_BASENAMES, bases, 4);
}
static void mut_empty_base(RpmHeaderBuilder *b) {
        const char *bases[] = { "etc", "hello", "", "hello.hard" };
        rpm_header_add_strings(b, RPMTAG_BASENAMES, bases, 4);
}
static void mut_relative_dir(RpmHeaderBuilder *b) {
        const char *dirs[] = { "/", "usr/bin/" };
        rpm_header_add_strings(b, RPMTAG_DIRNAMES, dirs, 2);
}
static void mut_dir_no_slash(RpmHeaderBuilder *b) {
        const char *dirs[] = { "/", "/usr/bin" };
        rpm_header_add_strings(b, RPMTAG_DIRNAMES, dirs, 2);
}
static void mut_modes_type(RpmHeaderBuilder *b) {
        const char *m[] = { "a", "b", "c", "d" };
        rpm_header_add_strings(b, RPMTAG_FILEMODES, m, 4);
}
static void mut_users_type(RpmHeaderBuilder *b) {
        uint32_t u[] = { 0, 0, 0, 0 };
        rpm_header_add_int32(b, RPMTAG_FILEUSERNAME, u, 4);
}
static void mut_bad_type(RpmHeaderBuilder *b) {
        uint16_t m[] = { 040755, 0100755, 0120777, 0170755 };
        rpm_header_add_int16(b, RPMTAG_FILEMODES, m, 4);
}
static void mut_link_no_target(RpmHeaderBuilder *b) {
        const char *l[] = { "", "", "", "" };
        rpm_header_add_strings(b, RPMTAG_FILELINKTOS, l, 4);
}
static void mut_long_sizes(RpmHeaderBuilder *b) {
        uint64_t s[] = { 1, UINT64_C(1) << 33, 3, 4 };
        rpm_header_add_int64(b, RPMTAG_LONGFILESIZES, s, 4);
}
static void mut_long_sizes_short(RpmHeaderBuilder *b) {
        uint64_t s[] = { 1, 2 };
        rpm_header_add_int64(b, RPMTAG_LONGFILESIZES, s, 2);
}
static void mut_caps_count(RpmHeaderBuilder *b) {
        const char *c[] = { "", "cap_net_raw=ep" };
        rpm_header_add_strings(b, RPMTAG_FILECAPS, c, 2);
}

static void test_header_files(void) {
        RpmFileList l = {};
        const char *why = NULL;
        RpmHeader *h = NULL;

        /* The valid list, decoded. */
        CHECK(files_case(mut_none, 0, &l, &why, &h) == 0 && l.n == 4);
        if (l.n == 4) {
                CHECK_STREQ(l.files[0].path, "/etc");
                CHECK_STREQ(l.files[1].path, "/usr/bin/hello");
                CHECK_STREQ(l.files[2].path, "/usr/bin/hello-link");
                CHECK_STREQ(l.files[3].path, "/usr/bin/hello.hard");
                CHECK(l.files[1].mode == 0100755 && l.files[1].size == 5 && l.files[1].mtime == 2 &&
                      l.files[1].flags == RPMFILE_CONFIG && l.files[1].inode == l.files[3].inode);
                CHECK_STREQ(l.files[1].user, "bin");
                CHECK_STREQ(l.files[2].link, "hello");
        }
        rpm_file_list_release(&l);
        h = rpm_header_free(h);

        /* Optional tags may be absent: no owners is NULL, no sizes is 0. */
        CHECK(files_case(NULL, RPMTAG_FILEUSERNAME, &l, &why, &h) == 0 && l.n == 4);
        CHECK(l.n == 4 && !l.files[1].user && !l.files[1].group);
        rpm_file_list_release(&l);
        h = rpm_header_free(h);
        CHECK(files_case(NULL, RPMTAG_FILESIZES, &l, &why, &h) == 0 && l.n == 4 && l.files[1].size == 0);
        rpm_file_list_release(&l);
        h = rpm_header_free(h);
        /* LONGFILESIZES wins over FILESIZES. */
        CHECK(files_case(mut_long_sizes, 0, &l, &why, &h) == 0 && l.n == 4 && l.files[1].size == UINT64_C(1) << 33);
        rpm_file_list_release(&l);
        h = rpm_header_free(h);

        /* No files at all: no file tags at all. */
        RpmHeaderBuilder *b = rpm_header_builder_new();
        rpm_header_add_string(b, RPMTAG_NAME, "empty");
        uint8_t *blob = NULL;
        size_t size = 0;
        CHECK(rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &blob, &size) == 0);
        rpm_header_builder_free(b);
        CHECK(rpm_header_parse(blob, size, &h, NULL) == 0);
        l = (RpmFileList) { .n = 7 };
        CHECK(h && rpm_header_files(h, &l, &why) == 0 && l.n == 0 && !l.files);
        h = rpm_header_free(h);
        free(blob);

        static const struct {
                FilesMutation mutate;
                uint32_t omit;
                const char *why;
        } bad[] = {
                { NULL, RPMTAG_BASENAMES, "FILEMODES without BASENAMES" },
                { NULL, RPMTAG_DIRNAMES, "BASENAMES without DIRNAMES" },
                { NULL, RPMTAG_DIRINDEXES, "BASENAMES without DIRINDEXES" },
                { NULL, RPMTAG_FILEMODES, "BASENAMES without FILEMODES" },
                { mut_short_modes, 0, "FILEMODES does not have one item per file" },
                { mut_long_users, 0, "FILEUSERNAME does not have one item per file" },
                { mut_long_sizes_short, 0, "LONGFILESIZES does not have one item per file" },
                { mut_caps_count, 0, "FILECAPS does not have one item per file" },
                { mut_dirindex_range, 0, "DIRINDEXES names no directory" },
                { mut_slash_base, 0, "BASENAMES holds a name with a '/'" },
                { mut_empty_base, 0, "BASENAMES holds an empty name outside '/'" },
                { mut_relative_dir, 0, "DIRNAMES holds a name that does not start and end with '/'" },
                { mut_dir_no_slash, 0, "DIRNAMES holds a name that does not start and end with '/'" },
                { mut_modes_type, 0, "FILEMODES has the wrong type" },
                { mut_users_type, 0, "FILEUSERNAME has the wrong type" },
                { mut_bad_type, 0, "FILEMODES holds a mode of no known file type" },
                { mut_link_no_target, 0, "FILELINKTOS gives a symbolic link no target" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                l = (RpmFileList) { .n = 7 };
                why = NULL;
                int r = files_case(bad[i].mutate, bad[i].omit, &l, &why, &h);
                CHECK(r == -EBADMSG && l.n == 7 && !l.files);
                CHECK_STREQ(why, bad[i].why);
                h = rpm_header_free(h);
        }
}

typedef struct RichWalk {
        char names[64];
        int ops;
} RichWalk;

static void walk_simple(void *userdata, const char *name, size_t len) {
        char *names = ((RichWalk *) userdata)->names;
        size_t l = strlen(names);
        if (l + len + 2 <= 64) {
                memcpy(names + l, name, len);
                names[l + len] = ',';
                names[l + len + 1] = 0;
        }
}

static void walk_op(void *userdata, RpmRichOp op) {
        (void) op;
        ((RichWalk *) userdata)->ops++;
}

static void test_dependency_grammar(void) {
        static const struct {
                const char *s, *name;
                uint32_t flags;
                const char *evr;
        } good[] = {
                { "bash", "bash", 0, "" },
                { "bash >= 5.0", "bash", RPMSENSE_GREATER | RPMSENSE_EQUAL, "5.0" },
                { "bash>=5.0", "bash", RPMSENSE_GREATER | RPMSENSE_EQUAL, "5.0" },
                { "bash\t=<\t1:5.0-3.azl4", "bash", RPMSENSE_LESS | RPMSENSE_EQUAL, "1:5.0-3.azl4" },
                { "foo == 1", "foo", RPMSENSE_EQUAL, "1" },
                { "foo => 1~rc1^git2_x+y", "foo", RPMSENSE_GREATER | RPMSENSE_EQUAL, "1~rc1^git2_x+y" },
                { "foo < 2", "foo", RPMSENSE_LESS, "2" },
                { "foo > 2", "foo", RPMSENSE_GREATER, "2" },
                { "perl(Foo::Bar) = 1.0", "perl(Foo::Bar)", RPMSENSE_EQUAL, "1.0" },
                { "/usr/bin/sh", "/usr/bin/sh", 0, "" },
                { "rpmlib(CompressedFileNames) <= 3.0.4-1", "rpmlib(CompressedFileNames)",
                  RPMSENSE_LESS | RPMSENSE_EQUAL, "3.0.4-1" },
                /* An operator inside parentheses is part of the name. */
                { "font(:lang=en)", "font(:lang=en)", 0, "" },
                { "font(:lang=en) = 2", "font(:lang=en)", RPMSENSE_EQUAL, "2" },
                { "(a or b)", "(a or b)", 0, "" },
                { "(foo >= 1.0 if bar)", "(foo >= 1.0 if bar)", 0, "" },
                { "((a and b) or c)", "((a and b) or c)", 0, "" },
                { "(a if b else c)", "(a if b else c)", 0, "" },
                { "(a with b)", "(a with b)", 0, "" },
                { "(a)", "(a)", 0, "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                RpmDep d = {};
                int r = rpm_dependency_parse(good[i].s, &d);
                CHECK(r == 0);
                if (r < 0) {
                        fprintf(stderr, "refused: '%s'\n", good[i].s);
                        continue;
                }
                CHECK_STREQ(d.name, good[i].name);
                CHECK(d.flags == good[i].flags);
                CHECK_STREQ(d.evr, good[i].evr);
                rpm_dep_release(&d);
                CHECK(rpm_dependency_parse(good[i].s, NULL) == 0);
        }
        static const char *const bad[] = {
                "", " bash", "bash ", "bash\n", "bash, coreutils", "foo >=", "foo 1.0", ">= 2.0", "foo <> 1",
                "foo =>= 1", "foo >= 1.0 bar", "foo >= 1.0 ", "foo >= 1%{x}", "foo >= 1/2", "fo\x01o", "foo\x7f",
                "(a b)", "(a or b", "(a or b))", "(a or b) c", "()", "(a and b or c)", "(a if b else c else d)",
                "((a and b) with c)", "(a or)", "(foo >=)",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RpmDep d = { .name = (char *) "untouched" };
                int r = rpm_dependency_parse(bad[i], &d);
                CHECK(r == -EINVAL && strcmp(d.name, "untouched") == 0);
                if (r != -EINVAL)
                        fprintf(stderr, "accepted: '%s'\n", bad[i]);
                CHECK(rpm_dependency_parse(bad[i], NULL) == -EINVAL);
        }

        /* The rich parser's walk: the names in order, the operators. */
        RichWalk w = {};
        const RpmRichVisitor v = {
                .simple = walk_simple,
                .op = walk_op,
                .userdata = &w,
        };
        const char *end = NULL;
        const char *rich = "(a >= 1 or (b if c)) tail";
        CHECK(rpm_rich_parse(rich, &v, &end) == 0 && strcmp(end, " tail") == 0);
        CHECK_STREQ(w.names, "a,b,c,");
        CHECK(w.ops == 2);
}

UNIT_MAIN(test_header_roundtrip, test_header_installed, test_vercmp, test_deps, test_package_roundtrip, test_payload_parse, test_payload_codecs, test_header_files, test_dependency_grammar)
