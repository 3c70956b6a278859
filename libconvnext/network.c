/* The ConvNeXt forward pass on oneDNN (2.6 and 3.x: dnnl-compat.h gives both the v3 API's
 * shape).  With network-steps.c (the primitive toolkit), network-backend.c and
 * network-int8.c, the only files that include oneDNN.
 *
 *   embeddings:  x = LN (conv p×p stride p (pixel_values))
 *   stage s ≥ 1: x = conv 2×2 stride 2 (LN (x))
 *   block:       x = x + γ · pwconv2 (act (pwconv1 (LN (dwconv 7×7 (x)))))
 *   V2 block:    x = x + pwconv2 (GRN (act (pwconv1 (LN (dwconv 7×7 (x))))))
 *   head:        pooler = LN (mean over H, W (x)),  logits = classifier (pooler)
 *   backbone:    feature map k = LN (hidden state out_indices[k]) (hidden_states_norms)
 *
 * Activations are channels-last: one buffer is both the NHWC image a convolution sees and
 * the [N·H·W, C] matrix that layer normalization (over the last dimension) and the
 * pointwise matmuls see, so no reorder sits between them.  In bf16 every activation and
 * weight is bf16, with f32 accumulation, f32 statistics in the norms, and the residual
 * sum done in f32 before the block's output is rounded once (measured on ConvNeXt-T: logits
 * within 0.3 % of their range of f32; an f32 residual stream cost a reorder per block for
 * 0.08 %).  Biases, norm parameters, the pooler and the classifier stay f32.  Weight layouts are left to oneDNN (format_tag_any) and reordered once,
 * shared by the networks of all input shapes.  A network is a flat table of
 * {primitive, args}, run in one loop on one stream; it allocates nothing.
 *
 * Post-ops: pwconv1 carries the activation (eltwise), pwconv2 the layer scale (binary
 * mul) and the residual (sum into x).  Where oneDNN cannot fuse them, separate eltwise and
 * binary primitives follow the matmul; CONVNEXT_DISABLE_FUSION=1 forces that path (tests).
 */
#include "network.h"
#include "network-private.h"

#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdlib.h>
#include <string.h>

/* pwconv1's candidates: the activation as eltwise post-ops, or eltwise steps after it
 * (CONVNEXT_DISABLE_FUSION starts there). */
enum { PW1_FUSED, PW1_UNFUSED, N_PW1_VARIANTS };

static gboolean
add_pwconv1 (ConvNextNetwork *net, const ConvNextLayerWeights *lw, dnnl_memory_t src,
    dnnl_memory_t dst, GError **error)
{
  ConvNextAct act = net->backend->cfg->hidden_act;
  g_auto (dnnl_primitive_attr_t) fused = NULL;
  g_auto (dnnl_primitive_attr_t) plain = NULL;
  g_auto (dnnl_post_ops_t) post_ops = NULL;
  g_auto (Choice) c = CHOICE_INIT;
  Eltwise ops[2];
  guint n_ops = activation_ops (act, ops);

  if (!new_attr (&fused, error) || !new_attr (&plain, error))
    return FALSE;
  TRY (dnnl_post_ops_create (&post_ops));
  for (guint i = 0; i < n_ops; i++)
    TRY (post_ops_append_eltwise (post_ops, ops[i].alg, ops[i].alpha, ops[i].beta));
  TRY (dnnl_primitive_attr_set_post_ops (fused, post_ops));

  for (guint v = net->backend->no_fusion ? PW1_UNFUSED : 0; v < N_PW1_VARIANTS; v++) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t status = matmul_pd (net->backend, src, dst, v == PW1_FUSED ? fused : plain,
        &pd);
    if (choice_offer (&c, v, status, pd))
      break;
  }
  if (c.pd == NULL)
    return dnnl_failed (error, "matmul_pd_create (pwconv1)", c.status);
  return add_matmul (net, "pwconv1", c.pd, src, dst, lw->pwconv1_weight, lw->pwconv1_bias, NULL,
          0, NULL, error)
      && (c.variant == PW1_FUSED || add_activation (net, "pwconv1 (activation)", dst, act,
              error));
}

/* x += γ · pwconv2 (src). */
static gboolean
add_pwconv2 (ConvNextNetwork *net, const ConvNextLayerWeights *lw, dnnl_memory_t src,
    dnnl_memory_t x, dnnl_memory_t tmp, GError **error)
{
  dnnl_dims_t gamma_dims = { 1, md_dims (md_of (x))[1] };
  g_auto (dnnl_primitive_attr_t) fused = NULL;
  g_auto (dnnl_primitive_attr_t) folded = NULL;
  g_auto (dnnl_primitive_attr_t) plain = NULL;
  g_auto (dnnl_post_ops_t) fused_ops = NULL;
  g_auto (dnnl_post_ops_t) folded_ops = NULL;
  g_auto (Choice) c = CHOICE_INIT;
  dnnl_memory_t gamma = NULL;
  dnnl_exec_arg_t extra[1];
  int n_extra = 0;

  if (!new_attr (&fused, error) || !new_attr (&folded, error) || !new_attr (&plain, error))
    return FALSE;
  TRY (dnnl_post_ops_create (&fused_ops));
  TRY (dnnl_post_ops_create (&folded_ops));
  if (lw->layer_scale != NULL) {
    if (!as_vector (net, lw->layer_scale, 2, gamma_dims, &gamma, error))
      return FALSE;
    TRY (dnnl_post_ops_append_binary (fused_ops, dnnl_binary_mul, md_of (gamma)));
    extra[n_extra++] = (dnnl_exec_arg_t) {
      DNNL_ARG_ATTR_MULTIPLE_POST_OP (0) | DNNL_ARG_SRC_1, gamma };
  }
  TRY (post_ops_append_sum (fused_ops, 1.f));
  TRY (post_ops_append_sum (folded_ops, 1.f));
  TRY (dnnl_primitive_attr_set_post_ops (fused, fused_ops));
  TRY (dnnl_primitive_attr_set_post_ops (folded, folded_ops));

  for (guint v = net->backend->no_fusion ? PW2_UNFUSED : 0; v < N_PW2_VARIANTS; v++) {
    const_dnnl_primitive_attr_t attrs[N_PW2_VARIANTS] = { fused, folded, plain };
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t status;
    if (v == PW2_FOLDED && gamma == NULL)
      continue;                 /* the same request as PW2_FUSED */
    status = matmul_pd (net->backend, src, v == PW2_UNFUSED ? tmp : x, attrs[v], &pd);
    if (choice_offer (&c, v, status, pd))
      break;
  }
  if (c.pd == NULL)
    return dnnl_failed (error, "matmul_pd_create (pwconv2)", c.status);
  if (c.variant == PW2_FUSED)
    return add_matmul (net, "pwconv2", c.pd, src, x, lw->pwconv2_weight, lw->pwconv2_bias, NULL,
        n_extra, extra, error);
  if (c.variant == PW2_FOLDED)
    return add_matmul (net, "pwconv2", c.pd, src, x, lw->pwconv2_weight, lw->pwconv2_bias,
        lw->layer_scale, 0, NULL, error);
  return add_matmul (net, "pwconv2", c.pd, src, tmp, lw->pwconv2_weight, lw->pwconv2_bias, NULL,
          0, NULL, error)
      && (gamma == NULL || add_binary (net, "pwconv2 (layer_scale)", dnnl_binary_mul, tmp, gamma,
              tmp, error))
      && add_binary (net, "pwconv2 (residual)", dnnl_binary_add, x, tmp, x, error);
}

/* ConvNeXt V2's Global Response Normalization on u = act (pwconv1 (…)) [N, H, W, 4C], in
 * place (transformers' ConvNextV2GRN, the paper's eq. 1-3):
 *   Gx = ‖u‖₂ over H, W per sample and channel;  Nx = Gx / (mean over channels of Gx + 1e-6)
 *   u = weight · (u · Nx) + bias + u  =  u · (1 + weight · Nx) + bias
 * As oneDNN primitives (2.6's reduction over H, W is ref:any, so the norm goes through
 * pooling): sq = u · u (binary); Gx = √(H·W · mean over H, W (sq)) (pooling, eltwise pow);
 * D = mean over channels (Gx) + 1e-6 (reduction + eltwise post-op); S = 1 + weight · Gx / D
 * (binary div + mul, eltwise post-ops); u = u · S + bias (binary mul, add post-op). */
static gboolean
add_grn (ConvNextNetwork *net, const ConvNextLayerWeights *lw, const Act *u,
    const BlockBuffers *bb, GError **error)
{
  Act sq = { bb->sq, u->dt, u->n, u->c, u->h, u->w };
  Act g = { bb->g, dnnl_f32, u->n, u->c, 1, 1 };
  dnnl_dims_t g_dims = { u->n, u->c }, d_dims = { u->n, 1 }, w_dims = { 1, u->c };
  dnnl_dims_t b_dims = { 1, u->c, 1, 1 };
  dnnl_memory_t u_img, sq_img, g_img, g_rows, d_rows, weight, bias;

  if (!as_image (net, u, &u_img, error) || !as_image (net, &sq, &sq_img, error)
      || !as_image (net, &g, &g_img, error)
      || !as_tensor (net, bb->g, dnnl_f32, 2, g_dims, dnnl_ab, &g_rows, error)
      || !as_tensor (net, bb->d, dnnl_f32, 2, d_dims, dnnl_ab, &d_rows, error)
      || !as_tensor (net, lw->grn_weight, dnnl_f32, 2, w_dims, dnnl_ab, &weight, error)
      || !as_tensor (net, lw->grn_bias, dnnl_f32, 4, b_dims, dnnl_nhwc, &bias, error))
    return FALSE;
  return add_binary (net, "grn (u*u)", dnnl_binary_mul, u_img, u_img, sq_img, error)
      && add_mean (net, "grn (mean over H, W)", sq_img, g_img, error)
      && add_eltwise (net, "grn (Gx)", g_rows, dnnl_eltwise_pow, sqrtf ((float) (u->h * u->w)),
          0.5f, error)
      && add_fused (net, "grn (mean over channels)", dnnl_reduction_mean, g_rows, NULL, d_rows,
          (PostOp[]) { { dnnl_eltwise_linear, NULL, 1.f, 1e-6f } }, 1, error)
      && add_fused (net, "grn (Nx)", dnnl_binary_div, g_rows, d_rows, g_rows, (PostOp[]) {
            { dnnl_binary_mul, weight, 0, 0 }, { dnnl_eltwise_linear, NULL, 1.f, 1.f } }, 2, error)
      && add_fused (net, "grn", dnnl_binary_mul, u_img, g_img, u_img, (PostOp[]) {
            { dnnl_binary_add, bias, 0, 0 } }, 1, error);
}

static gboolean
add_block (ConvNextNetwork *net, const ConvNextLayerWeights *lw, const BlockBuffers *bb,
    GError **error)
{
  dnnl_data_type_t dt = net->backend->dt;
  ConvNextRange *range = net->observe != NULL ? &net->observe->layers[net->layer] : NULL;
  const Act *x = &bb->x;
  Act t = { bb->t, dt, x->n, x->c, x->h, x->w };
  Act u = { bb->u, dt, x->n, 4 * x->c, x->h, x->w };
  dnnl_memory_t x_img, x_rows, t_img, t_rows, u_rows;

  if (!as_image (net, x, &x_img, error) || !as_rows (net, x, &x_rows, error)
      || !as_image (net, &t, &t_img, error) || !as_rows (net, &t, &t_rows, error)
      || !as_rows (net, &u, &u_rows, error))
    return FALSE;
  return add_conv (net, "dwconv", x_img, t_img, dt, lw->dwconv_weight, lw->dwconv_bias, x->c,
          CONVNEXT_DW_KERNEL, 1, CONVNEXT_DW_KERNEL / 2, error)
      && add_layer_norm (net, "layernorm", t_rows, t_rows, lw->norm_weight, lw->norm_bias,
          CONVNEXT_LN_EPS, error)
      && (range == NULL || add_observer (net, &t, &range->input_absmax, NULL, NULL, error))
      && add_pwconv1 (net, lw, t_rows, u_rows, error)
      && (lw->grn_weight == NULL || add_grn (net, lw, &u, bb, error))
      && (range == NULL || add_observer (net, &u, NULL, &range->hidden_min, &range->hidden_max,
              error))
      && add_pwconv2 (net, lw, u_rows, x_rows, t_rows, error);
}

gboolean
convnext_network_hidden_size (const ConvNextConfig *cfg, guint index, guint height, guint width,
    guint *out_height, guint *out_width)
{
  /* PyTorch convolutions drop the pixels that do not fill a whole window. */
  guint h = height / cfg->patch_size, w = width / cfg->patch_size;

  if (h == 0 || w == 0)
    return FALSE;
  for (guint s = 1; s < index && s < cfg->num_stages; s++) {
    h /= 2;
    w /= 2;
    if (h == 0 || w == 0)
      return FALSE;
  }
  *out_height = h;
  *out_width = w;
  return TRUE;
}

/* x = LN (conv p×p stride p (pixel_values)); the pixel_values memory is set per forward. */
static gboolean
add_embeddings (ConvNextNetwork *net, const Act *x, GError **error)
{
  const ConvNextConfig *cfg = net->backend->cfg;
  const ConvNextWeights *w = net->backend->w;
  dnnl_dims_t input_dims = { net->batch, cfg->num_channels, net->height, net->width };
  g_auto (Md) input_md = NULL;
  dnnl_memory_t x_img, x_rows;

  TRY (md_create (&input_md, 4, input_dims, dnnl_f32, dnnl_nchw));
  return new_memory (net, input_md, DNNL_MEMORY_NONE, &net->input, error)
      && as_image (net, x, &x_img, error) && as_rows (net, x, &x_rows, error)
      && add_conv (net, "patch_embeddings", net->input, x_img, x->dt, w->patch_weight,
          w->patch_bias, 1, cfg->patch_size, cfg->patch_size, 0, error)
      && add_layer_norm (net, "layernorm", x_rows, x_rows, w->embed_norm_weight,
          w->embed_norm_bias, CONVNEXT_LN_EPS, error);
}

/* x = conv 2×2 stride 2 (LN (prev)), the LN output going through @tmp. */
static gboolean
add_downsampling (ConvNextNetwork *net, const ConvNextStageWeights *sw, const Act *prev,
    const Act *x, void *tmp, GError **error)
{
  Act t = { tmp, prev->dt, prev->n, prev->c, prev->h, prev->w };
  dnnl_memory_t prev_rows, t_rows, t_img, x_img;

  return as_rows (net, prev, &prev_rows, error) && as_rows (net, &t, &t_rows, error)
      && as_image (net, &t, &t_img, error) && as_image (net, x, &x_img, error)
      && add_layer_norm (net, "0", prev_rows, t_rows, sw->down_norm_weight,
          sw->down_norm_bias, CONVNEXT_LN_EPS, error)
      && add_conv (net, "1", t_img, x_img, net->backend->dt, sw->down_conv_weight,
          sw->down_conv_bias, 1, 2, 2, 0, error);
}

/* pooler = LN (mean over H, W (x)) with eps = layer_norm_eps; logits = classifier (pooler). */
static gboolean
add_head (ConvNextNetwork *net, const Act *x, GError **error)
{
  ConvNextBackend *b = net->backend;
  const ConvNextWeights *w = b->w;
  Act pooled = { NULL, dnnl_f32, x->n, x->c, 1, 1 };
  Act pooler = pooled;
  Act logits = { NULL, dnnl_f32, x->n, w->num_labels, 1, 1 };
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;
  dnnl_memory_t x_img, pooled_img, pooled_rows, pooler_rows, logits_rows;
  dnnl_status_t status;

  if (!new_buffer (net, (guint64) x->n * x->c * 4, &pooled.data, error)
      || !new_buffer (net, (guint64) x->n * x->c * 4, &pooler.data, error)
      || !as_image (net, x, &x_img, error) || !as_image (net, &pooled, &pooled_img, error)
      || !as_rows (net, &pooled, &pooled_rows, error)
      || !as_rows (net, &pooler, &pooler_rows, error)
      || !add_mean (net, "pooler", x_img, pooled_img, error)
      || !add_layer_norm (net, "layernorm", pooled_rows, pooler_rows, w->final_norm_weight,
          w->final_norm_bias, b->cfg->layer_norm_eps, error))
    return FALSE;
  net->pooler = pooler.data;
  if (w->num_labels == 0)       /* a bare ConvNextModel */
    return TRUE;

  if (!new_buffer (net, (guint64) x->n * w->num_labels * 4, &logits.data, error)
      || !as_rows (net, &logits, &logits_rows, error) || !new_attr (&attr, error))
    return FALSE;
  net->logits = logits.data;
  status = matmul_pd (b, pooler_rows, logits_rows, attr, &pd);
  if (status != dnnl_success)
    return dnnl_failed (error, "matmul_pd_create (classifier)", status);
  return add_matmul (net, "classifier", pd, pooler_rows, logits_rows, w->classifier_weight,
      w->classifier_bias, NULL, 0, NULL, error);
}

/* Keeps a copy of @x (the embeddings output, which stage 0 overwrites in place). */
static gboolean
add_copy (ConvNextNetwork *net, const Act *x, Act *copy, GError **error)
{
  dnnl_memory_t x_img, copy_img;

  *copy = *x;
  copy->dt = dnnl_f32;
  return new_buffer (net, (guint64) x->n * x->c * x->h * x->w * 4, &copy->data, error)
      && as_image (net, x, &x_img, error) && as_image (net, copy, &copy_img, error)
      && add_reorder (net, "(hidden state copy)", x_img, copy_img, error);
}

/* A backbone's feature map of hidden state @x: hidden_states_norms.<stage>, a channels-first
 * LayerNorm (eps 1e-6) = LN over the channels of each NHWC row, into @map (f32).  In bf16
 * the state is first copied to f32 (oneDNN 2.6's LN writes the data type it reads). */
static gboolean
add_feature_map (ConvNextNetwork *net, const Act *x, const float *weight, const float *bias,
    Act *map, GError **error)
{
  dnnl_memory_t x_rows, map_rows;

  if (x->dt != dnnl_f32) {
    if (!add_copy (net, x, map, error) || !as_rows (net, map, &map_rows, error))
      return FALSE;
    return add_layer_norm (net, "", map_rows, map_rows, weight, bias, CONVNEXT_LN_EPS, error);
  }
  *map = *x;
  return new_buffer (net, (guint64) x->n * x->c * x->h * x->w * 4, &map->data, error)
      && as_rows (net, x, &x_rows, error) && as_rows (net, map, &map_rows, error)
      && add_layer_norm (net, "", x_rows, map_rows, weight, bias, CONVNEXT_LN_EPS, error);
}

/* The feature maps that hidden state @index feeds (a backbone's, in out_indices order). */
static gboolean
add_feature_maps_of (ConvNextNetwork *net, guint index, const Act *x, GError **error)
{
  const ConvNextConfig *cfg = net->backend->cfg;
  const ConvNextWeights *w = net->backend->w;

  if (index == 0)
    set_where (net, "hidden_states_norms.stem");
  else
    set_where (net, "hidden_states_norms.stage%u", index);
  for (guint k = 0; k < net->n_features; k++) {
    if (cfg->out_indices[k] == index && !add_feature_map (net, x, w->feature_norm_weight[index],
            w->feature_norm_bias[index], &net->features[k], error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
build (ConvNextNetwork *net, GError **error)
{
  const ConvNextConfig *cfg = net->backend->cfg;
  const ConvNextWeights *w = net->backend->w;
  guint S = cfg->num_stages;
  Act *x = g_newa (Act, S);
  BlockBuffers bb = { 0 };
  guint64 max_elements = 0;

  /* The residual stream of each stage is its own buffer, so that the stage outputs are
   * there as hidden states; the blocks' inner buffers are shared. */
  for (guint s = 0; s < S; s++) {
    guint h, wd;
    /* convnext_network_new() checked the last stage, the smallest: this cannot fail. */
    if (!convnext_network_hidden_size (cfg, s + 1, net->height, net->width, &h, &wd)) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
          "input of %ux%u pixels is too small for stage %u of %s", net->width, net->height, s,
          cfg->path);
      return FALSE;
    }
    x[s] = (Act) { NULL, net->backend->dt, net->batch, cfg->hidden_sizes[s], h, wd };
    max_elements = MAX (max_elements, (guint64) x[s].n * x[s].c * h * wd);
    if (!new_buffer (net, (guint64) x[s].n * x[s].c * h * wd * 4, &x[s].data, error))
      return FALSE;
  }
  if (!new_buffer (net, max_elements * 4, &bb.t, error)
      || !new_buffer (net, max_elements * 4 * 4, &bb.u, error)
      || (net->backend->q != NULL && !new_buffer (net, max_elements, &bb.q, error)))
    return FALSE;
  if (cfg->version == 2) {
    guint max_c = 0;
    for (guint s = 0; s < S; s++)
      max_c = MAX (max_c, cfg->hidden_sizes[s]);
    if (!new_buffer (net, max_elements * 4 * 4, &bb.sq, error)
        || !new_buffer (net, (guint64) net->batch * 4 * max_c * 4, (void **) &bb.g, error)
        || !new_buffer (net, (guint64) net->batch * 4, (void **) &bb.d, error))
      return FALSE;
  }
  net->n_hidden = S + 1;
  if (net->keep_hidden)
    net->hidden = g_new0 (Act, S + 1);
  if (w->head == CONVNEXT_HEAD_BACKBONE) {
    net->n_features = cfg->n_out_indices;
    net->features = g_new0 (Act, net->n_features);
  }

  set_where (net, "embeddings.");
  if (!add_embeddings (net, &x[0], error)
      || (net->keep_hidden && !add_copy (net, &x[0], &net->hidden[0], error))
      || !add_feature_maps_of (net, 0, &x[0], error))
    return FALSE;
  for (guint s = 0; s < S; s++) {
    set_where (net, "encoder.stages.%u.downsampling_layer.", s);
    if (s > 0 && !add_downsampling (net, &w->stages[s], &x[s - 1], &x[s], bb.t, error))
      return FALSE;
    bb.x = x[s];
    for (guint j = 0; j < cfg->depths[s]; j++) {
      const ConvNextLayerWeights *lw = &w->stages[s].layers[j];
      const ConvNextInt8Weights *q = net->backend->q;
      set_where (net, "encoder.stages.%u.layers.%u.", s, j);
      if (q != NULL ? !add_block_int8 (net, lw, &q->layers[net->layer], &bb, error)
          : !add_block (net, lw, &bb, error))
        return FALSE;
      net->layer++;
    }
    if (net->keep_hidden && x[s].dt == dnnl_f32)
      net->hidden[s + 1] = x[s];
    else if (net->keep_hidden && !add_copy (net, &x[s], &net->hidden[s + 1], error))
      return FALSE;
    if (!add_feature_maps_of (net, s + 1, &x[s], error))
      return FALSE;
  }
  set_where (net, "%s", "");
  /* a backbone has no final LayerNorm: no pooler, no head */
  return (w->final_norm_weight == NULL || add_head (net, &x[S - 1], error))
      && share_buffer (net, net->scratch_users, net->scratch_size, &net->scratchpad, error)
      && share_buffer (net, net->staging_users, net->staging_size, &net->staging, error);
}

static gboolean
create_stream (ConvNextNetwork *net, GError **error)
{
  TRY (dnnl_stream_create (&net->stream, net->backend->engine, dnnl_stream_default_flags));
  return TRUE;
}

ConvNextNetwork *
convnext_network_new (ConvNextBackend *backend, guint batch, guint height, guint width,
    gboolean keep_hidden, guint n_threads, ConvNextRanges *observe, GError **error)
{
  const ConvNextConfig *cfg = backend->cfg;
  g_autoptr (ConvNextNetwork) net = g_new0 (ConvNextNetwork, 1);
  guint h, w;
  gboolean ok;
  int saved;

  net->backend = backend;
  net->n_threads = n_threads > 0 ? (int) MIN (n_threads, G_MAXINT) : omp_get_num_procs ();
  net->batch = batch;
  net->height = height;
  net->width = width;
  net->keep_hidden = keep_hidden;
  net->observe = observe;
  net->steps = g_array_new (FALSE, FALSE, sizeof (Step));
  g_array_set_clear_func (net->steps, step_clear);
  net->memories = g_ptr_array_new_with_free_func (memory_free);
  net->buffers = g_ptr_array_new_with_free_func (free);
  net->scratch_users = g_ptr_array_new ();
  net->staging_users = g_ptr_array_new ();

  if (!convnext_network_hidden_size (cfg, cfg->num_stages, height, width, &h, &w)) {
    guint min = cfg->patch_size << (cfg->num_stages - 1);
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "input of %ux%u pixels is too small for %s: the patch embedding (patch_size %u) and "
        "%u downsampling layers need at least %ux%u", width, height, cfg->path, cfg->patch_size,
        cfg->num_stages - 1, min, min);
    return NULL;
  }

  if (!create_stream (net, error))
    return NULL;
  saved = threads_enter (net->n_threads);
  ok = build (net, error);
  threads_leave (saved);
  if (!ok)
    return NULL;
  return g_steal_pointer (&net);
}

void
convnext_network_free (ConvNextNetwork *net)
{
  if (net == NULL)
    return;
  g_clear_pointer (&net->steps, g_array_unref);
  g_clear_pointer (&net->memories, g_ptr_array_unref);
  g_clear_pointer (&net->buffers, g_ptr_array_unref);
  g_clear_pointer (&net->scratch_users, g_ptr_array_unref);
  g_clear_pointer (&net->staging_users, g_ptr_array_unref);
  if (net->stream != NULL)
    dnnl_stream_destroy (net->stream);
  g_free (net->hidden);
  g_free (net->features);
  g_free (net);
}

gboolean
convnext_network_matches (const ConvNextNetwork *net, guint batch, guint height, guint width,
    gboolean keep_hidden)
{
  return net->batch == batch && net->height == height && net->width == width
      && net->keep_hidden == keep_hidden;
}

/* @a (NHWC f32) into @out in NCHW order. */
static void
to_nchw (const Act *a, float *out)
{
  gsize hw = a->h * a->w, c = a->c;

  for (gsize n = 0; n < (gsize) a->n; n++) {
    const float *src = (const float *) a->data + n * hw * c;
    float *dst = out + n * c * hw;
    for (gsize p = 0; p < hw; p++)
      for (gsize k = 0; k < c; k++)
        dst[k * hw + p] = src[p * c + k];
  }
}

gboolean
convnext_network_forward (ConvNextNetwork *net, const float *pixel_values, float *logits,
    float *pooler_output, float *const *feature_maps, GError **error)
{
  int saved = threads_enter (net->n_threads);
  gboolean ok = steps_run (net, pixel_values, error);

  threads_leave (saved);
  if (!ok)
    return FALSE;
  if (logits != NULL && net->logits != NULL)
    memcpy (logits, net->logits, sizeof (float) * net->batch * net->backend->w->num_labels);
  if (pooler_output != NULL && net->pooler != NULL)
    memcpy (pooler_output, net->pooler, sizeof (float) * net->batch
        * net->backend->cfg->hidden_sizes[net->backend->cfg->num_stages - 1]);
  for (guint k = 0; feature_maps != NULL && k < net->n_features; k++) {
    if (feature_maps[k] != NULL)
      to_nchw (&net->features[k], feature_maps[k]);
  }
  return TRUE;
}

char **
convnext_network_dup_primitives (const ConvNextNetwork *net)
{
  GPtrArray *names = g_ptr_array_new ();

  for (guint i = 0; i < net->steps->len; i++) {
    const Step *step = &g_array_index (net->steps, Step, i);
    g_ptr_array_add (names, g_strdup_printf ("%s\t%s", step->name, step->impl));
  }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

char *
convnext_network_cpu_isa (void)
{
  return g_strdup (dnnl_cpu_isa2str (dnnl_get_effective_cpu_isa ()));
}

gboolean
convnext_network_get_hidden_state (const ConvNextNetwork *net, guint index, guint shape[4],
    float *out)
{
  const Act *a;

  if (net->hidden == NULL || index >= net->n_hidden)
    return FALSE;
  a = &net->hidden[index];
  shape[0] = a->n;
  shape[1] = a->c;
  shape[2] = a->h;
  shape[3] = a->w;
  if (out != NULL)
    to_nchw (a, out);
  return TRUE;
}
