/* SPDX-License-Identifier: MIT */
/* sandbox/sandbox.c: runs in a small root made of the host's static busybox.
 * Everything runs as the user the test runs as and, when that is root,
 * again as nobody (uid and gid 65534, no groups) in a forked process: the
 * sandbox must behave the same for both. */

#include <dirent.h>
#include <grp.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../unit.h"
#include "basic/fileio.h"
#include "basic/process.h"
#include "basic/run.h"
#include "sandbox/record.h"
#include "sandbox/sandbox.h"

static char *base, *root, *canary_path, *canary_name;
static const char canary_text[] = "host secret 7d1f\n";
static char *const default_env[] = { "PATH=/bin", NULL };

static const char *const applets[] = {
        "sh", "cat", "env", "pwd", "sleep", "ls", "id", "ip", "nc", "hostname", "chown", "seq", "echo",
        "true", "uname", "find", "touch", "head", "wc", "stat", "mknod", "tail",
};

static char *at(const char *dir, const char *rel) {
        char *p = path_join(dir, rel);
        if (!p)
                abort();
        return p;
}

static void put(const char *path, const char *text, mode_t mode) {
        CHECK(write_file_atomic(path, text, strlen(text), mode) >= 0);
}

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* base/root with bin/busybox and its applets, /work and /mnt; base/canary-*
 * beside it, which nothing inside may read. */
static void make_root(void) {
        char tmpl[] = "/tmp/slipway-test-sandbox.XXXXXX";
        void *bb;
        size_t bb_size;

        CHECK(mkdtemp(tmpl) != NULL);
        base = strdup(tmpl);
        root = at(base, "root");
        char *bin = at(root, "bin"), *busybox = at(bin, "busybox"), *work = at(root, "work"), *mnt = at(root, "mnt");
        CHECK(mkdir_parents(bin, 0755) >= 0 && mkdir(work, 0755) == 0 && mkdir(mnt, 0755) == 0);
        CHECK(map_file("/bin/busybox", &bb, &bb_size) >= 0);
        CHECK(write_file_atomic(busybox, bb, bb_size, 0755) >= 0);
        munmap(bb, bb_size);
        for (size_t i = 0; i < ELEMENTSOF(applets); i++) {
                char *link = at(bin, applets[i]);
                CHECK(symlink("busybox", link) == 0);
                free(link);
        }
        char *notexec = at(root, "notexec"), *garbage = at(root, "garbage");
        put(notexec, "#!/bin/sh\necho no\n", 0644);
        put(garbage, "this is neither ELF nor a script\n", 0755);
        char name[64];
        snprintf(name, sizeof name, "canary-%ld", (long) getpid());
        canary_name = strdup(name);
        canary_path = at(base, name);
        put(canary_path, canary_text, 0644);
        free(bin);
        free(busybox);
        free(work);
        free(mnt);
        free(notexec);
        free(garbage);
}

static Sandbox *start(const SandboxOptions *o) {
        Sandbox *s = NULL;
        char *err = NULL;
        int r = sandbox_start(o, &s, &err);
        if (r < 0)
                fprintf(stderr, "sandbox_start: %s (%d)\n", err ? err : "(no message)", r);
        CHECK(r == 0 && s);
        free(err);
        return s;
}

static Sandbox *start_plain(void) {
        SandboxOptions o = { .root = root, .hostname = "sandbox-test" };
        return start(&o);
}

/* Runs argv (default environment, cwd /); returns the output (malloc'd) and
 * *ret_status, or NULL when sandbox_run failed. */
static char *run(Sandbox *s, const char *const *argv, int *ret_status) {
        /* A hang (a notification nobody answers) becomes a failure. */
        SandboxCommand c = { .argv = (char *const *) argv, .envp = default_env, .timeout_sec = 20 };
        SandboxResult res = {};
        char *err = NULL;
        int r = sandbox_run(s, &c, &res, &err);
        if (r < 0) {
                fprintf(stderr, "sandbox_run %s: %s (%d)\n", argv[0], err ? err : "(no message)", r);
                free(err);
                return NULL;
        }
        CHECK(!res.timed_out);
        *ret_status = res.status;
        return res.output;
}

static char *sh(Sandbox *s, const char *script, int *ret_status) {
        return run(s, (const char *const[]) { "/bin/sh", "-c", script, NULL }, ret_status);
}

static bool output_is(Sandbox *s, const char *const *argv, int status, const char *expected) {
        int st = -1;
        char *out = run(s, argv, &st);
        bool ok = out && st == status && strcmp(out, expected) == 0;
        if (!ok)
                fprintf(stderr, "%s: status %d, output '%s'; expected %d, '%s'\n", argv[0], st, out ? out : "(null)",
                        status, expected);
        free(out);
        return ok;
}

/* The test's descendants (from /proc/PID/stat), up to max of them in
 * list if given; how many there are. */
static size_t descendants_list(pid_t *list, size_t max) {
        pid_t known[256];
        size_t n = 0;
        known[n++] = getpid();
        for (bool grew = true; grew;) {
                grew = false;
                DIR *d = opendir("/proc");
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        pid_t pid = (pid_t) atol(de->d_name), ppid = 0;
                        char path[64], buf[512];
                        if (pid <= 0)
                                continue;
                        snprintf(path, sizeof path, "/proc/%d/stat", pid);
                        int fd = open(path, O_RDONLY | O_CLOEXEC);
                        ssize_t k = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
                        if (fd >= 0)
                                close(fd);
                        if (k <= 0)
                                continue;
                        buf[k] = 0;
                        char *paren = strrchr(buf, ')');
                        if (!paren || sscanf(paren, ") %*c %d", &ppid) != 1)
                                continue;
                        bool have = false, parent_known = false;
                        for (size_t i = 0; i < n; i++) {
                                have |= known[i] == pid;
                                parent_known |= known[i] == ppid;
                        }
                        if (!have && parent_known && n < ELEMENTSOF(known)) {
                                known[n++] = pid;
                                grew = true;
                        }
                }
                if (d)
                        closedir(d);
        }
        for (size_t i = 1; list && i < n && i - 1 < max; i++)
                list[i - 1] = known[i];
        return n - 1;
}

/* The number of descendants; *ret_deepest: the last one found (init, when
 * the only ones are a sandbox's outer process and init). */
static size_t descendants(pid_t *ret_deepest) {
        pid_t list[64];
        size_t n = descendants_list(list, ELEMENTSOF(list));
        if (ret_deepest)
                *ret_deepest = n > 0 && n <= ELEMENTSOF(list) ? list[n - 1] : 0;
        return n;
}

/* Whether pid is gone (or a zombie: dead, not yet reaped). */
static bool gone(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
                return true;
        buf[k] = 0;
        char *paren = strrchr(buf, ')');
        return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static bool all_gone_within(const pid_t *list, size_t n, double seconds) {
        double t0 = now();
        for (;;) {
                bool all = true;
                for (size_t i = 0; i < n; i++)
                        all &= gone(list[i]);
                if (all)
                        return true;
                if (now() - t0 > seconds)
                        return false;
                usleep(10000);
        }
}

static size_t count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        size_t n = 0;
        while (d && readdir(d))
                n++;
        if (d)
                closedir(d);
        return n;
}

static int threads(void) {
        char *s = NULL;
        size_t n;
        int t = -1;
        if (read_full_file("/proc/self/status", &s, &n) >= 0) {
                char *l = strstr(s, "\nThreads:");
                if (l)
                        t = atoi(l + 9);
        }
        free(s);
        return t;
}

static void test_run_basics(Sandbox *s) {
        int st = -1;
        CHECK(output_is(s, (const char *const[]) { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL }, 3,
                        "out\nerr\n"));
        CHECK(output_is(s, (const char *const[]) { "/bin/id", "-u", NULL }, 0, "0\n"));
        CHECK(output_is(s, (const char *const[]) { "/bin/id", "-g", NULL }, 0, "0\n"));
        CHECK(output_is(s, (const char *const[]) { "/bin/hostname", NULL }, 0, "sandbox-test\n"));
        CHECK(output_is(s, (const char *const[]) { "/bin/pwd", NULL }, 0, "/\n"));
        /* Killed by a signal: 128 + it. */
        CHECK(output_is(s, (const char *const[]) { "/bin/sh", "-c", "kill -TERM $$", NULL }, 128 + SIGTERM, ""));

        /* Input, and /dev/null without. */
        SandboxCommand c = { .argv = (char *const[]) { "/bin/cat", NULL }, .envp = default_env,
                             .input = "hello\nworld\n", .input_size = 12 };
        SandboxResult res = {};
        CHECK(sandbox_run(s, &c, &res, NULL) == 0 && res.status == 0 && res.output_size == 12 &&
              strcmp(res.output, "hello\nworld\n") == 0 && !res.output_truncated && !res.timed_out);
        sandbox_result_release(&res);
        CHECK(res.output == NULL);
        CHECK(output_is(s, (const char *const[]) { "/bin/cat", NULL }, 0, ""));

        /* A script on descriptor 3, as a scriptlet's body reaches its
         * interpreter; with input too; without one, 3 is closed. */
        c = (SandboxCommand) { .argv = (char *const[]) { "/bin/sh", "/dev/fd/3", "a", "b", NULL },
                               .envp = default_env, .script = "echo \"script $1 $2\"; cat\n", .script_size = 24,
                               .input = "in\n", .input_size = 3 };
        CHECK(sandbox_run(s, &c, &res, NULL) == 0 && res.status == 0 && strcmp(res.output, "script a b\nin\n") == 0);
        sandbox_result_release(&res);
        CHECK(output_is(s, (const char *const[]) { "/bin/sh", "-c", "test -e /proc/self/fd/3 || echo closed", NULL }, 0,
                        "closed\n"));

        /* The environment is exactly envp; cwd. */
        c = (SandboxCommand) { .argv = (char *const[]) { "/bin/env", NULL },
                               .envp = (char *const[]) { "A=1", "B=two words", NULL } };
        CHECK(sandbox_run(s, &c, &res, NULL) == 0 && strcmp(res.output, "A=1\nB=two words\n") == 0);
        sandbox_result_release(&res);
        c = (SandboxCommand) { .argv = (char *const[]) { "/bin/pwd", NULL }, .envp = default_env, .cwd = "/work" };
        CHECK(sandbox_run(s, &c, &res, NULL) == 0 && strcmp(res.output, "/work\n") == 0);
        sandbox_result_release(&res);

        /* Writes land in the root, owned by the caller; chown to an id that
         * is not mapped fails without the recorder. */
        char *out = sh(s, "echo hi > /work/written && chown 1:1 /work/written", &st);
        CHECK(out && st != 0 && strstr(out, "Invalid argument"));
        free(out);
        char *written = at(root, "work/written"), *text = NULL;
        size_t n;
        struct stat sb;
        CHECK(read_full_file(written, &text, &n) >= 0 && text && strcmp(text, "hi\n") == 0);
        CHECK(stat(written, &sb) == 0 && sb.st_uid == geteuid() && sb.st_gid == getegid());
        free(text);
        free(written);
}

static void check_error(Sandbox *s, const SandboxCommand *c, int expected, const char *in_message) {
        SandboxResult res = { .status = -7 };
        char *err = NULL;
        int r = sandbox_run(s, c, &res, &err);
        CHECK(r == expected);
        CHECK(res.status == -7 && !res.output); /* untouched */
        CHECK(err && strstr(err, in_message));
        if (r != expected || !err || !strstr(err, in_message))
                fprintf(stderr, "got %d '%s', expected %d '%s'\n", r, err ? err : "(null)", expected, in_message);
        free(err);
}

static void test_run_errors(Sandbox *s) {
        SandboxCommand c = { .argv = (char *const[]) { "/bin/nope", NULL }, .envp = default_env };
        check_error(s, &c, -ENOENT, "'/bin/nope' does not exist");
        c.argv = (char *const[]) { "/notexec", NULL };
        check_error(s, &c, -EACCES, "'/notexec' in the sandbox is not executable");
        c.argv = (char *const[]) { "/garbage", NULL };
        check_error(s, &c, -ENOEXEC, "'/garbage' in the sandbox is not in a format");
        c.argv = (char *const[]) { "/bin/true", NULL };
        c.cwd = "/no/such/dir";
        check_error(s, &c, -ENOENT, "working directory '/no/such/dir'");
        c = (SandboxCommand) { .function = "nothing", .envp = default_env };
        check_error(s, &c, -ENOENT, "'nothing' is not a function");
        /* Still fine afterwards. */
        CHECK(output_is(s, (const char *const[]) { "/bin/echo", "ok", NULL }, 0, "ok\n"));
}

/* Counts the numeric entries of the sandbox's /proc: init and ls. */
static void check_alone(Sandbox *s) {
        int st = -1;
        char *out = run(s, (const char *const[]) { "/bin/ls", "/proc", NULL }, &st);
        size_t pids = 0;
        for (char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
                if (*l >= '0' && *l <= '9')
                        pids++;
        CHECK(st == 0 && pids == 2);
        if (pids != 2)
                fprintf(stderr, "/proc in the sandbox:\n%s", out ? out : "(null)");
        free(out);
}

static void test_isolation(Sandbox *s) {
        int st = -1;
        char *out;

        check_alone(s);
        /* The root and nothing else, /dev as described. */
        CHECK(output_is(s, (const char *const[]) { "/bin/ls", "/", NULL }, 0,
                        "bin\ndev\ngarbage\nmnt\nnotexec\nproc\nwork\n"));
        CHECK(output_is(s, (const char *const[]) { "/bin/ls", "/dev", NULL }, 0,
                        "fd\nfull\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nzero\n"));
        CHECK(output_is(s, (const char *const[]) { "/bin/sh", "-c", "head -c 5 /dev/zero | wc -c; echo x > /dev/null",
                                                   NULL },
                        0, "5\n"));
        /* The host's file beside the root, by every path we can think of. */
        char script[2048];
        snprintf(script, sizeof script,
                 "for p in %s /proc/1/root%s /proc/self/root%s /proc/1/cwd/../%s /..%s ../../%s; do "
                 "cat $p 2>/dev/null; done; find / -name '%s' 2>/dev/null; echo done",
                 canary_path, canary_path, canary_path, canary_name, canary_path, canary_name, canary_name);
        out = sh(s, script, &st);
        CHECK(out && strcmp(out, "done\n") == 0);
        if (out && strcmp(out, "done\n") != 0)
                fprintf(stderr, "canary search: %s", out);
        free(out);
        /* Init's memory and descriptors (a copy of slipway's) stay closed. */
        out = sh(s, "cat /proc/1/environ; ls /proc/1/fd; cat /proc/1/mem", &st);
        CHECK(out && st != 0 && strstr(out, "Permission denied") && !strstr(out, "PATH"));
        free(out);

        /* No network: only lo, and down. */
        out = run(s, (const char *const[]) { "/bin/ip", "-o", "link", NULL }, &st);
        CHECK(out && st == 0 && strncmp(out, "1: lo: <LOOPBACK>", 17) == 0 && strchr(out, '\n') == out + strlen(out) - 1);
        if (out && strncmp(out, "1: lo: <LOOPBACK>", 17) != 0)
                fprintf(stderr, "ip link: %s", out);
        free(out);
        out = sh(s, "echo x | nc 127.0.0.1 80", &st);
        CHECK(out && st != 0 && strstr(out, "unreachable"));
        free(out);
}

static void test_timeout_and_leftovers(Sandbox *s) {
        SandboxCommand c = { .argv = (char *const[]) { "/bin/sleep", "100", NULL }, .envp = default_env,
                             .timeout_sec = 1 };
        SandboxResult res = {};
        double t0 = now();
        CHECK(sandbox_run(s, &c, &res, NULL) == 0 && res.timed_out && res.status == 128 + SIGKILL);
        double took = now() - t0;
        CHECK(took >= 0.9 && took < 3);
        sandbox_result_release(&res);

        /* A daemon left behind is killed before the next run ... */
        CHECK(output_is(s, (const char *const[]) { "/bin/sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo started",
                                                   NULL },
                        0, "started\n"));
        check_alone(s);
        /* ... also one that keeps the output open: killed when its starter
         * ends, so the run ends too (without that, this waits forever). */
        t0 = now();
        CHECK(output_is(s, (const char *const[]) { "/bin/sh", "-c", "sleep 1000 & echo started", NULL }, 0,
                        "started\n"));
        CHECK(now() - t0 < 3);
        check_alone(s);

        /* Output past output_max is read and dropped. */
        c = (SandboxCommand) { .argv = (char *const[]) { "/bin/seq", "1", "100000", NULL }, .envp = default_env,
                               .output_max = 1000 };
        CHECK(sandbox_run(s, &c, &res, NULL) == 0 && res.status == 0 && res.output_truncated &&
              res.output_size == 1000 && strlen(res.output) == 1000 && strncmp(res.output, "1\n2\n3\n", 6) == 0);
        sandbox_result_release(&res);
}

static int fn_answer(int argc, char **argv, char **envp) {
        struct stat st;
        printf("argc=%d %s %s X=%s uid=%d busybox=%d canary=%d\n", argc, argv[0], argv[1], getenv("X"),
               (int) getuid(), stat("/bin/busybox", &st) == 0, access(canary_path, F_OK) == 0);
        fprintf(stderr, "to stderr %s\n", envp[0]);
        return 42;
}

static void test_function(void) {
        SandboxFunction fns[] = { { "answer", fn_answer } };
        SandboxOptions o = { .root = root, .functions = fns, .n_functions = 1 };
        Sandbox *s = start(&o);
        if (!s)
                return;
        SandboxCommand c = { .function = "answer", .argv = (char *const[]) { "answer", "one", NULL },
                             .envp = (char *const[]) { "X=ex", NULL }, .cwd = "/work" };
        SandboxResult res = {};
        CHECK(sandbox_run(s, &c, &res, NULL) == 0 && res.status == 42);
        /* stdout is a pipe, so buffered, and flushed at the return: after
         * the unbuffered stderr, as a program's would be. */
        CHECK_STREQ(res.output, "to stderr X=ex\nargc=2 answer one X=ex uid=0 busybox=1 canary=0\n");
        sandbox_result_release(&res);
        CHECK(output_is(s, (const char *const[]) { "/bin/true", NULL }, 0, ""));
        sandbox_stop(s);
}

static void test_binds(void) {
        char *share = at(base, "share"), *file = at(share, "file");
        CHECK(mkdir(share, 0755) == 0);
        put(file, "shared\n", 0644);
        ProcessBind binds[] = { { .source = share, .target = "/mnt", .read_only = true } };
        SandboxOptions o = { .root = root, .binds = binds, .n_binds = 1 };
        Sandbox *s = start(&o);
        if (s) {
                int st = -1;
                char *out = sh(s, "cat /mnt/file; touch /mnt/new", &st);
                CHECK(out && st != 0 && strncmp(out, "shared\n", 7) == 0 && strstr(out, "Read-only file system"));
                free(out);
                sandbox_stop(s);
        }
        /* A target that is not there: said so. */
        binds[0].target = "/missing";
        Sandbox *t = NULL;
        char *err = NULL;
        CHECK(sandbox_start(&o, &t, &err) == -ENOENT && !t && err && strstr(err, "'/missing'"));
        sandbox_stop(t);
        free(err);
        free(share);
        free(file);
}

static void test_start_errors(void) {
        Sandbox *s = NULL;
        char *err = NULL;
        struct utsname u;

        SandboxOptions o = { .root = "/nonexistent/root" };
        CHECK(sandbox_start(&o, &s, &err) == -ENOENT && !s && err && strstr(err, "'/nonexistent/root'"));
        free(err);
        err = NULL;

        o = (SandboxOptions) { .root = root, .arch = "vax" };
        CHECK(sandbox_start(&o, &s, &err) == -EINVAL && !s && err && strstr(err, "'vax'"));
        s = sandbox_stop(s);
        free(err);
        err = NULL;

        CHECK(uname(&u) == 0);
        if (strcmp(u.machine, "s390x") == 0 || path_exists("/proc/sys/fs/binfmt_misc/qemu-s390x"))
                printf("s390x: this machine runs it, the refusal is not tested\n");
        else {
                o.arch = "s390x";
                CHECK(sandbox_start(&o, &s, &err) == -ENOEXEC && !s && err &&
                      strstr(err, "the image is for s390x") && strstr(err, "binfmt_misc"));
                s = sandbox_stop(s);
                free(err);
                err = NULL;
        }
        o.arch = "noarch";
        s = start(&o);
        s = sandbox_stop(s);
        /* The mount points it made in the root. */
        char *proc = at(root, "proc"), *dev = at(root, "dev");
        struct stat st;
        CHECK(lstat(proc, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0555);
        CHECK(lstat(dev, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
        free(proc);
        free(dev);

        /* A /dev that leads elsewhere is refused, not followed. */
        char *bad = at(base, "badroot"), *bad_dev = at(bad, "dev");
        CHECK(mkdir(bad, 0755) == 0 && symlink("/tmp", bad_dev) == 0);
        o = (SandboxOptions) { .root = bad };
        CHECK(sandbox_start(&o, &s, &err) == -ENOTDIR && !s && err && strstr(err, "'/dev' in the sandbox root") &&
              strstr(err, "is not a directory"));
        s = sandbox_stop(s);
        free(err);
        err = NULL;
        free(bad);
        free(bad_dev);
        o = (SandboxOptions) { .root = root };
        if (strcmp(u.machine, "x86_64") == 0) {
                o.arch = "i686";
                s = start(&o);
                if (s)
                        CHECK(output_is(s, (const char *const[]) { "/bin/uname", "-m", NULL }, 0, "i686\n"));
                sandbox_stop(s);
        }

        /* A kernel that refuses user namespaces: said why. Made real in a
         * user namespace of our own whose limit for nested ones is 0. */
        pid_t pid = fork();
        if (pid == 0) {
                uid_t uid = geteuid();
                gid_t gid = getegid();
                int fd;
                if (unshare(CLONE_NEWUSER) < 0 || process_map_ids(uid, gid) < 0 ||
                    (fd = open("/proc/sys/user/max_user_namespaces", O_WRONLY)) < 0 || write(fd, "0", 1) != 1)
                        _exit(2);
                o = (SandboxOptions) { .root = root };
                int r = sandbox_start(&o, &s, &err);
                if (r != -EPERM || !err || !strstr(err, "user.max_user_namespaces")) {
                        fprintf(stderr, "refused namespaces: %d %s\n", r, err ? err : "(null)");
                        _exit(1);
                }
                _exit(0);
        }
        int ws;
        CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static void test_record(void) {
        SandboxOptions o = { .root = root, .record = true };
        Sandbox *s = NULL;
        char *err = NULL;
        int r = sandbox_start(&o, &s, &err);
        if (r == -ENOSYS) {
                printf("record: skipped, no recorder (%s)\n", err ? err : "");
                free(err);
                return;
        }
        CHECK(r == 0 && s);
        if (r < 0)
                fprintf(stderr, "record: %s\n", err);
        free(err);
        if (!s)
                return;
        int st = -1;
        char *out = sh(s, "echo x > /work/owned && chown 1:2 /work/owned && stat -c %u:%g /work/owned", &st);
        CHECK(out && st == 0 && strcmp(out, "0:0\n") == 0); /* recorded, not made */
        free(out);
        char *owned = at(root, "work/owned");
        struct stat sb;
        CHECK(stat(owned, &sb) == 0);
        const RecordEntry *e = sandbox_recorder(s) ? recorder_find(sandbox_recorder(s), sb.st_dev, sb.st_ino) : NULL;
        CHECK(e && e->has_owner && e->uid == 1 && e->gid == 2);
        free(owned);
        /* Many notifications in one run, with output flowing meanwhile: each
         * blocked process is answered while the run goes on. */
        out = sh(s, "for i in $(seq 1 300); do touch /work/f$i; chown $i:$i /work/f$i; echo $i; done | tail -n 1; "
                    "mknod /work/null c 1 3",
                 &st);
        CHECK(out && st == 0 && strcmp(out, "300\n") == 0);
        free(out);
        CHECK(recorder_count(sandbox_recorder(s)) >= 301);
        char *f300 = at(root, "work/f300"), *node = at(root, "work/null");
        CHECK(stat(f300, &sb) == 0);
        e = recorder_find(sandbox_recorder(s), sb.st_dev, sb.st_ino);
        CHECK(e && e->has_owner && e->uid == 300 && e->gid == 300);
        CHECK(stat(node, &sb) == 0 && S_ISREG(sb.st_mode));
        e = recorder_find(sandbox_recorder(s), sb.st_dev, sb.st_ino);
        CHECK(e && e->is_device && (e->mode & S_IFMT) == S_IFCHR && e->rdev_major == 1 && e->rdev_minor == 3);
        free(f300);
        free(node);
        sandbox_stop(s);
}

/* Init killed from outside: the next run says so. */
static void test_init_dies(void) {
        Sandbox *s = start_plain();
        pid_t deepest;
        if (!s)
                return;
        CHECK(descendants(&deepest) == 2 && deepest > 0); /* the outer process and init */
        CHECK(kill(deepest, SIGKILL) == 0);
        SandboxCommand c = { .argv = (char *const[]) { "/bin/true", NULL }, .envp = default_env };
        SandboxResult res = {};
        char *err = NULL;
        CHECK(sandbox_run(s, &c, &res, &err) == -ECHILD && err && strstr(err, "died"));
        free(err);
        err = NULL;
        CHECK(sandbox_run(s, &c, &res, &err) == -ECHILD);
        free(err);
        sandbox_stop(s);
        CHECK(descendants(NULL) == 0);
}

/* slipway with run.c's signal handling, a sandbox and (busy) a run of
 * sleep in it; returns once all of that is there. */
static pid_t slipway_with_sandbox(bool busy) {
        int ready[2];
        char c;
        if (pipe(ready) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                close(ready[0]);
                if (run_signals_setup(NULL) < 0)
                        _exit(2);
                Sandbox *s = start_plain();
                if (!s)
                        _exit(2);
                if (write(ready[1], "x", 1) != 1)
                        _exit(2);
                if (busy) {
                        int st;
                        free(run(s, (const char *const[]) { "/bin/sleep", "1000", NULL }, &st));
                        _exit(3); /* the run ended: it must not */
                }
                for (;;)
                        pause();
        }
        close(ready[1]);
        bool ok = read(ready[0], &c, 1) == 1;
        close(ready[0]);
        /* The slipway process, the outer one, init (and sleep). */
        for (double t0 = now(); ok && descendants(NULL) < (busy ? 4U : 3U) && now() - t0 < 5;)
                usleep(10000);
        CHECK(ok && descendants(NULL) == (busy ? 4U : 3U));
        return pid;
}

static void test_signals(void) {
        pid_t list[16];
        int ws;

        /* SIGTERM during a run, and to an idle sandbox: run.c's cleanup stops
         * the sandbox and the process exits with 128 + SIGTERM at once (an
         * idle sandbox has no owner waiting: run.c must not wait for one). */
        for (int busy = 1; busy >= 0; busy--) {
                pid_t pid = slipway_with_sandbox(busy);
                size_t n = descendants_list(list, ELEMENTSOF(list));
                double t0 = now();
                CHECK(pid > 0 && kill(pid, SIGTERM) == 0);
                CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 128 + SIGTERM);
                double took = now() - t0;
                CHECK(took < 3);
                CHECK(all_gone_within(list, MIN(n, ELEMENTSOF(list)), 0));
                printf("SIGTERM to slipway with a%s sandbox: exited in %.0f ms\n", busy ? " busy" : "n idle",
                       took * 1000);
        }
        /* kill -9 of slipway: the sandbox dies with it. */
        pid_t pid = slipway_with_sandbox(true);
        size_t n = descendants_list(list, ELEMENTSOF(list));
        CHECK(pid > 0 && kill(pid, SIGKILL) == 0 && waitpid(pid, &ws, 0) == pid);
        CHECK(n == 4 && all_gone_within(list, n, 2));
}

static void test_start_stop(void) {
        size_t fds = count_fds();
        double t0 = now();
        for (int i = 0; i < 50; i++) {
                Sandbox *s = start_plain();
                if (!s)
                        break;
                if (i == 0) {
                        /* One process in the sandbox, and what it left ... */
                        int st;
                        free(sh(s, "sleep 1000 >/dev/null 2>&1 & exit 0", &st));
                        CHECK(descendants(NULL) == 2);
                }
                sandbox_stop(s);
                /* ... gone with it. */
                if (i == 0)
                        CHECK(descendants(NULL) == 0);
        }
        double per = (now() - t0) / 50 * 1000;
        CHECK(count_fds() == fds);
        CHECK(descendants(NULL) == 0);
        CHECK(threads() == 1);
        printf("start + stop: %.2f ms\n", per);
}

static void test_speed(Sandbox *s) {
        SandboxCommand c = { .argv = (char *const[]) { "/bin/true", NULL }, .envp = default_env };
        const int n = 200;
        double t0 = now();
        for (int i = 0; i < n; i++) {
                SandboxResult res = {};
                CHECK(sandbox_run(s, &c, &res, NULL) == 0 && res.status == 0);
                sandbox_result_release(&res);
        }
        printf("a run of /bin/true: %.3f ms\n", (now() - t0) / n * 1000);
}

static void suite(void) {
        make_root();
        Sandbox *s = start_plain();
        if (s) {
                test_run_basics(s);
                test_run_errors(s);
                test_isolation(s);
                test_timeout_and_leftovers(s);
                test_speed(s);
                sandbox_stop(s);
        }
        test_function();
        test_binds();
        test_start_errors();
        test_record();
        test_init_dies();
        test_signals();
        test_start_stop();
        CHECK(rm_rf(base) >= 0);
}

int unit_failures, unit_checks;

int main(void) {
        if (access("/bin/busybox", X_OK) < 0) {
                printf("skipped: /bin/busybox (busybox-static) is missing\n");
                return 77;
        }
        printf("as uid %d\n", (int) geteuid());
        suite();
        if (geteuid() == 0) {
                fflush(stdout);
                pid_t pid = fork();
                if (pid == 0) {
                        /* Dumpable again after the uid change, as a user's
                         * process is (its namespaces' id maps need it). */
                        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                            setresuid(65534, 65534, 65534) < 0 || prctl(PR_SET_DUMPABLE, 1) < 0)
                                _exit(2);
                        unit_failures = unit_checks = 0;
                        printf("as uid %d\n", (int) geteuid());
                        suite();
                        printf("as nobody: %d checks, %d failed\n", unit_checks, unit_failures);
                        fflush(stdout);
                        _exit(unit_failures ? 1 : 0);
                }
                int ws;
                CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
        }
        printf("%d checks, %d failed\n", unit_checks, unit_failures);
        return unit_failures ? 1 : 0;
}
