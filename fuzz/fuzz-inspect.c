/* SPDX-License-Identifier: MIT */

/* libFuzzer target: what `slipway inspect` reads from untrusted files. The
 * same bytes go to each reader: as an archive (tar or cpio, plain, gzip or
 * zstd, or an oci-archive), as an RPM package listed in full, as an
 * rpmdb.sqlite (listed, and made into an SBOM with its files: `inspect
 * --sbom=files`), and as an installed header from one. Decompression is capped
 * at 16 MiB so that a small zstd input cannot take minutes. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compose/sbom.h"
#include "inspect/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const InspectOptions o = { .max_bytes = 16u << 20, .max_entries = 100000 };
        Diagnostics d = {};
        Inventory *inv = NULL;

        if (inspect_archive_memory(data, size, &o, &inv, &d) >= 0)
                inv = inventory_free(inv);

        RpmPackage *p = NULL;
        if (rpm_package_parse(data, size, &p) >= 0 && inspect_rpm_package(p, &inv, &d) >= 0)
                inv = inventory_free(inv);
        rpm_package_free(p);

        /* inspect_rpmdb_memory() may rewrite two header bytes: a copy. */
        uint8_t *copy = malloc(size ? size : 1);
        inv = inventory_new(INVENTORY_IMAGE, "tar");
        if (copy && inv) {
                memcpy(copy, data, size);
                (void) inspect_rpmdb_memory(copy, size, inv, &d);
        }
        inventory_free(inv);
        if (copy) {
                const SbomOptions so = { .name = "fuzz", .namespace_base = "https://slipway.invalid/spdx/fuzz",
                                         .files = true };
                char *text = NULL;
                memcpy(copy, data, size);
                if (sbom_spdx_from_rpmdb(copy, size, &so, &text, NULL, &d) >= 0)
                        free(text);
        }
        free(copy);

        RpmHeader *h = NULL;
        if (rpm_header_parse_installed(data, size, &h) >= 0) {
                uint64_t v;
                (void) rpm_header_get_string(h, RPMTAG_NAME);
                (void) rpm_header_get_number(h, RPMTAG_EPOCH, &v);
        }
        rpm_header_free(h);

        diagnostics_release(&d);
        return 0;
}
