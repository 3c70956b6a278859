/* model.safetensors → ConvNextWeights: every tensor the config implies is looked up by its
 * Hugging Face name, its shape checked, and made available as float32 (a view into the
 * mapping when it already is aligned F32, a converted copy otherwise). */
#include "convnext-private.h"

#include <math.h>
#include <string.h>

typedef struct {
  const ConvNextConfig *cfg;
  ConvNextWeights *w;
  const char *prefix;           /* "convnext." or "" (bare ConvNextModel) */
  GError *error;                /* the first failure */
  char name[128];
} Loader;

static float
f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;
  guint32 bits;
  float f;

  if (exponent == 0) {
    f = ldexpf ((float) mantissa, -24);   /* zero or subnormal */
    return sign ? -f : f;
  }
  if (exponent == 31)
    bits = sign | 0x7f800000u | (mantissa << 13);   /* inf or NaN */
  else
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  memcpy (&f, &bits, 4);
  return f;
}

static const float *
as_f32 (Loader *ld, const ConvNextSafetensor *t)
{
  float *copy;

  if (t->dtype == CONVNEXT_DTYPE_F32 && ((guintptr) t->data % sizeof (float)) == 0)
    return (const float *) t->data;

  copy = g_malloc (MAX (t->n_elements, 1) * sizeof (float));
  g_ptr_array_add (ld->w->copies, copy);
  for (guint64 i = 0; i < t->n_elements; i++) {
    guint16 h;
    guint32 bits;
    switch (t->dtype) {
      case CONVNEXT_DTYPE_F32:
        memcpy (copy + i, t->data + 4 * i, 4);
        break;
      case CONVNEXT_DTYPE_F16:
        memcpy (&h, t->data + 2 * i, 2);
        copy[i] = f16_to_f32 (GUINT16_FROM_LE (h));
        break;
      case CONVNEXT_DTYPE_BF16:
        memcpy (&h, t->data + 2 * i, 2);
        bits = (guint32) GUINT16_FROM_LE (h) << 16;
        memcpy (copy + i, &bits, 4);
        break;
    }
  }
  return copy;
}

static char *
shape_string (guint n_dims, const guint64 *shape)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < n_dims; i++)
    g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Looks up <prefix><name> and checks its shape.  After the first failure it does nothing,
 * so that a loader reads as a plain list of tensors. */
static const float *
take (Loader *ld, const char *name, guint n_dims, const guint64 *shape)
{
  g_autofree char *full = g_strconcat (g_str_has_prefix (name, "classifier.") ? "" : ld->prefix,
      name, NULL);
  const ConvNextSafetensor *t;

  if (ld->error != NULL)
    return NULL;
  t = convnext_safetensors_lookup (ld->w->file, full);
  if (t == NULL) {
    g_set_error (&ld->error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "missing tensor %s in %s", full, convnext_safetensors_get_path (ld->w->file));
    return NULL;
  }
  if (t->n_dims != n_dims || memcmp (t->shape, shape, n_dims * sizeof (guint64)) != 0) {
    g_autofree char *got = shape_string (t->n_dims, t->shape);
    g_autofree char *expected = shape_string (n_dims, shape);
    g_set_error (&ld->error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "tensor %s in %s has shape %s, expected %s (from %s)", full,
        convnext_safetensors_get_path (ld->w->file), got, expected, ld->cfg->path);
    return NULL;
  }
  return as_f32 (ld, t);
}

/* TAKE (ld, name, sizes…) */
#define TAKE(ld, name, ...) take ((ld), (name), \
    G_N_ELEMENTS (((const guint64[]) { __VA_ARGS__ })), (const guint64[]) { __VA_ARGS__ })

static const char *
layer_name (Loader *ld, guint s, guint j, const char *leaf)
{
  g_snprintf (ld->name, sizeof ld->name, "encoder.stages.%u.layers.%u.%s", s, j, leaf);
  return ld->name;
}

static const char *
down_name (Loader *ld, guint s, const char *leaf)
{
  g_snprintf (ld->name, sizeof ld->name, "encoder.stages.%u.downsampling_layer.%s", s, leaf);
  return ld->name;
}

static void
load_layer (Loader *ld, guint s, guint j, guint64 c, ConvNextLayerWeights *l)
{
  const guint64 k = CONVNEXT_DW_KERNEL;

  l->dwconv_weight = TAKE (ld, layer_name (ld, s, j, "dwconv.weight"), c, 1, k, k);
  l->dwconv_bias = TAKE (ld, layer_name (ld, s, j, "dwconv.bias"), c);
  l->norm_weight = TAKE (ld, layer_name (ld, s, j, "layernorm.weight"), c);
  l->norm_bias = TAKE (ld, layer_name (ld, s, j, "layernorm.bias"), c);
  l->pwconv1_weight = TAKE (ld, layer_name (ld, s, j, "pwconv1.weight"), 4 * c, c);
  l->pwconv1_bias = TAKE (ld, layer_name (ld, s, j, "pwconv1.bias"), 4 * c);
  l->pwconv2_weight = TAKE (ld, layer_name (ld, s, j, "pwconv2.weight"), c, 4 * c);
  l->pwconv2_bias = TAKE (ld, layer_name (ld, s, j, "pwconv2.bias"), c);
  if (ld->cfg->layer_scale_init_value > 0)
    l->layer_scale = TAKE (ld, layer_name (ld, s, j, "layer_scale_parameter"), c);
}

ConvNextWeights *
convnext_weights_load (const ConvNextConfig *cfg, const char *path, GError **error)
{
  g_autoptr (ConvNextWeights) w = g_new0 (ConvNextWeights, 1);
  Loader ld = { .cfg = cfg, .w = w, .prefix = "convnext." };
  guint64 c0 = cfg->hidden_sizes[0], p = cfg->patch_size;
  guint64 c_last = cfg->hidden_sizes[cfg->num_stages - 1];

  w->copies = g_ptr_array_new_with_free_func (g_free);
  w->file = convnext_safetensors_open (path, error);
  if (w->file == NULL)
    return NULL;

  /* ConvNextForImageClassification names start with "convnext."; ConvNextModel's don't. */
  if (convnext_safetensors_lookup (w->file, "convnext.embeddings.patch_embeddings.weight") == NULL
      && convnext_safetensors_lookup (w->file, "embeddings.patch_embeddings.weight") != NULL)
    ld.prefix = "";

  w->patch_weight = TAKE (&ld, "embeddings.patch_embeddings.weight", c0, cfg->num_channels, p, p);
  w->patch_bias = TAKE (&ld, "embeddings.patch_embeddings.bias", c0);
  w->embed_norm_weight = TAKE (&ld, "embeddings.layernorm.weight", c0);
  w->embed_norm_bias = TAKE (&ld, "embeddings.layernorm.bias", c0);

  w->n_stages = cfg->num_stages;
  w->stages = g_new0 (ConvNextStageWeights, cfg->num_stages);
  for (guint s = 0; s < cfg->num_stages; s++) {
    ConvNextStageWeights *st = &w->stages[s];
    guint64 c = cfg->hidden_sizes[s];

    if (s > 0) {
      guint64 c_in = cfg->hidden_sizes[s - 1];
      st->down_norm_weight = TAKE (&ld, down_name (&ld, s, "0.weight"), c_in);
      st->down_norm_bias = TAKE (&ld, down_name (&ld, s, "0.bias"), c_in);
      st->down_conv_weight = TAKE (&ld, down_name (&ld, s, "1.weight"), c, c_in, 2, 2);
      st->down_conv_bias = TAKE (&ld, down_name (&ld, s, "1.bias"), c);
    }
    st->layers = g_new0 (ConvNextLayerWeights, cfg->depths[s]);
    for (guint j = 0; j < cfg->depths[s]; j++)
      load_layer (&ld, s, j, c, &st->layers[j]);
  }
  w->final_norm_weight = TAKE (&ld, "layernorm.weight", c_last);
  w->final_norm_bias = TAKE (&ld, "layernorm.bias", c_last);

  /* A classification checkpoint's classifier has num_labels rows (id2label's size). */
  if (*ld.prefix != '\0' && ld.error == NULL) {
    w->num_labels = cfg->n_labels;
    w->classifier_weight = TAKE (&ld, "classifier.weight", w->num_labels, c_last);
    w->classifier_bias = TAKE (&ld, "classifier.bias", w->num_labels);
    if (ld.error == NULL && w->num_labels == 0)
      g_set_error (&ld.error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
          "tensor classifier.weight in %s has no rows (id2label in %s is empty)", path,
          cfg->path);
  }

  if (ld.error != NULL) {
    g_propagate_error (error, ld.error);
    return NULL;
  }
  return g_steal_pointer (&w);
}

void
convnext_weights_release_pages (const ConvNextWeights *w, const float *data, gsize n_elements)
{
  convnext_safetensors_release_pages (w->file, data, n_elements * sizeof (float));
}

void
convnext_weights_free (ConvNextWeights *w)
{
  if (w == NULL)
    return;
  for (guint s = 0; w->stages != NULL && s < w->n_stages; s++)
    g_free (w->stages[s].layers);
  g_free (w->stages);
  g_clear_pointer (&w->copies, g_ptr_array_unref);
  g_clear_pointer (&w->file, convnext_safetensors_unref);
  g_free (w);
}
