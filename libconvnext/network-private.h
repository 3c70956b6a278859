/* network-private.h: what the files of the oneDNN network share (network.c the forward pass,
 * network-steps.c the step list and its primitive builders, network-int8.c the int8 block,
 * network-backend.c the engine and packed-weights cache).  Private to them: they are the only
 * files that see oneDNN (through dnnl-compat.h, which hides the 2.6 / 3.x differences). */
#pragma once

#include "network.h"

#include "int8.h"

#include "dnnl-compat.h"
#include "dnnl-select.h"

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_primitive_desc_t, dnnl_primitive_desc_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_primitive_attr_t, dnnl_primitive_attr_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_post_ops_t, dnnl_post_ops_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_primitive_t, dnnl_primitive_destroy, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (dnnl_memory_t, dnnl_memory_destroy, NULL)

/* TRY (dnnl_…(…)): on failure set a BACKEND error with the call's text and status, and
 * return FALSE from the enclosing function (which has a GError **error). */
#define TRY(call) G_STMT_START {                                        \
    dnnl_status_t try_status_ = (call);                                 \
    if (try_status_ != dnnl_success)                                    \
      return dnnl_failed (error, #call, try_status_);                   \
  } G_STMT_END

/* ---------------------------------------------------------------------------------------
 * Backend (network-backend.c): engine and packed weights, shared by the networks of every
 * caller
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
 * nthreads-var.  threads_enter() sets it for every call into oneDNN and returns the caller's,
 * which threads_leave() gives back. */
int threads_enter (int n_threads);
void threads_leave (int saved);

/* The weights @src (f32, laid out as @user_md) in the layout and data type @want, reordered
 * once on @stream and cached: networks for other input shapes and other callers usually want
 * the same layout.  @row_scale (nullable) multiplies each of its n_rows consecutive rows of
 * @src first (a layer scale folded into a matmul's weights and bias).  Takes pack_lock. */
gboolean backend_pack (ConvNextBackend *b, dnnl_stream_t stream, const void *src, const float *row_scale,
    gsize n_rows, ConstMd user_md, ConstMd want, dnnl_memory_t *out, GError **error);

/* ---------------------------------------------------------------------------------------
 * Network: the table of primitives for one input shape (network-steps.c builds and runs it;
 * network.c lays it out)
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

/* config hidden_act as oneDNN eltwise algorithms (room for an activation that needs two). */
typedef struct {
  dnnl_alg_kind_t alg;
  float alpha, beta;
} Eltwise;

/* A post-op of add_fused(): binary @alg with @src1, or (src1 NULL) eltwise @alg. */
typedef struct {
  dnnl_alg_kind_t alg;
  dnnl_memory_t src1;
  float alpha, beta;
} PostOp;

/* pwconv2's candidates (network.c's f32/bf16 block; PW2_FUSED and PW2_FOLDED for the int8
 * one): γ as a per-channel binary mul post-op and the residual as a sum post-op into x; γ
 * folded into the weights and bias, so that only the sum is left (oneDNN's gemm-based matmul,
 * AVX2 and SSE4.1 on 2.6, SSE4.1 on 3.x, takes a sum only as the first post-op); or the matmul
 * into a temporary followed by binary steps. */
enum { PW2_FUSED, PW2_FOLDED, PW2_UNFUSED, N_PW2_VARIANTS };

/* The step list and the primitive builders (network-steps.c).  Each add_*() appends its
 * steps, named within net->where as transformers' modules, to net->steps; on failure it sets
 * a BACKEND error (or INVALID_INPUT when activations cannot be allocated) and returns FALSE. */

gboolean dnnl_failed (GError **error, const char *call, dnnl_status_t status);

void set_where (ConvNextNetwork *net, const char *format, ...) G_GNUC_PRINTF (2, 3);

void memory_free (gpointer m);

void step_clear (gpointer p);

gboolean new_buffer (ConvNextNetwork *net, guint64 bytes, void **out, GError **error);

gboolean new_memory (ConvNextNetwork *net, ConstMd md, void *data, dnnl_memory_t *out, GError **error);

gboolean as_image (ConvNextNetwork *net, const Act *a, dnnl_memory_t *out, GError **error);

gboolean as_rows (ConvNextNetwork *net, const Act *a, dnnl_memory_t *out, GError **error);

gboolean as_vector (ConvNextNetwork *net, const float *data, int ndims, const dnnl_dim_t *dims,
    dnnl_memory_t *out, GError **error);

gboolean as_tensor (ConvNextNetwork *net, const void *data, dnnl_data_type_t dt, int ndims,
    const dnnl_dim_t *dims, dnnl_format_tag_t tag, dnnl_memory_t *out, GError **error);

gboolean new_attr (dnnl_primitive_attr_t *attr, GError **error);

gboolean add_step (ConvNextNetwork *net, const char *what, const_dnnl_primitive_desc_t pd, int n_args,
    const dnnl_exec_arg_t *args, GError **error);

ConstMd md_of (dnnl_memory_t m);

gboolean add_reorder (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    GError **error);

gboolean add_conv (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    dnnl_data_type_t dt, const float *weight, const float *bias, dnnl_dim_t groups,
    dnnl_dim_t kernel, dnnl_dim_t stride, dnnl_dim_t pad, GError **error);

gboolean add_layer_norm (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    const float *weight, const float *bias, float eps, GError **error);

dnnl_status_t matmul_pd (ConvNextBackend *b, dnnl_memory_t src, dnnl_memory_t dst,
    const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd);

gboolean add_matmul (ConvNextNetwork *net, const char *what, const_dnnl_primitive_desc_t pd,
    dnnl_memory_t src, dnnl_memory_t dst, const float *weight, const float *bias,
    const float *row_scale, int n_extra, const dnnl_exec_arg_t *extra, GError **error);

gboolean add_binary (ConvNextNetwork *net, const char *what, dnnl_alg_kind_t alg, dnnl_memory_t src0,
    dnnl_memory_t src1, dnnl_memory_t dst, GError **error);

guint activation_ops (ConvNextAct act, Eltwise ops[2]);

gboolean add_eltwise (ConvNextNetwork *net, const char *what, dnnl_memory_t mem, dnnl_alg_kind_t alg,
    float alpha, float beta, GError **error);

gboolean add_activation (ConvNextNetwork *net, const char *what, dnnl_memory_t mem, ConvNextAct act,
    GError **error);

gboolean add_mean (ConvNextNetwork *net, const char *what, dnnl_memory_t src, dnnl_memory_t dst,
    GError **error);

gboolean add_fused (ConvNextNetwork *net, const char *what, dnnl_alg_kind_t alg, dnnl_memory_t src0,
    dnnl_memory_t src1, dnnl_memory_t dst, const PostOp *ops, guint n_ops, GError **error);

gboolean add_observer (ConvNextNetwork *net, const Act *a, float *absmax, float *min, float *max,
    GError **error);

gboolean share_buffer (ConvNextNetwork *net, GPtrArray *users, gsize size, void **buffer, GError **error);

gboolean steps_run (ConvNextNetwork *net, const float *pixel_values, GError **error);

/* The int8 block (network-int8.c, int8.h): x += γ · pwconv2 (act (pwconv1 (LN (dwconv (x)))))
 * with s8/u8 pointwise layers. */
gboolean add_block_int8 (ConvNextNetwork *net, const ConvNextLayerWeights *lw,
    const ConvNextInt8Layer *ql, const BlockBuffers *bb, GError **error);
