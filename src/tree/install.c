/* SPDX-License-Identifier: MIT */

/* RPM payload installation into a tree. The header is the authority on each
 * file (rpm's lib/fsm.c takes modes, owners, times and link targets from the
 * header's file info, not from the cpio entry); the payload provides contents.
 * RPM payloads are cpio "newc" archives whose entry names are the header's
 * paths with a leading "." (rpm's lib/cpio.c). */

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "tree/install.h"

/* Scriptlet tags (rpm's include/rpm/rpmtag.h): any of these means the
 * package expects something run at install time. */
static const uint32_t scriptlet_tags[] = {
        1023, /* PREIN */
        1024, /* POSTIN */
        1065, /* TRIGGERSCRIPTS */
        1151, /* PRETRANS */
        1152, /* POSTTRANS */
        5066, /* FILETRIGGERSCRIPTS */
        5076, /* TRANSFILETRIGGERSCRIPTS */
};

void install_result_release(InstallResult *r) {
        rpm_package_free(r->pkg);
        free(r->nevra);
        *r = (InstallResult) {};
}

/* The header's file info, as parallel arrays. */
typedef struct FileInfo {
        size_t n;
        const char **basenames, **dirnames, **users, **groups, **links;
        size_t n_dirnames;
        uint32_t *dirindexes, *modes, *mtimes, *flags, *rdevs, *inodes;
        char **paths; /* built: dirname + basename */
} FileInfo;

static void file_info_release(FileInfo *f) {
        free(f->basenames);
        free(f->dirnames);
        free(f->users);
        free(f->groups);
        free(f->links);
        free(f->dirindexes);
        free(f->modes);
        free(f->mtimes);
        free(f->flags);
        free(f->rdevs);
        free(f->inodes);
        for (size_t i = 0; f->paths && i < f->n; i++)
                free(f->paths[i]);
        free(f->paths);
        *f = (FileInfo) {};
}

static int get_strings_n(const RpmHeader *h, uint32_t tag, size_t n, const char ***ret) {
        size_t k;
        int r = rpm_header_get_strings(h, tag, ret, &k);
        if (r < 0)
                return r;
        return k == n ? 0 : -EBADMSG;
}

static int get_u32s_n(const RpmHeader *h, uint32_t tag, size_t n, uint32_t **ret, bool optional) {
        size_t k;
        int r = rpm_header_get_u32s(h, tag, ret, &k);
        if (r == -ENOENT && optional) {
                *ret = new0(uint32_t, n);
                return *ret ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        return k == n ? 0 : -EBADMSG;
}

static int file_info_load(const RpmHeader *h, FileInfo *f) {
        size_t n;
        int r = rpm_header_get_strings(h, RPMTAG_BASENAMES, &f->basenames, &n);
        if (r == -ENOENT)
                return 0; /* no files */
        if (r < 0)
                return r;
        f->n = n;
        r = rpm_header_get_strings(h, RPMTAG_DIRNAMES, &f->dirnames, &f->n_dirnames);
        if (r >= 0)
                r = get_u32s_n(h, RPMTAG_DIRINDEXES, n, &f->dirindexes, false);
        if (r >= 0)
                r = get_u32s_n(h, RPMTAG_FILEMODES, n, &f->modes, false);
        if (r >= 0)
                r = get_u32s_n(h, RPMTAG_FILEMTIMES, n, &f->mtimes, true);
        if (r >= 0)
                r = get_u32s_n(h, RPMTAG_FILEFLAGS, n, &f->flags, true);
        if (r >= 0)
                r = get_u32s_n(h, RPMTAG_FILERDEVS, n, &f->rdevs, true);
        if (r >= 0)
                r = get_u32s_n(h, RPMTAG_FILEINODES, n, &f->inodes, true);
        if (r >= 0)
                r = get_strings_n(h, RPMTAG_FILEUSERNAME, n, &f->users);
        if (r >= 0)
                r = get_strings_n(h, RPMTAG_FILEGROUPNAME, n, &f->groups);
        if (r >= 0)
                r = get_strings_n(h, RPMTAG_FILELINKTOS, n, &f->links);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        f->paths = new0(char *, n);
        if (!f->paths)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (f->dirindexes[i] >= f->n_dirnames)
                        return -EBADMSG;
                if (asprintf(&f->paths[i], "%s%s", f->dirnames[f->dirindexes[i]], f->basenames[i]) < 0) {
                        f->paths[i] = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

static bool same_xattrs(const TreeNode *a, const TreeNode *b) {
        if (a->n_xattrs != b->n_xattrs)
                return false;
        for (size_t i = 0; i < a->n_xattrs; i++)
                if (strcmp(a->xattrs[i].name, b->xattrs[i].name) != 0 || a->xattrs[i].size != b->xattrs[i].size ||
                    memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].size) != 0)
                        return false;
        return true;
}

/* rpm lets two packages share a path when the files are identical (same
 * type, mode, owner and contents or target); directories are always shared. */
static bool compatible(const TreeNode *old, const TreeNode *new) {
        if (old->type != new->type)
                return false;
        if (old->type == TREE_DIR)
                return true;
        if (old->mode != new->mode || old->uid != new->uid || old->gid != new->gid || !same_xattrs(old, new))
                return false;
        switch (old->type) {
        case TREE_REG: {
                size_t ol = old->blob ? old->blob->size : 0, nl = new->blob ? new->blob->size : 0;
                return ol == nl && (ol == 0 || memcmp(old->blob->data, new->blob->data, ol) == 0);
        }
        case TREE_SYMLINK:
                return strcmp(old->target, new->target) == 0;
        default:
                return old->rdev_major == new->rdev_major && old->rdev_minor == new->rdev_minor;
        }
}

/* Reads the payload: the bytes after the headers, decompressed. */
static int read_payload(const char *path, const RpmPackage *p, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, &data, &size);
        if (r < 0)
                return r;
        if (p->payload_offset > size)
                return -EBADMSG;
        return decompress_any(data + p->payload_offset, size - p->payload_offset, ret, ret_len);
}

int tree_install_rpm(Tree *t, const char *path, Diagnostics *d, InstallResult *ret) {
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        _cleanup_free_ uint8_t *payload = NULL;
        _cleanup_free_ char *nevra = NULL;
        FileInfo fi = {};
        struct archive *a = NULL;
        bool *seen = NULL;
        TreeBlob **content = NULL;
        uint64_t *link_ids = NULL;
        size_t n_written = 0;
        int r;

        r = rpm_package_read(path, &p);
        if (r < 0) {
                diag_error(d, NULL, "cannot read the package '%s': %s", path,
                           r == -EBADMSG ? "not a valid RPM package" : strerror(-r));
                return r;
        }
        const RpmHeader *h = p->header;
        const char *name = rpm_header_get_string(h, RPMTAG_NAME), *ver = rpm_header_get_string(h, RPMTAG_VERSION),
                   *rel = rpm_header_get_string(h, RPMTAG_RELEASE), *arch = rpm_header_get_string(h, RPMTAG_ARCH);
        uint64_t epoch;
        bool has_epoch = rpm_header_get_number(h, RPMTAG_EPOCH, &epoch) >= 0;
        if (!name || !ver || !rel || !arch) {
                diag_error(d, NULL, "package '%s' has no name, version, release or arch", path);
                return -EBADMSG;
        }
        if ((has_epoch ? asprintf(&nevra, "%s-%" PRIu64 ":%s-%s.%s", name, epoch, ver, rel, arch)
                       : asprintf(&nevra, "%s-%s-%s.%s", name, ver, rel, arch)) < 0) {
                nevra = NULL;
                return -ENOMEM;
        }

        r = file_info_load(h, &fi);
        if (r < 0) {
                diag_error(d, NULL, "package %s: malformed file list in its header", nevra);
                goto finish;
        }
        size_t plen = 0;
        r = read_payload(path, p, &payload, &plen);
        if (r < 0) {
                diag_error(d, NULL, "package %s: cannot unpack its payload: %s", nevra,
                           r == -EBADMSG ? "corrupt or unsupported compression" : strerror(-r));
                goto finish;
        }

        /* Index of each header path, for the payload's entries. */
        seen = new0(bool, fi.n);
        content = new0(TreeBlob *, fi.n);
        if (!seen || !content) {
                r = -ENOMEM;
                goto finish;
        }
        a = archive_read_new();
        if (!a || archive_read_support_format_cpio(a) != ARCHIVE_OK ||
            archive_read_open_memory(a, payload, plen) != ARCHIVE_OK) {
                diag_error(d, NULL, "package %s: its payload is not a cpio archive", nevra);
                r = -EBADMSG;
                goto finish;
        }
        for (;;) {
                struct archive_entry *e;
                int ar = archive_read_next_header(a, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar != ARCHIVE_OK) {
                        diag_error(d, NULL, "package %s: corrupt payload: %s", nevra, archive_error_string(a));
                        r = -EBADMSG;
                        goto finish;
                }
                const char *en = archive_entry_pathname(e);
                if (!en) {
                        r = -EBADMSG;
                        goto finish;
                }
                if (en[0] == '.')
                        en++;
                size_t i = SIZE_MAX;
                for (size_t k = 0; k < fi.n; k++) /* payload order follows the header's: usually k == next */
                        if (!seen[k] && strcmp(fi.paths[k], en) == 0) {
                                i = k;
                                break;
                        }
                if (i == SIZE_MAX) {
                        diag_error(d, NULL, "package %s: its payload holds '%s', which its header does not list", nevra,
                                   en);
                        r = -EBADMSG;
                        goto finish;
                }
                seen[i] = true;
                la_int64_t size = archive_entry_size(e);
                if (S_ISREG(fi.modes[i]) && size > 0) {
                        uint8_t *buf = malloc((size_t) size);
                        if (!buf) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        if (archive_read_data(a, buf, (size_t) size) != size) {
                                free(buf);
                                diag_error(d, NULL, "package %s: truncated payload at '%s'", nevra, fi.paths[i]);
                                r = -EBADMSG;
                                goto finish;
                        }
                        content[i] = tree_blob_take(buf, (size_t) size);
                        if (!content[i]) {
                                r = -ENOMEM;
                                goto finish;
                        }
                }
        }

        /* Hard links: the files of one inode share the contents the payload
         * gave one of them (newc puts the data on the last link). */
        link_ids = new0(uint64_t, fi.n);
        if (!link_ids) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < fi.n; i++) {
                if (!S_ISREG(fi.modes[i]) || link_ids[i] || fi.inodes[i] == 0)
                        continue;
                size_t members = 0;
                TreeBlob *b = NULL;
                for (size_t k = i; k < fi.n; k++)
                        if (S_ISREG(fi.modes[k]) && fi.inodes[k] == fi.inodes[i]) {
                                members++;
                                if (content[k])
                                        b = content[k];
                        }
                if (members < 2)
                        continue;
                uint64_t id = tree_new_link_id(t);
                for (size_t k = i; k < fi.n; k++)
                        if (S_ISREG(fi.modes[k]) && fi.inodes[k] == fi.inodes[i]) {
                                link_ids[k] = id;
                                if (content[k] != b) {
                                        tree_blob_unref(content[k]);
                                        content[k] = tree_blob_ref(b);
                                }
                        }
        }

        for (size_t i = 0; i < fi.n; i++) {
                uint32_t fl = fi.flags[i];
                if (fl & RPMFILE_GHOST)
                        continue; /* rpm records %ghost files; it does not create them */
                TreeType type = tree_type_from_mode(fi.modes[i]);
                if (type < 0) {
                        diag_error(d, NULL, "package %s: '%s' has an unknown file type", nevra, fi.paths[i]);
                        r = -EBADMSG;
                        goto finish;
                }
                if (!seen[i] && type != TREE_DIR && !(type == TREE_REG && link_ids[i])) {
                        diag_error(d, NULL, "package %s: '%s' is missing from its payload", nevra, fi.paths[i]);
                        r = -EBADMSG;
                        goto finish;
                }
                _cleanup_free_ char *norm = NULL, *where = NULL;
                r = tree_path_normalize(fi.paths[i], &norm);
                if (r == -EPERM || (r >= 0 && fi.paths[i][0] != '/')) {
                        diag_error(d, NULL, "package %s: '%s' leaves the root; refused", nevra, fi.paths[i]);
                        r = -EINVAL;
                        goto finish;
                }
                if (r < 0)
                        goto finish;
                /* Directories on the way may be symlinks (/bin -> usr/bin):
                 * the file lands where they lead, inside the tree. */
                r = tree_resolve(t, norm, &where);
                if (r < 0) {
                        diag_error(d, NULL, "package %s: cannot install '%s': %s", nevra, norm,
                                   r == -ENOTDIR ? "a parent is not a directory" : strerror(-r));
                        r = -EINVAL;
                        goto finish;
                }
                TreeNode *n = new0(TreeNode, 1);
                if (!n) {
                        r = -ENOMEM;
                        goto finish;
                }
                n->path = TAKE_PTR(where);
                n->type = type;
                n->mode = fi.modes[i] & 07777;
                n->mtime = fi.mtimes[i];
                n->flags = (fl & RPMFILE_CONFIG ? TREE_NODE_CONFIG : 0) | (fl & RPMFILE_DOC ? TREE_NODE_DOC : 0);
                if (tree_lookup_user(t, fi.users[i], &n->uid) < 0)
                        n->uid = 0; /* rpm: "user X does not exist - using root" */
                if (tree_lookup_group(t, fi.groups[i], &n->gid) < 0)
                        n->gid = 0;
                n->owner = strdup(name);
                if (type == TREE_REG) {
                        n->blob = tree_blob_ref(content[i]);
                        n->link_id = link_ids[i];
                } else if (type == TREE_SYMLINK)
                        n->target = strdup(fi.links[i]);
                else if (type == TREE_CHR || type == TREE_BLK) {
                        n->rdev_major = (fi.rdevs[i] >> 8) & 0xfff;
                        n->rdev_minor = (fi.rdevs[i] & 0xff) | ((fi.rdevs[i] >> 12) & 0xfff00);
                }
                if (!n->owner || (type == TREE_SYMLINK && !n->target)) {
                        tree_node_free(n);
                        r = -ENOMEM;
                        goto finish;
                }
                TreeNode *old = tree_get(t, n->path);
                if (old && !compatible(old, n)) {
                        diag_error(d, NULL, "file '%s' conflicts between %s and %s%s", n->path,
                                   old->owner ? old->owner : "the image", nevra,
                                   old->type != n->type ? " (different types)" : "");
                        tree_node_free(n);
                        r = -EINVAL;
                        goto finish;
                }
                if (old && old->type == TREE_DIR) {
                        /* A directory owned by several packages keeps its
                         * first attributes, as rpm keeps what is on disk. */
                        tree_node_free(n);
                        continue;
                }
                r = tree_add(t, n, NULL);
                if (r < 0) {
                        diag_error(d, NULL, "package %s: cannot install '%s': %s", nevra, fi.paths[i],
                                   r == -ENOTDIR ? "a parent is not a directory" : strerror(-r));
                        r = -EINVAL;
                        goto finish;
                }
                n_written++;
        }

        bool scripts = false;
        for (size_t k = 0; k < ELEMENTSOF(scriptlet_tags) && !scripts; k++) {
                RpmEntry e;
                scripts = rpm_header_get(h, scriptlet_tags[k], &e) >= 0;
        }
        *ret = (InstallResult) { .pkg = TAKE_PTR(p), .nevra = TAKE_PTR(nevra), .has_scriptlets = scripts,
                                 .n_files = n_written };
        r = 0;

finish:
        if (a)
                archive_read_free(a);
        for (size_t i = 0; content && i < fi.n; i++)
                tree_blob_unref(content[i]);
        free(content);
        free(seen);
        free(link_ids);
        file_info_release(&fi);
        return r;
}
