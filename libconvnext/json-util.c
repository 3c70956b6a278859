/* json-glib helpers shared by the config.json and preprocessor_config.json readers: every
 * type/range error reads "invalid <key> in <file>: expected …, got …". */
#include "json-util.h"
#include "checkpoint.h"

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
  g_autofree char *message = NULL;

  va_start (args, expected_fmt);
  expected = g_strdup_vprintf (expected_fmt, args);
  va_end (args);
  message = g_strdup_printf ("invalid %s in %s: expected %s, got %s", key, path, expected,
      got_text);
  convnext_set_error_literal_utf8 (error, CONVNEXT_ERROR_INVALID_CONFIG, message);
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


/* ---- what json-glib would read wrongly --------------------------------------------------- */

/* An open array or object while scanning. */
typedef struct {
  gboolean object;
  gsize base;                   /* length of the key path at the container */
  guint index;                  /* arrays: the current element */
  gboolean want_key;            /* objects: the next string is a key */
} Frame;

/* Sets @path to the key path of the current element: depths[2], size["shortest_edge"]. */
static void
set_element (GString *path, const Frame *frame, const char *key, gsize key_len)
{
  g_string_truncate (path, frame->base);
  if (!frame->object)
    g_string_append_printf (path, "[%u]", frame->index);
  else if (frame->base == 0)
    g_string_append_len (path, key, MIN (key_len, 60));
  else
    g_string_append_printf (path, "[\"%.*s\"]", (int) MIN (key_len, 60), key);
}

/* TRUE if the integer literal @lit (optional '-', digits) fits in gint64. */
static gboolean
fits_int64 (const char *lit, gsize len)
{
  gboolean negative = len > 0 && lit[0] == '-';
  const char *limit = negative ? "9223372036854775808" : "9223372036854775807";

  lit += negative;
  len -= negative;
  while (len > 1 && lit[0] == '0') {
    lit++;
    len--;
  }
  return len < 19 || (len == 19 && memcmp (lit, limit, 19) <= 0);
}

/* json-glib's scanner also takes escapes that JSON does not have (\351: octal, read as byte
 * 0xe9) and lone UTF-16 surrogates, and hands back strings that are not UTF-8 (labels in
 * GstStructures and JSON output, names in messages).  Checks the escape at text[*i] ('\\')
 * and leaves *i on its last character. */
static gboolean
check_escape (const char *text, gsize length, gsize *i, const GString *path, GError **error)
{
  const char *what = NULL;
  gsize at = *i;
  guint code = 0;

  if (at + 1 >= length || strchr ("\"\\/bfnrtu", text[at + 1]) == NULL || text[at + 1] == '\0') {
    what = "an escape that JSON does not have";
  } else if (text[at + 1] == 'u') {
    for (guint k = 0; k < 4 && what == NULL; k++) {
      if (at + 2 + k >= length || !g_ascii_isxdigit (text[at + 2 + k]))
        what = "\\u without 4 hex digits";
      else
        code = code * 16 + g_ascii_xdigit_value (text[at + 2 + k]);
    }
    if (what == NULL && code >= 0xdc00 && code <= 0xdfff)
      what = "a lone low surrogate";
    else if (what == NULL && code >= 0xd800 && code <= 0xdbff) {
      /* must be followed by \uDC00-\uDFFF */
      guint low = 0;
      gboolean ok = at + 11 < length && text[at + 6] == '\\' && text[at + 7] == 'u';
      for (guint k = 0; ok && k < 4; k++) {
        ok = g_ascii_isxdigit (text[at + 8 + k]);
        low = low * 16 + (ok ? g_ascii_xdigit_value (text[at + 8 + k]) : 0);
      }
      if (!ok || low < 0xdc00 || low > 0xdfff)
        what = "a high surrogate without its low half";
      else
        at += 6;
    }
    if (what == NULL)
      at += 4;
  }
  if (what != NULL) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
        "%s%sa string holds %s at byte %" G_GSIZE_FORMAT, path->str, path->len > 0 ? ": " : "",
        what, *i);
    return FALSE;
  }
  *i = at + 1;
  return TRUE;
}

/* One pass over the text: strings skipped (with their escapes), brackets counted, integer
 * literals checked.  Safe on any bytes; invalid JSON is json-glib's to report.  Sets
 * @too_deep when that is the problem. */
static gboolean
scan_json (const char *text, gsize length, gboolean *too_deep, GError **error)
{
  g_autoptr (GString) path = g_string_new (NULL);
  g_autoptr (GArray) frames = g_array_new (FALSE, FALSE, sizeof (Frame));

  *too_deep = FALSE;
  for (gsize i = 0; i < length; i++) {
    Frame *top = frames->len > 0 ? &g_array_index (frames, Frame, frames->len - 1) : NULL;
    char c = text[i];

    if (c == '"') {
      gsize start = ++i;
      while (i < length && text[i] != '"') {
        if (text[i] == '\\' && !check_escape (text, length, &i, path, error))
          return FALSE;
        i++;
      }
      if (top != NULL && top->object && top->want_key) {
        top->want_key = FALSE;
        set_element (path, top, text + start, MIN (i, length) - start);
      }
    } else if (c == '{' || c == '[') {
      Frame frame = { c == '{', path->len, 0, c == '{' };
      if (frames->len == CONVNEXT_JSON_MAX_DEPTH) {
        *too_deep = TRUE;
        g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
            "arrays and objects nested deeper than %d levels (at byte %" G_GSIZE_FORMAT ")",
            CONVNEXT_JSON_MAX_DEPTH, i);
        return FALSE;
      }
      g_array_append_val (frames, frame);
      if (c == '[')
        set_element (path, &frame, NULL, 0);
    } else if (c == '}' || c == ']') {
      if (top != NULL) {
        g_string_truncate (path, top->base);
        g_array_set_size (frames, frames->len - 1);
      }
    } else if (c == ',' && top != NULL) {
      if (top->object) {
        top->want_key = TRUE;
      } else {
        top->index++;
        set_element (path, top, NULL, 0);
      }
    } else if (c == '-' || g_ascii_isdigit (c)) {
      gsize end = i + 1;
      gboolean integer = TRUE;
      while (end < length && (g_ascii_isdigit (text[end]) || strchr (".eE+-", text[end]))) {
        integer &= g_ascii_isdigit (text[end]);
        end++;
      }
      if (integer && !fits_int64 (text + i, end - i)) {
        g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
            "%s%s%.*s does not fit in a 64-bit integer", path->str, path->len > 0 ? ": " : "",
            (int) MIN (end - i, 40), text + i);
        return FALSE;
      }
      i = end - 1;
    }
  }
  return TRUE;
}

gboolean
convnext_json_load (JsonParser *parser, const char *text, gsize length, GError **error)
{
  g_autoptr (GError) syntax = NULL;
  g_autoptr (GError) scanned = NULL;
  gboolean too_deep;
  gboolean scan_ok = scan_json (text, length, &too_deep, &scanned);

  /* Syntax errors first, but too deep a text never reaches the recursive parser. */
  if (!too_deep && !json_parser_load_from_data (parser, text, length, &syntax)) {
    /* json-glib quotes the offending token, whatever its bytes */
    convnext_set_error_literal_utf8 (error, CONVNEXT_ERROR_INVALID_CONFIG, syntax->message);
    return FALSE;
  }
  if (!scan_ok) {
    /* the key path is cut at 60 bytes, maybe inside a character */
    convnext_set_error_literal_utf8 (error, scanned->code, scanned->message);
    return FALSE;
  }
  return TRUE;
}
