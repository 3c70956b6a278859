/* json-glib helpers shared by the config readers (private). */
#pragma once

#include "convnext.h"

#include <json-glib/json-glib.h>

/* Sets CONVNEXT_ERROR_INVALID_CONFIG "invalid <key> in <path>: expected <fmt…>, got <node>";
 * returns FALSE. @got may be NULL (a missing key). */
gboolean convnext_json_invalid (GError **error, const char *path, const char *key, JsonNode *got,
    const char *expected_fmt, ...) G_GNUC_PRINTF (5, 6);

/* Deepest nesting of arrays and objects convnext_json_load() accepts: json-glib's parser
 * recurses once per level, and no config or safetensors header needs more than a few. */
#define CONVNEXT_JSON_MAX_DEPTH 64

/* json_parser_load_from_data() on @length bytes of @text, refusing as well what json-glib
 * would read dangerously or wrongly: nesting deeper than CONVNEXT_JSON_MAX_DEPTH (checked
 * before parsing) and integers outside gint64 (json-glib wraps them: 18446744073709551616
 * reads as -1).  On failure the message names neither the file nor a code: callers prefix
 * it ("invalid JSON in <file>: …") and set their own code. */
gboolean convnext_json_load (JsonParser *parser, const char *text, gsize length,
    GError **error);

/* TRUE for a JSON integer (json-glib's INT64); NULL is not. */
gboolean convnext_json_is_int (JsonNode *node);

/* TRUE for a JSON integer or floating-point number; NULL is not. */
gboolean convnext_json_is_number (JsonNode *node);
