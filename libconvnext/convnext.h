/* libconvnext — run Hugging Face ConvNeXt checkpoints on the CPU with oneDNN.
 *
 * One header, opaque handles, GError for every failure.  No GStreamer types.
 *
 * Usage:
 *
 *   ConvNextParams params;
 *   convnext_params_init (&params);
 *   g_autoptr (ConvNextModel) model = convnext_model_new ("convnext-tiny-224", &params, &error);
 *   g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new ("convnext-tiny-224", &error);
 *   guint w, h;
 *   convnext_preprocessor_get_output_size (pre, image.width, image.height, &w, &h);           // e.g. 224 x 224
 *   float *pixel_values = g_new (float, 3 * h * w);                  // [1, 3, h, w]
 *   convnext_preprocessor_process (pre, &image, NULL, pixel_values, &error);
 *   float *logits = g_new (float, convnext_model_get_num_labels (model));
 *   convnext_model_forward (model, pixel_values, 1, h, w, logits, NULL, &error);
 *   ConvNextClass top[5];
 *   guint n = convnext_model_top_k (model, logits, 5, top);
 *
 * Several streams, one model: a ConvNextModel holds what is immutable and shareable (config,
 * labels, weights packed for oneDNN) and is reference counted; a ConvNextContext holds what
 * one caller needs to run it (activations, the oneDNN stream and primitives per input shape):
 *
 *   g_autoptr (ConvNextContext) ctx = convnext_context_new (model, NULL);   // per thread
 *   convnext_context_forward (ctx, pixel_values, 1, h, w, logits, NULL, &error);
 *
 * Thread safety: a ConvNextModel may be used from any number of threads at once — every
 * function taking a model is thread-safe, except convnext_model_set_labels(), which must be
 * called before the model is shared.  convnext_model_forward() runs on the model's own
 * context and is serialised by a lock (one call at a time, from any thread).  A
 * ConvNextContext, like a ConvNextPreprocessor, is used by one thread at a time; contexts of
 * one model run concurrently.  Each context's calls use their own OpenMP team of
 * ConvNextParams.n_threads threads: the sum over contexts running at once should not exceed
 * the cores.  Pointers returned by getters are borrowed and live as long as the handle.
 *
 * Errors: every function that can fail returns FALSE/NULL and sets a CONVNEXT_ERROR
 * whose message names the file and the key or tensor concerned.
 *
 * Logging: the library prints nothing itself; it logs with g_log() in the "convnext" domain
 * (not structured logging), so that an application can take its records with
 * g_log_set_handler ("convnext", …) — the GStreamer plugin forwards them to GST_DEBUG that way;
 * without a handler they reach g_log_default_handler() and GLib's log writer.  Debug
 * messages (shown with G_MESSAGES_DEBUG=convnext) name the oneDNN implementation each layer of
 * a network got, e.g. "encoder.stages.1.layers.0.pwconv2: matmul brg:avx512_core"; a warning
 * (once per primitive kind) names a layer for which oneDNN has only a reference kernel on this
 * CPU.  Any CPU from SSE4.1 up gets optimised kernels for every layer (ONEDNN_MAX_CPU_ISA
 * caps the ISA oneDNN uses, for testing).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Marks the library's API: libconvnext.so is built with -fvisibility=hidden (meson's
 * gnu_symbol_visibility), so only the functions declared here with it are exported; the rest
 * of the library's functions stay internal (tests/lib/check-exports.sh checks this). */
#if defined(__GNUC__) || defined(__clang__)
#define CONVNEXT_API __attribute__ ((visibility ("default")))
#else
#define CONVNEXT_API
#endif

#define CONVNEXT_ERROR (convnext_error_quark ())
CONVNEXT_API GQuark convnext_error_quark (void);

/**
 * ConvNextError:
 * @CONVNEXT_ERROR_IO: a file is missing or unreadable.
 * @CONVNEXT_ERROR_INVALID_CONFIG: config.json / preprocessor_config.json is malformed,
 *   misses a key or has a value of the wrong type or range.
 * @CONVNEXT_ERROR_INVALID_WEIGHTS: the weights file is malformed (a bad header, zip or
 *   pickle, a forbidden pickle global, a CRC mismatch…), or a tensor is missing, has the
 *   wrong shape, or is one the config does not explain.
 * @CONVNEXT_ERROR_INVALID_INPUT: a call's arguments are unusable (zero size, NULL data,
 *   input too small for the network, region outside the image…).
 * @CONVNEXT_ERROR_UNSUPPORTED: a valid request this build or CPU cannot serve
 *   (e.g. bf16 on a CPU without bf16 support, an unknown pixel format, a model_type other
 *   than convnext/convnextv2, a legacy-format pytorch_model.bin, float64 tensors).
 * @CONVNEXT_ERROR_BACKEND: oneDNN failed; the message has the call and its status.
 */
typedef enum {
  CONVNEXT_ERROR_IO,
  CONVNEXT_ERROR_INVALID_CONFIG,
  CONVNEXT_ERROR_INVALID_WEIGHTS,
  CONVNEXT_ERROR_INVALID_INPUT,
  CONVNEXT_ERROR_UNSUPPORTED,
  CONVNEXT_ERROR_BACKEND,
} ConvNextError;

/**
 * ConvNextPrecision:
 * @CONVNEXT_PRECISION_F32: float32 everywhere (the default).
 * @CONVNEXT_PRECISION_BF16: bfloat16 weights and activations for convolutions and matmuls,
 *   f32 accumulation; needs avx512_core_bf16 or newer (else CONVNEXT_ERROR_UNSUPPORTED).
 * @CONVNEXT_PRECISION_INT8: the pointwise layers (pwconv1, pwconv2: 88 % of the work) as
 *   int8 matmuls (VNNI/AMX where the CPU has them), the rest in f32.  Weights are quantized
 *   per output channel when the model loads; the activations use the per-layer ranges
 *   measured once on sample images by #ConvNextCalibrator and stored in a calibration file
 *   (ConvNextParams.int8_calibration; without it the model fails to load with
 *   CONVNEXT_ERROR_IO).  ConvNeXt V1 only (V2: UNSUPPORTED).  The default model on the 10,000
 *   CIFAR-10 test photos: the same top-1 class as f32 on 99.43 % of them.
 */
typedef enum {
  CONVNEXT_PRECISION_F32,
  CONVNEXT_PRECISION_BF16,
  CONVNEXT_PRECISION_INT8,
} ConvNextPrecision;

/**
 * ConvNextParams:
 * @n_threads: worker threads for inference; 0 = all cores (the default).
 * @precision: see #ConvNextPrecision; default F32.
 * @output_hidden_states: keep the embeddings output and every stage output so that
 *   convnext_model_get_hidden_state() can return them (costs memory); default FALSE.
 * @int8_calibration: (nullable): for CONVNEXT_PRECISION_INT8, the calibration file written by
 *   convnext_calibrator_save(); NULL (the default) = int8_calibration.json in the model
 *   directory.  Borrowed: read by convnext_model_new() only.
 *
 * Always initialise with convnext_params_init() so that fields added later get defaults.
 */
typedef struct {
  guint n_threads;
  ConvNextPrecision precision;
  gboolean output_hidden_states;
  const char *int8_calibration;
  /*< private >*/
  gpointer _reserved[7];
} ConvNextParams;

CONVNEXT_API void convnext_params_init (ConvNextParams *params);

/**
 * convnext_default_model_dir:
 *
 * The project's embedded default model (a ConvNeXt trained on CIFAR-10): the value of the
 * environment variable CONVNEXT_DEFAULT_MODEL when set (`meson devenv` sets it to the
 * source tree's copy), else the installed <datadir>/convnext/models/convnext-cifar10.
 * Returns: (transfer none): a directory path.
 */
CONVNEXT_API const char *convnext_default_model_dir (void);

/* ------------------------------------------------------------------------------------------
 * Model: config.json + the weights, and the oneDNN network that runs them.
 * ------------------------------------------------------------------------------------------ */

typedef struct _ConvNextModel ConvNextModel;

/**
 * convnext_model_new:
 * @model_dir: a Hugging Face ConvNeXt checkpoint directory: config.json and the weights,
 *   read from the first of these that exists, as transformers' from_pretrained picks them:
 *   - model.safetensors;
 *   - model.safetensors.index.json (sharded: the index's weight_map names shard files in
 *     @model_dir);
 *   - pytorch_model.bin: torch.save's zip format (torch >= 1.6), read natively (no Python)
 *     and safely: its pickle is interpreted, never executed, and may only name
 *     collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and
 *     torch.FloatStorage/HalfStorage/BFloat16Storage; every entry's CRC-32 is checked.
 *     The legacy pre-1.6 format is refused (UNSUPPORTED) with a message saying so;
 *   - pytorch_model.bin.index.json (sharded .bin).
 *   tf_model.h5 and flax_model.msgpack are not read.  Tensors may be F32, F16 or BF16 (and
 *   strided, in a .bin).  config.json's model_type must be "convnext" (ConvNeXt) or
 *   "convnextv2" (ConvNeXt V2: GRN after the activation, no layer scale; `grn.weight`/
 *   `grn.bias`, or the older `grn.gamma`/`grn.beta`).  The tensor names may be those of
 *   ConvNext(V2)ForImageClassification (`convnext.*` or `convnextv2.*`, and `classifier.*`),
 *   of the bare ConvNext(V2)Model (no prefix, no classifier: logits are then unavailable) or
 *   of ConvNext(V2)Backbone (no prefix, no final layernorm, `hidden_states_norms.<stage>`:
 *   feature maps, see convnext_model_forward_features(); no logits, no pooler_output).
 * @params: (nullable): options; NULL means convnext_params_init() defaults.
 *
 * Loads and validates the checkpoint (weights must be finite: a NaN or ±Inf anywhere is
 * INVALID_WEIGHTS naming the tensor), honouring every ConvNextConfig field (num_channels,
 * patch_size, num_stages, hidden_sizes, depths, hidden_act, layer_norm_eps,
 * layer_scale_init_value, id2label, image_size, out_features/out_indices).  Every tensor the
 * config implies must be there with its shape; a tensor of the network the config does not
 * explain (a GRN parameter under model_type "convnext", a layer scale when
 * layer_scale_init_value <= 0, a layer beyond depths) is an error, since it means another
 * function; other unread tensors are listed by convnext_model_get_unused_tensors().
 * The oneDNN network is built lazily for each input shape and reused.
 *
 * Returns: (transfer full): the model, or NULL with @error set (IO, INVALID_CONFIG,
 *   INVALID_WEIGHTS, UNSUPPORTED — e.g. a model_type other than convnext/convnextv2 — or
 *   BACKEND).
 */
CONVNEXT_API ConvNextModel *convnext_model_new (const char *model_dir, const ConvNextParams *params,
    GError **error);

/** convnext_model_ref: adds a reference (thread-safe).  Returns: @model. */
CONVNEXT_API ConvNextModel *convnext_model_ref (ConvNextModel *model);

/** convnext_model_unref: drops a reference (thread-safe); the last one frees the model.
 *  Contexts hold references of their own.  NULL is allowed. */
CONVNEXT_API void convnext_model_unref (ConvNextModel *model);

/** convnext_model_free: the same as convnext_model_unref(); NULL is allowed. */
CONVNEXT_API void convnext_model_free (ConvNextModel *model);

/** convnext_model_get_name: the checkpoint's name: the basename of its directory. */
CONVNEXT_API const char *convnext_model_get_name (const ConvNextModel *model);

/** convnext_model_get_num_channels: config num_channels (input C). */
CONVNEXT_API guint convnext_model_get_num_channels (const ConvNextModel *model);

/** convnext_model_get_image_size: config image_size (informative; any size that the
 *  convolutions accept can be run). */
CONVNEXT_API guint convnext_model_get_image_size (const ConvNextModel *model);

/** convnext_model_get_hidden_size: C_last = hidden_sizes[-1], the pooler_output width. */
CONVNEXT_API guint convnext_model_get_hidden_size (const ConvNextModel *model);

/** convnext_model_get_num_labels: number of classes; 0 for a bare ConvNextModel. */
CONVNEXT_API guint convnext_model_get_num_labels (const ConvNextModel *model);

/** convnext_model_get_label: id2label[@id] (or the labels set with
 *  convnext_model_set_labels()); "LABEL_<id>" when config.json has none; NULL if
 *  @id >= num_labels. */
CONVNEXT_API const char *convnext_model_get_label (const ConvNextModel *model, guint id);

/**
 * convnext_model_set_labels:
 * @labels: @n_labels strings (copied) replacing id2label.
 *
 * Not thread-safe, and it changes the labels for every user of @model: call it before the
 * model is shared (callers that share a model and want other labels map the class ids
 * themselves).
 * Returns: FALSE with CONVNEXT_ERROR_INVALID_INPUT when @n_labels != num_labels.
 */
CONVNEXT_API gboolean convnext_model_set_labels (ConvNextModel *model, const char *const *labels,
    guint n_labels, GError **error);

/**
 * convnext_labels_parse:
 * @name: names the text in messages (the file it came from).
 * @text: (array length=length): a labels file: one label per line, in class order, UTF-8.
 * @length: bytes in @text.
 * @n_labels: (out): the number of labels.
 *
 * Splits a labels file as DL Streamer's and OpenVINO's are written: lines end with "\n" or
 * "\r\n", trailing whitespace is not part of a label, the empty lines at the end (a final
 * newline) are not labels, a UTF-8 byte-order mark at the start is skipped.  Hand the result
 * to convnext_model_set_labels().  Thread-safe (no state).
 *
 * Returns: (transfer full): a NULL-terminated array of @n_labels strings (g_strfreev()), or
 *   NULL with CONVNEXT_ERROR_INVALID_CONFIG when the text holds a NUL byte or is not UTF-8
 *   (the message gives the line number).
 */
CONVNEXT_API char **convnext_labels_parse (const char *name, const char *text, gsize length,
    guint *n_labels, GError **error);

/**
 * convnext_labels_load:
 * @path: a labels file.
 *
 * Reads @path and parses it with convnext_labels_parse().
 * Returns: (transfer full): the labels, or NULL with CONVNEXT_ERROR_IO (GLib's message,
 *   which names the file) or CONVNEXT_ERROR_INVALID_CONFIG.
 */
CONVNEXT_API char **convnext_labels_load (const char *path, guint *n_labels, GError **error);

/**
 * convnext_model_forward:
 * @pixel_values: float32 [@batch, num_channels, @height, @width], NCHW as in transformers.
 * @logits: (out caller-allocates) (nullable): [@batch, num_labels]; must be NULL for a
 *   bare ConvNextModel.
 * @pooler_output: (out caller-allocates) (nullable): [@batch, hidden_size]: the mean over
 *   H, W of the last stage followed by the final LayerNorm (eps = layer_norm_eps); must be
 *   NULL for a backbone.
 *
 * Runs the network on the model's own context (see convnext_context_forward()), holding the
 * model's lock: thread-safe, one call at a time.  The first call for a given (@batch,
 * @height, @width) builds the oneDNN primitives for it; later calls reuse them and allocate
 * nothing.
 *
 * Non-finite numbers: NaN or ±Inf in @pixel_values are refused (INVALID_INPUT naming the
 * first one as pixel_values[n, c, y, x]), and convnext_model_new() refuses weights that hold
 * any, so the outputs are finite unless the network overflows float32 on finite but huge
 * values; callers that print or forward raw outputs check them with isfinite().
 *
 * Returns: FALSE with INVALID_INPUT (zero or too-small sizes, logits requested from a
 *   bare model or a backbone, pooler_output from a backbone, non-finite pixel_values) or
 *   BACKEND.
 */
CONVNEXT_API gboolean convnext_model_forward (ConvNextModel *model, const float *pixel_values,
    guint batch, guint height, guint width, float *logits, float *pooler_output, GError **error);

/**
 * convnext_model_get_unused_tensors:
 *
 * The checkpoint's tensors that the model does not read and that do not change what it
 * computes (e.g. another head's, or the hidden_states_norms of backbone stages that
 * out_features does not select), sorted by name — what transformers reports as "Some weights
 * of the model checkpoint were not used".  The library prints nothing: front ends should
 * warn when this is not empty.
 * Returns: (transfer none) (array zero-terminated=1): the names; empty, never NULL.
 */
CONVNEXT_API const char *const *convnext_model_get_unused_tensors (const ConvNextModel *model);

/** convnext_model_get_num_hidden_states: num_stages + 1 (embeddings output, then each stage). */
CONVNEXT_API guint convnext_model_get_num_hidden_states (const ConvNextModel *model);

/**
 * convnext_model_get_out_indices:
 * @n_indices: (out): number of entries.
 *
 * The hidden-state indices selected by config out_features/out_indices (stage names
 * "stem", "stage1"…, as transformers' BackboneMixin); default: the last stage only.
 * Returns: (transfer none): the indices, ascending.
 */
CONVNEXT_API const guint *convnext_model_get_out_indices (const ConvNextModel *model,
    guint *n_indices);

/**
 * convnext_model_get_hidden_state:
 * @index: 0 = embeddings output, s = output of stage s-1 (transformers' hidden_states[index]).
 * @shape: (out): [N, C, H, W] of the last forward call.
 * @out: (out caller-allocates) (nullable): receives the tensor in NCHW float32.
 *
 * Only after a convnext_model_forward() call with params.output_hidden_states set; the
 * state of the model's own context (a context's: convnext_context_get_hidden_state()).
 * Returns: FALSE with INVALID_INPUT if @index is out of range or no state was kept.
 */
CONVNEXT_API gboolean convnext_model_get_hidden_state (ConvNextModel *model, guint index,
    guint shape[4], float *out, GError **error);

/**
 * convnext_model_get_num_feature_maps:
 *
 * Returns: for a backbone checkpoint (ConvNextBackbone / ConvNextV2Backbone: its
 *   hidden_states_norms.* tensors), the number of feature maps: one per stage selected by
 *   out_features/out_indices (convnext_model_get_out_indices(), in that order); 0 for a
 *   classifier or a bare model (whose stage outputs are hidden states).
 */
CONVNEXT_API guint convnext_model_get_num_feature_maps (const ConvNextModel *model);

/**
 * convnext_model_get_feature_map_shape:
 * @k: the feature map, 0 ≤ @k < convnext_model_get_num_feature_maps().
 * @batch, @height, @width: the input's size.
 * @shape: (out): [N, C, H, W] of feature map @k for hidden state i = out_indices[@k]:
 *   N = @batch; C = hidden_sizes[0] for the stem (i = 0), hidden_sizes[i - 1] for stage i;
 *   H, W = @height / patch_size, @width / patch_size for the stem and stage 1, halved
 *   (rounding down, as the 2×2 stride-2 downsampling convolution) for each later stage.
 *
 * Returns: FALSE if @k is out of range or the input is too small for the network.
 */
CONVNEXT_API gboolean convnext_model_get_feature_map_shape (const ConvNextModel *model, guint k,
    guint batch, guint height, guint width, guint shape[4]);

/**
 * convnext_model_forward_features:
 * @pixel_values: float32 [@batch, num_channels, @height, @width], NCHW as in transformers.
 * @feature_maps: (array): convnext_model_get_num_feature_maps() pointers; feature_maps[k]
 *   receives (out caller-allocates) feature map k, float32 of the shape
 *   convnext_model_get_feature_map_shape() gives, NCHW and contiguous: element [n, c, y, x]
 *   at n·C·H·W + c·H·W + y·W + x.  A NULL pointer skips that map.
 *
 * A backbone's forward pass, as transformers' ConvNextBackbone / ConvNextV2Backbone:
 * feature map k = hidden_states_norms.<stage> (hidden_states[out_indices[k]]), a
 * channels-first LayerNorm with eps 1e-6 (BackboneOutput.feature_maps[k]).  On the model's
 * own context, under its lock, like convnext_model_forward().
 *
 * Returns: FALSE with INVALID_INPUT (not a backbone, zero or too-small sizes) or BACKEND.
 */
CONVNEXT_API gboolean convnext_model_forward_features (ConvNextModel *model,
    const float *pixel_values,
    guint batch, guint height, guint width, float *const *feature_maps, GError **error);

/* ------------------------------------------------------------------------------------------
 * Context: one caller's run state for a shared model.
 * ------------------------------------------------------------------------------------------ */

typedef struct _ConvNextContext ConvNextContext;

/**
 * convnext_context_new:
 * @model: the model to run; the context holds a reference to it.
 * @params: (nullable): read for n_threads (this context's OpenMP team; 0 = all cores) and
 *   output_hidden_states; the precision is the model's.  NULL = the model's own params.
 *
 * Creates the per-caller state for running @model: nothing is built until the first
 * forward call of each input shape (the last 4 shapes are kept).  A context costs its
 * activations (ConvNeXt-T at 224×224, batch 1, f32: about 12 MiB), not the weights.
 * Identical primitives of several contexts are created once, in oneDNN's primitive cache.
 * Returns: (transfer full): the context.
 */
CONVNEXT_API ConvNextContext *convnext_context_new (ConvNextModel *model,
    const ConvNextParams *params);

/** convnext_context_free: frees @ctx and drops its model reference; NULL is allowed. */
CONVNEXT_API void convnext_context_free (ConvNextContext *ctx);

/** convnext_context_get_model: Returns: (transfer none): the model @ctx runs. */
CONVNEXT_API ConvNextModel *convnext_context_get_model (const ConvNextContext *ctx);

/**
 * convnext_context_forward:
 *
 * As convnext_model_forward() (same arguments, layouts and errors), on @ctx's own buffers
 * and without taking the model's lock: contexts of one model run concurrently.  Not
 * thread-safe for one @ctx.
 */
CONVNEXT_API gboolean convnext_context_forward (ConvNextContext *ctx, const float *pixel_values,
    guint batch, guint height, guint width, float *logits, float *pooler_output, GError **error);

/**
 * convnext_context_forward_features:
 *
 * As convnext_model_forward_features(), on @ctx (one thread at a time, without the model's
 * lock).
 */
CONVNEXT_API gboolean convnext_context_forward_features (ConvNextContext *ctx,
    const float *pixel_values,
    guint batch, guint height, guint width, float *const *feature_maps, GError **error);

/**
 * convnext_context_get_hidden_state:
 *
 * As convnext_model_get_hidden_state(), for the last convnext_context_forward() on @ctx
 * (which needs output_hidden_states in the context's params).
 */
CONVNEXT_API gboolean convnext_context_get_hidden_state (ConvNextContext *ctx, guint index,
    guint shape[4], float *out, GError **error);

/**
 * ConvNextClass:
 * @id: class index into the logits.
 * @score: softmax probability in [0, 1].
 * @label: (transfer none): the class label (borrowed from the model).
 */
typedef struct {
  guint id;
  float score;
  const char *label;
} ConvNextClass;

/**
 * convnext_model_top_k:
 * @logits: [num_labels] for one image.
 * @k: how many classes to return at most.
 * @out: (out caller-allocates): room for min(@k, num_labels) entries.
 *
 * Softmax over @logits, then the @k best by score, descending (ties: lower id first).
 * Returns: the number of entries written: min(@k, num_labels), or 0 when any logit is NaN
 *   or ±Inf (an overflow in the network; see convnext_model_forward()): such logits have
 *   no softmax, and no NaN score is ever returned.
 */
CONVNEXT_API guint convnext_model_top_k (const ConvNextModel *model, const float *logits, guint k,
    ConvNextClass *out);

/* ------------------------------------------------------------------------------------------
 * Preprocessing: any raw frame → pixel_values, as transformers' ConvNextImageProcessor.
 * ------------------------------------------------------------------------------------------ */

/**
 * ConvNextPixelFormat: the layouts accepted by convnext_preprocessor_process(); the names
 * follow GstVideoFormat (RGBx = R,G,B,pad bytes in memory order).  Every format is turned
 * into the RGB image that videoconvert (GstVideoConverter, GStreamer 1.22) would make of the
 * frame, bit for bit: alpha/pad is dropped, GRAY8 is replicated to R=G=B, I420 is converted
 * like videoconvert's I420 fast path (nearest chroma, 8-bit fixed point) and NV12 like its
 * generic path (chroma upsampled according to the chroma siting), both with the image's
 * matrix and range.
 */
typedef enum {
  CONVNEXT_PIXEL_FORMAT_RGB,
  CONVNEXT_PIXEL_FORMAT_BGR,
  CONVNEXT_PIXEL_FORMAT_RGBX,
  CONVNEXT_PIXEL_FORMAT_BGRX,
  CONVNEXT_PIXEL_FORMAT_XRGB,
  CONVNEXT_PIXEL_FORMAT_XBGR,
  CONVNEXT_PIXEL_FORMAT_RGBA,
  CONVNEXT_PIXEL_FORMAT_BGRA,
  CONVNEXT_PIXEL_FORMAT_ARGB,
  CONVNEXT_PIXEL_FORMAT_ABGR,
  CONVNEXT_PIXEL_FORMAT_I420,
  CONVNEXT_PIXEL_FORMAT_NV12,
  CONVNEXT_PIXEL_FORMAT_GRAY8,
} ConvNextPixelFormat;

/** ConvNextColorMatrix: YUV→RGB matrix (GstVideoColorMatrix subset). */
typedef enum {
  CONVNEXT_COLOR_MATRIX_BT601,
  CONVNEXT_COLOR_MATRIX_BT709,
  CONVNEXT_COLOR_MATRIX_BT2020,
} ConvNextColorMatrix;

/**
 * ConvNextChromaSite: where the NV12 chroma samples sit relative to the luma samples, as
 * GstVideoChromaSite (the flags have the same meaning).  It decides how videoconvert
 * upsamples NV12 chroma, which the preprocessor reproduces; I420 is converted like
 * videoconvert's I420 fast path, which ignores it.  0 = JPEG, GStreamer's default for
 * caps up to 576 lines; HD caps usually say MPEG2.
 * @CONVNEXT_CHROMA_SITE_JPEG: centred between the luma samples both ways.
 * @CONVNEXT_CHROMA_SITE_H_COSITED: horizontally on the even luma columns.
 * @CONVNEXT_CHROMA_SITE_V_COSITED: vertically on the even luma rows.
 * @CONVNEXT_CHROMA_SITE_MPEG2: H_COSITED.
 * @CONVNEXT_CHROMA_SITE_DV: H_COSITED | V_COSITED.
 */
typedef enum {
  CONVNEXT_CHROMA_SITE_JPEG = 0,
  CONVNEXT_CHROMA_SITE_H_COSITED = 1 << 0,
  CONVNEXT_CHROMA_SITE_V_COSITED = 1 << 1,
  CONVNEXT_CHROMA_SITE_MPEG2 = CONVNEXT_CHROMA_SITE_H_COSITED,
  CONVNEXT_CHROMA_SITE_DV = CONVNEXT_CHROMA_SITE_H_COSITED | CONVNEXT_CHROMA_SITE_V_COSITED,
} ConvNextChromaSite;

/**
 * ConvNextImage: a borrowed view of one frame.
 * @format: the pixel layout.
 * @width, @height: in pixels, > 0 (odd sizes allowed; I420/NV12 chroma planes are
 *   (width+1)/2 × (height+1)/2).
 * @data: plane pointers (packed formats use data[0] only; I420: Y, U, V; NV12: Y, UV).
 * @stride: bytes per row of each plane (any value ≥ the packed row size).
 * @matrix, @full_range: YUV colorimetry (ignored for RGB/gray formats).
 * @chroma_site: NV12 chroma siting (ignored for the other formats).
 */
typedef struct {
  ConvNextPixelFormat format;
  guint width;
  guint height;
  const guint8 *data[3];
  gsize stride[3];
  ConvNextColorMatrix matrix;
  gboolean full_range;
  ConvNextChromaSite chroma_site;
} ConvNextImage;

/** ConvNextRect: a region of interest, in pixels of the image (any position and size,
 *  odd ones too; for I420/NV12 the result is that of converting the frame as a whole, then
 *  cropping, though only the pixels that the crop's resize reads are converted). */
typedef struct {
  guint x, y, width, height;
} ConvNextRect;

typedef struct _ConvNextPreprocessor ConvNextPreprocessor;

/**
 * convnext_preprocessor_new:
 * @model_dir: directory holding preprocessor_config.json.  A missing file means
 *   transformers' ConvNextImageProcessor defaults: do_resize, size {"shortest_edge": 384},
 *   crop_pct 224/256, resample 3 (bicubic), rescale 1/255, mean = std = [0.5, 0.5, 0.5].
 *
 * Reads, as ConvNextImageProcessor does: do_resize, size ({"shortest_edge": N} or the old
 * integer N, 1 ≤ N ≤ 8192; {"height", "width"} is refused as transformers refuses it for
 * ConvNeXt), crop_pct (> 0; null → 224/256), resample (PIL filters: 0 nearest, 1 lanczos,
 * 2 bilinear, 3 bicubic, 4 box, 5 hamming; null → 2, as image_transforms.resize), do_rescale,
 * rescale_factor, do_normalize, image_mean and image_std (3 numbers or one for all channels;
 * std finite and > 0).  Other keys are ignored.
 *
 * Returns: (transfer full): the preprocessor, or NULL with IO (no such directory, unreadable
 *   file) or INVALID_CONFIG (malformed JSON, wrong type or range; the message names the file
 *   and the key).
 */
CONVNEXT_API ConvNextPreprocessor *convnext_preprocessor_new (const char *model_dir,
    GError **error);

/**
 * convnext_preprocessor_uses_defaults:
 *
 * Returns: TRUE when the model directory had no preprocessor_config.json, so that
 *   ConvNextImageProcessor's defaults apply (see convnext_preprocessor_new()).  Hub
 *   checkpoints always ship the file; without it a model trained at another size or
 *   normalisation gets the wrong input, so front ends should warn.
 */
CONVNEXT_API gboolean convnext_preprocessor_uses_defaults (const ConvNextPreprocessor *pre);

/** convnext_preprocessor_free: NULL is allowed. */
CONVNEXT_API void convnext_preprocessor_free (ConvNextPreprocessor *pre);

/**
 * convnext_preprocessor_get_output_size:
 * @in_width, @in_height: the size of the image (or ROI) to be processed.
 * @width, @height: (out): the pixel_values spatial size: shortest_edge × shortest_edge
 *   when do_resize, else the input size.
 */
CONVNEXT_API void convnext_preprocessor_get_output_size (const ConvNextPreprocessor *pre,
    guint in_width, guint in_height, guint *width, guint *height);

/**
 * convnext_preprocessor_process:
 * @image: the frame.
 * @roi: (nullable): the part of @image to use; NULL = all of it.
 * @pixel_values: (out caller-allocates): float32 [3, H, W] (one slot of an NCHW batch) with
 *   H × W from convnext_preprocessor_get_output_size(), channels in RGB order.
 *
 * As ConvNextImageProcessor.preprocess on the RGB image (transformers'
 * image_processing_convnext.py, image_transforms.py): shortest_edge < 384 → resize the short
 * side to int(shortest_edge / crop_pct), the long side to int(that · long / short), then
 * center crop shortest_edge² at top = (h - crop) // 2, left = (w - crop) // 2 (zero padding
 * where the resized image is smaller); ≥ 384 → warp to shortest_edge²; do_resize false → the
 * image as it is.  Resizing is PIL's Image.resize with the configured filter, reproduced
 * exactly (antialiased fixed-point passes, uint8 between and after them); then
 * float32(v · rescale_factor) and (v - mean) / std in float32, as numpy does.  Only the
 * pixels the crop keeps are computed.
 *
 * The first frame of a given region size plans the resize (the plans of the last 8 sizes
 * are kept); later frames of that size allocate nothing.  The hot loops use AVX-512 or AVX2
 * when the CPU has them, with the same results; the environment variable
 * CONVNEXT_PREPROCESS_SIMD (none, avx2, avx512) caps that choice.
 *
 * Returns: FALSE with INVALID_INPUT (zero size, NULL plane, stride smaller than a row, region
 *   empty or not inside the image, region too elongated to resize) or UNSUPPORTED (unknown
 *   pixel format, color matrix or chroma siting).
 */
CONVNEXT_API gboolean convnext_preprocessor_process (ConvNextPreprocessor *pre,
    const ConvNextImage *image, const ConvNextRect *roi, float *pixel_values, GError **error);

/* ------------------------------------------------------------------------------------------
 * Calibration for CONVNEXT_PRECISION_INT8.
 * ------------------------------------------------------------------------------------------ */

/**
 * ConvNextCalibrator:
 *
 * Measures the ranges of the pointwise layers' inputs (per block: max |LN output|, min and
 * max of the activation) over sample images, for the int8 precision:
 *
 *   g_autoptr (ConvNextModel) model = convnext_model_new (dir, NULL, &error);   // f32
 *   g_autoptr (ConvNextCalibrator) cal = convnext_calibrator_new (model);
 *   for (each batch of preprocessed images)
 *     convnext_calibrator_add (cal, pixel_values, batch, h, w, &error);
 *   convnext_calibrator_save (cal, "DIR/int8_calibration.json", &error);
 *
 * A few hundred images like those the model will see are enough (the ranges are maxima);
 * `convnext-classify --model DIR --calibrate FILE IMAGE…` does this from image files.  Used
 * by one thread at a time.
 */
typedef struct _ConvNextCalibrator ConvNextCalibrator;

/** convnext_calibrator_new: @model must have been loaded with precision F32 (the ranges are
 *  the f32 network's); it is referenced.  Returns: (transfer full): the calibrator. */
CONVNEXT_API ConvNextCalibrator *convnext_calibrator_new (ConvNextModel *model);

/** convnext_calibrator_add: runs @pixel_values (as convnext_model_forward()) and widens the
 *  ranges to what it saw.  Returns: FALSE with INVALID_INPUT (sizes; a model not in F32) or
 *  BACKEND. */
CONVNEXT_API gboolean convnext_calibrator_add (ConvNextCalibrator *cal, const float *pixel_values,
    guint batch, guint height, guint width, GError **error);

/** convnext_calibrator_save: writes the calibration file (JSON: format
 *  "convnext-int8-calibration", version 1, the model and image count, one {name,
 *  input_absmax, hidden_min, hidden_max} per block).  Returns: FALSE with INVALID_INPUT
 *  before any image was added, IO when the file cannot be written. */
CONVNEXT_API gboolean convnext_calibrator_save (ConvNextCalibrator *cal, const char *path,
    GError **error);

/** convnext_calibrator_free: NULL is allowed. */
CONVNEXT_API void convnext_calibrator_free (ConvNextCalibrator *cal);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextModel, convnext_model_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextCalibrator, convnext_calibrator_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextContext, convnext_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextPreprocessor, convnext_preprocessor_free)

G_END_DECLS
