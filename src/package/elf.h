/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading what the hardening check needs from an ELF file (System V ABI,
 * "gABI" 4.1 chapters 4 "Object Files" and 5 "Program Loading and Dynamic
 * Linking", with the GNU extensions of the Linux Standard Base and binutils'
 * include/elf/common.h for the GNU segment types and property notes).
 *
 * The file is untrusted (a package's contents): every offset and count is
 * checked against the file's size before anything is read, and nothing is
 * read that the checks do not need. Both classes (32 and 64 bits) and both
 * byte orders are read. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

/* Reads n bytes at off into buf: 0, or -errno. The reader has already
 * checked that off + n lies within the file. */
typedef int (*ElfReadFn)(void *userdata, uint64_t off, void *buf, size_t n);

typedef struct ElfInfo {
        uint16_t type;    /* e_type: ET_EXEC (2) or ET_DYN (3); others are not described further */
        uint16_t machine; /* e_machine */
        bool is_64;
        bool has_phdr;      /* a PT_PHDR segment: an executable, not a plain shared library */
        bool has_interp;    /* PT_INTERP */
        bool has_relro;     /* PT_GNU_RELRO */
        bool has_gnu_stack; /* PT_GNU_STACK */
        bool stack_exec;    /* PT_GNU_STACK with PF_X */
        bool bind_now;      /* DT_BIND_NOW, DF_BIND_NOW in DT_FLAGS or DF_1_NOW in DT_FLAGS_1 */
        bool df1_pie;       /* DF_1_PIE in DT_FLAGS_1 */
        /* The undefined symbols of type NOTYPE, FUNC or GNU_IFUNC of the
         * symbol tables (SHT_DYNSYM and SHT_SYMTAB sections), the null
         * symbol included, as `readelf -sW` lists them. */
        size_t n_undefined;
        bool stack_chk_fail;   /* __stack_chk_fail among them */
        bool fortify_chk;      /* a __NAME_chk of a fortifiable libc function among them */
        bool fortify_plain;    /* a fortifiable libc function itself among them */
        /* GNU_PROPERTY_X86_FEATURE_1_AND of an NT_GNU_PROPERTY_TYPE_0 note */
        bool ibt, shstk;
} ElfInfo;

#define ELF_MAGIC "\177ELF"

/* Reads the ELF file of size bytes through read: 1 with *ret filled for an
 * ET_EXEC or ET_DYN file, 0 for another ELF type (a relocatable object, a
 * core file) or a file that is not ELF, -EBADMSG for an ELF file whose
 * structures do not fit in it or are inconsistent, -ENOMEM, or the reader's
 * -errno. */
int elf_read_info(ElfReadFn read, void *userdata, uint64_t size, ElfInfo *ret);

/* The same for a file in memory (the fuzz target's entry). */
int elf_parse_info(const void *data, size_t size, ElfInfo *ret);

/* The functions glibc fortifies (those with a __NAME_chk variant), as
 * Debian's hardening-check (devscripts 2.23) lists them; sorted. */
extern const char *const elf_fortifiable[];
extern const size_t elf_n_fortifiable;

#define EM_386_ 3
#define EM_X86_64_ 62
