/* convnext-element-bench: what convnextclassify costs per frame beyond the library calls it wraps.
 *
 *   convnext-element-bench --model DIR [--frames N] [--threads T] [--precision f32|bf16]
 *
 * Makes a few 1920x1080 I420 frames with videotestsrc and pushes N of them (after 2 warm-up
 * frames) through  appsrc ! convnextclassify ! appsink.  Per frame it takes:
 *   - the element's time, from its sink pad to its src pad (pad probes: a passthrough transform
 *     runs both in the streaming thread);
 *   - the time of the same library calls made directly on the same frame:
 *     convnext_preprocessor_process() + convnext_model_forward() + convnext_model_top_k(), with
 *     the benchmark's own model and preprocessor.
 * The direct calls run in the same streaming thread, just before the frame enters the element
 * on even frames and just after it leaves on odd ones: the same thread means the same OpenMP
 * team for oneDNN (a second calling thread would get a second team, whose spinning workers
 * would slow the other), and alternating the order cancels cache and ordering effects.  The
 * per-frame difference cancels most of the load of other processes on a shared machine.
 * Wall time and the process's CPU time (all threads) are both taken.  A paired difference is
 * reported as the mean of its medians over the two orders ("direct_first", "element_first"):
 * whatever runs first after the thread wakes up may find colder caches, and the mean of the
 * two halves is fair to both.
 *
 * Prints one JSON line.  When the element or the library cannot run (not built yet, fails to
 * start) it prints {"status": "n/a", "reason": …} and exits 0 so that the benchmark goes on;
 * bad arguments exit 1.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "convnext.h"
#include "gstconvnextmeta.h"

#define N_SOURCE_FRAMES 4
#define N_WARMUP 2
#define PULL_TIMEOUT (120 * GST_SECOND)
#define PULL_SLICE (100 * GST_MSECOND)

/* One frame's measurements, in ms. */
typedef struct {
  double element, element_cpu, meta_inference;  /* convnextclassify, sink pad → src pad */
  double preprocess, forward, direct_cpu;       /* the library calls made directly */
} FrameTimes;

typedef struct {
  /* the source frames (pushed as shallow copies: no pixel copy) */
  GstBuffer *frames[N_SOURCE_FRAMES];
  GstCaps *caps;
  GstVideoInfo info;

  GstElement *pipeline, *appsrc, *appsink;

  /* the direct path */
  ConvNextModel *model;
  ConvNextPreprocessor *pre;
  guint out_w, out_h;
  float *pixel_values, *logits;

  /* the frame in flight: set by the main thread before the push, filled in by the streaming
   * thread, read by the main thread once the frame has reached the appsink */
  guint index;
  gboolean direct_first;
  double t_in, c_in;            /* ms: wall and process CPU time at the sink pad */
  gboolean seen_in, seen_out;
  FrameTimes *times;
  GError *direct_error;
} Bench;

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1e3;
}

/* CPU time of the whole process (every thread, oneDNN's workers included), in ms. */
static double
cpu_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
print_na (const char *reason)
{
  g_autofree char *escaped = g_strescape (reason, NULL);
  g_print ("{\"status\": \"n/a\", \"reason\": \"%s\"}\n", escaped);
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median_of (const double *values, guint n)
{
  g_autofree double *s = g_memdup2 (values, n * sizeof (double));
  qsort (s, n, sizeof (double), compare_doubles);
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double
min_of (const double *values, guint n)
{
  double m = INFINITY;
  for (guint i = 0; i < n; i++)
    m = MIN (m, values[i]);
  return m;
}

static gboolean
make_frames (Bench *b, GError **error)
{
  g_autoptr (GstElement) pipeline = gst_parse_launch ("videotestsrc pattern=smpte "
      "horizontal-speed=32 num-buffers=" G_STRINGIFY (N_SOURCE_FRAMES) " ! "
      "video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 ! "
      "appsink name=sink sync=false", error);
  if (!pipeline)
    return FALSE;
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (guint i = 0; i < N_SOURCE_FRAMES; i++) {
    g_autoptr (GstSample) sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    if (!sample) {
      gst_element_set_state (pipeline, GST_STATE_NULL);
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "videotestsrc gave no frame");
      return FALSE;
    }
    b->frames[i] = gst_buffer_ref (gst_sample_get_buffer (sample));
    if (!b->caps) {
      b->caps = gst_caps_ref (gst_sample_get_caps (sample));
      gst_video_info_from_caps (&b->info, b->caps);
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return TRUE;
}

/* ---- the direct path ------------------------------------------------------------------- */

static gboolean
start_direct (Bench *b, const char *model_dir, guint threads, const char *precision,
    GError **error)
{
  ConvNextParams params;
  convnext_params_init (&params);
  params.n_threads = threads;
  params.precision = strcmp (precision, "bf16") == 0 ? CONVNEXT_PRECISION_BF16 :
      CONVNEXT_PRECISION_F32;
  b->model = convnext_model_new (model_dir, &params, error);
  if (!b->model)
    return FALSE;
  b->pre = convnext_preprocessor_new (model_dir, error);
  if (!b->pre)
    return FALSE;
  convnext_preprocessor_get_output_size (b->pre, GST_VIDEO_INFO_WIDTH (&b->info),
      GST_VIDEO_INFO_HEIGHT (&b->info), &b->out_w, &b->out_h);
  b->pixel_values = g_new0 (float, (gsize) convnext_model_get_num_channels (b->model) *
      b->out_w * b->out_h);
  b->logits = g_new0 (float, MAX (1, convnext_model_get_num_labels (b->model)));
  return TRUE;
}

static ConvNextColorMatrix
color_matrix (const GstVideoInfo *info)
{
  switch (GST_VIDEO_INFO_COLORIMETRY (info).matrix) {
    case GST_VIDEO_COLOR_MATRIX_BT709:
      return CONVNEXT_COLOR_MATRIX_BT709;
    case GST_VIDEO_COLOR_MATRIX_BT2020:
      return CONVNEXT_COLOR_MATRIX_BT2020;
    default:
      return CONVNEXT_COLOR_MATRIX_BT601;
  }
}

/* The library calls the element makes, on the frame in flight (its source frame: same pixels,
 * same memory).  Runs in the streaming thread; a failure is kept for the main thread. */
static void
direct_frame (Bench *b)
{
  FrameTimes *t = b->times;
  GstVideoFrame frame;
  if (b->direct_error)
    return;
  if (!gst_video_frame_map (&frame, &b->info, b->frames[b->index % N_SOURCE_FRAMES],
          GST_MAP_READ)) {
    g_set_error (&b->direct_error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
        "could not map the frame");
    return;
  }
  ConvNextImage image = {
    .format = CONVNEXT_PIXEL_FORMAT_I420,
    .width = GST_VIDEO_FRAME_WIDTH (&frame),
    .height = GST_VIDEO_FRAME_HEIGHT (&frame),
    .matrix = color_matrix (&b->info),
    .full_range = GST_VIDEO_INFO_COLORIMETRY (&b->info).range == GST_VIDEO_COLOR_RANGE_0_255,
  };
  for (guint p = 0; p < 3; p++) {
    image.data[p] = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    image.stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }
  ConvNextClass top[5];
  double c0 = cpu_ms (), t0 = now_ms ();
  gboolean ok = convnext_preprocessor_process (b->pre, &image, NULL, b->pixel_values,
      &b->direct_error);
  double t1 = now_ms ();
  ok = ok && convnext_model_forward (b->model, b->pixel_values, 1, b->out_h, b->out_w,
      b->logits, NULL, &b->direct_error);
  if (ok)
    convnext_model_top_k (b->model, b->logits, G_N_ELEMENTS (top), top);
  double t2 = now_ms (), c2 = cpu_ms ();
  gst_video_frame_unmap (&frame);
  t->preprocess = t1 - t0;
  t->forward = t2 - t1;
  t->direct_cpu = c2 - c0;
}

/* ---- the element path ------------------------------------------------------------------ */

static GstPadProbeReturn
on_sink_pad (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Bench *b = user_data;
  if (b->direct_first)
    direct_frame (b);
  b->seen_in = TRUE;
  b->c_in = cpu_ms ();
  b->t_in = now_ms ();
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_src_pad (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Bench *b = user_data;
  double t_out = now_ms (), c_out = cpu_ms ();
  GstConvNextClassificationMeta *meta =
      gst_buffer_get_convnext_classification_meta (GST_PAD_PROBE_INFO_BUFFER (info));
  b->seen_out = TRUE;
  b->times->element = t_out - b->t_in;
  b->times->element_cpu = c_out - b->c_in;
  b->times->meta_inference = meta ? meta->inference_time / 1e6 : NAN;
  if (!b->direct_first)
    direct_frame (b);
  return GST_PAD_PROBE_OK;
}

/* The first error message on the pipeline's bus (other messages are dropped), else NULL. */
static char *
bus_error (Bench *b)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (b->pipeline);
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (!msg)
    return NULL;
  g_autoptr (GError) err = NULL;
  gst_message_parse_error (msg, &err, NULL);
  return g_strdup_printf ("%s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
}

static char *
pipeline_error (Bench *b, const char *fallback)
{
  char *error = bus_error (b);
  return error ? error : g_strdup (fallback);
}

static gboolean
start_element (Bench *b, const char *model_dir, guint threads, const char *precision,
    char **reason)
{
  g_autoptr (GstElementFactory) factory = gst_element_factory_find ("convnextclassify");
  if (!factory) {
    *reason = g_strdup_printf ("no convnextclassify element (GST_PLUGIN_PATH=%s)",
        g_getenv ("GST_PLUGIN_PATH") ? g_getenv ("GST_PLUGIN_PATH") : "");
    return FALSE;
  }
  GstElement *cls = gst_element_factory_create (factory, "cls");
  if (!cls) {
    *reason = g_strdup ("convnextclassify could not be created");
    return FALSE;
  }
  g_object_set (cls, "model", model_dir, NULL);
  g_autofree char *threads_str = g_strdup_printf ("%u", threads);
  gst_util_set_object_arg (G_OBJECT (cls), "threads", threads_str);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (cls), "precision"))
    gst_util_set_object_arg (G_OBJECT (cls), "precision", precision);
  else if (strcmp (precision, "f32") != 0) {
    gst_object_unref (gst_object_ref_sink (cls));
    *reason = g_strdup ("convnextclassify has no precision property");
    return FALSE;
  }

  b->pipeline = gst_pipeline_new ("bench");
  b->appsrc = gst_element_factory_make ("appsrc", NULL);
  b->appsink = gst_element_factory_make ("appsink", NULL);
  g_object_set (b->appsrc, "caps", b->caps, "format", GST_FORMAT_TIME, NULL);
  g_object_set (b->appsink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (b->pipeline), b->appsrc, cls, b->appsink, NULL);
  if (!gst_element_link_many (b->appsrc, cls, b->appsink, NULL)) {
    *reason = g_strdup ("could not link appsrc ! convnextclassify ! appsink");
    return FALSE;
  }
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (cls, "sink");
  g_autoptr (GstPad) srcpad = gst_element_get_static_pad (cls, "src");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, on_sink_pad, b, NULL);
  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER, on_src_pad, b, NULL);

  /* Non-live: PAUSED completes with the first buffer; a failing start() fails right here. */
  if (gst_element_set_state (b->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *reason = pipeline_error (b, "the pipeline failed to start");
    return FALSE;
  }
  return TRUE;
}

/* Pushes frame @i and waits until it has reached the appsink; fills @times. */
static gboolean
run_frame (Bench *b, guint i, FrameTimes *times, char **reason)
{
  GstBuffer *buf = gst_buffer_copy (b->frames[i % N_SOURCE_FRAMES]);
  GstClockTime duration = gst_util_uint64_scale_int (GST_SECOND, GST_VIDEO_INFO_FPS_D (&b->info),
      GST_VIDEO_INFO_FPS_N (&b->info));
  GST_BUFFER_PTS (buf) = i * duration;
  GST_BUFFER_DURATION (buf) = duration;
  b->index = i;
  b->direct_first = i % 2 == 0;
  b->times = times;
  b->seen_in = b->seen_out = FALSE;
  if (gst_app_src_push_buffer (GST_APP_SRC (b->appsrc), buf) != GST_FLOW_OK) {
    *reason = pipeline_error (b, "appsrc refused the frame");
    return FALSE;
  }
  /* Wait in short slices so that an error posted by the element ends the wait. */
  g_autoptr (GstSample) sample = NULL;
  for (GstClockTime waited = 0; !sample && waited < PULL_TIMEOUT; waited += PULL_SLICE) {
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (b->appsink), PULL_SLICE);
    if (!sample && (*reason = bus_error (b)))
      return FALSE;
  }
  if (b->direct_error) {
    *reason = g_strdup_printf ("libconvnext: %s", b->direct_error->message);
    return FALSE;
  }
  if (!sample || !b->seen_in || !b->seen_out) {
    *reason = pipeline_error (b, "no frame came out of convnextclassify");
    return FALSE;
  }
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */

static void
bench_clear (Bench *b)
{
  if (b->pipeline) {
    gst_element_set_state (b->pipeline, GST_STATE_NULL);
    gst_object_unref (b->pipeline);
  }
  for (guint i = 0; i < N_SOURCE_FRAMES; i++)
    gst_clear_buffer (&b->frames[i]);
  gst_clear_caps (&b->caps);
  convnext_model_free (b->model);
  convnext_preprocessor_free (b->pre);
  g_free (b->pixel_values);
  g_free (b->logits);
  g_clear_error (&b->direct_error);
}

/* "name": {"median": …, "min": …} of one FrameTimes field (or expression) over @n frames. */
#define PRINT_STAT(name, times, n, expr) G_STMT_START {                                    \
    g_autofree double *v_ = g_new (double, (n));                                          \
    for (guint i_ = 0; i_ < (n); i_++) {                                                  \
      const FrameTimes *t = &(times)[i_];                                                 \
      v_[i_] = (expr);                                                                    \
    }                                                                                     \
    g_print (", \"%s\": {\"median\": %.3f, \"min\": %.3f}", (name), median_of (v_, (n)),  \
        min_of (v_, (n)));                                                                \
  } G_STMT_END

/* "name": {"median": …, "direct_first": …, "element_first": …}: a per-frame difference, whose
 * "median" is the mean of its medians over the frames of each order (see the top comment). */
#define PRINT_PAIRED(name, times, n, expr) G_STMT_START {                                  \
    g_autofree double *v_ = g_new (double, (n));                                          \
    guint n_[2] = { 0, 0 };                                                               \
    for (guint i_ = 0; i_ < (n); i_++) {  /* frame N_WARMUP + i_: direct first if even */  \
      const FrameTimes *t = &(times)[i_];                                                 \
      guint odd_ = (N_WARMUP + i_) % 2;                                                   \
      v_[odd_ ? (n) - 1 - n_[1]++ : n_[0]++] = (expr);                                    \
    }                                                                                     \
    double direct_first_ = median_of (v_, n_[0]);                                         \
    double element_first_ = median_of (v_ + n_[0], n_[1]);                                \
    g_print (", \"%s\": {\"median\": %.3f, \"direct_first\": %.3f, "                       \
        "\"element_first\": %.3f}", (name), 0.5 * (direct_first_ + element_first_),        \
        direct_first_, element_first_);                                                   \
  } G_STMT_END

int
main (int argc, char **argv)
{
  g_autofree char *model_dir = NULL;
  g_autofree char *precision = NULL;
  int n_frames = 20, threads = 2;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model_dir, "Hugging Face ConvNeXt directory", "DIR" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &n_frames, "timed frames, >= 2 (default 20)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "inference threads (default 2)", "T" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision, "f32 (default) or bf16", "P" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- time convnextclassify vs libconvnext");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("convnext-element-bench: %s\n", error->message);
    return 1;
  }
  if (!precision)
    precision = g_strdup ("f32");
  if (!model_dir || n_frames < 2 || threads < 0 ||
      (strcmp (precision, "f32") != 0 && strcmp (precision, "bf16") != 0)) {
    g_printerr ("convnext-element-bench: need --model DIR, --frames >= 2, --threads >= 0, "
        "--precision f32|bf16\n");
    return 1;
  }

  Bench b = { 0 };
  g_autofree char *reason = NULL;
  if (!make_frames (&b, &error))
    reason = g_strdup_printf ("test frames: %s", error->message);
  else if (!start_direct (&b, model_dir, threads, precision, &error))
    reason = g_strdup_printf ("libconvnext: %s", error->message);
  else
    start_element (&b, model_dir, threads, precision, &reason);

  guint total = N_WARMUP + n_frames;
  g_autofree FrameTimes *all = g_new0 (FrameTimes, total);
  for (guint i = 0; !reason && i < total; i++)
    run_frame (&b, i, &all[i], &reason);
  if (reason) {
    print_na (reason);
    bench_clear (&b);
    return 0;
  }

  /* Statistics over the timed frames, after the warm-up ones. */
  const FrameTimes *ft = all + N_WARMUP;
  guint n = n_frames;
  gboolean have_meta = TRUE;
  for (guint i = 0; i < n; i++)
    have_meta = have_meta && !isnan (ft[i].meta_inference);
  g_print ("{\"status\": \"ok\", \"frames\": %u, \"width\": %d, \"height\": %d, \"format\": \"I420\", "
      "\"threads\": %d, \"precision\": \"%s\", \"output_size\": [%u, %u]", n,
      GST_VIDEO_INFO_WIDTH (&b.info), GST_VIDEO_INFO_HEIGHT (&b.info), threads, precision,
      b.out_h, b.out_w);
  PRINT_STAT ("element_ms", ft, n, t->element);
  PRINT_STAT ("direct_ms", ft, n, t->preprocess + t->forward);
  PRINT_STAT ("preprocess_ms", ft, n, t->preprocess);
  PRINT_STAT ("forward_ms", ft, n, t->forward);
  PRINT_PAIRED ("overhead_ms", ft, n, t->element - (t->preprocess + t->forward));
  PRINT_STAT ("element_cpu_ms", ft, n, t->element_cpu);
  PRINT_STAT ("direct_cpu_ms", ft, n, t->direct_cpu);
  PRINT_PAIRED ("overhead_cpu_ms", ft, n, t->element_cpu - t->direct_cpu);
  if (have_meta) {
    PRINT_STAT ("meta_inference_ms", ft, n, t->meta_inference);
    PRINT_STAT ("overhead_vs_meta_ms", ft, n, t->element - t->meta_inference);
  }
  PRINT_STAT ("preprocess_pct_of_forward", ft, n, 100.0 * t->preprocess / t->forward);
  g_print ("}\n");

  gst_app_src_end_of_stream (GST_APP_SRC (b.appsrc));
  bench_clear (&b);
  return 0;
}
