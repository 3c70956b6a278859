/* json-glib helpers shared by the config readers (private). */
#pragma once

#include "convnext.h"

#include <json-glib/json-glib.h>

/* Sets CONVNEXT_ERROR_INVALID_CONFIG "invalid <key> in <path>: expected <fmt…>, got <node>";
 * returns FALSE. @got may be NULL (a missing key). */
gboolean convnext_json_invalid (GError **error, const char *path, const char *key, JsonNode *got,
    const char *expected_fmt, ...) G_GNUC_PRINTF (5, 6);

/* TRUE for a JSON integer (json-glib's INT64); NULL is not. */
gboolean convnext_json_is_int (JsonNode *node);

/* TRUE for a JSON integer or floating-point number; NULL is not. */
gboolean convnext_json_is_number (JsonNode *node);
