/* dnnl-compat.h: the oneDNN 3 C API shape on oneDNN 2.6 and 3.x alike.  Private to the network*.c files.
 *
 * oneDNN 3 changed two things the network files meet (NOTES.md, "oneDNN 3.x"):
 * - a memory descriptor is an opaque handle, created and destroyed (v2: a struct on the stack
 *   that anyone may read).  Here: Md (owned, g_auto) and ConstMd (borrowed, what every
 *   function takes and every query returns), read with md_dims() and md_data_type();
 * - a primitive descriptor is made by one call per primitive kind taking the engine, the
 *   memory descriptors and the attributes (v2: *_desc_init into an op descriptor, then the
 *   generic dnnl_primitive_desc_create).  Here: the v3 call with "dnnl_" dropped and
 *   "primitive_desc" spelt "pd", same arguments in the same order; and two post-ops whose
 *   arguments changed.
 * Everything else the network files use (engine, stream, memory, attributes, binary post-ops, reorder,
 * primitive descriptor queries, execute) is the same on both and called directly.
 *
 * Adding a primitive kind: one *_pd_create() below with the v3 signature; its v2 branch
 * fills the v2 op descriptor and hands it to v2_pd_create().  When oneDNN 2 is no longer
 * supported, the v3 branches are plain renames and this file can go.
 */
#pragma once

#include <glib.h>
#include <oneapi/dnnl/dnnl.h>

#if DNNL_VERSION_MAJOR >= 3
typedef dnnl_memory_desc_t Md;
typedef const_dnnl_memory_desc_t ConstMd;
#else
typedef dnnl_memory_desc_t *Md;
typedef const dnnl_memory_desc_t *ConstMd;
#endif

/* ---- memory descriptors ---------------------------------------------------------------- */

static inline dnnl_status_t
md_create (Md *md, int ndims, const dnnl_dims_t dims, dnnl_data_type_t dt,
    dnnl_format_tag_t tag)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_memory_desc_create_with_tag (md, ndims, dims, dt, tag);
#else
  dnnl_status_t status;

  *md = g_new (dnnl_memory_desc_t, 1);
  status = dnnl_memory_desc_init_by_tag (*md, ndims, dims, dt, tag);
  if (status != dnnl_success)
    g_clear_pointer (md, g_free);
  return status;
#endif
}

static inline void
md_destroy (Md md)
{
#if DNNL_VERSION_MAJOR >= 3
  dnnl_memory_desc_destroy (md);
#else
  g_free (md);
#endif
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (Md, md_destroy, NULL)

/* The logical dimensions ({N, C, H, W}, {M, K}, ...), whatever the layout. */
static inline const dnnl_dim_t *
md_dims (ConstMd md)
{
#if DNNL_VERSION_MAJOR >= 3
  const dnnl_dims_t *dims = NULL;

  dnnl_memory_desc_query (md, dnnl_query_dims, &dims);
  return *dims;
#else
  return md->dims;
#endif
}

static inline dnnl_data_type_t
md_data_type (ConstMd md)
{
#if DNNL_VERSION_MAJOR >= 3
  dnnl_data_type_t dt = dnnl_data_type_undef;

  dnnl_memory_desc_query (md, dnnl_query_data_type, &dt);
  return dt;
#else
  return md->data_type;
#endif
}

/* ---- primitive descriptors ------------------------------------------------------------- */

#if DNNL_VERSION_MAJOR < 3
/* The v2 tail of every *_pd_create(): @init_status from the *_desc_init that filled @op_desc. */
static inline dnnl_status_t
v2_pd_create (dnnl_status_t init_status, const void *op_desc, dnnl_primitive_desc_t *pd,
    dnnl_engine_t engine, const_dnnl_primitive_attr_t attr)
{
  if (init_status != dnnl_success)
    return init_status;
  return dnnl_primitive_desc_create (pd, op_desc, attr, engine, NULL);
}
#endif

static inline dnnl_status_t
convolution_forward_pd_create (dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
    dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg, ConstMd src, ConstMd weights,
    ConstMd bias, ConstMd dst, const dnnl_dims_t strides, const dnnl_dims_t dilates,
    const dnnl_dims_t padding_l, const dnnl_dims_t padding_r, const_dnnl_primitive_attr_t attr)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_convolution_forward_primitive_desc_create (pd, engine, prop_kind, alg, src,
      weights, bias, dst, strides, dilates, padding_l, padding_r, attr);
#else
  dnnl_convolution_desc_t d;
  return v2_pd_create (dnnl_dilated_convolution_forward_desc_init (&d, prop_kind, alg, src,
          weights, bias, dst, strides, dilates, padding_l, padding_r), &d, pd, engine, attr);
#endif
}

/* v3 wants @dst and can write another data type (e.g. s8); v2 writes into a layout equal to
 * src's (else unimplemented here); @stat may be NULL. */
static inline dnnl_status_t
layer_normalization_forward_pd_create (dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
    dnnl_prop_kind_t prop_kind, ConstMd src, ConstMd dst, ConstMd stat, float epsilon,
    unsigned flags, const_dnnl_primitive_attr_t attr)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_layer_normalization_forward_primitive_desc_create (pd, engine, prop_kind, src,
      dst, stat, epsilon, flags, attr);
#else
  dnnl_layer_normalization_desc_t d;
  if (!dnnl_memory_desc_equal (src, dst))
    return dnnl_unimplemented;  /* v2 writes the layout and data type it reads */
  return v2_pd_create (dnnl_layer_normalization_forward_desc_init (&d, prop_kind, src, stat,
          epsilon, flags), &d, pd, engine, attr);
#endif
}

static inline dnnl_status_t
matmul_pd_create (dnnl_primitive_desc_t *pd, dnnl_engine_t engine, ConstMd src,
    ConstMd weights, ConstMd bias, ConstMd dst, const_dnnl_primitive_attr_t attr)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_matmul_primitive_desc_create (pd, engine, src, weights, bias, dst, attr);
#else
  dnnl_matmul_desc_t d;
  return v2_pd_create (dnnl_matmul_desc_init (&d, src, weights, bias, dst), &d, pd, engine,
      attr);
#endif
}

static inline dnnl_status_t
binary_pd_create (dnnl_primitive_desc_t *pd, dnnl_engine_t engine, dnnl_alg_kind_t alg,
    ConstMd src0, ConstMd src1, ConstMd dst, const_dnnl_primitive_attr_t attr)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_binary_primitive_desc_create (pd, engine, alg, src0, src1, dst, attr);
#else
  dnnl_binary_desc_t d;
  return v2_pd_create (dnnl_binary_desc_init (&d, alg, src0, src1, dst), &d, pd, engine, attr);
#endif
}

/* v3 wants @dst (v2 wrote into a layout equal to src's). */
static inline dnnl_status_t
eltwise_forward_pd_create (dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
    dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg, ConstMd src, ConstMd dst, float alpha,
    float beta, const_dnnl_primitive_attr_t attr)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_eltwise_forward_primitive_desc_create (pd, engine, prop_kind, alg, src, dst,
      alpha, beta, attr);
#else
  dnnl_eltwise_desc_t d;
  g_return_val_if_fail (dnnl_memory_desc_equal (src, dst), dnnl_invalid_arguments);
  return v2_pd_create (dnnl_eltwise_forward_desc_init (&d, prop_kind, alg, src, alpha, beta),
      &d, pd, engine, attr);
#endif
}

/* @dilation: 0 = none (v2's pooling_v2 counts the same way). */
static inline dnnl_status_t
pooling_forward_pd_create (dnnl_primitive_desc_t *pd, dnnl_engine_t engine,
    dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg, ConstMd src, ConstMd dst,
    const dnnl_dims_t strides, const dnnl_dims_t kernel, const dnnl_dims_t dilation,
    const dnnl_dims_t padding_l, const dnnl_dims_t padding_r, const_dnnl_primitive_attr_t attr)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_pooling_forward_primitive_desc_create (pd, engine, prop_kind, alg, src, dst,
      strides, kernel, dilation, padding_l, padding_r, attr);
#else
  dnnl_pooling_v2_desc_t d;
  return v2_pd_create (dnnl_pooling_v2_forward_desc_init (&d, prop_kind, alg, src, dst, strides,
          kernel, dilation, padding_l, padding_r), &d, pd, engine, attr);
#endif
}

static inline dnnl_status_t
reduction_pd_create (dnnl_primitive_desc_t *pd, dnnl_engine_t engine, dnnl_alg_kind_t alg,
    ConstMd src, ConstMd dst, float p, float eps, const_dnnl_primitive_attr_t attr)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_reduction_primitive_desc_create (pd, engine, alg, src, dst, p, eps, attr);
#else
  dnnl_reduction_desc_t d;
  return v2_pd_create (dnnl_reduction_desc_init (&d, alg, src, dst, p, eps), &d, pd, engine,
      attr);
#endif
}

/* ---- post-ops whose arguments changed ------------------------------------------------- */

/* v2 had a leading scale (always 1 here: scale the result with a binary mul instead). */
static inline dnnl_status_t
post_ops_append_eltwise (dnnl_post_ops_t post_ops, dnnl_alg_kind_t alg, float alpha,
    float beta)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_post_ops_append_eltwise (post_ops, alg, alpha, beta);
#else
  return dnnl_post_ops_append_eltwise (post_ops, 1.f, alg, alpha, beta);
#endif
}

/* dst = scale · dst + result, in dst's data type (v3 adds a zero point and a data type). */
static inline dnnl_status_t
post_ops_append_sum (dnnl_post_ops_t post_ops, float scale)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_post_ops_append_sum (post_ops, scale, 0, dnnl_data_type_undef);
#else
  return dnnl_post_ops_append_sum (post_ops, scale);
#endif
}

/* ---- int8 matmul scales ------------------------------------------------------------------ */

/* Dequantisation scales per output channel (dimension 1 of a matmul's [K, N] weights).  v3
 * takes them at execution, as the memory argument ARG_WEIGHTS_SCALES; v2 as the attribute's
 * output scales, copied from @scales [n] now. */
static inline dnnl_status_t
attr_set_weights_scales (dnnl_primitive_attr_t attr, dnnl_dim_t n, const float *scales)
{
#if DNNL_VERSION_MAJOR >= 3
  return dnnl_primitive_attr_set_scales_mask (attr, DNNL_ARG_WEIGHTS, 1 << 1);
#else
  return dnnl_primitive_attr_set_output_scales (attr, n, 1 << 1, scales);
#endif
}

#if DNNL_VERSION_MAJOR >= 3
#define ARG_WEIGHTS_SCALES (DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS)
#endif

/* v2 adds an int8 matmul's bias before the scales (dst = scales · (acc + bias)), v3 after
 * (dst = scales · acc + bias): measured on both. */
#define INT8_BIAS_BEFORE_SCALES (DNNL_VERSION_MAJOR < 3)
