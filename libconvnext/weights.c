/* A checkpoint's tensors → ConvNextWeights: every tensor the config implies is looked up by
 * its Hugging Face name, its shape checked, and made available as float32 (a view into the
 * mapping when it already is aligned, contiguous F32, a converted copy otherwise).  Then
 * every tensor nobody took is accounted for:
 *
 * - inside the network that the config describes (`<prefix>embeddings.`, `<prefix>encoder.`,
 *   `classifier.`) it is an error: it means the checkpoint computes another function than
 *   the config says (a V2 GRN under a V1 model_type, a layer scale the config switched off,
 *   more layers than depths) and transformers, which only warns there, would silently
 *   compute the wrong thing;
 * - elsewhere (another head, the norms of backbone stages out_features does not select) it
 *   is listed in ConvNextWeights.unused, as transformers warns "Some weights of the model
 *   checkpoint were not used", for the front ends to report. */
#include "convnext-private.h"

#include <math.h>
#include <string.h>

typedef struct {
  const ConvNextConfig *cfg;
  ConvNextWeights *w;
  const char *prefix;           /* "convnext.", "convnextv2." or "" (bare model, backbone) */
  GHashTable *used;             /* names taken */
  GError *error;                /* the first failure */
  char name[160];
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

static float
element (const ConvNextTensor *t, const guint8 *p)
{
  guint16 h;
  guint32 bits;
  float f;

  switch (t->dtype) {
    case CONVNEXT_DTYPE_F32:
      memcpy (&f, p, 4);
      return f;
    case CONVNEXT_DTYPE_F16:
      memcpy (&h, p, 2);
      return f16_to_f32 (GUINT16_FROM_LE (h));
    case CONVNEXT_DTYPE_BF16:
      memcpy (&h, p, 2);
      bits = (guint32) GUINT16_FROM_LE (h) << 16;
      memcpy (&f, &bits, 4);
      return f;
  }
  g_assert_not_reached ();
}

static const float *
as_f32 (Loader *ld, const ConvNextTensor *t)
{
  guint size = convnext_dtype_size (t->dtype);
  guint64 index[CONVNEXT_MAX_DIMS] = { 0 };
  float *copy;

  if (t->dtype == CONVNEXT_DTYPE_F32 && t->contiguous && ((guintptr) t->data % 4) == 0)
    return (const float *) t->data;

  copy = g_malloc (MAX (t->n_elements, 1) * sizeof (float));
  g_ptr_array_add (ld->w->copies, copy);
  if (t->contiguous) {
    for (guint64 i = 0; i < t->n_elements; i++)
      copy[i] = element (t, t->data + i * size);
    return copy;
  }
  /* strided (a view saved by torch.save): walk the C-order index, odometer style */
  for (guint64 i = 0; i < t->n_elements; i++) {
    guint64 offset = 0;
    for (guint d = 0; d < t->n_dims; d++)
      offset += index[d] * t->strides[d];
    copy[i] = element (t, t->data + offset * size);
    for (guint d = t->n_dims; d-- > 0;) {
      if (++index[d] < t->shape[d])
        break;
      index[d] = 0;
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

static const ConvNextTensor *
lookup (Loader *ld, const char *full)
{
  return convnext_checkpoint_lookup (ld->w->file, full);
}

/* NaN or infinite weights make every output NaN: refuse the checkpoint, naming the tensor,
 * instead of classifying every frame as nonsense. */
static const float *
check_finite (Loader *ld, const ConvNextTensor *t, const float *v)
{
  for (guint64 i = 0; v != NULL && i < t->n_elements; i++) {
    if (!isfinite (v[i])) {
      g_set_error (&ld->error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
          "tensor %s in %s holds %s at element %" G_GUINT64_FORMAT " (weights must be finite)",
          t->name, t->path, isnan (v[i]) ? "NaN" : v[i] > 0 ? "inf" : "-inf", i);
      return NULL;
    }
  }
  return v;
}

/* Looks up <prefix><name> (or <name> for the classifier and the backbone norms, which sit
 * outside the base model) and checks its shape.  After the first failure it does nothing,
 * so that a loader reads as a plain list of tensors. */
static const float *
take (Loader *ld, const char *name, guint n_dims, const guint64 *shape)
{
  gboolean outside = g_str_has_prefix (name, "classifier.")
      || g_str_has_prefix (name, "hidden_states_norms.");
  g_autofree char *full = g_strconcat (outside ? "" : ld->prefix, name, NULL);
  const ConvNextTensor *t;

  if (ld->error != NULL)
    return NULL;
  t = lookup (ld, full);
  if (t == NULL) {
    g_set_error (&ld->error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "missing tensor %s in %s", full, convnext_checkpoint_get_path (ld->w->file));
    return NULL;
  }
  if (t->n_dims != n_dims || memcmp (t->shape, shape, n_dims * sizeof (guint64)) != 0) {
    g_autofree char *got = shape_string (t->n_dims, t->shape);
    g_autofree char *expected = shape_string (n_dims, shape);
    g_set_error (&ld->error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "tensor %s in %s has shape %s, expected %s (from %s)", full, t->path, got, expected,
        ld->cfg->path);
    return NULL;
  }
  g_hash_table_add (ld->used, (char *) t->name);
  return check_finite (ld, t, as_f32 (ld, t));
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

/* GRN's parameters: grn.weight/grn.bias, spelt grn.gamma/grn.beta before mid-2023. */
static const float *
take_grn (Loader *ld, guint s, guint j, const char *leaf, const char *old_leaf, guint64 c4)
{
  g_autofree char *full = NULL;

  layer_name (ld, s, j, old_leaf);
  full = g_strconcat (ld->prefix, ld->name, NULL);
  if (lookup (ld, full) == NULL)
    layer_name (ld, s, j, leaf);
  return TAKE (ld, ld->name, 1, 1, 1, c4);
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
  if (ld->cfg->version == 2) {
    l->grn_weight = take_grn (ld, s, j, "grn.weight", "grn.gamma", 4 * c);
    l->grn_bias = take_grn (ld, s, j, "grn.bias", "grn.beta", 4 * c);
  }
  l->pwconv2_weight = TAKE (ld, layer_name (ld, s, j, "pwconv2.weight"), c, 4 * c);
  l->pwconv2_bias = TAKE (ld, layer_name (ld, s, j, "pwconv2.bias"), c);
  if (ld->cfg->layer_scale_init_value > 0)
    l->layer_scale = TAKE (ld, layer_name (ld, s, j, "layer_scale_parameter"), c);
}

/* transformers' stage_names: "stem", "stage1"… */
static char *
stage_name (guint index)
{
  return index == 0 ? g_strdup ("stem") : g_strdup_printf ("stage%u", index);
}

/* A tensor of the other version's layers: V2's GRN under a V1 config or V1's layer scale
 * under a V2 config (checked first, since it explains every error that would follow). */
static gboolean
check_version (Loader *ld, GPtrArray *names, const char *path, GError **error)
{
  const char *other = ld->cfg->version == 1 ? ".grn." : ".layer_scale_parameter";

  for (guint i = 0; i < names->len; i++) {
    if (strstr (names->pdata[i], other) == NULL)
      continue;
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "tensor %s in %s belongs to ConvNeXt%s, but %s says model_type \"%s\" (it should say "
        "\"%s\")", (char *) names->pdata[i], path, ld->cfg->version == 1 ? " V2 (GRN)"
        : " V1 (layer scale)", ld->cfg->path, ld->cfg->version == 1 ? "convnext" : "convnextv2",
        ld->cfg->version == 1 ? "convnextv2" : "convnext");
    return FALSE;
  }
  return TRUE;
}

/* Which class wrote the names: the base model under the config's prefix (a classifier),
 * or without prefix (the base model, or a backbone when it has hidden_states_norms). */
static gboolean
find_layout (Loader *ld, const char *path, GError **error)
{
  const char *own = ld->cfg->version == 2 ? "convnextv2." : "convnext.";
  const char *other = ld->cfg->version == 2 ? "convnext." : "convnextv2.";
  g_autofree char *own_name = g_strconcat (own, "embeddings.patch_embeddings.weight", NULL);
  g_autofree char *other_name = g_strconcat (other, "embeddings.patch_embeddings.weight", NULL);
  g_autoptr (GPtrArray) names = convnext_checkpoint_list (ld->w->file);

  if (lookup (ld, other_name) != NULL && lookup (ld, own_name) == NULL) {
    /* V2 names under a V1 config or the reverse: say so, instead of "missing tensor" */
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "%s holds %s* tensors (ConvNeXt%s), but %s says model_type \"%s\"", path, other,
        ld->cfg->version == 2 ? "" : " V2", ld->cfg->path,
        ld->cfg->version == 2 ? "convnextv2" : "convnext");
    return FALSE;
  }
  if (!check_version (ld, names, path, error))
    return FALSE;
  ld->w->head = CONVNEXT_HEAD_CLASSIFIER;
  ld->prefix = own;
  if (lookup (ld, own_name) == NULL && lookup (ld, "embeddings.patch_embeddings.weight") != NULL) {
    ld->prefix = "";
    ld->w->head = CONVNEXT_HEAD_NONE;
    for (guint i = 0; i < names->len; i++) {
      if (g_str_has_prefix (names->pdata[i], "hidden_states_norms."))
        ld->w->head = CONVNEXT_HEAD_BACKBONE;
    }
  }
  return TRUE;   /* without any patch embedding, the first TAKE reports it missing */
}

/* Why a tensor inside the network is not explained, when it can be said. */
static const char *
unexplained_hint (const Loader *ld, const char *name)
{
  if (g_str_has_suffix (name, ".layer_scale_parameter"))
    return " (config.json's layer_scale_init_value <= 0 says the layers have none)";
  if (strstr (name, ".layers.") != NULL || strstr (name, "encoder.stages.") != NULL)
    return " (more stages or layers than config.json's num_stages and depths say)";
  return "";
}

/* See the top of the file: errors inside the network, the rest in w->unused. */
static gboolean
account_for_the_rest (Loader *ld, GError **error)
{
  g_autoptr (GPtrArray) names = convnext_checkpoint_list (ld->w->file);
  g_autoptr (GPtrArray) unused = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *embeddings = g_strconcat (ld->prefix, "embeddings.", NULL);
  g_autofree char *encoder = g_strconcat (ld->prefix, "encoder.", NULL);
  const char *first = NULL;
  guint n_bad = 0;

  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    if (g_hash_table_contains (ld->used, name))
      continue;
    if (g_str_has_prefix (name, embeddings) || g_str_has_prefix (name, encoder)
        || (g_str_has_prefix (name, "classifier.") && ld->w->head == CONVNEXT_HEAD_CLASSIFIER)) {
      if (n_bad++ == 0)
        first = name;
    } else {
      g_ptr_array_add (unused, g_strdup (name));
    }
  }
  if (n_bad > 0) {
    g_autofree char *more = n_bad > 1 ? g_strdup_printf (" (and %u more)", n_bad - 1) : NULL;
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_WEIGHTS,
        "tensor %s in %s%s is not part of the ConvNeXt%s that %s describes%s", first,
        convnext_checkpoint_get_path (ld->w->file), more ? more : "",
        ld->cfg->version == 2 ? " V2" : "", ld->cfg->path, unexplained_hint (ld, first));
    return FALSE;
  }
  g_ptr_array_set_free_func (unused, NULL);
  g_ptr_array_add (unused, NULL);
  ld->w->unused = (char **) g_ptr_array_steal (unused, NULL);
  return TRUE;
}

/* Backbone: the channels-first LayerNorm of each selected hidden state. */
static void
load_feature_norms (Loader *ld)
{
  const ConvNextConfig *cfg = ld->cfg;
  ConvNextWeights *w = ld->w;

  w->feature_norm_weight = g_new0 (const float *, cfg->num_stages + 1);
  w->feature_norm_bias = g_new0 (const float *, cfg->num_stages + 1);
  if (w->head != CONVNEXT_HEAD_BACKBONE)
    return;
  for (guint k = 0; k < cfg->n_out_indices; k++) {
    guint i = cfg->out_indices[k];
    guint64 c = cfg->hidden_sizes[i == 0 ? 0 : i - 1];
    g_autofree char *stage = stage_name (i);
    g_autofree char *weight = g_strdup_printf ("hidden_states_norms.%s.weight", stage);
    g_autofree char *bias = g_strdup_printf ("hidden_states_norms.%s.bias", stage);
    w->feature_norm_weight[i] = TAKE (ld, weight, c);
    w->feature_norm_bias[i] = TAKE (ld, bias, c);
  }
}

ConvNextWeights *
convnext_weights_load (const ConvNextConfig *cfg, const char *dir, GError **error)
{
  g_autoptr (ConvNextWeights) w = g_new0 (ConvNextWeights, 1);
  g_autoptr (GHashTable) used = g_hash_table_new (g_str_hash, g_str_equal);
  Loader ld = { .cfg = cfg, .w = w, .used = used };
  guint64 c0 = cfg->hidden_sizes[0], p = cfg->patch_size;
  guint64 c_last = cfg->hidden_sizes[cfg->num_stages - 1];
  const char *path;

  w->copies = g_ptr_array_new_with_free_func (g_free);
  w->file = convnext_checkpoint_open_dir (dir, error);
  if (w->file == NULL)
    return NULL;
  path = convnext_checkpoint_get_path (w->file);
  if (!find_layout (&ld, path, error))
    return NULL;

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
  /* ConvNextBackbone has no final LayerNorm (so no pooler_output) */
  if (w->head != CONVNEXT_HEAD_BACKBONE || lookup (&ld, "layernorm.weight") != NULL) {
    w->final_norm_weight = TAKE (&ld, "layernorm.weight", c_last);
    w->final_norm_bias = TAKE (&ld, "layernorm.bias", c_last);
  }
  load_feature_norms (&ld);

  /* A classification checkpoint's classifier has num_labels rows (id2label's size). */
  if (w->head == CONVNEXT_HEAD_CLASSIFIER && ld.error == NULL) {
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
  if (!account_for_the_rest (&ld, error))
    return NULL;
  return g_steal_pointer (&w);
}

void
convnext_weights_release_pages (const ConvNextWeights *w, const float *data, gsize n_elements)
{
  convnext_checkpoint_release_pages (w->file, data, n_elements * sizeof (float));
}

void
convnext_weights_free (ConvNextWeights *w)
{
  if (w == NULL)
    return;
  for (guint s = 0; w->stages != NULL && s < w->n_stages; s++)
    g_free (w->stages[s].layers);
  g_free (w->stages);
  g_free (w->feature_norm_weight);
  g_free (w->feature_norm_bias);
  g_strfreev (w->unused);
  g_clear_pointer (&w->copies, g_ptr_array_unref);
  g_clear_pointer (&w->file, convnext_checkpoint_free);
  g_free (w);
}
