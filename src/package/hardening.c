/* SPDX-License-Identifier: MIT */

/* The hardening check of built packages (hardening.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "package/hardening.h"
#include "rpm/tags.h"
#include "tree/cpio.h"
#include "tree/install.h"

static const char *const status_table[_HARDENING_STATUS_MAX] = {
        [HARDENING_PASS] = "pass",
        [HARDENING_MISSING] = "missing",
        [HARDENING_NA] = "n/a",
};

const char *hardening_status_to_string(HardeningStatus s) {
        return s >= 0 && s < _HARDENING_STATUS_MAX ? status_table[s] : NULL;
}

HardeningStatus hardening_status_from_string(const char *s) {
        for (int i = 0; s && i < _HARDENING_STATUS_MAX; i++)
                if (strcmp(status_table[i], s) == 0)
                        return (HardeningStatus) i;
        return _HARDENING_STATUS_INVALID;
}

static const char *const missing_table[_HARDENING_CHECK_MAX] = {
        [HARDENING_PIE] = "not PIE",
        [HARDENING_RELRO] = "no RELRO",
        [HARDENING_BINDNOW] = "no BIND_NOW",
        [HARDENING_NX_STACK] = "executable stack",
        [HARDENING_STACK_PROTECTOR] = "no stack protector",
        [HARDENING_FORTIFY] = "no FORTIFY_SOURCE",
        [HARDENING_CET] = "no CET (IBT and SHSTK)",
};

const char *hardening_missing_to_string(HardeningCheck c) {
        return c >= 0 && c < _HARDENING_CHECK_MAX ? missing_table[c] : NULL;
}

#define ET_DYN_ 3

void hardening_evaluate(const ElfInfo *info, uint8_t ret[static _HARDENING_CHECK_MAX]) {
        ret[HARDENING_PIE] = info->type != ET_DYN_ ? HARDENING_MISSING
                             : info->has_phdr       ? HARDENING_PASS
                                                    : HARDENING_NA; /* a shared library */
        ret[HARDENING_RELRO] = info->has_relro ? HARDENING_PASS : HARDENING_MISSING;
        ret[HARDENING_BINDNOW] = info->bind_now ? HARDENING_PASS : HARDENING_MISSING;
        ret[HARDENING_NX_STACK] = info->has_gnu_stack && !info->stack_exec ? HARDENING_PASS : HARDENING_MISSING;
        ret[HARDENING_STACK_PROTECTOR] = info->stack_chk_fail    ? HARDENING_PASS
                                         : info->n_undefined == 0 ? HARDENING_NA
                                                                  : HARDENING_MISSING;
        ret[HARDENING_FORTIFY] = info->fortify_chk     ? HARDENING_PASS
                                 : info->fortify_plain ? HARDENING_MISSING
                                                       : HARDENING_NA;
        if (info->machine != EM_386_ && info->machine != EM_X86_64_)
                ret[HARDENING_CET] = HARDENING_NA;
        else
                ret[HARDENING_CET] = info->ibt && info->shstk ? HARDENING_PASS : HARDENING_MISSING;
}

void hardening_package_release(HardeningPackage *p) {
        if (!p)
                return;
        free(p->rpm);
        for (size_t i = 0; i < p->n_files; i++)
                free(p->files[i].path);
        free(p->files);
        for (size_t i = 0; i < p->n_unreadable; i++)
                free(p->unreadable[i]);
        free(p->unreadable);
        *p = (HardeningPackage) {};
}

void hardening_packages_free(HardeningPackage *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                hardening_package_release(&a[i]);
        free(a);
}

static int blob_read(void *userdata, uint64_t off, void *buf, size_t n) {
        return tree_blob_read(userdata, off, buf, n);
}

static int add_path(char ***v, size_t *n, const char *path) {
        char **nv = reallocarray(*v, *n + 1, sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[*n] = strdup(path)))
                return -ENOMEM;
        (*n)++;
        return 0;
}

static bool skipped_path(const char *path) {
        return strncmp(path, "/usr/lib/debug/", 15) == 0;
}

/* Adds one file's verdicts (r: elf_read_info()'s). */
static int add_result(HardeningPackage *pkg, size_t *allocated, const char *path, int r, const ElfInfo *info) {
        if (r == -EBADMSG)
                return add_path(&pkg->unreadable, &pkg->n_unreadable, path);
        if (r <= 0)
                return r;
        if (!GREEDY_REALLOC(pkg->files, *allocated, pkg->n_files + 1))
                return -ENOMEM;
        HardeningFile *hf = &pkg->files[pkg->n_files];
        *hf = (HardeningFile) { .path = strdup(path) };
        if (!hf->path)
                return -ENOMEM;
        hardening_evaluate(info, hf->status);
        pkg->n_files++;
        return 0;
}

/* xz payloads (which the streaming decompressor does not read): the
 * package unpacked whole, its files' contents read from there. */
static int scan_unpacked(const char *path, HardeningPackage *pkg, char **ret_error) {
        RpmUnpacked *u = NULL;
        size_t allocated = 0;
        int r = rpm_unpack(path, &u);
        if (r < 0) {
                if (r != -ENOMEM)
                        *ret_error = strprintf("cannot read the package to check it: %s",
                                               u && rpm_unpacked_error(u) ? rpm_unpacked_error(u) : strerror(-r));
                rpm_unpacked_free(u);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        const RpmFileList *fi = rpm_unpacked_files(u);
        for (size_t i = 0; r >= 0 && i < fi->n; i++) {
                const RpmHeaderFile *f = &fi->files[i];
                const TreeBlob *b = rpm_unpacked_content(u, i);
                if (!S_ISREG(f->mode) || !b || b->size < 4 || skipped_path(f->path))
                        continue;
                ElfInfo info;
                r = elf_read_info(blob_read, (void *) b, b->size, &info);
                r = add_result(pkg, &allocated, f->path, r, &info);
        }
        rpm_unpacked_free(u);
        return r;
}

/* ELF files larger than this are copied into an unlinked temporary file
 * to be read, not into memory. */
#define ELF_IN_MEMORY_MAX ((uint64_t) 64 << 20)

/* The payload's newc archive (tree/cpio.h) as it is decompressed, piece by
 * piece: each regular file that starts with the ELF magic is kept (in
 * memory, or in a temporary file when large) and read when it is whole;
 * the other files' contents are only skipped. Memory stays at a piece
 * and the largest ELF file kept in memory, whatever the payload's size. */
typedef struct Stream {
        HardeningPackage *pkg;
        size_t allocated;
        uint64_t pos;          /* bytes of the archive seen */
        enum { S_HEADER, S_NAME, S_DATA, S_DONE } state;
        uint8_t header[CPIO_NEWC_HEADER_SIZE];
        size_t have;           /* of the header, the name or the data's first 4 bytes */
        CpioNewcHeader h;
        char *name;            /* the entry's name, namesize bytes */
        uint64_t skip;         /* padding still to skip before the state's bytes */
        uint64_t left;         /* bytes of the state's field still to come */
        bool keep;             /* a regular file that may be ELF */
        uint8_t magic[4];
        uint8_t *data;         /* in memory */
        int fd;                /* or in a temporary file; -1 */
        bool elf;              /* the magic matched: data or fd holds it */
        const char *error;
} Stream;

typedef struct FdReader {
        int fd;
} FdReader;

static int fd_read(void *userdata, uint64_t off, void *buf, size_t n) {
        const FdReader *f = userdata;
        ssize_t k = pread(f->fd, buf, n, (off_t) off);
        return k < 0 ? -errno : (size_t) k == n ? 0 : -EIO;
}

static void entry_reset(Stream *st) {
        free(st->name);
        st->name = NULL;
        free(st->data);
        st->data = NULL;
        if (st->fd >= 0)
                close(st->fd);
        st->fd = -1;
        st->have = 0;
        st->keep = st->elf = false;
}

/* The whole of a kept ELF file was seen. */
static int entry_done(Stream *st) {
        if (!st->elf)
                return 0;
        const char *path = st->name[0] == '.' ? st->name + 1 : st->name;
        ElfInfo info;
        int r;
        if (st->fd >= 0) {
                FdReader f = { .fd = st->fd };
                r = elf_read_info(fd_read, &f, st->h.filesize, &info);
        } else
                r = elf_parse_info(st->data, st->h.filesize, &info);
        return add_result(st->pkg, &st->allocated, path, r, &info);
}

/* The data's bytes as they come (off: where they are in the data). */
static int entry_data(Stream *st, uint64_t off, const uint8_t *p, size_t n) {
        size_t k = 0;
        if (st->keep && off < 4) {
                k = (size_t) MIN((uint64_t) n, 4 - off);
                memcpy(st->magic + off, p, k);
                if (off + k == 4) {
                        st->keep = false;
                        if (memcmp(st->magic, ELF_MAGIC, 4) == 0) {
                                st->elf = true;
                                if (st->h.filesize > ELF_IN_MEMORY_MAX) {
                                        const char *dir = getenv("TMPDIR");
                                        st->fd = tmpfile_anonymous(dir && *dir ? dir : "/var/tmp");
                                        if (st->fd < 0)
                                                return st->fd;
                                        int r = loop_write(st->fd, st->magic, 4);
                                        if (r < 0)
                                                return r;
                                } else {
                                        st->data = malloc(st->h.filesize);
                                        if (!st->data)
                                                return -ENOMEM;
                                        memcpy(st->data, st->magic, 4);
                                }
                        }
                }
        }
        if (!st->elf || k == n)
                return 0;
        if (st->fd >= 0)
                return loop_write(st->fd, p + k, n - k);
        memcpy(st->data + off + k, p + k, n - k);
        return 0;
}

static int stream_sink(void *userdata, const void *data, size_t n) {
        Stream *st = userdata;
        const uint8_t *p = data;
        int r;
        while (n > 0) {
                if (st->state == S_DONE)
                        return 0; /* what follows the trailer is not read */
                if (st->skip > 0) {
                        size_t k = (size_t) MIN((uint64_t) n, st->skip);
                        st->skip -= k;
                        st->pos += k;
                        p += k;
                        n -= k;
                        continue;
                }
                switch (st->state) {
                case S_HEADER: {
                        size_t k = MIN(n, sizeof st->header - st->have);
                        memcpy(st->header + st->have, p, k);
                        st->have += k;
                        st->pos += k;
                        p += k;
                        n -= k;
                        if (st->have < sizeof st->header)
                                break;
                        if (cpio_newc_header_parse(st->header, &st->h) < 0) {
                                st->error = "its payload is not a newc cpio archive";
                                return -EBADMSG;
                        }
                        st->name = malloc(st->h.namesize);
                        if (!st->name)
                                return -ENOMEM;
                        st->have = 0;
                        st->left = st->h.namesize;
                        st->state = S_NAME;
                        break;
                }
                case S_NAME: {
                        size_t k = (size_t) MIN((uint64_t) n, st->left);
                        memcpy(st->name + st->have, p, k);
                        st->have += k;
                        st->left -= k;
                        st->pos += k;
                        p += k;
                        n -= k;
                        if (st->left > 0)
                                break;
                        if (cpio_name_check(st->name, st->h.namesize) < 0) {
                                st->error = "its payload has a malformed name";
                                return -EBADMSG;
                        }
                        if (strcmp(st->name, CPIO_TRAILER) == 0) {
                                st->state = S_DONE;
                                return 0;
                        }
                        const char *path = st->name[0] == '.' ? st->name + 1 : st->name;
                        st->keep = S_ISREG(st->h.mode) && st->h.filesize >= 4 && !skipped_path(path);
                        st->skip = cpio_newc_pad(st->pos);
                        st->left = st->h.filesize;
                        st->have = 0;
                        st->state = S_DATA;
                        break;
                }
                case S_DATA: {
                        size_t k = (size_t) MIN((uint64_t) n, st->left);
                        if (k > 0) {
                                r = entry_data(st, st->h.filesize - st->left, p, k);
                                if (r < 0)
                                        return r;
                        }
                        st->left -= k;
                        st->pos += k;
                        p += k;
                        n -= k;
                        if (st->left > 0)
                                break;
                        r = entry_done(st);
                        if (r < 0)
                                return r;
                        entry_reset(st);
                        st->skip = cpio_newc_pad(st->pos);
                        st->state = S_HEADER;
                        break;
                }
                default:
                        return 0;
                }
        }
        /* An entry without data ends where its name does. */
        if (st->state == S_DATA && st->left == 0 && st->skip == 0) {
                entry_reset(st);
                st->state = S_HEADER;
        }
        return 0;
}

int hardening_scan_rpm(const char *path, const char *file, HardeningPackage *ret, char **ret_error) {
        _cleanup_(hardening_package_release) HardeningPackage pkg = {};
        _cleanup_(rpm_package_freep) RpmPackage *rp = NULL;
        if (!(pkg.rpm = strdup(file)))
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                *ret_error = strprintf("cannot open the package to check it: %s", strerror(-r));
                return r;
        }
        int r = rpm_package_read_fd(fd, &rp);
        if (r < 0) {
                if (r != -ENOMEM)
                        *ret_error = strprintf("cannot read the package to check it: %s",
                                               r == -EBADMSG ? "not a valid RPM package" : strerror(-r));
                return r;
        }
        const char *codec = rpm_header_get_string(rp->header, RPMTAG_PAYLOADCOMPRESSOR);
        if (codec && strcmp(codec, "gzip") != 0 && strcmp(codec, "zstd") != 0)
                r = scan_unpacked(path, &pkg, ret_error);
        else {
                Stream st = { .pkg = &pkg, .fd = -1 };
                r = decompress_fd(fd, rp->payload_offset, UINT64_MAX, UINT64_MAX, stream_sink, &st);
                if (r >= 0 && st.state != S_DONE) {
                        st.error = "its payload ends before the archive's trailer";
                        r = -EBADMSG;
                }
                if (r == -EBADMSG && !*ret_error)
                        *ret_error = strprintf("cannot read the package to check it: %s",
                                               st.error ? st.error : "its payload is corrupt or truncated");
                else if (r < 0 && r != -ENOMEM && !*ret_error)
                        *ret_error = strprintf("cannot read the package to check it: %s", strerror(-r));
                entry_reset(&st);
        }
        if (r < 0)
                return r;
        *ret = pkg;
        pkg = (HardeningPackage) {};
        return 0;
}

json_t *hardening_package_to_json(const HardeningPackage *p) {
        json_t *files = json_array(), *unreadable = json_array();
        for (size_t i = 0; files && i < p->n_files; i++) {
                json_t *f = json_pack("{s:s}", "path", p->files[i].path);
                for (int c = 0; f && c < _HARDENING_CHECK_MAX; c++)
                        json_object_set_new(f, hardening_check_to_string(c),
                                            json_string(hardening_status_to_string(p->files[i].status[c])));
                json_array_append_new(files, f);
        }
        for (size_t i = 0; unreadable && i < p->n_unreadable; i++)
                json_array_append_new(unreadable, json_string(p->unreadable[i]));
        return json_pack("{s:s, s:o, s:o}", "rpm", p->rpm, "files", files, "unreadable", unreadable);
}

int hardening_package_from_json(const json_t *j, HardeningPackage *ret) {
        _cleanup_(hardening_package_release) HardeningPackage pkg = {};
        const char *rpm = json_string_value(json_object_get(j, "rpm"));
        json_t *files = json_object_get(j, "files"), *unreadable = json_object_get(j, "unreadable");
        if (!rpm || !json_is_array(files) || !json_is_array(unreadable))
                return -EBADMSG;
        if (!(pkg.rpm = strdup(rpm)))
                return -ENOMEM;
        pkg.files = new0(HardeningFile, json_array_size(files) + 1);
        if (!pkg.files)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(files); i++) {
                json_t *f = json_array_get(files, i);
                const char *path = json_string_value(json_object_get(f, "path"));
                if (!path)
                        return -EBADMSG;
                HardeningFile *hf = &pkg.files[pkg.n_files];
                for (int c = 0; c < _HARDENING_CHECK_MAX; c++) {
                        HardeningStatus s = hardening_status_from_string(
                                json_string_value(json_object_get(f, hardening_check_to_string(c))));
                        if (s < 0)
                                return -EBADMSG;
                        hf->status[c] = (uint8_t) s;
                }
                if (!(hf->path = strdup(path)))
                        return -ENOMEM;
                pkg.n_files++;
        }
        for (size_t i = 0; i < json_array_size(unreadable); i++) {
                const char *path = json_string_value(json_array_get(unreadable, i));
                if (!path)
                        return -EBADMSG;
                int r = add_path(&pkg.unreadable, &pkg.n_unreadable, path);
                if (r < 0)
                        return r;
        }
        *ret = pkg;
        pkg = (HardeningPackage) {};
        return 0;
}

HardeningAction hardening_action(const Project *p, const Component *c, HardeningCheck check) {
        if (check < 0 || check >= _HARDENING_CHECK_MAX || c->hardening_exceptions.reason[check])
                return HARDENING_OFF;
        int a = p->hardening.action[check];
        return a >= 0 && a < _HARDENING_ACTION_MAX ? (HardeningAction) a : HARDENING_WARN;
}

/* The package's name as rpm prints it: its file name without ".rpm". */
static int package_name_len(const char *rpm) {
        size_t l = strlen(rpm);
        return (int) (l > 4 && strcmp(rpm + l - 4, ".rpm") == 0 ? l - 4 : l);
}

char *hardening_failure(const Project *p, const Component *c, const HardeningPackage *pkgs, size_t n,
                        size_t *ret_count) {
        char *first = NULL;
        size_t count = 0;
        for (size_t k = 0; k < n; k++)
                for (size_t i = 0; i < pkgs[k].n_files; i++)
                        for (int check = 0; check < _HARDENING_CHECK_MAX; check++) {
                                if (pkgs[k].files[i].status[check] != HARDENING_MISSING ||
                                    hardening_action(p, c, check) != HARDENING_FAIL)
                                        continue;
                                if (count++ == 0)
                                        first = strprintf("package %.*s: %s: %s (hardening check '%s' is \"fail\")",
                                                          package_name_len(pkgs[k].rpm), pkgs[k].rpm,
                                                          pkgs[k].files[i].path, hardening_missing_to_string(check),
                                                          hardening_check_to_string(check));
                        }
        *ret_count = count;
        return first;
}
