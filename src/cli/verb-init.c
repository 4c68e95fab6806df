/* SPDX-License-Identifier: MIT */

/* `slipway init DIR`: a starter project that `slipway check` accepts. */

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "cli.h"

typedef struct StarterFile {
        const char *path;
        const char *content;
} StarterFile;

static const StarterFile starter[] = {
        { "slipway.toml",
          "# slipway project: see docs/config.md for every key.\n"
          "\n"
          "[project]\n"
          "name = \"%NAME%\"\n"
          "version = \"1.0\"\n"
          "vendor = \"Example\"\n"
          "dist = \".ex1\"\n"
          "source-date-epoch = 1767225600\n"
          "includes = [\"components/*.toml\"]\n"
          "\n"
          "# Sign packages and repositories (make a key with `slipway keygen`):\n"
          "# [signing]\n"
          "# key = \"keys/release.asc\"\n"
          "\n"
          "[build]\n"
          "# Spec builds run on this machine (host mode), to bootstrap: slipway checks\n"
          "# that the host has what it claims here (a program or Debian package).\n"
          "host-provides = [\"gcc\", \"make\"]\n"
          "# A distribution builds in clean buildroots installed from its own packages\n"
          "# (docs/packaging.md, \"Buildroot mode\"): name the packages every buildroot\n"
          "# holds, a repository with a toolchain (an existing distribution's), and\n"
          "# switch the mode:\n"
          "# mode = \"buildroot\"\n"
          "# buildroot = [\"bash\", \"coreutils\", \"gcc\", \"make\", \"rpm-build\", \"redhat-rpm-config\"]\n"
          "#\n"
          "# [repos.toolchain]\n"
          "# url = \"https://example.org/repo/\"\n"
          "# gpg-key = \"keys/toolchain.asc\"\n"
          "\n"
          "[images.container]\n"
          "description = \"A container with the hello program\"\n"
          "formats = [\"oci\", \"tar\"]\n"
          "packages = [\"hello\", \"motd\"]\n"
          "\n"
          "[images.container.container]\n"
          "entrypoint = [\"/usr/bin/hello\"]\n"
          "env = [\"PATH=/usr/bin:/bin\"]\n"
          "tag = \"1.0\"\n" },
        { "components/hello.toml",
          "# A component built by rpmbuild from its spec; sources lie beside the spec.\n"
          "[components.hello]\n"
          "spec = \"components/hello/hello.spec\"\n" },
        { "components/motd.toml",
          "# A native component: slipway writes the RPM itself, no spec needed.\n"
          "[components.motd]\n"
          "version = \"1.0\"\n"
          "release = \"1\"\n"
          "summary = \"Message of the day\"\n"
          "license = \"MIT\"\n"
          "arch = \"noarch\"\n"
          "\n"
          "[[components.motd.files]]\n"
          "source = \"files/motd\"\n"
          "path = \"/etc/motd\"\n"
          "mode = \"0644\"\n"
          "config = true\n" },
        { "components/hello/hello.spec",
          "Name:           hello\n"
          "Version:        1.0\n"
          "Release:        1%{?dist}\n"
          "Summary:        Prints a greeting\n"
          "License:        MIT\n"
          "Source0:        hello.c\n"
          "BuildRequires:  gcc\n"
          "\n"
          "%description\n"
          "A tiny program that prints a greeting.\n"
          "\n"
          "%prep\n"
          "cp %{SOURCE0} .\n"
          "\n"
          "%build\n"
          "# Static: the image holds no C library for a dynamic program to load\n"
          "# (its packages would be needed, and rpmbuild's automatic requires,\n"
          "# libc.so.6 and rtld(GNU_HASH), name them).\n"
          "gcc -O2 -static -o hello hello.c\n"
          "\n"
          "%install\n"
          "install -D -m 0755 hello %{buildroot}%{_bindir}/hello\n"
          "\n"
          "%files\n"
          "%{_bindir}/hello\n" },
        { "components/hello/hello.c",
          "#include <stdio.h>\n"
          "\n"
          "int main(void) {\n"
          "        puts(\"Hello from slipway.\");\n"
          "        return 0;\n"
          "}\n" },
        { "files/motd", "Welcome.\n" },
};

/* The project name from the directory name, made valid: lower case, other
 * characters become '-'. */
static void name_from_dir(const char *dir, char *buf, size_t size) {
        const char *base = strrchr(dir, '/');
        size_t n = 0;

        while (base && base[1] == 0 && base > dir) {
                /* trailing slash: look further back */
                const char *s = base - 1;
                while (s > dir && *s != '/')
                        s--;
                base = *s == '/' ? s : NULL;
                if (!base)
                        break;
        }
        base = base ? base + 1 : dir;
        for (; *base && *base != '/' && n + 1 < size && n < 64; base++) {
                char c = *base;
                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
                        c = '-';
                if (n == 0 && c == '-')
                        continue;
                buf[n++] = c;
        }
        if (n == 0)
                n = (size_t) snprintf(buf, size, "example");
        buf[n] = 0;
}

int verb_init(const Context *ctx, int argc, char **argv) {
        const char *dir = argv[0];
        _cleanup_free_ char *top = path_join(dir, "slipway.toml");
        char name[80];
        int r;

        (void) ctx;
        (void) argc;

        if (!top)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot initialise '%s'", dir));
        if (path_exists(top)) {
                log_error("'%s' already exists: not overwriting a project", top);
                return EXIT_FAILURE_USER;
        }
        for (size_t i = 1; i < ELEMENTSOF(starter); i++) {
                _cleanup_free_ char *p = path_join(dir, starter[i].path);
                if (p && path_exists(p)) {
                        log_error("'%s' already exists: not overwriting it", p);
                        return EXIT_FAILURE_USER;
                }
        }

        name_from_dir(dir, name, sizeof name);

        /* Everything but slipway.toml first: a half-written starter is then
         * never a project `check` would pick up. */
        for (size_t k = ELEMENTSOF(starter); k > 0; k--) {
                const StarterFile *f = &starter[k - 1];
                _cleanup_free_ char *p = path_join(dir, f->path);
                _cleanup_free_ char *parent = p ? path_dirname(p) : NULL;
                _cleanup_free_ char *content = NULL;
                if (!parent)
                        return exit_status_from(log_error_errno(-ENOMEM, "cannot initialise '%s'", dir));

                const char *at = strstr(f->content, "%NAME%");
                if (at) {
                        if (asprintf(&content, "%.*s%s%s", (int) (at - f->content), f->content, name, at + 6) < 0)
                                return exit_status_from(log_error_errno(-ENOMEM, "cannot initialise '%s'", dir));
                }
                const char *data = content ? content : f->content;

                r = mkdir_parents(parent, 0755);
                if (r < 0)
                        return exit_status_from(log_error_errno(r, "cannot create directory '%s'", parent));
                r = write_file_atomic(p, data, strlen(data), 0644);
                if (r < 0)
                        return exit_status_from(log_error_errno(r, "cannot write '%s'", p));
        }

        /* The result: the project and its files, in the order of starter[]. */
        json_t *files = json_array();
        for (size_t i = 0; files && i < ELEMENTSOF(starter); i++)
                if (json_array_append_new(files, json_string(starter[i].path)) < 0) {
                        json_decref(files);
                        files = NULL;
                }
        json_t *res = files ? json_pack("{s:o, s:s, s:o}", "created", cli_json_string(dir), "name", name, "files", files) : NULL;
        if (!res)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe '%s'", dir));
        log_info("wrote a starter project '%s' to %s; next: slipway -C %s check", name, dir, dir);
        cli_result_set(res);
        return EXIT_OK;
}
