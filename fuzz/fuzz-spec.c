/* SPDX-License-Identifier: MIT */

/* libFuzzer target: any bytes as an upstream spec (dist-git content is not
 * ours): the spec model must give the bytes back unchanged; then a fixed
 * set of overlays (regexes, tags, section and sub-package removal, lines,
 * check-skip) is applied through overlays_apply() to the bytes written as
 * a spec in a tree, and the Release change (bump and suffix) to the input
 * and to the overlaid result. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "config/project.h"
#include "upstream/spec.h"
#include "upstream/upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char project_toml[] =
        "[project]\n"
        "name = \"fuzz\"\n"
        "version = \"1\"\n"
        "[distro]\n"
        "dist-git = \"file:///x/$pkg.git\"\n"
        "[components.hello]\n"
        "check-skip = true\n"
        "check-skip-reason = \"fuzz\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-search-replace\"\n"
        "regex = '(?i)make\\s+(\\S+)'\n"
        "replacement = \"ninja $1\\n\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-search-replace\"\n"
        "section = \"%build\"\n"
        "regex = '^\\s*|x*'\n"
        "replacement = \"#\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-set-tag\"\n"
        "tag = \"Version\"\n"
        "value = \"9.9\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-insert-tag\"\n"
        "tag = \"Source9999\"\n"
        "value = \"macros.azl\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-add-tag\"\n"
        "tag = \"BuildRequires\"\n"
        "value = \"zlib-devel\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-remove-tag\"\n"
        "tag = \"Requires\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-update-tag\"\n"
        "package = \"libs\"\n"
        "tag = \"Summary\"\n"
        "value = \"Libraries\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-remove-subpackage\"\n"
        "package = \"devel\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-remove-section\"\n"
        "section = \"%files\"\n"
        "package = \"libs\"\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-append-lines\"\n"
        "section = \"%files\"\n"
        "lines = [\"/usr/bin/extra\", \"%files -n appended\"]\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-prepend-lines\"\n"
        "section = \"%description -n foo\"\n"
        "lines = [\"Prepended.\"]\n"
        "[[components.hello.overlays]]\n"
        "type = \"spec-remove-section\"\n"
        "section = \"%changelog\"\n";

static Project *project;
static char dir[64];

static void setup(void) {
        Diagnostics d = {};
        if (project_load_buffer(project_toml, strlen(project_toml), "fuzz.toml", &d, &project) < 0) {
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "%u:%u: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
                abort();
        }
        diagnostics_release(&d);
        /* tmpfs: the spec is written and read back on every input. */
        snprintf(dir, sizeof dir, "%s/fuzz-spec-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
                abort();
}

static void release(const char *text, size_t size) {
        for (int mode = RELEASE_BUMP; mode <= RELEASE_SUFFIX; mode++) {
                StrBuf b = STRBUF_INIT;
                char *error = NULL;
                strbuf_put(&b, text, size);
                (void) spec_release_apply(&b, (ReleaseMode) mode, ".azl1", &error);
                free(error);
                strbuf_release(&b);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 64 * 1024)
                return 0;
        if (!project)
                setup();

        /* Parsing and rendering without an edit gives the bytes back. */
        Spec *s = NULL;
        if (spec_parse((const char *) data, size, &s) >= 0) {
                StrBuf b = STRBUF_INIT;
                if (spec_render(s, &b) >= 0 && (b.len != size || (size > 0 && memcmp(b.buf, data, size) != 0)))
                        abort();
                strbuf_release(&b);
                spec_free(s);
        }
        release((const char *) data, size);

        char path[96];
        snprintf(path, sizeof path, "%s/hello.spec", dir);
        if (write_file_atomic(path, data, size, 0644) < 0)
                return 0;
        Diagnostics d = {};
        (void) overlays_apply(project, &project->components.items[0], dir, "hello.spec", &d);
        diagnostics_release(&d);

        char *out = NULL;
        size_t n = 0;
        if (read_full_file(path, &out, &n) >= 0) {
                release(out, n);
                free(out);
        }
        return 0;
}
