/* json-glib helpers shared by the config.json and preprocessor_config.json readers: every
 * type/range error reads "invalid <key> in <file>: expected …, got …". */
#include "json-util.h"

#include <string.h>

/* What a node holds, for "got …" in error messages. */
static char *
describe_node (JsonNode *node)
{
  if (node == NULL)
    return g_strdup ("nothing (key missing)");
  if (JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("null");
  if (JSON_NODE_HOLDS_ARRAY (node) || JSON_NODE_HOLDS_OBJECT (node)) {
    g_autofree char *json = json_to_string (node, FALSE);
    g_autofree char *head = NULL;
    if (g_utf8_strlen (json, -1) <= 60)
      return g_steal_pointer (&json);
    head = g_utf8_substring (json, 0, 57);
    return g_strconcat (head, "...", NULL);
  }
  switch (json_node_get_value_type (node)) {
    case G_TYPE_STRING:
      return g_strdup_printf ("\"%.40s\"", json_node_get_string (node));
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? "true" : "false");
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE: {
      /* "3.0", not "3": the type is what may be wrong */
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      double v = json_node_get_double (node);
      g_ascii_formatd (buf, sizeof buf, "%.15g", v);
      if (g_ascii_strtod (buf, NULL) != v)
        g_ascii_formatd (buf, sizeof buf, "%.17g", v);
      return g_strdup_printf ("%s%s", buf, strpbrk (buf, ".eEn") ? "" : ".0");
    }
    default:
      return g_strdup ("a value");
  }
}

/* The one helper behind every config error: "invalid <key> in <file>: expected …, got …". */
gboolean
convnext_json_invalid (GError **error, const char *path, const char *key, JsonNode *got,
    const char *expected_fmt, ...)
{
  va_list args;
  g_autofree char *expected = NULL;
  g_autofree char *got_text = describe_node (got);

  va_start (args, expected_fmt);
  expected = g_strdup_vprintf (expected_fmt, args);
  va_end (args);
  g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
      "invalid %s in %s: expected %s, got %s", key, path, expected, got_text);
  return FALSE;
}

gboolean
convnext_json_is_int (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64;
}

gboolean
convnext_json_is_number (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && (json_node_get_value_type (node) == G_TYPE_INT64
      || json_node_get_value_type (node) == G_TYPE_DOUBLE);
}

