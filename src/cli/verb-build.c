/* SPDX-License-Identifier: MIT */

/* `slipway build [NAME...]`: the whole pipeline, from the project's sources
 * to its images: package (build, sign, index the repository), then image. */

#include <jansson.h>

#include "cli.h"

int verb_build(const Context *ctx, int argc, char **argv) {
        /* The result combines the stages' results: {"package": ..., "image":
         * ...}, image null when the packages failed (docs/cli.md). */
        Context pc = *ctx;
        pc.compress = NULL; /* --compress is the images' (cpio) */
        int r = verb_package(&pc, 0, NULL);
        json_t *package = cli_result_take();
        if (r != EXIT_OK) {
                log_error("the packages did not build: no image was composed");
                cli_result_set(json_pack("{s:o, s:n}", "package", package ? package : json_null(), "image"));
                return r;
        }
        r = verb_image(ctx, argc, argv);
        json_t *image = cli_result_take();
        cli_result_set(json_pack("{s:o, s:o}", "package", package ? package : json_null(), "image",
                                 image ? image : json_null()));
        return r;
}
