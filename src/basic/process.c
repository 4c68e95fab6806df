/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/process.h"
#include "basic/run.h"
#include "basic/strbuf.h"

static char *find_program(const char *name, char *const *envp) {
        if (strchr(name, '/'))
                return strdup(name);
        const char *path = "/usr/bin:/bin";
        for (char *const *e = envp; e && *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        while (*path) {
                size_t n = strcspn(path, ":");
                char *cand;
                if (asprintf(&cand, "%.*s/%s", (int) n, path, name) < 0)
                        return NULL;
                if (access(cand, X_OK) == 0)
                        return cand;
                free(cand);
                path += n;
                if (*path == ':')
                        path++;
        }
        errno = ENOENT;
        return NULL;
}

/* Maps our uid and gid to root in the new user namespace (process.h), so
 * that a build sees what a build as root sees: files (the spec, its
 * sources, what it installs) owned by root, whose names rpm records (a
 * source RPM keeps its files' owners). Nothing else is mapped: the child
 * holds no privilege over anything outside. */
int process_map_ids(uid_t uid, gid_t gid) {
        char buf[64];
        int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) !write(fd, "deny", 4);
                close(fd);
        }
        int n = snprintf(buf, sizeof buf, "0 %u 1", (unsigned) uid);
        fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, buf, (size_t) n) != n)
                return negative_errno();
        close(fd);
        n = snprintf(buf, sizeof buf, "0 %u 1", (unsigned) gid);
        fd = open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, buf, (size_t) n) != n)
                return negative_errno();
        close(fd);
        return 0;
}

/* A read-only remount of a bind keeps the flags the source was mounted with:
 * inside a user namespace the kernel refuses to clear them (they are locked). */
unsigned long process_kept_mount_flags(const char *path) {
        struct statfs sf;
        unsigned long f = 0;
        if (statfs(path, &sf) < 0)
                return 0;
        if (sf.f_flags & ST_NOSUID)
                f |= MS_NOSUID;
        if (sf.f_flags & ST_NODEV)
                f |= MS_NODEV;
        if (sf.f_flags & ST_NOEXEC)
                f |= MS_NOEXEC;
        if (sf.f_flags & ST_NOATIME)
                f |= MS_NOATIME;
        if (sf.f_flags & ST_NODIRATIME)
                f |= MS_NODIRATIME;
        if (sf.f_flags & ST_RELATIME)
                f |= MS_RELATIME;
        return f;
}

static bool isolated(const ProcessOptions *o) {
        return o->new_netns || o->n_binds > 0;
}

/* In the child: the namespaces and binds o asks for; as root directly,
 * otherwise inside a new user namespace. A namespaced program also gets a new
 * PID namespace (*ret_pidns), so that everything it starts ends with it (the
 * kernel kills a PID namespace's processes when its first one exits).
 * Only system calls here: we may be a fork of a threaded process. Returns 0
 * or an errno (EPERM: unshare refused). */
static int child_isolate(const ProcessOptions *o, uid_t uid, gid_t gid, bool *ret_pidns) {
        int flags = (o->new_netns ? CLONE_NEWNET : 0) | (o->n_binds > 0 ? CLONE_NEWNS : 0);
        *ret_pidns = false;
        if (flags == 0)
                return 0;
        if (unshare(flags | CLONE_NEWPID) == 0)
                *ret_pidns = true;
        else if (unshare(CLONE_NEWUSER | flags | CLONE_NEWPID) == 0) {
                *ret_pidns = true;
                if (process_map_ids(uid, gid) < 0)
                        return EPERM;
        } else if (unshare(flags) < 0) {
                /* A kernel or sandbox without PID namespaces: the process
                 * group is what stops the build's processes then. */
                if (unshare(CLONE_NEWUSER | flags) < 0 || process_map_ids(uid, gid) < 0)
                        return EPERM;
        }
        if (o->n_binds == 0)
                return 0;
        /* Nothing mounted here may reach the host's namespace. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return errno;
        for (size_t i = 0; i < o->n_binds; i++) {
                const ProcessBind *b = &o->binds[i];
                if (mount(b->source, b->target, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return errno;
                if (b->read_only && mount(NULL, b->target, NULL,
                                          MS_REMOUNT | MS_BIND | MS_RDONLY | process_kept_mount_flags(b->target), NULL) < 0)
                        return errno;
        }
        return 0;
}

static int status_code(int status) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int process_pidns_fork(int parent_fd) {
        sigset_t set;
        int lifeline[2];

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGCHLD);
        if (pipe2(lifeline, O_CLOEXEC) < 0 || sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return negative_errno();
        pid_t init = fork();
        if (init < 0)
                return negative_errno();
        if (init == 0) {
                /* Dies with its parent, also if the parent died before this
                 * prctl (the pipe's last writer is gone then; getppid() is 0
                 * in a new PID namespace). */
                close(lifeline[1]);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                        _exit(127);
                struct pollfd pfd = { .fd = lifeline[0], .events = POLLIN };
                if (poll(&pfd, 1, 0) != 0)
                        _exit(127);
                close(lifeline[0]);
                return 0;
        }
        close(lifeline[0]);
        if (parent_fd >= 0)
                close(parent_fd);
        for (;;) {
                siginfo_t si;
                int status;
                int sig = sigwaitinfo(&set, &si);
                if (sig == SIGTERM) {
                        (void) kill(init, SIGKILL);
                        while (waitpid(init, &status, 0) < 0 && errno == EINTR)
                                ;
                        _exit(128 + SIGTERM);
                }
                if (sig == SIGCHLD && waitpid(init, &status, WNOHANG) == init)
                        _exit(status_code(status));
        }
}

/* In the child, with a new PID namespace made: the namespace's first
 * process (process_pidns_fork()) runs the program as its child and exits
 * with its status, ending the namespace and whatever is left in it.
 * Returns only in that child, which is to exec the program. */
static void child_pidns(int errfd) {
        sigset_t none;

        if (process_pidns_fork(errfd) < 0)
                _exit(127);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        pid_t prog = fork();
        if (prog < 0)
                _exit(127);
        if (prog == 0)
                return;
        close(errfd);
        int status;
        for (;;) {
                pid_t w = wait(&status);
                if (w == prog)
                        _exit(status_code(status));
                if (w < 0 && errno != EINTR)
                        _exit(127);
        }
}

int process_run(const ProcessOptions *o, char **ret_output, int *ret_status) {
        _cleanup_free_ char *prog = find_program(o->argv[0], o->envp);
        int pipefd[2] = { -1, -1 }, errpipe[2] = { -1, -1 };
        uid_t uid = getuid();
        gid_t gid = getgid();

        if (!prog)
                return errno == ENOENT ? -ENOENT : -ENOMEM;
        if (o->output_fd < 0 && pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        /* The child reports a failure before exec through this pipe. */
        if (pipe2(errpipe, O_CLOEXEC) < 0) {
                int r = negative_errno();
                if (pipefd[0] >= 0) {
                        close(pipefd[0]);
                        close(pipefd[1]);
                }
                return r;
        }

        /* Every child is known to run.c (a signal stops it) and dies with
         * slipway (its parent-death signal), in its own process group. */
        pid_t parent = getpid();
        int r = run_child_lock();
        pid_t pid = r < 0 ? -1 : fork();
        if (pid > 0) {
                (void) setpgid(pid, pid); /* as the child does: whichever runs first */
                run_child_add(pid, isolated(o));
        }
        if (r >= 0)
                run_child_unlock();
        if (pid < 0) {
                if (r >= 0)
                        r = negative_errno();
                close(errpipe[0]);
                close(errpipe[1]);
                if (pipefd[0] >= 0) {
                        close(pipefd[0]);
                        close(pipefd[1]);
                }
                return r;
        }
        if (pid == 0) {
                int err, nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                bool pidns;
                sigset_t none;
                sigemptyset(&none);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                (void) setpgid(0, 0);
                err = child_isolate(o, uid, gid, &pidns);
                if (err != 0)
                        goto child_fail;
                /* A new user namespace may have reset it; and the parent may
                 * have died meanwhile. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                if (pidns)
                        child_pidns(errpipe[1]);
                /* slipway blocks the signals its signal thread takes (run.c):
                 * the program starts with none blocked. */
                if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                        goto child_errno;
                if (dup2(nul, STDIN_FILENO) < 0)
                        goto child_errno;
                if (o->output_fd >= 0) {
                        if (dup2(o->output_fd, STDOUT_FILENO) < 0 || dup2(o->output_fd, STDERR_FILENO) < 0)
                                goto child_errno;
                } else if (dup2(pipefd[1], STDOUT_FILENO) < 0 ||
                           dup2(o->capture_stderr ? pipefd[1] : nul, STDERR_FILENO) < 0)
                        goto child_errno;
                if (o->cwd && chdir(o->cwd) < 0)
                        goto child_errno;
                execve(prog, o->argv, o->envp);
        child_errno:
                err = errno;
        child_fail:
                (void) !write(errpipe[1], &err, sizeof err);
                _exit(127);
        }

        close(errpipe[1]);
        _cleanup_strbuf_ StrBuf out = STRBUF_INIT;
        if (pipefd[0] >= 0) {
                close(pipefd[1]);
                char buf[65536];
                for (;;) {
                        ssize_t n = read(pipefd[0], buf, sizeof buf);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        strbuf_put(&out, buf, (size_t) n);
                }
                close(pipefd[0]);
        }
        int child_err = 0;
        ssize_t k = read(errpipe[0], &child_err, sizeof child_err);
        close(errpipe[0]);

        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = negative_errno();
                        run_child_remove(pid);
                        return r;
                }
        run_child_remove(pid);
        run_park_if_ending();
        if (k == (ssize_t) sizeof child_err)
                return -child_err;

        if (ret_output) {
                char *s = strbuf_detach(&out, NULL);
                if (!s)
                        return -ENOMEM;
                *ret_output = s;
        }
        *ret_status = status_code(status);
        return 0;
}

double monotonic_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
