/* The ConvNeXt forward pass as a oneDNN network.  network*.c are the only files that see
 * oneDNN; everything it needs from the rest of the library is ConvNextConfig and
 * ConvNextWeights (both borrowed: they must outlive the backend). */
#pragma once

#include "convnext-private.h"
#include "int8.h"

G_BEGIN_DECLS

/* One per model: the oneDNN engine and the weights reordered into the layouts the
 * primitives chose, shared by the networks of all input shapes and all callers.  Safe to use
 * from several threads at once (the packed-weights cache has its own lock). */
typedef struct _ConvNextBackend ConvNextBackend;

/* The primitives, stream and activation buffers for one input shape (batch, height, width):
 * used by one thread at a time. */
typedef struct _ConvNextNetwork ConvNextNetwork;

/* @int8 (borrowed, as cfg and weights): the int8 pointwise layers, for precision INT8 only.
 * Fails with UNSUPPORTED for bf16 on a CPU without avx512_core_bf16, BACKEND if oneDNN
 * cannot create an engine. */
ConvNextBackend *convnext_backend_new (const ConvNextConfig *cfg, const ConvNextWeights *weights,
    const ConvNextInt8Weights *int8, ConvNextPrecision precision, GError **error);
void convnext_backend_free (ConvNextBackend *backend);

/* The int8 weights' range: 127 on CPUs with VNNI (AVX-512 VNNI, AVX-VNNI, AMX), else 63
 * (int8.h says why). */
guint convnext_backend_int8_weight_max (void);

/* Spatial size of hidden state @index (0 = embeddings) for an input of @height x @width;
 * FALSE if the input is too small for the patch embedding or a downsampling layer. */
gboolean convnext_network_hidden_size (const ConvNextConfig *cfg, guint index, guint height,
    guint width, guint *out_height, guint *out_width);

/* Builds the primitives for pixel_values [batch, num_channels, height, width] (NCHW f32);
 * @keep_hidden keeps a copy of every hidden state; every call runs on an OpenMP team of
 * @n_threads (0 = all cores); @observe (nullable; an f32 backend) gets the activation ranges
 * of every forward call (calibration for int8).  INVALID_INPUT for too-small or too-large
 * inputs, BACKEND when oneDNN refuses. */
ConvNextNetwork *convnext_network_new (ConvNextBackend *backend, guint batch, guint height,
    guint width, gboolean keep_hidden, guint n_threads, ConvNextRanges *observe,
    GError **error);
void convnext_network_free (ConvNextNetwork *net);
gboolean convnext_network_matches (const ConvNextNetwork *net, guint batch, guint height,
    guint width, gboolean keep_hidden);

/* Runs the network; allocates nothing.  @logits [batch, num_labels], @pooler_output
 * [batch, C_last] (absent for a backbone: left alone) and @feature_maps (a backbone's:
 * [n_out_indices] pointers, each [batch, C, H, W] NCHW or NULL) are nullable. */
gboolean convnext_network_forward (ConvNextNetwork *net, const float *pixel_values,
    float *logits, float *pooler_output, float *const *feature_maps, GError **error);

/* Hidden state @index of the last forward (needs keep_hidden): [N, C, H, W] into @shape,
 * and, when @out is not NULL, the values in NCHW order. */
gboolean convnext_network_get_hidden_state (const ConvNextNetwork *net, guint index,
    guint shape[4], float *out);

/* "<name>\t<implementation>" for every primitive of @net, in execution order (tests). */
char **convnext_network_dup_primitives (const ConvNextNetwork *net);

/* The ISA oneDNN uses (its dnnl_cpu_isa2str), after ONEDNN_MAX_CPU_ISA (tests). */
char *convnext_network_cpu_isa (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextBackend, convnext_backend_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextNetwork, convnext_network_free)

G_END_DECLS
