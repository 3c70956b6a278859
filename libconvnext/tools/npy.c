/* .npy: "\x93NUMPY", major, minor, header length (2 bytes in 1.0, 4 in 2.0/3.0), then a
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
 * padded with spaces and a newline, then the raw data. */
#include "npy.h"

#include <gio/gio.h>
#include <string.h>

static gboolean
invalid (GError **error, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path, what);
  return FALSE;
}

/* The value text after 'key': in the header dict. */
static const char *
dict_value (const char *header, const char *key)
{
  g_autofree char *quoted = g_strdup_printf ("'%s'", key);
  const char *p = strstr (header, quoted);

  if (p == NULL)
    return NULL;
  p += strlen (quoted);
  while (*p == ' ')
    p++;
  if (*p != ':')
    return NULL;
  p++;
  while (*p == ' ')
    p++;
  return p;
}

static gboolean
parse_shape (const char *p, NpyArray *array)
{
  if (p == NULL || *p++ != '(')
    return FALSE;
  array->n_dims = 0;
  array->n_elements = 1;
  for (;;) {
    char *end;
    guint64 dim;

    while (*p == ' ')
      p++;
    if (*p == ')')
      return TRUE;
    if (!g_ascii_isdigit (*p) || array->n_dims == NPY_MAX_DIMS)
      return FALSE;
    dim = g_ascii_strtoull (p, &end, 10);
    if (!g_size_checked_mul (&array->n_elements, array->n_elements, dim))
      return FALSE;
    array->shape[array->n_dims++] = dim;
    p = end;
    while (*p == ' ')
      p++;
    if (*p == ',')
      p++;
    else if (*p != ')')
      return FALSE;
  }
}

gboolean
npy_load (const char *path, NpyArray *array, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length;

  memset (array, 0, sizeof *array);
  if (!g_file_get_contents (path, &contents, &length, error))
    return FALSE;
  return npy_parse (path, contents, length, array, error);
}

gboolean
npy_parse (const char *path, const char *contents, gsize length, NpyArray *array,
    GError **error)
{
  g_autofree char *header = NULL;
  gsize header_len, offset, n_bytes;
  const char *descr, *order;

  memset (array, 0, sizeof *array);
  if (length < 10 || memcmp (contents, "\x93NUMPY", 6) != 0)
    return invalid (error, path, "not a .npy file");
  if (contents[6] == 1) {
    header_len = (guint8) contents[8] | (gsize) (guint8) contents[9] << 8;
    offset = 10;
  } else if ((contents[6] == 2 || contents[6] == 3) && length >= 12) {
    header_len = (guint8) contents[8] | (gsize) (guint8) contents[9] << 8
        | (gsize) (guint8) contents[10] << 16 | (gsize) (guint8) contents[11] << 24;
    offset = 12;
  } else {
    return invalid (error, path, "unsupported .npy version");
  }
  if (header_len > length - offset)
    return invalid (error, path, "truncated .npy header");
  header = g_strndup (contents + offset, header_len);
  offset += header_len;

  descr = dict_value (header, "descr");
  order = dict_value (header, "fortran_order");
  if (descr == NULL || (!g_str_has_prefix (descr, "'<f4'") && !g_str_has_prefix (descr, "'|f4'")))
    return invalid (error, path, "expected float32 data (descr '<f4')");
  if (order == NULL || !g_str_has_prefix (order, "False"))
    return invalid (error, path, "expected C order (fortran_order False)");
  if (!parse_shape (dict_value (header, "shape"), array))
    return invalid (error, path, "cannot parse the shape");
  if (!g_size_checked_mul (&n_bytes, array->n_elements, sizeof (float))
      || n_bytes != length - offset)
    return invalid (error, path, "data size does not match the shape");

  array->data = g_malloc (MAX (n_bytes, 1));
  memcpy (array->data, contents + offset, n_bytes);
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (gsize i = 0; i < array->n_elements; i++) {
    guint32 v;
    memcpy (&v, array->data + i, 4);
    v = GUINT32_SWAP_LE_BE (v);
    memcpy (array->data + i, &v, 4);
  }
#endif
  return TRUE;
}

gboolean
npy_save (const char *path, guint n_dims, const gsize *shape, const float *data, GError **error)
{
  g_autoptr (GString) header = g_string_new ("{'descr': '<f4', 'fortran_order': False, 'shape': (");
  g_autoptr (GByteArray) out = g_byte_array_new ();
  gsize n_elements = 1;
  guint16 len;

  for (guint i = 0; i < n_dims; i++) {
    g_string_append_printf (header, "%" G_GSIZE_FORMAT "%s", shape[i],
        i + 1 < n_dims ? ", " : n_dims == 1 ? "," : "");
    n_elements *= shape[i];
  }
  g_string_append (header, "), }");
  /* numpy pads so that the data starts on a 64-byte boundary, ending with '\n' */
  while ((10 + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');

  len = GUINT16_TO_LE (header->len);
  g_byte_array_append (out, (const guint8 *) "\x93NUMPY\x01\x00", 8);
  g_byte_array_append (out, (const guint8 *) &len, 2);
  g_byte_array_append (out, (const guint8 *) header->str, header->len);
  g_byte_array_append (out, (const guint8 *) data, n_elements * sizeof (float));
  return g_file_set_contents (path, (const char *) out->data, out->len, error);
}

void
npy_clear (NpyArray *array)
{
  g_clear_pointer (&array->data, g_free);
}
