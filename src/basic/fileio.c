/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "run.h"
#include "strbuf.h"

#define READ_FULL_MAX (256u * 1024 * 1024)

int read_full_file(const char *path, char **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        int in;

        if (strcmp(path, "-") == 0)
                in = STDIN_FILENO;
        else {
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return negative_errno();
                struct stat st;
                if (fstat(fd, &st) < 0)
                        return negative_errno();
                if (S_ISDIR(st.st_mode))
                        return -EISDIR;
                /* A regular file's size is known: one allocation, not doublings. */
                if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t) st.st_size <= READ_FULL_MAX &&
                    strbuf_reserve(&sb, (size_t) st.st_size) < 0)
                        return -ENOMEM;
                in = fd;
        }

        for (;;) {
                char buf[65536];
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                if (sb.len + (size_t) n > READ_FULL_MAX)
                        return -EFBIG;
                if (strbuf_put(&sb, buf, (size_t) n) < 0)
                        return -ENOMEM;
        }

        size_t size;
        char *data = strbuf_detach(&sb, &size);
        if (!data)
                return -ENOMEM;
        *ret_data = data;
        *ret_size = size;
        return 0;
}

int loop_write(int fd, const void *data, size_t size) {
        const char *p = data;
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* Sets the mode, syncs if asked, renames tmp over path; on failure removes tmp. */
static int commit(int r, int fd, const char *tmp, const char *path, mode_t mode, bool sync) {
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r >= 0 && sync && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlink(tmp);
        run_untrack(tmp);
        return r;
}

int pwrite_all(int fd, const void *buf, size_t n, uint64_t offset) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t w = pwrite(fd, p, n, (off_t) offset);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (w == 0)
                        return -EIO;
                p += w;
                n -= (size_t) w;
                offset += (uint64_t) w;
        }
        return 0;
}

int loop_writev(int fd, const struct iovec *iov, size_t n) {
        struct iovec batch[64];
        size_t i = 0, skip = 0; /* iov[i] is written up to skip bytes */
        while (i < n) {
                size_t k = 0;
                for (size_t j = i; j < n && k < ELEMENTSOF(batch); j++) {
                        size_t off = j == i ? skip : 0;
                        if (iov[j].iov_len == off)
                                continue;
                        batch[k++] = (struct iovec) { (char *) iov[j].iov_base + off, iov[j].iov_len - off };
                }
                if (k == 0)
                        break;
                ssize_t w = writev(fd, batch, (int) k);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                /* Advance (i, skip) by w bytes. */
                size_t left = (size_t) w;
                while (i < n && left >= iov[i].iov_len - skip) {
                        left -= iov[i].iov_len - skip;
                        i++;
                        skip = 0;
                }
                skip += left;
        }
        return 0;
}

int write_file_atomic_iov(const char *path, const struct iovec *iov, size_t n, mode_t mode, bool sync) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        return commit(loop_writev(fd, iov, n), fd, tmp, path, mode, sync);
}

int map_file(const char *path, void **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_size == 0) {
                *ret = NULL;
                *ret_size = 0;
                return 0;
        }
        if ((uint64_t) st.st_size > SIZE_MAX)
                return -EFBIG;
        void *p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return negative_errno();
        *ret = p;
        *ret_size = (size_t) st.st_size;
        return 0;
}

int tmpfile_open(const char *path, char **ret_tmp) {
        char *tmp;
        if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
                return -ENOMEM;
        /* Removed on a signal if it is still there (run.h). */
        int r = run_create_begin();
        if (r < 0) {
                free(tmp);
                return r;
        }
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                run_create_end();
                free(tmp);
                return r;
        }
        (void) run_track(tmp); /* out of memory: only not removed on a signal */
        run_create_end();
        *ret_tmp = tmp;
        return fd;
}

int tmpdir_beside(const char *path, const char *suffix, char **ret) {
        char *d;
        if (asprintf(&d, "%s.%s.XXXXXX", path, suffix) < 0)
                return -ENOMEM;
        int r = run_create_begin();
        if (r < 0) {
                free(d);
                return r;
        }
        if (!mkdtemp(d)) {
                r = negative_errno();
                run_create_end();
                free(d);
                return r;
        }
        (void) run_track(d);
        run_create_end();
        *ret = d;
        return 0;
}

int tmpfile_commit(int r, int fd, const char *tmp, const char *path, mode_t mode) {
        return commit(r, fd, tmp, path, mode, true);
}

int tmpfile_commit_unsynced(int r, int fd, const char *tmp, const char *path, mode_t mode) {
        return commit(r, fd, tmp, path, mode, false);
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        return tmpfile_commit(loop_write(fd, data, size), fd, tmp, path, mode);
}

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

char *path_join(const char *a, const char *b) {
        if (b[0] == '/' || !a || !a[0] || strcmp(a, ".") == 0)
                return strdup(b);
        size_t la = strlen(a);
        char *r;
        if (asprintf(&r, "%s%s%s", a, a[la - 1] == '/' ? "" : "/", b) < 0)
                return NULL;
        return r;
}

char *path_dirname(const char *path) {
        const char *s = strrchr(path, '/');
        if (!s)
                return strdup(".");
        if (s == path)
                return strdup("/");
        return strndup_nul(path, (size_t) (s - path));
}

bool path_exists(const char *path) {
        return access(path, F_OK) == 0;
}

int rm_rf(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 ? negative_errno() : 0;
        return rm_rf_at(AT_FDCWD, path);
}

int rm_rf_at(int dfd, const char *name) {
        if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return negative_errno();
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* A directory of ours that we may not read or write (a staged
         * image's /root is 0550, its /proc 0555): its owner may change that. */
        if (fd < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        (void) fchmod(fd, 0700);
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        int r = 0;
        /* Entries are removed while the directory is read: read it again
         * until a pass removes nothing. */
        for (bool again = true; again && r >= 0;) {
                again = false;
                rewinddir(d);
                for (struct dirent *de; r >= 0 && (errno = 0, de = readdir(d));) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        r = rm_rf_at(dirfd(d), de->d_name);
                        again = true;
                }
        }
        closedir(d);
        if (r >= 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = negative_errno();
        return r;
}

int move_file(const char *src, const char *dst) {
        if (rename(src, dst) == 0)
                return 0;
        if (errno != EXDEV)
                return negative_errno();

        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *tmp = NULL;
        struct stat st;
        if (in < 0 || fstat(in, &st) < 0)
                return negative_errno();
        _cleanup_close_ int out = tmpfile_open(dst, &tmp);
        if (out < 0)
                return out;
        int r = 0;
        char buf[1 << 16];
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                if (n == 0)
                        break;
                r = loop_write(out, buf, (size_t) n);
                if (r < 0)
                        break;
        }
        r = tmpfile_commit(r, out, tmp, dst, st.st_mode & 07777);
        if (r < 0)
                return r;
        (void) unlink(src);
        return 0;
}

int tmpfile_anonymous(const char *dir) {
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0)
                return fd;
        if (errno != EOPNOTSUPP && errno != EISDIR)
                return -errno;
        _cleanup_free_ char *t = path_join(dir, ".slipway-tmp-XXXXXX");
        if (!t)
                return -ENOMEM;
        fd = mkostemp(t, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        (void) unlink(t);
        return fd;
}

/* Copies what is below the directory sfd into dfd (an existing directory). */
static int copy_tree_at(int sfd, int dfd, unsigned depth) {
        if (depth > 256)
                return -ELOOP;
        int dup_fd = dup(sfd);
        if (dup_fd < 0)
                return negative_errno();
        _cleanup_(closedirp) DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return negative_errno();
        }
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                const char *name = de->d_name;
                struct stat st;
                int r;
                if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                        continue;
                if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                struct timespec times[2] = { st.st_atim, st.st_mtim };
                if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(dfd, name, 0700) < 0)
                                return negative_errno();
                        _cleanup_close_ int s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_close_ int d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s2 < 0 || d2 < 0)
                                return negative_errno();
                        r = copy_tree_at(s2, d2, depth + 1);
                        if (r < 0)
                                return r;
                        if (fchmod(d2, st.st_mode & 07777) < 0 || futimens(d2, times) < 0)
                                return negative_errno();
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(sfd, name, target, sizeof target - 1);
                        if (n < 0)
                                return negative_errno();
                        target[n] = 0;
                        if (symlinkat(target, dfd, name) < 0 || utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
                                return negative_errno();
                } else if (S_ISREG(st.st_mode)) {
                        _cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                        _cleanup_close_ int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                                         0600);
                        if (in < 0 || out < 0)
                                return negative_errno();
                        for (off_t left = st.st_size; left > 0;) {
                                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t) MIN(left, (off_t) 1 << 30), 0);
                                if (n < 0 && errno == EINTR)
                                        continue;
                                if (n < 0)
                                        return negative_errno();
                                if (n == 0)
                                        return -EIO; /* it shrank while copied */
                                left -= n;
                        }
                        if (fchmod(out, st.st_mode & 07777) < 0 || futimens(out, times) < 0)
                                return negative_errno();
                }
                /* Sockets, FIFOs and devices are not sources. */
        }
        return errno ? negative_errno() : 0;
}

int copy_tree(const char *src, const char *dst) {
        _cleanup_close_ int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0 || dfd < 0)
                return negative_errno();
        return copy_tree_at(sfd, dfd, 0);
}
