/* SPDX-License-Identifier: MIT */

/* The lookaside cache: the archives a dist-git `sources` file names, found
 * by their hash. They are downloaded once into a local content-addressed
 * store (cache_dir/HASHTYPE/HASH) and kept only when their hash is the one
 * the sources file gives, so what the store holds is right by construction. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/http.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "compose/source.h"
#include "upstream/source-check.h"
#include "upstream/upstream.h"

/* The most that is downloaded of one source: the largest archives in
 * Fedora's lookaside cache are a few GiB. The hash decides whether what
 * came is kept; this only stops a server from filling the disk. */
#define LOOKASIDE_MAX ((uint64_t) 16 << 30)

/* s into sb with every byte that may not stand in a URL path segment as is
 * (RFC 3986, 3.3: unreserved, sub-delims, ':' and '@') percent-encoded:
 * file names are free text ("gtk+-2.24.tar.xz" is fine, a space or '#' or
 * '?' is not). */
static void put_segment(StrBuf *sb, const char *s) {
        static const char keep[] = "-._~!$&'()*+,;=:@";
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    strchr(keep, *p))
                        strbuf_putc(sb, (char) *p);
                else
                        strbuf_printf(sb, "%%%02X", *p);
        }
}

char *lookaside_url(const char *tmpl, const char *pkg, const LockSource *s) {
        static const char *const names[] = { "$pkg", "$filename", "$hashtype", "$hash" };
        const char *values[] = { pkg, s->file, s->hashtype, s->hash };
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;

        for (const char *p = tmpl; *p;) {
                size_t i = 0;
                /* "$hashtype" before "$hash": the longer name is tried first. */
                for (; i < ELEMENTSOF(names); i++)
                        if (strncmp(p, names[i], strlen(names[i])) == 0)
                                break;
                if (i == ELEMENTSOF(names)) {
                        strbuf_putc(&sb, *p++);
                        continue;
                }
                put_segment(&sb, values[i]);
                p += strlen(names[i]);
        }
        return strbuf_detach(&sb, NULL);
}

int lookaside_hash_file(const char *path, const char *hashtype, char **ret_hex) {
        HashAlgo a = source_hash_algo(hashtype);
        uint8_t digest[HASH_MAX_SIZE];
        int r;

        if (a < 0)
                return -EOPNOTSUPP;
        r = hash_file(a, path, digest, NULL);
        if (r < 0)
                return r;
        char *hex = malloc(2 * hash_size(a) + 1);
        if (!hex)
                return -ENOMEM;
        hex_encode(digest, hash_size(a), hex);
        *ret_hex = hex;
        return 0;
}

/* A source's hash and type are what make its name in the store: nothing
 * else may reach the path. */
static bool source_storable(const LockSource *s) {
        HashAlgo a = source_hash_algo(s->hashtype);
        size_t n = strlen(s->hash);
        return a >= 0 && n == 2 * hash_size(a) && strspn(s->hash, "0123456789abcdef") == n;
}

int lookaside_get(const char *cache_dir, const char *tmpl, const char *pkg, const LockSource *s, char **ret_path,
                  char **ret_error) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *url = NULL, *tmp = NULL, *got = NULL, *err = NULL;
        int r;

        *ret_error = NULL;
        if (!source_storable(s)) {
                *ret_error = strprintf("source '%s': '%s' is not a %s hash slipway knows", s->file, s->hash,
                                       s->hashtype);
                return -EINVAL;
        }
        dir = path_join(cache_dir, s->hashtype);
        path = dir ? path_join(dir, s->hash) : NULL;
        if (!path)
                return -ENOMEM;
        if (access(path, F_OK) == 0) {
                *ret_path = TAKE_PTR(path);
                return 0;
        }

        url = lookaside_url(tmpl, pkg, s);
        if (!url)
                return -ENOMEM;
        r = mkdir_parents(dir, 0755);
        if (r < 0) {
                *ret_error = strprintf("cannot make '%s': %s", dir, strerror(-r));
                return r;
        }
        /* A name of our own in the store (tracked, so a signal removes it):
         * the download is renamed over it, hashed there and renamed into
         * place, or removed. Two runs fetching the same source each use
         * their own name; the second rename puts the same bytes in place. */
        int fd = tmpfile_open(path, &tmp);
        if (fd < 0) {
                *ret_error = strprintf("cannot write in '%s': %s", dir, strerror(-fd));
                return fd;
        }
        close(fd);

        r = http_download(url, tmp, LOOKASIDE_MAX, &err);
        if (r == -ENOENT)
                r = -EIO; /* not there: a download that failed, like any other */
        if (r < 0) {
                *ret_error = strprintf("source '%s': %s", s->file, err ? err : strerror(-r));
                goto fail;
        }
        r = lookaside_hash_file(tmp, s->hashtype, &got);
        if (r < 0) {
                *ret_error = strprintf("source '%s': cannot hash '%s': %s", s->file, tmp, strerror(-r));
                goto fail;
        }
        if (strcmp(got, s->hash) != 0) {
                *ret_error = strprintf("source '%s' from %s has %s %s, the sources file says %s", s->file, url,
                                       s->hashtype, got, s->hash);
                r = -EBADMSG;
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = negative_errno();
                *ret_error = strprintf("cannot write '%s': %s", path, strerror(-r));
                goto fail;
        }
        run_untrack(tmp);
        *ret_path = TAKE_PTR(path);
        return 0;

fail:
        (void) unlink(tmp);
        run_untrack(tmp);
        return r;
}
