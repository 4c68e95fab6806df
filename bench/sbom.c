/* SPDX-License-Identifier: MIT */

/* The SBOM on its own, for bench/sbom.sh: what `slipway image` does for
 * NAME.spdx.json (compose/out-sbom.c) after reading the rpm database from the
 * tree, timed apart from everything else (a whole `slipway image` varies more
 * from run to run than the SBOM takes).
 *
 *   bench-sbom IMAGE packages|files RUNS
 *
 * reads the rpm database of IMAGE (any image `slipway inspect` reads, as
 * inspect does; not timed) and prints the median seconds of RUNS runs of
 * the SBOM and the document's size in bytes. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compose/sbom.h"
#include "inspect/inspect.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

int main(int argc, char **argv) {
        Inventory *inv = NULL;
        Diagnostics diag = {};
        if (argc != 4 || (strcmp(argv[2], "packages") != 0 && strcmp(argv[2], "files") != 0) || atoi(argv[3]) < 1) {
                fprintf(stderr, "usage: bench-sbom IMAGE packages|files RUNS\n");
                return 2;
        }
        int runs = atoi(argv[3]);
        if (inspect_path(argv[1], NULL, &inv, &diag) < 0 || !inv->rpmdb_data) {
                fprintf(stderr, "'%s': no rpm database read\n", argv[1]);
                return 1;
        }
        diagnostics_release(&diag);
        const char *db = (const char *) inv->rpmdb_data;
        size_t size = inv->rpmdb_size;
        double *t = calloc((size_t) runs, sizeof(double));
        size_t out = 0;
        if (!t)
                return 1;
        for (int i = 0; i < runs; i++) {
                /* Each run on a fresh copy, as out-sbom.c reads the tree's. */
                char *copy = malloc(size);
                char *text = NULL;
                Diagnostics d = {};
                if (!copy)
                        return 1;
                memcpy(copy, db, size);
                SbomOptions o = {
                        .name = "bench",
                        .version = "1",
                        .namespace_base = "https://slipway.invalid/spdx/bench/1",
                        .purl_namespace = "bench",
                        .created = 1767225600,
                        .files = strcmp(argv[2], "files") == 0,
                };
                double t0 = now();
                int r = sbom_spdx_from_rpmdb(copy, size, &o, &text, &out, &d);
                t[i] = now() - t0;
                diagnostics_release(&d);
                free(copy);
                free(text);
                if (r < 0) {
                        fprintf(stderr, "the SBOM failed: %s\n", strerror(-r));
                        return 1;
                }
        }
        qsort(t, (size_t) runs, sizeof(double), cmp);
        printf("%.4f %zu\n", t[runs / 2], out);
        free(t);
        inventory_free(inv);
        return 0;
}
