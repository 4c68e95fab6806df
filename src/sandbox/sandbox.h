/* SPDX-License-Identifier: MIT */
#pragma once

/* The sandbox: the one place where code from packages runs (image
 * scriptlets; later rpmbuild in clean buildroots, customization scripts).
 *
 * A sandbox is a directory of the host (the root, usually a staging
 * directory of the run, run.h) seen as "/" by processes in a new user
 * namespace (the caller mapped to uid and gid 0, nothing else mapped), and
 * new mount, PID, network, IPC and UTS namespaces: /proc of the sandbox's own
 * PID namespace, a minimal /dev (null, zero, full, random, urandom, tty, the
 * fd/stdin/stdout/stderr links, an empty /dev/shm and /dev/pts), only a
 * loopback network that is down, and nothing of the host's file system
 * (pivot_root, the old root detached). The same as root and as any other
 * user: root gets no more than the one id either (so outputs do not depend
 * on who runs slipway).
 *
 * The root gets directories /proc (mode 0555) and /dev (0755) if it has
 * none, as mount points; they stay there after sandbox_stop() (what to do
 * with them is the caller's business). /proc or /dev that is not a
 * directory (a symbolic link) is refused.
 *
 * sandbox_start() makes the namespaces and mounts once and leaves one
 * process in them (the sandbox's init, PID 1 of its namespace); every
 * sandbox_run() is a child of that init, so a run costs a fork and an exec,
 * not a new set of namespaces. After each run, init kills whatever the run
 * left behind (daemons a scriptlet started) before the next one starts.
 *
 * With record set, what an unprivileged sandbox cannot do for real is
 * recorded instead of failing (record.h): chown to any ids, mknod of
 * character and block devices, security.* xattrs. The calls succeed inside,
 * and sandbox_recorder() tells afterwards what owners, devices and xattrs
 * the files were given. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"
#include "basic/process.h"

typedef struct Recorder Recorder;
typedef struct Sandbox Sandbox;

/* Code of slipway's own run inside the sandbox instead of a program (the
 * Lua interpreter for Lua scriptlets): called in a child of the sandbox's
 * init, inside the root, with standard input, output and error set up as for
 * a program, and the seccomp filter in place. Its return value is the exit
 * status. The function runs in a forked process: it may do anything a
 * program may (and should _exit nothing itself). stdin, stdout and stderr
 * are new streams on descriptors 0, 1 and 2 (stdout is flushed when the
 * function returns), and environ is envp. */
typedef struct SandboxFunction {
        const char *name;
        int (*fn)(int argc, char **argv, char **envp);
} SandboxFunction;

typedef struct SandboxOptions {
        const char *root;       /* host directory that becomes "/"; the caller's own */
        const char *arch;       /* rpm's name of the root's architecture ("x86_64", "aarch64"); NULL or
                                 * "noarch": the host's. Another one needs a binfmt_misc handler. */
        const char *hostname;   /* UTS node name; NULL: "localhost" */
        /* Host directories bound into the root (target relative to the root,
         * an existing directory there): for buildroots (issue 14). */
        const ProcessBind *binds;
        size_t n_binds;
        const SandboxFunction *functions;
        size_t n_functions;
        bool record;            /* record chown, mknod and security.* xattrs (see above) */
        /* The root is mounted read-only inside (its /proc, /dev and the binds
         * stay as they are): a cached buildroot that many builds share. */
        bool read_only_root;
} SandboxOptions;

/* Starts the sandbox. On failure *ret_error (malloc'd) says why in a
 * sentence a user can act on, e.g. that the kernel refuses unprivileged user
 * namespaces and which sysctl says so, or that no binfmt_misc handler runs
 * aarch64 programs on this x86_64 machine:
 * -EPERM: namespaces refused; -ENOEXEC: architecture; -ENOENT: no root;
 * -ENOMEM, -errno. The sandbox dies with the thread that started it (its
 * parent-death signal is per thread): start it in one that outlives it. */
int sandbox_start(const SandboxOptions *o, Sandbox **ret, char **ret_error);
/* Kills everything in the sandbox and waits for it; the recorder's findings
 * go with it. NULL is fine. */
Sandbox *sandbox_stop(Sandbox *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sandbox *, sandbox_stop);

typedef struct SandboxCommand {
        /* With function NULL: the program argv[0], a path inside the root
         * (not looked up in PATH), with argv. With function: the
         * SandboxFunction of that name, called with argv. */
        char *const *argv;
        const char *function;
        char *const *envp;      /* the whole environment */
        const char *cwd;        /* inside; NULL: "/" */
        const void *input;      /* standard input; NULL: empty (/dev/null) */
        size_t input_size;
        /* A script for the program to read, as rpm gives a scriptlet's body
         * to its interpreter: the command gets it open on descriptor 3, so
         * argv can name it "/dev/fd/3"; nothing is written into the root.
         * NULL: descriptor 3 is not open. */
        const void *script;
        size_t script_size;
        unsigned timeout_sec;   /* 0: none; at the limit the run and all it started are killed */
        size_t output_max;      /* bytes of output kept; more is read and dropped. 0: 1 MiB */
        /* > 2: all of the output is also written there as it comes (a build
         * log), whatever output_max keeps. 0: not. */
        int log_fd;
} SandboxCommand;

typedef struct SandboxResult {
        int status;             /* exit status, or 128 + the signal that killed it */
        bool timed_out;         /* killed at timeout_sec (status is then 128 + SIGKILL) */
        char *output;           /* stdout and stderr as they came, NUL-terminated (malloc'd) */
        size_t output_size;
        bool output_truncated;  /* more than output_max came */
} SandboxResult;

void sandbox_result_release(SandboxResult *r);

/* Runs one command and waits for it (and for init to kill what it left).
 * Returns 0 whatever the command's status (see *ret); < 0 when it could not
 * be run at all (the program does not exist or is not executable inside:
 * -ENOENT/-EACCES/-ENOEXEC with *ret_error saying so; the sandbox died:
 * -ECHILD). Not thread-safe for one sandbox. */
int sandbox_run(Sandbox *s, const SandboxCommand *c, SandboxResult *ret, char **ret_error);

/* What the runs so far recorded (NULL without record). Valid until
 * sandbox_stop(). */
const Recorder *sandbox_recorder(const Sandbox *s);
