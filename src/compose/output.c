/* SPDX-License-Identifier: MIT */

/* The archive formats of an image, written from its tree:
 *   oci   NAME.oci/ (OCI image layout) and NAME.oci.tar (oci-archive);
 *   tar   NAME.tar.zst: the root filesystem, pax tar, zstd;
 *   wsl   NAME.wsl: the root filesystem as WSL imports it, a gzip'd tar
 *         with /etc/wsl.conf and /etc/wsl-distribution.conf (Microsoft's
 *         "Build a custom Linux distribution for WSL");
 *   cpio  NAME.cpio.zst or NAME.cpio.gz: newc, for initrds. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/compose.h"
#include "compose/disk.h"
#include "compose/live.h"
#include "compose/settings.h"
#include "tree/archive.h"
#include "oci/oci.h"

void image_outputs_free(ImageOutput *o, size_t n) {
        for (size_t i = 0; o && i < n; i++) {
                free(o[i].path);
                free(o[i].path2);
        }
        free(o);
}

/* OCI's architecture names (the Go GOARCH values, image-spec config.md). */
static const char *oci_arch(const char *rpm_arch) {
        static const struct {
                const char *rpm, *oci;
        } map[] = {
                { "x86_64", "amd64" },  { "aarch64", "arm64" }, { "i686", "386" },
                { "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(map[i].rpm, rpm_arch) == 0)
                        return map[i].oci;
        return NULL;
}

/* A pending output: written under a temporary name, renamed at the end. */
typedef struct Pending {
        char *tmp, *final;
} Pending;

static int write_pending(const char *final, const void *data, size_t len, Pending *p) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%d", final, (int) getpid()) < 0)
                return -ENOMEM;
        int r = write_file_atomic(tmp, data, len, 0644);
        if (r < 0)
                return r;
        p->tmp = TAKE_PTR(tmp);
        p->final = strdup(final);
        return p->final ? 0 : -ENOMEM;
}

/* A pending output written as a compressed stream of the tree's tar. */
static int stream_sink(void *userdata, const void *data, size_t n) {
        return chunked_writer_write(userdata, data, n);
}

static int stream_pending(const Tree *t, const char *final, bool gzip, unsigned jobs, Pending *p, uint64_t *ret_size) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%d", final, (int) getpid()) < 0)
                return -ENOMEM;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        ChunkedWriter *w = NULL;
        int r = chunked_writer_new(fd, gzip, 3, COMPRESS_CHUNK, jobs, &w);
        if (r >= 0) {
                r = tree_archive_stream(t, TREE_ARCHIVE_TAR, stream_sink, w);
                int k = chunked_writer_finish(w, ret_size);
                if (r >= 0)
                        r = k;
        }
        /* No fsync: a crash leaves at worst a stale temporary file (the
         * final name appears only by rename, after the data is written);
         * flushing hundreds of MiB would double the time of a run. */
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        p->tmp = TAKE_PTR(tmp);
        p->final = strdup(final);
        return p->final ? 0 : -ENOMEM;
}

/* The first configured user that is not root: WSL's default user. */
static const User *default_user(const Image *im) {
        for (size_t i = 0; i < im->users.n; i++)
                if (strcmp(im->users.items[i].name, "root") != 0)
                        return &im->users.items[i];
        return NULL;
}

/* The tar of the tree with WSL's two files (unless packages ship them),
 * which are removed again afterwards. */
static int wsl_write(Tree *t, const Project *p, const Image *im, const char *final, unsigned jobs, Pending *pend,
                     uint64_t *ret_size) {
        const int64_t when = (int64_t) p->source_date_epoch;
        const User *u = default_user(im);
        uint32_t uid = 0;
        bool added_conf = false, added_dist = false;
        int r;

        if (u && tree_lookup_user(t, u->name, &uid) < 0)
                uid = 0;
        if (!tree_get(t, "/etc/wsl.conf")) {
                _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
                strbuf_puts(&sb, "# WSL settings (wsl.conf), written by slipway.\n");
                if (tree_get(t, "/usr/lib/systemd/systemd") || tree_get(t, "/lib/systemd/systemd"))
                        strbuf_puts(&sb, "[boot]\nsystemd=true\n");
                if (u)
                        strbuf_printf(&sb, "[user]\ndefault=%s\n", u->name);
                if (sb.oom)
                        return -ENOMEM;
                r = tree_write_text(t, "/etc/wsl.conf", sb.buf, 0644, when);
                if (r < 0)
                        return r;
                added_conf = true;
        }
        if (!tree_get(t, "/etc/wsl-distribution.conf")) {
                _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
                strbuf_printf(&sb,
                              "# WSL distribution settings (wsl-distribution.conf), written by slipway.\n"
                              "[oobe]\ndefaultName=%s-%s\n",
                              p->project.name, im->name);
                if (u)
                        strbuf_printf(&sb, "defaultUid=%" PRIu32 "\n", uid);
                strbuf_puts(&sb, "\n[shortcut]\nenabled=false\n");
                if (sb.oom)
                        r = -ENOMEM;
                else
                        r = tree_write_text(t, "/etc/wsl-distribution.conf", sb.buf, 0644, when);
                if (r < 0)
                        goto finish;
                added_dist = true;
        }
        r = stream_pending(t, final, true, jobs, pend, ret_size);
finish:
        if (added_conf)
                (void) tree_remove(t, "/etc/wsl.conf");
        if (added_dist)
                (void) tree_remove(t, "/etc/wsl-distribution.conf");
        return r;
}

static int add_output(ImageOutput **outs, size_t *n, ImageFormat f, const char *path, const char *path2,
                      uint64_t size) {
        ImageOutput *o = reallocarray(*outs, *n + 1, sizeof(ImageOutput));
        if (!o)
                return -ENOMEM;
        *outs = o;
        o[*n] = (ImageOutput) { .format = f, .path = strdup(path), .path2 = path2 ? strdup(path2) : NULL, .size = size };
        (*n)++;
        return o[*n - 1].path && (!path2 || o[*n - 1].path2) ? 0 : -ENOMEM;
}

int image_write_archives(Tree *t, const Project *p, const Image *im, const char *images_dir,
                         const ImageOutputOptions *o, Diagnostics *d, ImageOutput **ret, size_t *ret_n) {
        _cleanup_(tree_archive_release) TreeArchive tar = {};
        Pending pend[8] = {};
        size_t n_pend = 0;
        ImageOutput *outs = NULL;
        size_t n_outs = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = mkdir_parents(images_dir, 0755);
        if (r < 0) {
                diag_error(d, NULL, "cannot make '%s': %s", images_dir, strerror(-r));
                return -EINVAL;
        }
        /* The OCI writer takes the layer in memory; the tarballs are
         * streamed through the compressor and never held whole. */
        if (im->format_mask & (1u << IMAGE_FORMAT_OCI)) {
                r = tree_archive(t, TREE_ARCHIVE_TAR, &tar);
                if (r < 0)
                        goto finish;
        }
        if (im->format_mask & (1u << IMAGE_FORMAT_TAR)) {
                _cleanup_free_ char *path = NULL;
                uint64_t zl = 0;
                if (asprintf(&path, "%s/%s.tar.zst", images_dir, im->name) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = stream_pending(t, path, false, o->jobs, &pend[n_pend], &zl);
                if (r < 0)
                        goto finish;
                n_pend++;
                if ((r = add_output(&outs, &n_outs, IMAGE_FORMAT_TAR, path, NULL, zl)) < 0)
                        goto finish;
        }
        if (im->format_mask & (1u << IMAGE_FORMAT_WSL)) {
                _cleanup_free_ char *path = NULL;
                uint64_t zl = 0;
                if (asprintf(&path, "%s/%s.wsl", images_dir, im->name) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = wsl_write(t, p, im, path, o->jobs, &pend[n_pend], &zl);
                if (r < 0)
                        goto finish;
                n_pend++;
                if ((r = add_output(&outs, &n_outs, IMAGE_FORMAT_WSL, path, NULL, zl)) < 0)
                        goto finish;
        }
        if (im->format_mask & (1u << IMAGE_FORMAT_CPIO)) {
                _cleanup_(tree_archive_release) TreeArchive c = {};
                _cleanup_free_ uint8_t *z = NULL;
                _cleanup_free_ char *path = NULL;
                size_t zl;
                if (asprintf(&path, "%s/%s.cpio.%s", images_dir, im->name, o->cpio_gzip ? "gz" : "zst") < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = tree_archive(t, TREE_ARCHIVE_CPIO, &c);
                /* The kernel's initramfs unpacker reads both (CONFIG_RD_ZSTD,
                 * CONFIG_RD_GZIP); zstd frames carry their size for it. */
                if (r >= 0)
                        r = o->cpio_gzip ? gzip_compress(c.data, c.len, &z, &zl) : zstd_compress(c.data, c.len, 19, &z, &zl);
                if (r >= 0)
                        r = write_pending(path, z, zl, &pend[n_pend]);
                if (r < 0)
                        goto finish;
                n_pend++;
                if ((r = add_output(&outs, &n_outs, IMAGE_FORMAT_CPIO, path, NULL, zl)) < 0)
                        goto finish;
        }
        if (im->format_mask & (1u << IMAGE_FORMAT_OCI)) {
                _cleanup_free_ char *dir = NULL, *archive = NULL;
                size_t ne = 0;
                if (asprintf(&dir, "%s/%s.oci", images_dir, im->name) < 0 ||
                    asprintf(&archive, "%s/%s.oci.tar", images_dir, im->name) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                const Container *c = &im->container;
                _cleanup_free_ const char **ep = NULL, **cmd = NULL, **env = NULL;
                ep = new0(const char *, c->entrypoint.n + 1);
                cmd = new0(const char *, c->cmd.n + 1);
                env = new0(const char *, c->env.n + 2);
                if (!ep || !cmd || !env) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t i = 0; i < c->entrypoint.n; i++)
                        ep[i] = c->entrypoint.items[i];
                for (size_t i = 0; i < c->cmd.n; i++)
                        cmd[i] = c->cmd.items[i];
                bool has_path = false;
                for (size_t i = 0; i < c->env.n; i++) {
                        env[ne++] = c->env.items[i];
                        has_path = has_path || strncmp(c->env.items[i], "PATH=", 5) == 0;
                }
                /* What container engines set when an image has no PATH. */
                if (!has_path)
                        env[ne++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
                OciConfig cfg = {
                        .entrypoint = c->entrypoint.n ? ep : NULL,
                        .cmd = c->cmd.n ? cmd : NULL,
                        .env = env,
                        .label_keys = (const char *const *) c->labels.keys,
                        .label_values = (const char *const *) c->labels.values,
                        .n_labels = c->labels.n,
                        .user = c->user,
                        .workdir = c->workdir,
                        .architecture = oci_arch(p->arch),
                        .tag = c->tag ? c->tag : p->project.version,
                        .created = (int64_t) p->source_date_epoch,
                        .jobs = o->jobs,
                };
                r = oci_write(dir, archive, &cfg, tar.data, tar.len);
                if (r < 0) {
                        diag_error(d, NULL, "image '%s': cannot write the OCI image: %s", im->name,
                                   r == -EINVAL ? "the container configuration is not valid OCI"
                                   : r == -ENOTEMPTY ? "the output directory exists and is not an OCI layout"
                                                     : strerror(-r));
                        r = -EINVAL;
                        goto finish;
                }
                struct stat st;
                if ((r = add_output(&outs, &n_outs, IMAGE_FORMAT_OCI, dir, archive,
                                    stat(archive, &st) == 0 ? (uint64_t) st.st_size : 0)) < 0)
                        goto finish;
        }
        unsigned disks = im->format_mask & ((1u << IMAGE_FORMAT_RAW) | (1u << IMAGE_FORMAT_VHD) |
                                            (1u << IMAGE_FORMAT_VHDX) | (1u << IMAGE_FORMAT_QCOW2));
        if (disks) {
                /* Last: the disks add /etc/fstab to the tree. */
                DiskOutput dout[4] = {};
                size_t n_dout = 0;
                DiskOutputOptions dopt = { .jobs = o->jobs, .cpio_gzip = o->cpio_gzip };
                r = image_write_disks(t, p, im, images_dir, disks, &dopt, d, dout, &n_dout);
                for (size_t k = 0; k < n_dout; k++) {
                        pend[n_pend++] = (Pending) { .tmp = dout[k].tmp, .final = dout[k].final };
                        if (r >= 0)
                                r = add_output(&outs, &n_outs, dout[k].format, dout[k].final, NULL, dout[k].size);
                }
                if (r < 0)
                        goto finish;
        }
        if (im->format_mask & (1u << IMAGE_FORMAT_ISO)) {
                /* After the disks: it takes the kernel file out of the tree. */
                _cleanup_free_ char *tmp = NULL, *final = NULL;
                uint64_t size = 0;
                if (asprintf(&final, "%s/%s.iso", images_dir, im->name) < 0 ||
                    asprintf(&tmp, "%s/%s.iso.tmp.%d", images_dir, im->name, (int) getpid()) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = image_write_iso(t, p, im, images_dir, o->cpio_gzip, tmp, &size, d);
                if (r < 0)
                        goto finish;
                pend[n_pend++] = (Pending) { .tmp = TAKE_PTR(tmp), .final = TAKE_PTR(final) };
                if ((r = add_output(&outs, &n_outs, IMAGE_FORMAT_ISO, pend[n_pend - 1].final, NULL, size)) < 0)
                        goto finish;
        }
        /* Everything is written: the pending files take their names. */
        for (size_t i = 0; i < n_pend; i++)
                if (rename(pend[i].tmp, pend[i].final) < 0) {
                        r = -errno;
                        goto finish;
                }
        n_pend = 0;
        *ret = TAKE_PTR(outs);
        *ret_n = n_outs;
        r = 0;
finish:
        for (size_t i = 0; i < ELEMENTSOF(pend); i++) {
                if (i < n_pend && pend[i].tmp)
                        (void) unlink(pend[i].tmp);
                free(pend[i].tmp);
                free(pend[i].final);
        }
        image_outputs_free(outs, n_outs);
        if (r < 0 && r != -EINVAL && r != -ENOMEM)
                diag_error(d, NULL, "image '%s': cannot write its outputs to '%s': %s", im->name, images_dir,
                           strerror(-r));
        return r < 0 && r != -ENOMEM ? -EINVAL : r;
}
