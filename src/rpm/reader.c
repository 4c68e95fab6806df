/* SPDX-License-Identifier: MIT */

/* Reading a package file up to its payload: lead, signature header (padded to
 * 8 bytes), main header (LSB Core, "Package File Format"). */

#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "rpm/package.h"

RpmPackage *rpm_package_free(RpmPackage *p) {
        if (!p)
                return NULL;
        rpm_header_free(p->signature);
        rpm_header_free(p->header);
        free(p);
        return NULL;
}

/* Headers are at most 16 + 16 * 65536 + 256 MiB; read what the intro says. */
static int read_exact(int fd, uint64_t off, void *buf, size_t n) {
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = pread(fd, p, n, (off_t) off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -ENODATA;
                p += k;
                off += (uint64_t) k;
                n -= (size_t) k;
        }
        return 0;
}

static int check_lead(const RpmLead *lead) {
        static const uint8_t magic[4] = { 0xED, 0xAB, 0xEE, 0xDB };
        if (memcmp(lead->magic, magic, 4) != 0)
                return -EBADMSG;
        if (lead->major < 3 || lead->major > 4 || be16toh(lead->signature_type) != 5)
                return -EBADMSG;
        return 0;
}

static int read_header_at(int fd, uint64_t off, uint64_t file_size, RpmHeader **ret, size_t *ret_size) {
        uint8_t intro[RPM_HEADER_INTRO_SIZE];
        int r = read_exact(fd, off, intro, sizeof intro);
        if (r < 0)
                return r == -ENODATA ? -EBADMSG : r;
        uint32_t il, dl;
        memcpy(&il, intro + 8, 4);
        memcpy(&dl, intro + 12, 4);
        il = be32toh(il);
        dl = be32toh(dl);
        if (il == 0 || il > RPM_HEADER_MAX_ENTRIES || dl > RPM_HEADER_MAX_DATA)
                return -EBADMSG;
        uint64_t size = RPM_HEADER_INTRO_SIZE + (uint64_t) il * 16 + dl;
        if (off + size > file_size)
                return -EBADMSG;
        _cleanup_free_ uint8_t *buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        r = read_exact(fd, off, buf, size);
        if (r < 0)
                return r == -ENODATA ? -EBADMSG : r;
        r = rpm_header_parse(buf, size, ret, ret_size);
        return r == -ENODATA ? -EBADMSG : r;
}

/* The type, count and size (a string's with its NUL) rpm requires of each
 * signature tag it checks (lib/rpmvs.c, rpmvfytags); 0: any. A package
 * whose signature header breaks one is refused by `rpm -K`. */
static const struct {
        uint32_t tag;
        RpmType type;
        uint32_t count, size;
} sig_tags[] = {
        { RPMSIGTAG_SIZE, RPM_INT32_TYPE, 1, 4 },
        { RPMSIGTAG_PGP, RPM_BIN_TYPE, 0, 0 },
        { RPMSIGTAG_MD5, RPM_BIN_TYPE, 16, 16 },
        { RPMSIGTAG_GPG, RPM_BIN_TYPE, 0, 0 },
        { RPMSIGTAG_PAYLOADSIZE, RPM_INT32_TYPE, 1, 4 },
        { RPMSIGTAG_RESERVEDSPACE, RPM_BIN_TYPE, 0, 0 },
        { RPMSIGTAG_DSA, RPM_BIN_TYPE, 0, 0 },
        { RPMSIGTAG_RSA, RPM_BIN_TYPE, 0, 0 },
        { RPMSIGTAG_SHA1, RPM_STRING_TYPE, 1, 41 },
        { RPMSIGTAG_LONGSIZE, RPM_INT64_TYPE, 1, 8 },
        { RPMSIGTAG_LONGARCHIVESIZE, RPM_INT64_TYPE, 1, 8 },
        { RPMSIGTAG_SHA256, RPM_STRING_TYPE, 1, 65 },
};

static int check_headers(const RpmPackage *p) {
        int r = rpm_header_check_package(p->signature, RPMTAG_HEADERSIGNATURES);
        if (r >= 0)
                r = rpm_header_check_package(p->header, RPMTAG_HEADERIMMUTABLE);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(sig_tags); i++) {
                RpmEntry e;
                if (rpm_header_get(p->signature, sig_tags[i].tag, &e) < 0)
                        continue;
                if (e.type != sig_tags[i].type || (sig_tags[i].count && e.count != sig_tags[i].count) ||
                    (sig_tags[i].size && e.size != sig_tags[i].size))
                        return -EBADMSG;
        }
        return 0;
}

int rpm_package_read(const char *path, RpmPackage **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return rpm_package_read_fd(fd, ret);
}

int rpm_package_read_fd(int fd, RpmPackage **ret) {
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        struct stat st;
        size_t sz;
        int r;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        p = new0(RpmPackage, 1);
        if (!p)
                return -ENOMEM;
        p->file_size = (uint64_t) st.st_size;
        if (p->file_size < sizeof(RpmLead))
                return -EBADMSG;
        r = read_exact(fd, 0, &p->lead, sizeof p->lead);
        if (r < 0)
                return r;
        r = check_lead(&p->lead);
        if (r < 0)
                return r;

        r = read_header_at(fd, sizeof(RpmLead), p->file_size, &p->signature, &sz);
        if (r < 0)
                return r;
        p->header_offset = sizeof(RpmLead) + sz + (8 - sz % 8) % 8;
        r = read_header_at(fd, p->header_offset, p->file_size, &p->header, &sz);
        if (r < 0)
                return r;
        p->payload_offset = p->header_offset + sz;
        r = check_headers(p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int rpm_package_parse(const void *data, size_t size, RpmPackage **ret) {
        _cleanup_(rpm_package_freep) RpmPackage *p = new0(RpmPackage, 1);
        const uint8_t *d = data;
        size_t sz;
        int r;

        if (!p)
                return -ENOMEM;
        if (size < sizeof(RpmLead))
                return -EBADMSG;
        memcpy(&p->lead, d, sizeof p->lead);
        r = check_lead(&p->lead);
        if (r < 0)
                return r;
        r = rpm_header_parse(d + sizeof(RpmLead), size - sizeof(RpmLead), &p->signature, &sz);
        if (r < 0)
                return r == -ENODATA ? -EBADMSG : r;
        p->header_offset = sizeof(RpmLead) + sz + (8 - sz % 8) % 8;
        if (p->header_offset > size)
                return -EBADMSG;
        r = rpm_header_parse(d + p->header_offset, size - p->header_offset, &p->header, &sz);
        if (r < 0)
                return r == -ENODATA ? -EBADMSG : r;
        p->payload_offset = p->header_offset + sz;
        p->file_size = size;
        r = check_headers(p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
