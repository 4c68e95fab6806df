/* SPDX-License-Identifier: MIT */

/* Listing ISO 9660 (ECMA-119) through libarchive's iso9660 reader, which
 * takes Rock Ridge names, modes and links (and Joliet names without them),
 * fed from a BlockSource by callbacks: nothing is copied out first. The
 * volume label and the UUID blkid gives (the modification, else creation,
 * time of the primary volume descriptor) are read from the descriptor
 * (ECMA-119 8.4) here. libarchive stops at directory loops; the entries
 * count against FsWalk.max_entries and reading stops at the source's end. */

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "inspect/disk.h"

#define PVD_OFFSET (16u * 2048u)
#define CHUNK (64u * 1024u)

static bool iso9660_probe(BlockSource *s) {
        uint8_t b[6];
        return block_read(s, PVD_OFFSET, b, sizeof b) >= 0 && memcmp(b + 1, "CD001", 5) == 0;
}

typedef struct Feed {
        BlockSource *s;
        uint64_t pos;
        uint8_t *buf;
        bool failed;
} Feed;

static la_ssize_t feed_read(struct archive *a, void *userdata, const void **ret) {
        Feed *f = userdata;
        size_t n = (size_t) MIN((uint64_t) CHUNK, f->s->size - f->pos);
        *ret = f->buf;
        if (n == 0)
                return 0;
        if (block_read(f->s, f->pos, f->buf, n) < 0) {
                f->failed = true;
                archive_set_error(a, EIO, "cannot read the image");
                return -1;
        }
        f->pos += n;
        return (la_ssize_t) n;
}

static la_int64_t feed_skip(struct archive *a, void *userdata, la_int64_t request) {
        Feed *f = userdata;
        uint64_t n = request < 0 ? 0 : MIN((uint64_t) request, f->s->size - f->pos);
        f->pos += n;
        return (la_int64_t) n;
}

static la_int64_t feed_seek(struct archive *a, void *userdata, la_int64_t offset, int whence) {
        Feed *f = userdata;
        int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t) f->pos : (int64_t) f->s->size;
        if (offset > INT64_MAX - base || base + offset < 0 || (uint64_t) (base + offset) > f->s->size)
                return ARCHIVE_FATAL;
        f->pos = (uint64_t) (base + offset);
        return (la_int64_t) f->pos;
}

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

/* "a/b/" or "./a/b" -> "/a/b"; NULL when out of memory. */
static char *normalize(const char *p) {
        while (p[0] == '.' && p[1] == '/')
                p += 2;
        while (*p == '/')
                p++;
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
                n--;
        if (n == 1 && p[0] == '.')
                n = 0;
        char *r = malloc(n + 2);
        if (!r)
                return NULL;
        r[0] = '/';
        memcpy(r + 1, p, n);
        r[n + 1] = 0;
        return r;
}

/* A d-characters field without its trailing spaces. */
static char *trimmed(const uint8_t *p, size_t n) {
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == 0))
                n--;
        if (n == 0)
                return NULL;
        char *s = strndup((const char *) p, n);
        for (char *c = s; c && *c; c++)
                if ((unsigned char) *c < 0x20)
                        *c = '?';
        return s;
}

/* ECMA-119 8.4.26: "YYYYMMDDHHMMSScc" and a time zone byte; blkid's UUID. */
static char *date_uuid(const uint8_t *t) {
        for (int i = 0; i < 16; i++)
                if (t[i] < '0' || t[i] > '9')
                        return NULL;
        if (memcmp(t, "0000000000000000", 16) == 0)
                return NULL;
        char *s = NULL;
        if (asprintf(&s, "%.4s-%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", t, t + 4, t + 6, t + 8, t + 10, t + 12, t + 14) < 0)
                return NULL;
        return s;
}

static int iso9660_walk(BlockSource *s, FsWalk *w, char **ret_label, char **ret_uuid, Diagnostics *d) {
        uint8_t pvd[2048];
        if (block_read(s, PVD_OFFSET, pvd, sizeof pvd) < 0 || pvd[0] != 1 || memcmp(pvd + 1, "CD001", 5) != 0) {
                diag_error(d, NULL, "iso9660: no primary volume descriptor at 32 KiB");
                return -EBADMSG;
        }

        _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        if (!a || !buf)
                return -ENOMEM;
        Feed feed = { .s = s, .buf = buf };
        if (archive_read_support_format_iso9660(a) != ARCHIVE_OK ||
            archive_read_set_read_callback(a, feed_read) != ARCHIVE_OK ||
            archive_read_set_skip_callback(a, feed_skip) != ARCHIVE_OK ||
            archive_read_set_seek_callback(a, feed_seek) != ARCHIVE_OK ||
            archive_read_set_callback_data(a, &feed) != ARCHIVE_OK || archive_read_open1(a) != ARCHIVE_OK) {
                diag_error(d, NULL, "iso9660: %s", archive_error_string(a) ? archive_error_string(a) : "cannot read it");
                return feed.failed ? -EIO : -EBADMSG;
        }

        InvFile *f;
        int r = fs_add_file(w, "/", &f, d);
        if (r < 0)
                return r;
        f->mode = S_IFDIR | 0555;
        f->has_ids = true;

        for (;;) {
                struct archive_entry *e;
                int k = archive_read_next_header(a, &e);
                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN) {
                        diag_error(d, NULL, "iso9660: %s", archive_error_string(a) ? archive_error_string(a) : "malformed");
                        return -EBADMSG;
                }
                const char *name = archive_entry_pathname(e);
                if (!name)
                        continue;
                _cleanup_free_ char *path = normalize(name);
                if (!path)
                        return -ENOMEM;
                if (strcmp(path, "/") == 0)
                        continue;
                if ((r = fs_add_file(w, path, &f, d)) < 0)
                        return r;
                f->mode = archive_entry_mode(e);
                f->has_ids = true;
                f->uid = archive_entry_uid(e);
                f->gid = archive_entry_gid(e);
                f->size = S_ISREG(f->mode) && archive_entry_size(e) > 0 ? (uint64_t) archive_entry_size(e) : 0;
                if (archive_entry_symlink(e) && !(f->target = strdup(archive_entry_symlink(e))))
                        return -ENOMEM;
                if (archive_entry_hardlink(e) && !(f->hardlink = normalize(archive_entry_hardlink(e))))
                        return -ENOMEM;
                if (!S_ISREG(f->mode) || f->hardlink || !w->want || !w->want(w->userdata, path, f->size))
                        continue;
                uint64_t size = f->size;
                if (size > SIZE_MAX - 1)
                        continue;
                _cleanup_free_ uint8_t *data = malloc((size_t) size + 1);
                if (!data)
                        return -ENOMEM;
                la_ssize_t got = 0;
                while ((uint64_t) got < size) {
                        la_ssize_t n = archive_read_data(a, data + got, (size_t) (size - (uint64_t) got));
                        if (n <= 0)
                                break;
                        got += n;
                }
                if ((uint64_t) got != size) {
                        diag_warning(d, NULL, "iso9660: '%s': cannot read its contents", path);
                        continue;
                }
                if ((r = w->contents(w->userdata, path, TAKE_PTR(data), (size_t) size)) < 0)
                        return r;
        }

        _cleanup_free_ char *label = trimmed(pvd + 40, 32);
        _cleanup_free_ char *uuid = date_uuid(pvd + 830);
        if (!uuid)
                uuid = date_uuid(pvd + 813);
        *ret_label = TAKE_PTR(label);
        *ret_uuid = TAKE_PTR(uuid);
        return 0;
}

const FsType fs_type_iso9660 = { .name = "iso9660", .probe = iso9660_probe, .walk = iso9660_walk };
