/* SPDX-License-Identifier: MIT */

/* The project schema (docs/config.md is its user-facing description: keep the
 * two in step), the checks across keys, and the loader for slipway.toml and
 * its includes. */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <ftw.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/sde.h"
#include "basic/strbuf.h"
#include "disk/container.h"
#include "disk/gpt.h"
#include "disk/verity.h"
#include "config/ic-yaml.h"
#include "oci/oci.h"
#include "rpm/dep.h"
#include "project.h"
#include "rpm/package.h"
#include "script/lua.h"
#include "sign/authenticode.h"

/* ---- enum tables ----------------------------------------------------------- */

static const char *const component_kind_table[] = { "spec", "native", "upstream", NULL };
static const char *const release_mode_table[] = { "bump", "suffix", "none", NULL };
static const char *const overlay_type_table[] = {
        "spec-add-tag",        "spec-insert-tag",     "spec-set-tag",           "spec-update-tag",
        "spec-remove-tag",     "spec-prepend-lines",  "spec-append-lines",      "spec-search-replace",
        "spec-remove-section", "spec-remove-subpackage", "patch-add",           "patch-remove",
        "file-prepend-lines",  "file-search-replace", "file-add",               "file-remove",
        "file-rename",         NULL,
};
static const char *const upstream_status_table[] = { "upstreamed", "upstreamable", "needs-upstream-hook", "inapplicable",
                                                      "unknown", NULL };
static const char *const image_format_table[] = { "raw", "vhd", "vhdx", "qcow2", "iso", "oci", "tar", "wsl", "cpio", NULL };
static const char *const selinux_mode_table[] = { "enforcing", "permissive", "disabled", NULL };
static const char *const boot_mode_table[] = { "uefi", "bios", "hybrid", "none", NULL };
static const char *const image_platform_table[] = { "none", "azure", NULL };
static const char *const uki_mode_table[] = { "none", "systemd-boot", "firmware", NULL };
static const char *const scriptlet_policy_table[] = { "run", "strict", "skip", "warn", "fail", NULL };
static const char *const sbom_level_table[] = { "packages", "files", "none", NULL };
static const char *const build_mode_table[] = { "host", "buildroot", NULL };
static const char *const build_engine_table[] = { "local", "slurm", NULL };
static const char *const hardening_check_table[] = { "pie", "relro", "bindnow", "nx-stack", "stack-protector",
                                                     "fortify", "cet", NULL };
static const char *const hardening_action_table[] = { "warn", "fail", "off", NULL };
static_assert(ELEMENTSOF(hardening_check_table) == _HARDENING_CHECK_MAX + 1, "hardening checks");
static_assert(ELEMENTSOF(hardening_action_table) == _HARDENING_ACTION_MAX + 1, "hardening actions");
static const char *const partition_type_table[] = { "esp", "xbootldr", "root", "swap", "home", "srv", "var", "tmp", "usr", "linux", NULL };
static const char *const fs_type_table[] = { "vfat", "ext4", "none", NULL };
static const char *const sde_origin_table[] = { "config", "environment", "inputs", NULL };
static const char *const module_load_table[] = { "always", "disable", "auto", "inherit", NULL };
static const char *const script_stage_table[] = { "post-customization", "finalize", NULL };
/* rpm's section names, without the '%' (build/parseSpec.c partList). */
static const char *const file_trigger_when_table[] = { "filetriggerin",      "filetriggerun",      "filetriggerpostun",
                                                       "transfiletriggerin", "transfiletriggerun", "transfiletriggerpostun",
                                                       NULL };

static_assert(ELEMENTSOF(component_kind_table) == _COMPONENT_KIND_MAX + 1, "component kinds");
static_assert(ELEMENTSOF(release_mode_table) == _RELEASE_MODE_MAX + 1, "release modes");
static_assert(ELEMENTSOF(overlay_type_table) == _OVERLAY_TYPE_MAX + 1, "overlay types");
static_assert(ELEMENTSOF(image_format_table) == _IMAGE_FORMAT_MAX + 1, "image formats");
static_assert(ELEMENTSOF(selinux_mode_table) == _SELINUX_MODE_MAX + 1, "selinux modes");
static_assert(ELEMENTSOF(boot_mode_table) == _BOOT_MODE_MAX + 1, "boot modes");
static_assert(ELEMENTSOF(image_platform_table) == _IMAGE_PLATFORM_MAX + 1, "image platforms");
static_assert(ELEMENTSOF(uki_mode_table) == _UKI_MODE_MAX + 1, "UKI modes");
static_assert(ELEMENTSOF(scriptlet_policy_table) == _SCRIPTLETS_MAX + 1, "scriptlet policies");
static_assert(ELEMENTSOF(sbom_level_table) == _SBOM_LEVEL_MAX + 1, "sbom levels");
static_assert(ELEMENTSOF(build_mode_table) == _BUILD_MODE_MAX + 1, "build modes");
static_assert(ELEMENTSOF(partition_type_table) == _PARTITION_TYPE_MAX + 1, "partition types");
static_assert(ELEMENTSOF(fs_type_table) == _FS_TYPE_MAX + 1, "fs types");
static_assert(ELEMENTSOF(sde_origin_table) == _SDE_ORIGIN_MAX + 1, "sde origins");
static_assert(ELEMENTSOF(module_load_table) == _MODULE_LOAD_MAX + 1, "module loads");
static_assert(ELEMENTSOF(script_stage_table) == _SCRIPT_STAGE_MAX + 1, "script stages");
static_assert(ELEMENTSOF(file_trigger_when_table) == _FILE_TRIGGER_WHEN_MAX + 1, "file trigger types");

#define TABLE_LOOKUP(table, max, i) ((i) >= 0 && (i) < (max) ? (table)[(i)] : NULL)

const char *component_kind_to_string(ComponentKind k) {
        return TABLE_LOOKUP(component_kind_table, _COMPONENT_KIND_MAX, k);
}
const char *release_mode_to_string(ReleaseMode m) {
        return TABLE_LOOKUP(release_mode_table, _RELEASE_MODE_MAX, m);
}
const char *overlay_type_to_string(OverlayType t) {
        return TABLE_LOOKUP(overlay_type_table, _OVERLAY_TYPE_MAX, t);
}
const char *image_format_to_string(ImageFormat f) {
        return TABLE_LOOKUP(image_format_table, _IMAGE_FORMAT_MAX, f);
}
ImageFormat image_format_from_string(const char *s) {
        for (int i = 0; i < _IMAGE_FORMAT_MAX; i++)
                if (strcmp(image_format_table[i], s) == 0)
                        return (ImageFormat) i;
        return _IMAGE_FORMAT_INVALID;
}
const char *selinux_mode_to_string(SelinuxMode m) {
        return TABLE_LOOKUP(selinux_mode_table, _SELINUX_MODE_MAX, m);
}
const char *uki_mode_to_string(UkiMode m) {
        return TABLE_LOOKUP(uki_mode_table, _UKI_MODE_MAX, m);
}

const char *boot_mode_to_string(BootMode m) {
        return TABLE_LOOKUP(boot_mode_table, _BOOT_MODE_MAX, m);
}
const char *image_platform_to_string(ImagePlatform p) {
        return TABLE_LOOKUP(image_platform_table, _IMAGE_PLATFORM_MAX, p);
}
const char *hardening_check_to_string(HardeningCheck c) {
        return TABLE_LOOKUP(hardening_check_table, _HARDENING_CHECK_MAX, c);
}
const char *hardening_action_to_string(HardeningAction a) {
        return TABLE_LOOKUP(hardening_action_table, _HARDENING_ACTION_MAX, a);
}
const char *build_engine_to_string(BuildEngine e) {
        return e >= 0 && e < _BUILD_ENGINE_MAX ? build_engine_table[e] : NULL;
}

const char *build_mode_to_string(BuildMode m) {
        return TABLE_LOOKUP(build_mode_table, _BUILD_MODE_MAX, m);
}

const char *scriptlet_policy_to_string(ScriptletPolicy p) {
        return TABLE_LOOKUP(scriptlet_policy_table, _SCRIPTLETS_MAX, p);
}
const char *sbom_level_to_string(SbomLevel l) {
        return TABLE_LOOKUP(sbom_level_table, _SBOM_LEVEL_MAX, l);
}
SbomLevel sbom_level_from_string(const char *s) {
        for (int i = 0; s && i < _SBOM_LEVEL_MAX; i++)
                if (strcmp(sbom_level_table[i], s) == 0)
                        return (SbomLevel) i;
        return _SBOM_LEVEL_INVALID;
}
const char *partition_type_to_string(PartitionType t) {
        return TABLE_LOOKUP(partition_type_table, _PARTITION_TYPE_MAX, t);
}
const char *fs_type_to_string(FsType t) {
        return TABLE_LOOKUP(fs_type_table, _FS_TYPE_MAX, t);
}
const char *module_load_to_string(ModuleLoad m) {
        return m >= 0 && m < _MODULE_LOAD_MAX ? module_load_table[m] : NULL;
}
const char *script_stage_to_string(ScriptStage s) {
        return s >= 0 && s < _SCRIPT_STAGE_MAX ? script_stage_table[s] : NULL;
}
const char *file_trigger_when_to_string(FileTriggerWhen w) {
        return TABLE_LOOKUP(file_trigger_when_table, _FILE_TRIGGER_WHEN_MAX, w);
}
const char *sde_origin_to_string(SdeOrigin o) {
        return TABLE_LOOKUP(sde_origin_table, _SDE_ORIGIN_MAX, o);
}

const char *host_arch(void) {
        static struct utsname u;
        if (uname(&u) < 0)
                return "x86_64";
        if (strcmp(u.machine, "arm64") == 0)
                return "aarch64";
        if (strcmp(u.machine, "i386") == 0 || strcmp(u.machine, "i586") == 0)
                return "i686";
        return u.machine;
}

/* ---- value checks ---------------------------------------------------------- */

static bool all_chars(const char *s, const char *extra, bool alnum, bool lower_only) {
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (alnum && (isdigit(c) || (islower(c) && c < 0x80) || (!lower_only && isupper(c) && c < 0x80)))
                        continue;
                if (strchr(extra, c))
                        continue;
                return false;
        }
        return true;
}

static const char *check_project_name(const char *s) {
        if (!s[0] || s[0] == '-' || !all_chars(s, "-", true, true) || strlen(s) > 64)
                return "lower-case letters, digits and '-', starting with a letter or digit";
        return NULL;
}

static const char *check_version(const char *s) {
        if (!s[0] || !all_chars(s, "._+~^", true, false) || strlen(s) > 64)
                return "letters, digits and '.', '_', '+', '~', '^' (no '-')";
        return NULL;
}

static const char *check_dist(const char *s) {
        if (!all_chars(s, "._+~^", true, false) || strlen(s) > 64)
                return "letters, digits and '.', '_', '+', '~', '^', such as \".azl4\"";
        return NULL;
}

static const char *const arch_table[] = { "x86_64", "aarch64", "i686", "ppc64le", "s390x", "riscv64", NULL };

static bool in_table(const char *const *t, const char *s) {
        for (; *t; t++)
                if (strcmp(*t, s) == 0)
                        return true;
        return false;
}

static const char *check_project_arch(const char *s) {
        return in_table(arch_table, s) ? NULL : "one of x86_64, aarch64, i686, ppc64le, s390x, riscv64";
}

static const char *check_package_arch(const char *s) {
        return strcmp(s, "noarch") == 0 || in_table(arch_table, s)
                       ? NULL
                       : "noarch or one of x86_64, aarch64, i686, ppc64le, s390x, riscv64";
}

static const char *check_rpm_name(const char *s) {
        if (!s[0] || s[0] == '-' || s[0] == '.' || !all_chars(s, "._+-", true, false) || strlen(s) > 200)
                return "letters, digits and '.', '_', '+', '-', not starting with '-' or '.'";
        return NULL;
}

static bool starts_alnum(const char *s) {
        return isalnum((unsigned char) s[0]) && (unsigned char) s[0] < 0x80;
}

static const char *check_image_name(const char *s) {
        if (!starts_alnum(s) || !all_chars(s, "._-", true, true) || strlen(s) > 64)
                return "lower-case letters, digits and '.', '_', '-', starting with a letter or digit";
        return NULL;
}

static const char *check_repo_name(const char *s) {
        if (!starts_alnum(s) || !all_chars(s, "._:-", true, false) || strlen(s) > 100)
                return "letters, digits and '.', '_', ':', '-', starting with a letter or digit";
        return NULL;
}

static const char *check_url(const char *s) {
        if (strncmp(s, "file:///", 8) == 0 || (strncmp(s, "http://", 7) == 0 && s[7]) ||
            (strncmp(s, "https://", 8) == 0 && s[8]))
                return NULL;
        return "a file:///, http:// or https:// URL";
}

static bool has_dotdot(const char *s) {
        for (const char *p = s; (p = strstr(p, "..")); p += 2)
                if ((p == s || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
                        return true;
        return false;
}

/* A dist-git or lookaside URL template: a URL once $pkg (and the lookaside's
 * $filename, $hashtype, $hash) are replaced. */
static const char *check_url_template(const char *s) {
        if (check_url(s) || strchr(s, '\n') || strchr(s, ' '))
                return "a file:///, http:// or https:// URL (with $pkg, $filename, $hashtype, $hash where wanted)";
        return NULL;
}

static const char *check_commit(const char *s) {
        size_t n = strlen(s);
        if (n < 7 || n > 40 || strspn(s, "0123456789abcdef") != n)
                return "a commit: 7 to 40 lower-case hexadecimal digits";
        return NULL;
}

static const char *check_branch(const char *s) {
        if (!s[0] || s[0] == '-' || s[0] == '/' || strstr(s, "..") || strpbrk(s, " ~^:?*[\\\n") ||
            s[strlen(s) - 1] == '/' || strlen(s) > 200)
                return "a git branch name";
        return NULL;
}

static const char *check_bcond(const char *s) {
        if (!(isalpha((unsigned char) s[0]) || s[0] == '_') || !all_chars(s, "_", true, false) || strlen(s) > 64)
                return "letters, digits and '_', not starting with a digit";
        return NULL;
}

static const char *check_category(const char *s) {
        if (!s[0] || !all_chars(s, "-", true, true) || strlen(s) > 64)
                return "lower-case letters, digits and '-'";
        return NULL;
}

static const char *check_abs_path(const char *s) {
        if (s[0] != '/' || has_dotdot(s) || strstr(s, "//") || strchr(s, '\n'))
                return "an absolute path without '..' or '//'";
        return NULL;
}

/* A file trigger's path prefix: rpmbuild splits the condition after "--" at
 * white space and wants each word absolute (build/parseReqs.c
 * parseRCPOT()). */
static const char *check_trigger_path(const char *s) {
        bool ok = s[0] == '/' && !has_dotdot(s) && !strstr(s, "//");
        for (const char *c = s; ok && *c; c++)
                ok = !isspace((unsigned char) *c) && !iscntrl((unsigned char) *c);
        return ok ? NULL : "an absolute path without '..', '//', spaces or control characters";
}

/* A scriptlet's program: one word, as rpmbuild allows in a trigger ("-p
 * <lua>" or "-p /sbin/ldconfig", no arguments: build/parseScript.c). */
static const char *check_trigger_program(const char *s) {
        if (strcmp(s, "<lua>") == 0)
                return NULL;
        bool ok = s[0] == '/' && !has_dotdot(s) && !strstr(s, "//");
        for (const char *c = s; ok && *c; c++)
                ok = !isspace((unsigned char) *c) && !iscntrl((unsigned char) *c);
        return ok ? NULL : "an absolute path without '..', '//', spaces or control characters, or \"<lua>\"";
}

static const char *check_one_line(const char *s) {
        return strchr(s, '\n') || strchr(s, '\r') ? "a single line" : NULL;
}

static const char *check_absolute_pattern(const char *s) {
        return s[0] == '/' && !strchr(s, '\n') ? NULL : "an absolute path or glob pattern on the build host";
}

static const char *check_account_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 32 || !(islower((unsigned char) s[0]) || s[0] == '_') || !all_chars(s, "_-", true, true))
                return "lower-case letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters";
        return NULL;
}

static const char *check_hostname(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                goto bad;
        for (const char *label = s;;) {
                size_t l = strcspn(label, ".");
                if (l == 0 || l > 63 || label[0] == '-' || label[l - 1] == '-')
                        goto bad;
                for (size_t i = 0; i < l; i++)
                        if (!isalnum((unsigned char) label[i]) && label[i] != '-')
                                goto bad;
                if (!label[l])
                        break;
                label += l + 1;
        }
        return NULL;
bad:
        return "a host name: labels of letters, digits and '-' separated by '.', at most 64 characters";
}

static const char *check_unit_name(const char *s) {
        static const char *const suffixes[] = { ".service", ".socket", ".timer", ".target", ".path", ".mount",
                                                 ".automount", ".swap", ".slice", NULL };
        const char *dot = strrchr(s, '.');
        if (!dot || dot == s || !in_table(suffixes, dot) || !all_chars(s, ":_.\\@-", true, false) || strlen(s) > 255)
                return "a systemd unit name such as \"sshd.service\"";
        return NULL;
}

static const char *check_format(const char *s) {
        return image_format_from_string(s) >= 0 ? NULL : "one of raw, vhd, vhdx, qcow2, iso, oci, tar, wsl, cpio";
}

static const char *check_env(const char *s) {
        const char *eq = strchr(s, '=');
        if (!eq || eq == s)
                return "\"NAME=VALUE\"";
        return NULL;
}

/* The tag grammar of the OCI distribution spec ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})
 * and the reference grammar oci_write() holds tags to (annotations.md), both. */
static const char *check_tag(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 128 || !all_chars(s, "._-", true, false) || !oci_ref_name_valid(s))
                return "an OCI tag: at most 128 letters, digits and '_', '.', '-', starting and ending with a letter "
                       "or digit, without two of '_', '.', '-' in a row (except \"--\")";
        return NULL;
}

/* The kernel takes its command line as bytes up to a NUL; the boot loader
 * entries hold it on one line. */
static const char *check_kernel_cmdline(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return "a single line without control characters (tabs, line breaks, escapes)";
        return NULL;
}

static const char *check_gpt_label(const char *s) {
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p & 0xC0) != 0x80)
                        n += *p >= 0xF0 ? 2 : 1; /* UTF-16 code units */
        return n <= 36 ? NULL : "at most 36 characters (the GPT limit)";
}

static const char *check_password_hash(const char *s) {
        if (strpbrk(s, ":\n"))
                return "a crypt(3) hash such as \"$6$salt$hash\", without ':'";
        if (s[0] == '$' || strcmp(s, "!") == 0 || strcmp(s, "*") == 0 || strcmp(s, "!!") == 0)
                return NULL;
        return "a crypt(3) hash such as \"$6$salt$hash\" (a plain password is not accepted)";
}

static const char *check_group_name(const char *s) {
        return check_account_name(s);
}

const char *check_dependency(const char *s) {
        /* The grammar is rpm/dep.h's, which parses these strings later. */
        if (rpm_dependency_parse(s, NULL) == -EINVAL)
                return "a capability, optionally with a version: \"name\", \"name >= 1.0\", "
                       "\"name = 1:2.0-3\", or a rich dependency in parentheses";
        return NULL;
}

/* ---- schema ---------------------------------------------------------------- */

#define FIELD(k, t, st, m, ...) { .key = (k), .type = (t), .offset = offsetof(st, m), __VA_ARGS__ }

static void file_spec_finish(void *obj, Diagnostics *d);
static void component_finish(void *obj, Diagnostics *d);
static void repo_finish(void *obj, Diagnostics *d);
static void partition_finish(void *obj, Diagnostics *d);
static void user_finish(void *obj, Diagnostics *d);
static void image_finish(void *obj, Diagnostics *d);
static void image_finish_outputs(void *obj, Diagnostics *d);
static void customization_finish(void *obj, Diagnostics *d);
static void script_finish(void *obj, Diagnostics *d);

static const SchemaField project_settings_fields[] = {
        FIELD("name", SCHEMA_STRING, ProjectSettings, name, .required = true, .check = check_project_name),
        FIELD("version", SCHEMA_STRING, ProjectSettings, version, .required = true, .check = check_version),
        FIELD("vendor", SCHEMA_STRING, ProjectSettings, vendor, .check = check_one_line),
        FIELD("dist", SCHEMA_STRING, ProjectSettings, dist, .check = check_dist),
        FIELD("arch", SCHEMA_STRING, ProjectSettings, arch, .check = check_project_arch),
        FIELD("source-date-epoch", SCHEMA_INTEGER, ProjectSettings, source_date_epoch, .min = 0,
              .max = (int64_t) SOURCE_DATE_EPOCH_MAX),
        FIELD("includes", SCHEMA_STRING_ARRAY, ProjectSettings, includes),
        FIELD("payload", SCHEMA_STRING, ProjectSettings, payload, .check = rpm_payload_check),
        {},
};
static const Schema project_settings_schema = {
        .what = "project",
        .size = sizeof(ProjectSettings),
        .fields = project_settings_fields,
};

static const SchemaField signing_fields[] = {
        FIELD("key", SCHEMA_STRING, Signing, key, .non_empty = true),
        FIELD("secure-boot-key", SCHEMA_STRING, Signing, secure_boot_key, .non_empty = true),
        FIELD("secure-boot-cert", SCHEMA_STRING, Signing, secure_boot_cert, .non_empty = true),
        {},
};
static const Schema signing_schema = {
        .what = "signing",
        .size = sizeof(Signing),
        .fields = signing_fields,
};

static const SchemaField build_fields[] = {
        FIELD("host-provides", SCHEMA_STRING_ARRAY, BuildSettings, host_provides, .check = check_dependency),
        FIELD("mode", SCHEMA_ENUM, BuildSettings, mode, .values = build_mode_table),
        FIELD("engine", SCHEMA_ENUM, BuildSettings, engine, .values = build_engine_table),
        FIELD("buildroot", SCHEMA_STRING_ARRAY, BuildSettings, buildroot, .check = check_dependency),
        FIELD("defines", SCHEMA_STRING_MAP, BuildSettings, defines),
        FIELD("host-evidence", SCHEMA_STRING_MAP, BuildSettings, host_evidence),
        {},
};
static void build_finish(void *obj, Diagnostics *d);
static const Schema build_schema = {
        .what = "build",
        .size = sizeof(BuildSettings),
        .fields = build_fields,
        .finish = build_finish,
};

static const char *check_http_url(const char *s) {
        if ((strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8]))
                return strpbrk(s, " \n?#") ? "an http:// or https:// URL without spaces, '?' or '#'" : NULL;
        return "an http:// or https:// URL";
}

static const SchemaField cache_fields[] = {
        FIELD("url", SCHEMA_STRING, CacheSettings, url, .required = true, .check = check_http_url),
        FIELD("push", SCHEMA_BOOL, CacheSettings, push),
        FIELD("key", SCHEMA_STRING, CacheSettings, key, .non_empty = true),
        FIELD("trusted-keys", SCHEMA_STRING_ARRAY, CacheSettings, trusted_keys, .non_empty = true),
        {},
};
static void cache_finish(void *obj, Diagnostics *d) {
        CacheSettings *c = obj;
        (void) d;
        if (!cfg_has(&c->obj, "push"))
                c->push = true;
}
static const Schema cache_schema = {
        .what = "cache",
        .size = sizeof(CacheSettings),
        .fields = cache_fields,
        .finish = cache_finish,
};

static const SchemaField slurm_fields[] = {
        FIELD("options", SCHEMA_STRING_ARRAY, SlurmSettings, options, .non_empty = true),
        FIELD("work-dir", SCHEMA_STRING, SlurmSettings, work_dir, .non_empty = true),
        FIELD("slipway", SCHEMA_STRING, SlurmSettings, slipway, .check = check_abs_path),
        FIELD("poll", SCHEMA_INTEGER, SlurmSettings, poll, .min = 1, .max = 3600),
        FIELD("cpus", SCHEMA_INTEGER, SlurmSettings, cpus, .min = 1, .max = 1024),
        {},
};
static const Schema slurm_schema = {
        .what = "slurm",
        .size = sizeof(SlurmSettings),
        .fields = slurm_fields,
};

/* One key per check, in HardeningCheck order. */
static const SchemaField hardening_fields[] = {
        FIELD("pie", SCHEMA_ENUM, HardeningSettings, action[HARDENING_PIE], .values = hardening_action_table),
        FIELD("relro", SCHEMA_ENUM, HardeningSettings, action[HARDENING_RELRO], .values = hardening_action_table),
        FIELD("bindnow", SCHEMA_ENUM, HardeningSettings, action[HARDENING_BINDNOW], .values = hardening_action_table),
        FIELD("nx-stack", SCHEMA_ENUM, HardeningSettings, action[HARDENING_NX_STACK],
              .values = hardening_action_table),
        FIELD("stack-protector", SCHEMA_ENUM, HardeningSettings, action[HARDENING_STACK_PROTECTOR],
              .values = hardening_action_table),
        FIELD("fortify", SCHEMA_ENUM, HardeningSettings, action[HARDENING_FORTIFY], .values = hardening_action_table),
        FIELD("cet", SCHEMA_ENUM, HardeningSettings, action[HARDENING_CET], .values = hardening_action_table),
        {},
};
static const Schema hardening_schema = {
        .what = "hardening",
        .size = sizeof(HardeningSettings),
        .fields = hardening_fields,
};

#define EXCEPTION(k, i) FIELD(k, SCHEMA_STRING, HardeningExceptions, reason[i], .non_empty = true, .check = check_one_line)
static const SchemaField hardening_exception_fields[] = {
        EXCEPTION("pie", HARDENING_PIE),
        EXCEPTION("relro", HARDENING_RELRO),
        EXCEPTION("bindnow", HARDENING_BINDNOW),
        EXCEPTION("nx-stack", HARDENING_NX_STACK),
        EXCEPTION("stack-protector", HARDENING_STACK_PROTECTOR),
        EXCEPTION("fortify", HARDENING_FORTIFY),
        EXCEPTION("cet", HARDENING_CET),
        {},
};
#undef EXCEPTION
static const Schema hardening_exceptions_schema = {
        .what = "hardening exceptions",
        .size = sizeof(HardeningExceptions),
        .fields = hardening_exception_fields,
};

static const SchemaField repo_fields[] = {
        FIELD("url", SCHEMA_STRING, Repo, url, .required = true, .check = check_url),
        FIELD("gpg-key", SCHEMA_STRING, Repo, gpg_key, .non_empty = true),
        FIELD("gpgcheck", SCHEMA_BOOL, Repo, gpgcheck),
        {},
};
static const Schema repo_schema = {
        .what = "repository",
        .size = sizeof(Repo),
        .name_offset = offsetof(Repo, name),
        .name_check = check_repo_name,
        .fields = repo_fields,
        .finish = repo_finish,
};

static const SchemaField component_file_fields[] = {
        FIELD("source", SCHEMA_STRING, FileSpec, source, .required = true, .non_empty = true),
        FIELD("path", SCHEMA_STRING, FileSpec, path, .required = true, .check = check_abs_path),
        FIELD("mode", SCHEMA_MODE, FileSpec, mode),
        FIELD("user", SCHEMA_STRING, FileSpec, user, .check = check_account_name),
        FIELD("group", SCHEMA_STRING, FileSpec, group, .check = check_group_name),
        FIELD("config", SCHEMA_BOOL, FileSpec, config),
        {},
};
static const Schema component_file_schema = {
        .what = "file",
        .size = sizeof(FileSpec),
        .fields = component_file_fields,
        .finish = file_spec_finish,
};

/* Image files are the same minus config (meaningless outside a package). */
static const SchemaField image_file_fields[] = {
        FIELD("source", SCHEMA_STRING, FileSpec, source, .required = true, .non_empty = true),
        FIELD("path", SCHEMA_STRING, FileSpec, path, .required = true, .check = check_abs_path),
        FIELD("mode", SCHEMA_MODE, FileSpec, mode),
        FIELD("user", SCHEMA_STRING, FileSpec, user, .check = check_account_name),
        FIELD("group", SCHEMA_STRING, FileSpec, group, .check = check_group_name),
        {},
};
static const Schema image_file_schema = {
        .what = "file",
        .size = sizeof(FileSpec),
        .fields = image_file_fields,
        .finish = file_spec_finish,
};

static const SchemaField component_scripts_fields[] = {
        FIELD("pretrans", SCHEMA_STRING, ComponentScripts, pretrans, .non_empty = true),
        FIELD("pre", SCHEMA_STRING, ComponentScripts, pre, .non_empty = true),
        FIELD("post", SCHEMA_STRING, ComponentScripts, post, .non_empty = true),
        FIELD("preun", SCHEMA_STRING, ComponentScripts, preun, .non_empty = true),
        FIELD("postun", SCHEMA_STRING, ComponentScripts, postun, .non_empty = true),
        FIELD("posttrans", SCHEMA_STRING, ComponentScripts, posttrans, .non_empty = true),
        {},
};
static const Schema component_scripts_schema = {
        .what = "scripts",
        .size = sizeof(ComponentScripts),
        .fields = component_scripts_fields,
};

/* rpmbuild reads -P with popt as an int and stores it as a uint32
 * (build/parseScript.c, build/rpmbuild_internal.h TriggerFileEntry); rpm
 * compares priorities unsigned (lib/rpmtriggers.c), so a negative one would
 * run first, not last: 0 to INT32_MAX is what means what it says. */
static void file_trigger_finish(void *obj, Diagnostics *d);
static const SchemaField file_trigger_fields[] = {
        FIELD("when", SCHEMA_ENUM, FileTrigger, when, .required = true, .values = file_trigger_when_table),
        FIELD("paths", SCHEMA_STRING_ARRAY, FileTrigger, paths, .required = true, .non_empty = true,
              .check = check_trigger_path),
        FIELD("priority", SCHEMA_INTEGER, FileTrigger, priority, .min = 0, .max = INT32_MAX),
        FIELD("program", SCHEMA_STRING, FileTrigger, program, .check = check_trigger_program),
        FIELD("body", SCHEMA_STRING, FileTrigger, body, .non_empty = true),
        {},
};
static const Schema file_trigger_schema = {
        .what = "file trigger",
        .size = sizeof(FileTrigger),
        .fields = file_trigger_fields,
        .finish = file_trigger_finish,
};

static const SchemaField overlay_ref_fields[] = {
        FIELD("url", SCHEMA_STRING, OverlayRef, url, .required = true, .check = check_url),
        {},
};
static const Schema overlay_ref_schema = {
        .what = "reference",
        .size = sizeof(OverlayRef),
        .fields = overlay_ref_fields,
};

static const SchemaField overlay_metadata_fields[] = {
        FIELD("category", SCHEMA_STRING, OverlayMetadata, category, .required = true, .check = check_category),
        FIELD("upstream-status", SCHEMA_ENUM, OverlayMetadata, upstream_status, .required = true,
              .values = upstream_status_table),
        FIELD("commits", SCHEMA_TABLE_ARRAY, OverlayMetadata, commits, .sub = &overlay_ref_schema),
        FIELD("bugs", SCHEMA_TABLE_ARRAY, OverlayMetadata, bugs, .sub = &overlay_ref_schema),
        {},
};
static const Schema overlay_metadata_schema = {
        .what = "metadata",
        .size = sizeof(OverlayMetadata),
        .fields = overlay_metadata_fields,
};

static void overlay_finish(void *obj, Diagnostics *d);
static const SchemaField overlay_fields[] = {
        FIELD("type", SCHEMA_ENUM, Overlay, type, .required = true, .values = overlay_type_table),
        FIELD("description", SCHEMA_STRING, Overlay, description, .check = check_one_line),
        FIELD("tag", SCHEMA_STRING, Overlay, tag, .non_empty = true),
        FIELD("value", SCHEMA_STRING, Overlay, value),
        FIELD("section", SCHEMA_STRING, Overlay, section, .non_empty = true),
        FIELD("package", SCHEMA_STRING, Overlay, package, .non_empty = true),
        FIELD("regex", SCHEMA_STRING, Overlay, regex, .non_empty = true),
        FIELD("replacement", SCHEMA_STRING, Overlay, replacement),
        FIELD("lines", SCHEMA_STRING_ARRAY, Overlay, lines),
        FIELD("file", SCHEMA_STRING, Overlay, file, .non_empty = true),
        FIELD("archive", SCHEMA_STRING, Overlay, archive, .non_empty = true),
        FIELD("source", SCHEMA_STRING, Overlay, source, .non_empty = true),
        FIELD("metadata", SCHEMA_TABLE, Overlay, metadata, .sub = &overlay_metadata_schema),
        {},
};
static const Schema overlay_schema = {
        .what = "overlay",
        .size = sizeof(Overlay),
        .fields = overlay_fields,
        .finish = overlay_finish,
};

static const SchemaField distro_fields[] = {
        FIELD("dist-git", SCHEMA_STRING, UpstreamDefaults, dist_git, .check = check_url_template),
        FIELD("lookaside", SCHEMA_STRING, UpstreamDefaults, lookaside, .check = check_url_template),
        FIELD("branch", SCHEMA_STRING, UpstreamDefaults, branch, .check = check_branch),
        FIELD("release-mode", SCHEMA_ENUM, UpstreamDefaults, release_mode, .values = release_mode_table),
        FIELD("release-suffix", SCHEMA_STRING, UpstreamDefaults, release_suffix, .check = check_version),
        {},
};
static void upstream_defaults_finish(void *obj, Diagnostics *d);
static const Schema distro_schema = {
        .what = "distro",
        .size = sizeof(UpstreamDefaults),
        .fields = distro_fields,
        .finish = upstream_defaults_finish,
};

static const SchemaField group_fields[] = {
        FIELD("components", SCHEMA_STRING_ARRAY, UpstreamDefaults, components, .check = check_rpm_name),
        FIELD("dist-git", SCHEMA_STRING, UpstreamDefaults, dist_git, .check = check_url_template),
        FIELD("lookaside", SCHEMA_STRING, UpstreamDefaults, lookaside, .check = check_url_template),
        FIELD("branch", SCHEMA_STRING, UpstreamDefaults, branch, .check = check_branch),
        FIELD("release-mode", SCHEMA_ENUM, UpstreamDefaults, release_mode, .values = release_mode_table),
        FIELD("release-suffix", SCHEMA_STRING, UpstreamDefaults, release_suffix, .check = check_version),
        {},
};
static const Schema group_schema = {
        .what = "group",
        .size = sizeof(UpstreamDefaults),
        .name_offset = offsetof(UpstreamDefaults, name),
        .name_check = check_rpm_name,
        .fields = group_fields,
        .finish = upstream_defaults_finish,
};

static const SchemaField component_fields[] = {
        FIELD("spec", SCHEMA_STRING, Component, spec, .non_empty = true),
        FIELD("defines", SCHEMA_STRING_MAP, Component, defines),
        FIELD("host-inputs", SCHEMA_STRING_ARRAY, Component, host_inputs, .check = check_absolute_pattern),
        FIELD("epoch", SCHEMA_INTEGER, Component, epoch, .min = 0, .max = INT32_MAX),
        FIELD("version", SCHEMA_STRING, Component, version, .check = check_version),
        FIELD("release", SCHEMA_STRING, Component, release, .check = check_version),
        FIELD("summary", SCHEMA_STRING, Component, summary, .non_empty = true, .check = check_one_line),
        FIELD("description", SCHEMA_STRING, Component, description),
        FIELD("license", SCHEMA_STRING, Component, license, .non_empty = true, .check = check_one_line),
        FIELD("url", SCHEMA_STRING, Component, url, .check = check_one_line),
        FIELD("arch", SCHEMA_STRING, Component, arch, .check = check_package_arch),
        FIELD("requires", SCHEMA_STRING_ARRAY, Component, requires, .check = check_dependency),
        FIELD("provides", SCHEMA_STRING_ARRAY, Component, provides, .check = check_dependency),
        FIELD("conflicts", SCHEMA_STRING_ARRAY, Component, conflicts, .check = check_dependency),
        FIELD("obsoletes", SCHEMA_STRING_ARRAY, Component, obsoletes, .check = check_dependency),
        FIELD("files", SCHEMA_TABLE_ARRAY, Component, files, .sub = &component_file_schema),
        FIELD("scripts", SCHEMA_TABLE, Component, scripts, .sub = &component_scripts_schema),
        FIELD("file-triggers", SCHEMA_TABLE_ARRAY, Component, file_triggers, .sub = &file_trigger_schema),
        FIELD("payload", SCHEMA_STRING, Component, payload, .check = rpm_payload_check),
        FIELD("mode", SCHEMA_ENUM, Component, mode, .values = build_mode_table),
        FIELD("with", SCHEMA_STRING_ARRAY, Component, with, .check = check_bcond),
        FIELD("without", SCHEMA_STRING_ARRAY, Component, without, .check = check_bcond),
        FIELD("check-skip", SCHEMA_BOOL, Component, check_skip),
        FIELD("check-skip-reason", SCHEMA_STRING, Component, check_skip_reason, .non_empty = true,
              .check = check_one_line),
        FIELD("upstream-name", SCHEMA_STRING, Component, upstream_name, .check = check_rpm_name),
        FIELD("dist-git", SCHEMA_STRING, Component, dist_git, .check = check_url_template),
        FIELD("lookaside", SCHEMA_STRING, Component, lookaside, .check = check_url_template),
        FIELD("branch", SCHEMA_STRING, Component, branch, .check = check_branch),
        FIELD("commit", SCHEMA_STRING, Component, commit, .check = check_commit),
        FIELD("release-mode", SCHEMA_ENUM, Component, release_mode, .values = release_mode_table),
        FIELD("release-suffix", SCHEMA_STRING, Component, release_suffix, .check = check_version),
        FIELD("overlays", SCHEMA_TABLE_ARRAY, Component, overlays, .sub = &overlay_schema),
        FIELD("hardening-exceptions", SCHEMA_TABLE, Component, hardening_exceptions,
              .sub = &hardening_exceptions_schema),
        {},
};
static const Schema component_schema = {
        .what = "component",
        .size = sizeof(Component),
        .name_offset = offsetof(Component, name),
        .name_check = check_rpm_name,
        .fields = component_fields,
        .finish = component_finish,
};

static const SchemaField partition_fields[] = {
        FIELD("label", SCHEMA_STRING, Partition, label, .check = check_gpt_label),
        FIELD("type", SCHEMA_ENUM, Partition, type, .required = true, .values = partition_type_table),
        FIELD("size", SCHEMA_SIZE, Partition, size, .required = true, .allow_grow = true),
        FIELD("fs", SCHEMA_ENUM, Partition, fs, .values = fs_type_table),
        FIELD("mount", SCHEMA_STRING, Partition, mount, .check = check_abs_path),
        FIELD("verity", SCHEMA_BOOL, Partition, verity),
        {},
};
static const Schema partition_schema = {
        .what = "partition",
        .size = sizeof(Partition),
        .fields = partition_fields,
        .finish = partition_finish,
};

static const SchemaField user_fields[] = {
        FIELD("name", SCHEMA_STRING, User, name, .required = true, .check = check_account_name),
        FIELD("uid", SCHEMA_INTEGER, User, uid, .min = 0, .max = 2147483646),
        FIELD("gid", SCHEMA_INTEGER, User, gid, .min = 0, .max = 2147483646),
        FIELD("groups", SCHEMA_STRING_ARRAY, User, groups, .check = check_group_name),
        FIELD("password-hash", SCHEMA_STRING, User, password_hash, .check = check_password_hash),
        FIELD("ssh-keys", SCHEMA_STRING_ARRAY, User, ssh_keys),
        FIELD("home", SCHEMA_STRING, User, home, .check = check_abs_path),
        FIELD("shell", SCHEMA_STRING, User, shell, .check = check_abs_path),
        {},
};
static const Schema user_schema = {
        .what = "user",
        .size = sizeof(User),
        .fields = user_fields,
        .finish = user_finish,
};

static const SchemaField services_fields[] = {
        FIELD("enable", SCHEMA_STRING_ARRAY, Services, enable, .check = check_unit_name),
        FIELD("disable", SCHEMA_STRING_ARRAY, Services, disable, .check = check_unit_name),
        {},
};
static const Schema services_schema = {
        .what = "services",
        .size = sizeof(Services),
        .fields = services_fields,
};

static const SchemaField container_fields[] = {
        FIELD("entrypoint", SCHEMA_STRING_ARRAY, Container, entrypoint),
        FIELD("cmd", SCHEMA_STRING_ARRAY, Container, cmd),
        FIELD("env", SCHEMA_STRING_ARRAY, Container, env, .check = check_env),
        FIELD("labels", SCHEMA_STRING_MAP, Container, labels),
        FIELD("tag", SCHEMA_STRING, Container, tag, .check = check_tag),
        FIELD("user", SCHEMA_STRING, Container, user, .non_empty = true, .check = check_one_line),
        FIELD("workdir", SCHEMA_STRING, Container, workdir, .check = check_abs_path),
        {},
};
static const Schema container_schema = {
        .what = "container",
        .size = sizeof(Container),
        .fields = container_fields,
};

static const SchemaField image_fields[] = {
        FIELD("description", SCHEMA_STRING, Image, description),
        FIELD("formats", SCHEMA_STRING_ARRAY, Image, formats, .required = true, .non_empty = true,
              .check = check_format),
        FIELD("packages", SCHEMA_STRING_ARRAY, Image, packages, .required = true, .non_empty = true,
              .check = check_dependency),
        FIELD("hostname", SCHEMA_STRING, Image, hostname, .check = check_hostname),
        FIELD("kernel-cmdline", SCHEMA_STRING, Image, kernel_cmdline, .check = check_kernel_cmdline),
        FIELD("selinux", SCHEMA_ENUM, Image, selinux, .values = selinux_mode_table),
        FIELD("scriptlets", SCHEMA_ENUM, Image, scriptlets, .values = scriptlet_policy_table),
        FIELD("scriptlet-timeout", SCHEMA_INTEGER, Image, scriptlet_timeout, .min = 1, .max = 86400),
        FIELD("sbom", SCHEMA_ENUM, Image, sbom, .values = sbom_level_table),
        FIELD("boot", SCHEMA_ENUM, Image, boot, .values = boot_mode_table),
        FIELD("uki", SCHEMA_ENUM, Image, uki, .values = uki_mode_table),
        FIELD("platform", SCHEMA_ENUM, Image, platform, .values = image_platform_table),
        FIELD("size", SCHEMA_SIZE, Image, size),
        FIELD("initrd", SCHEMA_STRING, Image, initrd, .check = check_image_name),
        FIELD("install", SCHEMA_STRING, Image, install, .check = check_image_name),
        FIELD("partitions", SCHEMA_TABLE_ARRAY, Image, partitions, .sub = &partition_schema),
        FIELD("users", SCHEMA_TABLE_ARRAY, Image, users, .sub = &user_schema),
        FIELD("files", SCHEMA_TABLE_ARRAY, Image, files, .sub = &image_file_schema),
        FIELD("services", SCHEMA_TABLE, Image, services, .sub = &services_schema),
        FIELD("container", SCHEMA_TABLE, Image, container, .sub = &container_schema),
        {},
};
static const Schema image_schema = {
        .what = "image",
        .size = sizeof(Image),
        .name_offset = offsetof(Image, name),
        .name_check = check_image_name,
        .fields = image_fields,
        .finish = image_finish_outputs,
};

static const char *check_module_name(const char *s) {
        if (!*s || strlen(s) > 64 || !all_chars(s, "_-", true, false))
                return "a kernel module's name: letters, digits, '_' and '-'";
        return NULL;
}

static const SchemaField module_fields[] = {
        FIELD("name", SCHEMA_STRING, KernelModule, name, .required = true, .check = check_module_name),
        FIELD("load", SCHEMA_ENUM, KernelModule, load, .values = module_load_table),
        FIELD("options", SCHEMA_STRING, KernelModule, options, .check = check_one_line),
        {},
};
static const Schema module_schema = {
        .what = "module",
        .size = sizeof(KernelModule),
        .fields = module_fields,
};

static const SchemaField script_fields[] = {
        FIELD("name", SCHEMA_STRING, CustomizeScript, name, .non_empty = true, .check = check_one_line),
        FIELD("stage", SCHEMA_ENUM, CustomizeScript, stage, .values = script_stage_table),
        FIELD("path", SCHEMA_STRING, CustomizeScript, path, .non_empty = true),
        FIELD("content", SCHEMA_STRING, CustomizeScript, content),
        FIELD("interpreter", SCHEMA_STRING, CustomizeScript, interpreter, .check = check_abs_path),
        FIELD("args", SCHEMA_STRING_ARRAY, CustomizeScript, args),
        FIELD("env", SCHEMA_STRING_ARRAY, CustomizeScript, env, .check = check_env),
        {},
};
static const Schema script_schema = {
        .what = "script",
        .size = sizeof(CustomizeScript),
        .fields = script_fields,
        .finish = script_finish,
};

/* The keys of [images.NAME] that mean the same for a customization, then
 * its own. */
#define CUSTOMIZATION_FIELDS                                                                                        \
        FIELD("description", SCHEMA_STRING, Customization, im.description),                                        \
        FIELD("formats", SCHEMA_STRING_ARRAY, Customization, im.formats, .check = check_format),                    \
        FIELD("packages", SCHEMA_STRING_ARRAY, Customization, im.packages, .check = check_dependency),              \
        FIELD("hostname", SCHEMA_STRING, Customization, im.hostname, .check = check_hostname),                      \
        FIELD("kernel-cmdline", SCHEMA_STRING, Customization, im.kernel_cmdline, .check = check_kernel_cmdline),    \
        FIELD("selinux", SCHEMA_ENUM, Customization, im.selinux, .values = selinux_mode_table),                     \
        FIELD("scriptlets", SCHEMA_ENUM, Customization, im.scriptlets, .values = scriptlet_policy_table),           \
        FIELD("scriptlet-timeout", SCHEMA_INTEGER, Customization, im.scriptlet_timeout, .min = 1, .max = 86400),    \
        FIELD("size", SCHEMA_SIZE, Customization, im.size),                                                         \
        FIELD("partitions", SCHEMA_TABLE_ARRAY, Customization, im.partitions, .sub = &partition_schema),            \
        FIELD("users", SCHEMA_TABLE_ARRAY, Customization, im.users, .sub = &user_schema),                           \
        FIELD("files", SCHEMA_TABLE_ARRAY, Customization, im.files, .sub = &image_file_schema),                     \
        FIELD("services", SCHEMA_TABLE, Customization, im.services, .sub = &services_schema),                       \
        FIELD("remove", SCHEMA_STRING_ARRAY, Customization, remove, .check = check_rpm_name),                       \
        FIELD("update", SCHEMA_STRING_ARRAY, Customization, update, .check = check_rpm_name),                       \
        FIELD("update-existing", SCHEMA_BOOL, Customization, update_existing),                                      \
        FIELD("modules", SCHEMA_TABLE_ARRAY, Customization, modules, .sub = &module_schema),                        \
        FIELD("scripts", SCHEMA_TABLE_ARRAY, Customization, scripts, .sub = &script_schema),                        \
        FIELD("reset-uuids", SCHEMA_BOOL, Customization, reset_uuids),                                              \
        FIELD("history", SCHEMA_BOOL, Customization, history),                                                      \
        FIELD("sbom", SCHEMA_ENUM, Customization, im.sbom, .values = sbom_level_table)

static const SchemaField customization_fields[] = {
        FIELD("base", SCHEMA_STRING, Customization, base, .required = true, .non_empty = true),
        CUSTOMIZATION_FIELDS,
        {},
};
static const Schema customization_schema = {
        .what = "customization",
        .size = sizeof(Customization),
        .name_offset = offsetof(Customization, im.name),
        .name_check = check_image_name,
        .fields = customization_fields,
        .finish = customization_finish,
};

/* A standalone customization file: the same keys at the top level, and
 * its repositories. */
static const SchemaField customization_file_fields[] = {
        CUSTOMIZATION_FIELDS,
        FIELD("repos", SCHEMA_NAMED_TABLES, Customization, repos, .sub = &repo_schema),
        {},
};
static const Schema customization_file_schema = {
        .what = "customization",
        .size = sizeof(Customization),
        .fields = customization_file_fields,
        .finish = customization_finish,
};

static const SchemaField project_fields[] = {
        FIELD("project", SCHEMA_TABLE, Project, project, .required = true, .sub = &project_settings_schema),
        FIELD("signing", SCHEMA_TABLE, Project, signing, .sub = &signing_schema),
        FIELD("build", SCHEMA_TABLE, Project, build, .sub = &build_schema),
        FIELD("cache", SCHEMA_TABLE, Project, cache, .sub = &cache_schema),
        FIELD("slurm", SCHEMA_TABLE, Project, slurm, .sub = &slurm_schema),
        FIELD("hardening", SCHEMA_TABLE, Project, hardening, .sub = &hardening_schema),
        FIELD("repos", SCHEMA_NAMED_TABLES, Project, repos, .sub = &repo_schema),
        FIELD("components", SCHEMA_NAMED_TABLES, Project, components, .sub = &component_schema),
        FIELD("distro", SCHEMA_TABLE, Project, distro, .sub = &distro_schema),
        FIELD("groups", SCHEMA_NAMED_TABLES, Project, groups, .sub = &group_schema),
        FIELD("images", SCHEMA_NAMED_TABLES, Project, images, .sub = &image_schema),
        FIELD("customizations", SCHEMA_NAMED_TABLES, Project, customizations, .sub = &customization_schema),
        {},
};
static const Schema project_schema = {
        .what = "project",
        .size = sizeof(Project),
        .fields = project_fields,
};

/* ---- checks across keys -------------------------------------------------- */

static void file_spec_finish(void *obj, Diagnostics *d) {
        FileSpec *f = obj;
        if (!f->user)
                f->user = strdup("root");
        if (!f->group)
                f->group = strdup("root");
        if (!f->user || !f->group)
                d->oom = true;
}

static void file_trigger_finish(void *obj, Diagnostics *d) {
        FileTrigger *t = obj;
        const char *path = t->obj.path;

        if (!cfg_has(&t->obj, "priority"))
                t->priority = FILE_TRIGGER_DEFAULT_PRIORITY;
        if (!cfg_has(&t->obj, "program") && !(t->program = strdup("/bin/sh"))) {
                d->oom = true;
                return;
        }
        /* A program given but refused: its error is out, the body's rules
         * depend on it. */
        bool lua = t->program && strcmp(t->program, "<lua>") == 0;
        /* rpmbuild takes "-p PROGRAM" without a body (glibc's "-p
         * /sbin/ldconfig"), but a shell or Lua without a script does nothing. */
        if (t->program && !t->body && (lua || strcmp(t->program, "/bin/sh") == 0) && !cfg_has(&t->obj, "body")) {
                SourcePos pos = cfg_has(&t->obj, "program") ? cfg_pos(&t->obj, "program") : t->obj.pos;
                diag_error(d, &pos, "'%s' is missing the required key 'body': %s runs a script", path, t->program);
        }
        if (lua && t->body) {
                /* As rpmbuild checks a Lua scriptlet (rpmluaCheckScript()). */
                _cleanup_free_ char *why = NULL;
                int r = lua_script_check(t->body, &why);
                if (r == -ENOMEM)
                        d->oom = true;
                else if (r < 0) {
                        SourcePos pos = cfg_pos(&t->obj, "body");
                        diag_error(d, &pos, "key '%s.body': the Lua script does not compile: %s", path,
                                   why ? why : "unknown error");
                }
        }
        for (size_t i = 0; i < t->paths.n; i++)
                for (size_t k = 0; k < i; k++)
                        if (strcmp(t->paths.items[i], t->paths.items[k]) == 0) {
                                diag_error(d, &t->paths.pos[i], "key '%s.paths': '%s' is listed twice, first at %s:%u:%u",
                                           path, t->paths.items[i], t->paths.pos[k].file, t->paths.pos[k].line,
                                           t->paths.pos[k].column);
                                break;
                        }
}

static bool defines_binary_payload(const Component *c) {
        for (size_t i = 0; i < c->defines.n; i++)
                if (strcmp(c->defines.keys[i], "_binary_payload") == 0)
                        return true;
        return false;
}

const char *component_payload(const Project *p, const Component *c) {
        return c->payload ? c->payload : p->project.payload ? p->project.payload : RPM_PAYLOAD_DEFAULT;
}

const char *image_what(const Image *im, char buf[static IMAGE_WHAT_MAX]) {
        if (im->what)
                return im->what;
        snprintf(buf, IMAGE_WHAT_MAX, "image '%s'", im->name);
        return buf;
}

BuildMode component_build_mode(const Project *p, const Component *c) {
        if (cfg_has(&c->obj, "mode") && c->mode >= 0)
                return c->mode;
        return p->build.mode >= 0 ? p->build.mode : BUILD_MODE_HOST;
}

void project_buildroot_packages(const Project *p, const char *const **ret, size_t *ret_n) {
        static const char *const defaults[] = { BUILDROOT_DEFAULT_PACKAGES };
        if (cfg_has(&p->build.obj, "buildroot")) {
                *ret = (const char *const *) p->build.buildroot.items;
                *ret_n = p->build.buildroot.n;
        } else {
                *ret = defaults;
                *ret_n = ELEMENTSOF(defaults);
        }
}

/* Each define becomes rpmbuild --define 'NAME VALUE'. */
static void check_defines(const CfgObject *o, const StrMap *defines, const char *path, Diagnostics *d) {
        for (size_t i = 0; i < defines->n; i++) {
                const char *k = defines->keys[i], *v = defines->values[i];
                bool ok = (isalpha((unsigned char) k[0]) || k[0] == '_') && all_chars(k, "_", true, false);
                SourcePos pos = cfg_pos(o, "defines");
                if (!ok)
                        diag_error(d, &pos,
                                   "key '%s.defines': macro name '%s' is not valid: expected letters, digits and '_', "
                                   "not starting with a digit",
                                   path, k);
                else if (strchr(v, '\n'))
                        diag_error(d, &pos, "key '%s.defines': the value of '%s' must be a single line", path, k);
        }
}

static void build_finish(void *obj, Diagnostics *d) {
        BuildSettings *b = obj;
        check_defines(&b->obj, &b->defines, "build", d);
        for (size_t i = 0; i < b->host_evidence.n; i++) {
                SourcePos pos = cfg_pos(&b->obj, "host-evidence");
                const char *why = check_abs_path(b->host_evidence.values[i]);
                if (why)
                        diag_error(d, &pos, "key 'build.host-evidence': the file for '%s' is not valid: expected %s",
                                   b->host_evidence.keys[i], why);
                bool claimed = false;
                for (size_t k = 0; k < b->host_provides.n && !claimed; k++) {
                        const char *c = b->host_provides.items[k];
                        size_t l = strlen(b->host_evidence.keys[i]);
                        claimed = strncmp(c, b->host_evidence.keys[i], l) == 0 && (c[l] == 0 || c[l] == ' ');
                }
                if (!claimed)
                        diag_error(d, &pos,
                                   "key 'build.host-evidence': '%s' is not in host-provides; evidence is for a claim",
                                   b->host_evidence.keys[i]);
        }
}

static const char *const native_only_keys[] = { "epoch", "version", "release", "summary", "description", "license",
                                                "url", "arch", "requires", "provides", "conflicts", "obsoletes",
                                                "files", "scripts", "file-triggers", NULL };
static const char *const upstream_only_keys[] = { "upstream-name", "dist-git", "lookaside", "branch", "commit",
                                                  "release-mode", "release-suffix", "overlays", NULL };

static bool has_any(const CfgObject *o, const char *const *keys) {
        for (const char *const *k = keys; *k; k++)
                if (cfg_has(o, *k))
                        return true;
        return false;
}

static void refuse_keys(const Component *c, const char *const *keys, const char *why, Diagnostics *d) {
        for (const char *const *k = keys; *k; k++)
                if (cfg_has(&c->obj, *k)) {
                        SourcePos pos = cfg_pos(&c->obj, *k);
                        diag_error(d, &pos, "key '%s.%s': component '%s' %s", c->obj.path, *k, c->name, why);
                }
}

/* What spec and upstream components share: rpmbuild's settings. */
static void component_finish_rpmbuild(Component *c, Diagnostics *d) {
        const char *path = c->obj.path;
        check_defines(&c->obj, &c->defines, path, d);
        /* Two ways to say one thing: refuse rather than pick one. */
        if (c->payload && defines_binary_payload(c)) {
                SourcePos pos = cfg_pos(&c->obj, "payload"), dpos = cfg_pos(&c->obj, "defines");
                diag_error(d, &pos,
                           "key '%s.payload': component '%s' also defines '_binary_payload' at %s:%u:%u; "
                           "set one of them",
                           path, c->name, dpos.file, dpos.line, dpos.column);
        }
        for (size_t i = 0; i < c->with.n; i++)
                for (size_t k = 0; k < c->without.n; k++)
                        if (strcmp(c->with.items[i], c->without.items[k]) == 0)
                                diag_error(d, &c->without.pos[k],
                                           "key '%s.without': '%s' is also in 'with' at %s:%u:%u; a condition is "
                                           "either on or off",
                                           path, c->without.items[k], c->with.pos[i].file, c->with.pos[i].line,
                                           c->with.pos[i].column);
        if (c->check_skip && !c->check_skip_reason) {
                SourcePos pos = cfg_pos(&c->obj, "check-skip");
                diag_error(d, &pos, "key '%s.check-skip': component '%s' skips its tests; say why in 'check-skip-reason'",
                           path, c->name);
        }
        if (!c->check_skip && c->check_skip_reason) {
                SourcePos pos = cfg_pos(&c->obj, "check-skip-reason");
                diag_error(d, &pos, "key '%s.check-skip-reason': component '%s' does not set 'check-skip = true'",
                           path, c->name);
        }
}

static void component_finish(void *obj, Diagnostics *d) {
        Component *c = obj;
        const char *path = c->obj.path;

        /* Neither a spec nor a native key: an upstream component, whose
         * dist-git may come from its group or [distro]
         * (project_check_upstream() checks that one does). */
        if (!c->spec && !has_any(&c->obj, native_only_keys)) {
                c->kind = COMPONENT_UPSTREAM;
                component_finish_rpmbuild(c, d);
                if (cfg_has(&c->obj, "release-suffix") &&
                    !(cfg_has(&c->obj, "release-mode") && c->release_mode == RELEASE_SUFFIX)) {
                        SourcePos pos = cfg_pos(&c->obj, "release-suffix");
                        diag_error(d, &pos, "key '%s.release-suffix': component '%s' does not set release-mode = \"suffix\"",
                                   path, c->name);
                }
                return;
        }

        if (c->spec) {
                c->kind = COMPONENT_SPEC;
                component_finish_rpmbuild(c, d);
                refuse_keys(c, upstream_only_keys,
                            "is built from a local spec; this applies only to upstream (dist-git) components", d);
                for (const char *const *k = native_only_keys; *k; k++)
                        if (cfg_has(&c->obj, *k)) {
                                SourcePos pos = cfg_pos(&c->obj, *k);
                                diag_error(d, &pos,
                                           "key '%s.%s': component '%s' is built from a spec, which sets this; "
                                           "it applies only to native components",
                                           path, *k, c->name);
                        }
                return;
        }

        c->kind = COMPONENT_NATIVE;
        refuse_keys(c, upstream_only_keys,
                    "is native (it has native keys such as 'version'); this applies only to upstream (dist-git) "
                    "components",
                    d);
        static const char *const spec_only[] = { "with", "without", "check-skip", "check-skip-reason", NULL };
        refuse_keys(c, spec_only, "has no spec; slipway writes its package itself, with no rpmbuild", d);
        if (cfg_has(&c->obj, "host-inputs")) {
                SourcePos pos = cfg_pos(&c->obj, "host-inputs");
                diag_error(d, &pos,
                           "key '%s.host-inputs': component '%s' has no spec; a native component's inputs are its "
                           "'files'",
                           path, c->name);
        }
        if (cfg_has(&c->obj, "mode")) {
                SourcePos pos = cfg_pos(&c->obj, "mode");
                diag_error(d, &pos,
                           "key '%s.mode': component '%s' has no spec; slipway writes its package itself, with no "
                           "rpmbuild and no build root",
                           path, c->name);
        }
        if (cfg_has(&c->obj, "defines")) {
                SourcePos pos = cfg_pos(&c->obj, "defines");
                diag_error(d, &pos, "key '%s.defines': component '%s' has no spec, so there is nothing to define for",
                           path, c->name);
        }
        static const char *const required[] = { "version", "summary", "license", NULL };
        _cleanup_strbuf_ StrBuf missing = STRBUF_INIT;
        for (const char *const *k = required; *k; k++)
                if (!cfg_has(&c->obj, *k))
                        strbuf_printf(&missing, "%s'%s'", missing.len ? ", " : "", *k);
        if (missing.len)
                diag_error(d, &c->obj.pos,
                           "component '%s' has no 'spec', so slipway writes the package itself and needs "
                           "'version', 'summary' and 'license': missing %s",
                           c->name, missing.buf);
        if (!c->release && !(c->release = strdup("1")))
                d->oom = true;

        /* Two files at one path. */
        for (size_t i = 0; i < c->files.n; i++)
                for (size_t j = 0; j < i; j++) {
                        const FileSpec *a = &c->files.items[j], *b = &c->files.items[i];
                        if (a->path && b->path && strcmp(a->path, b->path) == 0) {
                                SourcePos pos = cfg_pos(&b->obj, "path");
                                SourcePos first = cfg_pos(&a->obj, "path");
                                diag_error(d, &pos, "component '%s': path '%s' is packaged twice, first at %s:%u:%u",
                                           c->name, b->path, first.file, first.line, first.column);
                                break;
                        }
                }
}

/* Which keys each overlay type needs ("+") and allows ("?"), azldev's
 * table (docs/upstream.md, "Overlays"); description and metadata go
 * everywhere. */
static const struct {
        const char *key;
        const char *rule; /* one character per OverlayType, in table order */
} overlay_rules[] = {
        /*                         spec add/ins/set/upd/rm, pre/app/sr, rm-sec/sub, patch+/-, file pre/sr/add/rm/ren */
        { "tag",         "+++++" "..." "..." ".." "....." },
        { "value",       "++++?" "..." "..." ".." "....." },
        { "section",     "....." "???" "+." ".." "....." },
        { "package",     "?????" "???" "?+" ".." "....." },
        { "regex",       "....." "..+" ".." ".." ".+..." },
        { "replacement", "....." "..?" ".." ".." ".?..+" },
        { "lines",       "....." "++." ".." ".." "+...." },
        { "file",        "....." "..." ".." "?+" "+++++" },
        { "archive",     "....." "..." ".." ".." ".?.?." },
        { "source",      "....." "..." ".." "+." "..+.." },
};

static void overlay_finish(void *obj, Diagnostics *d) {
        Overlay *o = obj;
        const char *path = o->obj.path;
        if (o->type < 0 || o->type >= _OVERLAY_TYPE_MAX)
                return;
        const char *type = overlay_type_to_string(o->type);
        for (size_t i = 0; i < ELEMENTSOF(overlay_rules); i++) {
                char rule = overlay_rules[i].rule[o->type];
                const char *key = overlay_rules[i].key;
                if (rule == '+' && !cfg_has(&o->obj, key))
                        diag_error(d, &o->obj.pos, "%s: a '%s' overlay needs '%s'", path, type, key);
                else if (rule == '.' && cfg_has(&o->obj, key)) {
                        SourcePos pos = cfg_pos(&o->obj, key);
                        diag_error(d, &pos, "key '%s.%s': a '%s' overlay takes no '%s'", path, key, type, key);
                }
        }
        /* A sub-package qualifies a section: without one the whole spec is meant. */
        if (o->package && !o->section &&
            (o->type == OVERLAY_SPEC_PREPEND_LINES || o->type == OVERLAY_SPEC_APPEND_LINES ||
             o->type == OVERLAY_SPEC_SEARCH_REPLACE)) {
                SourcePos pos = cfg_pos(&o->obj, "package");
                diag_error(d, &pos, "key '%s.package': a '%s' overlay names a sub-package only together with 'section'",
                           path, type);
        }
        if (o->section && o->section[0] != '%') {
                SourcePos pos = cfg_pos(&o->obj, "section");
                diag_error(d, &pos, "key '%s.section': '%s' is not a spec section: expected a name such as \"%%build\"",
                           path, o->section);
        }
        if (o->type == OVERLAY_FILE_RENAME && o->replacement && (strchr(o->replacement, '/') || !o->replacement[0])) {
                SourcePos pos = cfg_pos(&o->obj, "replacement");
                diag_error(d, &pos, "key '%s.replacement': a '%s' overlay's replacement is a file name, not a path",
                           path, type);
        }
        if (o->file && (o->file[0] == '/' || has_dotdot(o->file))) {
                SourcePos pos = cfg_pos(&o->obj, "file");
                diag_error(d, &pos, "key '%s.file': '%s' must be relative to the sources, without '..'", path, o->file);
        }
        if (o->type == OVERLAY_PATCH_ADD || o->type == OVERLAY_FILE_ADD) {
                /* One name in the sources, not a pattern. */
                if (o->file && (strpbrk(o->file, "*?[") || strchr(o->file, '/'))) {
                        SourcePos pos = cfg_pos(&o->obj, "file");
                        diag_error(d, &pos, "key '%s.file': a '%s' overlay's file is one file name, not a pattern or path",
                                   path, type);
                }
        }
        if (o->regex) {
                int err;
                PCRE2_SIZE off;
                pcre2_code *re = pcre2_compile((PCRE2_SPTR) o->regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MULTILINE,
                                               &err, &off, NULL);
                if (!re) {
                        PCRE2_UCHAR msg[256];
                        pcre2_get_error_message(err, msg, sizeof msg);
                        SourcePos pos = cfg_pos(&o->obj, "regex");
                        diag_error(d, &pos, "key '%s.regex': the regular expression does not compile: %s at offset %zu",
                                   path, (const char *) msg, (size_t) off);
                } else
                        pcre2_code_free(re);
        }
}

static void upstream_defaults_finish(void *obj, Diagnostics *d) {
        UpstreamDefaults *u = obj;
        if (cfg_has(&u->obj, "release-suffix") && !(cfg_has(&u->obj, "release-mode") && u->release_mode == RELEASE_SUFFIX)) {
                SourcePos pos = cfg_pos(&u->obj, "release-suffix");
                diag_error(d, &pos, "key '%s.release-suffix': release-mode is not \"suffix\"", u->obj.path);
        }
        if (cfg_has(&u->obj, "release-mode") && u->release_mode == RELEASE_SUFFIX && !u->release_suffix) {
                SourcePos pos = cfg_pos(&u->obj, "release-mode");
                diag_error(d, &pos, "key '%s.release-mode': \"suffix\" needs 'release-suffix'", u->obj.path);
        }
}

/* Groups name their members; an upstream component needs a dist-git from
 * itself, its group or [distro]. */
static void project_check_upstream(Project *p, Diagnostics *d) {
        for (size_t g = 0; g < p->groups.n; g++) {
                const UpstreamDefaults *grp = &p->groups.items[g];
                for (size_t k = 0; k < grp->components.n; k++) {
                        const char *name = grp->components.items[k];
                        Component *c = NULL;
                        for (size_t i = 0; i < p->components.n && !c; i++)
                                if (strcmp(p->components.items[i].name, name) == 0)
                                        c = &p->components.items[i];
                        if (!c) {
                                diag_error(d, &grp->components.pos[k], "group '%s': component '%s' is not defined",
                                           grp->name, name);
                                continue;
                        }
                        if (c->group && c->group != grp) {
                                SourcePos first = cfg_pos(&c->group->obj, "components");
                                diag_error(d, &grp->components.pos[k],
                                           "group '%s': component '%s' is already in group '%s' (%s:%u:%u); a component "
                                           "belongs to one group",
                                           grp->name, name, c->group->name, first.file, first.line, first.column);
                                continue;
                        }
                        c->group = grp;
                }
        }
        for (size_t i = 0; i < p->components.n; i++) {
                Component *c = &p->components.items[i];
                if (c->kind != COMPONENT_UPSTREAM)
                        continue;
                if (!c->dist_git && !(c->group && c->group->dist_git) && !p->distro.dist_git)
                        diag_error(d, &c->obj.pos,
                                   "component '%s' has no 'spec', no native keys ('version', 'summary', 'license') and "
                                   "no 'dist-git' (of its own, its group's or [distro]'s): say where it comes from",
                                   c->name);
                ReleaseMode m = cfg_has(&c->obj, "release-mode")                                ? c->release_mode
                                : c->group && cfg_has(&c->group->obj, "release-mode")           ? c->group->release_mode
                                : cfg_has(&p->distro.obj, "release-mode")                       ? p->distro.release_mode
                                                                                                : RELEASE_BUMP;
                if (m == RELEASE_SUFFIX && !c->release_suffix && !(c->group && c->group->release_suffix) &&
                    !p->distro.release_suffix)
                        diag_error(d, &c->obj.pos, "component '%s': release-mode \"suffix\" needs 'release-suffix'",
                                   c->name);
        }
}

static void repo_finish(void *obj, Diagnostics *d) {
        Repo *r = obj;
        if (!cfg_has(&r->obj, "gpgcheck"))
                r->gpgcheck = true;
        if (r->gpgcheck && !r->gpg_key)
                diag_error(d, &r->obj.pos,
                           "repository '%s' needs 'gpg-key' (or 'gpgcheck = false' to take its packages unchecked)",
                           r->name);
}

static void partition_finish(void *obj, Diagnostics *d) {
        static const char *const default_mount[_PARTITION_TYPE_MAX] = {
                [PARTITION_ESP] = "/boot/efi", [PARTITION_XBOOTLDR] = "/boot", [PARTITION_ROOT] = "/",
                [PARTITION_HOME] = "/home",    [PARTITION_SRV] = "/srv",       [PARTITION_VAR] = "/var",
                [PARTITION_TMP] = "/tmp",      [PARTITION_USR] = "/usr",
        };
        Partition *p = obj;
        const char *path = p->obj.path;

        /* An invalid type or fs was reported already; checks built on it
         * would only add noise. */
        if (p->type < 0 || (p->fs < 0 && cfg_has(&p->obj, "fs")))
                return;
        if (!cfg_has(&p->obj, "fs"))
                p->fs = p->type == PARTITION_ESP || p->type == PARTITION_XBOOTLDR ? FS_VFAT
                        : p->type == PARTITION_SWAP                              ? FS_NONE
                                                                                  : FS_EXT4;
        if (!p->mount && p->fs != FS_NONE && default_mount[p->type] && !(p->mount = strdup(default_mount[p->type])))
                d->oom = true;

        SourcePos fpos = cfg_pos(&p->obj, "fs");
        if ((p->type == PARTITION_ESP || p->type == PARTITION_XBOOTLDR) && p->fs != FS_VFAT)
                diag_error(d, &fpos, "key '%s.fs': an %s partition must be vfat", path,
                           partition_type_to_string(p->type));
        if (p->type == PARTITION_SWAP && p->fs != FS_NONE)
                diag_error(d, &fpos, "key '%s.fs': a swap partition takes fs = \"none\"", path);
        if (p->type == PARTITION_ROOT && p->mount && strcmp(p->mount, "/") != 0) {
                SourcePos mpos = cfg_pos(&p->obj, "mount");
                diag_error(d, &mpos, "key '%s.mount': the root partition must be mounted at '/'", path);
        }
        if (p->type == PARTITION_ROOT && p->fs == FS_NONE)
                diag_error(d, &fpos, "key '%s.fs': the root partition needs a filesystem", path);
        if (p->fs == FS_NONE && cfg_has(&p->obj, "mount")) {
                SourcePos mpos = cfg_pos(&p->obj, "mount");
                diag_error(d, &mpos, "key '%s.mount': a partition without a filesystem cannot be mounted", path);
        }
        if (p->size != CFG_SIZE_GROW && p->size % (1024 * 1024) != 0) {
                SourcePos spos = cfg_pos(&p->obj, "size");
                diag_error(d, &spos, "key '%s.size': partitions are sized in whole MiB", path);
        }
        /* dm-verity: the root or /usr file system, which the initrd (or
         * systemd-veritysetup) opens read-only before anything mounts it. */
        if (p->verity) {
                SourcePos vpos = cfg_pos(&p->obj, "verity");
                if (p->fs != FS_EXT4)
                        diag_error(d, &vpos, "key '%s.verity': dm-verity protects an ext4 file system, not fs = \"%s\"",
                                   path, fs_type_to_string(p->fs));
                else if (!p->mount || (strcmp(p->mount, "/") != 0 && strcmp(p->mount, "/usr") != 0))
                        diag_error(d, &vpos, "key '%s.verity': only the partition mounted at '/' or '/usr' can be "
                                             "verity-protected, not '%s'",
                                   path, p->mount ? p->mount : "(none)");
        }
}

static void user_finish(void *obj, Diagnostics *d) {
        User *u = obj;
        if (!u->name)
                return;
        /* Every image has root at uid 0 (from its packages, or made by
         * slipway without them): an account is not moved, nor is uid 0 shared. */
        if (cfg_has(&u->obj, "uid") && (strcmp(u->name, "root") == 0) != (u->uid == 0)) {
                SourcePos pos = cfg_pos(&u->obj, "uid");
                if (u->uid == 0)
                        diag_error(d, &pos, "key '%s.uid': uid 0 is root's; user '%s' needs another one", u->obj.path,
                                   u->name);
                else
                        diag_error(d, &pos, "key '%s.uid': root's uid is 0, not %" PRId64, u->obj.path, u->uid);
        }
        if (!u->home && asprintf(&u->home, "/home/%s", u->name) < 0) {
                u->home = NULL;
                d->oom = true;
        }
        if (!u->shell && !(u->shell = strdup("/bin/bash")))
                d->oom = true;
}

/* The metacharacters, quotes and comment sign of GRUB's script lexer. */
#define GRUB_CFG_SPECIAL "{}|&$;<>'\"#\\"
#define GRUB_CFG_SPECIAL_SHOWN "{ } | & $ ; < > ' \" # \\"

static void image_finish(void *obj, Diagnostics *d) {
        Image *im = obj;
        const char *path = im->obj.path;

        im->format_mask = 0;
        for (size_t i = 0; i < im->formats.n; i++) {
                ImageFormat f = image_format_from_string(im->formats.items[i]);
                if (f < 0)
                        continue;
                if (im->format_mask & (1u << f))
                        diag_error(d, &im->formats.pos[i], "key '%s.formats': '%s' is listed twice", path,
                                   im->formats.items[i]);
                im->format_mask |= 1u << f;
        }

        if (im->size != 0 && im->size % (1024 * 1024) != 0) {
                SourcePos pos = cfg_pos(&im->obj, "size");
                diag_error(d, &pos, "key '%s.size': disk sizes are whole MiB (Azure requires it of VHDs)", path);
        }

        /* Partitions: one root, at most one that grows, one per mount point. */
        size_t roots = 0, invalid = 0;
        const Partition *first_root = NULL, *first_grow = NULL;
        for (size_t i = 0; i < im->partitions.n; i++) {
                const Partition *p = &im->partitions.items[i];
                if (p->type < 0) {
                        invalid++;
                        continue;
                }
                if (p->type == PARTITION_ROOT) {
                        if (first_root) {
                                SourcePos pos = cfg_pos(&p->obj, "type"), fpos = cfg_pos(&first_root->obj, "type");
                                diag_error(d, &pos, "image '%s': a second partition of type \"root\", the first is at %s:%u:%u",
                                           im->name, fpos.file, fpos.line, fpos.column);
                        } else
                                first_root = p;
                        roots++;
                }
                if (p->size == CFG_SIZE_GROW) {
                        if (first_grow) {
                                SourcePos pos = cfg_pos(&p->obj, "size");
                                SourcePos fpos = cfg_pos(&first_grow->obj, "size");
                                diag_error(d, &pos, "image '%s': only one partition can have size = \"grow\", the first is at %s:%u:%u",
                                           im->name, fpos.file, fpos.line, fpos.column);
                        } else
                                first_grow = p;
                }
                if (p->fs >= 0 && p->fs != FS_NONE && !p->mount && p->type != PARTITION_SWAP)
                        diag_error(d, &p->obj.pos, "image '%s': a '%s' partition with a filesystem needs 'mount'",
                                   im->name, partition_type_to_string(p->type));
                for (size_t j = 0; j < i; j++) {
                        const Partition *q = &im->partitions.items[j];
                        if (p->mount && q->mount && strcmp(p->mount, q->mount) == 0) {
                                SourcePos pos = cfg_pos(&p->obj, "mount");
                                if (!cfg_has(&p->obj, "mount"))
                                        pos = p->obj.pos;
                                diag_error(d, &pos, "image '%s': two partitions are mounted at '%s'", im->name, p->mount);
                                break;
                        }
                }
        }
        if (im->partitions.n > 0 && roots == 0 && invalid == 0) {
                SourcePos pos = cfg_pos(&im->obj, "partitions");
                diag_error(d, &pos, "image '%s': the partitions need one of type \"root\"", im->name);
        }

        /* Users: unique names and uids. */
        for (size_t i = 0; i < im->users.n; i++)
                for (size_t j = 0; j < i; j++) {
                        const User *a = &im->users.items[j], *b = &im->users.items[i];
                        if (a->name && b->name && strcmp(a->name, b->name) == 0) {
                                SourcePos pos = cfg_pos(&b->obj, "name"), first = cfg_pos(&a->obj, "name");
                                diag_error(d, &pos, "image '%s': user '%s' is defined twice, first at %s:%u:%u",
                                           im->name, b->name, first.file, first.line, first.column);
                                break;
                        }
                        if (a->name && b->name && cfg_has(&a->obj, "uid") && cfg_has(&b->obj, "uid") &&
                            a->uid == b->uid) {
                                SourcePos pos = cfg_pos(&b->obj, "uid");
                                diag_error(d, &pos, "image '%s': users '%s' and '%s' have the same uid %lld", im->name,
                                           a->name, b->name, (long long) b->uid);
                                break;
                        }
                }

        /* Services: not both enabled and disabled. */
        for (size_t i = 0; i < im->services.enable.n; i++)
                for (size_t j = 0; j < im->services.disable.n; j++)
                        if (strcmp(im->services.enable.items[i], im->services.disable.items[j]) == 0)
                                diag_error(d, &im->services.disable.pos[j], "image '%s': '%s' is both enabled and disabled",
                                           im->name, im->services.enable.items[i]);

        /* Image files: one path once. */
        for (size_t i = 0; i < im->files.n; i++)
                for (size_t j = 0; j < i; j++) {
                        const FileSpec *a = &im->files.items[j], *b = &im->files.items[i];
                        if (a->path && b->path && strcmp(a->path, b->path) == 0) {
                                SourcePos pos = cfg_pos(&b->obj, "path"), first = cfg_pos(&a->obj, "path");
                                diag_error(d, &pos, "image '%s': path '%s' is given twice, first at %s:%u:%u", im->name,
                                           b->path, first.file, first.line, first.column);
                                break;
                        }
                }

        /* GRUB reads its grub.cfg like a shell script: these would be
         * expanded, split or quoted away from the kernel's command line. */
        if (im->kernel_cmdline && (im->boot == BOOT_BIOS || im->boot == BOOT_HYBRID) &&
            (im->format_mask & IMAGE_FORMATS_DISK)) {
                const char *c = im->kernel_cmdline + strcspn(im->kernel_cmdline, GRUB_CFG_SPECIAL);
                if (*c) {
                        SourcePos pos = cfg_pos(&im->obj, "kernel-cmdline");
                        diag_error(d, &pos,
                                   "key '%s.kernel-cmdline': '%c' is not allowed in the command line of a disk that "
                                   "boots with GRUB (boot = \"%s\"): grub.cfg would interpret it; none of "
                                   GRUB_CFG_SPECIAL_SHOWN,
                                   path, *c, boot_mode_to_string(im->boot));
                }
        }

        /* Before scriptlets ran, "warn" and "fail" said what to do about
         * packages that had them; they now run. */
        if (im->scriptlets == _SCRIPTLETS_OLD_WARN || im->scriptlets == _SCRIPTLETS_OLD_FAIL) {
                bool fail = im->scriptlets == _SCRIPTLETS_OLD_FAIL;
                SourcePos pos = cfg_pos(&im->obj, "scriptlets");
                diag_warning(d, &pos,
                             "key '%s.scriptlets': \"%s\" is from before slipway ran scriptlets; they run now, and it is "
                             "read as \"%s\" (\"run\": failures as rpm treats them, \"strict\": every failure is an "
                             "error, \"skip\": not run)",
                             path, fail ? "fail" : "warn", fail ? "strict" : "run");
                im->scriptlets = fail ? SCRIPTLETS_STRICT : SCRIPTLETS_RUN;
        }

}

/* What only an image's outputs make matter. */
static void image_finish_outputs(void *obj, Diagnostics *d) {
        Image *im = obj;
        const char *path = im->obj.path;
        image_finish(obj, d);
        if (im->container.obj.n_tables > 0 && !(im->format_mask & (1u << IMAGE_FORMAT_OCI)))
                diag_warning(d, &im->container.obj.pos, "image '%s': [%s.container] has no effect without the \"oci\" format",
                             im->name, path);
        if (im->partitions.n > 0 && !(im->format_mask & IMAGE_FORMATS_DISK))
                diag_warning(d, &im->obj.pos, "image '%s': partitions have no effect without a disk format (raw, vhd, vhdx, qcow2)",
                             im->name);
        /* Microsoft's "Build a Custom Linux Distribution for WSL": no password
         * hashes in /etc/shadow (the wsl writer leaves them out). */
        if (im->format_mask & (1u << IMAGE_FORMAT_WSL))
                for (size_t i = 0; i < im->users.n; i++)
                        if (im->users.items[i].password_hash) {
                                SourcePos pos = cfg_pos(&im->users.items[i].obj, "password-hash");
                                diag_warning(d, &pos,
                                             "image '%s': user '%s': the wsl output leaves out its password-hash (a WSL "
                                             "distribution ships no password hashes; the account is locked there)",
                                             im->name, im->users.items[i].name);
                        }
}

static void script_finish(void *obj, Diagnostics *d) {
        CustomizeScript *s = obj;
        if (!!s->path == !!s->content)
                diag_error(d, &s->obj.pos, "a script needs exactly one of 'path' and 'content'");
}

static void customization_finish(void *obj, Diagnostics *d) {
        Customization *c = obj;
        /* What image_finish() checks of the shared keys holds here too. */
        image_finish(&c->im, d);
        if (!cfg_has(&c->im.obj, "history"))
                c->history = true;
        for (size_t i = 0; i < c->modules.n; i++)
                for (size_t j = 0; j < i; j++)
                        if (c->modules.items[i].name && c->modules.items[j].name &&
                            strcmp(c->modules.items[i].name, c->modules.items[j].name) == 0) {
                                SourcePos pos = cfg_pos(&c->modules.items[i].obj, "name");
                                diag_error(d, &pos, "customization '%s': module '%s' is given twice", c->im.name,
                                           c->modules.items[i].name);
                                break;
                        }
        for (size_t i = 0; i < c->remove.n; i++)
                for (size_t j = 0; j < c->im.packages.n; j++)
                        if (strcmp(c->remove.items[i], c->im.packages.items[j]) == 0)
                                diag_error(d, &c->remove.pos[i],
                                           "customization '%s': '%s' is both installed ('packages') and removed",
                                           c->im.name, c->remove.items[i]);
}

/* ---- the loader ------------------------------------------------------------- */

Project *project_free(Project *p) {
        if (!p)
                return NULL;
        schema_release(&project_schema, p);
        for (size_t i = 0; i < p->n_docs; i++)
                toml_document_free(p->docs[i]);
        free(p->docs);
        free(p->dir);
        free(p->arch);
        free(p);
        return NULL;
}

char *project_path(const Project *p, const char *path) {
        return path_join(p->dir, path);
}

const Component *project_find_component(const Project *p, const char *name) {
        for (size_t i = 0; i < p->components.n; i++)
                if (strcmp(p->components.items[i].name, name) == 0)
                        return &p->components.items[i];
        return NULL;
}

const Customization *project_find_customization(const Project *p, const char *name) {
        for (size_t i = 0; i < p->customizations.n; i++)
                if (strcmp(p->customizations.items[i].im.name, name) == 0)
                        return &p->customizations.items[i];
        return NULL;
}

const Image *project_find_image(const Project *p, const char *name) {
        for (size_t i = 0; i < p->images.n; i++)
                if (strcmp(p->images.items[i].name, name) == 0)
                        return &p->images.items[i];
        return NULL;
}

static int project_add_doc(Project *p, TomlDocument *doc) {
        TomlDocument **docs = realloc(p->docs, (p->n_docs + 1) * sizeof *docs);
        if (!docs) {
                toml_document_free(doc);
                return -ENOMEM;
        }
        docs[p->n_docs++] = doc;
        p->docs = docs;
        return 0;
}

/* Parses one file and merges it into p. Syntax errors go to d and are not
 * fatal for the other files. */
static int project_read_file(Project *p, const char *path, bool top, Diagnostics *d) {
        TomlDocument *doc = NULL;
        int r;

        r = toml_parse_file(path, NULL, d, &doc);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        r = project_add_doc(p, doc);
        if (r < 0)
                return r;

        if (!top) {
                const TomlValue *pt = toml_table_get(doc->root, "project");
                const TomlEntry *inc = pt && pt->type == TOML_TABLE ? toml_table_entry(pt, "includes") : NULL;
                if (inc) {
                        /* Nested includes are not supported: say so once and
                         * leave the file out rather than merge half of it. */
                        diag_error(d, &inc->key_pos, "key 'project.includes' is only allowed in slipway.toml");
                        return 0;
                }
        }
        return schema_apply(&project_schema, p, doc->root, NULL, d);
}

/* Rejects what glob(3) would silently take literally: an unterminated '['. */
static const char *glob_problem(const char *pattern) {
        for (const char *s = pattern; *s; s++) {
                if (*s == '\\' && s[1]) {
                        s++;
                        continue;
                }
                if (*s == '[') {
                        const char *e = s + 1;
                        if (*e == '!' || *e == '^')
                                e++;
                        if (*e == ']')
                                e++;
                        e = strchr(e, ']');
                        if (!e)
                                return "unterminated '[' in the pattern";
                        s = e;
                }
        }
        if (strstr(pattern, "**"))
                return "'**' is not supported: name each directory level";
        return NULL;
}

static bool has_wildcard(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

static int project_read_includes(Project *p, Diagnostics *d) {
        const ProjectSettings *ps = &p->project;
        _cleanup_free_ char *top = NULL;
        char **seen = NULL;
        size_t n_seen = 0;
        int r = 0;

        top = realpath(p->docs[0]->filename, NULL);

        /* The includes list belongs to slipway.toml; included files that set
         * it are rejected before they are merged, so it stays put while we
         * iterate. */
        for (size_t i = 0; i < ps->includes.n && r >= 0; i++) {
                const char *pattern = ps->includes.items[i];
                SourcePos pos = ps->includes.pos[i];
                const char *problem = glob_problem(pattern);
                if (problem) {
                        diag_error(d, &pos, "key 'project.includes': bad glob '%s': %s", pattern, problem);
                        continue;
                }

                _cleanup_free_ char *full = project_path(p, pattern);
                if (!full) {
                        r = -ENOMEM;
                        break;
                }
                glob_t g = {};
                int gr = glob(full, GLOB_ERR | GLOB_MARK, NULL, &g);
                if (gr == GLOB_NOSPACE) {
                        globfree(&g);
                        r = -ENOMEM;
                        break;
                }
                if (gr == GLOB_NOMATCH || gr == GLOB_ABORTED) {
                        if (has_wildcard(pattern))
                                diag_warning(d, &pos, "key 'project.includes': '%s' matches no file", pattern);
                        else
                                diag_error(d, &pos, "key 'project.includes': included file '%s' does not exist",
                                           pattern);
                        globfree(&g);
                        continue;
                }
                for (size_t k = 0; k < g.gl_pathc && r >= 0; k++) {
                        const char *m = g.gl_pathv[k];
                        size_t ml = strlen(m);
                        if (ml > 0 && m[ml - 1] == '/') {
                                if (!has_wildcard(pattern))
                                        diag_error(d, &pos, "key 'project.includes': '%s' is a directory", pattern);
                                continue;
                        }
                        _cleanup_free_ char *real = realpath(m, NULL);
                        if (!real) {
                                r = -ENOMEM;
                                break;
                        }
                        if (top && strcmp(real, top) == 0) {
                                diag_error(d, &pos, "key 'project.includes': '%s' includes slipway.toml itself",
                                           pattern);
                                continue;
                        }
                        bool dup = false;
                        for (size_t s = 0; s < n_seen; s++)
                                if (strcmp(seen[s], real) == 0)
                                        dup = true;
                        if (dup)
                                continue;
                        char **ns = realloc(seen, (n_seen + 1) * sizeof *ns);
                        if (!ns) {
                                r = -ENOMEM;
                                break;
                        }
                        seen = ns;
                        seen[n_seen++] = TAKE_PTR(real);

                        /* Positions use the path as the user would type it. */
                        const char *shown = m;
                        if (strncmp(m, "./", 2) == 0)
                                shown = m + 2;
                        r = project_read_file(p, shown, false, d);
                }
                globfree(&g);
        }

        for (size_t s = 0; s < n_seen; s++)
                free(seen[s]);
        free(seen);
        return r;
}

/* Files named by the configuration must exist: the user learns of a typo now,
 * not halfway through a build. */
static time_t *walk_newest; /* nftw() has no user pointer */

static int walk_mtime(const char *fpath, const struct stat *st, int type, struct FTW *ftw) {
        if (st->st_mtime > *walk_newest)
                *walk_newest = st->st_mtime;
        return 0;
}

/* The newest modification time of path and, for a directory, everything in it. */
static void newest_mtime(const char *path, time_t *newest) {
        walk_newest = newest;
        (void) nftw(path, walk_mtime, 16, FTW_PHYS);
}

static void check_file(const Project *p, const CfgObject *o, const char *key, const char *path, const char *what,
                       bool dir_ok, Diagnostics *d, time_t *newest) {
        _cleanup_free_ char *full = project_path(p, path);
        struct stat st;
        if (!full) {
                d->oom = true;
                return;
        }
        SourcePos pos = cfg_pos(o, key);
        if (stat(full, &st) < 0) {
                /* Written in an included file, a path is still relative to the
                 * project directory: say so, it is the likely mistake. */
                bool hint = path[0] != '/' && pos.file && p->n_docs > 0 && strcmp(pos.file, p->docs[0]->filename) != 0;
                diag_error(d, &pos, "%s '%s' does not exist%s", what, path,
                           hint ? " (paths are relative to the project directory)" : "");
                return;
        }
        if (!dir_ok && S_ISDIR(st.st_mode)) {
                diag_error(d, &pos, "%s '%s' is a directory, not a file", what, path);
                return;
        }
        if (newest)
                newest_mtime(full, newest);
}

static void check_file_list(const Project *p, const CfgObject *o, const char *key, const StrList *l, const char *what,
                            Diagnostics *d, time_t *newest) {
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *full = project_path(p, l->items[i]);
                struct stat st;
                if (!full) {
                        d->oom = true;
                        return;
                }
                bool missing = stat(full, &st) < 0;
                if (missing || S_ISDIR(st.st_mode)) {
                        bool is_dir = !missing;
                        diag_error(d, &l->pos[i], "%s '%s' %s", what, l->items[i], is_dir ? "is a directory, not a file" : "does not exist");
                } else if (newest && st.st_mtime > *newest)
                        *newest = st.st_mtime;
        }
}

/* [signing] secure-boot-key and secure-boot-cert: both or neither, an RSA
 * key of 2048 bits or more and the certificate of its public key. */
static void check_secure_boot_keys(const Project *p, Diagnostics *d) {
        const Signing *s = &p->signing;
        if (!s->secure_boot_key != !s->secure_boot_cert) {
                const char *given = s->secure_boot_key ? "secure-boot-key" : "secure-boot-cert";
                SourcePos pos = cfg_pos(&s->obj, given);
                diag_error(d, &pos, "[signing] %s is set but %s is not: Secure Boot signing needs both the key and "
                           "its certificate", given, s->secure_boot_key ? "secure-boot-cert" : "secure-boot-key");
                return;
        }
        if (!s->secure_boot_key)
                return;
        size_t errors = d->n_errors + d->dropped;
        check_file(p, &s->obj, "secure-boot-key", s->secure_boot_key, "Secure Boot key", false, d, NULL);
        check_file(p, &s->obj, "secure-boot-cert", s->secure_boot_cert, "Secure Boot certificate", false, d, NULL);
        if (d->n_errors + d->dropped != errors || d->oom)
                return;
        _cleanup_free_ char *kp = project_path(p, s->secure_boot_key), *cp = project_path(p, s->secure_boot_cert);
        SbKey *k = NULL;
        int which = 0;
        const char *why = NULL;
        if (!kp || !cp) {
                d->oom = true;
                return;
        }
        int r = sb_key_load(kp, cp, &k, &which, &why);
        if (r == -ENOMEM) {
                d->oom = true;
                return;
        }
        if (r < 0) {
                SourcePos pos = cfg_pos(&s->obj, which ? "secure-boot-cert" : "secure-boot-key");
                diag_error(d, &pos, "%s '%s': %s", which ? "Secure Boot certificate" : "Secure Boot key",
                           which ? s->secure_boot_cert : s->secure_boot_key, why);
        }
        sb_key_free(k);
}

static void project_check_files(Project *p, Diagnostics *d, time_t *newest) {
        if (p->signing.key)
                check_file(p, &p->signing.obj, "key", p->signing.key, "signing key", false, d, NULL);
        check_secure_boot_keys(p, d);

        for (size_t i = 0; i < p->repos.n; i++) {
                const Repo *r = &p->repos.items[i];
                if (r->gpg_key && !strstr(r->gpg_key, "://"))
                        check_file(p, &r->obj, "gpg-key", r->gpg_key, "repository key", false, d, NULL);
        }

        for (size_t i = 0; i < p->components.n; i++) {
                const Component *c = &p->components.items[i];
                if (c->spec) {
                        /* The sources lie beside the spec: they are inputs too. */
                        _cleanup_free_ char *full = project_path(p, c->spec);
                        _cleanup_free_ char *dir = full ? path_dirname(full) : NULL;
                        check_file(p, &c->obj, "spec", c->spec, "spec file", false, d, NULL);
                        if (dir)
                                newest_mtime(dir, newest);
                }
                for (size_t f = 0; f < c->files.n; f++)
                        if (c->files.items[f].source)
                                check_file(p, &c->files.items[f].obj, "source", c->files.items[f].source, "source",
                                           true, d, newest);
                for (size_t k = 0; k < c->overlays.n; k++)
                        if (c->overlays.items[k].source)
                                check_file(p, &c->overlays.items[k].obj, "source", c->overlays.items[k].source,
                                           "overlay source", false, d, newest);
        }

        for (size_t i = 0; i < p->images.n; i++) {
                const Image *im = &p->images.items[i];
                for (size_t f = 0; f < im->files.n; f++)
                        if (im->files.items[f].source)
                                check_file(p, &im->files.items[f].obj, "source", im->files.items[f].source, "source",
                                           true, d, newest);
                for (size_t u = 0; u < im->users.n; u++)
                        check_file_list(p, &im->users.items[u].obj, "ssh-keys", &im->users.items[u].ssh_keys,
                                        "ssh key file", d, newest);
        }

        for (size_t i = 0; i < p->customizations.n; i++) {
                const Customization *c = &p->customizations.items[i];
                const Image *im = &c->im;
                if (c->base)
                        check_file(p, &im->obj, "base", c->base, "base image", false, d, NULL);
                for (size_t f = 0; f < im->files.n; f++)
                        if (im->files.items[f].source)
                                check_file(p, &im->files.items[f].obj, "source", im->files.items[f].source, "source",
                                           true, d, newest);
                for (size_t u = 0; u < im->users.n; u++)
                        check_file_list(p, &im->users.items[u].obj, "ssh-keys", &im->users.items[u].ssh_keys,
                                        "ssh key file", d, newest);
                for (size_t k = 0; k < c->scripts.n; k++)
                        if (c->scripts.items[k].path)
                                check_file(p, &c->scripts.items[k].obj, "path", c->scripts.items[k].path, "script", false,
                                           d, newest);
        }
}

/* Checks that need the whole project: image cross-references. */
static void image_names_except(const Project *p, size_t i, StrBuf *names) {
        for (size_t k = 0; k < p->images.n; k++)
                if (k != i)
                        strbuf_printf(names, "%s'%s'", names->len ? ", " : "", p->images.items[k].name);
}

/* An installer ISO (`install`): what it installs is a raw disk of the
 * project, which is no installer itself. */
static void check_install(const Project *p, size_t i, Diagnostics *d) {
        const Image *im = &p->images.items[i];
        SourcePos pos = cfg_pos(&im->obj, "install");
        const Image *target = project_find_image(p, im->install);
        if (!(im->format_mask & (1u << IMAGE_FORMAT_ISO)))
                diag_error(d, &pos, "image '%s': 'install' makes an installer ISO, but its formats have no \"iso\"",
                           im->name);
        else if (!im->initrd)
                diag_error(d, &pos,
                           "image '%s': an installer ISO needs an 'initrd' image that mounts its live root "
                           "(/live/root.squashfs on the medium)",
                           im->name);
        if (!target) {
                _cleanup_strbuf_ StrBuf names = STRBUF_INIT;
                image_names_except(p, i, &names);
                diag_error(d, &pos, "image '%s': install '%s' is not an image of this project%s%s", im->name,
                           im->install, names.len ? "; images: " : "", names.len ? names.buf : "");
        } else if (target == im)
                diag_error(d, &pos, "image '%s' cannot install itself", im->name);
        else if (!(target->format_mask & (1u << IMAGE_FORMAT_RAW)))
                diag_error(d, &pos, "image '%s': install '%s' must have the \"raw\" format (the disk it copies)",
                           im->name, im->install);
        else if (target->install)
                diag_error(d, &pos, "image '%s': install '%s' is an installer itself", im->name, im->install);
}

static void project_check_references(Project *p, Diagnostics *d) {
        for (size_t i = 0; i < p->images.n; i++) {
                const Image *im = &p->images.items[i];
                if (im->install)
                        check_install(p, i, d);
                if (!im->initrd)
                        continue;
                SourcePos pos = cfg_pos(&im->obj, "initrd");
                const Image *ini = project_find_image(p, im->initrd);
                if (!ini) {
                        _cleanup_strbuf_ StrBuf names = STRBUF_INIT;
                        for (size_t k = 0; k < p->images.n; k++)
                                if (k != i)
                                        strbuf_printf(&names, "%s'%s'", names.len ? ", " : "", p->images.items[k].name);
                        diag_error(d, &pos, "image '%s': initrd '%s' is not an image of this project%s%s", im->name,
                                   im->initrd, names.len ? "; images: " : "", names.len ? names.buf : "");
                } else if (ini == im)
                        diag_error(d, &pos, "image '%s' cannot be its own initrd", im->name);
                else if (!(ini->format_mask & (1u << IMAGE_FORMAT_CPIO)))
                        diag_error(d, &pos, "image '%s': initrd '%s' must have the \"cpio\" format", im->name,
                                   im->initrd);
        }
}

static bool all_partitions_valid(const Image *im) {
        for (size_t i = 0; i < im->partitions.n; i++) {
                const Partition *pt = &im->partitions.items[i];
                if (pt->type < 0 || pt->fs < 0 ||
                    (pt->size != CFG_SIZE_GROW && (pt->size == 0 || pt->size % (1024 * 1024) != 0)))
                        return false;
        }
        return true;
}

/* bytes (a whole number of MiB) in the largest binary unit that divides it. */
static const char *format_mib(uint64_t bytes, char buf[static 32]) {
        static const char *const units[] = { "MiB", "GiB", "TiB", "PiB" };
        uint64_t v = bytes >> 20;
        size_t u = 0;
        while (u + 1 < ELEMENTSOF(units) && v >= 1024 && v % 1024 == 0) {
                v /= 1024;
                u++;
        }
        snprintf(buf, 32, "%" PRIu64 " %s", v, units[u]);
        return buf;
}

/* The largest partition each file system writer makes, in bytes:
 * ext4 (fs/ext4.c: 4 KiB blocks with resize_inode, as Debian's mkfs.ext4
 * makes them) counts blocks in 32 bits, so 2^32 - 1 blocks; FAT32's
 * BPB_TotSec32 (fatgen103 3.1) counts 512-byte sectors in 32 bits. In whole
 * MiB, as partitions are sized. */
static uint64_t fs_max_size(FsType f) {
        switch (f) {
        case FS_EXT4:
                return (UINT64_C(1) << 44) - (UINT64_C(1) << 20);
        case FS_VFAT:
                return (UINT64_C(1) << 41) - (UINT64_C(1) << 20);
        default:
                return UINT64_MAX;
        }
}

/* The disk of an image against its `size`, with the layout arithmetic of the
 * disk writer (gpt_layout()): what does not fit is known before anything is
 * installed. */
static void image_check_layout(const Image *im, Diagnostics *d) {
        const uint64_t default_sizes[2] = { IMAGE_DEFAULT_ESP_SIZE, 0 };
        size_t n_cfg = im->partitions.n ? im->partitions.n : 2, grows = 0, n = n_cfg;

        /* A verity partition brings its hash partition, right after it. */
        for (size_t i = 0; i < im->partitions.n; i++)
                n += im->partitions.items[i].verity;
        if (n > GPT_ENTRIES) {
                SourcePos pos = cfg_pos(&im->obj, "partitions");
                diag_error(d, &pos, "image '%s': %zu partitions%s, more than the %u a GPT holds", im->name, n,
                           n > n_cfg ? " with the verity hash partitions" : "", GPT_ENTRIES);
                return;
        }
        if (im->size % (1024 * 1024) != 0 || !all_partitions_valid(im))
                return; /* reported already */

        _cleanup_free_ uint64_t *sizes = new0(uint64_t, n), *first = new0(uint64_t, n), *last = new0(uint64_t, n);
        _cleanup_free_ size_t *cfg_of = new0(size_t, n); /* index in the configuration; SIZE_MAX: a hash partition */
        if (!sizes || !first || !last || !cfg_of) {
                d->oom = true;
                return;
        }
        for (size_t i = 0, k = 0; i < n_cfg; i++) {
                uint64_t sz = im->partitions.n ? im->partitions.items[i].size : default_sizes[i];
                if (sz == CFG_SIZE_GROW || sz == 0) {
                        sz = 0;
                        grows++;
                }
                cfg_of[k] = i;
                sizes[k++] = sz;
                if (im->partitions.n && im->partitions.items[i].verity) {
                        /* What the tree of a fixed size needs; a partition
                         * that grows has its hash sized when it is known
                         * (at least 1 MiB). */
                        cfg_of[k] = SIZE_MAX;
                        sizes[k++] = sz ? verity_partition_size(sz) : (uint64_t) 1 << 20;
                }
        }
        if (grows > 1)
                return; /* reported already */

        uint64_t need = 0;
        int r = gpt_layout(0, sizes, n, &need, first, last);
        if (r == -EFBIG) {
                SourcePos pos = cfg_pos(&im->obj, "partitions");
                diag_error(d, &pos, "image '%s': the partitions add up to more than a disk can hold", im->name);
                return;
        }
        if (r < 0)
                return;

        /* The disk (at least) against what each of its formats holds. */
        static const struct {
                ImageFormat image;
                DiskFormat disk;
        } formats[] = {
                { IMAGE_FORMAT_RAW, DISK_FORMAT_RAW },
                { IMAGE_FORMAT_VHD, DISK_FORMAT_VHD },
                { IMAGE_FORMAT_VHDX, DISK_FORMAT_VHDX },
                { IMAGE_FORMAT_QCOW2, DISK_FORMAT_QCOW2 },
        };
        for (size_t k = 0; k < ELEMENTSOF(formats); k++) {
                uint64_t max = disk_format_max_size(formats[k].disk), disk = im->size ? im->size : need;
                if (!(im->format_mask & (1u << formats[k].image)) || disk <= max)
                        continue;
                SourcePos pos = cfg_pos(&im->obj, im->size ? "size" : "partitions");
                char a[32], b[32];
                diag_error(d, &pos, "image '%s': a %s disk holds at most %s, and %s %s", im->name,
                           image_format_to_string(formats[k].image), format_mib(max, a),
                           im->size ? "size is" : "the partitions need", format_mib(disk, b));
        }

        /* Each partition (the one that grows at its size on this disk)
         * against what its file system holds. */
        bool laid_out = gpt_layout(im->size ? im->size : need, sizes, n, NULL, first, last) >= 0;
        for (size_t k = 0; laid_out && k < n; k++) {
                size_t i = cfg_of[k];
                if (i == SIZE_MAX)
                        continue;
                FsType fs = im->partitions.n ? im->partitions.items[i].fs : i == 0 ? FS_VFAT : FS_EXT4;
                uint64_t size = (last[k] - first[k] + 1) * GPT_SECTOR_SIZE, max = fs_max_size(fs);
                if (size <= max)
                        continue;
                bool grower = sizes[k] == 0;
                SourcePos pos = im->partitions.n && !grower ? cfg_pos(&im->partitions.items[i].obj, "size")
                                                           : cfg_pos(&im->obj, im->size ? "size" : "partitions");
                char a[32], b[32];
                diag_error(d, &pos, "image '%s': partition %zu is %s%s, but %s holds at most %s", im->name, k + 1,
                           format_mib(size, a), grower ? " (it grows to fill the disk)" : "",
                           fs == FS_EXT4 ? "ext4 with 4 KiB blocks (2^32 - 1 of them)"
                                         : "FAT32 (2^32 - 1 sectors of 512 bytes)",
                           format_mib(max, b));
        }

        if (im->size == 0)
                return;
        r = gpt_layout(im->size, sizes, n, NULL, first, last);
        if (r == -ENOSPC) {
                SourcePos pos = cfg_pos(&im->obj, "size");
                char a[32], b[32];
                diag_error(d, &pos,
                           "image '%s': size = %s is too small for %s: they need %s "
                           "(1 MiB before the first partition, %sthe backup GPT in the last MiB)",
                           im->name, format_mib(im->size, a),
                           im->partitions.n ? "its partitions" : "the default partitions (a 256 MiB ESP and a root)",
                           format_mib(need, b), grows ? "1 MiB at least for the partition that grows, " : "");
        }
}

/* 1 if the command line has the word console=ttyS0 (with or without
 * serial options such as ",115200n8"). */
static bool cmdline_has_serial_console(const char *s) {
        static const char want[] = "console=ttyS0";
        for (const char *w = s; w && *w;) {
                w += strspn(w, " ");
                size_t len = strcspn(w, " ");
                if (len >= strlen(want) && strncmp(w, want, strlen(want)) == 0 &&
                    (len == strlen(want) || w[strlen(want)] == ','))
                        return true;
                w += len;
        }
        return false;
}

/* The largest VHD Azure takes as an OS disk: 1023 GiB ("Prepare Linux for
 * imaging in Azure", General Linux installation notes). */
#define AZURE_VHD_MAX (UINT64_C(1023) << 30)

/* platform = "azure": what Microsoft's "Prepare Linux for imaging in Azure"
 * (learn.microsoft.com/azure/virtual-machines/linux/create-upload-generic,
 * formerly "Information for community-supported and non-endorsed
 * distributions") requires of a custom image that slipway can see in the
 * configuration. Warnings: the image is still written. What needs the
 * packages (the initrd's Hyper-V drivers, a provisioning agent) is checked
 * when the image is composed (compose/platform.c). */
static void image_check_azure(const Image *im, Diagnostics *d) {
        const char *name = im->name;
        SourcePos pos;

        if (!(im->format_mask & (1u << IMAGE_FORMAT_VHD))) {
                pos = cfg_pos(&im->obj, "formats");
                diag_warning(d, &pos, "image '%s' is for Azure, which takes fixed VHDs only, but formats has no \"vhd\"",
                             name);
        }
        /* A given size is whole MiB (an error otherwise, image_finish()); a
         * computed one is too: gpt_layout() sizes disks in whole MiB. */
        if (im->size > AZURE_VHD_MAX) {
                char a[32];
                pos = cfg_pos(&im->obj, "size");
                diag_warning(d, &pos, "image '%s' is for Azure, whose VHDs hold at most 1023 GiB, but size is %s", name,
                             format_mib(im->size, a));
        }
        if (im->boot == BOOT_NONE) {
                pos = cfg_pos(&im->obj, "boot");
                diag_warning(d, &pos, "image '%s' is for Azure, where it must boot (as a Gen1 VM with \"bios\" or a Gen2 "
                             "VM with \"uefi\"), but boot = \"none\"", name);
        }
        if (!im->kernel_cmdline || !cmdline_has_serial_console(im->kernel_cmdline)) {
                pos = im->kernel_cmdline ? cfg_pos(&im->obj, "kernel-cmdline") : im->obj.pos;
                diag_warning(d, &pos,
                             "image '%s' is for Azure, whose serial console and boot diagnostics read the first serial "
                             "port, but kernel-cmdline has no console=ttyS0 (Azure recommends \"console=ttyS0,115200n8 "
                             "earlyprintk=ttyS0\")", name);
        }
        if (!im->initrd) {
                pos = im->obj.pos;
                diag_warning(d, &pos,
                             "image '%s' is for Azure, which needs the Hyper-V drivers (hv_vmbus, hv_storvsc, hv_netvsc) "
                             "in an initrd, but it has no initrd", name);
        }
        for (size_t i = 0; i < im->partitions.n; i++)
                if (im->partitions.items[i].type == PARTITION_SWAP) {
                        pos = cfg_pos(&im->partitions.items[i].obj, "type");
                        diag_warning(d, &pos,
                                     "image '%s' is for Azure, which wants no swap on the OS disk (cloud-init or the "
                                     "Azure Linux Agent put swap on the resource disk), but partition %zu has type "
                                     "\"swap\"", name, i + 1);
                }
}

/* Rules across an image's keys that need the project too (its architecture,
 * its version) or the disk writer's arithmetic. */
static void project_check_images(const Project *p, Diagnostics *d) {
        for (size_t i = 0; i < p->images.n; i++) {
                const Image *im = &p->images.items[i];
                const bool disk = im->format_mask & IMAGE_FORMATS_DISK;
                const bool iso = im->format_mask & (1u << IMAGE_FORMAT_ISO);
                const bool uefi = im->boot == BOOT_UEFI || im->boot == BOOT_HYBRID;
                const bool bios = im->boot == BOOT_BIOS || im->boot == BOOT_HYBRID;

                /* systemd-boot and its entry go on the ESP. */
                if (disk && uefi && im->partitions.n > 0 && all_partitions_valid(im)) {
                        bool esp = false;
                        for (size_t k = 0; k < im->partitions.n; k++)
                                esp = esp || im->partitions.items[k].type == PARTITION_ESP;
                        if (!esp) {
                                SourcePos pos = cfg_pos(&im->obj, "partitions");
                                diag_error(d, &pos,
                                           "image '%s': boot = \"%s\" puts systemd-boot on an ESP, but none of its "
                                           "partitions has type \"esp\"",
                                           im->name, boot_mode_to_string(im->boot));
                        }
                }

                /* A UKI goes on the ESP of a UEFI disk. */
                if (im->uki > UKI_NONE) {
                        SourcePos pos = cfg_pos(&im->obj, "uki");
                        if (!uefi)
                                diag_error(d, &pos, "image '%s': uki = \"%s\" boots through UEFI, but boot = \"%s\"",
                                           im->name, uki_mode_to_string(im->uki), boot_mode_to_string(im->boot));
                        else if (!disk || iso)
                                diag_error(d, &pos, "image '%s': uki = \"%s\" is for the disk formats (raw, vhd, vhdx, "
                                           "qcow2), not %s", im->name, uki_mode_to_string(im->uki),
                                           iso ? "\"iso\"" : "this image's formats");
                        else if (strcmp(p->arch, "x86_64") != 0)
                                diag_error(d, &pos, "image '%s': uki = \"%s\" is made from systemd-stub for x86_64 "
                                           "(linuxx64.efi.stub), not for '%s'", im->name, uki_mode_to_string(im->uki),
                                           p->arch);
                }

                /* GRUB for i386-pc and ISOLINUX run on x86 firmware only. */
                if ((disk || iso) && bios && strcmp(p->arch, "x86_64") != 0 && strcmp(p->arch, "i686") != 0) {
                        SourcePos pos = cfg_pos(&im->obj, "boot");
                        diag_error(d, &pos,
                                   "image '%s': boot = \"%s\" boots through a PC BIOS (GRUB i386-pc, ISOLINUX), which "
                                   "needs the x86_64 or i686 architecture, not '%s'",
                                   im->name, boot_mode_to_string(im->boot), p->arch);
                }

                if (disk)
                        image_check_layout(im, d);

                /* Without an ESP, GRUB's files go to /boot on the disk's
                 * file systems: not onto a verity one, whose root hash the
                 * command line in them names. */
                if (disk && bios && im->partitions.n > 0 && all_partitions_valid(im)) {
                        const Partition *esp = NULL, *boot = NULL;
                        for (size_t k = 0; k < im->partitions.n; k++) {
                                const Partition *q = &im->partitions.items[k];
                                if (q->type == PARTITION_ESP && q->fs == FS_VFAT && q->mount && !esp)
                                        esp = q;
                                /* The partition /boot lies on: the longest mount point above it. */
                                if (q->mount && q->fs != FS_NONE &&
                                    (strcmp(q->mount, "/") == 0 || strcmp(q->mount, "/boot") == 0) &&
                                    (!boot || strlen(q->mount) > strlen(boot->mount)))
                                        boot = q;
                        }
                        if (!esp && boot && boot->verity) {
                                SourcePos pos = cfg_pos(&boot->obj, "verity");
                                diag_error(d, &pos,
                                           "image '%s': boot = \"%s\" without an ESP puts GRUB's files in /boot on the "
                                           "verity-protected '%s', which must not change after its hash tree is made; "
                                           "add a partition of type \"esp\"",
                                           im->name, boot_mode_to_string(im->boot), boot->mount);
                        }
                }

                if (im->platform == IMAGE_PLATFORM_AZURE)
                        image_check_azure(im, d);

                /* The OCI tag, by default the project version. */
                if ((im->format_mask & (1u << IMAGE_FORMAT_OCI)) && !im->container.tag && p->project.version &&
                    !oci_ref_name_valid(p->project.version)) {
                        SourcePos pos = cfg_pos(&im->obj, "formats");
                        for (size_t k = 0; k < im->formats.n; k++)
                                if (strcmp(im->formats.items[k], "oci") == 0)
                                        pos = im->formats.pos[k];
                        diag_error(d, &pos,
                                   "image '%s': the OCI image's tag would be the project version '%s', which is not "
                                   "a valid OCI tag (letters and digits joined by single '.', '_', '-' or '+'); set 'tag' in "
                                   "[%s.container]",
                                   im->name, p->project.version, im->obj.path);
                }
        }
}

/* Defaults and checks once every file was merged. */
static int project_finish(Project *p, Diagnostics *d) {
        int r;

        if (!p->project.obj.n_tables)
                p->project.obj.pos = (SourcePos) { .file = p->docs[0]->filename };
        r = schema_finish(&project_schema, p, d);
        if (r < 0)
                return r;

        if (!p->project.arch && check_project_arch(host_arch()))
                diag_error(d, &p->project.obj.pos,
                           "the build host's architecture '%s' is not supported: set 'arch' in [project] to one of "
                           "x86_64, aarch64, i686, ppc64le, s390x, riscv64",
                           host_arch());
        p->arch = strdup(p->project.arch ? p->project.arch : host_arch());
        if (!p->arch)
                return -ENOMEM;
        for (size_t i = 0; i < p->components.n; i++) {
                Component *c = &p->components.items[i];
                if (c->kind == COMPONENT_NATIVE && !c->arch && !(c->arch = strdup(p->arch)))
                        return -ENOMEM;
        }

        project_check_references(p, d);
        project_check_upstream(p, d);
        project_check_images(p, d);
        if (p->build.engine == BUILD_ENGINE_SLURM && !p->cache.url) {
                SourcePos pos = cfg_pos(&p->build.obj, "engine");
                diag_error(d, &pos, "key 'build.engine': the Slurm engine needs a shared cache: set [cache] url");
        }
        return 0;
}

static int project_source_date_epoch(Project *p, time_t newest, Diagnostics *d) {
        if (cfg_has(&p->project.obj, "source-date-epoch")) {
                p->source_date_epoch = (uint64_t) p->project.source_date_epoch;
                p->sde_origin = SDE_FROM_CONFIG;
                return 0;
        }
        uint64_t v;
        int r = source_date_epoch_from_env(d, &v);
        if (r < 0)
                return 0; /* recorded in d */
        if (r > 0) {
                p->source_date_epoch = v;
                p->sde_origin = SDE_FROM_ENVIRONMENT;
                return 0;
        }
        p->source_date_epoch = newest > 0 ? (uint64_t) newest : 0;
        p->sde_origin = SDE_FROM_INPUTS;
        return 0;
}

int project_load(const char *dir, Diagnostics *d, Project **ret) {
        _cleanup_(project_freep) Project *p = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        p = new0(Project, 1);
        if (!p)
                return -ENOMEM;
        p->dir = strdup(dir);
        path = path_join(dir, "slipway.toml");
        if (!p->dir || !path)
                return -ENOMEM;

        if (!path_exists(path)) {
                SourcePos pos = { .file = path };
                diag_error(d, &pos, "no project here: slipway.toml not found (create one with 'slipway init DIR')");
                return -EINVAL;
        }

        r = project_read_file(p, path, true, d);
        if (r < 0)
                return r;
        if (p->n_docs == 0)
                return -EINVAL; /* a syntax error in slipway.toml: nothing else to say */

        r = project_read_includes(p, d);
        if (r < 0)
                return r;

        r = project_finish(p, d);
        if (r < 0)
                return r;

        time_t newest = 0;
        for (size_t i = 0; i < p->n_docs; i++) {
                struct stat st;
                if (stat(p->docs[i]->filename, &st) >= 0 && st.st_mtime > newest)
                        newest = st.st_mtime;
        }
        project_check_files(p, d, &newest);
        r = project_source_date_epoch(p, newest, d);
        if (r < 0)
                return r;

        if (!p->signing.key)
                diag_warning(d, NULL, "no [signing] key: packages, repositories and images will be unsigned");

        r = diagnostics_status(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int project_load_customization(const char *path, Diagnostics *d, Project **ret) {
        _cleanup_(project_freep) Project *p = new0(Project, 1);
        TomlDocument *doc = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        p->dir = path_dirname(path);
        p->customizations.items = new0(Customization, 1);
        if (!p->dir || !p->customizations.items)
                return -ENOMEM;
        p->customizations.n = 1;
        Customization *c = &p->customizations.items[0];
        /* Named after the file: "web.toml" customizes as "web". */
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        c->im.name = strndup(base, strcspn(base, "."));
        p->project.name = strdup("customize");
        p->project.version = strdup("0");
        if (!c->im.name || !p->project.name || !p->project.version)
                return -ENOMEM;
        if (!c->im.name[0] || check_image_name(c->im.name)) {
                free(c->im.name);
                if (!(c->im.name = strdup("customization")))
                        return -ENOMEM;
        }

        /* Image Customizer's YAML becomes the tree the TOML would give, and
         * the same schema reads it. */
        size_t len = strlen(path);
        bool yaml = (len > 5 && strcmp(path + len - 5, ".yaml") == 0) || (len > 4 && strcmp(path + len - 4, ".yml") == 0);
        r = yaml ? ic_yaml_parse_file(path, d, &doc) : toml_parse_file(path, NULL, d, &doc);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        r = project_add_doc(p, doc);
        if (r < 0)
                return r;
        p->project.obj.pos = (SourcePos) { .file = doc->filename };
        r = schema_apply(&customization_file_schema, c, doc->root, NULL, d);
        if (r < 0)
                return r;
        r = schema_finish(&customization_file_schema, c, d);
        if (r < 0)
                return r;
        /* Its repositories are the project's. */
        p->repos.items = c->repos.items;
        p->repos.n = c->repos.n;
        c->repos.items = NULL;
        c->repos.n = 0;
        if (!(p->arch = strdup(host_arch())))
                return -ENOMEM;
        time_t newest = 0;
        project_check_files(p, d, &newest);
        r = project_source_date_epoch(p, 0, d);
        if (r < 0)
                return r;
        r = diagnostics_status(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int project_add_rpm_source(Project *p, const char *dir, Diagnostics *d) {
        SourcePos pos = { .file = dir };
        _cleanup_free_ char *repomd = path_join(dir, "repodata/repomd.xml");
        if (!repomd)
                return -ENOMEM;
        if (!path_exists(repomd)) {
                diag_error(d, &pos, "--rpm-source: not a repository (no repodata/repomd.xml): index it first, with "
                                    "'slipway repo --key KEY %s'",
                           dir);
                return -EINVAL;
        }
        /* Its key: the one RPM-GPG-KEY-* file `slipway repo --key` puts beside the metadata. */
        _cleanup_(closedirp) DIR *dp = opendir(dir);
        _cleanup_free_ char *key = NULL;
        size_t n_keys = 0;
        for (struct dirent *e; dp && (e = readdir(dp));)
                if (strncmp(e->d_name, "RPM-GPG-KEY-", 12) == 0 && n_keys++ == 0 && !(key = path_join(dir, e->d_name)))
                        return -ENOMEM;
        if (n_keys != 1) {
                diag_error(d, &pos, "--rpm-source: %s, so its packages cannot be checked; sign the repository "
                                    "('slipway repo --key KEY %s') or name it in [repos.NAME] with gpg-key",
                           n_keys == 0 ? "the repository has no RPM-GPG-KEY-* file" : "the repository has several RPM-GPG-KEY-* files",
                           dir);
                return -EINVAL;
        }
        _cleanup_free_ char *abs = realpath(dir, NULL), *name = NULL, *url = NULL;
        if (!abs)
                return -errno;
        if (asprintf(&name, "rpm-source-%zu", p->repos.n + 1) < 0 || asprintf(&url, "file://%s", abs) < 0)
                return -ENOMEM;
        Repo *items = realloc(p->repos.items, (p->repos.n + 1) * sizeof(Repo));
        if (!items)
                return -ENOMEM;
        p->repos.items = items;
        items[p->repos.n++] = (Repo) { .obj.pos = pos, .name = TAKE_PTR(name), .url = TAKE_PTR(url),
                                       .gpg_key = TAKE_PTR(key), .gpgcheck = true };
        return 0;
}

int project_load_buffer(const char *data, size_t size, const char *filename, Diagnostics *d, Project **ret) {
        _cleanup_(project_freep) Project *p = NULL;
        TomlDocument *doc = NULL;
        int r;

        p = new0(Project, 1);
        if (!p || !(p->dir = strdup(".")))
                return -ENOMEM;

        r = toml_parse(data, size, filename, d, &doc);
        if (r < 0)
                return r;
        r = project_add_doc(p, doc);
        if (r < 0)
                return r;
        r = schema_apply(&project_schema, p, doc->root, NULL, d);
        if (r < 0)
                return r;
        r = project_finish(p, d);
        if (r < 0)
                return r;
        p->source_date_epoch = cfg_has(&p->project.obj, "source-date-epoch") ? (uint64_t) p->project.source_date_epoch : 0;
        p->sde_origin = SDE_FROM_CONFIG;

        r = diagnostics_status(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
