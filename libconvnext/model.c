/* ConvNextModel: config + weights + the oneDNN networks built for each input shape. */
#include "convnext-private.h"
#include "network.h"

#include <math.h>
#include <string.h>

/* Networks kept for recently used input shapes (each owns its activation buffers; the
 * packed weights are shared). */
#define MAX_CACHED_NETWORKS 4

struct _ConvNextModel {
  char *name;
  ConvNextParams params;
  ConvNextConfig *cfg;
  ConvNextWeights *weights;
  ConvNextBackend *backend;
  char **labels;                /* [num_labels] */
  GPtrArray *networks;          /* ConvNextNetwork, most recently used first */
  ConvNextNetwork *last;        /* of the last successful forward */
};

static char *
model_name (const char *dir)
{
  g_autofree char *canonical = g_canonicalize_filename (dir, NULL);

  return g_path_get_basename (canonical);
}

ConvNextModel *
convnext_model_new (const char *model_dir, const ConvNextParams *params, GError **error)
{
  g_autoptr (ConvNextModel) model = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *weights_path = NULL;

  g_return_val_if_fail (model_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  model = g_new0 (ConvNextModel, 1);
  model->name = model_name (model_dir);
  model->networks = g_ptr_array_new_with_free_func ((GDestroyNotify) convnext_network_free);
  if (params != NULL)
    model->params = *params;
  else
    convnext_params_init (&model->params);
  if (model->params.precision != CONVNEXT_PRECISION_F32
      && model->params.precision != CONVNEXT_PRECISION_BF16) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED, "unknown precision %d",
        model->params.precision);
    return NULL;
  }

  config_path = g_build_filename (model_dir, "config.json", NULL);
  weights_path = g_build_filename (model_dir, "model.safetensors", NULL);
  model->cfg = convnext_config_load (config_path, error);
  if (model->cfg == NULL)
    return NULL;
  if (!g_file_test (weights_path, G_FILE_TEST_EXISTS)) {
    g_autofree char *bin = g_build_filename (model_dir, "pytorch_model.bin", NULL);
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO, "cannot read %s: no such file%s",
        weights_path, g_file_test (bin, G_FILE_TEST_EXISTS)
        ? " (only pytorch_model.bin is there: convert it to safetensors first)" : "");
    return NULL;
  }
  model->weights = convnext_weights_load (model->cfg, weights_path, error);
  if (model->weights == NULL)
    return NULL;
  model->labels = g_strdupv (model->cfg->labels);
  model->backend = convnext_backend_new (model->cfg, model->weights, model->params.precision,
      model->params.n_threads, error);
  if (model->backend == NULL)
    return NULL;
  return g_steal_pointer (&model);
}

void
convnext_model_free (ConvNextModel *model)
{
  if (model == NULL)
    return;
  /* networks before the backend, the backend before the weights it points into */
  g_clear_pointer (&model->networks, g_ptr_array_unref);
  g_clear_pointer (&model->backend, convnext_backend_free);
  g_clear_pointer (&model->weights, convnext_weights_free);
  g_clear_pointer (&model->cfg, convnext_config_free);
  g_strfreev (model->labels);
  g_free (model->name);
  g_free (model);
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

/* The network for this shape: cached, or built now (evicting the least recently used). */
static ConvNextNetwork *
get_network (ConvNextModel *model, guint batch, guint height, guint width, GError **error)
{
  gboolean keep_hidden = model->params.output_hidden_states;
  ConvNextNetwork *net;

  for (guint i = 0; i < model->networks->len; i++) {
    net = model->networks->pdata[i];
    if (convnext_network_matches (net, batch, height, width, keep_hidden)) {
      if (i > 0) {
        g_ptr_array_steal_index (model->networks, i);
        g_ptr_array_insert (model->networks, 0, net);
      }
      return net;
    }
  }
  net = convnext_network_new (model->backend, batch, height, width, keep_hidden, error);
  if (net == NULL)
    return NULL;
  if (model->networks->len == MAX_CACHED_NETWORKS) {
    if (model->last == model->networks->pdata[MAX_CACHED_NETWORKS - 1])
      model->last = NULL;
    g_ptr_array_remove_index (model->networks, MAX_CACHED_NETWORKS - 1);
  }
  g_ptr_array_insert (model->networks, 0, net);
  return net;
}

gboolean
convnext_model_forward (ConvNextModel *model, const float *pixel_values, guint batch,
    guint height, guint width, float *logits, float *pooler_output, GError **error)
{
  ConvNextNetwork *net;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (pixel_values == NULL || batch == 0 || height == 0 || width == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "forward of model %s needs pixel_values and non-zero sizes (got batch %u, %ux%u)",
        model->name, batch, width, height);
    return FALSE;
  }
  if (logits != NULL && model->weights->num_labels == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "model %s is a bare ConvNextModel (no classifier.* tensors): it has no logits",
        model->name);
    return FALSE;
  }
  net = get_network (model, batch, height, width, error);
  if (net == NULL)
    return FALSE;
  model->last = NULL;
  if (!convnext_network_forward (net, pixel_values, logits, pooler_output, error))
    return FALSE;
  model->last = net;
  return TRUE;
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
  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (shape != NULL, FALSE);

  if (index > model->cfg->num_stages) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "hidden state %u does not exist: model %s has %u (0 = embeddings ... %u = last stage)",
        index, model->name, model->cfg->num_stages + 1, model->cfg->num_stages);
    return FALSE;
  }
  if (model->last == NULL || !convnext_network_get_hidden_state (model->last, index, shape, out)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "no hidden states kept: set ConvNextParams.output_hidden_states and run "
        "convnext_model_forward() first");
    return FALSE;
  }
  return TRUE;
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

  for (guint i = 0; i < n; i++)
    max = MAX (max, logits[i]);
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
