/* SPDX-License-Identifier: MIT */

/* Image settings applied to a tree. Formats of the files written:
 *   /etc/passwd, /etc/group, /etc/shadow, /etc/gshadow: passwd(5), group(5),
 *     shadow(5), gshadow(5);
 *   /usr/lib/os-release: os-release(5);
 *   /etc/systemd/system/TARGET.wants/UNIT symlinks: what `systemctl enable`
 *     makes from a unit's [Install] section (systemd.unit(5), "[Install]
 *     Section Options"): WantedBy=, RequiredBy=, Alias=, Also=,
 *     DefaultInstance=;
 *   /etc/selinux/config: selinux_config(5);
 *   security.selinux: the context string with its terminating NUL, as
 *     setfiles(8) writes it. */

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <selinux/label.h>
#include <selinux/selinux.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/settings.h"

int tree_read_text(const Tree *t, const char *path, char **ret) {
        const TreeNode *n = tree_get(t, path);
        if (!n || n->type != TREE_REG)
                return -ENOENT;
        uint8_t *s = NULL;
        int r = tree_blob_load(n->blob, SIZE_MAX - 1, &s, NULL);
        if (r < 0)
                return r;
        *ret = (char *) s;
        return 0;
}

int tree_write_text(Tree *t, const char *path, const char *text, uint32_t mode, int64_t mtime) {
        const TreeNode *old = tree_get(t, path);
        uint32_t uid = 0, gid = 0;
        if (old && old->type == TREE_REG) {
                mode = old->mode;
                uid = old->uid;
                gid = old->gid;
        }
        TreeNode *n;
        int r = tree_add_file(t, path, text, strlen(text), mode, uid, gid, &n);
        if (r < 0)
                return r;
        n->mtime = mtime;
        return 0;
}

/* ---- hostname and os-release ---- */

static int apply_hostname(Tree *t, const Image *im, int64_t mtime) {
        if (!im->hostname)
                return 0;
        _cleanup_free_ char *s = NULL;
        if (asprintf(&s, "%s\n", im->hostname) < 0)
                return -ENOMEM;
        return tree_write_text(t, "/etc/hostname", s, 0644, mtime);
}

static int apply_os_release(Tree *t, const Project *p, const Image *im, int64_t mtime) {
        /* A package that ships os-release (a release package) has the last word. */
        if (tree_get(t, "/usr/lib/os-release") || tree_get(t, "/etc/os-release"))
                return 0;
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "NAME=\"%s\"\nID=%s\nVERSION=\"%s\"\nVERSION_ID=%s\nPRETTY_NAME=\"%s %s\"\n", p->project.name,
                      p->project.name, p->project.version, p->project.version, p->project.name, p->project.version);
        if (p->project.vendor) {
                strbuf_puts(&sb, "VENDOR_NAME=\"");
                for (const char *c = p->project.vendor; *c; c++) {
                        if (strchr("\"\\`$", *c))
                                strbuf_putc(&sb, '\\');
                        strbuf_putc(&sb, *c);
                }
                strbuf_puts(&sb, "\"\n");
        }
        strbuf_printf(&sb, "IMAGE_ID=%s\nIMAGE_VERSION=%s\n", im->name, p->project.version);
        if (sb.oom)
                return -ENOMEM;
        int r = tree_write_text(t, "/usr/lib/os-release", sb.buf, 0644, mtime);
        if (r < 0)
                return r;
        TreeNode *n;
        r = tree_add_symlink(t, "/etc/os-release", "../usr/lib/os-release", &n);
        if (r < 0)
                return r;
        n->mtime = mtime;
        return 0;
}

/* ---- accounts ---- */

/* A colon-separated account database (passwd, group, shadow, gshadow) as
 * lines; each line's fields split on demand. */
typedef struct Db {
        char **lines;
        size_t n, allocated;
        bool present; /* the tree had the file */
} Db;

static void db_release(Db *db) {
        for (size_t i = 0; i < db->n; i++)
                free(db->lines[i]);
        free(db->lines);
        *db = (Db) {};
}

static int db_add(Db *db, char *line) {
        if (!line)
                return -ENOMEM;
        if (!greedy_realloc((void **) &db->lines, &db->allocated, db->n + 1, sizeof(char *))) {
                free(line);
                return -ENOMEM;
        }
        db->lines[db->n++] = line;
        return 0;
}

static int db_load(const Tree *t, const char *path, Db *db) {
        _cleanup_free_ char *text = NULL;
        int r = tree_read_text(t, path, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        db->present = true;
        for (char *s = text, *e; *s; s = e) {
                e = strchrnul(s, '\n');
                size_t len = (size_t) (e - s);
                if (*e)
                        e++;
                if (len == 0)
                        continue;
                r = db_add(db, strndup(s, len));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int db_store(Tree *t, const char *path, const Db *db, uint32_t mode, int64_t mtime) {
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < db->n; i++) {
                strbuf_puts(&sb, db->lines[i]);
                strbuf_putc(&sb, '\n');
        }
        if (sb.oom)
                return -ENOMEM;
        return tree_write_text(t, path, sb.buf ? sb.buf : "", mode, mtime);
}

/* Field k (0-based) of a line, copied into buf; false if there is none. */
static bool field(const char *line, unsigned k, char *buf, size_t size) {
        const char *s = line;
        for (unsigned i = 0; i < k; i++) {
                s = strchr(s, ':');
                if (!s)
                        return false;
                s++;
        }
        size_t len = strcspn(s, ":");
        if (len >= size)
                len = size - 1;
        memcpy(buf, s, len);
        buf[len] = 0;
        return true;
}

static ssize_t db_find(const Db *db, const char *name) {
        size_t l = strlen(name);
        for (size_t i = 0; i < db->n; i++)
                if (strncmp(db->lines[i], name, l) == 0 && db->lines[i][l] == ':')
                        return (ssize_t) i;
        return -1;
}

/* The line whose numeric field k is id; -1 if none. */
static ssize_t db_find_id(const Db *db, unsigned k, uint32_t id) {
        char buf[32];
        for (size_t i = 0; i < db->n; i++)
                if (field(db->lines[i], k, buf, sizeof buf) && buf[0] && strspn(buf, "0123456789") == strlen(buf) &&
                    strtoul(buf, NULL, 10) == id)
                        return (ssize_t) i;
        return -1;
}

typedef struct Accounts {
        Db passwd, group, shadow, gshadow;
} Accounts;

static void accounts_release(Accounts *a) {
        db_release(&a->passwd);
        db_release(&a->group);
        db_release(&a->shadow);
        db_release(&a->gshadow);
}

static bool uid_taken(const Accounts *a, const Image *im, uint32_t id) {
        if (db_find_id(&a->passwd, 2, id) >= 0)
                return true;
        for (size_t i = 0; i < im->users.n; i++)
                if (cfg_has(&im->users.items[i].obj, "uid") && (uint32_t) im->users.items[i].uid == id)
                        return true;
        return false;
}

/* Appends user to the member list (field 3) of the group at line i. */
static int group_add_member(Db *db, size_t i, const char *user, unsigned member_field) {
        char *line = db->lines[i];
        /* The member list is the last field: find where it starts. */
        const char *s = line;
        for (unsigned k = 0; k < member_field; k++) {
                s = strchr(s, ':');
                if (!s)
                        return -EINVAL;
                s++;
        }
        size_t ul = strlen(user);
        for (const char *m = s; *m;) {
                size_t ml = strcspn(m, ",");
                if (ml == ul && strncmp(m, user, ul) == 0)
                        return 0; /* already a member */
                m += ml;
                if (*m)
                        m++;
        }
        char *nl;
        if (asprintf(&nl, "%s%s%s", line, *s ? "," : "", user) < 0)
                return -ENOMEM;
        free(line);
        db->lines[i] = nl;
        return 0;
}

static int ensure_group(Accounts *a, const char *name, uint32_t gid, uint32_t *ret_gid) {
        ssize_t i = db_find(&a->group, name);
        char buf[32];
        if (i >= 0) {
                if (ret_gid) {
                        if (!field(a->group.lines[i], 2, buf, sizeof buf))
                                return -EINVAL;
                        *ret_gid = (uint32_t) strtoul(buf, NULL, 10);
                }
                return 0;
        }
        char *line;
        if (asprintf(&line, "%s:x:%" PRIu32 ":", name, gid) < 0)
                return -ENOMEM;
        int r = db_add(&a->group, line);
        if (r < 0)
                return r;
        if (a->gshadow.present) {
                if (asprintf(&line, "%s:!::", name) < 0)
                        return -ENOMEM;
                r = db_add(&a->gshadow, line);
                if (r < 0)
                        return r;
        }
        if (ret_gid)
                *ret_gid = gid;
        return 1;
}

static int write_ssh_keys(Tree *t, const Project *p, const User *u, uint32_t uid, uint32_t gid, const char *home,
                          int64_t mtime, Diagnostics *d) {
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        for (size_t k = 0; k < u->ssh_keys.n; k++) {
                _cleanup_free_ char *path = project_path(p, u->ssh_keys.items[k]), *data = NULL;
                size_t len;
                if (!path)
                        return -ENOMEM;
                int r = read_full_file(path, &data, &len);
                if (r < 0) {
                        diag_error(d, &u->ssh_keys.pos[k], "user '%s': cannot read ssh key file '%s': %s", u->name,
                                   u->ssh_keys.items[k], strerror(-r));
                        return -EINVAL;
                }
                strbuf_put(&sb, data, len);
                if (len > 0 && data[len - 1] != '\n')
                        strbuf_putc(&sb, '\n');
        }
        if (sb.oom)
                return -ENOMEM;
        _cleanup_free_ char *ssh = path_join(home, ".ssh"), *ak = path_join(home, ".ssh/authorized_keys");
        if (!ssh || !ak)
                return -ENOMEM;
        TreeNode *n;
        int r = tree_add_dir(t, ssh, 0700, uid, gid, &n);
        if (r < 0)
                return r;
        n->mtime = mtime;
        r = tree_add_file(t, ak, sb.buf ? sb.buf : "", sb.len, 0600, uid, gid, &n);
        if (r < 0)
                return r;
        n->mtime = mtime;
        return 0;
}

static int apply_users(Tree *t, const Project *p, const Image *im, int64_t mtime, Diagnostics *d) {
        _cleanup_(accounts_release) Accounts a = {};
        int r;

        if (im->users.n == 0)
                return 0;
        if ((r = db_load(t, "/etc/passwd", &a.passwd)) < 0 || (r = db_load(t, "/etc/group", &a.group)) < 0 ||
            (r = db_load(t, "/etc/shadow", &a.shadow)) < 0 || (r = db_load(t, "/etc/gshadow", &a.gshadow)) < 0)
                return r;
        /* Without a package that provides the account files (setup,
         * filesystem), there is still a root account, as every tool expects. */
        if (!a.passwd.present) {
                if ((r = db_add(&a.passwd, strdup("root:x:0:0:root:/root:/bin/sh"))) < 0)
                        return r;
                if (!tree_get(t, "/root")) {
                        TreeNode *n;
                        if ((r = tree_add_dir(t, "/root", 0550, 0, 0, &n)) < 0)
                                return r;
                        n->mtime = mtime;
                }
        }
        if (!a.group.present && (r = db_add(&a.group, strdup("root:x:0:"))) < 0)
                return r;
        if (db_find(&a.shadow, "root") < 0 && db_find(&a.passwd, "root") >= 0 && !a.shadow.present &&
            (r = db_add(&a.shadow, strdup("root:!:::::::"))) < 0)
                return r;
        long lastchg = (long) (mtime / 86400);

        for (size_t i = 0; i < im->users.n; i++) {
                const User *u = &im->users.items[i];
                SourcePos pos = cfg_pos(&u->obj, "name");
                char buf[64];
                uint32_t uid, gid;
                ssize_t pi = db_find(&a.passwd, u->name);

                if (pi >= 0) {
                        /* An account a package made (root): settings apply to it. */
                        if (!field(a.passwd.lines[pi], 2, buf, sizeof buf))
                                return -EINVAL;
                        uid = (uint32_t) strtoul(buf, NULL, 10);
                        if (!field(a.passwd.lines[pi], 3, buf, sizeof buf))
                                return -EINVAL;
                        gid = (uint32_t) strtoul(buf, NULL, 10);
                        if (cfg_has(&u->obj, "uid") && (uint32_t) u->uid != uid) {
                                SourcePos up = cfg_pos(&u->obj, "uid");
                                diag_error(d, &up, "user '%s' exists in the image with uid %" PRIu32 ", not %" PRId64,
                                           u->name, uid, u->uid);
                                continue;
                        }
                } else {
                        if (cfg_has(&u->obj, "uid")) {
                                uid = (uint32_t) u->uid;
                                if (db_find_id(&a.passwd, 2, uid) >= 0) {
                                        SourcePos up = cfg_pos(&u->obj, "uid");
                                        diag_error(d, &up, "user '%s': uid %" PRIu32 " is taken in the image", u->name, uid);
                                        continue;
                                }
                        } else {
                                /* useradd's choice: the first free uid from UID_MIN (1000). */
                                for (uid = 1000; uid_taken(&a, im, uid); uid++)
                                        ;
                        }
                        gid = cfg_has(&u->obj, "gid") ? (uint32_t) u->gid : uid;
                        /* A user private group, unless the gid is an existing group's. */
                        if (db_find_id(&a.group, 2, gid) < 0) {
                                uint32_t g;
                                r = ensure_group(&a, u->name, gid, &g);
                                if (r < 0)
                                        return r;
                                if (r == 0) {
                                        diag_error(d, &pos, "user '%s': a group '%s' exists with gid %" PRIu32
                                                   ", not %" PRIu32 "; set 'gid'", u->name, u->name, g, gid);
                                        continue;
                                }
                        }
                        char *line;
                        if (asprintf(&line, "%s:x:%" PRIu32 ":%" PRIu32 "::%s:%s", u->name, uid, gid, u->home,
                                     u->shell) < 0)
                                return -ENOMEM;
                        if ((r = db_add(&a.passwd, line)) < 0)
                                return r;
                }

                /* shadow: the given hash, or locked. */
                ssize_t si = db_find(&a.shadow, u->name);
                if (si < 0 || u->password_hash) {
                        char *line;
                        if (asprintf(&line, "%s:%s:%ld:0:99999:7:::", u->name, u->password_hash ? u->password_hash : "!",
                                     lastchg) < 0)
                                return -ENOMEM;
                        if (si >= 0) {
                                free(a.shadow.lines[si]);
                                a.shadow.lines[si] = line;
                        } else if ((r = db_add(&a.shadow, line)) < 0)
                                return r;
                }

                for (size_t k = 0; k < u->groups.n; k++) {
                        const char *g = u->groups.items[k];
                        if (db_find(&a.group, g) < 0) {
                                /* useradd -G needs the group; a system group is made for it. */
                                uint32_t ng = 999;
                                while (ng > 0 && db_find_id(&a.group, 2, ng) >= 0)
                                        ng--;
                                if ((r = ensure_group(&a, g, ng, NULL)) < 0)
                                        return r;
                                diag_warning(d, &u->groups.pos[k],
                                             "user '%s': no package makes group '%s'; it is created with gid %" PRIu32,
                                             u->name, g, ng);
                        }
                        if ((r = group_add_member(&a.group, (size_t) db_find(&a.group, g), u->name, 3)) < 0)
                                return r;
                        ssize_t gi = db_find(&a.gshadow, g);
                        if (gi >= 0 && (r = group_add_member(&a.gshadow, (size_t) gi, u->name, 3)) < 0)
                                return r;
                }

                /* The home directory, unless a package made it. */
                _cleanup_free_ char *home = NULL;
                if (pi >= 0) {
                        char hb[4096];
                        if (!field(a.passwd.lines[pi], 5, hb, sizeof hb) || hb[0] != '/')
                                continue;
                        home = strdup(hb);
                } else
                        home = strdup(u->home);
                if (!home)
                        return -ENOMEM;
                TreeNode *hn = tree_get(t, home);
                if (!hn) {
                        r = tree_add_dir(t, home, 0700, uid, gid, &hn);
                        if (r < 0) {
                                SourcePos hp = cfg_pos(&u->obj, cfg_has(&u->obj, "home") ? "home" : "name");
                                diag_error(d, &hp, "user '%s': cannot make home directory '%s': %s", u->name, home,
                                           r == -ENOTDIR ? "a parent is not a directory" : strerror(-r));
                                continue;
                        }
                        hn->mtime = mtime;
                } else if (hn->type != TREE_DIR) {
                        diag_error(d, &pos, "user '%s': home '%s' exists in the image and is not a directory", u->name,
                                   home);
                        continue;
                }
                if (u->ssh_keys.n > 0) {
                        r = write_ssh_keys(t, p, u, uid, gid, home, mtime, d);
                        if (r == -EINVAL)
                                continue;
                        if (r < 0)
                                return r;
                }
        }

        if ((r = db_store(t, "/etc/passwd", &a.passwd, 0644, mtime)) < 0 ||
            (r = db_store(t, "/etc/group", &a.group, 0644, mtime)) < 0 ||
            (r = db_store(t, "/etc/shadow", &a.shadow, 0000, mtime)) < 0)
                return r;
        if (a.gshadow.present && (r = db_store(t, "/etc/gshadow", &a.gshadow, 0000, mtime)) < 0)
                return r;
        return 0;
}

/* ---- files ---- */

/* One owner of an image file: the name's id in the tree's account files
 * (root is 0 even without them); an unknown name is an error at its key. */
static int owner_id(const Tree *t, const FileSpec *f, const Image *im, const char *key, const char *name,
                    int (*lookup)(const Tree *t, const char *name, uint32_t *ret), uint32_t *ret, Diagnostics *d) {
        if (lookup(t, name, ret) >= 0)
                return 0;
        if (strcmp(name, "root") == 0) {
                *ret = 0;
                return 0;
        }
        SourcePos pos = cfg_pos(&f->obj, key);
        diag_error(d, &pos, "image '%s': file '%s': %s '%s' does not exist in the image", im->name, f->path, key, name);
        return -EINVAL;
}

static int owner_ids(const Tree *t, const FileSpec *f, const Image *im, uint32_t *uid, uint32_t *gid, Diagnostics *d) {
        int r = owner_id(t, f, im, "user", f->user, tree_lookup_user, uid, d);
        int k = owner_id(t, f, im, "group", f->group, tree_lookup_group, gid, d);
        return r < 0 ? r : k;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A node that cannot be added where the configuration puts it. */
static int placement_error(int r, const FileSpec *f, const char *dst, Diagnostics *d) {
        if (r == -ENOTDIR || r == -EPERM) {
                SourcePos pos = cfg_pos(&f->obj, "path");
                diag_error(d, &pos, "cannot put '%s' into the image: %s", dst,
                           r == -ENOTDIR ? "a parent is not a directory" : "the path leaves the root");
                return -EINVAL;
        }
        return r;
}

static int copy_in(Tree *t, const char *src, const char *dst, int mode, uint32_t uid, uint32_t gid, int64_t mtime,
                   bool top, const FileSpec *f, Diagnostics *d) {
        struct stat st;
        TreeNode *n = NULL;
        int r;

        if (lstat(src, &st) < 0) {
                SourcePos pos = cfg_pos(&f->obj, "source");
                diag_error(d, &pos, "cannot read '%s': %s", src, strerror(errno));
                return -EINVAL;
        }
        uint32_t m = top && mode >= 0 ? (uint32_t) mode : st.st_mode & 07777;
        if (S_ISDIR(st.st_mode)) {
                r = tree_add_dir(t, dst, m, uid, gid, &n);
                if (r < 0)
                        return placement_error(r, f, dst, d);
                n->mtime = mtime;
                _cleanup_(closedirp) DIR *dir = opendir(src);
                if (!dir) {
                        SourcePos pos = cfg_pos(&f->obj, "source");
                        diag_error(d, &pos, "cannot read directory '%s': %s", src, strerror(errno));
                        return -EINVAL;
                }
                /* Sorted, so that the order (and link ids) do not depend on the
                 * host's directory order. */
                char **names = NULL;
                size_t nn = 0, alloc = 0;
                struct dirent *de;
                r = 0;
                while ((de = readdir(dir))) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        char *s = strdup(de->d_name);
                        if (!s || !greedy_realloc((void **) &names, &alloc, nn + 1, sizeof(char *))) {
                                free(s);
                                r = -ENOMEM;
                                break;
                        }
                        names[nn++] = s;
                }
                if (r >= 0 && nn > 1)
                        qsort(names, nn, sizeof(char *), cmp_names);
                for (size_t i = 0; i < nn; i++) {
                        if (r >= 0) {
                                _cleanup_free_ char *s = path_join(src, names[i]), *dd = path_join(dst, names[i]);
                                r = s && dd ? copy_in(t, s, dd, mode, uid, gid, mtime, false, f, d) : -ENOMEM;
                        }
                        free(names[i]);
                }
                free(names);
                return r;
        }
        if (S_ISLNK(st.st_mode)) {
                _cleanup_free_ char *target = malloc((size_t) st.st_size + 1);
                if (!target)
                        return -ENOMEM;
                ssize_t l = readlink(src, target, (size_t) st.st_size + 1);
                if (l < 0 || l > st.st_size) {
                        SourcePos pos = cfg_pos(&f->obj, "source");
                        diag_error(d, &pos, "cannot read link '%s'", src);
                        return -EINVAL;
                }
                target[l] = 0;
                r = tree_add_symlink(t, dst, target, &n);
                if (r < 0)
                        return placement_error(r, f, dst, d);
                n->uid = uid;
                n->gid = gid;
                n->mtime = mtime;
                return 0;
        }
        if (!S_ISREG(st.st_mode)) {
                SourcePos pos = cfg_pos(&f->obj, "source");
                diag_error(d, &pos, "'%s' is not a regular file, directory or symlink", src);
                return -EINVAL;
        }
        _cleanup_free_ char *data = NULL;
        size_t len;
        r = read_full_file(src, &data, &len);
        if (r < 0) {
                SourcePos pos = cfg_pos(&f->obj, "source");
                diag_error(d, &pos, "cannot read '%s': %s", src, strerror(-r));
                return -EINVAL;
        }
        const TreeNode *old = tree_get(t, dst);
        if (old && old->type == TREE_DIR) {
                SourcePos pos = cfg_pos(&f->obj, "path");
                diag_error(d, &pos, "'%s' is a directory in the image; a file cannot replace it", dst);
                return -EINVAL;
        }
        r = tree_add_file(t, dst, data, len, m, uid, gid, &n);
        if (r < 0)
                return placement_error(r, f, dst, d);
        n->mtime = mtime;
        return 0;
}

static int apply_files(Tree *t, const Project *p, const Image *im, int64_t mtime, Diagnostics *d) {
        int ret = 0;
        for (size_t i = 0; i < im->files.n; i++) {
                const FileSpec *f = &im->files.items[i];
                uint32_t uid = 0, gid = 0;
                if (owner_ids(t, f, im, &uid, &gid, d) < 0) {
                        ret = -EINVAL;
                        continue;
                }
                _cleanup_free_ char *src = project_path(p, f->source), *where = NULL;
                if (!src)
                        return -ENOMEM;
                /* Symlinked directories on the way are followed inside the tree. */
                int r = tree_resolve(t, f->path, &where);
                if (r < 0) {
                        SourcePos pos = cfg_pos(&f->obj, "path");
                        diag_error(d, &pos, "cannot put '%s' into the image: %s", f->path,
                                   r == -ENOTDIR ? "a parent is not a directory" : strerror(-r));
                        ret = -EINVAL;
                        continue;
                }
                r = copy_in(t, src, where, f->mode, uid, gid, mtime, true, f, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = -EINVAL;
        }
        return ret;
}

/* ---- services ---- */

static const char *const unit_dirs[] = {
        "/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system", NULL,
};

/* The unit file for name (a template's for an instance "a@b.service"), as
 * an absolute path the way systemctl links it. */
static int find_unit(const Tree *t, const char *name, char **ret_path, char **ret_template) {
        _cleanup_free_ char *tmpl = NULL;
        const char *at = strchr(name, '@'), *dot = strrchr(name, '.');
        if (at && dot && at + 1 < dot) {
                if (asprintf(&tmpl, "%.*s%s", (int) (at - name + 1), name, dot) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; unit_dirs[i]; i++)
                for (int k = 0; k < 2; k++) {
                        const char *n = k == 0 ? name : tmpl;
                        if (!n)
                                continue;
                        _cleanup_free_ char *p = path_join(unit_dirs[i], n), *rp = NULL;
                        if (!p)
                                return -ENOMEM;
                        if (tree_resolve(t, p, &rp) < 0)
                                continue;
                        const TreeNode *node = tree_get(t, rp);
                        /* A symlink in /etc/systemd/system may be an alias or a mask. */
                        if (!node || (node->type != TREE_REG && node->type != TREE_SYMLINK))
                                continue;
                        if (node->type == TREE_SYMLINK && strcmp(node->target, "/dev/null") == 0)
                                return -ESHUTDOWN; /* masked */
                        *ret_path = TAKE_PTR(p);
                        *ret_template = k == 1 ? TAKE_PTR(tmpl) : NULL;
                        return 0;
                }
        return -ENOENT;
}

typedef struct InstallSection {
        StrBuf wanted_by, required_by, alias, also; /* space-separated */
        char *default_instance;
} InstallSection;

static void install_section_release(InstallSection *s) {
        strbuf_release(&s->wanted_by);
        strbuf_release(&s->required_by);
        strbuf_release(&s->alias);
        strbuf_release(&s->also);
        free(s->default_instance);
}

static int parse_install(const char *text, InstallSection *s) {
        bool in = false;
        for (const char *l = text, *e; *l; l = e) {
                e = strchrnul(l, '\n');
                size_t len = (size_t) (e - l);
                if (*e)
                        e++;
                while (len && (l[0] == ' ' || l[0] == '\t'))
                        l++, len--;
                while (len && (l[len - 1] == ' ' || l[len - 1] == '\t' || l[len - 1] == '\r'))
                        len--;
                if (len == 0 || l[0] == '#' || l[0] == ';')
                        continue;
                if (l[0] == '[') {
                        in = len == 9 && strncmp(l, "[Install]", 9) == 0;
                        continue;
                }
                if (!in)
                        continue;
                const char *eq = memchr(l, '=', len);
                if (!eq)
                        continue;
                size_t kl = (size_t) (eq - l);
                while (kl && (l[kl - 1] == ' ' || l[kl - 1] == '\t'))
                        kl--;
                const char *v = eq + 1;
                size_t vl = len - (size_t) (v - l);
                while (vl && (*v == ' ' || *v == '\t'))
                        v++, vl--;
                StrBuf *dst = NULL;
                if (kl == 8 && strncmp(l, "WantedBy", 8) == 0)
                        dst = &s->wanted_by;
                else if (kl == 10 && strncmp(l, "RequiredBy", 10) == 0)
                        dst = &s->required_by;
                else if (kl == 5 && strncmp(l, "Alias", 5) == 0)
                        dst = &s->alias;
                else if (kl == 4 && strncmp(l, "Also", 4) == 0)
                        dst = &s->also;
                else if (kl == 15 && strncmp(l, "DefaultInstance", 15) == 0) {
                        free(s->default_instance);
                        s->default_instance = strndup(v, vl);
                        if (!s->default_instance)
                                return -ENOMEM;
                        continue;
                } else
                        continue;
                if (vl == 0) { /* an empty assignment resets the list */
                        strbuf_release(dst);
                        continue;
                }
                strbuf_putc(dst, ' ');
                strbuf_put(dst, v, vl);
                if (dst->oom)
                        return -ENOMEM;
        }
        return 0;
}

/* Calls fn for each space-separated word. */
static int for_words(const StrBuf *sb, int (*fn)(void *ud, const char *w), void *ud) {
        if (!sb->buf)
                return 0;
        const char *s = sb->buf;
        while (*s) {
                s += strspn(s, " \t");
                size_t l = strcspn(s, " \t");
                if (l == 0)
                        break;
                _cleanup_free_ char *w = strndup(s, l);
                if (!w)
                        return -ENOMEM;
                int r = fn(ud, w);
                if (r < 0)
                        return r;
                s += l;
        }
        return 0;
}

typedef struct EnableCtx {
        Tree *t;
        const char *unit;   /* the name enabled (an instance for templates) */
        const char *target; /* the unit file the links point at */
        const char *suffix; /* ".wants" / ".requires" */
        int64_t mtime;
} EnableCtx;

static int link_into(void *ud, const char *dep) {
        EnableCtx *c = ud;
        _cleanup_free_ char *p = NULL;
        if (strchr(dep, '/'))
                return 0; /* not a unit name */
        if (asprintf(&p, "/etc/systemd/system/%s%s/%s", dep, c->suffix, c->unit) < 0)
                return -ENOMEM;
        TreeNode *n;
        int r = tree_add_symlink(c->t, p, c->target, &n);
        if (r < 0)
                return r;
        n->mtime = c->mtime;
        return 0;
}

static int link_alias(void *ud, const char *alias) {
        EnableCtx *c = ud;
        _cleanup_free_ char *p = NULL;
        if (strchr(alias, '/'))
                return 0;
        if (asprintf(&p, "/etc/systemd/system/%s", alias) < 0)
                return -ENOMEM;
        TreeNode *n;
        int r = tree_add_symlink(c->t, p, c->target, &n);
        if (r < 0)
                return r;
        n->mtime = c->mtime;
        return 0;
}

typedef struct ServiceRun {
        Tree *t;
        const Image *im;
        Diagnostics *d;
        int64_t mtime;
        const SourcePos *pos;
        unsigned depth;
} ServiceRun;

static int enable_unit(ServiceRun *s, const char *name);

static int enable_also(void *ud, const char *w) {
        ServiceRun *s = ud;
        if (s->depth > 8)
                return 0;
        s->depth++;
        int r = enable_unit(s, w);
        s->depth--;
        return r;
}

static int enable_unit(ServiceRun *s, const char *name) {
        _cleanup_free_ char *path = NULL, *tmpl = NULL, *text = NULL, *rp = NULL, *inst = NULL;
        _cleanup_(install_section_release) InstallSection is = {};
        int r = find_unit(s->t, name, &path, &tmpl);
        if (r == -ESHUTDOWN) {
                diag_error(s->d, s->pos, "image '%s': service '%s' is masked in the image; it cannot be enabled",
                           s->im->name, name);
                return -EINVAL;
        }
        if (r == -ENOENT) {
                diag_error(s->d, s->pos,
                           "image '%s': cannot enable '%s': no package installs it (no unit file in "
                           "/usr/lib/systemd/system or /etc/systemd/system)",
                           s->im->name, name);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        if ((r = tree_resolve(s->t, path, &rp)) < 0)
                return r;
        const TreeNode *node = tree_get(s->t, rp);
        /* A symlinked unit (an alias) is read where it leads. */
        for (unsigned hops = 0; node && node->type == TREE_SYMLINK && hops < 8; hops++) {
                _cleanup_free_ char *tgt = NULL, *dir = NULL;
                if (node->target[0] == '/')
                        tgt = strdup(node->target);
                else {
                        dir = path_dirname(rp);
                        tgt = dir ? path_join(dir, node->target) : NULL;
                }
                free(rp);
                rp = NULL;
                if (!tgt || tree_resolve(s->t, tgt, &rp) < 0)
                        break;
                node = tree_get(s->t, rp);
        }
        if (!rp || tree_read_text(s->t, rp, &text) < 0) {
                diag_error(s->d, s->pos, "image '%s': cannot read the unit file of '%s'", s->im->name, name);
                return -EINVAL;
        }
        if ((r = parse_install(text, &is)) < 0)
                return r;
        if (!is.wanted_by.len && !is.required_by.len && !is.alias.len && !is.also.len) {
                diag_warning(s->d, s->pos,
                             "image '%s': '%s' has no [Install] section with WantedBy=, RequiredBy=, Alias= or Also=; "
                             "enabling it does nothing (as with systemctl enable)",
                             s->im->name, name);
                return 0;
        }
        /* A template enabled by its own name takes DefaultInstance=. */
        const char *unit = name;
        const char *at = strchr(name, '@'), *dot = strrchr(name, '.');
        if (at && dot && at + 1 == dot) {
                if (!is.default_instance) {
                        if (is.wanted_by.len || is.required_by.len) {
                                diag_error(s->d, s->pos,
                                           "image '%s': '%s' is a template without DefaultInstance=; enable an "
                                           "instance such as '%.*s@NAME%s'",
                                           s->im->name, name, (int) (at - name), name, dot);
                                return -EINVAL;
                        }
                } else {
                        if (asprintf(&inst, "%.*s@%s%s", (int) (at - name), name, is.default_instance, dot) < 0)
                                return -ENOMEM;
                        unit = inst;
                }
        }
        EnableCtx c = { .t = s->t, .unit = unit, .target = path, .suffix = ".wants", .mtime = s->mtime };
        if ((r = for_words(&is.wanted_by, link_into, &c)) < 0)
                return r;
        c.suffix = ".requires";
        if ((r = for_words(&is.required_by, link_into, &c)) < 0)
                return r;
        if (!tmpl && (r = for_words(&is.alias, link_alias, &c)) < 0)
                return r;
        return for_words(&is.also, enable_also, s);
}

/* `systemctl disable`: every symlink in /etc/systemd/system (and its .wants,
 * .requires directories) named after the unit or pointing at its file. */
static int disable_unit(Tree *t, const char *name) {
        _cleanup_free_ TreeNode **all = NULL;
        size_t n;
        int r = tree_list(t, &all, &n);
        if (r < 0)
                return r;
        const char *pfx = "/etc/systemd/system/";
        size_t pl = strlen(pfx);
        char **doomed = new0(char *, n + 1);
        size_t nd = 0;
        if (!doomed)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const TreeNode *x = all[i];
                if (x->type != TREE_SYMLINK || strncmp(x->path, pfx, pl) != 0)
                        continue;
                const char *base = strrchr(x->path, '/') + 1;
                const char *tb = strrchr(x->target, '/');
                tb = tb ? tb + 1 : x->target;
                if (strcmp(x->target, "/dev/null") == 0)
                        continue; /* a mask is not an enablement */
                if (strcmp(base, name) == 0 || strcmp(tb, name) == 0)
                        doomed[nd++] = x->path;
        }
        for (size_t i = 0; i < nd && r >= 0; i++) {
                _cleanup_free_ char *p = strdup(doomed[i]);
                r = p ? tree_remove(t, p) : -ENOMEM;
        }
        free(doomed);
        return r;
}

static int apply_services(Tree *t, const Image *im, int64_t mtime, Diagnostics *d) {
        int ret = 0, r;
        for (size_t i = 0; i < im->services.disable.n; i++) {
                r = disable_unit(t, im->services.disable.items[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < im->services.enable.n; i++) {
                ServiceRun s = { .t = t, .im = im, .d = d, .mtime = mtime, .pos = &im->services.enable.pos[i] };
                r = enable_unit(&s, im->services.enable.items[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (r != -EINVAL)
                                diag_error(d, s.pos, "image '%s': cannot enable '%s': %s", im->name,
                                           im->services.enable.items[i],
                                           r == -ENOTDIR ? "a path in /etc/systemd/system is not a directory"
                                                         : strerror(-r));
                        ret = -EINVAL;
                }
        }
        return ret;
}

/* ---- SELinux ---- */

/* The policy type: SELINUXTYPE= of the tree's config, else the one policy
 * directory present with file contexts; NULL if the tree has no policy. */
static int selinux_policy(const Tree *t, char **ret) {
        _cleanup_free_ char *cfg = NULL;
        *ret = NULL;
        if (tree_read_text(t, "/etc/selinux/config", &cfg) >= 0) {
                for (const char *l = cfg; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                        l += strspn(l, " \t");
                        if (strncmp(l, "SELINUXTYPE=", 12) == 0) {
                                size_t len = strcspn(l + 12, " \t\r\n#");
                                if (len == 0)
                                        break;
                                *ret = strndup(l + 12, len);
                                return *ret ? 0 : -ENOMEM;
                        }
                }
        }
        _cleanup_free_ TreeNode **all = NULL;
        size_t n;
        int r = tree_list(t, &all, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *p = all[i]->path, *pfx = "/etc/selinux/";
                if (strncmp(p, pfx, 13) != 0)
                        continue;
                const char *slash = strchr(p + 13, '/');
                if (slash && strcmp(slash, "/contexts/files/file_contexts") == 0 && all[i]->type == TREE_REG) {
                        *ret = strndup(p + 13, (size_t) (slash - (p + 13)));
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return 0;
}

static int apply_selinux_config(Tree *t, const Image *im, int64_t mtime) {
        _cleanup_free_ char *policy = NULL, *old = NULL;
        int r = selinux_policy(t, &policy);
        if (r < 0)
                return r;
        bool have = tree_get(t, "/etc/selinux") != NULL;
        if (!policy && !have && !cfg_has(&im->obj, "selinux"))
                return 0; /* no SELinux in the image and none asked for */
        const char *mode = selinux_mode_to_string(im->selinux);
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        if (tree_read_text(t, "/etc/selinux/config", &old) >= 0) {
                /* Keep the package's file; only SELINUX= changes. */
                bool done = false;
                for (const char *l = old, *e; *l; l = e) {
                        e = strchrnul(l, '\n');
                        const char *k = l + strspn(l, " \t");
                        if (strncmp(k, "SELINUX=", 8) == 0) {
                                strbuf_printf(&sb, "SELINUX=%s", mode);
                                done = true;
                        } else
                                strbuf_put(&sb, l, (size_t) (e - l));
                        if (*e) {
                                strbuf_putc(&sb, '\n');
                                e++;
                        }
                }
                if (!done)
                        strbuf_printf(&sb, "%sSELINUX=%s\n", sb.len && sb.buf[sb.len - 1] != '\n' ? "\n" : "", mode);
        } else
                strbuf_printf(&sb,
                              "# This file controls the state of SELinux on the system (selinux_config(5)).\n"
                              "SELINUX=%s\nSELINUXTYPE=%s\n",
                              mode, policy ? policy : "targeted");
        if (sb.oom)
                return -ENOMEM;
        return tree_write_text(t, "/etc/selinux/config", sb.buf, 0644, mtime);
}

/* libselinux, opened when a tree has a policy (see meson.build). */
static struct {
        struct selabel_handle *(*open)(unsigned backend, const struct selinux_opt *opts, unsigned nopts);
        int (*lookup_raw)(struct selabel_handle *h, char **con, const char *key, int type);
        void (*close)(struct selabel_handle *h);
        void (*freecon)(char *con);
} sel;
static pthread_once_t sel_once = PTHREAD_ONCE_INIT;

static void sel_load(void) {
        void *h = dlopen("libselinux.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return;
        *(void **) &sel.open = dlsym(h, "selabel_open");
        *(void **) &sel.lookup_raw = dlsym(h, "selabel_lookup_raw");
        *(void **) &sel.close = dlsym(h, "selabel_close");
        *(void **) &sel.freecon = dlsym(h, "freecon");
        if (!sel.lookup_raw || !sel.close || !sel.freecon)
                sel.open = NULL;
}

int settings_label(Tree *t, const Image *im, Diagnostics *d, char **ret_policy, size_t *ret_labelled) {
        _cleanup_free_ char *policy = NULL, *dir = NULL, *fc = NULL;
        _cleanup_free_ TreeNode **all = NULL;
        size_t n, labelled = 0;
        int r;

        *ret_policy = NULL;
        *ret_labelled = 0;
        r = selinux_policy(t, &policy);
        if (r < 0)
                return r;
        if (!policy)
                return 0;
        if (asprintf(&fc, "/etc/selinux/%s/contexts/files/file_contexts", policy) < 0)
                return -ENOMEM;
        if (!tree_get(t, fc)) {
                /* With SELinux disabled, a missing policy is expected. */
                if (im->selinux != SELINUX_DISABLED)
                        diag_warning(d, NULL, "image '%s': SELinux policy '%s' has no %s; files are not labelled",
                                     im->name, policy, fc);
                return 0;
        }
        /* libselinux reads file contexts from the host's file system: the
         * policy's files go to a private directory first. */
        const char *tmp = getenv("TMPDIR");
        if (asprintf(&dir, "%s/slipway-fc.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
                return -ENOMEM;
        if (!mkdtemp(dir))
                return -errno;
        static const char *const suffixes[] = { "", ".homedirs", ".local", ".subs", ".subs_dist" };
        _cleanup_free_ char *local = path_join(dir, "file_contexts");
        if (!local) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *src = NULL, *dst = NULL;
                if (asprintf(&src, "%s%s", fc, suffixes[i]) < 0 || asprintf(&dst, "%s%s", local, suffixes[i]) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                char *rp = NULL;
                if (tree_resolve(t, src, &rp) < 0)
                        continue;
                const TreeNode *node = tree_get(t, rp);
                free(rp);
                if (!node || node->type != TREE_REG)
                        continue;
                _cleanup_free_ uint8_t *fc_data = NULL;
                size_t fc_size = 0;
                r = tree_blob_load(node->blob, SIZE_MAX - 1, &fc_data, &fc_size);
                if (r >= 0)
                        r = write_file_atomic(dst, fc_data, fc_size, 0600);
                if (r < 0)
                        goto finish;
        }
        pthread_once(&sel_once, sel_load);
        if (!sel.open) {
                diag_error(d, NULL, "image '%s': libselinux.so.1 cannot be loaded to label files (Debian package libselinux1)",
                           im->name);
                r = -EINVAL;
                goto finish;
        }
        struct selinux_opt opts[] = { { SELABEL_OPT_PATH, local } };
        struct selabel_handle *h = sel.open(SELABEL_CTX_FILE, opts, ELEMENTSOF(opts));
        if (!h) {
                diag_error(d, NULL, "image '%s': the file contexts of SELinux policy '%s' cannot be loaded: %s",
                           im->name, policy, strerror(errno));
                r = -EINVAL;
                goto finish;
        }
        r = tree_list(t, &all, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char *con = NULL;
                uint32_t mode = tree_type_to_mode(all[i]->type) | all[i]->mode;
                if (sel.lookup_raw(h, &con, all[i]->path, (int) mode) < 0) {
                        if (errno == ENOENT)
                                continue; /* no context: left unlabelled, as setfiles does */
                        r = -errno;
                        break;
                }
                if (strcmp(con, "<<none>>") != 0) {
                        r = tree_node_set_xattr(all[i], "security.selinux", con, strlen(con) + 1);
                        labelled++;
                }
                sel.freecon(con);
        }
        sel.close(h);
        if (r >= 0) {
                *ret_policy = TAKE_PTR(policy);
                *ret_labelled = labelled;
                r = 0;
        }
finish:
        (void) rm_rf(dir);
        return r;
}

int settings_apply(Tree *t, const Project *p, const Image *im, Diagnostics *d) {
        int64_t mtime = (int64_t) p->source_date_epoch;
        size_t errors_before = d->n_errors + d->dropped;
        int r, ret = 0;

        if ((r = apply_hostname(t, im, mtime)) < 0 || (r = apply_os_release(t, p, im, mtime)) < 0)
                return r;
        r = apply_users(t, p, im, mtime, d);
        if (r < 0)
                return r;
        r = apply_files(t, p, im, mtime, d);
        if (r == -EINVAL)
                ret = r;
        else if (r < 0)
                return r;
        r = apply_services(t, im, mtime, d);
        if (r == -EINVAL)
                ret = r;
        else if (r < 0)
                return r;
        if ((r = apply_selinux_config(t, im, mtime)) < 0)
                return r;
        /* Problems reported without failing the step (users) count too;
         * only this image's, not those of images composed before it. */
        if (ret == 0 && d->n_errors + d->dropped > errors_before)
                ret = -EINVAL;
        return ret;
}
