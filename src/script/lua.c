/* SPDX-License-Identifier: MIT */
/* Lua scriptlets as rpm 4.18 runs them (lib/rpmscript.c runLuaScript(),
 * rpmio/rpmlua.c), in a fresh interpreter per scriptlet:
 *
 * - the standard libraries (print writes to standard output, as rpm's
 *   does for scriptlets), os.exit refused unless in a process posix.fork()
 *   made, the posix table (lua-posix.c), the rpm table below and rpm's
 *   macros (lua-macro.c);
 * - the body loaded with "local opt, arg = ...;" put before it on its first
 *   line (so line numbers are the body's), arg = { "<lua>", $1, $2 } with $1
 *   and $2 as numbers, opt an empty table;
 * - a process posix.fork() made that comes back from the script exits with
 *   status 1, as in rpm; a child still running at the end is warned about.
 *
 * rpm runs every Lua scriptlet of a transaction in one interpreter inside
 * its own process; here each runs in an interpreter and a process of its
 * own, so globals a scriptlet sets are not seen by the next. */

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lualib.h>
#include <openssl/evp.h>

#include "basic/macro.h"
#include "basic/strbuf.h"
#include "rpm/version.h"
#include "script/lua-internal.h"
#include "script/lua.h"

/* Every function of rpm 4.18's rpm and posix tables. Using one that is not
 * provided fails the script with a message naming it. Any other name is
 * nil, as in rpm 4.18: scripts that test for a later rpm's functions ("if
 * rpm.spawn ~= nil then", Fedora's setup and glibc) take their other way. */
static const char *const rpm_functions[] = {
        "b64encode", "b64decode", "expand", "define", "undefine", "isdefined", "load", "register", "unregister",
        "call", "interactive", "execute", "redirect2null", "vercmp", "ver", "open", "splitargs", "unsplitargs",
        NULL,
};
static const char *const posix_functions[] = {
        "access", "chdir", "chmod", "chown", "ctermid", "dir", "errno", "exec", "files", "fork", "getcwd",
        "getenv", "getgroup", "getlogin", "getpasswd", "getprocessid", "kill", "link", "mkdir", "mkfifo",
        "mkstemp", "pathconf", "putenv", "readlink", "redirect2null", "rmdir", "setenv", "setgid", "setuid",
        "sleep", "stat", "symlink", "sysconf", "times", "ttyname", "umask", "uname", "unlink", "unsetenv",
        "utime", "wait", "version", NULL,
};

static int missing_index(lua_State *L) {
        const char *table = lua_tostring(L, lua_upvalueindex(1));
        const char *const *names = lua_touserdata(L, lua_upvalueindex(2));
        const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
        for (size_t i = 0; key && names[i]; i++)
                if (streq(names[i], key)) {
                        lua_pushfstring(L, "Lua function %s.%s is not provided by slipway", table, key);
                        return lua_error(L);
                }
        return 0;
}

/* Gives the table on top of the stack the metatable above. */
static void set_missing_index(lua_State *L, const char *table, const char *const *names) {
        lua_createtable(L, 0, 1);
        lua_pushstring(L, table);
        lua_pushlightuserdata(L, (void *) names);
        lua_pushcclosure(L, missing_index, 2);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, -2);
}

static int push_error_code(lua_State *L, int code, const char *message) {
        lua_pushnil(L);
        lua_pushstring(L, message ?: strerror(code));
        lua_pushnumber(L, code);
        return 3;
}

static int os_exit(lua_State *L) {
        if (!script_lua_forked)
                return luaL_error(L, "exit not permitted in this context");
        int status = (int) luaL_optinteger(L, 1, EXIT_SUCCESS);
        fflush(NULL);
        _exit(status);
}

/* rpm.execute(path, args...): runs the program (looked up in PATH), waits
 * for it; 0 when it exited with 0, else nil, "exit code" and the wait
 * status (nil, message, errno when it could not be started). */
static int l_execute(lua_State *L) {
        const char *file = luaL_checkstring(L, 1);
        char **argv = script_lua_argv(L);

        posix_spawn_file_actions_t fa;
        if (posix_spawn_file_actions_init(&fa) != 0)
                return luaL_error(L, "not enough memory");
        /* Only standard input, output and error are the program's. */
        int r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        pid_t pid = 0;
        fflush(NULL);
        if (r == 0)
                r = posix_spawnp(&pid, file, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return push_error_code(L, r, NULL);
        int status;
        pid_t w;
        do
                w = waitpid(pid, &status, 0);
        while (w < 0 && errno == EINTR);
        if (w < 0)
                return push_error_code(L, errno, NULL);
        if (status != 0)
                return push_error_code(L, status, "exit code");
        lua_pushnumber(L, 0);
        return 1;
}

static int l_interactive(lua_State *L) {
        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
                return luaL_error(L, "not a tty");
        lua_pushliteral(L, "Lua function rpm.interactive is not provided by slipway");
        return lua_error(L);
}

/* An [epoch:]version[-release] split as rpm 4.18's rpmver does: no epoch
 * and no release are NULL, an empty epoch "0". The strings point into s. */
typedef struct Evr {
        const char *e, *v, *r;
} Evr;

static void evr_split(char *s, Evr *ret) {
        char *p = s;
        while (isdigit((unsigned char) *p))
                p++;
        char *dash = strrchr(p, '-');
        *ret = (Evr) { .v = s };
        if (*p == ':') {
                *p = 0;
                ret->e = *s ? s : "0";
                ret->v = p + 1;
        }
        if (dash) {
                *dash = 0;
                ret->r = dash + 1;
        }
}

static int evr_part_cmp(const char *a, const char *b) {
        if (!a || !b)
                return a ? 1 : b ? -1 : 0;
        return rpm_vercmp(a, b);
}

static int evr_cmp(const Evr *a, const Evr *b) {
        int c = evr_part_cmp(a->e ?: "0", b->e ?: "0");
        if (c == 0)
                c = evr_part_cmp(a->v, b->v);
        if (c == 0)
                c = evr_part_cmp(a->r, b->r);
        return c;
}

/* rpm.ver objects: the parts and their text in one block. */
typedef struct Ver {
        Evr evr;
        char text[];
} Ver;

static const char VER_TYPE[] = "rpm.ver";

static Ver *ver_new(lua_State *L, const char *e, const char *v, const char *r) {
        size_t ne = e ? strlen(e) + 1 : 0, nv = strlen(v) + 1, nr = r ? strlen(r) + 1 : 0;
        Ver *ver = lua_newuserdatauv(L, sizeof(Ver) + ne + nv + nr, 0);
        char *p = ver->text;
        ver->evr = (Evr) {};
        if (e) {
                ver->evr.e = memcpy(p, e, ne);
                p += ne;
        }
        ver->evr.v = memcpy(p, v, nv);
        p += nv;
        if (r)
                ver->evr.r = memcpy(p, r, nr);
        luaL_setmetatable(L, VER_TYPE);
        return ver;
}

static int l_ver(lua_State *L) {
        int n = lua_gettop(L);
        if (n == 1) {
                const char *s = lua_tostring(L, 1);
                if (!s || !*s)
                        return 0;
                char *copy = lua_newuserdatauv(L, strlen(s) + 1, 0);
                Evr evr;
                evr_split(strcpy(copy, s), &evr);
                ver_new(L, evr.e, evr.v, evr.r);
                return 1;
        }
        if (n != 3)
                return luaL_error(L, "invalid number of arguments: %d", n);
        const char *v = lua_tostring(L, 2);
        if (!v || !*v)
                return 0;
        ver_new(L, lua_tostring(L, 1), v, lua_tostring(L, 3));
        return 1;
}

static int ver_index(lua_State *L) {
        const Ver *ver = luaL_checkudata(L, 1, VER_TYPE);
        const char *key = luaL_checkstring(L, 2);
        if (streq(key, "e"))
                lua_pushstring(L, ver->evr.e);
        else if (streq(key, "v"))
                lua_pushstring(L, ver->evr.v);
        else if (streq(key, "r"))
                lua_pushstring(L, ver->evr.r);
        else
                return luaL_error(L, "invalid attribute: %s", key);
        return 1;
}

static int ver_tostring(lua_State *L) {
        const Ver *ver = luaL_checkudata(L, 1, VER_TYPE);
        lua_pushfstring(L, "%s%s%s%s%s", ver->evr.e ?: "", ver->evr.e ? ":" : "", ver->evr.v, ver->evr.r ? "-" : "",
                        ver->evr.r ?: "");
        return 1;
}

static int ver_compare(lua_State *L) {
        const Ver *a = luaL_checkudata(L, 1, VER_TYPE), *b = luaL_checkudata(L, 2, VER_TYPE);
        return evr_cmp(&a->evr, &b->evr);
}

static int ver_eq(lua_State *L) {
        lua_pushboolean(L, ver_compare(L) == 0);
        return 1;
}

static int ver_lt(lua_State *L) {
        lua_pushboolean(L, ver_compare(L) < 0);
        return 1;
}

static int ver_le(lua_State *L) {
        lua_pushboolean(L, ver_compare(L) <= 0);
        return 1;
}

/* rpm.vercmp(a, b): -1, 0 or 1 comparing two [epoch:]version[-release]. */
static int l_vercmp(lua_State *L) {
        Evr evr[2];
        for (int i = 0; i < 2; i++) {
                const char *s = luaL_checkstring(L, i + 1);
                if (!*s)
                        return luaL_argerror(L, i + 1, "invalid version ");
                char *copy = lua_newuserdatauv(L, strlen(s) + 1, 0);
                evr_split(strcpy(copy, s), &evr[i]);
        }
        int c = evr_cmp(&evr[0], &evr[1]);
        lua_pushinteger(L, c < 0 ? -1 : c > 0);
        return 1;
}

/* rpm.b64encode(s, [line length]): lines of that many characters (64 by
 * default, rounded down to a multiple of 4), each ended by a newline; with
 * a length under 4, one line without a newline. */
static int l_b64encode(lua_State *L) {
        size_t len;
        const char *s = luaL_checklstring(L, 1, &len);
        lua_Integer linelen = lua_gettop(L) >= 2 ? luaL_checkinteger(L, 2) : -1;
        size_t per_line = linelen < 0 ? 64 : (size_t) linelen / 4 * 4;
        if (len == 0) {
                lua_pushliteral(L, "");
                return 1;
        }
        if (len > INT_MAX / 4 * 3)
                return luaL_error(L, "not enough memory");
        size_t enc_len = (len + 2) / 3 * 4;
        unsigned char *enc = lua_newuserdatauv(L, enc_len + 1, 0);
        EVP_EncodeBlock(enc, (const unsigned char *) s, (int) len);
        if (per_line == 0) {
                lua_pushlstring(L, (const char *) enc, enc_len);
                return 1;
        }
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < enc_len; i += per_line) {
                luaL_addlstring(&b, (const char *) enc + i, MIN(per_line, enc_len - i));
                luaL_addchar(&b, '\n');
        }
        luaL_pushresult(&b);
        return 1;
}

/* rpm.b64decode(s): nil when s is not base64 (white space is ignored). */
static int l_b64decode(lua_State *L) {
        size_t len;
        const char *s = luaL_checklstring(L, 1, &len);
        unsigned char *clean = lua_newuserdatauv(L, len + 1, 0);
        size_t n = 0, pad = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c <= ' ')
                        continue;
                if (!isalnum(c) && c != '+' && c != '/' && c != '=') {
                        lua_pushnil(L);
                        return 1;
                }
                clean[n++] = c;
        }
        if (n % 4 != 0 || n > INT_MAX) {
                lua_pushnil(L);
                return 1;
        }
        while (pad < 2 && pad < n && clean[n - 1 - pad] == '=')
                pad++;
        unsigned char *out = lua_newuserdatauv(L, n / 4 * 3 + 1, 0);
        int k = n > 0 ? EVP_DecodeBlock(out, clean, (int) n) : 0;
        if (k < 0) {
                lua_pushnil(L);
                return 1;
        }
        lua_pushlstring(L, (const char *) out, (size_t) k - pad);
        return 1;
}

/* rpm's quoting of words (rpm.splitargs, rpm.unsplitargs, %{quote:}): an
 * ASCII unit separator starts and ends a quoted part, in which blanks do not
 * split; a quoted empty word is kept. */
#define QUOTE_CHAR '\x1f'

static int l_splitargs(lua_State *L) {
        size_t len;
        const char *s = luaL_checklstring(L, 1, &len);
        char *word = lua_newuserdatauv(L, len + 1, 0);
        size_t n = 0, raw = 0;
        bool quoted = false;
        lua_Integer i = 1;
        lua_newtable(L);
        for (size_t k = 0; k <= len; k++) {
                char c = k < len ? s[k] : 0;
                if (c == QUOTE_CHAR) {
                        quoted = !quoted;
                        raw++;
                } else if (c && (quoted || (c != ' ' && c != '\t'))) {
                        word[n++] = c;
                        raw++;
                } else if (!quoted || !c) {
                        /* A word still quoted at the end is dropped, as by rpm. */
                        if (raw > 0 && !quoted) {
                                lua_pushlstring(L, word, n);
                                lua_rawseti(L, -2, i++);
                        }
                        n = raw = 0;
                }
        }
        return 1;
}

static int l_unsplitargs(lua_State *L) {
        luaL_checktype(L, 1, LUA_TTABLE);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (lua_Integer i = 1;; i++) {
                if (lua_rawgeti(L, 1, i) == LUA_TNIL) {
                        lua_pop(L, 1);
                        break;
                }
                size_t len;
                const char *w = luaL_checklstring(L, -1, &len);
                /* The buffer may sit on the stack: the word goes in by copy. */
                char q[2] = { QUOTE_CHAR, 0 };
                lua_pushfstring(L, "%s%s%s%s", i > 1 ? " " : "", q, w, q);
                lua_remove(L, -2);
                luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        return 1;
}

/* rpm.glob(pattern): the matching paths, sorted; the pattern itself when
 * nothing matches (rpm 4.19's; Fedora's filesystem package calls it). */
static int l_glob(lua_State *L) {
        const char *pattern = luaL_checkstring(L, 1);
        size_t len = strlen(pattern);
        int flags = GLOB_BRACE | GLOB_NOCHECK;
        const char *home = getenv("HOME");
        if (home && *home)
                flags |= GLOB_TILDE;
        if (len > 0 && pattern[len - 1] == '/')
                flags |= GLOB_ONLYDIR;
        glob_t g = {};
        int r = glob(pattern, flags, NULL, &g);
        if (r != 0) {
                globfree(&g);
                return luaL_error(L, "glob %s failed: %s", pattern, strerror(r == GLOB_NOSPACE ? ENOMEM : EIO));
        }
        lua_createtable(L, (int) MIN(g.gl_pathc, (size_t) INT_MAX), 0);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                lua_pushstring(L, g.gl_pathv[i]);
                lua_rawseti(L, -2, (lua_Integer) i + 1);
        }
        globfree(&g);
        return 1;
}

/* rpm.next_file() of file triggers: the next of the matching paths, which
 * the caller gives on standard input one a line; nil after the last. */
static int l_next_file(lua_State *L) {
        char *line = NULL;
        size_t n = 0;
        ssize_t k = getline(&line, &n, stdin);
        if (k < 0) {
                free(line);
                lua_pushnil(L);
                return 1;
        }
        if (k > 0 && line[k - 1] == '\n')
                k--;
        lua_pushlstring(L, line, (size_t) k);
        free(line);
        return 1;
}

typedef struct Context {
        const char *nevra;
        const char *scriptlet;
        char arch[64];
        bool file_trigger;
} Context;

/* The table on top of the stack becomes module name: global and in
 * package.loaded, as luaL_requiref() leaves one. */
static void set_module(lua_State *L, const char *name) {
        lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, name);
        lua_pop(L, 1);
        lua_setglobal(L, name);
}

/* Builds the scriptlet's environment (called protected, so running out of
 * memory is an error, not a panic). */
static int setup(lua_State *L) {
        const Context *c = lua_touserdata(L, 1);
        luaL_openlibs(L);

        /* rpm's search path for modules; no C modules: the image's would be
         * loaded into slipway. */
        lua_getglobal(L, "package");
        lua_pushliteral(L, "/usr/lib/rpm/lua/?.lua");
        lua_setfield(L, -2, "path");
        lua_pushliteral(L, "");
        lua_setfield(L, -2, "cpath");
        lua_pop(L, 1);

        lua_getglobal(L, "os");
        lua_pushcfunction(L, os_exit);
        lua_setfield(L, -2, "exit");
        lua_pop(L, 1);

        script_lua_open_posix(L);
        set_missing_index(L, "posix", posix_functions);
        set_module(L, "posix");

        static const luaL_Reg rpm[] = {
                { "b64encode", l_b64encode },
                { "b64decode", l_b64decode },
                { "execute", l_execute },
                { "glob", l_glob },
                { "interactive", l_interactive },
                { "redirect2null", script_lua_redirect2null },
                { "splitargs", l_splitargs },
                { "unsplitargs", l_unsplitargs },
                { "ver", l_ver },
                { "vercmp", l_vercmp },
                {},
        };
        luaL_newlib(L, rpm);
        if (c->file_trigger) {
                lua_pushcfunction(L, l_next_file);
                lua_setfield(L, -2, "next_file");
        }
        script_lua_open_macros(L, c->arch);
        set_missing_index(L, "rpm", rpm_functions);
        set_module(L, "rpm");

        static const luaL_Reg ver_methods[] = {
                { "__index", ver_index },
                { "__tostring", ver_tostring },
                { "__eq", ver_eq },
                { "__lt", ver_lt },
                { "__le", ver_le },
                {},
        };
        luaL_newmetatable(L, VER_TYPE);
        luaL_setfuncs(L, ver_methods, 0);
        lua_pop(L, 1);
        return 0;
}

static void report(const Context *c, const char *message) {
        fflush(stdout);
        fprintf(stderr, "package %s: %s: %s\n", c->nevra, c->scriptlet, message);
        fflush(stderr);
}

static void report_lua_error(const Context *c, lua_State *L) {
        int t = lua_type(L, -1);
        if (t == LUA_TSTRING || t == LUA_TNUMBER)
                report(c, lua_tostring(L, -1));
        else
                report(c, lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1)));
}

/* The architecture the macros are for: the package's, or for noarch ones
 * the machine's. */
static void context_arch(Context *c) {
        const char *dot = strrchr(c->nevra, '.');
        const char *arch = dot ? dot + 1 : "";
        bool ok = *arch && strlen(arch) < sizeof c->arch && !streq(arch, "noarch");
        for (const char *p = arch; ok && *p; p++)
                ok = isalnum((unsigned char) *p) || *p == '_';
        struct utsname u;
        if (!ok)
                arch = uname(&u) == 0 ? u.machine : "x86_64";
        size_t n = MIN(strlen(arch), sizeof c->arch - 1);
        memcpy(c->arch, arch, n);
        c->arch[n] = 0;
}

static bool is_number(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

int lua_script_check(const char *body, char **ret_error) {
        lua_State *L = luaL_newstate();
        if (!L)
                return -ENOMEM;
        int r = 0;
        /* Text only: a body runs after a line slipway adds (run_script()), so
         * it is never a precompiled chunk. */
        int status = luaL_loadbufferx(L, body, strlen(body), "=<lua>", "t");
        if (status == LUA_ERRMEM)
                r = -ENOMEM;
        else if (status != LUA_OK) {
                r = -EINVAL;
                const char *msg = lua_tostring(L, -1);
                if (ret_error && !(*ret_error = strdup(msg ? msg : "unknown error")))
                        r = -ENOMEM;
        }
        lua_close(L);
        return r;
}

static int run_script(Context *c, const char *body, char *const *args, int n_args) {
        lua_State *L = luaL_newstate();
        if (!L) {
                report(c, "out of memory");
                return 1;
        }
        lua_pushcfunction(L, setup);
        lua_pushlightuserdata(L, c);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
                report_lua_error(c, L);
                lua_close(L);
                return 1;
        }

        /* As rpm: the arguments as numbers, on the body's first line. */
        _cleanup_strbuf_ StrBuf chunk = STRBUF_INIT;
        strbuf_puts(&chunk, "local opt, arg = ...;");
        for (int i = 0; i < n_args; i++)
                strbuf_printf(&chunk, "arg[%d] = tonumber(arg[%d]);", i + 2, i + 2);
        strbuf_puts(&chunk, body);
        if (chunk.oom) {
                report(c, "out of memory");
                lua_close(L);
                return 1;
        }
        if (luaL_loadbuffer(L, chunk.buf, chunk.len, "=<lua>") != LUA_OK) {
                report_lua_error(c, L);
                lua_close(L);
                return 1;
        }
        lua_newtable(L); /* opt */
        lua_createtable(L, n_args + 1, 0);
        lua_pushliteral(L, "<lua>");
        lua_rawseti(L, -2, 1);
        for (int i = 0; i < n_args; i++) {
                lua_pushstring(L, args[i]);
                lua_rawseti(L, -2, i + 2);
        }

        pid_t pid = getpid();
        int r = lua_pcall(L, 2, 0, 0);
        if (r != LUA_OK)
                report_lua_error(c, L);
        if (getpid() != pid) {
                /* A child of posix.fork() that did not exec or exit. */
                fflush(NULL);
                _exit(1);
        }
        if (waitpid(-1, NULL, WNOHANG) == 0)
                report(c, "warning: runaway fork() in Lua script");
        lua_close(L);
        return r == LUA_OK ? 0 : 1;
}

/* environ becomes a copy of envp, so the script's setenv, posix.getenv and
 * the programs it starts see what the caller gave. */
static int set_environment(char **envp) {
        size_t n = 0;
        while (envp[n])
                n++;
        char **copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(copy[i] = strdup(envp[i])))
                        return -ENOMEM; /* the process ends soon after */
        environ = copy;
        return 0;
}

static int lua_scriptlet_run(int argc, char **argv, char **envp) {
        if (argc < 3 || argc > 5) {
                fprintf(stderr, "lua scriptlet: expected a package, a scriptlet, its body and up to two "
                                "arguments, got %d words\n", argc);
                return 1;
        }
        Context c = {
                .nevra = argv[0],
                .scriptlet = argv[1],
                .file_trigger = strstr(argv[1], "filetrigger") != NULL,
        };
        context_arch(&c);
        for (int i = 3; i < argc; i++)
                if (!is_number(argv[i])) {
                        _cleanup_free_ char *m = strprintf("argument '%s' is not a number", argv[i]);
                        report(&c, m ?: "out of memory");
                        return 1;
                }
        if (envp && envp != environ && set_environment(envp) < 0) {
                report(&c, "out of memory");
                return 1;
        }
        /* Lines of print() and of the programs the script starts stay in order. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        int r = run_script(&c, argv[2], argv + 3, argc - 3);
        fflush(stdout);
        fflush(stderr);
        return r;
}

const SandboxFunction lua_scriptlet_function = {
        .name = "lua",
        .fn = lua_scriptlet_run,
};
