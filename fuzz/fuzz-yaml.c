/* SPDX-License-Identifier: MIT */

/* libFuzzer target: Image Customizer's YAML (config/ic-yaml.c) and, for a
 * document it accepts, the customization schema over the tree it made
 * (through a file, since project_load_customization() picks the reader by
 * the file's name). A configuration handed to `slipway customize` is
 * untrusted. Seeds: fuzz/yaml/. */

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/ic-yaml.h"
#include "config/project.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz-yaml-XXXXXX", path[64];

static void cleanup(void) {
        unlink(path);
        rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Diagnostics d = {};
        TomlDocument *doc = NULL;

        if (size > 256 * 1024)
                return 0;
        int r = ic_yaml_parse((const char *) data, size, "fuzz.yaml", &d, &doc);
        toml_document_free(doc);
        diagnostics_release(&d);
        if (r < 0)
                return 0;

        if (!path[0]) {
                if (!mkdtemp(dir))
                        abort();
                snprintf(path, sizeof path, "%s/custom.yaml", dir);
                atexit(cleanup);
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, data, size) != (ssize_t) size)
                abort();
        close(fd);
        Project *p = NULL;
        (void) project_load_customization(path, &d, &p);
        project_free(p);
        diagnostics_release(&d);
        return 0;
}
