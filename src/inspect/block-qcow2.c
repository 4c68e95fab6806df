/* SPDX-License-Identifier: MIT */

/* qcow2, versions 2 and 3 (qemu's docs/interop/qcow2.txt): the header, the
 * L1 table and the L2 tables it points to. A guest cluster is unallocated
 * (an L1 or L2 entry of 0, or the "reads as zeros" bit 0 of a version 3
 * L2 entry): zeros; a standard cluster: the host cluster at the entry's
 * offset; a compressed one: raw deflate (qcow2.txt "Compressed Clusters
 * Descriptor"), inflated into one cluster. Refused: encryption, a backing
 * file, an external data file, extended L2 entries, and compression types
 * other than deflate. The last L2 table and the last inflated cluster are
 * kept, so a sequential read costs one table read per L2 table. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "basic/alloc.h"
#include "inspect/block.h"

typedef uint32_t be32_t;
typedef uint64_t be64_t;

/* qcow2.txt "Header": the version 2 part and version 3's additions. */
struct qcow2_header {
        char magic[4]; /* "QFI\xfb" */
        be32_t version;
        be64_t backing_file_offset;
        be32_t backing_file_size;
        be32_t cluster_bits;
        be64_t size;
        be32_t crypt_method;
        be32_t l1_size;
        be64_t l1_table_offset;
        be64_t refcount_table_offset;
        be32_t refcount_table_clusters;
        be32_t nb_snapshots;
        be64_t snapshots_offset;
        /* version 3 */
        be64_t incompatible_features;
        be64_t compatible_features;
        be64_t autoclear_features;
        be32_t refcount_order;
        be32_t header_length;
} _packed_;
static_assert(sizeof(struct qcow2_header) == 104, "qcow2 header");

/* Incompatible feature bits: 0 dirty, 1 corrupt, 2 external data file,
 * 3 compression type, 4 extended L2 entries. */
#define INCOMPAT_DIRTY 1u
#define INCOMPAT_CORRUPT 2u
#define INCOMPAT_KNOWN 0x1Fu
#define INCOMPAT_UNSUPPORTED 0x1Cu

#define OFLAG_COMPRESSED (UINT64_C(1) << 62)
#define L1_OFFSET_MASK UINT64_C(0x00fffffffffffe00)
#define L2_OFFSET_MASK UINT64_C(0x00fffffffffffe00)
#define L2_ZERO 1u

typedef struct Qcow2Source {
        BlockSource base;
        BlockSource *file;
        unsigned cluster_bits;
        uint64_t cluster;
        uint64_t *l1; /* host byte order */
        uint64_t l1_size;
        uint64_t *l2; /* the L2 table last read, of l2_for */
        uint64_t l2_for;
        uint8_t *plain;  /* the cluster last inflated, of plain_for */
        uint64_t plain_for;
        uint8_t *packed; /* room for one compressed cluster */
        z_stream z;
        bool z_ready;
} Qcow2Source;

static int load_l2(Qcow2Source *q, uint64_t l1_index) {
        if (q->l2_for == l1_index)
                return 0;
        uint64_t at = q->l1[l1_index] & L1_OFFSET_MASK;
        q->l2_for = UINT64_MAX;
        if (at % q->cluster != 0)
                return -EBADMSG;
        int r = block_read(q->file, at, q->l2, q->cluster);
        if (r < 0)
                return r == -EIO ? -EBADMSG : r;
        for (uint64_t i = 0; i < q->cluster / 8; i++)
                q->l2[i] = be64toh(q->l2[i]);
        q->l2_for = l1_index;
        return 0;
}

/* Inflates the compressed cluster described by entry into q->plain. */
static int inflate_cluster(Qcow2Source *q, uint64_t entry) {
        unsigned x = 62 - (q->cluster_bits - 8);
        uint64_t off = entry & ((UINT64_C(1) << x) - 1);
        uint64_t sectors = ((entry >> x) & ((UINT64_C(1) << (q->cluster_bits - 8)) - 1)) + 1;
        /* The compressed data runs from off to the end of its last sector,
         * at most a cluster and a sector; the file may end sooner. */
        uint64_t len = sectors * 512 - (off & 511);
        if (off >= q->file->size)
                return -EBADMSG;
        len = MIN(len, q->file->size - off);
        len = MIN(len, q->cluster + 512);
        int r = block_read(q->file, off, q->packed, (size_t) len);
        if (r < 0)
                return r;
        if (!q->z_ready) {
                if (inflateInit2(&q->z, -12) != Z_OK)
                        return -ENOMEM;
                q->z_ready = true;
        } else if (inflateReset(&q->z) != Z_OK)
                return -EIO;
        q->z.next_in = q->packed;
        q->z.avail_in = (uInt) len;
        q->z.next_out = q->plain;
        q->z.avail_out = (uInt) q->cluster;
        int z = inflate(&q->z, Z_FINISH);
        /* qemu accepts a stream that fills the cluster without its end. */
        if (z != Z_STREAM_END && !(q->z.avail_out == 0 && (z == Z_OK || z == Z_BUF_ERROR)))
                return -EBADMSG;
        if (q->z.avail_out != 0)
                return -EBADMSG;
        return 0;
}

static int qcow2_read_at(BlockSource *s, uint64_t offset, void *buf, size_t n) {
        Qcow2Source *q = (Qcow2Source *) s;
        uint8_t *p = buf;
        const uint64_t l2_entries = q->cluster / 8;
        int r;

        while (n > 0) {
                uint64_t vcluster = offset >> q->cluster_bits, within = offset & (q->cluster - 1);
                size_t k = (size_t) MIN((uint64_t) n, q->cluster - within);
                uint64_t l1i = vcluster / l2_entries;
                uint64_t entry = 0;
                if (l1i >= q->l1_size)
                        return -EBADMSG;
                if (q->l1[l1i] & L1_OFFSET_MASK) {
                        if ((r = load_l2(q, l1i)) < 0)
                                return r;
                        entry = q->l2[vcluster % l2_entries];
                }
                if (entry & OFLAG_COMPRESSED) {
                        if (q->plain_for != vcluster) {
                                q->plain_for = UINT64_MAX;
                                if ((r = inflate_cluster(q, entry)) < 0)
                                        return r == -EIO ? -EBADMSG : r;
                                q->plain_for = vcluster;
                        }
                        memcpy(p, q->plain + within, k);
                } else if ((entry & L2_ZERO) || !(entry & L2_OFFSET_MASK))
                        memset(p, 0, k);
                else {
                        uint64_t at = entry & L2_OFFSET_MASK;
                        if (at % q->cluster != 0)
                                return -EBADMSG;
                        if ((r = block_read(q->file, at + within, p, k)) < 0)
                                return r == -EIO ? -EBADMSG : r;
                }
                p += k;
                n -= k;
                offset += k;
        }
        return 0;
}

static void qcow2_release(BlockSource *s) {
        Qcow2Source *q = (Qcow2Source *) s;
        free(q->l1);
        free(q->l2);
        free(q->plain);
        free(q->packed);
        if (q->z_ready)
                inflateEnd(&q->z);
        block_source_free(q->file);
}

static const BlockSourceOps qcow2_ops = { .read_at = qcow2_read_at, .release = qcow2_release };

int block_open_qcow2(BlockSource *file, BlockSource **ret, Diagnostics *d) {
        struct qcow2_header h = {};
        if (file->size < 72 || block_read(file, 0, &h, MIN(sizeof h, (size_t) file->size)) < 0 ||
            memcmp(h.magic, "QFI\xfb", 4) != 0)
                return -EMEDIUMTYPE;

        uint32_t version = be32toh(h.version), bits = be32toh(h.cluster_bits);
        uint64_t incompat = version >= 3 ? be64toh(h.incompatible_features) : 0;
        if (version != 2 && version != 3) {
                diag_error(d, NULL, "qcow2: version %u; versions 2 and 3 can be read", version);
                return -EOPNOTSUPP;
        }
        if (version == 3 && (file->size < sizeof h || be32toh(h.header_length) < 104)) {
                diag_error(d, NULL, "qcow2: the version 3 header is cut short");
                return -EBADMSG;
        }
        if (bits < 9 || bits > 21) {
                diag_error(d, NULL, "qcow2: cluster_bits %u out of range (9 to 21)", bits);
                return -EBADMSG;
        }
        if (be32toh(h.crypt_method) != 0) {
                diag_error(d, NULL, "qcow2: encrypted; encrypted images cannot be read");
                return -EOPNOTSUPP;
        }
        if (be64toh(h.backing_file_offset) != 0) {
                diag_error(d, NULL, "qcow2: it has a backing file; only whole images can be read");
                return -EOPNOTSUPP;
        }
        if (incompat & (INCOMPAT_UNSUPPORTED | ~(uint64_t) INCOMPAT_KNOWN)) {
                diag_error(d, NULL, "qcow2: incompatible features 0x%llx (an external data file, a compression "
                                    "other than deflate, extended L2 entries or unknown ones)",
                           (unsigned long long) incompat);
                return -EOPNOTSUPP;
        }
        if (incompat & INCOMPAT_CORRUPT) {
                diag_error(d, NULL, "qcow2: qemu marked the image corrupt");
                return -EBADMSG;
        }
        if (incompat & INCOMPAT_DIRTY)
                diag_warning(d, NULL, "qcow2: marked dirty (not closed cleanly); its refcounts are not used here");

        uint64_t cluster = UINT64_C(1) << bits, size = be64toh(h.size);
        uint64_t l1_size = be32toh(h.l1_size), l1_offset = be64toh(h.l1_table_offset);
        /* Every guest cluster needs an L1 entry; the table lies in the file
         * (which bounds what it can make us allocate). */
        uint64_t per_l1 = cluster / 8 * cluster;
        uint64_t need = size / per_l1 + (size % per_l1 != 0);
        if (size == 0 || size > (UINT64_C(1) << 56) || l1_size < need || l1_offset % cluster != 0 ||
            l1_offset > file->size || l1_size > (file->size - l1_offset) / 8) {
                diag_error(d, NULL, "qcow2: virtual size %llu, L1 table of %llu entries at %llu: does not fit the "
                                    "file of %llu bytes",
                           (unsigned long long) size, (unsigned long long) l1_size, (unsigned long long) l1_offset,
                           (unsigned long long) file->size);
                return -EBADMSG;
        }

        _cleanup_free_ Qcow2Source *q = new0(Qcow2Source, 1);
        if (!q)
                return -ENOMEM;
        q->base = (BlockSource) { .ops = &qcow2_ops, .size = size, .format = "qcow2" };
        q->cluster_bits = bits;
        q->cluster = cluster;
        q->l1_size = need; /* entries past what the size needs are never read */
        q->l2_for = q->plain_for = UINT64_MAX;
        q->l1 = new0(uint64_t, need);
        q->l2 = malloc(cluster);
        q->plain = malloc(cluster);
        q->packed = malloc(cluster + 512);
        if (!q->l1 || !q->l2 || !q->plain || !q->packed) {
                free(q->l1);
                free(q->l2);
                free(q->plain);
                free(q->packed);
                return -ENOMEM;
        }
        if (block_read(file, l1_offset, q->l1, need * 8) < 0) {
                qcow2_release(&q->base);
                q->file = NULL;
                diag_error(d, NULL, "qcow2: cannot read the L1 table");
                return -EBADMSG;
        }
        for (uint64_t i = 0; i < need; i++) {
                q->l1[i] = be64toh(q->l1[i]);
                uint64_t at = q->l1[i] & L1_OFFSET_MASK;
                if (at != 0 && (at > file->size || cluster > file->size - at)) {
                        qcow2_release(&q->base);
                        diag_error(d, NULL, "qcow2: an L2 table lies past the end of the file (%llu bytes): truncated",
                                   (unsigned long long) file->size);
                        return -EBADMSG;
                }
        }
        q->file = file;
        *ret = &TAKE_PTR(q)->base;
        return 0;
}
