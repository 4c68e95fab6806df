/* SPDX-License-Identifier: MIT */
/* FAT16/FAT32 images with VFAT long names, built in process from a subtree
 * of the tree. Section names below are those of Microsoft's "FAT32 File
 * System Specification" version 1.03 (fatgen103). */

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "fs/vfat.h"

typedef uint16_t le16_t;
typedef uint32_t le32_t;

#define SECTOR 512u
#define NUM_FATS 2u
#define MEDIA 0xf8
#define FAT16_MIN_CLUSTERS 4085u
#define FAT32_MIN_CLUSTERS 65525u
#define FAT32_MAX_CLUSTERS 0x0ffffff5u
#define DIR_MAX_ENTRIES 65536u /* "FAT Directory Structure": at most 2^16 entries */
#define LFN_MAX 255u

#define ATTR_READ_ONLY 0x01
#define ATTR_VOLUME_ID 0x08
#define ATTR_DIRECTORY 0x10
#define ATTR_ARCHIVE 0x20
#define ATTR_LONG_NAME 0x0f
#define LAST_LONG_ENTRY 0x40

/* "Boot Sector and BPB Structure": the fields common to FAT12/16/32. */
struct fat_bpb {
        uint8_t jmp_boot[3];
        char oem_name[8];
        le16_t bytes_per_sec;
        uint8_t sec_per_clus;
        le16_t rsvd_sec_cnt;
        uint8_t num_fats;
        le16_t root_ent_cnt;
        le16_t tot_sec16;
        uint8_t media;
        le16_t fat_sz16;
        le16_t sec_per_trk;
        le16_t num_heads;
        le32_t hidd_sec;
        le32_t tot_sec32;
} _packed_;
static_assert(sizeof(struct fat_bpb) == 36, "BPB");

/* "Fat12 and Fat16 Structure Starting at Offset 36". */
struct fat16_boot {
        struct fat_bpb bpb;
        uint8_t drv_num;
        uint8_t reserved1;
        uint8_t boot_sig;
        le32_t vol_id;
        char vol_lab[11];
        char fil_sys_type[8];
} _packed_;
static_assert(sizeof(struct fat16_boot) == 62, "FAT16 boot sector");

/* "FAT32 Structure Starting at Offset 36". */
struct fat32_boot {
        struct fat_bpb bpb;
        le32_t fat_sz32;
        le16_t ext_flags;
        le16_t fs_ver;
        le32_t root_clus;
        le16_t fs_info;
        le16_t bk_boot_sec;
        uint8_t reserved[12];
        uint8_t drv_num;
        uint8_t reserved1;
        uint8_t boot_sig;
        le32_t vol_id;
        char vol_lab[11];
        char fil_sys_type[8];
} _packed_;
static_assert(sizeof(struct fat32_boot) == 90, "FAT32 boot sector");

/* "FAT32 FSInfo Sector Structure and Backup Boot Sector". */
struct fat32_fsinfo {
        le32_t lead_sig;
        uint8_t reserved1[480];
        le32_t struc_sig;
        le32_t free_count;
        le32_t nxt_free;
        uint8_t reserved2[12];
        le32_t trail_sig;
} _packed_;
static_assert(sizeof(struct fat32_fsinfo) == 512, "FSInfo");

/* "FAT Directory Structure". */
struct fat_dirent {
        uint8_t name[11];
        uint8_t attr;
        uint8_t nt_res;
        uint8_t crt_time_tenth;
        le16_t crt_time;
        le16_t crt_date;
        le16_t lst_acc_date;
        le16_t fst_clus_hi;
        le16_t wrt_time;
        le16_t wrt_date;
        le16_t fst_clus_lo;
        le32_t file_size;
} _packed_;
static_assert(sizeof(struct fat_dirent) == 32, "directory entry");

/* "FAT Long Directory Entries". */
struct fat_lfn {
        uint8_t ord;
        le16_t name1[5];
        uint8_t attr;
        uint8_t type;
        uint8_t chksum;
        le16_t name2[6];
        le16_t fst_clus_lo;
        le16_t name3[2];
} _packed_;
static_assert(sizeof(struct fat_lfn) == 32, "long directory entry");

typedef struct Entry {
        const TreeNode *node;
        const char *name; /* the last component of node->path; "" for the root */
        size_t parent;
        uint8_t short_name[11];
        uint16_t *lfn; /* NULL: the short name is the name */
        size_t lfn_len;
        size_t slots; /* directory entries taken in the parent */
        uint32_t first_cluster, n_clusters;
        /* Directories: */
        size_t *children;
        size_t n_children, allocated_children;
        size_t n_dirents;
} Entry;

typedef struct Geometry {
        bool fat32;
        uint32_t total_sectors;
        uint32_t sec_per_clus;
        uint32_t reserved;
        uint32_t fat_sectors;
        uint32_t root_entries; /* FAT16 */
        uint32_t clusters;
        uint32_t data_start; /* sector */
} Geometry;

static void entries_free(Entry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].lfn);
                free(e[i].children);
        }
        free(e);
}

static bool short_char_ok(char c) {
        /* "FAT Directory Structure", DIR_Name: upper-case letters, digits and these. */
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'()-@^_`{}~", c));
}

/* A valid upper-case 8.3 name, stored as it is, without a long name. */
static bool short_name_from(const char *name, uint8_t out[11]) {
        const char *dot = strchr(name, '.');
        size_t base = dot ? (size_t) (dot - name) : strlen(name);
        size_t ext = dot ? strlen(dot + 1) : 0;
        if (base < 1 || base > 8 || ext > 3 || (dot && (ext == 0 || strchr(dot + 1, '.'))))
                return false;
        for (size_t i = 0; i < base; i++)
                if (!short_char_ok(name[i]))
                        return false;
        for (size_t i = 0; i < ext; i++)
                if (!short_char_ok(dot[1 + i]))
                        return false;
        memset(out, ' ', 11);
        memcpy(out, name, base);
        if (dot)
                memcpy(out + 8, dot + 1, ext);
        return true;
}

/* Decodes one UTF-8 code point; 0 on malformed input. */
static size_t utf8_next(const uint8_t *p, uint32_t *ret) {
        uint32_t c;
        size_t len;
        if (*p < 0x80) {
                *ret = *p;
                return 1;
        }
        if ((*p & 0xe0) == 0xc0)
                c = *p & 0x1f, len = 2;
        else if ((*p & 0xf0) == 0xe0)
                c = *p & 0x0f, len = 3;
        else if ((*p & 0xf8) == 0xf0)
                c = *p & 0x07, len = 4;
        else
                return 0;
        for (size_t j = 1; j < len; j++) {
                if ((p[j] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (p[j] & 0x3f);
        }
        if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
            (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                return 0;
        *ret = c;
        return len;
}

/* The UTF-16 long name; -EINVAL for characters not allowed in long names
 * ("FAT Long Directory Entries": those not allowed in short names except
 * + , ; = [ ] space and period), trailing periods or spaces (which Windows
 * strips), or more than 255 code units. */
static int long_name_from(const char *name, uint16_t **ret, size_t *ret_len) {
        size_t n = strlen(name);
        if (n == 0 || name[n - 1] == '.' || name[n - 1] == ' ')
                return -EINVAL;
        _cleanup_free_ uint16_t *u = new0(uint16_t, LFN_MAX + 1);
        if (!u)
                return -ENOMEM;
        size_t k = 0;
        for (const uint8_t *p = (const uint8_t *) name; *p;) {
                uint32_t c;
                size_t l = utf8_next(p, &c);
                if (l == 0)
                        return -EINVAL;
                p += l;
                if (c < 0x20 || c == 0x7f || (c < 0x80 && strchr("\"*/:<>?\\|", (int) c)))
                        return -EINVAL;
                if (k + (c >= 0x10000 ? 2 : 1) > LFN_MAX)
                        return -EINVAL;
                if (c >= 0x10000) {
                        c -= 0x10000;
                        u[k++] = (uint16_t) (0xd800 | (c >> 10));
                        u[k++] = (uint16_t) (0xdc00 | (c & 0x3ff));
                } else
                        u[k++] = (uint16_t) c;
        }
        *ret = TAKE_PTR(u);
        *ret_len = k;
        return 0;
}

/* "The Basis-Name Generation Algorithm": upper case, characters that are
 * not valid in short names become '_', spaces and leading periods are
 * dropped; the primary part is what precedes the first remaining period (at
 * most 8), the extension what follows the last one (at most 3). */
static void basis_name(const char *name, char primary[9], char ext[4]) {
        char buf[LFN_MAX * 4 + 1];
        size_t k = 0;
        for (const uint8_t *p = (const uint8_t *) name; *p && k < sizeof(buf) - 1;) {
                uint32_t c;
                size_t l = utf8_next(p, &c);
                if (l == 0)
                        l = 1, c = '_';
                p += l;
                if (c == ' ')
                        continue;
                if (c == '.' && k == 0)
                        continue;
                if (c >= 'a' && c <= 'z')
                        c -= 'a' - 'A';
                buf[k++] = c == '.' || short_char_ok((char) c) ? (char) c : '_';
                if (c >= 0x80)
                        buf[k - 1] = '_';
        }
        buf[k] = 0;

        size_t pn = 0;
        for (const char *c = buf; *c && *c != '.' && pn < 8; c++)
                primary[pn++] = *c;
        primary[pn] = 0;
        size_t en = 0;
        const char *dot = strrchr(buf, '.');
        if (dot)
                for (const char *c = dot + 1; *c && en < 3; c++)
                        if (*c != '.')
                                ext[en++] = *c;
        ext[en] = 0;
        if (pn == 0)
                strcpy(primary, "_");
}

/* "FAT Long Directory Entries": the checksum of the short name. */
static uint8_t lfn_checksum(const uint8_t name[11]) {
        uint8_t sum = 0;
        for (size_t i = 0; i < 11; i++)
                sum = (uint8_t) (((sum & 1) ? 0x80 : 0) + (sum >> 1) + name[i]);
        return sum;
}

/* Short names already taken in one directory: open addressing on 11 bytes. */
typedef struct NameSet {
        uint8_t (*slots)[11];
        bool *used;
        size_t size;
} NameSet;

static size_t name_hash(const uint8_t n[11]) {
        size_t h = 5381;
        for (size_t i = 0; i < 11; i++)
                h = h * 33 + n[i];
        return h;
}

/* Adds n; false if it was there already. */
static bool name_set_add(NameSet *s, const uint8_t n[11]) {
        for (size_t i = name_hash(n) % s->size;; i = (i + 1) % s->size) {
                if (!s->used[i]) {
                        s->used[i] = true;
                        memcpy(s->slots[i], n, 11);
                        return true;
                }
                if (memcmp(s->slots[i], n, 11) == 0)
                        return false;
        }
}

static int upper_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Names for the children of directory d: long names where needed, short
 * names unique within it, -EEXIST for names equal but for (ASCII) case. */
static int name_children(Entry *e, size_t d) {
        Entry *dir = &e[d];
        size_t n = dir->n_children;
        if (n == 0)
                return 0;

        NameSet set = { .size = 2 * n + 1 };
        _cleanup_free_ char **upper = new0(char *, n);
        _cleanup_free_ uint8_t(*slots)[11] = calloc(set.size, 11);
        _cleanup_free_ bool *used = new0(bool, set.size);
        if (!upper || !slots || !used)
                return -ENOMEM;
        set.slots = slots;
        set.used = used;
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                upper[i] = strdup(e[dir->children[i]].name);
                if (!upper[i]) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (char *c = upper[i]; *c; c++)
                        if (*c >= 'a' && *c <= 'z')
                                *c = (char) (*c - 'a' + 'A');
        }
        qsort(upper, n, sizeof(char *), upper_cmp);
        for (size_t i = 1; i < n; i++)
                if (strcmp(upper[i - 1], upper[i]) == 0) {
                        r = -EEXIST;
                        goto finish;
                }

        /* Names that are valid short names first, so that generated ones avoid them. */
        for (size_t i = 0; i < n; i++) {
                Entry *c = &e[dir->children[i]];
                if (short_name_from(c->name, c->short_name)) {
                        c->slots = 1;
                        name_set_add(&set, c->short_name);
                }
        }
        for (size_t i = 0; i < n; i++) {
                Entry *c = &e[dir->children[i]];
                if (c->slots)
                        continue;
                r = long_name_from(c->name, &c->lfn, &c->lfn_len);
                if (r < 0)
                        goto finish;
                c->slots = 1 + (c->lfn_len + 12) / 13;

                char primary[9], ext[4];
                basis_name(c->name, primary, ext);
                bool found = false;
                for (unsigned tail = 1; tail < 1000000 && !found; tail++) {
                        char t[9];
                        int tl = snprintf(t, sizeof t, "~%u", tail);
                        size_t keep = MIN(strlen(primary), 8 - (size_t) tl);
                        memset(c->short_name, ' ', 11);
                        memcpy(c->short_name, primary, keep);
                        memcpy(c->short_name + keep, t, (size_t) tl);
                        memcpy(c->short_name + 8, ext, strlen(ext));
                        found = name_set_add(&set, c->short_name);
                }
                if (!found) {
                        r = -ENOSPC;
                        goto finish;
                }
        }

finish:
        for (size_t i = 0; i < n; i++)
                free(upper[i]);
        return r;
}

/* "FAT Volume Initialization" (cluster counts decide the type) with the
 * cluster sizes documented in vfat.h. */
static int geometry_for(uint64_t size, uint32_t root_dirents, Geometry *ret) {
        uint64_t total = size / SECTOR;
        if (total >= UINT64_C(1) << 32)
                return -EFBIG;

        /* FAT32 first. */
        uint32_t spc = size < (UINT64_C(8) << 30) ? 8 : size < (UINT64_C(16) << 30) ? 16 : size < (UINT64_C(32) << 30) ? 32 : 64;
        for (int fat32 = 1; fat32 >= 0; fat32--) {
                static const uint32_t fat16_spc[] = { 4, 8, 16, 32, 64, 2, 1 };
                for (size_t k = 0; k < (fat32 ? 1 : ELEMENTSOF(fat16_spc)); k++) {
                        Geometry g = {
                                .fat32 = fat32,
                                .total_sectors = (uint32_t) total,
                                .sec_per_clus = fat32 ? spc : fat16_spc[k],
                                .reserved = fat32 ? 32 : 1,
                        };
                        if (!fat32)
                                g.root_entries = MAX(512u, (root_dirents + 15) / 16 * 16);
                        uint32_t root_sectors = g.root_entries * 32 / SECTOR;
                        uint32_t entry = fat32 ? 4 : 2;
                        /* The FAT must hold an entry for every cluster (and the two
                         * reserved ones); grow it until it does. */
                        uint32_t fat = 1;
                        for (;;) {
                                uint64_t meta = (uint64_t) g.reserved + NUM_FATS * fat + root_sectors;
                                if (meta >= total)
                                        break;
                                uint64_t clusters = (total - meta) / g.sec_per_clus;
                                uint64_t need = ((clusters + 2) * entry + SECTOR - 1) / SECTOR;
                                if (need <= fat) {
                                        g.fat_sectors = fat;
                                        g.clusters = (uint32_t) MIN(clusters, (uint64_t) UINT32_MAX);
                                        g.data_start = (uint32_t) meta;
                                        break;
                                }
                                fat = (uint32_t) need;
                        }
                        if (g.fat_sectors == 0)
                                continue;
                        if (fat32 && g.clusters >= FAT32_MIN_CLUSTERS && g.clusters <= FAT32_MAX_CLUSTERS) {
                                *ret = g;
                                return 0;
                        }
                        if (!fat32 && g.clusters >= FAT16_MIN_CLUSTERS && g.clusters < FAT32_MIN_CLUSTERS) {
                                *ret = g;
                                return 0;
                        }
                }
        }
        return -ENOSPC;
}

static void fat_time(int64_t t, le16_t *ret_date, le16_t *ret_time, uint8_t *ret_tenth) {
        /* 1980-01-01T00:00:00Z .. 2107-12-31T23:59:58Z, "Date and Time Formats". */
        t = MAX(t, INT64_C(315532800));
        t = MIN(t, INT64_C(4354819198));
        time_t tt = (time_t) t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        *ret_date = htole16((uint16_t) ((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday));
        *ret_time = htole16((uint16_t) (tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2));
        if (ret_tenth)
                *ret_tenth = (uint8_t) ((tm.tm_sec % 2) * 100);
}

static void dirent_fill(struct fat_dirent *d, const uint8_t name[11], uint8_t attr, uint32_t cluster,
                        uint32_t size, int64_t mtime) {
        *d = (struct fat_dirent) {
                .attr = attr,
                .fst_clus_hi = htole16((uint16_t) (cluster >> 16)),
                .fst_clus_lo = htole16((uint16_t) cluster),
                .file_size = htole32(size),
        };
        memcpy(d->name, name, 11);
        le16_t date, time;
        uint8_t tenth;
        fat_time(mtime, &date, &time, &tenth);
        d->crt_date = d->wrt_date = d->lst_acc_date = date;
        d->crt_time = d->wrt_time = time;
        d->crt_time_tenth = tenth;
}

/* Writes the entries of directory d at p. */
static void write_dir(const Entry *e, size_t d, const FsOptions *o, const uint8_t *label, uint8_t *p) {
        const Entry *dir = &e[d];
        struct fat_dirent de;
        if (d == 0) {
                if (label) {
                        dirent_fill(&de, label, ATTR_VOLUME_ID, 0, 0, o->time);
                        memcpy(p, &de, sizeof de);
                        p += sizeof de;
                }
        } else {
                /* "." and ".." ("FAT Directory Structure"); ".." of a directory in
                 * the root points to cluster 0, on FAT32 too. */
                uint8_t dot[11], dotdot[11];
                memset(dot, ' ', 11);
                memset(dotdot, ' ', 11);
                dot[0] = dotdot[0] = dotdot[1] = '.';
                dirent_fill(&de, dot, ATTR_DIRECTORY, dir->first_cluster, 0, o->time);
                memcpy(p, &de, sizeof de);
                p += sizeof de;
                dirent_fill(&de, dotdot, ATTR_DIRECTORY, dir->parent == 0 ? 0 : e[dir->parent].first_cluster, 0, o->time);
                memcpy(p, &de, sizeof de);
                p += sizeof de;
        }

        for (size_t i = 0; i < dir->n_children; i++) {
                const Entry *c = &e[dir->children[i]];
                if (c->lfn) {
                        uint8_t sum = lfn_checksum(c->short_name);
                        size_t n = c->slots - 1;
                        /* The last piece comes first, numbered n | 0x40. */
                        for (size_t s = n; s >= 1; s--) {
                                struct fat_lfn l = {
                                        .ord = (uint8_t) (s | (s == n ? LAST_LONG_ENTRY : 0)),
                                        .attr = ATTR_LONG_NAME,
                                        .chksum = sum,
                                };
                                uint16_t u[13];
                                for (size_t j = 0; j < 13; j++) {
                                        size_t at = (s - 1) * 13 + j;
                                        /* NUL after the name if it fits, then 0xFFFF padding. */
                                        u[j] = at < c->lfn_len ? c->lfn[at] : at == c->lfn_len ? 0 : 0xffff;
                                }
                                for (size_t j = 0; j < 5; j++)
                                        l.name1[j] = htole16(u[j]);
                                for (size_t j = 0; j < 6; j++)
                                        l.name2[j] = htole16(u[5 + j]);
                                for (size_t j = 0; j < 2; j++)
                                        l.name3[j] = htole16(u[11 + j]);
                                memcpy(p, &l, sizeof l);
                                p += sizeof l;
                        }
                }
                bool is_dir = c->node->type == TREE_DIR;
                size_t size = !is_dir && c->node->blob ? c->node->blob->size : 0;
                dirent_fill(&de, c->short_name, is_dir ? ATTR_DIRECTORY : ATTR_ARCHIVE, c->first_cluster,
                            (uint32_t) size, o->time);
                memcpy(p, &de, sizeof de);
                p += sizeof de;
        }
}

static void fat_set(uint8_t *fat, bool fat32, uint32_t i, uint32_t v) {
        if (fat32) {
                le32_t x = htole32(v);
                memcpy(fat + 4 * (size_t) i, &x, 4);
        } else {
                le16_t x = htole16((uint16_t) v);
                memcpy(fat + 2 * (size_t) i, &x, 2);
        }
}

static int label_from(const char *s, uint8_t out[11]) {
        size_t n = strlen(s);
        if (n == 0 || n > 11)
                return -EINVAL;
        memset(out, ' ', 11);
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c >= 'a' && c <= 'z')
                        c = (char) (c - 'a' + 'A');
                if (!short_char_ok(c) && c != ' ')
                        return -EINVAL;
                out[i] = (uint8_t) c;
        }
        return 0;
}

typedef struct PieceOut {
        int fd;
        uint64_t base;
} PieceOut;

static int write_at(void *userdata, uint64_t off, const void *data, size_t n) {
        PieceOut *w = userdata;
        return pwrite_all(w->fd, data, n, w->base + off);
}

int vfat_build_fd(const Tree *t, const FsOptions *o, int fd, uint64_t *ret_used) {
        _cleanup_free_ uint8_t *img = NULL, *dirbuf = NULL;
        const uint64_t size = o->size;
        const char *root = o->root ? o->root : "/";
        const uint32_t volume_id = (uint32_t) o->uuid[0] | (uint32_t) o->uuid[1] << 8 | (uint32_t) o->uuid[2] << 16 |
                                   (uint32_t) o->uuid[3] << 24;
        int r;

        if (size % SECTOR != 0 || size == 0 || o->n_exclude > 0)
                return -EINVAL;
        uint8_t label[11];
        if (o->label) {
                r = label_from(o->label, label);
                if (r < 0)
                        return r;
        }

        _cleanup_free_ char *rootp = NULL;
        r = tree_path_normalize(root, &rootp);
        if (r < 0)
                return r;
        size_t rl = strlen(rootp);
        bool whole = strcmp(rootp, "/") == 0;

        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n_nodes;
        r = tree_list(t, &nodes, &n_nodes);
        if (r < 0)
                return r;

        /* The subtree, root first, in path order. */
        Entry *e = new0(Entry, n_nodes);
        if (!e)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < n_nodes; i++) {
                const char *p = nodes[i]->path;
                bool is_root = strcmp(p, rootp) == 0;
                if (!is_root && !(whole || (strncmp(p, rootp, rl) == 0 && p[rl] == '/')))
                        continue;
                if (is_root && n != 0) {
                        r = -EIO;
                        goto finish;
                }
                if (!is_root && n == 0) {
                        r = -ENOENT;
                        goto finish;
                }
                if (nodes[i]->type != TREE_DIR && nodes[i]->type != TREE_REG) {
                        r = is_root ? -ENOTDIR : -EOPNOTSUPP;
                        goto finish;
                }
                if (is_root && nodes[i]->type != TREE_DIR) {
                        r = -ENOTDIR;
                        goto finish;
                }
                if (nodes[i]->type == TREE_REG && nodes[i]->blob && nodes[i]->blob->size > UINT32_MAX) {
                        r = -EFBIG;
                        goto finish;
                }
                e[n] = (Entry) { .node = nodes[i], .name = is_root ? "" : strrchr(p, '/') + 1 };
                n++;
        }
        if (n == 0) {
                r = -ENOENT;
                goto finish;
        }

        /* Parents: the entries are sorted by path, so a binary search finds them. */
        for (size_t i = 1; i < n; i++) {
                const char *p = e[i].node->path;
                size_t pl = (size_t) (e[i].name - 1 - p);
                size_t lo = 0, hi = i, found = SIZE_MAX;
                if (whole ? pl == 0 : pl == rl)
                        found = 0;
                while (found == SIZE_MAX && lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        const char *q = e[mid].node->path;
                        int c = strncmp(q, p, pl);
                        if (c == 0 && q[pl] == 0)
                                found = mid;
                        else if (c < 0)
                                lo = mid + 1;
                        else
                                hi = mid; /* greater, or longer with the prefix equal */
                }
                if (found == SIZE_MAX || e[found].node->type != TREE_DIR) {
                        r = -EIO;
                        goto finish;
                }
                e[i].parent = found;
                Entry *d = &e[found];
                if (!GREEDY_REALLOC(d->children, d->allocated_children, d->n_children + 1)) {
                        r = -ENOMEM;
                        goto finish;
                }
                d->children[d->n_children++] = i;
        }

        for (size_t i = 0; i < n; i++) {
                if (e[i].node->type != TREE_DIR)
                        continue;
                r = name_children(e, i);
                if (r < 0)
                        goto finish;
                e[i].n_dirents = i == 0 ? (o->label ? 1 : 0) : 2;
                for (size_t j = 0; j < e[i].n_children; j++)
                        e[i].n_dirents += e[e[i].children[j]].slots;
                if (e[i].n_dirents > DIR_MAX_ENTRIES) {
                        r = -EFBIG;
                        goto finish;
                }
        }

        Geometry g;
        r = geometry_for(size, (uint32_t) e[0].n_dirents, &g);
        if (r < 0)
                goto finish;

        /* Contiguous clusters in path order from cluster 2. */
        uint32_t cluster_bytes = g.sec_per_clus * SECTOR;
        uint64_t next = 2;
        for (size_t i = 0; i < n; i++) {
                uint64_t bytes;
                if (e[i].node->type == TREE_DIR) {
                        if (i == 0 && !g.fat32)
                                continue; /* the fixed FAT16 root directory region */
                        bytes = MAX((uint64_t) e[i].n_dirents * 32, 1);
                } else
                        bytes = e[i].node->blob ? e[i].node->blob->size : 0;
                uint64_t k = (bytes + cluster_bytes - 1) / cluster_bytes;
                if (k == 0)
                        continue;
                if (next - 2 + k > g.clusters) {
                        r = -ENOSPC;
                        goto finish;
                }
                e[i].first_cluster = (uint32_t) next;
                e[i].n_clusters = (uint32_t) k;
                next += k;
        }
        uint32_t used = (uint32_t) (next - 2);

        /* In memory: the reserved sectors, the FATs and FAT16's root
         * directory; the directories and the files' contents are written
         * straight to their clusters in the file. */
        const size_t meta_size = (size_t) g.data_start * SECTOR;
        img = calloc(1, meta_size);
        if (!img) {
                r = -ENOMEM;
                goto finish;
        }

        /* Boot sector, "Boot Sector and BPB Structure". */
        struct fat_bpb bpb = {
                .jmp_boot = { 0xeb, g.fat32 ? 0x58 : 0x3c, 0x90 },
                .bytes_per_sec = htole16(SECTOR),
                .sec_per_clus = (uint8_t) g.sec_per_clus,
                .rsvd_sec_cnt = htole16((uint16_t) g.reserved),
                .num_fats = NUM_FATS,
                .root_ent_cnt = htole16((uint16_t) g.root_entries),
                .tot_sec16 = htole16(g.total_sectors < 0x10000 && !g.fat32 ? (uint16_t) g.total_sectors : 0),
                .media = MEDIA,
                .fat_sz16 = htole16(g.fat32 ? 0 : (uint16_t) g.fat_sectors),
                .sec_per_trk = htole16(63),
                .num_heads = htole16(255),
                .tot_sec32 = htole32(g.total_sectors < 0x10000 && !g.fat32 ? 0 : g.total_sectors),
        };
        memcpy(bpb.oem_name, "MSWIN4.1", 8); /* the name fatgen103 recommends */
        const uint8_t *vol_label = o->label ? label : (const uint8_t *) "NO NAME    ";
        if (g.fat32) {
                struct fat32_boot b = {
                        .bpb = bpb,
                        .fat_sz32 = htole32(g.fat_sectors),
                        .root_clus = htole32(2),
                        .fs_info = htole16(1),
                        .bk_boot_sec = htole16(6),
                        .drv_num = 0x80,
                        .boot_sig = 0x29,
                        .vol_id = htole32(volume_id),
                };
                memcpy(b.vol_lab, vol_label, 11);
                memcpy(b.fil_sys_type, "FAT32   ", 8);
                memcpy(img, &b, sizeof b);

                struct fat32_fsinfo fi = {
                        .lead_sig = htole32(0x41615252),
                        .struc_sig = htole32(0x61417272),
                        .free_count = htole32(g.clusters - used),
                        .nxt_free = htole32(used < g.clusters ? 2 + used : 0xffffffff),
                        .trail_sig = htole32(0xaa550000),
                };
                memcpy(img + SECTOR, &fi, sizeof fi);
        } else {
                struct fat16_boot b = {
                        .bpb = bpb,
                        .drv_num = 0x80,
                        .boot_sig = 0x29,
                        .vol_id = htole32(volume_id),
                };
                memcpy(b.vol_lab, vol_label, 11);
                memcpy(b.fil_sys_type, "FAT16   ", 8);
                memcpy(img, &b, sizeof b);
        }
        img[510] = 0x55;
        img[511] = 0xaa;
        if (g.fat32) /* the backups of the boot sector and FSInfo */
                memcpy(img + 6 * SECTOR, img, 2 * SECTOR);

        /* The FAT: media and end-of-chain in entries 0 and 1 ("FAT Data
         * Structure"), then one contiguous chain per file or directory. */
        uint8_t *fat = img + (size_t) g.reserved * SECTOR;
        uint32_t eoc = g.fat32 ? 0x0fffffff : 0xffff;
        fat_set(fat, g.fat32, 0, (eoc & ~0xffu) | MEDIA);
        fat_set(fat, g.fat32, 1, eoc);
        for (size_t i = 0; i < n; i++)
                for (uint32_t k = 0; k < e[i].n_clusters; k++) {
                        uint32_t c = e[i].first_cluster + k;
                        fat_set(fat, g.fat32, c, k + 1 == e[i].n_clusters ? eoc : c + 1);
                }
        memcpy(fat + (size_t) g.fat_sectors * SECTOR, fat, (size_t) g.fat_sectors * SECTOR);

        /* Directories and file contents, cluster by cluster in the order
         * they were allocated. */
        size_t dirbuf_size = 0;
        for (size_t i = 0; i < n; i++) {
                uint64_t at = (uint64_t) g.data_start * SECTOR + (uint64_t) (e[i].first_cluster - 2) * cluster_bytes;
                if (e[i].node->type == TREE_DIR) {
                        if (i == 0 && !g.fat32) {
                                write_dir(e, i, o, o->label ? label : NULL,
                                          img + (size_t) (g.reserved + NUM_FATS * g.fat_sectors) * SECTOR);
                                continue;
                        }
                        size_t bytes = (size_t) e[i].n_clusters * cluster_bytes;
                        if (bytes > dirbuf_size) {
                                free(dirbuf);
                                dirbuf = malloc(bytes);
                                if (!dirbuf) {
                                        r = -ENOMEM;
                                        goto finish;
                                }
                                dirbuf_size = bytes;
                        }
                        memset(dirbuf, 0, bytes);
                        write_dir(e, i, o, o->label ? label : NULL, dirbuf);
                        r = pwrite_all(fd, dirbuf, bytes, at);
                } else {
                        PieceOut w = { .fd = fd, .base = at };
                        r = tree_blob_foreach(e[i].node->blob, write_at, &w);
                }
                if (r < 0)
                        goto finish;
        }
        r = pwrite_all(fd, img, meta_size, 0);
        if (r >= 0 && ftruncate(fd, (off_t) size) < 0)
                r = -errno;
        if (r < 0)
                goto finish;

        if (ret_used) /* the FATs' copies, the root directory, then the allocated clusters */
                *ret_used = MAX((uint64_t) g.data_start * SECTOR + (uint64_t) used * cluster_bytes,
                                g.fat32 ? (uint64_t) 7 * SECTOR : (uint64_t) SECTOR);
        r = 0;
finish:
        entries_free(e, n_nodes);
        return r;
}

int vfat_build(const Tree *t, const FsOptions *o, const char *path, uint64_t *ret_used) {
        if (o->size > (uint64_t) INT64_MAX)
                return -EFBIG;
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        int r = vfat_build_fd(t, o, fd, ret_used);
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(path);
        return r;
}
