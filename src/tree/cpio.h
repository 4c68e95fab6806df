/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading cpio "newc" archives (cpio(5) "New ASCII Format"; rpm's
 * lib/cpio.c writes RPM payloads in it, and initrds use it): the one decoder
 * of its headers, for RPM payloads in memory (tree/install.c) and for
 * archives streamed through libarchive (inspect/from-archive.c).
 *
 * An entry is a 110-byte header, the name, padding to a multiple of 4 bytes
 * (counted from the start of the archive), the data, padding again. The
 * rules:
 *   - the magic is "070701" or "070702" (070702 adds a checksum of the data,
 *     which, as in rpm and the kernel, is not verified);
 *   - each of the 13 fields is 8 hexadecimal digits (either case);
 *   - the name size counts the terminating NUL: the name is 1 to
 *     CPIO_NAME_MAX - 1 bytes, none of them NUL, followed by one NUL;
 *   - the name, the data and their padding lie inside the archive;
 *   - the archive ends with the entry named "TRAILER!!!"; what follows it is
 *     not read. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_NEWC_HEADER_SIZE 110
#define CPIO_NAME_MAX 4096 /* with the NUL: PATH_MAX */
#define CPIO_TRAILER "TRAILER!!!"

typedef struct CpioNewcHeader {
        uint32_t ino, mode, uid, gid, nlink, mtime, filesize;
        uint32_t dev_major, dev_minor, rdev_major, rdev_minor, namesize, check;
        bool crc; /* magic 070702 */
} CpioNewcHeader;

/* Decodes the header at p: -EMEDIUMTYPE if the magic is not newc's,
 * -EBADMSG if a field is not hex or the name size is out of range. */
int cpio_newc_header_parse(const uint8_t p[static CPIO_NEWC_HEADER_SIZE], CpioNewcHeader *ret);

/* Checks the name as read (namesize bytes, NUL included): -EBADMSG if it
 * breaks the rules. odc archives (070707) name entries the same way. */
int cpio_name_check(const char *name, size_t namesize);

/* The padding after offset (from the start of the archive). */
static inline size_t cpio_newc_pad(uint64_t offset) {
        return (size_t) ((4 - offset % 4) % 4);
}

typedef struct CpioNewcEntry {
        CpioNewcHeader h;
        const char *name;    /* in the buffer, NUL-terminated */
        const uint8_t *data; /* in the buffer, h.filesize bytes */
        size_t data_offset;
} CpioNewcEntry;

/* Walks an archive in memory: *offset starts at 0. Returns 1 with *ret
 * filled and *offset moved to the next entry, 0 at the trailer, -EBADMSG if
 * the archive breaks a rule or ends before its trailer. */
int cpio_newc_next(const uint8_t *buf, size_t size, size_t *offset, CpioNewcEntry *ret);
