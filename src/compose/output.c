/* SPDX-License-Identifier: MIT */

/* The outputs of an image: one table of writers (format, file extension,
 * write function; writer.h) and one publishing step (basic/publish.h).
 * Every output, and the image's SBOM (NAME.spdx.json, out-sbom.c), is
 * written under a temporary name beside its final path from the image's
 * frozen tree; only when every writer succeeded are they
 * all renamed into place, so a failure leaves no new file at any final path
 * of the image and earlier outputs as they were. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/process.h"
#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/publish.h"
#include "compose/compose.h"
#include "compose/writer.h"

/* In the order they are written (and listed); the disk rows share one
 * function, called once for all of them. */
static const ImageWriter writers[] = {
        { IMAGE_FORMAT_OCI, "oci", true, "oci-layout", "oci.tar", writer_oci },
        { IMAGE_FORMAT_TAR, "tar.zst", false, NULL, NULL, writer_tar },
        { IMAGE_FORMAT_WSL, "wsl", false, NULL, NULL, writer_wsl },
        { IMAGE_FORMAT_CPIO, "cpio.zst", false, NULL, NULL, writer_cpio },
        { IMAGE_FORMAT_RAW, "raw", false, NULL, NULL, writer_disk },
        { IMAGE_FORMAT_VHD, "vhd", false, NULL, NULL, writer_disk },
        { IMAGE_FORMAT_VHDX, "vhdx", false, NULL, NULL, writer_disk },
        { IMAGE_FORMAT_QCOW2, "qcow2", false, NULL, NULL, writer_disk },
        { IMAGE_FORMAT_ISO, "iso", false, NULL, NULL, writer_iso },
};

static const char *extension(const ImageWriter *w, const ImageOutputOptions *o) {
        /* `--compress gzip` makes initrds the kernel's other format. */
        if (w->format == IMAGE_FORMAT_CPIO && o->cpio_gzip)
                return "cpio.gz";
        return w->extension;
}

void image_outputs_free(ImageOutput *o, size_t n) {
        for (size_t i = 0; o && i < n; i++) {
                free(o[i].path);
                free(o[i].path2);
        }
        free(o);
}

/* A test hook (docs/development.md): SLIPWAY_TEST_FAIL_FORMAT=FORMAT makes
 * that format's writer fail after it wrote its outputs, so the tests can
 * check that nothing of the image is published. */
static bool injected_failure(ImageFormat f) {
        const char *e = secure_getenv("SLIPWAY_TEST_FAIL_FORMAT");
        return e && strcmp(e, image_format_to_string(f)) == 0;
}

static int report(const Image *im, const char *path, int r, Diagnostics *d) {
        if (r == -EEXIST)
                diag_error(d, NULL, "image '%s': '%s' exists and is not an output of this kind: remove it or choose another output directory",
                           im->name, path);
        else if (r != -EINVAL && r != -ENOMEM)
                diag_error(d, NULL, "image '%s': cannot write '%s': %s", im->name, path, strerror(-r));
        return r == -ENOMEM ? r : -EINVAL;
}

int image_write_outputs(const Tree *t, const Project *p, const Image *im, const char *images_dir,
                        const ImageOutputOptions *o, Diagnostics *d, ImageOutput **ret, size_t *ret_n) {
        _cleanup_(publish_freep) Publish *pub = publish_new();
        WriterSlot slots[ELEMENTSOF(writers)] = {};
        const ImageWriter *rows[ELEMENTSOF(writers)];
        char *finals[ELEMENTSOF(writers)][2] = {};
        _cleanup_free_ char *sbom_final = NULL;
        const char *sbom_tmp = NULL;
        uint64_t sbom_size = 0;
        double sbom_seconds = 0;
        size_t n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!pub)
                return -ENOMEM;
        r = mkdir_parents(images_dir, 0755);
        if (r < 0) {
                diag_error(d, NULL, "cannot make '%s': %s", images_dir, strerror(-r));
                return -EINVAL;
        }

        /* Every output's temporary name first: a final path that may not be
         * replaced stops the image before anything is written. */
        for (size_t i = 0; i < ELEMENTSOF(writers); i++) {
                const ImageWriter *w = &writers[i];
                if (!(im->format_mask & (1u << w->format)))
                        continue;
                rows[n] = w;
                slots[n].format = w->format;
                if (asprintf(&finals[n][0], "%s/%s.%s", images_dir, im->name, extension(w, o)) < 0 ||
                    (w->extension2 && asprintf(&finals[n][1], "%s/%s.%s", images_dir, im->name, w->extension2) < 0)) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
                const char *at = finals[n - 1][0];
                r = w->directory ? publish_add_dir(pub, at, w->marker, &slots[n - 1].tmp)
                                 : publish_add_file(pub, at, 0644, &slots[n - 1].tmp);
                if (r >= 0 && w->extension2) {
                        at = finals[n - 1][1];
                        r = publish_add_file(pub, at, 0644, &slots[n - 1].tmp2);
                }
                if (r < 0) {
                        r = report(im, at, r, d);
                        goto finish;
                }
        }

        /* The SBOM first: it is cheap, and a database it cannot read stops
         * the image before the formats are written. */
        if (im->sbom != SBOM_NONE) {
                if (asprintf(&sbom_final, "%s/%s.spdx.json", images_dir, im->name) < 0) {
                        sbom_final = NULL;
                        r = -ENOMEM;
                        goto finish;
                }
                r = publish_add_file(pub, sbom_final, 0644, &sbom_tmp);
                if (r >= 0) {
                        WriterContext c = { .tree = t, .p = p, .im = im, .images_dir = images_dir, .o = o, .d = d };
                        double t0 = monotonic_seconds();
                        r = image_write_sbom(&c, sbom_tmp, &sbom_size);
                        sbom_seconds = monotonic_seconds() - t0;
                }
                if (r < 0) {
                        r = report(im, sbom_final, r, d);
                        goto finish;
                }
        }

        /* Each writer once, with every slot of its rows. */
        for (size_t i = 0; i < n; i++) {
                bool first = true;
                for (size_t k = 0; k < i; k++)
                        first = first && rows[k]->write != rows[i]->write;
                if (!first)
                        continue;
                WriterSlot group[ELEMENTSOF(writers)];
                size_t ng = 0, at[ELEMENTSOF(writers)];
                for (size_t k = i; k < n; k++)
                        if (rows[k]->write == rows[i]->write) {
                                at[ng] = k;
                                group[ng++] = slots[k];
                        }
                WriterContext c = { .tree = t, .p = p, .im = im, .images_dir = images_dir, .o = o, .d = d };
                r = rows[i]->write(&c, group, ng);
                for (size_t k = 0; k < ng; k++)
                        slots[at[k]] = group[k];
                for (size_t k = 0; r >= 0 && k < ng; k++)
                        if (injected_failure(group[k].format)) {
                                diag_error(d, NULL, "image '%s': %s: failure injected by SLIPWAY_TEST_FAIL_FORMAT",
                                           im->name, image_format_to_string(group[k].format));
                                r = -EINVAL;
                        }
                if (r < 0) {
                        r = report(im, finals[i][0], r, d);
                        goto finish;
                }
        }

        r = publish_commit(pub);
        if (r < 0) {
                r = report(im, publish_failed_path(pub), r, d);
                goto finish;
        }

        ImageOutput *outs = new0(ImageOutput, n + 1);
        if (!outs) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                outs[i] = (ImageOutput) { .format = slots[i].format, .path = TAKE_PTR(finals[i][0]),
                                          .path2 = TAKE_PTR(finals[i][1]), .size = slots[i].size,
                                          .n_verity = slots[i].n_verity };
                memcpy(outs[i].verity, slots[i].verity, sizeof outs[i].verity);
        }
        if (sbom_final)
                outs[n++] = (ImageOutput) { .sbom = true, .path = TAKE_PTR(sbom_final), .size = sbom_size,
                                            .seconds = sbom_seconds };
        *ret = outs;
        *ret_n = n;
        r = 0;
finish:
        for (size_t i = 0; i < ELEMENTSOF(writers); i++) {
                free(finals[i][0]);
                free(finals[i][1]);
        }
        return r;
}
