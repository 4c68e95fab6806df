/* SPDX-License-Identifier: MIT */

/* rpmdb.sqlite as rpm 4.18 writes it when it installs packages. The facts
 * come from rpm-4.18.0-release (see docs/notes/rpmdb.md): the schema from
 * lib/backend/sqlite.c (init_table(), init_index()), the list and contents of
 * the index tables from lib/rpmdb.c (newRpmdb()'s dbiTags, tag2index(),
 * td2key(), updateRichDep()), and the installed header from lib/package.c
 * (headerMergeLegacySigs(), applyRetrofits()), lib/relocation.c
 * (addPrefixes()) and lib/psm.c (dbAdd()). */

#include <endian.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "rpm/dep.h"
#include "tree/rpmdb.h"

/* Tags this file needs beyond rpm/tags.h, named as in rpm's
 * include/rpm/rpmtag.h (4.18) without the RPMTAG_/RPMSIGTAG_ prefix. */
enum {
        TAG_SIGSIZE = 257,
        TAG_SIGPGP = 259,
        TAG_SIGMD5 = 261,
        TAG_SIGGPG = 262,
        TAG_DSAHEADER = 267,
        TAG_RSAHEADER = 268,
        TAG_SHA1HEADER = 269,
        TAG_LONGSIGSIZE = 270,
        TAG_LONGARCHIVESIZE = 271,
        TAG_SHA256HEADER = 273,
        SIGTAG_FILESIGNATURES = 274,      /* RPMSIGTAG_FILESIGNATURES */
        SIGTAG_FILESIGNATURELENGTH = 275, /* RPMSIGTAG_FILESIGNATURELENGTH */
        TAG_VERITYSIGNATURES = 276,
        TAG_VERITYSIGNATUREALGO = 277,
        TAG_INSTALLTIME = 1008,
        TAG_OLDFILENAMES = 1027,
        TAG_FILESTATES = 1029,
        TAG_ARCHIVESIZE = 1046,
        TAG_TRIGGERNAME = 1066,
        TAG_PREFIXES = 1098,
        TAG_INSTPREFIXES = 1099,
        TAG_INSTALLCOLOR = 1127,
        TAG_INSTALLTID = 1128,
        TAG_RECOMMENDNAME = 5046,
        TAG_SUGGESTNAME = 5049,
        TAG_SUPPLEMENTNAME = 5052,
        TAG_ENHANCENAME = 5055,
        TAG_FILETRIGGERNAME = 5069,
        TAG_FILETRIGGERINDEX = 5070,
        TAG_TRANSFILETRIGGERNAME = 5079,
        TAG_TRANSFILETRIGGERINDEX = 5080,
        TAG_FILESIGNATURES = 5090,
        TAG_FILESIGNATURELENGTH = 5091,
};

/* Dependency flags that decide which requires are indexed (rpmds.h
 * isTransientReq(): install-time-only requires are left out). */
enum {
        SENSE_PREREQ = 1u << 6,
        SENSE_SCRIPT_PRE = 1u << 9,
        SENSE_SCRIPT_POST = 1u << 10,
        SENSE_SCRIPT_PREUN = 1u << 11,
        SENSE_SCRIPT_POSTUN = 1u << 12,
        SENSE_POSTTRANS = 1u << 5,
        SENSE_PRETRANS = 1u << 7,
        SENSE_KEYRING = 1u << 26,
        SENSE_META = 1u << 29,
        SENSE_INSTALL_ONLY = SENSE_SCRIPT_PRE | SENSE_SCRIPT_POST | RPMSENSE_RPMLIB | SENSE_KEYRING |
                             SENSE_PRETRANS | SENSE_POSTTRANS,
        SENSE_ERASE_ONLY = SENSE_SCRIPT_PREUN | SENSE_SCRIPT_POSTUN,
};

static bool is_transient_req(uint32_t f) {
        return (f & SENSE_INSTALL_ONLY) && !(f & SENSE_ERASE_ONLY) && !(f & SENSE_META);
}

/* ---- the target ------------------------------------------------------------ */

/* What the installing rpm would contribute: its transaction color
 * (%_transaction_color, set per arch by rpm's installplatform script) goes
 * into INSTALLCOLOR, and its byte order into the Installtid index keys,
 * which td2key() takes from the header in host order. We have no target arch
 * of our own, so the packages' arch stands for it. */
typedef struct Target {
        uint32_t color;
        bool big_endian;
} Target;

static Target target_of_arch(const char *arch) {
        static const struct {
                const char *prefix; /* matched as a prefix, first match wins */
                uint32_t color;
                bool big_endian;
        } table[] = {
                { "x86_64", 3, false },   { "amd64", 3, false },    { "ia32e", 3, false },
                { "aarch64", 3, false },  { "ppc64le", 3, false },  { "ppc64", 3, true },
                { "ppc", 0, true },       { "s390x", 3, true },     { "s390", 0, true },
                { "sparc64", 3, true },   { "sparc", 0, true },     { "riscv64", 3, false },
                { "loongarch64", 3, false }, { "mips64r6el", 3, false }, { "mips64r6", 3, true },
                { "mips64el", 3, false }, { "mips64", 3, true },    { "mipsr6el", 0, false },
                { "mipsr6", 0, true },    { "mipsel", 0, false },   { "mips", 0, true },
                { "ia64", 2, false },     { "m68k", 0, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strncmp(arch, table[i].prefix, strlen(table[i].prefix)) == 0)
                        return (Target) { table[i].color, table[i].big_endian };
        /* i?86, arm*, sh*, alpha: uncolored, little-endian. */
        return (Target) { 0, false };
}

static Target target_of(const RpmdbPackage *pkgs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char *arch = rpm_header_get_string(pkgs[i].header, RPMTAG_ARCH);
                if (arch && strcmp(arch, "noarch") != 0)
                        return target_of_arch(arch);
        }
        /* Only noarch packages: the host's byte order and no color. */
        return (Target) { 0, __BYTE_ORDER == __BIG_ENDIAN };
}

/* ---- the installed header ---------------------------------------------------- */

/* rpm's xlateTags (lib/package.c): signature header tags that
 * headerMergeLegacySigs() copies into the main header, the tag they get
 * there, the count they must have (0: any), and whether the main header may
 * already carry the tag when the signature header lacks it. */
static const struct {
        uint32_t sigtag;
        uint32_t tag;
        RpmType type; /* rpmTagGetTagType(tag); a mismatch is an error */
        uint32_t count;
        bool quirk;
} legacy_sigs[] = {
        { RPMSIGTAG_SIZE, TAG_SIGSIZE, RPM_INT32_TYPE, 1, false },
        { RPMSIGTAG_PGP, TAG_SIGPGP, RPM_BIN_TYPE, 0, false },
        { RPMSIGTAG_MD5, TAG_SIGMD5, RPM_BIN_TYPE, 16, false },
        { RPMSIGTAG_GPG, TAG_SIGGPG, RPM_BIN_TYPE, 0, false },
        { RPMSIGTAG_PAYLOADSIZE, TAG_ARCHIVESIZE, RPM_INT32_TYPE, 1, true },
        { SIGTAG_FILESIGNATURES, TAG_FILESIGNATURES, RPM_STRING_ARRAY_TYPE, 0, true },
        { SIGTAG_FILESIGNATURELENGTH, TAG_FILESIGNATURELENGTH, RPM_INT32_TYPE, 1, true },
        { TAG_VERITYSIGNATURES, TAG_VERITYSIGNATURES, RPM_STRING_ARRAY_TYPE, 0, false },
        { TAG_VERITYSIGNATUREALGO, TAG_VERITYSIGNATUREALGO, RPM_INT32_TYPE, 1, false },
        { RPMSIGTAG_SHA1, TAG_SHA1HEADER, RPM_STRING_TYPE, 1, false },
        { RPMSIGTAG_SHA256, TAG_SHA256HEADER, RPM_STRING_TYPE, 1, false },
        { RPMSIGTAG_DSA, TAG_DSAHEADER, RPM_BIN_TYPE, 0, false },
        { RPMSIGTAG_RSA, TAG_RSAHEADER, RPM_BIN_TYPE, 0, false },
        { RPMSIGTAG_LONGSIZE, TAG_LONGSIGSIZE, RPM_INT64_TYPE, 1, false },
        { RPMSIGTAG_LONGARCHIVESIZE, TAG_LONGARCHIVESIZE, RPM_INT64_TYPE, 1, false },
};

static bool has_tag(const RpmHeader *h, uint32_t tag) {
        RpmEntry e;
        return rpm_header_get(h, tag, &e) >= 0;
}

static int merge_legacy_sigs(RpmHeaderBuilder *b, const RpmHeader *h, const RpmHeader *sig, const char **why) {
        /* None of the target tags may be in the main header already. */
        for (size_t i = 0; i < ELEMENTSOF(legacy_sigs); i++)
                if (has_tag(h, legacy_sigs[i].tag) && !(legacy_sigs[i].quirk && !has_tag(sig, legacy_sigs[i].sigtag))) {
                        *why = "its main header carries a signature tag of the signature header";
                        return -EBADMSG;
                }

        for (size_t i = 0; i < ELEMENTSOF(legacy_sigs); i++) {
                RpmEntry e;
                if (rpm_header_get(sig, legacy_sigs[i].sigtag, &e) < 0)
                        continue;
                /* rpm refuses the package when these do not hold. */
                if (e.type != legacy_sigs[i].type || e.count < 1 || e.count > 16 * 1024 * 1024 ||
                    (legacy_sigs[i].count && e.count != legacy_sigs[i].count)) {
                        *why = "a signature header tag of the wrong type or count";
                        return -EBADMSG;
                }
                e.tag = legacy_sigs[i].tag;
                rpm_header_add_raw(b, &e);
        }
        return 0;
}

/* An RpmHeader over a blob that rpm_header_parse() would refuse because its
 * index is not sorted as a whole; the getters only need the layout. Takes
 * the blob. */
static int header_view(uint8_t *blob, size_t size, RpmHeader **ret) {
        RpmHeader *h = new0(RpmHeader, 1);
        if (!h) {
                free(blob);
                return -ENOMEM;
        }
        uint32_t il, dl;
        memcpy(&il, blob + 8, 4);
        memcpy(&dl, blob + 12, 4);
        *h = (RpmHeader) {
                .blob = blob,
                .size = size,
                .n_entries = be32toh(il),
                .data_size = be32toh(dl),
                .index = blob + RPM_HEADER_INTRO_SIZE,
                .data = blob + RPM_HEADER_INTRO_SIZE + (size_t) be32toh(il) * 16,
        };
        *ret = h;
        return 0;
}

/* The header as rpm stores it after installing pkg: the package's header
 * read the way rpmReadPackageFile() does it, then what rpmte.c getFiles() and
 * psm.c dbAdd() add. Added tags go after the immutable region, which is kept
 * verbatim so that its digests and signatures still verify (rpm checks them
 * whenever it reads a header from the database: rpmdb.c miVerifyHeader()). */
static int installed_header(const RpmdbPackage *pkg, const Target *t, RpmHeader **ret, const char **why) {
        const RpmHeader *h = pkg->header;
        _cleanup_(rpm_header_builder_freep) RpmHeaderBuilder *b = rpm_header_builder_new();
        int r;

        if (!b)
                return -ENOMEM;
        /* rpm skips a header without a name as damaged (rpmdbNextIterator()). */
        if (!rpm_header_get_string(h, RPMTAG_NAME)) {
                *why = "its header has no name";
                return -EBADMSG;
        }
        /* A v3 file list would be converted by applyRetrofits(), which
         * rewrites the region; packages of the last twenty years have none. */
        if (has_tag(h, TAG_OLDFILENAMES)) {
                *why = "a version 3 file list (OLDFILENAMES), which is not supported";
                return -EOPNOTSUPP;
        }

        if (pkg->signature) {
                r = merge_legacy_sigs(b, h, pkg->signature, why);
                if (r < 0)
                        return r;
        }

        /* applyRetrofits(): binary packages without SOURCERPM get "(none)". */
        if (!has_tag(h, RPMTAG_SOURCERPM) && !has_tag(h, RPMTAG_SOURCEPACKAGE))
                rpm_header_add_string(b, RPMTAG_SOURCERPM, "(none)");

        RpmEntry basenames;
        uint32_t fc = rpm_header_get(h, RPMTAG_BASENAMES, &basenames) >= 0 ? basenames.count : 0;

        /* addPrefixes() without relocations: a relocatable package records
         * its prefixes as installed (getFiles() only when it has files). */
        RpmEntry prefixes;
        if (fc > 0 && rpm_header_get(h, TAG_PREFIXES, &prefixes) >= 0 && !has_tag(h, TAG_INSTPREFIXES)) {
                prefixes.tag = TAG_INSTPREFIXES;
                rpm_header_add_raw(b, &prefixes);
        }

        /* dbAdd(): file states (only when there are files), then the
         * transaction id, install time and transaction color. */
        if (fc > 0) {
                _cleanup_free_ uint8_t *zeros = NULL;
                const uint8_t *states = pkg->file_states;
                if (!states) {
                        states = zeros = new0(uint8_t, fc);
                        if (!zeros)
                                return -ENOMEM;
                }
                RpmEntry e = { .tag = TAG_FILESTATES, .type = RPM_CHAR_TYPE, .count = fc, .data = states, .size = fc };
                rpm_header_add_raw(b, &e);
        }
        rpm_header_add_u32(b, TAG_INSTALLTID, pkg->install_tid);
        rpm_header_add_u32(b, TAG_INSTALLTIME, pkg->install_time);
        rpm_header_add_u32(b, TAG_INSTALLCOLOR, t->color);

        _cleanup_free_ uint8_t *blob = NULL;
        size_t size;
        r = rpm_header_build_appended(b, h, &blob, &size);
        if (r == -EEXIST) {
                *why = "it carries a tag that only installing adds";
                return -EBADMSG;
        }
        if (r == -EBADMSG) /* rpm_header_build_appended()'s one reason for it */
                *why = "its main header is not one immutable region, as rpm requires";
        if (r < 0)
                return r;
        return header_view(TAKE_PTR(blob), size, ret);
}

/* ---- rich dependencies --------------------------------------------------------- */

/* updateRichDep() in lib/rpmdb.c indexes the names inside a rich dependency
 * as well as the whole string: each simple name but rpmlib() ones, prefixed
 * with '!' where it sits in a negated position (the condition of if/unless;
 * an else branch adds the condition's names once more, inverted). The parser
 * is rpm/dep.c's (rpmrichParseInternal() and parseSimpleDep() in
 * lib/rpmds.c); a string it refuses contributes no names. */

typedef struct RichNames {
        char **names; /* each with ' ' or '!' in front */
        size_t n, allocated;
        bool neg;
        size_t *level_start;
        size_t level, levels_allocated;
        bool oom;
} RichNames;

static void rich_names_release(RichNames *d) {
        for (size_t i = 0; i < d->n; i++)
                free(d->names[i]);
        free(d->names);
        free(d->level_start);
}

static void rich_add(RichNames *d, char prefix, const char *name, size_t len) {
        char *s = malloc(len + 2);
        if (!s || !GREEDY_REALLOC(d->names, d->allocated, d->n + 1)) {
                free(s);
                d->oom = true;
                return;
        }
        s[0] = prefix;
        memcpy(s + 1, name, len);
        s[len + 1] = 0;
        d->names[d->n++] = s;
}

static void rich_enter(void *userdata) {
        RichNames *d = userdata;
        if (!GREEDY_REALLOC(d->level_start, d->levels_allocated, d->level + 1)) {
                d->oom = true;
                return;
        }
        d->level_start[d->level++] = d->n;
}

static void rich_simple(void *userdata, const char *n, size_t nl) {
        RichNames *d = userdata;
        if (nl && !(nl > 7 && strncmp(n, "rpmlib(", 7) == 0))
                rich_add(d, d->neg ? '!' : ' ', n, nl);
}

static void rich_op(void *userdata, RpmRichOp op) {
        RichNames *d = userdata;
        if (d->level == 0)
                return;
        if (op == RPM_RICH_IF || op == RPM_RICH_UNLESS) {
                d->level_start[d->level - 1] = d->n;
                d->neg = !d->neg;
        } else if (op == RPM_RICH_ELSE) {
                size_t end = d->n;
                for (size_t i = d->level_start[d->level - 1]; i < end && !d->oom; i++) {
                        const char *s = d->names[i];
                        rich_add(d, s[0] == '!' ? ' ' : '!', s + 1, strlen(s + 1));
                }
                d->neg = !d->neg;
        }
}

static void rich_leave(void *userdata, RpmRichOp op) {
        RichNames *d = userdata;
        if (d->level > 0)
                d->level--;
        if (op == RPM_RICH_IF || op == RPM_RICH_UNLESS)
                d->neg = !d->neg;
}

static int str_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* ---- the database ------------------------------------------------------------ */

/* newRpmdb()'s dbiTags, in order. Table names are rpmTagGetName() of the
 * tag; the key column is TEXT for tags of the string class, else BLOB
 * (init_table()); init_index() indexes the key of string tags and the hnum
 * of array tags. */
static const struct {
        const char *name;
        uint32_t tag;
        bool text;
        bool array;
} indexes[] = {
        { "Name", RPMTAG_NAME, true, false },
        { "Basenames", RPMTAG_BASENAMES, true, true },
        { "Group", RPMTAG_GROUP, true, false },
        { "Requirename", RPMTAG_REQUIRENAME, true, true },
        { "Providename", RPMTAG_PROVIDENAME, true, true },
        { "Conflictname", RPMTAG_CONFLICTNAME, true, true },
        { "Obsoletename", RPMTAG_OBSOLETENAME, true, true },
        { "Triggername", TAG_TRIGGERNAME, true, true },
        { "Dirnames", RPMTAG_DIRNAMES, true, true },
        { "Installtid", TAG_INSTALLTID, false, false },
        { "Sigmd5", TAG_SIGMD5, false, false },
        { "Sha1header", TAG_SHA1HEADER, true, false },
        { "Filetriggername", TAG_FILETRIGGERNAME, true, true },
        { "Transfiletriggername", TAG_TRANSFILETRIGGERNAME, true, true },
        { "Recommendname", TAG_RECOMMENDNAME, true, true },
        { "Suggestname", TAG_SUGGESTNAME, true, true },
        { "Supplementname", TAG_SUPPLEMENTNAME, true, true },
        { "Enhancename", TAG_ENHANCENAME, true, true },
};

typedef struct Db {
        sqlite3 *db;
        sqlite3_stmt *put_pkg;
        sqlite3_stmt *put[ELEMENTSOF(indexes)];
        Target target;
        const char *why; /* what is wrong with the package being added, for -EBADMSG */
} Db;

static int sqlite_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_PERM:
        case SQLITE_READONLY:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_TOOBIG:
                return -E2BIG;
        default:
                return -EIO;
        }
}

static int exec(sqlite3 *db, const char *sql) {
        return sqlite_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int step_done(sqlite3_stmt *s) {
        int rc = sqlite3_step(s);
        int r = rc == SQLITE_DONE ? 0 : rc == SQLITE_ROW ? -EIO : sqlite_errno(rc);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        return r;
}

static int db_put_key(Db *db, size_t ix, const void *key, size_t keylen, uint32_t hnum, uint32_t idx) {
        sqlite3_stmt *s = db->put[ix];
        if (keylen > INT32_MAX)
                return -E2BIG;
        /* sqlite_idxdbPutOne(): the key without a terminator. */
        int rc = indexes[ix].text ? sqlite3_bind_text(s, 1, key, (int) keylen, SQLITE_STATIC)
                                  : sqlite3_bind_blob(s, 1, key, (int) keylen, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(s, 2, hnum);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(s, 3, idx);
        if (rc != SQLITE_OK) {
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
                return sqlite_errno(rc);
        }
        return step_done(s);
}

/* The names inside a rich dependency, sorted, without duplicates. */
static int db_put_rich(Db *db, size_t ix, const char *dep, uint32_t hnum, uint32_t idx) {
        _cleanup_(rich_names_release) RichNames d = {};
        const RpmRichVisitor v = { .enter = rich_enter, .simple = rich_simple, .op = rich_op, .leave = rich_leave,
                                   .userdata = &d };
        int r = rpm_rich_parse(dep, &v, NULL);
        if (d.oom)
                return -ENOMEM;
        if (r < 0)
                return 0; /* rpm indexes the string alone */
        if (d.n > 0)
                qsort(d.names, d.n, sizeof(char *), str_ptr_cmp);
        for (size_t i = 0; i < d.n; i++) {
                if (i > 0 && strcmp(d.names[i - 1], d.names[i]) == 0)
                        continue;
                const char *name = d.names[i][0] == ' ' ? d.names[i] + 1 : d.names[i];
                r = db_put_key(db, ix, name, strlen(name), hnum, idx);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* tag2index(): one row per item of the tag (a string, an integer, or a
 * binary blob as a whole), idx its position. */
static int db_put_index(Db *db, size_t ix, const RpmHeader *h, uint32_t hnum) {
        uint32_t tag = indexes[ix].tag;
        RpmEntry e;
        int r;

        if (rpm_header_get(h, tag, &e) < 0) {
                /* "XXX preserve legacy behavior" */
                if (tag == RPMTAG_GROUP)
                        return db_put_key(db, ix, "Unknown", strlen("Unknown"), hnum, 0);
                return 0;
        }

        _cleanup_free_ uint32_t *reqflags = NULL, *trigindex = NULL;
        size_t n_reqflags = 0, n_trigindex = 0;
        if (tag == RPMTAG_REQUIRENAME) {
                r = rpm_header_get_u32s(h, RPMTAG_REQUIREFLAGS, &reqflags, &n_reqflags);
                if (r < 0 && r != -ENOENT)
                        return r;
        } else if (tag == TAG_FILETRIGGERNAME || tag == TAG_TRANSFILETRIGGERNAME) {
                r = rpm_header_get_u32s(h, tag == TAG_FILETRIGGERNAME ? TAG_FILETRIGGERINDEX : TAG_TRANSFILETRIGGERINDEX,
                                        &trigindex, &n_trigindex);
                if (r < 0 && r != -ENOENT)
                        return r;
        }

        /* rpmtdCount(): a binary entry is one item whatever its length; an
         * i18n string is read in the C locale, its first string. */
        uint32_t count = e.type == RPM_BIN_TYPE || e.type == RPM_I18NSTRING_TYPE ? 1 : e.count;
        const uint8_t *p = e.data;
        for (uint32_t i = 0; i < count; i++) {
                const void *key;
                size_t keylen;
                uint8_t num[8];

                switch (e.type) {
                case RPM_STRING_TYPE:
                case RPM_I18NSTRING_TYPE:
                case RPM_STRING_ARRAY_TYPE:
                        key = p;
                        keylen = strlen((const char *) p);
                        p += keylen + 1;
                        break;
                case RPM_BIN_TYPE:
                        key = p;
                        keylen = e.count;
                        break;
                case RPM_CHAR_TYPE:
                case RPM_INT8_TYPE:
                case RPM_INT16_TYPE:
                case RPM_INT32_TYPE:
                case RPM_INT64_TYPE: {
                        /* td2key() takes the number as rpm holds it in
                         * memory: in the byte order of the machine. */
                        keylen = e.type == RPM_INT64_TYPE ? 8 : e.type == RPM_INT32_TYPE ? 4 : e.type == RPM_INT16_TYPE ? 2 : 1;
                        memcpy(num, p, keylen);
                        p += keylen;
                        if (!db->target.big_endian)
                                for (size_t a = 0, z = keylen - 1; a < z; a++, z--) {
                                        uint8_t c = num[a];
                                        num[a] = num[z];
                                        num[z] = c;
                                }
                        key = num;
                        break;
                }
                default:
                        db->why = "an indexed tag has a type rpm cannot index";
                        return -EBADMSG;
                }

                uint32_t idx = i;
                if (trigindex) {
                        if (i >= n_trigindex) {
                                db->why = "its file trigger index has fewer entries than its file triggers";
                                return -EBADMSG;
                        }
                        idx = trigindex[i];
                } else if (tag == TAG_FILETRIGGERNAME || tag == TAG_TRANSFILETRIGGERNAME) {
                        /* rpm would read past the missing index */
                        db->why = "it has file triggers without a file trigger index";
                        return -EBADMSG;
                }

                /* Install-time-only requires are not indexed. */
                if (reqflags && i < n_reqflags && is_transient_req(reqflags[i]))
                        continue;
                /* A trigger on the same name counts once. */
                if (tag == TAG_TRIGGERNAME) {
                        bool dup = false;
                        for (const char *q = (const char *) e.data; q < (const char *) key; q += strlen(q) + 1)
                                if (strcmp(q, key) == 0) {
                                        dup = true;
                                        break;
                                }
                        if (dup)
                                continue;
                }

                r = db_put_key(db, ix, key, keylen, hnum, idx);
                if (r < 0)
                        return r;

                if (e.type == RPM_STRING_ARRAY_TYPE && *(const char *) key == '(' &&
                    (tag == RPMTAG_REQUIRENAME || tag == RPMTAG_CONFLICTNAME || tag == TAG_SUGGESTNAME ||
                     tag == TAG_SUPPLEMENTNAME || tag == TAG_RECOMMENDNAME || tag == TAG_ENHANCENAME)) {
                        r = db_put_rich(db, ix, key, hnum, idx);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* rpmdbAdd(): the header into Packages (hnum from AUTOINCREMENT), then its
 * rows in every index table. */
static int db_add(Db *db, const RpmHeader *h, uint32_t hnum) {
        /* The blob is what headerExport() returns: no magic. */
        sqlite3_stmt *s = db->put_pkg;
        int rc = sqlite3_bind_null(s, 1);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_blob(s, 2, h->blob + 8, (int) (h->size - 8), SQLITE_STATIC);
        if (rc != SQLITE_OK) {
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
                return sqlite_errno(rc);
        }
        int r = step_done(s);
        if (r < 0)
                return r;
        if (sqlite3_last_insert_rowid(db->db) != hnum)
                return -EIO;

        for (size_t ix = 0; ix < ELEMENTSOF(indexes); ix++) {
                r = db_put_index(db, ix, h, hnum);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The tables and indexes in the order rpm creates them when it opens a new
 * database (Packages first, then each index table followed by its indexes),
 * with rpm's statements verbatim: sqlite keeps their text in sqlite_master. */
static int db_create(Db *db) {
        int r = exec(db->db, "CREATE TABLE IF NOT EXISTS 'Packages' ("
                             "hnum INTEGER PRIMARY KEY AUTOINCREMENT,"
                             "blob BLOB NOT NULL"
                             ")");
        if (r < 0)
                return r;
        for (size_t ix = 0; ix < ELEMENTSOF(indexes); ix++) {
                const char *t = indexes[ix].name;
                _cleanup_free_ char *sql = NULL;
                if (asprintf(&sql,
                             "CREATE TABLE IF NOT EXISTS '%s' ("
                             "key '%s' NOT NULL, "
                             "hnum INTEGER NOT NULL, "
                             "idx INTEGER NOT NULL, "
                             "FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum)"
                             ")",
                             t, indexes[ix].text ? "TEXT" : "BLOB") < 0) {
                        sql = NULL;
                        return -ENOMEM;
                }
                r = exec(db->db, sql);
                if (r < 0)
                        return r;
                static const char *const cols[] = { "key", "hnum" };
                for (size_t c = 0; c < 2; c++) {
                        if ((c == 0 && !indexes[ix].text) || (c == 1 && !indexes[ix].array))
                                continue;
                        _cleanup_free_ char *isql = NULL;
                        if (asprintf(&isql, "CREATE INDEX IF NOT EXISTS '%s_%s_idx' ON '%s'(%s ASC)", t, cols[c], t,
                                     cols[c]) < 0) {
                                isql = NULL;
                                return -ENOMEM;
                        }
                        r = exec(db->db, isql);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int db_prepare(Db *db) {
        int rc = sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO 'Packages' VALUES(?, ?)", -1, &db->put_pkg, NULL);
        for (size_t ix = 0; rc == SQLITE_OK && ix < ELEMENTSOF(indexes); ix++) {
                _cleanup_free_ char *sql = NULL;
                if (asprintf(&sql, "INSERT INTO '%s' VALUES(?, ?, ?)", indexes[ix].name) < 0) {
                        sql = NULL;
                        return -ENOMEM;
                }
                rc = sqlite3_prepare_v2(db->db, sql, -1, &db->put[ix], NULL);
        }
        return sqlite_errno(rc);
}

/* Closing rolls back a transaction still open (after a failure). */
static int db_release(Db *db) {
        sqlite3_finalize(db->put_pkg);
        for (size_t ix = 0; ix < ELEMENTSOF(indexes); ix++)
                sqlite3_finalize(db->put[ix]);
        int r = sqlite_errno(sqlite3_close(db->db));
        *db = (Db) {};
        return r;
}

static int db_fill(Db *db, const char *file, const RpmdbPackage *pkgs, size_t n, RpmdbFailure *ret_failure) {
        int r = sqlite_errno(sqlite3_open_v2(file, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL));
        if (r < 0)
                return r;
        /* rpm's page size (sqlite's default, pinned so the bytes cannot
         * change with the library's defaults) and a rollback journal: rpm
         * switches to WAL itself when it opens the database for writing
         * (sqlite_init()), while a WAL-mode file would need -wal/-shm files
         * beside it, or a writable directory, just to be read. Newer rpm
         * "parks" its database the same way (journal_mode = DELETE). */
        r = exec(db->db, "PRAGMA page_size = 4096");
        if (r >= 0)
                r = exec(db->db, "PRAGMA journal_mode = DELETE");
        /* The file is new and private until it is renamed into place, after
         * one fsync (tmpfile_commit()): sqlite's own syncs of the journal
         * and the file add nothing but time. */
        if (r >= 0)
                r = exec(db->db, "PRAGMA synchronous = OFF");
        if (r >= 0)
                r = exec(db->db, "BEGIN");
        if (r >= 0)
                r = db_create(db);
        if (r >= 0)
                r = db_prepare(db);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_(rpm_header_freep) RpmHeader *h = NULL;
                db->why = NULL;
                if (pkgs[i].installed)
                        r = db_add(db, pkgs[i].header, (uint32_t) i + 1);
                else {
                        r = installed_header(&pkgs[i], &db->target, &h, &db->why);
                        if (r >= 0)
                                r = db_add(db, h, (uint32_t) i + 1);
                }
                if (r < 0 && db->why && ret_failure)
                        *ret_failure = (RpmdbFailure) { .package = i, .why = db->why };
        }
        if (r >= 0)
                r = exec(db->db, "COMMIT");
        return r;
}

int rpmdb_write(const char *path, const RpmdbPackage *pkgs, size_t n, RpmdbFailure *ret_failure) {
        if (n > INT32_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                if (!pkgs[i].header)
                        return -EINVAL;

        _cleanup_free_ char *dir = path_dirname(path);
        if (!dir)
                return -ENOMEM;
        /* rpm creates its dbpath too (openDatabase(): rpmioMkpath 0755). */
        int r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;

        _cleanup_free_ char *tmp = NULL, *journal = NULL;
        _cleanup_close_ int fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        if (asprintf(&journal, "%s-journal", tmp) < 0) {
                journal = NULL;
                return tmpfile_commit(-ENOMEM, fd, tmp, path, 0644);
        }

        Db db = { .target = target_of(pkgs, n) };
        r = db_fill(&db, tmp, pkgs, n, ret_failure);
        int k = db_release(&db);
        if (r >= 0)
                r = k;
        if (r < 0)
                (void) unlink(journal);
        /* rpm creates the database 0644 (newRpmdb()'s default perms). */
        return tmpfile_commit(r, fd, tmp, path, 0644);
}
