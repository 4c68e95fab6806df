/* SPDX-License-Identifier: MIT */

/* The native RPM writer: a package from a list of files and its metadata,
 * without rpmbuild. The tag set follows what rpmbuild 4.18 writes for the same
 * content (checked in tests by comparing `rpm -qp --dump` and dependencies of
 * both), so rpm, dnf and createrepo_c treat the result like any package. */

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/strbuf.h"
#include "rpm/package.h"

#define RPM_ZSTD_LEVEL_DEFAULT 19

/* ---- dependencies ----------------------------------------------------------- */

void rpm_dep_release(RpmDep *d) {
        free(d->name);
        free(d->evr);
        *d = (RpmDep) {};
}

int rpm_dep_parse(const char *s, RpmDep *ret) {
        RpmDep d = {};

        while (isspace((unsigned char) *s))
                s++;
        if (!*s)
                return -EINVAL;
        if (*s == '(') {
                /* A rich dependency is stored whole as the name. */
                d.name = strdup(s);
                d.evr = strdup("");
                if (!d.name || !d.evr) {
                        rpm_dep_release(&d);
                        return -ENOMEM;
                }
                *ret = d;
                return 0;
        }
        size_t n = strcspn(s, " \t<>=");
        d.name = strndup_nul(s, n);
        if (!d.name)
                return -ENOMEM;
        s += n;
        s += strspn(s, " \t");
        while (*s == '<' || *s == '>' || *s == '=') {
                d.flags |= *s == '<' ? RPMSENSE_LESS : *s == '>' ? RPMSENSE_GREATER : RPMSENSE_EQUAL;
                s++;
        }
        s += strspn(s, " \t");
        size_t vl = strcspn(s, " \t");
        if ((d.flags && vl == 0) || (!d.flags && vl > 0) || s[vl + strspn(s + vl, " \t")]) {
                rpm_dep_release(&d);
                return -EINVAL;
        }
        d.evr = strndup_nul(s, vl);
        if (!d.evr) {
                rpm_dep_release(&d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

/* ---- the payload ---------------------------------------------------------- */

typedef struct Payload {
        StrBuf cpio;
} Payload;

static la_ssize_t payload_write(struct archive *a, void *userdata, const void *buf, size_t n) {
        Payload *p = userdata;
        if (strbuf_put(&p->cpio, buf, n) < 0) {
                archive_set_error(a, ENOMEM, "out of memory");
                return -1;
        }
        return (la_ssize_t) n;
}

static int file_cmp(const void *a, const void *b) {
        return strcmp(((const RpmFile *) a)->path, ((const RpmFile *) b)->path);
}

static void archive_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

static void entry_freep(struct archive_entry **e) {
        if (*e)
                archive_entry_free(*e);
}

/* Builds the cpio (newc) payload and fills each file's size and digest. The
 * names carry rpm's "./" prefix (rpmlib(PayloadFilesHavePrefix)). */
static int build_payload(RpmFile *files, size_t n, StrBuf *out, uint64_t *sizes, char (*digests)[65],
                         const char **ret_bad_file) {
        _cleanup_(archive_freep) struct archive *a = archive_write_new();
        Payload p = { .cpio = STRBUF_INIT };
        int r;

        if (!a)
                return -ENOMEM;
        if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK || archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
            archive_write_open(a, &p, NULL, payload_write, NULL) != ARCHIVE_OK)
                return -EIO;

        for (size_t i = 0; i < n; i++) {
                RpmFile *f = &files[i];
                _cleanup_(entry_freep) struct archive_entry *e = archive_entry_new();
                _cleanup_free_ char *name = NULL;
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                if (!e || asprintf(&name, ".%s", f->path) < 0) {
                        name = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
                archive_entry_set_pathname(e, name);
                archive_entry_set_mode(e, f->mode);
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                archive_entry_set_mtime(e, f->mtime, 0);
                archive_entry_set_ino(e, (la_int64_t) i + 1);
                archive_entry_set_dev(e, 0);
                archive_entry_set_nlink(e, S_ISDIR(f->mode) ? 2 : 1);
                archive_entry_set_size(e, 0); /* newc wants a size even where there is no data */
                digests[i][0] = 0;
                sizes[i] = 0;

                if (S_ISLNK(f->mode)) {
                        archive_entry_set_symlink(e, f->link_target);
                        sizes[i] = strlen(f->link_target);
                } else if (S_ISREG(f->mode)) {
                        fd = open(f->source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        if (fd < 0 || fstat(fd, &st) < 0) {
                                r = negative_errno();
                                *ret_bad_file = f->source;
                                goto fail;
                        }
                        sizes[i] = (uint64_t) st.st_size;
                        archive_entry_set_size(e, st.st_size);
                }
                if (archive_write_header(a, e) != ARCHIVE_OK) {
                        r = -EIO;
                        goto fail;
                }
                if (fd >= 0) {
                        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
                        uint8_t buf[65536], md[32];
                        uint64_t left = sizes[i];
                        if (!h) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        while (left > 0) {
                                ssize_t k = read(fd, buf, MIN(sizeof buf, left));
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0) {
                                        /* The file shrank or failed under us. */
                                        r = k < 0 ? negative_errno() : -EIO;
                                        *ret_bad_file = f->source;
                                        goto fail;
                                }
                                hash_update(h, buf, (size_t) k);
                                if (archive_write_data(a, buf, (size_t) k) != k) {
                                        r = -EIO;
                                        goto fail;
                                }
                                left -= (uint64_t) k;
                        }
                        r = hash_final(h, md);
                        if (r < 0)
                                goto fail;
                        hex_encode(md, 32, digests[i]);
                }
        }
        if (archive_write_close(a) != ARCHIVE_OK) {
                r = -EIO;
                goto fail;
        }
        if (p.cpio.oom) {
                r = -ENOMEM;
                goto fail;
        }
        *out = p.cpio;
        return 0;

fail:
        /* Freeing the archive may flush into the buffer: free it first. */
        archive_write_free(TAKE_PTR(a));
        strbuf_release(&p.cpio);
        return r;
}

/* ---- headers ---------------------------------------------------------------- */

char *rpm_package_filename(const char *name, const char *version, const char *release, const char *arch) {
        char *r;
        if (asprintf(&r, "%s-%s-%s.%s.rpm", name, version, release, arch) < 0)
                return NULL;
        return r;
}

static char *evr_string(const RpmPackageSpec *s) {
        char *r;
        int k = s->has_epoch ? asprintf(&r, "%u:%s-%s", s->epoch, s->version, s->release)
                             : asprintf(&r, "%s-%s", s->version, s->release);
        return k < 0 ? NULL : r;
}

typedef struct DepList {
        RpmDep *items;
        size_t n;
        size_t allocated;
} DepList;

static int deplist_add(DepList *l, const char *name, uint32_t flags, const char *evr) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->items[i].name, name) == 0 && l->items[i].flags == flags && strcmp(l->items[i].evr, evr) == 0)
                        return 0;
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1))
                return -ENOMEM;
        RpmDep d = { .name = strdup(name), .flags = flags, .evr = strdup(evr) };
        if (!d.name || !d.evr) {
                rpm_dep_release(&d);
                return -ENOMEM;
        }
        l->items[l->n++] = d;
        return 0;
}

static void deplist_release(DepList *l) {
        for (size_t i = 0; i < l->n; i++)
                rpm_dep_release(&l->items[i]);
        free(l->items);
        *l = (DepList) {};
}

static int dep_cmp(const void *a, const void *b) {
        const RpmDep *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c)
                return c;
        if (x->flags != y->flags)
                return x->flags < y->flags ? -1 : 1;
        return strcmp(x->evr, y->evr);
}

static int add_deps(RpmHeaderBuilder *b, DepList *l, uint32_t name_tag, uint32_t flags_tag, uint32_t version_tag) {
        if (l->n == 0)
                return 0;
        /* rpm keeps dependency sets sorted by name (rpmds). */
        qsort(l->items, l->n, sizeof(RpmDep), dep_cmp);
        const char **names = new0(const char *, l->n), **evrs = new0(const char *, l->n);
        uint32_t *flags = new0(uint32_t, l->n);
        if (!names || !evrs || !flags) {
                free(names);
                free(evrs);
                free(flags);
                return -ENOMEM;
        }
        for (size_t i = 0; i < l->n; i++) {
                names[i] = l->items[i].name;
                evrs[i] = l->items[i].evr;
                flags[i] = l->items[i].flags;
        }
        rpm_header_add_strings(b, name_tag, names, l->n);
        rpm_header_add_int32(b, flags_tag, flags, l->n);
        rpm_header_add_strings(b, version_tag, evrs, l->n);
        free(names);
        free(evrs);
        free(flags);
        return 0;
}

/* The x86-64 style ISA suffix rpmbuild gives arch-specific packages. */
static const char *isa_of(const char *arch) {
        static const struct {
                const char *arch, *isa;
        } t[] = {
                { "x86_64", "x86-64" }, { "aarch64", "aarch-64" }, { "ppc64le", "ppc-64" },
                { "s390x", "s390-64" }, { "riscv64", "riscv-64" }, { "i686", "x86-32" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (strcmp(t[i].arch, arch) == 0)
                        return t[i].isa;
        return NULL;
}

static uint16_t archnum_of(const char *arch) {
        /* rpmrc's arch_canon numbers; noarch packages carry the host's. */
        if (strcmp(arch, "aarch64") == 0)
                return 19;
        if (strcmp(arch, "ppc64le") == 0)
                return 16;
        if (strcmp(arch, "s390x") == 0)
                return 15;
        return 1;
}

static int add_dep_array(DepList *l, const RpmDep *d, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = deplist_add(l, d[i].name, d[i].flags, d[i].evr);
                if (r < 0)
                        return r;
        }
        return 0;
}

int rpm_package_write(RpmPackageSpec *s, const char *path, const char **ret_bad_file) {
        _cleanup_(rpm_header_builder_freep) RpmHeaderBuilder *b = NULL, *sb = NULL;
        _cleanup_strbuf_ StrBuf cpio = STRBUF_INIT;
        _cleanup_free_ uint64_t *sizes = NULL;
        _cleanup_free_ char(*digests)[65] = NULL;
        _cleanup_free_ char *evr = NULL, *srpm = NULL, *payload = NULL;
        _cleanup_free_ uint8_t *hdr = NULL, *sig = NULL;
        _cleanup_(deplist_release) DepList requires = {}, provides = {}, conflicts = {}, obsoletes = {};
        const char *bad = NULL;
        size_t hdr_size, sig_size;
        int r;

        if (!ret_bad_file)
                ret_bad_file = &bad;
        if (s->n_files > 0)
                qsort(s->files, s->n_files, sizeof(RpmFile), file_cmp);
        for (size_t i = 1; i < s->n_files; i++)
                if (strcmp(s->files[i - 1].path, s->files[i].path) == 0)
                        return -EEXIST;

        sizes = new0(uint64_t, s->n_files);
        digests = calloc(s->n_files ? s->n_files : 1, sizeof *digests);
        evr = evr_string(s);
        if (!sizes || !digests || !evr || asprintf(&srpm, "%s-%s-%s.src.rpm", s->name, s->version, s->release) < 0)
                return -ENOMEM;

        r = build_payload(s->files, s->n_files, &cpio, sizes, digests, ret_bad_file);
        if (r < 0)
                return r;

        /* Compress: one shot, single-threaded, so the bytes never vary. */
        int level = s->zstd_level > 0 ? s->zstd_level : RPM_ZSTD_LEVEL_DEFAULT;
        size_t bound = ZSTD_compressBound(cpio.len);
        payload = malloc(bound ? bound : 1);
        if (!payload)
                return -ENOMEM;
        size_t payload_size = ZSTD_compress(payload, bound, cpio.buf ? cpio.buf : "", cpio.len, level);
        if (ZSTD_isError(payload_size))
                return -EIO;

        uint8_t md[32];
        char payload_hex[65], payload_alt_hex[65];
        hash_buffer(HASH_SHA256, payload, payload_size, md);
        hex_encode(md, 32, payload_hex);
        hash_buffer(HASH_SHA256, cpio.buf ? cpio.buf : "", cpio.len, md);
        hex_encode(md, 32, payload_alt_hex);

        /* Dependencies: the user's, the package itself, rpmlib() features. */
        bool has_config = false, large = false, rich = false;
        uint64_t total = 0;
        for (size_t i = 0; i < s->n_files; i++) {
                has_config |= (s->files[i].flags & RPMFILE_CONFIG) != 0;
                large |= sizes[i] > UINT32_MAX;
                total += sizes[i];
        }
        r = add_dep_array(&requires, s->requires, s->n_requires);
        if (r >= 0)
                r = add_dep_array(&provides, s->provides, s->n_provides);
        if (r >= 0)
                r = add_dep_array(&conflicts, s->conflicts, s->n_conflicts);
        if (r >= 0)
                r = add_dep_array(&obsoletes, s->obsoletes, s->n_obsoletes);
        if (r < 0)
                return r;
        for (size_t i = 0; i < requires.n; i++)
                rich |= requires.items[i].name[0] == '(';
        for (size_t i = 0; i < conflicts.n; i++)
                rich |= conflicts.items[i].name[0] == '(';

        r = deplist_add(&provides, s->name, RPMSENSE_EQUAL, evr);
        if (r >= 0 && strcmp(s->arch, "noarch") != 0 && isa_of(s->arch)) {
                _cleanup_free_ char *isa = NULL;
                if (asprintf(&isa, "%s(%s)", s->name, isa_of(s->arch)) < 0)
                        return -ENOMEM;
                r = deplist_add(&provides, isa, RPMSENSE_EQUAL, evr);
        }
        if (r >= 0 && has_config) {
                /* rpmbuild ties %config files to the package's exact version. */
                _cleanup_free_ char *cfg = NULL;
                if (asprintf(&cfg, "config(%s)", s->name) < 0)
                        return -ENOMEM;
                r = deplist_add(&provides, cfg, RPMSENSE_EQUAL | RPMSENSE_CONFIG, evr);
                if (r >= 0)
                        r = deplist_add(&requires, cfg, RPMSENSE_EQUAL | RPMSENSE_CONFIG, evr);
        }
        const uint32_t lib = RPMSENSE_RPMLIB | RPMSENSE_LESS | RPMSENSE_EQUAL;
        if (r >= 0 && s->n_files > 0) {
                r = deplist_add(&requires, "rpmlib(CompressedFileNames)", lib, "3.0.4-1");
                if (r >= 0)
                        r = deplist_add(&requires, "rpmlib(FileDigests)", lib, "4.6.0-1");
        }
        if (r >= 0)
                r = deplist_add(&requires, "rpmlib(PayloadFilesHavePrefix)", lib, "4.0-1");
        if (r >= 0)
                r = deplist_add(&requires, "rpmlib(PayloadIsZstd)", lib, "5.4.18-1");
        if (r >= 0 && large)
                r = deplist_add(&requires, "rpmlib(LargeFiles)", lib, "4.12.0-1");
        if (r >= 0 && rich)
                r = deplist_add(&requires, "rpmlib(RichDependencies)", lib, "4.12.0-1");
        if (r < 0)
                return r;

        b = rpm_header_builder_new();
        if (!b)
                return -ENOMEM;
        static const char *const c_locale[] = { "C" };
        rpm_header_add_strings(b, RPMTAG_HEADERI18NTABLE, c_locale, 1);
        rpm_header_add_string(b, RPMTAG_NAME, s->name);
        rpm_header_add_string(b, RPMTAG_VERSION, s->version);
        rpm_header_add_string(b, RPMTAG_RELEASE, s->release);
        if (s->has_epoch)
                rpm_header_add_u32(b, RPMTAG_EPOCH, s->epoch);
        rpm_header_add_i18n(b, RPMTAG_SUMMARY, s->summary);
        rpm_header_add_i18n(b, RPMTAG_DESCRIPTION, s->description);
        rpm_header_add_u32(b, RPMTAG_BUILDTIME, s->buildtime);
        rpm_header_add_string(b, RPMTAG_BUILDHOST, s->buildhost);
        if (total > UINT32_MAX) {
                rpm_header_add_int64(b, RPMTAG_LONGSIZE, &total, 1);
        } else
                rpm_header_add_u32(b, RPMTAG_SIZE, (uint32_t) total);
        if (s->vendor)
                rpm_header_add_string(b, RPMTAG_VENDOR, s->vendor);
        rpm_header_add_string(b, RPMTAG_LICENSE, s->license);
        rpm_header_add_i18n(b, RPMTAG_GROUP, "Unspecified");
        if (s->url)
                rpm_header_add_string(b, RPMTAG_URL, s->url);
        rpm_header_add_string(b, RPMTAG_OS, "linux");
        rpm_header_add_string(b, RPMTAG_ARCH, s->arch);
        /* Its presence marks a binary package (rpm's headerIsSource()). */
        rpm_header_add_string(b, RPMTAG_SOURCERPM, srpm);

        if (s->n_files > 0) {
                size_t n = s->n_files;
                _cleanup_free_ uint32_t *u32 = new0(uint32_t, n), *dirindexes = new0(uint32_t, n);
                _cleanup_free_ uint16_t *u16 = new0(uint16_t, n);
                _cleanup_free_ const char **strs = new0(const char *, n), **basenames = new0(const char *, n),
                                          **dirnames = new0(const char *, n);
                _cleanup_free_ char **dirbufs = new0(char *, n);
                size_t ndirs = 0;
                if (!u32 || !dirindexes || !u16 || !strs || !basenames || !dirnames || !dirbufs)
                        return -ENOMEM;

                if (large) {
                        rpm_header_add_int64(b, RPMTAG_LONGFILESIZES, sizes, n);
                } else {
                        for (size_t i = 0; i < n; i++)
                                u32[i] = (uint32_t) sizes[i];
                        rpm_header_add_int32(b, RPMTAG_FILESIZES, u32, n);
                }
                for (size_t i = 0; i < n; i++)
                        u16[i] = (uint16_t) s->files[i].mode;
                rpm_header_add_int16(b, RPMTAG_FILEMODES, u16, n);
                memset(u16, 0, n * sizeof *u16);
                rpm_header_add_int16(b, RPMTAG_FILERDEVS, u16, n);
                for (size_t i = 0; i < n; i++)
                        u32[i] = s->files[i].mtime;
                rpm_header_add_int32(b, RPMTAG_FILEMTIMES, u32, n);
                for (size_t i = 0; i < n; i++)
                        strs[i] = digests[i];
                rpm_header_add_strings(b, RPMTAG_FILEDIGESTS, strs, n);
                for (size_t i = 0; i < n; i++)
                        strs[i] = s->files[i].link_target ? s->files[i].link_target : "";
                rpm_header_add_strings(b, RPMTAG_FILELINKTOS, strs, n);
                for (size_t i = 0; i < n; i++)
                        u32[i] = s->files[i].flags;
                rpm_header_add_int32(b, RPMTAG_FILEFLAGS, u32, n);
                for (size_t i = 0; i < n; i++)
                        strs[i] = s->files[i].user;
                rpm_header_add_strings(b, RPMTAG_FILEUSERNAME, strs, n);
                for (size_t i = 0; i < n; i++)
                        strs[i] = s->files[i].group;
                rpm_header_add_strings(b, RPMTAG_FILEGROUPNAME, strs, n);
                for (size_t i = 0; i < n; i++)
                        u32[i] = UINT32_MAX;
                rpm_header_add_int32(b, RPMTAG_FILEVERIFYFLAGS, u32, n);
                for (size_t i = 0; i < n; i++)
                        u32[i] = 1;
                rpm_header_add_int32(b, RPMTAG_FILEDEVICES, u32, n);
                for (size_t i = 0; i < n; i++)
                        u32[i] = (uint32_t) i + 1;
                rpm_header_add_int32(b, RPMTAG_FILEINODES, u32, n);
                for (size_t i = 0; i < n; i++)
                        strs[i] = "";
                rpm_header_add_strings(b, RPMTAG_FILELANGS, strs, n);

                /* Compressed file names: directory list in order of first use. */
                for (size_t i = 0; i < n; i++) {
                        const char *p = s->files[i].path, *slash = strrchr(p, '/');
                        size_t dl = (size_t) (slash - p) + 1;
                        size_t k;
                        for (k = 0; k < ndirs; k++)
                                if (strlen(dirnames[k]) == dl && strncmp(dirnames[k], p, dl) == 0)
                                        break;
                        if (k == ndirs) {
                                dirbufs[ndirs] = strndup_nul(p, dl);
                                if (!dirbufs[ndirs]) {
                                        for (size_t j = 0; j < ndirs; j++)
                                                free(dirbufs[j]);
                                        return -ENOMEM;
                                }
                                dirnames[ndirs] = dirbufs[ndirs];
                                ndirs++;
                        }
                        dirindexes[i] = (uint32_t) k;
                        basenames[i] = slash + 1;
                }
                rpm_header_add_int32(b, RPMTAG_DIRINDEXES, dirindexes, n);
                rpm_header_add_strings(b, RPMTAG_BASENAMES, basenames, n);
                rpm_header_add_strings(b, RPMTAG_DIRNAMES, dirnames, ndirs);
                for (size_t j = 0; j < ndirs; j++)
                        free(dirbufs[j]);
                rpm_header_add_u32(b, RPMTAG_FILEDIGESTALGO, PGPHASHALGO_SHA256);
        }

        r = add_deps(b, &provides, RPMTAG_PROVIDENAME, RPMTAG_PROVIDEFLAGS, RPMTAG_PROVIDEVERSION);
        if (r >= 0)
                r = add_deps(b, &requires, RPMTAG_REQUIRENAME, RPMTAG_REQUIREFLAGS, RPMTAG_REQUIREVERSION);
        if (r >= 0)
                r = add_deps(b, &conflicts, RPMTAG_CONFLICTNAME, RPMTAG_CONFLICTFLAGS, RPMTAG_CONFLICTVERSION);
        if (r >= 0)
                r = add_deps(b, &obsoletes, RPMTAG_OBSOLETENAME, RPMTAG_OBSOLETEFLAGS, RPMTAG_OBSOLETEVERSION);
        if (r < 0)
                return r;

        rpm_header_add_string(b, RPMTAG_PAYLOADFORMAT, "cpio");
        rpm_header_add_string(b, RPMTAG_PAYLOADCOMPRESSOR, "zstd");
        char lvl[16];
        snprintf(lvl, sizeof lvl, "%d", level);
        rpm_header_add_string(b, RPMTAG_PAYLOADFLAGS, lvl);
        rpm_header_add_string(b, RPMTAG_ENCODING, "utf-8");
        const char *pd[] = { payload_hex }, *pda[] = { payload_alt_hex };
        rpm_header_add_strings(b, RPMTAG_PAYLOADDIGEST, pd, 1);
        rpm_header_add_u32(b, RPMTAG_PAYLOADDIGESTALGO, PGPHASHALGO_SHA256);
        rpm_header_add_strings(b, RPMTAG_PAYLOADDIGESTALT, pda, 1);

        r = rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &hdr, &hdr_size);
        if (r < 0)
                return r;

        /* The signature header: digests over the main header (and payload). */
        char sha1_hex[41], sha256_hex[65];
        uint8_t md5[16];
        hash_buffer(HASH_SHA1, hdr, hdr_size, md);
        hex_encode(md, 20, sha1_hex);
        hash_buffer(HASH_SHA256, hdr, hdr_size, md);
        hex_encode(md, 32, sha256_hex);
        {
                _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_MD5);
                if (!h)
                        return -ENOMEM;
                hash_update(h, hdr, hdr_size);
                hash_update(h, payload, payload_size);
                r = hash_final(h, md5);
                if (r < 0)
                        return r;
        }
        sb = rpm_header_builder_new();
        if (!sb)
                return -ENOMEM;
        rpm_header_add_string(sb, RPMSIGTAG_SHA1, sha1_hex);
        rpm_header_add_string(sb, RPMSIGTAG_SHA256, sha256_hex);
        uint64_t both = hdr_size + payload_size;
        if (both > UINT32_MAX || cpio.len > UINT32_MAX) {
                uint64_t cl = cpio.len;
                rpm_header_add_int64(sb, RPMSIGTAG_LONGSIZE, &both, 1);
                rpm_header_add_int64(sb, RPMSIGTAG_LONGARCHIVESIZE, &cl, 1);
        } else {
                rpm_header_add_u32(sb, RPMSIGTAG_SIZE, (uint32_t) both);
                rpm_header_add_u32(sb, RPMSIGTAG_PAYLOADSIZE, (uint32_t) cpio.len);
        }
        rpm_header_add_bin(sb, RPMSIGTAG_MD5, md5, 16);
        r = rpm_header_build(sb, RPMTAG_HEADERSIGNATURES, &sig, &sig_size);
        if (r < 0)
                return r;

        /* Lead + signature (padded to 8 bytes) + header + payload. */
        RpmLead lead = {
                .magic = { 0xED, 0xAB, 0xEE, 0xDB },
                .major = 3,
                .minor = 0,
                .type = htobe16(0),
                .archnum = htobe16(archnum_of(s->arch)),
                .osnum = htobe16(1),
                .signature_type = htobe16(5),
        };
        snprintf(lead.name, sizeof lead.name, "%s-%s-%s", s->name, s->version, s->release);

        size_t pad = (8 - sig_size % 8) % 8;
        _cleanup_strbuf_ StrBuf file = STRBUF_INIT;
        static const uint8_t zeros[8];
        strbuf_put(&file, &lead, sizeof lead);
        strbuf_put(&file, sig, sig_size);
        strbuf_put(&file, zeros, pad);
        strbuf_put(&file, hdr, hdr_size);
        strbuf_put(&file, payload, payload_size);
        if (file.oom)
                return -ENOMEM;
        return write_file_atomic(path, file.buf, file.len, 0644);
}
