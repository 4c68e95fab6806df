/* SPDX-License-Identifier: MIT */
#pragma once

/* The file list of an RPM header, decoded once, by one set of rules, for
 * every reader (installation, repository metadata, inspect).
 *
 * rpm keeps it as parallel arrays (rpm's lib/rpmfi.c; LSB Core "Package File
 * Format", Header Private/Package Tags): BASENAMES, DIRNAMES and DIRINDEXES
 * (path = DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]) and one item per file in
 * each of FILEMODES, FILESIZES or LONGFILESIZES, FILEMTIMES, FILEFLAGS,
 * FILERDEVS, FILEINODES, FILEUSERNAME, FILEGROUPNAME, FILELINKTOS,
 * FILEDIGESTS and FILECAPS.
 *
 * The rules:
 *   - no BASENAMES: no files, and then none of the other file tags either;
 *   - with files, DIRNAMES, DIRINDEXES and FILEMODES are required; every
 *     other file tag is optional, and when present has one item per file;
 *   - at most RPM_FILES_MAX files;
 *   - every tag has its type (strings: STRING_ARRAY; numbers: INT16 or
 *     INT32; LONGFILESIZES: INT64);
 *   - every directory index names a directory; a directory name is "" (a
 *     source package's files have none) or starts and ends with '/';
 *   - a base name holds no '/' and is empty only for "/" itself;
 *   - a mode has a known file type (S_IFMT), and a symbolic link has a
 *     non-empty FILELINKTOS. */

#include <stddef.h>
#include <stdint.h>

#include "rpm/header.h"

/* More files than any package has (Fedora's largest have some 10^5): a
 * 256 MiB header could otherwise ask for gigabytes of pointers. */
#define RPM_FILES_MAX 4000000

typedef struct RpmHeaderFile {
        const char *path;   /* dirname + basename, in the list's own storage */
        uint32_t mode;      /* FILEMODES: type and permissions */
        uint64_t size;      /* LONGFILESIZES or FILESIZES; 0 if absent */
        uint32_t mtime;     /* FILEMTIMES; 0 if absent */
        uint32_t flags;     /* FILEFLAGS (RPMFILE_*); 0 if absent */
        uint32_t rdev;      /* FILERDEVS; 0 if absent */
        uint32_t inode;     /* FILEINODES; 0 if absent (no hard links) */
        /* Into the header (it must outlive the list); NULL if the tag is
         * absent. link and caps are "" for a file without one; link is
         * never NULL or "" for a symbolic link. */
        const char *user;
        const char *group;
        const char *link;
        const char *digest; /* hex, FILEDIGESTALGO; "" for none */
        const char *caps;   /* cap_to_text(3) form */
} RpmHeaderFile;

typedef struct RpmFileList {
        RpmHeaderFile *files; /* in header order */
        size_t n;
        char *paths; /* owned: the storage of every path */
} RpmFileList;

/* Decodes h's file list into *ret (untouched on failure). -EBADMSG for a
 * list that breaks a rule, with *ret_why (if given) set to a static
 * description naming the tag ("DIRINDEXES names no directory"); -ENOMEM. */
int rpm_header_files(const RpmHeader *h, RpmFileList *ret, const char **ret_why);
void rpm_file_list_release(RpmFileList *l);
static inline void rpm_file_list_releasep(RpmFileList *l) {
        rpm_file_list_release(l);
}
