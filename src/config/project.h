/* SPDX-License-Identifier: MIT */
#pragma once

/* The project model: slipway.toml and the files its includes pull in, read
 * into typed structs (schema in project.c, documented in docs/config.md).
 *
 * Every struct starts with a CfgObject, so cfg_pos(&x->obj, "key") gives the
 * file:line:column of any key for later error messages. A Project owns the
 * TOML documents those positions point into. */

#include <stdbool.h>
#include <stdint.h>

#include "basic/diag.h"
#include "config/schema.h"
#include "config/toml.h"

typedef enum ComponentKind {
        COMPONENT_SPEC,   /* built by rpmbuild from a spec file */
        COMPONENT_NATIVE, /* slipway writes the RPM itself */
        COMPONENT_UPSTREAM, /* a dist-git repository at a locked commit, overlaid, then built as a spec */
        _COMPONENT_KIND_MAX,
        _COMPONENT_KIND_INVALID = -EINVAL,
} ComponentKind;

const char *component_kind_to_string(ComponentKind k) _pure_;

typedef enum ImageFormat {
        IMAGE_FORMAT_RAW,
        IMAGE_FORMAT_VHD,
        IMAGE_FORMAT_VHDX,
        IMAGE_FORMAT_QCOW2,
        IMAGE_FORMAT_ISO,
        IMAGE_FORMAT_OCI,
        IMAGE_FORMAT_TAR,
        IMAGE_FORMAT_WSL,
        IMAGE_FORMAT_CPIO,
        _IMAGE_FORMAT_MAX,
        _IMAGE_FORMAT_INVALID = -EINVAL,
} ImageFormat;

const char *image_format_to_string(ImageFormat f) _pure_;
ImageFormat image_format_from_string(const char *s) _pure_;
/* raw, vhd, vhdx and qcow2: the formats that hold a partitioned disk. */
#define IMAGE_FORMATS_DISK                                                                        \
        ((1u << IMAGE_FORMAT_RAW) | (1u << IMAGE_FORMAT_VHD) | (1u << IMAGE_FORMAT_VHDX) |       \
         (1u << IMAGE_FORMAT_QCOW2))

typedef enum SelinuxMode {
        SELINUX_ENFORCING,
        SELINUX_PERMISSIVE,
        SELINUX_DISABLED,
        _SELINUX_MODE_MAX,
        _SELINUX_MODE_INVALID = -EINVAL,
} SelinuxMode;

typedef enum BootMode {
        BOOT_UEFI,
        BOOT_BIOS,
        BOOT_HYBRID,
        BOOT_NONE, /* a disk that does not boot (a data disk) */
        _BOOT_MODE_MAX,
        _BOOT_MODE_INVALID = -EINVAL,
} BootMode;

/* How a UEFI disk image boots its kernel (docs/images.md, "Booting"). */
typedef enum UkiMode {
        UKI_NONE,         /* Boot Loader Specification type 1 entries (kernel and initrd files) */
        UKI_SYSTEMD_BOOT, /* a unified kernel image in EFI/Linux, found by systemd-boot */
        UKI_FIRMWARE,     /* the unified kernel image as EFI/BOOT/BOOTX64.EFI, started by the firmware */
        _UKI_MODE_MAX,
        _UKI_MODE_INVALID = -EINVAL,
} UkiMode;

const char *uki_mode_to_string(UkiMode m) _pure_;

/* The cloud or hypervisor an image is made for: its published requirements
 * are checked (warnings) when the project loads and when the image is
 * composed (docs/images.md, "Platforms"). */
typedef enum ImagePlatform {
        IMAGE_PLATFORM_NONE,  /* no platform's rules (the default) */
        IMAGE_PLATFORM_AZURE, /* Microsoft's "Prepare Linux for imaging in Azure" */
        _IMAGE_PLATFORM_MAX,
        _IMAGE_PLATFORM_INVALID = -EINVAL,
} ImagePlatform;

typedef enum ScriptletPolicy {
        SCRIPTLETS_RUN,    /* run as rpm does: a failing %pre or %pretrans stops, others warn */
        SCRIPTLETS_STRICT, /* run, and every failing scriptlet is an error */
        SCRIPTLETS_SKIP,   /* not run (rpm --noscripts --notriggers): the packages are named in a warning */
        /* Values of slipway before scriptlets ran, read with a warning and
         * turned into RUN ("warn") and STRICT ("fail") when loading. */
        _SCRIPTLETS_OLD_WARN,
        _SCRIPTLETS_OLD_FAIL,
        _SCRIPTLETS_MAX,
        _SCRIPTLETS_INVALID = -EINVAL,
} ScriptletPolicy;

/* What an image's SBOM (OUT/images/NAME.spdx.json, compose/sbom.h) lists. */
typedef enum SbomLevel {
        SBOM_PACKAGES, /* the image and its packages (the default) */
        SBOM_FILES,    /* and each package's files */
        SBOM_NONE,     /* no SBOM */
        _SBOM_LEVEL_MAX,
        _SBOM_LEVEL_INVALID = -EINVAL,
} SbomLevel;

typedef enum PartitionType {
        PARTITION_ESP,
        PARTITION_XBOOTLDR,
        PARTITION_ROOT,
        PARTITION_SWAP,
        PARTITION_HOME,
        PARTITION_SRV,
        PARTITION_VAR,
        PARTITION_TMP,
        PARTITION_USR,
        PARTITION_LINUX,
        _PARTITION_TYPE_MAX,
        _PARTITION_TYPE_INVALID = -EINVAL,
} PartitionType;

typedef enum FsType {
        FS_VFAT,
        FS_EXT4,
        FS_NONE,
        _FS_TYPE_MAX,
        _FS_TYPE_INVALID = -EINVAL,
} FsType;

typedef enum SdeOrigin {
        SDE_FROM_CONFIG,      /* [project] source-date-epoch */
        SDE_FROM_ENVIRONMENT, /* $SOURCE_DATE_EPOCH */
        SDE_FROM_INPUTS,      /* the newest modification time among the inputs */
        _SDE_ORIGIN_MAX,
        _SDE_ORIGIN_INVALID = -EINVAL,
} SdeOrigin;

const char *selinux_mode_to_string(SelinuxMode m) _pure_;
const char *boot_mode_to_string(BootMode m) _pure_;
const char *image_platform_to_string(ImagePlatform p) _pure_;
const char *scriptlet_policy_to_string(ScriptletPolicy p) _pure_;
const char *sbom_level_to_string(SbomLevel l) _pure_;
SbomLevel sbom_level_from_string(const char *s) _pure_;
const char *partition_type_to_string(PartitionType t) _pure_;
const char *fs_type_to_string(FsType t) _pure_;
const char *sde_origin_to_string(SdeOrigin o) _pure_;

typedef struct ProjectSettings {
        CfgObject obj;
        char *name;
        char *version;
        char *vendor;
        char *dist;
        char *arch;              /* default: the build host's */
        int64_t source_date_epoch;
        StrList includes;
        char *payload;           /* rpm's %_binary_payload, "w19.zstdio"; NULL: RPM_PAYLOAD_DEFAULT */
} ProjectSettings;

typedef struct Signing {
        CfgObject obj;
        char *key; /* NULL: outputs are unsigned */
        /* UEFI Secure Boot: a PEM RSA private key and its PEM X.509
         * certificate (both or neither), which Authenticode-sign every EFI
         * binary put on an ESP (docs/signing.md). NULL: unsigned. */
        char *secure_boot_key;
        char *secure_boot_cert;
} Signing;

/* Where spec components build (docs/packaging.md). */
typedef enum BuildMode {
        BUILD_MODE_HOST,      /* the build host's rpmbuild, tools and libraries (bootstrapping) */
        BUILD_MODE_BUILDROOT, /* a clean root installed from the project's packages and [repos] */
        _BUILD_MODE_MAX,
        _BUILD_MODE_INVALID = -EINVAL,
} BuildMode;

const char *build_mode_to_string(BuildMode m) _pure_;

/* Where the builds run (docs/cluster.md). */
typedef enum BuildEngine {
        BUILD_ENGINE_LOCAL, /* this machine, in parallel */
        BUILD_ENGINE_SLURM, /* one Slurm job per component, through a shared cache */
        _BUILD_ENGINE_MAX,
        _BUILD_ENGINE_INVALID = -EINVAL,
} BuildEngine;

const char *build_engine_to_string(BuildEngine e) _pure_;

typedef struct BuildSettings {
        CfgObject obj;
        StrList host_provides;
        BuildMode mode;      /* default: host */
        BuildEngine engine;  /* default: local */
        StrList buildroot;   /* what every buildroot holds; unset: BUILDROOT_DEFAULT_PACKAGES */
        StrMap defines;      /* rpmbuild --define for every spec, before the component's own */
        StrMap host_evidence; /* host-provides name -> the host file that shows the host has it */
} BuildSettings;

/* mock's buildsys-build group of Fedora, with gcc and make. */
#define BUILDROOT_DEFAULT_PACKAGES                                                                               \
        "bash", "bzip2", "coreutils", "cpio", "diffutils", "findutils", "gawk", "gcc", "grep", "gzip", "make",  \
                "patch", "redhat-rpm-config", "rpm-build", "sed", "tar", "unzip", "util-linux", "which", "xz"

/* [cache]: the shared, content-addressed build cache (docs/cluster.md). */
typedef struct CacheSettings {
        CfgObject obj;
        char *url;             /* http(s) base URL; NULL: the local cache alone */
        bool push;             /* builds put their results there (default: true) */
        char *key;             /* a secret key: signs what this machine puts */
        StrList trusted_keys;  /* public keys: set, only what one of them signed is used */
} CacheSettings;

/* [slurm]: the Slurm engine's settings (docs/cluster.md). */
typedef struct SlurmSettings {
        CfgObject obj;
        StrList options;       /* more sbatch arguments (--partition=..., --account=...) */
        char *work_dir;        /* the jobs' output directory on the nodes; default OUT/slurm/work */
        char *slipway;         /* the slipway program on the nodes; default: this one's path */
        int64_t poll;          /* seconds between looks at the queue; 0: 2 */
        int64_t cpus;          /* --cpus-per-task, and the build's -j; 0: 1 */
} SlurmSettings;

/* The hardening check of built packages' ELF files (docs/packaging.md,
 * "The hardening check"): [hardening] says what a missing property does,
 * per check; [components.NAME.hardening-exceptions] turns a check off for
 * one component, with the reason. */
typedef enum HardeningCheck {
        HARDENING_PIE,
        HARDENING_RELRO,
        HARDENING_BINDNOW,
        HARDENING_NX_STACK,
        HARDENING_STACK_PROTECTOR,
        HARDENING_FORTIFY,
        HARDENING_CET,
        _HARDENING_CHECK_MAX,
        _HARDENING_CHECK_INVALID = -EINVAL,
} HardeningCheck;

typedef enum HardeningAction {
        HARDENING_WARN, /* the default */
        HARDENING_FAIL,
        HARDENING_OFF,
        _HARDENING_ACTION_MAX,
        _HARDENING_ACTION_INVALID = -EINVAL,
} HardeningAction;

const char *hardening_check_to_string(HardeningCheck c) _pure_;
const char *hardening_action_to_string(HardeningAction a) _pure_;

typedef struct HardeningSettings {
        CfgObject obj;
        int action[_HARDENING_CHECK_MAX]; /* HardeningAction */
} HardeningSettings;

typedef struct HardeningExceptions {
        CfgObject obj;
        char *reason[_HARDENING_CHECK_MAX]; /* NULL: the check applies */
} HardeningExceptions;

typedef struct Repo {
        CfgObject obj;
        char *name;
        char *url;
        char *gpg_key;
        bool gpgcheck; /* default: true */
} Repo;

typedef struct FileSpec {
        CfgObject obj;
        char *source; /* relative to the project directory, or absolute */
        char *path;   /* absolute path in the package or image */
        int mode;     /* -1: the source's */
        char *user;   /* default: root */
        char *group;  /* default: root */
        bool config;  /* %config(noreplace); components only */
} FileSpec;

typedef struct FileSpecArray {
        FileSpec *items;
        size_t n;
} FileSpecArray;

/* [components.NAME.scripts] of a native component, one /bin/sh body a
 * scriptlet (RpmScriptSlot order). */
typedef struct ComponentScripts {
        CfgObject obj;
        char *pretrans, *pre, *post, *preun, *postun, *posttrans;
} ComponentScripts;

/* [[components.NAME.file-triggers]] of a native component: rpm's
 * %filetriggerin and the five others (rpm's docs/manual/file_triggers.md). */
typedef enum FileTriggerWhen {
        FILE_TRIGGER_IN,
        FILE_TRIGGER_UN,
        FILE_TRIGGER_POSTUN,
        TRANS_FILE_TRIGGER_IN,
        TRANS_FILE_TRIGGER_UN,
        TRANS_FILE_TRIGGER_POSTUN,
        _FILE_TRIGGER_WHEN_MAX,
        _FILE_TRIGGER_WHEN_INVALID = -EINVAL,
} FileTriggerWhen;

const char *file_trigger_when_to_string(FileTriggerWhen w) _pure_;

#define FILE_TRIGGER_DEFAULT_PRIORITY 1000000 /* rpm's build/parseScript.c */

typedef struct FileTrigger {
        CfgObject obj;
        FileTriggerWhen when;
        StrList paths;     /* absolute path prefixes, none twice */
        int64_t priority;  /* default FILE_TRIGGER_DEFAULT_PRIORITY */
        char *program;     /* an absolute path or "<lua>"; default "/bin/sh" */
        char *body;        /* NULL: none, only with a program other than /bin/sh and <lua> */
} FileTrigger;

typedef struct FileTriggerArray {
        FileTrigger *items;
        size_t n;
} FileTriggerArray;

/* How an overlaid upstream component's Release is changed so that it sorts
 * above the same spec built unchanged (docs/upstream.md, "Release"). */
typedef enum ReleaseMode {
        RELEASE_BUMP,   /* the leading number of Release plus one */
        RELEASE_SUFFIX, /* release-suffix after the leading number */
        RELEASE_NONE,   /* unchanged */
        _RELEASE_MODE_MAX,
        _RELEASE_MODE_INVALID = -EINVAL,
} ReleaseMode;

const char *release_mode_to_string(ReleaseMode m) _pure_;

/* The overlay kinds, with azldev's names and meaning (docs/upstream.md). */
typedef enum OverlayType {
        OVERLAY_SPEC_ADD_TAG,
        OVERLAY_SPEC_INSERT_TAG,
        OVERLAY_SPEC_SET_TAG,
        OVERLAY_SPEC_UPDATE_TAG,
        OVERLAY_SPEC_REMOVE_TAG,
        OVERLAY_SPEC_PREPEND_LINES,
        OVERLAY_SPEC_APPEND_LINES,
        OVERLAY_SPEC_SEARCH_REPLACE,
        OVERLAY_SPEC_REMOVE_SECTION,
        OVERLAY_SPEC_REMOVE_SUBPACKAGE,
        OVERLAY_PATCH_ADD,
        OVERLAY_PATCH_REMOVE,
        OVERLAY_FILE_PREPEND_LINES,
        OVERLAY_FILE_SEARCH_REPLACE,
        OVERLAY_FILE_ADD,
        OVERLAY_FILE_REMOVE,
        OVERLAY_FILE_RENAME,
        _OVERLAY_TYPE_MAX,
        _OVERLAY_TYPE_INVALID = -EINVAL,
} OverlayType;

const char *overlay_type_to_string(OverlayType t) _pure_;

typedef struct OverlayRef {
        CfgObject obj;
        char *url;
} OverlayRef;

/* Why an overlay exists; not part of any cache key. */
typedef struct OverlayMetadata {
        CfgObject obj;
        char *category;
        char *upstream_status;
        struct {
                OverlayRef *items;
                size_t n;
        } commits, bugs;
} OverlayMetadata;

/* [[components.NAME.overlays]]: one change to the upstream spec or sources.
 * Which keys a type needs and allows is checked at load (overlay_finish()). */
typedef struct Overlay {
        CfgObject obj;
        OverlayType type;
        char *description;
        char *tag;
        char *value;
        char *section;     /* "%build", "%files"; NULL: the whole spec (where allowed) */
        char *package;     /* a sub-package: "devel" (%package devel) or "other" (%package -n other) */
        char *regex;       /* PCRE2 syntax */
        char *replacement; /* literal; NULL: "" */
        char *file;        /* a name or glob in the sources (or, with archive, inside it) */
        char *archive;     /* a source archive to change inside */
        char *source;      /* file-add, patch-add: a file of the project (relative to its directory) */
        StrList lines;
        OverlayMetadata metadata;
} Overlay;

typedef struct OverlayArray {
        Overlay *items;
        size_t n;
} OverlayArray;

/* Where upstream components come from. [distro] holds the defaults, a
 * [groups.NAME] overrides them for its components, and a component's own keys
 * override both (upstream_settings() in upstream/upstream.h). */
typedef struct UpstreamDefaults {
        CfgObject obj;
        char *name;          /* groups only */
        StrList components;  /* groups only: the members */
        char *dist_git;      /* URL template: $pkg is the upstream name */
        char *lookaside;     /* URL template: $pkg $filename $hashtype $hash */
        char *branch;
        ReleaseMode release_mode; /* only if cfg_has(&obj, "release-mode") */
        char *release_suffix;
} UpstreamDefaults;

typedef struct Component {
        CfgObject obj;
        char *name;
        ComponentKind kind;
        /* spec components */
        char *spec;
        StrMap defines;
        StrList host_inputs; /* glob patterns of build-host files the spec reads (part of the cache key) */
        /* native components */
        int64_t epoch; /* only if cfg_has(&obj, "epoch") */
        char *version;
        char *release; /* default: "1" */
        char *summary;
        char *description; /* default: the summary */
        char *license;
        char *url;
        char *arch;        /* default: the project's arch */
        StrList requires;
        StrList provides;
        StrList conflicts;
        StrList obsoletes;
        FileSpecArray files;
        /* both kinds */
        char *payload; /* rpm's %_binary_payload; NULL: the project's */
        BuildMode mode; /* spec components; only if cfg_has(&obj, "mode"), else [build] mode */
        ComponentScripts scripts; /* native: scriptlet bodies (/bin/sh), NULL for none */
        FileTriggerArray file_triggers; /* native */
        /* spec and upstream components */
        StrList with;        /* rpmbuild --with */
        StrList without;     /* rpmbuild --without */
        bool check_skip;     /* %check starts with 'exit 0' */
        char *check_skip_reason;
        /* both kinds */
        HardeningExceptions hardening_exceptions;
        /* upstream components (each also from the component's group or [distro]) */
        char *upstream_name; /* $pkg; default: the component's name */
        char *dist_git;
        char *lookaside;
        char *branch;
        char *commit;        /* a pinned commit (7 to 40 hex digits) */
        ReleaseMode release_mode; /* only if cfg_has(&obj, "release-mode") */
        char *release_suffix;
        OverlayArray overlays;
        /* Not from the schema: the [groups.NAME] it belongs to, or NULL. */
        const UpstreamDefaults *group;
} Component;

/* Built by rpmbuild from a spec: a local one, or an upstream one rendered. */
static inline bool component_uses_spec(const Component *c) {
        return c->kind == COMPONENT_SPEC || c->kind == COMPONENT_UPSTREAM;
}

typedef struct Partition {
        CfgObject obj;
        char *label;
        PartitionType type;
        uint64_t size; /* bytes, or CFG_SIZE_GROW */
        FsType fs;     /* default by type: esp vfat, swap none, else ext4 */
        char *mount;   /* default by type: esp /boot/efi, root /, home /home, ... */
        bool verity;   /* read-only, verified by dm-verity: a hash partition follows it (ext4 at / or /usr) */
} Partition;

typedef struct User {
        CfgObject obj;
        char *name;
        int64_t uid;   /* only if cfg_has(&obj, "uid"), else allocated */
        int64_t gid;   /* only if cfg_has(&obj, "gid"), else the uid */
        StrList groups;
        char *password_hash; /* NULL: the account is locked */
        StrList ssh_keys;    /* files with public keys */
        char *home;          /* default: /home/NAME */
        char *shell;         /* default: /bin/bash */
} User;

typedef struct Services {
        CfgObject obj;
        StrList enable;
        StrList disable;
} Services;

typedef struct Container {
        CfgObject obj;
        StrList entrypoint;
        StrList cmd;
        StrList env;
        StrMap labels;
        char *tag;     /* default: the project version */
        char *user;
        char *workdir;
} Container;

/* The disk layout of an image without [[partitions]]: an ESP of this size
 * (vfat at /boot/efi), then a root partition (ext4 at /) that grows. */
#define IMAGE_DEFAULT_ESP_SIZE (UINT64_C(256) << 20)

#define IMAGE_DEFAULT_SCRIPTLET_TIMEOUT 600

typedef struct Image {
        CfgObject obj;
        char *name;
        char *description;
        StrList formats;
        unsigned format_mask; /* 1 << ImageFormat, derived from formats */
        StrList packages;
        char *hostname;
        char *kernel_cmdline;
        SelinuxMode selinux;
        ScriptletPolicy scriptlets;
        SbomLevel sbom;
        int64_t scriptlet_timeout; /* seconds a scriptlet may run; 0: IMAGE_DEFAULT_SCRIPTLET_TIMEOUT */
        BootMode boot;
        UkiMode uki;
        ImagePlatform platform; /* customizations: always none */
        uint64_t size; /* 0: smallest that fits */
        char *initrd;
        char *install; /* an installer ISO: the image (raw) it installs */
        struct {
                Partition *items;
                size_t n;
        } partitions;
        struct {
                User *items;
                size_t n;
        } users;
        FileSpecArray files;
        Services services;
        Container container;
        /* Not from the schema: how messages name it; NULL: "image 'NAME'"
         * (a buildroot, composed as an image, says "buildroot of 'hello'"). */
        const char *what;
} Image;

typedef enum ModuleLoad {
        MODULE_LOAD_ALWAYS,  /* loaded at every boot (modules-load.d) */
        MODULE_LOAD_DISABLE, /* never loaded (blacklisted, and install /bin/false) */
        MODULE_LOAD_AUTO,    /* as the kernel decides; only options set */
        MODULE_LOAD_INHERIT, /* as the image had it; only options set */
        _MODULE_LOAD_MAX,
        _MODULE_LOAD_INVALID = -EINVAL,
} ModuleLoad;

typedef struct KernelModule {
        CfgObject obj;
        char *name;
        ModuleLoad load;
        char *options; /* modprobe.d options, or NULL */
} KernelModule;

typedef enum ScriptStage {
        SCRIPT_STAGE_POST,     /* after the packages and settings ("post-customization") */
        SCRIPT_STAGE_FINALIZE, /* last, after SELinux labels ("finalize") */
        _SCRIPT_STAGE_MAX,
        _SCRIPT_STAGE_INVALID = -EINVAL,
} ScriptStage;

typedef struct CustomizeScript {
        CfgObject obj;
        char *name;        /* for messages; default: the path, or "script N" */
        ScriptStage stage;
        char *path;        /* a file of the project (exactly one of path and content) */
        char *content;     /* the script's text */
        char *interpreter; /* default: /bin/sh */
        StrList args;
        StrList env;       /* NAME=VALUE */
} CustomizeScript;

/* [customizations.NAME]: changes to a prebuilt disk image (`slipway
 * customize`). The keys that mean what they mean for an image are read into
 * im, which comes first so that its CfgObject is the customization's
 * (positions of its keys are found through im.obj). */
typedef struct Customization {
        Image im; /* name, formats, packages (installed or upgraded), hostname, kernel-cmdline (appended),
                   * selinux, scriptlets, scriptlet-timeout, size (the new disk size), users, files, services */
        char *base;              /* the image file customized (relative to the project directory) */
        StrList remove;          /* packages removed */
        StrList update;          /* packages upgraded from the repositories if a newer one is there */
        bool update_existing;    /* every installed package upgraded */
        struct {
                KernelModule *items;
                size_t n;
        } modules;
        struct {
                CustomizeScript *items;
                size_t n;
        } scripts;
        bool reset_uuids;        /* new partition and file system UUIDs (default: kept) */
        bool history;            /* the customization recorded in the image (default: true) */
        struct {
                Repo *items;
                size_t n;
        } repos;                 /* a standalone configuration's [repos.NAME] (moved to the project) */
} Customization;

const char *module_load_to_string(ModuleLoad m) _pure_;
const char *script_stage_to_string(ScriptStage s) _pure_;

#define IMAGE_WHAT_MAX 320
const char *image_what(const Image *im, char buf[static IMAGE_WHAT_MAX]);
/* For a message's argument: valid until the end of the enclosing block. */
#define IMAGE_WHAT(im) image_what((im), (char[IMAGE_WHAT_MAX]) { 0 })

typedef struct Project {
        CfgObject obj;
        ProjectSettings project;
        Signing signing;
        BuildSettings build;
        CacheSettings cache;
        SlurmSettings slurm;
        HardeningSettings hardening;
        struct {
                Repo *items;
                size_t n;
        } repos;
        struct {
                Component *items;
                size_t n;
        } components;
        UpstreamDefaults distro;
        struct {
                UpstreamDefaults *items;
                size_t n;
        } groups;
        struct {
                Image *items;
                size_t n;
        } images;
        struct {
                Customization *items;
                size_t n;
        } customizations;

        /* Not from the schema: */
        char *dir;              /* the project directory as given */
        char *arch;             /* effective architecture */
        uint64_t source_date_epoch;
        SdeOrigin sde_origin;
        TomlDocument **docs;    /* slipway.toml first, then includes in glob order */
        size_t n_docs;
} Project;

/* Reads DIR/slipway.toml and its includes. Input errors (up to the limit) and
 * warnings go to d; returns -EINVAL if there was any error, -ENOMEM, or 0
 * with *ret set. */
int project_load(const char *dir, Diagnostics *d, Project **ret);

/* Reads one TOML document held in memory as a whole project, with every
 * schema and cross-key check but without includes and without looking at the
 * file system (referenced files are not checked, SOURCE_DATE_EPOCH comes from
 * the document or is 0). For tests and fuzzing. */
int project_load_buffer(const char *data, size_t size, const char *filename, Diagnostics *d, Project **ret);

Project *project_free(Project *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Project *, project_free);

/* A path from the configuration (relative to the project directory, or
 * absolute) as a path usable from the current directory. NULL on OOM. */
char *project_path(const Project *p, const char *path);

/* The payload compression of c's packages (rpm's %_binary_payload): the
 * component's, else the project's, else RPM_PAYLOAD_DEFAULT. */
const char *component_payload(const Project *p, const Component *c);
/* Where spec component c builds: its own mode, else [build] mode. */
BuildMode component_build_mode(const Project *p, const Component *c) _pure_;
/* What every buildroot of the project holds: [build] buildroot, else BUILDROOT_DEFAULT_PACKAGES. */
void project_buildroot_packages(const Project *p, const char *const **ret, size_t *ret_n);
const Component *project_find_component(const Project *p, const char *name);
const Image *project_find_image(const Project *p, const char *name);
const Customization *project_find_customization(const Project *p, const char *name);

/* A standalone customization file (`slipway customize --config FILE.toml`):
 * the keys of a [customizations.NAME] table at the top level (no base),
 * plus [repos.NAME] tables, read into a project of its own whose directory
 * is the file's (so files and scripts are found beside it). The
 * customization is the project's only one, named after the file. A file
 * named *.yaml or *.yml is Image Customizer's configuration instead
 * (config/ic-yaml.h), read into the same keys. */
int project_load_customization(const char *path, Diagnostics *d, Project **ret);

/* Adds a local repository directory as one of p's [repos] (`slipway customize
 * --rpm-source DIR`, as Image Customizer takes its package sources): it must
 * have repodata/repomd.xml and exactly one RPM-GPG-KEY-* file (what `slipway
 * repo --key` writes), against which its metadata and packages are checked.
 * Errors in d; -EINVAL. */
int project_add_rpm_source(Project *p, const char *dir, Diagnostics *d);

/* The architecture of the machine slipway runs on, in RPM's spelling. */
const char *host_arch(void);

/* Dependency strings ("name", "name >= 1.0", "(a or b)"): NULL if s is well
 * formed, else what is expected. */
const char *check_dependency(const char *s);
