/* ConvNextModel: config + weights + the packed oneDNN weights, immutable once loaded and
 * shared by reference; and the model's own context behind convnext_model_forward(). */
#include "context-private.h"

#include <math.h>
#include <string.h>

struct _ConvNextModel {
  gint ref_count;
  char *name;
  ConvNextParams params;
  ConvNextConfig *cfg;
  ConvNextWeights *weights;
  ConvNextInt8Weights *int8;   /* precision INT8 only */
  ConvNextBackend *backend;
  char **labels;                /* [num_labels] */
  GRecMutex lock;               /* serialises convnext_model_forward() on… (a pthread mutex,
                                 * which ThreadSanitizer sees, unlike GMutex's futex) */
  ConvNextContext *context;     /* …this context, made by the first call */
};

static char *
model_name (const char *dir)
{
  g_autofree char *canonical = g_canonicalize_filename (dir, NULL);

  return g_path_get_basename (canonical);
}

/* The int8 form of the pointwise layers, from the calibration file (@path, or the model
 * directory's int8_calibration.json). */
static gboolean
load_int8 (ConvNextModel *model, const char *model_dir, const char *path, GError **error)
{
  g_autofree char *default_path = g_build_filename (model_dir, "int8_calibration.json", NULL);
  g_autoptr (ConvNextRanges) ranges = NULL;

  if (model->cfg->version != 1) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED,
        "%s: int8 precision runs ConvNeXt V1 checkpoints only", model_dir);
    return FALSE;
  }
  ranges = convnext_ranges_load (model->cfg, path != NULL ? path : default_path, error);
  if (ranges == NULL)
    return FALSE;
  model->int8 = convnext_int8_weights_new (model->cfg, model->weights, ranges,
      convnext_backend_int8_weight_max ());
  return TRUE;
}

ConvNextModel *
convnext_model_new (const char *model_dir, const ConvNextParams *params, GError **error)
{
  g_autoptr (ConvNextModel) model = NULL;
  g_autofree char *config_path = NULL;

  g_return_val_if_fail (model_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  model = g_new0 (ConvNextModel, 1);
  model->ref_count = 1;
  g_rec_mutex_init (&model->lock);
  model->name = model_name (model_dir);
  if (params != NULL)
    model->params = *params;
  else
    convnext_params_init (&model->params);
  model->params.int8_calibration = NULL;      /* borrowed: not kept */
  if (model->params.precision != CONVNEXT_PRECISION_F32
      && model->params.precision != CONVNEXT_PRECISION_BF16
      && model->params.precision != CONVNEXT_PRECISION_INT8) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED, "unknown precision %d",
        model->params.precision);
    return NULL;
  }

  config_path = g_build_filename (model_dir, "config.json", NULL);
  model->cfg = convnext_config_load (config_path, error);
  if (model->cfg == NULL)
    return NULL;
  model->weights = convnext_weights_load (model->cfg, model_dir, error);
  if (model->weights == NULL)
    return NULL;
  model->labels = g_strdupv (model->cfg->labels);
  if (model->params.precision == CONVNEXT_PRECISION_INT8
      && !load_int8 (model, model_dir, params != NULL ? params->int8_calibration : NULL, error))
    return NULL;
  model->backend = convnext_backend_new (model->cfg, model->weights, model->int8,
      model->params.precision, error);
  if (model->backend == NULL)
    return NULL;
  return g_steal_pointer (&model);
}

ConvNextModel *
convnext_model_ref (ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_atomic_int_inc (&model->ref_count);
  return model;
}

void
convnext_model_unref (ConvNextModel *model)
{
  if (model == NULL || !g_atomic_int_dec_and_test (&model->ref_count))
    return;
  /* The model's own context first (its networks use the backend), then the backend, then
   * the weights it points into. */
  g_clear_pointer (&model->context, convnext_context_free);
  g_clear_pointer (&model->backend, convnext_backend_free);
  g_clear_pointer (&model->int8, convnext_int8_weights_free);
  g_clear_pointer (&model->weights, convnext_weights_free);
  g_clear_pointer (&model->cfg, convnext_config_free);
  g_strfreev (model->labels);
  g_free (model->name);
  g_rec_mutex_clear (&model->lock);
  g_free (model);
}

void
convnext_model_free (ConvNextModel *model)
{
  convnext_model_unref (model);
}

ConvNextBackend *
convnext_model_get_backend (const ConvNextModel *model)
{
  return model->backend;
}

const ConvNextConfig *
convnext_model_get_config (const ConvNextModel *model)
{
  return model->cfg;
}

const ConvNextParams *
convnext_model_get_params (const ConvNextModel *model)
{
  return &model->params;
}

const char *
convnext_model_get_name (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return model->name;
}

guint
convnext_model_get_num_channels (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->cfg->num_channels;
}

guint
convnext_model_get_image_size (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->cfg->image_size;
}

guint
convnext_model_get_hidden_size (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->cfg->hidden_sizes[model->cfg->num_stages - 1];
}

guint
convnext_model_get_num_labels (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->weights->num_labels;
}

const char *
convnext_model_get_label (const ConvNextModel *model, guint id)
{
  g_return_val_if_fail (model != NULL, NULL);
  return id < model->weights->num_labels ? model->labels[id] : NULL;
}

gboolean
convnext_model_set_labels (ConvNextModel *model, const char *const *labels, guint n_labels,
    GError **error)
{
  g_return_val_if_fail (model != NULL, FALSE);

  if (n_labels != model->weights->num_labels || (n_labels > 0 && labels == NULL)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "%u labels given, but model %s has %u classes", n_labels, model->name,
        model->weights->num_labels);
    return FALSE;
  }
  for (guint i = 0; i < n_labels; i++) {
    if (labels[i] == NULL) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT, "label %u is NULL", i);
      return FALSE;
    }
  }
  g_strfreev (model->labels);
  model->labels = g_new0 (char *, n_labels + 1);
  for (guint i = 0; i < n_labels; i++)
    model->labels[i] = g_strdup (labels[i]);
  return TRUE;
}

gboolean
convnext_model_forward (ConvNextModel *model, const float *pixel_values, guint batch,
    guint height, guint width, float *logits, float *pooler_output, GError **error)
{
  g_autoptr (GRecMutexLocker) locker = NULL;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  locker = g_rec_mutex_locker_new (&model->lock);
  if (model->context == NULL)
    model->context = convnext_context_new_owned (model, &model->params);
  return convnext_context_forward (model->context, pixel_values, batch, height, width, logits,
      pooler_output, error);
}

gboolean
convnext_model_forward_features (ConvNextModel *model, const float *pixel_values, guint batch,
    guint height, guint width, float *const *feature_maps, GError **error)
{
  g_autoptr (GRecMutexLocker) locker = NULL;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  locker = g_rec_mutex_locker_new (&model->lock);
  if (model->context == NULL)
    model->context = convnext_context_new_owned (model, &model->params);
  return convnext_context_forward_features (model->context, pixel_values, batch, height, width,
      feature_maps, error);
}

gboolean
convnext_model_has_pooler (const ConvNextModel *model)
{
  return model->weights->final_norm_weight != NULL;
}

guint
convnext_model_get_num_feature_maps (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->weights->head == CONVNEXT_HEAD_BACKBONE ? model->cfg->n_out_indices : 0;
}

gboolean
convnext_model_get_feature_map_shape (const ConvNextModel *model, guint k, guint batch,
    guint height, guint width, guint shape[4])
{
  guint index, h, w;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (shape != NULL, FALSE);
  if (k >= convnext_model_get_num_feature_maps (model))
    return FALSE;
  index = model->cfg->out_indices[k];
  if (!convnext_network_hidden_size (model->cfg, model->cfg->num_stages, height, width, &h, &w)
      || !convnext_network_hidden_size (model->cfg, index, height, width, &h, &w))
    return FALSE;
  shape[0] = batch;
  shape[1] = model->cfg->hidden_sizes[index == 0 ? 0 : index - 1];
  shape[2] = h;
  shape[3] = w;
  return TRUE;
}

const char *const *
convnext_model_get_unused_tensors (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return (const char *const *) model->weights->unused;
}

guint
convnext_model_get_num_hidden_states (const ConvNextModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->cfg->num_stages + 1;
}

const guint *
convnext_model_get_out_indices (const ConvNextModel *model, guint *n_indices)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (n_indices != NULL, NULL);
  *n_indices = model->cfg->n_out_indices;
  return model->cfg->out_indices;
}

gboolean
convnext_model_get_hidden_state (ConvNextModel *model, guint index, guint shape[4], float *out,
    GError **error)
{
  g_autoptr (GRecMutexLocker) locker = NULL;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (shape != NULL, FALSE);

  locker = g_rec_mutex_locker_new (&model->lock);
  if (model->context == NULL)
    model->context = convnext_context_new_owned (model, &model->params);
  return convnext_context_get_hidden_state (model->context, index, shape, out, error);
}

guint
convnext_model_top_k (const ConvNextModel *model, const float *logits, guint k,
    ConvNextClass *out)
{
  guint n = model != NULL ? model->weights->num_labels : 0;
  double max = -INFINITY, sum = 0;
  guint n_out = 0;

  g_return_val_if_fail (model != NULL, 0);
  g_return_val_if_fail (logits != NULL || n == 0, 0);
  g_return_val_if_fail (out != NULL || k == 0, 0);

  /* Non-finite logits (the network overflowed float32) have no softmax. */
  for (guint i = 0; i < n; i++) {
    if (!isfinite (logits[i]))
      return 0;
    max = MAX (max, logits[i]);
  }
  for (guint i = 0; i < n; i++)
    sum += exp ((double) logits[i] - max);

  /* Insertion into the sorted prefix: strictly greater moves up, so ties keep lower ids
   * first.  O(n·k), fine for class counts. */
  for (guint i = 0; i < n; i++) {
    float score = exp ((double) logits[i] - max) / sum;
    guint pos = n_out;

    while (pos > 0 && score > out[pos - 1].score)
      pos--;
    if (pos >= k)
      continue;
    if (n_out < k)
      n_out++;
    memmove (out + pos + 1, out + pos, (n_out - 1 - pos) * sizeof (ConvNextClass));
    out[pos] = (ConvNextClass) { i, score, model->labels[i] };
  }
  return n_out;
}
