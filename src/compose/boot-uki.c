/* SPDX-License-Identifier: MIT */

/* The ESP of a UEFI disk with a unified kernel image and Secure Boot
 * signatures (boot_add_esp() in boot.h). The UKI is a type 2 entry of the
 * Boot Loader Specification: systemd-boot lists every .efi file in EFI/Linux. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "compose/boot.h"
#include "compose/settings.h"
#include "disk/gpt.h"
#include "efi/pe.h"
#include "efi/signature-list.h"
#include "efi/uki.h"
#include "sign/authenticode.h"

/* A blob's bytes, malloc'd. */
static int load(const TreeBlob *b, uint8_t **ret, size_t *ret_size) {
        return tree_blob_load(b, SIZE_MAX, ret, ret_size);
}

/* pe signed with k (if k) as a new blob; pe is consumed. */
static TreeBlob *finish(PeImage *pe, const SbKey *k, int *ret_r) {
        int r = k ? authenticode_sign(pe, k) : 0;
        TreeBlob *b = NULL;
        if (r >= 0) {
                b = tree_blob_take(pe->data, pe->size);
                if (b)
                        pe->data = NULL;
                else
                        r = -ENOMEM;
        }
        pe_image_release(pe);
        *ret_r = r;
        return b;
}

/* The EFI binary in (from the image's path what) signed with k, or in
 * itself without a key. */
static int sign_blob(const Image *im, const char *what, TreeBlob *in, const SbKey *k, Diagnostics *d,
                     TreeBlob **ret) {
        if (!k) {
                *ret = tree_blob_ref(in);
                return 0;
        }
        uint8_t *data;
        size_t size;
        PeImage pe;
        int r = load(in, &data, &size);
        if (r < 0)
                return r;
        r = pe_image_parse(data, size, &pe);
        if (r == -EBADMSG) {
                diag_error(d, NULL, "image '%s': %s is not a PE32+ EFI image that can be signed", im->name, what);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        *ret = finish(&pe, k, &r);
        if (r == -ENOSPC || r == -EBADMSG) {
                diag_error(d, NULL, "image '%s': %s cannot be signed: it has no certificate table directory, or "
                           "data after its signature", im->name, what);
                return -EINVAL;
        }
        return r;
}

static int uki_blob(const Image *im, const BootInputs *b, const char *cmdline, const SbKey *k, Diagnostics *d,
                    TreeBlob **ret) {
        _cleanup_free_ uint8_t *stub = NULL, *osrel = NULL, *kernel = NULL, *initrd = NULL;
        size_t stub_size, osrel_size, kernel_size, initrd_size = 0;
        int r;
        if ((r = load(b->stub, &stub, &stub_size)) < 0 || (r = load(b->os_release, &osrel, &osrel_size)) < 0 ||
            (r = load(b->kernel, &kernel, &kernel_size)) < 0 ||
            (b->initrd && (r = load(b->initrd, &initrd, &initrd_size)) < 0))
                return r;
        UkiInputs in = {
                .stub = stub, .stub_size = stub_size,
                .os_release = (const char *) osrel, .os_release_size = osrel_size,
                .cmdline = cmdline, .uname = b->kver,
                .kernel = kernel, .kernel_size = kernel_size,
                .initrd = initrd, .initrd_size = initrd_size,
        };
        PeImage pe;
        r = uki_build(&in, &pe);
        if (r == -EBADMSG || r == -ENOSPC || r == -EFBIG) {
                SourcePos pos = cfg_pos(&im->obj, "uki");
                diag_error(d, &pos, "image '%s': cannot make a unified kernel image from systemd-stub "
                           "(/usr/lib/systemd/boot/efi/linuxx64.efi.stub): %s", im->name,
                           r == -EBADMSG ? "it is not an unsigned PE32+ image without .linux, .initrd, .cmdline, "
                                           ".osrel and .uname sections"
                           : r == -ENOSPC ? "its headers have no room for five more sections"
                                          : "the kernel and initrd make it larger than 4 GiB");
                return -EINVAL;
        }
        if (r < 0)
                return r;
        *ret = finish(&pe, k, &r);
        return r;
}

/* The GUID that owns the project's certificate in db: from its name. */
static int owner_guid(const Project *p, uint8_t ret[16]) {
        _cleanup_free_ char *s = NULL;
        uint8_t seed[32];
        if (asprintf(&s, "slipway-secure-boot-owner\n%s", p->project.name) < 0)
                return -ENOMEM;
        int r = hash_buffer(HASH_SHA256, s, strlen(s), seed);
        return r < 0 ? r : gpt_guid_derive(seed, "db-signature-owner", ret);
}

static int export_cert(const Project *p, const SbKey *k, const char *images_dir) {
        _cleanup_free_ char *out = path_dirname(images_dir), *dir = NULL, *cer = NULL, *esl_path = NULL;
        _cleanup_free_ uint8_t *der = NULL, *esl = NULL;
        size_t der_size, esl_size;
        uint8_t owner[16];
        int r;
        if (!out || !(dir = path_join(out, "secure-boot")) || !(cer = path_join(dir, "db.cer")) ||
            !(esl_path = path_join(dir, "db.esl")))
                return -ENOMEM;
        if ((r = sb_key_cert_der(k, &der, &der_size)) < 0 || (r = owner_guid(p, owner)) < 0 ||
            (r = efi_signature_list_x509(der, der_size, owner, &esl, &esl_size)) < 0)
                return r;
        if ((r = mkdir_parents(dir, 0755)) < 0 || (r = write_file_atomic(cer, der, der_size, 0644)) < 0)
                return r;
        return write_file_atomic(esl_path, esl, esl_size, 0644);
}

static int load_key(const Project *p, Diagnostics *d, SbKey **ret) {
        const Signing *s = &p->signing;
        *ret = NULL;
        if (!s->secure_boot_key || !s->secure_boot_cert)
                return 0;
        _cleanup_free_ char *kp = project_path(p, s->secure_boot_key), *cp = project_path(p, s->secure_boot_cert);
        int which = 0;
        const char *why = NULL;
        if (!kp || !cp)
                return -ENOMEM;
        int r = sb_key_load(kp, cp, ret, &which, &why);
        if (r < 0 && r != -ENOMEM) {
                SourcePos pos = cfg_pos(&s->obj, which ? "secure-boot-cert" : "secure-boot-key");
                diag_error(d, &pos, "%s '%s': %s", which ? "Secure Boot certificate" : "Secure Boot key",
                           which ? s->secure_boot_cert : s->secure_boot_key, why);
                return -EINVAL;
        }
        return r;
}

int boot_add_esp(Tree *t, const Project *p, const Image *im, const char *esp, const BootInputs *b,
                 const char *cmdline, const char *images_dir, Diagnostics *d) {
        const int64_t when = (int64_t) p->source_date_epoch;
        _cleanup_(sb_key_freep) SbKey *k = NULL;
        _cleanup_(tree_blob_unrefp) TreeBlob *sd = NULL, *uki = NULL;
        _cleanup_free_ char *rel = NULL, *conf = NULL;
        int r = load_key(p, d, &k);
        if (r < 0)
                return r;
        if (b->sdboot && (r = sign_blob(im, "/usr/lib/systemd/boot/efi/systemd-bootx64.efi", b->sdboot, k, d, &sd)) < 0)
                return r;
        if (im->uki == UKI_NONE) {
                BootInputs signed_b = *b;
                signed_b.sdboot = sd;
                r = boot_add_uefi(t, p, im, esp, &signed_b, cmdline);
        } else {
                if ((r = uki_blob(im, b, cmdline, k, d, &uki)) < 0)
                        return r;
                if (im->uki == UKI_FIRMWARE)
                        r = boot_add_blob(t, esp, "EFI/BOOT/BOOTX64.EFI", uki, when);
                else {
                        if (asprintf(&rel, "EFI/Linux/%s-%s.efi", p->project.name, b->kver) < 0 ||
                            asprintf(&conf, "timeout 0\ndefault %s-%s.efi\n", p->project.name, b->kver) < 0)
                                return -ENOMEM;
                        _cleanup_free_ char *lc = NULL;
                        if (asprintf(&lc, "%s/loader/loader.conf", esp) < 0)
                                return -ENOMEM;
                        if ((r = boot_add_blob(t, esp, rel, uki, when)) < 0 ||
                            (r = boot_add_blob(t, esp, "EFI/BOOT/BOOTX64.EFI", sd, when)) < 0 ||
                            (r = boot_add_blob(t, esp, "EFI/systemd/systemd-bootx64.efi", sd, when)) < 0 ||
                            (r = tree_write_text(t, lc, conf, 0644, when)) < 0)
                                return r;
                }
        }
        if (r < 0)
                return r;
        return k ? export_cert(p, k, images_dir) : 0;
}

int boot_sign_efi(const Project *p, const Image *im, const char *what, TreeBlob **blob, const char *images_dir,
                  Diagnostics *d) {
        _cleanup_(sb_key_freep) SbKey *k = NULL;
        TreeBlob *signed_blob = NULL;
        int r = load_key(p, d, &k);
        if (r < 0 || !k)
                return r;
        if ((r = sign_blob(im, what, *blob, k, d, &signed_blob)) < 0)
                return r;
        tree_blob_unref(*blob);
        *blob = signed_blob;
        return export_cert(p, k, images_dir);
}
