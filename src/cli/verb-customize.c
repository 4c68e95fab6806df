/* SPDX-License-Identifier: MIT */

/* `slipway customize`: Image Customizer's command line
 * (--image-file, --config, --output-image-file, --output-image-format) over
 * a standalone configuration file, or a project's [customizations.NAME]. */

#include <jansson.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "cli.h"
#include "customize/customize.h"

/* The formats customize writes, by --output-image-format value or OUT's
 * extension. */
static const struct {
        const char *name;
        ImageFormat format;
} format_names[] = {
        { "raw", IMAGE_FORMAT_RAW },   { "img", IMAGE_FORMAT_RAW },     { "vhd", IMAGE_FORMAT_VHD },
        { "vpc", IMAGE_FORMAT_VHD },   { "vhdx", IMAGE_FORMAT_VHDX },   { "qcow2", IMAGE_FORMAT_QCOW2 },
        { "tar", IMAGE_FORMAT_TAR },   { "tar.zst", IMAGE_FORMAT_TAR }, { "oci", IMAGE_FORMAT_OCI },
        { "oci.tar", IMAGE_FORMAT_OCI }, { "iso", IMAGE_FORMAT_ISO },
};

static ImageFormat format_lookup(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(format_names); i++)
                if (strcasecmp(format_names[i].name, s) == 0)
                        return format_names[i].format;
        return _IMAGE_FORMAT_INVALID;
}

static ImageFormat format_of_path(const char *path) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (strlen(base) > 8 && strcmp(base + strlen(base) - 8, ".tar.zst") == 0)
                return IMAGE_FORMAT_TAR;
        if (strlen(base) > 8 && strcmp(base + strlen(base) - 8, ".oci.tar") == 0)
                return IMAGE_FORMAT_OCI;
        const char *dot = strrchr(base, '.');
        return dot ? format_lookup(dot + 1) : _IMAGE_FORMAT_INVALID;
}

static const char *extension(ImageFormat f) {
        return f == IMAGE_FORMAT_TAR ? "tar.zst" : f == IMAGE_FORMAT_OCI ? "oci.tar" : image_format_to_string(f);
}

static int run(Project *p, const Customization *c, const char *input, CustomizeOutput *outs, size_t n,
               const char *out_dir, const Context *ctx, Diagnostics *diag) {
        CustomizeOptions o = { .input = input, .out_dir = out_dir, .outputs = outs, .n_outputs = n, .jobs = ctx->jobs };
        _cleanup_(customize_result_release) CustomizeResult res = {};
        int r = customize_image(p, c, &o, diag, &res);
        log_diagnostics(diag);
        if (r < 0) {
                if (diag->n_errors == 0)
                        log_error_errno(r, "cannot customize '%s'", input);
                return EXIT_FAILURE_USER;
        }
        json_t *jo = json_array();
        for (size_t i = 0; jo && i < n; i++) {
                log_info("  %-6s %s", image_format_to_string(outs[i].format), outs[i].path);
                json_array_append_new(jo, json_pack("{s:s, s:o, s:I}", "format", image_format_to_string(outs[i].format),
                                                    "path", cli_json_string(outs[i].path),
                                                    "size", (json_int_t) (i < ELEMENTSOF(res.sizes) ? res.sizes[i] : 0)));
        }
        size_t n_scripts = res.n_scripts[SCRIPT_STAGE_POST] + res.n_scripts[SCRIPT_STAGE_FINALIZE];
        log_info("customized %s (%s, %zu partitions, %zu file systems read, %zu entries; %zu packages installed, "
                 "%zu removed, %zu scriptlets run; %zu boot loader files changed, %zu nodes labelled, %zu scripts run)",
                 input, res.input_format, res.n_partitions, res.n_loaded, res.n_entries, res.n_installed, res.n_removed,
                 res.n_scriptlets_run, res.n_cmdline_files, res.n_labelled, n_scripts);
        json_t *j = json_pack("{s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
                              "customization", c->im.name,
                              "input", cli_json_string(input), "input_format", res.input_format, "input_size",
                              (json_int_t) res.input_size, "output_size", (json_int_t) res.output_size, "partitions",
                              (json_int_t) res.n_partitions, "filesystems", (json_int_t) res.n_loaded, "entries",
                              (json_int_t) res.n_entries, "packages_installed", (json_int_t) res.n_installed,
                              "packages_removed", (json_int_t) res.n_removed, "scriptlets_run",
                              (json_int_t) res.n_scriptlets_run, "labelled", (json_int_t) res.n_labelled, "scripts",
                              (json_int_t) n_scripts, "selinux_policy",
                              res.selinux_policy ? json_string(res.selinux_policy) : json_null(), "outputs",
                              jo ? jo : json_array());
        if (!j)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the customization"));
        cli_result_set(j);
        return EXIT_OK;
}

/* --image-file IN --config FILE --output-image-file OUT. */
static int standalone(const Context *ctx) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(project_freep) Project *p = NULL;
        if (!ctx->image_file || !ctx->output_image_file) {
                log_error("customize with --config needs --image-file IN and --output-image-file OUT");
                return EXIT_USAGE;
        }
        const char *cfg = ctx->config_file;
        int r = project_load_customization(cfg, &diag, &p);
        for (unsigned i = 0; r >= 0 && i < ctx->n_rpm_sources; i++)
                r = project_add_rpm_source(p, ctx->rpm_sources[i], &diag);
        if (r < 0) {
                log_diagnostics(&diag);
                if (diag.n_errors == 0)
                        log_error_errno(r, "cannot read '%s'", cfg);
                return EXIT_FAILURE_USER;
        }
        ImageFormat f = ctx->output_image_format ? format_lookup(ctx->output_image_format)
                                                 : format_of_path(ctx->output_image_file);
        if (f < 0) {
                log_diagnostics(&diag);
                if (ctx->output_image_format)
                        log_error("unknown output image format '%s': expected raw, vhd (or vpc), vhdx, qcow2, iso, tar or oci",
                                  ctx->output_image_format);
                else
                        log_error("'%s': cannot tell the output format from its name: use .raw, .img, .vhd, .vhdx, "
                                  ".qcow2, .iso, .tar.zst or .oci.tar, or --output-image-format",
                                  ctx->output_image_file);
                return EXIT_USAGE;
        }
        CustomizeOutput out = { .path = ctx->output_image_file, .format = f };
        return run(p, &p->customizations.items[0], ctx->image_file, &out, 1, NULL, ctx, &diag);
}

/* NAME of the project: its base, its formats into OUT/customizations/. */
static int project_mode(const Context *ctx, const char *name) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(project_freep) Project *p = NULL;
        int r = project_load(ctx->dir, &diag, &p);
        if (r < 0) {
                log_diagnostics(&diag);
                if (r == -ENOMEM)
                        log_error_errno(r, "cannot load the project in '%s'", ctx->dir);
                return EXIT_FAILURE_USER;
        }
        const Customization *c = NULL;
        if (name)
                c = project_find_customization(p, name);
        else if (p->customizations.n == 1)
                c = &p->customizations.items[0];
        if (!c) {
                _cleanup_strbuf_ StrBuf names = STRBUF_INIT;
                for (size_t k = 0; k < p->customizations.n; k++)
                        strbuf_printf(&names, "%s%s", k == 0 ? "; customizations: " : ", ", p->customizations.items[k].im.name);
                log_diagnostics(&diag);
                if (name)
                        log_error("no customization '%s' in the project%s", name, names.len ? names.buf : "");
                else
                        log_error("name the customization to run%s", p->customizations.n ? names.buf : ": the project has none");
                return EXIT_FAILURE_USER;
        }
        _cleanup_free_ char *input = project_path(p, c->base);
        _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(p, "out");
        _cleanup_free_ char *dir = out ? path_join(out, "customizations") : NULL;
        if (!input || !dir)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot customize"));
        CustomizeOutput outs[_IMAGE_FORMAT_MAX];
        char *paths[_IMAGE_FORMAT_MAX] = {};
        size_t n = 0;
        if (ctx->output_image_file) {
                ImageFormat f = ctx->output_image_format ? format_lookup(ctx->output_image_format)
                                                         : format_of_path(ctx->output_image_file);
                if (f < 0) {
                        log_error("'%s': cannot tell the output format: use a known extension or --output-image-format",
                                  ctx->output_image_file);
                        return EXIT_USAGE;
                }
                outs[n++] = (CustomizeOutput) { .path = ctx->output_image_file, .format = f };
        } else {
                unsigned mask = c->im.format_mask;
                if (!mask) {
                        /* The base's own format, from its name. */
                        ImageFormat f = format_of_path(c->base);
                        mask = f >= 0 ? 1u << f : 1u << IMAGE_FORMAT_RAW;
                }
                if ((r = mkdir_parents(dir, 0755)) < 0)
                        return exit_status_from(log_error_errno(r, "cannot create '%s'", dir));
                for (int f = 0; f < _IMAGE_FORMAT_MAX; f++)
                        if (mask & (1u << f)) {
                                if (asprintf(&paths[n], "%s/%s.%s", dir, c->im.name, extension((ImageFormat) f)) < 0)
                                        return exit_status_from(log_error_errno(-ENOMEM, "cannot customize"));
                                outs[n] = (CustomizeOutput) { .path = paths[n], .format = (ImageFormat) f };
                                n++;
                        }
        }
        r = run(p, c, input, outs, n, out, ctx, &diag);
        for (size_t i = 0; i < n; i++)
                free(paths[i]);
        return r;
}

int verb_customize(const Context *ctx, int argc, char **argv) {
        if (ctx->config_file) {
                if (argc > 0) {
                        log_error("customize takes a NAME of the project or --config FILE, not both");
                        return EXIT_USAGE;
                }
                return standalone(ctx);
        }
        if (ctx->image_file || ctx->n_rpm_sources) {
                log_error("%s needs --config FILE (a project's customization takes its [repos] and base from the "
                          "project)",
                          ctx->image_file ? "--image-file" : "--rpm-source");
                return EXIT_USAGE;
        }
        return project_mode(ctx, argc > 0 ? argv[0] : NULL);
}
