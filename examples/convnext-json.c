/* convnext-json: classify a video with convnextclassify and print one JSON line per frame.
 *
 *   convnext-json                                        # 100 frames of videotestsrc
 *   convnext-json video.mp4 > results.jsonl              # a file (or any URI)
 *   convnext-json --stats "v4l2src ! video/x-raw,width=640,height=480"
 *   convnext-json --annotate labelled.webm video.mp4     # also write the video with the labels
 *
 * The source is a gst-launch description of whatever produces video, or a file name or URI;
 * the program appends `! videoconvert ! convnextclassify ! appsink` and reads the public
 * GstConvNextClassificationMeta (<convnext/gstconvnextmeta.h>, pkg-config gstconvnextmeta-1.0)
 * from every buffer the appsink receives. Each line:
 *
 *   {"frame":0,"pts":0,"model":"convnext-cifar10","source_frame":0,"inference_ns":8123456,
 *    "top_k":[{"class_id":3,"label":"cat","score":0.71},...]}
 *
 * frame counts the buffers the appsink got; pts is in ns (null if the buffer has none);
 * source_frame is the frame the result was computed on (differs with inference-interval > 1);
 * scores are softmax probabilities printed with the fewest digits that give back the same
 * float. A frame without metadata prints only frame, pts and an empty top_k.
 *
 * --objects CLASSES (inference-region=roi-list, SOURCE ending in a detector such as facedetect):
 * top_k is empty and "objects" lists each classified object ([] on a frame without any):
 *   "objects":[{"roi_id":0,"box":[x,y,w,h],"source_frame":0,"tracking_id":0,"top_k":[...]}]
 * (box in frame pixels; tracking_id null when the object has none).
 *
 * Built against GStreamer >= 1.24, a frame without GstConvNextClassificationMeta (results from
 * another element) is read from the first GstAnalyticsClsMtd of its GstAnalyticsRelationMeta,
 * which convnextclassify writes too: labels from its quarks, scores from its levels, class_id
 * null (a ClsMtd has no ids), no model, source_frame or inference_ns.  --analytics reads only
 * that, as any GstAnalytics consumer would.
 * Ctrl-C ends a live source cleanly (EOS), so the output stays complete lines.
 *
 * Built here by meson; on its own, against an installed convnext:
 *   cc convnext-json.c \
 *     $(pkg-config --cflags --libs gstconvnextmeta-1.0 gstreamer-app-1.0 json-glib-1.0)
 */
#include <glib-unix.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gstconvnextmeta.h"

#if HAVE_GST_ANALYTICS
#include <gst/analytics/analytics.h>
#endif

typedef struct {
  GMainLoop *loop;
  GstElement *pipeline;
  GstPad *classify_src;   /* where --stats asks for the latency */
  int status;
  gboolean stats;
  gboolean analytics;     /* --analytics: read the GstAnalyticsClsMtd only */
  gboolean objects;       /* --objects: every line has "objects" */
  guint64 frames;
  /* --stats: counters of the current one-second window and of the whole run */
  GMutex lock;
  gint64 start_us, window_us;
  guint64 window_frames, window_results;
  GstClockTime window_inference, window_max;
  GArray *inference;      /* GstClockTime of every result, for the run's median */
  guint64 last_source_frame;
} App;

/* ------------------------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------------------------ */

static void
append_json_string (GString *out, const gchar *s)
{
  JsonNode *node = json_node_init_string (json_node_alloc (), s ? s : "");
  gchar *quoted = json_to_string (node, FALSE);

  g_string_append (out, quoted);
  g_free (quoted);
  json_node_unref (node);
}

/* The shortest decimal that reads back as the same float (json-glib would print the double
 * it widens to, 0.70999997854232788 for 0.71f). */
static void
append_json_float (GString *out, gfloat value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (gint digits = 6; digits <= 9; digits++) {
    gchar format[8];

    g_snprintf (format, sizeof format, "%%.%dg", digits);
    g_ascii_formatd (buf, sizeof buf, format, value);
    if ((gfloat) g_ascii_strtod (buf, NULL) == value)
      break;
  }
  g_string_append (out, buf);
}

#if HAVE_GST_ANALYTICS
/* The top-k of @buf's first GstAnalyticsClsMtd, if it has one. */
static void
append_analytics_top_k (GString *out, GstBuffer *buf)
{
  GstAnalyticsRelationMeta *rmeta = gst_buffer_get_analytics_relation_meta (buf);
  GstAnalyticsClsMtd mtd;
  gpointer state = NULL;

  if (rmeta == NULL || !gst_analytics_relation_meta_iterate (rmeta, &state,
          gst_analytics_cls_mtd_get_mtd_type (), &mtd))
    return;
  for (gsize i = 0; i < gst_analytics_cls_mtd_get_length (&mtd); i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    g_string_append (out, "{\"class_id\":null,\"label\":");
    append_json_string (out, g_quark_to_string (gst_analytics_cls_mtd_get_quark (&mtd, i)));
    g_string_append (out, ",\"score\":");
    append_json_float (out, gst_analytics_cls_mtd_get_level (&mtd, i));
    g_string_append_c (out, '}');
  }
}
#endif

static gchar *
frame_to_json (guint64 frame, GstBuffer *buf, const GstConvNextClassificationMeta *meta,
    gboolean objects)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "{\"frame\":%" G_GUINT64_FORMAT ",\"pts\":", frame);
  if (GST_BUFFER_PTS_IS_VALID (buf))
    g_string_append_printf (out, "%" G_GUINT64_FORMAT, GST_BUFFER_PTS (buf));
  else
    g_string_append (out, "null");
  if (meta) {
    g_string_append (out, ",\"model\":");
    append_json_string (out, meta->model_name);
    g_string_append_printf (out, ",\"source_frame\":%" G_GUINT64_FORMAT
        ",\"inference_ns\":%" G_GUINT64_FORMAT, meta->frame_number, meta->inference_time);
  }
  g_string_append (out, ",\"top_k\":[");
  for (guint i = 0; meta && i < meta->n_classes; i++) {
    g_string_append_printf (out, "%s{\"class_id\":%u,\"label\":", i ? "," : "",
        meta->classes[i].class_id);
    append_json_string (out, meta->classes[i].label);
    g_string_append (out, ",\"score\":");
    append_json_float (out, meta->classes[i].score);
    g_string_append_c (out, '}');
  }
#if HAVE_GST_ANALYTICS
  if (meta == NULL)
    append_analytics_top_k (out, buf);
#endif
  g_string_append_c (out, ']');
  /* inference-region=roi-list: one entry per object, with its box (frame pixels). */
  if (objects) {
    g_string_append (out, ",\"objects\":[");
    for (guint i = 0; meta && i < meta->n_objects; i++) {
      const GstConvNextObject *o = &meta->objects[i];

      g_string_append_printf (out, "%s{\"roi_id\":%d,\"box\":[%d,%d,%u,%u],"
          "\"source_frame\":%" G_GUINT64_FORMAT ",\"tracking_id\":", i ? "," : "",
          o->roi_id, o->x, o->y, o->w, o->h, o->frame_number);
      if (o->has_tracking_id)
        g_string_append_printf (out, "%" G_GUINT64_FORMAT, o->tracking_id);
      else
        g_string_append (out, "null");
      g_string_append (out, ",\"top_k\":[");
      for (guint k = 0; k < o->n_classes; k++) {
        g_string_append_printf (out, "%s{\"class_id\":%u,\"label\":", k ? "," : "",
            o->classes[k].class_id);
        append_json_string (out, o->classes[k].label);
        g_string_append (out, ",\"score\":");
        append_json_float (out, o->classes[k].score);
        g_string_append_c (out, '}');
      }
      g_string_append (out, "]}");
    }
    g_string_append_c (out, ']');
  }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------------------------
 * --stats: throughput, inference time and pipeline latency on stderr
 * ------------------------------------------------------------------------------------------ */

static void
count_frame (App *app, const GstConvNextClassificationMeta *meta)
{
  g_mutex_lock (&app->lock);
  app->window_frames++;
  /* With inference-interval > 1 several frames carry one result: count its time once. */
  if (meta && (app->inference->len == 0 || meta->frame_number != app->last_source_frame)) {
    app->last_source_frame = meta->frame_number;
    app->window_results++;
    g_array_append_val (app->inference, meta->inference_time);
    app->window_inference += meta->inference_time;
    app->window_max = MAX (app->window_max, meta->inference_time);
  }
  g_mutex_unlock (&app->lock);
}

static gboolean
print_stats (gpointer data)
{
  App *app = data;
  gint64 now = g_get_monotonic_time ();
  GstQuery *query = gst_query_new_latency ();
  gchar latency[64] = "unknown";
  gboolean live;
  GstClockTime min_latency, max_latency;

  /* Ask upstream of the classifier's output: the sink, with sync=false, would call the
   * pipeline not live. The answer includes the inference time convnextclassify reports. */
  if (gst_pad_query (app->classify_src, query)) {
    gst_query_parse_latency (query, &live, &min_latency, &max_latency);
    if (live)
      g_snprintf (latency, sizeof latency, "%.1f ms", min_latency / 1e6);
    else
      g_strlcpy (latency, "not live", sizeof latency);
  }
  gst_query_unref (query);

  g_mutex_lock (&app->lock);
  if (app->window_frames > 0) {
    g_printerr ("stats: %.1f fps, inference %.1f ms (max %.1f ms) over %" G_GUINT64_FORMAT
        " results, pipeline latency %s\n",
        app->window_frames * 1e6 / MAX (1, now - app->window_us),
        app->window_results ? app->window_inference / 1e6 / app->window_results : 0.0,
        app->window_max / 1e6, app->window_results, latency);
  }
  app->window_us = now;
  app->window_frames = app->window_results = 0;
  app->window_inference = app->window_max = 0;
  g_mutex_unlock (&app->lock);
  return G_SOURCE_CONTINUE;
}

static gint
compare_clock_time (gconstpointer a, gconstpointer b)
{
  GstClockTime x = *(const GstClockTime *) a, y = *(const GstClockTime *) b;

  return x < y ? -1 : x > y;
}

/* The median, not the mean: the first frames pay for the network's set-up. */
static void
print_summary (App *app)
{
  gdouble seconds = (g_get_monotonic_time () - app->start_us) / 1e6;
  GArray *t = app->inference;

  g_array_sort (t, compare_clock_time);
  g_printerr ("stats: %" G_GUINT64_FORMAT " frames in %.2f s (%.1f fps), median inference %.1f ms"
      " (max %.1f ms) over %u results\n", app->frames, seconds,
      seconds > 0 ? app->frames / seconds : 0.0,
      t->len ? (g_array_index (t, GstClockTime, (t->len - 1) / 2)
          + g_array_index (t, GstClockTime, t->len / 2)) / 2e6 : 0.0,
      t->len ? g_array_index (t, GstClockTime, t->len - 1) / 1e6 : 0.0, t->len);
}

/* ------------------------------------------------------------------------------------------
 * Pipeline
 * ------------------------------------------------------------------------------------------ */

/* Streaming thread: one line per buffer, flushed so a pipe sees whole lines as they come. */
static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer data)
{
  App *app = data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  const GstConvNextClassificationMeta *meta;
  gchar *line;

  if (!sample)
    return GST_FLOW_FLUSHING;
  buf = gst_sample_get_buffer (sample);
  meta = app->analytics ? NULL : gst_buffer_get_convnext_classification_meta (buf);
  line = frame_to_json (app->frames++, buf, meta, app->objects);
  puts (line);
  fflush (stdout);
  g_free (line);
  if (app->stats)
    count_frame (app, meta);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  App *app = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR: {
      GError *error = NULL;
      gchar *debug = NULL;

      gst_message_parse_error (msg, &error, &debug);
      g_printerr ("ERROR from %s: %s\n%s%s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          error->message, debug ? debug : "", debug ? "\n" : "");
      g_clear_error (&error);
      g_free (debug);
      app->status = EXIT_FAILURE;
      g_main_loop_quit (app->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit (app->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* First Ctrl-C: end the stream (live sources never do by themselves); second: quit now. */
static gboolean
on_sigint (gpointer data)
{
  App *app = data;
  static gboolean sent;

  if (sent) {
    g_main_loop_quit (app->loop);
    return G_SOURCE_REMOVE;
  }
  g_printerr ("Interrupt: finishing the stream (Ctrl-C again to quit now)\n");
  gst_element_send_event (app->pipeline, gst_event_new_eos ());
  sent = TRUE;
  return G_SOURCE_CONTINUE;
}

/* --annotate FILE: what encodes the overlaid frames, by FILE's extension. PNG goes through
 * multifilesink: a printf pattern (frame-%05d.png) keeps every frame, a plain name the last. */
static const gchar *
annotate_branch (const gchar *file)
{
  if (g_str_has_suffix (file, ".webm"))
    return "vp8enc deadline=1 target-bitrate=2000000 ! webmmux ! filesink name=annotated";
  if (g_str_has_suffix (file, ".mkv"))
    return "vp8enc deadline=1 target-bitrate=2000000 ! matroskamux ! filesink name=annotated";
  if (g_str_has_suffix (file, ".png"))
    return "pngenc ! multifilesink name=annotated";
  return NULL;
}

/* A file name or URI becomes a uridecodebin; anything else is a gst-launch description.
 * A single word that is neither a file nor an element is taken for a missing file. */
static gchar *
source_description (const gchar *source, GError **error)
{
  gchar *uri = NULL, *desc;
  GstElementFactory *factory = NULL;

  if (gst_uri_is_valid (source))
    uri = g_strdup (source);
  else if (g_file_test (source, G_FILE_TEST_IS_REGULAR))
    uri = gst_filename_to_uri (source, error);
  else if (strpbrk (source, "! \t") == NULL
      && (factory = gst_element_factory_find (source)) == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
        "%s: no such file (nor a GStreamer element or pipeline)", source);
    return NULL;
  } else {
    g_clear_object (&factory);
    return g_strdup (source);
  }
  if (!uri)
    return NULL;
  desc = g_strdup_printf ("uridecodebin uri=\"%s\"", uri);
  g_free (uri);
  return desc;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *model = NULL;
  gint top_k = -1;
  gdouble threshold = -1.0;
  gint threads = -1;
  g_autofree gchar *annotate = NULL;
  gboolean stats = FALSE;
  gboolean analytics = FALSE;
  g_autofree gchar *object_class = NULL;
  g_auto (GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "objects", 'o', 0, G_OPTION_ARG_STRING, &object_class,
      "Classify the regions a detector in SOURCE attached (inference-region=roi-list) whose type "
      "is in this comma-separated list (\"\" = all); each line gets \"objects\" with boxes",
      "CLASSES" },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model,
        "Hugging Face ConvNeXt checkpoint directory (default: the built-in default model)", "DIR" },
    { "top-k", 'k', 0, G_OPTION_ARG_INT, &top_k, "Classes per frame (default: the element's, 5)",
        "N" },
    { "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &threshold,
        "Leave out classes whose score is below this (0..1)", "P" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &threads,
        "Inference threads (default: the element's, 0 = all cores)", "N" },
    { "annotate", 'a', 0, G_OPTION_ARG_FILENAME, &annotate,
        "Also write the frames with convnextoverlay's labels to FILE (.webm, .mkv: VP8; .png: "
        "PNG, a pattern like frame-%05d.png for every frame)", "FILE" },
    { "stats", 's', 0, G_OPTION_ARG_NONE, &stats,
        "Print fps, inference time and latency to stderr every second and at the end", NULL },
    { "analytics", 0, 0, G_OPTION_ARG_NONE, &analytics,
        "Read the GstAnalyticsClsMtd (GStreamer >= 1.24) instead of GstConvNextClassificationMeta",
        NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, "[SOURCE]" },
    { NULL },
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- one JSON line per video frame");
  g_autoptr (GError) error = NULL;
  App app = { .status = EXIT_SUCCESS };
  GstElement *classify, *sink;
  GstAppSinkCallbacks callbacks = { .new_sample = on_new_sample };
  g_autofree gchar *source = NULL;
  gchar *desc;
  GstBus *bus;

  g_option_context_set_summary (context, "Classifies a video with convnextclassify and prints "
      "one JSON line per frame on stdout.\nSOURCE: a file, a URI, or a gst-launch description "
      "producing video (default: \"videotestsrc num-buffers=100\").");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (rest && g_strv_length (rest) > 1) {
    g_printerr ("Give the source as one argument (quote a pipeline description)\n");
    return 2;
  }
  if (analytics && !HAVE_GST_ANALYTICS) {
    g_printerr ("--analytics: built without GstAnalytics (needs GStreamer >= 1.24)\n");
    return 2;
  }

  source = source_description (rest ? rest[0] : "videotestsrc num-buffers=100", &error);
  if (!source) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (annotate && !annotate_branch (annotate)) {
    g_printerr ("--annotate: %s: use a .webm, .mkv or .png file name\n", annotate);
    return 2;
  }
  if (annotate)
    desc = g_strdup_printf ("%s ! videoconvert ! convnextclassify name=classify ! tee name=t "
        "t. ! queue ! appsink name=sink sync=false "
        "t. ! queue ! convnextoverlay ! videoconvert ! %s", source, annotate_branch (annotate));
  else
    desc = g_strdup_printf ("%s ! videoconvert ! convnextclassify name=classify "
        "! appsink name=sink sync=false", source);
  app.pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!app.pipeline || error) {
    g_printerr ("Could not build the pipeline: %s\n", error->message);
    g_clear_object (&app.pipeline);
    return 2;
  }
  if (annotate) {
    GstElement *file_sink = gst_bin_get_by_name (GST_BIN (app.pipeline), "annotated");

    g_object_set (file_sink, "location", annotate, NULL);
    gst_object_unref (file_sink);
  }

  classify = gst_bin_get_by_name (GST_BIN (app.pipeline), "classify");
  if (model)
    g_object_set (classify, "model", model, NULL);
  if (top_k >= 0)
    g_object_set (classify, "top-k", (guint) top_k, NULL);
  if (threshold >= 0.0)
    g_object_set (classify, "threshold", threshold, NULL);
  if (threads >= 0)
    g_object_set (classify, "threads", (guint) threads, NULL);
  if (object_class) {
    app.objects = TRUE;
    gst_util_set_object_arg (G_OBJECT (classify), "inference-region", "roi-list");
    g_object_set (classify, "object-class", object_class, NULL);
  }
  app.classify_src = gst_element_get_static_pad (classify, "src");
  gst_object_unref (classify);
  sink = gst_bin_get_by_name (GST_BIN (app.pipeline), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, &app, NULL);
  gst_object_unref (sink);

  app.loop = g_main_loop_new (NULL, FALSE);
  app.stats = stats;
  app.analytics = analytics;
  g_mutex_init (&app.lock);
  app.inference = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_bus_message, &app);
  g_unix_signal_add (SIGINT, on_sigint, &app);
  app.start_us = app.window_us = g_get_monotonic_time ();
  if (stats)
    g_timeout_add_seconds (1, print_stats, &app);

  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* The bus holds the ERROR that says why (a missing model, say). */
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

    if (msg) {
      on_bus_message (bus, msg, &app);
      gst_message_unref (msg);
    } else {
      g_printerr ("The pipeline could not start\n");
    }
    app.status = EXIT_FAILURE;
  } else {
    g_main_loop_run (app.loop);
  }
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  if (stats)
    print_summary (&app);

  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (app.classify_src);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  g_mutex_clear (&app.lock);
  g_array_unref (app.inference);
  return app.status;
}
