/* SPDX-License-Identifier: MIT */

/* Recording chown, mknod and security.* xattrs of the sandbox (record.h).
 *
 * The filter. Built with libseccomp: default allow, SCMP_ACT_NOTIFY for the
 * calls of record.h on the native ABI and on those the same kernel runs
 * beside it (i386 and x32 on x86_64, arm on aarch64), so that a 32-bit
 * program gets no further than a native one; an ABI the filter does not
 * know kills the process. A name an ABI lacks (chown32 on x86_64) is
 * skipped by libseccomp. The filter is loaded by our own seccomp(2) call, not
 * seccomp_load(), to ask for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19;
 * libseccomp 2.5 cannot): once the recorder has received a call, only a
 * fatal signal interrupts it, so an emulated mknod is never restarted by a
 * signal handler into EEXIST. Older kernels get the filter without it. NNP
 * is set whatever the caller's capabilities.
 *
 * One notification. /proc/PID is opened first, then the notification id is
 * checked again: the pid was not reused, and what is opened through that
 * directory afterwards (mem, root, cwd, fd/N, status, the id maps) is that
 * process's or nothing (a dead process's entries cannot be opened). Strings
 * are read from /proc/PID/mem, bounded (PATH_MAX, XATTR_NAME_MAX,
 * XATTR_SIZE_MAX), page by page so that one ending before an unmapped page
 * reads. The answer: success for what was emulated, the errno the real call
 * would give when it cannot be resolved, or "continue" for what is not ours.
 *
 * Paths. An absolute path is opened with openat2() from the process's root
 * (/proc/PID/root) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, O_NOFOLLOW
 * where the call does not follow (lchown, AT_SYMLINK_NOFOLLOW, l*xattr): ".."
 * and absolute links stay inside. A relative path cannot start from the
 * working directory's (or dirfd's) descriptor with RESOLVE_IN_ROOT, which
 * would clamp ".." there; so the directory's path is read
 * (readlink /proc/PID/cwd or fd/N), the process's root path
 * (readlink /proc/PID/root) is taken off its front, that in-root path is
 * checked to open the very same directory (device and inode; a deleted
 * directory gives ENOENT as the kernel would) and the relative path is
 * joined to it and opened from the root as above. A descriptor target
 * (fchown, f*xattr, AT_EMPTY_PATH) is /proc/PID/fd/N opened O_PATH, checked
 * the same way through its path; an unlinked file (O_TMPFILE, or removed
 * since) has none and is taken when it is on the root's file system.
 *
 * What is ours. A file is recorded only when it is on the file system of the
 * sandbox's root (recorder_new), reached inside the process's root, and that
 * root is the sandbox's root or below it. Anything else (a descriptor the
 * process holds to a host file, a working directory outside its root, the
 * sandbox's /proc, /dev or a tmpfs, a magic link in the path: ELOOP) is
 * handed to the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE), which does there
 * what the process may with its own rights (usually EPERM or EINVAL for ids
 * its user namespace does not map), and is never recorded or made. The
 * recorder acts with slipway's rights, more than the process's when root
 * runs slipway: it records only for files whose owner and group the
 * process's user namespace maps (otherwise EPERM, what root in a user
 * namespace gets) and makes a placeholder only in a directory whose owner
 * and group are mapped or that everyone may write (otherwise EACCES).
 *
 * Owners. -1 keeps that half of the record, or without one the file's owner
 * as the process's user namespace shows it (0 for the caller's files).
 * chown(-1, -1) changes nothing and records nothing. Devices: the
 * placeholder gets mode & 07777 & ~umask (the process's, from
 * /proc/PID/status) like the node would, and so does the record; a later
 * chmod changes the placeholder, not the record. xattrs: the recorder does
 * not see the tree's values, so a removal of a name it has no record of is
 * recorded (removed) and succeeds, XATTR_REPLACE of one succeeds; what it
 * knows it answers for (XATTR_CREATE of a recorded name: EEXIST, removing a
 * removed one: ENODATA). getxattr is not intercepted: it reads the real file.
 *
 * Memory. A notification reads at most PATH_MAX + XATTR_NAME_MAX +
 * XATTR_SIZE_MAX bytes of the process. Entries live in one array, indexed by
 * an open-addressing hash of (dev, ino); each holds an O_PATH descriptor of
 * its file, so recorder_new() raises the soft RLIMIT_NOFILE to the hard one.
 * A pointer from recorder_find()/recorder_entry() stays valid until the next
 * recorder_handle().
 *
 * Not covered: setxattrat/removexattrat (Linux 6.13; libseccomp 2.5 does not
 * know them) and io_uring's xattr operations run for real, gaining nothing;
 * ids are recorded as the calling process gives them (a nested user
 * namespace's are not translated); a path longer than PATH_MAX once joined to
 * the working directory gives ENAMETOOLONG. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <poll.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "sandbox/record.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef XATTR_NAME_MAX
#define XATTR_NAME_MAX 255
#endif
#ifndef XATTR_SIZE_MAX
#define XATTR_SIZE_MAX 65536
#endif

/* Answer to a notification that is not ours: the kernel carries the call
 * out as the process asked (a positive value, never an errno). */
#define NOT_OURS 1
/* The process has gone (or its pid is another's now): no answer. */
#define GONE 2

typedef enum Syscall {
        SC_CHOWN,
        SC_LCHOWN,
        SC_FCHOWN,
        SC_CHOWN32,
        SC_LCHOWN32,
        SC_FCHOWN32,
        SC_FCHOWNAT,
        SC_MKNOD,
        SC_MKNODAT,
        SC_SETXATTR,
        SC_LSETXATTR,
        SC_FSETXATTR,
        SC_REMOVEXATTR,
        SC_LREMOVEXATTR,
        SC_FREMOVEXATTR,
        _SC_MAX,
} Syscall;

static const char *const syscall_names[_SC_MAX] = {
        [SC_CHOWN] = "chown",
        [SC_LCHOWN] = "lchown",
        [SC_FCHOWN] = "fchown",
        [SC_CHOWN32] = "chown32",
        [SC_LCHOWN32] = "lchown32",
        [SC_FCHOWN32] = "fchown32",
        [SC_FCHOWNAT] = "fchownat",
        [SC_MKNOD] = "mknod",
        [SC_MKNODAT] = "mknodat",
        [SC_SETXATTR] = "setxattr",
        [SC_LSETXATTR] = "lsetxattr",
        [SC_FSETXATTR] = "fsetxattr",
        [SC_REMOVEXATTR] = "removexattr",
        [SC_LREMOVEXATTR] = "lremovexattr",
        [SC_FREMOVEXATTR] = "fremovexattr",
};

/* The ABIs the same kernel runs beside the native one. */
static const uint32_t compat_arches[] = {
#if defined(__x86_64__)
        SCMP_ARCH_X86,
        SCMP_ARCH_X32,
#elif defined(__aarch64__)
        SCMP_ARCH_ARM,
#endif
};

/* One system call of one ABI, as a notification names it. */
typedef struct SyscallNr {
        uint32_t arch;          /* seccomp_data.arch: AUDIT_ARCH_* */
        int nr;
        Syscall sc;
        bool ptr32;             /* 32-bit pointers */
        bool ids16;             /* 16-bit uid_t (chown where chown32 exists) */
} SyscallNr;

typedef struct Entry {
        RecordEntry e;          /* first: recorder_entry() hands out &entries[i].e */
        int fd;                 /* O_PATH: the inode stays ours while recorded */
} Entry;

struct Recorder {
        int root_fd;            /* the sandbox's root on the host, O_PATH */
        dev_t root_dev;
        ino_t root_ino;
        int proc_fd;            /* /proc */
        Entry *entries;
        size_t n_entries, allocated_entries;
        size_t *slots;          /* index + 1 into entries, 0: free; a power of two */
        size_t n_slots;
        SyscallNr nrs[(1 + ELEMENTSOF(compat_arches)) * _SC_MAX];
        size_t n_nrs;
        struct seccomp_notif *req;
        struct seccomp_notif_resp *resp;
        size_t req_size, resp_size;
};

/* ---- the filter --------------------------------------------------------------- */

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

/* The filter as a BPF program (malloc'd instructions). */
static int filter_build(struct sock_fprog *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        /* A compat ABI libseccomp cannot add is left to the bad-arch action. */
        for (size_t i = 0; i < ELEMENTSOF(compat_arches); i++)
                (void) seccomp_arch_add(ctx, compat_arches[i]);
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return r;
        for (size_t i = 0; i < _SC_MAX; i++) {
                int nr = seccomp_syscall_resolve_name(syscall_names[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue;
                r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
                /* A name the native ABI lacks (a negative pseudo number) is
                 * added for the ABIs that have it; none may have it. */
                if (r < 0 && nr >= 0)
                        return r == -EOPNOTSUPP || r == -EINVAL ? -ENOSYS : r;
        }

        _cleanup_close_ int fd = memfd_create("seccomp-filter", MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
            st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return -E2BIG;
        _cleanup_free_ struct sock_filter *insns = malloc(st.st_size);
        if (!insns)
                return -ENOMEM;
        if (pread(fd, insns, st.st_size, 0) != st.st_size)
                return -EIO;
        *ret = (struct sock_fprog) {
                .len = (unsigned short) (st.st_size / sizeof(struct sock_filter)),
                .filter = TAKE_PTR(insns),
        };
        return 0;
}

int record_install_filter(int *ret_listener) {
        /* Level 5: SCMP_ACT_NOTIFY, as libseccomp finds the kernel. */
        if (seccomp_api_get() < 5)
                return -ENOSYS;
        struct sock_fprog prog;
        int r = filter_build(&prog);
        if (r < 0)
                return r;

        long fd = -1;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                r = negative_errno();
        else {
                fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                             SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
                if (fd < 0 && errno == EINVAL)
                        fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
                if (fd < 0)
                        r = errno == EINVAL ? -ENOSYS : negative_errno();
        }
        free(prog.filter);
        if (r < 0)
                return r;
        *ret_listener = (int) fd;
        return 0;
}

/* ---- the records -------------------------------------------------------------- */

static size_t key_hash(dev_t dev, ino_t ino) {
        uint64_t h = (uint64_t) ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t) dev * 0xc2b2ae3d27d4eb4fULL;
        h ^= h >> 31;
        h *= 0xbf58476d1ce4e5b9ULL;
        return (size_t) (h ^ (h >> 29));
}

static size_t *slot_of(const Recorder *r, dev_t dev, ino_t ino) {
        for (size_t i = key_hash(dev, ino) & (r->n_slots - 1);; i = (i + 1) & (r->n_slots - 1)) {
                size_t k = r->slots[i];
                if (k == 0)
                        return &r->slots[i];
                const RecordEntry *e = &r->entries[k - 1].e;
                if (e->dev == dev && e->ino == ino)
                        return &r->slots[i];
        }
}

static Entry *entry_find(Recorder *r, dev_t dev, ino_t ino) {
        if (r->n_slots == 0)
                return NULL;
        size_t k = *slot_of(r, dev, ino);
        return k ? &r->entries[k - 1] : NULL;
}

const RecordEntry *recorder_find(const Recorder *r, dev_t dev, ino_t ino) {
        const Entry *e = entry_find((Recorder *) r, dev, ino);
        return e ? &e->e : NULL;
}

size_t recorder_count(const Recorder *r) {
        return r->n_entries;
}

const RecordEntry *recorder_entry(const Recorder *r, size_t i) {
        return i < r->n_entries ? &r->entries[i].e : NULL;
}

/* Room for one more entry in the hash, kept at most half full. */
static int slots_reserve(Recorder *r) {
        if ((r->n_entries + 1) * 2 <= r->n_slots)
                return 0;
        size_t n = r->n_slots ? r->n_slots * 2 : 64;
        size_t *slots = new0(size_t, n);
        if (!slots)
                return -ENOMEM;
        free(r->slots);
        r->slots = slots;
        r->n_slots = n;
        for (size_t i = 0; i < r->n_entries; i++)
                *slot_of(r, r->entries[i].e.dev, r->entries[i].e.ino) = i + 1;
        return 0;
}

/* The entry of the file open as *fd (st its fstat), made if new: it then
 * takes *fd. */
static int entry_get(Recorder *r, int *fd, const struct stat *st, Entry **ret) {
        Entry *e = entry_find(r, st->st_dev, st->st_ino);
        if (e) {
                *ret = e;
                return 0;
        }
        if (slots_reserve(r) < 0 || !GREEDY_REALLOC(r->entries, r->allocated_entries, r->n_entries + 1))
                return -ENOMEM;
        e = &r->entries[r->n_entries++];
        *e = (Entry) { .e = { .dev = st->st_dev, .ino = st->st_ino }, .fd = TAKE_FD(*fd) };
        *slot_of(r, st->st_dev, st->st_ino) = r->n_entries;
        *ret = e;
        return 0;
}

/* Index of name in e's sorted xattrs, or where it would go (*ret_found false). */
static size_t xattr_pos(const RecordEntry *e, const char *name, bool *ret_found) {
        size_t lo = 0, hi = e->n_xattrs;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(e->xattrs[mid].name, name);
                if (c == 0) {
                        *ret_found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = false;
        return lo;
}

/* The record of name in e, made (removed, no value) if new. */
static int xattr_get(RecordEntry *e, const char *name, RecordXattr **ret) {
        bool found;
        size_t i = xattr_pos(e, name, &found);
        if (!found) {
                char *copy = strdup(name);
                RecordXattr *x = copy ? realloc(e->xattrs, (e->n_xattrs + 1) * sizeof *x) : NULL;
                if (!x) {
                        free(copy);
                        return -ENOMEM;
                }
                e->xattrs = x;
                memmove(x + i + 1, x + i, (e->n_xattrs - i) * sizeof *x);
                x[i] = (RecordXattr) { .name = copy, .removed = true };
                e->n_xattrs++;
        }
        *ret = &e->xattrs[i];
        return 0;
}

/* ---- the process -------------------------------------------------------------- */

typedef struct Proc {
        int dir;                /* /proc/PID */
        int root;               /* its root directory */
        int mem;
        bool ptr32;
} Proc;

static void proc_release(Proc *p) {
        closep(&p->dir);
        closep(&p->root);
        closep(&p->mem);
}

static bool same_inode(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether the directory open as fd is the sandbox's root or below it. */
static bool below_root(const Recorder *r, int fd) {
        struct stat st, prev;
        if (fstat(fd, &st) < 0)
                return false;
        _cleanup_close_ int cur = -EBADF;
        /* PATH_MAX / 2 levels: "a/" each. */
        for (int depth = 0; depth < PATH_MAX / 2; depth++) {
                if (st.st_dev == r->root_dev && st.st_ino == r->root_ino)
                        return true;
                int up = openat(cur >= 0 ? cur : fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (up < 0)
                        return false;
                closep(&cur);
                cur = up;
                prev = st;
                if (fstat(cur, &st) < 0 || same_inode(&st, &prev))
                        return false; /* the top, and not the root */
        }
        return false;
}

/* Opens the process of req and checks the notification is still its. */
static int proc_open(Recorder *r, int listener, const struct seccomp_notif *req, Proc *p) {
        char name[32];
        if (req->pid == 0)
                return NOT_OURS; /* in no pid namespace we see */
        snprintf(name, sizeof name, "%u", req->pid);
        p->dir = openat(r->proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (p->dir < 0)
                return GONE;
        p->root = openat(p->dir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        p->mem = openat(p->dir, "mem", O_RDONLY | O_CLOEXEC);
        if (seccomp_notify_id_valid(listener, req->id) < 0)
                return GONE;
        if (p->root < 0 || p->mem < 0)
                return -EPERM; /* ours, alive, and yet not readable: answer it */
        if (!below_root(r, p->root))
                return NOT_OURS;
        return 0;
}

static uint64_t proc_ptr(const Proc *p, uint64_t v) {
        return p->ptr32 ? (uint32_t) v : v;
}

/* A NUL-terminated string of the process at addr into buf (size bytes with
 * the NUL): its length, -EFAULT, or -ENAMETOOLONG without a NUL. Page by page:
 * the string may end just before an unmapped page. */
static int proc_read_string(const Proc *p, uint64_t addr, char *buf, size_t size) {
        const size_t page = (size_t) sysconf(_SC_PAGESIZE);
        size_t n = 0;

        if (addr == 0)
                return -EFAULT;
        while (n < size) {
                uint64_t a = addr + n;
                size_t chunk = MIN(page - (size_t) (a % page), size - n);
                ssize_t k = pread(p->mem, buf + n, chunk, (off_t) a);
                if (k <= 0)
                        return -EFAULT;
                char *z = memchr(buf + n, 0, (size_t) k);
                if (z)
                        return (int) (z - buf);
                n += (size_t) k;
        }
        return -ENAMETOOLONG;
}

static int proc_read_file(const Proc *p, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(p->dir, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        size_t n = 0;
        while (n < size - 1) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        return (int) n;
}

/* id (ours) as the process's user namespace shows it; false: not mapped.
 * file: "uid_map" or "gid_map", whose second column is in our namespace. */
static bool proc_map_id(const Proc *p, const char *file, uint32_t id, uint32_t *ret) {
        char buf[16384]; /* 340 lines of three ids */
        if (proc_read_file(p, file, buf, sizeof buf) < 0)
                return false;
        for (const char *s = buf; *s;) {
                unsigned long inside, outside, count;
                if (sscanf(s, "%lu %lu %lu", &inside, &outside, &count) == 3 && id >= outside &&
                    id - outside < count) {
                        *ret = (uint32_t) (inside + (id - outside));
                        return true;
                }
                const char *nl = strchr(s, '\n');
                if (!nl)
                        break;
                s = nl + 1;
        }
        return false;
}

/* Whether the process's user namespace maps the owner and the group of st
 * (root in it may chown the file, or act on it over its mode bits). */
static bool proc_maps_owner(const Proc *p, const struct stat *st, uint32_t *ret_uid, uint32_t *ret_gid) {
        uint32_t uid, gid;
        if (!proc_map_id(p, "uid_map", st->st_uid, &uid) || !proc_map_id(p, "gid_map", st->st_gid, &gid))
                return false;
        if (ret_uid)
                *ret_uid = uid;
        if (ret_gid)
                *ret_gid = gid;
        return true;
}

static int proc_umask(const Proc *p, mode_t *ret) {
        char buf[8192];
        int r = proc_read_file(p, "status", buf, sizeof buf);
        if (r < 0)
                return r;
        const char *u = strstr(buf, "\nUmask:");
        if (!u)
                return -EIO;
        *ret = (mode_t) (strtoul(u + strlen("\nUmask:"), NULL, 8) & 0777);
        return 0;
}

static int open_in_root(const Proc *p, const char *path, int flags, uint64_t resolve, int *ret) {
        struct open_how how = {
                .flags = (uint64_t) (O_PATH | O_CLOEXEC | flags),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
        };
        /* EAGAIN: a rename raced with ".." resolution; a retry is what the
         * kernel's own lookup would have done. */
        for (int i = 0; i < 16; i++) {
                long fd = syscall(SYS_openat2, p->root, path, &how, sizeof how);
                if (fd >= 0) {
                        *ret = (int) fd;
                        return 0;
                }
                if (errno != EAGAIN)
                        return negative_errno();
        }
        return -EAGAIN;
}

/* Path a ("/..." as the host reads it from /proc) below root path b (likewise):
 * the part inside, "/..."; NULL when a is not below b. */
static const char *path_below(const char *a, const char *b) {
        if (a[0] != '/')
                return NULL; /* "pipe:[...]", "anon_inode:..." */
        if (strcmp(b, "/") == 0)
                return a;
        size_t n = strlen(b);
        if (strncmp(a, b, n) != 0)
                return NULL;
        return a[n] == 0 ? "/" : a[n] == '/' ? a + n : NULL;
}

static int proc_readlink(const Proc *p, const char *name, char *buf) {
        ssize_t n = readlinkat(p->dir, name, buf, PATH_MAX);
        if (n < 0)
                return negative_errno();
        if (n >= PATH_MAX)
                return -ENAMETOOLONG;
        buf[n] = 0;
        return 0;
}

/* The file the process has open as fd (AT_FDCWD: its working directory),
 * opened O_PATH, when it is ours (see the top). With ret_path: a directory,
 * whose path inside the root is wanted. */
static int proc_fd_target(const Recorder *r, const Proc *p, int fd, int *ret_fd, struct stat *ret_st,
                          char **ret_path) {
        char link[32];
        if (fd == AT_FDCWD)
                snprintf(link, sizeof link, "cwd");
        else if (fd >= 0)
                snprintf(link, sizeof link, "fd/%d", fd);
        else
                return -EBADF;

        _cleanup_close_ int target = openat(p->dir, link, O_PATH | O_CLOEXEC);
        if (target < 0)
                return errno == ENOENT && fd != AT_FDCWD ? -EBADF : negative_errno();
        struct stat st;
        if (fstat(target, &st) < 0)
                return negative_errno();
        if (ret_path && !S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (ret_path && st.st_nlink == 0)
                return -ENOENT; /* nothing is found in, or made in, a removed directory */
        /* A directory only leads to the target, which is checked itself. */
        if (!ret_path && st.st_dev != r->root_dev)
                return NOT_OURS;

        _cleanup_free_ char *inside_copy = NULL;
        /* An unlinked file (O_TMPFILE, or removed since) has no path to
         * check: on the root's file system is all there is. */
        if (st.st_nlink > 0 || ret_path) {
                char root_path[PATH_MAX], path[PATH_MAX];
                int k = proc_readlink(p, "root", root_path);
                if (k < 0)
                        return k;
                k = proc_readlink(p, link, path);
                if (k < 0)
                        return k;
                const char *inside = path_below(path, root_path);
                if (!inside)
                        return NOT_OURS;
                /* The name the kernel gives may be stale or ambiguous: it
                 * counts only if it opens this very file. */
                _cleanup_close_ int check = -EBADF;
                struct stat st2;
                if (open_in_root(p, inside, O_NOFOLLOW, RESOLVE_NO_SYMLINKS, &check) < 0 ||
                    fstat(check, &st2) < 0 || !same_inode(&st, &st2))
                        return NOT_OURS;
                if (ret_path) {
                        inside_copy = strdup(inside);
                        if (!inside_copy)
                                return -ENOMEM;
                }
        }
        *ret_fd = TAKE_FD(target);
        *ret_st = st;
        if (ret_path)
                *ret_path = TAKE_PTR(inside_copy);
        return 0;
}

/* path (the process's) as a path inside its root: relative ones joined to
 * the working directory or dirfd's directory. */
static int proc_absolute(const Recorder *r, const Proc *p, int dirfd, const char *path, char **ret) {
        if (path[0] == '/') {
                *ret = strdup(path);
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ char *dir = NULL;
        struct stat st;
        int k = proc_fd_target(r, p, dirfd, &dfd, &st, &dir);
        if (k != 0)
                return k;
        size_t n = strlen(dir);
        char *joined = malloc(n + 1 + strlen(path) + 1);
        if (!joined)
                return -ENOMEM;
        memcpy(joined, dir, n);
        joined[n] = '/';
        strcpy(joined + n + 1, path);
        *ret = joined;
        return 0;
}

/* path (inside the root), opened O_PATH with flags, when it is ours: on the
 * root's file system, reached without a magic link (ELOOP: perhaps one, the
 * kernel knows). */
static int open_ours(const Recorder *r, const Proc *p, const char *path, int flags, int *ret_fd,
                     struct stat *ret_st) {
        _cleanup_close_ int fd = -EBADF;
        int k = open_in_root(p, path, flags, 0, &fd);
        if (k == -ELOOP)
                return NOT_OURS;
        if (k < 0)
                return k;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_dev != r->root_dev)
                return NOT_OURS;
        *ret_fd = TAKE_FD(fd);
        *ret_st = st;
        return 0;
}

/* The file a call names, opened O_PATH (followed or not), when it is ours. */
static int proc_path_target(const Recorder *r, const Proc *p, int dirfd, const char *path, bool follow,
                            int *ret_fd, struct stat *ret_st) {
        _cleanup_free_ char *abs = NULL;
        int k = proc_absolute(r, p, dirfd, path, &abs);
        if (k != 0)
                return k;
        return open_ours(r, p, abs, follow ? 0 : O_NOFOLLOW, ret_fd, ret_st);
}

/* ---- the calls ---------------------------------------------------------------- */

typedef enum CallKind {
        CALL_OWNER,
        CALL_DEVICE,
        CALL_XATTR_SET,
        CALL_XATTR_REMOVE,
} CallKind;

/* A notification's arguments, whichever call it is. */
typedef struct Call {
        CallKind kind;
        int fd;                 /* dirfd, or the file's descriptor without a path; AT_FDCWD */
        bool has_path;
        uint64_t path;
        bool follow;
        bool empty_path;        /* AT_EMPTY_PATH */
        uint32_t uid, gid;      /* UINT32_MAX: unchanged */
        uint32_t mode, dev;
        uint64_t name, value, size;
        int xattr_flags;
} Call;

static uint32_t id_arg(uint64_t v, bool ids16) {
        if (ids16)
                return (uint16_t) v == UINT16_MAX ? UINT32_MAX : (uint16_t) v;
        return (uint32_t) v;
}

static int call_decode(const SyscallNr *s, const Proc *p, const __u64 a[6], Call *c) {
        bool follow = s->sc != SC_LCHOWN && s->sc != SC_LCHOWN32 && s->sc != SC_LSETXATTR && s->sc != SC_LREMOVEXATTR;
        bool by_fd = s->sc == SC_FCHOWN || s->sc == SC_FCHOWN32 || s->sc == SC_FSETXATTR || s->sc == SC_FREMOVEXATTR;
        /* The layouts: (path | fd, ...), fchownat and mknodat (dirfd, path, ...). */
        *c = (Call) { .fd = by_fd ? (int) a[0] : AT_FDCWD, .has_path = !by_fd, .path = proc_ptr(p, a[0]),
                      .follow = follow };
        switch (s->sc) {
        case SC_CHOWN:
        case SC_LCHOWN:
        case SC_FCHOWN:
        case SC_CHOWN32:
        case SC_LCHOWN32:
        case SC_FCHOWN32:
                c->kind = CALL_OWNER;
                c->uid = id_arg(a[1], s->ids16);
                c->gid = id_arg(a[2], s->ids16);
                return 0;
        case SC_FCHOWNAT: {
                int flags = (int) a[4];
                if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
                        return -EINVAL;
                *c = (Call) { .kind = CALL_OWNER, .fd = (int) a[0], .has_path = true, .path = proc_ptr(p, a[1]),
                              .follow = !(flags & AT_SYMLINK_NOFOLLOW), .empty_path = flags & AT_EMPTY_PATH,
                              .uid = (uint32_t) a[2], .gid = (uint32_t) a[3] };
                return 0;
        }
        case SC_MKNOD:
                c->kind = CALL_DEVICE;
                c->mode = (uint32_t) a[1];
                c->dev = (uint32_t) a[2];
                return 0;
        case SC_MKNODAT:
                *c = (Call) { .kind = CALL_DEVICE, .fd = (int) a[0], .has_path = true, .path = proc_ptr(p, a[1]),
                              .mode = (uint32_t) a[2], .dev = (uint32_t) a[3] };
                return 0;
        case SC_SETXATTR:
        case SC_LSETXATTR:
        case SC_FSETXATTR:
                c->kind = CALL_XATTR_SET;
                c->name = proc_ptr(p, a[1]);
                c->value = proc_ptr(p, a[2]);
                c->size = proc_ptr(p, a[3]); /* size_t: as wide as a pointer */
                c->xattr_flags = (int) a[4];
                return 0;
        case SC_REMOVEXATTR:
        case SC_LREMOVEXATTR:
        case SC_FREMOVEXATTR:
                c->kind = CALL_XATTR_REMOVE;
                c->name = proc_ptr(p, a[1]);
                return 0;
        case _SC_MAX:
                break;
        }
        return NOT_OURS;
}

/* The file a call is about, opened O_PATH, when it is ours and the process's
 * user namespace maps its owner (*ret_uid, *ret_gid: as it shows them). */
static int call_target(const Recorder *r, const Proc *p, const Call *c, int *ret_fd, struct stat *ret_st,
                       uint32_t *ret_uid, uint32_t *ret_gid) {
        int k;
        if (c->has_path) {
                char path[PATH_MAX];
                k = proc_read_string(p, c->path, path, sizeof path);
                if (k < 0)
                        return k;
                if (k == 0 && !c->empty_path)
                        return -ENOENT;
                k = k == 0 ? proc_fd_target(r, p, c->fd, ret_fd, ret_st, NULL)
                           : proc_path_target(r, p, c->fd, path, c->follow, ret_fd, ret_st);
        } else
                k = proc_fd_target(r, p, c->fd, ret_fd, ret_st, NULL);
        if (k != 0)
                return k;
        if (!proc_maps_owner(p, ret_st, ret_uid, ret_gid)) {
                closep(ret_fd);
                return -EPERM;
        }
        return 0;
}

static int handle_owner(Recorder *r, const Proc *p, const Call *c) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        uint32_t uid, gid;
        int k = call_target(r, p, c, &fd, &st, &uid, &gid);
        if (k != 0)
                return k;
        if (c->uid == UINT32_MAX && c->gid == UINT32_MAX)
                return 0;
        Entry *e;
        k = entry_get(r, &fd, &st, &e);
        if (k < 0)
                return k;
        if (e->e.has_owner) {
                uid = e->e.uid;
                gid = e->e.gid;
        }
        e->e.has_owner = true;
        e->e.uid = c->uid != UINT32_MAX ? c->uid : uid;
        e->e.gid = c->gid != UINT32_MAX ? c->gid : gid;
        e->e.uid_set |= c->uid != UINT32_MAX;
        e->e.gid_set |= c->gid != UINT32_MAX;
        return 0;
}

/* Where mknod would make its node: the directory, opened O_PATH, and the
 * name in it (pointing into *ret_abs). */
static int device_parent(const Recorder *r, const Proc *p, const Call *c, const char *path, int *ret_dir,
                         char **ret_abs, const char **ret_name) {
        _cleanup_free_ char *abs = NULL;
        int k = proc_absolute(r, p, c->fd, path, &abs);
        if (k != 0)
                return k;
        size_t n = strlen(abs);
        _cleanup_close_ int fd = -EBADF;
        if (abs[n - 1] == '/') {
                /* "name/": never a new node; EEXIST when something is there */
                k = open_in_root(p, abs, O_NOFOLLOW, 0, &fd);
                return k == 0 ? -EEXIST : k == -ELOOP ? NOT_OURS : k;
        }
        char *slash = strrchr(abs, '/');
        const char *name = slash + 1;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EEXIST;
        *slash = 0;
        struct stat st;
        k = open_ours(r, p, slash == abs ? "/" : abs, O_DIRECTORY, &fd, &st);
        if (k != 0)
                return k;
        if (!proc_maps_owner(p, &st, NULL, NULL) && (st.st_mode & (S_IWOTH | S_IXOTH)) != (S_IWOTH | S_IXOTH))
                return -EACCES;
        *ret_dir = TAKE_FD(fd);
        *ret_name = name;
        *ret_abs = TAKE_PTR(abs);
        return 0;
}

static int handle_device(Recorder *r, const Proc *p, const Call *c) {
        char path[PATH_MAX];
        int k = proc_read_string(p, c->path, path, sizeof path);
        if (k < 0)
                return k;
        if (k == 0)
                return -ENOENT;
        _cleanup_close_ int dir = -EBADF;
        _cleanup_free_ char *abs = NULL;
        const char *name;
        k = device_parent(r, p, c, path, &dir, &abs, &name);
        if (k != 0)
                return k;
        mode_t mask;
        k = proc_umask(p, &mask);
        if (k < 0)
                return k;
        mode_t bits = (mode_t) c->mode & 07777 & ~mask;

        _cleanup_close_ int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        /* Our own umask applied at creation: the bits are set here. */
        char self[64];
        snprintf(self, sizeof self, "self/fd/%d", fd);
        _cleanup_close_ int pfd = openat(r->proc_fd, self, O_PATH | O_CLOEXEC);
        struct stat st;
        Entry *e = NULL;
        if (fchmod(fd, bits) < 0 || pfd < 0 || fstat(fd, &st) < 0)
                k = negative_errno();
        else
                k = entry_get(r, &pfd, &st, &e);
        if (k < 0) {
                (void) unlinkat(dir, name, 0);
                return k;
        }
        e->e.is_device = true;
        e->e.mode = (c->mode & S_IFMT) | bits;
        /* The kernel's 32-bit dev_t encoding (new_decode_dev): 12 bits of
         * major, 20 of minor. */
        e->e.rdev_major = (c->dev & 0xfff00) >> 8;
        e->e.rdev_minor = (c->dev & 0xff) | ((c->dev >> 12) & 0xfff00);
        return 0;
}

static int handle_xattr(Recorder *r, const Proc *p, const Call *c) {
        bool set = c->kind == CALL_XATTR_SET;
        if (set && (c->xattr_flags & ~(XATTR_CREATE | XATTR_REPLACE)))
                return -EINVAL;
        char name[XATTR_NAME_MAX + 1];
        int k = proc_read_string(p, c->name, name, sizeof name);
        if (k == -ENAMETOOLONG || k == 0)
                return -ERANGE;
        if (k < 0)
                return k;
        if (strncmp(name, "security.", strlen("security.")) != 0)
                return NOT_OURS;
        if (name[strlen("security.")] == 0)
                return -EINVAL;

        _cleanup_free_ uint8_t *value = NULL;
        if (set) {
                if (c->size > XATTR_SIZE_MAX)
                        return -E2BIG;
                value = malloc(c->size ? c->size : 1);
                if (!value)
                        return -ENOMEM;
                if (c->size > 0 && pread(p->mem, value, c->size, (off_t) c->value) != (ssize_t) c->size)
                        return -EFAULT;
        }

        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        k = call_target(r, p, c, &fd, &st, NULL, NULL);
        if (k != 0)
                return k;
        Entry *e = entry_find(r, st.st_dev, st.st_ino);
        bool found = false;
        size_t i = e ? xattr_pos(&e->e, name, &found) : 0;
        const RecordXattr *old = found ? &e->e.xattrs[i] : NULL;
        /* What the recorder knows it answers for; the tree's values it does not see. */
        if (set && (c->xattr_flags & XATTR_CREATE) && old && !old->removed)
                return -EEXIST;
        if (old && old->removed && (!set || (c->xattr_flags & XATTR_REPLACE)))
                return -ENODATA;

        k = entry_get(r, &fd, &st, &e);
        if (k < 0)
                return k;
        RecordXattr *x;
        k = xattr_get(&e->e, name, &x);
        if (k < 0)
                return k;
        free(x->value);
        x->value = set ? TAKE_PTR(value) : NULL;
        x->size = set ? (size_t) c->size : 0;
        x->removed = !set;
        return 0;
}

/* ---- the recorder ------------------------------------------------------------- */

static void nrs_build(Recorder *r) {
        uint32_t arches[1 + ELEMENTSOF(compat_arches)];
        arches[0] = seccomp_arch_native();
        for (size_t i = 0; i < ELEMENTSOF(compat_arches); i++)
                arches[i + 1] = compat_arches[i];
        for (size_t a = 0; a < ELEMENTSOF(arches); a++) {
                if (a > 0 && arches[a] == arches[0])
                        continue;
                bool ids16 = seccomp_syscall_resolve_name_arch(arches[a], "chown32") >= 0;
                for (size_t i = 0; i < _SC_MAX; i++) {
                        int nr = seccomp_syscall_resolve_name_arch(arches[a], syscall_names[i]);
                        if (nr < 0)
                                continue;
                        r->nrs[r->n_nrs++] = (SyscallNr) {
                                /* x32 calls come as x86_64's with the x32 bit in nr */
                                .arch = arches[a] == SCMP_ARCH_X32 ? SCMP_ARCH_X86_64 : arches[a],
                                .nr = nr,
                                .sc = (Syscall) i,
                                .ptr32 = !(arches[a] & __AUDIT_ARCH_64BIT),
                                .ids16 = ids16 && (i == SC_CHOWN || i == SC_LCHOWN || i == SC_FCHOWN),
                        };
                }
        }
}

int recorder_new(const char *root, Recorder **ret) {
        _cleanup_(recorder_freep) Recorder *r = new0(Recorder, 1);
        if (!r)
                return -ENOMEM;
        r->root_fd = r->proc_fd = -EBADF;
        r->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r->root_fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(r->root_fd, &st) < 0)
                return negative_errno();
        r->root_dev = st.st_dev;
        r->root_ino = st.st_ino;
        r->proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r->proc_fd < 0)
                return negative_errno();

        /* libseccomp's notify functions work once it has probed the kernel. */
        if (seccomp_api_get() < 5)
                return -ENOSYS;
        /* The kernel's structures may be larger than our headers' (and must
         * be zero when received into). */
        struct seccomp_notif_sizes sizes = { 0 };
        if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
                return errno == EINVAL ? -ENOSYS : negative_errno();
        r->req_size = MAX((size_t) sizes.seccomp_notif, sizeof(struct seccomp_notif));
        r->resp_size = MAX((size_t) sizes.seccomp_notif_resp, sizeof(struct seccomp_notif_resp));
        r->req = calloc(1, r->req_size);
        r->resp = calloc(1, r->resp_size);
        if (!r->req || !r->resp)
                return -ENOMEM;
        nrs_build(r);

        /* Every entry holds a descriptor: a scriptlet's chown -R must not
         * run out of them at the soft limit's usual 1024. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        *ret = TAKE_PTR(r);
        return 0;
}

Recorder *recorder_free(Recorder *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_entries; i++) {
                RecordEntry *e = &r->entries[i].e;
                for (size_t j = 0; j < e->n_xattrs; j++) {
                        free(e->xattrs[j].name);
                        free(e->xattrs[j].value);
                }
                free(e->xattrs);
                closep(&r->entries[i].fd);
        }
        free(r->entries);
        free(r->slots);
        free(r->req);
        free(r->resp);
        closep(&r->root_fd);
        closep(&r->proc_fd);
        free(r);
        return NULL;
}

static const SyscallNr *nr_find(const Recorder *r, uint32_t arch, int nr) {
        for (size_t i = 0; i < r->n_nrs; i++)
                if (r->nrs[i].arch == arch && r->nrs[i].nr == nr)
                        return &r->nrs[i];
        return NULL;
}

/* What to answer: 0 (done), -errno, NOT_OURS or GONE. */
static int handle(Recorder *r, int listener, const struct seccomp_notif *req) {
        const SyscallNr *s = nr_find(r, req->data.arch, req->data.nr);
        if (!s)
                return NOT_OURS;
        _cleanup_(proc_release) Proc p = { .dir = -EBADF, .root = -EBADF, .mem = -EBADF, .ptr32 = s->ptr32 };
        Call c;
        int k = call_decode(s, &p, req->data.args, &c);
        if (k != 0)
                return k;
        /* Only devices are emulated: FIFOs, sockets and files are made for
         * real, anything else the kernel refuses. */
        if (c.kind == CALL_DEVICE && !S_ISCHR(c.mode) && !S_ISBLK(c.mode))
                return NOT_OURS;
        k = proc_open(r, listener, req, &p);
        if (k != 0)
                return k;
        switch (c.kind) {
        case CALL_OWNER:
                return handle_owner(r, &p, &c);
        case CALL_DEVICE:
                return handle_device(r, &p, &c);
        case CALL_XATTR_SET:
        case CALL_XATTR_REMOVE:
                return handle_xattr(r, &p, &c);
        }
        return NOT_OURS;
}

int recorder_handle(Recorder *r, int listener) {
        if (listener < 0)
                return -EBADF; /* poll() would skip it */
        struct pollfd pfd = { .fd = listener, .events = POLLIN };
        if (poll(&pfd, 1, 0) < 0)
                return errno == EINTR ? 0 : negative_errno();
        if (pfd.revents & POLLNVAL)
                return -EBADF;
        if (!(pfd.revents & POLLIN))
                /* Hung up: no process carries the filter any more. */
                return pfd.revents & (POLLHUP | POLLERR) ? -ECHILD : 0;

        memset(r->req, 0, r->req_size);
        int k = seccomp_notify_receive(listener, r->req);
        if (k == -ECANCELED)
                /* ENOENT: the process died or its call was interrupted before we got it */
                return errno == ENOENT || errno == EINTR ? 0 : negative_errno();
        if (k < 0)
                return k;

        k = handle(r, listener, r->req);
        if (k == GONE)
                return 0;
        memset(r->resp, 0, r->resp_size);
        r->resp->id = r->req->id;
        if (k == NOT_OURS)
                r->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        else
                r->resp->error = k; /* 0 or -errno */
        k = seccomp_notify_respond(listener, r->resp);
        if (k == -ECANCELED)
                return errno == ENOENT ? 0 : negative_errno();
        return k < 0 ? k : 0;
}
