/* SPDX-License-Identifier: MIT */

/* The steps of `slipway customize` (customize.h): read the image, apply the
 * customization to its tree in Image Customizer's order (packages, settings,
 * kernel command line, modules, history, post-customization scripts, new
 * UUIDs or a new layout's references, SELinux labels, finalize scripts),
 * write every output. */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/publish.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "compose/disk.h"
#include "compose/settings.h"
#include "compose/writer.h"
#include "customize/customize.h"
#include "disk/gpt.h"

#ifndef SLIPWAY_VERSION
#define SLIPWAY_VERSION "0"
#endif

#define HISTORY_PATH "/usr/share/slipway/history.json"
#define RELEASE_PATH "/etc/slipway-release"
#define TEXT_MAX ((size_t) 16 << 20)

void customize_result_release(CustomizeResult *r) {
        free(r->selinux_policy);
        for (size_t i = 0; i < r->n_fetched; i++) {
                free(r->fetched_nevra[i]);
                free(r->fetched_sha256[i]);
                free(r->fetched_url[i]);
        }
        free(r->fetched_nevra);
        free(r->fetched_sha256);
        free(r->fetched_url);
        *r = (CustomizeResult) {};
}

/* ---- text files of the tree, line by line ---- */

/* Rewrites the text file at path with fn applied to each line (without its
 * newline); fn appends the new line to out and returns 1 if it changed it. */
typedef int (*LineFn)(const char *path, const char *line, size_t n, StrBuf *out, void *userdata);

static int edit_lines(Tree *t, const char *path, LineFn fn, void *userdata, int64_t mtime, bool *ret_changed) {
        _cleanup_free_ char *text = NULL;
        *ret_changed = false;
        int r = tree_read_text(t, path, &text);
        if (r < 0)
                return r;
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        bool changed = false;
        for (const char *l = text, *e; *l; l = e) {
                e = strchrnul(l, '\n');
                r = fn(path, l, (size_t) (e - l), &sb, userdata);
                if (r < 0)
                        return r;
                changed |= r > 0;
                if (*e) {
                        strbuf_putc(&sb, '\n');
                        e++;
                }
        }
        if (sb.oom)
                return -ENOMEM;
        if (!changed)
                return 0;
        *ret_changed = true;
        return tree_write_text(t, path, sb.buf, 0644, mtime);
}

/* Whether path is a boot loader file holding kernel command lines: a Boot
 * Loader Specification entry (.../loader/entries/NAME.conf), a GRUB
 * configuration (.../grub/grub.cfg, .../grub2/grub.cfg), or
 * /etc/kernel/cmdline (what kernel-install puts into new entries). */
static bool cmdline_file(const char *path) {
        const char *slash = strrchr(path, '/');
        size_t l = strlen(path);
        if (strstr(path, "/loader/entries/") && l > 5 && strcmp(path + l - 5, ".conf") == 0 &&
            strncmp(slash - 15, "/loader/entries", 15) == 0)
                return true;
        if (strcmp(slash, "/grub.cfg") == 0 && ((slash - path >= 5 && strncmp(slash - 5, "/grub", 5) == 0) ||
                                                 (slash - path >= 6 && strncmp(slash - 6, "/grub2", 6) == 0)))
                return true;
        return strcmp(path, "/etc/kernel/cmdline") == 0;
}

/* fn over every line of every boot loader file (cmdline_file()), and of
 * /etc/fstab with fstab; *ret_changed (optional): how many files changed. */
static int edit_boot_files(Tree *t, bool fstab, LineFn fn, void *userdata, int64_t mtime, size_t *ret_changed) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n, changed = 0;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (nodes[i]->type != TREE_REG ||
                    !(cmdline_file(nodes[i]->path) || (fstab && strcmp(nodes[i]->path, "/etc/fstab") == 0)))
                        continue;
                /* The node goes when the file is written: its path first. */
                _cleanup_free_ char *path = strdup(nodes[i]->path);
                bool c;
                if (!path)
                        return -ENOMEM;
                if ((r = edit_lines(t, path, fn, userdata, mtime, &c)) < 0)
                        return r;
                changed += c;
        }
        if (ret_changed)
                *ret_changed = changed;
        return 0;
}

/* BLS: the "options" line; GRUB: "linux"/"linuxefi"/"linux16" lines;
 * /etc/kernel/cmdline: its one line. userdata: the arguments appended. */
static int cmdline_line(const char *path, const char *line, size_t n, StrBuf *out, void *userdata) {
        const char *extra = userdata;
        strbuf_put(out, line, n);
        size_t ws = strspn(line, " \t");
        const char *k = line + ws;
        size_t kl = strcspn(k, " \t\n");
        bool hit;
        if (strcmp(path, "/etc/kernel/cmdline") == 0)
                hit = n > 0;
        else if (strstr(path, "/loader/entries/"))
                hit = kl == 7 && strncmp(k, "options", 7) == 0;
        else
                hit = (kl == 5 && strncmp(k, "linux", 5) == 0) || (kl == 8 && strncmp(k, "linuxefi", 8) == 0) ||
                      (kl == 7 && strncmp(k, "linux16", 7) == 0);
        if (!hit)
                return 0;
        strbuf_printf(out, " %s", extra);
        return 1;
}

static int apply_cmdline(Tree *t, const Customization *c, int64_t mtime, size_t *ret_n, Diagnostics *d) {
        *ret_n = 0;
        if (!c->im.kernel_cmdline)
                return 0;
        int r = edit_boot_files(t, false, cmdline_line, c->im.kernel_cmdline, mtime, ret_n);
        if (r < 0)
                return r;
        if (*ret_n == 0) {
                SourcePos pos = cfg_pos(&c->im.obj, "kernel-cmdline");
                diag_error(d, &pos, "customization '%s': the image has no boot loader entry to add the kernel command "
                                    "line to (no loader/entries/*.conf with an options line, no grub.cfg with a linux "
                                    "line)",
                           c->im.name);
                return -EINVAL;
        }
        return 0;
}

/* ---- kernel modules (modules-load.d(5), modprobe.d(5)) ---- */

static int apply_modules(Tree *t, const Customization *c, int64_t mtime) {
        if (c->modules.n == 0)
                return 0;
        _cleanup_(strbuf_releasep) StrBuf load = STRBUF_INIT, probe = STRBUF_INIT;
        strbuf_puts(&load, "# Written by slipway customize.\n");
        strbuf_puts(&probe, "# Written by slipway customize.\n");
        for (size_t i = 0; i < c->modules.n; i++) {
                const KernelModule *m = &c->modules.items[i];
                if (m->load == MODULE_LOAD_ALWAYS)
                        strbuf_printf(&load, "%s\n", m->name);
                else if (m->load == MODULE_LOAD_DISABLE)
                        strbuf_printf(&probe, "blacklist %s\ninstall %s /bin/false\n", m->name, m->name);
                if (m->options)
                        strbuf_printf(&probe, "options %s %s\n", m->name, m->options);
        }
        if (load.oom || probe.oom)
                return -ENOMEM;
        int r = tree_write_text(t, "/etc/modules-load.d/slipway-customize.conf", load.buf, 0644, mtime);
        if (r >= 0)
                r = tree_write_text(t, "/etc/modprobe.d/slipway-customize.conf", probe.buf, 0644, mtime);
        return r;
}

/* ---- the image's history ---- */

/* Appends this customization to HISTORY_PATH, a JSON array: what was
 * customized, when (SOURCE_DATE_EPOCH), by which slipway. Not the
 * configuration's text: the same changes written in TOML or in Image
 * Customizer's YAML give the same image. */
static int apply_history(Tree *t, const Customization *c, int64_t mtime, const uint8_t seed[32]) {
        if (!c->history)
                return 0;
        _cleanup_free_ char *old = NULL;
        json_t *a = NULL;
        if (tree_read_text(t, HISTORY_PATH, &old) >= 0)
                a = json_loads(old, 0, NULL);
        if (!json_is_array(a)) {
                json_decref(a);
                a = json_array();
                if (!a)
                        return -ENOMEM;
        }
        /* This customization's identity: from the seed of its identifiers and
         * the customizations before it. */
        uint8_t id[16];
        char uuid[GUID_STRING_MAX], date[32];
        char label[64];
        snprintf(label, sizeof label, "customize:image-uuid:%zu", json_array_size(a));
        int r = gpt_guid_derive(seed, label, id);
        if (r < 0) {
                json_decref(a);
                return r;
        }
        guid_to_string(id, uuid);
        time_t tt = (time_t) mtime;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(date, sizeof date, "%lld", (long long) mtime);
        json_t *e = json_pack("{s:s, s:I, s:s, s:s}", "customization", c->im.name, "time", (json_int_t) mtime,
                              "tool", "slipway " SLIPWAY_VERSION, "image-uuid", uuid);
        if (!e || json_array_append_new(a, e) < 0) {
                json_decref(a);
                return -ENOMEM;
        }
        _cleanup_free_ char *text = json_dumps(a, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        size_t count = json_array_size(a);
        json_decref(a);
        if (!text)
                return -ENOMEM;
        _cleanup_free_ char *nl = NULL, *rel = NULL;
        if (asprintf(&nl, "%s\n", text) < 0)
                return -ENOMEM;
        if ((r = tree_write_text(t, HISTORY_PATH, nl, 0644, mtime)) < 0)
                return r;
        /* The last customization in os-release(5) form, beside the
         * distribution's own os-release (which belongs to its package and
         * stays as it is), for `. /etc/slipway-release` and inventory tools. */
        if (asprintf(&rel,
                     "# Written by slipway customize; the whole history is in " HISTORY_PATH ".\n"
                     "IMAGE_CUSTOMIZATION=%s\nIMAGE_UUID=%s\nBUILD_DATE=%s\nTOOL_VERSION=\"slipway %s\"\n"
                     "CUSTOMIZATIONS=%zu\n",
                     c->im.name, uuid, date, SLIPWAY_VERSION, count) < 0)
                return -ENOMEM;
        return tree_write_text(t, RELEASE_PATH, rel, 0644, mtime);
}

/* ---- new UUIDs ---- */

typedef struct Rename {
        char old[GUID_STRING_MAX], new[GUID_STRING_MAX];
} Rename;

typedef struct RenameSet {
        const Rename *r;
        size_t n;
} RenameSet;

/* Every old identifier in the line (in any case) replaced by its new one. */
static int rename_line(const char *path, const char *line, size_t n, StrBuf *out, void *userdata) {
        const RenameSet *s = userdata;
        int changed = 0;
        for (size_t i = 0; i < n;) {
                size_t k;
                for (k = 0; k < s->n; k++) {
                        size_t l = strlen(s->r[k].old);
                        if (l > 0 && n - i >= l && strncasecmp(line + i, s->r[k].old, l) == 0)
                                break;
                }
                if (k < s->n) {
                        strbuf_puts(out, s->r[k].new);
                        i += strlen(s->r[k].old);
                        changed = 1;
                } else
                        strbuf_putc(out, line[i++]);
        }
        return changed;
}

static void fs_uuid_string(const LoadedPartition *p, const uint8_t u[16], char out[GUID_STRING_MAX]) {
        if (strcmp(p->fs.type, "vfat") == 0)
                snprintf(out, GUID_STRING_MAX, "%02X%02X-%02X%02X", u[3], u[2], u[1], u[0]);
        else
                guid_to_string(u, out);
}

int customize_uuids(LoadedImage *l, Tree *t, const uint8_t seed[32], int64_t mtime) {
        _cleanup_free_ Rename *ren = new0(Rename, 2 * l->n_parts + 1);
        size_t n = 0;
        int r;
        if (!ren)
                return -ENOMEM;
        if (l->gpt && (r = gpt_guid_derive(seed, "customize:disk", l->disk_guid)) < 0)
                return r;
        for (size_t i = 0; i < l->n_parts; i++) {
                LoadedPartition *p = &l->parts[i];
                char label[64];
                if (l->gpt) {
                        guid_to_string(p->guid, ren[n].old);
                        snprintf(label, sizeof label, "customize:partition:%u", p->number);
                        if ((r = gpt_guid_derive(seed, label, p->guid)) < 0)
                                return r;
                        guid_to_string(p->guid, ren[n++].new);
                }
                if (p->fs.type) {
                        fs_uuid_string(p, p->fs.uuid, ren[n].old);
                        uint8_t u[16];
                        snprintf(label, sizeof label, "customize:fs:%u", p->number);
                        if ((r = gpt_guid_derive(seed, label, u)) < 0)
                                return r;
                        if (strcmp(p->fs.type, "vfat") == 0)
                                memset(u + 4, 0, 12); /* a FAT volume id is 4 bytes */
                        memcpy(p->fs.uuid, u, 16);
                        fs_uuid_string(p, p->fs.uuid, ren[n++].new);
                }
        }
        RenameSet set = { .r = ren, .n = n };
        return edit_boot_files(t, true, rename_line, &set, mtime, NULL);
}

/* ---- a new partition layout ---- */

/* With [[partitions]], each loaded partition's GUID in the boot loader's
 * files becomes the GUID of the new partition at its mount point (the disk
 * writer derives them, compose/disk.h), so root=PARTUUID= still names the
 * root. /etc/fstab is written anew by the disk writer. */
static int repartition_references(const LoadedImage *l, Tree *t, const Project *p, const Customization *c,
                                  int64_t mtime) {
        _cleanup_free_ Rename *ren = new0(Rename, l->n_parts + 1);
        size_t n = 0;
        int r;
        if (!ren)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_parts; i++) {
                const LoadedPartition *lp = &l->parts[i];
                if (!lp->mount || !l->gpt)
                        continue;
                for (size_t k = 0; k < c->im.partitions.n; k++) {
                        const Partition *np = &c->im.partitions.items[k];
                        if (!np->mount || strcmp(np->mount, lp->mount) != 0)
                                continue;
                        uint8_t g[16];
                        if ((r = disk_partition_guid(p, &c->im, k, g)) < 0)
                                return r;
                        guid_to_string(lp->guid, ren[n].old);
                        guid_to_string(g, ren[n].new);
                        n++;
                        break;
                }
        }
        RenameSet set = { .r = ren, .n = n };
        return edit_boot_files(t, false, rename_line, &set, mtime, NULL);
}

/* ---- a live ISO ---- */

/* The kernel command line of a live ISO made from the image: the arguments
 * of its boot entry (the first BLS entry's options, else the first linux
 * line of a grub.cfg) without root= (the root is the initrd) and with init=
 * as rdinit= (the kernel runs it from the initrd). */
static int live_cmdline(const Tree *t, char **ret, Diagnostics *d, const Customization *c) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        _cleanup_free_ char *args = NULL;
        for (int pass = 0; pass < 2 && !args; pass++)
                for (size_t i = 0; i < n && !args; i++) {
                        const char *path = nodes[i]->path;
                        if (nodes[i]->type != TREE_REG || !cmdline_file(path) || strcmp(path, "/etc/kernel/cmdline") == 0)
                                continue;
                        bool bls = strstr(path, "/loader/entries/") != NULL;
                        if (bls != (pass == 0))
                                continue;
                        _cleanup_free_ char *text = NULL;
                        if (tree_read_text(t, path, &text) < 0)
                                continue;
                        for (char *l = text, *e; *l && !args; l = *e ? e + 1 : e) {
                                e = strchrnul(l, '\n');
                                char save = *e;
                                *e = 0;
                                l += strspn(l, " \t");
                                size_t kl = strcspn(l, " \t");
                                const char *found = NULL;
                                if (bls && kl == 7 && strncmp(l, "options", 7) == 0)
                                        found = l + kl;
                                else if (!bls && ((kl == 5 && strncmp(l, "linux", 5) == 0) ||
                                                  (kl == 8 && strncmp(l, "linuxefi", 8) == 0))) {
                                        found = l + kl + strspn(l + kl, " \t");
                                        found += strcspn(found, " \t"); /* the kernel's path */
                                }
                                if (found && !(args = strdup(found)))
                                        return -ENOMEM;
                                *e = save;
                        }
                }
        if (!args) {
                diag_error(d, NULL, "customization '%s': the image has no boot entry to take the kernel command line of "
                                    "its live ISO from (no loader/entries/*.conf with options, no grub.cfg linux line)",
                           c->im.name);
                return -EINVAL;
        }
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        for (char *save = NULL, *w = strtok_r(args, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (strncmp(w, "root=", 5) == 0 || strncmp(w, "BOOT_IMAGE=", 11) == 0)
                        continue;
                strbuf_printf(&sb, "%s%s%s", sb.len ? " " : "", strncmp(w, "init=", 5) == 0 ? "rd" : "", w);
        }
        if (sb.oom)
                return -ENOMEM;
        *ret = strbuf_detach(&sb, NULL);
        return *ret ? 0 : -ENOMEM;
}

/* ---- the whole ---- */

/* The SBOM of the output at path, PATH.spdx.json (published with it):
 * what the customized tree's rpm database lists, as `slipway image` writes
 * an image's. No rpm database: no SBOM. */
static int write_sbom(const Tree *t, const Project *p, const Customization *c, const char *path, Publish *pub,
                      const CustomizeResult *res, Diagnostics *d) {
        if (c->im.sbom == SBOM_NONE || !tree_sbom_rpmdb(t))
                return 0;
        _cleanup_free_ char *final = strprintf("%s.spdx.json", path);
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path, *tmp = NULL;
        uint64_t size;
        if (!final)
                return -ENOMEM;
        int r = publish_add_file(pub, final, 0644, &tmp);
        if (r < 0) {
                diag_error(d, NULL, "'%s': cannot write there: %s", final,
                           r == -EEXIST ? "it exists and is not a file" : strerror(-r));
                return -EINVAL;
        }
        _cleanup_free_ SbomFetched *fetched = new0(SbomFetched, res->n_fetched + 1);
        if (!fetched)
                return -ENOMEM;
        for (size_t i = 0; i < res->n_fetched; i++)
                fetched[i] = (SbomFetched) { res->fetched_nevra[i], res->fetched_sha256[i], res->fetched_url[i] };
        /* The output's own time: SOURCE_DATE_EPOCH, or else the newest time
         * among the input's files, so the same input gives the same bytes. */
        SbomOptions so = {
                .name = name,
                .namespace_base = "https://slipway.invalid/spdx/customize",
                .purl_namespace = p->project.name,
                .created = (int64_t) p->source_date_epoch,
                .files = c->im.sbom == SBOM_FILES,
                .fetched = fetched,
                .n_fetched = res->n_fetched,
        };
        _cleanup_free_ char *what = strprintf("customization '%s'", c->im.name ? c->im.name : "");
        if (!what)
                return -ENOMEM;
        return tree_write_sbom(t, &so, what, tmp, &size, d);
}

static int write_outputs(const LoadedImage *l, const Tree *t, const Project *p, const Customization *c,
                         const CustomizeOptions *o, const uint8_t seed[32], Diagnostics *d, CustomizeResult *ret) {
        _cleanup_(publish_freep) Publish *pub = publish_new();
        if (!pub)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < o->n_outputs && r >= 0; i++) {
                const CustomizeOutput *out = &o->outputs[i];
                const char *tmp = NULL;
                r = publish_add_file(pub, out->path, 0644, &tmp);
                if (r == -EEXIST) {
                        diag_error(d, NULL, "'%s' exists and is not a file: choose another output path", out->path);
                        return -EINVAL;
                }
                if (r < 0) {
                        diag_error(d, NULL, "'%s': cannot write there: %s", out->path, strerror(-r));
                        return -EINVAL;
                }
                static const DiskFormat kinds[_IMAGE_FORMAT_MAX] = {
                        [IMAGE_FORMAT_RAW] = DISK_FORMAT_RAW,
                        [IMAGE_FORMAT_VHD] = DISK_FORMAT_VHD,
                        [IMAGE_FORMAT_VHDX] = DISK_FORMAT_VHDX,
                        [IMAGE_FORMAT_QCOW2] = DISK_FORMAT_QCOW2,
                };
                if (((1u << out->format) & IMAGE_FORMATS_DISK) && c->im.partitions.n > 0) {
                        /* Repartitioned: the disk writer of `slipway image` over the
                         * new layout, with the input's boot code. */
                        bool code = false;
                        for (size_t k = 0; k < 440 && !code; k++)
                                code = l->mbr[k] != 0;
                        DiskBootKeep keep = { .mbr_code = code ? l->mbr : NULL, .gap = l->boot_gap,
                                              .gap_size = l->boot_gap_size };
                        ImageOutputOptions io = { .jobs = o->jobs, .keep_boot = &keep };
                        _cleanup_free_ char *dir = path_dirname(out->path);
                        if (!dir) {
                                r = -ENOMEM;
                                break;
                        }
                        WriterContext wc = { .tree = t, .p = p, .im = &c->im, .images_dir = dir, .o = &io, .d = d };
                        WriterSlot slot = { .format = out->format, .tmp = tmp };
                        r = writer_disk(&wc, &slot, 1);
                        if (r >= 0)
                                ret->output_size = slot.size;
                } else if ((1u << out->format) & IMAGE_FORMATS_DISK) {
                        _cleanup_free_ char *tmpdir = NULL;
                        r = tmpdir_beside(out->path, "parts", &tmpdir);
                        if (r < 0)
                                break;
                        CustomizeDiskOptions dopt = { .size = c->im.size, .time = (int64_t) p->source_date_epoch,
                                                      .jobs = o->jobs };
                        memcpy(dopt.seed, seed, 32);
                        r = customize_write_disk(l, t, &dopt, kinds[out->format], tmp, tmpdir, d);
                        (void) rm_rf(tmpdir);
                        run_untrack(tmpdir);
                        if (r >= 0)
                                ret->output_size = c->im.size ? c->im.size : l->size;
                } else if (out->format == IMAGE_FORMAT_TAR) {
                        ImageOutputOptions io = { .jobs = o->jobs };
                        WriterContext wc = { .tree = t, .p = p, .im = &c->im, .o = &io, .d = d };
                        WriterSlot slot = { .format = IMAGE_FORMAT_TAR, .tmp = tmp };
                        r = writer_tar(&wc, &slot, 1);
                } else if (out->format == IMAGE_FORMAT_ISO) {
                        /* A live ISO as `slipway image` makes them: the whole image
                         * is the initrd, the kernel runs its init from it. */
                        _cleanup_free_ char *cmdline = NULL, *dir = path_dirname(out->path);
                        if (!dir) {
                                r = -ENOMEM;
                                break;
                        }
                        r = live_cmdline(t, &cmdline, d, c);
                        if (r < 0)
                                break;
                        Image iso = c->im;
                        iso.kernel_cmdline = cmdline;
                        iso.initrd = NULL;
                        iso.boot = tree_get(t, "/usr/share/syslinux/isolinux.bin") ? BOOT_HYBRID : BOOT_UEFI;
                        ImageOutputOptions io = { .jobs = o->jobs };
                        WriterContext wc = { .tree = t, .p = p, .im = &iso, .images_dir = dir, .o = &io, .d = d };
                        WriterSlot slot = { .format = IMAGE_FORMAT_ISO, .tmp = tmp };
                        r = writer_iso(&wc, &slot, 1);
                } else if (out->format == IMAGE_FORMAT_OCI) {
                        /* The oci-archive; the layout beside it is scratch. */
                        _cleanup_free_ char *tmpdir = NULL, *layout = NULL;
                        r = tmpdir_beside(out->path, "oci", &tmpdir);
                        if (r < 0)
                                break;
                        layout = path_join(tmpdir, "layout");
                        if (!layout || mkdir(layout, 0755) < 0)
                                r = layout ? -errno : -ENOMEM;
                        ImageOutputOptions io = { .jobs = o->jobs };
                        WriterContext wc = { .tree = t, .p = p, .im = &c->im, .o = &io, .d = d };
                        WriterSlot slot = { .format = IMAGE_FORMAT_OCI, .tmp = layout, .tmp2 = tmp };
                        if (r >= 0)
                                r = writer_oci(&wc, &slot, 1);
                        (void) rm_rf(tmpdir);
                        run_untrack(tmpdir);
                } else {
                        diag_error(d, NULL, "'%s': slipway customize writes raw, vhd, vhdx, qcow2, iso, tar and oci; not "
                                            "%s",
                                   out->path, image_format_to_string(out->format));
                        return -EINVAL;
                }
                if (r >= 0 && i < ELEMENTSOF(ret->sizes)) {
                        struct stat st;
                        ret->sizes[i] = stat(tmp, &st) >= 0 ? (uint64_t) st.st_size : 0;
                }
                if (r >= 0)
                        r = write_sbom(t, p, c, out->path, pub, ret, d);
        }
        if (r < 0)
                return r == -ENOMEM || d->n_errors == 0 ? r : -EINVAL;
        r = publish_commit(pub);
        if (r < 0) {
                diag_error(d, NULL, "'%s': cannot put the output in place: %s",
                           publish_failed_path(pub) ? publish_failed_path(pub) : "?", strerror(-r));
                return -EINVAL;
        }
        return 0;
}

int customize_image(Project *p, const Customization *c, const CustomizeOptions *o, Diagnostics *d,
                    CustomizeResult *ret) {
        *ret = (CustomizeResult) {};
        int r;

        /* A container image or a rootfs tarball is written as tar or OCI
         * again: it has no disk to keep the layout and boot of. */
        bool archive = archive_input(o->input);
        for (size_t i = 0; archive && i < o->n_outputs; i++)
                if (o->outputs[i].format != IMAGE_FORMAT_TAR && o->outputs[i].format != IMAGE_FORMAT_OCI) {
                        diag_error(d, NULL, "'%s': a tar or OCI input is written as tar or oci, not %s (it has no disk "
                                            "layout or boot loader to keep)",
                                   o->outputs[i].path, image_format_to_string(o->outputs[i].format));
                        return -EINVAL;
                }
        if (archive && (c->im.partitions.n > 0 || c->im.size > 0)) {
                SourcePos pos = cfg_pos(&c->im.obj, c->im.partitions.n > 0 ? "partitions" : "size");
                diag_error(d, &pos, "customization '%s': a tar or OCI input has no disk to lay out or grow", c->im.name);
                return -EINVAL;
        }
        _cleanup_(loaded_image_freep) LoadedImage *l = NULL;
        r = archive ? archive_load(o->input, (int64_t) p->source_date_epoch, &l, d)
                    : image_load(o->input, (int64_t) p->source_date_epoch, &l, d);
        if (r < 0)
                return r;
        /* A dm-verity pair: any change to the file system would break its
         * hash tree, and the root hash is in the boot files too. */
        for (size_t i = 0; i < l->n_parts; i++) {
                const char *t = l->parts[i].type_name;
                if (t && (strcmp(t, "root-verity") == 0 || strcmp(t, "usr-verity") == 0)) {
                        diag_error(d, NULL, "'%s': partition %u holds the dm-verity hash tree of a read-only file system "
                                            "(type %s), which customize cannot change; change the project and run "
                                            "slipway image instead",
                                   o->input, l->parts[i].number, t);
                        return -EINVAL;
                }
        }
        if (p->sde_origin == SDE_FROM_INPUTS) {
                _cleanup_free_ TreeNode **nodes = NULL;
                size_t n;
                if ((r = tree_list(l->tree, &nodes, &n)) < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (nodes[i]->mtime > 0 && (uint64_t) nodes[i]->mtime > p->source_date_epoch)
                                p->source_date_epoch = (uint64_t) nodes[i]->mtime;
        }
        const int64_t mtime = (int64_t) p->source_date_epoch;
        ret->input_format = l->format;
        ret->input_size = l->size;
        ret->n_partitions = l->n_parts;
        for (size_t i = 0; i < l->n_parts; i++)
                if (l->parts[i].fs.type) {
                        ret->n_loaded++;
                        ret->n_entries += l->parts[i].fs.n_entries;
                }

        /* The seed of every new identifier: the input's disk (its GUID or
         * MBR signature and size), the customization's name and
         * SOURCE_DATE_EPOCH (not the configuration's text, which may be TOML
         * or YAML for the same changes). */
        uint8_t seed[32];
        {
                _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
                if (!h)
                        return -ENOMEM;
                hash_update(h, "slipway customize\n", 18);
                hash_update(h, l->gpt ? l->disk_guid : (const uint8_t *) &l->mbr_signature, l->gpt ? 16 : 4);
                hash_update(h, &l->size, sizeof l->size);
                hash_update(h, c->im.name, strlen(c->im.name) + 1);
                hash_update(h, &mtime, sizeof mtime);
                if ((r = hash_final(h, seed)) < 0)
                        return r;
        }

        /* Packages first (Image Customizer's order), then the settings. */
        _cleanup_free_ char *tmp_cache = NULL;
        const char *cache = o->out_dir;
        if (!cache && (c->im.packages.n || c->remove.n || c->update.n || c->update_existing)) {
                if ((r = run_mkdtemp("customize-cache", &tmp_cache)) < 0)
                        return r;
                cache = tmp_cache;
        }
        r = customize_packages(p, c, &l->tree, cache, o->jobs, d, ret);
        if (tmp_cache) {
                (void) rm_rf(tmp_cache);
                run_untrack(tmp_cache);
        }
        if (r < 0)
                return r;
        Tree *t = l->tree;
        if ((r = settings_apply_changes(t, p, &c->im, d)) < 0)
                return r;
        if ((r = apply_cmdline(t, c, mtime, &ret->n_cmdline_files, d)) < 0)
                return r;
        if ((r = apply_modules(t, c, mtime)) < 0 || (r = apply_history(t, c, mtime, seed)) < 0)
                return r;
        if ((r = customize_run_scripts(p, c, SCRIPT_STAGE_POST, &l->tree, d, &ret->n_scripts[SCRIPT_STAGE_POST])) < 0)
                return r;
        t = l->tree;
        if (c->im.partitions.n > 0)
                r = repartition_references(l, t, p, c, mtime);
        else if (c->reset_uuids)
                r = customize_uuids(l, t, seed, mtime);
        if (r < 0)
                return r;
        /* Labels from the image's own policy, unless SELinux is off. */
        if (!(cfg_has(&c->im.obj, "selinux") && c->im.selinux == SELINUX_DISABLED)) {
                r = settings_label(t, &c->im, d, &ret->selinux_policy, &ret->n_labelled);
                if (r < 0)
                        return r;
        }
        r = customize_run_scripts(p, c, SCRIPT_STAGE_FINALIZE, &l->tree, d, &ret->n_scripts[SCRIPT_STAGE_FINALIZE]);
        if (r < 0)
                return r;
        t = l->tree;
        return write_outputs(l, t, p, c, o, seed, d, ret);
}
