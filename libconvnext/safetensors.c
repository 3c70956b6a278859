/* safetensors reader (https://github.com/huggingface/safetensors): 8-byte little-endian
 * header length N, N bytes of JSON, then the tensor data.  The file is mapped (no copy) and
 * the header checked with the reference library's rules before any tensor byte is
 * touched: length ≤ 100 MB and inside the file, a JSON object, known dtypes, shapes,
 * end - begin == product(shape) × dtype size, and data_offsets that tile the data section
 * (no overlap, hole or tail).  Errors are CONVNEXT_ERROR_IO or INVALID_WEIGHTS and name the
 * file (and the tensor). */
#include "convnext.h"
#include "checkpoint.h"
#include "json-util.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* The reference implementation refuses larger headers (MAX_HEADER_SIZE). */
#define MAX_HEADER_BYTES (100 * 1000 * 1000)

typedef struct {
  const char *path;
  GPtrArray *tensors;           /* ConvNextTensor*, owned; names borrowed from the JSON */
} Reader;

static const struct {
  const char *name;
  ConvNextDType dtype;
} dtypes[] = {
  { "F32", CONVNEXT_DTYPE_F32 },
  { "F16", CONVNEXT_DTYPE_F16 },
  { "BF16", CONVNEXT_DTYPE_BF16 },
};

static gboolean
fail (GError **error, const Reader *st, const char *tensor, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

/* "invalid safetensors file <path>[, tensor <name>]: <reason>" */
static gboolean
fail (GError **error, const Reader *st, const char *tensor, const char *fmt, ...)
{
  g_autofree char *prefix = g_strdup_printf ("invalid safetensors file %s%s%s", st->path,
      tensor ? ", tensor " : "", tensor ? tensor : "");
  va_list args;

  va_start (args, fmt);
  convnext_set_error_valist (error, CONVNEXT_ERROR_INVALID_WEIGHTS, prefix, fmt, args);
  va_end (args);
  return FALSE;
}

static gboolean
node_is_uint (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64 && json_node_get_int (node) >= 0;
}

/* One header entry: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}. */
static gboolean
parse_entry (Reader *st, const char *name, JsonNode *node, const guint8 *data,
    guint64 data_size, GError **error)
{
  JsonObject *obj;
  JsonNode *dtype, *shape, *offsets;
  JsonArray *shape_array, *offsets_array;
  g_autofree ConvNextTensor *t = g_new0 (ConvNextTensor, 1);
  guint dtype_size = 0;
  guint64 stride = 1, begin, end, n_bytes;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, st, name, "expected a JSON object in the header");
  obj = json_node_get_object (node);

  dtype = json_object_get_member (obj, "dtype");
  if (dtype == NULL || !JSON_NODE_HOLDS_VALUE (dtype)
      || json_node_get_value_type (dtype) != G_TYPE_STRING)
    return fail (error, st, name, "expected a string \"dtype\"");
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++) {
    if (g_str_equal (json_node_get_string (dtype), dtypes[i].name)) {
      t->dtype = dtypes[i].dtype;
      dtype_size = convnext_dtype_size (t->dtype);
    }
  }
  if (dtype_size == 0)
    return fail (error, st, name, "unsupported dtype \"%.20s\" (expected F32, F16 or BF16)",
        json_node_get_string (dtype));

  shape = json_object_get_member (obj, "shape");
  if (shape == NULL || !JSON_NODE_HOLDS_ARRAY (shape)
      || json_array_get_length (shape_array = json_node_get_array (shape))
          > CONVNEXT_MAX_DIMS)
    return fail (error, st, name, "expected \"shape\" to be an array of at most %d sizes",
        CONVNEXT_MAX_DIMS);
  t->n_dims = json_array_get_length (shape_array);
  t->n_elements = 1;
  for (guint i = 0; i < t->n_dims; i++) {
    JsonNode *dim = json_array_get_element (shape_array, i);
    if (!node_is_uint (dim))
      return fail (error, st, name, "expected \"shape\" to hold non-negative integers");
    t->shape[i] = json_node_get_int (dim);
    if (!g_uint64_checked_mul (&t->n_elements, t->n_elements, t->shape[i]))
      return fail (error, st, name, "shape too large");
  }

  offsets = json_object_get_member (obj, "data_offsets");
  if (offsets == NULL || !JSON_NODE_HOLDS_ARRAY (offsets)
      || json_array_get_length (offsets_array = json_node_get_array (offsets)) != 2
      || !node_is_uint (json_array_get_element (offsets_array, 0))
      || !node_is_uint (json_array_get_element (offsets_array, 1)))
    return fail (error, st, name, "expected \"data_offsets\" to be [begin, end]");
  begin = json_array_get_int_element (offsets_array, 0);
  end = json_array_get_int_element (offsets_array, 1);
  if (begin > end || end > data_size)
    return fail (error, st, name, "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        ") outside the %" G_GUINT64_FORMAT " data bytes", begin, end, data_size);
  if (!g_uint64_checked_mul (&n_bytes, t->n_elements, dtype_size) || n_bytes != end - begin)
    return fail (error, st, name, "data_offsets hold %" G_GUINT64_FORMAT " bytes, but shape x "
        "%s size needs %" G_GUINT64_FORMAT, end - begin, convnext_dtype_name (t->dtype),
        t->n_elements * dtype_size);

  for (guint i = t->n_dims; i-- > 0;) {
    t->strides[i] = stride;
    stride *= t->shape[i];
  }
  t->contiguous = TRUE;
  t->data = data + begin;
  t->n_bytes = n_bytes;
  t->name = name;
  t->path = st->path;
  g_ptr_array_add (st->tensors, g_steal_pointer (&t));
  return TRUE;
}

static gint
compare_by_offset (gconstpointer a, gconstpointer b)
{
  const ConvNextTensor *ta = *(const ConvNextTensor **) a;
  const ConvNextTensor *tb = *(const ConvNextTensor **) b;

  if (ta->data != tb->data)
    return ta->data < tb->data ? -1 : 1;
  return ta->n_bytes < tb->n_bytes ? -1 : ta->n_bytes > tb->n_bytes;
}

/* As the reference library: sorted by offset, the tensors tile the data section exactly,
 * with no overlap, no hole and nothing after the last one. */
static gboolean
check_layout (Reader *st, const guint8 *data, gsize data_size, GError **error)
{
  g_autoptr (GPtrArray) sorted = g_ptr_array_sized_new (st->tensors->len);
  const ConvNextTensor *prev = NULL;
  const guint8 *expected = data;

  for (guint i = 0; i < st->tensors->len; i++)
    g_ptr_array_add (sorted, st->tensors->pdata[i]);
  g_ptr_array_sort (sorted, compare_by_offset);
  for (guint i = 0; i < sorted->len; i++) {
    const ConvNextTensor *t = sorted->pdata[i];
    if (t->data < expected)
      return fail (error, st, t->name, "data overlaps tensor %s", prev->name);
    if (t->data > expected)
      return fail (error, st, t->name, "data begins at offset %" G_GSIZE_FORMAT " but the "
          "previous tensor ends at %" G_GSIZE_FORMAT " (a hole in the data section)",
          (gsize) (t->data - data), (gsize) (expected - data));
    expected = t->data + t->n_bytes;
    prev = t;
  }
  if (expected != data + data_size)
    return fail (error, st, NULL, "%" G_GSIZE_FORMAT " bytes after the last tensor's data",
        (gsize) (data + data_size - expected));
  return TRUE;
}

/* safetensors pads the header with spaces; a NUL-padded one (some writers do that) is rightly
 * refused, but json-glib would blame UTF-8: say what is wrong instead. */
static gboolean
check_padding (Reader *st, const char *header, gsize header_len, GError **error)
{
  const char *nul = memchr (header, '\0', header_len);
  gsize at, end;

  if (nul == NULL)
    return TRUE;
  at = nul - header;
  for (end = at; end < header_len && (header[end] == '\0' || g_ascii_isspace (header[end])); end++)
    ;
  if (end == header_len)
    return fail (error, st, NULL, "header has non-whitespace padding after the JSON: NUL bytes "
        "in the last %" G_GSIZE_FORMAT " of its %" G_GSIZE_FORMAT " bytes (safetensors pads "
        "with spaces)", header_len - at, header_len);
  return fail (error, st, NULL, "header holds a NUL byte at header byte %" G_GSIZE_FORMAT
      " (it must be JSON text padded with spaces only)", at);
}

gboolean
convnext_safetensors_read (ConvNextCheckpoint *ck, const char *path, GError **error)
{
  const guint8 *contents;
  gsize size;

  contents = convnext_checkpoint_map (ck, path, &size, error);
  if (contents == NULL)
    return FALSE;
  return convnext_safetensors_read_data (ck, path, contents, size, error);
}

gboolean
convnext_safetensors_read_data (ConvNextCheckpoint *ck, const char *path,
    const guint8 *contents, gsize size, GError **error)
{
  g_autoptr (GPtrArray) tensors = g_ptr_array_new_with_free_func (g_free);
  Reader reader = { path, tensors };
  Reader *st = &reader;
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GList) names = NULL;
  guint64 header_len;
  JsonNode *root;
  JsonObject *header;

  if (size < 8)
    return fail (error, st, NULL, "%" G_GSIZE_FORMAT " bytes, shorter than the 8-byte "
        "header length", size);
  memcpy (&header_len, contents, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > MAX_HEADER_BYTES)
    return fail (error, st, NULL, "header length %" G_GUINT64_FORMAT " exceeds the %d-byte "
        "limit", header_len, MAX_HEADER_BYTES);
  if (header_len > size - 8)
    return fail (error, st, NULL, "header length %" G_GUINT64_FORMAT " runs past the end of "
        "the %" G_GSIZE_FORMAT "-byte file", header_len, size);
  if (!check_padding (st, (const char *) contents + 8, header_len, error))
    return FALSE;

  parser = json_parser_new ();
  if (!convnext_json_load (parser, (const char *) contents + 8, header_len, &local))
    return fail (error, st, NULL, "header is not valid JSON: %s", local->message);
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, st, NULL, "header is not a JSON object");
  header = json_node_get_object (root);

  names = json_object_get_members (header);
  for (GList *l = names; l != NULL; l = l->next) {
    const char *name = l->data;
    if (g_str_equal (name, "__metadata__"))
      continue;
    if (!parse_entry (st, name, json_object_get_member (header, name), contents + 8 + header_len,
            size - 8 - header_len, error))
      return FALSE;
  }
  if (!check_layout (st, contents + 8 + header_len, size - 8 - header_len, error))
    return FALSE;
  /* the names are the parser's: the checkpoint copies them */
  for (guint i = 0; i < tensors->len; i++) {
    if (!convnext_checkpoint_add (ck, tensors->pdata[i], error))
      return FALSE;
  }
  return TRUE;
}
