/* SPDX-License-Identifier: MIT */
/* Unit tests of staging a tree in a directory and folding it back
 * (src/tree/stage.c): what the host cannot make (owners, devices, xattrs)
 * survives, what changed is read back with clamped times, nothing outside
 * the directory is touched. Run as the user running the tests and, when
 * that is root, again as nobody (the unprivileged path: 0550 and 0000
 * modes that keep the owner out). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "tree/stage.h"
#include "tree/tree.h"
#include "../unit.h"

#define SDE 1000000
#define PKG_TIME 500000

static TreeNode *add(Tree *t, TreeNode *n) {
        TreeNode *in = NULL;
        CHECK(tree_add(t, n, &in) == 0);
        return in;
}

static TreeNode *node(const char *path, TreeType type, uint32_t mode) {
        TreeNode *n = calloc(1, sizeof *n);
        n->path = strdup(path);
        n->type = type;
        n->mode = mode;
        n->mtime = PKG_TIME;
        n->owner = strdup("pkg-1-1.noarch");
        return n;
}

static Tree *make_tree(void) {
        Tree *t = tree_new(SDE);
        tree_get(t, "/")->mode = 0555;
        add(t, node("/etc", TREE_DIR, 0755));
        add(t, node("/root", TREE_DIR, 0550));
        add(t, node("/dev", TREE_DIR, 0755));
        TreeNode *n = node("/etc/kept", TREE_REG, 0644);
        n->blob = tree_blob_new("kept\n", 5);
        n->uid = 5;
        n->gid = 6;
        n->flags = TREE_NODE_CONFIG;
        add(t, n);
        CHECK(tree_node_set_xattr(tree_get(t, "/etc/kept"), "security.capability", "\x01\x02", 2) == 0);
        n = node("/etc/moved", TREE_REG, 0640);
        n->blob = tree_blob_new("moved\n", 6);
        n->uid = 7;
        n->gid = 7;
        add(t, n);
        n = node("/etc/changed", TREE_REG, 0644);
        n->blob = tree_blob_new("old\n", 4);
        n->uid = 8;
        add(t, n);
        add(t, node("/etc/gone", TREE_REG, 0644));
        n = node("/etc/shadow", TREE_REG, 0000);
        n->blob = tree_blob_new("root:!::\n", 9);
        add(t, n);
        n = node("/root/.profile", TREE_REG, 0644);
        n->blob = tree_blob_new("x\n", 2);
        add(t, n);
        n = node("/dev/null", TREE_CHR, 0666);
        n->rdev_major = 1;
        n->rdev_minor = 3;
        add(t, n);
        n = node("/etc/link", TREE_SYMLINK, 0777);
        n->target = strdup("kept");
        add(t, n);
        uint64_t id = tree_new_link_id(t);
        n = node("/etc/hard1", TREE_REG, 0644);
        n->blob = tree_blob_new("hard\n", 5);
        n->link_id = id;
        add(t, n);
        n = node("/etc/hard2", TREE_REG, 0644);
        n->blob = tree_blob_ref(tree_get(t, "/etc/hard1")->blob);
        n->link_id = id;
        add(t, n);
        /* Its parents are made from the tree as they are needed. */
        n = node("/usr/lib/deep/file", TREE_REG, 0644);
        add(t, n);
        return t;
}

static char *at(const char *dir, const char *path) {
        char *p;
        CHECK(asprintf(&p, "%s%s", dir, path) > 0);
        return p;
}

static void write_at(const char *dir, const char *path, const char *text) {
        _cleanup_free_ char *p = at(dir, path);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        close(fd);
}

static bool blob_is(const TreeBlob *b, const char *text) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t n;
        return tree_blob_load(b, 1 << 20, &data, &n) == 0 && n == strlen(text) && memcmp(data, text, n) == 0;
}

static void run_case(const char *dir, const char *outside) {
        _cleanup_(tree_freep) Tree *t = make_tree();
        _cleanup_(stage_freep) Stage *s = NULL;
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n = 0;
        int64_t now = (int64_t) time(NULL);

        CHECK(stage_new(dir, now, SDE, &s) == 0);
        CHECK(tree_list(t, &nodes, &n) == 0);
        /* Only the nodes of "the package": parents come by themselves. */
        for (size_t i = 0; i < n; i++)
                if (nodes[i]->owner || strcmp(nodes[i]->path, "/") == 0)
                        CHECK(stage_put(s, t, nodes[i]) == 0);

        struct stat st;
        _cleanup_free_ char *p = at(dir, "/etc/hard2"), *q = at(dir, "/etc/hard1");
        struct stat st2;
        CHECK(lstat(p, &st) == 0 && lstat(q, &st2) == 0 && st.st_ino == st2.st_ino && st.st_nlink == 2);
        free(p);
        p = at(dir, "/root");
        CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0550);
        free(p);
        p = at(dir, "/dev/null");
        CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
        free(p);
        p = at(dir, "/usr/lib/deep");
        CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_mtime == SDE); /* the tree's implicit parent */
        free(p);
        p = at(dir, "/etc/kept");
        CHECK(lstat(p, &st) == 0 && st.st_mtime == PKG_TIME);

        /* What a scriptlet does, from the host here. */
        write_at(dir, "/etc/new", "new\n");
        free(p);
        free(q);
        p = at(dir, "/etc/moved");
        q = at(dir, "/etc/moved.renamed");
        CHECK(rename(p, q) == 0);
        free(p);
        p = at(dir, "/etc/changed");
        int fd = open(p, O_WRONLY | O_TRUNC);
        CHECK(fd >= 0 && write(fd, "new contents\n", 13) == 13);
        close(fd);
        free(p);
        p = at(dir, "/etc/gone");
        CHECK(unlink(p) == 0);
        free(p);
        /* A link that leads out of the directory on the host. */
        p = at(dir, "/etc/escape");
        CHECK(symlink(outside, p) == 0);
        /* An existing directory is kept; a file is replaced by the next put. */
        TreeNode *again = node("/etc/changed", TREE_REG, 0600);
        again->blob = tree_blob_new("package again\n", 14);
        _cleanup_(tree_freep) Tree *t2 = tree_new(SDE);
        add(t2, again);
        CHECK(stage_put(s, t2, tree_get(t2, "/etc/changed")) == 0);
        /* A put below the escaping link lands inside the directory. */
        TreeNode *esc = node("/etc/escape/planted", TREE_REG, 0644);
        add(t2, esc);
        CHECK(stage_put(s, t2, tree_get(t2, "/etc/escape/planted")) == 0);
        _cleanup_free_ char *planted = NULL;
        CHECK(asprintf(&planted, "%s/planted", outside) > 0);
        CHECK(access(planted, F_OK) < 0 && errno == ENOENT);

        _cleanup_(tree_freep) Tree *f = NULL;
        const char *skip[] = { "/usr/lib/deep" };
        CHECK(stage_fold(s, NULL, skip, 1, &f) == 0);
        if (!f)
                return;
        TreeNode *k = tree_get(f, "/etc/kept");
        CHECK(k && k->uid == 5 && k->gid == 6 && k->mtime == PKG_TIME && k->flags == TREE_NODE_CONFIG);
        CHECK(k && k->blob == tree_get(t, "/etc/kept")->blob); /* untouched: not read again */
        CHECK(k && k->n_xattrs == 1 && strcmp(k->xattrs[0].name, "security.capability") == 0);
        CHECK_STREQ(k ? k->owner : NULL, "pkg-1-1.noarch");
        k = tree_get(f, "/etc/moved.renamed");
        CHECK(k && k->uid == 7 && k->gid == 7 && (k->mode == 0640) && blob_is(k->blob, "moved\n"));
        CHECK(tree_get(f, "/etc/moved") == NULL);
        CHECK(tree_get(f, "/etc/gone") == NULL);
        k = tree_get(f, "/etc/changed");
        CHECK(k && blob_is(k->blob, "package again\n") && k->mode == 0600 && k->mtime == PKG_TIME);
        k = tree_get(f, "/etc/new");
        CHECK(k && k->uid == 0 && k->mtime == SDE && blob_is(k->blob, "new\n") && !k->owner);
        k = tree_get(f, "/etc/shadow");
        CHECK(k && k->mode == 0 && blob_is(k->blob, "root:!::\n"));
        k = tree_get(f, "/dev/null");
        CHECK(k && k->type == TREE_CHR && k->rdev_major == 1 && k->rdev_minor == 3 && k->mode == 0666);
        k = tree_get(f, "/etc/link");
        CHECK(k && k->type == TREE_SYMLINK && strcmp(k->target, "kept") == 0);
        /* The dangling link was replaced by a directory, as a parent. */
        CHECK(tree_get(f, "/etc/escape/planted") != NULL);
        TreeNode *h1 = tree_get(f, "/etc/hard1"), *h2 = tree_get(f, "/etc/hard2");
        CHECK(h1 && h2 && h1->link_id != 0 && h1->link_id == h2->link_id);
        k = tree_get(f, "/root");
        CHECK(k && k->mode == 0550 && k->mtime == PKG_TIME);
        CHECK(tree_get(f, "/root/.profile") != NULL);
        k = tree_get(f, "/etc");
        CHECK(k && k->mtime == SDE); /* its entries changed */
        k = tree_get(f, "/");
        CHECK(k && k->mode == 0555);
        CHECK(tree_get(f, "/usr/lib") != NULL && tree_get(f, "/usr/lib/deep") == NULL);
        CHECK(tree_get(f, "/usr/lib/deep/file") == NULL);
}

static void test_stage(void) {
        char base[] = "/tmp/test-stage-XXXXXX";
        CHECK(mkdtemp(base) != NULL);
        CHECK(chmod(base, 0755) == 0);
        _cleanup_free_ char *dir = at(base, "/root"), *outside = at(base, "/outside");
        CHECK(mkdir(dir, 0700) == 0 && mkdir(outside, 0700) == 0);
        run_case(dir, outside);

        if (geteuid() == 0) {
                /* Again as nobody, who owns the directory and nothing else. */
                _cleanup_free_ char *dir2 = at(base, "/nobody"), *out2 = at(base, "/nobody-outside");
                CHECK(mkdir(dir2, 0700) == 0 && chown(dir2, 65534, 65534) == 0);
                CHECK(mkdir(out2, 0777) == 0 && chmod(out2, 0777) == 0);
                fflush(NULL);
                pid_t pid = fork();
                if (pid == 0) {
                        if (setgid(65534) < 0 || setuid(65534) < 0)
                                _exit(2);
                        unit_failures = 0;
                        run_case(dir2, out2);
                        _exit(unit_failures ? 1 : 0);
                }
                int status = -1;
                CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        CHECK(rm_rf(base) == 0);
        CHECK(access(base, F_OK) < 0);
}

/* With a store: files are links to one object per contents, mode and
 * mtime, shared by two stagings; another mode or time is another object. */
static void test_store(void) {
        char base[] = "/tmp/test-stage-store-XXXXXX";
        CHECK(mkdtemp(base) != NULL);
        _cleanup_free_ char *a = at(base, "/a"), *b = at(base, "/b"), *store = at(base, "/store");
        CHECK(mkdir(a, 0755) == 0 && mkdir(b, 0755) == 0 && mkdir(store, 0755) == 0);
        _cleanup_(tree_freep) Tree *t = tree_new(PKG_TIME);
        CHECK(tree_add_dir(t, "/usr", 0755, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/usr/one", "same\n", 5, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/usr/two", "same\n", 5, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/usr/exec", "same\n", 5, 0755, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/usr/empty", NULL, 0, 0600, 0, 0, NULL) == 0);
        const char *dirs[] = { a, b };
        for (size_t k = 0; k < 2; k++) {
                _cleanup_(stage_freep) Stage *s = NULL;
                _cleanup_free_ TreeNode **nodes = NULL;
                size_t n = 0;
                CHECK(stage_new(dirs[k], PKG_TIME + 10, SDE, &s) == 0);
                CHECK(stage_set_store(s, store) == 0);
                CHECK(tree_list(t, &nodes, &n) == 0);
                for (size_t i = 0; i < n; i++)
                        CHECK(stage_put(s, t, nodes[i]) == 0);
        }
        struct stat s1, s2, s3, s4, s5;
        _cleanup_free_ char *a1 = at(a, "/usr/one"), *a2 = at(a, "/usr/two"), *ax = at(a, "/usr/exec");
        _cleanup_free_ char *b1 = at(b, "/usr/one"), *ae = at(a, "/usr/empty");
        CHECK(stat(a1, &s1) == 0 && stat(a2, &s2) == 0 && stat(ax, &s3) == 0 && stat(b1, &s4) == 0 &&
              stat(ae, &s5) == 0);
        CHECK(s1.st_ino == s2.st_ino && s1.st_ino == s4.st_ino); /* one object: two paths, two stagings */
        CHECK(s1.st_nlink == 5); /* two paths in each staging, and the store's own name */
        CHECK(s3.st_ino != s1.st_ino && (s3.st_mode & 07777) == 0755);
        CHECK(s1.st_mtime == PKG_TIME && (s1.st_mode & 07777) == 0644 && s1.st_size == 5);
        CHECK(s5.st_size == 0 && (s5.st_mode & 07777) == 0600);
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        CHECK(read_full_file(b1, &data, &size) == 0 && size == 5 && memcmp(data, "same\n", 5) == 0);
        CHECK(rm_rf(base) == 0);
}

UNIT_MAIN(test_stage, test_store)
