/* gst-check tests of convnextclassify on live streams: async-inference, QoS that skips
 * inferences (not frames), the latency it reports, and its inference thread under state and
 * caps changes.
 *
 * The slow model is models/tiny with the runner's test-only delay: meson sets
 * CONVNEXT_TEST_INFERENCE_DELAY_MS for each tcase, and the inference thread sleeps that long
 * in every forward pass — a slow network that costs no CPU, so the timings hold on the shared
 * 2-core machine.  Times are measured on the pipeline clock at the pads; nothing sleeps to
 * make a point: the tests wait for EOS or for a condition, with a bound.
 *
 * Under valgrind (CONVNEXT_TEST_UNDER_VALGRIND, set by `meson test --setup valgrind`) the
 * pipelines run the same way for the leak check, but everything is ~30x slower, so the
 * assertions about timing are skipped (and said so in the log).
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <string.h>

#include "gstconvnextmeta.h"

/* What a display sink tolerates (GstVideoSink's default max-lateness). */
#define MAX_LATENESS (20 * GST_MSECOND)
#define PERIOD_30FPS (GST_SECOND / 30)

static gboolean
timing_checked (void)
{
  return g_getenv ("CONVNEXT_TEST_UNDER_VALGRIND") == NULL;
}

/* The slow model's forward pass, from the environment meson sets. */
static GstClockTime
test_delay (void)
{
  const gchar *ms = g_getenv ("CONVNEXT_TEST_INFERENCE_DELAY_MS");

  fail_unless (ms != NULL, "CONVNEXT_TEST_INFERENCE_DELAY_MS is not set (run through meson)");
  return g_ascii_strtoull (ms, NULL, 10) * GST_MSECOND;
}

/* ------------------------------------------------------------------------------------------
 * Watching a pipeline
 * ------------------------------------------------------------------------------------------ */

/* One buffer, as seen at a pad. */
typedef struct {
  GstClockTime pts;
  GstClockTimeDiff arrival;     /* clock time at the pad - (base time + running time) */
  gboolean has_meta;
  guint64 frame_number;
  GstClockTime frame_pts, age, inference_time;
} Seen;

typedef struct {
  GMutex lock;
  GArray *seen;                 /* Seen */
} Watch;

static GstPadProbeReturn
watch_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Watch *watch = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstElement *element = GST_ELEMENT (gst_pad_get_parent (pad));
  GstClock *clock = gst_element_get_clock (element);
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
  GstEvent *segment_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  const GstSegment *segment;
  Seen seen = { GST_BUFFER_PTS (buf), 0, meta != NULL, 0, 0, 0, 0 };

  fail_unless (segment_event != NULL);
  gst_event_parse_segment (segment_event, &segment);
  if (clock != NULL) {
    GstClockTime running_time = gst_segment_to_running_time (segment, GST_FORMAT_TIME,
        seen.pts);
    seen.arrival = GST_CLOCK_DIFF (gst_element_get_base_time (element) + running_time,
        gst_clock_get_time (clock));
    gst_object_unref (clock);
  }
  gst_event_unref (segment_event);
  if (meta != NULL) {
    seen.frame_number = meta->frame_number;
    seen.frame_pts = meta->frame_pts;
    seen.age = meta->age;
    seen.inference_time = meta->inference_time;
  }
  gst_object_unref (element);

  g_mutex_lock (&watch->lock);
  g_array_append_val (watch->seen, seen);
  g_mutex_unlock (&watch->lock);
  return GST_PAD_PROBE_OK;
}

/* Records every buffer passing @element's @pad_name pad. */
static Watch *
watch_new (GstElement *pipeline, const gchar *element_name, const gchar *pad_name)
{
  GstElement *element = gst_bin_get_by_name (GST_BIN (pipeline), element_name);
  GstPad *pad = gst_element_get_static_pad (element, pad_name);
  Watch *watch = g_new0 (Watch, 1);

  g_mutex_init (&watch->lock);
  watch->seen = g_array_new (FALSE, FALSE, sizeof (Seen));
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, watch_probe, watch, NULL);
  gst_object_unref (pad);
  gst_object_unref (element);
  return watch;
}

static void
watch_free (Watch *watch)
{
  g_array_unref (watch->seen);
  g_mutex_clear (&watch->lock);
  g_free (watch);
}

static Seen *
seen (Watch *watch, guint i)
{
  return &g_array_index (watch->seen, Seen, i);
}

/* What the bus said while the pipeline ran. */
typedef struct {
  GPtrArray *qos;               /* the classifier's GST_MESSAGE_QOS */
  GPtrArray *results;           /* its "convnext-classification" element messages */
  guint latency_messages;       /* LATENCY messages from the classifier */
} Heard;

static void
heard_clear (Heard *heard)
{
  g_ptr_array_unref (heard->qos);
  g_ptr_array_unref (heard->results);
}

/* Sets @pipeline PLAYING and serves its bus until EOS, within @timeout (ERROR fails; a
 * LATENCY message is answered as gst-launch answers it); @heard gets what "c" posted.
 * Returns the pipeline's latency at EOS. */
static GstClockTime
play_to_eos (GstElement *pipeline, GstClockTime timeout, Heard *heard)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstClockTime deadline = gst_util_get_timestamp () + timeout, now;
  GstQuery *query = gst_query_new_latency ();
  GstClockTime latency = 0;
  gboolean eos = FALSE;

  heard->qos = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_message_unref);
  heard->results = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_message_unref);
  heard->latency_messages = 0;
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  while (!eos && (now = gst_util_get_timestamp ()) < deadline) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, deadline - now, GST_MESSAGE_EOS
        | GST_MESSAGE_ERROR | GST_MESSAGE_LATENCY | GST_MESSAGE_QOS | GST_MESSAGE_ELEMENT);

    if (msg == NULL)
      break;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:{
        GError *error = NULL;
        gst_message_parse_error (msg, &error, NULL);
        fail ("error from %s: %s", GST_MESSAGE_SRC_NAME (msg), error->message);
        break;
      }
      case GST_MESSAGE_EOS:
        eos = TRUE;
        break;
      case GST_MESSAGE_LATENCY:
        if (GST_MESSAGE_SRC (msg) == GST_OBJECT (classify))
          heard->latency_messages++;
        gst_bin_recalculate_latency (GST_BIN (pipeline));
        break;
      case GST_MESSAGE_QOS:
        if (GST_MESSAGE_SRC (msg) == GST_OBJECT (classify))
          g_ptr_array_add (heard->qos, gst_message_ref (msg));
        break;
      case GST_MESSAGE_ELEMENT:
        if (gst_message_has_name (msg, "convnext-classification"))
          g_ptr_array_add (heard->results, gst_message_ref (msg));
        break;
      default:
        break;
    }
    gst_message_unref (msg);
  }
  fail_unless (eos, "no EOS within %" GST_TIME_FORMAT, GST_TIME_ARGS (timeout));
  fail_unless (gst_element_query (pipeline, query));
  gst_query_parse_latency (query, NULL, &latency, NULL);
  gst_query_unref (query);
  gst_object_unref (classify);
  gst_object_unref (bus);
  return latency;
}

static void
stop_pipeline (GstElement *pipeline)
{
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipeline);
}

/* The live source alone: its latency is what the classifier must add nothing to (async) or
 * its measured inference time to (sync). */
static GstClockTime
upstream_latency (const gchar *caps)
{
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc is-live=true num-buffers=2 ! %s ! "
      "fakesink name=c sync=true max-lateness=%" G_GUINT64_FORMAT, caps, MAX_LATENESS);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  Heard heard;
  GstClockTime latency = play_to_eos (pipeline, 10 * GST_SECOND, &heard);

  heard_clear (&heard);
  stop_pipeline (pipeline);
  return latency;
}

/* videotestsrc (live, @n frames of @caps) ! convnextclassify name=c @props ! fakesink name=s,
 * synchronised, dropping what is later than a display would tolerate. */
static GstElement *
live_pipeline (guint n, const gchar *caps, const gchar *props)
{
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc is-live=true num-buffers=%u ! %s ! "
      "convnextclassify name=c model=" TINY_MODEL_DIR " threads=1 %s ! "
      "fakesink name=s sync=true max-lateness=%" G_GUINT64_FORMAT, n, caps, props,
      MAX_LATENESS);
  GstElement *pipeline = gst_parse_launch (desc, NULL);

  fail_unless (pipeline != NULL, "%s", desc);
  return pipeline;
}

static guint64
sink_stat (GstElement *pipeline, const gchar *name)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "s");
  GstStructure *stats = NULL;
  guint64 value = 0;

  g_object_get (sink, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, name, &value));
  gst_structure_free (stats);
  gst_object_unref (sink);
  return value;
}

static gint
compare_times (gconstpointer a, gconstpointer b)
{
  GstClockTime x = *(const GstClockTime *) a, y = *(const GstClockTime *) b;
  return x < y ? -1 : x > y;
}

/* How late the frames reached the classifier, beyond the earliest arrival: what a busy
 * machine's scheduler added before the element could do anything.  @spread gets the largest;
 * returns how many arrived more than @by late. */
static guint
upstream_delays (Watch *in, GstClockTime by, GstClockTime *spread)
{
  GstClockTimeDiff first = G_MAXINT64;
  guint late = 0;

  for (guint i = 1; i < in->seen->len; i++)   /* frame 0 comes before the sink holds any */
    first = MIN (first, seen (in, i)->arrival);
  *spread = 0;
  for (guint i = 1; i < in->seen->len; i++) {
    *spread = MAX (*spread, (GstClockTime) (seen (in, i)->arrival - first));
    late += seen (in, i)->arrival - first > (GstClockTimeDiff) by;
  }
  return late;
}

/* ------------------------------------------------------------------------------------------
 * async-inference
 * ------------------------------------------------------------------------------------------ */

#define CAPS_30FPS "video/x-raw,format=RGB,width=320,height=240,framerate=30/1"

/* A network slower than the frame period, async: every frame reaches a synchronised sink on
 * time, the element adds no latency, a new result rides on the frames at least once per
 * inference (plus a frame period), and each result was computed on an earlier (or the same)
 * frame, as its frame_number, frame_pts and age say. */
GST_START_TEST (test_async_live)
{
  const guint n = 60;
  GstElement *pipeline = live_pipeline (n, CAPS_30FPS, "async-inference=true");
  Watch *at_sink = watch_new (pipeline, "s", "sink");
  Watch *in = watch_new (pipeline, "c", "sink");
  Watch *out = watch_new (pipeline, "c", "src");
  GArray *held = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  GstClockTime delay = test_delay (), upstream = upstream_latency (CAPS_30FPS), latency;
  GstClockTime max_inference = 0, first_result = GST_CLOCK_TIME_NONE, last_new = 0;
  GstClockTime max_gap = 0, max_age = 0, jitter = 0;
  guint64 newest = G_MAXUINT64;
  guint results = 0, late_upstream;
  Heard heard;

  fail_unless (delay > PERIOD_30FPS, "the test needs a network slower than a frame");
  latency = play_to_eos (pipeline, 30 * GST_SECOND, &heard);
  late_upstream = upstream_delays (in, MAX_LATENESS / 2, &jitter);
  fail_unless_equals_int (at_sink->seen->len, n);
  /* No frame waits for an inference: the typical time in the element is far below one. */
  for (guint i = 0; i < n; i++) {
    GstClockTime t = seen (out, i)->arrival - seen (in, i)->arrival;
    g_array_append_val (held, t);
  }
  g_array_sort (held, compare_times);
  fail_unless (g_array_index (held, GstClockTime, n / 2) < delay / 2, "frames spend %"
      GST_TIME_FORMAT " in the element (median)", GST_TIME_ARGS (g_array_index (held,
              GstClockTime, n / 2)));
  for (guint i = 0; i < n; i++) {
    Seen *s = seen (at_sink, i);

    if (!s->has_meta) {
      fail_unless (results == 0, "frame %u has no result after one was attached", i);
      continue;
    }
    fail_unless (s->frame_number <= i, "frame %u carries the result of frame %" G_GUINT64_FORMAT,
        i, s->frame_number);
    fail_unless_equals_uint64 (s->frame_pts, seen (at_sink, s->frame_number)->pts);
    fail_unless_equals_uint64 (s->age, s->pts - s->frame_pts);
    fail_unless (s->inference_time >= delay);
    max_inference = MAX (max_inference, s->inference_time);
    max_age = MAX (max_age, s->age);
    if (results == 0 || s->frame_number != newest) {
      fail_unless (results == 0 || s->frame_number > newest, "results out of order at frame %u", i);
      /* The inference thread took the newest frame when it got free: a new result describes
       * a frame at most one inference and two periods (slot, pick-up) older. */
      if (timing_checked ())
        fail_unless (s->age <= s->inference_time + 2 * PERIOD_30FPS + jitter, "frame %u: a new "
            "result %" GST_TIME_FORMAT " old", i, GST_TIME_ARGS (s->age));
      if (results == 0)
        first_result = s->pts;
      else
        max_gap = MAX (max_gap, s->pts - last_new);
      newest = s->frame_number;
      last_new = s->pts;
      results++;
    }
  }
  GST_INFO ("%u results on %u frames, max inference %" GST_TIME_FORMAT ", longest wait for a "
      "new result %" GST_TIME_FORMAT ", oldest %" GST_TIME_FORMAT ", latency %" GST_TIME_FORMAT
      " (upstream %" GST_TIME_FORMAT ")", results, n, GST_TIME_ARGS (max_inference),
      GST_TIME_ARGS (max_gap), GST_TIME_ARGS (max_age), GST_TIME_ARGS (latency),
      GST_TIME_ARGS (upstream));

  fail_unless_equals_uint64 (latency, upstream);
  fail_unless (heard.latency_messages == 0, "async posted a LATENCY message");
  GST_INFO ("frames reached the classifier up to %" GST_TIME_FORMAT " late (%u by more than "
      "%" GST_TIME_FORMAT ")", GST_TIME_ARGS (jitter), late_upstream,
      GST_TIME_ARGS (MAX_LATENESS / 2));
  if (timing_checked ()) {
    /* None late because of the classifier (a busy machine may delay some before it). */
    fail_unless (sink_stat (pipeline, "dropped") <= late_upstream, "%" G_GUINT64_FORMAT
        " frames late at the sink, %u were late before the classifier",
        sink_stat (pipeline, "dropped"), late_upstream);
    fail_unless_equals_uint64 (sink_stat (pipeline, "rendered") + sink_stat (pipeline,
            "dropped"), n);
    /* The first request also builds the network: allow it a second. */
    fail_unless (first_result < GST_SECOND + 2 * max_inference);
    /* The inference thread goes from one request to the next, and a frame picks the new
     * result up within a period (results show on whole frames: one more; and one for the
     * scheduler of a busy machine). */
    fail_unless (max_gap <= max_inference + 3 * PERIOD_30FPS + jitter, "waited %" GST_TIME_FORMAT
        " for a new result, inference takes up to %" GST_TIME_FORMAT,
        GST_TIME_ARGS (max_gap), GST_TIME_ARGS (max_inference));
    fail_unless (results >= (seen (at_sink, n - 1)->pts - first_result)
        / (max_inference + 3 * PERIOD_30FPS));
    /* The newest frame goes next: a result is at most two inferences old (the one it waited
     * for, its own), plus the period it waited in the slot and the one it rides on. */
    fail_unless (max_age <= 2 * max_inference + 2 * PERIOD_30FPS + jitter, "a result %"
        GST_TIME_FORMAT " old", GST_TIME_ARGS (max_age));
  }
  heard_clear (&heard);
  g_array_unref (held);
  watch_free (out);
  watch_free (in);
  watch_free (at_sink);
  stop_pipeline (pipeline);
}
GST_END_TEST;

/* At EOS the element waits for the inferences in flight: the frames of a fast non-live
 * source are all out before the first inference ends, yet the last frame's result is posted
 * (post-messages) before the EOS. */
GST_START_TEST (test_async_eos_drains)
{
  const guint n = 10;
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%u ! " CAPS_30FPS " ! "
      "convnextclassify name=c model=" TINY_MODEL_DIR " threads=1 async-inference=true "
      "post-messages=true ! fakesink name=s sync=false", n);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  guint64 frame_number, last = 0;
  Heard heard;

  play_to_eos (pipeline, 30 * GST_SECOND, &heard);
  /* Frame 0 went to the inference thread; frames 1..n-1 replaced each other in the slot. */
  fail_unless (heard.results->len >= 2, "%u results", heard.results->len);
  for (guint i = 0; i < heard.results->len; i++) {
    const GstStructure *s = gst_message_get_structure (heard.results->pdata[i]);
    fail_unless (gst_structure_get_uint64 (s, "frame-number", &frame_number));
    fail_unless (i == 0 || frame_number > last);
    last = frame_number;
  }
  fail_unless_equals_uint64 (last, n - 1);
  heard_clear (&heard);
  stop_pipeline (pipeline);
}
GST_END_TEST;

static GstBuffer *
gray_frame (GstVideoInfo *info, guint64 index)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);

  gst_buffer_memset (buf, 0, (guint8) (index * 37), GST_VIDEO_INFO_SIZE (info));
  GST_BUFFER_PTS (buf) = index * PERIOD_30FPS;
  GST_BUFFER_DURATION (buf) = PERIOD_30FPS;
  return buf;
}

/* Pushes frames from @index on, @pace apart (as a camera would), until one carries a result
 * computed on a frame >= @at_least, checking that none carries the result of a frame before
 * @since, and that the full-frame ROI has @info's size; fails after @bound.  Returns the next
 * index. */
static guint64
push_until_result (GstHarness *h, GstVideoInfo *info, guint64 index, guint64 at_least,
    GstClockTime bound, guint64 since, GstClockTime pace)
{
  GstClockTime deadline = gst_util_get_timestamp () + bound;

  for (;; index++) {
    GstBuffer *out = gst_harness_push_and_pull (h, gray_frame (info, index));
    GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (out);
    gboolean done = meta != NULL && meta->frame_number >= at_least;

    GstVideoRegionOfInterestMeta *roi = gst_buffer_get_video_region_of_interest_meta (out);

    fail_unless (meta == NULL || meta->frame_number >= since, "frame %" G_GUINT64_FORMAT
        " carries the result of frame %" G_GUINT64_FORMAT ", from before the flush", index,
        meta->frame_number);
    fail_unless (meta == NULL || meta->frame_number <= index);
    fail_unless ((meta == NULL) == (roi == NULL));
    fail_unless (roi == NULL || (roi->w == (guint) GST_VIDEO_INFO_WIDTH (info)
            && roi->h == (guint) GST_VIDEO_INFO_HEIGHT (info)));
    gst_buffer_unref (out);
    if (done)
      return index + 1;
    fail_unless (gst_util_get_timestamp () < deadline, "no result for frame %" G_GUINT64_FORMAT
        " within %" GST_TIME_FORMAT, at_least, GST_TIME_ARGS (bound));
    g_usleep (pace / GST_USECOND);
  }
}

/* FLUSH_START drops the requests in flight and waiting: no result computed before the flush
 * rides on a frame after it, and those frames carry nothing until a new result is ready. */
GST_START_TEST (test_async_flush_drops)
{
  GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
  GstHarness *h;
  GstVideoInfo info;
  GstBuffer *out;
  guint64 index;
  GstSegment segment;

  g_object_set (element, "model", TINY_MODEL_DIR, "threads", 1, "async-inference", TRUE, NULL);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 64, 48);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));

  /* A first result, so that the element has one to forget. */
  index = push_until_result (h, &info, 0, 0, 30 * GST_SECOND, 0, PERIOD_30FPS);
  /* Frame `index` goes to the inference thread; the flush comes while it runs. */
  out = gst_harness_push_and_pull (h, gray_frame (&info, index));
  gst_buffer_unref (out);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));

  out = gst_harness_push_and_pull (h, gray_frame (&info, index + 1));
  fail_unless (gst_buffer_get_convnext_classification_meta (out) == NULL,
      "the first frame after a flush carries a result from before it");
  gst_buffer_unref (out);
  push_until_result (h, &info, index + 2, index + 1, 30 * GST_SECOND, index + 1, PERIOD_30FPS);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * QoS in sync mode
 * ------------------------------------------------------------------------------------------ */

/* A network slower than the frame period, sync with qos=true: every frame leaves and reaches
 * the sink on time (no growing delay); the late ones skip their inference, each skip posts a
 * QoS message whose processed / dropped count the frames classified / skipped so far. */
GST_START_TEST (test_sync_qos_live)
{
  const guint n = 60;
  GstElement *pipeline = live_pipeline (n, CAPS_30FPS, "qos=true");
  Watch *at_sink = watch_new (pipeline, "s", "sink");
  Watch *in = watch_new (pipeline, "c", "sink");
  guint classified = 0, late_upstream;
  GstClockTime jitter;
  Heard heard;

  play_to_eos (pipeline, 30 * GST_SECOND, &heard);
  late_upstream = upstream_delays (in, MAX_LATENESS / 2, &jitter);
  fail_unless_equals_int (at_sink->seen->len, n);
  for (guint i = 0; i < n; i++) {
    Seen *s = seen (at_sink, i);
    fail_unless (s->has_meta, "frame %u has no result", i);
    fail_unless (s->frame_number <= i);
    classified += s->frame_number == i;
  }
  GST_INFO ("%u of %u frames classified, %u QoS messages, last frame %" GST_STIME_FORMAT
      " after its running time", classified, n, heard.qos->len,
      GST_STIME_ARGS (seen (at_sink, n - 1)->arrival));
  fail_unless (seen (at_sink, 0)->frame_number == 0, "the first frame is on time");

  /* Each message describes the frame it was posted for, counting from the start. */
  for (guint m = 0; m < heard.qos->len; m++) {
    GstClockTime running_time, timestamp;
    guint64 processed, dropped, frame = G_MAXUINT64, skipped = 0;
    gboolean live;
    GstFormat format;

    gst_message_parse_qos (heard.qos->pdata[m], &live, &running_time, NULL, &timestamp, NULL);
    gst_message_parse_qos_stats (heard.qos->pdata[m], &format, &processed, &dropped);
    fail_unless (live);
    fail_unless_equals_int (format, GST_FORMAT_BUFFERS);
    for (guint i = 0; i < n; i++)
      if (seen (at_sink, i)->pts == timestamp)
        frame = i;
    fail_unless (frame < n, "QoS message for a frame that never left");
    fail_unless (seen (at_sink, frame)->frame_number < frame, "QoS message for a classified frame");
    for (guint i = 0; i <= frame; i++)
      skipped += seen (at_sink, i)->frame_number != i;
    fail_unless_equals_uint64 (dropped, skipped);
    fail_unless_equals_uint64 (processed + dropped, frame + 1);
  }
  fail_unless_equals_int (heard.qos->len, n - classified);

  if (timing_checked ()) {
    fail_unless (heard.qos->len > 0, "no QoS message: every frame classified?");
    /* None late because of the classifier (a busy machine may delay some before it). */
    fail_unless (sink_stat (pipeline, "dropped") <= late_upstream, "%" G_GUINT64_FORMAT
        " frames late at the sink, %u were late before the classifier (by up to %"
        GST_TIME_FORMAT ")", sink_stat (pipeline, "dropped"), late_upstream,
        GST_TIME_ARGS (jitter));
    fail_unless_equals_uint64 (sink_stat (pipeline, "rendered") + sink_stat (pipeline,
            "dropped"), n);
    /* The network could keep up with about one frame in delay / period: QoS must not skip
     * nearly all of them (a busy machine makes inferences slower, hence the margin). */
    fail_unless (classified >= n / 10, "%u classified", classified);
  }
  heard_clear (&heard);
  watch_free (in);
  watch_free (at_sink);
  stop_pipeline (pipeline);
}
GST_END_TEST;

/* GST_EVENT_QOS from downstream: the frames it calls late skip their inference (and leave
 * with the latest result, saying so in a QoS message); the event still goes upstream; the
 * first frame past the earliest time is classified again.  Without qos=true nothing is
 * skipped. */
GST_START_TEST (test_qos_event_skips_inference)
{
  for (guint qos = 0; qos < 2; qos++) {
    GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
    GstBus *bus = gst_bus_new ();
    GstHarness *h;
    GstVideoInfo info;
    GstEvent *event;
    GstMessage *msg;
    guint64 processed, dropped;
    GstFormat format;

    g_object_set (element, "model", TINY_MODEL_DIR, "threads", 1, "qos", qos, NULL);
    gst_element_set_bus (element, bus);
    h = gst_harness_new_with_element (element, "sink", "src");
    gst_object_unref (element);
    gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 64, 48);
    gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));

    gst_buffer_unref (gst_harness_push_and_pull (h, gray_frame (&info, 0)));
    /* Downstream: frames before 1 + 3 periods will be late. */
    fail_unless (gst_harness_push_upstream_event (h, gst_event_new_qos (GST_QOS_TYPE_UNDERFLOW,
                1.5, 3 * PERIOD_30FPS, PERIOD_30FPS)));
    while ((event = gst_harness_try_pull_upstream_event (h)) && GST_EVENT_TYPE (event) != GST_EVENT_QOS)
      gst_event_unref (event);
    fail_unless (event != NULL, "the QoS event did not go upstream");
    gst_event_unref (event);

    for (guint64 i = 1; i <= 5; i++) {
      GstBuffer *out = gst_harness_push_and_pull (h, gray_frame (&info, i));
      GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (out);
      /* Frames 1..4 have running times up to the earliest time. */
      guint64 expected = qos && i <= 4 ? 0 : i;

      fail_unless (meta != NULL);
      fail_unless_equals_uint64 (meta->frame_number, expected);
      fail_unless_equals_uint64 (meta->age, (i - expected) * PERIOD_30FPS);
      gst_buffer_unref (out);
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_QOS);
      if (expected == i) {
        fail_unless (msg == NULL, "QoS message for classified frame %" G_GUINT64_FORMAT, i);
        continue;
      }
      fail_unless (msg != NULL, "no QoS message for frame %" G_GUINT64_FORMAT, i);
      gst_message_parse_qos_stats (msg, &format, &processed, &dropped);
      fail_unless_equals_int (format, GST_FORMAT_BUFFERS);
      fail_unless_equals_uint64 (processed, 1);
      fail_unless_equals_uint64 (dropped, i);
      gst_message_unref (msg);
    }
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * Latency
 * ------------------------------------------------------------------------------------------ */

#define CAPS_10FPS "video/x-raw,format=RGB,width=320,height=240,framerate=10/1"

/* Sync with a live source slower than the network: the pipeline's latency is upstream's plus
 * what the classifier reports, which covers the time every frame spends in it (none reaches
 * the synchronised sink late) and is no more than the longest of those times.  Async: the
 * classifier adds nothing (test_async_live). */
GST_START_TEST (test_sync_latency_live)
{
  const guint n = 20;
  GstElement *pipeline = live_pipeline (n, CAPS_10FPS, "");
  Watch *in = watch_new (pipeline, "c", "sink");
  Watch *out = watch_new (pipeline, "c", "src");
  GstClockTime upstream = upstream_latency (CAPS_10FPS), latency, ours, longest = 0;
  Heard heard;

  latency = play_to_eos (pipeline, 30 * GST_SECOND, &heard);
  fail_unless_equals_int (in->seen->len, n);
  fail_unless_equals_int (out->seen->len, n);
  for (guint i = 0; i < n; i++)
    longest = MAX (longest, (GstClockTime) (seen (out, i)->arrival - seen (in, i)->arrival));
  fail_unless (latency > upstream);
  ours = latency - upstream;
  GST_INFO ("latency %" GST_TIME_FORMAT " = upstream %" GST_TIME_FORMAT " + ours %"
      GST_TIME_FORMAT "; longest time in the element %" GST_TIME_FORMAT ", %u LATENCY messages",
      GST_TIME_ARGS (latency), GST_TIME_ARGS (upstream), GST_TIME_ARGS (ours),
      GST_TIME_ARGS (longest), heard.latency_messages);

  fail_unless (ours >= test_delay (), "the reported latency misses the inference");
  if (timing_checked ()) {
    fail_unless_equals_uint64 (sink_stat (pipeline, "dropped"), 0);
    /* An inference up to 25 % slower than the reported one is not re-announced. */
    fail_unless (longest <= ours * 5 / 4 + GST_MSECOND, "a frame spent %" GST_TIME_FORMAT
        " in the element, which reports %" GST_TIME_FORMAT, GST_TIME_ARGS (longest),
        GST_TIME_ARGS (ours));
    fail_unless (ours <= longest + GST_MSECOND, "reports %" GST_TIME_FORMAT " but frames "
        "spent at most %" GST_TIME_FORMAT, GST_TIME_ARGS (ours), GST_TIME_ARGS (longest));
  }
  heard_clear (&heard);
  watch_free (in);
  watch_free (out);
  stop_pipeline (pipeline);
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * The inference thread under state and caps changes
 * ------------------------------------------------------------------------------------------ */

static GstPadProbeReturn
count_results (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  if (gst_buffer_get_convnext_classification_meta (GST_PAD_PROBE_INFO_BUFFER (info)))
    g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

/* 1000 state changes while the inference thread works (a fast source keeps it busy), sync
 * and async, one team and auto (two) in turn: each READY→PAUSED starts a thread, each
 * PAUSED→READY joins it while a forward pass may be in flight and a streaming thread may wait
 * for it.  No deadlock (every change completes), no error, no leak (valgrind, ASan). */
GST_START_TEST (test_state_changes_while_inferring)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc ! "
      "video/x-raw,format=RGB,width=64,height=48,framerate=30/1 ! "
      "convnextclassify name=c model=" TINY_MODEL_DIR " threads=1 ! fakesink name=s sync=false",
      NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "s");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  GstBus *bus = gst_element_get_bus (pipeline);
  static const GstState targets[] = { GST_STATE_PLAYING, GST_STATE_READY, GST_STATE_PAUSED,
    GST_STATE_PLAYING, GST_STATE_NULL };
  gint results = 0;
  guint changes = 0;
  GstMessage *msg;

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_results, &results, NULL);
  for (guint round = 0; changes < 1000; round++) {
    g_object_set (classify, "async-inference", round % 2 == 0, "threads", round / 2 % 2, NULL);
    for (guint t = 0; t < G_N_ELEMENTS (targets); t++) {
      GstState from;

      gst_element_get_state (pipeline, &from, NULL, 0);
      fail_if (gst_element_set_state (pipeline, targets[t]) == GST_STATE_CHANGE_FAILURE);
      fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND),
          GST_STATE_CHANGE_SUCCESS);
      changes += ABS ((gint) targets[t] - (gint) from);
      if (targets[t] == GST_STATE_PLAYING) {
        /* Results flow before the next change: the thread is working. */
        gint before = g_atomic_int_get (&results);
        GstClockTime deadline = gst_util_get_timestamp () + 30 * GST_SECOND;
        while (g_atomic_int_get (&results) < before + 2)
          fail_unless (gst_util_get_timestamp () < deadline, "no results while PLAYING");
      }
    }
  }
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  fail_unless (msg == NULL, "%" GST_PTR_FORMAT, msg);
  GST_INFO ("%u state changes, %d results", changes, results);
  gst_object_unref (bus);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (classify);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* 100 caps changes (three frame sizes, so three pixel_values shapes) while the inference
 * thread works, async and sync: after each change a result computed on a frame of the new
 * size comes, with the full-frame ROI of the new size; no result is from a later frame. */
GST_START_TEST (test_caps_changes_while_inferring)
{
  static const guint sizes[][2] = { { 64, 48 }, { 96, 64 }, { 40, 40 } };

  for (guint async = 0; async < 2; async++) {
    GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
    GstHarness *h;
    guint64 index = 0;

    g_object_set (element, "model", TINY_NORESIZE_MODEL_DIR, "threads", 1,
        "async-inference", async, NULL);
    h = gst_harness_new_with_element (element, "sink", "src");
    gst_object_unref (element);
    for (guint change = 0; change < 100; change++) {
      GstVideoInfo info;

      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, sizes[change % 3][0],
          sizes[change % 3][1]);
      gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
      /* Sync: the first frame of the new size carries its own result. */
      index = push_until_result (h, &info, index, index, 60 * GST_SECOND, 0, GST_MSECOND);
    }
    GST_INFO ("%s: 100 caps changes in %" G_GUINT64_FORMAT " frames", async ? "async" : "sync",
        index);
    if (!async)
      fail_unless_equals_uint64 (index, 100);
    gst_harness_teardown (h);
  }
}
GST_END_TEST;

static Suite *
convnextlive_suite (void)
{
  Suite *s = suite_create ("convnextlive");
  TCase *async = tcase_create ("async");
  TCase *qos = tcase_create ("qos");
  TCase *latency = tcase_create ("latency");
  TCase *threads = tcase_create ("threads");

  /* Generous for valgrind and ASan; natively each test takes a few seconds. */
  tcase_set_timeout (async, 600);
  tcase_set_timeout (qos, 600);
  tcase_set_timeout (latency, 600);
  tcase_set_timeout (threads, 3000);

  suite_add_tcase (s, async);
  tcase_add_test (async, test_async_live);
  tcase_add_test (async, test_async_eos_drains);
  tcase_add_test (async, test_async_flush_drops);

  suite_add_tcase (s, qos);
  tcase_add_test (qos, test_sync_qos_live);
  tcase_add_test (qos, test_qos_event_skips_inference);

  suite_add_tcase (s, latency);
  tcase_add_test (latency, test_sync_latency_live);

  suite_add_tcase (s, threads);
  tcase_add_test (threads, test_state_changes_while_inferring);
  tcase_add_test (threads, test_caps_changes_while_inferring);
  return s;
}

GST_CHECK_MAIN (convnextlive);
