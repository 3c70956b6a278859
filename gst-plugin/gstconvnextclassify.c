/**
 * SECTION:element-convnextclassify
 * @title: convnextclassify
 *
 * Classifies every video frame with a Hugging Face ConvNeXt checkpoint (libconvnext) and
 * attaches the top-k classes to the buffer; the pixels pass through untouched.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! convnextclassify ! convnextoverlay ! autovideosink
 * gst-launch-1.0 -m filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *     convnextclassify model=convnext-tiny-224 top-k=3 post-messages=true ! fakesink
 * ]|
 *
 * ## What each output buffer carries
 * - #GstConvNextClassificationMeta (gstconvnextmeta.h): the top-k (class id, label, score),
 *   the model name, the frame the result was computed on and the inference time.
 * - A full-frame #GstVideoRegionOfInterestMeta of type "convnext" with a "classification"
 *   param in DL Streamer's field names (label, label_id, confidence, model_name), plus the
 *   whole top-k in labels / label_ids / confidences.
 * - Built against GStreamer >= 1.24 (gstreamer-analytics-1.0): a #GstAnalyticsClsMtd with the
 *   whole top-k (levels = scores, quarks = g_quark_from_string (label)) in the buffer's
 *   #GstAnalyticsRelationMeta, when at least one class passed the threshold.
 * - With #GstConvNextClassify:post-messages, an element message "convnext-classification"
 *   per classified frame: timestamp, stream-time, running-time, duration, frame-number,
 *   inference-time (all guint64 ns, GST_CLOCK_TIME_NONE when unknown), model-name, and the
 *   top-k as GstValueArrays labels (string), class-ids (int), scores (double).
 *
 * ## Per-object classification: inference-region=roi-list
 * Behind a detector the element classifies each region instead of the frame:
 * |[
 * gst-launch-1.0 filesrc location=photo.png ! pngdec ! videoconvert ! facedetect display=false ! \
 *     videoconvert ! convnextclassify inference-region=roi-list object-class=face ! fakesink
 * ]|
 * Each selected GstVideoRegionOfInterestMeta (and, on GStreamer >= 1.24, GstAnalyticsODMtd)
 * is cropped (clipped to the frame) and preprocessed exactly as ConvNextImageProcessor would
 * preprocess that crop saved as an image; empty and outside regions are skipped (DEBUG log).
 * #GstConvNextClassify:object-class, #GstConvNextClassify:object-min-width and
 * #GstConvNextClassify:object-min-height select the regions;
 * #GstConvNextClassify:reclassify-interval re-uses an object's result by tracking id;
 * #GstConvNextClassify:batch-size caps the regions per forward call.  Each object's result:
 * a "classification" param on its ROI meta, an entry of #GstConvNextClassificationMeta's
 * objects (ROI id, OD id, tracking id, box, source frame, top-k; the frame-level classes are
 * empty and there is no full-frame "convnext" ROI), on >= 1.24 a #GstAnalyticsClsMtd related
 * to its ODMtd (OD -CONTAIN|RELATE_TO-> Cls, Cls -IS_PART_OF-> OD), and with post-messages an
 * "objects" array (roi-id, od-id, tracking-id, x, y, w, h, frame-number, labels, class-ids,
 * scores) in the message of each frame on which objects were classified (with
 * async-inference, posted when that frame's results come back: its frame-number and
 * timestamp, the boxes the regions had on it).
 *
 * No NaN or infinite score is ever attached or posted: a checkpoint whose weights hold any
 * fails to start (the error names the tensor); a frame on which the network overflows
 * float32 carries an empty result (0 classes, no ROI param, empty arrays in the message) and
 * the element posts one GST_STREAM_ERROR_FAILED warning per run of such frames.
 *
 * Warnings at start (each model load): a checkpoint without preprocessor_config.json
 * (GST_RESOURCE_ERROR_NOT_FOUND: transformers' defaults apply), and one with tensors that the
 * model does not use (GST_RESOURCE_ERROR_SETTINGS: "N tensors of DIR are not used by the
 * model: " and the first five names, all of them in the debug string; as convnext-classify and
 * transformers warn).  libconvnext's log records (which oneDNN kernel each layer got) appear in
 * GST_DEBUG under convnextclassify (DEBUG level; its warnings also go to GLib's log as before).
 *
 * The element works in place and never in passthrough: when the incoming buffer is not
 * writable, basetransform hands transform_ip a shallow copy (gst_buffer_copy shares the
 * GstMemory), so only the metadata becomes writable and the pixels are never copied.
 *
 * ## Many instances, one model
 * Instances of one process that load the same checkpoint (the same files on disk) with the
 * same precision share one loaded model: its weights are in memory once, each instance adds
 * only its own ConvNextContext (activations, measured 12.9 MiB per extra ConvNeXt-T instance
 * at 224x224 f32 against ~131 MiB unshared; README "Many streams, one model").  The model is
 * freed when the last of them stops.  labels-file labels stay the instance's.  Each instance
 * runs its own context with its own thread count (threads).  share-model=false: a private
 * copy.
 *
 * ## Live streams: sync, sync + QoS, async
 * A ConvNeXt may need longer than a frame period.  Three ways to run it:
 * - sync (the default): every frame (or every inference-interval-th) is classified before it
 *   leaves.  Nothing is skipped, but a model slower than the frame rate makes a live stream
 *   fall behind, more with every frame.  The LATENCY query adds the slowest inference measured
 *   so far (first measured on warm-up runs at the start, or when the caps set a new input
 *   size for a checkpoint that does not resize) and a LATENCY message
 *   re-announces it when an inference is 25 % slower.
 * - sync with qos=true (GstBaseTransform's property): a frame that is late skips its
 *   inference and leaves at once with the latest result — the frame is never dropped, only
 *   its inference.  Late means: downstream's GST_EVENT_QOS says so (as GstBaseTransform
 *   decides), or, in a live pipeline, one more inference would take the frame more than
 *   20 ms (GstVideoSink's default max-lateness) past its running time plus the pipeline
 *   latency (this covers sinks that send no QoS events, such as fakesink by default).  The
 *   first frame after the start or a flush is always classified.  Without a queue before a
 *   synchronised sink, the sink holds the streaming thread until each frame's time, so a
 *   frame reaches the classifier only one frame period before its own: an inference longer
 *   than a period + 20 ms then never fits, and every frame after the first skips it.  Each skip posts a GST_MESSAGE_QOS whose stats count frames in
 *   GST_FORMAT_BUFFERS: processed = frames classified, dropped = inferences skipped (both
 *   since the start or the last flush), quality = 1000000 × processed / (processed + dropped).
 *   The time an inference takes is taken as the shortest of the last four, and after a
 *   second of skipped frames one is classified anyway to measure it again.  The stream never
 *   lags; fewer frames are classified.
 * - #GstConvNextClassify:async-inference=true: transform_ip never waits for the network.  It
 *   preprocesses the frame into a request for the inference thread (a one-request slot: the
 *   newest frame replaces an unstarted older one) and sends the frame on at once with the
 *   latest finished result; the meta's frame_number / frame_pts say which frame that was,
 *   its age how much older it is.  The element adds no latency, never lags, and the results
 *   lag by about one inference.  The frames before the first result carry no
 *   classification.  At EOS the element waits for the request in progress and the one in
 *   the slot (at most two inferences) so that the last results are not lost (with
 *   post-messages they are posted before the EOS goes on); a flush (FLUSH_START, e.g. a
 *   seek) drops them without waiting, and the frames after it carry no result until a new
 *   one is ready.  qos has no effect in this mode: the element never holds a frame back.
 * Either way the network runs on one inference thread per element (gstconvnextrunner.c),
 * started at READY→PAUSED and joined at PAUSED→READY.
 */
#include "gstconvnextclassify.h"

#include <convnext.h>
#include <gst/video/video.h>

#include "gstconvnextlog.h"
#include "gstconvnextregions.h"
#include "gstconvnextmodelcache.h"
#include "gstconvnextresult.h"
#include "gstconvnextrunner.h"

GST_DEBUG_CATEGORY_STATIC (gst_convnext_classify_debug);
#define GST_CAT_DEFAULT gst_convnext_classify_debug

#define DEFAULT_TOP_K 5
#define DEFAULT_THRESHOLD 0.0
#define DEFAULT_INFERENCE_INTERVAL 1
#define DEFAULT_THREADS 0
#define DEFAULT_LABELS_FILE NULL
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_PRECISION GST_CONVNEXT_PRECISION_F32
#define DEFAULT_ASYNC_INFERENCE FALSE
#define DEFAULT_INFERENCE_REGION GST_CONVNEXT_INFERENCE_REGION_FULL_FRAME
#define DEFAULT_OBJECT_CLASS NULL
#define DEFAULT_OBJECT_MIN_WIDTH 0
#define DEFAULT_OBJECT_MIN_HEIGHT 0
#define DEFAULT_RECLASSIFY_INTERVAL 1
#define DEFAULT_BATCH_SIZE 8
#define MAX_BATCH_SIZE 256
#define DEFAULT_SHARE_MODEL TRUE

/* The reported latency is re-announced when an inference is this much slower than it. */
#define LATENCY_GROWTH 1.25

enum {
  PROP_0,
  PROP_MODEL,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_INFERENCE_INTERVAL,
  PROP_THREADS,
  PROP_LABELS_FILE,
  PROP_POST_MESSAGES,
  PROP_PRECISION,
  PROP_ASYNC_INFERENCE,
  PROP_INFERENCE_REGION,
  PROP_OBJECT_CLASS,
  PROP_OBJECT_MIN_WIDTH,
  PROP_OBJECT_MIN_HEIGHT,
  PROP_RECLASSIFY_INTERVAL,
  PROP_BATCH_SIZE,
  PROP_SHARE_MODEL,
};

/* The layouts convnext_preprocessor_process() accepts, by GstVideoFormat. */
static const struct {
  GstVideoFormat gst;
  ConvNextPixelFormat convnext;
} formats[] = {
  { GST_VIDEO_FORMAT_RGB, CONVNEXT_PIXEL_FORMAT_RGB },
  { GST_VIDEO_FORMAT_BGR, CONVNEXT_PIXEL_FORMAT_BGR },
  { GST_VIDEO_FORMAT_RGBx, CONVNEXT_PIXEL_FORMAT_RGBX },
  { GST_VIDEO_FORMAT_BGRx, CONVNEXT_PIXEL_FORMAT_BGRX },
  { GST_VIDEO_FORMAT_xRGB, CONVNEXT_PIXEL_FORMAT_XRGB },
  { GST_VIDEO_FORMAT_xBGR, CONVNEXT_PIXEL_FORMAT_XBGR },
  { GST_VIDEO_FORMAT_RGBA, CONVNEXT_PIXEL_FORMAT_RGBA },
  { GST_VIDEO_FORMAT_BGRA, CONVNEXT_PIXEL_FORMAT_BGRA },
  { GST_VIDEO_FORMAT_ARGB, CONVNEXT_PIXEL_FORMAT_ARGB },
  { GST_VIDEO_FORMAT_ABGR, CONVNEXT_PIXEL_FORMAT_ABGR },
  { GST_VIDEO_FORMAT_I420, CONVNEXT_PIXEL_FORMAT_I420 },
  { GST_VIDEO_FORMAT_NV12, CONVNEXT_PIXEL_FORMAT_NV12 },
  { GST_VIDEO_FORMAT_GRAY8, CONVNEXT_PIXEL_FORMAT_GRAY8 },
};

#define VIDEO_CAPS \
  GST_VIDEO_CAPS_MAKE ("{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, NV12, GRAY8 }")

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (VIDEO_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (VIDEO_CAPS));

struct _GstConvNextClassify {
  GstBaseTransform parent;

  /* Properties, under the object lock. */
  gchar *model_dir;             /* NULL: convnext_default_model_dir () */
  guint top_k;
  gdouble threshold;
  guint inference_interval;
  guint threads;
  gchar *labels_file;
  gboolean post_messages;
  GstConvNextPrecision precision;
  gboolean async_inference;
  GstConvNextInferenceRegion inference_region;
  gchar *object_class;
  guint object_min_width, object_min_height;
  guint reclassify_interval;
  guint batch_size;
  gboolean selection_changed;   /* the four above changed since the last roi-list frame */

  /* From init to finalize: the inference thread, started in start(), joined in stop(). */
  GstConvNextRunner *runner;
  /* roi-list: regions of a frame and the objects' cached results (streaming thread). */
  GstConvNextRegions *regions;
  GArray *objects;              /* GstConvNextObject: this frame's */
  GstConvNextClass *object_classes;     /* [n_objects_room × num_labels]: their fresh classes */
  guint n_objects_room;

  /* From start() to stop(). */
  ConvNextModel *model;         /* from the model cache, maybe shared with other instances */
  gchar **labels;               /* labels-file's, or NULL: the instance's own, not the model's */
  gboolean share_model;
  ConvNextPreprocessor *pre;
  guint num_labels;
  gboolean async;               /* async-inference as of start() */

  /* From set_caps(): the negotiated frames and the pixel_values they turn into. */
  GstVideoInfo info;
  ConvNextImage image;          /* format, size, colorimetry; planes are set per frame */
  guint pv_width, pv_height;

  /* Streaming state: the latest result, reused by the frames inference-interval skips. */
  guint64 frame_count;          /* input frames since start() */
  guint frames_to_skip;         /* frames that reuse the result before the next inference */
  GstConvNextResult *result;    /* labels borrowed from the model */
  gboolean have_result;         /* FALSE before the first result and after a flush */

  gboolean warned_not_finite;   /* the last result came from non-finite logits, and we said so */

  /* Under the object lock. */
  GstClockTime latency;         /* answered in the LATENCY query */
  gboolean live;                /* upstream's answer to the last LATENCY query */
};

#define gst_convnext_classify_parent_class parent_class
G_DEFINE_TYPE (GstConvNextClassify, gst_convnext_classify, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (convnextclassify, "convnextclassify", GST_RANK_NONE,
    GST_TYPE_CONVNEXT_CLASSIFY,
    GST_DEBUG_CATEGORY_INIT (gst_convnext_classify_debug, "convnextclassify", 0,
        "ConvNeXt video classifier");
    /* From plugin_init: libconvnext's log records into this category (gstconvnextlog.c). */
    gst_convnext_log_forward_to (gst_convnext_classify_debug));

GType
gst_convnext_inference_region_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_CONVNEXT_INFERENCE_REGION_FULL_FRAME, "the whole frame", "full-frame" },
    { GST_CONVNEXT_INFERENCE_REGION_ROI_LIST, "each region of interest a detector attached",
        "roi-list" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstConvNextInferenceRegion", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_convnext_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_CONVNEXT_PRECISION_F32, "float32", "f32" },
    { GST_CONVNEXT_PRECISION_BF16, "bfloat16 with float32 accumulation (needs avx512_core_bf16)",
        "bf16" },
    { GST_CONVNEXT_PRECISION_INT8, "int8 pointwise layers (needs int8_calibration.json)",
        "int8" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstConvNextPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ------------------------------------------------------------------------------------------
 * Properties
 * ------------------------------------------------------------------------------------------ */

static void
gst_convnext_classify_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (object);
  gboolean needs_reload = FALSE;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_dir);
      self->model_dir = g_value_dup_string (value);
      needs_reload = TRUE;
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_INFERENCE_INTERVAL:
      self->inference_interval = g_value_get_uint (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_uint (value);
      needs_reload = TRUE;
      break;
    case PROP_LABELS_FILE:
      g_free (self->labels_file);
      self->labels_file = g_value_dup_string (value);
      needs_reload = TRUE;
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      needs_reload = TRUE;
      break;
    case PROP_SHARE_MODEL:
      self->share_model = g_value_get_boolean (value);
      break;
    case PROP_ASYNC_INFERENCE:
      self->async_inference = g_value_get_boolean (value);
      needs_reload = TRUE;
      break;
    case PROP_INFERENCE_REGION:
      self->inference_region = g_value_get_enum (value);
      self->selection_changed = TRUE;
      break;
    case PROP_OBJECT_CLASS:
      g_free (self->object_class);
      self->object_class = g_value_dup_string (value);
      self->selection_changed = TRUE;
      break;
    case PROP_OBJECT_MIN_WIDTH:
      self->object_min_width = g_value_get_uint (value);
      self->selection_changed = TRUE;
      break;
    case PROP_OBJECT_MIN_HEIGHT:
      self->object_min_height = g_value_get_uint (value);
      self->selection_changed = TRUE;
      break;
    case PROP_RECLASSIFY_INTERVAL:
      self->reclassify_interval = g_value_get_uint (value);
      self->selection_changed = TRUE;
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  /* The model and the mode are set up in start(): a running element keeps what it has. */
  if (needs_reload && GST_STATE (self) > GST_STATE_READY)
    GST_WARNING_OBJECT (self, "'%s' changed while running: takes effect at the next "
        "READY→PAUSED", pspec->name);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_convnext_classify_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_dir ? self->model_dir : convnext_default_model_dir ());
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_INFERENCE_INTERVAL:
      g_value_set_uint (value, self->inference_interval);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->threads);
      break;
    case PROP_LABELS_FILE:
      g_value_set_string (value, self->labels_file);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_SHARE_MODEL:
      g_value_set_boolean (value, self->share_model);
      break;
    case PROP_ASYNC_INFERENCE:
      g_value_set_boolean (value, self->async_inference);
      break;
    case PROP_INFERENCE_REGION:
      g_value_set_enum (value, self->inference_region);
      break;
    case PROP_OBJECT_CLASS:
      g_value_set_string (value, self->object_class);
      break;
    case PROP_OBJECT_MIN_WIDTH:
      g_value_set_uint (value, self->object_min_width);
      break;
    case PROP_OBJECT_MIN_HEIGHT:
      g_value_set_uint (value, self->object_min_height);
      break;
    case PROP_RECLASSIFY_INTERVAL:
      g_value_set_uint (value, self->reclassify_interval);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ------------------------------------------------------------------------------------------
 * start / stop: the model's lifetime
 * ------------------------------------------------------------------------------------------ */

/* One label per line (convnext_labels_load says how lines are split).  The labels are the
 * instance's (the runner maps class ids to them): the model may be shared with instances
 * that have other labels or none. */
static gchar **
load_labels_file (ConvNextModel *model, const gchar *path, GError **error)
{
  g_auto (GStrv) lines = NULL;
  guint n;

  lines = convnext_labels_load (path, &n, error);
  if (lines == NULL) {
    g_prefix_error (error, "labels-file: ");
    return NULL;
  }
  if (n != convnext_model_get_num_labels (model)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "labels-file %s: %u labels given, but model %s has %u classes", path, n,
        convnext_model_get_name (model), convnext_model_get_num_labels (model));
    return NULL;
  }
  return g_steal_pointer (&lines);
}

/* Joins the inference thread, then frees what it used. */
static void
free_model (GstConvNextClassify *self)
{
  gst_convnext_runner_stop (self->runner);
  gst_convnext_runner_set_labels (self->runner, NULL);
  g_clear_pointer (&self->labels, g_strfreev);
  g_clear_pointer (&self->model, gst_convnext_model_cache_release);
  g_clear_pointer (&self->pre, convnext_preprocessor_free);
  g_clear_pointer (&self->result, gst_convnext_result_free);
  self->num_labels = 0;
  self->pv_width = self->pv_height = 0;
  self->have_result = FALSE;
}

static gboolean warm_up (GstConvNextClassify *self, guint width, guint height);

/* How many unused tensor names the warning's text shows; its debug part has them all. */
#define UNUSED_TENSORS_SHOWN 5

/* Checkpoint tensors that the model does not read (another head's, a stage a backbone does not
 * select): a warning, as convnext-classify prints and as transformers warns "Some weights of
 * the model checkpoint were not used", since they can mean the checkpoint is not the model the
 * user thinks.  Once per load (start()). */
static void
warn_unused_tensors (GstConvNextClassify *self, const gchar *model_dir)
{
  const gchar *const *unused = convnext_model_get_unused_tensors (self->model);
  guint n = g_strv_length ((gchar **) unused);
  g_autoptr (GString) shown = NULL;
  g_autofree gchar *all = NULL;

  if (n == 0)
    return;
  shown = g_string_new (NULL);
  for (guint i = 0; i < n && i < UNUSED_TENSORS_SHOWN; i++)
    g_string_append_printf (shown, "%s%s", i > 0 ? ", " : "", unused[i]);
  if (n > UNUSED_TENSORS_SHOWN)
    g_string_append_printf (shown, ", … (%u more)", n - UNUSED_TENSORS_SHOWN);
  all = g_strjoinv (", ", (gchar **) unused);
  GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
      ("%u tensors of %s are not used by the model: %s", n, model_dir, shown->str),
      ("Unused tensors: %s", all));
}

static gboolean
gst_convnext_classify_start (GstBaseTransform *trans)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (trans);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *model_dir = NULL;
  g_autofree gchar *labels_file = NULL;
  ConvNextParams params;
  gboolean share_model;
  guint width, height;

  convnext_params_init (&params);
  GST_OBJECT_LOCK (self);
  model_dir = g_strdup (self->model_dir ? self->model_dir : convnext_default_model_dir ());
  labels_file = g_strdup (self->labels_file);
  share_model = self->share_model;
  params.n_threads = self->threads;
  params.precision = self->precision == GST_CONVNEXT_PRECISION_BF16 ? CONVNEXT_PRECISION_BF16
      : self->precision == GST_CONVNEXT_PRECISION_INT8 ? CONVNEXT_PRECISION_INT8
      : CONVNEXT_PRECISION_F32;
  self->async = self->async_inference;
  self->latency = 0;
  GST_OBJECT_UNLOCK (self);

  self->model = gst_convnext_model_cache_acquire (model_dir, &params, share_model, &error);
  if (self->model == NULL)
    goto failed;
  /* The element feeds RGB pixel_values and reports classes: a bare backbone can't serve. */
  if (convnext_model_get_num_channels (self->model) != 3) {
    g_set_error (&error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED,
        "%s: num_channels is %u, convnextclassify feeds RGB frames (3)", model_dir,
        convnext_model_get_num_channels (self->model));
    goto failed;
  }
  self->num_labels = convnext_model_get_num_labels (self->model);
  if (self->num_labels == 0) {
    g_set_error (&error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED,
        "%s: the checkpoint has no classifier (a bare ConvNextModel); "
        "convnextclassify needs ConvNextForImageClassification", model_dir);
    goto failed;
  }
  warn_unused_tensors (self, model_dir);
  if (labels_file != NULL) {
    self->labels = load_labels_file (self->model, labels_file, &error);
    if (self->labels == NULL)
      goto failed;
    gst_convnext_runner_set_labels (self->runner, (const gchar *const *) self->labels);
  }
  self->pre = convnext_preprocessor_new (model_dir, &error);
  if (self->pre == NULL)
    goto failed;
  if (convnext_preprocessor_uses_defaults (self->pre))
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("Model %s has no preprocessor_config.json.", model_dir),
        ("Frames are preprocessed with transformers' ConvNextImageProcessor defaults (shortest "
            "edge 384, crop_pct 224/256, bicubic, mean/std 0.5): wrong for a model trained "
            "otherwise."));

  self->result = gst_convnext_result_new (self->num_labels, convnext_model_get_name (self->model));
  self->have_result = FALSE;
  self->frame_count = 0;
  self->frames_to_skip = 0;
  self->warned_not_finite = FALSE;
  if (!gst_convnext_runner_start (self->runner, self->model, &params, &error))
    goto failed;
  /* A checkpoint that resizes gives every frame the same pixel_values size (0 × 0 asks
   * which): sync warms up for it now, so that the first LATENCY query of a live pipeline
   * (at PAUSED→PLAYING, before any caps) already has the inference time. */
  convnext_preprocessor_get_output_size (self->pre, 0, 0, &width, &height);
  if (!self->async && width > 0 && !warm_up (self, width, height))
    goto failed_posted;

  GST_INFO_OBJECT (self, "loaded model '%s' from %s: %u labels, hidden size %u, image size %u, "
      "%u threads (0 = auto), precision %s, %s inference", convnext_model_get_name (self->model),
      model_dir, self->num_labels, convnext_model_get_hidden_size (self->model),
      convnext_model_get_image_size (self->model), params.n_threads,
      params.precision == CONVNEXT_PRECISION_BF16 ? "bf16"
      : params.precision == CONVNEXT_PRECISION_INT8 ? "int8" : "f32",
      self->async ? "async" : "sync");
  return TRUE;

failed:
  /* A file that isn't there is NOT_FOUND; anything else about the checkpoint is a bad setting. */
  if (g_error_matches (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO) ||
      g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", error->message),
        ("model=%s labels-file=%s", model_dir, GST_STR_NULL (labels_file)));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
        ("model=%s labels-file=%s", model_dir, GST_STR_NULL (labels_file)));
failed_posted:
  free_model (self);
  return FALSE;
}

static gboolean
gst_convnext_classify_stop (GstBaseTransform *trans)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (trans);

  free_model (self);
  gst_video_info_init (&self->info);
  GST_DEBUG_OBJECT (self, "model freed");
  return TRUE;
}

/* ------------------------------------------------------------------------------------------
 * Caps and latency
 * ------------------------------------------------------------------------------------------ */

static ConvNextColorMatrix
color_matrix (GstVideoColorMatrix matrix)
{
  /* SMPTE 240M and FCC are within a rounding step of BT.709 and BT.601 respectively. */
  switch (matrix) {
    case GST_VIDEO_COLOR_MATRIX_BT709:
    case GST_VIDEO_COLOR_MATRIX_SMPTE240M:
      return CONVNEXT_COLOR_MATRIX_BT709;
    case GST_VIDEO_COLOR_MATRIX_BT2020:
      return CONVNEXT_COLOR_MATRIX_BT2020;
    default:
      return CONVNEXT_COLOR_MATRIX_BT601;
  }
}

static ConvNextChromaSite
chroma_site (GstVideoChromaSite site)
{
  ConvNextChromaSite out = CONVNEXT_CHROMA_SITE_JPEG;

  if (site & GST_VIDEO_CHROMA_SITE_H_COSITED)
    out |= CONVNEXT_CHROMA_SITE_H_COSITED;
  if (site & GST_VIDEO_CHROMA_SITE_V_COSITED)
    out |= CONVNEXT_CHROMA_SITE_V_COSITED;
  return out;
}

static void
set_latency (GstConvNextClassify *self, GstClockTime latency)
{
  GST_OBJECT_LOCK (self);
  self->latency = latency;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "latency %" GST_TIME_FORMAT, GST_TIME_ARGS (latency));
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

/* Sync: a frame leaves once classified, so the LATENCY query needs an inference time before
 * the first frame.  The first forward pass of a shape builds its oneDNN primitives; the
 * warm-up then times two more.  (Async adds no latency: its first request builds them on the
 * inference thread while the frames flow.)  FALSE after posting an error. */
static gboolean
warm_up (GstConvNextClassify *self, guint width, guint height)
{
  g_autoptr (GError) error = NULL;
  GstClockTime elapsed = 0;
  GstFlowReturn ret = gst_convnext_runner_warm_up (self->runner, 1, height, width, &elapsed,
      &error);

  if (ret == GST_FLOW_ERROR)
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message),
        ("frames give pixel_values of %ux%u", width, height));
  if (ret != GST_FLOW_OK) {
    self->pv_width = self->pv_height = 0;
    return FALSE;
  }
  self->pv_width = width;
  self->pv_height = height;
  set_latency (self, elapsed);
  return TRUE;
}

static gboolean
gst_convnext_classify_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (trans);
  g_autoptr (GError) error = NULL;
  GstVideoInfo info;
  ConvNextImage image = { 0 };
  guint i, width, height;

  if (!gst_video_info_from_caps (&info, incaps)) {
    GST_ERROR_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  for (i = 0; i < G_N_ELEMENTS (formats) && formats[i].gst != GST_VIDEO_INFO_FORMAT (&info); i++);
  if (i == G_N_ELEMENTS (formats)) {
    GST_ERROR_OBJECT (self, "unsupported format %s", GST_VIDEO_INFO_NAME (&info));
    return FALSE;
  }
  image.format = formats[i].convnext;
  image.width = GST_VIDEO_INFO_WIDTH (&info);
  image.height = GST_VIDEO_INFO_HEIGHT (&info);
  image.matrix = color_matrix (info.colorimetry.matrix);
  image.full_range = info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
  image.chroma_site = chroma_site (info.chroma_site);

  convnext_preprocessor_get_output_size (self->pre, image.width, image.height, &width, &height);
  if (!self->async && (width != self->pv_width || height != self->pv_height)
      && !warm_up (self, width, height))
    return FALSE;
  self->pv_width = width;
  self->pv_height = height;

  self->info = info;
  self->image = image;
  /* A new stream format: the next frame is classified, whatever the interval. */
  self->frames_to_skip = 0;
  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_DEBUG) {
    g_autofree gchar *colorimetry = gst_video_colorimetry_to_string (&info.colorimetry);
    GST_DEBUG_OBJECT (self, "%s %ux%u (%s) → pixel_values [1, 3, %u, %u]",
        GST_VIDEO_INFO_NAME (&info), image.width, image.height, colorimetry, height, width);
  }
  return TRUE;

}

static gboolean
gst_convnext_classify_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (trans);
  GstClockTime min, max, ours;
  gboolean live;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY || direction != GST_PAD_SRC)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);

  /* Sync: upstream's latency plus one inference, as a frame leaves only once it is
   * classified.  Async: upstream's, as frames leave at once. */
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query))
    return FALSE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (self);
  ours = self->async ? 0 : self->latency;
  self->live = live;
  GST_OBJECT_UNLOCK (self);
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += ours;
  gst_query_set_latency (query, live, min, max);
  GST_DEBUG_OBJECT (self, "latency: live %d, min %" GST_TIME_FORMAT ", max %" GST_TIME_FORMAT,
      live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
  return TRUE;
}

static gboolean
gst_convnext_classify_src_event (GstBaseTransform *trans, GstEvent *event)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_QOS:{
      gdouble proportion;
      GstClockTimeDiff diff;
      GstClockTime timestamp;

      /* The runner decides what a late frame skips (its inference, not the frame), so
       * GstBaseTransform's handler, which would make it drop late frames whole, never sees the
       * event; upstream still does. */
      gst_event_parse_qos (event, NULL, &proportion, &diff, &timestamp);
      gst_convnext_runner_qos_event (self->runner, proportion, diff, timestamp);
      return gst_pad_push_event (trans->sinkpad, event);
    }
    case GST_EVENT_LATENCY:{
      GstClockTime latency;
      gboolean live;

      gst_event_parse_latency (event, &latency);
      GST_OBJECT_LOCK (self);
      live = self->live;
      GST_OBJECT_UNLOCK (self);
      gst_convnext_runner_set_latency (self->runner, live, latency);
      break;
    }
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->src_event (trans, event);
}

static GstFlowReturn collect_results (GstConvNextClassify *self, gdouble threshold,
    gboolean post_messages);

static gboolean
gst_convnext_classify_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      /* Not serialised: the streaming thread may be waiting for an inference; wake it. */
      gst_convnext_runner_set_flushing (self->runner, TRUE);
      break;
    case GST_EVENT_FLUSH_STOP:
      gst_convnext_runner_set_flushing (self->runner, FALSE);
      /* After a flush (seek) the cached result is from another place in the stream. */
      self->frames_to_skip = 0;
      self->have_result = FALSE;
      gst_convnext_regions_reset (self->regions);
      break;
    case GST_EVENT_EOS:
      /* Async: the last results are still being computed; wait for them (see the doc). */
      if (self->async) {
        g_autoptr (GError) error = NULL;
        GstFlowReturn ret = gst_convnext_runner_drain (self->runner, &error);
        gdouble threshold;
        gboolean post_messages;

        if (ret == GST_FLOW_ERROR) {
          GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message), (NULL));
          gst_event_unref (event);
          return FALSE;
        }
        GST_OBJECT_LOCK (self);
        threshold = self->threshold;
        post_messages = self->post_messages;
        GST_OBJECT_UNLOCK (self);
        collect_results (self, threshold, post_messages);
      }
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static GstStateChangeReturn
gst_convnext_classify_change_state (GstElement *element, GstStateChange transition)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (element);

  /* Before the pads deactivate (which waits for the streaming thread), wake a streaming
   * thread that waits for an inference; stop() then joins the inference thread. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_convnext_runner_set_flushing (self->runner, TRUE);
  /* roi-list: the objects of another run are not this one's. */
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    gst_convnext_regions_reset (self->regions);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

/* ------------------------------------------------------------------------------------------
 * Per frame
 * ------------------------------------------------------------------------------------------ */

/* A request holding @buf's pixel_values, tagged with its frame number, or NULL after posting
 * an error. */
static GstConvNextRequest *
preprocess (GstConvNextClassify *self, GstBuffer *buf, guint top_k)
{
  g_autoptr (GError) error = NULL;
  ConvNextImage image = self->image;
  GstConvNextRequest *req;
  GstVideoFrame frame;
  gint64 start;
  gboolean ok;

  if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map the video frame"),
        ("buffer of %" G_GSIZE_FORMAT " bytes, caps expect %" G_GSIZE_FORMAT,
            gst_buffer_get_size (buf), GST_VIDEO_INFO_SIZE (&self->info)));
    return NULL;
  }
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    image.data[p] = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    image.stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }
  req = gst_convnext_runner_acquire (self->runner, 1, self->pv_height, self->pv_width);
  start = g_get_monotonic_time ();
  ok = convnext_preprocessor_process (self->pre, &image, NULL, req->pixel_values, &error);
  req->preprocess_time = (g_get_monotonic_time () - start) * GST_USECOND;
  gst_video_frame_unmap (&frame);
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message), (NULL));
    gst_convnext_runner_release (self->runner, req);
    return NULL;
  }
  req->top_k = top_k;
  req->items[0].tag = (GstConvNextTag) { .frame_number = self->frame_count,
    .pts = GST_BUFFER_PTS (buf), .duration = GST_BUFFER_DURATION (buf), .roi_id = -1,
    .od_id = -1 };
  return req;
}

/* Makes @req's result the latest one (keeping the entries scoring at least @threshold),
 * posts its message if asked, and gives @req back. */
static void
take_result (GstConvNextClassify *self, GstConvNextRequest *req, gdouble threshold,
    gboolean post_messages)
{
  const GstConvNextItem *item = &req->items[0];

  /* With k ≥ 1 and a classifier, no class at all means non-finite logits: the network
   * overflowed float32 on this frame (the library refuses NaN/Inf weights and inputs).  The
   * frames still leave, with an empty result as when nothing passes the threshold, so no NaN
   * score reaches a meta or message; one warning per run of such results says why. */
  if (item->n_classes == 0 && req->top_k > 0 && !self->warned_not_finite)
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Model %s gave logits that are not finite "
            "(NaN or infinity) on frame %" G_GUINT64_FORMAT ": the frame carries no classes.",
            convnext_model_get_name (self->model), item->tag.frame_number),
        ("the network overflowed float32 on this input; warned once until a frame gives a "
            "finite result"));
  self->warned_not_finite = item->n_classes == 0;

  gst_convnext_result_set (self->result, item->classes, item->n_classes, threshold,
      item->tag.frame_number, item->tag.pts, item->tag.duration, req->inference_time);
  self->have_result = TRUE;
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %s (%.3f) in %.2f ms",
      item->tag.frame_number, item->n_classes > 0 ? item->classes[0].label : "-",
      item->n_classes > 0 ? item->classes[0].score : 0.f, req->inference_time / 1e6);
  gst_convnext_runner_release (self->runner, req);
  if (post_messages)
    gst_element_post_message (GST_ELEMENT (self), gst_convnext_result_new_message (self->result,
            GST_OBJECT (self), &GST_BASE_TRANSFORM (self)->segment));
}

/* Async: takes the results finished since the last frame, oldest first. */
static void take_region_results (GstConvNextClassify *self, GstConvNextRequest *req,
    gdouble threshold, gboolean post_messages);

static GstFlowReturn
collect_results (GstConvNextClassify *self, gdouble threshold, gboolean post_messages)
{
  GstConvNextRequest *req;

  while ((req = gst_convnext_runner_pop_finished (self->runner))) {
    if (req->n_items > 0 && req->items[0].tag.is_region)
      take_region_results (self, req, threshold, post_messages);
    else
      take_result (self, req, threshold, post_messages);
  }
  return GST_FLOW_OK;
}

/* Sync, with qos=true: TRUE if @buf is late and skips its inference (a QoS message says so). */
static gboolean
skip_for_qos (GstConvNextClassify *self, GstBuffer *buf)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstClockTime pts = GST_BUFFER_PTS (buf);
  GstClockTime running_time, stream_time, now = GST_CLOCK_TIME_NONE;
  GstClock *clock = NULL;
  GstConvNextQos qos;
  GstMessage *msg;
  gboolean live;

  /* Without any result yet, a late frame is still better classified than left bare. */
  if (!gst_base_transform_is_qos_enabled (trans) || !self->have_result
      || trans->segment.format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID (pts))
    return FALSE;
  running_time = gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, pts);
  GST_OBJECT_LOCK (self);
  if (GST_STATE (self) == GST_STATE_PLAYING && GST_ELEMENT_CLOCK (self) != NULL)
    clock = gst_object_ref (GST_ELEMENT_CLOCK (self));
  live = self->live;
  GST_OBJECT_UNLOCK (self);
  if (clock != NULL) {
    now = GST_CLOCK_DIFF (gst_element_get_base_time (GST_ELEMENT (self)),
        gst_clock_get_time (clock));
    gst_object_unref (clock);
  }
  if (!gst_convnext_runner_qos_skip (self->runner, running_time, now, &qos))
    return FALSE;

  GST_DEBUG_OBJECT (self, "frame %" G_GUINT64_FORMAT " late by %" GST_STIME_FORMAT
      ": inference skipped", self->frame_count, GST_STIME_ARGS (qos.jitter));
  stream_time = gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, pts);
  msg = gst_message_new_qos (GST_OBJECT (self), live, running_time, stream_time, pts,
      GST_BUFFER_DURATION (buf));
  gst_message_set_qos_values (msg, qos.jitter, qos.proportion,
      (gint) gst_util_uint64_scale (1000000, qos.processed, qos.processed + qos.dropped));
  gst_message_set_qos_stats (msg, GST_FORMAT_BUFFERS, qos.processed, qos.dropped);
  gst_element_post_message (GST_ELEMENT (self), msg);
  return TRUE;
}

/* Classifies @buf: sync, waiting for the result; async, handing it to the inference thread. */
static GstFlowReturn
classify (GstConvNextClassify *self, GstBuffer *buf, guint top_k, gdouble threshold,
    gboolean post_messages)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  GstConvNextRequest *req = preprocess (self, buf, top_k);
  GstClockTime elapsed;
  GstFlowReturn ret;

  if (req == NULL)
    return GST_FLOW_ERROR;
  if (self->async)
    ret = gst_convnext_runner_submit (self->runner, req, &error);
  else
    ret = gst_convnext_runner_run (self->runner, req, &error);
  if (ret == GST_FLOW_ERROR)
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message), (NULL));
  if (ret != GST_FLOW_OK || self->async)
    return ret;

  /* The frame waited this long: the latency we report must cover it. */
  elapsed = (g_get_monotonic_time () - start) * GST_USECOND;
  take_result (self, req, threshold, post_messages);
  if (elapsed > self->latency * LATENCY_GROWTH)
    set_latency (self, elapsed);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------------------------------------
 * inference-region=roi-list
 * ------------------------------------------------------------------------------------------ */

/* Room for @n objects of this frame and their fresh classes. */
static void
ensure_objects (GstConvNextClassify *self, guint n)
{
  g_array_set_size (self->objects, n);
  if (n > self->n_objects_room) {
    g_free (self->object_classes);
    self->object_classes = g_new0 (GstConvNextClass, (gsize) n * MAX (self->num_labels, 1));
    self->n_objects_room = n;
  }
}

/* The object of @item (a region's result) for the cache, its classes in @classes. */
static GstConvNextObject
item_object (const GstConvNextItem *item, GstConvNextClass *classes, guint max_classes,
    gdouble threshold)
{
  const GstConvNextTag *t = &item->tag;
  GstConvNextObject o = { t->roi_id, t->od_id, t->has_key, t->key, (gint) t->box.x,
    (gint) t->box.y, t->box.width, t->box.height, t->frame_number, 0, classes };

  gst_convnext_object_set_classes (&o, max_classes, item->classes, item->n_classes, threshold);
  return o;
}

/* Async: stores a finished request's results under their objects' tracking keys (results
 * of regions without a key cannot be matched to a later frame and are dropped) and posts
 * them, if asked, as the objects message of the frame they were computed on. */
static void
take_region_results (GstConvNextClassify *self, GstConvNextRequest *req, gdouble threshold,
    gboolean post_messages)
{
  guint n_labels = MAX (self->num_labels, 1);
  GstConvNextClass *classes = g_new (GstConvNextClass, (gsize) req->n_items * n_labels);
  GstConvNextObject *objects = g_new (GstConvNextObject, req->n_items);
  const GstConvNextTag *tag = &req->items[0].tag;

  for (guint i = 0; i < req->n_items; i++) {
    GstConvNextObject *o = &objects[i];

    *o = item_object (&req->items[i], classes + (gsize) i * n_labels, self->num_labels,
        threshold);
    gst_convnext_regions_store (self->regions, o->has_tracking_id, o->tracking_id, o);
  }
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %u regions in %.2f ms",
      tag->frame_number, req->n_items, req->inference_time / 1e6);
  if (post_messages)
    gst_element_post_message (GST_ELEMENT (self), gst_convnext_result_new_objects_message (
            objects, req->n_items, convnext_model_get_name (self->model), GST_OBJECT (self),
            &GST_BASE_TRANSFORM (self)->segment, tag->frame_number, tag->pts, tag->duration,
            req->inference_time));
  g_free (objects);
  g_free (classes);
  gst_convnext_runner_release (self->runner, req);
}

/* Preprocesses @n regions (same pixel_values size @w × @h) of the mapped frame into a new
 * request, or NULL after posting an error. */
static GstConvNextRequest *
preprocess_regions (GstConvNextClassify *self, const ConvNextImage *image, GstBuffer *buf,
    GstConvNextRegion **batch, guint n, guint w, guint h, guint top_k)
{
  g_autoptr (GError) error = NULL;
  GstConvNextRequest *req = gst_convnext_runner_acquire (self->runner, n, h, w);
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++) {
    const GstConvNextRegion *r = batch[i];

    if (!convnext_preprocessor_process (self->pre, image, &r->box,
            req->pixel_values + (gsize) i * 3 * w * h, &error)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message),
          ("region %u,%u %ux%u (ROI id %d)", r->box.x, r->box.y, r->box.width, r->box.height,
              r->roi_id));
      gst_convnext_runner_release (self->runner, req);
      return NULL;
    }
    req->items[i].tag = (GstConvNextTag) { self->frame_count, GST_BUFFER_PTS (buf),
      GST_BUFFER_DURATION (buf), TRUE, r->roi_id, r->od_id, r->has_key, r->key, r->box };
  }
  req->preprocess_time = (g_get_monotonic_time () - start) * GST_USECOND;
  req->top_k = top_k;
  return req;
}

/* Classifies the due regions of @buf: sync, all of them, in batches of up to @batch_size
 * regions of one pixel_values size; async, the first such batch (the others stay due).
 * Fresh results go to @objects (the frame's, indexed like @regions) and the cache. */
static GstFlowReturn
classify_regions (GstConvNextClassify *self, GstBuffer *buf, GstConvNextRegion *regions,
    guint n_regions, guint top_k, gdouble threshold, guint batch_size,
    GstClockTime *inference_time, gboolean *classified)
{
  GstConvNextRegion **batch = g_newa (GstConvNextRegion *, MAX (n_regions, 1));
  guint *index = g_newa (guint, MAX (n_regions, 1));
  gboolean *done = g_newa (gboolean, MAX (n_regions, 1));
  ConvNextImage image = self->image;
  GstFlowReturn ret = GST_FLOW_OK;
  GstVideoFrame frame;

  *classified = FALSE;
  *inference_time = 0;
  for (guint i = 0; i < n_regions; i++)
    done[i] = !regions[i].due;
  if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map the video frame"), (NULL));
    return GST_FLOW_ERROR;
  }
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    image.data[p] = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    image.stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }

  for (guint first = 0; first < n_regions && ret == GST_FLOW_OK; first++) {
    g_autoptr (GError) error = NULL;
    GstConvNextRequest *req;
    guint w, h, n = 0;

    if (done[first])
      continue;
    /* A checkpoint that resizes gives every region one size; one that does not batches
     * the regions of equal size together. */
    convnext_preprocessor_get_output_size (self->pre, regions[first].box.width,
        regions[first].box.height, &w, &h);
    for (guint i = first; i < n_regions && n < batch_size; i++) {
      guint wi, hi;

      if (done[i])
        continue;
      convnext_preprocessor_get_output_size (self->pre, regions[i].box.width,
          regions[i].box.height, &wi, &hi);
      if (wi != w || hi != h)
        continue;
      done[i] = TRUE;
      index[n] = i;
      batch[n++] = &regions[i];
    }
    req = preprocess_regions (self, &image, buf, batch, n, w, h, top_k);
    if (req == NULL) {
      ret = GST_FLOW_ERROR;
      break;
    }
    for (guint i = 0; i < n; i++)
      gst_convnext_regions_mark_requested (self->regions, batch[i], self->frame_count);
    if (self->async) {
      ret = gst_convnext_runner_submit (self->runner, req, &error);
      if (ret == GST_FLOW_ERROR)
        GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message), (NULL));
      break;                    /* one request per frame: the slot holds one */
    }
    ret = gst_convnext_runner_run (self->runner, req, &error);
    if (ret == GST_FLOW_ERROR)
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", error->message), (NULL));
    if (ret == GST_FLOW_OK) {
      for (guint i = 0; i < n; i++) {
        GstConvNextObject *o = &g_array_index (self->objects, GstConvNextObject, index[i]);

        *o = item_object (&req->items[i], self->object_classes + (gsize) index[i] *
            self->num_labels, self->num_labels, threshold);
        gst_convnext_regions_store (self->regions, o->has_tracking_id, o->tracking_id, o);
      }
      *inference_time += req->inference_time;
      *classified = TRUE;
    }
    gst_convnext_runner_release (self->runner, req);
  }
  gst_video_frame_unmap (&frame);
  return ret;
}

/* roi-list: classifies the frame's selected objects that are due and attaches every
 * selected object's result (fresh or cached). */
static GstFlowReturn
transform_roi_list (GstConvNextClassify *self, GstBuffer *buf, guint top_k,
    gdouble threshold, gboolean post_messages)
{
  GstConvNextRegion *regions;
  guint n_regions, n_skipped, batch_size, n_out = 0;
  GstVideoRegionOfInterestMeta **rois;
  GstClockTime inference_time = 0;
  guint64 newest = 0;
  GstClockTime newest_pts = GST_CLOCK_TIME_NONE;
  gboolean classified = FALSE;
  GstFlowReturn ret;

  GST_OBJECT_LOCK (self);
  if (self->selection_changed)
    gst_convnext_regions_set_selection (self->regions, self->object_class,
        self->object_min_width, self->object_min_height, self->reclassify_interval);
  self->selection_changed = FALSE;
  batch_size = self->batch_size;
  GST_OBJECT_UNLOCK (self);

  regions = gst_convnext_regions_gather (self->regions, buf, GST_VIDEO_INFO_WIDTH (&self->info),
      GST_VIDEO_INFO_HEIGHT (&self->info), self->frame_count, &n_regions, &n_skipped);
  if (n_skipped > 0)
    GST_DEBUG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %u regions skipped (empty, outside "
        "the frame or smaller than object-min-width × object-min-height)", self->frame_count,
        n_skipped);
  ensure_objects (self, n_regions);
  rois = g_newa (GstVideoRegionOfInterestMeta *, MAX (n_regions, 1));
  for (guint i = 0; i < n_regions; i++) {
    GstConvNextObject *o = &g_array_index (self->objects, GstConvNextObject, i);
    const GstConvNextRegion *r = &regions[i];

    *o = (GstConvNextObject) { r->roi_id, r->od_id, r->has_key, r->key, (gint) r->box.x,
      (gint) r->box.y, r->box.width, r->box.height, G_MAXUINT64, 0, NULL };
    if (!r->due && r->cached) {
      o->frame_number = r->cached->frame_number;
      o->n_classes = r->cached->n_classes;
      o->classes = r->cached->classes;
    }
  }
  ret = classify_regions (self, buf, regions, n_regions, top_k, threshold, batch_size,
      &inference_time, &classified);
  if (ret != GST_FLOW_OK)
    return ret;

  /* Objects with a result (not those waiting for their first one) go on the buffer. */
  for (guint i = 0; i < n_regions; i++) {
    GstConvNextObject *o = &g_array_index (self->objects, GstConvNextObject, i);

    if (o->frame_number == G_MAXUINT64) {
      const GstConvNextObject *c = o->has_tracking_id ? gst_convnext_regions_lookup
          (self->regions, o->tracking_id) : NULL;     /* async: computed on an older frame */
      if (c == NULL)
        continue;
      o->frame_number = c->frame_number;
      o->n_classes = c->n_classes;
      o->classes = c->classes;
    }
    if (o->frame_number >= newest) {
      newest = o->frame_number;
      newest_pts = o->frame_number == self->frame_count ? GST_BUFFER_PTS (buf) : newest_pts;
    }
    rois[n_out] = regions[i].roi;
    g_array_index (self->objects, GstConvNextObject, n_out++) = *o;
  }
  if (n_out == 0) {             /* no object: what the frame carries is this frame's */
    newest = self->frame_count;
    newest_pts = GST_BUFFER_PTS (buf);
  }
  gst_convnext_result_attach_objects (buf, GST_VIDEO_INFO_WIDTH (&self->info),
      GST_VIDEO_INFO_HEIGHT (&self->info), (GstConvNextObject *) self->objects->data, rois,
      n_out, convnext_model_get_name (self->model), newest, newest_pts, inference_time);
  if (post_messages && classified)
    gst_element_post_message (GST_ELEMENT (self), gst_convnext_result_new_objects_message (
            (GstConvNextObject *) self->objects->data, n_out,
            convnext_model_get_name (self->model), GST_OBJECT (self),
            &GST_BASE_TRANSFORM (self)->segment, self->frame_count, GST_BUFFER_PTS (buf),
            GST_BUFFER_DURATION (buf), inference_time));
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_convnext_classify_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (trans);
  GstFlowReturn ret = GST_FLOW_OK;
  guint top_k, interval;
  gdouble threshold;
  gboolean post_messages, roi_list;

  /* A gap has no picture to classify. */
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_GAP))
    return GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  top_k = self->top_k;
  threshold = self->threshold;
  interval = self->inference_interval;
  post_messages = self->post_messages;
  roi_list = self->inference_region == GST_CONVNEXT_INFERENCE_REGION_ROI_LIST;
  GST_OBJECT_UNLOCK (self);

  if (self->async)
    collect_results (self, threshold, post_messages);
  if (roi_list) {
    ret = transform_roi_list (self, buf, top_k, threshold, post_messages);
    self->frame_count++;
    return ret;
  }

  /* A lowered interval applies at once. */
  self->frames_to_skip = MIN (self->frames_to_skip, interval - 1);
  if (self->frames_to_skip > 0) {
    self->frames_to_skip--;
  } else if (self->async || !skip_for_qos (self, buf)) {
    ret = classify (self, buf, top_k, threshold, post_messages);
    self->frames_to_skip = interval - 1;
  }
  /* (A frame that skipped its inference for QoS leaves the next one due.) */

  if (ret == GST_FLOW_OK && self->have_result)
    gst_convnext_result_attach (self->result, buf, GST_VIDEO_INFO_WIDTH (&self->info),
        GST_VIDEO_INFO_HEIGHT (&self->info));
  self->frame_count++;
  return ret;
}

/* ------------------------------------------------------------------------------------------
 * GObject
 * ------------------------------------------------------------------------------------------ */

static void
gst_convnext_classify_finalize (GObject *object)
{
  GstConvNextClassify *self = GST_CONVNEXT_CLASSIFY (object);

  free_model (self);
  gst_convnext_runner_free (self->runner);
  gst_convnext_regions_free (self->regions);
  g_array_unref (self->objects);
  g_free (self->object_classes);
  g_free (self->object_class);
  g_free (self->model_dir);
  g_free (self->labels_file);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_convnext_classify_class_init (GstConvNextClassifyClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_convnext_classify_set_property;
  gobject_class->get_property = gst_convnext_classify_get_property;
  gobject_class->finalize = gst_convnext_classify_finalize;

  /**
   * GstConvNextClassify:model:
   *
   * A Hugging Face checkpoint directory of ConvNextForImageClassification or
   * ConvNextV2ForImageClassification: config.json, preprocessor_config.json and the weights,
   * the first of model.safetensors, model.safetensors.index.json (sharded), pytorch_model.bin
   * (torch.save's zip, read natively: a plain `git clone` of facebook/convnext-tiny-224
   * works) and pytorch_model.bin.index.json; tf_model.h5 is not read (see
   * convnext_model_new()).  Setting NULL selects the project's embedded CIFAR-10 model
   * (environment variable CONVNEXT_DEFAULT_MODEL overrides its path).  Loaded at READY→PAUSED.
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Hugging Face ConvNeXt or ConvNeXt V2 checkpoint directory (config.json, "
          "preprocessor_config.json, model.safetensors or pytorch_model.bin, or their sharded "
          "*.index.json); loaded at READY→PAUSED",
          convnext_default_model_dir (),
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Number of best classes attached to each frame (at most the model's number of labels)",
          1, G_MAXINT, DEFAULT_TOP_K,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold",
          "Classes whose softmax score is below this are not attached (0 = keep all top-k)",
          0.0, 1.0, DEFAULT_THRESHOLD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_INTERVAL,
      g_param_spec_uint ("inference-interval", "Inference interval",
          "Classify every Nth frame; the frames in between carry the latest result, whose "
          "frame-number says which frame it was computed on",
          1, G_MAXINT, DEFAULT_INFERENCE_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstConvNextClassify:threads:
   *
   * The OpenMP team of the element's inference thread.  N ≥ 1: exactly N threads.  0 (the
   * default, auto): the inference thread keeps two teams, one thread and all cores, starts on
   * one thread, runs the one whose recent forward passes were faster and tries the other now
   * and then (every 32 to 512 passes; on a loaded machine a try of all cores costs one slow
   * pass).  With the cores to itself all cores are fastest; when other processes
   * compete for them, GNU OpenMP's spinning threads make a multi-thread team many times
   * slower than one thread (measurements: README, "Threads on a shared machine").
   * Set at READY→PAUSED.
   */
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_uint ("threads", "Threads",
          "OpenMP threads of the inference thread (0 = auto: all cores or one, whichever is "
          "faster on the machine's current load, measured while running)", 0, 1024,
          DEFAULT_THREADS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LABELS_FILE,
      g_param_spec_string ("labels-file", "Labels file",
          "Text file with one label per line, in class order, replacing config.json's id2label "
          "(the line count must equal the number of classes)",
          DEFAULT_LABELS_FILE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post a \"convnext-classification\" element message on the bus for each classified "
          "frame (timestamp, stream-time, running-time, duration, frame-number, "
          "inference-time, model-name, labels, class-ids, scores)",
          DEFAULT_POST_MESSAGES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Inference precision", GST_TYPE_CONVNEXT_PRECISION, DEFAULT_PRECISION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstConvNextClassify:async-inference:
   *
   * FALSE: a frame leaves once it is classified (see qos for live streams).  TRUE: frames
   * leave at once carrying the latest finished result while the inference thread works on
   * the newest frame; the element adds no latency (see the element's documentation).
   * Set at READY→PAUSED.
   */
  /**
   * GstConvNextClassify:share-model:
   *
   * TRUE (the default): instances of the process that load the same checkpoint (same files
   * on disk, by device/inode/size/mtime) with the same precision share one loaded model —
   * weights once, each instance with its own activations (gstconvnextmodelcache.h).
   * FALSE: this instance loads a private copy.  Needed to measure what sharing saves (the
   * benchmark's unshared rows) and for a user who wants an instance's model isolated from
   * the others (no name is needed to share: the checkpoint identity is the key, so DL
   * Streamer's model-instance-id is not added).  Read at start.
   */
  g_object_class_install_property (gobject_class, PROP_SHARE_MODEL,
      g_param_spec_boolean ("share-model", "Share model",
          "Share the loaded model with the process's other instances that load the same "
          "checkpoint with the same precision (FALSE: a private copy); read at start",
          DEFAULT_SHARE_MODEL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_ASYNC_INFERENCE,
      g_param_spec_boolean ("async-inference", "Async inference",
          "Never wait for the network: frames leave at once with the latest finished result "
          "(whose frame-number and age say which frame it was computed on); the inference "
          "thread works on the newest frame", DEFAULT_ASYNC_INFERENCE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstConvNextClassify:inference-region:
   *
   * full-frame (the default): the whole frame is classified.  roi-list: each region a
   * detector attached is classified instead — every GstVideoRegionOfInterestMeta (except a
   * "convnext" full-frame one) and, built with GstAnalytics (GStreamer >= 1.24), every
   * GstAnalyticsODMtd no ROI meta already describes.  A region is cropped from the frame
   * (clipped to it) and preprocessed exactly as ConvNextImageProcessor would preprocess that
   * crop saved as an image; empty regions and those outside the frame are skipped (counted
   * in the DEBUG log).  Each object's result goes on the buffer as: a "classification"
   * param on its ROI meta (DL Streamer's fields, as in full-frame mode); an entry in
   * GstConvNextClassificationMeta's objects (ROI id, OD id, tracking id, box, frame it was
   * classified on, top-k; the frame-level classes are empty); on >= 1.24 a GstAnalyticsClsMtd
   * related to its ODMtd (OD -CONTAIN|RELATE_TO-> Cls, Cls -IS_PART_OF-> OD); with
   * post-messages, an "objects" array in the bus message of each frame on which objects were
   * classified.  inference-interval and qos do not apply in this mode (reclassify-interval
   * does); with async-inference, results are matched to later frames by tracking key only.
   * Can be changed at any time.
   */
  g_object_class_install_property (gobject_class, PROP_INFERENCE_REGION,
      g_param_spec_enum ("inference-region", "Inference region",
          "What is classified: the whole frame, or each region of interest a detector "
          "attached (GstVideoRegionOfInterestMeta; GstAnalyticsODMtd on GStreamer >= 1.24)",
          GST_TYPE_CONVNEXT_INFERENCE_REGION, DEFAULT_INFERENCE_REGION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstConvNextClassify:object-class:
   *
   * roi-list: a comma-separated list of the region types (ROI meta roi_type, ODMtd label)
   * to classify, e.g. "face" or "car,truck"; NULL or empty (the default) = all.
   */
  g_object_class_install_property (gobject_class, PROP_OBJECT_CLASS,
      g_param_spec_string ("object-class", "Object class",
          "roi-list: comma-separated region types/labels to classify (empty = all)",
          DEFAULT_OBJECT_CLASS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_OBJECT_MIN_WIDTH,
      g_param_spec_uint ("object-min-width", "Object minimum width",
          "roi-list: regions narrower than this (in frame pixels, after clipping to the "
          "frame) are skipped (0 = no minimum)", 0, G_MAXINT, DEFAULT_OBJECT_MIN_WIDTH,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_OBJECT_MIN_HEIGHT,
      g_param_spec_uint ("object-min-height", "Object minimum height",
          "roi-list: regions lower than this (in frame pixels, after clipping to the frame) "
          "are skipped (0 = no minimum)", 0, G_MAXINT, DEFAULT_OBJECT_MIN_HEIGHT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstConvNextClassify:reclassify-interval:
   *
   * roi-list: how often an object is classified again, keyed by its tracking id: on
   * GStreamer >= 1.24 the id of the GstAnalyticsTrackingMtd related to its ODMtd, else its
   * ROI meta's id field as the detector or tracker set it.  0 = once, 1 (the default) = every
   * frame, N = every Nth frame; the frames in between carry the cached result (its
   * frame_number says which frame it came from).  An object unseen for 64 frames is
   * forgotten.  Two regions of one frame sharing a key are classified every frame and not
   * cached (a detector that gives every region id 0, as facedetect does, is served right
   * only with 1).  Trade-off: N divides the cost per object by N, and a result can be up to
   * N - 1 frames old.
   */
  g_object_class_install_property (gobject_class, PROP_RECLASSIFY_INTERVAL,
      g_param_spec_uint ("reclassify-interval", "Reclassify interval",
          "roi-list: classify a tracked object again every Nth frame (0 = only once, 1 = "
          "every frame); the frames in between carry its cached result", 0, G_MAXINT,
          DEFAULT_RECLASSIFY_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstConvNextClassify:batch-size:
   *
   * roi-list: at most this many regions go through one forward call (a frame with more
   * makes several calls; sync only — async submits one batch per frame and the rest stay
   * due for the next frames).  Larger batches cost less per region (see the benchmark's
   * roi rows) but the whole batch waits for its slowest part.  1..256, default 8.
   */
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size",
          "roi-list: most regions per forward call", 1, MAX_BATCH_SIZE, DEFAULT_BATCH_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_set_static_metadata (element_class, "ConvNeXt classifier",
      "Filter/Analyzer/Video",
      "Classifies video frames with a Hugging Face ConvNeXt checkpoint and attaches the top-k "
      "classes as " GST_CONVNEXT_RESULT_METAS,
      "convnext project");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_convnext_classify_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_convnext_classify_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_convnext_classify_set_caps);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_convnext_classify_query);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_convnext_classify_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_convnext_classify_src_event);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_convnext_classify_change_state);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_convnext_classify_transform_ip);

  gst_type_mark_as_plugin_api (GST_TYPE_CONVNEXT_PRECISION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_CONVNEXT_INFERENCE_REGION, 0);
}

static void
gst_convnext_classify_init (GstConvNextClassify *self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);

  self->top_k = DEFAULT_TOP_K;
  self->threshold = DEFAULT_THRESHOLD;
  self->inference_interval = DEFAULT_INFERENCE_INTERVAL;
  self->threads = DEFAULT_THREADS;
  self->labels_file = g_strdup (DEFAULT_LABELS_FILE);
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->precision = DEFAULT_PRECISION;
  self->async_inference = DEFAULT_ASYNC_INFERENCE;
  self->inference_region = DEFAULT_INFERENCE_REGION;
  self->object_class = g_strdup (DEFAULT_OBJECT_CLASS);
  self->object_min_width = DEFAULT_OBJECT_MIN_WIDTH;
  self->object_min_height = DEFAULT_OBJECT_MIN_HEIGHT;
  self->reclassify_interval = DEFAULT_RECLASSIFY_INTERVAL;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->selection_changed = TRUE;
  self->share_model = DEFAULT_SHARE_MODEL;
  self->runner = gst_convnext_runner_new ();
  self->regions = gst_convnext_regions_new ();
  self->objects = g_array_new (FALSE, TRUE, sizeof (GstConvNextObject));
  gst_video_info_init (&self->info);

  /* In place, never passthrough: transform_ip must run to attach the metadata.  QoS is off
   * by default (every frame classified); qos=true skips inferences, never frames (src_event
   * keeps GstBaseTransform from dropping them). */
  gst_base_transform_set_in_place (trans, TRUE);
  gst_base_transform_set_qos_enabled (trans, FALSE);
}
