/* SPDX-License-Identifier: MIT */
#pragma once

/* The rpm database of an installed tree: rpmdb.sqlite in the schema of rpm
 * 4.16 and later (rpm's lib/backend/sqlite.c), so that inside the image
 * `rpm -qa` lists the installed packages and `rpm -V` checks their files. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpm/header.h"

/* One installed package, as the package file holds it. */
typedef struct RpmdbPackage {
        const RpmHeader *header;    /* the main header (with its immutable region) */
        const RpmHeader *signature; /* the signature header */
        uint32_t install_time;      /* INSTALLTIME: SOURCE_DATE_EPOCH */
        uint32_t install_tid;       /* INSTALLTID: the same for all of one transaction */
        const uint8_t *file_states; /* FILESTATES per file (RPMFILE_STATE_*); NULL: all normal */
        bool installed;             /* header is already as an rpm database stores it (read from one:
                                     * rpm_header_parse_installed()): written as it is, the other
                                     * fields unused */
} RpmdbPackage;

/* Writes a complete rpmdb.sqlite for the packages (in install order) to path,
 * created anew (an existing file is replaced atomically; missing parent
 * directories are made 0755, as rpm makes its dbpath). The bytes depend
 * only on the packages and the times given. INSTALLCOLOR and the byte order
 * of the Installtid index follow the first package that is not noarch (the
 * target's arch as the installing rpm would see it). -EBADMSG: a header rpm
 * would refuse to install (no immutable region, bad signature tags, tags only
 * installation may add); -EOPNOTSUPP: a v3 file list (OLDFILENAMES). For
 * these two, *ret_failure (optional) says which package and what is wrong
 * with it. */
typedef struct RpmdbFailure {
        size_t package;  /* index into pkgs */
        const char *why; /* static, lower case, e.g. "its header has no name" */
} RpmdbFailure;
int rpmdb_write(const char *path, const RpmdbPackage *pkgs, size_t n, RpmdbFailure *ret_failure);
