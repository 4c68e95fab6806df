/* SPDX-License-Identifier: MIT */
/* script/lua.c: Lua scriptlets run by lua_scriptlet_function in a forked
 * child, as the sandbox will run them, with standard output and error
 * captured in files. Scripts print what they found and the output is
 * compared whole. The real-world scriptlets (Fedora's filesystem and
 * setup, Azure Linux's crypto-policies) run chrooted into a temporary
 * root: as root, or in a user namespace otherwise (skipped, and said so,
 * when neither is possible). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "script/lua.h"

static char base[] = "/tmp/slipway-test-lua.XXXXXX";

static char *at(const char *rel) {
        char *p = path_join(base, rel);
        if (!p)
                abort();
        return p;
}

typedef struct LuaRun {
        int status; /* exit status; -1: killed; 98: could not enter the root */
        char *out, *err;
} LuaRun;

static void lua_run_release(LuaRun *r) {
        free(r->out);
        free(r->err);
}

static int write_id_map(const char *file, unsigned id) {
        char text[64];
        int n = snprintf(text, sizeof text, "0 %u 1\n", id);
        int fd = open(file, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = loop_write(fd, text, (size_t) n);
        close(fd);
        return r;
}

/* chroot into dir: directly as root, else in a new user namespace where
 * we are root. */
static int enter_root(const char *dir) {
        if (geteuid() != 0) {
                unsigned uid = geteuid(), gid = getegid();
                if (unshare(CLONE_NEWUSER) < 0)
                        return -errno;
                int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) loop_write(fd, "deny", 4);
                        close(fd);
                }
                if (write_id_map("/proc/self/uid_map", uid) < 0 || write_id_map("/proc/self/gid_map", gid) < 0)
                        return -EPERM;
        }
        if (chroot(dir) < 0 || chdir("/") < 0)
                return -errno;
        return 0;
}

/* Runs body as scriptlet SCRIPTLET of package NEVRA in directory dir
 * (chrooted there with chroot_dir), with arguments arg1 and arg2 (NULL:
 * none) and input on standard input. */
static LuaRun lua_run(const char *dir, bool chroot_dir, const char *nevra, const char *scriptlet, const char *body,
                      const char *arg1, const char *arg2, const char *input) {
        char *out = at("stdout"), *err = at("stderr"), *in = at("stdin");
        CHECK(write_file_atomic(in, input ?: "", strlen(input ?: ""), 0644) >= 0);
        fflush(NULL); /* nothing of ours in the child's output */
        pid_t pid = fork();
        if (pid == 0) {
                int i = open(in, O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644),
                    e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                        _exit(97);
                if (chdir(dir) < 0)
                        _exit(97);
                if (chroot_dir && enter_root(dir) < 0)
                        _exit(98);
                char *argv[] = { (char *) nevra, (char *) scriptlet, (char *) body, (char *) arg1, (char *) arg2, NULL };
                int argc = arg1 ? (arg2 ? 5 : 4) : 3;
                char *envp[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "FOO=bar", NULL };
                _exit(lua_scriptlet_function.fn(argc, argv, envp));
        }
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        LuaRun r = { .status = WIFEXITED(status) ? WEXITSTATUS(status) : -1 };
        size_t size;
        CHECK(read_full_file(out, &r.out, &size) >= 0);
        CHECK(read_full_file(err, &r.err, &size) >= 0);
        if (!r.out)
                r.out = strdup("");
        if (!r.err)
                r.err = strdup("");
        free(out);
        free(err);
        free(in);
        return r;
}

/* A chrooted run that could not enter its root (not root and no user
 * namespaces): the test says so and is skipped. */
static bool skipped(const char *test, LuaRun *r) {
        if (r->status != 98)
                return false;
        printf("%s: cannot chroot (not root, no user namespaces), skipped\n", test);
        lua_run_release(r);
        return true;
}

/* A fresh directory base/name for one test. */
static char *fresh_dir(const char *name) {
        char *d = at(name);
        CHECK(rm_rf(d) >= 0);
        CHECK(mkdir(d, 0755) == 0);
        return d;
}

/* Runs body in a fresh directory with $1 = 1 (a %post of foo). */
static LuaRun run_body(const char *name, const char *body) {
        char *d = fresh_dir(name);
        LuaRun r = lua_run(d, false, "foo-1.0-1.x86_64", "%post", body, "1", NULL, NULL);
        free(d);
        return r;
}

/* body must run to its end and print exactly expected, with nothing on
 * standard error. */
static void expect_output(const char *name, const char *body, const char *expected) {
        LuaRun r = run_body(name, body);
        if (r.status != 0 || *r.err)
                fprintf(stderr, "%s: status %d, stderr: %s\n", name, r.status, r.err);
        CHECK(r.status == 0);
        CHECK_STREQ(r.err, "");
        CHECK_STREQ(r.out, expected);
        lua_run_release(&r);
}

/* body must fail with exactly this message on standard error. */
static void expect_error(const char *name, const char *body, const char *expected_err) {
        LuaRun r = run_body(name, body);
        CHECK(r.status == 1);
        CHECK_STREQ(r.err, expected_err);
        lua_run_release(&r);
}

static void test_args(void) {
        const char *body = "print(arg[1], arg[2], arg[3], math.type(arg[2]), #arg, type(opt), next(opt))\n";
        char *d = fresh_dir("args");
        LuaRun r = lua_run(d, false, "foo-1.0-1.x86_64", "%triggerin", body, "1", "2", NULL);
        CHECK(r.status == 0);
        CHECK_STREQ(r.out, "<lua>\t1\t2\tinteger\t3\ttable\tnil\n");
        lua_run_release(&r);
        r = lua_run(d, false, "foo-1.0-1.x86_64", "%post", body, "0", NULL, NULL);
        CHECK_STREQ(r.out, "<lua>\t0\tnil\tinteger\t2\ttable\tnil\n");
        lua_run_release(&r);
        /* arg is the chunk's local, as in rpm: no global of that name. */
        r = lua_run(d, false, "foo-1.0-1.x86_64", "%post", "print(_G.arg)", "1", NULL, NULL);
        CHECK_STREQ(r.out, "nil\n");
        lua_run_release(&r);
        r = lua_run(d, false, "foo-1.0-1.x86_64", "%post", "print(1)", "x1", NULL, NULL);
        CHECK(r.status == 1);
        CHECK_STREQ(r.err, "package foo-1.0-1.x86_64: %post: argument 'x1' is not a number\n");
        lua_run_release(&r);
        free(d);
}

static void test_print(void) {
        expect_output("print",
                      "print('a', 1, nil, true, 1.5)\n"
                      "io.write('w\\n')\n"
                      "print()\n"
                      "io.stdout:write('x', '\\n')\n",
                      "a\t1\tnil\ttrue\t1.5\nw\n\nx\n");
}

static void test_posix_files(void) {
        expect_output("posix-files",
                      "print(posix.umask('755'))\n"
                      "print(posix.mkdir('d'), posix.mkdir('d'))\n"
                      "local st = posix.stat('d')\n"
                      "print(st.type, st.mode, string.format('%o', st._mode), st.nlink, posix.stat('d', 'type'))\n"
                      "local f = io.open('d/f', 'w') f:write('hello') f:close()\n"
                      "print(posix.stat('d/f', 'size'), posix.stat('d/f').type)\n"
                      "print(posix.symlink('f', 'd/l'), posix.readlink('d/l'), posix.stat('d/l', 'type'))\n"
                      "print(posix.readlink('d/f'))\n"
                      "print(posix.chmod('d/f', '0600'), string.format('%o', posix.stat('d/f', '_mode') & 4095))\n"
                      "print(posix.chmod('d/f', 0755), posix.stat('d/f', 'mode'))\n"
                      "print(posix.chmod('d/f', 'go-rx'), posix.stat('d/f', 'mode'))\n"
                      "print(posix.chmod('d/f', 'u-w,g+rw'), posix.stat('d/f', 'mode'))\n"
                      "print(posix.chmod('d/f', 'rwsr-x---'), posix.stat('d/f', 'mode'))\n"
                      "print(pcall(posix.chmod, 'd/f', 'q+x'))\n"
                      "print(posix.access('d/f'), posix.access('d/f', 'r'), posix.access('d/nothere'))\n"
                      "print(posix.link('d/f', 'd/h'), posix.stat('d/f', 'nlink'))\n"
                      "print(posix.mkfifo('d/p'), posix.stat('d/p', 'type'))\n"
                      "print(posix.utime('d/f', 1000000, 2000000), posix.stat('d/f', 'mtime'), posix.stat('d/f', 'atime'))\n"
                      "local names = posix.dir('d') table.sort(names) print(table.concat(names, ' '))\n"
                      "local seen = {} for n in posix.files('d') do seen[#seen + 1] = n end\n"
                      "table.sort(seen) print(table.concat(seen, ' '))\n"
                      "print(posix.unlink('d/l'), posix.stat('d/l'))\n"
                      "print(posix.rmdir('d'))\n"
                      "print(posix.dir('nothere'))\n"
                      "print(posix.chdir('d'), posix.getcwd():match('/posix%-files/d$'))\n",
                      "rwxr-xr-x\n"
                      "0.0\tnil\td: File exists\t17.0\n"
                      "directory\trwxr-xr-x\t40755\t2.0\tdirectory\n"
                      "5.0\tregular\n"
                      "0.0\tf\tlink\n"
                      "nil\td/f: Invalid argument\t22.0\n"
                      "0.0\t600\n"
                      "0.0\trwxr-xr-x\n"
                      "0.0\trwx------\n"
                      "0.0\tr-xrw----\n"
                      "0.0\trwsr-x---\n"
                      "false\tbad argument #2 to 'posix.chmod' (bad mode)\n"
                      "0.0\t0.0\tnil\td/nothere: No such file or directory\t2.0\n"
                      "0.0\t2.0\n"
                      "0.0\tfifo\n"
                      "0.0\t1000000.0\t2000000.0\n"
                      ". .. f h l p\n"
                      ". .. f h l p\n"
                      "0.0\tnil\td/l: No such file or directory\t2.0\n"
                      "nil\td: Directory not empty\t39.0\n"
                      "nil\tnothere: No such file or directory\t2.0\n"
                      "0.0\t/posix-files/d\n");
}

static void test_posix_env(void) {
        expect_output("posix-env",
                      "print(posix.getenv('FOO'), posix.getenv('NOPE'), os.getenv('FOO'))\n"
                      "print(posix.setenv('X', '1'), posix.getenv('X'))\n"
                      "print(posix.setenv('X', '2', false), posix.getenv('X'))\n"
                      "print(posix.setenv('X', '3', true), posix.getenv('X'))\n"
                      "print(posix.putenv('Y=4'), posix.getenv('Y'))\n"
                      "print(posix.unsetenv('X'), posix.getenv('X'))\n"
                      "local e = posix.getenv() print(e.FOO, e.PATH, e.Y)\n"
                      "print(posix.uname('%s'), posix.uname('%%'), pcall(posix.uname, '%q'))\n"
                      "print(posix.getprocessid('pid') == posix.getprocessid().pid)\n"
                      "print(posix.sysconf('clk_tck') > 0, type(posix.times('elapsed')))\n"
                      "print(posix.version)\n",
                      "bar\tnil\tbar\n"
                      "0.0\t1\n"
                      "0.0\t1\n"
                      "0.0\t3\n"
                      "0.0\t4\n"
                      "nil\tnil\n"
                      "bar\t/usr/bin:/bin:/usr/sbin:/sbin\t4\n"
                      "Linux\t%\tfalse\tbad argument #1 to 'posix.uname' (unknown format option `q')\n"
                      "true\n"
                      "true\tnumber\n"
                      "posix library for Lua 5.4 / Nov 2003\n");
}

/* Users and groups by name come from the root's own files. */
static void test_accounts(void) {
        char *root = fresh_dir("accounts");
        const char *files[][2] = {
                { "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nfoo:x:1000:1001:Foo User:/home/foo:/bin/sh\n" },
                { "etc/group", "root:x:0:\nfoo:x:1001:bar,baz\n" },
                { "f", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = path_join(root, files[i][0]), *dir = path_dirname(p);
                CHECK(mkdir_parents(dir, 0755) >= 0);
                CHECK(write_file_atomic(p, files[i][1], strlen(files[i][1]), 0644) >= 0);
        }
        LuaRun r = lua_run(root, true, "foo-1.0-1.x86_64", "%pre",
                           "print(posix.getpasswd('foo', 'uid'), posix.getpasswd(1000).dir, posix.getpasswd('1000', 'name'))\n"
                           "print(posix.getpasswd('nope'), posix.getpasswd(0, 'shell'), posix.getpasswd().name)\n"
                           "local g = posix.getgroup('foo') print(g.name, g.gid, g[1], g[2], posix.getgroup(0).name)\n"
                           "print(posix.getgroup('nope'), pcall(posix.getgroup, {}))\n"
                           "print(posix.chown('/f', 'root', 'root'), posix.chown('/f', 'nope'), posix.stat('/f', 'uid'))\n",
                           "1", NULL, NULL);
        if (!skipped(__func__, &r)) {
                CHECK(r.status == 0);
                CHECK_STREQ(r.err, "");
                CHECK_STREQ(r.out, "1000.0\t/home/foo\tfoo\n"
                                   "nil\t/bin/bash\troot\n"
                                   "foo\t1001.0\tbar\tbaz\troot\n"
                                   "nil\tfalse\tbad argument #1 to 'posix.getgroup' (string or number expected, got table)\n"
                                   "0.0\t0.0\t0.0\n");
                lua_run_release(&r);
        }
        free(root);
}

static void test_fork_exec(void) {
        /* The child's output comes before the parent's: it is waited for. */
        expect_output("fork-exec",
                      "print('before')\n"
                      "local pid = posix.fork()\n"
                      "if pid == 0 then posix.exec('/bin/sh', '-c', 'echo from exec') end\n"
                      "print(posix.wait(pid) == pid)\n"
                      "pid = posix.fork()\n"
                      "if pid == 0 then print('child') os.exit(0) print('not reached') end\n"
                      "posix.wait(pid)\n"
                      "pid = posix.fork()\n"
                      "if pid == 0 then print(posix.exec('/nonexistent')) os.exit(3) end\n"
                      "posix.wait(pid)\n"
                      /* A child that runs off the end of the script exits there. */
                      "pid = posix.fork()\n"
                      "if pid == 0 then print('child 2') else posix.wait(pid) print('parent') end\n"
                      "print(pcall(posix.exec, '/bin/true'))\n"
                      "print(pcall(os.exit, 0))\n"
                      "print(pcall(posix.redirect2null, 1))\n",
                      "before\n"
                      "from exec\n"
                      "true\n"
                      "child\n"
                      "nil\t/nonexistent: No such file or directory\t2.0\n"
                      "child 2\n"
                      "parent\n"
                      "false\texec not permitted in this context\n"
                      "false\texit not permitted in this context\n"
                      "false\tredirect2null not permitted in this context\n");
        /* What a child writes after redirect2null is gone; stderr stays. */
        LuaRun r = run_body("redirect2null",
                            "local pid = posix.fork()\n"
                            "if pid == 0 then posix.redirect2null(1) posix.exec('/bin/sh', '-c', 'echo hidden; echo shown >&2') end\n"
                            "posix.wait(pid)\n"
                            "print('done')\n");
        CHECK(r.status == 0);
        CHECK_STREQ(r.out, "done\n");
        CHECK_STREQ(r.err, "shown\n");
        lua_run_release(&r);
}

static void test_exit(void) {
        expect_error("exit", "print('x')\nos.exit(0)\n",
                     "package foo-1.0-1.x86_64: %post: <lua>:2: exit not permitted in this context\n");
        LuaRun r = run_body("exit-out", "print('x')\nos.exit(0)\n");
        CHECK_STREQ(r.out, "x\n");
        lua_run_release(&r);
}

static void test_execute(void) {
        expect_output("execute",
                      "print(rpm.execute('/bin/true'))\n"
                      "print(rpm.execute('/bin/false'))\n"
                      "print(rpm.execute('/nonexistent'))\n"
                      "print('a')\n"
                      "print(rpm.execute('sh', '-c', 'echo b; exit 3'))\n"
                      "print('c')\n"
                      "print(pcall(rpm.redirect2null, 2))\n",
                      "0.0\n"
                      "nil\texit code\t256.0\n"
                      "nil\tNo such file or directory\t2.0\n"
                      "a\n"
                      "b\n"
                      "nil\texit code\t768.0\n"
                      "c\n"
                      "false\tredirect2null not permitted in this context\n");
}

static void test_macros(void) {
        expect_output("macros",
                      "for _, m in ipairs({'%{_libdir}', '%_bindir/x', '%{_sbindir}', '%{_libexecdir}', '%{_datadir}',\n"
                      "    '%{_sysconfdir}', '%{_localstatedir}', '%{_sharedstatedir}', '%{_mandir}', '%{_infodir}',\n"
                      "    '%{_includedir}', '%{_unitdir}', '%{_rundir}', '%{_tmppath}', '%{_dbpath}', '%{_arch}',\n"
                      "    '%{_exec_prefix}', '%{_prefix}'}) do\n"
                      "  print(m, rpm.expand(m))\n"
                      "end\n"
                      "for _, m in ipairs({'%{?_prefix}', '%{?nothere}', '%{!?nothere:no}', '%{?_prefix:yes}',\n"
                      "    '%{!?_prefix:no}', '%{?nothere:yes}', '%%{x}', '%nothere', '%{nothere}', '%{nothere:%{_prefix}}',\n"
                      "    '100%', '%', 'a%%b', '%{basename:/a/b}', '%{dirname:/a/b}', '%{suffix:x.tar.gz}',\n"
                      "    '%{getenv:FOO}', '%{expand:%%{_prefix}}', '%{shrink:  a   b  }', '%{exists:/}',\n"
                      "    '%{shescape:it\\'s}', '%basename /x/y', '%{_prefix:ignored}'}) do\n"
                      "  print(m, '[' .. rpm.expand(m) .. ']')\n"
                      "end\n"
                      "rpm.define('mine %{_prefix}/mine')\n"
                      "print(rpm.expand('%mine %{mine}'), rpm.isdefined('mine'))\n"
                      "print(rpm.isdefined('nothere'))\n"
                      "print(rpm.isdefined('basename'))\n"
                      "rpm.define('_prefix /opt')\n"
                      "print(rpm.expand('%{_bindir} %{mine}'))\n"
                      "rpm.undefine('_prefix')\n"
                      "print(rpm.expand('%{_bindir}'))\n"
                      "rpm.define('braced {a b}')\n"
                      "print('[' .. rpm.expand('%braced') .. ']')\n"
                      "rpm.define('two first  \\nsecond')\n"
                      "rpm.define('cont a\\\\\\nb%{?x:\\n}c')\n"
                      "print('[' .. rpm.expand('%two') .. ']', '[' .. rpm.expand('%{macrobody:cont}') .. ']')\n"
                      "print(macros._libdir, macros.nothere)\n"
                      "macros.x = 'xyz'\n"
                      "print(rpm.expand('%x'), macros.x, macros.basename('/p/q'), macros.basename({'/p/r'}))\n"
                      "macros.x = nil\n"
                      "print(rpm.expand('%x'), macros.x)\n"
                      "rpm.define('loop %{loop}')\n"
                      "for _, m in ipairs({'%(echo hi)', '%[1+1]', '%{lua:print(1)}', '%loop', '%{error:boom}',\n"
                      "    '%{basename}', '%{unterminated'}) do\n"
                      "  print(m, pcall(rpm.expand, m))\n"
                      "end\n"
                      "for _, d in ipairs({'1bad x', 'empty', 'basename x', 'p(a) x'}) do\n"
                      "  print(d, pcall(rpm.define, d))\n"
                      "end\n",
                      "%{_libdir}\t/usr/lib64\n"
                      "%_bindir/x\t/usr/bin/x\n"
                      "%{_sbindir}\t/usr/sbin\n"
                      "%{_libexecdir}\t/usr/libexec\n"
                      "%{_datadir}\t/usr/share\n"
                      "%{_sysconfdir}\t/etc\n"
                      "%{_localstatedir}\t/var\n"
                      "%{_sharedstatedir}\t/var/lib\n"
                      "%{_mandir}\t/usr/share/man\n"
                      "%{_infodir}\t/usr/share/info\n"
                      "%{_includedir}\t/usr/include\n"
                      "%{_unitdir}\t/usr/lib/systemd/system\n"
                      "%{_rundir}\t/run\n"
                      "%{_tmppath}\t/var/tmp\n"
                      "%{_dbpath}\t/usr/lib/sysimage/rpm\n"
                      "%{_arch}\tx86_64\n"
                      "%{_exec_prefix}\t/usr\n"
                      "%{_prefix}\t/usr\n"
                      "%{?_prefix}\t[/usr]\n"
                      "%{?nothere}\t[]\n"
                      "%{!?nothere:no}\t[no]\n"
                      "%{?_prefix:yes}\t[yes]\n"
                      "%{!?_prefix:no}\t[]\n"
                      "%{?nothere:yes}\t[]\n"
                      "%%{x}\t[%{x}]\n"
                      "%nothere\t[%nothere]\n"
                      "%{nothere}\t[%{nothere}]\n"
                      "%{nothere:%{_prefix}}\t[%{nothere:/usr}]\n"
                      "100%\t[100%]\n"
                      "%\t[%]\n"
                      "a%%b\t[a%b]\n"
                      "%{basename:/a/b}\t[b]\n"
                      "%{dirname:/a/b}\t[/a]\n"
                      "%{suffix:x.tar.gz}\t[gz]\n"
                      "%{getenv:FOO}\t[bar]\n"
                      "%{expand:%%{_prefix}}\t[/usr]\n"
                      "%{shrink:  a   b  }\t[a b]\n"
                      "%{exists:/}\t[1]\n"
                      "%{shescape:it's}\t['it'\\''s']\n"
                      "%basename /x/y\t[y]\n"
                      "%{_prefix:ignored}\t[/usr]\n"
                      "/usr/mine /usr/mine\ttrue\tfalse\n"
                      "false\tfalse\n"
                      "true\ttrue\n"
                      "/opt/bin /opt/mine\n"
                      "/usr/bin\n"
                      "[a b]\n"
                      "[first]\t[a\nb%{?x:\n}c]\n"
                      "/usr/lib64\tnil\n"
                      "xyz\txyz\tq\tr\n"
                      "%x\tnil\n"
                      "%(echo hi)\tfalse\terror expanding macro: %(...) (shell expansion) is not supported by slipway\n"
                      "%[1+1]\tfalse\terror expanding macro: %[...] (expression expansion) is not supported by slipway\n"
                      "%{lua:print(1)}\tfalse\terror expanding macro: %lua is not supported by slipway\n"
                      "%loop\tfalse\terror expanding macro: too many levels of recursion in macro expansion "
                      "(%loop is likely defined through itself)\n"
                      "%{error:boom}\tfalse\terror expanding macro: boom\n"
                      "%{basename}\tfalse\terror expanding macro: %basename: argument expected\n"
                      "%{unterminated\tfalse\terror expanding macro: unterminated %{: {unterminated\n"
                      "1bad x\tfalse\terror defining macro: macro %1bad has an illegal name\n"
                      "empty\tfalse\terror defining macro: macro %empty has an empty body\n"
                      "basename x\tfalse\terror defining macro: macro %basename is a built-in\n"
                      "p(a) x\tfalse\terror defining macro: macro %p has options: parametric macros are not "
                      "supported by slipway\n");
}

static void test_macros_arch(void) {
        const char *body = "print(rpm.expand('%{_lib} %{_libdir} %{_arch} %{_target_cpu}'))";
        char *d = fresh_dir("macros-arch");
        LuaRun r = lua_run(d, false, "foo-1.0-1.i686", "%post", body, "1", NULL, NULL);
        CHECK_STREQ(r.out, "lib /usr/lib i386 i686\n");
        lua_run_release(&r);
        r = lua_run(d, false, "foo-1.0-1.aarch64", "%post", body, "1", NULL, NULL);
        CHECK_STREQ(r.out, "lib64 /usr/lib64 aarch64 aarch64\n");
        lua_run_release(&r);
        /* noarch: the machine's own. */
        r = lua_run(d, false, "foo-1.0-1.noarch", "%post", "print(rpm.expand('%{_arch}') == posix.uname('%m'))", "1",
                    NULL, NULL);
        CHECK_STREQ(r.out, "true\n");
        lua_run_release(&r);
        free(d);
}

static void test_vercmp(void) {
        expect_output("vercmp",
                      "for _, p in ipairs({{'1.0', '1.1'}, {'2.0', '1.9'}, {'1.0-1', '1.0-1'}, {'1:1.0', '2.0'},\n"
                      "    {'1.0', '1.0-1'}, {'1.0~rc1', '1.0'}, {'1.0^1', '1.0'}, {'0:1.0', '1.0'}, {'1.10', '1.9'}}) do\n"
                      "  print(p[1], p[2], rpm.vercmp(p[1], p[2]))\n"
                      "end\n"
                      "print(pcall(rpm.vercmp, '', '1'))\n"
                      "local v = rpm.ver('1:2.3-4')\n"
                      "print(v.e, v.v, v.r, tostring(v), tostring(rpm.ver('2.3')), rpm.ver('2.3').e)\n"
                      "print(rpm.ver('1.0') < rpm.ver('1.1'), rpm.ver('1.0') == rpm.ver('0:1.0'), rpm.ver('1.1') <= rpm.ver('1.0'))\n"
                      "print(tostring(rpm.ver(nil, '1.0', '1')), rpm.ver(''), pcall(rpm.ver, 1, 2))\n"
                      "print(pcall(function() return v.x end))\n",
                      "1.0\t1.1\t-1\n"
                      "2.0\t1.9\t1\n"
                      "1.0-1\t1.0-1\t0\n"
                      "1:1.0\t2.0\t1\n"
                      "1.0\t1.0-1\t-1\n"
                      "1.0~rc1\t1.0\t-1\n"
                      "1.0^1\t1.0\t1\n"
                      "0:1.0\t1.0\t0\n"
                      "1.10\t1.9\t1\n"
                      "false\tbad argument #1 to 'rpm.vercmp' (invalid version )\n"
                      "1\t2.3\t4\t1:2.3-4\t2.3\tnil\n"
                      "true\ttrue\tfalse\n"
                      "1.0-1\tnil\tfalse\tinvalid number of arguments: 2\n"
                      "false\t<lua>:10: invalid attribute: x\n");
}

static void test_rpm_misc(void) {
        expect_output("rpm-misc",
                      "print(rpm.b64encode('hello'), rpm.b64encode(''), rpm.b64encode('hello', 0))\n"
                      "local long = rpm.b64encode(string.rep('x', 60))\n"
                      "print(#long, select(2, long:gsub('\\n', '')), #rpm.b64encode(string.rep('x', 60), 8))\n"
                      "print(rpm.b64decode('aGVs\\nbG8='), rpm.b64decode('aGk='), rpm.b64decode('!!!!'), rpm.b64decode('abc'))\n"
                      "print(rpm.b64decode(rpm.b64encode('\\0\\1\\255')) == '\\0\\1\\255')\n"
                      "print(table.concat(rpm.splitargs('a  b\\t c'), ','))\n"
                      "print((rpm.unsplitargs({'a b', 'c'}):gsub('\\31', '|')))\n"
                      "local t = rpm.splitargs(rpm.unsplitargs({'a b', '', 'c'}))\n"
                      "print(#t, t[1], '[' .. t[2] .. ']', t[3])\n"
                      "io.open('g1', 'w'):close() io.open('g2', 'w'):close()\n"
                      "print(table.concat(rpm.glob('g*'), ' '), table.concat(rpm.glob('nomatch*'), ' '),\n"
                      "      table.concat(rpm.glob('g{2,1}'), ' '))\n"
                      "print(pcall(rpm.interactive))\n"
                      "print(rpm.next_file)\n",
                      "aGVsbG8=\n\t\taGVsbG8=\n"
                      "82\t2\t90\n"
                      "hello\thi\tnil\tnil\n"
                      "true\n"
                      "a,b,c\n"
                      "|a b| |c|\n"
                      "3\ta b\t[]\tc\n"
                      "g1 g2\tnomatch*\tg2 g1\n"
                      "false\tnot a tty\n"
                      "nil\n");
}

static void test_next_file(void) {
        const char *body = "local t = {} local f = rpm.next_file() while f do t[#t + 1] = f f = rpm.next_file() end\n"
                           "print(#t, table.concat(t, ','))\n";
        char *d = fresh_dir("next-file");
        LuaRun r = lua_run(d, false, "foo-1.0-1.x86_64", "%transfiletriggerin", body, "0", NULL, "/usr/bin/a\n/usr/bin/b\n");
        CHECK(r.status == 0);
        CHECK_STREQ(r.out, "2\t/usr/bin/a,/usr/bin/b\n");
        lua_run_release(&r);
        r = lua_run(d, false, "foo-1.0-1.x86_64", "%filetriggerin", body, "1", NULL, "");
        CHECK_STREQ(r.out, "0\t\n");
        lua_run_release(&r);
        /* Only file triggers have it, as in rpm. */
        r = lua_run(d, false, "foo-1.0-1.x86_64", "%post", "print(rpm.next_file)", "1", NULL, "/x\n");
        CHECK_STREQ(r.out, "nil\n");
        lua_run_release(&r);
        free(d);
}

static void test_missing(void) {
        expect_error("missing", "print('x')\nrpm.load('/etc/macros')\n",
                     "package foo-1.0-1.x86_64: %post: Lua function rpm.load is not provided by slipway\n");
        expect_error("missing-open", "local f = rpm.open('x')\n",
                     "package foo-1.0-1.x86_64: %post: Lua function rpm.open is not provided by slipway\n");
        LuaRun r = run_body("missing-out", "print('x')\nrpm.register('h', print)\n");
        CHECK_STREQ(r.out, "x\n");
        CHECK_STREQ(r.err, "package foo-1.0-1.x86_64: %post: Lua function rpm.register is not provided by slipway\n");
        lua_run_release(&r);
        /* Names rpm 4.18 does not have are nil there too: tests for a later
         * rpm's functions take their other way. */
        expect_output("not-in-4.18", "print(rpm.spawn, posix.nothere, rpm.spawn ~= nil)\n", "nil\tnil\tfalse\n");
}

static void test_errors(void) {
        expect_error("syntax", "\n\nx = = 1\n",
                     "package foo-1.0-1.x86_64: %post: <lua>:3: unexpected symbol near '='\n");
        expect_error("error", "print('a')\nerror('boom')\n", "package foo-1.0-1.x86_64: %post: <lua>:2: boom\n");
        expect_error("error-level0", "error('plain', 0)\n", "package foo-1.0-1.x86_64: %post: plain\n");
        expect_error("error-table", "error({})\n", "package foo-1.0-1.x86_64: %post: (error object is a table value)\n");
        expect_error("runtime", "local t = nil\nprint(t.x)\n",
                     "package foo-1.0-1.x86_64: %post: <lua>:2: attempt to index a nil value (local 't')\n");
        LuaRun r = run_body("empty", "");
        CHECK(r.status == 0);
        lua_run_release(&r);
        /* A child left running is warned about. */
        r = run_body("runaway", "local pid = posix.fork()\nif pid == 0 then posix.exec('/bin/sleep', '1') end\n");
        CHECK(r.status == 0);
        CHECK_STREQ(r.err, "package foo-1.0-1.x86_64: %post: warning: runaway fork() in Lua script\n");
        lua_run_release(&r);
}

/* Fedora's filesystem package, 3.18-5 (Fedora 39), %pretrans and
 * %posttrans as rpmbuild leaves them on x86_64 (%{_lib} is lib64), from
 * https://src.fedoraproject.org/rpms/filesystem (filesystem.spec; read
 * through the github.com/major/fedora-rpm-specs mirror). */
static const char filesystem_pretrans[] =
        "--# If we are running in pretrans in a fresh root, there is no /usr and\n"
        "--# symlinks. We cannot be sure, to be the very first rpm in the\n"
        "--# transaction list. Let's create the needed base directories and symlinks\n"
        "--# here, to place the files from other packages in the right locations.\n"
        "--# When our rpm is unpacked by cpio, it will set all permissions and modes\n"
        "--# later.\n"
        "posix.mkdir(\"/usr\")\n"
        "posix.mkdir(\"/usr/bin\")\n"
        "posix.mkdir(\"/usr/sbin\")\n"
        "posix.mkdir(\"/usr/lib\")\n"
        "posix.mkdir(\"/usr/lib/debug\")\n"
        "posix.mkdir(\"/usr/lib/debug/usr/\")\n"
        "posix.mkdir(\"/usr/lib/debug/usr/bin\")\n"
        "posix.mkdir(\"/usr/lib/debug/usr/sbin\")\n"
        "posix.mkdir(\"/usr/lib/debug/usr/lib\")\n"
        "posix.mkdir(\"/usr/lib/debug/usr/lib64\")\n"
        "posix.mkdir(\"/usr/lib64\")\n"
        "posix.symlink(\"usr/bin\", \"/bin\")\n"
        "posix.symlink(\"usr/sbin\", \"/sbin\")\n"
        "posix.symlink(\"usr/lib\", \"/lib\")\n"
        "posix.symlink(\"usr/bin\", \"/usr/lib/debug/bin\")\n"
        "posix.symlink(\"usr/lib\", \"/usr/lib/debug/lib\")\n"
        "posix.symlink(\"usr/lib64\", \"/usr/lib/debug/lib64\")\n"
        "posix.symlink(\"../.dwz\", \"/usr/lib/debug/usr/.dwz\")\n"
        "posix.symlink(\"usr/sbin\", \"/usr/lib/debug/sbin\")\n"
        "posix.symlink(\"usr/lib64\", \"/lib64\")\n"
        "posix.mkdir(\"/run\")\n"
        "posix.mkdir(\"/proc\")\n"
        "posix.mkdir(\"/sys\")\n"
        "posix.chmod(\"/proc\", 0555)\n"
        "posix.chmod(\"/sys\", 0555)\n"
        "st = posix.stat(\"/media\")\n"
        "if st and st.type == \"link\" then\n"
        "  os.remove(\"/media\")\n"
        "end\n"
        "posix.mkdir(\"/var\")\n"
        "posix.symlink(\"../run\", \"/var/run\")\n"
        "posix.symlink(\"../run/lock\", \"/var/lock\")\n"
        "return 0\n";

static const char filesystem_posttrans[] =
        "--# we need to restorecon on some dirs created in %pretrans or by other packages\n"
        "if posix.access (\"/usr/sbin/restorecon\", \"x\") then\n"
        "  rpm.execute(\"/usr/sbin/restorecon\", \"/var\", \"/var/run\", \"/var/lock\", \"/sys\", \"/boot\", \"/dev\", \"/media\", \"/afs\")\n"
        "  rpm.execute(\"/usr/sbin/restorecon\", \"-r\", \"/usr/lib/debug\")\n"
        "end\n";

/* Fedora's filesystem in rawhide: %filetriggerin -- /usr/bin, with
 * %sbin_filenames (a table rpmbuild writes from a list of names) cut down
 * to two names. Same source, mirror commit 10e71f1b9. */
static const char filesystem_filetriggerin[] =
        "--# This implements filesystem(unmerged-sbin-symlinks) feature.\n"
        "st = posix.stat(\"/usr/sbin\")\n"
        "if not st or st.type == \"link\" then\n"
        "  return\n"
        "end\n"
        "\n"
        "filenames = {\n  [\"ip\"] = true,\n  [\"ldconfig\"] = true,\n}\n"
        "\n"
        "a = rpm.next_file()\n"
        "while a do\n"
        "    name = a:match(\"^.+/(.+)$\")\n"
        "    if filenames[name] then\n"
        "      b = \"/usr/sbin/\"..name\n"
        "      sta = posix.stat(a)\n"
        "      stb = posix.stat(b)\n"
        "\n"
        "      --# Allow two cases: the path in /sbin doesn't exist,\n"
        "      --# or both paths exist and are symlinks that point to the same target.\n"
        "      --# The second case covers symlinks to /etc/alternatives and such.\n"
        "      if (sta and not stb) or\n"
        "         (sta and stb and\n"
        "          sta.type == \"link\" and stb.type == \"link\" and\n"
        "          posix.readlink(a) == posix.readlink(b)) then\n"
        "        print('Symlinking /usr/sbin/'..name..' -> /usr/bin/'..name)\n"
        "        posix.symlink(\"../bin/\"..name, \"/usr/sbin/\"..name..\".tmp\")\n"
        "        os.rename(\"/usr/sbin/\"..name..\".tmp\", \"/usr/sbin/\"..name)\n"
        "      end\n"
        "    end\n"
        "\n"
        "    a = rpm.next_file()\n"
        "end\n";

static bool is_link_to(const char *root, const char *path, const char *target) {
        _cleanup_free_ char *p = path_join(root, path);
        char buf[256];
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        if (n < 0)
                return false;
        buf[n] = 0;
        return strcmp(buf, target) == 0;
}

static mode_t mode_of(const char *root, const char *path) {
        _cleanup_free_ char *p = path_join(root, path);
        struct stat st;
        return lstat(p, &st) == 0 ? st.st_mode : 0;
}

static void test_filesystem(void) {
        char *root = fresh_dir("filesystem");
        _cleanup_free_ char *media = path_join(root, "media");
        CHECK(symlink("run/media", media) == 0); /* an old filesystem's /media */
        LuaRun r = lua_run(root, true, "filesystem-3.18-5.fc39.x86_64", "%pretrans", filesystem_pretrans, "1", NULL, NULL);
        if (skipped(__func__, &r)) {
                free(root);
                return;
        }
        CHECK(r.status == 0);
        CHECK_STREQ(r.err, "");
        CHECK_STREQ(r.out, "");
        lua_run_release(&r);
        const char *dirs[] = { "usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/lib/debug/usr/lib64",
                               "run", "var" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                CHECK(S_ISDIR(mode_of(root, dirs[i])));
        CHECK(is_link_to(root, "bin", "usr/bin"));
        CHECK(is_link_to(root, "lib64", "usr/lib64"));
        CHECK(is_link_to(root, "usr/lib/debug/lib64", "usr/lib64"));
        CHECK(is_link_to(root, "var/run", "../run"));
        CHECK(is_link_to(root, "var/lock", "../run/lock"));
        CHECK(mode_of(root, "proc") == (S_IFDIR | 0555));
        CHECK(mode_of(root, "sys") == (S_IFDIR | 0555));
        CHECK(mode_of(root, "media") == 0);

        /* Again over what it made: every call fails quietly, as in rpm. */
        r = lua_run(root, true, "filesystem-3.18-5.fc39.x86_64", "%pretrans", filesystem_pretrans, "2", NULL, NULL);
        CHECK(r.status == 0);
        CHECK_STREQ(r.err, "");
        lua_run_release(&r);

        r = lua_run(root, true, "filesystem-3.18-5.fc39.x86_64", "%posttrans", filesystem_posttrans, "1", NULL, NULL);
        CHECK(r.status == 0);
        CHECK_STREQ(r.err, "");
        lua_run_release(&r);

        /* /usr/bin/ip is new: /usr/sbin/ip becomes a link to it; ldconfig
         * has a file in /usr/sbin already and is left alone. */
        _cleanup_free_ char *ip = path_join(root, "usr/bin/ip"), *ldb = path_join(root, "usr/bin/ldconfig"),
                            *lds = path_join(root, "usr/sbin/ldconfig");
        CHECK(write_file_atomic(ip, "", 0, 0755) >= 0);
        CHECK(write_file_atomic(ldb, "", 0, 0755) >= 0);
        CHECK(write_file_atomic(lds, "", 0, 0755) >= 0);
        r = lua_run(root, true, "filesystem-3.18-99.fc44.x86_64", "%filetriggerin", filesystem_filetriggerin, "1", "1",
                    "/usr/bin/ip\n/usr/bin/ldconfig\n/usr/bin/other\n");
        CHECK(r.status == 0);
        CHECK_STREQ(r.err, "");
        CHECK_STREQ(r.out, "Symlinking /usr/sbin/ip -> /usr/bin/ip\n");
        lua_run_release(&r);
        CHECK(is_link_to(root, "usr/sbin/ip", "../bin/ip"));
        CHECK(S_ISREG(mode_of(root, "usr/sbin/ldconfig")));
        free(root);
}

/* Azure Linux 3.0's crypto-policies, %post as rpmbuild leaves it
 * (%{_sysconfdir} /etc, %{_datarootdir} /usr/share, %% a single %), from
 * github.com/microsoft/azurelinux SPECS-EXTENDED/crypto-policies/crypto-policies.spec. */
static const char crypto_policies_post[] =
        "if not posix.access(\"/etc/crypto-policies/config\") then\n"
        "    local policy = \"DEFAULT\"\n"
        "    local cf = io.open(\"/proc/sys/crypto/fips_enabled\", \"r\")\n"
        "    if cf then\n"
        "        if cf:read() == \"1\" then\n"
        "            policy = \"FIPS\"\n"
        "        end\n"
        "        cf:close()\n"
        "    end\n"
        "    cf = io.open(\"/etc/crypto-policies/config\", \"w\")\n"
        "    if cf then\n"
        "        cf:write(policy..\"\\n\")\n"
        "        cf:close()\n"
        "    end\n"
        "    cf = io.open(\"/etc/crypto-policies/state/current\", \"w\")\n"
        "    if cf then\n"
        "        cf:write(policy..\"\\n\")\n"
        "        cf:close()\n"
        "    end\n"
        "    local policypath = \"/usr/share/crypto-policies/\"..policy\n"
        "    for fn in posix.files(policypath) do\n"
        "        local backend = fn:gsub(\".*/\", \"\"):gsub(\"%..*\", \"\")\n"
        "        local cfgfn = \"/etc/crypto-policies/back-ends/\"..backend..\".config\"\n"
        "        posix.unlink(cfgfn)\n"
        "        posix.symlink(policypath..\"/\"..fn, cfgfn)\n"
        "    end\n"
        "end\n";

static void test_crypto_policies(void) {
        char *root = fresh_dir("crypto-policies");
        const char *files[] = { "usr/share/crypto-policies/DEFAULT/bind.txt", "usr/share/crypto-policies/DEFAULT/gnutls.txt",
                                "etc/crypto-policies/back-ends/bind.config", "etc/crypto-policies/state/.keep" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = path_join(root, files[i]), *dir = path_dirname(p);
                CHECK(mkdir_parents(dir, 0755) >= 0);
                CHECK(write_file_atomic(p, "x", 1, 0644) >= 0);
        }
        LuaRun r = lua_run(root, true, "crypto-policies-20200619-5.azl3.noarch", "%post", crypto_policies_post, "1",
                           NULL, NULL);
        if (skipped(__func__, &r)) {
                free(root);
                return;
        }
        CHECK(r.status == 0);
        CHECK_STREQ(r.err, "");
        lua_run_release(&r);
        _cleanup_free_ char *config = NULL, *current = NULL, *cp = path_join(root, "etc/crypto-policies/config"),
                            *cc = path_join(root, "etc/crypto-policies/state/current");
        size_t size;
        CHECK(read_full_file(cp, &config, &size) >= 0);
        CHECK(read_full_file(cc, &current, &size) >= 0);
        CHECK_STREQ(config, "DEFAULT\n");
        CHECK_STREQ(current, "DEFAULT\n");
        CHECK(is_link_to(root, "etc/crypto-policies/back-ends/bind.config",
                         "/usr/share/crypto-policies/DEFAULT/bind.txt"));
        CHECK(is_link_to(root, "etc/crypto-policies/back-ends/gnutls.config",
                         "/usr/share/crypto-policies/DEFAULT/gnutls.txt"));
        free(root);
}

/* Fedora's setup, %post (rawhide, mirror commit 10e71f1b9; from
 * https://src.fedoraproject.org/rpms/setup), with /usr/bin/newaliases and
 * /usr/bin/systemd-tmpfiles replaced by scripts in the test's directory:
 * with rpm 4.18's functions (no rpm.spawn) it forks, sends the child's
 * output or error to /dev/null and execs. */
static const char setup_post[] =
        "-- Throw away useless and dangerous update stuff until rpm will be able to\n"
        "-- handle it.  See: http://rpm.org/ticket/6\n"
        "for i, name in ipairs({\"passwd\", \"shadow\", \"group\", \"gshadow\"}) do\n"
        "   os.remove(\"/etc/\"..name..\".rpmnew\")\n"
        "end\n"
        "-- Use rpm.spawn() if available (in >= 4.20) but fallback to forking if not.\n"
        "--\n"
        "-- Initialize or update /etc/alias.db from /etc/aliases for sendmail, etc.\n"
        "if posix.access(\"NEWALIASES\", \"x\") then\n"
        "  if rpm.spawn ~= nil then\n"
        "    rpm.spawn({'NEWALIASES'}, {stdout='/dev/null'})\n"
        "  else\n"
        "    local pid = posix.fork()\n"
        "    if pid == 0 then\n"
        "      posix.redirect2null(1)\n"
        "      posix.exec(\"NEWALIASES\")\n"
        "    elseif pid > 0 then\n"
        "      posix.wait(pid)\n"
        "    end\n"
        "  end\n"
        "end\n"
        "-- Ensure pre-allocated tmpfiles are created immediately on upgrades.\n"
        "if posix.access(\"TMPFILES\", \"x\") then\n"
        "  if rpm.spawn ~= nil then\n"
        "    rpm.spawn({\"TMPFILES\", \"--create\"}, {stderr='/dev/null'})\n"
        "  else\n"
        "    local pid = posix.fork()\n"
        "    if pid == 0 then\n"
        "      posix.redirect2null(2)\n"
        "      posix.exec(\"TMPFILES\", \"--create\")\n"
        "    elseif pid > 0 then\n"
        "      posix.wait(pid)\n"
        "    end\n"
        "  end\n"
        "end\n";

static void test_setup(void) {
        char *dir = fresh_dir("setup");
        _cleanup_free_ char *newaliases = path_join(dir, "newaliases"), *tmpfiles = path_join(dir, "tmpfiles");
        const char *na = "#!/bin/sh\necho aliases-out\necho aliases-err >&2\n";
        const char *tf = "#!/bin/sh\necho \"tmpfiles-out $1\"\necho tmpfiles-err >&2\n";
        CHECK(write_file_atomic(newaliases, na, strlen(na), 0755) >= 0);
        CHECK(write_file_atomic(tmpfiles, tf, strlen(tf), 0755) >= 0);
        /* The script's paths, pointed at the stand-ins. */
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (const char *p = setup_post; *p;) {
                if (strncmp(p, "NEWALIASES", 10) == 0) {
                        strbuf_puts(&sb, newaliases);
                        p += 10;
                } else if (strncmp(p, "TMPFILES", 8) == 0) {
                        strbuf_puts(&sb, tmpfiles);
                        p += 8;
                } else
                        strbuf_putc(&sb, *p++);
        }
        CHECK(!sb.oom);
        const char *body = sb.buf;
        LuaRun r = lua_run(dir, false, "setup-2.15.1-1.fc44.noarch", "%post", body, "2", NULL, NULL);
        CHECK(r.status == 0);
        CHECK_STREQ(r.out, "tmpfiles-out --create\n");
        CHECK_STREQ(r.err, "aliases-err\n");
        lua_run_release(&r);
        free(dir);
}

static void setup_base(void) {
        CHECK(mkdtemp(base) != NULL);
        umask(022);
}

static void cleanup_base(void) {
        if (!getenv("KEEP"))
                CHECK(rm_rf(base) >= 0);
}

UNIT_MAIN(setup_base, test_args, test_print, test_posix_files, test_posix_env, test_accounts, test_fork_exec, test_exit, test_execute,
          test_macros, test_macros_arch, test_vercmp, test_rpm_misc, test_next_file, test_missing, test_errors,
          test_filesystem, test_crypto_policies, test_setup, cleanup_base)
