/* SPDX-License-Identifier: MIT */
#pragma once

/* Running helper programs (rpmbuild, rpmspec) with a fixed environment. */

#include <stdbool.h>
#include <stddef.h>

typedef struct ProcessOptions {
        char *const *argv;  /* argv[0] is looked up in the PATH of envp */
        char *const *envp;  /* the whole environment of the child */
        const char *cwd;    /* NULL: unchanged */
        int output_fd;      /* stdout and stderr go here; -1: captured (see process_run) */
        bool new_netns;     /* run in a new network namespace: no network at all */
        bool capture_stderr; /* with output_fd == -1: stderr is captured too, not dropped */
} ProcessOptions;

/* Runs the program and waits for it. With output_fd == -1, stdout is captured
 * into *ret_output (malloc'd, NUL-terminated) and stderr goes to /dev/null
 * (or into the output too, with capture_stderr).
 * *ret_status is the exit status, or 128 + the signal that killed it.
 * Returns -errno when the program could not be started (-ENOENT: not found;
 * -EPERM: no network namespace could be made). */
int process_run(const ProcessOptions *o, char **ret_output, int *ret_status);
