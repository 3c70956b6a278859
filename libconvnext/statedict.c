/* pytorch_model.bin: the state dict that torch.save (torch ≥ 1.6) writes, read without
 * Python.
 *
 * The file is a zip (zipfile.c) of `<archive>/data.pkl`, one `<archive>/data/<key>` entry
 * per storage (stored, 64-byte aligned), `<archive>/version` and, from torch 2.1,
 * `<archive>/byteorder`.  data.pkl is unpickled by the safe subset (pickle.c) and
 * interpreted here: an OrderedDict whose values are
 *   _rebuild_tensor_v2 (persid ('storage', <Float|Half|BFloat16>Storage, key, location,
 *                       numel), storage_offset, size, stride, requires_grad, hooks[, meta])
 * or _rebuild_parameter (that, requires_grad, hooks).  Each tensor becomes a view into its
 * storage's entry (any strides and offset inside the storage; the loader gathers the
 * non-contiguous ones), after the entry's CRC-32 is checked. */
#include "convnext.h"
#include "checkpoint.h"
#include "pickle.h"
#include "zipfile.h"

#include <string.h>

/* data.pkl of ConvNeXt-XL is ~60 kB; this leaves room without letting a bomb in. */
#define MAX_PICKLE_BYTES (16 * 1024 * 1024)

/* torch.serialization's MAGIC_NUMBER, the first pickle of the legacy format */
static const guint8 legacy_magic[] = {
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
};

typedef struct {
  ConvNextDType dtype;
  guint64 numel;
  const guint8 *data;
} Storage;

typedef struct {
  ConvNextCheckpoint *ck;
  const char *path;
  ConvNextZip *zip;
  char *prefix;                 /* "archive/" */
  GHashTable *storages;         /* key → Storage */
} Reader;

static gboolean
fail (GError **error, const Reader *r, const char *tensor, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

/* "invalid PyTorch checkpoint <path>[, tensor <name>]: <reason>" */
static gboolean
fail (GError **error, const Reader *r, const char *tensor, const char *fmt, ...)
{
  g_autofree char *prefix = g_strdup_printf ("invalid PyTorch checkpoint %s%s%s", r->path,
      tensor ? ", tensor " : "", tensor ? tensor : "");
  va_list args;

  va_start (args, fmt);
  convnext_set_error_valist (error, CONVNEXT_ERROR_INVALID_WEIGHTS, prefix, fmt, args);
  va_end (args);
  return FALSE;
}

static const char *
kind_name (const ConvNextPickleValue *v)
{
  static const char *const names[] = {
    "None", "bool", "int", "str", "tuple", "dict", "global", "call", "persistent id",
  };
  return names[v->kind];
}

static gboolean
is_call (const ConvNextPickleValue *v, ConvNextPickleGlobal global)
{
  return v->kind == CONVNEXT_PICKLE_CALL && v->items[0]->global == global;
}

static gboolean
is_int (const ConvNextPickleValue *v)
{
  return v->kind == CONVNEXT_PICKLE_INT && v->i >= 0;
}

/* The storage a persistent id names, mapped (or extracted) and checked once. */
static const Storage *
get_storage (Reader *r, const char *tensor, const ConvNextPickleValue *pid, GError **error)
{
  const ConvNextPickleValue *t = pid->items[0];
  g_autofree char *entry_name = NULL;
  const ConvNextZipEntry *entry;
  Storage *s;
  ConvNextDType dtype;
  guint64 numel, n_bytes;
  const char *key;

  if (t->kind != CONVNEXT_PICKLE_TUPLE || t->n_items != 5
      || t->items[0]->kind != CONVNEXT_PICKLE_STRING || !g_str_equal (t->items[0]->s, "storage")
      || t->items[1]->kind != CONVNEXT_PICKLE_GLOBAL || t->items[2]->kind != CONVNEXT_PICKLE_STRING
      || t->items[3]->kind != CONVNEXT_PICKLE_STRING || !is_int (t->items[4])) {
    fail (error, r, tensor, "its persistent id is not ('storage', <storage type>, key, "
        "location, numel)");
    return NULL;
  }
  switch (t->items[1]->global) {
    case CONVNEXT_PICKLE_FLOAT_STORAGE: dtype = CONVNEXT_DTYPE_F32; break;
    case CONVNEXT_PICKLE_HALF_STORAGE: dtype = CONVNEXT_DTYPE_F16; break;
    case CONVNEXT_PICKLE_BFLOAT16_STORAGE: dtype = CONVNEXT_DTYPE_BF16; break;
    default:
      fail (error, r, tensor, "storage type %s is not a storage",
          convnext_pickle_global_name (t->items[1]->global));
      return NULL;
  }
  key = t->items[2]->s;
  numel = t->items[4]->i;

  s = g_hash_table_lookup (r->storages, key);
  if (s != NULL) {
    if (s->dtype != dtype || s->numel != numel) {
      fail (error, r, tensor, "storage %s is named with two types or sizes", key);
      return NULL;
    }
    return s;
  }

  entry_name = g_strconcat (r->prefix, "data/", key, NULL);
  entry = convnext_zip_lookup (r->zip, entry_name);
  if (entry == NULL) {
    fail (error, r, tensor, "its storage %s has no entry %s in the archive (truncated or "
        "incomplete file?)", key, entry_name);
    return NULL;
  }
  if (!g_uint64_checked_mul (&n_bytes, numel, convnext_dtype_size (dtype))) {
    fail (error, r, tensor, "its storage %s claims %" G_GUINT64_FORMAT " elements: too many",
        key, numel);
    return NULL;
  }
  if (entry->size != n_bytes) {
    fail (error, r, tensor, "its storage %s holds %" G_GUINT64_FORMAT " bytes, but %"
        G_GUINT64_FORMAT " %s elements need %" G_GUINT64_FORMAT, key, entry->size, numel,
        convnext_dtype_name (dtype), numel * convnext_dtype_size (dtype));
    return NULL;
  }
  s = g_new0 (Storage, 1);
  s->dtype = dtype;
  s->numel = numel;
  if (entry->stored) {
    s->data = convnext_zip_map_entry (r->zip, entry, error);
    /* the CRC pass read it all: give the pages back until the loader packs it */
    if (s->data != NULL)
      convnext_checkpoint_release_pages (r->ck, s->data, entry->size);
  } else {
    guint8 *copy = convnext_zip_read_entry (r->zip, entry, G_MAXUINT64, error);
    if (copy != NULL)
      convnext_checkpoint_keep (r->ck, copy);
    s->data = copy;
  }
  if (s->data == NULL) {
    g_prefix_error (error, "tensor %s, storage %s: ", tensor, key);
    g_free (s);
    return NULL;
  }
  g_hash_table_insert (r->storages, g_strdup (key), s);
  return s;
}

/* _rebuild_tensor_v2 (storage, storage_offset, size, stride, requires_grad, hooks[, meta]) */
static gboolean
add_tensor (Reader *r, const char *name, const ConvNextPickleValue *v, GError **error)
{
  const ConvNextPickleValue *args, *size, *stride;
  ConvNextTensor t = { .name = name, .path = r->path, .n_elements = 1, .contiguous = TRUE };
  const Storage *storage;
  guint64 offset, last = 0, expected_stride = 1;
  guint elem;

  if (is_call (v, CONVNEXT_PICKLE_REBUILD_PARAMETER)) {
    args = v->items[1];
    if (args->n_items < 1 || !is_call (args->items[0], CONVNEXT_PICKLE_REBUILD_TENSOR_V2))
      return fail (error, r, name, "torch._utils._rebuild_parameter of something that is not "
          "a tensor");
    v = args->items[0];
  }
  if (!is_call (v, CONVNEXT_PICKLE_REBUILD_TENSOR_V2))
    return fail (error, r, name, "the value is a %s, not a tensor (%s)", kind_name (v),
        v->kind == CONVNEXT_PICKLE_CALL ? convnext_pickle_global_name (v->items[0]->global)
        : "a state dict holds tensors only");
  args = v->items[1];
  if (args->n_items < 6 || args->n_items > 7 || args->items[0]->kind != CONVNEXT_PICKLE_PERSID
      || !is_int (args->items[1]) || args->items[2]->kind != CONVNEXT_PICKLE_TUPLE
      || args->items[3]->kind != CONVNEXT_PICKLE_TUPLE
      || args->items[2]->n_items != args->items[3]->n_items
      || args->items[4]->kind != CONVNEXT_PICKLE_BOOL)
    return fail (error, r, name, "_rebuild_tensor_v2 arguments are not (storage, offset, size, "
        "stride, requires_grad, hooks[, metadata])");
  size = args->items[2];
  stride = args->items[3];
  if (size->n_items > CONVNEXT_MAX_DIMS)
    return fail (error, r, name, "%u dimensions (at most %d supported)", size->n_items,
        CONVNEXT_MAX_DIMS);
  storage = get_storage (r, name, args->items[0], error);
  if (storage == NULL)
    return FALSE;

  t.dtype = storage->dtype;
  t.n_dims = size->n_items;
  for (guint i = t.n_dims; i-- > 0;) {
    guint64 extent;
    if (!is_int (size->items[i]) || !is_int (stride->items[i]))
      return fail (error, r, name, "size or stride %u is not a non-negative integer", i);
    t.shape[i] = size->items[i]->i;
    t.strides[i] = stride->items[i]->i;
    if (t.shape[i] != 1 && t.strides[i] != expected_stride)
      t.contiguous = FALSE;
    if (!g_uint64_checked_mul (&t.n_elements, t.n_elements, t.shape[i])
        || (t.shape[i] > 0 && (!g_uint64_checked_mul (&extent, t.shape[i] - 1, t.strides[i])
                || !g_uint64_checked_add (&last, last, extent)))
        || !g_uint64_checked_mul (&expected_stride, expected_stride, t.shape[i]))
      return fail (error, r, name, "size × stride overflows");
  }
  offset = args->items[1]->i;
  /* every element, [offset, offset + last], must lie inside the storage */
  if (t.n_elements > 0 && (offset >= storage->numel || last >= storage->numel - offset))
    return fail (error, r, name, "its elements reach element %" G_GUINT64_FORMAT " of a storage "
        "of %" G_GUINT64_FORMAT " (storage shorter than the tensor)", offset + last,
        storage->numel);
  elem = convnext_dtype_size (t.dtype);
  t.data = storage->data + (t.n_elements > 0 ? offset * elem : 0);
  t.n_bytes = t.n_elements * elem;
  return convnext_checkpoint_add (r->ck, &t, error);
}

/* The "<archive>/" prefix: the directory of the one top-level data.pkl. */
static gboolean
find_prefix (Reader *r, GError **error)
{
  for (guint i = 0; i < convnext_zip_get_n_entries (r->zip); i++) {
    const char *name = convnext_zip_get_entry (r->zip, i)->name;
    const char *slash = strchr (name, '/');

    if (slash == NULL || slash == name || !g_str_equal (slash, "/data.pkl"))
      continue;
    if (r->prefix != NULL)
      return fail (error, r, NULL, "two data.pkl entries (%sdata.pkl and %s)", r->prefix, name);
    r->prefix = g_strndup (name, slash + 1 - name);
  }
  if (r->prefix != NULL)
    return TRUE;
  for (guint i = 0; i < convnext_zip_get_n_entries (r->zip); i++) {
    if (g_str_has_suffix (convnext_zip_get_entry (r->zip, i)->name, "/constants.pkl")) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED, "%s is a TorchScript "
          "archive (torch.jit.save), not a state dict: save model.state_dict () with "
          "torch.save, or use model.safetensors", r->path);
      return FALSE;
    }
  }
  return fail (error, r, NULL, "a zip archive without <name>/data.pkl: not written by "
      "torch.save");
}

/* torch ≥ 2.1 records the byte order; the data is only usable if it is ours. */
static gboolean
check_byteorder (Reader *r, GError **error)
{
  g_autofree char *name = g_strconcat (r->prefix, "byteorder", NULL);
  const ConvNextZipEntry *entry = convnext_zip_lookup (r->zip, name);
  g_autofree guint8 *text = NULL;

  if (entry == NULL)
    return TRUE;
  text = convnext_zip_read_entry (r->zip, entry, 16, error);
  if (text == NULL)
    return FALSE;
  if (entry->size != 6 || memcmp (text, "little", 6) != 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED, "%s holds big-endian "
        "tensors (entry %s); only little-endian checkpoints are supported", r->path, name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_state_dict (Reader *r, const guint8 *data, gsize size, GError **error)
{
  g_autoptr (ConvNextPickle) pickle = NULL;
  g_autofree guint8 *pkl = NULL;
  g_autofree char *pkl_name = NULL;
  g_autofree char *what = NULL;
  const ConvNextZipEntry *entry;
  const ConvNextPickleValue *root;

  r->zip = convnext_zip_open (r->path, data, size, error);
  if (r->zip == NULL || !find_prefix (r, error) || !check_byteorder (r, error))
    return FALSE;
  pkl_name = g_strconcat (r->prefix, "data.pkl", NULL);
  entry = convnext_zip_lookup (r->zip, pkl_name);
  pkl = convnext_zip_read_entry (r->zip, entry, MAX_PICKLE_BYTES, error);
  if (pkl == NULL)
    return FALSE;
  what = g_strdup_printf ("%s, entry %s", r->path, pkl_name);
  pickle = convnext_pickle_load (pkl, entry->size, what, error);
  if (pickle == NULL)
    return FALSE;

  root = convnext_pickle_get_root (pickle);
  if (root->kind != CONVNEXT_PICKLE_DICT)
    return fail (error, r, NULL, "%s holds a %s, not a state dict (a dict of tensors)",
        pkl_name, kind_name (root));
  for (guint i = 0; i + 1 < root->n_items; i += 2) {
    if (root->items[i]->kind != CONVNEXT_PICKLE_STRING)
      return fail (error, r, NULL, "state dict key %u is a %s, not a str", i / 2,
          kind_name (root->items[i]));
    if (!add_tensor (r, root->items[i]->s, root->items[i + 1], error))
      return FALSE;
  }
  return TRUE;
}

gboolean
convnext_torch_read (ConvNextCheckpoint *ck, const char *path, GError **error)
{
  const guint8 *data;
  gsize size;

  data = convnext_checkpoint_map (ck, path, &size, error);
  if (data == NULL)
    return FALSE;
  return convnext_torch_read_data (ck, path, data, size, error);
}

gboolean
convnext_torch_read_data (ConvNextCheckpoint *ck, const char *path, const guint8 *data,
    gsize size, GError **error)
{
  Reader r = { .ck = ck, .path = path };
  gboolean ok;

  if (size >= sizeof legacy_magic && memcmp (data, legacy_magic, sizeof legacy_magic) == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED, "%s is in PyTorch's legacy "
        "serialization format (torch < 1.6, or _use_new_zipfile_serialization=False), which is "
        "not supported: re-save it with torch.save from torch >= 1.6, or as model.safetensors",
        path);
    return FALSE;
  }
  if (size < 4 || memcmp (data, "PK", 2) != 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS, "invalid PyTorch "
        "checkpoint %s: not a zip archive (torch.save's format since torch 1.6)", path);
    return FALSE;
  }
  r.storages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ok = read_state_dict (&r, data, size, error);
  g_hash_table_unref (r.storages);
  convnext_zip_free (r.zip);
  g_free (r.prefix);
  return ok;
}
