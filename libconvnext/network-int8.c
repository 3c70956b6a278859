/* The ConvNeXt block with int8 pointwise layers (int8.h holds the quantisation data and says
 * why it is shaped this way): dwconv 7×7 in the network's data type, the layer norm writing
 * t / s_t rounded to s8, pwconv1 writing its activation in u8 steps, pwconv2 adding
 * γ · its result into the residual stream. */
#include "network-private.h"

#include <string.h>

/* Adds the int8 matmul @pd made by matmul_pd() on an s8/u8 @src: @weight [N, K] s8 (as
 * PyTorch's Linear), dequantised per output channel by @scale [N] (@scale_inv its
 * reciprocals), f32 @bias [N]; @gamma (nullable, [N]) is folded into scales and bias;
 * @extra are the post-ops' arguments.  (With oneDNN 2 the scales are in @pd's attribute
 * already, and the bias is added before them: it gets bias / scale.) */
static gboolean
add_matmul_int8 (ConvNextNetwork *net, const char *what, const_dnnl_primitive_desc_t pd,
    dnnl_memory_t src, dnnl_memory_t dst, const gint8 *weight, const float *scale,
    const float *scale_inv, const float *bias, const float *gamma, int n_extra,
    const dnnl_exec_arg_t *extra, GError **error)
{
  ConvNextBackend *b = net->backend;
  dnnl_dim_t n = md_dims (md_of (dst))[1];
  dnnl_dims_t user_dims = { md_dims (md_of (src))[1], n };
  dnnl_dims_t bias_dims = { 1, n };
  g_auto (Md) user_md = NULL;
  g_auto (Md) bias_md = NULL;
  dnnl_memory_t packed, bias_mem;
  dnnl_exec_arg_t args[MAX_ARGS];
  int n_args = 0;

  TRY (md_create (&user_md, 2, user_dims, dnnl_s8, dnnl_ba));
  TRY (md_create (&bias_md, 2, bias_dims, dnnl_f32, dnnl_ab));
  if (!backend_pack (b, net->stream, weight, NULL, 0, user_md,
          dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), &packed, error))
    return FALSE;
  if (INT8_BIAS_BEFORE_SCALES || gamma != NULL) {
    if (!backend_pack (b, net->stream, bias, INT8_BIAS_BEFORE_SCALES ? scale_inv : gamma, n, bias_md,
            bias_md, &bias_mem, error))
      return FALSE;
  } else if (!new_memory (net, bias_md, (void *) bias, &bias_mem, error)) {
    return FALSE;
  }
  args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_SRC, src };
  args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_WEIGHTS, packed };
  args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_BIAS, bias_mem };
  args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_DST, dst };
#if !INT8_BIAS_BEFORE_SCALES
  {
    /* md_create takes a dnnl_dims_t (DNNL_MAX_NDIMS entries): a pointer to n alone would be
     * an over-read as far as the prototype says (gcc 14: -Wstringop-overread). */
    dnnl_dims_t scale_dims = { n };
    g_auto (Md) scale_md = NULL;
    dnnl_memory_t scale_mem;
    TRY (md_create (&scale_md, 1, scale_dims, dnnl_f32, dnnl_a));
    if (gamma != NULL ? !backend_pack (b, net->stream, scale, gamma, n, scale_md, scale_md, &scale_mem,
            error) : !new_memory (net, scale_md, (void *) scale, &scale_mem, error))
      return FALSE;
    args[n_args++] = (dnnl_exec_arg_t) { ARG_WEIGHTS_SCALES, scale_mem };
  }
#endif
  if (n_extra > 0)  /* memcpy's source may not be NULL, even for 0 bytes */
    memcpy (args + n_args, extra, n_extra * sizeof (dnnl_exec_arg_t));
  return add_step (net, what, pd, n_args + n_extra, args, error);
}

/* int8 pwconv1: s8 t / s_t in, the activation out as u8 steps (int8.h): its post-ops are the
 * activation, then the eltwise linear onto [0, 255]. */
static gboolean
add_pwconv1_int8 (ConvNextNetwork *net, const ConvNextLayerWeights *lw,
    const ConvNextInt8Layer *ql, dnnl_memory_t src, dnnl_memory_t dst, GError **error)
{
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_post_ops_t) post_ops = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;
  dnnl_dim_t n = md_dims (md_of (dst))[1];
  Eltwise ops[2];
  guint n_ops = activation_ops (net->backend->cfg->hidden_act, ops);
  float alpha = ql->hidden_alpha, beta = ql->hidden_beta;
  dnnl_status_t status;

  if (!new_attr (&attr, error))
    return FALSE;
  TRY (attr_set_weights_scales (attr, n, ql->w1_scale));
  TRY (dnnl_post_ops_create (&post_ops));
  /* An activation ending in a linear op (SELU's λ) has it composed with ours: oneDNN 2.6's
   * int8 matmuls (brg and gemm alike) get two linear post-ops in a row wrong (measured on
   * the SELU fixture: logits off by 0.9 of their range, right with one). */
  if (ops[n_ops - 1].alg == dnnl_eltwise_linear) {
    alpha *= ops[n_ops - 1].alpha;
    beta += ql->hidden_alpha * ops[n_ops - 1].beta;
    n_ops--;
  }
  for (guint i = 0; i < n_ops; i++)
    TRY (post_ops_append_eltwise (post_ops, ops[i].alg, ops[i].alpha, ops[i].beta));
  TRY (post_ops_append_eltwise (post_ops, dnnl_eltwise_linear, alpha, beta));
  TRY (dnnl_primitive_attr_set_post_ops (attr, post_ops));
  status = matmul_pd (net->backend, src, dst, attr, &pd);
  if (status != dnnl_success)
    return dnnl_failed (error, "matmul_pd_create (int8 pwconv1)", status);
  return add_matmul_int8 (net, "pwconv1", pd, src, dst, ql->w1, ql->w1_scale, ql->w1_scale_inv,
      lw->pwconv1_bias, NULL, 0, NULL, error);
}

/* int8 pwconv2, u8 in, x += γ · result: PW2_FUSED (γ as a binary mul post-op, then the sum)
 * or PW2_FOLDED (γ in the scales and bias). */
static gboolean
add_pwconv2_int8 (ConvNextNetwork *net, const ConvNextLayerWeights *lw,
    const ConvNextInt8Layer *ql, dnnl_memory_t src, dnnl_memory_t x, GError **error)
{
  dnnl_dim_t n = md_dims (md_of (x))[1];
  dnnl_dims_t gamma_dims = { 1, n };
  g_autofree float *folded_scale = g_new (float, n);
  g_auto (Choice) c = CHOICE_INIT;
  dnnl_memory_t gamma = NULL;
  dnnl_exec_arg_t extra[1];

  for (dnnl_dim_t i = 0; i < n; i++)
    folded_scale[i] = ql->w2_scale[i] * (lw->layer_scale != NULL ? lw->layer_scale[i] : 1.f);
  if (lw->layer_scale != NULL && !as_vector (net, lw->layer_scale, 2, gamma_dims, &gamma, error))
    return FALSE;
  for (guint v = PW2_FUSED; v <= PW2_FOLDED; v++) {
    g_auto (dnnl_primitive_attr_t) attr = NULL;
    g_auto (dnnl_post_ops_t) post_ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t status;

    if (v == PW2_FOLDED && gamma == NULL)
      continue;                 /* the same request as PW2_FUSED */
    if (!new_attr (&attr, error))
      return FALSE;
    TRY (attr_set_weights_scales (attr, n, v == PW2_FUSED ? ql->w2_scale : folded_scale));
    TRY (dnnl_post_ops_create (&post_ops));
    if (v == PW2_FUSED && gamma != NULL)
      TRY (dnnl_post_ops_append_binary (post_ops, dnnl_binary_mul, md_of (gamma)));
    TRY (post_ops_append_sum (post_ops, 1.f));
    TRY (dnnl_primitive_attr_set_post_ops (attr, post_ops));
    status = matmul_pd (net->backend, src, x, attr, &pd);
    if (choice_offer (&c, v, status, pd))
      break;
  }
  if (c.pd == NULL)
    return dnnl_failed (error, "matmul_pd_create (int8 pwconv2)", c.status);
  if (c.variant == PW2_FUSED && gamma != NULL) {
    extra[0] = (dnnl_exec_arg_t) { DNNL_ARG_ATTR_MULTIPLE_POST_OP (0) | DNNL_ARG_SRC_1, gamma };
    return add_matmul_int8 (net, "pwconv2", c.pd, src, x, ql->w2, ql->w2_scale, ql->w2_scale_inv,
        ql->b2, NULL, 1, extra, error);
  }
  return add_matmul_int8 (net, "pwconv2", c.pd, src, x, ql->w2, ql->w2_scale, ql->w2_scale_inv,
      ql->b2, c.variant == PW2_FOLDED ? lw->layer_scale : NULL, 0, NULL, error);
}

/* q = LN (t) / s_t rounded to s8 (LN's γ, β are divided by s_t): written by the layer norm
 * itself where oneDNN can (3.x), else by a reorder after it (2.6). */
static gboolean
add_quantized_layer_norm (ConvNextNetwork *net, const ConvNextInt8Layer *ql, dnnl_memory_t t,
    dnnl_memory_t q, GError **error)
{
  const dnnl_dim_t *channels = &md_dims (md_of (t))[1];
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;
  dnnl_memory_t scale, shift;

  if (!new_attr (&attr, error) || !as_vector (net, ql->norm_weight, 1, channels, &scale, error)
      || !as_vector (net, ql->norm_bias, 1, channels, &shift, error))
    return FALSE;
  if (layer_normalization_forward_pd_create (&pd, net->backend->engine, dnnl_forward_inference,
          md_of (t), md_of (q), NULL, CONVNEXT_LN_EPS, dnnl_use_scale | dnnl_use_shift, attr)
      == dnnl_success)
    return add_step (net, "layernorm", pd, 4, (dnnl_exec_arg_t[]) {
          { DNNL_ARG_SRC, t }, { DNNL_ARG_DST, q }, { DNNL_ARG_SCALE, scale },
          { DNNL_ARG_SHIFT, shift } }, error);
  return add_layer_norm (net, "layernorm", t, t, ql->norm_weight, ql->norm_bias,
          CONVNEXT_LN_EPS, error)
      && add_reorder (net, "pwconv1 (quantize input)", t, q, error);
}

/* The same block with int8 pointwise layers (int8.h): the layer norm writes t / s_t rounded to
 * s8; pwconv1 writes its activation in u8 steps for pwconv2. */
gboolean
add_block_int8 (ConvNextNetwork *net, const ConvNextLayerWeights *lw,
    const ConvNextInt8Layer *ql, const BlockBuffers *bb, GError **error)
{
  dnnl_data_type_t dt = net->backend->dt;
  const Act *x = &bb->x;
  Act t = { bb->t, dt, x->n, x->c, x->h, x->w };
  Act q = { bb->q, dnnl_s8, x->n, x->c, x->h, x->w };
  Act u = { bb->u, dnnl_u8, x->n, 4 * x->c, x->h, x->w };
  dnnl_memory_t x_img, x_rows, t_img, t_rows, q_rows, u_rows;

  if (!as_image (net, x, &x_img, error) || !as_rows (net, x, &x_rows, error)
      || !as_image (net, &t, &t_img, error) || !as_rows (net, &t, &t_rows, error)
      || !as_rows (net, &q, &q_rows, error) || !as_rows (net, &u, &u_rows, error))
    return FALSE;
  return add_conv (net, "dwconv", x_img, t_img, dt, lw->dwconv_weight, lw->dwconv_bias, x->c,
          CONVNEXT_DW_KERNEL, 1, CONVNEXT_DW_KERNEL / 2, error)
      && add_quantized_layer_norm (net, ql, t_rows, q_rows, error)
      && add_pwconv1_int8 (net, lw, ql, q_rows, u_rows, error)
      && add_pwconv2_int8 (net, lw, ql, u_rows, x_rows, error);
}
