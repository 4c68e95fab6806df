/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of the Lua scriptlet interpreter share (lua.h is the
 * interface): lua.c runs a scriptlet and makes the rpm table,
 * lua-posix.c the posix table, lua-macro.c rpm's macros. */

#include <stdbool.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* True in a process that posix.fork() made: rpm 4.18 lets only those
 * exec, exit and redirect their descriptors (a scriptlet runs in rpm's own
 * process there, and so, for the script, in ours). */
extern bool script_lua_forked;

/* Pushes the posix table (luaL_requiref's open function). */
int script_lua_open_posix(lua_State *L);

/* posix.redirect2null(fd), also rpm.redirect2null. */
int script_lua_redirect2null(lua_State *L);

/* Sets up the macro table of architecture arch (rpm's name, "x86_64") and
 * adds expand, define, undefine and isdefined to the table on top of the
 * stack (rpm's), and the global table "macros". */
void script_lua_open_macros(lua_State *L, const char *arch);

/* The arguments of the running function, from the first, as the
 * NULL-terminated argv of a program: pushed as a userdata that holds it
 * while the strings stay on the stack. */
char **script_lua_argv(lua_State *L);

/* Pushes nil, "INFO: strerror(errno)" (or just the strerror without info)
 * and errno: how rpm's Lua functions report a failed call. */
int script_lua_push_errno(lua_State *L, const char *info);
