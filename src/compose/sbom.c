/* SPDX-License-Identifier: MIT */

/* The SBOM model of an image, from its rpm database (sbom.h). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/hash.h"
#include "compose/sbom.h"
#include "inspect/inspect.h"
#include "rpm/files.h"
#include "rpm/header.h"

/* rpm's RPMTAG_SHA256HEADER: the signature header's SHA256, which rpm
 * copies into the installed header (tree/rpmdb.c). */
#define TAG_SHA256HEADER 273

static void package_release(SbomPackage *p) {
        free(p->nevra);
        free(p->name);
        free(p->evr);
        free(p->version);
        free(p->release);
        free(p->arch);
        free(p->license);
        free(p->vendor);
        free(p->packager);
        free(p->url);
        free(p->summary);
        free(p->sourcerpm);
        free(p->header_sha256);
        free(p->depends);
        for (size_t i = 0; i < p->n_files; i++) {
                free(p->files[i].path);
                free(p->files[i].digest);
        }
        free(p->files);
}

Sbom *sbom_free(Sbom *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_packages; i++)
                package_release(&s->packages[i]);
        free(s->packages);
        free(s);
        return NULL;
}

/* A requirement or provided name of one package, while reading. */
typedef struct Name {
        char *name;
        size_t package;
} Name;

typedef struct Reader {
        Sbom *s;
        size_t allocated;
        Name *provides;  /* capability names and file paths */
        size_t n_provides, allocated_provides;
        Name *requires;
        size_t n_requires, allocated_requires;
        const SbomOptions *o;
        Diagnostics *d;
} Reader;

static int add_name(Name **v, size_t *n, size_t *allocated, const char *name, size_t package) {
        if (*n == *allocated) {
                size_t a = *allocated ? *allocated * 2 : 256;
                Name *x = reallocarray(*v, a, sizeof(Name));
                if (!x)
                        return -ENOMEM;
                *v = x;
                *allocated = a;
        }
        char *s = strdup(name);
        if (!s)
                return -ENOMEM;
        (*v)[(*n)++] = (Name) { s, package };
        return 0;
}

static char *dup_tag(const RpmHeader *h, uint32_t tag, bool *oom) {
        const char *s = rpm_header_get_string(h, tag);
        char *c = s ? strdup(s) : NULL;
        if (s && !c)
                *oom = true;
        return c;
}

/* The SPDX name of an rpm file digest algorithm (PGPHASHALGO_*, RFC 4880
 * 9.4); NULL for one SPDX has no name for. Without FILEDIGESTALGO rpm's
 * digests are MD5. */
static const char *digest_algo(uint64_t a) {
        switch (a) {
        case 1: return "MD5";
        case 2: return "SHA1";
        case 8: return "SHA256";
        case 9: return "SHA384";
        case 10: return "SHA512";
        case 11: return "SHA224";
        default: return NULL;
        }
}

static int path_cmp(const void *a, const void *b) {
        return strcmp(((const SbomFile *) a)->path, ((const SbomFile *) b)->path);
}

static int read_files(Reader *x, const RpmHeader *h, SbomPackage *p, size_t index) {
        _cleanup_(rpm_file_list_releasep) RpmFileList l = {};
        const char *why = NULL;
        int r = rpm_header_files(h, &l, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                diag_warning(x->d, NULL, "rpm database: package %s: its file list is malformed (%s): no files listed",
                             p->nevra, why ? why : "?");
                return 0;
        }
        uint64_t algo = 1;
        (void) rpm_header_get_number(h, RPMTAG_FILEDIGESTALGO, &algo);
        const char *spdx_algo = digest_algo(algo);
        for (size_t i = 0; i < l.n; i++) {
                const RpmHeaderFile *f = &l.files[i];
                r = add_name(&x->provides, &x->n_provides, &x->allocated_provides, f->path, index);
                if (r < 0)
                        return r;
                /* SPDX files must have a checksum: regular files rpm
                 * installed (not %ghost) and recorded a digest of. */
                if (!x->o->files || !S_ISREG(f->mode) || (f->flags & RPMFILE_GHOST) || !f->digest ||
                    !*f->digest || !spdx_algo)
                        continue;
                if (!p->files && !(p->files = new0(SbomFile, l.n)))
                        return -ENOMEM;
                SbomFile *sf = &p->files[p->n_files++];
                sf->path = strdup(f->path);
                sf->digest = strdup(f->digest);
                sf->algo = spdx_algo;
                if (!sf->path || !sf->digest)
                        return -ENOMEM;
        }
        if (p->n_files > 0)
                qsort(p->files, p->n_files, sizeof(SbomFile), path_cmp);
        return 0;
}

static int add_package(void *userdata, int64_t hnum, const void *blob, size_t size) {
        Reader *x = userdata;
        _cleanup_(rpm_header_freep) RpmHeader *h = NULL;
        int r = rpm_header_parse_installed(blob, size, &h);
        if (r == -ENOMEM)
                return r;
        const char *name = r >= 0 ? rpm_header_get_string(h, RPMTAG_NAME) : NULL;
        const char *version = r >= 0 ? rpm_header_get_string(h, RPMTAG_VERSION) : NULL;
        const char *release = r >= 0 ? rpm_header_get_string(h, RPMTAG_RELEASE) : NULL;
        if (!name || !version || !release) {
                diag_warning(x->d, NULL, "rpm database: package %lld has a malformed header, skipped", (long long) hnum);
                return 0;
        }
        if (x->s->n_packages == x->allocated) {
                size_t a = x->allocated ? x->allocated * 2 : 64;
                SbomPackage *v = reallocarray(x->s->packages, a, sizeof(SbomPackage));
                if (!v)
                        return -ENOMEM;
                x->s->packages = v;
                x->allocated = a;
        }
        size_t index = x->s->n_packages++;
        SbomPackage *p = &x->s->packages[index];
        bool oom = false;
        *p = (SbomPackage) {};
        uint64_t epoch;
        if (rpm_header_get_number(h, RPMTAG_EPOCH, &epoch) >= 0) {
                p->has_epoch = true;
                p->epoch = (uint32_t) epoch;
        }
        p->name = strdup(name);
        p->version = strdup(version);
        p->release = strdup(release);
        p->arch = dup_tag(h, RPMTAG_ARCH, &oom);
        p->license = dup_tag(h, RPMTAG_LICENSE, &oom);
        p->vendor = dup_tag(h, RPMTAG_VENDOR, &oom);
        p->packager = dup_tag(h, RPMTAG_PACKAGER, &oom);
        p->url = dup_tag(h, RPMTAG_URL, &oom);
        p->summary = dup_tag(h, RPMTAG_SUMMARY, &oom);
        p->sourcerpm = dup_tag(h, RPMTAG_SOURCERPM, &oom);
        p->header_sha256 = dup_tag(h, TAG_SHA256HEADER, &oom);
        /* rpm prints an epoch when the header has one, 0 too; "without a 0
         * epoch" is how images' packages normally come (no Epoch tag). */
        if (p->has_epoch && p->epoch > 0) {
                if (asprintf(&p->evr, "%u:%s-%s", p->epoch, version, release) < 0)
                        p->evr = NULL;
        } else if (asprintf(&p->evr, "%s-%s", version, release) < 0)
                p->evr = NULL;
        if (p->evr && asprintf(&p->nevra, "%s-%s%s%s", name, p->evr, p->arch ? "." : "", p->arch ? p->arch : "") < 0)
                p->nevra = NULL;
        if (oom || !p->name || !p->version || !p->release || !p->evr || !p->nevra)
                return -ENOMEM;

        r = add_name(&x->provides, &x->n_provides, &x->allocated_provides, name, index);
        if (r < 0)
                return r;
        _cleanup_free_ const char **prov = NULL, **req = NULL;
        _cleanup_free_ uint32_t *flags = NULL;
        size_t n_prov = 0, n_req = 0, n_flags = 0;
        if (rpm_header_get_strings(h, RPMTAG_PROVIDENAME, &prov, &n_prov) == -ENOMEM)
                return -ENOMEM;
        for (size_t i = 0; i < n_prov; i++) {
                r = add_name(&x->provides, &x->n_provides, &x->allocated_provides, prov[i], index);
                if (r < 0)
                        return r;
        }
        if (rpm_header_get_strings(h, RPMTAG_REQUIRENAME, &req, &n_req) == -ENOMEM ||
            rpm_header_get_u32s(h, RPMTAG_REQUIREFLAGS, &flags, &n_flags) == -ENOMEM)
                return -ENOMEM;
        for (size_t i = 0; i < n_req; i++) {
                if ((i < n_flags && (flags[i] & RPMSENSE_RPMLIB)) || strncmp(req[i], "rpmlib(", 7) == 0)
                        continue;
                r = add_name(&x->requires, &x->n_requires, &x->allocated_requires, req[i], index);
                if (r < 0)
                        return r;
        }
        return read_files(x, h, p, index);
}

static int name_cmp(const void *a, const void *b) {
        const Name *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c ? c : (x->package > y->package) - (x->package < y->package);
}

static int size_cmp(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        return (x > y) - (x < y);
}

/* Each package's dependencies: the installed providers of what it requires. */
static int resolve(Reader *x) {
        Sbom *s = x->s;
        qsort(x->provides, x->n_provides, sizeof(Name), name_cmp);
        for (size_t i = 0; i < x->n_requires; i++) {
                const Name *q = &x->requires[i];
                /* The first provider of the name: a lower bound search. */
                size_t lo = 0, hi = x->n_provides;
                while (lo < hi) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (strcmp(x->provides[mid].name, q->name) < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                for (size_t k = lo; k < x->n_provides && strcmp(x->provides[k].name, q->name) == 0; k++) {
                        size_t to = x->provides[k].package;
                        SbomPackage *p = &s->packages[q->package];
                        if (to == q->package)
                                continue;
                        size_t *v = reallocarray(p->depends, p->n_depends + 1, sizeof(size_t));
                        if (!v)
                                return -ENOMEM;
                        p->depends = v;
                        p->depends[p->n_depends++] = to;
                }
        }
        return 0;
}

static int nevra_ptr_cmp(const void *a, const void *b) {
        const SbomPackage *x = *(const SbomPackage *const *) a, *y = *(const SbomPackage *const *) b;
        int c = strcmp(x->nevra, y->nevra);
        /* The same NEVRA twice (a broken database): keep database order. */
        return c ? c : (x > y) - (x < y);
}

static void reader_release(Reader *x) {
        for (size_t i = 0; i < x->n_provides; i++)
                free(x->provides[i].name);
        for (size_t i = 0; i < x->n_requires; i++)
                free(x->requires[i].name);
        free(x->provides);
        free(x->requires);
}

int sbom_from_rpmdb(void *data, size_t size, const SbomOptions *o, Sbom **ret, Diagnostics *d) {
        _cleanup_(sbom_freep) Sbom *s = new0(Sbom, 1);
        Reader x = { .s = s, .o = o, .d = d };
        int r;

        if (!s)
                return -ENOMEM;
        r = rpmdb_read_memory(data, size, add_package, &x, d);
        if (r >= 0)
                r = resolve(&x);
        reader_release(&x);
        if (r < 0)
                return r;

        /* Sorted by NEVRA; dependency indexes follow the packages. */
        size_t n = s->n_packages;
        _cleanup_free_ const SbomPackage **sorted = new0(const SbomPackage *, n ? n : 1);
        _cleanup_free_ size_t *where = new0(size_t, n ? n : 1);
        SbomPackage *v = new0(SbomPackage, n ? n : 1);
        if (!sorted || !where || !v) {
                free(v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                sorted[i] = &s->packages[i];
        qsort(sorted, n, sizeof(*sorted), nevra_ptr_cmp);
        for (size_t i = 0; i < n; i++) {
                where[sorted[i] - s->packages] = i;
                v[i] = *sorted[i];
        }
        free(s->packages);
        s->packages = v;
        for (size_t i = 0; i < n; i++) {
                SbomPackage *p = &s->packages[i];
                size_t k = 0;
                for (size_t j = 0; j < p->n_depends; j++)
                        p->depends[j] = where[p->depends[j]];
                if (p->n_depends > 0)
                        qsort(p->depends, p->n_depends, sizeof(size_t), size_cmp);
                for (size_t j = 0; j < p->n_depends; j++)
                        if (k == 0 || p->depends[k - 1] != p->depends[j])
                                p->depends[k++] = p->depends[j];
                p->n_depends = k;
                /* A build names a package with an epoch of 0 as rpm -q does: "0:". */
                _cleanup_free_ char *zero = NULL;
                if (p->has_epoch && p->epoch == 0 && o->n_fetched > 0 &&
                    asprintf(&zero, "%s-0:%s%s%s", p->name, p->evr, p->arch ? "." : "", p->arch ? p->arch : "") < 0)
                        return -ENOMEM;
                for (size_t j = 0; o->fetched && j < o->n_fetched && !p->fetched; j++)
                        if (strcmp(o->fetched[j].nevra, p->nevra) == 0 || (zero && strcmp(o->fetched[j].nevra, zero) == 0))
                                p->fetched = &o->fetched[j];
        }

        /* The package set's digest: each NEVRA and header digest, a line each. */
        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
        uint8_t md[HASH_MAX_SIZE];
        if (!h)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const SbomPackage *p = &s->packages[i];
                hash_update(h, p->nevra, strlen(p->nevra));
                hash_update(h, " ", 1);
                if (p->header_sha256)
                        hash_update(h, p->header_sha256, strlen(p->header_sha256));
                hash_update(h, "\n", 1);
        }
        r = hash_final(h, md);
        if (r < 0)
                return r;
        hex_encode(md, 32, s->digest);
        *ret = TAKE_PTR(s);
        return 0;
}

int sbom_spdx_from_rpmdb(void *data, size_t size, const SbomOptions *o, char **ret, size_t *ret_size,
                         Diagnostics *d) {
        _cleanup_(sbom_freep) Sbom *s = NULL;
        int r = sbom_from_rpmdb(data, size, o, &s, d);
        if (r < 0)
                return r;
        return sbom_write_spdx(s, o, ret, ret_size);
}
