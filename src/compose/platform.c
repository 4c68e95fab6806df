/* SPDX-License-Identifier: MIT */

/* Platform checks of a composed image (platform.h). Azure's come from
 * Microsoft's "Prepare Linux for imaging in Azure" (learn.microsoft.com/
 * azure/virtual-machines/linux/create-upload-generic): the initrd must carry
 * the Hyper-V drivers ("Install kernel modules without Hyper-V" and step 3
 * of "General Linux system requirements"), and the Azure Linux Agent or
 * cloud-init must be there to provision the VM (step 5). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "compose/platform.h"

static const char *const hyperv_driver_table[] = { "hv_vmbus", "hv_storvsc", "hv_netvsc" };
static_assert(ELEMENTSOF(hyperv_driver_table) == _HYPERV_DRIVER_MAX, "hyperv drivers");

const char *hyperv_driver_to_string(HypervDriver h) {
        return h >= 0 && h < _HYPERV_DRIVER_MAX ? hyperv_driver_table[h] : NULL;
}

/* modules.builtin of a kernel with every driver there is is some 100 kB. */
#define MODULES_BUILTIN_MAX (UINT64_C(16) << 20)

/* After "/lib/modules/" or "/usr/lib/modules/": KVER/REST, with KVER
 * matching kver (any when NULL); REST in *ret_rest. */
static bool modules_path(const char *path, const char *kver, const char **ret_rest) {
        static const char *const prefixes[] = { "/lib/modules/", "/usr/lib/modules/" };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t n = strlen(prefixes[i]);
                if (strncmp(path, prefixes[i], n) != 0)
                        continue;
                const char *v = path + n, *slash = strchr(v, '/');
                if (!slash || slash == v)
                        return false;
                if (kver && (strlen(kver) != (size_t) (slash - v) || strncmp(v, kver, strlen(kver)) != 0))
                        return false;
                *ret_rest = slash + 1;
                return true;
        }
        return false;
}

/* The driver whose module file is base (a file name), or -1. */
static int driver_of_module(const char *base, size_t len) {
        static const char *const suffixes[] = { ".ko", ".ko.xz", ".ko.zst" };
        for (int h = 0; h < _HYPERV_DRIVER_MAX; h++) {
                size_t n = strlen(hyperv_driver_table[h]);
                if (len <= n || strncmp(base, hyperv_driver_table[h], n) != 0)
                        continue;
                for (size_t s = 0; s < ELEMENTSOF(suffixes); s++)
                        if (len - n == strlen(suffixes[s]) && memcmp(base + n, suffixes[s], len - n) == 0)
                                return h;
        }
        return -1;
}

/* The drivers modules.builtin lists ("kernel/drivers/hv/hv_vmbus.ko", one
 * a line). */
static int builtin_drivers(const TreeNode *n, unsigned *mask) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        int r = tree_blob_load(n->blob, MODULES_BUILTIN_MAX, &buf, &size);
        if (r == -EFBIG)
                return 0; /* not a modules.builtin the kernel wrote */
        if (r < 0)
                return r;
        for (const char *line = (const char *) buf; line < (const char *) buf + size;) {
                const char *end = memchr(line, '\n', (size_t) ((const char *) buf + size - line));
                size_t len = end ? (size_t) (end - line) : strlen(line);
                const char *base = line;
                for (size_t k = 0; k < len; k++)
                        if (line[k] == '/')
                                base = line + k + 1;
                int h = driver_of_module(base, len - (size_t) (base - line));
                if (h >= 0)
                        *mask |= 1u << h;
                line += len + 1;
        }
        return 0;
}

int platform_hyperv_drivers(const Tree *t, const char *kver, bool builtin_only, unsigned *ret_mask) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n = 0;
        unsigned mask = 0;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *rest;
                if (nodes[i]->type != TREE_REG || !modules_path(nodes[i]->path, kver, &rest))
                        continue;
                if (strcmp(rest, "modules.builtin") == 0) {
                        r = builtin_drivers(nodes[i], &mask);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (builtin_only)
                        continue;
                const char *base = strrchr(rest, '/');
                base = base ? base + 1 : rest;
                int h = driver_of_module(base, strlen(base));
                if (h >= 0)
                        mask |= 1u << h;
        }
        *ret_mask = mask;
        return 0;
}

int platform_kernel_version(const Tree *t, char **ret) {
        _cleanup_free_ TreeNode **nodes = NULL;
        _cleanup_free_ char *best = NULL;
        size_t n = 0;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                static const char prefix[] = "/usr/lib/modules/";
                const char *p = nodes[i]->path;
                if (nodes[i]->type != TREE_REG || strncmp(p, prefix, strlen(prefix)) != 0)
                        continue;
                const char *v = p + strlen(prefix), *slash = strchr(v, '/');
                if (!slash || slash == v || strcmp(slash, "/vmlinuz") != 0)
                        continue;
                _cleanup_free_ char *k = strndup(v, (size_t) (slash - v));
                if (!k)
                        return -ENOMEM;
                if (!best || strverscmp(k, best) > 0) {
                        free(best);
                        best = TAKE_PTR(k);
                }
        }
        *ret = TAKE_PTR(best);
        return 0;
}

/* A program at path in t, through symlinked directories (/usr/sbin -> bin). */
static bool tree_has_program(const Tree *t, const char *path) {
        _cleanup_free_ char *real = NULL;
        if (tree_resolve(t, path, &real) < 0)
                return false;
        const TreeNode *n = tree_get(t, real);
        return n && (n->type == TREE_REG || n->type == TREE_SYMLINK);
}

static int check_azure(const Image *im, const Tree *t, const Tree *initrd, Diagnostics *d) {
        _cleanup_free_ char *kver = NULL;
        int r = platform_kernel_version(t, &kver);
        if (r < 0)
                return r;

        /* The drivers: in the initrd (for the image's kernel, when it has
         * one), or built into that kernel. Without an initrd image the load
         * check warned already. */
        if (initrd) {
                /* Modules of the image itself are no use before its root is
                 * mounted: there only its kernel's modules.builtin counts. */
                unsigned have = 0, builtin = 0;
                r = platform_hyperv_drivers(initrd, kver, false, &have);
                if (r >= 0)
                        r = platform_hyperv_drivers(t, kver, true, &builtin);
                if (r < 0)
                        return r;
                unsigned missing = ((1u << _HYPERV_DRIVER_MAX) - 1) & ~(have | builtin);
                if (missing) {
                        _cleanup_(strbuf_releasep) StrBuf list = STRBUF_INIT;
                        for (int h = 0; h < _HYPERV_DRIVER_MAX; h++)
                                if (missing & (1u << h))
                                        strbuf_printf(&list, "%s%s", list.len ? ", " : "", hyperv_driver_table[h]);
                        if (list.oom)
                                return -ENOMEM;
                        SourcePos pos = cfg_pos(&im->obj, "initrd");
                        diag_warning(d, &pos,
                                     "image '%s' is for Azure, whose disks and network are Hyper-V devices, but its "
                                     "initrd '%s' lacks %s%s%s (a module NAME.ko, .ko.xz or .ko.zst below "
                                     "/usr/lib/modules/KVER, or the kernel's modules.builtin)",
                                     im->name, im->initrd, list.buf, kver ? " for kernel " : "", kver ? kver : "");
                }
        }

        /* Provisioning: the Azure Linux Agent, or cloud-init. */
        static const char *const agents[] = { "/usr/sbin/waagent", "/usr/bin/waagent", "/usr/bin/cloud-init" };
        bool agent = false;
        for (size_t i = 0; i < ELEMENTSOF(agents) && !agent; i++)
                agent = tree_has_program(t, agents[i]);
        if (!agent) {
                SourcePos pos = cfg_pos(&im->obj, "packages");
                diag_warning(d, &pos,
                             "image '%s' is for Azure, which provisions a VM through the Azure Linux Agent or "
                             "cloud-init, but neither is installed (no /usr/sbin/waagent, no /usr/bin/cloud-init)",
                             im->name);
        }
        return 0;
}

int platform_check_composed(const Image *im, const Tree *t, const Tree *initrd, Diagnostics *d) {
        switch (im->platform) {
        case IMAGE_PLATFORM_AZURE:
                return check_azure(im, t, initrd, d);
        default:
                return 0;
        }
}
