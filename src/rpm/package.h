/* SPDX-License-Identifier: MIT */
#pragma once

/* Writing and reading whole RPM v4 package files: lead, signature header,
 * main header, payload (LSB Core, "Package File Format"; rpm's
 * lib/package.c, build/pack.c). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/compress.h"
#include "basic/macro.h"
#include "rpm/header.h"

/* The 96-byte lead (LSB "Lead Section"). Only magic, major version, type and
 * signature type matter to rpm today; the rest is informational. */
typedef struct _packed_ RpmLead {
        uint8_t magic[4]; /* ED AB EE DB */
        uint8_t major;    /* 3 */
        uint8_t minor;    /* 0 */
        uint16_t type;    /* big-endian: 0 binary, 1 source */
        uint16_t archnum; /* big-endian */
        char name[66];    /* NAME-VERSION-RELEASE, NUL-padded */
        uint16_t osnum;   /* big-endian: 1 Linux */
        uint16_t signature_type; /* big-endian: 5, a header-structured signature */
        uint8_t reserved[16];
} RpmLead;
static_assert(sizeof(RpmLead) == 96, "RPM lead");

/* A dependency: name, RPMSENSE_* flags, and [epoch:]version[-release] or "". */
typedef struct RpmDep {
        char *name;
        uint32_t flags;
        char *evr;
} RpmDep;

/* A dependency string is parsed by rpm_dependency_parse() (rpm/dep.h). */
void rpm_dep_release(RpmDep *d);

typedef struct RpmFile {
        char *path;        /* absolute path in the package */
        uint32_t mode;     /* full st_mode: type and permissions */
        char *user;
        char *group;
        uint32_t mtime;
        uint32_t flags;    /* RPMFILE_* */
        char *link_target; /* symbolic links */
        char *source;      /* regular files: the file on the host to read */
} RpmFile;

/* The payload's compression, named as rpm's %_binary_payload macro names it
 * (rpmio mode strings, rpm's build/pack.c): "w19.zstdio" is zstd level 19,
 * "w9.gzdio" gzip level 9, "w6.xzdio" xz level 6, "w.ufdio" no compression.
 * Levels: zstd 1-19, gzip 1-9, xz 0-9. rpm's thread suffix (w19T8.zstdio)
 * is refused: slipway picks the threads, and the bytes never depend on them. */
#define RPM_PAYLOAD_DEFAULT "w19.zstdio"

typedef struct RpmPayload {
        CompressCodec codec;
        int level;
} RpmPayload;

/* NULL if s is a payload slipway writes, else what was expected (a static
 * string that completes "expected ..."). */
const char *rpm_payload_check(const char *s);
/* s, or RPM_PAYLOAD_DEFAULT if NULL, as codec and level; -EINVAL if
 * rpm_payload_check() refuses it. */
int rpm_payload_parse(const char *s, RpmPayload *ret);

/* The scriptlets a package written by slipway may carry: /bin/sh bodies. */
typedef enum RpmScriptSlot {
        RPM_SCRIPT_PRETRANS,
        RPM_SCRIPT_PRE,
        RPM_SCRIPT_POST,
        RPM_SCRIPT_PREUN,
        RPM_SCRIPT_POSTUN,
        RPM_SCRIPT_POSTTRANS,
        _RPM_SCRIPT_SLOT_MAX,
        _RPM_SCRIPT_SLOT_INVALID = -EINVAL,
} RpmScriptSlot;

/* One file trigger, as rpmbuild writes "%filetriggerin -P PRIORITY -p
 * PROGRAM -- PATH..." followed by BODY (build/parseScript.c parseScript(),
 * build/pack.c processScriptFiles()). */
typedef struct RpmFileTrigger {
        bool trans;               /* %transfiletrigger*, else %filetrigger* */
        uint32_t sense;           /* RPMSENSE_TRIGGERIN, RPMSENSE_TRIGGERUN or RPMSENSE_TRIGGERPOSTUN */
        const char *const *paths; /* absolute path prefixes, at least one */
        size_t n_paths;
        uint32_t priority;        /* rpm's default: 1000000 */
        const char *program;      /* an absolute path (one word) or "<lua>" */
        const char *body;         /* NULL: none ("-p PROGRAM" alone) */
} RpmFileTrigger;

typedef struct RpmPackageSpec {
        const char *name;
        bool has_epoch;
        uint32_t epoch;
        const char *version;
        const char *release;
        const char *arch;
        const char *summary;
        const char *description;
        const char *license;
        const char *vendor; /* optional */
        const char *url;    /* optional */
        const char *buildhost;
        uint32_t buildtime;
        const RpmDep *requires;
        size_t n_requires;
        const RpmDep *provides;
        size_t n_provides;
        const RpmDep *conflicts;
        size_t n_conflicts;
        const RpmDep *obsoletes;
        size_t n_obsoletes;
        RpmFile *files; /* sorted by the writer */
        size_t n_files;
        /* Scriptlet bodies run by /bin/sh, NULL for none: written as
         * rpmbuild writes "%post" with a body (the script and its *PROG tag,
         * and a Requires(post) of /bin/sh). */
        const char *scripts[_RPM_SCRIPT_SLOT_MAX];
        /* File triggers in the order given: a trigger's index is its place
         * among those of its kind (%filetrigger* or %transfiletrigger*). */
        const RpmFileTrigger *file_triggers;
        size_t n_file_triggers;
        RpmPayload payload; /* zeroed: RPM_PAYLOAD_DEFAULT */
        unsigned threads;   /* compression workers (zstd); 0 counts as 1 */
} RpmPackageSpec;

/* Writes the package to path atomically (temporary file + rename). The
 * output depends only on spec and the files' contents. Problems with an input
 * file are returned as -errno with *ret_bad_file (if given) set to its
 * source path (owned by spec). */
int rpm_package_write(RpmPackageSpec *spec, const char *path, const char **ret_bad_file);

/* The package file name rpm uses: NAME-VERSION-RELEASE.ARCH.rpm (malloc'd). */
char *rpm_package_filename(const char *name, const char *version, const char *release, const char *arch);

/* A package file read up to its payload. */
typedef struct RpmPackage {
        RpmLead lead;
        RpmHeader *signature;
        RpmHeader *header;
        uint64_t header_offset;  /* where the main header starts in the file */
        uint64_t payload_offset; /* where the payload starts */
        uint64_t file_size;
} RpmPackage;

/* Reads the lead and both headers of the package at path (bounded reads; any
 * malformed structure gives -EBADMSG). */
int rpm_package_read(const char *path, RpmPackage **ret);
/* The same from an open file (read with pread, the offset is not moved). */
int rpm_package_read_fd(int fd, RpmPackage **ret);
/* The same from memory (the fuzz target's entry). */
int rpm_package_parse(const void *data, size_t size, RpmPackage **ret);
RpmPackage *rpm_package_free(RpmPackage *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(RpmPackage *, rpm_package_free);

/* Recomputes the digests an RPM records and compares them: the SHA-256 and
 * SHA-1 of the main header (signature header), the SHA-256 of the payload
 * (main header), the MD5 of header and payload (signature header). 0: all
 * present ones match (at least one header and the payload digest must be
 * there); -EBADMSG: a mismatch, named in *ret_what (static string). */
int rpm_package_check_digests(const char *path, const char **ret_what);
