/* ConvNextCheckpoint: the tensor table over one or more mapped files, the choice of files
 * in a model directory, and sharded checkpoints (*.index.json). */
#include "convnext.h"
#include "checkpoint.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* transformers' index files are a few hundred kB even for the largest models. */
#define MAX_INDEX_BYTES (64 * 1024 * 1024)

struct _ConvNextCheckpoint {
  char *path;
  GPtrArray *maps;              /* GMappedFile */
  GHashTable *tensors;          /* name → ConvNextTensor* */
  GStringChunk *strings;        /* the tensors' names and paths */
  GPtrArray *kept;              /* data owned by the checkpoint */
};

static const struct {
  const char *name;
  guint size;
} dtypes[] = {
  [CONVNEXT_DTYPE_F32] = { "F32", 4 },
  [CONVNEXT_DTYPE_F16] = { "F16", 2 },
  [CONVNEXT_DTYPE_BF16] = { "BF16", 2 },
};

const char *
convnext_dtype_name (ConvNextDType dtype)
{
  return dtypes[dtype].name;
}

guint
convnext_dtype_size (ConvNextDType dtype)
{
  return dtypes[dtype].size;
}

static ConvNextCheckpoint *
checkpoint_new (const char *path)
{
  ConvNextCheckpoint *ck = g_new0 (ConvNextCheckpoint, 1);

  ck->path = g_strdup (path);
  ck->maps = g_ptr_array_new_with_free_func ((GDestroyNotify) g_mapped_file_unref);
  ck->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  ck->strings = g_string_chunk_new (4096);
  ck->kept = g_ptr_array_new_with_free_func (g_free);
  return ck;
}

ConvNextCheckpoint *
convnext_checkpoint_new_empty (const char *path)
{
  return checkpoint_new (path);
}

void
convnext_checkpoint_free (ConvNextCheckpoint *ck)
{
  if (ck == NULL)
    return;
  g_clear_pointer (&ck->tensors, g_hash_table_unref);
  g_clear_pointer (&ck->kept, g_ptr_array_unref);
  g_clear_pointer (&ck->maps, g_ptr_array_unref);
  g_clear_pointer (&ck->strings, g_string_chunk_free);
  g_free (ck->path);
  g_free (ck);
}

const guint8 *
convnext_checkpoint_map (ConvNextCheckpoint *ck, const char *path, gsize *size, GError **error)
{
  g_autoptr (GError) local = NULL;
  GMappedFile *file;

  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "cannot map %s: is a directory", path);
    return NULL;
  }
  file = g_mapped_file_new (path, FALSE, &local);
  if (file == NULL) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "cannot map %s: %s", path,
        local->message);
    return NULL;
  }
  g_ptr_array_add (ck->maps, file);
  *size = g_mapped_file_get_length (file);
  /* an empty file maps to NULL: give the readers something to compare against */
  return g_mapped_file_get_contents (file) != NULL
      ? (const guint8 *) g_mapped_file_get_contents (file) : (const guint8 *) "";
}

gboolean
convnext_checkpoint_add (ConvNextCheckpoint *ck, const ConvNextTensor *t, GError **error)
{
  const ConvNextTensor *old = g_hash_table_lookup (ck->tensors, t->name);
  ConvNextTensor *copy;

  if (old != NULL) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "tensor %s appears twice: in %s and in %s", t->name, old->path, t->path);
    return FALSE;
  }
  copy = g_memdup2 (t, sizeof *t);
  copy->name = g_string_chunk_insert (ck->strings, t->name);
  copy->path = g_string_chunk_insert_const (ck->strings, t->path);
  g_hash_table_insert (ck->tensors, (char *) copy->name, copy);
  return TRUE;
}

void
convnext_checkpoint_keep (ConvNextCheckpoint *ck, gpointer data)
{
  g_ptr_array_add (ck->kept, data);
}

const char *
convnext_checkpoint_get_path (const ConvNextCheckpoint *ck)
{
  return ck->path;
}

const ConvNextTensor *
convnext_checkpoint_lookup (const ConvNextCheckpoint *ck, const char *name)
{
  return g_hash_table_lookup (ck->tensors, name);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
convnext_checkpoint_list (const ConvNextCheckpoint *ck)
{
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, ck->tensors);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_strings);
  return names;
}

void
convnext_checkpoint_release_pages (const ConvNextCheckpoint *ck, const void *data, gsize n_bytes)
{
  gsize page = sysconf (_SC_PAGESIZE);
  guintptr begin = (guintptr) data, end = begin + n_bytes;

  for (guint i = 0; i < ck->maps->len; i++) {
    GMappedFile *file = ck->maps->pdata[i];
    guintptr map = (guintptr) g_mapped_file_get_contents (file);
    gsize map_len = g_mapped_file_get_length (file);

    if (map == 0 || begin < map || end > map + map_len)
      continue;
    begin = (begin + page - 1) / page * page;
    end = end / page * page;
    /* A read-only private file mapping: the kernel re-reads dropped pages on access. */
    if (begin < end)
      madvise ((void *) begin, end - begin, MADV_DONTNEED);
    return;
  }
}

/* A single weights file, by its name: safetensors or torch.save. */
static gboolean
read_file (ConvNextCheckpoint *ck, const char *path, GError **error)
{
  if (g_str_has_suffix (path, ".safetensors"))
    return convnext_safetensors_read (ck, path, error);
  return convnext_torch_read (ck, path, error);
}

static gboolean
invalid_index (GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
invalid_index (GError **error, const char *path, const char *fmt, ...)
{
  g_autofree char *prefix = g_strdup_printf ("invalid sharded checkpoint index %s", path);
  va_list args;

  va_start (args, fmt);
  convnext_set_error_valist (error, CONVNEXT_ERROR_INVALID_WEIGHTS, prefix, fmt, args);
  va_end (args);
  return FALSE;
}

/* {"metadata": {…}, "weight_map": {"<tensor>": "<shard file>", …}}, as transformers writes
 * it: every shard named is read, and every tensor must be in the shard the index names. */
static gboolean
read_index (ConvNextCheckpoint *ck, const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) shards = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GList) members = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *text = NULL;
  JsonNode *root, *map_node;
  JsonObject *map;
  gsize length;

  if (!g_file_get_contents (path, &text, &length, &local)) {
    g_set_error_literal (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, local->message);
    return FALSE;
  }
  if (length > MAX_INDEX_BYTES)
    return invalid_index (error, path, "%" G_GSIZE_FORMAT " bytes, more than %d", length,
        MAX_INDEX_BYTES);
  if (!json_parser_load_from_data (parser, text, length, &local))
    return invalid_index (error, path, "invalid JSON: %s", local->message);
  root = json_parser_get_root (parser);
  map_node = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
      ? json_object_get_member (json_node_get_object (root), "weight_map") : NULL;
  if (map_node == NULL || !JSON_NODE_HOLDS_OBJECT (map_node))
    return invalid_index (error, path, "expected an object with a \"weight_map\" object");
  map = json_node_get_object (map_node);
  members = json_object_get_members (map);
  if (members == NULL)
    return invalid_index (error, path, "\"weight_map\" is empty");

  /* the shards, each once, in the order the index first names them */
  for (GList *l = members; l != NULL; l = l->next) {
    JsonNode *file = json_object_get_member (map, l->data);
    const char *name;

    if (!JSON_NODE_HOLDS_VALUE (file) || json_node_get_value_type (file) != G_TYPE_STRING)
      return invalid_index (error, path, "weight_map[\"%s\"] is not a file name", (char *) l->data);
    name = json_node_get_string (file);
    /* shards live beside the index: a path elsewhere is refused */
    if (*name == '\0' || strchr (name, '/') != NULL || g_str_equal (name, ".")
        || g_str_equal (name, ".."))
      return invalid_index (error, path, "weight_map[\"%s\"] is \"%s\", not a file name in "
          "the same directory", (char *) l->data, name);
    if (g_hash_table_add (seen, (char *) name))
      g_ptr_array_add (shards, g_build_filename (dir, name, NULL));
  }
  for (guint i = 0; i < shards->len; i++) {
    if (!g_file_test (shards->pdata[i], G_FILE_TEST_EXISTS)) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "cannot read %s: no such file "
          "(a shard named by %s)", (char *) shards->pdata[i], path);
      return FALSE;
    }
    if (!read_file (ck, shards->pdata[i], error))
      return FALSE;
  }
  for (GList *l = members; l != NULL; l = l->next) {
    const char *shard = json_object_get_string_member (map, l->data);
    const ConvNextTensor *t = convnext_checkpoint_lookup (ck, l->data);
    g_autofree char *base = t != NULL ? g_path_get_basename (t->path) : NULL;

    if (t == NULL || !g_str_equal (base, shard))
      return invalid_index (error, path, "tensor %s is not in %s, the shard it names",
          (char *) l->data, shard);
  }
  return TRUE;
}

ConvNextCheckpoint *
convnext_checkpoint_open (const char *path, GError **error)
{
  g_autoptr (ConvNextCheckpoint) ck = checkpoint_new (path);
  gboolean ok;

  if (g_str_has_suffix (path, ".index.json"))
    ok = read_index (ck, path, error);
  else
    ok = read_file (ck, path, error);
  return ok ? g_steal_pointer (&ck) : NULL;
}

ConvNextCheckpoint *
convnext_checkpoint_open_dir (const char *dir, GError **error)
{
  /* transformers' order: SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME,
   * WEIGHTS_INDEX_NAME */
  static const char *const names[] = {
    "model.safetensors", "model.safetensors.index.json",
    "pytorch_model.bin", "pytorch_model.bin.index.json",
  };
  g_autofree char *tf = g_build_filename (dir, "tf_model.h5", NULL);
  g_autofree char *flax = g_build_filename (dir, "flax_model.msgpack", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *path = g_build_filename (dir, names[i], NULL);
    if (g_file_test (path, G_FILE_TEST_EXISTS))
      return convnext_checkpoint_open (path, error);
  }
  g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "no weights in %s: expected "
      "model.safetensors, model.safetensors.index.json, pytorch_model.bin or "
      "pytorch_model.bin.index.json%s", dir,
      g_file_test (tf, G_FILE_TEST_EXISTS) || g_file_test (flax, G_FILE_TEST_EXISTS)
      ? " (TensorFlow's tf_model.h5 and Flax's flax_model.msgpack are not read)" : "");
  return NULL;
}
