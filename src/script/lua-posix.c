/* SPDX-License-Identifier: MIT */
/* The posix table of rpm 4.18's Lua (rpmio/lposix.c): every function it
 * has, with its arguments and results. Numbers are pushed as floats, as
 * rpm's lua_pushnumber() does (print(posix.mkdir(d)) shows "0.0" there
 * too). A failed call returns nil, a message and errno.
 *
 * Users and groups given by name (chown, setuid, getpasswd, getgroup) are
 * looked up in the root's /etc/passwd and /etc/group themselves, not
 * through NSS: the modules the image's nsswitch.conf names are the image's
 * own, not ones slipway's C library may load. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "basic/macro.h"
#include "script/lua-internal.h"

bool script_lua_forked = false;

int script_lua_push_errno(lua_State *L, const char *info) {
        int e = errno;
        lua_pushnil(L);
        if (info)
                lua_pushfstring(L, "%s: %s", info, strerror(e));
        else
                lua_pushstring(L, strerror(e));
        lua_pushnumber(L, e);
        return 3;
}

static int push_result(lua_State *L, int r, const char *info) {
        if (r == -1)
                return script_lua_push_errno(L, info);
        lua_pushnumber(L, r);
        return 1;
}

/* The functions with a selector (stat, getprocessid, ...): without one, a
 * table of every field; with one, that field alone. */
typedef void (*FieldFn)(lua_State *L, int field, const void *data);

static int push_fields(lua_State *L, int arg, const char *const names[], FieldFn fn, const void *data) {
        if (!lua_isnone(L, arg)) {
                fn(L, luaL_checkoption(L, arg, NULL, names), data);
                return 1;
        }
        lua_newtable(L);
        for (int i = 0; names[i]; i++) {
                fn(L, i, data);
                lua_setfield(L, -2, names[i]);
        }
        return 1;
}

/* Permission bits as rpm shows them: "rwxr-xr-x", s or S where set-user-
 * or set-group-ID is set (with or without x); the sticky bit not shown. */
static void mode_to_string(mode_t mode, char ret[static 10]) {
        for (int i = 0; i < 9; i++)
                ret[i] = mode & (0400 >> i) ? "rwx"[i % 3] : '-';
        ret[9] = 0;
        if (mode & S_ISUID)
                ret[2] = mode & S_IXUSR ? 's' : 'S';
        if (mode & S_ISGID)
                ret[5] = mode & S_IXGRP ? 's' : 'S';
}

/* The mode arguments of chmod and umask, as rpm reads them: octal ("0755",
 * or 0755 in Lua, which is the number 755 and so the string "755"),
 * "rwxr-xr-x" (with s for the ID bits), or clauses like "u+x,go-w". rpm's
 * "=" sets the mode to exactly the bits named ("u=rw" leaves no group or
 * other bits), and so does this. -EINVAL: not a mode. */
static int mode_parse(const char *s, mode_t *mode) {
        if (*s >= '0' && *s <= '7') {
                char *end;
                long v = strtol(s, &end, 8);
                if (*end)
                        return -EINVAL;
                *mode = (mode_t) v;
                return 0;
        }
        if (*s == 'r' || *s == '-') {
                mode_t m = *mode & ~(mode_t) (S_ISUID | S_ISGID);
                for (int i = 0; i < 9 && s[i]; i++) {
                        mode_t bit = 0400 >> i;
                        if (s[i] == "rwx"[i % 3])
                                m |= bit;
                        else if (s[i] == '-')
                                m &= ~bit;
                        else if (s[i] == 's' && i == 2)
                                m |= S_ISUID | S_IXUSR;
                        else if (s[i] == 's' && i == 5)
                                m |= S_ISGID | S_IXGRP;
                        else if (s[i] == 's')
                                return -EINVAL;
                }
                *mode = m;
                return 0;
        }
        mode_t m = *mode;
        for (;;) {
                mode_t who = 0, what = 0;
                for (; *s && strchr("ugoa ", *s); s++)
                        who |= *s == 'u' ? 04700 : *s == 'g' ? 02070 : *s == 'o' ? 01007 : *s == 'a' ? 07777 : 0;
                if (who == 0)
                        who = 07777;
                char op = *s;
                if (!op || !strchr("+-=", op))
                        return -EINVAL;
                for (s++; *s && strchr("rwxs ", *s); s++)
                        what |= *s == 'r' ? 0444 : *s == 'w' ? 0222 : *s == 'x' ? 0111 : *s == 's' ? 06000 : 0;
                if (*s && *s != ',')
                        return -EINVAL;
                if (what)
                        m = op == '+' ? m | (what & who) : op == '-' ? m & ~(what & who) : what & who;
                if (!*s++)
                        break;
        }
        *mode = m;
        return 0;
}

/* A user or group argument: a number, a name looked up in the root's
 * files, or none; (id_t) -1 (chown's "unchanged") when none or unknown. */
static id_t id_arg(lua_State *L, int arg, bool group) {
        if (lua_isnone(L, arg))
                return (id_t) -1;
        if (lua_isnumber(L, arg))
                return (id_t) lua_tonumber(L, arg);
        if (!lua_isstring(L, arg))
                return (id_t) luaL_typeerror(L, arg, "string or number");
        const char *name = lua_tostring(L, arg);
        _cleanup_fclose_ FILE *f = fopen(group ? "/etc/group" : "/etc/passwd", "re");
        if (!f)
                return (id_t) -1;
        if (group) {
                for (struct group *g; (g = fgetgrent(f));)
                        if (streq(g->gr_name, name))
                                return g->gr_gid;
        } else
                for (struct passwd *p; (p = fgetpwent(f));)
                        if (streq(p->pw_name, name))
                                return p->pw_uid;
        return (id_t) -1;
}

static int l_access(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        int mode = F_OK;
        for (const char *s = luaL_optstring(L, 2, "f"); *s; s++)
                switch (*s) {
                case 'r':
                        mode |= R_OK;
                        break;
                case 'w':
                        mode |= W_OK;
                        break;
                case 'x':
                        mode |= X_OK;
                        break;
                case 'f':
                case ' ':
                        break;
                default:
                        return luaL_argerror(L, 2, lua_pushfstring(L, "unknown mode option `%c'", *s));
                }
        return push_result(L, access(path, mode), path);
}

static int l_chdir(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        return push_result(L, chdir(path), path);
}

static int l_chmod(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        const char *spec = luaL_checkstring(L, 2);
        struct stat st;
        if (stat(path, &st) < 0)
                return script_lua_push_errno(L, path);
        mode_t mode = st.st_mode;
        if (mode_parse(spec, &mode) < 0)
                return luaL_argerror(L, 2, "bad mode");
        return push_result(L, chmod(path, mode & 07777), path);
}

static int l_chown(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        uid_t uid = (uid_t) id_arg(L, 2, false);
        gid_t gid = (gid_t) id_arg(L, 3, true);
        return push_result(L, chown(path, uid, gid), path);
}

static int l_ctermid(lua_State *L) {
        char buf[L_ctermid];
        lua_pushstring(L, ctermid(buf));
        return 1;
}

static int l_dir(lua_State *L) {
        const char *path = luaL_optstring(L, 1, ".");
        DIR *d = opendir(path);
        if (!d)
                return script_lua_push_errno(L, path);
        lua_newtable(L);
        lua_Integer i = 1;
        for (struct dirent *de; (de = readdir(d));) {
                lua_pushstring(L, de->d_name);
                lua_rawseti(L, -2, i++);
        }
        closedir(d);
        return 1;
}

static int l_errno(lua_State *L) {
        int e = errno;
        lua_pushstring(L, strerror(e));
        lua_pushnumber(L, e);
        return 2;
}

/* Descriptors other than 0, 1 and 2 are not for the programs a script
 * starts (rpm marks them close-on-exec too). */
static void cloexec_from_3(void) {
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return;
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                int fd = atoi(de->d_name);
                if (fd >= 3 && fd != dirfd(d))
                        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        closedir(d);
}

char **script_lua_argv(lua_State *L) {
        int n = lua_gettop(L);
        for (int i = 1; i <= n; i++)
                luaL_checkstring(L, i);
        char **argv = lua_newuserdatauv(L, sizeof(char *) * ((size_t) n + 1), 0);
        for (int i = 0; i < n; i++)
                argv[i] = (char *) lua_tostring(L, i + 1);
        argv[n] = NULL;
        return argv;
}

static int l_exec(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        if (!script_lua_forked)
                return luaL_error(L, "exec not permitted in this context");
        char **argv = script_lua_argv(L);
        cloexec_from_3();
        fflush(NULL);
        execvp(path, argv);
        return script_lua_push_errno(L, path);
}

static int dir_iter_gc(lua_State *L) {
        DIR **d = lua_touserdata(L, 1);
        if (*d)
                closedir(*d);
        *d = NULL;
        return 0;
}

static int dir_iter(lua_State *L) {
        DIR **d = lua_touserdata(L, lua_upvalueindex(1));
        if (!*d)
                return luaL_error(L, "attempt to use closed dir");
        struct dirent *de = readdir(*d);
        if (!de) {
                closedir(*d);
                *d = NULL;
                lua_pushnil(L);
                return 1;
        }
        lua_pushstring(L, de->d_name);
        return 1;
}

static int l_files(lua_State *L) {
        const char *path = luaL_optstring(L, 1, ".");
        DIR **d = lua_newuserdatauv(L, sizeof(DIR *), 0);
        *d = NULL;
        /* Closed at the end of the listing, or when the iterator is
         * collected if the script stops early (rpm leaks it then). */
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, dir_iter_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        *d = opendir(path);
        if (!*d)
                return script_lua_push_errno(L, path);
        lua_pushcclosure(L, dir_iter, 1);
        return 1;
}

static int l_fork(lua_State *L) {
        /* Unwritten output would be written twice, by both processes. */
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
                script_lua_forked = true;
        return push_result(L, pid, NULL);
}

static int l_getcwd(lua_State *L) {
        char *cwd = getcwd(NULL, 0);
        if (!cwd)
                return script_lua_push_errno(L, ".");
        lua_pushstring(L, cwd);
        free(cwd);
        return 1;
}

static int l_getenv(lua_State *L) {
        if (!lua_isnone(L, 1)) {
                lua_pushstring(L, getenv(luaL_checkstring(L, 1)));
                return 1;
        }
        if (!environ || !*environ) {
                lua_pushnil(L);
                return 1;
        }
        lua_newtable(L);
        for (char **e = environ; *e; e++) {
                const char *eq = strchr(*e, '=');
                if (eq) {
                        lua_pushlstring(L, *e, (size_t) (eq - *e));
                        lua_pushstring(L, eq + 1);
                } else {
                        lua_pushstring(L, *e);
                        lua_pushboolean(L, false);
                }
                lua_settable(L, -3);
        }
        return 1;
}

static int l_getgroup(lua_State *L) {
        bool by_id = lua_isnumber(L, 1);
        if (!by_id && !lua_isstring(L, 1))
                return luaL_typeerror(L, 1, "string or number");
        gid_t gid = by_id ? (gid_t) lua_tonumber(L, 1) : 0;
        const char *name = by_id ? NULL : lua_tostring(L, 1);
        _cleanup_fclose_ FILE *f = fopen("/etc/group", "re");
        struct group *g = NULL;
        while (f && (g = fgetgrent(f)))
                if (by_id ? g->gr_gid == gid : streq(g->gr_name, name))
                        break;
        if (!g) {
                lua_pushnil(L);
                return 1;
        }
        lua_newtable(L);
        lua_pushstring(L, g->gr_name);
        lua_setfield(L, -2, "name");
        lua_pushnumber(L, g->gr_gid);
        lua_setfield(L, -2, "gid");
        for (lua_Integer i = 0; g->gr_mem && g->gr_mem[i]; i++) {
                lua_pushstring(L, g->gr_mem[i]);
                lua_rawseti(L, -2, i + 1);
        }
        return 1;
}

static int l_getlogin(lua_State *L) {
        lua_pushstring(L, getlogin());
        return 1;
}

static void passwd_field(lua_State *L, int field, const void *data) {
        const struct passwd *p = data;
        switch (field) {
        case 0:
                lua_pushstring(L, p->pw_name);
                break;
        case 1:
                lua_pushnumber(L, p->pw_uid);
                break;
        case 2:
                lua_pushnumber(L, p->pw_gid);
                break;
        case 3:
                lua_pushstring(L, p->pw_dir);
                break;
        case 4:
                lua_pushstring(L, p->pw_shell);
                break;
        case 5:
                lua_pushstring(L, p->pw_gecos);
                break;
        default:
                lua_pushstring(L, p->pw_passwd);
                break;
        }
}

static int l_getpasswd(lua_State *L) {
        static const char *const fields[] = { "name", "uid", "gid", "dir", "shell", "gecos", "passwd", NULL };
        bool by_id = lua_isnoneornil(L, 1) || lua_isnumber(L, 1);
        if (!by_id && !lua_isstring(L, 1))
                return luaL_typeerror(L, 1, "string or number");
        uid_t uid = lua_isnoneornil(L, 1) ? geteuid() : by_id ? (uid_t) lua_tonumber(L, 1) : 0;
        const char *name = by_id ? NULL : lua_tostring(L, 1);
        _cleanup_fclose_ FILE *f = fopen("/etc/passwd", "re");
        struct passwd *p = NULL;
        while (f && (p = fgetpwent(f)))
                if (by_id ? p->pw_uid == uid : streq(p->pw_name, name))
                        break;
        if (!p) {
                lua_pushnil(L);
                return 1;
        }
        return push_fields(L, 2, fields, passwd_field, p);
}

static void processid_field(lua_State *L, int field, const void *data) {
        const pid_t ids[] = { (pid_t) getegid(), (pid_t) geteuid(), (pid_t) getgid(), (pid_t) getuid(),
                              getpgrp(), getpid(), getppid() };
        lua_pushnumber(L, ids[field]);
}

static int l_getprocessid(lua_State *L) {
        static const char *const fields[] = { "egid", "euid", "gid", "uid", "pgrp", "pid", "ppid", NULL };
        return push_fields(L, 1, fields, processid_field, NULL);
}

static int l_kill(lua_State *L) {
        pid_t pid = (pid_t) luaL_checkinteger(L, 1);
        int sig = (int) luaL_optinteger(L, 2, SIGTERM);
        return push_result(L, kill(pid, sig), NULL);
}

static int l_link(lua_State *L) {
        const char *target = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
        return push_result(L, link(target, path), NULL);
}

static int l_mkdir(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        return push_result(L, mkdir(path, 0777), path);
}

static int l_mkfifo(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        return push_result(L, mkfifo(path, 0777), path);
}

static int stream_close(lua_State *L) {
        luaL_Stream *s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
        return luaL_fileresult(L, fclose(s->f) == 0, NULL);
}

static int l_mkstemp(lua_State *L) {
        const char *template = luaL_checkstring(L, 1);
        char *path = lua_newuserdatauv(L, strlen(template) + 1, 0);
        strcpy(path, template);
        /* A file of Lua's io library, so f:write() and f:close() work. */
        luaL_Stream *s = lua_newuserdatauv(L, sizeof(luaL_Stream), 0);
        s->closef = NULL;
        luaL_setmetatable(L, LUA_FILEHANDLE);
        int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return script_lua_push_errno(L, template);
        s->f = fdopen(fd, "a+");
        if (!s->f) {
                int e = errno;
                close(fd);
                errno = e;
                return script_lua_push_errno(L, path);
        }
        s->closef = stream_close;
        lua_pushstring(L, path);
        return 2;
}

static void pathconf_field(lua_State *L, int field, const void *data) {
        static const int names[] = { _PC_LINK_MAX, _PC_MAX_CANON, _PC_MAX_INPUT, _PC_NAME_MAX, _PC_PATH_MAX,
                                     _PC_PIPE_BUF, _PC_CHOWN_RESTRICTED, _PC_NO_TRUNC, _PC_VDISABLE };
        lua_pushnumber(L, (lua_Number) pathconf(data, names[field]));
}

static int l_pathconf(lua_State *L) {
        static const char *const fields[] = { "link_max", "max_canon", "max_input", "name_max", "path_max",
                                              "pipe_buf", "chown_restricted", "no_trunc", "vdisable", NULL };
        return push_fields(L, 2, fields, pathconf_field, luaL_checkstring(L, 1));
}

static int l_putenv(lua_State *L) {
        const char *s = luaL_checkstring(L, 1);
        /* putenv() keeps the string itself: it has to outlive the script. */
        char *copy = strdup(s);
        if (!copy)
                return luaL_error(L, "not enough memory");
        return push_result(L, putenv(copy), s);
}

static int l_readlink(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        char buf[4096];
        ssize_t n = readlink(path, buf, sizeof buf);
        if (n < 0)
                return script_lua_push_errno(L, path);
        lua_pushlstring(L, buf, (size_t) n);
        return 1;
}

static int l_rmdir(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        return push_result(L, rmdir(path), path);
}

static int l_setenv(lua_State *L) {
        const char *name = luaL_checkstring(L, 1), *value = luaL_checkstring(L, 2);
        bool overwrite = lua_isnoneornil(L, 3) || lua_toboolean(L, 3);
        return push_result(L, setenv(name, value, overwrite), name);
}

static int l_setgid(lua_State *L) {
        return push_result(L, setgid((gid_t) id_arg(L, 1, true)), NULL);
}

static int l_setuid(lua_State *L) {
        return push_result(L, setuid((uid_t) id_arg(L, 1, false)), NULL);
}

static int l_sleep(lua_State *L) {
        lua_pushnumber(L, sleep((unsigned) luaL_checkinteger(L, 1)));
        return 1;
}

typedef struct StatData {
        struct stat st;
        char mode[10];
} StatData;

static const char *file_type(mode_t m) {
        return S_ISREG(m) ? "regular" : S_ISLNK(m) ? "link" : S_ISDIR(m) ? "directory"
               : S_ISCHR(m) ? "character device" : S_ISBLK(m) ? "block device" : S_ISFIFO(m) ? "fifo"
               : S_ISSOCK(m) ? "socket" : "?";
}

static void stat_field(lua_State *L, int field, const void *data) {
        const StatData *s = data;
        const struct stat *st = &s->st;
        switch (field) {
        case 0:
                lua_pushstring(L, s->mode);
                return;
        case 10:
                lua_pushstring(L, file_type(st->st_mode));
                return;
        }
        const lua_Number values[] = {
                0, st->st_ino, st->st_dev, st->st_nlink, st->st_uid, st->st_gid, st->st_size,
                st->st_atime, st->st_mtime, st->st_ctime, 0, st->st_mode,
        };
        lua_pushnumber(L, values[field]);
}

static int l_stat(lua_State *L) {
        static const char *const fields[] = { "mode", "ino", "dev", "nlink", "uid", "gid", "size",
                                              "atime", "mtime", "ctime", "type", "_mode", NULL };
        const char *path = luaL_checkstring(L, 1);
        StatData s;
        /* The link itself, not what it points to: type "link". */
        if (lstat(path, &s.st) < 0)
                return script_lua_push_errno(L, path);
        mode_to_string(s.st.st_mode, s.mode);
        return push_fields(L, 2, fields, stat_field, &s);
}

static int l_symlink(lua_State *L) {
        const char *target = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
        return push_result(L, symlink(target, path), NULL);
}

static void sysconf_field(lua_State *L, int field, const void *data) {
        static const int names[] = { _SC_ARG_MAX, _SC_CHILD_MAX, _SC_CLK_TCK, _SC_NGROUPS_MAX, _SC_STREAM_MAX,
                                     _SC_TZNAME_MAX, _SC_OPEN_MAX, _SC_JOB_CONTROL, _SC_SAVED_IDS, _SC_VERSION };
        lua_pushnumber(L, (lua_Number) sysconf(names[field]));
}

static int l_sysconf(lua_State *L) {
        static const char *const fields[] = { "arg_max", "child_max", "clk_tck", "ngroups_max", "stream_max",
                                              "tzname_max", "open_max", "job_control", "saved_ids", "version",
                                              NULL };
        return push_fields(L, 1, fields, sysconf_field, NULL);
}

typedef struct TimesData {
        struct tms t;
        clock_t elapsed;
} TimesData;

static void times_field(lua_State *L, int field, const void *data) {
        const TimesData *d = data;
        const clock_t values[] = { d->t.tms_utime, d->t.tms_stime, d->t.tms_cutime, d->t.tms_cstime, d->elapsed };
        /* In seconds (rpm divides by CLOCKS_PER_SEC, which is not the unit of times()). */
        lua_pushnumber(L, (lua_Number) values[field] / (lua_Number) sysconf(_SC_CLK_TCK));
}

static int l_times(lua_State *L) {
        static const char *const fields[] = { "utime", "stime", "cutime", "cstime", "elapsed", NULL };
        TimesData d;
        d.elapsed = times(&d.t);
        return push_fields(L, 1, fields, times_field, &d);
}

static int l_ttyname(lua_State *L) {
        lua_pushstring(L, ttyname((int) luaL_optinteger(L, 1, 0)));
        return 1;
}

static int l_umask(lua_State *L) {
        mode_t old = umask(0);
        umask(old);
        mode_t allowed = ~old & 0777;
        if (!lua_isnone(L, 1)) {
                if (mode_parse(luaL_checkstring(L, 1), &allowed) < 0) {
                        lua_pushnil(L);
                        return 1;
                }
                allowed &= 0777;
                umask(~allowed & 0777);
        }
        char s[10];
        mode_to_string(allowed, s);
        lua_pushstring(L, s);
        return 1;
}

static int l_uname(lua_State *L) {
        struct utsname u;
        if (uname(&u) < 0)
                return script_lua_push_errno(L, NULL);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (const char *s = luaL_optstring(L, 1, "%s %n %r %v %m"); *s; s++) {
                if (*s != '%') {
                        luaL_addchar(&b, *s);
                        continue;
                }
                switch (*++s) {
                case '%':
                        luaL_addchar(&b, '%');
                        break;
                case 'm':
                        luaL_addstring(&b, u.machine);
                        break;
                case 'n':
                        luaL_addstring(&b, u.nodename);
                        break;
                case 'r':
                        luaL_addstring(&b, u.release);
                        break;
                case 's':
                        luaL_addstring(&b, u.sysname);
                        break;
                case 'v':
                        luaL_addstring(&b, u.version);
                        break;
                default:
                        return luaL_argerror(L, 1, lua_pushfstring(L, "unknown format option `%c'", *s ? *s : '%'));
                }
        }
        luaL_pushresult(&b);
        return 1;
}

static int l_unlink(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        return push_result(L, unlink(path), path);
}

static int l_unsetenv(lua_State *L) {
        unsetenv(luaL_checkstring(L, 1));
        return 0;
}

static int l_utime(lua_State *L) {
        const char *path = luaL_checkstring(L, 1);
        time_t now = time(NULL);
        struct utimbuf t = {
                .modtime = (time_t) luaL_optnumber(L, 2, (lua_Number) now),
                .actime = (time_t) luaL_optnumber(L, 3, (lua_Number) now),
        };
        return push_result(L, utime(path, &t), path);
}

static int l_wait(lua_State *L) {
        pid_t pid = (pid_t) luaL_optinteger(L, 1, -1);
        pid_t r;
        do
                r = waitpid(pid, NULL, 0);
        while (r < 0 && errno == EINTR);
        return push_result(L, r, NULL);
}

int script_lua_redirect2null(lua_State *L) {
        if (!script_lua_forked)
                return luaL_error(L, "redirect2null not permitted in this context");
        int target = (int) luaL_checkinteger(L, 1);
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return script_lua_push_errno(L, NULL);
        int r = fd;
        if (fd != target) {
                r = dup2(fd, target);
                int e = errno;
                close(fd);
                errno = e;
        }
        return push_result(L, r, NULL);
}

int script_lua_open_posix(lua_State *L) {
        static const luaL_Reg functions[] = {
                { "access", l_access },
                { "chdir", l_chdir },
                { "chmod", l_chmod },
                { "chown", l_chown },
                { "ctermid", l_ctermid },
                { "dir", l_dir },
                { "errno", l_errno },
                { "exec", l_exec },
                { "files", l_files },
                { "fork", l_fork },
                { "getcwd", l_getcwd },
                { "getenv", l_getenv },
                { "getgroup", l_getgroup },
                { "getlogin", l_getlogin },
                { "getpasswd", l_getpasswd },
                { "getprocessid", l_getprocessid },
                { "kill", l_kill },
                { "link", l_link },
                { "mkdir", l_mkdir },
                { "mkfifo", l_mkfifo },
                { "mkstemp", l_mkstemp },
                { "pathconf", l_pathconf },
                { "putenv", l_putenv },
                { "readlink", l_readlink },
                { "redirect2null", script_lua_redirect2null },
                { "rmdir", l_rmdir },
                { "setenv", l_setenv },
                { "setgid", l_setgid },
                { "setuid", l_setuid },
                { "sleep", l_sleep },
                { "stat", l_stat },
                { "symlink", l_symlink },
                { "sysconf", l_sysconf },
                { "times", l_times },
                { "ttyname", l_ttyname },
                { "umask", l_umask },
                { "uname", l_uname },
                { "unlink", l_unlink },
                { "unsetenv", l_unsetenv },
                { "utime", l_utime },
                { "wait", l_wait },
                {},
        };
        luaL_newlib(L, functions);
        lua_pushliteral(L, "posix library for " LUA_VERSION " / Nov 2003");
        lua_setfield(L, -2, "version");
        return 1;
}
