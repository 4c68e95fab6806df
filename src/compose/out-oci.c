/* SPDX-License-Identifier: MIT */

/* oci: NAME.oci/ (OCI image layout) and NAME.oci.tar (oci-archive), one
 * layer: the root filesystem (oci/oci.c). */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/macro.h"
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

static int write_one(const WriterContext *c, int tar_fd, uint64_t tar_len, WriterSlot *slot) {
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
        int r = oci_write_fd(slot->tmp, slot->tmp2, &cfg, tar_fd, tar_len);
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

typedef struct TarSpool {
        int fd;
        uint64_t len;
} TarSpool;

static int spool_sink(void *userdata, const void *data, size_t n) {
        TarSpool *s = userdata;
        int r = loop_write(s->fd, data, n);
        if (r >= 0)
                s->len += n;
        return r;
}

int writer_oci(const WriterContext *c, WriterSlot *slots, size_t n) {
        /* The layer's digest and the compressed blob's are needed before
         * anything is written: the tar goes to a private temporary file
         * beside the outputs, read back in pieces, so it is never whole in
         * memory. */
        if (n == 0)
                return 0;
        _cleanup_free_ char *where = path_dirname(slots[0].tmp2 ? slots[0].tmp2 : slots[0].tmp);
        if (!where)
                return -ENOMEM;
        _cleanup_close_ int fd = tmpfile_anonymous(where);
        if (fd < 0)
                return fd;
        TarSpool sp = { .fd = fd };
        int r = tree_archive_check(c->tree, TREE_ARCHIVE_TAR, c->im->name, c->d);
        if (r >= 0)
                r = tree_archive_stream(c->tree, TREE_ARCHIVE_TAR, spool_sink, &sp);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = write_one(c, fd, sp.len, &slots[i]);
        return r;
}
