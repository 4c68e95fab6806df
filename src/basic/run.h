/* SPDX-License-Identifier: MIT */
#pragma once

/* One slipway run: its scratch space, its temporaries, its children, its
 * signals and its locks (docs/development.md, "Security model").
 *
 * Scratch space in a shared directory ($TMPDIR if absolute, else /tmp) is one
 * private directory per run, run_scratch_dir(): made by mkdtemp (mode 0700, a
 * name nobody can guess, never an existing path), holding a file "lock" that
 * the run holds flock()ed as long as it lives. Every scratch directory of the
 * run is made inside it (run_mkdtemp()). Nothing in a shared directory is
 * ever taken over by name.
 *
 * What a killed run left is removed by the next run that could tell it is
 * dead:
 * - in $TMPDIR: directories named slipway-run.XXXXXX owned by the user, not
 *   symbolic links, whose lock nobody holds (swept when a run makes its own
 *   and when it locks its first output directory);
 * - in an output directory (run_lock_output()): every run holds a shared lock
 *   on OUT/.slipway.lock; one that finds no other run there (an exclusive
 *   lock is granted) removes the temporary names slipway writes beside final
 *   paths (NAME.tmp.XXXXXX, NAME.disk.XXXXXX, .slipway-tmp-XXXXXX). A live
 *   run's temporaries are never removed: its lock keeps the sweep away.
 *
 * SIGINT, SIGTERM and SIGHUP (run_signals_setup(), called before any thread
 * starts): a thread waits for them, stops the run's children (processes of
 * process_run(); a namespaced build with everything in its PID namespace),
 * waits for outputs being put in place (run_critical_*), removes the run's
 * temporaries and scratch directory and exits with 128 + the signal. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Blocks the signals in the calling thread (threads made later inherit
 * that) and starts the thread that handles them; notify (may be NULL) is
 * called there, after the cleanup, before the exit, to say what happened. */
int run_signals_setup(void (*notify)(int sig));

/* On a signal, fn(userdata) runs first in the signal thread, before the
 * children are stopped (it may run processes: the Slurm engine cancels its
 * jobs there). NULL: nothing. One at a time: the last call wins. */
void run_on_signal(void (*fn)(void *userdata), void *userdata);

/* The run's private scratch directory, made on first use (and then what dead
 * runs left in $TMPDIR is removed). The string lives as long as the run. */
int run_scratch_dir(const char **ret);
/* A new directory PREFIX.XXXXXX (mode 0700) inside the scratch directory;
 * *ret is malloc'd. */
int run_mkdtemp(const char *prefix, char **ret);

/* The same for up to size bytes of many small files (a staged image): in
 * memory when $TMPDIR is not, in a second private directory of the run on
 * /dev/shm (a tmpfs; made, locked, swept and removed as the one in $TMPDIR),
 * when /dev/shm has room for size and a quarter more and 64 MiB to spare;
 * otherwise as run_mkdtemp(). Creating files on a disk costs far more
 * (hundreds of microseconds each on a virtual disk). */
int run_mkdtemp_memory(const char *prefix, uint64_t size, char **ret);

/* Removes the scratch directory and releases the locks: the run's end.
 * Once a signal has come it waits for the signal thread instead, which
 * ends the process. */
void run_finish(void);
/* Never returns once a signal has come (SIGINT, SIGTERM, SIGHUP): a thread
 * whose child was just killed by the cleanup calls it, so that it neither
 * reports that child's failure nor lets the run end with another status. */
void run_park_if_ending(void);

/* Temporaries beside final paths: removed on a signal if path is still the
 * file or directory it was when tracked. Tracked between run_create_begin()
 * and run_create_end(). */
int run_track(const char *path);
void run_untrack(const char *path);
/* Around making a temporary and tracking it: a signal's cleanup waits for
 * the ones in progress, so none is made and left between its look and the
 * exit. -ECANCELED (and nothing to end): the run is ending, make nothing. */
int run_create_begin(void);
void run_create_end(void);

/* Children of process_run(), under the lock that forks them: run_child_lock()
 * returns -ECANCELED once the run is ending (no new child then). A child
 * with pidns (a PID namespace init's parent, see process.c) is stopped with
 * SIGTERM and waited for; others get SIGKILL to their process group. */
int run_child_lock(void);
void run_child_unlock(void);
void run_child_add(pid_t pid, bool pidns); /* with the lock held */
void run_child_remove(pid_t pid);

/* Outputs being put in place: a signal's cleanup waits for the end of these. */
void run_critical_enter(void);
void run_critical_leave(void);

/* Creates dir (and parents) if needed and holds a shared lock on
 * dir/.slipway.lock for the rest of the run (once per directory). If no other
 * run holds it, first removes what killed runs left below dir; returns how
 * many entries were removed, or -errno. The first call also removes dead
 * runs' directories in $TMPDIR. */
int run_lock_output(const char *dir);

/* True for the names slipway gives temporaries beside final paths. */
bool run_is_temporary_name(const char *name);
