/* SPDX-License-Identifier: MIT */

/* Image Customizer's YAML (config/ic-yaml.c): the keys it becomes, the
 * positions its values keep, what is refused, and the same customization
 * read from YAML and from TOML. */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "config/ic-yaml.h"
#include "config/project.h"
#include "../unit.h"

static void dump(const Diagnostics *d) {
        for (size_t i = 0; i < d->n; i++)
                fprintf(stderr, "  %s:%u:%u: %s\n", d->items[i].file ? d->items[i].file : "-", d->items[i].line,
                        d->items[i].column, d->items[i].message);
}

static TomlDocument *parse(const char *yaml, Diagnostics *d) {
        TomlDocument *doc = NULL;
        if (ic_yaml_parse(yaml, strlen(yaml), "c.yaml", d, &doc) < 0)
                return NULL;
        return doc;
}

static const char *str(const TomlValue *t, const char *key) {
        const TomlValue *v = toml_table_get(t, key);
        return v && v->type == TOML_STRING ? v->string.s : NULL;
}

static const TomlValue *item(const TomlValue *t, const char *key, size_t i) {
        const TomlValue *a = toml_table_get(t, key);
        return a && a->type == TOML_ARRAY && i < a->array.n ? a->array.items[i] : NULL;
}

static const char *str_item(const TomlValue *t, const char *key, size_t i) {
        const TomlValue *v = item(t, key, i);
        return v && v->type == TOML_STRING ? v->string.s : NULL;
}

static size_t count(const TomlValue *t, const char *key) {
        const TomlValue *a = toml_table_get(t, key);
        return a && a->type == TOML_ARRAY ? a->array.n : (size_t) -1;
}

static const char FULL[] =
        "# every key slipway maps\n"
        "os:\n"
        "  hostname: web-1\n"
        "  kernelCommandLine:\n"
        "    extraCommandLine:\n"
        "    - console=ttyS0\n"
        "    - quiet\n"
        "  packages:\n"
        "    install: [vim, htop]\n"
        "    remove:\n"
        "    - nano\n"
        "    update: [openssl]\n"
        "    updateExistingPackages: true\n"
        "  selinux:\n"
        "    mode: permissive\n"
        "  users:\n"
        "  - name: alice\n"
        "    uid: 1001\n"
        "    password:\n"
        "      type: hashed\n"
        "      value: $6$salt$hash\n"
        "    sshPublicKeyPaths:\n"
        "    - alice.pub\n"
        "    secondaryGroups: [wheel, adm]\n"
        "    startupCommand: /bin/zsh\n"
        "    homeDirectory: /var/home/alice\n"
        "  - name: bob\n"
        "    password:\n"
        "      type: locked\n"
        "  additionalFiles:\n"
        "  - source: files/motd\n"
        "    destination: /etc/motd\n"
        "    permissions: \"644\"\n"
        "  - source: files/run\n"
        "    destination: /usr/local/bin/run\n"
        "    permissions: 0755\n"
        "  services:\n"
        "    enable: [sshd.service]\n"
        "    disable:\n"
        "    - kdump.service\n"
        "  modules:\n"
        "  - name: vfio\n"
        "    loadMode: always\n"
        "    options:\n"
        "      enable_unsafe_noiommu_mode: Y\n"
        "      disable_vga: Y\n"
        "  - name: br_netfilter\n"
        "  imageHistory: none\n"
        "scripts:\n"
        "  postCustomization:\n"
        "  - path: scripts/setup.sh\n"
        "    arguments: [--fast]\n"
        "    environmentVariables:\n"
        "      MODE: test\n"
        "  finalizeCustomization:\n"
        "  - content: echo done\n"
        "    interpreter: /bin/bash\n"
        "    name: last\n";

static void test_mapping(void) {
        Diagnostics d = {};
        TomlDocument *doc = parse(FULL, &d);
        CHECK(doc);
        if (!doc) {
                dump(&d);
                diagnostics_release(&d);
                return;
        }
        const TomlValue *r = doc->root;
        CHECK_STREQ(str(r, "hostname"), "web-1");
        const TomlEntry *e = toml_table_entry(r, "hostname");
        CHECK(e && e->key_pos.line == 3 && e->key_pos.column == 3);
        CHECK(e && e->value->pos.line == 3 && e->value->pos.column == 13);
        CHECK(e && strcmp(e->value->pos.file, "c.yaml") == 0 && e->value->pos.file == doc->filename);
        CHECK_STREQ(str(r, "kernel-cmdline"), "console=ttyS0 quiet");
        CHECK(count(r, "packages") == 2);
        CHECK_STREQ(str_item(r, "packages", 1), "htop");
        CHECK_STREQ(str_item(r, "remove", 0), "nano");
        const TomlValue *rm = item(r, "remove", 0);
        CHECK(rm && rm->pos.line == 11 && rm->pos.column == 7);
        CHECK_STREQ(str_item(r, "update", 0), "openssl");
        const TomlValue *b = toml_table_get(r, "update-existing");
        CHECK(b && b->type == TOML_BOOL && b->boolean);
        CHECK_STREQ(str(r, "selinux"), "permissive");

        CHECK(count(r, "users") == 2);
        const TomlValue *u = item(r, "users", 0);
        CHECK_STREQ(str(u, "name"), "alice");
        const TomlValue *uid = toml_table_get(u, "uid");
        CHECK(uid && uid->type == TOML_INTEGER && uid->integer == 1001);
        CHECK_STREQ(str(u, "password-hash"), "$6$salt$hash");
        CHECK_STREQ(str_item(u, "ssh-keys", 0), "alice.pub");
        CHECK_STREQ(str_item(u, "groups", 1), "adm");
        CHECK_STREQ(str(u, "shell"), "/bin/zsh");
        CHECK_STREQ(str(u, "home"), "/var/home/alice");
        const TomlValue *bob = item(r, "users", 1);
        CHECK_STREQ(str(bob, "name"), "bob");
        CHECK(bob && bob->table.n == 1); /* locked: no password-hash */

        CHECK(count(r, "files") == 2);
        CHECK_STREQ(str(item(r, "files", 0), "source"), "files/motd");
        CHECK_STREQ(str(item(r, "files", 0), "path"), "/etc/motd");
        CHECK_STREQ(str(item(r, "files", 0), "mode"), "0644");
        CHECK_STREQ(str(item(r, "files", 1), "mode"), "0755");

        const TomlValue *svc = toml_table_get(r, "services");
        CHECK_STREQ(str_item(svc, "enable", 0), "sshd.service");
        CHECK_STREQ(str_item(svc, "disable", 0), "kdump.service");

        CHECK(count(r, "modules") == 2);
        CHECK_STREQ(str(item(r, "modules", 0), "load"), "always");
        CHECK_STREQ(str(item(r, "modules", 0), "options"), "enable_unsafe_noiommu_mode=Y disable_vga=Y");
        CHECK_STREQ(str(item(r, "modules", 1), "load"), "inherit"); /* Image Customizer's default */

        const TomlValue *h = toml_table_get(r, "history");
        CHECK(h && h->type == TOML_BOOL && !h->boolean);

        CHECK(count(r, "scripts") == 2);
        const TomlValue *s0 = item(r, "scripts", 0), *s1 = item(r, "scripts", 1);
        CHECK_STREQ(str(s0, "stage"), "post-customization");
        CHECK_STREQ(str(s0, "path"), "scripts/setup.sh");
        CHECK_STREQ(str_item(s0, "args", 0), "--fast");
        CHECK_STREQ(str_item(s0, "env", 0), "MODE=test");
        CHECK_STREQ(str(s1, "stage"), "finalize");
        CHECK_STREQ(str(s1, "content"), "echo done");
        CHECK_STREQ(str(s1, "interpreter"), "/bin/bash");
        CHECK_STREQ(str(s1, "name"), "last");
        CHECK(d.n == 0);
        toml_document_free(doc);
        diagnostics_release(&d);
}

static void test_forms(void) {
        Diagnostics d = {};
        /* The older string form of extraCommandLine; nulls leave keys out;
         * a string field takes any scalar. */
        TomlDocument *doc = parse("os:\n"
                                  "  hostname: 12345\n"
                                  "  kernelCommandLine:\n"
                                  "    extraCommandLine: \"console=tty0 quiet\"\n"
                                  "  users:\n"
                                  "  selinux:\n"
                                  "    mode: ~\n"
                                  "scripts: null\n",
                                  &d);
        CHECK(doc);
        CHECK_STREQ(doc ? str(doc->root, "hostname") : NULL, "12345");
        CHECK_STREQ(doc ? str(doc->root, "kernel-cmdline") : NULL, "console=tty0 quiet");
        CHECK(doc && doc->root->table.n == 2);
        toml_document_free(doc);

        /* An empty file and a document of nothing are an empty customization. */
        doc = parse("", &d);
        CHECK(doc && doc->root->type == TOML_TABLE && doc->root->table.n == 0);
        toml_document_free(doc);
        doc = parse("---\n...\n", &d);
        CHECK(doc && doc->root->table.n == 0);
        toml_document_free(doc);
        CHECK(d.n == 0);
        dump(&d);
        diagnostics_release(&d);
}

/* yaml gives exactly one error, at line:column, containing what. */
static void one_error(const char *yaml, unsigned line, unsigned column, const char *what) {
        Diagnostics d = {};
        TomlDocument *doc = parse(yaml, &d);
        bool ok = !doc && d.n == 1 && d.n_errors == 1 && d.items[0].line == line && d.items[0].column == column &&
                  strstr(d.items[0].message, what) && strcmp(d.items[0].file, "c.yaml") == 0;
        CHECK(ok);
        if (!ok) {
                fprintf(stderr, "  for %s  expected %u:%u '%s', got:\n", yaml, line, column, what);
                dump(&d);
        }
        toml_document_free(doc);
        diagnostics_release(&d);
}

static void test_unsupported(void) {
        one_error("os:\n  overlays:\n  - lowerDirs: [/a]\n", 2, 3,
                  "'os.overlays' is an Image Customizer setting slipway does not support yet");
        one_error("storage:\n  disks: []\n", 1, 1, "'storage' is an Image Customizer setting");
        one_error("iso: {}\n", 1, 1, "'iso' is an Image Customizer setting");
        one_error("previewFeatures: [uki]\n", 1, 1, "'previewFeatures'");
        one_error("output:\n  image:\n    path: x.vhdx\n", 1, 1, "--output-image-file");
        one_error("os:\n  bootloader:\n    resetType: hard-reset\n", 2, 3, "'os.bootloader' is an Image Customizer");
        one_error("os:\n  uki: {kernels: auto}\n", 2, 3, "'os.uki'");
        one_error("os:\n  additionalDirs: []\n", 2, 3, "'os.additionalDirs'");
        one_error("os:\n  groups:\n  - name: g\n", 2, 3, "'os.groups'");
        one_error("os:\n  packages:\n    installLists: [a.yaml]\n", 3, 5, "'os.packages.installLists'");
        one_error("os:\n  users:\n  - name: a\n    sshPublicKeys: [ssh-ed25519 AAAA]\n", 4, 5,
                  "'os.users[0].sshPublicKeys' is an Image Customizer setting slipway does not support yet");
        one_error("os:\n  users:\n  - name: a\n    primaryGroup: g\n", 4, 5, "'os.users[0].primaryGroup'");
        one_error("os:\n  users:\n  - name: a\n  - name: b\n    password:\n      type: plain-text\n      value: x\n",
                  6, 13, "'os.users[1].password.type': 'plain-text' is an Image Customizer setting");
        one_error("os:\n  users:\n  - name: a\n    password: {type: hashed-file, value: f}\n", 4, 22, "'hashed-file'");
        one_error("os:\n  users:\n  - name: a\n    password: {type: hashed}\n", 4, 15, "needs its 'value'");
        one_error("os:\n  additionalFiles:\n  - content: hi\n    destination: /a\n", 3, 5,
                  "'os.additionalFiles[0].content' is an Image Customizer setting");
        one_error("os:\n  selinux:\n    mode: force-enforcing\n", 3, 11, "'force-enforcing'");
        /* A null is an absent key: nothing to refuse. */
        Diagnostics d = {};
        TomlDocument *doc = parse("storage:\nos:\n  overlays: ~\n", &d);
        CHECK(doc && d.n == 0);
        toml_document_free(doc);
        diagnostics_release(&d);
}

static void test_unknown_and_types(void) {
        one_error("os:\n  hostnmae: x\n", 2, 3, "unknown key 'os.hostnmae'; did you mean 'os.hostname'?");
        one_error("os:\n  users:\n  - name: a\n    sshPublicKeyPath: [k]\n", 4, 5,
                  "did you mean 'os.users[0].sshPublicKeyPaths'?");
        one_error("Os:\n  hostname: x\n", 1, 1, "did you mean 'os'?");
        one_error("zzzzzzzz: 1\n", 1, 1, "unknown key 'zzzzzzzz': Image Customizer has no such setting");
        one_error("os:\n  users:\n  - name: a\n    uid: \"1000\"\n", 4, 10, "'os.users[0].uid': expected an integer");
        one_error("os:\n  users:\n  - name: a\n    uid: 1e3\n", 4, 10, "expected an integer");
        one_error("os:\n  packages:\n    updateExistingPackages: maybe\n", 3, 29, "expected true or false");
        one_error("os:\n  hostname: [a, b]\n", 2, 13, "'os.hostname': expected a string, found a list");
        one_error("os:\n  packages:\n    install: vim\n", 3, 14, "expected a list of strings");
        one_error("os:\n  packages:\n    install: [vim, '']\n", 3, 20, "'os.packages.install[1]'");
        one_error("os:\n  users:\n    name: a\n", 3, 5, "'os.users': expected a list");
        one_error("os:\n  users:\n  - alice\n", 3, 5, "'os.users[0]': expected a mapping");
        one_error("os:\n  additionalFiles:\n  - source: a\n    destination: /a\n    permissions: \"rw\"\n", 5, 18,
                  "expected an octal mode");
        one_error("os:\n  modules:\n  - name: m\n    loadMode: sometimes\n", 4, 15, "'sometimes' is not valid");
        one_error("os:\n  modules:\n  - name: m\n    options:\n      a: two words\n", 5, 10, "without blanks");
        one_error("os:\n  imageHistory: all\n", 2, 17, "expected 'none'");
        one_error("os:\n  selinux:\n    mode: strict\n", 3, 11, "'os.selinux.mode': 'strict' is not valid");
        one_error("- os\n", 1, 1, "expected a mapping of Image Customizer's keys");
        one_error("os: 3\n", 1, 5, "'os': expected a mapping, found a scalar");

        /* Every error is reported, not only the first. */
        Diagnostics d = {};
        TomlDocument *doc = parse("os:\n  hostnme: x\n  overlays: []\n  uki: {}\nstorage: {}\n", &d);
        CHECK(!doc && d.n_errors == 4);
        diagnostics_release(&d);
}

static void test_syntax(void) {
        one_error("os:\n  hostname: [a\n", 3, 1, "not valid YAML: did not find expected ',' or ']'");
        one_error("os:\n hostname: a\n  users: b\n", 3, 8, "not valid YAML: mapping values are not allowed");
        one_error("os:\n  hostname: \"a\n", 3, 1, "not valid YAML");
        one_error("os:\n\thostname: a\n", 2, 1, "not valid YAML");
        one_error("a: \xff\n", 1, 4, "not valid YAML: invalid leading UTF-8 octet");
        one_error("os:\n  hostname: &h x\n  kernelCommandLine:\n    extraCommandLine: *h\n", 4, 23,
                  "YAML aliases ('*h') are not supported");
        one_error("os: {}\n---\nos: {}\n", 2, 1, "a second YAML document");
        one_error("os:\n  hostname: a\n  hostname: b\n", 3, 3, "key 'hostname' is given twice, first at 2:3");
        one_error("? [a]\n: b\n", 1, 3, "a key must be a string");

        /* Nesting is bounded (libyaml's events, not the stack). */
        char deep[400] = "os: ";
        for (int i = 0; i < 100; i++)
                strcat(deep, "[");
        one_error(deep, 1, 5 + 63, "nested deeper than 64 levels");

        /* Bounded size. */
        size_t n = IC_YAML_MAX_SIZE + 1;
        char *big = malloc(n + 1);
        if (big) {
                memset(big, '#', n);
                big[n] = 0;
                one_error(big, 1, 1, "larger than");
                free(big);
        }
}

/* The same customization in Image Customizer's YAML and in TOML loads into the
 * same model; positions are the YAML file's. */
static void test_same_as_toml(void) {
        char dir[] = "/tmp/test-ic-yaml-XXXXXX";
        CHECK(mkdtemp(dir));
        char yaml[128], toml[128], key[128], motd[128];
        snprintf(yaml, sizeof yaml, "%s/custom.yaml", dir);
        snprintf(toml, sizeof toml, "%s/custom.toml", dir);
        snprintf(key, sizeof key, "%s/alice.pub", dir);
        snprintf(motd, sizeof motd, "%s/motd", dir);
        CHECK(write_file_atomic(key, "ssh-ed25519 AAAA alice\n", 23, 0644) == 0);
        CHECK(write_file_atomic(motd, "hi\n", 3, 0644) == 0);
        const char *y = "os:\n"
                        "  hostname: customized-host\n"
                        "  kernelCommandLine:\n"
                        "    extraCommandLine: [slipway.customized=1]\n"
                        "  users:\n"
                        "  - name: alice\n"
                        "    sshPublicKeyPaths: [alice.pub]\n"
                        "  additionalFiles:\n"
                        "  - source: motd\n"
                        "    destination: /etc/motd\n"
                        "    permissions: \"644\"\n";
        const char *t = "hostname = \"customized-host\"\n"
                        "kernel-cmdline = \"slipway.customized=1\"\n"
                        "[[users]]\nname = \"alice\"\nssh-keys = [\"alice.pub\"]\n"
                        "[[files]]\nsource = \"motd\"\npath = \"/etc/motd\"\nmode = \"0644\"\n";
        CHECK(write_file_atomic(yaml, y, strlen(y), 0644) == 0);
        CHECK(write_file_atomic(toml, t, strlen(t), 0644) == 0);
        Diagnostics d = {};
        Project *py = NULL, *pt = NULL;
        CHECK(project_load_customization(yaml, &d, &py) == 0);
        CHECK(project_load_customization(toml, &d, &pt) == 0);
        dump(&d);
        if (py && pt) {
                const Customization *a = &py->customizations.items[0], *b = &pt->customizations.items[0];
                CHECK_STREQ(a->im.name, "custom");
                CHECK_STREQ(a->im.name, b->im.name);
                CHECK_STREQ(a->im.hostname, b->im.hostname);
                CHECK_STREQ(a->im.kernel_cmdline, b->im.kernel_cmdline);
                CHECK(a->im.users.n == 1 && b->im.users.n == 1);
                CHECK_STREQ(a->im.users.items[0].name, b->im.users.items[0].name);
                CHECK(a->im.users.items[0].ssh_keys.n == 1);
                CHECK_STREQ(a->im.users.items[0].ssh_keys.items[0], b->im.users.items[0].ssh_keys.items[0]);
                CHECK(a->im.files.n == 1 && a->im.files.items[0].mode == 0644 && b->im.files.items[0].mode == 0644);
                CHECK_STREQ(a->im.files.items[0].path, b->im.files.items[0].path);
                CHECK(a->history && b->history && !a->reset_uuids);
                SourcePos pos = cfg_pos(&a->im.obj, "hostname");
                CHECK(pos.line == 2 && pos.column == 13 && strcmp(pos.file, yaml) == 0);
                pos = cfg_pos(&a->im.users.items[0].obj, "ssh-keys");
                CHECK(pos.line == 7 && pos.column == 24);
        }
        project_free(py);
        project_free(pt);
        diagnostics_release(&d);

        /* A value the schema refuses is named at the YAML's line:column. */
        const char *bad = "os:\n  hostname: Not_A_Host!\n  users:\n  - uid: 5\n";
        CHECK(write_file_atomic(yaml, bad, strlen(bad), 0644) == 0);
        py = NULL;
        CHECK(project_load_customization(yaml, &d, &py) == -EINVAL && !py);
        diagnostics_sort(&d);
        CHECK(d.n_errors == 2);
        CHECK(d.n == 2 && d.items[0].line == 2 && d.items[0].column == 13 && strstr(d.items[0].message, "hostname"));
        CHECK(d.n == 2 && d.items[1].line == 4 && strstr(d.items[1].message, "name"));
        diagnostics_release(&d);

        /* A .yml file is YAML too; a missing file is an I/O error. */
        char yml[128];
        snprintf(yml, sizeof yml, "%s/other.yml", dir);
        CHECK(write_file_atomic(yml, "os:\n  hostname: h\n", 18, 0644) == 0);
        CHECK(project_load_customization(yml, &d, &py) == 0);
        CHECK(py && strcmp(py->customizations.items[0].im.hostname, "h") == 0);
        py = project_free(py);
        snprintf(yml, sizeof yml, "%s/missing.yaml", dir);
        CHECK(project_load_customization(yml, &d, &py) < 0 && d.n_errors == 1);
        diagnostics_release(&d);

        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
}

UNIT_MAIN(test_mapping, test_forms, test_unsupported, test_unknown_and_types, test_syntax, test_same_as_toml)
