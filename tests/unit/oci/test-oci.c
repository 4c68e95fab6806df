/* SPDX-License-Identifier: MIT */

/* OCI image layout and oci-archive: written by oci_write(), read back by the
 * tools users would use (umoci unpack, skopeo inspect and copy), and checked
 * for byte-identical output, replacement of an existing layout, and that a
 * failure leaves previous outputs untouched. Without umoci or skopeo the
 * test is skipped (77). */

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "oci/oci.h"
#include "../unit.h"

static char base[] = "/tmp/test-oci.XXXXXX";

static la_ssize_t mem_write(struct archive *a, void *userdata, const void *buf, size_t n) {
        if (strbuf_put(userdata, buf, n) < 0) {
                archive_set_error(a, ENOMEM, "out of memory");
                return -1;
        }
        return (la_ssize_t) n;
}

static void add(struct archive *a, const char *name, mode_t mode, unsigned uid, const char *data, const char *link) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_mode(e, mode);
        archive_entry_set_uid(e, uid);
        archive_entry_set_gid(e, uid);
        archive_entry_set_mtime(e, 1767225600, 0);
        archive_entry_set_size(e, data ? (la_int64_t) strlen(data) : 0);
        if (link)
                archive_entry_set_symlink(e, link);
        CHECK(archive_write_header(a, e) == ARCHIVE_OK);
        if (data)
                CHECK(archive_write_data(a, data, strlen(data)) == (la_ssize_t) strlen(data));
        archive_entry_free(e);
}

/* The root filesystem of the image, as an uncompressed tar in memory. */
static char *build_layer(size_t *ret_len) {
        StrBuf sb = STRBUF_INIT;
        struct archive *a = archive_write_new();
        CHECK(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        CHECK(archive_write_open(a, &sb, NULL, mem_write, NULL) == ARCHIVE_OK);
        add(a, "etc/", S_IFDIR | 0755, 0, NULL, NULL);
        add(a, "etc/hostname", S_IFREG | 0644, 0, "slipway\n", NULL);
        add(a, "usr/", S_IFDIR | 0755, 0, NULL, NULL);
        add(a, "usr/bin/", S_IFDIR | 0755, 0, NULL, NULL);
        add(a, "usr/bin/hello", S_IFREG | 0755, 0, "#!/bin/sh\necho hello\n", NULL);
        add(a, "usr/bin/hi", S_IFLNK | 0777, 0, NULL, "hello");
        add(a, "home/", S_IFDIR | 0755, 0, NULL, NULL);
        add(a, "home/user/", S_IFDIR | 0750, 1000, NULL, NULL);
        add(a, "home/user/notes", S_IFREG | 0640, 1000, "mine\n", NULL);
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
        return strbuf_detach(&sb, ret_len);
}

static const char *const entrypoint[] = { "/usr/bin/hello", NULL };
static const char *const cmd[] = { "--greet", "world", NULL };
static const char *const env[] = { "PATH=/usr/bin:/bin", "GREETING=hi there", NULL };
static const char *const label_keys[] = { "org.opencontainers.image.title", "com.example.flavour" };
static const char *const label_values[] = { "hello", "vanilla" };

static OciConfig config(void) {
        return (OciConfig) {
                .entrypoint = entrypoint,
                .cmd = cmd,
                .env = env,
                .label_keys = label_keys,
                .label_values = label_values,
                .n_labels = 2,
                .user = "0:0",
                .workdir = "/etc",
                .architecture = "amd64",
                .tag = "1.0",
                .created = 1767225600,
        };
}

static char *at(const char *name) {
        char *p = path_join(base, name);
        if (!p)
                abort();
        return p;
}

/* Runs a shell command (paths here are under base, which needs no quoting);
 * its output goes to stderr so that the test's own output stays short. */
static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...) {
        va_list ap;
        char *c;
        va_start(ap, fmt);
        int k = vasprintf(&c, fmt, ap);
        va_end(ap);
        if (k < 0)
                abort();
        char *full;
        if (asprintf(&full, "(%s) 1>&2", c) < 0)
                abort();
        int s = system(full);
        free(full);
        free(c);
        return s != -1 && WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

/* Runs a command and parses its standard output as JSON. */
static json_t *run_json(const char *fmt, ...) _printf_(1, 2);
static json_t *run_json(const char *fmt, ...) {
        va_list ap;
        char *c;
        va_start(ap, fmt);
        int k = vasprintf(&c, fmt, ap);
        va_end(ap);
        if (k < 0)
                abort();
        FILE *f = popen(c, "r");
        free(c);
        if (!f)
                return NULL;
        json_error_t err;
        json_t *j = json_loadf(f, 0, &err);
        if (pclose(f) != 0) {
                json_decref(j);
                return NULL;
        }
        return j;
}

static char *slurp(const char *path, size_t *ret_len) {
        char *d = NULL;
        size_t n = 0;
        if (read_full_file(path, &d, &n) < 0)
                return NULL;
        if (ret_len)
                *ret_len = n;
        return d;
}

static bool same_file(const char *a, const char *b) {
        size_t na, nb;
        char *da = slurp(a, &na), *db = slurp(b, &nb);
        bool same = da && db && na == nb && memcmp(da, db, na) == 0;
        free(da);
        free(db);
        return same;
}

/* No temporary (".tmp." / ".old.") is left beside the outputs. */
static bool no_leftovers(void) {
        DIR *d = opendir(base);
        bool ok = d != NULL;
        for (struct dirent *de; d && (de = readdir(d));)
                if (strstr(de->d_name, ".tmp.") || strstr(de->d_name, ".old.")) {
                        fprintf(stderr, "leftover: %s\n", de->d_name);
                        ok = false;
                }
        if (d)
                closedir(d);
        return ok;
}

static bool json_array_has(json_t *a, const char *s) {
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
                if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
                        return true;
        return false;
}

static mode_t mode_of(const char *root, const char *name) {
        char *p = path_join(root, name);
        struct stat st;
        int r = lstat(p, &st);
        free(p);
        return r < 0 ? 0 : st.st_mode;
}

static const char *layer;
static size_t layer_len;

static void test_umoci(void) {
        char *dir = at("image"), *bundle = at("bundle");
        CHECK(run("umoci unpack --rootless --image %s:1.0 %s", dir, bundle) == 0);

        char *rootfs = path_join(bundle, "rootfs");
        CHECK(mode_of(rootfs, "etc") == (S_IFDIR | 0755));
        CHECK(mode_of(rootfs, "etc/hostname") == (S_IFREG | 0644));
        CHECK(mode_of(rootfs, "usr/bin/hello") == (S_IFREG | 0755));
        CHECK(S_ISLNK(mode_of(rootfs, "usr/bin/hi")));
        char *hi = path_join(rootfs, "usr/bin/hi"), target[64] = "";
        ssize_t n = readlink(hi, target, sizeof target - 1);
        CHECK(n == 5 && strcmp(target, "hello") == 0);
        CHECK(mode_of(rootfs, "home/user/notes") == (S_IFREG | 0640));
        char *hostname = path_join(rootfs, "etc/hostname"), *data = slurp(hostname, NULL);
        CHECK_STREQ(data, "slipway\n");

        /* Rootless: umoci does not chown, every file belongs to the user who
         * unpacked (the map is container 0 -> getuid()). An owner outside
         * that map (uid 1000) is kept in the "user.rootlesscontainers"
         * xattr, a protobuf {uid: 1, gid: 2} (rootlesscontainers.com);
         * files owned by 0 carry none. */
        char *notes = path_join(rootfs, "home/user/notes"), *etc = path_join(rootfs, "etc/hostname");
        struct stat st;
        CHECK(lstat(notes, &st) == 0 && st.st_uid == getuid());
        uint8_t x[16];
        ssize_t xn = lgetxattr(notes, "user.rootlesscontainers", x, sizeof x);
        if (xn < 0 && errno == ENOTSUP)
                fprintf(stderr, "no user xattrs here, owner mapping not checked\n");
        else {
                static const uint8_t uid_gid_1000[] = { 0x08, 0xe8, 0x07, 0x10, 0xe8, 0x07 };
                CHECK(xn == (ssize_t) sizeof uid_gid_1000 && memcmp(x, uid_gid_1000, sizeof uid_gid_1000) == 0);
                CHECK(lgetxattr(etc, "user.rootlesscontainers", x, sizeof x) < 0 && errno == ENODATA);
        }

        /* The runtime config carries the image's execution parameters
         * (image-spec conversion.md). */
        char *cfg = path_join(bundle, "config.json");
        json_error_t err;
        json_t *j = json_load_file(cfg, 0, &err);
        CHECK(j);
        json_t *args = json_object_get(json_object_get(j, "process"), "args");
        CHECK(json_array_size(args) == 3);
        CHECK_STREQ(json_string_value(json_array_get(args, 0)), "/usr/bin/hello");
        CHECK_STREQ(json_string_value(json_array_get(args, 1)), "--greet");
        CHECK_STREQ(json_string_value(json_array_get(args, 2)), "world");
        json_t *penv = json_object_get(json_object_get(j, "process"), "env");
        CHECK(json_array_has(penv, "GREETING=hi there"));
        CHECK(json_array_has(penv, "PATH=/usr/bin:/bin"));
        CHECK_STREQ(json_string_value(json_object_get(json_object_get(j, "process"), "cwd")), "/etc");
        json_t *ann = json_object_get(j, "annotations");
        CHECK_STREQ(json_string_value(json_object_get(ann, "org.opencontainers.image.title")), "hello");
        CHECK_STREQ(json_string_value(json_object_get(ann, "org.opencontainers.image.created")), "2026-01-01T00:00:00Z");
        json_decref(j);
        /* umoci records which index.json descriptor it followed. */
        CHECK(run("jq -e '.from_descriptor_path.descriptor_walk[0].annotations[\"org.opencontainers.image.ref.name\"] == \"1.0\"' %s/umoci.json", bundle) == 0);

        free(cfg);
        free(etc);
        free(notes);
        free(data);
        free(hostname);
        free(hi);
        free(rootfs);
        free(bundle);
        free(dir);
}

static void test_skopeo(void) {
        char *dir = at("image"), *archive = at("image.tar"), *docker = at("docker.tar"), *out = at("copied");

        json_t *c = run_json("skopeo inspect --config oci:%s:1.0", dir);
        CHECK(c);
        CHECK_STREQ(json_string_value(json_object_get(c, "architecture")), "amd64");
        CHECK_STREQ(json_string_value(json_object_get(c, "os")), "linux");
        CHECK_STREQ(json_string_value(json_object_get(c, "created")), "2026-01-01T00:00:00Z");
        json_t *ec = json_object_get(c, "config");
        CHECK_STREQ(json_string_value(json_object_get(json_object_get(ec, "Labels"), "com.example.flavour")), "vanilla");
        CHECK(json_array_has(json_object_get(ec, "Env"), "GREETING=hi there"));
        CHECK_STREQ(json_string_value(json_object_get(ec, "User")), "0:0");
        CHECK_STREQ(json_string_value(json_object_get(ec, "WorkingDir")), "/etc");
        json_t *diff_ids = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
        CHECK(json_array_size(diff_ids) == 1);
        /* config.md "Layer DiffID": the digest of the uncompressed layer. */
        char *layer_path = at("layer.tar");
        CHECK(write_file_atomic(layer_path, layer, layer_len, 0644) == 0);
        char *sum = NULL;
        {
                char *cmdline;
                CHECK(asprintf(&cmdline, "sha256sum %s", layer_path) >= 0);
                FILE *f = popen(cmdline, "r");
                char line[128] = "";
                if (f && fgets(line, sizeof line, f))
                        CHECK(asprintf(&sum, "sha256:%.64s", line) >= 0);
                if (f)
                        pclose(f);
                free(cmdline);
        }
        CHECK_STREQ(json_string_value(json_array_get(diff_ids, 0)), sum);
        free(sum);
        free(layer_path);
        json_decref(c);

        json_t *m = run_json("skopeo inspect oci:%s:1.0", dir);
        CHECK(m);
        CHECK_STREQ(json_string_value(json_object_get(m, "Architecture")), "amd64");
        CHECK(json_array_size(json_object_get(m, "Layers")) == 1);
        json_decref(m);

        CHECK(run("skopeo copy oci:%s:1.0 docker-archive:%s:slipway/test:1.0", dir, docker) == 0);
        CHECK(run("tar -xOf %s manifest.json | grep -q slipway/test:1.0", docker) == 0);
        CHECK(run("skopeo copy oci-archive:%s:1.0 dir:%s", archive, out) == 0);
        CHECK(run("test -s %s/manifest.json", out) == 0);

        free(out);
        free(docker);
        free(archive);
        free(dir);
}

/* The archive is plain ustar (restricted pax needed no extension), entries
 * in a fixed order with fixed owner, modes and mtime. */
static void test_archive_entries(void) {
        char *archive = at("image.tar");
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        CHECK(archive_read_open_filename(a, archive, 10240) == ARCHIVE_OK);
        const char *expect[] = { "blobs", "blobs/sha256", "blobs/sha256/", "blobs/sha256/", "blobs/sha256/", "index.json", "oci-layout" };
        struct archive_entry *e;
        size_t i = 0;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);
                if (i < ELEMENTSOF(expect))
                        CHECK(strncmp(name, expect[i], strlen(expect[i])) == 0);
                CHECK(archive_entry_mtime(e) == 1767225600);
                CHECK(archive_entry_uid(e) == 0 && archive_entry_gid(e) == 0);
                CHECK(archive_entry_perm(e) == (archive_entry_filetype(e) == AE_IFDIR ? 0755 : 0644));
                CHECK(!archive_entry_atime_is_set(e) && !archive_entry_ctime_is_set(e));
                i++;
        }
        CHECK(i == ELEMENTSOF(expect));
        CHECK(archive_format(a) == ARCHIVE_FORMAT_TAR_USTAR);
        archive_read_free(a);
        free(archive);
}

static void test_reproducible(void) {
        char *dir = at("image"), *archive = at("image.tar"), *dir2 = at("image2"), *archive2 = at("image2.tar");
        OciConfig c = config();
        CHECK(oci_write(dir2, archive2, &c, layer, layer_len) == 0);
        CHECK(same_file(archive, archive2));
        char *i1 = path_join(dir, "index.json"), *i2 = path_join(dir2, "index.json");
        CHECK(same_file(i1, i2));
        CHECK(run("diff -r %s %s", dir, dir2) == 0);
        CHECK(no_leftovers());
        free(i2);
        free(i1);
        free(archive2);
        free(dir2);
        free(archive);
        free(dir);
}

/* Writing over an existing layout replaces it, stray files included. */
static void test_replace(void) {
        char *dir = at("replace"), *archive = at("replace.tar"), *stray = path_join(dir, "stray");
        char *index = path_join(dir, "index.json"), *ref = at("image/index.json");
        OciConfig c = config();
        c.tag = "0.9";
        CHECK(oci_write(dir, archive, &c, layer, layer_len) == 0);
        CHECK(write_file_atomic(stray, "x", 1, 0644) == 0);
        CHECK(!same_file(index, ref));

        /* A trailing slash names the same directory. */
        char *slashed;
        CHECK(asprintf(&slashed, "%s//", dir) >= 0);
        c = config();
        CHECK(oci_write(slashed, archive, &c, layer, layer_len) == 0);
        CHECK(same_file(index, ref));
        CHECK(!path_exists(stray));
        CHECK(no_leftovers());
        CHECK(run("umoci unpack --rootless --image %s:1.0 %s/bundle-replace", dir, base) == 0);
        free(slashed);
        free(ref);
        free(index);
        free(stray);
        free(archive);
        free(dir);
}

/* Failures leave the previous outputs as they were and no temporaries. */
static void test_failure(void) {
        char *dir = at("keep"), *archive = at("keep.tar"), *marker = path_join(dir, "marker");
        char *saved = at("keep-saved.tar"), *index = path_join(dir, "index.json");
        OciConfig c = config();
        CHECK(oci_write(dir, archive, &c, layer, layer_len) == 0);
        CHECK(write_file_atomic(marker, "old", 3, 0644) == 0);
        CHECK(run("cp %s %s", archive, saved) == 0);

        c.created = 1767225601; /* would give different bytes */

        OciConfig bad = c;
        bad.tag = NULL;
        CHECK(oci_write(dir, archive, &bad, layer, layer_len) == -EINVAL);
        bad.tag = "not a tag";
        CHECK(oci_write(dir, archive, &bad, layer, layer_len) == -EINVAL);
        bad.tag = "a..b";
        CHECK(oci_write(dir, archive, &bad, layer, layer_len) == -EINVAL);
        bad = c;
        bad.architecture = NULL;
        CHECK(oci_write(dir, archive, &bad, layer, layer_len) == -EINVAL);
        static const char *const bad_env[] = { "NOEQUALS", NULL };
        bad = c;
        bad.env = bad_env;
        CHECK(oci_write(dir, archive, &bad, layer, layer_len) == -EINVAL);
        static const char *const dup_keys[] = { "a", "a" };
        bad = c;
        bad.label_keys = dup_keys;
        CHECK(oci_write(dir, archive, &bad, layer, layer_len) == -EINVAL);
        static const char *const bad_utf8[] = { "X=\xff", NULL };
        bad = c;
        bad.env = bad_utf8;
        CHECK(oci_write(dir, archive, &bad, layer, layer_len) == -EINVAL);

        /* The archive's directory does not exist: found before any rename. */
        char *nodir = at("missing/keep.tar");
        CHECK(oci_write(dir, nodir, &c, layer, layer_len) == -ENOENT);
        CHECK(path_exists(marker));
        free(nodir);

        /* The archive's path is a non-empty directory: its rename fails after
         * the layout was swapped in, which must then be swapped back. */
        char *blocker = at("blocker.tar"), *inside = at("blocker.tar/x");
        CHECK(mkdir(blocker, 0755) == 0 && write_file_atomic(inside, "x", 1, 0644) == 0);
        CHECK(oci_write(dir, blocker, &c, layer, layer_len) < 0);
        CHECK(path_exists(marker));
        char *mk = slurp(marker, NULL);
        CHECK_STREQ(mk, "old");
        free(mk);
        free(inside);
        free(blocker);

        /* Never replace a directory that is not an image layout. */
        char *other = at("other"), *precious = at("other/precious");
        CHECK(mkdir(other, 0755) == 0 && write_file_atomic(precious, "x", 1, 0644) == 0);
        CHECK(oci_write(other, NULL, &c, layer, layer_len) == -ENOTEMPTY);
        CHECK(path_exists(precious));
        CHECK(oci_write(precious, NULL, &c, layer, layer_len) == -ENOTDIR);
        free(precious);
        free(other);

        CHECK(same_file(archive, saved));
        CHECK(path_exists(index));
        CHECK(no_leftovers());
        CHECK(run("umoci unpack --rootless --image %s:1.0 %s/bundle-keep", dir, base) == 0);

        /* And the archive alone, without a directory. */
        char *only = at("only.tar");
        c = config();
        CHECK(oci_write(NULL, only, &c, layer, layer_len) == 0);
        char *first = at("image.tar");
        CHECK(same_file(only, first));
        free(first);
        CHECK(oci_write(NULL, NULL, &c, layer, layer_len) == -EINVAL);
        c.tag = "v1.0-rc.1/x--y_z";
        CHECK(oci_write(NULL, only, &c, layer, layer_len) == 0);
        c.tag = "1.0";
        c.created = -1;
        CHECK(oci_write(NULL, only, &c, layer, layer_len) == -ERANGE);

        free(only);
        free(index);
        free(saved);
        free(marker);
        free(archive);
        free(dir);
}

static void test_all(void) {
        char *dir = at("image"), *archive = at("image.tar");
        OciConfig c = config();
        CHECK(oci_write(dir, archive, &c, layer, layer_len) == 0);
        free(archive);
        free(dir);

        test_umoci();
        test_skopeo();
        test_archive_entries();
        test_reproducible();
        test_replace();
        test_failure();
}

int unit_failures, unit_checks;

int main(void) {
        if (run("command -v umoci && command -v skopeo && command -v jq") != 0) {
                printf("umoci, skopeo or jq missing, skipping\n");
                return 77;
        }
        if (!mkdtemp(base)) {
                perror("mkdtemp");
                return 1;
        }
        char *l = build_layer(&layer_len);
        layer = l;
        test_all();
        free(l);

        if (unit_failures == 0)
                (void) rm_rf(base);
        else
                fprintf(stderr, "outputs kept in %s\n", base);
        printf("%d checks, %d failed\n", unit_checks, unit_failures);
        return unit_failures ? 1 : 0;
}
