/* SPDX-License-Identifier: MIT */

/* libFuzzer target: repository metadata (repomd.xml and primary.xml), which
 * slipway verify and the image composer read from remote repositories. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "repo/repo.h"
#include "repo/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RepoMdData *md = NULL;
        RepoPrimaryPackage *pk = NULL;
        size_t n = 0;

        if (repomd_parse((const char *) data, size, &md, &n) >= 0)
                repomd_free_array(md, n);
        if (primary_parse((const char *) data, size, &pk, &n) >= 0)
                primary_free_array(pk, n);

        /* Every event and attribute of the raw reader too. */
        XmlReader r;
        XmlEvent ev;
        xml_reader_init(&r, (const char *) data, size);
        while (xml_next(&r, &ev) >= 0 && ev.type != XML_EOF) {
                for (size_t i = 0; i < ev.n_attrs; i++)
                        free(xml_unescape(ev.attr_values[i]));
                if (ev.type == XML_TEXT && !ev.cdata)
                        free(xml_unescape(ev.text));
        }
        return 0;
}
