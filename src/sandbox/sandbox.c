/* SPDX-License-Identifier: MIT */
/* The sandbox (sandbox.h).
 *
 * Processes. sandbox_start() forks the sandbox's outer process (registered
 * with run.c as a PID namespace's parent, its own process group, dying with
 * slipway through PR_SET_PDEATHSIG). It unshares user, mount, PID, network,
 * IPC and UTS namespaces at once: always a new user namespace, also as root,
 * with only the caller's uid and gid mapped (to 0) and setgroups denied, so
 * root and any other user get the same sandbox. The outer process stays in
 * slipway's PID namespace and forks the sandbox's init (PID 1 of the new one);
 * it then only waits: when init exits it exits with its status, and on
 * SIGTERM (run.c's cleanup on a signal, or sandbox_stop()) it kills init and
 * waits for it, which ends everything in the namespace. A thread of slipway
 * waits for the outer process and tells run.c when it is gone, so that a
 * signal's cleanup does not wait for an idle sandbox's owner to notice.
 *
 * Init makes the mounts (the root bound onto itself, /proc, a minimal /dev,
 * the binds), pivot_root()s into the root and detaches the old one, sets the
 * host name, installs the recorder's seccomp filter if asked, and tells
 * slipway it is ready over a SOCK_SEQPACKET socket pair (with the seccomp
 * listener's descriptor, SCM_RIGHTS). It makes itself non-dumpable: its
 * memory is a copy of slipway's, and as its mm still belongs to slipway's
 * user namespace, that keeps processes of the sandbox (root in theirs) from
 * ptrace, /proc/1/mem and /proc/1/fd.
 *
 * A run. slipway writes the command (argv, envp, cwd, function) into a
 * memfd and sends one message: the timeout, and as descriptors that memfd,
 * the write end of a pipe for the output and, if there is input, a memfd
 * holding it. Init forks the run's process, which reads the memfd, makes a
 * new session, sets up descriptors 0, 1, 2 (/dev/null of the sandbox as
 * input without any), closes every other descriptor, unblocks every signal,
 * enters cwd and execs the program or calls the SandboxFunction (init has
 * them, a fork of slipway). What fails before that comes back through a
 * close-on-exec pipe as {stage, errno}. Init waits for the process (and
 * reaps what is reparented to it) until it exits or the timeout passes, then
 * kill(-1, SIGKILL)s everything else in the namespace and reaps it, and only
 * then replies {status, timed_out, stage, errno}. Meanwhile slipway polls
 * the output pipe (up to output_max kept), the socket and the seccomp
 * listener: a process of the sandbox blocked in a notification waits for
 * recorder_handle(), so the listener is served all along. The socket's end
 * without a reply is init's death: -ECHILD.
 *
 * Messages are fixed-size structures; descriptors beyond the expected ones
 * are closed unread. Processes of the sandbox cannot reach init's socket
 * (init is not dumpable), but slipway trusts nothing in a reply beyond its
 * numbers anyway. */

#include <elf.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/process.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "sandbox/record.h"
#include "sandbox/sandbox.h"

#define OUTPUT_MAX_DEFAULT ((size_t) 1 << 20)
/* A request's strings (argv, envp); the kernel allows a program less. */
#define REQUEST_MAX ((size_t) 64 << 20)

/* What failed, in the outer process or init while starting, or in a run's
 * process before the program ran. */
typedef enum Stage {
        STAGE_NONE,
        STAGE_UNSHARE,
        STAGE_MAP_IDS,
        STAGE_FORK,
        STAGE_MOUNT_PRIVATE,
        STAGE_BIND_ROOT,
        STAGE_MOUNT_POINT,      /* detail: 0 /proc, 1 /dev */
        STAGE_PROC,
        STAGE_DEV,
        STAGE_DEV_NODE,         /* detail: index in dev_nodes */
        STAGE_BIND,             /* detail: index in the binds */
        STAGE_READ_ONLY,
        STAGE_PIVOT,
        STAGE_HOSTNAME,
        STAGE_RECORD,
        STAGE_REQUEST,
        STAGE_RUN_SETUP,
        STAGE_CWD,
        STAGE_FUNCTION,
        STAGE_EXEC,
        _STAGE_MAX,
} Stage;

/* init -> slipway: ready (stage NONE) or why not; and each run's end. */
typedef struct Reply {
        int32_t status;
        int32_t timed_out;
        int32_t stage;
        int32_t error;
        int32_t detail;
} Reply;

/* slipway -> init, with the descriptors: the request memfd, the output
 * pipe's write end, the input memfd if there is input, and the script memfd
 * if there is a script (SandboxCommand.script). */
enum {
        REQUEST_INPUT = 1 << 0,
        REQUEST_SCRIPT = 1 << 1,
};
typedef struct Request {
        uint32_t timeout_sec;
        uint32_t flags; /* REQUEST_* */
} Request;

/* A run's process -> init, before exec. */
typedef struct RunError {
        int32_t stage;
        int32_t error;
} RunError;

struct Sandbox {
        pid_t pid;              /* the outer process */
        pthread_t watcher;
        bool has_watcher;
        bool dead;              /* init is gone */
        int sock;
        int listener;
        Recorder *recorder;
};

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* ---- architectures ------------------------------------------------------------ */

typedef struct Arch {
        const char *name;       /* rpm's */
        uint16_t machine;       /* ELF e_machine */
        uint8_t elf_class, elf_data;
        const char *native_on;  /* a host that runs it too (with a 32-bit personality) */
} Arch;

static const Arch arches[] = {
        { "x86_64", EM_X86_64, ELFCLASS64, ELFDATA2LSB, NULL },
        { "i686", EM_386, ELFCLASS32, ELFDATA2LSB, "x86_64" },
        { "aarch64", EM_AARCH64, ELFCLASS64, ELFDATA2LSB, NULL },
        { "ppc64le", EM_PPC64, ELFCLASS64, ELFDATA2LSB, NULL },
        { "s390x", EM_S390, ELFCLASS64, ELFDATA2MSB, NULL },
        { "riscv64", EM_RISCV, ELFCLASS64, ELFDATA2LSB, NULL },
};

static const Arch *arch_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(arches); i++)
                if (strcmp(arches[i].name, name) == 0)
                        return &arches[i];
        return NULL;
}

/* rpm's name of the machine we run on. */
static const char *host_arch(struct utsname *u) {
        if (uname(u) < 0)
                return "unknown";
        if (u->machine[0] == 'i' && strlen(u->machine) == 4 && strcmp(u->machine + 2, "86") == 0)
                return "i686"; /* i386 ... i686 */
        return u->machine;
}

static int hex_decode(const char *s, uint8_t *buf, size_t max, size_t *ret_n) {
        size_t n = 0;
        while (s[0] && s[0] != '\n') {
                unsigned v;
                if (n == max || !s[1] || sscanf(s, "%2x", &v) != 1)
                        return -EINVAL;
                buf[n++] = (uint8_t) v;
                s += 2;
        }
        *ret_n = n;
        return 0;
}

/* The value of the line of text starting with key, or NULL. */
static const char *line_value(const char *text, const char *key) {
        size_t k = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, key, k) == 0)
                        return l + k;
        return NULL;
}

/* Whether the binfmt_misc entry's text hands the kernel's ELF programs of a
 * (executables and shared ones alike) to its interpreter, as the kernel
 * matches: (header & mask) == (magic & mask) at offset 0. */
static bool binfmt_matches(const char *text, const Arch *a) {
        uint8_t magic[64], mask[64], hdr[20] = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, a->elf_class, a->elf_data,
                                                 EV_CURRENT };
        size_t n_magic, n_mask;
        const char *m = line_value(text, "magic "), *k = line_value(text, "mask "), *off = line_value(text, "offset ");

        if (strncmp(text, "enabled\n", 8) != 0 || !m || (off && atoi(off) != 0) ||
            hex_decode(m, magic, sizeof magic, &n_magic) < 0 || n_magic > sizeof hdr)
                return false;
        if (!k) {
                n_mask = n_magic;
                memset(mask, 0xff, n_mask);
        } else if (hex_decode(k, mask, sizeof mask, &n_mask) < 0 || n_mask != n_magic)
                return false;
        for (uint16_t type = ET_EXEC; type <= ET_DYN; type++) {
                bool big = a->elf_data == ELFDATA2MSB;
                hdr[16] = (uint8_t) (big ? type >> 8 : type);
                hdr[17] = (uint8_t) (big ? type : type >> 8);
                hdr[18] = (uint8_t) (big ? a->machine >> 8 : a->machine);
                hdr[19] = (uint8_t) (big ? a->machine : a->machine >> 8);
                for (size_t i = 0; i < n_magic; i++)
                        if ((hdr[i] & mask[i]) != (magic[i] & mask[i]))
                                return false;
        }
        return true;
}

static int open_in_root(int rootfd, const char *path, uint64_t flags) {
        struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
        int fd = (int) syscall(SYS_openat2, rootfd, path, &how, sizeof how);
        return fd < 0 ? negative_errno() : fd;
}

/* Whether binfmt_misc runs a's programs in root: an enabled handler that
 * matches them, whose interpreter the kernel opened when it was registered
 * (flag F) or that exists inside the root (where the kernel looks for it at
 * exec otherwise). *ret_interp: the first matching handler's interpreter
 * the root lacks (malloc'd), for the message. */
static bool binfmt_runs(const Arch *a, const char *root, char **ret_interp) {
        _cleanup_(closedirp) DIR *d = opendir("/proc/sys/fs/binfmt_misc");
        _cleanup_free_ char *status = NULL;
        _cleanup_close_ int rootfd = -EBADF;
        size_t size;
        struct dirent *de;

        *ret_interp = NULL;
        if (!d || read_full_file("/proc/sys/fs/binfmt_misc/status", &status, &size) < 0 ||
            strncmp(status, "enabled", 7) != 0)
                return false;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = path_join("/proc/sys/fs/binfmt_misc", de->d_name), *text = NULL;
                if (de->d_name[0] == '.' || strcmp(de->d_name, "status") == 0 || strcmp(de->d_name, "register") == 0)
                        continue;
                if (!path || read_full_file(path, &text, &size) < 0 || !binfmt_matches(text, a))
                        continue;
                const char *flags = line_value(text, "flags: "), *interp = line_value(text, "interpreter ");
                if (flags && strcspn(flags, "F\n") < strcspn(flags, "\n"))
                        return true;
                if (!interp)
                        continue;
                _cleanup_free_ char *ip = strndup(interp, strcspn(interp, "\n"));
                if (!ip)
                        continue;
                if (rootfd < 0)
                        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                int fd = rootfd < 0 ? -EBADF : open_in_root(rootfd, ip, O_PATH);
                if (fd >= 0) {
                        close(fd);
                        return true;
                }
                if (!*ret_interp)
                        *ret_interp = TAKE_PTR(ip);
        }
        return false;
}

/* Whether programs of o->arch run here; *ret_linux32: with a 32-bit
 * personality (uname says i686 inside). */
static int arch_check(const SandboxOptions *o, bool *ret_linux32, char **ret_msg) {
        struct utsname u;
        const char *host = host_arch(&u);

        *ret_linux32 = false;
        if (!o->arch || strcmp(o->arch, "noarch") == 0 || strcmp(o->arch, host) == 0)
                return 0;
        const Arch *a = arch_find(o->arch);
        if (!a) {
                *ret_msg = strprintf("unknown architecture '%s' (slipway knows x86_64, i686, aarch64, ppc64le, "
                                     "s390x, riscv64 and noarch)", o->arch);
                return -EINVAL;
        }
        if (a->native_on && strcmp(a->native_on, host) == 0) {
                *ret_linux32 = true;
                return 0;
        }
        _cleanup_free_ char *interp = NULL;
        if (binfmt_runs(a, o->root, &interp))
                return 0;
        if (interp)
                *ret_msg = strprintf("the image is for %s, this machine is %s, and the binfmt_misc handler for %s "
                                     "programs uses '%s', which the image does not have: register the handler "
                                     "with the F flag (qemu-user-static's packages do)",
                                     a->name, host, a->name, interp);
        else
                *ret_msg = strprintf("the image is for %s, this machine is %s, and no binfmt_misc handler runs %s "
                                     "programs (qemu-user-static would register one)", a->name, host, a->name);
        return -ENOEXEC;
}

/* ---- messages on the socket --------------------------------------------------- */

/* Sends msg with up to 4 descriptors. */
static int send_msg(int sock, const void *msg, size_t size, const int *fds, size_t n_fds) {
        union {
                char buf[CMSG_SPACE(4 * sizeof(int))];
                struct cmsghdr align;
        } control = {};
        struct iovec iov = { .iov_base = (void *) msg, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        assert(n_fds <= 4);
        if (n_fds > 0) {
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
                memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
        }
        for (;;) {
                ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
                if (n == (ssize_t) size)
                        return 0;
                if (n >= 0)
                        return -EPROTO;
                if (errno != EINTR)
                        return negative_errno();
        }
}

/* Receives one message of exactly size bytes with up to max_fds descriptors
 * (close-on-exec; *ret_n_fds says how many came, the rest is closed).
 * 0: the other end closed; 1: a message; -EPROTO: a message of another
 * size. */
static int recv_msg(int sock, void *msg, size_t size, int *fds, size_t max_fds, size_t *ret_n_fds) {
        union {
                char buf[CMSG_SPACE(4 * sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = msg, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;
        size_t got = 0;

        assert(max_fds <= 4);
        if (max_fds > 0) {
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(max_fds * sizeof(int));
        }
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        for (struct cmsghdr *c = max_fds > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                        if (got < max_fds)
                                fds[got++] = fd;
                        else
                                close(fd);
                }
        }
        if (ret_n_fds)
                *ret_n_fds = got;
        else
                assert(got == 0);
        if (n == 0 && got == 0)
                return 0;
        if ((size_t) n != size || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                for (size_t i = 0; i < got; i++)
                        close(fds[i]);
                if (ret_n_fds)
                        *ret_n_fds = 0;
                return -EPROTO;
        }
        return 1;
}

/* ---- inside: the outer process, init and a run's process ----------------------- *
 * Forks of slipway, maybe of a threaded one: system calls, and malloc
 * (which glibc makes safe after fork) only where a run's process needs it. */

static _Noreturn void fail(int sock, Stage stage, int error, int detail) {
        Reply r = { .stage = stage, .error = error, .detail = detail };
        (void) send_msg(sock, &r, sizeof r, NULL, 0);
        _exit(127);
}

/* Closes every descriptor but the n in keep. */
static void close_all_but(const int *keep, size_t n) {
        unsigned from = 0;
        for (;;) {
                unsigned next = ~0U;
                for (size_t i = 0; i < n; i++)
                        if (keep[i] >= 0 && (unsigned) keep[i] >= from && (unsigned) keep[i] < next)
                                next = (unsigned) keep[i];
                if (next > from)
                        (void) close_range(from, next - 1, 0);
                if (next == ~0U)
                        return;
                from = next + 1;
        }
}

static int close_fd(int fd) {
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

static int status_of(int wstatus) {
        return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

/* The path of what fd is: mounting on it never follows a symbolic link of
 * the root. */
#define FD_PATH_MAX 32
static const char *fd_path(char buf[static FD_PATH_MAX], int fd) {
        snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
        return buf;
}

static int mount_on(const char *source, int fd, const char *type, unsigned long flags, const char *data) {
        char target[FD_PATH_MAX];
        return mount(source, fd_path(target, fd), type, flags, data) < 0 ? -errno : 0;
}

/* The directory name in the root, made (mode) if missing; never a symbolic
 * link. */
static int mount_point(int rootfd, const char *name, mode_t mode) {
        if (mkdirat(rootfd, name, mode) < 0 && errno != EEXIST)
                return -errno;
        int fd = openat(rootfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* /dev in the root: a tmpfs with the host's harmless character devices
 * bound onto empty files, the usual links, /dev/shm and /dev/pts. */
static int make_dev(int rootfd, int *ret_stage, int *ret_detail) {
        _cleanup_close_ int mp = mount_point(rootfd, "dev", 0755), dev = -EBADF;
        int r;

        *ret_detail = 1;
        *ret_stage = STAGE_MOUNT_POINT;
        if (mp < 0)
                return mp;
        *ret_stage = STAGE_DEV;
        r = mount_on("tmpfs", mp, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=4m");
        if (r < 0)
                return r;
        dev = openat(rootfd, "dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dev < 0)
                return -errno;
        *ret_stage = STAGE_DEV_NODE;
        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
                char source[32];
                *ret_detail = (int) i;
                _cleanup_close_ int fd = openat(dev, dev_nodes[i], O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0666);
                if (fd < 0)
                        return -errno;
                snprintf(source, sizeof source, "/dev/%s", dev_nodes[i]);
                r = mount_on(source, fd, NULL, MS_BIND, NULL);
                if (r < 0)
                        return r;
        }
        *ret_stage = STAGE_DEV;
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },
        };
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i][1], dev, links[i][0]) < 0)
                        return -errno;
        if (mkdirat(dev, "shm", 01777) < 0 || mkdirat(dev, "pts", 0755) < 0)
                return -errno;
        _cleanup_close_ int shm = openat(dev, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int pts = openat(dev, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (shm < 0 || pts < 0)
                return -errno;
        r = mount_on("tmpfs", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
        if (r < 0)
                return r;
        /* Where the kernel refuses a devpts of our own, /dev/pts stays an
         * empty directory: nothing a script needs. */
        (void) mount_on("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
        return 0;
}

static int bind_one(int rootfd, const ProcessBind *b) {
        _cleanup_close_ int target = open_in_root(rootfd, b->target, O_PATH | O_DIRECTORY);
        if (target < 0)
                return target;
        int r = mount_on(b->source, target, NULL, MS_BIND | MS_REC, NULL);
        if (r < 0 || !b->read_only)
                return r;
        /* The target again: now the bound directory. */
        _cleanup_close_ int bound = open_in_root(rootfd, b->target, O_PATH | O_DIRECTORY);
        if (bound < 0)
                return bound;
        char path[FD_PATH_MAX];
        return mount_on(NULL, bound, NULL,
                        MS_REMOUNT | MS_BIND | MS_RDONLY | process_kept_mount_flags(fd_path(path, bound)), NULL);
}

/* Init's mounts, pivot_root and host name. -errno, with *ret_stage and
 * *ret_detail saying where. */
static int init_setup(const SandboxOptions *o, int *ret_stage, int *ret_detail) {
        _cleanup_close_ int rootfd = -EBADF;
        int r;

        *ret_detail = 0;
        /* Nothing mounted here may reach the host's mount namespace. */
        *ret_stage = STAGE_MOUNT_PRIVATE;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -errno;
        /* pivot_root() wants a mount point. */
        *ret_stage = STAGE_BIND_ROOT;
        if (mount(o->root, o->root, NULL, MS_BIND | MS_REC, NULL) < 0)
                return -errno;
        rootfd = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return -errno;

        *ret_stage = STAGE_MOUNT_POINT;
        _cleanup_close_ int proc = mount_point(rootfd, "proc", 0555);
        if (proc < 0)
                return proc;
        *ret_stage = STAGE_PROC;
        r = mount_on("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        if (r < 0)
                return r;
        r = make_dev(rootfd, ret_stage, ret_detail);
        if (r < 0)
                return r;
        *ret_stage = STAGE_BIND;
        for (size_t i = 0; i < o->n_binds; i++) {
                *ret_detail = (int) i;
                r = bind_one(rootfd, &o->binds[i]);
                if (r < 0)
                        return r;
        }
        if (o->read_only_root) {
                char path[FD_PATH_MAX];
                *ret_detail = 0;
                *ret_stage = STAGE_READ_ONLY;
                r = mount_on(NULL, rootfd, NULL,
                             MS_REMOUNT | MS_BIND | MS_RDONLY | process_kept_mount_flags(fd_path(path, rootfd)), NULL);
                if (r < 0)
                        return r;
        }

        /* The old root stacked on the new one, then detached: nothing of the
         * host's file system stays reachable. */
        *ret_detail = 0;
        *ret_stage = STAGE_PIVOT;
        if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
            chdir("/") < 0)
                return -errno;
        *ret_stage = STAGE_HOSTNAME;
        const char *name = o->hostname ? o->hostname : "localhost";
        if (sethostname(name, strlen(name)) < 0)
                return -errno;
        return 0;
}

static _Noreturn void run_fail(int errfd, Stage stage, int error) {
        RunError e = { .stage = stage, .error = error };
        (void) !write(errfd, &e, sizeof e);
        _exit(127);
}

/* The request's strings: argc, envc (uint32 each), then cwd, function,
 * argv[], envp[], each NUL-terminated. Pointers into p (arrays malloc'd). */
static int request_parse(const char *p, size_t n, const char **ret_cwd, const char **ret_function, int *ret_argc,
                         char ***ret_argv, char ***ret_envp) {
        uint32_t counts[2];
        const char *end = p + n;

        if (n < sizeof counts)
                return -EINVAL;
        memcpy(counts, p, sizeof counts);
        p += sizeof counts;
        if (counts[0] > n || counts[1] > n)
                return -EINVAL;
        char **argv = new0(char *, counts[0] + 1), **envp = new0(char *, counts[1] + 1);
        if (!argv || !envp)
                return -ENOMEM;
        size_t total = 2 + (size_t) counts[0] + counts[1];
        for (size_t i = 0; i < total; i++) {
                const char *z = memchr(p, 0, (size_t) (end - p));
                if (!z)
                        return -EINVAL;
                if (i == 0)
                        *ret_cwd = p;
                else if (i == 1)
                        *ret_function = *p ? p : NULL;
                else if (i < 2 + counts[0])
                        argv[i - 2] = (char *) p;
                else
                        envp[i - 2 - counts[0]] = (char *) p;
                p = z + 1;
        }
        *ret_argc = (int) counts[0];
        *ret_argv = argv;
        *ret_envp = envp;
        return 0;
}

/* A run's process: never returns. fds: request, output, input or -1,
 * script or -1. */
static _Noreturn void run_process(const SandboxOptions *o, const int fds[4], int errfd) {
        sigset_t none;
        struct stat st;
        const char *cwd = NULL, *function = NULL;
        char **argv = NULL, **envp = NULL;
        int argc = 0;

        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 || setsid() < 0 || fstat(fds[0], &st) < 0)
                run_fail(errfd, STAGE_RUN_SETUP, errno);
        if (st.st_size <= 0 || (size_t) st.st_size > REQUEST_MAX)
                run_fail(errfd, STAGE_REQUEST, EINVAL);
        void *map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fds[0], 0);
        if (map == MAP_FAILED)
                run_fail(errfd, STAGE_RUN_SETUP, errno);
        int r = request_parse(map, (size_t) st.st_size, &cwd, &function, &argc, &argv, &envp);
        if (r < 0)
                run_fail(errfd, STAGE_REQUEST, -r);
        int in = fds[2] >= 0 ? fds[2] : open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(fds[1], STDOUT_FILENO) < 0 ||
            dup2(fds[1], STDERR_FILENO) < 0)
                run_fail(errfd, STAGE_RUN_SETUP, errno);
        /* Only 0, 1, 2, the script on 3 (kept across exec: the interpreter
         * opens /dev/fd/3) and the error pipe (close-on-exec) stay. Both go
         * above 4 first, so neither is overwritten by the other. */
        if ((errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 5)) < 0)
                _exit(127);
        int script = fds[3] >= 0 ? fcntl(fds[3], F_DUPFD_CLOEXEC, 5) : -1;
        if (fds[3] >= 0 && (script < 0 || dup2(script, 3) < 0))
                run_fail(errfd, STAGE_RUN_SETUP, errno);
        if (dup3(errfd, 4, O_CLOEXEC) < 0)
                run_fail(errfd, STAGE_RUN_SETUP, errno);
        errfd = 4;
        if (fds[3] < 0)
                (void) close(3);
        (void) close_range(5, ~0U, 0);
        if (chdir(cwd) < 0)
                run_fail(errfd, STAGE_CWD, errno);

        if (function) {
                const SandboxFunction *f = NULL;
                for (size_t i = 0; i < o->n_functions && !f; i++)
                        if (strcmp(o->functions[i].name, function) == 0)
                                f = &o->functions[i];
                if (!f)
                        run_fail(errfd, STAGE_FUNCTION, ENOENT);
                close(errfd);
                /* Fresh streams: slipway's may hold its unwritten output, or
                 * a lock another of its threads held at fork. */
                FILE *in_f = fdopen(STDIN_FILENO, "r"), *out_f = fdopen(STDOUT_FILENO, "w"),
                     *err_f = fdopen(STDERR_FILENO, "w");
                if (!in_f || !out_f || !err_f)
                        _exit(127);
                setvbuf(err_f, NULL, _IONBF, 0);
                stdin = in_f;
                stdout = out_f;
                stderr = err_f;
                environ = envp;
                int status = f->fn(argc, argv, envp);
                fflush(stdout);
                fflush(stderr);
                _exit(status);
        }
        if (argc < 1)
                run_fail(errfd, STAGE_REQUEST, EINVAL);
        execve(argv[0], argv, envp);
        run_fail(errfd, STAGE_EXEC, errno);
}

/* Kills every process of the namespace but init and reaps them. */
static void kill_all(void) {
        for (;;) {
                (void) kill(-1, SIGKILL);
                if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
                        return;
        }
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Waits for the run's process pid (reaping what is reparented to init
 * meanwhile), killing everything at the deadline (ms, 0: none). */
static void init_wait(pid_t pid, uint64_t deadline, Reply *rep) {
        sigset_t chld;

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        for (;;) {
                int ws;
                pid_t w;
                while ((w = waitpid(-1, &ws, WNOHANG)) > 0 && w != pid)
                        ;
                if (w == pid) {
                        rep->status = status_of(ws);
                        return;
                }
                if (w < 0 && errno != EINTR) {
                        *rep = (Reply) { .stage = STAGE_RUN_SETUP, .error = errno };
                        return;
                }
                struct timespec left, *wait = NULL;
                if (deadline && !rep->timed_out) {
                        uint64_t now = now_ms();
                        if (now >= deadline) {
                                rep->timed_out = 1;
                                (void) kill(-1, SIGKILL);
                                continue;
                        }
                        left = (struct timespec) { .tv_sec = (time_t) ((deadline - now) / 1000),
                                                   .tv_nsec = (long) ((deadline - now) % 1000) * 1000000 };
                        wait = &left;
                }
                (void) sigtimedwait(&chld, NULL, wait);
        }
}

/* One run, in init (SIGCHLD blocked): fds as in run_process(), closed here. */
static Reply init_run(const SandboxOptions *o, const Request *req, int fds[4]) {
        Reply rep = {};
        int errpipe[2] = { -EBADF, -EBADF };
        pid_t pid = -1;

        if (pipe2(errpipe, O_CLOEXEC | O_NONBLOCK) >= 0)
                pid = fork();
        if (pid == 0) {
                close(errpipe[0]);
                run_process(o, fds, errpipe[1]);
        }
        if (pid < 0)
                rep = (Reply) { .stage = STAGE_RUN_SETUP, .error = errno };
        (void) close_fd(errpipe[1]);
        for (size_t i = 0; i < 4; i++)
                (void) close_fd(fds[i]);
        if (pid < 0) {
                (void) close_fd(errpipe[0]);
                return rep;
        }

        init_wait(pid, req->timeout_sec > 0 ? now_ms() + (uint64_t) req->timeout_sec * 1000 : 0, &rep);
        kill_all();
        RunError e;
        if (read(errpipe[0], &e, sizeof e) == (ssize_t) sizeof e && e.stage > STAGE_NONE && e.stage < _STAGE_MAX)
                rep = (Reply) { .stage = e.stage, .error = e.error };
        close(errpipe[0]);
        return rep;
}

static _Noreturn void init_main(const SandboxOptions *o, int sock, bool linux32) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t chld;
        int stage, detail, r;

        /* See the top: keeps the sandbox's processes out of init. */
        if (prctl(PR_SET_DUMPABLE, 0) < 0)
                fail(sock, STAGE_FORK, errno, 0);
        /* Runs start with default dispositions and the mask they set up;
         * SIGCHLD is what init waits for. */
        for (int sig = 1; sig < _NSIG; sig++)
                (void) sigaction(sig, &dfl, NULL);
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        (void) sigprocmask(SIG_SETMASK, &chld, NULL);
        umask(0022);
        if (linux32 && personality(PER_LINUX32) < 0)
                fail(sock, STAGE_FORK, errno, 0);

        r = init_setup(o, &stage, &detail);
        if (r < 0)
                fail(sock, stage, -r, detail);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(nul, STDOUT_FILENO) < 0 || dup2(nul, STDERR_FILENO) < 0)
                fail(sock, STAGE_DEV, errno, 0);
        if (nul > STDERR_FILENO)
                close(nul);

        int listener = -EBADF;
        if (o->record) {
                r = record_install_filter(&listener);
                if (r < 0)
                        fail(sock, STAGE_RECORD, -r, 0);
        }
        Reply ready = {};
        if (send_msg(sock, &ready, sizeof ready, &listener, listener >= 0 ? 1 : 0) < 0)
                _exit(127);
        if (listener >= 0)
                close(listener);

        for (;;) {
                Request req;
                int got[4] = { -EBADF, -EBADF, -EBADF, -EBADF };
                size_t n_fds;
                Reply rep;

                r = recv_msg(sock, &req, sizeof req, got, 4, &n_fds);
                if (r == 0 || (r < 0 && r != -EPROTO))
                        _exit(0); /* slipway is done with us */
                size_t want = 2 + !!(req.flags & REQUEST_INPUT) + !!(req.flags & REQUEST_SCRIPT);
                if (r < 0 || n_fds != want) {
                        for (size_t i = 0; i < n_fds; i++)
                                close(got[i]);
                        rep = (Reply) { .stage = STAGE_REQUEST, .error = EPROTO };
                } else {
                        /* request, output, input or none, script or none */
                        size_t k = 2;
                        int fds[4] = { got[0], got[1], -EBADF, -EBADF };
                        if (req.flags & REQUEST_INPUT)
                                fds[2] = got[k++];
                        if (req.flags & REQUEST_SCRIPT)
                                fds[3] = got[k++];
                        rep = init_run(o, &req, fds);
                }
                if (send_msg(sock, &rep, sizeof rep, NULL, 0) < 0)
                        _exit(0);
        }
}

/* The outer process: never returns. */
static _Noreturn void outer_main(const SandboxOptions *o, int sock, pid_t parent, uid_t uid, gid_t gid,
                                 bool linux32) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        (void) setpgid(0, 0);
        /* Above 0-2, which init points at its /dev/null (slipway may run
         * with them closed). */
        if (sock <= STDERR_FILENO && (sock = fcntl(sock, F_DUPFD_CLOEXEC, 3)) < 0)
                _exit(127);
        close_all_but(&sock, 1);
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
                fail(sock, STAGE_UNSHARE, errno, 0);
        int r = process_map_ids(uid, gid);
        if (r < 0)
                fail(sock, STAGE_MAP_IDS, -r, 0);
        /* Again: a change of credentials may reset it (a namespace of our
         * own does not, today); and the parent may have died meanwhile. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        r = process_pidns_fork(sock);
        if (r < 0)
                fail(sock, STAGE_FORK, -r, 0);
        init_main(o, sock, linux32);
}

/* ---- slipway's side ------------------------------------------------------------ */

static int read_sysctl(const char *path, long *ret) {
        _cleanup_free_ char *s = NULL;
        size_t n;
        int r = read_full_file(path, &s, &n);
        if (r < 0)
                return r;
        *ret = strtol(s, NULL, 10);
        return 0;
}

#define APPARMOR_USERNS "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"

/* Why the kernel refused the namespaces (EPERM, ENOSPC ...), for a user to
 * act on. */
static char *namespace_message(int error) {
        long v;
        if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone", &v) >= 0 && v == 0 && geteuid() != 0)
                return strprintf("the kernel refuses unprivileged user namespaces "
                                 "(kernel.unprivileged_userns_clone is 0), and slipway runs scripts in one: "
                                 "allow them with 'sysctl kernel.unprivileged_userns_clone=1'");
        if (read_sysctl("/proc/sys/user/max_user_namespaces", &v) >= 0 && (v == 0 || error == ENOSPC))
                return strprintf("the kernel allows %s user namespaces (user.max_user_namespaces is %ld), and "
                                 "slipway runs scripts in one: raise it with 'sysctl user.max_user_namespaces=15000'",
                                 v == 0 ? "no" : "no more", v);
        if (read_sysctl(APPARMOR_USERNS, &v) >= 0 && v != 0)
                return strprintf("AppArmor restricts unprivileged user namespaces "
                                 "(kernel.apparmor_restrict_unprivileged_userns is 1), and slipway runs scripts in "
                                 "one: allow them with 'sysctl kernel.apparmor_restrict_unprivileged_userns=0' or an "
                                 "AppArmor profile for slipway with 'userns,'");
        return strprintf("the kernel refused new user, mount, PID, network, IPC and UTS namespaces, in which "
                         "slipway runs scripts: %s (a container's seccomp profile may forbid them)",
                         strerror(error));
}

/* sandbox_start()'s error for a failed setup step. */
static int start_error(const SandboxOptions *o, const Reply *rep, char **ret_msg) {
        int e = rep->error > 0 ? rep->error : EIO;
        const char *what = strerror(e);
        long v;

        switch (rep->stage) {
        case STAGE_UNSHARE:
        case STAGE_MAP_IDS:
                *ret_msg = namespace_message(e);
                return e == ENOMEM ? -ENOMEM : -EPERM;
        case STAGE_MOUNT_POINT:
                if (e == ENOTDIR || e == ELOOP)
                        *ret_msg = strprintf("'/%s' in the sandbox root '%s' is not a directory",
                                             rep->detail ? "dev" : "proc", o->root);
                else
                        *ret_msg = strprintf("cannot make '/%s' in the sandbox root '%s': %s",
                                             rep->detail ? "dev" : "proc", o->root, what);
                return -e;
        case STAGE_DEV_NODE:
                *ret_msg = strprintf("cannot bind '/dev/%s' into the sandbox: %s",
                                     dev_nodes[(size_t) rep->detail % ELEMENTSOF(dev_nodes)], what);
                return -e;
        case STAGE_BIND:
                if (rep->detail >= 0 && (size_t) rep->detail < o->n_binds) {
                        const ProcessBind *b = &o->binds[rep->detail];
                        *ret_msg = strprintf("cannot bind '%s' onto '%s' in the sandbox: %s", b->source,
                                             b->target, what);
                        return -e;
                }
                break;
        case STAGE_RECORD:
                if (e == ENOSYS)
                        *ret_msg = strprintf("the kernel has no seccomp user notification (Linux 5.0 or later), "
                                             "which recording chown, mknod and security xattrs in the sandbox needs");
                else
                        *ret_msg = strprintf("cannot record in the sandbox: %s", what);
                return -e;
        default:
                break;
        }
        static const char *const steps[_STAGE_MAX] = {
                [STAGE_FORK] = "start its init",
                [STAGE_MOUNT_PRIVATE] = "make its mounts private",
                [STAGE_BIND_ROOT] = "bind its root onto itself",
                [STAGE_PROC] = "mount /proc",
                [STAGE_DEV] = "make /dev",
                [STAGE_BIND] = "bind a directory",
                [STAGE_READ_ONLY] = "make its root read-only",
                [STAGE_PIVOT] = "enter its root (pivot_root)",
                [STAGE_HOSTNAME] = "set its host name",
        };
        const char *step = rep->stage > 0 && rep->stage < _STAGE_MAX && steps[rep->stage] ? steps[rep->stage]
                                                                                         : "start";
        if (e == EPERM && read_sysctl(APPARMOR_USERNS, &v) >= 0 && v != 0)
                *ret_msg = strprintf("the sandbox for '%s' could not %s: %s (AppArmor restricts unprivileged user "
                                     "namespaces: kernel.apparmor_restrict_unprivileged_userns is 1)",
                                     o->root, step, what);
        else
                *ret_msg = strprintf("the sandbox for '%s' could not %s: %s", o->root, step, what);
        return -e;
}

/* Tells run.c when the outer process is gone (leaving it for
 * sandbox_stop() to reap), so that a signal's cleanup need not wait for
 * whoever owns an idle sandbox. */
static void *watch(void *arg) {
        pid_t pid = (pid_t) (intptr_t) arg;
        siginfo_t si;
        while (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
                ;
        run_child_remove(pid);
        return NULL;
}

static int start(const SandboxOptions *o, Sandbox **ret, char **ret_msg) {
        _cleanup_(sandbox_stopp) Sandbox *s = NULL;
        struct stat st;
        bool linux32;
        int sp[2], r;

        if (stat(o->root, &st) < 0)
                r = negative_errno();
        else
                r = S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        if (r < 0) {
                *ret_msg = strprintf("sandbox root '%s': %s", o->root,
                                     r == -ENOENT ? "does not exist" : strerror(-r));
                return r;
        }
        r = arch_check(o, &linux32, ret_msg);
        if (r < 0)
                return r;

        s = new0(Sandbox, 1);
        if (!s)
                return -ENOMEM;
        s->sock = s->listener = -EBADF;
        if (o->record) {
                r = recorder_new(o->root, &s->recorder);
                if (r < 0)
                        return r;
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return negative_errno();
        s->sock = sp[0];

        /* Like process_run()'s children: known to run.c, in a process group
         * of its own, dying with slipway. */
        pid_t parent = getpid();
        uid_t uid = geteuid();
        gid_t gid = getegid();
        r = run_child_lock();
        pid_t pid = r < 0 ? -1 : fork();
        if (pid > 0) {
                (void) setpgid(pid, pid); /* as the child does: whichever runs first */
                run_child_add(pid, true);
        }
        if (r >= 0)
                run_child_unlock();
        if (pid == 0)
                outer_main(o, sp[1], parent, uid, gid, linux32);
        close(sp[1]);
        if (pid < 0)
                return r < 0 ? r : negative_errno();
        s->pid = pid;
        s->has_watcher = pthread_create(&s->watcher, NULL, watch, (void *) (intptr_t) pid) == 0;

        Reply ready;
        size_t n_fds = 0;
        r = recv_msg(s->sock, &ready, sizeof ready, &s->listener, 1, &n_fds);
        if (r <= 0) {
                *ret_msg = strprintf("the sandbox for '%s' ended while starting", o->root);
                return -ECHILD;
        }
        if (ready.stage != STAGE_NONE)
                return start_error(o, &ready, ret_msg);
        if (o->record != (n_fds == 1))
                return -EPROTO;
        *ret = TAKE_PTR(s);
        return 0;
}

/* A message for a failure that has none yet; hands it to ret_error. */
static int with_message(int r, char *msg, char **ret_error, const char *what, const char *subject) {
        if (r >= 0)
                return r;
        if (!msg)
                msg = strprintf("%s '%s': %s", what, subject, strerror(-r));
        if (ret_error)
                *ret_error = msg;
        else
                free(msg);
        return r;
}

int sandbox_start(const SandboxOptions *o, Sandbox **ret, char **ret_error) {
        char *msg = NULL;
        int r = o->root ? start(o, ret, &msg) : -EINVAL;
        return with_message(r, msg, ret_error, "cannot start the sandbox for", o->root ? o->root : "");
}

Sandbox *sandbox_stop(Sandbox *s) {
        if (!s)
                return NULL;
        if (s->pid > 0) {
                /* The outer process kills init and waits for the namespace
                 * to end. */
                (void) kill(s->pid, SIGTERM);
                if (s->has_watcher)
                        (void) pthread_join(s->watcher, NULL);
                while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                if (!s->has_watcher)
                        run_child_remove(s->pid);
        }
        if (s->sock >= 0)
                close(s->sock);
        if (s->listener >= 0)
                close(s->listener);
        recorder_free(s->recorder);
        free(s);
        return NULL;
}

const Recorder *sandbox_recorder(const Sandbox *s) {
        return s->recorder;
}

void sandbox_result_release(SandboxResult *r) {
        if (!r)
                return;
        free(r->output);
        *r = (SandboxResult) {};
}

static int memfd_with(const char *name, const void *data, size_t size) {
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = loop_write(fd, data, size);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

static size_t strv_length(char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

/* The request memfd (request_parse() reads it). */
static int request_make(const SandboxCommand *c) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        size_t argc = strv_length(c->argv), envc = strv_length(c->envp);
        uint32_t counts[2] = { (uint32_t) argc, (uint32_t) envc };
        const char *cwd = c->cwd ? c->cwd : "/", *function = c->function ? c->function : "";

        strbuf_put(&sb, counts, sizeof counts);
        strbuf_put(&sb, cwd, strlen(cwd) + 1);
        strbuf_put(&sb, function, strlen(function) + 1);
        for (size_t i = 0; i < argc; i++)
                strbuf_put(&sb, c->argv[i], strlen(c->argv[i]) + 1);
        for (size_t i = 0; i < envc; i++)
                strbuf_put(&sb, c->envp[i], strlen(c->envp[i]) + 1);
        if (sb.oom)
                return -ENOMEM;
        if (sb.len > REQUEST_MAX)
                return -E2BIG;
        return memfd_with("sandbox-request", sb.buf, sb.len);
}

/* sandbox_run()'s error for a run that failed before its program ran. */
static int run_error(const SandboxCommand *c, const Reply *rep, char **ret_msg) {
        int e = rep->error > 0 ? rep->error : EIO;
        const char *prog = c->argv && c->argv[0] ? c->argv[0] : "";

        switch (rep->stage) {
        case STAGE_EXEC:
                if (e == ENOENT)
                        *ret_msg = strprintf("program '%s' does not exist in the sandbox (or its interpreter does "
                                             "not: the #! line's program or the dynamic loader)", prog);
                else if (e == EACCES)
                        *ret_msg = strprintf("program '%s' in the sandbox is not executable (permission denied)",
                                             prog);
                else if (e == ENOEXEC)
                        *ret_msg = strprintf("program '%s' in the sandbox is not in a format this machine runs",
                                             prog);
                else
                        *ret_msg = strprintf("cannot run '%s' in the sandbox: %s", prog, strerror(e));
                return -e;
        case STAGE_CWD:
                *ret_msg = strprintf("cannot enter the working directory '%s' in the sandbox: %s",
                                     c->cwd ? c->cwd : "/", strerror(e));
                return -e;
        case STAGE_FUNCTION:
                *ret_msg = strprintf("'%s' is not a function of this sandbox", c->function);
                return -ENOENT;
        default:
                *ret_msg = strprintf("cannot start '%s' in the sandbox: %s", c->function ? c->function : prog,
                                     strerror(e));
                return -e;
        }
}

/* Init is gone: the run's processes with it. */
static int sandbox_died(Sandbox *s, char **ret_msg) {
        s->dead = true;
        /* Killed by a signal's cleanup: that ends the run, not this error. */
        run_park_if_ending();
        *ret_msg = strprintf("the sandbox's init died");
        return -ECHILD;
}

static int run(Sandbox *s, const SandboxCommand *c, SandboxResult *ret, char **ret_msg) {
        _cleanup_strbuf_ StrBuf out = STRBUF_INIT;
        _cleanup_close_ int req_fd = -EBADF, in_fd = -EBADF, script_fd = -EBADF, out_r = -EBADF, out_w = -EBADF;
        size_t max = c->output_max ? c->output_max : OUTPUT_MAX_DEFAULT;
        bool truncated = false, have_reply = false, eof = false;
        Reply rep = {};
        int pipefd[2], r;

        if (!c->function && (!c->argv || !c->argv[0])) {
                *ret_msg = strprintf("a sandbox command needs a program or a function");
                return -EINVAL;
        }
        if (s->dead)
                return sandbox_died(s, ret_msg);
        req_fd = request_make(c);
        if (req_fd < 0)
                return req_fd;
        if (c->input) {
                in_fd = memfd_with("sandbox-input", c->input, c->input_size);
                if (in_fd < 0)
                        return in_fd;
        }
        if (c->script) {
                script_fd = memfd_with("sandbox-script", c->script, c->script_size);
                if (script_fd < 0)
                        return script_fd;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        out_r = pipefd[0];
        out_w = pipefd[1];

        Request req = { .timeout_sec = c->timeout_sec };
        int fds[4] = { req_fd, out_w };
        size_t n_fds = 2;
        if (in_fd >= 0) {
                req.flags |= REQUEST_INPUT;
                fds[n_fds++] = in_fd;
        }
        if (script_fd >= 0) {
                req.flags |= REQUEST_SCRIPT;
                fds[n_fds++] = script_fd;
        }
        r = send_msg(s->sock, &req, sizeof req, fds, n_fds);
        if (r == -EPIPE || r == -ECONNRESET)
                return sandbox_died(s, ret_msg);
        if (r < 0)
                return r;
        /* Only the run holds the output's write end now: EOF is its end
         * (and that of all it started). */
        out_w = close_fd(out_w);

        while (!have_reply || !eof) {
                struct pollfd p[3] = {
                        { .fd = eof ? -1 : out_r, .events = POLLIN },
                        { .fd = have_reply ? -1 : s->sock, .events = POLLIN },
                        { .fd = s->listener, .events = POLLIN },
                };
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                /* A process blocked in a notification waits for this. */
                if (p[2].revents & POLLIN) {
                        if (recorder_handle(s->recorder, s->listener) < 0)
                                s->listener = close_fd(s->listener);
                } else if (p[2].revents)
                        s->listener = close_fd(s->listener);
                if (p[0].revents) {
                        char buf[65536];
                        ssize_t n = read(out_r, buf, sizeof buf);
                        if (n < 0 && errno != EINTR && errno != EAGAIN)
                                return negative_errno();
                        if (n == 0)
                                eof = true;
                        else if (n > 0) {
                                if (c->log_fd > 2) {
                                        r = loop_write(c->log_fd, buf, (size_t) n);
                                        if (r < 0)
                                                return r;
                                }
                                size_t keep = MIN((size_t) n, max - out.len);
                                truncated |= keep < (size_t) n;
                                if (keep > 0 && strbuf_put(&out, buf, keep) < 0)
                                        return -ENOMEM;
                        }
                }
                if (p[1].revents) {
                        r = recv_msg(s->sock, &rep, sizeof rep, NULL, 0, NULL);
                        if (r == 0 || r == -ECONNRESET)
                                return sandbox_died(s, ret_msg);
                        if (r < 0)
                                return r;
                        have_reply = true;
                }
        }

        if (rep.stage != STAGE_NONE)
                return run_error(c, &rep, ret_msg);
        size_t size;
        char *output = strbuf_detach(&out, &size);
        if (!output)
                return -ENOMEM;
        *ret = (SandboxResult) {
                .status = rep.status,
                .timed_out = rep.timed_out != 0,
                .output = output,
                .output_size = size,
                .output_truncated = truncated,
        };
        return 0;
}

int sandbox_run(Sandbox *s, const SandboxCommand *c, SandboxResult *ret, char **ret_error) {
        char *msg = NULL;
        int r = run(s, c, ret, &msg);
        return with_message(r, msg, ret_error, "cannot run in the sandbox",
                            c->function ? c->function : c->argv && c->argv[0] ? c->argv[0] : "");
}
