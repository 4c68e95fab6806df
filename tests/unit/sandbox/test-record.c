/* SPDX-License-Identifier: MIT */
/* sandbox/record.c: a minimal sandbox made here (a child in a new user and
 * mount namespace mapping the caller to 0, chrooted into ROOT) installs the
 * filter, hands the listener over, and makes its calls, a static busybox's
 * and (on x86_64) a 32-bit program's; the parent answers them with the
 * recorder, then checks what was recorded by inode, and that nothing outside
 * ROOT was recorded or made. Run as root, the test runs again as nobody
 * (setpriv); both must pass. */

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../unit.h"
#include "basic/fileio.h"
#include "sandbox/record.h"

#define SKIP 77
#define USER_ENV "SLIPWAY_TEST_RECORD_USER"
#define HOST_NODE "/etc/slipway-test-record-node" /* must never appear on the host */

static char base[64];
static char root[80];

/* A path below ROOT (rel "" is ROOT) or, with a leading '^', below base. */
static const char *at(const char *rel) {
        static char bufs[8][PATH_MAX];
        static unsigned next;
        char *b = bufs[next++ % 8];
        if (rel[0] == '^')
                snprintf(b, PATH_MAX, "%s/%s", base, rel + 1);
        else
                snprintf(b, PATH_MAX, "%s/%s", root, rel);
        return b;
}

static int sys(long r) {
        return r < 0 ? -errno : (int) r;
}

static void put(const char *rel) {
        CHECK(write_file_atomic(at(rel), rel, strlen(rel), 0644) >= 0);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
        void *data = NULL;
        size_t size = 0;
        CHECK(map_file(from, &data, &size) >= 0);
        CHECK(data && write_file_atomic(to, data, size, mode) >= 0);
        if (data)
                munmap(data, size);
}

#if defined(__x86_64__)
/* A static i386 program (int 0x80, so through the 32-bit ABI whatever libc
 * does) making four calls: chown32("/c32", 21, 22), the 16-bit
 * chown("/c16", 23, -1), mknod("/n32", S_IFCHR | 0640, 1:5) and
 * fchownat(AT_FDCWD, "c32at", 24, 25, 0). Exit status 0, or the errno of
 * the first that failed. */
static void write_i386_program(const char *path) {
        enum { BASE = 0x08048000, HDRS = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr) };
        static const char strings[] = "/c32\0/c16\0/n32\0c32at";
        const uint32_t s_c32 = 0, s_c16 = 5, s_n32 = 10, s_c32at = 15;
        struct { uint32_t nr, a[5]; int str; uint32_t str_off; } steps[] = {
                { 212, { 0, 21, 22, 0, 0 }, 0, s_c32 },
                { 182, { 0, 23, 0xffff, 0, 0 }, 0, s_c16 },
                { 14, { 0, 020000 | 0640, (1 << 8) | 5, 0, 0 }, 0, s_n32 },
                { 298, { (uint32_t) AT_FDCWD, 0, 24, 25, 0 }, 1, s_c32at },
        };
        /* mov eax, ebx, ecx, edx, esi, edi; int 0x80; test eax, eax; jnz fail */
        enum { STEP = 6 * 5 + 2 + 2 + 6, SUCCESS = 2 + 5 + 2, FAIL = 2 + 2 + 5 + 2 };
        const size_t code_size = ELEMENTSOF(steps) * STEP + SUCCESS + FAIL;
        const uint32_t strings_at = BASE + HDRS + (uint32_t) code_size;
        uint8_t file[HDRS + 4 * STEP + SUCCESS + FAIL + sizeof strings];
        uint8_t *c = file + HDRS;
        static const uint8_t movs[6] = { 0xb8, 0xbb, 0xb9, 0xba, 0xbe, 0xbf };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                uint32_t v[6] = { steps[i].nr };
                for (int k = 0; k < 5; k++)
                        v[k + 1] = k == steps[i].str ? strings_at + steps[i].str_off : steps[i].a[k];
                for (int k = 0; k < 6; k++) {
                        *c++ = movs[k];
                        memcpy(c, &v[k], 4);
                        c += 4;
                }
                *c++ = 0xcd, *c++ = 0x80, *c++ = 0x85, *c++ = 0xc0, *c++ = 0x0f, *c++ = 0x85;
                int32_t rel = (int32_t) ((file + HDRS + ELEMENTSOF(steps) * STEP + SUCCESS) - (c + 4));
                memcpy(c, &rel, 4);
                c += 4;
        }
        static const uint8_t tail[] = {
                0x31, 0xdb, 0xb8, 1, 0, 0, 0, 0xcd, 0x80,             /* exit(0) */
                0xf7, 0xd8, 0x89, 0xc3, 0xb8, 1, 0, 0, 0, 0xcd, 0x80, /* fail: exit(-eax) */
        };
        memcpy(c, tail, sizeof tail);
        c += sizeof tail;
        memcpy(c, strings, sizeof strings);
        c += sizeof strings;

        Elf32_Ehdr eh = {
                .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT },
                .e_type = ET_EXEC,
                .e_machine = EM_386,
                .e_version = EV_CURRENT,
                .e_entry = BASE + HDRS,
                .e_phoff = sizeof(Elf32_Ehdr),
                .e_ehsize = sizeof(Elf32_Ehdr),
                .e_phentsize = sizeof(Elf32_Phdr),
                .e_phnum = 1,
        };
        Elf32_Phdr ph = {
                .p_type = PT_LOAD,
                .p_vaddr = BASE,
                .p_paddr = BASE,
                .p_filesz = (uint32_t) (c - file),
                .p_memsz = (uint32_t) (c - file),
                .p_flags = PF_R | PF_X,
                .p_align = 0x1000,
        };
        memcpy(file, &eh, sizeof eh);
        memcpy(file + sizeof eh, &ph, sizeof ph);
        CHECK((size_t) (c - file) == sizeof file);
        CHECK(write_file_atomic(path, file, sizeof file, 0755) >= 0);
}
#endif

/* ---- the sandbox (the child) -------------------------------------------------- */

typedef struct Report {
        int checks, failures;
        bool busybox, i386;     /* ran */
        dev_t tmpfile_dev;
        ino_t tmpfile_ino;
} Report;

static int write_text(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = loop_write(fd, text, strlen(text));
        close(fd);
        return r;
}

static int enter_user_namespace(void) {
        char map[64];
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return -errno;
        if (write_text("/proc/self/setgroups", "deny") < 0)
                return -EPERM;
        snprintf(map, sizeof map, "0 %u 1", (unsigned) uid);
        if (write_text("/proc/self/uid_map", map) < 0)
                return -EPERM;
        snprintf(map, sizeof map, "0 %u 1", (unsigned) gid);
        if (write_text("/proc/self/gid_map", map) < 0)
                return -EPERM;
        return 0;
}

static int send_fd(int sock, int status, int fd) {
        char control[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { .iov_base = &status, .iov_len = sizeof status };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (fd >= 0) {
                msg.msg_control = control;
                msg.msg_controllen = sizeof control;
                struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        }
        return sendmsg(sock, &msg, 0) < 0 ? -errno : 0;
}

static int recv_fd(int sock, int *ret_status) {
        char control[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { .iov_base = ret_status, .iov_len = sizeof *ret_status };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                              .msg_controllen = sizeof control };
        if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != sizeof *ret_status)
                return -EIO;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        int fd = -1;
        if (cm && cm->cmsg_type == SCM_RIGHTS)
                memcpy(&fd, CMSG_DATA(cm), sizeof fd);
        return fd;
}

/* Runs a program inside and gives its exit status (-errno: not started). */
static int run(char *const argv[]) {
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid == 0) {
                execv(argv[0], argv);
                int e = errno;
                (void) !write(pipefd[1], &e, sizeof e);
                _exit(127);
        }
        close(pipefd[1]);
        int e = 0, status;
        ssize_t n = read(pipefd[0], &e, sizeof e);
        close(pipefd[0]);
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
                return -ECHILD;
        if (n == sizeof e)
                return -e;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A process in the sandbox's user namespace with the filter whose root is
 * the host's: whatever it names, inside ROOT or not, is not the recorder's. */
static void calls_from_outside_root(void) {
        CHECK(sys(chown(at("^outside"), 1, 1)) == -EINVAL); /* the kernel: 1 is not mapped */
        CHECK(sys(chown(at("g5"), 1, 1)) == -EINVAL);
        CHECK(sys(mknod(at("^g-node"), S_IFCHR | 0600, makedev(1, 3))) == -EPERM);
        /* A malformed capability: the kernel refuses it, the recorder would not. */
        CHECK(sys(setxattr(at("g5"), "security.capability", "x", 1, 0)) == -EINVAL);
}

static void calls_owner(Report *rep) {
        struct stat st;
        CHECK(sys(chown("/f", 5, 6)) == 0);
        CHECK(stat("/f", &st) == 0 && st.st_uid == 0 && st.st_gid == 0); /* the real owner stays */
        CHECK(sys(chown("/f", (uid_t) -1, 7)) == 0);
        CHECK(sys(chown("/g", (uid_t) -1, 9)) == 0);
        CHECK(sys(chown("/g2", 3, (gid_t) -1)) == 0);
        CHECK(sys(chown("/h", (uid_t) -1, (gid_t) -1)) == 0);
        CHECK(sys(lchown("/link", 11, 12)) == 0);
        CHECK(sys(chown("/link2", 13, 14)) == 0);
        CHECK(sys(fchownat(AT_FDCWD, "/lnf", 31, 32, AT_SYMLINK_NOFOLLOW)) == 0);

        int fd = open("/fc", O_RDONLY | O_CLOEXEC);
        CHECK(sys(fchown(fd, 15, 16)) == 0);
        close(fd);
        int dfd = open("/dir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(sys(fchownat(dfd, "sub", 17, 18, 0)) == 0);
        CHECK(sys(fchownat(dfd, "sub", 17, 18, 0x2)) == -EINVAL);
        int xfd = open("/dir/x", O_RDONLY | O_CLOEXEC);
        CHECK(sys(fchownat(xfd, "", 19, 20, AT_EMPTY_PATH)) == 0);
        CHECK(sys(fchownat(xfd, "y", 1, 1, 0)) == -ENOTDIR);
        CHECK(sys(fchownat(xfd, "", 1, 1, 0)) == -ENOENT);
        close(xfd);
        CHECK(sys(chdir("/dir")) == 0);
        CHECK(sys(fchownat(AT_FDCWD, "rel", 25, 26, 0)) == 0);
        CHECK(sys(chown("../g3", 27, 28)) == 0);
        CHECK(sys(chown("../../../../g4", 29, 30)) == 0); /* ".." stops at the root */
        CHECK(sys(chdir("/")) == 0);
        int odfd = open("/dir", O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(sys(fchownat(odfd, "../g6", 33, 34, 0)) == 0);
        CHECK(sys(fchownat(odfd, "", 35, 36, AT_EMPTY_PATH)) == 0); /* the directory itself */
        close(odfd);
        close(dfd);

        /* A deleted working directory: nothing is found from it. */
        CHECK(sys(mkdir("/doomed", 0755)) == 0);
        CHECK(sys(chdir("/doomed")) == 0);
        CHECK(sys(rmdir("/doomed")) == 0);
        CHECK(sys(chown("x", 1, 1)) == -ENOENT);
        CHECK(sys(chdir("/")) == 0);

        /* An O_TMPFILE file, chowned before it has a name (systemd's way;
         * the parent finds it by the inode in the report). */
        fd = open("/etc", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && fstat(fd, &st) == 0);
        CHECK(sys(fchown(fd, 37, 38)) == 0);
        rep->tmpfile_dev = st.st_dev;
        rep->tmpfile_ino = st.st_ino;
        close(fd);

        char long_path[PATH_MAX + 16];
        memset(long_path, 'a', sizeof long_path - 1);
        long_path[0] = '/';
        long_path[sizeof long_path - 1] = 0;
        CHECK(sys(chown(long_path, 1, 1)) == -ENAMETOOLONG);
        CHECK(sys(chown("/nonexistent", 1, 1)) == -ENOENT);
        CHECK(sys(chown("/f/x", 1, 1)) == -ENOTDIR);
        CHECK(sys(chown("", 1, 1)) == -ENOENT);
        CHECK(sys(fchown(999, 1, 1)) == -EBADF);
        CHECK(sys(syscall(SYS_chown, (uintptr_t) 8, 1, 1)) == -EFAULT);

        /* useradd's way: a temporary, chowned, renamed over the old name */
        fd = open("/etc/passwd+", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && write(fd, "root:x:0:0::/root:/bin/sh\n", 26) == 26);
        CHECK(sys(fchown(fd, 0, 0)) == 0);
        close(fd);
        CHECK(sys(rename("/etc/passwd+", "/etc/passwd")) == 0);
        fd = open("/etc/shadow+", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        close(fd);
        CHECK(sys(chown("/etc/shadow+", 0, 42)) == 0);
        CHECK(sys(rename("/etc/shadow+", "/etc/shadow")) == 0);
}

static void calls_device(void) {
        struct stat st;
        CHECK(sys(mknod("/dev0", S_IFCHR | 0666, makedev(1, 3))) == 0);
        CHECK(lstat("/dev0", &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644 && st.st_size == 0);
        CHECK(sys(mknod("/dev0", S_IFCHR | 0666, makedev(1, 3))) == -EEXIST);
        CHECK(sys(chmod("/dev0", 0600)) == 0); /* the placeholder is a file like any */
        int dfd = open("/dir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(sys(mknodat(dfd, "blk", S_IFBLK | 0600, makedev(8, 1))) == 0);
        close(dfd);
        CHECK(sys(mknod("/big", S_IFCHR | 06755, makedev(259, 70000))) == 0);
        CHECK(sys(rename("/big", "/big2")) == 0);
        CHECK(sys(chdir("/dir")) == 0);
        CHECK(sys(mknod("../reldev", S_IFCHR | 0600, makedev(4, 64))) == 0);
        CHECK(sys(chdir("/")) == 0);
        CHECK(sys(mknod("/fifo", S_IFIFO | 0644, 0)) == 0);
        CHECK(lstat("/fifo", &st) == 0 && S_ISFIFO(st.st_mode));
        CHECK(sys(mknod("/nodir/x", S_IFCHR | 0600, makedev(1, 3))) == -ENOENT);
        CHECK(sys(mknod("/f/x", S_IFCHR | 0600, makedev(1, 3))) == -ENOTDIR);
        CHECK(sys(mknod("/link", S_IFCHR | 0600, makedev(1, 3))) == -EEXIST);
        CHECK(sys(mknod("/dir/..", S_IFCHR | 0600, makedev(1, 3))) == -EEXIST);
        CHECK(sys(mknod("", S_IFCHR | 0600, makedev(1, 3))) == -ENOENT);
        /* Through links that point above or at the host's /etc: inside. */
        CHECK(sys(mknod("/etcabs/slipway-test-record-node", S_IFCHR | 0600, makedev(1, 7))) == 0);
        CHECK(sys(mknod("/up/up-node", S_IFCHR | 0600, makedev(1, 8))) == 0);
        CHECK(sys(mknod("/rel-up/rel-up-node", S_IFCHR | 0600, makedev(1, 9))) == 0);
}

static void calls_xattr(void) {
        static const uint8_t cap[20] = { 0, 0, 0, 2, 0, 0x20, 0 };
        static const char label[] = "system_u:object_r:bin_t:s0";
        char v[64];
        CHECK(sys(setxattr("/f", "security.capability", cap, sizeof cap, 0)) == 0);
        CHECK(sys(setxattr("/f", "security.selinux", label, sizeof label, 0)) == 0);
        CHECK(sys(setxattr("/f", "security.capability", cap, sizeof cap, XATTR_CREATE)) == -EEXIST);
        CHECK(sys(setxattr("/f", "security.capability", cap, sizeof cap, XATTR_REPLACE)) == 0);
        CHECK(sys(removexattr("/f", "security.selinux")) == 0);
        CHECK(sys(removexattr("/f", "security.selinux")) == -ENODATA);
        CHECK(sys(setxattr("/f", "security.selinux", "x", 1, XATTR_REPLACE)) == -ENODATA);
        CHECK(sys(setxattr("/f", "user.x", "v", 1, 0)) == 0); /* for real */
        CHECK(getxattr("/f", "user.x", v, sizeof v) == 1 && v[0] == 'v');
        CHECK(sys(getxattr("/f", "security.capability", v, sizeof v)) == -ENODATA); /* not intercepted */
        CHECK(sys(lsetxattr("/link", "security.selinux", "l", 1, 0)) == 0);
        int fd = open("/fx", O_RDONLY | O_CLOEXEC);
        CHECK(sys(fsetxattr(fd, "security.capability", cap, sizeof cap, 0)) == 0);
        CHECK(sys(fremovexattr(fd, "security.ima")) == 0);
        close(fd);
        CHECK(sys(lremovexattr("/lnf", "security.selinux")) == 0);
        CHECK(sys(setxattr("/f", "security.", "x", 1, 0)) == -EINVAL);
        CHECK(sys(setxattr("/f", "security.x", "x", 1, 0x10)) == -EINVAL);
        CHECK(sys(setxattr("/nonexistent", "security.x", "x", 1, 0)) == -ENOENT);
        char name[300];
        memset(name, 'n', sizeof name - 1);
        memcpy(name, "security.", 9);
        name[sizeof name - 1] = 0;
        CHECK(sys(setxattr("/f", name, "x", 1, 0)) == -ERANGE);
        CHECK(sys(syscall(SYS_setxattr, "/f", "security.big", cap, 65537, 0)) == -E2BIG);
}

/* What the recorder must leave to the kernel inside the root too: another
 * file system (a tmpfs mounted inside), files of ids the user namespace does
 * not map (made when the test runs as root). */
static void calls_not_ours(void) {
        struct stat st;
        CHECK(sys(mount("tmpfs", "/tmpfs", "tmpfs", 0, "mode=0755")) == 0);
        int fd = open("/tmpfs/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        CHECK(sys(chown("/tmpfs/x", 1, 1)) == -EINVAL); /* the kernel: 1 is not mapped */
        CHECK(sys(fchown(fd, 1, 1)) == -EINVAL);
        CHECK(sys(chown("/tmpfs/x", 0, 0)) == 0);         /* the kernel: it may */
        CHECK(sys(mknod("/tmpfs/node", S_IFCHR | 0600, makedev(1, 3))) == -EPERM);
        CHECK(sys(setxattr("/tmpfs/x", "security.capability", "x", 1, 0)) == -EINVAL);
        close(fd);
        /* From a working directory there, a path back into the root's is ours. */
        CHECK(sys(chdir("/tmpfs")) == 0);
        CHECK(sys(chown("../g7", 50, 51)) == 0);
        CHECK(sys(chown("x", 52, 52)) == -EINVAL);
        CHECK(sys(chdir("/")) == 0);
        CHECK(sys(umount2("/tmpfs", MNT_DETACH)) == 0);

        if (lstat("/foreign", &st) == 0) {
                CHECK(st.st_uid == 65534); /* not mapped: the overflow id */
                CHECK(sys(chown("/foreign", 5, 5)) == -EPERM);
                CHECK(sys(chown("/foreign", (uid_t) -1, (gid_t) -1)) == -EPERM);
                CHECK(sys(setxattr("/foreign", "security.selinux", "x", 1, 0)) == -EPERM);
                CHECK(sys(mknod("/fdir/node", S_IFCHR | 0600, makedev(1, 3))) == -EACCES);
                CHECK(sys(mknod("/fdir-open/node", S_IFCHR | 0600, makedev(1, 3))) == 0);
        }
}

static void calls_escaping(int outdir_fd, int outfile_fd) {
        CHECK(sys(chown("/up/outside", 1, 1)) == -ENOENT);
        CHECK(sys(chown("/rel-up/outside", 1, 1)) == -ENOENT);
        CHECK(sys(chown("/../outside", 1, 1)) == -ENOENT);
        CHECK(sys(chown("../../outside", 1, 1)) == -ENOENT);
        CHECK(sys(setxattr("/up/outside", "security.selinux", "x", 1, 0)) == -ENOENT);
        /* Descriptors of the host's files: the kernel answers (1 is not mapped). */
        CHECK(sys(fchownat(outdir_fd, "outside", 1, 1, 0)) == -EINVAL);
        CHECK(sys(fchown(outfile_fd, 1, 1)) == -EINVAL);
        CHECK(sys(fchownat(outfile_fd, "", 1, 1, AT_EMPTY_PATH)) == -EINVAL);
        CHECK(sys(mknodat(outdir_fd, "out-node", S_IFCHR | 0600, makedev(1, 3))) == -EPERM);
        CHECK(sys(fsetxattr(outfile_fd, "security.capability", "x", 1, 0)) == -EINVAL);
}

static void sandbox_child(int sock) {
        unit_checks = unit_failures = 0;
        int r = enter_user_namespace();
        if (r < 0) {
                send_fd(sock, r, -1);
                _exit(SKIP);
        }
        CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
        int outdir_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int outfile_fd = open(at("^outside"), O_RDONLY | O_CLOEXEC);
        int listener = -1;
        r = record_install_filter(&listener);
        send_fd(sock, r, listener);
        if (r < 0)
                _exit(SKIP);
        close(listener);

        pid_t pid = fork();
        if (pid == 0) {
                calls_from_outside_root();
                _exit(unit_failures ? 1 : 0);
        }
        int status;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

        CHECK(chroot(root) == 0 && chdir("/") == 0);
        umask(022);
        Report rep = { 0 };
        calls_owner(&rep);
        calls_device();
        calls_xattr();
        calls_not_ours();
        calls_escaping(outdir_fd, outfile_fd);

        struct stat st;
        if (stat("/bin/busybox", &st) == 0) {
                rep.busybox = true;
                CHECK(run((char *[]) { "/bin/busybox", "chown", "40:41", "/bb/f", NULL }) == 0);
                CHECK(run((char *[]) { "/bin/busybox", "chown", "-h", "42:43", "/bb/l", NULL }) == 0);
                CHECK(run((char *[]) { "/bin/busybox", "chown", "44:45", "/bb/l2", NULL }) == 0);
                CHECK(run((char *[]) { "/bin/busybox", "mknod", "/bb/d", "c", "1", "3", NULL }) == 0);
                CHECK(run((char *[]) { "/bin/busybox", "mknod", "/bb/p", "p", NULL }) == 0);
                CHECK(run((char *[]) { "/bin/busybox", "sh", "-c", "cd /bb && chown 46:47 rel && mknod -m 600 b b 8 2",
                                       NULL }) == 0);
                CHECK(run((char *[]) { "/bin/busybox", "chown", "1:1", "/bb/missing", NULL }) == 1);
        }
#if defined(__x86_64__)
        r = run((char *[]) { "/bin/i386", NULL });
        if (r == -ENOEXEC)
                fprintf(stderr, "SKIP i386: this kernel runs no 32-bit programs\n");
        else {
                rep.i386 = true;
                CHECK(r == 0);
        }
#endif
        close(outdir_fd);
        close(outfile_fd);
        rep.checks = unit_checks;
        rep.failures = unit_failures;
        (void) !write(sock, &rep, sizeof rep);
        _exit(0);
}

/* ---- the recorder (the parent) ------------------------------------------------ */

static const RecordEntry *rec(const Recorder *r, const char *rel) {
        struct stat st;
        if (lstat(at(rel), &st) < 0)
                return NULL;
        return recorder_find(r, st.st_dev, st.st_ino);
}

static bool owner_is(const Recorder *r, const char *rel, uint32_t uid, uint32_t gid) {
        const RecordEntry *e = rec(r, rel);
        if (!e || !e->has_owner || e->uid != uid || e->gid != gid) {
                fprintf(stderr, "%s: owner %s %u:%u\n", rel, e && e->has_owner ? "is" : "not recorded",
                        e ? e->uid : 0, e ? e->gid : 0);
                return false;
        }
        return true;
}

static bool device_is(const Recorder *r, const char *rel, uint32_t mode, uint32_t major, uint32_t minor) {
        const RecordEntry *e = rec(r, rel);
        return e && e->is_device && e->mode == mode && e->rdev_major == major && e->rdev_minor == minor;
}

static const RecordXattr *xattr_of(const Recorder *r, const char *rel, const char *name) {
        const RecordEntry *e = rec(r, rel);
        for (size_t i = 0; e && i < e->n_xattrs; i++)
                if (strcmp(e->xattrs[i].name, name) == 0)
                        return &e->xattrs[i];
        return NULL;
}

static bool names_are(const char *dir, const char *const *names, size_t n) {
        DIR *d = opendir(dir);
        size_t seen = 0;
        bool ok = d != NULL;
        for (struct dirent *de; d && (de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                bool known = false;
                for (size_t i = 0; i < n; i++)
                        known = known || strcmp(de->d_name, names[i]) == 0;
                if (!known)
                        fprintf(stderr, "unexpected '%s/%s'\n", dir, de->d_name);
                ok = ok && known;
                seen++;
        }
        if (d)
                closedir(d);
        return ok && seen == n;
}

static void check_records(const Recorder *r, const Report *rep) {
        size_t expected = 0;
#define OWNER(rel, u, g)                                                              \
        do {                                                                          \
                CHECK(owner_is(r, rel, u, g));                                        \
                expected++;                                                           \
        } while (0)
        OWNER("f", 5, 7);
        OWNER("g", 0, 9);
        OWNER("g2", 3, 0);
        CHECK(!rec(r, "h"));
        OWNER("link", 11, 12);
        CHECK(!rec(r, "link2"));
        OWNER("t2", 13, 14);
        OWNER("lnf", 31, 32);
        CHECK(!rec(r, "lnf-target"));
        OWNER("fc", 15, 16);
        OWNER("dir/sub", 17, 18);
        OWNER("dir/x", 19, 20);
        OWNER("dir/rel", 25, 26);
        OWNER("g3", 27, 28);
        OWNER("g4", 29, 30);
        OWNER("g6", 33, 34);
        OWNER("g7", 50, 51);
        OWNER("dir", 35, 36);
        const RecordEntry *e = recorder_find(r, rep->tmpfile_dev, rep->tmpfile_ino);
        CHECK(e && e->has_owner && e->uid == 37 && e->gid == 38);
        expected++;
        OWNER("etc/passwd", 0, 0);
        OWNER("etc/shadow", 0, 42);

        struct stat st;
        CHECK(device_is(r, "dev0", S_IFCHR | 0644, 1, 3));
        CHECK(device_is(r, "dir/blk", S_IFBLK | 0600, 8, 1));
        CHECK(device_is(r, "big2", S_IFCHR | 06755, 259, 70000));
        CHECK(lstat(at("big2"), &st) == 0 && (st.st_mode & 07777) == 06755);
        CHECK(device_is(r, "reldev", S_IFCHR | 0600, 4, 64));
        CHECK(device_is(r, "etc/slipway-test-record-node", S_IFCHR | 0600, 1, 7));
        CHECK(device_is(r, "up-node", S_IFCHR | 0600, 1, 8));
        CHECK(device_is(r, "rel-up-node", S_IFCHR | 0600, 1, 9));
        CHECK(!rec(r, "fifo"));
        expected += 7;
        CHECK(!rec(r, "tmpfs"));
        if (geteuid() == 0) {
                CHECK(!rec(r, "foreign"));
                CHECK(device_is(r, "fdir-open/node", S_IFCHR | 0600, 1, 3));
                CHECK(lstat(at("fdir/node"), &st) < 0 && errno == ENOENT);
                expected++;
        }

        const RecordXattr *x = xattr_of(r, "f", "security.capability");
        CHECK(x && !x->removed && x->size == 20 && x->value[3] == 2 && x->value[5] == 0x20);
        x = xattr_of(r, "f", "security.selinux");
        CHECK(x && x->removed && !x->value);
        CHECK(rec(r, "f") && rec(r, "f")->n_xattrs == 2); /* user.x is the file's */
        x = xattr_of(r, "link", "security.selinux");
        CHECK(x && !x->removed && x->size == 1 && x->value[0] == 'l');
        x = xattr_of(r, "fx", "security.capability");
        CHECK(x && !x->removed && x->size == 20);
        x = xattr_of(r, "fx", "security.ima");
        CHECK(x && x->removed);
        CHECK(rec(r, "fx") && strcmp(rec(r, "fx")->xattrs[0].name, "security.capability") == 0); /* sorted */
        x = xattr_of(r, "lnf", "security.selinux");
        CHECK(x && x->removed);
        expected += 1; /* fx */

        if (rep->busybox) {
                OWNER("bb/f", 40, 41);
                OWNER("bb/l", 42, 43);
                OWNER("bb/t", 44, 45);
                CHECK(!rec(r, "bb/l2"));
                OWNER("bb/rel", 46, 47);
                CHECK(device_is(r, "bb/d", S_IFCHR | 0644, 1, 3));
                CHECK(device_is(r, "bb/b", S_IFBLK | 0600, 8, 2));
                CHECK(!rec(r, "bb/p"));
                expected += 2;
        } else
                fprintf(stderr, "SKIP busybox: no /bin/busybox (busybox-static)\n");
        if (rep->i386) {
                OWNER("c32", 21, 22);
                OWNER("c16", 23, 0);
                OWNER("c32at", 24, 25);
                CHECK(device_is(r, "n32", S_IFCHR | 0640, 1, 5));
                expected++;
        }
#undef OWNER

        /* Nothing else, and nothing outside. */
        CHECK(recorder_count(r) == expected);
        if (recorder_count(r) != expected)
                fprintf(stderr, "%zu records, %zu expected\n", recorder_count(r), expected);
        CHECK(!recorder_entry(r, recorder_count(r)));
        CHECK(!rec(r, "^outside"));
        CHECK(!rec(r, "^outdir"));
        CHECK(!rec(r, "g5"));
        CHECK(names_are(base, (const char *const[]) { "root", "outside", "outdir" }, 3));
        CHECK(names_are(at("^outdir"), (const char *const[]) { "inner" }, 1));
        CHECK(lstat(at("^outside"), &st) == 0 && st.st_uid == geteuid() && st.st_nlink == 1);
        CHECK(lstat(HOST_NODE, &st) < 0 && errno == ENOENT);
        CHECK(lstat(at("rel-up-node"), &st) == 0 && S_ISREG(st.st_mode));
}

static void make_root(void) {
        static const char *const dirs[] = { "", "etc", "dir", "bin", "bb" };
        static const char *const files[] = { "f", "g", "g2", "g3", "g4", "g5", "g6", "g7", "h", "t2", "lnf-target", "fc",
                                             "fx", "dir/sub", "dir/x", "dir/rel", "etc/passwd", "etc/shadow",
                                             "bb/f", "bb/t", "bb/rel", "c32", "c16", "c32at", "^outside",
                                             "^outdir/inner" };
        static const char *const links[][2] = { { "link", "f" }, { "link2", "t2" }, { "lnf", "lnf-target" },
                                                { "up", "/.." }, { "rel-up", "../../.." }, { "etcabs", "/etc" },
                                                { "bb/l", "f" }, { "bb/l2", "t" } };
        CHECK(mkdir(at("^outdir"), 0755) == 0);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                CHECK(mkdir(at(dirs[i]), 0755) == 0);
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                put(files[i]);
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                CHECK(symlink(links[i][1], at(links[i][0])) == 0);
        CHECK(mkdir(at("tmpfs"), 0755) == 0);
        if (geteuid() == 0) {
                /* Owned by ids the sandbox does not map. */
                CHECK(mkdir(at("fdir"), 0755) == 0 && mkdir(at("fdir-open"), 0777) == 0);
                CHECK(chmod(at("fdir-open"), 0777) == 0);
                put("foreign");
                CHECK(chown(at("foreign"), 1234, 1234) == 0 && chown(at("fdir"), 1234, 1234) == 0 &&
                      chown(at("fdir-open"), 1234, 1234) == 0);
        }
        if (access("/bin/busybox", R_OK) == 0)
                copy_file("/bin/busybox", at("bin/busybox"), 0755);
#if defined(__x86_64__)
        write_i386_program(at("bin/i386"));
#endif
}

static int test_record(void) {
        struct stat st;
        if (lstat(HOST_NODE, &st) == 0) {
                fprintf(stderr, "SKIP: %s exists on this host\n", HOST_NODE);
                return SKIP;
        }
        snprintf(base, sizeof base, "/tmp/slipway-test-record.XXXXXX");
        CHECK(mkdtemp(base) != NULL);
        snprintf(root, sizeof root, "%s/root", base);
        make_root();

        _cleanup_(recorder_freep) Recorder *rec_ = NULL;
        CHECK(recorder_new(root, &rec_) == 0);
        CHECK(recorder_new(at("^nonexistent"), &(Recorder *) { NULL }) == -ENOENT);

        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                close(sv[0]);
                sandbox_child(sv[1]);
        }
        close(sv[1]);
        int status = 0, skip = 0;
        int listener = recv_fd(sv[0], &status);
        if (status < 0) {
                fprintf(stderr, "SKIP: %s: %s\n", status == -ENOSYS ? "seccomp user notification" : "user namespace",
                        strerror(-status));
                skip = SKIP;
        } else {
                CHECK(listener >= 0 && rec_);
                /* Serve until the sandbox is gone: its last process reaped,
                 * the listener hangs up. */
                time_t deadline = time(NULL) + 50;
                bool exited = false, hung_up = false;
                while (time(NULL) < deadline) {
                        struct pollfd p = { .fd = listener, .events = POLLIN };
                        if (poll(&p, 1, 100) > 0 && (p.revents & POLLIN)) {
                                int r = recorder_handle(rec_, listener);
                                CHECK(r == 0);
                                if (r < 0)
                                        break;
                        }
                        if (!exited && waitpid(pid, &status, WNOHANG) == pid)
                                exited = true;
                        if (exited && recorder_handle(rec_, listener) == -ECHILD) {
                                hung_up = true;
                                break;
                        }
                }
                CHECK(hung_up);
                CHECK(recorder_handle(rec_, -1) == -EBADF);
                if (!exited) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                }
                CHECK(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0);
                Report rep = { 0 };
                CHECK(recv(sv[0], &rep, sizeof rep, MSG_DONTWAIT) == sizeof rep);
                unit_checks += rep.checks;
                unit_failures += rep.failures;
                check_records(rec_, &rep);
                close(listener);
        }
        if (skip)
                waitpid(pid, &status, 0);
        close(sv[0]);
        rm_rf(base);
        return skip;
}

/* As root: the whole test again as nobody, from a copy of this program
 * anyone may run. */
static void test_as_nobody(void) {
        char dir[] = "/tmp/slipway-test-record-exe.XXXXXX", exe[PATH_MAX];
        CHECK(mkdtemp(dir) != NULL && chmod(dir, 0755) == 0);
        snprintf(exe, sizeof exe, "%s/test-record", dir);
        copy_file("/proc/self/exe", exe, 0755);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                setenv(USER_ENV, "65534", 1);
                execlp("setpriv", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe, (char *) NULL);
                _exit(127);
        }
        int status = -1;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        if (WEXITSTATUS(status) == 127)
                fprintf(stderr, "SKIP as nobody: no setpriv\n");
        else if (WEXITSTATUS(status) == SKIP)
                fprintf(stderr, "SKIP as nobody (see above)\n");
        else
                CHECK(WEXITSTATUS(status) == 0);
        rm_rf(dir);
}

int unit_failures, unit_checks;

int main(void) {
        int skip = test_record();
        if (!getenv(USER_ENV) && geteuid() == 0)
                test_as_nobody();
        printf("%s%d checks, %d failed\n", getenv(USER_ENV) ? "as nobody: " : "", unit_checks, unit_failures);
        return unit_failures ? 1 : skip;
}
