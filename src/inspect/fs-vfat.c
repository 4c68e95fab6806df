/* SPDX-License-Identifier: MIT */

/* Listing FAT12, FAT16 and FAT32 with VFAT long names (Microsoft "FAT32
 * File System Specification" 1.03, fatgen103: section 3 the BPB, 4 the FAT,
 * 6 directories, 7 long names), the reader of src/fs/vfat.c's images.
 *
 * Untrusted input: the BPB's regions must lie within the partition and the
 * FAT must cover every cluster; a cluster chain may only name clusters of
 * the volume and is followed for at most as many steps as there are
 * clusters (a loop ends there); a directory is read up to 65536 entries
 * (the specification's limit, 2 MiB), and each directory's first cluster is
 * listed once, to a fixed depth. */

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "inspect/disk.h"

#define MAX_DEPTH 256
#define DIR_MAX_BYTES (65536u * 32u)
#define ATTR_READ_ONLY 0x01
#define ATTR_VOLUME_ID 0x08
#define ATTR_DIRECTORY 0x10
#define ATTR_LONG_NAME 0x0F

typedef struct Vfat {
        BlockSource *s;
        Diagnostics *d;
        FsWalk *w;
        unsigned bits; /* 12, 16, 32 */
        uint32_t bps, cluster_size, count;
        uint64_t fat_offset, root_offset, data_offset;
        uint32_t root_entries, root_cluster;
        uint8_t window[4096]; /* FAT bytes from window_at */
        uint64_t window_at;
        bool window_ok;
        U32Set seen;
        char label[12];
} Vfat;

static uint16_t get16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* fatgen103 section 3: the checks a BPB must pass to be taken as FAT at all. */
static bool bpb_plausible(const uint8_t *b) {
        uint16_t bps = get16(b + 11);
        uint8_t spc = b[13];
        return b[510] == 0x55 && b[511] == 0xAA && (bps == 512 || bps == 1024 || bps == 2048 || bps == 4096) &&
               spc != 0 && (spc & (spc - 1)) == 0 && get16(b + 14) != 0 && b[16] >= 1 && b[16] <= 4 &&
               (b[21] == 0xF0 || b[21] >= 0xF8);
}

static bool vfat_probe(BlockSource *s) {
        uint8_t b[512];
        return block_read(s, 0, b, sizeof b) >= 0 && bpb_plausible(b);
}

static int vfat_setup(Vfat *v, Diagnostics *d) {
        uint8_t b[512];
        if (block_read(v->s, 0, b, sizeof b) < 0 || !bpb_plausible(b)) {
                diag_error(d, NULL, "vfat: no valid boot sector");
                return -EBADMSG;
        }
        uint64_t bps = get16(b + 11), spc = b[13], rsvd = get16(b + 14), fats = b[16];
        uint64_t root_entries = get16(b + 17), fat_size = get16(b + 22) ? get16(b + 22) : get32(b + 36);
        uint64_t total = get16(b + 19) ? get16(b + 19) : get32(b + 32);
        uint64_t root_sectors = (root_entries * 32 + bps - 1) / bps;
        uint64_t meta = rsvd + fats * fat_size + root_sectors;
        if (bps * spc > 65536 || fat_size == 0 || total * bps > v->s->size || meta >= total) {
                diag_error(d, NULL, "vfat: the boot sector's geometry does not fit the partition");
                return -EBADMSG;
        }
        uint64_t count = (total - meta) / spc;
        /* fatgen103 section 3.5: the type follows from the count alone. */
        v->bits = count < 4085 ? 12 : count < 65525 ? 16 : 32;
        if (count == 0 || count > 0x0FFFFFF5 || fat_size * bps * 8 / v->bits < count + 2) {
                diag_error(d, NULL, "vfat: the FAT does not cover the volume's %llu clusters", (unsigned long long) count);
                return -EBADMSG;
        }
        v->bps = (uint32_t) bps;
        v->cluster_size = (uint32_t) (bps * spc);
        v->count = (uint32_t) count;
        v->fat_offset = rsvd * bps;
        v->root_offset = (rsvd + fats * fat_size) * bps;
        v->data_offset = meta * bps;
        v->root_entries = (uint32_t) root_entries;
        if (v->bits == 32) {
                v->root_cluster = get32(b + 44);
                if (root_entries != 0 || v->root_cluster < 2 || v->root_cluster > count + 1) {
                        diag_error(d, NULL, "vfat: FAT32 with a bad root directory cluster %u", v->root_cluster);
                        return -EBADMSG;
                }
        } else if (root_entries == 0) {
                diag_error(d, NULL, "vfat: FAT%u without a root directory", v->bits);
                return -EBADMSG;
        }
        return 0;
}

/* The FAT entry of cluster c (in 2 .. count+1). */
static int fat_next(Vfat *v, uint32_t c, uint32_t *ret) {
        uint64_t at = v->bits == 12 ? c + c / 2 : (uint64_t) c * (v->bits / 8);
        unsigned n = v->bits == 32 ? 4 : 2;
        uint8_t b[4];
        uint64_t win = at / sizeof v->window * sizeof v->window;
        if (at + n <= win + sizeof v->window) {
                if (!v->window_ok || v->window_at != win) {
                        uint64_t len = MIN((uint64_t) sizeof v->window, v->root_offset - v->fat_offset - win);
                        memset(v->window, 0, sizeof v->window);
                        if (block_read(v->s, v->fat_offset + win, v->window, (size_t) len) < 0)
                                return -EBADMSG;
                        v->window_at = win;
                        v->window_ok = true;
                }
                memcpy(b, v->window + (at - win), n);
        } else if (block_read(v->s, v->fat_offset + at, b, n) < 0)
                return -EBADMSG;
        uint32_t e = v->bits == 12 ? (c & 1 ? get16(b) >> 4 : get16(b) & 0xFFF)
                   : v->bits == 16 ? get16(b)
                                   : get32(b) & 0x0FFFFFFF;
        *ret = e;
        return 0;
}

static bool end_of_chain(const Vfat *v, uint32_t e) {
        return e >= (v->bits == 12 ? 0xFF8u : v->bits == 16 ? 0xFFF8u : 0x0FFFFFF8u);
}

/* Reads up to max bytes of the chain from first into a new buffer; *ret_n is
 * what the chain held (a multiple of the cluster size, at most max rounded
 * up). -EBADMSG for a chain that leaves the volume or loops. */
static int read_chain(Vfat *v, uint32_t first, uint64_t max, uint8_t **ret, size_t *ret_n) {
        uint64_t cap = (max + v->cluster_size - 1) / v->cluster_size * v->cluster_size;
        _cleanup_free_ uint8_t *buf = malloc(cap ? cap : 1);
        if (!buf)
                return -ENOMEM;
        uint64_t n = 0;
        uint32_t c = first;
        for (uint64_t steps = 0; n < cap; steps++) {
                if (c < 2 || c > v->count + 1 || steps > v->count)
                        return -EBADMSG;
                if (block_read(v->s, v->data_offset + (uint64_t) (c - 2) * v->cluster_size, buf + n, v->cluster_size) < 0)
                        return -EBADMSG;
                n += v->cluster_size;
                uint32_t next;
                if (fat_next(v, c, &next) < 0)
                        return -EBADMSG;
                if (end_of_chain(v, next))
                        break;
                c = next;
        }
        *ret = TAKE_PTR(buf);
        *ret_n = (size_t) n;
        return 0;
}

typedef struct Child {
        char *name;
        uint8_t attr;
        uint32_t cluster;
        uint32_t size;
} Child;

static int child_cmp(const void *a, const void *b) {
        return strcmp(((const Child *) a)->name, ((const Child *) b)->name);
}

/* fatgen103 section 7: the checksum of a short name that long name entries carry. */
static uint8_t short_checksum(const uint8_t name[11]) {
        uint8_t sum = 0;
        for (int i = 0; i < 11; i++)
                sum = (uint8_t) (((sum & 1) << 7) + (sum >> 1) + name[i]);
        return sum;
}

static size_t utf8_put(char *o, uint32_t c) {
        if (c < 0x80) {
                o[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                o[0] = (char) (0xC0 | c >> 6);
                o[1] = (char) (0x80 | (c & 0x3F));
                return 2;
        }
        if (c < 0x10000) {
                o[0] = (char) (0xE0 | c >> 12);
                o[1] = (char) (0x80 | ((c >> 6) & 0x3F));
                o[2] = (char) (0x80 | (c & 0x3F));
                return 3;
        }
        o[0] = (char) (0xF0 | c >> 18);
        o[1] = (char) (0x80 | ((c >> 12) & 0x3F));
        o[2] = (char) (0x80 | ((c >> 6) & 0x3F));
        o[3] = (char) (0x80 | (c & 0x3F));
        return 4;
}

/* A long name of up to 20 * 13 UTF-16 units as UTF-8; NULL if it holds a
 * NUL before its end, a '/', or is empty. */
static char *long_name(const uint16_t *u, size_t n) {
        char *s = malloc(n * 3 + 1), *o = s;
        if (!s)
                return NULL;
        size_t len = 0;
        while (len < n && u[len] != 0 && u[len] != 0xFFFF)
                len++;
        for (size_t i = 0; i < len; i++) {
                uint32_t c = u[i];
                if (c >= 0xD800 && c <= 0xDBFF && i + 1 < len && u[i + 1] >= 0xDC00 && u[i + 1] <= 0xDFFF) {
                        c = 0x10000 + ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00u);
                        i++;
                } else if (c >= 0xD800 && c <= 0xDFFF)
                        c = 0xFFFD;
                if (c == '/') {
                        free(s);
                        return NULL;
                }
                o += utf8_put(o, c);
        }
        *o = 0;
        if (len == 0) {
                free(s);
                return NULL;
        }
        return s;
}

/* The 8.3 name with the case bits of byte 12 (0x08: base lower case,
 * 0x10: extension lower case, as Windows NT writes them). */
static char *short_name(const uint8_t *e) {
        char s[13];
        size_t n = 0;
        for (int i = 0; i < 8 && e[i] != ' '; i++) {
                uint8_t c = i == 0 && e[0] == 0x05 ? 0xE5 : e[i];
                s[n++] = (char) ((e[12] & 0x08) && c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (e[8] != ' ') {
                s[n++] = '.';
                for (int i = 8; i < 11 && e[i] != ' '; i++)
                        s[n++] = (char) ((e[12] & 0x10) && e[i] >= 'A' && e[i] <= 'Z' ? e[i] + 32 : e[i]);
        }
        s[n] = 0;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '/' || (unsigned char) s[i] < 0x20)
                        return NULL;
        return n > 0 ? strdup(s) : NULL;
}

/* The entries of one directory (its bytes in dir), without "." and "..". */
static int parse_dir(Vfat *v, const uint8_t *dir, size_t size, bool root, Child **ret, size_t *ret_n) {
        Child *c = NULL;
        size_t n = 0, allocated = 0;
        uint16_t lfn[20 * 13];
        unsigned expect = 0, total = 0; /* the next long name entry's number; 0: none pending */
        uint8_t sum = 0;
        int r = 0;

        for (size_t off = 0; off + 32 <= size; off += 32) {
                const uint8_t *e = dir + off;
                if (e[0] == 0x00)
                        break;
                if (e[0] == 0xE5) {
                        expect = total = 0;
                        continue;
                }
                if ((e[11] & 0x3F) == ATTR_LONG_NAME) {
                        unsigned ord = e[0] & 0x1F;
                        if (e[0] & 0x40) {
                                if (ord == 0 || ord > 20) {
                                        expect = total = 0;
                                        continue;
                                }
                                total = ord;
                                sum = e[13];
                                for (size_t i = 0; i < ELEMENTSOF(lfn); i++)
                                        lfn[i] = 0;
                        } else if (total == 0 || ord == 0 || ord != expect || e[13] != sum) {
                                expect = total = 0;
                                continue;
                        }
                        static const uint8_t at[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
                        for (size_t i = 0; i < 13; i++)
                                lfn[(ord - 1) * 13 + i] = get16(e + at[i]);
                        expect = ord - 1;
                        continue;
                }
                bool has_long = expect == 0 && total > 0 && sum == short_checksum(e);
                unsigned long_len = total * 13;
                expect = 0;
                total = 0;
                if (e[11] & ATTR_VOLUME_ID) {
                        if (root && !(e[11] & ATTR_DIRECTORY)) {
                                memcpy(v->label, e, 11);
                                v->label[11] = 0;
                        }
                        continue;
                }
                if (e[0] == '.' && (e[1] == ' ' || (e[1] == '.' && e[2] == ' ')))
                        continue;
                char *name = has_long ? long_name(lfn, long_len) : NULL;
                if (!name)
                        name = short_name(e);
                if (!name)
                        continue; /* neither name is usable in a path */
                if (!GREEDY_REALLOC(c, allocated, n + 1)) {
                        free(name);
                        r = -ENOMEM;
                        break;
                }
                c[n++] = (Child) { .name = name,
                                   .attr = e[11],
                                   .cluster = (v->bits == 32 ? (uint32_t) get16(e + 20) << 16 : 0) | get16(e + 26),
                                   .size = get32(e + 28) };
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(c[i].name);
                free(c);
                return r;
        }
        if (n > 1)
                qsort(c, n, sizeof *c, child_cmp);
        *ret = c;
        *ret_n = n;
        return 0;
}

static int list_dir(Vfat *v, const char *path, uint32_t cluster, unsigned depth);

static int add_child(Vfat *v, const char *path, const Child *c, unsigned depth) {
        InvFile *f;
        int r = fs_add_file(v->w, path, &f, v->d);
        if (r < 0)
                return r;
        bool dir = c->attr & ATTR_DIRECTORY;
        bool ro = c->attr & ATTR_READ_ONLY;
        f->mode = dir ? S_IFDIR | (ro ? 0555 : 0755) : S_IFREG | (ro ? 0444 : 0644);
        f->size = dir ? 0 : c->size;
        if (dir)
                return list_dir(v, path, c->cluster, depth + 1);
        if (!v->w->want || !v->w->want(v->w->userdata, path, c->size))
                return 0;
        _cleanup_free_ uint8_t *data = NULL;
        size_t n = 0;
        if (c->size > 0) {
                r = read_chain(v, c->cluster, c->size, &data, &n);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || n < c->size) {
                        diag_warning(v->d, NULL, "vfat: '%s': its cluster chain is %s", path,
                                     r < 0 ? "broken" : "shorter than the file");
                        return 0;
                }
        } else if (!(data = malloc(1)))
                return -ENOMEM;
        return v->w->contents(v->w->userdata, path, TAKE_PTR(data), c->size);
}

static int list_dir(Vfat *v, const char *path, uint32_t cluster, unsigned depth) {
        _cleanup_free_ uint8_t *dir = NULL;
        size_t size = 0;
        bool root = depth == 0;
        int r;

        if (depth > MAX_DEPTH) {
                diag_error(v->d, NULL, "vfat: '%s': directories nested more than %u deep", path, MAX_DEPTH);
                return -EBADMSG;
        }
        if (root && v->bits != 32) {
                size = (size_t) v->root_entries * 32;
                if (!(dir = malloc(size)))
                        return -ENOMEM;
                if (block_read(v->s, v->root_offset, dir, size) < 0) {
                        diag_error(v->d, NULL, "vfat: cannot read the root directory");
                        return -EBADMSG;
                }
        } else {
                if (root)
                        cluster = v->root_cluster;
                if ((r = u32_set_add(&v->seen, cluster)) < 0 && r != -EINVAL)
                        return r;
                if (r == 0)
                        return 0; /* listed already: a loop */
                r = read_chain(v, cluster, DIR_MAX_BYTES, &dir, &size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        diag_error(v->d, NULL, "vfat: '%s': the directory's cluster chain is broken", path);
                        return -EBADMSG;
                }
        }

        Child *c = NULL;
        size_t n = 0;
        r = parse_dir(v, dir, size, root, &c, &n);
        if (r < 0)
                return r;
        free(TAKE_PTR(dir));
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s%s%s", path, root ? "" : "/", c[i].name) < 0)
                        r = -ENOMEM;
                else
                        r = add_child(v, p, &c[i], depth);
        }
        for (size_t i = 0; i < n; i++)
                free(c[i].name);
        free(c);
        return r;
}

static int vfat_walk(BlockSource *s, FsWalk *w, char **ret_label, char **ret_uuid, Diagnostics *d) {
        _cleanup_free_ Vfat *v = new0(Vfat, 1);
        if (!v)
                return -ENOMEM;
        v->s = s;
        v->d = d;
        v->w = w;
        int r = vfat_setup(v, d);
        if (r < 0)
                return r;

        InvFile *f;
        if ((r = fs_add_file(w, "/", &f, d)) < 0)
                return r;
        f->mode = S_IFDIR | 0755;
        r = list_dir(v, "/", 0, 0);
        u32_set_release(&v->seen);
        if (r < 0)
                return r;

        /* The label: the root's volume entry, else the boot sector's
         * (blkid's order); "NO NAME" is none. */
        uint8_t b[512];
        if (!v->label[0] && block_read(s, 0, b, sizeof b) >= 0) {
                const uint8_t *ext = v->bits == 32 ? b + 64 : b + 36;
                if (ext[2] == 0x29) {
                        memcpy(v->label, ext + 7, 11);
                        v->label[11] = 0;
                }
        }
        for (int i = 10; i >= 0 && (v->label[i] == ' ' || v->label[i] == 0); i--)
                v->label[i] = 0;
        for (int i = 0; v->label[i]; i++)
                if ((unsigned char) v->label[i] < 0x20)
                        v->label[i] = '?';
        _cleanup_free_ char *label = NULL, *uuid = NULL;
        if (v->label[0] && strcmp(v->label, "NO NAME") != 0 && !(label = strdup(v->label)))
                return -ENOMEM;
        if (block_read(s, 0, b, sizeof b) >= 0) {
                const uint8_t *ext = v->bits == 32 ? b + 64 : b + 36;
                if (ext[2] == 0x29 || ext[2] == 0x28) {
                        uint32_t id = get32(ext + 3);
                        if (asprintf(&uuid, "%04X-%04X", id >> 16, id & 0xFFFF) < 0)
                                return -ENOMEM;
                }
        }
        *ret_label = TAKE_PTR(label);
        *ret_uuid = TAKE_PTR(uuid);
        return 0;
}

const FsType fs_type_vfat = { .name = "vfat", .probe = vfat_probe, .walk = vfat_walk };
