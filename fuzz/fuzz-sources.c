/* SPDX-License-Identifier: MIT */

/* libFuzzer target: the dist-git `sources` file (upstream/sources.c) and
 * slipway.lock (upstream/lock.c) from arbitrary bytes. Both come from
 * outside: a sources file from whatever repository a project names, a
 * lock from the project's own tree. What either accepts must hold up: every
 * source a well-formed file name and a hash of its type's length, and a
 * lock read, written, read and written again gives the same entries and
 * the same bytes. */

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "upstream/source-check.h"
#include "upstream/upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz-sources-XXXXXX", in[64], out1[64], out2[64];

static void cleanup(void) {
        unlink(in);
        unlink(out1);
        unlink(out2);
        rmdir(dir);
}

static void check_source(const LockSource *s) {
        HashAlgo a = source_hash_algo(s->hashtype);
        if (a < 0 || strlen(s->hash) != 2 * hash_size(a) || strspn(s->hash, "0123456789abcdef") != strlen(s->hash) ||
            source_file_name_check(s->file, strlen(s->file)))
                abort();
}

static bool same(const Lock *a, const Lock *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const LockEntry *x = &a->items[i], *y = &b->items[i];
                if (strcmp(x->name, y->name) || strcmp(x->url, y->url) || strcmp(x->commit, y->commit) ||
                    !x->branch != !y->branch || (x->branch && strcmp(x->branch, y->branch)) ||
                    x->n_sources != y->n_sources)
                        return false;
                for (size_t j = 0; j < x->n_sources; j++)
                        if (strcmp(x->sources[j].file, y->sources[j].file) ||
                            strcmp(x->sources[j].hashtype, y->sources[j].hashtype) ||
                            strcmp(x->sources[j].hash, y->sources[j].hash))
                                return false;
        }
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        LockSource *s = NULL;
        size_t n = 0;
        char *err = NULL;

        if (size > 256 * 1024)
                return 0;
        if (sources_parse((const char *) data, size, &s, &n, &err) == 0) {
                for (size_t i = 0; i < n; i++)
                        check_source(&s[i]);
                lock_sources_free(s, n);
        } else if (!err)
                abort();
        free(err);

        if (!in[0]) {
                if (!mkdtemp(dir))
                        abort();
                snprintf(in, sizeof in, "%s/in.lock", dir);
                snprintf(out1, sizeof out1, "%s/out1.lock", dir);
                snprintf(out2, sizeof out2, "%s/out2.lock", dir);
                atexit(cleanup);
        }
        int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t) size))
                abort();
        close(fd);

        Diagnostics d = {};
        Lock *l = NULL, *back = NULL;
        int r = lock_load(in, &l, &d);
        if (r == 0) {
                for (size_t i = 0; i < l->n; i++)
                        for (size_t j = 0; j < l->items[i].n_sources; j++)
                                check_source(&l->items[i].sources[j]);
                free(l->path);
                l->path = strdup(out1);
                if (!l->path || lock_save(l) < 0)
                        abort();
                diagnostics_release(&d);
                if (lock_load(out1, &back, &d) != 0 || !same(l, back))
                        abort();
                free(back->path);
                back->path = strdup(out2);
                if (!back->path || lock_save(back) < 0)
                        abort();
                char *a = NULL, *b = NULL;
                size_t na = 0, nb = 0;
                if (read_full_file(out1, &a, &na) < 0 || read_full_file(out2, &b, &nb) < 0 || na != nb ||
                    memcmp(a, b, na) != 0)
                        abort();
                free(a);
                free(b);
        } else if (r == -EINVAL && d.n_errors == 0)
                abort(); /* refused without saying why */
        lock_free(l);
        lock_free(back);
        diagnostics_release(&d);
        return 0;
}
