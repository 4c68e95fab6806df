/* SPDX-License-Identifier: MIT */
#pragma once

/* Lua scriptlets ("-p <lua>", %pretrans of Fedora's filesystem package and
 * many others) in an embedded Lua 5.4, with the rpm.* and posix.* functions
 * of rpm 4.18 that packages call (rpm's rpmio/lposix.c and rpmio/rpmlua.c).
 *
 * The interpreter runs inside the sandbox (sandbox.h) as a SandboxFunction
 * in a process of its own, so whatever a script does happens in the root of
 * the image, with the recorder watching. A function slipway does not
 * provide fails the script with "package NEVRA: %SCRIPTLET: Lua function
 * rpm.NAME is not provided by slipway" on standard error (exit status 1). */

#include "sandbox/sandbox.h"

/* The SandboxFunction that runs a Lua scriptlet: register it in
 * SandboxOptions.functions and run it with SandboxCommand.function =
 * lua_scriptlet_function.name and
 *   argv = { NEVRA, SCRIPTLET ("%pretrans"), BODY, ARG1, [ARG2], NULL }
 * where ARG1 and ARG2 are the scriptlet's $1 and $2 as decimal strings
 * (rpm's Lua "arg" table). Exit status 0 if the script ran to its end, 1 if
 * it raised an error (the message on standard error). */
extern const SandboxFunction lua_scriptlet_function;
