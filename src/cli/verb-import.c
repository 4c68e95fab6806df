/* SPDX-License-Identifier: MIT */

/* `slipway import azldev DIR --out NEWDIR`: an azldev project as a slipway
 * project (import/azldev.h, docs/azldev.md). NEWDIR is written all or none:
 * the project is made in a directory beside it and renamed into place. */

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/run.h"
#include "cli.h"
#include "import/azldev.h"

/* 0 if path does not exist or is an empty directory, else -EEXIST (or -errno). */
static int out_is_free(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -EEXIST;
        _cleanup_(closedirp) DIR *d = opendir(path);
        if (!d)
                return negative_errno();
        for (struct dirent *e; (e = readdir(d));)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        return -EEXIST;
        return 0;
}

static json_t *result_json(const char *dir, const char *out, const AzldevImport *res) {
        json_t *dropped = json_array(), *files = json_array();
        for (size_t i = 0; dropped && i < res->n_dropped; i++) {
                const AzldevDropped *e = &res->dropped[i];
                if (json_array_append_new(dropped, json_pack("{s:o, s:I, s:I, s:o, s:o}", "file", cli_json_string(e->file),
                                                             "line", (json_int_t) e->line, "column",
                                                             (json_int_t) e->column, "key", cli_json_string(e->key),
                                                             "reason", cli_json_string(e->reason))) < 0) {
                        json_decref(dropped);
                        dropped = NULL;
                }
        }
        for (size_t i = 0; files && i < res->n_files; i++)
                if (json_array_append_new(files, cli_json_string(res->files[i])) < 0) {
                        json_decref(files);
                        files = NULL;
                }
        if (!dropped || !files) {
                json_decref(dropped);
                json_decref(files);
                return NULL;
        }
        return json_pack("{s:s, s:o, s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "format", "azldev", "from",
                         cli_json_string(dir), "created", cli_json_string(out), "name", res->name, "version",
                         res->version, "components", (json_int_t) res->components, "components_with_overlays",
                         (json_int_t) res->components_with_overlays, "overlays", (json_int_t) res->overlays, "groups",
                         (json_int_t) res->groups, "repositories", (json_int_t) res->repos, "files", files,
                         "not_carried_over", dropped);
}

int verb_import(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics d = {};
        _cleanup_(azldev_import_release) AzldevImport res = {};
        _cleanup_free_ char *tmp = NULL, *parent = NULL;
        const char *format = argv[0], *dir = argv[1], *out = ctx->out_dir;
        int r;

        (void) argc;
        if (strcmp(format, "azldev") != 0) {
                log_error("cannot import '%s' projects: slipway imports 'azldev' projects", format);
                return EXIT_USAGE;
        }
        if (!out) {
                log_error("'import' needs --out NEWDIR, the directory to write the slipway project to");
                return EXIT_USAGE;
        }
        r = out_is_free(out);
        if (r == -EEXIST) {
                log_error("'%s' exists and is not an empty directory: not writing a project over it", out);
                return EXIT_FAILURE_USER;
        }
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot look at '%s'", out));
        if (!(parent = path_dirname(out)))
                return exit_status_from(log_error_errno(-ENOMEM, "cannot import '%s'", dir));
        if ((r = mkdir_parents(parent, 0755)) < 0)
                return exit_status_from(log_error_errno(r, "cannot create directory '%s'", parent));
        if ((r = tmpdir_beside(out, "import", &tmp)) < 0)
                return exit_status_from(log_error_errno(r, "cannot create a directory beside '%s'", out));

        r = azldev_import(dir, tmp, &res, &d);
        log_diagnostics(&d);
        if (r >= 0) {
                /* mkdtemp made it 0700; a project is the user's as mkdir(1) would make it. */
                mode_t um = umask(0);
                umask(um);
                (void) chmod(tmp, 0777 & ~um);
                if (rmdir(out) < 0 && errno != ENOENT)
                        r = log_error_errno(-errno, "cannot replace the empty directory '%s'", out);
                else if (rename(tmp, out) < 0)
                        r = log_error_errno(-errno, "cannot rename '%s' to '%s'", tmp, out);
        } else if (r != -EINVAL)
                log_error_errno(r, "cannot import '%s'", dir);
        if (r < 0) {
                (void) rm_rf(tmp);
                run_untrack(tmp);
                return EXIT_FAILURE_USER;
        }
        run_untrack(tmp);

        json_t *doc = result_json(dir, out, &res);
        if (!doc)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the import"));
        if (log_get_level() >= LOG_NORMAL)
                for (size_t i = 0; i < res.n_dropped; i++) {
                        const AzldevDropped *e = &res.dropped[i];
                        if (e->file[0])
                                fprintf(stderr, "%s:%u:%u: ", e->file, e->line, e->column);
                        else
                                fputs("slipway: ", stderr);
                        fprintf(stderr, "warning: key '%s' is not carried over: %s\n", e->key, e->reason);
                }
        if (!log_json()) {
                printf("imported %zu component%s (%zu with overlays, %zu overlay%s), %zu group%s, %zu repositor%s; "
                       "%zu key%s not carried over\n",
                       res.components, res.components == 1 ? "" : "s", res.components_with_overlays, res.overlays,
                       res.overlays == 1 ? "" : "s", res.groups, res.groups == 1 ? "" : "s", res.repos,
                       res.repos == 1 ? "y" : "ies", res.n_dropped, res.n_dropped == 1 ? "" : "s");
                log_info("wrote the slipway project '%s' to %s; next: slipway -C %s check, then slipway -C %s update",
                         res.name, out, out, out);
        }
        cli_result_set(doc);
        return EXIT_OK;
}
