/* SPDX-License-Identifier: MIT */

/* `slipway build [NAME...]`: the whole pipeline, from the project's sources
 * to its images: package (build, sign, index the repository), then image. */

#include "cli.h"

int verb_build(const Context *ctx, int argc, char **argv) {
        /* With --json, the image report is the one document on stdout. */
        Context pc = *ctx;
        pc.json = false;
        pc.compress = NULL; /* --compress is the images' (cpio) */
        int r = verb_package(&pc, 0, NULL);
        if (r != EXIT_OK) {
                log_error("the packages did not build: no image was composed");
                return r;
        }
        return verb_image(ctx, argc, argv);
}
