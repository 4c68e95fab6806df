/* SPDX-License-Identifier: MIT */

/* The file list of an RPM header; the rules are in rpm/files.h. */

#include <endian.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "rpm/files.h"

/* What all paths together may take: far above any real package (10^5 files
 * of 100 bytes), far below what a forged header could ask for (4 * 10^6
 * files, each naming a directory of megabytes). */
#define PATHS_MAX ((size_t) 1 << 30)

typedef enum ColKind {
        COL_STRINGS,
        COL_NUMBERS, /* INT16 or INT32 */
        COL_INT64,
} ColKind;

typedef enum ColId {
        COL_MODES,
        COL_SIZES,
        COL_LONGSIZES,
        COL_MTIMES,
        COL_FLAGS,
        COL_RDEVS,
        COL_INODES,
        COL_USERS,
        COL_GROUPS,
        COL_LINKS,
        COL_DIGESTS,
        COL_CAPS,
        COL_DIRINDEXES,
        _COL_MAX,
} ColId;

typedef struct Col {
        uint32_t tag;
        ColKind kind;
        bool required;
        const char *why_type, *why_count, *why_alone;
} Col;

#define COL(t, k, req)                                                                          \
        {                                                                                       \
                RPMTAG_##t, k, req, #t " has the wrong type", #t " does not have one item per file", \
                        #t " without BASENAMES"                                                 \
        }

static const Col cols[_COL_MAX] = {
        [COL_MODES] = COL(FILEMODES, COL_NUMBERS, true),
        [COL_SIZES] = COL(FILESIZES, COL_NUMBERS, false),
        [COL_LONGSIZES] = COL(LONGFILESIZES, COL_INT64, false),
        [COL_MTIMES] = COL(FILEMTIMES, COL_NUMBERS, false),
        [COL_FLAGS] = COL(FILEFLAGS, COL_NUMBERS, false),
        [COL_RDEVS] = COL(FILERDEVS, COL_NUMBERS, false),
        [COL_INODES] = COL(FILEINODES, COL_NUMBERS, false),
        [COL_USERS] = COL(FILEUSERNAME, COL_STRINGS, false),
        [COL_GROUPS] = COL(FILEGROUPNAME, COL_STRINGS, false),
        [COL_LINKS] = COL(FILELINKTOS, COL_STRINGS, false),
        [COL_DIGESTS] = COL(FILEDIGESTS, COL_STRINGS, false),
        [COL_CAPS] = COL(FILECAPS, COL_STRINGS, false),
        [COL_DIRINDEXES] = COL(DIRINDEXES, COL_NUMBERS, true),
};

/* One present column: its entry, and for strings where the next one starts. */
typedef struct Column {
        bool present;
        RpmEntry e;
        size_t at; /* strings: offset of the next string in e.data */
} Column;

static bool kind_ok(ColKind k, RpmType t) {
        switch (k) {
        case COL_STRINGS: return t == RPM_STRING_ARRAY_TYPE;
        case COL_NUMBERS: return t == RPM_INT16_TYPE || t == RPM_INT32_TYPE;
        case COL_INT64: return t == RPM_INT64_TYPE;
        }
        return false;
}

static uint64_t number_at(const RpmEntry *e, size_t i) {
        const uint8_t *p = e->data;
        switch (e->type) {
        case RPM_INT16_TYPE: return (uint64_t) p[2 * i] << 8 | p[2 * i + 1];
        case RPM_INT32_TYPE: {
                uint32_t v;
                memcpy(&v, p + 4 * i, 4);
                return be32toh(v);
        }
        default: {
                uint64_t v;
                memcpy(&v, p + 8 * i, 8);
                return be64toh(v);
        }
        }
}

/* The next string of a STRING_ARRAY column, or NULL if the entry ends first
 * (rpm_header_parse() has checked that it does not; this does not rely on it). */
static const char *next_string(Column *c) {
        if (c->at >= c->e.size)
                return NULL;
        const char *s = (const char *) c->e.data + c->at;
        const char *nul = memchr(s, 0, c->e.size - c->at);
        if (!nul)
                return NULL;
        c->at += (size_t) (nul - s) + 1;
        return s;
}

static int fail(const char **ret_why, const char *why) {
        if (ret_why)
                *ret_why = why;
        return -EBADMSG;
}

static bool known_type(uint32_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG:
        case S_IFDIR:
        case S_IFLNK:
        case S_IFCHR:
        case S_IFBLK:
        case S_IFIFO:
        case S_IFSOCK: return true;
        default: return false;
        }
}

int rpm_header_files(const RpmHeader *h, RpmFileList *ret, const char **ret_why) {
        Column c[_COL_MAX] = {};
        RpmEntry be, de;
        bool has_base = rpm_header_get(h, RPMTAG_BASENAMES, &be) >= 0;
        bool has_dirs = rpm_header_get(h, RPMTAG_DIRNAMES, &de) >= 0;

        for (size_t k = 0; k < _COL_MAX; k++) {
                c[k].present = rpm_header_get(h, cols[k].tag, &c[k].e) >= 0;
                if (!c[k].present)
                        continue;
                if (!has_base)
                        return fail(ret_why, cols[k].why_alone);
                if (!kind_ok(cols[k].kind, c[k].e.type))
                        return fail(ret_why, cols[k].why_type);
        }
        if (!has_base) {
                if (has_dirs)
                        return fail(ret_why, "DIRNAMES without BASENAMES");
                *ret = (RpmFileList) {};
                return 0;
        }
        if (be.type != RPM_STRING_ARRAY_TYPE)
                return fail(ret_why, "BASENAMES has the wrong type");
        if (be.count > RPM_FILES_MAX)
                return fail(ret_why, "BASENAMES lists more files than a package can have");
        if (!has_dirs)
                return fail(ret_why, "BASENAMES without DIRNAMES");
        if (de.type != RPM_STRING_ARRAY_TYPE)
                return fail(ret_why, "DIRNAMES has the wrong type");
        if (de.count > RPM_FILES_MAX)
                return fail(ret_why, "DIRNAMES lists more directories than a package can have");
        size_t n = be.count;
        for (size_t k = 0; k < _COL_MAX; k++) {
                if (!c[k].present && cols[k].required)
                        return fail(ret_why, k == COL_MODES ? "BASENAMES without FILEMODES" : "BASENAMES without DIRINDEXES");
                if (c[k].present && c[k].e.count != n)
                        return fail(ret_why, cols[k].why_count);
        }

        /* The directories, checked once each. */
        _cleanup_free_ const char **dirs = new0(const char *, de.count);
        _cleanup_free_ size_t *dir_len = new0(size_t, de.count);
        if (!dirs || !dir_len)
                return -ENOMEM;
        Column dc = { .present = true, .e = de };
        for (size_t i = 0; i < de.count; i++) {
                const char *s = next_string(&dc);
                if (!s)
                        return fail(ret_why, "DIRNAMES is cut short");
                size_t l = strlen(s);
                if (l > 0 && (s[0] != '/' || s[l - 1] != '/'))
                        return fail(ret_why, "DIRNAMES holds a name that does not start and end with '/'");
                dirs[i] = s;
                dir_len[i] = l;
        }

        /* First pass: the names, and how much room the paths take. */
        _cleanup_free_ const char **bases = new0(const char *, n);
        if (!bases)
                return -ENOMEM;
        Column bc = { .present = true, .e = be };
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
                const char *s = next_string(&bc);
                if (!s)
                        return fail(ret_why, "BASENAMES is cut short");
                uint64_t di = number_at(&c[COL_DIRINDEXES].e, i);
                if (di >= de.count)
                        return fail(ret_why, "DIRINDEXES names no directory");
                if (strchr(s, '/'))
                        return fail(ret_why, "BASENAMES holds a name with a '/'");
                size_t l = strlen(s);
                if (l == 0 && strcmp(dirs[di], "/") != 0)
                        return fail(ret_why, "BASENAMES holds an empty name outside '/'");
                if (dir_len[di] + l >= PATH_MAX)
                        return fail(ret_why, "a file's path is longer than PATH_MAX");
                total += dir_len[di] + l + 1;
                if (total > PATHS_MAX)
                        return fail(ret_why, "the file paths take more than 1 GiB");
                bases[i] = s;
        }

        _cleanup_free_ RpmHeaderFile *files = new0(RpmHeaderFile, n ? n : 1);
        _cleanup_free_ char *paths = malloc(total ? total : 1);
        if (!files || !paths)
                return -ENOMEM;
        char *p = paths;
        for (size_t i = 0; i < n; i++) {
                RpmHeaderFile *f = &files[i];
                size_t di = (size_t) number_at(&c[COL_DIRINDEXES].e, i), bl = strlen(bases[i]);
                memcpy(p, dirs[di], dir_len[di]);
                memcpy(p + dir_len[di], bases[i], bl + 1);
                f->path = p;
                p += dir_len[di] + bl + 1;

                f->mode = (uint32_t) number_at(&c[COL_MODES].e, i);
                if (!known_type(f->mode))
                        return fail(ret_why, "FILEMODES holds a mode of no known file type");
                f->size = c[COL_LONGSIZES].present ? number_at(&c[COL_LONGSIZES].e, i)
                          : c[COL_SIZES].present   ? number_at(&c[COL_SIZES].e, i)
                                                   : 0;
                f->mtime = c[COL_MTIMES].present ? (uint32_t) number_at(&c[COL_MTIMES].e, i) : 0;
                f->flags = c[COL_FLAGS].present ? (uint32_t) number_at(&c[COL_FLAGS].e, i) : 0;
                f->rdev = c[COL_RDEVS].present ? (uint32_t) number_at(&c[COL_RDEVS].e, i) : 0;
                f->inode = c[COL_INODES].present ? (uint32_t) number_at(&c[COL_INODES].e, i) : 0;

                static const struct {
                        ColId col;
                        size_t offset;
                        const char *none; /* what an absent tag gives */
                } strs[] = {
                        { COL_USERS, offsetof(RpmHeaderFile, user), NULL },
                        { COL_GROUPS, offsetof(RpmHeaderFile, group), NULL },
                        { COL_LINKS, offsetof(RpmHeaderFile, link), "" },
                        { COL_DIGESTS, offsetof(RpmHeaderFile, digest), "" },
                        { COL_CAPS, offsetof(RpmHeaderFile, caps), "" },
                };
                for (size_t k = 0; k < ELEMENTSOF(strs); k++) {
                        const char **slot = (const char **) ((uint8_t *) f + strs[k].offset);
                        Column *col = &c[strs[k].col];
                        if (!col->present) {
                                *slot = strs[k].none;
                                continue;
                        }
                        *slot = next_string(col);
                        if (!*slot)
                                return fail(ret_why, cols[strs[k].col].why_count);
                }
                if (S_ISLNK(f->mode) && !f->link[0])
                        return fail(ret_why, "FILELINKTOS gives a symbolic link no target");
        }

        *ret = (RpmFileList) { .files = TAKE_PTR(files), .n = n, .paths = TAKE_PTR(paths) };
        return 0;
}

void rpm_file_list_release(RpmFileList *l) {
        free(l->files);
        free(l->paths);
        *l = (RpmFileList) {};
}
