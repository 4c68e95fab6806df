/* SPDX-License-Identifier: MIT */
#pragma once

/* What makes an image boot: its kernel, its initrd (another image of the
 * project, in cpio format), its kernel command line, and systemd-boot with a
 * Boot Loader Specification entry on an ESP. Shared by the disk and ISO
 * writers. */

#include <stdbool.h>

#include "basic/diag.h"
#include "config/project.h"
#include "tree/tree.h"

typedef struct BootInputs {
        char *kver;         /* the kernel's version: /usr/lib/modules/KVER/vmlinuz */
        TreeBlob *kernel;   /* its bytes (a reference into the tree) */
        TreeBlob *initrd;   /* the initrd image's compressed cpio, or NULL without `initrd` */
        TreeBlob *sdboot;   /* systemd-bootx64.efi from the tree, or NULL when `need_sdboot` was false */
        TreeBlob *stub;     /* with `uki`: systemd-stub (linuxx64.efi.stub) from the tree */
        TreeBlob *os_release; /* with `uki`: the tree's os-release */
} BootInputs;

void boot_inputs_release(BootInputs *b);

/* The seed every identifier of an image's disks and ISO derives from
 * (gpt_guid_derive() with a label per use): SHA-256 of the project's name
 * and version and the image's name. */
int image_seed(const Project *p, const Image *im, uint8_t seed[32]);

/* Finds the boot inputs of im in its tree t: the kernel (the newest
 * /usr/lib/modules/KVER/vmlinuz), systemd-boot's EFI binary (with
 * need_sdboot: /usr/lib/systemd/boot/efi/systemd-bootx64.efi; not with
 * uki = "firmware"), with need_sdboot and im's `uki` also systemd-stub
 * (/usr/lib/systemd/boot/efi/linuxx64.efi.stub) and the os-release, and, when im
 * names an initrd image, that image's cpio output in images_dir (.cpio.gz
 * with cpio_gzip, else .cpio.zst: it must have been written before). What
 * is missing is an error in d naming the package or image to add; -EINVAL. */
int boot_inputs_find(const Tree *t, const Image *im, const char *images_dir, bool cpio_gzip, bool need_sdboot,
                     Diagnostics *d, BootInputs *ret);

/* Adds blob b at DIR/REL in t (0644, root, mtime). Shared by the boot
 * writers (boot.c, boot-uki.c). */
int boot_add_blob(Tree *t, const char *dir, const char *rel, TreeBlob *b, int64_t mtime);

/* The kernel command line: root=ROOT (when root is not NULL), then the
 * image's kernel-cmdline. malloc'd. */
char *boot_cmdline(const Image *im, const char *root);

/* Puts systemd-boot and one Boot Loader Specification (type 1) entry for the
 * kernel and initrd into the tree below esp (the ESP's mount point):
 *   EFI/BOOT/BOOTX64.EFI, EFI/systemd/systemd-bootx64.efi,
 *   loader/loader.conf, loader/entries/TOKEN-KVER.conf,
 *   TOKEN/KVER/linux, TOKEN/KVER/initrd
 * where TOKEN is the project's name (the BLS "entry token"). Files get the
 * project's SOURCE_DATE_EPOCH as mtime. */
int boot_add_uefi(Tree *t, const Project *p, const Image *im, const char *esp, const BootInputs *b,
                  const char *cmdline);

/* What goes on the ESP of a UEFI disk, as im's `uki` says: boot_add_uefi()
 * without it; with it a unified kernel image of the kernel, initrd,
 * cmdline and os-release (efi/uki.h), at EFI/Linux/TOKEN-KVER.efi with
 * systemd-boot as EFI/BOOT/BOOTX64.EFI (and EFI/systemd/systemd-bootx64.efi,
 * loader/loader.conf) for "systemd-boot", or as EFI/BOOT/BOOTX64.EFI itself
 * for "firmware". With [signing] secure-boot-key, systemd-boot and the UKI
 * are Authenticode-signed, and the certificate is exported for enrolment
 * to OUT/secure-boot/db.cer (DER) and db.esl (an EFI_SIGNATURE_LIST), OUT
 * being images_dir's parent. Errors a user can act on go to d (-EINVAL). */
int boot_add_esp(Tree *t, const Project *p, const Image *im, const char *esp, const BootInputs *b,
                 const char *cmdline, const char *images_dir, Diagnostics *d);

/* With [signing] secure-boot-key: *blob (an EFI binary, from the image's
 * path `what`, for messages) replaced by its Authenticode-signed copy, and
 * the certificate exported as boot_add_esp() does; nothing without. */
int boot_sign_efi(const Project *p, const Image *im, const char *what, TreeBlob **blob, const char *images_dir,
                  Diagnostics *d);

/* The kernel, the initrd and a GRUB configuration with one entry, below
 * part_root (the mount point of the partition GRUB reads: the ESP, or "/")
 * plus sub ("" on an ESP, "/boot" on a root): SUB/TOKEN/KVER/linux and
 * initrd, and /boot/grub/grub.cfg in that partition (where the example's
 * GRUB core looks for it, on whichever partition has it). */
int boot_add_grub(Tree *t, const Project *p, const Image *im, const char *part_root, const char *sub,
                  const BootInputs *b, const char *cmdline);
