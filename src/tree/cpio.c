/* SPDX-License-Identifier: MIT */

#include <errno.h>
#include <string.h>

#include "tree/cpio.h"

int cpio_newc_header_parse(const uint8_t p[static CPIO_NEWC_HEADER_SIZE], CpioNewcHeader *ret) {
        if (memcmp(p, "07070", 5) != 0 || (p[5] != '1' && p[5] != '2'))
                return -EMEDIUMTYPE;
        uint32_t v[13];
        for (size_t f = 0; f < 13; f++) {
                uint32_t x = 0;
                for (size_t k = 0; k < 8; k++) {
                        uint8_t c = p[6 + f * 8 + k];
                        int d = c >= '0' && c <= '9'   ? c - '0'
                                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                       : -1;
                        if (d < 0)
                                return -EBADMSG;
                        x = x << 4 | (uint32_t) d;
                }
                v[f] = x;
        }
        /* ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check */
        if (v[11] < 2 || v[11] > CPIO_NAME_MAX)
                return -EBADMSG;
        *ret = (CpioNewcHeader) { .ino = v[0], .mode = v[1], .uid = v[2], .gid = v[3], .nlink = v[4], .mtime = v[5],
                                  .filesize = v[6], .dev_major = v[7], .dev_minor = v[8], .rdev_major = v[9],
                                  .rdev_minor = v[10], .namesize = v[11], .check = v[12], .crc = p[5] == '2' };
        return 0;
}

int cpio_name_check(const char *name, size_t namesize) {
        if (namesize < 2 || namesize > CPIO_NAME_MAX || name[namesize - 1] != 0 ||
            memchr(name, 0, namesize - 1) != NULL)
                return -EBADMSG;
        return 0;
}

int cpio_newc_next(const uint8_t *buf, size_t size, size_t *offset, CpioNewcEntry *ret) {
        size_t off = *offset;
        CpioNewcHeader h;
        if (off > size || size - off < CPIO_NEWC_HEADER_SIZE || cpio_newc_header_parse(buf + off, &h) < 0)
                return -EBADMSG;
        uint64_t name_at = (uint64_t) off + CPIO_NEWC_HEADER_SIZE;
        if (name_at + h.namesize > size || cpio_name_check((const char *) buf + name_at, h.namesize) < 0)
                return -EBADMSG;
        const char *name = (const char *) buf + name_at;
        if (strcmp(name, CPIO_TRAILER) == 0)
                return 0; /* its padding may be cut off: nothing follows */
        uint64_t data_at = name_at + h.namesize + cpio_newc_pad(name_at + h.namesize);
        if (data_at > size)
                return -EBADMSG;
        uint64_t end = data_at + h.filesize;
        end += cpio_newc_pad(end);
        if (end > size)
                return -EBADMSG;
        *ret = (CpioNewcEntry) { .h = h, .name = name, .data = buf + data_at, .data_offset = (size_t) data_at };
        *offset = (size_t) end;
        return 1;
}
