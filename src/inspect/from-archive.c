/* SPDX-License-Identifier: MIT */

/* Images: tar and cpio archives (plain, gzip or zstd; root file system
 * tarballs, WSL images, initrds), OCI image layouts (image-spec v1.0
 * image-layout.md: oci-layout, index.json, blobs/ALG/HEX) and the same layout
 * in a tar (oci-archive). libarchive reads them with only its tar and raw
 * readers and the gzip and zstd decompressors (never an external program),
 * from a file, from memory, or streamed from the entry of an outer archive
 * (an oci-archive's layer); cpio is parsed here from the raw reader's bytes
 * (see walk_cpio()). An image's rpm database is read into memory and handed
 * to from-rpmdb.c.
 *
 * Bounds: decompressed bytes in all (InspectOptions.max_bytes, checked before
 * each entry's data is read or skipped), JSON documents (4 MiB each, 64 MiB of
 * an oci-archive's small blobs kept in all), the rpm database (512 MiB),
 * nested OCI indexes (4 deep), layers (1024), cpio names and link targets
 * (4096 bytes). */

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "inspect/inspect.h"
#include "tree/cpio.h"

#define DEFAULT_MAX_BYTES (UINT64_C(1) << 40)
#define DEFAULT_MAX_ENTRIES 4000000
#define JSON_BLOB_MAX (4u << 20)
#define OCI_KEEP_MAX (64u << 20)
#define OCI_KEEP_MAX_FILES 4096
#define RPMDB_MAX (512u << 20)
#define OCI_MAX_DEPTH 4
#define OCI_MAX_LAYERS 1024

/* Where an archive comes from: a file, memory, or the current entry of an
 * outer archive. */
typedef struct Input {
        const char *path;
        const void *data;
        size_t size;
        struct archive *outer;
} Input;

/* A small file of an oci-archive, kept from the first pass. */
typedef struct Kept {
        char *name; /* relative: "index.json", "blobs/sha256/..." */
        uint8_t *data;
        size_t size;
} Kept;

typedef struct Reader {
        uint64_t max_bytes;
        size_t max_entries;
        uint64_t used;         /* decompressed bytes of the archives read so far */
        Inventory *inv;
        Diagnostics *d;
        uint8_t *rpmdb[ELEMENTSOF(inspect_rpmdb_paths)]; /* the last copy of each */
        size_t rpmdb_size[ELEMENTSOF(inspect_rpmdb_paths)];
        /* The first pass over an archive keeps what an oci-archive needs. */
        bool keep;
        bool has_oci_layout;
        Kept *kept;
        size_t n_kept, allocated_kept, kept_bytes;
} Reader;

static void reader_release(Reader *r) {
        for (size_t i = 0; i < ELEMENTSOF(r->rpmdb); i++)
                free(r->rpmdb[i]);
        for (size_t i = 0; i < r->n_kept; i++) {
                free(r->kept[i].name);
                free(r->kept[i].data);
        }
        free(r->kept);
}

/* Records an error about what (a layer; NULL: the input itself). */
_printf_(3, 4) static void reader_error(Reader *r, const char *what, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        diag_error(r->d, NULL, "%s%s%s", what ? what : "", what ? ": " : "", m ? m : "out of memory");
}

static const Kept *kept_find(const Reader *r, const char *name) {
        for (size_t i = 0; i < r->n_kept; i++)
                if (strcmp(r->kept[i].name, name) == 0)
                        return &r->kept[i];
        return NULL;
}

/* "./usr/bin/" and "usr/bin" -> "usr/bin"; "." and "./" -> "". */
static const char *skip_dot_slash(const char *s, size_t *ret_len) {
        for (;;) {
                if (s[0] == '/')
                        s++;
                else if (s[0] == '.' && (s[1] == '/' || s[1] == 0))
                        s += s[1] ? 2 : 1;
                else
                        break;
        }
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
                n--;
        *ret_len = n;
        return s;
}

static char *relative_name(const char *s) {
        size_t n;
        s = skip_dot_slash(s, &n);
        return strndup(s, n);
}

static char *absolute_name(const char *s) {
        size_t n;
        s = skip_dot_slash(s, &n);
        char *r = malloc(n + 2);
        if (!r)
                return NULL;
        r[0] = '/';
        memcpy(r + 1, s, n);
        r[n + 1] = 0;
        return r;
}

/* ---- one archive ---------------------------------------------------------- */

typedef struct OuterStream {
        struct archive *outer;
        uint8_t buf[64 * 1024];
} OuterStream;

static la_ssize_t outer_read(struct archive *a, void *userdata, const void **buf) {
        OuterStream *s = userdata;
        la_ssize_t n = archive_read_data(s->outer, s->buf, sizeof s->buf);
        if (n < 0) {
                const char *e = archive_error_string(s->outer);
                archive_set_error(a, EIO, "%s", e ? e : "read error in the outer archive");
                return -1;
        }
        *buf = s->buf;
        return n;
}

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static int unrecognised(Reader *r, const char *what) {
        if (what)
                reader_error(r, what, "not a tar or cpio archive (plain, gzip or zstd)");
        else
                reader_error(r, NULL, "not an RPM package, a repository or an image (unrecognised content)");
        return -EMEDIUMTYPE;
}

static int archive_failure(Reader *r, struct archive *a, const char *what) {
        /* Neither a compression nor a format recognised: not an archive. */
        if (archive_format(a) == 0 && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE)
                return unrecognised(r, what);
        const char *e = archive_error_string(a);
        reader_error(r, what, "malformed or truncated archive: %s", e ? e : "unexpected end of data");
        return -EBADMSG;
}

static int archive_open_input(Reader *r, const Input *in, OuterStream *stream, const char *what,
                              struct archive **ret) {
        _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
        if (!a)
                return -ENOMEM;
        /* ARCHIVE_WARN here would mean an external program: refuse it. */
        if (archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
            archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_support_format_raw(a) != ARCHIVE_OK) {
                reader_error(r, what, "this build of libarchive cannot read gzip, zstd and tar by itself");
                return -EOPNOTSUPP;
        }
        int ar;
        if (in->path)
                ar = archive_read_open_filename(a, in->path, 64 * 1024);
        else if (in->outer) {
                stream->outer = in->outer;
                ar = archive_read_open(a, stream, NULL, outer_read, NULL);
        } else
                ar = archive_read_open_memory(a, in->data, in->size);
        if (ar != ARCHIVE_OK)
                return archive_failure(r, a, what);
        *ret = TAKE_PTR(a);
        return 0;
}

static const char *filter_name(struct archive *a) {
        switch (archive_filter_code(a, 0)) {
        case ARCHIVE_FILTER_GZIP:
                return "gzip";
        case ARCHIVE_FILTER_ZSTD:
                return "zstd";
        default:
                return "none";
        }
}

/* Reads the current entry's data (size bytes as its header says). */
static int read_entry_data(Reader *r, struct archive *a, int64_t size, const char *what, uint8_t **ret) {
        _cleanup_free_ uint8_t *buf = malloc(size > 0 ? (size_t) size : 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        while (got < (size_t) size) {
                la_ssize_t n = archive_read_data(a, buf + got, (size_t) size - got);
                if (n < 0)
                        return archive_failure(r, a, what);
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        if (got != (size_t) size) {
                reader_error(r, what, "truncated archive: an entry ends early");
                return -EBADMSG;
        }
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Skips the rest of the current entry, data_left bytes of data and its
 * padding. A tar whose input ends after the last entry's data, inside its
 * padding, is taken to end there, as Go's archive/tar (and so docker and
 * podman) reads it: umoci writes layers like that. Returns 0 (skipped), 1 (the
 * archive ended) or an error. */
static int skip_entry(Reader *r, struct archive *a, int64_t data_left, const char *what) {
        la_int64_t before = archive_filter_bytes(a, 0);
        if (archive_read_data_skip(a) == ARCHIVE_OK)
                return 0;
        la_int64_t after = archive_filter_bytes(a, 0);
        if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR && before >= 0 &&
            after - before >= data_left) {
                diag_note(r->d, NULL, "%s%sthe archive ends without padding after its last entry (as umoci writes "
                          "layers): taken as its end", what ? what : "", what ? ": " : "");
                return 1;
        }
        return archive_failure(r, a, what);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int add_entry(Reader *r, struct archive_entry *e, const char *name, int layer) {
        InvFile *f = inventory_add_file(r->inv);
        if (!f)
                return -ENOMEM;
        f->layer = layer;
        f->path = absolute_name(name);
        if (!f->path)
                return -ENOMEM;
        f->mode = (uint32_t) archive_entry_mode(e);
        /* A tar hard link (type '1') has no file type of its own; what it
         * links to is a regular file but in rare cases. */
        if ((f->mode & S_IFMT) == 0 && archive_entry_hardlink(e))
                f->mode |= S_IFREG;
        f->has_ids = true;
        f->uid = archive_entry_uid(e);
        f->gid = archive_entry_gid(e);
        f->size = archive_entry_size(e) > 0 ? (uint64_t) archive_entry_size(e) : 0;
        const char *s = archive_entry_uname(e);
        if (s && s[0] && !(f->user = strdup(s)))
                return -ENOMEM;
        s = archive_entry_gname(e);
        if (s && s[0] && !(f->group = strdup(s)))
                return -ENOMEM;
        s = archive_entry_symlink(e);
        if (s && !(f->target = strdup(s)))
                return -ENOMEM;
        s = archive_entry_hardlink(e);
        if (s && !(f->hardlink = absolute_name(s)))
                return -ENOMEM;
        if (S_ISCHR(f->mode) || S_ISBLK(f->mode)) {
                f->has_rdev = true;
                f->rdev_major = (uint32_t) archive_entry_rdevmajor(e);
                f->rdev_minor = (uint32_t) archive_entry_rdevminor(e);
        }
        int nx = archive_entry_xattr_reset(e);
        if (nx > 0) {
                f->xattrs = new0(char *, (size_t) nx);
                if (!f->xattrs)
                        return -ENOMEM;
                const char *xn;
                const void *xv;
                size_t xs;
                while (f->n_xattrs < (size_t) nx && archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
                        if (!(f->xattrs[f->n_xattrs++] = strdup(xn ? xn : "")))
                                return -ENOMEM;
                qsort(f->xattrs, f->n_xattrs, sizeof(char *), strcmp_ptr);
        }
        return 0;
}

/* The rpm database slot path is one of, if any. */
static int rpmdb_slot(const char *path) {
        for (size_t i = 0; i < ELEMENTSOF(inspect_rpmdb_paths); i++)
                if (strcmp(path, inspect_rpmdb_paths[i]) == 0)
                        return (int) i;
        return -1;
}

/* Before each entry: its data must fit in what is left to decompress, and the
 * list in memory (a stream of empty entries compresses very well). */
static int check_budget(Reader *r, uint64_t pos, uint64_t size, const char *what) {
        if (r->inv->n_files >= r->max_entries) {
                reader_error(r, what, "more than %zu entries", r->max_entries);
                return -EFBIG;
        }
        if (r->used + pos > r->max_bytes || size > r->max_bytes - r->used - pos) {
                reader_error(r, what, "the archive expands to more than %llu bytes", (unsigned long long) r->max_bytes);
                return -EFBIG;
        }
        return 0;
}

static void keep_rpmdb(Reader *r, int slot, uint8_t *buf, size_t size) {
        free(r->rpmdb[slot]);
        r->rpmdb[slot] = buf;
        r->rpmdb_size[slot] = size;
}

/* The entries of a tar, the first header already read (ar, e). */
static int walk_tar(Reader *r, struct archive *a, int ar, struct archive_entry *e, int layer, const char *what) {
        bool ended = false;
        int k;

        for (; ar == ARCHIVE_OK || ar == ARCHIVE_WARN; ar = archive_read_next_header(a, &e)) {
                const char *name = archive_entry_pathname(e);
                if (!name)
                        name = archive_entry_pathname_utf8(e);
                if (!name) {
                        reader_error(r, what, "malformed archive: an entry has no name");
                        return -EBADMSG;
                }
                int64_t size = MAX(archive_entry_size(e), 0);
                k = check_budget(r, (uint64_t) MAX(archive_filter_bytes(a, 0), 0), (uint64_t) size, what);
                if (k < 0)
                        return k;
                k = add_entry(r, e, name, layer);
                if (k < 0)
                        return k;

                bool regular = archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e);
                const char *path = r->inv->files[r->inv->n_files - 1].path;
                int slot = regular ? rpmdb_slot(path) : -1;
                int64_t left = size; /* data not read yet */
                if (slot >= 0 && size > RPMDB_MAX)
                        diag_warning(r->d, NULL, "rpm database '%s' is larger than %u MiB, not read", path,
                                     RPMDB_MAX >> 20);
                else if (slot >= 0) {
                        uint8_t *buf;
                        k = read_entry_data(r, a, size, what, &buf);
                        if (k < 0)
                                return k;
                        keep_rpmdb(r, slot, buf, (size_t) size);
                        left = 0;
                }

                if (r->keep && layer < 0) {
                        _cleanup_free_ char *rel = relative_name(name);
                        if (!rel)
                                return -ENOMEM;
                        if (strcmp(rel, "oci-layout") == 0)
                                r->has_oci_layout = true;
                        if (regular && left > 0 && size <= JSON_BLOB_MAX && r->kept_bytes + (size_t) size <= OCI_KEEP_MAX &&
                            r->n_kept < OCI_KEEP_MAX_FILES &&
                            (strcmp(rel, "index.json") == 0 || strncmp(rel, "blobs/", 6) == 0)) {
                                if (!GREEDY_REALLOC(r->kept, r->allocated_kept, r->n_kept + 1))
                                        return -ENOMEM;
                                Kept *kp = &r->kept[r->n_kept];
                                *kp = (Kept) { .name = TAKE_PTR(rel), .size = (size_t) size };
                                r->n_kept++;
                                k = read_entry_data(r, a, size, what, &kp->data);
                                if (k < 0)
                                        return k;
                                r->kept_bytes += (size_t) size;
                                left = 0;
                        }
                }
                k = skip_entry(r, a, left, what);
                if (k < 0)
                        return k;
                if (k > 0) {
                        ended = true;
                        break;
                }
        }
        if (!ended && ar != ARCHIVE_EOF)
                return archive_failure(r, a, what);
        return 0;
}

/* ---- cpio ----------------------------------------------------------------- */

/* cpio is read here rather than by libarchive, whose reader allocates what a
 * header's name size asks (up to 4 GiB) before reading it. libarchive's raw
 * format hands over the decompressed bytes. Formats (cpio(5)): "newc"
 * (070701, and 070702 with checksums; what initrds use) and "odc" (070707). */

#define CPIO_LINK_MAX 4096

typedef struct Pull {
        struct archive *a;
        uint8_t buf[64 * 1024];
        size_t pos, len;
        uint64_t offset; /* bytes consumed */
} Pull;

/* Reads exactly n bytes to dst (NULL: drops them). -ENODATA: the data ended
 * first; -EIO: libarchive failed (its error string says why). */
static int pull(Pull *p, void *dst, uint64_t n) {
        uint8_t *o = dst;
        while (n > 0) {
                if (p->pos == p->len) {
                        la_ssize_t k = archive_read_data(p->a, p->buf, sizeof p->buf);
                        if (k < 0)
                                return -EIO;
                        if (k == 0)
                                return -ENODATA;
                        p->pos = 0;
                        p->len = (size_t) k;
                }
                size_t c = (size_t) MIN(n, (uint64_t) (p->len - p->pos));
                if (o) {
                        memcpy(o, p->buf + p->pos, c);
                        o += c;
                }
                p->pos += c;
                p->offset += c;
                n -= c;
        }
        return 0;
}

/* An octal field of odc's header. */
static bool parse_octal(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '7')
                        return false;
                v = v * 8 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return true;
}

typedef struct CpioHeader {
        uint64_t dev_major, dev_minor, ino, mode, uid, gid, nlink, rdev_major, rdev_minor, namesize, filesize;
        bool newc;
} CpioHeader;

/* The header after the 6-byte magic. */
static int cpio_header(Pull *p, const char magic[6], CpioHeader *h) {
        char b[104];
        int k;
        if (memcmp(magic, "07070", 5) == 0 && (magic[5] == '1' || magic[5] == '2')) {
                uint8_t full[CPIO_NEWC_HEADER_SIZE];
                CpioNewcHeader n;
                memcpy(full, magic, 6);
                if ((k = pull(p, full + 6, CPIO_NEWC_HEADER_SIZE - 6)) < 0)
                        return k;
                if (cpio_newc_header_parse(full, &n) < 0)
                        return -EBADMSG;
                *h = (CpioHeader) { .ino = n.ino, .mode = n.mode, .uid = n.uid, .gid = n.gid, .nlink = n.nlink,
                                    .filesize = n.filesize, .dev_major = n.dev_major, .dev_minor = n.dev_minor,
                                    .rdev_major = n.rdev_major, .rdev_minor = n.rdev_minor, .namesize = n.namesize,
                                    .newc = true };
                return 0;
        }
        if (memcmp(magic, "070707", 6) == 0) {
                /* dev(6) ino(6) mode(6) uid(6) gid(6) nlink(6) rdev(6) mtime(11) namesize(6) filesize(11), octal */
                static const uint8_t width[10] = { 6, 6, 6, 6, 6, 6, 6, 11, 6, 11 };
                uint64_t v[10];
                size_t off = 0;
                if ((k = pull(p, b, 70)) < 0)
                        return k;
                for (size_t i = 0; i < 10; i++) {
                        if (!parse_octal(b + off, width[i], &v[i]))
                                return -EBADMSG;
                        off += width[i];
                }
                *h = (CpioHeader) { .dev_major = v[0], .ino = v[1], .mode = v[2], .uid = v[3], .gid = v[4],
                                    .nlink = v[5], .rdev_major = (v[6] >> 8) & 0xFF, .rdev_minor = v[6] & 0xFF,
                                    .namesize = v[8], .filesize = v[9] };
                return 0;
        }
        return -EMEDIUMTYPE;
}

typedef struct LinkKey {
        uint64_t dev_major, dev_minor, ino;
        size_t file; /* index in inv->files of the first path */
} LinkKey;

static int cpio_failure(Reader *r, Pull *p, int k, const char *what) {
        if (k == -ENOMEM)
                return k;
        if (k == -EIO)
                return archive_failure(r, p->a, what);
        if (k == -ENODATA)
                reader_error(r, what, "truncated cpio archive: the data ends at byte %llu, before the trailer",
                             (unsigned long long) p->offset);
        else
                reader_error(r, what, "malformed cpio archive: bad header at byte %llu", (unsigned long long) p->offset);
        return -EBADMSG;
}

static int walk_cpio(Reader *r, struct archive *a, int layer, const char *what) {
        _cleanup_free_ Pull *p = new0(Pull, 1);
        _cleanup_free_ LinkKey *links = NULL;
        size_t n_links = 0, allocated_links = 0;
        int k;

        if (!p)
                return -ENOMEM;
        p->a = a;
        for (bool first = true;; first = false) {
                char magic[6];
                CpioHeader h;
                uint64_t start = p->offset;
                k = pull(p, magic, sizeof magic);
                if (k >= 0)
                        k = cpio_header(p, magic, &h);
                if (first && (k == -EMEDIUMTYPE || k == -ENODATA))
                        return unrecognised(r, what);
                if (k < 0)
                        return cpio_failure(r, p, k, what);
                if (h.namesize < 2 || h.namesize > CPIO_NAME_MAX) {
                        reader_error(r, what, "malformed cpio archive: a name of %llu bytes at byte %llu",
                                     (unsigned long long) h.namesize, (unsigned long long) start);
                        return -EBADMSG;
                }
                char name[CPIO_NAME_MAX];
                if ((k = pull(p, name, h.namesize)) < 0)
                        return cpio_failure(r, p, k, what);
                if (cpio_name_check(name, h.namesize) < 0) {
                        reader_error(r, what, "malformed cpio archive: a name without its terminator, or with a NUL "
                                              "inside, at byte %llu",
                                     (unsigned long long) start);
                        return -EBADMSG;
                }
                /* newc: the header and name, and the data, are padded to 4 bytes. */
                if (h.newc && (k = pull(p, NULL, cpio_newc_pad(p->offset))) < 0)
                        return cpio_failure(r, p, k, what);
                if (strcmp(name, CPIO_TRAILER) == 0)
                        break;
                k = check_budget(r, p->offset, h.filesize, what);
                if (k < 0)
                        return k;

                InvFile *f = inventory_add_file(r->inv);
                if (!f)
                        return -ENOMEM;
                f->layer = layer;
                if (!(f->path = absolute_name(name)))
                        return -ENOMEM;
                f->mode = (uint32_t) (h.mode & 0177777);
                f->has_ids = true;
                f->uid = (int64_t) h.uid;
                f->gid = (int64_t) h.gid;
                f->size = h.filesize;
                if (S_ISCHR(f->mode) || S_ISBLK(f->mode)) {
                        f->has_rdev = true;
                        f->rdev_major = (uint32_t) h.rdev_major;
                        f->rdev_minor = (uint32_t) h.rdev_minor;
                }
                if (S_ISREG(f->mode) && h.nlink > 1) {
                        const LinkKey *same = NULL;
                        for (size_t i = 0; i < n_links && !same; i++)
                                if (links[i].ino == h.ino && links[i].dev_major == h.dev_major &&
                                    links[i].dev_minor == h.dev_minor)
                                        same = &links[i];
                        if (same) {
                                if (!(f->hardlink = strdup(r->inv->files[same->file].path)))
                                        return -ENOMEM;
                        } else {
                                if (!GREEDY_REALLOC(links, allocated_links, n_links + 1))
                                        return -ENOMEM;
                                links[n_links++] = (LinkKey) { h.dev_major, h.dev_minor, h.ino, r->inv->n_files - 1 };
                        }
                }

                uint64_t left = h.filesize;
                int slot = S_ISREG(f->mode) ? rpmdb_slot(f->path) : -1;
                if (S_ISLNK(f->mode)) {
                        if (h.filesize > CPIO_LINK_MAX) {
                                reader_error(r, what, "malformed cpio archive: a link target of %llu bytes",
                                             (unsigned long long) h.filesize);
                                return -EBADMSG;
                        }
                        char target[CPIO_LINK_MAX + 1];
                        if ((k = pull(p, target, h.filesize)) < 0)
                                return cpio_failure(r, p, k, what);
                        target[h.filesize] = 0;
                        if (!(f->target = strdup(target)))
                                return -ENOMEM;
                        left = 0;
                } else if (slot >= 0 && h.filesize > RPMDB_MAX)
                        diag_warning(r->d, NULL, "rpm database '%s' is larger than %u MiB, not read", f->path,
                                     RPMDB_MAX >> 20);
                else if (slot >= 0) {
                        uint8_t *buf = malloc(h.filesize ? h.filesize : 1);
                        if (!buf)
                                return -ENOMEM;
                        if ((k = pull(p, buf, h.filesize)) < 0) {
                                free(buf);
                                return cpio_failure(r, p, k, what);
                        }
                        keep_rpmdb(r, slot, buf, h.filesize);
                        left = 0;
                }
                if ((k = pull(p, NULL, left)) < 0 || (h.newc && (k = pull(p, NULL, cpio_newc_pad(p->offset))) < 0))
                        return cpio_failure(r, p, k, what);
        }
        return 0;
}

/* Lists every entry of one archive (layer: its index for OCI, else -1). */
static int walk(Reader *r, const Input *in, int layer, const char *what, const char **ret_format,
                const char **ret_compression) {
        _cleanup_free_ OuterStream *stream = in->outer ? new0(OuterStream, 1) : NULL;
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        struct archive_entry *e;
        const char *format;
        int ar, k;

        if (in->outer && !stream)
                return -ENOMEM;
        k = archive_open_input(r, in, stream, what, &a);
        if (k < 0)
                return k;
        ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF && archive_format(a) == 0)
                return unrecognised(r, what);
        if ((ar == ARCHIVE_OK || ar == ARCHIVE_WARN) &&
            (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_RAW) {
                format = "cpio";
                k = walk_cpio(r, a, layer, what);
        } else {
                format = "tar";
                k = walk_tar(r, a, ar, e, layer, what);
        }
        if (k < 0)
                return k;
        r->used += (uint64_t) MAX(archive_filter_bytes(a, 0), 0);
        if (ret_format)
                *ret_format = format;
        if (ret_compression)
                *ret_compression = filter_name(a);
        return 0;
}

/* ---- OCI ------------------------------------------------------------------ */

/* Where the blobs of an OCI layout are: a directory, or the kept files of an
 * oci-archive's first pass plus the archive to read layers from again. */
typedef struct Layout {
        const char *dir;
        const Input *archive;
} Layout;

/* A digest as image-spec descriptor.md's grammar allows, so that
 * blobs/ALG/ENCODED cannot leave blobs/. */
static int digest_to_blob_name(const char *digest, char **ret) {
        const char *colon = strchr(digest, ':');
        if (!colon || colon == digest || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", digest[0]) || !colon[1])
                return -EBADMSG;
        for (const char *p = digest; p < colon; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789+._-", *p))
                        return -EBADMSG;
        if (colon[1 + strspn(colon + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=_-")] != 0)
                return -EBADMSG;
        if (asprintf(ret, "blobs/%.*s/%s", (int) (colon - digest), digest, colon + 1) < 0)
                return -ENOMEM;
        return 0;
}

/* A JSON document of the layout: index.json or a blob. */
static int load_json(Reader *r, const Layout *l, const char *name, json_t **ret) {
        _cleanup_free_ char *owned = NULL;
        const uint8_t *data;
        size_t size;

        if (l->dir) {
                _cleanup_free_ char *p = path_join(l->dir, name);
                struct stat st;
                if (!p)
                        return -ENOMEM;
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
                        diag_error(r->d, NULL, "OCI layout: '%s' is missing", name);
                        return -EBADMSG;
                }
                if ((uint64_t) st.st_size > JSON_BLOB_MAX) {
                        diag_error(r->d, NULL, "OCI layout: '%s' is larger than %u MiB", name, JSON_BLOB_MAX >> 20);
                        return -EBADMSG;
                }
                int k = read_full_file(p, &owned, &size);
                if (k < 0) {
                        diag_error(r->d, NULL, "OCI layout: cannot read '%s': %s", name, strerror(-k));
                        return k;
                }
                data = (const uint8_t *) owned;
        } else {
                const Kept *kp = kept_find(r, name);
                if (!kp) {
                        diag_error(r->d, NULL, "OCI archive: '%s' is missing (or larger than %u MiB)", name,
                                   JSON_BLOB_MAX >> 20);
                        return -EBADMSG;
                }
                data = kp->data;
                size = kp->size;
        }
        json_error_t err;
        json_t *j = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &err);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                diag_error(r->d, NULL, "OCI layout: '%s' is not a JSON object%s%s", name, j ? "" : ": ", j ? "" : err.text);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

static const char *descriptor_string(const json_t *desc, const char *key) {
        return json_string_value(json_object_get(desc, key));
}

/* The layers of the manifest that index.json (or a nested index) names
 * first, into inv->layers. */
static int resolve_layers(Reader *r, const Layout *l, const char *name, unsigned depth) {
        json_t *j = NULL;
        int k = load_json(r, l, name, &j);
        if (k < 0)
                return k;
        const json_t *manifests = json_object_get(j, "manifests");
        const json_t *layers = json_object_get(j, "layers");
        if (json_is_array(manifests)) { /* an index */
                const json_t *m = json_array_get(manifests, 0);
                const char *digest = descriptor_string(m, "digest");
                _cleanup_free_ char *blob = NULL;
                if (!digest) {
                        diag_error(r->d, NULL, "OCI layout: '%s' lists no manifest", name);
                        k = -EBADMSG;
                } else if (depth >= OCI_MAX_DEPTH) {
                        diag_error(r->d, NULL, "OCI layout: indexes nested more than %u deep", OCI_MAX_DEPTH);
                        k = -EBADMSG;
                } else if ((k = digest_to_blob_name(digest, &blob)) < 0) {
                        if (k != -ENOMEM)
                                diag_error(r->d, NULL, "OCI layout: '%s' has an invalid digest", name);
                } else {
                        if (json_array_size(manifests) > 1)
                                diag_warning(r->d, NULL, "OCI layout: '%s' lists %zu manifests, showing the first",
                                             name, json_array_size(manifests));
                        k = resolve_layers(r, l, blob, depth + 1);
                }
        } else if (json_is_array(layers)) { /* a manifest */
                size_t i;
                const json_t *v;
                if (json_array_size(layers) > OCI_MAX_LAYERS) {
                        diag_error(r->d, NULL, "OCI layout: more than %u layers", OCI_MAX_LAYERS);
                        k = -EBADMSG;
                }
                json_array_foreach(layers, i, v) {
                        if (k < 0)
                                break;
                        const char *digest = descriptor_string(v, "digest");
                        const char *media = descriptor_string(v, "mediaType");
                        const json_t *size = json_object_get(v, "size");
                        _cleanup_free_ char *blob = NULL;
                        if (!digest || digest_to_blob_name(digest, &blob) < 0) {
                                diag_error(r->d, NULL, "OCI layout: layer %zu of '%s' has no valid digest", i, name);
                                k = -EBADMSG;
                                break;
                        }
                        InvLayer *ly = inventory_add_layer(r->inv);
                        if (!ly || !(ly->digest = strdup(digest)) || (media && !(ly->media_type = strdup(media)))) {
                                k = -ENOMEM;
                                break;
                        }
                        ly->size = json_is_integer(size) ? json_integer_value(size) : -1;
                        ly->compression = "none";
                }
        } else {
                diag_error(r->d, NULL, "OCI layout: '%s' is neither an index nor a manifest", name);
                k = -EBADMSG;
        }
        json_decref(j);
        return k;
}

/* Positions a fresh read of the archive at the entry named rel and lists the
 * archive that entry holds. */
static int walk_layer_in_archive(Reader *r, const Input *archive, const char *rel, int layer, const char *what,
                                 const char **ret_compression) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        struct archive_entry *e;
        int ar, k;

        k = archive_open_input(r, archive, NULL, NULL, &a);
        if (k < 0)
                return k;
        while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
                const char *name = archive_entry_pathname(e);
                _cleanup_free_ char *n = name ? relative_name(name) : NULL;
                if (name && !n)
                        return -ENOMEM;
                /* Each layer reads the archive again: that counts too. */
                uint64_t pos = (uint64_t) MAX(archive_filter_bytes(a, 0), 0);
                if (n && strcmp(n, rel) == 0 && archive_entry_filetype(e) == AE_IFREG) {
                        r->used += MIN(pos, r->max_bytes - r->used);
                        Input in = { .outer = a };
                        return walk(r, &in, layer, what, NULL, ret_compression);
                }
                k = check_budget(r, pos, (uint64_t) MAX(archive_entry_size(e), 0), "OCI archive");
                if (k < 0)
                        return k;
                k = skip_entry(r, a, archive_entry_size(e), "OCI archive");
                if (k < 0)
                        return k;
                if (k > 0)
                        break;
        }
        if (k == 0 && ar != ARCHIVE_EOF)
                return archive_failure(r, a, "OCI archive");
        diag_error(r->d, NULL, "OCI archive: the blob '%s' is missing", rel);
        return -EBADMSG;
}

static int walk_layers(Reader *r, const Layout *l) {
        int k = resolve_layers(r, l, "index.json", 0);
        if (k < 0)
                return k;
        for (size_t i = 0; i < r->inv->n_layers; i++) {
                InvLayer *ly = &r->inv->layers[i];
                _cleanup_free_ char *blob = NULL, *what = NULL;
                if ((k = digest_to_blob_name(ly->digest, &blob)) < 0)
                        return k;
                if (asprintf(&what, "layer %s", ly->digest) < 0)
                        return -ENOMEM;
                if (l->dir) {
                        _cleanup_free_ char *p = path_join(l->dir, blob);
                        struct stat st;
                        if (!p)
                                return -ENOMEM;
                        if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
                                diag_error(r->d, NULL, "OCI layout: the blob '%s' is missing", blob);
                                return -EBADMSG;
                        }
                        Input in = { .path = p };
                        k = walk(r, &in, (int) i, what, NULL, &ly->compression);
                } else
                        k = walk_layer_in_archive(r, l->archive, blob, (int) i, what, &ly->compression);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* ---- entries -------------------------------------------------------------- */

static int finish(Reader *r) {
        for (size_t i = 0; i < ELEMENTSOF(inspect_rpmdb_paths); i++) {
                if (!r->rpmdb[i])
                        continue;
                r->inv->rpmdb = strdup(inspect_rpmdb_paths[i]);
                if (!r->inv->rpmdb)
                        return -ENOMEM;
                int k = inspect_rpmdb_memory(r->rpmdb[i], r->rpmdb_size[i], r->inv, r->d);
                if (k == -ENOMEM)
                        return k;
                r->inv->rpmdb_data = TAKE_PTR(r->rpmdb[i]);
                r->inv->rpmdb_size = r->rpmdb_size[i];
                /* An unreadable database is a warning (from-rpmdb.c gave it):
                 * the listing is still right. */
                break;
        }
        return 0;
}

static Reader reader_new(const InspectOptions *o, Inventory *inv, Diagnostics *d) {
        return (Reader) {
                .max_bytes = o && o->max_bytes ? o->max_bytes : DEFAULT_MAX_BYTES,
                .max_entries = o && o->max_entries ? o->max_entries : DEFAULT_MAX_ENTRIES,
                .inv = inv,
                .d = d,
        };
}

int inspect_oci_layout(const char *dir, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        _cleanup_(inventory_freep) Inventory *inv = inventory_new(INVENTORY_IMAGE, "oci-layout");
        _cleanup_(reader_release) Reader r = reader_new(o, inv, d);
        if (!inv)
                return -ENOMEM;
        Layout l = { .dir = dir };
        int k = walk_layers(&r, &l);
        if (k < 0)
                return k;
        k = finish(&r);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(inv);
        return 0;
}

static int inspect_archive(const Input *in, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        _cleanup_(inventory_freep) Inventory *inv = inventory_new(INVENTORY_IMAGE, NULL);
        _cleanup_(reader_release) Reader r = reader_new(o, inv, d);
        const char *format, *compression;
        if (!inv)
                return -ENOMEM;
        r.keep = true;
        int k = walk(&r, in, -1, NULL, &format, &compression);
        if (k < 0)
                return k;

        if (r.has_oci_layout && kept_find(&r, "index.json")) {
                /* An oci-archive: what counts are its layers, not its files. */
                inv = inventory_free(inv);
                inv = inventory_new(INVENTORY_IMAGE, "oci-archive");
                if (!inv)
                        return -ENOMEM;
                r.inv = inv;
                for (size_t i = 0; i < ELEMENTSOF(r.rpmdb); i++) {
                        free(r.rpmdb[i]);
                        r.rpmdb[i] = NULL;
                }
                r.keep = false;
                Layout l = { .archive = in };
                k = walk_layers(&r, &l);
                if (k < 0)
                        return k;
        } else {
                inv->format = format;
                inv->compression = compression;
        }
        k = finish(&r);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(inv);
        return 0;
}

int inspect_archive_file(const char *path, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        Input in = { .path = path };
        return inspect_archive(&in, o, ret, d);
}

int inspect_archive_memory(const void *data, size_t size, const InspectOptions *o, Inventory **ret, Diagnostics *d) {
        Input in = { .data = data, .size = size };
        return inspect_archive(&in, o, ret, d);
}
