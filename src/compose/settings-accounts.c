/* SPDX-License-Identifier: MIT */

/* Image settings: users and groups (passwd(5), group(5), shadow(5),
 * gshadow(5)), their homes and SSH keys, as useradd would make them. */

#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/settings-internal.h"

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

int apply_users(Tree *t, const Project *p, const Image *im, int64_t mtime, Diagnostics *d) {
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
