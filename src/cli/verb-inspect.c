/* SPDX-License-Identifier: MIT */

/* `slipway inspect FILE`: what an RPM, a repository or an image holds. The
 * inventory (src/inspect/) is turned into JSON values; --json prints them,
 * otherwise they are rendered as text, so the two never disagree. The file
 * list is made one row at a time (an image has 10^5 files, and a jansson
 * object per file would take a kilobyte and more each, all at once). The
 * schema is in docs/cli.md. */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/sde.h"
#include "cli.h"
#include "compose/sbom.h"
#include "config/project.h"
#include "disk/gpt.h"
#include "inspect/inspect.h"
#include "rpm/tags.h"

/* ---- the JSON value ------------------------------------------------------- */

/* Replaces what is not UTF-8 (names in archives are bytes) with U+FFFD. */
static char *utf8_sanitize(const char *s) {
        size_t n = strlen(s);
        char *r = malloc(3 * n + 1), *o = r;
        const unsigned char *p = (const unsigned char *) s;
        if (!r)
                return NULL;
        while (*p) {
                unsigned len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
                unsigned cp = len == 1 ? *p : len == 2 ? (*p & 0x1Fu) : len == 3 ? (*p & 0x0Fu) : (*p & 0x07u);
                bool ok = len > 0;
                for (unsigned i = 1; ok && i < len; i++) {
                        ok = (p[i] & 0xC0) == 0x80;
                        cp = (cp << 6) | (p[i] & 0x3Fu);
                }
                /* No overlong forms, surrogates or code points past U+10FFFF. */
                if (ok && len > 1)
                        ok = cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u) && cp <= 0x10FFFF &&
                             (cp < 0xD800 || cp > 0xDFFF);
                if (ok) {
                        memcpy(o, p, len);
                        o += len;
                        p += len;
                } else {
                        memcpy(o, "\xEF\xBF\xBD", 3);
                        o += 3;
                        p++;
                }
        }
        *o = 0;
        return r;
}

static json_t *jstr(const char *s) {
        if (!s)
                return json_null();
        json_t *j = json_string(s);
        if (j)
                return j;
        _cleanup_free_ char *t = utf8_sanitize(s);
        return t ? json_string(t) : NULL;
}

typedef struct Builder {
        bool oom;
} Builder;

static void set(Builder *b, json_t *o, const char *key, json_t *v) {
        if (!o || !v || json_object_set_new(o, key, v) < 0)
                b->oom = true;
}

static void append(Builder *b, json_t *a, json_t *v) {
        if (!a || !v || json_array_append_new(a, v) < 0)
                b->oom = true;
}

static json_t *strv_json(Builder *b, char *const *v, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                append(b, a, jstr(v[i]));
        return a;
}

static const char *file_type(uint32_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG:
                return "file";
        case S_IFDIR:
                return "directory";
        case S_IFLNK:
                return "symlink";
        case S_IFCHR:
                return "char";
        case S_IFBLK:
                return "block";
        case S_IFIFO:
                return "fifo";
        case S_IFSOCK:
                return "socket";
        default:
                return "unknown";
        }
}

static const struct {
        uint32_t flag;
        const char *name;
} rpm_flags[] = {
        { RPMFILE_CONFIG, "config" },       { RPMFILE_NOREPLACE, "noreplace" }, { RPMFILE_MISSINGOK, "missingok" },
        { RPMFILE_GHOST, "ghost" },         { RPMFILE_DOC, "doc" },             { RPMFILE_LICENSE, "license" },
};

static json_t *package_json(Builder *b, const Inventory *inv, const InvPackage *p) {
        _cleanup_free_ char *nevra = inv_package_nevra(p);
        json_t *o = json_object();
        set(b, o, "name", jstr(p->name));
        set(b, o, "epoch", p->has_epoch ? json_integer(p->epoch) : json_null());
        set(b, o, "version", jstr(p->version));
        set(b, o, "release", jstr(p->release));
        set(b, o, "arch", jstr(p->arch));
        set(b, o, "nevra", nevra ? jstr(nevra) : NULL);
        if (inv->kind == INVENTORY_RPM) {
                set(b, o, "source", json_boolean(p->source));
                set(b, o, "summary", jstr(p->summary));
                set(b, o, "license", jstr(p->license));
                set(b, o, "signature",
                    p->is_signed ? json_pack("{s:o, s:o}", "tag", jstr(p->signature_tag), "key_id", jstr(p->key_id))
                                 : json_null());
                set(b, o, "requires", strv_json(b, p->requires, p->n_requires));
                set(b, o, "provides", strv_json(b, p->provides, p->n_provides));
                set(b, o, "conflicts", strv_json(b, p->conflicts, p->n_conflicts));
                set(b, o, "obsoletes", strv_json(b, p->obsoletes, p->n_obsoletes));
        } else if (inv->kind == INVENTORY_REPOSITORY) {
                set(b, o, "href", jstr(p->href));
                set(b, o, "checksum_type", jstr(p->checksum_type));
                set(b, o, "checksum", jstr(p->checksum));
        }
        return o;
}

static json_t *file_json_b(Builder *b, const InvFile *f) {
        char mode[16];
        snprintf(mode, sizeof mode, "%04o", f->mode & 07777);
        json_t *o = json_object(), *flags = json_array();
        set(b, o, "path", jstr(f->path));
        set(b, o, "type", json_string(file_type(f->mode)));
        set(b, o, "mode", json_string(mode));
        set(b, o, "uid", f->has_ids ? json_integer(f->uid) : json_null());
        set(b, o, "gid", f->has_ids ? json_integer(f->gid) : json_null());
        set(b, o, "user", jstr(f->user));
        set(b, o, "group", jstr(f->group));
        set(b, o, "size", json_integer((json_int_t) MIN(f->size, (uint64_t) INT64_MAX)));
        set(b, o, "target", jstr(f->target));
        set(b, o, "hardlink", jstr(f->hardlink));
        set(b, o, "device", f->has_rdev ? json_pack("[I, I]", (json_int_t) f->rdev_major, (json_int_t) f->rdev_minor)
                                        : json_null());
        for (size_t i = 0; i < ELEMENTSOF(rpm_flags); i++)
                if (f->rpm_flags & rpm_flags[i].flag)
                        append(b, flags, json_string(rpm_flags[i].name));
        set(b, o, "flags", flags);
        set(b, o, "caps", jstr(f->caps));
        set(b, o, "xattrs", strv_json(b, f->xattrs, f->n_xattrs));
        set(b, o, "layer", f->layer >= 0 ? json_integer(f->layer) : json_null());
        if (f->partition >= 0) /* disks only: other kinds keep their rows as they were */
                set(b, o, "partition", json_integer(f->partition));
        return o;
}

/* One row of the file list; NULL when out of memory. */
static json_t *file_json(const InvFile *f) {
        Builder b = {};
        json_t *o = file_json_b(&b, f);
        if (b.oom) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* Prints value as json_dumpf() with JSON_INDENT(2) would, indented by
 * indent more spaces. */
static int dump_indented(const json_t *v, unsigned indent) {
        _cleanup_free_ char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (!s)
                return -ENOMEM;
        for (const char *p = s; *p; p++) {
                putchar(*p);
                if (*p == '\n') /* JSON strings have theirs escaped */
                        printf("%*s", (int) indent, "");
        }
        return 0;
}

/* The document: head's members, then "files" with one row a line. */
static int print_json(const json_t *head, const Inventory *inv) {
        const char *key;
        const json_t *v;
        size_t n = json_object_size(head), i = 0;
        bool files = inv->kind != INVENTORY_REPOSITORY;

        fputs("{\n", stdout);
        json_object_foreach((json_t *) head, key, v) {
                printf("  \"%s\": ", key); /* our own keys: plain ASCII */
                if (dump_indented(v, 2) < 0)
                        return -ENOMEM;
                fputs(++i < n || files ? ",\n" : "\n", stdout);
        }
        if (files) {
                fputs("  \"files\": [", stdout);
                for (size_t k = 0; k < inv->n_files; k++) {
                        json_t *f = file_json(&inv->files[k]);
                        _cleanup_free_ char *row = f ? json_dumps(f, JSON_PRESERVE_ORDER) : NULL;
                        json_decref(f);
                        if (!row)
                                return -ENOMEM;
                        printf("%s\n    %s", k ? "," : "", row);
                }
                fputs(inv->n_files ? "\n  ]\n" : "]\n", stdout);
        }
        fputs("}\n", stdout);
        return 0;
}

static json_t *diag_json(Builder *b, const Diagnostics *d, DiagLevel level) {
        json_t *a = json_array();
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].level == level)
                        append(b, a, jstr(d->items[i].message));
        return a;
}

static json_t *guid_json(const uint8_t guid[16]) {
        char s[GUID_STRING_MAX];
        return json_string(guid_to_string(guid, s));
}

static json_t *filesystem_json(Builder *b, const InvFilesystem *fs) {
        if (!fs->type)
                return json_null();
        json_t *o = json_object();
        set(b, o, "type", json_string(fs->type));
        set(b, o, "label", jstr(fs->label));
        set(b, o, "uuid", jstr(fs->uuid));
        set(b, o, "files", json_integer((json_int_t) fs->n_files));
        set(b, o, "error", jstr(fs->error));
        return o;
}

static json_t *partition_ref(int partition) {
        return partition >= 0 ? json_integer(partition) : json_null();
}

/* The members of a disk image: "disk", "filesystem", "partitions", "boot",
 * "rpmdb_partition" (the schema in docs/cli.md). */
static void disk_json(Builder *b, json_t *o, const Inventory *inv) {
        json_t *disk = json_object();
        set(b, disk, "size", json_integer((json_int_t) MIN(inv->disk_size, (uint64_t) INT64_MAX)));
        set(b, disk, "partition_table", inv->has_gpt ? json_string("gpt") : json_null());
        set(b, disk, "guid", inv->has_gpt ? guid_json(inv->disk_guid) : json_null());
        set(b, disk, "backup_table_used", json_boolean(inv->gpt_from_backup));
        set(b, o, "disk", disk);
        set(b, o, "filesystem", filesystem_json(b, &inv->disk_fs));

        json_t *parts = json_array();
        for (size_t i = 0; i < inv->n_partitions; i++) {
                const InvPartition *p = &inv->partitions[i];
                json_t *x = json_object();
                char attrs[19];
                snprintf(attrs, sizeof attrs, "0x%016llx", (unsigned long long) p->attributes);
                set(b, x, "number", json_integer(p->number));
                set(b, x, "type", jstr(p->type_name));
                set(b, x, "arch", jstr(p->type_arch));
                set(b, x, "type_guid", guid_json(p->type_guid));
                set(b, x, "guid", guid_json(p->guid));
                set(b, x, "name", jstr(p->name));
                set(b, x, "first_lba", json_integer((json_int_t) p->first_lba));
                set(b, x, "last_lba", json_integer((json_int_t) p->last_lba));
                set(b, x, "start", json_integer((json_int_t) (p->first_lba * 512)));
                set(b, x, "size", json_integer((json_int_t) ((p->last_lba - p->first_lba + 1) * 512)));
                set(b, x, "attributes", json_string(attrs));
                set(b, x, "filesystem", filesystem_json(b, &p->fs));
                append(b, parts, x);
        }
        set(b, o, "partitions", parts);

        json_t *boot = json_object(), *entries = json_array();
        if (inv->loader_path)
                set(b, boot, "loader",
                    json_pack("{s:o, s:o, s:o, s:o}", "partition", partition_ref(inv->loader_partition), "path",
                              jstr(inv->loader_path), "default", jstr(inv->loader_default), "timeout",
                              jstr(inv->loader_timeout)));
        else
                set(b, boot, "loader", json_null());
        for (size_t i = 0; i < inv->n_boot_entries; i++) {
                const InvBootEntry *e = &inv->boot_entries[i];
                json_t *x = json_object();
                set(b, x, "type", json_string(e->type));
                set(b, x, "partition", partition_ref(e->partition));
                set(b, x, "path", jstr(e->path));
                set(b, x, "title", jstr(e->title));
                set(b, x, "version", jstr(e->version));
                set(b, x, "linux", jstr(e->linux));
                set(b, x, "initrd", strv_json(b, e->initrd, e->n_initrd));
                set(b, x, "options", jstr(e->options));
                append(b, entries, x);
        }
        set(b, boot, "entries", entries);
        set(b, o, "boot", boot);
        set(b, o, "rpmdb", jstr(inv->rpmdb));
        set(b, o, "rpmdb_partition", inv->rpmdb ? partition_ref(inv->rpmdb_partition) : json_null());
}

/* Everything but the file list (file_json() makes its rows). */
static json_t *inventory_json(const Inventory *inv, const char *path, const Diagnostics *d) {
        Builder b = {};
        json_t *o = json_object();
        set(&b, o, "kind", json_string(inventory_kind_to_string(inv->kind)));
        set(&b, o, "path", jstr(path));
        set(&b, o, "format", jstr(inv->format));
        if (inv->kind == INVENTORY_IMAGE)
                set(&b, o, "compression", jstr(inv->compression));
        if (inv->kind == INVENTORY_REPOSITORY) {
                set(&b, o, "signed", json_boolean(inv->repo_signed));
                json_t *md = json_array();
                for (size_t i = 0; i < inv->n_metadata; i++) {
                        const InvMetadata *m = &inv->metadata[i];
                        append(&b, md, json_pack("{s:o, s:o, s:o, s:o}", "type", jstr(m->type), "href", jstr(m->href),
                                                 "checksum_type", jstr(m->checksum_type), "checksum",
                                                 jstr(m->checksum)));
                }
                set(&b, o, "metadata", md);
        }
        if (inv->kind == INVENTORY_IMAGE) {
                json_t *layers = json_array();
                for (size_t i = 0; i < inv->n_layers; i++) {
                        const InvLayer *l = &inv->layers[i];
                        append(&b, layers, json_pack("{s:o, s:o, s:o, s:s}", "digest", jstr(l->digest), "media_type",
                                                     jstr(l->media_type), "size",
                                                     l->size >= 0 ? json_integer(l->size) : json_null(),
                                                     "compression", l->compression ? l->compression : "none"));
                }
                set(&b, o, "layers", layers);
                set(&b, o, "rpmdb", jstr(inv->rpmdb));
        }
        if (inv->kind == INVENTORY_DISK)
                disk_json(&b, o, inv);
        json_t *pk = json_array();
        for (size_t i = 0; i < inv->n_packages; i++)
                append(&b, pk, package_json(&b, inv, &inv->packages[i]));
        set(&b, o, "packages", pk);
        set(&b, o, "warnings", diag_json(&b, d, DIAG_WARNING));
        if (b.oom) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* ---- text ----------------------------------------------------------------- */

/* A JSON string member, or "-". */
static const char *js(const json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "-";
}

/* s with control characters escaped, so that a name cannot move the cursor
 * (malloc'd; NULL when out of memory). */
static char *text(const char *s) {
        size_t n = strlen(s);
        char *r = malloc(4 * n + 1), *o = r;
        if (!r)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '\\')
                        o += sprintf(o, "\\\\");
                else if (*p < 0x20 || *p == 0x7F)
                        o += sprintf(o, "\\x%02x", *p);
                else
                        *o++ = (char) *p;
        }
        *o = 0;
        return r;
}

static void put(const char *s) {
        _cleanup_free_ char *t = text(s);
        fputs(t ? t : "?", stdout);
}

static void print_field(const char *label, const char *value) {
        printf("%-13s", label);
        put(value);
        putchar('\n');
}

static void print_list(const char *label, const json_t *a) {
        size_t i;
        const json_t *v;
        if (json_array_size(a) == 0)
                return;
        json_array_foreach(a, i, v) {
                printf("%-13s", i == 0 ? label : "");
                put(json_string_value(v));
                putchar('\n');
        }
}

static void mode_string(const char *type, unsigned mode, char out[11]) {
        static const struct {
                const char *type;
                char c;
        } types[] = { { "file", '-' }, { "directory", 'd' }, { "symlink", 'l' }, { "char", 'c' },
                      { "block", 'b' }, { "fifo", 'p' },      { "socket", 's' } };
        out[0] = '?';
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (strcmp(type, types[i].type) == 0)
                        out[0] = types[i].c;
        for (int k = 0; k < 3; k++) {
                unsigned bits = (mode >> (6 - 3 * k)) & 7;
                bool special = mode & (04000u >> k); /* setuid, setgid, sticky */
                out[1 + 3 * k] = bits & 4 ? 'r' : '-';
                out[2 + 3 * k] = bits & 2 ? 'w' : '-';
                char x = bits & 1 ? 'x' : '-';
                if (special)
                        x = k == 2 ? (bits & 1 ? 't' : 'T') : (bits & 1 ? 's' : 'S');
                out[3 + 3 * k] = x;
        }
        out[10] = 0;
}

/* The owner column: names for RPMs, numbers for images. */
static void owner(const json_t *f, const char *id_key, const char *name_key, char *buf, size_t size) {
        const json_t *id = json_object_get(f, id_key);
        if (json_is_integer(id))
                snprintf(buf, size, "%lld", (long long) json_integer_value(id));
        else {
                _cleanup_free_ char *t = text(js(f, name_key));
                snprintf(buf, size, "%s", t ? t : "?");
        }
}

/* The size column: bytes, or "MAJOR, MINOR" for devices as ls shows them. */
static void size_column(const json_t *f, char *buf, size_t size) {
        const json_t *dev = json_object_get(f, "device");
        if (json_is_array(dev))
                snprintf(buf, size, "%lld, %lld", (long long) json_integer_value(json_array_get(dev, 0)),
                         (long long) json_integer_value(json_array_get(dev, 1)));
        else
                snprintf(buf, size, "%lld", (long long) json_integer_value(json_object_get(f, "size")));
}

/* column: "layer" or "partition", a first column of the rows; NULL: none. */
static int print_files(const Inventory *inv, const char *column) {
        size_t wu = 1, wg = 1, ws = 1;
        char u[64], g[64], sz[32];

        printf("\nfiles (%zu)\n", inv->n_files);
        /* Two passes over the rows: the column widths, then the lines. */
        for (size_t i = 0; i < inv->n_files; i++) {
                json_t *f = file_json(&inv->files[i]);
                if (!f)
                        return -ENOMEM;
                owner(f, "uid", "user", u, sizeof u);
                owner(f, "gid", "group", g, sizeof g);
                wu = MAX(wu, strlen(u));
                wg = MAX(wg, strlen(g));
                size_column(f, sz, sizeof sz);
                ws = MAX(ws, strlen(sz));
                json_decref(f);
        }
        for (size_t i = 0; i < inv->n_files; i++) {
                _cleanup_(json_decrefp) json_t *f = file_json(&inv->files[i]);
                if (!f)
                        return -ENOMEM;
                char m[11];
                mode_string(js(f, "type"), (unsigned) strtoul(js(f, "mode"), NULL, 8), m);
                owner(f, "uid", "user", u, sizeof u);
                owner(f, "gid", "group", g, sizeof g);
                if (column)
                        printf("%-3lld ", (long long) json_integer_value(json_object_get(f, column)));
                size_column(f, sz, sizeof sz);
                printf("%s  %-*s  %-*s  %*s  ", m, (int) wu, u, (int) wg, g, (int) ws, sz);
                put(js(f, "path"));
                if (json_is_string(json_object_get(f, "target"))) {
                        fputs(" -> ", stdout);
                        put(js(f, "target"));
                }
                if (json_is_string(json_object_get(f, "hardlink"))) {
                        fputs(" => ", stdout);
                        put(js(f, "hardlink"));
                }
                /* rpm's spec file notation for the flags. */
                const json_t *fl = json_object_get(f, "flags");
                size_t k;
                const json_t *v;
                bool config = false, noreplace = false, missingok = false;
                json_array_foreach(fl, k, v) {
                        const char *n = json_string_value(v);
                        config |= strcmp(n, "config") == 0;
                        noreplace |= strcmp(n, "noreplace") == 0;
                        missingok |= strcmp(n, "missingok") == 0;
                        if (strcmp(n, "ghost") == 0 || strcmp(n, "doc") == 0 || strcmp(n, "license") == 0)
                                printf("  %%%s", n);
                }
                if (config)
                        printf("  %%config%s", noreplace ? "(noreplace)" : missingok ? "(missingok)" : "");
                if (json_is_string(json_object_get(f, "caps"))) {
                        fputs("  %caps(", stdout);
                        put(js(f, "caps"));
                        putchar(')');
                }
                const json_t *x = json_object_get(f, "xattrs");
                json_array_foreach(x, k, v) {
                        fputs(k == 0 ? "  [" : " ", stdout);
                        put(json_string_value(v));
                        if (k + 1 == json_array_size(x))
                                putchar(']');
                }
                putchar('\n');
        }
        return 0;
}

/* "67108864 (64.0 MiB)" */
static void print_bytes(const char *label, const char *prefix, long long n) {
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
        char buf[96];
        double v = (double) n;
        size_t u = 0;
        if (n < 1024)
                snprintf(buf, sizeof buf, "%s%lld bytes", prefix, n);
        else {
                v /= 1024;
                while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                        v /= 1024;
                        u++;
                }
                snprintf(buf, sizeof buf, "%s%lld (%.1f %s)", prefix, n, v, units[u]);
        }
        print_field(label, buf);
}

static void print_filesystem(const char *label, const json_t *fs) {
        if (!json_is_object(fs)) {
                print_field(label, "none recognised");
                return;
        }
        printf("%-13s%s", label, js(fs, "type"));
        if (json_is_string(json_object_get(fs, "label"))) {
                fputs(", label '", stdout);
                put(js(fs, "label"));
                putchar('\'');
        }
        if (json_is_string(json_object_get(fs, "uuid"))) {
                fputs(", uuid ", stdout);
                put(js(fs, "uuid"));
        }
        printf(", %lld files", (long long) json_integer_value(json_object_get(fs, "files")));
        if (json_is_string(json_object_get(fs, "error"))) {
                fputs(" (unreadable: ", stdout);
                put(js(fs, "error"));
                putchar(')');
        }
        putchar('\n');
}

/* "partition 2" or "the disk", for where a file was found. */
static void where(const json_t *partition, char *buf, size_t size) {
        if (json_integer_value(partition) > 0)
                snprintf(buf, size, "partition %lld", (long long) json_integer_value(partition));
        else
                snprintf(buf, size, "the disk");
}

/* The names directly in the root of one file system, at most a dozen. */
static void print_top(const char *label, const Inventory *inv, int partition) {
        size_t shown = 0, total = 0;
        for (size_t i = 0; i < inv->n_files; i++) {
                const char *p = inv->files[i].path;
                if (inv->files[i].partition != partition || strcmp(p, "/") == 0 || strchr(p + 1, '/'))
                        continue;
                total++;
                if (shown >= 12)
                        continue;
                if (shown == 0)
                        printf("%-13s", label);
                else
                        putchar(' ');
                put(p + 1);
                shown++;
        }
        if (total > shown)
                printf(" (and %zu more)", total - shown);
        if (shown > 0)
                putchar('\n');
}

static int render_disk(const json_t *j, const Inventory *inv) {
        const json_t *disk = json_object_get(j, "disk"), *parts = json_object_get(j, "partitions"), *v;
        const json_t *boot = json_object_get(j, "boot"), *pk = json_object_get(j, "packages");
        char buf[160];
        size_t i;

        print_field("format", js(j, "format"));
        print_bytes("virtual size", "", (long long) json_integer_value(json_object_get(disk, "size")));
        if (json_is_string(json_object_get(disk, "partition_table"))) {
                snprintf(buf, sizeof buf, "GPT, disk GUID %s%s", js(disk, "guid"),
                         json_is_true(json_object_get(disk, "backup_table_used")) ? " (from the backup table)" : "");
                print_field("partitions", buf);
        } else
                print_field("partitions", "none (no GPT)");
        if (json_is_object(json_object_get(j, "filesystem"))) {
                print_filesystem("filesystem", json_object_get(j, "filesystem"));
                print_top("top level", inv, 0);
        }

        json_array_foreach(parts, i, v) {
                const json_t *fs = json_object_get(v, "filesystem");
                printf("\npartition %lld\n", (long long) json_integer_value(json_object_get(v, "number")));
                if (json_is_string(json_object_get(v, "arch")))
                        snprintf(buf, sizeof buf, "%s (%s), %s", js(v, "type"), js(v, "arch"), js(v, "type_guid"));
                else
                        snprintf(buf, sizeof buf, "%s, %s", json_is_string(json_object_get(v, "type")) ? js(v, "type") : "unknown",
                                 js(v, "type_guid"));
                print_field("  type", buf);
                print_field("  guid", js(v, "guid"));
                if (js(v, "name")[0] && strcmp(js(v, "name"), "-") != 0)
                        print_field("  name", js(v, "name"));
                snprintf(buf, sizeof buf, "LBA %lld, ", (long long) json_integer_value(json_object_get(v, "first_lba")));
                print_bytes("  start", buf, (long long) json_integer_value(json_object_get(v, "start")));
                print_bytes("  size", "", (long long) json_integer_value(json_object_get(v, "size")));
                if (strcmp(js(v, "attributes"), "0x0000000000000000") != 0)
                        print_field("  attributes", js(v, "attributes"));
                print_filesystem("  filesystem", fs);
                if (json_is_object(fs))
                        print_top("  top level", inv, (int) json_integer_value(json_object_get(v, "number")));
        }

        const json_t *loader = json_object_get(boot, "loader"), *entries = json_object_get(boot, "entries");
        printf("\nboot\n");
        if (json_is_object(loader)) {
                where(json_object_get(loader, "partition"), buf, sizeof buf);
                printf("  %-11s%s ", "loader", buf);
                put(js(loader, "path"));
                fputs(": default ", stdout);
                put(js(loader, "default"));
                fputs(", timeout ", stdout);
                put(js(loader, "timeout"));
                putchar('\n');
        }
        if (!json_is_object(loader) && json_array_size(entries) == 0)
                printf("  none (no loader/loader.conf, loader/entries/*.conf or grub.cfg)\n");
        json_array_foreach(entries, i, v) {
                size_t k;
                const json_t *x;
                where(json_object_get(v, "partition"), buf, sizeof buf);
                printf("  %-11s%s %s ", "entry", js(v, "type"), buf);
                put(js(v, "path"));
                putchar('\n');
                print_field("    title", js(v, "title"));
                if (json_is_string(json_object_get(v, "version")))
                        print_field("    version", js(v, "version"));
                print_field("    linux", js(v, "linux"));
                json_array_foreach(json_object_get(v, "initrd"), k, x)
                        print_field("    initrd", json_string_value(x));
                print_field("    options", js(v, "options"));
        }

        if (json_is_string(json_object_get(j, "rpmdb"))) {
                where(json_object_get(j, "rpmdb_partition"), buf, sizeof buf);
                printf("\npackages (%zu, from %s ", json_array_size(pk), buf);
                put(js(j, "rpmdb"));
                puts(")");
                json_array_foreach(pk, i, v) {
                        fputs("  ", stdout);
                        put(js(v, "nevra"));
                        putchar('\n');
                }
        } else
                printf("\npackages     none (no rpm database)\n");

        if (log_get_level() >= LOG_VERBOSE)
                return print_files(inv, "partition");
        printf("\nfiles        %zu (-v lists them)\n", inv->n_files);
        return 0;
}

static int render_text(const json_t *j, const Inventory *inv) {
        const char *kind = js(j, "kind");
        const json_t *pk = json_object_get(j, "packages"), *v;
        size_t i;

        print_field(kind, js(j, "path"));
        if (strcmp(kind, "rpm") == 0) {
                const json_t *p = json_array_get(pk, 0), *sig = json_object_get(p, "signature");
                char buf[128];
                print_field("package", js(p, "nevra"));
                print_field("type", json_is_true(json_object_get(p, "source")) ? "source" : "binary");
                print_field("summary", js(p, "summary"));
                print_field("license", js(p, "license"));
                if (!json_is_object(sig))
                        print_field("signature", "unsigned");
                else if (json_is_string(json_object_get(sig, "key_id"))) {
                        snprintf(buf, sizeof buf, "key %s (%s)", js(sig, "key_id"), js(sig, "tag"));
                        print_field("signature", buf);
                } else {
                        snprintf(buf, sizeof buf, "signed (%s), issuer unknown", js(sig, "tag"));
                        print_field("signature", buf);
                }
                print_list("requires", json_object_get(p, "requires"));
                print_list("provides", json_object_get(p, "provides"));
                print_list("conflicts", json_object_get(p, "conflicts"));
                print_list("obsoletes", json_object_get(p, "obsoletes"));
                return print_files(inv, NULL);
        }
        if (strcmp(kind, "disk") == 0)
                return render_disk(j, inv);
        if (strcmp(kind, "repository") == 0) {
                const json_t *md = json_object_get(j, "metadata");
                print_field("signed", json_is_true(json_object_get(j, "signed")) ? "yes (repodata/repomd.xml.asc)" : "no");
                printf("\nmetadata (%zu)\n", json_array_size(md));
                json_array_foreach(md, i, v) {
                        printf("  %-20s ", js(v, "type"));
                        put(js(v, "href"));
                        printf("  %s:%s\n", js(v, "checksum_type"), js(v, "checksum"));
                }
                printf("\npackages (%zu)\n", json_array_size(pk));
                json_array_foreach(pk, i, v) {
                        fputs("  ", stdout);
                        put(js(v, "nevra"));
                        fputs("  ", stdout);
                        put(js(v, "href"));
                        printf("  %s:%s\n", js(v, "checksum_type"), js(v, "checksum"));
                }
                return 0;
        }

        const json_t *layers = json_object_get(j, "layers");
        print_field("format", js(j, "format"));
        if (json_is_string(json_object_get(j, "compression")))
                print_field("compression", js(j, "compression"));
        if (json_array_size(layers) > 0) {
                printf("\nlayers (%zu)\n", json_array_size(layers));
                json_array_foreach(layers, i, v) {
                        printf("  %-3zu %s  %s  %s", i, js(v, "digest"), js(v, "media_type"), js(v, "compression"));
                        if (json_is_integer(json_object_get(v, "size")))
                                printf("  %lld bytes", (long long) json_integer_value(json_object_get(v, "size")));
                        putchar('\n');
                }
        }
        if (json_is_string(json_object_get(j, "rpmdb"))) {
                printf("\npackages (%zu, from ", json_array_size(pk));
                put(js(j, "rpmdb"));
                puts(")");
                json_array_foreach(pk, i, v) {
                        fputs("  ", stdout);
                        put(js(v, "nevra"));
                        putchar('\n');
                }
        } else
                printf("\npackages     none (no rpm database)\n");
        return print_files(inv, json_array_size(layers) > 1 ? "layer" : NULL);
}

/* The output extensions of `slipway image` (compose/output.c), so that an
 * image it wrote is named as its build named it. */
static const char *const image_extensions[] = { ".oci.tar", ".oci", ".tar.zst", ".tar.gz", ".tar", ".wsl", ".cpio.zst",
                                                ".cpio.gz", ".cpio", ".raw", ".vhdx", ".vhd", ".qcow2", ".iso" };

/* `inspect --sbom`: the SPDX document of the image's rpm database. */
static int print_sbom(const Context *ctx, const Inventory *inv, const char *path) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_free_ char *name = NULL, *text = NULL;
        size_t size = 0;
        uint64_t sde = 0;

        if ((inv->kind != INVENTORY_IMAGE && inv->kind != INVENTORY_DISK) || !inv->rpmdb_data) {
                log_error("'%s': no rpm database found: no SBOM", path);
                return EXIT_FAILURE_USER;
        }
        /* The document's name: the file's, less an output extension. */
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot make the SBOM of '%s'", path));
        for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
                copy[n - 1] = 0;
        const char *b = strrchr(copy, '/');
        name = strdup(b && b[1] ? b + 1 : copy);
        if (!name)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot make the SBOM of '%s'", path));
        for (size_t i = 0; i < ELEMENTSOF(image_extensions); i++) {
                size_t n = strlen(name), e = strlen(image_extensions[i]);
                if (n > e && strcmp(name + n - e, image_extensions[i]) == 0) {
                        name[n - e] = 0;
                        break;
                }
        }
        /* SOURCE_DATE_EPOCH if set (the same bytes every run), else now. */
        if (source_date_epoch_from_env(&diag, &sde) == 0)
                sde = (uint64_t) time(NULL);
        for (size_t i = 0; i < diag.n; i++)
                if (diag.items[i].level == DIAG_ERROR) {
                        log_error("%s", diag.items[i].message);
                        return EXIT_FAILURE_USER;
                }
        SbomOptions o = {
                .name = name,
                .namespace_base = "https://slipway.invalid/spdx/inspect",
                .created = (int64_t) sde,
                .files = sbom_level_from_string(ctx->sbom) == SBOM_FILES,
        };
        /* A copy: reading may change the database's bytes (from-rpmdb.c). */
        _cleanup_free_ uint8_t *db = malloc(inv->rpmdb_size ? inv->rpmdb_size : 1);
        if (db)
                memcpy(db, inv->rpmdb_data, inv->rpmdb_size);
        int r = db ? sbom_spdx_from_rpmdb(db, inv->rpmdb_size, &o, &text, &size, &diag) : -ENOMEM;
        for (size_t i = 0; i < diag.n; i++)
                if (diag.items[i].level != DIAG_NOTE)
                        log_warning("'%s': %s", path, diag.items[i].message);
        if (r == -EBADMSG) {
                log_error("'%s': the rpm database '%s' cannot be read: no SBOM", path, inv->rpmdb);
                return EXIT_FAILURE_USER;
        }
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot make the SBOM of '%s'", path));
        if (fwrite(text, 1, size, stdout) != size || fflush(stdout) != 0) {
                log_error("cannot write to standard output");
                return EXIT_FAILURE_USER;
        }
        if (ctx->json)
                cli_result_printed(); /* the SBOM is the document */
        return EXIT_OK;
}

int verb_inspect(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(inventory_freep) Inventory *inv = NULL;
        const char *path = argv[0];

        (void) argc;
        int r = inspect_path(path, NULL, &inv, &diag);
        for (size_t i = 0; i < diag.n; i++)
                if (diag.items[i].level == DIAG_ERROR)
                        log_error("'%s': %s", path, diag.items[i].message);
                else if (diag.items[i].level == DIAG_WARNING)
                        log_warning("'%s': %s", path, diag.items[i].message);
                else
                        log_debug("'%s': %s", path, diag.items[i].message);
        if (r < 0) {
                if (diag.n_errors == 0)
                        log_error_errno(r, "cannot inspect '%s'", path);
                /* main() fills "errors" with the errors logged above. */
                Builder b = {};
                cli_result_set(json_pack("{s:o, s:[], s:o}", "path", jstr(path), "errors", "warnings",
                                         diag_json(&b, &diag, DIAG_WARNING)));
                return EXIT_FAILURE_USER;
        }

        if (ctx->sbom)
                return print_sbom(ctx, inv, path);

        json_t *j = inventory_json(inv, path, &diag);
        if (!j) {
                log_error_errno(-ENOMEM, "cannot build the listing of '%s'", path);
                return EXIT_FAILURE_USER;
        }
        r = ctx->json ? print_json(j, inv) : render_text(j, inv);
        json_decref(j);
        if (ctx->json)
                cli_result_printed(); /* streamed: the file list one row at a time */
        if (r < 0) {
                log_error_errno(r, "cannot print the listing of '%s'", path);
                return EXIT_FAILURE_USER;
        }

        if (fflush(stdout) != 0) {
                log_error("cannot write to standard output");
                return EXIT_FAILURE_USER;
        }
        return EXIT_OK;
}
