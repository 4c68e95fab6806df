/* SPDX-License-Identifier: MIT */

/* Schema helpers and the project model read from memory. */

#include <stdlib.h>
#include <string.h>

#include "config/project.h"
#include "config/schema.h"
#include "../unit.h"

static void test_parse_size(void) {
        uint64_t v = 0;
        CHECK(parse_size("256M", &v) == 0 && v == 256ull << 20);
        CHECK(parse_size("2G", &v) == 0 && v == 2ull << 30);
        CHECK(parse_size("2GiB", &v) == 0 && v == 2ull << 30);
        CHECK(parse_size("4096", &v) == 0 && v == 4096);
        CHECK(parse_size("1T", &v) == 0 && v == 1ull << 40);
        CHECK(parse_size("", &v) < 0);
        CHECK(parse_size("G", &v) < 0);
        CHECK(parse_size("2X", &v) < 0);
        CHECK(parse_size("-1M", &v) < 0);
        CHECK(parse_size("99999999999999999999", &v) < 0);
        CHECK(parse_size("9999999999T", &v) < 0);
}

static void test_distance(void) {
        CHECK(string_distance("version", "version") == 0);
        CHECK(string_distance("verison", "version") == 1); /* transposition */
        CHECK(string_distance("vendr", "vendor") == 1);
        CHECK(string_distance("", "abc") == 3);
}

static void test_dependency(void) {
        CHECK(!check_dependency("filesystem"));
        CHECK(!check_dependency("glibc >= 2.36"));
        CHECK(!check_dependency("foo = 1:2.0-3.azl4"));
        CHECK(!check_dependency("libc.so.6()(64bit)"));
        CHECK(!check_dependency("(a or b)"));
        CHECK(!check_dependency("/bin/sh"));
        CHECK(check_dependency(""));
        CHECK(check_dependency(">= 1"));
        CHECK(check_dependency("foo >="));
        CHECK(!check_dependency("foo => 1"));
        CHECK(!check_dependency("foo =< 1"));
        CHECK(!check_dependency("foo == 1"));
        CHECK(check_dependency("foo >> 1"));
        CHECK(check_dependency("foo <> 1"));
        CHECK(check_dependency("foo >=> 1"));
        CHECK(check_dependency("foo >= 1 2"));
        CHECK(check_dependency("(a or b"));
        CHECK(check_dependency("a, b"));
}

static Project *load(const char *s, Diagnostics *d) {
        Project *p = NULL;
        if (project_load_buffer(s, strlen(s), "p.toml", d, &p) < 0)
                return NULL;
        return p;
}

static void test_model(void) {
        Diagnostics d = {};
        Project *p = load("[project]\n"
                          "name = \"x\"\n"
                          "version = \"1\"\n"
                          "arch = \"aarch64\"\n"
                          "[components.a]\n"
                          "version = \"2\"\n"
                          "summary = \"s\"\n"
                          "license = \"MIT\"\n"
                          "[[components.a.files]]\n"
                          "source = \"f\"\n"
                          "path = \"/etc/f\"\n"
                          "mode = \"0600\"\n"
                          "[images.i]\n"
                          "formats = [\"raw\", \"cpio\"]\n"
                          "packages = [\"a\"]\n"
                          "size = \"1G\"\n"
                          "[[images.i.partitions]]\n"
                          "type = \"esp\"\n"
                          "size = \"256M\"\n"
                          "[[images.i.partitions]]\n"
                          "type = \"root\"\n"
                          "size = \"grow\"\n"
                          "[[images.i.users]]\n"
                          "name = \"u\"\n",
                          &d);
        CHECK(p);
        if (!p) {
                for (size_t i = 0; i < d.n; i++)
                        fprintf(stderr, "%u:%u: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
                diagnostics_release(&d);
                return;
        }
        CHECK_STREQ(p->arch, "aarch64");
        CHECK(p->components.n == 1);
        const Component *c = &p->components.items[0];
        CHECK(c->kind == COMPONENT_NATIVE);
        CHECK_STREQ(c->release, "1");
        CHECK_STREQ(c->arch, "aarch64"); /* the project's */
        CHECK(c->files.n == 1 && c->files.items[0].mode == 0600);
        CHECK_STREQ(c->files.n ? c->files.items[0].user : NULL, "root");
        SourcePos pos = cfg_pos(&c->obj, "summary");
        CHECK(pos.line == 7 && pos.column == 11);

        const Image *im = project_find_image(p, "i");
        CHECK(im && im->format_mask == ((1u << IMAGE_FORMAT_RAW) | (1u << IMAGE_FORMAT_CPIO)));
        CHECK(im && im->size == 1ull << 30 && im->selinux == SELINUX_ENFORCING && im->boot == BOOT_UEFI);
        CHECK(im && im->partitions.n == 2);
        if (im && im->partitions.n == 2) {
                CHECK(im->partitions.items[0].fs == FS_VFAT);
                CHECK_STREQ(im->partitions.items[0].mount, "/boot/efi");
                CHECK(im->partitions.items[1].size == CFG_SIZE_GROW);
                CHECK_STREQ(im->partitions.items[1].mount, "/");
        }
        CHECK(im && im->users.n == 1);
        CHECK_STREQ(im && im->users.n ? im->users.items[0].home : NULL, "/home/u");
        project_free(p);
        diagnostics_release(&d);
}

static void test_errors_collected(void) {
        Diagnostics d = {};
        /* Three unrelated errors: all reported in one run. */
        Project *p = load("[project]\n"
                          "name = \"Bad Name\"\n"
                          "version = 4\n"
                          "vendr = \"x\"\n",
                          &d);
        CHECK(!p);
        CHECK(d.n_errors == 3);
        diagnostics_sort(&d);
        CHECK(d.n == 3 && d.items[0].line == 2 && d.items[1].line == 3 && d.items[2].line == 4);
        CHECK(d.n == 3 && strstr(d.items[2].message, "did you mean 'vendor'"));
        diagnostics_release(&d);

        /* The limit: 20 recorded, the rest counted. */
        char buf[4096] = "[project]\nname = \"x\"\nversion = \"1\"\n";
        for (int i = 0; i < 30; i++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "unknown%d = 1\n", i);
        p = load(buf, &d);
        CHECK(!p && d.n_errors == 20 && d.dropped == 10);
        diagnostics_release(&d);
}

UNIT_MAIN(test_parse_size, test_distance, test_dependency, test_model, test_errors_collected)
