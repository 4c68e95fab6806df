/* SPDX-License-Identifier: MIT */

/* `slipway image [NAME...]`: compose images from the project's repository and
 * its [repos], and write their outputs to OUT/images. */

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "cli.h"
#include "compose/compose.h"
#include "compose/platform.h"
#include "sign/keyfile.h"

static const char *human_size(uint64_t n, char buf[static 32]) {
        if (n >= 10ull << 20)
                snprintf(buf, 32, "%.1f MiB", (double) n / (1 << 20));
        else if (n >= 10ull << 10)
                snprintf(buf, 32, "%.1f KiB", (double) n / (1 << 10));
        else
                snprintf(buf, 32, "%" PRIu64 " bytes", n);
        return buf;
}

static json_t *strv_json(char **v, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, cli_json_string(v[i]));
        return a;
}

/* The text of one image's report (an element of "images"). */
static void print_image(const json_t *ji) {
        const json_t *v;
        size_t k;
        printf("image %s: %zu package%s, %lld files", json_string_value(json_object_get(ji, "name")),
               json_array_size(json_object_get(ji, "packages")),
               json_array_size(json_object_get(ji, "packages")) == 1 ? "" : "s",
               (long long) json_integer_value(json_object_get(ji, "nodes")));
        long long run = (long long) json_integer_value(json_object_get(ji, "scriptlets_run"));
        if (run > 0)
                printf(", %lld scriptlet%s run", run, run == 1 ? "" : "s");
        if (json_is_string(json_object_get(ji, "selinux_policy")))
                printf(", %lld labelled (SELinux policy %s)",
                       (long long) json_integer_value(json_object_get(ji, "labelled")),
                       json_string_value(json_object_get(ji, "selinux_policy")));
        printf("\n");
        json_array_foreach(json_object_get(ji, "outputs"), k, v) {
                char buf[32];
                const char *archive = json_string_value(json_object_get(v, "archive"));
                printf("  %-5s %s%s%s (%s)\n", json_string_value(json_object_get(v, "format")),
                       json_string_value(json_object_get(v, "path")), archive ? ", " : "", archive ? archive : "",
                       human_size((uint64_t) json_integer_value(json_object_get(v, "size")), buf));
        }
        /* What `veritysetup verify DATA HASH ROOTHASH` takes. */
        json_array_foreach(json_object_get(ji, "verity"), k, v)
                printf("  verity %s: root hash %s (data partition %lld, hash partition %lld)\n",
                       json_string_value(json_object_get(v, "mount")), json_string_value(json_object_get(v, "root_hash")),
                       (long long) json_integer_value(json_object_get(v, "data_partition")),
                       (long long) json_integer_value(json_object_get(v, "hash_partition")));
}

/* The verity partitions of an image's disks (the same in every disk format). */
static json_t *verity_json(const ImageOutput *outs, size_t n) {
        json_t *a = json_array();
        for (size_t k = 0; k < n; k++) {
                if (!outs[k].n_verity)
                        continue;
                for (size_t i = 0; i < outs[k].n_verity; i++) {
                        const ImageVerity *v = &outs[k].verity[i];
                        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:f}", "mount", v->mount,
                                                           "root_hash", v->root_hash, "data_partition",
                                                           (json_int_t) v->data_partition, "data_partuuid",
                                                           v->data_partuuid, "hash_partition",
                                                           (json_int_t) v->hash_partition, "hash_partuuid",
                                                           v->hash_partuuid, "seconds", v->seconds));
                }
                break;
        }
        return a;
}

typedef struct TreeSet {
        Tree **items;
        size_t n;
} TreeSet;

static void tree_set_release(TreeSet *s) {
        for (size_t i = 0; s->items && i < s->n; i++)
                tree_free(s->items[i]);
        free(s->items);
}

int verb_image(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(project_freep) Project *p = NULL;
        _cleanup_(source_set_release) SourceSet src = {};
        int r;

        if (ctx->compress && strcmp(ctx->compress, "zstd") != 0 && strcmp(ctx->compress, "gzip") != 0) {
                log_error("--compress takes zstd or gzip, not '%s'", ctx->compress);
                return EXIT_USAGE;
        }
        r = project_load(ctx->dir, &diag, &p);
        if (r < 0) {
                log_diagnostics(&diag);
                if (r == -ENOMEM)
                        log_error_errno(r, "cannot load the project in '%s'", ctx->dir);
                return EXIT_FAILURE_USER;
        }

        /* Which images: the named ones (each once), else all. */
        _cleanup_free_ const Image **chosen = new0(const Image *, p->images.n + 1);
        size_t n_chosen = 0;
        if (!chosen)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot compose"));
        if (argc == 0)
                for (size_t i = 0; i < p->images.n; i++)
                        chosen[n_chosen++] = &p->images.items[i];
        for (int i = 0; i < argc; i++) {
                const Image *im = project_find_image(p, argv[i]);
                if (!im) {
                        _cleanup_strbuf_ StrBuf names = STRBUF_INIT;
                        for (size_t k = 0; k < p->images.n; k++)
                                strbuf_printf(&names, "%s%s", k == 0 ? "; images: " : ", ", p->images.items[k].name);
                        log_diagnostics(&diag);
                        log_error("no image '%s' in the project%s", argv[i], names.oom ? "" : names.len ? names.buf : "");
                        return EXIT_FAILURE_USER;
                }
                bool dup = false;
                for (size_t k = 0; k < n_chosen; k++)
                        dup = dup || chosen[k] == im;
                if (!dup)
                        chosen[n_chosen++] = im;
        }
        if (n_chosen == 0) {
                log_diagnostics(&diag);
                log_error("the project has no [images]");
                return EXIT_FAILURE_USER;
        }
        /* An image's initrd image is composed before it (and with it, when
         * only the image was named): the boot writers read its output. So
         * is an installer ISO's image, with its initrd: the ISO carries its
         * raw disk. */
        _cleanup_free_ const Image **order = new0(const Image *, 4 * n_chosen + 1);
        size_t n_order = 0;
        if (!order)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot compose"));
        for (size_t i = 0; i < n_chosen; i++) {
                const Image *target = chosen[i]->install ? project_find_image(p, chosen[i]->install) : NULL;
                const Image *want[4] = {
                        target && target->initrd ? project_find_image(p, target->initrd) : NULL,
                        target,
                        chosen[i]->initrd ? project_find_image(p, chosen[i]->initrd) : NULL,
                        chosen[i],
                };
                for (size_t w = 0; w < 4; w++) {
                        bool dup = !want[w];
                        for (size_t k = 0; k < n_order && !dup; k++)
                                dup = order[k] == want[w];
                        if (!dup)
                                order[n_order++] = want[w];
                }
        }
        for (size_t i = 0; i < n_order; i++)
                chosen[i] = order[i];
        n_chosen = n_order;

        _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(p, "out");
        _cleanup_free_ char *images_dir = out ? path_join(out, "images") : NULL;
        if (!images_dir)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot compose"));

        r = run_lock_output(out);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot lock the output directory '%s'", out));
        if (r > 0)
                log_debug("removed %d temporary file%s that interrupted runs left in '%s'", r, r == 1 ? "" : "s", out);

        r = source_set_open(p, out, true, &src, &diag);
        if (r < 0) {
                log_diagnostics(&diag);
                if (r == -ENOMEM)
                        log_error_errno(r, "cannot read the repositories");
                else
                        fprintf(stderr, "slipway: no image was composed\n");
                return EXIT_FAILURE_USER;
        }

        /* The trees of initrd images that a platform check reads (an Azure
         * image's initrd must hold the Hyper-V drivers), by image index, kept
         * until the image that names them is composed (after them). */
        _cleanup_(tree_set_release) TreeSet initrd_trees = { new0(Tree *, p->images.n + 1), p->images.n };
        if (!initrd_trees.items)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot compose"));

        ImageOutputOptions oo = { .cpio_gzip = ctx->compress && strcmp(ctx->compress, "gzip") == 0, .jobs = ctx->jobs };
        json_t *jimages = json_array();
        size_t failed = 0;
        for (size_t i = 0; i < n_chosen; i++) {
                const Image *im = chosen[i];
                _cleanup_(compose_result_release) ComposeResult res = {};
                ImageOutput *outs = NULL;
                size_t n_outs = 0;
                size_t errors_before = diag.n_errors;

                r = compose_image(p, im, src.items, src.n, ctx->jobs, &diag, &res);
                _cleanup_free_ SbomFetched *fetched = r >= 0 ? new0(SbomFetched, res.n_packages + 1) : NULL;
                if (r >= 0 && !fetched)
                        r = -ENOMEM;
                for (size_t k = 0; r >= 0 && k < res.n_packages; k++)
                        fetched[k] = (SbomFetched) { res.packages[k], res.package_sha256[k], res.package_url[k] };
                oo.sbom_fetched = fetched;
                oo.n_sbom_fetched = r >= 0 ? res.n_packages : 0;
                if (r >= 0)
                        r = image_write_outputs(res.tree, p, im, images_dir, &oo, &diag, &outs, &n_outs);
                if (r >= 0) {
                        const Image *ini = im->initrd ? project_find_image(p, im->initrd) : NULL;
                        r = platform_check_composed(im, res.tree, ini ? initrd_trees.items[ini - p->images.items] : NULL,
                                                    &diag);
                }
                if (r == -ENOMEM) {
                        log_diagnostics(&diag);
                        json_decref(jimages);
                        return exit_status_from(log_error_errno(r, "cannot compose image '%s'", im->name));
                }
                if (r < 0) {
                        if (diag.n_errors == errors_before)
                                diag_error(&diag, NULL, "image '%s' failed: %s", im->name, strerror(-r));
                        failed++;
                        continue;
                }
                size_t n_nodes = tree_size(res.tree);
                for (size_t k = 0; k < n_chosen; k++)
                        if (chosen[k]->platform != IMAGE_PLATFORM_NONE && chosen[k]->initrd &&
                            strcmp(chosen[k]->initrd, im->name) == 0 && !initrd_trees.items[im - p->images.items]) {
                                initrd_trees.items[im - p->images.items] = TAKE_PTR(res.tree);
                                break;
                        }
                json_t *jo = json_array();
                for (size_t k = 0; k < n_outs; k++) {
                        json_t *o = json_pack("{s:s, s:o, s:o, s:I}", "format",
                                              outs[k].sbom ? "sbom" : image_format_to_string(outs[k].format), "path",
                                              cli_json_string(outs[k].path), "archive", cli_json_string(outs[k].path2),
                                              "size", (json_int_t) outs[k].size);
                        if (o && outs[k].sbom)
                                json_object_set_new(o, "seconds", json_real(outs[k].seconds));
                        json_array_append_new(jo, o);
                }
                json_t *jverity = verity_json(outs, n_outs);
                image_outputs_free(outs, n_outs);
                json_t *ji = json_pack("{s:s, s:o, s:I, s:o, s:I, s:o, s:I, s:o, s:o}", "name", im->name, "packages",
                                       strv_json(res.packages, res.n_packages), "scriptlets_run",
                                       (json_int_t) res.n_scriptlets_run, "scriptlets_not_run",
                                       strv_json(res.scriptlets, res.n_scriptlets), "nodes", (json_int_t) n_nodes,
                                       "selinux_policy", cli_json_string(res.selinux_policy), "labelled",
                                       (json_int_t) res.n_labelled, "outputs", jo, "verity", jverity);
                if (!ji || json_array_append_new(jimages, ji) < 0) {
                        json_decref(jimages);
                        return exit_status_from(log_error_errno(-ENOMEM, "cannot describe image '%s'", im->name));
                }
                if (!ctx->json && log_get_level() >= LOG_NORMAL)
                        print_image(ji);
        }
        log_diagnostics(&diag);
        cli_result_set(json_pack("{s:o, s:I}", "images", jimages, "failed", (json_int_t) failed));
        if (failed > 0) {
                fprintf(stderr, "slipway: %zu of %zu image%s failed\n", failed, n_chosen, n_chosen == 1 ? "" : "s");
                return EXIT_FAILURE_USER;
        }
        return EXIT_OK;
}
