/* SPDX-License-Identifier: MIT */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Reads a whole file ("-" reads standard input). *ret_data is NUL-terminated
 * (the terminator is not counted in *ret_size) and owned by the caller.
 * Returns -errno. Files over 256 MiB are refused with -EFBIG. */
int read_full_file(const char *path, char **ret_data, size_t *ret_size);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync'd, renamed over path. A failure leaves path as it was and no
 * temporary file behind. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Writes all n bytes, retrying short writes and EINTR. */
int loop_write(int fd, const void *data, size_t n);

/* Writes n pieces in order, in as few writev() calls as IOV_MAX allows,
 * retrying short writes and EINTR. The array is not modified. */
int loop_writev(int fd, const struct iovec *iov, size_t n);
/* All n bytes at offset (pwrite(2) retried until done). */
int pwrite_all(int fd, const void *buf, size_t n, uint64_t offset);

/* write_file_atomic() of n pieces; sync=false skips the fsync (for caches,
 * whose readers check what they load). */
int write_file_atomic_iov(const char *path, const struct iovec *iov, size_t n, mode_t mode, bool sync);

/* Maps a regular file read-only. An empty file gives *ret NULL and size 0.
 * Release with munmap(*ret, *ret_size). */
int map_file(const char *path, void **ret, size_t *ret_size);

/* A temporary file beside path, for write-then-rename: returns its fd and
 * name (*ret_tmp, malloc'd). tmpfile_commit() sets mode, fsyncs and renames
 * it over path, or removes it if r (the result so far) is a failure; it
 * returns the final result. */
int tmpfile_open(const char *path, char **ret_tmp);
int tmpfile_commit(int r, int fd, const char *tmp, const char *path, mode_t mode);
/* The same without the fsync, for large outputs (see docs/images.md). */
int tmpfile_commit_unsynced(int r, int fd, const char *tmp, const char *path, mode_t mode);

/* A new empty directory beside path, named path.SUFFIX.XXXXXX (mkdtemp), for
 * building a directory to rename into place; *ret is malloc'd. */
int tmpdir_beside(const char *path, const char *suffix, char **ret);

/* A private file without a name in dir (O_TMPFILE, or a named one unlinked at
 * once where the file system has no O_TMPFILE), for data too large for
 * memory; it goes away when its fd is closed. Returns the fd, or -errno. */
int tmpfile_anonymous(const char *dir);
/* Copies the directories, regular files and symbolic links below src into
 * dst, an existing directory, with their modes and times (not their
 * owners: the copies are the caller's). Other file types are left out. */
int copy_tree(const char *src, const char *dst);

/* mkdir -p; existing directories are fine. */
int mkdir_parents(const char *path, mode_t mode);

/* Joins two path parts with one '/'; an absolute b is returned as is. NULL
 * when out of memory. */
char *path_join(const char *a, const char *b);

/* The directory part of path ("." if there is none); NULL on OOM. */
char *path_dirname(const char *path);

/* True if the path names an existing file or directory. */
bool path_exists(const char *path);

/* Removes path and everything below it; a missing path is fine. */
int rm_rf(const char *path);
/* The same for name in the directory dfd, through directory fds opened with
 * O_NOFOLLOW: a symbolic link is removed, never followed, also when a name
 * below is swapped for one while it runs. */
int rm_rf_at(int dfd, const char *name);

/* Moves src to dst, replacing dst atomically; across file systems the data is
 * copied to a temporary file beside dst first. */
int move_file(const char *src, const char *dst);

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
