/* SPDX-License-Identifier: MIT */

/* An image's SBOM, NAME.spdx.json beside its other outputs (output.c
 * publishes it with them): the image's rpm database in the frozen tree,
 * through sbom.h, with what the build knows of each package file. `slipway
 * customize` writes its outputs' SBOMs with tree_write_sbom() too. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/sbom.h"
#include "compose/writer.h"
#include "inspect/inspect.h"

/* The most an rpm database may take to be read for the SBOM. */
#define SBOM_RPMDB_MAX ((size_t) 1 << 30)

/* The value of KEY= in an os-release file, unquoted (malloc'd), or NULL. */
static char *os_release_value(const char *text, const char *key) {
        size_t n = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, n) != 0 || l[n] != '=')
                        continue;
                const char *v = l + n + 1, *end = strchr(v, '\n');
                size_t len = end ? (size_t) (end - v) : strlen(v);
                if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
                        v++;
                        len -= 2;
                }
                return strndup(v, len);
        }
        return NULL;
}

/* os-release's ID-VERSION_ID (purl's distro qualifier), or NULL. */
static char *tree_distro(const Tree *t) {
        static const char *const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_free_ uint8_t *data = NULL;
                size_t size;
                const TreeNode *n = tree_get(t, paths[i]); /* /etc's is often a symlink to the other */
                if (!n || n->type != TREE_REG || tree_blob_load(n->blob, 1 << 20, &data, &size) < 0)
                        continue;
                _cleanup_free_ char *id = os_release_value((const char *) data, "ID");
                _cleanup_free_ char *version = os_release_value((const char *) data, "VERSION_ID");
                if (!id || !*id)
                        return NULL;
                return version && *version ? strprintf("%s-%s", id, version) : TAKE_PTR(id);
        }
        return NULL;
}

const TreeNode *tree_sbom_rpmdb(const Tree *t) {
        for (size_t i = 0; i < ELEMENTSOF(inspect_rpmdb_paths); i++) {
                const TreeNode *n = tree_get(t, inspect_rpmdb_paths[i]);
                if (n && n->type == TREE_REG)
                        return n;
        }
        return NULL;
}

int tree_write_sbom(const Tree *t, const SbomOptions *o, const char *what, const char *path, uint64_t *ret_size,
                    Diagnostics *d) {
        _cleanup_free_ uint8_t *db = NULL;
        _cleanup_free_ char *distro = NULL, *text = NULL;
        size_t db_size = 0, size = 0;
        const TreeNode *n = tree_sbom_rpmdb(t);
        int r;

        if (!n)
                return -ENOENT;
        r = tree_blob_load(n->blob, SBOM_RPMDB_MAX, &db, &db_size);
        if (r < 0)
                return r;
        SbomOptions so = *o;
        if (!so.distro)
                so.distro = distro = tree_distro(t);
        _cleanup_(diagnostics_releasep) Diagnostics local = {};
        r = sbom_spdx_from_rpmdb(db, db_size, &so, &text, &size, &local);
        for (size_t i = 0; i < local.n; i++)
                diag_warning(d, NULL, "%s: SBOM: %s", what, local.items[i].message);
        if (r == -EBADMSG) {
                diag_error(d, NULL, "%s: the rpm database cannot be read for the SBOM", what);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        /* path is publish.h's temporary file, renamed with the others. */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, text, size);
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r < 0)
                return r;
        *ret_size = size;
        return 0;
}

int image_write_sbom(const WriterContext *c, const char *path, uint64_t *ret_size) {
        /* Not a resolvable address (.invalid, RFC 2606): SPDX asks for a
         * unique URI, which the package set's digest makes it. */
        _cleanup_free_ char *base = strprintf("https://slipway.invalid/spdx/%s/%s",
                                              c->p->project.name ? c->p->project.name : "project",
                                              c->p->project.version ? c->p->project.version : "0");
        if (!base)
                return -ENOMEM;
        SbomOptions so = {
                .name = c->im->name,
                .version = c->p->project.version,
                .namespace_base = base,
                .purl_namespace = c->p->project.name,
                .created = (int64_t) c->p->source_date_epoch,
                .files = c->im->sbom == SBOM_FILES,
                .fetched = c->o->sbom_fetched,
                .n_fetched = c->o->n_sbom_fetched,
        };
        int r = tree_write_sbom(c->tree, &so, IMAGE_WHAT(c->im), path, ret_size, c->d);
        if (r == -ENOENT) {
                diag_error(c->d, NULL, "%s: no rpm database to write the SBOM from", IMAGE_WHAT(c->im));
                return -EINVAL;
        }
        return r;
}
