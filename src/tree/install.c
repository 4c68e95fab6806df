/* SPDX-License-Identifier: MIT */

/* RPM payload installation into a tree. The header is the authority on each
 * file (rpm's lib/fsm.c takes modes, owners, times and link targets from the
 * header's file info, not from the cpio entry); the payload provides contents.
 * RPM payloads are cpio "newc" archives whose entry names are the header's
 * paths with a leading "." (rpm's lib/cpio.c). */

#include <linux/capability.h>
#include <sys/capability.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "rpm/files.h"
#include "script/plan.h"
#include "tree/cpio.h"
#include "tree/install.h"

void install_result_release(InstallResult *r) {
        rpm_package_free(r->pkg);
        free(r->nevra);
        *r = (InstallResult) {};
}

/* A file capability as rpm's header states it (cap_to_text(3) form, such
 * as "cap_net_raw=ep") into the security.capability value the kernel reads:
 * struct vfs_cap_data, revision 2 (linux/capability.h), little-endian. */
static int filecaps_to_xattr(const char *text, uint8_t out[static XATTR_CAPS_SZ_2], size_t *ret_len) {
        cap_t c = cap_from_text(text);
        if (!c)
                return -EINVAL;
        uint32_t perm[2] = {}, inh[2] = {};
        bool eff = false;
        for (unsigned v = 0; v < 64; v++) {
                cap_flag_value_t fp = CAP_CLEAR, fi = CAP_CLEAR, fe = CAP_CLEAR;
                if (cap_get_flag(c, (cap_value_t) v, CAP_PERMITTED, &fp) < 0)
                        break; /* past the last capability libcap knows */
                (void) cap_get_flag(c, (cap_value_t) v, CAP_INHERITABLE, &fi);
                (void) cap_get_flag(c, (cap_value_t) v, CAP_EFFECTIVE, &fe);
                if (fp == CAP_SET)
                        perm[v / 32] |= UINT32_C(1) << (v % 32);
                if (fi == CAP_SET)
                        inh[v / 32] |= UINT32_C(1) << (v % 32);
                if (fe == CAP_SET)
                        eff = true;
        }
        cap_free(c);
        uint32_t words[5] = { VFS_CAP_REVISION_2 | (eff ? VFS_CAP_FLAGS_EFFECTIVE : 0), perm[0], inh[0], perm[1], inh[1] };
        for (size_t i = 0; i < 5; i++)
                for (size_t b = 0; b < 4; b++)
                        out[i * 4 + b] = (uint8_t) (words[i] >> (8 * b));
        *ret_len = XATTR_CAPS_SZ_2;
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
                /* A file that cannot be read is taken as different: a conflict. */
                return tree_blob_equal(old->blob, new->blob) > 0;
        }
        case TREE_SYMLINK:
                return strcmp(old->target, new->target) == 0;
        default:
                return old->rdev_major == new->rdev_major && old->rdev_minor == new->rdev_minor;
        }
}

/* Payloads are decompressed into shared arenas of huge pages: a first touch
 * of 2 MiB costs about what one 4 KiB page fault does, and the packages of
 * an image are many and mostly small. A payload is a slice of an arena
 * chunk (the chunk lives while any file of it does); a large one gets its
 * own mapping. */
#define ARENA_CHUNK ((size_t) 64 << 20)
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static TreeBlob *arena;
static size_t arena_used;

static TreeBlob *arena_take(size_t n) {
        if (n > ARENA_CHUNK / 4) {
                uint8_t *d = huge_alloc(n);
                return d ? tree_blob_take_huge(d, n, n) : NULL;
        }
        size_t need = (n + 63) & ~(size_t) 63;
        TreeBlob *b = NULL;
        pthread_mutex_lock(&arena_lock);
        if (!arena || ARENA_CHUNK - arena_used < need) {
                uint8_t *d = huge_alloc(ARENA_CHUNK);
                tree_blob_unref(arena);
                arena = d ? tree_blob_take_huge(d, ARENA_CHUNK, ARENA_CHUNK) : NULL;
                arena_used = 0;
        }
        if (arena) {
                b = tree_blob_slice(arena, arena_used, n);
                arena_used += need;
        }
        pthread_mutex_unlock(&arena_lock);
        return b;
}

/* The uncompressed payload size the signature header states (rpm writes
 * both tags); 0 if none. Only a hint: the data decides. */
static uint64_t payload_size_hint(const RpmPackage *p) {
        uint64_t v;
        if (p->signature && rpm_header_get_number(p->signature, RPMSIGTAG_LONGARCHIVESIZE, &v) >= 0)
                return v;
        if (p->signature && rpm_header_get_number(p->signature, RPMSIGTAG_PAYLOADSIZE, &v) >= 0)
                return v;
        return 0;
}

/* The most a payload may decompress to: what its header claims. A newc
 * archive of the header's files is at most, per file, a header of 110
 * bytes and the name ("." + path + NUL) padded to 4, and the contents
 * (FILESIZES: a symbolic link's target) padded to 4; then the trailer
 * (110 + "TRAILER!!!" + NUL, padded: 124). Ghost files and hard links'
 * shared contents only make the real archive smaller. The signature
 * header's archive size (rpm and slipway write the exact one), when given,
 * bounds it too. A payload is refused as soon as it goes past this, before
 * anything sized by the data is allocated or written (a small package whose
 * payload inflates to gigabytes: docs/images.md, "Memory"). */
static uint64_t payload_limit(const RpmPackage *p, const RpmFileList *fi) {
        uint64_t bound = 124;
        for (size_t i = 0; i < fi->n; i++) {
                uint64_t name = 110 + strlen(fi->files[i].path) + 2;
                uint64_t entry = ((name + 3) & ~(uint64_t) 3) + ((fi->files[i].size + 3) & ~(uint64_t) 3);
                if (fi->files[i].size > UINT64_MAX / 4 || bound > UINT64_MAX - entry)
                        return UINT64_MAX;
                bound += entry;
        }
        uint64_t hint = payload_size_hint(p);
        return hint > 0 ? MIN(hint, bound) : bound;
}

/* Payloads larger than this (or of unknown size) are decompressed into a
 * spool file rather than into memory (docs/images.md, "Memory"). */
static uint64_t spool_min = (uint64_t) 64 << 20;

void rpm_unpack_set_spool_min(uint64_t bytes) {
        spool_min = bytes;
}

/* A private, unlinked file in $TMPDIR (or /var/tmp, which is on disk where
 * /tmp may be memory). */
static int spool_open(void) {
        const char *dir = getenv("TMPDIR");
        return tmpfile_anonymous(dir && *dir ? dir : "/var/tmp");
}

typedef struct SpoolWrite {
        int fd;
        uint64_t size;
} SpoolWrite;

static int spool_sink(void *userdata, const void *data, size_t n) {
        SpoolWrite *w = userdata;
        int r = loop_write(w->fd, data, n);
        if (r < 0)
                return r;
        w->size += n;
        return 0;
}

/* The payload decompressed into a spool file, read and written in pieces:
 * a blob in that file, which the files' blobs are slices of. */
static int spool_payload(const char *path, const RpmPackage *p, uint64_t limit, TreeBlob **ret) {
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        int fd = spool_open();
        if (fd < 0)
                return fd;
        SpoolWrite w = { .fd = fd };
        int r = decompress_fd(in, p->payload_offset, UINT64_MAX, limit, spool_sink, &w);
        if (r < 0) {
                close(fd);
                return r;
        }
        TreeBlob *b = tree_blob_take_fd(fd, 0, (size_t) w.size);
        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

/* Reads the payload: the bytes after the headers, decompressed, as a blob
 * the files' contents are slices of; in memory, or in a spool file when it
 * is large or its size unknown. More than the header claims (payload_limit):
 * -EFBIG, with *ret_limit set. */
static int read_payload(const char *path, const RpmPackage *p, const RpmFileList *fi, TreeBlob **ret,
                        uint64_t *ret_limit) {
        if (p->payload_offset > p->file_size)
                return -EBADMSG;
        uint64_t hint = payload_size_hint(p);
        uint64_t limit = payload_limit(p, fi);
        *ret_limit = limit;
        /* A stated size up to spool_min, and at most 1024 times the
         * compressed size, sizes the buffer; the data decides the result. */
        if (hint == 0 || hint > spool_min || hint / 1024 > p->file_size - p->payload_offset + 1)
                return spool_payload(path, p, limit, ret);

        void *data = NULL;
        size_t size = 0;
        /* Mapped, not read: small, and read once. */
        int r = map_file(path, &data, &size);
        if (r < 0)
                return r;
        if (p->payload_offset > size) {
                munmap(data, size);
                return -EBADMSG;
        }
        TreeBlob *b = arena_take((size_t) hint);
        if (!b) {
                munmap(data, size);
                return -ENOMEM;
        }
        size_t got = 0;
        /* limit <= hint here: the buffer is never outgrown. */
        r = decompress_into((const uint8_t *) data + p->payload_offset, size - p->payload_offset, b->data,
                            (size_t) MIN(limit, (uint64_t) b->size), &got);
        munmap(data, size);
        if (r >= 0) {
                b->size = got;
                *ret = b;
                return 0;
        }
        tree_blob_unref(b);
        return r;
}

struct RpmUnpacked {
        RpmPackage *pkg;
        char *nevra;
        char *error;      /* why unpacking failed */
        int result;
        RpmFileList fi;
        TreeBlob **content; /* per file: its contents (NULL: empty or not a file) */
        size_t *leader;     /* per file: the first file of its hard-link group, or SIZE_MAX */
        uint8_t (*caps)[XATTR_CAPS_SZ_2]; /* per file, when caps_len[i] > 0 */
        uint8_t *caps_len;
        bool has_scriptlets;
};

RpmUnpacked *rpm_unpacked_free(RpmUnpacked *u) {
        if (!u)
                return NULL;
        rpm_package_free(u->pkg);
        free(u->nevra);
        free(u->error);
        for (size_t i = 0; u->content && i < u->fi.n; i++)
                tree_blob_unref(u->content[i]);
        free(u->content);
        free(u->leader);
        free(u->caps);
        free(u->caps_len);
        rpm_file_list_release(&u->fi);
        free(u);
        return NULL;
}

const char *rpm_unpacked_error(const RpmUnpacked *u) {
        return u->error;
}

const RpmFileList *rpm_unpacked_files(const RpmUnpacked *u) {
        return &u->fi;
}

const TreeBlob *rpm_unpacked_content(const RpmUnpacked *u, size_t i) {
        return u->content && i < u->fi.n ? u->content[i] : NULL;
}

static int unpack_fail(RpmUnpacked *u, int r, const char *fmt, ...) _printf_(3, 4);
static int unpack_fail(RpmUnpacked *u, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        free(u->error);
        if (vasprintf(&u->error, fmt, ap) < 0)
                u->error = NULL;
        va_end(ap);
        return r;
}

/* The header's file an entry of the payload is: its name without the
 * leading "."; SIZE_MAX if none (or one seen already). The payload's order
 * follows the header's, so the search starts after the previous match
 * (linear, not quadratic). */
static size_t find_entry(const RpmFileList *fi, const bool *seen, size_t *cursor, const char *en) {
        if (en[0] == '.')
                en++;
        for (size_t j = 0; j < fi->n; j++) {
                size_t k = (*cursor + j) % fi->n;
                if (!seen[k] && strcmp(fi->files[k].path, en) == 0) {
                        *cursor = k + 1;
                        return k;
                }
        }
        return SIZE_MAX;
}

/* The newc entries of a payload in a spool file, read header by header with
 * the one newc decoder (tree/cpio.h): each file's contents become a slice of
 * the spool, nothing of them is read. */
static int walk_spooled(RpmUnpacked *u, TreeBlob *payload, bool *seen) {
        const RpmFileList *fi = &u->fi;
        const uint64_t size = payload->size;
        _cleanup_free_ char *name = NULL;
        size_t cursor = 0;
        for (uint64_t off = 0;;) {
                uint8_t h[CPIO_NEWC_HEADER_SIZE];
                CpioNewcHeader ch;
                if (size - off < sizeof h || tree_blob_read(payload, off, h, sizeof h) < 0 ||
                    cpio_newc_header_parse(h, &ch) < 0)
                        return unpack_fail(u, -EBADMSG, "package %s: its payload is not a complete newc cpio archive",
                                           u->nevra);
                uint64_t namesize = ch.namesize, filesize = ch.filesize;
                uint64_t name_end = off + sizeof h + namesize;
                name_end += cpio_newc_pad(name_end);
                if (name_end > size || name_end + filesize > size)
                        return unpack_fail(u, -EBADMSG, "package %s: its payload is not a complete newc cpio archive",
                                           u->nevra);
                free(name);
                name = malloc(namesize);
                if (!name)
                        return -ENOMEM;
                if (tree_blob_read(payload, off + sizeof h, name, namesize) < 0 ||
                    cpio_name_check(name, namesize) < 0)
                        return unpack_fail(u, -EBADMSG, "package %s: corrupt payload", u->nevra);
                if (strcmp(name, CPIO_TRAILER) == 0)
                        return 0;
                size_t i = find_entry(fi, seen, &cursor, name);
                if (i == SIZE_MAX)
                        return unpack_fail(u, -EBADMSG,
                                           "package %s: its payload holds '%s', which its header does not list",
                                           u->nevra, name[0] == '.' ? name + 1 : name);
                seen[i] = true;
                /* newc puts a hard link group's data on its last member. */
                if (S_ISREG(fi->files[i].mode) && filesize > 0) {
                        u->content[i] = tree_blob_slice(payload, (size_t) name_end, (size_t) filesize);
                        if (!u->content[i])
                                return -ENOMEM;
                }
                uint64_t next = name_end + filesize;
                off = MIN(next + cpio_newc_pad(next), size);
        }
}

static int unpack(RpmUnpacked *u, const char *path) {
        _cleanup_(tree_blob_unrefp) TreeBlob *payload = NULL;
        bool *seen = NULL;
        size_t cursor = 0;
        int r;

        r = rpm_package_read(path, &u->pkg);
        if (r < 0)
                return unpack_fail(u, r, "cannot read the package '%s': %s", path,
                                   r == -EBADMSG ? "not a valid RPM package" : strerror(-r));
        const RpmHeader *h = u->pkg->header;
        const char *name = rpm_header_get_string(h, RPMTAG_NAME), *ver = rpm_header_get_string(h, RPMTAG_VERSION),
                   *rel = rpm_header_get_string(h, RPMTAG_RELEASE), *arch = rpm_header_get_string(h, RPMTAG_ARCH);
        uint64_t epoch;
        bool has_epoch = rpm_header_get_number(h, RPMTAG_EPOCH, &epoch) >= 0;
        if (!name || !ver || !rel || !arch)
                return unpack_fail(u, -EBADMSG, "package '%s' has no name, version, release or arch", path);
        if ((has_epoch ? asprintf(&u->nevra, "%s-%" PRIu64 ":%s-%s.%s", name, epoch, ver, rel, arch)
                       : asprintf(&u->nevra, "%s-%s-%s.%s", name, ver, rel, arch)) < 0) {
                u->nevra = NULL;
                return -ENOMEM;
        }
        u->has_scriptlets = header_has_scriptlets(h);

        RpmFileList *fi = &u->fi;
        const char *why = NULL;
        r = rpm_header_files(h, fi, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return unpack_fail(u, -EBADMSG, "package %s: malformed file list in its header: %s", u->nevra, why);
        /* The codecs the decompressor knows by their magic; rpm's others
         * (bzip2, lzma) would reach the cpio parser as they are. No tag:
         * not compressed. */
        const char *codec = rpm_header_get_string(h, RPMTAG_PAYLOADCOMPRESSOR);
        if (codec && strcmp(codec, "gzip") != 0 && strcmp(codec, "zstd") != 0 && strcmp(codec, "xz") != 0)
                return unpack_fail(u, -EBADMSG,
                                   "package %s: its payload is compressed with '%s', which slipway does not read "
                                   "(gzip, zstd and xz are)",
                                   u->nevra, codec);
        uint64_t limit = 0;
        r = read_payload(path, u->pkg, fi, &payload, &limit);
        if (r == -ENOMEM)
                return r;
        if (r == -EFBIG)
                return unpack_fail(u, -EBADMSG,
                                   "package %s: its payload decompresses to more than the %" PRIu64
                                   " bytes its header states: refused",
                                   u->nevra, limit);
        if (r == -EBADMSG) /* the decompressor's one meaning of it */
                return unpack_fail(u, -EBADMSG, "package %s: its %s payload is corrupt or truncated", u->nevra,
                                   codec ? codec : "uncompressed");
        if (r < 0)
                return unpack_fail(u, -EBADMSG, "package %s: cannot unpack its payload: %s", u->nevra, strerror(-r));

        seen = new0(bool, fi->n);
        u->content = new0(TreeBlob *, fi->n);
        u->leader = new0(size_t, fi->n);
        u->caps = calloc(fi->n ? fi->n : 1, XATTR_CAPS_SZ_2);
        u->caps_len = new0(uint8_t, fi->n);
        if (!seen || !u->content || !u->leader || !u->caps || !u->caps_len) {
                r = -ENOMEM;
                goto finish;
        }
        if (tree_blob_in_file(payload)) {
                r = walk_spooled(u, payload, seen);
                goto finish_walk;
        }
        /* The payload's entries as they lie in the buffer: each file's
         * contents are a slice of it, no copy. */
        size_t off = 0;
        CpioNewcEntry ce;
        while ((r = cpio_newc_next(payload->data, payload->size, &off, &ce)) > 0) {
                const char *en = ce.name[0] == '.' ? ce.name + 1 : ce.name;
                size_t i = find_entry(fi, seen, &cursor, ce.name);
                if (i == SIZE_MAX) {
                        r = unpack_fail(u, -EBADMSG, "package %s: its payload holds '%s', which its header does not list",
                                        u->nevra, en);
                        goto finish;
                }
                seen[i] = true;
                /* newc puts a hard link group's data on its last member; the
                 * others have none. */
                if (!S_ISREG(fi->files[i].mode) || ce.h.filesize == 0)
                        continue;
                u->content[i] = tree_blob_slice(payload, ce.data_offset, ce.h.filesize);
                if (!u->content[i]) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        if (r < 0) {
                r = unpack_fail(u, -EBADMSG, "package %s: its payload is not a complete newc cpio archive", u->nevra);
                goto finish;
        }

        r = 0;
finish_walk:
        if (r < 0)
                goto finish;

        /* Hard links: the files of one inode share the contents the payload
         * gave one of them (newc puts the data on the last link). */
        for (size_t i = 0; i < fi->n; i++)
                u->leader[i] = SIZE_MAX;
        for (size_t i = 0; i < fi->n; i++) {
                if (!S_ISREG(fi->files[i].mode) || u->leader[i] != SIZE_MAX || fi->files[i].inode == 0)
                        continue;
                size_t members = 0;
                TreeBlob *b = NULL;
                for (size_t k = i; k < fi->n; k++)
                        if (S_ISREG(fi->files[k].mode) && fi->files[k].inode == fi->files[i].inode) {
                                members++;
                                if (u->content[k])
                                        b = u->content[k];
                        }
                if (members < 2)
                        continue;
                for (size_t k = i; k < fi->n; k++)
                        if (S_ISREG(fi->files[k].mode) && fi->files[k].inode == fi->files[i].inode) {
                                u->leader[k] = i;
                                if (u->content[k] != b) {
                                        tree_blob_unref(u->content[k]);
                                        u->content[k] = tree_blob_ref(b);
                                }
                        }
        }

        for (size_t i = 0; i < fi->n; i++) {
                if (fi->files[i].flags & RPMFILE_GHOST)
                        continue;
                TreeType type = tree_type_from_mode(fi->files[i].mode);
                if (type < 0) {
                        r = unpack_fail(u, -EBADMSG, "package %s: '%s' has an unknown file type", u->nevra, fi->files[i].path);
                        goto finish;
                }
                if (!seen[i] && type != TREE_DIR && !(type == TREE_REG && u->leader[i] != SIZE_MAX)) {
                        r = unpack_fail(u, -EBADMSG, "package %s: '%s' is missing from its payload", u->nevra,
                                        fi->files[i].path);
                        goto finish;
                }
                if (fi->files[i].caps[0] && type == TREE_REG) {
                        size_t cl;
                        if (filecaps_to_xattr(fi->files[i].caps, u->caps[i], &cl) < 0) {
                                r = unpack_fail(u, -EBADMSG,
                                                "package %s: '%s' has a file capability libcap cannot read: '%s'",
                                                u->nevra, fi->files[i].path, fi->files[i].caps);
                                goto finish;
                        }
                        u->caps_len[i] = (uint8_t) cl;
                }
        }
        r = 0;
finish:
        free(seen);
        return r;
}

int rpm_unpack(const char *path, RpmUnpacked **ret) {
        RpmUnpacked *u = new0(RpmUnpacked, 1);
        if (!u)
                return -ENOMEM;
        u->result = unpack(u, path);
        if (u->result < 0 && !u->error && u->result != -ENOMEM)
                (void) unpack_fail(u, u->result, "package '%s': %s", path, strerror(-u->result));
        *ret = u;
        return u->result;
}

int tree_install_unpacked(Tree *t, RpmUnpacked *u, Diagnostics *d, InstallResult *ret) {
        _cleanup_free_ uint64_t *link_ids = NULL;
        size_t n_written = 0;
        int r;

        if (u->result < 0) {
                if (u->error)
                        diag_error(d, NULL, "%s", u->error);
                return u->result;
        }
        const RpmFileList *fi = &u->fi;
        link_ids = new0(uint64_t, fi->n);
        if (!link_ids)
                return -ENOMEM;
        for (size_t i = 0; i < fi->n; i++)
                if (u->leader[i] != SIZE_MAX) {
                        size_t l = u->leader[i];
                        if (!link_ids[l])
                                link_ids[l] = tree_new_link_id(t);
                        link_ids[i] = link_ids[l];
                }

        for (size_t i = 0; i < fi->n; i++) {
                uint32_t fl = fi->files[i].flags;
                if (fl & RPMFILE_GHOST)
                        continue; /* rpm records %ghost files; it does not create them */
                TreeType type = tree_type_from_mode(fi->files[i].mode);
                if (type == TREE_SOCK) {
                        /* A socket is made by the program that listens on it;
                         * tar cannot archive one and no writer stores one. */
                        diag_error(d, NULL, "package %s: '%s' is a socket, which images cannot hold", u->nevra,
                                   fi->files[i].path);
                        return -EINVAL;
                }
                _cleanup_free_ char *norm = NULL, *where = NULL;
                r = tree_path_normalize(fi->files[i].path, &norm);
                if (r == -EPERM || (r >= 0 && fi->files[i].path[0] != '/')) {
                        diag_error(d, NULL, "package %s: '%s' leaves the root; refused", u->nevra, fi->files[i].path);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
                /* Directories on the way may be symlinks (/bin -> usr/bin):
                 * the file lands where they lead, inside the tree. */
                r = tree_resolve(t, norm, &where);
                if (r < 0) {
                        diag_error(d, NULL, "package %s: cannot install '%s': %s", u->nevra, norm,
                                   r == -ENOTDIR ? "a parent is not a directory" : strerror(-r));
                        return -EINVAL;
                }
                TreeNode *n = new0(TreeNode, 1);
                if (!n)
                        return -ENOMEM;
                n->path = TAKE_PTR(where);
                n->type = type;
                n->mode = fi->files[i].mode & 07777;
                n->mtime = fi->files[i].mtime;
                n->flags = (fl & RPMFILE_CONFIG ? TREE_NODE_CONFIG : 0) | (fl & RPMFILE_DOC ? TREE_NODE_DOC : 0);
                /* No owner in the header is root, as in rpm's rpmfilesStat(). */
                if (!fi->files[i].user || tree_lookup_user(t, fi->files[i].user, &n->uid) < 0)
                        n->uid = 0; /* rpm: "user X does not exist - using root" */
                if (!fi->files[i].group || tree_lookup_group(t, fi->files[i].group, &n->gid) < 0)
                        n->gid = 0;
                n->owner = strdup(u->nevra);
                if (type == TREE_REG) {
                        n->blob = tree_blob_ref(u->content[i]);
                        n->link_id = link_ids[i];
                } else if (type == TREE_SYMLINK)
                        n->target = strdup(fi->files[i].link);
                else if (type == TREE_CHR || type == TREE_BLK) {
                        n->rdev_major = (fi->files[i].rdev >> 8) & 0xfff;
                        n->rdev_minor = (fi->files[i].rdev & 0xff) | ((fi->files[i].rdev >> 12) & 0xfff00);
                }
                if (!n->owner || (type == TREE_SYMLINK && !n->target)) {
                        tree_node_free(n);
                        return -ENOMEM;
                }
                if (u->caps_len[i] > 0) {
                        r = tree_node_set_xattr(n, "security.capability", u->caps[i], u->caps_len[i]);
                        if (r < 0) {
                                tree_node_free(n);
                                return r;
                        }
                }
                TreeNode *old = tree_get(t, n->path);
                if (old && !compatible(old, n)) {
                        diag_error(d, NULL, "file '%s' conflicts between %s and %s%s", n->path,
                                   old->owner ? old->owner : "the image", u->nevra,
                                   old->type != n->type ? " (different types)" : "");
                        tree_node_free(n);
                        return -EINVAL;
                }
                if (old && old->type == TREE_DIR) {
                        /* A directory owned by several packages keeps its
                         * first attributes, as rpm keeps what is on disk. */
                        tree_node_free(n);
                        continue;
                }
                r = tree_add(t, n, NULL);
                if (r < 0) {
                        diag_error(d, NULL, "package %s: cannot install '%s': %s", u->nevra, fi->files[i].path,
                                   r == -ENOTDIR ? "a parent is not a directory" : strerror(-r));
                        return -EINVAL;
                }
                n_written++;
        }

        *ret = (InstallResult) { .pkg = TAKE_PTR(u->pkg), .nevra = strdup(u->nevra),
                                 .has_scriptlets = u->has_scriptlets, .n_files = n_written };
        return ret->nevra ? 0 : -ENOMEM;
}

int tree_install_rpm(Tree *t, const char *path, Diagnostics *d, InstallResult *ret) {
        RpmUnpacked *u = NULL;
        int r = rpm_unpack(path, &u);
        if (r == -ENOMEM) {
                rpm_unpacked_free(u);
                return r;
        }
        r = tree_install_unpacked(t, u, d, ret);
        rpm_unpacked_free(u);
        return r;
}
