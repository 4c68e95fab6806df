/* SPDX-License-Identifier: MIT */
#pragma once

/* Recording what an unprivileged sandbox cannot do for real (sandbox.h),
 * through seccomp user notification (seccomp_unotify(2), libseccomp).
 *
 * The sandbox's init installs the filter on itself before it starts any
 * run, so every process in the sandbox carries it; the listener goes to
 * slipway's side, where the recorder answers each notification:
 * - chown, fchown, lchown, fchownat (and their 32-bit forms where the
 *   architecture has them): the file's owner is recorded, the call succeeds
 *   (the file keeps its real owner, the caller's id). -1 keeps that half of
 *   the recorded (or the real) owner, as chown(2) does.
 * - mknod, mknodat of a character or block device: an empty regular file
 *   with the mode's permission bits is made in its place (so later stat,
 *   chmod, rename and unlink work on it) and the device recorded; FIFOs and
 *   sockets are made for real (the call continues).
 * - setxattr, lsetxattr, fsetxattr, removexattr, lremovexattr,
 *   fremovexattr of a "security." name: recorded (set or removed), the call
 *   succeeds; other names continue for real.
 * Anything else the filter lets through unchanged.
 *
 * Files are identified by device and inode number in the sandbox's root,
 * never by path: tools write a temporary, chown it and rename it over the
 * old name (useradd's /etc/passwd+). The recorder holds an O_PATH
 * descriptor of every file it recorded something for, so that an inode
 * number cannot be reused by another file while the records live.
 * Paths are resolved as the calling process sees them (its root, its
 * working directory or the given descriptor; openat2 RESOLVE_IN_ROOT), so
 * nothing outside the root is ever touched or recorded. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/macro.h"

typedef struct RecordXattr {
        char *name;             /* "security.selinux", "security.capability", ... */
        uint8_t *value;
        size_t size;
        bool removed;           /* removed by the sandbox (the tree's value must go too) */
} RecordXattr;

typedef struct RecordEntry {
        dev_t dev;
        ino_t ino;
        bool has_owner;         /* chowned: uid and gid are what the image gets */
        uint32_t uid, gid;
        /* Which halves a chown set (not -1): a half never set is the file's
         * apparent owner here (0), and whoever knows the file's real owner
         * (the tree) should keep that instead. */
        bool uid_set, gid_set;
        bool is_device;         /* made by mknod: the node the image gets */
        uint32_t mode;          /* with is_device: S_IFCHR or S_IFBLK | permission bits as asked */
        uint32_t rdev_major, rdev_minor;
        RecordXattr *xattrs;    /* sorted by name */
        size_t n_xattrs;
} RecordEntry;

typedef struct Recorder Recorder;

/* In the sandbox's init (single-threaded, inside its root, before any run):
 * installs the filter (inherited by every process started afterwards) and
 * gives the listener descriptor. -errno; -ENOSYS: the kernel has no seccomp
 * user notification (5.0 or later needed). */
int record_install_filter(int *ret_listener);

/* root: the sandbox's root on the host (for the mknod placeholders and the
 * descriptors it keeps). */
int recorder_new(const char *root, Recorder **ret);
Recorder *recorder_free(Recorder *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Recorder *, recorder_free);

/* Receives and answers one notification from listener (call it when the
 * listener is readable). 0, also when the notification was for a process
 * that has gone; -errno when the listener failed (the sandbox is gone). A
 * call the recorder cannot resolve (a path that does not exist) is answered
 * with the errno the real call would give. */
int recorder_handle(Recorder *r, int listener);

/* The records of the file with this device and inode, or NULL. The entry's
 * dev/ino are those of the file now (renames keep them). */
const RecordEntry *recorder_find(const Recorder *r, dev_t dev, ino_t ino);
/* Every entry, in no particular order. */
size_t recorder_count(const Recorder *r);
const RecordEntry *recorder_entry(const Recorder *r, size_t i);
