/* SPDX-License-Identifier: MIT */
/* Unit tests of the tree (src/tree/tree.c), RPM installation into it
 * (src/tree/install.c) and its archives (src/oci/archive.c), the archives
 * read back by GNU tar and cpio. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "tree/archive.h"
#include "tree/cpio.h"
#include "rpm/package.h"
#include "tree/install.h"
#include "tree/tree.h"
#include "../unit.h"

static void test_paths(void) {
        char *p = NULL;
        CHECK(tree_path_normalize("usr//bin/./sh/", &p) == 0);
        CHECK_STREQ(p, "/usr/bin/sh");
        free(p);
        CHECK(tree_path_normalize("./", &p) == 0);
        CHECK_STREQ(p, "/");
        free(p);
        CHECK(tree_path_normalize("/usr/../etc", &p) == -EPERM);

        _cleanup_(tree_freep) Tree *t = tree_new(100);
        CHECK(t != NULL);
        CHECK(tree_add_dir(t, "/usr/bin", 0755, 0, 0, NULL) == 0);
        CHECK(tree_get(t, "/usr") && tree_get(t, "/usr")->type == TREE_DIR); /* parent made */
        CHECK(tree_add_symlink(t, "/bin", "usr/bin", NULL) == 0);
        CHECK(tree_add_symlink(t, "/lib", "/usr/lib", NULL) == 0);
        CHECK(tree_add_symlink(t, "/usr/bin/up", "../../../..", NULL) == 0);
        CHECK(tree_resolve(t, "/bin/sh", &p) == 0);
        CHECK_STREQ(p, "/usr/bin/sh");
        free(p);
        /* ".." in a target cannot climb out of the tree. */
        CHECK(tree_resolve(t, "/usr/bin/up/etc/passwd", &p) == 0);
        CHECK_STREQ(p, "/etc/passwd");
        free(p);
        CHECK(tree_add_file(t, "/etc/f", "x", 1, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/etc/f/g", "x", 1, 0644, 0, 0, NULL) == -ENOTDIR);
        CHECK(tree_resolve(t, "/etc/f/g", &p) == -ENOTDIR);
        CHECK(tree_remove(t, "/usr") == 0);
        CHECK(tree_get(t, "/usr/bin") == NULL && tree_get(t, "/etc/f") != NULL);

        /* Owners from the tree's own account files. */
        const char *passwd = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        CHECK(tree_add_file(t, "/etc/passwd", passwd, strlen(passwd), 0644, 0, 0, NULL) == 0);
        uint32_t id = 7;
        CHECK(tree_lookup_user(t, "alice", &id) == 0 && id == 1000);
        CHECK(tree_lookup_user(t, "bob", &id) == -ENOENT);
        CHECK(tree_lookup_group(t, "alice", &id) == -ENOENT); /* no /etc/group */
}

static void write_pkg(const char *dir, const char *name, RpmFile *files, size_t n, char **ret) {
        _cleanup_free_ char *fn = NULL;
        CHECK(asprintf(&fn, "%s-1-1.noarch.rpm", name) > 0);
        char *out = path_join(dir, fn);
        RpmPackageSpec s = { .name = name, .version = "1", .release = "1", .arch = "noarch", .summary = "s",
                             .description = "d", .license = "MIT", .buildhost = "h", .buildtime = 5, .files = files,
                             .n_files = n };
        CHECK(rpm_package_write(&s, out, NULL) == 0);
        *ret = out;
}

static void test_install(void) {
        char dir[] = "/tmp/test-tree-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *a = path_join(dir, "a"), *b = path_join(dir, "b"), *pa = NULL, *pb = NULL, *pc = NULL,
                            *pd = NULL, *tarf = NULL, *cmd = NULL, *list = NULL;
        CHECK(write_file_atomic(a, "hello\n", 6, 0644) == 0);
        CHECK(write_file_atomic(b, "other\n", 6, 0644) == 0);
        RpmFile fa[] = {
                { .path = "/usr", .mode = S_IFDIR | 0755, .user = "root", .group = "root", .mtime = 50 },
                { .path = "/usr/bin", .mode = S_IFDIR | 0755, .user = "root", .group = "root", .mtime = 50 },
                { .path = "/usr/bin/hello", .mode = S_IFREG | 04755, .user = "root", .group = "root", .mtime = 60,
                  .source = a },
                { .path = "/usr/bin/hi", .mode = S_IFLNK | 0777, .user = "root", .group = "root", .mtime = 60,
                  .link_target = "hello" },
                { .path = "/etc/hello.conf", .mode = S_IFREG | 0640, .user = "nobody", .group = "root", .mtime = 70,
                  .flags = RPMFILE_CONFIG, .source = a },
                { .path = "/var/log/hello.log", .mode = S_IFREG | 0600, .user = "root", .group = "root",
                  .flags = RPMFILE_GHOST, .source = a },
        };
        write_pkg(dir, "hello", fa, ELEMENTSOF(fa), &pa);
        /* Shares /usr/bin (a directory) and an identical file: allowed. */
        RpmFile fb[] = {
                { .path = "/usr/bin", .mode = S_IFDIR | 0700, .user = "root", .group = "root", .mtime = 1 },
                { .path = "/etc/hello.conf", .mode = S_IFREG | 0640, .user = "nobody", .group = "root", .mtime = 70,
                  .flags = RPMFILE_CONFIG, .source = a },
        };
        write_pkg(dir, "share", fb, ELEMENTSOF(fb), &pb);
        /* The same path with other contents: a conflict. */
        RpmFile fc[] = { { .path = "/usr/bin/hello", .mode = S_IFREG | 0755, .user = "root", .group = "root", .source = b } };
        write_pkg(dir, "clash", fc, ELEMENTSOF(fc), &pc);

        _cleanup_(tree_freep) Tree *t = tree_new(100);
        Diagnostics d = {};
        InstallResult r1 = {}, r2 = {}, r3 = {};
        CHECK(tree_install_rpm(t, pa, &d, &r1) == 0);
        CHECK_STREQ(r1.nevra, "hello-1-1.noarch");
        CHECK(!r1.has_scriptlets);
        TreeNode *n = tree_get(t, "/usr/bin/hello");
        CHECK(n && n->type == TREE_REG && n->mode == 04755 && n->mtime == 60 && n->blob && n->blob->size == 6 &&
              memcmp(n->blob->data, "hello\n", 6) == 0);
        CHECK(n && n->owner && strcmp(n->owner, "hello-1-1.noarch") == 0);
        n = tree_get(t, "/usr/bin/hi");
        CHECK(n && n->type == TREE_SYMLINK && strcmp(n->target, "hello") == 0);
        n = tree_get(t, "/etc/hello.conf");
        CHECK(n && (n->flags & TREE_NODE_CONFIG) && n->uid == 0); /* "nobody" is unknown here: root, as rpm */
        CHECK(tree_get(t, "/var/log/hello.log") == NULL); /* %ghost: not created */
        CHECK(tree_install_rpm(t, pb, &d, &r2) == 0);
        CHECK(tree_get(t, "/usr/bin")->mode == 0755); /* the first owner's attributes stay */
        CHECK(d.n_errors == 0);
        CHECK(tree_install_rpm(t, pc, &d, &r3) == -EINVAL);
        CHECK(d.n_errors == 1 && strstr(d.items[0].message, "'/usr/bin/hello' conflicts between hello-1-1.noarch and clash-1-1.noarch"));

        /* A file that is not an RPM. */
        CHECK(tree_install_rpm(t, a, &d, &r3) < 0);
        CHECK(d.n_errors == 2);

        /* The tar archive, read back by GNU tar. */
        TreeArchive ar1 = {}, ar2 = {}, ar3 = {};
        CHECK(tree_archive(t, TREE_ARCHIVE_TAR, &ar1) == 0);
        tarf = path_join(dir, "t.tar");
        CHECK(write_file_atomic(tarf, ar1.data, ar1.len, 0644) == 0);
        CHECK(tree_archive(t, TREE_ARCHIVE_TAR, &ar2) == 0);
        CHECK(ar1.len == ar2.len && memcmp(ar1.data, ar2.data, ar1.len) == 0); /* reproducible */
        tree_archive_release(&ar1);
        tree_archive_release(&ar2);
        list = path_join(dir, "list");
        CHECK(asprintf(&cmd, "TZ=UTC tar --numeric-owner -tvf %s > %s", tarf, list) > 0);
        CHECK(system(cmd) == 0);
        _cleanup_free_ char *out = NULL;
        size_t ol;
        CHECK(read_full_file(list, &out, &ol) == 0);
        CHECK(out && strstr(out, "-rwsr-xr-x 0/0               6 1970-01-01 00:01 ./usr/bin/hello"));
        CHECK(out && strstr(out, "lrwxrwxrwx 0/0               0 1970-01-01 00:01 ./usr/bin/hi -> hello"));

        /* cpio newc, read back by cpio. */
        CHECK(tree_archive(t, TREE_ARCHIVE_CPIO, &ar3) == 0);
        _cleanup_free_ char *cpiof = path_join(dir, "t.cpio"), *cmd2 = NULL;
        CHECK(write_file_atomic(cpiof, ar3.data, ar3.len, 0644) == 0);
        tree_archive_release(&ar3);
        CHECK(asprintf(&cmd2, "cpio -it --quiet < %s > %s", cpiof, list) > 0);
        CHECK(system(cmd2) == 0);
        free(out);
        out = NULL;
        CHECK(read_full_file(list, &out, &ol) == 0);
        CHECK(out && strstr(out, "usr/bin/hello\n") && strstr(out, "etc/hello.conf\n"));

        install_result_release(&r1);
        install_result_release(&r2);
        install_result_release(&r3);
        diagnostics_release(&d);
        free(pd);
        CHECK(rm_rf(dir) == 0);
}

/* One newc entry as cpio(5) lays it out, appended to buf at *len. */
static void cpio_put(uint8_t *buf, size_t *len, const char *magic, const char *name, size_t namesize,
                     const char *data, size_t size) {
        char h[CPIO_NEWC_HEADER_SIZE + 1];
        snprintf(h, sizeof h, "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic, 1u, 0100644u, 0u, 0u, 1u,
                 0u, (unsigned) size, 0u, 0u, 0u, 0u, (unsigned) namesize, 0u);
        memcpy(buf + *len, h, CPIO_NEWC_HEADER_SIZE);
        *len += CPIO_NEWC_HEADER_SIZE;
        memcpy(buf + *len, name, namesize);
        *len += namesize;
        while (*len % 4)
                buf[(*len)++] = 0;
        memcpy(buf + *len, data, size);
        *len += size;
        while (*len % 4)
                buf[(*len)++] = 0;
}

static int cpio_walk(const uint8_t *buf, size_t len, size_t *ret_n) {
        size_t off = 0, n = 0;
        CpioNewcEntry e;
        int r;
        while ((r = cpio_newc_next(buf, len, &off, &e)) > 0)
                n++;
        *ret_n = n;
        return r;
}

static void test_cpio(void) {
        static uint8_t buf[16384];
        size_t len = 0, n;

        /* A valid archive: two entries, both magics, and the trailer. */
        cpio_put(buf, &len, "070701", "./a", 4, "hello", 5);
        cpio_put(buf, &len, "070702", "./dir/b", 8, "", 0);
        size_t before_trailer = len;
        cpio_put(buf, &len, "070701", "TRAILER!!!", 11, "", 0);
        size_t off = 0;
        CpioNewcEntry e;
        CHECK(cpio_newc_next(buf, len, &off, &e) == 1 && strcmp(e.name, "./a") == 0 && e.h.filesize == 5 &&
              memcmp(e.data, "hello", 5) == 0 && e.data_offset == 116 && off == 124 && !e.h.crc &&
              e.h.mode == 0100644);
        CHECK(cpio_newc_next(buf, len, &off, &e) == 1 && strcmp(e.name, "./dir/b") == 0 && e.h.filesize == 0 && e.h.crc);
        CHECK(cpio_newc_next(buf, len, &off, &e) == 0);
        /* The trailer's own padding may be cut off; the trailer may not. */
        CHECK(cpio_walk(buf, before_trailer + CPIO_NEWC_HEADER_SIZE + 11, &n) == 0 && n == 2);
        CHECK(cpio_walk(buf, before_trailer + CPIO_NEWC_HEADER_SIZE + 10, &n) == -EBADMSG);
        /* Without a trailer, or cut anywhere before it: refused. */
        for (size_t cut = 0; cut < before_trailer + CPIO_NEWC_HEADER_SIZE + 11; cut++)
                CHECK(cpio_walk(buf, cut, &n) == -EBADMSG);

        /* Each broken rule alone. */
        static const struct {
                const char *magic, *name;
                size_t namesize;
        } bad[] = {
                { "070707", "a", 2 },   /* odc's magic */
                { "070703", "a", 2 },   /* no such newc */
                { "07070G", "a", 2 },
                { "070701", "", 1 },    /* an empty name */
                { "070701", "a", 0 },   /* no name at all */
                { "070701", "ab", 2 },  /* no terminator */
                { "070701", "a\0b", 4 }, /* a NUL inside */
                { "070701", "a", 4097 }, /* longer than PATH_MAX */
        };
        static char longname[4200];
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                len = 0;
                const char *name = bad[i].name;
                if (bad[i].namesize > 8) {
                        memset(longname, 'x', sizeof longname);
                        longname[bad[i].namesize - 1] = 0;
                        name = longname;
                }
                cpio_put(buf, &len, bad[i].magic, name, bad[i].namesize, "", 0);
                cpio_put(buf, &len, "070701", "TRAILER!!!", 11, "", 0);
                CHECK(cpio_walk(buf, len, &n) == -EBADMSG);
        }
        /* A field that is not hex. */
        len = 0;
        cpio_put(buf, &len, "070701", "a", 2, "x", 1);
        cpio_put(buf, &len, "070701", "TRAILER!!!", 11, "", 0);
        CHECK(cpio_walk(buf, len, &n) == 0 && n == 1);
        buf[6 + 6 * 8 + 3] = 'g'; /* in filesize */
        CHECK(cpio_walk(buf, len, &n) == -EBADMSG);
        /* A file size past the end. */
        len = 0;
        cpio_put(buf, &len, "070701", "a", 2, "x", 1);
        memcpy(buf + 6 + 6 * 8, "00001000", 8);
        cpio_put(buf, &len, "070701", "TRAILER!!!", 11, "", 0);
        CHECK(cpio_walk(buf, len, &n) == -EBADMSG);

        /* What GNU cpio writes (CHECKS.md: the real tool) reads back. */
        _cleanup_free_ char *out = NULL;
        size_t outlen = 0;
        int st = unit_run("cd /tmp && d=$(mktemp -d) && cd $d && mkdir -p usr/bin && printf hello > usr/bin/x && "
                          "ln -s x usr/bin/y && printf '%s\\n' usr usr/bin usr/bin/x usr/bin/y | "
                          "cpio --quiet -o -H newc; cd /tmp && rm -rf $d",
                          &out, &outlen);
        if (st == 0) {
                off = 0;
                const char *names[] = { "usr", "usr/bin", "usr/bin/x", "usr/bin/y" };
                size_t k = 0;
                int r;
                while ((r = cpio_newc_next((const uint8_t *) out, outlen, &off, &e)) > 0 && k < 4) {
                        CHECK_STREQ(e.name, names[k]);
                        if (k == 2)
                                CHECK(e.h.filesize == 5 && memcmp(e.data, "hello", 5) == 0);
                        if (k == 3)
                                CHECK(S_ISLNK(e.h.mode) && e.h.filesize == 1 && e.data[0] == 'x');
                        k++;
                }
                CHECK(r == 0 && k == 4);
        } else
                fprintf(stderr, "cpio not found: GNU cpio check skipped\n");
}


typedef struct Pieces {
        uint8_t *buf;
        size_t len, pieces;
} Pieces;

static int collect_piece(void *userdata, uint64_t off, const void *data, size_t n) {
        Pieces *c = userdata;
        if (off != c->len)
                return -EINVAL;
        memcpy(c->buf + off, data, n);
        c->len += n;
        c->pieces++;
        return 0;
}

static bool fd_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

/* File contents in memory and in a file: the accessor, slices, the file's
 * lifetime, and archives that do not depend on where the contents are. */
static void test_blobs(void) {
        const size_t size = 3 * TREE_BLOB_CHUNK + 12345, lead = 100;
        _cleanup_free_ uint8_t *pattern = malloc(size), *got = malloc(size);
        CHECK(pattern && got);
        for (size_t i = 0; i < size; i++)
                pattern[i] = (uint8_t) (i * 2654435761u >> 13);

        _cleanup_(tree_blob_unrefp) TreeBlob *m = tree_blob_new(pattern, size);
        CHECK(m && !tree_blob_in_file(m));
        CHECK(tree_blob_read(m, 10, got, 5) == 0 && memcmp(got, pattern + 10, 5) == 0);
        CHECK(tree_blob_read(m, size - 4, got, 5) == -EINVAL);
        CHECK(tree_blob_read(m, size + 1, got, 0) == -EINVAL);

        char spool[] = "/tmp/test-tree-spool-XXXXXX";
        int fd = mkstemp(spool);
        CHECK(fd >= 0);
        unlink(spool);
        CHECK(loop_write(fd, "0123456789", 10) == 0);
        CHECK(lseek(fd, (off_t) lead, SEEK_SET) == (off_t) lead);
        CHECK(loop_write(fd, pattern, size) == 0);
        TreeBlob *f = tree_blob_take_fd(fd, lead, size);
        CHECK(f && tree_blob_in_file(f) && f->size == size);
        CHECK(tree_blob_read(f, 0, got, size) == 0 && memcmp(got, pattern, size) == 0);
        CHECK(tree_blob_read(f, size - 3, got, 4) == -EINVAL);

        /* Pieces: bounded, in order, together the contents. */
        Pieces c = { got, 0, 0 };
        memset(got, 0, size);
        CHECK(tree_blob_foreach(f, collect_piece, &c) == 0);
        CHECK(c.len == size && c.pieces == 4 && memcmp(got, pattern, size) == 0);
        c = (Pieces) { got, 0, 0 };
        CHECK(tree_blob_foreach(m, collect_piece, &c) == 0 && c.pieces == 4 && c.len == size); /* in place, bounded too */
        c = (Pieces) { got, 0, 0 };
        CHECK(tree_blob_foreach(NULL, collect_piece, &c) == 0 && c.pieces == 0);

        /* A slice of a file blob reads from the same file, at its offset. */
        TreeBlob *s = tree_blob_slice(f, TREE_BLOB_CHUNK - 7, 20);
        CHECK(s && tree_blob_in_file(s) && s->size == 20);
        CHECK(tree_blob_slice(f, size - 1, 2) == NULL);
        CHECK(tree_blob_read(s, 0, got, 20) == 0 && memcmp(got, pattern + TREE_BLOB_CHUNK - 7, 20) == 0);

        /* Equality across kinds. */
        CHECK(tree_blob_equal(f, m) == 1);
        CHECK(tree_blob_equal(f, s) == 0);
        _cleanup_(tree_blob_unrefp) TreeBlob *ms = tree_blob_new(pattern + TREE_BLOB_CHUNK - 7, 20);
        CHECK(ms && tree_blob_equal(s, ms) == 1 && tree_blob_equal(ms, s) == 1);
        pattern[size - 1] ^= 1;
        _cleanup_(tree_blob_unrefp) TreeBlob *m2 = tree_blob_new(pattern, size);
        pattern[size - 1] ^= 1;
        CHECK(m2 && tree_blob_equal(f, m2) == 0);
        CHECK(tree_blob_equal(NULL, NULL) == 1);

        /* Whole, for parsers: NUL-terminated, bounded. */
        _cleanup_free_ uint8_t *all = NULL;
        size_t all_size = 0;
        CHECK(tree_blob_load(s, 100, &all, &all_size) == 0 && all_size == 20 && all[20] == 0 &&
              memcmp(all, pattern + TREE_BLOB_CHUNK - 7, 20) == 0);
        CHECK(tree_blob_load(f, 100, &all, &all_size) == -EFBIG);

        /* Archives do not depend on where the contents are. */
        _cleanup_(tree_freep) Tree *tm = tree_new(100), *tf = tree_new(100);
        CHECK(tm && tf);
        CHECK(tree_add_blob(tm, "/big", m, 0644, 0, 0, NULL) == 0 && tree_add_blob(tm, "/small", ms, 0600, 1, 2, NULL) == 0);
        CHECK(tree_add_blob(tf, "/big", f, 0644, 0, 0, NULL) == 0 && tree_add_blob(tf, "/small", s, 0600, 1, 2, NULL) == 0);
        for (TreeArchiveFormat fmt = 0; fmt < _TREE_ARCHIVE_MAX; fmt++) {
                TreeArchive am = {}, af = {};
                CHECK(tree_archive(tm, fmt, &am) == 0 && tree_archive(tf, fmt, &af) == 0);
                CHECK(am.len > size && am.len == af.len && memcmp(am.data, af.data, am.len) == 0);
                tree_archive_release(&am);
                tree_archive_release(&af);
        }

        /* The file is closed with the last reference, not before. */
        tree_blob_unref(f);
        CHECK(fd_open(fd));
        tree_blob_unref(s);
        CHECK(fd_open(fd));
        tf = tree_free(tf);
        CHECK(!fd_open(fd));
        CHECK(tree_blob_take_fd(-1, 0, 0) == NULL);
}

/* A package unpacked into a spool file gives the same tree as one unpacked
 * into memory; its contents stay in the file. */
static void test_install_spooled(void) {
        char dir[] = "/tmp/test-tree-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        const size_t size = 2 * TREE_BLOB_CHUNK + 333;
        _cleanup_free_ uint8_t *pattern = malloc(size), *got = malloc(size);
        CHECK(pattern && got);
        /* Not compressible: a payload over 1024 times its compressed size is spooled too. */
        uint64_t x = 88172645463325252u;
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                pattern[i] = (uint8_t) x;
        }
        _cleanup_free_ char *big = path_join(dir, "big"), *small = path_join(dir, "small"), *empty = path_join(dir, "empty"),
                            *pkg = NULL;
        CHECK(write_file_atomic(empty, "", 0, 0644) == 0);
        CHECK(write_file_atomic(big, pattern, size, 0644) == 0);
        CHECK(write_file_atomic(small, "hello\n", 6, 0644) == 0);
        RpmFile files[] = {
                { .path = "/usr", .mode = S_IFDIR | 0755, .user = "root", .group = "root", .mtime = 50 },
                { .path = "/usr/big", .mode = S_IFREG | 0644, .user = "root", .group = "root", .mtime = 60, .source = big },
                { .path = "/usr/empty", .mode = S_IFREG | 0644, .user = "root", .group = "root", .mtime = 60,
                  .source = empty },
                { .path = "/usr/hi", .mode = S_IFLNK | 0777, .user = "root", .group = "root", .mtime = 60,
                  .link_target = "small" },
                { .path = "/usr/small", .mode = S_IFREG | 0600, .user = "root", .group = "root", .mtime = 70,
                  .source = small },
        };
        write_pkg(dir, "spooled", files, ELEMENTSOF(files), &pkg);

        _cleanup_(tree_freep) Tree *tf = tree_new(100), *tm = tree_new(100);
        Diagnostics d = {};
        InstallResult r1 = {}, r2 = {}, r3 = {};
        rpm_unpack_set_spool_min(0);
        CHECK(tree_install_rpm(tf, pkg, &d, &r1) == 0);
        /* The same package again: identical files, compared through the file. */
        CHECK(tree_install_rpm(tf, pkg, &d, &r3) == 0);
        rpm_unpack_set_spool_min((uint64_t) 64 << 20);
        CHECK(tree_install_rpm(tm, pkg, &d, &r2) == 0);
        CHECK(d.n_errors == 0);
        TreeNode *nf = tree_get(tf, "/usr/big"), *nm = tree_get(tm, "/usr/big");
        CHECK(nf && nf->blob && tree_blob_in_file(nf->blob) && nf->blob->size == size);
        CHECK(nm && nm->blob && !tree_blob_in_file(nm->blob));
        CHECK(tree_blob_read(nf->blob, 0, got, size) == 0 && memcmp(got, pattern, size) == 0);
        nf = tree_get(tf, "/usr/small");
        CHECK(nf && nf->blob && tree_blob_in_file(nf->blob) && nf->blob->size == 6);
        CHECK(tree_blob_read(nf->blob, 0, got, 6) == 0 && memcmp(got, "hello\n", 6) == 0);
        nf = tree_get(tf, "/usr/empty");
        CHECK(nf && nf->type == TREE_REG && (!nf->blob || nf->blob->size == 0));
        TreeArchive af = {}, am = {};
        CHECK(tree_archive(tf, TREE_ARCHIVE_TAR, &af) == 0 && tree_archive(tm, TREE_ARCHIVE_TAR, &am) == 0);
        CHECK(af.len > size && af.len == am.len && memcmp(af.data, am.data, af.len) == 0);
        tree_archive_release(&af);
        tree_archive_release(&am);

        install_result_release(&r1);
        install_result_release(&r2);
        install_result_release(&r3);
        diagnostics_release(&d);
        CHECK(rm_rf(dir) == 0);
}

static double elapsed_since(const struct timespec *a) {
        struct timespec b;
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (double) (b.tv_sec - a->tv_sec) + (double) (b.tv_nsec - a->tv_nsec) / 1e9;
}

static int discard_sink(void *userdata, const void *data, size_t n) {
        *(uint64_t *) userdata += n;
        return 0;
}

/* Issue 12: an 8000-deep path (what a 17 KB package found by fuzz-install
 * holds) took minutes: making each missing parent re-walked every prefix,
 * and each prefix was hashed and compared from the start. Each operation
 * must be linear in the path's length, so this takes well under a second
 * (the bound is loose for sanitizer builds; the old code needed minutes). */
static void test_deep_paths(void) {
        enum { DEPTH = 8000 };
        char dir[] = "/tmp/test-tree-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *deep = malloc(DEPTH * 2 + 8), *src = path_join(dir, "src"), *pkg = NULL, *p = NULL;
        size_t l = 0;
        for (int i = 0; i < DEPTH; i++) {
                deep[l++] = '/';
                deep[l++] = 'd';
        }
        strcpy(deep + l, "/f");
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);

        _cleanup_(tree_freep) Tree *t = tree_new(100);
        CHECK(tree_add_file(t, deep, "x", 1, 0644, 0, 0, NULL) == 0);
        CHECK(tree_size(t) == DEPTH + 2);
        CHECK(tree_get(t, deep) && tree_get(t, deep)->type == TREE_REG);
        /* A symlink deep down: resolving goes through it. */
        deep[2 * 4000] = 0;
        CHECK(tree_get(t, deep) && tree_get(t, deep)->type == TREE_DIR);
        CHECK(tree_add_symlink(t, deep, "/target", NULL) == 0);
        /* What was below the directory went with it. */
        CHECK(tree_size(t) == 4000 + 1);
        deep[2 * 4000] = '/';
        CHECK(tree_resolve(t, deep, &p) == 0);
        CHECK(p && strncmp(p, "/target/d/d", 11) == 0 && strlen(p) == strlen("/target") + 2 * 4000 + 2);
        free(p);
        p = NULL;
        CHECK(tree_add_file(t, deep, "y", 1, 0644, 0, 0, NULL) == -ENOTDIR);
        deep[2 * 4000] = 0;
        CHECK(tree_remove(t, deep) == 0);
        deep[2 * 4000] = '/';
        CHECK(tree_size(t) == 4000);
        CHECK(tree_add_file(t, deep, "x", 1, 0644, 0, 0, NULL) == 0);
        CHECK(tree_size(t) == DEPTH + 2);

        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n = 0;
        CHECK(tree_list(t, &nodes, &n) == 0 && n == DEPTH + 2);
        uint64_t bytes = 0;
        CHECK(tree_archive_stream(t, TREE_ARCHIVE_TAR, discard_sink, &bytes) == 0 && bytes > 0);
        _cleanup_(tree_freep) Tree *c = tree_clone(t);
        CHECK(c && tree_get(c, deep) != NULL);

        /* The same through a package, as fuzz-install found it: a header's
         * paths are shorter than PATH_MAX, but symlinks whose targets are
         * 2000 directories deep each, followed in turn, put /z/f 8000 deep. */
        CHECK(write_file_atomic(src, "x", 1, 0644) == 0);
        char *targets[4];
        const char *next[4] = { "v", "w", "x", "y" };
        for (size_t k = 0; k < 4; k++) {
                targets[k] = malloc(2 + 2 * 2000);
                strcpy(targets[k], next[k]);
                for (size_t j = 0; j < 2000; j++)
                        strcat(targets[k], "/d");
        }
        RpmFile f[] = {
                { .path = "/w", .mode = S_IFLNK | 0777, .user = "root", .group = "root", .mtime = 1, .link_target = targets[0] },
                { .path = "/x", .mode = S_IFLNK | 0777, .user = "root", .group = "root", .mtime = 1, .link_target = targets[1] },
                { .path = "/y", .mode = S_IFLNK | 0777, .user = "root", .group = "root", .mtime = 1, .link_target = targets[2] },
                { .path = "/z", .mode = S_IFLNK | 0777, .user = "root", .group = "root", .mtime = 1, .link_target = targets[3] },
                { .path = "/z/f", .mode = S_IFREG | 0644, .user = "root", .group = "root", .mtime = 1, .source = src },
        };
        write_pkg(dir, "deep", f, ELEMENTSOF(f), &pkg);
        for (size_t k = 0; k < 4; k++)
                free(targets[k]);
        _cleanup_(tree_freep) Tree *t2 = tree_new(100);
        Diagnostics d = {};
        InstallResult res = {};
        int r = tree_install_rpm(t2, pkg, &d, &res);
        if (r < 0)
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "%s\n", d.items[i].message);
        CHECK(r == 0);
        CHECK(tree_size(t2) == 1 + 4 + 1 + 8000 + 1); /* /, four links, /v, its 8000 d's, f */
        CHECK(tree_resolve(t2, "/z/f", &p) == 0 && p && strlen(p) == 2 + 2 * 8000 + 2);
        free(p);
        p = NULL;
        install_result_release(&res);
        diagnostics_release(&d);

        double secs = elapsed_since(&start);
        if (secs >= 20)
                fprintf(stderr, "deep paths took %.1f s\n", secs);
        CHECK(secs < 20);
        CHECK(rm_rf(dir) == 0);
}

static int file_sink(void *userdata, const void *data, size_t n) {
        return fwrite(data, 1, n, userdata) == n ? 0 : -EIO;
}

/* The archive of t in format f read by cmd (a shell command reading the
 * archive on stdin, its output in out). */
static int archive_through(const Tree *t, TreeArchiveFormat f, const char *cmd, const char *out) {
        _cleanup_free_ char *full = NULL;
        CHECK(asprintf(&full, "%s > %s", cmd, out) > 0);
        FILE *p = popen(full, "w");
        CHECK(p != NULL);
        if (!p)
                return -EIO;
        int r = tree_archive_stream(t, f, file_sink, p);
        int st = pclose(p);
        return r < 0 ? r : WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPROTO;
}

/* Issue 12: a file of 2 GiB or more in memory was handed to libarchive in
 * one write, which fails above INT_MAX ("Input/output error"). The file is
 * an untouched anonymous mapping (zeros, no memory used); GNU tar reads the
 * tar back and lists its size. A file newc cannot hold (4 GiB
 * and more, a sparse spool file here) is refused naming it, before any byte
 * is written; so are sockets and, for tar, names that are not UTF-8. */
static void test_large_files(void) {
        const size_t big = ((size_t) 2 << 30) + 4096;
        char dir[] = "/tmp/test-tree-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *out = path_join(dir, "list"), *spool = path_join(dir, "spool"), *list = NULL;
        size_t list_len = 0;
        uint8_t *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        CHECK(m != MAP_FAILED);
        _cleanup_(tree_blob_unrefp) TreeBlob *b = tree_blob_take_huge(m, big, big);
        _cleanup_(tree_freep) Tree *t = tree_new(100);
        CHECK(b && t && tree_add_blob(t, "/big", b, 0644, 0, 0, NULL) == 0);
        Diagnostics d = {};
        CHECK(tree_archive_check(t, TREE_ARCHIVE_TAR, "i", &d) == 0 && tree_archive_check(t, TREE_ARCHIVE_CPIO, "i", &d) == 0);
        CHECK(d.n == 0);

        CHECK(archive_through(t, TREE_ARCHIVE_TAR, "tar -tvf - --numeric-owner", out) == 0);
        CHECK(read_full_file(out, &list, &list_len) == 0);
        CHECK(list && strstr(list, " 2147487744 ") && strstr(list, "./big"));
        free(list);
        list = NULL;
        /* cpio: the same pieces (GNU tar's reading of the tar checks them);
         * here the archive's length: the header and name, the contents, the
         * trailer, padded to 512 bytes. */
        uint64_t cpio_bytes = 0;
        CHECK(tree_archive_stream(t, TREE_ARCHIVE_CPIO, discard_sink, &cpio_bytes) == 0);
        CHECK(cpio_bytes > big && cpio_bytes < big + 2048);

        /* 4 GiB: too big for newc, fine for tar. */
        int fd = open(spool, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0 && ftruncate(fd, (off_t) 4 << 30) == 0);
        _cleanup_(tree_blob_unrefp) TreeBlob *huge = tree_blob_take_fd(fd, 0, (size_t) 4 << 30);
        CHECK(huge && tree_add_blob(t, "/huge", huge, 0644, 0, 0, NULL) == 0);
        CHECK(tree_archive_check(t, TREE_ARCHIVE_TAR, "i", &d) == 0 && d.n == 0);
        CHECK(tree_archive_check(t, TREE_ARCHIVE_CPIO, "i", &d) == -EINVAL && d.n == 1);
        CHECK_STREQ(d.n ? d.items[0].message : NULL,
                    "image 'i': '/huge' is 4294967296 bytes, but a newc cpio archive holds at most 4 GiB - 1 "
                    "(4294967295 bytes) per file");
        uint64_t bytes = 0;
        CHECK(tree_archive_stream(t, TREE_ARCHIVE_CPIO, discard_sink, &bytes) == -EFBIG);
        CHECK(tree_remove(t, "/huge") == 0 && tree_remove(t, "/big") == 0);
        diagnostics_release(&d);

        /* A socket, and a name with a byte that is not UTF-8. */
        TreeNode *s = calloc(1, sizeof(TreeNode));
        CHECK(s && (s->path = strdup("/run/s")));
        s->type = TREE_SOCK;
        CHECK(tree_add(t, s, NULL) == 0);
        CHECK(tree_add_file(t, "/caf\xe9", "x", 1, 0644, 0, 0, NULL) == 0);
        CHECK(tree_archive_check(t, TREE_ARCHIVE_TAR, "i", &d) == -EINVAL && d.n == 2);
        CHECK_STREQ(d.n > 0 ? d.items[0].message : NULL, "image 'i': the name '/caf\\xe9' is not UTF-8, which a pax tar archive's names must be");
        CHECK_STREQ(d.n > 1 ? d.items[1].message : NULL, "image 'i': '/run/s' is a socket, which a tar archive cannot hold");
        CHECK(tree_archive_stream(t, TREE_ARCHIVE_TAR, discard_sink, &bytes) < 0);
        diagnostics_release(&d);
        CHECK(tree_remove(t, "/run/s") == 0);
        CHECK(tree_archive_check(t, TREE_ARCHIVE_CPIO, "i", &d) == 0 && d.n == 0); /* newc names are bytes */
        CHECK(rm_rf(dir) == 0);
}

/* Issue 12: a socket in a payload reached the tar writer, whose failure
 * named nothing ("Input/output error"); the package is refused, naming it. */
static void test_socket_refused(void) {
        char dir[] = "/tmp/test-tree-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *pkg = NULL;
        RpmFile f[] = { { .path = "/run/x.sock", .mode = S_IFSOCK | 0755, .user = "root", .group = "root", .mtime = 1 } };
        write_pkg(dir, "sock", f, 1, &pkg);
        _cleanup_(tree_freep) Tree *t = tree_new(100);
        Diagnostics d = {};
        InstallResult res = {};
        CHECK(tree_install_rpm(t, pkg, &d, &res) == -EINVAL);
        CHECK_STREQ(d.n ? d.items[0].message : NULL,
                    "package sock-1-1.noarch: '/run/x.sock' is a socket, which images cannot hold");
        CHECK(tree_get(t, "/run/x.sock") == NULL);
        diagnostics_release(&d);
        CHECK(rm_rf(dir) == 0);
}

UNIT_MAIN(test_socket_refused, test_large_files, test_deep_paths, test_paths, test_install, test_cpio, test_blobs, test_install_spooled)
