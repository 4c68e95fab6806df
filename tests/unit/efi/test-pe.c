/* SPDX-License-Identifier: MIT */

/* The PE reader and writer, UKI assembly and Authenticode signing, read
 * back by objdump and sbverify (skipped, and said so, when missing) and by
 * our own reader. Uses the build host's systemd-stub and systemd-boot
 * (Debian's systemd-boot-efi). */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit.h"
#include "basic/fileio.h"
#include "efi/pe-format.h"
#include "efi/pe.h"
#include "efi/signature-list.h"
#include "efi/uki.h"
#include "sign/authenticode.h"

#define STUB "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
#define SDBOOT "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

static char dir[] = "/tmp/test-pe-XXXXXX";

static bool have(const char *tool) {
        char cmd[256], *out = NULL;
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null", tool);
        int r = unit_run(cmd, &out, NULL);
        free(out);
        return r == 0;
}

static char *path(const char *name) {
        static char buf[8][256];
        static int k;
        char *p = buf[k++ % 8];
        snprintf(p, 256, "%s/%s", dir, name);
        return p;
}

static int run(const char *prog, const char *a, const char *b) {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s %s %s >/dev/null 2>&1", prog, a, b);
        int r = unit_run(cmd, &out, NULL);
        free(out);
        return r;
}

static void kernel_bytes(uint8_t *k, size_t n) {
        for (size_t i = 0; i < n; i++)
                k[i] = (uint8_t) (i * 7 + (i >> 9));
}

static int make_uki(PeImage *ret) {
        _cleanup_free_ char *stub = NULL;
        size_t stub_size;
        if (read_full_file(STUB, &stub, &stub_size) < 0)
                return -ENOENT;
        static uint8_t kernel[100000], initrd[3333];
        kernel_bytes(kernel, sizeof kernel);
        memset(initrd, 0x5a, sizeof initrd);
        const char osrel[] = "ID=test\nNAME=Test\n";
        UkiInputs in = {
                .stub = stub, .stub_size = stub_size,
                .os_release = osrel, .os_release_size = strlen(osrel),
                .cmdline = "root=PARTUUID=x console=ttyS0", .uname = "6.1.0-test",
                .kernel = kernel, .kernel_size = sizeof kernel,
                .initrd = initrd, .initrd_size = sizeof initrd,
        };
        return uki_build(&in, ret);
}

static void test_uki(void) {
        PeImage a = {}, b = {};
        if (access(STUB, R_OK) < 0) {
                printf("skipped test_uki: no %s (systemd-boot-efi)\n", STUB);
                return;
        }
        /* The checksum binutils wrote into the stub is ours. */
        _cleanup_free_ char *stub = NULL;
        size_t stub_size;
        PeImage st;
        CHECK(read_full_file(STUB, &stub, &stub_size) == 0);
        CHECK(pe_image_parse_copy(stub, stub_size, &st) == 0);
        CHECK(pe_image_checksum(&st) ==
              le32toh(((struct pe32plus_optional_header *) (st.data + st.opt_offset))->checksum));
        pe_image_release(&st);
        CHECK(make_uki(&a) == 0);
        CHECK(make_uki(&b) == 0);
        CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
        static const char *const order[] = { ".osrel", ".cmdline", ".uname", ".initrd", ".linux" };
        CHECK(a.n_sections >= 5);
        for (size_t i = 0; i < 5 && a.n_sections >= 5; i++) {
                const PeSection *s = &a.sections[a.n_sections - 5 + i];
                const PeSection *prev = s - 1;
                CHECK_STREQ(s->name, order[i]);
                CHECK(s->virtual_address % a.section_alignment == 0);
                CHECK(s->virtual_address >= prev->virtual_address + prev->virtual_size);
                CHECK(s->raw_offset % a.file_alignment == 0);
        }
        const PeSection *l = pe_image_find_section(&a, ".linux");
        CHECK(l && l->virtual_size == 100000 && (l->characteristics & PE_SCN_CNT_CODE));
        if (l) {
                static uint8_t k[100000];
                kernel_bytes(k, sizeof k);
                CHECK(memcmp(a.data + l->raw_offset, k, sizeof k) == 0);
        }
        const PeSection *c = pe_image_find_section(&a, ".cmdline");
        CHECK(c && c->virtual_size == strlen("root=PARTUUID=x console=ttyS0"));
        /* Read back: our reader on the bytes written, objdump. */
        PeImage again;
        CHECK(pe_image_parse_copy(a.data, a.size, &again) == 0);
        CHECK(again.n_sections == a.n_sections);
        pe_image_release(&again);
        CHECK(pe_image_checksum(&a) == le32toh(((struct pe32plus_optional_header *) (a.data + a.opt_offset))->checksum));
        CHECK(write_file_atomic(path("uki.efi"), a.data, a.size, 0644) == 0);
        if (have("objdump")) {
                char *out = NULL;
                char cmd[512];
                snprintf(cmd, sizeof cmd, "objdump -h %s", path("uki.efi"));
                CHECK(unit_run(cmd, &out, NULL) == 0);
                CHECK(out && strstr(out, ".osrel") && strstr(out, ".cmdline") && strstr(out, ".linux") &&
                      strstr(out, ".initrd") && strstr(out, ".uname"));
                free(out);
                CHECK(run("objcopy -O binary --only-section=.cmdline", path("uki.efi"), path("cmdline")) == 0);
                _cleanup_free_ char *cl = NULL;
                size_t n;
                CHECK(read_full_file(path("cmdline"), &cl, &n) == 0 && n == 29 && cl &&
                      memcmp(cl, "root=PARTUUID=x console=ttyS0", 29) == 0);
        } else
                printf("skipped objdump checks: no objdump (binutils)\n");
        pe_image_release(&a);
        pe_image_release(&b);
}

static int keypair(const char *name, SbKey **ret) {
        _cleanup_free_ char *k = NULL, *c = NULL;
        char kp[300], cp[300];
        int which;
        const char *why;
        snprintf(kp, sizeof kp, "%s/%s.key", dir, name);
        snprintf(cp, sizeof cp, "%s/%s.crt", dir, name);
        int r = sb_keygen(name, 1767225600, &k, &c);
        if (r < 0)
                return r;
        if (write_file_atomic(kp, k, strlen(k), 0600) < 0 || write_file_atomic(cp, c, strlen(c), 0644) < 0)
                return -EIO;
        return sb_key_load(kp, cp, ret, &which, &why);
}

static void test_sign(void) {
        _cleanup_(sb_key_freep) SbKey *k = NULL, *other = NULL;
        PeImage uki = {}, sd = {};
        CHECK(keypair("test", &k) == 0);
        CHECK(keypair("other", &other) == 0);
        if (!k || !other || access(STUB, R_OK) < 0) {
                printf("skipped test_sign: no key or no %s\n", STUB);
                return;
        }
        /* Mismatched pair. */
        SbKey *bad = NULL;
        int which = -1;
        const char *why = NULL;
        CHECK(sb_key_load(path("test.key"), path("other.crt"), &bad, &which, &why) == -EKEYREJECTED && which == 1);
        CHECK(sb_key_load(path("test.crt"), path("test.crt"), &bad, &which, &why) == -EBADMSG && which == 0);

        CHECK(make_uki(&uki) == 0);
        CHECK(authenticode_sign(&uki, k) == 0);
        CHECK(uki.cert_size > 0 && uki.cert_offset % 8 == 0 && uki.cert_offset + uki.cert_size == uki.size);
        CHECK(write_file_atomic(path("signed.efi"), uki.data, uki.size, 0644) == 0);
        /* Signing again replaces the signature: same bytes (deterministic). */
        size_t size1 = uki.size;
        uint8_t *copy = malloc(size1);
        memcpy(copy, uki.data, size1);
        CHECK(authenticode_sign(&uki, k) == 0);
        CHECK(uki.size == size1 && memcmp(copy, uki.data, size1) == 0);
        free(copy);
        CHECK(pe_image_checksum(&uki) == le32toh(((struct pe32plus_optional_header *) (uki.data + uki.opt_offset))->checksum));

        _cleanup_free_ char *sdb = NULL;
        size_t sdn;
        if (read_full_file(SDBOOT, &sdb, &sdn) == 0) {
                CHECK(pe_image_parse((uint8_t *) TAKE_PTR(sdb), sdn, &sd) == 0);
                CHECK(authenticode_sign(&sd, k) == 0);
                CHECK(write_file_atomic(path("sdboot.efi"), sd.data, sd.size, 0644) == 0);
        }
        if (!have("sbverify")) {
                printf("skipped sbverify checks: no sbverify (sbsigntool)\n");
        } else {
                CHECK(run("sbverify --cert", path("test.crt"), path("signed.efi")) == 0);
                CHECK(run("sbverify --cert", path("other.crt"), path("signed.efi")) != 0);
                if (sd.data)
                        CHECK(run("sbverify --cert", path("test.crt"), path("sdboot.efi")) == 0);
                /* One byte of the kernel changed. */
                const PeSection *l = pe_image_find_section(&uki, ".linux");
                if (l) {
                        uki.data[l->raw_offset + 1000] ^= 1;
                        CHECK(write_file_atomic(path("altered.efi"), uki.data, uki.size, 0644) == 0);
                        CHECK(run("sbverify --cert", path("test.crt"), path("altered.efi")) != 0);
                }
        }
        pe_image_release(&uki);
        pe_image_release(&sd);
}

static void test_esl(void) {
        const uint8_t der[3] = { 1, 2, 3 }, owner[16] = { 9 };
        _cleanup_free_ uint8_t *b = NULL;
        size_t n = 0;
        CHECK(efi_signature_list_x509(der, 3, owner, &b, &n) == 0);
        CHECK(n == 28 + 16 + 3 && b && memcmp(b, efi_cert_x509_guid, 16) == 0 && b[16] == n && b[24] == 19 &&
              b[28] == 9 && b[44] == 1);
}

/* Malformed input is refused, never read past (the fuzz target goes on). */
static void test_malformed(void) {
        _cleanup_free_ char *stub = NULL;
        size_t n;
        PeImage pe;
        CHECK(pe_image_parse_copy("MZ", 2, &pe) == -EBADMSG);
        if (read_full_file(STUB, &stub, &n) < 0)
                return;
        for (size_t cut = 0; cut < 0x400; cut += 7)
                CHECK(pe_image_parse_copy(stub, cut, &pe) == -EBADMSG);
        /* A section reaching past the end of the file. */
        char *bad = malloc(n);
        memcpy(bad, stub, n);
        uint32_t lf;
        memcpy(&lf, bad + 0x3c, 4);
        uint32_t huge = 0x7fffffff;
        memcpy(bad + lf + 24 + 240 + 16, &huge, 4);
        CHECK(pe_image_parse_copy(bad, n, &pe) == -EBADMSG);
        free(bad);
}

static void setup(void) {
        if (!mkdtemp(dir))
                abort();
}

static void cleanup(void) {
        char cmd[300], *out = NULL;
        if (getenv("TEST_PE_KEEP")) {
                printf("kept %s\n", dir);
                return;
        }
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        (void) unit_run(cmd, &out, NULL);
        free(out);
}

UNIT_MAIN(setup, test_uki, test_sign, test_esl, test_malformed, cleanup)
