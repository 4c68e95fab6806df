/* SPDX-License-Identifier: MIT */

/* The boot loader files of a disk image (disk.h), what src/compose/boot.c
 * writes: systemd-boot's loader/loader.conf ("default", "timeout") and Boot
 * Loader Specification type #1 entries (loader/entries/NAME.conf: "title",
 * "version", "linux", "initrd" (repeatable), "options" (repeatable, joined
 * with spaces)), and GRUB's grub.cfg, of which the menuentry blocks are read
 * (their title and the linux and initrd commands; no script is run, so
 * variables stay as written). Files are read to BOOT_FILE_MAX bytes, lines
 * to LINE_MAX_LEN, and an image's entries to MAX_ENTRIES. */

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/alloc.h"
#include "inspect/disk.h"

#define BOOT_FILE_MAX (256u * 1024u)
#define LINE_MAX_LEN 4096u
#define MAX_ENTRIES 256u
#define MAX_INITRDS 32u
#define MAX_WORDS 64u

static const char *const loader_files[] = { "/loader/loader.conf" };
static const char *const bls_patterns[] = { "/loader/entries/*.conf", "/boot/loader/entries/*.conf" };
static const char *const grub_files[] = { "/boot/grub/grub.cfg", "/grub/grub.cfg", "/boot/grub2/grub.cfg",
                                          "/grub2/grub.cfg" };

static bool matches(const char *const *list, size_t n, const char *path, bool pattern) {
        for (size_t i = 0; i < n; i++)
                if (pattern ? fnmatch(list[i], path, FNM_PATHNAME | FNM_CASEFOLD) == 0 : strcasecmp(list[i], path) == 0)
                        return true;
        return false;
}

bool boot_file_wanted(const char *path) {
        return matches(loader_files, ELEMENTSOF(loader_files), path, false) ||
               matches(bls_patterns, ELEMENTSOF(bls_patterns), path, true) ||
               matches(grub_files, ELEMENTSOF(grub_files), path, false);
}

/* The next line of data (without "\r\n"), cut at LINE_MAX_LEN; NULL at the end. */
static char *next_line(const uint8_t *data, size_t size, size_t *pos) {
        if (*pos >= size)
                return NULL;
        const uint8_t *s = data + *pos, *nl = memchr(s, '\n', size - *pos);
        size_t n = nl ? (size_t) (nl - s) : size - *pos;
        *pos += n + (nl ? 1 : 0);
        if (n > 0 && s[n - 1] == '\r')
                n--;
        n = MIN(n, (size_t) LINE_MAX_LEN);
        char *l = strndup((const char *) s, n); /* stops at a NUL byte too */
        if (!l)
                return NULL;
        for (char *c = l; *c; c++)
                if (*c == '\t')
                        *c = ' ';
        return l;
}

static char *strip(char *s) {
        while (*s == ' ')
                s++;
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == ' ')
                s[--n] = 0;
        return s;
}

static int set(char **field, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static int append_initrd(InvBootEntry *e, const char *value) {
        if (e->n_initrd >= MAX_INITRDS)
                return 0;
        char **v = realloc(e->initrd, (e->n_initrd + 1) * sizeof(char *));
        if (!v)
                return -ENOMEM;
        e->initrd = v;
        if (!(v[e->n_initrd] = strdup(value)))
                return -ENOMEM;
        e->n_initrd++;
        return 0;
}

static int append_options(char **field, const char *value) {
        char *v = NULL;
        if (asprintf(&v, "%s%s%s", *field ? *field : "", *field ? " " : "", value) < 0)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static InvBootEntry *new_entry(Inventory *inv, const char *type, int partition, const char *path) {
        if (inv->n_boot_entries >= MAX_ENTRIES)
                return NULL;
        InvBootEntry *e = inventory_add_boot_entry(inv);
        if (!e)
                return NULL;
        e->type = type;
        e->partition = partition;
        e->path = strdup(path);
        return e;
}

/* "key value" lines, '#' comments: loader.conf and BLS entries. */
static int parse_key_values(Inventory *inv, InvBootEntry *e, const uint8_t *data, size_t size) {
        size_t pos = 0;
        char *l;
        int r = 0;
        while (r >= 0 && (l = next_line(data, size, &pos))) {
                char *s = strip(l), *v = s;
                while (*v && *v != ' ')
                        v++;
                if (*v)
                        *v++ = 0;
                v = strip(v);
                if (*s == 0 || *s == '#' || *v == 0)
                        ;
                else if (!e) {
                        if (strcmp(s, "default") == 0)
                                r = set(&inv->loader_default, v);
                        else if (strcmp(s, "timeout") == 0)
                                r = set(&inv->loader_timeout, v);
                } else if (strcmp(s, "title") == 0)
                        r = set(&e->title, v);
                else if (strcmp(s, "version") == 0)
                        r = set(&e->version, v);
                else if (strcmp(s, "linux") == 0)
                        r = set(&e->linux, v);
                else if (strcmp(s, "initrd") == 0)
                        r = append_initrd(e, v);
                else if (strcmp(s, "options") == 0)
                        r = append_options(&e->options, v);
                free(l);
        }
        return r;
}

/* GRUB's words: '...' literally, "..." with \ escapes, else up to a blank. */
static size_t split_words(char *s, char **words, size_t max) {
        size_t n = 0;
        char *o = s;
        while (*s && n < max) {
                while (*s == ' ')
                        s++;
                if (!*s || *s == '#')
                        break;
                char *start = o;
                while (*s && *s != ' ') {
                        if (*s == '\'') {
                                for (s++; *s && *s != '\''; s++)
                                        *o++ = *s;
                                if (*s)
                                        s++;
                        } else if (*s == '"') {
                                for (s++; *s && *s != '"'; s++) {
                                        if (*s == '\\' && s[1])
                                                s++;
                                        *o++ = *s;
                                }
                                if (*s)
                                        s++;
                        } else if (*s == '\\' && s[1]) {
                                *o++ = s[1];
                                s += 2;
                        } else
                                *o++ = *s++;
                }
                if (*s)
                        s++;
                *o++ = 0;
                words[n++] = start;
        }
        return n;
}

static int parse_grub(Inventory *inv, int partition, const char *path, const uint8_t *data, size_t size) {
        size_t pos = 0;
        char *l;
        int r = 0;
        InvBootEntry *e = NULL; /* inside a menuentry */
        while (r >= 0 && (l = next_line(data, size, &pos))) {
                char *words[MAX_WORDS];
                size_t n = split_words(l, words, MAX_WORDS);
                if (n == 0)
                        ;
                else if (strcmp(words[0], "menuentry") == 0) {
                        e = new_entry(inv, "grub", partition, path);
                        if (!e && inv->n_boot_entries < MAX_ENTRIES)
                                r = -ENOMEM;
                        else if (e && !e->path)
                                r = -ENOMEM;
                        else if (e && n > 1 && strcmp(words[1], "{") != 0)
                                r = set(&e->title, words[1]);
                } else if (strcmp(words[0], "}") == 0)
                        e = NULL;
                else if (e && n > 1 &&
                         (strcmp(words[0], "linux") == 0 || strcmp(words[0], "linuxefi") == 0 ||
                          strcmp(words[0], "linux16") == 0)) {
                        r = set(&e->linux, words[1]);
                        free(e->options);
                        e->options = NULL;
                        for (size_t i = 2; r >= 0 && i < n; i++)
                                r = append_options(&e->options, words[i]);
                } else if (e && (strcmp(words[0], "initrd") == 0 || strcmp(words[0], "initrdefi") == 0 ||
                                 strcmp(words[0], "initrd16") == 0))
                        for (size_t i = 1; r >= 0 && i < n; i++)
                                r = append_initrd(e, words[i]);
                free(l);
        }
        return r;
}

int boot_file_parse(Inventory *inv, int partition, const char *path, const uint8_t *data, size_t size) {
        size = MIN(size, (size_t) BOOT_FILE_MAX);
        if (matches(loader_files, ELEMENTSOF(loader_files), path, false)) {
                if (inv->loader_path) /* the first one found counts */
                        return 0;
                if (!(inv->loader_path = strdup(path)))
                        return -ENOMEM;
                inv->loader_partition = partition;
                return parse_key_values(inv, NULL, data, size);
        }
        if (matches(bls_patterns, ELEMENTSOF(bls_patterns), path, true)) {
                InvBootEntry *e = new_entry(inv, "bls", partition, path);
                if (!e)
                        return inv->n_boot_entries >= MAX_ENTRIES ? 0 : -ENOMEM;
                if (!e->path)
                        return -ENOMEM;
                return parse_key_values(inv, e, data, size);
        }
        if (matches(grub_files, ELEMENTSOF(grub_files), path, false))
                return parse_grub(inv, partition, path, data, size);
        return 0;
}
