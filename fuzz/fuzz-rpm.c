/* SPDX-License-Identifier: MIT */

/* libFuzzer target: RPM package files (lead, signature header, main header)
 * as slipway reads them from repositories and users. Every getter is run over
 * every entry so bounds are exercised, not just the structure checks; the
 * file list decoder and the dependency grammar see every header and string;
 * the scriptlet planner reads its scriptlets, triggers and file triggers as
 * an image's transaction would (installed twice: an upgrade, so its erase
 * side is planned too). */

#include <stddef.h>
#include <stdint.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "rpm/dep.h"
#include "rpm/files.h"
#include "rpm/package.h"
#include "script/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const RpmHeader *h) {
        if (!h)
                return;
        for (uint32_t i = 0; i < h->n_entries; i++) {
                uint32_t tag;
                memcpy(&tag, h->index + (size_t) i * 16, 4);
                tag = be32toh(tag);
                uint64_t v;
                const char **s = NULL;
                uint32_t *u = NULL;
                size_t n;
                (void) rpm_header_get_string(h, tag);
                (void) rpm_header_get_number(h, tag, &v);
                if (rpm_header_get_strings(h, tag, &s, &n) >= 0) {
                        /* Every string through the dependency grammar. */
                        for (size_t k = 0; k < n && k < 64; k++) {
                                RpmDep d;
                                if (rpm_dependency_parse(s[k], &d) >= 0)
                                        rpm_dep_release(&d);
                        }
                        free(s);
                }
                if (rpm_header_get_u32s(h, tag, &u, &n) >= 0)
                        free(u);
        }
        /* The file list, by its one decoder. */
        RpmFileList fl = {};
        const char *why;
        if (rpm_header_files(h, &fl, &why) >= 0) {
                for (size_t i = 0; i < fl.n; i++)
                        (void) strlen(fl.files[i].path);
                rpm_file_list_release(&fl);
        }
        /* Its scriptlets, triggers and file triggers, as compose plans them:
         * a fresh install, and an upgrade of an installed copy of itself. */
        PlanPackage pk = { .header = h };
        PlanElement el = { .op = PLAN_INSTALL, .package = 0 };
        for (int up = 0; up < 2; up++) {
                PlanInput in = { .installed = up ? &pk : NULL, .n_installed = up ? 1 : 0, .packages = &pk,
                                 .n_packages = 1, .elements = &el, .n_elements = 1 };
                Plan plan = {};
                char *err = NULL;
                (void) header_has_scriptlets(h);
                if (plan_build(&in, &plan, &err) >= 0)
                        plan_release(&plan);
                free(err);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RpmPackage *p = NULL;
        if (rpm_package_parse(data, size, &p) >= 0) {
                walk(p->signature);
                walk(p->header);
        }
        rpm_package_free(p);

        /* A bare header too (repository tools hand those around). */
        RpmHeader *h = NULL;
        if (rpm_header_parse(data, size, &h, NULL) >= 0)
                walk(h);
        rpm_header_free(h);
        return 0;
}
