/* The step list of a network and the toolkit that fills it: one oneDNN primitive per step
 * (convolution, layer norm, matmul, binary, eltwise, pooling, reduction, reorder), each with
 * its candidates tried best first (dnnl-select.h) and its post-ops unfused into steps of
 * their own where oneDNN cannot fuse them; calibration observers; share_buffer() and
 * steps_run(), which runs the table in one loop on the network's stream. */
#include "network-private.h"

#include <math.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdlib.h>
#include <string.h>

gboolean
dnnl_failed (GError **error, const char *call, dnnl_status_t status)
{
  g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_BACKEND, "oneDNN: %s failed: %s", call,
      dnnl_status2str (status));
  return FALSE;
}

/* Names the module whose primitives are added next, as transformers' module names (without
 * the "convnext." prefix). */
void G_GNUC_PRINTF (2, 3)
set_where (ConvNextNetwork *net, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_vsnprintf (net->where, sizeof net->where, format, args);
  va_end (args);
}

void
memory_free (gpointer m)
{
  dnnl_memory_destroy (m);
}

void
step_clear (gpointer p)
{
  Step *step = p;

  if (step->primitive != NULL)
    dnnl_primitive_destroy (step->primitive);
  g_free (step->name);
  g_free (step->impl);
}

gboolean
new_buffer (ConvNextNetwork *net, guint64 bytes, void **out, GError **error)
{
  void *p = NULL;

  if (bytes > G_MAXSIZE / 2 || posix_memalign (&p, 64, MAX (bytes, 64)) != 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "cannot allocate %" G_GUINT64_FORMAT " bytes of activations for input %ux%ux%u",
        bytes, net->batch, net->height, net->width);
    return FALSE;
  }
  g_ptr_array_add (net->buffers, p);
  *out = p;
  return TRUE;
}

gboolean
new_memory (ConvNextNetwork *net, ConstMd md, void *data, dnnl_memory_t *out, GError **error)
{
  TRY (dnnl_memory_create (out, md, net->backend->engine, data));
  g_ptr_array_add (net->memories, *out);
  return TRUE;
}

/* @a as the NHWC image [n, c, h, w] that convolutions see. */
gboolean
as_image (ConvNextNetwork *net, const Act *a, dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;
  dnnl_dims_t dims = { a->n, a->c, a->h, a->w };

  TRY (md_create (&md, 4, dims, a->dt, dnnl_nhwc));
  return new_memory (net, md, a->data, out, error);
}

/* @a as the matrix [n·h·w, c] that layer norms and matmuls see. */
gboolean
as_rows (ConvNextNetwork *net, const Act *a, dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;
  dnnl_dims_t dims = { a->n * a->h * a->w, a->c };

  TRY (md_create (&md, 2, dims, a->dt, dnnl_ab));
  return new_memory (net, md, a->data, out, error);
}

/* A read-only f32 vector of the weights (bias, norm scale/shift, γ) used in place. */
gboolean
as_vector (ConvNextNetwork *net, const float *data, int ndims, const dnnl_dim_t *dims,
    dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;

  TRY (md_create (&md, ndims, dims, dnnl_f32, ndims == 1 ? dnnl_a : dnnl_ab));
  return new_memory (net, md, (void *) data, out, error);
}

/* @data as a tensor of @ndims @dims in data type @dt and layout @tag (a view, no copy). */
gboolean
as_tensor (ConvNextNetwork *net, const void *data, dnnl_data_type_t dt, int ndims,
    const dnnl_dim_t *dims, dnnl_format_tag_t tag, dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;

  TRY (md_create (&md, ndims, dims, dt, tag));
  return new_memory (net, md, (void *) data, out, error);
}

/* Scratchpads are ours (one buffer for all steps), so that forward allocates nothing. */
gboolean
new_attr (dnnl_primitive_attr_t *attr, GError **error)
{
  TRY (dnnl_primitive_attr_create (attr));
  TRY (dnnl_primitive_attr_set_scratchpad_mode (*attr, dnnl_scratchpad_mode_user));
  return TRUE;
}

/* Appends the primitive of @pd, named @what within net->where, to the network. */
gboolean
add_step (ConvNextNetwork *net, const char *what, const_dnnl_primitive_desc_t pd, int n_args,
    const dnnl_exec_arg_t *args, GError **error)
{
  ConstMd scratch_md = dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0);
  g_autofree char *name = g_strconcat (net->where, what, NULL);
  const char *impl = impl_name (pd);
  Step step = { .n_args = n_args };

  g_assert (n_args < MAX_ARGS);
  impl_report (name, pd, impl);
  memcpy (step.args, args, n_args * sizeof (dnnl_exec_arg_t));
  if (scratch_md != NULL && dnnl_memory_desc_get_size (scratch_md) > 0) {
    dnnl_memory_t scratch;
    if (!new_memory (net, scratch_md, DNNL_MEMORY_NONE, &scratch, error))
      return FALSE;
    g_ptr_array_add (net->scratch_users, scratch);
    net->scratch_size = MAX (net->scratch_size, dnnl_memory_desc_get_size (scratch_md));
    step.args[step.n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_SCRATCHPAD, scratch };
  }
  TRY (dnnl_primitive_create (&step.primitive, pd));
  step.name = g_steal_pointer (&name);
  step.impl = g_strdup (impl);
  g_array_append_val (net->steps, step);
  return TRUE;
}

ConstMd
md_of (dnnl_memory_t m)
{
  ConstMd md = NULL;

  dnnl_memory_get_memory_desc (m, &md);
  return md;
}

gboolean
add_reorder (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    GError **error)
{
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;

  if (!new_attr (&attr, error))
    return FALSE;
  TRY (dnnl_reorder_primitive_desc_create (&pd, md_of (src), net->backend->engine, md_of (dst),
          net->backend->engine, attr));
  return add_step (net, what, pd, 2, (dnnl_exec_arg_t[]) {
        { DNNL_ARG_FROM, src }, { DNNL_ARG_TO, dst } }, error);
}

/* A convolution's candidates (dnnl-select.h), best first: the source in the layout oneDNN
 * picks (format_tag any; brgconv on AVX-512 takes the NHWC activations as they are), or in
 * the destination's NHWC (what oneDNN's jit kernels for AVX2 and SSE4.1 accept: given "any",
 * 2.6 and 3.x pick a blocked source that no kernel pairs with an NHWC destination, and end
 * on ref:any). */
enum { CONV_SRC_ANY, CONV_SRC_NHWC, N_CONV_VARIANTS };

/* dst = conv (src) + bias; weight [OC, IC/groups, k, k] as PyTorch stores it.  Like
 * PyTorch, oneDNN's output size (in - k + 2·pad) / stride + 1 drops trailing pixels that
 * do not fill a window.  The convolution computes in @dt (f32, or bf16 with f32
 * accumulation); when its implementation wants @src in another layout or data type (the
 * NCHW f32 pixel_values), a reorder into the network's staging buffer goes first. */
gboolean
add_conv (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    dnnl_data_type_t dt, const float *weight, const float *bias, dnnl_dim_t groups,
    dnnl_dim_t kernel, dnnl_dim_t stride, dnnl_dim_t pad, GError **error)
{
  ConvNextBackend *b = net->backend;
  ConstMd src_md = md_of (src), dst_md = md_of (dst), want_src;
  dnnl_dim_t ic = md_dims (src_md)[1], oc = md_dims (dst_md)[1];
  dnnl_dims_t dims_grouped = { groups, oc / groups, ic / groups, kernel, kernel };
  dnnl_dims_t dims_plain = { oc, ic, kernel, kernel };
  gboolean grouped = groups > 1;
  dnnl_dims_t strides = { stride, stride }, padding = { pad, pad }, dilates = { 0, 0 };
  g_auto (Md) user_md = NULL;
  g_auto (Md) weight_md = NULL;
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (Choice) c = CHOICE_INIT;
  dnnl_memory_t packed, bias_mem;

  TRY (md_create (&user_md, grouped ? 5 : 4, grouped ? dims_grouped : dims_plain, dnnl_f32,
          grouped ? dnnl_goihw : dnnl_oihw));
  TRY (md_create (&weight_md, grouped ? 5 : 4, grouped ? dims_grouped : dims_plain, dt,
          dnnl_format_tag_any));
  if (!new_attr (&attr, error) || !as_vector (net, bias, 1, &oc, &bias_mem, error))
    return FALSE;
  for (guint v = 0; v < N_CONV_VARIANTS; v++) {
    g_auto (Md) v_src_md = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t status = md_create (&v_src_md, 4, md_dims (src_md), dt,
        v == CONV_SRC_ANY ? dnnl_format_tag_any : dnnl_nhwc);

    if (status == dnnl_success)
      status = convolution_forward_pd_create (&pd, b->engine, dnnl_forward_inference,
          dnnl_convolution_direct, v_src_md, weight_md, md_of (bias_mem), dst_md, strides,
          dilates, padding, padding, attr);
    if (choice_offer (&c, v, status, pd))
      break;
  }
  if (c.pd == NULL)
    return dnnl_failed (error, "convolution_forward_pd_create", c.status);
  if (!backend_pack (b, net->stream, weight, NULL, 0, user_md,
          dnnl_primitive_desc_query_md (c.pd, dnnl_query_weights_md, 0), &packed, error))
    return FALSE;

  want_src = dnnl_primitive_desc_query_md (c.pd, dnnl_query_src_md, 0);
  if (!dnnl_memory_desc_equal (want_src, src_md)) {
    g_autofree char *reorder_what = g_strconcat (what, " (input reorder)", NULL);
    dnnl_memory_t staged;
    if (!new_memory (net, want_src, DNNL_MEMORY_NONE, &staged, error)
        || !add_reorder (net, reorder_what, src, staged, error))
      return FALSE;
    g_ptr_array_add (net->staging_users, staged);
    net->staging_size = MAX (net->staging_size, dnnl_memory_desc_get_size (want_src));
    src = staged;
  }
  return add_step (net, what, c.pd, 4, (dnnl_exec_arg_t[]) {
        { DNNL_ARG_SRC, src }, { DNNL_ARG_WEIGHTS, packed }, { DNNL_ARG_BIAS, bias_mem },
        { DNNL_ARG_DST, dst } }, error);
}

/* dst = LayerNorm over the last dimension of src (rows), with scale and shift. */
gboolean
add_layer_norm (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    const float *weight, const float *bias, float eps, GError **error)
{
  const dnnl_dim_t *channels = &md_dims (md_of (src))[1];
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;
  dnnl_memory_t scale, shift;

  if (!new_attr (&attr, error) || !as_vector (net, weight, 1, channels, &scale, error)
      || !as_vector (net, bias, 1, channels, &shift, error))
    return FALSE;
  TRY (layer_normalization_forward_pd_create (&pd, net->backend->engine, dnnl_forward_inference,
          md_of (src), md_of (dst), NULL, eps, dnnl_use_scale | dnnl_use_shift, attr));
  return add_step (net, what, pd, 4, (dnnl_exec_arg_t[]) {
        { DNNL_ARG_SRC, src }, { DNNL_ARG_DST, dst }, { DNNL_ARG_SCALE, scale },
        { DNNL_ARG_SHIFT, shift } }, error);
}

/* The primitive descriptor of dst = src · Wᵀ + bias (W [N, K] as torch.nn.Linear stores
 * it) with @attr's post-ops, or the status of the failure. */
dnnl_status_t
matmul_pd (ConvNextBackend *b, dnnl_memory_t src, dnnl_memory_t dst,
    const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd)
{
  ConstMd src_md = md_of (src), dst_md = md_of (dst);
  dnnl_dims_t weight_dims = { md_dims (src_md)[1], md_dims (dst_md)[1] };
  dnnl_dims_t bias_dims = { 1, md_dims (dst_md)[1] };
  g_auto (Md) weight_md = NULL;
  g_auto (Md) bias_md = NULL;
  dnnl_status_t status;
  dnnl_data_type_t weight_dt = md_data_type (src_md) == dnnl_u8 ? dnnl_s8 : md_data_type (src_md);

  if ((status = md_create (&weight_md, 2, weight_dims, weight_dt, dnnl_format_tag_any))
      != dnnl_success
      || (status = md_create (&bias_md, 2, bias_dims, dnnl_f32, dnnl_ab)) != dnnl_success)
    return status;
  return matmul_pd_create (pd, b->engine, src_md, weight_md, bias_md, dst_md, attr);
}

/* Adds the matmul @pd made by matmul_pd(); @row_scale (nullable, [N]) multiplies the weights'
 * rows and the bias first; @extra are the post-ops' arguments. */
gboolean
add_matmul (ConvNextNetwork *net, const char *what, const_dnnl_primitive_desc_t pd,
    dnnl_memory_t src, dnnl_memory_t dst, const float *weight, const float *bias,
    const float *row_scale, int n_extra, const dnnl_exec_arg_t *extra, GError **error)
{
  dnnl_dim_t n = md_dims (md_of (dst))[1];
  dnnl_dims_t user_dims = { md_dims (md_of (src))[1], n };
  dnnl_dims_t bias_dims = { 1, n };
  g_auto (Md) user_md = NULL;
  g_auto (Md) bias_md = NULL;
  dnnl_memory_t packed, bias_mem;
  dnnl_exec_arg_t args[MAX_ARGS];

  /* W [N, K] row-major is the K × N matrix in "ba" order. */
  TRY (md_create (&user_md, 2, user_dims, dnnl_f32, dnnl_ba));
  TRY (md_create (&bias_md, 2, bias_dims, dnnl_f32, dnnl_ab));
  if (!backend_pack (net->backend, net->stream, weight, row_scale, n, user_md,
          dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), &packed, error))
    return FALSE;
  if (row_scale != NULL ? !backend_pack (net->backend, net->stream, bias, row_scale, n, bias_md, bias_md,
          &bias_mem, error) : !new_memory (net, bias_md, (void *) bias, &bias_mem, error))
    return FALSE;
  args[0] = (dnnl_exec_arg_t) { DNNL_ARG_SRC, src };
  args[1] = (dnnl_exec_arg_t) { DNNL_ARG_WEIGHTS, packed };
  args[2] = (dnnl_exec_arg_t) { DNNL_ARG_BIAS, bias_mem };
  args[3] = (dnnl_exec_arg_t) { DNNL_ARG_DST, dst };
  if (n_extra > 0)
    memcpy (args + 4, extra, n_extra * sizeof (dnnl_exec_arg_t));
  return add_step (net, what, pd, 4 + n_extra, args, error);
}

/* dst = src0 <alg> src1 (src1 broadcast when it has a dimension of 1). */
gboolean
add_binary (ConvNextNetwork *net, const char *what, dnnl_alg_kind_t alg, dnnl_memory_t src0,
    dnnl_memory_t src1, dnnl_memory_t dst, GError **error)
{
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;

  if (!new_attr (&attr, error))
    return FALSE;
  TRY (binary_pd_create (&pd, net->backend->engine, alg, md_of (src0), md_of (src1), md_of (dst),
          attr));
  return add_step (net, what, pd, 3, (dnnl_exec_arg_t[]) {
        { DNNL_ARG_SRC_0, src0 }, { DNNL_ARG_SRC_1, src1 }, { DNNL_ARG_DST, dst } }, error);
}

guint
activation_ops (ConvNextAct act, Eltwise ops[2])
{
  switch (act) {
    case CONVNEXT_ACT_GELU:
      ops[0] = (Eltwise) { dnnl_eltwise_gelu_erf, 0.f, 0.f };
      return 1;
    case CONVNEXT_ACT_GELU_TANH:
      ops[0] = (Eltwise) { dnnl_eltwise_gelu_tanh, 0.f, 0.f };
      return 1;
    case CONVNEXT_ACT_RELU:
      ops[0] = (Eltwise) { dnnl_eltwise_relu, 0.f, 0.f };
      return 1;
  }
  g_assert_not_reached ();
}

/* mem = @alg (mem), in place. */
gboolean
add_eltwise (ConvNextNetwork *net, const char *what, dnnl_memory_t mem, dnnl_alg_kind_t alg,
    float alpha, float beta, GError **error)
{
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;

  if (!new_attr (&attr, error))
    return FALSE;
  TRY (eltwise_forward_pd_create (&pd, net->backend->engine, dnnl_forward_inference, alg,
          md_of (mem), md_of (mem), alpha, beta, attr));
  return add_step (net, what, pd, 2, (dnnl_exec_arg_t[]) {
        { DNNL_ARG_SRC, mem }, { DNNL_ARG_DST, mem } }, error);
}

gboolean
add_activation (ConvNextNetwork *net, const char *what, dnnl_memory_t mem, ConvNextAct act,
    GError **error)
{
  Eltwise ops[2];
  guint n_ops = activation_ops (act, ops);

  for (guint i = 0; i < n_ops; i++) {
    if (!add_eltwise (net, what, mem, ops[i].alg, ops[i].alpha, ops[i].beta, error))
      return FALSE;
  }
  return TRUE;
}

/* dst [N, C, 1, 1] = mean over H, W of src [N, C, H, W]: average pooling with one H × W
 * window (jit in NHWC; oneDNN 2.6's reduction is ref:any).  Pooling keeps the data type,
 * so a bf16 src is pooled in bf16 and then converted. */
gboolean
add_mean (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    GError **error)
{
  ConstMd src_md = md_of (src), dst_md = md_of (dst);
  dnnl_dims_t kernel = { md_dims (src_md)[2], md_dims (src_md)[3] };
  dnnl_dims_t strides = { 1, 1 }, dilation = { 0, 0 }, padding = { 0, 0 };
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;
  dnnl_memory_t pooled = dst;

  if (kernel[0] * kernel[1] == 1)       /* nothing to average: a copy (and conversion) */
    return add_reorder (net, what, src, dst, error);
  if (md_data_type (src_md) != md_data_type (dst_md)) {
    g_auto (Md) md = NULL;
    void *data;
    TRY (md_create (&md, 4, md_dims (dst_md), md_data_type (src_md), dnnl_nhwc));
    if (!new_buffer (net, dnnl_memory_desc_get_size (md), &data, error)
        || !new_memory (net, md, data, &pooled, error))
      return FALSE;
  }
  if (!new_attr (&attr, error))
    return FALSE;
  TRY (pooling_forward_pd_create (&pd, net->backend->engine, dnnl_forward_inference,
          dnnl_pooling_avg_exclude_padding, src_md, md_of (pooled), strides, kernel, dilation,
          padding, padding, attr));
  return add_step (net, what, pd, 2, (dnnl_exec_arg_t[]) {
        { DNNL_ARG_SRC, src }, { DNNL_ARG_DST, pooled } }, error)
      && (pooled == dst || add_reorder (net, what, pooled, dst, error));
}

/* The primitive descriptor of dst = binary @alg (src0, src1), or (@src1 NULL) of
 * dst = reduction @alg (src0), with the @n_ops post-ops @ops; @args gets their operands. */
static dnnl_status_t
fused_pd (ConvNextNetwork *net, dnnl_alg_kind_t alg, dnnl_memory_t src0, dnnl_memory_t src1,
    dnnl_memory_t dst, const PostOp *ops, guint n_ops, dnnl_primitive_desc_t *pd,
    dnnl_exec_arg_t *args, int *n_args)
{
  g_auto (dnnl_primitive_attr_t) attr = NULL;
  g_auto (dnnl_post_ops_t) post_ops = NULL;
  dnnl_status_t status;

  if ((status = dnnl_primitive_attr_create (&attr)) != dnnl_success
      || (status = dnnl_primitive_attr_set_scratchpad_mode (attr, dnnl_scratchpad_mode_user))
          != dnnl_success
      || (status = dnnl_post_ops_create (&post_ops)) != dnnl_success)
    return status;
  for (guint i = 0; i < n_ops; i++) {
    if (ops[i].src1 != NULL) {
      status = dnnl_post_ops_append_binary (post_ops, ops[i].alg, md_of (ops[i].src1));
      args[(*n_args)++] = (dnnl_exec_arg_t) {
        DNNL_ARG_ATTR_MULTIPLE_POST_OP (i) | DNNL_ARG_SRC_1, ops[i].src1 };
    } else {
      status = post_ops_append_eltwise (post_ops, ops[i].alg, ops[i].alpha, ops[i].beta);
    }
    if (status != dnnl_success)
      return status;
  }
  if ((status = dnnl_primitive_attr_set_post_ops (attr, post_ops)) != dnnl_success)
    return status;
  if (src1 != NULL)
    return binary_pd_create (pd, net->backend->engine, alg, md_of (src0), md_of (src1),
        md_of (dst), attr);
  return reduction_pd_create (pd, net->backend->engine, alg, md_of (src0), md_of (dst), 0.f,
      0.f, attr);
}

/* dst = post-ops (binary @alg (src0, src1)), or (@src1 NULL) dst = post-ops (reduction
 * @alg (src0)): the post-ops fused when oneDNN can, else steps of their own on dst. */
gboolean
add_fused (ConvNextNetwork *net, const char *what, dnnl_alg_kind_t alg, dnnl_memory_t src0,
    dnnl_memory_t src1, dnnl_memory_t dst, const PostOp *ops, guint n_ops, GError **error)
{
  dnnl_exec_arg_t args[MAX_ARGS] = {
    { src1 != NULL ? DNNL_ARG_SRC_0 : DNNL_ARG_SRC, src0 }, { DNNL_ARG_DST, dst },
    { DNNL_ARG_SRC_1, src1 },
  };
  int n_plain = src1 != NULL ? 3 : 2, n_args = n_plain;
  g_auto (dnnl_primitive_desc_t) pd = NULL;
  dnnl_status_t status = dnnl_unimplemented;
  gboolean fused = FALSE;

  if (!net->backend->no_fusion && n_ops > 0) {
    status = fused_pd (net, alg, src0, src1, dst, ops, n_ops, &pd, args, &n_args);
    fused = status == dnnl_success;
  }
  if (!fused && status == dnnl_unimplemented) {
    n_args = n_plain;
    status = fused_pd (net, alg, src0, src1, dst, NULL, 0, &pd, args, &n_args);
  }
  if (status != dnnl_success)
    return dnnl_failed (error, src1 != NULL ? "binary_pd_create" : "reduction_pd_create", status);
  if (!add_step (net, what, pd, n_args, args, error))
    return FALSE;
  for (guint i = 0; !fused && i < n_ops; i++) {     /* as steps of their own */
    if (ops[i].src1 != NULL ? !add_binary (net, what, ops[i].alg, dst, ops[i].src1, dst, error)
        : !add_eltwise (net, what, dst, ops[i].alg, ops[i].alpha, ops[i].beta, error))
      return FALSE;
  }
  return TRUE;
}

/* Calibration: a step that widens [*min, *max] (or *absmax, when @min is NULL) to the values
 * of @a (f32) each time the network runs. */
gboolean
add_observer (ConvNextNetwork *net, const Act *a, float *absmax, float *min, float *max,
    GError **error)
{
  Step step = { .observed = a->data, .n_observed = (gsize) a->n * a->c * a->h * a->w,
    .absmax = absmax, .min = min, .max = max };

  g_assert (a->dt == dnnl_f32);
  step.name = g_strconcat (net->where, "(calibration)", NULL);
  step.impl = g_strdup ("observer");
  g_array_append_val (net->steps, step);
  return TRUE;
}

static void
observe (const Step *step)
{
  float lo = INFINITY, hi = -INFINITY, abs_hi = 0.f;

  for (gsize i = 0; i < step->n_observed; i++) {
    float v = step->observed[i];
    lo = MIN (lo, v);
    hi = MAX (hi, v);
  }
  abs_hi = MAX (fabsf (lo), fabsf (hi));
  if (step->absmax != NULL)
    *step->absmax = MAX (*step->absmax, abs_hi);
  if (step->min != NULL)
    *step->min = MIN (*step->min, lo);
  if (step->max != NULL)
    *step->max = MAX (*step->max, hi);
}

/* Shares one buffer among all steps (they run one after the other): points @users at a
 * new buffer of @size bytes. */
gboolean
share_buffer (ConvNextNetwork *net, GPtrArray *users, gsize size, void **buffer, GError **error)
{
  if (size == 0)
    return TRUE;
  if (!new_buffer (net, size, buffer, error))
    return FALSE;
  for (guint i = 0; i < users->len; i++)
    TRY (dnnl_memory_set_data_handle (users->pdata[i], *buffer));
  return TRUE;
}

gboolean
steps_run (ConvNextNetwork *net, const float *pixel_values, GError **error)
{
  TRY (dnnl_memory_set_data_handle (net->input, (void *) pixel_values));
  for (guint i = 0; i < net->steps->len; i++) {
    Step *step = &g_array_index (net->steps, Step, i);
    if (step->primitive == NULL) {
      TRY (dnnl_stream_wait (net->stream));
      observe (step);
      continue;
    }
    TRY (dnnl_primitive_execute (step->primitive, net->stream, step->n_args, step->args));
  }
  TRY (dnnl_stream_wait (net->stream));
  return TRUE;
}
