/* SPDX-License-Identifier: MIT */

/* An RPM package file: NEVRA, summary, license, signature, dependencies and
 * the file list, all from the headers (LSB Core "Package File Format"; the
 * payload is not read). rpm_package_read() has checked every entry's bounds;
 * here the parallel arrays of the file list and of the dependencies are
 * checked to have one item per file (per dependency) before use. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "inspect/inspect.h"
#include "rpm/files.h"
#include "rpm/package.h"
#include "sign/pgp.h"

static int dup_string(const RpmHeader *h, uint32_t tag, char **ret) {
        const char *s = rpm_header_get_string(h, tag);
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* More items than any package has (Fedora's largest have some 10^5 files):
 * a header of 256 MiB could otherwise ask for gigabytes of pointers. */
#define MAX_ITEMS 4000000

static int check_count(const RpmHeader *h, uint32_t tag) {
        RpmEntry e;
        if (rpm_header_get(h, tag, &e) >= 0 && e.count > MAX_ITEMS)
                return -EBADMSG;
        return 0;
}

/* The strings of a STRING_ARRAY entry; *ret_n 0 and no array if absent. A
 * present entry of another type is malformed. */
static int get_strings(const RpmHeader *h, uint32_t tag, const char ***ret, size_t *ret_n) {
        if (check_count(h, tag) < 0)
                return -EBADMSG;
        int r = rpm_header_get_strings(h, tag, ret, ret_n);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return r;
}

static int get_u32s(const RpmHeader *h, uint32_t tag, uint32_t **ret, size_t *ret_n) {
        if (check_count(h, tag) < 0)
                return -EBADMSG;
        int r = rpm_header_get_u32s(h, tag, ret, ret_n);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return r;
}

/* "name", "name >= evr" for each dependency of one kind. */
static int get_deps(const RpmHeader *h, uint32_t name_tag, uint32_t flags_tag, uint32_t version_tag, char ***ret,
                    size_t *ret_n, Diagnostics *d) {
        _cleanup_free_ const char **names = NULL, **versions = NULL;
        _cleanup_free_ uint32_t *flags = NULL;
        size_t n, nv, nf;
        int r;

        if ((r = get_strings(h, name_tag, &names, &n)) < 0 || (r = get_strings(h, version_tag, &versions, &nv)) < 0 ||
            (r = get_u32s(h, flags_tag, &flags, &nf)) < 0) {
                if (r == -ENOMEM)
                        return r;
                diag_error(d, NULL, "malformed dependency tags: a tag has the wrong type or too many items");
                return -EBADMSG;
        }
        if ((nv != 0 && nv != n) || (nf != 0 && nf != n)) {
                diag_error(d, NULL, "malformed dependency tags: %zu names, %zu versions, %zu flags", n, nv, nf);
                return -EBADMSG;
        }
        char **v = new0(char *, n);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                uint32_t fl = nf ? flags[i] : 0;
                const char *ver = nv ? versions[i] : "";
                char op[4] = "", *p = op; /* at most "<>=" */
                if (fl & RPMSENSE_LESS)
                        *p++ = '<';
                if (fl & RPMSENSE_GREATER)
                        *p++ = '>';
                if (fl & RPMSENSE_EQUAL)
                        *p++ = '=';
                if ((ver[0] && op[0] ? asprintf(&v[i], "%s %s %s", names[i], op, ver)
                                     : asprintf(&v[i], "%s", names[i])) < 0) {
                        v[i] = NULL;
                        for (size_t k = 0; k < i; k++)
                                free(v[k]);
                        free(v);
                        return -ENOMEM;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int add_files(Inventory *inv, const RpmHeader *h, Diagnostics *d) {
        _cleanup_(rpm_file_list_releasep) RpmFileList fl = {};
        const char *why = NULL;
        int r = rpm_header_files(h, &fl, &why);
        if (r == -EBADMSG) {
                diag_error(d, NULL, "malformed file list: %s", why);
                return r;
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < fl.n; i++) {
                const RpmHeaderFile *hf = &fl.files[i];
                InvFile *f = inventory_add_file(inv);
                if (!f)
                        return -ENOMEM;
                f->mode = hf->mode;
                f->size = hf->size;
                f->rpm_flags = hf->flags;
                if (!(f->path = strdup(hf->path)) || (hf->user && !(f->user = strdup(hf->user))) ||
                    (hf->group && !(f->group = strdup(hf->group))) || (hf->link[0] && !(f->target = strdup(hf->link))) ||
                    (hf->caps[0] && !(f->caps = strdup(hf->caps))))
                        return -ENOMEM;
        }
        return 0;
}

static int add_signature(InvPackage *p, const RpmHeader *sig) {
        static const struct {
                uint32_t tag;
                const char *name;
        } tags[] = {
                /* Header-only signatures first: rpm 4.18 checks those. */
                { RPMSIGTAG_RSA, "RSAHEADER" },
                { RPMSIGTAG_DSA, "DSAHEADER" },
                { RPMSIGTAG_PGP, "PGP" },
                { RPMSIGTAG_GPG, "GPG" },
        };
        if (!sig)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
                RpmEntry e;
                if (rpm_header_get(sig, tags[i].tag, &e) < 0 || e.type != RPM_BIN_TYPE)
                        continue;
                p->is_signed = true;
                p->signature_tag = strdup(tags[i].name);
                if (!p->signature_tag)
                        return -ENOMEM;
                uint8_t id[8];
                if (pgp_signature_issuer(e.data, e.size, id) >= 0) {
                        p->key_id = malloc(17);
                        if (!p->key_id)
                                return -ENOMEM;
                        for (size_t k = 0; k < 8; k++)
                                snprintf(p->key_id + 2 * k, 3, "%02X", id[k]);
                }
                return 0;
        }
        return 0;
}

int inspect_rpm_file(const char *path, Inventory **ret, Diagnostics *d) {
        _cleanup_(rpm_package_freep) RpmPackage *pkg = NULL;
        int r = rpm_package_read(path, &pkg);
        if (r == -EBADMSG || r == -ENODATA) {
                diag_error(d, NULL, "malformed RPM package: bad lead or header, or the file is truncated");
                return -EBADMSG;
        }
        if (r < 0) {
                diag_error(d, NULL, "cannot read: %s", strerror(-r));
                return r;
        }
        return inspect_rpm_package(pkg, ret, d);
}

int inspect_rpm_package(const RpmPackage *pkg, Inventory **ret, Diagnostics *d) {
        int r;

        /* The headers say how long the rest is (SIZE or LONGSIZE: main
         * header + payload), so a file cut inside the payload shows. */
        uint64_t size;
        if (pkg->signature && (rpm_header_get_number(pkg->signature, RPMSIGTAG_LONGSIZE, &size) >= 0 ||
                               rpm_header_get_number(pkg->signature, RPMSIGTAG_SIZE, &size) >= 0)) {
                if (pkg->file_size < pkg->header_offset || pkg->file_size - pkg->header_offset < size) {
                        diag_error(d, NULL, "truncated RPM package: %llu bytes, the headers say %llu",
                                   (unsigned long long) pkg->file_size,
                                   (unsigned long long) (pkg->header_offset + size));
                        return -EBADMSG;
                }
        }

        _cleanup_(inventory_freep) Inventory *inv = inventory_new(INVENTORY_RPM, "rpm");
        if (!inv)
                return -ENOMEM;
        const RpmHeader *h = pkg->header;
        InvPackage *p = inventory_add_package(inv);
        if (!p)
                return -ENOMEM;
        if (!rpm_header_get_string(h, RPMTAG_NAME) || !rpm_header_get_string(h, RPMTAG_VERSION) ||
            !rpm_header_get_string(h, RPMTAG_RELEASE)) {
                diag_error(d, NULL, "malformed RPM package: no name, version or release");
                return -EBADMSG;
        }
        if ((r = dup_string(h, RPMTAG_NAME, &p->name)) < 0 || (r = dup_string(h, RPMTAG_VERSION, &p->version)) < 0 ||
            (r = dup_string(h, RPMTAG_RELEASE, &p->release)) < 0 || (r = dup_string(h, RPMTAG_ARCH, &p->arch)) < 0 ||
            (r = dup_string(h, RPMTAG_SUMMARY, &p->summary)) < 0 || (r = dup_string(h, RPMTAG_LICENSE, &p->license)) < 0)
                return r;
        uint64_t epoch;
        if (rpm_header_get_number(h, RPMTAG_EPOCH, &epoch) >= 0) {
                p->has_epoch = true;
                p->epoch = (uint32_t) epoch;
        }
        p->source = be16toh(pkg->lead.type) == 1;
        if ((r = add_signature(p, pkg->signature)) < 0)
                return r;
        if ((r = get_deps(h, RPMTAG_REQUIRENAME, RPMTAG_REQUIREFLAGS, RPMTAG_REQUIREVERSION, &p->requires,
                          &p->n_requires, d)) < 0 ||
            (r = get_deps(h, RPMTAG_PROVIDENAME, RPMTAG_PROVIDEFLAGS, RPMTAG_PROVIDEVERSION, &p->provides,
                          &p->n_provides, d)) < 0 ||
            (r = get_deps(h, RPMTAG_CONFLICTNAME, RPMTAG_CONFLICTFLAGS, RPMTAG_CONFLICTVERSION, &p->conflicts,
                          &p->n_conflicts, d)) < 0 ||
            (r = get_deps(h, RPMTAG_OBSOLETENAME, RPMTAG_OBSOLETEFLAGS, RPMTAG_OBSOLETEVERSION, &p->obsoletes,
                          &p->n_obsoletes, d)) < 0)
                return r;
        if ((r = add_files(inv, h, d)) < 0)
                return r;
        *ret = TAKE_PTR(inv);
        return 0;
}
