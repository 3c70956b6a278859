/* Labels files: one class label per line, as DL Streamer's and OpenVINO's labels files (the
 * element's labels-file property).  Text from strangers: refused unless it is UTF-8 without
 * NUL bytes, since labels end up in GstStructures, JSON and overlays. */
#include "convnext.h"

#include <string.h>

#define UTF8_BOM "\xef\xbb\xbf"

char **
convnext_labels_parse (const char *name, const char *text, gsize length, guint *n_labels,
    GError **error)
{
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  const char *end = text + length, *line = text, *invalid;
  guint n;

  g_return_val_if_fail (name != NULL && n_labels != NULL, NULL);
  g_return_val_if_fail (text != NULL || length == 0, NULL);

  *n_labels = 0;
  if (length >= 3 && memcmp (text, UTF8_BOM, 3) == 0)
    line += 3;
  for (guint number = 1; line < end; number++) {
    const char *eol = memchr (line, '\n', end - line);
    gsize len = (eol != NULL ? eol : end) - line;

    if (memchr (line, '\0', len) != NULL || !g_utf8_validate_len (line, len, &invalid)) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
          "invalid labels file %s: line %u %s", name, number, memchr (line, '\0', len) != NULL
          ? "holds a NUL byte" : "is not UTF-8 text");
      return NULL;
    }
    g_ptr_array_add (labels, g_strchomp (g_strndup (line, len)));
    if (eol == NULL)
      break;
    line = eol + 1;
  }
  /* a final newline, or blank lines after the last label, are not labels */
  for (n = labels->len; n > 0 && ((char *) labels->pdata[n - 1])[0] == '\0'; n--)
    ;
  g_ptr_array_set_size (labels, n);
  g_ptr_array_add (labels, NULL);
  *n_labels = n;
  return (char **) g_ptr_array_free (g_steal_pointer (&labels), FALSE);
}

char **
convnext_labels_load (const char *path, guint *n_labels, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  gsize length;

  g_return_val_if_fail (path != NULL && n_labels != NULL, NULL);

  *n_labels = 0;
  if (!g_file_get_contents (path, &text, &length, &local)) {
    /* GLib's message names the file */
    g_set_error_literal (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, local->message);
    return NULL;
  }
  return convnext_labels_parse (path, text, length, n_labels, error);
}
