/* SPDX-License-Identifier: MIT */
#pragma once

/* Unified kernel images (UAPI Group's "Unified Kernel Image"
 * specification): systemd-stub with the kernel, its initrd, its command
 * line, the os-release and the kernel's version as PE sections. */

#include <stddef.h>

#include "efi/pe.h"

typedef struct UkiInputs {
        const void *stub; /* systemd-stub (linuxx64.efi.stub), an unsigned PE32+ image */
        size_t stub_size;
        const char *os_release; /* the image's /usr/lib/os-release */
        size_t os_release_size;
        const char *cmdline;    /* the kernel command line, a C string */
        const char *uname;      /* the kernel's version, a C string */
        const void *kernel;      /* the kernel (vmlinuz, itself an EFI image) */
        size_t kernel_size;
        const void *initrd;     /* or NULL */
        size_t initrd_size;
} UkiInputs;

/* The UKI, unsigned, its checksum set. The sections are appended to the
 * stub's in the order ukify uses (.osrel, .cmdline, .uname, .initrd,
 * .linux), each at the next SectionAlignment boundary; .linux is code, the
 * others initialized data, all read-only. The stub's trailing COFF symbol
 * table is dropped first. Nothing depends on time or place: the same
 * inputs give the same bytes. -EBADMSG: the stub is not a PE32+ image, or
 * is signed, or has those sections already; -ENOSPC: its headers have no
 * room for five more section headers. */
int uki_build(const UkiInputs *in, PeImage *ret);
