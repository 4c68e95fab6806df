/* SPDX-License-Identifier: MIT */

/* The UKI's layout follows systemd's ukify (src/ukify/ukify.py, systemd
 * 253 and later): sections after the stub's at SectionAlignment-aligned
 * addresses, data at FileAlignment-aligned offsets, SizeOfImage the end of
 * the last one. systemd-stub finds them by name (src/boot/efi/stub.c). */

#include <errno.h>
#include <string.h>

#include "efi/pe-format.h"
#include "efi/uki.h"

int uki_build(const UkiInputs *in, PeImage *ret) {
        static const char *const ours[] = { ".osrel", ".cmdline", ".uname", ".initrd", ".linux" };
        PeImage pe;
        int r = pe_image_parse_copy(in->stub, in->stub_size, &pe);
        if (r < 0)
                return r;
        if (pe.cert_size)
                r = -EBADMSG; /* a signed stub: its signature would not cover what we add */
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(ours); i++)
                if (pe_image_find_section(&pe, ours[i]))
                        r = -EBADMSG;
        if (r >= 0)
                r = pe_image_strip_symbols(&pe);

        const uint32_t data = PE_SCN_CNT_INITIALIZED_DATA | PE_SCN_MEM_READ;
        if (r >= 0)
                r = pe_image_add_section(&pe, ".osrel", in->os_release, in->os_release_size, data);
        if (r >= 0)
                r = pe_image_add_section(&pe, ".cmdline", in->cmdline, strlen(in->cmdline), data);
        if (r >= 0)
                r = pe_image_add_section(&pe, ".uname", in->uname, strlen(in->uname), data);
        if (r >= 0 && in->initrd)
                r = pe_image_add_section(&pe, ".initrd", in->initrd, in->initrd_size, data);
        /* Code: kernels booted through the EFI handover protocol run in place. */
        if (r >= 0)
                r = pe_image_add_section(&pe, ".linux", in->kernel, in->kernel_size, PE_SCN_CNT_CODE | PE_SCN_MEM_READ);
        if (r < 0) {
                pe_image_release(&pe);
                return r;
        }
        pe_image_update_checksum(&pe);
        *ret = pe;
        return 0;
}
