/* SPDX-License-Identifier: MIT */

/* The hardening check of built packages (hardening.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "package/hardening.h"
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

int hardening_scan_rpm(const char *path, const char *file, HardeningPackage *ret, char **ret_error) {
        _cleanup_(hardening_package_release) HardeningPackage pkg = {};
        RpmUnpacked *u = NULL;
        int r = rpm_unpack(path, &u);
        if (r < 0) {
                if (r != -ENOMEM)
                        *ret_error = strprintf("cannot read the package to check it: %s",
                                               u && rpm_unpacked_error(u) ? rpm_unpacked_error(u) : strerror(-r));
                rpm_unpacked_free(u);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        if (!(pkg.rpm = strdup(file))) {
                rpm_unpacked_free(u);
                return -ENOMEM;
        }
        const RpmFileList *fi = rpm_unpacked_files(u);
        size_t allocated = 0;
        for (size_t i = 0; r >= 0 && i < fi->n; i++) {
                const RpmHeaderFile *f = &fi->files[i];
                const TreeBlob *b = rpm_unpacked_content(u, i);
                if (!S_ISREG(f->mode) || !b || b->size < 4 || strncmp(f->path, "/usr/lib/debug/", 15) == 0)
                        continue;
                ElfInfo info;
                r = elf_read_info(blob_read, (void *) b, b->size, &info);
                if (r == -EBADMSG) {
                        r = add_path(&pkg.unreadable, &pkg.n_unreadable, f->path);
                        continue;
                }
                if (r <= 0)
                        continue;
                if (!GREEDY_REALLOC(pkg.files, allocated, pkg.n_files + 1)) {
                        r = -ENOMEM;
                        break;
                }
                HardeningFile *hf = &pkg.files[pkg.n_files];
                *hf = (HardeningFile) { .path = strdup(f->path) };
                if (!hf->path) {
                        r = -ENOMEM;
                        break;
                }
                hardening_evaluate(&info, hf->status);
                pkg.n_files++;
                r = 0;
        }
        rpm_unpacked_free(u);
        if (r < 0) {
                if (r != -ENOMEM)
                        *ret_error = strprintf("cannot read the package's files to check them: %s", strerror(-r));
                return r;
        }
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
