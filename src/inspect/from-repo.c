/* SPDX-License-Identifier: MIT */

/* A repository directory: the files repomd.xml lists, whether it is signed,
 * and the packages of its primary metadata (docs/notes/repodata.md). */

#include <stdlib.h>
#include <string.h>

#include "basic/compress.h"
#include "basic/fileio.h"
#include "inspect/inspect.h"
#include "repo/repo.h"

/* A location from metadata must stay inside the repository. */
static char *strdup_or_null(const char *s, bool *oom) {
        if (!s)
                return NULL;
        char *r = strdup(s);
        if (!r)
                *oom = true;
        return r;
}

static int add_packages(Inventory *inv, const char *dir, const char *href, Diagnostics *d) {
        _cleanup_free_ char *path = path_join(dir, href), *raw = NULL;
        _cleanup_free_ uint8_t *xml = NULL;
        size_t rl, xl;
        RepoPrimaryPackage *pk = NULL;
        size_t npk = 0;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, &raw, &rl);
        if (r < 0) {
                diag_error(d, NULL, "cannot read the primary metadata '%s': %s", href, strerror(-r));
                return r;
        }
        r = decompress_any(raw, rl, &xml, &xl);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                diag_error(d, NULL, "primary metadata '%s': %s", href,
                           r == -EFBIG ? "decompresses to more than 1 GiB" : "corrupt compressed data");
                return r == -EFBIG ? r : -EBADMSG;
        }
        r = primary_parse((const char *) xml, xl, &pk, &npk);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                diag_error(d, NULL, "malformed primary metadata '%s'", href);
                return -EBADMSG;
        }
        bool oom = false;
        for (size_t i = 0; i < npk && !oom; i++) {
                InvPackage *p = inventory_add_package(inv);
                if (!p) {
                        oom = true;
                        break;
                }
                p->name = strdup_or_null(pk[i].name, &oom);
                p->version = strdup_or_null(pk[i].version, &oom);
                p->release = strdup_or_null(pk[i].release, &oom);
                p->arch = strdup_or_null(pk[i].arch, &oom);
                p->href = strdup_or_null(pk[i].href, &oom);
                p->checksum_type = strdup_or_null(pk[i].checksum_type, &oom);
                p->checksum = strdup_or_null(pk[i].pkgid, &oom);
                /* createrepo_c writes epoch="0" for none, as rpm's NEVRA omits. */
                char *end;
                if (pk[i].epoch && pk[i].epoch[0]) {
                        unsigned long e = strtoul(pk[i].epoch, &end, 10);
                        if (*end == 0 && e > 0 && e <= UINT32_MAX) {
                                p->has_epoch = true;
                                p->epoch = (uint32_t) e;
                        }
                }
        }
        primary_free_array(pk, npk);
        return oom ? -ENOMEM : 0;
}

int inspect_repository(const char *dir, Inventory **ret, Diagnostics *d) {
        _cleanup_free_ char *repomd = path_join(dir, "repodata/repomd.xml");
        _cleanup_free_ char *asc = path_join(dir, "repodata/repomd.xml.asc");
        _cleanup_free_ char *data = NULL;
        size_t n;
        int r;

        if (!repomd || !asc)
                return -ENOMEM;
        r = read_full_file(repomd, &data, &n);
        if (r < 0) {
                diag_error(d, NULL, "cannot read repodata/repomd.xml: %s", strerror(-r));
                return r;
        }
        _cleanup_(inventory_freep) Inventory *inv = inventory_new(INVENTORY_REPOSITORY, "repository");
        if (!inv)
                return -ENOMEM;
        inv->repo_signed = path_exists(asc);

        RepoMdData *md = NULL;
        size_t nmd = 0;
        r = repomd_parse(data, n, &md, &nmd);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                diag_error(d, NULL, "malformed repodata/repomd.xml");
                return -EBADMSG;
        }
        const char *primary = NULL;
        bool oom = false;
        for (size_t i = 0; i < nmd; i++) {
                InvMetadata *m = inventory_add_metadata(inv);
                if (!m) {
                        oom = true;
                        break;
                }
                m->type = strdup_or_null(md[i].type, &oom);
                m->href = strdup_or_null(md[i].href, &oom);
                m->checksum_type = strdup_or_null(md[i].checksum_type, &oom);
                m->checksum = strdup_or_null(md[i].checksum, &oom);
                if (strcmp(md[i].type, "primary") == 0 && !primary)
                        primary = m->href;
        }
        repomd_free_array(md, nmd);
        if (oom)
                return -ENOMEM;
        if (!primary) {
                diag_error(d, NULL, "repodata/repomd.xml lists no primary metadata");
                return -EBADMSG;
        }
        if (!repo_href_safe(primary)) {
                diag_error(d, NULL, "repodata/repomd.xml: the primary location '%s' points outside the repository",
                           primary);
                return -EBADMSG;
        }
        r = add_packages(inv, dir, primary, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(inv);
        return 0;
}
