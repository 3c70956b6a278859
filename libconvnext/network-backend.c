/* The backend of the oneDNN network: the engine and the weights reordered ("packed") into
 * the layouts the primitives chose, cached and shared by the networks of all input shapes and
 * all callers (network-private.h gives its thread-safety rule). */
#include "network-private.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>

/* Debian's libdnnl uses the OpenMP runtime: its team size is the calling thread's
 * nthreads-var.  Set it around every call into oneDNN, and give the caller's back. */
int
threads_enter (int n_threads)
{
  int saved = omp_get_max_threads ();

  omp_set_num_threads (n_threads);
  return saved;
}

void
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

gboolean
backend_pack (ConvNextBackend *b, dnnl_stream_t stream, const void *src, const float *row_scale,
    gsize n_rows, ConstMd user_md, ConstMd want, dnnl_memory_t *out, GError **error)
{
  gboolean ok;

  g_rw_lock_writer_lock (&b->pack_lock);
  ok = pack_locked (b, stream, src, row_scale, n_rows, user_md, want, out, error);
  g_rw_lock_writer_unlock (&b->pack_lock);
  return ok;
}
