/* SPDX-License-Identifier: MIT */

/* libFuzzer target: what `slipway customize` reads from an untrusted disk
 * image: the container, the partition table, the root's fstab and the ext4
 * and FAT file systems read into a tree (inspect/load.h); then every
 * regular file's contents read back through its blob (ext4 extents over
 * the disk), at most 16 MiB in all; and the same bytes as a tar or an
 * oci-archive read into a tree. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "inspect/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int fd = memfd_create("fuzz-customize", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (size > 0 && write(fd, data, size) != (ssize_t) size) {
                close(fd);
                return 0;
        }
        Diagnostics d = {};
        LoadedImage *l = NULL;
        if (image_load_fd(fd, "fuzz", 0, &l, &d) >= 0) {
                TreeNode **nodes = NULL;
                size_t n = 0;
                uint64_t budget = 16u << 20;
                static uint8_t buf[1 << 16];
                if (tree_list(l->tree, &nodes, &n) >= 0)
                        for (size_t i = 0; i < n && budget > 0; i++) {
                                const TreeBlob *b = nodes[i]->type == TREE_REG ? nodes[i]->blob : NULL;
                                for (uint64_t off = 0; b && off < b->size && budget > 0; off += sizeof buf) {
                                        size_t k = (size_t) (b->size - off < sizeof buf ? b->size - off : sizeof buf);
                                        if (tree_blob_read(b, off, buf, k) < 0)
                                                break;
                                        budget -= k < budget ? k : budget;
                                }
                        }
                free(nodes);
                loaded_image_free(l);
        }
        /* The same bytes as a tar or an oci-archive (load-archive.c). */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        l = NULL;
        if (archive_load(path, 0, &l, &d) >= 0)
                loaded_image_free(l);
        diagnostics_release(&d);
        close(fd);
        return 0;
}
