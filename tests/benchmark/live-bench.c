/* convnext-live-bench: a live stream through convnextclassify into a synchronised sink, measured
 * as a viewer would see it (issue 15).
 *
 *   convnext-live-bench --model DIR [--mode sync|qos|async] [--threads N] [--seconds S]
 *                       [--width W] [--height H] [--fps F]
 *
 * Runs issue 15's pipeline
 *   videotestsrc is-live=true ! video/x-raw,width=W,height=H,framerate=F/1 !
 *   convnextclassify model=DIR threads=N [qos=true | async-inference=true] ! fakesink sync=true
 * (answering LATENCY messages as gst-launch-1.0 does) for S seconds from the first frame that
 * reaches the sink, and prints one JSON line:
 *   fps                 frames rendered per second over those S seconds
 *   delay_ms            median end-to-end delay of the frames rendered in the last second:
 *                       render time minus capture time (the frame's running time)
 *   delay_max_ms        the largest over the S seconds
 *   late                frames rendered more than 20 ms (a video sink's max-lateness) after
 *                       their running time plus the pipeline latency
 *   latency_ms          the pipeline's latency at the end (LATENCY query)
 *   inferences_per_s    results (distinct source frames) that reached the sink, per second
 *   classified_pct      share of the rendered frames that carry their own result
 *   age_ms              median age of the result on a rendered frame (meta->age)
 *   inference_ms        median inference time of those results (meta->inference_time)
 * Bad arguments or a pipeline error exit 1.
 */
#include <gst/gst.h>
#include <string.h>

#include "gstconvnextmeta.h"

#define LATENESS (20 * GST_MSECOND)

typedef struct {
  GMutex lock;
  GstElement *pipeline;
  GstClockTime window;          /* S seconds */
  GstClockTime first;           /* clock time of the first render */
  gboolean done;
  guint frames, late, classified;
  GArray *delays;               /* gdouble ms, every frame in the window */
  GArray *last_second;          /* gdouble ms */
  GArray *ages, *inference;     /* gdouble ms */
  GHashTable *results;          /* source frame numbers seen */
  GstClockTime latency;         /* of the pipeline, from the sink's point of view */
  guint64 index;
} Bench;

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

static gdouble
median (GArray *a)
{
  if (a->len == 0)
    return -1;
  g_array_sort (a, cmp_double);
  return a->len % 2 ? g_array_index (a, gdouble, a->len / 2) :
      (g_array_index (a, gdouble, a->len / 2 - 1) + g_array_index (a, gdouble, a->len / 2)) / 2;
}

static void
handoff (GstElement *sink, GstBuffer *buf, GstPad *pad, Bench *b)
{
  GstClock *clock = gst_element_get_clock (sink);
  GstEvent *ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
  const GstSegment *segment;
  GstClockTime now, running_time, base;
  gdouble delay;
  guint64 index;

  if (clock == NULL || ev == NULL) {
    g_clear_pointer (&ev, gst_event_unref);
    if (clock)
      gst_object_unref (clock);
    return;
  }
  gst_event_parse_segment (ev, &segment);
  running_time = gst_segment_to_running_time (segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  gst_event_unref (ev);
  now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  base = gst_element_get_base_time (sink);
  delay = (gdouble) GST_CLOCK_DIFF (base + running_time, now) / GST_MSECOND;

  g_mutex_lock (&b->lock);
  index = b->index++;
  if (!GST_CLOCK_TIME_IS_VALID (b->first))
    b->first = now;
  if (!b->done && now <= b->first + b->window) {
    b->frames++;
    g_array_append_val (b->delays, delay);
    if (now + GST_SECOND > b->first + b->window)
      g_array_append_val (b->last_second, delay);
    if (GST_CLOCK_TIME_IS_VALID (b->latency) && GST_CLOCK_DIFF (base + running_time + b->latency,
            now) > (GstClockTimeDiff) LATENESS)
      b->late++;
    if (meta != NULL) {
      gdouble age = meta->age / 1e6, inference = meta->inference_time / 1e6;
      if (!g_hash_table_contains (b->results, GSIZE_TO_POINTER (meta->frame_number + 1))) {
        g_hash_table_add (b->results, GSIZE_TO_POINTER (meta->frame_number + 1));
        g_array_append_val (b->inference, inference);
      }
      if (GST_CLOCK_TIME_IS_VALID (meta->age))
        g_array_append_val (b->ages, age);
      b->classified += meta->frame_number == index;
    }
  } else {
    b->done = TRUE;
  }
  g_mutex_unlock (&b->lock);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *model = NULL, *mode = NULL;
  gint threads = 0, seconds = 10, width = 1920, height = 1080, fps = 30;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, "checkpoint directory", "DIR" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "sync (default), qos or async", "MODE" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "convnextclassify threads (0 = all)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "measured seconds (10)", "S" },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "frame width (1920)", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "frame height (1080)", "H" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &fps, "frame rate (30)", "F" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- convnextclassify on a live stream");
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc = NULL;
  const gchar *props;
  GstElement *sink;
  GstBus *bus;
  GstQuery *query;
  Bench b = { 0 };
  gboolean live;
  GstClockTime latency = 0;
  gint64 deadline;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || model == NULL) {
    g_printerr ("%s\n", error ? error->message : "--model is required");
    return 1;
  }
  if (mode == NULL || g_str_equal (mode, "sync"))
    props = "";
  else if (g_str_equal (mode, "qos"))
    props = "qos=true";
  else if (g_str_equal (mode, "async"))
    props = "async-inference=true";
  else {
    g_printerr ("--mode: sync, qos or async, not %s\n", mode);
    return 1;
  }

  desc = g_strdup_printf ("videotestsrc is-live=true ! video/x-raw,width=%d,height=%d,"
      "framerate=%d/1 ! convnextclassify name=c model=\"%s\" threads=%d %s ! "
      "fakesink name=s sync=true signal-handoffs=true", width, height, fps, model, threads,
      props);
  b.pipeline = gst_parse_launch (desc, &error);
  if (b.pipeline == NULL) {
    g_printerr ("%s: %s\n", desc, error->message);
    return 1;
  }
  g_mutex_init (&b.lock);
  b.window = seconds * GST_SECOND;
  b.first = GST_CLOCK_TIME_NONE;
  b.latency = GST_CLOCK_TIME_NONE;
  b.delays = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.last_second = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.ages = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.inference = g_array_new (FALSE, FALSE, sizeof (gdouble));
  b.results = g_hash_table_new (NULL, NULL);
  sink = gst_bin_get_by_name (GST_BIN (b.pipeline), "s");
  g_signal_connect (sink, "handoff", G_CALLBACK (handoff), &b);

  bus = gst_element_get_bus (b.pipeline);
  if (gst_element_set_state (b.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("could not start %s\n", desc);
    return 1;
  }
  /* Serve the bus until the window is over (and at most a minute more). */
  deadline = g_get_monotonic_time () + (seconds + 60) * G_USEC_PER_SEC;
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_LATENCY);
    gboolean done;

    if (msg != NULL) {
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_LATENCY) {
        gst_bin_recalculate_latency (GST_BIN (b.pipeline));
      } else {
        gst_message_parse_error (msg, &error, NULL);
        g_printerr ("%s: %s\n", GST_MESSAGE_SRC_NAME (msg), error ? error->message : "EOS");
        return 1;
      }
      gst_message_unref (msg);
    }
    query = gst_query_new_latency ();
    if (gst_element_query (b.pipeline, query)) {
      gst_query_parse_latency (query, &live, &latency, NULL);
      g_mutex_lock (&b.lock);
      b.latency = latency;
      g_mutex_unlock (&b.lock);
    }
    gst_query_unref (query);
    g_mutex_lock (&b.lock);
    done = b.done;
    g_mutex_unlock (&b.lock);
    if (done)
      break;
    if (g_get_monotonic_time () > deadline) {
      g_printerr ("no frame reached the sink\n");
      return 1;
    }
  }
  gst_element_set_state (b.pipeline, GST_STATE_NULL);

  g_print ("{\"mode\": \"%s\", \"threads\": %d, \"seconds\": %d, \"fps\": %.2f, "
      "\"delay_ms\": %.1f, \"delay_max_ms\": %.1f, \"late\": %u, \"latency_ms\": %.1f, "
      "\"inferences_per_s\": %.2f, \"classified_pct\": %.1f, \"age_ms\": %.1f, "
      "\"inference_ms\": %.1f, \"frames\": %u}\n",
      mode ? mode : "sync", threads, seconds, b.frames / (gdouble) seconds,
      median (b.last_second), b.delays->len ? (g_array_sort (b.delays, cmp_double),
          g_array_index (b.delays, gdouble, b.delays->len - 1)) : -1, b.late, latency / 1e6,
      g_hash_table_size (b.results) / (gdouble) seconds,
      b.frames ? 100.0 * b.classified / b.frames : 0, median (b.ages), median (b.inference),
      b.frames);

  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (b.pipeline);
  g_hash_table_unref (b.results);
  g_array_unref (b.delays);
  g_array_unref (b.last_second);
  g_array_unref (b.ages);
  g_array_unref (b.inference);
  return 0;
}
