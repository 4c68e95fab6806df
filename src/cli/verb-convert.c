/* SPDX-License-Identifier: MIT */

/* `slipway convert IN OUT`: one virtual disk from one container format into
 * another (disk/block.h block_write()). The input is opened read-only; the
 * output is written beside OUT and renamed into place (disk_write()). The
 * output's GUIDs and time stamp come from a seed derived from the input and
 * from SOURCE_DATE_EPOCH, so the same input gives the same bytes. */

#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/sde.h"
#include "cli.h"
#include "disk/block.h"
#include "disk/container.h"

/* The names --output-image-format takes and the extensions OUT may have:
 * one table. */
static const struct {
        const char *name;
        DiskFormat format;
        bool option;    /* a value of --output-image-format */
        bool extension; /* an extension of OUT */
} format_names[] = {
        { "raw", DISK_FORMAT_RAW, true, true },     { "img", DISK_FORMAT_RAW, false, true },
        { "vhd", DISK_FORMAT_VHD, true, true },     { "vpc", DISK_FORMAT_VHD, true, false },
        { "vhdx", DISK_FORMAT_VHDX, true, true },   { "qcow2", DISK_FORMAT_QCOW2, true, true },
};

static DiskFormat format_lookup(const char *s, bool option) {
        for (size_t i = 0; i < ELEMENTSOF(format_names); i++)
                if ((option ? format_names[i].option : format_names[i].extension) &&
                    strcasecmp(format_names[i].name, s) == 0)
                        return format_names[i].format;
        return _DISK_FORMAT_INVALID;
}

static DiskFormat output_format(const Context *ctx, const char *out) {
        if (ctx->output_image_format) {
                DiskFormat f = format_lookup(ctx->output_image_format, true);
                if (f < 0)
                        log_error("unknown output image format '%s': expected raw, vhd (or vpc), vhdx or qcow2",
                                  ctx->output_image_format);
                return f;
        }
        const char *base = strrchr(out, '/'), *dot = strrchr(base ? base + 1 : out, '.');
        DiskFormat f = dot ? format_lookup(dot + 1, false) : _DISK_FORMAT_INVALID;
        if (f < 0)
                log_error("'%s': cannot tell the output format from its name: use the extension .raw, .img, .vhd, "
                          ".vhdx or .qcow2, or --output-image-format",
                          out);
        return f;
}

/* SHA-256 of a label, the virtual size and the disk's first MiB: distinct
 * per disk (its partition table's GUIDs are there), cheap, and the same for
 * the same disk in any container. */
static int convert_seed(BlockSource *disk, uint8_t ret[32]) {
        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
        size_t n = (size_t) MIN(disk->size, (uint64_t) 1 << 20);
        _cleanup_free_ uint8_t *head = malloc(MAX(n, (size_t) 1));
        if (!h || !head)
                return -ENOMEM;
        int r = block_read(disk, 0, head, n);
        if (r < 0)
                return r;
        uint8_t size[8];
        for (int i = 0; i < 8; i++)
                size[i] = (uint8_t) (disk->size >> (8 * i));
        hash_update(h, "slipway convert", strlen("slipway convert"));
        hash_update(h, size, sizeof size);
        hash_update(h, head, n);
        return hash_final(h, ret);
}

static bool same_file(int fd, const char *path) {
        struct stat a, b;
        return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void log_diag_errors(const char *path, const Diagnostics *d) {
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].level == DIAG_ERROR)
                        log_error("'%s': %s", path, d->items[i].message);
                else if (d->items[i].level == DIAG_WARNING)
                        log_warning("'%s': %s", path, d->items[i].message);
}

int verb_convert(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        const char *in = argv[0], *out = argv[1];
        int r;

        (void) argc;
        DiskFormat f = output_format(ctx, out);
        if (f < 0)
                return EXIT_FAILURE_USER;

        uint64_t epoch = 0;
        if (source_date_epoch_from_env(&diag, &epoch) < 0) {
                for (size_t i = 0; i < diag.n; i++)
                        log_error("%s", diag.items[i].message);
                return EXIT_FAILURE_USER;
        }

        _cleanup_close_ int fd = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return exit_status_from(log_error_errno(-errno, "cannot open '%s'", in));
        if (same_file(fd, out)) {
                log_error("'%s' is the input file: converting a disk onto itself would replace it", out);
                return EXIT_FAILURE_USER;
        }
        BlockSource *file = NULL;
        r = block_source_from_fd(fd, &file);
        if (r == -EINVAL) {
                log_error("'%s': not a regular file or block device", in);
                return EXIT_FAILURE_USER;
        }
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot read '%s'", in));
        _cleanup_(block_source_freep) BlockSource *disk = NULL;
        r = block_open_container(file, &disk, &diag);
        if (r < 0) {
                file = block_source_free(file); /* still ours on failure */
                log_diag_errors(in, &diag);
                if (diag.n_errors == 0)
                        log_error_errno(r, "cannot read '%s'", in);
                return EXIT_FAILURE_USER;
        }
        log_diag_errors(in, &diag); /* warnings */

        if (disk->size == 0 || disk->size % 512 != 0) {
                log_error("'%s': a virtual size of %llu bytes is not a whole number of 512-byte sectors", in,
                          (unsigned long long) disk->size);
                return EXIT_FAILURE_USER;
        }
        if (f == DISK_FORMAT_VHD && disk->size % (1024 * 1024) != 0) {
                log_error("'%s': a virtual size of %llu bytes is not a whole number of MiB, which a VHD needs (as "
                          "Azure requires); resize it first (qemu-img resize) or choose raw, vhdx or qcow2",
                          in, (unsigned long long) disk->size);
                return EXIT_FAILURE_USER;
        }
        if (disk->size > disk_format_max_size(f)) {
                log_error("'%s': a virtual size of %llu bytes is more than %s holds (%llu bytes)", in,
                          (unsigned long long) disk->size, disk_format_to_string(f),
                          (unsigned long long) disk_format_max_size(f));
                return EXIT_FAILURE_USER;
        }

        DiskWriteOptions o = { .timestamp = (int64_t) epoch };
        r = convert_seed(disk, o.seed);
        if (r < 0)
                return exit_status_from(log_error_errno(r == -EIO ? -EBADMSG : r, "cannot read '%s'", in));

        BlockWriteStats stats;
        r = block_write(disk, f, &o, out, &stats);
        if (r < 0) {
                if (stats.map_failed)
                        log_error_errno(r, "'%s': cannot find the allocated parts of the %s disk (its allocation "
                                           "tables are malformed)",
                                        in, disk->format);
                else if (stats.read_failed)
                        log_error_errno(r, "'%s': cannot read the %s disk at byte %llu (a table entry points outside "
                                           "the file or at malformed data: truncated or corrupt)",
                                        in, disk->format, (unsigned long long) stats.failed_at);
                else
                        log_error_errno(r, "cannot write '%s'", out);
                return EXIT_FAILURE_USER;
        }

        struct stat st;
        uint64_t written = 0, file_size = 0;
        if (stat(out, &st) == 0) {
                written = (uint64_t) st.st_blocks * 512;
                file_size = (uint64_t) st.st_size;
        }
        json_t *res = json_pack("{s:o, s:s, s:o, s:s, s:I, s:I, s:I, s:I}", "input", cli_json_string(in),
                                "input_format", disk->format, "output", cli_json_string(out), "output_format",
                                disk_format_to_string(f), "virtual_size", (json_int_t) disk->size, "data_bytes",
                                (json_int_t) stats.mapped, "file_size", (json_int_t) file_size, "bytes_written",
                                (json_int_t) written);
        if (!res)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the conversion"));
        log_info("converted %s (%s, %llu bytes, %llu allocated) to %s (%s, %llu bytes written)", in, disk->format,
                 (unsigned long long) disk->size, (unsigned long long) stats.mapped, out, disk_format_to_string(f),
                 (unsigned long long) written);
        cli_result_set(res);
        return EXIT_OK;
}
