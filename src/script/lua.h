/* SPDX-License-Identifier: MIT */
#pragma once

/* Lua scriptlets ("-p <lua>", %pretrans of Fedora's filesystem package and
 * many others) in an embedded Lua 5.4, with the rpm.* and posix.* functions
 * of rpm 4.18 that packages call (rpm's rpmio/lposix.c and rpmio/rpmlua.c).
 *
 * The interpreter runs inside the sandbox (sandbox.h) as a SandboxFunction
 * in a process of its own, so whatever a script does happens in the root of
 * the image, with the recorder watching. A function of rpm 4.18 that slipway
 * does not provide fails the script with "package NEVRA: %SCRIPTLET: Lua
 * function rpm.NAME is not provided by slipway" on standard error (exit
 * status 1); names rpm 4.18 does not have either are nil, as there, so that
 * "if rpm.spawn ~= nil" tests take their other way. */

#include "sandbox/sandbox.h"

/* The SandboxFunction that runs a Lua scriptlet: register it in
 * SandboxOptions.functions and run it with SandboxCommand.function =
 * lua_scriptlet_function.name and
 *   argv = { NEVRA, SCRIPTLET ("%pretrans"), BODY, ARG1, [ARG2], NULL }
 * where ARG1 and ARG2 are the scriptlet's $1 and $2 as decimal strings
 * (rpm's Lua "arg" table). Exit status 0 if the script ran to its end, 1 if
 * it raised an error (the message on standard error).
 *
 * The script runs in the command's working directory (rpm runs it in "/":
 * leave SandboxCommand.cwd NULL) with the command's environment. For file
 * triggers (a SCRIPTLET naming "filetrigger": %filetriggerin,
 * %transfiletriggerpostun, ...) rpm.next_file() returns the lines of
 * standard input one by one: give PlanScript.input as SandboxCommand.input.
 * What exists and what does not: docs/scriptlets-lua.md. */
extern const SandboxFunction lua_scriptlet_function;

/* Compiles body as rpmbuild checks a Lua scriptlet (rpmio/rpmlua.c
 * rpmluaCheckScript()), without running it. 0 if it compiles; -EINVAL if not,
 * with *ret_error (if given; malloc'd) Lua's message ("<lua>:2: ..."); -ENOMEM. */
int lua_script_check(const char *body, char **ret_error);
