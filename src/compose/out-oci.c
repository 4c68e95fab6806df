/* SPDX-License-Identifier: MIT */

/* oci: NAME.oci/ (OCI image layout) and NAME.oci.tar (oci-archive), one
 * layer: the root filesystem (oci/oci.c). */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "compose/writer.h"
#include "oci/oci.h"
#include "tree/archive.h"

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

static int write_one(const WriterContext *c, const TreeArchive *tar, WriterSlot *slot) {
        const Container *ct = &c->im->container;
        _cleanup_free_ const char **ep = new0(const char *, ct->entrypoint.n + 1);
        _cleanup_free_ const char **cmd = new0(const char *, ct->cmd.n + 1);
        _cleanup_free_ const char **env = new0(const char *, ct->env.n + 2);
        size_t ne = 0;
        if (!ep || !cmd || !env)
                return -ENOMEM;
        for (size_t i = 0; i < ct->entrypoint.n; i++)
                ep[i] = ct->entrypoint.items[i];
        for (size_t i = 0; i < ct->cmd.n; i++)
                cmd[i] = ct->cmd.items[i];
        bool has_path = false;
        for (size_t i = 0; i < ct->env.n; i++) {
                env[ne++] = ct->env.items[i];
                has_path = has_path || strncmp(ct->env.items[i], "PATH=", 5) == 0;
        }
        /* What container engines set when an image has no PATH. */
        if (!has_path)
                env[ne++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        OciConfig cfg = {
                .entrypoint = ct->entrypoint.n ? ep : NULL,
                .cmd = ct->cmd.n ? cmd : NULL,
                .env = env,
                .label_keys = (const char *const *) ct->labels.keys,
                .label_values = (const char *const *) ct->labels.values,
                .n_labels = ct->labels.n,
                .user = ct->user,
                .workdir = ct->workdir,
                .architecture = oci_arch(c->p->arch),
                .tag = ct->tag ? ct->tag : c->p->project.version,
                .created = (int64_t) c->p->source_date_epoch,
                .jobs = c->o->jobs,
        };
        int r = oci_write(slot->tmp, slot->tmp2, &cfg, tar->data, tar->len);
        if (r == -EINVAL) {
                diag_error(c->d, NULL, "image '%s': cannot write the OCI image: the container configuration is not valid OCI",
                           c->im->name);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        struct stat st;
        slot->size = stat(slot->tmp2, &st) == 0 ? (uint64_t) st.st_size : 0;
        return 0;
}

int writer_oci(const WriterContext *c, WriterSlot *slots, size_t n) {
        /* The OCI writer takes the layer in memory (its digest and the
         * compressed blob's are needed before anything is written). */
        _cleanup_(tree_archive_release) TreeArchive tar = {};
        int r = tree_archive(c->tree, TREE_ARCHIVE_TAR, &tar);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = write_one(c, &tar, &slots[i]);
        return r;
}
