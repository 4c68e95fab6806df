/* SPDX-License-Identifier: MIT */

/* One run's scratch space, temporaries, children, signals and locks (run.h).
 *
 * Everything here that looks at a shared directory works relative to
 * directory fds opened with O_NOFOLLOW and checks the owner, so a name
 * another user planted (a symbolic link, a directory of theirs) is never
 * followed, entered or removed. */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/run.h"

#define RUN_PREFIX "slipway-run."
#define RUN_SUFFIX_LEN 6 /* mkdtemp's XXXXXX */
#define OUTPUT_LOCK ".slipway.lock"
#define SWEEP_DEPTH 4    /* OUT/images/NAME.oci/blobs/sha256 */

typedef struct Tracked {
        char *path;
        dev_t dev;
        ino_t ino;
} Tracked;

typedef struct Child {
        pid_t pid;
        bool pidns;
} Child;

typedef struct OutputLock {
        char *dir; /* realpath */
        int fd;
} OutputLock;

/* lock guards everything below; it is also held across fork() in
 * process_run(), so that a signal's cleanup knows every child. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool terminating;
static char *scratch;          /* the run's directory in $TMPDIR */
static int scratch_lock = -1;  /* its lock, flock()ed LOCK_EX */
static char *mem_scratch;      /* the run's directory in /dev/shm (run_mkdtemp_memory()) */
static int mem_scratch_lock = -1;
static Tracked *tracked;
static size_t n_tracked, allocated_tracked;
static Child *children;
static size_t n_children, allocated_children;
static OutputLock *outputs;
static size_t n_outputs, allocated_outputs;
static pthread_rwlock_t critical = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t creating = PTHREAD_RWLOCK_INITIALIZER;
static void (*notify_cb)(int sig);
static void (*before_cb)(void *userdata);
static void *before_userdata;

static bool all_alnum(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]))
                        return false;
        return s[n] == 0;
}

bool run_is_temporary_name(const char *name) {
        static const char *const infixes[] = { ".tmp.", ".disk." };
        size_t l = strlen(name);

        if (strncmp(name, ".slipway-tmp-", 13) == 0)
                return all_alnum(name + 13, RUN_SUFFIX_LEN);
        for (size_t i = 0; i < ELEMENTSOF(infixes); i++) {
                size_t k = strlen(infixes[i]);
                /* NAME.tmp.XXXXXX with a non-empty NAME */
                if (l > k + RUN_SUFFIX_LEN && strncmp(name + l - RUN_SUFFIX_LEN - k, infixes[i], k) == 0 &&
                    all_alnum(name + l - RUN_SUFFIX_LEN, RUN_SUFFIX_LEN))
                        return true;
        }
        return false;
}

static const char *tmp_root(void) {
        const char *t = getenv("TMPDIR");
        return t && t[0] == '/' ? t : "/tmp";
}

static bool is_tmpfs(const char *path) {
        struct statfs sf;
        return statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

/* Where run_mkdtemp_memory() puts its directories when $TMPDIR is not in
 * memory already: /dev/shm if it is a tmpfs we may write; else NULL. */
static const char *memory_root(void) {
        static const char shm[] = "/dev/shm";
        if (is_tmpfs(tmp_root()) || !is_tmpfs(shm) || access(shm, W_OK | X_OK) < 0)
                return NULL;
        return shm;
}

/* ---- scratch ------------------------------------------------------------------ */

/* Removes the dead runs' directories in tmp: ours (euid), real directories,
 * with a lock file nobody holds. A directory without one yet is left: its
 * run may be making it (the lock is in place before it has its name). */
static void sweep_tmpdir(const char *tmp, const char *own) {
        _cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return;
        int dup_fd = dup(dfd);
        if (dup_fd < 0)
                return;
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return;
        }
        uid_t me = geteuid();
        for (struct dirent *de; (de = readdir(d));) {
                if (strncmp(de->d_name, RUN_PREFIX, strlen(RUN_PREFIX)) != 0 ||
                    !all_alnum(de->d_name + strlen(RUN_PREFIX), RUN_SUFFIX_LEN) || strcmp(de->d_name, own) == 0)
                        continue;
                struct stat st, st2;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != me)
                        continue;
                _cleanup_close_ int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0 || fstat(sub, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev ||
                    st2.st_uid != me)
                        continue;
                _cleanup_close_ int lf = openat(sub, "lock", O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (lf < 0 || fstat(lf, &st2) < 0 || !S_ISREG(st2.st_mode) || st2.st_uid != me)
                        continue;
                if (flock(lf, LOCK_EX | LOCK_NB) < 0)
                        continue; /* a live run */
                (void) rm_rf_at(dfd, de->d_name);
        }
        closedir(d);
}

static int make_scratch_in(const char *tmp, char **ret_dir, int *ret_lock) {
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/" RUN_PREFIX "XXXXXX", tmp) < 0)
                return -ENOMEM;
        if (!mkdtemp(dir))
                return negative_errno();
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int fd = dfd < 0 ? -1 : openat(dfd, "lock.new", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        /* Locked before it is named "lock": a sweeper never sees it free. */
        if (fd < 0 || flock(fd, LOCK_EX) < 0 || renameat(dfd, "lock.new", dfd, "lock") < 0) {
                int r = negative_errno();
                if (fd >= 0)
                        close(fd);
                (void) rm_rf(dir);
                return r;
        }
        sweep_tmpdir(tmp, strrchr(dir, '/') + 1);
        *ret_dir = TAKE_PTR(dir);
        *ret_lock = fd;
        return 0;
}

static int make_scratch(void) {
        return make_scratch_in(tmp_root(), &scratch, &scratch_lock);
}

int run_scratch_dir(const char **ret) {
        int r = 0;
        pthread_mutex_lock(&lock);
        if (terminating)
                r = -ECANCELED;
        else if (!scratch)
                r = make_scratch();
        if (r >= 0)
                *ret = scratch;
        pthread_mutex_unlock(&lock);
        return r;
}

static int mkdtemp_in(const char *s, const char *prefix, char **ret);

int run_mkdtemp(const char *prefix, char **ret) {
        const char *s;
        int r = run_scratch_dir(&s);
        if (r < 0)
                return r;
        return mkdtemp_in(s, prefix, ret);
}

int run_mkdtemp_memory(const char *prefix, uint64_t size, char **ret) {
        const char *root = memory_root();
        struct statvfs sv;
        /* Room for it with a quarter and 64 MiB to spare: a staged tree must
         * not fill the memory others share. */
        if (!root || statvfs(root, &sv) < 0 ||
            (uint64_t) sv.f_bavail * sv.f_frsize < size + size / 4 + (UINT64_C(64) << 20))
                return run_mkdtemp(prefix, ret);
        int r = 0;
        pthread_mutex_lock(&lock);
        if (terminating)
                r = -ECANCELED;
        else if (!mem_scratch)
                r = make_scratch_in(root, &mem_scratch, &mem_scratch_lock);
        const char *s = mem_scratch;
        pthread_mutex_unlock(&lock);
        if (r < 0)
                return r == -ECANCELED ? r : run_mkdtemp(prefix, ret);
        return mkdtemp_in(s, prefix, ret);
}

static int mkdtemp_in(const char *s, const char *prefix, char **ret) {
        int r;
        char *d;
        if (asprintf(&d, "%s/%s.XXXXXX", s, prefix) < 0)
                return -ENOMEM;
        /* Not while a signal's cleanup removes the scratch directory. */
        r = run_create_begin();
        if (r < 0) {
                free(d);
                return r;
        }
        if (!mkdtemp(d))
                r = negative_errno();
        run_create_end();
        if (r < 0) {
                free(d);
                return r;
        }
        *ret = d;
        return 0;
}

void run_park_if_ending(void) {
        pthread_mutex_lock(&lock);
        bool t = terminating;
        pthread_mutex_unlock(&lock);
        /* The signal thread cleans up and ends the process with 128 + the
         * signal; nothing else may finish the run first (with a status of
         * its own, or by removing what the cleanup is about to). */
        while (t)
                pause();
}

void run_finish(void) {
        run_park_if_ending();
        pthread_mutex_lock(&lock);
        if (scratch) {
                (void) rm_rf(scratch);
                free(scratch);
                scratch = NULL;
        }
        if (scratch_lock >= 0)
                scratch_lock = (close(scratch_lock), -1);
        if (mem_scratch) {
                (void) rm_rf(mem_scratch);
                free(mem_scratch);
                mem_scratch = NULL;
        }
        if (mem_scratch_lock >= 0)
                mem_scratch_lock = (close(mem_scratch_lock), -1);
        for (size_t i = 0; i < n_outputs; i++) {
                close(outputs[i].fd);
                free(outputs[i].dir);
        }
        free(outputs);
        outputs = NULL;
        n_outputs = allocated_outputs = 0;
        pthread_mutex_unlock(&lock);
}

/* ---- temporaries beside outputs ------------------------------------------------- */

int run_track(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return negative_errno();
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        int r = 0;
        /* Also once the run is ending: the caller is between
         * run_create_begin() and _end(), which the cleanup waits for. */
        pthread_mutex_lock(&lock);
        if (!GREEDY_REALLOC(tracked, allocated_tracked, n_tracked + 1))
                r = -ENOMEM;
        else
                tracked[n_tracked++] = (Tracked) { .path = TAKE_PTR(p), .dev = st.st_dev, .ino = st.st_ino };
        pthread_mutex_unlock(&lock);
        free(p);
        return r;
}

void run_untrack(const char *path) {
        pthread_mutex_lock(&lock);
        for (size_t i = n_tracked; i > 0; i--)
                if (strcmp(tracked[i - 1].path, path) == 0) {
                        free(tracked[i - 1].path);
                        tracked[i - 1] = tracked[--n_tracked];
                        break;
                }
        pthread_mutex_unlock(&lock);
}

int run_create_begin(void) {
        pthread_rwlock_rdlock(&creating);
        pthread_mutex_lock(&lock);
        bool t = terminating;
        pthread_mutex_unlock(&lock);
        if (t) {
                pthread_rwlock_unlock(&creating);
                return -ECANCELED;
        }
        return 0;
}

void run_create_end(void) {
        pthread_rwlock_unlock(&creating);
}

/* ---- children ------------------------------------------------------------------- */

int run_child_lock(void) {
        pthread_mutex_lock(&lock);
        if (terminating) {
                pthread_mutex_unlock(&lock);
                return -ECANCELED;
        }
        return 0;
}

void run_child_unlock(void) {
        pthread_mutex_unlock(&lock);
}

void run_child_add(pid_t pid, bool pidns) {
        /* Out of memory: the child is still killed with us (its parent-death
         * signal), only not waited for on a signal. */
        if (GREEDY_REALLOC(children, allocated_children, n_children + 1))
                children[n_children++] = (Child) { .pid = pid, .pidns = pidns };
}

void run_child_remove(pid_t pid) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_children; i++)
                if (children[i].pid == pid) {
                        children[i] = children[--n_children];
                        break;
                }
        pthread_mutex_unlock(&lock);
}

void run_critical_enter(void) {
        pthread_rwlock_rdlock(&critical);
}

void run_critical_leave(void) {
        pthread_rwlock_unlock(&critical);
}

/* ---- signals -------------------------------------------------------------------- */

static void signal_set(sigset_t *s) {
        sigemptyset(s);
        sigaddset(s, SIGINT);
        sigaddset(s, SIGTERM);
        sigaddset(s, SIGHUP);
}

/* Waits up to ms for the children's owners to reap them; true if they did. */
static bool children_gone(unsigned ms) {
        for (unsigned waited = 0;; waited += 10) {
                pthread_mutex_lock(&lock);
                size_t n = n_children;
                pthread_mutex_unlock(&lock);
                if (n == 0)
                        return true;
                if (waited >= ms)
                        return false;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
}

static void *signal_thread(void *arg) {
        sigset_t set;
        int sig = 0;
        (void) arg;

        signal_set(&set);
        while (sigwait(&set, &sig) != 0)
                ;

        /* What the run asked to be done first (cancel its cluster jobs). */
        pthread_mutex_lock(&lock);
        void (*before)(void *) = before_cb;
        void *before_data = before_userdata;
        pthread_mutex_unlock(&lock);
        if (before)
                before(before_data);

        /* No new child or temporary from here on; stop the children. A
         * namespaced build's first process ends its PID namespace and waits
         * for that (process.c); the others' process groups are killed. */
        pthread_mutex_lock(&lock);
        terminating = true;
        size_t n_groups = n_children;
        pid_t *groups = new0(pid_t, n_children);
        for (size_t i = 0; i < n_children; i++) {
                if (groups)
                        groups[i] = children[i].pid;
                if (children[i].pidns)
                        (void) kill(children[i].pid, SIGTERM);
                else
                        (void) kill(-children[i].pid, SIGKILL);
        }
        pthread_mutex_unlock(&lock);
        bool gone = children_gone(10000);
        /* What is left of their process groups too (a build without a PID
         * namespace, where the kernel refused one). */
        for (size_t i = 0; groups && i < n_groups; i++)
                (void) kill(-groups[i], SIGKILL);
        if (!gone) {
                pthread_mutex_lock(&lock);
                for (size_t i = 0; i < n_children; i++)
                        (void) kill(children[i].pid, SIGKILL);
                pthread_mutex_unlock(&lock);
                (void) children_gone(2000);
        }

        /* Outputs being put in place are finished first (all or none), and
         * temporaries being made are made and tracked; no more after this. */
        pthread_rwlock_wrlock(&critical);
        pthread_rwlock_wrlock(&creating);
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_tracked; i++) {
                struct stat st;
                if (lstat(tracked[i].path, &st) < 0 || st.st_dev != tracked[i].dev || st.st_ino != tracked[i].ino)
                        continue; /* put in place, or removed */
                (void) rm_rf(tracked[i].path);
        }
        if (scratch)
                (void) rm_rf(scratch);
        if (mem_scratch)
                (void) rm_rf(mem_scratch);
        pthread_mutex_unlock(&lock);
        if (notify_cb)
                notify_cb(sig);
        _exit(128 + sig);
        return NULL;
}

void run_on_signal(void (*fn)(void *userdata), void *userdata) {
        pthread_mutex_lock(&lock);
        before_cb = fn;
        before_userdata = userdata;
        pthread_mutex_unlock(&lock);
}

int run_signals_setup(void (*notify)(int sig)) {
        sigset_t set;
        pthread_t t;
        pthread_attr_t attr;

        notify_cb = notify;
        signal_set(&set);
        int r = pthread_sigmask(SIG_BLOCK, &set, NULL);
        if (r != 0)
                return -r;
        if (pthread_attr_init(&attr) != 0)
                return -ENOMEM;
        (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&t, &attr, signal_thread, NULL);
        pthread_attr_destroy(&attr);
        return -r;
}

/* ---- output directories --------------------------------------------------------- */

/* Removes the temporaries below dfd (depth levels of directories), not
 * following symbolic links. */
static int sweep_output(int dfd, unsigned depth) {
        int dup_fd = dup(dfd);
        if (dup_fd < 0)
                return negative_errno();
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return negative_errno();
        }
        char **names = NULL, **subdirs = NULL;
        size_t n_names = 0, a_names = 0, n_sub = 0, a_sub = 0;
        int removed = 0, r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                bool tmp = run_is_temporary_name(de->d_name);
                struct stat st;
                if (!tmp && (depth == 0 || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)))
                        continue;
                char *s = strdup(de->d_name);
                if (!s || (tmp ? !GREEDY_REALLOC(names, a_names, n_names + 1) : !GREEDY_REALLOC(subdirs, a_sub, n_sub + 1))) {
                        free(s);
                        r = -ENOMEM;
                        break;
                }
                if (tmp)
                        names[n_names++] = s;
                else
                        subdirs[n_sub++] = s;
        }
        closedir(d);
        for (size_t i = 0; i < n_names; i++) {
                if (r >= 0 && rm_rf_at(dfd, names[i]) >= 0)
                        removed++;
                free(names[i]);
        }
        for (size_t i = 0; i < n_sub; i++) {
                if (r >= 0) {
                        _cleanup_close_ int sub = openat(dfd, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        int k = sub >= 0 ? sweep_output(sub, depth - 1) : 0;
                        if (k < 0)
                                r = k;
                        else
                                removed += k;
                }
                free(subdirs[i]);
        }
        free(names);
        free(subdirs);
        return r < 0 ? r : removed;
}

int run_lock_output(const char *dir) {
        int r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;
        _cleanup_free_ char *real = realpath(dir, NULL);
        if (!real)
                return negative_errno();

        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_outputs; i++)
                if (strcmp(outputs[i].dir, real) == 0) {
                        pthread_mutex_unlock(&lock);
                        return 0;
                }
        pthread_mutex_unlock(&lock);

        _cleanup_close_ int dfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        _cleanup_close_ int fd = openat(dfd, OUTPUT_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        int removed = 0;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                /* Nobody else is here: whatever temporaries there are, killed
                 * runs left them. */
                removed = sweep_output(dfd, SWEEP_DEPTH);
                if (flock(fd, LOCK_SH) < 0)
                        return negative_errno();
        } else if (errno != EWOULDBLOCK || flock(fd, LOCK_SH) < 0)
                return negative_errno();
        if (removed < 0)
                return removed;

        pthread_mutex_lock(&lock);
        /* Dead runs' directories in $TMPDIR too, also when this run makes
         * none of its own. */
        if (n_outputs == 0) {
                sweep_tmpdir(tmp_root(), scratch ? strrchr(scratch, '/') + 1 : "");
                const char *mem = memory_root();
                if (mem)
                        sweep_tmpdir(mem, mem_scratch ? strrchr(mem_scratch, '/') + 1 : "");
        }
        if (!GREEDY_REALLOC(outputs, allocated_outputs, n_outputs + 1))
                r = -ENOMEM;
        else {
                outputs[n_outputs++] = (OutputLock) { .dir = TAKE_PTR(real), .fd = TAKE_FD(fd) };
                r = removed;
        }
        pthread_mutex_unlock(&lock);
        return r;
}
