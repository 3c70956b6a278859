/* safetensors reader: GMappedFile (no copy), header checked with the reference library's
 * rules before any tensor byte is touched. */
#include "convnext.h"
#include "safetensors.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The reference implementation refuses larger headers (MAX_HEADER_SIZE). */
#define MAX_HEADER_BYTES (100 * 1000 * 1000)

struct _ConvNextSafetensors {
  gatomicrefcount ref;
  char *path;
  GMappedFile *file;
  GHashTable *tensors;          /* name → ConvNextSafetensor* */
};

static const struct {
  const char *name;
  ConvNextDType dtype;
  guint size;
} dtypes[] = {
  { "F32", CONVNEXT_DTYPE_F32, 4 },
  { "F16", CONVNEXT_DTYPE_F16, 2 },
  { "BF16", CONVNEXT_DTYPE_BF16, 2 },
};

const char *
convnext_dtype_name (ConvNextDType dtype)
{
  return dtypes[dtype].name;
}

static void
tensor_free (gpointer p)
{
  ConvNextSafetensor *t = p;

  g_free ((char *) t->name);
  g_free (t);
}

static gboolean
fail (GError **error, const ConvNextSafetensors *st, const char *tensor, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

/* "invalid safetensors file <path>[, tensor <name>]: <reason>" */
static gboolean
fail (GError **error, const ConvNextSafetensors *st, const char *tensor, const char *fmt, ...)
{
  va_list args;
  g_autofree char *reason = NULL;

  va_start (args, fmt);
  reason = g_strdup_vprintf (fmt, args);
  va_end (args);
  if (tensor != NULL)
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "invalid safetensors file %s, tensor %s: %s", st->path, tensor, reason);
  else
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "invalid safetensors file %s: %s", st->path, reason);
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
parse_entry (ConvNextSafetensors *st, const char *name, JsonNode *node, const guint8 *data,
    guint64 data_size, GError **error)
{
  JsonObject *obj;
  JsonNode *dtype, *shape, *offsets;
  JsonArray *shape_array, *offsets_array;
  g_autofree ConvNextSafetensor *t = g_new0 (ConvNextSafetensor, 1);
  guint dtype_size = 0;
  guint64 begin, end, n_bytes;

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
      dtype_size = dtypes[i].size;
    }
  }
  if (dtype_size == 0)
    return fail (error, st, name, "unsupported dtype \"%.20s\" (expected F32, F16 or BF16)",
        json_node_get_string (dtype));

  shape = json_object_get_member (obj, "shape");
  if (shape == NULL || !JSON_NODE_HOLDS_ARRAY (shape)
      || json_array_get_length (shape_array = json_node_get_array (shape))
          > CONVNEXT_SAFETENSORS_MAX_DIMS)
    return fail (error, st, name, "expected \"shape\" to be an array of at most %d sizes",
        CONVNEXT_SAFETENSORS_MAX_DIMS);
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
        "%s size needs %" G_GUINT64_FORMAT, end - begin, dtypes[t->dtype].name,
        t->n_elements * dtype_size);

  t->data = data + begin;
  t->n_bytes = n_bytes;
  t->name = g_strdup (name);
  g_hash_table_insert (st->tensors, (char *) t->name, t);
  g_steal_pointer (&t);
  return TRUE;
}

static gint
compare_by_offset (gconstpointer a, gconstpointer b)
{
  const ConvNextSafetensor *ta = *(const ConvNextSafetensor **) a;
  const ConvNextSafetensor *tb = *(const ConvNextSafetensor **) b;

  if (ta->data != tb->data)
    return ta->data < tb->data ? -1 : 1;
  return ta->n_bytes < tb->n_bytes ? -1 : ta->n_bytes > tb->n_bytes;
}

/* As the reference library: sorted by offset, the tensors tile the data section exactly,
 * with no overlap, no hole and nothing after the last one. */
static gboolean
check_layout (ConvNextSafetensors *st, const guint8 *data, gsize data_size, GError **error)
{
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  const ConvNextSafetensor *prev = NULL;
  const guint8 *expected = data;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, st->tensors);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sorted, value);
  g_ptr_array_sort (sorted, compare_by_offset);
  for (guint i = 0; i < sorted->len; i++) {
    const ConvNextSafetensor *t = sorted->pdata[i];
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

ConvNextSafetensors *
convnext_safetensors_open (const char *path, GError **error)
{
  g_autoptr (ConvNextSafetensors) st = g_new0 (ConvNextSafetensors, 1);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GList) names = NULL;
  const guint8 *contents;
  guint64 size, header_len;
  JsonNode *root;
  JsonObject *header;

  g_atomic_ref_count_init (&st->ref);
  st->path = g_strdup (path);
  st->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, tensor_free);
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "cannot map %s: is a directory", path);
    return NULL;
  }
  st->file = g_mapped_file_new (path, FALSE, &local);
  if (st->file == NULL) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "cannot map %s: %s", path,
        local->message);
    return NULL;
  }
  contents = (const guint8 *) g_mapped_file_get_contents (st->file);
  size = g_mapped_file_get_length (st->file);

  if (size < 8) {
    fail (error, st, NULL, "%" G_GUINT64_FORMAT " bytes, shorter than the 8-byte "
        "header length", size);
    return NULL;
  }
  memcpy (&header_len, contents, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > MAX_HEADER_BYTES) {
    fail (error, st, NULL, "header length %" G_GUINT64_FORMAT " exceeds the %d-byte "
        "limit", header_len, MAX_HEADER_BYTES);
    return NULL;
  }
  if (header_len > size - 8) {
    fail (error, st, NULL, "header length %" G_GUINT64_FORMAT " runs past the end of "
        "the %" G_GUINT64_FORMAT "-byte file", header_len, size);
    return NULL;
  }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) contents + 8, header_len, &local)) {
    fail (error, st, NULL, "header is not valid JSON: %s", local->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    fail (error, st, NULL, "header is not a JSON object");
    return NULL;
  }
  header = json_node_get_object (root);

  names = json_object_get_members (header);
  for (GList *l = names; l != NULL; l = l->next) {
    const char *name = l->data;
    if (g_str_equal (name, "__metadata__"))
      continue;
    if (!parse_entry (st, name, json_object_get_member (header, name), contents + 8 + header_len,
            size - 8 - header_len, error))
      return NULL;
  }
  if (!check_layout (st, contents + 8 + header_len, size - 8 - header_len, error))
    return NULL;
  return g_steal_pointer (&st);
}

ConvNextSafetensors *
convnext_safetensors_ref (ConvNextSafetensors *st)
{
  g_atomic_ref_count_inc (&st->ref);
  return st;
}

void
convnext_safetensors_unref (ConvNextSafetensors *st)
{
  if (st == NULL || !g_atomic_ref_count_dec (&st->ref))
    return;
  g_clear_pointer (&st->tensors, g_hash_table_unref);
  g_clear_pointer (&st->file, g_mapped_file_unref);
  g_free (st->path);
  g_free (st);
}

const char *
convnext_safetensors_get_path (const ConvNextSafetensors *st)
{
  return st->path;
}

const ConvNextSafetensor *
convnext_safetensors_lookup (const ConvNextSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->tensors, name);
}

void
convnext_safetensors_release_pages (const ConvNextSafetensors *st, const void *data,
    gsize n_bytes)
{
  const guint8 *map = (const guint8 *) g_mapped_file_get_contents (st->file);
  gsize map_len = g_mapped_file_get_length (st->file);
  gsize page = sysconf (_SC_PAGESIZE);
  guintptr begin = (guintptr) data, end = begin + n_bytes;

  if (map == NULL || begin < (guintptr) map || end > (guintptr) map + map_len)
    return;
  begin = (begin + page - 1) / page * page;
  end = end / page * page;
  /* A read-only private file mapping: the kernel re-reads dropped pages on access. */
  if (begin < end)
    madvise ((void *) begin, end - begin, MADV_DONTNEED);
}
