/* SPDX-License-Identifier: MIT */

/* The slipway command: global options, verb dispatch, --help and --version. */

#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/run.h"
#include "cli.h"
#include "config/project.h"

#ifndef SLIPWAY_VERSION
#define SLIPWAY_VERSION "0"
#endif

static const Verb verbs[] = {
        {
                .name = "build",
                .args = "[NAME...]",
                .summary = "package, sign, index and compose: the whole pipeline",
                .help = "Options: --compress zstd|gzip (the cpio format's compression, as for image);\n"
                        "--prune (remove RPMs from OUT/repo that the project did not build);\n"
                        "--engine local|slurm (as for package).\n\n"
                        "Runs `slipway package` for every component (building, signing and indexing\n"
                        "OUT/repo; unchanged components are not rebuilt), then `slipway image` for the\n"
                        "named images (default: all). Stops before the images if a package failed.\n"
                        "With --json, one document: {\"package\": ..., \"image\": ...}.\n",
                .options = VERB_OPT_COMPRESS | VERB_OPT_PRUNE | VERB_OPT_LOCKED | VERB_OPT_ENGINE,
                .min_args = 0,
                .max_args = UINT_MAX,
                .run = verb_build,
        },
        {
                .name = "check",
                .args = "",
                .summary = "validate the project and print a summary",
                .help = "Reads slipway.toml in the project directory (-C DIR, default: the current\n"
                        "directory) and every file its includes pull in, checks every key, and prints\n"
                        "the project, its components and its images. With --json the summary is one\n"
                        "JSON document on standard output. Errors name file:line:column; up to 20 are\n"
                        "reported in one run.\n",
                .min_args = 0,
                .max_args = 0,
                .run = verb_check,
        },
        {
                .name = "convert",
                .args = "IN OUT",
                .summary = "convert a disk image between raw, VHD, VHDX and qcow2",
                .help = "Options: --output-image-format raw|vhd|vhdx|qcow2 (vpc: vhd, as qemu names it;\n"
                        "default: from OUT's extension, .raw/.img, .vhd, .vhdx or .qcow2).\n\n"
                        "Reads IN (raw, VHD fixed or dynamic, VHDX, qcow2: recognised by content; opened\n"
                        "read-only) and writes the same virtual disk to OUT in the output format: only\n"
                        "the parts IN has allocated are read, and zeros are not written (OUT is sparse).\n"
                        "A VHD is fixed and needs a virtual size of a whole number of MiB. OUT is\n"
                        "replaced atomically; on failure nothing is left there. With the same IN and\n"
                        "SOURCE_DATE_EPOCH, OUT's bytes are the same. Refused with one error: a\n"
                        "differencing VHD, a qcow2 with a backing file, a container cut short.\n",
                .options = VERB_OPT_OUTPUT_IMAGE_FORMAT,
                .min_args = 2,
                .max_args = 2,
                .run = verb_convert,
        },
        {
                .name = "customize",
                .args = "[NAME]",
                .summary = "change a prebuilt disk image offline, without root",
                .help = "Options: --image-file IN, --config FILE (.toml, or Image Customizer's .yaml),\n"
                        "--output-image-file OUT, --output-image-format raw|vhd|vhdx|qcow2|tar|oci,\n"
                        "--rpm-source DIR (a signed repository the packages may come from; repeatable).\n\n"
                        "Reads the disk image IN (raw, VHD, VHDX, qcow2; GPT or MBR; ext4 and FAT) into\n"
                        "a tree without mounting it, applies the customization in FILE (host name, users,\n"
                        "files, services, kernel command line, kernel modules, SELinux mode and labels,\n"
                        "the image's history) and writes OUT in the same layout: partitions, GUIDs and\n"
                        "file system UUIDs kept (reset-uuids = true makes new ones), the boot code\n"
                        "kept, the root grown to a larger `size`. IN is never written; OUT is replaced\n"
                        "atomically. Without --config, NAME is a [customizations.NAME] of the project\n"
                        "(-C DIR), its `base` the input, its `formats` the outputs in\n"
                        "OUT/customizations/ (default: the base's format).\n",
                .options = VERB_OPT_OUTPUT_IMAGE_FORMAT | VERB_OPT_IMAGE_FILE | VERB_OPT_CONFIG |
                           VERB_OPT_OUTPUT_IMAGE_FILE | VERB_OPT_RPM_SOURCE,
                .min_args = 0,
                .max_args = 1,
                .run = verb_customize,
        },
        {
                .name = "diff",
                .args = "COMPONENT",
                .summary = "show an upstream component's changes against upstream",
                .help = "Options: --locked.\n\n"
                        "Renders the component twice, as upstream has it at the locked commit and as\n"
                        "it is built (`slipway render`), and prints the differences as a unified diff\n"
                        "(a/ upstream, b/ rendered). --json: one entry per changed file with its path,\n"
                        "change (added, removed, modified), whether it is binary, and its diff.\n",
                .options = VERB_OPT_LOCKED,
                .min_args = 1,
                .max_args = 1,
                .run = verb_diff,
        },
        {
                .name = "init",
                .args = "DIR",
                .summary = "write a starter project into DIR",
                .help = "Creates DIR (and its parents) and writes a starter project into it: slipway.toml,\n"
                        "a spec component, a native component and an image. `slipway -C DIR check`\n"
                        "accepts it. Refuses to touch a directory that already has a slipway.toml.\n",
                .min_args = 1,
                .max_args = 1,
                .run = verb_init,
        },
        {
                .name = "image",
                .args = "[NAME...]",
                .summary = "compose images and write their formats",
                .help = "Options: --compress zstd|gzip (the cpio format's compression, default zstd).\n\n"
                        "Resolves each named image's packages (default: every image) with libsolv against\n"
                        "the project's repository OUT/repo (from `slipway package`) and the [repos],\n"
                        "fetches and checks them (repomd.xml.asc, checksums, package signatures), installs\n"
                        "them into a tree in memory without root, with an rpm database, applies the\n"
                        "image's settings and SELinux labels, and writes OUT/images/NAME.oci/ and\n"
                        "NAME.oci.tar (oci), NAME.tar.zst (tar), NAME.wsl (wsl), NAME.cpio.zst (cpio),\n"
                        "GPT disks NAME.raw, .vhd, .vhdx, .qcow2 and a live hybrid NAME.iso, which boot\n"
                        "as the image's `boot` says (UEFI through systemd-boot, BIOS through GRUB or\n"
                        "ISOLINUX; an image's initrd image is composed before it).\n"
                        "Remote repositories are cached in OUT/cache. Outputs are replaced atomically;\n"
                        "a failed image leaves its earlier outputs as they were.\n",
                .options = VERB_OPT_COMPRESS,
                .min_args = 0,
                .max_args = UINT_MAX,
                .run = verb_image,
        },
        {
                .name = "import",
                .args = "azldev DIR",
                .summary = "turn an azldev project into a slipway project",
                .help = "Options: --out NEWDIR (required): where the slipway project is written; it must\n"
                        "not exist or be an empty directory.\n\n"
                        "Reads the azldev project in DIR (azldev.toml and its includes: distros, components\n"
                        "with their *.comp.toml files, component groups, overlays and overlay-files, build\n"
                        "settings, local specs, repositories) and writes NEWDIR/slipway.toml, one\n"
                        "components/NAME.toml per component with settings of its own, the others in\n"
                        "components/upstream.toml, and copies of the files they name. Every azldev key\n"
                        "slipway has no place for is listed as a warning with its file:line:column and\n"
                        "why. NEWDIR is written all or none, and only if `slipway check` would accept it.\n"
                        "The same input gives the same bytes. docs/azldev.md has the mapping.\n",
                .min_args = 2,
                .max_args = 2,
                .run = verb_import,
        },
        {
                .name = "inspect",
                .args = "FILE",
                .summary = "list what an RPM, a repository or an image holds",
                .help = "FILE is recognised by its content: an RPM package (NEVRA, summary, license,\n"
                        "signature key, dependencies, every file with mode, owner, size and flags), a\n"
                        "repository directory (the files repomd.xml lists, whether it is signed, every\n"
                        "package of primary), or an image: an OCI image layout directory, an oci-archive,\n"
                        "a tar (rootfs tarball, .wsl) or cpio archive, plain or compressed with gzip or\n"
                        "zstd (every entry with mode, numeric owner, size, link target and extended\n"
                        "attributes, and the packages of its rpm database). With --json the result is one\n"
                        "JSON document (docs/cli.md). Malformed input is named and exits 1.\n\n"
                        "--sbom[=packages|files] prints instead the image's SBOM, SPDX 2.3 JSON, made from\n"
                        "its rpm database (docs/images.md, \"SBOM\"); =files lists each package's files.\n",
                .options = VERB_OPT_SBOM,
                .min_args = 1,
                .max_args = 1,
                .run = verb_inspect,
        },
        {
                .name = "keygen",
                .args = "",
                .summary = "make an OpenPGP signing key, or a Secure Boot key and certificate",
                .help = "Options: --uid \"Name <email>\" (required), --algo ed25519|rsa4096|rsa3072\n"
                        "(default ed25519), -o PREFIX (required), --secure-boot.\n\n"
                        "Writes PREFIX.asc, the secret key (ASCII-armored, not protected by a passphrase,\n"
                        "mode 0600), and PREFIX.pub.asc, the public key, which rpmkeys --import, gpg\n"
                        "--import and dnf's gpgkey= accept. Refuses to overwrite existing files.\n\n"
                        "With --secure-boot: PREFIX.key (PEM RSA 2048 private key, mode 0600) and\n"
                        "PREFIX.crt (a self-signed X.509 certificate, CN from --uid, for code signing),\n"
                        "for [signing] secure-boot-key and secure-boot-cert (docs/signing.md).\n",
                .options = VERB_OPT_UID | VERB_OPT_ALGO | VERB_OPT_OUTPUT | VERB_OPT_SECURE_BOOT,
                .min_args = 0,
                .max_args = 0,
                .run = verb_keygen,
        },
        {
                .name = "package",
                .args = "[NAME...]",
                .summary = "build components into RPMs",
                .help = "Builds the named components (default: all), and the components they need, into\n"
                        "OUT/repo/Packages (binary RPMs) and OUT/srpms (source RPMs); OUT is --out or\n"
                        "PROJECT/out. Spec components go through rpmbuild in a clean environment without\n"
                        "network; native components are written by slipway. Components build after those\n"
                        "providing their BuildRequires, up to -j at a time. Unchanged components are not\n"
                        "rebuilt. Logs: OUT/logs/NAME.log. Exit status 1 if any component failed.\n"
                        "Then indexes OUT/repo as `slipway repo` does (--prune as there).\n"
                        "Upstream components build from slipway.lock; components it lacks (or whose\n"
                        "settings no longer match their entry) are locked first, unless --locked is\n"
                        "given, which makes that an error.\n"
                        "Options: --prune, --locked, --engine local|slurm, --one, --run RUN.\n"
                        "With [cache] url, the shared cache is searched after the local one and given\n"
                        "what is built. --engine slurm (or [build] engine) builds what the caches lack\n"
                        "as one Slurm job per component, then assembles, signs and indexes here.\n"
                        "--one NAME is what such a job runs on a node: build NAME alone (what it needs\n"
                        "must be in the caches) and put it in the shared cache; --run RUN also puts\n"
                        "the job's report there (docs/cluster.md).\n",
                .options = VERB_OPT_PRUNE | VERB_OPT_LOCKED | VERB_OPT_ENGINE | VERB_OPT_ONE | VERB_OPT_RUN,
                .min_args = 0,
                .max_args = UINT_MAX,
                .run = verb_package,
        },
        {
                .name = "render",
                .args = "COMPONENT",
                .summary = "write an upstream component's spec and sources as they are built",
                .help = "Options: -o DIR (default: OUT/render/COMPONENT), --locked.\n\n"
                        "Writes the tree rpmbuild will see for an upstream component: the files of\n"
                        "its dist-git repository at the commit slipway.lock records, the lookaside\n"
                        "sources (checked against their hashes), then its overlays, check-skip and the\n"
                        "Release change. DIR is replaced as a whole. --json: the directory, the spec\n"
                        "and each file with its SHA-256.\n",
                .options = VERB_OPT_OUTPUT | VERB_OPT_LOCKED,
                .min_args = 1,
                .max_args = 1,
                .run = verb_render,
        },
        {
                .name = "repo",
                .args = "[DIR]",
                .summary = "write signed repository metadata",
                .help = "Options: --key KEY (sign repomd.xml), --compress zstd|gzip (default zstd, which\n"
                        "dnf 4.14 reads; gzip for older clients).\n\n"
                        "Writes DIR/repodata/ (repomd.xml, primary, filelists, other) for the RPMs below\n"
                        "DIR, as dnf and createrepo_c know it. With a key: repomd.xml.asc and the public\n"
                        "key as DIR/RPM-GPG-KEY-NAME. Without DIR: the project's OUT/repo, signed with its\n"
                        "[signing] key. Unchanged packages are not read again; a run with nothing changed\n"
                        "rewrites nothing. A bad package is named and the old metadata is kept.\n"
                        "The project's repository holds only what its build made: any other RPM there,\n"
                        "or one changed since, is an error naming it (--prune: removed instead).\n",
                .options = VERB_OPT_KEY | VERB_OPT_COMPRESS | VERB_OPT_PRUNE,
                .min_args = 0,
                .max_args = 1,
                .run = verb_repo,
        },
        {
                .name = "sign",
                .args = "RPM...",
                .summary = "sign RPM packages in place",
                .help = "Options: --key KEY (required): an OpenPGP secret key, from slipway keygen or\n"
                        "gpg --export-secret-keys --armor (without a passphrase).\n\n"
                        "Adds a header signature to each package as rpm 4.18 does (RSAHEADER for RSA\n"
                        "keys, DSAHEADER for EdDSA keys), replacing any earlier one, without gpg. Files\n"
                        "are rewritten atomically, -j at a time. The signature time is\n"
                        "$SOURCE_DATE_EPOCH when set, so signing is reproducible.\n",
                .options = VERB_OPT_KEY,
                .min_args = 1,
                .max_args = UINT_MAX,
                .run = verb_sign,
        },
        {
                .name = "update",
                .args = "[COMPONENT...]",
                .summary = "move slipway.lock to the upstream branches' newest commits",
                .help = "Fetches the dist-git repository of each named upstream component (default:\n"
                        "all), resolves its branch (or its pinned commit) and reads the sources file\n"
                        "there, and records both in slipway.lock; prints what moved. Builds use only\n"
                        "the lock, so a branch that moves changes nothing until this runs.\n"
                        "--json: the changes as one document.\n",
                .min_args = 0,
                .max_args = UINT_MAX,
                .run = verb_update,
        },
        {
                .name = "verify",
                .args = "FILE|DIR...",
                .summary = "check digests and signatures of RPMs and repositories",
                .help = "Options: --key KEY (required): the public (or secret) key to trust;\n"
                        "--allow-unsigned: accept packages and repositories without a signature.\n\n"
                        "For an RPM: its header and payload digests and its header signature. For a\n"
                        "repository directory: repomd.xml.asc, the checksum of every file repomd.xml\n"
                        "lists, and of every package primary lists, and each package as above; an RPM\n"
                        "below DIR that primary does not list is a problem too. Every problem is named;\n"
                        "the exit status is 1 if there was any.\n",
                .options = VERB_OPT_KEY | VERB_OPT_ALLOW_UNSIGNED,
                .min_args = 1,
                .max_args = UINT_MAX,
                .run = verb_verify,
        },
        {
                .name = "toml-json",
                .args = "FILE|-",
                .summary = "print a TOML document as tagged JSON (debugging aid)",
                .help = "Parses FILE (- for standard input) as TOML 1.0 and prints it in the tagged JSON\n"
                        "encoding of the toml-test conformance suite: every scalar becomes\n"
                        "{\"type\": T, \"value\": \"...\"}. Exits 1 with file:line:column on a syntax\n"
                        "error. Useful to see how slipway reads a file.\n",
                .min_args = 1,
                .max_args = 1,
                .run = verb_toml_json,
        },
};

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

static void help_global(FILE *f) {
        fprintf(f,
                "Usage: slipway [-C DIR] [-j N] [-q|-v] [--json] VERB [ARGS]\n"
                "\n"
                "Builds an RPM-based Linux distribution from one set of TOML files.\n"
                "\n"
                "Options:\n"
                "  -C, --directory DIR  the project directory (default: .)\n"
                "  -j, --jobs N         run up to N jobs in parallel (default: CPUs)\n"
                "  -q, --quiet          print errors only\n"
                "  -v, --verbose        print more detail\n"
                "      --json           print results as one JSON document\n"
                "      --out DIR        the output directory (default: PROJECT/out)\n"
                "  -h, --help           show this help, or a verb's with VERB --help\n"
                "      --version        print the version\n"
                "\n"
                "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char left[64];
                snprintf(left, sizeof left, "%s %s", verbs[i].name, verbs[i].args);
                fprintf(f, "  %-20s %s\n", left, verbs[i].summary);
        }
        fprintf(f, "\nExit status: 0 success, 1 failure (bad input, failed build), 2 usage error.\n"
                   "See docs/cli.md and docs/config.md.\n");
}

static void help_verb(const Verb *v) {
        printf("Usage: slipway [OPTIONS] %s%s%s\n\n%s\n%s", v->name, v->args[0] ? " " : "", v->args,
               v->summary, v->help);
        printf("\nGlobal options (-C, -j, -q, -v, --json) are listed by `slipway --help`.\n");
}

static int parse_jobs(const char *s, unsigned *ret) {
        char *e;
        errno = 0;
        long v = strtol(s, &e, 10);
        if (errno != 0 || e == s || *e || v < 1 || v > 1024)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* The heap in transparent huge pages. First touches of memory dominate
 * slipway's runs on VMs (a 4 KiB page fault costs ~10 us there); with the
 * heap advised MADV_HUGEPAGE, one fault maps 2 MiB. This is what glibc's
 * glibc.malloc.hugetlb=1 tunable does, which a program cannot set for
 * itself: the heap is grown in large steps (so its one mapping exists and
 * later growth extends it, keeping the advice), advised, and not trimmed.
 * Threads keep their own arenas: one shared arena made the parallel parse
 * of `slipway repo` a third slower through lock contention. */
static void heap_setup(void) {
        const uintptr_t huge = (uintptr_t) 2 << 20;
        (void) mallopt(M_TOP_PAD, 32 << 20);
        (void) mallopt(M_TRIM_THRESHOLD, 256 << 20);
        /* Grow the heap once (memory allocated before main may have left
         * some room at its top). */
        uintptr_t before = (uintptr_t) sbrk(0), after = before;
        void *p[8] = {};
        for (size_t i = 0; i < 8 && after == before; i++) {
                p[i] = malloc(96 << 10);
                after = (uintptr_t) sbrk(0);
        }
        for (size_t i = 0; i < 8; i++)
                free(p[i]);
        uintptr_t start = (before + huge - 1) & ~(huge - 1);
        if (before == (uintptr_t) -1 || after <= start)
                return;
        (void) madvise((void *) start, after - start, MADV_HUGEPAGE);
}

/* Called by run.c's signal thread after it removed the run's temporaries;
 * the process then exits with 128 + sig. */
static void interrupted(int sig) {
        fprintf(stderr, "slipway: interrupted by %s: stopped the builds and removed the temporary files\n",
                sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal");
}

int main(int argc, char **argv) {
        /* Before any thread starts: they all inherit the blocked signals. */
        int k = run_signals_setup(interrupted);
        if (k < 0) {
                log_error_errno(k, "cannot set up signal handling");
                return EXIT_FAILURE_USER;
        }
        heap_setup();
        enum { ARG_JSON = 0x100, ARG_VERSION, ARG_OUT, ARG_KEY, ARG_UID, ARG_ALGO, ARG_ALLOW_UNSIGNED, ARG_COMPRESS,
               ARG_PRUNE, ARG_OUTPUT_IMAGE_FORMAT, ARG_IMAGE_FILE, ARG_CONFIG, ARG_OUTPUT_IMAGE_FILE, ARG_RPM_SOURCE,
               ARG_LOCKED, ARG_ENGINE, ARG_ONE, ARG_RUN, ARG_SBOM,
               ARG_SECURE_BOOT };
        static const struct option options[] = {
                { "directory", required_argument, NULL, 'C' },
                { "jobs", required_argument, NULL, 'j' },
                { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },
                { "json", no_argument, NULL, ARG_JSON },
                { "out", required_argument, NULL, ARG_OUT },
                { "key", required_argument, NULL, ARG_KEY },
                { "uid", required_argument, NULL, ARG_UID },
                { "algo", required_argument, NULL, ARG_ALGO },
                { "output", required_argument, NULL, 'o' },
                { "allow-unsigned", no_argument, NULL, ARG_ALLOW_UNSIGNED },
                { "prune", no_argument, NULL, ARG_PRUNE },
                { "compress", required_argument, NULL, ARG_COMPRESS },
                { "output-image-format", required_argument, NULL, ARG_OUTPUT_IMAGE_FORMAT },
                { "image-file", required_argument, NULL, ARG_IMAGE_FILE },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "output-image-file", required_argument, NULL, ARG_OUTPUT_IMAGE_FILE },
                { "rpm-source", required_argument, NULL, ARG_RPM_SOURCE },
                { "locked", no_argument, NULL, ARG_LOCKED },
                { "engine", required_argument, NULL, ARG_ENGINE },
                { "one", no_argument, NULL, ARG_ONE },
                { "run", required_argument, NULL, ARG_RUN },
                { "sbom", optional_argument, NULL, ARG_SBOM },
                { "secure-boot", no_argument, NULL, ARG_SECURE_BOOT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        /* The host's openssl.cnf does not change what slipway computes or
         * signs (and loading it costs a millisecond per run). */
        (void) OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);

        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        Context ctx = {
                .dir = ".",
                .jobs = ncpu > 0 ? (unsigned) ncpu : 1,
        };
        bool help = false, version = false, usage = false;
        unsigned given = 0; /* VERB_OPT_* on the command line */
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":C:j:qvho:", options, NULL)) >= 0) {
                switch (c) {
                case 'C':
                        ctx.dir = optarg;
                        break;
                case 'j':
                        if (parse_jobs(optarg, &ctx.jobs) < 0 && !usage) {
                                log_error("invalid job count '%s': expected a number from 1 to 1024", optarg);
                                usage = true;
                        }
                        break;
                case 'q':
                        log_set_level(LOG_QUIET);
                        break;
                case 'v':
                        log_set_level(LOG_VERBOSE);
                        break;
                case ARG_JSON:
                        ctx.json = true;
                        break;
                case ARG_OUT:
                        ctx.out_dir = optarg;
                        break;
                case ARG_KEY:
                        ctx.key = optarg;
                        given |= VERB_OPT_KEY;
                        break;
                case ARG_UID:
                        ctx.uid = optarg;
                        given |= VERB_OPT_UID;
                        break;
                case ARG_ALGO:
                        ctx.algo = optarg;
                        given |= VERB_OPT_ALGO;
                        break;
                case 'o':
                        ctx.output = optarg;
                        given |= VERB_OPT_OUTPUT;
                        break;
                case ARG_ALLOW_UNSIGNED:
                        ctx.allow_unsigned = true;
                        given |= VERB_OPT_ALLOW_UNSIGNED;
                        break;
                case ARG_COMPRESS:
                        ctx.compress = optarg;
                        given |= VERB_OPT_COMPRESS;
                        break;
                case ARG_PRUNE:
                        ctx.prune = true;
                        given |= VERB_OPT_PRUNE;
                        break;
                case ARG_LOCKED:
                        ctx.locked = true;
                        given |= VERB_OPT_LOCKED;
                        break;
                case ARG_ENGINE:
                        ctx.engine = optarg;
                        given |= VERB_OPT_ENGINE;
                        break;
                case ARG_ONE:
                        ctx.one = true;
                        given |= VERB_OPT_ONE;
                        break;
                case ARG_RUN:
                        ctx.run = optarg;
                        given |= VERB_OPT_RUN;
                        break;
                case ARG_SECURE_BOOT:
                        ctx.secure_boot = true;
                        given |= VERB_OPT_SECURE_BOOT;
                        break;
                case ARG_OUTPUT_IMAGE_FORMAT:
                        ctx.output_image_format = optarg;
                        given |= VERB_OPT_OUTPUT_IMAGE_FORMAT;
                        break;
                case ARG_IMAGE_FILE:
                        ctx.image_file = optarg;
                        given |= VERB_OPT_IMAGE_FILE;
                        break;
                case ARG_CONFIG:
                        ctx.config_file = optarg;
                        given |= VERB_OPT_CONFIG;
                        break;
                case ARG_OUTPUT_IMAGE_FILE:
                        ctx.output_image_file = optarg;
                        given |= VERB_OPT_OUTPUT_IMAGE_FILE;
                        break;
                case ARG_RPM_SOURCE:
                        if (ctx.n_rpm_sources >= ELEMENTSOF(ctx.rpm_sources)) {
                                if (!usage)
                                        log_error("at most %zu --rpm-source options", ELEMENTSOF(ctx.rpm_sources));
                                usage = true;
                        } else
                                ctx.rpm_sources[ctx.n_rpm_sources++] = optarg;
                        given |= VERB_OPT_RPM_SOURCE;
                        break;
                case ARG_SBOM:
                        /* --sbom: the packages; --sbom=files: and their files */
                        ctx.sbom = optarg ? optarg : "packages";
                        if (sbom_level_from_string(ctx.sbom) != SBOM_PACKAGES &&
                            sbom_level_from_string(ctx.sbom) != SBOM_FILES && !usage) {
                                log_error("--sbom takes packages or files, not '%s'", ctx.sbom);
                                usage = true;
                        }
                        given |= VERB_OPT_SBOM;
                        break;
                case 'h':
                        help = true;
                        break;
                case ARG_VERSION:
                        version = true;
                        break;
                case ':':
                        if (!usage)
                                log_error("option '%s' needs an argument", argv[optind - 1]);
                        usage = true;
                        break;
                default:
                        if (usage)
                                break;
                        if (optopt)
                                log_error("unknown option '-%c'", optopt);
                        else
                                log_error("unknown option '%s'", argv[optind - 1]);
                        fprintf(stderr, "Try 'slipway --help'.\n");
                        usage = true;
                        break;
                }
        }
        /* The first usage error was logged; parsing went on so that a later
         * --json is known: the document then carries the error. */
        log_set_json(ctx.json);
        if (usage)
                return cli_result_finish(EXIT_USAGE);

        if (version) {
                if (!ctx.json) {
                        printf("slipway %s\n", SLIPWAY_VERSION);
                        return EXIT_OK;
                }
                cli_result_set(json_pack("{s:s}", "version", SLIPWAY_VERSION));
                return cli_result_finish(EXIT_OK);
        }

        if (optind >= argc) {
                if (help) {
                        help_global(stdout);
                        return EXIT_OK;
                }
                help_global(stderr);
                if (ctx.json)
                        log_error("no verb given");
                return cli_result_finish(EXIT_USAGE);
        }

        const Verb *v = verb_find(argv[optind]);
        if (!v) {
                log_error("unknown verb '%s'", argv[optind]);
                fprintf(stderr, "Try 'slipway --help'.\n");
                return cli_result_finish(EXIT_USAGE);
        }
        if (help) {
                help_verb(v);
                return EXIT_OK;
        }
        if (given & ~v->options) {
                static const char *const names[] = { "--key",           "--uid",        "--algo",
                                                     "-o/--output",     "--allow-unsigned", "--compress",
                                                     "--prune",         "--output-image-format", "--image-file",
                                                     "--config",        "--output-image-file", "--rpm-source",
                                                     "--locked",        "--engine",     "--one",
                                                     "--run",           "--sbom",          "--secure-boot" };
                for (unsigned b = 0; b < ELEMENTSOF(names); b++)
                        if (given & ~v->options & (1u << b)) {
                                log_error("'%s' does not take %s", v->name, names[b]);
                                return cli_result_finish(EXIT_USAGE);
                        }
        }

        int nargs = argc - optind - 1;
        if ((unsigned) nargs < v->min_args || (unsigned) nargs > v->max_args) {
                log_error("'%s' takes %s%s", v->name, v->args[0] ? "the arguments " : "no arguments",
                          v->args);
                fprintf(stderr, "Usage: slipway [OPTIONS] %s %s\n", v->name, v->args);
                return cli_result_finish(EXIT_USAGE);
        }
        int status = v->run(&ctx, nargs, argv + optind + 1);
        run_finish();
        return cli_result_finish(status);
}
