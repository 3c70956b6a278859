/* config.json → ConvNextConfig, with the semantics of transformers' ConvNextConfig and
 * ConvNextV2Config.
 *
 * model_type is required and must be "convnext" or "convnextv2" (as AutoConfig dispatches
 * on it): anything else is another architecture, refused by name rather than loaded with
 * the wrong function.  ConvNextV2Config has no layer_scale_init_value (its layers have no
 * layer scale), so the key is ignored for V2.
 *
 * hidden_sizes and depths are required: they are what makes a checkpoint tiny, small or
 * base, and a silent default would only resurface as a confusing tensor-shape error.
 * Every other key may be absent and then takes ConvNextConfig's default: num_channels 3,
 * patch_size 4, num_stages 4, hidden_act "gelu", layer_norm_eps 1e-12,
 * layer_scale_init_value 1e-6, image_size 224, out_features/out_indices the last stage,
 * and without id2label, num_labels (default 2) classes named LABEL_<i>.  A key that is
 * present must have the right type and range. */
#include "convnext-private.h"
#include "json-util.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* Sanity bounds, so that a corrupt config cannot request absurd allocations. */
#define MAX_STAGES 16
#define MAX_CHANNELS 65536
#define MAX_DEPTH 1024
#define MAX_PATCH 1024
#define MAX_LABELS 1000000

/* An integer in [min, max]; @out keeps its default when the key is absent. */
static gboolean
read_uint (JsonObject *obj, const char *path, const char *key, gint64 min, gint64 max,
    guint *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL)
    return TRUE;
  if (!convnext_json_is_int (node) || json_node_get_int (node) < min
      || json_node_get_int (node) > max)
    return convnext_json_invalid (error, path, key, node,
        "an integer in [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", min, max);
  *out = json_node_get_int (node);
  return TRUE;
}

/* A finite number; @out keeps its default when the key is absent. */
static gboolean
read_double (JsonObject *obj, const char *path, const char *key, double *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL)
    return TRUE;
  if (!convnext_json_is_number (node) || !isfinite (json_node_get_double (node)))
    return convnext_json_invalid (error, path, key, node, "a finite number");
  *out = json_node_get_double (node);
  return TRUE;
}

/* An array of exactly @len integers in [min, max]. */
static gboolean
read_uint_array (JsonObject *obj, const char *path, const char *key, guint len, gint64 min,
    gint64 max, guint **out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (array = json_node_get_array (node)) != len)
    goto fail;
  *out = g_new (guint, len);
  for (guint i = 0; i < len; i++) {
    JsonNode *item = json_array_get_element (array, i);
    if (!convnext_json_is_int (item) || json_node_get_int (item) < min
        || json_node_get_int (item) > max) {
      g_clear_pointer (out, g_free);
      goto fail;
    }
    (*out)[i] = json_node_get_int (item);
  }
  return TRUE;

fail:
  return convnext_json_invalid (error, path, key, node,
      "an array of %u (num_stages) integers in [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]",
      len, min, max);
}

static gboolean
read_model_type (JsonObject *obj, const char *path, guint *version, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "model_type");
  const char *type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return convnext_json_invalid (error, path, "model_type", node,
        "\"convnext\" or \"convnextv2\"");
  type = json_node_get_string (node);
  if (g_str_equal (type, "convnext"))
    *version = 1;
  else if (g_str_equal (type, "convnextv2"))
    *version = 2;
  else {
    g_autofree char *shown = g_strescape (type, NULL);
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED, "%s has model_type \"%.64s\": "
        "this library runs ConvNeXt (\"convnext\") and ConvNeXt V2 (\"convnextv2\") only",
        path, shown);
    return FALSE;
  }
  return TRUE;
}

/* hidden_act: names of transformers' ACT2FN (activations.py) that this engine runs.  A name
 * ACT2FN lacks (e.g. "selu") is refused, as transformers refuses to build the model. */
static gboolean
read_hidden_act (JsonObject *obj, const char *path, ConvNextAct *out, GError **error)
{
  static const struct {
    const char *name;
    ConvNextAct act;
  } acts[] = {
    { "gelu", CONVNEXT_ACT_GELU },
    { "gelu_python", CONVNEXT_ACT_GELU },
    { "gelu_new", CONVNEXT_ACT_GELU_TANH },
    { "gelu_pytorch_tanh", CONVNEXT_ACT_GELU_TANH },
    { "relu", CONVNEXT_ACT_RELU },
  };
  JsonNode *node = json_object_get_member (obj, "hidden_act");

  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING) {
    const char *name = json_node_get_string (node);
    for (guint i = 0; i < G_N_ELEMENTS (acts); i++) {
      if (g_str_equal (name, acts[i].name)) {
        *out = acts[i].act;
        return TRUE;
      }
    }
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
        "invalid hidden_act in %s: expected one of \"gelu\", \"gelu_new\", \"relu\" "
        "(or gelu_python, gelu_pytorch_tanh), got \"%s\"", path, name);
    return FALSE;
  }
  return convnext_json_invalid (error, path, "hidden_act", node, "a string");
}

/* The smallest id in 0..@n-1 that no key of @members ("0", "1", ...) names. */
static guint
first_missing_id (GList *members, guint n)
{
  g_autofree gboolean *seen = g_new0 (gboolean, n);
  guint id = 0;

  for (GList *l = members; l != NULL; l = l->next) {
    guint64 k;

    if (g_ascii_string_to_unsigned (l->data, 10, 0, n - 1, &k, NULL))
      seen[k] = TRUE;
  }
  while (id < n && seen[id])
    id++;
  return id;
}

/* id2label: {"0": "tench", "1": "goldfish", …}, keys exactly 0..n-1. */
static gboolean
read_id2label (JsonObject *obj, const char *path, ConvNextConfig *cfg, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "id2label");
  JsonObject *map;
  g_autoptr (GList) members = NULL;
  char **labels;
  guint n;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node)) {
    /* PretrainedConfig: num_labels (default 2) classes LABEL_0, LABEL_1… */
    guint n = 2;
    if (!read_uint (obj, path, "num_labels", 1, MAX_LABELS, &n, error))
      return FALSE;
    cfg->labels = g_new0 (char *, n + 1);
    for (guint i = 0; i < n; i++)
      cfg->labels[i] = g_strdup_printf ("LABEL_%u", i);
    cfg->n_labels = n;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return convnext_json_invalid (error, path, "id2label", node,
        "an object mapping \"0\"...\"N-1\" to strings");
  map = json_node_get_object (node);
  n = json_object_get_size (map);
  if (n > MAX_LABELS)
    return convnext_json_invalid (error, path, "id2label", node, "at most %u labels", MAX_LABELS);
  /* Filled in key order, so it may have holes until the end: freed by count on failure. */
  labels = g_new0 (char *, n + 1);
  members = json_object_get_members (map);
  for (GList *l = members; l != NULL; l = l->next) {
    const char *key = l->data;
    JsonNode *value = json_object_get_member (map, key);
    guint64 id;

    if (!g_ascii_string_to_unsigned (key, 10, 0, n - 1, &id, NULL) || labels[id] != NULL) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
          "invalid id2label in %s: its %u keys must be \"0\"...\"%u\", but \"%s\" is not one of "
          "them and \"%u\" is missing", path, n, n - 1, key, first_missing_id (members, n));
      goto fail;
    }
    if (value == NULL || !JSON_NODE_HOLDS_VALUE (value)
        || json_node_get_value_type (value) != G_TYPE_STRING) {
      g_autofree char *k = g_strdup_printf ("id2label[\"%s\"]", key);
      convnext_json_invalid (error, path, k, value, "a string");
      goto fail;
    }
    labels[id] = g_strdup (json_node_get_string (value));
  }
  cfg->labels = labels;
  cfg->n_labels = n;
  return TRUE;

fail:
  for (guint i = 0; i < n; i++)
    g_free (labels[i]);
  g_free (labels);
  return FALSE;
}

/* out_features / out_indices, aligned as transformers' BackboneConfigMixin does: stage
 * names are "stem", "stage1"…; neither given → the last stage; both given → must agree. */
static gboolean
read_out_indices (JsonObject *obj, const char *path, ConvNextConfig *cfg, GError **error)
{
  guint n_names = cfg->num_stages + 1;
  JsonNode *features = json_object_get_member (obj, "out_features");
  JsonNode *indices = json_object_get_member (obj, "out_indices");
  g_autoptr (GArray) from_features = NULL;
  g_autoptr (GArray) from_indices = NULL;
  GArray *chosen;

  if (features != NULL && !JSON_NODE_HOLDS_NULL (features)) {
    JsonArray *array = JSON_NODE_HOLDS_ARRAY (features) ? json_node_get_array (features) : NULL;
    from_features = g_array_new (FALSE, FALSE, sizeof (guint));
    for (guint i = 0; array != NULL && i < json_array_get_length (array); i++) {
      JsonNode *item = json_array_get_element (array, i);
      const char *name;
      guint index = G_MAXUINT;

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING) {
        array = NULL;
        break;
      }
      name = json_node_get_string (item);
      if (g_str_equal (name, "stem"))
        index = 0;
      else if (g_str_has_prefix (name, "stage")) {
        guint64 v;
        if (g_ascii_string_to_unsigned (name + 5, 10, 1, cfg->num_stages, &v, NULL))
          index = v;
      }
      if (index == G_MAXUINT || (from_features->len > 0
              && index <= g_array_index (from_features, guint, from_features->len - 1))) {
        array = NULL;
        break;
      }
      g_array_append_val (from_features, index);
    }
    if (array == NULL)
      return convnext_json_invalid (error, path, "out_features", features,
          "a list of distinct stage names in order, from \"stem\", \"stage1\" ... \"stage%u\"",
          cfg->num_stages);
  }

  if (indices != NULL && !JSON_NODE_HOLDS_NULL (indices)) {
    JsonArray *array = JSON_NODE_HOLDS_ARRAY (indices) ? json_node_get_array (indices) : NULL;
    from_indices = g_array_new (FALSE, FALSE, sizeof (guint));
    for (guint i = 0; array != NULL && i < json_array_get_length (array); i++) {
      JsonNode *item = json_array_get_element (array, i);
      gint64 v = convnext_json_is_int (item) ? json_node_get_int (item) : G_MININT64;
      guint index;

      /* Python-style negative indices count from the end. */
      if (v < -(gint64) n_names || v >= (gint64) n_names) {
        array = NULL;
        break;
      }
      index = v < 0 ? v + n_names : v;
      if (from_indices->len > 0
          && index <= g_array_index (from_indices, guint, from_indices->len - 1)) {
        array = NULL;
        break;
      }
      g_array_append_val (from_indices, index);
    }
    if (array == NULL)
      return convnext_json_invalid (error, path, "out_indices", indices,
          "a list of distinct ascending integers in [-%u, %u]", n_names, n_names - 1);
  }

  if (from_features != NULL && from_indices != NULL
      && (from_features->len != from_indices->len
          || memcmp (from_features->data, from_indices->data,
              from_features->len * sizeof (guint)) != 0))
    return convnext_json_invalid (error, path, "out_indices", indices,
        "the stages named by out_features");

  chosen = from_indices != NULL ? from_indices : from_features;
  if (chosen == NULL) {
    cfg->n_out_indices = 1;
    cfg->out_indices = g_new (guint, 1);
    cfg->out_indices[0] = cfg->num_stages;
  } else {
    cfg->n_out_indices = chosen->len;
    cfg->out_indices = chosen->len > 0 ? g_memdup2 (chosen->data, chosen->len * sizeof (guint))
        : NULL;
  }
  return TRUE;
}

ConvNextConfig *
convnext_config_load (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  gsize length;

  if (!g_file_get_contents (path, &text, &length, &local)) {
    /* GLib's message names the file */
    g_set_error_literal (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, local->message);
    return NULL;
  }
  return convnext_config_parse (path, text, length, error);
}

ConvNextConfig *
convnext_config_parse (const char *path, const char *text, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (ConvNextConfig) cfg = g_new0 (ConvNextConfig, 1);
  g_autoptr (GError) local = NULL;
  JsonNode *root;
  JsonObject *obj;

  cfg->path = g_strdup (path);
  if (!convnext_json_load (parser, text, length, &local)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG, "invalid JSON in %s: %s",
        path, local->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
        "invalid %s: expected a JSON object at the top level", path);
    return NULL;
  }
  obj = json_node_get_object (root);

  /* transformers' ConvNextConfig defaults */
  cfg->num_channels = 3;
  cfg->patch_size = 4;
  cfg->num_stages = 4;
  cfg->hidden_act = CONVNEXT_ACT_GELU;
  cfg->layer_norm_eps = 1e-12;
  cfg->layer_scale_init_value = 1e-6;
  cfg->image_size = 224;

  if (!read_model_type (obj, path, &cfg->version, error)
      || !read_uint (obj, path, "num_channels", 1, MAX_CHANNELS, &cfg->num_channels, error)
      || !read_uint (obj, path, "patch_size", 1, MAX_PATCH, &cfg->patch_size, error)
      || !read_uint (obj, path, "num_stages", 1, MAX_STAGES, &cfg->num_stages, error)
      || !read_uint_array (obj, path, "hidden_sizes", cfg->num_stages, 1, MAX_CHANNELS,
          &cfg->hidden_sizes, error)
      || !read_uint_array (obj, path, "depths", cfg->num_stages, 0, MAX_DEPTH, &cfg->depths, error)
      || !read_hidden_act (obj, path, &cfg->hidden_act, error)
      || !read_double (obj, path, "layer_norm_eps", &cfg->layer_norm_eps, error)
      || !read_double (obj, path, "layer_scale_init_value", &cfg->layer_scale_init_value, error)
      || !read_id2label (obj, path, cfg, error)
      || !read_out_indices (obj, path, cfg, error))
    return NULL;

  if (cfg->version == 2)
    cfg->layer_scale_init_value = 0;
  if (cfg->layer_norm_eps < 0) {
    convnext_json_invalid (error, path, "layer_norm_eps",
        json_object_get_member (obj, "layer_norm_eps"), "a number >= 0");
    return NULL;
  }

  if (!read_uint (obj, path, "image_size", 1, G_MAXINT32, &cfg->image_size, error))
    return NULL;

  return g_steal_pointer (&cfg);
}

void
convnext_config_free (ConvNextConfig *cfg)
{
  if (cfg == NULL)
    return;
  g_free (cfg->path);
  g_free (cfg->hidden_sizes);
  g_free (cfg->depths);
  g_strfreev (cfg->labels);
  g_free (cfg->out_indices);
  g_free (cfg);
}
