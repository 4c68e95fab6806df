/* SPDX-License-Identifier: MIT */

/* cpio: NAME.cpio.zst or NAME.cpio.gz, newc, for initrds. The kernel's
 * initramfs unpacker reads both (CONFIG_RD_ZSTD, CONFIG_RD_GZIP); zstd
 * frames carry their size for it. */

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "compose/writer.h"
#include "tree/archive.h"

int writer_cpio(const WriterContext *c, WriterSlot *slots, size_t n) {
        _cleanup_(tree_archive_release) TreeArchive a = {};
        _cleanup_free_ uint8_t *z = NULL;
        size_t zl = 0;
        int r = tree_archive_check(c->tree, TREE_ARCHIVE_CPIO, c->im->name, c->d);
        if (r < 0)
                return r;
        r = tree_archive(c->tree, TREE_ARCHIVE_CPIO, &a);
        if (r < 0)
                return r;
        r = c->o->cpio_gzip ? gzip_compress(a.data, a.len, &z, &zl) : zstd_compress(a.data, a.len, 19, &z, &zl);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = write_file_atomic(slots[i].tmp, z, zl, 0644);
                slots[i].size = zl;
        }
        return r;
}
