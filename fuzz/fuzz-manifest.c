/* SPDX-License-Identifier: MIT */

/* libFuzzer target: a shared cache's manifest (package/remote.c) from
 * arbitrary bytes. The cache is not trusted: whatever the parser accepts
 * must name only plain .rpm file names and 64-digit SHA-256s, and written
 * again and read back it must give the same manifest and the same text. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "package/remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char KEY[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void check_file(const CachedFile *f) {
        size_t n = strlen(f->file);
        if (n < 5 || strchr(f->file, '/') || strcmp(f->file + n - 4, ".rpm") != 0 || strlen(f->sha256) != 64 ||
            strspn(f->sha256, "0123456789abcdef") != 64 || f->size == 0)
                abort();
}

static bool same(const CachedFile *a, const CachedFile *b) {
        return (!a->file && !b->file) ||
               (a->file && b->file && strcmp(a->file, b->file) == 0 && strcmp(a->sha256, b->sha256) == 0 &&
                a->size == b->size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        Manifest m = {}, again = {};
        char *why = NULL;
        if (remote_manifest_parse(text, KEY, "c", &m, &why) == 0) {
                for (size_t i = 0; i < m.n_rpms; i++)
                        check_file(&m.rpms[i]);
                if (m.srpm.file)
                        check_file(&m.srpm);
                char *t1 = remote_manifest_text(KEY, "c", &m);
                char *why2 = NULL;
                if (!t1 || remote_manifest_parse(t1, KEY, "c", &again, &why2) != 0 || again.n_rpms != m.n_rpms ||
                    !same(&again.srpm, &m.srpm))
                        abort();
                for (size_t i = 0; i < m.n_rpms; i++)
                        if (!same(&again.rpms[i], &m.rpms[i]))
                                abort();
                char *t2 = remote_manifest_text(KEY, "c", &again);
                if (!t2 || strcmp(t1, t2) != 0)
                        abort();
                free(t1);
                free(t2);
                free(why2);
                manifest_release(&again);
        }
        manifest_release(&m);
        free(why);
        free(text);
        return 0;
}
