/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "rpm/header.h"
#include "rpm/package.h"
#include "sign/rpmsign.h"

/* Signature tags a new signature replaces: header signatures and the legacy
 * header+payload ones, and the space rpmsign reserves for signing in place. */
static bool replaced_tag(uint32_t tag) {
        return tag == RPMSIGTAG_RSA || tag == RPMSIGTAG_DSA || tag == RPMSIGTAG_PGP || tag == RPMSIGTAG_GPG ||
               tag == RPMSIGTAG_RESERVEDSPACE || tag == RPMTAG_HEADERSIGNATURES;
}

static int copy_range(int in, off_t off, off_t len, int out) {
        char buf[1 << 16];
        while (len > 0) {
                ssize_t n = pread(in, buf, (size_t) MIN((off_t) sizeof buf, len), off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EBADMSG;
                int r = loop_write(out, buf, (size_t) n);
                if (r < 0)
                        return r;
                off += n;
                len -= n;
        }
        return 0;
}

int rpm_sign_file(const PgpKey *k, const char *path, uint32_t created) {
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        _cleanup_(rpm_header_builder_freep) RpmHeaderBuilder *b = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *sighdr = NULL;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        size_t sig_len, sighdr_len;
        int r;

        /* One descriptor for reading the headers and copying the payload: the
         * file may be replaced by a rename meanwhile, never mixed. */
        in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
                return negative_errno();
        r = rpm_package_read_fd(in, &p);
        if (r < 0)
                return r;
        r = pgp_sign(k, p->header->blob, p->header->size, created, &sig, &sig_len);
        if (r < 0)
                return r;

        b = rpm_header_builder_new();
        if (!b)
                return -ENOMEM;
        for (uint32_t i = 0; i < p->signature->n_entries; i++) {
                RpmEntry e;
                r = rpm_header_entry_at(p->signature, i, &e);
                if (r < 0)
                        return r;
                if (!replaced_tag(e.tag))
                        rpm_header_add_raw(b, &e);
        }
        rpm_header_add_bin(b, pgp_key_algo(k) == PGP_ALGO_RSA ? RPMSIGTAG_RSA : RPMSIGTAG_DSA, sig, sig_len);
        r = rpm_header_build(b, RPMTAG_HEADERSIGNATURES, &sighdr, &sighdr_len);
        if (r < 0)
                return r;

        struct stat st;
        if (fstat(in, &st) < 0)
                return negative_errno();
        out = tmpfile_open(path, &tmp);
        if (out < 0)
                return out;

        static const uint8_t zeros[8];
        size_t pad = (8 - sighdr_len % 8) % 8;
        r = loop_write(out, &p->lead, sizeof p->lead);
        if (r >= 0)
                r = loop_write(out, sighdr, sighdr_len);
        if (r >= 0)
                r = loop_write(out, zeros, pad);
        if (r >= 0)
                r = copy_range(in, (off_t) p->header_offset, (off_t) (p->file_size - p->header_offset), out);
        return tmpfile_commit(r, out, tmp, path, st.st_mode & 07777);
}

/* The package at path and its header signature (RSAHEADER, else
 * DSAHEADER): -ENODATA if it has none, -EBADMSG if that is not binary. */
static int read_header_signature(const char *path, RpmPackage **ret, RpmEntry *ret_sig) {
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        int r = rpm_package_read(path, &p);
        if (r < 0)
                return r;
        if (rpm_header_get(p->signature, RPMSIGTAG_RSA, ret_sig) < 0 &&
            rpm_header_get(p->signature, RPMSIGTAG_DSA, ret_sig) < 0)
                return -ENODATA;
        if (ret_sig->type != RPM_BIN_TYPE)
                return -EBADMSG;
        *ret = TAKE_PTR(p);
        return 0;
}

int rpm_verify_signature(const PgpKey *k, const char *path) {
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        RpmEntry e;
        int r = read_header_signature(path, &p, &e);
        if (r < 0)
                return r;
        /* rpm -K checks the legacy header+payload signatures too (not done
         * here): one that is not even an OpenPGP signature fails there. */
        static const uint32_t legacy[] = { RPMSIGTAG_PGP, RPMSIGTAG_GPG };
        for (size_t i = 0; i < ELEMENTSOF(legacy); i++) {
                RpmEntry l;
                unsigned algo;
                if (rpm_header_get(p->signature, legacy[i], &l) >= 0 && pgp_signature_hash(l.data, l.size, &algo) < 0)
                        return -EBADMSG;
        }
        r = pgp_signature_has_key_id(e.data, e.size);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOMSG; /* rpm could not find the key */
        return pgp_verify(k, e.data, e.size, p->header->blob, p->header->size);
}

int rpm_signature_hash(const char *path, unsigned *ret_algo) {
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        RpmEntry e;
        int r = read_header_signature(path, &p, &e);
        if (r < 0)
                return r;
        return pgp_signature_hash(e.data, e.size, ret_algo);
}
