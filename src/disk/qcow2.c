/* SPDX-License-Identifier: MIT */

/* qcow2 (QEMU, docs/interop/qcow2.txt). Written by write_qcow2() (version
 * 3); read by block_open_qcow2() (versions 2 and 3). */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "disk/container-internal.h"
#include "disk/gpt.h"

/* qcow2.txt "Header": the version 2 part and version 3's additions. The
 * writer follows it with the end of the header extension area (type 0,
 * length 0: eight zero bytes). */
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

#define QCOW2_CLUSTER_BITS 16
#define QCOW2_CLUSTER ((uint64_t) 1 << QCOW2_CLUSTER_BITS)
#define QCOW2_L2_ENTRIES (QCOW2_CLUSTER / 8)
#define QCOW2_REFCOUNT_ORDER 4 /* 16-bit refcounts */
#define QCOW2_REFCOUNTS_PER_BLOCK (QCOW2_CLUSTER * 8 / (1u << QCOW2_REFCOUNT_ORDER))
#define QCOW2_OFLAG_COPIED ((uint64_t) 1 << 63)
#define QCOW2_OFLAG_COMPRESSED ((uint64_t) 1 << 62)
/* "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8). */
#define QCOW2_CSIZE_SHIFT (62 - (QCOW2_CLUSTER_BITS - 8))

typedef struct Qcow2Writer {
        int fd;
        bool compress;
        uint64_t pos; /* the end of the data written so far */
        uint64_t **l2; /* per L1 entry, NULL while empty; host byte order */
        uint64_t l1_size;
        uint16_t *refcounts; /* per host cluster */
        uint64_t n_refcounts;
        z_stream z;
        bool z_ready;
        uint8_t *zbuf;
} Qcow2Writer;

static int qcow2_ref(Qcow2Writer *w, uint64_t cluster) {
        if (cluster >= w->n_refcounts) {
                uint64_t n = MAX(cluster + 1, w->n_refcounts * 2);
                uint16_t *p = realloc(w->refcounts, n * sizeof(uint16_t));
                if (!p)
                        return -ENOMEM;
                memset(p + w->n_refcounts, 0, (n - w->n_refcounts) * sizeof(uint16_t));
                w->refcounts = p;
                w->n_refcounts = n;
        }
        if (w->refcounts[cluster] == UINT16_MAX)
                return -EOVERFLOW;
        w->refcounts[cluster]++;
        return 0;
}

/* Compresses one cluster as qemu reads it: raw deflate with a 4 KiB window
 * (windowBits -12). *ret_len: the compressed length, or 0 if it is not
 * smaller than a cluster. */
static int qcow2_deflate(Qcow2Writer *w, const uint8_t *data, size_t *ret_len) {
        if (!w->z_ready) {
                if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
                        return -ENOMEM;
                w->z_ready = true;
        } else if (deflateReset(&w->z) != Z_OK)
                return -EIO;
        w->z.next_in = (uint8_t *) data;
        w->z.avail_in = QCOW2_CLUSTER;
        w->z.next_out = w->zbuf;
        w->z.avail_out = QCOW2_CLUSTER - 1;
        int z = deflate(&w->z, Z_FINISH);
        if (z == Z_STREAM_END) {
                *ret_len = QCOW2_CLUSTER - 1 - w->z.avail_out;
                return 0;
        }
        if (z == Z_OK || z == Z_BUF_ERROR) {
                *ret_len = 0; /* did not fit */
                return 0;
        }
        return -EIO;
}

static int qcow2_cluster(Qcow2Writer *w, uint64_t vcluster, const uint8_t *data) {
        int r;
        uint64_t l1 = vcluster / QCOW2_L2_ENTRIES, l2 = vcluster % QCOW2_L2_ENTRIES;
        if (!w->l2[l1]) {
                w->l2[l1] = calloc(QCOW2_L2_ENTRIES, sizeof(uint64_t));
                if (!w->l2[l1])
                        return -ENOMEM;
        }

        size_t clen = 0;
        if (w->compress) {
                r = qcow2_deflate(w, data, &clen);
                if (r < 0)
                        return r;
        }
        if (clen > 0) {
                /* Packed byte by byte after the previous compressed
                 * cluster; every host cluster its sectors touch gets a
                 * reference, as qemu-img check counts them. */
                uint64_t off = w->pos;
                uint64_t first = off / 512, last = (off + clen - 1) / 512;
                r = pwrite_all(w->fd, w->zbuf, clen, off);
                if (r < 0)
                        return r;
                for (uint64_t c = first * 512 / QCOW2_CLUSTER; c <= (last * 512 + 511) / QCOW2_CLUSTER; c++)
                        if ((r = qcow2_ref(w, c)) < 0)
                                return r;
                w->l2[l1][l2] = QCOW2_OFLAG_COMPRESSED | (last - first) << QCOW2_CSIZE_SHIFT | off;
                w->pos = off + clen;
                return 0;
        }

        uint64_t off = round_up(w->pos, QCOW2_CLUSTER);
        r = write_sparse(w->fd, off, data, QCOW2_CLUSTER);
        if (r < 0)
                return r;
        if ((r = qcow2_ref(w, off / QCOW2_CLUSTER)) < 0)
                return r;
        w->l2[l1][l2] = QCOW2_OFLAG_COPIED | off;
        w->pos = off + QCOW2_CLUSTER;
        return 0;
}

static int qcow2_piece(void *userdata, uint64_t offset, const uint8_t *data, size_t n) {
        Qcow2Writer *w = userdata;
        /* data is UNIT bytes with zeros past n, so the last cluster is whole. */
        for (size_t i = 0; i < n; i += QCOW2_CLUSTER) {
                if (is_zero(data + i, QCOW2_CLUSTER))
                        continue;
                int r = qcow2_cluster(w, (offset + i) / QCOW2_CLUSTER, data + i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void qcow2_writer_release(Qcow2Writer *w) {
        if (w->l2)
                for (uint64_t i = 0; i < w->l1_size; i++)
                        free(w->l2[i]);
        free(w->l2);
        free(w->refcounts);
        free(w->zbuf);
        if (w->z_ready)
                deflateEnd(&w->z);
}

static int write_qcow2_tables(Qcow2Writer *w, uint64_t size) {
        int r;
        uint64_t pos = round_up(w->pos, QCOW2_CLUSTER);

        /* L2 tables, each a cluster, in L1 order. */
        _cleanup_free_ be64_t *l1 = calloc(w->l1_size, sizeof(be64_t));
        _cleanup_free_ be64_t *table = malloc(QCOW2_CLUSTER);
        if (!l1 || !table)
                return -ENOMEM;
        for (uint64_t i = 0; i < w->l1_size; i++) {
                if (!w->l2[i])
                        continue;
                for (uint64_t j = 0; j < QCOW2_L2_ENTRIES; j++)
                        table[j] = htobe64(w->l2[i][j]);
                if ((r = pwrite_all(w->fd, table, QCOW2_CLUSTER, pos)) < 0 ||
                    (r = qcow2_ref(w, pos / QCOW2_CLUSTER)) < 0)
                        return r;
                l1[i] = htobe64(QCOW2_OFLAG_COPIED | pos);
                pos += QCOW2_CLUSTER;
        }

        uint64_t l1_offset = pos, l1_clusters = round_up(w->l1_size * 8, QCOW2_CLUSTER) / QCOW2_CLUSTER;
        if ((r = pwrite_all(w->fd, l1, w->l1_size * 8, l1_offset)) < 0)
                return r;
        pos += l1_clusters * QCOW2_CLUSTER;

        /* Refcount blocks, then the refcount table; they count themselves,
         * so their number is found by iteration. */
        uint64_t n = pos / QCOW2_CLUSTER, blocks = 0, table_clusters = 0;
        for (;;) {
                uint64_t b = (n + blocks + table_clusters + QCOW2_REFCOUNTS_PER_BLOCK - 1) / QCOW2_REFCOUNTS_PER_BLOCK;
                uint64_t t = round_up(b * 8, QCOW2_CLUSTER) / QCOW2_CLUSTER;
                if (b == blocks && t == table_clusters)
                        break;
                blocks = b;
                table_clusters = t;
        }
        uint64_t blocks_offset = pos, table_offset = pos + blocks * QCOW2_CLUSTER;
        uint64_t end = table_offset + table_clusters * QCOW2_CLUSTER;
        for (uint64_t c = 0; c < l1_clusters + blocks + table_clusters; c++)
                if ((r = qcow2_ref(w, l1_offset / QCOW2_CLUSTER + c)) < 0)
                        return r;
        if ((r = qcow2_ref(w, 0)) < 0) /* the header */
                return r;

        _cleanup_free_ be64_t *rtable = calloc(table_clusters, QCOW2_CLUSTER);
        _cleanup_free_ be16_t *block = malloc(QCOW2_CLUSTER);
        if (!rtable || !block)
                return -ENOMEM;
        for (uint64_t b = 0; b < blocks; b++) {
                for (uint64_t j = 0; j < QCOW2_REFCOUNTS_PER_BLOCK; j++) {
                        uint64_t c = b * QCOW2_REFCOUNTS_PER_BLOCK + j;
                        block[j] = htobe16(c < w->n_refcounts ? w->refcounts[c] : 0);
                }
                uint64_t off = blocks_offset + b * QCOW2_CLUSTER;
                if ((r = pwrite_all(w->fd, block, QCOW2_CLUSTER, off)) < 0)
                        return r;
                rtable[b] = htobe64(off);
        }
        if ((r = pwrite_all(w->fd, rtable, table_clusters * QCOW2_CLUSTER, table_offset)) < 0)
                return r;
        if (ftruncate(w->fd, (off_t) end) < 0)
                return negative_errno();

        struct qcow2_header h = {
                .version = htobe32(3),
                .cluster_bits = htobe32(QCOW2_CLUSTER_BITS),
                .size = htobe64(size),
                .l1_size = htobe32((uint32_t) w->l1_size),
                .l1_table_offset = htobe64(l1_offset),
                .refcount_table_offset = htobe64(table_offset),
                .refcount_table_clusters = htobe32((uint32_t) table_clusters),
                .refcount_order = htobe32(QCOW2_REFCOUNT_ORDER),
                .header_length = htobe32(104),
        };
        memcpy(h.magic, "QFI\xfb", 4);
        static const uint8_t extension_end[8] = {};
        r = pwrite_all(w->fd, &h, sizeof h, 0);
        return r < 0 ? r : pwrite_all(w->fd, extension_end, sizeof extension_end, sizeof h);
}

int write_qcow2(const DiskSource *s, const DiskWriteOptions *o, int fd) {
        uint64_t clusters = (s->size + QCOW2_CLUSTER - 1) / QCOW2_CLUSTER;
        _cleanup_(qcow2_writer_release) Qcow2Writer w = {
                .fd = fd,
                .compress = o->compress,
                .pos = QCOW2_CLUSTER, /* after the header cluster */
                .l1_size = (clusters + QCOW2_L2_ENTRIES - 1) / QCOW2_L2_ENTRIES,
        };
        /* qemu's limit: an L1 table of at most 32 MiB. */
        if (w.l1_size * 8 > 32 * MiB)
                return -EINVAL;
        w.l2 = calloc(w.l1_size, sizeof(uint64_t *));
        if (!w.l2)
                return -ENOMEM;
        if (w.compress && !(w.zbuf = malloc(QCOW2_CLUSTER)))
                return -ENOMEM;
        int r = source_walk(s, qcow2_piece, &w);
        if (r < 0)
                return r;
        return write_qcow2_tables(&w, s->size);
}

uint64_t qcow2_max_size(void) {
        /* write_qcow2(): an L1 table of 32 MiB of 8-byte entries, each for an
         * L2 table of QCOW2_L2_ENTRIES clusters. */
        return 32 * MiB / 8 * QCOW2_L2_ENTRIES * QCOW2_CLUSTER;
}

/* ---- reading ---- */


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

/* Guest clusters with data: compressed ones and those with a host offset
 * and no zero flag (qcow2.txt "Cluster mapping", standard cluster
 * descriptor bit 0). */
static int qcow2_map(BlockSource *s, DiskExtent **ret, size_t *ret_n) {
        Qcow2Source *q = (Qcow2Source *) s;
        const uint64_t l2_entries = q->cluster / 8;
        ExtentList l = { .size = s->size, .max = extent_list_max(q->file->size) };
        uint64_t tables = 0;
        int r = 0;
        for (uint64_t i = 0; i < q->l1_size && r >= 0; i++) {
                if (!(q->l1[i] & L1_OFFSET_MASK))
                        continue;
                /* Each L2 table is a cluster of its own: more of them than
                 * the file has clusters is malformed, and would let a small
                 * file make us read one table over and over. */
                if (++tables > q->file->size / q->cluster) {
                        r = -EBADMSG;
                        break;
                }
                if ((r = load_l2(q, i)) < 0)
                        break;
                for (uint64_t j = 0; j < l2_entries && r >= 0; j++) {
                        uint64_t e = q->l2[j], at = (i * l2_entries + j) << q->cluster_bits;
                        if (at >= s->size)
                                break;
                        if ((e & OFLAG_COMPRESSED) || (!(e & L2_ZERO) && (e & L2_OFFSET_MASK)))
                                r = extent_list_add(&l, at, q->cluster);
                }
        }
        if (r < 0) {
                extent_list_release(&l);
                return r;
        }
        extent_list_take(&l, ret, ret_n);
        return 0;
}

static const BlockSourceOps qcow2_ops = { .read_at = qcow2_read_at, .release = qcow2_release, .map = qcow2_map };

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
