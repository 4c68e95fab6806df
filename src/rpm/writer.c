/* SPDX-License-Identifier: MIT */

/* The native RPM writer: a package from a list of files and its metadata,
 * without rpmbuild. The tag set follows what rpmbuild 4.18 writes for the same
 * content (checked in tests by comparing `rpm -qp --dump` and dependencies of
 * both), so rpm, dnf and createrepo_c treat the result like any package. */

#include <ctype.h>
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "rpm/package.h"

/* Reads of input files and of the payload file: bounded, whatever their size. */
#define PAYLOAD_READ_SIZE ((size_t) 1 << 20)

/* ---- dependencies ----------------------------------------------------------- */

void rpm_dep_release(RpmDep *d) {
        free(d->name);
        free(d->evr);
        *d = (RpmDep) {};
}

/* ---- the payload codec ------------------------------------------------------ */

static const struct {
        const char *suffix; /* rpmio's name */
        const char *compressor; /* RPMTAG_PAYLOADCOMPRESSOR; NULL: no tag */
        int min_level, max_level;
} payload_codecs[_COMPRESS_CODEC_MAX] = {
        /* zstd 20-22 ("ultra") need windows of up to 128 MiB per worker. */
        [COMPRESS_ZSTD] = { "zstdio", "zstd", 1, 19 },
        [COMPRESS_GZIP] = { "gzdio", "gzip", 1, 9 },
        [COMPRESS_XZ] = { "xzdio", "xz", 0, 9 },
        [COMPRESS_NONE] = { "ufdio", NULL, 0, 0 },
};

/* Parses "wLEVEL.SUFFIX" ("w.ufdio" has no level). */
static const char *payload_parse(const char *s, RpmPayload *ret) {
        static const char *const syntax =
                "rpm's %_binary_payload syntax: \"w19.zstdio\", \"w9.gzdio\", \"w6.xzdio\" or \"w.ufdio\"";
        const char *dot = s ? strchr(s, '.') : NULL;
        if (!s || s[0] != 'w' || !dot)
                return syntax;
        CompressCodec c = _COMPRESS_CODEC_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(payload_codecs); i++)
                if (strcmp(dot + 1, payload_codecs[i].suffix) == 0)
                        c = (CompressCodec) i;
        if (c < 0)
                return "zstdio, gzdio, xzdio or ufdio (none) after the '.'";
        const char *digits = s + 1;
        size_t nd = (size_t) (dot - digits);
        if (strspn(digits, "0123456789") < nd)
                return "a level without rpm's thread suffix: slipway compresses on every core, and the bytes do "
                       "not depend on how many";
        if (c == COMPRESS_NONE) {
                if (nd > 0)
                        return "\"w.ufdio\": an uncompressed payload has no level";
                *ret = (RpmPayload) { .codec = c };
                return NULL;
        }
        if (nd == 0 || nd > 2)
                return nd == 0 ? "a level after the 'w', as in \"w19.zstdio\"" : "a level of one or two digits";
        int level = atoi(digits);
        if (level < payload_codecs[c].min_level || level > payload_codecs[c].max_level)
                return c == COMPRESS_ZSTD ? "a zstd level from 1 to 19"
                       : c == COMPRESS_GZIP ? "a gzip level from 1 to 9"
                                            : "an xz level from 0 to 9";
        *ret = (RpmPayload) { .codec = c, .level = level };
        return NULL;
}

const char *rpm_payload_check(const char *s) {
        RpmPayload p;
        return payload_parse(s, &p);
}

int rpm_payload_parse(const char *s, RpmPayload *ret) {
        RpmPayload p;
        if (payload_parse(s ? s : RPM_PAYLOAD_DEFAULT, &p))
                return -EINVAL;
        *ret = p;
        return 0;
}

/* ---- the payload ---------------------------------------------------------- */

/* The payload is a cpio archive in the "new ASCII" (newc) format (cpio(5),
 * LSB "Payload Format"), made here as it is compressed: a 110-byte header of
 * hexadecimal fields per entry, the name with its NUL, padding to 4 bytes,
 * the data, padding to 4 bytes; a TRAILER!!! entry ends it. Names carry
 * rpm's "./" prefix (rpmlib(PayloadFilesHavePrefix)). */
#define CPIO_HEADER 110
#define CPIO_TRAILER "TRAILER!!!"

static uint64_t pad4(uint64_t n) {
        return (4 - n % 4) % 4;
}

static uint64_t cpio_entry_size(size_t name_len, uint64_t data) {
        uint64_t h = CPIO_HEADER + name_len + 1;
        return h + pad4(h) + data + pad4(data);
}

typedef struct PayloadOut {
        int fd;            /* the compressed payload's temporary file */
        HashCtx *sha256;   /* of the compressed payload */
        uint64_t size;     /* compressed bytes */
} PayloadOut;

static int payload_out(void *userdata, const void *data, size_t n) {
        PayloadOut *o = userdata;
        hash_update(o->sha256, data, n);
        o->size += n;
        return loop_write(o->fd, data, n);
}

typedef struct Payload {
        CompressStream *z;
        HashCtx *sha256; /* of the cpio archive (PAYLOADDIGESTALT) */
        uint64_t size;   /* cpio bytes */
} Payload;

static int payload_put(Payload *p, const void *data, size_t n) {
        hash_update(p->sha256, data, n);
        p->size += n;
        return compress_stream_write(p->z, data, n);
}

static int cpio_header(Payload *p, const char *name, uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t mtime,
                       uint32_t size) {
        char h[CPIO_HEADER + 1];
        static const uint8_t zeros[4];
        size_t nl = strlen(name) + 1;
        /* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
         * devminor, rdevmajor, rdevminor, namesize, check */
        snprintf(h, sizeof h, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", ino, mode, 0u, 0u, nlink,
                 mtime, size, 0u, 0u, 0u, 0u, (uint32_t) nl, 0u);
        int r = payload_put(p, h, CPIO_HEADER);
        if (r >= 0)
                r = payload_put(p, name, nl);
        if (r >= 0)
                r = payload_put(p, zeros, pad4(CPIO_HEADER + nl));
        return r;
}

static int file_cmp(const void *a, const void *b) {
        return strcmp(((const RpmFile *) a)->path, ((const RpmFile *) b)->path);
}

/* The exact size of the cpio archive build_payload() makes, from the file
 * list and the sizes found (for zstd's pledged size). */
static uint64_t cpio_size(const RpmFile *files, size_t n, const uint64_t *sizes) {
        uint64_t total = cpio_entry_size(strlen(CPIO_TRAILER), 0);
        for (size_t i = 0; i < n; i++)
                total += cpio_entry_size(1 + strlen(files[i].path), S_ISDIR(files[i].mode) ? 0 : sizes[i]);
        return total;
}

/* Finds each regular file's size (the header needs them all, and zstd the
 * archive's size, before any data). */
static int stat_files(const RpmFile *files, size_t n, uint64_t *sizes, const char **ret_bad_file) {
        for (size_t i = 0; i < n; i++) {
                const RpmFile *f = &files[i];
                struct stat st;
                sizes[i] = 0;
                if (S_ISLNK(f->mode))
                        sizes[i] = strlen(f->link_target);
                else if (S_ISREG(f->mode)) {
                        if (stat(f->source, &st) < 0) {
                                *ret_bad_file = f->source;
                                return negative_errno();
                        }
                        if (!S_ISREG(st.st_mode)) {
                                *ret_bad_file = f->source;
                                return -EINVAL;
                        }
                        sizes[i] = (uint64_t) st.st_size;
                }
                /* newc has 32-bit sizes (rpm's large-file payload format is not written). */
                if (sizes[i] > UINT32_MAX) {
                        *ret_bad_file = f->source;
                        return -EFBIG;
                }
        }
        return 0;
}

/* Streams the cpio archive through the compressor, reading each file in
 * bounded pieces, and fills each regular file's digest. A file whose size
 * changed since stat_files() fails (the header already counts on it). */
static int build_payload(const RpmFile *files, size_t n, const uint64_t *sizes, char (*digests)[65], Payload *p,
                         const char **ret_bad_file) {
        _cleanup_free_ uint8_t *buf = malloc(PAYLOAD_READ_SIZE);
        int r;

        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const RpmFile *f = &files[i];
                _cleanup_free_ char *name = NULL;
                _cleanup_close_ int fd = -EBADF;
                uint64_t data = S_ISDIR(f->mode) ? 0 : sizes[i];
                struct stat st;

                digests[i][0] = 0;
                if (asprintf(&name, ".%s", f->path) < 0) {
                        name = NULL;
                        return -ENOMEM;
                }
                if (S_ISREG(f->mode)) {
                        fd = open(f->source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t) st.st_size != sizes[i]) {
                                *ret_bad_file = f->source;
                                return fd < 0 ? negative_errno() : -EIO;
                        }
                        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
                }
                r = cpio_header(p, name, (uint32_t) i + 1, f->mode, S_ISDIR(f->mode) ? 2 : 1, f->mtime, (uint32_t) data);
                if (r < 0)
                        return r;
                if (S_ISLNK(f->mode))
                        r = payload_put(p, f->link_target, data);
                else if (fd >= 0) {
                        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
                        uint8_t md[32];
                        uint64_t left = data;
                        if (!h)
                                return -ENOMEM;
                        while (left > 0) {
                                ssize_t k = read(fd, buf, (size_t) MIN((uint64_t) PAYLOAD_READ_SIZE, left));
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0) {
                                        /* The file shrank or failed under us. */
                                        *ret_bad_file = f->source;
                                        return k < 0 ? negative_errno() : -EIO;
                                }
                                hash_update(h, buf, (size_t) k);
                                r = payload_put(p, buf, (size_t) k);
                                if (r < 0)
                                        return r;
                                left -= (uint64_t) k;
                        }
                        r = hash_final(h, md);
                        if (r >= 0)
                                hex_encode(md, 32, digests[i]);
                }
                if (r >= 0) {
                        static const uint8_t zeros[4];
                        r = payload_put(p, zeros, pad4(data));
                }
                if (r < 0)
                        return r;
        }
        r = cpio_header(p, CPIO_TRAILER, 0, 0, 1, 0, 0);
        return r;
}

/* An unnamed temporary file in dir, for the compressed payload. */
static int payload_tmpfile(const char *path) {
        _cleanup_free_ char *dir = path_dirname(path);
        if (!dir)
                return -ENOMEM;
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
                return fd >= 0 ? fd : negative_errno();
        /* File systems without O_TMPFILE: a named one, removed at once. */
        _cleanup_free_ char *tmp = NULL;
        fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        (void) unlink(tmp);
        run_untrack(tmp);
        return fd;
}

/* Copies len bytes of in from offset 0 to the end of out, in the kernel
 * where it can. */
static int copy_payload(int in, int out, uint64_t len) {
        loff_t off = 0;
        while (len > 0) {
                ssize_t k = copy_file_range(in, &off, out, NULL, (size_t) MIN(len, (uint64_t) 1 << 30), 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
                        break;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return -EIO;
                len -= (uint64_t) k;
        }
        _cleanup_free_ uint8_t *buf = len > 0 ? malloc(PAYLOAD_READ_SIZE) : NULL;
        if (len > 0 && !buf)
                return -ENOMEM;
        while (len > 0) {
                ssize_t k = pread(in, buf, (size_t) MIN(len, (uint64_t) PAYLOAD_READ_SIZE), off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? negative_errno() : -EIO;
                int r = loop_write(out, buf, (size_t) k);
                if (r < 0)
                        return r;
                off += k;
                len -= (uint64_t) k;
        }
        return 0;
}

/* Adds the first len bytes of fd to h. */
static int hash_fd(HashCtx *h, int fd, uint64_t len) {
        _cleanup_free_ uint8_t *buf = malloc(PAYLOAD_READ_SIZE);
        uint64_t off = 0;
        if (!buf)
                return -ENOMEM;
        while (off < len) {
                ssize_t k = pread(fd, buf, (size_t) MIN(len - off, (uint64_t) PAYLOAD_READ_SIZE), (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? negative_errno() : -EIO;
                hash_update(h, buf, (size_t) k);
                off += (uint64_t) k;
        }
        return 0;
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

/* rpm's tags for each scriptlet and the RPMSENSE_SCRIPT_* bit of its
 * interpreter's requirement (rpmtag.h, rpmds.h). */
static const struct {
        uint32_t body_tag, prog_tag, sense;
} script_slots[_RPM_SCRIPT_SLOT_MAX] = {
        [RPM_SCRIPT_PRETRANS] = { RPMTAG_PRETRANS, RPMTAG_PRETRANSPROG, RPMSENSE_PRETRANS },
        [RPM_SCRIPT_PRE] = { RPMTAG_PREIN, RPMTAG_PREINPROG, RPMSENSE_SCRIPT_PRE },
        [RPM_SCRIPT_POST] = { RPMTAG_POSTIN, RPMTAG_POSTINPROG, RPMSENSE_SCRIPT_POST },
        [RPM_SCRIPT_PREUN] = { RPMTAG_PREUN, RPMTAG_PREUNPROG, RPMSENSE_SCRIPT_PREUN },
        [RPM_SCRIPT_POSTUN] = { RPMTAG_POSTUN, RPMTAG_POSTUNPROG, RPMSENSE_SCRIPT_POSTUN },
        [RPM_SCRIPT_POSTTRANS] = { RPMTAG_POSTTRANS, RPMTAG_POSTTRANSPROG, RPMSENSE_POSTTRANS },
};

/* The tags of one kind of file trigger (rpmtag.h). */
typedef struct FileTriggerTags {
        uint32_t scripts, prog, name, index, version, flags, priorities;
} FileTriggerTags;
static const FileTriggerTags file_trigger_tags[2] = {
        [false] = { RPMTAG_FILETRIGGERSCRIPTS, RPMTAG_FILETRIGGERSCRIPTPROG, RPMTAG_FILETRIGGERNAME,
                    RPMTAG_FILETRIGGERINDEX, RPMTAG_FILETRIGGERVERSION, RPMTAG_FILETRIGGERFLAGS,
                    RPMTAG_FILETRIGGERPRIORITIES },
        [true] = { RPMTAG_TRANSFILETRIGGERSCRIPTS, RPMTAG_TRANSFILETRIGGERSCRIPTPROG, RPMTAG_TRANSFILETRIGGERNAME,
                   RPMTAG_TRANSFILETRIGGERINDEX, RPMTAG_TRANSFILETRIGGERVERSION, RPMTAG_TRANSFILETRIGGERFLAGS,
                   RPMTAG_TRANSFILETRIGGERPRIORITIES },
};

typedef struct TriggerCond {
        const char *name;
        uint32_t flags, index;
} TriggerCond;

/* rpmds's order (lib/rpmds.c doFind()): name, version (always "" here),
 * flags, then index. */
static int trigger_cond_cmp(const void *a, const void *b) {
        const TriggerCond *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c)
                return c;
        if (x->flags != y->flags)
                return x->flags < y->flags ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

static bool file_trigger_valid(const RpmFileTrigger *t) {
        return (t->sense == RPMSENSE_TRIGGERIN || t->sense == RPMSENSE_TRIGGERUN || t->sense == RPMSENSE_TRIGGERPOSTUN) &&
               t->n_paths > 0 && t->paths && t->program && (t->program[0] == '/' || strcmp(t->program, "<lua>") == 0);
}

/* The file triggers of one kind as rpmbuild writes them. Per trigger, in
 * the order given (build/pack.c processScriptFiles()): SCRIPTPROG, the
 * PRIORITIES, and SCRIPTS ("" for "-p PROGRAM" alone); SCRIPTFLAGS only if
 * a trigger has flags (-e, -q), which these never have. Per path, the
 * trigger's conditions as a dependency set (build/parseReqs.c parseRCPOT()
 * with build/reqprov.c addReqProv()): NAME, VERSION (""), FLAGS (the
 * RPMSENSE_TRIGGER* bit alone) and INDEX (the trigger's place), sorted and
 * without duplicates as rpmdsMerge() keeps them. */
static int add_file_triggers(RpmHeaderBuilder *b, const RpmFileTrigger *t, size_t n, bool trans) {
        size_t n_kind = 0, n_conds = 0;
        for (size_t i = 0; i < n; i++)
                if (t[i].trans == trans) {
                        n_kind++;
                        n_conds += t[i].n_paths;
                }
        if (n_kind == 0)
                return 0;

        _cleanup_free_ const char **progs = new0(const char *, n_kind), **scripts = new0(const char *, n_kind),
                                  **names = new0(const char *, n_conds), **versions = new0(const char *, n_conds);
        _cleanup_free_ uint32_t *priorities = new0(uint32_t, n_kind), *flags = new0(uint32_t, n_conds),
                                *index = new0(uint32_t, n_conds);
        _cleanup_free_ TriggerCond *conds = new0(TriggerCond, n_conds);
        if (!progs || !scripts || !names || !versions || !priorities || !flags || !index || !conds)
                return -ENOMEM;

        size_t k = 0, c = 0;
        for (size_t i = 0; i < n; i++) {
                if (t[i].trans != trans)
                        continue;
                progs[k] = t[i].program;
                scripts[k] = t[i].body ? t[i].body : "";
                priorities[k] = t[i].priority;
                for (size_t p = 0; p < t[i].n_paths; p++)
                        conds[c++] = (TriggerCond) { t[i].paths[p], t[i].sense, (uint32_t) k };
                k++;
        }
        qsort(conds, n_conds, sizeof *conds, trigger_cond_cmp);
        size_t m = 0;
        for (size_t i = 0; i < n_conds; i++) {
                if (m > 0 && trigger_cond_cmp(&conds[m - 1], &conds[i]) == 0)
                        continue;
                conds[m++] = conds[i];
        }
        for (size_t i = 0; i < m; i++) {
                names[i] = conds[i].name;
                versions[i] = "";
                flags[i] = conds[i].flags;
                index[i] = conds[i].index;
        }

        const FileTriggerTags *tags = &file_trigger_tags[trans];
        rpm_header_add_strings(b, tags->scripts, scripts, n_kind);
        rpm_header_add_strings(b, tags->prog, progs, n_kind);
        rpm_header_add_int32(b, tags->priorities, priorities, n_kind);
        rpm_header_add_strings(b, tags->name, names, m);
        rpm_header_add_strings(b, tags->version, versions, m);
        rpm_header_add_int32(b, tags->flags, flags, m);
        rpm_header_add_int32(b, tags->index, index, m);
        return 0;
}

int rpm_package_write(RpmPackageSpec *s, const char *path, const char **ret_bad_file) {
        _cleanup_(rpm_header_builder_freep) RpmHeaderBuilder *b = NULL, *sb = NULL;
        _cleanup_free_ uint64_t *sizes = NULL;
        _cleanup_free_ char(*digests)[65] = NULL;
        _cleanup_free_ char *evr = NULL, *srpm = NULL;
        _cleanup_free_ uint8_t *hdr = NULL, *sig = NULL;
        _cleanup_(deplist_release) DepList requires = {}, provides = {}, conflicts = {}, obsoletes = {};
        _cleanup_close_ int payload_fd = -EBADF;
        const char *bad = NULL;
        size_t hdr_size, sig_size;
        int r;

        if (!ret_bad_file)
                ret_bad_file = &bad;
        RpmPayload codec = s->payload;
        if (codec.codec < 0 || codec.codec >= _COMPRESS_CODEC_MAX)
                return -EINVAL;
        if (codec.codec == COMPRESS_ZSTD && codec.level == 0)
                codec.level = 19;
        for (size_t i = 0; i < s->n_file_triggers; i++)
                if (!file_trigger_valid(&s->file_triggers[i]))
                        return -EINVAL;
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

        /* The payload goes through the compressor into a temporary file: the
         * header before it records the payload's digests and the files'
         * digests, so it can only be made afterwards. Memory stays at the
         * compressor's, whatever the size of the files. */
        r = stat_files(s->files, s->n_files, sizes, ret_bad_file);
        if (r < 0)
                return r;
        payload_fd = payload_tmpfile(path);
        if (payload_fd < 0)
                return payload_fd;
        _cleanup_(hash_freep) HashCtx *zsha = hash_new(HASH_SHA256), *csha = hash_new(HASH_SHA256);
        if (!zsha || !csha)
                return -ENOMEM;
        PayloadOut out = { .fd = payload_fd, .sha256 = zsha };
        Payload cpio = { .sha256 = csha };
        uint64_t cpio_len = cpio_size(s->files, s->n_files, sizes);
        r = compress_stream_new(codec.codec, codec.level, s->threads, cpio_len, payload_out, &out, &cpio.z);
        if (r < 0)
                return r;
        r = build_payload(s->files, s->n_files, sizes, digests, &cpio, ret_bad_file);
        if (r < 0) {
                compress_stream_free(cpio.z);
                return r;
        }
        r = compress_stream_finish(cpio.z);
        if (r < 0)
                return r;
        if (cpio.size != cpio_len)
                return -EIO;
        uint64_t payload_size = out.size;

        uint8_t md[32];
        char payload_hex[65], payload_alt_hex[65];
        r = hash_final(zsha, md);
        if (r < 0)
                return r;
        hex_encode(md, 32, payload_hex);
        r = hash_final(csha, md);
        if (r < 0)
                return r;
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
        /* rpmbuild's Requires(pre), (post), ... of the interpreter
         * (RPMSENSE_INTERP with the scriptlet's RPMSENSE_SCRIPT_* bit). */
        for (size_t i = 0; r >= 0 && i < _RPM_SCRIPT_SLOT_MAX; i++)
                if (s->scripts[i])
                        r = deplist_add(&requires, "/bin/sh", RPMSENSE_INTERP | script_slots[i].sense, "");
        /* A trigger's program: a plain Requires(interp), for rpmbuild gives
         * triggers no RPMSENSE_SCRIPT_* bit; Lua needs rpm's built-in
         * interpreter instead (build/parseScript.c). */
        const uint32_t lib = RPMSENSE_RPMLIB | RPMSENSE_LESS | RPMSENSE_EQUAL;
        for (size_t i = 0; r >= 0 && i < s->n_file_triggers; i++) {
                const char *prog = s->file_triggers[i].program;
                if (strcmp(prog, "<lua>") == 0)
                        r = deplist_add(&requires, "rpmlib(BuiltinLuaScripts)", lib, "4.2.2-1");
                else
                        r = deplist_add(&requires, prog, RPMSENSE_INTERP, "");
        }
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
        if (r >= 0 && s->n_files > 0) {
                r = deplist_add(&requires, "rpmlib(CompressedFileNames)", lib, "3.0.4-1");
                if (r >= 0)
                        r = deplist_add(&requires, "rpmlib(FileDigests)", lib, "4.6.0-1");
        }
        if (r >= 0)
                r = deplist_add(&requires, "rpmlib(PayloadFilesHavePrefix)", lib, "4.0-1");
        if (r >= 0 && codec.codec == COMPRESS_ZSTD)
                r = deplist_add(&requires, "rpmlib(PayloadIsZstd)", lib, "5.4.18-1");
        if (r >= 0 && codec.codec == COMPRESS_XZ)
                r = deplist_add(&requires, "rpmlib(PayloadIsXz)", lib, "5.2-1");
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

        for (size_t i = 0; i < _RPM_SCRIPT_SLOT_MAX; i++)
                if (s->scripts[i]) {
                        const char *prog[] = { "/bin/sh" };
                        rpm_header_add_string(b, script_slots[i].body_tag, s->scripts[i]);
                        rpm_header_add_strings(b, script_slots[i].prog_tag, prog, 1);
                }
        r = add_file_triggers(b, s->file_triggers, s->n_file_triggers, false);
        if (r >= 0)
                r = add_file_triggers(b, s->file_triggers, s->n_file_triggers, true);
        if (r < 0)
                return r;

        rpm_header_add_string(b, RPMTAG_PAYLOADFORMAT, "cpio");
        /* As rpmbuild writes them for %_binary_payload: the compressor's
         * name (none for ufdio) and the mode string's level ("" for w.ufdio). */
        if (payload_codecs[codec.codec].compressor)
                rpm_header_add_string(b, RPMTAG_PAYLOADCOMPRESSOR, payload_codecs[codec.codec].compressor);
        char lvl[16] = "";
        if (codec.codec != COMPRESS_NONE)
                snprintf(lvl, sizeof lvl, "%d", codec.level);
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
                r = hash_fd(h, payload_fd, payload_size);
                if (r >= 0)
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
        if (both > UINT32_MAX || cpio_len > UINT32_MAX) {
                uint64_t cl = cpio_len;
                rpm_header_add_int64(sb, RPMSIGTAG_LONGSIZE, &both, 1);
                rpm_header_add_int64(sb, RPMSIGTAG_LONGARCHIVESIZE, &cl, 1);
        } else {
                rpm_header_add_u32(sb, RPMSIGTAG_SIZE, (uint32_t) both);
                rpm_header_add_u32(sb, RPMSIGTAG_PAYLOADSIZE, (uint32_t) cpio_len);
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
        static const uint8_t zeros[8];
        struct iovec iov[] = {
                { &lead, sizeof lead },
                { sig, sig_size },
                { (void *) zeros, pad },
                { hdr, hdr_size },
        };
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        r = loop_writev(fd, iov, ELEMENTSOF(iov));
        if (r >= 0)
                r = copy_payload(payload_fd, fd, payload_size);
        return tmpfile_commit(r, fd, tmp, path, 0644);
}
