/* SPDX-License-Identifier: MIT */
/* basic/run.c: temporary names, the sweeps of dead runs' leftovers (in an
 * output directory and in $TMPDIR) and rm_rf_at() never following a link. */

#include <ctype.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit.h"
#include "basic/fileio.h"
#include "basic/run.h"

static char base[] = "/tmp/slipway-test-run.XXXXXX";

static char *at(const char *rel) {
        char *p = path_join(base, rel);
        if (!p)
                abort();
        return p;
}

static void put(const char *rel, const char *text) {
        char *p = at(rel), *dir = path_dirname(p);
        CHECK(mkdir_parents(dir, 0755) >= 0);
        CHECK(write_file_atomic(p, text, strlen(text), 0644) >= 0);
        free(dir);
        free(p);
}

static bool there(const char *rel) {
        char *p = at(rel);
        struct stat st;
        bool r = lstat(p, &st) == 0;
        free(p);
        return r;
}

static void test_names(void) {
        CHECK(run_is_temporary_name("vm.raw.tmp.AbC123"));
        CHECK(run_is_temporary_name("images.disk.x9Y8z7"));
        CHECK(run_is_temporary_name(".slipway-tmp-abcdef"));
        CHECK(!run_is_temporary_name(".tmp.AbC123"));      /* no NAME */
        CHECK(!run_is_temporary_name("vm.raw.tmp.AbC12"));  /* five */
        CHECK(!run_is_temporary_name("vm.raw.tmp.AbC1234")); /* seven */
        CHECK(!run_is_temporary_name("vm.raw.tmp.AbC-23"));
        CHECK(!run_is_temporary_name("vm.raw"));
        CHECK(!run_is_temporary_name("vm.raw.old.AbC123")); /* may hold the only previous output */
        CHECK(!run_is_temporary_name(".slipway.lock"));
}

static void test_rm_rf_at(void) {
        put("victim/keep.txt", "keep\n");
        put("gone/a/b.txt", "x\n");
        char *victim = at("victim"), *link = at("gone/a/link"), *gone = at("gone");
        CHECK(symlink(victim, link) == 0);
        int dfd = open(base, O_RDONLY | O_DIRECTORY);
        CHECK(rm_rf_at(dfd, "gone") == 0);
        CHECK(rm_rf_at(dfd, "gone") == 0); /* missing is fine */
        close(dfd);
        CHECK(!there("gone"));
        CHECK(there("victim/keep.txt"));
        free(victim);
        free(link);
        free(gone);
}

static void test_output_sweep(void) {
        put("out/images/vm.raw.tmp.AbC123", "partial\n");
        put("out/images.disk.Qw3rty/part0.ext4", "partial\n");
        put("out/repo/Packages/a.rpm.tmp.zzzzzz", "partial\n");
        put("out/images/vm.raw", "published\n");
        put("out/images/notes.tmp.toolong", "user\n");
        char *victim = at("victim"), *link = at("out/images/x.tmp.LiNk00"), *out = at("out");
        CHECK(symlink(victim, link) == 0);

        /* Another run holds the directory: nothing is removed. */
        char *lock_path = at("out/.slipway.lock");
        int other = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        CHECK(other >= 0 && flock(other, LOCK_SH) == 0);
        CHECK(run_lock_output(out) == 0);
        CHECK(there("out/images/vm.raw.tmp.AbC123"));
        CHECK(there("out/images.disk.Qw3rty/part0.ext4"));
        run_finish();
        close(other);

        /* Alone: the temporaries go, nothing else. */
        CHECK(run_lock_output(out) == 4);
        CHECK(!there("out/images/vm.raw.tmp.AbC123"));
        CHECK(!there("out/images.disk.Qw3rty"));
        CHECK(!there("out/repo/Packages/a.rpm.tmp.zzzzzz"));
        CHECK(!there("out/images/x.tmp.LiNk00"));
        CHECK(there("out/images/vm.raw"));
        CHECK(there("out/images/notes.tmp.toolong"));
        CHECK(there("victim/keep.txt"));
        CHECK(run_lock_output(out) == 0); /* once per directory */
        run_finish();

        /* A second run now finds the directory free again: its lock is
         * shared while it runs. */
        other = open(lock_path, O_RDWR | O_CLOEXEC);
        CHECK(other >= 0 && flock(other, LOCK_EX | LOCK_NB) == 0);
        close(other);
        free(lock_path);
        free(victim);
        free(link);
        free(out);
}

static void test_scratch(void) {
        char *tmp = at("tmp"), *victim = at("victim");
        CHECK(mkdir(tmp, 01777) == 0 && chmod(tmp, 01777) == 0);
        /* A dead run's directory (its lock free), a live one's (held), one
         * without a lock, and a planted symbolic link. */
        put("tmp/slipway-run.DeAd00/lock", "");
        put("tmp/slipway-run.DeAd00/build.x/file", "x\n");
        put("tmp/slipway-run.LiVe00/lock", "");
        put("tmp/slipway-run.NoLock/build.y/file", "y\n");
        put("victim/lock", "");
        char *live_lock = at("tmp/slipway-run.LiVe00/lock"), *planted = at("tmp/slipway-run.PlAnT0");
        int live = open(live_lock, O_RDWR | O_CLOEXEC);
        CHECK(live >= 0 && flock(live, LOCK_EX) == 0);
        CHECK(symlink(victim, planted) == 0);

        CHECK(setenv("TMPDIR", tmp, 1) == 0);
        char *d = NULL;
        CHECK(run_mkdtemp("build", &d) == 0);
        CHECK(d && strncmp(d, tmp, strlen(tmp)) == 0 && strstr(d, "/slipway-run.") && strstr(d, "/build."));
        struct stat st;
        char *run_dir = d ? path_dirname(d) : NULL;
        CHECK(run_dir && stat(run_dir, &st) == 0 && (st.st_mode & 07777) == 0700);
        CHECK(!there("tmp/slipway-run.DeAd00"));
        CHECK(there("tmp/slipway-run.LiVe00/lock"));
        CHECK(there("tmp/slipway-run.NoLock/build.y/file"));
        CHECK(there("tmp/slipway-run.PlAnT0"));
        CHECK(there("victim/lock"));
        run_finish();
        CHECK(run_dir && access(run_dir, F_OK) < 0);
        close(live);
        free(run_dir);
        free(d);
        free(live_lock);
        free(planted);
        free(tmp);
        free(victim);
}

/* Staging in memory: /dev/shm when $TMPDIR is on a disk and there is room,
 * else $TMPDIR; made, swept and removed as the scratch in $TMPDIR. */
static void test_memory_scratch(void) {
        struct statfs sf;
        const char *tmp = getenv("TMPDIR");
        bool shm = statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK) == 0 &&
                   !(statfs(tmp, &sf) == 0 && sf.f_type == TMPFS_MAGIC);
        /* A dead run's directory there, ours, with its lock free. */
        char dead[64];
        snprintf(dead, sizeof dead, "/dev/shm/slipway-run.Td%04x", (unsigned) (getpid() & 0xffff));
        for (char *c = dead + strlen("/dev/shm/slipway-run."); *c; c++)
                if (!isalnum((unsigned char) *c))
                        *c = 'x';
        char *dead_lock = NULL;
        CHECK(asprintf(&dead_lock, "%s/lock", dead) > 0);
        if (shm)
                CHECK(mkdir(dead, 0700) == 0 && close(open(dead_lock, O_CREAT | O_WRONLY, 0600)) == 0);

        char *d = NULL, *big = NULL;
        CHECK(run_mkdtemp_memory("stage", 1 << 20, &d) == 0);
        CHECK(d && strstr(d, "/slipway-run.") && strstr(d, "/stage."));
        CHECK(d && strncmp(d, shm ? "/dev/shm/" : tmp, shm ? 9 : strlen(tmp)) == 0);
        struct stat st;
        char *run_dir = d ? path_dirname(d) : NULL;
        CHECK(run_dir && stat(run_dir, &st) == 0 && (st.st_mode & 07777) == 0700);
        if (shm)
                CHECK(access(dead, F_OK) < 0); /* swept */
        /* More than the memory has: on the disk. */
        CHECK(run_mkdtemp_memory("stage", UINT64_MAX / 4, &big) == 0);
        CHECK(big && strncmp(big, tmp, strlen(tmp)) == 0);
        run_finish();
        CHECK(run_dir && access(run_dir, F_OK) < 0);
        if (shm)
                (void) rm_rf(dead);
        free(run_dir);
        free(d);
        free(big);
        free(dead_lock);
}

static void setup(void) {
        if (!mkdtemp(base))
                abort();
        /* run_lock_output() sweeps $TMPDIR too: this test's, not /tmp. */
        char *t = at("tmp-other");
        if (mkdir(t, 0700) < 0 || setenv("TMPDIR", t, 1) < 0)
                abort();
        free(t);
}

static void teardown(void) {
        CHECK(rm_rf(base) == 0);
}

UNIT_MAIN(setup, test_names, test_rm_rf_at, test_output_sweep, test_scratch, test_memory_scratch, teardown)
