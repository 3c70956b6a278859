/* int8 pointwise layers: the calibration file and the quantized weights (see int8.h). */
#include "int8.h"

#include "json-util.h"

#include <math.h>

/* The calibration file is small (3 numbers per block); anything much larger is not one. */
#define MAX_CALIBRATION_BYTES (1 << 20)
#define CALIBRATION_FORMAT "convnext-int8-calibration"

static guint
count_layers (const ConvNextConfig *cfg)
{
  guint n = 0;

  for (guint s = 0; s < cfg->num_stages; s++)
    n += cfg->depths[s];
  return n;
}

ConvNextRanges *
convnext_ranges_new (const ConvNextConfig *cfg)
{
  ConvNextRanges *r = g_new0 (ConvNextRanges, 1);

  r->n_layers = count_layers (cfg);
  r->layers = g_new0 (ConvNextRange, MAX (r->n_layers, 1));
  for (guint i = 0; i < r->n_layers; i++)
    r->layers[i] = (ConvNextRange) { 0.f, INFINITY, -INFINITY };
  return r;
}

void
convnext_ranges_free (ConvNextRanges *r)
{
  if (r == NULL)
    return;
  g_free (r->layers);
  g_free (r);
}

static char *
layer_name (const ConvNextConfig *cfg, guint index)
{
  for (guint s = 0; s < cfg->num_stages; s++) {
    if (index < cfg->depths[s])
      return g_strdup_printf ("encoder.stages.%u.layers.%u", s, index);
    index -= cfg->depths[s];
  }
  g_assert_not_reached ();
}

gboolean
convnext_ranges_save (const ConvNextRanges *r, const ConvNextConfig *cfg, const char *model_name,
    const char *path, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) local = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, CALIBRATION_FORMAT);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, model_name);
  json_builder_set_member_name (b, "images");
  json_builder_add_int_value (b, r->n_images);
  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->n_layers; i++) {
    g_autofree char *name = layer_name (cfg, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name);
    json_builder_set_member_name (b, "input_absmax");
    json_builder_add_double_value (b, r->layers[i].input_absmax);
    json_builder_set_member_name (b, "hidden_min");
    json_builder_add_double_value (b, r->layers[i].hidden_min);
    json_builder_set_member_name (b, "hidden_max");
    json_builder_add_double_value (b, r->layers[i].hidden_max);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  if (!json_generator_to_file (gen, path, &local)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "cannot write %s: %s", path,
        local->message);
    return FALSE;
  }
  return TRUE;
}

/* A finite number member of @o, or FALSE with an error naming @key. */
static gboolean
number_member (JsonObject *o, const char *key, const char *path, const char *where, float *out,
    GError **error)
{
  JsonNode *node = json_object_get_member (o, key);
  g_autofree char *full = g_strdup_printf ("%s.%s", where, key);
  double v;

  if (!convnext_json_is_number (node))
    return convnext_json_invalid (error, path, full, node, "a number");
  v = json_node_get_double (node);
  if (!isfinite (v) || fabs (v) > 1e30)
    return convnext_json_invalid (error, path, full, node, "a finite number");
  *out = v;
  return TRUE;
}

ConvNextRanges *
convnext_ranges_load (const ConvNextConfig *cfg, const char *path, GError **error)
{
  g_autoptr (ConvNextRanges) r = convnext_ranges_new (cfg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  gsize length = 0;
  JsonNode *root, *node;
  JsonObject *o;
  JsonArray *layers;

  if (!g_file_get_contents (path, &text, &length, &local)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "int8 precision needs the activation "
        "ranges of the model's pointwise layers: cannot read %s (%s); make it with "
        "convnext-classify --model DIR --calibrate %s IMAGE…", path, local->message, path);
    return NULL;
  }
  if (length > MAX_CALIBRATION_BYTES
      || !json_parser_load_from_data (parser, text, length, &local)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG, "%s is not an int8 "
        "calibration file: %s", path, local ? local->message : "larger than 1 MiB");
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    convnext_json_invalid (error, path, "(top level)", root, "an object");
    return NULL;
  }
  o = json_node_get_object (root);
  node = json_object_get_member (o, "format");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING
      || g_strcmp0 (json_node_get_string (node), CALIBRATION_FORMAT) != 0) {
    convnext_json_invalid (error, path, "format", node, "\"" CALIBRATION_FORMAT "\"");
    return NULL;
  }
  node = json_object_get_member (o, "version");
  if (!convnext_json_is_int (node) || json_node_get_int (node) != 1) {
    convnext_json_invalid (error, path, "version", node, "1");
    return NULL;
  }
  node = json_object_get_member (o, "images");
  if (!convnext_json_is_int (node) || json_node_get_int (node) < 1
      || json_node_get_int (node) > G_MAXINT) {
    convnext_json_invalid (error, path, "images", node, "a positive integer");
    return NULL;
  }
  r->n_images = json_node_get_int (node);
  node = json_object_get_member (o, "layers");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (json_node_get_array (node)) != r->n_layers) {
    convnext_json_invalid (error, path, "layers", node, "an array of %u objects (one per block "
        "of %s)", r->n_layers, cfg->path);
    return NULL;
  }
  layers = json_node_get_array (node);
  for (guint i = 0; i < r->n_layers; i++) {
    g_autofree char *name = layer_name (cfg, i);
    g_autofree char *where = g_strdup_printf ("layers[%u]", i);
    JsonNode *l = json_array_get_element (layers, i);
    ConvNextRange *range = &r->layers[i];
    JsonObject *lo;

    if (!JSON_NODE_HOLDS_OBJECT (l)) {
      convnext_json_invalid (error, path, where, l, "an object");
      return NULL;
    }
    lo = json_node_get_object (l);
    node = json_object_get_member (lo, "name");
    if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING
        || g_strcmp0 (json_node_get_string (node), name) != 0) {
      g_autofree char *key = g_strdup_printf ("%s.name", where);
      convnext_json_invalid (error, path, key, node, "\"%s\"", name);
      return NULL;
    }
    if (!number_member (lo, "input_absmax", path, where, &range->input_absmax, error)
        || !number_member (lo, "hidden_min", path, where, &range->hidden_min, error)
        || !number_member (lo, "hidden_max", path, where, &range->hidden_max, error))
      return NULL;
    if (!(range->input_absmax > 0) || !(range->hidden_max > range->hidden_min)) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG, "invalid %s in %s: "
          "expected input_absmax > 0 and hidden_max > hidden_min, got %g, [%g, %g]", where, path,
          range->input_absmax, range->hidden_min, range->hidden_max);
      return NULL;
    }
  }
  return g_steal_pointer (&r);
}

/* @rows × @cols f32 → s8 per row (symmetric, max |row| ↦ @levels); @scale[row] = step ·
 * @extra. */
static gint8 *
quantize_rows (const float *w, guint rows, guint cols, float levels, float extra, float *scale)
{
  gint8 *q = g_new (gint8, (gsize) rows * cols);

  for (guint r = 0; r < rows; r++) {
    const float *row = w + (gsize) r * cols;
    float max = 0.f, step;
    for (guint c = 0; c < cols; c++)
      max = MAX (max, fabsf (row[c]));
    step = max > 0.f ? max / levels : 1.f;
    for (guint c = 0; c < cols; c++)
      q[(gsize) r * cols + c] = (gint8) lrintf (CLAMP (row[c] / step, -levels, levels));
    scale[r] = step * extra;
  }
  return q;
}

static float *
reciprocals (const float *v, guint n)
{
  float *r = g_new (float, n);

  for (guint i = 0; i < n; i++)
    r[i] = 1.f / v[i];
  return r;
}

ConvNextInt8Weights *
convnext_int8_weights_new (const ConvNextConfig *cfg, const ConvNextWeights *w,
    const ConvNextRanges *ranges, guint weight_max)
{
  ConvNextInt8Weights *q = g_new0 (ConvNextInt8Weights, 1);
  guint i = 0;

  q->n_layers = ranges->n_layers;
  q->layers = g_new0 (ConvNextInt8Layer, MAX (q->n_layers, 1));
  for (guint s = 0; s < cfg->num_stages; s++) {
    guint c = cfg->hidden_sizes[s], c4 = 4 * c;
    for (guint j = 0; j < cfg->depths[s]; j++, i++) {
      const ConvNextLayerWeights *lw = &w->stages[s].layers[j];
      const ConvNextRange *range = &ranges->layers[i];
      ConvNextInt8Layer *l = &q->layers[i];
      float s_t = range->input_absmax / 127.f;
      float s_u = (range->hidden_max - range->hidden_min) / 255.f;

      l->norm_weight = g_new (float, c);
      l->norm_bias = g_new (float, c);
      for (guint k = 0; k < c; k++) {
        l->norm_weight[k] = lw->norm_weight[k] / s_t;
        l->norm_bias[k] = lw->norm_bias[k] / s_t;
      }
      l->w1_scale = g_new (float, c4);
      l->w1 = quantize_rows (lw->pwconv1_weight, c4, c, weight_max, s_t, l->w1_scale);
      l->w1_scale_inv = reciprocals (l->w1_scale, c4);
      l->hidden_alpha = 1.f / s_u;
      l->hidden_beta = -range->hidden_min / s_u;
      l->w2_scale = g_new (float, c);
      l->w2 = quantize_rows (lw->pwconv2_weight, c, c4, weight_max, s_u, l->w2_scale);
      l->w2_scale_inv = reciprocals (l->w2_scale, c);
      l->b2 = g_new (float, c);
      for (guint n = 0; n < c; n++) {
        double sum = 0;
        for (guint k = 0; k < c4; k++)
          sum += lw->pwconv2_weight[(gsize) n * c4 + k];
        l->b2[n] = lw->pwconv2_bias[n] + range->hidden_min * sum;
      }
    }
  }
  return q;
}

void
convnext_int8_weights_free (ConvNextInt8Weights *q)
{
  if (q == NULL)
    return;
  for (guint i = 0; i < q->n_layers; i++) {
    ConvNextInt8Layer *l = &q->layers[i];
    g_free (l->norm_weight);
    g_free (l->norm_bias);
    g_free (l->w1);
    g_free (l->w1_scale);
    g_free (l->w1_scale_inv);
    g_free (l->w2_scale_inv);
    g_free (l->w2);
    g_free (l->w2_scale);
    g_free (l->b2);
  }
  g_free (q->layers);
  g_free (q);
}
