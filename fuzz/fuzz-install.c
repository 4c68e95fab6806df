/* SPDX-License-Identifier: MIT */

/* libFuzzer target: installing an RPM into a tree, as `slipway image` does
 * with packages from repositories: the header's file list, the payload
 * (decompression, the cpio archive, hard links, capabilities), paths that
 * try to leave the root, and conflicts with what is already installed. The
 * input is one package file; it is installed twice into one tree, so the
 * second install exercises the conflict checks against the first. Inputs
 * of odd length take the spooled payload path, the others the in-memory one.
 * The same bytes also go to the newc cpio decoder directly. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tree/cpio.h"
#include "tree/install.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* The payload's cpio decoder on its own: a package's compressed
         * payload seldom gets this far with random bytes. */
        size_t off = 0;
        CpioNewcEntry e;
        while (cpio_newc_next(data, size, &off, &e) > 0)
                (void) strlen(e.name);

        int fd = memfd_create("fuzz-install", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (write(fd, data, size) != (ssize_t) size) {
                close(fd);
                return 0;
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        /* Both payload paths for every input: in memory, and spooled to a
         * file (which large packages take), chosen by the input's length. */
        rpm_unpack_set_spool_min(size % 2 ? 0 : (uint64_t) 64 << 20);
        Tree *t = tree_new(0);
        Diagnostics d = {};
        for (int round = 0; t && round < 2; round++) {
                InstallResult r = {};
                if (tree_install_rpm(t, path, &d, &r) >= 0)
                        install_result_release(&r);
        }
        diagnostics_release(&d);
        tree_free(t);
        close(fd);
        return 0;
}
