/* SPDX-License-Identifier: MIT */
#pragma once

/* The hardening check of built packages (docs/packaging.md, "The hardening
 * check"): every ELF executable and shared object (ET_EXEC, ET_DYN) a
 * package holds is checked for the properties of HardeningCheck, with the
 * rules of Debian's hardening-check (devscripts) where it has the check, so
 * that both give the same verdict on the same file:
 *
 *   pie              ET_DYN with a PT_PHDR segment: yes; ET_DYN without one
 *                    (a shared library): not applicable; ET_EXEC: missing
 *   relro            a PT_GNU_RELRO segment
 *   bindnow          DT_BIND_NOW, DF_BIND_NOW in DT_FLAGS or DF_1_NOW in
 *                    DT_FLAGS_1 (full RELRO: relro and bindnow both)
 *   nx-stack         a PT_GNU_STACK segment without PF_X (hardening-check
 *                    has no such check; no PT_GNU_STACK counts as an
 *                    executable stack, as glibc's loader takes it)
 *   stack-protector  __stack_chk_fail among the undefined functions; no
 *                    undefined functions at all: not applicable
 *   fortify          a __NAME_chk of a fortifiable function among the
 *                    undefined functions: yes; only plain ones: missing;
 *                    none of either: not applicable
 *   cet              (x86 and x86-64 only, else not applicable) an
 *                    NT_GNU_PROPERTY_TYPE_0 note whose
 *                    GNU_PROPERTY_X86_FEATURE_1_AND has IBT and SHSTK
 *
 * Files below /usr/lib/debug (debuginfo: no code) are not checked. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/project.h"
#include "package/elf.h"

typedef enum HardeningStatus {
        HARDENING_PASS,
        HARDENING_MISSING,
        HARDENING_NA, /* not applicable */
        _HARDENING_STATUS_MAX,
        _HARDENING_STATUS_INVALID = -EINVAL,
} HardeningStatus;

const char *hardening_status_to_string(HardeningStatus s) _pure_;
HardeningStatus hardening_status_from_string(const char *s) _pure_;
/* What a file missing check c lacks, for messages: "no BIND_NOW". */
const char *hardening_missing_to_string(HardeningCheck c) _pure_;

/* The verdicts of one file. */
void hardening_evaluate(const ElfInfo *info, uint8_t ret[static _HARDENING_CHECK_MAX]);

typedef struct HardeningFile {
        char *path;                              /* in the package */
        uint8_t status[_HARDENING_CHECK_MAX];    /* HardeningStatus */
} HardeningFile;

/* One package's ELF files, in the package's order. */
typedef struct HardeningPackage {
        char *rpm;             /* its file name in repo/Packages */
        HardeningFile *files;
        size_t n_files;
        char **unreadable;     /* ELF files whose structures do not hold together: not checked */
        size_t n_unreadable;
} HardeningPackage;

void hardening_package_release(HardeningPackage *p);
void hardening_packages_free(HardeningPackage *a, size_t n);

/* Checks the ELF files of the RPM at path (file: its name, for the
 * result). A package slipway cannot unpack: -EBADMSG with *ret_error. */
int hardening_scan_rpm(const char *path, const char *file, HardeningPackage *ret, char **ret_error);

/* The version of the rules above: results recorded under other rules are
 * not used (the packages are checked again). */
#define HARDENING_RULES 1

/* The results as kept in the build record, and back (NULL / -EBADMSG
 * when the record's are not well formed: the packages are checked again). */
json_t *hardening_package_to_json(const HardeningPackage *p);
int hardening_package_from_json(const json_t *j, HardeningPackage *ret);

/* The action for check c on component c's packages: the project's, or
 * HARDENING_OFF when the component has an exception for it. */
HardeningAction hardening_action(const Project *p, const Component *c, HardeningCheck check) _pure_;

/* The first finding of a check whose action is "fail" among pkgs (NULL if
 * none), as one line naming the package, the file and the property, and
 * how many there are in all. */
char *hardening_failure(const Project *p, const Component *c, const HardeningPackage *pkgs, size_t n,
                        size_t *ret_count);
