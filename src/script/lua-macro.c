/* SPDX-License-Identifier: MIT */
/* rpm's macros as Lua scriptlets see them: rpm.expand, rpm.define,
 * rpm.undefine, rpm.isdefined and the global "macros" table over a small
 * table holding the standard path macros of the image's architecture.
 *
 * The expander follows rpm 4.18's rules (rpmio/macro.c): %% is a %, %name
 * and %{name} expand a defined macro's body (recursively) and are left as
 * they are when it is not defined, %{?name} and %{?name:text} expand only
 * when it is, %{!?name:text} only when it is not, and the built-in macros
 * that need nothing but their argument work (%{basename:...}, %{getenv:...},
 * ...). Shell (%(...)), expression (%[...]) and Lua (%{lua:...}) expansion
 * and parametric macros are refused with an error saying so. */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "basic/strbuf.h"
#include "script/lua-internal.h"

/* rpm's max_macro_depth. */
#define MACRO_DEPTH_MAX 64

typedef struct Macro {
        char *name;
        char **bodies;  /* a stack: a definition hides the one before until it is undefined */
        size_t n_bodies, allocated;
} Macro;

typedef struct MacroTable {
        Macro *macros;
        size_t n, allocated;
} MacroTable;

static const char MACRO_TABLE_KEY[] = "slipway.macros";

static Macro *macro_find(MacroTable *t, const char *name, size_t len) {
        for (size_t i = 0; i < t->n; i++)
                if (strlen(t->macros[i].name) == len && memcmp(t->macros[i].name, name, len) == 0)
                        return &t->macros[i];
        return NULL;
}

static int macro_push(MacroTable *t, const char *name, size_t len, const char *body, size_t body_len) {
        Macro *m = macro_find(t, name, len);
        if (!m) {
                if (!GREEDY_REALLOC(t->macros, t->allocated, t->n + 1))
                        return -ENOMEM;
                char *n = strndup_nul(name, len);
                if (!n)
                        return -ENOMEM;
                m = &t->macros[t->n++];
                *m = (Macro) { .name = n };
        }
        if (!GREEDY_REALLOC(m->bodies, m->allocated, m->n_bodies + 1))
                return -ENOMEM;
        char *b = strndup_nul(body, body_len);
        if (!b)
                return -ENOMEM;
        m->bodies[m->n_bodies++] = b;
        return 0;
}

static void macro_pop(MacroTable *t, const char *name) {
        Macro *m = macro_find(t, name, strlen(name));
        if (!m)
                return;
        free(m->bodies[--m->n_bodies]);
        if (m->n_bodies > 0)
                return;
        free(m->bodies);
        free(m->name);
        *m = t->macros[--t->n];
}

static void macro_table_release(MacroTable *t) {
        for (size_t i = 0; i < t->n; i++) {
                for (size_t j = 0; j < t->macros[i].n_bodies; j++)
                        free(t->macros[i].bodies[j]);
                free(t->macros[i].bodies);
                free(t->macros[i].name);
        }
        free(t->macros);
        *t = (MacroTable) {};
}

static const char *macro_body(MacroTable *t, const char *name, size_t len) {
        Macro *m = macro_find(t, name, len);
        return m ? m->bodies[m->n_bodies - 1] : NULL;
}

/* One expansion: output, the first error, and how deep it is. */
typedef struct Expander {
        MacroTable *table;
        StrBuf out;
        char *error;
        unsigned depth;
} Expander;

static int expand_fail(Expander *e, char *message) {
        if (!e->error)
                e->error = message ?: strdup("out of memory");
        else
                free(message);
        return -EINVAL;
}

/* expand_fail() for the functions that return where scanning goes on. */
static const char *expand_fail_at(Expander *e, char *message) {
        expand_fail(e, message);
        return NULL;
}

static int expand_text(Expander *e, const char *s, size_t len);

/* Expands text into a string of its own (a built-in's argument). */
static int expand_to_string(Expander *e, const char *s, size_t len, char **ret) {
        Expander sub = { .table = e->table, .depth = e->depth };
        int r = expand_text(&sub, s, len);
        if (r < 0) {
                strbuf_release(&sub.out);
                return expand_fail(e, TAKE_PTR(sub.error));
        }
        char *out = strbuf_detach(&sub.out, NULL);
        if (!out)
                return expand_fail(e, NULL);
        *ret = out;
        return 0;
}

/* The built-in macros of rpm 4.18. A NULL function: rpm has it, slipway
 * does not. arg is the expanded argument, NULL when none was given. */
typedef struct Builtin {
        const char *name;
        int (*fn)(Expander *e, const char *name, const char *arg);
        bool takes_arg;
} Builtin;

static int builtin_path(Expander *e, const char *name, const char *arg) {
        const char *slash = strrchr(arg, '/');
        if (streq(name, "basename"))
                return strbuf_puts(&e->out, slash ? slash + 1 : arg);
        if (streq(name, "dirname"))
                return strbuf_put(&e->out, arg, slash ? (size_t) (slash - arg) : strlen(arg));
        const char *dot = strrchr(arg, '.'); /* suffix */
        return dot ? strbuf_puts(&e->out, dot + 1) : 0;
}

static int builtin_shrink(Expander *e, const char *name, const char *arg) {
        /* Leading and trailing white space dropped, inner runs made one space. */
        bool space = false;
        size_t start = e->out.len;
        for (const char *p = arg; *p; p++) {
                if (isspace((unsigned char) *p)) {
                        space = true;
                        continue;
                }
                if (space && e->out.len > start)
                        strbuf_putc(&e->out, ' ');
                space = false;
                strbuf_putc(&e->out, *p);
        }
        return e->out.oom ? -ENOMEM : 0;
}

static int builtin_quote(Expander *e, const char *name, const char *arg) {
        /* rpm's quoting of a parametric macro's argument: ASCII unit separators around it. */
        return strbuf_printf(&e->out, "\x1f%s\x1f", arg);
}

static int builtin_shescape(Expander *e, const char *name, const char *arg) {
        strbuf_putc(&e->out, '\'');
        for (const char *p = arg; *p; p++)
                if (*p == '\'')
                        strbuf_puts(&e->out, "'\\''");
                else
                        strbuf_putc(&e->out, *p);
        return strbuf_putc(&e->out, '\'');
}

static int builtin_getenv(Expander *e, const char *name, const char *arg) {
        const char *v = getenv(arg);
        return v ? strbuf_puts(&e->out, v) : 0;
}

static int builtin_exists(Expander *e, const char *name, const char *arg) {
        return strbuf_puts(&e->out, access(arg, F_OK) == 0 ? "1" : "0");
}

static int builtin_url2path(Expander *e, const char *name, const char *arg) {
        /* Scriptlets only see local paths: rpm gives those back unchanged. */
        return strbuf_puts(&e->out, *arg ? arg : "/");
}

static int builtin_expand(Expander *e, const char *name, const char *arg) {
        return expand_text(e, arg, strlen(arg));
}

static int builtin_output(Expander *e, const char *name, const char *arg) {
        if (streq(name, "error"))
                return expand_fail(e, strdup(arg));
        /* rpm logs these; a scriptlet's log is its standard error. */
        fflush(stdout);
        fprintf(stderr, "%s%s\n", streq(name, "warn") ? "warning: " : "", arg);
        return 0;
}

static int builtin_undefine(Expander *e, const char *name, const char *arg) {
        macro_pop(e->table, arg);
        return 0;
}

static int builtin_macrobody(Expander *e, const char *name, const char *arg) {
        const char *body = macro_body(e->table, arg, strlen(arg));
        if (!body)
                return expand_fail(e, strprintf("no such macro: '%s'", arg));
        return strbuf_puts(&e->out, body);
}

static int builtin_verbose(Expander *e, const char *name, const char *arg) {
        /* Scriptlets run as rpm does without --verbose. */
        return arg ? 0 : strbuf_putc(&e->out, '0');
}

static int builtin_getconfdir(Expander *e, const char *name, const char *arg) {
        return strbuf_puts(&e->out, "/usr/lib/rpm");
}

static int builtin_getncpus(Expander *e, const char *name, const char *arg) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return strbuf_printf(&e->out, "%ld", n > 0 ? n : 1);
}

static const Builtin builtins[] = {
        { "P", NULL, true },
        { "S", NULL, true },
        { "basename", builtin_path, true },
        { "define", NULL, true },
        { "dirname", builtin_path, true },
        { "dnl", NULL, true },
        { "dump", NULL, false },
        { "echo", builtin_output, true },
        { "error", builtin_output, true },
        { "exists", builtin_exists, true },
        { "expand", builtin_expand, true },
        { "expr", NULL, true },
        { "getconfdir", builtin_getconfdir, false },
        { "getenv", builtin_getenv, true },
        { "getncpus", builtin_getncpus, false },
        { "global", NULL, true },
        { "load", NULL, true },
        { "lua", NULL, true },
        { "macrobody", builtin_macrobody, true },
        { "quote", builtin_quote, true },
        { "rpmversion", NULL, false },
        { "shescape", builtin_shescape, true },
        { "shrink", builtin_shrink, true },
        { "suffix", builtin_path, true },
        { "trace", NULL, false },
        { "u2p", builtin_url2path, true },
        { "uncompress", NULL, true },
        { "undefine", builtin_undefine, true },
        { "url2path", builtin_url2path, true },
        { "verbose", builtin_verbose, false },
        { "warn", builtin_output, true },
};

static const Builtin *builtin_find(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(builtins); i++)
                if (strlen(builtins[i].name) == len && memcmp(builtins[i].name, name, len) == 0)
                        return &builtins[i];
        return NULL;
}

static int expand_builtin(Expander *e, const Builtin *b, const char *arg, size_t arg_len, bool has_arg) {
        if (!b->fn)
                return expand_fail(e, strprintf("%%%s is not supported by slipway", b->name));
        /* %verbose takes an argument or none; the others one or none as rpm says. */
        if (has_arg && !b->takes_arg && !streq(b->name, "verbose"))
                return expand_fail(e, strprintf("%%%s: unexpected argument", b->name));
        if (!has_arg && b->takes_arg)
                return expand_fail(e, strprintf("%%%s: argument expected", b->name));
        _cleanup_free_ char *expanded = NULL;
        if (has_arg && expand_to_string(e, arg, arg_len, &expanded) < 0)
                return -EINVAL;
        int r = b->fn(e, b->name, expanded);
        if (r == -ENOMEM)
                return expand_fail(e, NULL);
        return r;
}

static int expand_macro(Expander *e, const char *name, size_t len) {
        /* The body is copied: expanding it may undefine the macro. */
        _cleanup_free_ char *body = strdup(macro_body(e->table, name, len));
        if (!body)
                return expand_fail(e, NULL);
        if (e->depth >= MACRO_DEPTH_MAX)
                return expand_fail(e, strprintf("too many levels of recursion in macro expansion "
                                                "(%%%.*s is likely defined through itself)",
                                                (int) len, name));
        e->depth++;
        int r = expand_text(e, body, strlen(body));
        e->depth--;
        return r;
}

/* The end of a bracketed %{...}, %(...), %[...] starting at s (the opening
 * character): one past the closing one, nested pairs and backslash escapes
 * skipped as rpm's matchchar() does. NULL: unterminated. */
static const char *bracket_end(const char *s, const char *end, char open, char close) {
        int level = 0;
        for (const char *p = s; p < end; p++) {
                if (*p == '\\') {
                        p++;
                        continue;
                }
                if (*p == open)
                        level++;
                else if (*p == close && --level == 0)
                        return p + 1;
        }
        return NULL;
}

static bool name_char(char c) {
        return isalnum((unsigned char) c) || c == '_';
}

/* One macro reference: s is just past the '%'. Returns where scanning
 * goes on, or NULL with e->error set. */
static const char *expand_one(Expander *e, const char *s, const char *end) {
        const char *name, *name_end, *arg = NULL, *arg_end = NULL, *next;
        bool negate = false, check = false;

        if (*s == '(' || *s == '[') {
                if (!bracket_end(s, end, *s, *s == '(' ? ')' : ']'))
                        return expand_fail_at(e, strprintf("unterminated %%%c", *s));
                return expand_fail_at(e, strdup(*s == '(' ? "%(...) (shell expansion) is not supported by slipway"
                                                          : "%[...] (expression expansion) is not supported by slipway"));
        }

        if (*s == '{') {
                next = bracket_end(s, end, '{', '}');
                if (!next)
                        return expand_fail_at(e, strprintf("unterminated %%{: %.*s", (int) (end - s), s));
                const char *inner_end = next - 1;
                name = s + 1;
                for (; name < inner_end && (*name == '?' || *name == '!'); name++)
                        if (*name == '!')
                                negate = !negate;
                        else
                                check = true;
                for (name_end = name; name_end < inner_end && !strchr(" :", *name_end); name_end++)
                        ;
                if (name_end < inner_end) {
                        arg = name_end + 1;
                        arg_end = inner_end;
                }
        } else {
                name = s;
                for (; name < end && (*name == '?' || *name == '!'); name++)
                        if (*name == '!')
                                negate = !negate;
                        else
                                check = true;
                name_end = name;
                if (name_end < end && *name_end == '-') /* %-f: a parametric macro's option */
                        name_end++;
                while (name_end < end && name_char(*name_end))
                        name_end++;
                next = name_end;
        }

        size_t len = (size_t) (name_end - name);
        if (len == 0) {
                /* A % followed by nothing that names a macro stays. */
                strbuf_putc(&e->out, '%');
                return s;
        }
        const Builtin *b = builtin_find(name, len);
        bool user = macro_body(e->table, name, len);
        bool defined = user || b;

        if (check || *name == '-') {
                if (defined == negate)
                        return next;
                if (arg && arg < arg_end)
                        return expand_text(e, arg, (size_t) (arg_end - arg)) < 0 ? NULL : next;
                if (user)
                        return expand_macro(e, name, len) < 0 ? NULL : next;
                if (b)
                        return expand_builtin(e, b, NULL, 0, false) < 0 ? NULL : next;
                return next;
        }
        if (!defined) {
                /* Left as it is; what follows the % is scanned as text. */
                strbuf_putc(&e->out, '%');
                return s;
        }
        if (user) /* an argument to a macro without options is ignored, as by rpm */
                return expand_macro(e, name, len) < 0 ? NULL : next;

        if (!arg && *s != '{' && next < end && (*next == ' ' || *next == '\t') && b->takes_arg) {
                /* "%basename /a/b": the argument runs to the end of the line. */
                arg = next + 1;
                arg_end = memchr(arg, '\n', (size_t) (end - arg)) ?: end;
                next = arg_end;
        }
        if (expand_builtin(e, b, arg, arg ? (size_t) (arg_end - arg) : 0, arg) < 0)
                return NULL;
        return next;
}

static int expand_text(Expander *e, const char *s, size_t len) {
        const char *end = s + len;
        while (s < end) {
                const char *pct = memchr(s, '%', (size_t) (end - s));
                if (!pct)
                        return strbuf_put(&e->out, s, (size_t) (end - s)) < 0 ? expand_fail(e, NULL) : 0;
                strbuf_put(&e->out, s, (size_t) (pct - s));
                s = pct + 1;
                if (s == end) {
                        strbuf_putc(&e->out, '%');
                        break;
                }
                if (*s == '%') {
                        strbuf_putc(&e->out, '%');
                        s++;
                        continue;
                }
                s = expand_one(e, s, end);
                if (!s)
                        return -EINVAL;
        }
        return e->out.oom ? expand_fail(e, NULL) : 0;
}

/* rpm.define's "NAME BODY": the name, then blanks, then the body: within
 * {...}, or to the end of the line (further while a %{ or %( is open), a
 * backslash taking the next character as it is, trailing white space
 * dropped. */
static int macro_define(MacroTable *t, const char *def, char **ret_error) {
        const char *s = def;
        while (*s == ' ' || *s == '\t')
                s++;
        const char *name = s;
        while (name_char(*s))
                s++;
        size_t len = (size_t) (s - name);
        if (len == 0 || !(isalpha((unsigned char) *name) || (*name == '_' && len > 1))) {
                *ret_error = strprintf("macro %%%.*s has an illegal name", (int) len, name);
                return -EINVAL;
        }
        if (builtin_find(name, len)) {
                *ret_error = strprintf("macro %%%.*s is a built-in", (int) len, name);
                return -EINVAL;
        }
        if (*s == '(') {
                *ret_error = strprintf("macro %%%.*s has options: parametric macros are not supported by slipway",
                                       (int) len, name);
                return -EOPNOTSUPP;
        }
        while (*s == ' ' || *s == '\t')
                s++;
        _cleanup_strbuf_ StrBuf body = STRBUF_INIT;
        if (*s == '{') {
                const char *end = bracket_end(s, s + strlen(s), '{', '}');
                if (!end) {
                        *ret_error = strprintf("macro %%%.*s has an unterminated body", (int) len, name);
                        return -EINVAL;
                }
                strbuf_put(&body, s + 1, (size_t) (end - 1 - (s + 1)));
        } else {
                int open = 0;
                for (; *s && (open > 0 || *s != '\n'); s++) {
                        if (*s == '\\' && s[1])
                                s++;
                        else if (*s == '%' && (s[1] == '{' || s[1] == '(')) {
                                open++;
                                strbuf_putc(&body, *s++);
                        } else if ((*s == '}' || *s == ')') && open > 0)
                                open--;
                        strbuf_putc(&body, *s);
                }
                while (body.len > 0 && isspace((unsigned char) body.buf[body.len - 1]))
                        body.buf[--body.len] = 0;
        }
        if (body.oom) {
                *ret_error = strdup("out of memory");
                return -ENOMEM;
        }
        if (body.len == 0) {
                *ret_error = strprintf("macro %%%.*s has an empty body", (int) len, name);
                return -EINVAL;
        }
        if (macro_push(t, name, len, body.buf, body.len) < 0) {
                *ret_error = strdup("out of memory");
                return -ENOMEM;
        }
        return 0;
}

/* The standard macros of rpm 4.18 as Fedora's rpm and systemd-rpm-macros set
 * them, for an image of architecture arch. Bodies refer to each other, so
 * rpm.define("_prefix /opt") moves %{_bindir} too, as it does in rpm. */
static void macro_table_init(MacroTable *t, const char *arch) {
        static const char *const lib64[] = {
                "x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "sparc64", "riscv64", "mips64", "mips64el",
                "mips64r6", "mips64r6el", "loongarch64", "alpha", "ia64",
        };
        bool is64 = false;
        for (size_t i = 0; i < ELEMENTSOF(lib64); i++)
                is64 = is64 || streq(arch, lib64[i]);
        /* rpm's %_arch folds the 32-bit x86 and ARM variants. */
        const char *base = arch;
        if (strlen(arch) == 4 && arch[0] == 'i' && arch[2] == '8' && arch[3] == '6')
                base = "i386";
        else if (strncmp(arch, "armv", 4) == 0)
                base = "arm";

        const struct {
                const char *name, *body;
        } defs[] = {
                { "_arch", base },
                { "_target_cpu", arch },
                { "_host_cpu", arch },
                { "_build_cpu", arch },
                { "_os", "linux" },
                { "_target_os", "linux" },
                { "_host_os", "linux" },
                { "_lib", is64 ? "lib64" : "lib" },
                { "_usr", "/usr" },
                { "_var", "/var" },
                { "_prefix", "/usr" },
                { "_exec_prefix", "%{_prefix}" },
                { "_bindir", "%{_exec_prefix}/bin" },
                { "_sbindir", "%{_exec_prefix}/sbin" },
                { "_libexecdir", "%{_exec_prefix}/libexec" },
                { "_libdir", "%{_exec_prefix}/%{_lib}" },
                { "_datarootdir", "%{_prefix}/share" },
                { "_datadir", "%{_datarootdir}" },
                { "_sysconfdir", "/etc" },
                { "_localstatedir", "/var" },
                { "_sharedstatedir", "/var/lib" },
                { "_includedir", "%{_prefix}/include" },
                { "_oldincludedir", "/usr/include" },
                { "_infodir", "%{_datadir}/info" },
                { "_mandir", "%{_datadir}/man" },
                { "_docdir", "%{_datadir}/doc" },
                { "_defaultdocdir", "%{_datadir}/doc" },
                { "_licensedir", "%{_datadir}/licenses" },
                { "_initddir", "%{_sysconfdir}/rc.d/init.d" },
                { "_rundir", "/run" },
                { "_tmppath", "%{_var}/tmp" },
                { "_usrsrc", "%{_usr}/src" },
                { "_dbpath", "%{_usr}/lib/sysimage/rpm" },
                { "_rpmconfigdir", "/usr/lib/rpm" },
                { "_rpmluadir", "%{_rpmconfigdir}/lua" },
                { "_unitdir", "%{_prefix}/lib/systemd/system" },
                { "_userunitdir", "%{_prefix}/lib/systemd/user" },
                { "_presetdir", "%{_prefix}/lib/systemd/system-preset" },
                { "_udevrulesdir", "%{_prefix}/lib/udev/rules.d" },
                { "_tmpfilesdir", "%{_prefix}/lib/tmpfiles.d" },
                { "_sysusersdir", "%{_prefix}/lib/sysusers.d" },
                { "_sysctldir", "%{_prefix}/lib/sysctl.d" },
                { "_binfmtdir", "%{_prefix}/lib/binfmt.d" },
                { "_modulesloaddir", "%{_prefix}/lib/modules-load.d" },
        };
        for (size_t i = 0; i < ELEMENTSOF(defs); i++)
                (void) macro_push(t, defs[i].name, strlen(defs[i].name), defs[i].body, strlen(defs[i].body));
}

static int macro_table_gc(lua_State *L) {
        macro_table_release(lua_touserdata(L, 1));
        return 0;
}

static MacroTable *macro_table_get(lua_State *L) {
        lua_getfield(L, LUA_REGISTRYINDEX, MACRO_TABLE_KEY);
        MacroTable *t = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return t;
}

/* Expands s and pushes the result; raises a Lua error when it fails. */
static int push_expanded(lua_State *L, const char *s) {
        Expander e = { .table = macro_table_get(L) };
        if (expand_text(&e, s, strlen(s)) < 0) {
                strbuf_release(&e.out);
                luaL_where(L, 1);
                lua_pushfstring(L, "error expanding macro: %s", e.error ?: "out of memory");
                free(e.error);
                lua_concat(L, 2);
                return lua_error(L);
        }
        char *out = strbuf_detach(&e.out, NULL);
        if (!out)
                return luaL_error(L, "error expanding macro: out of memory");
        lua_pushstring(L, out);
        free(out);
        return 1;
}

static int l_expand(lua_State *L) {
        return push_expanded(L, luaL_checkstring(L, 1));
}

static int define(lua_State *L, const char *def) {
        char *error = NULL;
        if (macro_define(macro_table_get(L), def, &error) < 0) {
                luaL_where(L, 1);
                lua_pushfstring(L, "error defining macro: %s", error ?: "out of memory");
                free(error);
                lua_concat(L, 2);
                return lua_error(L);
        }
        return 0;
}

static int l_define(lua_State *L) {
        return define(L, luaL_checkstring(L, 1));
}

static int l_undefine(lua_State *L) {
        macro_pop(macro_table_get(L), luaL_checkstring(L, 1));
        return 0;
}

static int l_isdefined(lua_State *L) {
        size_t len;
        const char *name = luaL_checklstring(L, 1, &len);
        const Builtin *b = builtin_find(name, len);
        /* Defined, and parametric: of ours, only built-ins that take an argument. */
        lua_pushboolean(L, b || macro_body(macro_table_get(L), name, len));
        lua_pushboolean(L, b && b->takes_arg);
        return 2;
}

/* macros.NAME(arg) for a built-in that takes an argument: a string or a
 * table of words. */
static int macros_call(lua_State *L) {
        const char *name = lua_tostring(L, lua_upvalueindex(1));
        if (lua_gettop(L) > 1)
                return luaL_error(L, "too many arguments");
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "%{");
        luaL_addstring(&b, name);
        luaL_addchar(&b, ':');
        if (lua_type(L, 1) == LUA_TTABLE) {
                lua_Integer n = (lua_Integer) lua_rawlen(L, 1);
                for (lua_Integer i = 1; i <= n; i++) {
                        lua_rawgeti(L, 1, i);
                        const char *w = lua_tostring(L, -1);
                        if (!w)
                                return luaL_argerror(L, (int) i, "cannot convert to string");
                        lua_pop(L, 1);
                        if (i > 1)
                                luaL_addchar(&b, ' ');
                        luaL_addstring(&b, w);
                }
        } else if (lua_isstring(L, 1))
                luaL_addstring(&b, lua_tostring(L, 1));
        else
                return luaL_argerror(L, 1, "string or table expected");
        luaL_addchar(&b, '}');
        luaL_pushresult(&b);
        return push_expanded(L, lua_tostring(L, -1));
}

static int macros_index(lua_State *L) {
        size_t len;
        const char *name = luaL_checklstring(L, 2, &len);
        const Builtin *b = builtin_find(name, len);
        if (b && b->takes_arg) {
                lua_pushvalue(L, 2);
                lua_pushcclosure(L, macros_call, 1);
                return 1;
        }
        if (!b && !macro_body(macro_table_get(L), name, len))
                return 0;
        lua_pushfstring(L, "%%{%s}", name);
        return push_expanded(L, lua_tostring(L, -1));
}

static int macros_newindex(lua_State *L) {
        const char *name = luaL_checkstring(L, 2);
        if (lua_isnil(L, 3)) {
                macro_pop(macro_table_get(L), name);
                return 0;
        }
        lua_pushfstring(L, "%s %s", name, luaL_checkstring(L, 3));
        return define(L, lua_tostring(L, -1));
}

void script_lua_open_macros(lua_State *L, const char *arch) {
        MacroTable *t = lua_newuserdatauv(L, sizeof(MacroTable), 0);
        *t = (MacroTable) {};
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, macro_table_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, MACRO_TABLE_KEY);
        macro_table_init(t, arch);

        static const luaL_Reg functions[] = {
                { "expand", l_expand },
                { "define", l_define },
                { "undefine", l_undefine },
                { "isdefined", l_isdefined },
                {},
        };
        luaL_setfuncs(L, functions, 0);

        /* rpm's global "macros": macros.NAME expands %{NAME} (nil when it is
         * not defined), macros.NAME = v defines it, = nil undefines it. */
        lua_newtable(L);
        lua_createtable(L, 0, 2);
        lua_pushcfunction(L, macros_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, macros_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_setmetatable(L, -2);
        lua_setglobal(L, "macros");
}
