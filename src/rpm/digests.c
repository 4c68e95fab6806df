/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/hash.h"
#include "rpm/package.h"

static int hash_range(int fd, uint64_t off, uint64_t end, HashCtx **hs, size_t n) {
        uint8_t buf[1 << 16];
        while (off < end) {
                ssize_t k = pread(fd, buf, (size_t) MIN((uint64_t) sizeof buf, end - off), (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? negative_errno() : -EBADMSG;
                for (size_t i = 0; i < n; i++)
                        hash_update(hs[i], buf, (size_t) k);
                off += (uint64_t) k;
        }
        return 0;
}

static bool hex_equal(const uint8_t *md, size_t n, const char *hex) {
        char h[2 * HASH_MAX_SIZE + 1];
        hex_encode(md, n, h);
        return hex && strcasecmp(h, hex) == 0;
}

int rpm_package_check_digests(const char *path, const char **ret_what) {
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        *ret_what = NULL;
        r = rpm_package_read(path, &p);
        if (r == -EBADMSG || r == -ENODATA) {
                *ret_what = "not a valid RPM package (bad lead or header)";
                return -EBADMSG;
        }
        if (r < 0)
                return r;

        const char *sha256 = rpm_header_get_string(p->signature, RPMSIGTAG_SHA256);
        const char *sha1 = rpm_header_get_string(p->signature, RPMSIGTAG_SHA1);
        const char *payload = rpm_header_get_string(p->header, RPMTAG_PAYLOADDIGEST);
        RpmEntry md5e;
        bool has_md5 = rpm_header_get(p->signature, RPMSIGTAG_MD5, &md5e) >= 0 && md5e.type == RPM_BIN_TYPE &&
                       md5e.count == 16;
        uint64_t algo = PGPHASHALGO_SHA256;
        (void) rpm_header_get_number(p->header, RPMTAG_PAYLOADDIGESTALGO, &algo);

        if ((!sha256 && !sha1) || !payload) {
                *ret_what = "the package carries no header or payload digest";
                return -EBADMSG;
        }
        if (algo != PGPHASHALGO_SHA256) {
                *ret_what = "the payload digest uses an algorithm other than SHA-256";
                return -EBADMSG;
        }

        uint8_t md[HASH_MAX_SIZE];
        if (sha256) {
                hash_buffer(HASH_SHA256, p->header->blob, p->header->size, md);
                if (!hex_equal(md, 32, sha256)) {
                        *ret_what = "header SHA-256 digest mismatch";
                        return -EBADMSG;
                }
        }
        if (sha1) {
                hash_buffer(HASH_SHA1, p->header->blob, p->header->size, md);
                if (!hex_equal(md, 20, sha1)) {
                        *ret_what = "header SHA-1 digest mismatch";
                        return -EBADMSG;
                }
        }

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        _cleanup_(hash_freep) HashCtx *hp = hash_new(HASH_SHA256), *h5 = hash_new(HASH_MD5);
        if (!hp || !h5)
                return -ENOMEM;
        hash_update(h5, p->header->blob, p->header->size);
        HashCtx *hs[2] = { hp, h5 };
        r = hash_range(fd, p->payload_offset, p->file_size, hs, has_md5 ? 2 : 1);
        if (r < 0) {
                *ret_what = "cannot read the payload";
                return r;
        }
        if (hash_final(hp, md) < 0 || !hex_equal(md, 32, payload)) {
                *ret_what = "payload SHA-256 digest mismatch";
                return -EBADMSG;
        }
        if (has_md5) {
                if (hash_final(h5, md) < 0 || memcmp(md, md5e.data, 16) != 0) {
                        *ret_what = "MD5 digest mismatch";
                        return -EBADMSG;
                }
        }
        return 0;
}
