/* SPDX-License-Identifier: MIT */
#pragma once

/* Running helper programs (rpmbuild, rpmspec) with a fixed environment. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A bind mount made in the child's own mount namespace. */
typedef struct ProcessBind {
        const char *source;  /* a path as the child sees it before this bind */
        const char *target;  /* an existing directory, likewise */
        bool read_only;
} ProcessBind;

typedef struct ProcessOptions {
        char *const *argv;  /* argv[0] is looked up in the PATH of envp */
        char *const *envp;  /* the whole environment of the child */
        const char *cwd;    /* NULL: unchanged; entered after the binds */
        int output_fd;      /* stdout and stderr go here; -1: captured (see process_run) */
        bool new_netns;     /* run in a new network namespace: no network at all */
        bool capture_stderr; /* with output_fd == -1: stderr is captured too, not dropped */
        /* With n_binds > 0: a new mount namespace, private (nothing propagates
         * back to the host), with these recursive bind mounts made in order. */
        const ProcessBind *binds;
        size_t n_binds;
} ProcessOptions;

/* Runs the program and waits for it. With output_fd == -1, stdout is captured
 * into *ret_output (malloc'd, NUL-terminated) and stderr goes to /dev/null
 * (or into the output too, with capture_stderr).
 * *ret_status is the exit status, or 128 + the signal that killed it.
 * Namespaces are made directly as root, otherwise inside a new user namespace
 * that maps our uid and gid to themselves.
 * Returns -errno when the program could not be started (-ENOENT: not found;
 * -EPERM: the kernel refused a namespace or one of the binds). */
int process_run(const ProcessOptions *o, char **ret_output, int *ret_status);

/* For children that make namespaces themselves (also the sandbox's): only
 * system calls, safe after fork() of a threaded process. */
/* In a process that has just made a new user namespace: maps uid and gid
 * (its own, read before) to 0 there, and denies setgroups. -errno. */
int process_map_ids(uid_t uid, gid_t gid);

/* Seconds on the monotonic clock, for durations. */
double monotonic_seconds(void);
/* In a process that has just unshared a PID namespace: forks the
 * namespace's first process and returns 0 in it (SIGTERM and SIGCHLD
 * blocked, as here), which dies with this process (PR_SET_PDEATHSIG, also
 * if this one died before it was set). Here it never returns: it closes
 * parent_fd (if >= 0: what only the namespace is to hold), waits, and exits
 * with the first process's status, or on SIGTERM (run.c's cleanup: register
 * this process with pidns) kills it, waits until the namespace is gone and
 * exits with 128 + SIGTERM. -errno if nothing was forked. */
int process_pidns_fork(int parent_fd);
/* The MS_NOSUID, MS_NODEV, MS_NOEXEC and atime flags of the mount path is
 * on, which a read-only remount of a bind must keep: inside a user
 * namespace the kernel refuses to clear them. */
unsigned long process_kept_mount_flags(const char *path);
