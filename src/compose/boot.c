/* SPDX-License-Identifier: MIT */

/* Boot inputs and systemd-boot on an ESP (see boot.h). The entry follows the
 * Boot Loader Specification, type 1 (uapi-group.org/specifications/specs/
 * boot_loader_specification): its paths are relative to the root of the
 * partition that holds it, the ESP here. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/strbuf.h"
#include "compose/boot.h"
#include "compose/settings.h"

#define MODULES_DIR "/usr/lib/modules/"
#define SDBOOT_PATH "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
#define STUB_PATH "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

int image_seed(const Project *p, const Image *im, uint8_t seed[32]) {
        _cleanup_free_ char *s = NULL;
        if (asprintf(&s, "slipway-image-seed\n%s\n%s\n%s", p->project.name, p->project.version, im->name) < 0)
                return -ENOMEM;
        return hash_buffer(HASH_SHA256, s, strlen(s), seed);
}

void boot_inputs_release(BootInputs *b) {
        free(b->kver);
        tree_blob_unref(b->kernel);
        tree_blob_unref(b->initrd);
        tree_blob_unref(b->sdboot);
        tree_blob_unref(b->stub);
        tree_blob_unref(b->os_release);
        *b = (BootInputs) {};
}

/* KVER of "/usr/lib/modules/KVER/vmlinuz", or NULL. */
static const char *kernel_version_of(const char *path, size_t *ret_len) {
        if (strncmp(path, MODULES_DIR, strlen(MODULES_DIR)) != 0)
                return NULL;
        const char *v = path + strlen(MODULES_DIR);
        const char *slash = strchr(v, '/');
        if (!slash || slash == v || strcmp(slash, "/vmlinuz") != 0)
                return NULL;
        *ret_len = (size_t) (slash - v);
        return v;
}

int boot_inputs_find(const Tree *t, const Image *im, const char *images_dir, bool cpio_gzip, bool need_sdboot,
                     Diagnostics *d, BootInputs *ret) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n = 0;
        BootInputs b = {};
        int r;

        r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        const TreeNode *kernel = NULL;
        size_t best_len = 0;
        const char *best = NULL;
        for (size_t i = 0; i < n; i++) {
                size_t len;
                const char *v = kernel_version_of(nodes[i]->path, &len);
                if (!v || nodes[i]->type != TREE_REG)
                        continue;
                _cleanup_free_ char *a = strndup(v, len), *c = best ? strndup(best, best_len) : NULL;
                if (!a || (best && !c))
                        return -ENOMEM;
                if (!best || strverscmp(a, c) > 0) {
                        best = v;
                        best_len = len;
                        kernel = nodes[i];
                }
        }
        SourcePos pos = cfg_pos(&im->obj, "packages");
        if (!kernel || !kernel->blob) {
                diag_error(d, &pos,
                           "image '%s' boots, but no package installs a kernel at " MODULES_DIR "VERSION/vmlinuz; "
                           "add the kernel's package to 'packages'",
                           im->name);
                return -EINVAL;
        }
        b.kver = strndup(best, best_len);
        b.kernel = tree_blob_ref(kernel->blob);
        if (!b.kver) {
                boot_inputs_release(&b);
                return -ENOMEM;
        }
        if (need_sdboot && im->uki != UKI_NONE) {
                const TreeNode *st = tree_get(t, STUB_PATH);
                if (!st || st->type != TREE_REG || !st->blob) {
                        SourcePos upos = cfg_pos(&im->obj, "uki");
                        diag_error(d, &upos,
                                   "image '%s' boots a unified kernel image, but no package installs systemd-stub at "
                                   STUB_PATH "; add it to 'packages'",
                                   im->name);
                        boot_inputs_release(&b);
                        return -EINVAL;
                }
                b.stub = tree_blob_ref(st->blob);
                const TreeNode *os = tree_get(t, "/usr/lib/os-release");
                if (!os || os->type != TREE_REG)
                        os = tree_get(t, "/etc/os-release");
                if (!os || os->type != TREE_REG || !os->blob) {
                        SourcePos upos = cfg_pos(&im->obj, "uki");
                        diag_error(d, &upos,
                                   "image '%s' boots a unified kernel image, whose .osrel section is the image's "
                                   "os-release, but it has no regular file /usr/lib/os-release or /etc/os-release",
                                   im->name);
                        boot_inputs_release(&b);
                        return -EINVAL;
                }
                b.os_release = tree_blob_ref(os->blob);
        }
        if (need_sdboot && im->uki != UKI_FIRMWARE) {
                const TreeNode *sd = tree_get(t, SDBOOT_PATH);
                if (!sd || sd->type != TREE_REG || !sd->blob) {
                        diag_error(d, &pos,
                                   "image '%s' boots with UEFI, but no package installs systemd-boot at " SDBOOT_PATH
                                   "; add it to 'packages'",
                                   im->name);
                        boot_inputs_release(&b);
                        return -EINVAL;
                }
                b.sdboot = tree_blob_ref(sd->blob);
        }
        if (im->initrd) {
                _cleanup_free_ char *path = NULL, *data = NULL;
                size_t size = 0;
                if (asprintf(&path, "%s/%s.cpio.%s", images_dir, im->initrd, cpio_gzip ? "gz" : "zst") < 0) {
                        boot_inputs_release(&b);
                        return -ENOMEM;
                }
                r = read_full_file(path, &data, &size);
                if (r < 0) {
                        SourcePos ipos = cfg_pos(&im->obj, "initrd");
                        if (r == -ENOMEM)
                                diag_error(d, &ipos, "image '%s': cannot read its initrd '%s': %s", im->name, path,
                                           strerror(-r));
                        else
                                diag_error(d, &ipos, "image '%s': its initrd image '%s' was not written: no '%s'",
                                           im->name, im->initrd, path);
                        boot_inputs_release(&b);
                        return r == -ENOMEM ? r : -EINVAL;
                }
                b.initrd = tree_blob_take((uint8_t *) TAKE_PTR(data), size);
                if (!b.initrd) {
                        boot_inputs_release(&b);
                        return -ENOMEM;
                }
        }
        *ret = b;
        return 0;
}

char *boot_cmdline(const Image *im, const char *root) {
        char *s;
        const char *extra = im->kernel_cmdline ? im->kernel_cmdline : "";
        if (asprintf(&s, "%s%s%s%s", root ? "root=" : "", root ? root : "", root && extra[0] ? " " : "", extra) < 0)
                return NULL;
        return s;
}

static int add_text(Tree *t, const char *dir, const char *rel, const char *text, int64_t mtime) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, rel) < 0)
                return -ENOMEM;
        return tree_write_text(t, path, text, 0644, mtime);
}

int boot_add_blob(Tree *t, const char *dir, const char *rel, TreeBlob *b, int64_t mtime) {
        _cleanup_free_ char *path = NULL;
        TreeNode *n;
        if (asprintf(&path, "%s/%s", dir, rel) < 0)
                return -ENOMEM;
        int r = tree_add_blob(t, path, b, 0644, 0, 0, &n);
        if (r >= 0)
                n->mtime = mtime;
        return r;
}

int boot_add_grub(Tree *t, const Project *p, const Image *im, const char *part_root, const char *sub,
                  const BootInputs *b, const char *cmdline) {
        const int64_t when = (int64_t) p->source_date_epoch;
        const char *token = p->project.name;
        _cleanup_free_ char *dir = NULL, *linux_rel = NULL, *initrd_rel = NULL;
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        int r;

        if (asprintf(&dir, "%s%s", strcmp(part_root, "/") == 0 ? "" : part_root, sub) < 0 ||
            asprintf(&linux_rel, "%s/%s/linux", token, b->kver) < 0 ||
            asprintf(&initrd_rel, "%s/%s/initrd", token, b->kver) < 0)
                return -ENOMEM;
        if ((r = boot_add_blob(t, dir, linux_rel, b->kernel, when)) < 0)
                return r;
        if (b->initrd && (r = boot_add_blob(t, dir, initrd_rel, b->initrd, when)) < 0)
                return r;
        /* GRUB's paths are relative to the partition it found grub.cfg on. */
        strbuf_puts(&sb, "# Written by slipway: boot the image's kernel at once.\nset timeout=0\n");
        strbuf_printf(&sb, "menuentry '%s %s (%s)' {\n", p->project.name, p->project.version, im->name);
        strbuf_printf(&sb, "\tlinux %s/%s%s%s\n", sub, linux_rel, cmdline[0] ? " " : "", cmdline);
        if (b->initrd)
                strbuf_printf(&sb, "\tinitrd %s/%s\n", sub, initrd_rel);
        strbuf_puts(&sb, "}\n");
        if (sb.oom)
                return -ENOMEM;
        return add_text(t, strcmp(part_root, "/") == 0 ? "" : part_root, "boot/grub/grub.cfg", sb.buf, when);
}

int boot_add_uefi(Tree *t, const Project *p, const Image *im, const char *esp, const BootInputs *b,
                  const char *cmdline) {
        const int64_t when = (int64_t) p->source_date_epoch;
        const char *token = p->project.name;
        _cleanup_free_ char *entry = NULL, *entry_name = NULL, *linux_rel = NULL, *initrd_rel = NULL, *conf = NULL;
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        int r;

        if (asprintf(&entry_name, "%s-%s", token, b->kver) < 0 ||
            asprintf(&linux_rel, "%s/%s/linux", token, b->kver) < 0 ||
            asprintf(&initrd_rel, "%s/%s/initrd", token, b->kver) < 0 ||
            asprintf(&entry, "loader/entries/%s.conf", entry_name) < 0)
                return -ENOMEM;
        if ((r = boot_add_blob(t, esp, "EFI/BOOT/BOOTX64.EFI", b->sdboot, when)) < 0 ||
            (r = boot_add_blob(t, esp, "EFI/systemd/systemd-bootx64.efi", b->sdboot, when)) < 0 ||
            (r = boot_add_blob(t, esp, linux_rel, b->kernel, when)) < 0)
                return r;
        if (b->initrd && (r = boot_add_blob(t, esp, initrd_rel, b->initrd, when)) < 0)
                return r;
        /* No menu unless a key is pressed; the one entry is the default. */
        if (asprintf(&conf, "timeout 0\ndefault %s.conf\n", entry_name) < 0)
                return -ENOMEM;
        if ((r = add_text(t, esp, "loader/loader.conf", conf, when)) < 0)
                return r;
        strbuf_printf(&sb, "title %s %s (%s)\n", p->project.name, p->project.version, im->name);
        strbuf_printf(&sb, "version %s\n", b->kver);
        strbuf_printf(&sb, "linux /%s\n", linux_rel);
        if (b->initrd)
                strbuf_printf(&sb, "initrd /%s\n", initrd_rel);
        if (cmdline[0])
                strbuf_printf(&sb, "options %s\n", cmdline);
        if (sb.oom)
                return -ENOMEM;
        return add_text(t, esp, entry, sb.buf, when);
}
