/* ConvNextContext: what one caller needs to run a shared ConvNextModel — the oneDNN networks
 * built for the input shapes it has seen (each with its stream, primitives and activation
 * buffers).  One thread at a time; the model it runs is shared and immutable. */
#include "context-private.h"
#include "convnext-testing.h"

#include <math.h>

/* Networks kept for recently used input shapes (each owns its activation buffers; the
 * packed weights are the model's). */
#define MAX_CACHED_NETWORKS 4

struct _ConvNextContext {
  ConvNextModel *model;
  gboolean owns_ref;            /* FALSE for the model's own context */
  guint n_threads;
  gboolean keep_hidden;
  GPtrArray *networks;          /* ConvNextNetwork, most recently used first */
  ConvNextNetwork *last;        /* of the last successful forward */
};

static ConvNextContext *
context_new (ConvNextModel *model, const ConvNextParams *params, gboolean owns_ref)
{
  ConvNextContext *ctx = g_new0 (ConvNextContext, 1);

  if (params == NULL)
    params = convnext_model_get_params (model);
  ctx->model = owns_ref ? convnext_model_ref (model) : model;
  ctx->owns_ref = owns_ref;
  ctx->n_threads = params->n_threads;
  ctx->keep_hidden = params->output_hidden_states;
  ctx->networks = g_ptr_array_new_with_free_func ((GDestroyNotify) convnext_network_free);
  return ctx;
}

ConvNextContext *
convnext_context_new (ConvNextModel *model, const ConvNextParams *params)
{
  g_return_val_if_fail (model != NULL, NULL);
  return context_new (model, params, TRUE);
}

ConvNextContext *
convnext_context_new_owned (ConvNextModel *model, const ConvNextParams *params)
{
  return context_new (model, params, FALSE);
}

void
convnext_context_free (ConvNextContext *ctx)
{
  if (ctx == NULL)
    return;
  g_ptr_array_unref (ctx->networks);    /* before the model whose backend they use */
  if (ctx->owns_ref)
    convnext_model_unref (ctx->model);
  g_free (ctx);
}

ConvNextModel *
convnext_context_get_model (const ConvNextContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->model;
}

/* The network for this shape: cached, or built now (evicting the least recently used). */
static ConvNextNetwork *
get_network (ConvNextContext *ctx, guint batch, guint height, guint width, GError **error)
{
  ConvNextNetwork *net;

  for (guint i = 0; i < ctx->networks->len; i++) {
    net = ctx->networks->pdata[i];
    if (convnext_network_matches (net, batch, height, width, ctx->keep_hidden)) {
      if (i > 0) {
        g_ptr_array_steal_index (ctx->networks, i);
        g_ptr_array_insert (ctx->networks, 0, net);
      }
      return net;
    }
  }
  net = convnext_network_new (convnext_model_get_backend (ctx->model), batch, height, width,
      ctx->keep_hidden, ctx->n_threads, NULL, error);
  if (net == NULL)
    return NULL;
  if (ctx->networks->len == MAX_CACHED_NETWORKS) {
    if (ctx->last == ctx->networks->pdata[MAX_CACHED_NETWORKS - 1])
      ctx->last = NULL;
    g_ptr_array_remove_index (ctx->networks, MAX_CACHED_NETWORKS - 1);
  }
  g_ptr_array_insert (ctx->networks, 0, net);
  return net;
}

/* NaN or ±Inf input gives NaN logits: refuse it, naming the first such value.  After
 * get_network, which has checked the sizes. */
static gboolean
check_finite_input (const ConvNextContext *ctx, const float *pixel_values, guint batch,
    guint height, guint width, GError **error)
{
  gsize plane = (gsize) height * width;
  gsize image = (gsize) convnext_model_get_num_channels (ctx->model) * plane;

  for (gsize i = 0; i < batch * image; i++) {
    if (!isfinite (pixel_values[i])) {
      gsize rest = i % image;
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
          "pixel_values[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %"
          G_GSIZE_FORMAT "] is %s: the input of model %s must be finite", i / image,
          rest / plane, rest % plane / width, rest % width, isnan (pixel_values[i]) ? "NaN"
          : pixel_values[i] > 0 ? "inf" : "-inf", convnext_model_get_name (ctx->model));
      return FALSE;
    }
  }
  return TRUE;
}

/* The checks and the run shared by convnext_context_forward() and _forward_features(). */
static gboolean
forward (ConvNextContext *ctx, const float *pixel_values, guint batch, guint height,
    guint width, float *logits, float *pooler_output, float *const *feature_maps,
    GError **error)
{
  const char *name;
  ConvNextNetwork *net;

  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  name = convnext_model_get_name (ctx->model);
  if (pixel_values == NULL || batch == 0 || height == 0 || width == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "forward of model %s needs pixel_values and non-zero sizes (got batch %u, %ux%u)",
        name, batch, width, height);
    return FALSE;
  }
  if (logits != NULL && convnext_model_get_num_labels (ctx->model) == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "model %s has no classifier.* tensors (a bare model or a backbone): it has no logits",
        name);
    return FALSE;
  }
  if (pooler_output != NULL && !convnext_model_has_pooler (ctx->model)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "model %s is a backbone (no final layernorm): it has no pooler_output; its outputs "
        "are feature maps (convnext_model_forward_features)", name);
    return FALSE;
  }
  if (feature_maps != NULL && convnext_model_get_num_feature_maps (ctx->model) == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "model %s is not a backbone (no hidden_states_norms.* tensors): it has no feature "
        "maps (its stage outputs are hidden states: ConvNextParams.output_hidden_states)", name);
    return FALSE;
  }
  net = get_network (ctx, batch, height, width, error);
  if (net == NULL)
    return FALSE;
  if (!check_finite_input (ctx, pixel_values, batch, height, width, error))
    return FALSE;
  ctx->last = NULL;
  if (!convnext_network_forward (net, pixel_values, logits, pooler_output, feature_maps, error))
    return FALSE;
  ctx->last = net;
  return TRUE;
}

gboolean
convnext_context_forward (ConvNextContext *ctx, const float *pixel_values, guint batch,
    guint height, guint width, float *logits, float *pooler_output, GError **error)
{
  return forward (ctx, pixel_values, batch, height, width, logits, pooler_output, NULL, error);
}

gboolean
convnext_context_forward_features (ConvNextContext *ctx, const float *pixel_values,
    guint batch, guint height, guint width, float *const *feature_maps, GError **error)
{
  g_return_val_if_fail (feature_maps != NULL, FALSE);
  return forward (ctx, pixel_values, batch, height, width, NULL, NULL, feature_maps, error);
}

gboolean
convnext_context_get_hidden_state (ConvNextContext *ctx, guint index, guint shape[4],
    float *out, GError **error)
{
  const ConvNextConfig *cfg;

  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (shape != NULL, FALSE);

  cfg = convnext_model_get_config (ctx->model);
  if (index > cfg->num_stages) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "hidden state %u does not exist: model %s has %u (0 = embeddings ... %u = last stage)",
        index, convnext_model_get_name (ctx->model), cfg->num_stages + 1, cfg->num_stages);
    return FALSE;
  }
  if (ctx->last == NULL || !convnext_network_get_hidden_state (ctx->last, index, shape, out)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "no hidden states kept: set ConvNextParams.output_hidden_states and run a forward "
        "call first");
    return FALSE;
  }
  return TRUE;
}

char **
convnext_context_dup_primitives (ConvNextContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->last != NULL ? convnext_network_dup_primitives (ctx->last) : NULL;
}

char *
convnext_testing_cpu_isa (void)
{
  return convnext_network_cpu_isa ();
}
