/* SPDX-License-Identifier: MIT */

/* `slipway toml-json FILE|-`: the document as toml-test's tagged JSON, a
 * debugging aid and the interface the conformance suite drives. */

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config/toml.h"

static json_t *tagged(const char *type, const char *value) {
        return json_pack("{s:s, s:s}", "type", type, "value", value);
}

static json_t *to_json(const TomlValue *v) {
        char buf[64];

        switch (v->type) {
        case TOML_TABLE: {
                json_t *o = json_object();
                if (!o)
                        return NULL;
                for (size_t i = 0; i < v->table.n; i++) {
                        const TomlEntry *e = &v->table.entries[i];
                        json_t *c = to_json(e->value);
                        if (!c || json_object_setn_new(o, e->key, e->key_len, c) < 0) {
                                json_decref(o);
                                return NULL;
                        }
                }
                return o;
        }
        case TOML_ARRAY: {
                json_t *a = json_array();
                if (!a)
                        return NULL;
                for (size_t i = 0; i < v->array.n; i++) {
                        json_t *c = to_json(v->array.items[i]);
                        if (!c || json_array_append_new(a, c) < 0) {
                                json_decref(a);
                                return NULL;
                        }
                }
                return a;
        }
        case TOML_STRING: {
                json_t *s = json_stringn(v->string.s, v->string.len);
                if (!s)
                        return NULL;
                return json_pack("{s:s, s:o}", "type", "string", "value", s);
        }
        case TOML_INTEGER:
                snprintf(buf, sizeof buf, "%" PRId64, v->integer);
                return tagged("integer", buf);
        case TOML_FLOAT:
                if (isnan(v->floating))
                        snprintf(buf, sizeof buf, "nan");
                else if (isinf(v->floating))
                        snprintf(buf, sizeof buf, "%sinf", v->floating < 0 ? "-" : "");
                else
                        snprintf(buf, sizeof buf, "%.17g", v->floating);
                return tagged("float", buf);
        case TOML_BOOL:
                return tagged("bool", v->boolean ? "true" : "false");
        default:
                return tagged(toml_type_to_tag(v->type), v->datetime.text);
        }
}

int verb_toml_json(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(toml_document_freep) TomlDocument *doc = NULL;
        const char *path = argv[0];
        int r;

        (void) argc;

        r = toml_parse_file(path, strcmp(path, "-") == 0 ? "<stdin>" : path, &diag, &doc);
        if (r < 0) {
                if (diag.n == 0)
                        log_error_errno(r, "cannot parse '%s'", path);
                log_diagnostics(&diag);
                return EXIT_FAILURE_USER;
        }

        json_t *j = to_json(doc->root);
        if (!j) {
                log_error_errno(-ENOMEM, "cannot convert '%s' to JSON", path);
                return EXIT_FAILURE_USER;
        }
        if (ctx->json) {
                cli_result_set(j); /* the same document, printed by main() */
                return EXIT_OK;
        }
        r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        json_decref(j);
        if (r < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
                log_error("cannot write to standard output");
                return EXIT_FAILURE_USER;
        }
        return EXIT_OK;
}
