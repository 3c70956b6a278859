/* The process-wide, weak cache of loaded models; its locking rule is in the header. */
#include "gstconvnextmodelcache.h"

#include <errno.h>
#include <gio/gio.h>
#include <stdlib.h>

typedef struct {
  gchar *key;                   /* owned by the table too (same pointer) */
  ConvNextModel *model;         /* the cache's reference */
  guint users;                  /* acquire - release; the entry goes at 0 */
} Entry;

static GMutex cache_lock;
static GHashTable *by_key;      /* key → Entry */
static GHashTable *by_model;    /* ConvNextModel * → Entry (shared models only) */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* "<canonical dir>|precision|calibration|hidden|name:dev:ino:size:mtime|..." (names sorted). */
static gchar *
make_key (const gchar *model_dir, const ConvNextParams *params, GError **error)
{
  g_autofree gchar *canonical = realpath (model_dir, NULL);
  g_autoptr (GFile) dir = NULL;
  g_autoptr (GFileEnumerator) it = NULL;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *calibration = NULL;
  GString *key;

  if (canonical == NULL) {
    int saved = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", model_dir,
        g_strerror (saved));
    return NULL;
  }
  dir = g_file_new_for_path (canonical);
  it = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME ","
      G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE ","
      G_FILE_ATTRIBUTE_UNIX_DEVICE "," G_FILE_ATTRIBUTE_UNIX_INODE ","
      G_FILE_ATTRIBUTE_TIME_MODIFIED "," G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
      G_FILE_QUERY_INFO_NONE, NULL, error);
  if (it == NULL)
    return NULL;
  for (;;) {
    GFileInfo *info;

    if (!g_file_enumerator_iterate (it, &info, NULL, NULL, error))
      return NULL;
    if (info == NULL)
      break;
    if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
      continue;
    g_ptr_array_add (files, g_strdup_printf ("%s:%u:%" G_GUINT64_FORMAT ":%" G_GOFFSET_FORMAT
            ":%" G_GUINT64_FORMAT ".%06u", g_file_info_get_name (info),
            g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_UNIX_DEVICE),
            g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_UNIX_INODE),
            g_file_info_get_size (info),
            g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED),
            g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC)));
  }
  g_ptr_array_sort (files, compare_strings);
  if (params->int8_calibration != NULL)
    calibration = realpath (params->int8_calibration, NULL);
  key = g_string_new (canonical);
  g_string_append_printf (key, "|%d|%s|%d", (int) params->precision,
      calibration ? calibration : params->int8_calibration ? params->int8_calibration : "",
      params->output_hidden_states ? 1 : 0);
  for (guint i = 0; i < files->len; i++)
    g_string_append_printf (key, "|%s", (const gchar *) files->pdata[i]);
  return g_string_free (key, FALSE);
}

static void
ensure_tables (void)
{
  if (by_key == NULL) {
    by_key = g_hash_table_new (g_str_hash, g_str_equal);
    by_model = g_hash_table_new (g_direct_hash, g_direct_equal);
  }
}

ConvNextModel *
gst_convnext_model_cache_acquire (const gchar *model_dir, const ConvNextParams *params,
    gboolean shared, GError **error)
{
  g_autofree gchar *key = NULL;
  ConvNextModel *loaded;
  Entry *entry;

  if (!shared)
    return convnext_model_new (model_dir, params, error);
  key = make_key (model_dir, params, error);
  if (key == NULL)
    return NULL;

  g_mutex_lock (&cache_lock);
  ensure_tables ();
  entry = g_hash_table_lookup (by_key, key);
  if (entry != NULL) {
    entry->users++;
    g_mutex_unlock (&cache_lock);
    return entry->model;
  }
  g_mutex_unlock (&cache_lock);

  loaded = convnext_model_new (model_dir, params, error);
  if (loaded == NULL)
    return NULL;

  g_mutex_lock (&cache_lock);
  entry = g_hash_table_lookup (by_key, key);
  if (entry == NULL) {
    entry = g_new0 (Entry, 1);
    entry->key = g_steal_pointer (&key);
    entry->model = g_steal_pointer (&loaded);
    g_hash_table_insert (by_key, entry->key, entry);
    g_hash_table_insert (by_model, entry->model, entry);
  }
  entry->users++;
  g_mutex_unlock (&cache_lock);
  /* Another instance inserted the same key while we loaded: use its model. */
  g_clear_pointer (&loaded, convnext_model_unref);
  return entry->model;
}

void
gst_convnext_model_cache_release (ConvNextModel *model)
{
  Entry *entry;

  if (model == NULL)
    return;
  g_mutex_lock (&cache_lock);
  entry = by_model ? g_hash_table_lookup (by_model, model) : NULL;
  if (entry != NULL && --entry->users == 0) {
    g_hash_table_remove (by_key, entry->key);
    g_hash_table_remove (by_model, entry->model);
  } else if (entry != NULL) {
    entry = NULL;               /* still in use */
  } else {
    g_mutex_unlock (&cache_lock);
    convnext_model_unref (model);       /* a private model (shared = FALSE) */
    return;
  }
  g_mutex_unlock (&cache_lock);
  if (entry != NULL) {
    convnext_model_unref (entry->model);
    g_free (entry->key);
    g_free (entry);
  }
}

guint
gst_convnext_model_cache_get_size (void)
{
  guint n;

  g_mutex_lock (&cache_lock);
  n = by_key ? g_hash_table_size (by_key) : 0;
  g_mutex_unlock (&cache_lock);
  return n;
}
