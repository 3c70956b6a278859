/* The ConvNeXt forward pass on oneDNN (2.6 and 3.x: dnnl-compat.h gives both the v3 API's
 * shape).  The only file that includes oneDNN.
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

#include "int8.h"

#include "dnnl-compat.h"
#include "dnnl-select.h"

#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_primitive_desc_t, dnnl_primitive_desc_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_primitive_attr_t, dnnl_primitive_attr_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_post_ops_t, dnnl_post_ops_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_primitive_t, dnnl_primitive_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_memory_t, dnnl_memory_destroy, NULL)

static gboolean
dnnl_failed (GError **error, const char *call, dnnl_status_t status)
{
  g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_BACKEND, "oneDNN: %s failed: %s", call,
      dnnl_status2str (status));
  return FALSE;
}

/* TRY (dnnl_…(…)): on failure set a BACKEND error with the call's text and status, and
 * return FALSE from the enclosing function (which has a GError **error). */
#define TRY(call) G_STMT_START {                                        \
    dnnl_status_t try_status_ = (call);                                 \
    if (try_status_ != dnnl_success)                                    \
      return dnnl_failed (error, #call, try_status_);                   \
  } G_STMT_END

/* ---------------------------------------------------------------------------------------
 * Backend: engine and packed weights, shared by the networks of every caller
 *
 * Thread safety: everything but the packed-weights cache is immutable after
 * convnext_backend_new(); the cache is read and grown under pack_lock, so that networks can
 * be built from several threads at once.  Each network owns its stream and its activations,
 * and oneDNN primitives may run concurrently (their scratchpads are the networks' own).
 * --------------------------------------------------------------------------------------- */

typedef struct {
  const void *src;              /* the tensor it came from (f32, or s8 for int8 weights)… */
  const float *row_scale;       /* …with its rows multiplied by these, or NULL */
  dnnl_memory_t memory;         /* owns its buffer, in the layout oneDNN asked for */
} Packed;

struct _ConvNextBackend {
  const ConvNextConfig *cfg;
  const ConvNextWeights *w;
  const ConvNextInt8Weights *q; /* int8 precision: the pointwise layers' int8 form; else NULL */
  dnnl_engine_t engine;
  dnnl_data_type_t dt;          /* of activations, convolutions and matmuls (but int8's
                                 * pointwise ones): f32 or bf16 */
  gboolean no_fusion;           /* CONVNEXT_DISABLE_FUSION set: exercise the fallbacks */
  GRWLock pack_lock;            /* guards packed (a pthread rwlock, which ThreadSanitizer
                                 * sees, unlike GMutex's futex), taken for writing */
  GArray *packed;               /* Packed */
};

/* Debian's libdnnl uses the OpenMP runtime: its team size is the calling thread's
 * nthreads-var.  Set it around every call into oneDNN, and give the caller's back. */
static int
threads_enter (int n_threads)
{
  int saved = omp_get_max_threads ();

  omp_set_num_threads (n_threads);
  return saved;
}

static void
threads_leave (int saved)
{
  omp_set_num_threads (saved);
}

static gboolean
backend_init (ConvNextBackend *b, GError **error)
{
  TRY (dnnl_engine_create (&b->engine, dnnl_cpu, 0));
  return TRUE;
}

ConvNextBackend *
convnext_backend_new (const ConvNextConfig *cfg, const ConvNextWeights *weights,
    const ConvNextInt8Weights *int8, ConvNextPrecision precision, GError **error)
{
  g_autoptr (ConvNextBackend) b = g_new0 (ConvNextBackend, 1);

  g_return_val_if_fail ((precision == CONVNEXT_PRECISION_INT8) == (int8 != NULL), NULL);
  b->cfg = cfg;
  b->w = weights;
  b->q = int8;
  g_rw_lock_init (&b->pack_lock);
  b->packed = g_array_new (FALSE, FALSE, sizeof (Packed));
  b->no_fusion = g_getenv ("CONVNEXT_DISABLE_FUSION") != NULL;
  b->dt = dnnl_f32;
  if (precision == CONVNEXT_PRECISION_BF16) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa ();
    /* ISA values are bit sets: avx512_core_amx contains avx512_core_bf16. */
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
      g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED,
          "bf16 precision needs a CPU with avx512_core_bf16; oneDNN reports %s",
          dnnl_cpu_isa2str (isa));
      return NULL;
    }
    b->dt = dnnl_bf16;
  }
  if (!backend_init (b, error))
    return NULL;
  return g_steal_pointer (&b);
}

guint
convnext_backend_int8_weight_max (void)
{
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa ();

  return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni
      || (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni ? 127 : 63;
}

void
convnext_backend_free (ConvNextBackend *b)
{
  if (b == NULL)
    return;
  for (guint i = 0; b->packed != NULL && i < b->packed->len; i++)
    dnnl_memory_destroy (g_array_index (b->packed, Packed, i).memory);
  g_clear_pointer (&b->packed, g_array_unref);
  g_rw_lock_clear (&b->pack_lock);
  if (b->engine != NULL)
    dnnl_engine_destroy (b->engine);
  g_free (b);
}

/* The weights @src (f32, laid out as @user_md) in the layout and data type @want, reordered
 * once on @stream and cached: networks for other input shapes and other callers usually want
 * the same layout.  @row_scale (nullable) multiplies each of its n_rows consecutive rows of
 * @src first (a layer scale folded into a matmul's weights and bias).  Called with pack_lock
 * held. */
static gboolean
pack_locked (ConvNextBackend *b, dnnl_stream_t stream, const void *src,
    const float *row_scale, gsize n_rows, ConstMd user_md, ConstMd want, dnnl_memory_t *out,
    GError **error)
{
  gsize n = dnnl_memory_desc_get_size (user_md) / sizeof (float);     /* if f32 */
  g_autofree float *scaled = NULL;
  g_auto (dnnl_memory_t) user = NULL;
  g_auto (dnnl_memory_t) packed = NULL;
  g_auto (dnnl_primitive_desc_t) pd = NULL;
  g_auto (dnnl_primitive_t) reorder = NULL;
  dnnl_exec_arg_t args[2];
  Packed p;

  for (guint i = 0; i < b->packed->len; i++) {
    ConstMd md;
    p = g_array_index (b->packed, Packed, i);
    TRY (dnnl_memory_get_memory_desc (p.memory, &md));
    if (p.src == src && p.row_scale == row_scale && dnnl_memory_desc_equal (md, want)) {
      *out = p.memory;
      return TRUE;
    }
  }
  if (row_scale != NULL) {
    gsize row = n / n_rows;
    g_assert (md_data_type (user_md) == dnnl_f32);
    scaled = g_new (float, n);
    for (gsize i = 0; i < n; i++)
      scaled[i] = ((const float *) src)[i] * row_scale[i / row];
  }
  TRY (dnnl_memory_create (&user, user_md, b->engine, (void *) (scaled ? scaled : src)));
  TRY (dnnl_memory_create (&packed, want, b->engine, DNNL_MEMORY_ALLOCATE));
  TRY (dnnl_reorder_primitive_desc_create (&pd, user_md, b->engine, want, b->engine, NULL));
  TRY (dnnl_primitive_create (&reorder, pd));
  args[0] = (dnnl_exec_arg_t) { DNNL_ARG_FROM, user };
  args[1] = (dnnl_exec_arg_t) { DNNL_ARG_TO, packed };
  TRY (dnnl_primitive_execute (reorder, stream, 2, args));
  TRY (dnnl_stream_wait (stream));
  p = (Packed) { src, row_scale, g_steal_pointer (&packed) };
  g_array_append_val (b->packed, p);
  if (md_data_type (user_md) == dnnl_f32)
    convnext_weights_release_pages (b->w, src, n);
  *out = p.memory;
  return TRUE;
}

static gboolean
pack (ConvNextBackend *b, dnnl_stream_t stream, const void *src, const float *row_scale,
    gsize n_rows, ConstMd user_md, ConstMd want, dnnl_memory_t *out, GError **error)
{
  gboolean ok;

  g_rw_lock_writer_lock (&b->pack_lock);
  ok = pack_locked (b, stream, src, row_scale, n_rows, user_md, want, out, error);
  g_rw_lock_writer_unlock (&b->pack_lock);
  return ok;
}

/* ---------------------------------------------------------------------------------------
 * Network: the table of primitives for one input shape
 * --------------------------------------------------------------------------------------- */

#define MAX_ARGS 10

typedef struct {
  dnnl_primitive_t primitive;
  int n_args;
  dnnl_exec_arg_t args[MAX_ARGS];
  char *name;                   /* "encoder.stages.1.layers.0.pwconv2", as transformers' modules */
  char *impl;                   /* oneDNN's implementation, e.g. "brg:avx512_core" */
  /* No primitive: a calibration observer, widening [*min, *max] (or *absmax) to the values of
   * the f32 buffer @observed [n_observed]. */
  const float *observed;
  gsize n_observed;
  float *absmax, *min, *max;
} Step;

/* An activation buffer: [n, c, h, w] channels-last. */
typedef struct {
  void *data;
  dnnl_data_type_t dt;
  dnnl_dim_t n, c, h, w;
} Act;

struct _ConvNextNetwork {
  ConvNextBackend *backend;
  dnnl_stream_t stream;         /* this network's own: streams are not thread-safe */
  int n_threads;                /* OpenMP team size of every call */
  guint batch, height, width;
  gboolean keep_hidden;
  ConvNextRanges *observe;      /* calibration: the ranges the observers widen; else NULL */
  guint layer;                  /* index of the block being built, over all stages */
  char where[64];               /* the module being built, e.g. "encoder.stages.1.layers.0." */
  GArray *steps;                /* Step, in execution order */
  GPtrArray *memories;          /* dnnl_memory_t views over our buffers */
  GPtrArray *buffers;           /* activation buffers, 64-byte aligned */
  GPtrArray *scratch_users;     /* memories that share the scratchpad */
  gsize scratch_size;
  void *scratchpad;
  dnnl_memory_t input;          /* pixel_values [N, C, H, W] NCHW f32, set per forward */
  GPtrArray *staging_users;     /* convolution inputs reordered just before they run… */
  gsize staging_size;
  void *staging;                /* …all into this one buffer */
  float *logits;                /* [N, num_labels] */
  float *pooler;                /* [N, C_last] */
  guint n_hidden;
  Act *hidden;                  /* [n_hidden] f32, when keep_hidden */
  guint n_features;
  Act *features;                /* [n_features] f32: a backbone's feature maps */
};

/* Names the module whose primitives are added next, as transformers' module names (without
 * the "convnext." prefix). */
static void G_GNUC_PRINTF (2, 3)
set_where (ConvNextNetwork *net, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_vsnprintf (net->where, sizeof net->where, format, args);
  va_end (args);
}

static void
memory_free (gpointer m)
{
  dnnl_memory_destroy (m);
}

static void
step_clear (gpointer p)
{
  Step *step = p;

  if (step->primitive != NULL)
    dnnl_primitive_destroy (step->primitive);
  g_free (step->name);
  g_free (step->impl);
}

static gboolean
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

static gboolean
new_memory (ConvNextNetwork *net, ConstMd md, void *data, dnnl_memory_t *out, GError **error)
{
  TRY (dnnl_memory_create (out, md, net->backend->engine, data));
  g_ptr_array_add (net->memories, *out);
  return TRUE;
}

/* @a as the NHWC image [n, c, h, w] that convolutions see. */
static gboolean
as_image (ConvNextNetwork *net, const Act *a, dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;
  dnnl_dims_t dims = { a->n, a->c, a->h, a->w };

  TRY (md_create (&md, 4, dims, a->dt, dnnl_nhwc));
  return new_memory (net, md, a->data, out, error);
}

/* @a as the matrix [n·h·w, c] that layer norms and matmuls see. */
static gboolean
as_rows (ConvNextNetwork *net, const Act *a, dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;
  dnnl_dims_t dims = { a->n * a->h * a->w, a->c };

  TRY (md_create (&md, 2, dims, a->dt, dnnl_ab));
  return new_memory (net, md, a->data, out, error);
}

/* A read-only f32 vector of the weights (bias, norm scale/shift, γ) used in place. */
static gboolean
as_vector (ConvNextNetwork *net, const float *data, int ndims, const dnnl_dim_t *dims,
    dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;

  TRY (md_create (&md, ndims, dims, dnnl_f32, ndims == 1 ? dnnl_a : dnnl_ab));
  return new_memory (net, md, (void *) data, out, error);
}

/* Scratchpads are ours (one buffer for all steps), so that forward allocates nothing. */
static gboolean
new_attr (dnnl_primitive_attr_t *attr, GError **error)
{
  TRY (dnnl_primitive_attr_create (attr));
  TRY (dnnl_primitive_attr_set_scratchpad_mode (*attr, dnnl_scratchpad_mode_user));
  return TRUE;
}

/* Appends the primitive of @pd, named @what within net->where, to the network. */
static gboolean
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

static ConstMd
md_of (dnnl_memory_t m)
{
  ConstMd md = NULL;

  dnnl_memory_get_memory_desc (m, &md);
  return md;
}

static gboolean
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
static gboolean
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
  if (!pack (b, net->stream, weight, NULL, 0, user_md,
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
static gboolean
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
static dnnl_status_t
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
static gboolean
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
  if (!pack (net->backend, net->stream, weight, row_scale, n, user_md,
          dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), &packed, error))
    return FALSE;
  if (row_scale != NULL ? !pack (net->backend, net->stream, bias, row_scale, n, bias_md, bias_md,
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
static gboolean
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

/* config hidden_act as oneDNN eltwise algorithms (room for an activation that needs two). */
typedef struct {
  dnnl_alg_kind_t alg;
  float alpha, beta;
} Eltwise;

static guint
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
static gboolean
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

static gboolean
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
static gboolean
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

/* pwconv2's candidates: γ as a per-channel binary mul post-op and the residual as a sum
 * post-op into x; γ folded into the weights and bias, so that only the sum is left (oneDNN's
 * gemm-based matmul, AVX2 and SSE4.1 on 2.6, SSE4.1 on 3.x, takes a sum only as the first
 * post-op); or the matmul into @tmp followed by binary steps. */
enum { PW2_FUSED, PW2_FOLDED, PW2_UNFUSED, N_PW2_VARIANTS };

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
  if (!pack (b, net->stream, weight, NULL, 0, user_md,
          dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0), &packed, error))
    return FALSE;
  if (INT8_BIAS_BEFORE_SCALES || gamma != NULL) {
    if (!pack (b, net->stream, bias, INT8_BIAS_BEFORE_SCALES ? scale_inv : gamma, n, bias_md,
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
    g_auto (Md) scale_md = NULL;
    dnnl_memory_t scale_mem;
    TRY (md_create (&scale_md, 1, &n, dnnl_f32, dnnl_a));
    if (gamma != NULL ? !pack (b, net->stream, scale, gamma, n, scale_md, scale_md, &scale_mem,
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

/* Calibration: a step that widens [*min, *max] (or *absmax, when @min is NULL) to the values
 * of @a (f32) each time the network runs. */
static gboolean
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

/* Scratch activations shared by all blocks: sized for the largest stage. */
typedef struct {
  Act x;                        /* the residual stream of this stage */
  void *t;                      /* dwconv / LN output, [M, C] */
  void *u;                      /* pwconv1 output, [M, 4C] */
  void *sq;                     /* V2: u², [M, 4C] */
  float *g;                     /* V2: GRN's per-sample statistics, [N, 4C] f32 */
  float *d;                     /* V2: [N] f32 */
  void *q;                      /* int8: pwconv1's s8 input, [M, C] */
} BlockBuffers;

/* A post-op of add_fused(): binary @alg with @src1, or (src1 NULL) eltwise @alg. */
typedef struct {
  dnnl_alg_kind_t alg;
  dnnl_memory_t src1;
  float alpha, beta;
} PostOp;

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
static gboolean
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

/* @data as a tensor of @ndims @dims in data type @dt and layout @tag (a view, no copy). */
static gboolean
as_tensor (ConvNextNetwork *net, const void *data, dnnl_data_type_t dt, int ndims,
    const dnnl_dim_t *dims, dnnl_format_tag_t tag, dnnl_memory_t *out, GError **error)
{
  g_auto (Md) md = NULL;

  TRY (md_create (&md, ndims, dims, dt, tag));
  return new_memory (net, md, (void *) data, out, error);
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

/* The same block with int8 pointwise layers (int8.h): the layer norm writes t / s_t rounded to
 * s8; pwconv1 writes its activation in u8 steps for pwconv2. */
static gboolean
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

/* Shares one buffer among all steps (they run one after the other): points @users at a
 * new buffer of @size bytes. */
static gboolean
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
    convnext_network_hidden_size (cfg, s + 1, net->height, net->width, &h, &wd);
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

static gboolean
run (ConvNextNetwork *net, const float *pixel_values, GError **error)
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
  gboolean ok = run (net, pixel_values, error);

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
