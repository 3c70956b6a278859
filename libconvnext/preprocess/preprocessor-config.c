/* preprocessor_config.json → ConvNextPreprocessConfig, with the semantics of transformers'
 * ConvNextImageProcessor (models/convnext/image_processing_convnext.py):
 *
 *   do_resize       true
 *   size            {"shortest_edge": 384}; an integer N means {"shortest_edge": N}
 *                   (get_size_dict(size, default_to_square=False)); {"height", "width"} is
 *                   refused, as ConvNextImageProcessor.resize refuses it
 *   crop_pct        224 / 256; null means the default too
 *   resample        3 (PIL BICUBIC); null means 2 (BILINEAR), what image_transforms.resize
 *                   falls back to
 *   do_rescale      true
 *   rescale_factor  1 / 255
 *   do_normalize    true
 *   image_mean      IMAGENET_STANDARD_MEAN [0.5, 0.5, 0.5]; a single number is broadcast
 *   image_std       IMAGENET_STANDARD_STD [0.5, 0.5, 0.5]; must be finite and > 0
 *
 * Other keys (image_processor_type, …) are ignored. */
#include "preprocess-private.h"
#include "json-util.h"

#include <json-glib/json-glib.h>
#include <math.h>

#define CONFIG_NAME "preprocessor_config.json"

static gboolean
read_bool (JsonObject *obj, const char *path, const char *key, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return convnext_json_invalid (error, path, key, node, "true or false");
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* "size": N, {"shortest_edge": N}, or null (the default). */
static gboolean
read_size (JsonObject *obj, const char *path, guint *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "size");
  JsonNode *edge = node;
  const char *key = "size";

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_HOLDS_OBJECT (node)) {
    key = "size[\"shortest_edge\"]";
    edge = json_object_get_member (json_node_get_object (node), "shortest_edge");
    if (edge == NULL)
      return convnext_json_invalid (error, path, "size", node, "{\"shortest_edge\": N} or an integer "
          "(ConvNextImageProcessor has no {\"height\", \"width\"} size)");
  }
  if (!convnext_json_is_int (edge) || json_node_get_int (edge) < 1
      || json_node_get_int (edge) > CONVNEXT_PREPROCESS_MAX_SIZE)
    return convnext_json_invalid (error, path, key, edge, "an integer in [1, %d]",
        CONVNEXT_PREPROCESS_MAX_SIZE);
  *out = json_node_get_int (edge);
  return TRUE;
}

static gboolean
read_crop_pct (JsonObject *obj, const char *path, double *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "crop_pct");

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!convnext_json_is_number (node) || !isfinite (json_node_get_double (node))
      || json_node_get_double (node) <= 0)
    return convnext_json_invalid (error, path, "crop_pct", node, "a number > 0 (or null)");
  *out = json_node_get_double (node);
  return TRUE;
}

static gboolean
read_resample (JsonObject *obj, const char *path, ConvNextResample *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "resample");

  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_NULL (node)) {
    *out = CONVNEXT_RESAMPLE_BILINEAR;
    return TRUE;
  }
  if (!convnext_json_is_int (node) || json_node_get_int (node) < CONVNEXT_RESAMPLE_NEAREST
      || json_node_get_int (node) > CONVNEXT_RESAMPLE_HAMMING)
    return convnext_json_invalid (error, path, "resample", node, "a PIL filter: 0 (nearest), 1 (lanczos), "
        "2 (bilinear), 3 (bicubic), 4 (box) or 5 (hamming)");
  *out = json_node_get_int (node);
  return TRUE;
}

static gboolean
read_rescale_factor (JsonObject *obj, const char *path, double *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "rescale_factor");

  if (node == NULL)
    return TRUE;
  if (!convnext_json_is_number (node) || !isfinite (json_node_get_double (node)))
    return convnext_json_invalid (error, path, "rescale_factor", node, "a finite number");
  *out = json_node_get_double (node);
  return TRUE;
}

/* image_mean / image_std: 3 numbers, or one number for all channels; null = the default. */
static gboolean
read_channels (JsonObject *obj, const char *path, const char *key, gboolean positive,
    double out[3], GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);
  const char *expected = positive ? "3 finite numbers > 0 (or one)" : "3 finite numbers (or one)";
  double values[3];

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *array = json_node_get_array (node);
    if (json_array_get_length (array) != 3)
      return convnext_json_invalid (error, path, key, node, "%s", expected);
    for (guint c = 0; c < 3; c++) {
      JsonNode *item = json_array_get_element (array, c);
      g_autofree char *item_key = g_strdup_printf ("%s[%u]", key, c);
      if (!convnext_json_is_number (item))
        return convnext_json_invalid (error, path, item_key, item, "a number");
      values[c] = json_node_get_double (item);
    }
  } else if (convnext_json_is_number (node)) {
    values[0] = values[1] = values[2] = json_node_get_double (node);
  } else {
    return convnext_json_invalid (error, path, key, node, "%s", expected);
  }
  for (guint c = 0; c < 3; c++) {
    if (!isfinite (values[c]) || (positive && !(values[c] > 0))) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
          "invalid %s in %s: expected %s, got %g for channel %u", key, path, expected,
          values[c], c);
      return FALSE;
    }
  }
  memcpy (out, values, sizeof values);
  return TRUE;
}

/* The shortest_edge < 384 branch resizes the short side to int(shortest_edge / crop_pct). */
static gboolean
check_resize_target (const ConvNextPreprocessConfig *cfg, const char *path, GError **error)
{
  double target;

  if (!cfg->do_resize || cfg->shortest_edge >= 384)
    return TRUE;
  target = floor (cfg->shortest_edge / cfg->crop_pct);
  if (target < 1 || target > CONVNEXT_PREPROCESS_MAX_SIZE) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
        "invalid crop_pct in %s: int(shortest_edge / crop_pct) = int(%u / %g) must be in "
        "[1, %d]", path, cfg->shortest_edge, cfg->crop_pct, CONVNEXT_PREPROCESS_MAX_SIZE);
    return FALSE;
  }
  return TRUE;
}

float
convnext_preprocess_normalize (const ConvNextPreprocessConfig *cfg, guint c, guint v)
{
  float x = cfg->do_rescale ? (float) (v * cfg->rescale_factor) : (float) v;

  return cfg->do_normalize ? (x - (float) cfg->image_mean[c]) / (float) cfg->image_std[c] : x;
}

/* Finite settings can still overflow float32 (rescale_factor 1e300, image_std 1e-300): every
 * frame would then give NaN logits.  The map is monotonic in v, so its ends decide. */
static gboolean
check_pixel_values_finite (const ConvNextPreprocessConfig *cfg, const char *path,
    GError **error)
{
  for (guint c = 0; c < 3; c++) {
    for (guint v = 0; v < 256; v += 255) {
      float x = convnext_preprocess_normalize (cfg, c, v);
      if (!isfinite (x)) {
        g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
            "invalid %s: rescale_factor %g, image_mean[%u] %g and image_std[%u] %g turn pixel "
            "value %u into %g, not a finite float32", path, cfg->rescale_factor, c,
            cfg->image_mean[c], c, cfg->image_std[c], v, x);
        return FALSE;
      }
    }
  }
  return TRUE;
}

static void
set_defaults (ConvNextPreprocessConfig *cfg)
{
  *cfg = (ConvNextPreprocessConfig) {
    .do_resize = TRUE,
    .shortest_edge = 384,
    .crop_pct = 224.0 / 256.0,
    .resample = CONVNEXT_RESAMPLE_BICUBIC,
    .do_rescale = TRUE,
    .rescale_factor = 1.0 / 255.0,
    .do_normalize = TRUE,
    .image_mean = { 0.5, 0.5, 0.5 },
    .image_std = { 0.5, 0.5, 0.5 },
  };
}

gboolean
convnext_preprocess_config_load (ConvNextPreprocessConfig *cfg, const char *model_dir,
    GError **error)
{
  g_autofree char *path = g_build_filename (model_dir, CONFIG_NAME, NULL);
  g_autoptr (GError) local_error = NULL;
  g_autofree char *text = NULL;
  gsize length;

  set_defaults (cfg);
  if (!g_file_test (model_dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO,
        "model directory %s does not exist", model_dir);
    return FALSE;
  }
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    cfg->defaults = TRUE;
    return TRUE;
  }
  if (!g_file_get_contents (path, &text, &length, &local_error)) {
    /* GLib's message names the file */
    g_set_error_literal (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, local_error->message);
    return FALSE;
  }
  return convnext_preprocess_config_parse (cfg, path, text, length, error);
}

gboolean
convnext_preprocess_config_parse (ConvNextPreprocessConfig *cfg, const char *path,
    const char *text, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;
  JsonObject *obj;

  set_defaults (cfg);
  if (!convnext_json_load (parser, text, length, &local_error)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG, "cannot parse %s: %s",
        path, local_error->message);
    return FALSE;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG,
        "invalid %s: expected a JSON object", path);
    return FALSE;
  }
  obj = json_node_get_object (root);

  return read_bool (obj, path, "do_resize", &cfg->do_resize, error)
      && read_size (obj, path, &cfg->shortest_edge, error)
      && read_crop_pct (obj, path, &cfg->crop_pct, error)
      && read_resample (obj, path, &cfg->resample, error)
      && read_bool (obj, path, "do_rescale", &cfg->do_rescale, error)
      && read_rescale_factor (obj, path, &cfg->rescale_factor, error)
      && read_bool (obj, path, "do_normalize", &cfg->do_normalize, error)
      && read_channels (obj, path, "image_mean", FALSE, cfg->image_mean, error)
      && read_channels (obj, path, "image_std", TRUE, cfg->image_std, error)
      && check_resize_target (cfg, path, error)
      && check_pixel_values_finite (cfg, path, error);
}
